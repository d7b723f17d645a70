//! The listener: hyper http1 (optionally behind rustls), routing `/websocket` to DDP,
//! `/api/*` to REST and `/_sim/*` to the JSON control API; start, stop and restart.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::config::SimConfig;
use crate::error::SimError;
use crate::faults::{take_endpoint_fault, RestFault};
use crate::hub::{Out, Shared};
use crate::rest::{self, Body, Reply, Req};

/// Largest request body accepted (REST and control).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The body of a `RestFault::Status`: Rocket.Chat's own 500 body, else the status text.
fn fault_status(code: u16) -> Response<Body> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let error = if status == StatusCode::INTERNAL_SERVER_ERROR {
        "Internal server error".to_owned()
    } else {
        status.canonical_reason().unwrap_or("error").to_owned()
    };
    rest::json_response(status, &json!({"success": false, "error": error}))
}

/// A 200 JSON body of exactly `bytes` bytes (at least the envelope's own size).
fn huge_body(bytes: usize) -> Response<Body> {
    const ENVELOPE: &str = r#"{"success":true,"padding":""}"#;
    let pad = bytes.saturating_sub(ENVELOPE.len());
    let mut text = String::with_capacity(ENVELOPE.len() + pad);
    text.push_str(r#"{"success":true,"padding":""#);
    text.extend(std::iter::repeat_n('x', pad));
    text.push_str(r#""}"#);
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// A boxed future, as the control entry returns it.
pub(crate) type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// The JSON control API's entry point (`control_http::entry`), handed in by the crate root
/// so that the listener does not depend on the control modules (they depend on it).
pub(crate) type ControlEntry = fn(Arc<Core>, String, Value) -> BoxFuture<(StatusCode, Value)>;

/// What the handle and the control API share: the state plus the listener.
pub(crate) struct Core {
    pub(crate) shared: Arc<Shared>,
    pub(crate) addr: SocketAddr,
    control: Option<ControlEntry>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    accept_task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

fn load_tls(config: &SimConfig) -> Result<Option<tokio_rustls::TlsAcceptor>, SimError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let Some(files) = &config.tls else {
        return Ok(None);
    };
    let certs = CertificateDer::pem_file_iter(&files.cert_pem)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| SimError::Tls(format!("certificate {}: {e}", files.cert_pem.display())))?;
    let key = PrivateKeyDer::from_pem_file(&files.key_pem)
        .map_err(|e| SimError::Tls(format!("private key {}: {e}", files.key_pem.display())))?;
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| SimError::Tls(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| SimError::Tls(e.to_string()))?;
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(server))))
}

