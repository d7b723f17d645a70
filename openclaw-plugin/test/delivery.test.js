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
