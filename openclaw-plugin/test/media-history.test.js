// Attachments in and out (src/media.js), history context (src/history.js), and the new
// config keys on the bridge config line. OpenClaw itself is faked: save / load / request
// are injected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { attachmentNote, collectInboundMedia, discardAttachments, isTooLargeError, mediaMaxBytes, safeFileName, sendMediaFile } from "../src/media.js";
import { historyEntries, senderLabel, threadContext } from "../src/history.js";
import { buildBridgeConfig, configPathOf, threadInheritParent, threadParentSessionKey } from "../src/config.js";

const scratch = () => mkdtempSync(join(tmpdir(), "rc-plugin-test-"));

test("inbound attachments: files are handed over and deleted; missing ones become notes", async () => {
  const dir = scratch();
  const png = join(dir, "a1");
  writeFileSync(png, "PNGDATA");
  const saved = [];
  const { media, notes } = await collectInboundMedia([
    { id: "a1", name: "cat.png", mimeType: "image/png", size: 7, path: png, error: null },
    { id: "a2", name: "report.pdf", mimeType: "application/pdf", size: 99e6, path: null, error: "tooLarge" },
    { id: "a3", name: "x.bin", mimeType: null, size: 1, path: null, error: "failed" },
  ], {
    messageId: "M1",
    save: async (buffer, mimeType, name) => {
      saved.push({ data: buffer.toString(), mimeType, name });
      return { path: "/store/inbound/cat---1.png", contentType: "image/png" };
    },
  });
  assert.deepEqual(saved, [{ data: "PNGDATA", mimeType: "image/png", name: "cat.png" }]);
  assert.deepEqual(media, [{ path: "/store/inbound/cat---1.png", contentType: "image/png", fileName: "cat.png", messageId: "M1" }]);
  assert.deepEqual(notes, ["[file report.pdf not downloaded: too large]", "[file x.bin not downloaded: failed]"]);
  assert.equal(existsSync(png), false, "the bridge's file is deleted");
});

test("inbound attachments: a failed hand-over still deletes the bridge's file", async () => {
  const dir = scratch();
  const f = join(dir, "a1");
  writeFileSync(f, "x");
  const { media, notes } = await collectInboundMedia([{ name: "doc.txt", path: f }], {
    save: async () => { throw new Error("store full"); },
  });
  assert.deepEqual(media, []);
  assert.deepEqual(notes, ["[file doc.txt could not be read]"]);
  assert.equal(existsSync(f), false);
});

test("a message that is not dispatched leaves no bridge file behind", async () => {
  const dir = scratch();
  const f = join(dir, "a1");
  writeFileSync(f, "x");
  await discardAttachments([{ name: "a.txt", path: f }, { name: "b.pdf", path: null, error: "tooLarge" }]);
  assert.equal(existsSync(f), false);
  await discardAttachments(undefined);
});

test("notes, size caps, file names, too-large errors", () => {
  assert.equal(attachmentNote({ name: "r.pdf", error: "tooLarge" }), "[file r.pdf not downloaded: too large]");
  assert.equal(mediaMaxBytes({ config: {} }), 20 * 1024 * 1024);
  assert.equal(mediaMaxBytes({ config: { mediaMaxMb: 1.5 } }), 1.5 * 1024 * 1024);
  assert.equal(safeFileName("../../etc/passwd"), "passwd");
  assert.equal(safeFileName(""), "file");
  assert.equal(isTooLargeError(new Error("Media exceeds 20 MB limit")), true);
  assert.equal(isTooLargeError({ kind: "tooLarge" }), true);
  assert.equal(isTooLargeError(new Error("ENOENT")), false);
});

/** A fake bridge `request` that records calls and looks at the file while it is asked. */
function fakeRequest({ failWith } = {}) {
  const calls = [];
  const request = async (method, params) => {
    const entry = { method, params };
    if (method === "sendFile") {
      entry.file = { data: readFileSync(params.path, "utf8"), mode: statSync(params.path).mode & 0o777, dirMode: statSync(dirname(params.path)).mode & 0o777 };
    }
    calls.push(entry);
    if (method === "sendFile" && failWith) throw failWith;
    return { messageIds: [`m${calls.length}`] };
  };
  return { calls, request };
}

