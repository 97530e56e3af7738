//! Where each feature's event stream lives: its sequence numbers, its epoch and its history.
//! The hub owns one `Broker` and never asks which kind: `Memory` keeps the streams in this
//! process (one node), `Redis` shares them among every node using the same URL. Frames for
//! this node's subscribers come back through [`Relay`], so this module never sees the hub.

mod memory;
mod redis;
mod shared_presence;

use crate::metrics::Metrics;
use livestate::protocol::{Position, Priority, StreamState, WebSocketMessage};
use serde_json::Value;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Utf8Bytes;

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

/// What a broker needs of the hub: it hands over frames for this node's subscribers.
pub(crate) trait Relay: Send + Sync {
    /// Queues an event (or batch) frame of `feature` to its local subscribers; returns to how many.
    fn deliver(&self, feature: &str, frame: Utf8Bytes, priority: Priority) -> usize;
    /// Tells every local subscriber of `feature` that it missed events.
    fn gap(&self, feature: &str);
    fn metrics(&self) -> &Metrics;
    /// Queues a targeted event frame to the local connection or user it names.
    fn direct(&self, to: &Direct, frame: Utf8Bytes);
    /// Queues a presence `join` or `leave` frame of `feature` to its local watchers.
    fn presence(&self, feature: &str, frame: Utf8Bytes);
    /// The features this node has presence members or watchers of, with its members' JSON.
    fn presence_here(&self) -> Vec<(String, Vec<(u64, String)>)>;
    /// Holds `feature`'s presence frames for its watchers while a snapshot is read; returns whom.
    fn hold_presence(&self, feature: &str) -> Vec<u64>;
    /// Sends the snapshot (if one could be read), then what was held, to those held.
    fn release_presence(&self, feature: &str, held: &[u64], snapshot: Option<Utf8Bytes>);
}

/// Whom a targeted send is for, as nodes tell each other: a connection (whose id names its
/// node) or every connection of a user. `node` is the sender's, which has delivered it already.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct Direct {
    #[serde(rename = "n")]
    pub(crate) node: u64,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub(crate) connection: Option<u64>,
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
}

/// How entering a feature's presence ended.
pub(crate) enum Joined {
    /// The hub's own table is the presence (one node): it checks the limit and announces.
    Here,
    /// Listed in the shared presence, and announced to every node.
    Shared,
    /// The feature has its most members.
    Full,
    /// The shared presence is unreachable; it is listed when the node next refreshes.
    Unknown,
}

/// A feature's members, as the broker knows them.
pub(crate) enum Snapshot {
    /// In the hub's own table.
    Here,
    /// Every node's, as JSON.
    Shared(Vec<String>),
    /// Unreachable right now.
    Unknown,
}

/// A subscription's start: the events missed since the client's position, as batch frames,
/// and the stream's position (none while the broker is unreachable).
pub(crate) struct Attached {
    pub(crate) replay: Vec<Utf8Bytes>,
    pub(crate) stream: Option<StreamState>,
}

/// How far a publish got.
pub(crate) enum Published {
    /// Delivered on this node, which is the only one: to this many connections.
    Delivered(usize),
    /// Queued for the shared streams; each receiver hears once its event is stored. Deliveries
    /// happen on every node, so their number is not known here.
    Queued(Vec<oneshot::Receiver<()>>),
}

#[derive(Debug)]
pub(crate) enum Broker {
    Memory(memory::Memory),
    Redis(Arc<redis::Redis>),
}

impl Broker {
    pub(crate) fn memory(history: History) -> Self {
        Broker::Memory(memory::Memory::new(history))
    }

    /// Checks the URL; the connection is made (and remade) in the background once
    /// [`Broker::start`] has run.
    pub(crate) fn redis(url: &str, history: History, presence_ttl: Duration) -> Result<Self, String> {
        redis::Redis::new(url, history, presence_ttl).map(Broker::Redis)
    }

    /// Starts the background work, which holds `relay` weakly and ends with it.
    pub(crate) fn start(&self, relay: Weak<dyn Relay>) {
        if let Broker::Redis(r) = self {
            redis::spawn(r, relay);
        }
    }

    /// False while the shared streams are unreachable.
    pub(crate) fn healthy(&self) -> bool {
        match self {
            Broker::Memory(_) => true,
            Broker::Redis(r) => r.is_up(),
        }
    }

    /// The epoch of in-memory streams; empty with Redis, where each feature has its own.
    pub(crate) fn epoch(&self) -> &str {
        match self {
            Broker::Memory(m) => m.epoch(),
            Broker::Redis(_) => "",
        }
    }

    /// Whether the broker keeps a stream for `feature`, and how many it keeps.
    pub(crate) fn streams(&self, feature: &str) -> (bool, usize) {
        match self {
            Broker::Memory(m) => m.streams(feature),
            Broker::Redis(_) => (false, 0),
        }
    }

    /// Numbers, stores and delivers one feature's events, in order. Several events go to
    /// subscribers as one batch frame where the broker can keep them together.
    pub(crate) fn publish(&self, feature: &str, events: Vec<WebSocketMessage<Value>>, relay: &dyn Relay) -> Published {
        match self {
            Broker::Memory(m) => Published::Delivered(m.publish(feature, events, relay)),
            Broker::Redis(r) => Published::Queued(vec![r.enqueue(feature, events.iter().map(body_after_brace).collect(), relay)]),
        }
    }

