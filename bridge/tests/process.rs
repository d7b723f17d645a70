//! `bridge` as a real child process: `serve` against the simulator, `doctor`, `demo`.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use bridge::sim::DemoSim;
use common::serve::Serve;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bridge");
/// Generous: only there so a broken test fails instead of hanging.
const WAIT: Duration = Duration::from_secs(20);

async fn start_sim() -> DemoSim {
    DemoSim::start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

#[tokio::test]
async fn serve_receives_sends_and_goes_fatal_on_revocation() {
    let world = start_sim().await;
    let mut bridge = Serve::spawn("trace");
    bridge.write(&world.bridge_config().to_string()).await;
    let ready = bridge.notification("ready").await;
    assert_eq!(ready["identity"]["userId"], json!(world.bot_id));
    assert_eq!(ready["serverVersion"], json!("8.2"));

    // A peer's mention reaches the plugin as one `message` line.
    let posted = world
        .sim
        .post(&world.human_id, &world.room_id, "@bot hello from the sim")
        .unwrap();
    let m = bridge.notification("message").await;
    assert_eq!(m["messageId"], json!(posted));
    assert_eq!(m["textForAgent"], json!("hello from the sim"));
    assert_eq!(
        m["conversationId"],
        json!(format!("rocketchat:demo:channel:{}", world.room_id))
    );

    // A send posts to the simulator, in the thread asked for.
    let request = json!({"jsonrpc": "2.0", "id": 7, "method": "send",
        "params": {"target": m["conversationId"], "text": "reply from the bridge", "threadId": posted}});
    bridge.write(&request.to_string()).await;
    let response = bridge
        .until("the send response", |v| v["id"] == json!(7))
        .await;
    let id = response["result"]["messageIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = world
        .sim
        .message(&id)
        .expect("the message is on the server");
    assert_eq!(stored["msg"], json!("reply from the bridge"));
    assert_eq!(stored["tmid"], json!(posted));
    assert_eq!(stored["u"]["_id"], json!(world.bot_id));

    // `@username` opens (or finds) the DM with that user.
    let request = json!({"jsonrpc": "2.0", "id": 9, "method": "send",
        "params": {"target": "@alice", "text": "a word in private"}});
    bridge.write(&request.to_string()).await;
    let response = bridge
        .until("the DM send response", |v| v["id"] == json!(9))
        .await;
    let id = response["result"]["messageIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(world.sim.message(&id).unwrap()["rid"], json!(world.dm_id));
    let request = json!({"jsonrpc": "2.0", "id": 10, "method": "send",
        "params": {"target": "@nobody-here", "text": "x"}});
    bridge.write(&request.to_string()).await;
    let response = bridge
        .until("the unknown user response", |v| v["id"] == json!(10))
        .await;
    assert_eq!(
        response["error"]["data"]["kind"],
        json!("notFound"),
        "{response}"
    );

    // Revocation: fatal, and no message after it.
    world.sim.remove_pat(&world.bot_id, "bridge").unwrap();
    let fatal = bridge
        .until("connection fatal", |v| {
            v["method"] == json!("connection") && v["params"]["state"] == json!("fatal")
        })
        .await;
    assert!(fatal["params"]["reason"].is_string());
    world
        .sim
        .post(&world.human_id, &world.room_id, "@bot are you there?")
        .unwrap();
    let probe = json!({"jsonrpc": "2.0", "id": 8, "method": "probe"});
    bridge.write(&probe.to_string()).await;
    let probed = bridge
        .until("the probe response", |v| v["id"] == json!(8))
        .await;
    assert_eq!(probed["result"]["state"], json!("fatal"));
    assert_eq!(probed["result"]["tokenValid"], json!(false));

    let (code, rest, stderr) = bridge.finish().await;
    assert_eq!(code, Some(0), "EOF is a clean exit; stderr:\n{stderr}");
    assert!(
        rest.iter().all(|v| v["method"] != json!("message")),
        "no message after fatal: {rest:?}"
    );
    assert!(!stderr.is_empty(), "trace logs were written");
    assert!(
        !stderr.contains(&world.bot_token),
        "the token appears in the logs"
    );
    world.sim.shutdown().await;
}

#[tokio::test]
async fn a_bad_config_line_is_a_fatal_naming_the_field_and_exit_2() {
    let cases = [
        (
            json!({"serverUrl": "http://127.0.0.1:1", "userId": "u", "username": "bot", "authToken": "SECRET-TOKEN"}).to_string(),
            "serverUrl",
        ),
        (
            json!({"serverUrl": "https://chat.example", "userId": "u", "username": "bot", "authToken": "SECRET-TOKEN", "dmPolicy": "sometimes"}).to_string(),
            "dmPolicy",
        ),
        ("{not json, SECRET-TOKEN".to_owned(), "config"),
    ];
    for (line, field) in cases {
        let mut bridge = Serve::spawn("debug");
        bridge.write(&line).await;
        let fatal = bridge.notification("fatal").await;
        assert_eq!(fatal["field"], json!(field), "{line}");
        let (code, _, stderr) = bridge.finish().await;
        assert_eq!(code, Some(2), "{line}");
        assert!(!stderr.contains("SECRET-TOKEN"), "{stderr}");
    }
}

/// The seams issue, item 13: a misspelled key is refused (not silently ignored, leaving DMs
/// on pairing), with its path and the closest valid name, and every problem of the line is
/// reported at once.
#[tokio::test]
async fn misspelled_keys_and_every_other_problem_are_reported_at_once() {
    let line = json!({
        "serverUrl": "https://chat.example", "userId": "u", "authToken": "SECRET-TOKEN",
        "dmpolicy": "disabled",
        "rooms": {"ops": {"requireMentoin": true}},
        "historyLimit": -1,
    })
    .to_string();
    let mut bridge = Serve::spawn("debug");
    bridge.write(&line).await;
    let fatal = bridge.notification("fatal").await;
    let errors: Vec<(String, String)> = fatal["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let find = |field: &str| {
        errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{field} not reported: {errors:?}"))
    };
    assert!(find("dmpolicy").contains("`dmPolicy`"), "{errors:?}");
    assert!(
        find("rooms.ops.requireMentoin").contains("`requireMention`"),
        "{errors:?}"
    );
    assert!(find("username").contains("required"), "{errors:?}");
    find("historyLimit");
    let (code, _, stderr) = bridge.finish().await;
    assert_eq!(code, Some(2));
    assert!(!stderr.contains("SECRET-TOKEN"), "{stderr}");
}

#[tokio::test]
async fn serve_keeps_answering_while_the_server_is_unreachable() {
    // Nothing listens on this port: the backend keeps retrying its first connection (the
    // attempt counts up, the phase says it waits) and the bridge still answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut bridge = Serve::spawn("info");
    let config = json!({"serverUrl": format!("http://127.0.0.1:{port}"), "dangerouslyAllowInsecure": true,
        "userId": "u", "username": "bot", "authToken": "t"});
    bridge.write(&config.to_string()).await;
    let c = bridge.notification("connection").await;
    assert_eq!(
        c,
        json!({"state": "connecting", "attempt": 1, "phase": "opening"})
    );
    let c = bridge.notification("connection").await;
    assert_eq!(
        c,
        json!({"state": "connecting", "attempt": 2, "phase": "waiting"})
    );
    bridge
        .write(
            r#"{"jsonrpc":"2.0","id":1,"method":"send","params":{"target":"GENERAL","text":"x"}}"#,
        )
        .await;
    let r = bridge
        .until("the send response", |v| v["id"] == json!(1))
        .await;
    assert_eq!(r["error"]["data"]["kind"], json!("disconnected"));
    assert_eq!(r["error"]["data"]["retryable"], json!(true));
    bridge
        .write(r#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#)
        .await;
    let r = bridge
        .until("the shutdown response", |v| v["id"] == json!(2))
        .await;
    assert_eq!(r["result"], json!({}));
    let (code, _, _) = bridge.finish().await;
    assert_eq!(code, Some(0));
}

// ----- doctor -----

fn write_config(name: &str, config: &Value) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("bridge-doctor-{}-{name}.json", std::process::id()));
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

async fn doctor(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("doctor").args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(WAIT, cmd.output())
        .await
        .expect("doctor did not finish")
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn doctor_passes_a_good_config_and_posts_a_test_message() {
    let world = start_sim().await;
    let path = write_config("good", &world.bridge_config());
    let (code, out) = doctor(
        &[
            "--config",
            path.to_str().unwrap(),
            "--post-test-message",
            "#demo",
        ],
        &[],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("✓ version"), "{out}");
    assert!(out.contains("Rocket.Chat 8.2"), "{out}");
    assert!(out.contains("✓ token"), "{out}");
    assert!(out.contains("✓ rooms.demo"), "{out}");
    assert!(out.contains("✓ post"), "{out}");
    let posted = world.sim.messages(&world.room_id).into_iter().any(|m| {
        m["msg"]
            .as_str()
            .unwrap_or_default()
            .starts_with("bridge doctor")
    });
    assert!(posted, "the test message is on the server");
    world.sim.shutdown().await;
}

#[tokio::test]
async fn doctor_reports_a_bad_token_and_unknown_rooms() {
    let world = start_sim().await;
    // The token comes from RC_TOKEN when the file has none; this one is wrong.
    let mut config = world.bridge_config();
    config.as_object_mut().unwrap().remove("authToken");
    let path = write_config("badtoken", &config);
    let (code, out) = doctor(
        &["--config", path.to_str().unwrap()],
        &[("RC_TOKEN", "WRONG-TOKEN-XYZ")],
    )
    .await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("✗ token"), "{out}");
    assert!(
        !out.contains("WRONG-TOKEN-XYZ"),
        "the token is not printed: {out}"
    );

    let mut config = world.bridge_config();
    config["rooms"] = json!({"demo": {}, "no-such-room": {}});
    let path = write_config("rooms", &config);
    let (code, out) = doctor(&["--config", path.to_str().unwrap()], &[]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("✓ rooms.demo"), "{out}");
    assert!(out.contains("✗ rooms.no-such-room"), "{out}");
    world.sim.shutdown().await;
}

#[tokio::test]
async fn doctor_reports_an_unreachable_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let config = json!({"serverUrl": format!("http://127.0.0.1:{port}"), "dangerouslyAllowInsecure": true,
        "userId": "u", "username": "bot", "authToken": "t"});
    let path = write_config("unreachable", &config);
    let (code, out) = doctor(&["--config", path.to_str().unwrap()], &[]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("✗ server"), "{out}");
}

// ----- demo -----

#[tokio::test]
async fn demo_runs_to_completion_and_shows_each_behaviour() {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(BIN).arg("demo").output(),
    )
    .await
    .expect("the demo did not finish")
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for marker in [
        "alice: hello everyone",
        "skipped by the bridge (not_mentioned)",
        "bot: echo: hello",
        "▸ thread  bot: echo: and in a thread?",
        "agent: reaction :thumbsup: added by alice",
        "agent: command /status",
        "bot: Status:",
        "bot: !stop is not allowed for you here.",
        "Done: 3 messages admitted",
    ] {
        assert!(text.contains(marker), "missing {marker:?} in:\n{text}");
    }
}

// ----- sim -----

#[tokio::test]
async fn sim_prints_a_config_that_doctor_accepts() {
    let mut sim = Command::new(BIN)
        .args(["sim", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sim.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let config: Value = loop {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("sim printed nothing in time")
            .unwrap()
            .unwrap_or_else(|| panic!("sim output ended:\n{printed}"));
        printed.push_str(&line);
        printed.push('\n');
        let trimmed = line.trim();
        if trimmed.starts_with('{') {
            break serde_json::from_str(trimmed).unwrap();
        }
    };
    assert!(
        printed.contains("simulator listening on http://127.0.0.1:"),
        "{printed}"
    );
    assert!(printed.contains("@alice"), "{printed}");
    assert_eq!(config["username"], json!("bot"));
    let path = write_config("from-sim", &config);
    let (code, out) = doctor(&["--config", path.to_str().unwrap()], &[]).await;
    assert_eq!(code, Some(0), "{out}");
    sim.kill().await.unwrap();
}

/// The seams issue, item 15: once the account is fatal (here: refused at its first
/// connection), a send is answered with the final `unauthorized`, never a retryable
/// `disconnected` the plugin would retry forever.
#[tokio::test]
async fn after_a_refused_token_sends_are_unauthorized_and_final() {
    let world = bridge::sim::DemoSim::start(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let mut config = world.bridge_config();
    config["authToken"] = json!("not-the-token");
    let mut bridge = Serve::spawn("info");
    bridge.write(&config.to_string()).await;
    let fatal = bridge
        .until("fatal", |v| {
            v["method"] == json!("connection") && v["params"]["state"] == json!("fatal")
        })
        .await;
    assert_eq!(fatal["params"]["cause"], json!("unauthorized"), "{fatal}");
    let r = bridge
        .call(
            5,
            "send",
            json!({"target": world.room_id, "text": "anyone?"}),
        )
        .await;
    assert_eq!(r["error"]["data"]["kind"], json!("unauthorized"), "{r}");
    assert_eq!(r["error"]["data"]["retryable"], json!(false), "{r}");
    bridge.finish().await;
}