test("sendFile: a private temp file with the bytes, the caption and thread; removed afterwards", async () => {
  const { calls, request } = fakeRequest();
  const ids = await sendMediaFile({
    url: "https://cdn.example/files/chart%201.png?sig=x",
    caption: "here it is",
    target: "rocketchat:ops:channel:GENERAL",
    replyThread: { id: "T1", scope: "all" },
    maxBytes: 1024,
    load: async (url, max) => {
      assert.equal(max, 1024, "the cap is passed to the loader");
      return { buffer: Buffer.from("IMAGEBYTES"), contentType: "image/png" };
    },
    request,
  });
  assert.deepEqual(ids, ["m1"]);
  const [call] = calls;
  assert.equal(call.method, "sendFile");
  assert.equal(call.params.name, "chart 1.png", "name from the URL path");
  assert.equal(call.params.mimeType, "image/png");
  assert.equal(call.params.caption, "here it is");
  assert.deepEqual(call.params.replyThread, { id: "T1", scope: "all" });
  assert.equal(call.file.data, "IMAGEBYTES");
  assert.equal(call.file.mode, 0o600, "file private");
  assert.equal(call.file.dirMode, 0o700, "dir private");
  assert.equal(existsSync(call.params.path), false, "temp file removed");
});

test("sendFile: over the cap (loader or bridge) becomes a short text in the room", async () => {
  const a = fakeRequest();
  await sendMediaFile({
    url: "/tmp/big.iso", target: "R1", maxBytes: 2 * 1024 * 1024,
    load: async () => { throw new Error("Media exceeds 2 MB limit"); },
    request: a.request,
  });
  assert.deepEqual(a.calls.map((c) => [c.method, c.params.text]), [["send", "I can't send big.iso: it is over the 2 MB limit."]]);

  const tooLarge = Object.assign(new Error("too large"), { kind: "tooLarge", data: { limitBytes: 5 * 1024 * 1024 } });
  const b = fakeRequest({ failWith: tooLarge });
  await sendMediaFile({
    url: "/x/report.pdf", target: "R1", maxBytes: 20 * 1024 * 1024,
    load: async () => ({ buffer: Buffer.from("pdf"), fileName: "report.pdf" }),
    request: b.request,
  });
  assert.deepEqual(b.calls.map((c) => c.method), ["sendFile", "send"]);
  assert.equal(b.calls[1].params.text, "I can't send report.pdf: it is over the 5 MB limit.");
  assert.equal(existsSync(b.calls[0].params.path), false, "temp file removed after a refusal too");
});

test("sendFile: other failures propagate (and still clean up)", async () => {
  const boom = Object.assign(new Error("disconnected"), { kind: "disconnected" });
  const f = fakeRequest({ failWith: boom });
  await assert.rejects(sendMediaFile({
    url: "/x/a.txt", target: "R1", maxBytes: 100, load: async () => ({ buffer: Buffer.from("a") }), request: f.request,
  }), /disconnected/);
  assert.equal(existsSync(f.calls[0].params.path), false);
});

test("history: entries for OpenClaw's chat window, oldest first; self marked; blanks dropped", () => {
  const h = historyEntries([
    { messageId: "h1", timestamp: 1, sender: { id: "u1", username: "alice", displayName: "Alice" }, text: "first", threadId: null, fromSelf: false },
    { messageId: "h2", timestamp: 2, sender: { id: "b", username: "opsbot", displayName: "opsbot" }, text: "bot said", threadId: null, fromSelf: true },
    { messageId: "h3", timestamp: 3, sender: { id: "u2", username: "bob" }, text: "  ", fromSelf: false },
  ]);
  assert.deepEqual(h, [
    { sender: "Alice (@alice)", body: "first", timestamp: 1, messageId: "h1" },
    { sender: "opsbot [you]", body: "bot said", timestamp: 2, messageId: "h2" },
  ]);
  assert.deepEqual(historyEntries(undefined), []);
  assert.equal(senderLabel({ sender: { username: "bob" } }), "bob");
});

