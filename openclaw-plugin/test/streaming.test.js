// The streaming-preview state machine (src/streaming.js) with a fake clock and a fake
// bridge whose calls resolve only when the test says so: no real time is involved.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PreviewStream, resolveStreaming } from "../src/streaming.js";

/** A clock whose timers run only on advance(). */
function fakeClock() {
  let now = 0;
  let timers = [];
  return {
    now: () => now,
    setTimer: (fn, ms) => {
      const t = { at: now + ms, fn };
      timers.push(t);
      return t;
    },
    clearTimer: (t) => { timers = timers.filter((x) => x !== t); },
    advance(ms) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.fn();
    },
    get pending() { return timers.length; },
  };
}

/** A bridge whose calls are recorded and stay pending until settled (or auto-settle). */
function fakeIo({ auto = true, failEdit = () => false } = {}) {
  const calls = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let next = 1;
  const call = (method, args, result) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let settle;
    const p = new Promise((resolve, reject) => {
      settle = (ok = true) => {
        inFlight -= 1;
        if (ok) resolve(result());
        else reject(new Error(`${method} failed`));
      };
    });
    const entry = { method, args, settle };
    calls.push(entry);
    if (auto) queueMicrotask(() => settle(!(method === "edit" && failEdit(args))));
    return p;
  };
  return {
    calls,
    get maxInFlight() { return maxInFlight; },
    io: {
      send: (text) => call("send", { text }, () => [`m${next++}`]),
      edit: (id, text) => call("edit", { id, text }, () => ({})),
      remove: (id) => call("delete", { id }, () => ({})),
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

test("streaming config: strings, Slack's object form, defaults", () => {
  assert.deepEqual(resolveStreaming(undefined), { mode: "off", throttleMs: 1000 });
  assert.deepEqual(resolveStreaming("partial"), { mode: "partial", throttleMs: 1000 });
  assert.deepEqual(resolveStreaming({ mode: "block" }), { mode: "block", throttleMs: 1000 });
  assert.deepEqual(resolveStreaming({ mode: "Partial", throttleMs: 250 }), { mode: "partial", throttleMs: 250 });
  assert.deepEqual(resolveStreaming("progress"), { mode: "off", throttleMs: 1000 });
  assert.deepEqual(resolveStreaming({ throttleMs: -5 }), { mode: "off", throttleMs: 1000 });
});

test("first partial posts the preview; later ones edit it at most once per throttle, newest text", async () => {
  const clock = fakeClock();
  const f = fakeIo();
  const s = new PreviewStream({ io: f.io, clock, throttleMs: 1000 });
  s.update("He");
  await flush();
  assert.deepEqual(f.calls.map((c) => c.method), ["send"]);
  assert.equal(s.visible, true);
  s.update("Hell");
  s.update("Hello");
  s.update("Hello wor");
  await flush();
  assert.equal(f.calls.length, 1, "no edit before the throttle interval");
  clock.advance(999);
  await flush();
  assert.equal(f.calls.length, 1, "still throttled");
  clock.advance(1);
  await flush();
  assert.deepEqual(f.calls.map((c) => c.method), ["send", "edit"]);
  assert.deepEqual(f.calls[1].args, { id: "m1", text: "Hello wor" }, "edits with the newest text");
  assert.equal(clock.pending, 0, "nothing more to do");
});

test("never two bridge calls in flight: updates during a slow edit are coalesced", async () => {
  const clock = fakeClock();
  const f = fakeIo({ auto: false });
  const s = new PreviewStream({ io: f.io, clock, throttleMs: 100 });
  s.update("a");
  f.calls[0].settle();
  await flush();
  s.update("ab");
  clock.advance(100);
  await flush();
  assert.equal(f.calls.length, 2, "edit started");
  s.update("abc");
  s.update("abcd");
  clock.advance(500);
  await flush();
  assert.equal(f.calls.length, 2, "no second call while the edit is in flight");
  f.calls[1].settle();
  await flush();
  assert.equal(f.calls.length, 3, "the next edit starts once the first landed (interval already passed)");
  assert.equal(f.calls[2].args.text, "abcd");
  f.calls[2].settle();
  await flush();
  assert.equal(f.maxInFlight, 1);
});

test("finalize edits the preview in place with the whole text and sends nothing else", async () => {
  const clock = fakeClock();
  const f = fakeIo();
  const s = new PreviewStream({ io: f.io, clock, throttleMs: 1000 });
  s.update("partial");
  await flush();
  s.update("partial text");
  const r = await s.finalize("partial text, done.");
  assert.deepEqual(r, { messageIds: ["m1"] });
  assert.deepEqual(f.calls.map((c) => [c.method, c.args.text]), [["send", "partial"], ["edit", "partial text, done."]]);
  assert.equal(clock.pending, 0, "the throttle timer was cancelled");
  s.update("late partial");
  await flush();
  assert.equal(f.calls.length, 2, "no preview activity after finalize");
});

test("finalize waits for the post in flight, then edits that message", async () => {
  const f = fakeIo({ auto: false });
  const s = new PreviewStream({ io: f.io, clock: fakeClock(), throttleMs: 1000 });
  s.update("first");
  const done = s.finalize("first and last");
  await flush();
  assert.equal(f.calls.length, 1, "finalize does not race the post");
  f.calls[0].settle();
  await flush();
  assert.deepEqual(f.calls[1].args, { id: "m1", text: "first and last" });
  f.calls[1].settle();
  assert.deepEqual(await done, { messageIds: ["m1"] });
});

test("finalize without any preview just sends", async () => {
  const f = fakeIo();
  const s = new PreviewStream({ io: f.io, clock: fakeClock() });
  assert.deepEqual(await s.finalize("whole"), { messageIds: ["m1"] });
  assert.deepEqual(f.calls.map((c) => c.method), ["send"]);
});

test("a final text over the chunk limit deletes the preview and sends the whole text", async () => {
  const f = fakeIo();
  const s = new PreviewStream({ io: f.io, clock: fakeClock(), chunkLimit: 10 });
  s.update("short");
  await flush();
  s.update("this is far too long");
  await flush();
  assert.equal(f.calls.length, 1, "an over-long partial is not previewed");
  const r = await s.finalize("this is far too long, the end");
  assert.deepEqual(f.calls.map((c) => [c.method, c.args.id ?? c.args.text]), [["send", "short"], ["delete", "m1"], ["send", "this is far too long, the end"]]);
  assert.deepEqual(r, { messageIds: ["m2"] });
});

test("a failed final edit falls back to a fresh send and deletes the stale preview", async () => {
  const f = fakeIo({ failEdit: () => true });
  const s = new PreviewStream({ io: f.io, clock: fakeClock(), throttleMs: 0 });
  s.update("one");
  await flush();
  s.update("one two");
  await flush();
  assert.deepEqual(f.calls.map((c) => c.method), ["send", "edit"], "the failed edit stops previews");
  s.update("one two three");
  await flush();
  assert.equal(f.calls.length, 2, "no more edits after a failure");
  const r = await s.finalize("one two three four");
  assert.deepEqual(f.calls.slice(2).map((c) => [c.method, c.args.id ?? c.args.text]), [["edit", "m1"], ["send", "one two three four"], ["delete", "m1"]]);
  assert.deepEqual(r, { messageIds: ["m2"] });
});

test("a failed preview post means no previews; finalize sends the text", async () => {
  const f = fakeIo({ auto: false });
  const s = new PreviewStream({ io: f.io, clock: fakeClock(), throttleMs: 0 });
  s.update("x");
  f.calls[0].settle(false);
  await flush();
  s.update("xy");
  await flush();
  assert.equal(f.calls.length, 1, "no retry of the preview");
  const done = s.finalize("xyz");
  await flush();
  f.calls[1].settle();
  assert.deepEqual(await done, { messageIds: ["m1"] });
  assert.equal(f.calls[1].method, "send");
});
