// Files in both directions.
//
// Inbound: the bridge downloads an admitted message's attachments into its mediaDir and
// hands over the paths (docs/bridge-protocol.md, `attachments`). Each file is copied into
// OpenClaw's media store (the agent reads media from there, sandboxed or not), given to
// the turn as a media fact, and the bridge's copy deleted. Files the bridge could not
// fetch become a short note in the agent's text.
//
// Outbound: a media URL or path (the `message` tool, `openclaw message send --media`,
// media in a reply) is loaded through OpenClaw's media loader (local roots, SSRF guard,
// size cap = mediaMaxMb), written to a private temp file, and posted with the bridge's
// `sendFile`. A file over the limit becomes a short text in the room instead.
//
// The OpenClaw SDK is imported lazily so the pure parts stay unit-testable.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

export const DEFAULT_MEDIA_MAX_MB = 20;

/** `mediaMaxMb` of an account, in bytes. */
export function mediaMaxBytes(account) {
  const mb = Number(account?.config?.mediaMaxMb);
  return Math.floor((mb > 0 ? mb : DEFAULT_MEDIA_MAX_MB) * 1024 * 1024);
}

function formatMb(bytes) {
  const mb = bytes / (1024 * 1024);
  return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
}

/** The agent-facing note for an attachment the bridge did not download. */
export function attachmentNote(att) {
  const name = att?.name || "attachment";
  return att?.error === "tooLarge"
    ? `[file ${name} not downloaded: too large]`
    : `[file ${name} not downloaded: ${att?.error || "failed"}]`;
}

/**
 * The attachments of an admitted message -> `{ media, notes }`.
 * save(buffer, mimeType, name) stores a copy and returns `{ path, contentType }`
 * (OpenClaw's saveMediaBuffer in production). Every bridge file is deleted, whatever happens.
 */
export async function collectInboundMedia(attachments, { save, messageId, log = /** @type {any} */ ({}) }) {
  const media = [];
  const notes = [];
  for (const att of Array.isArray(attachments) ? attachments : []) {
    if (!att?.path) {
      notes.push(attachmentNote(att));
      continue;
    }
    try {
      const buffer = await readFile(att.path);
      const saved = await save(buffer, att.mimeType || undefined, att.name || basename(att.path));
      media.push({
        path: saved.path,
        contentType: saved.contentType ?? att.mimeType ?? undefined,
        fileName: att.name || undefined,
        messageId,
      });
    } catch (err) {
      log.warn?.(`rocketchat: attachment ${att.name ?? att.id} could not be handed over: ${err?.message ?? err}`);
      notes.push(`[file ${att.name || "attachment"} could not be read]`);
    } finally {
      await rm(att.path, { force: true }).catch(() => {});
    }
  }
  return { media, notes };
}

/** Deletes the bridge's files of a message that will not be dispatched. */
export async function discardAttachments(attachments) {
  for (const att of Array.isArray(attachments) ? attachments : []) {
    if (att?.path) await rm(att.path, { force: true }).catch(() => {});
  }
}

/** A loader error that means "over the size cap" (OpenClaw's messages say "exceeds ... limit"). */
export function isTooLargeError(err) {
  if (err?.kind === "tooLarge" || err?.code === "too-large") return true;
  const text = `${err?.message ?? ""} ${err?.cause?.message ?? ""}`;
  return /exceeds .*limit|too large/i.test(text);
}

/** A file name safe to write into our temp dir (no path, no control characters). */
export function safeFileName(name, fallback = "file") {
  const base = basename(String(name ?? "")).replace(/[\u0000-\u001f/\\]/g, "_").trim();
  return base && base !== "." && base !== ".." ? base.slice(0, 200) : fallback;
}

function nameFromUrl(url) {
  try {
    if (/^https?:\/\//i.test(url)) return decodeURIComponent(new URL(url).pathname.split("/").pop() || "");
  } catch {
    // fall through
  }
  return basename(url.replace(/^file:\/\//i, ""));
}

/**
 * Posts one file through the bridge.
 * load(url, maxBytes) -> `{ buffer, contentType?, fileName? }`; send/sendFile are bridge calls.
 * Returns the posted message ids (the too-large notice's, when it came to that).
 */
/** @param {any} p */
export async function sendMediaFile({ url, caption, target, replyThread, threadId, maxBytes, load, request, log = /** @type {any} */ ({}) }) {
  const notice = async (name, limitBytes) => {
    const text = `I can't send ${name}: it is over the ${formatMb(limitBytes ?? maxBytes)} limit.`;
    const r = await request("send", { target, text, replyThread: replyThread ?? null, threadId });
    return r?.messageIds ?? [];
  };
  const guessedName = safeFileName(nameFromUrl(url));
  let media;
  try {
    media = await load(url, maxBytes);
  } catch (err) {
    if (isTooLargeError(err)) return notice(guessedName);
    throw err;
  }
  if (media.buffer.length > maxBytes) return notice(guessedName);
  const name = safeFileName(media.fileName || guessedName);
  // mkdtemp makes the directory 0700: the file is private until the bridge has read it.
  const dir = await mkdtemp(join(tmpdir(), "openclaw-rocketchat-"));
  try {
    const path = join(dir, name);
    await writeFile(path, media.buffer, { mode: 0o600 });
    const result = await request("sendFile", {
      target,
      path,
      name,
      ...(media.contentType ? { mimeType: media.contentType } : {}),
      ...(caption ? { caption } : {}),
      replyThread: replyThread ?? null,
      ...(threadId ? { threadId } : {}),
    });
    return result?.messageIds ?? [];
  } catch (err) {
    if (err?.kind === "tooLarge") {
      log.info?.(`rocketchat: ${name} refused as too large`);
      return notice(name, err.data?.limitBytes);
    }
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * OpenClaw's outbound media loader (local roots / host read access / remote with SSRF
 * guard), without image re-encoding: the file goes up as it is.
 */
export async function loadOutboundMedia(url, maxBytes, { mediaAccess, mediaLocalRoots, mediaReadFile } = /** @type {any} */ ({})) {
  const [{ loadWebMediaRaw }, { buildOutboundMediaLoadOptions }] = await Promise.all([
    import("openclaw/plugin-sdk/web-media"),
    import("openclaw/plugin-sdk/media-runtime"),
  ]);
  return loadWebMediaRaw(url, buildOutboundMediaLoadOptions({ maxBytes, mediaAccess, mediaLocalRoots, mediaReadFile }));
}
