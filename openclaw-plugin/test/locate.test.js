// Which bridge is run, and that nothing unverified is: the platform package resolved from
// the installed plugin, `bridgePath` as the override, `--version` checked for the product
// and the protocol, and one clear sentence when it is not ours.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  BridgeUnavailableError, PROTOCOL, locateBridge, parseVersionLine, platformKey, platformPackageName, verifyBridge,
} from "../src/locate.js";

function script(dir, name, body) {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

test("the platform key and package name follow npm/ (linux gnu/musl, darwin, win32)", () => {
  assert.equal(platformKey({ platform: "linux", arch: "x64", glibc: "2.36" }), "linux-x64-gnu");
  assert.equal(platformKey({ platform: "linux", arch: "arm64", glibc: null }), "linux-arm64-musl");
  assert.equal(platformKey({ platform: "darwin", arch: "arm64" }), "darwin-arm64");
  assert.equal(platformKey({ platform: "win32", arch: "x64" }), "win32-x64-msvc");
  assert.equal(platformPackageName("linux-x64-gnu"), "@openclaw-community/rocketchat-linux-x64-gnu");
});

test("the binary comes from the platform package installed next to the plugin, not from PATH or a checkout", () => {
  const root = mkdtempSync(join(tmpdir(), "rc-locate-"));
  const pkg = join(root, "node_modules", "@openclaw-community", "rocketchat-test-plat");
  mkdirSync(join(pkg, "bin"), { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "@openclaw-community/rocketchat-test-plat", version: "0.1.0" }));
  const pluginFile = join(root, "node_modules", "@openclaw-community", "rocketchat", "src", "locate.js");
  mkdirSync(join(pluginFile, ".."), { recursive: true });
  const found = locateBridge({ resolveFrom: pathToFileURL(pluginFile).href, packageName: "@openclaw-community/rocketchat-test-plat" });
  assert.equal(found.path, join(pkg, "bin", "bridge"));
  assert.equal(found.source, "@openclaw-community/rocketchat-test-plat");
  // Nothing installed: a sentence naming the package and what to do; no fallback to PATH.
  assert.throws(
    () => locateBridge({ resolveFrom: pathToFileURL(join(root, "elsewhere.js")).href, packageName: "@openclaw-community/rocketchat-missing" }),
    (err) => err instanceof BridgeUnavailableError && /@openclaw-community\/rocketchat-missing is not installed/.test(err.message) && /bridgePath/.test(err.message),
  );
  assert.deepEqual(locateBridge({ bridgePath: " /opt/bridge " }), { path: "/opt/bridge", source: "channels.rocketchat.bridgePath" });
});

test("--version: ours at our protocol is accepted", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rc-verify-"));
  const ok = script(dir, "bridge", `echo "openclaw-rocketchat-bridge 1.2.3 protocol ${PROTOCOL}"`);
  const v = await verifyBridge({ path: ok, source: "test" });
  assert.deepEqual(v, { path: ok, source: "test", version: "1.2.3", protocol: PROTOCOL });
  assert.deepEqual(parseVersionLine("openclaw-rocketchat-bridge 0.1.0 protocol 2\n"), { version: "0.1.0", protocol: 2 });
  assert.equal(parseVersionLine("bridge 0.1.0"), null);
});

test("a decoy `bridge` (iproute2's) is refused with one sentence: what was found, where, what to do", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rc-decoy-"));
  const decoy = script(dir, "bridge", 'echo "bridge utility, iproute2-6.1.0"');
  await assert.rejects(verifyBridge({ path: decoy, source: "channels.rocketchat.bridgePath" }), (err) => {
    assert.ok(err instanceof BridgeUnavailableError);
    assert.match(err.message, /is not the OpenClaw Rocket\.Chat bridge/);
    assert.ok(err.message.includes(decoy), "names where");
    assert.match(err.message, /bridge utility, iproute2-6\.1\.0/, "names what was found");
    assert.match(err.message, /bridgePath/, "says what to do");
    assert.equal(err.message.split(/(?<=\.)\s+(?=[A-Z])/).length, 1, `one sentence: ${err.message}`);
    return true;
  });
});

test("a protocol mismatch is refused the same way", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rc-proto-"));
  const old = script(dir, "bridge", 'echo "openclaw-rocketchat-bridge 0.0.9 protocol 1"');
  await assert.rejects(verifyBridge({ path: old, source: "@openclaw-community/rocketchat-linux-x64-gnu" }), (err) =>
    err instanceof BridgeUnavailableError && /speaks protocol 1, but this plugin speaks protocol 2/.test(err.message) && err.message.includes(old));
});

test("a missing or non-executable binary is a sentence too, not a crash", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rc-missing-"));
  await assert.rejects(verifyBridge({ path: join(dir, "nope"), source: "x" }), (err) => err instanceof BridgeUnavailableError && /does not exist/.test(err.message));
  const plain = join(dir, "plain");
  writeFileSync(plain, "not a program");
  await assert.rejects(verifyBridge({ path: plain, source: "x" }), (err) => err instanceof BridgeUnavailableError && /could not be run|is not executable/.test(err.message));
});
