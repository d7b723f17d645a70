//! The REST client for admin tools (`rc-provision`, test helpers): the channel's own
//! transport ([`crate::rest::Transport`]), TLS rules ([`crate::tls_client_config`]), auth
//! headers and error envelope, with the endpoints left to the caller.
//!
//! Unlike the channel's client it has no stop switch and does not wait out 429s: a 401 is
//! an answer a tool reads (a refused login), and a tool run is short and reports failures.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method, Request};
use http_body_util::Full;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::backoff::wait_for_reset;
use crate::config::{ConfigError, Secret};
use crate::error::RcError;
use crate::rest::{check_envelope, with_auth, Transport, TransportError};

/// Where the server is and how far to trust the network.
#[derive(Debug, Clone)]
pub struct AdminOptions {
    /// `https://host[:port][/prefix]`; `http://` only with `allow_plain_http`.
    pub server_url: String,
    /// Extra PEM CA certificates trusted besides the public roots.
    pub ca_file: Option<PathBuf>,
    /// Allow `http://` (a local test server). Certificates of an `https://` server are
    /// still checked: an admin tool sends passwords.
    pub allow_plain_http: bool,
    /// Limit for one request.
    pub request_timeout: Duration,
}

/// Who a call is made as (`X-User-Id` + `X-Auth-Token`): a login token or a PAT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user id.
    pub user_id: String,
    /// The token.
    pub token: Secret,
}

/// Why a call failed. Never holds a password or a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    /// The URL, the CA file or the TLS setup is unusable (names the config field).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No connection (refused, DNS, unreachable network), or it broke mid-answer.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The server's base URL.
        url: String,
        /// The innermost cause (what the OS said).
        reason: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The TLS handshake failed (untrusted or wrong certificate, not TLS at all, ...).
    #[error("TLS with {url} failed: {reason}")]
    Tls {
        /// The server's base URL.
        url: String,
        /// What rustls said.
        reason: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No answer within the request timeout.
    #[error("{endpoint}: no answer from the server within {seconds} s")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The limit.
        seconds: u64,
    },
    /// The server refused: a non-2xx or `success: false`.
    #[error("{endpoint} failed (HTTP {status}): {message}")]
    Api {
        /// The endpoint.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The error's code (`errorType`, or the `[code]` of the text), when it has one.
        code: Option<String>,
        /// Rocket.Chat's error text (`error`, else `message`, else the status).
        message: String,
        /// A 429's wait until `X-RateLimit-Reset`; the caller decides whether to wait.
        retry_after: Option<Duration>,
    },
    /// An answer this client cannot read (not JSON, too large, a field missing).
    #[error("{endpoint}: unexpected answer: {reason}")]
    BadResponse {
        /// The endpoint.
        endpoint: String,
        /// What was wrong.
        reason: String,
    },
    /// The request could not be built (a header value that is not valid).
    #[error("{0}")]
    Invalid(String),
}

impl RestError {
    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long a 429 asks the caller to wait (until `X-RateLimit-Reset`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The error code of a refusal (`error-action-not-allowed`, `totp-invalid`, ...).
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The code when the server asks for (or refused) a second factor: `totp-required`,
    /// `totp-invalid`, `totp-no-method`, ...
    pub fn two_factor(&self) -> Option<&str> {
        self.code()
            .filter(|c| c.contains("totp") || c.contains("2fa"))
    }

    fn from_rc(e: RcError) -> Self {
        match e {
            RcError::Api {
                endpoint,
                status,
                code,
                message,
            } => Self::Api {
                endpoint,
                status,
                code,
                message,
                retry_after: None,
            },
            RcError::BadResponse(reason) => Self::BadResponse {
                endpoint: String::new(),
                reason,
            },
            other => Self::Invalid(other.to_string()),
        }
    }
}

/// The `x-2fa-code` of the `password` method: lowercase hex SHA-256 of the password.
pub fn two_factor_code(password: &Secret) -> Secret {
    let digest = Sha256::digest(password.expose().as_bytes());
    Secret::new(
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    )
}

/// The admin REST client. Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct AdminRest {
    transport: Transport,
}

