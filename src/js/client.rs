//! `RealtimeClient`: the JavaScript face of the `Session`. It hands the session what the browser
//! side (src/js/wire.js) reports, performs the actions that come out, and calls JS callbacks only
//! after releasing its own state, so a callback may call back into the client (unsubscribe,
//! disconnect).

use super::decode::{self, Frame};
use super::errors::{error, error_event, ErrorCode};
use super::options::{self, TokenSource};
use super::sink::StoreSink;
use crate::core::connection::{Action, Connection, ConnectionStatus, Input, Outgoing, Refusal, Send, StopReason};
use crate::core::router::{Scope, SubId};
use crate::core::session::{Session, Sink, StoreId};
use crate::core::vecmap::VecMap;
use crate::web::now;
use js_sys::{Function, Promise};
use serde::Serialize;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use tsify::Tsify;
use wasm_bindgen::prelude::*;

/// Counters the app can read with `stats()`; nothing is dropped without one of these moving.
// Only the declaration is used: `stats()` builds the object in boundary.js.
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
}

#[wasm_bindgen(module = "/src/js/boundary.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = checkName)]
    fn check_name(field: &str, name: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = publishFrame)]
    fn publish_frame(event: &JsValue, max_size: usize) -> Result<String, JsValue>;
    #[wasm_bindgen(js_name = authFrame)]
    fn auth_frame(token: &str) -> String;
    #[wasm_bindgen(js_name = pongFrame)]
    fn pong_frame() -> String;
    #[wasm_bindgen(js_name = unsubscribeFrame)]
    fn unsubscribe_frame(features: Vec<String>) -> String;
    #[wasm_bindgen(js_name = subscribeFrame)]
    fn subscribe_frame(features: Vec<String>, pos_features: Vec<String>, pos_epochs: Vec<String>, pos_seqs: Vec<f64>) -> String;
    #[wasm_bindgen(js_name = statusName)]
    fn status_name(status: u8) -> String;
    #[wasm_bindgen(js_name = stopReason)]
    fn stop_reason(kind: u8, n: u32, text: &str) -> JsValue;
    #[wasm_bindgen(js_name = clientStats)]
    #[allow(clippy::too_many_arguments)]
    fn client_stats(frames: u32, delivered: u32, invalid: u32, callback_errors: u32, connects: u32, gaps: u32, duplicates: u32, resyncs: u32) -> JsValue;
}

#[wasm_bindgen(inline_js = "export function unsubscriber(h) { return () => { if (h) { h.remove(); h.free(); h = undefined; } }; }")]
extern "C" {
    fn unsubscriber(handle: ListenerHandle) -> Function;
}

mod inbound;
use inbound::Inlet;

#[wasm_bindgen(module = "/src/js/wire.js")]
extern "C" {
    /// The browser side of one client (src/js/wire.js): socket, timers, page events, token
    /// function. It reports to an [`Inlet`] and does what the client tells it.
    type Wire;
    #[wasm_bindgen(constructor)]
    fn new(inlet: Inlet) -> Wire;
    #[wasm_bindgen(method)]
    fn envelope(this: &Wire) -> decode::Envelope;
    #[wasm_bindgen(method)]
    fn open(this: &Wire, gen: u32, url: &str, token: &JsValue);
    #[wasm_bindgen(method)]
    fn send(this: &Wire, text: &str) -> bool;
    #[wasm_bindgen(method)]
    fn close(this: &Wire, gen: u32);
    #[wasm_bindgen(method)]
    fn refresh(this: &Wire, gen: u32, provider: &Function);
    #[wasm_bindgen(method)]
    fn timer(this: &Wire, kind: u32, ms: f64);
    #[wasm_bindgen(method)]
    fn stop(this: &Wire, kind: u32);
    #[wasm_bindgen(method)]
    fn dispose(this: &Wire);
}

type Shared = Rc<RefCell<Inner>>;

/// Things to tell JS listeners once the state borrow is released.
enum Notice {
    Status(ConnectionStatus),
    /// An `onError` event, built on the JS side.
    Error(JsValue),
    Resync(String),
    /// A store must reload (`true`) or report its items as stale.
    StoreResync(Rc<dyn StoreSink>, bool),
}

struct Listeners {
    next: u32,
    list: Vec<(u32, Function)>,
}

