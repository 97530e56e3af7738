//! A connection's outbound queue: the hub puts frames in without waiting, the connection's
//! handler takes them out and writes them. One allocation per connection, none while idle.
//! Handlers with frames to write take turns in one line (`Turns`), first come first served.
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
    /// Wakes the handler: its turn to write, a gap to report or an overflow.
    wake: Notify,
    capacity: usize,
    turns: Arc<Turns>,
}

/// Where a connection stands in the line of [`Turns`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The handler is busy (starting, answering the client, writing): frames queue up, and it
    /// gets in line when it is back in its loop (`Peer::ready`). It holds no turn meanwhile,
    /// so a client that stops reading cannot hold up anyone else's.
    #[default]
    Away,
    /// In its loop with nothing queued.
    Idle,
    /// In line for a turn.
    Waiting,
    /// Given a turn (woken) and not yet taken its frames.
    Turn,
}

/// The line of connections with frames to write. At most `max` handlers hold a turn (woken,
/// not yet run); as one takes its frames, the next in line is woken.
///
/// Without it, an event to 1 000 subscribers woke 1 000 tasks at once: tokio's run queue
/// holds 256 per worker and moves the rest to a shared queue it looks at every 61st task, so
/// some connections waited many rounds while others were served again and again (p99 2.6x
/// uWebSockets.js's at 1 000 subscribers). In one line, every connection is served in the order
/// its first frame came, and a turn writes everything queued by then in one `writev`.
#[derive(Debug)]
pub(crate) struct Turns {
    line: Mutex<Line>,
    max: usize,
}

#[derive(Debug, Default)]
struct Line {
    waiting: VecDeque<Peer>,
    /// Turns given out (held by a connection in `Place::Turn`, or being passed on).
    given: usize,
}

