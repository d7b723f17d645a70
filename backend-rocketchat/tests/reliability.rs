//! Issue 6, the reliability proofs against the simulator, each with a fixed seed and a
//! printed figure (`cargo test -p backend-rocketchat --test reliability -- --nocapture`):
//! the disconnect storm, deaf sockets and server restarts, revocation, rate limits,
//! idempotent sends, oversized and malformed frames, TLS refusals and secrecy.
//! `docs/reliability.md` lists the guarantees and the figures.
//!
//! Beside the simulator some tests put [`FaultProxy`], a TCP proxy, between the backend and
//! the server: it counts WebSocket connections (each one carries exactly one `login`),
//! counts REST 429 answers, and can slip raw WebSocket frames into the server's stream.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod support;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backend_rocketchat::{RocketChatChannel, RocketChatConfig, Secret};
use channel_api::{
    AccountId, Channel, ChannelExt, ConnectionState, Error, Event, EventStream, OutboundMessage,
    Phase, RoomId,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocketchat_sim::{RateRule, RoomKind, SimConfig, SimHandle, Simulator, UserKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};

/// Generous: only there so a broken test fails instead of hanging.
const WAIT: Duration = Duration::from_secs(30);

// ------------------------------------------------------------------ accounts and events

/// A bot account in the simulator: its id, username and token.
struct Account {
    id: String,
    username: String,
    token: String,
}

fn account(sim: &SimHandle, username: &str) -> Account {
    let id = sim.create_user(username, UserKind::Bot).unwrap();
    let token = sim.create_pat(&id, "bridge").unwrap();
    Account {
        id,
        username: username.to_owned(),
        token,
    }
}

/// The account's config against `base` (plain http, so the insecure flag; quick retries).
fn config_for(base: &str, a: &Account) -> RocketChatConfig {
    let mut c = RocketChatConfig::new(
        base.to_owned(),
        a.id.clone(),
        a.username.clone(),
        Secret::new(a.token.clone()),
    );
    c.dangerously_allow_insecure = true;
    c.timeouts.connect = Duration::from_secs(5);
    c.timeouts.request = Duration::from_secs(5);
    c.timeouts.reconnect_min = Duration::from_millis(20);
    c.timeouts.reconnect_max = Duration::from_millis(200);
    c
}

async fn connect(config: RocketChatConfig) -> (RocketChatChannel, EventStream) {
    let channel = RocketChatChannel::connect(config, AccountId::new("default"))
        .await
        .unwrap();
    let events = channel.events().unwrap();
    (channel, events)
}

fn created_text(e: &Event) -> Option<&str> {
    match e {
        Event::MessageCreated { message } => Some(message.text.as_str()),
        _ => None,
    }
}

fn is_state(pred: impl Fn(&ConnectionState) -> bool) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::ConnectionStateChanged { state } if pred(state))
}

/// Reads events until one matches; returns it and everything read before it.
async fn until(
    events: &mut EventStream,
    what: &str,
    wanted: impl Fn(&Event) -> bool,
) -> (Event, Vec<Event>) {
    let mut before = Vec::new();
    let found = tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Some(e) if wanted(&e) => return e,
                Some(e) => before.push(e),
                None => panic!("stream ended while waiting for {what}; saw {before:?}"),
            }
        }
    })
    .await;
    match found {
        Ok(e) => (e, before),
        Err(_) => panic!("timed out waiting for {what}; saw {} events", before.len()),
    }
}

/// Polls `cond` every few milliseconds until it holds (panics after [`WAIT`]).
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Texts of the messages in a room as stored by the server, in order.
fn stored_texts(sim: &SimHandle, rid: &str, prefix: &str) -> Vec<String> {
    sim.messages(rid)
        .iter()
        .filter_map(|m| m["msg"].as_str().map(str::to_owned))
        .filter(|t| t.starts_with(prefix))
        .collect()
}

// ------------------------------------------------------------------ the fault proxy

/// A TCP proxy in front of the simulator that counts WebSocket connections and REST 429
/// answers, and injects raw frames into the server → client WebSocket stream.
struct FaultProxy {
    addr: SocketAddr,
    websockets: Arc<AtomicUsize>,
    rest_429: Arc<AtomicUsize>,
    inject: broadcast::Sender<Vec<u8>>,
}

impl FaultProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let websockets = Arc::new(AtomicUsize::new(0));
        let rest_429 = Arc::new(AtomicUsize::new(0));
        let (inject, _) = broadcast::channel(64);
        let (ws, r429, inj) = (websockets.clone(), rest_429.clone(), inject.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (ws, r429, inj) = (ws.clone(), r429.clone(), inj.clone());
                tokio::spawn(async move {
                    let _ = proxy_connection(client, upstream, ws, r429, inj).await;
                });
            }
        });
        Self {
            addr,
            websockets,
            rest_429,
            inject,
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends raw bytes (whole WebSocket frames) to every open WebSocket, between frames.
    fn inject(&self, bytes: Vec<u8>) {
        let _ = self.inject.send(bytes);
    }
}

async fn proxy_connection(
    client: TcpStream,
    upstream: SocketAddr,
    websockets: Arc<AtomicUsize>,
    rest_429: Arc<AtomicUsize>,
    inject: broadcast::Sender<Vec<u8>>,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    let mut first = [0u8; 16];
    let n = client.peek(&mut first).await?;
    let is_websocket = first[..n].starts_with(b"GET /websocket");
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    if !is_websocket {
        // REST: pass through, counting "HTTP/1.1 429" status lines.
        let mut buf = vec![0u8; 16 * 1024];
        let mut tail: Vec<u8> = Vec::new();
        loop {
            let n = server_read.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            tail.extend_from_slice(&buf[..n]);
            let found = tail.windows(12).filter(|w| w == b"HTTP/1.1 429").count();
            rest_429.fetch_add(found, Ordering::SeqCst);
            let keep = tail.len().min(11);
            tail.drain(..tail.len() - keep);
            if found > 0 {
                tail.clear();
            }
            client_write.write_all(&buf[..n]).await?;
        }
    }
    websockets.fetch_add(1, Ordering::SeqCst);
    // The upgrade response, then whole frames, so injected frames land between frames.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        server_read.read_exact(&mut byte).await?;
        head.push(byte[0]);
    }
    client_write.write_all(&head).await?;
    let (frames_tx, mut frames) = mpsc::channel::<Vec<u8>>(64);
    tokio::spawn(async move {
        while let Ok(frame) = read_ws_frame(&mut server_read).await {
            if frames_tx.send(frame).await.is_err() {
                return;
            }
        }
    });
    let mut injected = inject.subscribe();
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Some(frame) => client_write.write_all(&frame).await?,
                None => return client_write.shutdown().await,
            },
            Ok(bytes) = injected.recv() => client_write.write_all(&bytes).await?,
        }
    }
}

