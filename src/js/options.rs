//! `ClientOptions`: the one options type, validated into the core's `Config` with errors that
//! name the offending option.

use super::errors::{ErrorCode, LivestateError};
use crate::core::backoff::Backoff;
use crate::core::connection::Config;
use crate::core::outbox::OutboxLimits;
use serde::Deserialize;
use tsify::Tsify;
use wasm_bindgen::{JsCast, JsValue};

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
    #[serde(default, with = "serde_wasm_bindgen::preserve")]
    #[tsify(optional, type = "string | (() => string | Promise<string>)")]
    pub token: JsValue,
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
    #[serde(default, with = "serde_wasm_bindgen::preserve")]
    #[tsify(optional, type = "boolean | { maxMessages?: number; maxAge?: number }")]
    pub outbox: JsValue,
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

fn invalid(message: impl Into<String>) -> LivestateError {
    LivestateError::new(ErrorCode::InvalidOptions, message)
}

/// serde-wasm-bindgen reads only the fields a struct names, so `deny_unknown_fields` never
/// fires; a misspelt option must not be silently ignored, hence this check.
pub(crate) fn reject_unknown(value: &JsValue, allowed: &[&str], what: &str) -> Result<(), String> {
    if !value.is_object() {
        return Err(format!("{what} must be an object"));
    }
    for key in js_sys::Object::keys(value.unchecked_ref::<js_sys::Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !allowed.contains(&key.as_str()) {
            return Err(format!("unknown field `{key}` in {what}; expected one of: {}", allowed.join(", ")));
        }
    }
    Ok(())
}

pub(crate) fn parse(value: JsValue) -> Result<Parsed, LivestateError> {
    reject_unknown(
        &value,
        &["url", "token", "backoff", "maxReconnectAttempts", "heartbeatTimeout", "connectTimeout", "features", "outbox", "maxMessageSize"],
        "options",
    )
    .map_err(invalid)?;
    if let Ok(b) = js_sys::Reflect::get(&value, &"backoff".into()) {
        if !b.is_undefined() {
            reject_unknown(&b, &["min", "max", "factor", "jitter"], "options.backoff").map_err(invalid)?;
        }
    }
    let o: ClientOptions = serde_wasm_bindgen::from_value(value).map_err(|e| invalid(format!("invalid options: {e}")))?;
    let url = resolve_url(&o.url)?;
    let token = token_source(o.token)?;
    let b = o.backoff.unwrap_or(BackoffOptions { min: None, max: None, factor: None, jitter: None });
    let min = b.min.unwrap_or(500.0);
    let backoff = Backoff::new(min, b.max.unwrap_or(min.max(20_000.0)), b.factor.unwrap_or(2.0), b.jitter.unwrap_or(1.0))
        .map_err(|e| invalid(e.describe()))?;
    let max_attempts = match o.max_reconnect_attempts {
        None => Some(5),
        Some(n) if n == f64::INFINITY => None,
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= u32::MAX as f64 => Some(n as u32),
        Some(_) => return Err(invalid("maxReconnectAttempts must be a whole number >= 0, or Infinity")),
    };
    let heartbeat_timeout_ms = positive_ms(o.heartbeat_timeout, "heartbeatTimeout")?;
    let connect_timeout_ms = positive_ms(o.connect_timeout, "connectTimeout")?.unwrap_or(10_000.0);
    let features = o.features.unwrap_or_default();
    for f in &features {
        crate::protocol::validate_name("feature", f).map_err(|e| invalid(format!("features: {e}")))?;
    }
    let outbox = outbox_limits(&o.outbox)?;
    let max_message_size = match o.max_message_size {
        None => 64 * 1024,
        Some(n) if n >= 1.0 && n.fract() == 0.0 && n <= u32::MAX as f64 => n as usize,
        Some(_) => return Err(invalid("maxMessageSize must be a whole number of bytes >= 1")),
    };
    Ok(Parsed {
        url,
        token,
        config: Config { backoff, max_attempts, heartbeat_timeout_ms, connect_timeout_ms, outbox },
        features,
        max_message_size,
    })
}

fn outbox_limits(v: &JsValue) -> Result<Option<OutboxLimits>, LivestateError> {
    if v.is_undefined() || v.is_null() || v.as_bool() == Some(false) {
        return Ok(None);
    }
    let defaults = OutboxLimits::default();
    if v.as_bool() == Some(true) {
        return Ok(Some(defaults));
    }
    reject_unknown(v, &["maxMessages", "maxAge"], "options.outbox").map_err(invalid)?;
    let get = |k: &str| js_sys::Reflect::get(v, &k.into()).ok().filter(|x| !x.is_undefined());
    let max_messages = match get("maxMessages").map(|x| x.as_f64()) {
        None => defaults.max_messages,
        Some(Some(n)) if n >= 1.0 && n.fract() == 0.0 => n as usize,
        Some(_) => return Err(invalid("outbox.maxMessages must be a whole number >= 1")),
    };
    let max_age_ms = positive_ms(get("maxAge").map(|x| x.as_f64().unwrap_or(f64::NAN)), "outbox.maxAge")?.unwrap_or(defaults.max_age_ms);
    Ok(Some(OutboxLimits { max_messages, max_age_ms }))
}

fn positive_ms(v: Option<f64>, name: &str) -> Result<Option<f64>, LivestateError> {
    match v {
        Some(ms) if !(ms.is_finite() && ms > 0.0 && ms <= crate::core::backoff::MAX_TIMER_MS) => {
            Err(invalid(format!("{name} must be a number of milliseconds > 0")))
        }
        other => Ok(other),
    }
}

pub(crate) fn token_source(v: JsValue) -> Result<TokenSource, LivestateError> {
    if v.is_undefined() || v.is_null() {
        Ok(TokenSource::None)
    } else if let Some(s) = v.as_string() {
        Ok(TokenSource::Fixed(s))
    } else if let Some(f) = v.dyn_ref::<js_sys::Function>() {
        Ok(TokenSource::Provider(f.clone()))
    } else {
        Err(invalid("token must be a string or a function returning one"))
    }
}

/// Resolves `/ws`-style paths against the page and maps http(s) to ws(s).
fn resolve_url(url: &str) -> Result<String, LivestateError> {
    let base = web_sys::window().and_then(|w| w.location().href().ok());
    let parsed = match &base {
        Some(base) => web_sys::Url::new_with_base(url, base),
        None => web_sys::Url::new(url),
    }
    .map_err(|_| invalid(format!("url is not a valid URL: {url:?}")))?;
    match parsed.protocol().as_str() {
        "ws:" | "wss:" => {}
        "http:" => parsed.set_protocol("ws:"),
        "https:" => parsed.set_protocol("wss:"),
        other => return Err(invalid(format!("url must use ws: or wss:, not {other}"))),
    }
    Ok(parsed.href())
}
