// Bridge notifications -> OpenClaw. The bridge has already applied the access policy
// (dmPolicy, groupPolicy, allowlists, mention gating, `!` command rights): every
// `message` it sends is admitted. This file only builds OpenClaw's context for it.
import { createChannelPairingController } from "openclaw/plugin-sdk/channel-pairing";
import { resolveThreadSessionKeys } from "openclaw/plugin-sdk/routing";
import { toInboundMediaFacts } from "openclaw/plugin-sdk/channel-inbound";
import { CHANNEL, threadParentSessionKey } from "./config.js";
import { chatKindOf, parseConversationId } from "./ids.js";
import { createReplyDelivery } from "./reply.js";
import { ackReactionFor } from "./emoji.js";
import { resolveAgentOutboundIdentity } from "openclaw/plugin-sdk/channel-outbound";
import { collectInboundMedia, discardAttachments, mediaMaxBytes } from "./media.js";
import { historyEntries, threadContext } from "./history.js";
import { idempotencyKey } from "./keys.js";
import { roomEventActor, roomEventText } from "./room-events.js";
import { roomTurnSettings } from "./rooms.js";

/**
 * OpenClaw's ingress resolver must not re-decide what the bridge decided, so it is
 * given an open policy for the admitted sender. Its answer can still only restrict:
 * anything other than "dispatch" drops the message (logged).
 */
function ingressParams({ cfg, accountId, pairing, msg, kind, peerId, threadId }) {
  const isGroup = kind !== "direct";
  const hasControlCommand = Boolean(msg.command);
  return {
    channelId: CHANNEL,
    accountId,
    cfg,
    identity: { key: "sender-id", entryIdPrefix: "rc-entry" },
    readStoreAllowFrom: () => pairing.readAllowFromStore(),
    subject: { stableId: msg.sender.id },
    conversation: { kind, id: peerId, threadId },
    event: { kind: "message", authMode: "inbound", mayPair: false },
    dmPolicy: "open",
    groupPolicy: "open",
    allowFrom: ["*"],
    groupAllowFrom: ["*"],
    policy: {
      groupAllowFromFallbackToAllowFrom: true,
      ...(isGroup ? { activation: { requireMention: false, allowTextCommands: true } } : {}),
    },
    mentionFacts: isGroup ? { canDetectMention: true, wasMentioned: Boolean(msg.mentions?.wasMentioned) } : undefined,
    command: { allowTextCommands: true, hasControlCommand },
  };
}

/**
 * Where a conversation's session lives (a thread's is the room's with `:thread:<id>`);
 * under `thread.inheritParent` a thread session names the room's as its parent, and
 * OpenClaw starts it from the room's transcript.
 */
function sessionFor(rt, cfg, account, accountId, { kind, peerId, threadId }) {
  const route = rt.channel.routing.resolveAgentRoute({ cfg, channel: CHANNEL, accountId, peer: { kind, id: peerId } });
  const keys = resolveThreadSessionKeys({
    baseSessionKey: route.sessionKey,
    threadId,
    parentSessionKey: threadParentSessionKey(account, { threadId, roomSessionKey: route.sessionKey }),
  });
  return { route, sessionKey: keys.sessionKey, parentSessionKey: keys.parentSessionKey };
}


function shouldAck(rt, cfg, msg, kind) {
  const scope = cfg?.messages?.ackReactionScope ?? "group-mentions";
  const isDirect = kind === "direct";
  const wasMentioned = Boolean(msg.mentions?.wasMentioned);
  const fn = rt.channel.reactions?.shouldAckReaction;
  if (typeof fn === "function") {
    return fn({
      scope,
      isDirect,
      isGroup: !isDirect,
      isMentionableGroup: !isDirect,
      canDetectMention: true,
      requireMention: Boolean(msg.mentions?.requireMention),
      wasMentioned,
      effectiveWasMentioned: wasMentioned,
    });
  }
  return scope === "all" || (scope === "direct" && isDirect) || (scope === "group-mentions" && !isDirect && wasMentioned);
}

