//! The in-memory Rocket.Chat world: users, tokens, rooms, subscriptions, messages, and the
//! mutations that REST, DDP and the control handle share.
//!
//! Every mutation records what the server would broadcast as [`Emit`]s; the hub fans them out to
//! DDP sessions while the same lock is held, so events keep the order of the mutations.
//! Documents are kept in DDP (EJSON) form; REST converts dates with [`crate::util::to_rest`].

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use crate::mentions;
use crate::util::{ejson_date, hash_token, now_ms, random_id, random_secret, utf16_len};

/// What a mutation asks the hub to broadcast or enforce.
#[derive(Debug, Clone)]
pub(crate) enum Emit {
    /// A full message document, for `stream-room-messages` (`__my_messages__` and `<rid>`).
    Message { rid: String, doc: Value },
    /// A `stream-notify-room` event `<rid>/<event>`; `origin` (a session id) is skipped.
    NotifyRoom {
        rid: String,
        event: String,
        args: Vec<Value>,
        origin: Option<String>,
    },
    /// A `stream-notify-user` event `<uid>/<event>`.
    NotifyUser {
        uid: String,
        event: String,
        args: Vec<Value>,
    },
    /// Close every socket logged in with this hashed token.
    CloseToken { hashed: String },
    /// Close every socket of this user.
    CloseUser { uid: String },
    /// The user left the room: drop its sessions' `<rid>` stream subscriptions, no `nosub`.
    Left { rid: String, uid: String },
}

/// A failure the way Rocket.Chat throws it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OpError {
    /// `Meteor.Error(code, reason, details)`.
    Meteor {
        code: String,
        reason: String,
        details: Option<Value>,
    },
    /// A plain `Error(text)` or `API.v1.failure(text)`.
    Plain(String),
}

impl OpError {
    pub(crate) fn meteor(code: &str, reason: &str) -> Self {
        OpError::Meteor {
            code: code.to_owned(),
            reason: reason.to_owned(),
            details: None,
        }
    }

    pub(crate) fn meteor_with(code: &str, reason: &str, details: Value) -> Self {
        OpError::Meteor {
            code: code.to_owned(),
            reason: reason.to_owned(),
            details: Some(details),
        }
    }

    pub(crate) fn plain(text: &str) -> Self {
        OpError::Plain(text.to_owned())
    }

    /// The code or text, as `error.error || error.message` reads it.
    pub(crate) fn code(&self) -> &str {
        match self {
            OpError::Meteor { code, .. } => code,
            OpError::Plain(text) => text,
        }
    }
}

/// Human or bot account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    /// `type: "user"`, roles `["user"]`.
    Human,
    /// `type: "bot"`, roles `["bot"]` (plus `user` when created by tests, so it may mint PATs).
    Bot,
}

#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) hashed: String,
    /// Set for PATs.
    pub(crate) name: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) bypass_two_factor: bool,
    pub(crate) last_part: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) username: String,
    pub(crate) name: String,
    pub(crate) kind: UserKind,
    pub(crate) roles: Vec<String>,
    pub(crate) active: bool,
    pub(crate) password: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) tokens: Vec<Token>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No password, no token hashes.
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("kind", &self.kind)
            .field("roles", &self.roles)
            .field("active", &self.active)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl User {
    pub(crate) fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    fn user_ref(&self) -> Value {
        json!({"_id": self.id, "username": self.username, "name": self.name})
    }
}

/// Room type letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomKind {
    /// `c`: public channel.
    Public,
    /// `p`: private group.
    Private,
    /// `d`: direct messages.
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
}

#[derive(Debug, Clone)]
pub(crate) struct Room {
    pub(crate) id: String,
    pub(crate) kind: RoomKind,
    pub(crate) name: Option<String>,
    pub(crate) creator: Option<String>,
    pub(crate) ts: i64,
    pub(crate) updated_at: i64,
    pub(crate) msgs: u64,
    /// Member user ids in join order (each has a subscription).
    pub(crate) members: Vec<String>,
    pub(crate) read_only: bool,
    pub(crate) default: bool,
    pub(crate) last_message: Option<Value>,
    pub(crate) lm: Option<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub(crate) id: String,
    pub(crate) ts: i64,
    pub(crate) updated_at: i64,
    pub(crate) owner: bool,
}

#[derive(Debug, Clone)]
struct Trashed {
    id: String,
    rid: String,
    deleted_at: i64,
}

/// Message fields a sender may set (REST `chat.sendMessage` / `chat.postMessage`, DDP
/// `sendMessage`, control `post`).
#[derive(Debug, Clone, Default)]
pub(crate) struct SendInput {
    pub(crate) id: Option<String>,
    pub(crate) rid: String,
    pub(crate) msg: String,
    pub(crate) tmid: Option<String>,
    pub(crate) tshow: Option<bool>,
    pub(crate) ts: Option<i64>,
    /// Extra fields copied as given (`alias`, `emoji`, `avatar`, `attachments`, `blocks`,
    /// `customFields`, `groupable`, ...).
    pub(crate) extra: Map<String, Value>,
}

