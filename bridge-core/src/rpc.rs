//! JSON-RPC 2.0 framing: one JSON object per line, in both directions.
//!
//! [`parse_line`] turns one input line into an [`Incoming`] request or notification, or
//! into the [`RpcError`] the peer must be told about. The `*_line` functions build the
//! output lines (without the trailing newline).

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::protocol::Request;

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
/// A `reconfigure` that changes a key only a restart can apply.
pub const RESTART_REQUIRED: i64 = -32012;

/// One parsed input line: who asked (`id`; `None` for a notification, which is never
/// answered) and what, or why the request cannot be run.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The caller's id (a string, a number or null), echoed in the response; `None` for a
    /// notification.
    pub id: Option<Value>,
    /// The request, or the error to answer it with (under `id`).
    pub request: Result<Request, RpcError>,
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

    /// `reconfigure` changed keys a running bridge cannot change.
    pub fn restart_required(keys: &[String]) -> Self {
        Self::new(
            RESTART_REQUIRED,
            "restartRequired",
            format!(
                "{} can only change with a restart of this account's bridge; nothing was applied",
                keys.join(", ")
            ),
        )
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

/// The envelope of a line, read without decoding the values, so the id can be answered
/// even when the params are broken (a lone surrogate escape, a wrong type). A map, not a
/// struct: serde would read a struct from a JSON array too.
type Envelope<'a> = std::collections::BTreeMap<std::borrow::Cow<'a, str>, &'a RawValue>;

/// Parses one input line (without its newline). `Err` carries the error for a line
/// whose id cannot be read (answered with `id: null`); every other problem is answered
/// with the request's own id, as [`Incoming::request`]'s error.
pub fn parse_line(line: &str) -> Result<Incoming, RpcError> {
    let envelope: Envelope<'_> = match serde_json::from_str(line) {
        Ok(envelope) => envelope,
        Err(e) if e.is_syntax() || e.is_eof() => {
            return Err(RpcError::parse(format!("not JSON: {e}")))
        }
        Err(_) => return Err(RpcError::invalid_request("a request must be a JSON object")),
    };
    let id = match envelope
        .get("id")
        .map(|raw| serde_json::from_str::<Value>(raw.get()))
    {
        None => None,
        Some(Ok(id @ (Value::String(_) | Value::Number(_) | Value::Null))) => Some(id),
        Some(_) => {
            return Err(RpcError::invalid_request(
                r#""id" must be a string, a number or null"#,
            ))
        }
    };
    let (method, params) = match shape(&envelope) {
        Ok(shape) => shape,
        // Not a request at all: answered even without an id (with `id: null`), as
        // JSON-RPC asks for an invalid request.
        Err(err) if id.is_none() => return Err(err),
        Err(err) => {
            return Ok(Incoming {
                id,
                request: Err(err),
            })
        }
    };
    let request = decode_request(method, params);
    Ok(Incoming { id, request })
}

/// The method and params of a well-formed request object (the params may still be
/// undecodable).
type Shape = (String, Result<Value, RpcError>);