/** Which bridge mention fact admitted the message, in OpenClaw's terms. */
function mentionSourceOf(m) {
  if (m?.explicit) return "explicit_bot";
  if (m?.pattern) return "mention_pattern";
  // The bridge's implicit mentions are all thread-based (reply to the bot / participation).
  if (m?.implicit) return "implicit_thread";
  return "none";
}

/** msg -> its attachments as handed to OpenClaw ({media, notes}); see dispatchMessage. */
const inboundMediaCache = new WeakMap();

/**
 * An admitted inbound message: hand it to the agent; replies go back through the
 * account's current bridge (`env.request`, looked up at each send).
 * opts.replyOptions: merged into the turn's reply options (the durable-ingress lifecycle).
 * @param {any} env @param {any} msg @param {{ replyOptions?: object }} [opts]
 */
export async function dispatchMessage(env, msg, opts = {}) {
  const { rt, cfg, accountId, account, log } = env;
  const request = env.request;
  const kind = chatKindOf(msg.room?.kind);
  const peerId = kind === "direct" ? msg.sender.id : msg.room.id;
  // The session thread: the thread the message is in, or the one the reply will open.
  const threadId = msg.threadId ?? msg.replyThread?.id ?? undefined;
  const { route, sessionKey, parentSessionKey } = sessionFor(rt, cfg, account, accountId, { kind, peerId, threadId });
  const pairing = createChannelPairingController({ core: rt, channel: CHANNEL, accountId });
  const params = ingressParams({ cfg, accountId, pairing, msg, kind, peerId, threadId });

  const decision = await rt.channel.inbound.ingress.resolveStable(params);
  if (decision?.ingress?.admission !== "dispatch") {
    log.info?.(`rocketchat[${accountId}]: OpenClaw declined admitted message ${msg.messageId} (${decision?.ingress?.admission ?? "unknown"})`);
    await discardAttachments(msg.attachments);
    return;
  }

  // Attachments: copied into OpenClaw's media store once (a retried dispatch reuses the
  // copies; the bridge's files are gone by then).
  if (!inboundMediaCache.has(msg)) {
    const maxBytes = mediaMaxBytes(account);
    inboundMediaCache.set(msg, await collectInboundMedia(msg.attachments, {
      save: (buffer, mimeType, name) => rt.channel.media.saveMediaBuffer(buffer, mimeType, "inbound", maxBytes, name),
      messageId: msg.messageId,
      log,
    }));
  }
  const inbound = inboundMediaCache.get(msg);
  const media = inbound.media.length ? toInboundMediaFacts(inbound.media, { messageId: msg.messageId }) : undefined;

  // The agent's name, picture and emoji (Slack's channel posts its replies with them).
  const identity = resolveAgentOutboundIdentity(cfg, route.agentId);
  const ackEmoji = ackReactionFor(cfg, account, identity);
  if (ackEmoji && !msg.command && shouldAck(rt, cfg, msg, kind)) {
    request("react", { roomId: msg.room.id, messageId: msg.messageId, emoji: ackEmoji })
      .catch((err) => log.warn?.(`rocketchat[${accountId}]: ack reaction failed: ${err.message}`));
  }

  const commandBody = msg.command?.slash ?? msg.text;
  const bodyForAgent = msg.command?.slash
    ?? [msg.textForAgent ?? msg.text, ...inbound.notes].filter((t) => typeof t === "string" && t.trim()).join("\n");
  const senderName = msg.sender.displayName || msg.sender.username || msg.sender.id;
  const label = kind === "direct" ? `@${msg.sender.username ?? msg.sender.id}` : `#${msg.room.name ?? msg.room.id}`;

  const reply = createReplyDelivery({
    request,
    accountId,
    msg,
    account,
    log,
    identity,
    sendMedia: (url, { replyThread }) => env.sendMedia(url, { target: msg.conversationId, replyThread, agentId: route.agentId }),
  });
  // Context the agent has not seen (docs/bridge-protocol.md `history` / `threadHistory`).
  const inboundHistory = historyEntries(msg.history);
  const thread = threadContext(msg.threadHistory, { threadId, parentSessionKey });
  // The room's `skills` and `systemPrompt` (src/rooms.js; none in DMs), passed as Slack's
  // channel passes its channel config: the group system prompt and the skill filter.
  const { skillFilter, groupSystemPrompt } = roomTurnSettings(account.config.rooms, msg.room);
  const supplemental = {
    ...(thread ? { thread } : {}),
    ...(groupSystemPrompt ? { groupSystemPrompt } : {}),
  };

  await rt.channel.inbound.run({
    channel: CHANNEL,
    accountId,
    raw: msg,
    log: (e) => log.debug?.(`rocketchat[${accountId}]: turn ${JSON.stringify(e)}`),
    adapter: {
      onFinalize: () => reply.onFinalize(),
      ingest: (m) => ({
        id: m.messageId,
        timestamp: m.timestamp,
        rawText: commandBody,
        textForAgent: bodyForAgent,
        textForCommands: commandBody,
        raw: m,
      }),
      resolveTurn: async (input) => {
        const channelIngress = await rt.channel.inbound.ingress.resolveStable({
          ...params,
          contextBinding: { agentId: route.agentId, sessionKey, messageId: input.id, inboundEventKind: "user_request" },
        });
        const ctxPayload = rt.channel.inbound.buildContext({
          channelIngress,
          channel: CHANNEL,
          accountId,
          messageId: input.id,
          timestamp: input.timestamp,
          // As Slack's and Mattermost's channels: the sender in a DM, the room otherwise
          // (OpenClaw reads a room's session id back out of it, e.g. for the tool policy).
          from: kind === "direct" ? `${CHANNEL}:${msg.sender.id}` : `${CHANNEL}:${kind}:${msg.room.id}`,
          sender: { id: msg.sender.id, name: senderName, username: msg.sender.username },
          conversation: { kind, id: peerId, label, threadId, nativeChannelId: msg.room.id },
          route: {
            agentId: route.agentId,
            dmScope: route.dmScope,
            accountId,
            routeSessionKey: sessionKey,
            dispatchSessionKey: sessionKey,
            parentSessionKey,
          },
          // Native ids ride here (case preserved); never parsed back out of session keys.
          reply: { to: msg.conversationId, replyToId: threadId, messageThreadId: threadId },
          message: {
            rawBody: input.rawText,
            commandBody: input.textForCommands,
            bodyForAgent: input.textForAgent,
            ...(inboundHistory.length ? { inboundHistory } : {}),
          },
          ...(media ? { media } : {}),
          ...(Object.keys(supplemental).length ? { supplemental } : {}),
          access: {
            // The bridge only forwards commands the sender may run.
            commands: { authorized: Boolean(msg.command) },
            mentions: {
              canDetectMention: true,
              wasMentioned: Boolean(msg.mentions?.wasMentioned),
              requireMention: Boolean(msg.mentions?.requireMention),
              explicitlyMentionedBot: Boolean(msg.mentions?.explicit),
              mentionSource: mentionSourceOf(msg.mentions),
            },
          },
        });
        // `!` commands are the bridge's: it forwards only those the sender may run, as
        // `/name`. Any other text is never interpreted as an OpenClaw command, so slash
        // text typed by users cannot get around the bridge's commandAllowFrom.
        if (!msg.command) ctxPayload.CommandInterpretationSuppressed = true;
        const typing = (on) => request("typing", { roomId: msg.room.id, threadId: msg.replyThread?.id ?? msg.threadId ?? undefined, on });
        return {
          cfg,
          channel: CHANNEL,
          accountId,
          route: { agentId: route.agentId, dmScope: route.dmScope, sessionKey },
          ctxPayload,
          replyPipeline: {
            typing: {
              start: () => typing(true),
              stop: () => typing(false),
              onStartError: (err) => log.debug?.(`rocketchat[${accountId}]: typing failed: ${err?.message ?? err}`),
            },
          },
          replyOptions: { ...reply.replyOptions, ...(skillFilter ? { skillFilter } : {}), ...(opts.replyOptions ?? {}) },
          delivery: { deliver: reply.deliver },
          record: { onRecordError: (err) => log.warn?.(`rocketchat[${accountId}]: session record failed: ${err?.message ?? err}`) },
        };
      },
    },
  });
}

