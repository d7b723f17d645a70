// Reading `channels.rocketchat` (and `.accounts.<id>`) into one merged account, and
// turning that into the bridge's configuration line. No policy here: the bridge owns it.
import { readFileSync } from "node:fs";
import { join, parse } from "node:path";

export const CHANNEL = "rocketchat";
export const DEFAULT_ACCOUNT_ID = "default";

/**
 * The plugin's own keys, as schema/plugin-keys.json lists them (the file the bridge's
 * `schema` command also reads to write the manifest): the account keys
 * (`accountProperties`), the channel block's (`channelProperties`, and `accounts`), and
 * the keys of a `rooms` entry (`roomProperties`: the agent's per-room policy, src/rooms.js).
 */
const OWN_KEYS = JSON.parse(readFileSync(new URL("../schema/plugin-keys.json", import.meta.url), "utf8"));

/**
 * The plugin's own keys: read by the plugin (account selection, the binary, the turn's
 * delivery), never part of the bridge's configuration line. Every other key of the merged
 * account goes to the bridge, which owns the rest of the schema: it refuses a key it does
 * not know (with the key's path and the closest valid name, `fatal.errors`) and decides
 * which changes need a restart (`reconfigure` -> `restartRequired`).
 */
/** Slack's `thread.*` keys the bridge reads under a flat name. */
const THREAD_BRIDGE_KEYS = Object.freeze({ initialHistoryLimit: "threadInitialHistoryLimit", historyScope: "threadHistoryScope" });

/**
 * `thread.inheritParent` (Slack's, default false): whether a thread's session starts from
 * its room's session (OpenClaw's `parentSessionKey`: the thread session is forked from
 * the parent transcript when it is created).
 * @param {any} account
 */
export function threadInheritParent(account) {
  return account?.config?.thread?.inheritParent === true;
}

/**
 * The parent session a thread's session starts from: the room's, for a message in a
 * thread under `thread.inheritParent`; otherwise none (as Slack's channel).
 * @param {any} account @param {{ threadId?: string, roomSessionKey: string }} where
 */
export function threadParentSessionKey(account, { threadId, roomSessionKey }) {
  return threadId && threadInheritParent(account) ? roomSessionKey : undefined;
}

export const PLUGIN_KEYS = Object.freeze(["accounts", ...Object.keys(OWN_KEYS.accountProperties ?? {}), ...Object.keys(OWN_KEYS.channelProperties ?? {})]);

/**
 * The plugin's own keys of a `rooms` entry (tools, toolsBySender, skills, systemPrompt):
 * read by the plugin for the agent's turns (src/rooms.js), stripped from every entry of
 * the bridge's configuration line.
 */
export const ROOM_KEYS = Object.freeze(Object.keys(OWN_KEYS.roomProperties ?? {}));

/** The `rooms` key of the plugin's channel-wide defaults (Slack's `channels["*"]`). */
export const ROOMS_DEFAULT_KEY = "*";

/**
 * Keys that decide which accounts exist or which binary runs: OpenClaw restarts the
 * account (or the channel) when they change. Changes to any other key under
 * `channels.rocketchat` are the running bridge's (`reconfigure`; see reloadRules).
 */
const LIFECYCLE_KEYS = Object.freeze(["enabled", "bridgePath"]);
/** Top-level keys that make the channel level itself an account (listAccountIds). */
const DEFAULT_ACCOUNT_KEYS = Object.freeze(["userId", "authToken"]);

/** The default account's settings may come from the environment (`channels add --use-env`). */
export const ENV_VARS = {
  serverUrl: "ROCKETCHAT_URL",
  userId: "ROCKETCHAT_USER_ID",
  username: "ROCKETCHAT_USERNAME",
  authToken: "ROCKETCHAT_AUTH_TOKEN",
};

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
  // A channel-level stateFile or mediaDir is inherited by every account; two bridges
  // must never share one (the bridge refuses a stateFile another bridge holds). With
  // more than one account each gets its own path; an account's own value is kept.
  if (listAccountIds(cfg).length > 1) {
    const fromChannel = (key) => top[key] !== undefined && own[key] === undefined;
    if (typeof merged.stateFile === "string" && fromChannel("stateFile")) merged.stateFile = perAccountFile(merged.stateFile, id);
    if (typeof merged.mediaDir === "string" && fromChannel("mediaDir")) merged.mediaDir = join(merged.mediaDir, id);
  }
  const enabled = top.enabled !== false && own.enabled !== false;
  const configured = Boolean(merged.serverUrl && merged.userId && merged.username && merged.authToken);
  return { accountId: id, enabled, configured, name: merged.name ?? id, config: merged };
}

/** `/var/lib/rc/resume.json` for account `ops` -> `/var/lib/rc/resume.ops.json`. */
export function perAccountFile(file, accountId) {
  const { dir, name, ext } = parse(file);
  return join(dir, `${name}.${accountId}${ext}`);
}

