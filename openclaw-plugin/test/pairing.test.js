// The approval notice reaches the approved user from the process that approved: the
// gateway's bridge when there is one, else the gateway's `send` (the CLI's case).
import { test } from "node:test";
import assert from "node:assert/strict";
import { APPROVED_MESSAGE, notifyApproval } from "../src/pairing.js";
import { registry } from "../src/registry.js";
import { isValidIdempotencyKey } from "../src/keys.js";

const cfg = { channels: { rocketchat: { accounts: { ops: { userId: "b" } } } } };

test("from a CLI process (no bridge here): the notice goes through the gateway's send, to the user's DM", async () => {
  const calls = [];
  await notifyApproval({ cfg, id: "uStranger", accountId: "ops", meta: { username: "stranger", senderId: "uStranger" } }, { callGateway: async (m, p) => { calls.push([m, p]); } });
  assert.equal(calls.length, 1);
  const [method, params] = calls[0];
  assert.equal(method, "send");
  assert.equal(params.channel, "rocketchat");
  assert.equal(params.accountId, "ops");
  assert.equal(params.to, "@stranger");
  assert.equal(params.message, APPROVED_MESSAGE);
  assert.ok(isValidIdempotencyKey(params.idempotencyKey));
});

test("in the gateway: the account's bridge sends it (to the DM room where the code went)", async () => {
  const sent = [];
  registry().set("ops", {
    bridge: { exited: false },
    syncApprovals: async () => { sent.push("synced"); },
    notifyApproved: async (id, text, meta) => { sent.push([id, text, meta?.username]); },
  });
  await notifyApproval({ cfg, id: "uStranger", accountId: "ops", meta: { username: "stranger" } }, { callGateway: async () => { throw new Error("not the gateway path"); } });
  assert.deepEqual(sent, ["synced", ["uStranger", APPROVED_MESSAGE, "stranger"]], "approvals synced first, then the notice");
  registry().delete("ops");
});

test("without a username there is nowhere to send it: a clear error, not silence", async () => {
  await assert.rejects(notifyApproval({ cfg, id: "uX", accountId: "ops", meta: {} }, { callGateway: async () => {} }), /has no username/);
});

test("pending challenges: remembered when the code is sent, handed out once approved, forgotten after an hour; kept in a 0600 file across restarts", async () => {
  const { mkdtempSync, statSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { PendingPairings, PENDING_TTL_MS, noticeTarget, pendingPairingsFile, approvalNoticeKey } = await import("../src/pairing.js");
  const dir = mkdtempSync(join(tmpdir(), "rc-pairing-"));
  const file = pendingPairingsFile(dir, "ops");
  let t = 1_000_000;
  const a = new PendingPairings({ file, now: () => t });
  a.remember("uA", { roomId: "uAbotOps", username: "alice" });
  t += 1000;
  a.remember("uB", { username: "bob" });
  assert.equal(statSync(file).mode & 0o777, 0o600);
  // A restarted account (a new process or generation) reads the same file.
  const b = new PendingPairings({ file, now: () => t });
  assert.deepEqual(b.takeApproved(["uX"]), [], "nobody approved yet");
  assert.deepEqual(b.takeApproved(["uB", "uA"]), [
    { senderId: "uA", roomId: "uAbotOps", username: "alice" },
    { senderId: "uB", roomId: undefined, username: "bob" },
  ]);
  assert.deepEqual(b.takeApproved(["uB", "uA"]), [], "each is told once");
  assert.deepEqual(new PendingPairings({ file }).takeApproved(["uA"]), [], "the file forgot them too");
  b.remember("uC", { username: "carol" });
  t += PENDING_TTL_MS + 1;
  assert.deepEqual(b.takeApproved([]), [], "an expired challenge is dropped");
  assert.equal(b.size, 0);
  assert.equal(noticeTarget({ roomId: "R1", username: "x" }), "R1", "the DM room where the code went");
  assert.equal(noticeTarget({ username: "x" }), "@x", "else the user's DM by name (the bridge opens it)");
  assert.ok(isValidIdempotencyKey(approvalNoticeKey("ops", "uA")));
});
