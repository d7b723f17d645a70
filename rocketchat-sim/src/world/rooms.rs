//! Rooms, subscriptions and membership: creation (channels, groups, 1:1 and group DMs),
//! join / leave / kick with their system messages, room settings (name, topic, read-only,
//! roles, mutes, custom fields), deletion, and the room and subscription documents.
//!
//! Sources (Rocket.Chat 8.x, `apps/meteor/app/lib/server/functions/`): `createRoom.ts`,
//! `createDirectRoom.ts` (ids, names, `DirectMesssage_maxUsers`), `addUserToRoom.ts`
//! (`uj` / `au`, a new subscription starts `unread: 1, userMentions: 1, alert: true`),
//! `removeUserFromRoom.ts` (`ul` / `ru`, saved before the subscription goes),
//! `saveRoomName.ts` (`r`), `saveRoomTopic.ts` (`room_changed_topic`), `deleteRoom.ts`,
//! and `apps/meteor/server/lib/getNameForDMs.ts`.

use serde_json::{json, Map, Value};

use super::{Emit, OpError, World};
use crate::util::{ejson_date, random_id};

/// Room type letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomKind {
    /// `c`: public channel.
    Public,
    /// `p`: private group.
    Private,
    /// `d`: direct messages (1:1 or group).
    Direct,
}

impl RoomKind {
    pub(crate) fn letter(self) -> &'static str {
        match self {
            RoomKind::Public => "c",
            RoomKind::Private => "p",
            RoomKind::Direct => "d",
        }
    }

    /// What the channels / groups / im routes call such a room in their errors.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            RoomKind::Public => "channel",
            RoomKind::Private => "group",
            RoomKind::Direct => "direct message",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Room {
    pub(crate) id: String,
    pub(crate) kind: RoomKind,
    pub(crate) name: Option<String>,
    pub(crate) fname: Option<String>,
    pub(crate) creator: Option<String>,
    pub(crate) ts: i64,
    pub(crate) updated_at: i64,
    pub(crate) msgs: u64,
    /// Member user ids in join order (each has a subscription).
    pub(crate) members: Vec<String>,
    pub(crate) read_only: bool,
    pub(crate) react_when_read_only: Option<bool>,
    pub(crate) sys_mes: bool,
    pub(crate) default: bool,
    pub(crate) featured: Option<bool>,
    pub(crate) topic: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) announcement: Option<String>,
    pub(crate) custom_fields: Option<Value>,
    /// Muted usernames (`muted`), and the usernames allowed to post in a read-only room
    /// (`unmuted`).
    pub(crate) muted: Vec<String>,
    pub(crate) unmuted: Vec<String>,
    pub(crate) join_code: Option<String>,
    /// `favorite` of `rooms.saveRoomSettings` (`saveFavoriteById`).
    pub(crate) favorite: bool,
    pub(crate) last_message: Option<Value>,
    pub(crate) lm: Option<i64>,
}

impl Room {
    pub(crate) fn new(
        id: String,
        kind: RoomKind,
        name: Option<String>,
        creator: Option<String>,
        now: i64,
    ) -> Self {
        Room {
            id,
            kind,
            fname: name.clone(),
            name,
            creator,
            ts: now,
            updated_at: now,
            msgs: 0,
            members: Vec::new(),
            read_only: false,
            react_when_read_only: None,
            sys_mes: true,
            default: false,
            featured: None,
            topic: None,
            description: None,
            announcement: None,
            custom_fields: None,
            muted: Vec::new(),
            unmuted: Vec::new(),
            join_code: None,
            favorite: false,
            last_message: None,
            lm: None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub(crate) id: String,
    pub(crate) ts: i64,
    pub(crate) updated_at: i64,
    /// Room roles: `owner`, `moderator`, `leader`.
    pub(crate) roles: Vec<String>,
    pub(crate) open: bool,
    pub(crate) alert: bool,
    pub(crate) unread: u64,
    pub(crate) user_mentions: u64,
    pub(crate) group_mentions: u64,
    /// Last seen.
    pub(crate) ls: i64,
    pub(crate) favorite: bool,
}

impl Subscription {
    fn new(now: i64) -> Self {
        Subscription {
            id: random_id(),
            ts: now,
            updated_at: now,
            roles: Vec::new(),
            open: true,
            alert: false,
            unread: 0,
            user_mentions: 0,
            group_mentions: 0,
            ls: now,
            favorite: false,
        }
    }
}

/// Room fields `rooms.saveRoomSettings` and the channels/groups setters change. `None` leaves
/// a field alone.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoomChanges {
    pub(crate) name: Option<String>,
    pub(crate) topic: Option<String>,
    pub(crate) announcement: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) kind: Option<RoomKind>,
    pub(crate) read_only: Option<bool>,
    pub(crate) react_when_read_only: Option<bool>,
    pub(crate) default: Option<bool>,
    pub(crate) featured: Option<bool>,
    pub(crate) custom_fields: Option<Value>,
    pub(crate) join_code: Option<String>,
    pub(crate) favorite: Option<bool>,
}

