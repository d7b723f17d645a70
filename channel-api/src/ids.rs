//! Typed identifiers. Every id is an opaque, case-sensitive string: chat servers' ids
//! are case-sensitive, so nothing here ever lowercases or trims them.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a raw id as given by the backend or the config.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The raw id.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The raw id, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// One configured bot account (OpenClaw's `accountId`, e.g. `default`).
    AccountId
);
string_id!(
    /// A room (channel, private group or direct conversation).
    RoomId
);
string_id!(
    /// A user of the chat server.
    UserId
);
string_id!(
    /// A message. Thread roots are messages too.
    MessageId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_case_and_round_trip_through_json() {
        let id = RoomId::new("AbCdEf123XyZ");
        assert_eq!(id.as_str(), "AbCdEf123XyZ");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"AbCdEf123XyZ\"");
        let back: RoomId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert_eq!(format!("{id:?}"), "RoomId(\"AbCdEf123XyZ\")");
    }
}
