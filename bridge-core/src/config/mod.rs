//! The configuration line: the first line on stdin, one JSON object with the account's
//! settings, secrets included (`docs/bridge-protocol.md`, "The configuration line").
//!
//! The bridge reads the keys that are its own (`accountId`, `approvedSenders`, ...), hands
//! the policy keys to `channel-api`'s parser and every other key to the backend
//! ([`AccountConfig::backend_object`]). [`AccountConfig::check`] refuses unknown keys (with
//! the closest valid name, see [`crate::keys`]) and reports every problem at once.
//!
//! The media and history keys (`mediaMaxMb`, `mediaDir`, `historyLimit`, `dmHistoryLimit`,
//! `threadInitialHistoryLimit`) are the bridge's own too: it downloads attachments and
//! fetches context before it sends a `message`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use channel_api::config::ChannelConfig;
use channel_api::{AccountId, RoomKind, UserId};
use serde_json::{Map, Value};

pub mod keys;

use self::keys::BackendKeys;

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    /// The key, in its JSON spelling (dotted for nested keys); `config` for the whole line.
    pub field: String,
    /// What is wrong with it. Never quotes a secret.
    pub reason: String,
}

impl ConfigError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The parsed configuration line.
///
/// It keeps the whole JSON object so each component parses its own keys, which includes
/// the token: `Debug` shows only the account id.
#[derive(Clone)]
pub struct AccountConfig {
    account_id: AccountId,
    approved_senders: Vec<UserId>,
    channel: ChannelConfig,
    media: MediaConfig,
    history: HistoryConfig,
    resume: ResumeConfig,
    /// Where the previous process of this account stopped reading (from `stateFile`, set
    /// by `serve` before connecting; never from the line itself).
    resume_point: Option<channel_api::ResumePoint>,
    object: Map<String, Value>,
}

/// `resumeMaxAgeSeconds` when absent: one hour.
pub const DEFAULT_RESUME_MAX_AGE_SECS: usize = 3600;

/// Resuming after a restart: `stateFile`, `resumeMaxAgeSeconds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeConfig {
    /// Where the bridge keeps the point it has read up to (`stateFile`); `None`: a new
    /// process starts from "now" and what was posted while no process ran is not read.
    pub state_file: Option<PathBuf>,
    /// A resume point older than this is not used (`resumeMaxAgeSeconds`; 0 = never):
    /// a bot that was away for long does not answer old messages.
    pub max_age: std::time::Duration,
}

/// `mediaMaxMb` when absent.
pub const DEFAULT_MEDIA_MAX_MB: f64 = 20.0;
/// `historyLimit` when absent.
pub const DEFAULT_HISTORY_LIMIT: usize = 50;
/// `dmHistoryLimit` when absent (Slack's default: no DM history).
pub const DEFAULT_DM_HISTORY_LIMIT: usize = 0;
/// `threadInitialHistoryLimit` when absent.
pub const DEFAULT_THREAD_INITIAL_HISTORY_LIMIT: usize = 20;

/// Attachment downloads and uploads: `mediaMaxMb`, `mediaDir`.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaConfig {
    /// The largest file downloaded or uploaded, in MiB (`mediaMaxMb`, > 0).
    pub max_mb: f64,
    /// Where downloads go (`mediaDir`); `None` = a fresh directory under the system temp
    /// dir, removed at exit.
    pub dir: Option<PathBuf>,
}

impl MediaConfig {
    /// The limit in bytes.
    pub fn max_bytes(&self) -> u64 {
        // `max_mb` is finite and positive (validated); the cast saturates.
        (self.max_mb * 1024.0 * 1024.0) as u64
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            max_mb: DEFAULT_MEDIA_MAX_MB,
            dir: None,
        }
    }
}

// What OpenClaw's Slack channel does (`thread.historyScope`, default "thread";
// `resolveSlackRoomHistory` with `threadTs`), and so this bridge (`context::Windows::dispatch`):
// - `thread`: a thread reply's recent window is read from its thread only. The first
//   dispatch from a thread carries the thread's start (`threadHistory`,
//   `threadInitialHistoryLimit`) and no recent window; later ones carry the thread's
//   messages since the previous dispatch from it (`history`, at most `historyLimit`).
// - `channel`: a thread reply's recent window is the room's timeline (`history`, as a
//   top-level message gets it), its first dispatch carrying the thread's start as well.
// `thread.inheritParent` (default false) is the plugin's: Slack sets the dispatched
// context's `parentSessionKey` to the room's session only then. `dms.<userId>.historyLimit`
// overrides `dmHistoryLimit` for that user's DM (`resolveSlackDmHistoryLimit`).

