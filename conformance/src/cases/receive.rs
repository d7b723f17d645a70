//! Inbound messages: kind, author, mentions, order, edits and deletes by the peer.

use channel_api::{Error, Event, Mention, Message, RoomKind};

use super::{describe, expect_error};
use crate::harness::{CaseResult, Harness};

/// Checks the author is the peer.
fn check_author(h: &Harness, message: &Message) -> CaseResult {
    ensure!(
        message.author.id == h.peer.user_id(),
        "author id is {:?}, expected the peer {:?}",
        message.author.id,
        h.peer.user_id()
    );
    ensure!(
        message.author.username == h.peer.username(),
        "author username is {:?}, expected {:?}",
        message.author.username,
        h.peer.username()
    );
    Ok(())
}

/// A peer's DM arrives as a direct message from the peer, with no mention needed.
pub async fn inbound_dm_arrives_as_direct(h: &Harness) -> CaseResult {
    let text = h.text("hello in a DM");
    let posted = h.peer.post(&h.dm_room, &text, None).await?;
    let message = h
        .wait_for_message("the peer's DM", |m| m.id == posted.id)
        .await?;
    ensure!(
        message.room.id == h.dm_room,
        "arrived in room {:?}, expected the DM {:?}",
        message.room.id,
        h.dm_room
    );
    ensure!(
        message.room.kind == RoomKind::Direct,
        "a DM arrived as {:?}",
        message.room.kind
    );
    ensure!(
        message.room.name.is_none(),
        "a DM arrived with a room name {:?}",
        message.room.name
    );
    ensure!(
        message.text == text,
        "text is {:?}, expected {text:?}",
        message.text
    );
    ensure!(
        message.thread_root.is_none(),
        "a top-level DM has thread root {:?}",
        message.thread_root
    );
    check_author(h, &message)
}

/// A peer's room message arrives with the room's id, group kind and name, the peer as
/// author, and no mentions.
pub async fn inbound_room_message_arrives_with_kind_and_author(h: &Harness) -> CaseResult {
    let text = h.text("hello in the room");
    let posted = h.peer.post(&h.room, &text, None).await?;
    let message = h
        .wait_for_message("the peer's room message", |m| m.id == posted.id)
        .await?;
    ensure!(
        message.room.id == h.room,
        "arrived in room {:?}, expected {:?}",
        message.room.id,
        h.room
    );
    ensure!(
        !message.room.kind.is_direct(),
        "a group room message arrived as Direct"
    );
    ensure!(
        message.room.name.as_deref() == Some(h.room_name.as_str()),
        "room name is {:?}, expected {:?}",
        message.room.name,
        h.room_name
    );
    ensure!(
        message.text == text,
        "text is {:?}, expected {text:?}",
        message.text
    );
    ensure!(
        message.mentions.is_empty(),
        "a message without mentions has {:?}",
        message.mentions
    );
    ensure!(!message.edited, "a new message is marked edited");
    check_author(h, &message)
}

/// A mention of the bot is in the payload's mentions, with the bot's id and username.
pub async fn mention_of_bot_is_in_payload(h: &Harness) -> CaseResult {
    let bot = h.bot();
    let text = format!(
        "{} {}",
        h.peer.mention(&bot.username),
        h.text("are you there?")
    );
    let posted = h.peer.post(&h.room, &text, None).await?;
    let message = h
        .wait_for_message("the message mentioning the bot", |m| m.id == posted.id)
        .await?;
    ensure!(
        message.mentions_user(&bot.user_id),
        "the bot is not among the mentions {:?}",
        message.mentions
    );
    let expected = Mention::User {
        id: bot.user_id.clone(),
        username: bot.username.clone(),
    };
    ensure!(
        message.mentions.contains(&expected),
        "mentions {:?} lack {expected:?}",
        message.mentions
    );
    ensure!(
        !message.mentions_everyone(),
        "a user mention was read as @all/@here"
    );
    check_author(h, &message)
}

