//! JSON-RPC 2.0 framing: one JSON object per line, in both directions.
//!
//! [`parse_line`] turns one input line into an [`Incoming`] request or notification, or
//! into the [`RpcError`] the peer must be told about. The `*_line` functions build the
//! output lines (without the trailing newline).

use serde_json::{json, Map, Value};

/// Not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON, but not a JSON-RPC 2.0 request.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// The params are missing or have the wrong shape.
pub const INVALID_PARAMS: i64 = -32602;
/// A file over `mediaMaxMb` or the server's upload limit.
pub const TOO_LARGE: i64 = -32011;

/// One parsed input line.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A call that wants an answer.
    Request {
        /// The caller's id (a string, a number or null), echoed in the response.
        id: Value,
        /// The method name.
        method: String,
        /// The params; `{}` when absent.
        params: Value,
    },
    /// A call without an id: no answer is sent, not even an error.
    Notification {
        /// The method name.
        method: String,
        /// The params; `{}` when absent.
        params: Value,
    },
}

impl Incoming {
    /// The method name.
    pub fn method(&self) -> &str {
        match self {
            Incoming::Request { method, .. } | Incoming::Notification { method, .. } => method,
        }
    }
}

/// A JSON-RPC error object, with the `data` this protocol adds (`kind`, `retryable`,
/// `retryAfterMs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// The JSON-RPC code.
    pub code: i64,
    /// A short sentence for people. Never contains a secret.
    pub message: String,
    /// The machine-readable kind (`parse`, `notFound`, ...).
    pub kind: &'static str,
    /// Whether the same call may succeed later.
    pub retryable: bool,
    /// How long to wait before retrying, when known.
    pub retry_after_ms: Option<u64>,
    /// The size limit that was exceeded, for `tooLarge`.
    pub limit_bytes: Option<u64>,
}

impl RpcError {
    fn new(code: i64, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            kind,
            retryable: false,
            retry_after_ms: None,
            limit_bytes: None,
        }
    }

    /// The line was not JSON.
    pub fn parse(message: impl Into<String>) -> Self {
        Self::new(PARSE_ERROR, "parse", message)
    }

    /// The line was JSON but not a JSON-RPC 2.0 request.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(INVALID_REQUEST, "invalidRequest", message)
    }

    /// No such method.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            METHOD_NOT_FOUND,
            "methodNotFound",
            format!("unknown method {method:?}"),
        )
    }

    /// Missing or wrong params.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, "invalidParams", message)
    }

    /// A file over `limit` bytes.
    pub fn too_large(message: impl Into<String>, limit: u64) -> Self {
        Self {
            limit_bytes: Some(limit),
            ..Self::new(TOO_LARGE, "tooLarge", message)
        }
    }

    /// The JSON `error` object.
    pub fn to_value(&self) -> Value {
        let mut data = Map::new();
        data.insert("kind".into(), json!(self.kind));
        data.insert("retryable".into(), json!(self.retryable));
        if let Some(ms) = self.retry_after_ms {
            data.insert("retryAfterMs".into(), json!(ms));
        }
        if let Some(limit) = self.limit_bytes {
            data.insert("limitBytes".into(), json!(limit));
        }
        json!({"code": self.code, "message": self.message, "data": data})
    }
}

impl From<&channel_api::Error> for RpcError {
    fn from(err: &channel_api::Error) -> Self {
        use channel_api::Error as E;
        let (code, kind) = match err {
            E::NotFound { .. } => (-32001, "notFound"),
            E::Unauthorized { .. } => (-32002, "unauthorized"),
            E::PermissionDenied { .. } => (-32003, "permissionDenied"),
            E::RateLimited { .. } => (-32004, "rateLimited"),
            E::Unsupported { .. } => (-32005, "unsupported"),
            E::Disconnected { .. } => (-32006, "disconnected"),
            E::Timeout { .. } => (-32007, "timeout"),
            E::InvalidRequest { .. } => (-32008, "invalid"),
            E::Closed { .. } => (-32009, "closed"),
            E::TooLarge { .. } => (TOO_LARGE, "tooLarge"),
            _ => (-32010, "backend"),
        };
        Self {
            code,
            message: err.to_string(),
            kind,
            retryable: err.is_retryable(),
            retry_after_ms: err
                .retry_after()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            limit_bytes: match err {
                E::TooLarge { limit, .. } => Some(*limit),
                _ => None,
            },
        }
    }
}

