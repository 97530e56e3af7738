//! Native tests of the connection state machine: status transitions, retries, heartbeats.

use super::*;
use crate::core::router::Scope;
use ConnectionStatus::*;

fn machine(max_attempts: Option<u32>) -> Connection {
    let config = Config { max_attempts, heartbeat_timeout_ms: Some(3000.0), ..Config::default() };
    Connection::new(config, 1)
}

fn step(c: &mut Connection, input: Input<'_>, now: f64) -> Vec<Action> {
    let mut out = Vec::new();
    c.handle(input, now, &mut out);
    out
}

fn statuses(actions: &[Action]) -> Vec<ConnectionStatus> {
    actions.iter().filter_map(|a| if let Action::Status(s) = a { Some(*s) } else { None }).collect()
}

fn retry_delay(actions: &[Action]) -> Option<f64> {
    actions.iter().find_map(|a| if let Action::StartTimer(Timer::Retry, d) = a { Some(*d) } else { None })
}

/// Drives connect -> open -> welcome and returns the socket generation.
fn connect(c: &mut Connection, now: f64) -> u32 {
    let out = step(c, Input::Connect, now);
    let gen = c.socket().expect("a socket is being opened");
    assert!(out.contains(&Action::Open { gen }));
    step(c, Input::Opened { gen }, now);
    step(c, Input::Welcome { gen, heartbeat_ms: 1000.0, token_ms: None }, now);
    gen
}

#[test]
fn a_new_client_is_disconnected_and_connect_reports_connecting_then_connected() {
    let mut c = machine(Some(5));
    assert_eq!(c.status(), Disconnected);
    let out = step(&mut c, Input::Connect, 0.0);
    assert_eq!(statuses(&out), [Connecting]);
    let gen = c.socket().unwrap();
    assert_eq!(step(&mut c, Input::Opened { gen }, 1.0), [Action::Send(Outgoing::Auth)]);
    let out = step(&mut c, Input::Welcome { gen, heartbeat_ms: 1000.0, token_ms: None }, 2.0);
    assert_eq!(statuses(&out), [Connected]);
    assert!(c.is_connected());
}

#[test]
fn connect_while_connected_does_nothing() {
    let mut c = machine(Some(5));
    connect(&mut c, 0.0);
    assert!(step(&mut c, Input::Connect, 1.0).is_empty());
}

#[test]
fn an_unexpected_close_schedules_a_retry_with_backoff_and_the_retry_opens_a_new_socket() {
    let mut c = machine(Some(5));
    let gen = connect(&mut c, 0.0);
    let out = step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 10.0);
    assert_eq!(statuses(&out), [Reconnecting]);
    assert!(out.contains(&Action::Close { gen }));
    let delay = retry_delay(&out).expect("retry timer");
    assert!((500.0..=1000.0).contains(&delay), "first retry waits 0.5-1 s, got {delay}");
    let out = step(&mut c, Input::Fired(Timer::Retry), 10.0 + delay);
    assert!(out.contains(&Action::Open { gen: gen + 1 }));
}

#[test]
fn the_attempt_counter_resets_after_a_successful_connect() {
    let mut c = machine(Some(5));
    let mut gen = connect(&mut c, 0.0);
    for _ in 0..3 {
        step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 0.0);
        step(&mut c, Input::Fired(Timer::Retry), 0.0);
        gen = c.socket().unwrap();
    }
    assert_eq!(c.attempts(), 3);
    step(&mut c, Input::Opened { gen }, 0.0);
    step(&mut c, Input::Welcome { gen, heartbeat_ms: 1000.0, token_ms: None }, 0.0);
    assert_eq!(c.attempts(), 0);
    let out = step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 0.0);
    assert!(retry_delay(&out).unwrap() <= 1000.0, "back to the first, shortest delay");
}

