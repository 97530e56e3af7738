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

    /// Let browsers publish events with `publish` frames (off: only backends publish).
    #[arg(long, env = "LIVESTATE_CLIENT_PUBLISH")]
    pub client_publish: bool,

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
}
