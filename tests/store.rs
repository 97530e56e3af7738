//! RealtimeStore in headless Chromium, fed by the real gateway: events, optimistic operations
//! (F1 end to end), conflicts, hooks, batches and disposal.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use js_sys::{Array, Function, Object, Promise, Reflect};

use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn json(s: &str) -> JsValue {
    js_sys::JSON::parse(s).unwrap()
}

/// A promise the test settles by hand, standing in for a slow REST call.
struct Deferred {
    promise: Promise,
    resolve: Function,
    reject: Function,
}

impl Deferred {
    fn new() -> Self {
        let slots: Rc<RefCell<Option<(Function, Function)>>> = Rc::default();
        let s = slots.clone();
        let promise = Promise::new(&mut |res, rej| *s.borrow_mut() = Some((res, rej)));
        let (resolve, reject) = slots.borrow_mut().take().unwrap();
        Deferred { promise, resolve, reject }
    }

    /// An `apiCall` that returns this promise.
    fn api_call(&self) -> Function {
        let p = self.promise.clone();
        Closure::<dyn FnMut() -> JsValue>::new(move || p.clone().into()).into_js_value().unchecked_into()
    }
}

struct Setup {
    me: RealtimeClient,
    other: RealtimeClient,
    feature: String,
    _st: (Statuses, Statuses),
}

async fn setup() -> Setup {
    let feature = fresh_feature("store");
    let me = client("{}");
    let other = client("{}");
    let mut st = (Statuses::watch(&me), Statuses::watch(&other));
    me.connect(None);
    other.connect(None);
    st.0.until("connected", 10_000).await;
    st.1.until("connected", 10_000).await;
    Setup { me, other, feature, _st: st }
}

impl Setup {
    fn store(&self, options: &str) -> (RealtimeStore, futures::channel::mpsc::UnboundedReceiver<(JsValue, JsValue)>) {
        let store = RealtimeStore::new(&self.me, &self.feature, "role", json(options)).unwrap();
        let (f, rx) = recorder();
        let _ = store.on_change(f);
        (store, rx)
    }

    /// A plain store, once the gateway has its subscription (so published events reach it).
    async fn subscribed_store(&self) -> (RealtimeStore, futures::channel::mpsc::UnboundedReceiver<(JsValue, JsValue)>) {
        let store = self.store("{}");
        barrier(&self.me, &self.feature).await;
        store
    }

    fn store_with_hook(&self, hook: &str, f: &Function) -> RealtimeStore {
        let o = json("{}");
        Reflect::set(&o, &hook.into(), f).unwrap();
        RealtimeStore::new(&self.me, &self.feature, "role", o).unwrap()
    }

    /// Publishes from the other client, as a backend would.
    fn publish(&self, action: &str, data: &str) {
        let _ = self.other.send(event(&self.feature, "role", action, data)).unwrap();
    }
}

/// Waits for change notifications until `done` holds.
async fn until(rx: &mut futures::channel::mpsc::UnboundedReceiver<(JsValue, JsValue)>, what: &str, done: impl Fn() -> bool) {
    while !done() {
        next(rx, 5000, what).await;
    }
}

/// One text field of each of `items()`, in order.
fn column(store: &RealtimeStore, field: &str) -> Vec<String> {
    store.items().iter().map(|i| get(&i, field).as_string().unwrap()).collect()
}

/// The ids of `items()`, in order.
fn ids(store: &RealtimeStore) -> Vec<String> {
    column(store, "id")
}

fn name(store: &RealtimeStore, id: &str) -> Option<String> {
    let item = store.get(id.into());
    if item.is_undefined() {
        return None;
    }
    get(&item, "name").as_string()
}

