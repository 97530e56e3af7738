//! Reads a control frame (welcome, heartbeat, subscribed, gap, error...) from the envelope of
//! the wire (src/js/envelope.js, the one place that decides what a valid frame is). Events never
//! come here: the wire hands them to the client in one call, with their names as ids.

use crate::protocol::StreamState;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/js/envelope.js")]
extern "C" {
    /// The wire's frame parser; after it classified a control frame, its fields are read here.
    pub(crate) type Envelope;
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
}

/// A valid control frame.
pub(crate) enum Frame {
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

/// Reads the control frames the wire's envelope classified.
pub(crate) struct Decoder {
    js: Envelope,
}

impl Decoder {
    pub(crate) fn new(js: Envelope) -> Self {
        Self { js }
    }

    /// The `onError` event for the frame (or batch event) the envelope refused last.
    pub(crate) fn report(&self) -> JsValue {
        self.js.report()
    }

    /// The control frame the envelope classified last.
    pub(crate) fn control(&self) -> Frame {
        let token = |ms: f64| (!ms.is_nan()).then_some(ms);
        // The kinds in envelope.js's KINDS order.
        match self.js.kind() {
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
        }
    }
}
