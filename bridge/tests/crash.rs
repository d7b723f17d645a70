//! The crash test of the seams issue (item 12): a few thousand messages over many rooms,
//! slow downloads and slow history fetches, and the real `bridge serve` SIGKILLed at many
//! seeded random instants, each time restarted from its `stateFile`. It ends with every
//! admitted message handed over at least once and none lost, no skipped message handed
//! over, and every duplicate one that docs/reliability.md allows.
//!
//! # What a duplicate may be
//! A restarted bridge may hand a message over again only when the state file the killed
//! process left did not record it as handled: it was handed over and not acknowledged
//! before the kill (the ack was never sent, or was still in the pipe), or it was
//! acknowledged so shortly before the kill that the ledger's writer had not written that
//! down yet (`bridge-core/src/resume.rs`: "a written point may lag the ledger"). Nothing
//! else: never twice by one process, never a skipped message, never a message the state
//! file of an earlier kill recorded as handled. The test checks each of these with what it
//! saw itself (what it acked, and the state file after each kill, read with the same
//! [`ResumePoint::is_new`] the restarted backend uses). (The ledger also lets the oldest
//! of more than 2,000 handled messages of one room near its mark come again; no room gets
//! near that here.)
//!
//! Run with `--nocapture` for the figures (docs/reliability.md, section 2). Only the
//! outcome is asserted, never a time: the waits are there so a broken run fails instead of
//! hanging.
//!
//! # And what must come again
//! A message handed over and not acknowledged before a kill must be handed over again by a
//! later process (item 11: handed over is not admitted).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bridge::sim::DemoSim;
use bytes::Bytes;
use channel_api::{MessageId, ResumePoint, RoomId, Timestamp};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocketchat_sim::{RestFault, RoomKind};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::time::{sleep_until, Instant};

/// The seed of every random choice the test makes (printed); `CRASH_TEST_SEED` (hex or
/// decimal) picks another for exploring.
const SEED: u64 = 0xC4A5_0012;
/// Rooms the bot is in, all allowlisted (mention needed).
const ROOMS: usize = 24;
/// Bridge processes SIGKILLed; one more runs to the end.
const KILLS: usize = 40;
/// Messages posted before the fences, live and while no bridge runs.
const MESSAGES: usize = 3_000;
/// Share of the posts that mention the bot (admitted); the others are skipped.
const MENTIONED: f64 = 0.45;
/// Share of the posts that carry a file (uploaded through `rooms.media`).
const WITH_FILE: f64 = 0.07;
/// Share of the notifications the fake plugin never acknowledges (until the kill).
const NEVER_ACKED: f64 = 0.04;
/// The longest a killed process lives.
const MAX_LIFE: Duration = Duration::from_millis(1_500);
/// How long the last process may take to hand over everything.
const FINAL_WAIT: Duration = Duration::from_secs(60);

const BOUNDARY: &str = "----crash-test-boundary-7Hq";
const BIN: &str = env!("CARGO_BIN_EXE_bridge");

/// A `bridge serve` child. Not `common::serve::Serve`: a process killed in the middle of
/// a write leaves its last line torn, which the plugin ignores (not JSON, so not handed
/// over) and this test must too.
struct Serve {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    /// A line that was not JSON: only the last one, after a kill, may be.
    torn: Option<String>,
}

impl Serve {
    /// Starts `bridge serve` and writes its configuration line; stderr goes to `log`.
    async fn start(config: &Value, log: &Path) -> Self {
        let mut child = Command::new(BIN)
            .arg("serve")
            .env("RUST_LOG", log_level())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut serve = Self {
            child,
            stdin,
            stdout,
            torn: None,
        };
        serve.write(&config.to_string()).await;
        serve
    }

