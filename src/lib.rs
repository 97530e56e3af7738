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

// talc instead of std's dlmalloc: the same single-threaded heap in fewer bytes of wasm.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
