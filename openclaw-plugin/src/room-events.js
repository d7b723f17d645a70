// `roomEvent` notifications (docs/bridge-protocol.md) as the one line the agent reads, in
// the shape of Slack's member/rename/pin system events ("Slack: ... joined #general").
// Pure, so it is tested without OpenClaw.

/** The longest quote of a pinned message: a system event is a line, not the message. */
export const PIN_QUOTE_MAX = 200;

function handle(user) {
  return user?.username ? `@${user.username}` : "someone";
}

function roomLabel(room) {
  return room?.name ? `#${room.name}` : `room ${room?.id ?? "?"}`;
}

function quote(text) {
  const chars = Array.from(String(text ?? ""));
  const cut = chars.length > PIN_QUOTE_MAX ? `${chars.slice(0, PIN_QUOTE_MAX).join("")}…` : chars.join("");
  return JSON.stringify(cut);
}

/** Who did it: the member for joins and leaves, else `by`. */
export function roomEventActor(params) {
  return (params.kind === "joined" || params.kind === "left" ? params.user : params.by) ?? {};
}

/**
 * `{text, contextKey}` for a `roomEvent`, or null for a kind this plugin does not know
 * (a newer bridge): dropped rather than guessed at.
 */
export function roomEventText(params) {
  const room = roomLabel(params.room);
  const by = handle(params.by);
  const user = handle(params.user);
  let line;
  switch (params.kind) {
    case "joined":
      line = `${user} joined ${room}`;
      break;
    case "left":
      line = `${user} left ${room}`;
      break;
    case "added":
      line = `${by} added ${user} to ${room}`;
      break;
    case "removed":
      line = `${by} removed ${user} from ${room}`;
      break;
    case "renamed":
      line = `${by} renamed ${room} to #${params.name ?? ""}`;
      break;
    case "topicChanged":
      line = params.topic ? `${by} changed the topic of ${room} to ${quote(params.topic)}` : `${by} cleared the topic of ${room}`;
      break;
    case "pinned": {
      const author = params.author ? ` by @${params.author}` : "";
      line = `${by} pinned a message${author} in ${room}: ${quote(params.text)}`;
      break;
    }
    default:
      return null;
  }
  const actor = roomEventActor(params);
  // One key per happening: the same event handed over twice is queued once.
  const contextKey = `rc:room:${params.room?.id ?? ""}:${params.kind}:${params.timestamp ?? ""}:${actor.id ?? actor.username ?? ""}:${params.user?.username ?? ""}`;
  return { text: `Rocket.Chat: ${line}`, contextKey };
}
