// Rocket.Chat channel for OpenClaw.
//
// # Layout
// - index.js          the plugin definition (adapters) and entry
// - src/config.js     accounts, config merging, secret resolution, the bridge config line
// - src/bridge.js     the `bridge serve` child process and its JSON-RPC over stdio
// - src/gateway.js    startAccount / probe: one bridge per account, a registry on globalThis
// - src/inbound.js    admitted messages -> runtime.channel.inbound.run; pairing; system events
// - src/reply.js      a turn's delivery and streaming previews (src/streaming.js)
// - src/media.js      attachments in (to OpenClaw's media store) and files out (bridge sendFile)
// - src/history.js    the bridge's room / thread history -> OpenClaw's inbound context
// - src/ids.js        session conversations (OpenClaw's resolveSessionConversation)
// - src/rooms.js      the agent's per-room policy: tools (groups.resolveToolPolicy), skills, systemPrompt
//
// The Rust bridge owns policy, threading and chunking; this layer only translates.
import { createChatChannelPlugin, defineChannelPluginEntry } from "openclaw/plugin-sdk/channel-core";
import { jsonResult } from "openclaw/plugin-sdk/channel-actions";
import { resolveScopeToolsPolicy } from "openclaw/plugin-sdk/channel-policy";
import { CHANNEL, DEFAULT_ACCOUNT_ID, defaultAccountId, resolveAccount } from "./src/config.js";
import { loadOutboundMedia, mediaMaxBytes, sendMediaFile } from "./src/media.js";
import { bridgeSnapshot, registry, requestCurrent, setRuntime, startAccount } from "./src/gateway.js";
import { resolveSessionConversation } from "./src/ids.js";
import { resolveRoomToolPolicy } from "./src/rooms.js";
import { formatProbe, listDirectory, probeAccount, resolveTargets } from "./src/oneshot.js";
import { setupBase, tokenInfo } from "./src/plugin-setup.js";
import { idempotencyKey } from "./src/keys.js";
import { identityParam } from "./src/reply.js";
import { APPROVED_MESSAGE, notifyApproval } from "./src/pairing.js";

function str(params, ...keys) {
  for (const k of keys) {
    const v = params?.[k];
    if (typeof v === "string" && v.trim()) return v.trim();
    if (typeof v === "number") return String(v);
  }
  return undefined;
}

/** Media sources in `message` action params (`--media` gives `media` / `mediaUrl(s)`). */
function mediaOf(params) {
  const all = [params?.media, params?.mediaUrl, ...(Array.isArray(params?.mediaUrls) ? params.mediaUrls : [])];
  return [...new Set(all.filter((u) => typeof u === "string" && u.trim()).map((u) => u.trim()))];
}

/**
 * Posts files through the bridge (the first carries the text as its caption).
 * media: { mediaAccess, mediaLocalRoots, mediaReadFile } from the host's context.
 */
async function sendFiles({ accountId, cfg, target, threadId, urls, text, media }) {
  const maxBytes = mediaMaxBytes(resolveAccount(cfg, accountId));
  const ids = [];
  for (const [i, url] of urls.entries()) {
    ids.push(...(await sendMediaFile({
      url,
      caption: i === 0 ? text : undefined,
      target,
      threadId,
      maxBytes,
      load: (u, max) => loadOutboundMedia(u, max, media),
      request: (method, p) => requestCurrent(accountId, method, p),
    })));
  }
  return ids;
}

/**
 * The `message` tool actions that map one-to-one onto bridge requests.
 * @param {any} ctx
 */
