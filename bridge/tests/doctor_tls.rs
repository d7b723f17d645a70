//! `doctor` and TLS: a simulator serving https with a certificate from a private CA, and
//! an `https://` URL against the simulator's plain-http port.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use bridge::doctor::{run_doctor, Status};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rocketchat_sim::{SimConfig, Simulator, TlsFiles, UserKind};
use serde_json::json;

/// A CA and a server certificate for 127.0.0.1, as PEM files.
fn make_pki() -> (PathBuf, TlsFiles) {
    // One directory per call: tests run in parallel and each has its own CA.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("bridge-doctor-tls-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
    let ca_pem = dir.join("ca.pem");
    let cert_pem = dir.join("server.pem");
    let key_pem = dir.join("server-key.pem");
    std::fs::write(&ca_pem, ca_cert.pem()).unwrap();
    std::fs::write(&cert_pem, server_cert.pem()).unwrap();
    std::fs::write(&key_pem, server_key.serialize_pem()).unwrap();
    (ca_pem, TlsFiles { cert_pem, key_pem })
}

#[tokio::test]
async fn an_unknown_ca_fails_the_server_check_and_a_configured_ca_passes() {
    let (ca_pem, tls) = make_pki();
    let sim = Simulator::start(SimConfig {
        tls: Some(tls),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert!(sim.base_url().starts_with("https://"));
    let bot = sim.create_user("bot", UserKind::Bot).unwrap();
    let token = sim.create_pat(&bot, "doctor").unwrap();
    let config = json!({"serverUrl": sim.base_url(), "userId": bot, "username": "bot",
        "authToken": token, "groupPolicy": "open"});

    let report = run_doctor(config.clone(), None).await;
    let server = report.checks.iter().find(|c| c.name == "server").unwrap();
    assert_eq!(server.status, Status::Fail, "{}", report.render());
    let hint = server.hint.as_deref().unwrap_or_default();
    assert!(hint.contains("certificate is not trusted"), "{hint}");
    assert!(hint.contains("caFile"), "the fix is named: {hint}");
    assert!(!report.ok());

    let mut trusted = config;
    trusted["caFile"] = json!(ca_pem);
    let report = run_doctor(trusted, None).await;
    assert!(report.ok(), "{}", report.render());
    let server = report.checks.iter().find(|c| c.name == "server").unwrap();
    assert_eq!(server.status, Status::Pass);
    assert!(
        server.detail.contains("certificate verified"),
        "{}",
        server.detail
    );
    assert!(
        !report.render().contains(&token),
        "the token is never printed"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn https_against_a_plain_http_server_gets_the_hint_not_a_rustls_message() {
    let world = bridge::sim::DemoSim::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut config = world.bridge_config();
    config["serverUrl"] = json!(world.sim.base_url().replace("http://", "https://"));
    config
        .as_object_mut()
        .unwrap()
        .remove("dangerouslyAllowInsecure");
    let report = run_doctor(config, None).await;
    assert!(!report.ok());
    let server = report.check("server").unwrap();
    assert_eq!(server.status, Status::Fail, "{}", report.render());
    assert_eq!(
        server.hint.as_deref(),
        Some(bridge::diagnose::PLAIN_HTTP_HINT),
        "{}",
        report.render()
    );
    assert!(report
        .render()
        .contains("→ the server answered in plain HTTP"));
    assert!(!report.render().contains(&world.bot_token));
    world.sim.shutdown().await;
}

#[tokio::test]
async fn the_tls_line_comes_from_the_configuration() {
    let (ca_pem, tls) = make_pki();
    let sim = Simulator::start(SimConfig {
        tls: Some(tls),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let bot = sim.create_user("bot", UserKind::Bot).unwrap();
    let token = sim.create_pat(&bot, "doctor").unwrap();
    let config = json!({"serverUrl": sim.base_url(), "userId": bot, "username": "bot",
        "authToken": token, "groupPolicy": "open"});
    let mut insecure = config.clone();
    insecure["dangerouslyAllowInsecure"] = json!(true);
    let report = run_doctor(insecure, None).await;
    let server = report.check("server").unwrap();
    assert_eq!(server.status, Status::Warn, "{}", report.render());
    assert!(server.detail.contains("NOT verified"), "{}", server.detail);

    let mut trusted = config;
    trusted["caFile"] = json!(ca_pem);
    let report = run_doctor(trusted, None).await;
    let server = report.check("server").unwrap();
    assert!(server.detail.contains("and caFile"), "{}", server.detail);
    sim.shutdown().await;
}
