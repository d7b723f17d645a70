//! DDP frames: what we send, and what we make of what arrives. Inbound frames are never
//! logged whole: the login result echoes the token.

use std::time::Duration;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};

use crate::wire::{WireMessage, WireRoom, WireRoomMeta};

/// An inbound DDP frame, reduced to what the session acts on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Inbound {
    Connected,
    /// The server refused our DDP version.
    Failed,
    Ping {
        id: Option<Value>,
    },
    Pong,
    Ready {
        subs: Vec<String>,
    },
    NoSub {
        id: String,
        error: Option<DdpError>,
    },
    Result {
        id: String,
        result: Option<Value>,
        error: Option<DdpError>,
    },
    /// A `stream-room-messages` event, its document and room metadata read straight from
    /// the frame's text into their wire types, without a `Value` tree (this is the
    /// firehose: nearly every frame is one). `doc` is `None` when the document does not
    /// parse (a logged drop); metadata that does not parse is `None`.
    RoomMessage {
        doc: Option<Box<WireMessage>>,
        meta: Option<WireRoomMeta>,
    },
    /// A `stream-notify-user` `<uid>/rooms-changed` or `<uid>/subscriptions-changed`
    /// event (one comes with every message in a room the bot is in), read typed: the
    /// action is `removed` or not, and the room or subscription document (`None` when it
    /// is missing or does not parse, a logged drop).
    RoomChange {
        subscription: bool,
        removed: bool,
        doc: Option<WireRoom>,
    },
    /// A stream event: `collection` is `stream-<name>`, `event` the key, `args` the payload.
    Stream {
        collection: String,
        event: String,
        args: Vec<Value>,
    },
    /// Anything else we do not act on (`added`, `updated`, `removed`, ...).
    Ignored(String),
    /// A protocol `error` frame.
    Error {
        reason: String,
    },
}

/// A DDP error object (`{error, reason, details}`); `error` is a string or a number.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DdpError {
    pub(crate) error: String,
    pub(crate) reason: String,
    pub(crate) time_to_reset: Option<Duration>,
}

impl DdpError {
    fn from_value(v: &Value) -> Self {
        let error = match v.get("error") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => "unknown".to_owned(),
        };
        let reason = v
            .get("reason")
            .or_else(|| v.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let time_to_reset = v
            .pointer("/details/timeToReset")
            .and_then(Value::as_f64)
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map(|ms| Duration::from_millis(ms as u64));
        Self {
            error,
            reason,
            time_to_reset,
        }
    }

    pub(crate) fn is_rate_limit(&self) -> bool {
        self.kind() == DdpErrorKind::RateLimited
    }

    /// What the error's code says, read by code only (never by its text).
    pub(crate) fn kind(&self) -> DdpErrorKind {
        match self.error.as_str() {
            "too-many-requests" => DdpErrorKind::RateLimited,
            // Meteor's answer to a connection whose login is gone: `403` "You've been
            // logged out by the server" (accounts_server.js), and the 401 some servers send.
            "403" | "401" => DdpErrorKind::LoggedOut,
            // Rocket.Chat's refusals for a user who may not do or read this: the streamer's
            // `not-allowed` (streamer.module.ts), `not-authorized`, `error-not-allowed`,
            // `error-action-not-allowed`, and `error-invalid-user` (no user on the
            // connection, section 1.7 of the protocol notes).
            "not-allowed"
            | "not-authorized"
            | "error-not-allowed"
            | "error-action-not-allowed"
            | "error-invalid-user" => DdpErrorKind::Forbidden,
            _ => DdpErrorKind::Other,
        }
    }
}

/// How a DDP error reads, by its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DdpErrorKind {
    /// `too-many-requests`: wait `timeToReset`.
    RateLimited,
    /// The connection's login is gone: the account must stop.
    LoggedOut,
    /// The user may not do or read this. On an account stream (`__my_messages__`, the
    /// user's own notifications) that too means the login is not honoured; on a room's
    /// stream or a method it is a permission refusal.
    Forbidden,
    /// Anything else (a server error, an unknown publication).
    Other,
}

/// Why an inbound frame was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