/// Reads one whole WebSocket frame (header and payload) as raw bytes.
async fn read_ws_frame(r: &mut (impl tokio::io::AsyncRead + Unpin)) -> std::io::Result<Vec<u8>> {
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

/// An unmasked, final text frame.
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

// ------------------------------------------------------------------ trace capture

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A trace-level subscriber for the current thread (tests using it run single-threaded, so
/// every task of the backend logs into it). The simulator's own logs are left out.
fn capture_traces() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "trace,rocketchat_sim=off",
        ))
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (capture, guard)
}

// ------------------------------------------------------------------ 1. disconnect storm

const STORM_SEED: u64 = 0x5EED_0001;
const STORM_MESSAGES: usize = 10_000;
const STORM_ROOMS: usize = 20;
const STORM_PEERS: usize = 5;
const STORM_DROPS: usize = 60;

/// 10,000 messages from 5 peers over 20 rooms while the bot's socket is dropped at 60
/// seeded random points (after a random number of further frames): every message reaches
/// the consumer exactly once, in each room's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_every_message_once_and_in_room_order() {
    support::scoped_log_capture_safe();
    let mut rng = StdRng::seed_from_u64(STORM_SEED);
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let bot = account(&sim, "storm-bot");
    let peers: Vec<String> = (0..STORM_PEERS)
        .map(|i| {
            sim.create_user(&format!("peer{i}"), UserKind::Human)
                .unwrap()
        })
        .collect();
    let peer_refs: Vec<&str> = peers.iter().map(String::as_str).collect();
    let mut members = peer_refs[1..].to_vec();
    members.push(&bot.id);
    let rooms: Vec<String> = (0..STORM_ROOMS)
        .map(|i| {
            sim.create_room(RoomKind::Public, &format!("storm{i}"), &peers[0], &members)
                .unwrap()
        })
        .collect();
    let room_index: HashMap<String, usize> = rooms
        .iter()
        .enumerate()
        .map(|(i, r)| (r.clone(), i))
        .collect();

    let (channel, mut events) = connect(config_for(&sim.base_url(), &bot)).await;
    // Connections lost (one `Reconnecting` each) and connections that became `Active`.
    let losses = Arc::new(AtomicUsize::new(0));
    let actives = Arc::new(AtomicUsize::new(0));
    // The consumer: every created message as (room index, sequence number in that room).
    let consumer = {
        let losses = losses.clone();
        let actives = actives.clone();
        tokio::spawn(async move {
            let mut got: Vec<(usize, usize)> = Vec::with_capacity(STORM_MESSAGES);
            let mut fences = 0;
            while let Some(e) = events.recv().await {
                match &e {
                    Event::MessageCreated { message } => {
                        let room = room_index[message.room.id.as_str()];
                        if message.text == "fence" {
                            fences += 1;
                            if fences == STORM_ROOMS {
                                return got;
                            }
                            continue;
                        }
                        let (_, seq) = message.text.split_once(':').unwrap();
                        got.push((room, seq.parse().unwrap()));
                    }
                    // An outage starts with its first attempt's wait; the later
                    // phases and attempts of the same outage are not new losses.
                    Event::ConnectionStateChanged {
                        state:
                            ConnectionState::Reconnecting {
                                attempt: 1,
                                phase: Phase::Waiting,
                            },
                    } => {
                        losses.fetch_add(1, Ordering::SeqCst);
                    }
                    Event::ConnectionStateChanged {
                        state: ConnectionState::Active,
                    } => {
                        actives.fetch_add(1, Ordering::SeqCst);
                    }
                    Event::ConnectionStateChanged { state } if state.is_fatal() => {
                        panic!("the account stopped: {state:?}")
                    }
                    _ => {}
                }
            }
            panic!("the stream ended");
        })
    };

    // Drops draw from their own generator, so the messages are the same on every run
    // whatever the timing.
    let mut drop_rng = StdRng::seed_from_u64(STORM_SEED + 1);
    let mut drop_points: Vec<usize> = (0..STORM_DROPS)
        .map(|_| drop_rng.random_range(0..STORM_MESSAGES))
        .collect();
    drop_points.sort_unstable();
    let mut next_drop = 0;
    let mut sent_per_room = [0usize; STORM_ROOMS];
    let start = Instant::now();
    for i in 0..STORM_MESSAGES {
        let mut due = next_drop < drop_points.len() && drop_points[next_drop] <= i;
        if due {
            // Arm the next drop once the previous one has fired and the bot is back: it
            // fires after a random number of further frames to the bot. Until then the
            // messages keep coming, only slower.
            let lost = losses.load(Ordering::SeqCst);
            if lost >= next_drop && actives.load(Ordering::SeqCst) > lost {
                sim.drop_sockets_after(&bot.id, drop_rng.random_range(0..40));
                next_drop += 1;
                due = false;
            }
        }
        let room = rng.random_range(0..STORM_ROOMS);
        let peer = &peers[rng.random_range(0..STORM_PEERS)];
        sim.post(
            peer,
            &rooms[room],
            &format!("r{room}:{}", sent_per_room[room]),
        )
        .unwrap();
        sent_per_room[room] += 1;
        if due || i % 20 == 19 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let armed = next_drop;
    // A fence per room after everything: anything redelivered would come before it.
    for room in &rooms {
        sim.post(&peers[0], room, "fence").unwrap();
    }
    let got = tokio::time::timeout(Duration::from_secs(120), consumer)
        .await
        .expect("the consumer did not see every fence in time")
        .unwrap();
    let wall = start.elapsed();

    let mut seen: HashSet<(usize, usize)> = HashSet::new();
    let duplicates = got.iter().filter(|m| !seen.insert(**m)).count();
    let missing = STORM_MESSAGES - seen.len();
    let mut out_of_order = 0;
    let mut last: [Option<usize>; STORM_ROOMS] = [None; STORM_ROOMS];
    for &(room, seq) in &got {
        if last[room].is_some_and(|l| seq <= l) {
            out_of_order += 1;
        }
        last[room] = Some(seq);
    }
    let drops = losses.load(Ordering::SeqCst);
    println!(
        "storm: messages={STORM_MESSAGES} rooms={STORM_ROOMS} peers={STORM_PEERS} drops={drops} (armed {armed}) \
         delivered={} duplicates={duplicates} missing={missing} out_of_order={out_of_order} \
         wall={:.2}s seed={STORM_SEED:#x}",
        got.len(),
        wall.as_secs_f64()
    );
    assert!(
        armed >= 50 && drops >= 50,
        "only {armed} drops armed, {drops} fired"
    );
    assert_eq!(duplicates, 0);
    assert_eq!(missing, 0);
    assert_eq!(out_of_order, 0);
    channel.shutdown().await;
    sim.shutdown().await;
}

// ------------------------------------------------------------------ 2. deaf socket, restart

