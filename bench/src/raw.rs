//! The raw baseline: a bare fastwebsockets client that does the DDP handshake by hand
//! (connect, login with the PAT, `sub __my_messages__`) and then only reads frames and
//! parses each into a `serde_json::Value`. Nothing a real client could skip.

use std::future::Future;

use bytes::Bytes;
use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload};
use http::header::{CONNECTION, HOST, UPGRADE};
use http_body_util::Empty;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

use crate::Res;

/// Runs hyper's upgrade task on the current runtime.
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

/// A logged-in socket subscribed to `__my_messages__`.
pub(crate) struct RawClient {
    ws: FragmentCollector<TokioIo<Upgraded>>,
}

impl std::fmt::Debug for RawClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawClient")
    }
}

impl RawClient {
    /// Connects to `addr` (`127.0.0.1:port`), logs in and subscribes; returns once `ready`.
    pub(crate) async fn connect(addr: std::net::SocketAddr, token: &str) -> Res<Self> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let request = http::Request::builder()
            .method("GET")
            .uri("/websocket")
            .header(HOST, addr.to_string())
            .header(UPGRADE, "websocket")
            .header(CONNECTION, "upgrade")
            .header(
                "Sec-WebSocket-Key",
                fastwebsockets::handshake::generate_key(),
            )
            .header("Sec-WebSocket-Version", "13")
            .body(Empty::<Bytes>::new())?;
        let (mut ws, _) = fastwebsockets::handshake::client(&SpawnExecutor, request, tcp).await?;
        ws.set_auto_pong(true);
        let mut client = Self {
            ws: FragmentCollector::new(ws),
        };
        client
            .send(json!({"msg": "connect", "version": "1", "support": ["1"]}))
            .await?;
        client.wait_for(|v| v["msg"] == "connected").await?;
        client
            .send(json!({"msg": "method", "id": "1", "method": "login",
                         "params": [{"resume": token}]}))
            .await?;
        let login = client
            .wait_for(|v| v["msg"] == "result" && v["id"] == "1")
            .await?;
        if login.get("error").is_some() {
            return Err("raw client: login refused".into());
        }
        client
            .send(
                json!({"msg": "sub", "id": "s1", "name": "stream-room-messages",
                         "params": ["__my_messages__", {"useCollection": false, "args": []}]}),
            )
            .await?;
        client
            .wait_for(|v| v["msg"] == "ready" || v["msg"] == "nosub")
            .await?;
        Ok(client)
    }

    async fn send(&mut self, frame: Value) -> Res<()> {
        let bytes = serde_json::to_vec(&frame)?;
        self.ws
            .write_frame(Frame::text(Payload::Owned(bytes)))
            .await?;
        Ok(())
    }

    async fn wait_for(&mut self, want: impl Fn(&Value) -> bool) -> Res<Value> {
        loop {
            let v = self.next_value().await?;
            if v["msg"] == "ping" {
                self.send(json!({"msg": "pong"})).await?;
                continue;
            }
            if want(&v) {
                return Ok(v);
            }
        }
    }

    /// The next text frame, parsed.
    pub(crate) async fn next_value(&mut self) -> Res<Value> {
        loop {
            let frame = self.ws.read_frame().await?;
            match frame.opcode {
                OpCode::Text => return Ok(serde_json::from_slice(&frame.payload)?),
                OpCode::Close => return Err("raw client: closed by the server".into()),
                _ => continue,
            }
        }
    }

    /// Reads until `n` stream-message frames have arrived; calls `each` with every one.
    pub(crate) async fn read_messages(
        &mut self,
        n: usize,
        mut each: impl FnMut(&Value),
    ) -> Res<()> {
        let mut seen = 0;
        while seen < n {
            let v = self.next_value().await?;
            if v["msg"] == "changed" {
                seen += 1;
                each(&v);
            } else if v["msg"] == "ping" {
                self.send(json!({"msg": "pong"})).await?;
            }
        }
        Ok(())
    }
}