impl World {
    pub(super) fn insert_room(&mut self, room: Room) {
        self.rooms.insert(room.id.clone(), room);
    }

    pub(crate) fn room(&self, rid: &str) -> Option<&Room> {
        self.rooms.get(rid)
    }

    pub(crate) fn room_by_name(&self, name: &str) -> Option<&Room> {
        self.rooms
            .values()
            .find(|r| r.name.as_deref() == Some(name))
    }

    pub(crate) fn is_member(&self, rid: &str, uid: &str) -> bool {
        self.subs.contains_key(&(rid.to_owned(), uid.to_owned()))
    }

    pub(crate) fn subscription(&self, rid: &str, uid: &str) -> Option<&Subscription> {
        self.subs.get(&(rid.to_owned(), uid.to_owned()))
    }

    /// `canAccessRoom`: active users; public rooms need `view-c-room`, others membership.
    pub(crate) fn can_access(&self, rid: &str, uid: &str) -> bool {
        let (Some(room), Some(user)) = (self.rooms.get(rid), self.users.get(uid)) else {
            return false;
        };
        if !user.active {
            return false;
        }
        match room.kind {
            RoomKind::Public => {
                self.is_member(rid, uid) || self.has_permission(uid, "view-c-room", None)
            }
            RoomKind::Private | RoomKind::Direct => self.is_member(rid, uid),
        }
    }

    /// Whether `uid` holds room role `role` in `rid`.
    pub(crate) fn has_room_role(&self, rid: &str, uid: &str, role: &str) -> bool {
        self.subscription(rid, uid)
            .is_some_and(|s| s.roles.iter().any(|r| r == role))
    }

