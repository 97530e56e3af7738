//! The numeric API that the JS classes (src/js/client.js, src/js/store.js) drive: plain wasm
//! exports that take and return numbers. Each call hands one input to a client's [`Session`]
//! (or to one of its stores' ledgers) and writes what follows into one `f64` buffer that JS
//! reads in place (its address and length sit at the address `ls_header` returns), so no call
//! allocates on the JS side and no string, object or callback ever crosses.
//!
//! Output records, each a tag and its numbers (client.js reads them in `perform`):
//! 1 open gen · 2 refresh-token gen · 3 close gen · 4 send auth · 5 send subscribe
//! (n, feature ids, m, (feature, epoch, seq) × m) · 6 send unsubscribe (n, feature ids) ·
//! 7 send pong · 8 start timer (kind, ms) · 9 stop timer kind · 10 status s · 11 resync feature ·
//! 12 flush outbox (n, ids) · 13 refuse outbox (why, n, ids) · 14 reload store · 15 lost store ·
//! 16 route (op, n, subscription ids) · 17 unreachable.
//! Store calls write a store record instead (see [`store_out`]).

// The exports are reached by symbol name from JS, not through Rust paths.
#![allow(unreachable_pub)]

use crate::core::backoff::Backoff;
use crate::core::connection::{Action, Config, Connection, Input, Outgoing, Refusal, Send, StopReason, Timer};
use crate::core::outbox::OutboxLimits;
use crate::core::router::Scope;
use crate::core::session::{Session, Sink};
use crate::core::store::{Base, Diff, Ledger, OpKind, Settled};
use crate::protocol::StreamState;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

#[derive(Default)]
struct State {
    clients: Vec<Option<Session>>,
    io: Vec<f64>,
    text: Vec<u8>,
    actions: Vec<Action>,
    patches: Vec<u64>,
    dirty: Vec<u32>,
    /// The other output buffer of store calls, which read one while writing the other.
    spare: Vec<f64>,
}

thread_local!(static STATE: RefCell<State> = RefCell::new(State::default()));

/// Where the output buffer is and how long it is, in f64s: read by JS after each call.
static HEADER: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];

fn publish(io: &[f64]) {
    HEADER[0].store(io.as_ptr() as u32, Relaxed);
    HEADER[1].store(io.len() as u32, Relaxed);
}

/// Runs `f` on client `c`'s session with the output buffer cleared, then writes the actions it
/// produced. -1 if there is no such client.
fn call(c: u32, f: impl FnOnce(&mut Session, &mut Vec<Action>, &mut Vec<f64>) -> f64) -> f64 {
    STATE.with(|st| {
        let st = &mut *st.borrow_mut();
        st.io.clear();
        let mut actions = std::mem::take(&mut st.actions);
        let r = match st.clients.get_mut(c as usize).and_then(Option::as_mut) {
            Some(s) => {
                let r = f(s, &mut actions, &mut st.io);
                encode(s, &mut actions, &mut st.io);
                r
            }
            None => -1.0,
        };
        st.actions = actions;
        publish(&st.io);
        r
    })
}

