//! `ClientOptions`: the one options type, checked by src/js/boundary.js (errors name the
//! offending option) and read into the core's `Config`.

use super::errors::{error, ErrorCode};
use crate::core::backoff::Backoff;
use crate::core::connection::Config;
use crate::core::outbox::OutboxLimits;
use serde::Deserialize;
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

/// Where tokens come from.
pub(crate) enum TokenSource {
    None,
    Fixed(String),
    Provider(js_sys::Function),
}

pub(crate) struct Parsed {
    pub(crate) url: String,
    pub(crate) token: TokenSource,
    pub(crate) config: Config,
    pub(crate) features: Vec<String>,
    pub(crate) max_message_size: usize,
}

#[wasm_bindgen(module = "/src/js/boundary.js")]
extern "C" {
    /// `ClientOptions` checked, defaults filled in (NaN: none); throws `invalidOptions`.
    type Checked;
    #[wasm_bindgen(catch, js_name = clientOptions)]
    fn client_options(value: &JsValue) -> Result<Checked, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn url(this: &Checked) -> String;
    #[wasm_bindgen(method, getter)]
    fn token(this: &Checked) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn min(this: &Checked) -> f64;
    #[wasm_bindgen(method, getter)]
    fn max(this: &Checked) -> f64;
    #[wasm_bindgen(method, getter)]
    fn factor(this: &Checked) -> f64;
    #[wasm_bindgen(method, getter)]
    fn jitter(this: &Checked) -> f64;
    #[wasm_bindgen(method, getter)]
    fn attempts(this: &Checked) -> f64;
    #[wasm_bindgen(method, getter, js_name = heartbeatTimeout)]
    fn heartbeat_timeout(this: &Checked) -> f64;
    #[wasm_bindgen(method, getter, js_name = connectTimeout)]
    fn connect_timeout(this: &Checked) -> f64;
    #[wasm_bindgen(method, getter)]
    fn features(this: &Checked) -> Vec<String>;
    #[wasm_bindgen(method, getter, js_name = outboxMax)]
    fn outbox_max(this: &Checked) -> f64;
    #[wasm_bindgen(method, getter, js_name = outboxAge)]
    fn outbox_age(this: &Checked) -> f64;
    #[wasm_bindgen(method, getter, js_name = maxSize)]
    fn max_size(this: &Checked) -> f64;
}

/// Reads the options; the JS side has checked every field but the backoff, which the core checks.
pub(crate) fn parse(value: &JsValue) -> Result<Parsed, JsValue> {
    let o = client_options(value)?;
    let backoff =
        Backoff::new(o.min(), o.max(), o.factor(), o.jitter()).map_err(|e| error(ErrorCode::InvalidOptions, e.describe()))?;
    let attempts = o.attempts();
    let hb = o.heartbeat_timeout();
    let outbox_max = o.outbox_max();
    let token = o.token();
    Ok(Parsed {
        url: o.url(),
        token: token_source(token),
        config: Config {
            backoff,
            max_attempts: (attempts >= 0.0).then_some(attempts as u32),
            heartbeat_timeout_ms: (!hb.is_nan()).then_some(hb),
            connect_timeout_ms: o.connect_timeout(),
            outbox: (outbox_max > 0.0).then(|| OutboxLimits { max_messages: outbox_max as usize, max_age_ms: o.outbox_age() }),
        },
        features: o.features(),
        max_message_size: o.max_size() as usize,
    })
}

/// A token or a token function (the JS side has checked it is one of them).
pub(crate) fn token_source(v: JsValue) -> TokenSource {
    if let Some(s) = v.as_string() {
        TokenSource::Fixed(s)
    } else if let Ok(f) = v.dyn_into::<js_sys::Function>() {
        TokenSource::Provider(f)
    } else {
        TokenSource::None
    }
}
