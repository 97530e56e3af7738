//! `Session`: the whole client as one pure state machine. It owns the connection machine (with
//! its router, recovery positions and outbox), the table of where each subscription's events
//! go, the stores' registrations and the counters. The browser facade hands it inputs (an
//! event's interned names and position, a frame, a socket event, a timer, an API call) and
//! performs the [`Action`]s that come out; it decides nothing itself.
//!
//! Names cross the boundary once: [`Session::intern`] gives each feature, entity, action and
//! epoch name a small id, and events come in as ids.

use super::connection::{Action, Connection, Input};
use super::router::{Scope, SubId};
use super::store::Ledger;
use super::vecmap::VecMap;
use crate::protocol::StreamState;

/// An interned name (feature, entity, action or epoch).
pub type NameId = u32;

/// A store registered with the session.
pub type StoreId = u32;

/// Where one subscription's events go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    /// An app callback, held by the facade.
    Callback,
    /// A keyed store.
    Store(StoreId),
}

/// What a store does with an event, from the event's action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOp {
    /// `created`: insert or replace the item.
    Created = 0,
    /// `updated`: replace the item.
    Updated = 1,
    /// `deleted`: remove the item (its data is `{id}`, a whole item, or a bare id).
    Deleted = 2,
    /// Any other action: the store does not change; its `onAction` hook hears of it.
    Other = 3,
}

impl StoreOp {
    /// The operation for an action name.
    pub fn of(action: &str) -> Self {
        match action {
            "created" => Self::Created,
            "updated" => Self::Updated,
            "deleted" => Self::Deleted,
            _ => Self::Other,
        }
    }
}

/// Counters the app reads with `stats()`: nothing is dropped without one of them moving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames received, valid or not.
    pub frames_received: u32,
    /// Events routed to at least one subscription.
    pub events_delivered: u32,
    /// Frames dropped as malformed.
    pub invalid_frames: u32,
    /// Subscriber callbacks that threw.
    pub callback_errors: u32,
    /// Successful connects, the first one included.
    pub connects: u32,
    /// Gap reports from the gateway.
    pub gaps: u32,
    /// Features whose lost events could not be replayed.
    pub resyncs: u32,
}

struct StoreReg {
    feature: NameId,
    /// The store can fetch its items again (it has a `reload`).
    reloads: bool,
    /// Still fed by this session (until its unsubscribe, or `disconnect`); a store that is not
    /// keeps its items and operations, and hears of no resync.
    live: bool,
    ledger: Ledger,
}

/// See the module docs.
pub struct Session {
    conn: Connection,
    names: Vec<Box<str>>,
    ids: VecMap<Box<str>, NameId>,
    sinks: VecMap<SubId, Sink>,
    stores: VecMap<StoreId, StoreReg>,
    next_store: StoreId,
    stats: Stats,
    /// Subscriptions the current event goes to, in dispatch order.
    route: Vec<SubId>,
    op: StoreOp,
}

impl Session {
    /// A disconnected session.
    pub fn new(conn: Connection) -> Self {
        Self {
            conn,
            names: Vec::new(),
            ids: VecMap::default(),
            sinks: VecMap::default(),
            stores: VecMap::default(),
            next_store: 0,
            stats: Stats::default(),
            route: Vec::new(),
            op: StoreOp::Other,
        }
    }

    /// The connection machine (status, reason, attempts, socket generation).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The counters; duplicates are the recovery's own count.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Events dropped because they had been delivered already.
    pub fn duplicates(&self) -> u64 {
        self.conn.duplicates()
    }

