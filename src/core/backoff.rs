//! Reconnect delays: capped exponential backoff whose jitter survives the cap.
//!
//! Delay for retry `n` (0-based) is uniform in `[min, cap_n]` with
//! `cap_n = min(max, min * factor^(n+1))`, narrowed towards `cap_n` by `jitter < 1`.
//! socket.io jitters before capping, so after a few attempts every client waits exactly the
//! cap and a restarted gateway sees them all come back in the same millisecond. Here the
//! spread at the cap stays `jitter * (max - min)` wide for as long as the outage lasts.

/// Backoff settings, validated by [`Backoff::new`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    min_ms: f64,
    max_ms: f64,
    factor: f64,
    jitter: f64,
}

/// Why a backoff setting was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackoffError {
    /// `min` must be a finite number > 0.
    Min,
    /// `max` must be finite and >= `min`.
    Max,
    /// `factor` must be finite and >= 1.
    Factor,
    /// `jitter` must be within 0..=1.
    Jitter,
}

impl BackoffError {
    /// The option's name and the rule it broke, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Min => "backoff.min must be a number greater than 0",
            Self::Max => "backoff.max must be a finite number no less than backoff.min",
            Self::Factor => "backoff.factor must be a finite number no less than 1",
            Self::Jitter => "backoff.jitter must be between 0 and 1",
        }
    }
}

impl Default for Backoff {
    /// 0.5 s doubling up to 20 s, full jitter (centrifuge-js's range).
    fn default() -> Self {
        Self { min_ms: 500.0, max_ms: 20_000.0, factor: 2.0, jitter: 1.0 }
    }
}

impl Backoff {
    /// Validates the four settings.
    pub fn new(min_ms: f64, max_ms: f64, factor: f64, jitter: f64) -> Result<Self, BackoffError> {
        if !(min_ms.is_finite() && min_ms > 0.0) {
            return Err(BackoffError::Min);
        }
        if !(max_ms.is_finite() && max_ms >= min_ms) {
            return Err(BackoffError::Max);
        }
        if !(factor.is_finite() && factor >= 1.0) {
            return Err(BackoffError::Factor);
        }
        if !(0.0..=1.0).contains(&jitter) {
            return Err(BackoffError::Jitter);
        }
        Ok(Self { min_ms, max_ms, factor, jitter })
    }

    /// The ceiling for retry `attempt` before jitter.
    pub fn cap(&self, attempt: u32) -> f64 {
        // powi saturates to infinity for large exponents; min() then yields max_ms.
        (self.min_ms * self.factor.powi(attempt.saturating_add(1).min(1024) as i32)).min(self.max_ms)
    }

    /// The delay before retry `attempt`, given a uniform sample `u` in `[0, 1)`.
    /// Clamped to setTimeout's largest delay.
    pub fn delay(&self, attempt: u32, u: f64) -> f64 {
        let cap = self.cap(attempt);
        let d = cap - self.jitter * (cap - self.min_ms) * u;
        d.min(MAX_TIMER_MS)
    }
}

/// setTimeout fires at once for delays above 2^31-1 ms.
pub const MAX_TIMER_MS: f64 = 2_147_483_647.0;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rng::Rng;

    #[test]
    fn delays_stay_between_min_and_the_growing_cap() {
        let b = Backoff::new(500.0, 20_000.0, 2.0, 1.0).unwrap();
        let mut rng = Rng::new(7);
        for attempt in 0..40 {
            let cap = (500.0 * 2f64.powi(attempt as i32 + 1)).min(20_000.0);
            for _ in 0..1000 {
                let d = b.delay(attempt, rng.next_f64());
                assert!((500.0..=cap).contains(&d), "attempt {attempt}: {d} outside [500, {cap}]");
            }
        }
        assert_eq!(b.cap(0), 1000.0);
        assert_eq!(b.cap(4), 16_000.0);
        assert_eq!(b.cap(5), 20_000.0);
        assert_eq!(b.cap(u32::MAX), 20_000.0);
    }

    #[test]
    fn jitter_still_spreads_clients_evenly_once_the_cap_is_reached() {
        let b = Backoff::default();
        let mut rng = Rng::new(42);
        let samples: Vec<f64> = (0..10_000).map(|_| b.delay(30, rng.next_f64())).collect();
        // No lockstep: almost every client picks its own millisecond...
        let mut ms: Vec<u64> = samples.iter().map(|d| *d as u64).collect();
        ms.sort_unstable();
        ms.dedup();
        assert!(ms.len() > 7_000, "only {} distinct delays out of 10000", ms.len());
        // ...and the ten deciles of [500, 20000] each hold about a tenth of them.
        let mut buckets = [0usize; 10];
        for d in &samples {
            buckets[(((d - 500.0) / 19_500.0 * 10.0) as usize).min(9)] += 1;
        }
        for (i, n) in buckets.iter().enumerate() {
            assert!((800..1200).contains(n), "decile {i} holds {n} of 10000");
        }
    }

    #[test]
    fn zero_jitter_gives_the_plain_exponential_sequence() {
        let b = Backoff::new(1000.0, 8000.0, 2.0, 0.0).unwrap();
        let d: Vec<f64> = (0..5).map(|n| b.delay(n, 0.99)).collect();
        assert_eq!(d, [2000.0, 4000.0, 8000.0, 8000.0, 8000.0]);
    }

    #[test]
    fn invalid_settings_are_refused_with_the_option_named() {
        assert_eq!(Backoff::new(0.0, 1.0, 2.0, 1.0), Err(BackoffError::Min));
        assert_eq!(Backoff::new(f64::NAN, 1.0, 2.0, 1.0), Err(BackoffError::Min));
        assert_eq!(Backoff::new(10.0, 5.0, 2.0, 1.0), Err(BackoffError::Max));
        assert_eq!(Backoff::new(10.0, f64::INFINITY, 2.0, 1.0), Err(BackoffError::Max));
        assert_eq!(Backoff::new(10.0, 50.0, 0.5, 1.0), Err(BackoffError::Factor));
        assert_eq!(Backoff::new(10.0, 50.0, 2.0, 1.5), Err(BackoffError::Jitter));
        assert!(BackoffError::Jitter.describe().starts_with("backoff.jitter"));
    }

    #[test]
    fn huge_delays_are_clamped_to_what_set_timeout_accepts() {
        let b = Backoff::new(1e12, 1e13, 2.0, 0.0).unwrap();
        assert_eq!(b.delay(3, 0.5), MAX_TIMER_MS);
    }
}
