// `gateway.startAccount`: one `bridge serve` child per bot account, alive until the
// account is aborted. The registry is on globalThis because OpenClaw evaluates this
// module twice per load; module-level state would be split between the copies.
//
// Per account:
// - the bridge binary is located and verified first (src/locate.js); a bridge that is not
//   ours, or speaks another protocol, stops the account with one clear sentence;
// - the account's CURRENT bridge is in the registry; every send looks it up when it sends
//   (currentBridge), waiting a bounded time while the account restarts its bridge;
// - every `message` is admitted to OpenClaw's durable ingress queue (when the host has
//   one) and acknowledged to the bridge (`ack`) once it is durable; the queue's drain then
//   dispatches it, once, also after a gateway crash; redelivered message ids are dupes;
// - policy changes in the config reach the running bridge with `reconfigure`; a change
//   the bridge cannot take live restarts this account's bridge only;
// - the bridge's `stats` are polled for `openclaw channels status`.
import { BridgeError, BridgeProcess } from "./bridge.js";
import { CHANNEL, buildBridgeConfig, changedBridgeKeys, configErrorLines, resolveAccount, resolveAuthToken } from "./config.js";
import { dispatchMessage, enqueueRoomEvent, issuePairing } from "./inbound.js";
import { loadOutboundMedia, mediaMaxBytes, sendMediaFile } from "./media.js";
import { locateBridge, verifyBridge } from "./locate.js";
import { APPROVED_MESSAGE, PendingPairings, approvalNoticeKey, noticeTarget, pendingPairingsFile } from "./pairing.js";
import { currentBridge, getRuntime, registry, requestCurrent, sleep } from "./registry.js";
export { currentBridge, getRuntime, registry, requestCurrent, setRuntime } from "./registry.js";
import { createChannelPairingController } from "openclaw/plugin-sdk/channel-pairing";

const POLL_MS = 2000;
const STATS_POLL_MS = 10_000;
/** In-memory dedupe of message ids (used when the host has no durable ingress queue). */
const DEDUPE_MAX = 5000;

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
async function dispatchWithRetry(env, msg, opts) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await dispatchMessage(env, msg, opts);
    } catch (err) {
      const e = /** @type {any} */ (err);
      const transient = /Contention/.test(String(e?.name)) || /another OpenClaw process owns/.test(String(e?.message));
      if (!transient || attempt >= 8) throw err;
      env.log.info?.(`rocketchat[${env.accountId}]: state busy, retrying message ${msg.messageId} (attempt ${attempt})`);
      await sleep(500 * attempt);
    }
  }
}

/**
 * Acks message ids to the account's current bridge, batched per tick.
 * @param {string} accountId @param {any} log
 */
function createAcker(accountId, log) {
  /** @type {Set<string>} */
  let batch = new Set();
  let scheduled = false;
  let unsupported = false;
  const flush = async () => {
    scheduled = false;
    const ids = [...batch];
    batch = new Set();
    if (!ids.length || unsupported) return;
    try {
      await requestCurrent(accountId, "ack", { messageIds: ids }, { waitMs: 5000 });
    } catch (err) {
      if (err instanceof BridgeError && err.kind === "methodNotFound") {
        unsupported = true;
        log.warn?.(`rocketchat[${accountId}]: the bridge does not take \`ack\` (protocol 2 is needed for acknowledged hand-over)`);
        return;
      }
      // Not acked: the bridge hands the message over again after a restart; the
      // durable queue (or the dedupe) makes that a duplicate, not a second answer.
      log.warn?.(`rocketchat[${accountId}]: ack of ${ids.length} message(s) failed: ${/** @type {any} */ (err)?.message ?? err}`);
    }
  };
  return (messageId) => {
    batch.add(messageId);
    if (!scheduled) {
      scheduled = true;
      setImmediate(() => { flush().catch(() => {}); });
    }
  };
}

/**
 * OpenClaw's durable ingress (what its Mattermost channel uses): `admit` stores the
 * message in the state database and resolves once it is durable; the drain delivers it.
 * Undefined when the host has no ingress queue.
 */
