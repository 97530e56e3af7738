//! Who is connected and subscribed to what, and fan-out: each event is serialised once and the
//! same bytes are queued to every subscriber without waiting on any of them. A client that
//! falls behind loses `low` events first (and is told it has a gap); if its queue still
//! overflows it is disconnected as a slow consumer. Nobody else waits for it. The streams
//! themselves (numbering, history, other nodes) are the broker's.

use crate::broker::{frame_priority, frame_seq, Broker, Direct, History, Published, Relay};
use crate::metrics::{Drop, Metrics};
use crate::outbox::{Offer, Peer, Turns, Wire};
use crate::registry::{Registry, Unknown};
use livestate::protocol::{validate_name, Meta, OutgoingEvent, Position, Priority, ServerFrame, StreamState, WebSocketMessage};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Who published an event; becomes the event's `meta.userId` and `meta.sessionId`.
#[derive(Clone, Debug)]
pub struct Publisher {
    /// The publishing user, or `system` for backends.
    pub user_id: String,
    /// The publisher's session or connection id.
    pub session_id: String,
}

impl Publisher {
    /// A backend publishing through the HTTP or Rust API.
    pub fn system() -> Self {
        Self { user_id: "system".into(), session_id: "system".into() }
    }
}

/// Shared state of every connection; cheap to clone.
#[derive(Clone, Debug)]
pub struct Hub {
    inner: Arc<HubInner>,
}

#[derive(Debug, Default)]
pub(crate) struct Tables {
    features: HashMap<String, HashMap<u64, Peer>>,
    /// Live frames held for a connection while the broker starts its subscription (reads its
    /// position and replay), by (connection, feature); sent after the replay.
    pending: HashMap<(u64, String), Vec<Utf8Bytes>>,
    conns: HashMap<u64, (String, Peer)>,
    users: HashMap<String, HashSet<u64>>,
    /// Presence (src/presence.rs), per feature: this node's members (connection → member JSON).
    pub(crate) members: HashMap<String, HashMap<u64, String>>,
    /// Per feature, the connections that see its presence.
    pub(crate) watchers: HashMap<String, HashMap<u64, Peer>>,
    /// Presence frames held for a watcher while its snapshot is read, by (connection, feature).
    pub(crate) held: HashMap<(u64, String), Vec<Utf8Bytes>>,
}

/// How far a targeted send (to a connection, to a user) got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Queued to this many connections, and no other node can have any: the gateway is one
    /// node, or the connection id names this one.
    Delivered(usize),
    /// Queued to this many connections here, and handed through Redis to the other nodes, which
    /// queue it to theirs: how many got it there is not known here.
    Forwarded(usize),
}

/// How a publish through the HTTP API ended.
pub(crate) enum Delivery {
    /// Queued to this many connections (the broker keeps streams on this node only).
    Local(usize),
    /// Stored in the shared streams; every node delivers, so how many got it is not known here.
    Shared,
    /// The shared streams did not confirm in time: the events may or may not be published.
    Unconfirmed,
}

#[derive(Debug)]
pub(crate) struct HubInner {
    // A std Mutex: it is never held across an await.
    tables: Mutex<Tables>,
    next_id: AtomicU64,
    /// This node's tag, the top bits of its connection ids (0 without Redis): a connection id
    /// names the node that holds it, so a send to it goes to that node only.
    node: u64,
    registry: Arc<Registry>,
    /// Bumped by [`Hub::disconnect_all`]; every connection handler watches it.
    resets: tokio::sync::watch::Sender<u64>,
    broker: Broker,
    pub(crate) metrics: Metrics,
    /// The line in which this node's connections take turns to write.
    turns: Arc<Turns>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new(Registry::default(), History::default())
    }
}

impl Hub {
    /// A hub that accepts the features of `registry` and keeps `history` in memory for recovery.
    pub fn new(registry: Registry, history: History) -> Self {
        Self::with(registry, Broker::memory(history))
    }

    /// A hub whose streams live in Redis at `url`, shared with every node using the same URL.
    /// Connects in the background (and reconnects); call it inside a Tokio runtime.
    pub fn with_broker(registry: Registry, history: History, url: &str) -> Result<Self, String> {
        Self::with_redis(registry, history, url, Duration::from_secs(30))
    }

