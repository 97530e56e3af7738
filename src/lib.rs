//! livestate: realtime state for web frontends, compiled to WebAssembly.
//!
//! # Layout
//! - [`protocol`]: the wire types and codes, shared with the gateway (`server/`).
//! - `core`: the pure state machines (connection, backoff, routing); no browser APIs.
//! - `js` (wasm32 only): the numeric exports that the JavaScript classes in `src/js/*.js`
//!   (`RealtimeClient`, `RealtimeStore`) drive, and the declarations of their typings.

#![warn(missing_docs, unreachable_pub)]

pub mod core;
pub mod protocol;

#[cfg(target_arch = "wasm32")]
mod js;

#[cfg(target_arch = "wasm32")]
pub use js::*;
