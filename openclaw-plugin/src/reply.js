// The reply side of an inbound turn: OpenClaw's `delivery.deliver` plus the
// `replyOptions` that drive streaming previews (see src/streaming.js).
//
// - streaming "off": each delivered payload is one bridge `send` (the bridge chunks).
// - streaming "block": OpenClaw's block streaming is switched on for the turn, so
//   `deliver` receives each block (`info.kind === "block"`) and posts it as its own message.
// - streaming "partial": `onPartialReply` drives one preview message edited in place;
//   the final payload finalises it.
import { PreviewStream, resolveStreaming } from "./streaming.js";
import { idempotencyKey } from "./keys.js";
import { emojiName } from "./emoji.js";

const DEFAULT_CHUNK_LIMIT = 5000;

/**
 * OpenClaw's outbound identity of the agent ({name, avatarUrl, emoji}, from
 * `resolveAgentOutboundIdentity`, as Slack's channel posts with it) as the bridge's
 * `send.identity` (Rocket.Chat `alias` / `avatar` / `emoji`), or nothing. The emoji goes as a
 * name (src/emoji.js); a Unicode emoji without a known name is left out.
 */
export function identityParam(identity) {
  if (!identity || typeof identity !== "object") return {};
  const out = {};
  if (typeof identity.name === "string" && identity.name.trim()) out.name = identity.name.trim();
  if (typeof identity.avatarUrl === "string" && /^https?:\/\//.test(identity.avatarUrl)) out.avatarUrl = identity.avatarUrl;
  const emoji = emojiName(identity.emoji);
  if (emoji) out.emoji = emoji;
  return Object.keys(out).length ? { identity: out } : {};
}

/** The text of a reply payload (media are sent separately, see src/media.js). */
export function payloadText(payload) {
  return typeof payload?.text === "string" && payload.text.trim() ? payload.text : "";
}

/** The media URLs / paths of a reply payload, without duplicates. */
export function payloadMedia(payload) {
  const all = [payload?.mediaUrl, ...(Array.isArray(payload?.mediaUrls) ? payload.mediaUrls : [])];
  return [...new Set(all.filter((u) => typeof u === "string" && u.trim()))];
}

/**
 * Builds `{ replyOptions, deliver, onFinalize }` for one admitted message.
 * request(method, params) is a call to the account's CURRENT bridge (looked up at each
 * send, so a bridge restarted mid-turn still gets the reply). Every text send carries an
 * idempotency key derived from (account, inbound message id, reply index): a retry, or
 * the same turn delivered again after a restart, posts once.
 * sendMedia(url, { replyThread }) posts one file (src/media.js); it is optional.
 */
/** @param {any} p */
export function createReplyDelivery({ request, accountId, msg, account, log = /** @type {any} */ ({}), sendMedia, clock, identity }) {
  const { mode, throttleMs } = resolveStreaming(account?.config?.streaming);
  const chunkLimit = Number(account?.config?.textChunkLimit) > 0 ? Number(account.config.textChunkLimit) : DEFAULT_CHUNK_LIMIT;
  const replyThread = msg.replyThread ?? null;
  let replyIndex = 0;
  const sendText = async (text) => {
    const key = idempotencyKey(accountId ?? account?.accountId, msg.messageId, "reply", replyIndex++);
    const result = await request("send", { target: msg.conversationId, text, replyThread, idempotencyKey: key, ...identityParam(identity) });
    return result?.messageIds ?? [];
  };
  const io = {
    send: sendText,
    edit: (messageId, text) => request("edit", { roomId: msg.room.id, messageId, text }),
    remove: (messageId) => request("delete", { roomId: msg.room.id, messageId }),
  };

  /** The preview of the assistant message being written (partial mode only). */
  let stream;
  /** Partials are taken until the final payload; a new assistant message reopens them. */
  let acceptPartials = true;
  const replyOptions = {};
  if (mode === "block") replyOptions.disableBlockStreaming = false;
  if (mode === "partial") {
    // One preview at a time: block streaming would post the same text a second way.
    replyOptions.disableBlockStreaming = true;
    replyOptions.onPartialReply = (payload) => {
      const text = payload?.text;
      if (!acceptPartials || typeof text !== "string") return stream?.visible ?? false;
      if (!stream || stream.finalized) stream = new PreviewStream({ io, clock, throttleMs, chunkLimit, log });
      stream.update(text);
      return stream.visible;
    };
    replyOptions.onAssistantMessageStart = () => {
      acceptPartials = true;
      return false;
    };
  }

  const deliver = async (payload, info) => {
    const text = payloadText(payload);
    const media = payloadMedia(payload);
    const messageIds = [];
    if (text) {
      if (info?.kind === "final" && stream && !stream.finalized) {
        acceptPartials = false;
        messageIds.push(...(await stream.finalize(text)).messageIds);
      } else {
        messageIds.push(...(await sendText(text)));
      }
    }
    if (info?.kind === "final") acceptPartials = false;
    for (const url of media) {
      if (!sendMedia) {
        messageIds.push(...(await sendText(url)));
        continue;
      }
      const ids = await sendMedia(url, { replyThread });
      messageIds.push(...ids);
    }
    return { visibleReplySent: messageIds.length > 0, messageIds };
  };

  /**
   * After the turn: a preview that never got a final payload (the run failed or ended
   * without one) is brought up to the newest partial text rather than left mid-edit.
   */
  const onFinalize = async () => {
    if (stream && stream.visible && !stream.finalized && stream.latest) {
      await stream.finalize(stream.latest).catch((err) => log.warn?.(`rocketchat: finishing a preview failed: ${err?.message ?? err}`));
    }
  };

  return { mode, replyOptions, deliver, onFinalize };
}