async function createIngress(env, { abortSignal, deliver }) {
  const rt = env.rt;
  if (typeof rt?.state?.openChannelIngressQueue !== "function") return undefined;
  let mod;
  try {
    mod = await import("openclaw/plugin-sdk/channel-outbound");
  } catch {
    return undefined;
  }
  if (typeof mod.createChannelIngressMonitor !== "function") return undefined;
  const { accountId, log } = env;
  const monitor = mod.createChannelIngressMonitor({
    queue: () => getRuntime().state.openChannelIngressQueue({ accountId }),
    inspect: (raw) => (raw && typeof raw.messageId === "string" && raw.messageId
      ? { eventId: raw.messageId, laneKey: `conversation:${raw.conversationId ?? raw.room?.id ?? "?"}` }
      : null),
    payload: {
      version: 1,
      storage: "raw-event",
      serialize: (raw) => JSON.stringify(raw),
      deserialize: (body) => JSON.parse(body),
      createClaimError: (kind, claim) => new Error(`rocketchat ingress row ${claim.id}: ${kind}`),
    },
    deliver: (raw, lifecycle) => deliver(raw, lifecycle, mod.bindIngressLifecycleToReplyOptions),
    pollIntervalMs: 1000,
    retention: "standard",
    abortSignal,
    drain: { onLog: (message) => log.debug?.(`rocketchat[${accountId}]: ingress ${message}`) },
    createStoppedError: () => new Error("rocketchat ingress is stopped"),
    onError: (err) => log.error?.(`rocketchat[${accountId}]: ingress drain failed: ${/** @type {any} */ (err)?.message ?? err}`),
  });
  monitor.start();
  return { monitor };
}

/** Wraps an ingress lifecycle so each terminal callback runs at most once. */
function onceLifecycle(lifecycle) {
  let settled = false;
  const once = (fn) => async (...args) => {
    if (settled) return;
    settled = true;
    await fn?.(...args);
  };
  return {
    ...lifecycle,
    onAdopted: once(lifecycle.onAdopted),
    onAbandoned: once(lifecycle.onAbandoned),
    onFailed: once(lifecycle.onFailed ?? lifecycle.onAbandoned),
    onCancelled: once(lifecycle.onCancelled ?? lifecycle.onAbandoned),
    get settled() { return settled; },
  };
}

