//! Scale-out: several gateway nodes on loopback sharing one real redis-server (started and
//! stopped here; `scripts/setup.sh` installs Debian's). Publishing on one node reaches every
//! node in order, clients recover across nodes, the epoch lives in Redis, and losing Redis
//! makes nodes unhealthy without closing anyone, then a gap brings clients back.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A throw-away redis-server on a free loopback port, without persistence.
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::start_on(port).await
    }

    async fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server; scripts/setup.sh installs it)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Redis { port, child };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn node(redis: &Redis) -> Gateway {
    let url = redis.url();
    let gw = Gateway::start(move |c| c.broker = Some(url)).await;
    wait_until(|| gw.hub.healthy()).await;
    gw
}

async fn wait_until(mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not met within 5 s");
}

/// An `updated` event numbered `n`, of the feature's first entity in the built-in registry.
async fn publish(gw: &Gateway, feature: &str, n: i64) {
    let entity = match feature {
        "rbac" => "role",
        "users" => "user",
        "products" => "product",
        _ => "order",
    };
    let (status, body) = gw.post(&backend_event(feature, entity, "updated", json!({"id": "x1", "n": n}))).await;
    assert_eq!(status, 202, "{body}");
}

fn ns(frames: &[Value]) -> Vec<i64> {
    frames
        .iter()
        .flat_map(|f| if f["type"] == "batch" { f["events"].as_array().unwrap().clone() } else { vec![f.clone()] })
        .map(|e| e["data"]["n"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn an_event_published_on_one_node_reaches_subscribers_on_every_node_in_order() {
    let redis = Redis::start().await;
    let (a, b, c) = (node(&redis).await, node(&redis).await, node(&redis).await);
    let mut on_b = b.subscribed(&["rbac"]).await;
    let mut on_c = c.subscribed(&["rbac"]).await;
    for n in 1..=20 {
        publish(&a, "rbac", n).await;
    }
    for ws in [&mut on_b, &mut on_c] {
        let mut got = vec![];
        for _ in 0..20 {
            got.push(next_frame(ws).await);
        }
        assert_eq!(ns(&got), (1..=20).collect::<Vec<_>>());
        let seqs: Vec<u64> = got.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "one stream per feature, numbered in Redis");
    }
}

#[tokio::test]
async fn a_client_moved_from_one_node_to_another_mid_stream_misses_nothing() {
    let redis = Redis::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let mut ws = a.subscribed(&["orders"]).await;
    for n in 1..=5 {
        publish(&a, "orders", n).await;
    }
    let mut last = Value::Null;
    for _ in 0..5 {
        last = next_frame(&mut ws).await;
    }
    drop(ws); // node A goes away for this client
    for n in 6..=9 {
        publish(&b, "orders", n).await;
    }
    let mut moved = b.client().await;
    let position = json!({"epoch": last["epoch"], "seq": last["seq"]});
    send(&mut moved, json!({"type": "subscribe", "features": ["orders"], "positions": {"orders": position}})).await;
    let replay = next_frame(&mut moved).await;
    assert_eq!(ns(&[replay]), [6, 7, 8, 9]);
    let ack = next_frame(&mut moved).await;
    assert_eq!(ack["streams"]["orders"], json!({"epoch": last["epoch"], "seq": 9, "recovered": true}));
    publish(&a, "orders", 10).await;
    assert_eq!(ns(&[next_frame(&mut moved).await]), [10], "then the live stream, from any node");
}

#[tokio::test]
async fn the_epoch_lives_in_redis_so_a_restarted_node_continues_the_same_stream() {
    let redis = Redis::start().await;
    let first = node(&redis).await;
    let mut ws = first.subscribed(&["users"]).await;
    publish(&first, "users", 1).await;
    let event = next_frame(&mut ws).await;
    drop((ws, first));
    let second = node(&redis).await;
    let mut ws = second.client().await;
    let ack = subscribe(&mut ws, &["users"]).await;
    assert_eq!(ack["streams"]["users"], json!({"epoch": event["epoch"], "seq": 1}));
    publish(&second, "users", 2).await;
    let next = next_frame(&mut ws).await;
    assert_eq!((next["seq"].as_u64(), &next["epoch"]), (Some(2), &event["epoch"]));
}

#[tokio::test]
async fn losing_redis_keeps_clients_connected_reports_unhealthy_and_a_gap_brings_them_back() {
    let mut redis = Redis::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let mut ws = b.subscribed(&["products"]).await;
    publish(&a, "products", 1).await;
    let first = next_frame(&mut ws).await;

    redis.stop();
    wait_until(|| !a.hub.healthy() && !b.hub.healthy()).await;
    assert_eq!(b.http("GET", "/healthz", &[], "").await.0, 503);
    assert!(b.get("/metrics").await.contains("livestate_broker_up 0"));
    let (status, body) = a.post(&backend_event("products", "product", "updated", json!({"n": 2}))).await;
    assert_eq!(status, 503, "a publish that cannot reach Redis is refused, not lost: {body}");

    // Redis comes back empty (no persistence): the stream is lost, so the epoch changes.
    let _redis = Redis::start_on(redis.port).await;
    wait_until(|| a.hub.healthy() && b.hub.healthy()).await;
    let gap = next_frame(&mut ws).await;
    assert_eq!(gap, json!({"type": "gap", "features": ["products"]}), "the client is told it may have missed events");
    // The client recovers in-band, as the browser client does on a gap: from its position.
    let position = json!({"epoch": first["epoch"], "seq": first["seq"]});
    send(&mut ws, json!({"type": "subscribe", "features": ["products"], "positions": {"products": position}})).await;
    let ack = next_frame(&mut ws).await;
    assert_eq!(ack["streams"]["products"]["recovered"], false, "Redis lost the stream: the client must resync");
    assert_ne!(ack["streams"]["products"]["epoch"], first["epoch"]);
    publish(&a, "products", 3).await;
    let live = next_frame(&mut ws).await;
    assert_eq!((live["seq"].as_u64(), live["data"]["n"].as_i64()), (Some(1), Some(3)), "a new stream from 1, in the new epoch");
}
