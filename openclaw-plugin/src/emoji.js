// Emoji as Rocket.Chat names them. OpenClaw's agent identity carries an emoji as Unicode
// ("🦞"); Rocket.Chat reacts with and shows emoji by name (`chat.react` refuses a name it
// does not know: "Invalid emoji provided."). A name passes as it is; a few common Unicode
// emoji map to their names; anything else gives undefined.
const NAMES = {
  "👀": "eyes", "🦞": "lobster", "🤖": "robot", "👍": "thumbsup", "✅": "white_check_mark",
  "🙂": "slight_smile", "😀": "grinning", "🧠": "brain", "⚡": "zap", "🔥": "fire",
  "🚀": "rocket", "💡": "bulb", "🐙": "octopus", "🦀": "crab", "🐱": "cat", "🐶": "dog",
  "🦉": "owl", "🦊": "fox", "🐧": "penguin", "⭐": "star", "✨": "sparkles", "🛠️": "tools",
  "🔧": "wrench", "📝": "pencil", "👋": "wave", "🎉": "tada", "❤️": "heart",
};

/** An emoji's Rocket.Chat name (no colons), or undefined. */
export function emojiName(emoji) {
  if (typeof emoji !== "string") return undefined;
  const t = emoji.trim();
  if (!t) return undefined;
  const bare = t.replace(/^:|:$/g, "");
  if (/^[A-Za-z0-9_+-]+$/.test(bare)) return bare;
  return NAMES[t] ?? NAMES[t.replace(/\uFE0F/g, "")] ?? undefined;
}

/**
 * The ack reaction: the account's (or channel's) `ackReaction`, else
 * `messages.ackReaction`, else the agent's identity emoji (as OpenClaw's
 * `resolveAckReaction` and Slack's channel do), else "eyes". `""` turns it off. Rocket.Chat
 * reacts by name: a Unicode emoji becomes its name (src/emoji.js); one without a known name
 * falls back to "eyes".
 */
export function ackReactionFor(cfg, account, identity) {
  const own = account?.config?.ackReaction;
  if (typeof own === "string") return own.trim() ? (emojiName(own) ?? own.trim()) : "";
  const global = cfg?.messages?.ackReaction;
  if (typeof global === "string") return global.trim() ? (emojiName(global) ?? global.trim()) : "";
  return emojiName(identity?.emoji) ?? "eyes";
}
