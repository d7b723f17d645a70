//! Every wait the backend takes before trying again, in one place: reconnect and retry
//! delays (channel-api's one backoff rule, with a random jitter), and the budget one request has for waiting out rate
//! limits, REST 429 and DDP `too-many-requests` alike.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;

use crate::error::RcError;

/// How many rate-limit refusals one request waits out before it gives up.
pub(crate) const MAX_RATE_LIMIT_WAITS: u32 = 5;
/// Added to the server's reset: it is the server's clock, not ours.
const RESET_SLACK: Duration = Duration::from_millis(50);
/// The wait when the server does not say how long.
const UNKNOWN_RESET: Duration = Duration::from_secs(1);

/// One request's allowance for waiting out rate limits: at most [`MAX_RATE_LIMIT_WAITS`]
/// waits, none longer than `maxRateLimitWaitMs`. The REST client uses it for 429s
/// (`X-RateLimit-Reset`) and the channel for DDP `too-many-requests` (`timeToReset`), so
/// both give up the same way: `RateLimited` with the server's reset.
#[derive(Debug, Clone)]
pub(crate) struct RateLimitBudget {
    max_wait: Duration,
    waits: u32,
}

impl RateLimitBudget {
    pub(crate) fn new(max_wait: Duration) -> Self {
        Self { max_wait, waits: 0 }
    }

    /// The server refused, asking to wait `reset` (`None`: it did not say). Returns how
    /// long to sleep before trying again, or `RateLimited` when the budget is spent or the
    /// server asks for longer than we wait.
    pub(crate) fn refused(&mut self, reset: Option<Duration>) -> Result<Duration, RcError> {
        let wait = reset.unwrap_or(UNKNOWN_RESET);
        self.waits += 1;
        if self.waits > MAX_RATE_LIMIT_WAITS || wait > self.max_wait {
            return Err(RcError::RateLimited {
                retry_after: Some(wait),
            });
        }
        Ok(wait + RESET_SLACK)
    }
}

/// The delay before reconnect attempt `attempt` (1-based): `min * 2^(attempt-1)`, capped at
/// `max`, then scaled by a random factor in [0.5, 1.0] so many clients do not reconnect in
/// lockstep.
pub(crate) fn reconnect_delay(attempt: u32, min: Duration, max: Duration) -> Duration {
    let factor: f64 = rand::rng().random_range(0.5..=1.0);
    channel_api::backoff::delay(attempt, min, max, factor)
}

/// How long to wait for `X-RateLimit-Reset` (absolute epoch milliseconds, not seconds).
/// A missing or unreadable header gives `None`; a reset in the past gives zero.
pub(crate) fn wait_for_reset(header: Option<&str>, now: SystemTime) -> Option<Duration> {
    let reset_ms: u64 = header?.trim().parse().ok()?;
    let now_ms = u64::try_from(now.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    Some(Duration::from_millis(reset_ms.saturating_sub(now_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_to_full() {
        let min = Duration::from_millis(1000);
        for _ in 0..200 {
            let d = reconnect_delay(1, min, Duration::from_secs(60));
            assert!(d >= Duration::from_millis(500) && d <= min, "{d:?}");
        }
    }

    #[test]
    fn a_rate_limit_budget_waits_a_few_times_and_never_too_long() {
        let mut budget = RateLimitBudget::new(Duration::from_secs(10));
        for _ in 0..MAX_RATE_LIMIT_WAITS {
            assert_eq!(
                budget.refused(Some(Duration::from_millis(200))).unwrap(),
                Duration::from_millis(200) + RESET_SLACK
            );
        }
        assert_eq!(
            budget.refused(Some(Duration::from_millis(200))),
            Err(RcError::RateLimited {
                retry_after: Some(Duration::from_millis(200))
            })
        );
        // Longer than we wait: refused at once; unknown: a second.
        let mut budget = RateLimitBudget::new(Duration::from_secs(10));
        assert!(budget.refused(Some(Duration::from_secs(11))).is_err());
        let mut budget = RateLimitBudget::new(Duration::from_secs(10));
        assert_eq!(budget.refused(None).unwrap(), UNKNOWN_RESET + RESET_SLACK);
    }

    #[test]
    fn rate_limit_reset_is_absolute_milliseconds() {
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
        assert_eq!(
            wait_for_reset(Some("1700000002500"), now),
            Some(Duration::from_millis(2_500))
        );
        // Already past: no wait.
        assert_eq!(
            wait_for_reset(Some("1699999999000"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(wait_for_reset(Some("soon"), now), None);
        assert_eq!(wait_for_reset(None, now), None);
    }
}
