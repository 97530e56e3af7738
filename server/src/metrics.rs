//! Counters for `/metrics` (Prometheus text format). Plain atomics: the hot path adds one
//! relaxed increment, and nothing is allocated until a scrape.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};

/// Why events or connections were dropped or refused.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Drop {
    /// A `low` event not queued for a client that was falling behind.
    LowPriority,
    /// A client that stopped reading (its queue overflowed, or a write to it stalled past the
    /// write timeout) was disconnected.
    SlowConsumer,
    /// A client exceeded its inbound rate limit and was disconnected.
    RateLimited,
    /// An upgrade refused because of its Origin.
    Origin,
    /// An upgrade refused because the gateway was full.
    Full,
    /// A connection refused because its user had too many.
    UserLimit,
    /// A client message over the size limit.
    TooBig,
    /// An event not published because too many were already waiting for Redis.
    Broker,
    /// A subscriber not listed in a feature's presence, which had its most members already.
    PresenceFull,
}

const DROP_NAMES: [&str; 9] =
    ["low_priority", "slow_consumer", "rate_limited", "origin", "full", "user_limit", "too_big", "broker", "presence_full"];

/// Gateway-wide counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) connections: AtomicI64,
    pub(crate) connections_total: AtomicU64,
    pub(crate) events_in: AtomicU64,
    pub(crate) events_out: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
    /// With `--broker`: whether Redis answered last time (rendered only then).
    pub(crate) broker_up: AtomicBool,
    drops: [AtomicU64; 9],
}

impl Metrics {
    pub(crate) fn drop(&self, why: Drop) {
        self.drops[why as usize].fetch_add(1, Relaxed);
    }

    /// The Prometheus exposition; `subscriptions` is (feature, subscriber count).
    pub(crate) fn render(&self, subscriptions: &[(String, usize)], broker: bool) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, kind: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        counter("livestate_connections", "Open WebSocket connections.", "gauge", self.connections.load(Relaxed).to_string());
        counter(
            "livestate_connections_total",
            "WebSocket connections accepted.",
            "counter",
            self.connections_total.load(Relaxed).to_string(),
        );
        counter("livestate_events_in_total", "Events published.", "counter", self.events_in.load(Relaxed).to_string());
        counter(
            "livestate_events_out_total",
            "Event deliveries queued to connections.",
            "counter",
            self.events_out.load(Relaxed).to_string(),
        );
        counter(
            "livestate_auth_failures_total",
            "Connections refused for a missing, invalid or expired token.",
            "counter",
            self.auth_failures.load(Relaxed).to_string(),
        );
        if broker {
            counter(
                "livestate_broker_up",
                "1 while Redis answers, 0 while it is unreachable.",
                "gauge",
                u8::from(self.broker_up.load(Relaxed)).to_string(),
            );
        }
        let _ = writeln!(
            out,
            "# HELP livestate_drops_total Events dropped (low_priority: told to the client as a gap; broker) and connections refused or closed (slow_consumer: stopped reading; rate_limited, origin, full, user_limit, too_big) or not listed in a presence (presence_full), by reason.\n# TYPE livestate_drops_total counter"
        );
        for (i, name) in DROP_NAMES.iter().enumerate() {
            let _ = writeln!(out, "livestate_drops_total{{reason=\"{name}\"}} {}", self.drops[i].load(Relaxed));
        }
        let _ = writeln!(out, "# HELP livestate_subscriptions Subscribed connections per feature.\n# TYPE livestate_subscriptions gauge");
        for (feature, n) in subscriptions {
            let _ = writeln!(out, "livestate_subscriptions{{feature=\"{feature}\"}} {n}");
        }
        out
    }
}
