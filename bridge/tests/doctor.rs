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
