//! Provisioning against the simulator (in-process, on 127.0.0.1:0) and against small
//! scripted servers for the failures the simulator cannot produce (a 7.x server, a refused
//! 2FA code).

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rc_provision::http::{Api, Auth, ClientOptions};
use rc_provision::{provision, ProvisionError, Settings};
use rocketchat_sim::{SimConfig, SimHandle, Simulator, TlsFiles, UserKind};
use serde_json::{json, Value};

/// The simulator's admin (`SimConfig::default().admin`).
const ADMIN: (&str, &str) = ("admin", "admin");

/// A stock simulator, except that the 2FA "remember" window is zero so that every PAT call
/// really needs the `x-2fa-*` headers.
async fn sim() -> SimHandle {
    let config = SimConfig {
        two_factor_remember: Duration::ZERO,
        ..SimConfig::default()
    };
    Simulator::start(config).await.unwrap()
}

/// Like [`sim`], with the REST rate limiter off (as `deploy/docker-compose.yml` and
/// `scripts/live-conformance.sh` run it), for the tests that log in more than ten times.
async fn sim_unlimited() -> SimHandle {
    let config = SimConfig {
        two_factor_remember: Duration::ZERO,
        rest_rate_limit: None,
        ..SimConfig::default()
    };
    Simulator::start(config).await.unwrap()
}

fn settings(url: &str, password: &str) -> Settings {
    let mut s = Settings::new(url, ADMIN.0, password);
    s.client.insecure = true;
    s.client.timeout = Duration::from_secs(10);
    s
}

