//! The store's [`Model`] for plain JavaScript objects: key and version read by field name,
//! patches applied with `Object.assign` into a new object (the old one is never mutated).

use crate::core::store::Model;
use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

#[derive(Clone, Debug)]
pub(crate) struct JsModel {
    pub(crate) key_field: JsValue,
    pub(crate) version_field: Option<JsValue>,
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/js/boundary.js")]
extern "C" {
    /// A key given by the app as text: strings as they are, numbers in JavaScript's own
    /// notation (so `get(1)` and `get("1")` find the same item, as property access would).
    #[wasm_bindgen(js_name = keyText)]
    pub(crate) fn key_text(key: &JsValue) -> Option<String>;
    // One call each on the hot path of every applied event, instead of a Reflect.get plus type
    // checks and conversions across the boundary.
    #[wasm_bindgen(js_name = itemKey)]
    fn item_key(item: &JsValue, field: &JsValue) -> Option<String>;
    #[wasm_bindgen(js_name = itemVersion)]
    fn item_version(item: &JsValue, field: &JsValue) -> f64;
}

impl Model for JsModel {
    type Key = String;
    type Item = JsValue;
    type Patch = JsValue;
    type Value = JsValue;

    fn key(&self, item: &JsValue) -> Option<String> {
        item_key(item, &self.key_field)
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
