//! Serde types for the parts of Rocket.Chat's payloads the bot reads. Lenient on purpose:
//! every optional field may be missing, and unknown fields are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A date as Rocket.Chat sends it: EJSON `{"$date": ms}` over DDP, an ISO-8601 string over
/// REST, and a bare number in a few REST responses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub(crate) enum WireDate {
    Ejson {
        #[serde(rename = "$date")]
        date: Option<serde_json::Value>,
    },
    Millis(f64),
    Text(String),
}

impl WireDate {
    /// Milliseconds since the epoch, when the value is a readable date.
    pub(crate) fn millis(&self) -> Option<i64> {
        match self {
            WireDate::Ejson { date } => match date.as_ref()? {
                serde_json::Value::Number(n) => n.as_f64().map(|f| f as i64),
                serde_json::Value::String(s) => parse_iso(s),
                _ => None,
            },
            WireDate::Millis(f) => Some(*f as i64),
            WireDate::Text(s) => parse_iso(s).or_else(|| s.parse().ok()),
        }
    }
}

/// Parses `2026-01-02T03:04:05.678Z` into epoch milliseconds.
pub(crate) fn parse_iso(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Formats epoch milliseconds as ISO-8601 UTC with milliseconds, as REST expects.
pub(crate) fn format_iso(millis: i64) -> String {
    let nanos = i128::from(millis) * 1_000_000;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// The sender (`u`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct WireUser {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// One entry of `mentions`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct WireMention {
    #[serde(rename = "_id", default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(rename = "type", default)]
    pub(crate) kind: Option<String>,
}

/// One emoji's entry in `reactions`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct WireReaction {
    #[serde(default)]
    pub(crate) usernames: Vec<String>,
}

/// A message document (`IMessage`), as much of it as the bot needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct WireMessage {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    pub(crate) rid: String,
    #[serde(default)]
    pub(crate) msg: Option<String>,
    #[serde(default)]
    pub(crate) ts: Option<WireDate>,
    pub(crate) u: WireUser,
    #[serde(rename = "_updatedAt", default)]
    pub(crate) updated_at: Option<WireDate>,
    #[serde(default)]
    pub(crate) t: Option<String>,
    #[serde(default)]
    pub(crate) tmid: Option<String>,
    /// On a thread root: ids of the users who replied (plus the root's author).
    #[serde(default)]
    pub(crate) replies: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) mentions: Option<Vec<WireMention>>,
    #[serde(default)]
    pub(crate) reactions: Option<BTreeMap<String, WireReaction>>,
    #[serde(rename = "editedAt", default)]
    pub(crate) edited_at: Option<WireDate>,
    #[serde(rename = "_hidden", default)]
    pub(crate) hidden: Option<bool>,
    #[serde(default)]
    pub(crate) imported: Option<bool>,
    #[serde(rename = "private", default)]
    pub(crate) ephemeral: Option<bool>,
    /// Uploaded files (`files[]`, and `file`, the first of them, on older documents). Kept
    /// as raw JSON and read field by field, so an odd entry never drops the message.
    #[serde(default)]
    pub(crate) files: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) file: Option<serde_json::Value>,
    /// Message attachments (file cards, quotes, link previews); raw for the same reason.
    #[serde(default)]
    pub(crate) attachments: Option<serde_json::Value>,
}

/// The second argument of a `__my_messages__` event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireRoomMeta {
    #[serde(default)]
    pub(crate) room_participant: Option<bool>,
    #[serde(default)]
    pub(crate) room_type: Option<String>,
    #[serde(default)]
    pub(crate) room_name: Option<String>,
}

/// A room (`IRoom`) or a subscription (`ISubscription`), as far as the bot cares.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct WireRoom {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) t: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// Present on subscriptions: the room id.
    #[serde(default)]
    pub(crate) rid: Option<String>,
}
