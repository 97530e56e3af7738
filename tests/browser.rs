//! Browser tests: the real client in headless Chromium against the real gateway, which
//! scripts/test.sh starts (with client publishing and the raw relay switched on) and which a
//! small harness can kill, restart, pause and resume on request.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use futures::StreamExt;
use js_sys::Reflect;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn connected(json: &str) -> (RealtimeClient, Statuses) {
    let c = client(json);
    let mut st = Statuses::watch(&c);
    c.connect(None);
    st.until("connected", 10_000).await;
    (c, st)
}

#[wasm_bindgen_test]
async fn connect_reports_connecting_then_connected_and_status_is_readable() {
    let c = client("{}");
    assert_eq!(c.status().as_string().unwrap(), "disconnected");
    let mut st = Statuses::watch(&c);
    c.connect(None);
    let (seen, _) = st.until("connected", 10_000).await;
    assert_eq!(seen, ["connecting", "connected"]);
    assert_eq!(c.status().as_string().unwrap(), "connected");
    assert_eq!(get(&c.stats(), "connects").as_f64(), Some(1.0));
    c.disconnect();
    let (seen, reason) = st.until("disconnected", 5_000).await;
    assert_eq!(seen, ["disconnected"]);
    assert_eq!(get(&reason, "kind").as_string().unwrap(), "client");
}

