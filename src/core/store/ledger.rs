//! `Ledger`: every decision of a keyed store, without its items. It sees numbers only: a slot
//! per key (handed out by whoever holds the keys), versions, and operation ids. Whoever holds the
//! items (the JS `RealtimeStore`, or [`super::Store`] in Rust) asks it what to do and then does
//! it: keep or drop a confirmed item, and rebuild a view from the recipe [`Ledger::view`] gives.
//!
//! Semantics (the module docs of [`super`] say why): a view is the confirmed item with the
//! item's pending operations applied in order; server changes replace the confirmed item and
//! the operations stay on top; a failed operation is removed.

use crate::core::vecmap::VecMap;
use std::collections::VecDeque;

/// A key's place in the store, chosen by the caller; one key per slot until the ledger reports
/// the slot forgotten (see [`Flushed::forgotten`]).
pub type Slot = u32;

/// Identifies one optimistic operation.
pub type OpId = u64;

/// Deleted keys remembered so late events cannot resurrect them; the oldest are forgotten first.
pub(crate) const MAX_TOMBSTONES: usize = 10_000;

/// The kind of a pending optimistic operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Insert an item (shown only while no confirmed item has the key).
    Create,
    /// Apply a patch.
    Update,
    /// Hide the item.
    Delete,
}

/// Where a view starts: the confirmed item, or the item of a pending create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// The confirmed item.
    Confirmed,
    /// The item of this create operation.
    Created(OpId),
}

/// What the holder of the items does after [`Ledger::succeed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Nothing beyond the views (the operation was gone, superseded, or a delete).
    Nothing,
    /// The server's result is the confirmed item of this slot now (like a server event).
    Result(Slot),
    /// The confirmed item of this slot becomes itself with the operation's patch applied.
    Merge(Slot),
    /// The operation's created item is the confirmed item of this slot now.
    Confirm(Slot),
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

/// What [`Ledger::flush`] reports.
#[derive(Debug, Default)]
pub struct Flushed {
    /// Changes to visible items since the last flush.
    pub diffs: Vec<Diff<Slot>>,
    /// Slots the ledger no longer holds anything about (no item, tombstone, operation or
    /// error): their keys can be dropped and the slots given to other keys.
    pub forgotten: Vec<Slot>,
}

const KNOWN: u8 = 1;
const CONFIRMED: u8 = 2;
const DELETED: u8 = 4;
const VISIBLE: u8 = 8;
const TOUCHED: u8 = 16;
const ERROR: u8 = 32;

/// One key: 24 bytes, no heap.
#[derive(Clone, Copy)]
struct Entry {
    /// Version of the confirmed item, or of the delete; NaN for none.
    version: f64,
    /// Server changes seen for this key (events and applied results).
    events: u32,
    /// Order of appearance while visible (0 while hidden).
    seq: u32,
    /// Pending operations on this key.
    pending: u32,
    flags: u8,
}

const EMPTY: Entry = Entry { version: f64::NAN, events: 0, seq: 0, pending: 0, flags: 0 };

impl Entry {
    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
    fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }
}

struct Op {
    slot: Slot,
    kind: OpKind,
    /// The key's server-change count when the operation started.
    seen: u32,
}

/// See the module docs.
#[derive(Default)]
pub struct Ledger {
    entries: Vec<Entry>,
    ops: VecMap<OpId, Op>,
    next_op: OpId,
    tombstones: VecDeque<Slot>,
    /// Visible slots in the order they appeared, as (seq, slot); a pair whose slot no longer has
    /// that seq is stale, skipped, and dropped when stale pairs outnumber live ones.
    order: Vec<(u32, Slot)>,
    visible: usize,
    next_seq: u32,
    /// Slots changed in this batch, in the order of their first change, with whether each was
    /// visible before it.
    touched: Vec<(Slot, bool)>,
    replaced: bool,
    /// The slots known when a snapshot began, until it ends.
    replacing: Vec<Slot>,
    forgotten: Vec<Slot>,
    /// Slots whose view the holder must rebuild (see [`Ledger::take_dirty`]).
    dirty: Vec<Slot>,
    /// Pending updates whose fields a server item just changed under them (see
    /// [`Ledger::take_conflicts`]).
    conflicts: Vec<(Slot, OpId)>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    fn get(&self, slot: Slot) -> Option<&Entry> {
        self.entries.get(slot as usize).filter(|e| e.has(KNOWN))
    }

    fn get_mut(&mut self, slot: Slot) -> Option<&mut Entry> {
        self.entries.get_mut(slot as usize).filter(|e| e.has(KNOWN))
    }

    /// The slot's entry, made known if it was not.
    fn entry(&mut self, slot: Slot) -> &mut Entry {
        let i = slot as usize;
        if i >= self.entries.len() {
            self.entries.resize(i + 1, EMPTY);
        }
        let e = &mut self.entries[i];
        if !e.has(KNOWN) {
            *e = EMPTY;
            e.flags = KNOWN;
        }
        e
    }

