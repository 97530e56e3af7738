//! Classifies one frame from the gateway. The text is parsed by the browser's JSON.parse
//! (fast, and no JSON parser in the wasm), then only the envelope is read into Rust; `data`
//! stays a JavaScript value and reaches subscribers untouched.

use crate::protocol::{validate_name, ErrorFrame, StreamState, Welcome};
use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn json_parse(text: &JsValue) -> Result<JsValue, JsValue>;

    /// Any parsed frame; getters read properties without building key strings in Rust.
    pub(crate) type RawFrame;
    #[wasm_bindgen(method, getter, js_name = type)]
    fn kind(this: &RawFrame) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn feature(this: &RawFrame) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn entity(this: &RawFrame) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn action(this: &RawFrame) -> JsValue;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn data(this: &RawFrame) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn meta(this: &RawFrame) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn seq(this: &RawFrame) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn epoch(this: &RawFrame) -> JsValue;
}

/// An event's envelope, read into Rust for routing; `message` is the whole JS object.
pub(crate) struct Event {
    pub(crate) message: JsValue,
    pub(crate) feature: String,
    pub(crate) entity: String,
    pub(crate) action: String,
    /// Position in the feature's stream, when the gateway numbers it.
    pub(crate) seq: Option<u64>,
    pub(crate) epoch: Option<String>,
}

#[derive(serde::Deserialize)]
struct Subscribed {
    #[serde(default)]
    streams: BTreeMap<String, StreamState>,
}

/// A valid frame.
pub(crate) enum Frame {
    Event(Event),
    /// Each element checked on its own: one bad event does not cost the others.
    Batch(Vec<Result<Event, Invalid>>),
    Welcome(Welcome),
    /// A refreshed token was accepted; milliseconds until it expires.
    Authenticated(Option<f64>),
    /// The gateway dropped events of these features for us.
    Gap(Vec<String>),
    /// The reply to `subscribe`, with each feature's stream.
    Subscribed(BTreeMap<String, StreamState>),
    Heartbeat,
    Ack,
    Error(ErrorFrame),
}

/// Why a frame was dropped.
pub(crate) type Invalid = String;

pub(crate) fn decode(text: &JsValue) -> Result<Frame, Invalid> {
    if !text.is_string() {
        return Err("binary frames are not part of the protocol".into());
    }
    let value = json_parse(text).map_err(|e| format!("not JSON: {}", super::errors::describe(&e)))?;
    if !value.is_object() || js_sys::Array::is_array(&value) {
        return Err("a frame must be a JSON object".into());
    }
    let raw: &RawFrame = value.unchecked_ref();
    let kind = raw.kind().as_string().ok_or("a frame needs a string `type`")?;
    match kind.as_str() {
        "event" => event(value).map(Frame::Event),
        "batch" => {
            let events = js_sys::Reflect::get(&value, &"events".into()).unwrap_or(JsValue::UNDEFINED);
            if !js_sys::Array::is_array(&events) {
                return Err("batch: `events` must be an array".into());
            }
            Ok(Frame::Batch(js_sys::Array::from(&events).iter().map(event).collect()))
        }
        "welcome" => serde_wasm_bindgen::from_value(value).map(Frame::Welcome).map_err(|e| format!("welcome: {e}")),
        "error" => serde_wasm_bindgen::from_value(value).map(Frame::Error).map_err(|e| format!("error frame: {e}")),
        "heartbeat" => Ok(Frame::Heartbeat),
        "authenticated" => {
            let ms = js_sys::Reflect::get(&value, &"tokenExpiresIn".into()).ok().and_then(|v| v.as_f64());
            Ok(Frame::Authenticated(ms))
        }
        "gap" => {
            let features = js_sys::Reflect::get(&value, &"features".into()).unwrap_or(JsValue::UNDEFINED);
            let list: Option<Vec<String>> =
                js_sys::Array::is_array(&features).then(|| js_sys::Array::from(&features).iter().filter_map(|f| f.as_string()).collect());
            list.map(Frame::Gap).ok_or_else(|| "gap: `features` must be an array".into())
        }
        "subscribed" => serde_wasm_bindgen::from_value::<Subscribed>(value)
            .map(|s| Frame::Subscribed(s.streams))
            .map_err(|e| format!("subscribed: {e}")),
        "unsubscribed" => Ok(Frame::Ack),
        other => Err(format!("unknown frame type {other:?}")),
    }
}

fn event(value: JsValue) -> Result<Event, Invalid> {
    if !value.is_object() {
        return Err("event: not an object".into());
    }
    let raw: &RawFrame = value.unchecked_ref();
    let name = |field: &'static str, v: JsValue| -> Result<String, Invalid> {
        let s = v.as_string().ok_or_else(|| format!("event: `{field}` must be a string"))?;
        validate_name(field, &s).map_err(|e| format!("event: {e}"))?;
        Ok(s)
    };
    let feature = name("feature", raw.feature())?;
    let entity = name("entity", raw.entity())?;
    let action = name("action", raw.action())?;
    if raw.data().is_undefined() {
        return Err("event: missing `data`".into());
    }
    if !raw.meta().is_object() {
        return Err("event: missing `meta` object".into());
    }
    let seq = raw.seq();
    let seq = match seq.as_f64() {
        Some(n) if n >= 0.0 && n.fract() == 0.0 => Some(n as u64),
        Some(_) => return Err("event: `seq` must be a whole number".into()),
        None if seq.is_undefined() => None,
        None => return Err("event: `seq` must be a number".into()),
    };
    let epoch = raw.epoch().as_string();
    Ok(Event { message: value, feature, entity, action, seq, epoch })
}

/// The first 200 characters of a frame, for error reports.
pub(crate) fn excerpt(text: &JsValue) -> String {
    match text.as_string() {
        Some(s) => s.chars().take(200).collect(),
        None => "(binary)".into(),
    }
}
