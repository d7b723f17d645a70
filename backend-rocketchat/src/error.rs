//! The backend's private error, with the exact cause, and its mapping onto the semantic
//! [`channel_api::Error`]. No variant ever holds the token.

use std::time::Duration;

/// What went wrong inside the backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RcError {
    /// REST 401, or a 403 on login: the credentials are rejected or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// REST 429 or DDP `too-many-requests` beyond what we are willing to wait for.
    #[error("rate limited")]
    RateLimited { retry_after: Option<Duration> },
    /// The server answered with an error body.
    #[error("{endpoint}: HTTP {status}: {message}")]
    Api {
        endpoint: String,
        status: u16,
        /// `errorType` when the body has one (`error-message-not-found`, ...).
        error_type: Option<String>,
        message: String,
    },
    /// A DDP method returned an error object.
    #[error("{method}: {error}: {reason}")]
    Method {
        method: String,
        error: String,
        reason: String,
    },
    /// Could not reach the server, or the connection broke.
    #[error("{0}")]
    Transport(String),
    /// Did not finish in time.
    #[error("{0} timed out")]
    Timeout(String),
    /// The server said something we cannot read.
    #[error("unexpected response: {0}")]
    BadResponse(String),
    /// The account is fatally closed or shut down.
    #[error("{0}")]
    Closed(String),
    /// The request is wrong on our side.
    #[error("{0}")]
    Invalid(String),
}

const BACKEND: &str = "rocketchat";

impl From<RcError> for channel_api::Error {
    fn from(e: RcError) -> Self {
        use channel_api::Error as E;
        match e {
            RcError::Unauthorized(reason) => E::Unauthorized { reason },
            RcError::RateLimited { retry_after } => E::RateLimited { retry_after },
            RcError::Transport(reason) => E::Disconnected { reason },
            RcError::Timeout(operation) => E::Timeout { operation },
            RcError::Closed(reason) => E::Closed { reason },
            RcError::Invalid(reason) => E::InvalidRequest { reason },
            RcError::BadResponse(message) => E::Backend {
                backend: BACKEND,
                message,
            },
            RcError::Method {
                method,
                error,
                reason,
            } => match error.as_str() {
                "not-authorized"
                | "not-allowed"
                | "error-not-allowed"
                | "error-action-not-allowed" => E::PermissionDenied {
                    what: format!("{method}: {reason}"),
                },
                "403" => E::Unauthorized { reason },
                _ => E::Backend {
                    backend: BACKEND,
                    message: format!("{method}: {error}: {reason}"),
                },
            },
            RcError::Api {
                endpoint,
                status,
                error_type,
                message,
            } => map_api_error(endpoint, status, error_type.as_deref(), message),
        }
    }
}

fn map_api_error(
    endpoint: String,
    status: u16,
    error_type: Option<&str>,
    message: String,
) -> channel_api::Error {
    use channel_api::Error as E;
    let lower = message.to_ascii_lowercase();
    let not_found = status == 404
        || matches!(
            error_type,
            Some("error-message-not-found" | "error-room-not-found" | "error-invalid-room")
        )
        || lower.contains("no message found")
        || lower.contains("not found")
        || lower == "error-invalid-room";
    let denied = status == 403
        || matches!(
            error_type,
            Some("not-authorized" | "error-not-allowed" | "error-action-not-allowed")
        )
        || lower.starts_with("error-not-allowed")
        || lower.contains("not allowed")
        || lower.contains("readonly")
        || lower.contains("muted");
    let invalid = matches!(
        error_type,
        Some(
            "error-message-size-exceeded"
                | "error-invalid-message"
                | "invalid-params"
                | "error-invalid-params"
        )
    ) || lower.contains("size exceeds");
    if not_found {
        E::NotFound {
            what: format!("{endpoint}: {message}"),
        }
    } else if denied {
        E::PermissionDenied {
            what: format!("{endpoint}: {message}"),
        }
    } else if invalid {
        E::InvalidRequest {
            reason: format!("{endpoint}: {message}"),
        }
    } else if status >= 500 {
        E::Disconnected {
            reason: format!("{endpoint}: HTTP {status}: {message}"),
        }
    } else {
        E::Backend {
            backend: BACKEND,
            message: format!("{endpoint}: HTTP {status}: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, error_type: Option<&str>, message: &str) -> channel_api::Error {
        RcError::Api {
            endpoint: "chat.x".into(),
            status,
            error_type: error_type.map(str::to_owned),
            message: message.into(),
        }
        .into()
    }

    #[test]
    fn api_errors_map_to_semantic_kinds() {
        use channel_api::Error as E;
        assert!(matches!(
            api(400, None, "No message found with the id of \"x\"."),
            E::NotFound { .. }
        ));
        assert!(matches!(
            api(400, Some("error-message-not-found"), "x"),
            E::NotFound { .. }
        ));
        assert!(matches!(
            api(400, Some("error-action-not-allowed"), "Not allowed"),
            E::PermissionDenied { .. }
        ));
        assert!(matches!(
            api(403, None, "unauthorized"),
            E::PermissionDenied { .. }
        ));
        assert!(matches!(
            api(400, Some("error-message-size-exceeded"), "too big"),
            E::InvalidRequest { .. }
        ));
        assert!(matches!(
            api(503, None, "Service Unavailable"),
            E::Disconnected { .. }
        ));
        assert!(matches!(
            channel_api::Error::from(RcError::Unauthorized("revoked".into())),
            E::Unauthorized { .. }
        ));
    }
}