/// Settings the world needs from `SimConfig`.
#[derive(Debug, Clone)]
pub(crate) struct WorldSettings {
    pub(crate) show_deleted_status: bool,
    pub(crate) keep_history: bool,
    pub(crate) max_message_size: usize,
    pub(crate) url_previews: bool,
}

/// The whole server state.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) settings: WorldSettings,
    pub(crate) users: HashMap<String, User>,
    pub(crate) rooms: HashMap<String, Room>,
    subs: HashMap<(String, String), Subscription>,
    messages: HashMap<String, Value>,
    room_messages: HashMap<String, Vec<String>>,
    trash: Vec<Trashed>,
    emits: Vec<Emit>,
    last_ms: i64,
    /// Uploaded files and `FileUpload_MaxFileSize` (module `uploads`).
    pub(crate) uploads: crate::uploads::UploadStore,
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
        other => other.to_owned(),
    }
}

/// Not `_hidden` (hidden documents are never broadcast or listed).
fn is_visible(m: &Value) -> bool {
    m.get("_hidden").and_then(Value::as_bool) != Some(true)
}

fn str_field<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

fn date_field(doc: &Value, key: &str) -> Option<i64> {
    doc.get(key).and_then(crate::util::read_ejson_date)
}

impl World {
    pub(crate) fn new(settings: WorldSettings) -> Self {
        let mut world = World {
            settings,
            users: HashMap::new(),
            rooms: HashMap::new(),
            subs: HashMap::new(),
            messages: HashMap::new(),
            room_messages: HashMap::new(),
            trash: Vec::new(),
            emits: Vec::new(),
            last_ms: 0,
            uploads: crate::uploads::UploadStore::default(),
        };
        // initialData.ts: rocket.cat and GENERAL exist on every server.
        let now = world.now();
        world.users.insert(
            "rocket.cat".to_owned(),
            User {
                id: "rocket.cat".to_owned(),
                username: "rocket.cat".to_owned(),
                name: "Rocket.Cat".to_owned(),
                kind: UserKind::Bot,
                roles: vec!["bot".to_owned()],
                active: true,
                password: None,
                email: None,
                tokens: Vec::new(),
                created_at: now,
                updated_at: now,
            },
        );
        world.rooms.insert(
            "GENERAL".to_owned(),
            Room {
                id: "GENERAL".to_owned(),
                kind: RoomKind::Public,
                name: Some("general".to_owned()),
                creator: None,
                ts: now,
                updated_at: now,
                msgs: 0,
                members: Vec::new(),
                read_only: false,
                default: true,
                last_message: None,
                lm: None,
            },
        );
        world
    }

    /// Strictly increasing epoch ms, so every mutation gets a new `_updatedAt`.
    pub(crate) fn now(&mut self) -> i64 {
        // Non-decreasing, never ahead of the wall clock for long (a firehose must not drift).
        let now = now_ms().max(self.last_ms);
        self.last_ms = now;
        now
    }

    /// The `_updatedAt` for a new write of an existing message: now, but strictly after its
    /// previous `_updatedAt`, so every mutation is visibly newer.
    fn stamp_for(&mut self, mid: &str) -> i64 {
        let prev = self
            .messages
            .get(mid)
            .and_then(|m| date_field(m, "_updatedAt"))
            .unwrap_or(0);
        self.now().max(prev + 1)
    }

    pub(crate) fn take_emits(&mut self) -> Vec<Emit> {
        std::mem::take(&mut self.emits)
    }

    // ---------------------------------------------------------------- users and tokens

    pub(crate) fn user(&self, uid: &str) -> Option<&User> {
        self.users.get(uid)
    }

    pub(crate) fn user_by_username(&self, username: &str) -> Option<&User> {
        self.users.values().find(|u| u.username == username)
    }

    pub(crate) fn create_user(
        &mut self,
        username: &str,
        name: &str,
        kind: UserKind,
        roles: Vec<String>,
        password: Option<String>,
        email: Option<String>,
    ) -> Result<String, OpError> {
        if self.user_by_username(username).is_some() {
            return Err(OpError::meteor(
                "error-field-unavailable",
                &format!("{username} is already in use :("),
            ));
        }
        let now = self.now();
        let id = random_id();
        self.users.insert(
            id.clone(),
            User {
                id: id.clone(),
                username: username.to_owned(),
                name: name.to_owned(),
                kind,
                roles,
                active: true,
                password,
                email,
                tokens: Vec::new(),
                created_at: now,
                updated_at: now,
            },
        );
        Ok(id)
    }

    /// Mints a PAT (`generateToken.ts`): stored hashed, returned once in clear.
    pub(crate) fn create_pat(
        &mut self,
        uid: &str,
        name: &str,
        bypass_two_factor: bool,
    ) -> Result<String, OpError> {
        self.insert_pat(uid, name, bypass_two_factor, None)
    }

    /// A PAT with a caller-chosen value (seed files).
    pub(crate) fn add_fixed_pat(
        &mut self,
        uid: &str,
        name: &str,
        token: &str,
    ) -> Result<(), OpError> {
        self.insert_pat(uid, name, false, Some(token)).map(|_| ())
    }

