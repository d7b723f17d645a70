//! The ledger: which messages this account has handled, and the resume point it writes to
//! its state file (`stateFile`), so a restarted bridge (a config reload, a plugin reload,
//! a gateway restart, a crash) catches up on what it had not handled, once, and does not
//! hand over again what it had.
//!
//! # The rule
//! A message is *handled* when the policy did not admit it (skipped or dropped), or when
//! the plugin acknowledged it (`ack`, after OpenClaw accepted it). An admitted message is
//! *pending* from the moment it is read until its ack: while it is being prepared (a slow
//! download, a history fetch), while its notification waits for its room's turn, and
//! after it was written until the plugin confirms. **The resume point never passes a
//! pending message**: its room's mark stays just before the oldest pending message of the
//! room, whatever was handled after it, in that room or in others.
//!
//! # The point ([`channel_api::ResumePoint`])
//! - `after`, the common mark: the newest stamp read while the connection was active.
//!   It does not move while the connection is down or catching up: the catch-up after an
//!   outage reads rooms in any order, so until it is complete (the next `Active`) only the
//!   rooms it has delivered are known to be read further.
//! - `rooms`: a mark for every room that differs from `after`: rooms with a pending
//!   message (the stamp before the oldest one), rooms read during a catch-up, and, until
//!   the first connection of a resumed process is active, the marks it inherited.
//! - `handled`: the handled messages stamped within the resume window before their room's
//!   mark, so the catch-up, which reads from a little before each mark, skips them.
//!
//! The file also keeps each of those ids with its room and stamp (`handledAt`). A resumed
//! ledger takes them as its own handled messages, so it lists them for as long as their
//! room's mark needs them, not only until its first connection is active: a room whose
//! mark an older pending message holds back (handed over again after the restart) would
//! otherwise read them as new at the next restart, and hand over again messages whose ack
//! was written down (found by `bridge/tests/crash.rs`).
//!
//! # Writing
//! The point is written (temporary file, then rename; mode 0600) by a writer task off
//! the event pump, shortly after it changes, and once more at a clean stop. A written
//! point may lag the ledger (a crash then hands over again what was handled since: a
//! duplicate, which the plugin's dedupe by message id absorbs) but is never ahead of it:
//! nothing is lost.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use channel_api::resume::{ResumePoint, RESUME_WINDOW_MS};
use channel_api::{MessageId, RoomId, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// Handled ids kept per room for the window before its mark; more than this within a few
/// seconds is a firehose, and the oldest of them are redelivered at worst (duplicates).
const MAX_HANDLED_PER_ROOM: usize = 2_000;
/// Ids are kept a little further back than the window, for clock jitter.
const KEEP_BACK_MS: i64 = RESUME_WINDOW_MS + 1_000;
/// Changes within this long are written together.
const WRITE_COALESCE: Duration = Duration::from_millis(50);

/// The file's content. Version 2 holds a [`ResumePoint`]; version 1 (one mark and the ids
/// near it) is still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateFile {
    version: u32,
    #[serde(default)]
    point: Option<ResumePoint>,
    /// Version 1.
    #[serde(default)]
    after_ms: Option<i64>,
    /// Version 1.
    #[serde(default)]
    delivered: Vec<String>,
    /// The handled ids of `point.handled` with their room and stamp, so a resumed ledger
    /// keeps them for as long as their room's mark needs them (see [`Ledger::load`]).
    /// Missing in files written before it: those ids are kept until the first active
    /// connection only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    handled_at: Option<BTreeMap<RoomId, Vec<(MessageId, Timestamp)>>>,
}

/// One room's part of the ledger.
#[derive(Debug, Default)]
struct Room {
    /// Admitted messages not acknowledged yet: (stamp, id).
    pending: BTreeSet<(Timestamp, MessageId)>,
    /// Handled messages, oldest first, kept for the window before the mark.
    handled: VecDeque<(Timestamp, MessageId)>,
    /// The newest stamp handled (or, before the first read here, the inherited mark).
    read_to: Option<Timestamp>,
    /// Whether this room was read while the connection was not active (a catch-up).
    read_while_down: bool,
}

