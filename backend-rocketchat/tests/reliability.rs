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
    RoomId,
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
                    Event::ConnectionStateChanged {
                        state: ConnectionState::Reconnecting { .. },
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

    let mut drop_points: Vec<usize> = (0..STORM_DROPS)
        .map(|_| rng.random_range(0..STORM_MESSAGES))
        .collect();
    drop_points.sort_unstable();
    let mut next_drop = 0;
    let mut sent_per_room = vec![0usize; STORM_ROOMS];
    let start = Instant::now();
    for i in 0..STORM_MESSAGES {
        let mut due = next_drop < drop_points.len() && drop_points[next_drop] <= i;
        if due {
            // Arm the next drop once the previous one has fired and the bot is back: it
            // fires after a random number of further frames to the bot. Until then the
            // messages keep coming, only slower.
            let lost = losses.load(Ordering::SeqCst);
            if lost >= next_drop && actives.load(Ordering::SeqCst) > lost {
                sim.drop_sockets_after(&bot.id, rng.random_range(0..40));
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
    let mut last: Vec<Option<usize>> = vec![None; STORM_ROOMS];
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
    assert!(armed >= 50 && drops >= 50, "only {armed} drops armed, {drops} fired");
    assert_eq!(duplicates, 0);
    assert_eq!(missing, 0);
    assert_eq!(out_of_order, 0);
    channel.shutdown().await;
    sim.shutdown().await;
}
