// `roomEvent` notifications become one system-event line each, like Slack's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PIN_QUOTE_MAX, roomEventActor, roomEventText } from "../src/room-events.js";

const room = { id: "GENERAL", kind: "public", name: "general" };
const base = { conversationId: "rocketchat:default:channel:GENERAL", room, timestamp: 1700000000000 };
const alice = { id: "uA", username: "alice" };
const carol = { id: "uC", username: "carol" };

test("each kind reads as one Rocket.Chat line", () => {
  const cases = [
    [{ kind: "joined", user: carol }, "Rocket.Chat: @carol joined #general"],
    [{ kind: "left", user: carol }, "Rocket.Chat: @carol left #general"],
    [{ kind: "added", user: { id: null, username: "zed" }, by: alice }, "Rocket.Chat: @alice added @zed to #general"],
    [{ kind: "removed", user: carol, by: alice }, "Rocket.Chat: @alice removed @carol from #general"],
    [{ kind: "renamed", name: "town-square", by: alice }, "Rocket.Chat: @alice renamed #general to #town-square"],
    [{ kind: "topicChanged", topic: "Q3 planning", by: alice }, 'Rocket.Chat: @alice changed the topic of #general to "Q3 planning"'],
    [{ kind: "topicChanged", topic: "", by: alice }, "Rocket.Chat: @alice cleared the topic of #general"],
    [{ kind: "pinned", text: "ship it friday", author: "carol", by: alice }, 'Rocket.Chat: @alice pinned a message by @carol in #general: "ship it friday"'],
    [{ kind: "pinned", text: "no author", by: alice }, 'Rocket.Chat: @alice pinned a message in #general: "no author"'],
  ];
  for (const [fields, want] of cases) {
    assert.equal(roomEventText({ ...base, ...fields })?.text, want, fields.kind);
  }
});

test("a room without a name is named by id; a long pinned text is cut", () => {
  const e = roomEventText({ ...base, room: { id: "R9", kind: "private", name: null }, kind: "joined", user: carol });
  assert.equal(e.text, "Rocket.Chat: @carol joined room R9");
  const long = "x".repeat(PIN_QUOTE_MAX + 50);
  const pin = roomEventText({ ...base, kind: "pinned", text: long, by: alice });
  assert.ok(pin.text.endsWith(`"${"x".repeat(PIN_QUOTE_MAX)}…"`), pin.text);
});

test("the actor is the member for joins and leaves, else who did it", () => {
  assert.deepEqual(roomEventActor({ kind: "joined", user: carol }), carol);
  assert.deepEqual(roomEventActor({ kind: "added", user: carol, by: alice }), alice);
  assert.deepEqual(roomEventActor({ kind: "pinned", by: alice }), alice);
});

test("context keys: the same event twice is one key, two events two keys", () => {
  const join = { ...base, kind: "joined", user: carol };
  assert.equal(roomEventText(join).contextKey, roomEventText({ ...join }).contextKey);
  assert.notEqual(roomEventText(join).contextKey, roomEventText({ ...join, kind: "left" }).contextKey);
  assert.notEqual(roomEventText(join).contextKey, roomEventText({ ...join, timestamp: base.timestamp + 1 }).contextKey);
  const added = (who) => roomEventText({ ...base, kind: "added", user: { id: null, username: who }, by: alice }).contextKey;
  assert.notEqual(added("zed"), added("yan"));
});

test("a kind this plugin does not know is dropped, not guessed at", () => {
  assert.equal(roomEventText({ ...base, kind: "archived", by: alice }), null);
});
