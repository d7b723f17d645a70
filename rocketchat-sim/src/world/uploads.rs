//! Stored uploads (the `Uploads` collection plus the bytes). The HTTP side (`rooms.media`,
//! `rooms.mediaConfirm`, `/file-upload/...`) is `rest/uploads.rs`.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::Value;

/// One stored upload.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub(crate) id: String,
    pub(crate) rid: String,
    pub(crate) user_id: String,
    pub(crate) name: String,
    pub(crate) mime_type: String,
    pub(crate) data: Bytes,
    /// Set by `rooms.mediaConfirm` (`Uploads.confirmTemporaryFile`).
    pub(crate) confirmed: bool,
}

/// Every upload by id.
#[derive(Debug, Default)]
pub(crate) struct UploadStore {
    pub(crate) files: HashMap<String, Upload>,
}

impl UploadStore {
    /// Removes the uploads a message document carries (`files[]._id`, `file._id`).
    pub(crate) fn remove_for_message(&mut self, doc: &Value) {
        let listed = doc
            .get("files")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for file in listed.chain(doc.get("file")) {
            if let Some(id) = file.get("_id").and_then(Value::as_str) {
                self.files.remove(id);
            }
        }
    }

    /// Removes every upload of a room (`FileUpload.removeFilesByRoomId`).
    pub(crate) fn remove_for_room(&mut self, rid: &str) {
        self.files.retain(|_, f| f.rid != rid);
    }
}

/// `FileUpload.getPath("<id>/<encodeURI(name)>")`.
pub(crate) fn file_path(id: &str, name: &str) -> String {
    format!("/file-upload/{id}/{}", encode_uri(name))
}

/// JavaScript's `encodeURI`: every byte outside `A-Za-z0-9;,/?:@&=+$-_.!~*'()#` is
/// percent-encoded (UTF-8).
pub(crate) fn encode_uri(text: &str) -> String {
    const KEEP: &[u8] = b";,/?:@&=+$-_.!~*'()#";
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || KEEP.contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_encode_like_encode_uri() {
        assert_eq!(
            file_path("abc", "a b(1).png"),
            "/file-upload/abc/a%20b(1).png"
        );
        assert_eq!(file_path("abc", "é.txt"), "/file-upload/abc/%C3%A9.txt");
    }
}