    async fn write(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// The next JSON line; `None` at the end of the output. Cancel-safe.
    async fn read(&mut self) -> Option<Value> {
        loop {
            let line = self.stdout.next_line().await.unwrap()?;
            assert!(
                self.torn.is_none(),
                "a torn line before the end: {:?}",
                self.torn
            );
            match serde_json::from_str(&line) {
                Ok(value) => return Some(value),
                // Only the end of the output may follow.
                Err(_) => self.torn = Some(line),
            }
        }
    }

    /// Closes stdin, reads what is left and waits for the exit; the exit code, the
    /// remaining lines and the torn last line, if any.
    async fn finish(mut self) -> (Option<i32>, Vec<Value>, Option<String>) {
        self.stdin = None;
        let mut rest = Vec::new();
        while let Some(v) = tokio::time::timeout(PROCESS_WAIT, self.read())
            .await
            .expect("the bridge did not end its output")
        {
            rest.push(v);
        }
        let status = tokio::time::timeout(PROCESS_WAIT, self.child.wait())
            .await
            .expect("the bridge did not exit")
            .unwrap();
        (status.code(), rest, self.torn)
    }
}

/// Only so a broken run fails instead of hanging.
const PROCESS_WAIT: Duration = Duration::from_secs(30);

/// How a process is killed.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// At a random instant after its start: while starting, catching up or mid-stream.
    At(Duration),
    /// Right after reading its n-th `message` notification, before acknowledging it.
    AfterNotification(usize),
    /// After this long, a stalled download or history fetch is armed and a message that
    /// needs it posted; the kill comes shortly after, while it is being prepared.
    WhilePreparing(Duration),
}

/// What the test knows about one posted message.
#[derive(Debug)]
struct Posted {
    room: String,
    admitted: bool,
    with_file: bool,
}

/// One `message` notification, as the fake plugin saw it.
#[derive(Debug, Clone)]
struct HandOver {
    id: String,
    room: String,
    at: i64,
    life: usize,
}

/// What became of a message handed over by a process that was then killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AtKill {
    /// Not acknowledged: it must come again.
    Unacked,
    /// Acknowledged, but the state file left behind does not show it handled: it may come
    /// again.
    AckNotWritten,
    /// The state file left behind shows it handled: it must never come again.
    Written,
}

#[derive(Default)]
struct Figures {
    posted_live: usize,
    posted_dead: usize,
    files: usize,
    stalls: usize,
    kills: BTreeMap<&'static str, usize>,
    never_acked: usize,
    acks: usize,
    /// Kills that tore the line being written.
    torn: usize,
    /// "While preparing" kills that came before the stalled message was handed over.
    killed_preparing: usize,
    /// The longest an ack had been sent before a kill whose state file did not show it.
    longest_unwritten: Duration,
    lives: Duration,
    dead: Duration,
    last: Duration,
}

struct Run {
    /// What is posted where (and the stalls).
    rng: StdRng,
    /// How and when each process is killed, and the posts while none runs.
    plan_rng: StdRng,
    /// When the fake plugin acknowledges.
    ack_rng: StdRng,
    world: DemoSim,
    rooms: Vec<String>,
    config: Value,
    state_file: PathBuf,
    posted: HashMap<String, Posted>,
    /// Every hand-over, in the order read.
    handed: Vec<HandOver>,
    /// Per message, what became of each of its hand-overs in a killed process.
    fate: HashMap<String, Vec<(usize, AtKill)>>,
    figures: Figures,
}

/// An ack the fake plugin will send.
struct DueAck {
    at: Instant,
    id: String,
}

impl Run {
    /// Where process `life` logs.
    fn log(&self, life: usize) -> PathBuf {
        self.state_file.with_file_name(format!("bridge-{life}.log"))
    }

    fn room(&mut self) -> String {
        let i = self.rng.random_range(0..self.rooms.len());
        self.rooms[i].clone()
    }

    /// Posts one message from the human in a random room: mentioned or not, with a file or
    /// not.
    async fn post_random(&mut self, live: bool) {
        let room = self.room();
        let admitted = self.rng.random_bool(MENTIONED);
        let with_file = self.rng.random_bool(WITH_FILE);
        self.post(&room, admitted, with_file).await;
        if live {
            self.figures.posted_live += 1;
        } else {
            self.figures.posted_dead += 1;
        }
    }

