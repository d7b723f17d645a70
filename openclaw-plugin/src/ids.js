// Session conversations, as OpenClaw asks for them (`messaging.resolveSessionConversation`),
// from the bridge's conversation ids:
//   rocketchat:<accountId>:<direct|channel|group>:<roomId>[:thread:<rootId>]
// Targets are not parsed here: every target goes to the bridge as OpenClaw gave it (the
// bridge owns the target grammar). Native Rocket.Chat ids are case-sensitive; they are
// only ever read from these bridge-made ids (or the bridge's notifications), never from
// OpenClaw's session keys, which are lowercased.
import { CHANNEL } from "./config.js";

const KINDS = new Set(["direct", "channel", "group"]);

/** Parse a bridge conversation id; null when it is not one. */
export function parseConversationId(raw) {
  if (typeof raw !== "string") return null;
  const parts = raw.split(":");
  if (parts.length < 4 || parts[0] !== CHANNEL || !KINDS.has(parts[2])) return null;
  const [, accountId, kind, roomId, marker, threadId] = parts;
  if (!roomId) return null;
  return { accountId, kind, roomId, threadId: marker === "thread" && threadId ? threadId : undefined };
}

/**
 * The OpenClaw chat kind for a bridge room kind, as Slack's channel maps them: a 1:1 DM is
 * `direct`, a group DM (`groupDirect`) is `group`, every room (public or private) is
 * `channel`. The bridge's conversation ids use the same words.
 */
export function chatKindOf(roomKind) {
  if (roomKind === "direct") return "direct";
  if (roomKind === "groupDirect") return "group";
  return "channel";
}

/**
 * `messaging.resolveSessionConversation`: the rawId is what follows
 * `<channel>:<kind>:` in a session key, i.e. `<roomId>[:thread:<root>]`
 * (or a full bridge conversation id).
 */
export function resolveSessionConversation({ rawId }) {
  if (typeof rawId !== "string" || !rawId) return null;
  const full = parseConversationId(rawId);
  if (full) {
    return {
      id: full.roomId,
      threadId: full.threadId ?? null,
      baseConversationId: full.roomId,
      parentConversationCandidates: full.threadId ? [full.roomId] : [],
    };
  }
  const at = rawId.indexOf(":thread:");
  if (at < 0) return { id: rawId, threadId: null, baseConversationId: rawId, parentConversationCandidates: [] };
  const roomId = rawId.slice(0, at);
  const threadId = rawId.slice(at + ":thread:".length) || null;
  return { id: roomId, threadId, baseConversationId: roomId, parentConversationCandidates: [roomId] };
}
