//! Helpers for the browser tests: the gateway's address, its control harness, and ways to
//! await statuses and events (with a time limit, never a fixed sleep).

#![allow(dead_code)]

use futures::channel::mpsc::{unbounded, UnboundedReceiver};
use futures::{future, FutureExt, StreamExt};
use gloo_timers::future::TimeoutFuture;
use js_sys::{Function, Reflect};
mod api;
pub use api::{RealtimeClient, RealtimeStore, Subscription};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The gateway started by scripts/test.sh (compiled in: a wasm test cannot read the environment).
pub fn ws_url() -> &'static str {
    option_env!("LIVESTATE_TEST_WS_URL").expect("run the browser tests through `make test` (LIVESTATE_TEST_WS_URL unset)")
}

/// The main gateway through the harness's TCP proxy, which `gateway("cut")` severs.
pub fn proxy_ws_url() -> &'static str {
    option_env!("LIVESTATE_TEST_PROXY_WS_URL").expect("run the browser tests through `make test`")
}

/// The second gateway, which requires tokens signed by the harness (`token_from_harness`).
pub fn secure_ws_url() -> &'static str {
    option_env!("LIVESTATE_TEST_SECURE_WS_URL").expect("run the browser tests through `make test`")
}

/// A token function (as an app would write one) that fetches a token valid for `ttl`
/// seconds from the harness, and counts its calls.
pub fn token_from_harness(ttl: i32) -> (Function, UnboundedReceiver<()>) {
    let (tx, calls) = unbounded();
    let url = format!("{}/token?sub=u1&ttl={ttl}", ctl_url());
    let f = Closure::<dyn FnMut() -> js_sys::Promise>::new(move || {
        let _ = tx.unbounded_send(());
        let url = url.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let resp = JsFuture::from(web_sys::window().unwrap().fetch_with_str(&url)).await?;
            let resp: web_sys::Response = resp.dyn_into()?;
            JsFuture::from(resp.text()?).await
        })
    });
    (f.into_js_value().unchecked_into(), calls)
}

fn ctl_url() -> &'static str {
    option_env!("LIVESTATE_TEST_CTL_URL").expect("run the browser tests through `make test` (LIVESTATE_TEST_CTL_URL unset)")
}

/// Asks the harness to `kill`, `start`, `restart`, `pause` or `resume` the gateway; returns once done.
pub async fn gateway(command: &str) {
    let window = web_sys::window().unwrap();
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let resp = JsFuture::from(window.fetch_with_str_and_init(&format!("{}/{command}", ctl_url()), &init)).await.unwrap();
    let resp: web_sys::Response = resp.dyn_into().unwrap();
    assert_eq!(resp.status(), 204, "harness {command} failed");
}

/// Runs the harness's chaos publisher (see gateway-harness.mjs) and returns its report.
pub async fn chaos(query: &str) -> JsValue {
    let window = web_sys::window().unwrap();
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let resp = JsFuture::from(window.fetch_with_str_and_init(&format!("{}/chaos?{query}", ctl_url()), &init)).await.unwrap();
    let resp: web_sys::Response = resp.dyn_into().unwrap();
    assert_eq!(resp.status(), 200, "chaos run failed");
    JsFuture::from(resp.json().unwrap()).await.unwrap()
}

/// Publishes through the gateway's HTTP API (via the harness), as a backend would.
pub async fn backend_publish(body: &str) {
    let window = web_sys::window().unwrap();
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&body.into());
    let resp = JsFuture::from(window.fetch_with_str_and_init(&format!("{}/publish", ctl_url()), &init)).await.unwrap();
    let resp: web_sys::Response = resp.dyn_into().unwrap();
    assert_eq!(resp.status(), 204, "backend publish failed");
}

/// Options from a JSON literal, with `"url"` filled in when absent.
pub fn options(json: &str) -> JsValue {
    let v = js_sys::JSON::parse(json).unwrap();
    if Reflect::get(&v, &"url".into()).unwrap().is_undefined() {
        Reflect::set(&v, &"url".into(), &ws_url().into()).unwrap();
    }
    v
}

pub fn client(json: &str) -> RealtimeClient {
    RealtimeClient::new(options(json)).unwrap()
}

/// A JS function that forwards its arguments into a channel.
pub fn recorder() -> (Function, UnboundedReceiver<(JsValue, JsValue)>) {
    let (tx, rx) = unbounded();
    let f = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |a, b| {
        let _ = tx.unbounded_send((a, b));
    });
    (f.into_js_value().unchecked_into(), rx)
}

/// The next item, or a panic after `ms` milliseconds.
pub async fn next<T>(rx: &mut UnboundedReceiver<T>, ms: u32, what: &str) -> T {
    match future::select(rx.next().boxed_local(), TimeoutFuture::new(ms)).await {
        future::Either::Left((Some(v), _)) => v,
        future::Either::Left((None, _)) => panic!("{what}: channel closed"),
        future::Either::Right(_) => panic!("{what}: nothing within {ms} ms"),
    }
}

/// Status changes as strings.
pub struct Statuses {
    pub rx: UnboundedReceiver<(JsValue, JsValue)>,
    _off: Function,
}

impl Statuses {
    pub fn watch(c: &RealtimeClient) -> Self {
        let (f, rx) = recorder();
        Statuses { rx, _off: c.on_status(f) }
    }

