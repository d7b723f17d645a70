//! Fault types of the control API (issue 12): a REST fault on chosen paths, a DDP method
//! answered with an error, a refused or revoked subscription. The hub holds the armed faults;
//! `server` and `ddp` apply them.

use std::time::Duration;

use serde_json::{json, Map, Value};

/// A `Meteor.Error`'s code: a number (`403`) or a name (`"not-allowed"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// A numeric code, e.g. `403`.
    Status(u16),
    /// A named code, e.g. `"not-allowed"`.
    Name(String),
}

/// A `Meteor.Error` as DDP serializes it (`wrapInternalException`):
/// `{isClientSafe, error, reason?, details?, message, errorType: "Meteor.Error"}`; `message` is
/// `"<reason> [<error>]"`, or `"[<error>]"` without a reason.
#[derive(Debug, Clone, PartialEq)]
pub struct MeteorError {
    /// The `error` field.
    pub error: ErrorCode,
    /// The `reason` field (absent when `None`).
    pub reason: Option<String>,
    /// The `details` field (absent when `None`).
    pub details: Option<Value>,
}

impl MeteorError {
    /// `new Meteor.Error(status, reason)`, e.g. `MeteorError::status(403, "not-allowed")`.
    pub fn status(status: u16, reason: &str) -> Self {
        MeteorError {
            error: ErrorCode::Status(status),
            reason: Some(reason.to_owned()),
            details: None,
        }
    }

    /// `new Meteor.Error(name)` or `new Meteor.Error(name, reason)`.
    pub fn named(name: &str, reason: Option<&str>) -> Self {
        MeteorError {
            error: ErrorCode::Name(name.to_owned()),
            reason: reason.map(str::to_owned),
            details: None,
        }
    }

    /// The DDP form.
    pub fn to_value(&self) -> Value {
        let code = match &self.error {
            ErrorCode::Status(n) => json!(n),
            ErrorCode::Name(s) => json!(s),
        };
        let code_text = match &self.error {
            ErrorCode::Status(n) => n.to_string(),
            ErrorCode::Name(s) => s.clone(),
        };
        let mut e = Map::new();
        e.insert("isClientSafe".into(), json!(true));
        e.insert("error".into(), code);
        if let Some(r) = &self.reason {
            e.insert("reason".into(), json!(r));
        }
        if let Some(d) = &self.details {
            e.insert("details".into(), d.clone());
        }
        let message = match &self.reason {
            Some(r) => format!("{r} [{code_text}]"),
            None => format!("[{code_text}]"),
        };
        e.insert("message".into(), json!(message));
        e.insert("errorType".into(), json!("Meteor.Error"));
        Value::Object(e)
    }

    /// Reads the JSON control form `{error: 403 | "name", reason?, details?}`.
    pub(crate) fn from_json(v: &Value) -> Option<Self> {
        let error = match v.get("error")? {
            Value::Number(n) => ErrorCode::Status(u16::try_from(n.as_u64()?).ok()?),
            Value::String(s) => ErrorCode::Name(s.clone()),
            _ => return None,
        };
        Some(MeteorError {
            error,
            reason: v.get("reason").and_then(Value::as_str).map(str::to_owned),
            details: v.get("details").cloned(),
        })
    }
}

/// What a faulty HTTP path answers.
#[derive(Debug, Clone, PartialEq)]
pub enum RestFault {
    /// This status with a Rocket.Chat-like body: 500 is
    /// `{"success":false,"error":"Internal server error"}`, others
    /// `{"success":false,"error":"<status text>"}`.
    Status(u16),
    /// 200 with a JSON body of exactly this many bytes (`{"success":true,"padding":"xx.."}`,
    /// at least 35 bytes).
    HugeBody(usize),
    /// Wait this long, then answer normally.
    Stall(Duration),
    /// Close the connection without a response.
    Drop,
}

/// An armed REST fault: requests whose path starts with `prefix` get `fault`, `remaining`
/// more times.
#[derive(Debug, Clone)]
pub(crate) struct EndpointFault {
    pub(crate) prefix: String,
    pub(crate) fault: RestFault,
    pub(crate) remaining: u32,
}

/// An armed DDP method fault.
#[derive(Debug, Clone)]
pub(crate) struct MethodFault {
    pub(crate) method: String,
    pub(crate) error: MeteorError,
    pub(crate) remaining: u32,
}

/// A refused subscription: `sub` to `stream` whose first parameter starts with `key_prefix`
/// gets `nosub` with `error`.
#[derive(Debug, Clone)]
pub(crate) struct SubRefusal {
    pub(crate) stream: String,
    pub(crate) key_prefix: String,
    pub(crate) error: MeteorError,
}

/// Takes one use of the first armed fault matching, if any.
pub(crate) fn take_endpoint_fault(list: &mut Vec<EndpointFault>, path: &str) -> Option<RestFault> {
    let pos = list.iter().position(|f| path.starts_with(&f.prefix))?;
    let fault = list[pos].fault.clone();
    list[pos].remaining = list[pos].remaining.saturating_sub(1);
    if list[pos].remaining == 0 {
        list.remove(pos);
    }
    Some(fault)
}

/// Takes one use of an armed method fault, if any.
pub(crate) fn take_method_fault(list: &mut Vec<MethodFault>, method: &str) -> Option<MeteorError> {
    let pos = list.iter().position(|f| f.method == method)?;
    let error = list[pos].error.clone();
    list[pos].remaining = list[pos].remaining.saturating_sub(1);
    if list[pos].remaining == 0 {
        list.remove(pos);
    }
    Some(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meteor_error_forms() {
        assert_eq!(
            MeteorError::status(403, "not-allowed").to_value(),
            json!({"isClientSafe": true, "error": 403, "reason": "not-allowed",
                "message": "not-allowed [403]", "errorType": "Meteor.Error"})
        );
        assert_eq!(
            MeteorError::named("not-allowed", None).to_value()["message"],
            "[not-allowed]"
        );
    }

    #[test]
    fn faults_count_down() {
        let mut list = vec![EndpointFault {
            prefix: "/api/v1/rooms.".into(),
            fault: RestFault::Status(503),
            remaining: 2,
        }];
        assert_eq!(take_endpoint_fault(&mut list, "/api/v1/me"), None);
        assert!(take_endpoint_fault(&mut list, "/api/v1/rooms.info").is_some());
        assert!(take_endpoint_fault(&mut list, "/api/v1/rooms.get").is_some());
        assert_eq!(take_endpoint_fault(&mut list, "/api/v1/rooms.get"), None);
    }
}
