//! Streams in this process's memory: one node, and history that a restart loses (every start
//! is a new epoch). Events are numbered and handed to the hub under one lock, and a subscriber
//! joins under the same lock, so every subscriber sees a feature's events in sequence order
//! and nothing falls between a replay and the live stream.

use super::{batch_frames, body_after_brace, new_epoch, Attached, History, Relay, REPLAY_FRAME};
use livestate::protocol::{Position, Priority, StreamState, WebSocketMessage};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// One feature's stream: its last sequence number and its recent frames, as sent.
#[derive(Debug, Default)]
struct Stream {
    seq: u64,
    history: VecDeque<(u64, Instant, Utf8Bytes)>,
}

#[derive(Debug)]
pub(crate) struct Memory {
    // A std Mutex, never held across an await. Lock order: streams, then the hub's tables.
    streams: Mutex<HashMap<String, Stream>>,
    epoch: String,
    history: History,
}

impl Memory {
    pub(super) fn new(history: History) -> Self {
        Self { streams: Mutex::default(), epoch: new_epoch(), history }
    }

    pub(super) fn epoch(&self) -> &str {
        &self.epoch
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Stream>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn streams(&self, feature: &str) -> (bool, usize) {
        let streams = self.lock();
        (streams.contains_key(feature), streams.len())
    }

    pub(super) fn publish(&self, feature: &str, events: Vec<WebSocketMessage<Value>>, relay: &dyn Relay) -> usize {
        let count = events.len();
        // A batch is as urgent as its most urgent event.
        let priority = events.iter().map(|e| e.meta.priority).max_by_key(|p| rank(*p)).unwrap_or_default();
        // Serialised before the lock, which only numbers and stores.
        let bodies: Vec<String> = events.iter().map(body_after_brace).collect();
        let mut streams = self.lock();
        let stream = streams.entry(feature.to_owned()).or_default();
        let mut frames = Vec::with_capacity(count);
        for body in &bodies {
            stream.seq += 1;
            let frame: Utf8Bytes = format!(r#"{{"type":"event","seq":{},"epoch":"{}",{body}"#, stream.seq, self.epoch).into();
            stream.history.push_back((stream.seq, Instant::now(), frame.clone()));
            frames.push(frame);
        }
        prune(stream, self.history);
        // A bulk publish stays one frame: the client applies it as one batch.
        let frame = if count == 1 { frames.pop().expect("one frame") } else { batch_frames(frames.iter(), usize::MAX).remove(0) };
        relay.deliver(feature, frame, priority) * count
    }

    pub(super) fn attach(&self, feature: &str, from: Option<&Position>, join: impl FnOnce()) -> Attached {
        let mut streams = self.lock();
        join();
        let stream = streams.entry(feature.to_owned()).or_default();
        prune(stream, self.history);
        let top = stream.seq;
        let epoch = self.epoch.clone();
        let Some(from) = from else {
            return Attached { replay: Vec::new(), stream: Some(StreamState { epoch, seq: top, recovered: None }) };
        };
        let oldest = stream.history.front().map_or(top + 1, |(seq, _, _)| *seq);
        let recoverable = from.epoch == epoch && from.seq <= top && oldest <= from.seq + 1;
        let replay = if recoverable && from.seq < top {
            batch_frames(stream.history.iter().filter(|(seq, _, _)| *seq > from.seq).map(|(_, _, text)| text), REPLAY_FRAME)
        } else {
            Vec::new()
        };
        Attached { replay, stream: Some(StreamState { epoch, seq: top, recovered: Some(recoverable) }) }
    }
}

/// Drops events beyond the history's size or age.
fn prune(stream: &mut Stream, history: History) {
    while stream.history.len() > history.size || stream.history.front().is_some_and(|(_, at, _)| at.elapsed() > history.ttl) {
        stream.history.pop_front();
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