/// The fast path for the stream events of the firehose (`stream-room-messages`, and the
/// `rooms-changed` / `subscriptions-changed` that come with every message): one pass over
/// the frame, borrowing its strings, reading the payload straight into the wire types as
/// soon as the envelope says what it is (`collection` and `eventName` come before `args`
/// in every frame the server writes). `None` for anything else, and for any frame that is
/// odd in any way (escaped keys, other field orders, a document that does not parse):
/// those take the general parser, with its precise reasons, so the fast path never
/// decides differently from it.
fn fast_stream_event(text: &[u8]) -> Option<Inbound> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let envelope = EnvelopeSeed.deserialize(&mut de).ok()?;
    de.end().ok()?;
    if envelope.msg != Some("changed") {
        return None;
    }
    match envelope.args? {
        Args::Message(doc, meta) => Some(Inbound::RoomMessage {
            doc: Some(doc),
            meta,
        }),
        Args::Room {
            subscription,
            removed,
            doc,
        } => Some(Inbound::RoomChange {
            subscription,
            removed,
            doc: Some(doc),
        }),
    }
}

/// What the fast path read from `fields.args`.
enum Args {
    Message(Box<WireMessage>, Option<WireRoomMeta>),
    Room {
        subscription: bool,
        removed: bool,
        doc: WireRoom,
    },
}

/// The envelope: `msg`, `collection` and, when the collection (seen before `fields`) is
/// one of the firehose's, the typed `args`.
struct Envelope<'a> {
    msg: Option<&'a str>,
    args: Option<Args>,
}

struct EnvelopeSeed;

impl<'de> DeserializeSeed<'de> for EnvelopeSeed {
    type Value = Envelope<'de>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed {
    type Value = Envelope<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a DDP frame")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let mut msg = None;
        let mut collection: Option<&'de str> = None;
        let mut args = None;
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "msg" if msg.is_none() => msg = Some(map.next_value::<&'de str>()?),
                "collection" if collection.is_none() => {
                    collection = Some(map.next_value::<&'de str>()?);
                }
                "fields" if args.is_none() => {
                    let Some(collection) = collection else {
                        return Err(A::Error::custom("fields before collection"));
                    };
                    args = Some(map.next_value_seed(FieldsSeed { collection })?);
                }
                "msg" | "collection" | "fields" => {
                    return Err(A::Error::custom("duplicate key"));
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Envelope {
            msg,
            args: args.ok_or_else(|| A::Error::custom("no fields"))?,
        })
    }
}

/// `fields` of a `changed` frame of `collection`: `Some` typed args for the firehose's
/// events, `None` (args skipped) for any other.
struct FieldsSeed<'a> {
    collection: &'a str,
}

impl<'de> DeserializeSeed<'de> for FieldsSeed<'_> {
    type Value = Option<Args>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldsSeed<'_> {
    type Value = Option<Args>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a stream event's fields")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let mut event: Option<&'de str> = None;
        let mut args = None;
        let mut seen_args = false;
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "eventName" if event.is_none() => event = Some(map.next_value::<&'de str>()?),
                "args" if !seen_args => {
                    seen_args = true;
                    let Some(event) = event else {
                        return Err(A::Error::custom("args before eventName"));
                    };
                    args = match self.collection {
                        "stream-room-messages" => {
                            let (doc, meta) = map.next_value_seed(MessageArgs)?;
                            Some(Args::Message(doc, meta))
                        }
                        "stream-notify-user" => match event.rsplit('/').next() {
                            Some(which @ ("rooms-changed" | "subscriptions-changed")) => {
                                let (removed, doc) = map.next_value_seed(RoomArgs)?;
                                Some(Args::Room {
                                    subscription: which == "subscriptions-changed",
                                    removed,
                                    doc,
                                })
                            }
                            _ => return Err(A::Error::custom("not a room change")),
                        },
                        _ => return Err(A::Error::custom("not a firehose stream")),
                    };
                }
                "eventName" | "args" => return Err(A::Error::custom("duplicate key")),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if event.is_none() {
            return Err(A::Error::custom("no eventName"));
        }
        Ok(args)
    }
}

/// `[document, roomMeta?, ...]` of a message event.
struct MessageArgs;

impl<'de> DeserializeSeed<'de> for MessageArgs {
    type Value = (Box<WireMessage>, Option<WireRoomMeta>);
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for MessageArgs {
    type Value = (Box<WireMessage>, Option<WireRoomMeta>);
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a message event's args")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let doc: Box<WireMessage> = seq
            .next_element()?
            .ok_or_else(|| A::Error::custom("no document"))?;
        let meta = seq.next_element::<WireRoomMeta>()?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok((doc, meta))
    }
}

