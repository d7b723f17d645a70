//! The settings the simulator honours, with their 8.2.0 defaults and types, readable and
//! writable over REST (`settings.public`, `settings`, `settings/:_id`) and the control API.
//!
//! Defaults follow Rocket.Chat's `apps/meteor/server/settings/*.ts` (`message.ts`,
//! `accounts.ts`, `general.ts`, `file-upload.ts`, `threads.ts`, `layout.ts`). Only settings
//! that change a simulated behaviour are listed; an unknown id is "not found", as in
//! Rocket.Chat for a hidden or missing setting.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// Setting ids read by the simulator (one constant per id, so a typo does not compile).
pub(crate) mod id {
    pub(crate) const SITE_URL: &str = "Site_Url";
    pub(crate) const SITE_NAME: &str = "Site_Name";
    pub(crate) const LANGUAGE: &str = "Language";
    pub(crate) const LDAP_ENABLE: &str = "LDAP_Enable";
    pub(crate) const MAX_ALLOWED_SIZE: &str = "Message_MaxAllowedSize";
    pub(crate) const ALLOW_EDITING: &str = "Message_AllowEditing";
    pub(crate) const ALLOW_DELETING: &str = "Message_AllowDeleting";
    pub(crate) const ALLOW_PINNING: &str = "Message_AllowPinning";
    pub(crate) const ALLOW_STARRING: &str = "Message_AllowStarring";
    pub(crate) const SHOW_DELETED_STATUS: &str = "Message_ShowDeletedStatus";
    pub(crate) const KEEP_HISTORY: &str = "Message_KeepHistory";
    pub(crate) const CUSTOM_FIELDS_ENABLED: &str = "Message_CustomFields_Enabled";
    pub(crate) const CUSTOM_FIELDS: &str = "Message_CustomFields";
    pub(crate) const READ_RECEIPT_ENABLED: &str = "Message_Read_Receipt_Enabled";
    pub(crate) const THREADS_ENABLED: &str = "Threads_enabled";
    pub(crate) const API_EMBED: &str = "API_Embed";
    pub(crate) const USE_REAL_NAME: &str = "UI_Use_Real_Name";
    pub(crate) const UNREAD_COUNT: &str = "Unread_Count";
    pub(crate) const UNREAD_COUNT_DM: &str = "Unread_Count_DM";
    /// Sic: Rocket.Chat spells it with three s.
    pub(crate) const DM_MAX_USERS: &str = "DirectMesssage_maxUsers";
    pub(crate) const ALLOW_USER_PROFILE_CHANGE: &str = "Accounts_AllowUserProfileChange";
    pub(crate) const ALLOW_REAL_NAME_CHANGE: &str = "Accounts_AllowRealNameChange";
    pub(crate) const ALLOW_EMAIL_CHANGE: &str = "Accounts_AllowEmailChange";
    pub(crate) const ALLOW_PASSWORD_CHANGE: &str = "Accounts_AllowPasswordChange";
    pub(crate) const ALLOW_STATUS_MESSAGE_CHANGE: &str = "Accounts_AllowUserStatusMessageChange";
    pub(crate) const ALLOW_INVISIBLE_STATUS: &str = "Accounts_AllowInvisibleStatusOption";
    pub(crate) const MASTER_VOLUME: &str = "Accounts_Default_User_Preferences_masterVolume";
    pub(crate) const DEFAULT_ROLES: &str = "Accounts_Registration_Users_Default_Roles";
    pub(crate) const TWO_FACTOR_ENABLED: &str = "Accounts_TwoFactorAuthentication_Enabled";
    pub(crate) const FILE_UPLOAD_MAX_SIZE: &str = "FileUpload_MaxFileSize";
    pub(crate) const FILE_UPLOAD_PROTECT_FILES: &str = "FileUpload_ProtectFiles";
}

/// A setting's type, which decides what a write may store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SettingKind {
    Boolean,
    /// `type: 'int'`, with the bounds `checkSettingValueBounds` enforces.
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    String,
    /// `type: 'code'` (JSON text, e.g. `Message_CustomFields`).
    Code,
    /// `type: 'select'` with its allowed keys.
    Select(&'static [&'static str]),
}

#[derive(Debug, Clone)]
pub(crate) struct Setting {
    pub(crate) id: &'static str,
    pub(crate) kind: SettingKind,
    pub(crate) value: Value,
    pub(crate) package_value: Value,
    /// Readable without login (`settings.public`).
    pub(crate) public: bool,
    pub(crate) updated_at: i64,
}

/// Why a setting write was refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SettingError {
    /// No such (visible) setting.
    NotFound,
    /// `Meteor.Error('error-invalid-setting-value', <reason>)`.
    InvalidValue(String),
}

