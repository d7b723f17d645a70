//! The account configuration: where the server is, who the bot is, how much to trust the
//! network, and the timeouts. Bad values are refused by [`RocketChatConfig::validate`] with
//! an error that names the offending field (in its JSON spelling).
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `serverUrl` | string | required | `https://host[:port][/prefix]`; `http://` needs the insecure flag |
//! | `userId` | string | required | the bot's user id |
//! | `username` | string | required | the bot's username (no `@`) |
//! | `authToken` (alias `pat`) | string | required | the personal access token; never logged |
//! | `dangerouslyAllowInsecure` | bool | `false` | allow `http`/`ws` and skip certificate checks |
//! | `caFile` | path | none | extra PEM CA(s) trusted besides the public roots |
//! | `rooms` | array | `[]` (all) | allowlist: `"id"`, `"#name"`, `{"id":..}` or `{"name":..}` |
//! | `revalidateIntervalSeconds` | int | `300` | how often `/api/v1/me` re-checks the token |
//! | `maxFrameBytes` | int | 4 MiB | larger inbound WebSocket messages are refused |
//! | `timeouts.connectTimeoutMs` | int | 15000 | TCP + TLS + upgrade + DDP `connected` |
//! | `timeouts.requestTimeoutMs` | int | 30000 | one REST request or DDP method call |
//! | `timeouts.pingAfterSilenceMs` | int | 30000 | ping after this much inbound silence (max 30000) |
//! | `timeouts.pongTimeoutMs` | int | 30000 | no frame this long after our ping: the socket is dead |
//! | `timeouts.reconnectMinDelayMs` | int | 1000 | first reconnect delay (doubles, with jitter) |
//! | `timeouts.reconnectMaxDelayMs` | int | 60000 | reconnect delay cap |
//! | `timeouts.maxRateLimitWaitMs` | int | 120000 | longer 429 waits fail with `RateLimited` |
//!
//! Unknown keys are refused, so a typo does not silently fall back to a default.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A secret string (the personal access token). `Debug` and `Display` never show it, and it
/// cannot be serialized: the only way to read it is [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call only where it goes on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// One room allowlist entry: by id (`{"id": "GENERAL"}`), by name (`{"name": "general"}`),
/// or a bare string (`"#general"` is a name, anything else an id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEntry {
    /// A room id, taken as is.
    Id(String),
    /// A room name (without `#`), resolved to an id at startup.
    Name(String),
}

impl<'de> Deserialize<'de> for RoomEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bare(String),
            Id { id: String },
            Name { name: String },
        }
        Ok(match Raw::deserialize(deserializer)? {
            Raw::Bare(s) => match s.strip_prefix('#') {
                Some(name) => RoomEntry::Name(name.to_owned()),
                None => RoomEntry::Id(s),
            },
            Raw::Id { id } => RoomEntry::Id(id),
            Raw::Name { name } => RoomEntry::Name(name.trim_start_matches('#').to_owned()),
        })
    }
}