    /// Room for slots up to `n`, allocated at once.
    pub fn reserve(&mut self, n: usize) {
        self.entries.reserve_exact(n.saturating_sub(self.entries.len()));
        self.order.reserve_exact(n.saturating_sub(self.order.len()));
    }

    /// Number of visible items.
    pub fn len(&self) -> usize {
        self.visible
    }

    /// True when no item is visible.
    pub fn is_empty(&self) -> bool {
        self.visible == 0
    }

    /// Operations in flight, store-wide.
    pub fn pending_count(&self) -> usize {
        self.ops.len()
    }

    /// Pending operations on the slot, and whether its last operation failed.
    pub fn status(&self, slot: Slot) -> (u32, bool) {
        self.get(slot).map_or((0, false), |e| (e.pending, e.has(ERROR)))
    }

    /// True while the slot has a confirmed item (the holder keeps it only then).
    pub fn has_confirmed(&self, slot: Slot) -> bool {
        self.get(slot).is_some_and(|e| e.has(CONFIRMED))
    }

    /// True while the slot's item is visible.
    pub fn is_visible(&self, slot: Slot) -> bool {
        self.get(slot).is_some_and(|e| e.has(VISIBLE))
    }

    /// Every slot the ledger knows, visible or not (pending creates and tombstones included).
    pub fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        self.entries.iter().enumerate().filter(|(_, e)| e.has(KNOWN)).map(|(i, _)| i as Slot)
    }

    /// Visible slots in the order their items first appeared.
    pub fn visible(&self) -> impl Iterator<Item = Slot> + '_ {
        self.order.iter().filter(|&&(seq, s)| self.get(s).is_some_and(|e| e.seq == seq)).map(|&(_, s)| s)
    }

    /// Pending operations on the slot, oldest first.
    pub fn pending(&self, slot: Slot) -> impl Iterator<Item = (OpId, OpKind)> + '_ {
        self.ops.iter().filter(move |(_, op)| op.slot == slot).map(|(id, op)| (*id, op.kind))
    }

    /// The slot of an operation in flight.
    pub fn op_slot(&self, op: OpId) -> Option<Slot> {
        self.ops.get(&op).map(|o| o.slot)
    }

    /// How to build the slot's view: `None` when hidden; otherwise where it starts, with the
    /// update operations whose patches apply on top, in order (into `patches`).
    pub fn view(&self, slot: Slot, patches: &mut Vec<OpId>) -> Option<Base> {
        patches.clear();
        self.fold(slot, Some(patches))
    }

    fn fold(&self, slot: Slot, mut patches: Option<&mut Vec<OpId>>) -> Option<Base> {
        let e = self.get(slot)?;
        let mut base = e.has(CONFIRMED).then_some(Base::Confirmed);
        if e.pending == 0 {
            return base;
        }
        for (id, op) in self.ops.iter().filter(|(_, op)| op.slot == slot) {
            match op.kind {
                OpKind::Create if base.is_none() => {
                    base = Some(Base::Created(*id));
                    patches.as_deref_mut().map(Vec::clear);
                }
                OpKind::Create => {} // the server's copy wins
                OpKind::Update if base.is_some() => patches.as_deref_mut().map_or((), |p| p.push(*id)),
                OpKind::Update => {}
                OpKind::Delete => {
                    base = None;
                    patches.as_deref_mut().map(Vec::clear);
                }
            }
        }
        base
    }

    /// Slots whose view changed since the last call: the holder rebuilds each with
    /// [`Ledger::view`], and drops its confirmed item unless [`Ledger::has_confirmed`].
    pub fn take_dirty(&mut self, into: &mut Vec<Slot>) {
        into.clear();
        std::mem::swap(into, &mut self.dirty);
    }

    /// Pending updates on a slot whose confirmed item the last server change replaced: the
    /// holder compares the patch's fields between the old and the new item, and reports a
    /// conflict for those that differ. Drained by each call.
    pub fn take_conflicts(&mut self) -> std::vec::Drain<'_, (Slot, OpId)> {
        self.conflicts.drain(..)
    }

    /// A `created` (`created`) or `updated` item from the server for `slot`; false if ignored
    /// (a stale version, or a late update of a deleted item). When true, the holder keeps the
    /// item as the slot's confirmed item.
    pub fn server(&mut self, slot: Slot, version: Option<f64>, created: bool) -> bool {
        let e = self.entry(slot);
        match (version, e.version) {
            (Some(new), old) if new <= old => return false, // stale or duplicate (never with NaN)
            (None, _) if e.has(DELETED) && !created => return false, // late update of a deleted item
            _ => {}
        }
        if e.has(CONFIRMED) && e.pending > 0 {
            let found = self.ops.iter().filter(|(_, op)| op.slot == slot && op.kind == OpKind::Update).map(|(id, _)| (slot, *id));
            self.conflicts.extend(found);
        }
        let e = self.entry(slot);
        e.set(CONFIRMED, true);
        e.set(DELETED, false);
        e.version = version.unwrap_or(f64::NAN);
        e.events += 1;
        self.refresh(slot);
        true
    }

    /// A `deleted` event. `version`, if known, guards against older events that arrive later.
    pub fn deleted(&mut self, slot: Slot, version: Option<f64>) {
        let e = self.entry(slot);
        if let Some(new) = version {
            if new <= e.version {
                return;
            }
        }
        let version = version.unwrap_or(e.version);
        if e.has(DELETED) && !e.has(CONFIRMED) {
            // Already gone (a duplicate, or the echo of our own delete): only learn its version,
            // so older events still in flight stay ignored.
            e.version = version;
            return;
        }
        e.events += 1;
        e.set(CONFIRMED, false);
        e.set(DELETED, true);
        e.version = version;
        self.tombstones.push_back(slot);
        self.prune_tombstones();
        self.refresh(slot);
    }

    /// A fresh snapshot replaces every confirmed item (initial load, or resync after a gap):
    /// `items` are the snapshot's slots and versions, in its order. Pending operations stay on
    /// top. Reported as one `Replace`.
    pub fn replace_all(&mut self, items: &[(Slot, Option<f64>)]) {
        let top = items.iter().map(|&(s, _)| s as usize + 1).max().unwrap_or(0);
        self.replace_begin(top);
        self.replace_part(items.iter().copied());
        self.replace_end();
    }

    /// Starts a snapshot given in parts ([`Ledger::replace_part`], then
    /// [`Ledger::replace_end`]), so that its holder never needs the whole snapshot in one
    /// buffer; `top` is one more than its highest slot, for room allocated once.
    pub fn replace_begin(&mut self, top: usize) {
        // Keys missing from the snapshot become tombstones that keep their version, so an older
        // event still in flight cannot bring them back.
        let old: Vec<Slot> = self.slots().collect();
        for &s in &old {
            let e = &mut self.entries[s as usize];
            if e.has(CONFIRMED) {
                e.set(CONFIRMED, false);
                e.set(DELETED, true);
                self.tombstones.push_back(s);
            }
            e.events += 1;
        }
        self.reserve(top);
        self.replacing = old;
        // One `Replace` says it all: the batch stops listing what it touched.
        self.replaced = true;
        self.touched = Vec::new();
    }

    /// Part of a snapshot, in its order: these items appear.
    pub fn replace_part(&mut self, items: impl Iterator<Item = (Slot, Option<f64>)>) {
        for (slot, version) in items {
            let e = self.entry(slot);
            e.set(CONFIRMED, true);
            e.set(DELETED, false);
            e.version = version.unwrap_or(f64::NAN);
            self.refresh(slot);
        }
    }

    /// Ends a snapshot: the old keys it left out are hidden.
    pub fn replace_end(&mut self) {
        self.prune_tombstones();
        for s in std::mem::take(&mut self.replacing) {
            if self.get(s).is_some_and(|e| !e.has(CONFIRMED)) {
                self.refresh(s);
            }
        }
    }

    /// Starts an optimistic operation on the slot; the view shows it at once.
    pub fn begin(&mut self, slot: Slot, kind: OpKind) -> OpId {
        self.next_op += 1;
        let id = self.next_op;
        let e = self.entry(slot);
        e.pending += 1;
        let seen = e.events;
        self.ops.insert(id, Op { slot, kind, seen });
        self.refresh(slot);
        id
    }

    /// The operation succeeded. `result` is the slot and version of the server's item, if the
    /// API returned one with a key (for a create with a temporary id, it has the real key).
    /// Without a result, an update's patch and a create's item are taken as accepted.
    pub fn succeed(&mut self, op: OpId, result: Option<(Slot, Option<f64>)>) -> Settled {
        let Some(op) = self.remove_op(op) else { return Settled::Nothing };
        if let Some(e) = self.get_mut(op.slot) {
            e.set(ERROR, false);
        }
        let unchanged = self.get(op.slot).is_some_and(|e| e.events == op.seen);
        let settled = match (op.kind, result) {
            (OpKind::Delete, _) => {
                if unchanged {
                    let version = self.get(op.slot).map_or(f64::NAN, |e| e.version);
                    self.deleted(op.slot, None);
                    if let Some(e) = self.get_mut(op.slot) {
                        e.version = version;
                    }
                }
                Settled::Nothing
            }
            (_, Some((slot, version))) => {
                let superseded = if version.is_some() {
                    false // the version guard in `server` decides
                } else if slot == op.slot {
                    !unchanged
                } else {
                    // A temporary id became a real one: the created echo may have come first.
                    self.get(slot).is_some_and(|e| e.has(CONFIRMED) || e.has(DELETED))
                };
                if !superseded && self.server(slot, version, false) {
                    Settled::Result(slot)
                } else {
                    Settled::Nothing
                }
            }
            (OpKind::Update, None) => match self.get_mut(op.slot) {
                Some(e) if unchanged && e.has(CONFIRMED) => {
                    e.events += 1;
                    Settled::Merge(op.slot)
                }
                _ => Settled::Nothing,
            },
            (OpKind::Create, None) if unchanged => {
                let e = self.entry(op.slot);
                e.set(CONFIRMED, true);
                e.set(DELETED, false);
                e.events += 1;
                Settled::Confirm(op.slot)
            }
            (OpKind::Create, None) => Settled::Nothing,
        };
        self.refresh(op.slot);
        settled
    }

    /// The operation failed: it is removed and the item shows its newest confirmed state.
    /// Returns its slot (None if it was gone), for the holder to report the rejection.
    pub fn fail(&mut self, op: OpId) -> Option<Slot> {
        let removed = self.remove_op(op)?;
        if let Some(e) = self.get_mut(removed.slot) {
            e.set(ERROR, true);
        }
        self.refresh(removed.slot);
        Some(removed.slot)
    }

    /// Ends the batch: what changed since the last flush, for one notification.
    pub fn flush(&mut self) -> Flushed {
        let touched = std::mem::take(&mut self.touched);
        let diffs = if std::mem::take(&mut self.replaced) {
            for e in &mut self.entries {
                e.set(TOUCHED, false);
            }
            vec![Diff::Replace]
        } else {
            let mut diffs = Vec::with_capacity(touched.len());
            for (s, was) in touched {
                // A slot removed and known again within the batch is listed twice: the first
                // listing reports it, against its state now.
                let now = match self.get_mut(s) {
                    Some(e) if !e.has(TOUCHED) => continue,
                    Some(e) => {
                        e.set(TOUCHED, false);
                        e.has(VISIBLE)
                    }
                    None => false,
                };
                diffs.push(match (was, now) {
                    (false, true) => Diff::Insert(s),
                    (true, true) => Diff::Update(s),
                    (true, false) => Diff::Remove(s),
                    (false, false) => continue,
                });
            }
            diffs
        };
        let mut forgotten = std::mem::take(&mut self.forgotten);
        forgotten.retain(|&s| self.get(s).is_none());
        Flushed { diffs, forgotten }
    }

    fn remove_op(&mut self, id: OpId) -> Option<Op> {
        let op = self.ops.remove(&id)?;
        if let Some(e) = self.get_mut(op.slot) {
            e.pending -= 1;
        }
        Some(op)
    }

    /// Recomputes one slot's visibility after a change, and forgets it once nothing is left.
    fn refresh(&mut self, slot: Slot) {
        let now = self.fold(slot, None).is_some();
        let Some(e) = self.get_mut(slot) else { return };
        let was = e.has(VISIBLE);
        let first = !e.has(TOUCHED);
        e.set(TOUCHED, true);
        let forget = !now && !e.has(CONFIRMED) && e.pending == 0 && !e.has(DELETED) && !e.has(ERROR);
        if first && !self.replaced {
            self.touched.push((slot, was));
        }
        self.dirty.push(slot);
        if was != now {
            self.set_visible(slot, now);
        }
        if forget {
            self.remove(slot);
        }
    }

    fn set_visible(&mut self, slot: Slot, visible: bool) {
        let e = &mut self.entries[slot as usize];
        e.set(VISIBLE, visible);
        if visible {
            self.next_seq += 1;
            e.seq = self.next_seq;
            self.order.push((e.seq, slot));
            self.visible += 1;
        } else {
            e.seq = 0;
            self.visible -= 1;
            if self.order.len() > 32 && self.order.len() > 2 * self.visible {
                let entries = &self.entries;
                self.order.retain(|&(seq, s)| entries[s as usize].has(KNOWN) && entries[s as usize].seq == seq);
            }
        }
    }

    fn remove(&mut self, slot: Slot) {
        let Some(e) = self.get_mut(slot) else { return };
        let visible = e.has(VISIBLE);
        *e = EMPTY;
        if visible {
            self.visible -= 1;
        }
        self.forgotten.push(slot);
    }

    fn prune_tombstones(&mut self) {
        while self.tombstones.len() > MAX_TOMBSTONES {
            let Some(s) = self.tombstones.pop_front() else { break };
            if self.get(s).is_some_and(|e| e.has(DELETED) && !e.has(CONFIRMED) && e.pending == 0) {
                self.remove(s);
            }
        }
    }
}
