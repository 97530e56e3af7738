//! `RealtimeStore`: keyed confirmed state plus ordered pending operations, per item.
//!
//! What the app sees for an item is its confirmed state (what the server said last) with its
//! pending optimistic operations applied in the order they were made. Server events change
//! the confirmed state and the pending operations are re-applied on top; a failed operation is
//! removed, which reveals the newest confirmed state. So a revert never erases a server update
//! that arrived meanwhile (F1), overlapping edits revert correctly in any order (F3), a delete
//! during a pending edit does not resurrect the item (F5), and pending status lives beside the
//! item, never inside it (F4). Every event costs O(1): one slot lookup, and a fold over the
//! pending operations only when the item has some.
//!
//! Superseded results: a successful operation's server result becomes confirmed state unless
//! something newer is already there. With a version field, "newer" is a higher version; without
//! one, it is any server event for that item that arrived after the operation started (the
//! gateway delivers one feature's events in order, so that event, usually the echo of our own
//! write, is at least as new as the result).

mod ledger;
mod model;
#[cfg(feature = "signals")]
mod signals;
/// A seeded simulator that checks a store against a simulated server (see [`testkit::simulate`]).
pub mod testkit;

#[cfg(test)]
use ledger::MAX_TOMBSTONES;
pub use ledger::{Base, Diff, Flushed, Ledger, OpId, OpKind, Settled, Slot};
pub use model::{item, MapItem, MapModel, Model};

use crate::core::vecmap::VecMap;
use std::collections::HashMap;

/// The store under the name the JavaScript API uses.
pub type RealtimeStore<M> = Store<M>;

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
    /// Keys the store no longer holds anything about (no item, no tombstone, no operation).
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

/// The store for Rust: a [`Ledger`] that decides, and the items it holds by slot. The JS
/// `RealtimeStore` (src/js/store.js) holds its items the same way over the same ledger.
pub struct Store<M: Model> {
    model: M,
    ledger: Ledger,
    slots: HashMap<M::Key, Slot>,
    keys: Vec<Option<M::Key>>,
    free: Vec<Slot>,
    confirmed: Vec<Option<M::Item>>,
    views: Vec<Option<M::Item>>,
    payloads: VecMap<OpId, Pending<M>>,
    errors: HashMap<Slot, String>,
    conflicts: Vec<Conflict<M>>,
    rejections: Vec<Rejection<M::Key>>,
    dirty: Vec<Slot>,
    #[cfg(feature = "signals")]
    mirror: Option<futures_signals::signal_map::MutableBTreeMap<M::Key, M::Item>>,
}