struct Inner {
    core: Session,
    url: String,
    token: TokenSource,
    /// The token fetched for the current socket, sent in its `auth` frame.
    socket_token: Option<String>,
    /// Socket, timers and page listeners; released when the client is dropped.
    wire: Wire,
    /// Largest frame `send` hands to the socket (the gateway's limit).
    max_message_size: usize,
    /// Outbox messages: the frame, and the `send` promise's resolve and reject.
    outbox: VecMap<u64, (String, Function, Function)>,
    /// The app callback of each `Sink::Callback` subscription.
    callbacks: VecMap<SubId, Function>,
    /// The stores this client feeds (`Sink::Store`), held weakly: their owner decides their life.
    stores: VecMap<StoreId, Rc<dyn StoreSink>>,
    decoder: decode::Decoder,
    /// The subscriptions of the event being delivered (kept to reuse its allocation).
    route: Vec<SubId>,
    status_listeners: Listeners,
    error_listeners: Listeners,
    resync_listeners: Listeners,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.wire.dispose();
    }
}

/// One WebSocket to the gateway, carrying every feature's events.
#[wasm_bindgen]
pub struct RealtimeClient {
    inner: Shared,
}

/// A subscription made with `subscribeToFeature`, `subscribeToEntity` or `subscribeToEvent`.
#[wasm_bindgen]
pub struct Subscription {
    client: Weak<RefCell<Inner>>,
    id: SubId,
    /// The store this subscription feeds, 0 for a callback.
    store: StoreId,
}

/// Removes an `onStatus`/`onError`/`onResync` listener; wrapped into the function those return.
#[wasm_bindgen]
pub struct ListenerHandle {
    client: Weak<RefCell<Inner>>,
    id: u32,
    kind: ListenerKind,
}

#[derive(Clone, Copy)]
enum ListenerKind {
    Status,
    Error,
    Resync,
}

impl Inner {
    fn listeners(&mut self, kind: ListenerKind) -> &mut Listeners {
        match kind {
            ListenerKind::Status => &mut self.status_listeners,
            ListenerKind::Error => &mut self.error_listeners,
            ListenerKind::Resync => &mut self.resync_listeners,
        }
    }
}

