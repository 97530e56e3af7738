//! `RealtimeStore<T>` for JavaScript: the pure store fed by a client subscription, with hooks
//! for feature-specific behaviour, promises for optimistic operations and one change
//! notification per batch. Hooks and listeners run after the state borrow is released.

use super::client::{RealtimeClient, Subscription};
use super::errors::{describe, error, ErrorCode};
use super::sink::StoreSink;
use super::store_model::{key_id, JsModel, Keys};
use crate::core::session::StoreOp;
use crate::core::store::{Changes, Diff, Model, Store, StoreError};
use js_sys::{Array, Function, Object, Promise, Reflect};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

#[derive(Default)]
struct Hooks {
    on_created: Option<Function>,
    on_updated: Option<Function>,
    on_deleted: Option<Function>,
    on_action: Option<Function>,
    on_conflict: Option<Function>,
    on_rejected: Option<Function>,
    reload: Option<Function>,
}

pub(crate) struct StoreInner {
    store: Store<JsModel>,
    hooks: Hooks,
    listeners: Vec<(u32, Function)>,
    next_listener: u32,
    /// The last `items()` array, and what changed since: items updated in place, items
    /// appended, or a change that needs a whole new list (a removal, a reload).
    items: Option<Array>,
    stale: bool,
    rebuild: bool,
    updated: Vec<u32>,
    added: Vec<u32>,
    loading: bool,
    error: Option<String>,
    invalid_events: u32,
    subscription: Option<Subscription>,
    /// A flush is queued as a microtask: events delivered in one go (a batch frame) share it.
    flush_scheduled: bool,
    feature: String,
}

impl Drop for StoreInner {
    fn drop(&mut self) {
        self.detach();
    }
}

impl StoreInner {
    /// The id of a key the store knows (a lookup makes no id).
    fn known(&self, id: &JsValue) -> Option<u32> {
        key_id(self.store.model().keys.find(id))
    }

    /// Leaves the client: the one path used by `dispose()` and by Drop.
    fn detach(&mut self) {
        if let Some(s) = self.subscription.take() {
            s.unsubscribe();
        }
    }
}

type Shared = Rc<RefCell<StoreInner>>;

/// What the client holds for a store it feeds: weak, so the store's owner decides its life.
struct StoreHandle(Weak<RefCell<StoreInner>>);

impl StoreSink for StoreHandle {
    fn deliver(&self, op: StoreOp, action: &dyn Fn() -> String, data: JsValue, message: &JsValue) {
        if let Some(rc) = self.0.upgrade() {
            apply_event(&rc, op, action, data, Some(message));
            schedule_flush(&rc);
        }
    }

    fn resync(&self, reload: bool) {
        if let Some(rc) = self.0.upgrade() {
            resync(&rc, reload);
        }
    }
}

#[wasm_bindgen(inline_js = "export function unsubscriber(h) { return () => { if (h) { h.remove(); h.free(); h = undefined; } }; }")]
extern "C" {
    fn unsubscriber(handle: StoreListener) -> Function;
}

/// See its TypeScript declaration in store_types.rs (written by hand for its generics).
#[wasm_bindgen(skip_typescript)]
pub struct RealtimeStore {
    inner: Shared,
}

/// Removes an `onChange` listener; wrapped into the function `onChange` returns.
#[wasm_bindgen(skip_typescript)]
pub struct StoreListener {
    store: Weak<RefCell<StoreInner>>,
    id: u32,
}

#[wasm_bindgen]
impl StoreListener {
    /// Removes the listener.
    pub fn remove(&self) {
        if let Some(rc) = self.store.upgrade() {
            rc.borrow_mut().listeners.retain(|(id, _)| *id != self.id);
        }
    }
}

fn invalid(message: &str) -> JsValue {
    error(ErrorCode::InvalidArgument, message)
}