#[test]
fn after_max_attempts_failed_retries_the_status_is_disconnected_with_a_reason() {
    let mut c = machine(Some(2));
    let mut gen = connect(&mut c, 0.0);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let out = step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 0.0);
        seen.extend(statuses(&out));
        if c.status() == Disconnected {
            break;
        }
        step(&mut c, Input::Fired(Timer::Retry), 0.0);
        gen = c.socket().unwrap();
    }
    assert_eq!(seen, [Reconnecting, Disconnected]);
    assert_eq!(c.reason(), Some(&StopReason::MaxAttempts { attempts: 2 }));
    assert!(step(&mut c, Input::Fired(Timer::Retry), 0.0).is_empty(), "nothing more is tried");
}

#[test]
fn unlimited_attempts_keep_retrying() {
    let mut c = machine(None);
    let mut gen = connect(&mut c, 0.0);
    for _ in 0..200 {
        let out = step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 0.0);
        assert!(retry_delay(&out).unwrap() <= 20_000.0);
        step(&mut c, Input::Fired(Timer::Retry), 0.0);
        gen = c.socket().unwrap();
    }
    assert_eq!(c.status(), Reconnecting);
}

#[test]
fn auth_and_policy_close_codes_stop_reconnecting() {
    for code in [codes::UNAUTHORIZED, codes::POLICY, codes::FORBIDDEN] {
        let mut c = machine(Some(5));
        let gen = connect(&mut c, 0.0);
        let out = step(&mut c, Input::Closed { gen, code, reason: "token expired" }, 0.0);
        assert_eq!(statuses(&out), [Disconnected]);
        assert_eq!(retry_delay(&out), None);
        assert_eq!(c.reason(), Some(&StopReason::Rejected { code, reason: "token expired".into() }));
    }
}

#[test]
fn disconnect_closes_the_socket_cancels_timers_and_never_reconnects() {
    let mut c = machine(Some(5));
    let gen = connect(&mut c, 0.0);
    c.subscribe("rbac", Scope::Feature, &mut Vec::new());
    let out = step(&mut c, Input::Disconnect, 0.0);
    assert!(out.contains(&Action::Close { gen }));
    assert!(out.contains(&Action::StopTimer(Timer::Retry)));
    assert!(out.contains(&Action::StopTimer(Timer::Heartbeat)));
    assert_eq!(c.reason(), Some(&StopReason::Client));
    assert!(c.router().features().is_empty(), "subscriptions are cleared");
    // The old socket's close event arrives later and changes nothing.
    assert!(step(&mut c, Input::Closed { gen, code: 1000, reason: "" }, 0.0).is_empty());
    assert!(step(&mut c, Input::Fired(Timer::Retry), 0.0).is_empty());
    assert_eq!(c.status(), Disconnected);
}

#[test]
fn disconnect_while_waiting_to_retry_cancels_the_retry() {
    let mut c = machine(Some(5));
    let gen = connect(&mut c, 0.0);
    step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 0.0);
    let out = step(&mut c, Input::Disconnect, 0.0);
    assert!(out.contains(&Action::StopTimer(Timer::Retry)));
    assert_eq!(statuses(&out), [Disconnected]);
}

#[test]
fn callbacks_from_a_replaced_socket_are_ignored() {
    let mut c = machine(Some(5));
    let old = connect(&mut c, 0.0);
    step(&mut c, Input::Closed { gen: old, code: 1006, reason: "" }, 0.0);
    step(&mut c, Input::Fired(Timer::Retry), 0.0);
    let new = c.socket().unwrap();
    assert_ne!(old, new);
    assert!(step(&mut c, Input::Opened { gen: old }, 0.0).is_empty());
    assert!(step(&mut c, Input::Welcome { gen: old, heartbeat_ms: 1.0, token_ms: None }, 0.0).is_empty());
    assert!(step(&mut c, Input::Closed { gen: old, code: 1006, reason: "" }, 0.0).is_empty());
    assert_eq!(c.socket(), Some(new));
}

