//! Wait strategies: what a polling loop does when it found the ring empty
//! (consumer) or full (producer).
//!
//! A [`WaitStrategy`] is configuration (`"busy-spin"`, `"yield"`, `"park"`);
//! a [`Waiter`] is the per-loop state built from it. The loop calls
//! [`Waiter::wait`] each time it found nothing to do and [`Waiter::reset`]
//! each time it made progress:
//!
//! ```
//! use optix_ring::{ring, WaitStrategy, Waiter};
//!
//! let (mut tx, mut rx) = ring::<u64>(8);
//! tx.push(7).unwrap();
//! let mut waiter = Waiter::new(WaitStrategy::default());
//! let value = loop {
//!     match rx.pop() {
//!         Some(v) => {
//!             waiter.reset();
//!             break v;
//!         }
//!         None => waiter.wait(),
//!     }
//! };
//! assert_eq!(value, 7);
//! ```
//!
//! # Which one to pick
//!
//! - [`WaitStrategy::BusySpin`]: lowest wake-up latency (tens of ns), burns a
//!   whole core while idle. Only when each spinning thread has a core of its
//!   own (isolated, pinned) — e.g. the latency benchmark.
//! - [`WaitStrategy::SpinYield`]: spins briefly, then `sched_yield`s. Lets
//!   another runnable thread on the same core run, but still shows 100% CPU
//!   and still steals time from the peer when the scheduler has nothing else
//!   queued there.
//! - [`WaitStrategy::SpinYieldPark`] (the [`Default`]): spins briefly, yields
//!   a few times, then sleeps with exponential backoff capped at
//!   [`DEFAULT_MAX_PARK`] (64 µs). **This is the one for a 2-core machine**
//!   (or any machine with fewer free cores than spinning threads): a consumer
//!   that busy-spins on an empty ring occupies the very core its producer
//!   needs to fill it, so each side must get off the CPU quickly. The cost is
//!   wake-up latency of up to the cap (plus the kernel's timer slack, ~50 µs
//!   by default on Linux) after an idle period; under load the loop never
//!   reaches the park stage.
//!
//! # Limits
//!
//! Nobody wakes a parked waiter: it sleeps until its timeout runs out, so the
//! cap bounds the extra latency after idleness. Under `cfg(loom)` every stage
//! is a loom yield.

use core::fmt;
use core::str::FromStr;
use core::time::Duration;

use crate::sync;

/// Spins of [`WaitStrategy::SpinYield`] and [`WaitStrategy::SpinYieldPark`]
/// before the first yield.
pub const DEFAULT_SPINS: u32 = 64;
/// Yields of [`WaitStrategy::SpinYieldPark`] before the first park.
pub const DEFAULT_YIELDS: u32 = 8;
/// The first park of [`WaitStrategy::SpinYieldPark`].
pub const DEFAULT_MIN_PARK: Duration = Duration::from_micros(1);
/// The cap of the exponential park backoff of [`WaitStrategy::SpinYieldPark`].
pub const DEFAULT_MAX_PARK: Duration = Duration::from_micros(64);

/// What a polling loop does when it found nothing; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Spin with a CPU pause hint forever. Needs a core per spinning thread.
    BusySpin,
    /// Spin `spins` times, then yield the CPU on every further wait.
    SpinYield {
        /// Pause-hint spins before yielding.
        spins: u32,
    },
    /// Spin `spins` times, yield `yields` times, then park (sleep) for
    /// `min_park`, doubling on each further wait up to `max_park`.
    SpinYieldPark {
        /// Pause-hint spins before yielding.
        spins: u32,
        /// Yields before parking.
        yields: u32,
        /// The first park.
        min_park: Duration,
        /// The longest park.
        max_park: Duration,
    },
}

impl WaitStrategy {
    /// [`WaitStrategy::SpinYield`] with [`DEFAULT_SPINS`].
    pub const YIELD: Self = Self::SpinYield { spins: DEFAULT_SPINS };
    /// [`WaitStrategy::SpinYieldPark`] with the `DEFAULT_*` constants.
    pub const PARK: Self = Self::SpinYieldPark {
        spins: DEFAULT_SPINS,
        yields: DEFAULT_YIELDS,
        min_park: DEFAULT_MIN_PARK,
        max_park: DEFAULT_MAX_PARK,
    };

    /// The configuration name: `"busy-spin"`, `"yield"` or `"park"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::BusySpin => "busy-spin",
            Self::SpinYield { .. } => "yield",
            Self::SpinYieldPark { .. } => "park",
        }
    }
}

impl Default for WaitStrategy {
    /// Spin, yield, then park with backoff: safe on a 2-core machine.
    fn default() -> Self {
        Self::PARK
    }
}

impl fmt::Display for WaitStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The text was not one of `busy-spin`, `yield`, `park`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseWaitStrategyError;

