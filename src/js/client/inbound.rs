//! The inbound side of the client: the [`Inlet`] through which the browser side (src/js/wire.js)
//! reports socket events, frames, timers and page events. An event comes in as one call with
//! numbers (interned names, seq) and the parsed message; the session routes it, and it is
//! delivered with the state released.

use super::*;
use crate::core::connection::Timer;

/// Where the browser side reports to; holds the client weakly (the client owns the wire, which
/// owns this).
#[wasm_bindgen(skip_typescript)]
pub struct Inlet {
    client: Weak<RefCell<Inner>>,
}

impl Inlet {
    pub(super) fn new(client: Weak<RefCell<Inner>>) -> Self {
        Self { client }
    }

    /// The client, unless it is gone or busy. Busy means a socket delivered from inside one of
    /// the client's own calls (a polyfill's `send`, say): the wire then tries again in a
    /// microtask instead of this panicking on the borrowed state and killing the module.
    fn client(&self) -> Option<Shared> {
        self.client.upgrade().filter(|rc| rc.try_borrow_mut().is_ok())
    }

    fn input(&self, input: Input<'_>) {
        if let Some(rc) = self.client() {
            drive(&rc, |me, out| me.core.handle(input, now(), out));
        }
    }
}

#[wasm_bindgen]
impl Inlet {
    /// The id of a feature, entity, action or epoch name; -1 while the client is busy.
    pub fn intern(&self, name: &str) -> f64 {
        self.client().map_or(-1.0, |rc| rc.borrow_mut().core.intern(name).into())
    }

    /// An event checked by the envelope (`seq` and `epoch` -1 when absent). False if the
    /// client is busy: the wire delivers the frame again later. `in_batch`: the batch frame was
    /// counted already.
    #[allow(clippy::too_many_arguments)]
    pub fn event(
        &self,
        gen: u32,
        feature: u32,
        entity: u32,
        action: u32,
        seq: f64,
        epoch: f64,
        message: JsValue,
        data: JsValue,
        in_batch: bool,
    ) -> bool {
        let Some(rc) = self.client() else { return self.client.upgrade().is_none() };
        let seq = (seq >= 0.0).then_some(seq as u64);
        let epoch = (epoch >= 0.0).then_some(epoch as u32);
        // The route list is the client's, lent out while the event is delivered: no allocation
        // per event.
        let mut route = Vec::new();
        drive(&rc, |me, out| {
            if !in_batch {
                me.core.frame(gen, now(), out);
            }
            route = std::mem::take(&mut me.route);
            route.clear();
            route.extend_from_slice(me.core.event(feature, entity, action, seq, epoch, out));
        });
        if !route.is_empty() {
            dispatch(&rc, &route, [feature, entity, action], &data, &message);
        }
        rc.borrow_mut().route = route;
        true
    }

    /// Any other frame: `code` is the envelope's verdict (-1 invalid, -2 a control frame, -3 a
    /// batch, whose events follow one by one). False if the client is busy.
    pub fn frame(&self, gen: u32, code: i32) -> bool {
        let Some(rc) = self.client() else { return self.client.upgrade().is_none() };
        drive(&rc, |me, out| me.core.frame(gen, now(), out));
        match code {
            -1 => self.invalid(),
            -2 => {
                let frame = rc.borrow().decoder.control();
                control(&rc, gen, frame);
            }
            _ => {}
        }
        true
    }

    /// An event of a batch that the envelope refused: counted and reported.
    pub fn invalid(&self) {
        if let Some(rc) = self.client.upgrade() {
            let report = {
                let mut me = rc.borrow_mut();
                me.core.invalid_frame();
                me.decoder.report()
            };
            notify(&rc, vec![Notice::Error(report)]);
        }
    }

    /// The token for socket `gen` is here; false if that socket is no longer wanted.
    pub fn token(&self, gen: u32, token: Option<String>) -> bool {
        let Some(rc) = self.client.upgrade() else { return false };
        let mut me = rc.borrow_mut();
        if me.core.conn().socket() != Some(gen) {
            return false; // disconnected or replaced while the token was being fetched
        }
        me.socket_token = token;
        true
    }