    fn insert_pat(
        &mut self,
        uid: &str,
        name: &str,
        bypass_two_factor: bool,
        fixed: Option<&str>,
    ) -> Result<String, OpError> {
        let now = self.now();
        let user = self
            .users
            .get_mut(uid)
            .ok_or_else(|| OpError::meteor("not-authorized", "Not Authorized"))?;
        if user.tokens.iter().any(|t| t.name.as_deref() == Some(name)) {
            return Err(OpError::meteor(
                "error-token-already-exists",
                "A token with this name already exists",
            ));
        }
        let token = fixed.map(str::to_owned).unwrap_or_else(random_secret);
        user.tokens.push(Token {
            hashed: hash_token(&token),
            name: Some(name.to_owned()),
            created_at: now,
            bypass_two_factor,
            last_part: token.chars().skip(token.len().saturating_sub(6)).collect(),
        });
        user.updated_at = now;
        Ok(token)
    }

    /// A normal login token (REST `login`).
    pub(crate) fn create_login_token(&mut self, uid: &str) -> Option<String> {
        let now = self.now();
        let user = self.users.get_mut(uid)?;
        let token = random_secret();
        user.tokens.push(Token {
            hashed: hash_token(&token),
            name: None,
            created_at: now,
            bypass_two_factor: false,
            last_part: String::new(),
        });
        Some(token)
    }

    /// Removes a PAT by name; the hub closes the sockets that logged in with it.
    pub(crate) fn remove_pat(&mut self, uid: &str, name: &str) -> Result<(), OpError> {
        let user = self
            .users
            .get_mut(uid)
            .ok_or_else(|| OpError::meteor("not-authorized", "Not Authorized"))?;
        let Some(pos) = user
            .tokens
            .iter()
            .position(|t| t.name.as_deref() == Some(name))
        else {
            return Err(OpError::meteor(
                "error-token-does-not-exists",
                "Token does not exist",
            ));
        };
        let token = user.tokens.remove(pos);
        self.emits.push(Emit::CloseToken {
            hashed: token.hashed,
        });
        Ok(())
    }

    /// `setUserActiveStatus`: deactivation wipes every token, PATs included, sets DMs with the
    /// user read-only and emits `userData`.
    pub(crate) fn set_active(&mut self, uid: &str, active: bool) -> Result<(), OpError> {
        let now = self.now();
        let user = self
            .users
            .get_mut(uid)
            .ok_or_else(|| OpError::meteor("error-invalid-user", "Invalid user"))?;
        user.active = active;
        user.updated_at = now;
        if active {
            return Ok(());
        }
        user.tokens.clear();
        let dms: Vec<String> = self
            .rooms
            .values()
            .filter(|r| r.kind == RoomKind::Direct && r.members.iter().any(|m| m == uid))
            .map(|r| r.id.clone())
            .collect();
        for rid in dms {
            if let Some(room) = self.rooms.get_mut(&rid) {
                room.read_only = true;
                room.updated_at = now;
            }
        }
        // Tokens go first (unsetLoginTokens closes the sockets), then the userData event, which
        // therefore only reaches sockets left open by the silent-revocation switch.
        self.emits.push(Emit::CloseUser {
            uid: uid.to_owned(),
        });
        self.emits.push(Emit::NotifyUser {
            uid: uid.to_owned(),
            event: "userData".to_owned(),
            args: vec![json!({"type": "updated", "id": uid,
                "diff": {"services.resume.loginTokens": [], "active": false}, "unset": {}})],
        });
        Ok(())
    }

    /// The user whose id is `uid` and who holds `token` (compared by hash, as the server does).
    pub(crate) fn authenticate(&self, uid: &str, token: &str) -> Option<&User> {
        let hashed = hash_token(token);
        self.users
            .get(uid)
            .filter(|u| u.tokens.iter().any(|t| t.hashed == hashed))
    }

    /// The user holding `token` (DDP `login {resume}` has no user id).
    pub(crate) fn user_by_token(&self, token: &str) -> Option<&User> {
        let hashed = hash_token(token);
        self.users
            .values()
            .find(|u| u.tokens.iter().any(|t| t.hashed == hashed))
    }

