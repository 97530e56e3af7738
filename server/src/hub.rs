//! Who is connected and subscribed to what, and fan-out: each event is serialised once and the
//! same bytes are queued to every subscriber without waiting on any of them. A client that
//! falls behind loses `low` events first (and is told it has a gap); if its queue still
//! overflows it is disconnected as a slow consumer. Nobody else waits for it.

use crate::metrics::{Drop, Metrics};
use crate::registry::{Registry, Unknown};
use axum::extract::ws::Utf8Bytes;
use livestate::protocol::{validate_name, Meta, OutgoingEvent, Position, Priority, ServerFrame, StreamState, WebSocketMessage};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// A connection as the hub sees it: its queue, and how to tell it that it fell behind.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub(crate) tx: mpsc::Sender<Utf8Bytes>,
    /// Queue capacity, to tell "filling up" from "full".
    pub(crate) capacity: usize,
    /// Woken when the queue overflowed: the handler closes the connection.
    pub(crate) slow: Arc<Notify>,
    /// Features whose `low` events were dropped for this connection, reported as a gap.
    pub(crate) gaps: Arc<Mutex<BTreeSet<String>>>,
    /// Woken when `gaps` gained a feature.
    pub(crate) gap: Arc<Notify>,
}

impl Peer {
    pub(crate) fn new(capacity: usize) -> (Self, mpsc::Receiver<Utf8Bytes>) {
        let (tx, rx) = mpsc::channel(capacity);
        let peer = Peer { tx, capacity, slow: Arc::default(), gaps: Arc::default(), gap: Arc::default() };
        (peer, rx)
    }
}

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

/// One feature's event stream: its last sequence number and the recent events, kept as the
/// exact frames sent, for replay.
#[derive(Debug, Default)]
struct Stream {
    seq: u64,
    history: VecDeque<(u64, Instant, Utf8Bytes)>,
}

#[derive(Debug, Default)]
struct Tables {
    features: HashMap<String, HashMap<u64, Peer>>,
    conns: HashMap<u64, (String, Peer)>,
    users: HashMap<String, HashSet<u64>>,
    streams: HashMap<String, Stream>,
}

/// How much history each feature keeps for recovery.
#[derive(Debug, Clone, Copy)]
pub struct History {
    /// Events kept per feature.
    pub size: usize,
    /// How long an event is kept.
    pub ttl: Duration,
}

impl Default for History {
    /// 1 000 events or 5 minutes, whichever is less.
    fn default() -> Self {
        Self { size: 1000, ttl: Duration::from_secs(300) }
    }
}

#[derive(Debug)]
struct HubInner {
    // A std Mutex: it is never held across an await. Sequence numbers are assigned and frames
    // queued under it, so every subscriber sees one feature's events in sequence order.
    tables: Mutex<Tables>,
    next_id: AtomicU64,
    registry: Arc<Registry>,
    history: History,
    /// Changes whenever history is lost: this hub keeps it in memory, so every start is new.
    epoch: String,
    /// Bumped by [`Hub::disconnect_all`]; every connection handler watches it.
    resets: tokio::sync::watch::Sender<u64>,
    pub(crate) metrics: Metrics,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new(Registry::default(), History::default())
    }
}

/// A fresh epoch: the start time mixed with the process's random hash seed.
fn new_epoch() -> String {
    use std::hash::BuildHasher;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{:016x}", std::collections::hash_map::RandomState::new().hash_one(now))
}

impl Hub {
    /// A hub that accepts the features of `registry` and keeps `history` for recovery.
    pub fn new(registry: Registry, history: History) -> Self {
        let inner = HubInner {
            tables: Mutex::default(),
            next_id: AtomicU64::new(0),
            registry: Arc::new(registry),
            history,
            epoch: new_epoch(),
            resets: tokio::sync::watch::Sender::new(0),
            metrics: Metrics::default(),
        };
        Self { inner: Arc::new(inner) }
    }

