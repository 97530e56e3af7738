//! Fan-out under pressure, targeting, the Rust API, metrics and the exported schema.

mod common;

use common::*;
use futures_util::StreamExt;
use livestate::protocol::{OutgoingEvent, Priority};
use livestate_server::EventService;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Publishes `n` events of about `size` bytes to `feature` in one HTTP batch.
async fn flood(gw: &Gateway, feature: &str, n: usize, size: usize, priority: &str) {
    let pad = "x".repeat(size);
    let events: Vec<Value> = (0..n)
        .map(|i| json!({"feature": feature, "entity": "product", "action": "updated", "priority": priority, "data": {"i": i, "pad": pad}}))
        .collect();
    // One event per request: a batch would be a single frame.
    for e in events {
        assert_eq!(gw.post(&e.to_string()).await.0, 202);
    }
}

#[tokio::test]
async fn a_slow_consumer_is_disconnected_without_delaying_anyone_else() {
    let gw = Gateway::start(|c| c.outbound_queue = 8).await;
    let mut stuck = gw.subscribed(&["products"]).await; // never reads from here on
    let mut fast = gw.subscribed(&["products"]).await;
    let reader = tokio::spawn(async move {
        let mut seen = 0;
        while seen < 400 {
            match tokio::time::timeout(Duration::from_secs(10), fast.next()).await.expect("the fast client is never held up") {
                Some(Ok(Message::Text(t))) if t.contains("\"event\"") => seen += 1,
                Some(Ok(_)) => {}
                other => panic!("fast client lost its connection: {other:?}"),
            }
        }
        seen
    });
    // 400 events of 64 KiB: far more than the stuck client's socket buffers and queue hold.
    flood(&gw, "products", 400, 64 * 1024, "normal").await;
    assert_eq!(reader.await.unwrap(), 400, "the fast client got every event");
    assert_eq!(close_code(&mut stuck).await, 4001, "the stuck client was closed as a slow consumer");
    assert!(gw.get("/metrics").await.contains(r#"livestate_drops_total{reason="slow_consumer"}"#));
}

#[tokio::test]
async fn a_client_falling_behind_loses_low_priority_events_first_and_is_told_it_has_a_gap() {
    let gw = Gateway::start(|c| c.outbound_queue = 8).await;
    let mut behind = gw.subscribed(&["products"]).await;
    flood(&gw, "products", 300, 64 * 1024, "low").await;
    // Now it reads: some events, then a gap report, and it is still connected.
    let mut events = 0;
    let gap = loop {
        match tokio::time::timeout(Duration::from_secs(10), behind.next()).await.unwrap().unwrap().unwrap() {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                match v["type"].as_str() {
                    Some("event") => events += 1,
                    Some("gap") => break v,
                    _ => {}
                }
            }
            Message::Close(c) => panic!("a client behind on low events must not be closed: {c:?}"),
            _ => {}
        }
    };
    assert_eq!(gap["features"], json!(["products"]));
    assert!(events < 300, "some low events were dropped ({events} delivered)");
    assert!(gw.get("/metrics").await.contains(r#"livestate_drops_total{reason="low_priority"}"#));
    // Still connected and usable: queued events drain, then the subscribe is answered.
    send(&mut behind, json!({"type": "subscribe", "features": ["orders"]})).await;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), behind.next()).await.unwrap().unwrap().unwrap() {
            Message::Text(t) if t.contains("\"subscribed\"") => break,
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn backends_can_target_one_connection_one_user_or_list_a_features_clients() {
    let gw = Gateway::with_auth(|_| {}).await;
    let mut a1 = gw.client_with_token(&token("alice", 600, json!({}))).await;
    let mut a2 = gw.client_with_token(&token("alice", 600, json!({}))).await;
    let mut b = gw.client_with_token(&token("bob", 600, json!({}))).await;
    subscribe(&mut b, &["rbac"]).await;

    let clients: Value = serde_json::from_str(&gw.get("/api/features/rbac/clients").await).unwrap();
    let ids = clients["clients"].as_array().unwrap().clone();
    assert_eq!(ids.len(), 1);
    let bob_id = ids[0].as_str().unwrap().to_string();

    let ev = backend_event("users", "session", "updated", json!({"note": "for alice"}));
    assert_eq!(gw.post_to("/api/users/alice/events", &ev).await, (202, json!({"delivered": 2})));
    for ws in [&mut a1, &mut a2] {
        assert_eq!(next_frame(ws).await["data"]["note"], "for alice");
    }
    let ev = backend_event("users", "session", "updated", json!({"note": "for bob"}));
    assert_eq!(gw.post_to(&format!("/api/clients/{bob_id}/events"), &ev).await, (202, json!({"delivered": 1})));
    assert_eq!(next_frame(&mut b).await["data"]["note"], "for bob");
    assert_eq!(gw.post_to("/api/clients/999999/events", &ev).await.0, 404);
    assert_nothing_pending(&mut a1).await;
}

#[tokio::test]
async fn the_rust_event_service_fills_in_meta_from_the_registry() {
    let gw = Gateway::start(|_| {}).await;
    let mut ws = gw.subscribed(&["rbac", "orders", "products"]).await;
    let events = EventService::new(gw.hub.clone());
    assert_eq!(events.emit_created("rbac", "role", json!({"id": "r1"})).unwrap(), 1);
    let got = next_frame(&mut ws).await;
    assert_eq!((got["action"].as_str(), got["meta"]["priority"].as_str()), (Some("created"), Some("high")));
    assert_eq!(got["meta"]["featureVersion"], "1.0");
    assert_eq!(got["meta"]["userId"], "system");

    events.emit_deleted("products", "product", "p9").unwrap();
    let got = next_frame(&mut ws).await;
    assert_eq!((got["data"].clone(), got["meta"]["priority"].as_str()), (json!({"id": "p9"}), Some("normal")));
    events.emit_assigned("rbac", "user_role", json!({"user": "u1"})).unwrap();
    assert_eq!(next_frame(&mut ws).await["action"], "assigned");
    events.emit_revoked("rbac", "user_role", json!({"user": "u1"})).unwrap();
    assert_eq!(next_frame(&mut ws).await["action"], "revoked");
    events.emit("orders", "payment", "completed", json!(1), Some(Priority::Critical)).unwrap();
    assert_eq!(next_frame(&mut ws).await["meta"]["priority"], "critical");

    let bad = events.emit("rbac", "role", "exploded", json!(1), None).unwrap_err();
    assert_eq!(bad.field, "action");
    let batch = vec![
        OutgoingEvent { feature: "orders".into(), entity: "order".into(), action: "paid".into(), data: json!(1), priority: None },
        OutgoingEvent { feature: "orders".into(), entity: "order".into(), action: "shipped".into(), data: json!(2), priority: None },
    ];
    assert_eq!(events.emit_batch(batch).unwrap(), 2);
    assert_eq!(next_frame(&mut ws).await["events"].as_array().unwrap().len(), 2);
    assert_eq!(events.feature_clients("rbac").len(), 1);
}

#[tokio::test]
async fn unknown_features_entities_and_actions_are_refused_naming_the_field() {
    let gw = Gateway::start(|_| {}).await;
    for (body, field) in [
        (backend_event("chat", "message", "created", json!(1)), "feature"),
        (backend_event("rbac", "message", "created", json!(1)), "entity"),
        (backend_event("rbac", "role", "exploded", json!(1)), "action"),
    ] {
        let (status, resp) = gw.post(&body).await;
        assert_eq!((status, resp["field"].as_str()), (422, Some(field)), "{resp}");
    }
    let mut ws = gw.client().await;
    send(&mut ws, json!({"type": "subscribe", "features": ["chat"]})).await;
    let err = next_frame(&mut ws).await;
    assert_eq!((err["code"].as_str(), err["feature"].as_str()), (Some("unknown_name"), Some("chat")));
    assert!(err["message"].as_str().unwrap().contains("rbac"), "the error lists the known features");
}

#[tokio::test]
async fn metrics_report_connections_subscriptions_events_and_drops() {
    let gw = Gateway::start(|_| {}).await;
    let mut ws = gw.subscribed(&["rbac"]).await;
    gw.post(&backend_event("rbac", "role", "created", json!(1))).await;
    next_frame(&mut ws).await;
    let m = gw.get("/metrics").await;
    for line in [
        "livestate_connections 1",
        "livestate_events_in_total 1",
        "livestate_events_out_total 1",
        r#"livestate_subscriptions{feature="rbac"} 1"#,
        r#"livestate_drops_total{reason="rate_limited"} 0"#,
        "livestate_auth_failures_total 0",
    ] {
        assert!(m.lines().any(|l| l == line), "missing {line:?} in:\n{m}");
    }
    assert_eq!(gw.get("/healthz").await, "ok");
}

#[tokio::test]
async fn the_seeds_example_messages_validate_against_the_exported_json_schema() {
    let gw = Gateway::start(|_| {}).await;
    let schema: Value = serde_json::from_str(&gw.get("/api/schema").await).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let meta = json!({"timestamp": "2025-09-13T10:00:00.000Z", "userId": "5f0c8f3e-8a8e-4a53-9a57-3f2b1f7d2a10",
                      "sessionId": "s-1", "featureVersion": "1.0", "priority": "normal"});
    // The seed's naming-convention examples, plus its test message.
    let examples = [
        "rbac.role.created",
        "rbac.role.updated",
        "rbac.permission.assigned",
        "users.user.created",
        "users.profile.updated",
        "products.product.created",
        "products.inventory.updated",
        "orders.order.created",
        "orders.payment.completed",
    ];
    for name in examples {
        let mut parts = name.split('.');
        let (f, e, a) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let msg = json!({"feature": f, "entity": e, "action": a, "data": {"id": "1", "name": "Test Role"}, "meta": meta});
        assert!(validator.is_valid(&msg), "{name} should validate");
        assert!(gw.hub.registry().check(f, e, a).is_ok(), "{name} should be in the built-in registry");
    }
    let mut bad = json!({"feature": "rbac", "entity": "role", "action": "created", "data": 1, "meta": meta});
    bad["meta"]["priority"] = json!("urgent");
    assert!(!validator.is_valid(&bad));
    assert!(!validator.is_valid(&json!({"feature": "rbac", "entity": "role", "data": 1, "meta": meta})), "action is required");
}

#[tokio::test]
async fn disconnect_all_closes_every_connection_with_going_away_and_new_ones_are_accepted() {
    let gw = Gateway::start(|_| {}).await;
    let mut a = gw.subscribed(&["rbac"]).await;
    let mut b = gw.subscribed(&["orders"]).await;
    gw.hub.disconnect_all();
    assert_eq!(close_code(&mut a).await, 1001);
    assert_eq!(close_code(&mut b).await, 1001);
    let mut c = gw.subscribed(&["rbac"]).await;
    gw.post(&backend_event("rbac", "role", "created", json!({"id": "r1"}))).await;
    assert_eq!(next_frame(&mut c).await["data"]["id"], "r1");
}
