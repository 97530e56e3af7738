//! Where the client is in each feature's event stream, and what to do with each event.
//!
//! Events carry `(epoch, seq)`. The next expected one is delivered; an older one is a duplicate
//! and dropped; a jump means events went missing, so the feature is recovered: the client asks
//! the gateway to replay from its last position and drops live events until that replay (which
//! the gateway sends before its `subscribed` reply) has filled the hole. When the gateway cannot
//! replay (another epoch, or too far behind), the feature must be resynced from the app's API.

use super::vecmap::VecMap;
use crate::protocol::{Position, StreamState};

/// What to do with one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it.
    Deliver,
    /// Already seen (a replay overlapping the live stream, or a resent frame): drop it.
    Duplicate,
    /// Events are missing: drop it and ask the gateway for a replay from the last position.
    Recover,
    /// A recovery is under way; the replay will bring this event: drop it.
    Wait,
    /// The stream restarted (new epoch): deliver it, but earlier events are gone; resync.
    Resync,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Stream {
    epoch: String,
    seq: u64,
    recovering: bool,
}

/// Stream positions per feature.
#[derive(Clone, Debug, Default)]
pub struct Streams {
    map: VecMap<String, Stream>,
    duplicates: u64,
}

impl Streams {
    /// Decides what to do with an event; events without a position are always delivered.
    pub fn on_event(&mut self, feature: &str, epoch: Option<&str>, seq: Option<u64>) -> Verdict {
        let (Some(epoch), Some(seq)) = (epoch, seq) else { return Verdict::Deliver };
        let Some(s) = self.map.get_mut(feature) else {
            self.map.insert(feature.to_owned(), Stream { epoch: epoch.to_owned(), seq, recovering: false });
            return Verdict::Deliver;
        };
        if s.epoch != epoch {
            *s = Stream { epoch: epoch.to_owned(), seq, recovering: false };
            return Verdict::Resync;
        }
        if seq <= s.seq {
            self.duplicates += 1;
            return Verdict::Duplicate;
        }
        if seq == s.seq + 1 {
            s.seq = seq;
            return Verdict::Deliver;
        }
        if s.recovering {
            Verdict::Wait
        } else {
            s.recovering = true;
            Verdict::Recover
        }
    }

    /// The gateway says events of `feature` were dropped for us: recover it. Returns false if
    /// a recovery is already under way or there is no position to recover from.
    pub fn on_gap(&mut self, feature: &str) -> bool {
        match self.map.get_mut(feature) {
            Some(s) if !s.recovering => {
                s.recovering = true;
                true
            }
            _ => false,
        }
    }

    /// The `subscribed` reply for a feature. Returns true if the feature must be resynced.
    pub fn on_subscribed(&mut self, feature: &str, state: &StreamState) -> bool {
        let resync = state.recovered == Some(false);
        if !self.map.contains_key(feature) {
            self.map.insert(feature.to_owned(), Stream { epoch: state.epoch.clone(), seq: state.seq, recovering: false });
        }
        let s = self.map.get_mut(feature).expect("inserted above");
        if resync || s.epoch != state.epoch {
            *s = Stream { epoch: state.epoch.clone(), seq: state.seq, recovering: false };
            return resync;
        }
        // Recovered: the replay came first and moved the position; catch up if it was empty.
        s.seq = s.seq.max(state.seq);
        s.recovering = false;
        false
    }

    /// The positions to resume `features` from, in their order.
    pub fn positions(&self, features: &[String]) -> Vec<(String, Position)> {
        features.iter().filter_map(|f| self.map.get(f).map(|s| (f.clone(), Position { epoch: s.epoch.clone(), seq: s.seq }))).collect()
    }

    /// Forgets a feature (no longer subscribed).
    pub fn forget(&mut self, feature: &str) {
        self.map.remove(feature);
    }

    /// Forgets everything (`disconnect()`).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Duplicates dropped so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    fn state(epoch: &str, seq: u64, recovered: Option<bool>) -> StreamState {
        StreamState { epoch: epoch.into(), seq, recovered }
    }

    #[test]
    fn in_order_events_are_delivered_and_repeats_are_dropped_as_duplicates() {
        let mut s = Streams::default();
        assert!(!s.on_subscribed("rbac", &state("e1", 4, None)));
        assert_eq!(s.on_event("rbac", Some("e1"), Some(5)), Deliver);
        assert_eq!(s.on_event("rbac", Some("e1"), Some(6)), Deliver);
        assert_eq!(s.on_event("rbac", Some("e1"), Some(6)), Duplicate);
        assert_eq!(s.on_event("rbac", Some("e1"), Some(3)), Duplicate);
        assert_eq!(s.duplicates(), 2);
        assert_eq!(s.on_event("users", None, None), Deliver, "unsequenced events (direct messages) always pass");
    }

    #[test]
    fn a_jump_asks_for_one_replay_and_drops_live_events_until_it_has_filled_the_hole() {
        let mut s = Streams::default();
        s.on_subscribed("rbac", &state("e1", 4, None));
        assert_eq!(s.on_event("rbac", Some("e1"), Some(7)), Recover);
        assert_eq!(s.on_event("rbac", Some("e1"), Some(8)), Wait, "one recovery at a time");
        assert_eq!(s.positions(&["rbac".into()]), [("rbac".to_string(), Position { epoch: "e1".into(), seq: 4 })]);
        // The replay: 5..=8, then the reply.
        for seq in 5..=8 {
            assert_eq!(s.on_event("rbac", Some("e1"), Some(seq)), Deliver);
        }
        assert!(!s.on_subscribed("rbac", &state("e1", 8, Some(true))));
        assert_eq!(s.on_event("rbac", Some("e1"), Some(9)), Deliver);
    }

    #[test]
    fn an_unrecoverable_position_or_a_new_epoch_means_resync() {
        let mut s = Streams::default();
        s.on_subscribed("rbac", &state("e1", 4, None));
        assert!(s.on_subscribed("rbac", &state("e2", 10, Some(false))));
        assert_eq!(s.on_event("rbac", Some("e2"), Some(11)), Deliver, "resumes from the reported top");
        assert_eq!(s.on_event("rbac", Some("e3"), Some(1)), Resync, "the gateway restarted");
        assert_eq!(s.on_event("rbac", Some("e3"), Some(2)), Deliver);
    }

    #[test]
    fn a_gap_report_starts_a_recovery_once() {
        let mut s = Streams::default();
        assert!(!s.on_gap("rbac"), "nothing to recover from yet");
        s.on_subscribed("rbac", &state("e1", 4, None));
        assert!(s.on_gap("rbac"));
        assert!(!s.on_gap("rbac"));
        assert_eq!(s.on_event("rbac", Some("e1"), Some(9)), Wait);
    }
}