/// Timeouts and intervals of the connection. JSON keys are in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Timeouts {
    /// TCP + TLS + WebSocket handshake + DDP `connected` (`connectTimeoutMs`).
    #[serde(rename = "connectTimeoutMs", with = "millis")]
    #[schemars(with = "u64")]
    pub connect: Duration,
    /// One REST request, or one DDP method call (`requestTimeoutMs`).
    #[serde(rename = "requestTimeoutMs", with = "millis")]
    #[schemars(with = "u64")]
    pub request: Duration,
    /// Send a DDP ping after this much inbound silence (`pingAfterSilenceMs`).
    #[serde(rename = "pingAfterSilenceMs", with = "millis")]
    #[schemars(with = "u64")]
    pub ping_after_silence: Duration,
    /// After our ping, the socket is dead if nothing arrives within this (`pongTimeoutMs`).
    #[serde(rename = "pongTimeoutMs", with = "millis")]
    #[schemars(with = "u64")]
    pub pong: Duration,
    /// First reconnect delay; doubles per attempt (`reconnectMinDelayMs`).
    #[serde(rename = "reconnectMinDelayMs", with = "millis")]
    #[schemars(with = "u64")]
    pub reconnect_min: Duration,
    /// Longest reconnect delay (`reconnectMaxDelayMs`).
    #[serde(rename = "reconnectMaxDelayMs", with = "millis")]
    #[schemars(with = "u64")]
    pub reconnect_max: Duration,
    /// Longest wait a 429 may ask for before the call fails with `RateLimited` instead
    /// (`maxRateLimitWaitMs`).
    #[serde(rename = "maxRateLimitWaitMs", with = "millis")]
    #[schemars(with = "u64")]
    pub max_rate_limit_wait: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        // Ping/pong follow the official client: ping after 30 s of silence, dead at 60 s.
        Self {
            connect: Duration::from_secs(15),
            request: Duration::from_secs(30),
            ping_after_silence: Duration::from_secs(30),
            pong: Duration::from_secs(30),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            max_rate_limit_wait: Duration::from_secs(120),
        }
    }
}

/// The configuration of one bot account on one Rocket.Chat server.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RocketChatConfig {
    /// `https://chat.example.com` (`serverUrl`). `http://` needs `dangerouslyAllowInsecure`.
    pub server_url: String,
    /// The bot's user id (`userId`).
    pub user_id: String,
    /// The bot's username, for mention gating (`username`).
    pub username: String,
    /// The personal access token (`authToken`).
    #[serde(alias = "pat")]
    #[schemars(with = "String")]
    pub auth_token: Secret,
    /// Allow `http://`/`ws://` and skip certificate checks. Local development only
    /// (`dangerouslyAllowInsecure`).
    #[serde(default)]
    pub dangerously_allow_insecure: bool,
    /// An extra PEM CA certificate to trust besides the public roots (`caFile`).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Rooms the backend delivers, by id or name (`rooms`). Empty: every room it can see.
    /// A filter a program may set in front of the policy (the bench does); not a key of
    /// the bridge's configuration line, where `rooms` is the policy's.
    #[serde(default)]
    #[schemars(skip)]
    pub rooms: Vec<RoomEntry>,
    /// How often the token is re-checked over REST (`revalidateIntervalSeconds`, default 300).
    #[serde(
        rename = "revalidateIntervalSeconds",
        default = "default_revalidate",
        with = "seconds"
    )]
    #[schemars(with = "u64")]
    pub revalidate_interval: Duration,
    /// Refuse inbound WebSocket messages larger than this many bytes (`maxFrameBytes`).
    #[serde(default = "default_max_frame")]
    pub max_frame_bytes: usize,
    /// Timeouts and intervals (`timeouts`).
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Where an earlier process of this account stopped reading. Set by the program that
    /// runs the channel (the bridge keeps it in its state file), never read from a config
    /// file: with it, the first connection catches up on what was posted since, as a
    /// reconnect does, instead of starting from "now".
    #[serde(skip)]
    pub resume: Option<channel_api::ResumePoint>,
}

fn default_revalidate() -> Duration {
    Duration::from_secs(300)
}

fn default_max_frame() -> usize {
    4 * 1024 * 1024
}

/// A configuration value that cannot be used. The message starts with the field's JSON name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConfigError {
    /// The field, in its JSON spelling (`serverUrl`, `timeouts.pongTimeoutMs`, ...).
    pub field: &'static str,
    /// What is wrong with it (never contains the token).
    pub problem: String,
}

impl ConfigError {
    fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// The parts of `serverUrl` the clients need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerUrl {
    /// Whether TLS is used.
    pub(crate) tls: bool,
    /// Host name or IP (without brackets).
    pub(crate) host: String,
    /// Port (defaulted from the scheme).
    pub(crate) port: u16,
    /// Path prefix without a trailing slash (`""` or `/chat`).
    pub(crate) prefix: String,
}

