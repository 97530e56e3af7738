//! The livestate gateway: browsers connect at `/ws`, backends publish at `/api/events`.
//!
//! # Layout
//! - [`Config`]: settings from the seed's environment variables and flags.
//! - [`Hub`]: subscriptions per feature and fan-out (serialise once, queue everywhere).
//! - `ws`: one handler per browser connection.
//! - `http`: the backend API and static files for the demo.
//!
//! [`serve`] runs the whole gateway on a listener until a shutdown future resolves; the
//! binary only parses flags and calls it, so tests run the same code on port 0.

#![warn(missing_docs, unreachable_pub)]

mod config;
mod http;
mod hub;
mod ws;

pub use config::Config;
pub use hub::{Hub, Publisher};

use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// State shared by every request and connection.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) config: Arc<Config>,
    pub(crate) hub: Hub,
    /// Flips to true once when the gateway shuts down; connection handlers watch it because
    /// axum's graceful shutdown does not wait for upgraded sockets.
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Serves the gateway on `listener` until `shutdown` resolves, then closes every WebSocket
/// with 1001 (clients reconnect elsewhere) and returns.
pub async fn serve(listener: TcpListener, config: Config, hub: Hub, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let state = AppState { config: Arc::new(config), hub, shutdown: stop_rx };
    let app = http::router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await
}
