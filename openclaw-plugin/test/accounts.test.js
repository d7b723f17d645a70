// Accounts and live config: defaultAccount, the environment for the default account,
// which config changes the running bridge takes (reconfigure) and which restart it, and
// the account's current bridge at send time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PLUGIN_KEYS, buildBridgeConfig, changedBridgeKeys, defaultAccountId, reloadRules, resolveAccount } from "../src/config.js";
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

test("every change of the config line is offered to the running bridge; approvedSenders is not part of it", () => {
  const a = resolveAccount(cfg(), "ops");
  const before = buildBridgeConfig(a, "tok", ["x"]);
  const policy = buildBridgeConfig({ ...a, config: { ...a.config, dmPolicy: "allowlist", allowFrom: ["u9"] } }, "tok", ["y"]);
  assert.deepEqual(changedBridgeKeys(before, policy), ["allowFrom", "dmPolicy"]);
  const conn = buildBridgeConfig({ ...a, config: { ...a.config, serverUrl: "https://other", dm: { groupEnabled: true } } }, "tok2", ["x"]);
  assert.deepEqual(changedBridgeKeys(before, conn), ["authToken", "dm", "serverUrl"]);
  assert.deepEqual(changedBridgeKeys(before, buildBridgeConfig(a, "tok", ["z"])), []);
});

/** The rule OpenClaw applies to a changed path (config-reload-plan: most specific prefix first). */
function ruleFor(path) {
  const { configPrefixes, noopPrefixes } = reloadRules();
  const rules = [...configPrefixes.map((prefix) => ({ prefix, kind: "hot" })), ...noopPrefixes.map((prefix) => ({ prefix, kind: "none" }))];
  const segs = (p) => p.split(".");
  const stars = (p) => segs(p).filter((x) => x === "*").length;
  rules.sort((l, r) => segs(r.prefix).length - segs(l.prefix).length || stars(l.prefix) - stars(r.prefix));
  const matches = (p, prefix) => (prefix.includes("*")
    ? segs(prefix).every((seg, i) => (seg === "*" ? Boolean(segs(p)[i]) : seg === segs(p)[i]))
    : p === prefix || p.startsWith(`${prefix}.`));
  return rules.find((r) => matches(path, r.prefix))?.kind;
}

test("reload rules: the bridge's keys never make OpenClaw restart; accounts coming or going, enabled and bridgePath do", () => {
  for (const path of ["channels.rocketchat.dmPolicy", "channels.rocketchat.accounts.ops.allowFrom", "channels.rocketchat.accounts.ops.authToken",
    "channels.rocketchat.serverUrl", "channels.rocketchat.dm.groupEnabled", "channels.rocketchat.accounts.ops.rooms.general.users",
    "channels.rocketchat.accounts.ops.streaming", "channels.rocketchat.defaultAccount", "channels.rocketchat.stateFile"]) {
    assert.equal(ruleFor(path), "none", path);
  }
  for (const path of ["channels.rocketchat", "channels.rocketchat.enabled", "channels.rocketchat.bridgePath", "channels.rocketchat.accounts",
    "channels.rocketchat.accounts.decoy", "channels.rocketchat.accounts.ops.enabled", "channels.rocketchat.accounts.ops.bridgePath",
    "channels.rocketchat.userId", "channels.rocketchat.authToken"]) {
    assert.equal(ruleFor(path), "hot", path);
  }
  assert.equal(reloadRules().accountScopedRestart, true);
  for (const key of ["enabled", "bridgePath", "accounts", "defaultAccount"]) assert.ok(PLUGIN_KEYS.includes(key), key);
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
