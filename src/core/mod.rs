//! The pure core: decisions in plain Rust, no browser APIs, driven natively by `cargo test`.

pub mod backoff;
pub mod connection;
pub mod outbox;
pub mod recovery;
pub mod rng;
pub mod router;
pub mod session;
pub mod store;
pub mod vecmap;
