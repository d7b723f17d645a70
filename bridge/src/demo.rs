//! `bridge demo`: the simulator, a scripted human and an echo agent in one process, with a
//! readable transcript. The agent talks to a real bridge over the JSON-RPC protocol, and
//! the bridge talks to the simulator over DDP and REST, exactly as in production.
//!
//! The script shows: mention gating (a room message without a mention is skipped, with a
//! mention it is answered), a thread reply, a reaction reaching the agent, `!status`
//! forwarded and answered, and `!stop` refused by the core for a non-operator.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::{mpsc, oneshot};

use crate::sim::{DemoSim, BOT, HUMAN, ROOM};
use bridge_core::config::AccountConfig;
use bridge_core::server::{run_bridge_with, BridgeOptions};

/// How long one step of the script may take before the demo gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The simulator failed.
    #[error("simulator: {0}")]
    Sim(#[from] rocketchat_sim::SimError),
    /// The demo configuration was rejected (a bug).
    #[error("configuration: {0}")]
    Config(#[from] bridge_core::config::ConfigError),
    /// A step did not happen in time.
    #[error("timed out waiting for: {0}")]
    Timeout(&'static str),
    /// The bridge answered a request with an error.
    #[error("bridge error on {method}: {error}")]
    Rpc {
        /// The request.
        method: String,
        /// The JSON-RPC error object.
        error: Value,
    },
    /// The bridge stopped early.
    #[error("the bridge stopped: {0}")]
    BridgeGone(String),
    /// Writing the transcript failed.
    #[error("transcript: {0}")]
    Io(#[from] std::io::Error),
}

/// The transcript, shared by the script and the agent.
#[derive(Clone)]
struct Transcript(Arc<Mutex<Box<dyn Write + Send>>>);

impl Transcript {
    fn line(&self, text: impl AsRef<str>) {
        let mut out = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(out, "{}", text.as_ref());
        let _ = out.flush();
    }
}

/// The plugin's end of the bridge's stdio: requests with ids, and notifications.
struct RpcClient {
    input: tokio::sync::Mutex<DuplexStream>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Value>>>,
    next_id: AtomicU64,
}

impl RpcClient {
    async fn call(&self, method: &str, params: Value) -> Result<Value, DemoError> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, tx);
        let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        {
            let mut input = self.input.lock().await;
            let written = async {
                input.write_all(line.to_string().as_bytes()).await?;
                input.write_all(b"\n").await?;
                input.flush().await
            };
            written
                .await
                .map_err(|e| DemoError::BridgeGone(e.to_string()))?;
        }
        let response = rx
            .await
            .map_err(|_| DemoError::BridgeGone("no response".into()))?;
        match response.get("error") {
            Some(error) => Err(DemoError::Rpc {
                method: method.to_owned(),
                error: error.clone(),
            }),
            None => Ok(response.get("result").cloned().unwrap_or(Value::Null)),
        }
    }
}

/// Reads the bridge's output: responses go to their callers, notifications to the agent.
async fn read_output(
    output: DuplexStream,
    client: Arc<RpcClient>,
    notifications: mpsc::UnboundedSender<Value>,
) {
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(value) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match value.get("id").and_then(Value::as_u64) {
            Some(id) => {
                let waiter = client
                    .pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&id);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(value);
                }
            }
            None => {
                let _ = notifications.send(value);
            }
        }
    }
}

/// What the agent noticed, for the script to wait on.
#[derive(Debug, Clone)]
enum Seen {
    Ready,
    Message,
    Reaction(String),
}

