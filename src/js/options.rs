//! Declarations only: `ClientOptions` (the one options type, checked by src/js/boundary.js,
//! whose errors name the offending option) and `ClientStats`, for the generated typings.

use serde::{Deserialize, Serialize};
use tsify::Tsify;
use wasm_bindgen::prelude::*;

/// Options for `new RealtimeClient(options)`. Only `url` is required.
#[derive(Tsify, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClientOptions {
    /// The gateway's WebSocket URL, e.g. `ws://localhost:3333/ws`. A path such as `/ws` is
    /// resolved against the page's own address (http becomes ws, https becomes wss).
    pub url: String,
    /// A token, or a function returning a token (or a Promise of one) that is called on every
    /// connect and reconnect, so a refreshed token is always used. Sent in the first frame,
    /// never in the URL. `connect(token)` overrides it.
    #[serde(default)]
    #[tsify(optional, type = "string | (() => string | Promise<string>)")]
    pub token: (),
    /// Reconnect delays. Defaults: `{ min: 500, max: 20000, factor: 2, jitter: 1 }`.
    #[serde(default)]
    #[tsify(optional)]
    pub backoff: Option<BackoffOptions>,
    /// Failed reconnects in a row before giving up with status `disconnected`
    /// (reason `maxAttempts`). Default 5, as in the seed; `Infinity` never gives up.
    #[serde(default)]
    #[tsify(optional)]
    pub max_reconnect_attempts: Option<f64>,
    /// Milliseconds without any frame from the gateway after which the connection counts as
    /// dead and is replaced. Default: 1.5 times the gateway's heartbeat interval plus 1 s.
    #[serde(default)]
    #[tsify(optional)]
    pub heartbeat_timeout: Option<f64>,
    /// Milliseconds allowed for a connection attempt, from opening the socket to the
    /// gateway's welcome. Default 10000.
    #[serde(default)]
    #[tsify(optional)]
    pub connect_timeout: Option<f64>,
    /// Features to subscribe on every connect even with no local subscriber.
    #[serde(default)]
    #[tsify(optional)]
    pub features: Option<Vec<String>>,
    /// Queue `send`s made while not connected and send them, in order, after the next
    /// connect. `true` means `{ maxMessages: 100, maxAge: 30000 }`. A full outbox, or a message
    /// older than `maxAge`, rejects the `send` promise. Off by default: `send` then throws
    /// `notConnected` at once.
    #[serde(default)]
    #[tsify(optional, type = "boolean | { maxMessages?: number; maxAge?: number }")]
    pub outbox: (),
    /// Largest message `send` accepts, in bytes of JSON; larger ones throw `invalidArgument`
    /// instead of making the gateway close the connection. Default 65536, the gateway's default.
    #[serde(default)]
    #[tsify(optional)]
    pub max_message_size: Option<f64>,
    /// Logs each connection and subscription step (sockets opening and closing, the gateway's
    /// welcome, status changes, subscribes with the positions they resume from, gaps,
    /// resyncs), one line of text each: `true` writes them with `console.debug`, a function
    /// gets them instead. Events themselves are not logged. Off by default.
    #[serde(default)]
    #[tsify(optional, type = "boolean | ((line: string) => void)")]
    pub debug: (),
    /// One connection per browser instead of one per tab: the tabs of this origin with the
    /// same `url` and the same key (`true` is the key `"default"`) share one WebSocket, held
    /// by one tab (the leader, chosen with the Web Locks API); the others send and receive
    /// through it over a BroadcastChannel. Each tab keeps its own subscriptions, stores,
    /// positions and status. When the leader closes, crashes or is frozen, another tab takes
    /// over and every tab resumes where it was, without losing or repeating an event. The
    /// leader's `token` authenticates the shared connection. Where Web Locks or
    /// BroadcastChannel is missing, each tab connects alone. Off by default.
    #[serde(default)]
    #[tsify(optional, type = "boolean | string")]
    pub share_across_tabs: (),
    /// Shown to the other members of each feature that keeps presence (a display name, an
    /// avatar URL): any JSON value, sent with every subscribe. The gateway refuses a feature's
    /// subscription (`too_big`) when it is larger than the feature's `maxInfoBytes` (default
    /// 256 bytes of JSON). None by default.
    #[serde(default)]
    #[tsify(optional, type = "unknown")]
    pub presence_info: (),
}

/// Reconnect delay settings. Retry `n` waits a uniformly random time between `min` and
/// `min(max, min * factor^(n+1))`; `jitter` below 1 narrows that range towards its top.
#[derive(Tsify, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackoffOptions {
    /// Shortest delay in milliseconds. Default 500.
    #[serde(default)]
    #[tsify(optional)]
    pub min: Option<f64>,
    /// Longest delay in milliseconds. Default 20000.
    #[serde(default)]
    #[tsify(optional)]
    pub max: Option<f64>,
    /// Growth per attempt. Default 2.
    #[serde(default)]
    #[tsify(optional)]
    pub factor: Option<f64>,
    /// 0 (no randomness) to 1 (full jitter). Default 1.
    #[serde(default)]
    #[tsify(optional)]
    pub jitter: Option<f64>,
}

/// Counters the app can read with `stats()`; nothing is dropped without one of these moving.
#[derive(Tsify, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientStats {
    /// Frames received from the gateway, valid or not.
    pub frames_received: u32,
    /// Events that reached at least one callback.
    pub events_delivered: u32,
    /// Frames dropped as not JSON or not a valid message (each also reported to `onError`).
    pub invalid_frames: u32,
    /// Subscriber callbacks that threw (each also reported to `onError`).
    pub callback_errors: u32,
    /// Successful connects, the first one included.
    pub connects: u32,
    /// Gap reports from the gateway (events it dropped because this client fell behind).
    pub gaps: u32,
    /// Events dropped because they had been delivered already (replays overlap the live stream).
    pub duplicates: u32,
    /// Features whose lost events could not be replayed, so `onResync` listeners reloaded them.
    pub resyncs: u32,
    /// With `shareAcrossTabs`: whether this tab holds the shared connection (the other tabs'
    /// events go through it). Undefined when the client does not share.
    #[tsify(optional)]
    pub leader: Option<bool>,
}