    /// [`Hub::with_broker`], with presence entries that expire `presence_ttl` after their
    /// node last refreshed them (a node that dies takes its members with it within that time).
    pub fn with_redis(registry: Registry, history: History, url: &str, presence_ttl: Duration) -> Result<Self, String> {
        Ok(Self::with(registry, Broker::redis(url, history, presence_ttl)?))
    }

    fn with(registry: Registry, broker: Broker) -> Self {
        // With Redis, a random tag below 2^21 keeps ids exact in JavaScript numbers (2^53).
        let node = match broker {
            Broker::Memory(_) => 0,
            Broker::Redis(_) => {
                use std::hash::BuildHasher;
                1 + std::collections::hash_map::RandomState::new().hash_one(std::process::id()) % ((1 << 21) - 1)
            }
        };
        let inner = Arc::new(HubInner {
            tables: Mutex::default(),
            next_id: AtomicU64::new(0),
            node,
            registry: Arc::new(registry),
            resets: tokio::sync::watch::Sender::new(0),
            broker,
            metrics: Metrics::default(),
            turns: Turns::for_this_machine(),
        });
        let relay: std::sync::Weak<dyn Relay> = Arc::downgrade(&inner) as _;
        inner.broker.start(relay);
        Self { inner }
    }

    /// Whether streams are shared with other nodes (through Redis).
    pub fn has_broker(&self) -> bool {
        matches!(self.inner.broker, Broker::Redis(_))
    }

    /// False while the shared streams are unreachable.
    pub fn healthy(&self) -> bool {
        self.inner.broker.healthy()
    }

    /// The epoch of this process's in-memory streams; empty with Redis, where each feature's
    /// epoch lives beside its stream (see the `subscribed` reply).
    pub fn epoch(&self) -> &str {
        self.inner.broker.epoch()
    }

