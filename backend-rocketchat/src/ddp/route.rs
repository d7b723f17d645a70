//! What one inbound frame asks of the session: the routing of a parsed [`Inbound`],
//! without IO. The session carries out the [`Route`] (answers pings, ends
//! subscriptions, maps documents after its lookups, follows room changes); the fuzz
//! entry points (`crate::fuzzing`) run this same function on untrusted bytes, so what
//! they exercise is the session's routing, not a copy of it.

use serde_json::Value;

use super::frame::{DdpError, Inbound};
use crate::mapping::{Mapper, RoomMeta};
use crate::wire::{WireMessage, WireRoom, WireRoomMeta};

/// What a frame asks for.
// A route lives for one frame, on the stack; boxing the message would cost an allocation
// per message on the firehose.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Route {
    /// Answer the server's ping (echoing its id).
    Pong(Option<Value>),
    /// Nothing to do (connected, ready, pong, frames not acted on, logged drops).
    Nothing,
    /// The server refused our DDP version.
    Failed,
    /// A subscription ended (refused, or answered our `unsub`).
    SubEnded { id: String, error: Option<DdpError> },
    /// A method's answer.
    Answer {
        id: String,
        result: Option<Value>,
        error: Option<DdpError>,
    },
    /// A message document to map (`stream-room-messages`).
    Message {
        doc: WireMessage,
        meta: Option<WireRoomMeta>,
    },
    /// A hard delete (`stream-notify-room` `<rid>/deleteMessage`).
    Deleted { rid: String, id: String },
    /// One of the bot's rooms or subscriptions changed (`stream-notify-user`).
    RoomChanged(RoomChange),
}

/// A `rooms-changed` or `subscriptions-changed` event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RoomChange {
    /// `subscriptions-changed` (else `rooms-changed`).
    pub(crate) subscription: bool,
    /// The action was `removed`.
    pub(crate) removed: bool,
    /// The room: a subscription names it in `rid`, a room is its own `_id`.
    pub(crate) rid: String,
    /// The document (a subscription's `name` of a DM is the other user's username).
    pub(crate) doc: WireRoom,
}

/// What the session does about a room's delete subscription after a room change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    /// The bot is in the room: hear its deletes.
    Subscribe,
    /// The bot left the room: stop.
    Unsubscribe,
    /// Nothing changes.
    Nothing,
}

/// The mapper's part of a room change, and what it means for the room's delete
/// subscription (shared by the session and the fuzz entry): a removed subscription
/// forgets the room; a change that names the room's type notes its kind and name.
pub(crate) fn follow_room_change(mapper: &mut Mapper, change: &RoomChange) -> Follow {
    if change.removed {
        if !change.subscription {
            return Follow::Nothing;
        }
        mapper.forget_room(&change.rid);
        return Follow::Unsubscribe;
    }
    let doc = &change.doc;
    let kind = doc
        .t
        .as_deref()
        .and_then(|t| mapper.room_kind_of(&change.rid, t, doc.members()));
    if let Some(kind) = kind {
        // A subscription's `name` of a DM is the other user, not the room's name.
        let own_name = !(change.subscription && kind.is_direct());
        let given = change.doc.name.as_ref().filter(|_| own_name);
        let known = mapper.room(&change.rid);
        // One comes with every message: store the room's facts only when they change.
        let unchanged =
            known.is_some_and(|m| m.kind == kind && (given.is_none() || m.name.as_ref() == given));
        if !unchanged {
            let name = given
                .cloned()
                .or_else(|| known.and_then(|m| m.name.clone()));
            mapper.note_room(&change.rid, RoomMeta { kind, name });
        }
    }
    Follow::Subscribe
}

/// Routes one parsed frame.
pub(crate) fn route(inbound: Inbound) -> Route {
    match inbound {
        Inbound::Ping { id } => Route::Pong(id),
        Inbound::Pong | Inbound::Connected | Inbound::Ready { .. } => Route::Nothing,
        Inbound::Failed => Route::Failed,
        Inbound::Ignored(kind) => {
            tracing::trace!(%kind, "ignored frame");
            Route::Nothing
        }
        Inbound::Error { reason } => {
            tracing::warn!(%reason, "DDP error frame");
            Route::Nothing
        }
        Inbound::NoSub { id, error } => Route::SubEnded { id, error },
        Inbound::Result { id, result, error } => Route::Answer { id, result, error },
        Inbound::RoomMessage { doc, meta } => match doc {
            Some(doc) => Route::Message { doc: *doc, meta },
            None => Route::Nothing,
        },
        Inbound::RoomChange {
            subscription,
            removed,
            doc,
        } => match doc {
            Some(doc) => room_change(subscription, removed, doc),
            None => Route::Nothing,
        },
        Inbound::Stream {
            collection,
            event,
            args,
        } => stream_event(&collection, &event, args),
    }
}

fn stream_event(collection: &str, event: &str, args: Vec<Value>) -> Route {
    match collection {
        "stream-notify-room" => {
            let Some(rid) = event.strip_suffix("/deleteMessage") else {
                tracing::trace!(%event, "ignored room event");
                return Route::Nothing;
            };
            match args
                .first()
                .and_then(|a| a.get("_id"))
                .and_then(Value::as_str)
            {
                Some(id) => Route::Deleted {
                    rid: rid.to_owned(),
                    id: id.to_owned(),
                },
                None => {
                    tracing::debug!("dropping a deleteMessage without _id");
                    Route::Nothing
                }
            }
        }
        // `rooms-changed` and `subscriptions-changed` are `Inbound::RoomChange`.
        "stream-notify-user" => match event.rsplit('/').next().unwrap_or("") {
            "message" => {
                tracing::info!("the server sent the bot an ephemeral notice");
                Route::Nothing
            }
            _ => {
                tracing::trace!(%event, "ignored user event");
                Route::Nothing
            }
        },
        other => {
            tracing::trace!(collection = other, "ignored stream");
            Route::Nothing
        }
    }
}

