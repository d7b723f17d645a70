//! Threads: the channel replies into one, and inbound thread replies name their root.

use channel_api::OutboundMessage;

use super::expect_unsupported;
use crate::harness::{CaseResult, Harness};

/// A reply sent into a thread lands in that thread (and only there), and `send` says so.
pub async fn reply_in_thread_lands_in_thread(h: &Harness) -> CaseResult {
    let root = h.peer.post(&h.room, &h.text("thread root"), None).await?;
    let text = h.text("bot reply in thread");
    let outbound = OutboundMessage::new(h.room.clone(), &text).in_thread(root.id.clone());
    if !h.channel.capabilities().threads {
        return expect_unsupported("threads", h.channel.send(outbound).await);
    }

    let sent = h.channel.send(outbound).await?;
    ensure!(
        sent.thread.as_ref() == Some(&root.id),
        "send reports thread {:?}, expected {:?}",
        sent.thread,
        root.id
    );

    let thread = h
        .eventually("the reply shows in the thread", || async {
            let replies = h.peer.thread_messages(&h.room, &root.id).await?;
            Ok(replies.iter().any(|m| m.text == text).then_some(replies))
        })
        .await?;
    let copies = thread.iter().filter(|m| m.text == text).count();
    ensure!(copies == 1, "the reply is in the thread {copies} times");

    let in_room = h.peer_sees_text(&h.room, &text).await?;
    ensure!(
        in_room.len() == 1,
        "the reply is in the room {} times",
        in_room.len()
    );
    ensure!(
        in_room[0].thread.as_ref() == Some(&root.id),
        "the server holds the reply in thread {:?}, expected {:?}",
        in_room[0].thread,
        root.id
    );
    Ok(())
}

/// A peer's reply inside a thread arrives with the thread root set; the root arrives
/// without one.
pub async fn inbound_thread_reply_carries_root(h: &Harness) -> CaseResult {
    if !h.channel.capabilities().threads {
        let root = h.peer.post(&h.room, &h.text("thread root"), None).await?;
        let outbound = OutboundMessage::new(h.room.clone(), h.text("reply")).in_thread(root.id);
        return expect_unsupported("threads", h.channel.send(outbound).await);
    }
    let root = h
        .peer
        .post(&h.room, &h.text("inbound thread root"), None)
        .await?;
    let reply = h
        .peer
        .post(&h.room, &h.text("inbound thread reply"), Some(&root.id))
        .await?;

    let root_event = h
        .wait_for_message("the thread root", |m| m.id == root.id)
        .await?;
    ensure!(
        root_event.thread_root.is_none(),
        "the root arrived inside thread {:?}",
        root_event.thread_root
    );
    let reply_event = h
        .wait_for_message("the thread reply", |m| m.id == reply.id)
        .await?;
    ensure!(
        reply_event.thread_root.as_ref() == Some(&root.id),
        "the reply arrived with thread root {:?}, expected {:?}",
        reply_event.thread_root,
        root.id
    );
    ensure!(
        reply_event.room.id == h.room,
        "the reply arrived in room {:?}",
        reply_event.room.id
    );
    Ok(())
}