impl ServerUrl {
    /// `https://host:port/prefix` (or `http://`).
    pub(crate) fn http_base(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority(), self.prefix)
    }

    /// `wss://host:port/prefix/websocket` (or `ws://`).
    #[cfg(test)]
    pub(crate) fn websocket(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}{}/websocket", self.authority(), self.prefix)
    }

    /// `host:port`, with IPv6 hosts in brackets.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl RocketChatConfig {
    /// A config with the required fields and every default.
    pub fn new(
        server_url: impl Into<String>,
        user_id: impl Into<String>,
        username: impl Into<String>,
        auth_token: Secret,
    ) -> Self {
        Self {
            server_url: server_url.into(),
            user_id: user_id.into(),
            username: username.into(),
            auth_token,
            dangerously_allow_insecure: false,
            ca_file: None,
            rooms: Vec::new(),
            revalidate_interval: default_revalidate(),
            max_frame_bytes: default_max_frame(),
            timeouts: Timeouts::default(),
            resume: None,
        }
    }

    /// The JSON schema of the keys this backend reads from an account configuration
    /// (`serverUrl`, `userId`, `username`, `authToken`, `timeouts`, ...), from these types:
    /// hosts check a configuration line's keys against it and build their own schema on it.
    pub fn schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(RocketChatConfig)).unwrap_or_default()
    }

    /// Parses a JSON config and validates it.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        // serde's message can quote the offending value, and that value may be the token:
        // report only where the problem is.
        let not_valid = |field: &'static str, e: serde_json::Error| {
            ConfigError::new(
                field,
                format!(
                    "not a valid account config (line {}, column {}): {}",
                    e.line(),
                    e.column(),
                    describe_serde_error(&e)
                ),
            )
        };
        let mut de = serde_json::Deserializer::from_str(json);
        // The path names the key a wrong-typed value sits under (never the value itself).
        let config: Self = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = field_of(&e.path().to_string());
            not_valid(field, e.into_inner())
        })?;
        de.end().map_err(|e| not_valid("config", e))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value; the error names the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.parsed_url()?;
        if self.user_id.trim().is_empty() {
            return Err(ConfigError::new("userId", "must not be empty"));
        }
        if self.username.trim().is_empty() {
            return Err(ConfigError::new("username", "must not be empty"));
        }
        if self.username.starts_with('@') {
            return Err(ConfigError::new("username", "give the name without '@'"));
        }
        if self.auth_token.is_empty() {
            return Err(ConfigError::new("authToken", "must not be empty"));
        }
        if self
            .auth_token
            .expose()
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(ConfigError::new(
                "authToken",
                "contains whitespace or control characters",
            ));
        }
        if let Some(path) = &self.ca_file {
            if !path.is_file() {
                return Err(ConfigError::new(
                    "caFile",
                    format!("{} is not a readable file", path.display()),
                ));
            }
        }
        for entry in &self.rooms {
            let (RoomEntry::Id(v) | RoomEntry::Name(v)) = entry;
            if v.trim().is_empty() {
                return Err(ConfigError::new("rooms", "an entry is empty"));
            }
        }
        if self.revalidate_interval < Duration::from_secs(1) {
            return Err(ConfigError::new(
                "revalidateIntervalSeconds",
                "must be at least 1",
            ));
        }
        if self.max_frame_bytes < 64 * 1024 {
            return Err(ConfigError::new(
                "maxFrameBytes",
                "must be at least 65536 (a 5000-character message needs room)",
            ));
        }
        let t = &self.timeouts;
        let positive: [(&'static str, Duration); 6] = [
            ("timeouts.connectTimeoutMs", t.connect),
            ("timeouts.requestTimeoutMs", t.request),
            ("timeouts.pingAfterSilenceMs", t.ping_after_silence),
            ("timeouts.pongTimeoutMs", t.pong),
            ("timeouts.reconnectMinDelayMs", t.reconnect_min),
            ("timeouts.reconnectMaxDelayMs", t.reconnect_max),
        ];
        for (field, value) in positive {
            if value.is_zero() {
                return Err(ConfigError::new(field, "must be greater than 0"));
            }
        }
        if t.reconnect_max < t.reconnect_min {
            return Err(ConfigError::new(
                "timeouts.reconnectMaxDelayMs",
                "must not be below reconnectMinDelayMs",
            ));
        }
        // The server closes a client that is silent for 30 s; ping well before that.
        if t.ping_after_silence > Duration::from_secs(30) {
            return Err(ConfigError::new(
                "timeouts.pingAfterSilenceMs",
                "must be at most 30000 (the server drops clients silent for 30 s)",
            ));
        }
        Ok(())
    }

    /// The validated parts of `serverUrl`.
    pub(crate) fn parsed_url(&self) -> Result<ServerUrl, ConfigError> {
        parse_server_url(&self.server_url, self.dangerously_allow_insecure)
    }
}