#[wasm_bindgen_test]
async fn events_reach_feature_entity_and_action_subscribers_and_only_them() {
    let f = fresh_feature("route");
    let other = fresh_feature("other");
    let (a, _sa) = connected("{}").await;
    let mut by_feature = on_feature(&a, &f);
    let mut by_entity = on_entity(&a, &f, "role");
    let mut by_event = on_event(&a, &f, "role", "created");
    let mut elsewhere = on_feature(&a, &other);
    barrier(&a, &f).await;
    barrier(&a, &other).await;

    let (b, _sb) = connected("{}").await;
    let _ = b.send(event(&f, "role", "created", r#"{"id":1}"#)).unwrap();
    let _ = b.send(event(&f, "role", "deleted", r#"{"id":2}"#)).unwrap();
    let _ = b.send(event(&f, "permission", "created", r#"{"id":3}"#)).unwrap();

    let ids = |v: Vec<JsValue>| v.iter().map(|d| get(d, "id").as_f64().unwrap()).collect::<Vec<_>>();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(by_feature.next_data(5000).await);
    }
    assert_eq!(ids(got), [1.0, 2.0, 3.0], "the feature subscriber sees all three, in order");
    let got = vec![by_entity.next_data(5000).await, by_entity.next_data(5000).await];
    assert_eq!(ids(got), [1.0, 2.0]);
    let (data, message) = common::next(&mut by_event.rx, 5000, "event").await;
    assert_eq!(get(&data, "id").as_f64(), Some(1.0));
    assert_eq!(get(&message, "action").as_string().unwrap(), "created");
    assert_eq!(get(&get(&message, "meta"), "priority").as_string().unwrap(), "normal");
    // Every event above was delivered before this point, so anything extra would be queued.
    assert!(by_entity.is_empty() && by_event.is_empty() && elsewhere.is_empty());
    a.disconnect();
    b.disconnect();
}

#[wasm_bindgen_test]
async fn unsubscribe_stops_delivery_to_that_callback_only() {
    let f = fresh_feature("unsub");
    let (a, _s) = connected("{}").await;
    let mut stays = on_feature(&a, &f);
    let mut leaves = on_event(&a, &f, "item", "updated");
    let mut twice = on_event(&a, &f, "item", "updated");
    barrier(&a, &f).await;
    leaves.sub.unsubscribe();
    leaves.sub.unsubscribe(); // safe to repeat
    assert!(!leaves.sub.active());

    let _ = a.send(event(&f, "item", "updated", "1")).unwrap();
    assert_eq!(stays.next_data(5000).await.as_f64(), Some(1.0));
    assert_eq!(twice.next_data(5000).await.as_f64(), Some(1.0));
    assert!(leaves.is_empty(), "the unsubscribed callback got the event");
    a.disconnect();
}

#[wasm_bindgen_test]
async fn send_while_disconnected_throws_a_typed_error() {
    let c = client("{}");
    let err = c.send(event("rbac", "role", "created", "{}")).unwrap_err();
    assert_eq!(get(&err, "name").as_string().unwrap(), "LivestateError");
    assert_eq!(get(&err, "code").as_string().unwrap(), "notConnected");
    assert!(err.is_instance_of::<js_sys::Error>());
}

#[wasm_bindgen_test]
async fn bad_options_and_bad_names_throw_errors_that_name_the_problem() {
    let cases = [
        (r#"{"url":"ws://host:99999/ws"}"#, "url"),
        (r#"{"url":"ftp://x/ws"}"#, "ws:"),
        (r#"{"backoff":{"min":0}}"#, "backoff.min"),
        (r#"{"backoff":{"jitter":2}}"#, "backoff.jitter"),
        (r#"{"maxReconnectAttempts":-1}"#, "maxReconnectAttempts"),
        (r#"{"heartbeatTimeout":"soon"}"#, "invalid options"),
        (r#"{"reconnectAttemps":3}"#, "reconnectAttemps"),
        (r#"{"token":42}"#, "token"),
        (r#"{"shareAcrossTabs":5}"#, "shareAcrossTabs"),
        (r#"{"shareAcrossTabs":""}"#, "shareAcrossTabs"),
    ];
    for (json, needle) in cases {
        let err = RealtimeClient::new(options(json)).err().unwrap_or_else(|| panic!("{json} was accepted"));
        assert_eq!(get(&err, "code").as_string().unwrap(), "invalidOptions", "{json}");
        let msg = get(&err, "message").as_string().unwrap();
        assert!(msg.contains(needle), "{json}: {msg:?} does not mention {needle}");
    }
    let c = client("{}");
    let (f, _) = recorder();
    let err = c.subscribe_to_entity("rbac", "Role.Name", f).err().unwrap();
    assert_eq!(get(&err, "code").as_string().unwrap(), "invalidArgument");
    let big = event("rbac", "role", "created", &format!("\"{}\"", "x".repeat(70_000)));
    let err = c.send(big).unwrap_err();
    assert_eq!(get(&err, "code").as_string().unwrap(), "invalidArgument");
    assert!(
        get(&err, "message").as_string().unwrap().contains("at most 65536"),
        "an oversized event is refused before it costs a reconnect"
    );
    let typo = js_sys::JSON::parse(r#"{"feature":"rbac","entity":"role","action":"created","dta":1}"#).unwrap();
    let err = c.send(typo).unwrap_err();
    assert_eq!(get(&err, "code").as_string().unwrap(), "invalidArgument");
    assert!(get(&err, "message").as_string().unwrap().contains("dta"));
}

#[wasm_bindgen_test]
async fn a_restarted_gateway_brings_the_client_back_with_its_subscriptions_and_a_fresh_token() {
    let f = fresh_feature("restart");
    let (token, calls) = counting_token("t0k3n");
    let opts = options(r#"{"backoff":{"min":50,"max":300}}"#);
    Reflect::set(&opts, &"token".into(), &token).unwrap();
    Reflect::set(&opts, &"maxReconnectAttempts".into(), &JsValue::from_f64(f64::INFINITY)).unwrap();
    let (c, mut st, mut inbox) = listening(opts, &f).await;
    assert_eq!(calls.get(), 1);

    gateway("restart").await;
    let (seen, _) = st.until("connected", 15_000).await;
    assert_eq!(seen.first().map(String::as_str), Some("reconnecting"));
    assert!(calls.get() >= 2, "the token function runs on every connect");

    // The subscription was restored without the app doing anything.
    let (b, _sb) = connected("{}").await;
    barrier(&c, &f).await;
    let _ = b.send(event(&f, "x", "y", "7")).unwrap();
    assert_eq!(inbox.next_data(5000).await.as_f64(), Some(7.0));
    c.disconnect();
    b.disconnect();
}

#[wasm_bindgen_test]
async fn after_max_attempts_the_client_gives_up_with_a_reason() {
    // Port 9 (discard) is closed on loopback: every attempt fails at once.
    let c = client(r#"{"url":"ws://127.0.0.1:9/ws","maxReconnectAttempts":2,"backoff":{"min":10,"max":20}}"#);
    let mut st = Statuses::watch(&c);
    let (on_err, mut errors) = recorder();
    let _off = c.on_error(on_err);
    c.connect(None);
    let (seen, reason) = st.until("disconnected", 10_000).await;
    assert_eq!(seen, ["connecting", "disconnected"], "never connected: connecting, not reconnecting");
    assert_eq!(get(&reason, "kind").as_string().unwrap(), "maxAttempts");
    assert_eq!(get(&reason, "attempts").as_f64(), Some(2.0));
    assert_eq!(get(&c.status_reason(), "kind").as_string().unwrap(), "maxAttempts");
    // Three sockets failed to open; the app heard why once, after the first.
    let mut told = Vec::new();
    while let Ok(Some((event, _))) = errors.try_next() {
        told.push(event);
    }
    assert_eq!(told.len(), 1, "one onError for the failed attempts");
    assert_eq!(get(&told[0], "kind").as_string().unwrap(), "unreachable");
    assert_eq!(get(&told[0], "url").as_string().unwrap(), "ws://127.0.0.1:9/ws");
    let message = get(&told[0], "message").as_string().unwrap();
    assert!(message.contains("--cors-origin") && message.contains("ws://127.0.0.1:9/ws"), "{message}");
}

#[wasm_bindgen_test]
async fn the_browser_going_online_reconnects_at_once_instead_of_waiting_out_the_backoff() {
    let (c, mut st) = connected(r#"{"backoff":{"min":60000,"max":60000}}"#).await;
    gateway("restart").await;
    st.until("reconnecting", 10_000).await;
    // The next retry is a minute away; the online event must not wait for it.
    let ev = web_sys::Event::new("online").unwrap();
    web_sys::window().unwrap().dispatch_event(&ev).unwrap();
    st.until("connected", 10_000).await;
    c.disconnect();
}

#[wasm_bindgen_test]
async fn a_silent_gateway_is_detected_by_the_heartbeat_timeout_and_replaced() {
    let (c, mut st) =
        connected(r#"{"heartbeatTimeout":1500,"connectTimeout":1000,"backoff":{"min":50,"max":200},"maxReconnectAttempts":1000}"#).await;
    gateway("pause").await; // SIGSTOP: the TCP connection stays up but nothing is sent
    let paused = st.until("reconnecting", 10_000).await;
    gateway("resume").await;
    st.until("connected", 15_000).await;
    assert_eq!(paused.0, ["reconnecting"]);
    c.disconnect();
}

/// A change to the page's globals (a WebSocket double, a wall clock set back) that lasts until
/// dropped: `js` makes the change and returns the function that undoes it.
struct PageOverride(js_sys::Function);

impl PageOverride {
    fn install(js: &str) -> Self {
        Self(js_sys::Function::new_no_args(js).call0(&JsValue::NULL).unwrap().into())
    }

    /// The page's wall clock (`Date.now`) set back by `ms`.
    fn clock_set_back(ms: u32) -> Self {
        Self::install(&format!("const real = Date.now; Date.now = () => real() - {ms}; return () => {{ Date.now = real; }};"))
    }
}

impl Drop for PageOverride {
    fn drop(&mut self) {
        let _ = self.0.call0(&JsValue::NULL);
    }
}

#[wasm_bindgen_test]
async fn a_wall_clock_set_back_an_hour_does_not_delay_the_heartbeat_timeout() {
    // An NTP step or a user changing the time must not keep a dead socket alive for an hour.
    let (c, mut st) =
        connected(r#"{"heartbeatTimeout":1500,"connectTimeout":1000,"backoff":{"min":50,"max":200},"maxReconnectAttempts":1000}"#).await;
    let clock = PageOverride::clock_set_back(3_600_000);
    gateway("pause").await;
    let paused = st.until("reconnecting", 10_000).await;
    gateway("resume").await;
    drop(clock);
    st.until("connected", 15_000).await;
    assert_eq!(paused.0, ["reconnecting"]);
    c.disconnect();
}

/// A WebSocket double whose message events are stamped with the wall clock (as old browsers
/// stamped them) and that falls silent after its welcome and one event (whose stamp alone says
/// when the socket was last heard).
fn wall_clock_stamped_socket() -> PageOverride {
    socket_double(
        "this.deliver({ type: 'welcome', connectionId: '1', heartbeat: 500 }, Date.now());
         this.deliver({ type: 'event', feature: 'rbac', entity: 'role', action: 'created', data: { id: 'r1' }, meta }, Date.now());",
        "",
    )
}

/// A WebSocket double in place of the page's: once open it runs `opened`, and `sent` for each
/// frame sent (`text`); both may call `this.deliver(frame, timeStamp)` and use an event `meta`.
fn socket_double(opened: &str, sent: &str) -> PageOverride {
    PageOverride::install(&format!(
        r#"
        const Real = globalThis.WebSocket;
        const meta = {{ timestamp: 't', userId: 'u', sessionId: 's', featureVersion: '1.0', priority: 'normal' }};
        globalThis.WebSocket = class {{
          constructor() {{
            this.readyState = 0;
            setTimeout(() => {{
              this.readyState = 1;
              this.onopen && this.onopen({{}});
              {opened}
            }});
          }}
          deliver(f, timeStamp) {{ this.onmessage && this.onmessage({{ data: JSON.stringify(f), timeStamp }}); }}
          send(text) {{ {sent} }}
          close() {{}}
        }};
        return () => {{ globalThis.WebSocket = Real; }};
        "#
    ))
}

#[wasm_bindgen_test]
async fn events_stamped_with_the_wall_clock_do_not_keep_a_silent_socket_alive() {
    let _double = wall_clock_stamped_socket();
    let c = client(r#"{"url":"ws://double.invalid/ws","heartbeatTimeout":1500,"backoff":{"min":50,"max":200}}"#);
    let mut st = Statuses::watch(&c);
    c.connect(None);
    st.until("connected", 5_000).await;
    st.until("reconnecting", 5_000).await;
    c.disconnect();
}

#[wasm_bindgen_test]
async fn malformed_frames_go_to_on_error_and_never_reach_subscribers_or_stop_later_events() {
    let f = fresh_feature("fuzz");
    let (c, _st) = connected("{}").await;
    let (on_err, mut errors) = recorder();
    let _off = c.on_error(on_err);
    let mut inbox = on_feature(&c, &f);
    barrier(&c, &f).await;
    let bad = [
        "not json at all".to_string(),
        "[1,2,3]".into(),
        "\"a string\"".into(),
        "null".into(),
        r#"{"no":"type"}"#.into(),
        r#"{"type":"mystery"}"#.into(),
        format!(r#"{{"type":"event","feature":"{f}"}}"#),
        format!(r#"{{"type":"event","feature":"{f}","entity":"x","action":"y","meta":{{}}}}"#),
        format!(r#"{{"type":"event","feature":"{f}","entity":"x","action":"y","data":1}}"#),
        format!(r#"{{"type":"event","feature":"{f}","entity":7,"action":"y","data":1,"meta":{{}}}}"#),
        // An epoch that is not a string would corrupt the recovery position: refused like a bad seq.
        format!(r#"{{"type":"event","feature":"{f}","entity":"x","action":"y","data":1,"meta":{{}},"seq":1,"epoch":5}}"#),
        format!(r#"{{"type":"event","feature":"{f}","entity":"x","action":"y","data":1,"meta":{{}},"seq":1.5}}"#),
        format!(r#"{{"type":"event","feature":"{f}","entity":"Upper","action":"y","data":1,"meta":{{}}}}"#),
        r#"{"type":"welcome","connectionId":5}"#.into(),
        "\u{0}\u{1}\u{ffff}".into(),
        // Presence frames with a bad member would put garbage in `presence()`: refused whole.
        format!(r#"{{"type":"presence","feature":"{f}","members":[{{"connectionId":1,"userId":"u"}}]}}"#),
        format!(r#"{{"type":"join","feature":"{f}","member":{{"connectionId":"1"}}}}"#),
        r#"{"type":"leave","feature":"Bad Name","member":{"connectionId":"1","userId":"u"}}"#.into(),
    ];
    // A second, raw socket asks the gateway's test-only relay to forward these texts verbatim.
    let raw = RawSocket::open().await;
    for text in &bad {
        raw.relay(&f, text);
    }
    let meta = r#"{"timestamp":"t","userId":"u","sessionId":"s","featureVersion":"1","priority":"low"}"#;
    // The valid event comes inside a batch whose first element is broken: only that one is dropped.
    let good = format!(r#"{{"type":"event","feature":"{f}","entity":"item","action":"created","data":{{"ok":true}},"meta":{meta}}}"#);
    raw.relay(&f, &format!(r#"{{"type":"batch","events":[{{"feature":"{f}"}},{good}]}}"#));

    let data = inbox.next_data(5000).await;
    assert_eq!(get(&data, "ok").as_bool(), Some(true), "the valid event after the bad ones is delivered");
    for raw in &bad {
        let (e, _) = common::next(&mut errors, 5000, "error event").await;
        assert_eq!(get(&e, "kind").as_string().unwrap(), "invalidFrame", "for {raw:?}");
        assert!(!get(&e, "reason").as_string().unwrap().is_empty());
    }
    let (e, _) = common::next(&mut errors, 5000, "error for the broken batch element").await;
    assert!(get(&e, "reason").as_string().unwrap().contains("entity"));
    assert!(inbox.is_empty(), "no malformed frame reached the subscriber");
    assert_eq!(get(&c.stats(), "invalidFrames").as_f64(), Some(bad.len() as f64 + 1.0));
    assert_eq!(c.status().as_string().unwrap(), "connected");
    assert_eq!(c.presence(&f).length(), 0, "no member came from a malformed presence frame");
    c.disconnect();
}

#[wasm_bindgen_test]
async fn a_throwing_callback_is_reported_and_does_not_stop_the_others() {
    let f = fresh_feature("throw");
    let (c, _st) = connected("{}").await;
    let (on_err, mut errors) = recorder();
    let _off = c.on_error(on_err);
    let thrower: js_sys::Function = js_sys::Function::new_no_args("throw new Error('boom')");
    let _bad = c.subscribe_to_feature(&f, thrower).unwrap();
    let mut good = on_feature(&c, &f);
    barrier(&c, &f).await;
    // The barrier's own probe already went through the thrower once.
    let (e, _) = common::next(&mut errors, 5000, "callback error").await;
    assert_eq!(get(&e, "kind").as_string().unwrap(), "callback");
    let _ = c.send(event(&f, "a", "b", "5")).unwrap();
    assert_eq!(good.next_data(5000).await.as_f64(), Some(5.0));
    let (e, _) = common::next(&mut errors, 5000, "callback error").await;
    assert_eq!(get(&e, "message").as_string().unwrap(), "boom");
    assert_eq!(get(&e, "event").as_string().unwrap(), format!("{f}.a.b"));
    c.disconnect();
}

#[wasm_bindgen_test]
async fn listeners_can_be_removed_with_the_function_on_status_returns() {
    let c = client("{}");
    let (f, mut rx) = recorder();
    let off = c.on_status(f);
    let mut st = Statuses::watch(&c);
    off.call0(&JsValue::NULL).unwrap();
    off.call0(&JsValue::NULL).unwrap(); // idempotent
    c.connect(None);
    st.until("connected", 10_000).await;
    assert!(rx.try_recv().is_err(), "a removed listener was called");
    c.disconnect();
}

#[wasm_bindgen_test]
async fn a_short_lived_token_is_refreshed_in_band_without_reconnecting() {
    let (token, mut calls) = token_from_harness(2);
    let opts = options(&format!(r#"{{"url":"{}"}}"#, secure_ws_url()));
    Reflect::set(&opts, &"token".into(), &token).unwrap();
    let c = RealtimeClient::new(opts).unwrap();
    let mut st = Statuses::watch(&c);
    let (on_err, mut errors) = recorder();
    let _off = c.on_error(on_err);
    c.connect(None);
    st.until("connected", 10_000).await;
    common::next(&mut calls, 5_000, "the first token").await;
    // Each token lives two seconds; three refreshes take longer than one token's life, and
    // the status must not change meanwhile.
    for n in 0..3 {
        match futures::future::select(calls.next(), st.rx.next()).await {
            futures::future::Either::Left((Some(()), _)) => {}
            futures::future::Either::Right((Some((s, _)), _)) => panic!("status became {s:?} after {n} refreshes"),
            _ => panic!("a channel closed"),
        }
    }
    assert_eq!(c.status().as_string().unwrap(), "connected");
    assert_eq!(get(&c.stats(), "connects").as_f64(), Some(1.0), "no reconnect was needed");
    assert!(errors.try_recv().is_err());
    c.disconnect();
}

#[wasm_bindgen_test]
async fn an_expired_token_stops_the_client_with_a_rejected_reason_instead_of_retrying() {
    let (token, _calls) = token_from_harness(-120);
    let opts = options(&format!(r#"{{"url":"{}","backoff":{{"min":10,"max":20}}}}"#, secure_ws_url()));
    Reflect::set(&opts, &"token".into(), &token).unwrap();
    let c = RealtimeClient::new(opts).unwrap();
    let mut st = Statuses::watch(&c);
    c.connect(None);
    let (seen, reason) = st.until("disconnected", 10_000).await;
    assert_eq!(seen, ["connecting", "disconnected"], "no retry after an auth failure");
    assert_eq!(get(&reason, "kind").as_string().unwrap(), "rejected");
    assert_eq!(get(&reason, "code").as_f64(), Some(4500.0));
    assert!(get(&reason, "reason").as_string().unwrap().contains("expired"));
}

#[wasm_bindgen_test]
async fn offline_stops_retrying_and_online_reconnects_at_once() {
    let (c, mut st) = connected(r#"{"backoff":{"min":100,"max":200},"maxReconnectAttempts":1000}"#).await;
    gateway("kill").await;
    st.until("reconnecting", 10_000).await;
    web_sys::window().unwrap().dispatch_event(&web_sys::Event::new("offline").unwrap()).unwrap();
    let (_, reason) = st.until("disconnected", 5_000).await;
    assert_eq!(get(&reason, "kind").as_string().unwrap(), "offline", "the status says why it stopped");
    gateway("start").await;
    web_sys::window().unwrap().dispatch_event(&web_sys::Event::new("online").unwrap()).unwrap();
    st.until("connected", 10_000).await;
    c.disconnect();
}

#[wasm_bindgen_test]
async fn with_an_outbox_sends_made_while_disconnected_go_out_in_order_after_connecting() {
    let f = fresh_feature("outbox");
    let (listener, _sl) = connected("{}").await;
    let mut inbox = on_feature(&listener, &f);
    barrier(&listener, &f).await;

    let c = client(r#"{"outbox":{"maxMessages":2,"maxAge":60000}}"#);
    let first = c.send(event(&f, "msg", "sent", "1")).unwrap();
    let second = c.send(event(&f, "msg", "sent", "2")).unwrap();
    let overflow = JsFuture::from(c.send(event(&f, "msg", "sent", "3")).unwrap()).await.unwrap_err();
    assert_eq!(get(&overflow, "code").as_string().unwrap(), "outboxFull");

    let mut st = Statuses::watch(&c);
    c.connect(None);
    st.until("connected", 10_000).await;
    JsFuture::from(first).await.unwrap();
    JsFuture::from(second).await.unwrap();
    assert_eq!(inbox.next_data(5000).await.as_f64(), Some(1.0));
    assert_eq!(inbox.next_data(5000).await.as_f64(), Some(2.0));
    c.disconnect();
    listener.disconnect();
}

#[wasm_bindgen_test]
async fn outbox_messages_that_wait_too_long_or_outlive_the_client_are_rejected_with_a_reason() {
    let c = client(r#"{"outbox":{"maxAge":50}}"#);
    let expired = JsFuture::from(c.send(event("rbac", "role", "created", "1")).unwrap()).await.unwrap_err();
    assert_eq!(get(&expired, "code").as_string().unwrap(), "outboxExpired");
    let pending = c.send(event("rbac", "role", "created", "2")).unwrap();
    c.disconnect();
    let dropped = JsFuture::from(pending).await.unwrap_err();
    assert_eq!(get(&dropped, "code").as_string().unwrap(), "disconnected");
}

/// A WebSocket double that answers `subscribe` from inside `send` (no browser socket does that,
/// but nothing stops a polyfill or a test double).
fn reentrant_socket() -> PageOverride {
    socket_double(
        "this.deliver({ type: 'welcome', connectionId: '1', heartbeat: 60000 });",
        "const f = JSON.parse(text);
         if (f.type !== 'subscribe') return;
         this.deliver({ type: 'subscribed', features: f.features, streams: { rbac: { epoch: 'e', seq: 0 } } });
         this.deliver({ type: 'event', feature: 'rbac', entity: 'role', action: 'created', data: { id: 'r1' }, meta, seq: 1, epoch: 'e' });",
    )
}

#[wasm_bindgen_test]
async fn frames_a_socket_delivers_from_inside_send_are_handled_right_after_it_not_lost() {
    let _double = reentrant_socket();
    let c = client(r#"{"url": "ws://double.invalid/ws"}"#);
    let mut inbox = on_feature(&c, "rbac");
    let mut st = Statuses::watch(&c);
    c.connect(None);
    st.until("connected", 5_000).await;
    let data = inbox.next_data(5_000).await;
    assert_eq!(get(&data, "id").as_string().as_deref(), Some("r1"));
    assert_eq!(c.status().as_string().as_deref(), Some("connected"));
    assert_eq!(get(&c.stats(), "invalidFrames").as_f64(), Some(0.0));
}

#[wasm_bindgen_test]
async fn the_debug_option_tells_each_connection_and_subscription_step() {
    let f = fresh_feature("debug");
    let opts = options("{}");
    let (log, mut lines) = recorder();
    Reflect::set(&opts, &"debug".into(), &log).unwrap();
    let c = RealtimeClient::new(opts).unwrap();
    let mut st = Statuses::watch(&c);
    c.connect(None);
    st.until("connected", 10_000).await;
    let _inbox = on_feature(&c, &f);
    barrier(&c, &f).await;
    let mut told = Vec::new();
    while let Ok(Some((line, _))) = lines.try_next() {
        told.push(line.as_string().unwrap());
    }
    let has = |part: &str| told.iter().any(|l| l.contains(part));
    assert!(has(": opening ws://") && has(": open") && has("welcome, heartbeat every"), "{told:?}");
    assert!(has("status: connecting") && has("status: connected"), "{told:?}");
    assert!(has(&format!("subscribe {f}")) && has(&format!("subscribed {f} at ")), "{told:?}");
    c.disconnect();
}

#[wasm_bindgen_test]
fn a_debug_option_that_is_neither_a_boolean_nor_a_function_is_refused_by_name() {
    let err = RealtimeClient::new(options(r#"{"debug":"yes"}"#)).err().expect("refused");
    assert!(get(&err, "message").as_string().unwrap().contains("debug"));
}
