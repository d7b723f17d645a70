//! Raw clients for frame-level tests: a fastwebsockets DDP client and a hyper HTTP client.
//! Deliberately independent of `backend-rocketchat`.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload};
use http_body_util::{BodyExt, Full};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use rocketchat_sim::{SimConfig, SimHandle, Simulator, UserKind};
use serde_json::{json, Value};
use tokio::net::TcpStream;

/// Generous timeout so a broken test fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(10);

struct SpawnExecutor;

impl<Fut> hyper::rt::Executor<Fut> for SpawnExecutor
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn execute(&self, fut: Fut) {
        tokio::task::spawn(fut);
    }
}

pub async fn start() -> SimHandle {
    Simulator::start(SimConfig::default()).await.unwrap()
}

pub async fn start_with(config: SimConfig) -> SimHandle {
    Simulator::start(config).await.unwrap()
}

/// A bot with a PAT: (user id, token).
pub fn bot(sim: &SimHandle, name: &str) -> (String, String) {
    let id = sim.create_user(name, UserKind::Bot).unwrap();
    let token = sim.create_pat(&id, "test").unwrap();
    (id, token)
}

pub struct Ws {
    ws: FragmentCollector<TokioIo<Upgraded>>,
    /// Frames read while waiting for something else (e.g. stream events before a result).
    pending: std::collections::VecDeque<Value>,
}

impl Ws {
    pub async fn open(sim: &SimHandle) -> Ws {
        let stream = TcpStream::connect(sim.addr()).await.unwrap();
        let req = hyper::Request::builder()
            .method("GET")
            .uri(sim.ws_url())
            .header("Host", sim.addr().to_string())
            .header(hyper::header::UPGRADE, "websocket")
            .header(hyper::header::CONNECTION, "upgrade")
            .header(
                "Sec-WebSocket-Key",
                fastwebsockets::handshake::generate_key(),
            )
            .header("Sec-WebSocket-Version", "13")
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let (ws, _) = fastwebsockets::handshake::client(&SpawnExecutor, req, stream)
            .await
            .unwrap();
        Ws {
            ws: FragmentCollector::new(ws),
            pending: Default::default(),
        }
    }

    /// Opens, connects and logs in.
    pub async fn logged_in(sim: &SimHandle, token: &str) -> Ws {
        let mut ws = Ws::open(sim).await;
        ws.connect().await;
        let r = ws.call("login", json!([{"resume": token}])).await;
        assert!(r.get("result").is_some(), "login failed: {r}");
        // Drop the `users` added frame that came with the login.
        ws.pending.clear();
        ws
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .write_frame(Frame::text(Payload::Owned(text.as_bytes().to_vec())))
            .await
            .unwrap();
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    /// The next DDP frame; None when the socket closed (close frame or EOF).
    pub async fn recv_opt(&mut self, wait: Duration) -> Result<Option<Value>, ()> {
        if let Some(v) = self.pending.pop_front() {
            return Ok(Some(v));
        }
        loop {
            let frame = match tokio::time::timeout(wait, self.ws.read_frame()).await {
                Err(_) => return Err(()),
                Ok(Err(_)) => return Ok(None),
                Ok(Ok(f)) => f,
            };
            match frame.opcode {
                OpCode::Text => {
                    let v: Value = serde_json::from_slice(&frame.payload).unwrap();
                    return Ok(Some(v));
                }
                OpCode::Close => return Ok(None),
                _ => continue,
            }
        }
    }

    pub async fn recv(&mut self) -> Value {
        match self.recv_opt(WAIT).await {
            Ok(Some(v)) => v,
            Ok(None) => panic!("socket closed while waiting for a frame"),
            Err(()) => panic!("timed out waiting for a frame"),
        }
    }

    /// Skips frames until one matches.
    pub async fn recv_until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = self.recv().await;
            if pred(&v) {
                return v;
            }
        }
    }

    /// Asserts no frame arrives within `d` (used only to check absence, never timing).
    pub async fn expect_silence(&mut self, d: Duration) {
        match self.recv_opt(d).await {
            Err(()) => {}
            Ok(Some(v)) => panic!("unexpected frame: {v}"),
            Ok(None) => panic!("socket closed unexpectedly"),
        }
    }

    /// Reads until the socket closes; returns the DDP frames seen before the close.
    pub async fn expect_closed(&mut self) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            match self.recv_opt(WAIT).await {
                Ok(Some(v)) => seen.push(v),
                Ok(None) => return seen,
                Err(()) => panic!("socket did not close; frames seen: {seen:?}"),
            }
        }
    }

    pub async fn connect(&mut self) -> String {
        self.send(json!({"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]}))
            .await;
        let v = self.recv().await;
        assert_eq!(v["msg"], "connected", "{v}");
        v["session"].as_str().unwrap().to_owned()
    }

    /// Calls a method; returns the result frame, asserting `updated` precedes it (unless the
    /// method is unknown). Stream frames in between are skipped.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = format!("m{}", rand_id());
        self.send(json!({"msg": "method", "id": id, "method": method, "params": params}))
            .await;
        let mut updated = false;
        let mut skipped = Vec::new();
        loop {
            let v = self.recv().await;
            if v["msg"] == "updated" && v["methods"] == json!([id]) {
                updated = true;
            } else if v["msg"] == "result" && v["id"] == json!(id) {
                assert!(updated, "result before updated for {method}");
                // Keep what arrived meanwhile, in order, for the next reads.
                for f in skipped.into_iter().rev() {
                    self.pending.push_front(f);
                }
                return v;
            } else {
                skipped.push(v);
            }
        }
    }

    /// Subscribes; returns the `ready` or `nosub` frame.
    pub async fn sub(&mut self, id: &str, name: &str, params: Value) -> Value {
        self.send(json!({"msg": "sub", "id": id, "name": name, "params": params}))
            .await;
        self.recv_until(|v| {
            (v["msg"] == "ready" && v["subs"] == json!([id]))
                || (v["msg"] == "nosub" && v["id"] == id)
        })
        .await
    }

    pub async fn sub_my_messages(&mut self) {
        let r = self
            .sub(
                "mm",
                "stream-room-messages",
                json!(["__my_messages__", {"useCollection": false, "args": []}]),
            )
            .await;
        assert_eq!(r["msg"], "ready", "{r}");
    }

    /// Next `changed` frame on `collection`.
    pub async fn next_event(&mut self, collection: &str) -> Value {
        let c = collection.to_owned();
        self.recv_until(move |v| v["msg"] == "changed" && v["collection"] == json!(c))
            .await
    }
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::SeqCst)
}

pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Value,
}

/// One HTTP/1 request on a fresh connection.
pub async fn http(
    sim: &SimHandle,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<Value>,
) -> Resp {
    http_h(sim, method, path, auth, body, &[]).await
}

pub async fn http_h(
    sim: &SimHandle,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Resp {
    try_http(sim, method, path, auth, body, headers)
        .await
        .unwrap()
}

/// Like `http_h`, but a dropped connection is an Err instead of a panic.
pub async fn try_http(
    sim: &SimHandle,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Result<Resp, String> {
    let stream = TcpStream::connect(sim.addr())
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("Host", sim.addr().to_string());
    if let Some((uid, token)) = auth {
        req = req.header("X-User-Id", uid).header("X-Auth-Token", token);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let bytes = match &body {
        Some(b) => {
            req = req.header("Content-Type", "application/json");
            Bytes::from(b.to_string())
        }
        None => Bytes::new(),
    };
    let resp = tokio::time::timeout(
        WAIT,
        sender.send_request(req.body(Full::new(bytes)).unwrap()),
    )
    .await
    .map_err(|_| "timeout".to_owned())?
    .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let raw = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let body = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw)
            .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&raw)))?
    };
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// A REST caller with credentials, for the upstream-mirroring tests.
pub struct Api<'a> {
    pub sim: &'a SimHandle,
    pub uid: String,
    pub token: String,
}

impl<'a> Api<'a> {
    /// `GET /api/v1/<path>` (path may carry a query string).
    pub async fn get(&self, path: &str) -> Resp {
        http(
            self.sim,
            "GET",
            &format!("/api/v1/{path}"),
            Some((&self.uid, &self.token)),
            None,
        )
        .await
    }

    /// `POST /api/v1/<path>` with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        http(
            self.sim,
            "POST",
            &format!("/api/v1/{path}"),
            Some((&self.uid, &self.token)),
            Some(body),
        )
        .await
    }
}

/// The admin (`admin`/`admin`) with a PAT.
pub fn admin(sim: &SimHandle) -> Api<'_> {
    let uid = sim.user_id("admin").unwrap();
    let token = sim.create_pat(&uid, "upstream").unwrap();
    Api { sim, uid, token }
}

/// A new human user (role `user`) with a PAT.
pub fn human<'a>(sim: &'a SimHandle, name: &str) -> Api<'a> {
    let uid = sim.create_user(name, UserKind::Human).unwrap();
    let token = sim.create_pat(&uid, "upstream").unwrap();
    Api { sim, uid, token }
}

/// Asserts a 400 failure with `success: false`.
pub fn assert_400(r: &Resp) {
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["success"], false, "{}", r.body);
}

/// Asserts a 200 success.
pub fn assert_ok(r: &Resp) {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["success"], true, "{}", r.body);
}

/// `updateSetting` of the upstream helpers: `POST settings/:_id` as the admin.
pub async fn set_setting(admin: &Api<'_>, id: &str, value: Value) {
    let r = admin
        .post(&format!("settings/{id}"), json!({"value": value}))
        .await;
    assert_ok(&r);
}

/// `updatePermission` of the upstream helpers: `permissions.update` as the admin.
pub async fn set_permission(admin: &Api<'_>, id: &str, roles: &[&str]) {
    let r = admin
        .post(
            "permissions.update",
            json!({"permissions": [{"_id": id, "roles": roles}]}),
        )
        .await;
    assert_ok(&r);
}

/// `createRoom` of the upstream helpers: `channels.create` (`c`) or `groups.create` (`p`);
/// returns the room document.
pub async fn create_room(api: &Api<'_>, kind: &str, name: &str, extra: Value) -> Value {
    let (route, key) = if kind == "c" {
        ("channels.create", "channel")
    } else {
        ("groups.create", "group")
    };
    let mut body = json!({"name": name});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = api.post(route, body).await;
    assert_ok(&r);
    r.body[key].clone()
}

/// A document's `_id`.
pub fn id_of(v: &Value) -> String {
    v["_id"].as_str().unwrap().to_owned()
}
