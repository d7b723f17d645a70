//! File uploads as Rocket.Chat 8.x does them: the two-step `rooms.media` / `rooms.mediaConfirm`
//! REST pair, and the authenticated `GET /file-upload/:fileId/:name` download.
//!
//! Sources (Rocket.Chat 8.x):
//! - `apps/meteor/app/api/server/v1/rooms.ts`: `rooms.media/:rid` (room access, then the
//!   multipart form with field `file` limited to `FileUpload_MaxFileSize`; stores a temporary
//!   upload and answers `{file: {_id, url}}`) and `rooms.mediaConfirm/:rid/:fileId` (room
//!   access, `invalid-file`, the description limit, then `sendFileMessage` with the body as
//!   `msgData`; answers `{message}`).
//! - `apps/meteor/app/api/server/lib/getUploadFormData.ts`: a file over the limit is
//!   `MeteorError('error-file-too-large')`, which the API answers as a 400
//!   `{"success":false,"error":"[error-file-too-large]","errorType":"error-file-too-large"}`.
//! - `apps/meteor/app/file-upload/server/methods/sendFileMessage.ts`: the message's `file`,
//!   `files` and `attachments` (`title`, `type:"file"`, `title_link` =
//!   `/file-upload/<id>/<encodeURI(name)>`, `title_link_download:true`, then `image_*`,
//!   `audio_*`, `video_*` or `format` + `size` by MIME type), `msg` defaulting to `""`,
//!   `groupable:false`, and the `msgData` pattern (only `avatar`, `emoji`, `alias`,
//!   `groupable`, `msg`, `tmid`, `customFields`, `t`, `content`).
//! - `apps/meteor/app/file-upload/server/lib/requests.ts` and `FileUpload.ts`
//!   (`requestCanAccessFiles`): with `FileUpload_ProtectFiles` (on by default) the download
//!   needs `rc_uid`/`rc_token` (query, then cookies) or `X-User-Id`/`X-Auth-Token`; a
//!   refused request is a bare 403, an unknown file a bare 404. The room check follows
//!   `FileUpload_Restrict_to_users_who_can_access_room` (`canAccessRoomIdAsync`).
//! - `apps/meteor/app/lib/server/functions/deleteMessage.ts`: deleting a message deletes its
//!   uploads unless `Message_KeepHistory` is on.
//!
//! Not simulated: thumbnails and image previews, EXIF stripping, MIME type allow/deny
//! lists, the expiry of unconfirmed uploads, range requests, the REST rate limiter and the
//! latency fault on these routes.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyDataStream, Full};
use hyper::body::Incoming;
use serde_json::{json, Map, Value};

use super::{Body, Ctx, Handler};
use crate::hub::{Shared, State};
use crate::rest;
use crate::world::{encode_uri, file_path, SendInput, SendPath, Upload};

/// Room for the multipart framing around the file on top of the file limit.
const FORM_OVERHEAD: u64 = 64 * 1024;

pub(super) fn route(method: &Method, route: &str) -> Option<Handler> {
    if method == Method::POST && route.starts_with("rooms.mediaConfirm/") {
        let h: Handler = media_confirm;
        return Some(h);
    }
    None
}

