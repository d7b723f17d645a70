// The agent's per-room policy (src/rooms.js): the plugin's keys of a `rooms` entry (tools,
// toolsBySender, skills, systemPrompt): the lookup (id, name, "*"), the tool policy for
// the sender (OpenClaw's own resolveScopeToolsPolicy, from the pinned openclaw that
// e2e/run.sh installs, as Slack's channel uses it), the turn's skills and system prompt,
// and the bridge's configuration line without them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { PLUGIN_KEYS, ROOM_KEYS, buildBridgeConfig, resolveAccount } from "../src/config.js";
import { findRoomEntry, resolveRoomToolPolicy, roomToolScope, roomTurnSettings } from "../src/rooms.js";

const pluginKeys = JSON.parse(readFileSync(new URL("../schema/plugin-keys.json", import.meta.url), "utf8"));

test("the plugin's keys are schema/plugin-keys.json's (one list)", () => {
  assert.deepEqual([...ROOM_KEYS].sort(), ["skills", "systemPrompt", "tools", "toolsBySender"]);
  assert.deepEqual([...ROOM_KEYS], Object.keys(pluginKeys.roomProperties));
  assert.deepEqual([...PLUGIN_KEYS].sort(), ["accounts", ...Object.keys(pluginKeys.accountProperties), ...Object.keys(pluginKeys.channelProperties)].sort());
});

test("the config line carries no room key of the plugin's; emptied entries stay, a plugin-only \"*\" goes", () => {
  const cfg = {
    channels: {
      rocketchat: {
        serverUrl: "https://chat.example",
        groupPolicy: "allowlist",
        rooms: {
          "*": { tools: { deny: ["exec"] }, systemPrompt: "Be brief." },
          GENERAL: { requireMention: false, tools: { deny: ["exec", "write"] }, toolsBySender: { "id:uAdmin": { alsoAllow: ["exec"] } } },
          "#ops": { skills: ["deploy"], systemPrompt: "Ops room." },
          lobby: { users: ["uAlice"] },
        },
        accounts: { ops: { userId: "uOps", username: "opsbot", authToken: "t" } },
      },
    },
  };
  const line = buildBridgeConfig(resolveAccount(cfg, "ops"), "t", []);
  assert.deepEqual(line.rooms, { GENERAL: { requireMention: false }, "#ops": {}, lobby: { users: ["uAlice"] } });
  for (const entry of Object.values(line.rooms)) for (const key of ROOM_KEYS) assert.ok(!(key in entry), key);
  // The operator's config is untouched (the plugin reads it for the agent's turns).
  assert.deepEqual(cfg.channels.rocketchat.rooms.GENERAL.tools, { deny: ["exec", "write"] });
});

test("a \"*\" entry with bridge keys is passed on (the bridge judges it); no rooms, no rooms key", () => {
  const account = { accountId: "a", config: { rooms: { "*": { requireMention: false, skills: [] } } } };
  assert.deepEqual(buildBridgeConfig(account, "t", []).rooms, { "*": { requireMention: false } });
  assert.ok(!("rooms" in buildBridgeConfig({ accountId: "a", config: { serverUrl: "https://x" } }, "t", [])));
});

test("account rooms replace channel rooms, plugin keys included (the merged account)", () => {
  const cfg = {
    channels: {
      rocketchat: {
        rooms: { GENERAL: { tools: { deny: ["exec"] } } },
        accounts: { ops: { userId: "u", rooms: { RANDOM: { systemPrompt: "x" } } }, dev: { userId: "d" } },
      },
    },
  };
  assert.deepEqual(buildBridgeConfig(resolveAccount(cfg, "ops"), "t", []).rooms, { RANDOM: {} });
  assert.deepEqual(buildBridgeConfig(resolveAccount(cfg, "dev"), "t", []).rooms, { GENERAL: {} });
});

// ---- the lookup --------------------------------------------------------------------

const rooms = {
  "*": { tools: { deny: ["exec", "process"] }, skills: ["weather"], systemPrompt: "Public room: be careful." },
  GENERAL: {
    tools: { deny: ["exec"] },
    toolsBySender: { "id:uAdmin": { alsoAllow: ["exec"] }, "username:bob": { allow: ["read"] }, "*": { deny: ["write"] } },
    systemPrompt: "  General room.  ",
  },
  ops: { tools: { allow: ["exec", "read"] }, skills: [] },
  "#support": { systemPrompt: "Support room." },
  Xk3j9AbCdEf: { requireMention: false },
};

test("lookup: the room's id, then its name (bare, then #name), else \"*\"", () => {
  assert.equal(findRoomEntry(rooms, { id: "GENERAL", name: "ops" }).key, "GENERAL", "id before name");
  assert.equal(findRoomEntry(rooms, { id: "Rz81", name: "ops" }).key, "ops");
  assert.equal(findRoomEntry(rooms, { id: "Rz81", name: "#ops" }).key, "ops", "OpenClaw's #name (GroupSubject)");
  assert.equal(findRoomEntry(rooms, { id: "Rz82", name: "support" }).key, "#support");
  assert.equal(findRoomEntry(rooms, { id: "Rz83", name: "random" }).key, "*");
  assert.equal(findRoomEntry(rooms, { id: "Rz83", name: null }).key, "*");
  // OpenClaw's session keys are lowercased: the adapter gets `xk3j9abcdef`.
  assert.equal(findRoomEntry(rooms, { id: "xk3j9abcdef" }).key, "Xk3j9AbCdEf");
  assert.equal(findRoomEntry({ GENERAL: {} }, { id: "Rz83" }).key, undefined, "no entry, no \"*\"");
  assert.equal(findRoomEntry(undefined, { id: "GENERAL" }).key, undefined);
  assert.deepEqual(roomToolScope(rooms, { id: "Rz83" }), { tree: { scopes: rooms }, path: ["*"] });
});