impl fmt::Display for ParseWaitStrategyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown wait strategy (expected busy-spin, yield or park)")
    }
}

impl std::error::Error for ParseWaitStrategyError {}

impl FromStr for WaitStrategy {
    type Err = ParseWaitStrategyError;

    /// Parses `busy-spin`, `yield` or `park`, each with the default parameters.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "busy-spin" => Ok(Self::BusySpin),
            "yield" => Ok(Self::YIELD),
            "park" => Ok(Self::PARK),
            _ => Err(ParseWaitStrategyError),
        }
    }
}

/// The state of one polling loop's waiting; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Waiter {
    strategy: WaitStrategy,
    /// Waits since the last reset (saturating).
    step: u32,
    /// The next park's length (only used by `SpinYieldPark`).
    park: Duration,
}

impl Waiter {
    /// A fresh waiter following `strategy`.
    pub const fn new(strategy: WaitStrategy) -> Self {
        let park = match strategy {
            WaitStrategy::SpinYieldPark { min_park, .. } => min_park,
            _ => Duration::ZERO,
        };
        Self { strategy, step: 0, park }
    }

    /// The strategy this waiter follows.
    pub const fn strategy(&self) -> WaitStrategy {
        self.strategy
    }

    /// Waits once; call it each time the loop found nothing to do.
    #[inline]
    pub fn wait(&mut self) {
        match self.strategy {
            WaitStrategy::BusySpin => sync::spin_hint(),
            WaitStrategy::SpinYield { spins } => {
                if self.step < spins {
                    self.step += 1;
                    sync::spin_hint();
                } else {
                    sync::yield_now();
                }
            }
            WaitStrategy::SpinYieldPark { spins, yields, max_park, .. } => {
                if self.step < spins {
                    self.step += 1;
                    sync::spin_hint();
                } else if self.step - spins < yields {
                    self.step += 1;
                    sync::yield_now();
                } else {
                    sync::park_timeout(self.park);
                    self.park = (self.park * 2).min(max_park);
                }
            }
        }
    }

    /// Starts over from the first stage; call it each time the loop made
    /// progress.
    #[inline]
    pub fn reset(&mut self) {
        self.step = 0;
        if let WaitStrategy::SpinYieldPark { min_park, .. } = self.strategy {
            self.park = min_park;
        }
    }

    /// Whether the next [`wait`](Self::wait) will sleep rather than spin or
    /// yield.
    pub const fn is_parking(&self) -> bool {
        match self.strategy {
            WaitStrategy::SpinYieldPark { spins, yields, .. } => self.step >= spins.saturating_add(yields),
            _ => false,
        }
    }
}

impl Default for Waiter {
    fn default() -> Self {
        Self::new(WaitStrategy::default())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_names_and_rejects_others() {
        assert_eq!("busy-spin".parse(), Ok(WaitStrategy::BusySpin));
        assert_eq!("yield".parse(), Ok(WaitStrategy::YIELD));
        assert_eq!(" park ".parse(), Ok(WaitStrategy::PARK));
        assert_eq!("spin".parse::<WaitStrategy>(), Err(ParseWaitStrategyError));
        for s in [WaitStrategy::BusySpin, WaitStrategy::YIELD, WaitStrategy::PARK] {
            assert_eq!(s.to_string().parse(), Ok(s));
        }
    }

    #[test]
    fn default_is_spin_yield_park() {
        assert_eq!(WaitStrategy::default(), WaitStrategy::PARK);
        assert_eq!(Waiter::default().strategy(), WaitStrategy::PARK);
    }

    #[test]
    fn park_stage_backs_off_exponentially_to_the_cap_and_reset_restarts() {
        let strategy = WaitStrategy::SpinYieldPark {
            spins: 2,
            yields: 1,
            min_park: Duration::from_nanos(1),
            max_park: Duration::from_nanos(8),
        };
        let mut w = Waiter::new(strategy);
        assert!(!w.is_parking());
        w.wait(); // spin
        w.wait(); // spin
        assert!(!w.is_parking());
        w.wait(); // yield
        assert!(w.is_parking());
        let mut parks = Vec::new();
        for _ in 0..6 {
            parks.push(w.park.as_nanos());
            w.wait();
        }
        assert_eq!(parks, [1, 2, 4, 8, 8, 8]);
        w.reset();
        assert!(!w.is_parking());
        assert_eq!(w.park, Duration::from_nanos(1));
    }

    #[test]
    fn spin_yield_never_parks() {
        let mut w = Waiter::new(WaitStrategy::SpinYield { spins: 1 });
        for _ in 0..10 {
            w.wait();
        }
        assert!(!w.is_parking());
        let mut b = Waiter::new(WaitStrategy::BusySpin);
        b.wait();
        assert!(!b.is_parking());
    }
}
