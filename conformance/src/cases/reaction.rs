//! Reactions both ways.

use channel_api::{Event, OutboundMessage, Reaction};

use super::expect_unsupported;
use crate::harness::{CaseResult, Harness};

/// Checks a reaction event names the message, emoji, reacting peer and message author.
fn check_reaction(
    h: &Harness,
    reaction: &Reaction,
    emoji: &str,
    message_author: &channel_api::UserId,
) -> CaseResult {
    ensure!(
        reaction.emoji == emoji,
        "emoji is {:?}, expected {emoji:?}",
        reaction.emoji
    );
    ensure!(
        reaction.user == h.peer.user_id(),
        "reacting user is {:?}, expected the peer {:?}",
        reaction.user,
        h.peer.user_id()
    );
    if let Some(username) = &reaction.username {
        ensure!(
            *username == h.peer.username(),
            "reacting username is {username:?}, expected the peer's {:?}",
            h.peer.username()
        );
    }
    ensure!(
        reaction.message_author.as_ref() == Some(message_author),
        "message_author is {:?}, expected {message_author:?}",
        reaction.message_author
    );
    ensure!(
        reaction.room.id == h.room,
        "the reaction names room {:?}",
        reaction.room.id
    );
    ensure!(
        !reaction.room.kind.is_direct(),
        "the reaction's room is Direct"
    );
    Ok(())
}

/// The peer reacting to the bot's message arrives as `ReactionAdded`, and taking it back
/// as `ReactionRemoved`.
pub async fn peer_reaction_add_and_remove_arrive(h: &Harness) -> CaseResult {
    let bot = h.bot();
    let sent = h
        .channel
        .send(OutboundMessage::new(h.room.clone(), h.text("react to me")))
        .await?;
    if !h.channel.capabilities().reactions {
        return expect_unsupported(
            "reactions",
            h.channel.react(&sent.message, "thumbsup").await,
        );
    }
    let target = sent.message.clone();

    h.peer.react(&target, "thumbsup").await?;
    let added = h
        .wait_for(
            "the peer's reaction",
            |e| matches!(e, Event::ReactionAdded { reaction } if reaction.message.id == target.id),
        )
        .await?;
    let Event::ReactionAdded { reaction } = added else {
        return Err("wait_for returned another event".into());
    };
    ensure!(
        reaction.message == target,
        "the reaction names message {:?}, expected {target:?}",
        reaction.message
    );
    check_reaction(h, &reaction, "thumbsup", &bot.user_id)?;

    h.peer.unreact(&target, "thumbsup").await?;
    let removed = h
        .wait_for("the removal of the peer's reaction", |e| {
            matches!(e, Event::ReactionRemoved { reaction } if reaction.message.id == target.id)
        })
        .await?;
    let Event::ReactionRemoved { reaction } = removed else {
        return Err("wait_for returned another event".into());
    };
    check_reaction(h, &reaction, "thumbsup", &bot.user_id)
}

/// The channel's reaction shows on the server under the bot's username, and is gone
/// after unreact.
pub async fn channel_react_and_unreact_seen_by_peer(h: &Harness) -> CaseResult {
    let bot = h.bot();
    let target = h
        .peer
        .post(&h.room, &h.text("the bot reacts to this"), None)
        .await?;
    if !h.channel.capabilities().reactions {
        return expect_unsupported("reactions", h.channel.react(&target, "eyes").await);
    }

    h.channel.react(&target, "eyes").await?;
    h.eventually("the peer sees the bot's reaction", || async {
        let reactions = h.peer.reactions(&target).await?;
        Ok(reactions
            .iter()
            .any(|r| r.emoji == "eyes" && r.usernames.contains(&bot.username))
            .then_some(()))
    })
    .await?;

    h.channel.unreact(&target, "eyes").await?;
    h.eventually("the bot's reaction is gone", || async {
        let reactions = h.peer.reactions(&target).await?;
        Ok((!reactions
            .iter()
            .any(|r| r.emoji == "eyes" && r.usernames.contains(&bot.username)))
        .then_some(()))
    })
    .await
}
