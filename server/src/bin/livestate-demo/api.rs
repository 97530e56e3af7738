//! The demo's REST API under `/demo/api`: list, create, patch and delete per collection, each
//! change emitted through the EventService; plus the switches the demo page shows (fail or
//! slow down a request, simulate an outage, set the background activity rate).

use crate::data::{Db, Refused};
use crate::Demo;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use livestate_server::EventService;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub(crate) fn routes(demo: Demo) -> Router {
    Router::new()
        .route("/demo/api/{feature}/{entity}", get(list).post(create))
        .route("/demo/api/{feature}/{entity}/{id}", get(one).patch(update).delete(remove))
        .route("/demo/api/outage", post(outage))
        .route("/demo/api/activity", get(activity).put(set_activity))
        .with_state(demo)
}

/// While an outage is simulated, WebSocket upgrades get 503 like a gateway that is down; the
/// REST API stays up, so changes made meanwhile are what clients recover afterwards.
pub(crate) async fn refuse_during_outage(State(demo): State<Demo>, request: Request, next: Next) -> Response {
    let down = demo.outage_until.lock().unwrap_or_else(|e| e.into_inner()).is_some_and(|until| Instant::now() < until);
    if down && request.uri().path() == demo.ws_path {
        return (StatusCode::SERVICE_UNAVAILABLE, "the demo is simulating an outage").into_response();
    }
    next.run(request).await
}

fn refused(r: Refused) -> Response {
    let (status, message) = match r {
        Refused::NotFound(m) => (StatusCode::NOT_FOUND, m),
        Refused::Invalid(m) => (StatusCode::BAD_REQUEST, m),
        Refused::NotAllowed(m) => (StatusCode::METHOD_NOT_ALLOWED, m),
    };
    (status, Json(json!({ "error": message }))).into_response()
}

/// `x-demo-delay: <ms>` holds the request (so pending states are visible) and `x-demo-fail: 1`
/// then fails it, as a flaky backend would, after the delay and without changing anything.
async fn switches(headers: &HeaderMap) -> Result<(), Response> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = header("x-demo-delay").and_then(|v| v.parse::<u64>().ok()) {
        tokio::time::sleep(Duration::from_millis(ms.min(10_000))).await;
    }
    if header("x-demo-fail") == Some("1") {
        return Err(
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": "the demo backend was told to fail this request" }))).into_response()
        );
    }
    Ok(())
}

/// Applies one change under the data lock and emits its events before the lock is released,
/// so events leave in the order the data changed.
pub(crate) fn change<T>(demo: &Demo, f: impl FnOnce(&mut Db) -> Result<(T, Vec<crate::data::Event>), Refused>) -> Result<T, Refused> {
    let mut db = demo.db.lock().unwrap_or_else(|e| e.into_inner());
    let (out, events) = f(&mut db)?;
    emit(&demo.events, events);
    Ok(out)
}

fn emit(events: &EventService, list: Vec<crate::data::Event>) {
    for (feature, entity, action, data) in list {
        if let Err(e) = events.emit(feature, entity, action, data, None) {
            tracing::error!("demo event refused by the registry: {e}");
        }
    }
}

async fn list(State(demo): State<Demo>, Path((feature, entity)): Path<(String, String)>) -> Response {
    match demo.db.lock().unwrap_or_else(|e| e.into_inner()).list(&format!("{feature}.{entity}")) {
        Ok(items) => Json(items).into_response(),
        Err(r) => refused(r),
    }
}

async fn one(State(demo): State<Demo>, Path((feature, entity, id)): Path<(String, String, String)>) -> Response {
    match demo.db.lock().unwrap_or_else(|e| e.into_inner()).get(&format!("{feature}.{entity}"), &id) {
        Some(item) => Json(item.clone()).into_response(),
        None => refused(Refused::NotFound(format!("no {entity} {id:?}"))),
    }
}

async fn create(
    State(demo): State<Demo>,
    Path((feature, entity)): Path<(String, String)>,
    headers: HeaderMap,
    body: Json<Value>,
) -> Response {
    if let Err(r) = switches(&headers).await {
        return r;
    }
    match change(&demo, |db| db.create(&format!("{feature}.{entity}"), body.0)) {
        Ok(item) => (StatusCode::CREATED, Json(item)).into_response(),
        Err(r) => refused(r),
    }
}

async fn update(
    State(demo): State<Demo>,
    Path((feature, entity, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Json<Value>,
) -> Response {
    if let Err(r) = switches(&headers).await {
        return r;
    }
    match change(&demo, |db| db.update(&format!("{feature}.{entity}"), &id, body.0)) {
        Ok(item) => Json(item).into_response(),
        Err(r) => refused(r),
    }
}

async fn remove(State(demo): State<Demo>, Path((feature, entity, id)): Path<(String, String, String)>, headers: HeaderMap) -> Response {
    if let Err(r) = switches(&headers).await {
        return r;
    }
    match change(&demo, |db| db.delete(&format!("{feature}.{entity}"), &id).map(|events| ((), events))) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => refused(r),
    }
}

/// `POST {"ms": 3000}`: closes every WebSocket and refuses new ones for `ms` (at most 60 s).
async fn outage(State(demo): State<Demo>, body: Option<Json<Value>>) -> Response {
    let ms = body.and_then(|b| b.0["ms"].as_u64()).unwrap_or(3000).min(60_000);
    *demo.outage_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + Duration::from_millis(ms));
    demo.hub.disconnect_all();
    Json(json!({ "ms": ms })).into_response()
}

async fn activity(State(demo): State<Demo>) -> Response {
    Json(json!({ "rate": demo.activity.rate() })).into_response()
}

/// `PUT {"rate": 2}`: background changes per second (0 stops them, at most 1 000).
async fn set_activity(State(demo): State<Demo>, body: Json<Value>) -> Response {
    match body.0["rate"].as_f64() {
        Some(rate) if (0.0..=1000.0).contains(&rate) => {
            demo.activity.set_rate(rate);
            Json(json!({ "rate": rate })).into_response()
        }
        _ => refused(Refused::Invalid("rate must be a number from 0 to 1000 (changes per second)".into())),
    }
}
