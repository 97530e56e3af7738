//! Wire protocol shared by the browser client and the gateway: frames, priorities, codes.
//!
//! Every frame is one JSON text message with a `type` tag. docs/protocol.md is the prose
//! reference; these types are the source of truth, and the gateway serialises exactly them.
//! The event's `data` is generic so each side keeps its own JSON representation (a
//! `serde_json` value on the gateway, a live JavaScript value in the browser) without a copy.

pub mod codes;

use serde::{Deserialize, Serialize};
#[cfg(target_arch = "wasm32")]
use tsify::Tsify;

/// Longest feature, entity or action name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// How urgent an event is. The gateway drops `low` events first when a client falls behind.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(target_arch = "wasm32", derive(Tsify))]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Priority {
    /// May be dropped for a slow client (which is then told it has a gap).
    Low,
    /// The default.
    #[default]
    Normal,
    /// Assignments, revocations and the like.
    High,
    /// Never dropped; a client that cannot keep up is disconnected instead.
    Critical,
}

/// Filled in by the gateway for every event; publishers cannot forge it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(target_arch = "wasm32", derive(Tsify))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Meta {
    /// When the gateway accepted the event (RFC 3339).
    pub timestamp: String,
    /// Who published it: a user id, or `system` for backends.
    pub user_id: String,
    /// The publisher's session or connection id.
    pub session_id: String,
    /// The version of the feature's event schema.
    pub feature_version: String,
    /// How urgent the event is.
    pub priority: Priority,
}

/// An event as every subscriber receives it: the seed's `WebSocketMessage`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(target_arch = "wasm32", derive(Tsify))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WebSocketMessage<D> {
    /// The feature, e.g. `rbac`.
    pub feature: String,
    /// The entity within the feature, e.g. `role`.
    pub entity: String,
    /// What happened, e.g. `created`.
    pub action: String,
    /// The payload, as the publisher sent it.
    pub data: D,
    /// Added by the gateway.
    pub meta: Meta,
    /// Position in the feature's stream: one more than the previous event of this feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Identifies the stream `seq` counts in; it changes when the gateway loses its history
    /// (a restart of an in-memory gateway), and positions from another epoch cannot be resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
}

/// A position in a feature's event stream.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// The stream's epoch.
    pub epoch: String,
    /// The last event seen.
    pub seq: u64,
}

/// A feature's stream as the gateway reports it in `subscribed`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StreamState {
    /// The stream's epoch.
    pub epoch: String,
    /// The last event published so far.
    pub seq: u64,
    /// Only when the client sent a position: true if every event after it was replayed
    /// (just before this reply), false if that was impossible and the client must resync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<bool>,
}

/// An event as a publisher hands it in: no meta, the gateway adds it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(target_arch = "wasm32", derive(Tsify))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OutgoingEvent<D> {
    /// The feature, e.g. `rbac`.
    pub feature: String,
    /// The entity within the feature, e.g. `role`.
    pub entity: String,
    /// What happened, e.g. `created`.
    pub action: String,
    /// The payload: any JSON value (`null` if there is none).
    pub data: D,
    /// Defaults to `normal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
}

/// Sent by the gateway once a connection is accepted; the client is `connected` from here.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Welcome {
    /// The gateway's id for this connection.
    pub connection_id: String,
    /// How often the gateway sends `heartbeat` frames, in milliseconds.
    pub heartbeat: u32,
    /// Milliseconds until the token expires; the client sends a fresh `auth` frame before then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_in: Option<u64>,
}

/// One connection subscribed to a feature with presence (a member of its presence set).
/// (Declared by hand for JS in src/js/livestate.d.ts, with `info` typed by the app.)
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PresenceMember<D> {
    /// The connection's id, unique across the gateway's nodes (the `connectionId` of its welcome).
    pub connection_id: String,
    /// The user, from the token's `sub` (`anonymous` when the gateway runs without auth).
    pub user_id: String,
    /// What the client sent as `info` with its subscribe (a display name, say), if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<D>,
}

/// An error the gateway reports without closing the connection.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ErrorFrame {
    /// One of [`codes::error`].
    pub code: String,
    /// Human-readable reason.
    pub message: String,
    /// The feature the error is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
}

