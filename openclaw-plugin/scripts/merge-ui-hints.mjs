// Writes ui-hints.json (label + help per dotted config path) into openclaw.plugin.json
// `channelConfigs.rocketchat.uiHints`, with `accounts.*.<key>` entries for the account
// keys. The schema itself is generated from the Rust config types; run this after it is
// regenerated (`node scripts/merge-ui-hints.mjs`). `--check` only reports differences.
import { readFileSync, writeFileSync } from "node:fs";
import { hintFor, schemaPaths } from "./schema-paths.mjs";

const manifestPath = new URL("../openclaw.plugin.json", import.meta.url);
const hints = JSON.parse(readFileSync(new URL("../ui-hints.json", import.meta.url), "utf8"));
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const channel = manifest.channelConfigs.rocketchat;
const merged = {};
const missing = [];
for (const path of schemaPaths(channel.schema)) {
  const hint = hintFor(hints, path);
  if (hint) merged[path] = hint;
  else missing.push(path);
}
if (missing.length) {
  console.error(`ui-hints.json has no hint for: ${missing.join(", ")}`);
  process.exit(1);
}
if (process.argv.includes("--check")) {
  const same = JSON.stringify(channel.uiHints) === JSON.stringify(merged);
  console.log(same ? "uiHints up to date" : "uiHints differ from ui-hints.json: run node scripts/merge-ui-hints.mjs");
  process.exit(same ? 0 : 1);
}
channel.uiHints = merged;
writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`uiHints: ${Object.keys(merged).length} paths`);