/// Writes actions as records (see the module docs) and empties the list.
fn encode(s: &mut Session, actions: &mut Vec<Action>, io: &mut Vec<f64>) {
    for a in actions.drain(..) {
        let list = |io: &mut Vec<f64>, ids: &[u64]| {
            io.push(ids.len() as f64);
            io.extend(ids.iter().map(|&i| i as f64));
        };
        match a {
            Action::Open { gen } => io.extend([1.0, gen.into()]),
            Action::RefreshToken { gen } => io.extend([2.0, gen.into()]),
            Action::Close { gen } => io.extend([3.0, gen.into()]),
            Action::Send(Outgoing::Auth) => io.push(4.0),
            Action::Send(Outgoing::Subscribe { features, positions }) => {
                io.extend([5.0, features.len() as f64]);
                for f in &features {
                    io.push(s.intern(f).into());
                }
                io.push(positions.len() as f64);
                for (f, p) in &positions {
                    io.extend([s.intern(f).into(), s.intern(&p.epoch).into(), p.seq as f64]);
                }
            }
            Action::Send(Outgoing::Unsubscribe(features)) => {
                io.extend([6.0, features.len() as f64]);
                for f in &features {
                    io.push(s.intern(f).into());
                }
            }
            Action::Send(Outgoing::Pong) => io.push(7.0),
            Action::StartTimer(kind, ms) => io.extend([8.0, kind as u8 as f64, ms]),
            Action::StopTimer(kind) => io.extend([9.0, kind as u8 as f64]),
            Action::Status(st) => io.extend([10.0, st as u8 as f64]),
            Action::Resync(f) => io.extend([11.0, s.intern(&f).into()]),
            Action::Flush(ids) => {
                io.push(12.0);
                list(io, &ids);
            }
            Action::Refuse(ids, why) => {
                io.extend([13.0, (why == Refusal::Disconnected) as u8 as f64]);
                list(io, &ids);
            }
            Action::Reload(sid) => io.extend([14.0, sid.into()]),
            Action::Lost(sid) => io.extend([15.0, sid.into()]),
            Action::Unreachable => io.push(17.0),
        }
    }
}

fn text(st: &State) -> &str {
    std::str::from_utf8(&st.text).unwrap_or("")
}

/// The address of the two u32s that say where the last call's output is (byte address) and
/// how many f64s it has.
#[no_mangle]
pub extern "C" fn ls_header() -> u32 {
    HEADER.as_ptr() as u32
}

/// Room for `bytes` of UTF-8 text (a name, a close reason) for the next call; its address.
#[no_mangle]
pub extern "C" fn ls_text(bytes: u32) -> u32 {
    STATE.with(|st| {
        let t = &mut st.borrow_mut().text;
        t.clear();
        t.resize(bytes as usize, 0);
        t.as_ptr() as u32
    })
}

/// Room for `n` numbers of input (a snapshot's slots and versions) for the next call; its address.
#[no_mangle]
pub extern "C" fn ls_input(n: u32) -> u32 {
    STATE.with(|st| {
        let io = &mut st.borrow_mut().io;
        io.clear();
        io.resize(n as usize, 0.0);
        io.as_ptr() as u32
    })
}

/// A new client; its id, or -1 to -4 for a refused backoff setting (min, max, factor, jitter).
/// `attempts` < 0: retry for ever; `heartbeat` NaN: from the gateway; `outbox_max` 0: no outbox.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ls_client_new(
    min: f64,
    max: f64,
    factor: f64,
    jitter: f64,
    attempts: f64,
    heartbeat: f64,
    connect_timeout: f64,
    outbox_max: f64,
    outbox_age: f64,
    seed: f64,
) -> f64 {
    let backoff = match Backoff::new(min, max, factor, jitter) {
        Ok(b) => b,
        Err(e) => return -1.0 - e as u8 as f64,
    };
    let config = Config {
        backoff,
        max_attempts: (attempts >= 0.0).then_some(attempts as u32),
        heartbeat_timeout_ms: (!heartbeat.is_nan()).then_some(heartbeat),
        connect_timeout_ms: connect_timeout,
        outbox: (outbox_max > 0.0).then(|| OutboxLimits { max_messages: outbox_max as usize, max_age_ms: outbox_age }),
    };
    let session = Session::new(Connection::new(config, seed as u64));
    STATE.with(|st| {
        let clients = &mut st.borrow_mut().clients;
        let id = clients.iter().position(Option::is_none).unwrap_or(clients.len());
        if id == clients.len() {
            clients.push(None);
        }
        clients[id] = Some(session);
        id as f64
    })
}

/// Releases a client, its stores included.
#[no_mangle]
pub extern "C" fn ls_client_free(c: u32) {
    STATE.with(|st| {
        if let Some(slot) = st.borrow_mut().clients.get_mut(c as usize) {
            *slot = None;
        }
    });
}