#[test]
fn silence_longer_than_the_heartbeat_timeout_reconnects() {
    let mut c = machine(Some(5)); // timeout 3000 ms
    let gen = connect(&mut c, 0.0);
    step(&mut c, Input::Activity { gen }, 2000.0);
    // The check at 3000 finds only 1000 ms of silence and re-arms for the rest.
    let out = step(&mut c, Input::Fired(Timer::Heartbeat), 3000.0);
    assert_eq!(out, [Action::StartTimer(Timer::Heartbeat, 2000.0)]);
    let out = step(&mut c, Input::Fired(Timer::Heartbeat), 5000.0);
    assert!(out.contains(&Action::Close { gen }));
    assert_eq!(statuses(&out), [Reconnecting]);
}

#[test]
fn heartbeats_are_answered_with_pong_and_keep_the_connection_alive() {
    let mut c = machine(Some(5));
    let gen = connect(&mut c, 0.0);
    assert_eq!(step(&mut c, Input::Heartbeat { gen }, 2500.0), [Action::Send(Outgoing::Pong)]);
    let out = step(&mut c, Input::Fired(Timer::Heartbeat), 3000.0);
    assert_eq!(out, [Action::StartTimer(Timer::Heartbeat, 2500.0)]);
}

#[test]
fn the_heartbeat_timeout_defaults_to_one_and_a_half_gateway_intervals_plus_a_second() {
    let mut c = Connection::new(Config::default(), 1);
    step(&mut c, Input::Connect, 0.0);
    let gen = c.socket().unwrap();
    step(&mut c, Input::Opened { gen }, 0.0);
    let out = step(&mut c, Input::Welcome { gen, heartbeat_ms: 30_000.0, token_ms: None }, 0.0);
    assert!(out.contains(&Action::StartTimer(Timer::Heartbeat, 46_000.0)));
}

#[test]
fn a_gateway_that_never_welcomes_us_times_out_and_is_retried() {
    let mut c = machine(Some(5));
    let out = step(&mut c, Input::Connect, 0.0);
    assert!(out.contains(&Action::StartTimer(Timer::Connect, 10_000.0)));
    let gen = c.socket().unwrap();
    let out = step(&mut c, Input::Fired(Timer::Connect), 10_000.0);
    assert!(out.contains(&Action::Close { gen }));
    assert!(retry_delay(&out).is_some());
}

#[test]
fn going_online_while_waiting_reconnects_at_once() {
    let mut c = machine(Some(5));
    let gen = connect(&mut c, 0.0);
    step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 0.0);
    let out = step(&mut c, Input::Online, 1.0);
    assert!(out.contains(&Action::StopTimer(Timer::Retry)));
    assert!(out.contains(&Action::Open { gen: gen + 1 }));
}

#[test]
fn going_online_revives_a_client_that_gave_up_but_not_one_that_was_disconnected_on_purpose() {
    let mut c = machine(Some(0));
    let gen = connect(&mut c, 0.0);
    step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 0.0);
    assert_eq!(c.status(), Disconnected);
    assert!(step(&mut c, Input::Online, 0.0).iter().any(|a| matches!(a, Action::Open { .. })));

    let mut c = machine(Some(5));
    connect(&mut c, 0.0);
    step(&mut c, Input::Disconnect, 0.0);
    assert!(step(&mut c, Input::Online, 0.0).is_empty());

    let mut c = machine(Some(5));
    assert!(step(&mut c, Input::Online, 0.0).is_empty(), "never connected: stays put");
}

