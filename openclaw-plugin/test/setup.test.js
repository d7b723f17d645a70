// `openclaw channels add --channel rocketchat`: flags -> config, secret references, the
// package.json copy of the setup fields, and what is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { applySetupConfig, setupFieldsManifest, validateSetupInput } from "../src/setup.js";
import { resolveAccount } from "../src/config.js";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

test("package.json carries the same setup fields as the runtime contract (channels add --help reads it)", () => {
  assert.deepEqual(pkg.openclaw.channel.setup.fields, setupFieldsManifest());
  for (const f of setupFieldsManifest()) {
    const long = f.cli.flags.split(" ")[0].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    assert.equal(f.key, long, `key ${f.key} is the camelCased flag ${f.cli.flags}`);
  }
  assert.deepEqual(pkg.openclaw.channel.configuredState.env.allOf, ["ROCKETCHAT_URL", "ROCKETCHAT_USER_ID", "ROCKETCHAT_USERNAME", "ROCKETCHAT_AUTH_TOKEN"]);
});

test("flags write a configured account; --token-env writes a secret reference, not the token", () => {
  const input = { serverUrl: "https://chat.example.com/", userId: "uBot", username: "@opsbot", tokenEnv: "RC_TOKEN" };
  assert.equal(validateSetupInput(input), null);
  const cfg = applySetupConfig({ cfg: {}, accountId: "default", input });
  assert.deepEqual(cfg.channels.rocketchat, {
    enabled: true, serverUrl: "https://chat.example.com", userId: "uBot", username: "opsbot",
    authToken: { source: "env", provider: "default", id: "RC_TOKEN" },
  });
  const named = applySetupConfig({ cfg, accountId: "dev", input: { ...input, userId: "uDev", username: "devbot", tokenEnv: undefined, token: "plain" } });
  assert.equal(named.channels.rocketchat.accounts.dev.authToken, "plain");
  assert.equal(resolveAccount(named, "dev").config.serverUrl, "https://chat.example.com");
  assert.equal(resolveAccount(named, "dev").configured, true);
});

test("incomplete or unsafe input is refused with what is missing", () => {
  assert.match(validateSetupInput({ serverUrl: "https://x" }), /--user-id, --username, --token, --token-env or --token-file/);
  assert.match(validateSetupInput({ serverUrl: "http://127.0.0.1:3210", userId: "u", username: "b", token: "t" }), /--dangerously-allow-insecure/);
  assert.equal(validateSetupInput({ serverUrl: "http://127.0.0.1:3210", userId: "u", username: "b", token: "t", dangerouslyAllowInsecure: true }), null);
  assert.match(validateSetupInput({ serverUrl: "chat", userId: "u", username: "b", token: "t" }), /must be an https:\/\/ URL/);
  assert.equal(validateSetupInput({ useEnv: true }), null);
});
