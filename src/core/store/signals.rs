//! A futures-signals view of a store for Rust UIs: a `MutableBTreeMap` mirror kept in step at
//! every flush, so a UI sees one batch of `MapDiff`s per store batch.

use super::{Diff, Model, Store};
use futures_signals::signal_map::{MutableBTreeMap, SignalMap};

impl<M: Model> Store<M> {
    /// The visible items as a signal map (`MapDiff::Replace` first, then changes per flush).
    pub fn signal_map(&mut self) -> impl SignalMap<Key = M::Key, Value = M::Item> {
        if self.mirror.is_none() {
            let map = MutableBTreeMap::new();
            map.lock_mut().replace_cloned(self.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
            self.mirror = Some(map);
        }
        self.mirror.as_ref().expect("set above").signal_map_cloned()
    }

    pub(super) fn publish(&self, diffs: &[Diff<M::Key>]) {
        let Some(mirror) = &self.mirror else { return };
        let mut m = mirror.lock_mut();
        for d in diffs {
            match d {
                Diff::Insert(k) | Diff::Update(k) => {
                    if let Some(v) = self.get(k) {
                        m.insert_cloned(k.clone(), v.clone());
                    }
                }
                Diff::Remove(k) => {
                    m.remove(k);
                }
                Diff::Replace => m.replace_cloned(self.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            }
        }
    }
}
