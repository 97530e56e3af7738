//! Who is subscribed to what, and fan-out: each event is serialised once and the same bytes
//! are queued to every subscriber without waiting on any of them.

use axum::extract::ws::Utf8Bytes;
use livestate::protocol::{validate_name, Meta, NameError, OutgoingEvent, ServerFrame, WebSocketMessage};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};

/// A connection as the hub sees it: where to queue frames, and how to tell it it fell behind.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub(crate) tx: mpsc::Sender<Utf8Bytes>,
    pub(crate) slow: Arc<Notify>,
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

/// Shared subscription table; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Hub {
    inner: Arc<HubInner>,
}

#[derive(Debug, Default)]
struct HubInner {
    // A std Mutex: it is never held across an await, and fan-out only does try_send under it.
    features: Mutex<HashMap<String, HashMap<u64, Peer>>>,
    next_id: AtomicU64,
}

impl Hub {
    pub(crate) fn next_connection_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn subscribe(&self, feature: &str, id: u64, peer: &Peer) {
        let mut map = self.inner.features.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(feature.to_owned()).or_default().insert(id, peer.clone());
    }

    pub(crate) fn unsubscribe(&self, feature: &str, id: u64) {
        let mut map = self.inner.features.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(peers) = map.get_mut(feature) {
            peers.remove(&id);
            if peers.is_empty() {
                map.remove(feature);
            }
        }
    }

    /// Connection ids subscribed to `feature` (the seed's `getFeatureClients`).
    pub fn feature_clients(&self, feature: &str) -> Vec<u64> {
        let map = self.inner.features.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<u64> = map.get(feature).map(|p| p.keys().copied().collect()).unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    /// Validates an event, adds its meta and queues it to every subscriber of its feature.
    /// Returns how many connections it was queued to.
    pub fn publish(&self, event: OutgoingEvent<Value>, from: &Publisher) -> Result<usize, NameError> {
        let message = stamp(event, from)?;
        let feature = message.feature.clone();
        Ok(self.fan_out(&feature, encode(&ServerFrame::Event(message))))
    }

    /// Publishes several events at once. All are validated first (the error carries the index
    /// of the first bad one), then each feature's events go out as one `batch` frame, so a
    /// client applies them with one change notification. Returns the sum over events of the
    /// connections each was queued to.
    pub fn publish_batch(&self, events: Vec<OutgoingEvent<Value>>, from: &Publisher) -> Result<usize, (usize, NameError)> {
        let mut groups: Vec<(String, Vec<WebSocketMessage<Value>>)> = Vec::new();
        for (i, event) in events.into_iter().enumerate() {
            let message = stamp(event, from).map_err(|e| (i, e))?;
            match groups.iter_mut().find(|(f, _)| *f == message.feature) {
                Some((_, list)) => list.push(message),
                None => groups.push((message.feature.clone(), vec![message])),
            }
        }
        let mut delivered = 0;
        for (feature, mut events) in groups {
            let count = events.len();
            let frame = if count == 1 { ServerFrame::Event(events.remove(0)) } else { ServerFrame::Batch { events } };
            delivered += self.fan_out(&feature, encode(&frame)) * count;
        }
        Ok(delivered)
    }

    /// Queues `text` verbatim to `feature`'s subscribers (the test-only raw relay).
    pub(crate) fn relay(&self, feature: &str, text: Utf8Bytes) -> usize {
        self.fan_out(feature, text)
    }

    fn fan_out(&self, feature: &str, text: Utf8Bytes) -> usize {
        let map = self.inner.features.lock().unwrap_or_else(|e| e.into_inner());
        let Some(peers) = map.get(feature) else { return 0 };
        let mut queued = 0;
        for peer in peers.values() {
            match peer.tx.try_send(text.clone()) {
                Ok(()) => queued += 1,
                // Never wait for one client: a full queue marks it slow and its handler closes it.
                Err(mpsc::error::TrySendError::Full(_)) => peer.slow.notify_one(),
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        queued
    }
}

/// Checks the names and adds the gateway's meta.
fn stamp(event: OutgoingEvent<Value>, from: &Publisher) -> Result<WebSocketMessage<Value>, NameError> {
    validate_name("feature", &event.feature)?;
    validate_name("entity", &event.entity)?;
    validate_name("action", &event.action)?;
    let meta = Meta {
        timestamp: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        user_id: from.user_id.clone(),
        session_id: from.session_id.clone(),
        feature_version: "1.0".into(),
        priority: event.priority.unwrap_or_default(),
    };
    Ok(WebSocketMessage { feature: event.feature, entity: event.entity, action: event.action, data: event.data, meta })
}

/// Serialises a frame once for every subscriber.
fn encode(frame: &ServerFrame<Value>) -> Utf8Bytes {
    serde_json::to_string(frame).expect("a serde_json::Value always serialises").into()
}