// ---- the tool policy (groups.resolveToolPolicy) -------------------------------------

const SDK = new URL("../../e2e/.tools/oc/node_modules/openclaw/dist/plugin-sdk/channel-policy.js", import.meta.url);
const sdk = existsSync(SDK) ? await import(SDK.href) : null;
const cfgWith = (channel) => ({ channels: { rocketchat: channel } });

test("tools: toolsBySender for the sender first, then the entry's tools; \"*\" only without an entry (as Slack)", { skip: !sdk && "openclaw not installed (bash e2e/run.sh installs it)" }, () => {
  const cfg = cfgWith({ rooms });
  const policy = (p) => resolveRoomToolPolicy({ cfg, accountId: "default", ...p }, sdk.resolveScopeToolsPolicy);
  // The session key's lowercased room id; sender id keys compare case-insensitively.
  assert.deepEqual(policy({ groupId: "general", senderId: "uAdmin" }), { alsoAllow: ["exec"] }, "id: key");
  assert.deepEqual(policy({ groupId: "general", senderId: "uBob", senderUsername: "Bob" }), { allow: ["read"] }, "username: key");
  assert.deepEqual(policy({ groupId: "general", senderId: "uCarol", senderUsername: "carol" }), { deny: ["write"] }, "the sender wildcard before tools");
  assert.deepEqual(policy({ groupId: "general", senderId: "uAdmin", senderPolicyMode: "never" }), { deny: ["exec"] }, "senderPolicyMode never: tools only");
  assert.deepEqual(policy({ groupId: "rz81", groupChannel: "#ops", senderId: "uAlice" }), { allow: ["exec", "read"] }, "by name");
  assert.deepEqual(policy({ groupId: "rz83", groupChannel: "#random", senderId: "uAlice" }), { deny: ["exec", "process"] }, "the \"*\" default");
  // Slack's scope: the matched entry alone; an entry without tools does not take "*"'s.
  assert.equal(policy({ groupId: "xk3j9abcdef", senderId: "uAlice" }), undefined);
  assert.equal(resolveRoomToolPolicy({ cfg: cfgWith({}), groupId: "general", senderId: "uAlice" }, sdk.resolveScopeToolsPolicy), undefined, "no rooms");
});

test("tools: channel:rocketchat:<id> sender keys; account rooms replace channel rooms", { skip: !sdk && "openclaw not installed" }, () => {
  const cfg = cfgWith({
    rooms: { "*": { tools: { deny: ["exec"] } } },
    accounts: {
      ops: { userId: "u", rooms: { GENERAL: { tools: { deny: ["browser"] }, toolsBySender: { "channel:rocketchat:uAdmin": { deny: [] } } } } },
      dev: { userId: "d" },
    },
  });
  const policy = (p) => resolveRoomToolPolicy({ cfg, ...p }, sdk.resolveScopeToolsPolicy);
  assert.deepEqual(policy({ accountId: "ops", groupId: "general", senderId: "uAdmin" }), { deny: [] });
  assert.deepEqual(policy({ accountId: "ops", groupId: "general", senderId: "uAlice" }), { deny: ["browser"] });
  assert.equal(policy({ accountId: "ops", groupId: "random", senderId: "uAlice" }), undefined, "ops has its own rooms, without \"*\"");
  assert.deepEqual(policy({ accountId: "dev", groupId: "random", senderId: "uAlice" }), { deny: ["exec"] }, "dev inherits the channel's");
});

// ---- the turn: skills and system prompt ---------------------------------------------

test("turn: the room's skills and systemPrompt, each else \"*\"'s; DMs and group DMs get none", () => {
  assert.deepEqual(roomTurnSettings(rooms, { id: "GENERAL", name: "general", kind: "public" }), { skillFilter: ["weather"], groupSystemPrompt: "General room." });
  assert.deepEqual(roomTurnSettings(rooms, { id: "Rz81", name: "ops", kind: "private" }), { skillFilter: [], groupSystemPrompt: "Public room: be careful." });
  assert.deepEqual(roomTurnSettings(rooms, { id: "Rz83", name: "random", kind: "public" }), { skillFilter: ["weather"], groupSystemPrompt: "Public room: be careful." });
  assert.deepEqual(roomTurnSettings(rooms, { id: "uAlicebotOps", name: null, kind: "direct" }), {});
  assert.deepEqual(roomTurnSettings(rooms, { id: "GENERAL", name: "general", kind: "groupDirect" }), {}, "group DMs: no rooms entry applies (the bridge's rule too)");
  assert.deepEqual(roomTurnSettings({ GENERAL: { requireMention: false } }, { id: "GENERAL", kind: "public" }), {});
  assert.deepEqual(roomTurnSettings(undefined, { id: "GENERAL", kind: "public" }), {});
});
