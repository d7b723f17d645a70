#!/usr/bin/env node
// `openclaw-rocketchat-bridge <args>`: runs this platform's bridge binary (the plugin's
// platform package), e.g. `openclaw-rocketchat-bridge sim` or `... doctor --openclaw-config`.
// The binary is verified first, as the plugin does before it starts one.
import { spawn } from "node:child_process";
import { findVerifiedBridge } from "../src/locate.js";

try {
  const { path } = await findVerifiedBridge({ bridgePath: process.env.OPENCLAW_ROCKETCHAT_BRIDGE });
  const child = spawn(path, process.argv.slice(2), { stdio: "inherit" });
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} catch (err) {
  console.error(err?.message ?? String(err));
  process.exit(1);
}