/// `getFileExtension`: the text after the last dot, lowercased; `""` without one.
fn file_extension(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((_, ext)) if !ext.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

fn meteor_failure(code: &str) -> Response<Body> {
    // A `Meteor.Error(code)` without a reason: its message is `[code]`.
    rest::json_response(
        StatusCode::BAD_REQUEST,
        &json!({"success": false, "error": format!("[{code}]"), "errorType": code}),
    )
}

fn bare(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

/// The user the `X-User-Id` / `X-Auth-Token` headers log in, if any.
fn header_user(st: &State, headers: &HeaderMap) -> Option<String> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (uid, token) = (get("x-user-id")?, get("x-auth-token")?);
    st.world.authenticate(uid, token).map(|u| u.id.clone())
}

/// `POST /api/v1/rooms.media/:rid`: authentication, room access, then the multipart form
/// read with the size limit (the body is not read past it).
pub(crate) async fn rooms_media(
    shared: &Arc<Shared>,
    rid: &str,
    req: Request<Incoming>,
) -> Response<Body> {
    let (uid, max) = {
        let st = shared.lock();
        let Some(uid) = header_user(&st, req.headers()) else {
            return rest::unauthorized(shared.config.legacy_auth_bodies);
        };
        if !st.world.can_access(rid, &uid) {
            return rest::forbidden();
        }
        (uid, st.world.settings.max_file_size())
    };
    let boundary = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let Some(boundary) = boundary else {
        // busboy refuses a body that is not multipart before any field is read.
        return rest::failure_text("Unsupported content type: expected multipart/form-data");
    };
    let form = match read_form(req.into_body(), boundary, max).await {
        Ok(form) => form,
        Err(resp) => return resp,
    };
    let Some(file) = form.file else {
        return meteor_failure("No file uploaded");
    };
    let mut st = shared.lock();
    let id = crate::util::random_id();
    let url = file_path(&id, &file.name);
    st.world.uploads.files.insert(
        id.clone(),
        Upload {
            id: id.clone(),
            rid: rid.to_owned(),
            user_id: uid,
            name: file.name,
            mime_type: file.mime_type,
            data: file.data,
            confirmed: false,
        },
    );
    rest::success(json!({"file": {"_id": id, "url": url}}))
}

/// The parts of the form `rooms.media` uses.
struct Form {
    file: Option<FormFile>,
}

struct FormFile {
    name: String,
    mime_type: String,
    data: Bytes,
}

// The Err is a ready response; boxing buys nothing here.
#[allow(clippy::result_large_err)]
/// Reads the multipart body: the `file` field up to `max` bytes (more is
/// `error-file-too-large`), other fields ignored (`rooms.media` only reads `content`, which
/// the simulator does not model). Another file field is `invalid-field`.
async fn read_form(body: Incoming, boundary: String, max: u64) -> Result<Form, Response<Body>> {
    let limits = multer::SizeLimit::new()
        .for_field("file", max)
        .whole_stream(max.saturating_add(FORM_OVERHEAD));
    let mut multipart = multer::Multipart::with_constraints(
        BodyDataStream::new(body),
        boundary,
        multer::Constraints::new().size_limit(limits),
    );
    let too_large = |e: &multer::Error| {
        matches!(
            e,
            multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. }
        )
    };
    let mut form = Form { file: None };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Ok(form),
            Err(e) if too_large(&e) => return Err(meteor_failure("error-file-too-large")),
            Err(e) => return Err(rest::failure_text(&e.to_string())),
        };
        let Some(file_name) = field.file_name().map(str::to_owned) else {
            // A plain field: drain it.
            if let Err(e) = field.bytes().await {
                if too_large(&e) {
                    return Err(meteor_failure("error-file-too-large"));
                }
                return Err(rest::failure_text(&e.to_string()));
            }
            continue;
        };
        if field.name() != Some("file") {
            return Err(meteor_failure("invalid-field"));
        }
        if form.file.is_some() {
            // getUploadFormData: `MeteorError('error-too-many-files', 'Just 1 file is allowed')`
            // (rooms.ts "should not upload more than one file at a time").
            return Err(rest::failure(&crate::world::OpError::meteor(
                "error-too-many-files",
                "Just 1 file is allowed",
            )));
        }
        let mime_type = field
            .content_type()
            .map(ToString::to_string)
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let data = match field.bytes().await {
            Ok(data) => data,
            Err(e) if too_large(&e) => return Err(meteor_failure("error-file-too-large")),
            Err(e) => return Err(rest::failure_text(&e.to_string())),
        };
        form.file = Some(FormFile {
            name: file_name,
            mime_type,
            data,
        });
    }
}

/// The keys `sendFileMessage` accepts in `msgData`, with whether each must be a string
/// (`groupable` is a boolean, `content` an object).
const MSG_DATA_KEYS: &[&str] = &[
    "avatar",
    "emoji",
    "alias",
    "groupable",
    "msg",
    "tmid",
    "customFields",
    "t",
    "content",
];

