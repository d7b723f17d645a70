// A stand-in for `bridge serve` that speaks docs/bridge-protocol.md and is driven over
// HTTP, so the plugin can be tested inside a real gateway without Rocket.Chat.
// Env FAKE_BRIDGE_DIR: where it writes <accountId>.port and <accountId>.config.json.
//   POST /notify {method, params}  -> writes that notification to the plugin
//   GET  /requests                 -> every request the plugin made [{method, params, result}]
//                                     (sendFile also records `file`: the file as it was then)
//   GET  /config                   -> the config line it got (authToken replaced by its length)
import { createServer } from "node:http";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";

const dir = process.env.FAKE_BRIDGE_DIR ?? ".";
const requests = [];
let config;
let state = "connecting";
let nextMessage = 1;

const out = (o) => process.stdout.write(`${JSON.stringify({ jsonrpc: "2.0", ...o })}\n`);
const notify = (method, params) => out({ method, params });

function answer(msg) {
  const p = msg.params ?? {};
  const entry = { method: msg.method, params: p };
  requests.push(entry);
  const reply = (result) => {
    entry.result = result;
    return out({ id: msg.id, result });
  };
  switch (msg.method) {
    case "send": {
      const ids = [`m${nextMessage++}`];
      return reply({ messageIds: ids, threadId: p.replyThread?.id ?? p.threadId ?? null });
    }
    case "sendFile": {
      // The plugin owns the file and may delete it once answered: look at it now.
      const present = typeof p.path === "string" && existsSync(p.path);
      entry.file = present
        ? { size: statSync(p.path).size, mode: statSync(p.path).mode & 0o777, head: readFileSync(p.path).subarray(0, 64).toString("utf8") }
        : null;
      // A file named too-large* is refused as the real bridge refuses one over mediaMaxMb.
      if (p.name?.startsWith("too-large")) {
        return out({ id: msg.id, error: { code: -32011, message: "file too large", data: { kind: "tooLarge", retryable: false, limitBytes: 1024 * 1024 } } });
      }
      return reply({ messageIds: [`m${nextMessage++}`], threadId: p.replyThread?.id ?? p.threadId ?? null });
    }
    case "probe":
      return out({ id: msg.id, result: { reachable: true, tokenValid: state !== "fatal", serverVersion: "8.2.0", state } });
    case "setApprovedSenders":
      return out({ id: msg.id, result: { count: (p.userIds ?? []).length } });
    case "stats":
      return out({ id: msg.id, result: { admitted: 0, skipped: {}, dropped: {} } });
    case "shutdown":
      out({ id: msg.id, result: {} });
      return process.exit(0);
    default:
      return out({ id: msg.id, result: {} });
  }
}

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const msg = JSON.parse(line);
  if (!config) {
    config = { ...msg, authToken: `<${String(msg.authToken ?? "").length} chars>`, pid: process.pid };
    start();
    return;
  }
  answer(msg);
});
lines.on("close", () => process.exit(0));

function start() {
  const id = config.accountId ?? "default";
  writeFileSync(join(dir, `${id}.config.json`), JSON.stringify(config));
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => { raw += c; });
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      if (req.method === "POST" && req.url === "/notify") {
        const { method, params } = JSON.parse(raw);
        if (method === "connection") state = params.state;
        notify(method, params);
        return res.end("{}");
      }
      if (req.url === "/requests") return res.end(JSON.stringify(requests));
      if (req.url === "/config") return res.end(JSON.stringify(config));
      res.statusCode = 404;
      res.end("{}");
    });
  });
  server.listen(0, "127.0.0.1", () => {
    writeFileSync(join(dir, `${id}.port`), String(server.address().port));
    notify("ready", { identity: { accountId: id, userId: config.userId, username: config.username }, capabilities: {}, serverVersion: "8.2.0" });
    state = "active";
    notify("connection", { state: "active" });
  });
}
