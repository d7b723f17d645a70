// Every config key has a label and a help text in the manifest (OpenClaw's config UI and
// `openclaw config` show them), and the manifest is in step with ui-hints.json.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { hintFor, schemaPaths } from "../scripts/schema-paths.mjs";

const manifest = JSON.parse(readFileSync(new URL("../openclaw.plugin.json", import.meta.url), "utf8"));
const source = JSON.parse(readFileSync(new URL("../ui-hints.json", import.meta.url), "utf8"));
const channel = manifest.channelConfigs.rocketchat;

test("every schema path has a label and help, in the manifest", () => {
  const paths = schemaPaths(channel.schema);
  assert.ok(paths.includes("accounts.*.authToken") && paths.includes("rooms.*.requireMention"), "nested and account paths are walked");
  const without = paths.filter((p) => !(channel.uiHints[p]?.label && channel.uiHints[p]?.help));
  assert.deepEqual(without, [], "paths without label + help");
  assert.equal(channel.uiHints.authToken.sensitive, true);
  assert.equal(channel.uiHints["accounts.*.authToken"].sensitive, true);
});

test("the manifest's uiHints are exactly ui-hints.json merged (node scripts/merge-ui-hints.mjs)", () => {
  const expected = Object.fromEntries(schemaPaths(channel.schema).map((p) => [p, hintFor(source, p)]));
  assert.deepEqual(channel.uiHints, expected);
});
