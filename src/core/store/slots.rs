//! The store's table of entries: one `Vec` indexed by slot, a hash index from key to slot, and
//! the visible items' order as a list of slots. Freed slots are reused, so the table stays as
//! large as the most keys held at once.

use super::{Entry, Model};
use std::collections::HashMap;

pub(super) struct Slots<M: Model> {
    index: HashMap<M::Key, u32>,
    entries: Vec<Option<Entry<M>>>,
    free: Vec<u32>,
    /// Visible items in the order they appeared, as (seq, slot). A pair whose slot no longer has
    /// that seq is stale: skipped, and dropped when stale pairs outnumber live ones.
    order: Vec<(u32, u32)>,
    visible: usize,
    next_seq: u32,
    /// Keys removed since the last flush (the store reports those still gone).
    pub(super) forgotten: Vec<M::Key>,
}

impl<M: Model> Default for Slots<M> {
    fn default() -> Self {
        Self { index: HashMap::new(), entries: Vec::new(), free: Vec::new(), order: Vec::new(), visible: 0, next_seq: 0, forgotten: Vec::new() }
    }
}

impl<M: Model> Slots<M> {
    pub(super) fn get(&self, key: &M::Key) -> Option<&Entry<M>> {
        self.index.get(key).and_then(|&s| self.entries[s as usize].as_ref())
    }

    pub(super) fn get_mut(&mut self, key: &M::Key) -> Option<&mut Entry<M>> {
        let s = *self.index.get(key)?;
        self.entries[s as usize].as_mut()
    }

    /// The key's entry, created empty if the store did not know it.
    pub(super) fn get_or_insert(&mut self, key: &M::Key) -> &mut Entry<M> {
        let slot = match self.index.get(key) {
            Some(&s) => s,
            None => {
                let s = self.free.pop().unwrap_or(self.entries.len() as u32);
                if s as usize == self.entries.len() {
                    self.entries.push(None);
                }
                self.entries[s as usize] = Some(Entry::new(key.clone()));
                self.index.insert(key.clone(), s);
                s
            }
        };
        self.entries[slot as usize].as_mut().expect("indexed slots hold an entry")
    }

    /// Room for `n` more keys, allocated at once.
    pub(super) fn reserve(&mut self, n: usize) {
        self.index.reserve(n);
        self.entries.reserve_exact(n.saturating_sub(self.free.len()));
        self.order.reserve_exact(n);
    }

    pub(super) fn remove(&mut self, key: &M::Key) {
        if let Some(s) = self.index.remove(key) {
            if self.entries[s as usize].take().is_some_and(|e| e.view.is_some()) {
                self.visible -= 1;
            }
            self.free.push(s);
            self.forgotten.push(key.clone());
        }
    }

    /// Every key the store knows, visible or not.
    pub(super) fn keys(&self) -> impl Iterator<Item = &M::Key> {
        self.index.keys()
    }

    /// Records that `key`'s entry became visible (`true`) or hidden (`false`).
    pub(super) fn set_visible(&mut self, key: &M::Key, visible: bool) {
        let Some(&slot) = self.index.get(key) else { return };
        let e = self.entries[slot as usize].as_mut().expect("indexed slots hold an entry");
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
                self.order.retain(|&(seq, s)| entries[s as usize].as_ref().is_some_and(|e| e.seq == seq));
            }
        }
    }

    /// Number of visible items.
    pub(super) fn len(&self) -> usize {
        self.visible
    }

    /// Visible entries in the order they first appeared.
    pub(super) fn visible(&self) -> impl Iterator<Item = &Entry<M>> {
        self.order.iter().filter_map(|&(seq, s)| self.entries[s as usize].as_ref().filter(|e| e.seq == seq))
    }
}
