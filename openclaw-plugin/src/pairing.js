// The "you are approved" notice after `openclaw pairing approve rocketchat <CODE> --notify`.
//
// Why it never arrived before: OpenClaw calls `pairing.notifyApproval` in the process
// that approved, which for `openclaw pairing approve` is the CLI, not the gateway; the
// CLI has no bridge, so the old notifier (it looked for a bridge in its own process)
// did nothing. (Without `--notify` the CLI does not call it at all, by design.) Now the
// notice goes through the account's bridge when this process runs one (the gateway,
// e.g. an approval from the Control UI), and otherwise through the gateway's `send`
// method, which runs this channel's outbound in the gateway.
import { CHANNEL, defaultAccountId } from "./config.js";
import { idempotencyKey } from "./keys.js";
import { registry } from "./registry.js";

export const APPROVED_MESSAGE = "You are approved. Send your message again.";

/**
 * @param {{ cfg: any, id: string, accountId?: string, meta?: Record<string, string>, message?: string }} ctx
 * @param {{ callGateway?: (method: string, params: object) => Promise<any> }} [deps]
 */
export async function notifyApproval(ctx, deps = {}) {
  const accountId = ctx.accountId || ctx.meta?.accountId || defaultAccountId(ctx.cfg);
  const text = ctx.message ?? APPROVED_MESSAGE;
  const senderId = ctx.meta?.senderId ?? ctx.id;
  const entry = registry().get(accountId);
  if (entry?.bridge && !entry.bridge.exited) {
    await entry.syncApprovals?.().catch(() => {});
    await entry.notifyApproved(senderId, text, ctx.meta);
    return;
  }
  const username = ctx.meta?.username;
  if (!username) throw new Error(`rocketchat: cannot tell ${senderId} they were approved: the pairing request has no username`);
  const callGateway = deps.callGateway ?? (async (method, params) => {
    const { callGatewayFromCli } = await import("openclaw/plugin-sdk/gateway-runtime");
    return callGatewayFromCli(method, {}, params);
  });
  await callGateway("send", {
    channel: CHANNEL,
    accountId,
    to: `@${username}`,
    message: text,
    idempotencyKey: idempotencyKey(accountId, "pairing-approved", senderId),
  });
}
