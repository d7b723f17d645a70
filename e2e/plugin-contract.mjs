// The plugin inside a real OpenClaw gateway, against a scripted bridge (fake-bridge.mjs)
// instead of `bridge serve`: it checks the plugin's side of docs/bridge-protocol.md
// (config line, dispatch, replies, pairing, commands, system events, fatal state,
// accounts) without Rocket.Chat. Prints `N passed, M failed`; exits 1 on failure.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  E2E, PLUGIN_DIR, Run, Suite, assert, assertEq, freePort, gatewayConfig, getJson, startFakeModel, startGateway, waitFor, NODE,
} from "./lib/harness.mjs";
import { writeFileSync, chmodSync, mkdirSync } from "node:fs";

const suite = new Suite("plugin-contract");
/** A 1x1 PNG. */
const PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
const run = new Run("contract");
const bridgeDir = join(run.dir, "bridges");
await import("node:fs").then((fs) => fs.mkdirSync(bridgeDir, { recursive: true }));

// The plugin runs `<bridgePath> serve`; a wrapper makes that the fake bridge under Node 24.
const wrapper = join(run.dir, "fake-bridge.sh");
writeFileSync(wrapper, `#!/bin/sh\nexec "${NODE}" "${join(E2E, "fake-bridge.mjs")}" "$@"\n`);
chmodSync(wrapper, 0o755);

const decoy = join(run.dir, "decoy-bridge");
writeFileSync(decoy, "#!/bin/sh\necho 'bridge utility, iproute2-6.1.0'\n");
chmodSync(decoy, 0o755);

const bridgeUrl = async (accountId) => {
  const f = join(bridgeDir, `${accountId}.port`);
  const port = await waitFor(`fake bridge ${accountId}`, () => existsSync(f) && readFileSync(f, "utf8"));
  return `http://127.0.0.1:${port}`;
};
const notify = async (accountId, method, params) => {
  const r = await fetch(`${await bridgeUrl(accountId)}/notify`, { method: "POST", body: JSON.stringify({ method, params }) });
  assertEq(r.status, 200, "notify accepted");
};
const requests = async (accountId) => (await getJson(`${await bridgeUrl(accountId)}/requests`)).body;
const sends = async (accountId) => (await requests(accountId)).filter((r) => r.method === "send");
/** Every request to this account's bridges so far, restarts included. */
const allRequests = (accountId) => {
  const f = join(bridgeDir, `${accountId}.requests.jsonl`);
  return existsSync(f) ? readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
};

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let seq = 0;
function message({ account = "ops", kind = "direct", sender = "uAlice", username = "alice", room, text, thread = null, command = null, replyThread = null }) {
  seq += 1;
  const roomId = room ?? (kind === "direct" ? `${sender}botOps` : "GENERAL");
  const ckind = kind === "direct" ? "direct" : kind === "groupDirect" ? "group" : "channel";
  const conversationId = `rocketchat:${account}:${ckind}:${roomId}${thread ? `:thread:${thread}` : ""}`;
  return {
    conversationId,
    messageId: `in${seq}AbC`,
    timestamp: Date.now(),
    room: { id: roomId, kind, name: kind === "direct" ? null : roomId.toLowerCase() },
    threadId: thread,
    sender: { id: sender, username, displayName: username, isBot: false },
    text,
    textForAgent: text.replace(/^@\S+\s*/, ""),
    mentions: { wasMentioned: kind !== "direct", explicit: kind !== "direct", pattern: false, everyone: false, requireMention: kind !== "direct" },
    command,
    replyThread,
  };
}

const model = await startFakeModel(run);
const gatewayPort = await freePort();
const config = gatewayConfig({
  run,
  gatewayPort,
  modelPort: model.port,
  channel: {
    enabled: true,
    bridgePath: wrapper,
    serverUrl: "http://127.0.0.1:9",
    dangerouslyAllowInsecure: true,
    dmPolicy: "pairing",
    textChunkLimit: 5000,
    defaultAccount: "dev", // `message send` without --account goes to dev
    // Keys the plugin has no list of reach the bridge as they are (the bridge owns them).
    replyToModeByChatType: { group: "batched" },
    // The agent's per-room policy (the plugin's keys of `rooms`; never in the config line).
    rooms: {
      "*": { systemPrompt: "ROOM-DEFAULT-PROMPT-FALCON", tools: { deny: ["exec"] } },
      LabRoomX1: { systemPrompt: "LAB-ROOM-PROMPT-OTTER", tools: { deny: ["exec", "read"] }, toolsBySender: { "id:uLabAdmin": { alsoAllow: ["exec"] } } },
      "#named-room": { systemPrompt: "NAMED-ROOM-PROMPT-BADGER", tools: { deny: ["exec", "write"] } },
    },
    accounts: {
      ops: { userId: "botOps", username: "opsbot", authToken: { source: "env", provider: "default", id: "RC_OPS_TOKEN" }, dm: { groupEnabled: true, groupChannels: ["GroupDm1"] } },
      // dev streams previews (per-account key); ops keeps the default (off).
      dev: { userId: "botDev", username: "devbot", authToken: "dev-plain-token", streaming: { mode: "partial", throttleMs: 200 } },
    },
  },
  // The CLI acts as `main`, bound to no Rocket.Chat account: OpenClaw picks the account
  // bound to the acting agent first, so only then does `defaultAccount` decide.
  agents: { entries: { main: {}, ops: {}, dev: {} }, defaults: { systemAgent: { agentId: "main" } } },
  extra: { commands: { allowFrom: { rocketchat: ["*"] } } },
  bindings: [
    { agentId: "ops", match: { channel: "rocketchat", accountId: "ops" } },
    { agentId: "dev", match: { channel: "rocketchat", accountId: "dev" } },
  ],
});
const callsText = async () => (await model.calls()).map((c) => c.text);

