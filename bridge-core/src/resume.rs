//! Where this account stopped reading, kept in a small state file (`stateFile`) so that a
//! restarted bridge (OpenClaw reloads a channel on config changes, a gateway restarts)
//! catches up on what was posted meanwhile instead of missing it, and does not hand the
//! agent again what the earlier process already handed it.
//!
//! The file holds the newest server timestamp of a message the bridge has been given
//! (admitted or not: a skipped message was handled too) and the ids given within a few
//! seconds of it. It is rewritten (temporary file, then rename; mode 0600) whenever the
//! event stream is idle and when the bridge stops, so a clean stop resumes exactly; after
//! a crash, the messages read since the last idle moment may be handed over again.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use channel_api::resume::{ResumePoint, RESUME_WINDOW_MS};
use channel_api::{MessageId, Timestamp};
use serde::{Deserialize, Serialize};

/// Ids kept for the window around the newest message; more than this within a few seconds
/// is a firehose, and the oldest of them are far enough back to be filtered by time.
const MAX_RECENT_IDS: usize = 2_000;
/// Ids are kept a little further back than the backend's window, for clock jitter.
const KEEP_BACK_MS: i64 = RESUME_WINDOW_MS + 1_000;

/// The file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateFile {
    version: u32,
    after_ms: i64,
    delivered: Vec<String>,
}

/// The resume state of one account, in memory and on disk.
#[derive(Debug)]
pub(crate) struct ResumeState {
    path: PathBuf,
    after_ms: i64,
    /// (timestamp, id) of the messages given near `after_ms`, oldest first.
    recent: VecDeque<(i64, String)>,
    dirty: bool,
}

impl ResumeState {
    /// Reads the state file. Returns the state to keep updating and the point to resume
    /// from: `None` when there is no file, it cannot be read (logged), or it is older than
    /// `max_age` (a bot that was away for long does not answer old messages).
    pub(crate) fn load(path: &Path, max_age: Duration) -> (Self, Option<ResumePoint>) {
        let mut state = Self {
            path: path.to_owned(),
            after_ms: 0,
            recent: VecDeque::new(),
            dirty: false,
        };
        let file = match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<StateFile>(&bytes) {
                Ok(file) if file.version == 1 => file,
                Ok(file) => {
                    tracing::warn!(path = %path.display(), version = file.version, "unknown state file version; starting from now");
                    return (state, None);
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unreadable state file; starting from now");
                    return (state, None);
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => return (state, None),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the state file; starting from now");
                return (state, None);
            }
        };
        state.after_ms = file.after_ms;
        state.recent = file
            .delivered
            .iter()
            .map(|id| (file.after_ms, id.clone()))
            .collect();
        let age_ms = now_ms().saturating_sub(file.after_ms);
        let max_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        if max_age.is_zero() || age_ms > max_ms {
            tracing::info!(
                age_s = age_ms / 1000,
                max_s = max_age.as_secs(),
                "the last message read is older than resumeMaxAgeSeconds; starting from now"
            );
            return (state, None);
        }
        tracing::info!(
            after_ms = file.after_ms,
            ids = file.delivered.len(),
            "resuming where the last process stopped"
        );
        let point = ResumePoint {
            after: Timestamp(file.after_ms),
            rooms: Default::default(),
            handled: file.delivered.into_iter().map(MessageId::new).collect(),
        };
        (state, Some(point))
    }

    /// Notes a message the bridge was given.
    pub(crate) fn observe(&mut self, timestamp_ms: i64, id: &str) {
        self.after_ms = self.after_ms.max(timestamp_ms);
        self.recent.push_back((timestamp_ms, id.to_owned()));
        let floor = self.after_ms.saturating_sub(KEEP_BACK_MS);
        while self
            .recent
            .front()
            .is_some_and(|(ts, _)| *ts < floor || self.recent.len() > MAX_RECENT_IDS)
        {
            self.recent.pop_front();
        }
        self.dirty = true;
    }

    /// Writes the file if anything changed since the last write.
    pub(crate) fn save_if_changed(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let floor = self.after_ms.saturating_sub(KEEP_BACK_MS);
        let file = StateFile {
            version: 1,
            after_ms: self.after_ms,
            delivered: self
                .recent
                .iter()
                .filter(|(ts, _)| *ts >= floor)
                .map(|(_, id)| id.clone())
                .collect(),
        };
        let bytes = serde_json::to_vec(&file).map_err(io::Error::other)?;
        write_private_atomically(&self.path, &bytes)?;
        self.dirty = false;
        Ok(())
    }
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

    #[test]
    fn no_file_means_start_from_now() {
        let (_, point) = ResumeState::load(&temp_path("none"), HOUR);
        assert_eq!(point, None);
    }

    #[test]
    fn a_saved_state_resumes_with_the_ids_near_the_newest_message() {
        let path = temp_path("saved");
        let now = now_ms();
        let (mut state, _) = ResumeState::load(&path, HOUR);
        state.observe(now - 60_000, "old");
        state.observe(now - 1_000, "a");
        state.observe(now, "b");
        state.save_if_changed().unwrap();
        let (_, point) = ResumeState::load(&path, HOUR);
        assert_eq!(
            point,
            Some(ResumePoint {
                after: Timestamp(now),
                rooms: Default::default(),
                handled: vec![MessageId::new("a"), MessageId::new("b")],
            })
        );
    }

    #[test]
    fn an_old_state_is_not_resumed_and_zero_turns_resuming_off() {
        let path = temp_path("old");
        let (mut state, _) = ResumeState::load(&path, HOUR);
        state.observe(now_ms() - 2 * 3_600_000, "x");
        state.save_if_changed().unwrap();
        assert_eq!(ResumeState::load(&path, HOUR).1, None);
        let (mut state, _) = ResumeState::load(&path, HOUR);
        state.observe(now_ms(), "y");
        state.save_if_changed().unwrap();
        assert!(ResumeState::load(&path, HOUR).1.is_some());
        assert_eq!(ResumeState::load(&path, Duration::ZERO).1, None);
    }

    #[test]
    fn a_garbled_file_is_ignored_not_fatal() {
        let path = temp_path("garbled");
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(ResumeState::load(&path, HOUR).1, None);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_path("private");
        let (mut state, _) = ResumeState::load(&path, HOUR);
        state.observe(now_ms(), "z");
        state.save_if_changed().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_id_list_stays_bounded_in_a_burst() {
        let path = temp_path("burst");
        let (mut state, _) = ResumeState::load(&path, HOUR);
        let now = now_ms();
        for i in 0..(MAX_RECENT_IDS + 500) {
            state.observe(now, &format!("m{i}"));
        }
        assert!(state.recent.len() <= MAX_RECENT_IDS);
    }
}
