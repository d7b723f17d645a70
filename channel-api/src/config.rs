//! The OpenClaw channel configuration, with OpenClaw's key names and Slack's defaults.
//!
//! The account config the bridge receives also carries connection keys (`serverUrl`,
//! `userId`, ...); unknown keys are ignored here so the same JSON object can be parsed by
//! both. Every key is optional and a missing key takes Slack's default:
//!
//! | key | default |
//! |---|---|
//! | `dmPolicy` | `pairing` (`open` requires `"*"` in `allowFrom`) |
//! | `groupPolicy` | `allowlist` (no `rooms` entry: the room is closed) |
//! | `requireMention` | `true` |
//! | `implicitMentions.replyToBot` | `true` (a thread reply under the bot's message is a mention) |
//! | `implicitMentions.threadParticipation` | `true` (a follow-up in a thread the bot replied in is a mention) |
//! | `dm.groupEnabled` | `false` (group DMs, Slack's MPIMs, are dropped) |
//! | `dm.groupChannels` | `[]` (once enabled: every group DM; else only these room ids, or `"*"`) |
//! | `allowBots` | `false` |
//! | `replyToMode` | `off` |
//! | `reactionNotifications` | `own` |
//! | `roomEvents` | `true` (joins, leaves, renames, topic changes and pins in admitted rooms) |
//! | `textChunkLimit` | `5000`, capped by the backend's own limit |
//!
//! `rooms` keys are room ids or room names (`general` or `#general`). A key matches the
//! room whose id it is, or the room id the host resolved it to ([`ResolvedRooms`]: at
//! startup and on every reconnect, as the spec says). A room's current name is never
//! matched at event time, so nobody can squat an allowlisted name by creating a room
//! called that; a name that did not resolve matches nothing (see
//! [`ChannelConfig::unresolved_rooms`]). `dangerouslyAllowNameMatching` (Slack's
//! break-glass) also matches the current name.
//!
//! Allowlist entries (`allowFrom`, `groupAllowFrom`, `rooms.*.users`, `commandAllowFrom`,
//! `reactionAllowlist`) are user ids, optionally prefixed with the channel's namespace
//! (`<namespace>:`; the host names it, see [`ChannelConfig::strip_namespace`]), or `"*"` for
//! everyone. They match usernames (`alice` or `@alice`, case-insensitively) only with
//! `dangerouslyAllowNameMatching`, because usernames can be renamed and reused.
//!
//! [`ChannelConfig::schema`] is the JSON schema of all this, generated from the types.
//!
//! ```
//! use channel_api::config::{ChannelConfig, DmPolicy};
//!
//! let config = ChannelConfig::from_json_str(
//!     r#"{ "serverUrl": "https://chat.example", "dmPolicy": "allowlist", "allowFrom": ["U1"] }"#,
//! )?;
//! assert_eq!(config.dm_policy, DmPolicy::Allowlist);
//! assert!(config.require_mention);
//! # Ok::<(), channel_api::config::ConfigError>(())
//! ```

use std::collections::BTreeMap;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{RoomId, UserId};
use crate::model::{ChatType, RoomInfo, RoomKind};
use crate::session::Namespace;

/// The default `textChunkLimit`, counted in the unit of the backend's limit
/// ([`crate::TextLimit`]); the backend's own maximum caps it further.
pub const DEFAULT_TEXT_CHUNK_LIMIT: usize = 5000;

/// The smallest accepted `textChunkLimit`: room for a reopened code fence and some text.
pub const MIN_TEXT_CHUNK_LIMIT: usize = 64;

/// Who may DM the bot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DmPolicy {
    /// Unknown senders get a pairing challenge; approved and allowlisted senders pass.
    #[default]
    Pairing,
    /// Only `allowFrom` (and approved pairings) may DM; others are dropped.
    Allowlist,
    /// Anyone may DM. Requires `"*"` in `allowFrom`.
    Open,
    /// DMs are dropped.
    Disabled,
}

/// Which group rooms (public channels and private groups) the bot listens in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupPolicy {
    /// Every room the bot is in, except rooms configured with `enabled: false`.
    Open,
    /// Only rooms with an entry in `rooms` (fails closed when there is none).
    #[default]
    Allowlist,
    /// No group room.
    Disabled,
}

/// Whether a reply to a top-level message opens a thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReplyToMode {
    /// Top-level messages are answered at the top level.
    #[default]
    Off,
    /// The first chunk of the answer opens a thread on the inbound message; the rest is top level.
    First,
    /// Every chunk goes into a thread on the inbound message.
    All,
    /// OpenClaw's single-use reply reference for batched turns: threads like `first`, as
    /// Slack's channel does.
    Batched,
}

/// Which reactions become notifications for the agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReactionNotifications {
    /// None.
    Off,
    /// Reactions on the bot's own messages.
    #[default]
    Own,
    /// Every reaction.
    All,
    /// Reactions by users in `reactionAllowlist`.
    Allowlist,
}

/// `replyToModeByChatType`: overrides of `replyToMode` per chat type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplyToModeByChatType {
    /// 1:1 DMs.
    pub direct: Option<ReplyToMode>,
    /// Group DMs.
    pub group: Option<ReplyToMode>,
    /// Rooms, public and private.
    pub channel: Option<ReplyToMode>,
}