impl AdminRest {
    /// Checks the URL and the CA file and builds the client; sends nothing.
    pub fn new(options: &AdminOptions) -> Result<Self, RestError> {
        let url = crate::config::parse_server_url(&options.server_url, options.allow_plain_http)?;
        let tls = crate::tls_client_config(false, options.ca_file.as_deref())?;
        Ok(Self {
            transport: Transport::new(&url, tls, options.request_timeout),
        })
    }

    /// The server's base URL (origin and path prefix, no trailing slash).
    pub fn base(&self) -> &str {
        self.transport.base()
    }

    /// A `GET` of `/api/v1/<endpoint>` (`/api/<endpoint>` when it starts with `/`).
    pub fn get<'a>(&'a self, endpoint: &'a str) -> AdminCall<'a> {
        self.call(Method::GET, endpoint, None)
    }

    /// A `POST` of a JSON body to `/api/v1/<endpoint>` (see [`AdminRest::get`]).
    pub fn post<'a>(&'a self, endpoint: &'a str, body: Value) -> AdminCall<'a> {
        self.call(Method::POST, endpoint, Some(body))
    }

    fn call<'a>(&'a self, method: Method, endpoint: &'a str, body: Option<Value>) -> AdminCall<'a> {
        AdminCall {
            rest: self,
            method,
            endpoint,
            query: Vec::new(),
            body,
            raw_body: None,
            auth: None,
            two_factor: None,
        }
    }

    /// `POST /api/v1/login` with a password: a login token. A refusal is
    /// [`RestError::Api`] (401 for a wrong password; see [`RestError::two_factor`]).
    pub async fn login(&self, user: &str, password: &Secret) -> Result<Credentials, RestError> {
        let body = json!({"user": user, "password": password.expose()});
        let answer = self.post("login", body).send().await?;
        let field = |p: &str| {
            answer
                .pointer(p)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        match (field("/data/userId"), field("/data/authToken")) {
            (Some(user_id), Some(token)) => Ok(Credentials {
                user_id,
                token: Secret::new(token),
            }),
            _ => Err(RestError::BadResponse {
                endpoint: "login".into(),
                reason: "no userId/authToken".into(),
            }),
        }
    }

    fn transport_error(&self, e: TransportError) -> RestError {
        let url = self.base().to_owned();
        match e {
            TransportError::Connect {
                tls: Some(reason),
                source,
                ..
            } => RestError::Tls {
                url,
                reason,
                source: Box::new(source),
            },
            TransportError::Connect { cause, source, .. } => RestError::Unreachable {
                url,
                reason: cause,
                source: Box::new(source),
            },
            TransportError::Body { source, .. } => RestError::Unreachable {
                url,
                reason: format!("connection lost while reading the answer: {source}"),
                source,
            },
            e @ TransportError::TooLarge { .. } => RestError::BadResponse {
                endpoint: String::new(),
                reason: e.to_string(),
            },
            TransportError::Timeout(endpoint) => RestError::Timeout {
                endpoint,
                seconds: self.transport.timeout().as_secs(),
            },
        }
    }
}

/// One call being put together: `.query()`, `.auth()`, `.two_factor_password()`, then
/// `.send()`.
#[derive(Debug)]
#[must_use = "a call does nothing until it is sent"]
pub struct AdminCall<'a> {
    rest: &'a AdminRest,
    method: Method,
    endpoint: &'a str,
    query: Vec<(&'a str, &'a str)>,
    body: Option<Value>,
    raw_body: Option<(String, Vec<u8>)>,
    auth: Option<&'a Credentials>,
    two_factor: Option<Secret>,
}

impl<'a> AdminCall<'a> {
    /// Adds a query parameter.
    pub fn query(mut self, key: &'a str, value: &'a str) -> Self {
        self.query.push((key, value));
        self
    }

    /// Sends `bytes` as the body with this `Content-Type` instead of JSON (a multipart
    /// upload, e.g. `rooms.media`).
    pub fn raw_body(mut self, content_type: impl Into<String>, bytes: Vec<u8>) -> Self {
        self.raw_body = Some((content_type.into(), bytes));
        self
    }

    /// Makes the call as `who`.
    pub fn auth(mut self, who: &'a Credentials) -> Self {
        self.auth = Some(who);
        self
    }

    /// Answers a 2FA challenge with the `password` method (`x-2fa-method: password`,
    /// `x-2fa-code`: see [`two_factor_code`]), for the calls that require it.
    pub fn two_factor_password(mut self, password: &Secret) -> Self {
        self.two_factor = Some(two_factor_code(password));
        self
    }

