//! The store's [`Model`] for plain JavaScript objects: key and version read by field name,
//! patches applied with `Object.assign` into a new object (the old one is never mutated).

use crate::core::store::Model;
use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

#[derive(Clone, Debug)]
pub(crate) struct JsModel {
    pub(crate) key_field: JsValue,
    pub(crate) version_field: Option<JsValue>,
    /// Key texts by id (the store's `Key`).
    pub(crate) keys: Keys,
}

/// An id from [`Keys`], if there was a key.
pub(crate) fn key_id(id: f64) -> Option<u32> {
    (id >= 0.0).then_some(id as u32)
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/js/boundary.js")]
extern "C" {
    /// One store's key texts, each with a small integer id: the store in wasm sees only ids.
    #[derive(Clone, Debug)]
    pub(crate) type Keys;
    #[wasm_bindgen(constructor)]
    pub(crate) fn new() -> Keys;
    /// The id of a key given by the app, made if new; -1 for no key.
    #[wasm_bindgen(method)]
    pub(crate) fn id(this: &Keys, key: &JsValue) -> f64;
    #[wasm_bindgen(method)]
    fn of(this: &Keys, item: &JsValue, field: &JsValue) -> f64;
    /// The id of a key the store knows, -1 otherwise.
    #[wasm_bindgen(method)]
    pub(crate) fn find(this: &Keys, key: &JsValue) -> f64;
    #[wasm_bindgen(method)]
    pub(crate) fn name(this: &Keys, id: u32) -> JsValue;
    #[wasm_bindgen(method)]
    pub(crate) fn forget(this: &Keys, id: u32);
    #[wasm_bindgen(method)]
    pub(crate) fn clear(this: &Keys);
    #[wasm_bindgen(method)]
    pub(crate) fn diff(this: &Keys, kind: u32, id: u32, item: &JsValue) -> JsValue;
    // One call each on the hot path of every applied event, instead of a Reflect.get plus type
    // checks and conversions across the boundary.
    #[wasm_bindgen(js_name = itemVersion)]
    fn item_version(item: &JsValue, field: &JsValue) -> f64;
}

impl Model for JsModel {
    type Key = u32;
    type Item = JsValue;
    type Patch = JsValue;
    type Value = JsValue;

    fn key(&self, item: &JsValue) -> Option<u32> {
        key_id(self.keys.of(item, &self.key_field))
    }

    fn version(&self, item: &JsValue) -> Option<f64> {
        let n = item_version(item, self.version_field.as_ref()?); // numbers, or updatedAt-style ISO dates
        n.is_finite().then_some(n)
    }

    fn apply(&self, item: &JsValue, patch: &JsValue) -> JsValue {
        let out = Object::new();
        Object::assign(&out, item.unchecked_ref());
        Object::assign(&out, patch.unchecked_ref());
        out.into()
    }

    fn patch_fields(&self, patch: &JsValue) -> Vec<String> {
        Object::keys(patch.unchecked_ref::<Object>()).iter().filter_map(|k| k.as_string()).collect()
    }

    fn field(&self, item: &JsValue, name: &str) -> Option<JsValue> {
        Reflect::get(item, &name.into()).ok().filter(|v| !v.is_undefined())
    }

    fn patch_field(&self, patch: &JsValue, name: &str) -> Option<JsValue> {
        self.field(patch, name)
    }
}