/// Which recent history a message in a thread carries (`threadHistoryScope`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ThreadHistoryScope {
    /// The thread's own messages.
    #[default]
    Thread,
    /// The room's messages.
    Channel,
}

/// Context given with admitted messages: `historyLimit`, `dmHistoryLimit`,
/// `dms.<userId>.historyLimit`, `threadInitialHistoryLimit` (0 = none) and
/// `threadHistoryScope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryConfig {
    /// Room messages with a room message (`historyLimit`).
    pub room: usize,
    /// The same in DMs (`dmHistoryLimit`).
    pub dm: usize,
    /// Per-DM limits over `dm`, by the other user's id (`dms.<userId>.historyLimit`, as
    /// Slack's `dms`).
    pub dms: BTreeMap<String, usize>,
    /// The start of a thread, the first time the core dispatches from it
    /// (`threadInitialHistoryLimit`).
    pub thread_initial: usize,
    /// Which recent history a thread reply carries (`threadHistoryScope`).
    pub thread_scope: ThreadHistoryScope,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            room: DEFAULT_HISTORY_LIMIT,
            dm: DEFAULT_DM_HISTORY_LIMIT,
            dms: BTreeMap::new(),
            thread_initial: DEFAULT_THREAD_INITIAL_HISTORY_LIMIT,
            thread_scope: ThreadHistoryScope::Thread,
        }
    }
}

impl HistoryConfig {
    /// The recent-window limit of a message in a room of `kind` from `sender`: the room's
    /// `historyLimit`, or in a DM the sender's `dms` entry, else `dmHistoryLimit`.
    pub fn recent_limit(&self, kind: RoomKind, sender: &UserId) -> usize {
        match kind {
            RoomKind::Direct => self.dms.get(sender.as_str()).copied().unwrap_or(self.dm),
            _ => self.room,
        }
    }

    /// Whether any message can carry a recent window (the room windows are then kept).
    pub fn any_recent(&self) -> bool {
        self.room > 0 || self.dm > 0 || self.dms.values().any(|&n| n > 0)
    }
}

impl fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountConfig")
            .field("account_id", &self.account_id)
            .field("approved_senders", &self.approved_senders.len())
            .finish_non_exhaustive()
    }
}

impl AccountConfig {
    /// Parses the configuration line.
    pub fn from_line(line: &str) -> Result<Self, ConfigError> {
        // serde_json's message may quote the input, which may hold the token: report only
        // where the problem is.
        let value: Value = serde_json::from_str(line).map_err(|e| {
            ConfigError::new(
                "config",
                format!(
                    "the first line must be one JSON object (error at column {})",
                    e.column()
                ),
            )
        })?;
        Self::from_value(value)
    }

