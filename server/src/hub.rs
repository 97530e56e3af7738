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
    /// With a broker: live frames held for a connection while its subscription reads the
    /// stream's position (and replay) from Redis, by (connection, feature).
    pending: HashMap<(u64, String), Vec<Utf8Bytes>>,
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
pub(crate) struct HubInner {
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
    /// Redis, when several nodes share the streams; set once, right after construction.
    broker: std::sync::OnceLock<Arc<crate::broker::Broker>>,
    pub(crate) metrics: Metrics,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new(Registry::default(), History::default())
    }
}

/// A fresh epoch: the start time mixed with the process's random hash seed.
pub(crate) fn new_epoch() -> String {
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
            broker: std::sync::OnceLock::new(),
            metrics: Metrics::default(),
        };
        Self { inner: Arc::new(inner) }
    }

    /// A hub whose streams live in Redis at `url`, shared with every node using the same URL.
    /// Connects in the background (and reconnects); call it inside a Tokio runtime.
    pub fn with_broker(registry: Registry, history: History, url: &str) -> Result<Self, String> {
        let hub = Self::new(registry, history);
        let (broker, tasks) = crate::broker::Broker::new(url, history)?;
        let _ = hub.inner.broker.set(broker.clone());
        tasks.spawn(&broker, &hub);
        Ok(hub)
    }

    pub(crate) fn broker(&self) -> Option<&Arc<crate::broker::Broker>> {
        self.inner.broker.get()
    }

    /// Whether streams are shared through Redis.
    pub fn has_broker(&self) -> bool {
        self.broker().is_some()
    }

    /// False while the broker is configured but unreachable.
    pub fn healthy(&self) -> bool {
        self.broker().is_none_or(|b| b.is_up())
    }

    pub(crate) fn downgrade(&self) -> std::sync::Weak<HubInner> {
        Arc::downgrade(&self.inner)
    }

    pub(crate) fn upgrade(weak: &std::sync::Weak<HubInner>) -> Option<Hub> {
        weak.upgrade().map(|inner| Hub { inner })
    }

    /// The epoch of this process's in-memory streams. With a broker each feature's epoch lives
    /// in Redis instead (see the `subscribed` reply).
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
    /// batch frames, and the stream's position (none while the broker is unreachable).
    pub(crate) async fn subscribe(
        &self,
        feature: &str,
        id: u64,
        peer: &Peer,
        from: Option<&Position>,
    ) -> (Vec<Utf8Bytes>, Option<StreamState>) {
        if self.has_broker() {
            return self.subscribe_shared(feature, id, peer, from).await;
        }
        let (replay, stream) = self.subscribe_local(feature, id, peer, from);
        (replay, Some(stream))
    }

    /// In memory: subscribing and reading the history happen under one lock, so every later
    /// event goes to the queue and nothing falls between the replay and the live stream.
    fn subscribe_local(&self, feature: &str, id: u64, peer: &Peer, from: Option<&Position>) -> (Vec<Utf8Bytes>, StreamState) {
        let mut t = self.tables();
        t.features.entry(feature.to_owned()).or_default().insert(id, peer.clone());
        let epoch = self.inner.epoch.clone();
        let stream = t.streams.entry(feature.to_owned()).or_default();
        prune(stream, self.inner.history);
        let top = stream.seq;
        let Some(from) = from else { return (Vec::new(), StreamState { epoch, seq: top, recovered: None }) };
        let oldest = stream.history.front().map_or(top + 1, |(seq, _, _)| *seq);
        let recoverable = from.epoch == epoch && from.seq <= top && oldest <= from.seq + 1;
        let replay = if recoverable && from.seq < top {
            batch_frames(stream.history.iter().filter(|(seq, _, _)| *seq > from.seq).map(|(_, _, text)| text), REPLAY_FRAME)
        } else {
            Vec::new()
        };
        (replay, StreamState { epoch, seq: top, recovered: Some(recoverable) })
    }

    pub(crate) fn unsubscribe(&self, feature: &str, id: u64) {
        let mut t = self.tables();
        t.pending.remove(&(id, feature.to_owned()));
        self.remove_subscriber(&mut t, feature, id);
    }

    fn remove_subscriber(&self, t: &mut Tables, feature: &str, id: u64) {
        if let Some(peers) = t.features.get_mut(feature) {
            peers.remove(&id);
            if peers.is_empty() {
                t.features.remove(feature);
                if let Some(b) = self.broker() {
                    b.stop_listening(feature);
                }
            }
        }
    }

    /// With a broker: subscribes a connection, reading the stream's position and the events
    /// missed since `from` from Redis. Live frames that arrive meanwhile are held and sent
    /// after the replay (those the replay already holds are dropped), so nothing falls between
    /// the two. While Redis is away the subscription still counts: the stream state is `None`,
    /// and a gap once Redis is back brings the client up to date.
    async fn subscribe_shared(
        &self,
        feature: &str,
        id: u64,
        peer: &Peer,
        from: Option<&Position>,
    ) -> (Vec<Utf8Bytes>, Option<StreamState>) {
        let broker = self.broker().expect("subscribe_shared needs a broker").clone();
        {
            let mut t = self.tables();
            t.features.entry(feature.to_owned()).or_default().insert(id, peer.clone());
            t.pending.insert((id, feature.to_owned()), Vec::new());
        }
        let position = match broker.listen(feature).await {
            true => broker.position(self, feature, from.map(|p| p.seq)).await,
            false => None,
        };
        let mut t = self.tables();
        let held = t.pending.remove(&(id, feature.to_owned())).unwrap_or_default();
        let Some(position) = position else {
            for frame in held {
                self.offer(peer, feature, frame, Priority::Normal);
            }
            return (Vec::new(), None);
        };
        let (mut replay, mut recovered) = (Vec::new(), None);
        if let Some(from) = from {
            let missed = position.top.saturating_sub(from.seq);
            let fresh = position.frames.first().is_none_or(|(at, _)| *at >= broker.oldest_replayable());
            let ok = from.epoch == position.epoch && from.seq <= position.top && position.frames.len() as u64 == missed && fresh;
            recovered = Some(ok);
            if ok && missed > 0 {
                let frames: Vec<Utf8Bytes> = position.frames.into_iter().map(|(_, f)| f.into()).collect();
                replay = batch_frames(frames.iter(), REPLAY_FRAME);
            }
        }
        for frame in held {
            if frame_seq(&frame).is_some_and(|seq| seq > position.top) {
                self.offer(peer, feature, frame.clone(), frame_priority(&frame));
            }
        }
        (replay, Some(StreamState { epoch: position.epoch, seq: position.top, recovered }))
    }

    /// With a broker: a frame from the feature's Redis channel, for this node's subscribers.
    pub(crate) fn relay_from_broker(&self, feature: &str, frame: String) {
        let frame: Utf8Bytes = frame.into();
        let priority = frame_priority(&frame);
        let mut t = self.tables();
        let Tables { features, pending, .. } = &mut *t;
        let Some(peers) = features.get(feature) else { return };
        let mut queued = 0;
        for (id, peer) in peers {
            // Usually nobody is mid-subscribe: no key to build then.
            let held = if pending.is_empty() { None } else { pending.get_mut(&(*id, feature.to_owned())) };
            match held {
                Some(held) => held.push(frame.clone()),
                None => queued += usize::from(self.offer(peer, feature, frame.clone(), priority)),
            }
        }
        self.inner.metrics.events_out.fetch_add(queued as u64, Ordering::Relaxed);
    }

    /// Tells every local subscriber of `feature` that it missed events (Redis was away).
    pub(crate) fn report_gap(&self, feature: &str) {
        let t = self.tables();
        for peer in t.features.get(feature).into_iter().flat_map(|p| p.values()) {
            self.gap(peer, feature);
        }
    }

    /// With a `"*"` registry, every new feature name costs the gateway state for as long as it
    /// runs: past `--max-features` names beyond the listed ones, new names are refused.
    pub(crate) fn admits(&self, feature: &str) -> Result<(), Unknown> {
        let registry = &self.inner.registry;
        if registry.is_listed(feature) {
            return Ok(());
        }
        let t = self.tables();
        let known = t.streams.contains_key(feature) || t.features.contains_key(feature);
        if known || t.streams.len().max(t.features.len()) < registry.max_dynamic() {
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

    /// Validates an event, adds its meta and sequence number, and queues it to every
    /// subscriber of its feature. Returns how many connections it was queued to.
    pub fn publish(&self, event: OutgoingEvent<Value>, from: &Publisher) -> Result<usize, Unknown> {
        if self.broker().is_some() {
            self.publish_shared(vec![event], from).map_err(|(_, e)| e)?;
            return Ok(0);
        }
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
        if self.broker().is_some() {
            self.publish_shared(events, from)?;
            return Ok(0);
        }
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
            // A bulk publish stays one frame: the client applies it as one batch.
            let frame = if count == 1 { texts[0].clone() } else { batch_frames(texts.iter(), usize::MAX).remove(0) };
            delivered += self.fan_out(&t, &feature, frame, priority) * count;
        }
        Ok(delivered)
    }

    /// With a broker: queues every event for Redis (each its own frame, numbered by the shared
    /// stream). The receivers hear once each event is in Redis.
    fn publish_shared(
        &self,
        events: Vec<OutgoingEvent<Value>>,
        from: &Publisher,
    ) -> Result<Vec<tokio::sync::oneshot::Receiver<()>>, (usize, Unknown)> {
        let broker = self.broker().expect("publish_shared needs a broker");
        let stamped =
            events.into_iter().enumerate().map(|(i, e)| self.stamp(e, from).map_err(|e| (i, e))).collect::<Result<Vec<_>, _>>()?;
        let mut receipts = Vec::with_capacity(stamped.len());
        for message in stamped {
            self.inner.metrics.events_in.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = tokio::sync::oneshot::channel();
            broker.enqueue(self, &message.feature.clone(), body_after_brace(&message), Some(tx));
            receipts.push(rx);
        }
        Ok(receipts)
    }

    /// With a broker: publishes and waits until every event is in Redis (false after `wait`).
    pub(crate) async fn publish_confirmed(
        &self,
        events: Vec<OutgoingEvent<Value>>,
        from: &Publisher,
        wait: Duration,
    ) -> Result<bool, (usize, Unknown)> {
        let receipts = self.publish_shared(events, from)?;
        let all = async {
            for r in receipts {
                if r.await.is_err() {
                    return false;
                }
            }
            true
        };
        Ok(tokio::time::timeout(wait, all).await.unwrap_or(false))
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
            // Counted once, when the handler closes the connection (slow_consumer counts
            // connections, not the frames they missed).
            Err(mpsc::error::TrySendError::Full(_)) => {
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
/// Largest replay frame the gateway builds, in bytes (one event may exceed it alone): a long
/// replay goes out as several batches, none of which needs a huge write buffer.
const REPLAY_FRAME: usize = 256 * 1024;

/// Events as `batch` frames of at most `limit` bytes each (one event may exceed it alone),
/// oldest first.
fn batch_frames<'a>(events: impl Iterator<Item = &'a Utf8Bytes>, limit: usize) -> Vec<Utf8Bytes> {
    const HEAD: &str = r#"{"type":"batch","events":["#;
    let mut frames = Vec::new();
    let mut out = String::from(HEAD);
    for e in events {
        if out.len() > HEAD.len() && out.len() + e.len() + 2 > limit {
            out.push_str("]}");
            frames.push(std::mem::replace(&mut out, String::from(HEAD)).into());
        }
        if out.len() > HEAD.len() {
            out.push(',');
        }
        out.push_str(e.as_str());
    }
    if out.len() > HEAD.len() {
        out.push_str("]}");
        frames.push(out.into());
    }
    frames
}

/// The sequence number of a frame made by the broker's publish script (`{"type":"event","seq":N,...`).
fn frame_seq(frame: &str) -> Option<u64> {
    let rest = frame.strip_prefix(r#"{"type":"event","seq":"#)?;
    rest[..rest.find(',')?].parse().ok()
}

/// An event frame's priority, read without parsing the rest of it.
fn frame_priority(frame: &str) -> Priority {
    if frame.contains(r#""priority":"low""#) {
        Priority::Low
    } else {
        Priority::Normal
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

/// A message's JSON without its opening brace: the broker's script writes the envelope's
/// `type`, `seq` and `epoch` in front of it.
fn body_after_brace(message: &WebSocketMessage<Value>) -> String {
    let json = serde_json::to_string(message).expect("a serde_json::Value always serialises");
    json[1..].to_owned()
}
