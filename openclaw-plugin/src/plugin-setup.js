// The parts of the plugin that OpenClaw also loads without the channel runtime
// (setup-entry.js): metadata, config, setup, secrets, doctor and the status probe. The
// full plugin (index.js) spreads these into its base.
import { defineChannelSetupContract } from "openclaw/plugin-sdk/channel-setup";
import { CHANNEL, DEFAULT_ACCOUNT_ID, defaultAccountId, listAccountIds, reloadRules, resolveAccount } from "./config.js";
import { formatProbe, probeAccount } from "./oneshot.js";
import { SETUP_FIELDS, setupAdapter, setupWizard } from "./setup.js";
import { channelSecrets, collectDoctorWarnings } from "./doctor.js";

/** How the token is configured, for `channels status` (never the token itself). */
export function tokenInfo(value) {
  if (value === undefined || value === null || value === "") return { tokenSource: "none", tokenStatus: "missing" };
  if (typeof value === "string") return { tokenSource: "config", tokenStatus: "available" };
  const source = typeof value === "object" && typeof value.source === "string" ? value.source : "ref";
  return { tokenSource: source, tokenStatus: "configured" };
}

export const setupBase = {
  id: CHANNEL,
  meta: {
    id: CHANNEL,
    label: "Rocket.Chat",
    selectionLabel: "Rocket.Chat (bot user + personal access token)",
    docsPath: "/channels/rocketchat",
    blurb: "Rocket.Chat 8.x over the Realtime API, through a Rust bridge process.",
    aliases: ["rc"],
    markdownCapable: true,
  },
  capabilities: {
    chatTypes: /** @type {("direct" | "group" | "channel" | "thread")[]} */ (["direct", "group", "channel", "thread"]),
    reactions: true,
    edit: true,
    unsend: true,
    reply: true,
    threads: true,
    media: true,
  },
  // The running bridge takes config changes itself (`reconfigure`, or a restart of that
  // account's bridge when it answers `restartRequired`); OpenClaw restarts an account
  // only when accounts come or go, or `enabled` / `bridgePath` change (src/config.js).
  reload: reloadRules(),
  config: {
    listAccountIds: (cfg) => listAccountIds(cfg),
    resolveAccount: (cfg, accountId) => resolveAccount(cfg, accountId),
    defaultAccountId: (cfg) => defaultAccountId(cfg),
    isEnabled: (account) => account.enabled,
    isConfigured: (account) => account.configured,
    inspectAccount: (cfg, accountId) => {
      const a = resolveAccount(cfg, accountId);
      return { enabled: a.enabled, configured: a.configured, ...tokenInfo(a.config.authToken) };
    },
    describeAccount: (account) => ({
      accountId: account.accountId,
      name: account.name,
      enabled: account.enabled,
      configured: account.configured,
      dmPolicy: account.config.dmPolicy ?? "pairing",
      allowFrom: account.config.allowFrom ?? [],
    }),
    resolveAllowFrom: ({ cfg, accountId }) => resolveAccount(cfg, accountId).config.allowFrom ?? [],
  },
  setupContract: defineChannelSetupContract({ fields: SETUP_FIELDS, legacyAdapter: setupAdapter }),
  setupWizard,
  secrets: channelSecrets,
  doctor: { collectPreviewWarnings: ({ cfg }) => collectDoctorWarnings({ cfg }) },
};

/** The setup-only plugin (setup-entry.js). */
export const rocketchatSetupPlugin = {
  ...setupBase,
  status: {
    probeAccount: ({ account, cfg, timeoutMs }) => probeAccount({ account, cfg, timeoutMs }),
    formatCapabilitiesProbe: ({ probe }) => formatProbe({ probe }),
  },
};
