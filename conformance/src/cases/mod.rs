//! The cases, one `pub async fn case(&Harness) -> CaseResult` each. They are re-exported
//! here so the macro can name them as `cases::<name>`.

use channel_api::{Error, Event};

use crate::harness::CaseError;

/// Fails the case with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err(format!($($message)+).into());
        }
    };
}

mod history;
mod implicit;
mod lifecycle;
mod media;
mod reaction;
mod receive;
mod rooms;
mod send;
mod thread;

pub use history::*;
pub use implicit::*;
pub use lifecycle::*;
pub use media::*;
pub use reaction::*;
pub use receive::*;
pub use rooms::*;
pub use send::*;
pub use thread::*;

/// Passes when `result` is `Error::Unsupported` (the backend said it lacks `operation`).
fn expect_unsupported<T: std::fmt::Debug>(
    operation: &str,
    result: channel_api::Result<T>,
) -> Result<(), CaseError> {
    match result {
        Err(Error::Unsupported { .. }) => Ok(()),
        other => Err(format!(
            "capabilities say {operation} is unsupported, so it must return Error::Unsupported; got {other:?}"
        )
        .into()),
    }
}

/// Passes when `result` is the error `matches` accepts.
fn expect_error<T: std::fmt::Debug>(
    what: &str,
    expected: &str,
    result: channel_api::Result<T>,
    matches: impl Fn(&Error) -> bool,
) -> Result<(), CaseError> {
    match result {
        Err(error) if matches(&error) => Ok(()),
        other => Err(format!("{what}: expected {expected}, got {other:?}").into()),
    }
}

/// A short description of an event, for failure messages.
fn describe(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| format!("{e:?}"))
        .collect::<Vec<_>>()
        .join("\n  ")
}