/// `[action, document, ...]` of a room or subscription change.
struct RoomArgs;

impl<'de> DeserializeSeed<'de> for RoomArgs {
    type Value = (bool, WireRoom);
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RoomArgs {
    type Value = (bool, WireRoom);
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a room change's args")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let action: &'de str = seq
            .next_element()?
            .ok_or_else(|| A::Error::custom("no action"))?;
        let doc: WireRoom = seq
            .next_element()?
            .ok_or_else(|| A::Error::custom("no document"))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok((action == "removed", doc))
    }
}

/// Parses one text frame.
pub(crate) fn parse(text: &[u8]) -> Result<Inbound, Malformed> {
    if let Some(event) = fast_stream_event(text) {
        return Ok(event);
    }
    parse_slow(text)
}

/// The general parser: a `Value` tree, then the frame's meaning, with a reason for every
/// frame it drops.
fn parse_slow(text: &[u8]) -> Result<Inbound, Malformed> {
    let mut v: Value = serde_json::from_slice(text).map_err(|_| Malformed("not JSON"))?;
    let msg = v
        .get("msg")
        .and_then(Value::as_str)
        .ok_or(Malformed("no msg field"))?;
    let string = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let error = || {
        v.get("error")
            .filter(|e| !e.is_null())
            .map(DdpError::from_value)
    };
    Ok(match msg {
        "connected" => Inbound::Connected,
        "failed" => Inbound::Failed,
        "ping" => Inbound::Ping {
            id: v.get("id").cloned(),
        },
        "pong" => Inbound::Pong,
        "ready" => Inbound::Ready {
            subs: v
                .get("subs")
                .and_then(Value::as_array)
                .ok_or(Malformed("ready without subs"))?
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
        },
        "nosub" => Inbound::NoSub {
            id: string("id").ok_or(Malformed("nosub without id"))?,
            error: error(),
        },
        "result" => Inbound::Result {
            id: string("id").ok_or(Malformed("result without id"))?,
            result: v.get("result").cloned(),
            error: error(),
        },
        "changed" => {
            let collection = string("collection").ok_or(Malformed("changed without collection"))?;
            if !collection.starts_with("stream-") {
                return Ok(Inbound::Ignored(format!("changed {collection}")));
            }
            let fields = v.get("fields").ok_or(Malformed("changed without fields"))?;
            let event = fields
                .get("eventName")
                .and_then(Value::as_str)
                .ok_or(Malformed("stream event without eventName"))?
                .to_owned();
            // Moved out, not cloned: the documents are the bulk of the frame.
            let args = match v.pointer_mut("/fields/args").map(Value::take) {
                Some(Value::Array(args)) => args,
                _ => return Err(Malformed("stream event without args")),
            };
            if collection == "stream-room-messages" {
                // The odd forms the fast path leaves (escapes, field order, a document
                // that does not parse, ...): the same shape, so the session has one way in
                // for messages.
                let mut args = args.into_iter();
                let doc = args
                    .next()
                    .ok_or(Malformed("message event without a document"))?;
                let doc = match serde_json::from_value::<WireMessage>(doc) {
                    Ok(doc) => Some(Box::new(doc)),
                    Err(e) => {
                        tracing::debug!(error = %e, "dropping a message frame that does not parse");
                        None
                    }
                };
                return Ok(Inbound::RoomMessage {
                    doc,
                    meta: args
                        .next()
                        .and_then(|m| serde_json::from_value::<WireRoomMeta>(m).ok()),
                });
            }
            if collection == "stream-notify-user" {
                if let which @ ("subscriptions-changed" | "rooms-changed") =
                    event.rsplit('/').next().unwrap_or("")
                {
                    return Ok(room_change(which == "subscriptions-changed", args));
                }
            }
            Inbound::Stream {
                collection,
                event,
                args,
            }
        }
        "error" => Inbound::Error {
            reason: string("reason").unwrap_or_default(),
        },
        other => Inbound::Ignored(other.to_owned()),
    })
}

/// A room or subscription change from the general parser (the fast path reads the same
/// shape typed).
fn room_change(subscription: bool, mut args: Vec<Value>) -> Inbound {
    let removed = args.first().and_then(Value::as_str) == Some("removed");
    let doc = match args.get_mut(1).map(Value::take) {
        Some(doc) => match serde_json::from_value::<WireRoom>(doc) {
            Ok(doc) => Some(doc),
            Err(e) => {
                tracing::debug!(error = %e, "dropping a room change that does not parse");
                None
            }
        },
        None => None,
    };
    Inbound::RoomChange {
        subscription,
        removed,
        doc,
    }
}

