//! Paper fill models: how client orders in a `paper` instrument fill
//! against the external market. The engine asks its model three things;
//! the model answers from plain numbers (the quote side, the print, the
//! order's limit), so it stays deterministic: a model that wants
//! randomness (latency, queue position) carries its own seeded generator
//! in its state.
//!
//! [`QuoteFill`] is the default rule of ARCHITECTURE.md ("Venue modes"):
//! a marketable order fills at the opposite quote's price, up to the
//! quote's size less what client orders already took from it; a resting
//! order fills at its own limit when the opposite quote reaches it or a
//! print trades strictly beyond it (a print at the limit does not fill:
//! the queue ahead is unknown).

use crate::types::Side;

/// What reached a resting paper order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The opposite side of a new external quote, at this price (ticks).
    Quote(i64),
    /// An external print at this price (ticks).
    Print(i64),
}

/// A paper fill model. Implementations must be deterministic.
pub trait FillModel {
    /// A marketable order on `side` with limit `limit` (ticks; `i64::MAX`
    /// or `MIN` for a market buy or sell) wanting `want` lots meets the
    /// opposite quote side at `px` with `left` lots not yet taken by
    /// clients. Returns `(price, lots)` to fill now (lots 0: none).
    fn take(&mut self, side: Side, limit: i64, want: i64, px: i64, left: i64) -> (i64, i64);
    /// Lots a marketable order could take now without taking them (for
    /// fill-or-kill and post-only): the default is what [`FillModel::take`]
    /// of the default rule would give.
    fn available(&self, side: Side, limit: i64, px: i64, left: i64) -> i64 {
        QuoteFill.take(side, limit, i64::MAX, px, left).1
    }
    /// Whether a resting order on `side` at `limit` fills when `reach`
    /// happens, and at what price (`None`: it does not fill).
    fn reached(&mut self, side: Side, limit: i64, reach: Reach) -> Option<i64>;
}

/// The default model (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuoteFill;

impl FillModel for QuoteFill {
    #[inline]
    fn take(&mut self, side: Side, limit: i64, want: i64, px: i64, left: i64) -> (i64, i64) {
        let marketable = match side {
            Side::Buy => px <= limit,
            Side::Sell => px >= limit,
        };
        if px == 0 || !marketable {
            return (px, 0);
        }
        (px, want.min(left).max(0))
    }

    #[inline]
    fn reached(&mut self, side: Side, limit: i64, reach: Reach) -> Option<i64> {
        let hit = match (reach, side) {
            (Reach::Quote(px), Side::Buy) => px <= limit,
            (Reach::Quote(px), Side::Sell) => px >= limit,
            (Reach::Print(px), Side::Buy) => px < limit,
            (Reach::Print(px), Side::Sell) => px > limit,
        };
        hit.then_some(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rule() {
        let mut m = QuoteFill;
        assert_eq!(m.take(Side::Buy, 101, 50, 100, 30), (100, 30));
        assert_eq!(m.take(Side::Buy, 99, 50, 100, 30), (100, 0));
        assert_eq!(m.take(Side::Sell, i64::MIN, 50, 100, 80), (100, 50));
        assert_eq!(m.reached(Side::Buy, 100, Reach::Quote(100)), Some(100));
        assert_eq!(m.reached(Side::Buy, 100, Reach::Quote(101)), None);
        assert_eq!(m.reached(Side::Buy, 100, Reach::Print(100)), None);
        assert_eq!(m.reached(Side::Buy, 100, Reach::Print(99)), Some(100));
        assert_eq!(m.reached(Side::Sell, 100, Reach::Print(101)), Some(100));
        assert_eq!(m.reached(Side::Sell, 100, Reach::Quote(99)), None);
        assert_eq!(m.available(Side::Buy, 101, 100, 30), 30);
        assert_eq!(m.available(Side::Buy, 99, 100, 30), 0);
    }
}