    /// The current epoch of every feature's stream.
    pub fn epoch(&self) -> &str {
        &self.inner.epoch
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.inner.tables.lock().unwrap_or_else(|e| e.into_inner())
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

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The feature registry.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub(crate) fn next_connection_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed) + 1
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
            remove_subscriber(&mut t, &f, id);
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
    /// one batch frame. Both happen under one lock: every later event goes to its queue, so
    /// nothing falls between the replay and the live stream.
    pub(crate) fn subscribe(&self, feature: &str, id: u64, peer: &Peer, from: Option<&Position>) -> (Option<Utf8Bytes>, StreamState) {
        let mut t = self.tables();
        t.features.entry(feature.to_owned()).or_default().insert(id, peer.clone());
        let epoch = self.inner.epoch.clone();
        let stream = t.streams.entry(feature.to_owned()).or_default();
        prune(stream, self.inner.history);
        let top = stream.seq;
        let Some(from) = from else { return (None, StreamState { epoch, seq: top, recovered: None }) };
        let oldest = stream.history.front().map_or(top + 1, |(seq, _, _)| *seq);
        let recoverable = from.epoch == epoch && from.seq <= top && oldest <= from.seq + 1;
        let replay = (recoverable && from.seq < top).then(|| {
            let missed = stream.history.iter().filter(|(seq, _, _)| *seq > from.seq).map(|(_, _, text)| text);
            batch_frame(missed)
        });
        (replay, StreamState { epoch, seq: top, recovered: Some(recoverable) })
    }

