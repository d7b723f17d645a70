//! `validateMessage`'s checks (apps/meteor/app/lib/server/functions/sendMessage.ts, stored
//! version 026bdc00): the `check()` of the message fields and of every attachment, field and
//! action (URL fields must be http(s), `data:` or `/file-upload/`, never `javascript:`),
//! and `validateCustomMessageFields` (`Message_CustomFields_Enabled` plus the JSON schema in
//! `Message_CustomFields`, of which a subset is read: `type`, `properties`, `required`,
//! `enum`, `nullable`, `additionalProperties`).
//!
//! A `Match.Error` is a plain error (a 400 with its text over REST); the texts are the
//! simulator's own wording of "which field has which wrong type".

use serde_json::{Map, Value};

use super::OpError;

/// What a field must be.
#[derive(Debug, Clone, Copy)]
enum Want {
    Str,
    Bool,
    Num,
    StrOrNum,
    Obj,
    Array,
    /// `validFullURL`.
    Url,
    /// `validPartialURL`: also relative URLs.
    PartialUrl,
}

const MESSAGE_FIELDS: &[(&str, Want)] = &[
    ("_id", Want::Str),
    ("msg", Want::Str),
    ("text", Want::Str),
    ("alias", Want::Str),
    ("emoji", Want::Str),
    ("tmid", Want::Str),
    ("tshow", Want::Bool),
    ("avatar", Want::PartialUrl),
    ("attachments", Want::Array),
    ("blocks", Want::Array),
];

const ATTACHMENT_FIELDS: &[(&str, Want)] = &[
    ("color", Want::Str),
    ("text", Want::Str),
    ("ts", Want::StrOrNum),
    ("thumb_url", Want::Url),
    ("button_alignment", Want::Str),
    ("actions", Want::Array),
    ("message_link", Want::Url),
    ("collapsed", Want::Bool),
    ("author_name", Want::Str),
    ("author_link", Want::Url),
    ("author_icon", Want::Url),
    ("title", Want::Str),
    ("title_link", Want::Url),
    ("title_link_download", Want::Bool),
    ("image_dimensions", Want::Obj),
    ("image_url", Want::Url),
    ("image_preview", Want::Str),
    ("image_type", Want::Str),
    ("image_size", Want::Num),
    ("audio_url", Want::Url),
    ("audio_type", Want::Str),
    ("audio_size", Want::Num),
    ("video_url", Want::Url),
    ("video_type", Want::Str),
    ("video_size", Want::Num),
    ("fields", Want::Array),
];

const ACTION_FIELDS: &[(&str, Want)] = &[
    ("type", Want::Str),
    ("text", Want::Str),
    ("url", Want::Url),
    ("image_url", Want::Url),
    ("is_webview", Want::Bool),
    ("webview_height_ratio", Want::Str),
    ("msg", Want::Str),
    ("msg_in_chat_window", Want::Bool),
];

fn match_error(path: &str) -> OpError {
    OpError::Plain(format!("Match error: Failed validation in field {path}"))
}

fn is_full_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("data:")
        || text.starts_with("/file-upload/")
}

fn check_value(path: &str, value: &Value, want: Want) -> Result<(), OpError> {
    // objectMaybeIncluding: null / undefined pass.
    if value.is_null() {
        return Ok(());
    }
    let ok = match want {
        Want::Str => value.is_string(),
        Want::Bool => value.is_boolean(),
        Want::Num => value.is_number(),
        Want::StrOrNum => value.is_string() || value.is_number(),
        Want::Obj => value.is_object(),
        Want::Array => value.is_array(),
        Want::Url | Want::PartialUrl => {
            let Some(text) = value.as_str() else {
                return Err(match_error(path));
            };
            if text
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("javascript:")
            {
                return Err(OpError::plain("Invalid href value provided"));
            }
            is_full_url(text) || (matches!(want, Want::PartialUrl) && text.starts_with('/'))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(match_error(path))
    }
}

fn check_object(
    path: &str,
    obj: &Map<String, Value>,
    fields: &[(&str, Want)],
) -> Result<(), OpError> {
    for (key, want) in fields {
        if let Some(v) = obj.get(*key) {
            check_value(&format!("{path}{key}"), v, *want)?;
        }
    }
    Ok(())
}

/// `validateMessage`'s `check()`s of the message and its attachments.
pub(crate) fn check_message(message: &Map<String, Value>) -> Result<(), OpError> {
    check_object("", message, MESSAGE_FIELDS)?;
    let Some(attachments) = message.get("attachments").and_then(Value::as_array) else {
        return Ok(());
    };
    for (i, attachment) in attachments.iter().enumerate() {
        check_attachment(&format!("attachments[{i}]"), attachment)?;
    }
    Ok(())
}

fn check_attachment(path: &str, attachment: &Value) -> Result<(), OpError> {
    let Some(obj) = attachment.as_object() else {
        return Err(match_error(path));
    };
    check_object(&format!("{path}."), obj, ATTACHMENT_FIELDS)?;
    for (i, field) in obj
        .get("fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let fpath = format!("{path}.fields[{i}]");
        let Some(f) = field.as_object() else {
            return Err(match_error(&fpath));
        };
        check_value(
            &format!("{fpath}.short"),
            f.get("short").unwrap_or(&Value::Null),
            Want::Bool,
        )?;
        check_value(
            &format!("{fpath}.title"),
            f.get("title").unwrap_or(&Value::Null),
            Want::Str,
        )?;
        let value = f.get("value").unwrap_or(&Value::Null);
        if !(value.is_null() || value.is_string() || value.is_number() || value.is_boolean()) {
            return Err(match_error(&format!("{fpath}.value")));
        }
        // `if (!field.value || !field.title)`: JavaScript falsiness.
        let falsy = |v: &Value| match v {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            _ => false,
        };
        if falsy(value) || falsy(f.get("title").unwrap_or(&Value::Null)) {
            return Err(OpError::plain(
                "Invalid attachment field, title and value is required",
            ));
        }
    }
    for (i, action) in obj
        .get("actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let apath = format!("{path}.actions[{i}]");
        let Some(a) = action.as_object() else {
            return Err(match_error(&apath));
        };
        check_object(&format!("{apath}."), a, ACTION_FIELDS)?;
    }
    // Nested attachments (quotes) are checked the same way.
    for (i, inner) in obj
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        check_attachment(&format!("{path}.attachments[{i}]"), inner)?;
    }
    Ok(())
}

