//! Files: downloading an attachment with the bot's credentials under a size limit, and
//! uploading one into a room or a thread (Rocket.Chat 8.x's two steps, `rooms.media` then
//! `rooms.mediaConfirm`, apps/meteor/app/api/server/v1/rooms.ts).
//!
//! Downloads read `GET <server>/file-upload/<id>/<name>` (which needs the auth headers:
//! apps/meteor/app/file-upload/server/lib/FileUpload.ts, `requestCanAccessFiles`).
//! A `Content-Length` over the limit is refused before the body is read, and a body without
//! one is read only until it passes the limit: at most `max_bytes + 1` bytes are held.
//!
//! # What a download may fetch: one rule, [`file_path`]
//! A message's file cards (`attachments[].title_link`) are text its author chose: a link
//! there can name any path the bot's token can read (`/api/v1/me`, another room's history).
//! So the path is never taken from the message. The mapper builds an attachment only from
//! the message's own upload records (`files[]`, or `file` on older documents) and sets its
//! URL with [`file_path`] from the record's id and name: exactly `/file-upload/<id>/<name>`,
//! the id a plain Meteor id and the name one percent-encoded path segment (no query, no
//! fragment, no `..`, no slash, encoded or not). [`download`] fetches only a URL equal to
//! what [`file_path`] makes of the attachment's id and name; anything else is refused
//! before any request.

use bytes::Bytes;
use channel_api::{Attachment, Error, MessageId, MessageRef, OutboundFile, Result, SentMessage};
use http::Method;
use http_body_util::BodyExt;
use serde_json::{json, Value};

use crate::error::RcError;
use crate::rest::{parse_body, Rest};

/// Longest response body of `rooms.media` read (it is `{file:{_id,url}}`).
const MAX_UPLOAD_ANSWER: usize = 64 * 1024;