    /// Members holding room role `role`.
    pub(crate) fn room_role_holders(&self, rid: &str, role: &str) -> Vec<String> {
        self.rooms
            .get(rid)
            .map(|r| {
                r.members
                    .iter()
                    .filter(|m| self.has_room_role(rid, m, role))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `createRoom` for `c` / `p`: the creator subscribes as `owner`, members plainly; no
    /// system messages.
    pub(crate) fn create_room(
        &mut self,
        kind: RoomKind,
        name: &str,
        creator: &str,
        members: &[String],
        read_only: bool,
    ) -> Result<String, OpError> {
        if name.trim().is_empty() {
            return Err(OpError::meteor_with(
                "error-invalid-name",
                "Invalid name",
                json!({"function": "RocketChat.createRoom"}),
            ));
        }
        if self.room_by_name(name).is_some() {
            return Err(OpError::meteor(
                "error-duplicate-channel-name",
                &format!("A channel with name '{name}' exists"),
            ));
        }
        if !self.users.contains_key(creator) {
            return Err(OpError::meteor("error-invalid-user", "Invalid user"));
        }
        for m in members {
            if !self.users.contains_key(m) {
                return Err(OpError::meteor("error-invalid-user", "Invalid user"));
            }
        }
        let now = self.now();
        let rid = random_id();
        let mut room = Room::new(
            rid.clone(),
            kind,
            Some(name.to_owned()),
            Some(creator.to_owned()),
            now,
        );
        room.read_only = read_only;
        room.sys_mes = !read_only;
        self.insert_room(room);
        self.subscribe(&rid, creator, &["owner"]);
        for m in members {
            self.subscribe(&rid, m, &[]);
        }
        Ok(rid)
    }

    /// `createDirectRoom`: a 1:1 DM (id = both ids sorted and concatenated), a self-DM or a
    /// group DM (random id), found again by its member set. `members` are user ids, the
    /// creator included or not (`excludeSelf`). Returns the room id.
    pub(crate) fn create_direct(
        &mut self,
        creator: &str,
        others: &[String],
    ) -> Result<String, OpError> {
        let mut uids: Vec<String> = Vec::new();
        for uid in std::iter::once(creator.to_owned()).chain(others.iter().cloned()) {
            if !uids.contains(&uid) {
                uids.push(uid);
            }
        }
        self.create_direct_exact(&uids)
    }

    /// `createDirectRoom` with exactly these members.
    pub(crate) fn create_direct_exact(&mut self, members: &[String]) -> Result<String, OpError> {
        let max = self.settings.int(super::settings::id::DM_MAX_USERS).max(1);
        if members.len() as i64 > max {
            return Err(OpError::meteor_with(
                "error-direct-message-max-user-exceeded",
                &format!(
                    "You cannot add more than {max} users, including yourself to a direct message"
                ),
                json!({"method": "createDirectRoom"}),
            ));
        }
        if members.is_empty() || members.iter().any(|m| !self.users.contains_key(m)) {
            return Err(OpError::meteor_with(
                "error-invalid-user",
                "Invalid user",
                json!({"method": "createDirectMessage"}),
            ));
        }
        let mut uids = members.to_vec();
        uids.sort();
        let existing = if uids.len() == 2 {
            Some(uids.concat()).filter(|id| self.rooms.contains_key(id))
        } else {
            self.rooms
                .values()
                .find(|r| {
                    r.kind == RoomKind::Direct && {
                        let mut m = r.members.clone();
                        m.sort();
                        m == uids
                    }
                })
                .map(|r| r.id.clone())
        };
        if let Some(rid) = existing {
            return Ok(rid);
        }
        let rid = if uids.len() == 2 {
            uids.concat()
        } else {
            random_id()
        };
        let now = self.now();
        self.insert_room(Room::new(rid.clone(), RoomKind::Direct, None, None, now));
        // The creator's subscription is open; the others' only in a group DM.
        let group = members.len() > 2;
        for (i, uid) in members.iter().enumerate() {
            self.add_subscription(&rid, uid, &[]);
            if i > 0 && !group {
                if let Some(s) = self.subs.get_mut(&(rid.clone(), uid.clone())) {
                    s.open = false;
                }
            }
        }
        // Names depend on every member, so the subscriptions are announced once all exist.
        for uid in members {
            self.announce_subscription(&rid, uid);
        }
        Ok(rid)
    }

    /// `createDirectMessage(usernames, userId, excludeSelf)`: `create-d`, every username must
    /// exist; the caller joins unless `excludeSelf`. Returns `{t: "d", rid, usernames}`.
    pub(crate) fn create_direct_message(
        &mut self,
        uid: &str,
        usernames: &[String],
        exclude_self: bool,
    ) -> Result<Value, OpError> {
        let details = || json!({"method": "createDirectMessage"});
        if !self.has_permission(uid, "create-d", None) {
            return Err(OpError::meteor_with(
                "error-not-allowed",
                "Not allowed",
                details(),
            ));
        }
        let mut members: Vec<String> = Vec::new();
        if !exclude_self {
            members.push(uid.to_owned());
        }
        for name in usernames {
            let id = self
                .user_by_username(name)
                .map(|u| u.id.clone())
                .ok_or_else(|| {
                    OpError::meteor_with("error-invalid-user", "Invalid user", details())
                })?;
            if !members.contains(&id) {
                members.push(id);
            }
        }
        let rid = self.create_direct_exact(&members)?;
        let usernames = self
            .room_doc(&rid)
            .and_then(|d| d.get("usernames").cloned())
            .unwrap_or(json!([]));
        Ok(json!({"t": "d", "rid": rid, "usernames": usernames}))
    }

    /// The 1:1 DM between two users (or a self-DM when `a == b`).
    pub(crate) fn ensure_dm(&mut self, a: &str, b: &str) -> Result<String, OpError> {
        let members: Vec<String> = if a == b {
            vec![a.to_owned()]
        } else {
            vec![a.to_owned(), b.to_owned()]
        };
        self.create_direct_exact(&members)
    }

    /// Adds a subscription with `roles`, and tells the user (`subscriptions-changed` and
    /// `rooms-changed` "inserted"). False when already a member.
    fn subscribe(&mut self, rid: &str, uid: &str, roles: &[&str]) -> bool {
        if !self.add_subscription(rid, uid, roles) {
            return false;
        }
        self.announce_subscription(rid, uid);
        true
    }

    /// Stores a subscription and the membership, announcing nothing.
    fn add_subscription(&mut self, rid: &str, uid: &str, roles: &[&str]) -> bool {
        let key = (rid.to_owned(), uid.to_owned());
        if self.subs.contains_key(&key) || !self.rooms.contains_key(rid) {
            return false;
        }
        let now = self.now();
        let mut sub = Subscription::new(now);
        sub.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        self.subs.insert(key, sub);
        if let Some(room) = self.rooms.get_mut(rid) {
            room.members.push(uid.to_owned());
            room.updated_at = now;
        }
        true
    }

    /// `subscriptions-changed` and `rooms-changed` "inserted" to the new member.
    fn announce_subscription(&mut self, rid: &str, uid: &str) {
        if let Some(sub) = self.subscription_doc(rid, uid) {
            self.notify_user(uid, "subscriptions-changed", vec![json!("inserted"), sub]);
        }
        if let Some(room) = self.room_doc(rid) {
            self.notify_user(uid, "rooms-changed", vec![json!("inserted"), room]);
        }
    }

    /// Subscribes a user (owner or not) with no system message (control `add_member`).
    pub(crate) fn join(&mut self, rid: &str, uid: &str, owner: bool) -> bool {
        let roles: &[&str] = if owner { &["owner"] } else { &[] };
        self.subscribe(rid, uid, roles)
    }

    /// `addUserToRoom`: subscription (`open`, `alert`, `unread: 1`, `userMentions: 1`), then
    /// `uj` (no inviter) or `au` (added by `inviter`), unless `silenced`. Ok(false) when the
    /// user already was a member.
    pub(crate) fn add_user_to_room(
        &mut self,
        rid: &str,
        uid: &str,
        inviter: Option<&str>,
        silenced: bool,
    ) -> Result<bool, OpError> {
        let room = self
            .rooms
            .get(rid)
            .ok_or_else(|| OpError::meteor("error-invalid-room", "Invalid room"))?;
        if room.kind == RoomKind::Direct {
            return Err(OpError::meteor_with(
                "error-not-allowed",
                "Not allowed",
                json!({"method": "addUserToRoom"}),
            ));
        }
        let username = self
            .users
            .get(uid)
            .map(|u| u.username.clone())
            .ok_or_else(|| OpError::meteor("error-invalid-user", "Invalid user"))?;
        if !self.subscribe(rid, uid, &[]) {
            return Ok(false);
        }
        if let Some(s) = self.subs.get_mut(&(rid.to_owned(), uid.to_owned())) {
            s.alert = true;
            s.unread = 1;
            s.user_mentions = 1;
        }
        if !silenced {
            match inviter {
                Some(by) if by != uid => {
                    self.save_system_message("au", rid, &username, by, Map::new());
                }
                _ => {
                    self.save_system_message("uj", rid, &username, uid, Map::new());
                }
            }
        }
        self.room_changed(rid);
        Ok(true)
    }

    /// The number of owners, for the last-owner rule of leave and kick.
    fn owner_count(&self, rid: &str) -> usize {
        self.room_role_holders(rid, "owner").len()
    }

    /// `removeUserFromRoom`: `ru` (by someone else) or `ul`, then the subscription goes.
    /// `last_owner_check` applies `leaveRoom` / `removeUserFromRoom`'s rule.
    pub(crate) fn remove_user_from_room(
        &mut self,
        rid: &str,
        uid: &str,
        by: Option<&str>,
        last_owner_check: bool,
    ) -> Result<(), OpError> {
        let method = if by.is_some() {
            "removeUserFromRoom"
        } else {
            "leaveRoom"
        };
        let username = self
            .users
            .get(uid)
            .map(|u| u.username.clone())
            .ok_or_else(|| OpError::meteor("error-invalid-user", "Invalid user"))?;
        if !self.is_member(rid, uid) {
            let reason = if by.is_some() {
                "User is not in this room"
            } else {
                "You are not in this room"
            };
            return Err(OpError::meteor_with(
                "error-user-not-in-room",
                reason,
                json!({"method": method}),
            ));
        }
        if last_owner_check && self.has_room_role(rid, uid, "owner") && self.owner_count(rid) == 1 {
            return Err(OpError::meteor_with(
                "error-you-are-last-owner",
                "You are the last owner. Please set new owner before leaving the room.",
                json!({"method": method}),
            ));
        }
        let (t, actor) = match by {
            Some(by) if by != uid => ("ru", by),
            _ => ("ul", uid),
        };
        self.save_system_message(t, rid, &username, actor, Map::new());
        self.leave(rid, uid);
        self.room_changed(rid);
        Ok(())
    }

    /// Removes a subscription (`subscriptions-changed` "removed"); the hub silently drops the
    /// user's `<rid>` stream subscriptions. No system message. False if not a member.
    pub(crate) fn leave(&mut self, rid: &str, uid: &str) -> bool {
        let Some(sub) = self.subs.remove(&(rid.to_owned(), uid.to_owned())) else {
            return false;
        };
        let now = self.now();
        if let Some(room) = self.rooms.get_mut(rid) {
            room.members.retain(|m| m != uid);
            room.updated_at = now;
        }
        self.notify_user(
            uid,
            "subscriptions-changed",
            vec![
                json!("removed"),
                json!({"_id": sub.id, "u": {"_id": uid}, "rid": rid}),
            ],
        );
        self.emit(Emit::Left {
            rid: rid.to_owned(),
            uid: uid.to_owned(),
        });
        true
    }

    /// `deleteRoom`: the room's uploads and messages go, every member's subscription is
    /// removed (`subscriptions-changed` "removed"; their room streams go silently), then the
    /// room. No system message and no per-message delete events.
    pub(crate) fn delete_room(&mut self, rid: &str) -> Result<(), OpError> {
        let room = self.rooms.get(rid).cloned().ok_or_else(|| {
            OpError::meteor_with(
                "error-invalid-room",
                "Invalid room",
                json!({"method": "eraseRoom"}),
            )
        })?;
        self.uploads.remove_for_room(rid);
        if let Some(ids) = self.room_messages.remove(rid) {
            for id in ids {
                self.messages.remove(&id);
            }
        }
        for uid in &room.members {
            self.leave(rid, uid);
        }
        self.rooms.remove(rid);
        Ok(())
    }

    /// Applies room setting changes, with the system messages `saveRoomSettings` posts
    /// (`r`, `room_changed_topic`, `room_changed_announcement`, `room_changed_description`,
    /// `room_changed_privacy`, `room-set-read-only` / `room-removed-read-only`), then
    /// `rooms-changed` (and `subscriptions-changed` for a rename or a type change).
    pub(crate) fn change_room(
        &mut self,
        rid: &str,
        by: &str,
        changes: RoomChanges,
    ) -> Result<(), OpError> {
        let Some(room) = self.rooms.get(rid).cloned() else {
            return Err(OpError::meteor("error-invalid-room", "Invalid room"));
        };
        if let Some(name) = &changes.name {
            if name.trim().is_empty() {
                return Err(OpError::meteor(
                    "error-invalid-room-name",
                    &format!("{name} is not a valid room name"),
                ));
            }
            if self.room_by_name(name).is_some_and(|other| other.id != rid) {
                return Err(OpError::meteor(
                    "error-duplicate-channel-name",
                    &format!("A channel with name '{name}' exists"),
                ));
            }
        }
        let now = self.now();
        let mut system: Vec<(&str, String, Map<String, Value>)> = Vec::new();
        let mut names_changed = false;
        if let Some(r) = self.rooms.get_mut(rid) {
            if let Some(name) = changes.name {
                if r.name.as_deref() != Some(name.as_str()) {
                    r.name = Some(name.clone());
                    r.fname = Some(name.clone());
                    names_changed = true;
                    system.push(("r", name, Map::new()));
                }
            }
            if let Some(topic) = changes.topic {
                if r.topic.as_deref().unwrap_or("") != topic {
                    system.push(("room_changed_topic", topic.clone(), Map::new()));
                    r.topic = Some(topic);
                }
            }
            if let Some(text) = changes.announcement {
                if r.announcement.as_deref().unwrap_or("") != text {
                    system.push(("room_changed_announcement", text.clone(), Map::new()));
                    r.announcement = Some(text);
                }
            }
            if let Some(text) = changes.description {
                if r.description.as_deref().unwrap_or("") != text {
                    system.push(("room_changed_description", text.clone(), Map::new()));
                    r.description = Some(text);
                }
            }
            if let Some(kind) = changes.kind {
                if kind != r.kind && kind != RoomKind::Direct && r.kind != RoomKind::Direct {
                    r.kind = kind;
                    names_changed = true;
                    let word = if kind == RoomKind::Public {
                        "public"
                    } else {
                        "private"
                    };
                    system.push(("room_changed_privacy", word.to_owned(), Map::new()));
                }
            }
            if let Some(ro) = changes.read_only {
                if ro != r.read_only {
                    r.read_only = ro;
                    let t = if ro {
                        "room-set-read-only"
                    } else {
                        "room-removed-read-only"
                    };
                    system.push((t, String::new(), Map::new()));
                }
            }
            if let Some(v) = changes.react_when_read_only {
                r.react_when_read_only = Some(v);
            }
            if let Some(v) = changes.default {
                r.default = v;
            }
            if let Some(v) = changes.featured {
                r.featured = Some(v);
            }
            if let Some(cf) = changes.custom_fields {
                r.custom_fields = Some(cf);
            }
            if let Some(v) = changes.favorite {
                r.favorite = v;
            }
            if let Some(code) = changes.join_code {
                r.join_code = (!code.is_empty()).then_some(code);
            }
            r.updated_at = now;
        }
        // saveRoomTopic and friends post as the editor; msg is the new value.
        let actor = self.users.get(by).map(|u| u.id.clone()).unwrap_or_default();
        for (t, msg, extra) in system {
            self.save_system_message(t, rid, &msg, &actor, extra);
        }
        if names_changed {
            for uid in room.members.clone() {
                self.sub_changed(rid, &uid);
            }
        }
        self.room_changed(rid);
        Ok(())
    }

    /// Adds or removes a room role (`owner`, `moderator`, `leader`), with the
    /// `subscription-role-added` / `-removed` system message (msg = the target's username,
    /// `role` = the role) and `roles-change` on `stream-notify-logged`.
    pub(crate) fn set_room_role(
        &mut self,
        rid: &str,
        uid: &str,
        role: &str,
        on: bool,
        by: &str,
    ) -> Result<(), OpError> {
        let user = self
            .users
            .get(uid)
            .cloned()
            .ok_or_else(|| OpError::meteor("error-invalid-user", "Invalid user"))?;
        let Some(sub) = self.subs.get_mut(&(rid.to_owned(), uid.to_owned())) else {
            return Err(OpError::meteor(
                "error-user-not-in-room",
                "User is not in this room",
            ));
        };
        let has = sub.roles.iter().any(|r| r == role);
        let (code, text) = match (role, on) {
            ("owner", true) => ("error-user-already-owner", "User is already an owner"),
            ("owner", false) => ("error-user-not-owner", "User is not an owner"),
            ("moderator", true) => (
                "error-user-already-moderator",
                "User is already a moderator",
            ),
            ("moderator", false) => ("error-user-not-moderator", "User is not a moderator"),
            ("leader", true) => ("error-user-already-leader", "User is already a leader"),
            _ => ("error-user-not-leader", "User is not a leader"),
        };
        if has == on {
            return Err(OpError::meteor(code, text));
        }
        if on {
            sub.roles.push(role.to_owned());
        } else {
            sub.roles.retain(|r| r != role);
        }
        let t = if on {
            "subscription-role-added"
        } else {
            "subscription-role-removed"
        };
        let mut extra = Map::new();
        extra.insert("role".into(), json!(role));
        self.save_system_message(t, rid, &user.username, by, extra);
        self.sub_changed(rid, uid);
        self.emit(Emit::NotifyLogged {
            event: "roles-change".to_owned(),
            args: vec![
                json!({"type": if on { "added" } else { "removed" }, "_id": role,
                "u": {"_id": user.id, "username": user.username, "name": user.name}, "scope": rid}),
            ],
        });
        Ok(())
    }

    /// `muteUserInRoom` / `unmuteUserInRoom`: `muted` / `unmuted` lists (in a read-only room,
    /// unmuting lets the user post) and `user-muted` / `user-unmuted` (msg = username).
    pub(crate) fn set_muted(
        &mut self,
        rid: &str,
        uid: &str,
        muted: bool,
        by: &str,
    ) -> Result<(), OpError> {
        let username = self
            .users
            .get(uid)
            .map(|u| u.username.clone())
            .ok_or_else(|| OpError::meteor("error-invalid-user", "Invalid user"))?;
        if !self.is_member(rid, uid) {
            return Err(OpError::meteor(
                "error-user-not-in-room",
                "User is not in this room",
            ));
        }
        let now = self.now();
        let Some(room) = self.rooms.get_mut(rid) else {
            return Err(OpError::meteor("error-invalid-room", "Invalid room"));
        };
        if muted {
            if !room.muted.contains(&username) {
                room.muted.push(username.clone());
            }
            room.unmuted.retain(|u| u != &username);
        } else {
            room.muted.retain(|u| u != &username);
            if room.read_only && !room.unmuted.contains(&username) {
                room.unmuted.push(username.clone());
            }
        }
        room.updated_at = now;
        let t = if muted { "user-muted" } else { "user-unmuted" };
        self.save_system_message(t, rid, &username, by, Map::new());
        self.room_changed(rid);
        Ok(())
    }

    /// `rooms-changed` "updated" with the room document to every member (each one hears it
    /// on `<uid>/rooms-changed` when subscribed).
    pub(crate) fn room_changed(&mut self, rid: &str) {
        let Some(doc) = self.room_doc(rid) else {
            return;
        };
        let uids = self
            .rooms
            .get(rid)
            .map(|r| r.members.clone())
            .unwrap_or_default();
        if uids.is_empty() {
            return;
        }
        self.emit(Emit::NotifyUsers {
            uids,
            event: "rooms-changed".to_owned(),
            args: vec![json!("updated"), doc],
        });
    }

    /// `subscriptions-changed` "updated" with the subscription document to its owner.
    pub(crate) fn sub_changed(&mut self, rid: &str, uid: &str) {
        if let Some(doc) = self.subscription_doc(rid, uid) {
            self.notify_user(uid, "subscriptions-changed", vec![json!("updated"), doc]);
        }
    }

    /// DM member names for `uid`: the others sorted by display name (`getNameForDMs`); a
    /// self-DM names its only member.
    fn dm_names(&self, room: &Room, uid: &str) -> (String, String) {
        let mut members: Vec<&super::User> = room
            .members
            .iter()
            .filter_map(|m| self.users.get(m))
            .collect();
        members.sort_by(|a, b| a.name.cmp(&b.name));
        let others: Vec<&&super::User> = members.iter().filter(|u| u.id != uid).collect();
        if others.is_empty() {
            let me = self.users.get(uid);
            return (
                me.map(|u| u.username.clone()).unwrap_or_default(),
                me.map(|u| u.name.clone()).unwrap_or_default(),
            );
        }
        let name = others
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let fname = others
            .iter()
            .map(|u| {
                if u.name.is_empty() {
                    u.username.as_str()
                } else {
                    u.name.as_str()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        (name, fname)
    }

    /// The room document (DDP form): `createRoom`'s fields (`ro`, `sysMes`, `default` always
    /// present), `createDirectRoom`'s for DMs (`uids`, `usernames`, no `u` or name).
    pub(crate) fn room_doc(&self, rid: &str) -> Option<Value> {
        let r = self.rooms.get(rid)?;
        let mut doc = Map::new();
        doc.insert("_id".into(), json!(r.id));
        doc.insert("t".into(), json!(r.kind.letter()));
        doc.insert("msgs".into(), json!(r.msgs));
        doc.insert("usersCount".into(), json!(r.members.len()));
        doc.insert("ts".into(), ejson_date(r.ts));
        doc.insert("_updatedAt".into(), ejson_date(r.updated_at));
        if r.kind == RoomKind::Direct {
            let mut members: Vec<&super::User> =
                r.members.iter().filter_map(|m| self.users.get(m)).collect();
            members.sort_by(|a, b| a.username.cmp(&b.username));
            let mut uids = r.members.clone();
            uids.sort();
            doc.insert("uids".into(), json!(uids));
            doc.insert(
                "usernames".into(),
                json!(members
                    .iter()
                    .map(|u| u.username.as_str())
                    .collect::<Vec<_>>()),
            );
            if r.read_only {
                doc.insert("ro".into(), json!(true));
            }
        } else {
            if let Some(name) = &r.name {
                doc.insert("name".into(), json!(name));
                doc.insert("fname".into(), json!(r.fname.as_ref().unwrap_or(name)));
            }
            if let Some(c) = r.creator.as_ref().and_then(|c| self.users.get(c)) {
                doc.insert("u".into(), json!({"_id": c.id, "username": c.username}));
            }
            doc.insert("ro".into(), json!(r.read_only));
            doc.insert("sysMes".into(), json!(r.sys_mes));
            doc.insert("default".into(), json!(r.default));
        }
        let optional = [
            ("topic", r.topic.as_ref().map(|t| json!(t))),
            ("description", r.description.as_ref().map(|t| json!(t))),
            ("announcement", r.announcement.as_ref().map(|t| json!(t))),
            ("customFields", r.custom_fields.clone()),
            ("featured", r.featured.map(|f| json!(f))),
            (
                "reactWhenReadOnly",
                r.react_when_read_only.map(|f| json!(f)),
            ),
            (
                "joinCodeRequired",
                r.join_code.as_ref().map(|_| json!(true)),
            ),
            ("favorite", r.favorite.then_some(json!(true))),
            ("lm", r.lm.map(ejson_date)),
            ("lastMessage", r.last_message.clone()),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                doc.insert(k.into(), v);
            }
        }
        if !r.muted.is_empty() {
            doc.insert("muted".into(), json!(r.muted));
        }
        if !r.unmuted.is_empty() {
            doc.insert("unmuted".into(), json!(r.unmuted));
        }
        Some(Value::Object(doc))
    }

    /// The subscription document (DDP form) of `uid` in `rid`.
    pub(crate) fn subscription_doc(&self, rid: &str, uid: &str) -> Option<Value> {
        let sub = self.subscription(rid, uid)?;
        let room = self.rooms.get(rid)?;
        let user = self.users.get(uid)?;
        let (name, fname) = match room.kind {
            RoomKind::Direct => self.dm_names(room, uid),
            _ => {
                let name = room.name.clone().unwrap_or_default();
                let fname = room.fname.clone().unwrap_or_else(|| name.clone());
                (name, fname)
            }
        };
        let u = if room.kind == RoomKind::Direct {
            json!({"_id": user.id, "username": user.username})
        } else {
            json!({"_id": user.id, "username": user.username, "name": user.name})
        };
        let mut doc = json!({
            "_id": sub.id,
            "rid": rid,
            "u": u,
            "t": room.kind.letter(),
            "name": name,
            "fname": fname,
            "open": sub.open,
            "alert": sub.alert,
            "unread": sub.unread,
            "userMentions": sub.user_mentions,
            "groupMentions": sub.group_mentions,
            "ts": ejson_date(sub.ts),
            "ls": ejson_date(sub.ls),
            "_updatedAt": ejson_date(sub.updated_at),
        });
        if let Some(o) = doc.as_object_mut() {
            if !sub.roles.is_empty() {
                o.insert("roles".into(), json!(sub.roles));
            }
            if sub.favorite {
                o.insert("f".into(), json!(true));
            }
        }
        Some(doc)
    }

    /// Rooms the user is subscribed to, oldest first (`rooms.get`).
    pub(crate) fn rooms_of(&self, uid: &str) -> Vec<Value> {
        let mut rooms: Vec<&Room> = self
            .rooms
            .values()
            .filter(|r| self.is_member(&r.id, uid))
            .collect();
        rooms.sort_by_key(|r| r.ts);
        rooms.iter().filter_map(|r| self.room_doc(&r.id)).collect()
    }

    /// The user's subscription documents, oldest first (`subscriptions.get`).
    pub(crate) fn subscriptions_of(&self, uid: &str) -> Vec<Value> {
        let mut subs: Vec<(&(String, String), &Subscription)> =
            self.subs.iter().filter(|((_, u), _)| u == uid).collect();
        subs.sort_by_key(|(_, s)| s.ts);
        subs.iter()
            .filter_map(|((rid, _), _)| self.subscription_doc(rid, uid))
            .collect()
    }

    /// `readMessages` / `subscriptions.read`: `ls` = now, unread counters and alert cleared.
    pub(crate) fn mark_read(&mut self, rid: &str, uid: &str) -> bool {
        let now = self.now();
        let Some(sub) = self.subs.get_mut(&(rid.to_owned(), uid.to_owned())) else {
            return false;
        };
        sub.ls = now;
        sub.alert = false;
        sub.unread = 0;
        sub.user_mentions = 0;
        sub.group_mentions = 0;
        sub.updated_at = now;
        self.sub_changed(rid, uid);
        true
    }

    /// `subscriptions.unread`: `ls` just before the message at `from_ts`, unread set.
    pub(crate) fn mark_unread(&mut self, rid: &str, uid: &str, from_ts: i64) -> bool {
        let now = self.now();
        let unread = self
            .room_messages
            .get(rid)
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| self.messages.get(id))
                    .filter(|m| super::date_field(m, "ts").unwrap_or(0) >= from_ts)
                    .count() as u64
            })
            .unwrap_or(0);
        let Some(sub) = self.subs.get_mut(&(rid.to_owned(), uid.to_owned())) else {
            return false;
        };
        sub.ls = from_ts - 1;
        sub.unread = unread;
        sub.alert = true;
        sub.updated_at = now;
        self.sub_changed(rid, uid);
        true
    }
}
