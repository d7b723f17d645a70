//! Where a host has read up to: the point a backend's first connection catches up from
//! after the host restarted.
//!
//! A host (the bridge) keeps one per account and writes it down; a backend given one at
//! start treats its first connection like a reconnect: it reads what each room got after
//! the room's mark and delivers it, except the messages [`ResumePoint::handled`] lists.
//!
//! The marks are per room because rooms progress independently: a message still being
//! prepared in one room (a slow download) must hold back that room's mark, not every
//! room's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{MessageId, RoomId};
use crate::model::Timestamp;

/// How far before a mark a resumed catch-up starts reading, and so how far back
/// [`ResumePoint::handled`] must list ids: messages stamped in the same millisecond as
/// the mark, or delivered slightly out of stamp order, are within it.
pub const RESUME_WINDOW_MS: i64 = 2_000;

/// Where a host has read up to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumePoint {
    /// Rooms not in `rooms`: every message stamped at or before this was handled.
    pub after: Timestamp,
    /// Per room: every message of the room stamped at or before the mark was handled.
    /// A room's mark may be older than `after` (something there is still pending) or
    /// newer (the room was read further than the idle point).
    #[serde(default)]
    pub rooms: BTreeMap<RoomId, Timestamp>,
    /// Messages stamped after their room's mark minus [`RESUME_WINDOW_MS`] that were
    /// handled already: they are not delivered again.
    #[serde(default)]
    pub handled: Vec<MessageId>,
}

impl ResumePoint {
    /// A point where everything up to `after` was handled, in every room.
    pub fn at(after: Timestamp) -> Self {
        Self {
            after,
            ..Self::default()
        }
    }

    /// The mark of `room`: every message of it stamped at or before this was handled.
    pub fn mark_of(&self, room: &RoomId) -> Timestamp {
        self.rooms.get(room).copied().unwrap_or(self.after)
    }

    /// The oldest mark of any room: a catch-up that reads every room from one point must
    /// start here (minus the window) to miss nothing.
    pub fn oldest_mark(&self) -> Timestamp {
        self.rooms
            .values()
            .copied()
            .chain(std::iter::once(self.after))
            .min()
            .unwrap_or(self.after)
    }

    /// Where a catch-up of `room` starts reading: its mark minus the window.
    pub fn read_from(&self, room: &RoomId) -> Timestamp {
        Timestamp(self.mark_of(room).0.saturating_sub(RESUME_WINDOW_MS))
    }

    /// Whether a message of `room` stamped `at` with id `id` is new to the host: stamped
    /// after the room's mark minus the window, and not listed as handled.
    pub fn is_new(&self, room: &RoomId, id: &MessageId, at: Timestamp) -> bool {
        at > self.read_from(room) && !self.handled.contains(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_without_a_mark_use_the_common_one() {
        let mut point = ResumePoint::at(Timestamp(1_000));
        point.rooms.insert(RoomId::new("slow"), Timestamp(400));
        assert_eq!(point.mark_of(&RoomId::new("other")), Timestamp(1_000));
        assert_eq!(point.mark_of(&RoomId::new("slow")), Timestamp(400));
        assert_eq!(point.oldest_mark(), Timestamp(400));
    }

    #[test]
    fn handled_ids_after_the_mark_are_not_new() {
        let mut point = ResumePoint::at(Timestamp(1_000));
        point.handled.push(MessageId::new("m2"));
        let room = RoomId::new("r");
        // Older than the window: handled.
        assert!(!point.is_new(&room, &MessageId::new("m0"), Timestamp(-1_000)));
        // Inside the window: new unless listed.
        assert!(point.is_new(&room, &MessageId::new("m1"), Timestamp(900)));
        assert!(!point.is_new(&room, &MessageId::new("m2"), Timestamp(1_100)));
        assert!(point.is_new(&room, &MessageId::new("m3"), Timestamp(1_100)));
        assert_eq!(point.read_from(&room), Timestamp(1_000 - RESUME_WINDOW_MS));
    }

    #[test]
    fn the_file_form_is_camel_case_and_tolerates_missing_lists() {
        let point: ResumePoint = serde_json::from_str(r#"{"after":5}"#).unwrap();
        assert_eq!(point, ResumePoint::at(Timestamp(5)));
        let text = serde_json::to_string(&point).unwrap();
        assert_eq!(text, r#"{"after":5,"rooms":{},"handled":[]}"#);
    }
}
