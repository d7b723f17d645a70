//! [`DdpProxy`]: a TCP proxy between the backend and the simulator that reads the DDP
//! conversation both ways, for faults the simulator has no control for: it refuses chosen
//! subscriptions (`nosub` with an error) or methods (`result` with an error) in the
//! server's place, slips frames into the server's stream (a live `nosub`), fails or stalls
//! chosen REST requests (a 5xx on one endpoint for one room), and records every REST
//! request line, so a test can say which requests left the backend.
//!
//! Use it from a test file with `#[path = "support/ddp_proxy.rs"] mod ddp_proxy;`.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};

/// A refusal the proxy answers in the server's place.
#[derive(Debug, Clone)]
struct Refusal {
    /// `sub`: the subscription key (`params[0]`); `method`: the method name.
    name: String,
    /// The `error` object of the answer; `None` for a `nosub` without one.
    error: Option<Value>,
    /// How many more times (then the frames pass again).
    times: usize,
}

/// What the proxy does to a REST request in the server's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestFault {
    /// Answer with this status and Rocket.Chat's body for it.
    Status(u16),
    /// Never answer (the client's timeout decides).
    Stall,
    /// Forward it after this long (a server farther away than loopback).
    Delay(std::time::Duration),
}

#[derive(Debug, Clone)]
struct RestRule {
    /// Every one of these must be in the request's `METHOD /path?query`.
    parts: Vec<String>,
    fault: RestFault,
    times: usize,
}

#[derive(Debug, Default)]
struct Rules {
    subs: Vec<Refusal>,
    methods: Vec<Refusal>,
    rest: Vec<RestRule>,
    /// Subscription key → the id the client last used for it.
    sub_ids: HashMap<String, String>,
    /// `METHOD /path?query` of every REST request, in order.
    requests: Vec<String>,
}

/// See the module docs.
pub struct DdpProxy {
    addr: SocketAddr,
    rules: Arc<Mutex<Rules>>,
    websockets: Arc<AtomicUsize>,
    inject: broadcast::Sender<Vec<u8>>,
}

impl DdpProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rules = Arc::new(Mutex::new(Rules::default()));
        let websockets = Arc::new(AtomicUsize::new(0));
        let (inject, _) = broadcast::channel(64);
        let (r, ws, inj) = (rules.clone(), websockets.clone(), inject.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (r, ws, inj) = (r.clone(), ws.clone(), inj.clone());
                tokio::spawn(async move {
                    let _ = connection(client, upstream, r, ws, inj).await;
                });
            }
        });
        Self {
            addr,
            rules,
            websockets,
            inject,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `times` subscriptions to `key` are answered `nosub` with `error` (none
    /// when `None`) instead of reaching the server.
    pub fn refuse_sub(&self, key: &str, error: Option<Value>, times: usize) {
        self.rules.lock().unwrap().subs.push(Refusal {
            name: key.to_owned(),
            error,
            times,
        });
    }

    /// The next `times` calls of `method` are answered with `error` instead of reaching
    /// the server.
    pub fn refuse_method(&self, method: &str, error: Value, times: usize) {
        self.rules.lock().unwrap().methods.push(Refusal {
            name: method.to_owned(),
            error: Some(error),
            times,
        });
    }

    /// The next `times` REST requests whose `METHOD /path?query` contains every one of
    /// `parts` get `fault` instead of reaching the server.
    pub fn fail_rest(&self, parts: &[&str], fault: RestFault, times: usize) {
        self.rules.lock().unwrap().rest.push(RestRule {
            parts: parts.iter().map(|p| (*p).to_owned()).collect(),
            fault,
            times,
        });
    }

    /// The id the client last subscribed to `key` with.
    pub fn sub_id(&self, key: &str) -> Option<String> {
        self.rules.lock().unwrap().sub_ids.get(key).cloned()
    }

    /// Sends a DDP frame to every open WebSocket, between the server's frames.
    pub fn inject(&self, frame: &Value) {
        let _ = self.inject.send(ws_text(frame.to_string().as_bytes()));
    }

    /// WebSocket connections opened so far.
    pub fn websockets(&self) -> usize {
        self.websockets.load(Ordering::SeqCst)
    }

    /// Every REST request so far, as `METHOD /path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.rules.lock().unwrap().requests.clone()
    }
}