/// `validateCustomMessageFields`.
pub(crate) fn check_custom_fields(
    custom_fields: &Value,
    enabled: bool,
    schema_text: &str,
) -> Result<(), OpError> {
    if !enabled {
        return Err(OpError::plain("Custom fields not enabled"));
    }
    let schema: Value = serde_json::from_str(schema_text)
        .map_err(|_| OpError::plain("Unexpected end of JSON input"))?;
    let mut errors = Vec::new();
    check_schema(custom_fields, &schema, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(OpError::Plain(errors.join("\n")))
    }
}

fn type_matches(value: &Value, ty: &str) -> bool {
    match ty {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.as_f64().is_some_and(|f| f.fract() == 0.0),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => true,
    }
}

/// An ajv-like check of the schema subset, collecting ajv's messages.
fn check_schema(value: &Value, schema: &Value, errors: &mut Vec<String>) {
    let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
    if value.is_null() && nullable {
        return;
    }
    // The whole custom-fields value is an object whatever the schema's top says.
    if let Some(ty) = schema.get("type").and_then(Value::as_str) {
        if !type_matches(value, ty) {
            errors.push(format!("must be {ty}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            errors.push("must be equal to one of the allowed values".to_owned());
        }
    }
    let Some(obj) = value.as_object() else {
        if schema.get("properties").is_some() || schema.get("required").is_some() {
            errors.push("must be object".to_owned());
        }
        return;
    };
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !obj.contains_key(required) {
            errors.push(format!("must have required property '{required}'"));
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (key, v) in obj {
        match properties.and_then(|p| p.get(key)) {
            Some(sub) => check_schema(v, sub, errors),
            None => {
                if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
                    errors.push("must NOT have additional properties".to_owned());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn urls_and_types_in_attachments() {
        assert!(check_message(&obj(json!({"attachments": [{"title_link": "https://x"}]}))).is_ok());
        assert_eq!(
            check_message(&obj(
                json!({"attachments": [{"author_link": "javascript:alert(1)"}]})
            )),
            Err(OpError::plain("Invalid href value provided"))
        );
        assert!(check_message(&obj(json!({"attachments": [{"message_link": 12}]}))).is_err());
        assert!(check_message(&obj(
            json!({"attachments": [{"actions": [{"url": "javascript:x"}]}]})
        ))
        .is_err());
        assert!(check_message(&obj(json!({"avatar": "/avatar/x"}))).is_ok());
        assert!(check_message(&obj(json!({"avatar": "javascript:x"}))).is_err());
        assert_eq!(
            check_message(&obj(
                json!({"attachments": [{"fields": [{"title": "t", "value": ""}]}]})
            )),
            Err(OpError::plain(
                "Invalid attachment field, title and value is required"
            ))
        );
    }

    #[test]
    fn custom_field_schema_subset() {
        let schema = r#"{"properties":{"priority":{"type":"string","nullable":false,"enum":["low","high"]}},"required":["priority"]}"#;
        assert!(check_custom_fields(&json!({"priority": "low"}), true, schema).is_ok());
        assert!(check_custom_fields(&json!({}), true, schema).is_err());
        assert!(check_custom_fields(&json!({"priority": "mid"}), true, schema).is_err());
        assert_eq!(
            check_custom_fields(&json!({"priority": "low"}), false, schema),
            Err(OpError::plain("Custom fields not enabled"))
        );
    }
}