/// `@all` and `@here` are in the payload as `Mention::All` and `Mention::Here`, and do
/// not count as a mention of the bot.
pub async fn mention_all_and_here_are_in_payload(h: &Harness) -> CaseResult {
    let bot = h.bot();
    let all = h
        .peer
        .post(
            &h.room,
            &format!("{} {}", h.peer.mention_all(), h.text("everyone")),
            None,
        )
        .await?;
    let here = h
        .peer
        .post(
            &h.room,
            &format!("{} {}", h.peer.mention_here(), h.text("anyone here")),
            None,
        )
        .await?;

    let all = h
        .wait_for_message("the @all message", |m| m.id == all.id)
        .await?;
    ensure!(
        all.mentions.contains(&Mention::All),
        "@all is not in the mentions {:?}",
        all.mentions
    );
    ensure!(
        !all.mentions_user(&bot.user_id),
        "@all was read as a mention of the bot"
    );

    let here = h
        .wait_for_message("the @here message", |m| m.id == here.id)
        .await?;
    ensure!(
        here.mentions.contains(&Mention::Here),
        "@here is not in the mentions {:?}",
        here.mentions
    );
    ensure!(
        !here.mentions_user(&bot.user_id),
        "@here was read as a mention of the bot"
    );
    Ok(())
}

/// Messages the peer posts in one room arrive in the order posted, each exactly once.
pub async fn events_from_one_room_keep_order(h: &Harness) -> CaseResult {
    const COUNT: usize = 5;
    let mut posted = Vec::new();
    for n in 0..COUNT {
        posted.push(
            h.peer
                .post(&h.room, &h.text(&format!("order {n} of {COUNT}")), None)
                .await?
                .id,
        );
    }
    let events = h.events_until_sentinel(&h.room).await?;
    let arrived: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::MessageCreated { message } if posted.contains(&message.id) => {
                Some(message.id.clone())
            }
            _ => None,
        })
        .collect();
    ensure!(
        arrived == posted,
        "messages arrived as {arrived:?}, posted as {posted:?}; events:\n  {}",
        describe(&events)
    );
    Ok(())
}

/// A peer's edit arrives as `MessageEdited` with the new text and the edited flag.
pub async fn peer_edit_arrives_as_message_edited(h: &Harness) -> CaseResult {
    let posted = h
        .peer
        .post(&h.room, &h.text("before the edit"), None)
        .await?;
    h.wait_for_message("the message to be edited", |m| m.id == posted.id)
        .await?;
    let new_text = h.text("after the edit");
    h.peer.edit(&posted, &new_text).await?;

    let event = h
        .wait_for(
            "the edit",
            |e| matches!(e, Event::MessageEdited { message } if message.id == posted.id),
        )
        .await?;
    let Event::MessageEdited { message } = event else {
        return Err("wait_for returned another event".into());
    };
    ensure!(
        message.text == new_text,
        "edited text is {:?}, expected {new_text:?}",
        message.text
    );
    ensure!(message.edited, "an edited message is not marked edited");
    ensure!(
        message.room.id == h.room,
        "the edit arrived for room {:?}",
        message.room.id
    );
    check_author(h, &message)
}

/// A peer's delete arrives as `MessageDeleted` naming the room and message.
pub async fn peer_delete_arrives_as_message_deleted(h: &Harness) -> CaseResult {
    let posted = h.peer.post(&h.room, &h.text("to be deleted"), None).await?;
    h.wait_for_message("the message to be deleted", |m| m.id == posted.id)
        .await?;
    h.peer.delete(&posted).await?;

    let event = h
        .wait_for(
            "the delete",
            |e| matches!(e, Event::MessageDeleted { message, .. } if *message == posted.id),
        )
        .await?;
    let Event::MessageDeleted {
        room, room_kind, ..
    } = event
    else {
        return Err("wait_for returned another event".into());
    };
    ensure!(
        room == h.room,
        "the delete names room {room:?}, expected {:?}",
        h.room
    );
    ensure!(
        room_kind.is_none_or(|kind| !kind.is_direct()),
        "the delete of a group message says the room is Direct"
    );
    Ok(())
}

/// The stream can be taken once: the harness took it, so another call is refused.
pub async fn second_events_call_is_invalid(h: &Harness) -> CaseResult {
    expect_error(
        "a second events() call",
        "InvalidRequest",
        h.channel.events(),
        |e| matches!(e, Error::InvalidRequest { .. }),
    )
}