/// The id of the name in the text buffer, made the first time it is seen.
#[no_mangle]
pub extern "C" fn ls_intern(c: u32) -> f64 {
    STATE.with(|st| {
        let st = &mut *st.borrow_mut();
        let name = std::str::from_utf8(&st.text).unwrap_or("");
        match st.clients.get_mut(c as usize).and_then(Option::as_mut) {
            Some(s) => s.intern(name).into(),
            None => -1.0,
        }
    })
}

/// Keeps a feature subscribed without a local subscriber (the `features` option).
#[no_mangle]
pub extern "C" fn ls_pin(c: u32, feature: u32) -> f64 {
    call(c, |s, out, _| {
        let f = s.name(feature).to_owned();
        s.pin(&f, out);
        0.0
    })
}

/// A connection input: 0 connect, 1 disconnect, 2 online, 3 offline, 4 visible, 5 opened,
/// 6 closed (`a` the code, the reason in the text buffer), 7 heartbeat, 8 timer `a` fired,
/// 9 welcome (`a` heartbeat ms, `b` token ms or NaN), 10 authenticated (`b` token ms or NaN).
#[no_mangle]
pub extern "C" fn ls_input_event(c: u32, kind: u32, gen: u32, a: f64, b: f64, now: f64) -> f64 {
    let reason = STATE.with(|st| text(&st.borrow()).to_owned());
    call(c, |s, out, _| {
        let token = (!b.is_nan()).then_some(b);
        let input = match kind {
            0 => Input::Connect,
            1 => Input::Disconnect,
            2 => Input::Online,
            3 => Input::Offline,
            4 => Input::Visible,
            5 => Input::Opened { gen },
            6 => Input::Closed { gen, code: a as u16, reason: &reason },
            7 => Input::Heartbeat { gen },
            8 => match Timer::ALL.get(a as usize) {
                Some(t) => Input::Fired(*t),
                None => return 0.0,
            },
            9 => Input::Welcome { gen, heartbeat_ms: a, token_ms: token },
            _ => Input::Authenticated { gen, token_ms: token },
        };
        s.handle(input, now, out);
        0.0
    })
}

/// A frame arrived on socket `gen` (a sign of life); `invalid` if it was dropped as malformed.
#[no_mangle]
pub extern "C" fn ls_frame(c: u32, gen: u32, invalid: u32, now: f64) -> f64 {
    call(c, |s, out, _| {
        s.frame(gen, now, out);
        if invalid != 0 {
            s.invalid_frame();
        }
        0.0
    })
}

/// An event of a batch was malformed, or a callback threw (`what` 1).
#[no_mangle]
pub extern "C" fn ls_count(c: u32, what: u32) -> f64 {
    call(c, |s, _, _| {
        if what == 1 {
            s.callback_error();
        } else {
            s.invalid_frame();
        }
        0.0
    })
}

/// An event by interned names (`seq`, `epoch` -1 when absent; `in_batch`: its batch frame was
/// counted already). Ends with a route record: the store operation and the subscriptions.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ls_event(c: u32, gen: u32, feature: u32, entity: u32, action: u32, seq: f64, epoch: f64, in_batch: u32, now: f64) -> f64 {
    call(c, |s, out, io| {
        if in_batch == 0 {
            s.frame(gen, now, out);
        }
        let seq = (seq >= 0.0).then_some(seq as u64);
        let epoch = (epoch >= 0.0).then_some(epoch as u32);
        let n = s.event(feature, entity, action, seq, epoch, out).len();
        encode(s, out, io);
        if n > 0 {
            io.extend([16.0, s.op() as u8 as f64, n as f64]);
            io.extend(s.route().iter().map(|&id| f64::from(id)));
        }
        0.0
    })
}

/// The gateway's `subscribed` reply: the input buffer holds, per feature, its id, its epoch's
/// id, its seq and `recovered` (-1 not asked, 0, 1).
#[no_mangle]
pub extern "C" fn ls_subscribed(c: u32, n: u32) -> f64 {
    let input: Vec<f64> = STATE.with(|st| st.borrow().io.iter().take(4 * n as usize).copied().collect());
    call(c, |s, out, _| {
        for r in input.chunks_exact(4) {
            let feature = s.name(r[0] as u32).to_owned();
            let recovered = (r[3] >= 0.0).then_some(r[3] == 1.0);
            let state = StreamState { epoch: s.name(r[1] as u32).to_owned(), seq: r[2] as u64, recovered };
            s.subscribed(&feature, &state, out);
        }
        0.0
    })
}