    /// The token function threw (or gave no string): reported, and the attempt for socket
    /// `gen` fails (-1: a refresh, which only reports).
    #[wasm_bindgen(js_name = tokenFailed)]
    pub fn token_failed(&self, gen: i32, thrown: JsValue) {
        let Some(rc) = self.client.upgrade() else { return };
        notify(&rc, vec![Notice::Error(error_event(1, "", &thrown))]);
        if gen >= 0 {
            drive(&rc, |me, out| me.core.handle(Input::Closed { gen: gen as u32, code: 1006, reason: "" }, now(), out));
        }
    }

    /// A fresh token for socket `gen`: sent in band if that socket is still the connected one.
    pub fn refreshed(&self, gen: u32, token: String) {
        let Some(rc) = self.client.upgrade() else { return };
        let me = rc.borrow();
        if me.core.conn().socket() == Some(gen) && me.core.conn().is_connected() {
            me.wire.send(&auth_frame(&token));
        }
    }

    pub fn opened(&self, gen: u32) {
        self.input(Input::Opened { gen });
    }

    pub fn closed(&self, gen: u32, code: u16, reason: String) {
        self.input(Input::Closed { gen, code, reason: &reason });
    }

    /// Timer `kind` (in the core's `Timer` order) fired.
    pub fn fired(&self, kind: u32) {
        if let Some(t) = Timer::ALL.get(kind as usize) {
            self.input(Input::Fired(*t));
        }
    }

    /// The page went online (0), offline (1) or visible (2).
    pub fn page(&self, kind: u32) {
        self.input(match kind {
            0 => Input::Online,
            1 => Input::Offline,
            _ => Input::Visible,
        });
    }
}

fn control(rc: &Shared, gen: u32, frame: Frame) {
    match frame {
        Frame::Subscribed(streams) => drive(rc, |me, out| {
            for (feature, state) in &streams {
                me.core.subscribed(feature, state, out);
            }
        }),
        Frame::Welcome { heartbeat_ms, token_ms } => {
            drive(rc, |me, out| me.core.handle(Input::Welcome { gen, heartbeat_ms, token_ms }, now(), out))
        }
        Frame::Authenticated(token_ms) => drive(rc, |me, out| me.core.handle(Input::Authenticated { gen, token_ms }, now(), out)),
        Frame::Gap(features, report) => {
            // Each feature is recovered from the gateway's history (a replay on this socket).
            drive(rc, |me, out| me.core.gap(&features, out));
            notify(rc, vec![Notice::Error(report)]);
        }
        Frame::Heartbeat => drive(rc, |me, out| me.core.handle(Input::Heartbeat { gen }, now(), out)),
        Frame::Ack => {}
        Frame::Error(report) => notify(rc, vec![Notice::Error(report)]),
    }
}

/// Delivers one event to the subscriptions the session routed it to, in that order. Each one
/// is checked again right before its turn, so one that an earlier callback unsubscribed is
/// skipped.
fn dispatch(rc: &Shared, route: &[SubId], [feature, entity, action]: [u32; 3], data: &JsValue, message: &JsValue) {
    for &id in route {
        let target = {
            let me = rc.borrow();
            match me.core.sink(id) {
                Some(Sink::Callback) => me.callbacks.get(&id).cloned().map(Ok),
                Some(Sink::Store(sid)) => me.stores.get(&sid).cloned().map(|s| Err((s, me.core.op()))),
                None => None,
            }
        };
        match target {
            None => {}
            Some(Err((store, op))) => {
                let name = || rc.borrow().core.name(action).to_owned();
                store.deliver(op, &name, data.clone(), message);
            }
            Some(Ok(f)) => {
                if let Err(e) = f.call2(&JsValue::NULL, data, message) {
                    let name = {
                        let mut me = rc.borrow_mut();
                        me.core.callback_error();
                        [me.core.name(feature), ".", me.core.name(entity), ".", me.core.name(action)].concat()
                    };
                    notify(rc, vec![Notice::Error(error_event(0, &name, &e))]);
                }
            }
        }
    }
}