#[wasm_bindgen(module = "/src/js/boundary.js")]
extern "C" {
    #[wasm_bindgen(js_name = patchItems)]
    fn patch_items(prev: &Array, at: Vec<u32>, items: &Array, added: &Array) -> Array;
    /// `StoreOptions` checked (throws `invalidArgument` naming the option), `keyField` defaulted.
    type StoreOptions;
    #[wasm_bindgen(catch, js_name = storeOptions)]
    fn store_options(options: &JsValue) -> Result<StoreOptions, JsValue>;
    #[wasm_bindgen(method, getter, js_name = keyField)]
    fn key_field(this: &StoreOptions) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = versionField)]
    fn version_field(this: &StoreOptions) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = onCreated)]
    fn on_created(this: &StoreOptions) -> Option<Function>;
    #[wasm_bindgen(method, getter, js_name = onUpdated)]
    fn on_updated(this: &StoreOptions) -> Option<Function>;
    #[wasm_bindgen(method, getter, js_name = onDeleted)]
    fn on_deleted(this: &StoreOptions) -> Option<Function>;
    #[wasm_bindgen(method, getter, js_name = onAction)]
    fn on_action(this: &StoreOptions) -> Option<Function>;
    #[wasm_bindgen(method, getter, js_name = onConflict)]
    fn on_conflict(this: &StoreOptions) -> Option<Function>;
    #[wasm_bindgen(method, getter, js_name = onRejected)]
    fn on_rejected(this: &StoreOptions) -> Option<Function>;
    #[wasm_bindgen(method, getter)]
    fn reload(this: &StoreOptions) -> Option<Function>;
}

#[wasm_bindgen]
impl RealtimeStore {
    /// Creates a store and subscribes it to `feature.entity` events on `client`.
    #[wasm_bindgen(constructor)]
    pub fn new(client: &RealtimeClient, feature: &str, entity: &str, options: JsValue) -> Result<RealtimeStore, JsValue> {
        let o = store_options(&options)?;
        let model = JsModel { key_field: o.key_field(), version_field: o.version_field().map(JsValue::from), keys: Keys::new() };
        let hooks = Hooks {
            on_created: o.on_created(),
            on_updated: o.on_updated(),
            on_deleted: o.on_deleted(),
            on_action: o.on_action(),
            on_conflict: o.on_conflict(),
            on_rejected: o.on_rejected(),
            reload: o.reload(),
        };
        let inner = Rc::new(RefCell::new(StoreInner {
            store: Store::new(model),
            hooks,
            listeners: Vec::new(),
            next_listener: 0,
            items: None,
            stale: false,
            rebuild: false,
            updated: Vec::new(),
            added: Vec::new(),
            loading: false,
            error: None,
            invalid_events: 0,
            subscription: None,
            flush_scheduled: false,
            feature: feature.to_owned(),
        }));
        let reloads = inner.borrow().hooks.reload.is_some();
        let handle: Rc<dyn StoreSink> = Rc::new(StoreHandle(Rc::downgrade(&inner)));
        let subscription = client.attach_store(feature, entity, reloads, handle)?;
        inner.borrow_mut().subscription = Some(subscription);
        Ok(RealtimeStore { inner })
    }

    /// Visible items, cached until something changes; after a change, a new array in which
    /// only the changed items are new (updates in place, insertions at the end), or a whole
    /// new list after a removal or a reload.
    pub fn items(&self) -> Array {
        let mut me = self.inner.borrow_mut();
        let me = &mut *me;
        match &me.items {
            Some(a) if !me.stale => return a.clone(),
            Some(prev) if !me.rebuild => {
                let (mut at, updated) = (Vec::new(), Array::new());
                for k in &me.updated {
                    if let (Some(i), Some(item)) = (me.store.listed_at(k), me.store.get(k)) {
                        at.push(i);
                        updated.push(item);
                    }
                }
                let (added, mut next) = (Array::new(), prev.length());
                for k in &me.added {
                    if let Some(item) = me.store.get(k) {
                        added.push(item);
                        me.store.set_listed_at(k, next);
                        next += 1;
                    }
                }
                me.items = Some(patch_items(prev, at, &updated, &added));
            }
            _ => {
                let keys: Vec<u32> = me.store.iter().map(|(k, _)| *k).collect();
                let array = Array::new_with_length(keys.len() as u32);
                for (i, k) in keys.iter().enumerate() {
                    array.set(i as u32, me.store.get(k).cloned().unwrap_or(JsValue::UNDEFINED));
                    me.store.set_listed_at(k, i as u32);
                }
                me.items = Some(array);
            }
        }
        me.stale = false;
        me.rebuild = false;
        me.updated.clear();
        me.added.clear();
        me.items.clone().unwrap_or_default()
    }

