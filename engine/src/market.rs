//! Normalized market data: the [`MarketEvent`]s that feed threads push into
//! the matcher's ring, whatever the source (ITCH book builder, synthetic
//! feed, later replay), and their conversion into engine [`Input`]s
//! ([`to_input`]).
//!
//! The types live in the engine (not in the feed crate) so that the
//! matcher thread ([`crate::runtime`]) can take them off its ring and
//! convert them without the engine depending on the feed crate;
//! `optix_feed::market` re-exports them.
//!
//! Layout: [`MarketEvent`] is a `#[repr(C, u8)]` enum of four `#[repr(C)]`
//! `Copy` payloads, 56 bytes in all (a one-byte tag padded to 8, then the
//! largest payload, [`Quote`], 48 bytes), checked at compile time, so one
//! event fits a cache line and moves through a ring by a plain copy.
//! Every payload starts with the feed timestamp `ts` ([`Nanos`], for ITCH
//! the message timestamp: nanoseconds since midnight, the replay clock) and
//! the instrument `sym` ([`SymbolId`], assigned by the source in the order
//! it learnt of the instrument; the engine's instruments use the same ids).
//!
//! Units (no floats anywhere):
//! - prices are `i64` ticks of 0.0001 of the currency unit ([`PRICE_SCALE`]
//!   ticks per unit), ITCH's own 4-decimal prices: `$12.34` is `123_400`.
//!   They are *feed* ticks, not an instrument's [`Price`] ticks: [`to_input`]
//!   converts them with the instrument (see there for rounding);
//! - quantities are `i64` shares (not lots), likewise converted.
//!
//! Invariants: in a [`Quote`] a side with quantity 0 has no orders and its
//! price is 0; a [`Level`] with quantity 0 says the level is gone; prices
//! and quantities are never negative.
//!
//! Complexity and limits: plain data, O(1) everything, no allocation. A
//! [`Trade`] carries no match number, so a broken trade cannot be tied back
//! to its print.

use crate::event::{ExtQuote, Input, TradePrint};
use crate::types::{Instrument, Nanos, Price, Qty, Side, SymbolId, MAX_PRICE_TICKS};

/// Feed price ticks per currency unit: prices are in units of 0.0001.
pub const PRICE_SCALE: i64 = 10_000;

/// Decimal places of feed prices (`10^FEED_DECIMALS == PRICE_SCALE`).
pub const FEED_DECIMALS: u32 = 4;

const _: () = assert!(10i64.pow(FEED_DECIMALS) == PRICE_SCALE);

/// The top of a book changed (price or quantity of the best bid or ask).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quote {
    /// Feed timestamp.
    pub ts: Nanos,
    /// Instrument.
    pub sym: SymbolId,
    /// Best bid price in feed ticks (0.0001); 0 when there is no bid.
    pub bid_px: i64,
    /// Shares at the best bid; 0 when there is no bid.
    pub bid_qty: i64,
    /// Best ask price in feed ticks (0.0001); 0 when there is no ask.
    pub ask_px: i64,
    /// Shares at the best ask; 0 when there is no ask.
    pub ask_qty: i64,
}

impl Quote {
    /// The best bid as `(price, shares)`, `None` when the side is empty.
    #[inline]
    pub fn bid(&self) -> Option<(i64, i64)> {
        (self.bid_qty > 0).then_some((self.bid_px, self.bid_qty))
    }

    /// The best ask as `(price, shares)`, `None` when the side is empty.
    #[inline]
    pub fn ask(&self) -> Option<(i64, i64)> {
        (self.ask_qty > 0).then_some((self.ask_px, self.ask_qty))
    }
}

/// The aggregate displayed quantity at one price of one side changed.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Level {
    /// Feed timestamp.
    pub ts: Nanos,
    /// Instrument.
    pub sym: SymbolId,
    /// Bid (`Buy`) or ask (`Sell`) side.
    pub side: Side,
    /// Price in feed ticks (0.0001).
    pub price: i64,
    /// New aggregate shares at the price; 0 means the level is gone.
    pub qty: i64,
}