async function handleAction({ action, params, accountId: requested, toolContext, cfg, mediaAccess, mediaLocalRoots, mediaReadFile }) {
  const accountId = requested ?? defaultAccountId(cfg);
  const request = (method, p) => requestCurrent(accountId, method, p);
  // The room as OpenClaw names it (a room id, `rocketchat:<roomId>` or a conversation
  // id), passed through: the bridge owns the target grammar.
  const target = str(params, "roomId", "channelId", "target", "to") ?? str(toolContext ?? {}, "currentChannelId");
  const messageId = str(params, "messageId") ?? (action === "react" ? str(toolContext ?? {}, "currentMessageId") : undefined);
  if (action === "send") {
    const text = str(params, "message", "text") ?? "";
    const threadId = str(params, "threadId");
    const urls = mediaOf(params);
    if (urls.length) {
      const messageIds = await sendFiles({
        cfg, accountId, target, threadId, urls, text, media: { mediaAccess, mediaLocalRoots, mediaReadFile },
      });
      return jsonResult({ ok: true, messageIds });
    }
    // Slack's `replyBroadcast`: a thread reply also shown in the room (Rocket.Chat `tshow`).
    const replyBroadcast = params?.replyBroadcast === true || params?.replyBroadcast === "true";
    const result = await request("send", { target, text, threadId, ...(replyBroadcast ? { replyBroadcast: true } : {}), ...keyFrom(accountId, params?.idempotencyKey) });
    return jsonResult({ ok: true, messageIds: result?.messageIds ?? [] });
  }
  if (!target || !messageId) throw new Error(`rocketchat ${action}: target and messageId are required`);
  if (action === "react") {
    const emoji = (str(params, "emoji") ?? "").replace(/^:|:$/g, "");
    const remove = params?.remove === true;
    await request(remove ? "unreact" : "react", { target, messageId, emoji });
    return jsonResult({ ok: true, [remove ? "removed" : "added"]: emoji });
  }
  if (action === "edit") {
    await request("edit", { target, messageId, text: str(params, "message", "text") ?? "" });
    return jsonResult({ ok: true, edited: messageId });
  }
  if (action === "delete") {
    await request("delete", { target, messageId });
    return jsonResult({ ok: true, deleted: messageId });
  }
  throw new Error(`rocketchat: unsupported action ${action}`);
}

/** @type {any[]} */
const ACTIONS = ["send", "react", "edit", "delete"];

/** The host's idempotency key (if any) in the bridge's alphabet, namespaced by account. */
function keyFrom(accountId, hostKey) {
  return typeof hostKey === "string" && hostKey ? { idempotencyKey: idempotencyKey(accountId, "outbound", hostKey) } : {};
}

function statsLine(stats) {
  if (!stats) return undefined;
  const sum = (o) => Object.values(o ?? {}).reduce((n, v) => n + (Number(v) || 0), 0);
  return { admitted: stats.admitted ?? 0, skipped: sum(stats.skipped), dropped: sum(stats.dropped) };
}

