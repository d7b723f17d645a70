//! The `rocketchat-sim` binary: seed file, the JSON line it prints, TLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::{json, Value};

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> (Child, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rocketchat-sim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    (Child(child), serde_json::from_str(&line).unwrap())
}

#[tokio::test]
async fn binary_seeds_users_rooms_and_fixed_pats() {
    let dir = std::env::temp_dir().join(format!("rcsim-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed = dir.join("seed.json");
    std::fs::write(
        &seed,
        json!({"users": [{"username": "bot", "bot": true, "pats": [{"name": "ci", "token": "fixed-token-value"}]},
                         {"username": "alice"}],
               "rooms": [{"name": "dev", "creator": "alice", "members": ["bot"]}, {"dm": ["alice", "bot"]}]})
        .to_string(),
    )
    .unwrap();
    let (_child, info) = spawn(&["--port", "0", "--seed", seed.to_str().unwrap()]);
    let base = info["baseUrl"].as_str().unwrap();
    let uid = info["seed"]["users"]["bot"]["userId"].as_str().unwrap();
    assert_eq!(
        info["seed"]["users"]["bot"]["pats"]["ci"],
        "fixed-token-value"
    );
    assert!(info["wsUrl"].as_str().unwrap().ends_with("/websocket"));
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let body = get(addr, "/api/v1/rooms.get", Some((uid, "fixed-token-value"))).await;
    assert_eq!(body["update"].as_array().unwrap().len(), 2, "{body}");
}

async fn get(addr: std::net::SocketAddr, path: &str, auth: Option<(&str, &str)>) -> Value {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .uri(path)
        .header("Host", addr.to_string());
    if let Some((u, t)) = auth {
        req = req.header("X-User-Id", u).header("X-Auth-Token", t);
    }
    let resp = sender
        .send_request(
            req.body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    use http_body_util::BodyExt;
    let raw = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&raw).unwrap()
}

#[tokio::test]
async fn library_serves_https_and_wss_with_a_given_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("rcsim-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let sim = common::start_with(rocketchat_sim::SimConfig {
        tls: Some(rocketchat_sim::TlsFiles { cert_pem, key_pem }),
        ..rocketchat_sim::SimConfig::default()
    })
    .await;
    assert!(sim.base_url().starts_with("https://"));
    assert!(sim.ws_url().starts_with("wss://"));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let resp = sender
        .send_request(
            hyper::Request::builder()
                .uri("/api/info")
                .header("Host", "localhost")
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    sim.shutdown().await;
}
