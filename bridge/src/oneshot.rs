//! The one-shot commands the OpenClaw plugin runs from any CLI process (status probe,
//! setup wizard, directory, resolver): `bridge probe`, `bridge resolve`,
//! `bridge directory`.
//!
//! Each reads the account configuration (the line `serve` reads, secrets resolved) as the
//! first stdin line, and for `resolve` and `directory` a request as the second; talks REST
//! only, through [`RocketChatChannel::offline`]; and prints exactly one JSON line. Exit 0
//! when the command ran (whatever it found: read the JSON), 2 on a bad configuration or
//! request (then the line is `{"error":{"field","reason"}}`). The token is never printed
//! and never logged.
//!
//! | command | second line | result |
//! |---|---|---|
//! | `probe` | none | `{reachable, tokenValid, identityMatches, serverVersion, user: {id, username} \| null, rooms: [{entry, id?, name?, kind?, error?}], error?: {kind, message}}` |
//! | `resolve` | `{"targets": ["#general", "@alice", "GENERAL", ...]}` | `{results: [{input, ok: true, kind: "room" \| "user", id, name, roomKind?, conversationId?} \| {input, ok: false, error: {kind, message}}]}` |
//! | `directory` | optional `{"query": "..", "limit": 50}` | `{rooms: [{id, name, kind}], users: [{id, username, displayName}], error?}` |
//!
//! Targets follow the one target grammar (`channel_api::target`): `#name` is a room by
//! name, `@username` a user, a conversation id or a bare id a room by id. `rooms` keys are
//! looked up as the bridge core resolves them: as an id, then as a name.

use std::collections::BTreeMap;

use backend_rocketchat::RocketChatChannel;
use bridge_core::config::{AccountConfig, ConfigError};
use channel_api::session::ConversationId;
use channel_api::target::Target;
use channel_api::{
    Channel, ChannelExt, Error, HistoryQuery, RoomKind, RoomQuery, UserId, UserQuery,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::diagnose;
use crate::rocketchat::{namespace, offline};

/// How many targets one `resolve` takes.
pub const MAX_TARGETS: usize = 1000;
/// `directory`'s `limit` when none is given, and the largest accepted.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest `limit` `directory` accepts.
pub const MAX_LIMIT: usize = 1000;
/// `directory` learns users from the recent messages of this many rooms...
const DIRECTORY_ROOMS: usize = 25;
/// ...this many messages each.
const DIRECTORY_MESSAGES: usize = 50;

/// What a one-shot command prints, and how it exits.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The one JSON line.
    pub json: Value,
    /// The exit code: 0 (ran) or 2 (bad configuration or request).
    pub code: u8,
}

impl Outcome {
    fn ran(json: impl Serialize) -> Self {
        Self {
            json: serde_json::to_value(json).unwrap_or_else(|e| {
                json!({"error": {"kind": "backend", "message": format!("cannot encode the result: {e}")}})
            }),
            code: 0,
        }
    }

    /// A bad configuration or request: `{"error":{"field","reason"}}`, exit 2.
    pub fn bad_input(err: &ConfigError) -> Self {
        Self {
            json: json!({"error": {"field": err.field, "reason": err.reason}}),
            code: 2,
        }
    }
}

/// A failure as the JSON shows it: the bridge protocol's error kind and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorOut {
    /// `notFound`, `unauthorized`, `disconnected`, ... (docs/bridge-protocol.md, "Errors").
    pub kind: &'static str,
    /// What happened, for people.
    pub message: String,
}

impl From<&Error> for ErrorOut {
    fn from(err: &Error) -> Self {
        Self {
            kind: bridge_core::rpc::RpcError::from(err).kind,
            message: err.to_string(),
        }
    }
}

/// The configuration line, parsed, and the REST-only channel it describes.
pub fn open(config: Value) -> Result<(AccountConfig, RocketChatChannel), ConfigError> {
    let config = AccountConfig::from_value(config)?;
    let channel = offline(&config)?;
    Ok((config, channel))
}

/// The word the bridge protocol uses for a room kind (`direct`, `public`, ...).
pub fn kind_word(kind: RoomKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

// ----- probe -----

/// `bridge probe`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeOut {
    /// The server answered.
    pub reachable: bool,
    /// The server accepted the token.
    pub token_valid: bool,
    /// The token belongs to the configured `userId` and `username`.
    pub identity_matches: bool,
    /// What `/api/info` says (major.minor for a bot).
    pub server_version: Option<String>,
    /// Whose token it is, when it was accepted.
    pub user: Option<UserOut>,
    /// Every `rooms` key (but `*`), resolved or not.
    pub rooms: Vec<RoomKeyOut>,
    /// Why the probe failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorOut>,
}

/// A user as `probe` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserOut {
    /// The user id.
    pub id: String,
    /// The username.
    pub username: String,
}

