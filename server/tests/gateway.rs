//! Gateway integration tests: the real server on a loopback port, driven by tokio-tungstenite.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_new_connection_is_welcomed_with_its_id_and_the_heartbeat_interval() {
    let gw = Gateway::start(|c| c.heartbeat_interval = 1234).await;
    let (mut ws, _) = connect_async(format!("ws://{}/ws", gw.addr)).await.unwrap();
    let welcome = next_frame(&mut ws).await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["heartbeat"], 1234);
    assert!(welcome["connectionId"].as_str().is_some_and(|s| !s.is_empty()));
}

#[tokio::test]
async fn an_event_published_by_a_client_reaches_every_subscriber_of_its_feature_and_no_one_else() {
    let gw = Gateway::start(|c| c.client_publish = true).await;
    let mut a = gw.subscribed(&["rbac"]).await;
    let mut b = gw.subscribed(&["rbac", "users"]).await;
    let mut c = gw.subscribed(&["users"]).await;

    send(&mut a, event("rbac", "role", "created", json!({"id": "r1", "name": "Admin"}))).await;
    for ws in [&mut a, &mut b] {
        let got = next_frame(ws).await;
        assert_eq!(got["type"], "event");
        assert_eq!(
            (got["feature"].as_str(), got["entity"].as_str(), got["action"].as_str()),
            (Some("rbac"), Some("role"), Some("created"))
        );
        assert_eq!(got["data"], json!({"id": "r1", "name": "Admin"}));
        assert_eq!(got["meta"]["priority"], "high", "rbac's default priority in the registry");
        assert_eq!(got["meta"]["featureVersion"], "1.0");
        assert!(got["meta"]["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    assert_nothing_pending(&mut c).await;
}

#[tokio::test]
async fn a_backend_publishes_over_http_and_learns_how_many_connections_got_it() {
    let gw = Gateway::start(|_| {}).await;
    let mut a = gw.subscribed(&["orders"]).await;
    let mut b = gw.subscribed(&["orders"]).await;
    let body = json!({"feature": "orders", "entity": "order", "action": "paid", "data": {"id": 7}, "priority": "high"});
    assert_eq!(gw.post(&body.to_string()).await, (202, json!({"accepted": 1, "delivered": 2})));
    for ws in [&mut a, &mut b] {
        let got = next_frame(ws).await;
        assert_eq!(got["data"], json!({"id": 7}));
        assert_eq!(got["meta"]["priority"], "high");
        assert_eq!(got["meta"]["userId"], "system");
    }
}

#[tokio::test]
async fn a_bulk_publish_arrives_as_one_batch_frame_per_feature_in_order() {
    let gw = Gateway::start(|_| {}).await;
    let mut a = gw.subscribed(&["products", "orders"]).await;
    let mut batch: Vec<Value> =
        (0..5).map(|i| json!({"feature": "products", "entity": "product", "action": "updated", "data": {"n": i}})).collect();
    batch.insert(2, json!({"feature": "orders", "entity": "order", "action": "paid", "data": {"n": 9}}));
    assert_eq!(gw.post(&Value::from(batch).to_string()).await, (202, json!({"accepted": 6, "delivered": 6})));
    let first = next_frame(&mut a).await;
    assert_eq!(first["type"], "batch");
    let ns: Vec<i64> = first["events"].as_array().unwrap().iter().map(|e| e["data"]["n"].as_i64().unwrap()).collect();
    assert_eq!(ns, [0, 1, 2, 3, 4]);
    assert_eq!(first["events"][0]["meta"]["userId"], "system");
    let second = next_frame(&mut a).await;
    assert_eq!((second["type"].as_str(), second["data"]["n"].as_i64()), (Some("event"), Some(9)), "a lone event stays a plain event");
}

#[tokio::test]
async fn bad_http_events_are_refused_with_the_field_named_and_nothing_is_published() {
    let gw = Gateway::start(|_| {}).await;
    let mut a = gw.subscribed(&["rbac"]).await;
    let good = json!({"feature": "rbac", "entity": "role", "action": "created", "data": {}});
    let bad = json!({"feature": "rbac", "entity": "Role!", "action": "created", "data": {}});
    let (status, body) = gw.post(&json!([good, bad]).to_string()).await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "entity");
    assert!(body["error"].as_str().unwrap().contains("event 1"));

    let (status, body) = gw.post("{not json").await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("not JSON"));
    let (status, body) = gw.post(r#"{"feature":"rbac","entity":"role","data":1}"#).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("action"), "{body}");
    assert_nothing_pending(&mut a).await;
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let gw = Gateway::start(|_| {}).await;
    let mut a = gw.subscribed(&["rbac"]).await;
    send(&mut a, json!({"type": "unsubscribe", "features": ["rbac"]})).await;
    assert_eq!(next_frame(&mut a).await["type"], "unsubscribed");
    let body = json!({"feature": "rbac", "entity": "role", "action": "created", "data": {}});
    assert_eq!(gw.post(&body.to_string()).await.1["delivered"], 0);
    assert_nothing_pending(&mut a).await;
}

#[tokio::test]
async fn malformed_frames_get_an_error_and_the_connection_keeps_working() {
    let gw = Gateway::start(|c| c.client_publish = true).await;
    let mut a = gw.subscribed(&["rbac"]).await;
    for bad in ["not json", "[]", r#"{"type":"nope"}"#, r#"{"type":"subscribe","features":"rbac"}"#] {
        a.send(Message::Text(bad.into())).await.unwrap();
        let got = next_frame(&mut a).await;
        assert_eq!((got["type"].as_str(), got["code"].as_str()), (Some("error"), Some("bad_frame")), "for {bad}");
    }
    send(&mut a, json!({"type": "subscribe", "features": ["Bad.Name", "users"]})).await;
    let got = next_frame(&mut a).await;
    assert_eq!((got["code"].as_str(), got["feature"].as_str()), (Some("bad_name"), Some("Bad.Name")));
    assert_eq!(next_frame(&mut a).await["features"], json!(["users"]), "the good name is still subscribed");
    send(&mut a, event("rbac", "role", "created", json!(1))).await;
    assert_eq!(next_frame(&mut a).await["data"], 1);
}

#[tokio::test]
async fn raw_relay_is_refused_unless_the_test_switch_is_on() {
    let gw = Gateway::start(|_| {}).await;
    let mut a = gw.subscribed(&["rbac"]).await;
    send(&mut a, json!({"type": "relay", "feature": "rbac", "raw": "garbage"})).await;
    assert_eq!(next_frame(&mut a).await["code"], "unknown_type");

    let gw = Gateway::start(|c| c.test_relay_raw = true).await;
    let mut a = gw.subscribed(&["rbac"]).await;
    send(&mut a, json!({"type": "relay", "feature": "rbac", "raw": "garbage"})).await;
    assert_eq!(a.next().await.unwrap().unwrap(), Message::Text("garbage".into()));
}

#[tokio::test]
async fn the_gateway_sends_heartbeats_and_closes_clients_that_stay_silent() {
    let gw = Gateway::start(|c| {
        c.heartbeat_interval = 100;
        c.connection_timeout = 350;
    })
    .await;
    let mut ws = gw.client().await;
    let mut heartbeats = 0;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap() {
            Message::Text(t) if t.contains("heartbeat") => heartbeats += 1,
            Message::Close(Some(f)) => break u16::from(f.code),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(heartbeats >= 2, "saw {heartbeats} heartbeats");
    assert_eq!(code, livestate::protocol::codes::IDLE_TIMEOUT);
}

#[tokio::test]
async fn clients_that_answer_heartbeats_stay_connected() {
    let gw = Gateway::start(|c| {
        c.heartbeat_interval = 100;
        c.connection_timeout = 350;
    })
    .await;
    let mut ws = gw.client().await;
    let mut answered = 0;
    while answered < 8 {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap() {
            Message::Text(t) if t.contains("heartbeat") => {
                send(&mut ws, json!({"type": "pong"})).await;
                answered += 1;
            }
            other => panic!("connection should stay open, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn shutting_down_closes_every_socket_with_going_away_so_clients_reconnect() {
    let mut gw = Gateway::start(|_| {}).await;
    let mut a = gw.client().await;
    gw.stop.take().unwrap().send(()).unwrap();
    assert_eq!(close_code(&mut a).await, u16::from(CloseCode::Away));
    tokio::time::timeout(Duration::from_secs(5), gw.task).await.unwrap().unwrap().unwrap();
}
