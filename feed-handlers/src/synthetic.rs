//! A seeded synthetic market: N symbols whose mid prices random-walk on a
//! one-cent grid, quoting and trading at a configured rate. The built-in
//! default market of `optix serve`, and a feed for tests and benchmarks.
//!
//! ```
//! use optix_feed::synthetic::{SyntheticConfig, SyntheticFeed};
//!
//! let cfg = SyntheticConfig { symbols: 4, seed: 7, ..SyntheticConfig::default() };
//! let a: Vec<_> = SyntheticFeed::new(cfg).take(1000).collect();
//! let b: Vec<_> = SyntheticFeed::new(cfg).take(1000).collect();
//! assert_eq!(a, b);
//! ```
//!
//! Layout of the stream: first one [`Quote`] per symbol (symbol 0, 1, ...),
//! then for each event a uniformly chosen symbol and either a [`Trade`]
//! (with probability [`SyntheticConfig::trade_per_mille`] / 1000) or a new
//! quote. Event `k` (from 0) has timestamp
//! `start + k * 1e9 / events_per_sec` ns (integer arithmetic, so the rate
//! is exact over any span).
//!
//! Model per symbol: a best bid `b` in cents, a spread of 1 to 3 cents, the
//! ask at `b + spread`; each quote moves the bid by -1, 0 or +1 cent (1/5,
//! 3/5, 1/5), redraws the spread now and then and draws both sizes (100 to
//! 2 000 shares in round lots, sometimes an odd lot). A trade is a buy at
//! the ask or a sell at the bid, for at most the size shown there.
//!
//! Units as in [`crate::market`]: prices in 0.0001 ticks (always whole
//! cents here), quantities in shares.
//!
//! Invariants: the same configuration gives the same events; `0 < bid <
//! ask` and sizes > 0 in every quote; trades at the current bid or ask;
//! timestamps strictly increase while `events_per_sec <= 1e9`.
//!
//! Complexity: O(1) per event, no allocation after [`SyntheticFeed::new`]
//! (one small state per symbol). Limits: the bid never goes below $1.00;
//! the stream never ends (take what you need).

use optix_engine::{Nanos, Side, SymbolId};

use crate::itch::gen::SplitMix64;
use crate::market::{MarketEvent, Quote, Trade};

/// Feed ticks per cent.
const CENT: i64 = 100;
/// The lowest bid, in cents.
const MIN_BID_CENTS: i64 = 100;

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntheticConfig {
    /// Symbols, `SymbolId(0)..SymbolId(symbols)`; at least 1.
    pub symbols: u32,
    /// Seed: the same configuration gives the same events.
    pub seed: u64,
    /// Events per second of feed time, all symbols together; at least 1.
    pub events_per_sec: u64,
    /// Per mille of the events (after the initial quotes) that are trades.
    pub trade_per_mille: u32,
    /// Timestamp of the first event.
    pub start: Nanos,
}

