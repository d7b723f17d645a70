//! Messages: the send pipeline (`executeSendMessage` -> `canSendMessage` -> `sendMessage`
//! -> `validateMessage` -> insert -> `afterSaveMessage`), `processWebhookMessage`, system
//! messages, edit, delete, react, pin, star, quotes, and the history reads (sync, missed).
//!
//! Per-message side effects follow `notifyUsersOnMessage.ts` (stored version 2285852086):
//! a message that is not a thread-only reply increments `msgs` and sets `lastMessage` / `lm`;
//! every other member's subscription that changes (it becomes `alert` / `open`, or gains an
//! unread or a mention) is announced with `subscriptions-changed` "updated", and so is the
//! sender's, which is marked read; a thread-only reply increments `msgs` only and updates the
//! thread's participants. Every message then announces the room (`rooms-changed` "updated",
//! `notifyOnRoomChangedById`). System messages (`Message.saveSystemMessage`,
//! `apps/meteor/server/services/messages/service.ts`) increment `msgs` only.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::settings::id;
use super::validate::{check_custom_fields, check_message};
use super::{date_field, str_field, Emit, OpError, RoomKind, Trashed, User, World};
use crate::mentions;
use crate::util::{ejson_date, random_id, utf16_len};

/// Which server path a message takes; each one checks differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendPath {
    /// REST `chat.sendMessage`, DDP `sendMessage` (`executeSendMessage`): a failure inside its
    /// `try` also reaches the sender as an ephemeral message.
    Execute,
    /// REST `chat.postMessage` and incoming webhooks (`processWebhookMessage`:
    /// `validateRoomMessagePermissions`, then `sendMessage`; no size check of its own, no
    /// ephemeral message).
    Webhook,
    /// The control API: the room checks of `Execute`, but `validateMessage`'s field,
    /// permission and custom-field checks are skipped, so tests may set any field.
    Control,
}

/// Message fields a sender may set.
#[derive(Debug, Clone, Default)]
pub(crate) struct SendInput {
    pub(crate) id: Option<String>,
    pub(crate) rid: String,
    pub(crate) msg: String,
    pub(crate) tmid: Option<String>,
    pub(crate) tshow: Option<bool>,
    pub(crate) ts: Option<i64>,
    /// Extra fields copied as given (`alias`, `emoji`, `avatar`, `attachments`, `blocks`,
    /// `customFields`, `groupable`, `bot`, ...).
    pub(crate) extra: Map<String, Value>,
    /// `previewUrls` of `chat.sendMessage`: URLs not listed get `ignoreParse: true`.
    pub(crate) preview_urls: Option<Vec<String>>,
}

/// `processWebhookMessage`'s defaults (an integration's alias, avatar, emoji, channel).
#[derive(Debug, Clone, Default)]
pub(crate) struct WebhookDefaults {
    pub(crate) channel: String,
    pub(crate) alias: String,
    pub(crate) avatar: String,
    pub(crate) emoji: String,
}