/** Where an account's authToken is set: its own entry, else the channel level it inherits. */
export function authTokenPath(cfg, accountId) {
  const own = section(cfg).accounts?.[accountId];
  return own && Object.hasOwn(own, "authToken") ? `channels.${CHANNEL}.accounts.${accountId}.authToken` : `channels.${CHANNEL}.authToken`;
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
      const r = await resolver({ config: cfg, env: process.env, value, path: authTokenPath(cfg, account.accountId) });
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
 * `rooms` for the bridge: every entry without the plugin's keys (ROOM_KEYS). The `"*"`
 * entry is the plugin's (the bridge has no wildcard room): it is left out when nothing but
 * plugin keys is in it. Other entries stay, even when emptied: an entry still admits its
 * room under `groupPolicy: allowlist`, as a Slack channel entry with only `tools` does.
 */
export function bridgeRooms(rooms) {
  if (!rooms || typeof rooms !== "object" || Array.isArray(rooms)) return rooms;
  const out = {};
  for (const [key, entry] of Object.entries(rooms)) {
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
      out[key] = entry; // not an entry: the bridge says what is wrong with it
      continue;
    }
    const kept = Object.fromEntries(Object.entries(entry).filter(([k]) => !ROOM_KEYS.includes(k)));
    const hadOwn = Object.keys(entry).some((k) => ROOM_KEYS.includes(k));
    if (key === ROOMS_DEFAULT_KEY && hadOwn && Object.keys(kept).length === 0) continue;
    out[key] = kept;
  }
  return out;
}

/**
 * The first stdin line for `bridge serve`: every key of the merged account except the
 * plugin's own (PLUGIN_KEYS, and ROOM_KEYS in `rooms` entries), the resolved token and
 * the approved senders. `stateDir` (OpenClaw's state directory) gives the default
 * `stateFile`, so a bridge restarted by OpenClaw (config or plugin reload, gateway
 * restart) resumes where the last one stopped.
 */
export function buildBridgeConfig(account, authToken, approvedSenders, { stateDir } = /** @type {any} */ ({})) {
  const out = { accountId: account.accountId };
  for (const [key, value] of Object.entries(account.config ?? {})) {
    if (value !== undefined && !PLUGIN_KEYS.includes(key)) out[key] = value;
  }
  if (out.rooms !== undefined) out.rooms = bridgeRooms(out.rooms);
  if (out.stateFile === undefined && stateDir) {
    out.stateFile = join(stateDir, CHANNEL, `${account.accountId}.resume.json`);
  }
  // Slack spells the thread keys `thread.initialHistoryLimit` and `thread.historyScope`;
  // both spellings are accepted (the flat key wins). `thread.inheritParent` is the
  // plugin's own (src/inbound.js).
  const slackThread = account.config?.thread ?? {};
  for (const [slack, bridge] of Object.entries(THREAD_BRIDGE_KEYS)) {
    if (out[bridge] === undefined && slackThread[slack] !== undefined) out[bridge] = slackThread[slack];
  }
  out.authToken = authToken;
  out.approvedSenders = approvedSenders;
  return out;
}

/**
 * The keys whose value differs between two bridge config lines (`approvedSenders`
 * excepted: `setApprovedSenders` carries it). Any difference goes to the running bridge
 * as `reconfigure`; the bridge says when it needs a restart.
 */
export function changedBridgeKeys(before, after) {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  return [...keys].filter((key) => key !== "approvedSenders" && JSON.stringify(before?.[key]) !== JSON.stringify(after?.[key])).sort();
}

/**
 * `reload`: how OpenClaw answers a change under `channels.rocketchat`. The bridge's keys
 * are the running bridge's business (`noopPrefixes`: no restart by OpenClaw; the plugin
 * sends `reconfigure` and restarts that account's bridge only when the bridge answers
 * `restartRequired`). What decides which accounts run, and with which binary (an account
 * added or removed, `enabled`, `bridgePath`, the channel level becoming an account),
 * restarts the account it touches (`accountScopedRestart`), or the channel for
 * channel-level keys. OpenClaw matches the most specific prefix first.
 */
export function reloadRules() {
  const base = `channels.${CHANNEL}`;
  return {
    configPrefixes: [
      base,
      ...[...LIFECYCLE_KEYS, ...DEFAULT_ACCOUNT_KEYS].map((k) => `${base}.${k}`),
      `${base}.accounts`,
      `${base}.accounts.*`,
      ...LIFECYCLE_KEYS.map((k) => `${base}.accounts.*.${k}`),
    ],
    noopPrefixes: [`${base}.*`, `${base}.accounts.*.*`],
    accountScopedRestart: true,
  };
}

/**
 * Where a key of an account's config line is set in openclaw.json: the account's own
 * entry, else the channel level (inherited); keys the plugin adds itself (`accountId`,
 * the default `stateFile`, `approvedSenders`) are named as the bridge names them.
 * @param {any} cfg @param {string} accountId @param {string} field a dotted key path
 */
export function configPathOf(cfg, accountId, field) {
  const s = section(cfg);
  const top = String(field).split(".")[0];
  if (s.accounts?.[accountId] && Object.hasOwn(s.accounts[accountId], top)) return `channels.${CHANNEL}.accounts.${accountId}.${field}`;
  if (Object.hasOwn(s, top)) return `channels.${CHANNEL}.${field}`;
  const slack = Object.entries(THREAD_BRIDGE_KEYS).find(([, bridge]) => bridge === top);
  if (slack) return configPathOf(cfg, accountId, `thread.${slack[0]}`);
  return field;
}

/**
 * The `fatal` notification of a refused config line, as one line per problem
 * (`errors`; older bridges send only `field` / `reason`).
 * @param {any} cfg @param {string} accountId @param {{ field?: string, reason?: string, errors?: { field: string, reason: string }[] }} fatal
 */
export function configErrorLines(cfg, accountId, fatal) {
  const errors = Array.isArray(fatal?.errors) && fatal.errors.length
    ? fatal.errors
    : [{ field: fatal?.field ?? "config", reason: fatal?.reason ?? "invalid" }];
  return errors.map((e) => `config ${configPathOf(cfg, accountId, e.field ?? "config")}: ${e.reason ?? "invalid"}`);
}