    /// Waits until `status` is reported; returns the ones seen on the way (it included) and
    /// the reason that came with it.
    pub async fn until(&mut self, status: &str, ms: u32) -> (Vec<String>, JsValue) {
        let mut seen = Vec::new();
        loop {
            let (s, reason) = next(&mut self.rx, ms, &format!("status {status} (saw {seen:?})")).await;
            let s = s.as_string().unwrap();
            seen.push(s.clone());
            if s == status {
                return (seen, reason);
            }
        }
    }
}

/// A subscriber's received `data` values.
pub struct Inbox {
    pub rx: UnboundedReceiver<(JsValue, JsValue)>,
    pub sub: Subscription,
}

impl Inbox {
    /// The next event's data, skipping the probes `barrier` sends through the same feature.
    pub async fn next_data(&mut self, ms: u32) -> JsValue {
        loop {
            let (data, message) = next(&mut self.rx, ms, "event").await;
            if get(&message, "entity").as_string().as_deref() != Some("probe") {
                return data;
            }
        }
    }

    /// True if nothing but barrier probes is queued right now.
    pub fn is_empty(&mut self) -> bool {
        while let Ok((_, message)) = self.rx.try_recv() {
            if get(&message, "entity").as_string().as_deref() != Some("probe") {
                return false;
            }
        }
        true
    }
}

pub fn on_feature(c: &RealtimeClient, feature: &str) -> Inbox {
    let (f, rx) = recorder();
    Inbox { sub: c.subscribe_to_feature(feature, f).unwrap(), rx }
}

pub fn on_entity(c: &RealtimeClient, feature: &str, entity: &str) -> Inbox {
    let (f, rx) = recorder();
    Inbox { sub: c.subscribe_to_entity(feature, entity, f).unwrap(), rx }
}

pub fn on_event(c: &RealtimeClient, feature: &str, entity: &str, action: &str) -> Inbox {
    let (f, rx) = recorder();
    Inbox { sub: c.subscribe_to_event(feature, entity, action, f).unwrap(), rx }
}

pub fn event(feature: &str, entity: &str, action: &str, data: &str) -> JsValue {
    let v = js_sys::JSON::parse(&format!(r#"{{"feature":"{feature}","entity":"{entity}","action":"{action}"}}"#)).unwrap();
    Reflect::set(&v, &"data".into(), &js_sys::JSON::parse(data).unwrap()).unwrap();
    v
}

static NEXT_FEATURE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A feature name no other test uses, so tests sharing the gateway cannot see each other.
pub fn fresh_feature(prefix: &str) -> String {
    let n = NEXT_FEATURE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let salt = (js_sys::Math::random() * 1e9) as u32;
    format!("{prefix}-{salt}-{n}")
}

/// Proves the gateway has processed `c`'s subscription to `feature`: `c` publishes a probe on
/// the same socket (the gateway handles one connection's frames in order) and waits for it.
pub async fn barrier(c: &RealtimeClient, feature: &str) {
    let mut probe = on_event(c, feature, "probe", "barrier");
    let token = (js_sys::Math::random() * 1e9) as u32;
    let _ = c.send(event(feature, "probe", "barrier", &token.to_string())).unwrap();
    loop {
        if next(&mut probe.rx, 5000, "barrier probe").await.0.as_f64() == Some(token as f64) {
            break;
        }
    }
    probe.sub.unsubscribe();
}

/// A client built from `opts`, connected, and listening to `feature` (proven by a barrier).
pub async fn listening(opts: JsValue, feature: &str) -> (RealtimeClient, Statuses, Inbox) {
    let c = RealtimeClient::new(opts).unwrap();
    let mut st = Statuses::watch(&c);
    let inbox = on_feature(&c, feature);
    c.connect(None);
    st.until("connected", 10_000).await;
    barrier(&c, feature).await;
    (c, st, inbox)
}

/// Counts calls, for token functions.
pub fn counting_token(token: &'static str) -> (Function, Rc<Cell<u32>>) {
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let f = Closure::<dyn FnMut() -> JsValue>::new(move || {
        c.set(c.get() + 1);
        JsValue::from_str(token)
    });
    (f.into_js_value().unchecked_into(), calls)
}

pub fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

/// A bare browser WebSocket to the gateway, for sending frames the client never would.
pub struct RawSocket {
    ws: web_sys::WebSocket,
    _onopen: Closure<dyn FnMut()>,
}

impl RawSocket {
    pub async fn open() -> Self {
        let ws = web_sys::WebSocket::new(ws_url()).unwrap();
        let (tx, mut rx) = unbounded();
        let onopen = Closure::<dyn FnMut()>::new(move || {
            let _ = tx.unbounded_send(());
        });
        ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        next(&mut rx, 5000, "raw socket open").await;
        RawSocket { ws, _onopen: onopen }
    }

    /// Has the gateway forward `text` verbatim to `feature`'s subscribers.
    pub fn relay(&self, feature: &str, text: &str) {
        let frame = js_sys::Object::new();
        Reflect::set(&frame, &"type".into(), &"relay".into()).unwrap();
        Reflect::set(&frame, &"feature".into(), &feature.into()).unwrap();
        Reflect::set(&frame, &"raw".into(), &text.into()).unwrap();
        self.ws.send_with_str(&String::from(js_sys::JSON::stringify(&frame).unwrap())).unwrap();
    }
}

impl Drop for RawSocket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        let _ = self.ws.close();
    }
}
