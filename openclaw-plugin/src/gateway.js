// `gateway.startAccount`: one `bridge serve` child per bot account, alive until the
// account is aborted. The registry is on globalThis because OpenClaw evaluates this
// module twice per load; module-level state would be split between the copies.
import { BridgeProcess, resolveBridgePath } from "./bridge.js";
import { CHANNEL, buildBridgeConfig, resolveAuthToken } from "./config.js";
import { dispatchMessage, enqueueRoomEvent, issuePairing } from "./inbound.js";
import { loadOutboundMedia, mediaMaxBytes, sendMediaFile } from "./media.js";
import { createChannelPairingController } from "openclaw/plugin-sdk/channel-pairing";

const REGISTRY_KEY = Symbol.for("openclaw.rocketchat.bridges");
const RUNTIME_KEY = Symbol.for("openclaw.rocketchat.runtime");
const APPROVALS_POLL_MS = 2000;

/** accountId -> { bridge, state, reason, identity, stop } */
export function registry() {
  globalThis[REGISTRY_KEY] ??= new Map();
  return globalThis[REGISTRY_KEY];
}

export function setRuntime(rt) {
  globalThis[RUNTIME_KEY] = rt;
}

export function getRuntime() {
  return globalThis[RUNTIME_KEY];
}

/** The live bridge of an account, or an error naming why there is none. */
export function bridgeFor(accountId) {
  const entry = registry().get(accountId || "default");
  if (!entry || entry.bridge.exited) throw new Error(`rocketchat: account ${accountId || "default"} is not running`);
  if (entry.state === "fatal") throw new Error(`rocketchat: account ${accountId || "default"} stopped: ${entry.reason ?? "fatal"}`);
  return entry.bridge;
}

async function loadSecretResolver() {
  try {
    const mod = await import("openclaw/plugin-sdk/secret-input-runtime");
    return mod.resolveConfiguredSecretInputString;
  } catch {
    return undefined;
  }
}

/** OpenClaw's state directory (OPENCLAW_STATE_DIR, else ~/.openclaw), for the bridge's state file. */
async function stateDir() {
  try {
    const mod = await import("openclaw/plugin-sdk/state-paths");
    return mod.resolveStateDir(process.env);
  } catch {
    return process.env.OPENCLAW_STATE_DIR || undefined;
  }
}