impl Room {
    /// The room's mark: just before its oldest pending message; else, when it was read
    /// during a catch-up (or inherited), what it was read to; else the common mark, or
    /// further when the room was read further.
    fn mark(&self, after: Timestamp) -> Timestamp {
        match (self.pending.first(), self.read_while_down) {
            (Some((oldest, _)), _) => Timestamp(oldest.0.saturating_sub(1)),
            (None, true) => self.read_to.unwrap_or(after),
            (None, false) => self.read_to.map_or(after, |r| r.max(after)),
        }
    }

    fn note_handled(&mut self, at: Timestamp, id: MessageId) {
        self.read_to = Some(self.read_to.map_or(at, |r| r.max(at)));
        self.handled.push_back((at, id));
        while self.handled.len() > MAX_HANDLED_PER_ROOM {
            self.handled.pop_front();
        }
    }

    /// Forgets handled ids too old to matter for `mark`.
    fn prune(&mut self, mark: Timestamp) {
        let floor = mark.0.saturating_sub(KEEP_BACK_MS);
        while self.handled.front().is_some_and(|(at, _)| at.0 < floor) {
            self.handled.pop_front();
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// The common mark (see the module doc); `None` until anything was read or loaded.
    after: Option<Timestamp>,
    /// The newest stamp read while down, applied to `after` at the next `Active`.
    newest_while_down: Option<Timestamp>,
    active: bool,
    /// Whether the first connection has been active (inherited marks are then obsolete).
    ever_active: bool,
    rooms: HashMap<RoomId, Room>,
    /// Ids the previous process had handled, kept until the first connection is active.
    inherited_handled: Vec<MessageId>,
    /// Changed since the last write.
    dirty: bool,
}

impl State {
    fn room(&mut self, room: &RoomId) -> &mut Room {
        self.rooms.entry(room.clone()).or_default()
    }

    fn note_stamp(&mut self, at: Timestamp) {
        if self.active {
            self.after = Some(self.after.map_or(at, |a| a.max(at)));
        } else {
            self.newest_while_down = Some(self.newest_while_down.map_or(at, |n| n.max(at)));
        }
    }

    #[cfg(test)]
    fn point(&mut self) -> Option<ResumePoint> {
        self.snapshot().map(|(point, _)| point)
    }

    /// The point, and its handled ids with their rooms and stamps (those without are the
    /// inherited ids of a file that had none).
    fn snapshot(&mut self) -> Option<(ResumePoint, HandledAt)> {
        let after = self.after?;
        let mut point = ResumePoint::at(after);
        let mut stamped = HandledAt::new();
        for (id, room) in &mut self.rooms {
            let mark = room.mark(after);
            room.prune(mark);
            if mark != after {
                point.rooms.insert(id.clone(), mark);
            }
            let from = mark.0.saturating_sub(RESUME_WINDOW_MS);
            let needed: Vec<(MessageId, Timestamp)> = room
                .handled
                .iter()
                .filter(|(at, _)| at.0 > from)
                .map(|(at, id)| (id.clone(), *at))
                .collect();
            if !needed.is_empty() {
                point
                    .handled
                    .extend(needed.iter().map(|(id, _)| id.clone()));
                stamped.insert(id.clone(), needed);
            }
        }
        point.handled.extend(self.inherited_handled.iter().cloned());
        Some((point, stamped))
    }
}

/// Handled ids with their stamps, per room.
type HandledAt = BTreeMap<RoomId, Vec<(MessageId, Timestamp)>>;

/// The ledger of one account.
#[derive(Debug)]
pub(crate) struct Ledger {
    path: PathBuf,
    state: Mutex<State>,
    changed: Notify,
    /// `<stateFile>.lock`, locked for as long as this ledger lives: two bridges never
    /// share one state file (each would move the other's resume point).
    _lock: std::fs::File,
}

/// Why a state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LedgerError {
    /// Another running bridge holds it.
    #[error("{path} is in use by another bridge: every account needs a stateFile of its own")]
    InUse {
        /// The state file.
        path: String,
    },
    /// The lock file cannot be opened.
    #[error("cannot open {path}: {source}")]
    Io {
        /// The lock file.
        path: String,
        /// Why.
        source: io::Error,
    },
}

impl Ledger {
    /// Reads the state file. Returns the ledger and the point to resume from: `None` when
    /// there is no file, it cannot be read (logged), or its common mark is older than
    /// `max_age` (a bot that was away for long does not answer old messages; 0 turns
    /// resuming off).
    ///
    /// The ids the last process had handled are the new ledger's handled ids too, in their
    /// rooms, for as long as their room's mark needs them: a room whose mark is held back
    /// by an older pending message (handed over again after the restart) must not read
    /// them as new at the next restart either.
    pub(crate) fn load(
        path: &Path,
        max_age: Duration,
    ) -> Result<(Arc<Self>, Option<ResumePoint>), LedgerError> {
        let lock = lock_file(path)?;
        let (point, handled_at) = match read_point(path) {
            Some((point, handled_at)) => (Some(point), handled_at),
            None => (None, None),
        };
        let point = point.filter(|point| {
            let age_ms = now_ms().saturating_sub(point.after.0);
            let max_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
            let fresh = !max_age.is_zero() && age_ms <= max_ms;
            if !fresh {
                tracing::info!(
                    age_s = age_ms / 1000,
                    max_s = max_age.as_secs(),
                    "the resume point is older than resumeMaxAgeSeconds; starting from now"
                );
            }
            fresh
        });
        let mut state = State::default();
        if let Some(point) = &point {
            tracing::info!(
                after_ms = point.after.0,
                rooms = point.rooms.len(),
                handled = point.handled.len(),
                "resuming where the last process stopped"
            );
            state.after = Some(point.after);
            for (room, mark) in &point.rooms {
                state.room(room).read_to = Some(*mark);
                state.room(room).read_while_down = true;
            }
            let mut stamped = HashSet::new();
            for (room, ids) in handled_at.unwrap_or_default() {
                let mut ids = ids;
                ids.sort_by_key(|(_, at)| *at);
                let entry = state.room(&room);
                for (id, at) in ids {
                    stamped.insert(id.clone());
                    entry.handled.push_back((at, id));
                }
            }
            // Ids without a stamp (a file from before `handledAt`) are kept until the
            // first connection is active.
            state.inherited_handled = point
                .handled
                .iter()
                .filter(|id| !stamped.contains(*id))
                .cloned()
                .collect();
        }
        let ledger = Arc::new(Self {
            path: path.to_owned(),
            state: Mutex::new(state),
            changed: Notify::new(),
            _lock: lock,
        });
        Ok((ledger, point))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn touch(&self, mut state: MutexGuard<'_, State>) {
        state.dirty = true;
        drop(state);
        self.changed.notify_one();
    }

    /// A new message was read: handled at once when not admitted, pending until its ack
    /// when admitted.
    pub(crate) fn read(&self, room: &RoomId, id: &MessageId, at: Timestamp, admitted: bool) {
        let mut state = self.state();
        state.note_stamp(at);
        let active = state.active;
        let entry = state.room(room);
        if !active {
            entry.read_while_down = true;
        }
        if admitted {
            entry.pending.insert((at, id.clone()));
        } else {
            entry.note_handled(at, id.clone());
        }
        self.touch(state);
    }

    /// The plugin acknowledged these messages. Returns how many were pending.
    pub(crate) fn acked(&self, ids: &[MessageId]) -> usize {
        let mut state = self.state();
        let mut found = 0;
        for id in ids {
            for room in state.rooms.values_mut() {
                let Some(key) = room.pending.iter().find(|(_, p)| p == id).cloned() else {
                    continue;
                };
                room.pending.remove(&key);
                room.note_handled(key.0, key.1);
                found += 1;
                break;
            }
        }
        if found > 0 {
            self.touch(state);
        }
        found
    }

    /// The connection became active (`true`) or went down (`false`). While it is down
    /// the common mark stands still; at `Active` the catch-up is complete.
    pub(crate) fn connection(&self, active: bool) {
        let mut state = self.state();
        if state.active == active {
            return;
        }
        state.active = active;
        if active {
            if let Some(newest) = state.newest_while_down.take() {
                state.after = Some(state.after.map_or(newest, |a| a.max(newest)));
            }
            if !state.ever_active {
                state.ever_active = true;
                state.inherited_handled.clear();
            }
            // Every room has been read up to now: no room needs its own mark for that.
            for room in state.rooms.values_mut() {
                room.read_while_down = false;
            }
            let after = state.after;
            state.rooms.retain(|_, room| {
                !room.pending.is_empty()
                    || !room.handled.is_empty()
                    || room.read_to.zip(after).is_some_and(|(r, a)| r > a)
            });
        }
        self.touch(state);
    }

    /// Messages read but not acknowledged yet.
    pub(crate) fn pending(&self) -> usize {
        self.state().rooms.values().map(|r| r.pending.len()).sum()
    }

    /// The point as it stands now (`None` before anything was read or loaded).
    #[cfg(test)]
    pub(crate) fn point(&self) -> Option<ResumePoint> {
        self.state().point()
    }

    /// Writes the point if it changed since the last write. A failure is logged: the
    /// bridge keeps working, and a restart would resume from an older point (duplicates,
    /// never a loss).
    pub(crate) async fn write_if_changed(&self) {
        let snapshot = {
            let mut state = self.state();
            if !state.dirty {
                return;
            }
            state.dirty = false;
            state.snapshot()
        };
        let Some((point, handled_at)) = snapshot else {
            return;
        };
        let path = self.path.clone();
        let written =
            tokio::task::spawn_blocking(move || write_point(&path, &point, handled_at)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(path = %self.path.display(), error = %e, "could not write the state file")
            }
            Err(e) => tracing::warn!(error = %e, "the state file writer failed"),
        }
    }