    pub(crate) fn token_of<'a>(&'a self, uid: &str, token: &str) -> Option<&'a Token> {
        let hashed = hash_token(token);
        self.users
            .get(uid)
            .and_then(|u| u.tokens.iter().find(|t| t.hashed == hashed))
    }

    /// The user document (DDP form). `private` adds what only the owner sees (`me`).
    pub(crate) fn user_doc(&self, uid: &str) -> Option<Value> {
        let u = self.users.get(uid)?;
        let mut doc = json!({
            "_id": u.id,
            "username": u.username,
            "name": u.name,
            "type": match u.kind { UserKind::Human => "user", UserKind::Bot => "bot" },
            "roles": u.roles,
            "active": u.active,
            "status": "online",
            "statusConnection": "online",
            "utcOffset": 0,
            "createdAt": ejson_date(u.created_at),
            "_updatedAt": ejson_date(u.updated_at),
        });
        if let (Some(email), Some(obj)) = (&u.email, doc.as_object_mut()) {
            obj.insert(
                "emails".to_owned(),
                json!([{"address": email, "verified": true}]),
            );
        }
        Some(doc)
    }

    /// PAT listing without secrets (`users.getPersonalAccessTokens`).
    pub(crate) fn pat_list(&self, uid: &str) -> Vec<Value> {
        self.users
            .get(uid)
            .map(|u| {
                u.tokens
                    .iter()
                    .filter_map(|t| {
                        t.name.as_ref().map(|name| {
                            json!({"name": name, "createdAt": ejson_date(t.created_at),
                                "lastTokenPart": t.last_part, "bypassTwoFactor": t.bypass_two_factor})
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    // ---------------------------------------------------------------- rooms

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

    /// `canAccessRoom`: public rooms for any active user (`view-c-room`), others by membership.
    pub(crate) fn can_access(&self, rid: &str, uid: &str) -> bool {
        let (Some(room), Some(user)) = (self.rooms.get(rid), self.users.get(uid)) else {
            return false;
        };
        if !user.active {
            return false;
        }
        match room.kind {
            RoomKind::Public => true,
            RoomKind::Private | RoomKind::Direct => self.is_member(rid, uid),
        }
    }

    pub(crate) fn create_room(
        &mut self,
        kind: RoomKind,
        name: &str,
        creator: &str,
        members: &[String],
        read_only: bool,
    ) -> Result<String, OpError> {
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
        self.rooms.insert(
            rid.clone(),
            Room {
                id: rid.clone(),
                kind,
                name: Some(name.to_owned()),
                creator: Some(creator.to_owned()),
                ts: now,
                updated_at: now,
                msgs: 0,
                members: Vec::new(),
                read_only,
                default: false,
                last_message: None,
                lm: None,
            },
        );
        self.join(&rid, creator, true);
        for m in members {
            self.join(&rid, m, false);
        }
        Ok(rid)
    }

    /// The 1:1 DM between two users (`createDirectRoom.ts`): id = the two ids sorted and
    /// concatenated. Returns the existing room when there is one.
    pub(crate) fn ensure_dm(&mut self, a: &str, b: &str) -> Result<String, OpError> {
        if !self.users.contains_key(a) || !self.users.contains_key(b) {
            return Err(OpError::meteor("error-invalid-user", "Invalid user"));
        }
        let rid =
            if a == b {
                // A self-DM has a random id; keep one per user.
                match self.rooms.values().find(|r| {
                    r.kind == RoomKind::Direct && r.members.len() == 1 && r.members[0] == a
                }) {
                    Some(r) => return Ok(r.id.clone()),
                    None => random_id(),
                }
            } else {
                let mut ids = [a.to_owned(), b.to_owned()];
                ids.sort();
                ids.concat()
            };
        if self.rooms.contains_key(&rid) {
            return Ok(rid);
        }
        let now = self.now();
        self.rooms.insert(
            rid.clone(),
            Room {
                id: rid.clone(),
                kind: RoomKind::Direct,
                name: None,
                creator: None,
                ts: now,
                updated_at: now,
                msgs: 0,
                members: Vec::new(),
                read_only: false,
                default: false,
                last_message: None,
                lm: None,
            },
        );
        self.join(&rid, a, false);
        if a != b {
            self.join(&rid, b, false);
        }
        Ok(rid)
    }

    /// Adds a subscription and tells the user (`subscriptions-changed`, `rooms-changed`).
    /// Returns false when the user already was a member.
    pub(crate) fn join(&mut self, rid: &str, uid: &str, owner: bool) -> bool {
        let key = (rid.to_owned(), uid.to_owned());
        if self.subs.contains_key(&key) || !self.rooms.contains_key(rid) {
            return false;
        }
        let now = self.now();
        self.subs.insert(
            key,
            Subscription {
                id: random_id(),
                ts: now,
                updated_at: now,
                owner,
            },
        );
        if let Some(room) = self.rooms.get_mut(rid) {
            room.members.push(uid.to_owned());
            room.updated_at = now;
        }
        if let Some(sub) = self.subscription_doc(rid, uid) {
            self.emits.push(Emit::NotifyUser {
                uid: uid.to_owned(),
                event: "subscriptions-changed".to_owned(),
                args: vec![json!("inserted"), sub],
            });
        }
        if let Some(room) = self.room_doc(rid) {
            self.emits.push(Emit::NotifyUser {
                uid: uid.to_owned(),
                event: "rooms-changed".to_owned(),
                args: vec![json!("inserted"), room],
            });
        }
        true
    }

    /// The room document (DDP form).
    pub(crate) fn room_doc(&self, rid: &str) -> Option<Value> {
        let r = self.rooms.get(rid)?;
        let mut doc = Map::new();
        doc.insert("_id".into(), json!(r.id));
        doc.insert("t".into(), json!(r.kind.letter()));
        doc.insert("msgs".into(), json!(r.msgs));
        doc.insert("usersCount".into(), json!(r.members.len()));
        doc.insert("ts".into(), ejson_date(r.ts));
        doc.insert("_updatedAt".into(), ejson_date(r.updated_at));
        if let Some(name) = &r.name {
            doc.insert("name".into(), json!(name));
            doc.insert("fname".into(), json!(name));
        }
        if let Some(c) = r.creator.as_ref().and_then(|c| self.users.get(c)) {
            doc.insert("u".into(), json!({"_id": c.id, "username": c.username}));
        }
        if r.kind == RoomKind::Direct {
            let usernames: Vec<&str> = r
                .members
                .iter()
                .filter_map(|m| self.users.get(m).map(|u| u.username.as_str()))
                .collect();
            doc.insert("uids".into(), json!(r.members));
            doc.insert("usernames".into(), json!(usernames));
        }
        if r.read_only {
            doc.insert("ro".into(), json!(true));
        }
        if r.default {
            doc.insert("default".into(), json!(true));
        }
        if let Some(lm) = r.lm {
            doc.insert("lm".into(), ejson_date(lm));
        }
        if let Some(last) = &r.last_message {
            doc.insert("lastMessage".into(), last.clone());
        }
        Some(Value::Object(doc))
    }

    /// The subscription document (DDP form) of `uid` in `rid`.
    pub(crate) fn subscription_doc(&self, rid: &str, uid: &str) -> Option<Value> {
        let sub = self.subs.get(&(rid.to_owned(), uid.to_owned()))?;
        let room = self.rooms.get(rid)?;
        let user = self.users.get(uid)?;
        let name = match room.kind {
            RoomKind::Direct => room
                .members
                .iter()
                .find(|m| *m != uid)
                .or(room.members.first())
                .and_then(|m| self.users.get(m))
                .map(|u| u.username.clone())
                .unwrap_or_default(),
            _ => room.name.clone().unwrap_or_default(),
        };
        let mut doc = json!({
            "_id": sub.id,
            "rid": rid,
            "u": {"_id": user.id, "username": user.username, "name": user.name},
            "t": room.kind.letter(),
            "name": name,
            "fname": name,
            "open": true,
            "alert": false,
            "unread": 0,
            "userMentions": 0,
            "groupMentions": 0,
            "ts": ejson_date(sub.ts),
            "ls": ejson_date(sub.ts),
            "_updatedAt": ejson_date(sub.updated_at),
        });
        if sub.owner {
            if let Some(o) = doc.as_object_mut() {
                o.insert("roles".into(), json!(["owner"]));
            }
        }
        Some(doc)
    }

    /// Rooms the user is subscribed to (`rooms.get`).
    pub(crate) fn rooms_of(&self, uid: &str) -> Vec<Value> {
        let mut rooms: Vec<&Room> = self
            .rooms
            .values()
            .filter(|r| self.is_member(&r.id, uid))
            .collect();
        rooms.sort_by_key(|r| r.ts);
        rooms.iter().filter_map(|r| self.room_doc(&r.id)).collect()
    }

    // ---------------------------------------------------------------- messages

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

    fn check_size(&self, text: &str) -> Result<(), OpError> {
        if utf16_len(text) > self.settings.max_message_size {
            return Err(OpError::meteor_with(
                "error-message-size-exceeded",
                "Message size exceeds Message_MaxAllowedSize",
                json!({"method": "sendMessage"}),
            ));
        }
        Ok(())
    }

    /// `canSendMessage`: room checks throw plain errors.
    pub(crate) fn check_can_send(&self, rid: &str, uid: &str) -> Result<(), OpError> {
        let room = self
            .rooms
            .get(rid)
            .ok_or_else(|| OpError::plain("error-invalid-room"))?;
        if !self.can_access(rid, uid) {
            return Err(OpError::plain("error-not-allowed"));
        }
        if room.read_only {
            return Err(OpError::plain(
                "You can't send messages because the room is readonly.",
            ));
        }
        Ok(())
    }

    /// `sendMessage` + `executeSendMessage`. `Ok(None)` when the client `_id` already exists
    /// (nothing is inserted; REST turns that into the TypeError 400).
    pub(crate) fn send(&mut self, uid: &str, input: SendInput) -> Result<Option<Value>, OpError> {
        let user = self
            .users
            .get(uid)
            .filter(|u| u.active)
            .ok_or_else(|| OpError::meteor("error-invalid-user", "Invalid user"))?
            .clone();
        if input.tshow.is_some() && input.tmid.is_none() {
            return Err(OpError::meteor(
                "invalid-params",
                "tshow provided but missing tmid",
            ));
        }
        self.check_size(&input.msg)?;
        let now = self.now();
        let ts = match input.ts {
            Some(ts) if (ts - now).abs() > 60_000 => {
                return Err(OpError::meteor(
                    "error-message-ts-out-of-sync",
                    "Message timestamp is out of sync",
                ))
            }
            Some(ts) if (ts - now).abs() <= 10_000 => ts,
            _ => now,
        };
        // Threads never nest: a tmid that points at a reply is rewritten to its root, and the
        // reply goes to the parent's room. An unknown parent is not an error (executeSendMessage:
        // `message.tmid = parentMessage?.tmid || message.tmid; rid = parentMessage?.rid`).
        let mut input = input;
        let tmid = match &input.tmid {
            Some(tmid) => match self.messages.get(tmid) {
                Some(parent) => {
                    if let Some(prid) = str_field(parent, "rid") {
                        input.rid = prid.to_owned();
                    }
                    Some(
                        str_field(parent, "tmid")
                            .map(str::to_owned)
                            .unwrap_or_else(|| tmid.clone()),
                    )
                }
                None => Some(tmid.clone()),
            },
            None => None,
        };
        // Room checks run inside executeSendMessage's try: failures also reach the sender as
        // an ephemeral `<uid>/message` before they are rethrown.
        if let Err(e) = self.check_can_send(&input.rid, uid) {
            let text = ephemeral_text(&e);
            self.ephemeral(uid, &input.rid, &text);
            return Err(e);
        }
        if let Some(id) = &input.id {
            if self.messages.contains_key(id) {
                return Ok(None);
            }
        }
        let (mentions, channels) = self.mentions_for(&input.msg);
        let id = input.id.clone().unwrap_or_else(random_id);
        let mut doc = Map::new();
        doc.insert("_id".into(), json!(id));
        doc.insert("rid".into(), json!(input.rid));
        doc.insert("msg".into(), json!(input.msg));
        doc.insert("ts".into(), ejson_date(ts));
        doc.insert("u".into(), user.user_ref());
        for (k, v) in &input.extra {
            if !doc.contains_key(k) {
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
        if !urls.is_empty() {
            let list: Vec<Value> = urls.iter().map(|u| json!({"url": u})).collect();
            doc.insert("urls".into(), Value::Array(list));
        }
        doc.insert("_updatedAt".into(), ejson_date(now));
        let doc = Value::Object(doc);
        self.insert_message(doc.clone());
        if let Some(tmid) = tmid {
            self.bump_thread_root(&tmid, uid, ts);
        }
        self.notify_recipients(&doc, &user);
        if !urls.is_empty() && self.settings.url_previews {
            self.enrich_urls(&id);
        }
        Ok(Some(doc))
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
        for uid in room.members.iter().filter(|m| **m != sender.id) {
            let wanted = room.kind == RoomKind::Direct || everyone || mentioned.contains(uid);
            if wanted {
                self.emits.push(Emit::NotifyUser {
                    uid: uid.clone(),
                    event: "notification".to_owned(),
                    args: vec![notification.clone()],
                });
            }
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

    /// Pins a message: `pinned`, `pinnedAt`, `pinnedBy` (an update), plus a `message_pinned`
    /// system message quoting it. Returns the system message.
    pub(crate) fn pin(&mut self, uid: &str, mid: &str) -> Result<Value, OpError> {
        let user = self
            .users
            .get(uid)
            .cloned()
            .ok_or_else(|| OpError::meteor("error-invalid-user", "Invalid user"))?;
        let original = self.messages.get(mid).cloned().ok_or_else(|| {
            OpError::meteor(
                "error-invalid-message",
                "Message you are pinning was not found",
            )
        })?;
        let rid = str_field(&original, "rid").unwrap_or_default().to_owned();
        if !self.can_access(&rid, uid) {
            return Err(OpError::meteor("not-authorized", "Not Authorized"));
        }
        let now = self.stamp_for(mid);
        if let Some(obj) = self.messages.get_mut(mid).and_then(Value::as_object_mut) {
            obj.insert("pinned".into(), json!(true));
            obj.insert("pinnedAt".into(), ejson_date(now));
            obj.insert(
                "pinnedBy".into(),
                json!({"_id": user.id, "username": user.username}),
            );
            obj.insert("_updatedAt".into(), ejson_date(now));
            let doc = Value::Object(obj.clone());
            self.emit_update(doc);
        }
        let author = original.get("u").cloned().unwrap_or(Value::Null);
        let system = json!({
            "_id": random_id(), "rid": rid, "msg": "", "t": "message_pinned", "ts": ejson_date(now),
            "u": user.user_ref(), "groupable": false, "_updatedAt": ejson_date(now),
            "attachments": [{
                "text": original.get("msg").cloned().unwrap_or(json!("")),
                "author_name": author.get("username").cloned().unwrap_or(Value::Null),
                "ts": original.get("ts").cloned().unwrap_or(Value::Null),
                "message_link": format!("/{rid}?msg={mid}"),
            }],
        });
        self.insert_message(system.clone());
        Ok(system)
    }

    /// Removes a user from a room: subscription gone (`subscriptions-changed` "removed"); the hub
    /// silently drops that user's `<rid>` stream subscriptions.
    pub(crate) fn leave(&mut self, rid: &str, uid: &str) -> bool {
        let Some(sub) = self.subs.remove(&(rid.to_owned(), uid.to_owned())) else {
            return false;
        };
        let now = self.now();
        if let Some(room) = self.rooms.get_mut(rid) {
            room.members.retain(|m| m != uid);
            room.updated_at = now;
        }
        self.emits.push(Emit::NotifyUser {
            uid: uid.to_owned(),
            event: "subscriptions-changed".to_owned(),
            args: vec![
                json!("removed"),
                json!({"_id": sub.id, "u": {"_id": uid}, "rid": rid}),
            ],
        });
        self.emits.push(Emit::Left {
            rid: rid.to_owned(),
            uid: uid.to_owned(),
        });
        true
    }

    /// Inserts a finished document and broadcasts it.
    fn insert_message(&mut self, doc: Value) {
        let (Some(id), Some(rid)) = (str_field(&doc, "_id"), str_field(&doc, "rid")) else {
            return;
        };
        let (id, rid) = (id.to_owned(), rid.to_owned());
        let ts = date_field(&doc, "ts").unwrap_or_default();
        if let Some(room) = self.rooms.get_mut(&rid) {
            room.msgs += 1;
            room.lm = Some(ts);
            room.last_message = Some(doc.clone());
            room.updated_at = ts.max(room.updated_at);
        }
        self.room_messages
            .entry(rid.clone())
            .or_default()
            .push(id.clone());
        self.messages.insert(id, doc.clone());
        self.emits.push(Emit::Message {
            rid: rid.clone(),
            doc,
        });
        // The room's lastMessage changed: members hear `rooms-changed` "updated".
        if let Some(room_doc) = self.room_doc(&rid) {
            let members = self
                .rooms
                .get(&rid)
                .map(|r| r.members.clone())
                .unwrap_or_default();
            for uid in members {
                self.emits.push(Emit::NotifyUser {
                    uid,
                    event: "rooms-changed".to_owned(),
                    args: vec![json!("updated"), room_doc.clone()],
                });
            }
        }
    }

    /// A system message: `uj` (join, actor = subject) or `au` (added by `actor`); `msg` holds
    /// the subject's username.
    pub(crate) fn insert_system(&mut self, rid: &str, actor: &str, subject: &str, t: &str) {
        let (Some(actor), Some(subject)) = (
            self.users.get(actor).cloned(),
            self.users.get(subject).cloned(),
        ) else {
            return;
        };
        let now = self.now();
        let doc = json!({
            "_id": random_id(), "rid": rid, "msg": subject.username, "t": t, "ts": ejson_date(now),
            "u": actor.user_ref(), "groupable": false, "_updatedAt": ejson_date(now),
        });
        self.insert_message(doc);
    }

    /// threads `reply()`: tcount += 1, tlm, replies gains the author (and the root's author first).
    fn bump_thread_root(&mut self, tmid: &str, uid: &str, ts: i64) {
        let now = self.stamp_for(tmid);
        let Some(root) = self.messages.get_mut(tmid) else {
            return;
        };
        let Some(obj) = root.as_object_mut() else {
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
        let doc = root.clone();
        self.emit_update(doc);
    }

    fn emit_update(&mut self, doc: Value) {
        if let Some(rid) = str_field(&doc, "rid") {
            self.emits.push(Emit::Message {
                rid: rid.to_owned(),
                doc,
            });
        }
    }

    /// `edit-message` / `delete-message`: roles admin, owner, moderator. Room owners (the
    /// creator's subscription) and admins may edit or delete anyone's message in the room;
    /// others only their own (`hasPermission || (Message_AllowEditing && editOwn)`).
    fn can_moderate(&self, uid: &str, rid: &str) -> bool {
        self.users.get(uid).is_some_and(|u| u.has_role("admin"))
            || self
                .subs
                .get(&(rid.to_owned(), uid.to_owned()))
                .is_some_and(|s| s.owner)
    }

    /// `chat.update` / `updateMessage`. Identical text is a no-op (no event).
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
            .ok_or_else(|| OpError::Plain(format!("No message found with the id of \"{mid}\".")))?;
        if str_field(msg, "rid") != Some(rid) {
            return Err(OpError::plain(
                "The room id provided does not match where the message is from.",
            ));
        }
        let author = msg
            .get("u")
            .and_then(|u| u.get("_id"))
            .and_then(Value::as_str);
        if author != Some(uid) && !self.can_moderate(uid, rid) {
            return Err(OpError::meteor(
                "error-action-not-allowed",
                "Message editing not allowed",
            ));
        }
        if str_field(msg, "msg") == Some(text) && custom_fields.is_none() {
            return Ok(msg.clone());
        }
        self.check_size(text)?;
        let editor = self
            .users
            .get(uid)
            .map(|u| json!({"_id": u.id, "username": u.username}))
            .unwrap_or(Value::Null);
        let (mentions, channels) = self.mentions_for(text);
        let now = self.stamp_for(mid);
        let Some(obj) = self.messages.get_mut(mid).and_then(Value::as_object_mut) else {
            return Err(OpError::plain("error-invalid-message"));
        };
        obj.insert("msg".into(), json!(text));
        obj.insert("mentions".into(), Value::Array(mentions));
        obj.insert("channels".into(), Value::Array(channels));
        obj.insert("editedAt".into(), ejson_date(now));
        obj.insert("editedBy".into(), editor);
        if let Some(cf) = custom_fields {
            obj.insert("customFields".into(), cf);
        }
        obj.insert("_updatedAt".into(), ejson_date(now));
        let doc = Value::Object(obj.clone());
        self.emit_update(doc.clone());
        Ok(doc)
    }

    /// `deleteMessage`: hard delete (only `<rid>/deleteMessage`), or a `t:"rm"` tombstone with
    /// show-deleted-status or for a thread root. Returns the pre-delete `{_id, rid, u}`.
    pub(crate) fn delete(&mut self, uid: &str, rid: &str, mid: &str) -> Result<Value, OpError> {
        let msg = self
            .messages
            .get(mid)
            .ok_or_else(|| OpError::Plain(format!("No message found with the id of \"{mid}\".")))?
            .clone();
        if str_field(&msg, "rid") != Some(rid) {
            return Err(OpError::plain(
                "The room id provided does not match where the message is from.",
            ));
        }
        let author = msg
            .get("u")
            .and_then(|u| u.get("_id"))
            .and_then(Value::as_str);
        if author != Some(uid) && !self.can_moderate(uid, rid) {
            return Err(OpError::meteor("error-action-not-allowed", "Not allowed"));
        }
        let summary =
            json!({"_id": mid, "rid": rid, "u": msg.get("u").cloned().unwrap_or(Value::Null)});
        // deleteMessage.ts: the message's uploads go with it, unless Message_KeepHistory keeps
        // them (hidden).
        if !self.settings.keep_history {
            self.uploads.remove_for_message(&msg);
        }
        let now = self.stamp_for(mid);
        let is_root = msg.get("tcount").and_then(Value::as_u64).unwrap_or(0) > 0;
        if self.settings.show_deleted_status || is_root {
            let editor = self
                .users
                .get(uid)
                .map(|u| json!({"_id": u.id, "username": u.username}))
                .unwrap_or(Value::Null);
            if let Some(obj) = self.messages.get_mut(mid).and_then(Value::as_object_mut) {
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
                self.emit_update(doc);
            }
        } else {
            if self.settings.keep_history {
                // Message_KeepHistory: the document stays, hidden (never broadcast, not in the
                // trash, so chat.syncMessages does not report it as deleted).
                if let Some(obj) = self.messages.get_mut(mid).and_then(Value::as_object_mut) {
                    obj.insert("_hidden".into(), json!(true));
                    obj.insert("_updatedAt".into(), ejson_date(now));
                }
            } else {
                self.messages.remove(mid);
                if let Some(ids) = self.room_messages.get_mut(rid) {
                    ids.retain(|id| id != mid);
                }
                self.trash.push(Trashed {
                    id: mid.to_owned(),
                    rid: rid.to_owned(),
                    deleted_at: now,
                });
            }
            self.emits.push(Emit::NotifyRoom {
                rid: rid.to_owned(),
                event: "deleteMessage".to_owned(),
                args: vec![json!({"_id": mid})],
                origin: None,
            });
        }
        // A deleted reply decrements its root's tcount.
        if let Some(tmid) = str_field(&msg, "tmid") {
            let now = self.stamp_for(tmid);
            if let Some(obj) = self.messages.get_mut(tmid).and_then(Value::as_object_mut) {
                let tcount = obj.get("tcount").and_then(Value::as_u64).unwrap_or(0);
                obj.insert("tcount".into(), json!(tcount.saturating_sub(1)));
                obj.insert("_updatedAt".into(), ejson_date(now));
                let doc = Value::Object(obj.clone());
                self.emit_update(doc);
            }
        }
        Ok(summary)
    }

    /// `setReaction`: reactions keyed by `:emoji:` holding usernames; toggles unless
    /// `should_react` is given, in which case a call that changes nothing is a silent no-op.
    pub(crate) fn react(
        &mut self,
        uid: &str,
        mid: &str,
        emoji: &str,
        should_react: Option<bool>,
    ) -> Result<(), OpError> {
        // executeSetReaction (8.x): emoji first, then user, message, room access; every
        // error carries `details.method = "setReaction"`. Any emoji-like name is accepted (the
        // emoji list is not simulated).
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
        self.emit_update(doc);
        Ok(())
    }

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
        self.emits.push(Emit::NotifyUser {
            uid: uid.to_owned(),
            event: "message".to_owned(),
            args: vec![json!({
                "_id": random_id(), "rid": rid, "ts": ejson_date(now), "msg": text,
                "u": {"_id": "rocket.cat", "username": "rocket.cat"},
                "private": true, "groupable": false, "_updatedAt": ejson_date(now),
            })],
        });
    }

    /// A client-written stream event (typing), re-emitted to everyone but its origin.
    pub(crate) fn notify_room(
        &mut self,
        rid: &str,
        event: &str,
        args: Vec<Value>,
        origin: Option<String>,
    ) {
        self.emits.push(Emit::NotifyRoom {
            rid: rid.to_owned(),
            event: event.to_owned(),
            args,
            origin,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_holds_no_secrets() {
        let mut world = World::new(WorldSettings {
            show_deleted_status: false,
            keep_history: false,
            max_message_size: 5000,
            url_previews: true,
        });
        let uid = world
            .create_user(
                "u",
                "U",
                UserKind::Human,
                vec!["user".into()],
                Some("pw-secret-1".into()),
                None,
            )
            .unwrap();
        let token = world.create_pat(&uid, "t", false).unwrap();
        let text = format!("{world:?}");
        assert!(!text.contains("pw-secret-1"));
        assert!(!text.contains(&token));
        assert!(!text.contains(&hash_token(&token)));
    }
}