fn room_change(subscription: bool, removed: bool, doc: WireRoom) -> Route {
    let rid = if subscription {
        doc.rid.clone()
    } else {
        Some(doc.id.clone())
    };
    match rid {
        Some(rid) => Route::RoomChanged(RoomChange {
            subscription,
            removed,
            rid,
            doc,
        }),
        None => Route::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddp::frame::parse;

    fn route_of(frame: &str) -> Route {
        route(parse(frame.as_bytes()).unwrap())
    }

    #[test]
    fn frames_route_to_what_they_ask_for() {
        assert!(matches!(
            route_of(r#"{"msg":"ping","id":"7"}"#),
            Route::Pong(Some(_))
        ));
        let message = route_of(
            r#"{"msg":"changed","collection":"stream-room-messages","id":"id","fields":{"eventName":"__my_messages__","args":[{"_id":"m","rid":"R","u":{"_id":"a"}},{"roomType":"c"}]}}"#,
        );
        assert!(
            matches!(&message, Route::Message { doc, meta: Some(_) } if doc.id == "m"),
            "{message:?}"
        );
        let deleted = route_of(
            r#"{"msg":"changed","collection":"stream-notify-room","id":"id","fields":{"eventName":"R/deleteMessage","args":[{"_id":"m"}]}}"#,
        );
        assert!(
            matches!(&deleted, Route::Deleted { rid, id } if rid == "R" && id == "m"),
            "{deleted:?}"
        );
        let sub = route_of(
            r#"{"msg":"changed","collection":"stream-notify-user","id":"id","fields":{"eventName":"u/subscriptions-changed","args":["removed",{"_id":"s","rid":"R"}]}}"#,
        );
        assert!(
            matches!(&sub, Route::RoomChanged(RoomChange { subscription: true, removed: true, rid, .. }) if rid == "R"),
            "{sub:?}"
        );
        let room = route_of(
            r#"{"msg":"changed","collection":"stream-notify-user","id":"id","fields":{"eventName":"u/rooms-changed","args":["inserted",{"_id":"R","t":"p","name":"x"}]}}"#,
        );
        assert!(
            matches!(&room, Route::RoomChanged(RoomChange { subscription: false, removed: false, rid, .. }) if rid == "R"),
            "{room:?}"
        );
    }

    #[test]
    fn a_room_change_notes_a_group_dm_and_a_subscription_keeps_it() {
        let mut mapper = Mapper::new("bot", "bot", 0);
        let Route::RoomChanged(room) = route_of(
            r#"{"msg":"changed","collection":"stream-notify-user","id":"id","fields":{"eventName":"bot/rooms-changed","args":["inserted",{"_id":"G1","t":"d","uids":["bot","a","b"],"usernames":["bot","a","b"]}]}}"#,
        ) else {
            panic!()
        };
        assert_eq!(follow_room_change(&mut mapper, &room), Follow::Subscribe);
        assert_eq!(
            mapper.room("G1").map(|r| r.kind),
            Some(channel_api::RoomKind::GroupDirect)
        );
        // A subscription carries no members: the known kind stands.
        let Route::RoomChanged(sub) = route_of(
            r#"{"msg":"changed","collection":"stream-notify-user","id":"id","fields":{"eventName":"bot/subscriptions-changed","args":["updated",{"_id":"s","rid":"G1","t":"d","name":"a, b"}]}}"#,
        ) else {
            panic!()
        };
        assert_eq!(follow_room_change(&mut mapper, &sub), Follow::Subscribe);
        assert_eq!(
            mapper.room("G1").map(|r| r.kind),
            Some(channel_api::RoomKind::GroupDirect)
        );
        let Route::RoomChanged(dm) = route_of(
            r#"{"msg":"changed","collection":"stream-notify-user","id":"id","fields":{"eventName":"bot/rooms-changed","args":["inserted",{"_id":"Dx","t":"d","uids":["bot","a"]}]}}"#,
        ) else {
            panic!()
        };
        follow_room_change(&mut mapper, &dm);
        assert_eq!(
            mapper.room("Dx").map(|r| r.kind),
            Some(channel_api::RoomKind::Direct)
        );
    }

    #[test]
    fn odd_documents_are_logged_drops() {
        for frame in [
            r#"{"msg":"changed","collection":"stream-room-messages","id":"id","fields":{"eventName":"__my_messages__","args":[{"_id":5}]}}"#,
            r#"{"msg":"changed","collection":"stream-notify-room","id":"id","fields":{"eventName":"R/deleteMessage","args":[{}]}}"#,
            r#"{"msg":"changed","collection":"stream-notify-user","id":"id","fields":{"eventName":"u/rooms-changed","args":["updated",{"t":"c"}]}}"#,
            r#"{"msg":"changed","collection":"stream-notify-user","id":"id","fields":{"eventName":"u/subscriptions-changed","args":["updated",{"_id":"s"}]}}"#,
        ] {
            assert!(matches!(route_of(frame), Route::Nothing), "{frame}");
        }
    }
}