export const rocketchatPlugin = createChatChannelPlugin({
  base: {
    id: CHANNEL,
    ...setupBase,
    messaging: {
      targetPrefixes: [CHANNEL, "rc"],
      targetIdComparison: "case-sensitive",
      normalizeTarget: (raw) => (typeof raw === "string" && raw.trim() ? raw.trim() : undefined),
      resolveSessionConversation,
      targetResolver: {
        looksLikeId: (raw) => /^(rocketchat:|[#@])/.test(raw) || /^[A-Za-z0-9]{8,}$/.test(raw),
        hint: "<roomId> | #room-name | @username | rocketchat:<account>:<kind>:<roomId>",
      },
    },
    actions: {
      describeMessageTool: () => ({ actions: ACTIONS }),
      supportsAction: ({ action }) => ACTIONS.includes(action),
      resolveExecutionMode: () => "gateway",
      handleAction,
    },
    status: {
      defaultRuntime: { accountId: DEFAULT_ACCOUNT_ID, running: false, connected: false, lastStartAt: null, lastStopAt: null, lastError: null },
      // Works from any process: the gateway's own bridge when there is one, else `bridge probe`.
      probeAccount: ({ account, cfg, timeoutMs }) => probeAccount({ account, cfg, timeoutMs }),
      formatCapabilitiesProbe: ({ probe }) => formatProbe({ probe }),
      buildAccountSnapshot: ({ account, runtime, probe }) => {
        const live = bridgeSnapshot(account.accountId);
        const stats = live?.stats ?? /** @type {any} */ (runtime)?.bridgeStats;
        return {
          accountId: account.accountId,
          name: account.name,
          enabled: account.enabled,
          configured: account.configured,
          dmPolicy: account.config.dmPolicy ?? "pairing",
          baseUrl: account.config.serverUrl,
          ...tokenInfo(account.config.authToken),
          ...runtime,
          ...(live?.identity?.username ? { bot: { username: live.identity.username, id: live.identity.userId } } : {}),
          ...(live?.state ? { statusState: live.state } : {}),
          ...(live?.unavailable ? { lastError: live.unavailable, running: false } : {}),
          ...(live?.state === "fatal" ? { lastError: `fatal: ${live.reason ?? "unknown"}`, connected: false } : {}),
          ...(stats ? { bridgeStats: stats, stats: statsLine(stats) } : {}),
          ...(probe ? { probe } : {}),
        };
      },
      buildChannelSummary: ({ account, snapshot }) => ({
        serverUrl: account.config.serverUrl ?? null,
        bot: account.config.username ? `@${account.config.username}` : null,
        state: snapshot?.statusState ?? (snapshot?.running ? "running" : "stopped"),
        .../** @type {any} */ (snapshot)?.stats ? { stats: /** @type {any} */ (snapshot).stats } : {},
      }),
      // Dropped events are not normal (skips are: no mention, not allowlisted...).
      collectStatusIssues: (accounts) => accounts.flatMap((a) => {
        const dropped = /** @type {any} */ (a).bridgeStats?.dropped ?? {};
        const entries = Object.entries(dropped).filter(([, n]) => Number(n) > 0);
        return entries.length
          ? [{ channel: CHANNEL, accountId: a.accountId, kind: "runtime", message: `the bridge dropped events: ${entries.map(([k, n]) => `${k}=${n}`).join(", ")}` }]
          : [];
      }),
    },
    // The agent's tools in a room: `rooms.<room>.toolsBySender` for the sender, else
    // `rooms.<room>.tools` (`"*"` when the room has no entry), as Slack's channel does.
    // Mention gating is the bridge's (no resolveRequireMention).
    groups: {
      resolveToolPolicy: (params) => resolveRoomToolPolicy(params, resolveScopeToolsPolicy),
    },
    directory: {
      listPeers: (p) => listDirectory(p, "user"),
      listPeersLive: (p) => listDirectory(p, "user"),
      listGroups: (p) => listDirectory(p, "group"),
      listGroupsLive: (p) => listDirectory(p, "group"),
    },
    resolver: { resolveTargets: (p) => resolveTargets(p) },
    gateway: { startAccount },
  },
  security: {
    dm: {
      channelKey: CHANNEL,
      resolvePolicy: (account) => account.config.dmPolicy,
      resolveAllowFrom: (account) => account.config.allowFrom,
      defaultPolicy: "pairing",
    },
  },
  pairing: {
    text: {
      idLabel: "Rocket.Chat user id",
      message: APPROVED_MESSAGE,
      // Works from any process: the gateway's bridge, or the gateway itself (`send`) when
      // called from the CLI (`openclaw pairing approve ... --notify`); src/pairing.js.
      notify: (ctx) => notifyApproval(ctx),
    },
  },
  threading: {
    scopedAccountReplyToMode: {
      resolveAccount: (cfg, accountId) => resolveAccount(cfg, accountId),
      resolveReplyToMode: (account, chatType) => account.config.replyToModeByChatType?.[chatType ?? ""] ?? account.config.replyToMode,
      fallback: "off",
    },
  },
  outbound: {
    deliveryMode: "gateway",
    // No chunker: the bridge chunks to the server's limit.
    sendText: async (ctx) => {
      const accountId = ctx.accountId ?? defaultAccountId(ctx.cfg);
      const threadId = ctx.threadId != null ? String(ctx.threadId) : undefined;
      const result = await requestCurrent(accountId, "send", { target: ctx.to, text: ctx.text, threadId, ...identityParam(/** @type {any} */ (ctx).identity), ...keyFrom(accountId, /** @type {any} */ (ctx).idempotencyKey) });
      const ids = result?.messageIds ?? [];
      return { channel: CHANNEL, messageId: ids[ids.length - 1] ?? "", target: { kind: "conversation", id: ctx.to } };
    },
    // One file per call (OpenClaw calls it per media URL); the text rides as the caption.
    sendMedia: async (ctx) => {
      const accountId = ctx.accountId ?? defaultAccountId(ctx.cfg);
      const threadId = ctx.threadId != null ? String(ctx.threadId) : undefined;
      if (!ctx.mediaUrl) {
        const result = await requestCurrent(accountId, "send", { target: ctx.to, text: ctx.text, threadId, ...keyFrom(accountId, /** @type {any} */ (ctx).idempotencyKey) });
        const ids = result?.messageIds ?? [];
        return { channel: CHANNEL, messageId: ids[ids.length - 1] ?? "", target: { kind: "conversation", id: ctx.to } };
      }
      const ids = await sendFiles({
        cfg: ctx.cfg,
        accountId,
        target: ctx.to,
        threadId,
        urls: [ctx.mediaUrl],
        text: ctx.text,
        media: { mediaAccess: ctx.mediaAccess, mediaLocalRoots: ctx.mediaLocalRoots, mediaReadFile: ctx.mediaReadFile },
      });
      return { channel: CHANNEL, messageId: ids[ids.length - 1] ?? "", target: { kind: "conversation", id: ctx.to } };
    },
  },
});

export default defineChannelPluginEntry({
  id: CHANNEL,
  name: "Rocket.Chat",
  description: "Rocket.Chat channel (Rust bridge core)",
  plugin: rocketchatPlugin,
  setRuntime,
});
