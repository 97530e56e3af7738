//! `livestate-server`: parses flags, sets up logging and runs the gateway until Ctrl-C/SIGTERM.

use clap::Parser;
use livestate_server::{hub_for, message_schema, serve, shutdown_signal, Config};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "livestate_server=info".into())).init();
    let config = Config::parse();
    if config.print_schema {
        println!("{}", serde_json::to_string_pretty(&message_schema()).expect("schemas serialise"));
        return Ok(());
    }
    let hub = hub_for(&config).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port)).await?;
    tracing::info!("livestate gateway on http://{} (WebSocket at {})", listener.local_addr()?, config.path);
    serve(listener, config, hub, shutdown_signal()).await
}
