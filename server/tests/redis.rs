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

/// A node whose registry has `chat` with presence, entries living 1 s.
async fn presence_node(redis: &Redis, registry: &std::path::Path) -> Gateway {
    presence_node_ttl(redis, registry, 1).await
}

async fn presence_node_ttl(redis: &Redis, registry: &std::path::Path, ttl: u64) -> Gateway {
    let (url, path) = (redis.url(), registry.to_owned());
    let gw = Gateway::start(move |c| {
        c.broker = Some(url);
        c.features_file = Some(path);
        c.presence_ttl = ttl;
    })
    .await;
    wait_until(|| gw.hub.healthy()).await;
    gw
}

/// The next frame of type `kind`, skipping others (a repeated join of a member already listed).
async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let f = next_frame(ws).await;
        if f["type"] == kind {
            return f;
        }
    }
}

#[tokio::test]
async fn joins_and_leaves_on_one_node_are_seen_from_another_and_snapshots_span_nodes() {
    let redis = Redis::start().await;
    let registry = presence_registry(json!(true));
    let (a, b) = (presence_node(&redis, &registry).await, presence_node(&redis, &registry).await);
    let (mut ann, ann_id) = a.client_and_id().await;
    subscribe_with(&mut ann, &["chat"], json!({"name": "Ann"})).await;
    let (mut bob, bob_id) = b.client_and_id().await;
    assert_ne!(ann_id, bob_id, "connection ids are unique across nodes");
    let frames = subscribe_with(&mut bob, &["chat"], Value::Null).await;
    let mut both = vec![ann_id.clone(), bob_id.clone()];
    both.sort();
    assert_eq!(member_ids(&frames[0]), both, "Bob's snapshot, read on node B, lists Ann of node A");
    let join = next_of(&mut ann, "join").await;
    assert_eq!(join["member"]["connectionId"], json!(bob_id));
    drop(bob);
    let leave = next_of(&mut ann, "leave").await;
    assert_eq!(leave["member"]["connectionId"], json!(bob_id));
    let body: Value = serde_json::from_str(&b.get("/api/features/chat/presence").await).unwrap();
    assert_eq!(body["members"], json!([{"connectionId": ann_id, "userId": "anonymous", "info": {"name": "Ann"}}]));
}

#[tokio::test]
async fn across_nodes_no_presence_reaches_a_token_without_the_permission_or_a_feature_without_presence() {
    let redis = Redis::start().await;
    let registry = presence_registry(json!(true));
    let node_with_auth = || {
        let (url, path) = (redis.url(), registry.clone());
        Gateway::with_auth(move |c| {
            c.broker = Some(url);
            c.features_file = Some(path);
        })
    };
    let (a, b) = (node_with_auth().await, node_with_auth().await);
    wait_until(|| a.hub.healthy() && b.hub.healthy()).await;
    let mut blind = a.client_with_token(&token("ann", 60, json!({"presence": []}))).await;
    let frames = subscribe_with(&mut blind, &["chat", "news"], Value::Null).await;
    assert_eq!(frames.len(), 1, "only subscribed: {frames:?}");
    // Carl, on Ann's node, may see it: what reaches him would have reached Ann at the same moment.
    let mut carl = a.client_with_token(&token("carl", 60, json!({}))).await;
    subscribe_with(&mut carl, &["chat"], Value::Null).await;
    let mut seeing = b.client_with_token(&token("bob", 60, json!({}))).await;
    let frames = subscribe_with(&mut seeing, &["chat", "news"], Value::Null).await;
    // (Joins published before the snapshot was read may follow it: repeats the client ignores.)
    let snapshots: Vec<&Value> = frames.iter().filter(|f| f["type"] == "presence").collect();
    assert_eq!(snapshots.len(), 1, "chat's presence only, news keeps none: {frames:?}");
    assert_eq!(snapshots[0]["feature"], "chat");
    assert_eq!(snapshots[0]["members"].as_array().unwrap().len(), 3, "Ann is a member though she sees none");
    next_of(&mut carl, "join").await;
    send(&mut seeing, json!({"type": "unsubscribe", "features": ["chat"]})).await;
    next_of(&mut carl, "leave").await;
    assert_nothing_pending(&mut blind).await;
}

