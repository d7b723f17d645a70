//! Opening the WebSocket: TCP, then TLS (tokio-rustls) for `wss`, then the HTTP upgrade
//! (fastwebsockets), split into a read half (fragments collected) and a write half.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use fastwebsockets::{FragmentCollectorRead, WebSocketWrite};
use http::header::{CONNECTION, HOST, UPGRADE};
use http::Request;
use http_body_util::Empty;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use crate::config::ServerUrl;
use crate::error::RcError;

pub(crate) type WsRead = FragmentCollectorRead<ReadHalf<TokioIo<Upgraded>>>;
pub(crate) type WsWrite = WebSocketWrite<WriteHalf<TokioIo<Upgraded>>>;

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Runs hyper's connection task for the upgrade handshake on tokio.
struct SpawnExecutor;

impl<Fut> hyper::rt::Executor<Fut> for SpawnExecutor
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn execute(&self, fut: Fut) {
        tokio::spawn(fut);
    }
}

/// Connects to `<server>/websocket`. Inbound messages above `max_message` bytes are refused
/// by fastwebsockets from the frame header, before any allocation.
pub(crate) async fn open(
    url: &ServerUrl,
    tls: &Arc<rustls::ClientConfig>,
    max_message: usize,
) -> Result<(WsRead, WsWrite), RcError> {
    let tcp = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| RcError::Transport(format!("connecting to {}: {e}", url.authority())))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = if url.tls {
        let name = ServerName::try_from(url.host.clone())
            .map_err(|e| RcError::Transport(format!("bad server name {}: {e}", url.host)))?;
        let connector = tokio_rustls::TlsConnector::from(tls.clone());
        let tls_stream = connector.connect(name, tcp).await.map_err(|e| {
            RcError::Transport(format!("TLS handshake with {}: {e}", url.authority()))
        })?;
        Box::new(tls_stream)
    } else {
        Box::new(tcp)
    };
    let path = format!("{}/websocket", url.prefix);
    let request = Request::builder()
        .method("GET")
        .uri(path)
        .header(HOST, url.authority())
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "upgrade")
        .header(
            "Sec-WebSocket-Key",
            fastwebsockets::handshake::generate_key(),
        )
        .header("Sec-WebSocket-Version", "13")
        .body(Empty::<Bytes>::new())
        .map_err(|e| RcError::Invalid(format!("websocket request: {e}")))?;
    let (mut ws, _) = fastwebsockets::handshake::client(&SpawnExecutor, request, stream)
        .await
        .map_err(|e| RcError::Transport(format!("websocket upgrade: {e}")))?;
    ws.set_max_message_size(max_message);
    ws.set_auto_pong(true);
    ws.set_auto_close(true);
    let (read, write) = ws.split(tokio::io::split);
    Ok((FragmentCollectorRead::new(read), write))
}