    /// Checks a configuration object against every key the bridge, the policy and the
    /// backend know, and parses it. Every problem is reported, not only the first: each
    /// unknown key (with the closest valid name), each missing required key, and each bad
    /// value of the bridge's and the policy's keys.
    pub fn check(value: Value, backend: &BackendKeys) -> Result<Self, Vec<ConfigError>> {
        let Value::Object(object) = &value else {
            return Err(vec![ConfigError::new("config", "must be a JSON object")]);
        };
        let mut errors =
            crate::config::keys::check_keys(object, &crate::config::keys::account_schema(backend));
        // Each key alone, so one bad value does not hide the next: the bridge's keys with
        // their full checks, the policy's for their type (rules across keys come last).
        let channel_keys = crate::config::keys::channel_key_names();
        for (key, item) in object {
            let mut one = Map::new();
            one.insert(key.clone(), item.clone());
            let one = Value::Object(one);
            let error = if channel_keys.contains(key) {
                serde_json::from_value::<ChannelConfig>(one)
                    .err()
                    .map(|e| ConfigError::new(key.clone(), e.to_string()))
            } else {
                Self::from_value(one).err()
            };
            if let Some(e) = error {
                if !errors.iter().any(|known| known.field == e.field) {
                    errors.push(e);
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Rules across keys (`dmPolicy: open` needs `"*"` in `allowFrom`, ...).
        Self::from_value(value).map_err(|e| vec![e])
    }

    /// Parses an already decoded configuration object. Unknown keys are left to the
    /// backend (see [`AccountConfig::check`] for the strict form); the first bad value is
    /// the error.
    pub fn from_value(value: Value) -> Result<Self, ConfigError> {
        let Value::Object(object) = value else {
            return Err(ConfigError::new("config", "must be a JSON object"));
        };
        let account_id = match object.get("accountId") {
            None | Some(Value::Null) => AccountId::new("default"),
            Some(Value::String(s)) if valid_account_id(s) => AccountId::new(s.clone()),
            Some(_) => {
                return Err(ConfigError::new(
                    "accountId",
                    "must be a non-empty string without ':' or whitespace",
                ))
            }
        };
        let approved_senders = string_list(&object, "approvedSenders")?
            .into_iter()
            .map(UserId::new)
            .collect();
        let media = MediaConfig {
            max_mb: positive_number(&object, "mediaMaxMb", DEFAULT_MEDIA_MAX_MB)?,
            dir: media_dir(&object)?,
        };
        let history = HistoryConfig {
            room: count(&object, "historyLimit", DEFAULT_HISTORY_LIMIT)?,
            dm: count(&object, "dmHistoryLimit", DEFAULT_DM_HISTORY_LIMIT)?,
            dms: dm_limits(&object)?,
            thread_initial: count(
                &object,
                "threadInitialHistoryLimit",
                DEFAULT_THREAD_INITIAL_HISTORY_LIMIT,
            )?,
            thread_scope: thread_scope(&object)?,
        };
        let resume = ResumeConfig {
            state_file: path_key(&object, "stateFile")?,
            max_age: std::time::Duration::from_secs(count(
                &object,
                "resumeMaxAgeSeconds",
                DEFAULT_RESUME_MAX_AGE_SECS,
            )? as u64),
        };
        // The policy keys; `channel-api` ignores the keys it does not own.
        let channel = ChannelConfig::from_value(Value::Object(object.clone()))
            .map_err(|e| ConfigError::new(e.field.clone(), e.problem.to_string()))?;
        Ok(Self {
            account_id,
            approved_senders,
            channel,
            media,
            history,
            resume,
            resume_point: None,
            object,
        })
    }

    /// `stateFile` and `resumeMaxAgeSeconds`.
    pub fn resume(&self) -> &ResumeConfig {
        &self.resume
    }

    /// Where the previous process stopped reading, once `serve` has loaded it.
    pub fn resume_point(&self) -> Option<&channel_api::ResumePoint> {
        self.resume_point.as_ref()
    }

    /// The same configuration, resuming from `point`.
    pub fn with_resume_point(mut self, point: Option<channel_api::ResumePoint>) -> Self {
        self.resume_point = point;
        self
    }

    /// The OpenClaw account id.
    pub fn account_id(&self) -> &AccountId {
        &self.account_id
    }

    /// DM senders approved through OpenClaw pairing, as configured at start.
    pub fn approved_senders(&self) -> &[UserId] {
        &self.approved_senders
    }

    /// The policy configuration (`dmPolicy`, `rooms`, `textChunkLimit`, ...).
    pub fn channel(&self) -> &ChannelConfig {
        &self.channel
    }

    /// `mediaMaxMb` and `mediaDir`.
    pub fn media(&self) -> &MediaConfig {
        &self.media
    }

    /// The history limits and the thread history scope.
    pub fn history(&self) -> &HistoryConfig {
        &self.history
    }

    /// The whole configuration object (contains the token: never log it).
    pub fn object(&self) -> &Map<String, Value> {
        &self.object
    }

    /// The keys that are neither the bridge's nor the policy's: the backend's (its
    /// connection keys), for its own parser.
    pub fn backend_object(&self) -> Map<String, Value> {
        let ours: Vec<String> = crate::config::keys::bridge_key_names()
            .into_iter()
            .chain(crate::config::keys::channel_key_names())
            .collect();
        self.object
            .iter()
            .filter(|(k, _)| !ours.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// A string key, if present.
    pub fn str_key(&self, key: &str) -> Option<&str> {
        self.object.get(key).and_then(Value::as_str)
    }

    /// The top-level keys whose values differ between `self` and `other` (present in one
    /// and not the other included), sorted.
    pub fn changed_keys(&self, other: &AccountConfig) -> Vec<String> {
        let mut keys: Vec<String> = self
            .object
            .keys()
            .chain(other.object.keys())
            .filter(|k| self.object.get(*k) != other.object.get(*k))
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// The keys a running bridge cannot change: the backend's (the connection), who it is,
/// and where it keeps its files. A change of any of them needs a restart of that
/// account's bridge; the policy's keys and the bridge's limits apply at once
/// (`reconfigure`).
pub fn needs_restart(key: &str) -> bool {
    let restart_own = matches!(
        key,
        "accountId" | "stateFile" | "resumeMaxAgeSeconds" | "mediaDir"
    );
    let live = crate::config::keys::channel_key_names()
        .iter()
        .any(|k| k == key)
        || crate::config::keys::bridge_key_names()
            .iter()
            .any(|k| k == key);
    restart_own || !live
}

fn valid_account_id(s: &str) -> bool {
    !s.is_empty() && !s.contains(':') && !s.chars().any(char::is_whitespace)
}

/// The largest `mediaMaxMb` accepted: 1 TiB. Beyond it the byte count stops being exact,
/// and no chat server takes such files anyway.
const MAX_MEDIA_MB: f64 = 1024.0 * 1024.0;

/// An optional number greater than zero (fractions allowed: `0.5` MiB).
fn positive_number(
    object: &Map<String, Value>,
    key: &str,
    default: f64,
) -> Result<f64, ConfigError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x > 0.0 && x <= MAX_MEDIA_MB => Ok(x),
            Some(x) if x > MAX_MEDIA_MB => Err(ConfigError::new(
                key,
                format!("must be at most {MAX_MEDIA_MB}"),
            )),
            _ => Err(ConfigError::new(key, "must be a number greater than 0")),
        },
        Some(_) => Err(ConfigError::new(key, "must be a number greater than 0")),
    }
}

/// An optional whole number, 0 or more.
fn count(object: &Map<String, Value>, key: &str, default: usize) -> Result<usize, ConfigError> {
    let bad = || ConfigError::new(key, "must be a whole number, 0 or more");
    match object.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(x), _) => usize::try_from(x).map_err(|_| bad()),
            // `50.0` is a whole number too (JavaScript does not tell them apart).
            (None, Some(x)) if x >= 0.0 && x.fract() == 0.0 && x <= u32::MAX as f64 => {
                Ok(x as usize)
            }
            _ => Err(bad()),
        },
        Some(_) => Err(bad()),
    }
}

/// `threadHistoryScope`: `"thread"` (the default) or `"channel"`.
fn thread_scope(object: &Map<String, Value>) -> Result<ThreadHistoryScope, ConfigError> {
    match object.get("threadHistoryScope") {
        None | Some(Value::Null) => Ok(ThreadHistoryScope::default()),
        Some(Value::String(s)) if s == "thread" => Ok(ThreadHistoryScope::Thread),
        Some(Value::String(s)) if s == "channel" => Ok(ThreadHistoryScope::Channel),
        Some(_) => Err(ConfigError::new(
            "threadHistoryScope",
            "must be \"thread\" or \"channel\"",
        )),
    }
}

/// `dms`: `{"<userId>": {"historyLimit": n}}`; entries without `historyLimit` set
/// nothing.
fn dm_limits(object: &Map<String, Value>) -> Result<BTreeMap<String, usize>, ConfigError> {
    let mut out = BTreeMap::new();
    let entries = match object.get("dms") {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Object(entries)) => entries,
        Some(_) => {
            return Err(ConfigError::new(
                "dms",
                "must be an object keyed by user id",
            ))
        }
    };
    for (user, entry) in entries {
        let field = format!("dms.{user}");
        match entry {
            Value::Null => {}
            Value::Object(keys) => {
                if let Some(unknown) = keys.keys().find(|k| k.as_str() != "historyLimit") {
                    return Err(ConfigError::new(
                        format!("{field}.{unknown}"),
                        "unknown key (a dms entry takes historyLimit)",
                    ));
                }
                if keys.get("historyLimit").is_some_and(|v| !v.is_null()) {
                    let limit = count(keys, "historyLimit", 0)
                        .map_err(|e| ConfigError::new(format!("{field}.historyLimit"), e.reason))?;
                    out.insert(user.clone(), limit);
                }
            }
            _ => {
                return Err(ConfigError::new(
                    "dms",
                    format!("the entry {user:?} must be an object ({{\"historyLimit\": n}})"),
                ))
            }
        }
    }
    Ok(out)
}

