// Reading `channels.rocketchat` (and `.accounts.<id>`) into one merged account, and
// turning that into the bridge's configuration line. No policy here: the bridge owns it.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const CHANNEL = "rocketchat";
export const DEFAULT_ACCOUNT_ID = "default";

/** Keys the bridge understands (docs/bridge-protocol.md, "The configuration line"). */
const BRIDGE_KEYS = [
  "serverUrl", "userId", "username", "authToken", "dangerouslyAllowInsecure", "caFile",
  "dmPolicy", "allowFrom", "groupPolicy", "groupAllowFrom", "dangerouslyAllowNameMatching",
  "requireMention", "mentionPatterns", "implicitMentions", "allowBots", "rooms", "commandAllowFrom",
  "replyToMode", "replyToModeByChatType", "reactionNotifications", "reactionAllowlist",
  "textChunkLimit", "revalidateIntervalSeconds",
  "mediaMaxMb", "mediaDir", "historyLimit", "dmHistoryLimit", "threadInitialHistoryLimit",
  "stateFile", "resumeMaxAgeSeconds",
];

function section(cfg) {
  const s = cfg?.channels?.[CHANNEL];
  return s && typeof s === "object" ? s : {};
}

/** Account ids: the keys of `accounts`, plus "default" when the top level names a bot. */
export function listAccountIds(cfg) {
  const s = section(cfg);
  const ids = Object.keys(s.accounts ?? {});
  if ((s.userId || s.authToken) && !ids.includes(DEFAULT_ACCOUNT_ID)) ids.unshift(DEFAULT_ACCOUNT_ID);
  return ids.length ? ids : [DEFAULT_ACCOUNT_ID];
}

/** The merged account: account keys over channel keys (secrets still unresolved). */
export function resolveAccount(cfg, accountId) {
  const id = accountId || DEFAULT_ACCOUNT_ID;
  const { accounts, defaultAccount: _d, ...top } = section(cfg);
  const own = accounts?.[id] ?? {};
  const merged = { ...top, ...own };
  const enabled = top.enabled !== false && own.enabled !== false;
  const configured = Boolean(merged.serverUrl && merged.userId && merged.username && merged.authToken);
  return { accountId: id, enabled, configured, name: merged.name ?? id, config: merged };
}

/**
 * Resolve the authToken secret input: a plain string, or a reference.
 * Prefers OpenClaw's resolver; falls back to env/file refs for older hosts.
 */
export async function resolveAuthToken(cfg, account, resolver) {
  const value = account.config.authToken;
  if (typeof value === "string") return value;
  if (!value || typeof value !== "object") return undefined;
  if (resolver) {
    try {
      const path = account.accountId === DEFAULT_ACCOUNT_ID && !section(cfg).accounts?.[DEFAULT_ACCOUNT_ID]
        ? `channels.${CHANNEL}.authToken`
        : `channels.${CHANNEL}.accounts.${account.accountId}.authToken`;
      const r = await resolver({ config: cfg, env: process.env, value, path });
      if (r?.value) return r.value;
    } catch {
      // fall through to the local reading below
    }
  }
  if (value.source === "env") return process.env[value.id];
  if (value.source === "file") return readFileSync(value.id, "utf8").trim();
  return undefined;
}

/**
 * The first stdin line for `bridge serve`. `stateDir` (OpenClaw's state directory) gives
 * the default `stateFile`, so a bridge restarted by OpenClaw (config or plugin reload,
 * gateway restart) resumes where the last one stopped.
 */
export function buildBridgeConfig(account, authToken, approvedSenders, { stateDir } = {}) {
  const out = { accountId: account.accountId };
  for (const key of BRIDGE_KEYS) {
    if (account.config[key] !== undefined) out[key] = account.config[key];
  }
  if (out.stateFile === undefined && stateDir) {
    out.stateFile = join(stateDir, CHANNEL, `${account.accountId}.resume.json`);
  }
  // Slack spells the thread seed `thread.initialHistoryLimit`; both are accepted.
  const slackThreadLimit = account.config.thread?.initialHistoryLimit;
  if (out.threadInitialHistoryLimit === undefined && slackThreadLimit !== undefined) out.threadInitialHistoryLimit = slackThreadLimit;
  out.authToken = authToken;
  out.approvedSenders = approvedSenders;
  return out;
}