    /// Writes the point whenever it changes, until `stop` fires; then once more.
    pub(crate) async fn write_until(self: Arc<Self>, stop: Arc<Notify>) {
        loop {
            tokio::select! {
                () = self.changed.notified() => {}
                () = stop.notified() => break,
            }
            // A burst of changes (a busy stream, a batch of acks) makes one write.
            tokio::select! {
                () = tokio::time::sleep(WRITE_COALESCE) => {}
                () = stop.notified() => break,
            }
            self.write_if_changed().await;
        }
        self.write_if_changed().await;
    }
}

/// Takes the exclusive lock of `<path>.lock` (released when the process ends, however it
/// ends).
fn lock_file(path: &Path) -> Result<std::fs::File, LedgerError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let io_error = |source| LedgerError::Io {
        path: lock_path.display().to_string(),
        source,
    };
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_error)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(LedgerError::InUse {
            path: path.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io_error(e)),
    }
}

fn read_point(path: &Path) -> Option<(ResumePoint, Option<HandledAt>)> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the state file; starting from now");
            return None;
        }
    };
    match serde_json::from_slice::<StateFile>(&bytes) {
        Ok(StateFile {
            version: 2,
            point: Some(point),
            handled_at,
            ..
        }) => Some((point, handled_at)),
        Ok(StateFile {
            version: 1,
            after_ms: Some(after),
            delivered,
            ..
        }) => Some((
            ResumePoint {
                after: Timestamp(after),
                rooms: Default::default(),
                handled: delivered.into_iter().map(MessageId::new).collect(),
            },
            None,
        )),
        Ok(file) => {
            tracing::warn!(path = %path.display(), version = file.version, "unknown state file version; starting from now");
            None
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "unreadable state file; starting from now");
            None
        }
    }
}