    async fn post(&mut self, room: &str, admitted: bool, with_file: bool) -> String {
        let n = self.posted.len();
        let text = if admitted {
            format!("@bot m{n}")
        } else {
            format!("m{n}, not for the bot")
        };
        let id = if with_file {
            self.figures.files += 1;
            post_file(&self.world, room, &format!("f{n}.txt"), &text).await
        } else {
            self.world
                .sim
                .post(&self.world.human_id, room, &text)
                .unwrap()
        };
        self.posted.insert(
            id.clone(),
            Posted {
                room: room.to_owned(),
                admitted,
                with_file,
            },
        );
        id
    }

    /// Arms a stall on the next download or history fetch (or a few).
    fn arm_stall(&mut self) {
        let path = if self.rng.random_bool(0.5) {
            "/file-upload/"
        } else {
            "/api/v1/channels.history"
        };
        let stall = Duration::from_millis(self.rng.random_range(200..1_500));
        let times = self.rng.random_range(1..4);
        self.world
            .sim
            .fail_endpoint(path, RestFault::Stall(stall), times);
        self.figures.stalls += 1;
    }

    fn kill_plan(&mut self) -> Kill {
        match self.plan_rng.random_range(0..3) {
            0 => Kill::At(Duration::from_millis(self.plan_rng.random_range(20..1_200))),
            1 => Kill::AfterNotification(self.plan_rng.random_range(1..60)),
            _ => Kill::WhilePreparing(Duration::from_millis(self.plan_rng.random_range(50..900))),
        }
    }

    fn record(&mut self, life: usize, params: &Value) -> String {
        let id = params["messageId"].as_str().unwrap().to_owned();
        self.handed.push(HandOver {
            id: id.clone(),
            room: params["room"]["id"].as_str().unwrap().to_owned(),
            at: params["timestamp"].as_i64().unwrap(),
            life,
        });
        // The plugin owns the downloads.
        for attachment in params["attachments"].as_array().into_iter().flatten() {
            if let Some(path) = attachment["path"].as_str() {
                let _ = std::fs::remove_file(path);
            }
        }
        id
    }

    /// Sends the acks that are due.
    async fn send_due(
        &mut self,
        serve: &mut Serve,
        due: &mut Vec<DueAck>,
        acked: &mut HashMap<String, Instant>,
    ) {
        let now = Instant::now();
        let ids: Vec<String> = due
            .iter()
            .filter(|a| a.at <= now)
            .map(|a| a.id.clone())
            .collect();
        due.retain(|a| a.at > now);
        if ids.is_empty() {
            return;
        }
        let ack = json!({"jsonrpc": "2.0", "method": "ack", "params": {"messageIds": ids}});
        serve.write(&ack.to_string()).await;
        self.figures.acks += 1;
        acked.extend(ids.into_iter().map(|id| (id, now)));
    }

