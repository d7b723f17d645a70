// BridgeProcess against a tiny scripted child: config line first, request/response
// matching, notifications, errors, and a clean stop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BridgeProcess } from "../src/bridge.js";

function scriptedBridge() {
  const dir = mkdtempSync(join(tmpdir(), "rc-bridge-test-"));
  const js = join(dir, "child.mjs");
  writeFileSync(js, `
import { createInterface } from "node:readline";
let config;
const out = (o) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...o }) + "\\n");
createInterface({ input: process.stdin }).on("line", (line) => {
  const msg = JSON.parse(line);
  if (!config) { config = msg; out({ method: "ready", params: { identity: { accountId: config.accountId } } }); return; }
  if (msg.method === "echo") return out({ id: msg.id, result: { got: msg.params, token: config.authToken.length } });
  if (msg.method === "fail") return out({ id: msg.id, error: { code: -32002, message: "nope", data: { kind: "unauthorized", retryable: false } } });
  if (msg.method === "shutdown") { out({ id: msg.id, result: {} }); process.exit(0); }
});
`);
  const sh = join(dir, "bridge");
  writeFileSync(sh, `#!/bin/sh\nexec "${process.execPath}" "${js}"\n`);
  chmodSync(sh, 0o755);
  return sh;
}

test("config line, requests, notifications, errors and stop", async () => {
  const notes = [];
  let exited = false;
  const b = new BridgeProcess({
    binary: scriptedBridge(),
    config: { accountId: "ops", authToken: "secret-123" },
    log: {},
    onNotification: (m, p) => notes.push([m, p]),
    onExit: () => { exited = true; },
  });
  const r = await b.request("echo", { a: 1 });
  assert.deepEqual(r, { got: { a: 1 }, token: 10 });
  assert.deepEqual(notes[0], ["ready", { identity: { accountId: "ops" } }]);
  await assert.rejects(b.request("fail"), (err) => err.kind === "unauthorized" && err.code === -32002);
  await b.stop();
  assert.ok(exited);
  await assert.rejects(b.request("echo"), (err) => err.kind === "closed");
});

test("a missing binary is reported as an exit, not a crash", async () => {
  let exited = false;
  const b = new BridgeProcess({ binary: "/nonexistent/bridge", config: {}, log: {}, onNotification: () => {}, onExit: () => { exited = true; } });
  await b.exitPromise;
  assert.ok(exited);
  await assert.rejects(b.request("probe"), (err) => err.kind === "closed");
});

/** A child that reports `limits`, logs at WARN/ERROR, ignores SIGTERM and exits `exitDelayMs` after EOF. */
function drainingBridge({ drainMs, exitDelayMs }) {
  const dir = mkdtempSync(join(tmpdir(), "rc-bridge-drain-"));
  const js = join(dir, "child.mjs");
  writeFileSync(js, `
import { createInterface } from "node:readline";
process.on("SIGTERM", () => {});
const out = (o) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...o }) + "\\n");
let first = true;
const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const msg = JSON.parse(line);
  if (first) {
    first = false;
    process.stderr.write(JSON.stringify({ level: "WARN", target: "bridge::rest", fields: { message: "429 from the server, waiting", retryAfterMs: 1200 } }) + "\\n");
    process.stderr.write(JSON.stringify({ level: "ERROR", target: "bridge", fields: { message: "subscription refused" } }) + "\\n");
    process.stderr.write(JSON.stringify({ level: "INFO", fields: { message: "connected" } }) + "\\n");
    process.stderr.write("not json at all\\n");
    out({ method: "ready", params: { protocol: 2, version: "9.9.9", limits: { drainMs: ${drainMs}, sendBudgetMs: 120000 } } });
    return;
  }
  if (msg.method === "shutdown") out({ id: msg.id, result: {} });
});
rl.on("close", () => setTimeout(() => process.exit(0), ${exitDelayMs}));
`);
  const sh = join(dir, "bridge");
  writeFileSync(sh, `#!/bin/sh\nexec "${process.execPath}" "${js}"\n`);
  chmodSync(sh, 0o755);
  return sh;
}

function recordingLog() {
  const lines = [];
  const at = (level) => (text) => lines.push([level, text]);
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

test("bridge log lines (--log-format json) reach OpenClaw's log at their own level", async () => {
  const log = recordingLog();
  let ready;
  const b = new BridgeProcess({ binary: drainingBridge({ drainMs: 1000, exitDelayMs: 0 }), config: {}, log, onNotification: (m) => { if (m === "ready") ready = true; } });
  await waitUntil(() => ready && log.lines.length >= 4);
  assert.deepEqual(b.child.spawnargs.slice(1), ["serve", "--log-format", "json"]);
  const by = (level) => log.lines.filter(([l]) => l === level).map(([, t]) => t);
  assert.deepEqual(by("warn"), ["bridge: bridge::rest: 429 from the server, waiting retryAfterMs=1200"]);
  assert.deepEqual(by("error"), ["bridge: bridge: subscription refused"]);
  assert.deepEqual(by("info"), ["bridge: connected"]);
  assert.deepEqual(by("debug"), ["bridge: not json at all"]);
  await b.stop();
});

test("ready.limits set the request timeout above the bridge's send budget", async () => {
  let ready;
  const b = new BridgeProcess({ binary: drainingBridge({ drainMs: 1000, exitDelayMs: 0 }), config: {}, log: {}, onNotification: (m) => { if (m === "ready") ready = true; } });
  assert.equal(b.requestTimeoutMs, 65_000, "before ready: the default budget + margin");
  await waitUntil(() => ready);
  assert.equal(b.limits.sendBudgetMs, 120_000);
  assert.ok(b.requestTimeoutMs > b.limits.sendBudgetMs, "the plugin never gives up before the bridge does");
  assert.equal(b.requestTimeoutMs, 125_000);
  assert.equal(b.stopTimeoutMs, 3000, "drainMs + 2 s");
  await b.stop();
});

test("stop() lets the bridge drain for drainMs + 2 s: a bridge that needs 3.5 s exits by itself, not by SIGKILL", async () => {
  let ready;
  const b = new BridgeProcess({ binary: drainingBridge({ drainMs: 10_000, exitDelayMs: 3500 }), config: {}, log: {}, onNotification: (m) => { if (m === "ready") ready = true; } });
  await waitUntil(() => ready);
  await b.stop();
  const { code, signal } = await b.exitPromise;
  assert.equal(signal, null, "not killed");
  assert.equal(code, 0, "exited on its own after draining");
});

async function waitUntil(fn) {
  for (let i = 0; i < 500 && !fn(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(fn(), "condition reached");
}
