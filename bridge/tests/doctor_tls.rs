//! `doctor` against a simulator serving https with a certificate from a private CA.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use bridge::doctor::{run_doctor, Status};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rocketchat_sim::{SimConfig, Simulator, TlsFiles, UserKind};
use serde_json::json;

/// A CA and a server certificate for 127.0.0.1, as PEM files.
fn make_pki() -> (PathBuf, TlsFiles) {
    let dir = std::env::temp_dir().join(format!("bridge-doctor-tls-{}", std::process::id()));
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
    assert!(server.detail.contains("certificate"), "{}", server.detail);
    assert!(
        server.detail.contains("caFile"),
        "the fix is named: {}",
        server.detail
    );
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
