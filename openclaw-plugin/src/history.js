// Conversation context the bridge fetched for a turn (docs/bridge-protocol.md, `history`
// and `threadHistory`), in the shapes OpenClaw's inbound context takes:
// - room history -> `message.inboundHistory` (HistoryEntry[]: {sender, body, timestamp, messageId}),
//   which OpenClaw renders as a chat window before the user's message;
// - thread history -> `supplemental.thread` {starterBody, historyBody}, which OpenClaw
//   shows as "[Thread history - for context]" when the thread session is new (as Slack does).
// Nothing here is stored: OpenClaw keeps what it keeps in the session.

/** How a history entry's author is named to the agent. */
export function senderLabel(entry) {
  const s = entry?.sender ?? {};
  const name = s.displayName || s.username || s.id || "unknown";
  const handle = s.username && s.displayName && s.displayName !== s.username ? ` (@${s.username})` : "";
  return entry?.fromSelf ? `${name}${handle} [you]` : `${name}${handle}`;
}

function usable(list) {
  return (Array.isArray(list) ? list : []).filter((e) => e && typeof e.text === "string" && e.text.trim());
}

/** `history` -> OpenClaw HistoryEntry[] (oldest first, as the bridge sends them). */
export function historyEntries(list) {
  return usable(list).map((e) => ({
    sender: senderLabel(e),
    body: e.text,
    ...(typeof e.timestamp === "number" ? { timestamp: e.timestamp } : {}),
    ...(e.messageId ? { messageId: String(e.messageId) } : {}),
  }));
}

/** `threadHistory` -> `supplemental.thread`, or undefined when there is none. */
export function threadContext(list, { threadId, parentSessionKey } = /** @type {any} */ ({})) {
  const entries = usable(list);
  if (!entries.length) return undefined;
  const lines = entries.map((e) => `${senderLabel(e)}: ${e.text}`);
  return {
    ...(threadId ? { id: String(threadId) } : {}),
    starterBody: lines[0],
    historyBody: lines.join("\n"),
    ...(parentSessionKey ? { parentSessionKey } : {}),
  };
}
