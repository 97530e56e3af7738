//! Fuzzes the client's pure core with arbitrary sequences of inputs: socket events from current
//! and stale sockets, timers, event positions, subscription replies, and store events and
//! optimistic operations. Nothing may panic, and every item's view must stay its confirmed
//! state plus its pending operations.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livestate::core::connection::{Config, Connection, Input, Timer};
use livestate::core::router::Scope;
use livestate::core::store::{item, MapModel, Model, Pending, Store};
use livestate::protocol::StreamState;

fuzz_target!(|data: &[u8]| {
    let mut conn = Connection::new(Config { max_attempts: None, ..Config::default() }, 7);
    let mut store = Store::new(MapModel { versioned: data.first().is_some_and(|b| b & 1 == 1) });
    let mut ops = Vec::new();
    let mut out = Vec::new();
    let mut now = 0.0;
    for chunk in data.chunks(3) {
        let [op, a, b] = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let gen = u32::from(a % 4);
        now += f64::from(b) * 10.0;
        let (key, n) = (i64::from(a % 8), i64::from(b));
        match op % 20 {
            0 => conn.handle(Input::Connect, now, &mut out),
            1 => conn.handle(Input::Disconnect, now, &mut out),
            2 => conn.handle(Input::Opened { gen }, now, &mut out),
            3 => conn.handle(Input::Welcome { gen, heartbeat_ms: f64::from(b), token_ms: (a & 1 == 1).then_some(f64::from(b)) }, now, &mut out),
            4 => conn.handle(Input::Closed { gen, code: u16::from(a) * 20 + u16::from(b), reason: "x" }, now, &mut out),
            5 => conn.handle(Input::Fired([Timer::Retry, Timer::Connect, Timer::Heartbeat, Timer::Refresh, Timer::Outbox][usize::from(b % 5)]), now, &mut out),
            6 => conn.handle(
                match b % 3 {
                    0 => Input::Online,
                    1 => Input::Offline,
                    _ => Input::Visible,
                },
                now,
                &mut out,
            ),
            7 => {
                let _ = conn.event("f", Some(if a & 1 == 0 { "e1" } else { "e2" }), Some(u64::from(b)), &mut out);
            }
            8 => conn.subscribed("f", &StreamState { epoch: "e1".into(), seq: u64::from(b), recovered: (a % 3 != 0).then_some(a % 3 == 1) }, &mut out),
            9 => {
                let id = conn.subscribe("f", if a & 1 == 0 { Scope::Feature } else { Scope::Entity("e".into()) }, &mut out);
                if b & 1 == 1 {
                    conn.unsubscribe(id, &mut out);
                }
            }
            10 => conn.gap("f", &mut out),
            11 => drop(store.created(item(&[("id", key), ("n", n), ("v", n)]))),
            12 => drop(store.updated(item(&[("id", key), ("n", n), ("v", n)]))),
            13 => store.deleted(key, (a & 1 == 1).then_some(f64::from(b))),
            14 => ops.push(store.begin_update(key, item(&[("n", n)]))),
            15 => ops.push(store.begin_delete(key)),
            16 => ops.extend(store.begin_create(item(&[("id", key), ("n", n)]))),
            17 if !ops.is_empty() => {
                let op = ops.swap_remove(usize::from(b) % ops.len());
                let _ = store.succeed(op, (a & 1 == 1).then(|| item(&[("id", key), ("n", n), ("v", n)])));
            }
            18 if !ops.is_empty() => {
                let op = ops.swap_remove(usize::from(b) % ops.len());
                store.fail(op, "no".into());
            }
            _ => drop(store.replace_all(vec![item(&[("id", key), ("n", n), ("v", n)])])),
        }
        out.clear();
        store.flush();
        for k in store.keys().copied().collect::<Vec<_>>() {
            let mut expected = store.confirmed(&k).cloned();
            for (_, p) in store.pending(&k) {
                expected = match (p, expected) {
                    (Pending::Create(i), None) => Some(i.clone()),
                    (Pending::Create(_), Some(v)) => Some(v),
                    (Pending::Update(p), Some(v)) => Some(store.model().apply(&v, p)),
                    _ => None,
                };
            }
            assert_eq!(store.get(&k), expected.as_ref(), "view of {k} is not confirmed + pending");
        }
    }
});
