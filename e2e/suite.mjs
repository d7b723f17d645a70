// The end-to-end test: Rocket.Chat users (the simulator) <-> bridge <-> plugin <-> a real
// OpenClaw gateway <-> a fake model. Every scenario asserts what the users see in the
// simulator (messages, threads) and how many model calls were made.
// Prints `N passed, M failed`; exits 1 on any failure.
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  REPO, Run, Suite, assert, assertEq, freePort, gatewayConfig, startFakeModel, startGateway, waitFor, sleep, rssTreeKiB,
} from "./lib/harness.mjs";
import { longReply } from "./fake-model.mjs";

const TARGET = process.env.CARGO_TARGET_DIR ?? join(REPO, "target");
const profile = ["release", "debug"].find((p) => existsSync(join(TARGET, p, "bridge")) && existsSync(join(TARGET, p, "rocketchat-sim")));
if (!profile) {
  console.log(`e2e: bridge and rocketchat-sim binaries not found under ${TARGET}/{release,debug}`);
  console.log("e2e: 0 passed, 1 failed");
  process.exit(1);
}
const REAL_BRIDGE = join(TARGET, profile, "bridge");
const SIM = join(TARGET, profile, "rocketchat-sim");

const suite = new Suite("e2e");
const run = new Run("e2e");

// The plugin runs only a bridge that says `openclaw-rocketchat-bridge <v> protocol 2`
// (contracts.md). Until the lead's protocol-2 bridge lands on main, today's bridge is run
// behind a shim that answers `--version` for it and drops `--log-format json`; the
// scenarios that need protocol 2 (PROTOCOL2_SCENARIOS) are SKIPPED, loudly. Once the
// real bridge identifies itself, the shim is not used and they all run.
const bridgeVersion = spawnSync(REAL_BRIDGE, ["--version"], { encoding: "utf8" }).stdout?.trim() ?? "";
const PROTO2 = /^openclaw-rocketchat-bridge \S+ protocol 2$/.test(bridgeVersion);
let BRIDGE = REAL_BRIDGE;
if (!PROTO2) {
  BRIDGE = join(run.dir, "bridge-protocol1-shim.sh");
  writeFileSync(BRIDGE, `#!/bin/sh
# e2e only: today's (protocol 1) bridge, made to pass the plugin's --version check.
if [ "$1" = "--version" ]; then echo "openclaw-rocketchat-bridge 0.0.0-protocol1-shim protocol 2"; exit 0; fi
if [ "$1" = "serve" ]; then exec "${REAL_BRIDGE}" serve; fi
exec "${REAL_BRIDGE}" "$@"
`);
  chmodSync(BRIDGE, 0o755);
  console.log("e2e: ************************************************************************");
  console.log(`e2e: ${REAL_BRIDGE} --version printed ${JSON.stringify(bridgeVersion)}: NOT a protocol-2 bridge.`);
  console.log("e2e: running it behind e2e's protocol-1 shim; scenarios that need the lead's");
  console.log("e2e: protocol-2 bridge (ack, reconfigure, one-shot probe, --log-format json) are SKIPPED.");
  console.log("e2e: ************************************************************************");
}
/** A scenario that needs the protocol-2 bridge: skipped (loudly) until it lands. */
async function needsProtocol2(name, fn) {
  if (PROTO2) return suite.test(name, fn);
  console.log(`  SKIP ${name}: needs the protocol-2 bridge (${REAL_BRIDGE} --version: ${JSON.stringify(bridgeVersion)})`);
}
const CHUNK_LIMIT = 5000;

// ---- the simulator -------------------------------------------------------------
const seed = {
  users: [
    { username: "opsbot", name: "Ops Bot", bot: true, pats: [{ name: "openclaw" }] },
    { username: "devbot", name: "Dev Bot", bot: true, pats: [{ name: "openclaw" }] },
    // alice's token is for uploading a file through the REST API, as a client does (scenario 10).
    { username: "alice", name: "Alice", pats: [{ name: "client" }] },
    { username: "bob", name: "Bob" },
    { username: "carol", name: "Carol (operator)" },
    { username: "stranger", name: "Stranger" },
  ],
  rooms: [
    { name: "team", type: "c", creator: "alice", members: ["opsbot", "devbot", "alice", "bob", "carol"] },
    { dm: ["stranger", "opsbot"] },
    { dm: ["alice", "devbot"] },
  ],
};

