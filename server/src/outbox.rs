//! A connection's outbound queue: the hub puts frames in without waiting, the connection's
//! handler takes them out and writes them. One allocation per connection, none while idle.
//!
//! It replaces a tokio `mpsc` channel plus two `Notify`s and a gap set: the channel's first
//! block (32 frames) cost 1.1 KB per idle connection and busy ones held several; a `VecDeque`
//! holds what is queued and gives back what a burst made it grow.

use bytes::{BufMut, Bytes, BytesMut};
use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::futures::Notified;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// What the queue keeps after a burst, once it is empty again.
const KEEP: usize = 16;

/// A text frame as it goes on the wire, header and payload: made once for every connection it
/// is queued to, and written to each socket as it is (a server's frames are not masked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Wire(Bytes);

impl Wire {
    pub(crate) fn text(payload: &Utf8Bytes) -> Self {
        let len = payload.len();
        let mut b = BytesMut::with_capacity(len + 10);
        b.put_u8(0x81); // FIN, text
        if len < 126 {
            b.put_u8(len as u8);
        } else if len <= 0xffff {
            b.put_u8(126);
            b.put_u16(len as u16);
        } else {
            b.put_u8(127);
            b.put_u64(len as u64);
        }
        b.put_slice(payload.as_bytes());
        Wire(b.freeze())
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// The text of a frame made by `text`, without its header.
    #[cfg(test)]
    pub(crate) fn parse(frame: Bytes) -> Bytes {
        let head = match frame[1] {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        frame.slice(head..)
    }
}

/// A connection as the hub sees it; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Peer(Arc<Outbox>);

#[derive(Debug)]
pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    /// Wakes the handler: frames to write, a gap to report or an overflow.
    wake: Notify,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Wire>,
    /// Features whose `low` events were dropped for this connection, reported as a gap.
    gaps: BTreeSet<String>,
    /// A frame was refused by a full queue: the handler closes the connection.
    slow: bool,
    /// The handler has left: nothing more is queued.
    closed: bool,
}

/// What the handler has to do after a wakeup, besides writing the frames it took.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Turn {
    /// A frame was refused by a full queue: close the connection.
    pub(crate) slow: bool,
    /// Frames are left behind (the batch was full): take another turn.
    pub(crate) more: bool,
    /// Features with a gap since the last turn.
    pub(crate) gaps: Vec<String>,
}

/// What happened to an offered frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    Queued,
    /// Refused: the connection is told it has a gap in this feature.
    Gap,
    /// Refused by a full queue: the connection is closed as a slow consumer.
    Full,
    Closed,
}

impl Peer {
    pub(crate) fn new(capacity: usize) -> Self {
        Peer(Arc::new(Outbox { queue: Mutex::default(), wake: Notify::new(), capacity: capacity.max(1) }))
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.0.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame of `feature` ("" for frames that belong to no stream). A `low` frame is
    /// refused once the queue is three quarters full, and any frame once it is full; a refused
    /// frame of a stream becomes a gap.
    pub(crate) fn offer(&self, feature: &str, text: Wire, low: bool) -> Offer {
        let capacity = self.0.capacity;
        let mut q = self.queue();
        if q.closed {
            return Offer::Closed;
        }
        let len = q.frames.len();
        let filling = capacity - len.min(capacity) < capacity / 4;
        let gap = !feature.is_empty() && low;
        if gap && (filling || len >= capacity) {
            if q.gaps.insert(feature.to_owned()) {
                self.0.wake.notify_one();
            }
            return Offer::Gap;
        }
        if len >= capacity {
            q.slow = true;
            self.0.wake.notify_one();
            return Offer::Full;
        }
        q.frames.push_back(text);
        // A queue that was not empty has a wakeup on its way already.
        if len == 0 {
            self.0.wake.notify_one();
        }
        Offer::Queued
    }

    /// Marks a gap in `feature`: its events were lost upstream.
    pub(crate) fn gap(&self, feature: &str) {
        let mut q = self.queue();
        if !q.closed && q.gaps.insert(feature.to_owned()) {
            self.0.wake.notify_one();
        }
    }

    /// Resolves when there is something to take; make a new one after it resolves.
    pub(crate) fn woken(&self) -> Notified<'_> {
        self.0.wake.notified()
    }

    /// Asks for another turn (the handler took a full batch and left frames behind).
    pub(crate) fn wake_again(&self) {
        self.0.wake.notify_one();
    }

