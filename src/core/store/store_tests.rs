//! Native tests of the store: one test per failure mode of store-peers.md §2 (F1–F11).

use super::*;

fn store(versioned: bool) -> Store<MapModel> {
    Store::new(MapModel { versioned })
}

fn n(s: &Store<MapModel>, key: i64) -> Option<i64> {
    s.get(&key).and_then(|i| i.get("n").copied())
}

#[test]
fn f1_a_server_update_that_arrives_during_a_failing_request_survives_the_revert() {
    let mut s = store(false);
    s.created(item(&[("id", 1), ("n", 0), ("m", 0)])).unwrap();
    let op = s.begin_update(1, item(&[("n", 5)]));
    assert_eq!(n(&s, 1), Some(5), "the patch shows at once");
    s.updated(item(&[("id", 1), ("n", 0), ("m", 7)])).unwrap(); // another user's change
    assert_eq!(s.get(&1).unwrap()["m"], 7, "their change shows under our patch");
    assert_eq!(n(&s, 1), Some(5));
    s.fail(op, "500".into());
    assert_eq!(s.get(&1), Some(&item(&[("id", 1), ("n", 0), ("m", 7)])), "revert shows the newest confirmed state");
}

#[test]
fn f2_a_server_event_does_not_clobber_a_pending_patch() {
    let mut s = store(false);
    s.created(item(&[("id", 1), ("n", 0)])).unwrap();
    s.begin_update(1, item(&[("n", 5)]));
    s.updated(item(&[("id", 1), ("n", 0), ("x", 1)])).unwrap();
    assert_eq!(n(&s, 1), Some(5));
    assert_eq!(s.status(&1).pending, 1);
}

#[test]
fn f3_overlapping_updates_revert_correctly_in_either_order() {
    for first_fails in [true, false] {
        let mut s = store(false);
        s.created(item(&[("id", 1), ("a", 0), ("b", 0)])).unwrap();
        let a = s.begin_update(1, item(&[("a", 1)]));
        let b = s.begin_update(1, item(&[("b", 2)]));
        assert_eq!(s.get(&1), Some(&item(&[("id", 1), ("a", 1), ("b", 2)])));
        if first_fails {
            s.fail(a, "no".into());
            assert_eq!(s.get(&1), Some(&item(&[("id", 1), ("a", 0), ("b", 2)])), "B's edit survives A's failure");
            s.fail(b, "no".into());
        } else {
            s.fail(b, "no".into());
            assert_eq!(s.get(&1), Some(&item(&[("id", 1), ("a", 1), ("b", 0)])), "A's edit survives B's failure");
            s.fail(a, "no".into());
        }
        assert_eq!(s.get(&1), Some(&item(&[("id", 1), ("a", 0), ("b", 0)])), "back to what the server has, never a made-up state");
    }
}

#[test]
fn f4_pending_status_lives_beside_the_item_not_inside_it() {
    let mut s = store(false);
    s.created(item(&[("id", 1), ("n", 0)])).unwrap();
    let op = s.begin_update(1, item(&[("n", 1)]));
    assert_eq!(s.get(&1), Some(&item(&[("id", 1), ("n", 1)])), "no isLoading field in the item");
    assert_eq!(s.status(&1), Status { pending: 1, error: None });
    s.updated(item(&[("id", 1), ("n", 9)])).unwrap();
    assert_eq!(s.status(&1).pending, 1, "a server event does not erase the pending flag");
    s.fail(op, "timeout".into());
    assert_eq!(s.status(&1), Status { pending: 0, error: Some("timeout") });
    let op = s.begin_update(1, item(&[("n", 2)]));
    s.succeed(op, None).unwrap();
    assert_eq!(s.status(&1), Status { pending: 0, error: None }, "a success clears the last error");
}

#[test]
fn f5_a_delete_during_a_pending_update_does_not_resurrect_the_item() {
    for succeeds in [true, false] {
        let mut s = store(false);
        s.created(item(&[("id", 1), ("n", 0)])).unwrap();
        let op = s.begin_update(1, item(&[("n", 5)]));
        s.deleted(1, None);
        assert_eq!(s.get(&1), None);
        if succeeds {
            s.succeed(op, Some(item(&[("id", 1), ("n", 5)]))).unwrap();
        } else {
            s.fail(op, "404".into());
        }
        assert_eq!(s.get(&1), None, "resurrected after {}", if succeeds { "success" } else { "failure" });
        s.updated(item(&[("id", 1), ("n", 6)])).unwrap();
        assert_eq!(s.get(&1), None, "a late updated event does not resurrect it either");
        assert_eq!(s.len(), 0);
    }
}