/// Every setting the simulator knows.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    map: BTreeMap<&'static str, Setting>,
}

const UNREAD_COUNT_KEYS: &[&str] = &[
    "all_messages",
    "user_mentions_only",
    "group_mentions_only",
    "user_and_group_mentions_only",
];
const UNREAD_COUNT_DM_KEYS: &[&str] = &["all_messages", "mentions_only"];

impl Default for Settings {
    fn default() -> Self {
        use SettingKind::*;
        let defaults: Vec<(&'static str, SettingKind, Value, bool)> = vec![
            (id::SITE_URL, String, json!("http://localhost:3000"), true),
            (id::SITE_NAME, String, json!("Rocket.Chat"), true),
            (id::LANGUAGE, String, json!(""), true),
            (id::LDAP_ENABLE, Boolean, json!(false), true),
            (
                id::MAX_ALLOWED_SIZE,
                Int {
                    min: None,
                    max: None,
                },
                json!(5000),
                true,
            ),
            (id::ALLOW_EDITING, Boolean, json!(true), true),
            (id::ALLOW_DELETING, Boolean, json!(true), true),
            (id::ALLOW_PINNING, Boolean, json!(true), true),
            (id::ALLOW_STARRING, Boolean, json!(true), true),
            (id::SHOW_DELETED_STATUS, Boolean, json!(false), true),
            (id::KEEP_HISTORY, Boolean, json!(false), false),
            (id::CUSTOM_FIELDS_ENABLED, Boolean, json!(false), false),
            (id::CUSTOM_FIELDS, Code, json!(""), false),
            (id::READ_RECEIPT_ENABLED, Boolean, json!(false), true),
            (id::THREADS_ENABLED, Boolean, json!(true), true),
            (id::API_EMBED, Boolean, json!(true), true),
            (id::USE_REAL_NAME, Boolean, json!(false), true),
            (
                id::UNREAD_COUNT,
                Select(UNREAD_COUNT_KEYS),
                json!("user_and_group_mentions_only"),
                true,
            ),
            (
                id::UNREAD_COUNT_DM,
                Select(UNREAD_COUNT_DM_KEYS),
                json!("all_messages"),
                true,
            ),
            (
                id::DM_MAX_USERS,
                Int {
                    min: Some(1),
                    max: None,
                },
                json!(8),
                true,
            ),
            (id::ALLOW_USER_PROFILE_CHANGE, Boolean, json!(true), true),
            (id::ALLOW_REAL_NAME_CHANGE, Boolean, json!(true), true),
            (id::ALLOW_EMAIL_CHANGE, Boolean, json!(true), true),
            (id::ALLOW_PASSWORD_CHANGE, Boolean, json!(true), true),
            (id::ALLOW_STATUS_MESSAGE_CHANGE, Boolean, json!(true), true),
            (id::ALLOW_INVISIBLE_STATUS, Boolean, json!(true), true),
            (
                id::MASTER_VOLUME,
                Int {
                    min: Some(0),
                    max: Some(100),
                },
                json!(100),
                true,
            ),
            (id::DEFAULT_ROLES, String, json!("user"), false),
            (id::TWO_FACTOR_ENABLED, Boolean, json!(true), true),
            (
                id::FILE_UPLOAD_MAX_SIZE,
                Int {
                    min: None,
                    max: None,
                },
                json!(104_857_600_u64),
                true,
            ),
            (id::FILE_UPLOAD_PROTECT_FILES, Boolean, json!(true), true),
        ];
        let map = defaults
            .into_iter()
            .map(|(id, kind, value, public)| {
                (
                    id,
                    Setting {
                        id,
                        kind,
                        package_value: value.clone(),
                        value,
                        public,
                        updated_at: 0,
                    },
                )
            })
            .collect();
        Settings { map }
    }
}

impl Settings {
    pub(crate) fn get(&self, id: &str) -> Option<&Setting> {
        self.map.get(id)
    }