/// `mediaDir`: an optional non-empty path.
fn media_dir(object: &Map<String, Value>) -> Result<Option<PathBuf>, ConfigError> {
    path_key(object, "mediaDir")
}

/// An optional non-empty path.
fn path_key(object: &Map<String, Value>, key: &str) -> Result<Option<PathBuf>, ConfigError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(PathBuf::from(s))),
        Some(_) => Err(ConfigError::new(key, "must be a non-empty path string")),
    }
}

/// An optional list of strings.
fn string_list(object: &Map<String, Value>, key: &str) -> Result<Vec<String>, ConfigError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(ConfigError::new(key, "must be a list of strings")),
            })
            .collect(),
        Some(_) => Err(ConfigError::new(key, "must be a list of strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_own_keys_are_read() {
        let c = AccountConfig::from_line(r#"{"serverUrl":"https://x","approvedSenders":["u1"]}"#)
            .unwrap();
        assert_eq!(c.account_id().as_str(), "default");
        assert_eq!(c.approved_senders(), &[UserId::new("u1")]);
        assert_eq!(c.str_key("serverUrl"), Some("https://x"));
    }

    #[test]
    fn bad_values_name_the_field_and_never_quote_the_token() {
        let cases = [
            (r#"[1]"#, "config"),
            (r#"{"accountId":"a:b"}"#, "accountId"),
            (r#"{"accountId":""}"#, "accountId"),
            (r#"{"approvedSenders":"u1"}"#, "approvedSenders"),
            (r#"{"approvedSenders":[1]}"#, "approvedSenders"),
            (r#"{"dmPolicy":"sometimes"}"#, "dmPolicy"),
            (r#"{"textChunkLimit":1}"#, "textChunkLimit"),
            (r#"{"mediaMaxMb":0}"#, "mediaMaxMb"),
            (r#"{"mediaMaxMb":-1}"#, "mediaMaxMb"),
            (r#"{"mediaMaxMb":"20"}"#, "mediaMaxMb"),
            (r#"{"mediaMaxMb":1e300}"#, "mediaMaxMb"),
            (r#"{"mediaDir":""}"#, "mediaDir"),
            (r#"{"mediaDir":7}"#, "mediaDir"),
            (r#"{"stateFile":""}"#, "stateFile"),
            (r#"{"resumeMaxAgeSeconds":-1}"#, "resumeMaxAgeSeconds"),
            (r#"{"historyLimit":-1}"#, "historyLimit"),
            (r#"{"historyLimit":2.5}"#, "historyLimit"),
            (r#"{"historyLimit":"50"}"#, "historyLimit"),
            (r#"{"dmHistoryLimit":-3}"#, "dmHistoryLimit"),
            (
                r#"{"threadInitialHistoryLimit":true}"#,
                "threadInitialHistoryLimit",
            ),
        ];
        for (line, field) in cases {
            assert_eq!(
                AccountConfig::from_line(line).unwrap_err().field,
                field,
                "{line}"
            );
        }
        let err = AccountConfig::from_line(r#"{"authToken":"SECRET-TOKEN" oops}"#).unwrap_err();
        assert_eq!(err.field, "config");
        assert!(!err.to_string().contains("SECRET"));
    }

    #[test]
    fn media_and_history_keys_have_defaults_and_are_read() {
        let c = AccountConfig::from_line("{}").unwrap();
        assert_eq!(c.media(), &MediaConfig::default());
        assert_eq!(c.media().max_bytes(), 20 * 1024 * 1024);
        assert_eq!(
            c.history(),
            &HistoryConfig {
                room: 50,
                dm: 0,
                dms: BTreeMap::new(),
                thread_initial: 20,
                thread_scope: ThreadHistoryScope::Thread,
            }
        );
        let c = AccountConfig::from_line(
            r#"{"mediaMaxMb":0.5,"mediaDir":"/var/media","historyLimit":0,
                "dmHistoryLimit":10.0,"threadInitialHistoryLimit":3,
                "threadHistoryScope":"channel","dms":{"U1":{"historyLimit":4},"U2":{}}}"#,
        )
        .unwrap();
        assert_eq!(c.media().max_bytes(), 512 * 1024);
        assert_eq!(c.media().dir, Some(PathBuf::from("/var/media")));
        assert_eq!(
            c.history(),
            &HistoryConfig {
                room: 0,
                dm: 10,
                dms: BTreeMap::from([("U1".to_owned(), 4)]),
                thread_initial: 3,
                thread_scope: ThreadHistoryScope::Channel,
            }
        );
        let h = c.history();
        assert_eq!(h.recent_limit(RoomKind::Direct, &UserId::new("U1")), 4);
        assert_eq!(h.recent_limit(RoomKind::Direct, &UserId::new("U2")), 10);
        assert_eq!(h.recent_limit(RoomKind::Public, &UserId::new("U1")), 0);
        assert!(h.any_recent());
    }

    #[test]
    fn bad_thread_scope_and_dms_values_name_their_field() {
        for (line, field) in [
            (r#"{"threadHistoryScope":"room"}"#, "threadHistoryScope"),
            (r#"{"threadHistoryScope":1}"#, "threadHistoryScope"),
            (r#"{"dms":[]}"#, "dms"),
            (r#"{"dms":{"U1":5}}"#, "dms"),
            (
                r#"{"dms":{"U1":{"historyLimit":-1}}}"#,
                "dms.U1.historyLimit",
            ),
            (r#"{"dms":{"U1":{"limit":3}}}"#, "dms.U1.limit"),
        ] {
            let err = AccountConfig::from_line(line).unwrap_err();
            assert_eq!(err.field, field, "{line}");
        }
    }

    #[test]
    fn the_bridge_reads_exactly_the_keys_its_schema_declares() {
        // Each declared key, given a bad value, is refused under its own name: the
        // parser reads it. (And a key it does not read would not be in the schema.)
        for key in crate::config::keys::bridge_key_names() {
            let line = format!(r#"{{"{key}":{{"not":"valid"}}}}"#);
            assert_eq!(
                AccountConfig::from_line(&line)
                    .map(|_| ())
                    .map_err(|e| e.field),
                Err(key.clone()),
                "{key}"
            );
        }
    }

    #[test]
    fn check_reports_every_problem_at_once() {
        let backend = BackendKeys::from_schema(serde_json::json!({
            "type": "object", "properties": {"serverUrl": {"type": "string"}},
            "required": ["serverUrl"],
        }));
        let errors = AccountConfig::check(
            serde_json::json!({"dmpolicy": "disabled", "historyLimit": -1, "mediaMaxMb": 0,
                "dmPolicy": "sometimes"}),
            &backend,
        )
        .unwrap_err();
        let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "dmPolicy",
                "dmpolicy",
                "historyLimit",
                "mediaMaxMb",
                "serverUrl"
            ],
            "{errors:?}"
        );
        assert!(AccountConfig::check(
            serde_json::json!({"serverUrl": "https://x", "dmPolicy": "open", "allowFrom": ["*"]}),
            &backend
        )
        .is_ok());
        // A rule across keys is checked once every key is fine.
        let errors = AccountConfig::check(
            serde_json::json!({"serverUrl": "x", "dmPolicy": "open"}),
            &backend,
        )
        .unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    #[test]
    fn only_live_keys_apply_without_a_restart() {
        for key in [
            "dmPolicy",
            "rooms",
            "historyLimit",
            "mediaMaxMb",
            "approvedSenders",
        ] {
            assert!(!needs_restart(key), "{key}");
        }
        for key in [
            "serverUrl",
            "authToken",
            "timeouts",
            "accountId",
            "stateFile",
            "mediaDir",
        ] {
            assert!(needs_restart(key), "{key}");
        }
    }

    #[test]
    fn debug_output_hides_the_token() {
        let c = AccountConfig::from_line(r#"{"authToken":"SECRET-TOKEN"}"#).unwrap();
        assert!(!format!("{c:?}").contains("SECRET"));
        assert_eq!(
            c.backend_object().get("authToken"),
            Some(&Value::String("SECRET-TOKEN".into()))
        );
    }
}
