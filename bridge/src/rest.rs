//! A small HTTPS client for the Rocket.Chat REST calls the bridge makes itself: the
//! `doctor` checks and the `probe` request (`/api/info`, `/api/v1/me`, `rooms.info`,
//! `chat.sendMessage`). The channel's own traffic goes through the backend, not here.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::ClientConfig;
use serde_json::Value;

/// How long one REST call may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A personal access token. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([REDACTED])")
    }
}

/// What went wrong with a REST call. Messages never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    /// The server URL is unusable.
    #[error("serverUrl: {0}")]
    Url(String),
    /// The TLS setup (CA file) failed.
    #[error("TLS setup: {0}")]
    TlsSetup(String),
    /// The server could not be reached (DNS, TCP, TLS handshake, certificate).
    #[error("cannot reach the server: {0}")]
    Connect(String),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The answer was not JSON.
    #[error("HTTP {status}: the body is not JSON")]
    NotJson {
        /// The HTTP status.
        status: u16,
    },
}

/// A JSON answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The HTTP status.
    pub status: StatusCode,
    /// The decoded body.
    pub body: Value,
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct RestClient {
    /// `https://host:port/prefix`, without a trailing slash.
    base: String,
    tls: bool,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    auth: Option<(String, Token)>,
    timeout: Duration,
}

impl RestClient {
    /// A client for `server_url`. `http://` and unverified certificates only with
    /// `insecure`; `ca_file` adds a PEM CA to the public roots.
    pub fn new(
        server_url: &str,
        insecure: bool,
        ca_file: Option<&Path>,
    ) -> Result<Self, RestError> {
        let uri: Uri = server_url
            .trim()
            .parse()
            .map_err(|e| RestError::Url(format!("not a URL: {e}")))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if insecure => false,
            Some("http") => {
                return Err(RestError::Url(
                    "http:// is refused; use https:// (or set dangerouslyAllowInsecure for local development)".into(),
                ))
            }
            _ => return Err(RestError::Url("must start with https://".into())),
        };
        let Some(authority) = uri.authority() else {
            return Err(RestError::Url("has no host".into()));
        };
        let base = format!(
            "{}://{}{}",
            if tls { "https" } else { "http" },
            authority,
            uri.path().trim_end_matches('/')
        );
        let config = tls_config(insecure, ca_file)?;
        let builder = HttpsConnectorBuilder::new().with_tls_config(config);
        let connector = if tls {
            builder.https_only().enable_http1().build()
        } else {
            builder.https_or_http().enable_http1().build()
        };
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            base,
            tls,
            client,
            auth: None,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The same client, sending `X-User-Id` / `X-Auth-Token`.
    pub fn with_auth(mut self, user_id: impl Into<String>, token: Token) -> Self {
        self.auth = Some((user_id.into(), token));
        self
    }

    /// The same client with another per-call timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The base URL (no secret in it).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether the connection uses TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// `GET base + path`.
    pub async fn get(&self, path_and_query: &str) -> Result<Response, RestError> {
        self.call(Method::GET, path_and_query, None).await
    }

    /// `POST base + path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Response, RestError> {
        self.call(Method::POST, path, Some(body.to_string())).await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Response, RestError> {
        let url = format!("{}{}", self.base, path);
        let mut request = Request::builder()
            .method(method)
            .uri(&url)
            .header("accept", "application/json");
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        if let Some((user, token)) = &self.auth {
            request = request
                .header("x-user-id", user)
                .header("x-auth-token", token.expose());
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| RestError::Url(format!("cannot build a request for {url}: {e}")))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| RestError::Connect(error_chain(&e)))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| RestError::Connect(error_chain(&e)))?
                .to_bytes();
            let body = serde_json::from_slice(&bytes).map_err(|_| RestError::NotJson {
                status: status.as_u16(),
            })?;
            Ok(Response { status, body })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| RestError::Timeout(self.timeout))?
    }
}

/// An error and its sources in one line ("client error (Connect): invalid peer
/// certificate: UnknownIssuer"), since the top-level message of a connect error says little.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}

/// The channel's own TLS rules (`backend_rocketchat::tls_client_config`), so `doctor`
/// trusts exactly what `serve` trusts.
fn tls_config(insecure: bool, ca_file: Option<&Path>) -> Result<ClientConfig, RestError> {
    backend_rocketchat::tls_client_config(insecure, ca_file)
        .map(|config| (*config).clone())
        .map_err(|e| RestError::TlsSetup(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(RestClient::new("https://chat.example/", false, None).is_ok());
        assert_eq!(
            RestClient::new("https://chat.example/rc/", false, None)
                .unwrap()
                .base(),
            "https://chat.example/rc"
        );
        assert!(matches!(
            RestClient::new("http://chat.example", false, None),
            Err(RestError::Url(_))
        ));
        assert!(RestClient::new("http://127.0.0.1:3000", true, None).is_ok());
        assert!(matches!(
            RestClient::new("ftp://x", true, None),
            Err(RestError::Url(_))
        ));
        assert!(matches!(
            RestClient::new("not a url", false, None),
            Err(RestError::Url(_))
        ));
    }

    #[test]
    fn token_debug_is_redacted() {
        assert_eq!(format!("{:?}", Token::new("SECRET")), "Token([REDACTED])");
    }
}