/// A `gap` report: the input buffer holds the ids of the features to recover.
#[no_mangle]
pub extern "C" fn ls_gap(c: u32, n: u32) -> f64 {
    let input: Vec<f64> = STATE.with(|st| st.borrow().io.iter().take(n as usize).copied().collect());
    call(c, |s, out, _| {
        let features: Vec<String> = input.iter().map(|&id| s.name(id as u32).to_owned()).collect();
        s.gap(&features, out);
        0.0
    })
}

/// A subscription to a feature (`scope` 0), an entity (1) or an event (2), for a callback
/// (`store` 0) or a store; its id.
#[no_mangle]
pub extern "C" fn ls_subscribe(c: u32, feature: u32, scope: u32, entity: u32, action: u32, store: u32) -> f64 {
    call(c, |s, out, _| {
        let f = s.name(feature).to_owned();
        let scope = match scope {
            0 => Scope::Feature,
            1 => Scope::Entity(s.name(entity).into()),
            _ => Scope::Event(s.name(entity).into(), s.name(action).into()),
        };
        let sink = if store == 0 { Sink::Callback } else { Sink::Store(store) };
        s.subscribe(&f, scope, sink, out).into()
    })
}

/// Removes a subscription; 1 if it existed.
#[no_mangle]
pub extern "C" fn ls_unsubscribe(c: u32, sub: u32) -> f64 {
    call(c, |s, out, _| {
        let store = s.sink(sub);
        let existed = s.unsubscribe(sub, out);
        if let Some(Sink::Store(sid)) = store {
            s.detach_store(sid);
        }
        (existed as u8).into()
    })
}

/// What to do with a message the app sends: -1 not connected, -2 outbox full, 0 send now,
/// or its outbox id.
#[no_mangle]
pub extern "C" fn ls_send(c: u32, now: f64) -> f64 {
    call(c, |s, out, _| match s.send(now, out) {
        Send::NotConnected => -1.0,
        Send::Full => -2.0,
        Send::Now => 0.0,
        Send::Queued(id) => id as f64,
    })
}

/// The client's state, as the output: status, reason kind (-1 none, 0 client, 1 offline,
/// 2 max attempts, 3 rejected), its number (attempts or close code), reconnect attempts, the
/// socket generation (-1 none), connected (0/1), then the 8 counters of `stats()`.
#[no_mangle]
pub extern "C" fn ls_state(c: u32) -> f64 {
    call(c, |s, _, io| {
        let conn = s.conn();
        let (kind, n) = match conn.reason() {
            None => (-1.0, 0.0),
            Some(StopReason::Client) => (0.0, 0.0),
            Some(StopReason::Offline) => (1.0, 0.0),
            Some(StopReason::MaxAttempts { attempts }) => (2.0, (*attempts).into()),
            Some(StopReason::Rejected { code, .. }) => (3.0, (*code).into()),
        };
        let st = s.stats();
        io.extend([
            conn.status() as u8 as f64,
            kind,
            n,
            conn.attempts().into(),
            conn.socket().map_or(-1.0, f64::from),
            (conn.is_connected() as u8).into(),
            st.frames_received.into(),
            st.events_delivered.into(),
            st.invalid_frames.into(),
            st.callback_errors.into(),
            st.connects.into(),
            st.gaps.into(),
            s.duplicates() as f64,
            st.resyncs.into(),
        ]);
        0.0
    })
}

/// A store of `feature` fed by this client (`reloads`: it has a `reload`); its id.
#[no_mangle]
pub extern "C" fn ls_store_new(c: u32, feature: u32, reloads: u32) -> f64 {
    call(c, |s, _, _| {
        let f = s.name(feature).to_owned();
        s.add_store(&f, reloads != 0).into()
    })
}