#[test]
fn f6_the_echo_of_our_own_create_is_not_duplicated() {
    // Client-chosen id: the echo and the result land on the same key.
    let mut s = store(false);
    let op = s.begin_create(item(&[("id", 1), ("n", 1)])).unwrap();
    s.created(item(&[("id", 1), ("n", 1)])).unwrap();
    s.succeed(op, Some(item(&[("id", 1), ("n", 1)]))).unwrap();
    assert_eq!(s.len(), 1);

    // Temporary id replaced by the server's: whichever comes first, one item remains.
    for echo_first in [true, false] {
        let mut s = store(false);
        let op = s.begin_create(item(&[("id", -1), ("n", 1)])).unwrap();
        assert_eq!(s.len(), 1);
        if echo_first {
            s.created(item(&[("id", 42), ("n", 1)])).unwrap();
        }
        s.succeed(op, Some(item(&[("id", 42), ("n", 1)]))).unwrap();
        if !echo_first {
            s.created(item(&[("id", 42), ("n", 1)])).unwrap();
        }
        assert_eq!(s.len(), 1, "echo first: {echo_first}");
        assert_eq!(s.get(&-1), None);
        assert_eq!(n(&s, 42), Some(1));
    }
}

#[test]
fn f7_with_versions_stale_out_of_order_and_duplicate_events_are_ignored() {
    let mut s = store(true);
    s.created(item(&[("id", 1), ("v", 1), ("n", 1)])).unwrap();
    s.updated(item(&[("id", 1), ("v", 3), ("n", 3)])).unwrap();
    s.updated(item(&[("id", 1), ("v", 2), ("n", 2)])).unwrap(); // late
    s.updated(item(&[("id", 1), ("v", 3), ("n", 99)])).unwrap(); // duplicate version
    s.created(item(&[("id", 1), ("v", 1), ("n", 1)])).unwrap(); // replayed create
    assert_eq!(n(&s, 1), Some(3));
    // A stale API result after a newer event is ignored too.
    let op = s.begin_update(1, item(&[("n", 4)]));
    s.updated(item(&[("id", 1), ("v", 5), ("n", 5)])).unwrap();
    s.succeed(op, Some(item(&[("id", 1), ("v", 4), ("n", 4)]))).unwrap();
    assert_eq!(n(&s, 1), Some(5));
    // Deletes carry their version: an older update arriving later stays ignored.
    s.deleted(1, Some(6.0));
    s.updated(item(&[("id", 1), ("v", 5), ("n", 5)])).unwrap();
    assert_eq!(s.get(&1), None);
    s.created(item(&[("id", 1), ("v", 7), ("n", 7)])).unwrap();
    assert_eq!(n(&s, 1), Some(7), "a newer create brings it back");
}

#[test]
fn f8_our_own_echo_and_the_api_result_apply_once() {
    let mut s = store(false);
    s.created(item(&[("id", 1), ("n", 0)])).unwrap();
    let op = s.begin_update(1, item(&[("n", 1)]));
    s.updated(item(&[("id", 1), ("n", 1)])).unwrap(); // echo
    s.succeed(op, Some(item(&[("id", 1), ("n", 1)]))).unwrap();
    s.flush();
    assert_eq!(n(&s, 1), Some(1));
    // Result before echo: applying both still leaves one value, not a doubled effect.
    let op = s.begin_update(1, item(&[("n", 2)]));
    s.succeed(op, Some(item(&[("id", 1), ("n", 2)]))).unwrap();
    s.updated(item(&[("id", 1), ("n", 2)])).unwrap();
    assert_eq!(n(&s, 1), Some(2));
}

#[test]
fn f9_reverting_restores_a_value_never_mutated_in_place() {
    let mut s = store(false);
    let original = item(&[("id", 1), ("n", 0)]);
    s.created(original.clone()).unwrap();
    let op = s.begin_update(1, item(&[("n", 5)]));
    assert_eq!(s.confirmed(&1), Some(&original), "confirmed state untouched by the optimistic patch");
    s.fail(op, "x".into());
    assert_eq!(s.get(&1), Some(&original));
}