/// A print: an execution on the venue.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Trade {
    /// Feed timestamp.
    pub ts: Nanos,
    /// Instrument.
    pub sym: SymbolId,
    /// The side that took liquidity, when the feed says (the opposite of
    /// the resting order's side); `None` for crosses.
    pub aggressor: Option<Side>,
    /// Price in feed ticks (0.0001).
    pub price: i64,
    /// Shares traded.
    pub qty: i64,
}

/// The trading state of an instrument changed (or was restated).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Status {
    /// Feed timestamp.
    pub ts: Nanos,
    /// Instrument.
    pub sym: SymbolId,
    /// Halted, paused or quotation only (no continuous trading).
    pub halted: bool,
}

/// One normalized market data event; see the [module docs](self).
#[repr(C, u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MarketEvent {
    /// Top of book changed.
    Quote(Quote),
    /// Aggregate quantity at a price changed.
    Level(Level),
    /// A print.
    Trade(Trade),
    /// Trading state.
    Status(Status),
}

// One event per ring slot, below a cache line.
const _: () = assert!(std::mem::size_of::<MarketEvent>() == 56);
const _: () = assert!(std::mem::size_of::<Quote>() == 48);
const _: () = assert!(std::mem::size_of::<Level>() == 32);
const _: () = assert!(std::mem::size_of::<Trade>() == 32);
const _: () = assert!(std::mem::size_of::<Status>() == 16);

impl MarketEvent {
    /// The feed timestamp.
    #[inline]
    pub fn ts(&self) -> Nanos {
        match self {
            MarketEvent::Quote(e) => e.ts,
            MarketEvent::Level(e) => e.ts,
            MarketEvent::Trade(e) => e.ts,
            MarketEvent::Status(e) => e.ts,
        }
    }

    /// The instrument.
    #[inline]
    pub fn sym(&self) -> SymbolId {
        match self {
            MarketEvent::Quote(e) => e.sym,
            MarketEvent::Level(e) => e.sym,
            MarketEvent::Trade(e) => e.sym,
            MarketEvent::Status(e) => e.sym,
        }
    }
}

/// Which way a feed price that falls between two instrument ticks goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// To the tick below (a bid: never better than the market showed).
    Down,
    /// To the tick above (an ask: never better than the market showed).
    Up,
    /// To the nearest tick, a tie to the tick below.
    Nearest,
}

/// `10^n` for `n <= 38`.
#[inline]
const fn pow10(n: u32) -> i128 {
    10i128.pow(n)
}

/// A feed price (0.0001 units) in ticks of `inst`, rounded as asked; exact
/// when the price is on the instrument's tick. In `i128`, never
/// overflowing (a feed price is at most `i64::MAX`, an instrument has at
/// most 9 decimals); the caller checks the range.
#[inline]
pub fn feed_price_to_ticks(price: i64, inst: &Instrument, rounding: Rounding) -> i128 {
    // price * 10^-4 = ticks * tick_units * 10^-decimals
    // => ticks = price * 10^decimals / (tick_units * 10^4)
    let d = u32::from(inst.decimals);
    let tick = inst.tick_units.max(1);
    if d == FEED_DECIMALS && tick == 1 {
        // The feed's own unit (ITCH replays): nothing to convert.
        return i128::from(price);
    }
    let (num, den) = if d >= FEED_DECIMALS {
        (i128::from(price) * pow10(d - FEED_DECIMALS), i128::from(tick))
    } else {
        (i128::from(price), i128::from(tick) * pow10(FEED_DECIMALS - d))
    };
    // 64-bit division where the operands fit (they nearly always do).
    let (q, r) = match (i64::try_from(num), i64::try_from(den)) {
        (Ok(n), Ok(m)) => (i128::from(n.div_euclid(m)), i128::from(n.rem_euclid(m))),
        _ => (num.div_euclid(den), num.rem_euclid(den)),
    };
    match rounding {
        _ if r == 0 => q,
        Rounding::Down => q,
        Rounding::Up => q + 1,
        Rounding::Nearest if 2 * r > den => q + 1,
        Rounding::Nearest => q,
    }
}

