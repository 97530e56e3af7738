//! The livestate gateway: browsers connect at `/ws`, backends publish at `/api/events`.
//!
//! # Layout
//! - [`Config`]: settings from the seed's environment variables and flags.
//! - [`Registry`]: the features, entities and actions events may name.
//! - [`Hub`]: connections, subscriptions per feature, fan-out (serialise once, queue everywhere).
//! - `broker`: where each feature's stream (numbers, epoch, history) lives, owned by the hub:
//!   in memory, or with `--broker redis://…` in Redis, shared by nodes.
//! - [`EventService`]: the Rust API for backends (emit, batches, targeting).
//! - `auth` (JWT), `origin` (allow-list), `metrics` (Prometheus counters).
//! - `ws`: one handler per browser connection; `http`: the routes.
//!
//! [`serve`] runs the whole gateway on a listener until a shutdown future resolves; the
//! binary only parses flags and calls it, so tests run the same code on port 0.

#![warn(missing_docs, unreachable_pub)]

mod auth;
mod broker;
mod config;
mod files;
mod guard;
mod http;
mod hub;
mod metrics;
mod origin;
mod outbox;
mod presence;
mod registry;
mod service;
mod ws;

pub use auth::{AuthError, Identity};
pub use broker::History;
pub use config::Config;
pub use hub::{Hub, Publisher, Reach};
pub use registry::{FeatureDef, PresenceDef, Registry, Unknown};
pub use service::EventService;

use axum::serve::ListenerExt;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// State shared by every request and connection: one pointer, cloned by every request and
/// kept by every connection (a copy of the fields cost about 300 bytes per connection, and
/// allocations for the origin rules and the token keys).
#[derive(Clone)]
pub(crate) struct AppState(Arc<State>);

impl std::ops::Deref for AppState {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

pub(crate) struct State {
    pub(crate) config: Arc<Config>,
    pub(crate) hub: Hub,
    pub(crate) auth: Option<auth::Auth>,
    pub(crate) origins: origin::Origins,
    /// One permit per open WebSocket (WEBSOCKET_MAX_CONNECTIONS).
    pub(crate) slots: Arc<Semaphore>,
    /// With auth: one permit per socket still authenticating (`--max-connections` plus
    /// `--max-pending` of them). Such a
    /// socket takes a slot only once its token is accepted, so sockets that never authenticate
    /// cannot lock valid users out.
    pub(crate) unauthenticated: Arc<Semaphore>,
    /// Flips to true once when the gateway shuts down; connection handlers watch it because
    /// axum's graceful shutdown does not wait for upgraded sockets.
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Serves the gateway on `listener` until `shutdown` resolves, then closes every WebSocket
/// with 1001 (clients reconnect elsewhere), lets HTTP requests in flight finish, and returns
/// once all of that is done or the drain timeout has passed. Fails early on bad settings (a
/// bad origin pattern or key file), with a message naming the setting.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    hub: Hub,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, config, hub, shutdown, |gateway| gateway).await
}

/// [`serve`], with the gateway's routes handed to `extend` first, so an axum backend can serve
/// its own API (and middleware) on the same port: merge routes into the router it gets and
/// return it. The demo backend (`livestate-demo`) is built this way.
pub async fn serve_with(
    listener: TcpListener,
    config: Config,
    hub: Hub,
    shutdown: impl Future<Output = ()> + Send + 'static,
    extend: impl FnOnce(axum::Router) -> axum::Router,
) -> std::io::Result<()> {
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let public_key = match &config.jwt_public_key {
        Some(path) => Some(std::fs::read(path).map_err(|e| invalid(format!("{}: {e}", path.display())))?),
        None => None,
    };
    let auth =
        auth::Auth::new(config.jwt_secret.as_deref(), public_key.as_deref(), config.jwt_audience.as_deref(), config.jwt_issuer.as_deref())
            .map_err(invalid)?;
    let origins = origin::Origins::parse(&config.cors_origin).map_err(invalid)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut stopping = stop_rx.clone();
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let (drain, all) = (config.drain(), u32::try_from(config.max_connections).unwrap_or(u32::MAX));
    let listener = guard::Guarded::new(listener, config.max_pending.max(1), config.header_timeout()).tap_io(|_| {});
    // More places than slots: sockets that never authenticate must outnumber the gateway's
    // whole capacity before a valid user waits, and each leaves after the auth timeout.
    let unauthenticated = Arc::new(Semaphore::new(config.max_connections + config.max_pending.max(1)));
    let state =
        AppState(Arc::new(State { config: Arc::new(config), hub: hub.clone(), auth, origins, slots: slots.clone(), unauthenticated, shutdown: stop_rx }));
    let app = extend(http::router(state));
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        ended = &mut server => return ended,
        _ = stopping.wait_for(|stop| *stop) => {}
    }
    // Draining: axum's graceful shutdown waits for HTTP requests, not for upgraded sockets, so
    // the WebSocket handlers are waited for through their slots (each closes with 1001 and
    // gives its slot back). A request that never finishes cannot hold the exit past `drain`.
    // The sockets' presence leaves then reach Redis before the process exits.
    let sockets = async {
        let _ = slots.acquire_many(all).await;
        hub.broker().flush().await;
    };
    let (ended, _) = match tokio::time::timeout(drain, async { tokio::join!(&mut server, sockets) }).await {
        Ok(done) => done,
        Err(_) => {
            tracing::warn!(after_ms = drain.as_millis() as u64, "shutdown: drain timeout; dropping what is left");
            (Ok(()), ())
        }
    };
    ended
}

/// Builds the hub for a configuration: the registry from its file, or the built-in one, and
/// Redis when `--broker` is set (call it inside a Tokio runtime then).
pub fn hub_for(config: &Config) -> Result<Hub, String> {
    hub_with(config, registry_for(config)?)
}

/// The configuration's registry: from `--features-file`, or the built-in one.
pub fn registry_for(config: &Config) -> Result<Registry, String> {
    Ok(match &config.features_file {
        Some(path) => Registry::load(path)?,
        None => Registry::default(),
    }
    .with_max_dynamic(config.max_features))
}

/// [`hub_for`] with a registry built by the caller (a gateway in Rust, or the demo's).
pub fn hub_with(config: &Config, registry: Registry) -> Result<Hub, String> {
    let history = History { size: config.history_size, ttl: std::time::Duration::from_secs(config.history_ttl) };
    match &config.broker {
        Some(url) => Hub::with_redis(registry, history, url, std::time::Duration::from_secs(config.presence_ttl)),
        None => Ok(Hub::new(registry, history)),
    }
}

/// Decodes one client text frame as the gateway does (exposed for the fuzz targets).
pub fn parse_client_frame(text: &str) -> Result<livestate::protocol::ClientFrame<serde_json::Value>, String> {
    serde_json::from_str(text).map_err(|e| format!("invalid frame: {e}"))
}

/// The JSON Schema of an event message (the seed's `WebSocketMessage`), generated from the
/// Rust types so other backends (Fastify/TypeBox, ...) validate exactly what the gateway sends.
pub fn message_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(livestate::protocol::WebSocketMessage<serde_json::Value>);
    serde_json::to_value(schema).expect("schemas serialise")
}

/// Resolves on Ctrl-C or SIGTERM: the shutdown future the binaries pass to [`serve`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
