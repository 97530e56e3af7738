//! `RealtimeStore`: keyed confirmed state plus ordered pending operations, per item.
//!
//! What the app sees for an item is its confirmed state (what the server said last) with its
//! pending optimistic operations applied in the order they were made. Server events change
//! the confirmed state and the pending operations are re-applied on top; a failed operation is
//! removed, which reveals the newest confirmed state. So a revert never erases a server update
//! that arrived meanwhile (F1), overlapping edits revert correctly in any order (F3), a delete
//! during a pending edit does not resurrect the item (F5), and pending status lives beside the
//! item, never inside it (F4). Every event costs O(log n): one map lookup and one fold over
//! that item's own pending operations.
//!
//! Superseded results: a successful operation's server result becomes confirmed state unless
//! something newer is already there. With a version field, "newer" is a higher version; without
//! one, it is any server event for that item that arrived after the operation started (the
//! gateway delivers one feature's events in order, so that event, usually the echo of our own
//! write, is at least as new as the result).

mod model;
#[cfg(feature = "signals")]
mod signals;
mod slots;
/// A seeded simulator that checks a store against a simulated server (see [`testkit::simulate`]).
pub mod testkit;

pub use model::{item, MapItem, MapModel, Model};

use crate::core::vecmap::VecMap;
use slots::Slots;
use std::collections::VecDeque;

/// The store under the name the JavaScript API uses.
pub type RealtimeStore<M> = Store<M>;

/// Identifies one optimistic operation.
pub type OpId = u64;

/// Deleted keys remembered so late events cannot resurrect them; the oldest are forgotten first.
const MAX_TOMBSTONES: usize = 10_000;

/// A pending optimistic operation.
#[derive(Clone, Debug)]
pub enum Pending<M: Model> {
    /// Insert this item (shown only while no confirmed item has the key).
    Create(M::Item),
    /// Apply this patch.
    Update(M::Patch),
    /// Hide the item.
    Delete,
}

#[derive(Debug)]
struct Op<M: Model> {
    key: M::Key,
    kind: Pending<M>,
    /// The item's server-event count when the operation started.
    seen: u32,
}

struct Entry<M: Model> {
    key: M::Key,
    confirmed: Option<M::Item>,
    /// Version of `confirmed`, or of the delete when `deleted`; NaN for none (8 bytes, not an
    /// Option's 16: there is one entry per item).
    version: f64,
    /// A confirmed delete (tombstone): late `updated` events are ignored.
    deleted: bool,
    /// Server changes seen for this key (events and applied results).
    events: u32,
    ops: Vec<OpId>,
    view: Option<M::Item>,
    /// Order of appearance while visible (0 while hidden).
    seq: u32,
    error: Option<Box<str>>,
    /// Changed in the current batch (listed in `Store::touched`).
    touched: bool,
    /// Where the item was in the last list of visible items the app built (see
    /// [`Store::set_listed_at`]), so a list can be patched instead of rebuilt.
    listed_at: u32,
}

impl<M: Model> Entry<M> {
    fn new(key: M::Key) -> Self {
        Self {
            key,
            confirmed: None,
            version: f64::NAN,
            deleted: false,
            events: 0,
            ops: Vec::new(),
            view: None,
            seq: 0,
            error: None,
            touched: false,
            listed_at: u32::MAX,
        }
    }
}

/// A change to the visible items, reported once per batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Diff<K> {
    /// A key became visible.
    Insert(K),
    /// A visible item changed.
    Update(K),
    /// A key stopped being visible.
    Remove(K),
    /// Everything may have changed (load / replaceAll).
    Replace,
}

/// A server event changed fields that a pending operation also changes. Default policy: the
/// pending patch stays on top (the view shows `mine`), and when the operation succeeds the
/// server's result wins.
#[derive(Clone, Debug)]
pub struct Conflict<M: Model> {
    /// The item.
    pub key: M::Key,
    /// The pending operation.
    pub op: OpId,
    /// The fields both changed.
    pub fields: Vec<String>,
    /// Their values before the server event.
    pub base: Vec<Option<M::Value>>,
    /// The pending patch's values.
    pub mine: Vec<Option<M::Value>>,
    /// The server event's values.
    pub theirs: Vec<Option<M::Value>>,
}