impl Turns {
    /// A line that lets `max` handlers hold a turn at once.
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Turns { line: Mutex::default(), max: max.max(1) })
    }

    /// Enough turns to keep every worker thread busy, few enough that tokio's run queue keeps
    /// them in order.
    pub(crate) fn for_this_machine() -> Arc<Self> {
        Self::new(16 * std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    fn line(&self) -> MutexGuard<'_, Line> {
        self.line.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `peer` (now `Waiting`) goes to the back of the line, or gets a turn at once.
    fn join(&self, peer: &Peer) {
        {
            let mut line = self.line();
            if line.given >= self.max {
                line.waiting.push_back(peer.clone());
                return;
            }
            line.given += 1;
        }
        self.pass(Some(peer.clone()));
    }

    /// Gives the turn in hand to `first` if it still waits, else to the next in line that
    /// does; with nobody left, the turn goes back. (A connection can be in line twice, or no
    /// longer waiting, when its handler wrote before its turn came: it is skipped then.)
    fn pass(&self, mut next: Option<Peer>) {
        loop {
            if let Some(peer) = next.take() {
                let mut q = peer.queue();
                if q.place == Place::Waiting && !q.closed {
                    q.place = Place::Turn;
                    drop(q);
                    peer.0.wake.notify_one();
                    return;
                }
            }
            let mut line = self.line();
            match line.waiting.pop_front() {
                Some(peer) => next = Some(peer),
                None => {
                    line.given -= 1;
                    return;
                }
            }
        }
    }
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
    place: Place,
}

/// What the handler has to do after a wakeup, besides writing the frames it took.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Turn {
    /// A frame was refused by a full queue: close the connection.
    pub(crate) slow: bool,
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
    /// A connection's queue, taking its turns in `turns`. It starts `Away`: frames queued
    /// before the handler's loop starts are written once it does.
    pub(crate) fn new(capacity: usize, turns: &Arc<Turns>) -> Self {
        Peer(Arc::new(Outbox { queue: Mutex::default(), wake: Notify::new(), capacity: capacity.max(1), turns: turns.clone() }))
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
        // Otherwise it is in line already, or its handler will see the frame when back.
        if q.place == Place::Idle {
            q.place = Place::Waiting;
            drop(q);
            self.0.turns.join(self);
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

    /// One turn of the handler, under one lock: up to `max` frames into `into`, and what else
    /// there is to act on. The handler is `Away` until it calls `ready` (after writing them);
    /// its turn goes to the next in line.
    pub(crate) fn take(&self, into: &mut Vec<Bytes>, max: usize) -> Turn {
        let mut q = self.queue();
        let n = q.frames.len().min(max.saturating_sub(into.len()));
        into.extend(q.frames.drain(..n).map(|w| w.0));
        if q.frames.is_empty() && q.frames.capacity() > KEEP {
            q.frames.shrink_to(KEEP);
        }
        let turn = Turn { slow: q.slow, gaps: std::mem::take(&mut q.gaps).into_iter().collect() };
        self.leave_line(q);
        turn
    }

    /// The handler is busy with something else (a client's message, a heartbeat): it gives
    /// its turn, if it has one, to the next in line until it is `ready` again.
    pub(crate) fn away(&self) {
        self.leave_line(self.queue());
    }

    fn leave_line(&self, mut q: MutexGuard<'_, Queue>) {
        let had_turn = q.place == Place::Turn;
        q.place = Place::Away;
        drop(q);
        if had_turn {
            self.0.turns.pass(None);
        }
    }

    /// The handler is back in its loop: what was queued meanwhile (or left over from a full
    /// batch) gets in line, at the back.
    pub(crate) fn ready(&self) {
        let mut q = self.queue();
        if q.place != Place::Away || q.closed {
            return;
        }
        if q.frames.is_empty() {
            q.place = Place::Idle;
        } else {
            q.place = Place::Waiting;
            drop(q);
            self.0.turns.join(self);
        }
    }

    /// The handler has left: frames are refused from now on, those queued are dropped, and a
    /// turn it held goes on. (Also run when a handler's task is dropped mid-way.)
    pub(crate) fn close(&self) {
        let mut q = self.queue();
        q.closed = true;
        q.frames = VecDeque::new();
        self.leave_line(q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(i: usize) -> Wire {
        Wire::text(&i.to_string().into())
    }

    /// A connection whose handler is in its loop, in a line of `max` turns.
    fn peer(capacity: usize, turns: &Arc<Turns>) -> Peer {
        let peer = Peer::new(capacity, turns);
        peer.ready();
        peer
    }

    fn place(peer: &Peer) -> Place {
        peer.queue().place
    }

    fn given(turns: &Turns) -> usize {
        turns.line().given
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
        let peer = peer(4, &Turns::new(16));
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
    fn a_turn_takes_at_most_a_batch_and_the_rest_waits_for_the_next_turn() {
        let turns = Turns::new(16);
        let peer = peer(8, &turns);
        for i in 0..5 {
            peer.offer("f", frame(i), false);
        }
        assert_eq!(take(&peer, 3).0.len(), 3);
        assert_eq!(place(&peer), Place::Away, "writing them");
        peer.ready();
        assert_eq!(place(&peer), Place::Turn, "back in line, and nobody else is");
        assert_eq!(take(&peer, 3).0.len(), 2);
        peer.ready();
        assert_eq!((place(&peer), given(&turns)), (Place::Idle, 0));
    }

    #[test]
    fn low_frames_are_refused_near_full_and_become_one_gap_per_feature() {
        let peer = peer(8, &Turns::new(16));
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
        let peer = peer(4, &Turns::new(16));
        peer.offer("f", frame(0), false);
        peer.close();
        assert_eq!(peer.offer("f", frame(1), false), Offer::Closed);
        peer.gap("f");
        assert_eq!(take(&peer, 64), (vec![], Turn::default()));
    }

    #[test]
    fn an_emptied_queue_gives_back_what_a_burst_made_it_grow() {
        let peer = peer(1024, &Turns::new(16));
        for i in 0..1000 {
            peer.offer("f", frame(i), false);
        }
        while !take(&peer, 64).0.is_empty() {}
        assert!(peer.queue().frames.capacity() <= KEEP);
    }

    #[tokio::test]
    async fn the_first_frame_wakes_the_handler_and_a_waiting_wakeup_is_not_lost() {
        let peer = peer(8, &Turns::new(16));
        peer.offer("f", frame(0), false);
        peer.offer("f", frame(1), false);
        // The wakeup was given before anyone waited: it is kept for the next wait.
        tokio::time::timeout(std::time::Duration::from_secs(5), peer.woken()).await.expect("woken");
        assert_eq!(take(&peer, 1).0, [frame(0).0]);
    }

    #[test]
    fn connections_take_turns_in_the_order_their_first_frame_came() {
        let turns = Turns::new(2);
        let peers: Vec<Peer> = (0..4).map(|_| peer(8, &turns)).collect();
        for (i, p) in peers.iter().enumerate() {
            p.offer("f", frame(i), false);
            p.offer("f", frame(i), false);
        }
        let places = |ps: &[Peer]| ps.iter().map(place).collect::<Vec<_>>();
        assert_eq!(places(&peers), [Place::Turn, Place::Turn, Place::Waiting, Place::Waiting], "two turns at a time");
        assert_eq!(take(&peers[1], 64).0.len(), 2, "one turn writes all that is queued");
        assert_eq!(places(&peers), [Place::Turn, Place::Away, Place::Turn, Place::Waiting], "its turn went to the first in line");
        peers[1].offer("f", frame(9), false);
        peers[1].ready();
        take(&peers[0], 64);
        assert_eq!(places(&peers), [Place::Away, Place::Waiting, Place::Turn, Place::Turn], "a connection back in line waits behind the others");
        for p in [&peers[2], &peers[3], &peers[1]] {
            take(p, 64);
            p.ready();
        }
        assert_eq!(given(&turns), 0, "every turn came back");
    }

    #[test]
    fn a_busy_or_closed_handler_passes_its_turn_on() {
        let turns = Turns::new(1);
        let (a, b, c) = (peer(8, &turns), peer(8, &turns), peer(8, &turns));
        for p in [&a, &b, &c] {
            p.offer("f", frame(0), false);
        }
        a.away();
        assert_eq!((place(&a), place(&b)), (Place::Away, Place::Turn), "a client that stops reading holds up no one");
        b.close();
        assert_eq!(place(&c), Place::Turn);
        a.ready();
        assert_eq!(place(&a), Place::Waiting, "its frames wait their turn");
        take(&c, 64);
        assert_eq!(place(&a), Place::Turn);
        take(&a, 64);
        assert_eq!(given(&turns), 0);
    }

    #[test]
    fn a_connection_that_wrote_before_its_turn_came_is_skipped() {
        let turns = Turns::new(1);
        let (a, b, c) = (peer(8, &turns), peer(8, &turns), peer(8, &turns));
        for p in [&a, &b, &c] {
            p.offer("f", frame(0), false);
        }
        // Woken by a gap, b writes its frames while still in line.
        b.gap("f");
        take(&b, 64);
        b.ready();
        take(&a, 64);
        assert_eq!((place(&b), place(&c)), (Place::Idle, Place::Turn));
        take(&c, 64);
        assert_eq!(given(&turns), 0);
    }
}
