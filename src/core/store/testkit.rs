//! A deterministic interleaving simulator: a store against a simulated server.
//!
//! Each seed runs a random schedule of other users' changes, this client's optimistic
//! operations, the server processing or failing them, API responses in any order, and events
//! delivered late, duplicated and (for versioned models) out of order. After every step it
//! checks that each item's view equals its confirmed state plus its pending operations; once
//! everything has settled it checks that the store equals the server. Run it on your own
//! [`Model`] by implementing [`SimModel`].

use super::{Model, Pending, Store};
use crate::core::rng::Rng;
use std::collections::BTreeMap;

/// A model the simulator can generate data for.
pub trait SimModel: Model
where
    Self::Item: PartialEq,
{
    /// True if items carry versions (events may then be reordered).
    fn versioned(&self) -> bool;
    /// The key for id number `n` (negative numbers are temporary ids).
    fn key_of(&self, n: i64) -> Self::Key;
    /// A fresh item with this key and version.
    fn new_item(&self, key: Self::Key, version: f64, rng: &mut Rng) -> Self::Item;
    /// A random patch.
    fn new_patch(&self, rng: &mut Rng) -> Self::Patch;
    /// The server's copy of `item` with `patch` applied, at `version`.
    fn server_apply(&self, item: &Self::Item, patch: &Self::Patch, version: f64) -> Self::Item;
    /// `item` under another key (a temporary id replaced by the server's).
    fn rekey(&self, item: &Self::Item, key: Self::Key, version: f64) -> Self::Item;
}

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seeds the schedule.
    pub seed: u64,
    /// Random steps before everything is settled.
    pub steps: usize,
    /// Size of the id space (real ids are `1..=keys`; the server assigns more for temporary ids).
    pub keys: i64,
    /// Probability that the server rejects an operation.
    pub fail_rate: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self { seed: 1, steps: 200, keys: 6, fail_rate: 0.3 }
    }
}

enum Event<M: Model> {
    Created(M::Item),
    Updated(M::Item),
    Deleted(M::Key, Option<f64>),
}

impl<M: Model> Clone for Event<M> {
    fn clone(&self) -> Self {
        match self {
            Event::Created(i) => Event::Created(i.clone()),
            Event::Updated(i) => Event::Updated(i.clone()),
            Event::Deleted(k, v) => Event::Deleted(k.clone(), *v),
        }
    }
}

enum Call<M: Model> {
    Update(M::Key, M::Patch),
    Create(M::Item, bool),
    Delete(M::Key),
}

type Response<M> = Result<Option<<M as Model>::Item>, String>;

struct Sim<M: SimModel>
where
    M::Item: PartialEq,
{
    rng: Rng,
    config: SimConfig,
    server: BTreeMap<M::Key, M::Item>,
    version: f64,
    next_real: i64,
    next_temp: i64,
    events: Vec<Event<M>>,
    calls: Vec<(u64, Call<M>)>,
    responses: Vec<(u64, Response<M>)>,
    store: Store<M>,
}

/// Runs one seed; `Err` describes the first broken invariant with the step it happened at.
pub fn simulate<M>(model: M, config: SimConfig) -> Result<(), String>
where
    M: SimModel + Clone,
    M::Item: PartialEq,
{
    let mut sim = Sim {
        rng: Rng::new(config.seed),
        next_real: config.keys + 1,
        next_temp: -1,
        config,
        server: BTreeMap::new(),
        version: 0.0,
        events: Vec::new(),
        calls: Vec::new(),
        responses: Vec::new(),
        store: Store::new(model),
    };
    for step in 0..sim.config.steps {
        sim.step();
        sim.check_layers().map_err(|e| format!("seed {} step {step}: {e}", sim.config.seed))?;
    }
    let mut guard = 0;
    while !(sim.calls.is_empty() && sim.events.is_empty() && sim.responses.is_empty()) {
        match sim.rng.next_u64() % 3 {
            0 if !sim.calls.is_empty() => sim.process_call(),
            1 if !sim.events.is_empty() => sim.deliver_event(),
            _ if !sim.responses.is_empty() => sim.deliver_response(),
            _ => {}
        }
        sim.check_layers().map_err(|e| format!("seed {} settling: {e}", sim.config.seed))?;
        guard += 1;
        assert!(guard < 1_000_000, "simulation did not settle");
    }
    sim.check_converged().map_err(|e| format!("seed {} at the end: {e}", sim.config.seed))
}