#[wasm_bindgen]
impl RealtimeClient {
    /// Creates a disconnected client. Throws `LivestateError` (`invalidOptions`) naming the bad option.
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue) -> Result<RealtimeClient, JsValue> {
        let parsed = options::parse(&options)?;
        let seed = (js_sys::Math::random() * u64::MAX as f64) as u64;
        let mut core = Session::new(Connection::new(parsed.config, seed));
        for f in &parsed.features {
            core.pin(f, &mut Vec::new());
        }
        let inner = Rc::new_cyclic(|weak| {
            let wire = Wire::new(Inlet::new(weak.clone()));
            RefCell::new(Inner {
                core,
                url: parsed.url,
                token: parsed.token,
                socket_token: None,
                decoder: decode::Decoder::new(wire.envelope()),
                wire,
                route: Vec::new(),
                outbox: VecMap::default(),
                max_message_size: parsed.max_message_size,
                callbacks: VecMap::default(),
                stores: VecMap::default(),
                status_listeners: Listeners { next: 0, list: Vec::new() },
                error_listeners: Listeners { next: 0, list: Vec::new() },
                resync_listeners: Listeners { next: 0, list: Vec::new() },
            })
        });
        Ok(RealtimeClient { inner })
    }

    /// Connects, and keeps reconnecting until `disconnect()`. A `token` given here replaces the
    /// one from the options. Does nothing if already connected or connecting.
    pub fn connect(&self, token: Option<String>) {
        if let Some(t) = token {
            self.inner.borrow_mut().token = TokenSource::Fixed(t);
        }
        drive(&self.inner, |me, out| me.core.handle(Input::Connect, now(), out));
    }

    /// Closes the socket, cancels every timer and drops every subscription; no reconnect follows.
    pub fn disconnect(&self) {
        drive(&self.inner, |me, out| {
            me.callbacks.clear();
            me.stores.clear();
            me.core.handle(Input::Disconnect, now(), out);
        });
    }

    /// Publishes an event through the gateway (which must allow client publishing). Resolves
    /// once written to the socket. Without an outbox, throws `LivestateError` `notConnected`
    /// at once unless connected; with one, the message waits for the next connect and the
    /// promise rejects with `outboxFull`, `outboxExpired` or `disconnected` if it cannot go.
    /// Throws `invalidArgument` for a malformed event.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn send(&self, #[wasm_bindgen(unchecked_param_type = "OutgoingEvent<unknown>")] event: JsValue) -> Result<Promise, JsValue> {
        let text = publish_frame(&event, self.inner.borrow().max_message_size)?;
        let mut verdict = Send::NotConnected;
        drive(&self.inner, |me, out| verdict = me.core.send(now(), out));
        let not_connected = || error(ErrorCode::NotConnected, "not connected: send() needs status 'connected'");
        match verdict {
            Send::Now if self.inner.borrow().wire.send(&text) => Ok(Promise::resolve(&JsValue::UNDEFINED)),
            Send::Now => Err(not_connected()),
            Send::Queued(id) => {
                let inner = self.inner.clone();
                Ok(Promise::new(&mut move |resolve, reject| {
                    inner.borrow_mut().outbox.insert(id, (text.clone(), resolve, reject));
                }))
            }
            Send::Full => Ok(Promise::reject(&error(ErrorCode::OutboxFull, "the outbox is full"))),
            Send::NotConnected => Err(not_connected()),
        }
    }

    /// `'connected' | 'disconnected' | 'reconnecting'`.
    #[wasm_bindgen(getter, unchecked_return_type = "ConnectionStatus")]
    pub fn status(&self) -> JsValue {
        status_js(self.inner.borrow().core.conn().status())
    }

    /// Why the client is `disconnected`, if it stopped for a reason.
    #[wasm_bindgen(getter, js_name = statusReason, unchecked_return_type = "StopReason | undefined")]
    pub fn status_reason(&self) -> JsValue {
        reason_js(self.inner.borrow().core.conn().reason())
    }

    /// Failed reconnect attempts since the last successful connect.
    #[wasm_bindgen(getter, js_name = reconnectAttempts)]
    pub fn reconnect_attempts(&self) -> u32 {
        self.inner.borrow().core.conn().attempts()
    }

    /// Counters of frames, deliveries and failures.
    #[wasm_bindgen(unchecked_return_type = "ClientStats")]
    pub fn stats(&self) -> JsValue {
        let me = self.inner.borrow();
        let s = me.core.stats();
        // Duplicates are counted by the core; read here rather than copied on every event.
        let duplicates = me.core.duplicates() as u32;
        client_stats(s.frames_received, s.events_delivered, s.invalid_frames, s.callback_errors, s.connects, s.gaps, duplicates, s.resyncs)
    }

    /// Calls `callback(status, reason)` on every status change. Returns a function that removes it.
    #[wasm_bindgen(js_name = onStatus, unchecked_return_type = "() => void")]
    pub fn on_status(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(status: ConnectionStatus, reason?: StopReason) => void")] callback: Function,
    ) -> Function {
        self.listen(callback, ListenerKind::Status)
    }

    /// Calls `callback(event)` for invalid frames, throwing subscribers, gateway errors and
    /// token failures. Returns a function that removes it.
    #[wasm_bindgen(js_name = onError, unchecked_return_type = "() => void")]
    pub fn on_error(&self, #[wasm_bindgen(unchecked_param_type = "(event: RealtimeErrorEvent) => void")] callback: Function) -> Function {
        self.listen(callback, ListenerKind::Error)
    }

    /// Calls `callback(feature)` when events of `feature` were lost for good (the gateway
    /// restarted, or the client was away longer than the gateway's history): state built from
    /// that feature's events must be reloaded. Stores with a `reload` option do it themselves.
    /// Returns a function that removes the listener.
    #[wasm_bindgen(js_name = onResync, unchecked_return_type = "() => void")]
    pub fn on_resync(&self, #[wasm_bindgen(unchecked_param_type = "(feature: string) => void")] callback: Function) -> Function {
        self.listen(callback, ListenerKind::Resync)
    }

    /// Calls `callback(data, message)` for every event of `feature`.
    #[wasm_bindgen(js_name = subscribeToFeature)]
    pub fn subscribe_to_feature(
        &self,
        feature: &str,
        #[wasm_bindgen(unchecked_param_type = "(data: any, message: WebSocketMessage<any>) => void")] callback: Function,
    ) -> Result<Subscription, JsValue> {
        self.subscribe(feature, Scope::Feature, callback)
    }

    /// Calls `callback(data, message)` for every event of `entity` within `feature`.
    #[wasm_bindgen(js_name = subscribeToEntity)]
    pub fn subscribe_to_entity(
        &self,
        feature: &str,
        entity: &str,
        #[wasm_bindgen(unchecked_param_type = "(data: any, message: WebSocketMessage<any>) => void")] callback: Function,
    ) -> Result<Subscription, JsValue> {
        check("entity", entity)?;
        self.subscribe(feature, Scope::Entity(entity.into()), callback)
    }

    /// Calls `callback(data, message)` for `feature.entity.action` events.
    #[wasm_bindgen(js_name = subscribeToEvent)]
    pub fn subscribe_to_event(
        &self,
        feature: &str,
        entity: &str,
        action: &str,
        #[wasm_bindgen(unchecked_param_type = "(data: any, message: WebSocketMessage<any>) => void")] callback: Function,
    ) -> Result<Subscription, JsValue> {
        check("entity", entity)?;
        check("action", action)?;
        self.subscribe(feature, Scope::Event(entity.into(), action.into()), callback)
    }
}