/// The echo agent: answers every admitted message through `send`, in the thread the bridge
/// chose; answers `/status` like OpenClaw would; notes reactions.
async fn agent(
    client: Arc<RpcClient>,
    mut notifications: mpsc::UnboundedReceiver<Value>,
    transcript: Transcript,
    seen: mpsc::UnboundedSender<Seen>,
) {
    while let Some(note) = notifications.recv().await {
        let params = &note["params"];
        match note["method"].as_str().unwrap_or_default() {
            "ready" => {
                transcript.line(format!(
                    "bridge: connected as @{} (Rocket.Chat {})",
                    params["identity"]["username"].as_str().unwrap_or("?"),
                    params["serverVersion"].as_str().unwrap_or("?")
                ));
                let _ = seen.send(Seen::Ready);
            }
            "message" => {
                let text = params["textForAgent"].as_str().unwrap_or_default();
                let reply = match params["command"]["slash"].as_str() {
                    Some("/status") => {
                        transcript.line("         → agent: command /status");
                        "Status: echo agent, model echo-1, no run in progress.".to_owned()
                    }
                    Some(slash) => {
                        transcript.line(format!("         → agent: command {slash}"));
                        format!("ok: {slash}")
                    }
                    None => {
                        transcript.line(format!(
                            "         → agent: message {text:?} in {}",
                            params["conversationId"].as_str().unwrap_or("?")
                        ));
                        format!("echo: {text}")
                    }
                };
                let _ = seen.send(Seen::Message);
                let request = json!({
                    "target": params["conversationId"],
                    "text": reply,
                    "replyThread": params["replyThread"],
                });
                if let Err(e) = client.call("send", request).await {
                    transcript.line(format!("         ! agent could not reply: {e}"));
                }
            }
            "reaction" => {
                let emoji = params["emoji"].as_str().unwrap_or_default().to_owned();
                transcript.line(format!(
                    "         → agent: reaction :{emoji}: {} by {}",
                    params["action"].as_str().unwrap_or("?"),
                    params["user"]["username"].as_str().unwrap_or("?")
                ));
                let _ = seen.send(Seen::Reaction(emoji));
            }
            "pairingRequired" => transcript.line("         → agent: pairing required"),
            _ => {}
        }
    }
}

/// The demo's counts, for the closing line and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoReport {
    /// The bridge's `stats` at the end.
    pub stats: Value,
}

