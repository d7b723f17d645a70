//! `bridge sim`: the state file, the port, the OpenClaw block.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use bridge::sim::{DemoSim, StartError};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bridge");
const ANY_PORT: &str = "127.0.0.1:0";

fn state_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bridge-sim-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("nested").join("sim-state.json")
}

#[tokio::test]
async fn two_starts_with_the_same_state_file_keep_the_users_and_tokens() {
    let path = state_path("restart");
    let bind: SocketAddr = ANY_PORT.parse().unwrap();
    let (first, restored) = DemoSim::start_with_state(bind, Some(&path)).await.unwrap();
    assert!(!restored.from_file, "no file yet: seeded afresh");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the file holds tokens");
    }
    let saved = first.state();
    first.sim.shutdown().await;

    let (second, restored) = DemoSim::start_with_state(bind, Some(&path)).await.unwrap();
    assert!(restored.from_file);
    assert_eq!(second.bot_token, saved.bot.token, "the bot's token is kept");
    assert_eq!(
        second.human_token, saved.human.token,
        "the human's token is kept"
    );
    // The tokens work on the new server.
    let report = bridge::doctor::run_doctor(second.bridge_config(), Some("#demo")).await;
    assert!(report.ok(), "{}", report.render());
    // The simulator draws ids afresh: every id that differs is reported, and the file
    // now holds the current world.
    let now = second.state();
    let changed: Vec<&str> = restored
        .changed_ids
        .iter()
        .map(|(w, _, _)| w.as_str())
        .collect();
    assert_eq!(changed.contains(&"@bot userId"), saved.bot.id != now.bot.id);
    assert_eq!(changed.contains(&"#demo id"), saved.room_id != now.room_id);
    let on_disk: bridge::sim::State =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(on_disk, now);
    second.sim.shutdown().await;
}

#[tokio::test]
async fn a_bad_state_file_is_refused_without_quoting_it() {
    let path = state_path("bad");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, r#"{"version": 1, "bot": "SECRET-LOOKING"}"#).unwrap();
    let err = DemoSim::start_with_state(ANY_PORT.parse().unwrap(), Some(&path))
        .await
        .unwrap_err();
    assert!(matches!(err, StartError::State { .. }), "{err}");
    assert!(err.to_string().contains("delete it"), "{err}");
    assert!(!err.to_string().contains("SECRET-LOOKING"), "{err}");
}

#[tokio::test]
async fn a_busy_port_names_the_flag_and_exits_1() {
    let taken = std::net::TcpListener::bind(ANY_PORT).unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(BIN)
            .args(["sim", "--port", &port.to_string()])
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        format!(
            "bridge sim: port {port} is in use: pass --port <another port> (or --port 0 for any free port)"
        )
    );
    drop(taken);
}

#[tokio::test]
async fn the_default_port_is_3210() {
    let out = Command::new(BIN)
        .args(["sim", "--help"])
        .output()
        .await
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("[default: 3210]"), "{help}");
}

#[tokio::test]
async fn the_printed_openclaw_block_is_json5_that_doctor_accepts() {
    let world = DemoSim::start(ANY_PORT.parse().unwrap()).await.unwrap();
    let described = world.describe();
    let block = world.openclaw_block(2);
    assert!(described.contains(&block), "{described}");
    let root = bridge::openclaw::parse(&format!("{{\n{block}}}")).unwrap();
    let channel = &root["channels"]["rocketchat"];
    assert_eq!(channel["userId"], serde_json::json!(world.bot_id));
    assert_eq!(channel["dangerouslyAllowInsecure"], serde_json::json!(true));
    assert!(channel["rooms"]["demo"].is_object());
    assert_eq!(channel, &world.openclaw_channel(), "every key is printed");
    let accounts = bridge::openclaw::accounts(&root, None, &|_| None);
    assert_eq!(accounts.len(), 1);
    let report = bridge::doctor::run_account(&accounts[0], None).await;
    assert!(report.ok(), "{}", report.render());
    world.sim.shutdown().await;
}