impl<M: SimModel + Clone> Sim<M>
where
    M::Item: PartialEq,
{
    fn model(&self) -> M {
        self.store.model().clone()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.next_f64() < p
    }

    fn pick(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }

    fn bump(&mut self) -> f64 {
        self.version += 1.0;
        self.version
    }

    fn step(&mut self) {
        match self.rng.next_u64() % 6 {
            0 => self.other_user(),
            1 | 2 => self.client_op(),
            3 if !self.calls.is_empty() => self.process_call(),
            4 if !self.events.is_empty() => self.deliver_event(),
            5 if !self.responses.is_empty() => self.deliver_response(),
            _ => self.client_op(),
        }
        if self.model().versioned() && self.chance(0.02) {
            // A resync: the REST snapshot replaces confirmed state while events are in flight.
            let snapshot: Vec<M::Item> = self.server.values().cloned().collect();
            self.store.replace_all(snapshot).expect("server items have keys");
        }
        self.store.flush();
    }

    fn other_user(&mut self) {
        let m = self.model();
        let key = m.key_of(1 + self.pick(self.config.keys as usize) as i64);
        match self.server.get(&key).cloned() {
            Some(current) if self.chance(0.75) => {
                let v = self.bump();
                let patch = m.new_patch(&mut self.rng);
                let next = m.server_apply(&current, &patch, v);
                self.server.insert(key, next.clone());
                self.events.push(Event::Updated(next));
            }
            Some(_) => {
                let v = self.bump();
                self.server.remove(&key);
                self.events.push(Event::Deleted(key, m.versioned().then_some(v)));
            }
            None => {
                let v = self.bump();
                let item = m.new_item(key.clone(), v, &mut self.rng);
                self.server.insert(key, item.clone());
                self.events.push(Event::Created(item));
            }
        }
    }

    fn client_op(&mut self) {
        let m = self.model();
        let visible: Vec<M::Key> = self.store.iter().map(|(k, _)| k.clone()).collect();
        let roll = self.rng.next_u64() % 10;
        if roll < 6 && !visible.is_empty() {
            let key = visible[self.pick(visible.len())].clone();
            let patch = m.new_patch(&mut self.rng);
            let op = self.store.begin_update(key.clone(), patch.clone());
            self.calls.push((op, Call::Update(key, patch)));
        } else if roll < 8 && !visible.is_empty() {
            let key = visible[self.pick(visible.len())].clone();
            let op = self.store.begin_delete(key.clone());
            self.calls.push((op, Call::Delete(key)));
        } else {
            let temp = self.chance(0.5);
            let n = if temp {
                self.next_temp -= 1;
                self.next_temp
            } else {
                1 + self.pick(self.config.keys as usize) as i64
            };
            let item = m.new_item(m.key_of(n), 0.0, &mut self.rng);
            let op = self.store.begin_create(item.clone()).expect("generated items have keys");
            self.calls.push((op, Call::Create(item, temp)));
        }
    }

    fn process_call(&mut self) {
        let m = self.model();
        let i = self.pick(self.calls.len());
        let (op, call) = self.calls.swap_remove(i);
        if self.chance(self.config.fail_rate) {
            self.responses.push((op, Err("rejected by the server".into())));
            return;
        }
        let response = match call {
            Call::Update(key, patch) => match self.server.get(&key).cloned() {
                Some(current) => {
                    let v = self.bump();
                    let next = m.server_apply(&current, &patch, v);
                    self.server.insert(key, next.clone());
                    self.events.push(Event::Updated(next.clone()));
                    Ok(if self.chance(0.2) { None } else { Some(next) })
                }
                None => Err("404".into()),
            },
            Call::Create(item, temp) => {
                let v = self.bump();
                let key = if temp {
                    self.next_real += 1;
                    m.key_of(self.next_real)
                } else {
                    m.key(&item).expect("has key")
                };
                if self.server.contains_key(&key) {
                    Err("409 exists".into())
                } else {
                    let stored = m.rekey(&item, key.clone(), v);
                    self.server.insert(key, stored.clone());
                    self.events.push(Event::Created(stored.clone()));
                    Ok(Some(stored))
                }
            }
            Call::Delete(key) => {
                if self.server.remove(&key).is_some() {
                    let v = self.bump();
                    self.events.push(Event::Deleted(key, m.versioned().then_some(v)));
                    Ok(None)
                } else {
                    Err("404".into())
                }
            }
        };
        self.responses.push((op, response));
    }

    fn deliver_event(&mut self) {
        let reorder = self.model().versioned();
        let i = if reorder { self.pick(self.events.len()) } else { 0 };
        let ev = self.events.remove(i);
        let duplicate = self.chance(0.15);
        if duplicate && reorder {
            self.events.push(ev.clone()); // delivered again, later
        }
        for _ in 0..if duplicate && !reorder { 2 } else { 1 } {
            match ev.clone() {
                Event::Created(item) => self.store.created(item).expect("keys"),
                Event::Updated(item) => self.store.updated(item).expect("keys"),
                Event::Deleted(key, v) => self.store.deleted(key, v),
            }
        }
    }

    fn deliver_response(&mut self) {
        let i = self.pick(self.responses.len());
        let (op, response) = self.responses.swap_remove(i);
        match response {
            Ok(result) => self.store.succeed(op, result).expect("keys"),
            Err(e) => self.store.fail(op, e),
        }
    }

    /// Every item's view is its confirmed state with its pending operations applied in order.
    fn check_layers(&self) -> Result<(), String> {
        let m = self.model();
        let mut visible = 0;
        for key in self.store.keys() {
            let mut expected = self.store.confirmed(key).cloned();
            for (_, op) in self.store.pending(key) {
                expected = match (op, expected) {
                    (Pending::Create(item), None) => Some(item.clone()),
                    (Pending::Create(_), Some(v)) => Some(v),
                    (Pending::Update(p), Some(v)) => Some(m.apply(&v, p)),
                    (Pending::Update(_), None) | (Pending::Delete, _) => None,
                };
            }
            if self.store.get(key) != expected.as_ref() {
                return Err(format!("key {key:?}: view {:?} != confirmed + pending {expected:?}", self.store.get(key)));
            }
            visible += usize::from(expected.is_some());
        }
        if visible != self.store.len() || self.store.iter().count() != visible {
            return Err(format!("{} visible items but len() is {}", visible, self.store.len()));
        }
        Ok(())
    }

    fn check_converged(&self) -> Result<(), String> {
        if self.store.pending_count() != 0 {
            return Err(format!("{} operations still pending", self.store.pending_count()));
        }
        let mine: BTreeMap<M::Key, M::Item> = self.store.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if mine != self.server {
            return Err(format!("store {mine:?} != server {:?}", self.server));
        }
        Ok(())
    }
}

