//! HTTP routes: the WebSocket upgrade (Origin and capacity checked before it), the backend
//! API, operations endpoints and the demo's static files.

use crate::hub::{Delivery, Publisher, Reach};
use crate::metrics::Drop;
use crate::registry::Unknown;
use crate::ws::Handler;
use crate::AppState;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use livestate::protocol::OutgoingEvent;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tower_http::timeout::TimeoutLayer;

/// tungstenite's default 128 KiB read buffer costs ~90 KB per idle connection (it is zeroed,
/// so it is resident); 256 bytes hold what clients send most (pongs, a subscribe) and a bigger
/// frame is read in more steps. Measured at 10 000 subscribers: 4 KiB cost 30 MB of RSS more
/// than 1 KiB, and 1 KiB 7 MB more than 256 bytes, with the same deliveries/s.
const READ_BUFFER: usize = 256;
/// Replies, replays and pongs are written together up to this size (event frames bypass this
/// buffer: src/ws.rs). The buffer keeps its size once it has grown.
const WRITE_BUFFER: usize = 4 * 1024;
/// The most one connection's write buffer may hold: room for the largest event a backend can
/// publish (the 2 MB body limit) on top of a full batch.
const MAX_WRITE_BUFFER: usize = WRITE_BUFFER + 4 * 1024 * 1024;

pub(crate) fn router(state: AppState) -> Router {
    let mut app = Router::new()
        .route("/api/events", post(publish))
        .route("/api/clients/{id}/events", post(publish_to_client))
        .route("/api/users/{user}/events", post(publish_to_user))
        .route("/api/features/{feature}/clients", get(feature_clients))
        .route("/api/features/{feature}/presence", get(presence))
        .route("/api/schema", get(|| async { Json(crate::message_schema()) }))
        // A request whose body dribbles in cannot hold a handler (and shutdown) for long.
        .route_layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, state.config.body_timeout()))
        .route(&state.config.path, get(upgrade))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz));
    if let Some(dir) = &state.config.pkg_dir {
        app = app.nest_service("/pkg", crate::files::inside(dir));
    }
    if let Some(dir) = &state.config.static_dir {
        app = app.fallback_service(crate::files::inside(dir));
    }
    app.with_state(state)
}

#[derive(Deserialize)]
struct WsQuery {
    /// The seed's `?token=`; accepted, but the first-frame token is preferred. Never logged.
    token: Option<String>,
}

/// The WebSocket handshake (RFC 6455 4.2), done here rather than by axum's extractor: the
/// handler needs the upgraded connection itself, to write event frames straight to it.
async fn upgrade(State(state): State<AppState>, Query(q): Query<WsQuery>, mut request: Request) -> Response {
    let headers = request.headers();
    let header_str = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let has_token = |name, token: &str| header_str(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)));
    if !has_token(header::CONNECTION, "upgrade") || !has_token(header::UPGRADE, "websocket") {
        return (StatusCode::BAD_REQUEST, "a WebSocket handshake needs `Connection: upgrade` and `Upgrade: websocket`").into_response();
    }
    // RFC 6455 4.2.2: an unsupported (or missing) version gets 426 and the version we speak; a
    // key that is not 16 bytes in base64 is a bad request.
    if header_str(header::SEC_WEBSOCKET_VERSION).map(str::trim) != Some("13") {
        return (StatusCode::UPGRADE_REQUIRED, [(header::SEC_WEBSOCKET_VERSION, "13")], "this gateway speaks WebSocket version 13")
            .into_response();
    }
    let Some(key) = header_str(header::SEC_WEBSOCKET_KEY).filter(|k| valid_key(k)) else {
        return (StatusCode::BAD_REQUEST, "Sec-WebSocket-Key must be 16 bytes in base64").into_response();
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.trim().as_bytes());
    let origin = header_str(header::ORIGIN);
    if !state.origins.allows(origin, header_str(header::HOST)) {
        state.hub.metrics().drop(Drop::Origin);
        // Logged: the browser only tells the page "403", so this line is how a developer learns why.
        tracing::warn!(origin = origin.map(|o| o.escape_debug().to_string()), "refused a WebSocket from an origin not in --cors-origin");
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    // With auth, the socket waits for its token on a permit of its own and takes a slot once
    // the token is accepted; without auth it takes its slot now.
    let limit = if state.auth.is_some() { &state.unauthenticated } else { &state.slots };
    let Ok(permit) = limit.clone().try_acquire_owned() else {
        state.hub.metrics().drop(Drop::Full);
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    };
    let Some(on_upgrade) = request.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return (StatusCode::UPGRADE_REQUIRED, "this connection cannot be upgraded to a WebSocket").into_response();
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(state.config.max_message_size))
        // Bounded: a client that never reads (pongs owed to a ping flood, say) cannot make the
        // gateway buffer without limit; a full buffer ends the connection.
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_frame_size(Some(state.config.max_message_size));
    tokio::spawn(async move {
        // The permit is released if the client goes before the upgrade completes.
        let Ok(upgraded) = on_upgrade.await else { return };
        let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
        Handler::run(socket, state, q.token, permit).await;
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::SEC_WEBSOCKET_ACCEPT, HeaderValue::from_str(&accept).expect("base64 is a valid header value"));
    response
}

