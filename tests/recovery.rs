//! Recovery in headless Chromium: events missed during a network cut arrive exactly once and in
//! order; a gateway restart (new epoch) makes stores reload through their `reload` option.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use js_sys::{Function, Reflect};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn events_published_during_a_network_cut_arrive_exactly_once_and_in_order() {
    let f = fresh_feature("cut");
    let opts = options(&format!(r#"{{"url":"{}","backoff":{{"min":300,"max":600}},"maxReconnectAttempts":1000}}"#, proxy_ws_url()));
    let (c, mut st, mut inbox) = listening(opts, &f).await;
    let body = |range: std::ops::RangeInclusive<u32>| {
        let events: Vec<String> =
            range.map(|i| format!(r#"{{"feature":"{f}","entity":"item","action":"updated","data":{{"n":{i}}}}}"#)).collect();
        format!("[{}]", events.join(","))
    };
    backend_publish(&body(1..=3)).await;
    gateway("cut").await;
    // Published while the client is away (its first retry waits at least 300 ms).
    for i in 4..=8 {
        backend_publish(&body(i..=i)).await;
    }
    st.until("connected", 10_000).await;
    backend_publish(&body(9..=10)).await;
    let mut got = Vec::new();
    while got.len() < 10 {
        got.push(get(&inbox.next_data(5000).await, "n").as_f64().unwrap() as u32);
    }
    assert_eq!(got, (1..=10).collect::<Vec<_>>(), "every event, once, in order");
    assert!(inbox.is_empty());
    assert_eq!(get(&c.stats(), "resyncs").as_f64(), Some(0.0), "recovered from history, no resync needed");
    c.disconnect();
}

#[wasm_bindgen_test]
async fn after_a_gateway_restart_stores_reload_and_the_client_reports_a_resync() {
    let f = fresh_feature("epoch");
    let c = client(r#"{"backoff":{"min":50,"max":300},"maxReconnectAttempts":1000}"#);
    let mut st = Statuses::watch(&c);
    let (on_resync, mut resyncs) = recorder();
    let _off = c.on_resync(on_resync);
    // reload() answers what the app's REST API would: the server's state after the restart.
    let (reloaded, mut reloads) = recorder();
    let reload = Closure::<dyn FnMut() -> js_sys::Promise>::new(move || {
        let _ = reloaded.call0(&JsValue::NULL);
        js_sys::Promise::resolve(&js_sys::JSON::parse(r#"[{"id":"fresh","name":"From REST"}]"#).unwrap())
    });
    let opts = js_sys::Object::new();
    Reflect::set(&opts, &"reload".into(), reload.as_ref().unchecked_ref::<Function>()).unwrap();
    let store = RealtimeStore::new(&c, &f, "item", opts.into()).unwrap();
    let (on_change, mut changes) = recorder();
    let _off_change = store.on_change(on_change);
    c.connect(None);
    st.until("connected", 10_000).await;
    barrier(&c, &f).await; // gives the feature a position in the old epoch

    gateway("restart").await;
    let (feature, _) = next(&mut resyncs, 15_000, "onResync").await;
    assert_eq!(feature.as_string().unwrap(), f);
    next(&mut reloads, 5_000, "reload()").await;
    while store.size() != 1 {
        next(&mut changes, 5_000, "the reloaded items").await;
    }
    assert!(!store.get("fresh".into()).is_undefined());
    assert_eq!(get(&c.stats(), "resyncs").as_f64(), Some(1.0));
    store.dispose();
    c.disconnect();
}

#[wasm_bindgen_test]
async fn under_fifty_random_network_cuts_at_1000_events_per_second_nothing_is_lost_or_repeated() {
    let features: Vec<String> = (0..4).map(|i| fresh_feature(&format!("chaos{i}"))).collect();
    let opts = options(&format!(r#"{{"url":"{}","backoff":{{"min":20,"max":200}},"maxReconnectAttempts":100000}}"#, proxy_ws_url()));
    let c = RealtimeClient::new(opts).unwrap();
    let mut st = Statuses::watch(&c);
    // Per feature: the sequence numbers delivered, and a store of its items.
    let seqs: Vec<std::rc::Rc<std::cell::RefCell<Vec<u64>>>> = features.iter().map(|_| Default::default()).collect();
    let (count_tx, mut counts) = futures::channel::mpsc::unbounded::<()>();
    let mut subs = Vec::new();
    let mut stores = Vec::new();
    for (f, log) in features.iter().zip(&seqs) {
        let (log, tx) = (log.clone(), count_tx.clone());
        let cb = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |_data: JsValue, message: JsValue| {
            log.borrow_mut().push(get(&message, "seq").as_f64().unwrap() as u64);
            let _ = tx.unbounded_send(());
        });
        subs.push(c.subscribe_to_feature(f, cb.into_js_value().unchecked_into()).unwrap());
        stores.push(RealtimeStore::new(&c, f, "item", JsValue::UNDEFINED).unwrap());
    }
    c.connect(None);
    st.until("connected", 10_000).await;
    for f in &features {
        barrier(&c, f).await;
    }
    let probes: Vec<usize> = seqs.iter().map(|l| l.borrow().len()).collect();

    let report = chaos(&format!("features={}&rate=1000&cuts=50&seed=7", features.join(","))).await;
    let published = get(&report, "published");
    let want: Vec<usize> = features.iter().map(|f| get(&published, f).as_f64().unwrap() as usize).collect();
    assert!(want.iter().sum::<usize>() >= 5_000, "the run published {want:?}");
    let delivered = |i: usize| seqs[i].borrow().len() - probes[i];
    while (0..4).any(|i| delivered(i) < want[i]) {
        next(&mut counts, 20_000, "the remaining events").await;
    }
    for (i, f) in features.iter().enumerate() {
        let got = seqs[i].borrow();
        let first = got[0];
        let expected: Vec<u64> = (first..first + got.len() as u64).collect();
        assert!(*got == expected, "{f}: the sequence has a gap, a repeat or a swap");
        assert_eq!(delivered(i), want[i], "{f}: every published event arrived once");
        // The store equals what the server ended with.
        let fin = get(&get(&report, "final"), f);
        let ids = js_sys::Object::keys(fin.unchecked_ref::<js_sys::Object>());
        assert_eq!(stores[i].size(), ids.length(), "{f}: item count");
        for id in ids.iter() {
            let n = get(&fin, &id.as_string().unwrap());
            assert_eq!(get(&stores[i].get(id.clone()), "n"), n, "{f}: item {id:?}");
        }
    }
    assert!(get(&c.stats(), "connects").as_f64().unwrap() >= 20.0, "the cuts really forced reconnects");
    assert_eq!(get(&c.stats(), "resyncs").as_f64(), Some(0.0));
    for s in stores {
        s.dispose();
    }
    c.disconnect();
}
