#!/usr/bin/env node
// Makes the npm package that carries one platform's bridge binary:
//   node npm/build.mjs <platform> <path to the built bridge> [--out <dir>] [--version <v>]
// e.g. node npm/build.mjs linux-x64-gnu target/release/bridge
// Writes <out>/<platform>/ (default npm/dist/<platform>/): package.json (name
// @openclaw-community/rocketchat-<platform>, the plugin's version, os/cpu/libc so npm
// installs it only where it runs) and bin/<bridge>; then `npm pack` it. The plugin lists
// every platform package in optionalDependencies and resolves this one from its own
// installed location (openclaw-plugin/src/locate.js).
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const outRoot = resolve(opt("--out") ?? join(here, "dist"));
const plugin = JSON.parse(readFileSync(join(here, "..", "openclaw-plugin", "package.json"), "utf8"));
const version = opt("--version") ?? plugin.version;
const [platform, binary] = args;
const platforms = JSON.parse(readFileSync(join(here, "platforms.json"), "utf8"));
const p = platforms[platform];
if (!p || !binary) {
  console.error(`usage: node npm/build.mjs <${Object.keys(platforms).join("|")}> <bridge binary> [--out dir] [--version v]`);
  process.exit(2);
}
const name = `@openclaw-community/rocketchat-${platform}`;
if (plugin.optionalDependencies?.[name] !== version) {
  console.error(`openclaw-plugin/package.json must list ${name}@${version} in optionalDependencies (has ${plugin.optionalDependencies?.[name] ?? "nothing"})`);
  process.exit(1);
}
const dir = join(outRoot, platform);
rmSync(dir, { recursive: true, force: true });
mkdirSync(join(dir, "bin"), { recursive: true });
copyFileSync(resolve(binary), join(dir, "bin", p.bin));
chmodSync(join(dir, "bin", p.bin), 0o755);
const pkg = {
  name,
  version,
  description: `The Rocket.Chat bridge for OpenClaw's rocketchat channel, built for ${platform} (${p.target})`,
  license: plugin.license,
  os: [p.os],
  cpu: [p.cpu],
  ...(p.libc ? { libc: [p.libc] } : {}),
  files: ["bin/"],
  preferUnplugged: true,
};
writeFileSync(join(dir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
writeFileSync(join(dir, "README.md"), `# ${name}\n\nThe \`bridge\` binary of [@openclaw-community/rocketchat](https://www.npmjs.com/package/@openclaw-community/rocketchat) for ${platform}.\nInstalled by that package as an optional dependency; not meant to be installed by hand.\n`);
console.log(dir);
