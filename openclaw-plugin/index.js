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
// - src/ids.js        the bridge's conversation-id grammar
//
// The Rust bridge owns policy, threading and chunking; this layer only translates.
import { createChatChannelPlugin, defineChannelPluginEntry } from "openclaw/plugin-sdk/channel-core";
import { jsonResult } from "openclaw/plugin-sdk/channel-actions";
import { CHANNEL, DEFAULT_ACCOUNT_ID, listAccountIds, resolveAccount } from "./src/config.js";
import { loadOutboundMedia, mediaMaxBytes, sendMediaFile } from "./src/media.js";
import { bridgeFor, bridgeSnapshot, probeAccount, registry, setRuntime, startAccount } from "./src/gateway.js";
import { resolveSessionConversation, roomIdOfTarget } from "./src/ids.js";

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
async function sendFiles({ bridge, cfg, accountId, target, threadId, urls, text, media }) {
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
      request: (method, p) => bridge.request(method, p),
    })));
  }
  return ids;
}

/** The `message` tool actions that map one-to-one onto bridge requests. */
async function handleAction({ action, params, accountId, toolContext, cfg, mediaAccess, mediaLocalRoots, mediaReadFile }) {
  const bridge = bridgeFor(accountId ?? DEFAULT_ACCOUNT_ID);
  const roomId = str(params, "roomId", "channelId")
    ?? roomIdOfTarget(str(params, "target", "to"))
    ?? roomIdOfTarget(toolContext?.currentChannelId);
  const messageId = str(params, "messageId") ?? (action === "react" ? str(toolContext ?? {}, "currentMessageId") : undefined);
  if (action === "send") {
    const target = str(params, "target", "to") ?? toolContext?.currentChannelId;
    const text = str(params, "message", "text") ?? "";
    const threadId = str(params, "threadId");
    const urls = mediaOf(params);
    if (urls.length) {
      const messageIds = await sendFiles({
        bridge, cfg, accountId: accountId ?? DEFAULT_ACCOUNT_ID, target, threadId, urls, text, media: { mediaAccess, mediaLocalRoots, mediaReadFile },
      });
      return jsonResult({ ok: true, messageIds });
    }
    const result = await bridge.request("send", { target, text, threadId });
    return jsonResult({ ok: true, messageIds: result?.messageIds ?? [] });
  }
  if (!roomId || !messageId) throw new Error(`rocketchat ${action}: roomId (or target) and messageId are required`);
  if (action === "react") {
    const emoji = (str(params, "emoji") ?? "").replace(/^:|:$/g, "");
    const remove = params?.remove === true;
    await bridge.request(remove ? "unreact" : "react", { roomId, messageId, emoji });
    return jsonResult({ ok: true, [remove ? "removed" : "added"]: emoji });
  }
  if (action === "edit") {
    await bridge.request("edit", { roomId, messageId, text: str(params, "message", "text") ?? "" });
    return jsonResult({ ok: true, edited: messageId });
  }
  if (action === "delete") {
    await bridge.request("delete", { roomId, messageId });
    return jsonResult({ ok: true, deleted: messageId });
  }
  throw new Error(`rocketchat: unsupported action ${action}`);
}

const ACTIONS = ["send", "react", "edit", "delete"];

export const rocketchatPlugin = createChatChannelPlugin({
  base: {
    id: CHANNEL,
    meta: {
      id: CHANNEL,
      label: "Rocket.Chat",
      selectionLabel: "Rocket.Chat (bot user + personal access token)",
      docsPath: "/channels/rocketchat",
      blurb: "Rocket.Chat 8.x over the Realtime API, through a Rust bridge process.",
      aliases: ["rc"],
      markdownCapable: true,
    },
    capabilities: {
      chatTypes: ["direct", "group", "channel", "thread"],
      reactions: true,
      edit: true,
      unsend: true,
      reply: true,
      threads: true,
      media: true,
    },
    reload: { configPrefixes: [`channels.${CHANNEL}`] },
    config: {
      listAccountIds: (cfg) => listAccountIds(cfg),
      resolveAccount: (cfg, accountId) => resolveAccount(cfg, accountId),
      defaultAccountId: (cfg) => listAccountIds(cfg)[0] ?? DEFAULT_ACCOUNT_ID,
      isEnabled: (account) => account.enabled,
      isConfigured: (account) => account.configured,
      inspectAccount: (cfg, accountId) => {
        const a = resolveAccount(cfg, accountId);
        return { enabled: a.enabled, configured: a.configured, tokenStatus: a.config.authToken ? "configured" : "missing" };
      },
      describeAccount: (account) => ({
        accountId: account.accountId,
        name: account.name,
        enabled: account.enabled,
        configured: account.configured,
        dmPolicy: account.config.dmPolicy ?? "pairing",
        allowFrom: account.config.allowFrom ?? [],
      }),
      resolveAllowFrom: ({ cfg, accountId }) => resolveAccount(cfg, accountId).config.allowFrom ?? [],
    },
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
      probeAccount: ({ account }) => probeAccount({ account }),
      buildAccountSnapshot: ({ account, runtime, probe }) => {
        const live = bridgeSnapshot(account.accountId);
        return {
          accountId: account.accountId,
          name: account.name,
          enabled: account.enabled,
          configured: account.configured,
          dmPolicy: account.config.dmPolicy ?? "pairing",
          ...runtime,
          ...(live?.state ? { statusState: live.state } : {}),
          ...(live?.state === "fatal" ? { lastError: `fatal: ${live.reason ?? "unknown"}`, connected: false } : {}),
          ...(probe ? { probe } : {}),
        };
      },
    },
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
      message: "You are approved. Send your message again.",
      // The bridge learns about the approval from the pairing store (also polled); the
      // sender gets the notice in the DM room where the code was sent.
      notify: async ({ id, accountId, message }) => {
        for (const [acct, entry] of registry()) {
          if (accountId && acct !== accountId) continue;
          await entry.syncApprovals?.().catch(() => {});
          await entry.notifyApproved?.(id, message);
        }
      },
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
      const accountId = ctx.accountId ?? DEFAULT_ACCOUNT_ID;
      const threadId = ctx.threadId != null ? String(ctx.threadId) : undefined;
      const result = await bridgeFor(accountId).request("send", { target: ctx.to, text: ctx.text, threadId });
      const ids = result?.messageIds ?? [];
      return { channel: CHANNEL, messageId: ids[ids.length - 1] ?? "", target: ctx.to };
    },
    // One file per call (OpenClaw calls it per media URL); the text rides as the caption.
    sendMedia: async (ctx) => {
      const accountId = ctx.accountId ?? DEFAULT_ACCOUNT_ID;
      const threadId = ctx.threadId != null ? String(ctx.threadId) : undefined;
      const bridge = bridgeFor(accountId);
      if (!ctx.mediaUrl) {
        const result = await bridge.request("send", { target: ctx.to, text: ctx.text, threadId });
        const ids = result?.messageIds ?? [];
        return { channel: CHANNEL, messageId: ids[ids.length - 1] ?? "", target: ctx.to };
      }
      const ids = await sendFiles({
        bridge,
        cfg: ctx.cfg,
        accountId,
        target: ctx.to,
        threadId,
        urls: [ctx.mediaUrl],
        text: ctx.text,
        media: { mediaAccess: ctx.mediaAccess, mediaLocalRoots: ctx.mediaLocalRoots, mediaReadFile: ctx.mediaReadFile },
      });
      return { channel: CHANNEL, messageId: ids[ids.length - 1] ?? "", target: ctx.to };
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
