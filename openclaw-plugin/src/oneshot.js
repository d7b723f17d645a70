// The bridge's one-shot CLI commands (contracts.md): `bridge probe`, `bridge resolve`,
// `bridge directory`, `bridge doctor --openclaw-config`. They let any OpenClaw process
// (a CLI command, the setup wizard, doctor) check and look things up on the server
// without the gateway: the account config goes in on stdin, one JSON line comes out.
import { runBridgeCommand } from "./bridge.js";
import { CHANNEL, authTokenPath, buildBridgeConfig, resolveAccount, resolveAuthToken } from "./config.js";
import { locateBridge, verifyBridge } from "./locate.js";
import { registry } from "./registry.js";

async function secretResolver() {
  try {
    const mod = await import("openclaw/plugin-sdk/secret-input-runtime");
    return mod.resolveConfiguredSecretInputString;
  } catch {
    return undefined;
  }
}

/**
 * The verified bridge binary for an account, or a BridgeUnavailableError.
 * @param {any} account
 */
export async function bridgeBinaryFor(account) {
  return verifyBridge(locateBridge({ bridgePath: account?.config?.bridgePath }));
}

/**
 * The account's config line for a one-shot command (secrets resolved, no state file).
 * @param {any} cfg @param {any} account
 */
async function commandLine(cfg, account) {
  const token = (await resolveAuthToken(cfg, account, await secretResolver())) ?? (await tokenFromGateway(cfg, account));
  if (!token) {
    const ref = account.config.authToken;
    const what = ref && typeof ref === "object" ? `the secret reference ${JSON.stringify({ source: ref.source, id: ref.id ?? ref.path })}` : "it";
    throw new Error(`${authTokenPath(cfg, account.accountId)} could not be resolved in this process: ${what} is not available here and no running gateway resolved it`);
  }
  return buildBridgeConfig(account, token, []);
}

/**
 * A CLI process often cannot resolve the token's secret reference itself (the variable
 * is in the gateway's environment, not the shell's); the running gateway resolves it for
 * this one path (`secrets.resolve`, as OpenClaw's own read-only commands do). Undefined
 * when there is no gateway or it cannot either.
 * @param {any} cfg @param {any} account
 */