/** A DM from a sender who still needs pairing: OpenClaw issues the code, the bridge posts it. */
export async function issuePairing(env, params) {
  const { rt, accountId, log } = env;
  const sender = params.sender ?? {};
  // Remembered so an approval notice can go to the same DM room.
  if (sender.id && params.room?.id) env.pairingRooms?.set(sender.id, params.room.id);
  const pairing = createChannelPairingController({ core: rt, channel: CHANNEL, accountId });
  await pairing.issueChallenge({
    senderId: sender.id,
    senderIdLine: `Your Rocket.Chat user id: ${sender.id}`,
    meta: { name: sender.displayName ?? sender.username, username: sender.username },
    sendPairingReply: async (text) => {
      await env.request("send", {
        target: params.room?.id ?? `@${sender.username}`,
        text,
        idempotencyKey: idempotencyKey(accountId, "pairing", sender.id, text),
      });
      // Told once approved (src/pairing.js: OpenClaw's CLI cannot reach this plugin).
      env.pendingPairings?.remember(sender.id, { roomId: params.room?.id, username: sender.username });
    },
    onReplyError: (err) => log.warn?.(`rocketchat[${accountId}]: pairing reply failed: ${/** @type {any} */ (err)?.message ?? err}`),
  });
}

/**
 * Reactions, edits, deletes and room events (joins, leaves, renames, topic changes, pins)
 * reach the agent as system events in the room's session.
 */
