//! A restarted process resumes where the earlier one stopped: what was posted while no
//! process was reading arrives once, what the earlier process was given does not come
//! again, and without a resume point a new process starts from "now".

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use backend_rocketchat::{ResumePoint, RocketChatChannel, RocketChatConfig};
use channel_api::{AccountId, Channel, Event, EventStream};

const WAIT: Duration = Duration::from_secs(20);

async fn connect(config: RocketChatConfig) -> (RocketChatChannel, EventStream) {
    let channel = RocketChatChannel::connect(config, AccountId::new("default"))
        .await
        .unwrap();
    let events = channel.events().unwrap();
    (channel, events)
}

/// Every message event read until the `MessageCreated` with text `last` (included).
async fn messages_until(events: &mut EventStream, last: &str) -> Vec<Event> {
    let mut seen = Vec::new();
    tokio::time::timeout(WAIT, async {
        while let Some(e) = events.recv().await {
            let done = matches!(&e, Event::MessageCreated { message } if message.text == last);
            if !matches!(e, Event::ConnectionStateChanged { .. }) {
                seen.push(e);
            }
            if done {
                return;
            }
        }
        panic!("stream ended before {last:?}; saw {seen:?}");
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {last:?}"));
    seen
}

fn created_texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::MessageCreated { message } => Some(message.text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_process_gets_the_gap_once_and_nothing_it_had() {
    let w = support::world().await;

    // The first process reads two messages, notes where it is, and stops.
    let (first, mut events) = connect(w.config()).await;
    w.sim.post(&w.peer_id, &w.room, "one").unwrap();
    w.sim.post(&w.peer_id, &w.room, "two").unwrap();
    let read = messages_until(&mut events, "two").await;
    let mut resume = ResumePoint::default();
    for e in &read {
        if let Event::MessageCreated { message } = e {
            resume.after = resume.after.max(message.timestamp);
            resume.handled.push(message.id.clone());
        }
    }
    assert_eq!(created_texts(&read), ["one", "two"]);
    let one = read
        .iter()
        .find_map(|e| match e {
            Event::MessageCreated { message } if message.text == "one" => Some(message.id.clone()),
            _ => None,
        })
        .unwrap();
    first.shutdown().await;
    drop(events);

    // While nobody reads: two posts and an edit of a message the first process had.
    w.sim.post(&w.peer_id, &w.room, "three").unwrap();
    w.sim.post(&w.peer_id, &w.dm, "four").unwrap();
    w.sim.edit(&w.peer_id, one.as_str(), "one, edited").unwrap();

    let mut config = w.config();
    config.resume = Some(resume);
    let (second, mut events) = connect(config).await;
    w.sim.post(&w.peer_id, &w.room, "five").unwrap();
    let got = messages_until(&mut events, "five").await;
    let created = created_texts(&got);
    // Order is kept per room: "four" (the DM) may come before or after "three".
    let mut sorted = created.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["five", "four", "three"],
        "the gap once, then live; nothing the first process had: {got:?}"
    );
    let at = |t: &str| created.iter().position(|c| c == t);
    assert!(at("three") < at("five"), "room order kept: {created:?}");
    let edits: Vec<_> = got
        .iter()
        .filter_map(|e| match e {
            Event::MessageEdited { message } => Some((message.id.clone(), message.text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(edits, [(one, "one, edited".to_owned())]);
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_resume_point_a_new_process_starts_from_now() {
    let w = support::world().await;
    w.sim.post(&w.peer_id, &w.room, "before").unwrap();
    let (channel, mut events) = connect(w.config()).await;
    w.sim.post(&w.peer_id, &w.room, "after").unwrap();
    let got = messages_until(&mut events, "after").await;
    assert_eq!(created_texts(&got), ["after"]);
    channel.shutdown().await;
}