impl<M: Model> PartialEq for Conflict<M> {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
            && self.op == o.op
            && self.fields == o.fields
            && self.base == o.base
            && self.mine == o.mine
            && self.theirs == o.theirs
    }
}

/// An optimistic operation failed and was removed.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection<K> {
    /// The item.
    pub key: K,
    /// The operation.
    pub op: OpId,
    /// Why.
    pub error: String,
}

/// What happened since the last [`Store::flush`].
#[derive(Debug)]
pub struct Changes<M: Model> {
    /// Changes to visible items.
    pub diffs: Vec<Diff<M::Key>>,
    /// Conflicts detected.
    pub conflicts: Vec<Conflict<M>>,
    /// Operations that failed.
    pub rejections: Vec<Rejection<M::Key>>,
    /// Keys the store no longer holds anything about (no item, no tombstone, no operation):
    /// whoever maps keys to something else can drop them.
    pub forgotten: Vec<M::Key>,
}

/// Pending and error status of one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status<'a> {
    /// Optimistic operations in flight.
    pub pending: usize,
    /// The error of the last failed operation, cleared by the next success.
    pub error: Option<&'a str>,
}

/// An event was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The item has no key field.
    MissingKey,
}

/// The store. See the module docs for its semantics.
pub struct Store<M: Model> {
    model: M,
    entries: Slots<M>,
    ops: VecMap<OpId, Op<M>>,
    next_op: OpId,
    tombstones: VecDeque<M::Key>,
    /// Keys changed in this batch, in the order of their first change, with whether each was
    /// visible before it.
    touched: Vec<(M::Key, bool)>,
    replaced: bool,
    conflicts: Vec<Conflict<M>>,
    rejections: Vec<Rejection<M::Key>>,
    #[cfg(feature = "signals")]
    mirror: Option<futures_signals::signal_map::MutableBTreeMap<M::Key, M::Item>>,
}

impl<M: Model> Store<M> {
    /// An empty store.
    pub fn new(model: M) -> Self {
        Self {
            model,
            entries: Slots::default(),
            ops: VecMap::default(),
            next_op: 0,
            tombstones: VecDeque::new(),
            touched: Vec::new(),
            replaced: false,
            conflicts: Vec::new(),
            rejections: Vec::new(),
            #[cfg(feature = "signals")]
            mirror: None,
        }
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The item as the app should see it: confirmed state plus pending operations.
    pub fn get(&self, key: &M::Key) -> Option<&M::Item> {
        self.entries.get(key)?.view.as_ref()
    }

    /// What the server said last about the item.
    pub fn confirmed(&self, key: &M::Key) -> Option<&M::Item> {
        self.entries.get(key)?.confirmed.as_ref()
    }

    /// Pending operations on `key`, oldest first.
    pub fn pending(&self, key: &M::Key) -> Vec<(OpId, &Pending<M>)> {
        let Some(e) = self.entries.get(key) else { return Vec::new() };
        e.ops.iter().map(|id| (*id, &self.op(*id).kind)).collect()
    }

    /// Number of visible items.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no item is visible.
    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }

    /// Visible items in the order they first appeared.
    pub fn iter(&self) -> impl Iterator<Item = (&M::Key, &M::Item)> {
        self.entries.visible().filter_map(|e| e.view.as_ref().map(|v| (&e.key, v)))
    }

    /// Records that `key`'s item is at `index` of a list of the visible items the app built.
    pub fn set_listed_at(&mut self, key: &M::Key, index: u32) {
        if let Some(e) = self.entries.get_mut(key) {
            e.listed_at = index;
        }
    }

    /// Where `key`'s item was in the last list built, if it was in one.
    pub fn listed_at(&self, key: &M::Key) -> Option<u32> {
        self.entries.get(key).map(|e| e.listed_at).filter(|&i| i != u32::MAX)
    }