    /// Runs process `life` until its kill, then judges what it left.
    async fn live(&mut self, life: usize, plan: Kill) {
        let mut serve = Serve::start(&self.config, &self.log(life)).await;
        let start = Instant::now();
        let never = start + Duration::from_secs(3_600);
        let mut kill_at = start
            + match plan {
                Kill::At(after) => after,
                _ => MAX_LIFE,
            };
        let mut prepare_at = match plan {
            Kill::WhilePreparing(after) => Some(start + after),
            _ => None,
        };
        let mut next_post = start;
        let mut due: Vec<DueAck> = Vec::new();
        let mut acked: HashMap<String, Instant> = HashMap::new();
        let mut notifications = 0;
        let mut preparing = None;
        let mut why = match plan {
            Kill::At(_) => "at a random instant",
            _ => "at the longest life",
        };
        loop {
            let next_ack = due.iter().map(|a| a.at).min().unwrap_or(never);
            let posting = self.posted.len() < MESSAGES;
            tokio::select! {
                biased;
                line = serve.read() => {
                    let line = line.expect("the bridge exited by itself");
                    if line["method"] != json!("message") {
                        continue;
                    }
                    let id = self.record(life, &line["params"]);
                    notifications += 1;
                    if matches!(plan, Kill::AfterNotification(n) if n == notifications) {
                        why = "after a notification, before its ack";
                        break;
                    }
                    if self.ack_rng.random_bool(NEVER_ACKED) {
                        self.figures.never_acked += 1;
                    } else {
                        let delay = Duration::from_millis(self.ack_rng.random_range(0..40));
                        due.push(DueAck { at: Instant::now() + delay, id });
                    }
                }
                () = sleep_until(kill_at) => {
                    if prepare_at.is_none() && matches!(plan, Kill::WhilePreparing(_)) {
                        why = "while preparing";
                    }
                    break;
                }
                () = sleep_until(next_ack) => self.send_due(&mut serve, &mut due, &mut acked).await,
                () = sleep_until(prepare_at.unwrap_or(never)), if prepare_at.is_some() => {
                    prepare_at = None;
                    self.arm_stall();
                    let room = self.room();
                    let with_file = self.rng.random_bool(0.5);
                    // Unmentioned first, so the mentioned one needs the room's history;
                    // one after it, handled at once while it is prepared (item 7).
                    self.post(&room, false, false).await;
                    preparing = Some(self.post(&room, true, with_file).await);
                    self.post(&room, false, false).await;
                    kill_at = Instant::now() + Duration::from_millis(self.plan_rng.random_range(5..150));
                }
                () = sleep_until(next_post), if posting => {
                    self.post_random(true).await;
                    if self.rng.random_bool(0.02) {
                        self.arm_stall();
                    }
                    next_post = Instant::now() + Duration::from_micros(self.rng.random_range(0..8_000));
                }
            }
        }
        *self.figures.kills.entry(why).or_default() += 1;
        if let Some(id) = preparing {
            if !self.handed.iter().any(|h| h.life == life && h.id == id) {
                self.figures.killed_preparing += 1;
            }
        }
        serve.child.start_kill().unwrap();
        let killed = Instant::now();
        // What it wrote before it died is in the pipe: the plugin gets it, unacked.
        let (code, rest, torn) = serve.finish().await;
        assert_eq!(code, None, "killed by the signal");
        if torn.is_some() {
            self.figures.torn += 1;
        }
        for line in rest {
            if line["method"] == json!("message") {
                self.record(life, &line["params"]);
            }
        }
        self.judge_kill(life, &acked, killed);
    }

    /// Classifies what process `life` handed over with the state file it left.
    fn judge_kill(&mut self, life: usize, acked: &HashMap<String, Instant>, killed: Instant) {
        let point = read_point(&self.state_file);
        let mine: Vec<HandOver> = self
            .handed
            .iter()
            .filter(|h| h.life == life)
            .cloned()
            .collect();
        for h in mine {
            let fate = if !acked.contains_key(&h.id) {
                AtKill::Unacked
            } else if point.as_ref().is_some_and(|p| {
                !p.is_new(
                    &RoomId::new(h.room.as_str()),
                    &MessageId::new(h.id.as_str()),
                    Timestamp(h.at),
                )
            }) {
                AtKill::Written
            } else {
                let before = killed.saturating_duration_since(acked[&h.id]);
                self.figures.longest_unwritten = self.figures.longest_unwritten.max(before);
                AtKill::AckNotWritten
            };
            self.fate.entry(h.id).or_default().push((life, fate));
        }
    }