impl<M: Model> Store<M> {
    /// An empty store.
    pub fn new(model: M) -> Self {
        Self {
            model,
            ledger: Ledger::new(),
            slots: HashMap::new(),
            keys: Vec::new(),
            free: Vec::new(),
            confirmed: Vec::new(),
            views: Vec::new(),
            payloads: VecMap::default(),
            errors: HashMap::new(),
            conflicts: Vec::new(),
            rejections: Vec::new(),
            dirty: Vec::new(),
            #[cfg(feature = "signals")]
            mirror: None,
        }
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    fn find(&self, key: &M::Key) -> Option<Slot> {
        self.slots.get(key).copied()
    }

    /// The key's slot, given one if new.
    fn slot(&mut self, key: &M::Key) -> Slot {
        if let Some(s) = self.find(key) {
            return s;
        }
        let s = self.free.pop().unwrap_or(self.keys.len() as Slot);
        if s as usize == self.keys.len() {
            self.keys.push(None);
            self.confirmed.push(None);
            self.views.push(None);
        }
        self.keys[s as usize] = Some(key.clone());
        self.slots.insert(key.clone(), s);
        s
    }

    fn at<'a, T>(list: &'a [Option<T>], slot: Option<Slot>) -> Option<&'a T> {
        list.get(slot? as usize)?.as_ref()
    }

    /// The item as the app should see it: confirmed state plus pending operations.
    pub fn get(&self, key: &M::Key) -> Option<&M::Item> {
        Self::at(&self.views, self.find(key))
    }

    /// What the server said last about the item.
    pub fn confirmed(&self, key: &M::Key) -> Option<&M::Item> {
        Self::at(&self.confirmed, self.find(key))
    }

    /// Pending operations on `key`, oldest first.
    pub fn pending(&self, key: &M::Key) -> Vec<(OpId, &Pending<M>)> {
        let Some(s) = self.find(key) else { return Vec::new() };
        self.ledger.pending(s).filter_map(|(id, _)| Some((id, self.payloads.get(&id)?))).collect()
    }

    /// Number of visible items.
    pub fn len(&self) -> usize {
        self.ledger.len()
    }

    /// True when no item is visible.
    pub fn is_empty(&self) -> bool {
        self.ledger.is_empty()
    }

    /// Visible items in the order they first appeared.
    pub fn iter(&self) -> impl Iterator<Item = (&M::Key, &M::Item)> {
        self.ledger.visible().filter_map(|s| Some((self.keys[s as usize].as_ref()?, self.views[s as usize].as_ref()?)))
    }

    /// Every key the store knows, visible or not (pending creates and tombstones included).
    pub fn keys(&self) -> impl Iterator<Item = &M::Key> {
        self.ledger.slots().filter_map(|s| self.keys.get(s as usize)?.as_ref())
    }

    /// Operations in flight, store-wide.
    pub fn pending_count(&self) -> usize {
        self.ledger.pending_count()
    }

    /// Pending count and last error of one item.
    pub fn status(&self, key: &M::Key) -> Status<'_> {
        let Some(s) = self.find(key) else { return Status { pending: 0, error: None } };
        let (pending, failed) = self.ledger.status(s);
        Status { pending: pending as usize, error: self.errors.get(&s).filter(|_| failed).map(String::as_str) }
    }

    /// A `created` event: inserts or replaces the item.
    pub fn created(&mut self, item: M::Item) -> Result<(), StoreError> {
        self.server_item(item, true)
    }

    /// An `updated` event: replaces the item (ignored for a deleted key, or a stale version).
    pub fn updated(&mut self, item: M::Item) -> Result<(), StoreError> {
        self.server_item(item, false)
    }

    fn server_item(&mut self, item: M::Item, created: bool) -> Result<(), StoreError> {
        let key = self.model.key(&item).ok_or(StoreError::MissingKey)?;
        let slot = self.slot(&key);
        let version = self.model.version(&item);
        if self.ledger.server(slot, version, created) {
            self.confirm(slot, item);
        }
        self.settle();
        Ok(())
    }

    /// Keeps `item` as the slot's confirmed item, first reporting the conflicts the ledger found
    /// with pending patches.
    fn confirm(&mut self, slot: Slot, item: M::Item) {
        let found: Vec<(Slot, OpId)> = self.ledger.take_conflicts().collect();
        for (s, op) in found {
            let (Some(old), Some(Pending::Update(patch)), Some(key)) =
                (Self::at(&self.confirmed, Some(s)), self.payloads.get(&op), Self::at(&self.keys, Some(s)))
            else {
                continue;
            };
            self.conflicts.extend(conflict(&self.model, key.clone(), op, old, &item, patch));
        }
        self.confirmed[slot as usize] = Some(item);
    }

    /// A `deleted` event. `version`, if known, guards against older events that arrive later.
    pub fn deleted(&mut self, key: M::Key, version: Option<f64>) {
        let slot = self.slot(&key);
        self.ledger.deleted(slot, version);
        self.settle();
    }

    /// Replaces every confirmed item with a fresh snapshot (initial load, or resync after a
    /// gap). Pending operations stay on top. Reported as one `Replace`.
    pub fn replace_all(&mut self, items: Vec<M::Item>) -> Result<(), StoreError> {
        let keys = items.iter().map(|i| self.model.key(i).ok_or(StoreError::MissingKey)).collect::<Result<Vec<_>, _>>()?;
        let fresh: Vec<(Slot, Option<f64>)> = keys.iter().zip(&items).map(|(k, i)| (self.slot(k), self.model.version(i))).collect();
        self.ledger.replace_all(&fresh);
        for ((slot, _), item) in fresh.into_iter().zip(items) {
            self.confirmed[slot as usize] = Some(item);
        }
        self.settle();
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

    fn begin(&mut self, key: M::Key, pending: Pending<M>) -> OpId {
        let slot = self.slot(&key);
        let kind = match pending {
            Pending::Create(_) => OpKind::Create,
            Pending::Update(_) => OpKind::Update,
            Pending::Delete => OpKind::Delete,
        };
        // The payload is in place before the ledger asks for the view that uses it.
        let id = self.ledger.begin(slot, kind);
        self.payloads.insert(id, pending);
        self.settle();
        id
    }

    /// The operation succeeded. `result` is the server's item (for a create with a temporary
    /// id, it carries the real one). Without a result, an update's patch is taken as accepted.
    pub fn succeed(&mut self, op: OpId, result: Option<M::Item>) -> Result<(), StoreError> {
        let result = match result {
            Some(item) => {
                let key = self.model.key(&item).ok_or(StoreError::MissingKey)?;
                let slot = self.slot(&key);
                Some((slot, self.model.version(&item), item))
            }
            None => None,
        };
        if let Some(s) = self.ledger.op_slot(op) {
            self.errors.remove(&s);
        }
        match (self.ledger.succeed(op, result.as_ref().map(|(s, v, _)| (*s, *v))), result) {
            (Settled::Result(slot), Some((_, _, item))) => self.confirm(slot, item),
            (Settled::Merge(slot), _) => {
                if let (Some(base), Some(Pending::Update(patch))) = (Self::at(&self.confirmed, Some(slot)), self.payloads.get(&op)) {
                    self.confirmed[slot as usize] = Some(self.model.apply(base, patch));
                }
            }
            (Settled::Confirm(slot), _) => {
                if let Some(Pending::Create(item)) = self.payloads.get(&op) {
                    self.confirmed[slot as usize] = Some(item.clone());
                }
            }
            _ => {}
        }
        self.payloads.remove(&op);
        self.settle();
        Ok(())
    }

    /// The operation failed: it is removed and the item shows its newest confirmed state.
    pub fn fail(&mut self, op: OpId, error: String) {
        let Some(slot) = self.ledger.fail(op) else { return };
        self.payloads.remove(&op);
        if let Some(key) = Self::at(&self.keys, Some(slot)) {
            self.rejections.push(Rejection { key: key.clone(), op, error: error.clone() });
        }
        self.errors.insert(slot, error);
        self.settle();
    }

    /// Ends the batch: returns what changed since the last flush, for one notification.
    pub fn flush(&mut self) -> Changes<M> {
        let Flushed { diffs, forgotten } = self.ledger.flush();
        let key = |s: Slot| self.keys[s as usize].clone().expect("a slot the ledger reports has a key");
        let diffs: Vec<Diff<M::Key>> = diffs
            .into_iter()
            .map(|d| match d {
                Diff::Insert(s) => Diff::Insert(key(s)),
                Diff::Update(s) => Diff::Update(key(s)),
                Diff::Remove(s) => Diff::Remove(key(s)),
                Diff::Replace => Diff::Replace,
            })
            .collect();
        #[cfg(feature = "signals")]
        self.publish(&diffs);
        let mut gone = Vec::with_capacity(forgotten.len());
        for s in forgotten {
            if let Some(k) = self.keys[s as usize].take() {
                self.slots.remove(&k);
                gone.push(k);
            }
            self.confirmed[s as usize] = None;
            self.views[s as usize] = None;
            self.errors.remove(&s);
            self.free.push(s);
        }
        Changes { diffs, conflicts: std::mem::take(&mut self.conflicts), rejections: std::mem::take(&mut self.rejections), forgotten: gone }
    }

    /// Rebuilds the views the ledger says changed, and drops confirmed items it no longer has.
    fn settle(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        let mut more = Vec::new();
        self.ledger.take_dirty(&mut more);
        dirty.append(&mut more);
        let mut patches = Vec::new();
        for &s in &dirty {
            let i = s as usize;
            if !self.ledger.has_confirmed(s) {
                self.confirmed[i] = None;
            }
            let mut view = match self.ledger.view(s, &mut patches) {
                None => None,
                Some(Base::Confirmed) => self.confirmed[i].clone(),
                Some(Base::Created(op)) => match self.payloads.get(&op) {
                    Some(Pending::Create(item)) => Some(item.clone()),
                    _ => None,
                },
            };
            for op in &patches {
                if let (Some(v), Some(Pending::Update(p))) = (&view, self.payloads.get(op)) {
                    view = Some(self.model.apply(v, p));
                }
            }
            self.views[i] = view;
        }
        dirty.clear();
        self.dirty = dirty;
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