/// One `rooms` key and what it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomKeyOut {
    /// The key as configured.
    pub entry: String,
    /// The room id it resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The room's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The room's kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Why it did not resolve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorOut>,
}

/// `bridge probe`: is the server reachable, is the token valid and whose is it, which
/// version runs, and what every `rooms` key names.
pub async fn probe(config: Value) -> Outcome {
    let (config, channel) = match open(config) {
        Ok(opened) => opened,
        Err(e) => return Outcome::bad_input(&e),
    };
    let out = probe_channel(&config, &channel).await;
    channel.shutdown().await;
    Outcome::ran(out)
}

async fn probe_channel(config: &AccountConfig, channel: &RocketChatChannel) -> ProbeOut {
    let keys: Vec<String> = config
        .channel()
        .rooms
        .keys()
        .filter(|k| k.as_str() != "*")
        .cloned()
        .collect();
    let report = match channel.probe().await {
        Ok(report) => report,
        Err(err) => {
            let mut error = ErrorOut::from(&err);
            if let Some(hint) = unreachable_hint(config, &err).await {
                error.message = format!("{hint}: {}", error.message);
            }
            let rooms = keys
                .into_iter()
                .map(|entry| RoomKeyOut {
                    entry,
                    id: None,
                    name: None,
                    kind: None,
                    error: Some(ErrorOut {
                        kind: error.kind,
                        message: "not checked: the probe failed".into(),
                    }),
                })
                .collect();
            return ProbeOut {
                reachable: !diagnose::is_unreachable(&err),
                token_valid: false,
                identity_matches: false,
                server_version: None,
                user: None,
                rooms,
                error: Some(error),
            };
        }
    };
    let mut rooms = Vec::with_capacity(keys.len());
    for entry in keys {
        rooms.push(match channel.resolve_room_key(&entry).await {
            Ok(Some(room)) => RoomKeyOut {
                entry,
                id: Some(room.id.as_str().to_owned()),
                name: room.name,
                kind: Some(kind_word(room.kind)),
                error: None,
            },
            Ok(None) => RoomKeyOut {
                error: Some(ErrorOut {
                    kind: "notFound",
                    message: format!("no room the bot can see has the id or name {entry:?}"),
                }),
                entry,
                id: None,
                name: None,
                kind: None,
            },
            Err(e) => RoomKeyOut {
                entry,
                id: None,
                name: None,
                kind: None,
                error: Some(ErrorOut::from(&e)),
            },
        });
    }
    ProbeOut {
        reachable: true,
        token_valid: true,
        identity_matches: report.identity_matches,
        server_version: report.server_version,
        user: Some(UserOut {
            id: report.user_id.as_str().to_owned(),
            username: report.username,
        }),
        rooms,
        error: None,
    }
}

/// The hint for an unreachable server, when one can be told.
async fn unreachable_hint(config: &AccountConfig, err: &Error) -> Option<&'static str> {
    let rc = crate::rocketchat::rocketchat_config(config).ok()?;
    let cause = diagnose::cause(&rc, err).await?;
    Some(cause.hint(rc.ca_file.is_some()))
}

// ----- resolve -----

/// `resolve`'s request: the second stdin line.
pub fn parse_targets(request: Option<Value>) -> Result<Vec<String>, ConfigError> {
    let bad = |reason: &str| ConfigError::new("targets", reason);
    let Some(request) = request else {
        return Err(bad(
            "missing: the second stdin line must be {\"targets\": [\"#room\", \"@user\", ...]}",
        ));
    };
    let Some(Value::Array(items)) = request.get("targets") else {
        return Err(bad("must be a list of strings"));
    };
    if items.len() > MAX_TARGETS {
        return Err(bad(&format!("at most {MAX_TARGETS} targets at a time")));
    }
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad("must be a list of strings"))
        })
        .collect()
}

/// One `resolve` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Resolved {
    /// Found.
    Found(Found),
    /// Not found, or not a valid target.
    Failed {
        /// The target as given.
        input: String,
        /// Always `false`.
        ok: bool,
        /// Why.
        error: ErrorOut,
    },
}

/// A target that resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Found {
    /// The target as given.
    pub input: String,
    /// Always `true`.
    pub ok: bool,
    /// `room` or `user`.
    pub kind: &'static str,
    /// The room id or the user id.
    pub id: String,
    /// The room's name (null for a DM) or the username.
    pub name: Option<String>,
    /// The room's kind (`public`, `private`, `direct`, `groupDirect`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room_kind: Option<String>,
    /// The room's conversation id (what `send` takes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
}