    /// The item, or undefined.
    pub fn get(&self, id: JsValue) -> JsValue {
        let me = self.inner.borrow();
        me.known(&id).and_then(|k| me.store.get(&k).cloned()).unwrap_or(JsValue::UNDEFINED)
    }

    /// Number of visible items.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> u32 {
        self.inner.borrow().store.len() as u32
    }

    /// Operations in flight.
    #[wasm_bindgen(getter, js_name = pendingCount)]
    pub fn pending_count(&self) -> u32 {
        self.inner.borrow().store.pending_count() as u32
    }

    /// True while a `load(promise)` is waiting.
    #[wasm_bindgen(getter)]
    pub fn loading(&self) -> bool {
        self.inner.borrow().loading
    }

    /// The last error as text.
    #[wasm_bindgen(getter)]
    pub fn error(&self) -> Option<String> {
        self.inner.borrow().error.clone()
    }

    /// Events refused for lack of an id.
    #[wasm_bindgen(getter, js_name = invalidEvents)]
    pub fn invalid_events(&self) -> u32 {
        self.inner.borrow().invalid_events
    }

    /// `{pending, error}` of one item.
    pub fn status(&self, id: JsValue) -> JsValue {
        let me = self.inner.borrow();
        let status = me.known(&id).map(|k| me.store.status(&k));
        let out = Object::new();
        let (pending, error) = status.map(|s| (s.pending, s.error.map(str::to_owned))).unwrap_or((0, None));
        let _ = Reflect::set(&out, &"pending".into(), &(pending as u32).into());
        if let Some(e) = error {
            let _ = Reflect::set(&out, &"error".into(), &e.into());
        }
        out.into()
    }

    /// Replaces every confirmed item.
    #[wasm_bindgen(js_name = replaceAll)]
    pub fn replace_all(&self, items: JsValue) -> Result<(), JsValue> {
        replace(&self.inner, items)?;
        flush(&self.inner);
        Ok(())
    }

    /// `replaceAll` from an array or a Promise of one.
    pub fn load(&self, items: JsValue) -> Promise {
        load(&self.inner, items)
    }

    /// Applies `{action, data}` events with one notification.
    #[wasm_bindgen(js_name = applyBatch)]
    pub fn apply_batch(&self, events: JsValue) -> Result<(), JsValue> {
        let events: Array = events.dyn_into().map_err(|_| invalid("applyBatch takes an array of {action, data}"))?;
        for ev in events.iter() {
            let action = Reflect::get(&ev, &"action".into())?.as_string().ok_or_else(|| invalid("each event needs a string action"))?;
            let data = Reflect::get(&ev, &"data".into())?;
            apply_event(&self.inner, StoreOp::of(&action), &|| action.clone(), data, None);
        }
        flush(&self.inner);
        Ok(())
    }

    /// Optimistic update; see the TypeScript declaration.
    #[wasm_bindgen(js_name = performOptimisticUpdate)]
    pub fn perform_optimistic_update(&self, id: JsValue, patch: JsValue, api_call: Function) -> Result<Promise, JsValue> {
        let key = self.key(&id)?;
        if !patch.is_object() {
            return Err(invalid("patch must be an object"));
        }
        let op = self.inner.borrow_mut().store.begin_update(key, patch);
        Ok(self.run(op, api_call))
    }

    /// Optimistic create; see the TypeScript declaration.
    #[wasm_bindgen(js_name = performOptimisticCreate)]
    pub fn perform_optimistic_create(&self, item: JsValue, api_call: Function) -> Result<Promise, JsValue> {
        let op = self.inner.borrow_mut().store.begin_create(item).map_err(|_| invalid("the item needs an id (a temporary one is fine)"))?;
        Ok(self.run(op, api_call))
    }

    /// Optimistic delete; see the TypeScript declaration.
    #[wasm_bindgen(js_name = performOptimisticDelete)]
    pub fn perform_optimistic_delete(&self, id: JsValue, api_call: Function) -> Result<Promise, JsValue> {
        let key = self.key(&id)?;
        let op = self.inner.borrow_mut().store.begin_delete(key);
        Ok(self.run(op, api_call))
    }

    /// Calls `callback(diffs)` once per batch; returns a function that removes it.
    #[wasm_bindgen(js_name = onChange)]
    pub fn on_change(&self, callback: Function) -> Function {
        let mut me = self.inner.borrow_mut();
        me.next_listener += 1;
        let id = me.next_listener;
        me.listeners.push((id, callback));
        unsubscriber(StoreListener { store: Rc::downgrade(&self.inner), id })
    }

    /// Unsubscribes from the client and releases everything.
    pub fn dispose(&self) {
        let mut me = self.inner.borrow_mut();
        me.detach();
        me.listeners.clear();
        me.hooks = Hooks::default();
        me.items = None;
        me.rebuild = true;
        let model = me.store.model().clone();
        model.keys.clear();
        me.store = Store::new(model);
    }
}

