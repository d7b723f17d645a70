//! Implicit-mention facts: a thread message says whether the bot wrote the thread's root
//! (`reply_to_bot`) and whether the bot has replied in the thread (`bot_in_thread`).

use channel_api::{ChannelExt, Message, OutboundMessage};

use super::expect_unsupported;
use crate::harness::{CaseResult, Harness};

/// Checks the two facts on a received message.
fn facts_are(message: &Message, reply_to_bot: bool, bot_in_thread: bool) -> CaseResult {
    ensure!(
        message.reply_to_bot == reply_to_bot && message.bot_in_thread == bot_in_thread,
        "message {:?} ({:?}) arrived with reply_to_bot = {}, bot_in_thread = {}; expected {}, {}",
        message.id,
        message.text,
        message.reply_to_bot,
        message.bot_in_thread,
        reply_to_bot,
        bot_in_thread
    );
    Ok(())
}

/// A peer's reply in a thread rooted at the bot's message arrives with `reply_to_bot`
/// (and not `bot_in_thread`: writing the root is not replying in the thread).
pub async fn reply_under_bot_message_is_reply_to_bot(h: &Harness) -> CaseResult {
    let root = h.channel.send_text(&h.room, &h.text("bot root")).await?;
    if !h.channel.capabilities().threads {
        let outbound =
            OutboundMessage::new(h.room.clone(), h.text("reply")).in_thread(root.message.id);
        return expect_unsupported("threads", h.channel.send(outbound).await);
    }
    let reply = h
        .peer
        .post(&h.room, &h.text("reply to the bot"), Some(&root.message.id))
        .await?;
    let event = h
        .wait_for_message("the peer's reply under the bot's root", |m| {
            m.id == reply.id
        })
        .await?;
    ensure!(
        event.thread_root.as_ref() == Some(&root.message.id),
        "the reply arrived in thread {:?}, expected {:?}",
        event.thread_root,
        root.message.id
    );
    facts_are(&event, true, false)
}

/// A peer's follow-up in the peer's own thread, after the bot replied there, arrives with
/// `bot_in_thread` (and not `reply_to_bot`: the peer wrote the root).
pub async fn follow_up_after_bot_reply_is_bot_in_thread(h: &Harness) -> CaseResult {
    let root = h.peer.post(&h.room, &h.text("peer root"), None).await?;
    let outbound =
        OutboundMessage::new(h.room.clone(), h.text("bot reply")).in_thread(root.id.clone());
    if !h.channel.capabilities().threads {
        return expect_unsupported("threads", h.channel.send(outbound).await);
    }
    let before = h
        .peer
        .post(&h.room, &h.text("reply before the bot"), Some(&root.id))
        .await?;
    let early = h
        .wait_for_message("the reply before the bot's", |m| m.id == before.id)
        .await?;
    facts_are(&early, false, false)?;

    h.channel.send(outbound).await?;
    let follow_up = h
        .peer
        .post(&h.room, &h.text("follow-up"), Some(&root.id))
        .await?;
    let event = h
        .wait_for_message("the peer's follow-up", |m| m.id == follow_up.id)
        .await?;
    facts_are(&event, false, true)
}

/// A top-level message, and a reply in a thread the bot has no part in, carry neither fact.
pub async fn message_outside_bot_threads_has_no_thread_facts(h: &Harness) -> CaseResult {
    let plain = h.peer.post(&h.room, &h.text("plain"), None).await?;
    let event = h
        .wait_for_message("the plain message", |m| m.id == plain.id)
        .await?;
    facts_are(&event, false, false)?;
    if !h.channel.capabilities().threads {
        return Ok(());
    }
    let reply = h
        .peer
        .post(
            &h.room,
            &h.text("reply in the peer's thread"),
            Some(&plain.id),
        )
        .await?;
    let event = h
        .wait_for_message("the reply in the peer's thread", |m| m.id == reply.id)
        .await?;
    facts_are(&event, false, false)
}
