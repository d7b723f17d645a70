// Unit tests for the pure parts: account merging, the bridge config line, the id grammar.
// Run: node --test openclaw-plugin/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildBridgeConfig, configErrorLines, listAccountIds, perAccountFile, resolveAccount, resolveAuthToken } from "../src/config.js";
import { chatKindOf, parseConversationId, resolveSessionConversation } from "../src/ids.js";
import * as ids from "../src/ids.js";

const cfg = {
  channels: {
    rocketchat: {
      serverUrl: "https://chat.example",
      dmPolicy: "pairing",
      requireMention: true,
      bridgePath: "/opt/bridge",
      ackReaction: "eyes",
      accounts: {
        ops: { userId: "uOps", username: "opsbot", authToken: "t-ops", requireMention: false },
        dev: { userId: "uDev", username: "devbot", authToken: { source: "env", id: "RC_DEV_TEST_TOKEN" }, enabled: false },
      },
    },
  },
};

test("accounts are the keys of `accounts`; a top-level bot adds `default`", () => {
  assert.deepEqual(listAccountIds(cfg), ["ops", "dev"]);
  assert.deepEqual(listAccountIds({ channels: { rocketchat: { userId: "u", authToken: "t" } } }), ["default"]);
  assert.deepEqual(listAccountIds({}), ["default"]);
});

test("account keys override channel keys; enabled and configured are derived", () => {
  const ops = resolveAccount(cfg, "ops");
  assert.equal(ops.config.serverUrl, "https://chat.example");
  assert.equal(ops.config.requireMention, false);
  assert.equal(ops.enabled, true);
  assert.equal(ops.configured, true);
  assert.equal(resolveAccount(cfg, "dev").enabled, false);
  assert.equal(resolveAccount(cfg, "missing").configured, false);
});

test("the bridge config line carries every key but the plugin's own, with the resolved secret", () => {
  const line = buildBridgeConfig(resolveAccount(cfg, "ops"), "resolved", ["uA"]);
  assert.equal(line.accountId, "ops");
  assert.equal(line.authToken, "resolved");
  assert.deepEqual(line.approvedSenders, ["uA"]);
  assert.equal(line.requireMention, false);
  for (const key of ["bridgePath", "ackReaction", "accounts", "enabled", "name", "defaultAccount", "streaming", "thread"]) assert.ok(!(key in line), key);
});

test("keys the plugin has never heard of reach the bridge (group DMs, batched replies, anything newer)", () => {
  const c = { channels: { rocketchat: {
    serverUrl: "https://c", dm: { groupEnabled: true, groupChannels: ["G1"] }, replyToMode: "batched",
    accounts: { ops: { userId: "u", replyToModeByChatType: { group: "batched" }, someFutureKey: { x: 1 }, streaming: "partial", thread: { initialHistoryLimit: 7 } } },
  } } };
  const line = buildBridgeConfig(resolveAccount(c, "ops"), "t", []);
  assert.deepEqual(line.dm, { groupEnabled: true, groupChannels: ["G1"] });
  assert.equal(line.replyToMode, "batched");
  assert.deepEqual(line.replyToModeByChatType, { group: "batched" });
  assert.deepEqual(line.someFutureKey, { x: 1 }, "the bridge decides whether it knows a key");
  assert.equal(line.threadInitialHistoryLimit, 7, "Slack's thread.initialHistoryLimit spelling");
  assert.ok(!("streaming" in line) && !("thread" in line));
});

test("a refused config line: one line per problem, named where it is in openclaw.json", () => {
  const c = { channels: { rocketchat: { dmpolicy: "open", accounts: { ops: { userId: "u", rooms: { general: { requireMentoin: false } } } } } } };
  const lines = configErrorLines(c, "ops", {
    field: "dmpolicy", reason: "unknown key (did you mean `dmPolicy`?)",
    errors: [
      { field: "dmpolicy", reason: "unknown key (did you mean `dmPolicy`?)" },
      { field: "rooms.general.requireMentoin", reason: "unknown key (did you mean `requireMention`?)" },
      { field: "stateFile", reason: "is held by another bridge" },
    ],
  });
  assert.deepEqual(lines, [
    "config channels.rocketchat.dmpolicy: unknown key (did you mean `dmPolicy`?)",
    "config channels.rocketchat.accounts.ops.rooms.general.requireMentoin: unknown key (did you mean `requireMention`?)",
    "config stateFile: is held by another bridge",
  ]);
  assert.deepEqual(configErrorLines(c, "ops", { field: "serverUrl", reason: "is required" }), ["config serverUrl: is required"], "an older bridge without `errors`");
});