    /// Sends it: the body of a 2xx whose `success` is not false, else the refusal.
    pub async fn send(mut self) -> Result<Value, RestError> {
        let name = self.endpoint.trim_start_matches('/');
        // Endpoint-less errors from the shared layers get this call's name.
        let named = |e: RestError| match e {
            RestError::BadResponse { endpoint, reason } if endpoint.is_empty() => {
                RestError::BadResponse {
                    endpoint: name.to_owned(),
                    reason,
                }
            }
            other => other,
        };
        let req = self.request(name).map_err(RestError::from_rc)?;
        let (status, headers, bytes) = self
            .rest
            .transport
            .exchange(req, name)
            .await
            .map_err(|e| named(self.rest.transport_error(e)))?;
        check_envelope(name, status, &bytes).map_err(|e| {
            let mut e = named(RestError::from_rc(e));
            if let RestError::Api { retry_after, .. } = &mut e {
                if status == http::StatusCode::TOO_MANY_REQUESTS {
                    let reset = headers
                        .get("x-ratelimit-reset")
                        .and_then(|v| v.to_str().ok());
                    *retry_after = Some(
                        wait_for_reset(reset, SystemTime::now()).unwrap_or(Duration::from_secs(1)),
                    );
                }
            }
            e
        })?;
        serde_json::from_slice(&bytes).map_err(|e| RestError::BadResponse {
            endpoint: name.to_owned(),
            reason: format!("not JSON: {e}"),
        })
    }

    fn request(&mut self, name: &str) -> Result<Request<Full<Bytes>>, RcError> {
        let uri = self.rest.transport.endpoint_uri(self.endpoint, &self.query);
        let mut req = Request::builder()
            .method(self.method.clone())
            .uri(uri)
            .header("accept", "application/json");
        if let Some(who) = self.auth {
            req = with_auth(req, &who.user_id, &who.token)?;
        }
        if let Some(code) = &self.two_factor {
            let mut value = HeaderValue::from_str(code.expose())
                .map_err(|_| RcError::Invalid("x-2fa-code is not a valid header value".into()))?;
            value.set_sensitive(true);
            req = req
                .header("x-2fa-method", "password")
                .header("x-2fa-code", value);
        }
        let payload = match (self.raw_body.take(), &self.body) {
            (Some((content_type, bytes)), _) => {
                req = req.header("content-type", content_type);
                Bytes::from(bytes)
            }
            (None, Some(v)) => {
                req = req.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(v).map_err(|e| RcError::Invalid(e.to_string()))?)
            }
            (None, None) => Bytes::new(),
        };
        req.body(Full::new(payload))
            .map_err(|e| RcError::Invalid(format!("bad request for {name}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(url: &str, allow_plain_http: bool) -> AdminOptions {
        AdminOptions {
            server_url: url.into(),
            ca_file: None,
            allow_plain_http,
            request_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn plain_http_needs_the_flag() {
        let err = AdminRest::new(&options("http://127.0.0.1:3000", false)).unwrap_err();
        assert!(matches!(
            err,
            RestError::Config(ConfigError {
                field: "serverUrl",
                ..
            })
        ));
        assert!(AdminRest::new(&options("http://127.0.0.1:3000/", true)).is_ok());
        assert!(AdminRest::new(&options("https://chat.example", false)).is_ok());
        assert!(AdminRest::new(&options("ftp://x", true)).is_err());
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let path = std::env::temp_dir().join(format!("rc-admin-ca-{}.pem", std::process::id()));
        std::fs::write(&path, "not a certificate\n").unwrap();
        let mut o = options("https://chat.example", false);
        o.ca_file = Some(path.clone());
        let err = AdminRest::new(&o).unwrap_err();
        assert!(matches!(
            err,
            RestError::Config(ConfigError {
                field: "caFile",
                ..
            })
        ));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn two_factor_code_is_hex_sha256_of_the_password() {
        // sha256("abc"), a published test vector.
        assert_eq!(
            two_factor_code(&Secret::new("abc")).expose(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn credentials_debug_hides_the_token() {
        let who = Credentials {
            user_id: "u1".into(),
            token: Secret::new("secret-token-value"),
        };
        assert!(!format!("{who:?}").contains("secret-token-value"));
    }
}