#[test]
fn subscriptions_are_sent_once_per_feature_and_resent_after_every_reconnect() {
    let mut c = machine(Some(5));
    let mut out = Vec::new();
    let a = c.subscribe("rbac", Scope::Feature, &mut out);
    assert!(out.is_empty(), "nothing to send before a socket is open");
    let gen = connect(&mut c, 0.0);

    let mut out = Vec::new();
    let b = c.subscribe("rbac", Scope::Entity("role".into()), &mut out);
    let u = c.subscribe("users", Scope::Feature, &mut out);
    assert_eq!(out, [Action::Send(Outgoing::Subscribe { features: vec!["users".into()], positions: Default::default() })]);

    step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 0.0);
    step(&mut c, Input::Fired(Timer::Retry), 0.0);
    let gen = c.socket().unwrap();
    let out = step(&mut c, Input::Opened { gen }, 0.0);
    assert_eq!(
        out,
        [
            Action::Send(Outgoing::Auth),
            Action::Send(Outgoing::Subscribe { features: vec!["rbac".into(), "users".into()], positions: Default::default() })
        ]
    );

    let mut out = Vec::new();
    c.unsubscribe(a, &mut out);
    c.unsubscribe(u, &mut out);
    c.unsubscribe(b, &mut out);
    assert_eq!(out, [Action::Send(Outgoing::Unsubscribe(vec!["users".into()])), Action::Send(Outgoing::Unsubscribe(vec!["rbac".into()]))]);
}

#[test]
fn pinned_features_are_subscribed_on_every_connect() {
    let mut c = machine(Some(5));
    c.pin("orders", &mut Vec::new());
    step(&mut c, Input::Connect, 0.0);
    let gen = c.socket().unwrap();
    let out = step(&mut c, Input::Opened { gen }, 0.0);
    assert!(out.contains(&Action::Send(Outgoing::Subscribe { features: vec!["orders".into()], positions: Default::default() })));
}

#[test]
fn the_same_seed_gives_the_same_retry_delays() {
    let delays = |seed| {
        let mut c = Connection::new(Config { max_attempts: None, ..Config::default() }, seed);
        let mut gen = connect(&mut c, 0.0);
        (0..10)
            .map(|_| {
                let d = retry_delay(&step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 0.0)).unwrap();
                step(&mut c, Input::Fired(Timer::Retry), 0.0);
                gen = c.socket().unwrap();
                d
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(delays(9), delays(9));
    assert_ne!(delays(9), delays(10));
}

#[test]
fn a_token_is_refreshed_in_band_before_it_expires_and_again_after_each_refresh() {
    let mut c = machine(Some(5));
    step(&mut c, Input::Connect, 0.0);
    let gen = c.socket().unwrap();
    step(&mut c, Input::Opened { gen }, 0.0);
    let out = step(&mut c, Input::Welcome { gen, heartbeat_ms: 1000.0, token_ms: Some(3_600_000.0) }, 0.0);
    assert!(out.contains(&Action::StartTimer(Timer::Refresh, 3_570_000.0)), "30 s before an hour-long token ends");
    assert_eq!(step(&mut c, Input::Fired(Timer::Refresh), 3_570_000.0), [Action::RefreshToken { gen }]);
    let out = step(&mut c, Input::Authenticated { gen, token_ms: Some(10_000.0) }, 3_570_100.0);
    assert_eq!(out, [Action::StartTimer(Timer::Refresh, 8_000.0)], "short tokens refresh with a fifth of their life left");
    let out = step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 3_571_000.0);
    assert!(out.contains(&Action::StopTimer(Timer::Refresh)), "no refresh for a closed socket");
}

#[test]
fn after_a_reconnect_each_feature_resumes_from_the_last_event_seen() {
    use crate::protocol::{Position, StreamState};
    let mut c = machine(Some(5));
    c.subscribe("rbac", Scope::Feature, &mut Vec::new());
    c.subscribe("users", Scope::Feature, &mut Vec::new());
    let gen = connect(&mut c, 0.0);
    let mut out = Vec::new();
    c.subscribed("rbac", &StreamState { epoch: "e1".into(), seq: 3, recovered: None }, &mut out);
    assert!(c.event("rbac", Some("e1"), Some(4), &mut out));
    assert!(out.is_empty());
    step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 0.0);
    step(&mut c, Input::Fired(Timer::Retry), 0.0);
    let gen = c.socket().unwrap();
    let out = step(&mut c, Input::Opened { gen }, 0.0);
    let positions = vec![("rbac".to_string(), Position { epoch: "e1".into(), seq: 4 })];
    assert!(out.contains(&Action::Send(Outgoing::Subscribe { features: vec!["rbac".into(), "users".into()], positions })));
    let mut out = Vec::new();
    c.subscribed("rbac", &StreamState { epoch: "e2".into(), seq: 0, recovered: Some(false) }, &mut out);
    assert_eq!(out, [Action::Resync("rbac".into())], "the gateway restarted: the app must reload");
}

