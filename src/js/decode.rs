//! Classifies one frame from the gateway. An event, by far the most common frame, is parsed and
//! checked by a small JS class (src/js/envelope.js) that hands wasm a single number, plus the
//! names only when they change; anything else is parsed by the browser's JSON.parse too and its
//! envelope read into Rust. `data` always stays a JavaScript value, untouched.

use crate::protocol::{validate_name, ErrorFrame, StreamState, Welcome};
use std::collections::BTreeMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/js/envelope.js")]
extern "C" {
    type Envelope;
    #[wasm_bindgen(constructor)]
    fn new() -> Envelope;
    #[wasm_bindgen(method)]
    fn parse(this: &Envelope, text: &JsValue) -> f64;
    #[wasm_bindgen(method)]
    fn event(this: &Envelope, value: &JsValue) -> f64;
    #[wasm_bindgen(method)]
    fn message(this: &Envelope) -> JsValue;
    #[wasm_bindgen(method)]
    fn reset(this: &Envelope);
    #[wasm_bindgen(method)]
    fn feature(this: &Envelope) -> String;
    #[wasm_bindgen(method)]
    fn entity(this: &Envelope) -> String;
    #[wasm_bindgen(method)]
    fn action(this: &Envelope) -> String;
    #[wasm_bindgen(method)]
    fn epoch(this: &Envelope) -> String;
}

#[wasm_bindgen]
extern "C" {
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
    pub(crate) feature: Rc<str>,
    pub(crate) entity: Rc<str>,
    pub(crate) action: Rc<str>,
    /// Position in the feature's stream, when the gateway numbers it.
    pub(crate) seq: Option<u64>,
    pub(crate) epoch: Option<Rc<str>>,
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

/// Decodes one client's frames, remembering the last event's names: a name is copied into wasm
/// and validated only when it changes.
pub(crate) struct Decoder {
    js: Envelope,
    feature: Rc<str>,
    entity: Rc<str>,
    action: Rc<str>,
    epoch: Rc<str>,
}

impl Decoder {
    pub(crate) fn new() -> Self {
        Self { js: Envelope::new(), feature: "".into(), entity: "".into(), action: "".into(), epoch: "".into() }
    }

    pub(crate) fn decode(&mut self, text: &JsValue) -> Result<Frame, Invalid> {
        let code = self.js.parse(text);
        if code >= 0.0 {
            return self.known_event(code).map(Frame::Event);
        }
        match code as i32 {
            -1 => Err("binary frames are not part of the protocol".into()),
            -2 => Err(format!("not JSON: {}", super::errors::describe(&self.js.message()))),
            -3 => Err("a frame must be a JSON object".into()),
            -4 => self.other(self.js.message()),
            _ => {
                self.js.reset();
                event(self.js.message()).map(Frame::Event)
            }
        }
    }

    /// One element of a batch.
    fn event(&mut self, value: JsValue) -> Result<Event, Invalid> {
        let code = self.js.event(&value);
        if code >= 0.0 {
            return self.known_event(code);
        }
        self.js.reset();
        event(value)
    }

    /// An event the JS side checked: `code` holds its flags and seq (see envelope.js).
    fn known_event(&mut self, code: f64) -> Result<Event, Invalid> {
        let flags = (code % 64.0) as u32;
        if flags & 1 != 0 {
            self.feature = self.name("feature", self.js.feature())?;
        }
        if flags & 2 != 0 {
            self.entity = self.name("entity", self.js.entity())?;
        }
        if flags & 4 != 0 {
            self.action = self.name("action", self.js.action())?;
        }
        if flags & 8 != 0 {
            self.epoch = self.js.epoch().into();
        }
        Ok(Event {
            message: self.js.message(),
            feature: self.feature.clone(),
            entity: self.entity.clone(),
            action: self.action.clone(),
            seq: (flags & 16 != 0).then(|| (code / 64.0).floor() as u64),
            epoch: (flags & 32 != 0).then(|| self.epoch.clone()),
        })
    }

    fn name(&self, field: &'static str, name: String) -> Result<Rc<str>, Invalid> {
        if let Err(e) = validate_name(field, &name) {
            self.js.reset(); // the next event sends every name again
            return Err(format!("event: {e}"));
        }
        Ok(name.into())
    }

    /// Any frame but an event.
    fn other(&mut self, value: JsValue) -> Result<Frame, Invalid> {
        let raw: &RawFrame = value.unchecked_ref();
        let kind = raw.kind().as_string().ok_or("a frame needs a string `type`")?;
        match kind.as_str() {
            "batch" => {
                let events = js_sys::Reflect::get(&value, &"events".into()).unwrap_or(JsValue::UNDEFINED);
                if !js_sys::Array::is_array(&events) {
                    return Err("batch: `events` must be an array".into());
                }
                Ok(Frame::Batch(js_sys::Array::from(&events).iter().map(|e| self.event(e)).collect()))
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
                let list: Option<Vec<String>> = js_sys::Array::is_array(&features)
                    .then(|| js_sys::Array::from(&features).iter().filter_map(|f| f.as_string()).collect());
                list.map(Frame::Gap).ok_or_else(|| "gap: `features` must be an array".into())
            }
            "subscribed" => serde_wasm_bindgen::from_value::<Subscribed>(value)
                .map(|s| Frame::Subscribed(s.streams))
                .map_err(|e| format!("subscribed: {e}")),
            "unsubscribed" => Ok(Frame::Ack),
            other => Err(format!("unknown frame type {other:?}")),
        }
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
    let feature = name("feature", raw.feature())?.into();
    let entity = name("entity", raw.entity())?.into();
    let action = name("action", raw.action())?.into();
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
    let epoch = raw.epoch().as_string().map(Rc::from);
    Ok(Event { message: value, feature, entity, action, seq, epoch })
}

/// The first 200 characters of a frame, for error reports.
pub(crate) fn excerpt(text: &JsValue) -> String {
    match text.as_string() {
        Some(s) => s.chars().take(200).collect(),
        None => "(binary)".into(),
    }
}
