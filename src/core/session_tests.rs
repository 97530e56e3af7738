use super::*;
use crate::core::connection::{Config, ConnectionStatus, Outgoing};

const T: f64 = 0.0;

/// A session connected on socket 1, with `features` subscribed at the gateway.
fn connected() -> (Session, Vec<Action>) {
    let mut s = Session::new(Connection::new(Config::default(), 7));
    let mut out = Vec::new();
    s.handle(Input::Connect, T, &mut out);
    s.handle(Input::Opened { gen: 1 }, T, &mut out);
    s.handle(Input::Welcome { gen: 1, heartbeat_ms: 30_000.0, token_ms: None }, T, &mut out);
    assert_eq!(s.conn().status(), ConnectionStatus::Connected);
    out.clear();
    (s, out)
}

fn ids(s: &mut Session, names: [&str; 3]) -> [NameId; 3] {
    names.map(|n| s.intern(n))
}

fn state(epoch: &str, seq: u64, recovered: Option<bool>) -> StreamState {
    StreamState { epoch: epoch.into(), seq, recovered }
}

#[test]
fn names_are_interned_once_and_read_back_by_id() {
    let (mut s, _) = connected();
    let a = s.intern("rbac");
    assert_eq!(s.intern("users"), a + 1);
    assert_eq!(s.intern("rbac"), a, "a name seen before keeps its id");
    assert_eq!(s.name(a), "rbac");
}

#[test]
fn an_event_goes_to_feature_then_entity_then_action_subscribers_in_that_order() {
    let (mut s, mut out) = connected();
    let action = s.subscribe("rbac", Scope::Event("role".into(), "created".into()), Sink::Callback, &mut out);
    let entity = s.subscribe("rbac", Scope::Entity("role".into()), Sink::Store(1), &mut out);
    let feature = s.subscribe("rbac", Scope::Feature, Sink::Callback, &mut out);
    let other = s.subscribe("rbac", Scope::Entity("permission".into()), Sink::Callback, &mut out);
    let [f, e, a] = ids(&mut s, ["rbac", "role", "created"]);
    assert_eq!(s.event(f, e, a, None, None, &mut out), [feature, entity, action]);
    assert_eq!(s.op(), StoreOp::Created);
    assert_eq!(s.sink(entity), Some(Sink::Store(1)));
    assert!(!s.event(f, e, a, None, None, &mut out).contains(&other));
    assert_eq!(s.stats().events_delivered, 2);
}

#[test]
fn store_operations_follow_the_action() {
    let (mut s, mut out) = connected();
    s.subscribe("shop", Scope::Entity("item".into()), Sink::Store(1), &mut out);
    for (action, op) in
        [("created", StoreOp::Created), ("updated", StoreOp::Updated), ("deleted", StoreOp::Deleted), ("stock_changed", StoreOp::Other)]
    {
        let [f, e, a] = ids(&mut s, ["shop", "item", action]);
        assert_eq!(s.event(f, e, a, None, None, &mut out).len(), 1);
        assert_eq!(s.op(), op, "{action}");
    }
}

#[test]
fn a_subscription_removed_during_dispatch_is_reported_gone_and_removed_once() {
    let (mut s, mut out) = connected();
    let first = s.subscribe("rbac", Scope::Feature, Sink::Callback, &mut out);
    let second = s.subscribe("rbac", Scope::Feature, Sink::Callback, &mut out);
    let [f, e, a] = ids(&mut s, ["rbac", "role", "created"]);
    let route = s.event(f, e, a, None, None, &mut out).to_vec();
    assert_eq!(route, [first, second]);
    // The first callback unsubscribes the second: the facade asks before delivering to it.
    assert!(s.unsubscribe(second, &mut out));
    assert!(s.is_live(first) && !s.is_live(second));
    assert!(!s.unsubscribe(second, &mut out), "a second unsubscribe changes nothing");
    assert_eq!(s.event(f, e, a, None, None, &mut out), [first]);
}

#[test]
fn duplicates_are_not_delivered_and_a_gap_asks_for_a_replay_instead() {
    let (mut s, mut out) = connected();
    let sub = s.subscribe("rbac", Scope::Feature, Sink::Callback, &mut out);
    s.subscribed("rbac", &state("e1", 4, None), &mut out);
    out.clear();
    let [f, e, a] = ids(&mut s, ["rbac", "role", "created"]);
    let epoch = s.intern("e1");
    assert_eq!(s.event(f, e, a, Some(5), Some(epoch), &mut out), [sub]);
    assert!(s.event(f, e, a, Some(5), Some(epoch), &mut out).is_empty(), "a duplicate");
    assert_eq!(s.duplicates(), 1);
    assert!(s.event(f, e, a, Some(9), Some(epoch), &mut out).is_empty(), "6 to 8 are missing");
    assert!(matches!(&out[..], [Action::Send(Outgoing::Subscribe { positions, .. })] if positions[0].1.seq == 5));
    assert_eq!(s.stats().events_delivered, 1);
}

#[test]
fn a_lost_feature_reloads_its_stores_that_can_and_tells_the_others() {
    let (mut s, mut out) = connected();
    let reloads = s.add_store("rbac", true);
    let cannot = s.add_store("rbac", false);
    let elsewhere = s.add_store("users", true);
    for store in [reloads, cannot, elsewhere] {
        let feature = if store == elsewhere { "users" } else { "rbac" };
        s.subscribe(feature, Scope::Entity("x".into()), Sink::Store(store), &mut out);
    }
    s.subscribed("rbac", &state("e1", 4, None), &mut out);
    out.clear();
    // The gateway restarted: a new epoch, the events in between are gone.
    s.subscribed("rbac", &state("e2", 0, Some(false)), &mut out);
    assert_eq!(out, [Action::Resync("rbac".into()), Action::Reload(reloads), Action::Lost(cannot)]);
    assert_eq!(s.stats().resyncs, 1);
    s.remove_store(cannot);
    out.clear();
    s.subscribed("rbac", &state("e3", 0, Some(false)), &mut out);
    assert_eq!(out, [Action::Resync("rbac".into()), Action::Reload(reloads)], "a removed store is not told");
}

#[test]
fn counters_move_for_frames_malformed_frames_throwing_callbacks_gaps_and_connects() {
    let (mut s, mut out) = connected();
    s.frame(1, T, &mut out);
    s.invalid_frame();
    s.callback_error();
    s.gap(&["rbac".into()], &mut out);
    let stats = s.stats();
    assert_eq!((stats.frames_received, stats.invalid_frames, stats.callback_errors, stats.gaps, stats.connects), (1, 1, 1, 1, 1));
}

#[test]
fn disconnect_drops_every_subscription() {
    let (mut s, mut out) = connected();
    let sub = s.subscribe("rbac", Scope::Feature, Sink::Callback, &mut out);
    s.handle(Input::Disconnect, T, &mut out);
    assert!(!s.is_live(sub));
    assert_eq!(s.conn().status(), ConnectionStatus::Disconnected);
}
