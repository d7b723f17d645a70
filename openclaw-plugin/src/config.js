// Reading `channels.rocketchat` (and `.accounts.<id>`) into one merged account, and
// turning that into the bridge's configuration line. No policy here: the bridge owns it.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const CHANNEL = "rocketchat";
export const DEFAULT_ACCOUNT_ID = "default";

/**
 * Bridge keys a running bridge takes through `reconfigure` (contracts.md): changing them
 * never restarts the bridge. Everything else in BRIDGE_KEYS is a connection key.
 */
export const POLICY_KEYS = [
  "dmPolicy", "allowFrom", "groupPolicy", "groupAllowFrom", "dangerouslyAllowNameMatching",
  "requireMention", "mentionPatterns", "implicitMentions", "allowBots", "rooms", "commandAllowFrom",
  "replyToMode", "replyToModeByChatType", "reactionNotifications", "reactionAllowlist",
  "textChunkLimit", "mediaMaxMb", "historyLimit", "dmHistoryLimit", "threadInitialHistoryLimit",
  "resumeMaxAgeSeconds", "revalidateIntervalSeconds",
];
/** Keys only the plugin reads, at the time it uses them (no bridge restart either). */
export const PLUGIN_LIVE_KEYS = ["ackReaction", "streaming", "thread", "name"];

/** The default account's settings may come from the environment (`channels add --use-env`). */
export const ENV_VARS = {
  serverUrl: "ROCKETCHAT_URL",
  userId: "ROCKETCHAT_USER_ID",
  username: "ROCKETCHAT_USERNAME",
  authToken: "ROCKETCHAT_AUTH_TOKEN",
};

/** Keys the bridge understands (docs/bridge-protocol.md, "The configuration line"). */
export const BRIDGE_KEYS = [
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

/**
 * The account OpenClaw uses when none is named: `channels.rocketchat.defaultAccount`
 * when it names a configured account, else the first one.
 */
export function defaultAccountId(cfg) {
  const ids = listAccountIds(cfg);
  const wanted = section(cfg).defaultAccount;
  if (typeof wanted === "string" && ids.includes(wanted.trim())) return wanted.trim();
  return ids[0] ?? DEFAULT_ACCOUNT_ID;
}

/** The merged account: account keys over channel keys (secrets still unresolved). */
export function resolveAccount(cfg, accountId, env = process.env) {
  const id = accountId || defaultAccountId(cfg);
  const { accounts, defaultAccount: _d, ...top } = section(cfg);
  const own = accounts?.[id] ?? {};
  const merged = { ...top, ...own };
  // The default account can take its connection settings from the environment.
  if (id === DEFAULT_ACCOUNT_ID) {
    for (const [key, name] of Object.entries(ENV_VARS)) {
      if (merged[key] === undefined && typeof env?.[name] === "string" && env[name].trim()) {
        merged[key] = key === "authToken" ? { source: "env", provider: "default", id: name } : env[name].trim();
      }
    }
  }
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
  if (value.source === "file") return readFileSync(value.id ?? value.path, "utf8").trim();
  return undefined;
}

/**
 * The first stdin line for `bridge serve`. `stateDir` (OpenClaw's state directory) gives
 * the default `stateFile`, so a bridge restarted by OpenClaw (config or plugin reload,
 * gateway restart) resumes where the last one stopped.
 */
export function buildBridgeConfig(account, authToken, approvedSenders, { stateDir } = /** @type {any} */ ({})) {
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

/**
 * What differs between two bridge config lines: policy keys (applied with `reconfigure`)
 * and connection keys (the bridge must be restarted). `approvedSenders` is neither.
 */
export function diffBridgeConfig(before, after) {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const policy = [];
  const connection = [];
  for (const key of keys) {
    if (key === "approvedSenders") continue;
    if (JSON.stringify(before?.[key]) === JSON.stringify(after?.[key])) continue;
    (POLICY_KEYS.includes(key) ? policy : connection).push(key);
  }
  return { policy: policy.sort(), connection: connection.sort() };
}

/**
 * `reload.noopPrefixes`: config paths whose change OpenClaw must not answer with a
 * channel restart, because the running bridge takes them live (reconfigure) or the
 * plugin reads them when it uses them. Credentials and connection keys stay out, so
 * changing one of those restarts that account only (`accountScopedRestart`).
 */
export function noopReloadPrefixes() {
  const keys = [...POLICY_KEYS, ...PLUGIN_LIVE_KEYS];
  return [
    ...keys.map((k) => `channels.${CHANNEL}.${k}`),
    ...keys.map((k) => `channels.${CHANNEL}.accounts.*.${k}`),
  ];
}
