//! Issue 6, bad input: property tests over the DDP frame decoder and the message mapper,
//! the same entry points the cargo-fuzz targets in `fuzz/` drive
//! (`backend_rocketchat::fuzzing`). Bounded case counts, fixed seed (proptest's default
//! deterministic runner is not used: the seed is pinned below so CI runs the same cases).
//!
//! Properties: no input panics; a frame delivered twice means what it meant once (the
//! mapper deduplicates re-deliveries).

#![allow(clippy::unwrap_used)]

use backend_rocketchat::fuzzing::{ddp_frame, map_documents, map_frames};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Map, Value};

const SEED: [u8; 32] = *b"issue-6-reliability-props-seed!!";

fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &SEED),
    )
}

/// Keys the decoder and the mapper look at, plus a few they do not.
const KEYS: &[&str] = &[
    "_id",
    "rid",
    "msg",
    "ts",
    "u",
    "username",
    "name",
    "_updatedAt",
    "$date",
    "editedAt",
    "editedBy",
    "reactions",
    "usernames",
    "tmid",
    "mentions",
    "t",
    "roomType",
    "roomName",
    "roomParticipant",
    "_hidden",
    "imported",
    "bot",
    "attachments",
    "customFields",
    "collection",
    "fields",
    "eventName",
    "args",
    "error",
    "reason",
    "details",
    "timeToReset",
    "subs",
    "id",
    "zz",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-zA-Z_$]{0,6}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e18f64..1e18).prop_map(Value::from),
        proptest::sample::select(vec![
            "m1",
            "m2",
            "r1",
            "c",
            "p",
            "d",
            "l",
            "rm",
            "bot",
            "bot-id",
            "alice",
            ":+1:",
            "__my_messages__",
            "r1/deleteMessage",
            "stream-room-messages",
            "stream-notify-room",
            "too-many-requests",
            "",
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A message document that is mostly plausible: each field is absent, plausible or any
/// JSON at all.
fn message_doc() -> impl Strategy<Value = Value> {
    fn field(plausible: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
        prop_oneof![
            1 => Just(None),
            6 => plausible.prop_map(Some),
            1 => json_value().prop_map(Some),
        ]
        .boxed()
    }
    let date = || (1_700_000_000_000i64..1_700_000_000_100).prop_map(|ms| json!({"$date": ms}));
    let id = proptest::sample::select(vec!["m1", "m2", "m3"]).prop_map(Value::from);
    let user = proptest::sample::select(vec![("u1", "alice"), ("bot-id", "bot"), ("u2", "bob")])
        .prop_map(|(id, name)| json!({"_id": id, "username": name, "name": name}));
    let reactions = proptest::collection::btree_map(
        proptest::sample::select(vec![":+1:", ":eyes:", "smile"]),
        proptest::collection::vec(proptest::sample::select(vec!["alice", "bob", "bot"]), 0..3),
        0..3,
    )
    .prop_map(|m| {
        Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_owned(), json!({ "usernames": v })))
                .collect(),
        )
    });
    (
        field(id.clone().boxed()),
        field(
            proptest::sample::select(vec!["r1", "r2"])
                .prop_map(Value::from)
                .boxed(),
        ),
        field(".{0,20}".prop_map(Value::from).boxed()),
        field(date().boxed()),
        field(user.boxed()),
        field(date().boxed()),
        field(date().boxed()),
        field(reactions.boxed()),
        field(id.boxed()),
        field(
            proptest::sample::select(vec!["rm", "uj", "discussion-created"])
                .prop_map(Value::from)
                .boxed(),
        ),
    )
        .prop_map(
            |(id, rid, msg, ts, u, updated, edited, reactions, tmid, t)| {
                let mut doc = Map::new();
                for (k, v) in [
                    ("_id", id),
                    ("rid", rid),
                    ("msg", msg),
                    ("ts", ts),
                    ("u", u),
                    ("_updatedAt", updated),
                    ("editedAt", edited),
                    ("reactions", reactions),
                    ("tmid", tmid),
                    ("t", t),
                ] {
                    if let Some(v) = v {
                        doc.insert(k.to_owned(), v);
                    }
                }
                Value::Object(doc)
            },
        )
}