impl Core {
    pub(crate) async fn start(
        config: SimConfig,
        control: Option<ControlEntry>,
    ) -> Result<Arc<Core>, SimError> {
        let tls = load_tls(&config)?;
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let core = Arc::new(Core {
            shared: Shared::new(config),
            addr,
            control,
            tls,
            accept_task: Mutex::new(None),
        });
        core.spawn_accept(listener);
        Ok(core)
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    fn spawn_accept(self: &Arc<Self>, listener: TcpListener) {
        let core = self.clone();
        let task = tokio::spawn(async move { core.accept_loop(listener).await });
        *self.accept_task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        // Connection tasks live in this set: aborting the accept task aborts them all.
        let mut conns = JoinSet::new();
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        continue;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            };
            // Node's http server (Rocket.Chat) turns Nagle off; with it on, a reply of two
            // small frames (`result` + `updated`, `added` + `ready`) waits for a delayed ACK.
            let _ = stream.set_nodelay(true);
            let core = self.clone();
            conns.spawn(async move {
                match core.tls.clone() {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(tls) => core.serve_conn(TokioIo::new(tls), peer).await,
                        Err(e) => tracing::debug!("tls handshake failed: {e}"),
                    },
                    None => core.serve_conn(TokioIo::new(stream), peer).await,
                }
            });
        }
    }

    async fn serve_conn<I>(self: Arc<Self>, io: I, peer: SocketAddr)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let core = self.clone();
        let service = service_fn(move |req| {
            let core = core.clone();
            async move { core.handle(req, peer).await }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .with_upgrades();
        if let Err(e) = conn.await {
            tracing::debug!("http connection ended: {e}");
        }
    }

    async fn handle(
        self: Arc<Self>,
        mut req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Result<Response<Body>, std::io::Error> {
        let path = req.uri().path().to_owned();
        if matches!(
            path.as_str(),
            "/websocket" | "/websocket/" | "/sockjs/websocket"
        ) && fastwebsockets::upgrade::is_upgrade_request(&req)
        {
            return match fastwebsockets::upgrade::upgrade(&mut req) {
                Ok((resp, fut)) => {
                    tokio::spawn(crate::ddp::serve(self.shared.clone(), fut));
                    Ok(resp.map(|_| Full::new(Bytes::new())))
                }
                Err(e) => Ok(rest::json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": e.to_string()}),
                )),
            };
        }
        let is_control = path.starts_with("/_sim/");
        // An armed REST fault (control `fail_endpoint`) on this path.
        let fault = if is_control {
            None
        } else {
            take_endpoint_fault(&mut self.shared.lock().faults.endpoint_faults, &path)
        };
        match fault {
            Some(RestFault::Status(code)) => return Ok(fault_status(code)),
            Some(RestFault::HugeBody(bytes)) => return Ok(huge_body(bytes)),
            Some(RestFault::Drop) => {
                return Err(std::io::Error::other("connection dropped on purpose"))
            }
            Some(RestFault::Stall(d)) => tokio::time::sleep(d).await,
            None => {}
        }
        if path == "/api/info" {
            return Ok(rest::info(&self.shared, req.headers()));
        }
        // Uploads read a multipart body (not JSON) and downloads answer raw bytes.
        if let Some(rid) = path.strip_prefix("/api/v1/rooms.media/") {
            if req.method() == http::Method::POST {
                return Ok(rest::uploads::rooms_media(&self.shared, rid, req).await);
            }
        }
        if let Some(rest_of_path) = path.strip_prefix("/file-upload/") {
            return Ok(rest::uploads::download(&self.shared, rest_of_path, &req));
        }
        let method = req.method().clone();
        let headers = req.headers().clone();
        let query: std::collections::HashMap<String, String> = req
            .uri()
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let bytes = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                tracing::debug!("request body unreadable: {e}");
                return Ok(rest::json_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &json!({"success": false, "error": "Invalid body"}),
                ));
            }
        };
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(_) => {
                    return Ok(rest::json_response(
                        StatusCode::BAD_REQUEST,
                        &json!({"success": false, "error": "Invalid JSON body"}),
                    ))
                }
            }
        };
        if let Some(route) = path.strip_prefix("/api/v1/") {
            let req = Req {
                method,
                route: route.to_owned(),
                query,
                headers,
                body,
                peer,
            };
            return match rest::handle_v1(&self.shared, req).await {
                Reply::Respond(resp) => Ok(resp),
                Reply::DropConnection => Err(std::io::Error::other("response dropped on purpose")),
            };
        }
        if let Some(rest_of_path) = path.strip_prefix("/hooks/") {
            if method == http::Method::POST {
                return Ok(rest::hooks::incoming(&self.shared, rest_of_path, body));
            }
        }
        if let Some(name) = path.strip_prefix("/_sim/") {
            if let (Some(entry), true) = (
                self.control,
                self.shared.config.control_http && peer.ip().is_loopback(),
            ) {
                let (status, out) = entry(self.clone(), name.to_owned(), body).await;
                return Ok(rest::json_response(status, &out));
            }
        }
        Ok(rest::json_response(
            StatusCode::NOT_FOUND,
            &json!({"success": false, "error": "Resource not found"}),
        ))
    }

    /// Stops listening and drops every connection (sockets get no frame). State is kept.
    pub(crate) fn stop(&self) {
        if let Some(task) = self
            .accept_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
        let st = self.shared.lock();
        for s in st.sessions.values() {
            let _ = s.out.send(Out::Drop);
        }
    }

    /// Stops, then listens again on the same port with the same state.
    pub(crate) async fn restart(self: &Arc<Self>) -> Result<(), SimError> {
        self.stop();
        // The old listener is closed once the aborted task is dropped; retry briefly.
        let mut last = None;
        for _ in 0..50 {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => {
                    self.spawn_accept(listener);
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }
        Err(last.map(SimError::Io).unwrap_or(SimError::Stopped))
    }
}
