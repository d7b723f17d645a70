//! Finding rooms, and what does not exist.

use channel_api::{Error, MessageId, MessageRef, OutboundMessage, RoomId, RoomKind, RoomQuery};

use super::{expect_error, expect_unsupported};
use crate::harness::{CaseResult, Harness};

fn not_found(e: &Error) -> bool {
    matches!(e, Error::NotFound { .. })
}

/// The test room resolves by id and by name to the same room; the DM resolves by id as
/// Direct.
pub async fn room_resolves_by_name_and_id(h: &Harness) -> CaseResult {
    let by_id = h
        .channel
        .resolve_room(&RoomQuery::Id(h.room.clone()))
        .await?;
    ensure!(
        by_id.id == h.room,
        "resolving by id gave room {:?}",
        by_id.id
    );
    ensure!(!by_id.kind.is_direct(), "the group room resolved as Direct");
    ensure!(
        by_id.name.as_deref() == Some(h.room_name.as_str()),
        "the room's name is {:?}, expected {:?}",
        by_id.name,
        h.room_name
    );

    let dm = h
        .channel
        .resolve_room(&RoomQuery::Id(h.dm_room.clone()))
        .await?;
    ensure!(
        dm.id == h.dm_room,
        "resolving the DM by id gave room {:?}",
        dm.id
    );
    ensure!(
        dm.kind == RoomKind::Direct,
        "the DM resolved as {:?}",
        dm.kind
    );

    let by_name = h
        .channel
        .resolve_room(&RoomQuery::Name(h.room_name.clone()))
        .await;
    if !h.channel.capabilities().resolve_by_name {
        return expect_unsupported("resolve_by_name", by_name);
    }
    let by_name = by_name?;
    ensure!(
        by_name == by_id,
        "by name gave {by_name:?}, by id gave {by_id:?}"
    );
    Ok(())
}

/// Unknown rooms are `NotFound`: resolving by id or name, and sending to one.
pub async fn unknown_room_is_not_found(h: &Harness) -> CaseResult {
    let missing_id = RoomId::new(format!("noSuchRoom{}", h.run_id));
    expect_error(
        "resolving an unknown room id",
        "NotFound",
        h.channel
            .resolve_room(&RoomQuery::Id(missing_id.clone()))
            .await,
        not_found,
    )?;
    let by_name = h
        .channel
        .resolve_room(&RoomQuery::Name(format!("no-such-room-{}", h.run_id)))
        .await;
    if h.channel.capabilities().resolve_by_name {
        expect_error(
            "resolving an unknown room name",
            "NotFound",
            by_name,
            not_found,
        )?;
    } else {
        expect_unsupported("resolve_by_name", by_name)?;
    }
    expect_error(
        "sending to an unknown room",
        "NotFound",
        h.channel
            .send(OutboundMessage::new(missing_id, h.text("nowhere")))
            .await,
        not_found,
    )
}

/// Acting on an unknown message in a known room is `NotFound` (or `Unsupported` where the
/// capability is missing).
pub async fn unknown_message_is_not_found(h: &Harness) -> CaseResult {
    let caps = h.channel.capabilities();
    let missing = MessageRef {
        room: h.room.clone(),
        id: MessageId::new(format!("noSuchMsg{}", h.run_id)),
    };
    let react = h.channel.react(&missing, "eyes").await;
    if caps.reactions {
        expect_error(
            "reacting to an unknown message",
            "NotFound",
            react,
            not_found,
        )?;
    } else {
        expect_unsupported("reactions", react)?;
    }
    let edit = h.channel.edit(&missing, &h.text("edit nothing")).await;
    if caps.edit {
        expect_error("editing an unknown message", "NotFound", edit, not_found)?;
    } else {
        expect_unsupported("edit", edit)?;
    }
    let delete = h.channel.delete(&missing).await;
    if caps.delete {
        expect_error("deleting an unknown message", "NotFound", delete, not_found)?;
    } else {
        expect_unsupported("delete", delete)?;
    }
    if caps.threads {
        let reply =
            OutboundMessage::new(h.room.clone(), h.text("reply to nothing")).in_thread(missing.id);
        expect_error(
            "replying in an unknown thread",
            "NotFound",
            h.channel.send(reply).await,
            not_found,
        )?;
    }
    Ok(())
}
