//! Timer bookkeeping for the session: which timers are running, RFC 4271 §10 jitter and the
//! §8.1.1 DampPeerOscillations back-off. No clock here: durations go out as `ArmTimer` outputs.

use std::time::Duration;

use super::Timer;

/// Upper bound of the automatic-restart back-off (RFC 4271 §8.1.1 leaves the method open;
/// bgpod doubles the configured base up to this value).
pub(super) const IDLE_HOLD_CAP: Duration = Duration::from_secs(120);

/// RFC 4271 §8.2.2 (OpenSent): "sets the HoldTimer to a large value ... A HoldTimer value of
/// 4 minutes is suggested."
pub(super) const OPEN_SENT_HOLD: Duration = Duration::from_secs(240);

/// The set of timers the session has armed and not yet seen expire or cancelled.
///
/// A `TimerExpired` for a timer not in this set is stale (the driver raced a `CancelTimer`) and
/// is ignored: RFC 4271 §8.1.3 defines Events 9–13 as a *running* timer expiring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Armed(u8);

impl Armed {
    fn bit(timer: Timer) -> u8 {
        match timer {
            Timer::ConnectRetry => 1,
            Timer::Hold => 2,
            Timer::Keepalive => 4,
            Timer::IdleHold => 8,
        }
    }

    pub(super) fn contains(self, timer: Timer) -> bool {
        self.0 & Self::bit(timer) != 0
    }

    pub(super) fn insert(&mut self, timer: Timer) {
        self.0 |= Self::bit(timer);
    }

    /// Removes `timer`; returns whether it was armed.
    pub(super) fn remove(&mut self, timer: Timer) -> bool {
        let was = self.contains(timer);
        self.0 &= !Self::bit(timer);
        was
    }
}

/// xorshift64 (Marsaglia 2003): a tiny deterministic generator for timer jitter only.
#[derive(Debug, Clone)]
pub(super) struct Jitter {
    state: u64,
}

impl Jitter {
    /// Seeds the generator; xorshift cannot leave the all-zero state, so 0 is replaced.
    pub(super) fn new(seed: u64) -> Jitter {
        let state = if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        };
        Jitter { state }
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// RFC 4271 §10: "multiplying the base value of the appropriate timer by a random factor,
    /// which is uniformly distributed in the range from 0.75 to 1.0" (in steps of 1/1000).
    pub(super) fn apply(&mut self, base: Duration) -> Duration {
        let permille = 750 + u128::from(self.next_u64() % 251);
        scale(base, permille)
    }
}

/// `base × permille / 1000`, exact in nanoseconds.
fn scale(base: Duration, permille: u128) -> Duration {
    let nanos = base.as_nanos() * permille / 1000;
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    // The remainder of a division by 10^9 always fits in u32.
    let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    Duration::new(secs, sub)
}

/// Delay before the automatic restart after `failures` consecutive failures (>= 1): the base,
/// doubled per further failure, capped at 120 s (or at the base if that is larger).
pub(super) fn idle_hold_backoff(base: Duration, failures: u32) -> Duration {
    let cap = base.max(IDLE_HOLD_CAP);
    let doublings = failures.saturating_sub(1).min(16);
    base.checked_mul(1 << doublings).unwrap_or(cap).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_three_quarters_and_one() {
        let mut j = Jitter::new(42);
        let base = Duration::from_secs(30);
        let (mut lo, mut hi) = (base, Duration::ZERO);
        for _ in 0..10_000 {
            let d = j.apply(base);
            assert!(
                d >= base * 3 / 4 && d <= base,
                "{d:?} outside [22.5 s, 30 s]"
            );
            lo = lo.min(d);
            hi = hi.max(d);
        }
        // Uniform enough to reach both ends of the range.
        assert!(lo < Duration::from_millis(22_600), "min {lo:?}");
        assert!(hi > Duration::from_millis(29_900), "max {hi:?}");
    }

    #[test]
    fn jitter_is_deterministic_per_seed_and_survives_seed_zero() {
        let base = Duration::from_secs(5);
        let a: Vec<_> = (0..8)
            .map({
                let mut j = Jitter::new(7);
                move |_| j.apply(base)
            })
            .collect();
        let b: Vec<_> = (0..8)
            .map({
                let mut j = Jitter::new(7);
                move |_| j.apply(base)
            })
            .collect();
        assert_eq!(a, b);
        let mut z = Jitter::new(0);
        let zs: Vec<_> = (0..8).map(|_| z.apply(base)).collect();
        assert!(
            zs.windows(2).any(|w| w[0] != w[1]),
            "seed 0 must not get stuck"
        );
    }

    #[test]
    fn backoff_doubles_and_caps_at_120_seconds() {
        let s = Duration::from_secs;
        let got: Vec<_> = (1..=9).map(|n| idle_hold_backoff(s(1), n)).collect();
        let want = [1, 2, 4, 8, 16, 32, 64, 120, 120].map(s);
        assert_eq!(got, want);
        assert_eq!(idle_hold_backoff(s(5), u32::MAX), s(120));
        assert_eq!(
            idle_hold_backoff(s(300), 3),
            s(300),
            "a base above the cap is kept"
        );
        assert_eq!(idle_hold_backoff(Duration::ZERO, 5), Duration::ZERO);
    }

    #[test]
    fn armed_set_tracks_each_timer() {
        let mut a = Armed::default();
        a.insert(Timer::Hold);
        a.insert(Timer::IdleHold);
        assert!(a.contains(Timer::Hold) && a.contains(Timer::IdleHold));
        assert!(!a.contains(Timer::Keepalive));
        assert!(a.remove(Timer::Hold));
        assert!(!a.remove(Timer::Hold));
        assert!(a.contains(Timer::IdleHold));
    }
}