#[tokio::test]
async fn the_members_of_a_killed_node_leave_within_the_ttl() {
    let redis = Redis::start().await;
    let registry = presence_registry(json!(true));
    let a = presence_node(&redis, &registry).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut b = Command::new(env!("CARGO_BIN_EXE_livestate-server"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--broker", &redis.url(), "--presence-ttl", "1"])
        .arg("--features-file")
        .arg(&registry)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut on_b = None;
    for _ in 0..100 {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")).await {
            on_b = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut on_b = on_b.expect("node B listening");
    assert_eq!(next_frame(&mut on_b).await["type"], "welcome");
    let mut watcher = a.client().await;
    subscribe_with(&mut watcher, &["chat"], Value::Null).await;
    subscribe_with(&mut on_b, &["chat"], json!("on B")).await;
    let join = next_of(&mut watcher, "join").await;
    assert_eq!(join["member"]["info"], "on B");

    b.kill().unwrap(); // SIGKILL: no leave is ever sent by B
    b.wait().unwrap();
    let started = std::time::Instant::now();
    let leave = next_of(&mut watcher, "leave").await;
    assert_eq!(leave["member"], join["member"]);
    assert!(started.elapsed() < Duration::from_secs(3), "within the 1 s TTL and a refresh: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_node_that_shuts_down_takes_its_members_out_before_it_returns() {
    let redis = Redis::start().await;
    let registry = presence_registry(json!(true));
    // A TTL of a minute: the leave cannot come from expiry.
    let a = presence_node_ttl(&redis, &registry, 60).await;
    let mut b = presence_node_ttl(&redis, &registry, 60).await;
    let mut watcher = a.client().await;
    subscribe_with(&mut watcher, &["chat"], Value::Null).await;
    let mut on_b = b.client().await;
    subscribe_with(&mut on_b, &["chat"], json!("on B")).await;
    next_of(&mut watcher, "join").await;
    b.stop.take().unwrap().send(()).unwrap();
    assert_eq!(close_code(&mut on_b).await, 1001);
    b.task.await.unwrap().unwrap();
    let body: Value = serde_json::from_str(&a.get("/api/features/chat/presence").await).unwrap();
    assert_eq!(body["members"].as_array().unwrap().len(), 1, "B's member left before B returned: {body}");
    assert_eq!(next_of(&mut watcher, "leave").await["member"]["info"], "on B");
}

#[tokio::test]
async fn after_a_redis_restart_every_node_lists_its_members_again_and_watchers_get_a_fresh_snapshot() {
    let mut redis = Redis::start().await;
    let registry = presence_registry(json!(true));
    let (a, b) = (presence_node(&redis, &registry).await, presence_node(&redis, &registry).await);
    let (mut ann, ann_id) = a.client_and_id().await;
    subscribe_with(&mut ann, &["chat"], Value::Null).await;
    let (mut bob, bob_id) = b.client_and_id().await;
    subscribe_with(&mut bob, &["chat"], Value::Null).await;
    next_of(&mut ann, "join").await;

    redis.stop();
    wait_until(|| !a.hub.healthy()).await;
    let _redis = Redis::start_on(redis.port).await; // empty: every entry is lost
    let mut both = vec![ann_id.clone(), bob_id.clone()];
    both.sort();
    // Ann hears of the gap, then gets a snapshot; joins re-list whoever it missed.
    let snapshot = next_of(&mut ann, "presence").await;
    let mut listed: Vec<String> = member_ids(&snapshot);
    while listed.len() < 2 {
        let join = next_of(&mut ann, "join").await;
        listed.push(join["member"]["connectionId"].as_str().unwrap().to_owned());
        listed.sort();
        listed.dedup();
    }
    assert_eq!(listed, both);
    wait_until_async(|| async {
        serde_json::from_str::<Value>(&a.get("/api/features/chat/presence").await).unwrap()["members"].as_array().map_or(0, Vec::len) == 2
    })
    .await;
}

async fn wait_until_async<F: std::future::Future<Output = bool>>(mut f: impl FnMut() -> F) {
    for _ in 0..200 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not met within 5 s");
}

#[tokio::test]
async fn a_send_to_a_user_or_a_connection_published_on_one_node_reaches_it_on_another() {
    let redis = Redis::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let (mut on_b, id) = b.client_and_id().await;
    let body = backend_event("rbac", "role", "updated", json!({"n": 1}));
    let (status, reply) = a.post_to("/api/users/anonymous/events", &body).await;
    assert_eq!((status, &reply["delivered"]), (202, &Value::Null), "how many got it on other nodes is not known here");
    assert_eq!(next_frame(&mut on_b).await["data"]["n"], 1);
    let body = backend_event("rbac", "role", "updated", json!({"n": 2}));
    let (status, reply) = a.post_to(&format!("/api/clients/{id}/events"), &body).await;
    assert_eq!((status, &reply["delivered"]), (202, &Value::Null));
    assert_eq!(next_frame(&mut on_b).await["data"]["n"], 2);
    // On the node that holds the connection, the count is known.
    let body = backend_event("rbac", "role", "updated", json!({"n": 3}));
    let (status, reply) = b.post_to(&format!("/api/clients/{id}/events"), &body).await;
    assert_eq!((status, &reply["delivered"]), (202, &json!(1)));
    assert_eq!(next_frame(&mut on_b).await["data"]["n"], 3);
    assert_nothing_pending(&mut on_b).await;
}

#[tokio::test]
async fn a_batch_published_on_one_node_reaches_subscribers_on_another_as_one_frame() {
    let redis = Redis::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let mut on_b = b.subscribed(&["orders"]).await;
    let batch: Vec<Value> =
        (1..=3).map(|n| json!({"feature": "orders", "entity": "order", "action": "updated", "data": {"n": n}})).collect();
    let (status, body) = a.post(&Value::Array(batch).to_string()).await;
    assert_eq!(status, 202, "{body}");
    let frame = next_frame(&mut on_b).await;
    assert_eq!(frame["type"], "batch");
    assert_eq!(ns(std::slice::from_ref(&frame)), [1, 2, 3]);
    let seqs: Vec<u64> = frame["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3]);
}