/// With an API key configured, callers must present it; without one, only this machine may call.
fn api_allowed(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> Result<(), Response> {
    match &state.config.api_key {
        Some(key) => {
            let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
            let plain = headers.get("x-api-key").and_then(|v| v.to_str().ok());
            if bearer.or(plain).is_some_and(|given| constant_time_eq(given.as_bytes(), key.as_bytes())) {
                Ok(())
            } else {
                Err(error(StatusCode::UNAUTHORIZED, "missing or wrong API key".into(), None))
            }
        }
        None if peer.ip().is_loopback() => Ok(()),
        None => Err(error(StatusCode::FORBIDDEN, "set LIVESTATE_API_KEY to accept publishers from other machines".into(), None)),
    }
}

/// A `Sec-WebSocket-Key`: 16 bytes in base64, which is 22 characters and `==`.
fn valid_key(key: &str) -> bool {
    let b = key.trim().as_bytes();
    b.len() == 24 && b[22..] == *b"==" && b[..22].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

/// API bodies are JSON: anything else is refused with 415 before it is read as JSON.
fn json_content(headers: &HeaderMap) -> Result<(), Response> {
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = kind.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send the events as Content-Type: application/json".into(), None))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parses one event or an array of them, naming the bad one.
fn parse_events(body: &[u8]) -> Result<(Vec<OutgoingEvent<Value>>, bool), Response> {
    let value: Value = serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}"), None))?;
    let (items, many) = match value {
        Value::Array(items) => (items, true),
        one => (vec![one], false),
    };
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match serde_json::from_value::<OutgoingEvent<Value>>(item) {
            Ok(ev) => events.push(ev),
            Err(e) => return Err(error(StatusCode::BAD_REQUEST, format!("event {i}: {e}"), None)),
        }
    }
    Ok((events, many))
}

fn unknown(i: Option<usize>, e: Unknown) -> Response {
    let message = match i {
        Some(i) => format!("event {i}: {}", e.message),
        None => e.message,
    };
    error(StatusCode::UNPROCESSABLE_ENTITY, message, Some(e.field))
}

/// `POST /api/events`: one event or an array; all are checked before any is published.
async fn publish(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = api_allowed(&state, &headers, peer).and_then(|_| json_content(&headers)) {
        return r;
    }
    let (events, _) = match parse_events(&body) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let accepted = events.len();
    if !state.hub.healthy() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the broker (Redis) is unreachable; nothing was published, retry later".into(),
            None,
        );
    }
    // 202 once every event is stored; with shared streams every node delivers, so the
    // number of deliveries is not known here.
    match state.hub.publish_confirmed(events, &Publisher::system(), std::time::Duration::from_secs(5)).await {
        Ok(Delivery::Local(delivered)) => {
            (StatusCode::ACCEPTED, Json(json!({ "accepted": accepted, "delivered": delivered }))).into_response()
        }
        Ok(Delivery::Shared) => (StatusCode::ACCEPTED, Json(json!({ "accepted": accepted, "delivered": null }))).into_response(),
        Ok(Delivery::Unconfirmed) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the broker (Redis) did not confirm within 5 s; the events may or may not be published".into(),
            None,
        ),
        Err((i, e)) => unknown(Some(i), e),
    }
}

