// `openclaw channels add --channel rocketchat`: the setup fields (flags), the adapter that
// writes `channels.rocketchat` (or `.accounts.<id>`), and the interactive wizard, which
// checks the server with `bridge probe` (URL and TLS, the token, the version, the rooms)
// before the config is written.
//
// Keep SETUP_FIELDS in step with package.json `openclaw.channel.setup.fields` (a unit test
// compares them): OpenClaw reads the package copy for `channels add --help` without
// loading the plugin.
import { CHANNEL, DEFAULT_ACCOUNT_ID, ENV_VARS, resolveAccount } from "./config.js";
import { formatProbe, probeAccount } from "./oneshot.js";

/** @type {any} */
export const SETUP_FIELDS = {
  serverUrl: { kind: "string", cli: { flags: "--server-url <url>", description: "Rocket.Chat server URL (https://chat.example.com)" } },
  userId: { kind: "string", cli: { flags: "--user-id <id>", description: "The bot user's Rocket.Chat user id" } },
  username: { kind: "string", cli: { flags: "--username <name>", description: "The bot user's username" } },
  token: { kind: "string", sensitive: true, cli: { flags: "--token <token>", description: "The bot's personal access token (stored in the config: prefer --token-env)" } },
  tokenEnv: { kind: "string", cli: { flags: "--token-env <var>", description: "Read the token from this environment variable (a secret reference)" } },
  tokenFile: { kind: "string", cli: { flags: "--token-file <path>", description: "Read the token from this file (a secret reference)" } },
  dangerouslyAllowInsecure: { kind: "boolean", cli: { flags: "--dangerously-allow-insecure", description: "Allow http:// and skip certificate checks (local tests only)" } },
  useEnv: {
    kind: "boolean",
    cli: { flags: "--use-env", description: "Use ROCKETCHAT_URL, ROCKETCHAT_USER_ID, ROCKETCHAT_USERNAME and ROCKETCHAT_AUTH_TOKEN" },
    envVars: [ENV_VARS.serverUrl, ENV_VARS.userId, ENV_VARS.username, ENV_VARS.authToken],
  },
};

