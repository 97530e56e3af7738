//! Browser facts the facade reads. The browser resources themselves (socket, timers, page
//! listeners) live in src/js/wire.js, owned by the client and released with it.

/// Milliseconds since the epoch, the core's clock. Wall-clock time, so a heartbeat check that
/// a throttled background tab runs late still sees how long the gateway has really been silent.
pub(crate) fn now() -> f64 {
    js_sys::Date::now()
}