/// Reads events until `want` created messages with `prefix` arrived; returns their texts in
/// arrival order (every copy) and all events read.
async fn collect_created(
    events: &mut EventStream,
    prefix: &str,
    want: usize,
) -> (Vec<String>, Vec<Event>) {
    let mut texts = Vec::new();
    let mut all = Vec::new();
    tokio::time::timeout(WAIT, async {
        while texts.len() < want {
            let e = events.recv().await.expect("stream ended");
            if let Some(t) = created_text(&e).filter(|t| t.starts_with(prefix)) {
                texts.push(t.to_owned());
            }
            all.push(e);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out: {} of {want} {prefix:?} messages", texts.len()));
    (texts, all)
}

/// The server stops sending (pings included) without closing: the backend's own heartbeat
/// (ping after `pingAfterSilence`, deaf after `pong` more) finds it, reconnects, and the
/// catch-up brings the messages posted into the deaf socket, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deaf_socket_detected_by_the_heartbeat_and_nothing_missed() {
    support::scoped_log_capture_safe();
    let ping = Duration::from_millis(300);
    let pong = Duration::from_millis(300);
    // The server's own heartbeat is slow, so only ours can find the deaf socket in time.
    let w = support::world_with(SimConfig {
        heartbeat_interval: Duration::from_secs(10),
        heartbeat_timeout: Duration::from_secs(10),
        ..SimConfig::default()
    })
    .await;
    let mut config = w.config();
    config.timeouts.ping_after_silence = ping;
    config.timeouts.pong = pong;
    let (channel, mut events) = connect(config).await;
    w.sim.post(&w.peer_id, &w.room, "live before").unwrap();
    until(&mut events, "live before", |e| {
        created_text(e) == Some("live before")
    })
    .await;

    w.sim.set_deaf(&w.bot_id, true);
    let deaf_at = Instant::now();
    for i in 0..20 {
        w.sim
            .post(&w.peer_id, &w.room, &format!("deaf {i}"))
            .unwrap();
    }
    let (_, before) = until(
        &mut events,
        "Reconnecting",
        is_state(|s| matches!(s, ConnectionState::Reconnecting { .. })),
    )
    .await;
    let detected = deaf_at.elapsed();
    assert!(
        before.iter().all(|e| created_text(e).is_none()),
        "the deaf socket delivered: {before:?}"
    );
    let (texts, _) = collect_created(&mut events, "deaf ", 20).await;
    w.sim.post(&w.peer_id, &w.room, "deaf-fence").unwrap();
    let (_, rest) = until(&mut events, "fence", |e| {
        created_text(e) == Some("deaf-fence")
    })
    .await;
    let late: Vec<&str> = rest.iter().filter_map(created_text).collect();
    let expected: Vec<String> = (0..20).map(|i| format!("deaf {i}")).collect();
    println!(
        "deaf socket: detected after {} ms (ping {} ms + pong {} ms; server heartbeat 10 s), \
         posted while deaf 20, delivered {} (+{} late copies)",
        detected.as_millis(),
        ping.as_millis(),
        pong.as_millis(),
        texts.len(),
        late.len()
    );
    assert_eq!(texts, expected);
    assert!(late.is_empty(), "late copies: {late:?}");
    // Found by our heartbeat, not by the server giving up on the socket.
    assert!(detected < Duration::from_secs(10), "{detected:?}");
    channel.shutdown().await;
}

/// The server restarts with its state kept (same port, same database): the backend
/// reconnects and catches up what was posted while it was away, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_reconnects_and_catches_up() {
    support::scoped_log_capture_safe();
    let w = support::world().await;
    let mut config = w.config();
    config.timeouts.reconnect_min = Duration::from_millis(300);
    config.timeouts.reconnect_max = Duration::from_millis(600);
    let (channel, mut events) = connect(config).await;
    w.sim.post(&w.peer_id, &w.room, "up").unwrap();
    until(&mut events, "up", |e| created_text(e) == Some("up")).await;

    let restarted_at = Instant::now();
    w.sim.restart().await.unwrap();
    for i in 0..10 {
        w.sim
            .post(&w.peer_id, &w.room, &format!("away {i}"))
            .unwrap();
    }
    let (_, _) = until(
        &mut events,
        "Reconnecting",
        is_state(|s| matches!(s, ConnectionState::Reconnecting { .. })),
    )
    .await;
    let (texts, all) = collect_created(&mut events, "away ", 10).await;
    let back = restarted_at.elapsed();
    // Caught-up messages come before the session says Active again.
    let mut late_events = Vec::new();
    if !all.iter().any(is_state(|s| *s == ConnectionState::Active)) {
        let (_, before) = until(
            &mut events,
            "Active",
            is_state(|s| *s == ConnectionState::Active),
        )
        .await;
        late_events = before;
    }
    w.sim.post(&w.peer_id, &w.room, "restart-fence").unwrap();
    let (_, rest) = until(&mut events, "fence", |e| {
        created_text(e) == Some("restart-fence")
    })
    .await;
    let late: Vec<&str> = late_events
        .iter()
        .chain(&rest)
        .filter_map(created_text)
        .collect();
    println!(
        "server restart: caught up 10 of 10 messages posted while down, {} ms after the restart, \
         {} late copies, {} socket(s) open",
        back.as_millis(),
        late.len(),
        w.sim.session_count(&w.bot_id)
    );
    assert_eq!(
        texts,
        (0..10).map(|i| format!("away {i}")).collect::<Vec<_>>()
    );
    assert!(late.is_empty(), "{late:?}");
    assert_eq!(w.sim.session_count(&w.bot_id), 1);
    channel.shutdown().await;
}

// ------------------------------------------------------------------ 3. revocation

/// A bystander account: a peer posts, it must receive; it sends, the send must succeed.
async fn bystander_works(
    sim: &SimHandle,
    peer: &str,
    room: &str,
    channel: &RocketChatChannel,
    events: &mut EventStream,
    step: &str,
) {
    let text = format!("bystander {step}");
    sim.post(peer, room, &text).unwrap();
    until(events, &text, |e| created_text(e) == Some(text.as_str())).await;
    channel
        .send_text(
            &RoomId::new(room.to_owned()),
            &format!("bystander reply {step}"),
        )
        .await
        .unwrap();
}

/// Three ways a token dies, each stopping its account at once while a fourth account in
/// the same server keeps receiving and sending:
/// - PAT removed: the server closes the socket, the one re-login is refused, the account is
///   fatal; no further WebSocket (login) is attempted, nothing is delivered after.
/// - Silent revocation (socket left open): the REST re-check finds it within its cadence.
/// - Silent revocation and a 401 on an ordinary REST call: the socket is closed at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_stops_only_the_revoked_account() {
    support::scoped_log_capture_safe();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let peer = sim.create_user("alice", UserKind::Human).unwrap();
    let removed = account(&sim, "removed-bot");
    let silent = account(&sim, "silent-bot");
    let rest401 = account(&sim, "rest401-bot");
    let bystander = account(&sim, "bystander-bot");
    let room = sim
        .create_room(
            RoomKind::Public,
            "shared",
            &peer,
            &[&removed.id, &silent.id, &rest401.id, &bystander.id],
        )
        .unwrap();
    let proxy = FaultProxy::start(sim.addr()).await;
    let cadence = Duration::from_secs(1);

    let (_removed_ch, mut removed_ev) = connect(config_for(&proxy.base_url(), &removed)).await;
    let mut silent_cfg = config_for(&sim.base_url(), &silent);
    silent_cfg.revalidate_interval = cadence;
    let (_silent_ch, mut silent_ev) = connect(silent_cfg).await;
    let (rest401_ch, mut rest401_ev) = connect(config_for(&sim.base_url(), &rest401)).await;
    let (by_ch, mut by_ev) = connect(config_for(&sim.base_url(), &bystander)).await;
    bystander_works(&sim, &peer, &room, &by_ch, &mut by_ev, "start").await;

    // PAT removed.
    let sockets_before = proxy.websockets.load(Ordering::SeqCst);
    sim.remove_pat(&removed.id, "bridge").unwrap();
    for i in 0..5 {
        sim.post(&peer, &room, &format!("after removal {i}"))
            .unwrap();
    }
    let (fatal, before) = until(
        &mut removed_ev,
        "FatallyClosed",
        is_state(ConnectionState::is_fatal),
    )
    .await;
    let Event::ConnectionStateChanged {
        state: ConnectionState::FatallyClosed { reason, .. },
    } = fatal
    else {
        unreachable!()
    };
    // The server closes the socket; the next attempt's first step (REST `me`, or the DDP
    // login) is refused.
    assert!(
        reason.contains("login refused") || reason.contains("HTTP 401"),
        "{reason}"
    );
    assert!(!reason.contains(&removed.token));
    let leaked: Vec<&str> = before
        .iter()
        .filter_map(created_text)
        .filter(|t| t.starts_with("after removal"))
        .collect();
    assert!(
        leaked.is_empty(),
        "delivered after the revocation: {leaked:?}"
    );
    // Several reconnect backoffs later: still no further login attempt.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let login_attempts = proxy.websockets.load(Ordering::SeqCst) - sockets_before;
    assert_eq!(
        tokio::time::timeout(WAIT, removed_ev.recv()).await.unwrap(),
        None,
        "an event after the fatal state"
    );
    assert_eq!(sim.session_count(&removed.id), 0);
    assert!(
        login_attempts <= 1,
        "{login_attempts} logins after the revocation"
    );
    bystander_works(&sim, &peer, &room, &by_ch, &mut by_ev, "after removal").await;

    // Silent revocation, caught by the re-check.
    sim.set_silent_revocation(true);
    sim.remove_pat(&silent.id, "bridge").unwrap();
    let revoked_at = Instant::now();
    assert_eq!(sim.session_count(&silent.id), 1, "the socket stays open");
    let (fatal, _) = until(
        &mut silent_ev,
        "FatallyClosed",
        is_state(ConnectionState::is_fatal),
    )
    .await;
    let caught = revoked_at.elapsed();
    assert!(format!("{fatal:?}").contains("401"), "{fatal:?}");
    eventually("the silent account's socket to close", || {
        sim.session_count(&silent.id) == 0
    })
    .await;
    assert_eq!(
        tokio::time::timeout(WAIT, silent_ev.recv()).await.unwrap(),
        None
    );
    bystander_works(&sim, &peer, &room, &by_ch, &mut by_ev, "after silent").await;

    // Silent revocation, found by an ordinary REST call: the socket closes at once.
    sim.remove_pat(&rest401.id, "bridge").unwrap();
    assert_eq!(sim.session_count(&rest401.id), 1);
    let sent = rest401_ch
        .send_text(&RoomId::new(room.clone()), "with a dead token")
        .await;
    let refused_at = Instant::now();
    assert!(matches!(sent, Err(Error::Unauthorized { .. })), "{sent:?}");
    eventually("the 401 account's socket to close", || {
        sim.session_count(&rest401.id) == 0
    })
    .await;
    let closed_after = refused_at.elapsed();
    until(
        &mut rest401_ev,
        "FatallyClosed",
        is_state(ConnectionState::is_fatal),
    )
    .await;
    assert_eq!(
        tokio::time::timeout(WAIT, rest401_ev.recv()).await.unwrap(),
        None
    );
    sim.set_silent_revocation(false);
    bystander_works(&sim, &peer, &room, &by_ch, &mut by_ev, "after 401").await;
    assert!(stored_texts(&sim, &room, "with a dead token").is_empty());

    println!(
        "revocation: PAT removed -> fatal after {login_attempts} login attempt(s), 0 events after; \
         silent revocation caught by the re-check after {} ms (cadence {} ms); \
         REST 401 -> socket closed {} ms later; bystander account sent and received 4 of 4",
        caught.as_millis(),
        cadence.as_millis(),
        closed_after.as_millis()
    );
    by_ch.shutdown().await;
    sim.shutdown().await;
}

