// The child process that does the real work: `bridge serve`, one per bot account.
// It reads the account config (secrets included) as the first stdin line, then both
// sides speak newline-delimited JSON-RPC 2.0 (see docs/bridge-protocol.md).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** Until `ready` says otherwise (contracts.md, `ready.limits`). */
export const DEFAULT_LIMITS = Object.freeze({ drainMs: 10_000, sendBudgetMs: 60_000 });
/** The plugin waits this much longer than the bridge's own budgets. */
export const REQUEST_MARGIN_MS = 5_000;
export const STOP_MARGIN_MS = 2_000;

/** OpenClaw logger method for a bridge log level (`--log-format json`). */
export function logMethodFor(level) {
  switch (String(level ?? "").toUpperCase()) {
    case "ERROR": return "error";
    case "WARN": return "warn";
    case "INFO": return "info";
    default: return "debug";
  }
}

/**
 * One stderr line of `bridge serve --log-format json` -> `{ method, text }`.
 * A line that is not JSON is logged at debug, as it is.
 */
export function formatBridgeLogLine(line) {
  let rec;
  try {
    rec = JSON.parse(line);
  } catch {
    return { method: "debug", text: `bridge: ${line}` };
  }
  if (!rec || typeof rec !== "object") return { method: "debug", text: `bridge: ${line}` };
  const fields = rec.fields && typeof rec.fields === "object" ? rec.fields : {};
  const { message, ...rest } = fields;
  const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
  const target = rec.target ? `${rec.target}: ` : "";
  return { method: logMethodFor(rec.level), text: `bridge: ${target}${message ?? ""}${extra ? ` ${extra}` : ""}` };
}

/** A JSON-RPC error from the bridge, with its `data.kind` (e.g. "unauthorized"). */
export class BridgeError extends Error {
  constructor(method, error) {
    super(`bridge ${method} failed: ${error?.message ?? "unknown error"}`);
    this.code = error?.code;
    this.kind = error?.data?.kind;
    this.retryable = Boolean(error?.data?.retryable);
    /** The whole `data` (e.g. `limitBytes` with `tooLarge`). */
    this.data = error?.data ?? {};
  }
}

/**
 * One running `bridge serve` child.
 * onNotification(method, params) receives every notification; onExit(code, signal) once.
 * `ready.limits` (drainMs, sendBudgetMs) set the request timeout (sendBudgetMs + 5 s) and
 * how long stop() waits before SIGKILL (drainMs + 2 s).
 */
