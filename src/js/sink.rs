//! What the client needs from a store it feeds. The store implements it, so the client module
//! does not depend on the store module (the store depends on the client).

use crate::core::session::StoreOp;
use wasm_bindgen::JsValue;

pub(crate) trait StoreSink {
    /// Applies one routed event (the session decided `op` from its action); listeners hear of
    /// it once the current batch is done.
    fn deliver(&self, op: StoreOp, action: &dyn Fn() -> String, data: JsValue, message: &JsValue);
    /// The store's feature lost events for good: reload (`reload`), or say the items may be stale.
    fn resync(&self, reload: bool);
}