// ------------------------------------------------------------------ 4. rate limits

/// 200 sends against a REST limit of 10 per 200 ms (the stock 10 per minute, shrunk): all
/// delivered in order with no duplicate, each 429 waited out until `X-RateLimit-Reset`
/// (so about one 429 per window, not a retry storm). DDP `too-many-requests` on typing
/// (`stream-notify-room`) surfaces as `RateLimited` with the server's `timeToReset`, and a
/// caller that waits that long gets through every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_waited_out_in_order() {
    support::scoped_log_capture_safe();
    let w = support::world().await;
    let proxy = FaultProxy::start(w.sim.addr()).await;
    let mut config = w.config();
    config.server_url = proxy.base_url();
    let (channel, _events) = connect(config).await;
    let window = Duration::from_millis(200);
    w.sim
        .set_rest_rate_limit(Some(RateRule { limit: 10, window }), true);
    let room = RoomId::new(w.room.clone());
    let start = Instant::now();
    for i in 0..200 {
        channel
            .send_text(&room, &format!("burst {i:03}"))
            .await
            .unwrap();
    }
    let wall = start.elapsed();
    w.sim.set_rest_rate_limit(None, false);
    let stored = stored_texts(&w.sim, &w.room, "burst ");
    let expected: Vec<String> = (0..200).map(|i| format!("burst {i:03}")).collect();
    let refusals = proxy.rest_429.load(Ordering::SeqCst);
    println!(
        "REST rate limit: 200 sends at 10 per {} ms: stored {} in order={} duplicates={}, \
         429s={refusals} (about one per window when waits follow X-RateLimit-Reset), wall {:.2}s",
        window.as_millis(),
        stored.len(),
        stored == expected,
        stored.len() - stored.iter().collect::<HashSet<_>>().len(),
        wall.as_secs_f64()
    );
    assert_eq!(stored, expected);
    assert!(refusals >= 1, "the limit never bit");
    // Retrying without waiting for the reset would meet hundreds of 429s.
    assert!(
        refusals <= 40,
        "{refusals} 429s: the waits ignore X-RateLimit-Reset"
    );

    // DDP: 2 per 100 ms per method; `stream-*` names get 4x: 8 per 400 ms.
    let ddp_window = Duration::from_millis(100);
    w.sim.set_ddp_rate_limit(Some(RateRule {
        limit: 2,
        window: ddp_window,
    }));
    // The channel waits out each refusal itself: the caller never sees RateLimited.
    let before = w.sim.ddp_refusals();
    for i in 0..200 {
        if let Err(e) = channel.set_typing(&room, None, i % 2 == 0).await {
            panic!("typing {i}: {e:?}");
        }
    }
    w.sim.set_ddp_rate_limit(None);
    let limited = w.sim.ddp_refusals() - before;
    println!(
        "DDP rate limit: 200 typing calls at 8 per 400 ms: all accepted by the caller's first \
         call, {limited} too-many-requests waited out inside the channel"
    );
    // One refusal per window at most: the waits come from timeToReset.
    assert!(limited >= 1, "the limit never bit");
    assert!(limited <= 200 / 8 + 5, "{limited} refusals for 200 calls");
    channel.shutdown().await;
}

