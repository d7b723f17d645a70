//! [`channel_api::Channel::history`] over REST.
//!
//! - Room: the room's kind comes from `rooms.info` (which also answers "no such room / no
//!   access" as `NotFound`), then the matching endpoint: `channels.history` (public),
//!   `groups.history` (private), `im.history` (direct). Query: `roomId`, `latest` = the
//!   `before` bound (Rocket.Chat's `ts < latest` is the contract's "strictly before"),
//!   `count`, `offset`, and `showThreadMessages=true` (channels and im leave thread replies
//!   out unless asked: `showThreadMessages === 'true'` in `apps/meteor/app/api/server/v1/
//!   channels.ts` and `im.ts`; groups include them unless refused, `groups.ts`). The server
//!   answers newest first; the result is turned oldest first.
//! - Thread: `chat.getMessage` for the root (it must be in the asked room), then
//!   `chat.getThreadMessages` (`tmid`, `sort={"ts":1}`, `count`, `offset`), which lists the
//!   replies only, never the root (`chat.ts`).
//!
//! Left out either way (see [`crate::mapping::history_message`]): hidden documents and
//! system messages. Stock Rocket.Chat lists system messages in history
//! (`Hide_System_Messages` defaults to `[]`, `getChannelHistory.ts`) and
//! `chat.getThreadMessages` applies no `_hidden` filter at all, so both are dropped here,
//! and pages are read until `limit` messages are kept (at most [`MAX_PAGES`] pages), so
//! a run of join notices does not shorten the window.
//!
//! Paging is by `offset` under a fixed `latest`; without `before` a message posted while
//! paging shifts the pages by one, which can only repeat a message (dropped by id), never
//! skip one. Rate limits and 401 follow the REST client's rules (wait for the reset, or
//! stop the account).

use std::collections::HashSet;

use channel_api::{Error, HistoryQuery, Message, MessageId, RoomId, RoomInfo, RoomKind};
use http::Method;

use crate::error::RcError;
use crate::mapping::history_message;
use crate::rest::{Rest, RoomLookup, WireMessagesAnswer};
use crate::wire::format_iso;
use crate::wire::WireMessage;

/// Largest page Rocket.Chat serves (`API_Upper_Count_Limit`, default 100).
const PAGE_MAX: usize = 100;
/// How many pages one call reads at most, whatever it drops.
const MAX_PAGES: usize = 10;

/// Runs one history query as the bot `bot_id`.
pub(crate) async fn history(
    rest: &Rest,
    bot_id: &str,
    query: &HistoryQuery,
) -> channel_api::Result<Vec<Message>> {
    match query {
        HistoryQuery::Room {
            room,
            before,
            limit,
        } => {
            let info = room_info(rest, room).await?;
            if *limit == 0 {
                return Ok(Vec::new());
            }
            let latest = before.map(|b| format_iso(b.as_millis()));
            Ok(room_history(rest, &info, latest.as_deref(), *limit).await?)
        }
        HistoryQuery::Thread { room, root, limit } => {
            let info = room_info(rest, room).await?;
            thread_history(rest, bot_id, &info, root, *limit).await
        }
    }
}

/// The room as the bot may read it; unknown or inaccessible is `NotFound`.
async fn room_info(rest: &Rest, room: &RoomId) -> channel_api::Result<RoomInfo> {
    rest.room_info(RoomLookup::Id(room.as_str()))
        .await?
        .as_ref()
        .and_then(crate::room_info_of)
        .ok_or_else(|| Error::NotFound {
            what: format!("room {room}"),
        })
}

/// The `*.history` endpoint for a room kind.
fn endpoint(kind: RoomKind) -> &'static str {
    match kind {
        RoomKind::Public => "channels.history",
        RoomKind::Private => "groups.history",
        RoomKind::Direct | RoomKind::GroupDirect => "im.history",
    }
}

/// One page of a history endpoint: its documents that parse (an odd one is a logged
/// drop), and how many the server sent (a short page is the last).
async fn page_of(
    rest: &Rest,
    endpoint: &str,
    params: &[(&str, &str)],
) -> Result<(Vec<WireMessage>, usize), RcError> {
    let answer: WireMessagesAnswer = rest.call_as(Method::GET, endpoint, params, None).await?;
    let sent = answer.messages.len();
    Ok((
        answer.messages.into_iter().filter_map(|d| d.0).collect(),
        sent,
    ))
}

/// The latest `limit` (> 0) messages of a room before `latest`, oldest first.
async fn room_history(
    rest: &Rest,
    room: &RoomInfo,
    latest: Option<&str>,
    limit: usize,
) -> Result<Vec<Message>, RcError> {
    let endpoint = endpoint(room.kind);
    let page_size = limit.min(PAGE_MAX);
    let count = page_size.to_string();
    let mut seen = HashSet::new();
    // Newest first, as the server lists them.
    let mut kept: Vec<Message> = Vec::new();
    for page in 0..MAX_PAGES {
        let offset = (page * page_size).to_string();
        let mut params = vec![
            ("roomId", room.id.as_str()),
            ("count", count.as_str()),
            ("offset", offset.as_str()),
            ("showThreadMessages", "true"),
        ];
        if let Some(latest) = latest {
            params.push(("latest", latest));
        }
        let (docs, sent) = page_of(rest, endpoint, &params).await?;
        let full = sent >= page_size;
        for doc in &docs {
            if !seen.insert(doc.id.clone()) {
                continue;
            }
            if let Some(message) = history_message(doc, room) {
                kept.push(message);
            }
        }
        if kept.len() >= limit || !full {
            break;
        }
    }
    // Newest first by the server's stamp (stable, so equal stamps keep the server's order),
    // keep the latest `limit`, then oldest first.
    kept.sort_by_key(|m| std::cmp::Reverse(m.timestamp));
    kept.truncate(limit);
    kept.reverse();
    Ok(kept)
}