    /// The id of a name, made the first time it is seen.
    pub fn intern(&mut self, name: &str) -> NameId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as NameId;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// The name behind an id.
    pub fn name(&self, id: NameId) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }

    /// A connection input: a socket event, a timer, the page going on- or offline, connect or
    /// disconnect. `disconnect` drops every subscription.
    pub fn handle(&mut self, input: Input<'_>, now: f64, out: &mut Vec<Action>) {
        if matches!(input, Input::Disconnect) {
            self.sinks.clear();
            self.stores.retain(|_, s| {
                s.live = false;
                true
            });
        }
        let from = out.len();
        self.conn.handle(input, now, out);
        self.follow(from, out);
    }

    /// Decides what to do with a message the app sends.
    pub fn send(&mut self, now: f64, out: &mut Vec<Action>) -> super::connection::Send {
        self.conn.send(now, out)
    }

    /// Keeps a feature subscribed without a local subscriber.
    pub fn pin(&mut self, feature: &str, out: &mut Vec<Action>) {
        self.conn.pin(feature, out);
    }

    /// Adds a subscription whose events go to `sink`.
    pub fn subscribe(&mut self, feature: &str, scope: Scope, sink: Sink, out: &mut Vec<Action>) -> SubId {
        let id = self.conn.subscribe(feature, scope, out);
        self.sinks.insert(id, sink);
        id
    }

    /// Removes a subscription; false if it was gone already (so the facade can release what it
    /// held for it once).
    pub fn unsubscribe(&mut self, id: SubId, out: &mut Vec<Action>) -> bool {
        if self.sinks.remove(&id).is_none() {
            return false;
        }
        self.conn.unsubscribe(id, out);
        true
    }

    /// True while the subscription exists. A callback may unsubscribe another one during
    /// dispatch: the facade asks before each delivery, and skips the ones gone.
    pub fn is_live(&self, id: SubId) -> bool {
        self.sinks.contains_key(&id)
    }

    /// Where a subscription's events go.
    pub fn sink(&self, id: SubId) -> Option<Sink> {
        self.sinks.get(&id).copied()
    }

    /// Registers a store of `feature` with an empty ledger; `reloads` if it can fetch its items
    /// again.
    pub fn add_store(&mut self, feature: &str, reloads: bool) -> StoreId {
        self.next_store += 1;
        let feature = self.intern(feature);
        self.stores.insert(self.next_store, StoreReg { feature, reloads, live: true, ledger: Ledger::new() });
        self.next_store
    }

    /// The ledger of a store.
    pub fn store(&mut self, id: StoreId) -> Option<&mut Ledger> {
        self.stores.get_mut(&id).map(|s| &mut s.ledger)
    }

    /// Stops feeding a store (its subscription is removed with `unsubscribe`); it keeps its
    /// ledger until [`Session::remove_store`].
    pub fn detach_store(&mut self, id: StoreId) {
        if let Some(s) = self.stores.get_mut(&id) {
            s.live = false;
        }
    }

    /// Forgets a store and its ledger.
    pub fn remove_store(&mut self, id: StoreId) {
        self.stores.remove(&id);
    }

    /// A frame arrived on socket `gen`; it counts as a sign of life.
    pub fn frame(&mut self, gen: u32, now: f64, out: &mut Vec<Action>) {
        self.stats.frames_received += 1;
        self.handle(Input::Activity { gen }, now, out);
    }

    /// A frame (or one event of a batch) was malformed and dropped.
    pub fn invalid_frame(&mut self) {
        self.stats.invalid_frames += 1;
    }

    /// A subscriber's callback threw.
    pub fn callback_error(&mut self) {
        self.stats.callback_errors += 1;
    }

    /// An event, by interned names. Returns the subscriptions to deliver it to, in order:
    /// feature-wide first, then the entity's, then the action's; empty for a duplicate, or an
    /// event that reveals a gap (a replay is asked for instead). [`Session::op`] then says what
    /// stores do with it.
    pub fn event(
        &mut self,
        feature: NameId,
        entity: NameId,
        action: NameId,
        seq: Option<u64>,
        epoch: Option<NameId>,
        out: &mut Vec<Action>,
    ) -> &[SubId] {
        self.route.clear();
        let names = &self.names;
        let name = |id: NameId| names.get(id as usize).map_or("", |n| &**n);
        let (f, e, a) = (name(feature), name(entity), name(action));
        let epoch = epoch.map(name);
        let from = out.len();
        let deliver = self.conn.event(f, epoch, seq, out);
        if deliver {
            self.conn.router().route(f, e, a, &mut self.route);
            self.op = StoreOp::of(a);
        }
        if !self.route.is_empty() {
            self.stats.events_delivered += 1;
        }
        self.follow(from, out);
        &self.route
    }

    /// The subscriptions [`Session::event`] routed the last event to.
    pub fn route(&self) -> &[SubId] {
        &self.route
    }

    /// What stores do with the event [`Session::event`] routed last.
    pub fn op(&self) -> StoreOp {
        self.op
    }

    /// The gateway's reply to `subscribe`, for one feature.
    pub fn subscribed(&mut self, feature: &str, state: &StreamState, out: &mut Vec<Action>) {
        let from = out.len();
        self.conn.subscribed(feature, state, out);
        self.follow(from, out);
    }

    /// The gateway dropped events of these features for us: each is recovered.
    pub fn gap(&mut self, features: &[String], out: &mut Vec<Action>) {
        self.stats.gaps += 1;
        for f in features {
            self.conn.gap(f, out);
        }
    }

    /// Counts what the connection decided, and adds what follows from it: a feature that must
    /// be resynced reloads the stores of that feature that can, and tells the others.
    fn follow(&mut self, from: usize, out: &mut Vec<Action>) {
        let mut i = from;
        while i < out.len() {
            match &out[i] {
                Action::Status(super::connection::ConnectionStatus::Connected) => self.stats.connects += 1,
                Action::Resync(feature) => {
                    self.stats.resyncs += 1;
                    let id = self.ids.get(feature.as_str()).copied();
                    let stores: Vec<Action> = self
                        .stores
                        .iter()
                        .filter(|(_, s)| s.live && Some(s.feature) == id)
                        .map(|(sid, s)| if s.reloads { Action::Reload(*sid) } else { Action::Lost(*sid) })
                        .collect();
                    let n = stores.len();
                    out.splice(i + 1..i + 1, stores);
                    i += n;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
