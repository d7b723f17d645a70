// Delivery niceties (issue 15 item 6): responsePrefix, replyBroadcast, the agent's identity
// on sent messages, the ack reaction's identity fallback.
// Run: node --test openclaw-plugin/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { buildBridgeConfig, resolveAccount } from "../src/config.js";

const manifest = JSON.parse(readFileSync(new URL("../openclaw.plugin.json", import.meta.url), "utf8"));
const channelSchema = manifest.channelConfigs.rocketchat.schema;
const accountSchema = channelSchema.properties.accounts.additionalProperties;
const OC_SDK = new URL("../../e2e/.tools/oc/node_modules/openclaw/dist/plugin-sdk/", import.meta.url);

test("responsePrefix is a key of the channel and of each account, and stays out of the bridge's line", () => {
  assert.equal(channelSchema.properties.responsePrefix?.type, "string");
  assert.equal(accountSchema.properties.responsePrefix?.type, "string");
  assert.ok(manifest.channelConfigs.rocketchat.uiHints.responsePrefix, "a ui hint");
  const cfg = { channels: { rocketchat: { serverUrl: "https://c", responsePrefix: "[bot]", accounts: { ops: { userId: "u", responsePrefix: "" } } } } };
  const line = buildBridgeConfig(resolveAccount(cfg, "ops"), "t", []);
  assert.ok(!("responsePrefix" in line), "OpenClaw's reply pipeline applies it, not the bridge");
});

test("OpenClaw's reply pipeline resolves the prefix from channels.rocketchat (account over channel)", { skip: !existsSync(OC_SDK) && "openclaw not installed (bash e2e/run.sh installs it)" }, async () => {
  const { createReplyPrefixOptions } = await import(new URL("channel-reply-pipeline.js", OC_SDK).href);
  const cfg = { channels: { rocketchat: { responsePrefix: "[chan]", accounts: { ops: { responsePrefix: "[ops]" }, dev: {} } } } };
  const at = (accountId) => createReplyPrefixOptions({ cfg, agentId: "main", channel: "rocketchat", accountId }).responsePrefix;
  assert.equal(at("ops"), "[ops]");
  assert.equal(at("dev"), "[chan]");
});

import { createReplyDelivery, identityParam } from "../src/reply.js";
import { ackReactionFor, emojiName } from "../src/emoji.js";

test("replies carry the agent's identity (name, avatar URL, emoji by name) to the bridge's send", async () => {
  const calls = [];
  const request = async (method, params) => { calls.push({ method, params }); return { messageIds: ["m1"] }; };
  const msg = { messageId: "In1", conversationId: "rocketchat:ops:channel:G:thread:T", room: { id: "G" }, replyThread: { id: "T", scope: "all" } };
  const identity = { name: "Molty", avatarUrl: "https://example.com/m.png", emoji: "🦞" };
  const r = createReplyDelivery({ request, accountId: "ops", msg, account: { config: {} }, identity });
  await r.deliver({ text: "hi" }, { kind: "final" });
  assert.deepEqual(calls[0].params.identity, { name: "Molty", avatarUrl: "https://example.com/m.png", emoji: "lobster" });
  const plain = createReplyDelivery({ request, accountId: "ops", msg, account: { config: {} } });
  await plain.deliver({ text: "hi" }, { kind: "final" });
  assert.ok(!("identity" in calls[1].params), "no identity, none sent");
  assert.deepEqual(identityParam({ avatarUrl: "javascript:alert(1)", emoji: "🫠" }), {}, "a bad URL and an unnamed emoji are left out");
});

test("the ack reaction falls back to the agent's identity emoji when ackReaction is unset", () => {
  const id = { emoji: "🦞" };
  assert.equal(ackReactionFor({}, { config: {} }, id), "lobster");
  assert.equal(ackReactionFor({}, { config: {} }, { emoji: "robot" }), "robot");
  assert.equal(ackReactionFor({}, { config: {} }, undefined), "eyes");
  assert.equal(ackReactionFor({}, { config: {} }, { emoji: "🫠" }), "eyes", "no known name: eyes");
  assert.equal(ackReactionFor({}, { config: { ackReaction: "white_check_mark" } }, id), "white_check_mark", "the account's wins");
  assert.equal(ackReactionFor({ messages: { ackReaction: "👀" } }, { config: {} }, id), "eyes", "then messages.ackReaction");
  assert.equal(ackReactionFor({}, { config: { ackReaction: "" } }, id), "", "empty turns it off");
  assert.equal(emojiName(":tada:"), "tada");
});