/// Forgets a store and everything it held.
#[no_mangle]
pub extern "C" fn ls_store_free(c: u32, store: u32) -> f64 {
    call(c, |s, _, _| {
        s.remove_store(store);
        0.0
    })
}

/// Runs `f` on a store's ledger, then writes the store record: `f`'s result, the conflicts
/// found (n, then slot and operation × n), and the views to rebuild: n, then per slot one
/// number, 16 × slot + 1 if it has a confirmed item + 2 × base (0 hidden, 1 confirmed, 2 a
/// create's item) + 8 if update operations apply on top; then that create's operation if base
/// is 2, and the count and ids of those update operations if any. A snapshot's plain items
/// (confirmed, nothing on top) thus take one number each.
fn store_call(c: u32, store: u32, f: impl FnOnce(&mut Ledger, &[f64]) -> f64) -> f64 {
    STATE.with(|st| {
        let st = &mut *st.borrow_mut();
        let mut input = std::mem::take(&mut st.io);
        let mut io = std::mem::take(&mut st.spare);
        io.clear();
        let r = match st.clients.get_mut(c as usize).and_then(Option::as_mut).and_then(|s| s.store(store)) {
            Some(l) => {
                let r = f(l, &input);
                store_out(l, r, &mut io, &mut st.dirty, &mut st.patches);
                r
            }
            None => -1.0,
        };
        st.io = io;
        // Kept for the next call (no allocation per event), unless a snapshot made it large.
        if input.capacity() <= 4096 {
            input.clear();
            st.spare = input;
        }
        publish(&st.io);
        r
    })
}

fn store_out(l: &mut Ledger, r: f64, io: &mut Vec<f64>, dirty: &mut Vec<u32>, patches: &mut Vec<u64>) {
    io.push(r);
    let at = io.len();
    io.push(0.0);
    for (slot, op) in l.take_conflicts() {
        io.extend([slot.into(), op as f64]);
    }
    io[at] = ((io.len() - at - 1) / 2) as f64;
    l.take_dirty(dirty);
    io.push(dirty.len() as f64);
    for &slot in dirty.iter() {
        let (base, op) = match l.view(slot, patches) {
            None => (0, None),
            Some(Base::Confirmed) => (1, None),
            Some(Base::Created(op)) => (2, Some(op)),
        };
        let flags = l.has_confirmed(slot) as u32 + 2 * base + 8 * !patches.is_empty() as u32;
        io.push(f64::from(slot) * 16.0 + f64::from(flags));
        io.extend(op.map(|op| op as f64));
        if !patches.is_empty() {
            io.push(patches.len() as f64);
            io.extend(patches.iter().map(|&p| p as f64));
        }
    }
}

/// A server item for `slot`: `kind` 0 created, 1 updated; `version` NaN for none. The result
/// is 0 if ignored, otherwise the item is the slot's confirmed item now: 1, or 3 when nothing is
/// pending on the slot (its view is that item, and the record says nothing more).
#[no_mangle]
pub extern "C" fn ls_store_server(c: u32, store: u32, slot: u32, kind: u32, version: f64) -> f64 {
    store_call(c, store, |l, _| {
        let version = (!version.is_nan()).then_some(version);
        // 3 when nothing is pending on the slot: no conflict, and its view is the new item.
        f64::from(l.server(slot, version, kind == 0) as u8 * if l.status(slot).0 == 0 { 3 } else { 1 })
    })
}

/// A `deleted` event for `slot`.
#[no_mangle]
pub extern "C" fn ls_store_deleted(c: u32, store: u32, slot: u32, version: f64) -> f64 {
    store_call(c, store, |l, _| {
        l.deleted(slot, (!version.is_nan()).then_some(version));
        0.0
    })
}