function sameSet(a, b) {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

/**
 * OpenClaw's state database can be briefly owned by another of its processes (startup
 * migrations, a CLI command); the turn fails before it starts and is safe to retry.
 */
async function dispatchWithRetry(env, msg) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await dispatchMessage(env, msg);
    } catch (err) {
      const transient = /Contention/.test(String(err?.name)) || /another OpenClaw process owns/.test(String(err?.message));
      if (!transient || attempt >= 8) throw err;
      env.log.info?.(`rocketchat[${env.accountId}]: state busy, retrying message ${msg.messageId} (attempt ${attempt})`);
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

export async function startAccount(ctx) {
  const { cfg, accountId, account, abortSignal } = ctx;
  const log = ctx.log ?? {};
  const rt = getRuntime();
  if (!rt) throw new Error("rocketchat: plugin runtime not set");

  // Idempotent: a previous generation of this account (an earlier load) is stopped first.
  const previous = registry().get(accountId);
  if (previous) {
    registry().delete(accountId);
    await previous.stop();
  }
  if (abortSignal.aborted) return;

  const authToken = await resolveAuthToken(cfg, account, await loadSecretResolver());
  if (!authToken) {
    ctx.setStatus({ ...ctx.getStatus(), running: false, configured: false, lastError: "authToken is missing or unresolved" });
    throw new Error(`rocketchat[${accountId}]: authToken is missing or could not be resolved`);
  }
  const readApproved = () => createChannelPairingController({ core: getRuntime() ?? rt, channel: CHANNEL, accountId }).readAllowFromStore();
  let approved = await readApproved().catch(() => []);

  const binary = resolveBridgePath(account.config.bridgePath);
  const entry = { state: "connecting", reason: undefined, identity: undefined, bridge: undefined, stop: async () => {} };
  const patch = (p) => ctx.setStatus({ ...ctx.getStatus(), ...p });
  let exitInfo;
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });

  // The runtime is looked up at each use: a plugin reload (e.g. after the CLI rewrites
  // openclaw.json) retires the old runtime object while this account keeps running.
  const env = {
    get rt() { return getRuntime() ?? rt; },
    get cfg() {
      try {
        return this.rt.config?.current?.() ?? cfg;
      } catch {
        return cfg;
      }
    },
    accountId,
    account,
    log,
    bridge: undefined,
    pairingRooms: new Map(),
    /** Posts one reply file (a URL or a path under the agent's media roots) to `target`. */
    sendMedia: (url, { target, replyThread, agentId }) => sendMediaFile({
      url,
      target,
      replyThread,
      maxBytes: mediaMaxBytes(account),
      load: async (u, maxBytes) => {
        const { getAgentScopedMediaLocalRoots } = await import("openclaw/plugin-sdk/media-local-roots");
        return loadOutboundMedia(u, maxBytes, { mediaLocalRoots: getAgentScopedMediaLocalRoots(env.cfg, agentId) });
      },
      request: (method, p) => bridge.request(method, p),
      log,
    }),
  };
  const onNotification = (method, params) => {
    switch (method) {
      case "ready":
        entry.identity = params.identity;
        log.info?.(`rocketchat[${accountId}]: bridge ready as @${params.identity?.username ?? "?"} (server ${params.serverVersion ?? "?"})`);
        break;
      case "connection":
        entry.state = params.state;
        entry.reason = params.reason;
        if (params.state === "active") {
          patch({ running: true, connected: true, lifecycle: "ready", lastConnectedAt: Date.now(), lastError: null, reconnectAttempts: 0 });
        } else if (params.state === "reconnecting") {
          patch({ connected: false, lifecycle: "recovering", reconnectAttempts: params.attempt ?? 0, lastError: params.reason ?? null });
        } else if (params.state === "fatal") {
          log.error?.(`rocketchat[${accountId}]: fatal: ${params.reason ?? "unknown"}`);
          patch({ connected: false, lifecycle: "blocked", terminalDisconnect: true, statusState: "fatal", lastError: `fatal: ${params.reason ?? "unknown"}` });
        }
        break;
      case "message":
        if (entry.state === "fatal") return;
        patch({ lastInboundAt: Date.now(), lastMessageAt: Date.now() });
        dispatchWithRetry(env, params).catch((err) => log.error?.(`rocketchat[${accountId}]: dispatch failed: ${err?.stack ?? err}`));
        break;
      case "pairingRequired":
        issuePairing(env, params).catch((err) => log.error?.(`rocketchat[${accountId}]: pairing failed: ${err?.message ?? err}`));
        break;
      case "reaction":
      case "messageEdited":
      case "messageDeleted":
        try {
          enqueueRoomEvent(env, method, params);
        } catch (err) {
          log.warn?.(`rocketchat[${accountId}]: ${method} event failed: ${err?.message ?? err}`);
        }
        break;
      case "fatal":
        // A config error at startup: the bridge exits with code 2 right after.
        entry.state = "fatal";
        entry.reason = `${params.field ?? "config"}: ${params.reason ?? "invalid"}`;
        patch({ lifecycle: "blocked", statusState: "fatal", lastError: `config ${entry.reason}` });
        break;
      default:
        log.debug?.(`rocketchat[${accountId}]: ignoring notification ${method}`);
    }
  };

  const bridge = new BridgeProcess({
    binary,
    config: buildBridgeConfig(account, authToken, approved, { stateDir: await stateDir() }),
    log,
    onNotification,
    onExit: (code, signal) => {
      exitInfo = { code, signal };
      resolveDone();
    },
  });
  env.bridge = bridge;
  entry.bridge = bridge;
  registry().set(accountId, entry);
  patch({ running: true, connected: false, lifecycle: "starting", lastStartAt: Date.now(), lastError: null });

  // OpenClaw owns the pairing store; keep the bridge's approved senders in step with it.
  const syncApprovals = async () => {
    const now = await readApproved().catch(() => approved);
    if (!sameSet(now, approved)) {
      approved = now;
      await bridge.request("setApprovedSenders", { userIds: now }).catch((err) => log.warn?.(`rocketchat[${accountId}]: setApprovedSenders failed: ${err.message}`));
    }
  };
  const timer = setInterval(() => { syncApprovals().catch(() => {}); }, APPROVALS_POLL_MS);
  entry.syncApprovals = syncApprovals;
  /** Tell an approved sender, in the DM room where the pairing code went (if known). */
  entry.notifyApproved = async (senderId, text) => {
    const roomId = env.pairingRooms.get(senderId);
    if (!roomId) return;
    await bridge.request("send", { target: roomId, text }).catch((err) => log.warn?.(`rocketchat[${accountId}]: approval notice failed: ${err.message}`));
  };

  let stopping = false;
  entry.stop = async () => {
    stopping = true;
    clearInterval(timer);
    await bridge.stop();
  };
  const onAbort = () => { entry.stop().catch(() => {}); };
  abortSignal.addEventListener("abort", onAbort, { once: true });

  await done;
  clearInterval(timer);
  abortSignal.removeEventListener("abort", onAbort);
  // A fatal entry stays so status and sends can say why the account stopped.
  if (registry().get(accountId) === entry && entry.state !== "fatal") registry().delete(accountId);
  patch({ running: false, connected: false, lastStopAt: Date.now() });
  if (stopping || abortSignal.aborted) return;
  if (entry.state === "fatal") {
    // Credentials revoked or config invalid: stay stopped (a restart would fail the same way).
    await new Promise((r) => {
      if (abortSignal.aborted) r();
      else abortSignal.addEventListener("abort", r, { once: true });
    });
    return;
  }
  throw new Error(`rocketchat[${accountId}]: bridge exited unexpectedly (code ${exitInfo?.code}, signal ${exitInfo?.signal})`);
}

/** Status probe: asks the running bridge; otherwise reports why it is not running. */
export async function probeAccount({ account }) {
  const entry = registry().get(account.accountId);
  if (!entry || entry.bridge?.exited) return { ok: false, running: false, state: entry?.state ?? "stopped", error: entry?.reason };
  try {
    const probe = await entry.bridge.request("probe", {});
    return { ok: Boolean(probe?.reachable && probe?.tokenValid), running: true, ...probe };
  } catch (err) {
    return { ok: false, running: true, state: entry.state, error: err.message };
  }
}

/** The account's live bridge state for `openclaw channels status`. */
export function bridgeSnapshot(accountId) {
  const entry = registry().get(accountId);
  if (!entry) return undefined;
  return { state: entry.state, reason: entry.reason, identity: entry.identity };
}
