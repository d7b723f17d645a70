//! A small JSON client for the Rocket.Chat REST API: hyper 1 + hyper-rustls with the
//! webpki roots plus an optional CA file. `http://` is refused unless `--insecure`.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::error::ProvisionError;

/// Who a call is made as: `X-User-Id` + `X-Auth-Token`. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Auth {
    /// The user id.
    pub user_id: String,
    /// A login token or a PAT.
    pub token: String,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("user_id", &self.user_id)
            .field("token", &"[REDACTED]")
            .finish()
    }
}

/// An answer: HTTP status and the JSON body (`Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: Value,
}

impl Reply {
    /// 2xx and not `"success": false`.
    pub fn ok(&self) -> bool {
        self.status.is_success() && self.body.get("success").and_then(Value::as_bool) != Some(false)
    }

    /// The server's `errorType` (e.g. `totp-required`), if any.
    pub fn error_type(&self) -> Option<&str> {
        self.body.get("errorType").and_then(Value::as_str)
    }

    /// The server's error text: `error`, else `message`, else the status.
    pub fn error_text(&self) -> String {
        ["error", "message"]
            .iter()
            .find_map(|k| self.body.get(*k).and_then(Value::as_str))
            .map(str::to_owned)
            .unwrap_or_else(|| self.status.to_string())
    }

    /// This reply as [`ProvisionError::Api`].
    pub fn into_error(self, call: &str) -> ProvisionError {
        ProvisionError::Api {
            call: call.to_owned(),
            status: self.status.as_u16(),
            message: self.error_text(),
        }
    }
}

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Base URL, e.g. `https://chat.example.com` (a path prefix is kept).
    pub url: String,
    /// Extra trusted CA certificates (PEM).
    pub ca_file: Option<std::path::PathBuf>,
    /// Allow `http://`.
    pub insecure: bool,
    /// Limit for one request.
    pub timeout: Duration,
}

/// The REST client.
#[derive(Clone)]
pub struct Api {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
    timeout: Duration,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// Checks the URL scheme and builds the TLS config.
    pub fn new(options: &ClientOptions) -> Result<Self, ProvisionError> {
        let base = options.url.trim().trim_end_matches('/').to_owned();
        let lower = base.to_ascii_lowercase();
        if lower.starts_with("http://") {
            if !options.insecure {
                return Err(ProvisionError::Usage(format!(
                    "{base} is plain http; pass --insecure for a local test server, or use https://"
                )));
            }
        } else if !lower.starts_with("https://") {
            return Err(ProvisionError::Usage(format!(
                "--url must start with https:// (or http:// with --insecure), got {base:?}"
            )));
        }
        let tls = tls_config(options.ca_file.as_deref())?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            client,
            base,
            timeout: options.timeout,
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET <base><path>?<query>`.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        auth: Option<&Auth>,
    ) -> Result<Reply, ProvisionError> {
        let mut uri = format!("{}{path}", self.base);
        if !query.is_empty() {
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            uri = format!("{uri}?{encoded}");
        }
        self.send(Method::GET, &uri, path, None, auth, &[]).await
    }

    /// `POST <base><path>` with a JSON body and extra headers (e.g. `x-2fa-*`).
    pub async fn post(
        &self,
        path: &str,
        body: &Value,
        auth: Option<&Auth>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, ProvisionError> {
        let uri = format!("{}{path}", self.base);
        self.send(Method::POST, &uri, path, Some(body), auth, headers)
            .await
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        call: &str,
        body: Option<&Value>,
        auth: Option<&Auth>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, ProvisionError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::ACCEPT, "application/json");
        if body.is_some() {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        if let Some(auth) = auth {
            builder = builder
                .header("x-user-id", &auth.user_id)
                .header("x-auth-token", &auth.token);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let request = builder
            .body(Full::new(bytes))
            .map_err(|e| ProvisionError::Usage(format!("bad request for {call}: {e}")))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| self.transport_error(&e))?;
            let status = response.status();
            let collected = response
                .into_body()
                .collect()
                .await
                .map_err(|e| ProvisionError::Unreachable {
                    url: self.base.clone(),
                    reason: format!("connection lost while reading the answer: {e}"),
                })?
                .to_bytes();
            let body = serde_json::from_slice(&collected).unwrap_or(Value::Null);
            Ok(Reply { status, body })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ProvisionError::Timeout {
                call: call.to_owned(),
                seconds: self.timeout.as_secs(),
            }),
        }
    }

    /// Turns a client error into "unreachable" or "TLS failed", by what is in its chain.
    fn transport_error(&self, error: &hyper_util::client::legacy::Error) -> ProvisionError {
        let mut reason = error.to_string();
        let mut tls = None;
        let mut source: Option<&(dyn std::error::Error + 'static)> =
            std::error::Error::source(error);
        while let Some(e) = source {
            tls = tls.or_else(|| rustls_error(e));
            reason = e.to_string();
            source = e.source();
        }
        match tls {
            Some(reason) => ProvisionError::Tls {
                url: self.base.clone(),
                reason,
            },
            None => ProvisionError::Unreachable {
                url: self.base.clone(),
                reason,
            },
        }
    }
}

/// The rustls error inside `e`, looking through (nested) `io::Error` wrappers, whose
/// `source()` skips the wrapped error itself.
fn rustls_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(r) = e.downcast_ref::<rustls::Error>() {
        return Some(r.to_string());
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}

/// Public roots plus the certificates in `ca_file`: the channel's own trust rules
/// (`backend_rocketchat::tls_client_config`), so provisioning trusts what the bot trusts.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, ProvisionError> {
    backend_rocketchat::tls_client_config(false, ca_file)
        .map(|config| (*config).clone())
        .map_err(|e| ProvisionError::Usage(format!("--ca-file: {}", e.problem)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(url: &str, insecure: bool) -> ClientOptions {
        ClientOptions {
            url: url.into(),
            ca_file: None,
            insecure,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn plain_http_needs_insecure() {
        let err = Api::new(&options("http://127.0.0.1:3000", false)).unwrap_err();
        assert!(err.to_string().contains("--insecure"), "{err}");
        assert_eq!(err.exit_code(), 2);
        assert!(Api::new(&options("http://127.0.0.1:3000/", true)).is_ok());
        assert!(Api::new(&options("https://chat.example", false)).is_ok());
        let err = Api::new(&options("ftp://x", true)).unwrap_err();
        assert!(err.to_string().contains("https://"), "{err}");
    }

    #[test]
    fn auth_debug_hides_the_token() {
        let auth = Auth {
            user_id: "u1".into(),
            token: "secret-token-value".into(),
        };
        assert!(!format!("{auth:?}").contains("secret-token-value"));
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let err = tls_config(Some(&path)).unwrap_err();
        assert!(err.to_string().contains("--ca-file"), "{err}");
    }
}