impl RealtimeClient {
    fn subscribe(&self, feature: &str, scope: Scope, callback: Function) -> Result<Subscription, JsValue> {
        check("feature", feature)?;
        let mut id = 0;
        drive(&self.inner, |me, out| {
            id = me.core.subscribe(feature, scope, Sink::Callback, out);
            me.callbacks.insert(id, callback);
        });
        Ok(Subscription { client: Rc::downgrade(&self.inner), id, store: 0 })
    }

    /// Feeds a store `feature.entity` events; `reloads` if it can fetch its items again. The
    /// subscription's `unsubscribe` detaches the store.
    pub(crate) fn attach_store(&self, feature: &str, entity: &str, reloads: bool, store: Rc<dyn StoreSink>) -> Result<Subscription, JsValue> {
        check("feature", feature)?;
        check("entity", entity)?;
        let mut id = 0;
        let mut sid = 0;
        drive(&self.inner, |me, out| {
            sid = me.core.add_store(feature, reloads);
            id = me.core.subscribe(feature, Scope::Entity(entity.into()), Sink::Store(sid), out);
            me.stores.insert(sid, store);
        });
        Ok(Subscription { client: Rc::downgrade(&self.inner), id, store: sid })
    }

    fn listen(&self, callback: Function, kind: ListenerKind) -> Function {
        let mut me = self.inner.borrow_mut();
        let l = me.listeners(kind);
        l.next += 1;
        l.list.push((l.next, callback));
        unsubscriber(ListenerHandle { client: Rc::downgrade(&self.inner), id: l.next, kind })
    }
}

#[wasm_bindgen]
impl Subscription {
    /// Stops delivery to this callback. Safe to call more than once.
    pub fn unsubscribe(&self) {
        if let Some(rc) = self.client.upgrade() {
            drive(&rc, |me, out| {
                if me.core.unsubscribe(self.id, out) {
                    me.callbacks.remove(&self.id);
                    me.core.remove_store(self.store);
                    me.stores.remove(&self.store);
                }
            });
        }
    }

    /// True until `unsubscribe()` or the client's `disconnect()`.
    #[wasm_bindgen(getter)]
    pub fn active(&self) -> bool {
        self.client.upgrade().is_some_and(|rc| rc.borrow().core.is_live(self.id))
    }
}

#[wasm_bindgen]
impl ListenerHandle {
    /// Removes the listener.
    pub fn remove(&self) {
        if let Some(rc) = self.client.upgrade() {
            rc.borrow_mut().listeners(self.kind).list.retain(|(id, _)| *id != self.id);
        }
    }
}

fn check(field: &str, name: &str) -> Result<(), JsValue> {
    check_name(field, name)
}

fn status_js(s: ConnectionStatus) -> JsValue {
    status_name(s as u8).into()
}

fn reason_js(r: Option<&StopReason>) -> JsValue {
    match r {
        None => JsValue::UNDEFINED,
        Some(StopReason::Client) => stop_reason(0, 0, ""),
        Some(StopReason::Offline) => stop_reason(1, 0, ""),
        Some(StopReason::MaxAttempts { attempts }) => stop_reason(2, *attempts, ""),
        Some(StopReason::Rejected { code, reason }) => stop_reason(3, (*code).into(), reason),
    }
}

/// Runs `f` on the state, performs the actions it produced, then notifies listeners with the
/// state released.
fn drive(rc: &Shared, f: impl FnOnce(&mut Inner, &mut Vec<Action>)) {
    let notices = {
        let mut me = rc.borrow_mut();
        let mut actions = Vec::new();
        f(&mut me, &mut actions);
        let mut notices = Vec::new();
        for a in actions {
            me.perform(a, &mut notices);
        }
        notices
    };
    notify(rc, notices);
}

