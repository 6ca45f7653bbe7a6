//! The per-account throttle: a token bucket on the engine clock.
//!
//! Units: tokens are kept in token-nanos, billionths of an order, so the
//! refill is exact integer math. With a rate of `R` orders per second the
//! bucket holds at most `R * 1e9` (a burst of `R` orders), refills by `R`
//! per elapsed nanosecond, and one order costs [`ORDER_COST`] (`1e9`).
//! After a burst has emptied it, one more order passes exactly `1e9 / R` ns
//! later (rounded up to whole nanoseconds).
//!
//! Invariants and limits: `R <= u32::MAX`, so the capacity
//! (`< 4.3e18`) and the capacity plus one refill fit `u64`. The elapsed
//! time is capped at one second, the time an empty bucket takes to fill,
//! so `R * elapsed` cannot overflow. Refill is lazy: the state changes only
//! when an order passes ([`TokenBucket::take`]), and
//! `min(cap, min(cap, t + R*a) + R*b) == min(cap, t + R*(a+b))`, so skipping
//! updates on rejects changes no outcome. Time that runs backwards refills
//! nothing and never moves `last_ns` back. O(1), no allocation.

/// The cost of one order, in token-nanos.
pub const ORDER_COST: u64 = 1_000_000_000;

/// Token-bucket state of one account (plain data a snapshot can hold).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenBucket {
    /// Tokens at `last_ns`, in token-nanos (`ORDER_COST` per order).
    pub tokens: u64,
    /// Engine time of the last order that passed (or 0).
    pub last_ns: u64,
}

impl TokenBucket {
    /// The capacity of a bucket with `rate_per_sec` orders per second.
    #[inline]
    pub const fn capacity(rate_per_sec: u32) -> u64 {
        rate_per_sec as u64 * ORDER_COST
    }

    /// A full bucket for `rate_per_sec`.
    #[inline]
    pub const fn full(rate_per_sec: u32) -> Self {
        TokenBucket { tokens: Self::capacity(rate_per_sec), last_ns: 0 }
    }

    /// The tokens the bucket would hold at `now_ns` (nothing changes).
    #[inline]
    pub fn available(&self, rate_per_sec: u32, now_ns: u64) -> u64 {
        let cap = Self::capacity(rate_per_sec);
        // Capped at one second: an empty bucket is full by then, and
        // `R * 1e9 <= u32::MAX * 1e9` fits `u64`.
        let elapsed = now_ns.saturating_sub(self.last_ns).min(ORDER_COST);
        let refill = u64::from(rate_per_sec) * elapsed;
        // `tokens <= cap` (kept so by `take` and `StandardRisk::configure`),
        // so the sum is below `2 * cap < u64::MAX`; saturate all the same.
        self.tokens.saturating_add(refill).min(cap)
    }

    /// Whether an order at `now_ns` would pass (nothing changes).
    #[inline]
    pub fn can_take(&self, rate_per_sec: u32, now_ns: u64) -> bool {
        self.available(rate_per_sec, now_ns) >= ORDER_COST
    }

    /// [`Self::can_take`], then [`Self::take`] when it can, with the
    /// refill worked out once. Returns whether it took a token.
    #[inline]
    pub fn try_take(&mut self, rate_per_sec: u32, now_ns: u64) -> bool {
        let available = self.available(rate_per_sec, now_ns);
        if available < ORDER_COST {
            return false;
        }
        self.tokens = available - ORDER_COST;
        self.last_ns = self.last_ns.max(now_ns);
        true
    }

    /// Spends one order at `now_ns`; call only after [`Self::can_take`]
    /// returned `true` at the same `now_ns`.
    #[inline]
    pub fn take(&mut self, rate_per_sec: u32, now_ns: u64) {
        let available = self.available(rate_per_sec, now_ns);
        debug_assert!(available >= ORDER_COST, "take without a token");
        self.tokens = available.saturating_sub(ORDER_COST);
        self.last_ns = self.last_ns.max(now_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_exact_refill() {
        let mut b = TokenBucket::full(4);
        for _ in 0..4 {
            assert!(b.can_take(4, 10));
            b.take(4, 10);
        }
        assert!(!b.can_take(4, 10));
        assert!(!b.can_take(4, 10 + 250_000_000 - 1));
        assert!(b.can_take(4, 10 + 250_000_000));
    }

    #[test]
    fn refill_caps_at_capacity_and_extremes_do_not_overflow() {
        let b = TokenBucket { tokens: 0, last_ns: 0 };
        assert_eq!(b.available(3, u64::MAX), TokenBucket::capacity(3));
        let full = TokenBucket::full(u32::MAX);
        assert_eq!(full.available(u32::MAX, u64::MAX), TokenBucket::capacity(u32::MAX));
        assert!(!TokenBucket::full(0).can_take(0, u64::MAX));
    }

    #[test]
    fn time_running_backwards_refills_nothing() {
        let mut b = TokenBucket::full(1);
        b.take(1, 5_000_000_000);
        assert!(!b.can_take(1, 1_000));
        assert_eq!(b.last_ns, 5_000_000_000);
        assert!(b.can_take(1, 6_000_000_000));
    }
}
