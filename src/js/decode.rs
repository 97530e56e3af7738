//! Classifies one frame from the gateway. Every frame is parsed and checked by a small JS class
//! (src/js/envelope.js, the one place that decides what a valid frame is) that hands wasm a
//! single number for an event, plus the names only when they change. `data` always stays a
//! JavaScript value, untouched.

use crate::core::session::{NameId, Session};
use crate::protocol::StreamState;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/js/envelope.js")]
extern "C" {
    type Envelope;
    #[wasm_bindgen(constructor)]
    fn new() -> Envelope;
    #[wasm_bindgen(method)]
    fn parse(this: &Envelope, text: &JsValue) -> f64;
    #[wasm_bindgen(method)]
    fn count(this: &Envelope) -> u32;
    #[wasm_bindgen(method)]
    fn item(this: &Envelope, i: u32) -> f64;
    #[wasm_bindgen(method)]
    fn kind(this: &Envelope) -> i32;
    #[wasm_bindgen(method)]
    fn heartbeat(this: &Envelope) -> f64;
    #[wasm_bindgen(method, js_name = tokenMs)]
    fn token_ms(this: &Envelope) -> f64;
    #[wasm_bindgen(method)]
    fn list(this: &Envelope) -> Vec<String>;
    #[wasm_bindgen(method, js_name = epochOf)]
    fn epoch_of(this: &Envelope, feature: &str) -> String;
    #[wasm_bindgen(method, js_name = seqOf)]
    fn seq_of(this: &Envelope, feature: &str) -> f64;
    #[wasm_bindgen(method, js_name = recoveredOf)]
    fn recovered_of(this: &Envelope, feature: &str) -> i32;
    #[wasm_bindgen(method)]
    fn report(this: &Envelope) -> JsValue;
    #[wasm_bindgen(method)]
    fn message(this: &Envelope) -> JsValue;
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
    /// A parsed event; `data` is read without building a key string in Rust.
    pub(crate) type RawFrame;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn data(this: &RawFrame) -> JsValue;
}

/// An event's envelope with its names interned; `message` is the whole JS object.
pub(crate) struct Event {
    pub(crate) message: JsValue,
    pub(crate) feature: NameId,
    pub(crate) entity: NameId,
    pub(crate) action: NameId,
    /// Position in the feature's stream, when the gateway numbers it.
    pub(crate) seq: Option<u64>,
    pub(crate) epoch: Option<NameId>,
}

/// A valid frame.
pub(crate) enum Frame {
    Event(Event),
    /// Events published together; read each with [`Decoder::item`] (one bad event does not
    /// cost the others).
    Batch(u32),
    Welcome { heartbeat_ms: f64, token_ms: Option<f64> },
    /// A refreshed token was accepted; milliseconds until it expires.
    Authenticated(Option<f64>),
    /// The gateway dropped events of these features for us; the `onError` event to send.
    Gap(Vec<String>, JsValue),
    /// The reply to `subscribe`, with each feature's stream.
    Subscribed(Vec<(String, StreamState)>),
    Heartbeat,
    Ack,
    /// The gateway refused something; the `onError` event to send.
    Error(JsValue),
}

/// A dropped frame: the `onError` event that says why (built on the JS side).
pub(crate) type Invalid = JsValue;

/// Decodes one client's frames, remembering the last event's names: a name is copied into
/// wasm (and interned) only when it changes.
pub(crate) struct Decoder {
    js: Envelope,
    feature: NameId,
    entity: NameId,
    action: NameId,
    epoch: NameId,
}

impl Decoder {
    pub(crate) fn new() -> Self {
        Self { js: Envelope::new(), feature: 0, entity: 0, action: 0, epoch: 0 }
    }

    pub(crate) fn decode(&mut self, text: &JsValue, names: &mut Session) -> Result<Frame, Invalid> {
        let code = self.js.parse(text);
        if code >= 0.0 {
            return Ok(Frame::Event(self.known_event(code, names)));
        }
        if code == -1.0 {
            return Err(self.js.report());
        }
        if code == -3.0 {
            return Ok(Frame::Batch(self.js.count()));
        }
        let token = |ms: f64| (!ms.is_nan()).then_some(ms);
        // The kinds in envelope.js's KINDS order.
        Ok(match self.js.kind() {
            0 => Frame::Welcome { heartbeat_ms: self.js.heartbeat(), token_ms: token(self.js.token_ms()) },
            1 => Frame::Heartbeat,
            2 => Frame::Authenticated(token(self.js.token_ms())),
            3 => Frame::Gap(self.js.list(), self.js.report()),
            4 => Frame::Subscribed(
                self.js
                    .list()
                    .into_iter()
                    .map(|f| {
                        let recovered = match self.js.recovered_of(&f) {
                            -1 => None,
                            r => Some(r == 1),
                        };
                        let state = StreamState { epoch: self.js.epoch_of(&f), seq: self.js.seq_of(&f) as u64, recovered };
                        (f, state)
                    })
                    .collect(),
            ),
            5 => Frame::Ack,
            _ => Frame::Error(self.js.report()),
        })
    }

    /// Event `i` of the batch just decoded.
    pub(crate) fn item(&mut self, i: u32, names: &mut Session) -> Result<Event, Invalid> {
        let code = self.js.item(i);
        if code >= 0.0 {
            Ok(self.known_event(code, names))
        } else {
            Err(self.js.report())
        }
    }

    /// An event the JS side checked: `code` holds its flags and seq (see envelope.js).
    fn known_event(&mut self, code: f64, names: &mut Session) -> Event {
        let flags = (code % 64.0) as u32;
        if flags & 1 != 0 {
            self.feature = names.intern(&self.js.feature());
        }
        if flags & 2 != 0 {
            self.entity = names.intern(&self.js.entity());
        }
        if flags & 4 != 0 {
            self.action = names.intern(&self.js.action());
        }
        if flags & 8 != 0 {
            self.epoch = names.intern(&self.js.epoch());
        }
        Event {
            message: self.js.message(),
            feature: self.feature,
            entity: self.entity,
            action: self.action,
            seq: (flags & 16 != 0).then(|| (code / 64.0).floor() as u64),
            epoch: (flags & 32 != 0).then_some(self.epoch),
        }
    }
}
