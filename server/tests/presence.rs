//! Presence on one node: who is subscribed to a feature that keeps presence, with joins and
//! leaves, for subscribers allowed to see it; the registry's limits; the HTTP view.

mod common;

use common::*;
use serde_json::{json, Value};

async fn chat(limits: Value) -> Gateway {
    let path = presence_registry(limits);
    Gateway::start(move |c| c.features_file = Some(path)).await
}

#[tokio::test]
async fn a_subscriber_gets_the_members_before_subscribed_then_every_join_and_leave() {
    let gw = chat(json!(true)).await;
    let (mut ann, ann_id) = gw.client_and_id().await;
    let frames = subscribe_with(&mut ann, &["chat"], json!({"name": "Ann"})).await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0]["type"], "presence");
    assert_eq!(frames[0]["members"], json!([{"connectionId": ann_id, "userId": "anonymous", "info": {"name": "Ann"}}]));

    let (mut bob, bob_id) = gw.client_and_id().await;
    let frames = subscribe_with(&mut bob, &["chat"], Value::Null).await;
    assert_eq!(member_ids(&frames[0]), {
        let mut ids = vec![ann_id.clone(), bob_id.clone()];
        ids.sort();
        ids
    });
    let join = next_frame(&mut ann).await;
    assert_eq!(join, json!({"type": "join", "feature": "chat", "member": {"connectionId": bob_id, "userId": "anonymous"}}));

    send(&mut bob, json!({"type": "unsubscribe", "features": ["chat"]})).await;
    let leave = next_frame(&mut ann).await;
    assert_eq!((&leave["type"], &leave["member"]["connectionId"]), (&json!("leave"), &json!(bob_id)));

    // A disconnect is a leave too.
    let mut cid = gw.client().await;
    let frames = subscribe_with(&mut cid, &["chat"], Value::Null).await;
    let cid_id =
        frames[0]["members"].as_array().unwrap().iter().find(|m| m["connectionId"] != json!(ann_id)).unwrap()["connectionId"].clone();
    assert_eq!(next_frame(&mut ann).await["type"], "join");
    drop(cid);
    let leave = next_frame(&mut ann).await;
    assert_eq!((&leave["type"], &leave["member"]["connectionId"]), (&json!("leave"), &cid_id));
}

#[tokio::test]
async fn features_without_presence_and_tokens_without_permission_see_no_members() {
    let path = presence_registry(json!(true));
    let gw = Gateway::with_auth(move |c| c.features_file = Some(path)).await;
    let mut plain = gw.client_with_token(&token("ann", 60, json!({}))).await;
    let frames = subscribe_with(&mut plain, &["news", "chat"], Value::Null).await;
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["presence", "subscribed"], "news keeps no presence; chat does, and reading it allows seeing it");
    assert_eq!(frames[0]["feature"], "chat");

    let mut blind = gw.client_with_token(&token("bob", 60, json!({"presence": ["news"]}))).await;
    let frames = subscribe_with(&mut blind, &["chat"], Value::Null).await;
    assert_eq!(frames.len(), 1, "no presence frame without the permission: {frames:?}");
    // Bob is a member all the same: Ann sees him join, and nothing reaches Bob of it.
    let join = next_frame(&mut plain).await;
    assert_eq!((&join["type"], &join["member"]["userId"]), (&json!("join"), &json!("bob")));
    drop(plain);
    assert_nothing_pending(&mut blind).await;
}

#[tokio::test]
async fn a_full_presence_still_subscribes_and_an_oversized_info_refuses_with_a_clear_error() {
    let gw = chat(json!({"maxMembers": 1, "maxInfoBytes": 20})).await;
    let mut first = gw.client().await;
    subscribe_with(&mut first, &["chat"], Value::Null).await;
    let mut second = gw.client().await;
    let frames = subscribe_with(&mut second, &["chat"], Value::Null).await;
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["presence", "error", "subscribed"]);
    assert_eq!((&frames[1]["code"], &frames[1]["feature"]), (&json!("presence_full"), &json!("chat")));
    assert_eq!(frames[0]["members"].as_array().unwrap().len(), 1, "the second is not listed");
    assert!(gw.get("/metrics").await.contains(r#"livestate_drops_total{reason="presence_full"} 1"#));

    let mut big = gw.client().await;
    send(&mut big, json!({"type": "subscribe", "features": ["chat"], "info": {"name": "a name far too long to show"}})).await;
    let refusal = next_frame(&mut big).await;
    assert_eq!((&refusal["type"], &refusal["code"], &refusal["feature"]), (&json!("error"), &json!("too_big"), &json!("chat")));
    assert!(refusal["message"].as_str().unwrap().contains("at most 20"), "{refusal}");
    assert_eq!(gw.hub.feature_clients("chat").len(), 2, "the refused subscribe changed nothing");
    assert_nothing_pending(&mut first).await;
}

#[tokio::test]
async fn the_http_api_lists_a_features_members_and_names_features_without_presence() {
    let gw = chat(json!(true)).await;
    let (mut ws, id) = gw.client_and_id().await;
    subscribe_with(&mut ws, &["chat"], json!("Ann")).await;
    let (status, body) = gw.http("GET", "/api/features/chat/presence", &[], "").await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["members"], json!([{"connectionId": id, "userId": "anonymous", "info": "Ann"}]));
    let (status, body) = gw.http("GET", "/api/features/news/presence", &[], "").await;
    assert_eq!(status, 404);
    assert!(body.contains("presence"), "{body}");
}

#[tokio::test]
async fn a_refreshed_token_that_hides_the_presence_stops_the_joins_and_leaves() {
    let path = presence_registry(json!(true));
    let gw = Gateway::with_auth(move |c| c.features_file = Some(path)).await;
    let mut ann = gw.client_with_token(&token("ann", 60, json!({}))).await;
    subscribe_with(&mut ann, &["chat"], Value::Null).await;
    send(&mut ann, json!({"type": "auth", "token": token("ann", 60, json!({"presence": []}))})).await;
    assert_eq!(next_frame(&mut ann).await["type"], "authenticated");
    let mut bob = gw.client_with_token(&token("bob", 60, json!({}))).await;
    let frames = subscribe_with(&mut bob, &["chat"], Value::Null).await;
    assert_eq!(frames[0]["members"].as_array().unwrap().len(), 2, "Ann is still a member");
    send(&mut bob, json!({"type": "unsubscribe", "features": ["chat"]})).await;
    assert_eq!(next_frame(&mut bob).await["type"], "unsubscribed");
    // Bob's join and leave were queued to watchers before his replies: none reached Ann.
    assert_nothing_pending(&mut ann).await;
}
