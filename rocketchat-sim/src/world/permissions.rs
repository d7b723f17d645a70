//! The permissions the simulator enforces, with their default roles, and the role check.
//!
//! Defaults from Rocket.Chat's `apps/meteor/app/authorization/server/constant/permissions.ts`
//! (stored version 014c0860; the 8.2.0 tag could not be pinned, see UPSTREAM.md). Room roles
//! (`owner`, `moderator`, `leader`) come from the user's subscription to the room, global roles
//! from the user; a permission holds when the two sets meet (`hasPermissionAsync` with a
//! scope).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::World;
use crate::util::ejson_date;

/// Role ids that exist on a fresh server (`createOrUpdateProtectedRoleAsync` in
/// `apps/meteor/server/startup/initialData` / `roles.ts`).
pub(crate) const KNOWN_ROLES: &[&str] = &[
    "admin",
    "moderator",
    "leader",
    "owner",
    "user",
    "bot",
    "app",
    "guest",
    "anonymous",
    "livechat-agent",
    "livechat-manager",
    "livechat-monitor",
];

/// `(permission, default roles)`: the permissions some simulated route checks.
const DEFAULTS: &[(&str, &[&str])] = &[
    ("access-permissions", &["admin"]),
    ("add-user-to-any-c-room", &["admin"]),
    ("add-user-to-any-p-room", &[]),
    ("add-user-to-joined-room", &["admin", "owner", "moderator"]),
    ("api-bypass-rate-limit", &["admin", "bot", "app"]),
    ("assign-admin-role", &["admin"]),
    ("assign-roles", &["admin"]),
    ("create-c", &["admin", "user", "bot", "app"]),
    ("create-d", &["admin", "user", "bot", "app"]),
    ("create-p", &["admin", "user", "bot", "app"]),
    ("create-personal-access-tokens", &["admin", "user"]),
    ("create-user", &["admin"]),
    ("delete-c", &["admin", "owner"]),
    ("delete-d", &["admin"]),
    ("delete-message", &["admin", "owner", "moderator"]),
    ("delete-p", &["admin", "owner"]),
    ("edit-message", &["admin", "owner", "moderator"]),
    ("edit-other-user-active-status", &["admin"]),
    ("edit-other-user-info", &["admin"]),
    ("edit-other-user-password", &["admin"]),
    ("edit-privileged-setting", &["admin"]),
    ("edit-room", &["admin", "owner", "moderator"]),
    ("force-delete-message", &["admin", "owner"]),
    ("join-without-join-code", &["admin", "bot", "app"]),
    ("kick-user-from-any-c-room", &["admin"]),
    ("kick-user-from-any-p-room", &[]),
    ("leave-c", &["admin", "user", "bot", "anonymous", "app"]),
    ("leave-p", &["admin", "user", "bot", "anonymous", "app"]),
    ("manage-emoji", &["admin"]),
    ("mention-all", &["admin", "owner", "moderator", "user"]),
    ("mention-here", &["admin", "owner", "moderator", "user"]),
    ("message-impersonate", &["bot", "app"]),
    ("mute-user", &["admin", "owner", "moderator"]),
    ("pin-message", &["owner", "moderator", "admin"]),
    ("post-readonly", &["admin", "owner", "moderator"]),
    ("remove-user", &["admin", "owner", "moderator"]),
    ("send-many-messages", &["admin", "bot", "app"]),
    ("set-leader", &["admin", "owner"]),
    ("set-moderator", &["admin", "owner"]),
    ("set-owner", &["admin", "owner"]),
    ("set-readonly", &["admin", "owner"]),
    ("view-c-room", &["admin", "user", "bot", "app", "anonymous"]),
    ("view-d-room", &["admin", "user", "bot", "app", "guest"]),
    ("view-full-other-user-info", &["admin"]),
    ("view-other-user-channels", &["admin"]),
    ("view-p-room", &["admin", "user", "anonymous", "guest"]),
    ("view-privileged-setting", &["admin"]),
    ("view-room-administration", &["admin"]),
];

#[derive(Debug, Clone)]
pub(crate) struct Permission {
    pub(crate) roles: Vec<String>,
    pub(crate) updated_at: i64,
}

/// Permission id -> roles.
#[derive(Debug, Clone)]
pub(crate) struct Permissions {
    pub(crate) map: BTreeMap<String, Permission>,
}

impl Default for Permissions {
    fn default() -> Self {
        let map = DEFAULTS
            .iter()
            .map(|(id, roles)| {
                (
                    (*id).to_owned(),
                    Permission {
                        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                        updated_at: 0,
                    },
                )
            })
            .collect();
        Permissions { map }
    }
}

impl Permissions {
    pub(crate) fn roles(&self, id: &str) -> &[String] {
        self.map.get(id).map(|p| p.roles.as_slice()).unwrap_or(&[])
    }

    /// The `permissions` collection document (DDP form).
    pub(crate) fn doc(id: &str, p: &Permission) -> Value {
        json!({"_id": id, "roles": p.roles, "_updatedAt": ejson_date(p.updated_at)})
    }
}

impl World {
    /// `hasPermissionAsync(uid, permission, rid)`: the user's global roles, plus its
    /// subscription roles in `rid` when given, meet the permission's roles.
    pub(crate) fn has_permission(&self, uid: &str, permission: &str, rid: Option<&str>) -> bool {
        let Some(user) = self.users.get(uid) else {
            return false;
        };
        let allowed = self.permissions.roles(permission);
        if user.roles.iter().any(|r| allowed.contains(r)) {
            return true;
        }
        rid.and_then(|rid| self.subs.get(&(rid.to_owned(), uid.to_owned())))
            .is_some_and(|s| s.roles.iter().any(|r| allowed.contains(r)))
    }

    /// Replaces a permission's roles. `Err` names what is unknown.
    pub(crate) fn set_permission_roles(
        &mut self,
        id: &str,
        roles: Vec<String>,
    ) -> Result<(), PermissionError> {
        if let Some(role) = roles.iter().find(|r| !KNOWN_ROLES.contains(&r.as_str())) {
            return Err(PermissionError::UnknownRole(role.clone()));
        }
        let now = self.now();
        let p = self
            .permissions
            .map
            .get_mut(id)
            .ok_or(PermissionError::UnknownPermission)?;
        p.roles = roles;
        p.updated_at = now;
        Ok(())
    }
}

/// Why a permission write failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PermissionError {
    UnknownPermission,
    UnknownRole(String),
}