/// A snapshot, in parts: the input buffer holds `n` pairs of slot and version (NaN for none).
/// `part` is 1 for the first part (`top` is one more than the snapshot's highest slot), 2 for
/// the last, 3 for a snapshot in one part, 0 for one in between.
#[no_mangle]
pub extern "C" fn ls_store_replace(c: u32, store: u32, n: u32, top: u32, part: u32) -> f64 {
    store_call(c, store, |l, input| {
        if part & 1 != 0 {
            l.replace_begin(top as usize);
        }
        l.replace_part(input.chunks_exact(2).take(n as usize).map(|p| (p[0] as u32, (!p[1].is_nan()).then_some(p[1]))));
        if part & 2 != 0 {
            l.replace_end();
        }
        0.0
    })
}

/// Starts an optimistic operation (`kind` 0 create, 1 update, 2 delete); the result is its id.
#[no_mangle]
pub extern "C" fn ls_store_begin(c: u32, store: u32, slot: u32, kind: u32) -> f64 {
    store_call(c, store, |l, _| {
        let kind = [OpKind::Create, OpKind::Update, OpKind::Delete][kind.min(2) as usize];
        l.begin(slot, kind) as f64
    })
}

/// An operation succeeded, with the server's item at `slot` (-1 for none). The result: 0
/// nothing to do, else 1 + 3 × slot + (0 the result is confirmed, 1 merge the patch into the
/// confirmed item, 2 the create's item is confirmed).
#[no_mangle]
pub extern "C" fn ls_store_succeed(c: u32, store: u32, op: f64, slot: f64, version: f64) -> f64 {
    store_call(c, store, |l, _| {
        let result = (slot >= 0.0).then(|| (slot as u32, (!version.is_nan()).then_some(version)));
        match l.succeed(op as u64, result) {
            Settled::Nothing => 0.0,
            Settled::Result(s) => 1.0 + 3.0 * f64::from(s),
            Settled::Merge(s) => 2.0 + 3.0 * f64::from(s),
            Settled::Confirm(s) => 3.0 + 3.0 * f64::from(s),
        }
    })
}

/// An operation failed; the result is its slot, or -1 if it was gone.
#[no_mangle]
pub extern "C" fn ls_store_fail(c: u32, store: u32, op: f64) -> f64 {
    store_call(c, store, |l, _| l.fail(op as u64).map_or(-1.0, f64::from))
}

/// Ends a batch. Output: n diffs as (kind 0 insert, 1 update, 2 remove, 3 replace; slot), then
/// m forgotten slots, then the number of visible items.
#[no_mangle]
pub extern "C" fn ls_store_flush(c: u32, store: u32) -> f64 {
    ledger_read(c, store, |l, io| {
        let f = l.flush();
        io.push(f.diffs.len() as f64);
        for d in &f.diffs {
            let (k, s) = match d {
                Diff::Insert(s) => (0.0, *s),
                Diff::Update(s) => (1.0, *s),
                Diff::Remove(s) => (2.0, *s),
                Diff::Replace => (3.0, 0),
            };
            io.extend([k, s.into()]);
        }
        io.push(f.forgotten.len() as f64);
        io.extend(f.forgotten.iter().map(|&s| f64::from(s)));
        io.push(l.len() as f64);
    })
}

/// Output: the visible slots in order.
#[no_mangle]
pub extern "C" fn ls_store_visible(c: u32, store: u32) -> f64 {
    ledger_read(c, store, |l, io| io.extend(l.visible().map(f64::from)))
}

/// Output: visible items, operations in flight, and the slot's pending count and error (0/1).
#[no_mangle]
pub extern "C" fn ls_store_state(c: u32, store: u32, slot: u32) -> f64 {
    ledger_read(c, store, |l, io| {
        let (pending, error) = l.status(slot);
        io.extend([l.len() as f64, l.pending_count() as f64, pending.into(), (error as u8).into()]);
    })
}

fn ledger_read(c: u32, store: u32, f: impl FnOnce(&mut Ledger, &mut Vec<f64>)) -> f64 {
    STATE.with(|st| {
        let st = &mut *st.borrow_mut();
        st.io.clear();
        let r = match st.clients.get_mut(c as usize).and_then(Option::as_mut).and_then(|s| s.store(store)) {
            Some(l) => {
                f(l, &mut st.io);
                0.0
            }
            None => -1.0,
        };
        publish(&st.io);
        r
    })
}
