//! Serde types for the parts of Rocket.Chat's payloads the bot reads. Lenient on purpose:
//! every optional field may be missing, and unknown fields are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A date as Rocket.Chat sends it: EJSON `{"$date": ms}` over DDP, an ISO-8601 string over
/// REST, and a bare number in a few REST responses.
///
/// Read by hand rather than `#[serde(untagged)]`, which buffers every date of every message
/// into a generic tree before trying each form; the forms are the same: an object (its
/// `$date`, or none), a number, a string.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WireDate {
    Ejson { date: Option<serde_json::Value> },
    Millis(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for WireDate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor;
        impl<'de> serde::de::Visitor<'de> for DateVisitor {
            type Value = WireDate;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a date: {\"$date\": ...}, a number or a string")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<WireDate, A::Error> {
                let mut date = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "$date" {
                        if date.is_some() {
                            return Err(serde::de::Error::duplicate_field("$date"));
                        }
                        date = Some(map.next_value::<serde_json::Value>()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                // `{"$date": null}` is an object without a date, as before.
                Ok(WireDate::Ejson {
                    date: date.filter(|d| !d.is_null()),
                })
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<WireDate, E> {
                Ok(WireDate::Millis(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<WireDate, E> {
                Ok(WireDate::Millis(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<WireDate, E> {
                Ok(WireDate::Millis(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WireDate, E> {
                Ok(WireDate::Text(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<WireDate, E> {
                Ok(WireDate::Text(v))
            }
        }
        deserializer.deserialize_any(DateVisitor)
    }
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
    /// `IMessage.bot`: set on automated posts. The integrations API stamps incoming
    /// webhooks with `bot: { i: <integrationId> }`, and Rocket.Chat's JS SDK (hubot-
    /// rocketchat) sends `bot: { i: 'js.SDK' }` on every message (Rocket.Chat's own API
    /// test "should accept message sent by js.SDK", apps/meteor/tests/end-to-end/api/
    /// methods.ts; `processWebhookMessage` passes it through, apps/meteor/app/lib/server/
    /// functions/processWebhookMessage.ts). Raw: only its presence is read.
    #[serde(default)]
    pub(crate) bot: Option<serde_json::Value>,
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
    /// A direct room's members (ids, and usernames), on rooms (`IDirectMessageRoom`).
    #[serde(default)]
    pub(crate) uids: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) usernames: Option<Vec<String>>,
}

impl WireRoom {
    /// How many members a direct room has, when the document says (`uids`, else
    /// `usernames`).
    pub(crate) fn members(&self) -> Option<usize> {
        self.uids.as_ref().or(self.usernames.as_ref()).map(Vec::len)
    }
}

/// An element of a list read on its own: one that does not parse is `None` (logged), so
/// an odd document never fails the whole answer.
#[derive(Debug)]
pub(crate) struct Lenient<T>(pub(crate) Option<T>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        match serde_json::from_str(raw.get()) {
            Ok(value) => Ok(Lenient(Some(value))),
            Err(e) => {
                tracing::debug!(error = %e, "dropping a document that does not parse");
                Ok(Lenient(None))
            }
        }
    }
}

/// A deletion in `chat.syncMessages` (`{_id, _deletedAt}` from the trash).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct WireDeleted {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    #[serde(rename = "_deletedAt", default)]
    pub(crate) deleted_at: Option<WireDate>,
}

/// The answer of `chat.syncMessages` (apps/meteor/app/api/server/v1/chat.ts).
#[derive(Debug, Deserialize)]
pub(crate) struct WireSyncAnswer {
    pub(crate) result: WireSyncResult,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireSyncResult {
    #[serde(default)]
    pub(crate) updated: Vec<Lenient<WireMessage>>,
    #[serde(default)]
    pub(crate) deleted: Vec<Lenient<WireDeleted>>,
    /// Only in the cursor mode.
    #[serde(default)]
    pub(crate) cursor: Option<WireCursor>,
}

/// The cursors of a `chat.syncMessages` page (epoch ms as strings; null at the end).
#[derive(Debug, Deserialize)]
pub(crate) struct WireCursor {
    #[serde(default)]
    pub(crate) next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_in_every_form() {
        let read = |text: &str| serde_json::from_str::<WireDate>(text).map(|d| d.millis());
        assert_eq!(read(r#"{"$date": 1500}"#).unwrap(), Some(1500));
        assert_eq!(read(r#"{"x": 1, "$date": 1500.7}"#).unwrap(), Some(1500));
        assert_eq!(
            read(r#"{"$date": "2026-01-02T03:04:05.678Z"}"#).unwrap(),
            Some(1_767_323_045_678)
        );
        assert_eq!(read(r#"{"$date": null}"#).unwrap(), None);
        assert_eq!(read(r#"{}"#).unwrap(), None);
        assert_eq!(read("1500").unwrap(), Some(1500));
        assert_eq!(read("-5").unwrap(), Some(-5));
        assert_eq!(
            read(r#""2026-01-02T03:04:05.678Z""#).unwrap(),
            Some(1_767_323_045_678)
        );
        assert_eq!(read(r#""1500""#).unwrap(), Some(1500));
        assert!(read("true").is_err() && read("[1]").is_err());
        // From a `Value` too (REST pages are read through one at times).
        let v = serde_json::json!({"$date": 7});
        assert_eq!(
            serde_json::from_value::<WireDate>(v).unwrap().millis(),
            Some(7)
        );
    }

    #[test]
    fn a_sync_page_keeps_the_documents_that_parse_and_its_cursor() {
        let answer: WireSyncAnswer = serde_json::from_str(
            r#"{"result":{"updated":[
                {"_id":"m1","rid":"R","u":{"_id":"a","username":"a"},"_updatedAt":"2026-01-02T03:04:05.678Z"},
                {"_id":5},
                {"_id":"m2","rid":"R","u":{"_id":"a","username":"a"}}],
              "deleted":[{"_id":"d1","_deletedAt":"2026-01-02T03:04:05.000Z"},{"x":1}],
              "cursor":{"next":"1767323045678","previous":null}},"success":true}"#,
        )
        .unwrap();
        let updated: Vec<String> = answer
            .result
            .updated
            .into_iter()
            .filter_map(|d| d.0.map(|d| d.id))
            .collect();
        assert_eq!(updated, ["m1", "m2"]);
        let deleted: Vec<_> = answer
            .result
            .deleted
            .into_iter()
            .filter_map(|d| d.0)
            .collect();
        assert_eq!(deleted.len(), 1);
        assert_eq!(
            deleted[0].deleted_at.as_ref().and_then(WireDate::millis),
            Some(1_767_323_045_000)
        );
        assert_eq!(
            answer.result.cursor.and_then(|c| c.next).as_deref(),
            Some("1767323045678")
        );
    }
}
