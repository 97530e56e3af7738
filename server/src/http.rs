//! HTTP routes: the WebSocket upgrade, the backend publish API and the demo's static files.

use crate::hub::Publisher;
use crate::ws::Handler;
use crate::AppState;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use livestate::protocol::OutgoingEvent;
use serde_json::{json, Value};
use tower_http::services::ServeDir;

/// tungstenite's default 128 KiB read buffer costs ~90 KB per idle connection; 4 KiB holds
/// any ordinary frame and grows when a bigger one arrives.
const READ_BUFFER: usize = 4 * 1024;

pub(crate) fn router(state: AppState) -> Router {
    let mut app = Router::new()
        .route(&state.config.path, get(upgrade))
        .route("/api/events", post(publish))
        .route("/healthz", get(|| async { "ok" }));
    if let Some(dir) = &state.config.pkg_dir {
        app = app.nest_service("/pkg", ServeDir::new(dir));
    }
    if let Some(dir) = &state.config.static_dir {
        app = app.fallback_service(ServeDir::new(dir));
    }
    app.with_state(state)
}

async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(state.config.max_message_size)
        .max_frame_size(state.config.max_message_size)
        .on_upgrade(move |socket| Handler::run(socket, state))
}

/// `POST /api/events`: one event object or an array of them. All are validated before any is
/// published, so a bad batch publishes nothing.
async fn publish(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("body is not JSON: {e}"), None),
    };
    let items = match value {
        Value::Array(items) => items,
        one => vec![one],
    };
    let accepted = items.len();
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match serde_json::from_value::<OutgoingEvent<Value>>(item) {
            Ok(ev) => events.push(ev),
            Err(e) => return bad_request(format!("event {i}: {e}"), None),
        }
    }
    match state.hub.publish_batch(events, &Publisher::system()) {
        Ok(delivered) => (StatusCode::ACCEPTED, Json(json!({ "accepted": accepted, "delivered": delivered }))).into_response(),
        Err((i, e)) => bad_request(format!("event {i}: {e}"), Some(e.field)),
    }
}

fn bad_request(message: String, field: Option<&str>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message, "field": field }))).into_response()
}
