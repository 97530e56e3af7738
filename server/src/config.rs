//! Gateway settings: the seed's environment variables, overridden by command-line flags.

use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the gateway can be told. Each flag also reads the environment variable shown.
#[derive(Parser, Debug, Clone)]
#[command(name = "livestate-server", version, about = "The livestate gateway: /ws for browsers, /api/events for backends.")]
pub struct Config {
    /// Address to listen on. Use 0.0.0.0 to accept connections from other machines.
    #[arg(long, env = "LIVESTATE_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on.
    #[arg(long, env = "WEBSOCKET_PORT", default_value_t = 3333)]
    pub port: u16,

    /// Path of the WebSocket endpoint.
    #[arg(long, env = "WEBSOCKET_PATH", default_value = "/ws")]
    pub path: String,

    /// Milliseconds between heartbeat frames sent to each client.
    #[arg(long, env = "WEBSOCKET_HEARTBEAT_INTERVAL", default_value_t = 30_000, value_parser = clap::value_parser!(u32).range(50..))]
    pub heartbeat_interval: u32,

    /// Milliseconds of silence from a client after which its connection is closed (code 4000).
    #[arg(long, env = "WEBSOCKET_CONNECTION_TIMEOUT", default_value_t = 60_000, value_parser = clap::value_parser!(u32).range(100..))]
    pub connection_timeout: u32,

    /// Largest message accepted from a client, in bytes (bigger ones close with 1009).
    #[arg(long, env = "LIVESTATE_MAX_MESSAGE_SIZE", default_value_t = 64 * 1024)]
    pub max_message_size: usize,

    /// Frames queued per connection before it counts as a slow consumer (closed with 4001).
    #[arg(long, env = "LIVESTATE_OUTBOUND_QUEUE", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub outbound_queue: u32,

    /// Milliseconds a write to a client may wait for it to take the bytes. A client that stops
    /// reading fills the kernel's send buffer and then stalls every write: past this, its
    /// connection is closed as a slow consumer (4001), even while its queue is not full yet.
    #[arg(long, env = "LIVESTATE_WRITE_TIMEOUT", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(10..))]
    pub write_timeout: u32,

    /// Milliseconds a new socket has to send its request's headers (slow or silent sockets are
    /// closed after it).
    #[arg(long, env = "LIVESTATE_HEADER_TIMEOUT", default_value_t = 10_000)]
    pub header_timeout: u32,

    /// Sockets that may be sending their request's headers at once; beyond it the gateway
    /// accepts no more until one is done (logged), so idle or dribbling sockets cannot use up
    /// the file descriptors. With auth, upgraded sockets waiting for their token check may be
    /// `--max-connections` plus this many (503 beyond).
    #[arg(long, env = "LIVESTATE_MAX_PENDING", default_value_t = 256)]
    pub max_pending: usize,

    /// With a `"*"` feature in the registry: how many feature names beyond the listed ones the
    /// gateway keeps state for; new names past it are refused (`unknown_name`).
    #[arg(long, env = "LIVESTATE_MAX_FEATURES", default_value_t = 10_000)]
    pub max_features: usize,

    /// Milliseconds an API request may take, its body included (408 after).
    #[arg(long, env = "LIVESTATE_BODY_TIMEOUT", default_value_t = 10_000)]
    pub body_timeout: u32,

    /// Milliseconds the gateway gives itself to shut down (SIGTERM): every WebSocket is closed
    /// with 1001 and HTTP requests in flight finish; past this, whatever is left is dropped.
    #[arg(long, env = "LIVESTATE_DRAIN_TIMEOUT", default_value_t = 10_000)]
    pub drain_timeout: u32,

    /// Without auth: let browsers publish events with `publish` frames (off: only backends
    /// publish). With auth, the token's `publish` claim decides.
    #[arg(long, env = "LIVESTATE_CLIENT_PUBLISH")]
    pub client_publish: bool,

    /// Origins allowed to open WebSockets, comma-separated: exact (`https://app.example.com`),
    /// subdomain wildcard (`https://*.example.com`), any port (`http://localhost:*`) or `*`.
    /// Pages served by the gateway itself are always allowed. The default takes development
    /// servers on this machine (ng serve, Vite, ...) on any port; set your app's origins in
    /// production.
    #[arg(long, env = "WEBSOCKET_CORS_ORIGIN", default_value = "http://localhost:*,http://127.0.0.1:*")]
    pub cors_origin: String,