    /// One turn of the handler, under one lock: up to `max` frames into `into`, and what else
    /// there is to act on.
    pub(crate) fn take(&self, into: &mut Vec<Bytes>, max: usize) -> Turn {
        let mut q = self.queue();
        let n = q.frames.len().min(max.saturating_sub(into.len()));
        into.extend(q.frames.drain(..n).map(|w| w.0));
        if q.frames.is_empty() && q.frames.capacity() > KEEP {
            q.frames.shrink_to(KEEP);
        }
        Turn { slow: q.slow, more: !q.frames.is_empty(), gaps: std::mem::take(&mut q.gaps).into_iter().collect() }
    }

    /// The handler has left: frames are refused from now on, and those queued are dropped.
    pub(crate) fn close(&self) {
        let mut q = self.queue();
        q.closed = true;
        q.frames = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(i: usize) -> Wire {
        Wire::text(&i.to_string().into())
    }

    #[test]
    fn a_wire_frame_is_the_text_behind_a_header_of_2_4_or_10_bytes() {
        for (len, head) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
            let text: Utf8Bytes = "x".repeat(len).into();
            let wire = Wire::text(&text);
            assert_eq!(wire.bytes().len(), len + head, "{len}");
            assert_eq!(wire.bytes()[0], 0x81, "a whole text frame");
            assert_eq!(Wire::parse(wire.bytes().clone()), text.as_bytes());
        }
    }

    fn take(peer: &Peer, max: usize) -> (Vec<Bytes>, Turn) {
        let mut frames = Vec::new();
        let turn = peer.take(&mut frames, max);
        (frames, turn)
    }

    #[test]
    fn a_full_queue_refuses_and_marks_the_connection_slow() {
        let peer = Peer::new(4);
        for i in 0..4 {
            assert_eq!(peer.offer("f", frame(i), false), Offer::Queued);
        }
        assert_eq!(peer.offer("f", frame(4), false), Offer::Full);
        let (frames, turn) = take(&peer, 64);
        assert!(turn.slow);
        let sent: Vec<Bytes> = (0..4).map(|i| frame(i).0).collect();
        assert_eq!(frames, sent, "frames come out in order, none lost before the overflow");
    }

    #[test]
    fn a_turn_takes_at_most_a_batch_and_says_more_is_left() {
        let peer = Peer::new(8);
        for i in 0..5 {
            peer.offer("f", frame(i), false);
        }
        let (frames, turn) = take(&peer, 3);
        assert_eq!((frames.len(), turn.more, turn.slow), (3, true, false));
        let (frames, turn) = take(&peer, 3);
        assert_eq!((frames.len(), turn.more), (2, false));
    }

    #[test]
    fn low_frames_are_refused_near_full_and_become_one_gap_per_feature() {
        let peer = Peer::new(8);
        // Refused once fewer than a quarter of the places are free.
        for i in 0..7 {
            assert_eq!(peer.offer("f", frame(i), true), Offer::Queued);
        }
        assert_eq!(peer.offer("f", frame(6), true), Offer::Gap);
        assert_eq!(peer.offer("f", frame(7), true), Offer::Gap);
        assert_eq!(peer.offer("g", frame(8), true), Offer::Gap);
        assert_eq!(peer.offer("f", frame(9), false), Offer::Queued, "a normal frame still fits");
        let (_, turn) = take(&peer, 64);
        assert!(!turn.slow);
        assert_eq!(turn.gaps, ["f", "g"]);
        assert!(take(&peer, 64).1.gaps.is_empty());
    }

    #[test]
    fn a_closed_queue_refuses_everything_and_frees_what_it_held() {
        let peer = Peer::new(4);
        peer.offer("f", frame(0), false);
        peer.close();
        assert_eq!(peer.offer("f", frame(1), false), Offer::Closed);
        peer.gap("f");
        assert_eq!(take(&peer, 64), (vec![], Turn::default()));
    }

    #[test]
    fn an_emptied_queue_gives_back_what_a_burst_made_it_grow() {
        let peer = Peer::new(1024);
        for i in 0..1000 {
            peer.offer("f", frame(i), false);
        }
        while take(&peer, 64).1.more {}
        assert!(peer.queue().frames.capacity() <= KEEP);
    }

    #[tokio::test]
    async fn the_first_frame_wakes_the_handler_and_a_waiting_wakeup_is_not_lost() {
        let peer = Peer::new(8);
        peer.offer("f", frame(0), false);
        peer.offer("f", frame(1), false);
        // The wakeup was given before anyone waited: it is kept for the next wait.
        tokio::time::timeout(std::time::Duration::from_secs(5), peer.woken()).await.expect("woken");
        assert_eq!(take(&peer, 1).0, [frame(0).0]);
    }
}
