//! A table of malformed client frames. Each one gets a clear error frame, changes nothing,
//! and leaves the sender's connection and everyone else's working.

mod common;

use common::*;
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

fn deep(n: usize) -> String {
    format!(r#"{{"type":"publish","feature":"rbac","entity":"role","action":"created","data":{}1{}}}"#, "[".repeat(n), "]".repeat(n))
}

#[tokio::test]
async fn each_malformed_frame_gets_a_clear_error_and_affects_no_one() {
    let gw = Gateway::start(|c| {
        c.client_publish = true;
        c.rate_burst = 200.0;
    })
    .await;
    let mut sender = gw.subscribed(&["rbac"]).await;
    let mut bystander = gw.subscribed(&["rbac"]).await;

    let long = "a".repeat(60_000);
    let table: Vec<(String, &str)> = vec![
        ("not json".into(), "bad_frame"),
        ("".into(), "bad_frame"),
        ("{".into(), "bad_frame"),
        ("[]".into(), "bad_frame"),
        ("null".into(), "bad_frame"),
        ("42".into(), "bad_frame"),
        (r#""subscribe""#.into(), "bad_frame"),
        ("{}".into(), "bad_frame"),
        (r#"{"type":null}"#.into(), "bad_frame"),
        (r#"{"type":42}"#.into(), "bad_frame"),
        (r#"{"type":"nope"}"#.into(), "bad_frame"),
        (r#"{"type":"SUBSCRIBE","features":["rbac"]}"#.into(), "bad_frame"),
        (r#"{"type":"subscribe"}"#.into(), "bad_frame"),
        (r#"{"type":"subscribe","features":"rbac"}"#.into(), "bad_frame"),
        (r#"{"type":"subscribe","features":[1,2]}"#.into(), "bad_frame"),
        (r#"{"type":"subscribe","features":[null]}"#.into(), "bad_frame"),
        (r#"{"type":"subscribe","features":["rbac"],"extra":true}"#.into(), "bad_frame"),
        (r#"{"type":"subscribe","features":["Rbac"]}"#.into(), "bad_name"),
        (r#"{"type":"subscribe","features":["rbac.role"]}"#.into(), "bad_name"),
        (format!(r#"{{"type":"subscribe","features":["{}"]}}"#, "x".repeat(100)), "bad_name"),
        (r#"{"type":"subscribe","features":["nope"]}"#.into(), "unknown_name"),
        (r#"{"type":"unsubscribe","features":{}}"#.into(), "bad_frame"),
        (r#"{"type":"publish"}"#.into(), "bad_frame"),
        (r#"{"type":"publish","feature":"rbac","entity":"role","action":"created"}"#.into(), "bad_frame"),
        (r#"{"type":"publish","feature":123,"entity":"role","action":"created","data":1}"#.into(), "bad_frame"),
        (r#"{"type":"publish","feature":"rbac","entity":"role","action":"created","data":1,"priority":"urgent"}"#.into(), "bad_frame"),
        (
            r#"{"type":"publish","feature":"rbac","entity":"role","action":"created","data":1,"meta":{"userId":"admin"}}"#.into(),
            "bad_frame",
        ),
        (r#"{"type":"publish","feature":"rbac","entity":"role","action":"exploded","data":1}"#.into(), "unknown_name"),
        (r#"{"type":"publish","feature":"rbac","entity":"rolez","action":"created","data":1}"#.into(), "unknown_name"),
        (r#"{"type":"publish","feature":"chat","entity":"message","action":"created","data":1}"#.into(), "unknown_name"),
        (r#"{"type":"auth"}"#.into(), "bad_frame"),
        (r#"{"type":"auth","token":5}"#.into(), "bad_frame"),
        (r#"{"type":"pong","x":1}"#.into(), "bad_frame"),
        (r#"{"type":"relay","feature":"rbac","raw":"x"}"#.into(), "unknown_type"),
        (r#"{"type":"subscribe","features":["rbac"],"n":1e999}"#.into(), "bad_frame"),
        (r#"{"type":"subscribe","features":["rbac"],"n":123456789012345678901234567890}"#.into(), "bad_frame"),
        (deep(1000), "bad_frame"),
        ("\u{0}".into(), "bad_frame"),
        (format!(r#"{{"type":"{long}"}}"#), "bad_frame"),
        ("\u{feff}{\"type\":\"pong\"}".into(), "bad_frame"),
    ];
    assert!(table.len() >= 30);
    for (frame, code) in &table {
        sender.send(Message::Text(frame.clone().into())).await.unwrap();
        let reply = next_frame(&mut sender).await;
        let shown: String = frame.chars().take(80).collect();
        assert_eq!((reply["type"].as_str(), reply["code"].as_str()), (Some("error"), Some(*code)), "for {shown}");
        assert!(!reply["message"].as_str().unwrap_or_default().is_empty(), "for {shown}: the error explains itself");
    }
    // Binary frames are not part of the protocol either.
    sender.send(Message::Binary(vec![0, 159, 146, 150].into())).await.unwrap();
    assert_eq!(next_frame(&mut sender).await["code"], "bad_frame");

    // Nothing reached the bystander, and both connections still work.
    send(&mut sender, event("rbac", "role", "created", json!({"ok": true}))).await;
    for ws in [&mut sender, &mut bystander] {
        let got: Value = next_frame(ws).await;
        assert_eq!(got["data"], json!({"ok": true}), "the first thing delivered is the valid event");
    }
    assert!(gw.get("/metrics").await.contains("livestate_events_in_total 1"), "no malformed frame was published");
}