async fn connection(
    client: TcpStream,
    upstream: SocketAddr,
    rules: Arc<Mutex<Rules>>,
    websockets: Arc<AtomicUsize>,
    inject: broadcast::Sender<Vec<u8>>,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    let mut first = [0u8; 16];
    let n = client.peek(&mut first).await?;
    let is_websocket = first[..n].starts_with(b"GET /websocket");
    let (mut client_read, client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    if !is_websocket {
        return rest_connection(client_read, client_write, server_read, server_write, rules).await;
    }
    websockets.fetch_add(1, Ordering::SeqCst);
    // Everything to the client goes through one writer: the server's frames, injected
    // frames and the answers the proxy gives in the server's place.
    let (to_client, outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
    let (close_client, closed) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(write_to_client(client_write, outgoing, closed));
    // Client → server: the upgrade request, then frames, each one read (unmasked) to
    // apply the rules.
    let answers = to_client.clone();
    tokio::spawn(async move {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            if client_read.read_exact(&mut byte).await.is_err() {
                return;
            }
            head.push(byte[0]);
        }
        if server_write.write_all(&head).await.is_err() {
            return;
        }
        while let Ok(frame) = read_ws_frame(&mut client_read).await {
            match answer_for(&rules, &frame) {
                Some(answer) => {
                    let _ = answers.send(ws_text(answer.to_string().as_bytes()));
                }
                None => {
                    if server_write.write_all(&frame).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = server_write.shutdown().await;
    });
    // Server → client: the upgrade response, then whole frames, so injected frames land
    // between frames.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        server_read.read_exact(&mut byte).await?;
        head.push(byte[0]);
    }
    let _ = to_client.send(head);
    let mut injected = inject.subscribe();
    let (frames_tx, mut frames) = mpsc::channel::<Vec<u8>>(64);
    tokio::spawn(async move {
        while let Ok(frame) = read_ws_frame(&mut server_read).await {
            if frames_tx.send(frame).await.is_err() {
                return;
            }
        }
    });
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Some(frame) => { let _ = to_client.send(frame); }
                None => {
                    // The server closed: so does the client's side.
                    let _ = close_client.send(());
                    return Ok(());
                }
            },
            Ok(bytes) = injected.recv() => { let _ = to_client.send(bytes); }
        }
    }
}

/// Writes everything for the client, in order, until `closed` fires (the server's side
/// ended) or every sender is gone; then closes the client's side.
async fn write_to_client(
    mut client_write: tokio::net::tcp::OwnedWriteHalf,
    mut outgoing: mpsc::UnboundedReceiver<Vec<u8>>,
    mut closed: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            biased;
            bytes = outgoing.recv() => match bytes {
                Some(bytes) => {
                    if client_write.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                None => break,
            },
            _ = &mut closed => {
                // What is queued still goes out first.
                while let Ok(bytes) = outgoing.try_recv() {
                    if client_write.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                break;
            }
        }
    }
    let _ = client_write.shutdown().await;
}