    /// The last process: no kill; a fence per room; everything acknowledged.
    async fn last(&mut self, life: usize) -> Value {
        let mut serve = Serve::start(&self.config, &self.log(life)).await;
        let mut fences = HashSet::new();
        for room in self.rooms.clone() {
            let id = self
                .world
                .sim
                .post(&self.world.human_id, &room, "@bot fence")
                .unwrap();
            self.posted.insert(
                id.clone(),
                Posted {
                    room,
                    admitted: true,
                    with_file: false,
                },
            );
            fences.insert(id);
        }
        let admitted: HashSet<String> = self
            .posted
            .iter()
            .filter(|(_, p)| p.admitted)
            .map(|(id, _)| id.clone())
            .collect();
        let deadline = Instant::now() + FINAL_WAIT;
        let mut due: Vec<DueAck> = Vec::new();
        let mut acked = HashMap::new();
        let never = Instant::now() + Duration::from_secs(3_600);
        loop {
            let seen: HashSet<&String> = self.handed.iter().map(|h| &h.id).collect();
            if due.is_empty() && admitted.iter().all(|id| seen.contains(id)) {
                break;
            }
            let next_ack = due.iter().map(|a| a.at).min().unwrap_or(never);
            tokio::select! {
                biased;
                line = serve.read() => {
                    let line = line.expect("the bridge exited by itself");
                    if line["method"] == json!("message") {
                        let id = self.record(life, &line["params"]);
                        let delay = Duration::from_millis(self.ack_rng.random_range(0..40));
                        due.push(DueAck { at: Instant::now() + delay, id });
                    }
                }
                () = sleep_until(next_ack) => self.send_due(&mut serve, &mut due, &mut acked).await,
                () = sleep_until(deadline) => break,
            }
        }
        // Nothing is left waiting for an ack.
        serve
            .write(&json!({"jsonrpc": "2.0", "id": 1, "method": "stats", "params": {}}).to_string())
            .await;
        let stats = loop {
            let line = serve.read().await.expect("the bridge exited by itself");
            if line["method"] == json!("message") {
                self.record(life, &line["params"]);
            } else if line["id"] == json!(1) {
                break line["result"].clone();
            }
        };
        let (code, rest, torn) = serve.finish().await;
        assert_eq!(
            code,
            Some(0),
            "a clean stop; see {}",
            self.log(life).display()
        );
        assert_eq!(torn, None, "no torn line without a kill");
        for line in rest {
            if line["method"] == json!("message") {
                self.record(life, &line["params"]);
            }
        }
        stats
    }
}

fn seed() -> u64 {
    match std::env::var("CRASH_TEST_SEED") {
        Ok(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
            None => s.parse().unwrap(),
        },
        Err(_) => SEED,
    }
}

fn log_level() -> String {
    std::env::var("CRASH_TEST_LOG").unwrap_or_else(|_| "warn".to_owned())
}

fn read_point(path: &Path) -> Option<ResumePoint> {
    let bytes = std::fs::read(path).ok()?;
    let file: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(file["version"], json!(2), "{file}");
    Some(serde_json::from_value(file["point"].clone()).unwrap())
}

