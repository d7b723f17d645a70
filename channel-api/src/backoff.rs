//! The one retry-delay rule of the workspace: exponential from a first delay, capped, and
//! scaled by a jitter factor the caller draws (this crate does no IO and draws nothing).
//! A backend's reconnects and the bridge's retries of room resolution both wait by it.
//!
//! ```
//! use std::time::Duration;
//! use channel_api::backoff::delay;
//!
//! let (min, max) = (Duration::from_millis(100), Duration::from_secs(1));
//! assert_eq!(delay(1, min, max, 1.0), Duration::from_millis(100));
//! assert_eq!(delay(3, min, max, 1.0), Duration::from_millis(400));
//! assert_eq!(delay(3, min, max, 0.5), Duration::from_millis(200));
//! assert_eq!(delay(40, min, max, 1.0), max);
//! ```

use std::time::Duration;

/// The delay before attempt `attempt` (1-based): `min * 2^(attempt-1)`, capped at `max`,
/// then scaled by `jitter` (clamped to [0, 1]; callers draw it from [0.5, 1.0] so many
/// clients do not retry in lockstep, or pass 1.0 for none).
pub fn delay(attempt: u32, min: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let base = min.saturating_mul(1u32 << exp).min(max);
    base.mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_then_cap() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(delay(1, min, max, 1.0), Duration::from_millis(100));
        assert_eq!(delay(2, min, max, 1.0), Duration::from_millis(200));
        assert_eq!(delay(4, min, max, 1.0), Duration::from_millis(800));
        assert_eq!(delay(10, min, max, 1.0), max);
        assert_eq!(delay(u32::MAX, min, max, 1.0), max);
        assert_eq!(
            delay(0, min, max, 1.0),
            min,
            "attempt 0 counts as the first"
        );
        assert_eq!(delay(3, min, max, 0.5), Duration::from_millis(200));
        assert_eq!(
            delay(3, min, max, 7.0),
            Duration::from_millis(400),
            "clamped"
        );
    }
}