/// Instrument ticks in feed prices (0.0001 units), rounded down when the
/// instrument's tick is finer than the feed's (for display at the edges).
#[inline]
pub fn ticks_to_feed_price(price: Price, inst: &Instrument) -> i128 {
    let d = u32::from(inst.decimals);
    let units = i128::from(price.ticks()) * i128::from(inst.tick_units);
    if d >= FEED_DECIMALS {
        units.div_euclid(pow10(d - FEED_DECIMALS))
    } else {
        units * pow10(FEED_DECIMALS - d)
    }
}

/// Shares in whole lots of `inst` (integer division: odd lots drop).
#[inline]
pub fn shares_to_lots(shares: i64, inst: &Instrument) -> Qty {
    match inst.lot_size {
        1 => Qty::from_lots(shares.max(0)),
        lot => Qty::from_lots(shares.max(0) / lot.max(1)),
    }
}

/// One side of a quote in instrument units, or the empty side.
#[inline]
fn quote_side(px: i64, shares: i64, inst: &Instrument, rounding: Rounding) -> (Price, Qty) {
    if shares <= 0 {
        return (Price::NONE, Qty::ZERO);
    }
    let ticks = feed_price_to_ticks(px, inst, rounding);
    let lots = shares_to_lots(shares, inst);
    if ticks <= 0 || ticks > i128::from(MAX_PRICE_TICKS) || lots.is_zero() {
        return (Price::NONE, Qty::ZERO);
    }
    (Price::from_ticks(ticks as i64), lots)
}