fn shape(envelope: &Envelope<'_>) -> Result<Shape, RpcError> {
    if envelope.get("jsonrpc").map(|raw| raw.get()) != Some(r#""2.0""#) {
        return Err(RpcError::invalid_request(r#""jsonrpc" must be "2.0""#));
    }
    let method = match envelope
        .get("method")
        .map(|raw| serde_json::from_str::<Value>(raw.get()))
    {
        Some(Ok(Value::String(method))) => method,
        _ => return Err(RpcError::invalid_request(r#""method" must be a string"#)),
    };
    let params = match envelope.get("params") {
        None => Ok(Value::Object(Map::new())),
        Some(raw) if raw.get() == "null" => Ok(Value::Object(Map::new())),
        // Well formed, but a string in it may not decode (a lone surrogate): that is
        // the request's params being wrong, answered as such.
        Some(raw) if raw.get().starts_with('{') => serde_json::from_str(raw.get())
            .map_err(|e| RpcError::invalid_params(format!("params: {e}"))),
        Some(_) => {
            return Err(RpcError::invalid_request(
                r#""params" must be an object (by-name params only)"#,
            ))
        }
    };
    Ok((method, params))
}

/// The typed request for a method and its params.
fn decode_request(method: String, params: Result<Value, RpcError>) -> Result<Request, RpcError> {
    if !Request::METHODS.contains(&method.as_str()) {
        return Err(RpcError::method_not_found(&method));
    }
    let params = params?;
    serde_json::from_value(json!({ "method": method, "params": params }))
        .map_err(|e| RpcError::invalid_params(format!("{method}: {e}")))
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

/// A notification line serialised once, straight from the params (no `Value` tree in
/// between: every admitted message is one). The same JSON as [`notification_line`] of
/// `serde_json::to_value(params)`, its object keys in declaration order.
pub fn notification_line_of<P: serde::Serialize + ?Sized>(
    method: &str,
    params: &P,
) -> serde_json::Result<String> {
    #[derive(serde::Serialize)]
    struct Notification<'a, P: ?Sized> {
        jsonrpc: &'static str,
        method: &'a str,
        params: &'a P,
    }
    serde_json::to_string(&Notification {
        jsonrpc: "2.0",
        method,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{AckParams, NoParams};

    #[test]
    fn a_notification_serialised_once_is_the_same_json() {
        let params = crate::protocol::ConnectionParams::from(&channel_api::ConnectionState::Active);
        let once = notification_line_of(crate::protocol::method::CONNECTION, &params).unwrap();
        let via_value = notification_line(
            crate::protocol::method::CONNECTION,
            serde_json::to_value(&params).unwrap(),
        );
        assert!(once.starts_with(r#"{"jsonrpc":"2.0","method":"connection","params":{"#));
        assert_eq!(
            serde_json::from_str::<Value>(&once).unwrap(),
            serde_json::from_str::<Value>(&via_value).unwrap()
        );
    }

    #[test]
    fn requests_and_notifications_are_told_apart() {
        let req = parse_line(r#"{"jsonrpc":"2.0","id":7,"method":"probe"}"#).unwrap();
        assert_eq!(req.id, Some(json!(7)));
        assert_eq!(req.request, Ok(Request::Probe(NoParams {})));
        let note = parse_line(r#"{"jsonrpc":"2.0","method":"ack","params":{"messageIds":["m1"]}}"#)
            .unwrap();
        assert_eq!(note.id, None);
        assert_eq!(
            note.request,
            Ok(Request::Ack(AckParams {
                message_ids: vec!["m1".into()]
            }))
        );
    }

    #[test]
    fn a_readable_id_is_always_answered() {
        // Wrong params, a wrong version, a lone surrogate, an unknown method: the request
        // failed, but the caller waits for its id, not for a timeout.
        let cases = [
            (
                r#"{"jsonrpc":"2.0","id":3,"method":"send","params":{"target":5}}"#,
                INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"1.0","id":3,"method":"probe"}"#,
                INVALID_REQUEST,
            ),
            (r#"{"id":3,"method":"probe"}"#, INVALID_REQUEST),
            (
                r#"{"jsonrpc":"2.0","id":3,"method":"send","params":{"target":"R","text":"a\ud800b"}}"#,
                INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"2.0","id":3,"method":"nope"}"#,
                METHOD_NOT_FOUND,
            ),
            (r#"{"jsonrpc":"2.0","id":3,"method":5}"#, INVALID_REQUEST),
            (
                r#"{"jsonrpc":"2.0","id":3,"method":"x","params":[1]}"#,
                INVALID_REQUEST,
            ),
        ];
        for (line, code) in cases {
            let parsed = parse_line(line).unwrap_or_else(|e| panic!("{line}: {e:?}"));
            assert_eq!(parsed.id, Some(json!(3)), "{line}");
            assert_eq!(parsed.request.unwrap_err().code, code, "{line}");
        }
    }

    #[test]
    fn an_unreadable_id_gets_the_standard_codes_with_null() {
        let cases = [
            ("not json", PARSE_ERROR),
            ("{\"jsonrpc\":\"2.0\",", PARSE_ERROR),
            ("[1,2]", INVALID_REQUEST),
            ("42", INVALID_REQUEST),
            (
                r#"{"jsonrpc":"2.0","id":{},"method":"probe"}"#,
                INVALID_REQUEST,
            ),
        ];
        for (line, code) in cases {
            assert_eq!(parse_line(line).unwrap_err().code, code, "{line}");
        }
    }

    #[test]
    fn every_method_name_parses_to_its_request() {
        for method in Request::METHODS {
            let line = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}"}}"#);
            let parsed = parse_line(&line).unwrap();
            match parsed.request {
                Ok(request) => assert_eq!(request.method(), *method),
                // Methods with required params refuse empty ones as invalid params.
                Err(e) => assert_eq!(e.code, INVALID_PARAMS, "{method}: {e:?}"),
            }
        }
    }
}
