// The channel's secret contract as OpenClaw's secret tools load it: `openclaw secrets
// audit|configure|apply` do not load the plugin; they look for a `secret-contract-api.js`
// (or `contract-api.js`) artifact at the plugin's root (or under dist/) and read its
// `secretTargetRegistryEntries` and `collectRuntimeConfigAssignments`, as OpenClaw's
// bundled channels ship theirs (e.g. dist/extensions/telegram/secret-contract-api.js).
// The contract itself lives in src/secrets.js (`channelSecrets`), which the plugin's
// `secrets` adapter uses too.
import { channelSecrets } from "./src/secrets.js";

export { channelSecrets };
export const secretTargetRegistryEntries = channelSecrets.secretTargetRegistryEntries;
export const collectRuntimeConfigAssignments = channelSecrets.collectRuntimeConfigAssignments;
