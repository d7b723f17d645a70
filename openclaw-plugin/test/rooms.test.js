// The agent's per-room policy (src/rooms.js): the plugin's keys of a `rooms` entry (tools,
// toolsBySender, skills, systemPrompt), kept out of the bridge's configuration line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { PLUGIN_KEYS, ROOM_KEYS, buildBridgeConfig, resolveAccount } from "../src/config.js";

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
