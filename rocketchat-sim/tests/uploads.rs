//! Uploads: `rooms.media` + `rooms.mediaConfirm` post one file message (streamed like any
//! message), `GET /file-upload/:id/:name` needs credentials and room access, and
//! `FileUpload_MaxFileSize` refuses larger files. Raw HTTP, independent of the backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rocketchat_sim::{RoomKind, SimHandle, UserKind};
use serde_json::{json, Value};
use tokio::net::TcpStream;

const BOUNDARY: &str = "----sim-test-boundary-x8Qz";

/// A public room with the bot and alice, and alice's credentials.
struct Setup {
    sim: SimHandle,
    bot: (String, String),
    alice: (String, String),
    rid: String,
}

async fn setup() -> Setup {
    let sim = start().await;
    let bot = bot(&sim, "bot");
    let alice_id = sim.create_user("alice", UserKind::Human).unwrap();
    let alice_token = sim.create_pat(&alice_id, "t").unwrap();
    let rid = sim
        .create_room(RoomKind::Public, "dev", &alice_id, &[&bot.0])
        .unwrap();
    Setup {
        sim,
        bot,
        alice: (alice_id, alice_token),
        rid,
    }
}

fn multipart(field: &str, name: &str, mime: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

struct Raw {
    status: u16,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One request with a raw body and raw answer.
async fn raw(
    sim: &SimHandle,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Raw {
    let stream = TcpStream::connect(sim.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("Host", sim.addr().to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = tokio::time::timeout(
        WAIT,
        sender.send_request(req.body(Full::new(Bytes::from(body))).unwrap()),
    )
    .await
    .expect("no answer")
    .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Raw {
        status,
        headers,
        body,
    }
}

async fn upload(
    sim: &SimHandle,
    auth: &(String, String),
    rid: &str,
    name: &str,
    mime: &str,
    data: &[u8],
) -> Raw {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    raw(
        sim,
        "POST",
        &format!("/api/v1/rooms.media/{rid}"),
        &[
            ("X-User-Id", &auth.0),
            ("X-Auth-Token", &auth.1),
            ("Content-Type", &content_type),
        ],
        multipart("file", name, mime, data),
    )
    .await
}

async fn confirm(
    sim: &SimHandle,
    auth: &(String, String),
    rid: &str,
    file_id: &str,
    body: Value,
) -> Resp {
    http(
        sim,
        "POST",
        &format!("/api/v1/rooms.mediaConfirm/{rid}/{file_id}"),
        Some((&auth.0, &auth.1)),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn upload_and_confirm_post_one_file_message_to_subscribers() {
    let s = setup().await;
    let mut ws = Ws::logged_in(&s.sim, &s.bot.1).await;
    ws.sub_my_messages().await;

    let data = b"hello, file\x00\xff".to_vec();
    let up = upload(
        &s.sim,
        &s.alice,
        &s.rid,
        "notes v1.txt",
        "text/plain",
        &data,
    )
    .await;
    assert_eq!(up.status, 200, "{:?}", up.json());
    let body = up.json();
    assert_eq!(body["success"], true);
    let file_id = body["file"]["_id"].as_str().unwrap().to_owned();
    assert_eq!(
        body["file"]["url"],
        format!("/file-upload/{file_id}/notes%20v1.txt")
    );
    // Nothing is posted before the confirmation.
    assert!(s
        .sim
        .messages(&s.rid)
        .iter()
        .all(|m| m.get("file").is_none()));

    let r = confirm(
        &s.sim,
        &s.alice,
        &s.rid,
        &file_id,
        json!({"msg": "the notes", "description": "desc"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let message = &r.body["message"];
    assert_eq!(message["msg"], "the notes");
    assert_eq!(message["groupable"], false);
    assert_eq!(message["file"]["_id"], json!(file_id));
    assert_eq!(message["file"]["name"], "notes v1.txt");
    assert_eq!(message["file"]["type"], "text/plain");
    assert_eq!(message["file"]["size"], data.len());
    assert_eq!(message["files"], json!([message["file"].clone()]));
    let attachment = &message["attachments"][0];
    assert_eq!(attachment["title"], "notes v1.txt");
    assert_eq!(attachment["type"], "file");
    assert_eq!(
        attachment["title_link"],
        format!("/file-upload/{file_id}/notes%20v1.txt")
    );
    assert_eq!(attachment["title_link_download"], true);
    assert_eq!(attachment["format"], "txt");
    assert_eq!(attachment["size"], data.len());
    assert_eq!(attachment["description"], "desc");
    assert_eq!(message["attachments"].as_array().unwrap().len(), 1);

    // The subscriber gets it like any message.
    let event = ws.next_event("stream-room-messages").await;
    let streamed = &event["fields"]["args"][0];
    assert_eq!(streamed["_id"], message["_id"]);
    assert_eq!(streamed["files"][0]["_id"], json!(file_id));
    assert_eq!(
        streamed["attachments"][0]["title_link"],
        attachment["title_link"]
    );
    let stored: Vec<Value> = s
        .sim
        .messages(&s.rid)
        .into_iter()
        .filter(|m| m.get("file").is_some())
        .collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(s.sim.upload(&file_id).unwrap(), data);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn confirm_into_a_thread_and_images_carry_image_fields() {
    let s = setup().await;
    let root = s.sim.post(&s.alice.0, &s.rid, "root").unwrap();
    let up = upload(
        &s.sim,
        &s.bot,
        &s.rid,
        "cat.png",
        "image/png",
        b"\x89PNG fake",
    )
    .await;
    let file_id = up.json()["file"]["_id"].as_str().unwrap().to_owned();
    let r = confirm(&s.sim, &s.bot, &s.rid, &file_id, json!({"tmid": root})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let message = &r.body["message"];
    assert_eq!(message["tmid"], json!(root));
    assert_eq!(message["msg"], "");
    let attachment = &message["attachments"][0];
    assert_eq!(
        attachment["image_url"],
        format!("/file-upload/{file_id}/cat.png")
    );
    assert_eq!(attachment["image_type"], "image/png");
    assert_eq!(attachment["image_size"], 9);
    assert!(attachment.get("format").is_none());
    assert_eq!(message["file"]["typeGroup"], "image");
    s.sim.shutdown().await;
}

#[tokio::test]
async fn download_needs_credentials_and_room_access() {
    let s = setup().await;
    let data = vec![7u8; 1000];
    let secret = s
        .sim
        .create_room(RoomKind::Private, "secret", &s.alice.0, &[])
        .unwrap();
    let up = upload(
        &s.sim,
        &s.alice,
        &secret,
        "secret.bin",
        "application/octet-stream",
        &data,
    )
    .await;
    let url = up.json()["file"]["url"].as_str().unwrap().to_owned();
    let file_id = up.json()["file"]["_id"].as_str().unwrap().to_owned();
    confirm(&s.sim, &s.alice, &secret, &file_id, json!({})).await;

    // No credentials, or wrong ones: a bare 403.
    let r = raw(&s.sim, "GET", &url, &[], vec![]).await;
    assert_eq!(r.status, 403);
    assert!(r.body.is_empty());
    let r = raw(
        &s.sim,
        "GET",
        &url,
        &[("X-User-Id", &s.alice.0), ("X-Auth-Token", "wrong")],
        vec![],
    )
    .await;
    assert_eq!(r.status, 403);
    // Valid credentials without access to the private room: 403.
    let r = raw(
        &s.sim,
        "GET",
        &url,
        &[("X-User-Id", &s.bot.0), ("X-Auth-Token", &s.bot.1)],
        vec![],
    )
    .await;
    assert_eq!(r.status, 403);
    // A member: the bytes with type and length.
    let r = raw(
        &s.sim,
        "GET",
        &url,
        &[("X-User-Id", &s.alice.0), ("X-Auth-Token", &s.alice.1)],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_ref(), data.as_slice());
    assert_eq!(r.headers["content-type"], "application/octet-stream");
    assert_eq!(r.headers["content-length"], "1000");
    // Cookies and query parameters work too.
    let cookie = format!("rc_uid={}; rc_token={}", s.alice.0, s.alice.1);
    let r = raw(&s.sim, "GET", &url, &[("Cookie", &cookie)], vec![]).await;
    assert_eq!(r.status, 200);
    let with_query = format!("{url}?rc_uid={}&rc_token={}", s.alice.0, s.alice.1);
    let r = raw(&s.sim, "GET", &with_query, &[], vec![]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 1000);
    // An unknown file: a bare 404.
    let r = raw(
        &s.sim,
        "GET",
        "/file-upload/nope/x.bin",
        &[("X-User-Id", &s.alice.0), ("X-Auth-Token", &s.alice.1)],
        vec![],
    )
    .await;
    assert_eq!(r.status, 404);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn deleting_the_message_deletes_its_upload() {
    let s = setup().await;
    let up = upload(&s.sim, &s.alice, &s.rid, "gone.txt", "text/plain", b"bye").await;
    let file_id = up.json()["file"]["_id"].as_str().unwrap().to_owned();
    let url = up.json()["file"]["url"].as_str().unwrap().to_owned();
    let r = confirm(&s.sim, &s.alice, &s.rid, &file_id, json!({})).await;
    let mid = r.body["message"]["_id"].as_str().unwrap().to_owned();
    let auth = [
        ("X-User-Id", s.alice.0.as_str()),
        ("X-Auth-Token", s.alice.1.as_str()),
    ];
    assert_eq!(raw(&s.sim, "GET", &url, &auth, vec![]).await.status, 200);

    let r = http(
        &s.sim,
        "POST",
        "/api/v1/chat.delete",
        Some((&s.alice.0, &s.alice.1)),
        Some(json!({"roomId": s.rid, "msgId": mid})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(s.sim.upload(&file_id).is_none());
    assert_eq!(raw(&s.sim, "GET", &url, &auth, vec![]).await.status, 404);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn upload_over_the_limit_is_refused_with_rocket_chat_error() {
    let s = setup().await;
    s.sim.set_file_upload_max_size(10);
    let up = upload(
        &s.sim,
        &s.alice,
        &s.rid,
        "big.txt",
        "text/plain",
        b"01234567890",
    )
    .await;
    assert_eq!(up.status, 400);
    assert_eq!(
        up.json(),
        json!({"success": false, "error": "[error-file-too-large]", "errorType": "error-file-too-large"})
    );
    // At the limit is fine.
    let up = upload(
        &s.sim,
        &s.alice,
        &s.rid,
        "ok.txt",
        "text/plain",
        b"0123456789",
    )
    .await;
    assert_eq!(up.status, 200, "{:?}", up.json());
    s.sim.shutdown().await;
}

#[tokio::test]
async fn media_routes_check_auth_room_file_and_fields() {
    let s = setup().await;
    // No credentials: the REST 401.
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let r = raw(
        &s.sim,
        "POST",
        &format!("/api/v1/rooms.media/{}", s.rid),
        &[("Content-Type", &content_type)],
        multipart("file", "a.txt", "text/plain", b"a"),
    )
    .await;
    assert_eq!(r.status, 401);
    // A private room the caller is not in: 403.
    let secret = s
        .sim
        .create_room(RoomKind::Private, "secret", &s.alice.0, &[])
        .unwrap();
    let r = upload(&s.sim, &s.bot, &secret, "a.txt", "text/plain", b"a").await;
    assert_eq!(r.status, 403);
    // A file under another field name.
    let r = raw(
        &s.sim,
        "POST",
        &format!("/api/v1/rooms.media/{}", s.rid),
        &[
            ("X-User-Id", &s.alice.0),
            ("X-Auth-Token", &s.alice.1),
            ("Content-Type", &content_type),
        ],
        multipart("other", "a.txt", "text/plain", b"a"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errorType"], "invalid-field");
    // Confirming an unknown file.
    let r = confirm(&s.sim, &s.alice, &s.rid, "nope", json!({})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errorType"], "invalid-file");
    // msgData with a key sendFileMessage does not accept.
    let up = upload(&s.sim, &s.alice, &s.rid, "a.txt", "text/plain", b"a").await;
    let file_id = up.json()["file"]["_id"].as_str().unwrap().to_owned();
    let r = confirm(&s.sim, &s.alice, &s.rid, &file_id, json!({"bogus": "x"})).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"].as_str().unwrap().contains("Match error"),
        "{}",
        r.body
    );
    assert!(s
        .sim
        .messages(&s.rid)
        .iter()
        .all(|m| m.get("file").is_none()));
    s.sim.shutdown().await;
}
