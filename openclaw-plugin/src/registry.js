// The per-account registry of running bridges, on globalThis because OpenClaw evaluates
// the plugin's modules twice per load (module-level state would be split between the
// copies). No OpenClaw imports here, so the unit tests can use it as it is.

const REGISTRY_KEY = Symbol.for("openclaw.rocketchat.bridges");
const RUNTIME_KEY = Symbol.for("openclaw.rocketchat.runtime");
/** How long a send waits for an account whose bridge is restarting. */
export const CURRENT_BRIDGE_WAIT_MS = 30_000;
export const DEFAULT_ACCOUNT = "default";

/** accountId -> the account's entry (see src/gateway.js startAccount). */
export function registry() {
  const g = /** @type {any} */ (globalThis);
  g[REGISTRY_KEY] ??= new Map();
  return /** @type {Map<string, any>} */ (g[REGISTRY_KEY]);
}

/** @param {any} rt */
export function setRuntime(rt) {
  /** @type {any} */ (globalThis)[RUNTIME_KEY] = rt;
}

/** @returns {any} */
export function getRuntime() {
  return /** @type {any} */ (globalThis)[RUNTIME_KEY];
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The account's bridge as it is NOW. While the account is restarting its bridge (a
 * config change, a plugin reload, a crash), waits up to `waitMs` for the new one.
 * @param {string | null | undefined} accountId
 * @param {{ waitMs?: number }} [opts]
 * @returns {Promise<import("./bridge.js").BridgeProcess>}
 */
export async function currentBridge(accountId, { waitMs = CURRENT_BRIDGE_WAIT_MS } = {}) {
  const id = accountId || DEFAULT_ACCOUNT;
  const deadline = Date.now() + waitMs;
  for (;;) {
    const entry = registry().get(id);
    if (entry?.state === "fatal") throw new Error(`rocketchat: account ${id} stopped: ${entry.reason ?? "fatal"}`);
    if (entry?.unavailable) throw new Error(entry.unavailable);
    if (entry?.bridge && !entry.bridge.exited && !entry.stopping) return entry.bridge;
    if (Date.now() >= deadline) throw new Error(`rocketchat: account ${id} is not running`);
    await sleep(Math.min(100, Math.max(1, deadline - Date.now())));
  }
}

/**
 * A request to the account's current bridge (looked up at call time).
 * @param {string | null | undefined} accountId @param {string} method @param {object} params
 * @param {{ waitMs?: number }} [opts]
 */
export async function requestCurrent(accountId, method, params, opts) {
  const bridge = await currentBridge(accountId, opts);
  return bridge.request(method, params);
}
