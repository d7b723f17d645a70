// The child process that does the real work: `bridge serve`, one per bot account.
// It reads the account config (secrets included) as the first stdin line, then both
// sides speak newline-delimited JSON-RPC 2.0 (see docs/bridge-protocol.md).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const REQUEST_TIMEOUT_MS = 60_000;

/** Where to find the bridge binary: config, then the repo's build, then PATH. */
export function resolveBridgePath(configured) {
  if (configured) return configured;
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
  for (const profile of ["release", "debug"]) {
    const candidate = join(repo, "target", profile, "bridge");
    if (existsSync(candidate)) return candidate;
  }
  return "bridge";
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
 */
export class BridgeProcess {
  constructor({ binary, config, log, onNotification, onExit }) {
    this.binary = binary;
    this.log = log;
    this.onNotification = onNotification;
    this.nextId = 1;
    /** @type {Map<number, {resolve: Function, reject: Function, timer: any, method: string}>} */
    this.pending = new Map();
    this.exited = false;
    this.child = spawn(binary, ["serve"], { stdio: ["pipe", "pipe", "pipe"] });
    this.exitPromise = new Promise((resolveExit) => {
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
      this.child.on("exit", finish);
      this.child.on("error", (err) => {
        log.error?.(`rocketchat: cannot run bridge at ${binary}: ${err.message}`);
        finish(null, null);
      });
    });
    this.child.stdin.on("error", () => {}); // EPIPE after the child died; exit handles it.
    createInterface({ input: this.child.stderr }).on("line", (line) => log.debug?.(`bridge: ${line}`));
    createInterface({ input: this.child.stdout }).on("line", (line) => this.#onLine(line));
    // First line: the account config. Never argv or env (other users can read those).
    this.child.stdin.write(`${JSON.stringify(config)}\n`);
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
      try {
        this.onNotification(msg.method, msg.params ?? {});
      } catch (err) {
        this.log.error?.(`rocketchat: handling ${msg.method} failed: ${err?.message ?? err}`);
      }
    }
  }

  /** Send one request and wait for its result. */
  request(method, params = {}) {
    if (this.exited) {
      return Promise.reject(new BridgeError(method, { message: "bridge is not running", data: { kind: "closed" } }));
    }
    const id = this.nextId++;
    return new Promise((resolveReq, rejectReq) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        rejectReq(new BridgeError(method, { message: "timed out", data: { kind: "timeout", retryable: true } }));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve: resolveReq, reject: rejectReq, timer, method });
      this.child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
    });
  }

  /** Ask the bridge to shut down; kill it if it does not exit soon. */
  async stop() {
    if (this.exited) return;
    this.request("shutdown").catch(() => {});
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 3000);
    const killTimer = setTimeout(() => this.child.kill("SIGTERM"), 1000);
    await this.exitPromise;
    clearTimeout(timer);
    clearTimeout(killTimer);
  }
}