/// Converts a market event from feed units into the engine input for the
/// instrument `inst` (the instrument of `ev.sym()`; the input keeps that
/// symbol id). Pure, O(1), no allocation.
///
/// - [`Quote`] -> [`Input::Quote`]: prices to instrument ticks, exact when
///   on the tick; otherwise a bid rounds *down* and an ask *up* (the
///   converted quote is never better than the market's). Shares to lots by
///   integer division. A side that is empty, or that has less than one lot,
///   or whose price is not a positive tick count the engine can hold, is
///   the empty side (`Price::NONE`, `Qty::ZERO`).
/// - [`Trade`] -> [`Input::TradePrint`]: a print between two ticks rounds
///   like the quote it traded against: up when a buyer took liquidity (it
///   lifted an ask), down when a seller did, to the nearest tick for a
///   cross. Shares to lots by integer division; a print of less than one
///   lot gives `None` (the engine's prints carry whole lots). A price out
///   of the engine's range is passed on as 0 or `MAX_PRICE_TICKS + 1`, so
///   the engine rejects it with a reason instead of it vanishing here.
/// - [`Status`] -> [`Input::Halt`] / [`Input::Resume`].
/// - [`Level`] -> `None`: the engine does not need the external depth.
#[inline]
pub fn to_input(ev: &MarketEvent, inst: &Instrument) -> Option<Input> {
    match ev {
        MarketEvent::Quote(q) => {
            let (bid, bid_qty) = quote_side(q.bid_px, q.bid_qty, inst, Rounding::Down);
            let (ask, ask_qty) = quote_side(q.ask_px, q.ask_qty, inst, Rounding::Up);
            Some(Input::Quote(ExtQuote { sym: q.sym, bid, bid_qty, ask, ask_qty }))
        }
        MarketEvent::Trade(t) => {
            let qty = shares_to_lots(t.qty, inst);
            if qty.is_zero() {
                return None;
            }
            let rounding = match t.aggressor {
                Some(Side::Buy) => Rounding::Up,
                Some(Side::Sell) => Rounding::Down,
                None => Rounding::Nearest,
            };
            let ticks = feed_price_to_ticks(t.price, inst, rounding).clamp(0, i128::from(MAX_PRICE_TICKS) + 1);
            Some(Input::TradePrint(TradePrint { sym: t.sym, price: Price::from_ticks(ticks as i64), qty }))
        }
        MarketEvent::Status(s) if s.halted => Some(Input::Halt(s.sym)),
        MarketEvent::Status(s) => Some(Input::Resume(s.sym)),
        MarketEvent::Level(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::VenueMode;

    fn inst(tick: &str, lot: i64) -> Instrument {
        Instrument::new(tick, lot, VenueMode::Paper).unwrap()
    }

    fn quote(bid_px: i64, bid_qty: i64, ask_px: i64, ask_qty: i64) -> MarketEvent {
        MarketEvent::Quote(Quote { ts: Nanos(7), sym: SymbolId(3), bid_px, bid_qty, ask_px, ask_qty })
    }

    fn ext(bid: i64, bid_qty: i64, ask: i64, ask_qty: i64) -> Option<Input> {
        Some(Input::Quote(ExtQuote {
            sym: SymbolId(3),
            bid: Price::from_ticks(bid),
            bid_qty: Qty::from_lots(bid_qty),
            ask: Price::from_ticks(ask),
            ask_qty: Qty::from_lots(ask_qty),
        }))
    }

    fn print(price: i64, qty: i64, aggressor: Option<Side>) -> MarketEvent {
        MarketEvent::Trade(Trade { ts: Nanos(1), sym: SymbolId(3), aggressor, price, qty })
    }

    fn tp(price: i64, qty: i64) -> Option<Input> {
        Some(Input::TradePrint(TradePrint {
            sym: SymbolId(3),
            price: Price::from_ticks(price),
            qty: Qty::from_lots(qty),
        }))
    }

    #[test]
    fn accessors_and_empty_sides() {
        let q = Quote { ts: Nanos(5), sym: SymbolId(2), bid_px: 0, bid_qty: 0, ask_px: 101, ask_qty: 7 };
        assert_eq!((q.bid(), q.ask()), (None, Some((101, 7))));
        let e = MarketEvent::Quote(q);
        assert_eq!((e.ts(), e.sym()), (Nanos(5), SymbolId(2)));
        let s = MarketEvent::Status(Status { ts: Nanos(9), sym: SymbolId(1), halted: true });
        assert_eq!((s.ts(), s.sym()), (Nanos(9), SymbolId(1)));
    }

    #[test]
    fn feed_ticks_are_instrument_ticks_at_four_decimals() {
        let i = inst("0.0001", 1);
        assert_eq!(to_input(&quote(1_234_500, 300, 1_234_600, 200), &i), ext(1_234_500, 300, 1_234_600, 200));
        assert_eq!(to_input(&print(1_234_567, 10, Some(Side::Buy)), &i), tp(1_234_567, 10));
    }

    #[test]
    fn on_tick_prices_convert_exactly_at_other_decimals() {
        // $12.34 with a cent tick: 1234 ticks; lots of 100 shares.
        let c = inst("0.01", 100);
        assert_eq!(to_input(&quote(123_400, 500, 123_500, 1_000), &c), ext(1234, 5, 1235, 10));
        // A nickel tick: $12.35 is 247 ticks of 0.05.
        let n = inst("0.05", 1);
        assert_eq!(to_input(&quote(123_000, 1, 123_500, 1), &n), ext(246, 1, 247, 1));
        // Whole units.
        let w = inst("1", 1);
        assert_eq!(to_input(&quote(120_000, 1, 130_000, 1), &w), ext(12, 1, 13, 1));
        // Six decimals (finer than the feed): every feed price is on tick.
        let f = inst("0.000001", 1);
        assert_eq!(to_input(&quote(1, 1, 123_456, 1), &f), ext(100, 1, 12_345_600, 1));
        // A tick of 0.000005 in six decimals: 0.0001 is 20 ticks.
        let g = inst("0.000005", 1);
        assert_eq!(to_input(&quote(10_000, 1, 10_001, 1), &g), ext(200_000, 1, 200_020, 1));
    }

    #[test]
    fn off_tick_bids_round_down_and_asks_up() {
        let c = inst("0.01", 1);
        // $12.3450 / $12.3450: bid 12.34, ask 12.35.
        assert_eq!(to_input(&quote(123_450, 7, 123_450, 9), &c), ext(1234, 7, 1235, 9));
        // Just above and just below a tick.
        assert_eq!(to_input(&quote(123_401, 1, 123_499, 1), &c), ext(1234, 1, 1235, 1));
        let n = inst("0.05", 1);
        // $12.37: between 12.35 and 12.40.
        assert_eq!(to_input(&quote(123_700, 1, 123_700, 1), &n), ext(247, 1, 248, 1));
        // A tick of 0.000003: 0.0001 = 33.33 ticks.
        let t = inst("0.000003", 1);
        assert_eq!(feed_price_to_ticks(1, &t, Rounding::Down), 33);
        assert_eq!(feed_price_to_ticks(1, &t, Rounding::Up), 34);
        assert_eq!(feed_price_to_ticks(1, &t, Rounding::Nearest), 33);
        assert_eq!(feed_price_to_ticks(3, &t, Rounding::Up), 100, "exact");
    }

    #[test]
    fn shares_become_whole_lots_and_odd_lot_sides_are_empty() {
        let c = inst("0.01", 100);
        assert_eq!(to_input(&quote(100_000, 250, 100_100, 99), &c), ext(1000, 2, 0, 0));
        assert_eq!(to_input(&quote(0, 0, 100_100, 100), &c), ext(0, 0, 1001, 1));
        // A bid that rounds down to zero ticks cannot be held: empty side.
        assert_eq!(to_input(&quote(50, 100, 0, 0), &c), ext(0, 0, 0, 0));
    }

    #[test]
    fn prints_round_like_the_quote_they_hit() {
        let c = inst("0.01", 10);
        assert_eq!(to_input(&print(123_450, 25, Some(Side::Buy)), &c), tp(1235, 2));
        assert_eq!(to_input(&print(123_450, 25, Some(Side::Sell)), &c), tp(1234, 2));
        assert_eq!(to_input(&print(123_450, 25, None), &c), tp(1234, 2), "a tie goes down");
        assert_eq!(to_input(&print(123_460, 25, None), &c), tp(1235, 2));
        assert_eq!(to_input(&print(123_400, 10, None), &c), tp(1234, 1));
        assert_eq!(to_input(&print(123_400, 9, None), &c), None, "less than a lot");
        // Out of range is left to the engine to reject.
        assert_eq!(to_input(&print(i64::MAX, 10, None), &c), tp(MAX_PRICE_TICKS + 1, 1));
        assert_eq!(to_input(&print(0, 10, None), &c), tp(0, 1));
    }

    #[test]
    fn status_and_levels() {
        let i = inst("0.01", 1);
        let s = |halted| MarketEvent::Status(Status { ts: Nanos(1), sym: SymbolId(4), halted });
        assert_eq!(to_input(&s(true), &i), Some(Input::Halt(SymbolId(4))));
        assert_eq!(to_input(&s(false), &i), Some(Input::Resume(SymbolId(4))));
        let l = MarketEvent::Level(Level { ts: Nanos(1), sym: SymbolId(4), side: Side::Buy, price: 1, qty: 1 });
        assert_eq!(to_input(&l, &i), None);
    }

    #[test]
    fn ticks_back_to_feed_prices() {
        assert_eq!(ticks_to_feed_price(Price::from_ticks(1234), &inst("0.01", 1)), 123_400);
        assert_eq!(ticks_to_feed_price(Price::from_ticks(247), &inst("0.05", 1)), 123_500);
        assert_eq!(ticks_to_feed_price(Price::from_ticks(12_345_600), &inst("0.000001", 1)), 123_456);
        assert_eq!(ticks_to_feed_price(Price::from_ticks(7), &inst("0.0001", 1)), 7);
    }
}
