//! Issue 12 item 6: every auth refusal on the socket trips the one stop switch and closes
//! the socket at once, and no refused subscription leaves the account active but deaf.
//! The refusals are the server's, slipped into the simulator's stream by a [`DdpProxy`]
//! (the simulator has no control to refuse one subscription or one method).

#![allow(clippy::unwrap_used)]

#[path = "support/ddp_proxy.rs"]
mod ddp_proxy;
mod support;

use std::time::{Duration, Instant};

use backend_rocketchat::RocketChatChannel;
use channel_api::{
    AccountId, Channel, ChannelExt, ConnectionState, Error, Event, EventStream, FatalCause, RoomId,
};
use ddp_proxy::DdpProxy;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

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

fn is_state(pred: impl Fn(&ConnectionState) -> bool) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::ConnectionStateChanged { state } if pred(state))
}

fn is_created(text: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::MessageCreated { message } if message.text == text)
}

fn was_active(events: &[Event]) -> bool {
    events.iter().any(|e| {
        matches!(
            e,
            Event::ConnectionStateChanged {
                state: ConnectionState::Active
            }
        )
    })
}

async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The bot's account started through the proxy.
fn start(w: &support::World, proxy: &DdpProxy) -> (RocketChatChannel, EventStream) {
    let mut config = w.config();
    config.server_url = proxy.base_url();
    let channel = RocketChatChannel::start(config, AccountId::new("default")).unwrap();
    let events = channel.events().unwrap();
    (channel, events)
}

/// The streamer's refusal of a read (`streamer.module.ts` `_publish`).
fn not_allowed() -> Value {
    json!({"isClientSafe": true, "error": "not-allowed", "message": "[not-allowed]",
           "errorType": "Meteor.Error"})
}

fn logged_out() -> Value {
    json!({"isClientSafe": true, "error": 403,
           "reason": "You've been logged out by the server. Please log in again.",
           "message": "You've been logged out by the server. Please log in again. [403]",
           "errorType": "Meteor.Error"})
}

fn internal_error() -> Value {
    json!({"isClientSafe": true, "error": 500, "reason": "Internal server error",
           "message": "Internal server error [500]", "errorType": "Meteor.Error"})
}