async function tokenFromGateway(cfg, account) {
  if (!account.config.authToken || typeof account.config.authToken !== "object") return undefined;
  try {
    const { resolveCommandSecretRefsViaGateway } = await import("openclaw/plugin-sdk/runtime");
    const path = authTokenPath(cfg, account.accountId);
    const r = await resolveCommandSecretRefsViaGateway({
      config: cfg,
      commandName: "channels",
      targetIds: new Set([`channels.${CHANNEL}.authToken`, `channels.${CHANNEL}.accounts.*.authToken`]),
      mode: "read_only_status",
      allowedPaths: new Set([path]),
    });
    const value = resolveAccount(r.resolvedConfig, account.accountId).config.authToken;
    return typeof value === "string" && value ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs one one-shot command for an account.
 * @param {{ cfg: any, account?: any, accountId?: string | null, args: string[], extra?: object[], timeoutMs?: number, log?: any }} p
 */
export async function runForAccount({ cfg, account, accountId, args, extra = [], timeoutMs, log }) {
  const acct = account ?? resolveAccount(cfg, accountId ?? undefined);
  const binary = await bridgeBinaryFor(acct);
  const line = await commandLine(cfg, acct);
  return runBridgeCommand(binary.path, args, [line, ...extra], { timeoutMs, log });
}

/**
 * The status probe, from any process: the running bridge when this process has one
 * (the gateway), else `bridge probe` (REST only). Never throws: `{ ok: false, error }`.
 * @param {{ account: any, cfg: any, timeoutMs?: number }} p
 */
export async function probeAccount({ account, cfg, timeoutMs }) {
  const entry = registry().get(account.accountId);
  if (entry?.unavailable) return { ok: false, running: false, error: entry.unavailable };
  if (entry?.bridge && !entry.bridge.exited) {
    try {
      const live = await entry.bridge.request("probe", {}, { timeoutMs: timeoutMs ?? 10_000 });
      return { ok: Boolean(live?.reachable && live?.tokenValid), running: true, source: "bridge", ...live, ...(entry.stats ? { stats: entry.stats } : {}) };
    } catch (err) {
      return { ok: false, running: true, state: entry.state, error: /** @type {any} */ (err)?.message ?? String(err) };
    }
  }
  if (!account.configured) return { ok: false, running: false, error: "not configured (serverUrl, userId, username and authToken are needed)" };
  try {
    const r = await runForAccount({ cfg, account, args: ["probe"], timeoutMs: Math.max(timeoutMs ?? 15_000, 5000) });
    if (r?.error?.field) return { ok: false, running: false, error: `config ${r.error.field}: ${r.error.reason}` };
    const ok = Boolean(r?.reachable && r?.tokenValid && r?.identityMatches !== false);
    return { ok, running: false, source: "bridge probe", ...r, ...(r?.error ? { error: r.error.message ?? r.error.kind } : {}) };
  } catch (err) {
    return { ok: false, running: false, error: /** @type {any} */ (err)?.message ?? String(err) };
  }
}

/**
 * `formatCapabilitiesProbe`: what `openclaw channels capabilities` prints for a probe.
 * @param {{ probe: any }} p
 * @returns {{ text: string, tone?: "success" | "warn" | "error" | "muted" }[]}
 */
export function formatProbe({ probe }) {
  if (!probe) return [];
  /** @type {{ text: string, tone?: "success" | "warn" | "error" | "muted" }[]} */
  const lines = [];
  if (probe.ok) {
    lines.push({ text: `Server ${probe.serverVersion ?? "?"} reachable; token valid${probe.user?.username ? ` for @${probe.user.username}` : ""}`, tone: "success" });
  } else {
    lines.push({ text: `Probe failed: ${probe.error ?? (probe.reachable === false ? "server unreachable" : probe.tokenValid === false ? "token refused" : probe.identityMatches === false ? "the token belongs to another user" : "unknown")}`, tone: "error" });
  }
  if (probe.serverVersion && !/^8\./.test(String(probe.serverVersion))) {
    lines.push({ text: `Rocket.Chat ${probe.serverVersion}: this channel is built for 8.x`, tone: "warn" });
  }
  for (const room of Array.isArray(probe.rooms) ? probe.rooms : []) {
    lines.push(room.error
      ? { text: `room ${room.entry}: ${room.error.message ?? room.error.kind ?? room.error}`, tone: "warn" }
      : { text: `room ${room.entry}: ${room.name ?? room.id} (${room.kind ?? "?"})`, tone: "muted" });
  }
  return lines;
}

/**
 * `resolver.resolveTargets`: `#room` / `@user` / ids via `bridge resolve`.
 * @param {{ cfg: any, accountId?: string | null, inputs: string[], kind: "user" | "group" }} p
 */
export async function resolveTargets({ cfg, accountId, inputs, kind }) {
  const targets = inputs.map((input) => {
    const t = String(input).trim();
    if (/^[#@]/.test(t) || /^rocketchat:/.test(t)) return t;
    return kind === "user" ? `@${t}` : t;
  });
  let r;
  try {
    r = await runForAccount({ cfg, accountId, args: ["resolve"], extra: [{ targets }] });
  } catch (err) {
    const note = /** @type {any} */ (err)?.message ?? String(err);
    return inputs.map((input) => ({ input, resolved: false, note }));
  }
  const results = Array.isArray(r?.results) ? r.results : [];
  return inputs.map((input, i) => {
    const hit = results[i];
    if (!hit) return { input, resolved: false, note: r?.error?.reason ?? "no answer from the bridge" };
    if (!hit.ok) return { input, resolved: false, note: hit.error?.message ?? hit.error?.kind ?? "not found" };
    return { input, resolved: true, id: hit.conversationId ?? hit.id, name: hit.name, note: hit.kind === "room" ? hit.roomKind : "user" };
  });
}

/**
 * `directory.listPeers` / `listGroups` via `bridge directory`.
 * @param {{ cfg: any, accountId?: string | null, query?: string | null, limit?: number | null }} p
 * @param {"user" | "group"} which
 */
export async function listDirectory({ cfg, accountId, query, limit }, which) {
  const r = await runForAccount({
    cfg, accountId, args: ["directory"],
    extra: [{ ...(query ? { query } : {}), ...(limit ? { limit } : {}) }],
  });
  if (which === "user") {
    return (Array.isArray(r?.users) ? r.users : []).map((u) => ({ kind: /** @type {const} */ ("user"), id: u.id, name: u.displayName ?? u.username, handle: u.username ? `@${u.username}` : undefined, raw: u }));
  }
  return (Array.isArray(r?.rooms) ? r.rooms : []).map((room) => ({ kind: /** @type {const} */ ("group"), id: room.id, name: room.name, handle: room.name ? `#${room.name}` : undefined, raw: room }));
}
