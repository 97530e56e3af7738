//! The gateway's rules as a user meets them: origins, tokens, permissions and limits, each
//! against the real server on a loopback port.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_page_from_a_disallowed_origin_gets_403_before_any_websocket_exists() {
    let gw = Gateway::start(|c| c.cors_origin = "https://app.example.com,https://*.example.org".into()).await;
    assert_eq!(gw.open_with("", &[("Origin", "https://evil.test")]).await.err(), Some(403));
    assert_eq!(gw.open_with("", &[("Origin", "https://example.org")]).await.err(), Some(403));
    assert!(gw.open_with("", &[("Origin", "https://app.example.com")]).await.is_ok());
    assert!(gw.open_with("", &[("Origin", "https://eu.example.org")]).await.is_ok());
    let same = format!("http://{}", gw.addr);
    assert!(gw.open_with("", &[("Origin", same.as_str())]).await.is_ok(), "the gateway's own pages are allowed");
    assert!(gw.get("/metrics").await.contains(r#"livestate_drops_total{reason="origin"} 2"#));
}

#[tokio::test]
async fn the_default_origin_list_allows_local_dev_servers_on_any_port_and_nothing_else() {
    let gw = Gateway::start(|_| {}).await;
    // ng serve, Vite, and anything else a developer runs on this machine.
    for origin in ["http://localhost:4200", "http://localhost:5173", "http://127.0.0.1:5173", "http://localhost:8080"] {
        assert!(gw.open_with("", &[("Origin", origin)]).await.is_ok(), "{origin}");
    }
    for origin in ["https://evil.test", "http://localhost.evil.test:5173", "https://localhost:5173"] {
        assert_eq!(gw.open_with("", &[("Origin", origin)]).await.err(), Some(403), "{origin}");
    }
}

#[tokio::test]
async fn with_auth_a_valid_token_in_the_first_frame_is_welcomed_with_its_expiry() {
    let gw = Gateway::with_auth(|_| {}).await;
    let mut ws = gw.open().await;
    send(&mut ws, json!({"type": "auth", "token": token("u1", 600, json!({}))})).await;
    let welcome = next_frame(&mut ws).await;
    assert_eq!(welcome["type"], "welcome");
    let expires = welcome["tokenExpiresIn"].as_u64().unwrap();
    assert!((590_000..=600_000).contains(&expires), "{expires}");
}

#[tokio::test]
async fn the_seeds_query_string_token_is_accepted() {
    let gw = Gateway::with_auth(|_| {}).await;
    let mut ws = gw.open_with(&format!("?token={}", token("u1", 600, json!({}))), &[]).await.unwrap();
    assert_eq!(next_frame(&mut ws).await["type"], "welcome");
}

#[tokio::test]
async fn missing_expired_and_forged_tokens_are_closed_with_4500_and_counted() {
    let gw = Gateway::with_auth(|_| {}).await;
    let forged = {
        let t = token("u1", 600, json!({}));
        format!("{}x", &t[..t.len() - 1])
    };
    let cases = [
        (json!({"type": "subscribe", "features": ["rbac"]}), "token is required"),
        (json!({"type": "auth", "token": ""}), "token is required"),
        (json!({"type": "auth", "token": token("u1", -120, json!({}))}), "expired"),
        (json!({"type": "auth", "token": forged}), "invalid token"),
        (json!({"type": "auth", "token": "not.a.jwt"}), "invalid token"),
    ];
    for (first, why) in &cases {
        let mut ws = gw.open().await;
        send(&mut ws, first.clone()).await;
        let (code, reason) = closed(&mut ws).await;
        assert_eq!(code, 4500, "{first}");
        assert!(reason.contains(why), "{first}: {reason:?}");
        assert!(!reason.contains("eyJ"), "a close reason must never echo the token");
    }
    let mut ws = gw.open_with("?token=garbage", &[]).await.unwrap();
    assert_eq!(close_code(&mut ws).await, 4500);
    assert!(gw.get("/metrics").await.contains(&format!("livestate_auth_failures_total {}", cases.len() + 1)));
}

#[tokio::test]
async fn a_connection_that_never_authenticates_is_closed_after_the_auth_timeout() {
    let gw = Gateway::with_auth(|c| c.auth_timeout = 200).await;
    let mut ws = gw.open().await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!((code, reason.as_str()), (4500, "a token is required"));
}

#[tokio::test]
async fn a_token_that_expires_mid_connection_closes_it_unless_refreshed_in_band() {
    let gw = Gateway::with_auth(|c| c.heartbeat_interval = 100).await;
    let mut stale = gw.client_with_token(&token("u1", 1, json!({}))).await;
    let (code, reason) = closed(&mut stale).await;
    assert_eq!((code, reason.as_str()), (4500, "token expired"));

    let mut fresh = gw.client_with_token(&token("u1", 1, json!({}))).await;
    send(&mut fresh, json!({"type": "auth", "token": token("u1", 600, json!({}))})).await;
    let ack = next_frame(&mut fresh).await;
    assert_eq!(ack["type"], "authenticated");
    assert!(ack["tokenExpiresIn"].as_u64().unwrap() > 500_000);
    // Twenty heartbeats (two seconds) later, well past the first token's expiry, still open.
    let mut beats = 0;
    while beats < 20 {
        match tokio::time::timeout(Duration::from_secs(5), fresh.next()).await.unwrap().unwrap().unwrap() {
            Message::Text(t) if t.contains("heartbeat") => {
                beats += 1;
                send(&mut fresh, json!({"type": "pong"})).await;
            }
            other => panic!("connection should stay open, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_refresh_token_for_another_user_is_refused() {
    let gw = Gateway::with_auth(|_| {}).await;
    let mut ws = gw.client_with_token(&token("u1", 600, json!({}))).await;
    send(&mut ws, json!({"type": "auth", "token": token("u2", 600, json!({}))})).await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 4500);
    assert!(reason.contains("another user"));
}

#[tokio::test]
async fn a_forbidden_feature_gets_an_error_and_no_events_while_other_subscriptions_work() {
    let gw = Gateway::with_auth(|_| {}).await;
    let mut ws = gw.client_with_token(&token("u1", 600, json!({"features": ["users"]}))).await;
    send(&mut ws, json!({"type": "subscribe", "features": ["rbac", "users"]})).await;
    let refused = next_frame(&mut ws).await;
    assert_eq!((refused["code"].as_str(), refused["feature"].as_str()), (Some("forbidden"), Some("rbac")));
    assert_eq!(next_frame(&mut ws).await["features"], json!(["users"]));
    assert_eq!(gw.post(&backend_event("rbac", "role", "created", json!(1))).await.1["delivered"], 0);
    assert_eq!(gw.post(&backend_event("users", "user", "created", json!(2))).await.1["delivered"], 1);
    assert_eq!(next_frame(&mut ws).await["data"], 2);
}

#[tokio::test]
async fn publishing_from_a_browser_needs_a_publish_claim_for_that_feature() {
    let gw = Gateway::with_auth(|_| {}).await;
    let mut reader = gw.client_with_token(&token("u1", 600, json!({"publish": ["rbac"]}))).await;
    subscribe(&mut reader, &["rbac", "users"]).await;
    send(&mut reader, event("users", "user", "created", json!(1))).await;
    assert_eq!(next_frame(&mut reader).await["code"], "publish_forbidden");
    send(&mut reader, event("rbac", "role", "created", json!(2))).await;
    let got = next_frame(&mut reader).await;
    assert_eq!((got["data"].as_i64(), got["meta"]["userId"].as_str()), (Some(2), Some("u1")));
}

#[tokio::test]
async fn without_auth_browsers_may_not_publish_unless_the_gateway_allows_it() {
    let gw = Gateway::start(|_| {}).await;
    let mut a = gw.subscribed(&["rbac"]).await;
    send(&mut a, event("rbac", "role", "created", json!({}))).await;
    assert_eq!(next_frame(&mut a).await["code"], "publish_forbidden");
}

#[tokio::test]
async fn beyond_max_connections_the_upgrade_gets_503_until_a_slot_frees() {
    let gw = Gateway::start(|c| c.max_connections = 2).await;
    let mut a = gw.client().await;
    let _b = gw.client().await;
    assert_eq!(gw.open_with("", &[]).await.err(), Some(503));
    a.close(None).await.unwrap();
    // The gateway releases the slot before it drops the socket: once the stream ends, it is free.
    while let Some(Ok(_)) = a.next().await {}
    assert!(gw.open_with("", &[]).await.is_ok(), "the freed slot is usable");
}

#[tokio::test]
async fn one_user_may_hold_only_so_many_connections() {
    let gw = Gateway::with_auth(|c| c.max_connections_per_user = 2).await;
    let t = token("u1", 600, json!({}));
    let _a = gw.client_with_token(&t).await;
    let _b = gw.client_with_token(&t).await;
    let mut c = gw.open().await;
    send(&mut c, json!({"type": "auth", "token": t})).await;
    assert_eq!(close_code(&mut c).await, 4004);
    let _other_user = gw.client_with_token(&token("u2", 600, json!({}))).await;
}

#[tokio::test]
async fn without_auth_the_per_user_limit_does_not_cap_anonymous_connections() {
    let gw = Gateway::start(|c| c.max_connections_per_user = 2).await;
    let mut all = Vec::new();
    for _ in 0..5 {
        all.push(gw.client().await); // each is welcomed
    }
}

#[tokio::test]
async fn a_client_that_floods_the_gateway_is_closed_with_4002() {
    let gw = Gateway::start(|c| {
        c.rate_limit = 5.0;
        c.rate_burst = 10.0;
    })
    .await;
    let mut ws = gw.client().await;
    for _ in 0..50 {
        if ws.send(Message::Text(r#"{"type":"pong"}"#.into())).await.is_err() {
            break;
        }
    }
    assert_eq!(close_code(&mut ws).await, 4002);
}

#[tokio::test]
async fn an_oversized_message_is_closed_with_1009() {
    let gw = Gateway::start(|c| c.max_message_size = 1024).await;
    let mut ws = gw.client().await;
    let _ = ws.send(Message::Text(event("rbac", "role", "created", json!("x".repeat(2000))).to_string().into())).await;
    assert_eq!(close_code(&mut ws).await, 1009);
}

#[tokio::test]
async fn with_an_api_key_the_backend_api_needs_it() {
    let gw = Gateway::start(|c| c.api_key = Some("k3y".into())).await;
    let body = backend_event("rbac", "role", "created", json!(1));
    assert_eq!(gw.http("POST", "/api/events", &[], &body).await.0, 401);
    assert_eq!(gw.http("POST", "/api/events", &[("Authorization", "Bearer nope")], &body).await.0, 401);
    assert_eq!(gw.http("POST", "/api/events", &[("Authorization", "Bearer k3y")], &body).await.0, 202);
    assert_eq!(gw.http("POST", "/api/events", &[("X-Api-Key", "k3y")], &body).await.0, 202);
}

#[tokio::test]
async fn rs256_tokens_are_accepted_with_a_configured_public_key() {
    // A throw-away key pair made for this test only.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/keys");
    let gw = Gateway::start(|c| c.jwt_public_key = Some(dir.join("rs256-public.pem"))).await;
    let private = std::fs::read(dir.join("rs256-private.pem")).unwrap();
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600;
    let claims = json!({"sub": "svc", "exp": exp});
    let rs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(&private).unwrap(),
    )
    .unwrap();
    let _ok = gw.client_with_token(&rs).await;
    // An HS256 token is refused: no secret is configured, only the public key.
    let mut ws = gw.open().await;
    send(&mut ws, json!({"type": "auth", "token": token("svc", 600, json!({}))})).await;
    assert_eq!(close_code(&mut ws).await, 4500);
}