/// The config's keys, most specific first, to name the field a serde path points into.
const KEYS: &[&str] = &[
    "serverUrl",
    "userId",
    "username",
    "authToken",
    "pat",
    "dangerouslyAllowInsecure",
    "caFile",
    "rooms",
    "revalidateIntervalSeconds",
    "maxFrameBytes",
    "timeouts.connectTimeoutMs",
    "timeouts.requestTimeoutMs",
    "timeouts.pingAfterSilenceMs",
    "timeouts.pongTimeoutMs",
    "timeouts.reconnectMinDelayMs",
    "timeouts.reconnectMaxDelayMs",
    "timeouts.maxRateLimitWaitMs",
    "timeouts",
];

/// The config key a serde path (`timeouts.pongTimeoutMs`, `rooms[2]`) falls under;
/// `config` for the whole object (a missing key, a syntax error).
fn field_of(path: &str) -> &'static str {
    KEYS.iter()
        .copied()
        .find(|k| {
            path == *k
                || path
                    .strip_prefix(k)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
        .unwrap_or("config")
}

/// Names the kind of serde failure without echoing the input.
fn describe_serde_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let text = e.to_string();
    // Messages about fields ("missing field `x`", "unknown field `x`") are safe; messages
    // about values ("invalid type: string \"...\"") may quote the token, so keep the kind.
    if text.starts_with("missing field") || text.starts_with("unknown field") {
        match text.find(" at line") {
            Some(i) => text[..i].to_owned(),
            None => text,
        }
    } else {
        match e.classify() {
            Category::Syntax | Category::Eof => "malformed JSON".to_owned(),
            Category::Data => "a value has the wrong type or form".to_owned(),
            Category::Io => "read error".to_owned(),
        }
    }
}

pub(crate) fn parse_server_url(raw: &str, allow_insecure: bool) -> Result<ServerUrl, ConfigError> {
    const FIELD: &str = "serverUrl";
    let raw = raw.trim();
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| ConfigError::new(FIELD, "must start with https://"))?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => true,
        "http" | "ws" if allow_insecure => false,
        "http" | "ws" => {
            return Err(ConfigError::new(
                FIELD,
                format!("{scheme}:// requires dangerouslyAllowInsecure"),
            ))
        }
        other => {
            return Err(ConfigError::new(
                FIELD,
                format!("unsupported scheme {other}://; use https://"),
            ))
        }
    };
    if rest.contains('?') || rest.contains('#') || rest.contains('@') {
        return Err(ConfigError::new(
            FIELD,
            "must not carry a query, fragment or credentials",
        ));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(authority)
        .ok_or_else(|| ConfigError::new(FIELD, "has no valid host[:port]"))?;
    let port = port.unwrap_or(if tls { 443 } else { 80 });
    let mut prefix = path.trim_end_matches('/').to_owned();
    // Accept a URL that already names the socket endpoint.
    if let Some(p) = prefix.strip_suffix("/websocket") {
        prefix = p.to_owned();
    }
    Ok(ServerUrl {
        tls,
        host,
        port,
        prefix,
    })
}

fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    if authority.is_empty() {
        return None;
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse().ok()?)),
        None => (authority, None),
    };
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
    valid.then(|| (host.to_owned(), port))
}

// `serialize` too: the schema states each default, which it writes through these.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_lists_the_connection_keys_and_not_the_programmatic_ones() {
        let schema = RocketChatConfig::schema();
        let properties = schema["properties"].as_object().unwrap();
        for key in [
            "serverUrl",
            "userId",
            "username",
            "authToken",
            "timeouts",
            "caFile",
        ] {
            assert!(properties.contains_key(key), "{key}");
        }
        assert!(!properties.contains_key("rooms"));
        assert!(!properties.contains_key("resume"));
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(required, ["serverUrl", "userId", "username", "authToken"]);
    }

    #[test]
    fn a_wrong_typed_value_names_its_field_without_quoting_it() {
        let base = r#""serverUrl":"https://chat.example","userId":"u","username":"b","authToken":"SECRET-TOKEN""#;
        for (extra, field) in [
            (
                r#""revalidateIntervalSeconds":"SECRET-TOKEN""#,
                "revalidateIntervalSeconds",
            ),
            (
                r#""timeouts":{"pongTimeoutMs":"SECRET-TOKEN"}"#,
                "timeouts.pongTimeoutMs",
            ),
            (r#""rooms":[1]"#, "rooms"),
            (
                r#""dangerouslyAllowInsecure":"yes""#,
                "dangerouslyAllowInsecure",
            ),
        ] {
            let err = RocketChatConfig::from_json(&format!("{{{base},{extra}}}")).unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(!err.to_string().contains("SECRET"), "{err}");
        }
        let err = RocketChatConfig::from_json(&format!("{{{base}}} trailing")).unwrap_err();
        assert_eq!(err.field, "config");
    }

    const TOKEN: &str = "Zq7-very-secret-token-value-0123456789abcdef";

    fn json(server: &str, extra: &str) -> String {
        format!(
            r#"{{"serverUrl":"{server}","userId":"bot1","username":"bot","authToken":"{TOKEN}"{extra}}}"#
        )
    }

    #[test]
    fn secret_is_redacted_in_debug_and_display() {
        let s = Secret::new(TOKEN);
        assert!(!format!("{s:?}").contains(TOKEN));
        assert!(!format!("{s}").contains(TOKEN));
        let config = RocketChatConfig::from_json(&json("https://chat.example.com", "")).unwrap();
        assert!(!format!("{config:?}").contains(TOKEN));
        assert!(!format!("{config:#?}").contains(TOKEN));
        assert_eq!(config.auth_token.expose(), TOKEN);
    }

    #[test]
    fn https_loads_with_defaults() {
        let c = RocketChatConfig::from_json(&json("https://chat.example.com/", "")).unwrap();
        assert_eq!(c.revalidate_interval, Duration::from_secs(300));
        assert!(!c.dangerously_allow_insecure);
        let url = c.parsed_url().unwrap();
        assert_eq!(url.http_base(), "https://chat.example.com:443");
        assert_eq!(url.websocket(), "wss://chat.example.com:443/websocket");
    }

    #[test]
    fn http_is_refused_without_the_flag_and_names_the_field() {
        let err = RocketChatConfig::from_json(&json("http://127.0.0.1:3000", "")).unwrap_err();
        assert_eq!(err.field, "serverUrl");
        assert_eq!(
            err.to_string(),
            "serverUrl: http:// requires dangerouslyAllowInsecure"
        );
        let err = RocketChatConfig::from_json(&json("ws://127.0.0.1:3000", "")).unwrap_err();
        assert_eq!(err.field, "serverUrl");
        let ok = RocketChatConfig::from_json(&json(
            "http://127.0.0.1:3000/chat",
            r#","dangerouslyAllowInsecure":true"#,
        ))
        .unwrap();
        let url = ok.parsed_url().unwrap();
        assert_eq!(url.http_base(), "http://127.0.0.1:3000/chat");
        assert_eq!(url.websocket(), "ws://127.0.0.1:3000/chat/websocket");
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases = [
            (json("ftp://x", ""), "serverUrl"),
            (json("https://", ""), "serverUrl"),
            (json("https://a:b:c", ""), "serverUrl"),
            (json("https://u:p@host", ""), "serverUrl"),
            (
                json("https://h", r#","revalidateIntervalSeconds":0"#),
                "revalidateIntervalSeconds",
            ),
            (
                json("https://h", r#","caFile":"/nonexistent/ca.pem""#),
                "caFile",
            ),
            (
                json("https://h", r#","timeouts":{"pongTimeoutMs":0}"#),
                "timeouts.pongTimeoutMs",
            ),
            (
                json(
                    "https://h",
                    r#","timeouts":{"reconnectMinDelayMs":5000,"reconnectMaxDelayMs":10}"#,
                ),
                "timeouts.reconnectMaxDelayMs",
            ),
            (json("https://h", r#","rooms":[""]"#), "rooms"),
        ];
        for (input, field) in cases {
            let err = RocketChatConfig::from_json(&input).unwrap_err();
            assert_eq!(err.field, field, "{input}: {err}");
            assert!(err.to_string().starts_with(field), "{err}");
            assert!(!err.to_string().contains(TOKEN));
        }
        let mut c = RocketChatConfig::new("https://h", "", "bot", Secret::new(TOKEN));
        assert_eq!(c.validate().unwrap_err().field, "userId");
        c.user_id = "u".into();
        c.auth_token = Secret::new("");
        assert_eq!(c.validate().unwrap_err().field, "authToken");
    }

    #[test]
    fn type_errors_never_echo_the_token() {
        // The token given where a bool is expected: serde would quote it.
        let input = format!(
            r#"{{"serverUrl":"https://h","userId":"u","username":"b","authToken":"x","dangerouslyAllowInsecure":"{TOKEN}"}}"#
        );
        let err = RocketChatConfig::from_json(&input).unwrap_err();
        assert!(!err.to_string().contains(TOKEN), "{err}");
        let err = RocketChatConfig::from_json(r#"{"serverUrl":"https://h"}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `userId`"), "{err}");
    }

    #[test]
    fn room_entries_by_id_or_name() {
        let c = RocketChatConfig::from_json(&json(
            "https://h",
            r##","rooms":["GENERAL","#ops",{"id":"abc"},{"name":"dev"}]"##,
        ))
        .unwrap();
        assert_eq!(
            c.rooms,
            vec![
                RoomEntry::Id("GENERAL".into()),
                RoomEntry::Name("ops".into()),
                RoomEntry::Id("abc".into()),
                RoomEntry::Name("dev".into()),
            ]
        );
    }

    #[test]
    fn timeouts_are_read_in_milliseconds() {
        let c = RocketChatConfig::from_json(&json(
            "https://h",
            r#","revalidateIntervalSeconds":2,"timeouts":{"pingAfterSilenceMs":250,"pongTimeoutMs":500}"#,
        ))
        .unwrap();
        assert_eq!(c.revalidate_interval, Duration::from_secs(2));
        assert_eq!(c.timeouts.ping_after_silence, Duration::from_millis(250));
        assert_eq!(c.timeouts.pong, Duration::from_millis(500));
        assert_eq!(c.timeouts.connect, Timeouts::default().connect);
    }
}