/// `GET /api/v1/me` as `auth`: the HTTP status.
async fn me_status(url: &str, user_id: &str, token: &str) -> u16 {
    let api = Api::new(&ClientOptions {
        url: url.into(),
        ca_file: None,
        insecure: true,
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    let auth = Auth {
        user_id: user_id.into(),
        token: token.into(),
    };
    api.get("/api/v1/me", &[], Some(&auth))
        .await
        .unwrap()
        .status
        .as_u16()
}

/// `GET <path>?<query>` as `auth`: the reply body, asserting success.
async fn get_ok(
    url: &str,
    path: &str,
    query: &[(&str, &str)],
    user_id: &str,
    token: &str,
) -> Value {
    let api = Api::new(&ClientOptions {
        url: url.into(),
        ca_file: None,
        insecure: true,
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    let auth = Auth {
        user_id: user_id.into(),
        token: token.into(),
    };
    let reply = api.get(path, query, Some(&auth)).await.unwrap();
    assert!(reply.ok(), "{path}: {:?}", reply.body);
    reply.body
}

/// `POST /api/v1/login` with a password: the HTTP status.
async fn login_status(url: &str, user: &str, password: &str) -> u16 {
    let api = Api::new(&ClientOptions {
        url: url.into(),
        ca_file: None,
        insecure: true,
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    api.post(
        "/api/v1/login",
        &json!({"user": user, "password": password}),
        None,
        &[],
    )
    .await
    .unwrap()
    .status
    .as_u16()
}

#[tokio::test]
async fn fresh_run_creates_everything_and_a_second_run_reuses_it() {
    let sim = sim().await;
    let url = sim.base_url();
    let mut s = settings(&url, ADMIN.1);
    s.bots = 2;

    let first = provision(&s).await.unwrap();
    assert_eq!(first.server_version, "8.2.0");
    assert!(first.bots.iter().all(|b| b.created && !b.replaced_token));
    assert!(first.peer.created);
    assert!(first.public_room.created && first.private_room.created);
    assert_eq!(first.bots[0].username, "conformance-bot");
    assert_eq!(first.bots[1].username, "conformance-bot2");
    assert_eq!(
        sim.user_id("conformance-bot").as_deref(),
        Some(first.bots[0].user_id.as_str())
    );
    assert_eq!(
        sim.user_id("conformance-peer").as_deref(),
        Some(first.peer.user_id.as_str())
    );

    // The bot has the bot and user roles, and its PAT works.
    let bot = &first.bots[0];
    let me = get_ok(&url, "/api/v1/me", &[], &bot.user_id, &bot.token).await;
    let roles: Vec<&str> = me["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        roles.contains(&"bot") && roles.contains(&"user"),
        "{roles:?}"
    );

    // Every bot and the peer are members of both rooms (private groups are only visible
    // to members), and the DM is between the peer and the bot.
    for user in first.bots.iter().chain(std::iter::once(&first.peer)) {
        for (path, id) in [
            ("/api/v1/channels.info", &first.public_room.id),
            ("/api/v1/groups.info", &first.private_room.id),
        ] {
            get_ok(&url, path, &[("roomId", id)], &user.user_id, &user.token).await;
        }
    }
    let dm = get_ok(
        &url,
        "/api/v1/rooms.info",
        &[("roomId", &first.dms[0].id)],
        &bot.user_id,
        &bot.token,
    )
    .await;
    assert_eq!(dm["room"]["t"], "d");
    assert_ne!(first.dms[0].id, first.dms[1].id);

    let second = provision(&s).await.unwrap();
    // Same users, rooms and DMs: nothing duplicated. The password reset (users.update)
    // removed the old PAT with every other token, so the PAT is made anew, not replaced.
    for (a, b) in first.bots.iter().zip(&second.bots) {
        assert_eq!(a.user_id, b.user_id);
        assert!(!b.created && b.password_reset && !b.replaced_token, "{b:?}");
        assert_ne!(a.token, b.token, "the PAT is regenerated");
    }
    assert_eq!(first.peer.user_id, second.peer.user_id);
    assert!(!second.peer.created && second.peer.password_reset);
    assert!(first.peer.created && !first.peer.password_reset);
    assert_eq!(first.public_room.id, second.public_room.id);
    assert_eq!(first.private_room.id, second.private_room.id);
    assert!(!second.public_room.created && !second.private_room.created);
    assert_eq!(first.dms, second.dms);

    // The replaced PAT is revoked, the new one works.
    assert_eq!(
        me_status(&url, &first.peer.user_id, &first.peer.token).await,
        401
    );
    assert_eq!(
        me_status(&url, &second.peer.user_id, &second.peer.token).await,
        200
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn every_run_sets_new_random_passwords_and_both_logins_work() {
    let sim = sim_unlimited().await;
    let url = sim.base_url();
    let s = settings(&url, ADMIN.1);

    let first = provision(&s).await.unwrap();
    let users = |p: &rc_provision::Provisioned| -> Vec<(String, String)> {
        p.bots
            .iter()
            .chain(std::iter::once(&p.peer))
            .map(|u| (u.username.clone(), u.password.clone()))
            .collect()
    };
    let one = users(&first);
    for (user, password) in &one {
        assert_eq!(login_status(&url, user, password).await, 200, "{user}");
    }

    let second = provision(&s).await.unwrap();
    let two = users(&second);
    for ((user, old), (_, new)) in one.iter().zip(&two) {
        assert_ne!(old, new, "{user}: the second run kept the password");
        // The admin set the new password with users.update: it logs in, the old one not.
        assert_eq!(login_status(&url, user, new).await, 200, "{user}");
        assert_eq!(login_status(&url, user, old).await, 401, "{user}");
    }
    // Different users never share a password.
    assert_ne!(two[0].1, two[1].1);
    sim.shutdown().await;
}

#[tokio::test]
async fn passwords_do_not_depend_on_the_admin_password() {
    // Two servers with the same admin password and the same user names: a derived password
    // would come out the same both times; a random one does not.
    let (a, b) = (sim().await, sim().await);
    let pa = provision(&settings(&a.base_url(), ADMIN.1)).await.unwrap();
    let pb = provision(&settings(&b.base_url(), ADMIN.1)).await.unwrap();
    assert_eq!(pa.peer.username, pb.peer.username);
    assert_ne!(pa.peer.password, pb.peer.password);
    assert_ne!(pa.bots[0].password, pb.bots[0].password);
    for p in [&pa, &pb] {
        for u in p.bots.iter().chain(std::iter::once(&p.peer)) {
            assert!(!u.password.contains(ADMIN.1), "{u:?}");
            assert_ne!(
                u.password,
                rc_provision::provision::two_factor_code(ADMIN.1),
                "{u:?}"
            );
        }
    }
    a.shutdown().await;
    b.shutdown().await;
}

/// Runs the binary against `url` with `--passwords-file path`; returns its stdout.
async fn run_binary_with_passwords_file(url: &str, path: &std::path::Path) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_rc-provision"))
        .args(["--url", url, "--insecure", "--passwords-file"])
        .arg(path)
        .env("RC_ADMIN_PASSWORD", ADMIN.1)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    // The passwords go to the file only, never to stdout or stderr.
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let (_, password) = line.split_once(' ').unwrap();
        assert!(!stdout.contains(password), "password on stdout");
        assert!(!stderr.contains(password), "password on stderr: {stderr}");
    }
    stdout
}

/// The `username password` lines of the passwords file, checking its mode.
fn read_passwords(path: &std::path::Path) -> Vec<(String, String)> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let (u, p) = l.split_once(' ').unwrap();
            (u.to_owned(), p.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn the_passwords_file_holds_the_current_passwords_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let sim = sim_unlimited().await;
    let url = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwords");

    run_binary_with_passwords_file(&url, &path).await;
    let first = read_passwords(&path);
    let names: Vec<&str> = first.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(names, ["conformance-bot", "conformance-peer"]);
    for (user, password) in &first {
        assert_eq!(login_status(&url, user, password).await, 200, "{user}");
    }

    // Someone loosened the file's mode in between: the second run makes it private again.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    run_binary_with_passwords_file(&url, &path).await;
    let second = read_passwords(&path);
    for ((user, old), (user2, new)) in first.iter().zip(&second) {
        assert_eq!(user, user2);
        assert_ne!(old, new, "{user}");
        assert_eq!(login_status(&url, user, new).await, 200, "{user}");
        assert_eq!(login_status(&url, user, old).await, 401, "{user}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn an_admin_that_may_not_set_passwords_is_a_clear_error() {
    let sim = sim().await;
    let url = sim.base_url();
    let s = settings(&url, ADMIN.1);
    let first = provision(&s).await.unwrap();

    // Without edit-other-user-password, users.update succeeds and sets nothing (saveUser.ts).
    sim.set_permission("edit-other-user-password", &[]).unwrap();
    let err = provision(&s).await.unwrap_err();
    assert!(
        matches!(err, ProvisionError::PasswordNotSet { ref username, .. } if username == "conformance-bot"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("edit-other-user-password"),
        "{err}"
    );
    assert_eq!(err.exit_code(), 6);
    assert_eq!(
        login_status(&url, "conformance-bot", &first.bots[0].password).await,
        200,
        "the password stayed"
    );

    // Without edit-other-user-info, users.update is refused outright.
    sim.set_permission("edit-other-user-info", &[]).unwrap();
    let err = provision(&s).await.unwrap_err();
    assert!(
        matches!(err, ProvisionError::NotAdmin { ref call, .. } if call.starts_with("users.update")),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), 5);
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_admin_password_is_a_clear_error() {
    let sim = sim().await;
    let err = provision(&settings(&sim.base_url(), "not-the-password"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProvisionError::AdminLoginRefused { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "admin login refused for \"admin\": wrong username or password"
    );
    assert_eq!(err.exit_code(), 5);
    assert_eq!(sim.user_id("conformance-bot"), None, "nothing was created");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_binary_prints_one_line_and_exits_non_zero_on_wrong_credentials() {
    let sim = sim().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_rc-provision"))
        .args(["--url", &sim.base_url(), "--insecure"])
        .env("RC_ADMIN_PASSWORD", "wrong")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(5));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("admin login refused"), "{stderr}");
    assert!(
        !stderr.contains("wrong\n") && !stderr.contains("\"wrong\""),
        "password echoed: {stderr}"
    );
    assert!(output.stdout.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn the_binary_reads_the_password_from_stdin_and_prints_eval_able_exports() {
    use tokio::io::AsyncWriteExt;
    let sim = sim().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rc-provision"))
        .args(["--url", &sim.base_url(), "--insecure"])
        .env_remove("RC_ADMIN_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"admin\n").await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bot_id = sim.user_id("conformance-bot").unwrap();
    assert!(
        stdout.contains(&format!("export RC_TEST_BOT_USER_ID='{bot_id}'")),
        "{stdout}"
    );
    assert!(
        stdout.contains("export RC_TEST_ALLOW_INSECURE='1'"),
        "{stdout}"
    );
    assert!(stdout.contains(r#"id: "RC_TEST_BOT_TOKEN""#), "{stdout}");
    // The secrets go to stdout only (for eval), never to stderr.
    let stderr = String::from_utf8(output.stderr).unwrap();
    let token_line = stdout
        .lines()
        .find(|l| l.starts_with("export RC_TEST_BOT_TOKEN="))
        .unwrap();
    let token = token_line
        .trim_start_matches("export RC_TEST_BOT_TOKEN=")
        .trim_matches('\'');
    assert!(!stderr.contains(token), "{stderr}");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_existing_user_this_tool_did_not_create_is_left_alone() {
    let sim = sim().await;
    let url = sim.base_url();
    // Someone else's user under our name (the control API gives it another e-mail address
    // and its username as password): its password must not be reset.
    sim.create_user("conformance-peer", UserKind::Human)
        .unwrap();
    let err = provision(&settings(&url, ADMIN.1)).await.unwrap_err();
    assert!(
        matches!(err, ProvisionError::NotProvisionedUser { ref username } if username == "conformance-peer"),
        "{err:?}"
    );
    assert!(err.to_string().contains("--prefix"), "{err}");
    assert_eq!(err.exit_code(), 6);
    assert_eq!(
        login_status(&url, "conformance-peer", "conformance-peer").await,
        200,
        "its password was changed"
    );
    // Every user is looked up before anything changes: not even the bot was created.
    assert_eq!(sim.user_id("conformance-bot"), None);
    sim.shutdown().await;
}

#[tokio::test]
async fn plain_http_without_insecure_is_refused_before_any_request() {
    let mut s = Settings::new("http://127.0.0.1:9", "admin", "pw");
    s.client.insecure = false;
    let err = provision(&s).await.unwrap_err();
    assert!(matches!(err, ProvisionError::Usage(_)), "{err:?}");
    assert!(err.to_string().contains("--insecure"), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = provision(&settings(&url, "pw")).await.unwrap_err();
    assert!(matches!(err, ProvisionError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!("cannot reach {url}")),
        "{err}"
    );
    assert_eq!(err.exit_code(), 3);
}

/// A TLS simulator with a fresh self-signed certificate for 127.0.0.1; returns the CA file.
async fn tls_sim(dir: &std::path::Path) -> (SimHandle, std::path::PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_pem = dir.join("cert.pem");
    let key_pem = dir.join("key.pem");
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let config = SimConfig {
        tls: Some(TlsFiles {
            cert_pem: cert_pem.clone(),
            key_pem,
        }),
        ..SimConfig::default()
    };
    (Simulator::start(config).await.unwrap(), cert_pem)
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error_and_ca_file_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, ca) = tls_sim(dir.path()).await;
    let url = sim.base_url();
    assert!(url.starts_with("https://"));

    let mut s = settings(&url, ADMIN.1);
    s.client.insecure = false;
    let err = provision(&s).await.unwrap_err();
    assert!(matches!(err, ProvisionError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("--ca-file"), "{err}");
    assert_eq!(err.exit_code(), 3);

    s.client.ca_file = Some(ca.clone());
    let done = provision(&s).await.unwrap();
    assert_eq!(done.ca_file.as_deref(), Some(ca.as_path()));
    let env = rc_provision::output::env_vars(&done);
    assert!(env
        .iter()
        .any(|(k, v)| k == "RC_TEST_CA_FILE" && v == &ca.display().to_string()));
    assert!(!env.iter().any(|(k, _)| k == "RC_TEST_ALLOW_INSECURE"));
    sim.shutdown().await;
}

// ---------------------------------------------------------------------- scripted servers

type Routes = HashMap<&'static str, (u16, Value)>;

/// A server that answers each path with a fixed status and JSON body (404 otherwise). A
/// key `"<path> <user>"` answers only requests whose JSON body has that `user`.
async fn scripted(routes: Routes) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let routes = routes.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let routes = routes.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let sent = req.into_body().collect().await.unwrap().to_bytes();
                        // A login is routed by its user too: "<path> <user>" first.
                        let user = serde_json::from_slice::<Value>(&sent)
                            .ok()
                            .and_then(|v| v.get("user").and_then(Value::as_str).map(str::to_owned));
                        let by_user = user.map(|u| format!("{path} {u}"));
                        let (status, body) = by_user
                            .and_then(|key| routes.get(key.as_str()).cloned())
                            .or_else(|| routes.get(path.as_str()).cloned())
                            .unwrap_or((
                                404,
                                json!({"success": false, "error": "Resource not found"}),
                            ));
                        let response = Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(body.to_string())))
                            .unwrap();
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_7x_server_is_refused_with_a_clear_error() {
    let url = scripted(HashMap::from([(
        "/api/info",
        (200, json!({"version": "7.6", "success": true})),
    )]))
    .await;
    let err = provision(&settings(&url, "pw")).await.unwrap_err();
    assert!(
        matches!(err, ProvisionError::NotVersion8 { ref version } if version == "7.6"),
        "{err:?}"
    );
    assert!(err.to_string().contains("not 8.x"), "{err}");
    assert_eq!(err.exit_code(), 4);
}

#[tokio::test]
async fn something_that_is_not_rocket_chat_is_a_clear_error() {
    let url = scripted(HashMap::new()).await;
    let err = provision(&settings(&url, "pw")).await.unwrap_err();
    assert!(err.to_string().contains("is "), "{err}");
    assert!(err.to_string().contains("a Rocket.Chat server?"), "{err}");
}

/// A server that takes the logins but refuses the 2FA password code, the way 8.x does when
/// the user has TOTP or e-mail 2FA (or the password fallback is off).
fn two_factor_routes() -> Routes {
    HashMap::from([
        (
            "/api/info",
            (200, json!({"version": "8.2", "success": true})),
        ),
        (
            "/api/v1/login",
            (
                200,
                json!({"status": "success", "data": {"userId": "U1", "authToken": "login-token"}}),
            ),
        ),
        (
            "/api/v1/users.info",
            (400, json!({"success": false, "error": "User not found."})),
        ),
        (
            "/api/v1/users.create",
            (200, json!({"user": {"_id": "U1"}, "success": true})),
        ),
        (
            "/api/v1/users.generatePersonalAccessToken",
            (
                400,
                json!({"success": false, "error": "TOTP Invalid [totp-invalid]", "errorType": "totp-invalid",
                       "details": {"method": "password"}}),
            ),
        ),
    ])
}

#[tokio::test]
async fn a_refused_two_factor_code_is_a_clear_error() {
    let url = scripted(two_factor_routes()).await;
    let err = provision(&settings(&url, "pw")).await.unwrap_err();
    assert!(
        matches!(err, ProvisionError::TwoFactorRefused { ref detail, .. } if detail == "totp-invalid"),
        "{err:?}"
    );
    assert!(err.to_string().contains("two-factor"), "{err}");
    assert_eq!(err.exit_code(), 6);
}

#[tokio::test]
async fn an_admin_with_totp_is_a_clear_error() {
    let mut routes = two_factor_routes();
    routes.insert(
        "/api/v1/login",
        (
            401,
            json!({"status": "error", "error": "totp-required", "message": "TOTP Required",
                   "details": {"method": "totp"}}),
        ),
    );
    let url = scripted(routes).await;
    let err = provision(&settings(&url, "pw")).await.unwrap_err();
    assert!(
        matches!(err, ProvisionError::AdminTwoFactor { .. }),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), 5);
}

#[tokio::test]
async fn a_user_login_that_needs_a_code_is_a_two_factor_error() {
    // 8.x with 2FA on opts new users into e-mail 2FA: their password login asks for a code.
    let mut routes = two_factor_routes();
    routes.insert(
        "/api/v1/login conformance-bot",
        (
            401,
            json!({"status": "error", "error": "totp-required", "message": "TOTP Required",
                   "details": {"method": "email"}}),
        ),
    );
    let url = scripted(routes).await;
    let err = provision(&settings(&url, "pw")).await.unwrap_err();
    assert!(
        matches!(err, ProvisionError::TwoFactorRefused { ref call, ref username, .. }
            if call == "login" && username == "conformance-bot"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("Accounts_TwoFactorAuthentication_Enabled=false"),
        "{err}"
    );
    assert_eq!(err.exit_code(), 6);
}
