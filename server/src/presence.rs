//! Presence: who is subscribed to a feature, for features whose registry entry asks for it.
//! The hub keeps this node's members (for Redis to refresh) and the connections that watch
//! each feature's presence; the broker keeps the set all nodes share (Redis), or leaves it to
//! the hub's table (memory). A watcher's snapshot is read while the join and leave frames meant
//! for it are held; they follow the snapshot, and applied to it in order they leave the client
//! exact (a join is an insert by connection id, a leave a removal).

use crate::broker::{Joined, Snapshot};
use crate::hub::{Hub, HubInner, Tables};
use crate::outbox::{Peer, Wire};
use livestate::protocol::{PresenceMember, Priority};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// A member as every node stores and sends it: `{"connectionId":..,"userId":..,"info"?:..}`.
pub(crate) fn member_json(id: u64, user: &str, info: Option<Value>) -> String {
    let member = PresenceMember { connection_id: id.to_string(), user_id: user.to_owned(), info };
    serde_json::to_string(&member).expect("a member always serialises")
}

/// `{"type":"join"|"leave","feature":..,"member":..}`; feature names need no escaping.
pub(crate) fn change_frame(kind: &str, feature: &str, member: &str) -> Utf8Bytes {
    format!(r#"{{"type":"{kind}","feature":"{feature}","member":{member}}}"#).into()
}

pub(crate) fn snapshot_frame<'a>(feature: &str, members: impl Iterator<Item = &'a String>) -> Utf8Bytes {
    let mut out = format!(r#"{{"type":"presence","feature":"{feature}","members":["#);
    for (i, m) in members.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(m);
    }
    out.push_str("]}");
    out.into()
}

impl Hub {
    /// Enters `feature`'s presence: lists the connection as a member, and if it may `watch`,
    /// returns the snapshot and the frames held while it was read, to send before `subscribed`.
    /// `listed` is false when the feature already had `max` members.
    pub(crate) async fn enter_presence(
        &self,
        feature: &str,
        id: u64,
        peer: &Peer,
        member: String,
        watch: bool,
        max: usize,
    ) -> (Vec<Utf8Bytes>, bool) {
        if watch {
            let mut t = self.tables();
            t.watchers.entry(feature.to_owned()).or_default().insert(id, peer.clone());
            t.held.insert((id, feature.to_owned()), Vec::new());
        }
        let listed = match self.broker().join(feature, id, &member, max).await {
            Joined::Here => {
                let mut t = self.tables();
                let members = t.members.entry(feature.to_owned()).or_default();
                let room = members.len() < max;
                if room {
                    members.insert(id, member.clone());
                    deliver(self.inner(), &mut t, feature, change_frame("join", feature, &member));
                }
                room
            }
            // Unknown: Redis is away; the refresh lists it (with a join) once Redis is back.
            Joined::Shared | Joined::Unknown => {
                self.tables().members.entry(feature.to_owned()).or_default().insert(id, member);
                true
            }
            Joined::Full => false,
        };
        if !listed {
            self.metrics().drop(crate::metrics::Drop::PresenceFull);
        }
        if !watch {
            return (Vec::new(), listed);
        }
        let snapshot = self.broker().snapshot(feature).await;
        let mut t = self.tables();
        let mut held = t.held.remove(&(id, feature.to_owned())).unwrap_or_default();
        let frame = match snapshot {
            // Read under the lock that every change takes: it holds them all already.
            Snapshot::Here => {
                held.clear();
                snapshot_frame(feature, t.members.get(feature).into_iter().flat_map(|m| m.values()))
            }
            // Changes published before it was read may still be on their way: sent after it,
            // they are repeats the client ignores (a join of a member it lists, a leave of
            // one it does not).
            Snapshot::Shared(members) => snapshot_frame(feature, members.iter()),
            // Without a snapshot the client forgets what it had; one follows when Redis is back.
            Snapshot::Unknown => return (Vec::new(), listed),
        };
        (std::iter::once(frame).chain(held).collect(), listed)
    }