fn notify(rc: &Shared, notices: Vec<Notice>) {
    for n in notices {
        let (listeners, args) = {
            let me = rc.borrow();
            match &n {
                Notice::StoreResync(store, reload) => {
                    drop(me);
                    store.resync(*reload);
                    continue;
                }
                Notice::Status(s) => {
                    let reason = me.core.conn().reason().filter(|_| *s == ConnectionStatus::Disconnected);
                    (me.status_listeners.snapshot(), (status_js(*s), reason_js(reason)))
                }
                Notice::Error(e) => (me.error_listeners.snapshot(), (e.clone(), JsValue::UNDEFINED)),
                Notice::Resync(f) => (me.resync_listeners.snapshot(), (JsValue::from(f.as_str()), JsValue::UNDEFINED)),
            }
        };
        for f in listeners {
            // A throwing listener must not stop the others; there is nowhere better to report it.
            let _ = f.call2(&JsValue::NULL, &args.0, &args.1);
        }
    }
}

impl Listeners {
    fn snapshot(&self) -> Vec<Function> {
        self.list.iter().map(|(_, f)| f.clone()).collect()
    }
}

impl Inner {
    fn perform(&mut self, action: Action, notices: &mut Vec<Notice>) {
        match action {
            Action::Open { gen } => {
                let token = match &self.token {
                    TokenSource::None => JsValue::UNDEFINED,
                    TokenSource::Fixed(t) => t.into(),
                    TokenSource::Provider(f) => f.into(),
                };
                self.wire.open(gen, &self.url, &token);
            }
            Action::RefreshToken { gen } => {
                // Only a token function can produce a fresh token; a fixed one is left to expire
                // (the gateway then closes with 4500 and the app calls connect(newToken)).
                if let TokenSource::Provider(provider) = &self.token {
                    self.wire.refresh(gen, provider);
                }
            }
            Action::Close { gen } => self.wire.close(gen),
            Action::Send(o) => {
                let frame = match o {
                    Outgoing::Auth => match &self.socket_token {
                        Some(token) => auth_frame(token),
                        None => return,
                    },
                    Outgoing::Subscribe { features, positions } => {
                        let (mut names, mut epochs, mut seqs) = (Vec::new(), Vec::new(), Vec::new());
                        for (feature, p) in positions {
                            names.push(feature);
                            epochs.push(p.epoch);
                            seqs.push(p.seq as f64);
                        }
                        subscribe_frame(features, names, epochs, seqs)
                    }
                    Outgoing::Unsubscribe(features) => unsubscribe_frame(features),
                    Outgoing::Pong => pong_frame(),
                };
                self.wire.send(&frame);
            }
            Action::StartTimer(kind, ms) => self.wire.timer(kind as u32, ms.clamp(0.0, crate::core::backoff::MAX_TIMER_MS).ceil()),
            Action::StopTimer(kind) => self.wire.stop(kind as u32),
            Action::Flush(ids) => {
                for id in ids {
                    let Some((text, resolve, reject)) = self.outbox.remove(&id) else { continue };
                    // Settling a promise only queues its callbacks: safe with the state borrowed.
                    if self.wire.send(&text) {
                        let _ = resolve.call0(&JsValue::NULL);
                    } else {
                        let _ = reject.call1(&JsValue::NULL, &error(ErrorCode::NotConnected, "the connection closed"));
                    }
                }
            }
            Action::Refuse(ids, why) => {
                let (code, message) = match why {
                    Refusal::Expired => (ErrorCode::OutboxExpired, "the message waited in the outbox longer than maxAge"),
                    Refusal::Disconnected => (ErrorCode::Disconnected, "disconnect() was called before the message could be sent"),
                };
                for id in ids {
                    if let Some((_, _, reject)) = self.outbox.remove(&id) {
                        let _ = reject.call1(&JsValue::NULL, &error(code, message));
                    }
                }
            }
            Action::Resync(feature) => notices.push(Notice::Resync(feature)),
            Action::Reload(sid) | Action::Lost(sid) => {
                if let Some(store) = self.stores.get(&sid) {
                    notices.push(Notice::StoreResync(store.clone(), matches!(action, Action::Reload(_))));
                }
            }
            Action::Status(s) => notices.push(Notice::Status(s)),
        }
    }
}
