//! History: past messages of a room or of a thread, read on demand
//! ([`channel_api::Channel::history`]).
//!
//! A live room may be shared with other runs, so the room cases anchor their window with
//! `before` at a message the peer posts after this run's messages, and accept other runs'
//! messages inside the window as long as what is returned is still "the latest `limit`"
//! (no message of this run newer than the window's oldest one is left out). On a quiet
//! room (the mock, the simulator) that is exactly this run's last `limit` messages.

use std::collections::HashMap;

use channel_api::{HistoryQuery, Message, MessageId, OutboundMessage, RoomId, Timestamp};

use super::expect_unsupported;
use crate::harness::{CaseError, CaseResult, Harness};

/// Enough to see every message a case just posted, on a room shared with other runs.
const WIDE: usize = 50;

/// The latest messages of a room, oldest first (no `before`).
fn latest(room: &RoomId, limit: usize) -> HistoryQuery {
    HistoryQuery::Room {
        room: room.clone(),
        before: None,
        limit,
    }
}

/// Fails unless `messages` are oldest first.
fn ensure_oldest_first(what: &str, messages: &[Message]) -> CaseResult {
    ensure!(
        messages
            .windows(2)
            .all(|w| w[0].timestamp <= w[1].timestamp),
        "{what} is not oldest first: {:?}",
        messages
            .iter()
            .map(|m| (m.timestamp.as_millis(), &m.text))
            .collect::<Vec<_>>()
    );
    Ok(())
}

/// A wide read of the room once it holds `last` (a live server may list a post a moment
/// later).
async fn room_until(h: &Harness, last: &MessageId) -> Result<Vec<Message>, CaseError> {
    h.eventually("history lists the latest post", || async {
        let got = h.channel.history(&latest(&h.room, WIDE)).await?;
        Ok(got.iter().any(|m| &m.id == last).then_some(got))
    })
    .await
}

/// The message with `id` in `messages`.
fn find<'a>(messages: &'a [Message], id: &MessageId) -> Result<&'a Message, CaseError> {
    messages
        .iter()
        .find(|m| &m.id == id)
        .ok_or_else(|| format!("history lacks message {id:?}").into())
}

/// What the peer posted for a room case, oldest first: `(id, text, thread root)`.
struct Posted {
    messages: Vec<(MessageId, String, Option<MessageId>)>,
    /// The peer's message after them (the `before` anchor).
    sentinel: MessageId,
}

/// The peer posts five messages, two of them replies in a thread rooted at the second,
/// then a sentinel.
async fn post_five(h: &Harness) -> Result<Posted, CaseError> {
    let mut messages = Vec::new();
    let mut root: Option<MessageId> = None;
    for (i, in_thread) in [false, false, true, false, true].into_iter().enumerate() {
        let text = h.text(&format!("history {i}"));
        let thread = if in_thread { root.clone() } else { None };
        let posted = h.peer.post(&h.room, &text, thread.as_ref()).await?;
        if i == 1 {
            root = Some(posted.id.clone());
        }
        messages.push((posted.id, text, thread));
    }
    let sentinel = h
        .peer
        .post(&h.room, &h.text("history sentinel"), None)
        .await?
        .id;
    Ok(Posted { messages, sentinel })
}