impl ReplyToModeByChatType {
    /// The override for a room kind's chat type, if one is set.
    pub fn for_kind(&self, kind: RoomKind) -> Option<ReplyToMode> {
        match kind.chat_type() {
            ChatType::Direct => self.direct,
            ChatType::Group => self.group,
            ChatType::Channel => self.channel,
        }
    }
}

/// `implicitMentions`: messages that count as a mention of the bot without an `@bot`
/// (Slack's keys). They only matter in group rooms that require a mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ImplicitMentions {
    /// A thread reply whose root the bot wrote counts as a mention.
    pub reply_to_bot: bool,
    /// A thread reply in a thread the bot has replied in counts as a mention.
    pub thread_participation: bool,
    /// A message quoting one of the bot's messages counts as a mention.
    pub quoted_bot: bool,
}

impl Default for ImplicitMentions {
    fn default() -> Self {
        Self {
            reply_to_bot: true,
            thread_participation: true,
            quoted_bot: true,
        }
    }
}

/// `rooms.<room>.implicitMentions`: per-room overrides; unset keys take the account value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ImplicitMentionsOverride {
    /// Overrides `implicitMentions.replyToBot`.
    pub reply_to_bot: Option<bool>,
    /// Overrides `implicitMentions.threadParticipation`.
    pub thread_participation: Option<bool>,
    /// Overrides `implicitMentions.quotedBot`.
    pub quoted_bot: Option<bool>,
}

impl ImplicitMentionsOverride {
    /// `base` with this override's set keys applied.
    pub fn apply(&self, base: ImplicitMentions) -> ImplicitMentions {
        ImplicitMentions {
            reply_to_bot: self.reply_to_bot.unwrap_or(base.reply_to_bot),
            thread_participation: self
                .thread_participation
                .unwrap_or(base.thread_participation),
            quoted_bot: self.quoted_bot.unwrap_or(base.quoted_bot),
        }
    }
}

/// `dm`: group DMs (a direct conversation with more than one other user, Slack's MPIM),
/// with Slack's keys. `dmPolicy` and `allowFrom` stay top level and govern 1:1 DMs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct DmConfig {
    /// Listen in group DMs at all (off by default).
    pub group_enabled: bool,
    /// When non-empty, only these group DMs (room ids, or `"*"`); empty: every group DM.
    pub group_channels: Vec<String>,
}

/// One entry of `rooms`, keyed by room id or room name. Unset keys fall back to the
/// account-wide value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct RoomConfig {
    /// `false` drops everything from this room.
    pub enabled: bool,
    /// Overrides `requireMention`.
    pub require_mention: Option<bool>,
    /// When non-empty, only these senders are heard in this room (overrides `groupAllowFrom`).
    pub users: Vec<String>,
    /// Overrides `replyToMode` and `replyToModeByChatType`.
    pub reply_to_mode: Option<ReplyToMode>,
    /// Overrides `allowBots`.
    pub allow_bots: Option<bool>,
    /// Overrides keys of `implicitMentions`.
    pub implicit_mentions: ImplicitMentionsOverride,
    /// Overrides `ignoreOtherMentions`.
    pub ignore_other_mentions: Option<bool>,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            require_mention: None,
            users: Vec::new(),
            reply_to_mode: None,
            allow_bots: None,
            implicit_mentions: ImplicitMentionsOverride::default(),
            ignore_other_mentions: None,
        }
    }
}

/// The channel configuration of one bot account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ChannelConfig {
    /// Who may DM the bot.
    pub dm_policy: DmPolicy,
    /// DM allowlist (user ids, or `"*"`).
    pub allow_from: Vec<String>,
    /// Group DMs: `dm.groupEnabled`, `dm.groupChannels`.
    pub dm: DmConfig,
    /// Which group rooms the bot listens in.
    pub group_policy: GroupPolicy,
    /// Sender allowlist for group rooms; empty means every sender in an admitted room.
    pub group_allow_from: Vec<String>,
    /// Let allowlist entries match usernames, and `rooms` keys the room's current name.
    /// Names can be renamed, reused and squatted.
    pub dangerously_allow_name_matching: bool,
    /// Messages in rooms and group DMs need a mention of the bot.
    pub require_mention: bool,
    /// Regexes that also count as a mention of the bot when they match the text.
    pub mention_patterns: Vec<String>,
    /// Which thread facts count as a mention of the bot.
    pub implicit_mentions: ImplicitMentions,
    /// In rooms, skip a message that mentions other users but not the bot (explicitly or
    /// by a `mentionPatterns` match), even where no mention is required (Slack's key).
    pub ignore_other_mentions: bool,
    /// Hear other bots' messages.
    pub allow_bots: bool,
    /// Per-room entries, keyed by room id or room name. A name counts only once the host
    /// resolved it to an id (the id key wins over a resolved name).
    pub rooms: BTreeMap<String, RoomConfig>,
    /// Command operators: who may run the operator-only commands (`!model`, `!stop`), in
    /// every kind of room. Empty: nobody may.
    pub command_allow_from: Vec<String>,
    /// Whether answers to top-level messages open a thread.
    pub reply_to_mode: ReplyToMode,
    /// `replyToMode` per chat type.
    pub reply_to_mode_by_chat_type: ReplyToModeByChatType,
    /// Which reactions become notifications.
    pub reaction_notifications: ReactionNotifications,
    /// Reactors heard with `reactionNotifications: allowlist`.
    pub reaction_allowlist: Vec<String>,
    /// Room events (joins, leaves, renames, topic changes, pins) reach the agent as system
    /// events, in the rooms the bot listens in (never in DMs; no mention needed).
    pub room_events: bool,
    /// Longest outbound message, in UTF-16 code units.
    #[schemars(range(min = MIN_TEXT_CHUNK_LIMIT))]
    pub text_chunk_limit: usize,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            dm_policy: DmPolicy::default(),
            allow_from: Vec::new(),
            dm: DmConfig::default(),
            group_policy: GroupPolicy::default(),
            group_allow_from: Vec::new(),
            dangerously_allow_name_matching: false,
            require_mention: true,
            mention_patterns: Vec::new(),
            implicit_mentions: ImplicitMentions::default(),
            ignore_other_mentions: false,
            allow_bots: false,
            rooms: BTreeMap::new(),
            command_allow_from: Vec::new(),
            reply_to_mode: ReplyToMode::default(),
            reply_to_mode_by_chat_type: ReplyToModeByChatType::default(),
            reaction_notifications: ReactionNotifications::default(),
            reaction_allowlist: Vec::new(),
            room_events: true,
            text_chunk_limit: DEFAULT_TEXT_CHUNK_LIMIT,
        }
    }
}