export class BridgeProcess {
  /**
   * @param {{ binary: string, config: object, log: any, onNotification: (method: string, params: any) => void,
   *   onExit?: (code: number | null, signal: string | null) => void, args?: string[] }} opts
   */
  constructor({ binary, config, log, onNotification, onExit, args = ["serve", "--log-format", "json"] }) {
    this.binary = binary;
    this.log = log ?? {};
    this.onNotification = onNotification;
    this.nextId = 1;
    /** @type {Map<number, {resolve: Function, reject: Function, timer: any, method: string}>} */
    this.pending = new Map();
    this.exited = false;
    /** @type {{ drainMs: number, sendBudgetMs: number }} */
    this.limits = { ...DEFAULT_LIMITS };
    /** From `ready`: `{ protocol, version }`. */
    this.ready = undefined;
    this.child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.exitPromise = new Promise((resolveExit) => {
      /** @param {number | null} code @param {string | null} signal */
      const finish = (code, signal) => {
        if (this.exited) return;
        this.exited = true;
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new BridgeError(p.method, { message: "bridge exited", data: { kind: "closed" } }));
        }
        this.pending.clear();
        onExit?.(code, signal);
        resolveExit({ code, signal });
      };
      // "close", not "exit": the last stdout lines (a `fatal`) are read by then.
      this.child.on("close", finish);
      this.child.on("error", (err) => {
        this.log.error?.(`rocketchat: cannot run bridge at ${binary}: ${err.message}`);
        finish(null, null);
      });
    });
    this.child.stdin.on("error", () => {}); // EPIPE after the child died; exit handles it.
    createInterface({ input: this.child.stderr }).on("line", (line) => {
      const { method, text } = formatBridgeLogLine(line);
      (this.log[method] ?? this.log.debug)?.call(this.log, text);
    });
    createInterface({ input: this.child.stdout }).on("line", (line) => this.#onLine(line));
    // First line: the account config. Never argv or env (other users can read those).
    this.child.stdin.write(`${JSON.stringify(config)}\n`);
  }

  /** The per-request timeout: above the bridge's own send budget. */
  get requestTimeoutMs() {
    return this.limits.sendBudgetMs + REQUEST_MARGIN_MS;
  }

  /** How long stop() lets the bridge drain before SIGKILL. */
  get stopTimeoutMs() {
    return this.limits.drainMs + STOP_MARGIN_MS;
  }

  #onLine(line) {
    if (!line.trim()) return;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      this.log.warn?.("rocketchat: bridge wrote a non-JSON line; ignored");
      return;
    }
    if (msg.id !== undefined && msg.id !== null && (("result" in msg) || ("error" in msg))) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.error) p.reject(new BridgeError(p.method, msg.error));
      else p.resolve(msg.result);
      return;
    }
    if (typeof msg.method === "string") {
      if (msg.method === "ready") this.#onReady(msg.params ?? {});
      try {
        this.onNotification(msg.method, msg.params ?? {});
      } catch (err) {
        this.log.error?.(`rocketchat: handling ${msg.method} failed: ${/** @type {any} */ (err)?.message ?? err}`);
      }
    }
  }

  #onReady(params) {
    const limits = params.limits ?? {};
    for (const key of /** @type {const} */ (["drainMs", "sendBudgetMs"])) {
      const v = limits[key];
      if (typeof v === "number" && Number.isFinite(v) && v >= 0) this.limits[key] = v;
    }
    this.ready = { protocol: params.protocol, version: params.version };
  }

  /**
   * Send one request and wait for its result (at most requestTimeoutMs, unless
   * `timeoutMs` is given).
   * @param {string} method @param {object} [params] @param {{ timeoutMs?: number }} [opts]
   * @returns {Promise<any>}
   */
  request(method, params = {}, { timeoutMs } = /** @type {any} */ ({})) {
    if (this.exited) {
      return Promise.reject(new BridgeError(method, { message: "bridge is not running", data: { kind: "closed" } }));
    }
    const id = this.nextId++;
    return new Promise((resolveReq, rejectReq) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        rejectReq(new BridgeError(method, { message: "timed out", data: { kind: "timeout", retryable: true } }));
      }, timeoutMs ?? this.requestTimeoutMs);
      this.pending.set(id, { resolve: resolveReq, reject: rejectReq, timer, method });
      this.child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
    });
  }

  /**
   * Ask the bridge to shut down (a `shutdown` request and EOF on stdin) and wait for it
   * to exit; only after `drainMs + 2 s` is it killed (SIGKILL).
   */
  async stop() {
    if (this.exited) return;
    this.request("shutdown", {}, { timeoutMs: this.stopTimeoutMs }).catch(() => {});
    this.child.stdin.end();
    const timer = setTimeout(() => {
      this.log.warn?.(`rocketchat: bridge did not stop within ${this.stopTimeoutMs} ms; killing it`);
      this.child.kill("SIGKILL");
    }, this.stopTimeoutMs);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

/**
 * A one-shot CLI command (`bridge probe|resolve|directory`, contracts.md): the account
 * config as the first stdin line, optional further lines, exactly one JSON line out.
 * Resolves to the parsed JSON (exit 0, or 2 with `{error:{field,reason}}`).
 * @param {string} binary @param {string[]} args @param {object[]} lines
 * @returns {Promise<any>}
 */
export function runBridgeCommand(binary, args, lines, { timeoutMs = 20_000, log = /** @type {any} */ ({}) } = /** @type {any} */ ({})) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new BridgeError(args[0] ?? "command", { message: `timed out after ${timeoutMs} ms`, data: { kind: "timeout", retryable: true } }));
    }, timeoutMs);
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { err += d; });
    child.stdin.on("error", () => {});
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new BridgeError(args[0] ?? "command", { message: e.message, data: { kind: "closed" } }));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      for (const line of err.split(/\r?\n/).filter(Boolean)) {
        const { method, text } = formatBridgeLogLine(line);
        (log[method] ?? log.debug)?.call(log, text);
      }
      const first = out.split(/\r?\n/).find((l) => l.trim());
      let parsed;
      try {
        parsed = first ? JSON.parse(first) : undefined;
      } catch {
        parsed = undefined;
      }
      if (parsed && typeof parsed === "object" && (code === 0 || code === 2 || code === 1)) return resolve(parsed);
      reject(new BridgeError(args[0] ?? "command", {
        message: `\`bridge ${args.join(" ")}\` exited with ${code} without a JSON answer${err.trim() ? `: ${err.trim().split(/\r?\n/).pop()?.slice(0, 200)}` : ""}`,
        data: { kind: "backend" },
      }));
    });
    child.stdin.end(lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
  });
}
