//! The wasm side of the JavaScript API: the numeric exports the JS classes drive (`api`), and
//! declarations only (tsify) for the typings of options, errors and store types.

mod api;
mod errors;
mod options;
mod store_types;

pub use errors::{ErrorCode, RealtimeErrorEvent};
pub use options::{BackoffOptions, ClientOptions, ClientStats};