/// `POST /api/v1/rooms.mediaConfirm/:rid/:fileId` (authenticated by the REST router):
/// posts the file message, broadcast like any message once the caller flushes.
fn media_confirm(ctx: &mut Ctx<'_>) -> Response<Body> {
    let uid = ctx.user.id.clone();
    let uid = uid.as_str();
    let req = ctx.req;
    let st = &mut *ctx.st;
    let rest_of_route = req
        .route
        .strip_prefix("rooms.mediaConfirm/")
        .unwrap_or_default();
    let Some((rid, file_id)) = rest_of_route.split_once('/') else {
        return meteor_failure("invalid-file");
    };
    if !st.world.can_access(rid, uid) {
        return rest::forbidden();
    }
    let Some(upload) = st.world.uploads.files.get(file_id).cloned() else {
        return meteor_failure("invalid-file");
    };
    let mut msg_data: Map<String, Value> = req.body.as_object().cloned().unwrap_or_default();
    let description = match msg_data.remove("description") {
        Some(Value::String(d)) => Some(d),
        _ => None,
    };
    let limit = st.world.settings.max_message_size();
    if description
        .as_deref()
        .is_some_and(|d| d.encode_utf16().count() > limit)
    {
        return meteor_failure("error-message-size-exceeded");
    }
    // `check(msgData, Match.Maybe({...}))`: an unknown key or a wrong type is a Match error.
    for (key, value) in &msg_data {
        let ok = match key.as_str() {
            "groupable" => value.is_boolean(),
            "content" => value.is_object(),
            k if MSG_DATA_KEYS.contains(&k) => value.is_string(),
            _ => false,
        };
        if !ok {
            return rest::failure_text(&format!("Match error: Unknown key in field {key}"));
        }
    }
    let (file, attachment) = file_props(&upload, description.as_deref());
    let mut extra = Map::new();
    for (key, value) in &msg_data {
        if !matches!(key.as_str(), "msg" | "tmid") {
            extra.insert(key.clone(), value.clone());
        }
    }
    extra.insert(
        "groupable".into(),
        msg_data.get("groupable").cloned().unwrap_or(json!(false)),
    );
    extra.insert("file".into(), file.clone());
    extra.insert("files".into(), json!([file]));
    extra.insert("attachments".into(), json!([attachment]));
    let input = SendInput {
        id: None,
        rid: rid.to_owned(),
        msg: msg_data
            .get("msg")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        tmid: msg_data
            .get("tmid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        tshow: None,
        ts: None,
        extra,
        preview_urls: None,
    };
    match st.world.send(uid, input, SendPath::Execute) {
        Ok(Some(doc)) => {
            // `Uploads.confirmTemporaryFile(fileId, userId)` matches the uploader only.
            if let Some(stored) = st.world.uploads.files.get_mut(file_id) {
                stored.confirmed |= stored.user_id == uid;
            }
            rest::success(json!({"message": doc}))
        }
        Ok(None) => rest::failure_text("unknown-error"),
        Err(e) => rest::failure(&e),
    }
}

/// `parseFileIntoMessageAttachments`: the `files[0]` entry and the one attachment.
fn file_props(upload: &Upload, description: Option<&str>) -> (Value, Value) {
    let url = file_path(&upload.id, &upload.name);
    let type_group = upload
        .mime_type
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let file = json!({
        "_id": upload.id,
        "name": upload.name,
        "type": upload.mime_type,
        "size": upload.data.len(),
        "format": "",
        "typeGroup": type_group,
    });
    let mut attachment = json!({
        "title": upload.name,
        "type": "file",
        "title_link": url,
        "title_link_download": true,
        "fileId": upload.id,
    });
    let size = upload.data.len();
    let extra = match type_group.as_str() {
        "image" => json!({"image_url": url, "image_type": upload.mime_type, "image_size": size}),
        "audio" => json!({"audio_url": url, "audio_type": upload.mime_type, "audio_size": size}),
        "video" => json!({"video_url": url, "video_type": upload.mime_type, "video_size": size}),
        _ => json!({"format": file_extension(&upload.name), "size": size}),
    };
    if let (Some(a), Value::Object(more)) = (attachment.as_object_mut(), extra) {
        a.extend(more);
        if let Some(d) = description {
            a.insert("description".into(), json!(d));
        }
    }
    (file, attachment)
}

/// `GET /file-upload/:fileId/:name`: the bytes to a caller who may read the file's room.
pub(crate) fn download(
    shared: &Arc<Shared>,
    rest_of_path: &str,
    req: &Request<Incoming>,
) -> Response<Body> {
    // requests.ts: /^\/([^\/]+)\/(.*)/ on the path below /file-upload.
    let Some((file_id, _name)) = rest_of_path.split_once('/') else {
        return bare(StatusCode::NOT_FOUND);
    };
    let st = shared.lock();
    let Some(upload) = st.world.uploads.files.get(file_id) else {
        return bare(StatusCode::NOT_FOUND);
    };
    // FileUpload_ProtectFiles off: anyone with the link may read.
    if st
        .world
        .settings
        .bool(crate::world::setting_id::FILE_UPLOAD_PROTECT_FILES)
    {
        let Some(uid) = file_user(&st, req) else {
            return bare(StatusCode::FORBIDDEN);
        };
        if !st.world.can_access(&upload.rid, &uid) {
            return bare(StatusCode::FORBIDDEN);
        }
    }
    let body = if req.method() == Method::HEAD {
        Bytes::new()
    } else {
        upload.data.clone()
    };
    let mut resp = Response::new(Full::new(body));
    let headers = resp.headers_mut();
    let pairs = [
        ("content-type", upload.mime_type.clone()),
        ("content-length", upload.data.len().to_string()),
        (
            "content-disposition",
            format!("attachment; filename*=UTF-8''{}", encode_uri(&upload.name)),
        ),
        ("content-security-policy", "default-src 'none'".to_owned()),
        ("cache-control", "max-age=31536000".to_owned()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    resp
}

/// `requestCanAccessFiles`' credentials: `rc_uid` / `rc_token` from the query, else from
/// cookies, else the `X-User-Id` / `X-Auth-Token` headers. `None` when they log no one in.
fn file_user(st: &State, req: &Request<Incoming>) -> Option<String> {
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let mut uid = query.get("rc_uid").cloned();
    let mut token = query.get("rc_token").cloned();
    if uid.is_none() {
        let cookies: HashMap<String, String> = req
            .headers()
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        uid = cookies.get("rc_uid").cloned();
        token = cookies.get("rc_token").cloned();
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let uid = uid.or_else(|| header("x-user-id"))?;
    let token = token.or_else(|| header("x-auth-token"))?;
    st.world.authenticate(&uid, &token).map(|u| u.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_lowercased_after_the_last_dot() {
        assert_eq!(file_extension("Report.Final.PDF"), "pdf");
        assert_eq!(file_extension("README"), "");
    }

    #[test]
    fn attachment_shape_follows_the_mime_type() {
        let upload = Upload {
            id: "F1".into(),
            rid: "R".into(),
            user_id: "U".into(),
            name: "cat.png".into(),
            mime_type: "image/png".into(),
            data: Bytes::from_static(b"1234"),
            confirmed: false,
        };
        let (file, attachment) = file_props(&upload, Some("a cat"));
        assert_eq!(file["typeGroup"], "image");
        assert_eq!(attachment["image_url"], "/file-upload/F1/cat.png");
        assert_eq!(attachment["image_size"], 4);
        assert_eq!(attachment["description"], "a cat");
        assert!(attachment.get("format").is_none());

        let doc = Upload {
            name: "notes.TXT".into(),
            mime_type: "text/plain".into(),
            ..upload
        };
        let (_, attachment) = file_props(&doc, None);
        assert_eq!(attachment["format"], "txt");
        assert_eq!(attachment["size"], 4);
        assert_eq!(attachment["title_link_download"], true);
        assert!(attachment.get("image_url").is_none());
        assert!(attachment.get("description").is_none());
    }
}
