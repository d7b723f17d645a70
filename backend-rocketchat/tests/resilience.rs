//! The backend against the simulator: receiving, reconnect + catch-up, deaf sockets,
//! revocation, re-validation, rate limits, idempotent sends, allowlists, shutdown.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use backend_rocketchat::{RocketChatChannel, RoomEntry};
use channel_api::{
    AccountId, Channel, ChannelExt, ConnectionState, Error, Event, EventStream, Phase, RoomId,
    RoomKind,
};
use rocketchat_sim::RateRule;

const WAIT: Duration = Duration::from_secs(20);

/// Reads events until one matches; returns it and everything read before it.
async fn until(
    events: &mut EventStream,
    what: &str,
    wanted: impl Fn(&Event) -> bool,
) -> (Event, Vec<Event>) {
    let mut before = Vec::new();
    let found = tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Some(e) if wanted(&e) => return e,
                Some(e) => before.push(e),
                None => panic!("stream ended while waiting for {what}; saw {before:?}"),
            }
        }
    })
    .await;
    match found {
        Ok(e) => (e, before),
        Err(_) => panic!("timed out waiting for {what}; saw {before:?}"),
    }
}

fn created_text(e: &Event) -> Option<&str> {
    match e {
        Event::MessageCreated { message } => Some(message.text.as_str()),
        _ => None,
    }
}

fn is_created(text: &'static str) -> impl Fn(&Event) -> bool {
    move |e| created_text(e) == Some(text)
}

fn is_state(pred: impl Fn(&ConnectionState) -> bool) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::ConnectionStateChanged { state } if pred(state))
}

async fn connect(world: &support::World) -> (RocketChatChannel, EventStream) {
    connect_with(world.config()).await
}