/** `https://chat.example.com/` -> `https://chat.example.com`; null when not a URL. */
export function normalizeServerUrl(raw) {
  const t = typeof raw === "string" ? raw.trim() : "";
  if (!t) return null;
  try {
    const u = new URL(t);
    if (u.protocol !== "https:" && u.protocol !== "http:") return null;
    return `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
  } catch {
    return null;
  }
}

/**
 * The `authToken` value for the setup input: a secret reference when asked for one,
 * else the plain token.
 * @param {any} input
 */
export function tokenValue(input) {
  if (input.tokenEnv) return { source: "env", provider: "default", id: String(input.tokenEnv).trim() };
  if (input.tokenFile) return { source: "file", provider: "default", id: String(input.tokenFile).trim() };
  if (input.token) return String(input.token).trim();
  return undefined;
}

/** What `channels add` must be given; null when the input is complete. @param {any} input */
export function validateSetupInput(input) {
  if (input.useEnv) return null;
  const missing = [];
  if (!input.serverUrl) missing.push("--server-url");
  if (!input.userId) missing.push("--user-id");
  if (!input.username) missing.push("--username");
  if (!input.token && !input.tokenEnv && !input.tokenFile) missing.push("--token, --token-env or --token-file");
  if (missing.length) return `Rocket.Chat needs ${missing.join(", ")} (or --use-env).`;
  const url = normalizeServerUrl(input.serverUrl);
  if (!url) return `Rocket.Chat --server-url must be an https:// URL (got ${JSON.stringify(input.serverUrl)}).`;
  if (url.startsWith("http:") && !input.dangerouslyAllowInsecure) {
    return "Rocket.Chat --server-url is http://: use https://, or add --dangerously-allow-insecure for a local test server.";
  }
  if ([input.token, input.tokenEnv, input.tokenFile].filter(Boolean).length > 1) return "Rocket.Chat: give only one of --token, --token-env, --token-file.";
  return null;
}

/**
 * Writes the setup input into the config: the default account at the channel level,
 * any other under `accounts.<id>`.
 * @param {{ cfg: any, accountId: string, input: any }} p
 */
export function applySetupConfig({ cfg, accountId, input }) {
  const patch = {};
  if (!input.useEnv) {
    const url = normalizeServerUrl(input.serverUrl);
    if (url) patch.serverUrl = url;
    if (input.userId) patch.userId = String(input.userId).trim();
    if (input.username) patch.username = String(input.username).trim().replace(/^@/, "");
    const token = tokenValue(input);
    if (token !== undefined) patch.authToken = token;
  }
  if (input.dangerouslyAllowInsecure) patch.dangerouslyAllowInsecure = true;
  if (input.name) patch.name = String(input.name);
  const channels = { ...(cfg.channels ?? {}) };
  const section = { ...(channels[CHANNEL] ?? {}) };
  section.enabled = true;
  if (!accountId || accountId === DEFAULT_ACCOUNT_ID) {
    Object.assign(section, patch);
  } else {
    section.accounts = { ...(section.accounts ?? {}), [accountId]: { ...(section.accounts?.[accountId] ?? {}), ...patch } };
  }
  channels[CHANNEL] = section;
  return { ...cfg, channels };
}

/** The probe, as lines for a person. */
function probeText(probe) {
  return formatProbe({ probe }).map((l) => `${l.tone === "error" ? "✗" : l.tone === "warn" ? "!" : "✓"} ${l.text}`).join("\n");
}

/**
 * The adapter behind the setup fields (`channels add` with flags). After the config is
 * written the server is checked once (`bridge probe`) and what failed is reported as a
 * post-setup warning; the config stays written (OpenClaw's contract for this hook).
 */
export const setupAdapter = {
  singleAccountKeysToMove: ["serverUrl", "userId", "username", "authToken", "dangerouslyAllowInsecure", "caFile"],
  namedAccountPromotionKeys: ["userId", "username", "authToken"],
  validateInput: ({ input }) => validateSetupInput(input),
  applyAccountConfig: ({ cfg, accountId, input }) => applySetupConfig({ cfg, accountId, input }),
  afterAccountConfigWritten: async ({ cfg, accountId, runtime }) => {
    const account = resolveAccount(cfg, accountId);
    const probe = await probeAccount({ account, cfg, timeoutMs: 15_000 });
    const text = probeText(probe);
    if (probe.ok) runtime?.log?.(`Rocket.Chat server check:\n${text}`);
    else throw new Error(`Rocket.Chat server check failed (the config was saved; fix it and run \`openclaw channels status --probe\`):\n${text}`);
  },
};

const isConfigured = ({ cfg, accountId }) => resolveAccount(cfg, accountId ?? undefined).configured;

/** The interactive wizard (`openclaw channels add` without flags, `openclaw onboard`). */
/** @type {import("openclaw/plugin-sdk/channel-setup").ChannelSetupWizard} */
export const setupWizard = {
  channel: CHANNEL,
  status: {
    configuredLabel: "configured",
    unconfiguredLabel: "needs server URL, bot user and token",
    configuredHint: "configured",
    unconfiguredHint: "bot user + personal access token",
    configuredScore: 2,
    unconfiguredScore: 1,
    resolveConfigured: isConfigured,
  },
  introNote: {
    title: "Rocket.Chat bot",
    lines: [
      "On the server: create a bot user (roles bot and user) and a personal access token for it",
      "(My Account > Personal Access Tokens). You need the server URL, the bot's user id and",
      "username, and the token. `bridge sim` runs a local simulator to try it against.",
    ],
    shouldShow: ({ cfg, accountId }) => !isConfigured({ cfg, accountId }),
  },
  stepOrder: "text-first",
  credentials: [{
    inputKey: "token",
    providerHint: CHANNEL,
    credentialLabel: "Rocket.Chat personal access token",
    preferredEnvVar: ENV_VARS.authToken,
    envPrompt: `Use ${ENV_VARS.authToken} from the environment?`,
    keepPrompt: "Keep the current token?",
    inputPrompt: "The bot's personal access token",
    inspect: ({ cfg, accountId }) => {
      const a = resolveAccount(cfg, accountId);
      const has = a.config.authToken !== undefined && a.config.authToken !== "";
      return { accountConfigured: a.configured, hasConfiguredValue: has };
    },
    applyUseEnv: ({ cfg, accountId }) => applySetupConfig({ cfg, accountId, input: { tokenEnv: ENV_VARS.authToken } }),
    applySet: ({ cfg, accountId, value }) => applySetupConfig({ cfg, accountId, input: typeof value === "string" ? { token: value } : {} }),
  }],
  textInputs: [
    {
      inputKey: "serverUrl",
      message: "Rocket.Chat server URL",
      placeholder: "https://chat.example.com",
      required: true,
      currentValue: ({ cfg, accountId }) => resolveAccount(cfg, accountId).config.serverUrl,
      validate: ({ value }) => (normalizeServerUrl(value) ? undefined : "an https:// URL, e.g. https://chat.example.com"),
      normalizeValue: ({ value }) => normalizeServerUrl(value) ?? value.trim(),
      applySet: ({ cfg, accountId, value }) => {
        const url = normalizeServerUrl(value);
        return applySetupConfig({ cfg, accountId, input: { serverUrl: url, dangerouslyAllowInsecure: url?.startsWith("http:") || undefined } });
      },
    },
    {
      inputKey: "userId",
      message: "The bot's user id",
      required: true,
      currentValue: ({ cfg, accountId }) => resolveAccount(cfg, accountId).config.userId,
      applySet: ({ cfg, accountId, value }) => applySetupConfig({ cfg, accountId, input: { userId: value } }),
    },
    {
      inputKey: "username",
      message: "The bot's username",
      required: true,
      currentValue: ({ cfg, accountId }) => resolveAccount(cfg, accountId).config.username,
      applySet: ({ cfg, accountId, value }) => applySetupConfig({ cfg, accountId, input: { username: value } }),
    },
  ],
  /**
   * Before the config is written: the server is checked with what was entered. A failed
   * check is shown and the operator decides; declining writes nothing.
   */
  finalize: async ({ cfg, accountId, prompter }) => {
    const account = resolveAccount(cfg, accountId);
    const probe = await probeAccount({ account, cfg, timeoutMs: 15_000 });
    await prompter.note(probeText(probe), probe.ok ? "Rocket.Chat server check passed" : "Rocket.Chat server check failed");
    if (!probe.ok) {
      const keep = await prompter.confirm({ message: "Save this configuration anyway?", initialValue: false });
      if (!keep) throw new Error("Rocket.Chat setup cancelled: the server check failed and nothing was written.");
    }
    return { cfg };
  },
  disable: (cfg) => ({ ...cfg, channels: { ...(cfg.channels ?? {}), [CHANNEL]: { ...(cfg.channels?.[CHANNEL] ?? {}), enabled: false } } }),
};

/** The serializable projection for package.json `openclaw.channel.setup.fields`. */
export function setupFieldsManifest() {
  return Object.entries(SETUP_FIELDS).map(([key, f]) => ({ key, ...f }));
}