/// Runs the demo, writing the transcript to `out`.
pub async fn run_demo(out: Box<dyn Write + Send>) -> Result<DemoReport, DemoError> {
    let transcript = Transcript(Arc::new(Mutex::new(out)));
    let world = DemoSim::start(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    transcript.line(format!(
        "Rocket.Chat simulator on {}: room #{ROOM}, bot @{BOT}, human @{HUMAN}",
        world.sim.base_url()
    ));
    let result = script(&world, &transcript).await;
    world.sim.shutdown().await;
    result
}

async fn script(world: &DemoSim, t: &Transcript) -> Result<DemoReport, DemoError> {
    let config = AccountConfig::from_value(world.bridge_config())?;
    let connected = crate::rocketchat::connect(config.clone()).await?;

    let (client_in, bridge_in) = tokio::io::duplex(1 << 16);
    let (bridge_out, client_out) = tokio::io::duplex(1 << 16);
    let options = BridgeOptions::new(connected.namespace);
    let bridge = tokio::spawn(async move {
        run_bridge_with(connected.channel, &config, options, bridge_in, bridge_out).await
    });
    let client = Arc::new(RpcClient {
        input: tokio::sync::Mutex::new(client_in),
        pending: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
    });
    let (note_tx, note_rx) = mpsc::unbounded_channel();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    tokio::spawn(read_output(client_out, client.clone(), note_tx));
    tokio::spawn(agent(client.clone(), note_rx, t.clone(), seen_tx));

    wait_seen(&mut seen, "the bridge to connect", |s| {
        matches!(s, Seen::Ready)
    })
    .await?;
    let (sim, room, human, bot) = (&world.sim, &world.room_id, &world.human_id, &world.bot_id);
    let mut bot_messages = 0;

    t.line("\n1. Mention gating");
    say(t, "", HUMAN, "hello everyone");
    sim.post(human, room, "hello everyone")?;
    wait_stat(&client, "skipped", "not_mentioned", 1).await?;
    t.line("         · not addressed to @bot: skipped by the bridge (not_mentioned); the agent is not called");
    say(t, "", HUMAN, "@bot hello");
    let hello = sim.post(human, room, "@bot hello")?;
    let answer = wait_bot_message(world, &mut bot_messages, "the answer to @bot hello").await?;
    say(t, "", BOT, answer["msg"].as_str().unwrap_or_default());
    let answer_id = answer["_id"].as_str().unwrap_or_default().to_owned();

    t.line("\n2. A thread reply");
    say(t, " ▸ thread", HUMAN, "@bot and in a thread?");
    sim.post_reply(human, room, &hello, "@bot and in a thread?")?;
    let in_thread = wait_bot_message(world, &mut bot_messages, "the answer in the thread").await?;
    let where_ = if in_thread["tmid"].as_str() == Some(hello.as_str()) {
        " ▸ thread"
    } else {
        " (NOT in the thread)"
    };
    say(
        t,
        where_,
        BOT,
        in_thread["msg"].as_str().unwrap_or_default(),
    );

    t.line("\n3. A reaction");
    t.line(format!(
        "  #{ROOM}  {HUMAN} reacts :thumbsup: to the bot's answer"
    ));
    sim.react(human, &answer_id, ":thumbsup:")?;
    wait_seen(
        &mut seen,
        "the reaction at the agent",
        |s| matches!(s, Seen::Reaction(e) if e == "thumbsup"),
    )
    .await?;

    t.line("\n4. Commands");
    say(t, "", HUMAN, "@bot !status");
    sim.post(human, room, "@bot !status")?;
    let status = wait_bot_message(world, &mut bot_messages, "the !status answer").await?;
    say(t, "", BOT, status["msg"].as_str().unwrap_or_default());
    say(t, "", HUMAN, "@bot !stop");
    sim.post(human, room, "@bot !stop")?;
    let refusal = wait_bot_message(world, &mut bot_messages, "the !stop refusal").await?;
    say(t, "", BOT, refusal["msg"].as_str().unwrap_or_default());
    t.line(format!(
        "         · answered by the bridge itself: @{HUMAN} is not an operator; the agent never saw it"
    ));

    let stats = client.call("stats", json!({})).await?;
    t.line(format!(
        "\nDone: {} messages admitted; skipped {}; dropped {}",
        stats["admitted"], stats["skipped"], stats["dropped"]
    ));
    client.call("shutdown", json!({})).await?;
    match tokio::time::timeout(STEP_TIMEOUT, bridge).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => return Err(DemoError::BridgeGone(e.to_string())),
        Ok(Err(e)) => return Err(DemoError::BridgeGone(e.to_string())),
        Err(_) => return Err(DemoError::Timeout("the bridge to stop")),
    }
    let _ = bot;
    Ok(DemoReport { stats })
}

fn say(t: &Transcript, place: &str, who: &str, text: &str) {
    t.line(format!("  #{ROOM}{place}  {who}: {text}"));
}

async fn wait_seen(
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    what: &'static str,
    wanted: impl Fn(&Seen) -> bool,
) -> Result<(), DemoError> {
    let wait = async {
        while let Some(s) = seen.recv().await {
            if wanted(&s) {
                return true;
            }
        }
        false
    };
    match tokio::time::timeout(STEP_TIMEOUT, wait).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(DemoError::BridgeGone("the agent stopped".into())),
        Err(_) => Err(DemoError::Timeout(what)),
    }
}

/// Waits until the bridge's `stats` shows `section.reason >= at_least`.
async fn wait_stat(
    client: &RpcClient,
    section: &str,
    reason: &str,
    at_least: u64,
) -> Result<(), DemoError> {
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        let stats = client.call("stats", json!({})).await?;
        if stats[section][reason].as_u64().unwrap_or(0) >= at_least {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(DemoError::Timeout("the skip to be counted"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for the bot's next message in the demo room (thread replies included).
async fn wait_bot_message(
    world: &DemoSim,
    seen_so_far: &mut usize,
    what: &'static str,
) -> Result<Value, DemoError> {
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        let mine: Vec<Value> = world
            .sim
            .messages(&world.room_id)
            .into_iter()
            .filter(|m| m["u"]["_id"].as_str() == Some(world.bot_id.as_str()))
            .collect();
        if let Some(next) = mine.get(*seen_so_far) {
            *seen_so_far += 1;
            return Ok(next.clone());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(DemoError::Timeout(what));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