    /// Lists connection `id` in `feature`'s presence, unless it has `max` members.
    pub(crate) async fn join(&self, feature: &str, id: u64, member: &str, max: usize) -> Joined {
        match self {
            Broker::Memory(_) => Joined::Here,
            Broker::Redis(r) => r.presence.join(feature, id, member, max).await,
        }
    }

    /// Removes connection `id` from `feature`'s presence. True if the hub announces the leave
    /// itself (one node); with Redis every node hears of it from Redis.
    pub(crate) fn leave(&self, feature: &str, id: u64) -> bool {
        match self {
            Broker::Memory(_) => true,
            Broker::Redis(r) => {
                r.presence.leave(feature, id);
                false
            }
        }
    }

    /// `feature`'s members.
    pub(crate) async fn snapshot(&self, feature: &str) -> Snapshot {
        match self {
            Broker::Memory(_) => Snapshot::Here,
            Broker::Redis(r) => r.presence.snapshot(feature).await.map_or(Snapshot::Unknown, Snapshot::Shared),
        }
    }

    /// Waits until the presence changes made so far are in the shared presence (a node that
    /// shuts down takes its members out before it exits).
    pub(crate) async fn flush(&self) {
        if let Broker::Redis(r) = self {
            r.presence.flush().await;
        }
    }

    /// Hands a targeted event frame to the other nodes (one node: nothing to do).
    pub(crate) fn direct(&self, to: &Direct, frame: &str) {
        if let Broker::Redis(r) = self {
            r.presence.direct(to, frame);
        }
    }

    /// Starts a subscription to `feature` from `from`. `join` adds the subscriber to the
    /// hub's tables at the one moment from which every later event reaches it.
    pub(crate) async fn attach(&self, feature: &str, from: Option<&Position>, join: impl FnOnce()) -> Attached {
        match self {
            Broker::Memory(m) => m.attach(feature, from, join),
            Broker::Redis(r) => r.attach(feature, from, join).await,
        }
    }

    /// The last local subscriber of `feature` left.
    pub(crate) fn detach(&self, feature: &str) {
        if let Broker::Redis(r) = self {
            r.stop_listening(feature);
        }
    }
}

/// A fresh epoch: the start time mixed with the process's random hash seed.
fn new_epoch() -> String {
    use std::hash::BuildHasher;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{:016x}", std::collections::hash_map::RandomState::new().hash_one(now))
}

/// A message's JSON without its opening brace: an event frame is
/// `{"type":"event","seq":N,"epoch":"E",` followed by it, whichever broker numbers it.
fn body_after_brace(message: &WebSocketMessage<Value>) -> String {
    let mut json = serde_json::to_string(message).expect("a serde_json::Value always serialises");
    json.remove(0);
    json
}

/// Largest replay frame a broker builds, in bytes (one event may exceed it alone): a long
/// replay goes out as several batches, none of which needs a huge write buffer.
const REPLAY_FRAME: usize = 256 * 1024;

/// `{"type":"batch","events":[...]}` from already-serialised event frames (their `type` field
/// is ignored inside a batch), so a replay or a bulk publish is never serialised twice. Frames
/// of at most `limit` bytes each (one event may exceed it alone), oldest first.
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

/// The sequence number of an event frame, or of a batch frame's first event, read without
/// parsing the rest (every broker writes `seq` first).
pub(crate) fn frame_seq(frame: &str) -> Option<u64> {
    let rest = frame.strip_prefix(r#"{"type":"batch","events":["#).unwrap_or(frame);
    let rest = rest.strip_prefix(r#"{"type":"event","seq":"#)?;
    rest[..rest.find(',')?].parse().ok()
}

/// An event frame's priority, read without parsing the rest of it. A batch counts as normal:
/// one `low` event in it must not let the others be dropped.
pub(crate) fn frame_priority(frame: &str) -> Priority {
    if frame.starts_with(r#"{"type":"event""#) && frame.contains(r#""priority":"low""#) {
        Priority::Low
    } else {
        Priority::Normal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_frame_is_placed_by_its_first_sequence_number_whichever_broker_wrote_it() {
        let event = r#"{"type":"event","seq":42,"epoch":"e","feature":"rbac"}"#;
        assert_eq!(frame_seq(event), Some(42));
        let batch = batch_frames([Utf8Bytes::from(event), Utf8Bytes::from(event.replace("42", "43"))].iter(), usize::MAX);
        assert_eq!(frame_seq(&batch[0]), Some(42));
        assert_eq!(frame_seq(r#"{"type":"event","feature":"rbac"}"#), None);
    }

    #[test]
    fn a_long_replay_is_cut_into_frames_under_the_limit_in_order() {
        let events: Vec<Utf8Bytes> = (1..=10).map(|i| format!(r#"{{"type":"event","seq":{i},"epoch":"e"}}"#).into()).collect();
        let frames = batch_frames(events.iter(), 120);
        assert!(frames.len() > 1 && frames.iter().all(|f| f.len() <= 120));
        let seqs: Vec<u64> = frames
            .iter()
            .flat_map(|f| serde_json::from_str::<Value>(f).unwrap()["events"].as_array().unwrap().clone())
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    }
}
