//! The in-memory Rocket.Chat world: users, tokens, rooms, subscriptions, messages, settings,
//! permissions, uploads, custom emoji and integrations, and the mutations REST, DDP and the
//! control handle share. Nothing here knows HTTP or WebSockets.
//!
//! Every mutation records what the server would broadcast as [`Emit`]s; the hub fans them out to
//! DDP sessions while the same lock is held, so events keep the order of the mutations.
//! Documents are kept in DDP (EJSON) form; REST converts dates with [`crate::util::to_rest`].
//!
//! Layout:
//! - `users`: accounts, tokens, presence, user documents.
//! - `rooms`: rooms, subscriptions, membership (join, leave, kick), room settings, DMs (1:1
//!   and group), deletion, room and subscription documents.
//! - `messages`: send (the `executeSendMessage` / `sendMessage` pipeline), edit, delete,
//!   react, pin, star, system messages, sync and the per-message room and subscription updates.
//! - `validate`: `validateMessage`'s checks (attachments, URLs, custom fields).
//! - `settings`: the settings the simulator honours, typed, with their 8.2.0 defaults.
//! - `permissions`: the permissions it enforces and their default roles.
//! - `uploads`, `emoji`, `integrations`: stored files, custom emoji, incoming webhooks.

mod emoji;
mod integrations;
mod messages;
mod permissions;
mod rooms;
mod settings;
mod uploads;
mod users;
mod validate;

use std::collections::HashMap;

use serde_json::Value;

pub(crate) use emoji::EmojiStore;
pub(crate) use integrations::Integration;
pub(crate) use messages::{is_system_type, is_visible, SendInput, SendPath, WebhookDefaults};
pub(crate) use permissions::{PermissionError, Permissions, KNOWN_ROLES};
pub use rooms::RoomKind;
pub(crate) use rooms::{Room, RoomChanges, Subscription};
pub(crate) use settings::{id as setting_id, setting_doc, SettingError, Settings};
pub(crate) use uploads::{encode_uri, file_path, Upload, UploadStore};
pub use users::UserKind;
pub(crate) use users::{default_preferences, AccountType, Presence, User, UserUpdate};

use crate::util::{now_ms, read_ejson_date};

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
    /// The same `stream-notify-user` event (`<uid>/<event>`) to several users.
    NotifyUsers {
        uids: Vec<String>,
        event: String,
        args: Vec<Value>,
    },
    /// A `stream-notify-logged` event (`user-status`, ...), to every logged-in session.
    NotifyLogged { event: String, args: Vec<Value> },
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
    /// `Meteor.Error(code, reason, details)`; an empty reason is a `Meteor.Error(code)`.
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

    /// `Meteor.Error('error-room-not-found', 'The required "roomId" or "roomName" param
    /// provided does not match any <what>')`, the lookup failure of channels/groups routes.
    pub(crate) fn room_not_found(what: &str) -> Self {
        OpError::meteor(
            "error-room-not-found",
            &format!(
                "The required \"roomId\" or \"roomName\" param provided does not match any {what}"
            ),
        )
    }
}

/// Switches of [`crate::SimConfig`] the world needs that are not Rocket.Chat settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct Switches {
    /// `pinMessage` re-broadcasts the pinned original (`notifyOnMessageChange`).
    pub(crate) pin_broadcasts_original: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Trashed {
    pub(crate) id: String,
    pub(crate) rid: String,
    pub(crate) deleted_at: i64,
}

/// The whole server state.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) settings: Settings,
    pub(crate) permissions: Permissions,
    pub(crate) switches: Switches,
    pub(crate) users: HashMap<String, User>,
    pub(crate) rooms: HashMap<String, Room>,
    /// Subscriptions by (room id, user id).
    pub(crate) subs: HashMap<(String, String), Subscription>,
    pub(crate) messages: HashMap<String, Value>,
    pub(crate) room_messages: HashMap<String, Vec<String>>,
    pub(crate) trash: Vec<Trashed>,
    emits: Vec<Emit>,
    last_ms: i64,
    /// Uploaded files.
    pub(crate) uploads: UploadStore,
    /// Custom emoji (`emoji-custom.*`).
    pub(crate) emoji: EmojiStore,
    /// Incoming webhooks by id.
    pub(crate) integrations: HashMap<String, Integration>,
}

fn str_field<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

fn date_field(doc: &Value, key: &str) -> Option<i64> {
    doc.get(key).and_then(read_ejson_date)
}

impl World {
    pub(crate) fn new(settings: Settings, switches: Switches) -> Self {
        let mut world = World {
            settings,
            permissions: Permissions::default(),
            switches,
            users: HashMap::new(),
            rooms: HashMap::new(),
            subs: HashMap::new(),
            messages: HashMap::new(),
            room_messages: HashMap::new(),
            trash: Vec::new(),
            emits: Vec::new(),
            last_ms: 0,
            uploads: UploadStore::default(),
            emoji: EmojiStore::default(),
            integrations: HashMap::new(),
        };
        world.seed_initial_data();
        world
    }

    /// Non-decreasing epoch ms, never ahead of the wall clock for long (a firehose must not
    /// drift).
    pub(crate) fn now(&mut self) -> i64 {
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

    pub(crate) fn emit(&mut self, emit: Emit) {
        self.emits.push(emit);
    }

    /// A `stream-notify-user` event to one user.
    fn notify_user(&mut self, uid: &str, event: &str, args: Vec<Value>) {
        self.emits.push(Emit::NotifyUser {
            uid: uid.to_owned(),
            event: event.to_owned(),
            args,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::hash_token;

    #[test]
    fn debug_output_holds_no_secrets() {
        let mut world = World::new(Settings::default(), Switches::default());
        let uid = world
            .create_user(
                "u",
                "U",
                AccountType::User,
                vec!["user".into()],
                Some("pw-secret-1".into()),
                None,
            )
            .expect("new user");
        let token = world.create_pat(&uid, "t", false).expect("new pat");
        let text = format!("{world:?}");
        assert!(!text.contains("pw-secret-1"));
        assert!(!text.contains(&token));
        assert!(!text.contains(&hash_token(&token)));
    }
}
