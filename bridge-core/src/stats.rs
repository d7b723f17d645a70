//! Counters of what happened to inbound events, for the `stats` request.

use std::sync::Mutex;

use crate::protocol::StatsResult;

/// Admitted / skipped / dropped counters. Skip and drop reasons are short snake_case words
/// from the policy (`not_mentioned`, `room_not_allowlisted`, ...).
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<StatsResult>,
}

impl Stats {
    fn with<T>(&self, f: impl FnOnce(&mut StatsResult) -> T) -> T {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// One event was sent to the plugin.
    pub fn admitted(&self) {
        self.with(|s| s.admitted += 1);
    }

    /// One event was skipped for `reason`.
    pub fn skipped(&self, reason: &str) {
        self.with(|s| *s.skipped.entry(reason.to_owned()).or_default() += 1);
    }

    /// One event was dropped for `reason`.
    pub fn dropped(&self, reason: &str) {
        self.with(|s| *s.dropped.entry(reason.to_owned()).or_default() += 1);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsResult {
        self.with(|s| s.clone())
    }
}