/// The room's latest messages come oldest first, with the right authors, texts and
/// thread roots, and a limit keeps the latest ones.
pub async fn room_history_is_latest_oldest_first(h: &Harness) -> CaseResult {
    if !h.channel.capabilities().history {
        return expect_unsupported("history", h.channel.history(&latest(&h.room, 5)).await);
    }
    let posted = post_five(h).await?;
    let wide = room_until(h, &posted.sentinel).await?;
    ensure!(wide.len() <= WIDE, "asked for {WIDE}, got {}", wide.len());
    ensure_oldest_first("the room's history", &wide)?;
    let peer = h.peer.user_id();
    let mut at = Vec::new();
    for (id, text, thread) in &posted.messages {
        let m = find(&wide, id)?;
        ensure!(&m.text == text, "message {id:?} has text {:?}", m.text);
        ensure!(
            m.author.id == peer,
            "message {id:?} has author {:?}, expected the peer {peer:?}",
            m.author.id
        );
        ensure!(
            &m.thread_root == thread,
            "message {id:?} has thread root {:?}, expected {thread:?}",
            m.thread_root
        );
        ensure!(
            m.room.id == h.room,
            "message {id:?} is in room {:?}",
            m.room.id
        );
        at.push(wide.iter().position(|w| &w.id == id));
    }
    ensure!(
        at.windows(2).all(|w| w[0] < w[1]),
        "the posts are listed out of order (positions {at:?})"
    );

    // The latest three before the sentinel.
    let before = find(&wide, &posted.sentinel)?.timestamp;
    let limit = 3;
    let window = h
        .channel
        .history(&HistoryQuery::Room {
            room: h.room.clone(),
            before: Some(before),
            limit,
        })
        .await?;
    ensure_oldest_first("the limited history", &window)?;
    ensure!(
        window.len() == limit,
        "asked for the latest {limit} (the room holds more), got {}: {:?}",
        window.len(),
        texts(&window)
    );
    ensure!(
        window.iter().all(|m| m.timestamp < before),
        "the window holds messages not before the anchor: {:?}",
        texts(&window)
    );
    let ours: Vec<&MessageId> = posted.messages.iter().map(|(id, _, _)| id).collect();
    let oldest_in_window = window[0].timestamp;
    let stamps: HashMap<&MessageId, Timestamp> =
        wide.iter().map(|m| (&m.id, m.timestamp)).collect();
    for id in &ours {
        let inside = window.iter().any(|m| &m.id == *id);
        // A post stamped in the same millisecond as the anchor is not before it (stamps
        // are milliseconds; two quick posts can share one).
        let newer = stamps
            .get(id)
            .is_some_and(|ts| *ts > oldest_in_window && *ts < before);
        ensure!(
            inside || !newer,
            "message {id:?} is newer than the window's oldest message but missing: {:?}",
            texts(&window)
        );
    }
    Ok(())
}

/// `before` leaves out that message and every later one.
pub async fn room_history_before_excludes_later_messages(h: &Harness) -> CaseResult {
    if !h.channel.capabilities().history {
        return expect_unsupported("history", h.channel.history(&latest(&h.room, 5)).await);
    }
    let posted = post_five(h).await?;
    let wide = room_until(h, &posted.sentinel).await?;
    let (cut_id, _, _) = &posted.messages[3];
    let cut = find(&wide, cut_id)?.timestamp;
    let got = h
        .channel
        .history(&HistoryQuery::Room {
            room: h.room.clone(),
            before: Some(cut),
            limit: WIDE,
        })
        .await?;
    ensure_oldest_first("the history before the cut", &got)?;
    ensure!(
        got.iter().all(|m| m.timestamp < cut),
        "history before {cut:?} holds later messages: {:?}",
        texts(&got)
    );
    for (i, (id, _, _)) in posted.messages.iter().enumerate() {
        let listed = got.iter().any(|m| &m.id == id);
        // Before the cut means stamped before it: message 2 may share message 3's
        // millisecond, and is then left out too.
        let expected = find(&wide, id)?.timestamp < cut;
        ensure!(
            listed == expected,
            "message {i} listed: {listed}, expected {expected}"
        );
        ensure!(
            i < 3 || !listed,
            "message {i} (at or after the cut) is listed"
        );
    }
    ensure!(
        !got.iter().any(|m| m.id == posted.sentinel),
        "the sentinel (posted after the cut) is listed"
    );
    Ok(())
}

