//! The account's "stop for good" switch. Tripped by any REST 401, a 403 on (re)login, or
//! `shutdown()`; the DDP session watches it and closes the socket at once.

use tokio::sync::watch;

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
    pub(crate) fn error(&self) -> crate::error::RcError {
        match self {
            Stop::Unauthorized(reason) => crate::error::RcError::Unauthorized(reason.clone()),
            Stop::Refused(reason) => crate::error::RcError::Closed(reason.clone()),
            Stop::Shutdown => crate::error::RcError::Closed("shut down".to_owned()),
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
            crate::error::RcError::Unauthorized(_)
        ));
        assert_eq!(Stop::Shutdown.reason(), "shut down");
    }
}