fn room_meta() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => proptest::sample::select(vec!["c", "p", "d", "l"]).prop_map(
            |t| json!({"roomType": t, "roomName": "dev", "roomParticipant": true})
        ),
        1 => json_value(),
    ]
}

/// A frame as the server would send it: a message event, a delete, or any DDP-shaped JSON.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    let message = (message_doc(), proptest::option::of(room_meta())).prop_map(|(doc, meta)| {
        let mut args = vec![doc];
        args.extend(meta);
        json!({"msg": "changed", "collection": "stream-room-messages", "id": "id",
               "fields": {"eventName": "__my_messages__", "args": args}})
    });
    let delete = proptest::sample::select(vec!["m1", "m2", "m3"]).prop_map(|id| {
        json!({"msg": "changed", "collection": "stream-notify-room", "id": "id",
               "fields": {"eventName": "r1/deleteMessage", "args": [{"_id": id}]}})
    });
    let shaped = (
        proptest::sample::select(vec![
            "changed", "result", "nosub", "ready", "ping", "pong", "error", "added", "x",
        ]),
        proptest::collection::btree_map(key(), json_value(), 0..6),
    )
        .prop_map(|(msg, rest)| {
            let mut m: Map<String, Value> = rest.into_iter().collect();
            m.insert("msg".into(), Value::from(msg));
            Value::Object(m)
        });
    prop_oneof![4 => message, 1 => delete, 2 => shaped, 1 => json_value()]
        .prop_map(|v| serde_json::to_vec(&v).unwrap())
}

#[test]
fn any_bytes_are_decoded_or_dropped() {
    runner(1_000)
        .run(&proptest::collection::vec(any::<u8>(), 0..512), |bytes| {
            let _ = ddp_frame(&bytes);
            let _ = map_frames([bytes.as_slice()]);
            let _ = map_documents([bytes.as_slice()]);
            Ok(())
        })
        .unwrap();
}

#[test]
fn corrupted_frames_are_decoded_or_dropped() {
    let strategy = (
        frame(),
        any::<prop::sample::Index>(),
        any::<u8>(),
        any::<bool>(),
    );
    runner(800)
        .run(&strategy, |(mut bytes, at, byte, truncate)| {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                if truncate {
                    bytes.truncate(i);
                } else {
                    bytes[i] = byte;
                }
            }
            let _ = ddp_frame(&bytes);
            let _ = map_frames([bytes.as_slice()]);
            Ok(())
        })
        .unwrap();
}

#[test]
fn any_json_frame_is_decoded_or_dropped() {
    runner(800)
        .run(&json_value(), |v| {
            let bytes = serde_json::to_vec(&v).unwrap();
            let _ = ddp_frame(&bytes);
            let wrapped = serde_json::to_vec(&json!({"msg": "changed",
                "collection": "stream-room-messages",
                "fields": {"eventName": "__my_messages__", "args": [v, v]}}))
            .unwrap();
            let _ = ddp_frame(&wrapped);
            let _ = map_frames([wrapped.as_slice()]);
            let _ = map_documents([bytes.as_slice()]);
            Ok(())
        })
        .unwrap();
}

#[test]
fn frame_sequences_through_one_mapper_never_panic() {
    runner(300)
        .run(&proptest::collection::vec(frame(), 0..24), |frames| {
            let _ = map_frames(frames.iter().map(Vec::as_slice));
            let _ = map_documents(frames.iter().map(Vec::as_slice));
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_redelivered_frame_means_nothing_new() {
    runner(300)
        .run(&proptest::collection::vec(frame(), 1..12), |frames| {
            let once = map_frames(frames.iter().map(Vec::as_slice));
            let twice = map_frames(frames.iter().flat_map(|f| [f.as_slice(), f.as_slice()]));
            prop_assert_eq!(once, twice);
            Ok(())
        })
        .unwrap();
}