impl Default for SyntheticConfig {
    /// 8 symbols, seed 1, 100 000 events/s, 10% trades, from 09:30.
    fn default() -> Self {
        SyntheticConfig {
            symbols: 8,
            seed: 1,
            events_per_sec: 100_000,
            trade_per_mille: 100,
            start: Nanos((9 * 3600 + 1800) * 1_000_000_000),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct SymState {
    bid_cents: i64,
    spread_cents: i64,
    bid_qty: i64,
    ask_qty: i64,
}

/// The synthetic feed: an endless iterator of [`MarketEvent`]s; see the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct SyntheticFeed {
    cfg: SyntheticConfig,
    rng: SplitMix64,
    syms: Vec<SymState>,
    emitted: u64,
}

impl SyntheticFeed {
    /// A feed for `cfg` (symbols and rate clamped to at least 1).
    pub fn new(cfg: SyntheticConfig) -> SyntheticFeed {
        let mut cfg = cfg;
        cfg.symbols = cfg.symbols.max(1);
        cfg.events_per_sec = cfg.events_per_sec.max(1);
        let mut rng = SplitMix64::new(cfg.seed);
        let syms = (0..cfg.symbols)
            .map(|_| {
                // $10.00 to $500.00.
                let bid_cents = 1_000 + rng.below(49_000) as i64;
                let mut s = SymState { bid_cents, spread_cents: 1, bid_qty: 0, ask_qty: 0 };
                Self::redraw(&mut rng, &mut s);
                s
            })
            .collect();
        SyntheticFeed { cfg, rng, syms, emitted: 0 }
    }

    /// The configuration (after clamping).
    pub fn config(&self) -> &SyntheticConfig {
        &self.cfg
    }

    /// Events emitted so far.
    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    /// The timestamp of event number `k` (from 0).
    pub fn timestamp_of(&self, k: u64) -> Nanos {
        let offset = u128::from(k) * 1_000_000_000 / u128::from(self.cfg.events_per_sec);
        Nanos(self.cfg.start.0.saturating_add(u64::try_from(offset).unwrap_or(u64::MAX)))
    }

    fn size(rng: &mut SplitMix64) -> i64 {
        if rng.chance(100) {
            1 + rng.below(99) as i64
        } else {
            100 * (1 + rng.below(20) as i64)
        }
    }

    fn redraw(rng: &mut SplitMix64, s: &mut SymState) {
        if rng.chance(200) {
            s.spread_cents = 1 + rng.below(3) as i64;
        }
        s.bid_qty = Self::size(rng);
        s.ask_qty = Self::size(rng);
    }

    fn quote(&self, ts: Nanos, sym: usize) -> MarketEvent {
        let s = self.syms[sym];
        MarketEvent::Quote(Quote {
            ts,
            sym: SymbolId(sym as u32),
            bid_px: s.bid_cents * CENT,
            bid_qty: s.bid_qty,
            ask_px: (s.bid_cents + s.spread_cents) * CENT,
            ask_qty: s.ask_qty,
        })
    }

    /// The next event.
    pub fn next_event(&mut self) -> MarketEvent {
        let ts = self.timestamp_of(self.emitted);
        let n = self.syms.len() as u64;
        let ev = if self.emitted < n {
            self.quote(ts, self.emitted as usize)
        } else {
            let sym = self.rng.below(n) as usize;
            if self.rng.chance(u64::from(self.cfg.trade_per_mille)) {
                let s = self.syms[sym];
                let (aggressor, price, shown) = if self.rng.chance(500) {
                    (Side::Buy, (s.bid_cents + s.spread_cents) * CENT, s.ask_qty)
                } else {
                    (Side::Sell, s.bid_cents * CENT, s.bid_qty)
                };
                let qty = Self::size(&mut self.rng).min(shown);
                MarketEvent::Trade(Trade { ts, sym: SymbolId(sym as u32), aggressor: Some(aggressor), price, qty })
            } else {
                let s = &mut self.syms[sym];
                match self.rng.below(5) {
                    0 => s.bid_cents = (s.bid_cents - 1).max(MIN_BID_CENTS),
                    1 => s.bid_cents += 1,
                    _ => {}
                }
                Self::redraw(&mut self.rng, s);
                self.quote(ts, sym)
            }
        };
        self.emitted += 1;
        ev
    }
}

impl Iterator for SyntheticFeed {
    type Item = MarketEvent;

    #[inline]
    fn next(&mut self) -> Option<MarketEvent> {
        Some(self.next_event())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_follow_the_rate_exactly() {
        let cfg = SyntheticConfig { events_per_sec: 3, start: Nanos(10), ..SyntheticConfig::default() };
        let f = SyntheticFeed::new(cfg);
        assert_eq!(f.timestamp_of(0), Nanos(10));
        assert_eq!(f.timestamp_of(1), Nanos(10 + 333_333_333));
        assert_eq!(f.timestamp_of(3), Nanos(10 + 1_000_000_000));
    }

    #[test]
    fn starts_with_one_quote_per_symbol() {
        let cfg = SyntheticConfig { symbols: 5, ..SyntheticConfig::default() };
        let first: Vec<_> = SyntheticFeed::new(cfg).take(5).collect();
        for (i, e) in first.iter().enumerate() {
            assert!(matches!(e, MarketEvent::Quote(q) if q.sym == SymbolId(i as u32)), "{e:?}");
        }
    }
}
