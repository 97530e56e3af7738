//! The package's JS classes (src/js/client.js, src/js/store.js) as the browser tests see them:
//! bindings to the very files the npm package ships, driving this test binary's own wasm exports.

// Linked for its exports, which nothing in Rust calls.
extern crate livestate;

use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/js/client.js")]
extern "C" {
    fn install(exports: JsValue);

    pub type RealtimeClient;
    #[wasm_bindgen(constructor, catch, js_class = "RealtimeClient")]
    fn create(options: JsValue) -> Result<RealtimeClient, JsValue>;
    #[wasm_bindgen(method)]
    pub fn connect(this: &RealtimeClient, token: Option<String>);
    #[wasm_bindgen(method)]
    pub fn disconnect(this: &RealtimeClient);
    #[wasm_bindgen(method)]
    pub fn free(this: &RealtimeClient);
    #[wasm_bindgen(method, catch)]
    pub fn send(this: &RealtimeClient, event: JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, getter)]
    pub fn status(this: &RealtimeClient) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = statusReason)]
    pub fn status_reason(this: &RealtimeClient) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = reconnectAttempts)]
    pub fn reconnect_attempts(this: &RealtimeClient) -> u32;
    #[wasm_bindgen(method)]
    pub fn stats(this: &RealtimeClient) -> JsValue;
    #[wasm_bindgen(method, js_name = onStatus)]
    pub fn on_status(this: &RealtimeClient, callback: Function) -> Function;
    #[wasm_bindgen(method, js_name = onError)]
    pub fn on_error(this: &RealtimeClient, callback: Function) -> Function;
    #[wasm_bindgen(method, js_name = onResync)]
    pub fn on_resync(this: &RealtimeClient, callback: Function) -> Function;
    #[wasm_bindgen(method)]
    pub fn presence(this: &RealtimeClient, feature: &str) -> Array;
    #[wasm_bindgen(method, catch, js_name = subscribeToFeature)]
    pub fn subscribe_to_feature(this: &RealtimeClient, feature: &str, callback: Function) -> Result<Subscription, JsValue>;
    #[wasm_bindgen(method, catch, js_name = subscribeToEntity)]
    pub fn subscribe_to_entity(this: &RealtimeClient, feature: &str, entity: &str, callback: Function) -> Result<Subscription, JsValue>;
    #[wasm_bindgen(method, catch, js_name = subscribeToEvent)]
    pub fn subscribe_to_event(
        this: &RealtimeClient,
        feature: &str,
        entity: &str,
        action: &str,
        callback: Function,
    ) -> Result<Subscription, JsValue>;

    pub type Subscription;
    #[wasm_bindgen(method)]
    pub fn unsubscribe(this: &Subscription);
    #[wasm_bindgen(method, getter)]
    pub fn active(this: &Subscription) -> bool;
}

#[wasm_bindgen(module = "/src/js/store.js")]
extern "C" {
    pub type RealtimeStore;
    #[wasm_bindgen(constructor, catch, js_class = "RealtimeStore")]
    fn create(client: &RealtimeClient, feature: &str, entity: &str, options: JsValue) -> Result<RealtimeStore, JsValue>;
    #[wasm_bindgen(method)]
    pub fn items(this: &RealtimeStore) -> Array;
    #[wasm_bindgen(method)]
    pub fn get(this: &RealtimeStore, id: JsValue) -> JsValue;
    #[wasm_bindgen(method, getter)]
    pub fn size(this: &RealtimeStore) -> u32;
    #[wasm_bindgen(method, getter, js_name = pendingCount)]
    pub fn pending_count(this: &RealtimeStore) -> u32;
    #[wasm_bindgen(method, getter)]
    pub fn loading(this: &RealtimeStore) -> bool;
    #[wasm_bindgen(method, getter)]
    pub fn error(this: &RealtimeStore) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = invalidEvents)]
    pub fn invalid_events(this: &RealtimeStore) -> u32;
    #[wasm_bindgen(method)]
    pub fn status(this: &RealtimeStore, id: JsValue) -> JsValue;
    #[wasm_bindgen(method, catch, js_name = replaceAll)]
    pub fn replace_all(this: &RealtimeStore, items: JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method)]
    pub fn load(this: &RealtimeStore, items: JsValue) -> Promise;
    #[wasm_bindgen(method, catch, js_name = applyBatch)]
    pub fn apply_batch(this: &RealtimeStore, events: JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = performOptimisticUpdate)]
    pub fn perform_optimistic_update(this: &RealtimeStore, id: JsValue, patch: JsValue, api_call: Function) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = performOptimisticCreate)]
    pub fn perform_optimistic_create(this: &RealtimeStore, item: JsValue, api_call: Function) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = performOptimisticDelete)]
    pub fn perform_optimistic_delete(this: &RealtimeStore, id: JsValue, api_call: Function) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, js_name = onChange)]
    pub fn on_change(this: &RealtimeStore, callback: Function) -> Function;
    #[wasm_bindgen(method)]
    pub fn dispose(this: &RealtimeStore);
}

// Referenced so that wasm-bindgen copies them beside client.js and store.js, which import them.
#[wasm_bindgen(module = "/src/js/wire.js")]
extern "C" {
    type Wire;
}
#[wasm_bindgen(module = "/src/js/envelope.js")]
extern "C" {
    type Envelope;
}
#[wasm_bindgen(module = "/src/js/share.js")]
extern "C" {
    type Sharing;
}
#[wasm_bindgen(module = "/src/js/boundary.js")]
extern "C" {
    type Keys;
}

fn ready() {
    thread_local!(static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    if !DONE.with(|d| d.replace(true)) {
        // The test binary links the library, so its exports are the package's.
        install(wasm_bindgen::exports());
    }
}

impl RealtimeClient {
    /// `new RealtimeClient(options)`.
    pub fn new(options: JsValue) -> Result<RealtimeClient, JsValue> {
        ready();
        Self::create(options)
    }
}

impl RealtimeStore {
    /// `new RealtimeStore(client, feature, entity, options)`.
    pub fn new(client: &RealtimeClient, feature: &str, entity: &str, options: JsValue) -> Result<RealtimeStore, JsValue> {
        ready();
        Self::create(client, feature, entity, options)
    }
}