#[wasm_bindgen_test]
async fn events_from_the_gateway_create_update_and_delete_items_and_unchanged_items_keep_their_identity() {
    let s = setup().await;
    let (store, mut changes) = s.subscribed_store().await;
    s.publish("created", r#"{"id":"r1","name":"Admin"}"#);
    s.publish("created", r#"{"id":"r2","name":"Viewer"}"#);
    until(&mut changes, "two items", || store.size() == 2).await;
    let before = store.items();
    assert!(Object::is(&before, &store.items()), "the same array until something changes");

    s.publish("updated", r#"{"id":"r1","name":"Owner"}"#);
    until(&mut changes, "rename", || name(&store, "r1").as_deref() == Some("Owner")).await;
    let after = store.items();
    assert!(!Object::is(&before, &after));
    assert!(Object::is(&before.get(1), &after.get(1)), "the untouched item is the same object");
    assert_eq!(get(&after.get(0), "name").as_string().unwrap(), "Owner");

    // A new item comes last, and the others stay the same objects.
    s.publish("created", r#"{"id":"r3","name":"Guest"}"#);
    s.publish("updated", r#"{"id":"r2","name":"Reader"}"#);
    until(&mut changes, "insert", || store.size() == 3 && name(&store, "r2").as_deref() == Some("Reader")).await;
    let third = store.items();
    assert_eq!(third.length(), 3);
    assert!(Object::is(&after.get(0), &third.get(0)), "r1 did not change since");
    assert_eq!(get(&third.get(1), "name").as_string().unwrap(), "Reader");
    assert_eq!(get(&third.get(2), "id").as_string().unwrap(), "r3");

    s.publish("deleted", r#"{"id":"r2"}"#);
    until(&mut changes, "delete", || store.size() == 2).await;
    assert!(store.get("r2".into()).is_undefined());
    assert_eq!(ids(&store), ["r1", "r3"]);
    store.dispose();
}

#[wasm_bindgen_test]
async fn a_batch_that_changes_few_items_rewrites_only_their_positions_and_appends_new_ones() {
    // items() after a small batch is patched in place of the changed positions; after one that
    // changes a quarter of the items or more it is rebuilt. Both must give the same list.
    let s = setup().await;
    let (store, mut changes) = s.subscribed_store().await;
    let items: Vec<String> = (0..8).map(|i| format!(r#"{{"id":"r{i}","name":"N{i}"}}"#)).collect();
    store.replace_all(json(&format!("[{}]", items.join(",")))).unwrap();
    let before = store.items();
    s.publish("updated", r#"{"id":"r3","name":"Three"}"#);
    s.publish("created", r#"{"id":"r8","name":"Eight"}"#);
    until(&mut changes, "update and create", || store.size() == 9 && name(&store, "r3").as_deref() == Some("Three")).await;
    let after = store.items();
    assert_eq!(column(&store, "name"), ["N0", "N1", "N2", "Three", "N4", "N5", "N6", "N7", "Eight"]);
    for i in [0, 1, 2, 4, 5, 6, 7] {
        assert!(Object::is(&before.get(i), &after.get(i)), "item {i} did not change");
    }
    // Three of nine changed (a third): rebuilt, with the same order and untouched identities.
    s.publish("updated", r#"{"id":"r0","name":"Zero"}"#);
    s.publish("updated", r#"{"id":"r5","name":"Five"}"#);
    s.publish("deleted", r#"{"id":"r6"}"#);
    until(&mut changes, "three changes", || store.size() == 8 && name(&store, "r5").as_deref() == Some("Five")).await;
    let last = store.items();
    assert_eq!(column(&store, "name"), ["Zero", "N1", "N2", "Three", "N4", "Five", "N7", "Eight"]);
    assert!(Object::is(&after.get(1), &last.get(1)) && Object::is(&after.get(8), &last.get(7)));
    store.dispose();
}

#[wasm_bindgen_test]
async fn number_keys_and_keys_named_like_object_internals_are_ordinary_keys() {
    let s = setup().await;
    let (store, mut changes) = s.subscribed_store().await;
    let items = r#"[{"id":1,"name":"One"},{"id":"__proto__","name":"Proto"},{"id":"constructor","name":"Ctor"},{"id":"toString","name":"Str"}]"#;
    store.replace_all(json(items)).unwrap();
    assert_eq!(store.size(), 4);
    assert_eq!(name(&store, "__proto__").as_deref(), Some("Proto"));
    assert_eq!(name(&store, "constructor").as_deref(), Some("Ctor"));
    assert_eq!(name(&store, "toString").as_deref(), Some("Str"));
    assert!(store.get("valueOf".into()).is_undefined(), "no key the items do not have");
    assert!(store.get("hasOwnProperty".into()).is_undefined());
    // The number 1 and the text "1" are one key, as property names are.
    assert_eq!(get(&store.get(1.into()), "name").as_string().as_deref(), Some("One"));
    s.publish("updated", r#"{"id":"1","name":"Uno"}"#);
    until(&mut changes, "update by text", || name(&store, "1").as_deref() == Some("Uno")).await;
    assert_eq!(store.size(), 4);
    s.publish("deleted", r#"{"id":"__proto__"}"#);
    until(&mut changes, "delete", || store.size() == 3).await;
    assert!(store.get("__proto__".into()).is_undefined());
    assert_eq!(column(&store, "name"), ["Uno", "Ctor", "Str"]);
    store.dispose();
}

#[wasm_bindgen_test]
async fn f1_end_to_end_a_failed_request_rolls_back_without_losing_the_update_that_arrived_meanwhile() {
    let s = setup().await;
    let (rejected, mut rejections) = recorder();
    let store = s.store_with_hook("onRejected", &rejected);
    let (f, mut changes) = recorder();
    let _off = store.on_change(f);
    store.replace_all(json(r#"[{"id":"r1","name":"Admin","color":"red"}]"#)).unwrap();
    barrier(&s.me, &s.feature).await;

    let api = Deferred::new();
    let result = store.perform_optimistic_update("r1".into(), json(r#"{"name":"Root"}"#), api.api_call()).unwrap();
    assert_eq!(name(&store, "r1").as_deref(), Some("Root"), "the patch shows at once");
    assert_eq!(get(&store.status("r1".into()), "pending").as_f64(), Some(1.0));

    // Another user changes the colour while our request is in flight.
    s.publish("updated", r#"{"id":"r1","name":"Admin","color":"blue"}"#);
    until(&mut changes, "their update", || get(&store.get("r1".into()), "color").as_string().as_deref() == Some("blue")).await;
    assert_eq!(name(&store, "r1").as_deref(), Some("Root"), "our pending patch stays on top");

    api.reject.call1(&JsValue::NULL, &js_sys::Error::new("500 from the API").into()).unwrap();
    let err = JsFuture::from(result).await.unwrap_err();
    assert_eq!(get(&err, "message").as_string().unwrap(), "500 from the API");
    let item = store.get("r1".into());
    assert_eq!(get(&item, "name").as_string().unwrap(), "Admin", "rolled back");
    assert_eq!(get(&item, "color").as_string().unwrap(), "blue", "the concurrent update survived");
    let status = store.status("r1".into());
    assert_eq!(get(&status, "pending").as_f64(), Some(0.0));
    assert_eq!(get(&status, "error").as_string().unwrap(), "500 from the API");
    assert!(get(&item, "isLoading").is_undefined(), "no status inside the item");
    let (r, _) = next(&mut rejections, 5000, "onRejected").await;
    assert_eq!(get(&r, "id").as_string().unwrap(), "r1");
    store.dispose();
}

#[wasm_bindgen_test]
async fn an_optimistic_delete_hides_the_item_until_it_fails_and_then_shows_the_servers_latest() {
    let s = setup().await;
    let (store, mut changes) = s.store("{}");
    store.replace_all(json(r#"[{"id":"r1","name":"Admin"},{"id":"r2","name":"Viewer"}]"#)).unwrap();
    barrier(&s.me, &s.feature).await;

    let api = Deferred::new();
    let result = store.perform_optimistic_delete("r1".into(), api.api_call()).unwrap();
    assert!(store.get("r1".into()).is_undefined(), "hidden at once");
    assert_eq!(ids(&store), ["r2"]);

    // Another user renames it while our delete is in flight: it stays hidden.
    s.publish("updated", r#"{"id":"r1","name":"Owner"}"#);
    s.publish("updated", r#"{"id":"r2","name":"Reader"}"#);
    until(&mut changes, "their updates", || name(&store, "r2").as_deref() == Some("Reader")).await;
    assert!(store.get("r1".into()).is_undefined(), "still hidden under the pending delete");
    assert_eq!(ids(&store), ["r2"]);

    api.reject.call1(&JsValue::NULL, &js_sys::Error::new("403 from the API").into()).unwrap();
    let _ = JsFuture::from(result).await.unwrap_err();
    assert_eq!(name(&store, "r1").as_deref(), Some("Owner"), "back, with the update that arrived meanwhile");
    let mut shown = ids(&store);
    shown.sort();
    assert_eq!(shown, ["r1", "r2"]);

    // A delete that succeeds: gone, and the server's own delete event changes nothing more.
    let api = Deferred::new();
    let result = store.perform_optimistic_delete("r2".into(), api.api_call()).unwrap();
    api.resolve.call1(&JsValue::NULL, &JsValue::UNDEFINED).unwrap();
    JsFuture::from(result).await.unwrap();
    s.publish("deleted", r#"{"id":"r2"}"#);
    s.publish("updated", r#"{"id":"r1","name":"Root"}"#);
    until(&mut changes, "the echo, then a rename", || name(&store, "r1").as_deref() == Some("Root")).await;
    assert!(store.get("r2".into()).is_undefined());
    assert_eq!(ids(&store), ["r1"]);
    assert_eq!(store.size(), 1);
    store.dispose();
}

#[wasm_bindgen_test]
async fn a_successful_update_resolves_with_the_servers_item() {
    let s = setup().await;
    let (store, _changes) = s.store("{}");
    store.replace_all(json(r#"[{"id":"r1","name":"Admin"}]"#)).unwrap();
    let api = Deferred::new();
    let result = store.perform_optimistic_update("r1".into(), json(r#"{"name":"Root"}"#), api.api_call()).unwrap();
    api.resolve.call1(&JsValue::NULL, &json(r#"{"id":"r1","name":"Root","rev":2}"#)).unwrap();
    let item = JsFuture::from(result).await.unwrap();
    assert_eq!(get(&item, "rev").as_f64(), Some(2.0));
    assert_eq!(get(&store.get("r1".into()), "rev").as_f64(), Some(2.0), "the server's item is confirmed");
    assert_eq!(store.pending_count(), 0);
    store.dispose();
}

#[wasm_bindgen_test]
async fn a_conflict_is_reported_with_base_mine_and_theirs() {
    let s = setup().await;
    let (conflict, mut conflicts) = recorder();
    let store = s.store_with_hook("onConflict", &conflict);
    store.replace_all(json(r#"[{"id":"r1","name":"Admin"}]"#)).unwrap();
    barrier(&s.me, &s.feature).await;
    let api = Deferred::new();
    let _p = store.perform_optimistic_update("r1".into(), json(r#"{"name":"Mine"}"#), api.api_call()).unwrap();
    s.publish("updated", r#"{"id":"r1","name":"Theirs"}"#);
    let (c, _) = next(&mut conflicts, 5000, "onConflict").await;
    assert_eq!(get(&c, "id").as_string().unwrap(), "r1");
    assert_eq!(Array::from(&get(&c, "fields")).get(0).as_string().unwrap(), "name");
    assert_eq!(get(&get(&c, "base"), "name").as_string().unwrap(), "Admin");
    assert_eq!(get(&get(&c, "mine"), "name").as_string().unwrap(), "Mine");
    assert_eq!(get(&get(&c, "theirs"), "name").as_string().unwrap(), "Theirs");
    assert_eq!(name(&store, "r1").as_deref(), Some("Mine"), "default policy: the pending patch stays on top");
    store.dispose();
}

#[wasm_bindgen_test]
async fn a_create_with_a_temporary_id_is_not_duplicated_when_its_echo_arrives_first() {
    let s = setup().await;
    let (store, mut changes) = s.subscribed_store().await;
    let api = Deferred::new();
    let result = store.perform_optimistic_create(json(r#"{"id":"tmp-1","name":"New"}"#), api.api_call()).unwrap();
    assert_eq!(store.size(), 1);
    s.publish("created", r#"{"id":"r9","name":"New"}"#); // the backend's event, before its HTTP answer
    until(&mut changes, "echo", || !store.get("r9".into()).is_undefined()).await;
    api.resolve.call1(&JsValue::NULL, &json(r#"{"id":"r9","name":"New"}"#)).unwrap();
    JsFuture::from(result).await.unwrap();
    assert_eq!(store.size(), 1, "one item, not two");
    assert!(store.get("tmp-1".into()).is_undefined());
    store.dispose();
}

#[wasm_bindgen_test]
async fn custom_actions_reach_the_on_action_hook_and_a_batch_notifies_once() {
    let s = setup().await;
    let (hook, mut actions) = recorder();
    let store = s.store_with_hook("onAction", &hook);
    let (f, mut changes) = recorder();
    let _off = store.on_change(f);
    barrier(&s.me, &s.feature).await;
    s.publish("assigned", r#"{"roleId":"r1","userId":"u1"}"#);
    let (action, data) = next(&mut actions, 5000, "onAction").await;
    assert_eq!(action.as_string().unwrap(), "assigned");
    assert_eq!(get(&data, "userId").as_string().unwrap(), "u1");
    assert_eq!(store.size(), 0, "custom actions do not change the items");

    while changes.try_recv().is_ok() {}
    let batch = json(
        r#"[{"action":"created","data":{"id":"a"}},{"action":"created","data":{"id":"b"}},{"action":"updated","data":{"id":"a","x":1}}]"#,
    );
    store.apply_batch(batch).unwrap();
    let (diffs, _) = next(&mut changes, 5000, "one notification").await;
    assert_eq!(Array::from(&diffs).length(), 2, "a and b inserted, reported once each");
    assert!(changes.try_recv().is_err(), "exactly one notification for the batch");
    store.dispose();
}

#[wasm_bindgen_test]
async fn a_disposed_store_no_longer_receives_events() {
    let s = setup().await;
    let (store, mut changes) = s.subscribed_store().await;
    s.publish("created", r#"{"id":"r1","name":"A"}"#);
    until(&mut changes, "first item", || store.size() == 1).await;
    store.dispose();
    assert_eq!(store.size(), 0);
    // A feature-level subscriber proves the next event was delivered to this tab.
    let mut probe = on_feature(&s.me, &s.feature);
    barrier(&s.me, &s.feature).await;
    s.publish("created", r#"{"id":"r2","name":"B"}"#);
    probe.next_data(5000).await;
    assert_eq!(store.size(), 0);
    assert!(changes.try_recv().is_err(), "no notification after dispose");
}

#[wasm_bindgen_test]
async fn bad_options_throw_and_events_without_an_id_are_counted_not_applied() {
    let s = setup().await;
    let err = RealtimeStore::new(&s.me, &s.feature, "role", json(r#"{"keyFeld":"id"}"#)).err().unwrap();
    assert_eq!(get(&err, "code").as_string().unwrap(), "invalidArgument");
    assert!(get(&err, "message").as_string().unwrap().contains("keyFeld"));

    let (store, mut changes) = s.store(r#"{"keyField":"uuid"}"#);
    barrier(&s.me, &s.feature).await;
    s.publish("created", r#"{"id":"no-uuid"}"#);
    s.publish("created", r#"{"uuid":"u1"}"#);
    until(&mut changes, "the good one", || store.size() == 1).await;
    assert_eq!(store.invalid_events(), 1);
    assert!(store.error().unwrap().contains("without an id"));
    store.dispose();
}

#[wasm_bindgen_test]
async fn load_from_a_promise_reports_loading_then_the_items() {
    let s = setup().await;
    let (store, _changes) = s.store("{}");
    let api = Deferred::new();
    let done = store.load(api.promise.clone().into());
    assert!(store.loading());
    api.resolve.call1(&JsValue::NULL, &json(r#"[{"id":1,"name":"A"},{"id":2,"name":"B"}]"#)).unwrap();
    JsFuture::from(done).await.unwrap();
    assert!(!store.loading());
    assert_eq!(store.size(), 2);
    assert_eq!(name(&store, "1").as_deref(), Some("A"), "numeric ids are found by number or text");
    assert_eq!(get(&store.get(JsValue::from(2)), "name").as_string().unwrap(), "B");
    store.dispose();
}

#[wasm_bindgen_test]
async fn a_bulk_publish_from_a_backend_reaches_the_store_as_one_change_notification() {
    let s = setup().await;
    let (store, mut changes) = s.subscribed_store().await;
    while changes.try_recv().is_ok() {}
    let events: Vec<String> =
        (1..=5).map(|i| format!(r#"{{"feature":"{}","entity":"role","action":"created","data":{{"id":"r{i}"}}}}"#, s.feature)).collect();
    backend_publish(&format!("[{}]", events.join(","))).await;
    let (diffs, _) = next(&mut changes, 5000, "the batch").await;
    assert_eq!(Array::from(&diffs).length(), 5, "five inserts in one notification");
    assert_eq!(store.size(), 5);
    assert!(changes.try_recv().is_err(), "and only one notification");
    store.dispose();
}
