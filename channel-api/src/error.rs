//! The semantic error every backend maps its private errors onto.

use std::time::Duration;

/// `Result` with the channel [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a caller can act on.
///
/// Messages never contain secrets: backends must not put tokens in any variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The room, message or user does not exist (or is invisible to the bot).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `room "general"`.
        what: String,
    },
    /// The credentials were rejected or revoked. Fatal: the account stops.
    #[error("credentials rejected or revoked: {reason}")]
    Unauthorized {
        /// Why, safe to log.
        reason: String,
    },
    /// The bot may not do this here.
    #[error("permission denied: {what}")]
    PermissionDenied {
        /// What was refused.
        what: String,
    },
    /// The server asked to slow down. Retry after the given delay.
    #[error("rate limited (retry after {retry_after:?})")]
    RateLimited {
        /// How long to wait, when the server said.
        retry_after: Option<Duration>,
    },
    /// The backend cannot do this at all.
    #[error("{operation} is not supported by {backend}")]
    Unsupported {
        /// The operation, e.g. `edit`.
        operation: &'static str,
        /// The backend's name, e.g. `mock`.
        backend: &'static str,
    },
    /// The connection is down; the operation may succeed later.
    #[error("disconnected: {reason}")]
    Disconnected {
        /// Why.
        reason: String,
    },
    /// The operation did not finish in time; it may succeed later.
    #[error("{operation} timed out")]
    Timeout {
        /// The operation.
        operation: String,
    },
    /// The request itself is wrong (too long, empty, malformed id, ...). Do not retry.
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong with it.
        reason: String,
    },
    /// A file is larger than the limit the caller or the server set. Do not retry.
    #[error("{what} is too large ({size} bytes; the limit is {limit} bytes)")]
    TooLarge {
        /// What was refused, e.g. `file "report.pdf"`.
        what: String,
        /// Its size in bytes, as far as it is known (at least `limit + 1`).
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The channel has shut down (fatally closed or stopped). Nothing more will work.
    #[error("channel closed: {reason}")]
    Closed {
        /// Why.
        reason: String,
    },
    /// Any other backend failure.
    #[error("{backend} error: {message}")]
    Backend {
        /// The backend.
        backend: &'static str,
        /// What happened.
        message: String,
    },
}

impl Error {
    /// Whether retrying the same operation later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. } | Error::Disconnected { .. } | Error::Timeout { .. }
        )
    }

    /// Whether the account is finished: nothing will work until it is reconfigured.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Error::Unauthorized { .. } | Error::Closed { .. })
    }

    /// The wait a rate limit asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_and_fatal_are_classified() {
        let cases: Vec<(Error, bool, bool)> = vec![
            (
                Error::NotFound {
                    what: "room".into(),
                },
                false,
                false,
            ),
            (
                Error::Unauthorized {
                    reason: "revoked".into(),
                },
                false,
                true,
            ),
            (
                Error::PermissionDenied {
                    what: "post".into(),
                },
                false,
                false,
            ),
            (
                Error::RateLimited {
                    retry_after: Some(Duration::from_secs(1)),
                },
                true,
                false,
            ),
            (
                Error::Unsupported {
                    operation: "edit",
                    backend: "x",
                },
                false,
                false,
            ),
            (
                Error::Disconnected {
                    reason: "eof".into(),
                },
                true,
                false,
            ),
            (
                Error::Timeout {
                    operation: "send".into(),
                },
                true,
                false,
            ),
            (
                Error::InvalidRequest {
                    reason: "empty".into(),
                },
                false,
                false,
            ),
            (
                Error::Closed {
                    reason: "stopped".into(),
                },
                false,
                true,
            ),
            (
                Error::Backend {
                    backend: "x",
                    message: "boom".into(),
                },
                false,
                false,
            ),
        ];
        for (err, retryable, fatal) in cases {
            assert_eq!(err.is_retryable(), retryable, "{err}");
            assert_eq!(err.is_fatal(), fatal, "{err}");
        }
    }

    #[test]
    fn errors_are_send_sync_static() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
    }
}
