// Streaming previews (`streaming: "partial"`): one Rocket.Chat message that is posted on
// the first partial reply text and edited in place as the text grows, then finalised.
//
// Why the default is "off": Rocket.Chat marks every edited message as edited (a pencil
// and "edited by" on hover), and each edit is a REST call under the server's rate
// limits; a preview makes every reply look edited. Users opt in.
//
// The state machine here is pure: the bridge calls and the clock are injected, so the
// unit tests drive it with fakes (test/streaming.test.js).

export const STREAMING_MODES = ["off", "partial", "block"];
export const DEFAULT_THROTTLE_MS = 1000;

/**
 * `streaming` as configured: "off" | "partial" | "block", or Slack's object form
 * `{ mode, throttleMs }`. Anything else is "off".
 */
export function resolveStreaming(value) {
  const obj = value && typeof value === "object" ? value : { mode: value };
  const raw = typeof obj.mode === "string" ? obj.mode.trim().toLowerCase() : "off";
  const mode = STREAMING_MODES.includes(raw) ? raw : "off";
  const t = obj.throttleMs;
  const throttleMs = typeof t === "number" && Number.isFinite(t) && t >= 0 ? t : DEFAULT_THROTTLE_MS;
  return { mode, throttleMs };
}

/** The real clock, for production use. */
export const systemClock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (t) => clearTimeout(t),
};

/**
 * One preview message for one assistant reply.
 *
 * - `update(text)`: the newest whole text so far. The first call posts the preview;
 *   later ones edit it, at most one edit per `throttleMs`, always with the newest text,
 *   and never two bridge calls in flight.
 * - `finalize(text)`: the whole reply. Edits the preview in place when the text fits
 *   `chunkLimit`; otherwise deletes the preview and sends the text (the bridge chunks).
 *   If the final edit fails, the text is sent fresh and the stale preview deleted.
 *   Resolves to `{ messageIds }` of the visible reply.
 *
 * io: `{ send(text) -> Promise<string[]>, edit(id, text) -> Promise, remove(id) -> Promise }`.
 */
export class PreviewStream {
  constructor({ io, clock = systemClock, throttleMs = DEFAULT_THROTTLE_MS, chunkLimit = 5000, log = /** @type {any} */ ({}) }) {
    this.io = io;
    this.clock = clock;
    this.throttleMs = throttleMs;
    this.chunkLimit = chunkLimit;
    this.log = log;
    /** The preview's message id once posted. */
    this.messageId = undefined;
    /** The text the preview shows now. */
    this.shown = undefined;
    /** The newest partial text. */
    this.latest = undefined;
    /** When the last bridge call for the preview started. */
    this.lastCallAt = undefined;
    /** The bridge call in flight, if any (there is never more than one). */
    this.inFlight = undefined;
    this.timer = undefined;
    /** Previews stop (no more posts or edits) after a failure or once finalising. */
    this.stopped = false;
    this.finalized = false;
  }

  /** True once the preview message exists. */
  get visible() {
    return this.messageId !== undefined;
  }

  update(text) {
    if (this.stopped || this.finalized || typeof text !== "string" || !text.trim()) return;
    // A preview longer than one message would be chunked into several by the bridge
    // (and could not be edited as one): keep the last one that fit; finalize sends all.
    if (text.length > this.chunkLimit) return;
    this.latest = text;
    this.#pump();
  }

  /** Start the next bridge call if one is due, or arm the timer for when it is. */
  #pump() {
    if (this.stopped || this.finalized || this.inFlight || this.latest === undefined) return;
    if (this.latest === this.shown) return;
    if (this.messageId === undefined) {
      if (this.lastCallAt !== undefined) return; // the post failed: no more previews
      this.#run(() => this.#post(this.latest));
      return;
    }
    const due = this.lastCallAt + this.throttleMs;
    const now = this.clock.now();
    if (now >= due) {
      this.#run(() => this.#edit(this.latest));
    } else if (this.timer === undefined) {
      this.timer = this.clock.setTimer(() => {
        this.timer = undefined;
        this.#pump();
      }, due - now);
    }
  }

  #run(call) {
    this.lastCallAt = this.clock.now();
    const p = call().finally(() => {
      this.inFlight = undefined;
      this.#pump();
    });
    this.inFlight = p;
  }

  async #post(text) {
    try {
      const ids = await this.io.send(text);
      this.messageId = ids?.[0];
      if (this.messageId === undefined) this.stopped = true;
      this.shown = text;
    } catch (err) {
      this.stopped = true;
      this.log.warn?.(`rocketchat: preview post failed: ${err?.message ?? err}`);
    }
  }

  async #edit(text) {
    try {
      await this.io.edit(this.messageId, text);
      this.shown = text;
    } catch (err) {
      // Stop previewing; finalize will edit once more or send fresh.
      this.stopped = true;
      this.log.warn?.(`rocketchat: preview edit failed: ${err?.message ?? err}`);
    }
  }

  async finalize(text) {
    this.finalized = true;
    if (this.timer !== undefined) {
      this.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
    // Let the call in flight land first (its message id may be needed; no two calls at once).
    while (this.inFlight) await this.inFlight.catch(() => {});
    if (this.messageId === undefined) return { messageIds: await this.io.send(text) };
    const removePreview = () => this.io.remove(this.messageId)
      .catch((err) => this.log.warn?.(`rocketchat: deleting the preview failed: ${err?.message ?? err}`));
    if (text.length > this.chunkLimit) {
      // Several messages: the preview goes, the bridge chunks the whole reply.
      await removePreview();
      return { messageIds: await this.io.send(text) };
    }
    if (text === this.shown) return { messageIds: [this.messageId] };
    try {
      await this.io.edit(this.messageId, text);
      this.shown = text;
      return { messageIds: [this.messageId] };
    } catch (err) {
      this.log.warn?.(`rocketchat: final preview edit failed, sending fresh: ${err?.message ?? err}`);
    }
    // The edit failed: a fresh send, and no stale preview left beside it.
    const ids = await this.io.send(text);
    await removePreview();
    return { messageIds: ids };
  }
}
