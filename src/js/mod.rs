//! The JavaScript facade: `#[wasm_bindgen]` classes and the TypeScript types (via tsify).
//! JS values are converted here and nowhere deeper.

mod client;
mod decode;
mod errors;
mod options;
mod sink;
mod store;
mod store_model;
mod store_types;

pub use client::{ClientStats, ListenerHandle, RealtimeClient, Subscription};
pub use errors::{ErrorCode, RealtimeErrorEvent};
pub use options::{BackoffOptions, ClientOptions};
pub use store::{RealtimeStore, StoreListener};
