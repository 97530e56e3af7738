//! What the store needs to know about items: their key, their version, and how a patch applies.
//! The JavaScript facade implements it for plain JS objects; Rust apps implement it for their
//! own types; [`MapModel`] is a ready-made one for field maps (and for the test kit).

use std::collections::BTreeMap;
use std::fmt::Debug;

/// Describes the items a store holds. Implementations are usually zero-sized or hold the
/// configured field names.
pub trait Model {
    /// The item's identity (`id`).
    type Key: Ord + std::hash::Hash + Clone + Debug;
    /// A whole item as the server sends it.
    type Item: Clone + Debug;
    /// A partial change to an item (the seed's `Partial<T>`).
    type Patch: Clone + Debug;
    /// One field's value, for conflict reports.
    type Value: PartialEq + Clone + Debug;

    /// The item's key, or `None` if it has none (the event is then refused).
    fn key(&self, item: &Self::Item) -> Option<Self::Key>;
    /// The item's version, when the store is configured with a version field. Events whose
    /// version is not newer than what the store holds are ignored.
    fn version(&self, item: &Self::Item) -> Option<f64>;
    /// A new item: `item` with `patch` applied. Must not modify `item`.
    fn apply(&self, item: &Self::Item, patch: &Self::Patch) -> Self::Item;
    /// The fields a patch sets.
    fn patch_fields(&self, patch: &Self::Patch) -> Vec<String>;
    /// One field of an item.
    fn field(&self, item: &Self::Item, name: &str) -> Option<Self::Value>;
    /// One field of a patch.
    fn patch_field(&self, patch: &Self::Patch, name: &str) -> Option<Self::Value>;
}

/// Items that are maps from field names to integers, keyed by the `id` field and optionally
/// versioned by the `v` field: enough to express every store behaviour in tests.
#[derive(Clone, Debug, Default)]
pub struct MapModel {
    /// Use the `v` field as the version.
    pub versioned: bool,
}

/// An item of [`MapModel`].
pub type MapItem = BTreeMap<String, i64>;

impl Model for MapModel {
    type Key = i64;
    type Item = MapItem;
    type Patch = MapItem;
    type Value = i64;

    fn key(&self, item: &MapItem) -> Option<i64> {
        item.get("id").copied()
    }
    fn version(&self, item: &MapItem) -> Option<f64> {
        if self.versioned {
            item.get("v").map(|v| *v as f64)
        } else {
            None
        }
    }
    fn apply(&self, item: &MapItem, patch: &MapItem) -> MapItem {
        let mut out = item.clone();
        out.extend(patch.iter().map(|(k, v)| (k.clone(), *v)));
        out
    }
    fn patch_fields(&self, patch: &MapItem) -> Vec<String> {
        patch.keys().cloned().collect()
    }
    fn field(&self, item: &MapItem, name: &str) -> Option<i64> {
        item.get(name).copied()
    }
    fn patch_field(&self, patch: &MapItem, name: &str) -> Option<i64> {
        patch.get(name).copied()
    }
}

/// Builds a [`MapItem`] from pairs: `item(&[("id", 1), ("n", 5)])`.
pub fn item(fields: &[(&str, i64)]) -> MapItem {
    fields.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}
