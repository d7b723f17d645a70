//! `emoji-custom.list` and `emoji-custom.all`.
//!
//! Source: `apps/meteor/app/api/server/v1/emoji-custom.ts`; tests `emoji-custom.ts`.

use http::{Method, Response};
use serde_json::{json, Value};

use super::{failure, paginate, pagination, success, Body, Ctx, Handler};
use crate::util::{ejson_date, parse_date_ms};
use crate::world::OpError;

pub(super) fn route(method: &Method, route: &str) -> Option<Handler> {
    let h: Handler = match (method, route) {
        (&Method::GET, "emoji-custom.list") => list,
        (&Method::GET, "emoji-custom.all") => all,
        _ => return None,
    };
    Some(h)
}

/// `{emojis: {update, remove}}`, both since `updatedSince` when given.
fn list(ctx: &mut Ctx<'_>) -> Response<Body> {
    let since = match ctx.query("updatedSince").map(parse_date_ms) {
        Some(None) => {
            return failure(&OpError::meteor(
                "error-roomId-param-invalid",
                "The \"updatedSince\" query parameter must be a valid date.",
            ))
        }
        Some(Some(ms)) => Some(ms),
        None => None,
    };
    let store = &ctx.w().emoji;
    let update: Vec<Value> = store
        .list
        .iter()
        .filter(|e| since.is_none_or(|s| e.updated_at > s))
        .map(|e| e.doc())
        .collect();
    let remove: Vec<Value> = match since {
        Some(s) => store
            .removed
            .iter()
            .filter(|(_, at)| *at > s)
            .map(|(id, at)| json!({"_id": id, "_deletedAt": ejson_date(*at)}))
            .collect(),
        None => Vec::new(),
    };
    success(json!({"emojis": {"update": update, "remove": remove}}))
}

/// `{emojis, count, offset, total}`, sorted by name.
fn all(ctx: &mut Ctx<'_>) -> Response<Body> {
    let mut docs: Vec<Value> = ctx.w().emoji.list.iter().map(|e| e.doc()).collect();
    docs.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let (offset, count) = pagination(ctx);
    let (emojis, total) = paginate(docs, offset, count);
    let n = emojis.len();
    success(json!({"emojis": emojis, "count": n, "offset": offset, "total": total}))
}