test("a channel-level stateFile / mediaDir becomes one per account when there is more than one account", () => {
  const two = { channels: { rocketchat: {
    serverUrl: "https://c", stateFile: "/var/lib/rc/resume.json", mediaDir: "/var/cache/rc",
    accounts: { ops: { userId: "u1" }, dev: { userId: "u2", stateFile: "/srv/dev.json", mediaDir: "/srv/dev-media" } },
  } } };
  const ops = buildBridgeConfig(resolveAccount(two, "ops"), "t", [], { stateDir: "/state" });
  assert.equal(ops.stateFile, "/var/lib/rc/resume.ops.json");
  assert.equal(ops.mediaDir, "/var/cache/rc/ops");
  const dev = buildBridgeConfig(resolveAccount(two, "dev"), "t", [], { stateDir: "/state" });
  assert.equal(dev.stateFile, "/srv/dev.json", "an account's own value is used as given");
  assert.equal(dev.mediaDir, "/srv/dev-media");
  // The channel level as the default account next to a named one: both get their own.
  const mixed = { channels: { rocketchat: { userId: "u0", authToken: "t", stateFile: "rc.state", mediaDir: "m", accounts: { ops: { userId: "u1" } } } } };
  assert.equal(resolveAccount(mixed, "default").config.stateFile, "rc.default.state");
  assert.equal(resolveAccount(mixed, "ops").config.stateFile, "rc.ops.state");
  assert.equal(resolveAccount(mixed, "ops").config.mediaDir, "m/ops");
  // One account: as given.
  const one = { channels: { rocketchat: { stateFile: "/var/lib/rc/resume.json", mediaDir: "/m", accounts: { ops: { userId: "u1" } } } } };
  assert.equal(resolveAccount(one, "ops").config.stateFile, "/var/lib/rc/resume.json");
  assert.equal(resolveAccount(one, "ops").config.mediaDir, "/m");
  assert.equal(perAccountFile("/a/.resume", "x"), "/a/.resume.x");
  assert.equal(perAccountFile("state", "x"), "state.x");
});

test("the state file defaults to one per account under OpenClaw's state dir; an explicit one wins", () => {
  const line = buildBridgeConfig(resolveAccount(cfg, "ops"), "t", [], { stateDir: "/state" });
  assert.equal(line.stateFile, "/state/rocketchat/ops.resume.json");
  const own = { ...resolveAccount(cfg, "ops") };
  own.config = { ...own.config, stateFile: "/elsewhere.json", resumeMaxAgeSeconds: 0 };
  const explicit = buildBridgeConfig(own, "t", [], { stateDir: "/state" });
  assert.equal(explicit.stateFile, "/elsewhere.json");
  assert.equal(explicit.resumeMaxAgeSeconds, 0);
  assert.ok(!("stateFile" in buildBridgeConfig(resolveAccount(cfg, "ops"), "t", [])), "no state dir, no default");
});

test("env secret references resolve without the host resolver", async () => {
  process.env.RC_DEV_TEST_TOKEN = "from-env";
  assert.equal(await resolveAuthToken(cfg, resolveAccount(cfg, "dev"), undefined), "from-env");
  assert.equal(await resolveAuthToken(cfg, resolveAccount(cfg, "ops"), undefined), "t-ops");
});

test("conversation ids keep native case and their thread", () => {
  assert.deepEqual(parseConversationId("rocketchat:ops:channel:GENERAL:thread:AbC123"), { accountId: "ops", kind: "channel", roomId: "GENERAL", threadId: "AbC123" });
  assert.deepEqual(parseConversationId("rocketchat:default:direct:uAuB"), { accountId: "default", kind: "direct", roomId: "uAuB", threadId: undefined });
  assert.equal(parseConversationId("slack:x:channel:C1"), null);
  assert.equal(parseConversationId("rocketchat:x:bogus:C1"), null);
});

test("resolveSessionConversation splits the thread off the room", () => {
  assert.deepEqual(resolveSessionConversation({ kind: "channel", rawId: "general:thread:abc" }), {
    id: "general", threadId: "abc", baseConversationId: "general", parentConversationCandidates: ["general"],
  });
  assert.deepEqual(resolveSessionConversation({ kind: "group", rawId: "room1" }), {
    id: "room1", threadId: null, baseConversationId: "room1", parentConversationCandidates: [],
  });
  assert.equal(resolveSessionConversation({ kind: "channel", rawId: "rocketchat:ops:channel:GENERAL:thread:T1" }).threadId, "T1");
});

test("room kinds; targets are not parsed in JS (the bridge owns the target grammar)", () => {
  assert.ok(!("roomIdOfTarget" in ids));
  assert.equal(chatKindOf("direct"), "direct");
  assert.equal(chatKindOf("private"), "channel");
  assert.equal(chatKindOf("groupDirect"), "group");
  assert.equal(chatKindOf("public"), "channel");
});