#[test]
fn a_sequence_jump_on_the_live_stream_asks_for_a_replay_on_the_same_socket() {
    use crate::protocol::StreamState;
    let mut c = machine(Some(5));
    c.subscribe("rbac", Scope::Feature, &mut Vec::new());
    connect(&mut c, 0.0);
    let mut out = Vec::new();
    c.subscribed("rbac", &StreamState { epoch: "e1".into(), seq: 10, recovered: None }, &mut out);
    assert!(!c.event("rbac", Some("e1"), Some(13), &mut out), "not delivered out of order");
    assert!(
        matches!(&out[..], [Action::Send(Outgoing::Subscribe { positions, .. })] if positions[0].0 == "rbac" && positions[0].1.seq == 10)
    );
}

#[test]
fn offline_stops_futile_retries_and_online_reconnects_at_once() {
    let mut c = machine(None);
    let gen = connect(&mut c, 0.0);
    step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 0.0);
    assert_eq!(c.status(), Reconnecting);
    let out = step(&mut c, Input::Offline, 1.0);
    assert!(out.contains(&Action::StopTimer(Timer::Retry)));
    assert_eq!(statuses(&out), [Disconnected]);
    assert_eq!(c.reason(), Some(&StopReason::Offline));
    let out = step(&mut c, Input::Online, 2.0);
    assert!(out.iter().any(|a| matches!(a, Action::Open { .. })));
    assert_eq!(c.status(), Reconnecting);
}

#[test]
fn a_socket_that_dies_while_offline_does_not_start_retrying() {
    let mut c = machine(None);
    let gen = connect(&mut c, 0.0);
    assert!(step(&mut c, Input::Offline, 0.0).is_empty(), "an open socket is kept through a blip");
    let out = step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 1.0);
    assert_eq!(retry_delay(&out), None);
    assert_eq!(c.reason(), Some(&StopReason::Offline));
}

#[test]
fn a_tab_coming_back_checks_its_connection_at_once() {
    let mut c = machine(Some(5)); // heartbeat timeout 3000 ms
    let gen = connect(&mut c, 0.0);
    assert!(step(&mut c, Input::Visible, 1000.0).is_empty(), "recently heard from: nothing to do");
    let out = step(&mut c, Input::Visible, 60_000.0); // the throttled heartbeat timer never ran
    assert!(out.contains(&Action::Close { gen }));
    assert_eq!(c.status(), Reconnecting);
    // Visible while waiting to retry: retry now.
    let out = step(&mut c, Input::Visible, 60_001.0);
    assert!(out.iter().any(|a| matches!(a, Action::Open { .. })));
}

#[test]
fn with_an_outbox_sends_wait_for_the_next_connect_and_go_out_in_order() {
    use crate::core::outbox::OutboxLimits;
    let config = Config { outbox: Some(OutboxLimits { max_messages: 2, max_age_ms: 1000.0 }), ..Config::default() };
    let mut c = Connection::new(config, 1);
    let mut out = Vec::new();
    let Send::Queued(a) = c.send(0.0, &mut out) else { panic!("queued") };
    assert_eq!(out, [Action::StartTimer(Timer::Outbox, 1000.0)]);
    let Send::Queued(b) = c.send(10.0, &mut Vec::new()) else { panic!("queued") };
    assert_eq!(c.send(20.0, &mut Vec::new()), Send::Full);
    let gen = {
        step(&mut c, Input::Connect, 30.0);
        c.socket().unwrap()
    };
    step(&mut c, Input::Opened { gen }, 40.0);
    let out = step(&mut c, Input::Welcome { gen, heartbeat_ms: 1000.0, token_ms: None }, 50.0);
    assert!(out.contains(&Action::Flush(vec![a, b])));
    assert_eq!(c.send(60.0, &mut Vec::new()), Send::Now);
}