export async function startAccount(ctx) {
  const { accountId, abortSignal } = ctx;
  const log = ctx.log ?? {};
  const rt = getRuntime();
  if (!rt) throw new Error("rocketchat: plugin runtime not set");
  const patch = (p) => ctx.setStatus({ ...ctx.getStatus(), ...p });

  // Idempotent: a previous generation of this account (an earlier load) is stopped first.
  const previous = registry().get(accountId);
  if (previous) {
    registry().delete(accountId);
    await previous.stop?.();
  }
  if (abortSignal.aborted) return;

  // The runtime and the config are looked up at each use: a plugin reload retires the
  // old runtime object while this account keeps running, and policy changes apply live.
  const env = {
    get rt() { return getRuntime() ?? rt; },
    get cfg() {
      try {
        return this.rt.config?.current?.() ?? ctx.cfg;
      } catch {
        return ctx.cfg;
      }
    },
    accountId,
    get account() { return resolveAccount(this.cfg, accountId); },
    log,
    /** The account's current bridge (src/reply.js and the rest call it at send time). */
    currentBridge: (opts) => currentBridge(accountId, opts),
    request: (method, params) => requestCurrent(accountId, method, params),
    pairingRooms: new Map(),
    /** Posts one reply file (a URL or a path under the agent's media roots) to `target`. */
    sendMedia: (url, { target, replyThread, agentId }) => sendMediaFile({
      url,
      target,
      replyThread,
      maxBytes: mediaMaxBytes(env.account),
      load: async (u, maxBytes) => {
        const { getAgentScopedMediaLocalRoots } = await import("openclaw/plugin-sdk/media-local-roots");
        return loadOutboundMedia(u, maxBytes, { mediaLocalRoots: getAgentScopedMediaLocalRoots(env.cfg, agentId) });
      },
      request: (method, p) => requestCurrent(accountId, method, p),
      log,
    }),
  };

  const entry = {
    accountId,
    state: "connecting",
    reason: undefined,
    identity: undefined,
    /** @type {BridgeProcess | undefined} */
    bridge: undefined,
    binary: undefined,
    stats: undefined,
    unavailable: undefined,
    stopping: false,
    stop: async () => {},
    syncApprovals: async () => {},
    notifyApproved: async (_id, _text, _meta) => {},
  };
  registry().set(accountId, entry);

  // The binary: located and verified before anything runs.
  let binary;
  try {
    binary = await verifyBridge(locateBridge({ bridgePath: env.account.config.bridgePath }));
    entry.binary = binary;
    log.info?.(`rocketchat[${accountId}]: bridge ${binary.version} (protocol ${binary.protocol}) at ${binary.path}`);
  } catch (err) {
    const sentence = /** @type {any} */ (err)?.message ?? String(err);
    entry.unavailable = sentence;
    log.error?.(sentence);
    patch({ running: false, connected: false, lifecycle: "blocked", lastError: sentence });
    // Stays stopped with the reason visible (a restart would find the same binary).
    await new Promise((r) => {
      if (abortSignal.aborted) r(undefined);
      else abortSignal.addEventListener("abort", r, { once: true });
    });
    if (registry().get(accountId) === entry) registry().delete(accountId);
    return;
  }

  const pairingController = () => createChannelPairingController({ core: env.rt, channel: CHANNEL, accountId });
  const readApproved = () => pairingController().readAllowFromStore();
  let approved = await readApproved().catch(() => []);
  const dir = await stateDir();
  const pendingPairings = new PendingPairings({ file: dir ? pendingPairingsFile(dir, accountId) : undefined, log });
  env.pendingPairings = pendingPairings;
  const secretResolver = await loadSecretResolver();
  const ack = createAcker(accountId, log);
  /** Message ids already taken (fallback dedupe when there is no durable queue). */
  const seen = new Set();

  const dispatch = (msg, opts) => dispatchWithRetry(env, msg, opts);
  const ingress = await createIngress(env, {
    abortSignal,
    deliver: (raw, lifecycle, bindLifecycle) => {
      const lc = onceLifecycle(lifecycle);
      // The turn's reply lane adopts the claim (OpenClaw completes it once the run is
      // durable); a declined message or a finished turn completes it here at the latest.
      const turnAdoption = typeof bindLifecycle === "function" ? bindLifecycle(lc) : {};
      dispatch(raw, { replyOptions: turnAdoption })
        .then(() => lc.onAdopted())
        .catch(async (err) => {
          log.error?.(`rocketchat[${accountId}]: dispatch failed: ${/** @type {any} */ (err)?.stack ?? err}`);
          await lc.onFailed(err);
        });
      return { kind: "deferred" };
    },
  }).catch((err) => {
    log.warn?.(`rocketchat[${accountId}]: durable ingress unavailable (${/** @type {any} */ (err)?.message ?? err}); messages are dispatched directly`);
    return undefined;
  });

  const onMessage = (msg) => {
    if (entry.state === "fatal") return;
    if (typeof msg?.messageId !== "string" || !msg.messageId) return;
    patch({ lastInboundAt: Date.now(), lastMessageAt: Date.now() });
    if (ingress) {
      // Durable first, then acknowledged; a duplicate (redelivery) is acked and dropped
      // by the queue itself.
      ingress.monitor.admit(msg)
        .then(() => ack(msg.messageId))
        .catch((err) => log.error?.(`rocketchat[${accountId}]: admitting ${msg.messageId} failed (not acked; the bridge will hand it over again): ${err?.message ?? err}`));
      return;
    }
    if (seen.has(msg.messageId)) {
      ack(msg.messageId);
      return;
    }
    seen.add(msg.messageId);
    if (seen.size > DEDUPE_MAX) seen.delete(seen.values().next().value);
    dispatch(msg, {})
      .then(() => ack(msg.messageId))
      .catch((err) => log.error?.(`rocketchat[${accountId}]: dispatch failed: ${err?.stack ?? err}`));
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
        onMessage(params);
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
          log.warn?.(`rocketchat[${accountId}]: ${method} event failed: ${/** @type {any} */ (err)?.message ?? err}`);
        }
        break;
      case "fatal": {
        // The config line was refused (the bridge exits with code 2 right after): one
        // line per problem, named by where it is in openclaw.json.
        const lines = configErrorLines(env.cfg, accountId, params);
        for (const l of lines) log.error?.(`rocketchat[${accountId}]: ${l}`);
        entry.state = "fatal";
        entry.reason = `invalid config: ${lines.join("; ")}`;
        patch({ lifecycle: "blocked", statusState: "fatal", lastError: entry.reason, configErrors: lines });
        break;
      }
      default:
        log.debug?.(`rocketchat[${accountId}]: ignoring notification ${method}`);
    }
  };

  /** The config line the bridge would get now (the token is resolved once per bridge). */
  const configLine = async () => {
    const account = env.account;
    const token = await resolveAuthToken(env.cfg, account, secretResolver);
    return { token, line: buildBridgeConfig(account, token, approved, { stateDir: dir }) };
  };
  /** The line without its secret, to compare configs without resolving secrets again. */
  const comparable = () => {
    const account = env.account;
    const line = buildBridgeConfig(account, JSON.stringify(account.config.authToken ?? null), [], { stateDir: dir });
    return line;
  };

  let stopping = false;
  let restartWanted = false;
  /** @type {() => void} */
  let wakeRestart = () => {};
  /** Restart this account's bridge only (a config change it cannot take live). */
  const restartBridge = (why) => {
    log.info?.(`rocketchat[${accountId}]: restarting the bridge (${why})`);
    restartWanted = true;
    wakeRestart();
  };

  let lastComparable = comparable();
  // Config changes under channels.rocketchat (OpenClaw does not restart the account for
  // the bridge's keys: reload.noopPrefixes). The bridge decides: `reconfigure` applies
  // what it can take live, and `restartRequired` means this account's bridge restarts.
  const syncConfig = async () => {
    const bridge = entry.bridge;
    if (entry.stopping) return;
    const now = comparable();
    const changed = changedBridgeKeys(lastComparable, now);
    if (!changed.length) return;
    if (!bridge || bridge.exited) {
      // A bridge that stopped on a refused config or token: the fix starts a new one.
      if (entry.state === "fatal") {
        lastComparable = now;
        restartBridge(`changed after the stop: ${changed.join(", ")}`);
      }
      return;
    }
    lastComparable = now;
    const { line } = await configLine();
    try {
      const r = await bridge.request("reconfigure", { config: line });
      log.info?.(`rocketchat[${accountId}]: applied without restart: ${(r?.applied ?? changed).join(", ") || "nothing"}`);
    } catch (err) {
      const kind = err instanceof BridgeError ? err.kind : undefined;
      if (kind === "restartRequired") restartBridge(`changed: ${changed.join(", ")}; the bridge needs a restart for it`);
      else {
        const why = /** @type {any} */ (err)?.message ?? String(err);
        log.error?.(`rocketchat[${accountId}]: config change refused by the bridge (the running bridge keeps the previous config): ${why}`);
        patch({ lastError: `config change refused: ${why}` });
      }
    }
  };
  // OpenClaw owns the pairing store; keep the bridge's approved senders in step with it,
  // and tell each sender this account sent a code to once they are approved.
  const syncApprovals = async () => {
    const now = await readApproved().catch(() => approved);
    if (!sameSet(now, approved)) {
      approved = now;
      const bridge = entry.bridge;
      if (bridge && !bridge.exited) {
        await bridge.request("setApprovedSenders", { userIds: now }).catch((err) => log.warn?.(`rocketchat[${accountId}]: setApprovedSenders failed: ${err.message}`));
      }
    }
    if (!pendingPairings.size || entry.state !== "active") return;
    for (const p of pendingPairings.takeApproved(now)) {
      const target = noticeTarget(p);
      if (!target) continue;
      await requestCurrent(accountId, "send", { target, text: APPROVED_MESSAGE, idempotencyKey: approvalNoticeKey(accountId, p.senderId) }, { waitMs: 5000 })
        .then(() => log.info?.(`rocketchat[${accountId}]: told ${p.senderId} they are approved`))
        .catch((err) => {
          // Tried again at the next poll (the same key: never two notices).
          pendingPairings.remember(p.senderId, p);
          log.warn?.(`rocketchat[${accountId}]: the approval notice to ${p.senderId} failed (will retry): ${err?.message ?? err}`);
        });
    }
  };
  const pollStats = async () => {
    const bridge = entry.bridge;
    if (!bridge || bridge.exited || entry.state !== "active") return;
    const stats = await bridge.request("stats", {}).catch(() => undefined);
    if (stats) {
      entry.stats = stats;
      patch({ bridgeStats: stats });
    }
  };
  entry.syncApprovals = syncApprovals;
  /**
   * Tells an approved sender, in their DM. `meta.username` comes from the pairing request
   * (src/inbound.js issuePairing); the DM room where the code went is used when known.
   */
  entry.notifyApproved = async (senderId, text, meta) => {
    const target = env.pairingRooms.get(senderId) ?? (meta?.username ? `@${meta.username}` : undefined);
    if (!target) throw new Error(`rocketchat: no DM target for approved sender ${senderId}`);
    pendingPairings.forget(senderId);
    await requestCurrent(accountId, "send", { target, text, idempotencyKey: approvalNoticeKey(accountId, senderId) });
  };
  const timer = setInterval(() => {
    syncApprovals().catch(() => {});
    syncConfig().catch(() => {});
  }, POLL_MS);
  const statsTimer = setInterval(() => { pollStats().catch(() => {}); }, STATS_POLL_MS);

  entry.stop = async () => {
    stopping = true;
    entry.stopping = true;
    clearInterval(timer);
    clearInterval(statsTimer);
    wakeRestart();
    await entry.bridge?.stop();
    await ingress?.monitor.stop?.().catch?.(() => {});
  };
  const onAbort = () => { entry.stop().catch(() => {}); };
  abortSignal.addEventListener("abort", onAbort, { once: true });

  let failure;
  try {
    // One bridge after another until the account stops: a restart wanted by a config
    // change replaces the bridge without leaving startAccount.
    while (!stopping && !abortSignal.aborted) {
      restartWanted = false;
      const { token, line } = await configLine();
      if (!token) {
        patch({ running: false, configured: false, lastError: "authToken is missing or unresolved" });
        throw new Error(`rocketchat[${accountId}]: authToken is missing or could not be resolved`);
      }
      lastComparable = comparable();
      /** @type {{ code: number | null, signal: string | null } | undefined} */
      let exitInfo;
      const bridge = new BridgeProcess({
        binary: binary.path,
        config: line,
        log,
        onNotification,
        onExit: (code, signal) => { exitInfo = { code, signal }; wakeRestart(); },
      });
      entry.state = "connecting";
      entry.bridge = bridge;
      patch({ running: true, connected: false, lifecycle: "starting", lastStartAt: Date.now(), lastError: null });
      await new Promise((r) => {
        wakeRestart = () => r(undefined);
        if (bridge.exited || restartWanted || stopping) r(undefined);
      });
      if (restartWanted && !stopping && !bridge.exited) {
        entry.stopping = true;
        await bridge.stop();
        entry.stopping = false;
        continue;
      }
      if (stopping || abortSignal.aborted) break;
      if (!bridge.exited) continue;
      if (entry.state === "fatal") {
        // Credentials revoked or config refused: stay stopped (a restart would fail the
        // same way) until the config changes (syncConfig) or the account is stopped.
        patch({ running: false, connected: false, lastStopAt: Date.now() });
        await new Promise((r) => {
          wakeRestart = () => r(undefined);
          if (abortSignal.aborted || stopping || restartWanted) r(undefined);
        });
        if (restartWanted && !stopping && !abortSignal.aborted) {
          entry.state = "connecting";
          entry.reason = undefined;
          continue;
        }
        break;
      }
      if (restartWanted) continue;
      failure = new Error(`rocketchat[${accountId}]: bridge exited unexpectedly (code ${exitInfo?.code}, signal ${exitInfo?.signal})`);
      break;
    }
  } finally {
    clearInterval(timer);
    clearInterval(statsTimer);
    abortSignal.removeEventListener("abort", onAbort);
    if (!stopping) await ingress?.monitor.stop?.().catch?.(() => {});
    // A fatal entry stays so status and sends can say why the account stopped.
    if (registry().get(accountId) === entry && entry.state !== "fatal") registry().delete(accountId);
    patch({ running: false, connected: false, lastStopAt: Date.now() });
  }
  if (failure) throw failure;
}

/** The account's live bridge state for `openclaw channels status`. */
export function bridgeSnapshot(accountId) {
  const entry = registry().get(accountId);
  if (!entry) return undefined;
  return { state: entry.state, reason: entry.reason, identity: entry.identity, stats: entry.stats, unavailable: entry.unavailable, binary: entry.binary };
}
