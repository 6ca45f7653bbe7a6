//! The pre-trade check the engine runs inline, before an order can touch
//! the book. The engine is generic over it (`Engine<R: PreTradeCheck>`), so
//! the check is statically dispatched; `risk::StandardRisk` is the real one,
//! [`Permissive`] accepts everything.

use crate::reason::RejectReason;
use crate::types::*;

/// What a check sees of an order: a new order, a replace (with its new
/// values), or a triggered stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCheck {
    /// Owner.
    pub acct: AccountId,
    /// Instrument.
    pub sym: SymbolId,
    /// Side.
    pub side: Side,
    /// Type.
    pub ord_type: OrdType,
    /// Time in force.
    pub tif: Tif,
    /// Limit price (`NONE` for market).
    pub price: Price,
    /// Quantity still to trade (for a replace: the new leaves).
    pub qty: Qty,
    /// For a replace: the leaves before it; zero for a new order.
    pub prev_qty: Qty,
    /// For a replace: the price before it; `NONE` for a new order.
    pub prev_price: Price,
}

/// An inline pre-trade check. Must be O(1), allocation-free and deterministic.
pub trait PreTradeCheck {
    /// Checks a new order (and a triggered stop) at engine time `now`.
    fn check_new(&mut self, now: Nanos, order: &OrderCheck) -> Result<(), RejectReason>;
    /// Checks a replace; `order` holds the new values.
    fn check_replace(&mut self, now: Nanos, order: &OrderCheck) -> Result<(), RejectReason>;
}

/// A check that accepts everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Permissive;

impl PreTradeCheck for Permissive {
    #[inline]
    fn check_new(&mut self, _now: Nanos, _order: &OrderCheck) -> Result<(), RejectReason> {
        Ok(())
    }
    #[inline]
    fn check_replace(&mut self, _now: Nanos, _order: &OrderCheck) -> Result<(), RejectReason> {
        Ok(())
    }
}