impl From<channel_api::Error> for RpcError {
    fn from(err: channel_api::Error) -> Self {
        Self::from(&err)
    }
}

/// Parses one input line (without its newline).
pub fn parse_line(line: &str) -> Result<Incoming, RpcError> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| RpcError::parse(format!("not JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(RpcError::invalid_request("a request must be a JSON object"));
    };
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return Err(RpcError::invalid_request(r#""jsonrpc" must be "2.0""#));
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        _ => return Err(RpcError::invalid_request(r#""method" must be a string"#)),
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(params @ Value::Object(_)) => params,
        Some(_) => {
            return Err(RpcError::invalid_request(
                r#""params" must be an object (by-name params only)"#,
            ))
        }
    };
    match object.remove("id") {
        None => Ok(Incoming::Notification { method, params }),
        Some(id @ (Value::String(_) | Value::Number(_) | Value::Null)) => {
            Ok(Incoming::Request { id, method, params })
        }
        Some(_) => Err(RpcError::invalid_request(
            r#""id" must be a string, a number or null"#,
        )),
    }
}

/// A success response line.
pub fn result_line(id: &Value, result: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string()
}

/// An error response line.
pub fn error_line(id: &Value, error: &RpcError) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": error.to_value()}).to_string()
}

/// A notification line.
pub fn notification_line(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_notifications_are_told_apart() {
        let req = parse_line(r#"{"jsonrpc":"2.0","id":7,"method":"probe"}"#).unwrap();
        assert_eq!(
            req,
            Incoming::Request {
                id: json!(7),
                method: "probe".into(),
                params: json!({})
            }
        );
        let note =
            parse_line(r#"{"jsonrpc":"2.0","method":"typing","params":{"on":true}}"#).unwrap();
        assert_eq!(
            note,
            Incoming::Notification {
                method: "typing".into(),
                params: json!({"on": true})
            }
        );
    }

    #[test]
    fn garbage_gets_the_standard_codes() {
        let cases = [
            ("not json", PARSE_ERROR),
            ("{\"jsonrpc\":\"2.0\",", PARSE_ERROR),
            ("[1,2]", INVALID_REQUEST),
            ("42", INVALID_REQUEST),
            (
                r#"{"jsonrpc":"1.0","id":1,"method":"probe"}"#,
                INVALID_REQUEST,
            ),
            (r#"{"id":1,"method":"probe"}"#, INVALID_REQUEST),
            (r#"{"jsonrpc":"2.0","id":1}"#, INVALID_REQUEST),
            (r#"{"jsonrpc":"2.0","id":1,"method":5}"#, INVALID_REQUEST),
            (
                r#"{"jsonrpc":"2.0","id":{},"method":"probe"}"#,
                INVALID_REQUEST,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#,
                INVALID_REQUEST,
            ),
        ];
        for (line, code) in cases {
            assert_eq!(parse_line(line).unwrap_err().code, code, "{line}");
        }
    }

    #[test]
    fn channel_errors_map_to_documented_codes() {
        let err = channel_api::Error::RateLimited {
            retry_after: Some(std::time::Duration::from_millis(1500)),
        };
        let rpc = RpcError::from(&err);
        assert_eq!(rpc.code, -32004);
        assert_eq!(
            rpc.to_value()["data"],
            json!({"kind": "rateLimited", "retryable": true, "retryAfterMs": 1500})
        );
        let rpc = RpcError::from(channel_api::Error::Unauthorized {
            reason: "revoked".into(),
        });
        assert_eq!(
            (rpc.code, rpc.kind, rpc.retryable),
            (-32002, "unauthorized", false)
        );
    }

    #[test]
    fn too_large_carries_the_limit() {
        let rpc = RpcError::from(channel_api::Error::TooLarge {
            what: "file \"a.pdf\"".into(),
            size: 2048,
            limit: 1024,
        });
        assert_eq!(rpc.code, TOO_LARGE);
        assert_eq!(
            rpc.to_value()["data"],
            json!({"kind": "tooLarge", "retryable": false, "limitBytes": 1024})
        );
        assert_eq!(
            RpcError::too_large("x", 5).to_value()["data"]["limitBytes"],
            json!(5)
        );
    }

    #[test]
    fn lines_are_single_json_objects() {
        let line = error_line(&Value::Null, &RpcError::parse("bad\nline"));
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["id"], Value::Null);
        assert_eq!(v["error"]["code"], json!(PARSE_ERROR));
    }
}
