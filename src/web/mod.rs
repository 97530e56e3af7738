//! Thin browser glue: owned wrappers whose Drop releases every callback they registered.
//! No decisions are made here; the core decides and these only perform.

mod listener;
mod socket;

pub(crate) use listener::EventListener;
pub(crate) use socket::{Socket, SocketEvent};

/// Milliseconds since the epoch, the core's clock. Wall-clock time, so a heartbeat check that
/// a throttled background tab runs late still sees how long the gateway has really been silent.
pub(crate) fn now() -> f64 {
    js_sys::Date::now()
}