/// What is wrong with a config, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid channel config at `{field}`: {problem}")]
pub struct ConfigError {
    /// The offending key as a path, e.g. `rooms.general.replyToMode` or `mentionPatterns[1]`.
    pub field: String,
    /// What is wrong with it.
    pub problem: ConfigProblem,
}

/// The kinds of config mistakes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// The JSON does not have the expected shape or value (unknown enum value, wrong type).
    #[error("{0}")]
    Malformed(String),
    /// `dmPolicy: "open"` without `"*"` in `allowFrom`.
    #[error(r#"dmPolicy "open" requires "*" in allowFrom"#)]
    OpenDmWithoutWildcard,
    /// A mention pattern is not a valid regex.
    #[error("not a valid regex: {0}")]
    InvalidRegex(String),
    /// `textChunkLimit` is below the minimum.
    #[error("must be at least {min}, got {got}")]
    TooSmall {
        /// The minimum.
        min: usize,
        /// The configured value.
        got: usize,
    },
    /// An allowlist entry or room key is empty.
    #[error("must not be empty")]
    Empty,
}

impl ConfigError {
    fn new(field: impl Into<String>, problem: ConfigProblem) -> Self {
        Self {
            field: field.into(),
            problem,
        }
    }
}

/// The `rooms` keys resolved to room ids by the host, at startup and again on every
/// reconnect (a new value replaces the old). `None`: the key names no room the host could
/// find; such a key matches nothing (only a room whose id is exactly the key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedRooms {
    ids: BTreeMap<String, Option<RoomId>>,
    keys: BTreeMap<RoomId, Vec<String>>,
}

impl ResolvedRooms {
    /// No key resolved yet: name keys match nothing (fail closed).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records what `key` resolved to (replacing an earlier answer for it).
    pub fn insert(&mut self, key: impl Into<String>, id: Option<RoomId>) {
        let key = key.into();
        if let Some(Some(old)) = self.ids.get(&key) {
            if let Some(keys) = self.keys.get_mut(old) {
                keys.retain(|k| k != &key);
            }
        }
        if let Some(id) = &id {
            let keys = self.keys.entry(id.clone()).or_default();
            keys.push(key.clone());
            keys.sort();
        }
        self.ids.insert(key, id);
    }

    /// What `key` resolved to: `None` if the host gave no answer for it, `Some(None)` if
    /// it found no room.
    pub fn get(&self, key: &str) -> Option<Option<&RoomId>> {
        self.ids.get(key).map(Option::as_ref)
    }

    /// The keys resolved to `room`, in key order.
    pub fn keys_for(&self, room: &RoomId) -> impl Iterator<Item = &str> {
        self.keys
            .get(room)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
}

impl<K: Into<String>> FromIterator<(K, Option<RoomId>)> for ResolvedRooms {
    fn from_iter<I: IntoIterator<Item = (K, Option<RoomId>)>>(iter: I) -> Self {
        let mut resolved = Self::new();
        for (key, id) in iter {
            resolved.insert(key, id);
        }
        resolved
    }
}

/// A `rooms` entry that applies to a room, with the key it was found under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomEntry<'a> {
    /// The key in `rooms` (the room id or the room name).
    pub key: &'a str,
    /// The entry.
    pub config: &'a RoomConfig,
}

impl ChannelConfig {
    /// The JSON schema of this config (draft 2020-12), generated from these types: the
    /// property names are the serde names, the descriptions are the doc comments, the
    /// defaults are [`ChannelConfig::default`]'s. The plugin's `openclaw.plugin.json`
    /// config schema is generated from it, and a host can find unknown keys with it
    /// (every key this config reads is a property; the schema itself allows others,
    /// because the same object also carries the backend's connection keys).
    pub fn schema() -> serde_json::Value {
        schemars::schema_for!(ChannelConfig).to_value()
    }