/// REST, request by request (the client sends the next one only after the answer): each
/// request line is written down, and a rule may answer it in the server's place.
async fn rest_connection(
    mut client_read: tokio::net::tcp::OwnedReadHalf,
    client_write: tokio::net::tcp::OwnedWriteHalf,
    mut server_read: tokio::net::tcp::OwnedReadHalf,
    mut server_write: tokio::net::tcp::OwnedWriteHalf,
    rules: Arc<Mutex<Rules>>,
) -> std::io::Result<()> {
    let (to_client, outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
    let (close_client, closed) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(write_to_client(client_write, outgoing, closed));
    let answers = to_client.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = close_client.send(());
                    return;
                }
                Ok(n) => {
                    if answers.send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // One request: the head, then `Content-Length` bytes of body.
        let head_end = loop {
            if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                return server_write.shutdown().await;
            }
            pending.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&pending[..head_end]).into_owned();
        let body_len = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())
                    .flatten()
            })
            .unwrap_or(0);
        while pending.len() < head_end + body_len {
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                return server_write.shutdown().await;
            }
            pending.extend_from_slice(&buf[..n]);
        }
        let request: Vec<u8> = pending.drain(..head_end + body_len).collect();
        let mut words = head.split(' ');
        let line = format!(
            "{} {}",
            words.next().unwrap_or(""),
            words.next().unwrap_or("")
        );
        let fault = {
            let mut rules = rules.lock().unwrap();
            rules.requests.push(line.clone());
            rules
                .rest
                .iter_mut()
                .find(|r| r.times > 0 && r.parts.iter().all(|p| line.contains(p.as_str())))
                .map(|r| {
                    r.times -= 1;
                    r.fault
                })
        };
        match fault {
            None => server_write.write_all(&request).await?,
            Some(RestFault::Delay(delay)) => {
                tokio::time::sleep(delay).await;
                server_write.write_all(&request).await?;
            }
            Some(RestFault::Stall) => {}
            Some(RestFault::Status(status)) => {
                let body = match status {
                    503 => r#"{"success":false,"error":"Service Unavailable"}"#,
                    404 => r#"{"success":false,"error":"Resource not found"}"#,
                    403 => r#"{"success":false,"error":"unauthorized"}"#,
                    _ => r#"{"success":false,"error":"Internal server error"}"#,
                };
                let answer = format!(
                    "HTTP/1.1 {status} Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = to_client.send(answer.into_bytes());
            }
        }
    }
}

/// The answer the proxy gives in the server's place for a client frame, if a rule says so.
fn answer_for(rules: &Mutex<Rules>, frame: &[u8]) -> Option<Value> {
    let payload = unmasked_payload(frame)?;
    let v: Value = serde_json::from_slice(&payload).ok()?;
    let id = v.get("id")?.as_str()?.to_owned();
    let mut rules = rules.lock().unwrap();
    match v.get("msg")?.as_str()? {
        "sub" => {
            let key = v.pointer("/params/0")?.as_str()?.to_owned();
            rules.sub_ids.insert(key.clone(), id.clone());
            let refusal = rules
                .subs
                .iter_mut()
                .find(|r| r.name == key && r.times > 0)?;
            refusal.times -= 1;
            Some(match &refusal.error {
                Some(error) => json!({"msg": "nosub", "id": id, "error": error}),
                None => json!({"msg": "nosub", "id": id}),
            })
        }
        "method" => {
            let name = v.get("method")?.as_str()?;
            let refusal = rules
                .methods
                .iter_mut()
                .find(|r| r.name == name && r.times > 0)?;
            refusal.times -= 1;
            Some(json!({"msg": "result", "id": id, "error": refusal.error}))
        }
        _ => None,
    }
}

/// The payload of a (client, so masked) frame, unmasked.
fn unmasked_payload(frame: &[u8]) -> Option<Vec<u8>> {
    let masked = frame.get(1)? & 0x80 != 0;
    let (len, mut at) = match frame[1] & 0x7f {
        126 => (usize::from(u16::from_be_bytes([frame[2], frame[3]])), 4),
        127 => (
            usize::try_from(u64::from_be_bytes(frame.get(2..10)?.try_into().ok()?)).ok()?,
            10,
        ),
        n => (usize::from(n), 2),
    };
    let mask = if masked {
        let m: [u8; 4] = frame.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(m)
    } else {
        None
    };
    let mut payload = frame.get(at..at + len)?.to_vec();
    if let Some(mask) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    Some(payload)
}

/// Reads one whole WebSocket frame (header and payload) as raw bytes.
async fn read_ws_frame(r: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Vec<u8>> {
    let mut out = vec![0u8; 2];
    r.read_exact(&mut out).await?;
    let masked = out[1] & 0x80 != 0;
    let len = match out[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).await?;
            out.extend_from_slice(&b);
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            r.read_exact(&mut b).await?;
            out.extend_from_slice(&b);
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    let rest = usize::try_from(len).unwrap() + if masked { 4 } else { 0 };
    let start = out.len();
    out.resize(start + rest, 0);
    r.read_exact(&mut out[start..]).await?;
    Ok(out)
}

/// An unmasked, final text frame (what a server sends).
fn ws_text(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x81];
    match payload.len() {
        n if n < 126 => out.push(u8::try_from(n).unwrap()),
        n if n <= usize::from(u16::MAX) => {
            out.push(126);
            out.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}