/// Frames the gateway sends.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerFrame<D> {
    /// The connection is accepted.
    Welcome(Welcome),
    /// An event for a subscribed feature.
    Event(WebSocketMessage<D>),
    /// Events of one feature published together (a bulk publish), oldest first. Clients
    /// apply them as one batch: one change notification per store.
    Batch {
        /// The events.
        events: Vec<WebSocketMessage<D>>,
    },
    /// Liveness signal; the client answers with `pong`.
    Heartbeat,
    /// A fresh token sent on an open connection was accepted.
    #[serde(rename_all = "camelCase")]
    Authenticated {
        /// Milliseconds until the new token expires.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_expires_in: Option<u64>,
    },
    /// The gateway had to drop events of these features for this client (it fell behind, and
    /// they were `low` priority): the client's state for them is incomplete and must recover.
    Gap {
        /// The features with missing events.
        features: Vec<String>,
    },
    /// Acknowledges a `subscribe`.
    Subscribed {
        /// Features now subscribed.
        features: Vec<String>,
        /// Each feature's stream, and whether its missed events were recovered.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        streams: std::collections::BTreeMap<String, StreamState>,
    },
    /// Acknowledges an `unsubscribe`.
    Unsubscribed {
        /// Features no longer subscribed.
        features: Vec<String>,
    },
    /// Something the client sent was refused; the connection stays open.
    Error(ErrorFrame),
    /// Everyone subscribed to a feature with presence, now: sent before `subscribed` to a
    /// client allowed to see it, and again whenever the gateway may have missed a change
    /// (the client replaces what it had).
    Presence {
        /// The feature.
        feature: String,
        /// Its members, in no particular order.
        members: Vec<PresenceMember<D>>,
    },
    /// A connection subscribed to a feature with presence.
    Join {
        /// The feature.
        feature: String,
        /// Who joined.
        member: PresenceMember<D>,
    },
    /// A member unsubscribed or disconnected (or its gateway node stopped answering).
    Leave {
        /// The feature.
        feature: String,
        /// Who left.
        member: PresenceMember<D>,
    },
}

/// Frames the client sends.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum ClientFrame<D> {
    /// Credentials, sent first so tokens stay out of URLs and logs.
    Auth {
        /// The bearer token.
        token: String,
    },
    /// Start receiving these features' events.
    Subscribe {
        /// Feature names.
        features: Vec<String>,
        /// Where the client left off, per feature: the gateway replays what came after.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        positions: std::collections::BTreeMap<String, Position>,
        /// Shown to the other members of features with presence (a display name, say); at most
        /// the feature's `maxInfoBytes` of JSON.
        #[serde(skip_serializing_if = "Option::is_none")]
        info: Option<D>,
    },
    /// Stop receiving these features' events.
    Unsubscribe {
        /// Feature names.
        features: Vec<String>,
    },
    /// Publish an event to a feature's subscribers (when the gateway allows it).
    Publish(OutgoingEvent<D>),
    /// Answer to `heartbeat`. (A struct variant so that extra fields are refused too.)
    Pong {},
    /// Test-only: the gateway forwards `raw` verbatim to `feature`'s subscribers when started
    /// with `--test-relay-raw`; otherwise refused. Lets tests inject malformed frames.
    Relay {
        /// Whose subscribers receive it.
        feature: String,
        /// The exact text to forward.
        raw: String,
    },
}

/// Checks a feature, entity or action name: 1..=64 bytes of `[a-z0-9_-]`.
pub fn validate_name(field: &'static str, name: &str) -> Result<(), NameError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(NameError { field })
    }
}

/// A feature, entity or action name is empty, too long or has characters outside `[a-z0-9_-]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameError {
    /// `feature`, `entity` or `action`.
    pub field: &'static str,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} must be 1 to {MAX_NAME_LEN} characters of a-z, 0-9, '_' or '-'", self.field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_accept_the_seed_features_and_refuse_empty_upper_case_or_dotted_ones() {
        for n in ["rbac", "user_role", "stock_changed", "a-b", "v2"] {
            assert_eq!(validate_name("feature", n), Ok(()));
        }
        for n in ["", "Rbac", "rbac.role", "a b", &"x".repeat(65)] {
            assert_eq!(validate_name("entity", n), Err(NameError { field: "entity" }));
        }
    }
}
