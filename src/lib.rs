//! livestate: realtime state for web frontends, compiled to WebAssembly.
//!
//! # Layout
//! - [`protocol`]: the wire types and codes, shared with the gateway (`server/`).
//! - `core`: the pure state machines (connection, backoff, routing); no browser APIs.
//! - `web` (wasm32 only): thin glue that performs the core's actions with browser APIs.
//! - `js` (wasm32 only): the `#[wasm_bindgen]` classes JavaScript sees (`RealtimeClient`).

#![warn(missing_docs, unreachable_pub)]

pub mod core;
pub mod protocol;

#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
mod web;

#[cfg(target_arch = "wasm32")]
pub use js::*;
