//! How far each room has been read: the point a catch-up of that room starts from.
//!
//! Rooms progress independently, so each has its own mark (the newest `_updatedAt` read in
//! it, live or caught up). A room whose catch-up did not complete (refused, or a document
//! the backend cannot read) is *behind*: its mark stays where the gap begins, whatever the
//! live stream brings later, so the next catch-up reads that room again from there while
//! the other rooms are read from their own, newer marks.
//!
//! Rooms without a mark are read from the floor: the start of the first connection, or an
//! earlier process's common mark when this one resumed. The marks are bounded; a room whose
//! mark was forgotten falls back to the floor, which only re-reads (duplicates are dropped
//! by the mapper), never skips.

use std::collections::HashSet;

use channel_api::resume::{ResumePoint, RESUME_WINDOW_MS};

use crate::bounded::BoundedMap;

/// Rooms with a mark at most (more fall back to the floor).
const MARKS: usize = 10_000;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct ReadMarks {
    floor: i64,
    marks: BoundedMap<String, i64>,
    behind: HashSet<String>,
}

impl ReadMarks {
    pub(crate) fn new(floor: i64) -> Self {
        Self {
            floor,
            marks: BoundedMap::new(MARKS),
            behind: HashSet::new(),
        }
    }

    /// Marks from an earlier process's resume point: each room from its own mark, the
    /// others from its common one.
    pub(crate) fn from_resume(point: &ResumePoint) -> Self {
        let mut marks = Self::new(point.after.0);
        for (room, mark) in &point.rooms {
            marks.marks.insert(room.as_str().to_owned(), mark.0);
        }
        marks
    }

    /// Moves the floor (the first connection of a process that did not resume).
    pub(crate) fn set_floor(&mut self, floor: i64) {
        self.floor = floor;
    }

    /// The mark of `room`: everything updated up to it was read.
    pub(crate) fn mark_of(&self, room: &str) -> i64 {
        self.marks.get(room).copied().unwrap_or(self.floor)
    }

    /// Where a catch-up of `room` starts: its mark minus [`RESUME_WINDOW_MS`] (documents
    /// stamped in the same millisecond, or broadcast slightly out of stamp order).
    pub(crate) fn read_from(&self, room: &str) -> i64 {
        self.mark_of(room).saturating_sub(RESUME_WINDOW_MS)
    }

    /// A document of `room` updated at `updated_at` was read (live or caught up). A room
    /// that is behind keeps its mark.
    pub(crate) fn read(&mut self, room: &str, updated_at: i64) {
        if self.behind.contains(room) {
            return;
        }
        self.advance(room, updated_at);
    }

    /// A catch-up of `room` completed, up to `newest` (the newest `_updatedAt` it
    /// returned): the room is no longer behind.
    pub(crate) fn caught_up(&mut self, room: &str, newest: Option<i64>) {
        self.behind.remove(room);
        if let Some(newest) = newest {
            self.advance(room, newest);
        }
    }

    /// A catch-up of `room` did not complete: its mark stays until one does.
    pub(crate) fn fell_behind(&mut self, room: &str) {
        self.behind.insert(room.to_owned());
    }

    #[cfg(test)]
    pub(crate) fn is_behind(&self, room: &str) -> bool {
        self.behind.contains(room)
    }

    fn advance(&mut self, room: &str, to: i64) {
        let current = self.marks.get(room).copied();
        if current.is_none_or(|m| to > m) {
            self.marks.insert(room.to_owned(), to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use channel_api::{RoomId, Timestamp};

    #[test]
    fn each_room_is_read_from_its_own_mark() {
        let mut marks = ReadMarks::new(1_000);
        marks.read("A", 50_000);
        marks.read("B", 20_000);
        marks.read("A", 40_000); // an older version does not move the mark back
        assert_eq!(marks.mark_of("A"), 50_000);
        assert_eq!(marks.mark_of("B"), 20_000);
        assert_eq!(marks.mark_of("C"), 1_000);
        assert_eq!(marks.read_from("A"), 50_000 - RESUME_WINDOW_MS);
    }

    #[test]
    fn a_room_behind_keeps_its_mark_until_it_is_caught_up() {
        let mut marks = ReadMarks::new(0);
        marks.read("B", 20_000);
        marks.fell_behind("B");
        // Live messages after the gap do not hide it.
        marks.read("B", 90_000);
        assert_eq!(marks.mark_of("B"), 20_000);
        assert!(marks.is_behind("B"));
        marks.caught_up("B", Some(95_000));
        assert!(!marks.is_behind("B"));
        assert_eq!(marks.mark_of("B"), 95_000);
        // A catch-up that found nothing keeps the mark.
        marks.caught_up("B", None);
        assert_eq!(marks.mark_of("B"), 95_000);
    }

    #[test]
    fn a_resume_point_gives_the_marks() {
        let mut point = ResumePoint::at(Timestamp(5_000));
        point.rooms.insert(RoomId::new("slow"), Timestamp(3_000));
        let marks = ReadMarks::from_resume(&point);
        assert_eq!(marks.mark_of("slow"), 3_000);
        assert_eq!(marks.mark_of("other"), 5_000);
    }
}
