// Idempotency keys for bridge sends (contracts.md, "Idempotent sends"): 1..=40 characters
// of [A-Za-z0-9_-], derived only from what identifies the delivery, so a retried or a
// restarted delivery of the same reply carries the same key and the bridge posts it once
// (chunk 0 with the key as its message id, chunk n with `<key>-<n>`).
import { createHash } from "node:crypto";

const KEY_LENGTH = 24;

/**
 * A deterministic key for the parts that identify one delivery, e.g.
 * (accountId, inbound messageId, reply index).
 * @param {...(string | number | null | undefined)} parts
 */
export function idempotencyKey(...parts) {
  const digest = createHash("sha256").update(parts.map((p) => String(p ?? "")).join("\u0000")).digest("base64url");
  return `oc${digest.slice(0, KEY_LENGTH - 2)}`;
}

/** True when `key` is one the bridge accepts. */
export function isValidIdempotencyKey(key) {
  return typeof key === "string" && /^[A-Za-z0-9_-]{1,40}$/.test(key);
}