export function enqueueRoomEvent(env, method, params) {
  const { rt, cfg, accountId, account } = env;
  const parsed = parseConversationId(params.conversationId);
  const kind = parsed?.kind ?? chatKindOf(params.room?.kind);
  const roomId = parsed?.roomId ?? params.room?.id;
  if (!roomId) return;
  const actor = method === "roomEvent" ? roomEventActor(params) : (params.user ?? params.sender ?? {});
  const peerId = kind === "direct" ? (actor.id ?? roomId) : roomId;
  const threadId = parsed?.threadId ?? params.threadId ?? undefined;
  const { sessionKey } = sessionFor(rt, cfg, account, accountId, { kind, peerId, threadId });
  const who = actor.username ? `@${actor.username}` : "someone";
  let text;
  let contextKey;
  if (method === "roomEvent") {
    const event = roomEventText(params);
    if (!event) {
      env.log?.debug?.(`rocketchat[${accountId}]: room event of unknown kind ${params.kind} dropped`);
      return;
    }
    ({ text, contextKey } = event);
  } else if (method === "reaction") {
    text = `Rocket.Chat reaction ${params.action}: ${who} ${params.action === "removed" ? "removed" : "added"} :${params.emoji}: on message ${params.messageId}`;
    contextKey = `rc:reaction:${params.messageId}:${params.emoji}:${actor.id ?? ""}:${params.action}`;
  } else if (method === "messageEdited") {
    text = `Rocket.Chat message edited by ${who} (message ${params.messageId}): ${params.text ?? ""}`;
    contextKey = `rc:edit:${params.messageId}:${params.text ?? ""}`;
  } else {
    text = `Rocket.Chat message ${params.messageId} was deleted`;
    contextKey = `rc:delete:${params.messageId}`;
  }
  rt.system.enqueueSystemEvent(text, { sessionKey, contextKey });
}
