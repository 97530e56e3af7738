//! Errors JavaScript sees: thrown `LivestateError`s with a `code`, and the events passed to
//! `onError` listeners. Both are declared in the .d.ts from these types and built in JS.

use serde::Serialize;
use tsify::Tsify;
use wasm_bindgen::prelude::*;

/// The `code` of a thrown `LivestateError`.
#[derive(Tsify, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    /// `send` was called while not connected.
    NotConnected,
    /// The options given to `new RealtimeClient` are invalid; the message names the option.
    InvalidOptions,
    /// An argument is invalid (a bad feature, entity or action name, a malformed event).
    InvalidArgument,
    /// `send` while not connected, and the outbox already holds `maxMessages`.
    OutboxFull,
    /// The message waited in the outbox longer than `maxAge`.
    OutboxExpired,
    /// `disconnect()` was called while the message waited in the outbox.
    Disconnected,
}

#[wasm_bindgen(typescript_custom_section)]
const LIVESTATE_ERROR_TS: &str = r#"
/** What every method of this package throws: a normal `Error` with a machine-readable `code`. */
export interface LivestateError extends Error {
    name: "LivestateError";
    code: ErrorCode;
}
"#;

// Only the declaration is used: the events themselves are built in JS (envelope.js, boundary.js).
/// Passed to `onError` listeners: something went wrong that did not throw anywhere.
#[derive(Tsify, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum RealtimeErrorEvent {
    /// A frame from the gateway was not JSON or not a valid message. It was dropped before
    /// any subscriber saw it and counted in `stats().invalidFrames`.
    InvalidFrame {
        /// What was wrong with it.
        reason: String,
        /// The start of the frame (at most 200 characters).
        frame: String,
    },
    /// A subscriber's callback threw. The other subscribers still got the event.
    #[serde(rename_all = "camelCase")]
    Callback {
        /// `feature.entity.action` of the event being delivered.
        event: String,
        /// The thrown value, as text.
        message: String,
    },
    /// The gateway refused something this client sent (an `error` frame).
    Server {
        /// One of the gateway's error codes, e.g. `publish_forbidden`.
        code: String,
        /// The gateway's explanation.
        message: String,
        /// The feature concerned, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[tsify(optional)]
        feature: Option<String>,
    },
    /// The gateway had to drop events of these features for this client (it fell behind). The
    /// client recovers them from the gateway's history; if that is impossible, `onResync` fires.
    Gap {
        /// The features with missing events.
        features: Vec<String>,
    },
    /// The token function threw or its Promise rejected; the connection attempt counts as failed.
    Token {
        /// The thrown value, as text.
        message: String,
    },
}
