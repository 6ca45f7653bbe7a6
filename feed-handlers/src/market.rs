//! Normalized market data: the [`MarketEvent`]s that feed threads push into
//! the matcher's ring, whatever the source (ITCH book builder, synthetic
//! feed, later replay).
//!
//! Layout: [`MarketEvent`] is a `#[repr(C, u8)]` enum of four `#[repr(C)]`
//! `Copy` payloads, 56 bytes in all (a one-byte tag padded to 8, then the
//! largest payload, [`Quote`], 48 bytes), checked at compile time, so one
//! event fits a cache line and moves through a ring by a plain copy.
//! Every payload starts with the feed timestamp `ts` ([`Nanos`], for ITCH
//! the message timestamp: nanoseconds since midnight, the replay clock) and
//! the instrument `sym` ([`SymbolId`], assigned by the source in the order
//! it learnt of the instrument).
//!
//! Units (no floats anywhere):
//! - prices are `i64` ticks of 0.0001 of the currency unit ([`PRICE_SCALE`]
//!   ticks per unit), ITCH's own 4-decimal prices: `$12.34` is `123_400`.
//!   They are *feed* ticks, not an instrument's [`optix_engine::Price`]
//!   ticks: the engine's instruments convert (divide by their tick size in
//!   feed ticks, rejecting off-tick values);
//! - quantities are `i64` shares (not lots), likewise converted by the
//!   instrument.
//!
//! Invariants: in a [`Quote`] a side with quantity 0 has no orders and its
//! price is 0; a [`Level`] with quantity 0 says the level is gone; prices
//! and quantities are never negative.
//!
//! Complexity and limits: plain data, O(1) everything. A [`Trade`] carries
//! no match number, so a broken trade cannot be tied back to its print.

use optix_engine::{Nanos, Side, SymbolId};

/// Feed price ticks per currency unit: prices are in units of 0.0001.
pub const PRICE_SCALE: i64 = 10_000;

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

/// Where a source puts the events it produces (a closure, a `Vec`, a ring
/// adapter). Called on the producing thread, once per event, in order.
pub trait MarketSink {
    /// Takes one event.
    fn emit(&mut self, event: MarketEvent);
}

impl<F: FnMut(MarketEvent)> MarketSink for F {
    #[inline(always)]
    fn emit(&mut self, event: MarketEvent) {
        self(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_and_empty_sides() {
        let q = Quote { ts: Nanos(5), sym: SymbolId(2), bid_px: 0, bid_qty: 0, ask_px: 101, ask_qty: 7 };
        assert_eq!((q.bid(), q.ask()), (None, Some((101, 7))));
        let e = MarketEvent::Quote(q);
        assert_eq!((e.ts(), e.sym()), (Nanos(5), SymbolId(2)));
        let s = MarketEvent::Status(Status { ts: Nanos(9), sym: SymbolId(1), halted: true });
        assert_eq!((s.ts(), s.sym()), (Nanos(9), SymbolId(1)));
        let mut got = Vec::new();
        let mut sink = |e| got.push(e);
        sink.emit(s);
        assert_eq!(got, [s]);
    }
}
