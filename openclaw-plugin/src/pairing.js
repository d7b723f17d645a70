// The "you are approved" notice after a pairing approval.
//
// Why it never arrived: OpenClaw calls `pairing.notifyApproval` in the process that
// approved. For `openclaw pairing approve ... --notify` that is the CLI, and OpenClaw
// 2026.9.6's CLI loads no plugins for `pairing` (its command policy is `loadPlugins:
// "never"`), so it finds no external channel to call and prints "Failed to notify
// requester: Error: Channel rocketchat does not support pairing". Only bundled channels
// can be notified from there.
//
// So the gateway tells the user itself: every pairing challenge this account issued is
// remembered (PendingPairings, in a small file under OpenClaw's state dir so a channel or
// gateway restart between the code and the approval loses nothing); when the account's
// approval poll (src/gateway.js, every 2 s) sees one of those senders approved, the
// bridge sends the notice to the DM room the code went to (or `@username`). Approvals from
// the Control UI with "Notify" go through notifyApproval below, in the gateway; both paths
// send with the same idempotency key, so the user gets one notice.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CHANNEL, defaultAccountId } from "./config.js";
import { idempotencyKey } from "./keys.js";
import { registry } from "./registry.js";

export const APPROVED_MESSAGE = "You are approved. Send your message again.";
/** OpenClaw's pairing codes expire after an hour; a challenge older than that is forgotten. */
export const PENDING_TTL_MS = 60 * 60 * 1000;

/** The idempotency key of the approval notice for one sender (one notice, whichever path sends it). */
export function approvalNoticeKey(accountId, senderId) {
  return idempotencyKey(accountId, "pairing-approved", senderId);
}

/** The pending-challenge file of an account under OpenClaw's state dir. */
export function pendingPairingsFile(stateDir, accountId) {
  return join(stateDir, CHANNEL, `${accountId}.pairing-pending.json`);
}

/**
 * The senders this account sent a pairing code to and who are not approved yet:
 * senderId -> { roomId, username, at }. Kept in `file` (mode 0600) when given, else in
 * memory.
 */
export class PendingPairings {
  /** @param {{ file?: string, now?: () => number, log?: any }} [opts] */
  constructor({ file, now = Date.now, log = {} } = {}) {
    this.file = file;
    this.now = now;
    this.log = log;
    /** @type {Record<string, { roomId?: string, username?: string, at: number }>} */
    this.entries = this.#load();
  }

  #load() {
    if (!this.file) return {};
    try {
      const data = JSON.parse(readFileSync(this.file, "utf8"));
      return data && typeof data === "object" && !Array.isArray(data) ? data : {};
    } catch {
      return {};
    }
  }

  #save() {
    if (!this.file) return;
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(this.entries), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch (err) {
      this.log.warn?.(`rocketchat: could not write ${this.file}: ${/** @type {any} */ (err)?.message ?? err}`);
    }
  }

  get size() {
    return Object.keys(this.entries).length;
  }

  /**
   * A code went to `senderId` in room `roomId`.
   * @param {string} senderId @param {{ roomId?: string, username?: string }} [where]
   */
  remember(senderId, { roomId, username } = {}) {
    if (!senderId) return;
    this.entries[senderId] = { roomId, username, at: this.now() };
    this.#save();
  }

  /**
   * The pending senders that are now approved (removed from the list), oldest first;
   * expired challenges are dropped on the way.
   * @param {string[]} approvedIds
   * @returns {{ senderId: string, roomId?: string, username?: string }[]}
   */
  takeApproved(approvedIds) {
    if (!this.size) return [];
    const approved = new Set(approvedIds);
    const due = [];
    let changed = false;
    for (const [senderId, e] of Object.entries(this.entries).sort((a, b) => a[1].at - b[1].at)) {
      if (approved.has(senderId)) due.push({ senderId, roomId: e.roomId, username: e.username });
      else if (this.now() - e.at <= PENDING_TTL_MS) continue;
      delete this.entries[senderId];
      changed = true;
    }
    if (changed) this.#save();
    return due;
  }

  /** Forget one sender (its notice went out another way). */
  forget(senderId) {
    if (!(senderId in this.entries)) return;
    delete this.entries[senderId];
    this.#save();
  }
}

/**
 * Where the notice goes: the DM room the code went to, else the user's DM by name.
 * @param {{ roomId?: string, username?: string }} p
 */
export function noticeTarget({ roomId, username }) {
  return roomId ?? (username ? `@${username}` : undefined);
}

/**
 * `pairing.notifyApproval`: OpenClaw calls it in the process that approved, when asked to
 * notify (the Control UI's "Notify" option, which runs in the gateway). In the gateway the
 * account's bridge sends it; elsewhere (a CLI process, should OpenClaw ever load the
 * plugin there) it goes through the gateway's `send`.
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
    idempotencyKey: approvalNoticeKey(accountId, senderId),
  });
}
