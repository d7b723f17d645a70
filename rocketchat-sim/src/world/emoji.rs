//! Custom emoji (`EmojiCustom` collection), listed by `emoji-custom.list` / `emoji-custom.all`
//! and added by the control API (uploading the image is not simulated).

use serde_json::{json, Value};

use super::{OpError, World};
use crate::util::{ejson_date, random_id};

/// One custom emoji.
#[derive(Debug, Clone)]
pub(crate) struct CustomEmoji {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) aliases: Vec<String>,
    pub(crate) extension: String,
    pub(crate) updated_at: i64,
}

/// Custom emoji plus the trash `emoji-custom.list` reports as `remove`.
#[derive(Debug, Clone, Default)]
pub(crate) struct EmojiStore {
    pub(crate) list: Vec<CustomEmoji>,
    /// (id, deleted at).
    pub(crate) removed: Vec<(String, i64)>,
}

impl CustomEmoji {
    /// The `EmojiCustom` document (DDP form).
    pub(crate) fn doc(&self) -> Value {
        json!({"_id": self.id, "name": self.name, "aliases": self.aliases,
            "extension": self.extension, "_updatedAt": ejson_date(self.updated_at)})
    }
}

impl World {
    /// `insertOrUpdateEmoji` without the file: names and aliases must be unused.
    pub(crate) fn add_custom_emoji(
        &mut self,
        name: &str,
        aliases: &[String],
        extension: &str,
    ) -> Result<String, OpError> {
        let taken = |n: &str| {
            self.emoji
                .list
                .iter()
                .any(|e| e.name == n || e.aliases.iter().any(|a| a == n))
        };
        if name.is_empty() || taken(name) || aliases.iter().any(|a| taken(a)) {
            return Err(OpError::meteor(
                "Custom_Emoji_Error_Name_Or_Alias_Already_In_Use",
                "The custom emoji or one of its aliases is already in use",
            ));
        }
        let now = self.now();
        let id = random_id();
        self.emoji.list.push(CustomEmoji {
            id: id.clone(),
            name: name.to_owned(),
            aliases: aliases.to_vec(),
            extension: extension.to_owned(),
            updated_at: now,
        });
        Ok(id)
    }

    /// Deletes a custom emoji (kept in the trash for `emoji-custom.list`).
    pub(crate) fn remove_custom_emoji(&mut self, id: &str) -> Result<(), OpError> {
        let pos = self
            .emoji
            .list
            .iter()
            .position(|e| e.id == id)
            .ok_or_else(|| OpError::meteor("Custom_Emoji_Error_Invalid_Emoji", "Invalid emoji"))?;
        self.emoji.list.remove(pos);
        let now = self.now();
        self.emoji.removed.push((id.to_owned(), now));
        Ok(())
    }
}