    /// Open WebSocket connections accepted; further upgrades get 503.
    #[arg(long, env = "WEBSOCKET_MAX_CONNECTIONS", default_value_t = 1000)]
    pub max_connections: usize,

    /// Connections one user (token `sub`) may hold; more are closed with 4004. Applies only
    /// with auth (anonymous connections are bounded by the max connections alone).
    #[arg(long, env = "LIVESTATE_MAX_CONNECTIONS_PER_USER", default_value_t = 10)]
    pub max_connections_per_user: usize,

    /// Messages per second a connection may send on average (token bucket); more close it with 4002.
    #[arg(long, env = "LIVESTATE_RATE_LIMIT", default_value_t = 20.0)]
    pub rate_limit: f64,

    /// Messages a connection may send in a burst.
    #[arg(long, env = "LIVESTATE_RATE_BURST", default_value_t = 60.0)]
    pub rate_burst: f64,

    /// HS256 secret for JWTs. With it (or a public key) every connection needs a valid token.
    #[arg(long, env = "LIVESTATE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Audience tokens must name in their `aud` claim (optional; off: `aud` is not checked).
    #[arg(long, env = "LIVESTATE_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Issuer tokens must name in their `iss` claim (optional; off: `iss` is not checked).
    #[arg(long, env = "LIVESTATE_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// PEM file with an RS256 public key for JWTs (optional, beside or instead of the secret).
    #[arg(long, env = "LIVESTATE_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,

    /// Milliseconds a new connection has to send its token before it is closed (4500).
    #[arg(long, env = "LIVESTATE_AUTH_TIMEOUT", default_value_t = 10_000)]
    pub auth_timeout: u32,

    /// Key backends must send (`Authorization: Bearer <key>` or `X-Api-Key`) to use /api.
    /// Without one, /api only answers callers on this machine (loopback).
    #[arg(long, env = "LIVESTATE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// With an API key: `/metrics` needs it too (off: anyone who reaches the port reads them).
    #[arg(long, env = "LIVESTATE_PROTECT_METRICS")]
    pub protect_metrics: bool,

    /// JSON file with the feature registry; default: the seed's rbac, users, products, orders.
    #[arg(long, env = "LIVESTATE_FEATURES_FILE")]
    pub features_file: Option<PathBuf>,

    /// Events kept per feature for recovery after a reconnect.
    #[arg(long, env = "LIVESTATE_HISTORY_SIZE", default_value_t = 1000)]
    pub history_size: usize,

    /// Seconds an event is kept for recovery.
    #[arg(long, env = "LIVESTATE_HISTORY_TTL", default_value_t = 300)]
    pub history_ttl: u64,

    /// Redis URL (`redis://host:6379/0`) to share every feature's stream among several gateway
    /// nodes; without it the gateway keeps streams in memory (one node).
    #[arg(long, env = "LIVESTATE_BROKER")]
    pub broker: Option<String>,

    /// With `--broker`: seconds a presence entry lives after its node last refreshed it (every
    /// quarter of this). The members of a node that dies leave within it.
    #[arg(long, env = "LIVESTATE_PRESENCE_TTL", default_value_t = 30)]
    pub presence_ttl: u64,

    /// Print the JSON Schema of the event message and exit.
    #[arg(long)]
    pub print_schema: bool,

    /// Serve this folder at `/` (the demo page).
    #[arg(long, env = "LIVESTATE_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// Serve this folder at `/pkg` (the wasm-pack output).
    #[arg(long, env = "LIVESTATE_PKG_DIR")]
    pub pkg_dir: Option<PathBuf>,

    /// Test-only: forward `relay` frames verbatim, so tests can send malformed frames.
    #[arg(long, hide = true)]
    pub test_relay_raw: bool,
}

impl Config {
    /// The settings with every default, as if no flag or variable were given.
    pub fn defaults() -> Self {
        Self::parse_from(["livestate-server"])
    }

    pub(crate) fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval.into())
    }

    pub(crate) fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.connection_timeout.into())
    }

    pub(crate) fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout.into())
    }

    pub(crate) fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout.into())
    }

    pub(crate) fn drain(&self) -> Duration {
        Duration::from_millis(self.drain_timeout.into())
    }

    pub(crate) fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout.into())
    }

    pub(crate) fn auth_timeout(&self) -> Duration {
        Duration::from_millis(self.auth_timeout.into())
    }
}