#[test]
fn outbox_messages_that_wait_too_long_or_meet_a_disconnect_are_refused() {
    use crate::core::outbox::OutboxLimits;
    let config = Config { outbox: Some(OutboxLimits { max_messages: 10, max_age_ms: 100.0 }), ..Config::default() };
    let mut c = Connection::new(config, 1);
    let Send::Queued(a) = c.send(0.0, &mut Vec::new()) else { panic!() };
    let Send::Queued(b) = c.send(60.0, &mut Vec::new()) else { panic!() };
    let out = step(&mut c, Input::Fired(Timer::Outbox), 100.0);
    assert_eq!(out, [Action::Refuse(vec![a], Refusal::Expired), Action::StartTimer(Timer::Outbox, 60.0)]);
    let out = step(&mut c, Input::Disconnect, 110.0);
    assert!(out.contains(&Action::Refuse(vec![b], Refusal::Disconnected)));
    let mut plain = machine(Some(5));
    assert_eq!(plain.send(0.0, &mut Vec::new()), Send::NotConnected, "without an outbox, sends need a connection");
}

#[test]
fn timers_are_listed_in_the_order_of_their_numbers() {
    for (i, t) in Timer::ALL.iter().enumerate() {
        assert_eq!(*t as usize, i, "{t:?}");
    }
}

#[test]
fn retries_before_the_first_connection_are_connecting_and_after_a_drop_reconnecting() {
    let mut c = machine(None);
    step(&mut c, Input::Connect, 0.0);
    let gen = c.socket().unwrap();
    let out = step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 1.0);
    assert!(statuses(&out).is_empty(), "still connecting while the first attempts fail");
    assert_eq!(c.status(), Connecting);
    step(&mut c, Input::Fired(Timer::Retry), 2.0);
    let gen = c.socket().unwrap();
    step(&mut c, Input::Opened { gen }, 3.0);
    step(&mut c, Input::Welcome { gen, heartbeat_ms: 1000.0, token_ms: None }, 3.0);
    let out = step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 4.0);
    assert_eq!(statuses(&out), [Reconnecting]);
    // disconnect() and connect() again start over: connecting.
    step(&mut c, Input::Disconnect, 5.0);
    let out = step(&mut c, Input::Connect, 6.0);
    assert_eq!(statuses(&out), [Connecting]);
}

#[test]
fn a_socket_that_never_opens_is_reported_unreachable_once_per_connect_until_a_connection_is_up() {
    let mut c = machine(None);
    step(&mut c, Input::Connect, 0.0);
    let unreachable = |out: &[Action]| out.iter().filter(|a| matches!(a, Action::Unreachable)).count();
    let mut told = 0;
    for t in 0..3 {
        let gen = c.socket().unwrap();
        told += unreachable(&step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, t as f64));
        step(&mut c, Input::Fired(Timer::Retry), t as f64);
    }
    // A connect timeout is the same story; it is not told again.
    told += unreachable(&step(&mut c, Input::Fired(Timer::Connect), 10.0));
    assert_eq!(told, 1, "after the first failed attempt, and only then");
    // Once connected, a later outage that cannot even open a socket is told again.
    step(&mut c, Input::Fired(Timer::Retry), 11.0);
    let gen = c.socket().unwrap();
    step(&mut c, Input::Opened { gen }, 12.0);
    step(&mut c, Input::Welcome { gen, heartbeat_ms: 1000.0, token_ms: None }, 12.0);
    let out = step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 13.0);
    assert_eq!(unreachable(&out), 0, "an open connection that drops is not a refused handshake");
    step(&mut c, Input::Fired(Timer::Retry), 14.0);
    let gen = c.socket().unwrap();
    assert_eq!(unreachable(&step(&mut c, Input::Closed { gen, code: 1006, reason: "" }, 15.0)), 1);
}
