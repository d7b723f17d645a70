//! Posting: to a room, at the size limit, with an idempotency key; and no echo of the
//! channel's own actions.

use channel_api::{Error, Event, MessageId, MessageRef, OutboundMessage};

use super::{describe, expect_error};
use crate::harness::{CaseResult, Harness};

/// A message sent to the room is on the server once, at top level, by the bot.
pub async fn send_to_room_is_seen_once(h: &Harness) -> CaseResult {
    let text = h.text("send to room");
    let sent = h
        .channel
        .send(OutboundMessage::new(h.room.clone(), &text))
        .await?;
    ensure!(
        sent.message.room == h.room,
        "sent into {:?}, not the test room",
        sent.message.room
    );
    ensure!(
        sent.thread.is_none(),
        "a top-level send reported thread {:?}",
        sent.thread
    );

    let seen = h.peer_sees_text(&h.room, &text).await?;
    ensure!(
        seen.len() == 1,
        "the peer sees the message {} times: {seen:?}",
        seen.len()
    );
    let message = &seen[0];
    ensure!(
        message.id == sent.message.id,
        "the peer sees id {:?}, send returned {:?}",
        message.id,
        sent.message.id
    );
    ensure!(
        message.author == h.bot().user_id,
        "the message's author is {:?}, not the bot",
        message.author
    );
    ensure!(
        message.thread.is_none(),
        "the message landed in thread {:?}",
        message.thread
    );
    Ok(())
}

/// Text of exactly the capability's `max_text` (in its unit) is accepted whole.
pub async fn text_at_max_len_is_accepted(h: &Harness) -> CaseResult {
    let limit = h.channel.capabilities().max_text;
    let max = limit.max;
    let tag = h.text("at the limit");
    ensure!(
        max > tag.len(),
        "max_text {limit} is too small for a test message"
    );
    // ASCII: one unit each in every unit.
    let text = format!("{tag} {}", "x".repeat(max - tag.len() - 1));
    ensure!(limit.len_of(&text) == max, "test text has the wrong length");

    h.channel
        .send(OutboundMessage::new(h.room.clone(), &text))
        .await?;
    let seen = h.peer_sees_text(&h.room, &text).await?;
    ensure!(
        seen.len() == 1,
        "the peer sees the message {} times",
        seen.len()
    );
    Ok(())
}

/// Text over the capability's `max_text` is refused with `InvalidRequest` and not posted.
/// The text is mostly astral-plane emoji (two UTF-16 units, four bytes, one character
/// each): for a backend that counts UTF-16 units or bytes, it fits in characters but not
/// in the unit, so a backend that counts characters instead of its unit lets it through.
pub async fn text_over_max_len_is_rejected(h: &Harness) -> CaseResult {
    let limit = h.channel.capabilities().max_text;
    let max = limit.max;
    let tag = h.text("over the limit");
    let mut text = format!("{tag} ");
    while limit.len_of(&text) <= max {
        text.push('😀');
    }

    let result = h
        .channel
        .send(OutboundMessage::new(h.room.clone(), &text))
        .await;
    expect_error("sending too long a text", "InvalidRequest", result, |e| {
        matches!(e, Error::InvalidRequest { .. })
    })?;
    let held = h.peer.messages(&h.room).await?;
    ensure!(
        !held.iter().any(|m| m.text.contains(&tag)),
        "the over-long message was posted anyway"
    );
    Ok(())
}

/// Sending twice with the same idempotency key posts once; both calls succeed and name the
/// same message.
pub async fn same_idempotency_key_posts_once(h: &Harness) -> CaseResult {
    let key = MessageId::new(format!("idem{}", h.run_id));
    let text = h.text("idempotent send");
    let message = OutboundMessage::new(h.room.clone(), &text).with_idempotency_key(key);
    let first = h.channel.send(message.clone()).await?;
    let second = h.channel.send(message).await?;
    ensure!(
        first.message == second.message,
        "the retry names another message: {:?} then {:?}",
        first.message,
        second.message
    );

    // The sentinel makes sure a late duplicate would be on the server by now.
    h.events_until_sentinel(&h.room).await?;
    let seen = h.peer_sees_text(&h.room, &text).await?;
    ensure!(
        seen.len() == 1,
        "the message was posted {} times",
        seen.len()
    );
    Ok(())
}

/// Nothing the channel itself does (posting, replying in a thread, reacting, editing,
/// deleting) comes back to it as an event.
pub async fn own_messages_never_come_back(h: &Harness) -> CaseResult {
    let bot = h.bot();
    let caps = h.channel.capabilities();
    let peer_root = h
        .peer
        .post(&h.room, &h.text("root for the bot"), None)
        .await?;

    let top = h
        .channel
        .send(OutboundMessage::new(
            h.room.clone(),
            h.text("bot top level"),
        ))
        .await?;
    if caps.threads {
        h.channel
            .send(
                OutboundMessage::new(h.room.clone(), h.text("bot in thread"))
                    .in_thread(peer_root.id.clone()),
            )
            .await?;
    }
    if caps.reactions {
        h.channel.react(&peer_root, "eyes").await?;
        h.channel.unreact(&peer_root, "eyes").await?;
    }
    if caps.edit {
        h.channel
            .edit(&top.message, &h.text("bot top level, edited"))
            .await?;
    }
    let mut deleted: Option<MessageRef> = None;
    if caps.delete {
        let doomed = h
            .channel
            .send(OutboundMessage::new(h.room.clone(), h.text("bot doomed")))
            .await?;
        h.channel.delete(&doomed.message).await?;
        deleted = Some(doomed.message);
    }

    let events = h.events_until_sentinel(&h.room).await?;
    let echoes: Vec<Event> = events
        .into_iter()
        .filter(|event| match event {
            Event::MessageCreated { message } | Event::MessageEdited { message } => {
                message.author.id == bot.user_id
            }
            Event::ReactionAdded { reaction } | Event::ReactionRemoved { reaction } => {
                reaction.user == bot.user_id
            }
            Event::MessageDeleted { message, .. } => {
                deleted.as_ref().is_some_and(|d| &d.id == message)
            }
            _ => false,
        })
        .collect();
    ensure!(
        echoes.is_empty(),
        "the channel's own actions came back:\n  {}",
        describe(&echoes)
    );
    Ok(())
}