async function startSim() {
  const seedPath = join(run.dir, "seed.json");
  (await import("node:fs")).writeFileSync(seedPath, JSON.stringify(seed));
  const child = run.spawn("sim-stderr", SIM, ["--port", "0", "--seed", seedPath, "--no-rate-limits", "--no-2fa"]);
  child.stdout.unpipe();
  const line = await new Promise((resolveLine, rejectLine) => {
    const rl = createInterface({ input: child.stdout });
    rl.once("line", resolveLine);
    child.once("exit", (code) => rejectLine(new Error(`rocketchat-sim exited with ${code}; see ${child.logPath}`)));
  });
  const info = JSON.parse(line);
  const control = async (name, body = {}) => {
    const r = await fetch(`${info.controlUrl}${name}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const json = await r.json();
    if (!json.ok) throw new Error(`sim ${name}: ${json.error}`);
    return json;
  };
  return { info, control, pid: child.pid };
}

// ---- helpers over the simulator ----------------------------------------------
let sim;
const user = (name) => sim.info.seed.users[name];
const uid = (name) => user(name).userId;
const room = (key) => sim.info.seed.rooms[key];
const messages = async (roomId) => (await sim.control("messages", { roomId })).messages;
const post = async (as, roomId, text, tmid) => (await sim.control("post", { userId: uid(as), roomId, text, ...(tmid ? { tmid } : {}) })).messageId;
const byBot = (msgs, bot) => msgs.filter((m) => m.u?.username === bot && !m.t);
const after = (msgs, id) => {
  const i = msgs.findIndex((m) => m._id === id);
  return i < 0 ? [] : msgs.slice(i + 1);
};

/** Waits for `bot`'s messages in `roomId` after message `afterId` matching `pred`. */
async function botReplies(roomId, afterId, bot, pred = () => true, timeoutMs = 90_000) {
  return waitFor(`@${bot} reply in ${roomId}`, async () => {
    const found = byBot(after(await messages(roomId), afterId), bot).filter(pred);
    return found.length ? found : false;
  }, { timeoutMs, intervalMs: 500 });
}

/** Waits until no model call has arrived for a few seconds (earlier turns finished). */
async function settle(model) {
  let last = -1;
  let stableSince = Date.now();
  await waitFor("model calls to settle", async () => {
    const n = (await model.calls()).length;
    if (n !== last) {
      last = n;
      stableSince = Date.now();
    }
    return Date.now() - stableSince >= 4000;
  }, { timeoutMs: 90_000, intervalMs: 500 });
}

/** A 1x1 PNG. */
const PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/**
 * A user posts a file message the way a Rocket.Chat 8 client does: `rooms.media/<rid>`
 * (multipart), then `rooms.mediaConfirm/<rid>/<fileId>` with the text.
 */
async function postFile(as, roomId, file, text, tmid) {
  const headers = { "X-User-Id": uid(as), "X-Auth-Token": user(as).pats.client };
  const form = new FormData();
  form.append("file", new Blob([Buffer.from(file.base64, "base64")], { type: file.type }), file.name);
  const up = await fetch(`${sim.info.baseUrl}/api/v1/rooms.media/${roomId}`, { method: "POST", headers, body: form });
  const upJson = await up.json().catch(() => ({}));
  if (!up.ok || !upJson.file?._id) {
    throw new Error(`the simulator cannot take an upload yet (rocketchat-sim rooms.media): ${up.status} ${JSON.stringify(upJson).slice(0, 200)}`);
  }
  const confirm = await fetch(`${sim.info.baseUrl}/api/v1/rooms.mediaConfirm/${roomId}/${upJson.file._id}`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ msg: text, ...(tmid ? { tmid } : {}) }),
  });
  const confirmJson = await confirm.json().catch(() => ({}));
  if (!confirm.ok || !confirmJson.message?._id) {
    throw new Error(`rooms.mediaConfirm failed: ${confirm.status} ${JSON.stringify(confirmJson).slice(0, 200)}`);
  }
  return confirmJson.message._id;
}

/** No reply from `bot` after `afterId` within a quiet period (not a timing assertion: a bound). */
async function assertNoReply(roomId, afterId, bot, quietMs = 8000) {
  await sleep(quietMs);
  const found = byBot(after(await messages(roomId), afterId), bot);
  assertEq(found.length, 0, `no reply from @${bot} (got ${JSON.stringify(found.map((m) => m.msg.slice(0, 80)))})`);
}

// ---- run ---------------------------------------------------------------------
let setupFailed = false;
let peakKiB = 0;
let sampler;
try {
  console.log(`run dir: ${run.dir} (binaries: ${profile})`);
  sim = await startSim();
  const model = await startFakeModel(run);
  const calls = async () => (await model.calls()).length;
  const gatewayPort = await freePort();
  const config = gatewayConfig({
    run,
    gatewayPort,
    modelPort: model.port,
    channel: {
      enabled: true,
      bridgePath: BRIDGE,
      serverUrl: sim.info.baseUrl,
      dangerouslyAllowInsecure: true,
      dmPolicy: "pairing",
      groupPolicy: "open",
      requireMention: true,
      textChunkLimit: CHUNK_LIMIT,
      commandAllowFrom: [uid("carol")],
      reactionNotifications: "own",
      revalidateIntervalSeconds: 5,
      accounts: {
        ops: {
          userId: uid("opsbot"), username: "opsbot", authToken: { source: "env", provider: "default", id: "RC_OPS_TOKEN" },
          mediaMaxMb: 1, // scenario 13 sends one file under and one over this
        },
        dev: {
          userId: uid("devbot"), username: "devbot", authToken: { source: "env", provider: "default", id: "RC_DEV_TOKEN" },
          dmPolicy: "allowlist", allowFrom: [uid("alice")],
          // Previews on for this bot only (scenario 12); opsbot keeps the default (off).
          streaming: { mode: "partial", throttleMs: 300 },
        },
      },
    },
    agents: { entries: { ops: {}, dev: {} }, defaults: { systemAgent: { agentId: "ops" } } },
    // The bridge decides who may run which `!` command (commandAllowFrom); let OpenClaw
    // accept the commands it forwards (the plugin keeps all other slash text uninterpreted).
    extra: { commands: { allowFrom: { rocketchat: ["*"] } } },
    bindings: [
      { agentId: "ops", match: { channel: "rocketchat", accountId: "ops" } },
      { agentId: "dev", match: { channel: "rocketchat", accountId: "dev" } },
    ],
  });
  const gw = await startGateway(run, {
    port: gatewayPort,
    config,
    env: { RC_OPS_TOKEN: user("opsbot").pats.openclaw, RC_DEV_TOKEN: user("devbot").pats.openclaw, RUST_LOG: process.env.RUST_LOG ?? "info" },
  });
  sampler = setInterval(() => {
    peakKiB = Math.max(peakKiB, rssTreeKiB(gw.pid) + rssTreeKiB(sim.pid));
  }, 1000);
  // Both bots are online once each bridge reports its connection active.
  await waitFor("both bridges active", () => {
    const log = readFileSync(gw.logPath, "utf8");
    return /bridge ready as @opsbot/.test(log) && /bridge ready as @devbot/.test(log);
  }, { timeoutMs: 90_000, intervalMs: 500 });
  const team = room("team");

  await suite.test("0. channels status: both accounts running and connected; the probe reaches the server", async () => {
    let lastOut = "";
    const r = await waitFor("connected status", async () => {
      const out = run.cli(["channels", "status", "--channel", "rocketchat", "--probe", "--json"]);
      lastOut = out.stdout + out.stderr;
      const accounts = JSON.parse(out.stdout.slice(out.stdout.indexOf("{"))).channelAccounts?.rocketchat ?? [];
      return accounts.length === 2 && accounts.every((a) => a.running && a.connected) ? accounts : false;
    }, { timeoutMs: 90_000, intervalMs: 2000 }).catch((err) => {
      throw new Error(`${err.message}; last status output: ${lastOut.slice(0, 1500)}`);
    });
    for (const a of r) {
      assert(a.probe?.ok === true && a.probe?.tokenValid === true, `${a.accountId} probe ok (${JSON.stringify(a.probe)})`);
    }
  });

  await suite.test("1. a DM from an unknown user gets a pairing code and no model call; after approval the next DM is answered", async () => {
    const dm = room("dm:stranger:opsbot");
    const before = await calls();
    const first = await post("stranger", dm, "hello, who are you?");
    const [challenge] = await botReplies(dm, first, "opsbot");
    console.log(`     pairing reply: ${JSON.stringify(challenge.msg.slice(0, 200))}`);
    const code = challenge.msg.match(/\b[A-Z0-9]{8}\b/)?.[0] ?? challenge.msg.match(/\b[A-Z0-9]{6,10}\b/)?.[0];
    assert(code, `pairing code in ${JSON.stringify(challenge.msg)}`);
    assertEq(await calls(), before, "no model call for a stranger");
    const approve = run.cli(["pairing", "approve", "rocketchat", code, "--account", "ops"]);
    assertEq(approve.code, 0, `openclaw pairing approve (${approve.stdout.slice(-300)} ${approve.stderr.slice(-300)})`);
    // The plugin feeds the approval to the bridge (polled); retry the DM until it is admitted.
    const second = await waitFor("approved DM answered", async () => {
      const id = await post("stranger", dm, "ping after approval");
      const got = await botReplies(dm, id, "opsbot", (m) => m.msg.includes("PONG: ping after approval"), 10_000).catch(() => null);
      return got;
    }, { timeoutMs: 90_000, intervalMs: 100 });
    assert(second.length >= 1, "answered after approval");
  });

  await suite.test("2. room: no mention -> no model call; @mention -> answer; in a thread -> answer in that thread", async () => {
    await settle(model);
    const before = await calls();
    const plain = await post("alice", team, "just chatting, no bot here");
    await assertNoReply(team, plain, "opsbot");
    assertEq(await calls(), before, "no model call without a mention");
    const mention = await post("alice", team, "@opsbot hello room");
    const [answer] = await botReplies(team, mention, "opsbot", (m) => m.msg.includes("PONG:"));
    assert(answer.msg.includes("hello room"), `answer echoes (${answer.msg})`);
    assertEq(await calls(), before + 1, "one model call");
    const acked = await waitFor("ack reaction on the mention", async () => {
      const m = (await messages(team)).find((x) => x._id === mention);
      return m?.reactions?.[":eyes:"]?.usernames?.includes("opsbot");
    }, { timeoutMs: 30_000 });
    assert(acked, "the bot acked the mention with :eyes:");
    const root = await post("bob", team, "a thread root without mention");
    const inThread = await post("alice", team, "@opsbot inside the thread", root);
    const [threaded] = await botReplies(team, inThread, "opsbot", (m) => m.msg.includes("inside the thread"));
    assertEq(threaded.tmid, root, "the answer lands in the thread");
  });

  await suite.test("3. !status answered with no model call; !stop refused for a non-operator, accepted for an operator", async () => {
    await settle(model);
    const before = await calls();
    const status = await post("alice", team, "@opsbot !status");
    const [statusReply] = await botReplies(team, status, "opsbot");
    const failure = /couldn't produce or deliver a reply|not allowed|unauthorized/i;
    assert(!statusReply.msg.startsWith("PONG") && !failure.test(statusReply.msg), `status answered by OpenClaw (${statusReply.msg.slice(0, 160)})`);
    const refusedMsg = await post("bob", team, "@opsbot !stop");
    const [refusal] = await botReplies(team, refusedMsg, "opsbot");
    const accepted = await post("carol", team, "@opsbot !stop");
    const [acceptance] = await botReplies(team, accepted, "opsbot");
    console.log(`     !status -> ${JSON.stringify(statusReply.msg.slice(0, 160))}`);
    console.log(`     !stop (bob) -> ${JSON.stringify(refusal.msg.slice(0, 160))}; !stop (carol, operator) -> ${JSON.stringify(acceptance.msg.slice(0, 160))}`);
    assert(/not allowed/i.test(refusal.msg), `bob is refused (${refusal.msg})`);
    assert(!failure.test(acceptance.msg), `carol's !stop is accepted by OpenClaw (${acceptance.msg})`);
    assert(acceptance.msg !== refusal.msg, `operator reply differs from the refusal (${refusal.msg} / ${acceptance.msg})`);
    const modelCmd = await post("carol", team, "@opsbot !model fake/echo-model");
    const [modelReply] = await botReplies(team, modelCmd, "opsbot");
    console.log(`     !model fake/echo-model (carol) -> ${JSON.stringify(modelReply.msg.slice(0, 160))}`);
    assert(!modelReply.msg.startsWith("PONG") && !failure.test(modelReply.msg), `!model handled by OpenClaw (${modelReply.msg})`);
    assertEq(await calls(), before, "no model call for commands");
  });

  await suite.test("4. a reaction on the bot's message reaches the agent as a system event", async () => {
    await settle(model);
    const q = await post("alice", team, "@opsbot react to this");
    const [answer] = await botReplies(team, q, "opsbot", (m) => m.msg.includes("react to this"));
    await sim.control("react", { userId: uid("alice"), messageId: answer._id, emoji: ":tada:" });
    await sleep(2000);
    const next = await post("alice", team, "@opsbot what happened?", answer.tmid ?? undefined);
    await botReplies(team, next, "opsbot", (m) => m.msg.includes("what happened"));
    const call = (await model.calls()).find((c) => c.text.includes("what happened"));
    assert(call && /:tada:/.test(call.prompt), "the reaction is in the agent's prompt");
    console.log(`     system event seen by the model: ${JSON.stringify(call.prompt.split("\n").find((l) => /:tada:/.test(l))?.slice(0, 200))}`);
  });

  await suite.test("5. a 12,000-character reply arrives as chunks of at most 5000 characters, in order, in the thread", async () => {
    await settle(model);
    const root = await post("bob", team, "long answers go here");
    const ask = await post("alice", team, "@opsbot LONGREPLY now", root);
    const chunks = await waitFor("all chunks", async () => {
      const got = byBot(after(await messages(team), ask), "opsbot").filter((m) => m.tmid === root);
      const total = got.reduce((n, m) => n + m.msg.length, 0);
      return total >= 11_900 ? got : false;
    }, { timeoutMs: 90_000, intervalMs: 500 });
    assert(chunks.length >= 3, `at least 3 chunks (got ${chunks.length})`);
    for (const c of chunks) assert(c.msg.length <= CHUNK_LIMIT, `chunk of ${c.msg.length} <= ${CHUNK_LIMIT}`);
    const squash = (s) => s.replace(/\s+/g, "");
    assertEq(squash(chunks.map((c) => c.msg).join("")), squash(longReply()), "chunks reassemble the reply in order");
  });

  await suite.test("7. two bots bound to two agents: a mention is answered by that bot only; a DM to the other is answered by it", async () => {
    await settle(model);
    const before = await calls();
    const q = await post("alice", team, "@devbot only dev please");
    const [devAnswer] = await botReplies(team, q, "devbot", (m) => m.msg.includes("only dev please"));
    assert(devAnswer, "devbot answered");
    await assertNoReply(team, q, "opsbot", 5000);
    const dm = room("dm:alice:devbot");
    const d = await post("alice", dm, "dm for dev");
    await botReplies(dm, d, "devbot", (m) => m.msg.includes("PONG: dm for dev"));
    assertEq(await calls(), before + 2, "two model calls");
    const log = readFileSync(join(run.dir, "gateway.log"), "utf8");
    assert(/session:agent:dev:/.test(log), "the dev agent ran the turns");
  });

  // ---- Slack parity (issue 9). Each names the Rust piece it needs when that is missing.
  await suite.test("8. a user edits then deletes a message the agent saw: both reach the agent as system events on its next turn", async () => {
    await settle(model);
    const q = await post("alice", team, "@opsbot remember EDITME-original");
    await botReplies(team, q, "opsbot", (m) => m.msg.includes("EDITME-original"));
    await sim.control("edit", { userId: uid("alice"), messageId: q, text: "@opsbot remember EDITME-changed" });
    await sim.control("delete", { userId: uid("alice"), messageId: q });
    await sleep(2000);
    const next = await post("alice", team, "@opsbot what changed since?");
    await botReplies(team, next, "opsbot", (m) => m.msg.includes("what changed since"));
    const call = (await model.calls()).find((c) => c.text.includes("what changed since"));
    assert(call, "a model call for the next turn");
    const edited = call.prompt.match(new RegExp(`message edited by @alice \\(message ${q}\\): [^\\n"]*EDITME-changed`))?.[0];
    const deleted = call.prompt.match(new RegExp(`message ${q} was deleted`))?.[0];
    console.log(`     system events seen by the model: ${JSON.stringify(edited)} / ${JSON.stringify(deleted)}`);
    assert(edited, "the edit (with its new text) is in the prompt (bridge messageEdited)");
    assert(deleted, `the delete of ${q} is in the prompt (bridge messageDeleted)`);
  });

  await suite.test("9. implicit mention: a thread reply under the bot's message, without @mention, is answered", async () => {
    await settle(model);
    const q = await post("alice", team, "@opsbot start IMPLICIT-ONE");
    const [answer] = await botReplies(team, q, "opsbot", (m) => m.msg.includes("IMPLICIT-ONE"));
    const root = answer.tmid ?? answer._id;
    const r = await post("bob", team, "follow-up IMPLICIT-TWO, no mention", root);
    const [reply] = await botReplies(team, r, "opsbot", (m) => m.msg.includes("IMPLICIT-TWO")).catch((err) => {
      throw new Error(`no answer to the unmentioned thread reply (bridge implicitMentions.replyToBot): ${err.message}`);
    });
    assertEq(reply.tmid, root, "answered in that thread");
  });

  await suite.test("10. an image posted by a user reaches the model as media", async () => {
    await settle(model);
    const posted = await postFile("alice", team, { name: "tiny.png", type: "image/png", base64: PNG_1X1 }, "@opsbot what is in IMAGE-ONE?");
    await botReplies(team, posted, "opsbot", (m) => m.msg.includes("IMAGE-ONE"));
    const call = (await model.calls()).find((c) => c.prompt.includes("IMAGE-ONE"));
    assert(/\[media attached[^\]]*tiny\.png/.test(call.prompt), `a media note for tiny.png in the prompt (bridge attachments download): ${JSON.stringify(call.prompt.split("\n").filter((l) => /media|tiny|file/i.test(l)).slice(0, 5))}`);
  });

  await suite.test("11. history: room messages posted before a mention, and a thread's start, appear in the prompt", async () => {
    await settle(model);
    await post("bob", team, "HISTORY-A the deploy is on friday");
    await post("carol", team, "HISTORY-B and the freeze starts thursday");
    const q = await post("alice", team, "@opsbot when is the deploy?");
    await botReplies(team, q, "opsbot", (m) => m.msg.includes("when is the deploy"));
    const call = (await model.calls()).find((c) => c.prompt.includes("when is the deploy?"));
    assert(call.prompt.includes("HISTORY-A the deploy is on friday") && call.prompt.includes("HISTORY-B and the freeze starts thursday"),
      "both earlier messages are in the prompt (bridge history / historyLimit)");
    assert(call.prompt.indexOf("HISTORY-A") < call.prompt.indexOf("HISTORY-B"), "oldest first");

    // A thread the bot has not been in: its root and first replies come with the mention.
    const root = await post("bob", team, "THREAD-ROOT the plan is to ship on monday");
    await post("carol", team, "THREAD-REPLY fine by me", root);
    const t = await post("alice", team, "@opsbot summarize this thread", root);
    await botReplies(team, t, "opsbot", (m) => m.msg.includes("summarize this thread"));
    const tcall = (await model.calls()).find((c) => c.prompt.includes("summarize this thread"));
    assert(tcall.prompt.includes("THREAD-ROOT the plan is to ship on monday") && tcall.prompt.includes("THREAD-REPLY fine by me"),
      "the thread's root and reply are in the prompt (bridge threadHistory / threadInitialHistoryLimit)");

    // Later in that thread (thread.historyScope "thread", the default): the thread's new
    // messages come along, the room's do not.
    await post("carol", team, "THREAD-LATER moved to tuesday", root);
    await post("bob", team, "TOPLEVEL-NOISE lunch anyone?");
    const t2 = await post("alice", team, "@opsbot what changed in the thread?", root);
    await botReplies(team, t2, "opsbot", (m) => m.msg.includes("what changed in the thread"));
    const t2call = (await model.calls()).find((c) => c.prompt.includes("what changed in the thread?"));
    assert(t2call.prompt.includes("THREAD-LATER moved to tuesday"), "the thread's later reply is in the prompt (bridge history, threadHistoryScope thread)");
    assert(!t2call.prompt.includes("TOPLEVEL-NOISE"), "the room's top-level message is not (threadHistoryScope thread)");
  });

  await suite.test("12. streaming partial: the reply is one message, edited in place as it grows", async () => {
    await settle(model);
    const dm = room("dm:alice:devbot");
    const d = await post("alice", dm, "STREAMME in the suite");
    const whole = "PONG: STREAMME in the suite and the rest of a streamed answer, written a few words at a time.";
    // Watch the preview grow: the same message id with longer text over time.
    const seen = new Map();
    const final = await waitFor("the finished reply", async () => {
      const mine = byBot(after(await messages(dm), d), "devbot");
      for (const m of mine) seen.set(`${m._id}:${m.msg}`, m);
      return mine.find((m) => m.msg === whole) ?? false;
    }, { timeoutMs: 90_000, intervalMs: 100 });
    await settle(model);
    const mine = byBot(after(await messages(dm), d), "devbot");
    assertEq(mine.length, 1, `one message from devbot (${JSON.stringify(mine.map((m) => m.msg))})`);
    assertEq(mine[0]._id, final._id, "the finished text is in that message");
    assert(mine[0].editedAt, "the message was edited (Rocket.Chat's edited mark)");
    const versions = [...seen.values()].filter((m) => m._id === final._id).map((m) => m.msg);
    console.log(`     preview versions seen: ${versions.length} (${JSON.stringify(versions.map((v) => v.length))} chars)`);
  });

  await suite.test("13. `openclaw message send --media` uploads the file into the room (rooms.media + mediaConfirm); one over mediaMaxMb becomes a notice", async () => {
    const fs = await import("node:fs");
    const dir = join(run.state, "media", "e2e-upload");
    fs.mkdirSync(dir, { recursive: true });
    const small = join(dir, "minutes.txt");
    fs.writeFileSync(small, "FILE-ONE minutes of the meeting\n");
    const before = (await messages(team)).length;
    const r = run.cli(["message", "send", "--channel", "rocketchat", "--account", "ops", "--target", team, "--media", small, "--message", "FILE-ONE caption", "--json"]);
    assertEq(r.code, 0, `message send --media (${r.stdout.slice(-300)} ${r.stderr.slice(-300)})`);
    const [posted] = await waitFor("the file message", async () => {
      const got = byBot((await messages(team)).slice(before), "opsbot").filter((m) => (m.files ?? [m.file]).some((f) => f?.name === "minutes.txt"));
      return got.length ? got : false;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    assertEq(posted.msg, "FILE-ONE caption", "the text is the file message's caption");
    assert(!posted.tmid, "at the top level");

    const big = join(dir, "too-big.bin");
    fs.writeFileSync(big, Buffer.alloc(2 * 1024 * 1024, 7));
    const r2 = run.cli(["message", "send", "--channel", "rocketchat", "--account", "ops", "--target", team, "--media", big, "--json"]);
    assertEq(r2.code, 0, `message send --media (too big) (${r2.stdout.slice(-300)} ${r2.stderr.slice(-300)})`);
    const [notice] = await waitFor("the too-large notice", async () => {
      const got = byBot((await messages(team)).slice(before), "opsbot").filter((m) => /too-big\.bin/.test(m.msg ?? ""));
      return got.length ? got : false;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    assertEq(notice.msg, "I can't send too-big.bin: it is over the 1 MB limit.", "a clear notice in the room");
    assert(!(notice.files ?? [notice.file]).some(Boolean), "nothing was uploaded");
  });

  await suite.test("14. a channel restart (`openclaw plugins reload`) loses nothing: a message the old bridge never heard is answered once by the new one", async () => {
    await settle(model);
    const heard = await post("alice", team, "@opsbot RESUME-ONE");
    await botReplies(team, heard, "opsbot", (m) => m.msg.includes("RESUME-ONE"));
    // The old bridge's socket stays open but hears nothing more (the simulator's deaf
    // switch applies to the sockets open now), so only the new bridge can pick this up:
    // from the point the old one wrote to its stateFile when it stopped.
    await sim.control("deaf", { userId: uid("opsbot"), on: true });
    const unheard = await post("alice", team, "@opsbot RESUME-TWO");
    const reload = run.cli(["plugins", "reload", "rocketchat"]);
    assertEq(reload.code, 0, `plugins reload (${reload.stdout.slice(-300)} ${reload.stderr.slice(-300)})`);
    await botReplies(team, unheard, "opsbot", (m) => m.msg.includes("RESUME-TWO")).catch((err) => {
      throw new Error(`the message posted while the old bridge was deaf was never answered (bridge stateFile resume): ${err.message}`);
    });
    await settle(model);
    const replies = byBot(after(await messages(team), heard), "opsbot");
    assertEq(replies.filter((m) => m.msg.includes("RESUME-ONE")).length, 1, "RESUME-ONE answered once");
    assertEq(replies.filter((m) => m.msg.includes("RESUME-TWO")).length, 1, "RESUME-TWO answered once");
  });

  await needsProtocol2("15. acknowledged hand-over: the gateway SIGKILLed between hand-over and the answer; after a restart the message is answered exactly once", async () => {
    await settle(model);
    const q = await post("alice", team, "@opsbot HOLDME crash test");
    // The model has the call (the message was handed over and dispatched) and holds it.
    await waitFor("the held model call", async () => (await model.calls()).some((c) => c.text.includes("HOLDME crash test")), { timeoutMs: 90_000 });
    const gwNow = run.children.find((c) => c.spawnargs.includes("gateway") && c.exitCode === null);
    gwNow.kill("SIGKILL");
    await new Promise((r) => gwNow.once("exit", r));
    const gw2 = await startGateway(run, {
      port: gatewayPort,
      config: JSON.parse(readFileSync(run.configPath, "utf8")),
      env: { RC_OPS_TOKEN: user("opsbot").pats.openclaw, RC_DEV_TOKEN: user("devbot").pats.openclaw, RUST_LOG: process.env.RUST_LOG ?? "info" },
    });
    assert(gw2.pid, "restarted");
    await botReplies(team, q, "opsbot", (m) => m.msg.includes("HOLDME crash test"), 120_000).catch((err) => {
      throw new Error(`the message handed over before the crash was never answered (bridge ack / resume point, plugin ack): ${err.message}`);
    });
    await settle(model);
    const replies = byBot(after(await messages(team), q), "opsbot").filter((m) => m.msg.includes("HOLDME crash test"));
    assertEq(replies.length, 1, "answered exactly once");
  });

  await suite.test("6. revoking the bot's PAT: the account reports fatal and nothing more is dispatched", async () => {
    await settle(model);
    await sim.control("removePat", { userId: uid("opsbot"), name: "openclaw" });
    const accounts = await waitFor("ops fatal in channels status", async () => {
      const r = run.cli(["channels", "status", "--channel", "rocketchat", "--json"]);
      const list = JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))).channelAccounts?.rocketchat ?? [];
      const ops = list.find((a) => a.accountId === "ops");
      return /fatal/i.test(ops?.lastError ?? "") ? list : false;
    }, { timeoutMs: 90_000, intervalMs: 2000 });
    const ops = accounts.find((a) => a.accountId === "ops");
    const dev = accounts.find((a) => a.accountId === "dev");
    console.log(`     ops status: connected=${ops.connected} lastError=${JSON.stringify(ops.lastError)}`);
    assert(ops.connected === false, "ops is not connected");
    assert(dev?.connected === true, "the other account is unaffected");
    const before = await calls();
    const q = await post("alice", team, "@opsbot are you there?");
    await assertNoReply(team, q, "opsbot");
    assertEq(await calls(), before, "no model call after revocation");
  });
} catch (err) {
  setupFailed = true;
  console.log(`setup failed: ${err?.stack ?? err}`);
} finally {
  clearInterval(sampler);
  await run.stop();
}
if (peakKiB) console.log(`peak RSS (gateway tree + simulator): ${(peakKiB / 1024).toFixed(0)} MiB`);
const { failed } = suite.summary();
const total = failed + (setupFailed ? 1 : 0);
if (total === 0) run.cleanup();
else console.log(`logs kept in ${run.dir}`);
process.exit(total === 0 ? 0 : 1);
