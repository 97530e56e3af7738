//! Classifies one frame from the gateway. The text is parsed by the browser's JSON.parse
//! (fast, and no JSON parser in the wasm), then only the envelope is read into Rust; `data`
//! stays a JavaScript value and reaches subscribers untouched.

use crate::protocol::{validate_name, ErrorFrame, Welcome};
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
}

/// A valid frame.
pub(crate) enum Frame {
    Event { message: JsValue, feature: String, entity: String, action: String },
    Welcome(Welcome),
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
        "event" => {
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
            Ok(Frame::Event { message: value, feature, entity, action })
        }
        "welcome" => serde_wasm_bindgen::from_value(value).map(Frame::Welcome).map_err(|e| format!("welcome: {e}")),
        "error" => serde_wasm_bindgen::from_value(value).map(Frame::Error).map_err(|e| format!("error frame: {e}")),
        "heartbeat" => Ok(Frame::Heartbeat),
        "subscribed" | "unsubscribed" => Ok(Frame::Ack),
        other => Err(format!("unknown frame type {other:?}")),
    }
}

/// The first 200 characters of a frame, for error reports.
pub(crate) fn excerpt(text: &JsValue) -> String {
    match text.as_string() {
        Some(s) => s.chars().take(200).collect(),
        None => "(binary)".into(),
    }
}