impl RealtimeStore {
    /// The id of a key the app gave (made if new).
    fn key(&self, id: &JsValue) -> Result<u32, JsValue> {
        key_id(self.inner.borrow().store.model().keys.id(id)).ok_or_else(|| invalid("id must be a string or a number"))
    }

    /// Calls the API, then settles operation `op` with its outcome.
    fn run(&self, op: u64, api_call: Function) -> Promise {
        flush(&self.inner);
        let called = api_call.call0(&JsValue::NULL);
        let weak = Rc::downgrade(&self.inner);
        future_to_promise(async move {
            let outcome = match called {
                Err(e) => Err(e),
                Ok(v) => match v.dyn_into::<Promise>() {
                    Ok(p) => JsFuture::from(p).await,
                    Err(v) => Ok(v),
                },
            };
            if let Some(rc) = weak.upgrade() {
                {
                    let mut me = rc.borrow_mut();
                    match &outcome {
                        Ok(v) => {
                            let result = me.store.model().key(v).map(|_| v.clone());
                            let _ = me.store.succeed(op, result);
                        }
                        Err(e) => {
                            let message = describe(e);
                            me.error = Some(message.clone());
                            me.store.fail(op, message);
                        }
                    }
                }
                flush(&rc);
            }
            outcome
        })
    }
}

/// `replaceAll` now for an array; for a Promise, `loading` until it settles.
fn load(rc: &Shared, items: JsValue) -> Promise {
    let Ok(promise) = items.clone().dyn_into::<Promise>() else {
        let done = replace(rc, items);
        flush(rc);
        return match done {
            Ok(()) => Promise::resolve(&JsValue::UNDEFINED),
            Err(e) => Promise::reject(&e),
        };
    };
    rc.borrow_mut().loading = true;
    flush_status(rc);
    let weak = Rc::downgrade(rc);
    future_to_promise(async move {
        let result = JsFuture::from(promise).await;
        let Some(rc) = weak.upgrade() else { return result.map(|_| JsValue::UNDEFINED) };
        rc.borrow_mut().loading = false;
        let outcome = match result {
            Ok(items) => replace(&rc, items),
            Err(e) => {
                rc.borrow_mut().error = Some(describe(&e));
                Err(e)
            }
        };
        flush_status(&rc);
        outcome.map(|_| JsValue::UNDEFINED)
    })
}

