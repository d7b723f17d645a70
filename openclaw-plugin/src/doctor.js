// OpenClaw's own tools and this channel: `openclaw doctor` (the same checks as
// `bridge doctor`, through `bridge probe` for every configured account). The secret
// contract (`openclaw secrets audit`) is src/secrets.js.
import { CHANNEL, listAccountIds, resolveAccount } from "./config.js";
import { formatProbe, probeAccount } from "./oneshot.js";
export { channelSecrets } from "./secrets.js";

/**
 * Warnings for `openclaw doctor`: the config as written (plaintext token, http://
 * without the insecure flag) and the server as it answers (`bridge probe`).
 * @param {{ cfg: any }} p
 * @returns {Promise<string[]>}
 */
export async function collectDoctorWarnings({ cfg }) {
  if (!cfg?.channels?.[CHANNEL] || cfg.channels[CHANNEL].enabled === false) return [];
  const warnings = [];
  for (const accountId of listAccountIds(cfg)) {
    const account = resolveAccount(cfg, accountId);
    if (!account.enabled) continue;
    const where = `channels.${CHANNEL}${cfg.channels[CHANNEL].accounts?.[accountId] ? `.accounts.${accountId}` : ""}`;
    if (!account.configured) {
      warnings.push(`Rocket.Chat ${accountId}: not configured (serverUrl, userId, username and authToken are needed under ${where}); run \`openclaw channels add --channel rocketchat\`.`);
      continue;
    }
    if (typeof account.config.authToken === "string") {
      warnings.push(`Rocket.Chat ${accountId}: ${where}.authToken is plain text in the config; use a secret reference ({ source: "env", provider: "default", id: "RC_TOKEN" }).`);
    }
    const probe = await probeAccount({ account, cfg, timeoutMs: 15_000 });
    if (!probe.ok) {
      const lines = formatProbe({ probe }).filter((l) => l.tone === "error" || l.tone === "warn").map((l) => l.text);
      warnings.push(`Rocket.Chat ${accountId}: ${lines.join("; ") || probe.error || "the server check failed"}`);
    } else {
      for (const l of formatProbe({ probe }).filter((x) => x.tone === "warn")) warnings.push(`Rocket.Chat ${accountId}: ${l.text}`);
    }
  }
  return warnings;
}
