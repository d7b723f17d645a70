//! The backend's private error, with the exact cause, and its mapping onto the semantic
//! [`channel_api::Error`]. No variant ever holds the token.
//!
//! A DDP error object becomes an [`RcError`] in one place, [`RcError::from_ddp`], which
//! trips the account's stop switch when the error says the login is gone.

use std::time::Duration;

use crate::ddp::frame::{DdpError, DdpErrorKind};
use crate::fatal::{Fatal, Revoked};

/// What went wrong inside the backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RcError {
    /// The credentials are rejected or revoked (REST 401, a refused login, a DDP 401/403,
    /// a refused account stream). Only made by tripping the stop switch.
    #[error("{0}")]
    Unauthorized(Revoked),
    /// REST 429 or DDP `too-many-requests` beyond what we are willing to wait for.
    #[error("rate limited")]
    RateLimited { retry_after: Option<Duration> },
    /// The server answered with an error body.
    #[error("{endpoint}: HTTP {status}: {message}")]
    Api {
        endpoint: String,
        status: u16,
        /// The error's code (see [`error_code`]), when the body names one.
        code: Option<String>,
        message: String,
    },
    /// The server has no such thing (a REST answer the call site knows to mean that).
    #[error("{0}")]
    NotFound(String),
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
    /// An answer larger than the client reads (`limit` bytes).
    #[error("{endpoint}: the answer is larger than {limit} bytes")]
    ResponseTooLarge { endpoint: String, limit: usize },
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