#[test]
fn f10_failures_are_reported_never_silent() {
    let mut s = store(false);
    s.created(item(&[("id", 1), ("n", 0)])).unwrap();
    s.flush();
    let op = s.begin_update(1, item(&[("n", 5)]));
    s.fail(op, "403 forbidden".into());
    let changes = s.flush();
    assert_eq!(changes.rejections, [Rejection { key: 1, op, error: "403 forbidden".into() }]);
    assert_eq!(changes.diffs, [Diff::Update(1)]);
}

#[test]
fn f11_each_event_touches_only_its_own_item() {
    let mut s = store(false);
    s.replace_all((0..10_000).map(|i| item(&[("id", i), ("n", 0)])).collect()).unwrap();
    assert_eq!(s.flush().diffs, [Diff::Replace]);
    s.updated(item(&[("id", 5000), ("n", 1)])).unwrap();
    assert_eq!(s.flush().diffs, [Diff::Update(5000)], "one diff, not a new whole list");
    assert_eq!(s.len(), 10_000);
}

#[test]
fn a_conflict_is_reported_when_a_server_event_changes_a_field_we_are_changing() {
    let mut s = store(false);
    s.created(item(&[("id", 1), ("name", 1), ("other", 0)])).unwrap();
    let op = s.begin_update(1, item(&[("name", 2)]));
    s.updated(item(&[("id", 1), ("name", 1), ("other", 5)])).unwrap();
    assert!(s.flush().conflicts.is_empty(), "a different field is no conflict");
    s.updated(item(&[("id", 1), ("name", 3), ("other", 5)])).unwrap();
    let c = s.flush().conflicts;
    assert_eq!(c, [Conflict { key: 1, op, fields: vec!["name".into()], base: vec![Some(1)], mine: vec![Some(2)], theirs: vec![Some(3)] }]);
    assert_eq!(s.get(&1).unwrap()["name"], 2, "default policy: our pending patch stays on top");
    s.succeed(op, Some(item(&[("id", 1), ("name", 3), ("other", 5)]))).unwrap();
    assert_eq!(s.get(&1).unwrap()["name"], 3, "the event came after we started: the server wins");
}

#[test]
fn a_batch_produces_one_list_of_diffs_in_the_order_items_first_changed() {
    let mut s = store(false);
    s.created(item(&[("id", 1)])).unwrap();
    s.created(item(&[("id", 2)])).unwrap();
    s.flush();
    s.created(item(&[("id", 3)])).unwrap();
    s.updated(item(&[("id", 1), ("n", 1)])).unwrap();
    s.deleted(2, None);
    s.created(item(&[("id", 4)])).unwrap();
    s.deleted(4, None); // inserted and removed within the batch: nothing to report
    assert_eq!(s.flush().diffs, [Diff::Insert(3), Diff::Update(1), Diff::Remove(2)]);
}

#[test]
fn items_keep_the_order_they_first_appeared_in() {
    let mut s = store(false);
    for id in [5, 3, 9] {
        s.created(item(&[("id", id)])).unwrap();
    }
    s.updated(item(&[("id", 5), ("n", 1)])).unwrap();
    let keys: Vec<i64> = s.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, [5, 3, 9]);
}

#[test]
fn replace_all_keeps_pending_operations_on_top() {
    let mut s = store(false);
    s.created(item(&[("id", 1), ("n", 0)])).unwrap();
    s.begin_update(1, item(&[("n", 5)]));
    let c = s.begin_create(item(&[("id", 2), ("n", 2)])).unwrap();
    s.replace_all(vec![item(&[("id", 1), ("n", 1), ("x", 1)]), item(&[("id", 3)])]).unwrap();
    assert_eq!(s.get(&1), Some(&item(&[("id", 1), ("n", 5), ("x", 1)])));
    assert!(s.get(&2).is_some(), "the pending create is still shown");
    assert!(s.get(&3).is_some());
    assert_eq!(s.len(), 3);
    s.fail(c, "no".into());
    assert_eq!(s.len(), 2);
}

