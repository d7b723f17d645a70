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