impl RcError {
    /// Whether trying again may succeed: the server failed (5xx), did not answer in time,
    /// or the connection broke. A refusal (4xx) or an auth failure is not.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            RcError::Transport(_) | RcError::Timeout(_) | RcError::BadResponse(_) => true,
            RcError::Api { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// A DDP method's error object: rate limits keep their reset, a logged-out answer
    /// (Meteor's numeric 401/403) stops the account, anything else stays the method's
    /// error (mapped by its code, see `From<RcError> for channel_api::Error`).
    pub(crate) fn from_ddp(method: &str, e: DdpError, fatal: &Fatal) -> Self {
        match e.kind() {
            DdpErrorKind::RateLimited => RcError::RateLimited {
                retry_after: e.time_to_reset,
            },
            DdpErrorKind::LoggedOut => {
                fatal.unauthorized(format!("{method}: {} {}", e.error, e.reason).trim_end())
            }
            DdpErrorKind::Forbidden | DdpErrorKind::Other => RcError::Method {
                method: method.to_owned(),
                error: e.error,
                reason: e.reason,
            },
        }
    }
}

impl From<RcError> for channel_api::Error {
    fn from(e: RcError) -> Self {
        use channel_api::Error as E;
        match e {
            RcError::Unauthorized(revoked) => E::Unauthorized {
                reason: revoked.reason().to_owned(),
            },
            RcError::RateLimited { retry_after } => E::RateLimited { retry_after },
            RcError::Transport(reason) => E::Disconnected { reason },
            RcError::Timeout(operation) => E::Timeout { operation },
            RcError::Closed(reason) => E::Closed { reason },
            RcError::Invalid(reason) => E::InvalidRequest { reason },
            RcError::BadResponse(message) => E::Backend {
                backend: BACKEND,
                message,
            },
            e @ RcError::ResponseTooLarge { .. } => E::Backend {
                backend: BACKEND,
                message: e.to_string(),
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
                _ => E::Backend {
                    backend: BACKEND,
                    message: format!("{method}: {error}: {reason}"),
                },
            },
            RcError::NotFound(what) => E::NotFound { what },
            RcError::Api {
                endpoint,
                status,
                code,
                message,
            } => map_api_error(endpoint, status, code.as_deref(), message),
        }
    }
}

/// The code of a REST error body, from where Rocket.Chat puts it (apps/meteor/app/api/
/// server/ApiClass.ts `failure()`): `errorType` of a thrown `Meteor.Error`; else the
/// `[code]` that Meteor appends to its message (`"Reason [code]"`); else the `error` text
/// itself when it is one code-like word (a plain `Error('error-invalid-room')`, as
/// canSendMessage.ts throws); else, for the one code-less refusal a bot meets when
/// sending, its exact text (canSendMessage.ts: the room is read-only).
pub(crate) fn error_code(error_type: Option<&str>, error: &str) -> Option<String> {
    const READ_ONLY: &str = "You can't send messages because the room is readonly.";
    let is_code = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if let Some(code) = error_type.filter(|c| !c.is_empty()) {
        return Some(code.to_owned());
    }
    let error = error.trim();
    if let Some(code) = error
        .strip_suffix(']')
        .and_then(|head| head.rsplit_once('['))
        .map(|(_, code)| code)
        .filter(|c| is_code(c))
    {
        return Some(code.to_owned());
    }
    if is_code(error) {
        return Some(error.to_owned());
    }
    (error == READ_ONLY).then(|| "error-room-readonly".to_owned())
}

/// A REST failure by its status and code (never by its wording).
fn map_api_error(
    endpoint: String,
    status: u16,
    code: Option<&str>,
    message: String,
) -> channel_api::Error {
    use channel_api::Error as E;
    let not_found = status == 404
        || matches!(
            code,
            Some(
                "error-message-not-found"
                    | "error-room-not-found"
                    | "error-invalid-room"
                    | "error-invalid-channel"
                    | "invalid-channel"
                    | "error-user-not-found"
            )
        );
    let denied = status == 403
        || matches!(
            code,
            Some(
                "not-authorized"
                    | "not-allowed"
                    | "error-not-allowed"
                    | "error-action-not-allowed"
                    | "error-unauthorized"
                    | "error-room-readonly"
                    | "You_have_been_muted"
                    | "room_is_blocked"
                    | "room_is_archived"
                    | "error-message-editing-blocked"
            )
        );
    let invalid = matches!(
        code,
        Some(
            "error-message-size-exceeded"
                | "error-invalid-message"
                | "invalid-params"
                | "error-invalid-params"
        )
    );
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
            code: error_code(error_type, message),
            message: message.into(),
        }
        .into()
    }

    #[test]
    fn codes_are_read_from_where_rocket_chat_puts_them() {
        assert_eq!(
            error_code(Some("error-x"), "Reason [error-y]").as_deref(),
            Some("error-x")
        );
        assert_eq!(
            error_code(
                None,
                "Message size exceeds Message_MaxAllowedSize [error-message-size-exceeded]"
            )
            .as_deref(),
            Some("error-message-size-exceeded")
        );
        assert_eq!(
            error_code(None, "error-invalid-room").as_deref(),
            Some("error-invalid-room")
        );
        assert_eq!(
            error_code(None, "You_have_been_muted").as_deref(),
            Some("You_have_been_muted")
        );
        assert_eq!(
            error_code(
                None,
                "You can't send messages because the room is readonly."
            )
            .as_deref(),
            Some("error-room-readonly")
        );
        // Sentences are not codes, whatever words they hold.
        assert_eq!(error_code(None, "Resource not found"), None);
        assert_eq!(error_code(None, "this is not allowed [at all]"), None);
        assert_eq!(error_code(None, ""), None);
    }

    #[test]
    fn api_errors_map_to_semantic_kinds() {
        use channel_api::Error as E;
        // A sentence is classified by its status only.
        assert!(matches!(
            api(400, None, "No message found with the id of \"x\"."),
            E::Backend { .. }
        ));
        assert!(matches!(
            api(400, None, "error-invalid-room"),
            E::NotFound { .. }
        ));
        assert!(matches!(
            api(
                400,
                None,
                "You can't send messages because the room is readonly."
            ),
            E::PermissionDenied { .. }
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
            channel_api::Error::from(Fatal::new().unauthorized("revoked")),
            E::Unauthorized { .. }
        ));
    }

    fn ddp(error: &str) -> DdpError {
        DdpError {
            error: error.into(),
            reason: "why".into(),
            time_to_reset: Some(Duration::from_millis(7)),
        }
    }

    #[test]
    fn a_logged_out_ddp_answer_trips_the_stop_switch() {
        for code in ["403", "401"] {
            let fatal = Fatal::new();
            let e = RcError::from_ddp("stream-notify-room", ddp(code), &fatal);
            assert!(matches!(e, RcError::Unauthorized(_)), "{e:?}");
            assert!(
                matches!(fatal.get(), Some(crate::fatal::Stop::Unauthorized(_))),
                "{code}"
            );
        }
        // A permission refusal or a rate limit leaves the account running.
        let fatal = Fatal::new();
        let e = RcError::from_ddp("stream-notify-room", ddp("not-allowed"), &fatal);
        assert!(matches!(
            channel_api::Error::from(e),
            channel_api::Error::PermissionDenied { .. }
        ));
        let e = RcError::from_ddp("stream-notify-room", ddp("too-many-requests"), &fatal);
        assert_eq!(
            e,
            RcError::RateLimited {
                retry_after: Some(Duration::from_millis(7))
            }
        );
        assert_eq!(fatal.get(), None);
    }
}