/// Waits for the final state; asserts it is an auth stop and the account never went
/// active, and that the socket is closed.
async fn assert_stopped_unauthorized(
    w: &support::World,
    events: &mut EventStream,
    expect_active_before: bool,
) -> String {
    let (event, before) = until(events, "FatallyClosed", is_state(ConnectionState::is_fatal)).await;
    assert_eq!(was_active(&before), expect_active_before, "{before:?}");
    let Event::ConnectionStateChanged {
        state: ConnectionState::FatallyClosed { cause, reason },
    } = event
    else {
        unreachable!()
    };
    assert_eq!(cause, FatalCause::Unauthorized, "{reason}");
    // The socket is closed at once, and nothing more is delivered.
    eventually("the socket closed", || w.sim.session_count(&w.bot_id) == 0).await;
    assert_eq!(
        tokio::time::timeout(WAIT, events.recv()).await.unwrap(),
        None
    );
    reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_refusal_of_the_message_stream_at_login_stops_the_account() {
    let w = support::world().await;
    for error in [
        not_allowed(),
        logged_out(),
        json!({"error": "not-authorized", "reason": "Not Authorized"}),
    ] {
        let proxy = DdpProxy::start(w.sim.addr()).await;
        proxy.refuse_sub("__my_messages__", Some(error.clone()), 1);
        let (channel, mut events) = start(&w, &proxy);
        let reason = assert_stopped_unauthorized(&w, &mut events, false).await;
        assert!(reason.contains("__my_messages__"), "{reason}");
        assert_eq!(
            proxy.websockets(),
            1,
            "no retry after an auth refusal ({error})"
        );
        let err = channel
            .send_text(&RoomId::new(w.room.clone()), "after the stop")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_refusal_of_the_bots_notifications_stops_the_account() {
    let w = support::world().await;
    let proxy = DdpProxy::start(w.sim.addr()).await;
    proxy.refuse_sub(
        &format!("{}/rooms-changed", w.bot_id),
        Some(not_allowed()),
        1,
    );
    let (_channel, mut events) = start(&w, &proxy);
    assert_stopped_unauthorized(&w, &mut events, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_refusal_of_the_message_stream_fails_the_attempt() {
    let w = support::world().await;
    let proxy = DdpProxy::start(w.sim.addr()).await;
    proxy.refuse_sub("__my_messages__", Some(internal_error()), 1);
    let (channel, mut events) = start(&w, &proxy);
    // The attempt whose subscription was refused never went active: a second one did.
    let (_, before) = until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    assert!(
        before.iter().any(is_state(|s| matches!(
            s,
            ConnectionState::Connecting { attempt: 2, .. }
        ))),
        "{before:?}"
    );
    assert_eq!(proxy.websockets(), 2);
    w.sim.post(&w.peer_id, &w.room, "heard").unwrap();
    until(&mut events, "heard", is_created("heard")).await;
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_nosub_of_the_message_stream_reconnects_or_stops() {
    let w = support::world().await;

    // Without an error: the server ended it; a new connection subscribes again.
    let proxy = DdpProxy::start(w.sim.addr()).await;
    let (channel, mut events) = start(&w, &proxy);
    until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    let id = proxy.sub_id("__my_messages__").unwrap();
    proxy.inject(&json!({"msg": "nosub", "id": id}));
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
    assert_eq!(proxy.websockets(), 2);
    w.sim.post(&w.peer_id, &w.room, "still heard").unwrap();
    until(&mut events, "still heard", is_created("still heard")).await;
    channel.shutdown().await;

    // With an auth error: the account stops, the socket closes.
    let proxy = DdpProxy::start(w.sim.addr()).await;
    let (_channel, mut events) = start(&w, &proxy);
    until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    let id = proxy.sub_id("__my_messages__").unwrap();
    proxy.inject(&json!({"msg": "nosub", "id": id, "error": not_allowed()}));
    assert_stopped_unauthorized(&w, &mut events, false).await;
    assert_eq!(proxy.websockets(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_out_answer_to_a_method_stops_the_account() {
    let w = support::world().await;
    let proxy = DdpProxy::start(w.sim.addr()).await;
    proxy.refuse_method("stream-notify-room", logged_out(), 1);
    let (channel, mut events) = start(&w, &proxy);
    until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    let err = channel
        .set_typing(&RoomId::new(w.room.clone()), None, true)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert_stopped_unauthorized(&w, &mut events, false).await;
    let again = channel
        .send_text(&RoomId::new(w.room.clone()), "after the stop")
        .await
        .unwrap_err();
    assert!(matches!(again, Error::Unauthorized { .. }), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_refusal_is_not_a_stop() {
    let w = support::world().await;
    let proxy = DdpProxy::start(w.sim.addr()).await;
    // A room the bot may no longer read, and a typing write it may not make.
    proxy.refuse_sub(&format!("{}/deleteMessage", w.room), Some(not_allowed()), 1);
    proxy.refuse_method("stream-notify-room", not_allowed(), 1);
    let (channel, mut events) = start(&w, &proxy);
    until(
        &mut events,
        "Active",
        is_state(|s| *s == ConnectionState::Active),
    )
    .await;
    let err = channel
        .set_typing(&RoomId::new(w.room.clone()), None, true)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    w.sim.post(&w.peer_id, &w.room, "still on").unwrap();
    until(&mut events, "still on", is_created("still on")).await;
    assert_eq!(channel.state(), ConnectionState::Active);
    assert_eq!(proxy.websockets(), 1);
    channel.shutdown().await;
}
