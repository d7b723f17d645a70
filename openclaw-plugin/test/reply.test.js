// A turn's delivery (src/reply.js): which OpenClaw reply options each streaming mode
// sets, and what `deliver` asks of the bridge. The bridge is a recording fake.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createReplyDelivery, payloadMedia } from "../src/reply.js";
import { idempotencyKey, isValidIdempotencyKey } from "../src/keys.js";

function fakeBridge() {
  const calls = [];
  let n = 0;
  return {
    calls,
    request: async (method, params) => {
      calls.push({ method, params });
      return method === "send" ? { messageIds: [`m${++n}`] } : {};
    },
  };
}

const msg = {
  messageId: "In1",
  conversationId: "rocketchat:ops:channel:GENERAL:thread:T1",
  room: { id: "GENERAL", kind: "public" },
  replyThread: { id: "T1", scope: "all" },
};

/** A clock that never fires timers: only the first post happens without finalize. */
const stillClock = { now: () => 0, setTimer: () => ({}), clearTimer: () => {} };

test("off: no streaming options; each payload is one send with replyThread", async () => {
  const bridge = fakeBridge();
  const r = createReplyDelivery({ request: bridge.request, accountId: "ops", msg, account: { config: {} } });
  assert.equal(r.mode, "off");
  assert.deepEqual(r.replyOptions, {});
  const out = await r.deliver({ text: "hello" }, { kind: "final" });
  assert.deepEqual(out, { visibleReplySent: true, messageIds: ["m1"] });
  assert.deepEqual(bridge.calls, [{ method: "send", params: { target: msg.conversationId, text: "hello", replyThread: msg.replyThread, idempotencyKey: idempotencyKey("ops", "In1", "reply", 0) } }]);
  assert.deepEqual(await r.deliver({ text: "  " }, { kind: "final" }), { visibleReplySent: false, messageIds: [] });
});

test("block: OpenClaw block streaming on; every block is its own message", async () => {
  const bridge = fakeBridge();
  const r = createReplyDelivery({ request: bridge.request, accountId: "ops", msg, account: { config: { streaming: { mode: "block" } } } });
  assert.deepEqual(r.replyOptions, { disableBlockStreaming: false });
  await r.deliver({ text: "part one" }, { kind: "block" });
  await r.deliver({ text: "part two" }, { kind: "block" });
  assert.deepEqual(bridge.calls.map((c) => [c.method, c.params.text]), [["send", "part one"], ["send", "part two"]]);
});

test("partial: partials post a preview, the final payload edits it; tool payloads are separate messages", async () => {
  const bridge = fakeBridge();
  const r = createReplyDelivery({ request: bridge.request, accountId: "ops", msg, account: { config: { streaming: "partial", textChunkLimit: 100 } }, clock: stillClock });
  assert.equal(r.replyOptions.disableBlockStreaming, true, "no block streaming beside the preview");
  r.replyOptions.onPartialReply({ text: "Hel" });
  await new Promise((res) => setImmediate(res));
  assert.equal(r.replyOptions.onPartialReply({ text: "Hello" }), true, "visible once posted");
  await r.deliver({ text: "tool said" }, { kind: "tool" });
  const out = await r.deliver({ text: "Hello world" }, { kind: "final" });
  assert.deepEqual(out, { visibleReplySent: true, messageIds: ["m1"] });
  assert.deepEqual(bridge.calls.map((c) => [c.method, c.params.messageId ?? null, c.params.text]), [
    ["send", null, "Hel"],
    ["send", null, "tool said"],
    ["edit", "m1", "Hello world"],
  ]);
  r.replyOptions.onPartialReply({ text: "late" });
  await r.onFinalize();
  assert.equal(bridge.calls.length, 3, "no new preview after the final payload");
});

test("partial: a turn that ends without a final payload leaves the preview at its newest text", async () => {
  const bridge = fakeBridge();
  const r = createReplyDelivery({ request: bridge.request, accountId: "ops", msg, account: { config: { streaming: "partial" } }, clock: stillClock });
  r.replyOptions.onPartialReply({ text: "Half" });
  await new Promise((res) => setImmediate(res));
  r.replyOptions.onPartialReply({ text: "Half an answer" });
  await r.onFinalize();
  assert.deepEqual(bridge.calls.map((c) => [c.method, c.params.text]), [["send", "Half"], ["edit", "Half an answer"]]);
});

test("reply media go to sendMedia after the text, in the reply's thread", async () => {
  const bridge = fakeBridge();
  const sent = [];
  const r = createReplyDelivery({
    request: bridge.request, accountId: "ops", msg, account: { config: {} },
    sendMedia: async (url, opts) => { sent.push([url, opts]); return [`f${sent.length}`]; },
  });
  const out = await r.deliver({ text: "see", mediaUrl: "/w/a.png", mediaUrls: ["/w/a.png", "https://x/b.pdf"] }, { kind: "final" });
  assert.deepEqual(out.messageIds, ["m1", "f1", "f2"]);
  assert.deepEqual(sent, [["/w/a.png", { replyThread: msg.replyThread }], ["https://x/b.pdf", { replyThread: msg.replyThread }]]);
  assert.deepEqual(payloadMedia({ mediaUrls: ["", null, "u"] }), ["u"]);
});

test("every reply send carries an idempotency key from (account, message, reply index), the same on a second delivery of the turn", async () => {
  const keysOf = async () => {
    const bridge = fakeBridge();
    const r = createReplyDelivery({ request: bridge.request, accountId: "ops", msg, account: { config: {} } });
    await r.deliver({ text: "one" }, { kind: "block" });
    await r.deliver({ text: "two" }, { kind: "final" });
    return bridge.calls.map((c) => c.params.idempotencyKey);
  };
  const first = await keysOf();
  const again = await keysOf(); // the same turn delivered again (a retry after a restart)
  assert.equal(first.length, 2);
  assert.ok(first.every(isValidIdempotencyKey), JSON.stringify(first));
  assert.notEqual(first[0], first[1], "two replies, two keys");
  assert.deepEqual(again, first, "a redelivery carries the same keys");
  const other = createReplyDelivery({ request: fakeBridge().request, accountId: "dev", msg, account: { config: {} } });
  assert.ok(other, "");
  assert.notEqual(idempotencyKey("dev", "In1", "reply", 0), first[0], "another account, another key");
});

test("a reply goes through the bridge of send time: a bridge that restarted mid-turn still gets it", async () => {
  let current = fakeBridge();
  const oldBridge = current;
  const r = createReplyDelivery({ request: (m, p) => current.request(m, p), accountId: "ops", msg, account: { config: {} } });
  await r.deliver({ text: "before" }, { kind: "block" });
  current = fakeBridge(); // the account restarted its bridge
  await r.deliver({ text: "after" }, { kind: "final" });
  assert.deepEqual(oldBridge.calls.map((c) => c.params.text), ["before"]);
  assert.deepEqual(current.calls.map((c) => c.params.text), ["after"]);
});
