//! Clients that do not play by the rules (issue 13): each must be closed, with the documented
//! code, before it can take the gateway's memory or its slots.

mod common;

use common::*;
use futures_util::SinkExt;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// Polls /metrics until `line` appears, or fails after `secs` seconds with what it saw.
async fn metrics_reach(gw: &Gateway, line: &str, secs: u64) {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let metrics = gw.get("/metrics").await;
        if metrics.lines().any(|l| l == line) {
            return;
        }
        assert!(Instant::now() < until, "no `{line}` within {secs} s:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_as_a_slow_consumer_before_its_queue_is_full() {
    // A queue too long to overflow here: only a stalled write can reveal the client.
    let gw = Gateway::start(|c| {
        c.write_timeout = 300;
        c.outbound_queue = 100_000;
    })
    .await;
    let _reader = gw.subscribed(&["rbac"]).await; // and never reads again
    let big = "x".repeat(40_000);
    // 16 MB: more than the kernel buffers of both ends of a loopback socket hold.
    for i in 0..400 {
        let (status, _) = gw.post(&backend_event("rbac", "role", "updated", json!({"id": i, "blob": big}))).await;
        assert_eq!(status, 202);
    }
    metrics_reach(&gw, "livestate_connections 0", 10).await;
    metrics_reach(&gw, r#"livestate_drops_total{reason="slow_consumer"} 1"#, 1).await;
}

#[tokio::test]
async fn clients_that_stop_reading_hold_up_no_one_elses_events() {
    // Connections take turns to write (server/src/outbox.rs), 16 per core at a time: more
    // stalled clients than that, all blocked in a write for the whole test.
    let stalled_count = 16 * std::thread::available_parallelism().map_or(1, |n| n.get()) + 8;
    let gw = Gateway::start(|c| {
        c.write_timeout = 60_000;
        c.outbound_queue = 100_000;
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..stalled_count {
        stalled.push(gw.subscribed(&["rbac"]).await); // and never read again
    }
    let mut reader = gw.subscribed(&["rbac"]).await;
    const EVENTS: usize = 150;
    let reading = tokio::spawn(async move {
        for i in 0..EVENTS {
            let frame = next_frame(&mut reader).await;
            assert_eq!(frame["data"]["id"], i, "in order, none lost");
        }
    });
    // 6 MB: enough to fill the kernel buffers of a loopback socket whose client does not read.
    let big = "x".repeat(40_000);
    for i in 0..EVENTS {
        let (status, _) = gw.post(&backend_event("rbac", "role", "updated", json!({"id": i, "blob": big}))).await;
        assert_eq!(status, 202);
    }
    // Well within the 60 s the stalled writes may take: the reader is not waiting on them.
    tokio::time::timeout(Duration::from_secs(10), reading).await.expect("the reader got every event within 10 s").unwrap();
    drop(stalled);
}

#[tokio::test]
async fn pings_and_binary_frames_count_against_the_rate_limit() {
    let gw = Gateway::start(|c| {
        c.rate_limit = 5.0;
        c.rate_burst = 10.0;
    })
    .await;
    for flood in [Message::Ping(Bytes::from_static(b"p")), Message::Binary(Bytes::from_static(b"b"))] {
        let mut ws = gw.client().await;
        for _ in 0..50 {
            if ws.send(flood.clone()).await.is_err() {
                break;
            }
        }
        assert_eq!(close_code(&mut ws).await, 4002, "{flood:?}");
    }
}

#[tokio::test]
async fn a_ping_flood_that_never_reads_its_pongs_is_closed_and_its_memory_freed() {
    let gw = Gateway::start(|c| c.write_timeout = 300).await;
    let mut ws = gw.client().await;
    let payload = Bytes::from(vec![0u8; 100]);
    let started = Instant::now();
    // Without reading: the pongs can only pile up on the gateway's side.
    while started.elapsed() < Duration::from_secs(2) {
        if ws.send(Message::Ping(payload.clone())).await.is_err() {
            break;
        }
    }
    metrics_reach(&gw, "livestate_connections 0", 5).await;
}

#[tokio::test]
async fn a_subscribe_naming_one_feature_many_times_replays_it_once_in_bounded_frames() {
    let gw = Gateway::start(|_| {}).await;
    let pad = "x".repeat(30_000);
    for n in 1..=20 {
        gw.post(&backend_event("rbac", "role", "updated", json!({"n": n, "pad": pad}))).await;
    }
    let mut ws = gw.client().await;
    let features = vec!["rbac"; 2000];
    send(&mut ws, json!({"type": "subscribe", "features": features, "positions": {"rbac": {"epoch": gw.hub.epoch(), "seq": 0}}})).await;
    let mut replayed = Vec::new();
    loop {
        let frame = next_frame(&mut ws).await;
        match frame["type"].as_str() {
            Some("batch") => {
                assert!(frame.to_string().len() < 300_000, "a replay goes out in frames of about 256 KiB at most");
                replayed.extend(frame["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()));
            }
            Some("subscribed") => {
                assert_eq!(frame["features"], json!(["rbac"]));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(replayed, (1..=20).collect::<Vec<u64>>(), "every missed event, once");
    assert_nothing_pending(&mut ws).await;
}

use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// The close frame the gateway answers with, after the client sent `msg`.
async fn answer_to(gw: &Gateway, msg: Message) -> (u16, String) {
    let mut ws = gw.client().await;
    ws.send(msg).await.unwrap();
    closed(&mut ws).await
}

#[tokio::test]
async fn the_clients_close_frame_is_answered_and_an_invalid_close_code_gets_1002() {
    let gw = Gateway::start(|_| {}).await;
    let bye = CloseFrame { code: CloseCode::Normal, reason: "bye".into() };
    assert_eq!(answer_to(&gw, Message::Close(Some(bye))).await.0, 1000);
    let bad = CloseFrame { code: CloseCode::from(999), reason: "".into() };
    assert_eq!(answer_to(&gw, Message::Close(Some(bad))).await.0, 1002);
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_is_closed_with_1007() {
    let gw = Gateway::start(|_| {}).await;
    let frame = Frame::message(vec![0x7b, 0xff, 0xfe, 0x7d], OpCode::Data(Data::Text), true);
    assert_eq!(answer_to(&gw, Message::Frame(frame)).await.0, 1007);
}

#[tokio::test]
async fn an_oversized_auth_frame_is_closed_with_1009() {
    let gw = Gateway::with_auth(|c| c.max_message_size = 1024).await;
    let mut ws = gw.open().await;
    send(&mut ws, json!({"type": "auth", "token": "x".repeat(2000)})).await;
    assert_eq!(close_code(&mut ws).await, 1009);
}

#[tokio::test]
async fn a_malformed_token_gets_a_close_reason_that_fits_a_close_frame_without_control_characters() {
    use base64::Engine;
    let gw = Gateway::with_auth(|_| {}).await;
    let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let alg = format!("HS256\u{7}\u{1b}[31m{}", "A".repeat(200));
    let header = b64(&json!({"alg": alg, "typ": "JWT"}).to_string());
    let mut ws = gw.open().await;
    send(&mut ws, json!({"type": "auth", "token": format!("{header}.{}.c2ln", b64("{}"))})).await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 4500);
    assert!(reason.len() <= 123, "{} bytes: {reason:?}", reason.len());
    assert!(!reason.chars().any(char::is_control), "{reason:?}");
}

#[tokio::test]
async fn a_token_not_valid_yet_is_refused_and_audience_and_issuer_are_checked_when_configured() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let gw = Gateway::with_auth(|_| {}).await;
    let mut ws = gw.open().await;
    send(&mut ws, json!({"type": "auth", "token": token("u1", 7200, json!({"nbf": now + 3600}))})).await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 4500);
    assert!(reason.contains("not valid yet"), "{reason}");

    let gw = Gateway::with_auth(|c| {
        c.jwt_audience = Some("app".into());
        c.jwt_issuer = Some("idp".into());
    })
    .await;
    for claims in [json!({}), json!({"aud": "other", "iss": "idp"}), json!({"aud": "app", "iss": "other"})] {
        let mut ws = gw.open().await;
        send(&mut ws, json!({"type": "auth", "token": token("u1", 600, claims.clone())})).await;
        assert_eq!(close_code(&mut ws).await, 4500, "{claims}");
    }
    let _welcomed = gw.client_with_token(&token("u1", 600, json!({"aud": "app", "iss": "idp"}))).await;
}

/// A raw HTTP/1.1 request, headers exactly as given: (status, headers and body).
async fn raw_http(gw: &Gateway, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    // Up to the end of the headers (a 101 keeps the connection open), or the whole response.
    let mut resp = Vec::new();
    let mut buf = [0u8; 4096];
    while !resp.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => resp.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let resp = String::from_utf8_lossy(&resp).into_owned();
    (resp[9..12].parse().unwrap(), resp)
}

fn upgrade_request(version: &str, key: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: {version}\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    )
}

#[tokio::test]
async fn a_handshake_with_another_version_gets_426_a_malformed_key_or_no_upgrade_400_and_a_good_one_the_rfc_accept() {
    let gw = Gateway::start(|_| {}).await;
    let (status, resp) = raw_http(&gw, &upgrade_request("8", "dGhlIHNhbXBsZSBub25jZQ==")).await;
    assert_eq!(status, 426);
    assert!(resp.to_ascii_lowercase().contains("sec-websocket-version: 13"), "{resp}");
    assert_eq!(raw_http(&gw, &upgrade_request("13", "not-base64!")).await.0, 400);
    let (status, resp) = raw_http(&gw, &upgrade_request("13", "dGhlIHNhbXBsZSBub25jZQ==")).await;
    assert_eq!(status, 101);
    // The example of RFC 6455 1.3.
    assert!(resp.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{resp}");
    let no_upgrade = upgrade_request("13", "dGhlIHNhbXBsZSBub25jZQ==").replace("Upgrade: websocket\r\n", "");
    assert_eq!(raw_http(&gw, &no_upgrade).await.0, 400);
}

#[tokio::test]
async fn the_events_api_takes_json_only_and_metrics_can_require_the_api_key() {
    let gw = Gateway::start(|c| {
        c.api_key = Some("k3y".into());
        c.protect_metrics = true;
    })
    .await;
    let body = backend_event("rbac", "role", "created", json!({"id": 1}));
    let post = |kind: &str| {
        format!(
            "POST /api/events HTTP/1.1\r\nHost: x\r\nX-Api-Key: k3y\r\n{kind}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    assert_eq!(raw_http(&gw, &post("Content-Type: text/plain\r\n")).await.0, 415);
    assert_eq!(raw_http(&gw, &post("")).await.0, 415);
    assert_eq!(raw_http(&gw, &post("Content-Type: application/json; charset=utf-8\r\n")).await.0, 202);
    assert_eq!(gw.http("GET", "/metrics", &[], "").await.0, 401);
    let (status, metrics) = gw.http("GET", "/metrics", &[("X-Api-Key", "k3y")], "").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("livestate_connections"));
}

#[tokio::test]
async fn an_empty_subscribe_is_acknowledged_and_an_upper_case_name_is_a_bad_name() {
    let gw = Gateway::start(|c| c.client_publish = true).await;
    let mut ws = gw.client().await;
    send(&mut ws, json!({"type": "subscribe", "features": []})).await;
    let ack = next_frame(&mut ws).await;
    assert_eq!((ack["type"].as_str(), &ack["features"]), (Some("subscribed"), &json!([])));
    send(&mut ws, json!({"type": "subscribe", "features": ["RBAC"]})).await;
    let refused = next_frame(&mut ws).await;
    assert_eq!(refused["code"], "bad_name", "{refused}");
    send(&mut ws, json!({"type": "publish", "feature": "rbac", "entity": "Role", "action": "created", "data": 1})).await;
    assert_eq!(next_frame(&mut ws).await["code"], "bad_name");
}

#[tokio::test]
async fn on_shutdown_every_client_gets_1001_before_serve_returns_and_a_stuck_request_cannot_hold_it() {
    use tokio::io::AsyncWriteExt;
    let mut gw = Gateway::start(|c| c.drain_timeout = 1_000).await;
    let mut clients = Vec::new();
    for _ in 0..100 {
        clients.push(gw.client().await);
    }
    // A request whose body never comes: before, it kept the gateway alive for ever.
    let mut stuck = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    stuck
        .write_all(b"POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await; // the request reaches the gateway (no event to await)
    let started = Instant::now();
    gw.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), &mut gw.task).await.expect("serve returns within the drain time").unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // Every handler had finished when serve returned: a process exiting now loses no close.
    assert!(gw.hub.connection_ids().is_empty(), "connections still open when serve returned");
    for ws in &mut clients {
        assert_eq!(close_code(ws).await, 1001);
    }
}

#[tokio::test]
async fn silent_sockets_are_closed_after_the_header_timeout_and_cannot_lock_clients_out() {
    use tokio::io::AsyncReadExt;
    let gw = Gateway::start(|c| {
        c.header_timeout = 300;
        c.max_pending = 5;
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(tokio::net::TcpStream::connect(gw.addr).await.unwrap());
    }
    // Each says nothing: the gateway closes it (EOF) soon after the header timeout.
    for tcp in &mut idle {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "an idle socket is closed: {read:?}");
    }
    // And a real client gets in afterwards.
    let _ok = gw.client().await;
}

#[tokio::test]
async fn a_burst_of_sockets_beyond_max_pending_waits_its_turn_instead_of_being_refused() {
    let gw = Gateway::start(|c| c.max_pending = 3).await;
    // As after a deploy, when every client reconnects at once.
    let burst = (0..40).map(|_| tokio_tungstenite::connect_async(gw.url()));
    for connected in futures_util::future::join_all(burst).await {
        assert!(connected.is_ok(), "{:?}", connected.err());
    }
}

#[tokio::test]
async fn an_api_request_whose_body_dribbles_in_gets_408() {
    let gw = Gateway::start(|c| c.body_timeout = 300).await;
    let partial = "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"feature\"";
    let started = Instant::now();
    assert_eq!(raw_http(&gw, partial).await.0, 408);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn integers_in_event_data_reach_subscribers_byte_for_byte() {
    use futures_util::StreamExt;
    let gw = Gateway::start(|_| {}).await;
    let mut ws = gw.subscribed(&["rbac"]).await;
    let big = "123456789012345678901234567890";
    let body = format!(r#"{{"feature":"rbac","entity":"role","action":"created","data":{{"id":1,"big":{big},"small":-0.1e-7}}}}"#);
    assert_eq!(gw.post(&body).await.0, 202);
    let text = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap() {
            Message::Text(t) if t.contains(r#""type":"event""#) => break t.to_string(),
            _ => continue,
        }
    };
    assert!(text.contains(&format!(r#""big":{big}"#)), "{text}");
    assert!(text.contains(r#""small":-0.1e-7"#), "{text}");
}

#[tokio::test]
async fn a_wildcard_registry_takes_at_most_max_features_new_names() {
    let path = std::env::temp_dir().join(format!("livestate-wildcard-{}.json", std::process::id()));
    std::fs::write(&path, r#"{"rbac": {"entities": ["role"], "actions": ["created"]}, "*": {"entities": ["*"], "actions": ["*"]}}"#)
        .unwrap();
    let gw = Gateway::start(|c| {
        c.features_file = Some(path.clone());
        c.max_features = 3;
    })
    .await;
    for f in ["f1", "f2", "f3"] {
        assert_eq!(gw.post(&backend_event(f, "x", "y", json!(1))).await.0, 202, "{f}");
    }
    let (status, body) = gw.post(&backend_event("f4", "x", "y", json!(1))).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("--max-features"), "{body}");
    assert_eq!(gw.post(&backend_event("f1", "x", "z", json!(2))).await.0, 202, "a name it holds still works");
    assert_eq!(gw.post(&backend_event("rbac", "role", "created", json!(3))).await.0, 202, "listed features are not counted");
    let mut ws = gw.client().await;
    send(&mut ws, json!({"type": "subscribe", "features": ["f5"]})).await;
    assert_eq!(next_frame(&mut ws).await["code"], "unknown_name");
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn sockets_that_never_authenticate_do_not_take_the_slots_of_valid_users() {
    let gw = Gateway::with_auth(|c| {
        c.max_connections = 2;
        c.auth_timeout = 5_000;
    })
    .await;
    let _silent = [gw.open().await, gw.open().await]; // upgraded, never authenticate
    let first = gw.client_with_token(&token("u1", 600, json!({}))).await;
    let _second = gw.client_with_token(&token("u2", 600, json!({}))).await;
    // Both slots are now taken by valid users: a third valid user is told to come back later.
    let mut third = gw.open().await;
    send(&mut third, json!({"type": "auth", "token": token("u3", 600, json!({}))})).await;
    assert_eq!(close_code(&mut third).await, 1013);
    drop(first);
}

#[tokio::test]
async fn the_static_folder_never_serves_a_file_that_a_symlink_places_outside_it() {
    let base = std::env::temp_dir().join(format!("livestate-static-{}", std::process::id()));
    let (site, secret) = (base.join("site"), base.join("secret"));
    std::fs::create_dir_all(&site).unwrap();
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(site.join("ok.txt"), "fine").unwrap();
    std::fs::write(secret.join("key.txt"), "do not serve").unwrap();
    std::os::unix::fs::symlink(secret.join("key.txt"), site.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(&secret, site.join("out")).unwrap();
    let gw = Gateway::start(|c| c.static_dir = Some(site.clone())).await;
    let (status, body) = gw.http("GET", "/ok.txt", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "fine"));
    for path in ["/leak.txt", "/out/key.txt", "/out/", "/%6Ceak.txt"] {
        let (status, body) = gw.http("GET", path, &[], "").await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("do not serve"), "{path}");
    }
    let _ = std::fs::remove_dir_all(&base);
}

/// A client frame as a browser sends it: final, masked (with a zero key, so the payload is
/// sent as is).
fn masked_text_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x81];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n < 65536 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(payload);
    frame
}

#[tokio::test]
async fn an_oversized_message_followed_by_more_frames_still_gets_1009_and_a_clean_end_not_a_reset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = Gateway::start(|c| c.max_message_size = 1024).await;
    let mut tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(upgrade_request("13", "dGhlIHNhbXBsZSBub25jZQ==").as_bytes()).await.unwrap();
    let mut wire = masked_text_frame(&vec![b'x'; 64 * 1024]);
    wire.extend(masked_text_frame(br#"{"type":"ping"}"#));
    tcp.write_all(&wire).await.unwrap();
    // Everything the gateway sends, up to its end of the stream: a reset here would also
    // throw away a close frame the client had not read yet.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        match tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await {
            Ok(Ok(0)) => break Ok(()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => break Err(e.kind()),
            Err(_) => panic!("the gateway neither closed nor reset the connection within 5 s"),
        }
    };
    let close = got.windows(4).any(|w| w == [0x88, w[1], 0x03, 0xF1] && w[1] < 126);
    assert!(close, "no close frame with 1009 in {:?}", String::from_utf8_lossy(&got));
    assert_eq!(end, Ok(()), "the connection ended with a reset");
}
