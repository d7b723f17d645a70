//! `bridge doctor` on the backend's public API: the checks that need a particular world.
#![allow(clippy::unwrap_used)]

use bridge::doctor::{run_doctor, Status};
use rocketchat_sim::{SimConfig, Simulator, UserKind};
use serde_json::json;

#[tokio::test]
async fn a_bot_without_the_bot_role_is_warned_about() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let human = sim.create_user("helper", UserKind::Human).unwrap();
    let token = sim.create_pat(&human, "doctor").unwrap();
    let config = json!({"serverUrl": sim.base_url(), "dangerouslyAllowInsecure": true,
        "userId": human, "username": "helper", "authToken": token, "groupPolicy": "open"});
    let report = run_doctor(config, None).await;
    assert!(report.ok(), "a warning, not a failure: {}", report.render());
    let roles = report.check("roles").unwrap();
    assert_eq!(roles.status, Status::Warn);
    assert!(roles.detail.contains("no bot role"), "{}", roles.detail);
    assert!(roles.hint.is_some());
    sim.shutdown().await;
}

// ----- --openclaw-config -----

const BIN: &str = env!("CARGO_BIN_EXE_bridge");

fn temp_file(name: &str, content: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bridge-doctor-oc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// `bridge doctor <args>` with `env` set; (exit code, stdout, stderr).
async fn doctor(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("doctor")
        .args(args)
        .env("RUST_LOG", "debug")
        .env_remove("ROCKETCHAT_AUTH_TOKEN")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), cmd.output())
        .await
        .expect("doctor did not finish")
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn account<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["accountId"] == json!(id))
        .unwrap_or_else(|| panic!("no account {id}: {report}"))
}

fn check<'a>(account: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    account["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == json!(name))
        .unwrap_or_else(|| panic!("no check {name}: {account}"))
}

#[tokio::test]
async fn the_openclaw_config_is_read_with_accounts_and_secret_references_and_every_error_at_once() {
    let world = bridge::sim::DemoSim::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let token_file = temp_file("bot.token", &format!("{}\n", world.bot_token));
    let config = format!(
        r#"{{
  // OpenClaw's own config: JSON5, with comments and trailing commas.
  channels: {{
    rocketchat: {{
      serverUrl: "{base}",
      dangerouslyAllowInsecure: true,
      username: "bot",
      bridgePath: "/opt/bridge", // plugin-only: not a bridge key
      groupPolicy: "allowlist",
      rooms: {{ demo: {{}} }},
      accounts: {{
        main: {{ userId: "{bot}", authToken: {{ source: "env", provider: "default", id: "RC_DOCTOR_TOKEN" }} }},
        filed: {{ userId: "{bot}", authToken: {{ source: "file", provider: "tokens", id: "value" }} }},
        broken: {{
          userId: "{bot}",
          authToken: {{ source: "env", id: "RC_DOCTOR_MISSING" }},
          dmPolicy: "sometimes",
          historyLimit: -1,
        }},
        bare: {{ userId: "{bot}", serverUrl: null, username: null }},
      }},
    }},
  }},
  secrets: {{ providers: {{ tokens: {{ source: "file", path: "{file}", mode: "singleValue" }} }} }},
}}"#,
        base = world.sim.base_url(),
        bot = world.bot_id,
        file = token_file.display(),
    );
    let path = temp_file("openclaw.json", &config);
    let path = path.to_str().unwrap();
    let env = [("RC_DOCTOR_TOKEN", world.bot_token.as_str())];

    let (code, out, err) = doctor(&["--openclaw-config", path, "--json"], &env).await;
    assert_eq!(code, Some(1), "one account is bad: {out}\n{err}");
    assert!(!out.contains(&world.bot_token) && !err.contains(&world.bot_token));
    assert_eq!(out.lines().count(), 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], json!(false));
    for good in ["main", "filed"] {
        let a = account(&report, good);
        assert_eq!(a["ok"], json!(true), "{a}");
        assert_eq!(check(a, "token")["level"], json!("ok"), "{a}");
        assert_eq!(check(a, "rooms.demo")["level"], json!("ok"), "{a}");
    }
    assert!(check(account(&report, "main"), "authToken")["detail"]
        .as_str()
        .unwrap()
        .contains("RC_DOCTOR_TOKEN"));
    assert!(check(account(&report, "filed"), "authToken")["detail"]
        .as_str()
        .unwrap()
        .contains("bot.token"));

    // Every problem of the bad account, at once; the missing variable is named.
    let broken = account(&report, "broken");
    assert_eq!(broken["ok"], json!(false));
    let token = check(broken, "authToken");
    assert_eq!(token["level"], json!("error"));
    assert!(
        token["detail"]
            .as_str()
            .unwrap()
            .contains("RC_DOCTOR_MISSING"),
        "{token}"
    );
    assert!(token["hint"].is_string());
    assert_eq!(check(broken, "dmPolicy")["level"], json!("error"));
    assert_eq!(check(broken, "historyLimit")["level"], json!("error"));
    // A missing key names the key and where it goes.
    let bare = account(&report, "bare");
    for key in ["serverUrl", "username", "authToken"] {
        let c = check(bare, key);
        assert_eq!(c["level"], json!("error"), "{c}");
        assert!(
            c["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("channels.rocketchat.accounts.bare.{key}")),
            "{c}"
        );
    }

    // One account only; and the text form names the account.
    let (code, out, _) = doctor(&["--openclaw-config", path, "--account", "main"], &env).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("(account main)"), "{out}");
    assert!(!out.contains("account broken"), "{out}");
    assert!(!out.contains(&world.bot_token));
    world.sim.shutdown().await;
}

#[tokio::test]
async fn an_unreadable_openclaw_config_exits_2() {
    let (code, out, err) = doctor(
        &["--openclaw-config", "/nonexistent/openclaw.json", "--json"],
        &[],
    )
    .await;
    assert_eq!(code, Some(2), "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["ok"], json!(false));
    assert!(report["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cannot read"));

    let path = temp_file(
        "broken.json5",
        "{ channels: { authToken: 'SECRET-IN-FILE' oops } }",
    );
    let (code, _, err) = doctor(&["--openclaw-config", path.to_str().unwrap()], &[]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("line 1"), "{err}");
    assert!(!err.contains("SECRET-IN-FILE"), "{err}");
}