async fn connect_with(
    config: backend_rocketchat::RocketChatConfig,
) -> (RocketChatChannel, EventStream) {
    let channel = RocketChatChannel::connect(config, AccountId::new("default"))
        .await
        .unwrap();
    let events = channel.events().unwrap();
    (channel, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_logs_in_and_receives_a_peer_message() {
    let w = support::world().await;
    let (channel, mut events) = connect(&w).await;
    let (first, _) = until(&mut events, "Connecting", |_| true).await;
    assert_eq!(
        first,
        Event::ConnectionStateChanged {
            state: ConnectionState::STARTING
        }
    );
    until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    w.sim.post(&w.peer_id, &w.room, "hello bot").unwrap();
    let (event, _) = until(&mut events, "the message", is_created("hello bot")).await;
    let Event::MessageCreated { message } = event else {
        unreachable!()
    };
    assert_eq!(message.room.kind, RoomKind::Public);
    assert_eq!(message.room.name.as_deref(), Some("dev"));
    assert_eq!(message.author.id.as_str(), w.peer_id);
    assert_eq!(channel.identity().user_id.as_str(), w.bot_id);
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_a_dropped_socket_and_catches_up_once() {
    let w = support::world().await;
    let mut config = w.config();
    // Long enough that the message below is posted while the bot is away.
    config.timeouts.reconnect_min = Duration::from_millis(400);
    config.timeouts.reconnect_max = Duration::from_millis(800);
    let (channel, mut events) = connect_with(config).await;
    w.sim.post(&w.peer_id, &w.room, "before").unwrap();
    until(&mut events, "before", is_created("before")).await;

    w.sim.drop_sockets(&w.bot_id);
    w.sim.post(&w.peer_id, &w.room, "while away").unwrap();
    w.sim.post(&w.peer_id, &w.dm, "dm while away").unwrap();

    let (_, seen) = until(
        &mut events,
        "Reconnecting",
        is_state(|s| matches!(s, ConnectionState::Reconnecting { attempt: 1, .. })),
    )
    .await;
    assert!(seen.iter().all(|e| created_text(e).is_none()), "{seen:?}");
    let (_, caught_up) = until(
        &mut events,
        "Active again",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    // Missed messages come from the catch-up, delivered before the session says Active.
    let texts: Vec<&str> = caught_up.iter().filter_map(created_text).collect();
    assert!(texts.contains(&"while away"), "{caught_up:?}");
    assert!(texts.contains(&"dm while away"), "{caught_up:?}");

    w.sim.post(&w.peer_id, &w.room, "after").unwrap();
    let (_, rest) = until(&mut events, "after", is_created("after")).await;
    let all: Vec<&str> = caught_up
        .iter()
        .chain(&rest)
        .filter_map(created_text)
        .collect();
    assert_eq!(
        all.iter().filter(|t| **t == "while away").count(),
        1,
        "{all:?}"
    );
    assert!(
        !all.contains(&"before"),
        "redelivered an old message: {all:?}"
    );
    assert_eq!(
        w.sim.session_count(&w.bot_id),
        1,
        "one socket after reconnecting"
    );
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deaf_socket_is_detected_and_replaced() {
    let w = support::world().await;
    let mut config = w.config();
    config.timeouts.ping_after_silence = Duration::from_millis(300);
    config.timeouts.pong = Duration::from_millis(300);
    let (channel, mut events) = connect_with(config).await;
    until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;

    w.sim.set_deaf(&w.bot_id, true);
    until(
        &mut events,
        "Reconnecting",
        is_state(|s| matches!(s, ConnectionState::Reconnecting { .. })),
    )
    .await;
    until(
        &mut events,
        "Active again",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    w.sim
        .post(&w.peer_id, &w.room, "on the new socket")
        .unwrap();
    until(&mut events, "message", is_created("on the new socket")).await;
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_pat_is_fatal_with_no_further_events() {
    let w = support::world().await;
    let (channel, mut events) = connect(&w).await;
    until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;

    // The server closes the socket; the next attempt's token check (REST 401) or re-login
    // (403) is refused.
    w.sim.remove_pat(&w.bot_id, "bridge").unwrap();
    let (event, _) = until(
        &mut events,
        "FatallyClosed",
        is_state(ConnectionState::is_fatal),
    )
    .await;
    let Event::ConnectionStateChanged {
        state: ConnectionState::FatallyClosed { reason, .. },
    } = event
    else {
        unreachable!()
    };
    assert!(
        reason.contains("login refused") || reason.contains("HTTP 401"),
        "{reason}"
    );
    assert!(!reason.contains(&w.bot_token));

    w.sim.post(&w.peer_id, &w.room, "too late").unwrap();
    let next = tokio::time::timeout(WAIT, events.recv()).await.unwrap();
    assert_eq!(next, None, "no event after the fatal state");
    let send = channel.send_text(&RoomId::new(w.room.clone()), "x").await;
    assert!(matches!(send, Err(Error::Unauthorized { .. })), "{send:?}");
    assert_eq!(w.sim.session_count(&w.bot_id), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_revocation_is_caught_by_revalidation() {
    let w = support::world().await;
    let mut config = w.config();
    config.revalidate_interval = Duration::from_secs(1);
    let (_channel, mut events) = connect_with(config).await;
    until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;

    // The socket stays open and quiet; only REST knows.
    w.sim.set_silent_revocation(true);
    w.sim.remove_pat(&w.bot_id, "bridge").unwrap();
    let (event, _) = until(
        &mut events,
        "FatallyClosed",
        is_state(ConnectionState::is_fatal),
    )
    .await;
    let Event::ConnectionStateChanged {
        state: ConnectionState::FatallyClosed { reason, .. },
    } = event
    else {
        unreachable!()
    };
    assert!(reason.contains("401"), "{reason}");
    assert_eq!(
        tokio::time::timeout(WAIT, events.recv()).await.unwrap(),
        None
    );
    // We closed the socket ourselves.
    for _ in 0..100 {
        if w.sim.session_count(&w.bot_id) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the bot's socket is still open after the fatal state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_429_is_waited_out_and_sends_keep_their_order() {
    let w = support::world().await;
    let (channel, _events) = connect(&w).await;
    w.sim.set_rest_rate_limit(
        Some(RateRule {
            limit: 2,
            window: Duration::from_millis(400),
        }),
        true,
    );
    let room = RoomId::new(w.room.clone());
    for i in 0..5 {
        channel
            .send_text(&room, &format!("burst {i}"))
            .await
            .unwrap();
    }
    w.sim.set_rest_rate_limit(None, false);
    let texts: Vec<String> = w
        .sim
        .messages(&w.room)
        .iter()
        .filter_map(|m| m["msg"].as_str().map(str::to_owned))
        .filter(|t| t.starts_with("burst"))
        .collect();
    assert_eq!(
        texts,
        (0..5).map(|i| format!("burst {i}")).collect::<Vec<_>>()
    );
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_send_response_is_retried_and_posts_once() {
    let w = support::world().await;
    let (channel, _events) = connect(&w).await;
    w.sim.drop_next_send_response();
    let sent = channel
        .send_text(&RoomId::new(w.room.clone()), "exactly once")
        .await
        .unwrap();
    let copies: Vec<String> = w
        .sim
        .messages(&w.room)
        .iter()
        .filter(|m| m["msg"] == "exactly once")
        .filter_map(|m| m["_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(copies, vec![sent.message.id.as_str().to_owned()]);
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_is_refused_without_the_insecure_flag() {
    let w = support::world().await;
    let mut config = w.config();
    config.dangerously_allow_insecure = false;
    let err = RocketChatChannel::connect(config, AccountId::new("default"))
        .await
        .unwrap_err();
    match err {
        Error::InvalidRequest { reason } => {
            assert!(reason.starts_with("serverUrl:"), "{reason}");
            assert!(reason.contains("dangerouslyAllowInsecure"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_fails_with_rate_limited_when_the_reset_is_longer_than_allowed() {
    let w = support::world().await;
    // The switch answers with a 10 s timeToReset; this account waits at most 1 s.
    let mut config = w.config();
    config.timeouts.max_rate_limit_wait = Duration::from_secs(1);
    let (channel, _events) = connect_with(config).await;
    let room = RoomId::new(w.room.clone());
    channel.set_typing(&room, None, true).await.unwrap();
    w.sim.set_ddp_too_many_requests(true);
    let err = channel.set_typing(&room, None, false).await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(wait) } if wait >= Duration::from_secs(9)),
        "{err:?}"
    );
    assert_eq!(w.sim.ddp_refusals(), 1, "failed at once, without retrying");
    w.sim.set_ddp_too_many_requests(false);
    channel.set_typing(&room, None, false).await.unwrap();
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_allowlist_resolves_names_and_denies_the_rest() {
    let w = support::world().await;
    let other = w
        .sim
        .create_room(
            rocketchat_sim::RoomKind::Public,
            "other",
            &w.peer_id,
            &[&w.bot_id],
        )
        .unwrap();
    let mut config = w.config();
    config.rooms = vec![
        RoomEntry::Name("dev".into()),
        RoomEntry::Name("nope".into()),
    ];
    let (channel, mut events) = connect_with(config).await;
    assert_eq!(channel.unresolved_rooms(), ["#nope".to_owned()]);
    assert!(channel.allowed_rooms().unwrap().contains(&w.room));

    w.sim.post(&w.peer_id, &other, "not for us").unwrap();
    w.sim.post(&w.peer_id, &w.dm, "dm passes").unwrap();
    w.sim.post(&w.peer_id, &w.room, "allowed").unwrap();
    let (_, before) = until(&mut events, "allowed", is_created("allowed")).await;
    let texts: Vec<&str> = before.iter().filter_map(created_text).collect();
    assert_eq!(texts, vec!["dm passes"]);
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_the_stream_with_a_final_state() {
    let w = support::world().await;
    let (channel, mut events) = connect(&w).await;
    channel.shutdown().await;
    let (event, _) = until(
        &mut events,
        "FatallyClosed",
        is_state(ConnectionState::is_fatal),
    )
    .await;
    assert_eq!(
        event,
        Event::ConnectionStateChanged {
            state: ConnectionState::FatallyClosed {
                cause: channel_api::FatalCause::Shutdown,
                reason: "shut down".into()
            }
        }
    );
    assert_eq!(events.recv().await, None);
    let err = channel
        .send_text(&RoomId::new(w.room.clone()), "x")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_unauthorized_at_connect() {
    let w = support::world().await;
    let mut config = w.config();
    config.auth_token = backend_rocketchat::Secret::new("not-the-token");
    let err = RocketChatChannel::connect(config, AccountId::new("default"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_reports_version_and_identity() {
    let w = support::world().await;
    let report = backend_rocketchat::probe(&w.config()).await.unwrap();
    assert_eq!(report.user_id, w.bot_id);
    assert!(report.identity_matches);
    assert!(report.server_version.starts_with('8'), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_in_a_room_joined_later_arrive() {
    let w = support::world().await;
    let (channel, mut events) = connect(&w).await;
    let later = w
        .sim
        .create_room(rocketchat_sim::RoomKind::Private, "later", &w.peer_id, &[])
        .unwrap();
    w.sim.add_member(&later, &w.bot_id).unwrap();
    // The peer posts (the bot sees it, so its delete subscription for the room is live
    // once this arrives: frames are processed in order), then deletes it.
    w.sim.post(&w.peer_id, &later, "soon gone").unwrap();
    let (event, _) = until(&mut events, "soon gone", is_created("soon gone")).await;
    let Event::MessageCreated { message } = event else {
        unreachable!()
    };
    assert_eq!(message.room.kind, RoomKind::Private);
    // A DDP round trip: the server handles a session's frames in order, so once this
    // answers, the delete subscription sent on joining is in place.
    channel
        .set_typing(&RoomId::new(later.clone()), None, false)
        .await
        .unwrap();
    w.sim.delete(&w.peer_id, message.id.as_str()).unwrap();
    let (deleted, _) = until(&mut events, "the delete", |e| {
        matches!(e, Event::MessageDeleted { .. })
    })
    .await;
    assert_eq!(
        deleted,
        Event::MessageDeleted {
            room: RoomId::new(later.clone()),
            room_kind: Some(RoomKind::Private),
            message: message.id.clone(),
        }
    );
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_is_refused_and_the_message_still_arrives_once() {
    let w = support::world().await;
    let mut config = w.config();
    config.max_frame_bytes = 64 * 1024;
    let (channel, mut events) = connect_with(config).await;
    until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    let mut extra = serde_json::Map::new();
    extra.insert(
        "customFields".into(),
        serde_json::json!({"blob": "x".repeat(200 * 1024)}),
    );
    w.sim
        .post_with(
            &w.peer_id,
            &w.room,
            "huge",
            rocketchat_sim::PostOptions {
                extra,
                ..Default::default()
            },
        )
        .unwrap();
    // The socket refuses the frame and is replaced; the catch-up (REST) brings it.
    let (_, before) = until(&mut events, "huge", is_created("huge")).await;
    assert!(
        before.iter().any(is_state(|s| matches!(
            s,
            ConnectionState::Reconnecting { .. }
        ))),
        "{before:?}"
    );
    w.sim.post(&w.peer_id, &w.room, "small").unwrap();
    let (_, rest) = until(&mut events, "small", is_created("small")).await;
    assert!(
        rest.iter().all(|e| created_text(e) != Some("huge")),
        "{rest:?}"
    );
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_does_not_kill_the_heartbeat() {
    let w = support::world_with(rocketchat_sim::SimConfig {
        heartbeat_interval: Duration::from_millis(200),
        heartbeat_timeout: Duration::from_millis(200),
        ..rocketchat_sim::SimConfig::default()
    })
    .await;
    let (channel, mut events) = connect(&w).await;
    // More messages than the channel buffers, while nobody reads, for several heartbeats.
    let count = 1_500;
    for i in 0..count {
        w.sim
            .post(&w.peer_id, &w.room, &format!("load {i}"))
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    w.sim.post(&w.peer_id, &w.room, "last").unwrap();
    let (_, before) = until(&mut events, "last", is_created("last")).await;
    let loads: Vec<&str> = before
        .iter()
        .filter_map(created_text)
        .filter(|t| t.starts_with("load"))
        .collect();
    assert_eq!(loads.len(), count);
    assert!(
        !before.iter().any(is_state(|s| matches!(
            s,
            ConnectionState::Reconnecting { .. }
        ))),
        "the connection dropped while the consumer was slow"
    );
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_subscriptions_are_retried_after_the_reset() {
    let w = support::world().await;
    let (channel, mut events) = connect(&w).await;
    until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    w.sim.set_ddp_too_many_requests(true);
    w.sim.drop_sockets(&w.bot_id);
    until(
        &mut events,
        "a second attempt",
        is_state(|s| matches!(s, ConnectionState::Reconnecting { attempt, .. } if *attempt >= 2)),
    )
    .await;
    w.sim.set_ddp_too_many_requests(false);
    until(
        &mut events,
        "Active again",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    w.sim.post(&w.peer_id, &w.room, "through").unwrap();
    until(&mut events, "through", is_created("through")).await;
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_rooms_the_bot_is_not_in_stay_silent() {
    let w = support::world().await;
    let (channel, mut events) = connect(&w).await;
    let elsewhere = w
        .sim
        .create_room(
            rocketchat_sim::RoomKind::Public,
            "elsewhere",
            &w.peer_id,
            &[],
        )
        .unwrap();
    w.sim.post(&w.peer_id, &elsewhere, "not a member").unwrap();
    w.sim.post(&w.peer_id, &w.room, "member").unwrap();
    let (_, before) = until(&mut events, "member", is_created("member")).await;
    assert!(
        before.iter().all(|e| created_text(e).is_none()),
        "{before:?}"
    );
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletes_while_away_are_caught_up() {
    let w = support::world().await;
    let mut config = w.config();
    config.timeouts.reconnect_min = Duration::from_millis(400);
    config.timeouts.reconnect_max = Duration::from_millis(800);
    let (channel, mut events) = connect_with(config).await;
    let keep = w.sim.post(&w.peer_id, &w.room, "to be edited").unwrap();
    let gone = w.sim.post(&w.peer_id, &w.room, "to be deleted").unwrap();
    until(&mut events, "second", is_created("to be deleted")).await;

    w.sim.drop_sockets(&w.bot_id);
    w.sim.edit(&w.peer_id, &keep, "edited while away").unwrap();
    w.sim.delete(&w.peer_id, &gone).unwrap();

    until(
        &mut events,
        "Reconnecting",
        is_state(|s| matches!(s, ConnectionState::Reconnecting { .. })),
    )
    .await;
    let (_, caught_up) = until(
        &mut events,
        "Active again",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    assert!(
        caught_up.iter().any(|e| matches!(e, Event::MessageEdited { message } if message.id.as_str() == keep && message.text == "edited while away")),
        "{caught_up:?}"
    );
    assert!(
        caught_up.iter().any(
            |e| matches!(e, Event::MessageDeleted { message, .. } if message.as_str() == gone)
        ),
        "{caught_up:?}"
    );
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_on_any_rest_call_stops_the_account_at_once() {
    let w = support::world().await;
    // Re-validation is far away: only the send can notice.
    let (channel, mut events) = connect(&w).await;
    until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    w.sim.set_silent_revocation(true);
    w.sim.remove_pat(&w.bot_id, "bridge").unwrap();

    let err = channel
        .send_text(&RoomId::new(w.room.clone()), "after revocation")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    let (event, _) = until(
        &mut events,
        "FatallyClosed",
        is_state(ConnectionState::is_fatal),
    )
    .await;
    let Event::ConnectionStateChanged {
        state: ConnectionState::FatallyClosed { reason, .. },
    } = event
    else {
        unreachable!()
    };
    assert!(reason.contains("chat.sendMessage"), "{reason}");
    w.sim.post(&w.peer_id, &w.room, "unseen").unwrap();
    assert_eq!(
        tokio::time::timeout(WAIT, events.recv()).await.unwrap(),
        None
    );
    let missing = channel_api::MessageRef {
        room: RoomId::new(w.room.clone()),
        id: channel_api::MessageId::new("x"),
    };
    let again = channel.react(&missing, "eyes").await;
    assert!(
        matches!(again, Err(Error::Unauthorized { .. })),
        "{again:?}"
    );
}

/// A TCP gate in front of the simulator: closed, it drops every connection at once (the
/// server looks down); open, it forwards.
struct Gate {
    addr: std::net::SocketAddr,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Gate {
    async fn closed_in_front_of(target: std::net::SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let is_open = open.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !is_open.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { addr, open, task }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The first connection is the channel's own business: started while the server is down,
/// it reports `Connecting` with a growing attempt count, retries by itself, and goes
/// `Active` once the server is up; then messages flow. Nobody calls it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_connection_is_retried_by_the_channel_itself() {
    use std::sync::atomic::Ordering;
    let w = support::world().await;
    let gate = Gate::closed_in_front_of(w.sim.addr()).await;
    let mut config = w.config();
    config.server_url = format!("http://{}", gate.addr);
    config.timeouts.reconnect_min = Duration::from_millis(50);
    config.timeouts.reconnect_max = Duration::from_millis(200);
    let channel = RocketChatChannel::start(config, AccountId::new("default")).unwrap();
    // The session task runs at once: the first attempt may already have failed against
    // the closed gate (attempt 2 waiting), so only "connecting" is certain here.
    assert!(
        matches!(channel.state(), ConnectionState::Connecting { .. }),
        "{:?}",
        channel.state()
    );
    let mut events = channel.events().unwrap();
    // Calls while connecting fail retryably, they do not hang or go fatal.
    let err = channel
        .send_text(&RoomId::new(w.room.clone()), "too early")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");

    let (_, seen) = until(
        &mut events,
        "a third attempt",
        is_state(|s| {
            matches!(
                s,
                ConnectionState::Connecting {
                    attempt: 3,
                    phase: Phase::Waiting
                }
            )
        }),
    )
    .await;
    assert!(
        seen.iter().all(|e| matches!(
            e,
            Event::ConnectionStateChanged {
                state: ConnectionState::Connecting { .. }
            }
        )),
        "{seen:?}"
    );
    assert!(channel.last_failure().is_some());

    gate.open.store(true, Ordering::SeqCst);
    let (_, phases) = until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    // The attempt that got through went through every phase, in order.
    let order: Vec<Phase> = phases
        .iter()
        .filter_map(|e| match e {
            Event::ConnectionStateChanged {
                state: ConnectionState::Connecting { phase, .. },
            } => Some(*phase),
            _ => None,
        })
        .skip_while(|p| *p != Phase::Opening)
        .collect();
    assert!(
        order.ends_with(&[Phase::Opening, Phase::LoggingIn, Phase::Subscribing]),
        "{order:?}"
    );
    assert!(channel.last_failure().is_none());

    w.sim.post(&w.peer_id, &w.room, "now you hear me").unwrap();
    until(&mut events, "the message", is_created("now you hear me")).await;
    channel.shutdown().await;
}