    pub(crate) fn unsubscribe(&self, feature: &str, id: u64) {
        remove_subscriber(&mut self.tables(), feature, id);
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

    /// Validates an event, adds its meta and sequence number, and queues it to every
    /// subscriber of its feature. Returns how many connections it was queued to.
    pub fn publish(&self, event: OutgoingEvent<Value>, from: &Publisher) -> Result<usize, Unknown> {
        let mut message = self.stamp(event, from)?;
        let priority = message.meta.priority;
        let mut t = self.tables();
        let text = self.sequence(&mut t, &mut message);
        self.inner.metrics.events_in.fetch_add(1, Ordering::Relaxed);
        Ok(self.fan_out(&t, &message.feature, text, priority))
    }

    /// Publishes several events at once. All are validated first (the error carries the index
    /// of the first bad one), then each feature's events go out as one `batch` frame, so a
    /// client applies them with one change notification. Returns the sum over events of the
    /// connections each was queued to.
    pub fn publish_batch(&self, events: Vec<OutgoingEvent<Value>>, from: &Publisher) -> Result<usize, (usize, Unknown)> {
        let mut groups: Vec<(String, Vec<WebSocketMessage<Value>>)> = Vec::new();
        for (i, event) in events.into_iter().enumerate() {
            let message = self.stamp(event, from).map_err(|e| (i, e))?;
            match groups.iter_mut().find(|(f, _)| *f == message.feature) {
                Some((_, list)) => list.push(message),
                None => groups.push((message.feature.clone(), vec![message])),
            }
        }
        let mut t = self.tables();
        let mut delivered = 0;
        for (feature, mut events) in groups {
            let count = events.len();
            self.inner.metrics.events_in.fetch_add(count as u64, Ordering::Relaxed);
            // A batch is as urgent as its most urgent event.
            let priority = events.iter().map(|e| e.meta.priority).max_by_key(|p| rank(*p)).unwrap_or_default();
            let texts: Vec<Utf8Bytes> = events.iter_mut().map(|m| self.sequence(&mut t, m)).collect();
            let frame = if count == 1 { texts[0].clone() } else { batch_frame(texts.iter()) };
            delivered += self.fan_out(&t, &feature, frame, priority) * count;
        }
        Ok(delivered)
    }

    /// Gives an event the next sequence number of its feature and keeps its frame for replay.
    fn sequence(&self, t: &mut Tables, message: &mut WebSocketMessage<Value>) -> Utf8Bytes {
        let stream = t.streams.entry(message.feature.clone()).or_default();
        stream.seq += 1;
        message.seq = Some(stream.seq);
        message.epoch = Some(self.inner.epoch.clone());
        // The event frame is the message plus a leading `"type":"event"`: no copy of the data.
        let body = serde_json::to_string(&*message).expect("a serde_json::Value always serialises");
        let text: Utf8Bytes = format!(r#"{{"type":"event",{}"#, &body[1..]).into();
        stream.history.push_back((stream.seq, Instant::now(), text.clone()));
        prune(stream, self.inner.history);
        text
    }

    /// Sends an event to one connection, whatever it subscribed to. False if it is gone.
    pub fn send_to_connection(&self, id: u64, event: OutgoingEvent<Value>, from: &Publisher) -> Result<bool, Unknown> {
        let message = self.stamp(event, from)?;
        let priority = message.meta.priority;
        let text = encode(&ServerFrame::Event(message));
        let t = self.tables();
        Ok(t.conns.get(&id).is_some_and(|(_, peer)| self.offer(peer, "", text, priority)))
    }

    /// Sends an event to every connection of one user. Returns how many got it.
    pub fn send_to_user(&self, user: &str, event: OutgoingEvent<Value>, from: &Publisher) -> Result<usize, Unknown> {
        let message = self.stamp(event, from)?;
        let priority = message.meta.priority;
        let text = encode(&ServerFrame::Event(message));
        let t = self.tables();
        let Some(ids) = t.users.get(user) else { return Ok(0) };
        Ok(ids.iter().filter_map(|id| t.conns.get(id)).filter(|(_, peer)| self.offer(peer, "", text.clone(), priority)).count())
    }

    /// Queues `text` verbatim to `feature`'s subscribers (the test-only raw relay).
    pub(crate) fn relay(&self, feature: &str, text: Utf8Bytes) -> usize {
        self.fan_out(&self.tables(), feature, text, Priority::Normal)
    }

    fn fan_out(&self, t: &Tables, feature: &str, text: Utf8Bytes, priority: Priority) -> usize {
        let Some(peers) = t.features.get(feature) else { return 0 };
        let queued = peers.values().filter(|peer| self.offer(peer, feature, text.clone(), priority)).count();
        self.inner.metrics.events_out.fetch_add(queued as u64, Ordering::Relaxed);
        queued
    }

    /// Queues one frame without waiting. `low` frames are refused once the queue is three
    /// quarters full (the client is told it has a gap); anything refused by a full queue
    /// marks the connection slow, and its handler closes it.
    fn offer(&self, peer: &Peer, feature: &str, text: Utf8Bytes, priority: Priority) -> bool {
        let filling = peer.tx.capacity() < peer.capacity / 4;
        if priority == Priority::Low && filling && !feature.is_empty() {
            self.gap(peer, feature);
            return false;
        }
        match peer.tx.try_send(text) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) if priority == Priority::Low && !feature.is_empty() => {
                self.gap(peer, feature);
                false
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.inner.metrics.drop(Drop::SlowConsumer);
                peer.slow.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn gap(&self, peer: &Peer, feature: &str) {
        self.inner.metrics.drop(Drop::LowPriority);
        let mut gaps = peer.gaps.lock().unwrap_or_else(|e| e.into_inner());
        if gaps.insert(feature.to_owned()) {
            peer.gap.notify_one();
        }
    }
}

/// Drops events beyond the history's size or age.
fn prune(stream: &mut Stream, history: History) {
    while stream.history.len() > history.size || stream.history.front().is_some_and(|(_, at, _)| at.elapsed() > history.ttl) {
        stream.history.pop_front();
    }
}

/// `{"type":"batch","events":[...]}` from already-serialised event frames (their `type` field
/// is ignored inside a batch), so a replay or a bulk publish is never serialised twice.
fn batch_frame<'a>(events: impl Iterator<Item = &'a Utf8Bytes>) -> Utf8Bytes {
    let mut out = String::from(r#"{"type":"batch","events":["#);
    for (i, e) in events.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(e.as_str());
    }
    out.push_str("]}");
    out.into()
}

fn remove_subscriber(t: &mut Tables, feature: &str, id: u64) {
    if let Some(peers) = t.features.get_mut(feature) {
        peers.remove(&id);
        if peers.is_empty() {
            t.features.remove(feature);
        }
    }
}

fn rank(p: Priority) -> u8 {
    match p {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Critical => 3,
    }
}

/// Serialises a frame once for every subscriber.
pub(crate) fn encode(frame: &ServerFrame<Value>) -> Utf8Bytes {
    serde_json::to_string(frame).expect("a serde_json::Value always serialises").into()
}