/// The root of a thread, then its first replies, `limit` messages in all.
///
/// Thread facts, as far as the fetched messages tell: a reply is `reply_to_bot` when the
/// bot wrote the root, and `bot_in_thread` when another fetched reply is the bot's.
async fn thread_history(
    rest: &Rest,
    bot_id: &str,
    room: &RoomInfo,
    root: &MessageId,
    limit: usize,
) -> channel_api::Result<Vec<Message>> {
    let not_found = || Error::NotFound {
        what: format!("thread root {root} in room {}", room.id),
    };
    let root_doc = rest
        .get_message(root.as_str())
        .await?
        .filter(|doc| doc.rid == room.id.as_str())
        .ok_or_else(not_found)?;
    if limit == 0 {
        return Ok(Vec::new());
    }
    let root_by_bot = root_doc.u.id == bot_id;
    let mut out: Vec<Message> = history_message(&root_doc, room).into_iter().collect();
    let wanted = limit - out.len();
    if wanted == 0 {
        return Ok(out);
    }
    let replies = thread_replies(rest, room, root, wanted).await?;
    let by_bot: Vec<bool> = replies
        .iter()
        .map(|m| m.author.id.as_str() == bot_id)
        .collect();
    for (i, mut message) in replies.into_iter().enumerate() {
        message.reply_to_bot = root_by_bot;
        message.bot_in_thread = by_bot.iter().enumerate().any(|(j, &b)| b && j != i);
        out.push(message);
    }
    Ok(out)
}

/// The first `wanted` (> 0) kept replies of a thread, oldest first. Hidden and system
/// replies are skipped (and paged past).
async fn thread_replies(
    rest: &Rest,
    room: &RoomInfo,
    root: &MessageId,
    wanted: usize,
) -> Result<Vec<Message>, RcError> {
    const ENDPOINT: &str = "chat.getThreadMessages";
    let page_size = wanted.min(PAGE_MAX);
    let count = page_size.to_string();
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    for page in 0..MAX_PAGES {
        let offset = (page * page_size).to_string();
        let params = [
            ("tmid", root.as_str()),
            ("sort", r#"{"ts":1}"#),
            ("count", count.as_str()),
            ("offset", offset.as_str()),
        ];
        let (docs, sent) = page_of(rest, ENDPOINT, &params).await?;
        let full = sent >= page_size;
        for doc in &docs {
            if seen.insert(doc.id.clone()) {
                kept.extend(history_message(doc, room));
            }
        }
        if kept.len() >= wanted || !full {
            break;
        }
    }
    kept.truncate(wanted);
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn history_message(doc: &Value, room: &RoomInfo) -> Option<Message> {
        let doc: WireMessage = serde_json::from_value(doc.clone()).ok()?;
        super::history_message(&doc, room)
    }

    fn general() -> RoomInfo {
        RoomInfo {
            id: RoomId::new("GENERAL"),
            kind: RoomKind::Public,
            name: Some("general".into()),
        }
    }

    fn doc(extra: Value) -> Value {
        let mut d = json!({
            "_id": "m1", "rid": "GENERAL", "msg": "hello",
            "ts": "2026-01-02T03:04:05.678Z",
            "_updatedAt": "2026-01-02T03:04:06.000Z",
            "u": {"_id": "alice", "username": "alice", "name": "Alice"}
        });
        if let (Some(d), Some(extra)) = (d.as_object_mut(), extra.as_object()) {
            d.extend(extra.clone());
        }
        d
    }

    #[test]
    fn a_rest_document_maps_with_its_stamp_author_thread_and_edit() {
        let m = history_message(
            &doc(json!({"tmid": "root", "editedAt": "2026-01-02T03:05:00.000Z"})),
            &general(),
        )
        .unwrap();
        assert_eq!(m.id.as_str(), "m1");
        assert_eq!(m.text, "hello");
        assert_eq!(m.timestamp.as_millis(), 1_767_323_045_678);
        assert_eq!(m.author.username, "alice");
        assert_eq!(m.author.display_name.as_deref(), Some("Alice"));
        assert_eq!(m.thread_root.as_ref().map(MessageId::as_str), Some("root"));
        assert!(m.edited);
        assert_eq!(m.room, general());
        assert!(!m.reply_to_bot && !m.bot_in_thread);
    }

    #[test]
    fn hidden_system_foreign_and_broken_documents_are_left_out() {
        let room = general();
        assert!(history_message(&doc(json!({"_hidden": true})), &room).is_none());
        assert!(history_message(&doc(json!({"t": "uj"})), &room).is_none());
        assert!(history_message(&doc(json!({"t": "rm", "msg": ""})), &room).is_none());
        assert!(history_message(&doc(json!({"rid": "OTHER"})), &room).is_none());
        assert!(history_message(&json!({"_id": "x"}), &room).is_none());
        assert!(history_message(&doc(json!({})), &room).is_some());
    }

    #[test]
    fn each_room_kind_has_its_endpoint() {
        assert_eq!(endpoint(RoomKind::Public), "channels.history");
        assert_eq!(endpoint(RoomKind::Private), "groups.history");
        assert_eq!(endpoint(RoomKind::Direct), "im.history");
    }
}