/// The checks of the targeted routes: API access, then exactly one event.
fn api_event(state: &AppState, headers: &HeaderMap, peer: SocketAddr, body: &[u8]) -> Result<OutgoingEvent<Value>, Response> {
    api_allowed(state, headers, peer)?;
    json_content(headers)?;
    match parse_events(body)? {
        (mut events, false) => Ok(events.remove(0)),
        _ => Err(error(StatusCode::BAD_REQUEST, "send one event object here, not an array".into(), None)),
    }
}

/// `POST /api/clients/{id}/events`: one event to one connection.
async fn publish_to_client(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<u64>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let event = match api_event(&state, &headers, peer, &body) {
        Ok(e) => e,
        Err(r) => return r,
    };
    match state.hub.send_to_connection(id, event, &Publisher::system()) {
        Ok(Reach::Delivered(0)) => error(StatusCode::NOT_FOUND, format!("no connection {id}"), None),
        Ok(reach) => reached(reach),
        Err(e) => unknown(None, e),
    }
}

/// `POST /api/users/{user}/events`: one event to every connection of a user.
async fn publish_to_user(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(user): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let event = match api_event(&state, &headers, peer, &body) {
        Ok(e) => e,
        Err(r) => return r,
    };
    match state.hub.send_to_user(&user, event, &Publisher::system()) {
        Ok(reach) => reached(reach),
        Err(e) => unknown(None, e),
    }
}

/// 202 with how many connections got it: `null` when other nodes deliver too (through Redis),
/// since their count is not known here.
fn reached(reach: Reach) -> Response {
    let delivered = match reach {
        Reach::Delivered(n) => json!(n),
        Reach::Forwarded(_) => Value::Null,
    };
    (StatusCode::ACCEPTED, Json(json!({ "delivered": delivered }))).into_response()
}

/// `GET /api/features/{feature}/clients`: connection ids subscribed to the feature.
async fn feature_clients(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(feature): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = api_allowed(&state, &headers, peer) {
        return r;
    }
    let ids: Vec<String> = state.hub.feature_clients(&feature).iter().map(u64::to_string).collect();
    Json(json!({ "feature": feature, "clients": ids })).into_response()
}

/// `GET /api/features/{feature}/presence`: the feature's members on every node (with Redis).
async fn presence(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(feature): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = api_allowed(&state, &headers, peer) {
        return r;
    }
    if state.hub.registry().feature(&feature).ok().and_then(|d| d.presence).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            format!("{feature:?} keeps no presence (\"presence\" in the feature registry)"),
            Some("feature"),
        );
    }
    match state.hub.presence(&feature).await {
        Some(members) => Json(json!({ "feature": feature, "members": members })).into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "the broker (Redis) is unreachable; retry later".into(), None),
    }
}

/// 200 while the node can do its job; 503 while its broker (Redis) is unreachable, so a load
/// balancer sends new clients elsewhere (connected ones are kept).
async fn healthz(State(state): State<AppState>) -> Response {
    if state.hub.healthy() {
        "ok".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "broker (Redis) unreachable").into_response()
    }
}

async fn metrics(State(state): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap) -> Response {
    if state.config.protect_metrics && state.config.api_key.is_some() {
        if let Err(r) = api_allowed(&state, &headers, peer) {
            return r;
        }
    }
    let body = state.hub.metrics().render(&state.hub.subscription_counts(), state.hub.has_broker());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

fn error(status: StatusCode, message: String, field: Option<&str>) -> Response {
    (status, Json(json!({ "error": message, "field": field }))).into_response()
}
