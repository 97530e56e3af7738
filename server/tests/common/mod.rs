//! Shared helpers for the gateway's integration tests: a real gateway on a loopback port,
//! WebSocket clients (tokio-tungstenite), raw HTTP calls and signed tokens.

#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use livestate_server::{hub_for, serve, Config};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const SECRET: &str = "test-secret-do-not-use";

pub struct Gateway {
    pub addr: SocketAddr,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    pub hub: livestate_server::Hub,
}

impl Gateway {
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::defaults();
        tweak(&mut config);
        let hub = hub_for(&config).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(serve(listener, config, hub.clone(), async {
            let _ = rx.await;
        }));
        Gateway { addr, stop: Some(tx), task, hub }
    }

    /// A gateway that requires HS256 tokens signed with [`SECRET`].
    pub async fn with_auth(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start(|c| {
            c.jwt_secret = Some(SECRET.into());
            tweak(c)
        })
        .await
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Opens a socket (no welcome awaited).
    pub async fn open(&self) -> Ws {
        connect_async(self.url()).await.unwrap().0
    }

    /// Opens a socket with extra request headers; `Err(status)` if the upgrade was refused.
    pub async fn open_with(&self, url_suffix: &str, headers: &[(&str, &str)]) -> Result<Ws, u16> {
        let mut req = format!("{}{url_suffix}", self.url()).into_client_request().unwrap();
        for (k, v) in headers {
            let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
            req.headers_mut().insert(name, v.parse().unwrap());
        }
        match connect_async(req).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
            Err(e) => panic!("unexpected connect error {e}"),
        }
    }

    /// A welcomed connection.
    pub async fn client(&self) -> Ws {
        let mut ws = self.open().await;
        assert_eq!(next_frame(&mut ws).await["type"], "welcome");
        ws
    }

    /// A welcomed connection and its connection id.
    pub async fn client_and_id(&self) -> (Ws, String) {
        let mut ws = self.open().await;
        let welcome = next_frame(&mut ws).await;
        assert_eq!(welcome["type"], "welcome");
        (ws, welcome["connectionId"].as_str().unwrap().to_owned())
    }

    /// A welcomed connection authenticated with `token` in its first frame.
    pub async fn client_with_token(&self, token: &str) -> Ws {
        let mut ws = self.open().await;
        send(&mut ws, json!({"type": "auth", "token": token})).await;
        assert_eq!(next_frame(&mut ws).await["type"], "welcome");
        ws
    }

    pub async fn subscribed(&self, features: &[&str]) -> Ws {
        let mut ws = self.client().await;
        subscribe(&mut ws, features).await;
        ws
    }

    pub async fn http(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
        let mut tcp = TcpStream::connect(self.addr).await.unwrap();
        let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
            body.len()
        );
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut resp = String::new();
        tcp.read_to_string(&mut resp).await.unwrap();
        let status = resp[9..12].parse().unwrap();
        let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (status, body)
    }

    /// `POST path` with a JSON body; returns (status, parsed body).
    pub async fn post_to(&self, path: &str, body: &str) -> (u16, Value) {
        let (status, body) = self.http("POST", path, &[], body).await;
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    pub async fn post(&self, body: &str) -> (u16, Value) {
        self.post_to("/api/events", body).await
    }

    pub async fn get(&self, path: &str) -> String {
        self.http("GET", path, &[], "").await.1
    }
}

/// Subscribes and returns the `subscribed` reply (with each feature's stream position).
pub async fn subscribe(ws: &mut Ws, features: &[&str]) -> Value {
    send(ws, json!({"type": "subscribe", "features": features})).await;
    let reply = next_frame(ws).await;
    assert_eq!((reply["type"].as_str(), &reply["features"]), (Some("subscribed"), &json!(features)));
    reply
}

pub async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::Text(frame.to_string().into())).await.unwrap();
}

/// The next frame that is not a heartbeat, within 5 s.
pub async fn next_frame(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a frame within 5 s");
        match msg.expect("socket open").unwrap() {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] != "heartbeat" {
                    return v;
                }
            }
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}

/// Waits for the close frame and returns its code and reason.
pub async fn closed(ws: &mut Ws) -> (u16, String) {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("closed within 5 s");
        match msg {
            Some(Ok(Message::Close(Some(frame)))) => return (u16::from(frame.code), frame.reason.to_string()),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

pub async fn close_code(ws: &mut Ws) -> u16 {
    closed(ws).await.0
}

/// Proves nothing else arrived: a round trip through the gateway comes back first.
pub async fn assert_nothing_pending(ws: &mut Ws) {
    send(ws, json!({"type": "unsubscribe", "features": ["zz-probe"]})).await;
    assert_eq!(next_frame(ws).await["type"], "unsubscribed");
}

pub fn event(feature: &str, entity: &str, action: &str, data: Value) -> Value {
    json!({"type": "publish", "feature": feature, "entity": entity, "action": action, "data": data})
}

pub fn backend_event(feature: &str, entity: &str, action: &str, data: Value) -> String {
    json!({"feature": feature, "entity": entity, "action": action, "data": data}).to_string()
}

/// A token for `sub`, valid for `ttl_secs` (negative: already expired), with extra claims.
pub fn token(sub: &str, ttl_secs: i64, extra: Value) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut claims = json!({"sub": sub, "exp": now + ttl_secs});
    if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

/// A registry file (in the temp folder) with `chat` keeping presence with these limits, `news`
/// without presence, and the built-in `rbac`.
pub fn presence_registry(limits: Value) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let registry = json!({
        "chat": {"entities": ["message"], "actions": ["created"], "presence": limits},
        "news": {"entities": ["item"], "actions": ["created"]},
        "rbac": {"entities": ["role"], "actions": ["created", "updated"]},
    });
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("livestate-presence-{}-{n}.json", std::process::id()));
    std::fs::write(&path, registry.to_string()).unwrap();
    path
}

/// Subscribes with presence `info`; returns the frames up to and with `subscribed`.
pub async fn subscribe_with(ws: &mut Ws, features: &[&str], info: Value) -> Vec<Value> {
    let mut frame = json!({"type": "subscribe", "features": features});
    if !info.is_null() {
        frame["info"] = info;
    }
    send(ws, frame).await;
    let mut got = Vec::new();
    loop {
        let f = next_frame(ws).await;
        let done = f["type"] == "subscribed";
        got.push(f);
        if done {
            return got;
        }
    }
}

/// The member ids of a `presence` frame, sorted.
pub fn member_ids(frame: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        frame["members"].as_array().unwrap().iter().map(|m| m["connectionId"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}
