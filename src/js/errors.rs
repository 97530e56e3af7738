//! Errors JavaScript sees: the `code` of a thrown `LivestateError` (a JS class, declared in
//! livestate.d.ts), and the events passed to `onError` listeners. Both are declared in the .d.ts
//! from these types and built in JS.

use serde::Serialize;
use tsify::Tsify;

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
    /// A socket closed before it opened: the gateway is not running at `url`, or it refused the
    /// handshake (the browser hides why; a page origin missing from the gateway's
    /// `--cors-origin` is the usual cause). Told once after the first failed attempt of a
    /// `connect()`, and again only after a connection was up; the client keeps retrying.
    Unreachable {
        /// The gateway URL the client connects to.
        url: String,
        /// What went wrong and what to check.
        message: String,
    },
}