/// `bridge resolve`: every target, in order, to a room or a user.
pub async fn resolve(config: Value, request: Option<Value>) -> Outcome {
    let (config, channel) = match open(config) {
        Ok(opened) => opened,
        Err(e) => return Outcome::bad_input(&e),
    };
    let targets = match parse_targets(request) {
        Ok(targets) => targets,
        Err(e) => {
            channel.shutdown().await;
            return Outcome::bad_input(&e);
        }
    };
    let mut results = Vec::with_capacity(targets.len());
    for input in targets {
        let result = resolve_one(&config, &channel, &input).await;
        results.push(match result {
            Ok(found) => Resolved::Found(found),
            Err(error) => Resolved::Failed {
                input,
                ok: false,
                error,
            },
        });
    }
    channel.shutdown().await;
    Outcome::ran(json!({ "results": results }))
}

async fn resolve_one(
    config: &AccountConfig,
    channel: &RocketChatChannel,
    input: &str,
) -> Result<Found, ErrorOut> {
    let invalid = |message: String| ErrorOut {
        kind: "invalid",
        message,
    };
    let target = Target::parse(&namespace(), input).map_err(|e| invalid(e.to_string()))?;
    let query = match target {
        Target::User(username) => {
            let user = channel
                .find_user(&UserQuery::Username(username))
                .await
                .map_err(|e| ErrorOut::from(&e))?;
            return Ok(Found {
                input: input.to_owned(),
                ok: true,
                kind: "user",
                id: user.id.as_str().to_owned(),
                name: Some(user.username),
                room_kind: None,
                conversation_id: None,
            });
        }
        Target::Conversation(conversation) => {
            if conversation.account() != config.account_id() {
                return Err(invalid(format!(
                    "the conversation belongs to account {:?}, this configuration is account {:?}",
                    conversation.account().as_str(),
                    config.account_id().as_str()
                )));
            }
            RoomQuery::Id(conversation.room().clone())
        }
        Target::Room(id) => RoomQuery::Id(id),
        Target::RoomName(name) => RoomQuery::Name(name),
    };
    let by_id = matches!(query, RoomQuery::Id(_));
    let room = channel.resolve_room(&query).await.map_err(|e| {
        let mut out = ErrorOut::from(&e);
        if by_id && matches!(e, Error::NotFound { .. }) {
            out.message.push_str(
                " (a bare target is a room id: write #name for a room by name, @name for a user)",
            );
        }
        out
    })?;
    let conversation = ConversationId::new(
        namespace(),
        config.account_id().clone(),
        room.kind.chat_type(),
        room.id.clone(),
        None,
    )
    .map_err(|e| invalid(e.to_string()))?;
    Ok(Found {
        input: input.to_owned(),
        ok: true,
        kind: "room",
        id: room.id.as_str().to_owned(),
        name: room.name,
        room_kind: Some(kind_word(room.kind)),
        conversation_id: Some(conversation.to_string()),
    })
}

// ----- directory -----

/// `directory`'s request: the optional second stdin line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryQuery {
    /// Only rooms and users whose id, name or display name contain this (any case).
    pub query: Option<String>,
    /// At most this many rooms, and this many users.
    pub limit: usize,
}

/// Reads `{"query": "..", "limit": 50}` (both optional).
pub fn parse_directory_query(request: Option<Value>) -> Result<DirectoryQuery, ConfigError> {
    let mut out = DirectoryQuery {
        query: None,
        limit: DEFAULT_LIMIT,
    };
    let Some(request) = request else {
        return Ok(out);
    };
    if !request.is_object() {
        return Err(ConfigError::new(
            "request",
            "the second stdin line must be a JSON object",
        ));
    }
    match request.get("query") {
        None | Some(Value::Null) => {}
        Some(Value::String(q)) => {
            let q = q.trim();
            if !q.is_empty() {
                out.query = Some(q.to_owned());
            }
        }
        Some(_) => return Err(ConfigError::new("query", "must be a string")),
    }
    match request.get("limit") {
        None | Some(Value::Null) => {}
        Some(v) => {
            out.limit = v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ConfigError::new("limit", format!("must be a whole number, 1 to {MAX_LIMIT}"))
                })?;
        }
    }
    Ok(out)
}

/// A room as `directory` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryRoom {
    /// The room id.
    pub id: String,
    /// The room's name (null for a DM).
    pub name: Option<String>,
    /// The room's kind.
    pub kind: String,
}

/// A user as `directory` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryUser {
    /// The user id.
    pub id: String,
    /// The username.
    pub username: String,
    /// The display name, when the server gives one.
    pub display_name: Option<String>,
}