/// Events of this store's feature were lost for good: reload everything (the session decided
/// that the store can), or say so.
fn resync(rc: &Shared, reloads: bool) {
    let reload = rc.borrow().hooks.reload.clone().filter(|_| reloads);
    match reload {
        Some(f) => match f.call0(&JsValue::NULL) {
            Ok(items) => {
                let _ = load(rc, items);
            }
            Err(e) => {
                rc.borrow_mut().error = Some(["reload threw: ", &describe(&e)].concat());
                flush_status(rc);
            }
        },
        None => {
            let feature = rc.borrow().feature.clone();
            rc.borrow_mut().error = Some(["events of ", &feature, " were lost; give the store a reload() to resync"].concat());
            flush_status(rc);
        }
    }
}

fn replace(rc: &Shared, items: JsValue) -> Result<(), JsValue> {
    let items: Array = items.dyn_into().map_err(|_| invalid("replaceAll takes an array of items"))?;
    let mut me = rc.borrow_mut();
    me.store.replace_all(items.iter().collect()).map_err(|_| invalid("every item needs an id"))?;
    me.error = None;
    Ok(())
}

/// Applies one event to the store and runs its hook. `action` names the event's action; it is
/// read only when needed (a custom action's hook, an error message).
fn apply_event(rc: &Shared, op: StoreOp, action: &dyn Fn() -> String, data: JsValue, message: Option<&JsValue>) {
    let hook = {
        let mut me = rc.borrow_mut();
        let me = &mut *me;
        let outcome = match op {
            StoreOp::Created => me.store.created(data.clone()).map(|_| me.hooks.on_created.clone().map(|f| (f, data, None))),
            StoreOp::Updated => me.store.updated(data.clone()).map(|_| me.hooks.on_updated.clone().map(|f| (f, data, None))),
            StoreOp::Deleted => {
                // `{id}` (the seed's emitDeleted), a whole item, or a bare id.
                let model = me.store.model();
                match model.key(&data).or_else(|| key_id(model.keys.id(&data))) {
                    Some(key) => {
                        let version = model.version(&data);
                        let name = me.hooks.on_deleted.as_ref().map(|_| model.keys.name(key));
                        me.store.deleted(key, version);
                        Ok(me.hooks.on_deleted.clone().map(|f| (f, name.unwrap_or_default(), Some(data))))
                    }
                    None => Err(StoreError::MissingKey),
                }
            }
            StoreOp::Other => Ok(me.hooks.on_action.clone().map(|f| (f, action().into(), Some(data)))),
        };
        match outcome {
            Ok(hook) => hook,
            Err(StoreError::MissingKey) => {
                me.invalid_events += 1;
                me.error = Some(["a ", &action(), " event without an id was ignored"].concat());
                None
            }
        }
    };
    // onCreated/onUpdated(item), onDeleted(id, data), onAction(action, data, message).
    let Some((f, first, second)) = hook else { return };
    let called = match (op, second) {
        (StoreOp::Other, Some(data)) => f.call3(&JsValue::NULL, &first, &data, message.unwrap_or(&JsValue::UNDEFINED)),
        (_, Some(data)) => f.call2(&JsValue::NULL, &first, &data),
        (_, None) => f.call1(&JsValue::NULL, &first),
    };
    if let Err(e) = called {
        rc.borrow_mut().error = Some(["store hook threw: ", &describe(&e)].concat());
    }
}

/// Flushes once the events being delivered right now have all been applied.
fn schedule_flush(rc: &Shared) {
    let mut me = rc.borrow_mut();
    if std::mem::replace(&mut me.flush_scheduled, true) {
        return;
    }
    let weak = Rc::downgrade(rc);
    wasm_bindgen_futures::spawn_local(async move {
        if let Some(rc) = weak.upgrade() {
            if rc.borrow().flush_scheduled {
                flush(&rc);
            }
        }
    });
}

/// Ends a batch: one notification to listeners (if anything changed), then conflict and
/// rejection callbacks.
fn flush(rc: &Shared) {
    notify(rc, false)
}

/// Like `flush`, but notifies even without diffs: `loading` or `error` changed.
fn flush_status(rc: &Shared) {
    notify(rc, true)
}