#[test]
fn optimistic_delete_hides_at_once_and_reappears_if_it_fails() {
    let mut s = store(false);
    s.created(item(&[("id", 1), ("n", 0)])).unwrap();
    let op = s.begin_delete(1);
    assert_eq!(s.get(&1), None);
    assert_eq!(s.len(), 0);
    s.fail(op, "no".into());
    assert_eq!(n(&s, 1), Some(0));
    let op = s.begin_delete(1);
    s.succeed(op, None).unwrap();
    assert_eq!(s.get(&1), None);
    s.updated(item(&[("id", 1), ("n", 3)])).unwrap();
    assert_eq!(s.get(&1), None, "a confirmed delete leaves a tombstone");
}

#[test]
fn events_without_a_key_are_refused() {
    let mut s = store(false);
    assert_eq!(s.created(item(&[("n", 1)])), Err(StoreError::MissingKey));
    assert_eq!(s.len(), 0);
}

#[cfg(feature = "signals")]
#[test]
fn a_futures_signals_view_sees_a_snapshot_then_each_batch() {
    use futures_signals::signal_map::{MapDiff, SignalMapExt};
    use std::task::{Context, Poll};
    let mut s = store(false);
    s.created(item(&[("id", 1)])).unwrap();
    s.flush();
    let mut view = s.signal_map();
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut poll = || match view.poll_map_change_unpin(&mut cx) {
        Poll::Ready(Some(d)) => Some(d),
        _ => None,
    };
    assert!(matches!(poll(), Some(MapDiff::Replace { entries }) if entries.len() == 1));
    s.created(item(&[("id", 2)])).unwrap();
    s.deleted(1, None);
    s.flush();
    assert!(matches!(poll(), Some(MapDiff::Insert { key: 2, .. })));
    assert!(matches!(poll(), Some(MapDiff::Remove { key: 1 })));
    assert!(poll().is_none());
}

#[test]
fn keys_the_store_no_longer_holds_anything_about_are_reported_as_forgotten_once() {
    let mut s = store(false);
    let op = s.begin_update(7, item(&[("n", 1)]));
    s.succeed(op, None).unwrap(); // an update of an item the store never had: nothing left
    assert_eq!(s.flush().forgotten, [7]);
    // A key removed and known again within one batch is not forgotten.
    let op = s.begin_update(8, item(&[("n", 1)]));
    s.succeed(op, None).unwrap();
    s.created(item(&[("id", 8)])).unwrap();
    assert!(s.flush().forgotten.is_empty());
    // Tombstones are kept up to their limit; the oldest are then forgotten.
    for id in 0..=MAX_TOMBSTONES as i64 {
        s.created(item(&[("id", 100 + id)])).unwrap();
        s.deleted(100 + id, None);
    }
    assert_eq!(s.flush().forgotten, [100]);
}

#[test]
fn a_snapshot_shows_its_items_in_its_own_order_and_hides_the_keys_it_left_out() {
    let mut s = store(false);
    s.created(item(&[("id", 9)])).unwrap();
    s.replace_all(vec![item(&[("id", 3)]), item(&[("id", 1)]), item(&[("id", 2)])]).unwrap();
    let keys: Vec<i64> = s.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, [3, 1, 2]);
    assert!(s.get(&9).is_none(), "9 was not in the snapshot");
}

#[test]
fn a_snapshot_given_in_parts_ends_as_the_same_snapshot_given_whole() {
    let setup = || {
        let mut l = Ledger::new();
        l.server(9, Some(1.0), true);
        l.server(4, Some(1.0), true);
        l.begin(4, OpKind::Update);
        l.flush();
        l
    };
    let snapshot = [(3, Some(2.0)), (1, None), (4, Some(2.0)), (2, Some(5.0))];
    let mut whole = setup();
    whole.replace_all(&snapshot);
    let mut parts = setup();
    parts.replace_begin(5);
    parts.replace_part(snapshot[..1].iter().copied());
    parts.replace_part(snapshot[1..].iter().copied());
    parts.replace_end();
    for l in [&mut whole, &mut parts] {
        assert_eq!(l.visible().collect::<Vec<_>>(), [4, 3, 1, 2], "4 keeps its place, new keys follow in order, 9 is left out");
        assert_eq!(l.status(4), (1, false), "the pending update stays on top");
        assert!(!l.server(9, Some(1.0), false), "9's version is remembered: its late update stays out");
        assert_eq!(l.flush().diffs, [Diff::Replace]);
    }
}
