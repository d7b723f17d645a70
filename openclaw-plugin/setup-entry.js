// The light entry OpenClaw loads for setup (`openclaw channels add`), status, secret and
// doctor scans when the channel runtime is not needed: no gateway, no bridge process.
import { defineSetupPluginEntry } from "openclaw/plugin-sdk/channel-core";
import { rocketchatSetupPlugin } from "./src/plugin-setup.js";

export default defineSetupPluginEntry(rocketchatSetupPlugin);
