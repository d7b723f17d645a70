//! The account's "stop for good" switch. Tripped by every auth failure, wherever it is
//! found (a REST 401, a refused login, a DDP method answered 401/403, an account stream
//! refused), by a configuration that cannot work, and by `shutdown()`; the DDP session
//! watches it and closes the socket at once.
//!
//! [`RcError::Unauthorized`] carries a [`Revoked`], which only this module can make, and
//! only while tripping the switch ([`Fatal::unauthorized`]) or reporting a switch already
//! tripped ([`Stop::error`]): no path can produce an auth error that leaves the account
//! running.

use tokio::sync::watch;

use crate::error::RcError;

/// Why the credentials were refused. Built only here, so holding one means the stop switch
/// was tripped (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Revoked {
    reason: String,
}

impl Revoked {
    pub(crate) fn reason(&self) -> &str {
        &self.reason
    }
}

impl std::fmt::Display for Revoked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Why the account stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Credentials rejected or revoked.
    Unauthorized(String),
    /// The configuration cannot work with these credentials (the token belongs to
    /// another user than `userId` / `username`).
    Refused(String),
    /// `shutdown()` was called.
    Shutdown,
}

impl Stop {
    pub(crate) fn reason(&self) -> String {
        match self {
            Stop::Unauthorized(reason) | Stop::Refused(reason) => reason.clone(),
            Stop::Shutdown => "shut down".to_owned(),
        }
    }

    /// The contract's name for why.
    pub(crate) fn cause(&self) -> channel_api::FatalCause {
        match self {
            Stop::Unauthorized(_) => channel_api::FatalCause::Unauthorized,
            Stop::Refused(_) => channel_api::FatalCause::Refused,
            Stop::Shutdown => channel_api::FatalCause::Shutdown,
        }
    }

    /// The error every later operation returns.
    pub(crate) fn error(&self) -> RcError {
        match self {
            Stop::Unauthorized(reason) => RcError::Unauthorized(Revoked {
                reason: reason.clone(),
            }),
            Stop::Refused(reason) => RcError::Closed(reason.clone()),
            Stop::Shutdown => RcError::Closed("shut down".to_owned()),
        }
    }
}

/// A shared, one-way switch: once tripped it stays tripped with its first reason.
#[derive(Debug, Clone)]
pub(crate) struct Fatal {
    tx: watch::Sender<Option<Stop>>,
}

impl Fatal {
    pub(crate) fn new() -> Self {
        Self {
            tx: watch::Sender::new(None),
        }
    }

    /// Trips the switch; the first reason wins. Returns whether this call tripped it.
    pub(crate) fn trip(&self, stop: Stop) -> bool {
        self.tx.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            tracing::warn!(reason = %stop.reason(), "account stopped");
            *current = Some(stop);
            true
        })
    }

    /// Stops the account for an auth failure (the first reason wins) and returns the error
    /// the caller reports. The only way to make an [`RcError::Unauthorized`] of a new
    /// failure.
    pub(crate) fn unauthorized(&self, reason: impl Into<String>) -> RcError {
        let reason = reason.into();
        self.trip(Stop::Unauthorized(reason.clone()));
        RcError::Unauthorized(Revoked { reason })
    }

    pub(crate) fn get(&self) -> Option<Stop> {
        self.tx.borrow().clone()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<Stop>> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins_and_stays() {
        let fatal = Fatal::new();
        let rx = fatal.subscribe();
        assert_eq!(fatal.get(), None);
        assert!(fatal.trip(Stop::Unauthorized("REST 401".into())));
        assert!(!fatal.trip(Stop::Shutdown));
        assert_eq!(fatal.get(), Some(Stop::Unauthorized("REST 401".into())));
        assert!(rx.has_changed().unwrap());
        assert!(matches!(
            fatal.get().unwrap().error(),
            RcError::Unauthorized(_)
        ));
        assert_eq!(Stop::Shutdown.reason(), "shut down");
    }

    #[test]
    fn an_auth_error_is_made_by_tripping_the_switch() {
        let fatal = Fatal::new();
        let error = fatal.unauthorized("setTyping: 403");
        assert!(matches!(&error, RcError::Unauthorized(r) if r.reason() == "setTyping: 403"));
        assert_eq!(
            fatal.get(),
            Some(Stop::Unauthorized("setTyping: 403".into()))
        );
    }
}