/// A thread's history is its root, then its first replies in order, `limit` in all.
pub async fn thread_history_is_root_then_first_replies(h: &Harness) -> CaseResult {
    let root = h
        .peer
        .post(&h.room, &h.text("history thread root"), None)
        .await?;
    let query = |limit| HistoryQuery::Thread {
        room: h.room.clone(),
        root: root.id.clone(),
        limit,
    };
    if !h.channel.capabilities().history {
        return expect_unsupported("history", h.channel.history(&query(3)).await);
    }
    h.peer
        .post(&h.room, &h.text("history outside the thread"), None)
        .await?;
    let mut replies = Vec::new();
    for i in 0..3 {
        let text = h.text(&format!("history reply {i}"));
        let reply = h.peer.post(&h.room, &text, Some(&root.id)).await?;
        replies.push((reply.id, text));
    }
    let last = replies.last().map(|(id, _)| id.clone());

    let all = h
        .eventually("the thread history lists the last reply", || async {
            let got = h.channel.history(&query(20)).await?;
            Ok(got
                .iter()
                .any(|m| Some(&m.id) == last.as_ref())
                .then_some(got))
        })
        .await?;
    let mut expected = vec![root.id.clone()];
    expected.extend(replies.iter().map(|(id, _)| id.clone()));
    let ids: Vec<MessageId> = all.iter().map(|m| m.id.clone()).collect();
    ensure!(
        ids == expected,
        "thread history is {:?}, expected root then replies {expected:?}",
        texts(&all)
    );
    ensure!(
        all[0].thread_root.is_none(),
        "the root came with thread root {:?}",
        all[0].thread_root
    );
    for (m, (_, text)) in all[1..].iter().zip(&replies) {
        ensure!(&m.text == text, "reply {:?} has text {:?}", m.id, m.text);
        ensure!(
            m.thread_root.as_ref() == Some(&root.id),
            "reply {:?} has thread root {:?}",
            m.id,
            m.thread_root
        );
    }

    let limited = h.channel.history(&query(3)).await?;
    let ids: Vec<MessageId> = limited.iter().map(|m| m.id.clone()).collect();
    ensure!(
        ids == expected[..3],
        "thread history with limit 3 is {:?}, expected the root and the first two replies",
        texts(&limited)
    );
    let only_root = h.channel.history(&query(1)).await?;
    ensure!(
        only_root.len() == 1 && only_root[0].id == root.id,
        "thread history with limit 1 is {:?}, expected the root alone",
        texts(&only_root)
    );
    Ok(())
}

/// The bot's own messages are part of the history; a deleted message is not; an edited
/// one has its current text.
pub async fn history_has_own_and_edited_but_not_deleted(h: &Harness) -> CaseResult {
    if !h.channel.capabilities().history {
        return expect_unsupported("history", h.channel.history(&latest(&h.room, 5)).await);
    }
    let doomed = h
        .peer
        .post(&h.room, &h.text("history deleted"), None)
        .await?;
    let edited = h
        .peer
        .post(&h.room, &h.text("history before edit"), None)
        .await?;
    let own_text = h.text("history bot message");
    let own = h
        .channel
        .send(OutboundMessage::new(h.room.clone(), &own_text))
        .await?;
    h.peer.delete(&doomed).await?;
    let new_text = h.text("history after edit");
    h.peer.edit(&edited, &new_text).await?;
    let sentinel = h
        .peer
        .post(&h.room, &h.text("history sentinel"), None)
        .await?;

    let got = h
        .eventually(
            "history shows the edit and not the deleted message",
            || async {
                let got = h.channel.history(&latest(&h.room, WIDE)).await?;
                let settled = got.iter().any(|m| m.id == sentinel.id)
                    && !got.iter().any(|m| m.id == doomed.id)
                    && got.iter().any(|m| m.id == edited.id && m.text == new_text);
                Ok(settled.then_some(got))
            },
        )
        .await?;
    let mine = find(&got, &own.message.id)?;
    ensure!(
        mine.text == own_text,
        "the bot's message has text {:?}",
        mine.text
    );
    let bot = h.bot().user_id;
    ensure!(
        mine.author.id == bot,
        "the bot's message has author {:?}, expected {bot:?}",
        mine.author.id
    );
    Ok(())
}

fn texts(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.text.as_str()).collect()
}