/// A file name as one path segment: every byte but RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) percent-encoded, so nothing in it can end the segment or the
/// path (`/`, `\`, `?`, `#`, `%` are all encoded).
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Whether `id` is a plain upload id (Meteor's `Random.id()`: letters and digits; `-`
/// and `_` allowed), so it is one path segment as it is.
fn is_file_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The only path a download may fetch for an upload `id` named `name`:
/// `/file-upload/<id>/<name>`, as `sendFileMessage` links it
/// (apps/meteor/app/file-upload/server/methods/sendFileMessage.ts). `None` when the record
/// cannot make a safe path: an id that is not a plain id, or a name that is empty, `.`,
/// `..`, or holds a slash or backslash (it would not be one segment).
pub(crate) fn file_path(id: &str, name: &str) -> Option<String> {
    if !is_file_id(id) || name.is_empty() || name == "." || name == ".." {
        return None;
    }
    if name.contains(['/', '\\']) {
        return None;
    }
    Some(format!("/file-upload/{id}/{}", encode_segment(name)))
}

fn too_large(name: &str, size: u64, limit: u64) -> Error {
    Error::TooLarge {
        what: format!("file {name:?}"),
        size,
        limit,
    }
}

/// The path to fetch: the attachment's URL only when it is exactly [`file_path`] of its id
/// and name (what the mapper set). Anything else is refused, before any request.
fn download_path(attachment: &Attachment) -> Result<&str> {
    match file_path(&attachment.id, &attachment.name) {
        Some(path) if path == attachment.url => Ok(&attachment.url),
        _ => Err(Error::InvalidRequest {
            reason: format!(
                "attachment {:?} is not a file upload of this server ({:?})",
                attachment.name, attachment.url
            ),
        }),
    }
}

/// Fetches an attachment's bytes; more than `max_bytes` is `TooLarge`.
pub(crate) async fn download(
    rest: &Rest,
    attachment: &Attachment,
    max_bytes: u64,
) -> Result<Vec<u8>> {
    let path = download_path(attachment)?;
    let resp = rest.raw(Method::GET, path, None, Bytes::new()).await?;
    let status = resp.status();
    if !status.is_success() {
        // requests.ts answers a refused download with a bare 403 and an unknown file with a
        // bare 404 (the mapping makes them PermissionDenied and NotFound).
        return Err(RcError::Api {
            endpoint: "file-upload".into(),
            status: status.as_u16(),
            code: None,
            message: format!("download of {:?} refused", attachment.name),
        }
        .into());
    }
    let declared = resp
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(size) = declared {
        if size > max_bytes {
            // Dropping the response closes the connection without reading the body.
            return Err(too_large(&attachment.name, size, max_bytes));
        }
    }
    let capacity = declared.unwrap_or(0).min(max_bytes);
    let mut data: Vec<u8> = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    let mut body = resp.into_body();
    let idle = rest.request_timeout();
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => {
                return Err(RcError::Timeout(format!("download of {:?}", attachment.name)).into())
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(RcError::Transport(format!(
                    "download of {:?}: reading the body: {e}",
                    attachment.name
                ))
                .into())
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        let room = usize::try_from(max_bytes.saturating_add(1))
            .unwrap_or(usize::MAX)
            .saturating_sub(data.len());
        data.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if data.len() as u64 > max_bytes {
            return Err(too_large(&attachment.name, data.len() as u64, max_bytes));
        }
    }
    Ok(data)
}

/// A file name or MIME type as a multipart header value: the characters browsers escape
/// in `filename="..."` (WHATWG: `"`, CR, LF) percent-encoded, so no value can end the
/// header or the part.
fn header_safe(value: &str) -> String {
    value
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// `multipart/form-data` with one part: the file in field `file` (what `rooms.media`
/// reads). Returns the content type (with its boundary) and the body.
fn multipart(name: &str, mime_type: &str, data: &[u8]) -> (String, Vec<u8>) {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let tail: String = (0..32)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    let boundary = format!("----rocketchat-channel-{tail}");
    let mime_type = if mime_type.trim().is_empty() {
        "application/octet-stream".to_owned()
    } else {
        header_safe(mime_type)
    };
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {mime_type}\r\n\r\n",
        header_safe(name)
    )
    .into_bytes();
    body.reserve(data.len() + boundary.len() + 8);
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Whether a refused upload says the file is over the server's limit: a 413 (a proxy or
/// the server), or `error-file-too-large` (getUploadFormData.ts).
fn is_file_too_large(error: &RcError) -> bool {
    match error {
        RcError::Api { status, code, .. } => {
            *status == 413 || code.as_deref() == Some("error-file-too-large")
        }
        _ => false,
    }
}

/// Uploads `file` (`rooms.media`) and posts it with the caption (`rooms.mediaConfirm`).
pub(crate) async fn send_file(rest: &Rest, file: &OutboundFile) -> Result<SentMessage> {
    let rid = file.room.as_str();
    let size = file.data.len() as u64;
    let (content_type, body) = multipart(&file.name, &file.mime_type, &file.data);
    let resp = rest
        .raw(
            Method::POST,
            &format!("/api/v1/rooms.media/{rid}"),
            Some(&content_type),
            Bytes::from(body),
        )
        .await?;
    let status = resp.status();
    if status == http::StatusCode::TOO_MANY_REQUESTS {
        // Not retried here: the caller decides whether to upload the bytes again.
        let reset = resp
            .headers()
            .get("x-ratelimit-reset")
            .and_then(|v| v.to_str().ok());
        let retry_after = crate::backoff::wait_for_reset(reset, std::time::SystemTime::now());
        return Err(RcError::RateLimited { retry_after }.into());
    }
    let limited = http_body_util::Limited::new(resp.into_body(), MAX_UPLOAD_ANSWER);
    let bytes = tokio::time::timeout(rest.request_timeout(), limited.collect())
        .await
        .map_err(|_| RcError::Timeout("rooms.media".into()))?
        .map_err(|e| RcError::Transport(format!("rooms.media: reading the body: {e}")))?
        .to_bytes();
    let answer = match parse_body("rooms.media", status, &bytes) {
        Ok(answer) => answer,
        // The server does not say its limit; the file is at least one byte over it.
        Err(e) if is_file_too_large(&e) => {
            return Err(Error::TooLarge {
                what: format!(
                    "file {:?} (over the server's FileUpload_MaxFileSize)",
                    file.name
                ),
                size,
                limit: size.saturating_sub(1),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let file_id = answer
        .pointer("/file/_id")
        .and_then(Value::as_str)
        .ok_or_else(|| RcError::BadResponse("rooms.media: no file._id".into()))?;
    // sendFileMessage accepts only a fixed set of msgData keys (msg, tmid, ...).
    let mut confirm = json!({});
    if let Some(caption) = file.caption.as_deref().filter(|c| !c.is_empty()) {
        confirm["msg"] = json!(caption);
    }
    if let Some(root) = &file.thread {
        confirm["tmid"] = json!(root.as_str());
    }
    let posted = rest
        .call(
            Method::POST,
            &format!("rooms.mediaConfirm/{rid}/{file_id}"),
            &[],
            Some(&confirm),
        )
        .await?;
    let message = posted
        .get("message")
        .ok_or_else(|| RcError::BadResponse("rooms.mediaConfirm: no message".into()))?;
    let id = message
        .get("_id")
        .and_then(Value::as_str)
        .ok_or_else(|| RcError::BadResponse("rooms.mediaConfirm: no message._id".into()))?;
    let thread = message
        .get("tmid")
        .and_then(Value::as_str)
        .map(MessageId::new)
        .or_else(|| file.thread.clone());
    Ok(SentMessage {
        message: MessageRef {
            room: file.room.clone(),
            id: MessageId::new(id),
        },
        thread,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use crate::config::{RocketChatConfig, Secret};
    use crate::fatal::Fatal;

    /// Only turns a hang into a failure (the request timeout is longer on purpose: a
    /// download that waits for the body hangs past this).
    const HANG: Duration = Duration::from_secs(10);

    /// A server that answers every request with `head` and then `body`, and then keeps the
    /// connection open without sending more. Returns the address.
    async fn canned_server(head: &'static str, body: Vec<u8>) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let body = body.clone();
                tokio::spawn(async move {
                    let mut request = vec![0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                    // Hold the connection: a reader waiting for more hangs.
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    drop(socket);
                });
            }
        });
        addr
    }

    fn rest_for(addr: std::net::SocketAddr) -> (Rest, Fatal) {
        let mut config = RocketChatConfig::new(
            format!("http://{addr}"),
            "botid",
            "bot",
            Secret::new("token".to_owned()),
        );
        config.dangerously_allow_insecure = true;
        config.timeouts.request = Duration::from_secs(60);
        let tls = crate::tls::client_config(&config).unwrap();
        let fatal = Fatal::new();
        (Rest::new(&config, tls, fatal.clone()).unwrap(), fatal)
    }

    /// An attachment of upload `F1` with `url`, named as the URL's last segment.
    fn attachment(url: &str) -> Attachment {
        Attachment {
            id: "F1".into(),
            name: url.rsplit('/').next().unwrap_or_default().into(),
            mime_type: None,
            size: None,
            url: url.into(),
        }
    }

    async fn fetch(rest: &Rest, url: &str, max: u64) -> Result<Vec<u8>> {
        tokio::time::timeout(HANG, download(rest, &attachment(url), max))
            .await
            .expect("the download hung (it read a body it should have refused)")
    }

    #[tokio::test]
    async fn content_length_over_the_limit_is_refused_without_reading_the_body() {
        // Ten megabytes announced, none sent: only a check of the header can answer.
        let addr = canned_server(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n",
            Vec::new(),
        )
        .await;
        let (rest, _) = rest_for(addr);
        let error = fetch(&rest, "/file-upload/F1/big.bin", 100)
            .await
            .unwrap_err();
        assert_eq!(
            error,
            Error::TooLarge {
                what: "file \"big.bin\"".into(),
                size: 10_000_000,
                limit: 100,
            }
        );
    }

    #[tokio::test]
    async fn a_body_without_length_is_cut_off_just_past_the_limit() {
        // Chunked, 64 chunks of 100 bytes, then the connection stalls: the reader must stop
        // on its own after 101 bytes.
        let mut body = Vec::new();
        for _ in 0..64 {
            body.extend_from_slice(b"64\r\n");
            body.extend_from_slice(&[b'x'; 100]);
            body.extend_from_slice(b"\r\n");
        }
        let addr = canned_server(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
            body,
        )
        .await;
        let (rest, _) = rest_for(addr);
        let error = fetch(&rest, "/file-upload/F1/big.bin", 250)
            .await
            .unwrap_err();
        assert_eq!(
            error,
            Error::TooLarge {
                what: "file \"big.bin\"".into(),
                size: 251,
                limit: 250,
            }
        );
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_returned_whole() {
        let addr = canned_server(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n",
            b"hello".to_vec(),
        )
        .await;
        let (rest, _) = rest_for(addr);
        assert_eq!(
            fetch(&rest, "/file-upload/F1/a.txt", 5).await.unwrap(),
            b"hello"
        );
    }

    #[tokio::test]
    async fn a_401_on_download_is_fatal() {
        let addr = canned_server(
            "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
            Vec::new(),
        )
        .await;
        let (rest, fatal) = rest_for(addr);
        let error = fetch(&rest, "/file-upload/F1/a.txt", 5).await.unwrap_err();
        assert!(matches!(error, Error::Unauthorized { .. }), "{error:?}");
        assert!(
            fatal.get().is_some(),
            "a 401 must trip the account's fatal switch"
        );
        // Every later call fails without a request.
        let error = fetch(&rest, "/file-upload/F1/a.txt", 5).await.unwrap_err();
        assert!(
            matches!(error, Error::Unauthorized { .. } | Error::Closed { .. }),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn refusals_and_missing_files_are_typed() {
        let addr = canned_server(
            "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
            Vec::new(),
        )
        .await;
        let (rest, fatal) = rest_for(addr);
        let error = fetch(&rest, "/file-upload/F1/a.txt", 5).await.unwrap_err();
        assert!(matches!(error, Error::PermissionDenied { .. }), "{error:?}");
        assert!(fatal.get().is_none());
        let addr = canned_server(
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            Vec::new(),
        )
        .await;
        let (rest, _) = rest_for(addr);
        let error = fetch(&rest, "/file-upload/F1/a.txt", 5).await.unwrap_err();
        assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
    }

    #[test]
    fn paths_with_the_root_url_prefix_are_not_prefixed_twice() {
        let rest_at = |url: &str| {
            let mut config =
                RocketChatConfig::new(url, "botid", "bot", Secret::new("token".to_owned()));
            config.dangerously_allow_insecure = true;
            let tls = crate::tls::client_config(&config).unwrap();
            Rest::new(&config, tls, Fatal::new()).unwrap()
        };
        let prefixed = rest_at("https://chat.example/team");
        assert_eq!(
            prefixed.resolve("/team/file-upload/F1/a.txt"),
            "https://chat.example:443/team/file-upload/F1/a.txt"
        );
        assert_eq!(
            prefixed.resolve("/file-upload/F1/a.txt"),
            "https://chat.example:443/team/file-upload/F1/a.txt"
        );
        assert_eq!(
            prefixed.resolve("/teamwork/x"),
            "https://chat.example:443/team/teamwork/x"
        );
        let plain = rest_at("https://chat.example");
        assert_eq!(
            plain.resolve("/file-upload/F1/a.txt"),
            "https://chat.example:443/file-upload/F1/a.txt"
        );
    }

    #[tokio::test]
    async fn anything_but_the_files_own_path_is_refused_before_any_request() {
        // Nothing listens here: a request would be a transport error, not InvalidRequest.
        let (rest, _) = rest_for("127.0.0.1:9".parse().unwrap());
        // Even the server's own origin: only a path is ever joined to the base.
        let own = "http://127.0.0.1:9/file-upload/F1/a.txt";
        for url in [
            "/api/v1/groups.history?roomId=P1&x=/file-upload/F1/a",
            "/api/v1/me",
            "/file-upload/../api/v1/me",
            "/file-upload/F1/../../api/v1/me",
            "/file-upload/F1/%2e%2e",
            "/file-upload/F1/a%2Fb",
            "/file-upload/F1/a.txt?x=1",
            "/file-upload/F1/a.txt#x",
            "/file-upload/F2/a.txt",
            "http://elsewhere.example/file-upload/F1/a.txt",
            "//elsewhere.example/file-upload/F1/a.txt",
            own,
            "file-upload/F1/a.txt",
            "/file-upload/F1/a b.txt",
        ] {
            // Named as the URL ends, or as the path it imitates.
            for name in [url.rsplit('/').next().unwrap_or_default(), "a.txt"] {
                let attachment = Attachment {
                    name: name.into(),
                    ..attachment(url)
                };
                let result = tokio::time::timeout(HANG, download(&rest, &attachment, 5))
                    .await
                    .unwrap();
                assert!(
                    matches!(result, Err(Error::InvalidRequest { .. })),
                    "{url} as {name:?}: {result:?}"
                );
            }
        }
        // The file's own path goes out (and fails later, at the connection).
        let error = fetch(&rest, "/file-upload/F1/a.txt", 5).await.unwrap_err();
        assert!(!matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    }

    #[test]
    fn file_paths_are_one_plain_id_and_one_encoded_segment() {
        assert_eq!(
            file_path("F1", "a b.png").as_deref(),
            Some("/file-upload/F1/a%20b.png")
        );
        assert_eq!(
            file_path("F1", "é(1)?#%.txt").as_deref(),
            Some("/file-upload/F1/%C3%A9%281%29%3F%23%25.txt")
        );
        assert_eq!(
            file_path("F1", "..a..").as_deref(),
            Some("/file-upload/F1/..a..")
        );
        for (id, name) in [
            ("F1", ""),
            ("F1", "."),
            ("F1", ".."),
            ("F1", "a/b"),
            ("F1", "a\\b"),
            ("../api", "a"),
            ("F1?x", "a"),
            ("F%31", "a"),
            ("", "a"),
        ] {
            assert_eq!(file_path(id, name), None, "{id:?} {name:?}");
        }
    }

    #[test]
    fn multipart_has_one_file_part_and_a_fresh_boundary() {
        let (ct, body) = multipart("x\"y\r\n.txt", "text/plain", b"DATA");
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"file\"; filename=\"x%22y%0D%0A.txt\"\r\n"));
        assert!(text.contains("Content-Type: text/plain\r\n\r\nDATA\r\n"));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        let (other, _) = multipart("a", "", b"");
        assert_ne!(ct, other);
        let (_, body) = multipart("a", "", b"");
        assert!(String::from_utf8(body)
            .unwrap()
            .contains("Content-Type: application/octet-stream\r\n"));
    }

    #[test]
    fn too_large_refusals_are_recognised() {
        let api = |status, error_type: Option<&str>, message: &str| RcError::Api {
            endpoint: "rooms.media".into(),
            status,
            code: crate::error::error_code(error_type, message),
            message: message.into(),
        };
        assert!(is_file_too_large(&api(
            400,
            Some("error-file-too-large"),
            "[error-file-too-large]"
        )));
        assert!(is_file_too_large(&api(400, None, "[error-file-too-large]")));
        assert!(is_file_too_large(&api(413, None, "Payload Too Large")));
        assert!(!is_file_too_large(&api(
            400,
            Some("invalid-field"),
            "[invalid-field]"
        )));
    }
}