pub(crate) fn connect() -> Value {
    json!({"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]})
}

pub(crate) fn pong(id: Option<Value>) -> Value {
    match id {
        Some(id) => json!({"msg": "pong", "id": id}),
        None => json!({"msg": "pong"}),
    }
}

pub(crate) fn ping(id: &str) -> Value {
    json!({"msg": "ping", "id": id})
}

pub(crate) fn method(id: &str, name: &str, params: Value) -> Value {
    json!({"msg": "method", "id": id, "method": name, "params": params})
}

/// A stream subscription in the form the official SDK sends.
pub(crate) fn sub(id: &str, stream: &str, key: &str) -> Value {
    json!({"msg": "sub", "id": id, "name": stream,
           "params": [key, {"useCollection": false, "args": []}]})
}

pub(crate) fn unsub(id: &str) -> Value {
    json!({"msg": "unsub", "id": id})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stream_events() {
        let f = br#"{"msg":"changed","collection":"stream-notify-room","id":"id",
            "fields":{"eventName":"r1/deleteMessage","args":[{"_id":"m"}]}}"#;
        match parse(f).unwrap() {
            Inbound::Stream {
                collection,
                event,
                args,
            } => {
                assert_eq!(collection, "stream-notify-room");
                assert_eq!(event, "r1/deleteMessage");
                assert_eq!(args.len(), 1);
            }
            other => panic!("{other:?}"),
        }
    }

    fn message_of(f: &[u8]) -> (Option<Box<WireMessage>>, Option<WireRoomMeta>) {
        match parse(f).unwrap() {
            Inbound::RoomMessage { doc, meta } => (doc, meta),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn room_messages_are_read_into_their_wire_types() {
        let f = br#"{"msg":"changed","collection":"stream-room-messages","id":"id",
            "fields":{"eventName":"__my_messages__","args":[{"_id":"m","rid":"R","u":{"_id":"a"},"msg":"a \"q\""},{"roomType":"c"}]}}"#;
        let (doc, meta) = message_of(f);
        let doc = doc.unwrap();
        assert_eq!((doc.id.as_str(), doc.msg.as_deref()), ("m", Some(r#"a "q""#)));
        assert_eq!(meta.unwrap().room_type.as_deref(), Some("c"));
        // The fast path and the general one read the same.
        assert_eq!(fast_stream_event(f), Some(parse_general(f)));
        // Odd room-message frames take the general path, with its reasons.
        let no_args = br#"{"msg":"changed","collection":"stream-room-messages","fields":{"eventName":"e","args":[]}}"#;
        assert_eq!(
            parse(no_args),
            Err(Malformed("message event without a document"))
        );
        let escaped = br#"{"msg":"ch\u0061nged","collection":"stream-room-messages","fields":{"eventName":"e","args":[{"_id":"m","rid":"R","u":{"_id":"a"}},{"roomType":"c"}]}}"#;
        assert!(fast_stream_event(escaped).is_none());
        let (doc, meta) = message_of(escaped);
        assert_eq!(doc.unwrap().id, "m");
        assert_eq!(meta.unwrap().room_type.as_deref(), Some("c"));
        // A document that does not parse is a logged drop; odd metadata is left out.
        let (doc, _) = message_of(
            br#"{"msg":"changed","collection":"stream-room-messages","fields":{"eventName":"e","args":[{"_id":5}]}}"#,
        );
        assert!(doc.is_none());
        let (doc, meta) = message_of(
            br#"{"msg":"changed","collection":"stream-room-messages","fields":{"eventName":"e","args":[{"_id":"m","rid":"R","u":{"_id":"a"}},{"roomType":7}]}}"#,
        );
        assert!(doc.is_some() && meta.is_none());
        let no_event =
            br#"{"msg":"changed","collection":"stream-room-messages","fields":{"args":[{}]}}"#;
        assert_eq!(
            parse(no_event),
            Err(Malformed("stream event without eventName"))
        );
        let bad_args = br#"{"msg":"changed","collection":"stream-room-messages","fields":{"eventName":"e","args":7}}"#;
        assert_eq!(parse(bad_args), Err(Malformed("stream event without args")));
        // Trailing bytes after the frame are not JSON.
        let trailing = br#"{"msg":"changed","collection":"stream-room-messages","fields":{"eventName":"e","args":[{"_id":"m","rid":"R","u":{"_id":"a"}}]}} x"#;
        assert_eq!(parse(trailing), Err(Malformed("not JSON")));
    }

    #[test]
    fn room_changes_are_read_typed_on_both_paths() {
        let f = br#"{"msg":"changed","collection":"stream-notify-user","id":"id","fields":{"eventName":"u/rooms-changed","args":["updated",{"_id":"R","t":"c","name":"general","lastMessage":{"_id":"m","msg":"x","u":{"_id":"a"}},"usernames":["a","b"]}]}}"#;
        let fast = fast_stream_event(f).unwrap();
        assert_eq!(fast, parse_general(f));
        match fast {
            Inbound::RoomChange {
                subscription: false,
                removed: false,
                doc: Some(doc),
            } => {
                assert_eq!((doc.id.as_str(), doc.name.as_deref()), ("R", Some("general")));
                assert_eq!(doc.members(), Some(2));
            }
            other => panic!("{other:?}"),
        }
        let removed = br#"{"msg":"changed","collection":"stream-notify-user","id":"id","fields":{"eventName":"u/subscriptions-changed","args":["removed",{"_id":"s","rid":"R"}]}}"#;
        assert_eq!(fast_stream_event(removed), Some(parse_general(removed)));
        assert!(matches!(
            parse(removed).unwrap(),
            Inbound::RoomChange {
                subscription: true,
                removed: true,
                doc: Some(_)
            }
        ));
        // Odd ones: the general path, the same answers as before.
        let no_doc = br#"{"msg":"changed","collection":"stream-notify-user","id":"id","fields":{"eventName":"u/rooms-changed","args":["updated"]}}"#;
        assert!(matches!(
            parse(no_doc).unwrap(),
            Inbound::RoomChange { doc: None, .. }
        ));
        let bad_doc = br#"{"msg":"changed","collection":"stream-notify-user","id":"id","fields":{"eventName":"u/rooms-changed","args":["updated",{"t":"c"}]}}"#;
        assert!(matches!(
            parse(bad_doc).unwrap(),
            Inbound::RoomChange { doc: None, .. }
        ));
        let other = br#"{"msg":"changed","collection":"stream-notify-user","id":"id","fields":{"eventName":"u/message","args":[{}]}}"#;
        assert!(fast_stream_event(other).is_none());
        assert!(matches!(parse(other).unwrap(), Inbound::Stream { .. }));
    }

    /// The general parser alone (what the fast path must agree with).
    fn parse_general(f: &[u8]) -> Inbound {
        parse_slow(f).unwrap()
    }

    #[test]
    fn parses_errors_with_numeric_codes_and_time_to_reset() {
        let f = br#"{"msg":"result","id":"1","error":{"error":403,"reason":"You've been logged out by the server. Please log in again."}}"#;
        let Inbound::Result { error: Some(e), .. } = parse(f).unwrap() else {
            panic!()
        };
        assert_eq!(e.error, "403");
        let f = br#"{"msg":"nosub","id":"s1","error":{"error":"too-many-requests","reason":"slow down","details":{"timeToReset":1500}}}"#;
        let Inbound::NoSub { error: Some(e), .. } = parse(f).unwrap() else {
            panic!()
        };
        assert!(e.is_rate_limit());
        assert_eq!(e.time_to_reset, Some(Duration::from_millis(1500)));
        let f = br#"{"msg":"nosub","id":"s1"}"#;
        assert_eq!(
            parse(f).unwrap(),
            Inbound::NoSub {
                id: "s1".into(),
                error: None
            }
        );
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        for bad in [
            &b"not json"[..],
            br#"{"no":"msg"}"#,
            br#"{"msg":"ready"}"#,
            br#"{"msg":"result"}"#,
            br#"{"msg":"changed","collection":"stream-x","fields":{"args":[]}}"#,
            br#"[1,2]"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(matches!(
            parse(br#"{"msg":"whatever"}"#),
            Ok(Inbound::Ignored(_))
        ));
        assert_eq!(
            parse(br#"{"msg":"ping","id":"x"}"#).unwrap(),
            Inbound::Ping {
                id: Some(json!("x"))
            }
        );
    }
}
