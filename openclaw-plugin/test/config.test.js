// Unit tests for the pure parts: account merging, the bridge config line, the id grammar.
// Run: node --test openclaw-plugin/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildBridgeConfig, listAccountIds, resolveAccount, resolveAuthToken } from "../src/config.js";
import { chatKindOf, parseConversationId, resolveSessionConversation, roomIdOfTarget } from "../src/ids.js";

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

test("the bridge config line carries bridge keys only, with the resolved secret", () => {
  const line = buildBridgeConfig(resolveAccount(cfg, "ops"), "resolved", ["uA"]);
  assert.equal(line.accountId, "ops");
  assert.equal(line.authToken, "resolved");
  assert.deepEqual(line.approvedSenders, ["uA"]);
  assert.equal(line.requireMention, false);
  for (const key of ["bridgePath", "ackReaction", "accounts", "enabled", "name"]) assert.ok(!(key in line), key);
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

test("targets and room kinds", () => {
  assert.equal(roomIdOfTarget("rocketchat:ops:group:PrivRoom"), "PrivRoom");
  assert.equal(roomIdOfTarget("rocketchat:GENERAL"), "GENERAL");
  assert.equal(roomIdOfTarget("#dev"), "#dev");
  assert.equal(chatKindOf("direct"), "direct");
  assert.equal(chatKindOf("private"), "channel");
  assert.equal(chatKindOf("groupDirect"), "group");
  assert.equal(chatKindOf("public"), "channel");
});
