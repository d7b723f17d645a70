//! Changing the channel's own messages, and the typing indicator.

use channel_api::OutboundMessage;

use super::expect_unsupported;
use crate::harness::{CaseResult, Harness};

/// The channel edits its message: the server holds the new text under the same id.
pub async fn channel_edit_is_seen_by_peer(h: &Harness) -> CaseResult {
    let old_text = h.text("bot message before edit");
    let sent = h
        .channel
        .send(OutboundMessage::new(h.room.clone(), &old_text))
        .await?;
    let new_text = h.text("bot message after edit");
    if !h.channel.capabilities().edit {
        return expect_unsupported("edit", h.channel.edit(&sent.message, &new_text).await);
    }

    h.channel.edit(&sent.message, &new_text).await?;
    let seen = h.peer_sees_text(&h.room, &new_text).await?;
    ensure!(
        seen.len() == 1,
        "the edited text is on the server {} times",
        seen.len()
    );
    ensure!(
        seen[0].id == sent.message.id,
        "the edit made a new message {:?}",
        seen[0].id
    );
    let held = h.peer.messages(&h.room).await?;
    ensure!(
        !held.iter().any(|m| m.text == old_text),
        "the old text is still on the server"
    );
    Ok(())
}

/// The channel deletes its message: the server no longer holds it.
pub async fn channel_delete_removes_message(h: &Harness) -> CaseResult {
    let text = h.text("bot message to delete");
    let sent = h
        .channel
        .send(OutboundMessage::new(h.room.clone(), &text))
        .await?;
    if !h.channel.capabilities().delete {
        return expect_unsupported("delete", h.channel.delete(&sent.message).await);
    }

    h.peer_sees_text(&h.room, &text).await?;
    h.channel.delete(&sent.message).await?;
    h.eventually("the message is gone", || async {
        let held = h.peer.messages(&h.room).await?;
        Ok((!held.iter().any(|m| m.id == sent.message.id)).then_some(()))
    })
    .await
}

/// Typing on and off succeed, at top level and in a thread (or are Unsupported).
pub async fn typing_on_and_off(h: &Harness) -> CaseResult {
    let caps = h.channel.capabilities();
    if !caps.typing {
        return expect_unsupported("typing", h.channel.set_typing(&h.room, None, true).await);
    }
    h.channel.set_typing(&h.room, None, true).await?;
    h.channel.set_typing(&h.room, None, false).await?;
    if caps.threads {
        let root = h
            .peer
            .post(&h.room, &h.text("typing in my thread"), None)
            .await?;
        h.channel
            .set_typing(&h.room, Some(root.id.clone()), true)
            .await?;
        h.channel.set_typing(&h.room, Some(root.id), false).await?;
    }
    Ok(())
}
