// The agent's per-room policy: `tools`, `toolsBySender`, `skills` and `systemPrompt` in a
// `rooms` entry (the plugin's keys, schema/plugin-keys.json `roomProperties`; the bridge
// never sees them, src/config.js bridgeRooms), as Slack's channel has them per channel:
// - the tool policy is OpenClaw's `groups.resolveToolPolicy` adapter: Slack's
//   resolveSlackGroupToolPolicy (extensions/slack/src/group-policy.ts) hands the entry it
//   found (buildSlackChannelPolicyScope) to the SDK's resolveScopeToolsPolicy
//   (openclaw/plugin-sdk/channel-policy), which takes the sender's `toolsBySender` entry,
//   else the entry's `tools`. Only the matched entry counts: `"*"` is used when no entry
//   matches, not under an entry that has no `tools` (as in Slack).
// - `skills` and `systemPrompt` go into the dispatched turn (src/inbound.js), each from the
//   matched entry, else from `"*"` (Slack's resolveSlackChannelConfig, firstDefined), and
//   only in rooms: DMs and group DMs keep the agent's defaults (Slack: channelConfig is
//   resolved for channels only).
// The lookup is one: the room's id, then its name (`general`, then `#general`: the bridge
// resolves `rooms` keys as an id, then a name, ChannelExt::resolve_room_key), else `"*"`.
// Account-level `rooms` replace the channel-level ones (the merged account).
import { CHANNEL, ROOMS_DEFAULT_KEY, resolveAccount } from "./config.js";

/** @param {unknown} v @returns {v is Record<string, any>} */
const isEntry = (v) => Boolean(v) && typeof v === "object" && !Array.isArray(v);

/**
 * The key of `rooms` that is `candidate`: exactly, else ignoring case (OpenClaw hands the
 * tool-policy adapter the room id from the session key, which is lowercased; Rocket.Chat
 * ids are mixed-case).
 */
function keyFor(rooms, candidate) {
  if (!candidate) return undefined;
  if (candidate !== ROOMS_DEFAULT_KEY && Object.hasOwn(rooms, candidate)) return candidate;
  const lower = candidate.toLowerCase();
  return Object.keys(rooms).find((k) => k !== ROOMS_DEFAULT_KEY && k.toLowerCase() === lower);
}

/**
 * The `rooms` entry for a room: by id, then by name (`general`, `#general`), else `"*"`.
 * @param {any} rooms the merged account's `rooms`
 * @param {{ id?: string | null, name?: string | null }} room
 * @returns {{ key: string | undefined, entry: Record<string, any> | undefined, wildcard: Record<string, any> | undefined }}
 */
export function findRoomEntry(rooms, room) {
  if (!isEntry(rooms)) return { key: undefined, entry: undefined, wildcard: undefined };
  const name = typeof room?.name === "string" ? room.name.trim().replace(/^#/, "") : "";
  const id = typeof room?.id === "string" ? room.id.trim() : "";
  const candidates = [id, name, name ? `#${name}` : ""];
  let key;
  for (const candidate of candidates) {
    key = keyFor(rooms, candidate);
    if (key !== undefined) break;
  }
  const wildcard = isEntry(rooms[ROOMS_DEFAULT_KEY]) ? rooms[ROOMS_DEFAULT_KEY] : undefined;
  if (key === undefined && wildcard) key = ROOMS_DEFAULT_KEY;
  const entry = key !== undefined && isEntry(rooms[key]) ? rooms[key] : undefined;
  return { key: entry ? key : undefined, entry, wildcard };
}

/** The merged account's `rooms` (account keys over channel keys). */
export function accountRooms(cfg, accountId) {
  return resolveAccount(cfg, accountId ?? undefined).config?.rooms;
}

/**
 * The scope the SDK's resolveScopeToolsPolicy reads, as Slack's buildSlackChannelPolicyScope
 * builds it: every entry is a scope, the path is the matched key alone.
 * @param {any} rooms @param {{ id?: string | null, name?: string | null }} room
 */
export function roomToolScope(rooms, room) {
  const { key } = findRoomEntry(rooms, room);
  return { tree: { scopes: isEntry(rooms) ? rooms : {} }, path: key ? [key] : [] };
}

/**
 * `groups.resolveToolPolicy`: the tool policy of a room session for its sender, or
 * undefined (the agent's own policy applies). OpenClaw calls it for group and room
 * sessions only (`groupId` comes from the session key), never for a 1:1 DM.
 * `resolveScopeToolsPolicy` is the SDK's (openclaw/plugin-sdk/channel-policy).
 * @param {any} params OpenClaw's: cfg, accountId, groupId, groupChannel, sender*, senderPolicyMode
 * @param {(p: any) => any} resolveScopeToolsPolicy
 */
export function resolveRoomToolPolicy(params, resolveScopeToolsPolicy) {
  const rooms = accountRooms(params?.cfg, params?.accountId);
  if (!isEntry(rooms)) return undefined;
  const scope = roomToolScope(rooms, { id: params.groupId, name: params.groupChannel });
  if (scope.path.length === 0) return undefined;
  return resolveScopeToolsPolicy({
    ...scope,
    senderPolicyMode: params.senderPolicyMode,
    senderId: params.senderId,
    senderName: params.senderName,
    senderUsername: params.senderUsername,
    senderE164: params.senderE164,
    // `channel:rocketchat:<userId>` keys (the SDK's own resolveChannelGroupToolsPolicy
    // passes the channel the same way).
    messageProvider: CHANNEL,
  });
}

/**
 * What a dispatched turn in this room gets: `skillFilter` (the room's `skills`) and
 * `groupSystemPrompt` (its `systemPrompt`), each from the room's entry, else `"*"`.
 * Nothing for DMs and group DMs.
 * @param {any} rooms @param {{ id?: string, name?: string | null, kind?: string }} room the bridge's `message.room`
 * @returns {{ skillFilter?: string[], groupSystemPrompt?: string }}
 */
export function roomTurnSettings(rooms, room) {
  if (!room || room.kind === "direct" || room.kind === "groupDirect") return {};
  const { entry, wildcard } = findRoomEntry(rooms, room);
  const first = (field) => (entry?.[field] !== undefined ? entry[field] : wildcard?.[field]);
  const out = {};
  const skills = first("skills");
  if (Array.isArray(skills)) out.skillFilter = skills.filter((s) => typeof s === "string");
  const prompt = first("systemPrompt");
  if (typeof prompt === "string" && prompt.trim()) out.groupSystemPrompt = prompt.trim();
  return out;
}