test("thread history: starter and the whole seed as supplemental thread context", () => {
  assert.equal(threadContext([]), undefined);
  const t = threadContext([
    { messageId: "r", sender: { username: "alice" }, text: "root question" },
    { messageId: "x", sender: { username: "bob" }, text: "a reply" },
  ], { threadId: "r", parentSessionKey: "agent:ops:rocketchat:channel:general" });
  assert.deepEqual(t, {
    id: "r",
    starterBody: "alice: root question",
    historyBody: "alice: root question\nbob: a reply",
    parentSessionKey: "agent:ops:rocketchat:channel:general",
  });
});

test("config line: media and history keys pass through; Slack's thread.initialHistoryLimit maps", () => {
  const account = {
    accountId: "ops",
    config: { serverUrl: "https://x", mediaMaxMb: 5, mediaDir: "/var/rc", historyLimit: 10, dmHistoryLimit: 2, thread: { initialHistoryLimit: 7 }, streaming: "partial" },
  };
  const line = buildBridgeConfig(account, "tok", []);
  assert.equal(line.mediaMaxMb, 5);
  assert.equal(line.mediaDir, "/var/rc");
  assert.equal(line.historyLimit, 10);
  assert.equal(line.dmHistoryLimit, 2);
  assert.equal(line.threadInitialHistoryLimit, 7);
  assert.equal("thread" in line, false, "Slack's spelling is not passed as is");
  assert.equal("streaming" in line, false, "streaming is the plugin's");
  const own = buildBridgeConfig({ accountId: "a", config: { threadInitialHistoryLimit: 3, thread: { initialHistoryLimit: 9 } } }, "t", []);
  assert.equal(own.threadInitialHistoryLimit, 3, "the bridge's own key wins");
  const none = buildBridgeConfig({ accountId: "a", config: {} }, "t", []);
  assert.equal("mediaMaxMb" in none || "historyLimit" in none || "threadInitialHistoryLimit" in none, false, "unset keys are left to the bridge's defaults");
});

test("config line: Slack's thread.historyScope maps to threadHistoryScope; inheritParent stays the plugin's; dms pass through", () => {
  const line = buildBridgeConfig({
    accountId: "a",
    config: { thread: { historyScope: "channel", inheritParent: true }, dms: { uA: { historyLimit: 4 } } },
  }, "t", []);
  assert.equal(line.threadHistoryScope, "channel");
  assert.equal("thread" in line, false, "thread.* is not a bridge key");
  assert.equal("inheritParent" in line, false);
  assert.deepEqual(line.dms, { uA: { historyLimit: 4 } });
  const own = buildBridgeConfig({ accountId: "a", config: { threadHistoryScope: "thread", thread: { historyScope: "channel" } } }, "t", []);
  assert.equal(own.threadHistoryScope, "thread", "the bridge's own key wins");
  const none = buildBridgeConfig({ accountId: "a", config: {} }, "t", []);
  assert.equal("threadHistoryScope" in none, false, "Slack's default (thread) is the bridge's");
  // A refused threadHistoryScope is named as the operator wrote it.
  const cfg = { channels: { rocketchat: { thread: { historyScope: "x" } } } };
  assert.equal(configPathOf(cfg, "default", "threadHistoryScope"), "channels.rocketchat.thread.historyScope");
});

test("thread.inheritParent: a thread session names the room's as its parent only when set (Slack's default: off)", () => {
  const room = "agent:ops:rocketchat:channel:general";
  const off = { config: {} };
  const on = { config: { thread: { inheritParent: true } } };
  assert.equal(threadInheritParent(off), false);
  assert.equal(threadInheritParent({ config: { thread: { inheritParent: "yes" } } }), false, "only true");
  assert.equal(threadParentSessionKey(off, { threadId: "r", roomSessionKey: room }), undefined);
  assert.equal(threadParentSessionKey(on, { threadId: "r", roomSessionKey: room }), room);
  assert.equal(threadParentSessionKey(on, { threadId: undefined, roomSessionKey: room }), undefined, "not outside a thread");
});