/// One HTTP request to the simulator as the human; the JSON answer.
async fn request(world: &DemoSim, path: &str, content_type: &str, body: Vec<u8>) -> Value {
    let stream = tokio::net::TcpStream::connect(world.sim.addr())
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method("POST")
        .uri(path)
        .header("Host", world.sim.addr().to_string())
        .header("X-User-Id", &world.human_id)
        .header("X-Auth-Token", &world.human_token)
        .header("Content-Type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let value: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(value["success"], json!(true), "{path}: {value}");
    value
}

/// Posts a file message as Rocket.Chat clients do (`rooms.media`, then
/// `rooms.mediaConfirm`); returns the message id.
async fn post_file(world: &DemoSim, room: &str, name: &str, text: &str) -> String {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(format!("the file {name}\n").repeat(64).as_bytes());
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let up = request(
        world,
        &format!("/api/v1/rooms.media/{room}"),
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        body,
    )
    .await;
    let file = up["file"]["_id"].as_str().unwrap();
    let confirmed = request(
        world,
        &format!("/api/v1/rooms.mediaConfirm/{room}/{file}"),
        "application/json",
        json!({"msg": text}).to_string().into_bytes(),
    )
    .await;
    confirmed["message"]["_id"].as_str().unwrap().to_owned()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_at_random_instants_the_bridge_loses_nothing() {
    let began = std::time::Instant::now();
    let seed = seed();
    println!("crash test seed {seed:#x}");
    let world = DemoSim::start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    // Every REST answer a little late, the stalls below on top.
    world.sim.set_latency(Duration::from_millis(1));
    let dir = std::env::temp_dir().join(format!("bridge-crash-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let state_file = dir.join("state.json");
    println!(
        "crash test: state file and bridge logs in {} (removed when the test passes)",
        dir.display()
    );
    let rooms: Vec<String> = (0..ROOMS)
        .map(|i| {
            world
                .sim
                .create_room(
                    RoomKind::Public,
                    &format!("crash-{i:02}"),
                    &world.human_id,
                    &[&world.bot_id],
                )
                .unwrap()
        })
        .collect();
    let mut config = world.bridge_config();
    config["rooms"] = rooms
        .iter()
        .map(|r| (r.clone(), json!({})))
        .collect::<serde_json::Map<_, _>>()
        .into();
    config["stateFile"] = json!(state_file);
    config["mediaDir"] = json!(dir.join("media"));
    config["historyLimit"] = json!(5);
    config["resumeMaxAgeSeconds"] = json!(3_600);

    let mut run = Run {
        rng: StdRng::seed_from_u64(seed),
        plan_rng: StdRng::seed_from_u64(seed.wrapping_add(1)),
        ack_rng: StdRng::seed_from_u64(seed.wrapping_add(2)),
        world,
        rooms,
        config,
        state_file,
        posted: HashMap::new(),
        handed: Vec::new(),
        fate: HashMap::new(),
        figures: Figures::default(),
    };

    for life in 0..KILLS {
        let plan = run.kill_plan();
        let t = Instant::now();
        run.live(life, plan).await;
        run.figures.lives += t.elapsed();
        let t = Instant::now();
        // Posted while no bridge runs.
        let dead = run.plan_rng.random_range(0..12);
        for _ in 0..dead {
            if run.posted.len() < MESSAGES {
                run.post_random(false).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(run.plan_rng.random_range(0..100))).await;
        run.figures.dead += t.elapsed();
    }
    let t = Instant::now();
    let stats = run.last(KILLS).await;
    run.figures.last = t.elapsed();
    let wall = began.elapsed();

    // ----- judge -----
    let admitted: HashSet<&String> = run
        .posted
        .iter()
        .filter(|(_, p)| p.admitted)
        .map(|(id, _)| id)
        .collect();
    let skipped: HashSet<&String> = run
        .posted
        .iter()
        .filter(|(_, p)| !p.admitted)
        .map(|(id, _)| id)
        .collect();
    let mut by_id: HashMap<&String, Vec<&HandOver>> = HashMap::new();
    for h in &run.handed {
        by_id.entry(&h.id).or_default().push(h);
    }
    let handed_ids: HashSet<&String> = by_id.keys().copied().collect();
    let unknown: Vec<&&String> = handed_ids
        .iter()
        .filter(|id| !run.posted.contains_key(**id))
        .collect();
    let wrong_room: Vec<&HandOver> = run
        .handed
        .iter()
        .filter(|h| run.posted.get(&h.id).is_some_and(|p| p.room != h.room))
        .collect();
    let skipped_handed: Vec<&&String> = handed_ids
        .iter()
        .filter(|id| skipped.contains(**id))
        .collect();
    let lost: Vec<(&String, &Posted)> = admitted
        .iter()
        .filter(|id| !handed_ids.contains(*id))
        .map(|id| (*id, &run.posted[*id]))
        .collect();

    let mut duplicates = 0;
    let mut dup_unacked = 0;
    let mut dup_ack_not_written = 0;
    let mut twice_in_one_process = Vec::new();
    let mut not_allowed = Vec::new();
    let mut never_again = Vec::new();
    for (id, hands) in &by_id {
        let fates = run.fate.get(*id).map(Vec::as_slice).unwrap_or_default();
        for pair in hands.windows(2) {
            if pair[0].life == pair[1].life {
                twice_in_one_process.push((*id).clone());
                continue;
            }
            duplicates += 1;
            // What the kills before this hand-over left of the earlier ones.
            let earlier: Vec<AtKill> = fates
                .iter()
                .filter(|(life, _)| *life < pair[1].life)
                .map(|(_, f)| *f)
                .collect();
            if earlier.contains(&AtKill::Written) {
                not_allowed.push(((*id).clone(), pair[1].life, fates.to_vec()));
            } else if earlier.last() == Some(&AtKill::Unacked) {
                dup_unacked += 1;
            } else {
                dup_ack_not_written += 1;
            }
        }
        // The last hand-over of a message must have been acknowledged.
        if let Some(last) = hands.last() {
            let fate = fates
                .iter()
                .find(|(life, _)| *life == last.life)
                .map(|(_, f)| *f);
            if fate == Some(AtKill::Unacked) {
                never_again.push(((*id).clone(), last.life));
            }
        }
    }

    let with_files = run
        .posted
        .values()
        .filter(|p| p.admitted && p.with_file)
        .count();
    println!(
        "crash test: {} messages ({} admitted, {} skipped, {} with a file, {} of the admitted) over {} rooms; \
         {} posted live, {} while no bridge ran, {} fences",
        run.posted.len(),
        admitted.len(),
        skipped.len(),
        run.figures.files,
        with_files,
        ROOMS,
        run.figures.posted_live,
        run.figures.posted_dead,
        ROOMS
    );
    println!(
        "crash test: {} SIGKILLs {:?} ({} while the stalled message was not handed over yet, {} tearing the line \
         being written); {} stalls armed (downloads, history fetches)",
        KILLS,
        run.figures.kills,
        run.figures.killed_preparing,
        run.figures.torn,
        run.figures.stalls
    );
    println!(
        "crash test: {} hand-overs, {} distinct, {} duplicates ({} handed over and not acked before the kill, \
         {} acked but not yet written at the kill, acked at most {} ms before it), {} never acked on purpose, \
         {} ack lines",
        run.handed.len(),
        handed_ids.len(),
        duplicates,
        dup_unacked,
        dup_ack_not_written,
        run.figures.longest_unwritten.as_millis(),
        run.figures.never_acked,
        run.figures.acks
    );
    println!(
        "crash test: lost {}, skipped handed over {}, unknown {}, twice by one process {}, duplicates not allowed {}, \
         unacked and never again {}; final stats {stats}; wall time {:.1} s \
         (killed processes {:.1} s, no process {:.1} s, the last {:.1} s)",
        lost.len(),
        skipped_handed.len(),
        unknown.len(),
        twice_in_one_process.len(),
        not_allowed.len(),
        never_again.len(),
        wall.as_secs_f64(),
        run.figures.lives.as_secs_f64(),
        run.figures.dead.as_secs_f64(),
        run.figures.last.as_secs_f64()
    );

    assert!(
        lost.is_empty(),
        "admitted messages never handed over: {lost:?}"
    );
    assert!(
        skipped_handed.is_empty(),
        "skipped messages handed over: {skipped_handed:?}"
    );
    assert!(
        wrong_room.is_empty(),
        "handed over in another room: {wrong_room:?}"
    );
    assert!(
        unknown.is_empty(),
        "hand-overs of messages never posted: {unknown:?}"
    );
    assert!(
        twice_in_one_process.is_empty(),
        "handed over twice by one process: {twice_in_one_process:?}"
    );
    assert!(
        not_allowed.is_empty(),
        "handed over again although the state file recorded it handled: {not_allowed:?}"
    );
    assert!(
        never_again.is_empty(),
        "handed over, not acknowledged, and never handed over again: {never_again:?}"
    );
    assert_eq!(stats["unacked"], json!(0), "{stats}");
    let _ = std::fs::remove_dir_all(&dir);
}
