//! The opt-in outbox: messages sent while not connected wait here, bounded by count and age,
//! and go out in order after the next successful connect. Only ids and times live here; the
//! glue keeps the frames and the promises to settle.

use std::collections::VecDeque;

/// Outbox limits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutboxLimits {
    /// Messages held at most; one more is refused.
    pub max_messages: usize,
    /// Milliseconds a message may wait; older ones are refused.
    pub max_age_ms: f64,
}

impl Default for OutboxLimits {
    /// 100 messages, 30 seconds.
    fn default() -> Self {
        Self { max_messages: 100, max_age_ms: 30_000.0 }
    }
}

/// The queue.
#[derive(Clone, Debug)]
pub struct Outbox {
    limits: OutboxLimits,
    queue: VecDeque<(u64, f64)>,
    next_id: u64,
}

impl Outbox {
    /// An empty outbox.
    pub fn new(limits: OutboxLimits) -> Self {
        Self { limits, queue: VecDeque::new(), next_id: 0 }
    }

    /// Queues a message; `None` if the outbox is full.
    pub fn push(&mut self, now: f64) -> Option<u64> {
        if self.queue.len() >= self.limits.max_messages {
            return None;
        }
        self.next_id += 1;
        self.queue.push_back((self.next_id, now));
        Some(self.next_id)
    }

    /// Removes and returns the messages that waited too long.
    pub fn expire(&mut self, now: f64) -> Vec<u64> {
        let mut gone = Vec::new();
        while let Some(&(id, at)) = self.queue.front() {
            if now - at < self.limits.max_age_ms {
                break;
            }
            self.queue.pop_front();
            gone.push(id);
        }
        gone
    }

    /// Removes and returns every message, oldest first.
    pub fn drain(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.queue).into_iter().map(|(id, _)| id).collect()
    }

    /// Milliseconds from `now` until the oldest message expires.
    pub fn next_expiry(&self, now: f64) -> Option<f64> {
        self.queue.front().map(|(_, at)| (at + self.limits.max_age_ms - now).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_is_bounded_by_count_and_age_and_drains_in_order() {
        let mut o = Outbox::new(OutboxLimits { max_messages: 2, max_age_ms: 100.0 });
        let a = o.push(0.0).unwrap();
        let b = o.push(50.0).unwrap();
        assert_eq!(o.push(60.0), None, "full");
        assert_eq!(o.next_expiry(60.0), Some(40.0));
        assert_eq!(o.expire(99.0), Vec::<u64>::new());
        assert_eq!(o.expire(100.0), [a]);
        let c = o.push(120.0).unwrap();
        assert_eq!(o.drain(), [b, c]);
        assert_eq!(o.next_expiry(200.0), None);
    }
}