    /// Parses and validates a config from JSON. Errors name the offending key.
    pub fn from_json_str(json: &str) -> Result<Self, ConfigError> {
        let mut de = serde_json::Deserializer::from_str(json);
        let config: Self = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses and validates a config from a JSON value. Errors name the offending key.
    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        let config: Self = serde_path_to_error::deserialize(value).map_err(path_error)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the rules serde cannot express. The error names the offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.dm_policy == DmPolicy::Open && !self.allow_from.iter().any(|e| e == "*") {
            return Err(ConfigError::new(
                "allowFrom",
                ConfigProblem::OpenDmWithoutWildcard,
            ));
        }
        self.compile_mention_patterns()?;
        if self.text_chunk_limit < MIN_TEXT_CHUNK_LIMIT {
            return Err(ConfigError::new(
                "textChunkLimit",
                ConfigProblem::TooSmall {
                    min: MIN_TEXT_CHUNK_LIMIT,
                    got: self.text_chunk_limit,
                },
            ));
        }
        let lists = [
            ("allowFrom", &self.allow_from),
            ("groupAllowFrom", &self.group_allow_from),
            ("commandAllowFrom", &self.command_allow_from),
            ("reactionAllowlist", &self.reaction_allowlist),
            ("dm.groupChannels", &self.dm.group_channels),
        ];
        for (name, list) in lists {
            check_entries(name, list)?;
        }
        for (key, room) in &self.rooms {
            if key.trim().is_empty() {
                return Err(ConfigError::new("rooms", ConfigProblem::Empty));
            }
            check_entries(&format!("rooms.{key}.users"), &room.users)?;
        }
        Ok(())
    }

    /// The mention patterns, compiled. The error names the first invalid one.
    pub fn compile_mention_patterns(&self) -> Result<Vec<Regex>, ConfigError> {
        self.mention_patterns
            .iter()
            .enumerate()
            .map(|(i, pattern)| {
                Regex::new(pattern).map_err(|e| {
                    ConfigError::new(
                        format!("mentionPatterns[{i}]"),
                        ConfigProblem::InvalidRegex(e.to_string()),
                    )
                })
            })
            .collect()
    }

    /// The `rooms` entry for a room: the key that is its id, else a key the host resolved
    /// to its id, else (only with `dangerouslyAllowNameMatching`) its current name, with
    /// or without `#`. Never the name otherwise: names can be squatted.
    pub fn room_entry(&self, room: &RoomInfo, resolved: &ResolvedRooms) -> Option<RoomEntry<'_>> {
        if !room.kind.is_room() {
            // DMs and group DMs have their own keys (`dmPolicy`, `dm.*`), as in Slack.
            return None;
        }
        let by_id = self.rooms.get_key_value(room.id.as_str());
        let by_resolution = || {
            resolved
                .keys_for(&room.id)
                .find_map(|key| self.rooms.get_key_value(key))
        };
        let by_name = || {
            if !self.dangerously_allow_name_matching {
                return None;
            }
            let name = room.name.as_deref()?;
            self.rooms
                .get_key_value(name)
                .or_else(|| self.rooms.get_key_value(format!("#{name}").as_str()))
        };
        by_id
            .or_else(by_resolution)
            .or_else(by_name)
            .map(|(key, config)| RoomEntry { key, config })
    }

    /// The `rooms` keys the host has not resolved to a room id, in key order: the host
    /// logs them and reports them in its status. Such a key only matches a room whose id
    /// is exactly the key.
    pub fn unresolved_rooms(&self, resolved: &ResolvedRooms) -> Vec<&str> {
        self.rooms
            .keys()
            .filter(|key| !matches!(resolved.get(key), Some(Some(_))))
            .map(String::as_str)
            .collect()
    }

    /// The `implicitMentions` switches under a room's entry: its overrides over the
    /// account's.
    pub fn implicit_mentions_for(&self, entry: Option<&RoomConfig>) -> ImplicitMentions {
        match entry {
            Some(entry) => entry.implicit_mentions.apply(self.implicit_mentions),
            None => self.implicit_mentions,
        }
    }

    /// Removes the host's namespace prefix (the channel's name in the host, e.g. `slack:`) from
    /// every allowlist entry, so entries compare with bare user ids. [`crate::policy::Policy`]
    /// does this once, when it is built.
    pub fn strip_namespace(&mut self, namespace: &Namespace) {
        let strip = |list: &mut Vec<String>| {
            for entry in list.iter_mut() {
                if let Some(bare) = namespace.strip(entry.trim()) {
                    *entry = bare.to_owned();
                }
            }
        };
        strip(&mut self.allow_from);
        strip(&mut self.group_allow_from);
        strip(&mut self.command_allow_from);
        strip(&mut self.reaction_allowlist);
        for room in self.rooms.values_mut() {
            strip(&mut room.users);
        }
    }

    /// Whether `list` admits the user: `"*"`, the user id, or, with
    /// `dangerouslyAllowNameMatching`, the username (optionally `@`-prefixed,
    /// case-insensitive). Entries carry no namespace prefix any more (see
    /// [`ChannelConfig::strip_namespace`]).
    pub fn list_allows(
        &self,
        list: &[String],
        id: Option<&UserId>,
        username: Option<&str>,
    ) -> bool {
        list.iter().any(|entry| {
            let entry = entry.trim();
            if entry == "*" {
                return true;
            }
            let bare = entry;
            if id.is_some_and(|id| id.as_str() == bare) {
                return true;
            }
            self.dangerously_allow_name_matching
                && username.is_some_and(|name| {
                    !name.is_empty() && bare.trim_start_matches('@').eq_ignore_ascii_case(name)
                })
        })
    }
}