fn notify(rc: &Shared, always: bool) {
    let (listeners, diffs, conflicts, rejections, on_conflict, on_rejected) = {
        let mut me = rc.borrow_mut();
        me.flush_scheduled = false;
        let changes: Changes<JsModel> = me.store.flush();
        let keys = me.store.model().keys.clone();
        // Reported by name below; the names of keys the store dropped are released after that.
        let forget = |forgotten: &[u32]| forgotten.iter().for_each(|k| keys.forget(*k));
        if changes.diffs.is_empty() && changes.conflicts.is_empty() && changes.rejections.is_empty() && !always {
            forget(&changes.forgotten);
            return;
        }
        for d in &changes.diffs {
            me.stale = true;
            match d {
                Diff::Update(k) if !me.rebuild => me.updated.push(*k),
                Diff::Insert(k) if !me.rebuild => me.added.push(*k),
                Diff::Update(_) | Diff::Insert(_) => {}
                Diff::Remove(_) | Diff::Replace => me.rebuild = true,
            }
        }
        // Nobody read items() for a while: a new list is cheaper than the changes kept for it.
        if me.rebuild || me.updated.len() + me.added.len() > me.store.len() {
            me.rebuild = true;
            me.updated.clear();
            me.added.clear();
        }
        // Nobody listening: nothing to build (the diffs are still consumed above).
        let diffs = if me.listeners.is_empty() { JsValue::UNDEFINED } else { diffs_to_js(&me.store, &changes.diffs) };
        let conflicts: Vec<JsValue> = changes.conflicts.iter().map(|c| conflict_to_js(&keys, c)).collect();
        let rejections: Vec<JsValue> =
            changes.rejections.iter().map(|r| object(&[("id", keys.name(r.key)), ("message", r.error.as_str().into())])).collect();
        forget(&changes.forgotten);
        let listeners: Vec<Function> = me.listeners.iter().map(|(_, f)| f.clone()).collect();
        (listeners, diffs, conflicts, rejections, me.hooks.on_conflict.clone(), me.hooks.on_rejected.clone())
    };
    for f in listeners {
        let _ = f.call1(&JsValue::NULL, &diffs);
    }
    for (hook, values) in [(on_conflict, conflicts), (on_rejected, rejections)] {
        if let Some(f) = hook {
            for v in values {
                let _ = f.call1(&JsValue::NULL, &v);
            }
        }
    }
}

fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        let _ = Reflect::set(&o, &(*k).into(), v);
    }
    o.into()
}

fn diffs_to_js(store: &Store<JsModel>, diffs: &[Diff<u32>]) -> JsValue {
    let keys = &store.model().keys;
    let out = Array::new();
    for d in diffs {
        let item = |k: &u32| store.get(k).cloned().unwrap_or(JsValue::UNDEFINED);
        out.push(&match d {
            Diff::Insert(k) => keys.diff(0, *k, &item(k)),
            Diff::Update(k) => keys.diff(1, *k, &item(k)),
            Diff::Remove(k) => keys.diff(2, *k, &JsValue::UNDEFINED),
            Diff::Replace => keys.diff(3, 0, &JsValue::UNDEFINED),
        });
    }
    out.into()
}

fn conflict_to_js(keys: &Keys, c: &crate::core::store::Conflict<JsModel>) -> JsValue {
    let side = |values: &[Option<JsValue>]| {
        let o = Object::new();
        for (f, v) in c.fields.iter().zip(values) {
            let _ = Reflect::set(&o, &f.as_str().into(), v.as_ref().unwrap_or(&JsValue::UNDEFINED));
        }
        JsValue::from(o)
    };
    let fields: Array = c.fields.iter().map(|f| JsValue::from(f.as_str())).collect();
    object(&[
        ("id", keys.name(c.key)),
        ("fields", fields.into()),
        ("base", side(&c.base)),
        ("mine", side(&c.mine)),
        ("theirs", side(&c.theirs)),
    ])
}