    /// Every key the store knows, visible or not (pending creates and tombstones included).
    pub fn keys(&self) -> impl Iterator<Item = &M::Key> {
        self.entries.keys()
    }

    /// Operations in flight, store-wide.
    pub fn pending_count(&self) -> usize {
        self.ops.len()
    }

    /// Pending count and last error of one item.
    pub fn status(&self, key: &M::Key) -> Status<'_> {
        match self.entries.get(key) {
            Some(e) => Status { pending: e.ops.len(), error: e.error.as_deref() },
            None => Status { pending: 0, error: None },
        }
    }

    /// A `created` event: inserts or replaces the item.
    pub fn created(&mut self, item: M::Item) -> Result<(), StoreError> {
        self.server_item(item, true)
    }

    /// An `updated` event: replaces the item (ignored for a deleted key, or a stale version).
    pub fn updated(&mut self, item: M::Item) -> Result<(), StoreError> {
        self.server_item(item, false)
    }

    /// A `deleted` event. `version`, if known, guards against older events that arrive later.
    pub fn deleted(&mut self, key: M::Key, version: Option<f64>) {
        let e = self.entries.get_or_insert(&key);
        if let Some(new) = version {
            if new <= e.version {
                return;
            }
        }
        let version = version.unwrap_or(e.version);
        if e.deleted && e.confirmed.is_none() {
            // Already gone (a duplicate, or the echo of our own delete): only learn its version,
            // so older events still in flight stay ignored.
            e.version = version;
            return;
        }
        e.events += 1;
        e.confirmed = None;
        e.deleted = true;
        e.version = version;
        self.tombstones.push_back(key.clone());
        self.prune_tombstones();
        self.refresh(&key);
    }

    /// Replaces every confirmed item with a fresh snapshot (initial load, or resync after a
    /// gap). Pending operations stay on top. Reported as one `Replace`.
    pub fn replace_all(&mut self, items: Vec<M::Item>) -> Result<(), StoreError> {
        let mut fresh = Vec::with_capacity(items.len());
        for item in items {
            let key = self.model.key(&item).ok_or(StoreError::MissingKey)?;
            fresh.push((key, item));
        }
        // Keys missing from the snapshot become tombstones that keep their version, so an older
        // event still in flight cannot bring them back.
        let old: Vec<M::Key> = self.entries.keys().cloned().collect();
        for key in &old {
            let e = self.entries.get_mut(key).expect("listed above");
            if e.confirmed.take().is_some() {
                e.deleted = true;
                self.tombstones.push_back(key.clone());
            }
            e.events += 1;
        }
        // Sized once: a snapshot of n items allocates its table once, not log n times.
        self.entries.reserve(fresh.len());
        self.touched.reserve(fresh.len());
        let mut order = Vec::with_capacity(fresh.len());
        for (key, item) in fresh {
            let version = self.model.version(&item);
            let e = self.entries.get_or_insert(&key);
            e.confirmed = Some(item);
            e.version = version.unwrap_or(f64::NAN);
            e.deleted = false;
            order.push(key);
        }
        self.prune_tombstones();
        // New items appear in the snapshot's order; then the old keys it left out are hidden.
        for key in order {
            self.refresh(&key);
        }
        for key in old {
            if self.entries.get(&key).is_some_and(|e| e.confirmed.is_none()) {
                self.refresh(&key);
            }
        }
        self.replaced = true;
        Ok(())
    }

    /// Starts an optimistic update; the view shows the patch at once.
    pub fn begin_update(&mut self, key: M::Key, patch: M::Patch) -> OpId {
        self.begin(key, Pending::Update(patch))
    }

    /// Starts an optimistic create, with the client's id or a temporary one.
    pub fn begin_create(&mut self, item: M::Item) -> Result<OpId, StoreError> {
        let key = self.model.key(&item).ok_or(StoreError::MissingKey)?;
        Ok(self.begin(key, Pending::Create(item)))
    }

    /// Starts an optimistic delete; the item disappears at once.
    pub fn begin_delete(&mut self, key: M::Key) -> OpId {
        self.begin(key, Pending::Delete)
    }

    fn begin(&mut self, key: M::Key, kind: Pending<M>) -> OpId {
        self.next_op += 1;
        let id = self.next_op;
        let e = self.entries.get_or_insert(&key);
        e.ops.push(id);
        let seen = e.events;
        self.ops.insert(id, Op { key: key.clone(), kind, seen });
        self.refresh(&key);
        id
    }

    /// The operation succeeded. `result` is the server's item (for a create with a temporary
    /// id, it carries the real one). Without a result, an update's patch is taken as accepted.
    pub fn succeed(&mut self, op: OpId, result: Option<M::Item>) -> Result<(), StoreError> {
        let Some(op) = self.remove_op(op) else { return Ok(()) };
        if let Some(e) = self.entries.get_mut(&op.key) {
            e.error = None;
        }
        match (op.kind, result) {
            (Pending::Delete, _) => {
                if self.unchanged_since(&op.key, op.seen) {
                    let version = self.entries.get(&op.key).map_or(f64::NAN, |e| e.version);
                    self.deleted(op.key.clone(), None);
                    if let Some(e) = self.entries.get_mut(&op.key) {
                        e.version = version;
                    }
                }
            }
            (_, Some(item)) => {
                let key = self.model.key(&item).ok_or(StoreError::MissingKey)?;
                let superseded = if self.model.version(&item).is_some() {
                    false // the version guard in server_item decides
                } else if key == op.key {
                    !self.unchanged_since(&key, op.seen)
                } else {
                    // A temporary id became a real one: the created echo may have come first.
                    self.entries.get(&key).is_some_and(|e| e.confirmed.is_some() || e.deleted)
                };
                if !superseded {
                    self.server_item(item, false)?;
                }
            }
            (Pending::Update(patch), None) => {
                if self.unchanged_since(&op.key, op.seen) {
                    if let Some(base) = self.entries.get(&op.key).and_then(|e| e.confirmed.clone()) {
                        let merged = self.model.apply(&base, &patch);
                        let e = self.entries.get_mut(&op.key).expect("has confirmed");
                        e.confirmed = Some(merged);
                        e.events += 1;
                    }
                }
            }
            (Pending::Create(item), None) => {
                if self.unchanged_since(&op.key, op.seen) {
                    let e = self.entries.get_or_insert(&op.key);
                    e.confirmed = Some(item);
                    e.deleted = false;
                    e.events += 1;
                }
            }
        }
        self.refresh(&op.key);
        Ok(())
    }

    /// The operation failed: it is removed and the item shows its newest confirmed state.
    pub fn fail(&mut self, op: OpId, error: String) {
        let Some(removed) = self.remove_op(op) else { return };
        if let Some(e) = self.entries.get_mut(&removed.key) {
            e.error = Some(error.as_str().into());
        }
        self.rejections.push(Rejection { key: removed.key.clone(), op, error });
        self.refresh(&removed.key);
    }

    /// Ends the batch: returns what changed since the last flush, for one notification.
    pub fn flush(&mut self) -> Changes<M> {
        let touched = std::mem::take(&mut self.touched);
        let diffs = if std::mem::take(&mut self.replaced) {
            for (key, _) in &touched {
                if let Some(e) = self.entries.get_mut(key) {
                    e.touched = false;
                }
            }
            vec![Diff::Replace]
        } else {
            touched
                .into_iter()
                .filter_map(|(key, was)| {
                    // A key removed and known again within the batch is listed twice: the
                    // first listing reports it, against its state now.
                    let e = self.entries.get_mut(&key);
                    if e.as_ref().is_some_and(|e| !e.touched) {
                        return None;
                    }
                    let now = e.is_some_and(|e| {
                        e.touched = false;
                        e.view.is_some()
                    });
                    match (was, now) {
                        (false, true) => Some(Diff::Insert(key)),
                        (true, true) => Some(Diff::Update(key)),
                        (true, false) => Some(Diff::Remove(key)),
                        (false, false) => None,
                    }
                })
                .collect()
        };
        #[cfg(feature = "signals")]
        self.publish(&diffs);
        let mut forgotten = std::mem::take(&mut self.entries.forgotten);
        forgotten.retain(|k| self.entries.get(k).is_none());
        Changes {
            diffs,
            conflicts: std::mem::take(&mut self.conflicts),
            rejections: std::mem::take(&mut self.rejections),
            forgotten,
        }
    }

    fn server_item(&mut self, item: M::Item, created: bool) -> Result<(), StoreError> {
        let key = self.model.key(&item).ok_or(StoreError::MissingKey)?;
        let version = self.model.version(&item);
        let e = self.entries.get_or_insert(&key);
        match (version, e.version) {
            (Some(new), old) if new <= old => return Ok(()), // stale or duplicate (never with NaN)
            (None, _) if e.deleted && !created => return Ok(()),   // late update of a deleted item
            _ => {}
        }
        if let Some(old) = &e.confirmed {
            let mut found = Vec::new();
            for op in &e.ops {
                if let Pending::Update(patch) = &self.ops.get(op).expect("an entry lists only live operations").kind {
                    found.push(conflict(&self.model, key.clone(), *op, old, &item, patch));
                }
            }
            self.conflicts.extend(found.into_iter().flatten());
        }
        let e = self.entries.get_mut(&key).expect("inserted above");
        e.confirmed = Some(item);
        e.version = version.unwrap_or(f64::NAN);
        e.deleted = false;
        e.events += 1;
        self.refresh(&key);
        Ok(())
    }

    fn unchanged_since(&self, key: &M::Key, seen: u32) -> bool {
        self.entries.get(key).is_some_and(|e| e.events == seen)
    }

    fn op(&self, id: OpId) -> &Op<M> {
        self.ops.get(&id).expect("an entry lists only live operations")
    }

    fn remove_op(&mut self, id: OpId) -> Option<Op<M>> {
        let op = self.ops.remove(&id)?;
        if let Some(e) = self.entries.get_mut(&op.key) {
            e.ops.retain(|x| *x != id);
        }
        Some(op)
    }

    /// Recomputes one key's view from its confirmed state and pending operations.
    fn refresh(&mut self, key: &M::Key) {
        let Some(e) = self.entries.get_mut(key) else { return };
        let was = e.view.is_some();
        if !std::mem::replace(&mut e.touched, true) {
            self.touched.push((key.clone(), was));
        }
        let mut view = e.confirmed.clone();
        for id in &e.ops {
            view = match (&self.ops.get(id).expect("an entry lists only live operations").kind, view) {
                (Pending::Create(item), None) => Some(item.clone()),
                (Pending::Create(_), existing @ Some(_)) => existing, // the server's copy wins
                (Pending::Update(patch), Some(v)) => Some(self.model.apply(&v, patch)),
                (Pending::Update(_), None) => None,
                (Pending::Delete, _) => None,
            };
        }
        let now = view.is_some();
        e.view = view;
        let forget = !now && e.confirmed.is_none() && e.ops.is_empty() && !e.deleted && e.error.is_none();
        if was != now {
            self.entries.set_visible(key, now);
        }
        if forget {
            self.entries.remove(key);
        }
    }

    fn prune_tombstones(&mut self) {
        while self.tombstones.len() > MAX_TOMBSTONES {
            let Some(key) = self.tombstones.pop_front() else { break };
            if let Some(e) = self.entries.get_mut(&key) {
                if e.deleted && e.confirmed.is_none() && e.ops.is_empty() {
                    self.entries.remove(&key);
                }
            }
        }
    }
}

fn conflict<M: Model>(model: &M, key: M::Key, op: OpId, old: &M::Item, new: &M::Item, patch: &M::Patch) -> Option<Conflict<M>> {
    let fields: Vec<String> = model.patch_fields(patch).into_iter().filter(|f| model.field(old, f) != model.field(new, f)).collect();
    if fields.is_empty() {
        return None;
    }
    Some(Conflict {
        key,
        op,
        base: fields.iter().map(|f| model.field(old, f)).collect(),
        mine: fields.iter().map(|f| model.patch_field(patch, f)).collect(),
        theirs: fields.iter().map(|f| model.field(new, f)).collect(),
        fields,
    })
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