// ------------------------------------------------------------------ 5. idempotent sends

/// Sends whose response is lost after the server stored the message: each is retried with
/// the same `_id` and stored exactly once; a caller retrying with its idempotency key after
/// a success posts nothing new either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_send_responses_post_exactly_once() {
    support::scoped_log_capture_safe();
    let w = support::world().await;
    let (channel, _events) = connect(w.config()).await;
    let room = RoomId::new(w.room.clone());
    for i in 0..20 {
        w.sim.drop_next_send_response();
        let text = format!("once {i:02}");
        let message = if i % 2 == 0 {
            OutboundMessage::new(room.clone(), text.as_str())
        } else {
            OutboundMessage::new(room.clone(), text.as_str())
                .with_idempotency_key(format!("idemKey{i:02}xxxxxx"))
        };
        let sent = channel.send(message.clone()).await.unwrap();
        if message.idempotency_key.is_some() {
            // The caller did not trust the answer and sends again with the same key.
            let again = channel.send(message).await.unwrap();
            assert_eq!(again.message.id, sent.message.id);
        }
    }
    let stored = stored_texts(&w.sim, &w.room, "once ");
    let expected: Vec<String> = (0..20).map(|i| format!("once {i:02}")).collect();
    println!(
        "idempotent sends: 20 sends with the response dropped after storing (10 also re-sent \
         with their key): stored {} of 20, duplicates {}",
        stored.len(),
        stored.len() - stored.iter().collect::<HashSet<_>>().len()
    );
    assert_eq!(stored, expected);
    channel.shutdown().await;
}

// ------------------------------------------------------------------ 6. bad input on the wire

/// Peak resident memory of this process (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A frame header announcing 1 TiB (and nothing after it): the backend refuses it from the
/// header alone (no allocation, no waiting for the payload), replaces the socket, and the
/// message posted meanwhile still arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_header_is_refused_without_allocating() {
    support::scoped_log_capture_safe();
    let w = support::world().await;
    let proxy = FaultProxy::start(w.sim.addr()).await;
    let mut config = w.config();
    config.server_url = proxy.base_url();
    let limit = config.max_frame_bytes;
    let (channel, mut events) = connect(config).await;
    w.sim.post(&w.peer_id, &w.room, "before").unwrap();
    until(&mut events, "before", |e| created_text(e) == Some("before")).await;

    let rss_before = peak_rss_kib();
    let announced: u64 = 1 << 40;
    let mut header = vec![0x81, 127];
    header.extend_from_slice(&announced.to_be_bytes());
    proxy.inject(header);
    let (_, before) = until(
        &mut events,
        "Reconnecting",
        is_state(|s| matches!(s, ConnectionState::Reconnecting { .. })),
    )
    .await;
    assert!(
        before.iter().all(|e| created_text(e).is_none()),
        "{before:?}"
    );
    w.sim.post(&w.peer_id, &w.room, "after").unwrap();
    let (_, between) = until(&mut events, "after", |e| created_text(e) == Some("after")).await;
    let growth = peak_rss_kib().saturating_sub(rss_before);
    println!(
        "oversized frame: header announcing {announced} bytes (limit {limit}) refused, socket \
         replaced, peak RSS grew {growth} KiB, message after it delivered once"
    );
    assert!(between.iter().all(|e| created_text(e) != Some("before")));
    // Allocating the announced terabyte would abort the process; the bound leaves room
    // for the other tests of this binary running at the same time.
    assert!(growth < 512 * 1024, "peak RSS grew {growth} KiB");
    channel.shutdown().await;
}

/// Malformed JSON, an unknown `msg` type and frames missing required fields are dropped
/// with a log line naming why; the connection stays up and the next real message arrives.
// Single-threaded, so the thread-local subscriber sees every task of the backend.
#[tokio::test]
async fn malformed_frames_are_logged_drops() {
    support::scoped_log_capture_safe();
    let (capture, _guard) = capture_traces();
    let w = support::world().await;
    let proxy = FaultProxy::start(w.sim.addr()).await;
    let mut config = w.config();
    config.server_url = proxy.base_url();
    let (channel, mut events) = connect(config).await;
    let bad: [&[u8]; 7] = [
        b"{not json",
        br#"{"msg":"no-such-type","x":1}"#,
        br#"{"no":"msg"}"#,
        br#"{"msg":"result"}"#,
        br#"{"msg":"changed","collection":"stream-room-messages","fields":{"args":[]}}"#,
        br#"{"msg":"changed","collection":"stream-room-messages","fields":{"eventName":"__my_messages__","args":[{"_id":"x1","msg":"no rid"}]}}"#,
        br#"{"msg":"changed","collection":"stream-room-messages","fields":{"eventName":"__my_messages__","args":[]}}"#,
    ];
    for frame in bad {
        proxy.inject(ws_text(frame));
    }
    w.sim.post(&w.peer_id, &w.room, "still here").unwrap();
    let (_, before) = until(&mut events, "still here", |e| {
        created_text(e) == Some("still here")
    })
    .await;
    assert!(
        !before.iter().any(is_state(|s| !matches!(
            s,
            ConnectionState::Connecting { .. } | ConnectionState::Active
        ))),
        "the connection dropped over bad frames: {before:?}"
    );
    channel.shutdown().await;
    let logs = capture.text();
    let expected = [
        ("not JSON", "dropping a malformed frame"),
        ("no msg field", "dropping a malformed frame"),
        ("result without id", "dropping a malformed frame"),
        (
            "stream event without eventName",
            "dropping a malformed frame",
        ),
        ("dropping a message frame that does not parse", ""),
        (
            "message event without a document",
            "dropping a malformed frame",
        ),
        ("no-such-type", "ignored frame"),
    ];
    let mut found = 0;
    for (reason, line) in expected {
        let hit = logs.lines().any(|l| l.contains(reason) && l.contains(line));
        assert!(hit, "no log line for {reason:?}");
        found += 1;
    }
    println!(
        "malformed frames: {} injected, {found} logged drops, connection kept",
        bad.len()
    );
}