    /// Every setting, in id order.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Setting> {
        self.map.values()
    }

    /// Writes a value after the checks of `settings/:_id` (`checkSettingValueBounds` for
    /// ints; the simulator also refuses a value of the wrong JSON type, since it reads every
    /// setting typed [derived: Rocket.Chat stores it as given]).
    pub(crate) fn set(&mut self, id: &str, value: Value, now: i64) -> Result<(), SettingError> {
        let setting = self.map.get_mut(id).ok_or(SettingError::NotFound)?;
        let wrong_type =
            || SettingError::InvalidValue(format!("Value for setting {id} has the wrong type"));
        let value = match &setting.kind {
            SettingKind::Boolean => match value {
                Value::Bool(_) => value,
                _ => return Err(wrong_type()),
            },
            SettingKind::Int { min, max } => {
                // apps/meteor/app/api/server/v1/settings.ts `checkSettingValueBounds`: the
                // value is read as a number; strings of digits count.
                let n = match &value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                }
                .ok_or_else(wrong_type)?;
                if let Some(min) = min {
                    if n < *min as f64 {
                        return Err(SettingError::InvalidValue(format!(
                            "Value for setting {id} must be greater than or equal to {min}"
                        )));
                    }
                }
                if let Some(max) = max {
                    if n > *max as f64 {
                        return Err(SettingError::InvalidValue(format!(
                            "Value for setting {id} must be less than or equal to {max}"
                        )));
                    }
                }
                if n.fract() == 0.0 {
                    json!(n as i64)
                } else {
                    json!(n)
                }
            }
            SettingKind::String | SettingKind::Code => match value {
                Value::String(_) => value,
                _ => return Err(wrong_type()),
            },
            SettingKind::Select(keys) => match value.as_str() {
                Some(k) if keys.contains(&k) => value,
                _ => return Err(wrong_type()),
            },
        };
        setting.value = value;
        setting.updated_at = now;
        Ok(())
    }

    /// Start-up value (from `SimConfig`), no checks beyond the type.
    pub(crate) fn init(&mut self, id: &str, value: Value) {
        if let Some(s) = self.map.get_mut(id) {
            s.package_value = value.clone();
            s.value = value;
        }
    }

    pub(crate) fn bool(&self, id: &str) -> bool {
        self.map
            .get(id)
            .and_then(|s| s.value.as_bool())
            .unwrap_or(false)
    }

    pub(crate) fn int(&self, id: &str) -> i64 {
        self.map
            .get(id)
            .and_then(|s| {
                s.value
                    .as_i64()
                    .or_else(|| s.value.as_f64().map(|f| f as i64))
            })
            .unwrap_or(0)
    }

    pub(crate) fn str(&self, id: &str) -> &str {
        self.map
            .get(id)
            .and_then(|s| s.value.as_str())
            .unwrap_or("")
    }

    /// `Message_MaxAllowedSize` in UTF-16 code units (a negative value counts as 0).
    pub(crate) fn max_message_size(&self) -> usize {
        usize::try_from(self.int(id::MAX_ALLOWED_SIZE)).unwrap_or(0)
    }

    /// `FileUpload_MaxFileSize` in bytes.
    pub(crate) fn max_file_size(&self) -> u64 {
        u64::try_from(self.int(id::FILE_UPLOAD_MAX_SIZE)).unwrap_or(0)
    }

    pub(crate) fn show_deleted_status(&self) -> bool {
        self.bool(id::SHOW_DELETED_STATUS)
    }

    pub(crate) fn keep_history(&self) -> bool {
        self.bool(id::KEEP_HISTORY)
    }

    pub(crate) fn url_previews(&self) -> bool {
        self.bool(id::API_EMBED)
    }

    pub(crate) fn use_real_name(&self) -> bool {
        self.bool(id::USE_REAL_NAME)
    }

    pub(crate) fn threads_enabled(&self) -> bool {
        self.bool(id::THREADS_ENABLED)
    }

    pub(crate) fn two_factor_enabled(&self) -> bool {
        self.bool(id::TWO_FACTOR_ENABLED)
    }
}

/// The REST form of a setting (`{_id, value, ...}`), with `packageValue` when asked.
pub(crate) fn setting_doc(s: &Setting, include_defaults: bool) -> Value {
    let mut doc = json!({"_id": s.id, "value": s.value, "enterprise": false,
        "requiredOnWizard": false});
    if include_defaults {
        if let Some(o) = doc.as_object_mut() {
            o.insert("packageValue".into(), s.package_value.clone());
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_bounds_and_types_are_checked() {
        let mut s = Settings::default();
        assert_eq!(
            s.set(id::MASTER_VOLUME, json!("-1"), 1),
            Err(SettingError::InvalidValue(
                "Value for setting Accounts_Default_User_Preferences_masterVolume must be greater than or equal to 0".into()
            ))
        );
        assert!(matches!(
            s.set(id::MASTER_VOLUME, json!(101), 1),
            Err(SettingError::InvalidValue(_))
        ));
        assert_eq!(s.set(id::MASTER_VOLUME, json!("42"), 1), Ok(()));
        assert_eq!(s.int(id::MASTER_VOLUME), 42);
        assert!(s.set(id::LDAP_ENABLE, json!("yes"), 1).is_err());
        assert_eq!(
            s.set("No_Such_Setting", json!(1), 1),
            Err(SettingError::NotFound)
        );
        assert!(s.set(id::UNREAD_COUNT, json!("all_messages"), 1).is_ok());
        assert!(s.set(id::UNREAD_COUNT, json!("bogus"), 1).is_err());
    }
}
