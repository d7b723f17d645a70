// Where the channel's secret lives, for OpenClaw's secret tools (`openclaw secrets
// audit|configure|apply`) and the plugin's `secrets` adapter: `authToken` at the channel
// level and under every account, a secret reference or (flagged by the audit) plain text.
// Loaded on its own by ../secret-contract-api.js, so it imports nothing of the plugin.
import { createSimpleChannelSecretContract } from "openclaw/plugin-sdk/channel-secret-basic-runtime";

export const channelSecrets = createSimpleChannelSecretContract({
  channelKey: "rocketchat",
  label: "Rocket.Chat",
  accountFields: ["authToken"],
  channelFields: ["authToken"],
  mode: "account-inheritance",
});