fn write_point(path: &Path, point: &ResumePoint, handled_at: HandledAt) -> io::Result<()> {
    let file = StateFile {
        version: 2,
        point: Some(point.clone()),
        after_ms: None,
        delivered: Vec::new(),
        handled_at: Some(handled_at),
    };
    let bytes = serde_json::to_vec(&file).map_err(io::Error::other)?;
    write_private_atomically(path, &bytes)
}

/// Writes `bytes` to a sibling temporary file (mode 0600) and renames it over `path`, so a
/// reader never sees half a file.
fn write_private_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "bridge-resume-{}-{}-{name}",
            std::process::id(),
            now_ms()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("state.json")
    }

    fn id(s: &str) -> MessageId {
        MessageId::new(s)
    }

    fn room(s: &str) -> RoomId {
        RoomId::new(s)
    }

    fn fresh(name: &str) -> Arc<Ledger> {
        let (ledger, point) = Ledger::load(&temp_path(name), HOUR).unwrap();
        assert_eq!(point, None);
        ledger.connection(true);
        ledger
    }

    #[test]
    fn the_point_never_passes_a_pending_message() {
        // The crash-loss hole: A is admitted and still being prepared; B, later in the same
        // room, is skipped; C in another room too. The point must still read A again.
        let now = now_ms();
        let ledger = fresh("pending");
        ledger.read(&room("R1"), &id("A"), Timestamp(now), true);
        ledger.read(&room("R1"), &id("B"), Timestamp(now + 10), false);
        ledger.read(&room("R2"), &id("C"), Timestamp(now + 20), false);
        let point = ledger.point().unwrap();
        assert!(point.is_new(&room("R1"), &id("A"), Timestamp(now)));
        assert!(!point.is_new(&room("R1"), &id("B"), Timestamp(now + 10)));
        assert!(!point.is_new(&room("R2"), &id("C"), Timestamp(now + 20)));
        assert_eq!(point.mark_of(&room("R1")), Timestamp(now - 1));
        // Once acked, the room moves on.
        assert_eq!(ledger.acked(&[id("A"), id("unknown")]), 1);
        let point = ledger.point().unwrap();
        assert!(!point.is_new(&room("R1"), &id("A"), Timestamp(now)));
        assert_eq!(ledger.pending(), 0);
    }

    #[test]
    fn the_common_mark_stands_still_while_the_connection_is_down() {
        let now = now_ms();
        let ledger = fresh("down");
        ledger.read(&room("R1"), &id("a"), Timestamp(now), false);
        ledger.connection(false);
        // The catch-up delivers R2's gap first; R3's gap is not read yet.
        ledger.read(&room("R2"), &id("b"), Timestamp(now + 5_000), false);
        let point = ledger.point().unwrap();
        assert_eq!(point.after, Timestamp(now));
        assert_eq!(point.mark_of(&room("R2")), Timestamp(now + 5_000));
        assert!(point.is_new(&room("R3"), &id("c"), Timestamp(now + 4_000)));
        // Active: the catch-up is complete, the common mark moves on.
        ledger.connection(true);
        assert_eq!(ledger.point().unwrap().after, Timestamp(now + 5_000));
    }

    #[tokio::test]
    async fn a_written_point_is_read_back_and_resumed() {
        let path = temp_path("written");
        let now = now_ms();
        let (ledger, _) = Ledger::load(&path, HOUR).unwrap();
        ledger.connection(true);
        ledger.read(&room("R1"), &id("a"), Timestamp(now - 1_000), false);
        ledger.read(&room("R1"), &id("b"), Timestamp(now), true);
        ledger.write_if_changed().await;
        drop(ledger);
        let (again, point) = Ledger::load(&path, HOUR).unwrap();
        let point = point.unwrap();
        assert!(point.is_new(&room("R1"), &id("b"), Timestamp(now)));
        assert!(!point.is_new(&room("R1"), &id("a"), Timestamp(now - 1_000)));
        // The new ledger keeps what it inherited, in its room, while the room's mark needs
        // it: `a` is within the window before the mark.
        assert_eq!(again.point().unwrap(), point);
        again.connection(true);
        assert_eq!(again.point().unwrap().handled, [id("a")]);
    }

    #[tokio::test]
    async fn a_handled_message_stays_handled_across_two_restarts() {
        // Found by the crash test (bridge/tests/crash.rs): P is pending (never acked) and
        // M after it in the same room was acked; the state file says so. The next process
        // hands P over again, which holds the room's mark before M. Its first connection
        // becomes active, and it is killed. Its state file must still say M is handled, or
        // the process after it hands M over again although its ack was written down.
        let path = temp_path("two-restarts");
        let now = now_ms();
        let r = room("R1");
        let (first, _) = Ledger::load(&path, HOUR).unwrap();
        first.connection(true);
        first.read(&r, &id("P"), Timestamp(now - 5_000), true);
        first.read(&r, &id("M"), Timestamp(now - 4_000), true);
        first.read(&room("R2"), &id("x"), Timestamp(now), false);
        assert_eq!(first.acked(&[id("M")]), 1);
        first.write_if_changed().await;
        drop(first); // a restart: the state file's lock goes with the process

        let (second, point) = Ledger::load(&path, HOUR).unwrap();
        let point = point.unwrap();
        assert!(point.is_new(&r, &id("P"), Timestamp(now - 5_000)));
        assert!(!point.is_new(&r, &id("M"), Timestamp(now - 4_000)));
        // Its catch-up hands P over again (M is skipped as handled), then it is active.
        second.read(&r, &id("P"), Timestamp(now - 5_000), true);
        second.connection(true);
        second.read(&room("R2"), &id("y"), Timestamp(now + 10), false);
        second.write_if_changed().await;
        drop(second);

        let (_, point) = Ledger::load(&path, HOUR).unwrap();
        let point = point.unwrap();
        assert!(
            point.is_new(&r, &id("P"), Timestamp(now - 5_000)),
            "P is still pending"
        );
        assert!(
            !point.is_new(&r, &id("M"), Timestamp(now - 4_000)),
            "M was acked two processes ago: {point:?}"
        );
    }

    #[tokio::test]
    async fn inherited_ids_without_stamps_are_still_honoured_until_active() {
        // A state file from before `handledAt`: the ids are kept until the first
        // connection is active, as they were.
        let path = temp_path("no-stamps");
        let now = now_ms();
        std::fs::write(
            &path,
            format!(r#"{{"version":2,"point":{{"after":{now},"rooms":{{}},"handled":["a"]}}}}"#),
        )
        .unwrap();
        let (ledger, point) = Ledger::load(&path, HOUR).unwrap();
        assert_eq!(point.unwrap().handled, [id("a")]);
        assert_eq!(ledger.point().unwrap().handled, [id("a")]);
        ledger.connection(true);
        assert!(ledger.point().unwrap().handled.is_empty());
    }

    #[test]
    fn an_old_point_is_not_resumed_and_zero_turns_resuming_off() {
        let path = temp_path("old");
        write_point(
            &path,
            &ResumePoint::at(Timestamp(now_ms() - 2 * 3_600_000)),
            HandledAt::new(),
        )
        .unwrap();
        assert_eq!(Ledger::load(&path, HOUR).unwrap().1, None);
        write_point(
            &path,
            &ResumePoint::at(Timestamp(now_ms())),
            HandledAt::new(),
        )
        .unwrap();
        assert!(Ledger::load(&path, HOUR).unwrap().1.is_some());
        assert_eq!(Ledger::load(&path, Duration::ZERO).unwrap().1, None);
    }

    #[test]
    fn a_version_1_file_is_still_read() {
        let path = temp_path("v1");
        let now = now_ms();
        std::fs::write(
            &path,
            format!(r#"{{"version":1,"afterMs":{now},"delivered":["a","b"]}}"#),
        )
        .unwrap();
        let point = Ledger::load(&path, HOUR).unwrap().1.unwrap();
        assert_eq!(point.after, Timestamp(now));
        assert_eq!(point.handled, [id("a"), id("b")]);
    }

    #[test]
    fn two_ledgers_never_share_a_state_file() {
        let path = temp_path("shared");
        let (first, _) = Ledger::load(&path, HOUR).unwrap();
        let err = Ledger::load(&path, HOUR).unwrap_err();
        assert!(matches!(err, LedgerError::InUse { .. }), "{err}");
        assert!(err.to_string().contains("stateFile of its own"));
        drop(first);
        assert!(
            Ledger::load(&path, HOUR).is_ok(),
            "released with the ledger"
        );
    }

    #[test]
    fn a_garbled_file_is_ignored_not_fatal() {
        let path = temp_path("garbled");
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(Ledger::load(&path, HOUR).unwrap().1, None);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_path("private");
        write_point(
            &path,
            &ResumePoint::at(Timestamp(now_ms())),
            HandledAt::new(),
        )
        .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_id_list_stays_bounded_in_a_burst() {
        let ledger = fresh("burst");
        let now = now_ms();
        for i in 0..(MAX_HANDLED_PER_ROOM + 500) {
            ledger.read(&room("R1"), &id(&format!("m{i}")), Timestamp(now), false);
        }
        assert!(ledger.point().unwrap().handled.len() <= MAX_HANDLED_PER_ROOM);
    }
}