    /// Stops sending `feature`'s presence to a connection (its new token hides it); it stays a member.
    pub(crate) fn unwatch(&self, feature: &str, id: u64) {
        unwatch(&mut self.tables(), feature, id);
    }

    /// Leaves `feature`'s presence (unsubscribed or gone): no longer a watcher, nor a member.
    pub(crate) fn exit_presence(&self, t: &mut Tables, feature: &str, id: u64) {
        unwatch(t, feature, id);
        let Some(members) = t.members.get_mut(feature) else { return };
        let Some(member) = members.remove(&id) else { return };
        if members.is_empty() {
            t.members.remove(feature);
        }
        if self.broker().leave(feature, id) {
            deliver(self.inner(), t, feature, change_frame("leave", feature, &member));
        }
    }

    /// `feature`'s members on every node, or none while Redis is unreachable.
    pub async fn presence(&self, feature: &str) -> Option<Vec<PresenceMember<Value>>> {
        let members = match self.broker().snapshot(feature).await {
            Snapshot::Here => self.tables().members.get(feature).map(|m| m.values().cloned().collect()).unwrap_or_default(),
            Snapshot::Shared(members) => members,
            Snapshot::Unknown => return None,
        };
        Some(members.iter().filter_map(|m| serde_json::from_str(m).ok()).collect())
    }
}

fn unwatch(t: &mut Tables, feature: &str, id: u64) {
    if let Some(w) = t.watchers.get_mut(feature) {
        w.remove(&id);
        if w.is_empty() {
            t.watchers.remove(feature);
        }
    }
    t.held.remove(&(id, feature.to_owned()));
}

/// Queues a join or leave frame to `feature`'s watchers, or holds it for those whose snapshot
/// is being read.
pub(crate) fn deliver(hub: &HubInner, t: &mut Tables, feature: &str, frame: Utf8Bytes) {
    let Tables { watchers, held, .. } = t;
    let wire = Wire::text(&frame);
    for (id, peer) in watchers.get(feature).into_iter().flatten() {
        // Usually no snapshot is being read: no key to build per watcher then.
        let holding = if held.is_empty() { None } else { held.get_mut(&(*id, feature.to_owned())) };
        match holding {
            Some(frames) => frames.push(frame.clone()),
            None => {
                hub.offer(peer, "", &wire, Priority::Normal);
            }
        }
    }
}

/// Features this node has members or watchers of, with its members: what Redis refreshes.
pub(crate) fn here(t: &Tables) -> Vec<(String, Vec<(u64, String)>)> {
    let mut out: Vec<(String, Vec<(u64, String)>)> =
        t.members.iter().map(|(f, m)| (f.clone(), m.iter().map(|(id, json)| (*id, json.clone())).collect())).collect();
    for f in t.watchers.keys() {
        if !t.members.contains_key(f) {
            out.push((f.clone(), Vec::new()));
        }
    }
    out
}

/// Holds the frames of `feature`'s watchers (those not held already) while a fresh snapshot
/// is read for them; returns whom it held.
pub(crate) fn hold(t: &mut Tables, feature: &str) -> Vec<u64> {
    let ids: Vec<u64> = t.watchers.get(feature).map(|w| w.keys().copied().collect()).unwrap_or_default();
    let mut out = Vec::new();
    for id in ids {
        if let std::collections::hash_map::Entry::Vacant(v) = t.held.entry((id, feature.to_owned())) {
            v.insert(Vec::new());
            out.push(id);
        }
    }
    out
}

/// Sends the fresh snapshot, then what was held, to the watchers `held` held.
pub(crate) fn release(hub: &HubInner, t: &mut Tables, feature: &str, held: &[u64], snapshot: Option<Utf8Bytes>) {
    for id in held {
        let frames = t.held.remove(&(*id, feature.to_owned())).unwrap_or_default();
        let Some(peer) = t.watchers.get(feature).and_then(|w| w.get(id)) else { continue };
        for frame in snapshot.iter().cloned().chain(frames) {
            hub.offer(peer, "", &Wire::text(&frame), Priority::Normal);
        }
    }
}