/// A bad config is refused before anything connects, and the error names the field.
#[test]
fn an_invalid_config_names_the_field() {
    support::scoped_log_capture_safe();
    let base = json_config(&[]);
    assert!(RocketChatConfig::from_json(&base).is_ok(), "{base}");
    let cases: [(&str, &str, &str); 9] = [
        ("serverUrl", r#""ftp://chat.example""#, "serverUrl"),
        ("serverUrl", r#""http://chat.example""#, "serverUrl"),
        ("serverUrl", r#""ws://chat.example""#, "serverUrl"),
        ("userId", r#""""#, "userId"),
        ("username", r#""@bot""#, "username"),
        ("authToken", r#""has space""#, "authToken"),
        (
            "revalidateIntervalSeconds",
            "0",
            "revalidateIntervalSeconds",
        ),
        ("maxFrameBytes", "1024", "maxFrameBytes"),
        ("caFile", r#""/no/such/ca.pem""#, "caFile"),
    ];
    for (key, value, field) in cases {
        let json = json_config(&[(key, value)]);
        let err = RocketChatConfig::from_json(&json).unwrap_err();
        assert_eq!(err.field, field, "{key}={value}: {err}");
        assert!(err.to_string().contains(field), "{err}");
    }
    // A value of the wrong type, and a missing key: the message says which key.
    for (json, key) in [
        (
            json_config(&[("revalidateIntervalSeconds", r#""soon""#)]),
            "revalidateIntervalSeconds",
        ),
        (base.replace(r#""userId":"uid","#, ""), "userId"),
    ] {
        let err = RocketChatConfig::from_json(&json).unwrap_err();
        assert!(err.to_string().contains(key), "{key}: {err}");
    }
    let json = json_config(&[("timeouts", r#"{"pongTimeoutMs":"soon"}"#)]);
    let err = RocketChatConfig::from_json(&json).unwrap_err();
    assert_eq!(err.field, "timeouts.pongTimeoutMs", "{err}");
    println!("invalid config: 12 bad configs refused, each naming its field");
}

/// A minimal valid config as JSON, with some keys replaced (raw JSON values).
fn json_config(overrides: &[(&str, &str)]) -> String {
    let mut fields: Vec<(String, String)> = [
        ("serverUrl", r#""https://chat.example""#),
        ("userId", r#""uid""#),
        ("username", r#""bot""#),
        ("authToken", r#""tok-123""#),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in overrides {
        match fields.iter_mut().find(|(fk, _)| fk == k) {
            Some(f) => f.1 = (*v).to_owned(),
            None => fields.push(((*k).to_owned(), (*v).to_owned())),
        }
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!(r#""{k}":{v}"#))
        .collect();
    format!("{{{}}}", body.join(","))
}

// ------------------------------------------------------------------ 7. TLS

struct Pki {
    dir: std::path::PathBuf,
    ca_key: rcgen::KeyPair,
    ca_params: rcgen::CertificateParams,
    ca_pem: std::path::PathBuf,
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rc-reliability-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &std::path::Path, name: &str, pem: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

fn make_ca(tag: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let dir = temp_dir(tag);
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let ca_pem = write(&dir, "ca.pem", &ca_cert.pem());
    Pki {
        dir,
        ca_key,
        ca_params,
        ca_pem,
    }
}

/// A server certificate signed by the CA, for `names`, optionally already expired.
fn server_cert(pki: &Pki, tag: &str, names: &[&str], expired: bool) -> rocketchat_sim::TlsFiles {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let issuer = rcgen::Issuer::from_params(&pki.ca_params, &pki.ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    rocketchat_sim::TlsFiles {
        cert_pem: write(&pki.dir, &format!("{tag}.pem"), &cert.pem()),
        key_pem: write(&pki.dir, &format!("{tag}-key.pem"), &key.serialize_pem()),
    }
}

/// Connects to a TLS simulator serving `tls` with a CA file (and no insecure flag).
async fn tls_connect(
    tls: rocketchat_sim::TlsFiles,
    ca_file: Option<std::path::PathBuf>,
) -> Result<(), Error> {
    let w = support::world_with(SimConfig {
        tls: Some(tls),
        ..SimConfig::default()
    })
    .await;
    let mut config = w.config();
    config.dangerously_allow_insecure = false;
    config.ca_file = ca_file;
    let result = RocketChatChannel::connect(config, AccountId::new("default")).await;
    let out = match result {
        Ok(channel) => {
            channel.shutdown().await;
            Ok(())
        }
        Err(e) => Err(e),
    };
    w.sim.shutdown().await;
    out
}

fn assert_certificate_refused(what: &str, result: &Result<(), Error>) {
    match result {
        Err(Error::Disconnected { reason }) => assert!(
            reason.to_lowercase().contains("certificate"),
            "{what}: {reason}"
        ),
        other => panic!("{what}: expected a refused certificate, got {other:?}"),
    }
}

/// Plain `ws://` is refused without `dangerouslyAllowInsecure`; a self-signed certificate
/// is refused unless it is the configured CA; an expired certificate and one for another
/// host name are refused even when their CA is configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_refuses_what_it_cannot_verify() {
    support::scoped_log_capture_safe();
    let w = support::world().await;
    let mut config = w.config();
    config.dangerously_allow_insecure = false;
    config.server_url = w.sim.ws_url().trim_end_matches("/websocket").to_owned();
    assert!(config.server_url.starts_with("ws://"));
    match RocketChatChannel::connect(config, AccountId::new("default")).await {
        Err(Error::InvalidRequest { reason }) => {
            assert!(reason.starts_with("serverUrl"), "{reason}")
        }
        other => panic!("ws:// without the flag: {other:?}"),
    }
    w.sim.shutdown().await;

    // Self-signed: the certificate is its own issuer.
    let dir = temp_dir("self-signed");
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let self_signed = rocketchat_sim::TlsFiles {
        cert_pem: write(&dir, "self.pem", &cert.pem()),
        key_pem: write(&dir, "self-key.pem", &key.serialize_pem()),
    };
    let refused = tls_connect(self_signed.clone(), None).await;
    assert_certificate_refused("self-signed", &refused);
    let trusted = tls_connect(self_signed.clone(), Some(self_signed.cert_pem.clone())).await;
    assert!(
        trusted.is_ok(),
        "self-signed, configured as the CA: {trusted:?}"
    );

    let pki = make_ca("reliability");
    let expired = server_cert(&pki, "expired", &["127.0.0.1", "localhost"], true);
    let result = tls_connect(expired, Some(pki.ca_pem.clone())).await;
    assert_certificate_refused("expired", &result);
    let expired_reason = format!("{result:?}");

    let other_host = server_cert(&pki, "other-host", &["chat.example.invalid"], false);
    let result = tls_connect(other_host, Some(pki.ca_pem.clone())).await;
    assert_certificate_refused("hostname mismatch", &result);
    let mismatch_reason = format!("{result:?}");

    // The control: a valid certificate from the same CA is accepted.
    let good = server_cert(&pki, "good", &["127.0.0.1", "localhost"], false);
    let ok = tls_connect(good, Some(pki.ca_pem.clone())).await;
    assert!(
        ok.is_ok(),
        "valid certificate from the configured CA: {ok:?}"
    );
    println!(
        "TLS: ws:// refused without the flag; self-signed refused, trusted as caFile; \
         expired refused ({expired_reason}); hostname mismatch refused ({mismatch_reason}); \
         valid CA-signed certificate accepted"
    );
    let _ = std::fs::remove_dir_all(&pki.dir);
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------------ 8. secrets

/// A whole session at trace level: connect, login, sends, typing, a rate-limit wait, a lost
/// send response, a reconnect, a wrong token, and finally the PAT's revocation. The token
/// appears in no log line, no error message and no `Debug` output.
// Single-threaded, so the thread-local subscriber sees every task of the backend.
#[tokio::test]
async fn the_pat_never_appears_in_logs_errors_or_debug_output() {
    support::scoped_log_capture_safe();
    let (capture, _guard) = capture_traces();
    let w = support::world().await;
    let token = w.bot_token.clone();
    let mut config = w.config();
    config.timeouts.reconnect_min = Duration::from_millis(10);
    let mut outputs: Vec<String> = vec![format!("{config:?}"), format!("{:?}", config.auth_token)];
    let (channel, mut events) = connect(config.clone()).await;
    outputs.push(format!("{channel:?}"));
    let room = RoomId::new(w.room.clone());
    channel.send_text(&room, "hello").await.unwrap();
    channel.set_typing(&room, None, true).await.unwrap();
    // A 429 whose reset is near (the stock window is a minute).
    w.sim.set_rest_rate_limit(
        Some(RateRule {
            limit: 10,
            window: Duration::from_millis(100),
        }),
        true,
    );
    w.sim.inject_429(1);
    channel.send_text(&room, "after a 429").await.unwrap();
    w.sim.set_rest_rate_limit(None, false);
    w.sim.drop_next_send_response();
    channel.send_text(&room, "lost answer").await.unwrap();
    w.sim.drop_sockets(&w.bot_id);
    let (_, seen) = until(
        &mut events,
        "Reconnecting",
        is_state(|s| matches!(s, ConnectionState::Reconnecting { .. })),
    )
    .await;
    outputs.extend(seen.iter().map(|e| format!("{e:?}")));
    let (_, seen) = until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    outputs.extend(seen.iter().map(|e| format!("{e:?}")));

    let mut wrong = config.clone();
    wrong.auth_token = Secret::new(format!("{token}x"));
    let err = RocketChatChannel::connect(wrong, AccountId::new("default"))
        .await
        .unwrap_err();
    outputs.push(format!("{err} {err:?}"));
    let bad_json = format!(
        r#"{{"serverUrl":"http://x","userId":"u","username":"b","authToken":"{token}","revalidateIntervalSeconds":"{token}"}}"#
    );
    let err = RocketChatConfig::from_json(&bad_json).unwrap_err();
    outputs.push(format!("{err} {err:?}"));

    w.sim.remove_pat(&w.bot_id, "bridge").unwrap();
    let (fatal, seen) = until(
        &mut events,
        "FatallyClosed",
        is_state(ConnectionState::is_fatal),
    )
    .await;
    outputs.push(format!("{fatal:?}"));
    outputs.extend(seen.iter().map(|e| format!("{e:?}")));
    let err = channel.send_text(&room, "after").await.unwrap_err();
    outputs.push(format!("{err} {err:?}"));
    outputs.push(format!("{channel:?}"));
    channel.shutdown().await;

    let logs = capture.text();
    assert!(logs.contains("connection state"), "nothing was captured");
    let leaks_in_logs = logs.lines().filter(|l| l.contains(&token)).count();
    let leaks_elsewhere = outputs.iter().filter(|o| o.contains(&token)).count();
    println!(
        "secrets: {} trace lines and {} error/Debug strings checked, token found in {} and {}",
        logs.lines().count(),
        outputs.len(),
        leaks_in_logs,
        leaks_elsewhere
    );
    assert_eq!(leaks_in_logs, 0, "the token leaked into the trace output");
    assert_eq!(leaks_elsewhere, 0, "the token leaked: {outputs:?}");
}

// ------------------------------------------------------------------ 1b. mutation storm

const MUTATION_SEED: u64 = 0x5EED_0002;
const MUTATION_OPS: usize = 2_000;
const MUTATION_DROPS: usize = 25;

/// What the consumer believes about one message, rebuilt from events alone.
#[derive(Debug, Default)]
struct Seen {
    created: usize,
    /// Event kinds in arrival order, for the failure message.
    log: Vec<&'static str>,
    text: String,
    deleted: bool,
    reactions: HashSet<(String, String)>,
}

/// Posts, edits, reactions, unreactions and deletes from 3 peers over 4 rooms while the
/// bot's socket is dropped 25 times at seeded random points: the state the consumer builds
/// from events alone (created once, final text, deleted or not, who reacted with what)
/// equals the server's at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutation_storm_events_rebuild_the_server_state() {
    support::scoped_log_capture_safe();
    let mut rng = StdRng::seed_from_u64(MUTATION_SEED);
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let bot = account(&sim, "mutation-bot");
    let peers: Vec<String> = (0..3)
        .map(|i| {
            sim.create_user(&format!("mpeer{i}"), UserKind::Human)
                .unwrap()
        })
        .collect();
    let rooms: Vec<String> = (0..4)
        .map(|i| {
            sim.create_room(
                RoomKind::Public,
                &format!("mut{i}"),
                &peers[0],
                &[&peers[1], &peers[2], &bot.id],
            )
            .unwrap()
        })
        .collect();
    let (channel, mut events) = connect(config_for(&sim.base_url(), &bot)).await;
    let losses = Arc::new(AtomicUsize::new(0));
    let actives = Arc::new(AtomicUsize::new(0));
    let consumer = {
        let (losses, actives) = (losses.clone(), actives.clone());
        tokio::spawn(async move {
            let mut seen: HashMap<String, Seen> = HashMap::new();
            let mut unknown = 0usize;
            let mut deletes_of_undelivered = 0usize;
            let mut fences = 0;
            while let Some(e) = events.recv().await {
                match e {
                    Event::MessageCreated { message } if message.text == "fence" => {
                        fences += 1;
                        if fences == 4 {
                            return (seen, unknown, deletes_of_undelivered);
                        }
                    }
                    Event::MessageCreated { message } => {
                        let s = seen.entry(message.id.as_str().to_owned()).or_default();
                        s.created += 1;
                        s.log.push("created");
                        s.text = message.text;
                    }
                    Event::MessageEdited { message } => match seen.get_mut(message.id.as_str()) {
                        Some(s) => s.text = message.text,
                        None => {
                            unknown += 1;
                            if std::env::var("RELIABILITY_DEBUG").is_ok() {
                                eprintln!("edited but never created: {:?}", message.id);
                            }
                        }
                    },
                    Event::MessageDeleted { message, .. } => match seen.get_mut(message.as_str()) {
                        Some(s) => {
                            s.deleted = true;
                            s.log.push("deleted");
                        }
                        // Posted and deleted while the bot was away: the catch-up reports
                        // the delete of a message it never delivered. Harmless.
                        None => deletes_of_undelivered += 1,
                    },
                    Event::ReactionAdded { reaction } => {
                        match seen.get_mut(reaction.message.id.as_str()) {
                            Some(s) => {
                                s.reactions.insert((
                                    reaction.emoji,
                                    reaction.username.unwrap_or_default(),
                                ));
                            }
                            None => unknown += 1,
                        }
                    }
                    Event::ReactionRemoved { reaction } => {
                        match seen.get_mut(reaction.message.id.as_str()) {
                            Some(s) => {
                                if !s.reactions.remove(&(
                                    reaction.emoji.clone(),
                                    reaction.username.clone().unwrap_or_default(),
                                )) {
                                    unknown += 1;
                                    if std::env::var("RELIABILITY_DEBUG").is_ok() {
                                        eprintln!("removed but never added: {reaction:?}");
                                    }
                                }
                            }
                            None => unknown += 1,
                        }
                    }
                    // An outage starts with its first attempt's wait; the later
                    // phases and attempts of the same outage are not new losses.
                    Event::ConnectionStateChanged {
                        state:
                            ConnectionState::Reconnecting {
                                attempt: 1,
                                phase: Phase::Waiting,
                            },
                    } => {
                        losses.fetch_add(1, Ordering::SeqCst);
                    }
                    Event::ConnectionStateChanged {
                        state: ConnectionState::Active,
                    } => {
                        actives.fetch_add(1, Ordering::SeqCst);
                    }
                    Event::ConnectionStateChanged { state } if state.is_fatal() => {
                        panic!("the account stopped: {state:?}")
                    }
                    _ => {}
                }
            }
            panic!("the stream ended");
        })
    };

    // (message id, author) of live messages; deleted ones move to `gone`.
    let mut live: Vec<(String, String)> = Vec::new();
    let mut gone: Vec<String> = Vec::new();
    let mut counts = [0usize; 5];
    // Drops draw from their own generator, so the operations are the same on every run
    // whatever the timing.
    let mut drop_rng = StdRng::seed_from_u64(MUTATION_SEED + 1);
    let mut drop_points: Vec<usize> = (0..MUTATION_DROPS)
        .map(|_| drop_rng.random_range(0..MUTATION_OPS))
        .collect();
    drop_points.sort_unstable();
    let mut next_drop = 0;
    for i in 0..MUTATION_OPS {
        let mut due = next_drop < drop_points.len() && drop_points[next_drop] <= i;
        if due {
            let lost = losses.load(Ordering::SeqCst);
            if lost >= next_drop && actives.load(Ordering::SeqCst) > lost {
                sim.drop_sockets_after(&bot.id, drop_rng.random_range(0..20));
                next_drop += 1;
                due = false;
            }
        }
        let op = if live.is_empty() {
            0
        } else {
            rng.random_range(0..20)
        };
        match op {
            0..=8 => {
                let author = peers[rng.random_range(0..peers.len())].clone();
                let room = &rooms[rng.random_range(0..rooms.len())];
                let id = sim.post(&author, room, &format!("m{i}")).unwrap();
                live.push((id, author));
                counts[0] += 1;
            }
            9..=12 => {
                let (id, author) = &live[rng.random_range(0..live.len())];
                sim.edit(author, id, &format!("m{i} edited")).unwrap();
                counts[1] += 1;
            }
            13..=16 => {
                let (id, _) = &live[rng.random_range(0..live.len())];
                let who = &peers[rng.random_range(0..peers.len())];
                let emoji = [":+1:", ":eyes:"][rng.random_range(0..2)];
                sim.react(who, id, emoji).unwrap();
                counts[2] += 1;
            }
            17..=18 => {
                let (id, _) = &live[rng.random_range(0..live.len())];
                let who = &peers[rng.random_range(0..peers.len())];
                let emoji = [":+1:", ":eyes:"][rng.random_range(0..2)];
                sim.unreact(who, id, emoji).unwrap();
                counts[3] += 1;
            }
            _ => {
                let (id, author) = live.swap_remove(rng.random_range(0..live.len()));
                sim.delete(&author, &id).unwrap();
                gone.push(id);
                counts[4] += 1;
            }
        }
        if due || i % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    // Let the last armed drop fire and the bot come back first: a catch-up reports a room's
    // deletes after its messages, so a fence caught up with them would overtake them.
    if next_drop > 0 {
        for room in rooms.iter().cycle() {
            let lost = losses.load(Ordering::SeqCst);
            if lost >= next_drop && actives.load(Ordering::SeqCst) > lost {
                break;
            }
            // Frames to the bot, so the armed drop fires.
            sim.typing(&peers[0], room, true).unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    for room in &rooms {
        sim.post(&peers[0], room, "fence").unwrap();
    }
    let (seen, unknown, deletes_of_undelivered) =
        tokio::time::timeout(Duration::from_secs(120), consumer)
            .await
            .expect("the consumer did not see every fence in time")
            .unwrap();

    let mut wrong_text = 0;
    let mut wrong_reactions = 0;
    let mut missing = 0;
    for (id, _) in &live {
        let server = sim.message(id).unwrap();
        let Some(s) = seen.get(id) else {
            missing += 1;
            continue;
        };
        if s.deleted || server["msg"].as_str() != Some(s.text.as_str()) {
            wrong_text += 1;
        }
        let mut expected = HashSet::new();
        if let Some(map) = server["reactions"].as_object() {
            for (emoji, r) in map {
                for user in r["usernames"].as_array().into_iter().flatten() {
                    expected.insert((
                        emoji.trim_matches(':').to_owned(),
                        user.as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
        if expected != s.reactions {
            wrong_reactions += 1;
            if std::env::var("RELIABILITY_DEBUG").is_ok() {
                eprintln!(
                    "reactions of {id}: server {expected:?} seen {:?} ts {} updated {}",
                    s.reactions, server["ts"], server["_updatedAt"]
                );
            }
        }
    }
    let not_deleted = gone
        .iter()
        .filter(|id| seen.get(*id).is_some_and(|s| !s.deleted))
        .inspect(|id| {
            if std::env::var("RELIABILITY_DEBUG").is_ok() {
                eprintln!(
                    "deleted on the server, not for the consumer: {id}: {:?}",
                    seen.get(*id).map(|s| &s.log)
                );
            }
        })
        .count();
    let duplicates: usize = seen.values().map(|s| s.created.saturating_sub(1)).sum();
    let drops = losses.load(Ordering::SeqCst);
    println!(
        "mutation storm: {} posts, {} edits, {} reactions, {} unreactions, {} deletes, {drops} \
         drops (armed {next_drop}): duplicates={duplicates} missing={missing} \
         wrong_text={wrong_text} wrong_reactions={wrong_reactions} deletes_missed={not_deleted} \
         events_for_unknown_messages={unknown} (deletes of undelivered messages \
         {deletes_of_undelivered}) seed={MUTATION_SEED:#x}",
        counts[0], counts[1], counts[2], counts[3], counts[4]
    );
    assert!(
        next_drop >= 20 && drops >= 20,
        "{next_drop} armed, {drops} fired"
    );
    assert_eq!(
        (
            duplicates,
            missing,
            wrong_text,
            wrong_reactions,
            not_deleted,
            unknown
        ),
        (0, 0, 0, 0, 0, 0)
    );
    channel.shutdown().await;
    sim.shutdown().await;
}