/// URLs in message text, as the server's URL parser finds them (http/https).
fn extract_urls(text: &str) -> Vec<String> {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re =
        RE.get_or_init(|| regex::Regex::new(r"https?://[^\s<>]+").expect("static regex compiles"));
    let mut out: Vec<String> = Vec::new();
    for m in re.find_iter(text) {
        let url = m
            .as_str()
            .trim_end_matches(['.', ',', ')', '>', '!', '?'])
            .to_owned();
        if !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

/// What `i18n.t(err.error || err.message)` shows for the room-check failures.
fn ephemeral_text(e: &OpError) -> String {
    match e.code() {
        "error-not-allowed" => "Not allowed".to_owned(),
        "error-invalid-room" => "Invalid room".to_owned(),
        "room_is_blocked" => "This room is blocked".to_owned(),
        "room_is_archived" => "This room is archived".to_owned(),
        "You_have_been_muted" => "You have been muted and cannot speak in this room".to_owned(),
        other => other.to_owned(),
    }
}

/// Not `_hidden` (hidden documents are never broadcast or listed).
pub(crate) fn is_visible(m: &Value) -> bool {
    m.get("_hidden").and_then(Value::as_bool) != Some(true)
}

/// `isQuoteAttachment`: an attachment with a `message_link`.
fn is_quote(attachment: &Value) -> bool {
    attachment.get("message_link").is_some_and(|l| !l.is_null())
}

/// `MessageTypes.isSystemMessage` for the types of reference section 3.3 (`e2e` and `rm` are
/// message states rather than system events a client could forge, so they pass through).
pub(crate) fn is_system_type(t: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "uj",
        "ui",
        "uir",
        "ul",
        "ru",
        "au",
        "mute_unmute",
        "r",
        "ut",
        "wm",
        "subscription-role-added",
        "subscription-role-removed",
        "room-archived",
        "room-unarchived",
        "room_changed_privacy",
        "room_changed_description",
        "room_changed_announcement",
        "room_changed_avatar",
        "room_changed_topic",
        "room_e2e_enabled",
        "room_e2e_disabled",
        "user-muted",
        "user-unmuted",
        "user-banned",
        "user-unbanned",
        "room-removed-read-only",
        "room-set-read-only",
        "room-allowed-reacting",
        "room-disallowed-reacting",
        "command",
        "videoconf",
        "message_pinned",
        "message_pinned_e2e",
        "new-moderator",
        "moderator-removed",
        "new-owner",
        "owner-removed",
        "new-leader",
        "leader-removed",
        "discussion-created",
        "removed-user-from-team",
        "added-user-to-team",
        "ult",
        "user-converted-to-team",
        "user-converted-to-channel",
        "user-removed-room-from-team",
        "user-deleted-room-from-team",
        "user-added-room-to-team",
        "ujt",
    ];
    SYSTEM.contains(&t) || t.starts_with("livechat") || t.starts_with("omnichannel")
}

fn author_id(doc: &Value) -> Option<&str> {
    doc.get("u")
        .and_then(|u| u.get("_id"))
        .and_then(Value::as_str)
}

/// A thread reply not also shown in the room.
fn is_thread_only(doc: &Value) -> bool {
    doc.get("tmid").is_some() && doc.get("tshow").and_then(Value::as_bool) != Some(true)
}

impl World {
    // ---------------------------------------------------------------- reads

    /// A visible message (hidden ones count as gone).
    pub(crate) fn message(&self, mid: &str) -> Option<&Value> {
        self.messages.get(mid).filter(|m| is_visible(m))
    }

    /// A stored message, hidden or not (control read-back).
    pub(crate) fn stored_message(&self, mid: &str) -> Option<&Value> {
        self.messages.get(mid)
    }

    /// Stored messages of a room in insertion order (tombstones included, hard deletes not).
    pub(crate) fn messages_of(&self, rid: &str) -> Vec<Value> {
        self.room_messages
            .get(rid)
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| self.messages.get(id).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn mentions_for(&self, text: &str) -> (Vec<Value>, Vec<Value>) {
        let mut mentions = Vec::new();
        let names = mentions::user_mentions(text);
        // all and here come first, without `type` (Mentions.ts).
        for special in ["all", "here"] {
            if names.iter().any(|n| n == special) {
                mentions.push(json!({"_id": special, "username": special}));
            }
        }
        for name in names.iter().filter(|n| *n != "all" && *n != "here") {
            if let Some(u) = self.user_by_username(name) {
                mentions.push(
                    json!({"_id": u.id, "username": u.username, "name": u.name, "type": "user"}),
                );
            }
        }
        let channels = mentions::channel_mentions(text)
            .iter()
            .filter_map(|name| {
                self.room_by_name(name)
                    .filter(|r| r.kind != RoomKind::Direct)
                    .map(|r| json!({"_id": r.id, "name": name}))
            })
            .collect();
        (mentions, channels)
    }

    fn check_size(&self, text: &str, method: &str) -> Result<(), OpError> {
        if utf16_len(text) > self.settings.max_message_size() {
            return Err(OpError::meteor_with(
                "error-message-size-exceeded",
                "Message size exceeds Message_MaxAllowedSize",
                json!({"method": method}),
            ));
        }
        Ok(())
    }

    /// `canSendMessage` / `validateRoomMessagePermissions`: room checks throw plain errors.
    pub(crate) fn check_can_send(&self, rid: &str, uid: &str) -> Result<(), OpError> {
        let room = self
            .rooms
            .get(rid)
            .ok_or_else(|| OpError::plain("error-invalid-room"))?;
        let user = self
            .users
            .get(uid)
            .ok_or_else(|| OpError::plain("error-invalid-user"))?;
        // Apps post wherever they are told to (`type !== 'app'` guards the access check).
        if user.account != super::AccountType::App && !self.can_access(rid, uid) {
            return Err(OpError::plain("error-not-allowed"));
        }
        if room.read_only
            && !self.has_permission(uid, "post-readonly", Some(rid))
            && !room.unmuted.contains(&user.username)
        {
            return Err(OpError::plain(
                "You can't send messages because the room is readonly.",
            ));
        }
        if room.muted.contains(&user.username) {
            return Err(OpError::plain("You_have_been_muted"));
        }
        Ok(())
    }

    /// `validateMessage`: field types, `message-impersonate` for `alias` / `avatar`, and the
    /// custom fields.
    fn validate_message(
        &self,
        uid: &str,
        rid: &str,
        msg: &str,
        extra: &Map<String, Value>,
    ) -> Result<(), OpError> {
        let mut fields = extra.clone();
        fields.insert("msg".into(), json!(msg));
        check_message(&fields)?;
        let truthy = |k: &str| {
            extra
                .get(k)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        if (truthy("alias") || truthy("avatar"))
            && !self.has_permission(uid, "message-impersonate", Some(rid))
        {
            return Err(OpError::plain("Not enough permission"));
        }
        if let Some(cf) = extra.get("customFields").filter(|v| !v.is_null()) {
            check_custom_fields(
                cf,
                self.settings.bool(id::CUSTOM_FIELDS_ENABLED),
                self.settings.str(id::CUSTOM_FIELDS),
            )?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- send

    /// Sends a message from `uid`. `Ok(None)` when the client `_id` already exists (nothing is
    /// inserted; REST turns that into the TypeError 400).
    pub(crate) fn send(
        &mut self,
        uid: &str,
        input: SendInput,
        path: SendPath,
    ) -> Result<Option<Value>, OpError> {
        let user = self
            .users
            .get(uid)
            .filter(|u| u.active)
            .ok_or_else(|| OpError::meteor("error-invalid-user", "Invalid user"))?
            .clone();
        let mut input = input;
        let mut tmid = input.tmid.clone();
        let mut ts_value = None;
        if path != SendPath::Webhook {
            // executeSendMessage (apps/meteor/app/lib/server/methods/sendMessage.ts).
            if input.tshow.is_some() && input.tmid.is_none() {
                return Err(OpError::meteor(
                    "invalid-params",
                    "tshow provided but missing tmid",
                ));
            }
            if input.tmid.is_some() && !self.settings.threads_enabled() {
                return Err(OpError::meteor_with(
                    "error-not-allowed",
                    "not-allowed",
                    json!({"method": "sendMessage"}),
                ));
            }
            let now = self.now();
            ts_value = match input.ts {
                Some(ts) if (ts - now).abs() > 60_000 => {
                    return Err(OpError::meteor(
                        "error-message-ts-out-of-sync",
                        "Message timestamp is out of sync",
                    ))
                }
                Some(ts) if (ts - now).abs() <= 10_000 => Some(ts),
                _ => None,
            };
            self.check_size(&input.msg, "sendMessage")?;
            // Threads never nest: a tmid that points at a reply is rewritten to its root, and
            // the reply goes to the parent's room. An unknown parent is not an error.
            if let Some(t) = &input.tmid {
                if let Some(parent) = self.messages.get(t) {
                    if let Some(prid) = str_field(parent, "rid") {
                        input.rid = prid.to_owned();
                    }
                    tmid = Some(
                        str_field(parent, "tmid")
                            .map(str::to_owned)
                            .unwrap_or_else(|| t.clone()),
                    );
                }
            }
        }
        // The room checks and sendMessage run inside executeSendMessage's try: failures also
        // reach the sender as an ephemeral `<uid>/message` before they are rethrown.
        let checked = self
            .check_can_send(&input.rid, uid)
            .and_then(|()| match path {
                SendPath::Control => Ok(()),
                SendPath::Execute | SendPath::Webhook => {
                    self.validate_message(uid, &input.rid, &input.msg, &input.extra)
                }
            });
        if let Err(e) = checked {
            if path != SendPath::Webhook {
                let text = ephemeral_text(&e);
                self.ephemeral(uid, &input.rid, &text);
            }
            return Err(e);
        }
        if let Some(id) = &input.id {
            if self.messages.contains_key(id) {
                return Ok(None);
            }
        }
        let now = self.now();
        let ts = ts_value.unwrap_or(now);
        let (mentions, channels) = self.mentions_for(&input.msg);
        let id = input.id.clone().unwrap_or_else(random_id);
        let mut doc = Map::new();
        doc.insert("_id".into(), json!(id));
        doc.insert("rid".into(), json!(input.rid));
        doc.insert("msg".into(), json!(input.msg));
        doc.insert("ts".into(), ejson_date(ts));
        doc.insert("u".into(), user.user_ref());
        for (k, v) in &input.extra {
            if !doc.contains_key(k) && !v.is_null() {
                doc.insert(k.clone(), v.clone());
            }
        }
        if let Some(tmid) = &tmid {
            doc.insert("tmid".into(), json!(tmid));
            if input.tshow == Some(true) {
                doc.insert("tshow".into(), json!(true));
            }
        }
        doc.insert("mentions".into(), Value::Array(mentions));
        doc.insert("channels".into(), Value::Array(channels));
        let urls = extract_urls(&input.msg);
        let parse_urls = doc.get("parseUrls").and_then(Value::as_bool) != Some(false);
        // OEmbed's follow-up update gives every URL a `meta` (empty for ignored ones).
        let enrich = !urls.is_empty();
        if !urls.is_empty() {
            let quotes = self.quotes_for(&urls, uid);
            let list: Vec<Value> = urls
                .iter()
                .map(|u| {
                    let quoted = quotes.iter().any(|(link, _)| link == u);
                    // previewUrls: only the listed URLs are parsed; with more than five URLs
                    // nothing is marked (OEmbed skips them all).
                    let unlisted = input
                        .preview_urls
                        .as_ref()
                        .is_some_and(|p| urls.len() <= 5 && !p.contains(u));
                    if quoted || unlisted {
                        json!({"url": u, "ignoreParse": true})
                    } else {
                        json!({"url": u})
                    }
                })
                .collect();
            doc.insert("urls".into(), Value::Array(list));
            if !quotes.is_empty() {
                let mut attachments: Vec<Value> = doc
                    .get("attachments")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                attachments.extend(quotes.into_iter().map(|(_, q)| q));
                doc.insert("attachments".into(), Value::Array(attachments));
            }
        }
        if self.settings.bool(id::READ_RECEIPT_ENABLED) {
            doc.insert("unread".into(), json!(true));
        }
        doc.insert("_updatedAt".into(), ejson_date(now));
        let doc = Value::Object(doc);
        self.store_message(doc.clone());
        if let Some(tmid) = &tmid {
            self.bump_thread_root(tmid, uid, ts);
        }
        self.after_user_message(&doc, &user);
        self.notify_recipients(&doc, &user);
        if enrich && parse_urls && self.settings.url_previews() {
            self.enrich_urls(&id);
        }
        Ok(Some(doc))
    }

    /// `processWebhookMessage`: the targets (`channel` or `roomId`, one or many, else the
    /// default): `#name` (joins a public room), `@username` (the DM), else a room id or name
    /// (joined), else a user id's DM, else `[invalid-channel]`. Returns `(target, message)`
    /// per target.
    pub(crate) fn post_webhook_message(
        &mut self,
        uid: &str,
        body: &Map<String, Value>,
        defaults: &WebhookDefaults,
    ) -> Result<Vec<(String, Value)>, OpError> {
        let targets: Vec<String> = match body.get("channel").or_else(|| body.get("roomId")) {
            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ if !defaults.channel.is_empty() => vec![defaults.channel.clone()],
            _ => Vec::new(),
        };
        if targets.is_empty() {
            return Err(OpError::meteor("invalid-channel", ""));
        }
        let text_of = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let mut sent = Vec::new();
        for target in targets {
            let rid = self.resolve_webhook_target(&target, uid)?;
            let mut extra = Map::new();
            let alias = text_of("username")
                .or_else(|| text_of("alias"))
                .unwrap_or(defaults.alias.as_str());
            extra.insert("alias".into(), json!(alias));
            let attachments = match body.get("attachments") {
                Some(Value::Array(a)) => Some(a.clone()),
                _ => None,
            };
            let parse_urls = match body.get("parseUrls") {
                Some(Value::Bool(b)) => *b,
                _ => attachments.is_none(),
            };
            let mut attachments = attachments.unwrap_or_default();
            for a in attachments.iter_mut() {
                if let Some(o) = a.as_object_mut() {
                    if let Some(Value::String(m)) = o.remove("msg") {
                        o.insert("text".into(), json!(m.trim()));
                    }
                }
            }
            extra.insert("attachments".into(), Value::Array(attachments));
            extra.insert("parseUrls".into(), json!(parse_urls));
            if let Some(bot) = body.get("bot") {
                extra.insert("bot".into(), bot.clone());
            }
            extra.insert(
                "groupable".into(),
                body.get("groupable").cloned().unwrap_or(json!(false)),
            );
            if let Some(cf) = body.get("customFields") {
                extra.insert("customFields".into(), cf.clone());
            }
            if let Some(avatar) = text_of("icon_url").or_else(|| text_of("avatar")) {
                extra.insert("avatar".into(), json!(avatar));
            } else if let Some(emoji) = text_of("icon_emoji").or_else(|| text_of("emoji")) {
                extra.insert("emoji".into(), json!(emoji));
            } else if !defaults.avatar.is_empty() {
                extra.insert("avatar".into(), json!(defaults.avatar));
            } else if !defaults.emoji.is_empty() {
                extra.insert("emoji".into(), json!(defaults.emoji));
            }
            let msg = text_of("text")
                .or_else(|| text_of("msg"))
                .unwrap_or("")
                .trim()
                .to_owned();
            let input = SendInput {
                rid,
                msg,
                tmid: body.get("tmid").and_then(Value::as_str).map(str::to_owned),
                extra,
                ..SendInput::default()
            };
            match self.send(uid, input, SendPath::Webhook)? {
                Some(doc) => sent.push((target, doc)),
                None => return Err(OpError::plain("unknown-error")),
            }
        }
        Ok(sent)
    }

    /// `getRoomByNameOrIdWithOptionToJoin` as `processWebhookMessage` calls it.
    fn resolve_webhook_target(&mut self, target: &str, uid: &str) -> Result<String, OpError> {
        let invalid = || OpError::meteor("invalid-channel", "");
        let by_id_or_name = |w: &World, key: &str| {
            w.rooms
                .get(key)
                .or_else(|| w.room_by_name(key))
                .map(|r| (r.id.clone(), r.kind))
        };
        let join = |w: &mut World, rid: &str, kind: RoomKind| -> Result<(), OpError> {
            if kind == RoomKind::Public && !w.is_member(rid, uid) {
                w.add_user_to_room(rid, uid, None, false)?;
            }
            Ok(())
        };
        if let Some(name) = target.strip_prefix('#') {
            let (rid, kind) = by_id_or_name(self, name).ok_or_else(invalid)?;
            join(self, &rid, kind)?;
            return Ok(rid);
        }
        if let Some(who) = target.strip_prefix('@') {
            let other = self
                .users
                .get(who)
                .or_else(|| self.user_by_username(who))
                .map(|u| u.id.clone())
                .ok_or_else(invalid)?;
            return self.ensure_dm(uid, &other);
        }
        if let Some((rid, kind)) = by_id_or_name(self, target) {
            join(self, &rid, kind)?;
            return Ok(rid);
        }
        if self.users.contains_key(target) {
            return self.ensure_dm(uid, target);
        }
        Err(invalid())
    }

    /// `jumpToMessage`: links to a message of this server (`<Site_Url>/...?msg=<id>`) that the
    /// sender may read become quote attachments. Returns `(link, attachment)`.
    fn quotes_for(&self, urls: &[String], uid: &str) -> Vec<(String, Value)> {
        let site = self.settings.str(id::SITE_URL).trim_end_matches('/');
        if site.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for url in urls {
            if !url.starts_with(site) {
                continue;
            }
            let Some(query) = url.split_once('?').map(|(_, q)| q) else {
                continue;
            };
            let Some(mid) = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("msg="))
                .map(str::to_owned)
            else {
                continue;
            };
            let Some(quoted) = self.message(&mid) else {
                continue;
            };
            let qrid = str_field(quoted, "rid").unwrap_or_default();
            if !self.can_access(qrid, uid) {
                continue;
            }
            let username = quoted
                .get("u")
                .and_then(|u| u.get("username"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let author = str_field(quoted, "alias")
                .filter(|a| !a.is_empty())
                .unwrap_or(username);
            let inner: Vec<Value> = quoted
                .get("attachments")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter(|x| !is_quote(x)).cloned().collect())
                .unwrap_or_default();
            out.push((
                url.clone(),
                json!({
                    "text": quoted.get("msg").cloned().unwrap_or(json!("")),
                    "message_link": url,
                    "author_name": author,
                    "author_icon": format!("/avatar/{username}"),
                    "attachments": inner,
                    "ts": quoted.get("ts").cloned().unwrap_or(Value::Null),
                }),
            ));
        }
        out
    }

    /// Inserts a finished document and broadcasts it (no room or subscription effects).
    fn store_message(&mut self, doc: Value) {
        let (Some(id), Some(rid)) = (str_field(&doc, "_id"), str_field(&doc, "rid")) else {
            return;
        };
        let (id, rid) = (id.to_owned(), rid.to_owned());
        self.room_messages
            .entry(rid.clone())
            .or_default()
            .push(id.clone());
        self.messages.insert(id, doc.clone());
        self.emit(Emit::Message { rid, doc });
    }

    /// `notifyUsersOnMessage` + `afterSaveMessage` for a user message.
    fn after_user_message(&mut self, doc: &Value, sender: &User) {
        let Some(rid) = str_field(doc, "rid").map(str::to_owned) else {
            return;
        };
        let ts = date_field(doc, "ts").unwrap_or_default();
        let thread_only = is_thread_only(doc);
        let now = self.now();
        let Some(room) = self.rooms.get_mut(&rid) else {
            return;
        };
        room.msgs += 1;
        if !thread_only {
            room.lm = Some(ts);
            room.last_message = Some(doc.clone());
        }
        room.updated_at = now.max(room.updated_at);
        let members = room.members.clone();
        let kind = room.kind;
        self.room_changed(&rid);
        if thread_only {
            // updateThreadUsersSubscriptions: the thread's participants (and the sender).
            let mut notify: Vec<String> = str_field(doc, "tmid")
                .and_then(|t| self.messages.get(t))
                .and_then(|root| root.get("replies"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if !notify.contains(&sender.id) {
                notify.push(sender.id.clone());
            }
            for uid in notify {
                let Some(sub) = self.subs.get_mut(&(rid.clone(), uid.clone())) else {
                    continue;
                };
                if uid != sender.id {
                    sub.alert = true;
                    sub.open = true;
                } else {
                    sub.ls = now;
                }
                sub.updated_at = now;
                self.sub_changed(&rid, &uid);
            }
            return;
        }
        let mentioned: Vec<&str> = doc
            .get("mentions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|m| m.get("type").and_then(Value::as_str) == Some("user"))
                    .filter_map(|m| m.get("_id").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        let mentioned: Vec<String> = mentioned.into_iter().map(str::to_owned).collect();
        let group = doc
            .get("mentions")
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter()
                    .any(|m| matches!(m.get("_id").and_then(Value::as_str), Some("all" | "here")))
            });
        let setting = if kind == RoomKind::Direct {
            self.settings.str(id::UNREAD_COUNT_DM).to_owned()
        } else {
            self.settings.str(id::UNREAD_COUNT).to_owned()
        };
        let counts_user = matches!(
            setting.as_str(),
            "all_messages"
                | "user_mentions_only"
                | "user_and_group_mentions_only"
                | "mentions_only"
        );
        let counts_group = matches!(
            setting.as_str(),
            "all_messages"
                | "group_mentions_only"
                | "user_and_group_mentions_only"
                | "mentions_only"
        );
        for uid in members {
            let Some(sub) = self.subs.get_mut(&(rid.clone(), uid.clone())) else {
                continue;
            };
            if uid == sender.id {
                // The sender has read its own message (setAsRead): ls moves every time.
                sub.ls = now;
                sub.alert = false;
                sub.unread = 0;
                sub.user_mentions = 0;
                sub.group_mentions = 0;
                sub.updated_at = now;
                self.sub_changed(&rid, &uid);
                continue;
            }
            let before = (
                sub.alert,
                sub.open,
                sub.unread,
                sub.user_mentions,
                sub.group_mentions,
            );
            if mentioned.contains(&uid) {
                sub.user_mentions += 1;
                if counts_user {
                    sub.unread += 1;
                }
            } else if group {
                sub.group_mentions += 1;
                if counts_group {
                    sub.unread += 1;
                }
            } else if setting == "all_messages" {
                sub.unread += 1;
            }
            sub.alert = true;
            sub.open = true;
            let after = (
                sub.alert,
                sub.open,
                sub.unread,
                sub.user_mentions,
                sub.group_mentions,
            );
            if before != after {
                sub.updated_at = now;
                self.sub_changed(&rid, &uid);
            }
        }
    }

    /// `Message.saveSystemMessage(t, rid, msg, user, extra)`: stored and broadcast, `msgs`
    /// incremented (not `lastMessage`), the room announced.
    pub(crate) fn save_system_message(
        &mut self,
        t: &str,
        rid: &str,
        msg: &str,
        actor: &str,
        extra: Map<String, Value>,
    ) -> Option<Value> {
        let actor = self.users.get(actor)?.clone();
        if !self.rooms.contains_key(rid) {
            return None;
        }
        let now = self.now();
        let mut doc = Map::new();
        doc.insert("_id".into(), json!(random_id()));
        doc.insert("t".into(), json!(t));
        doc.insert("rid".into(), json!(rid));
        doc.insert("ts".into(), ejson_date(now));
        doc.insert("msg".into(), json!(msg));
        doc.insert("u".into(), actor.user_ref());
        doc.insert("groupable".into(), json!(false));
        for (k, v) in extra {
            doc.insert(k, v);
        }
        doc.insert("_updatedAt".into(), ejson_date(now));
        let doc = Value::Object(doc);
        self.store_message(doc.clone());
        if let Some(room) = self.rooms.get_mut(rid) {
            room.msgs += 1;
            room.updated_at = now.max(room.updated_at);
        }
        self.room_changed(rid);
        Some(doc)
    }

    /// Desktop notifications (`<uid>/notification`) for DM members and for mentioned members of
    /// other rooms, never the sender, with default preferences (mentions and DMs). Shape per
    /// core-typings `INotificationDesktop`; title/text follow `sendNotificationsOnMessage` [derived].
    fn notify_recipients(&mut self, doc: &Value, sender: &User) {
        let Some(room) = str_field(doc, "rid")
            .and_then(|rid| self.rooms.get(rid))
            .cloned()
        else {
            return;
        };
        let msg = str_field(doc, "msg").unwrap_or_default().to_owned();
        let mentioned: Vec<String> = doc
            .get("mentions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.get("_id").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let everyone = mentioned.iter().any(|m| m == "all" || m == "here");
        let (title, text, name) = match room.kind {
            RoomKind::Direct => (
                sender.username.clone(),
                msg.clone(),
                sender.username.clone(),
            ),
            _ => {
                let name = room.name.clone().unwrap_or_default();
                (name.clone(), format!("{}: {msg}", sender.username), name)
            }
        };
        let mut payload = json!({
            "_id": doc.get("_id").cloned().unwrap_or(Value::Null),
            "rid": room.id,
            "sender": {"_id": sender.id, "username": sender.username, "name": sender.name},
            "type": room.kind.letter(),
            "name": name,
            "message": {"msg": msg},
        });
        if let (Some(tmid), Some(p)) = (doc.get("tmid"), payload.as_object_mut()) {
            p.insert("tmid".into(), tmid.clone());
        }
        let notification = json!({"title": title, "text": text, "payload": payload});
        let uids: Vec<String> = room
            .members
            .iter()
            .filter(|m| **m != sender.id)
            .filter(|m| room.kind == RoomKind::Direct || everyone || mentioned.contains(m))
            .cloned()
            .collect();
        if !uids.is_empty() {
            self.emit(Emit::NotifyUsers {
                uids,
                event: "notification".to_owned(),
                args: vec![notification],
            });
        }
    }

    /// URL-preview enrichment: the follow-up update that fills `urls[].meta` (OEmbed runs after
    /// the insert). Nothing is fetched; `meta` stays empty, but the update and its new
    /// `_updatedAt` are broadcast like the real one, so clients see the same id twice.
    fn enrich_urls(&mut self, mid: &str) {
        let now = self.stamp_for(mid);
        let Some(obj) = self.messages.get_mut(mid).and_then(Value::as_object_mut) else {
            return;
        };
        if let Some(Value::Array(urls)) = obj.get_mut("urls") {
            for u in urls.iter_mut() {
                if let Some(o) = u.as_object_mut() {
                    o.insert("meta".into(), json!({}));
                }
            }
        }
        obj.insert("_updatedAt".into(), ejson_date(now));
        let doc = Value::Object(obj.clone());
        self.emit_update(doc);
    }

    /// threads `reply()`: tcount += 1, tlm, replies gains the author (and the root's author first).
    fn bump_thread_root(&mut self, tmid: &str, uid: &str, ts: i64) {
        let now = self.stamp_for(tmid);
        let Some(obj) = self.messages.get_mut(tmid).and_then(Value::as_object_mut) else {
            return;
        };
        let tcount = obj.get("tcount").and_then(Value::as_u64).unwrap_or(0);
        let mut replies: Vec<Value> = obj
            .get("replies")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if tcount == 0 {
            if let Some(author) = obj.get("u").and_then(|u| u.get("_id")).cloned() {
                if !replies.contains(&author) {
                    replies.push(author);
                }
            }
        }
        if !replies.contains(&json!(uid)) {
            replies.push(json!(uid));
        }
        obj.insert("tcount".into(), json!(tcount + 1));
        obj.insert("tlm".into(), ejson_date(ts));
        obj.insert("replies".into(), Value::Array(replies));
        obj.insert("_updatedAt".into(), ejson_date(now));
        let doc = Value::Object(obj.clone());
        self.emit_update(doc.clone());
        self.touch_last_message(&doc);
    }

    fn emit_update(&mut self, doc: Value) {
        if let Some(rid) = str_field(&doc, "rid") {
            self.emit(Emit::Message {
                rid: rid.to_owned(),
                doc,
            });
        }
    }

    /// `isTheLastMessage`: when `doc` is the room's `lastMessage`, the room keeps the new
    /// version (reactions, stars, pins, edits) and is announced.
    fn touch_last_message(&mut self, doc: &Value) {
        let (Some(rid), Some(mid)) = (str_field(doc, "rid"), str_field(doc, "_id")) else {
            return;
        };
        let rid = rid.to_owned();
        let is_last = self
            .rooms
            .get(&rid)
            .and_then(|r| r.last_message.as_ref())
            .and_then(|m| str_field(m, "_id"))
            == Some(mid);
        if is_last {
            if let Some(room) = self.rooms.get_mut(&rid) {
                room.last_message = Some(doc.clone());
            }
            self.room_changed(&rid);
        }
    }

    // ---------------------------------------------------------------- edit, delete

    /// `chat.update` / `updateMessage` (`canEditMessage`: `edit-message` in the room, or
    /// `Message_AllowEditing` for one's own). Identical text without custom fields is a no-op
    /// (no event). Quote attachments are recomputed from the new text (old ones erased).
    pub(crate) fn edit(
        &mut self,
        uid: &str,
        rid: &str,
        mid: &str,
        text: &str,
        custom_fields: Option<Value>,
    ) -> Result<Value, OpError> {
        let msg = self
            .messages
            .get(mid)
            .filter(|m| is_visible(m))
            .ok_or_else(|| OpError::Plain(format!("No message found with the id of \"{mid}\".")))?
            .clone();
        if str_field(&msg, "rid") != Some(rid) {
            return Err(OpError::plain(
                "The room id provided does not match where the message is from.",
            ));
        }
        let own = author_id(&msg) == Some(uid);
        let may_edit = self.has_permission(uid, "edit-message", Some(rid))
            || (own && self.settings.bool(id::ALLOW_EDITING));
        if !may_edit {
            return Err(OpError::meteor_with(
                "error-action-not-allowed",
                "Message editing not allowed",
                json!({"method": "updateMessage"}),
            ));
        }
        if let Some(cf) = &custom_fields {
            check_custom_fields(
                cf,
                self.settings.bool(id::CUSTOM_FIELDS_ENABLED),
                self.settings.str(id::CUSTOM_FIELDS),
            )?;
        }
        if str_field(&msg, "msg") == Some(text) && custom_fields.is_none() {
            return Ok(msg);
        }
        self.check_size(text, "updateMessage")?;
        let editor = self
            .users
            .get(uid)
            .map(|u| json!({"_id": u.id, "username": u.username}))
            .unwrap_or(Value::Null);
        let (mentions, channels) = self.mentions_for(text);
        let urls = extract_urls(text);
        let quotes = self.quotes_for(&urls, uid);
        let now = self.stamp_for(mid);
        let Some(obj) = self.messages.get_mut(mid).and_then(Value::as_object_mut) else {
            return Err(OpError::plain("error-invalid-message"));
        };
        obj.insert("msg".into(), json!(text));
        obj.insert("mentions".into(), Value::Array(mentions));
        obj.insert("channels".into(), Value::Array(channels));
        if let Some(Value::Array(list)) = obj.get_mut("attachments") {
            list.retain(|a| !is_quote(a));
        }
        if !quotes.is_empty() {
            let list = obj
                .entry("attachments")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                list.extend(quotes.iter().map(|(_, q)| q.clone()));
            }
        }
        if urls.is_empty() {
            obj.remove("urls");
        } else {
            let list: Vec<Value> = urls
                .iter()
                .map(|u| {
                    if quotes.iter().any(|(l, _)| l == u) {
                        json!({"url": u, "ignoreParse": true})
                    } else {
                        json!({"url": u})
                    }
                })
                .collect();
            obj.insert("urls".into(), Value::Array(list));
        }
        obj.insert("editedAt".into(), ejson_date(now));
        obj.insert("editedBy".into(), editor);
        if let Some(cf) = custom_fields {
            obj.insert("customFields".into(), cf);
        }
        obj.insert("_updatedAt".into(), ejson_date(now));
        let doc = Value::Object(obj.clone());
        self.emit_update(doc.clone());
        self.touch_last_message(&doc);
        Ok(doc)
    }

    /// May `uid` delete `msg` (`canDeleteMessageAsync`): `delete-message` in the room, or
    /// `Message_AllowDeleting` for one's own.
    pub(crate) fn can_delete(&self, uid: &str, msg: &Value) -> bool {
        let rid = str_field(msg, "rid").unwrap_or_default();
        self.has_permission(uid, "delete-message", Some(rid))
            || self.has_permission(uid, "force-delete-message", Some(rid))
            || (author_id(msg) == Some(uid) && self.settings.bool(id::ALLOW_DELETING))
    }

    /// `deleteMessage`: hard delete (only `<rid>/deleteMessage`), or a `t:"rm"` tombstone with
    /// show-deleted-status or for a thread root. Returns the pre-delete `{_id, rid, u}`.
    pub(crate) fn delete(&mut self, uid: &str, rid: &str, mid: &str) -> Result<Value, OpError> {
        let msg = self
            .messages
            .get(mid)
            .filter(|m| is_visible(m))
            .ok_or_else(|| OpError::Plain(format!("No message found with the id of \"{mid}\".")))?
            .clone();
        if str_field(&msg, "rid") != Some(rid) {
            return Err(OpError::plain(
                "The room id provided does not match where the message is from.",
            ));
        }
        if !self.can_delete(uid, &msg) {
            return Err(OpError::meteor("error-action-not-allowed", "Not allowed"));
        }
        self.delete_unchecked(uid, &msg);
        Ok(json!({"_id": mid, "rid": rid, "u": msg.get("u").cloned().unwrap_or(Value::Null)}))
    }

    fn delete_unchecked(&mut self, uid: &str, msg: &Value) {
        let (Some(mid), Some(rid)) = (str_field(msg, "_id"), str_field(msg, "rid")) else {
            return;
        };
        let (mid, rid) = (mid.to_owned(), rid.to_owned());
        // deleteMessage.ts: the message's uploads go with it, unless Message_KeepHistory keeps
        // them (hidden).
        let keep_history = self.settings.keep_history();
        if !keep_history {
            self.uploads.remove_for_message(msg);
        }
        let now = self.stamp_for(&mid);
        let is_root = msg.get("tcount").and_then(Value::as_u64).unwrap_or(0) > 0;
        if self.settings.show_deleted_status() || is_root {
            let editor = self
                .users
                .get(uid)
                .map(|u| json!({"_id": u.id, "username": u.username}))
                .unwrap_or(Value::Null);
            if let Some(obj) = self.messages.get_mut(&mid).and_then(Value::as_object_mut) {
                obj.insert("msg".into(), json!(""));
                obj.insert("t".into(), json!("rm"));
                obj.insert("urls".into(), json!([]));
                obj.insert("mentions".into(), json!([]));
                obj.insert("attachments".into(), json!([]));
                obj.remove("reactions");
                obj.insert("editedAt".into(), ejson_date(now));
                obj.insert("editedBy".into(), editor);
                obj.insert("_updatedAt".into(), ejson_date(now));
                let doc = Value::Object(obj.clone());
                self.emit_update(doc.clone());
                self.touch_last_message(&doc);
            }
        } else {
            if keep_history {
                // Message_KeepHistory: the document stays, hidden (never broadcast, not in the
                // trash, so chat.syncMessages does not report it as deleted).
                if let Some(obj) = self.messages.get_mut(&mid).and_then(Value::as_object_mut) {
                    obj.insert("_hidden".into(), json!(true));
                    obj.insert("_updatedAt".into(), ejson_date(now));
                }
            } else {
                self.messages.remove(&mid);
                if let Some(ids) = self.room_messages.get_mut(&rid) {
                    ids.retain(|id| id != &mid);
                }
                // Deletion stamps strictly increase, so the DELETED cursor never skips one of
                // two deletions in the same millisecond.
                let deleted_at = self.trash.last().map_or(now, |t| now.max(t.deleted_at + 1));
                self.trash.push(Trashed {
                    id: mid.clone(),
                    rid: rid.clone(),
                    deleted_at,
                });
            }
            self.emit(Emit::NotifyRoom {
                rid: rid.clone(),
                event: "deleteMessage".to_owned(),
                args: vec![json!({"_id": mid})],
                origin: None,
            });
            self.reset_last_message(&rid, &mid);
        }
        // A deleted reply decrements its root's tcount.
        if let Some(tmid) = str_field(msg, "tmid") {
            let tmid = tmid.to_owned();
            let now = self.stamp_for(&tmid);
            if let Some(obj) = self.messages.get_mut(&tmid).and_then(Value::as_object_mut) {
                let tcount = obj.get("tcount").and_then(Value::as_u64).unwrap_or(0);
                obj.insert("tcount".into(), json!(tcount.saturating_sub(1)));
                obj.insert("_updatedAt".into(), ejson_date(now));
                let doc = Value::Object(obj.clone());
                self.emit_update(doc);
            }
        }
    }

    /// `Rooms.resetLastMessageById`: when the deleted message was the last one, the room's
    /// `lastMessage` becomes the newest remaining visible user message shown in the room.
    fn reset_last_message(&mut self, rid: &str, deleted: &str) {
        let was_last = self
            .rooms
            .get(rid)
            .and_then(|r| r.last_message.as_ref())
            .and_then(|m| str_field(m, "_id"))
            == Some(deleted);
        if !was_last {
            return;
        }
        let previous = self.room_messages.get(rid).and_then(|ids| {
            ids.iter().rev().find_map(|id| {
                self.messages
                    .get(id)
                    .filter(|m| is_visible(m) && m.get("t").is_none() && !is_thread_only(m))
                    .cloned()
            })
        });
        if let Some(room) = self.rooms.get_mut(rid) {
            room.lm = previous.as_ref().and_then(|m| date_field(m, "ts"));
            room.last_message = previous;
        }
        self.room_changed(rid);
    }

    // ---------------------------------------------------------------- react, pin, star

    /// `setReaction`: reactions keyed by `:emoji:` holding usernames; toggles unless
    /// `should_react` is given, in which case a call that changes nothing is a silent no-op.
    pub(crate) fn react(
        &mut self,
        uid: &str,
        mid: &str,
        emoji: &str,
        should_react: Option<bool>,
    ) -> Result<(), OpError> {
        // executeSetReaction (8.x): emoji first, then user, message, room access and the
        // read-only and mute rules; every error carries `details.method = "setReaction"`. Any
        // emoji-like name is accepted (the standard emoji list is not simulated).
        let details = || json!({"method": "setReaction"});
        let name = emoji.replace(':', "");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-'))
        {
            return Err(OpError::meteor_with(
                "error-not-allowed",
                "Invalid emoji provided.",
                details(),
            ));
        }
        let key = format!(":{name}:");
        let user = self
            .users
            .get(uid)
            .ok_or_else(|| OpError::meteor_with("error-invalid-user", "Invalid user", details()))?
            .clone();
        let msg = self
            .message(mid)
            .ok_or_else(|| OpError::meteor_with("error-not-allowed", "Not allowed", details()))?;
        let rid = str_field(msg, "rid").unwrap_or_default().to_owned();
        if !self.can_access(&rid, uid) {
            return Err(OpError::meteor_with(
                "not-authorized",
                "Not Authorized",
                details(),
            ));
        }
        if let Some(room) = self.rooms.get(&rid) {
            if room.muted.contains(&user.username) {
                return Err(OpError::meteor_with(
                    "error-not-allowed",
                    "You have been muted",
                    details(),
                ));
            }
            if room.read_only
                && room.react_when_read_only != Some(true)
                && !self.has_permission(uid, "post-readonly", Some(&rid))
                && !room.unmuted.contains(&user.username)
            {
                return Err(OpError::plain(
                    "You can't send messages because the room is readonly.",
                ));
            }
        }
        let now = self.stamp_for(mid);
        let Some(obj) = self.messages.get_mut(mid).and_then(Value::as_object_mut) else {
            return Err(OpError::meteor(
                "error-message-not-found",
                "Message not found",
            ));
        };
        let mut reactions: BTreeMap<String, Vec<String>> = obj
            .get("reactions")
            .and_then(Value::as_object)
            .map(|r| {
                r.iter()
                    .map(|(k, v)| {
                        let names = v
                            .get("usernames")
                            .and_then(Value::as_array)
                            .map(|a| {
                                a.iter()
                                    .filter_map(|s| s.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (k.clone(), names)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let has = reactions
            .get(&key)
            .is_some_and(|names| names.contains(&user.username));
        let add = match should_react {
            None => !has,
            Some(want) if want == has => return Ok(()),
            Some(want) => want,
        };
        if add {
            reactions
                .entry(key)
                .or_default()
                .push(user.username.clone());
        } else if let Some(names) = reactions.get_mut(&key) {
            names.retain(|n| n != &user.username);
            if names.is_empty() {
                reactions.remove(&key);
            }
        }
        if reactions.is_empty() {
            obj.remove("reactions");
        } else {
            let map: Map<String, Value> = reactions
                .into_iter()
                .map(|(k, names)| (k, json!({"usernames": names})))
                .collect();
            obj.insert("reactions".into(), Value::Object(map));
        }
        obj.insert("_updatedAt".into(), ejson_date(now));
        let doc = Value::Object(obj.clone());
        self.emit_update(doc.clone());
        self.touch_last_message(&doc);
        Ok(())
    }

    /// `pinMessage` (apps/meteor/app/message-pin/server/pinMessage.ts, stored version
    /// 014c0860): `pinned`, `pinnedAt`, `pinnedBy` on the original (re-broadcast only with the
    /// `pin_broadcasts_original` switch: this source does not call `notifyOnMessageChange`),
    /// then a `message_pinned` system message quoting it. Returns the system message, or the
    /// original when it already was pinned.
    pub(crate) fn pin(&mut self, uid: &str, mid: &str) -> Result<Value, OpError> {
        let details = || json!({"method": "pinMessage"});
        let original = self.message(mid).cloned().ok_or_else(|| {
            OpError::meteor_with(
                "error-invalid-message",
                "Message you are pinning was not found",
                details(),
            )
        })?;
        if !self.settings.bool(id::ALLOW_PINNING) {
            return Err(OpError::meteor_with(
                "error-action-not-allowed",
                "Message pinning not allowed",
                details(),
            ));
        }
        let rid = str_field(&original, "rid").unwrap_or_default().to_owned();
        if !self.has_permission(uid, "pin-message", Some(&rid)) || !self.can_access(&rid, uid) {
            return Err(OpError::meteor_with(
                "not-authorized",
                "Not Authorized",
                details(),
            ));
        }
        if original.get("pinned").and_then(Value::as_bool) == Some(true) {
            return Ok(original);
        }
        let user = self
            .users
            .get(uid)
            .cloned()
            .ok_or_else(|| OpError::meteor("error-invalid-user", "Invalid user"))?;
        let now = self.stamp_for(mid);
        let Some(obj) = self.messages.get_mut(mid).and_then(Value::as_object_mut) else {
            return Err(OpError::meteor("error-invalid-message", "Invalid message"));
        };
        obj.insert("pinned".into(), json!(true));
        obj.insert("pinnedAt".into(), ejson_date(now));
        obj.insert(
            "pinnedBy".into(),
            json!({"_id": user.id, "username": user.username}),
        );
        obj.insert("_updatedAt".into(), ejson_date(now));
        let doc = Value::Object(obj.clone());
        if self.switches.pin_broadcasts_original {
            self.emit_update(doc.clone());
        }
        self.touch_last_message(&doc);
        let author = original
            .get("u")
            .and_then(|u| u.get("username"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let inner: Vec<Value> = original
            .get("attachments")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter(|x| !is_quote(x)).cloned().collect())
            .unwrap_or_default();
        let t = if original.get("t").and_then(Value::as_str) == Some("e2e") {
            "message_pinned_e2e"
        } else {
            "message_pinned"
        };
        let mut extra = Map::new();
        extra.insert(
            "attachments".into(),
            json!([{
                "text": original.get("msg").cloned().unwrap_or(json!("")),
                "author_name": author,
                "author_icon": format!("/avatar/{author}"),
                "ts": original.get("ts").cloned().unwrap_or(Value::Null),
                "attachments": inner,
            }]),
        );
        self.save_system_message(t, &rid, "", uid, extra)
            .ok_or_else(|| OpError::plain("unknown-error"))
    }

    /// `unpinMessage`: `pinned: false` (re-broadcast), `lastMessage` kept in step.
    pub(crate) fn unpin(&mut self, uid: &str, mid: &str) -> Result<(), OpError> {
        let details = || json!({"method": "unpinMessage"});
        if !self.settings.bool(id::ALLOW_PINNING) {
            return Err(OpError::meteor_with(
                "error-action-not-allowed",
                "Message pinning not allowed",
                details(),
            ));
        }
        let not_found = || {
            OpError::meteor_with(
                "error-invalid-message",
                "Message you are unpinning was not found",
                details(),
            )
        };
        let original = self.message(mid).cloned().ok_or_else(not_found)?;
        let rid = str_field(&original, "rid").unwrap_or_default().to_owned();
        if !self.is_member(&rid, uid) {
            return Err(not_found());
        }
        if !self.has_permission(uid, "pin-message", Some(&rid)) {
            return Err(OpError::meteor_with(
                "not-authorized",
                "Not Authorized",
                details(),
            ));
        }
        let user = self.users.get(uid).cloned();
        let now = self.stamp_for(mid);
        let Some(obj) = self.messages.get_mut(mid).and_then(Value::as_object_mut) else {
            return Err(not_found());
        };
        obj.insert("pinned".into(), json!(false));
        if let Some(user) = user {
            obj.insert(
                "pinnedBy".into(),
                json!({"_id": user.id, "username": user.username}),
            );
        }
        obj.insert("_updatedAt".into(), ejson_date(now));
        let doc = Value::Object(obj.clone());
        self.emit_update(doc.clone());
        self.touch_last_message(&doc);
        Ok(())
    }

    /// `starMessage`: `starred` gains or loses `{_id: uid}` (re-broadcast); without a
    /// subscription nothing changes.
    pub(crate) fn star(&mut self, uid: &str, mid: &str, starred: bool) -> Result<(), OpError> {
        let details = || json!({"method": "starMessage"});
        if !self.settings.bool(id::ALLOW_STARRING) {
            return Err(OpError::meteor_with(
                "error-action-not-allowed",
                "Message starring not allowed",
                details(),
            ));
        }
        let msg = self.message(mid).cloned().ok_or_else(|| {
            OpError::meteor(
                "error-message-not-found",
                "The provided \"messageId\" does not match any existing message.",
            )
        })?;
        let rid = str_field(&msg, "rid").unwrap_or_default().to_owned();
        if !self.is_member(&rid, uid) {
            return Ok(());
        }
        if !self.can_access(&rid, uid) {
            return Err(OpError::meteor_with(
                "not-authorized",
                "Not Authorized",
                details(),
            ));
        }
        let now = self.stamp_for(mid);
        let Some(obj) = self.messages.get_mut(mid).and_then(Value::as_object_mut) else {
            return Ok(());
        };
        let mut list: Vec<Value> = obj
            .get("starred")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let me = json!({"_id": uid});
        if starred {
            if !list.contains(&me) {
                list.push(me);
            }
        } else {
            list.retain(|s| s != &me);
        }
        obj.insert("starred".into(), Value::Array(list));
        obj.insert("_updatedAt".into(), ejson_date(now));
        let doc = Value::Object(obj.clone());
        self.emit_update(doc.clone());
        self.touch_last_message(&doc);
        Ok(())
    }

    // ---------------------------------------------------------------- history reads

    /// `messages/get` with `lastUpdate`: documents updated after `since`, newest `ts` first, and
    /// hard deletes after `since` as `{_id, _deletedAt}`.
    pub(crate) fn sync(&self, rid: &str, since: i64) -> (Vec<Value>, Vec<Value>) {
        let mut updated: Vec<Value> = self
            .messages_of(rid)
            .into_iter()
            .filter(is_visible)
            .filter(|m| date_field(m, "_updatedAt").unwrap_or(0) > since)
            .collect();
        updated.sort_by_key(|m| std::cmp::Reverse(date_field(m, "ts").unwrap_or(0)));
        let deleted = self
            .trash
            .iter()
            .filter(|t| t.rid == rid && t.deleted_at > since)
            .map(|t| json!({"_id": t.id, "_deletedAt": ejson_date(t.deleted_at)}))
            .collect();
        (updated, deleted)
    }

    /// `messages/get` cursor mode (`handleCursorPagination`): `UPDATED` pages visible documents
    /// by `_updatedAt`, `DELETED` pages the trash by `_deletedAt` (as `{_id, _deletedAt}`);
    /// ascending after `next`, descending before `previous`; `count + 1` fetched to detect more.
    /// Returns the page and the `next` / `previous` cursors (ms as strings).
    pub(crate) fn sync_cursor(
        &self,
        rid: &str,
        deleted: bool,
        count: usize,
        next: Option<i64>,
        previous: Option<i64>,
    ) -> (Vec<Value>, Option<String>, Option<String>) {
        let mut items: Vec<(i64, Value)> = if deleted {
            self.trash
                .iter()
                .filter(|t| t.rid == rid)
                .map(|t| {
                    (
                        t.deleted_at,
                        json!({"_id": t.id, "_deletedAt": ejson_date(t.deleted_at)}),
                    )
                })
                .collect()
        } else {
            self.messages_of(rid)
                .into_iter()
                .filter(is_visible)
                .map(|m| (date_field(&m, "_updatedAt").unwrap_or(0), m))
                .collect()
        };
        match (next, previous) {
            (Some(n), _) => {
                items.retain(|(at, _)| *at > n);
                items.sort_by_key(|(at, _)| *at);
            }
            (None, Some(p)) => {
                items.retain(|(at, _)| *at < p);
                items.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
            }
            (None, None) => items.sort_by_key(|(at, _)| *at),
        }
        if next.is_some() || previous.is_some() {
            items.truncate(count + 1);
        }
        let cursor = |i: usize| items.get(i).map(|(at, _)| at.to_string());
        let len = items.len();
        let count = count.max(1);
        let more = len > count;
        // mountNextCursor / mountPreviousCursor, case by case.
        let next_cursor = if len == 0 {
            None
        } else if previous.is_some() {
            cursor(0)
        } else if next.is_some() && !more {
            None
        } else if next.is_some() {
            cursor(len - 2)
        } else {
            cursor(len - 1)
        };
        let previous_cursor = if len == 0 {
            None
        } else if next.is_some() {
            cursor(0)
        } else if previous.is_some() && !more {
            None
        } else if previous.is_some() {
            cursor(len - 2)
        } else {
            cursor(0)
        };
        if more {
            items.pop();
        }
        (
            items.into_iter().map(|(_, v)| v).collect(),
            next_cursor,
            previous_cursor,
        )
    }

    /// `loadMissedMessages`: messages with `ts` after `since`, newest first.
    pub(crate) fn missed(&self, rid: &str, since: i64) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .messages_of(rid)
            .into_iter()
            .filter(is_visible)
            .filter(|m| date_field(m, "ts").unwrap_or(0) > since)
            .collect();
        out.sort_by_key(|m| std::cmp::Reverse(date_field(m, "ts").unwrap_or(0)));
        out
    }

    /// An ephemeral message to one user (`notify.ephemeralMessage`), from rocket.cat.
    pub(crate) fn ephemeral(&mut self, uid: &str, rid: &str, text: &str) {
        let now = self.now();
        self.notify_user(
            uid,
            "message",
            vec![json!({
                "_id": random_id(), "rid": rid, "ts": ejson_date(now), "msg": text,
                "u": {"_id": "rocket.cat", "username": "rocket.cat"},
                "private": true, "groupable": false, "_updatedAt": ejson_date(now),
            })],
        );
    }

    /// A client-written stream event (typing), re-emitted to everyone but its origin.
    pub(crate) fn notify_room(
        &mut self,
        rid: &str,
        event: &str,
        args: Vec<Value>,
        origin: Option<String>,
    ) {
        self.emit(Emit::NotifyRoom {
            rid: rid.to_owned(),
            event: event.to_owned(),
            args,
            origin,
        });
    }
}
