// A stand-in for `bridge serve` that speaks docs/bridge-protocol.md (protocol 2, see
// /work/notes/contracts.md) and is driven over HTTP, so the plugin can be tested inside a
// real gateway without Rocket.Chat.
//   `--version`            -> `openclaw-rocketchat-bridge 0.0.0-fake protocol 2`
//                             (FAKE_BRIDGE_PROTOCOL overrides the number)
//   `serve --log-format json` -> the protocol on stdio; one WARN log line on stderr at start
//   `probe` / `resolve` / `directory` -> the one-shot commands (canned answers)
// Env FAKE_BRIDGE_DIR: where it writes <accountId>.port and <accountId>.config.json.
//   POST /notify {method, params}  -> writes that notification to the plugin
//   GET  /requests                 -> every request the plugin made [{method, params, result}]
//                                     (sendFile also records `file`: the file as it was then)
//   GET  /config                   -> the config line it got (authToken replaced by its length)
// Every request is also appended to <accountId>.requests.jsonl (across restarts).
// A config line whose userId is "botRefuseConfig" is refused as the real bridge refuses
// unknown keys: a `fatal` with `errors` (one per key), then exit 2.
import { createServer } from "node:http";
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";

const dir = process.env.FAKE_BRIDGE_DIR ?? ".";
const argv = process.argv.slice(2);
if (argv[0] === "--version") {
  process.stdout.write(`openclaw-rocketchat-bridge 0.0.0-fake protocol ${process.env.FAKE_BRIDGE_PROTOCOL ?? "2"}\n`);
  process.exit(0);
}
function serve() {
  listen();
}

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
  // Also kept across this account's bridge restarts (GET /requests is this process's only).
  appendFileSync(join(dir, `${config.accountId ?? "default"}.requests.jsonl`), `${JSON.stringify({ pid: process.pid, ...entry })}\n`);
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
      return out({ id: msg.id, result: { admitted: 3, skipped: { not_mentioned: 2 }, dropped: { account_fatal: 1 } } });
    case "ack":
      return reply({ acked: (p.messageIds ?? []).length });
    case "reconfigure": {
      const applied = Object.keys(p.config ?? {}).filter((k) => JSON.stringify(p.config[k]) !== JSON.stringify(rawConfig?.[k]) && k !== "approvedSenders");
      if (applied.some((k) => ["serverUrl", "userId", "username", "authToken"].includes(k))) {
        return out({ id: msg.id, error: { code: -32012, message: "restart required", data: { kind: "restartRequired", retryable: false } } });
      }
      rawConfig = { ...rawConfig, ...p.config };
      config = { ...rawConfig, authToken: `<${String(rawConfig.authToken ?? "").length} chars>`, pid: process.pid };
      writeFileSync(join(dir, `${config.accountId ?? "default"}.config.json`), JSON.stringify(config));
      return reply({ applied });
    }
    case "shutdown":
      out({ id: msg.id, result: {} });
      return process.exit(0);
    default:
      return out({ id: msg.id, result: {} });
  }
}

let rawConfig;
function listen() {
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    const msg = JSON.parse(line);
    if (!config) {
      if (msg.userId === "botRefuseConfig") {
        const errors = [
          { field: "dm.groupEnabled", reason: "unknown key (did you mean `groupEnabled`?)" },
          { field: "rooms.general.users", reason: "must be a list of user ids" },
        ];
        notify("fatal", { ...errors[0], errors });
        process.exit(2);
      }
      rawConfig = msg;
      config = { ...msg, authToken: `<${String(msg.authToken ?? "").length} chars>`, pid: process.pid };
      start();
      return;
    }
    answer(msg);
  });
  lines.on("close", () => process.exit(0));
}

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
    process.stderr.write(`${JSON.stringify({ timestamp: new Date().toISOString(), level: "WARN", target: "fake_bridge", fields: { message: "FAKE-BRIDGE-WARNING for the log-level test", account: id } })}\n`);
    notify("ready", {
      protocol: 2, version: "0.0.0-fake",
      limits: { drainMs: 10000, sendBudgetMs: 60000 },
      identity: { accountId: id, userId: config.userId, username: config.username }, capabilities: {}, serverVersion: "8.2.0",
    });
    state = "active";
    notify("connection", { state: "active" });
  });
}

if (["probe", "resolve", "directory"].includes(argv[0])) {
  const input = [];
  createInterface({ input: process.stdin }).on("line", (l) => { if (l.trim()) input.push(JSON.parse(l)); }).on("close", () => {
    const cfg = input[0] ?? {};
    const line = (o) => { process.stdout.write(`${JSON.stringify(o)}\n`); process.exit(0); };
    // contracts.md: a bad config line is exit 2 with {"error":{"field","reason"}}.
    if (!cfg.authToken) {
      process.stdout.write(`${JSON.stringify({ error: { field: "authToken", reason: "is required" } })}\n`);
      process.exit(2);
    }
    if (argv[0] === "probe") {
      const ok = cfg.authToken && cfg.authToken !== "bad-token";
      return line({
        reachable: true, tokenValid: Boolean(ok), identityMatches: Boolean(ok), serverVersion: "8.2.0",
        user: ok ? { id: cfg.userId, username: cfg.username } : null,
        rooms: Object.keys(cfg.rooms ?? {}).map((entry) => (entry === "missing-room" ? { entry, error: { kind: "notFound", message: "no such room" } } : { entry, id: entry.toUpperCase(), name: entry.toLowerCase(), kind: "public" })),
      });
    }
    if (argv[0] === "resolve") {
      const targets = input[1]?.targets ?? [];
      return line({ results: targets.map((t) => (t.startsWith("#")
        ? { input: t, ok: true, kind: "room", id: `R${t.slice(1)}`, name: t.slice(1), roomKind: "public", conversationId: `rocketchat:${cfg.accountId}:channel:R${t.slice(1)}` }
        : t.startsWith("@") && t !== "@nobody"
          ? { input: t, ok: true, kind: "user", id: `U${t.slice(1)}`, name: t.slice(1) }
          : { input: t, ok: false, error: { kind: "notFound", message: `${t} not found` } })) });
    }
    return line({ rooms: [{ id: "GENERAL", name: "general", kind: "public" }], users: [{ id: "uAlice", username: "alice", displayName: "Alice" }] });
  });
} else {
  serve();
}