let failed = 0;

/** `openclaw plugins install` from a packed tarball and from the folder, in throwaway state dirs. */
async function installChecks() {
  const { spawnSync } = await import("node:child_process");
  const npmCli = join(dirname(NODE), "..", "lib", "node_modules", "npm", "bin", "npm-cli.js");
  await suite.test("`openclaw plugins install` works from a packed tarball", async () => {
    const r = new Run("install-pack");
    try {
      const pack = spawnSync(NODE, [npmCli, "pack", "--pack-destination", r.dir, "--json"], { cwd: PLUGIN_DIR, encoding: "utf8", env: r.env() });
      assertEq(pack.status, 0, `npm pack (${pack.stderr.slice(-300)})`);
      const tgz = join(r.dir, JSON.parse(pack.stdout)[0].filename);
      writeFileSync(r.configPath, JSON.stringify({ gateway: { mode: "local" } }));
      const inst = r.cli(["plugins", "install", `npm-pack:${tgz}`, "--force", "--accept-capabilities"]);
      assertEq(inst.code, 0, `install (${inst.stdout.slice(-400)} ${inst.stderr.slice(-400)})`);
      const inspect = r.cli(["plugins", "inspect", "rocketchat", "--runtime", "--json"]);
      assert(/"status": "loaded"/.test(inspect.stdout), `loaded (${inspect.stdout.slice(0, 300)} ${inspect.stderr.slice(-300)})`);
    } finally {
      r.cleanup();
    }
  });
  await suite.test("`openclaw plugins install --link` works from the folder", async () => {
    const r = new Run("install-link");
    try {
      writeFileSync(r.configPath, JSON.stringify({ gateway: { mode: "local" } }));
      const inst = r.cli(["plugins", "install", "--link", PLUGIN_DIR, "--force", "--accept-capabilities"]);
      assertEq(inst.code, 0, `install --link (${inst.stdout.slice(-400)} ${inst.stderr.slice(-400)})`);
      const inspect = r.cli(["plugins", "inspect", "rocketchat", "--runtime", "--json"]);
      assert(/"status": "loaded"/.test(inspect.stdout), "loaded");
      assert(/"channelIds": \[\s*"rocketchat"/.test(inspect.stdout), "owns the rocketchat channel");
    } finally {
      r.cleanup();
    }
  });
}

try {
  console.log(`run dir: ${run.dir}`);
  await installChecks();
  await startGateway(run, { port: gatewayPort, config, env: { FAKE_BRIDGE_DIR: bridgeDir, RC_OPS_TOKEN: "ops-secret-token" } });

  await suite.test("startAccount spawns one bridge per account with the merged config and resolved secret", async () => {
    const ops = JSON.parse(await waitFor("ops config", () => existsSync(join(bridgeDir, "ops.config.json")) && readFileSync(join(bridgeDir, "ops.config.json"), "utf8")));
    const dev = JSON.parse(await waitFor("dev config", () => existsSync(join(bridgeDir, "dev.config.json")) && readFileSync(join(bridgeDir, "dev.config.json"), "utf8")));
    assertEq(ops.accountId, "ops", "ops accountId");
    assertEq(ops.userId, "botOps", "ops userId");
    assertEq(ops.serverUrl, "http://127.0.0.1:9", "channel-level key inherited");
    assertEq(ops.authToken, `<${"ops-secret-token".length} chars>`, "env secret resolved");
    assertEq(dev.authToken, `<${"dev-plain-token".length} chars>`, "plain secret passed");
    assert(Array.isArray(ops.approvedSenders), "approvedSenders present");
    assert(!("bridgePath" in ops) && !("accounts" in ops) && !("defaultAccount" in ops) && !("streaming" in dev), "plugin-only keys are not passed");
    assertEq(JSON.stringify(ops.dm), JSON.stringify({ groupEnabled: true, groupChannels: ["GroupDm1"] }), "group-DM keys reach the bridge");
    assertEq(JSON.stringify(dev.replyToModeByChatType), JSON.stringify({ group: "batched" }), "replyToMode batched reaches the bridge");
    // The plugin's room keys are stripped; "*" (plugin keys only) is left out.
    assertEq(JSON.stringify(ops.rooms), JSON.stringify({ LabRoomX1: {}, "#named-room": {} }), "rooms without the plugin's keys");
  });

  await suite.test("an admitted DM is answered through bridge send, with one model call", async () => {
    const before = (await model.calls()).length;
    const m = message({ text: "hello there", replyThread: null });
    await notify("ops", "message", m);
    const send = await waitFor("reply send", async () => (await sends("ops")).find((s) => s.params.text?.includes("PONG: hello there")), { timeoutMs: 90_000 });
    assertEq(send.params.target, m.conversationId, "reply targets the conversation");
    assertEq((await model.calls()).length, before + 1, "one model call");
  });

  await suite.test("hand-over is acknowledged (ack) once OpenClaw took the message; a redelivered message id is answered once", async () => {
    const before = (await model.calls()).length;
    const m = message({ text: "ACKME once" });
    await notify("ops", "message", m);
    const send = await waitFor("reply", async () => (await sends("ops")).find((x) => x.params.text?.includes("PONG: ACKME once")), { timeoutMs: 90_000 });
    const acks = (await requests("ops")).filter((r) => r.method === "ack" && r.params.messageIds.includes(m.messageId));
    assertEq(acks.length, 1, "one ack for the message");
    assert(/^[A-Za-z0-9_-]{1,40}$/.test(send.params.idempotencyKey ?? ""), `the reply carries an idempotency key (${send.params.idempotencyKey})`);
    // The bridge hands the same message over again (a restart before it saw the ack).
    await notify("ops", "message", m);
    await waitFor("the duplicate acked", async () => (await requests("ops")).filter((r) => r.method === "ack" && r.params.messageIds.includes(m.messageId)).length === 2, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 3000));
    assertEq((await sends("ops")).filter((x) => x.params.text?.includes("PONG: ACKME once")).length, 1, "answered once");
    assertEq((await model.calls()).length, before + 1, "one model call");
  });

  await suite.test("bridge warnings reach OpenClaw's log at warn level (--log-format json)", async () => {
    const line = await waitFor("the bridge's warning in the gateway log", () => readFileSync(join(run.dir, "openclaw.log"), "utf8").split("\n").find((l) => l.includes("FAKE-BRIDGE-WARNING")), { timeoutMs: 30_000 });
    assert(/"logLevelName":"WARN"|"level":"warn"|"WARN"/i.test(line), `logged as a warning: ${line.slice(0, 300)}`);
  });

  await suite.test("a thread message: reply carries replyThread back unchanged; typing on and off", async () => {
    const m = message({ kind: "public", room: "GENERAL", text: "@opsbot in thread", thread: "RootMsgXyZ", replyThread: { id: "RootMsgXyZ", scope: "all" } });
    await notify("ops", "message", m);
    const send = await waitFor("thread reply", async () => (await sends("ops")).find((s) => s.params.text?.includes("PONG: in thread")), { timeoutMs: 60_000 });
    assertEq(JSON.stringify(send.params.replyThread), JSON.stringify({ id: "RootMsgXyZ", scope: "all" }), "replyThread passed back");
    const typing = (await requests("ops")).filter((r) => r.method === "typing" && r.params.roomId === "GENERAL");
    assert(typing.some((t) => t.params.on === true) && typing.some((t) => t.params.on === false), `typing on and off (${JSON.stringify(typing)})`);
    const acks = (await requests("ops")).filter((r) => r.method === "react" && r.params.messageId === m.messageId);
    assertEq(acks.length, 1, "one ack reaction on the mention");
    assertEq(acks[0].params.emoji, "eyes", "default ack emoji");
  });

  await suite.test("a `!status` command reaches OpenClaw as /status: answered, no model call", async () => {
    const before = (await model.calls()).length;
    const sendsBefore = (await sends("ops")).length;
    const m = message({ kind: "public", room: "GENERAL", text: "@opsbot !status", command: { name: "status", arg: null, slash: "/status" } });
    await notify("ops", "message", m);
    const reply = await waitFor("status reply", async () => (await sends("ops")).slice(sendsBefore).find((s) => s.params.target === m.conversationId), { timeoutMs: 60_000 });
    assert(!reply.params.text.startsWith("PONG"), `status answered by OpenClaw, got ${reply.params.text.slice(0, 200)}`);
    assertEq((await model.calls()).length, before, "no model call for /status");
  });

  await suite.test("slash text that is not a bridge command goes to the agent as text", async () => {
    const before = (await model.calls()).length;
    const m = message({ kind: "public", room: "GENERAL", text: "@opsbot /status", command: null });
    m.textForAgent = "/status";
    await notify("ops", "message", m);
    const reply = await waitFor("model answer", async () => (await sends("ops")).find((s) => s.params.text?.includes("PONG: /status")), { timeoutMs: 60_000 });
    assert(reply, "answered by the model");
    assertEq((await model.calls()).length, before + 1, "one model call");
  });

  await suite.test("pairingRequired: the code goes to the DM room; approving feeds setApprovedSenders", async () => {
    await notify("ops", "pairingRequired", { sender: { id: "uStrangerQ", username: "stranger", displayName: "Stranger" }, room: { id: "uStrangerQbotOps", kind: "direct" } });
    const send = await waitFor("pairing reply", async () => (await sends("ops")).find((s) => s.params.target === "uStrangerQbotOps"), { timeoutMs: 30_000 });
    const code = send.params.text.match(/\b([A-Z0-9]{6,10})\b/g)?.find((c) => /[0-9]/.test(c) || /^[A-Z]+$/.test(c));
    assert(code, `a pairing code in ${JSON.stringify(send.params.text)}`);
    const portFile = (account) => join(bridgeDir, `${account}.port`);
    const portsBefore = Object.fromEntries(["ops", "dev"].map((a) => [a, readFileSync(portFile(a), "utf8")]));
    // As the README says: no --notify (OpenClaw's CLI cannot reach an external channel's
    // notifier); the gateway's plugin tells the user once it sees the approval.
    const approve = run.cli(["pairing", "approve", "rocketchat", code, "--account", "ops"]);
    assertEq(approve.code, 0, `pairing approve exit (${approve.stderr.slice(-500)} ${approve.stdout.slice(-500)})`);
    const notices = () => allRequests("ops").filter((r) => r.method === "send" && r.params.text === "You are approved. Send your message again.");
    const notice = await waitFor("the approval notice", () => notices()[0], { timeoutMs: 30_000 });
    assertEq(notice.params.target, "uStrangerQbotOps", "in the DM room where the code went");
    assert(/^[A-Za-z0-9_-]{1,40}$/.test(notice.params.idempotencyKey ?? ""), "with an idempotency key");
    // Either the running bridge is told (setApprovedSenders), or, when OpenClaw restarted the
    // account because the CLI rewrote openclaw.json, the new bridge gets it in its config line.
    await waitFor("approved sender reaches the bridge", async () => {
      const told = (await requests("ops")).some((r) => r.method === "setApprovedSenders" && r.params.userIds.includes("uStrangerQ"));
      const cfg = JSON.parse(readFileSync(join(bridgeDir, "ops.config.json"), "utf8"));
      return told || cfg.approvedSenders?.includes("uStrangerQ");
    }, { timeoutMs: 30_000 });
    // The first approval makes the CLI write `commands.ownerAllowFrom`, and the gateway
    // restarts the channel once its runs are done (a deferred hot reload). Wait for the
    // new bridges, so later tests do not talk to a child that is being stopped.
    const gatewayLog = join(run.dir, "gateway.log");
    await waitFor("the channel reload after the CLI rewrote the config", () =>
      readFileSync(gatewayLog, "utf8").includes("config hot reload applied"), { timeoutMs: 60_000 });
    for (const account of ["ops", "dev"]) {
      await waitFor(`the restarted ${account} bridge`, async () => {
        const port = readFileSync(portFile(account), "utf8");
        if (port === portsBefore[account]) return false;
        return (await getJson(`http://127.0.0.1:${port}/requests`)).status === 200;
      }, { timeoutMs: 30_000 });
    }
    // The restarted bridge must not tell the user again.
    await new Promise((r) => setTimeout(r, 4000));
    assertEq(new Set(notices().map((n) => n.params.idempotencyKey)).size, 1, "one notice (one key)");
    assertEq(notices().length, 1, "sent once");
  });

  await suite.test("a reaction becomes a system event the agent sees on its next turn", async () => {
    await notify("ops", "reaction", {
      action: "added", conversationId: "rocketchat:ops:channel:GENERAL:thread:RootMsgXyZ", room: { id: "GENERAL", kind: "public" },
      messageId: "m2", emoji: "thumbsup", user: { id: "uAlice", username: "alice" }, messageAuthorId: "botOps",
    });
    const m = message({ kind: "public", room: "GENERAL", text: "@opsbot after reaction", thread: "RootMsgXyZ", replyThread: { id: "RootMsgXyZ", scope: "all" } });
    await notify("ops", "message", m);
    const call = await waitFor("model call after reaction", async () => (await model.calls()).find((c) => c.text.includes("after reaction")), { timeoutMs: 60_000 });
    assert(/thumbsup/.test(call.prompt), "the reaction text is in the prompt");
  });

  await suite.test("a long reply is handed to the bridge whole (the bridge chunks)", async () => {
    const m = message({ kind: "public", room: "GENERAL", text: "@opsbot LONGREPLY please", thread: "LongRoot1", replyThread: { id: "LongRoot1", scope: "all" } });
    await notify("ops", "message", m);
    const send = await waitFor("long reply", async () => (await sends("ops")).find((s) => s.params.replyThread?.id === "LongRoot1"), { timeoutMs: 60_000 });
    assertEq(send.params.text.length, 12000, "one send with the full 12,000 characters");
  });

  await suite.test("the dev account is routed to the dev agent", async () => {
    const m = message({ account: "dev", sender: "uBob", username: "bob", room: "uBobbotDev", text: "hi dev" });
    await notify("dev", "message", m);
    const send = await waitFor("dev reply", async () => (await sends("dev")).find((s) => s.params.text?.includes("PONG: hi dev")), { timeoutMs: 60_000 });
    assertEq(send.params.target, m.conversationId, "dev reply targets its conversation");
    const opsSends = (await sends("ops")).filter((s) => s.params.text?.includes("hi dev"));
    assertEq(opsSends.length, 0, "ops bot does not answer");
    const sessions = run.cli(["sessions", "--json", "--all-agents"]);
    assert(/agent:dev:/.test(sessions.stdout) || sessions.code !== 0, "dev agent session exists (when the CLI lists sessions)");
  });

  await suite.test("streaming partial: one preview send, edited in place, finalised with the whole text", async () => {
    const since = (await requests("dev")).length;
    const m = message({ account: "dev", sender: "uBob", username: "bob", room: "uBobbotDev", text: "STREAMME please" });
    await notify("dev", "message", m);
    const whole = "PONG: STREAMME please and the rest of a streamed answer, written a few words at a time.";
    await waitFor("the final edit", async () => (await requests("dev")).slice(since).some((r) => r.method === "edit" && r.params.text === whole), { timeoutMs: 90_000 });
    // The turn is over once typing is switched off; nothing may follow the final edit.
    await waitFor("typing off", async () => (await requests("dev")).slice(since).some((r) => r.method === "typing" && r.params.on === false), { timeoutMs: 30_000 });
    const reqs = (await requests("dev")).slice(since).filter((r) => ["send", "edit", "delete"].includes(r.method));
    const sent = reqs.filter((r) => r.method === "send");
    assertEq(sent.length, 1, `one send, the preview (${JSON.stringify(reqs.map((r) => [r.method, r.params.text]))})`);
    assert(sent[0].params.text.length < whole.length && whole.startsWith(sent[0].params.text.trim()), `the preview is a prefix: ${JSON.stringify(sent[0].params.text)}`);
    assertEq(sent[0].params.target, m.conversationId, "preview in the conversation");
    const previewId = sent[0].result.messageIds[0];
    const edits = reqs.filter((r) => r.method === "edit");
    assert(edits.length >= 1, "at least one edit");
    assert(edits.every((e) => e.params.messageId === previewId && e.params.roomId === m.room.id), "every edit is of the preview message");
    assertEq(edits[edits.length - 1].params.text, whole, "the last edit carries the whole text");
    assertEq(reqs[reqs.length - 1].method, "edit", "the final edit is the last call");
    assertEq(reqs.filter((r) => r.method === "delete").length, 0, "no delete");
  });

  await suite.test("attachments reach the model as media, the bridge's files are deleted, a too-large one is a note", async () => {
    const dir = join(run.dir, "bridge-media");
    mkdirSync(dir, { recursive: true });
    const png = join(dir, "att-f1");
    writeFileSync(png, Buffer.from(PNG_1X1, "base64"));
    const m = message({ kind: "public", room: "GENERAL", text: "@opsbot look at this picture", thread: "MediaRoot1", replyThread: { id: "MediaRoot1", scope: "all" } });
    m.attachments = [
      { id: "f1", name: "cat.png", mimeType: "image/png", size: Buffer.from(PNG_1X1, "base64").length, path: png, error: null },
      { id: "f2", name: "report.pdf", mimeType: "application/pdf", size: 31_200_000, path: null, error: "tooLarge" },
    ];
    await notify("ops", "message", m);
    const call = await waitFor("model call with the picture", async () => (await model.calls()).find((c) => c.prompt.includes("look at this picture")), { timeoutMs: 60_000 });
    assert(/\[media attached[^\]]*"cat\.png"\]/.test(call.prompt), `a media note for cat.png in the prompt (${call.prompt.slice(-600)})`);
    assert(call.prompt.includes("[file report.pdf not downloaded: too large]"), "the too-large file is mentioned");
    assert(!existsSync(png), "the bridge's file was deleted");
    await waitFor("the reply", async () => (await sends("ops")).find((s) => s.params.replyThread?.id === "MediaRoot1"), { timeoutMs: 60_000 });
  });

  await suite.test("room history and thread history reach the prompt", async () => {
    const m = message({ kind: "public", room: "HistRoomA", text: "@opsbot what was the word?" });
    m.history = [
      { messageId: "h1", timestamp: Date.now() - 60_000, sender: { id: "uCarol", username: "carol", displayName: "Carol", isBot: false }, text: "the code word is PELICAN", threadId: null, fromSelf: false },
      { messageId: "h2", timestamp: Date.now() - 30_000, sender: { id: "uDave", username: "dave", displayName: "Dave", isBot: false }, text: "noted, PELICAN it is", threadId: null, fromSelf: false },
    ];
    await notify("ops", "message", m);
    const call = await waitFor("model call with history", async () => (await model.calls()).find((c) => c.prompt.includes("what was the word?")), { timeoutMs: 60_000 });
    assert(call.prompt.includes("the code word is PELICAN") && call.prompt.includes("Carol"), "room history with its sender in the prompt");
    assert(call.prompt.indexOf("the code word is PELICAN") < call.prompt.indexOf("noted, PELICAN it is"), "oldest first");

    const t = message({ kind: "public", room: "GENERAL", text: "@opsbot and in this thread?", thread: "ThrRootQ1", replyThread: { id: "ThrRootQ1", scope: "all" } });
    t.threadHistory = [
      { messageId: "ThrRootQ1", timestamp: Date.now() - 50_000, sender: { id: "uAlice", username: "alice", displayName: "Alice", isBot: false }, text: "root says FLAMINGO", threadId: null, fromSelf: false },
      { messageId: "ThrRe1", timestamp: Date.now() - 40_000, sender: { id: "uBob", username: "bob", displayName: "Bob", isBot: false }, text: "reply says HERON", threadId: "ThrRootQ1", fromSelf: false },
    ];
    await notify("ops", "message", t);
    const tcall = await waitFor("model call with thread history", async () => (await model.calls()).find((c) => c.prompt.includes("and in this thread?")), { timeoutMs: 60_000 });
    assert(tcall.prompt.includes("root says FLAMINGO") && tcall.prompt.includes("reply says HERON"), `thread history in the prompt (${tcall.prompt.slice(-800)})`);
  });

  await suite.test("per-room policy: a room's systemPrompt and tools reach the turn (by id, name, \"*\"; toolsBySender); a DM keeps the agent's", async () => {
    const callFor = async (marker) => waitFor(`model call ${marker}`, async () => (await model.calls()).find((c) => c.text.includes(marker)), { timeoutMs: 60_000 });
    const ask = async (opts, marker) => {
      const m = message({ ...opts, text: `${opts.kind === "direct" ? "" : "@opsbot "}${marker}` });
      if (opts.name) m.room.name = opts.name;
      await notify("ops", "message", m);
      const call = await callFor(marker);
      await waitFor(`reply ${marker}`, async () => (await sends("ops")).find((s) => s.params.text?.includes(`PONG: ${marker}`)), { timeoutMs: 60_000 });
      return call;
    };
    const dm = await ask({ kind: "direct", sender: "uAlice", username: "alice" }, "POLICY in a DM");
    assert(dm.tools.includes("exec") && dm.tools.includes("read"), `a DM has the agent's tools (${dm.tools.join(",")})`);
    assert(!/ROOM-DEFAULT-PROMPT-FALCON|LAB-ROOM-PROMPT-OTTER/.test(dm.prompt), "no room prompt in a DM");

    const general = await ask({ kind: "public", room: "GENERAL", thread: "PolicyRoot1", replyThread: { id: "PolicyRoot1", scope: "all" } }, "POLICY in general");
    assert(general.prompt.includes("ROOM-DEFAULT-PROMPT-FALCON"), "the \"*\" system prompt in a room without an entry");
    assert(!general.tools.includes("exec") && general.tools.includes("read"), `"*" denies exec (${general.tools.join(",")})`);

    // By id (OpenClaw's session key is lowercased: labroomx1).
    const lab = await ask({ kind: "public", room: "LabRoomX1", sender: "uAlice", username: "alice" }, "POLICY in the lab");
    assert(lab.prompt.includes("LAB-ROOM-PROMPT-OTTER") && !lab.prompt.includes("ROOM-DEFAULT-PROMPT-FALCON"), "the room's own prompt, by id");
    assert(!lab.tools.includes("exec") && !lab.tools.includes("read"), `the room's tools (${lab.tools.join(",")})`);
    const admin = await ask({ kind: "public", room: "LabRoomX1", sender: "uLabAdmin", username: "labadmin", thread: "PolicyRoot2", replyThread: { id: "PolicyRoot2", scope: "all" } }, "POLICY from the lab admin");
    assert(admin.tools.includes("exec") && admin.tools.includes("read"), `toolsBySender for the sender wins over tools (${admin.tools.join(",")})`);

    // By name (`#named-room`, the room's id is not a key).
    const named = await ask({ kind: "private", room: "NmRoom77", name: "named-room" }, "POLICY by name");
    assert(named.prompt.includes("NAMED-ROOM-PROMPT-BADGER"), "the prompt of the entry keyed by name");
    assert(!named.tools.includes("exec") && !named.tools.includes("write") && named.tools.includes("read"), `the tools of the entry keyed by name (${named.tools.join(",")})`);
  });

  await suite.test("a user's edit and delete become system events the agent sees on its next turn", async () => {
    const conversationId = "rocketchat:ops:channel:GENERAL:thread:EvRoot1";
    const room = { id: "GENERAL", kind: "public" };
    await notify("ops", "messageEdited", { conversationId, room, messageId: "EvMsg1", threadId: "EvRoot1", sender: { id: "uAlice", username: "alice" }, text: "now it says OSTRICH" });
    await notify("ops", "messageDeleted", { conversationId, room, messageId: "EvMsg2" });
    const m = message({ kind: "public", room: "GENERAL", text: "@opsbot after the edits", thread: "EvRoot1", replyThread: { id: "EvRoot1", scope: "all" } });
    await notify("ops", "message", m);
    const call = await waitFor("model call after edits", async () => (await model.calls()).find((c) => c.prompt.includes("after the edits")), { timeoutMs: 60_000 });
    assert(/edited by @alice[^\n]*OSTRICH/.test(call.prompt), "the edit, with its new text, is in the prompt");
    assert(call.prompt.includes("EvMsg2 was deleted"), "the delete is in the prompt");
  });

  await suite.test("`openclaw message send --media` posts the file with bridge sendFile; too large becomes a notice", async () => {
    const target = "rocketchat:ops:channel:GENERAL";
    const dir = join(run.state, "media", "e2e-upload");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "notes.txt");
    writeFileSync(file, "hello file contents\n");
    const r = run.cli(["message", "send", "--channel", "rocketchat", "--account", "ops", "--target", target, "--media", file, "--message", "see attached", "--json"]);
    assertEq(r.code, 0, `message send --media (${r.stdout.slice(-300)} ${r.stderr.slice(-300)})`);
    const req = await waitFor("bridge sendFile", async () => (await requests("ops")).find((x) => x.method === "sendFile" && x.params.name === "notes.txt"));
    assertEq(req.params.target, target, "sendFile target");
    assertEq(req.params.caption, "see attached", "the text is the caption");
    assertEq(req.file?.head, "hello file contents\n", "the bytes were there when the bridge was asked");
    assertEq(req.file?.mode, 0o600, "a private file");
    assert(!existsSync(req.params.path), "the temp file is gone afterwards");
    assert(existsSync(file), "the user's own file is left alone");

    const big = join(dir, "too-large.bin");
    writeFileSync(big, "pretend this is huge");
    const r2 = run.cli(["message", "send", "--channel", "rocketchat", "--account", "ops", "--target", target, "--media", big, "--json"]);
    assertEq(r2.code, 0, `message send --media too-large (${r2.stdout.slice(-300)} ${r2.stderr.slice(-300)})`);
    const notice = await waitFor("too-large notice", async () => (await sends("ops")).find((x) => /can't send too-large\.bin/.test(x.params.text ?? "")));
    assertEq(notice.params.text, "I can't send too-large.bin: it is over the 1 MB limit.", "the notice names the file and the limit");
  });

  await suite.test("`openclaw message send|react|edit|delete` reach the bridge through the gateway", async () => {
    const target = "rocketchat:ops:channel:GENERAL";
    const send = run.cli(["message", "send", "--channel", "rocketchat", "--account", "ops", "--target", target, "--message", "hello from cli", "--json"]);
    assertEq(send.code, 0, `message send (${send.stdout.slice(-300)} ${send.stderr.slice(-300)})`);
    const sent = await waitFor("cli send", async () => (await sends("ops")).find((r) => r.params.text === "hello from cli"));
    assertEq(sent.params.target, target, "target passed through with its case");
    const actions = [
      ["react", ["--emoji", "tada", "--message-id", "MsgAbC1"], (r) => r.method === "react" && r.params.emoji === "tada"],
      ["edit", ["--message", "edited text", "--message-id", "MsgAbC1"], (r) => r.method === "edit" && r.params.text === "edited text"],
      ["delete", ["--message-id", "MsgAbC1"], (r) => r.method === "delete"],
    ];
    for (const [action, args, match] of actions) {
      const r = run.cli(["message", action, "--channel", "rocketchat", "--account", "ops", "--target", target, ...args, "--json"]);
      assertEq(r.code, 0, `message ${action} (${r.stdout.slice(-300)} ${r.stderr.slice(-300)})`);
      const req = await waitFor(`bridge ${action}`, async () => (await requests("ops")).find(match));
      // OpenClaw's target as it is: the bridge reads the room out of it (its target grammar).
      assertEq(req.params.target, target, `${action} target passed through`);
      assert(!("roomId" in req.params), `${action}: no room id parsed in JS`);
      assertEq(req.params.messageId, "MsgAbC1", `${action} message id`);
    }
  });

  await suite.test("defaultAccount: `message send` without --account goes to that account", async () => {
    const r = run.cli(["message", "send", "--channel", "rocketchat", "--target", "rocketchat:dev:channel:GENERAL", "--message", "to the default account", "--json"]);
    assertEq(r.code, 0, `message send (${r.stdout.slice(-300)} ${r.stderr.slice(-300)})`);
    await waitFor("dev got it", async () => (await sends("dev")).find((x) => x.params.text === "to the default account"), { timeoutMs: 30_000 });
    assertEq((await sends("ops")).filter((x) => x.params.text === "to the default account").length, 0, "not ops (the first account)");
  });

  await suite.test("status: the bridge's stats show in `channels status`; the probe works from a CLI process (`channels capabilities`)", async () => {
    const acct = await waitFor("stats in status", async () => {
      const out = run.cli(["channels", "status", "--channel", "rocketchat", "--json"]);
      const list = JSON.parse(out.stdout.slice(out.stdout.indexOf("{"))).channelAccounts?.rocketchat ?? [];
      const ops = list.find((a) => a.accountId === "ops");
      return ops?.bridgeStats ? ops : false;
    }, { timeoutMs: 60_000, intervalMs: 3000 });
    assertEq(acct.bridgeStats.admitted, 3, "admitted");
    assertEq(acct.bridgeStats.skipped.not_mentioned, 2, "skipped by reason");
    const text = run.cli(["channels", "status", "--channel", "rocketchat"]);
    assert(/dropped events: account_fatal=1/.test(text.stdout), `drops are a status warning (${text.stdout.slice(-600)})`);
    const caps = run.cli(["channels", "capabilities", "--channel", "rocketchat", "--account", "ops"]);
    const out = caps.stdout + caps.stderr;
    // ops's token is an env reference the CLI's own environment lacks: the gateway resolves it.
    assert(!/Probe: failed|Probe failed/i.test(out) && /8\.2\.0/.test(out) && /token valid for @opsbot/.test(out), `capabilities probe (${out.slice(-800)})`);
  });

  await suite.test("`openclaw channels resolve` resolves #room and @user through the bridge", async () => {
    const r = run.cli(["channels", "resolve", "--channel", "rocketchat", "--account", "ops", "--json", "#general", "@alice", "@nobody"]);
    const out = r.stdout + r.stderr;
    assert(/RGENERAL|Rgeneral/.test(out) && /Ualice/.test(out), `resolved (${out.slice(-800)})`);
  });

  await suite.test("`openclaw secrets audit` knows authToken and flags the plaintext one", async () => {
    const r = run.cli(["secrets", "audit", "--json"]);
    const out = r.stdout + r.stderr;
    assert(/channels\.rocketchat\.accounts\.dev\.authToken/.test(out), `the plaintext token is flagged (${out.slice(0, 1200)})`);
  });

  await suite.test("a policy change applies without restarting the bridge (reconfigure); a credential change restarts that account only", async () => {
    const pidOf = (id) => JSON.parse(readFileSync(join(bridgeDir, `${id}.config.json`), "utf8")).pid;
    const before = { ops: pidOf("ops"), dev: pidOf("dev") };
    const set = run.cli(["config", "set", "channels.rocketchat.accounts.ops.allowFrom", JSON.stringify(["uAlice", "uCarol"]), "--strict-json"]);
    assertEq(set.code, 0, `config set (${set.stdout.slice(-300)} ${set.stderr.slice(-300)})`);
    const rc = await waitFor("reconfigure", async () => (await requests("ops")).find((r) => r.method === "reconfigure"), { timeoutMs: 60_000 });
    assertEq(JSON.stringify(rc.params.config.allowFrom), JSON.stringify(["uAlice", "uCarol"]), "the new allowlist");
    assertEq(rc.params.config.authToken?.length > 0, true, "the full config line, secret resolved");
    assertEq(pidOf("ops"), before.ops, "ops bridge not restarted");
    const set2 = run.cli(["config", "set", "channels.rocketchat.accounts.dev.authToken", "dev-rotated-token"]);
    assertEq(set2.code, 0, `config set token (${set2.stderr.slice(-300)})`);
    await waitFor("dev restarted", () => pidOf("dev") !== before.dev, { timeoutMs: 60_000 });
    assertEq(JSON.parse(readFileSync(join(bridgeDir, "dev.config.json"), "utf8")).authToken, `<${"dev-rotated-token".length} chars>`, "with the new token");
    assertEq(pidOf("ops"), before.ops, "ops untouched by dev's credential change");
  });

  await suite.test("`openclaw plugins reload` stops each bridge child and starts a new one", async () => {
    const pidOf = (id) => JSON.parse(readFileSync(join(bridgeDir, `${id}.config.json`), "utf8")).pid;
    const before = { ops: pidOf("ops"), dev: pidOf("dev") };
    const r = run.cli(["plugins", "reload", "rocketchat"]);
    assertEq(r.code, 0, `plugins reload (${r.stdout.slice(-300)} ${r.stderr.slice(-300)})`);
    for (const id of ["ops", "dev"]) {
      await waitFor(`new ${id} bridge`, () => pidOf(id) !== before[id], { timeoutMs: 60_000 });
      await waitFor(`old ${id} bridge gone`, () => !alive(before[id]), { timeoutMs: 30_000 });
      assert(alive(pidOf(id)), `new ${id} bridge running`);
    }
  });

  await suite.test("a bridge that is not ours (decoy bridgePath) is refused with one clear sentence; the account does not run", async () => {
    // An account whose `bridge` is not ours (iproute2's prints this), added at run time.
    const add = run.cli(["config", "set", "channels.rocketchat.accounts.decoy", JSON.stringify({ userId: "botDecoy", username: "decoybot", authToken: "x", bridgePath: decoy }), "--strict-json"]);
    assertEq(add.code, 0, `config set (${add.stderr.slice(-300)})`);
    const r = await waitFor("decoy status", async () => {
      const out = run.cli(["channels", "status", "--channel", "rocketchat", "--json"]);
      const list = JSON.parse(out.stdout.slice(out.stdout.indexOf("{"))).channelAccounts?.rocketchat ?? [];
      const d = list.find((a) => a.accountId === "decoy");
      return d?.lastError ? d : false;
    }, { timeoutMs: 60_000, intervalMs: 2000 });
    assert(/is not the OpenClaw Rocket\.Chat bridge/.test(r.lastError) && r.lastError.includes(decoy) && /iproute2/.test(r.lastError), `the reason: ${r.lastError}`);
    assert(!existsSync(join(bridgeDir, "decoy.config.json")), "no bridge was started for it");
  });

  await suite.test("a config line the bridge refuses: one line per error in status and log, named where it is in openclaw.json; fixing it starts the bridge", async () => {
    // The fake refuses this bot's line as the real bridge refuses unknown keys (fatal.errors).
    const add = run.cli(["config", "set", "channels.rocketchat.accounts.refuse", JSON.stringify({ userId: "botRefuseConfig", username: "refusebot", authToken: "x", dm: { groupEnabled: true }, rooms: { general: { users: ["uAlice"] } } }), "--strict-json"]);
    assertEq(add.code, 0, `config set (${add.stderr.slice(-300)})`);
    const expected = [
      "config channels.rocketchat.accounts.refuse.dm.groupEnabled: unknown key (did you mean `groupEnabled`?)",
      "config channels.rocketchat.accounts.refuse.rooms.general.users: must be a list of user ids",
    ];
    const r = await waitFor("refused status", async () => {
      const out = run.cli(["channels", "status", "--channel", "rocketchat", "--json"]);
      const list = JSON.parse(out.stdout.slice(out.stdout.indexOf("{"))).channelAccounts?.rocketchat ?? [];
      const d = list.find((a) => a.accountId === "refuse");
      return d?.lastError?.includes("invalid config") ? d : false;
    }, { timeoutMs: 60_000, intervalMs: 2000 });
    for (const line of expected) assert(r.lastError.includes(line), `status names ${line} (${r.lastError})`);
    // The gateway's log file may lag the status it already reports: wait for the lines.
    const logged = (line) => readFileSync(join(run.dir, "gateway.log"), "utf8").split("\n").filter((l) => l.includes(`rocketchat[refuse]: ${line}`)).length;
    for (const line of expected) {
      await waitFor(`the log line ${line}`, () => logged(line) > 0, { timeoutMs: 30_000 });
      assertEq(logged(line), 1, `one log line for ${line}`);
    }
    // The fix is a bridge key, so OpenClaw does not restart the account: the plugin does.
    const fix = run.cli(["config", "set", "channels.rocketchat.accounts.refuse.userId", "botRefuseFixed"]);
    assertEq(fix.code, 0, `config set (${fix.stderr.slice(-300)})`);
    const cfgLine = await waitFor("the fixed bridge", () => existsSync(join(bridgeDir, "refuse.config.json")) && JSON.parse(readFileSync(join(bridgeDir, "refuse.config.json"), "utf8")), { timeoutMs: 60_000 });
    assertEq(cfgLine.userId, "botRefuseFixed", "started with the fixed config");
    await waitFor("refuse connected", async () => {
      const out = run.cli(["channels", "status", "--channel", "rocketchat", "--json"]);
      const list = JSON.parse(out.stdout.slice(out.stdout.indexOf("{"))).channelAccounts?.rocketchat ?? [];
      const d = list.find((a) => a.accountId === "refuse");
      return d?.connected === true && !d.lastError;
    }, { timeoutMs: 60_000, intervalMs: 2000 });
  });

  await suite.test("connection fatal: status shows it and later messages are not dispatched", async () => {
    await notify("ops", "connection", { state: "fatal", reason: "unauthorized: token revoked" });
    const status = await waitFor("fatal status", async () => {
      const r = run.cli(["channels", "status", "--json"]);
      return /fatal/.test(r.stdout) ? r.stdout : false;
    }, { timeoutMs: 60_000, intervalMs: 2000 });
    assert(/token revoked/.test(status), "reason visible");
    const before = (await model.calls()).length;
    await notify("ops", "message", message({ text: "after fatal" }));
    await new Promise((r) => setTimeout(r, 5000));
    assertEq((await model.calls()).length, before, "no model call after fatal");
  });
} catch (err) {
  console.log(`setup failed: ${err?.stack ?? err}`);
  failed += 1;
} finally {
  await run.stop();
}
await suite.test("stopping the gateway leaves no bridge process behind", async () => {
  for (const id of ["ops", "dev"]) {
    const f = join(bridgeDir, `${id}.config.json`);
    if (!existsSync(f)) continue;
    const pid = JSON.parse(readFileSync(f, "utf8")).pid;
    await waitFor(`${id} bridge exit`, () => !alive(pid), { timeoutMs: 15_000 });
  }
});
const { failed: f } = suite.summary();
if (f + failed === 0) run.cleanup();
else console.log(`logs kept in ${run.dir}`);
process.exit(f + failed === 0 ? 0 : 1);