fn check_entries(field: &str, list: &[String]) -> Result<(), ConfigError> {
    match list.iter().position(|e| e.trim().is_empty()) {
        Some(i) => Err(ConfigError::new(
            format!("{field}[{i}]"),
            ConfigProblem::Empty,
        )),
        None => Ok(()),
    }
}

fn path_error(err: serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let field = err.path().to_string();
    ConfigError::new(
        field,
        ConfigProblem::Malformed(err.into_inner().to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RoomId;
    use serde_json::json;

    #[test]
    fn an_empty_config_takes_slacks_defaults() {
        let config = ChannelConfig::from_value(json!({})).unwrap();
        assert_eq!(config, ChannelConfig::default());
        assert_eq!(config.dm_policy, DmPolicy::Pairing);
        assert_eq!(config.group_policy, GroupPolicy::Allowlist);
        assert!(config.require_mention);
        assert!(!config.allow_bots);
        assert!(!config.dangerously_allow_name_matching);
        assert_eq!(config.reply_to_mode, ReplyToMode::Off);
        assert_eq!(config.reaction_notifications, ReactionNotifications::Own);
        assert_eq!(config.text_chunk_limit, 5000);
        assert!(config.rooms.is_empty());
        assert!(config.implicit_mentions.reply_to_bot);
        assert!(config.implicit_mentions.thread_participation);
        assert!(!config.dm.group_enabled);
        assert!(config.dm.group_channels.is_empty());
    }

    #[test]
    fn implicit_mentions_resolve_room_over_account_key_by_key() {
        let config = ChannelConfig::from_value(json!({
            "implicitMentions": { "replyToBot": false },
            "rooms": {
                "R1": { "implicitMentions": { "replyToBot": true, "threadParticipation": false } },
                "R2": { "implicitMentions": { "threadParticipation": false } },
                "R3": {},
            }
        }))
        .unwrap();
        let switches = |id| {
            let m = config.implicit_mentions_for(config.rooms.get(id));
            (m.reply_to_bot, m.thread_participation)
        };
        assert_eq!(switches("R1"), (true, false));
        assert_eq!(switches("R2"), (false, false));
        assert_eq!(switches("R3"), (false, true));
        assert_eq!(switches("R4"), (false, true)); // no entry: the account's
        let err = ChannelConfig::from_value(json!({ "implicitMentions": { "replyToBot": "yes" } }))
            .unwrap_err();
        assert_eq!(err.field, "implicitMentions.replyToBot");
    }

    #[test]
    fn openclaw_key_names_parse_and_unknown_keys_are_ignored() {
        let config = ChannelConfig::from_value(json!({
            "serverUrl": "https://chat.example",
            "authToken": { "source": "env", "id": "RC_TOKEN" },
            "dmPolicy": "open", "allowFrom": ["*"],
            "groupPolicy": "open", "groupAllowFrom": ["U1"],
            "dangerouslyAllowNameMatching": true,
            "requireMention": false,
            "mentionPatterns": ["\\bbot\\b"],
            "allowBots": true,
            "rooms": { "GENERAL": { "enabled": false, "requireMention": true, "users": ["U2"],
                                    "replyToMode": "all", "allowBots": false, "skills": [] } },
            "commandAllowFrom": ["U3"],
            "dm": { "groupEnabled": true, "groupChannels": ["G1", "*"] },
            "replyToMode": "first",
            "replyToModeByChatType": { "direct": "batched", "group": "first", "channel": "all" },
            "reactionNotifications": "allowlist", "reactionAllowlist": ["U4"],
            "textChunkLimit": 4000
        }))
        .unwrap();
        assert_eq!(config.dm_policy, DmPolicy::Open);
        assert_eq!(config.group_policy, GroupPolicy::Open);
        assert_eq!(config.group_allow_from, ["U1"]);
        assert!(config.dangerously_allow_name_matching);
        assert!(!config.require_mention);
        assert_eq!(config.mention_patterns, ["\\bbot\\b"]);
        assert!(config.allow_bots);
        let room = &config.rooms["GENERAL"];
        assert!(!room.enabled);
        assert_eq!(room.require_mention, Some(true));
        assert_eq!(room.users, ["U2"]);
        assert_eq!(room.reply_to_mode, Some(ReplyToMode::All));
        assert_eq!(room.allow_bots, Some(false));
        assert_eq!(config.command_allow_from, ["U3"]);
        assert!(config.dm.group_enabled);
        assert_eq!(config.dm.group_channels, ["G1", "*"]);
        assert_eq!(config.reply_to_mode, ReplyToMode::First);
        let by_type = &config.reply_to_mode_by_chat_type;
        assert_eq!(
            by_type.for_kind(RoomKind::Direct),
            Some(ReplyToMode::Batched)
        );
        // Slack's chat types: `group` is a group DM, `channel` every room.
        assert_eq!(
            by_type.for_kind(RoomKind::GroupDirect),
            Some(ReplyToMode::First)
        );
        assert_eq!(by_type.for_kind(RoomKind::Private), Some(ReplyToMode::All));
        assert_eq!(by_type.for_kind(RoomKind::Public), Some(ReplyToMode::All));
        assert_eq!(
            config.reaction_notifications,
            ReactionNotifications::Allowlist
        );
        assert_eq!(config.reaction_allowlist, ["U4"]);
        assert_eq!(config.text_chunk_limit, 4000);
    }

    #[test]
    fn a_room_entry_defaults_to_enabled_and_inherits_the_rest() {
        let config = ChannelConfig::from_value(json!({ "rooms": { "general": {} } })).unwrap();
        assert_eq!(config.rooms["general"], RoomConfig::default());
        assert!(config.rooms["general"].enabled);
    }

    #[test]
    fn invalid_configs_name_the_offending_field() {
        let cases = [
            (json!({ "dmPolicy": "open" }), "allowFrom", "requires \"*\""),
            (
                json!({ "dmPolicy": "open", "allowFrom": ["U1"] }),
                "allowFrom",
                "requires",
            ),
            (
                json!({ "dmPolicy": "sometimes" }),
                "dmPolicy",
                "unknown variant",
            ),
            (
                json!({ "groupPolicy": "pairing" }),
                "groupPolicy",
                "unknown variant",
            ),
            (
                json!({ "rooms": { "general": { "replyToMode": "sometimes" } } }),
                "rooms.general.replyToMode",
                "unknown variant",
            ),
            (
                json!({ "replyToModeByChatType": { "channel": "never" } }),
                "replyToModeByChatType.channel",
                "unknown variant",
            ),
            (
                json!({ "reactionNotifications": "some" }),
                "reactionNotifications",
                "unknown",
            ),
            (
                json!({ "mentionPatterns": ["ok", "(unclosed"] }),
                "mentionPatterns[1]",
                "regex",
            ),
            (
                json!({ "textChunkLimit": 10 }),
                "textChunkLimit",
                "at least 64",
            ),
            (
                json!({ "textChunkLimit": -1 }),
                "textChunkLimit",
                "invalid value",
            ),
            (
                json!({ "requireMention": "yes" }),
                "requireMention",
                "invalid type",
            ),
            (json!({ "allowFrom": ["U1", " "] }), "allowFrom[1]", "empty"),
            (
                json!({ "groupAllowFrom": [""] }),
                "groupAllowFrom[0]",
                "empty",
            ),
            (
                json!({ "commandAllowFrom": [""] }),
                "commandAllowFrom[0]",
                "empty",
            ),
            (
                json!({ "reactionAllowlist": [""] }),
                "reactionAllowlist[0]",
                "empty",
            ),
            (
                json!({ "rooms": { "general": { "users": ["U1", ""] } } }),
                "rooms.general.users[1]",
                "empty",
            ),
            (json!({ "rooms": { "": {} } }), "rooms", "empty"),
            (
                json!({ "dm": { "groupChannels": ["G1", ""] } }),
                "dm.groupChannels[1]",
                "empty",
            ),
            (
                json!({ "dm": { "groupEnabled": "yes" } }),
                "dm.groupEnabled",
                "invalid type",
            ),
        ];
        for (value, field, problem) in cases {
            let err = ChannelConfig::from_value(value.clone()).unwrap_err();
            assert_eq!(err.field, field, "{value}");
            let text = err.to_string();
            assert!(text.contains(problem), "{value}: {text}");
            assert!(text.contains(field), "{value}: {text}");
        }
    }

    /// The schema object `schema` stands for, following a local `$ref`.
    fn resolve<'a>(
        root: &'a serde_json::Value,
        schema: &'a serde_json::Value,
    ) -> &'a serde_json::Value {
        match schema.get("$ref").and_then(|r| r.as_str()) {
            Some(reference) => {
                let path = reference.trim_start_matches('#');
                let target = root.pointer(path).unwrap_or_else(|| panic!("{reference}"));
                resolve(root, target)
            }
            None => schema,
        }
    }

    /// The non-null alternative of an `Option<T>` schema (`anyOf: [T, null]`), else itself.
    fn non_null<'a>(
        root: &'a serde_json::Value,
        schema: &'a serde_json::Value,
    ) -> &'a serde_json::Value {
        let schema = resolve(root, schema);
        match schema.get("anyOf").and_then(|a| a.as_array()) {
            Some(options) => options
                .iter()
                .map(|option| resolve(root, option))
                .find(|option| option.get("type") != Some(&json!("null")))
                .unwrap_or(schema),
            None => schema,
        }
    }

    /// Every object key of `value` (a serialized config) is a property of `schema`, and
    /// every property a key, all the way down.
    fn same_keys(
        root: &serde_json::Value,
        schema: &serde_json::Value,
        value: &serde_json::Value,
        at: &str,
    ) {
        let schema = non_null(root, schema);
        let Some(object) = value.as_object() else {
            return;
        };
        if let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) {
            let mut keys: Vec<&String> = object.keys().collect();
            let mut names: Vec<&String> = properties.keys().collect();
            keys.sort();
            names.sort();
            assert_eq!(names, keys, "properties at {at}");
            for (key, child) in object {
                same_keys(root, &properties[key], child, &format!("{at}.{key}"));
            }
        } else {
            // A map (`rooms`): every value follows `additionalProperties`.
            let values = schema
                .get("additionalProperties")
                .unwrap_or_else(|| panic!("no properties at {at}"));
            for (key, child) in object {
                same_keys(root, values, child, &format!("{at}.{key}"));
            }
        }
    }

    #[test]
    fn the_schema_has_every_key_the_config_reads_by_its_serde_name() {
        let schema = ChannelConfig::schema();
        // A config with every nested object present, serialized: its keys are the serde
        // names `from_value` reads (the same `rename_all` drives both directions).
        let config = ChannelConfig::from_value(json!({
            "rooms": { "R1": { "requireMention": true, "replyToMode": "all", "allowBots": true } },
            "replyToModeByChatType": { "direct": "off", "group": "first", "channel": "all" },
        }))
        .unwrap();
        let value = serde_json::to_value(&config).unwrap();
        same_keys(&schema, &schema, &value, "$");
        let top: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "dmPolicy",
            "allowFrom",
            "dm",
            "groupPolicy",
            "groupAllowFrom",
            "dangerouslyAllowNameMatching",
            "requireMention",
            "mentionPatterns",
            "implicitMentions",
            "ignoreOtherMentions",
            "allowBots",
            "rooms",
            "commandAllowFrom",
            "replyToMode",
            "replyToModeByChatType",
            "reactionNotifications",
            "reactionAllowlist",
            "roomEvents",
            "textChunkLimit",
        ] {
            assert!(top.contains(&key), "{key} missing from {top:?}");
        }
        assert_eq!(top.len(), 19, "{top:?}");
        // Every property the schema names is one the config reads: a value of the wrong
        // type under it is refused at that key.
        for key in &top {
            let err = ChannelConfig::from_value(json!({ *key: "not valid" }));
            let field = err.map(|_| String::new()).unwrap_or_else(|e| e.field);
            assert!(field.starts_with(key), "{key}: {field}");
        }
    }

    #[test]
    fn the_schema_carries_docs_defaults_and_the_enum_values() {
        let schema = ChannelConfig::schema();
        let property = |name: &str| non_null(&schema, &schema["properties"][name]).clone();
        let description = schema["properties"]["dmPolicy"]["description"].as_str();
        assert_eq!(description, Some("Who may DM the bot."));
        assert_eq!(
            schema["properties"]["dmPolicy"]["default"],
            json!("pairing")
        );
        assert_eq!(
            schema["properties"]["requireMention"]["default"],
            json!(true)
        );
        assert_eq!(
            schema["properties"]["textChunkLimit"]["default"],
            json!(5000)
        );
        assert_eq!(schema["properties"]["textChunkLimit"]["minimum"], json!(64));
        let values = |schema_of: serde_json::Value| -> Vec<String> {
            let mut values: Vec<String> = match schema_of.get("enum") {
                Some(values) => values
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect(),
                None => schema_of["oneOf"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["const"].as_str().unwrap().to_owned())
                    .collect(),
            };
            values.sort();
            values
        };
        assert_eq!(
            values(property("replyToMode")),
            ["all", "batched", "first", "off"]
        );
        assert_eq!(
            values(property("dmPolicy")),
            ["allowlist", "disabled", "open", "pairing"]
        );
        assert_eq!(
            values(property("groupPolicy")),
            ["allowlist", "disabled", "open"]
        );
        assert_eq!(
            values(property("reactionNotifications")),
            ["all", "allowlist", "off", "own"]
        );
        let dm = property("dm");
        assert_eq!(dm["properties"]["groupEnabled"]["default"], json!(false));
        let room = resolve(
            &schema,
            &schema["properties"]["rooms"]["additionalProperties"],
        );
        assert_eq!(room["properties"]["enabled"]["default"], json!(true));
        assert!(room["description"]
            .as_str()
            .unwrap()
            .contains("keyed by room id"));
        // Per-room replyToMode takes the same values (one enum, one owner).
        assert_eq!(
            values(non_null(&schema, &room["properties"]["replyToMode"]).clone()),
            ["all", "batched", "first", "off"]
        );
    }

    #[test]
    fn open_dms_with_a_wildcard_are_valid() {
        let config = ChannelConfig::from_json_str(r#"{"dmPolicy":"open","allowFrom":["*"]}"#);
        assert_eq!(config.unwrap().dm_policy, DmPolicy::Open);
    }

    #[test]
    fn room_entries_are_found_by_id_then_by_resolved_name_never_by_current_name() {
        let rooms = json!({
            "R1": { "requireMention": false },
            "general": { "requireMention": true },
            "#random": { "enabled": false },
            "gone": {},
        });
        let config = ChannelConfig::from_value(json!({ "rooms": rooms })).unwrap();
        let names = ChannelConfig::from_value(
            json!({ "rooms": rooms, "dangerouslyAllowNameMatching": true }),
        )
        .unwrap();
        let room = |id: &str, name: Option<&str>| RoomInfo {
            id: RoomId::new(id),
            kind: RoomKind::Public,
            name: name.map(str::to_owned),
        };
        let resolved: ResolvedRooms = [
            ("R1", Some(RoomId::new("R1"))),
            ("general", Some(RoomId::new("R2"))),
            ("#random", Some(RoomId::new("R3"))),
            ("gone", None),
        ]
        .into_iter()
        .collect();
        let none = ResolvedRooms::new();
        // (config, resolution, room, key)
        let cases = [
            (&config, &resolved, room("R1", Some("general")), Some("R1")), // the id wins
            (
                &config,
                &resolved,
                room("R2", Some("general")),
                Some("general"),
            ),
            (
                &config,
                &resolved,
                room("R2", Some("renamed")),
                Some("general"),
            ), // by id
            (
                &config,
                &resolved,
                room("R3", Some("random")),
                Some("#random"),
            ),
            // A squatter: a new room under an allowlisted name is not that room.
            (&config, &resolved, room("P9", Some("general")), None),
            (&config, &resolved, room("P9", Some("gone")), None),
            (&config, &resolved, room("R4", Some("other")), None),
            (&config, &resolved, room("R5", None), None),
            (&config, &resolved, room("r1", Some("GENERAL")), None), // case-sensitive
            // Before any resolution, only id keys match (fail closed).
            (&config, &none, room("R1", Some("general")), Some("R1")),
            (&config, &none, room("R2", Some("general")), None),
            // The break-glass flag matches the current name too, squatters included.
            (&names, &none, room("P9", Some("general")), Some("general")),
            (&names, &none, room("P9", Some("random")), Some("#random")),
            (&names, &resolved, room("R1", Some("random")), Some("R1")),
            (
                &names,
                &resolved,
                room("R2", Some("random")),
                Some("general"),
            ),
        ];
        for (config, resolved, info, key) in cases {
            let names = config.dangerously_allow_name_matching;
            assert_eq!(
                config.room_entry(&info, resolved).map(|e| e.key),
                key,
                "{info:?} names={names} resolved={resolved:?}"
            );
        }
        assert_eq!(config.unresolved_rooms(&resolved), ["gone"]);
        assert_eq!(
            config.unresolved_rooms(&none),
            ["#random", "R1", "general", "gone"]
        );
    }

    #[test]
    fn a_new_resolution_of_a_key_replaces_the_old() {
        let mut resolved = ResolvedRooms::new();
        resolved.insert("general", Some(RoomId::new("R1")));
        resolved.insert("#general", Some(RoomId::new("R1")));
        assert_eq!(
            resolved.keys_for(&RoomId::new("R1")).collect::<Vec<_>>(),
            ["#general", "general"]
        );
        resolved.insert("general", Some(RoomId::new("R2")));
        assert_eq!(
            resolved.keys_for(&RoomId::new("R1")).collect::<Vec<_>>(),
            ["#general"]
        );
        assert_eq!(
            resolved.keys_for(&RoomId::new("R2")).collect::<Vec<_>>(),
            ["general"]
        );
        resolved.insert("general", None);
        assert_eq!(resolved.keys_for(&RoomId::new("R2")).count(), 0);
        assert_eq!(resolved.get("general"), Some(None));
        assert_eq!(resolved.get("other"), None);
        assert_eq!(resolved.get("#general"), Some(Some(&RoomId::new("R1"))));
    }

    #[test]
    fn the_hosts_namespace_is_stripped_from_every_allowlist() {
        let mut config = ChannelConfig::from_value(json!({
            "allowFrom": ["acme:UA", "UB", "slack:UC"],
            "groupAllowFrom": ["acme:UA"],
            "commandAllowFrom": ["acme:UA"],
            "reactionAllowlist": ["acme:UA"],
            "rooms": { "general": { "users": ["acme:UA"] } },
        }))
        .unwrap();
        config.strip_namespace(&Namespace::new("acme").unwrap());
        assert_eq!(config.allow_from, ["UA", "UB", "slack:UC"]);
        assert_eq!(config.group_allow_from, ["UA"]);
        assert_eq!(config.command_allow_from, ["UA"]);
        assert_eq!(config.reaction_allowlist, ["UA"]);
        assert_eq!(config.rooms["general"].users, ["UA"]);
    }

    #[test]
    fn allowlists_match_ids_and_names_only_when_allowed() {
        let alice = UserId::new("UA");
        let list = |entries: &[&str]| entries.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let strict = ChannelConfig::default();
        let names = ChannelConfig {
            dangerously_allow_name_matching: true,
            ..ChannelConfig::default()
        };
        let cases: Vec<(&ChannelConfig, Vec<String>, Option<&UserId>, bool)> = vec![
            (&strict, list(&["UA"]), Some(&alice), true),
            (&strict, list(&["acme:UA"]), Some(&alice), false),
            (&strict, list(&["ua"]), Some(&alice), false),
            (&strict, list(&["*"]), Some(&alice), true),
            (&strict, list(&["*"]), None, true),
            (&strict, list(&[]), Some(&alice), false),
            (&strict, list(&["alice"]), Some(&alice), false),
            (&strict, list(&["@alice"]), Some(&alice), false),
            (&names, list(&["alice"]), Some(&alice), true),
            (&names, list(&["@Alice"]), None, true),
            (&names, list(&["bob"]), Some(&alice), false),
            (&names, list(&["UA"]), Some(&alice), true),
        ];
        for (config, entries, id, expected) in cases {
            let got = config.list_allows(&entries, id, Some("alice"));
            assert_eq!(
                got, expected,
                "{entries:?} {id:?} names={}",
                config.dangerously_allow_name_matching
            );
        }
    }
}
