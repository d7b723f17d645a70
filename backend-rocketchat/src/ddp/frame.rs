//! DDP frames: what we send, and what we make of what arrives. Inbound frames are never
//! logged whole: the login result echoes the token.

use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

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
    /// A `stream-room-messages` event, left as the frame's JSON text: the message document
    /// and its room metadata are read straight into their wire types, without building a
    /// `Value` tree first (this is the firehose: nearly every frame is one).
    RoomMessage {
        doc: String,
        meta: Option<String>,
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

/// A `changed` frame's envelope, borrowed from the frame: fields stay raw JSON until we
/// know what they are, so an odd frame falls back to the general parser and its precise
/// reasons.
#[derive(Deserialize)]
struct Changed<'a> {
    #[serde(borrow)]
    msg: Option<&'a RawValue>,
    #[serde(borrow, default)]
    collection: Option<&'a RawValue>,
    #[serde(borrow, default)]
    fields: Option<ChangedFields<'a>>,
}

#[derive(Deserialize)]
struct ChangedFields<'a> {
    #[serde(rename = "eventName", borrow, default)]
    event_name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    args: Option<Vec<&'a RawValue>>,
}

/// The fast path for `stream-room-messages`: `Some` only for a well-formed message event
/// with at least a document; everything else goes through the general parser.
fn room_message(text: &[u8]) -> Option<Inbound> {
    let frame: Changed<'_> = serde_json::from_slice(text).ok()?;
    if frame.msg?.get() != r#""changed""# || frame.collection?.get() != r#""stream-room-messages""# {
        return None;
    }
    let fields = frame.fields?;
    // The event name (`__my_messages__` or a room id) is not needed, but must be a string.
    if !fields.event_name?.get().starts_with('"') {
        return None;
    }
    let mut args = fields.args?.into_iter();
    let doc = args.next()?.get().to_owned();
    let meta = args.next().map(|m| m.get().to_owned());
    Some(Inbound::RoomMessage { doc, meta })
}

/// Parses one text frame.
pub(crate) fn parse(text: &[u8]) -> Result<Inbound, Malformed> {
    if let Some(message) = room_message(text) {
        return Ok(message);
    }
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
                // The odd forms the fast path leaves (escapes, field order, ...): the same
                // shape, so the session has one way in for messages.
                let mut args = args.into_iter();
                let doc = args
                    .next()
                    .ok_or(Malformed("message event without a document"))?;
                return Ok(Inbound::RoomMessage {
                    doc: doc.to_string(),
                    meta: args.next().map(|m| m.to_string()),
                });
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

    #[test]
    fn room_messages_keep_their_document_as_json_text() {
        let f = br#"{"msg":"changed","collection":"stream-room-messages","id":"id",
            "fields":{"eventName":"__my_messages__","args":[{"_id":"m","msg":"a \"q\""},{"roomType":"c"}]}}"#;
        match parse(f).unwrap() {
            Inbound::RoomMessage { doc, meta } => {
                assert_eq!(doc, r#"{"_id":"m","msg":"a \"q\""}"#);
                assert_eq!(meta.as_deref(), Some(r#"{"roomType":"c"}"#));
            }
            other => panic!("{other:?}"),
        }
        // Odd room-message frames take the general path, with its reasons.
        let no_args = br#"{"msg":"changed","collection":"stream-room-messages","fields":{"eventName":"e","args":[]}}"#;
        assert_eq!(
            parse(no_args),
            Err(Malformed("message event without a document"))
        );
        let escaped = br#"{"msg":"ch\u0061nged","collection":"stream-room-messages","fields":{"eventName":"e","args":[{"_id":"m"},{"roomType":"c"}]}}"#;
        assert_eq!(
            parse(escaped),
            Ok(Inbound::RoomMessage {
                doc: r#"{"_id":"m"}"#.into(),
                meta: Some(r#"{"roomType":"c"}"#.into())
            })
        );
        let no_event =
            br#"{"msg":"changed","collection":"stream-room-messages","fields":{"args":[{}]}}"#;
        assert_eq!(
            parse(no_event),
            Err(Malformed("stream event without eventName"))
        );
        let bad_args = br#"{"msg":"changed","collection":"stream-room-messages","fields":{"eventName":"e","args":7}}"#;
        assert_eq!(parse(bad_args), Err(Malformed("stream event without args")));
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