    pub(crate) fn tables(&self) -> MutexGuard<'_, Tables> {
        self.inner.tables()
    }

    pub(crate) fn inner(&self) -> &HubInner {
        &self.inner
    }

    pub(crate) fn broker(&self) -> &Broker {
        &self.inner.broker
    }

    /// Closes every WebSocket with 1001 (going away). Clients reconnect, to this node or another
    /// one, and recover what they missed from history: for moving connections off a node, and
    /// for the demo's outage button.
    pub fn disconnect_all(&self) {
        self.inner.resets.send_modify(|n| *n += 1);
    }

    pub(crate) fn resets(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.resets.subscribe()
    }

    pub(crate) fn turns(&self) -> &Arc<Turns> {
        &self.inner.turns
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The feature registry.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub(crate) fn next_connection_id(&self) -> u64 {
        (self.inner.node << 32) | ((self.inner.next_id.fetch_add(1, Ordering::Relaxed) + 1) & 0xffff_ffff)
    }

    /// Registers an authenticated connection; refused (false) if its user already has `max`.
    pub(crate) fn join(&self, id: u64, user: &str, peer: &Peer, max_per_user: usize) -> bool {
        let mut t = self.tables();
        let conns = t.users.entry(user.to_owned()).or_default();
        if conns.len() >= max_per_user {
            return false;
        }
        conns.insert(id);
        t.conns.insert(id, (user.to_owned(), peer.clone()));
        true
    }

    /// Forgets a connection and its subscriptions.
    pub(crate) fn leave(&self, id: u64, features: impl IntoIterator<Item = String>) {
        let mut t = self.tables();
        for f in features {
            t.pending.remove(&(id, f.clone()));
            self.remove_subscriber(&mut t, &f, id);
        }
        if let Some((user, _)) = t.conns.remove(&id) {
            if let Some(set) = t.users.get_mut(&user) {
                set.remove(&id);
                if set.is_empty() {
                    t.users.remove(&user);
                }
            }
        }
    }

    /// Subscribes a connection and, given where it left off, returns the events it missed as
    /// batch frames, and the stream's position (none while the broker is unreachable). Live
    /// frames that reach the connection while the broker starts the subscription are held and
    /// queued after it (those the replay already holds are dropped), so nothing falls between
    /// the replay and the live stream.
    pub(crate) async fn subscribe(
        &self,
        feature: &str,
        id: u64,
        peer: &Peer,
        from: Option<&Position>,
    ) -> (Vec<Utf8Bytes>, Option<StreamState>) {
        let join = || {
            let mut t = self.tables();
            t.features.entry(feature.to_owned()).or_default().insert(id, peer.clone());
            t.pending.insert((id, feature.to_owned()), Vec::new());
        };
        let attached = self.inner.broker.attach(feature, from, join).await;
        let mut t = self.tables();
        let held = t.pending.remove(&(id, feature.to_owned())).unwrap_or_default();
        let top = attached.stream.as_ref().map(|s| s.seq);
        for frame in held {
            if top.is_none_or(|top| frame_seq(&frame).is_some_and(|seq| seq > top)) {
                let priority = frame_priority(&frame);
                self.inner.offer(peer, feature, &Wire::text(&frame), priority);
            }
        }
        (attached.replay, attached.stream)
    }

    pub(crate) fn unsubscribe(&self, feature: &str, id: u64) {
        let mut t = self.tables();
        t.pending.remove(&(id, feature.to_owned()));
        self.remove_subscriber(&mut t, feature, id);
    }

    fn remove_subscriber(&self, t: &mut Tables, feature: &str, id: u64) {
        self.exit_presence(t, feature, id);
        if let Some(peers) = t.features.get_mut(feature) {
            peers.remove(&id);
            if peers.is_empty() {
                t.features.remove(feature);
                self.inner.broker.detach(feature);
            }
        }
    }

    /// With a `"*"` registry, every new feature name costs the gateway state for as long as it
    /// runs: past `--max-features` names beyond the listed ones, new names are refused.
    pub(crate) fn admits(&self, feature: &str) -> Result<(), Unknown> {
        let registry = &self.inner.registry;
        if registry.is_listed(feature) {
            return Ok(());
        }
        let (streamed, streams) = self.inner.broker.streams(feature);
        let t = self.tables();
        let known = streamed || t.features.contains_key(feature);
        if known || streams.max(t.features.len()) < registry.max_dynamic() {
            return Ok(());
        }
        Err(Unknown {
            field: "feature",
            message: format!("no new feature names: this gateway holds {} already (--max-features)", registry.max_dynamic()),
        })
    }

    /// Ids of every connection that is open (authenticated and served).
    pub fn connection_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.tables().conns.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Connection ids subscribed to `feature` (the seed's `getFeatureClients`).
    pub fn feature_clients(&self, feature: &str) -> Vec<u64> {
        let t = self.tables();
        let mut ids: Vec<u64> = t.features.get(feature).map(|p| p.keys().copied().collect()).unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    /// (feature, subscriber count), for metrics.
    pub(crate) fn subscription_counts(&self) -> Vec<(String, usize)> {
        let t = self.tables();
        let mut v: Vec<(String, usize)> = t.features.iter().map(|(f, p)| (f.clone(), p.len())).collect();
        v.sort();
        v
    }

    /// Checks an event against the registry and adds its meta.
    pub(crate) fn stamp(&self, event: OutgoingEvent<Value>, from: &Publisher) -> Result<WebSocketMessage<Value>, Unknown> {
        for (field, name) in [("feature", &event.feature), ("entity", &event.entity), ("action", &event.action)] {
            validate_name(field, name).map_err(|e| Unknown { field, message: e.to_string() })?;
        }
        let def = self.inner.registry.check(&event.feature, &event.entity, &event.action)?;
        self.admits(&event.feature)?;
        let meta = Meta {
            timestamp: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            user_id: from.user_id.clone(),
            session_id: from.session_id.clone(),
            feature_version: def.version.clone(),
            priority: event.priority.unwrap_or(def.priority),
        };
        Ok(WebSocketMessage {
            feature: event.feature,
            entity: event.entity,
            action: event.action,
            data: event.data,
            meta,
            seq: None,
            epoch: None,
        })
    }

    /// Validates an event, adds its meta, and publishes it to every subscriber of its feature.
    /// Returns how many connections on this node it was queued to (0 with Redis, where every
    /// node delivers it).
    pub fn publish(&self, event: OutgoingEvent<Value>, from: &Publisher) -> Result<usize, Unknown> {
        let message = self.stamp(event, from)?;
        Ok(self.publish_stamped(vec![message]).iter().map(delivered).sum())
    }

    /// Publishes several events at once. All are validated first (the error carries the index
    /// of the first bad one), then each feature's events go out in order, as one `batch` frame
    /// where the broker can keep them together, so a client applies them with one change
    /// notification. Returns the sum over events of the connections each was queued to (0
    /// with Redis).
    pub fn publish_batch(&self, events: Vec<OutgoingEvent<Value>>, from: &Publisher) -> Result<usize, (usize, Unknown)> {
        let messages = self.stamp_all(events, from)?;
        Ok(self.publish_stamped(messages).iter().map(delivered).sum())
    }

    /// Publishes as [`Hub::publish_batch`] does, and waits up to `wait` until shared streams
    /// hold every event.
    pub(crate) async fn publish_confirmed(
        &self,
        events: Vec<OutgoingEvent<Value>>,
        from: &Publisher,
        wait: Duration,
    ) -> Result<Delivery, (usize, Unknown)> {
        let messages = self.stamp_all(events, from)?;
        let mut local = Some(0);
        let mut receipts = Vec::new();
        for published in self.publish_stamped(messages) {
            match published {
                Published::Delivered(n) => local = local.map(|sum| sum + n),
                Published::Queued(r) => {
                    local = None;
                    receipts.extend(r);
                }
            }
        }
        let all = async {
            for r in receipts {
                if r.await.is_err() {
                    return false;
                }
            }
            true
        };
        Ok(match (local, tokio::time::timeout(wait, all).await.unwrap_or(false)) {
            (_, false) => Delivery::Unconfirmed,
            (Some(n), true) => Delivery::Local(n),
            (None, true) => Delivery::Shared,
        })
    }

    fn stamp_all(&self, events: Vec<OutgoingEvent<Value>>, from: &Publisher) -> Result<Vec<WebSocketMessage<Value>>, (usize, Unknown)> {
        events.into_iter().enumerate().map(|(i, e)| self.stamp(e, from).map_err(|e| (i, e))).collect()
    }

    /// Hands checked events to the broker, one group per feature in the order features first
    /// appear.
    fn publish_stamped(&self, messages: Vec<WebSocketMessage<Value>>) -> Vec<Published> {
        let mut groups: Vec<(String, Vec<WebSocketMessage<Value>>)> = Vec::new();
        for message in messages {
            match groups.iter_mut().find(|(f, _)| *f == message.feature) {
                Some((_, list)) => list.push(message),
                None => groups.push((message.feature.clone(), vec![message])),
            }
        }
        groups
            .into_iter()
            .map(|(feature, events)| {
                self.inner.metrics.events_in.fetch_add(events.len() as u64, Ordering::Relaxed);
                self.inner.broker.publish(&feature, events, &*self.inner)
            })
            .collect()
    }

    /// Sends an event to one connection, whatever it subscribed to, on whichever node holds it.
    pub fn send_to_connection(&self, id: u64, event: OutgoingEvent<Value>, from: &Publisher) -> Result<Reach, Unknown> {
        let message = self.stamp(event, from)?;
        let priority = message.meta.priority;
        let text = encode(&ServerFrame::Event(message));
        if id >> 32 != self.inner.node && self.has_broker() {
            self.inner.broker.direct(&Direct { node: self.inner.node, connection: Some(id), user: None }, &text);
            return Ok(Reach::Forwarded(0));
        }
        Ok(Reach::Delivered(self.inner.to_connection(id, text, priority)))
    }

    /// Sends an event to every connection of one user, on every node.
    pub fn send_to_user(&self, user: &str, event: OutgoingEvent<Value>, from: &Publisher) -> Result<Reach, Unknown> {
        let message = self.stamp(event, from)?;
        let priority = message.meta.priority;
        let text = encode(&ServerFrame::Event(message));
        let here = self.inner.to_user(user, &text, priority);
        if !self.has_broker() {
            return Ok(Reach::Delivered(here));
        }
        self.inner.broker.direct(&Direct { node: self.inner.node, connection: None, user: Some(user.to_owned()) }, &text);
        Ok(Reach::Forwarded(here))
    }

    /// Queues `text` verbatim to `feature`'s subscribers (the test-only raw relay).
    pub(crate) fn relay(&self, feature: &str, text: Utf8Bytes) -> usize {
        self.inner.deliver(feature, text, Priority::Normal)
    }
}

fn delivered(p: &Published) -> usize {
    match p {
        Published::Delivered(n) => *n,
        Published::Queued(_) => 0,
    }
}

impl HubInner {
    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues one frame without waiting. `low` frames are refused once the queue is three
    /// quarters full (the client is told it has a gap); anything refused by a full queue
    /// marks the connection slow, and its handler closes it.
    pub(crate) fn offer(&self, peer: &Peer, feature: &str, wire: &Wire, priority: Priority) -> bool {
        match peer.offer(feature, wire.clone(), priority == Priority::Low) {
            Offer::Queued => true,
            Offer::Gap => {
                self.metrics.drop(Drop::LowPriority);
                false
            }
            // Counted once, when the handler closes the connection (slow_consumer counts
            // connections, not the frames they missed).
            Offer::Full | Offer::Closed => false,
        }
    }

    /// Queues a targeted frame to connection `id` of this node; 1 if it got it.
    fn to_connection(&self, id: u64, text: Utf8Bytes, priority: Priority) -> usize {
        let t = self.tables();
        t.conns.get(&id).map_or(0, |(_, peer)| usize::from(self.offer(peer, "", &Wire::text(&text), priority)))
    }

    /// Queues a targeted frame to every connection of `user` on this node; how many got it.
    fn to_user(&self, user: &str, text: &Utf8Bytes, priority: Priority) -> usize {
        let t = self.tables();
        let Some(ids) = t.users.get(user) else { return 0 };
        let wire = Wire::text(text);
        ids.iter().filter_map(|id| t.conns.get(id)).filter(|(_, peer)| self.offer(peer, "", &wire, priority)).count()
    }
}

impl Relay for HubInner {
    fn deliver(&self, feature: &str, frame: Utf8Bytes, priority: Priority) -> usize {
        let mut t = self.tables();
        let Tables { features, pending, .. } = &mut *t;
        let Some(peers) = features.get(feature) else { return 0 };
        let mut queued = 0;
        let wire = Wire::text(&frame);
        for (id, peer) in peers {
            // Usually nobody is mid-subscribe: no key to build then.
            let held = if pending.is_empty() { None } else { pending.get_mut(&(*id, feature.to_owned())) };
            match held {
                Some(held) => held.push(frame.clone()),
                None => queued += usize::from(self.offer(peer, feature, &wire, priority)),
            }
        }
        self.metrics.events_out.fetch_add(queued as u64, Ordering::Relaxed);
        queued
    }

    fn gap(&self, feature: &str) {
        let t = self.tables();
        for peer in t.features.get(feature).into_iter().flat_map(|p| p.values()) {
            self.metrics.drop(Drop::LowPriority);
            peer.gap(feature);
        }
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn direct(&self, to: &Direct, frame: Utf8Bytes) {
        if to.node == self.node {
            return; // sent here already, by the node that forwarded it
        }
        let priority = frame_priority(&frame);
        if let Some(user) = &to.user {
            self.to_user(user, &frame, priority);
        } else if let Some(id) = to.connection.filter(|id| id >> 32 == self.node) {
            self.to_connection(id, frame, priority);
        }
    }

    fn presence(&self, feature: &str, frame: Utf8Bytes) {
        let mut t = self.tables();
        crate::presence::deliver(self, &mut t, feature, frame);
    }

    fn presence_here(&self) -> Vec<(String, Vec<(u64, String)>)> {
        crate::presence::here(&self.tables())
    }

    fn hold_presence(&self, feature: &str) -> Vec<u64> {
        crate::presence::hold(&mut self.tables(), feature)
    }

    fn release_presence(&self, feature: &str, held: &[u64], snapshot: Option<Utf8Bytes>) {
        let mut t = self.tables();
        crate::presence::release(self, &mut t, feature, held, snapshot);
    }
}

/// Serialises a frame once for every subscriber.
pub(crate) fn encode(frame: &ServerFrame<Value>) -> Utf8Bytes {
    serde_json::to_string(frame).expect("a serde_json::Value always serialises").into()
}