/// `bridge directory`: the rooms the bot is a member of, and the users it knows of: the
/// authors of those rooms' recent messages, and the user whose username is the query.
pub async fn directory(config: Value, request: Option<Value>) -> Outcome {
    let (_config, channel) = match open(config) {
        Ok(opened) => opened,
        Err(e) => return Outcome::bad_input(&e),
    };
    let query = match parse_directory_query(request) {
        Ok(query) => query,
        Err(e) => {
            channel.shutdown().await;
            return Outcome::bad_input(&e);
        }
    };
    let out = match list_directory(&channel, &query).await {
        Ok((rooms, users)) => json!({ "rooms": rooms, "users": users }),
        Err(e) => json!({ "rooms": [], "users": [], "error": ErrorOut::from(&e) }),
    };
    channel.shutdown().await;
    Outcome::ran(out)
}

async fn list_directory(
    channel: &impl Channel,
    query: &DirectoryQuery,
) -> Result<(Vec<DirectoryRoom>, Vec<DirectoryUser>), Error> {
    let needle = query.query.as_deref().map(str::to_lowercase);
    let matches = |fields: &[Option<&str>]| match &needle {
        None => true,
        Some(needle) => fields
            .iter()
            .flatten()
            .any(|f| f.to_lowercase().contains(needle.as_str())),
    };
    let bot = channel.identity().user_id;
    let all_rooms = channel.rooms().await?;
    let rooms: Vec<DirectoryRoom> = all_rooms
        .iter()
        .filter(|r| matches(&[Some(r.id.as_str()), r.name.as_deref()]))
        .take(query.limit)
        .map(|r| DirectoryRoom {
            id: r.id.as_str().to_owned(),
            name: r.name.clone(),
            kind: kind_word(r.kind),
        })
        .collect();

    // Users: by id, so one seen twice is listed once.
    let mut users: BTreeMap<UserId, DirectoryUser> = BTreeMap::new();
    if let Some(q) = &query.query {
        let name = q.trim_start_matches('@').to_owned();
        match channel.find_user(&UserQuery::Username(name)).await {
            Ok(user) if user.id != bot => {
                users.insert(
                    user.id.clone(),
                    DirectoryUser {
                        id: user.id.as_str().to_owned(),
                        username: user.username,
                        display_name: user.display_name,
                    },
                );
            }
            Ok(_) | Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    for room in all_rooms.iter().take(DIRECTORY_ROOMS) {
        let history = HistoryQuery::Room {
            room: room.id.clone(),
            before: None,
            limit: DIRECTORY_MESSAGES,
        };
        let messages = match channel.history(&history).await {
            Ok(messages) => messages,
            // A room whose history the bot may not read still lists its other rooms.
            Err(e @ (Error::Unauthorized { .. } | Error::Closed { .. })) => return Err(e),
            Err(e) => {
                tracing::debug!(room = %room.id, error = %e, "no history for the directory");
                continue;
            }
        };
        for m in messages {
            let a = m.author;
            if a.id == bot || users.contains_key(&a.id) {
                continue;
            }
            if matches(&[
                Some(a.id.as_str()),
                Some(a.username.as_str()),
                a.display_name.as_deref(),
            ]) {
                users.insert(
                    a.id.clone(),
                    DirectoryUser {
                        id: a.id.as_str().to_owned(),
                        username: a.username,
                        display_name: a.display_name,
                    },
                );
            }
        }
    }
    let users = users.into_values().take(query.limit).collect();
    Ok((rooms, users))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_must_be_a_list_of_strings() {
        assert_eq!(
            parse_targets(Some(json!({"targets": ["#a", "@b"]}))).unwrap(),
            vec!["#a", "@b"]
        );
        for bad in [
            None,
            Some(json!({})),
            Some(json!({"targets": "#a"})),
            Some(json!({"targets": [1]})),
        ] {
            assert_eq!(parse_targets(bad).unwrap_err().field, "targets");
        }
        let many: Vec<Value> = (0..=MAX_TARGETS).map(|i| json!(format!("R{i}"))).collect();
        assert!(parse_targets(Some(json!({ "targets": many }))).is_err());
    }

    #[test]
    fn the_directory_query_is_optional_and_checked() {
        assert_eq!(
            parse_directory_query(None).unwrap(),
            DirectoryQuery {
                query: None,
                limit: DEFAULT_LIMIT
            }
        );
        assert_eq!(
            parse_directory_query(Some(json!({"query": " al ", "limit": 3}))).unwrap(),
            DirectoryQuery {
                query: Some("al".into()),
                limit: 3
            }
        );
        assert_eq!(
            parse_directory_query(Some(json!({"limit": 0})))
                .unwrap_err()
                .field,
            "limit"
        );
        assert_eq!(
            parse_directory_query(Some(json!({"query": 5})))
                .unwrap_err()
                .field,
            "query"
        );
        assert_eq!(
            parse_directory_query(Some(json!([1]))).unwrap_err().field,
            "request"
        );
    }

    #[test]
    fn room_kinds_have_the_protocol_words() {
        assert_eq!(kind_word(RoomKind::Public), "public");
        assert_eq!(kind_word(RoomKind::GroupDirect), "groupDirect");
    }
}
