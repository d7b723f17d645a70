//! The simulator's own error type (start-up and control calls).

/// Why a simulator call failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Binding or I/O failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The TLS certificate or key could not be loaded.
    #[error("tls: {0}")]
    Tls(String),
    /// The simulated server refused the operation, as Rocket.Chat would (code or text).
    #[error("rejected: {0}")]
    Rejected(String),
    /// No such user, room or message.
    #[error("not found: {0}")]
    NotFound(String),
    /// The server is stopped.
    #[error("the simulator is stopped")]
    Stopped,
    /// A seed file could not be read.
    #[error("seed: {0}")]
    Seed(String),
}

impl From<crate::world::OpError> for SimError {
    fn from(e: crate::world::OpError) -> Self {
        match e {
            crate::world::OpError::Meteor { code, reason, .. } if reason.is_empty() => {
                SimError::Rejected(format!("[{code}]"))
            }
            crate::world::OpError::Meteor { code, reason, .. } => {
                SimError::Rejected(format!("{reason} [{code}]"))
            }
            crate::world::OpError::Plain(text) => SimError::Rejected(text),
        }
    }
}