impl SimModel for super::MapModel {
    fn versioned(&self) -> bool {
        self.versioned
    }
    fn key_of(&self, n: i64) -> i64 {
        n
    }
    fn new_item(&self, key: i64, version: f64, rng: &mut Rng) -> super::MapItem {
        let mut item = super::item(&[("id", key), ("a", (rng.next_u64() % 100) as i64), ("b", (rng.next_u64() % 100) as i64)]);
        if self.versioned {
            item.insert("v".into(), version as i64);
        }
        item
    }
    fn new_patch(&self, rng: &mut Rng) -> super::MapItem {
        let field = if rng.next_u64() % 2 == 0 { "a" } else { "b" };
        super::item(&[(field, (rng.next_u64() % 100) as i64)])
    }
    fn server_apply(&self, item: &super::MapItem, patch: &super::MapItem, version: f64) -> super::MapItem {
        let mut next = self.apply(item, patch);
        if self.versioned {
            next.insert("v".into(), version as i64);
        }
        next
    }
    fn rekey(&self, item: &super::MapItem, key: i64, version: f64) -> super::MapItem {
        let mut next = item.clone();
        next.insert("id".into(), key);
        if self.versioned {
            next.insert("v".into(), version as i64);
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::MapModel;

    #[test]
    fn thousands_of_seeded_interleavings_converge_without_versions() {
        for seed in 0..2000 {
            let config = SimConfig { seed, ..SimConfig::default() };
            simulate(MapModel { versioned: false }, config).unwrap();
        }
    }

    #[test]
    fn thousands_of_seeded_interleavings_with_reordering_and_duplicates_converge_with_versions() {
        for seed in 0..2000 {
            let config = SimConfig { seed, ..SimConfig::default() };
            simulate(MapModel { versioned: true }, config).unwrap();
        }
    }
}
