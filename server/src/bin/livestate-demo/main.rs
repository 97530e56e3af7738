//! `livestate-demo`: the gateway with an embedded demo backend on the same port. The backend
//! is what a real one would be: a REST API whose every change is emitted through the
//! [`EventService`], served beside the gateway with [`serve_with`].

mod activity;
mod api;
mod data;

use clap::Parser;
use livestate_server::{hub_with, registry_for, serve_with, shutdown_signal, Config, EventService, Hub, PresenceDef};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tower_http::services::{ServeDir, ServeFile};
use tracing_subscriber::EnvFilter;

/// The gateway's flags, plus the demo's own.
#[derive(Parser)]
#[command(name = "livestate-demo", about = "The livestate gateway with an in-memory demo backend (rbac, users, products, orders)")]
struct Args {
    #[command(flatten)]
    gateway: Config,
    /// Background changes per second (orders placed and moved along, stock changes); 0 for none.
    #[arg(long, env = "DEMO_ACTIVITY_RATE", default_value_t = 0.5)]
    activity_rate: f64,
    /// Seed of the background activity, so runs can be repeated.
    #[arg(long, env = "DEMO_SEED", default_value_t = 7)]
    seed: u64,
    /// A built Angular app to serve under /angular/ (www/angular's `ng build` output).
    #[arg(long, env = "DEMO_ANGULAR_DIR")]
    angular_dir: Option<PathBuf>,
}

/// What the demo's handlers share.
#[derive(Clone)]
pub(crate) struct Demo {
    db: Arc<Mutex<data::Db>>,
    events: EventService,
    hub: Hub,
    activity: Arc<activity::Activity>,
    /// Until when WebSocket upgrades are refused (the page's "simulate outage").
    outage_until: Arc<Mutex<Option<Instant>>>,
    ws_path: String,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "livestate_server=info,livestate_demo=info".into()))
        .init();
    let args = Args::parse();
    let config = args.gateway;
    let invalid = |e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    // The page shows who is online per feature: the built-in features keep presence here.
    let mut registry = registry_for(&config).map_err(invalid)?;
    if config.features_file.is_none() {
        registry = registry.with_presence("*", PresenceDef::default());
    }
    let hub = hub_with(&config, registry).map_err(invalid)?;
    let demo = Demo {
        db: Arc::new(Mutex::new(data::Db::seeded())),
        events: EventService::new(hub.clone()),
        hub: hub.clone(),
        activity: Arc::default(),
        outage_until: Arc::default(),
        ws_path: config.path.clone(),
    };
    demo.activity.set_rate(args.activity_rate.clamp(0.0, 1000.0));
    tokio::spawn(activity::run(demo.clone(), args.seed));

    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port)).await?;
    let addr = listener.local_addr()?;
    tracing::info!("livestate demo on http://{addr}/ (Angular example at /angular/, REST API at /demo/api)");
    let angular = args.angular_dir;
    serve_with(listener, config, hub, shutdown_signal(), move |gateway| {
        let mut app = gateway.merge(api::routes(demo.clone()));
        if let Some(dir) = angular {
            // A single-page app: unknown paths get its index.html.
            app = app.nest_service("/angular", ServeDir::new(&dir).fallback(ServeFile::new(dir.join("index.html"))));
        }
        app.layer(axum::middleware::from_fn_with_state(demo, api::refuse_during_outage))
    })
    .await
}
