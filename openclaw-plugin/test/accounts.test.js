// Accounts and live config: defaultAccount, the environment for the default account,
// which config changes the running bridge takes (reconfigure) and which restart it, and
// the account's current bridge at send time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { POLICY_KEYS, buildBridgeConfig, defaultAccountId, diffBridgeConfig, noopReloadPrefixes, resolveAccount } from "../src/config.js";
import { currentBridge, registry } from "../src/registry.js";

const cfg = (extra = {}) => ({ channels: { rocketchat: { serverUrl: "https://c", accounts: { ops: { userId: "u1" }, dev: { userId: "u2" } }, ...extra } } });

test("defaultAccount is honoured; without it (or naming an unknown account) the first account is the default", () => {
  assert.equal(defaultAccountId(cfg({ defaultAccount: "dev" })), "dev");
  assert.equal(defaultAccountId(cfg()), "ops");
  assert.equal(defaultAccountId(cfg({ defaultAccount: "nope" })), "ops");
  assert.equal(resolveAccount(cfg({ defaultAccount: "dev" }), undefined).accountId, "dev", "an unnamed account resolves to defaultAccount");
});

test("the default account can come from the environment (channels add --use-env)", () => {
  const env = { ROCKETCHAT_URL: "https://env.example", ROCKETCHAT_USER_ID: "uE", ROCKETCHAT_USERNAME: "envbot", ROCKETCHAT_AUTH_TOKEN: "t" };
  const a = resolveAccount({ channels: { rocketchat: { enabled: true } } }, "default", env);
  assert.equal(a.configured, true);
  assert.equal(a.config.serverUrl, "https://env.example");
  assert.deepEqual(a.config.authToken, { source: "env", provider: "default", id: "ROCKETCHAT_AUTH_TOKEN" }, "the token stays a reference");
  assert.equal(resolveAccount({ channels: { rocketchat: { serverUrl: "https://cfg" } } }, "default", env).config.serverUrl, "https://cfg", "the config wins");
  assert.equal(resolveAccount(cfg(), "ops", env).config.userId, "u1", "named accounts ignore the environment");
});

test("policy changes go to the running bridge; connection changes need a restart", () => {
  const a = resolveAccount(cfg(), "ops");
  const before = buildBridgeConfig(a, "tok", ["x"]);
  const policy = buildBridgeConfig({ ...a, config: { ...a.config, dmPolicy: "allowlist", allowFrom: ["u9"] } }, "tok", ["y"]);
  assert.deepEqual(diffBridgeConfig(before, policy), { policy: ["allowFrom", "dmPolicy"], connection: [] }, "approvedSenders is neither");
  const conn = buildBridgeConfig({ ...a, config: { ...a.config, serverUrl: "https://other" } }, "tok2", ["x"]);
  assert.deepEqual(diffBridgeConfig(before, conn), { policy: [], connection: ["authToken", "serverUrl"] });
});

test("reload.noopPrefixes: policy keys (top level and per account) never restart the channel; credentials are not among them", () => {
  const prefixes = noopReloadPrefixes();
  for (const key of ["dmPolicy", "allowFrom", "groupAllowFrom", "rooms", "requireMention", "streaming", "ackReaction"]) {
    assert.ok(prefixes.includes(`channels.rocketchat.${key}`), key);
    assert.ok(prefixes.includes(`channels.rocketchat.accounts.*.${key}`), `accounts.*.${key}`);
  }
  for (const key of ["serverUrl", "userId", "username", "authToken", "caFile", "dangerouslyAllowInsecure", "stateFile", "mediaDir", "bridgePath"]) {
    assert.ok(!prefixes.some((p) => p.endsWith(`.${key}`)), `${key} restarts its account`);
    assert.ok(!POLICY_KEYS.includes(key), key);
  }
});

test("currentBridge: the bridge of NOW; while the account restarts, a send waits (bounded) for the new one", async () => {
  const reg = registry();
  const oldBridge = { exited: false, name: "old" };
  reg.set("acc1", { state: "active", bridge: oldBridge });
  assert.equal(await currentBridge("acc1"), oldBridge);
  oldBridge.exited = true; // the bridge is being replaced
  const waiting = currentBridge("acc1", { waitMs: 5000 });
  const newBridge = { exited: false, name: "new" };
  setTimeout(() => reg.set("acc1", { state: "active", bridge: newBridge }), 50);
  assert.equal(await waiting, newBridge, "the send goes to the new bridge");
  await assert.rejects(currentBridge("nobody", { waitMs: 50 }), /account nobody is not running/);
  reg.set("acc2", { state: "fatal", reason: "unauthorized", bridge: { exited: false } });
  await assert.rejects(currentBridge("acc2"), /stopped: unauthorized/, "a fatal account fails at once");
  reg.set("acc3", { unavailable: "rocketchat: /usr/sbin/bridge is not the OpenClaw Rocket.Chat bridge" });
  await assert.rejects(currentBridge("acc3"), /is not the OpenClaw Rocket\.Chat bridge/, "the reason the account cannot run");
  reg.delete("acc1"); reg.delete("acc2"); reg.delete("acc3");
});
