//! The pre-trade check the engine runs inline, before an order can touch
//! the book. The engine is generic over it (`Engine<R: PreTradeCheck>`), so
//! the check is statically dispatched; `risk::StandardRisk` is the real one,
//! [`Permissive`] accepts everything.
//!
//! The engine owns the state a check needs (positions, open orders,
//! buying power, reference prices) and hands it over in [`OrderCheck`],
//! already worked out for the order *as if accepted*: a check compares
//! numbers against its limits and keeps no copy of engine state. The check
//! runs last, after every reject the engine itself owns, so an order that
//! passes it is accepted, and a check may spend state (throttle tokens) on
//! a pass only.

use crate::reason::RejectReason;
use crate::types::*;

/// Why the engine runs a check.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// A new order from a client.
    New = 0,
    /// A replace of a working order.
    Replace = 1,
    /// A stop order that triggered (it was checked on entry; throttles do not
    /// count it again).
    Triggered = 2,
}

/// What a check sees of an order: a new order, a replace (with its new
/// values) or a triggered stop, and the account's state with the order in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCheck {
    /// Why the check runs.
    pub kind: CheckKind,
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
    /// For a replace: the leaves before it; zero otherwise.
    pub prev_qty: Qty,
    /// For a replace: the price before it; `NONE` otherwise.
    pub prev_price: Price,
    /// Notional of `qty` at `price` (a market order valued at the opposite
    /// side's best price, else the reference price; zero when neither exists).
    pub notional: Money,
    /// Reference price for collars: the instrument's reference price, else
    /// the last trade (internal or external print); `NONE` when neither exists.
    pub ref_price: Price,
    /// Working orders of the account if the order is accepted.
    pub open_orders: u32,
    /// Worst-case long position in the symbol if the order is accepted:
    /// position plus every working buy (lots; may be negative).
    pub worst_long: i64,
    /// Worst-case short position in the symbol if the order is accepted:
    /// minus the position plus every working sell (lots; may be negative).
    pub worst_short: i64,
    /// The account's buying power before the order.
    pub buying_power: Money,
    /// How much buying power the order uses (the growth of the account's
    /// open-order exposure; zero or negative for an order that reduces).
    pub bp_used: Money,
}

impl OrderCheck {
    /// A check of `qty` lots at `price` with no account state (all zero):
    /// a convenient start for tests of a check.
    pub const fn bare(acct: AccountId, sym: SymbolId, side: Side, price: Price, qty: Qty) -> OrderCheck {
        OrderCheck {
            kind: CheckKind::New,
            acct,
            sym,
            side,
            ord_type: OrdType::Limit,
            tif: Tif::Day,
            price,
            qty,
            prev_qty: Qty::ZERO,
            prev_price: Price::NONE,
            notional: Money::ZERO,
            ref_price: Price::NONE,
            open_orders: 1,
            worst_long: 0,
            worst_short: 0,
            buying_power: Money::ZERO,
            bp_used: Money::ZERO,
        }
    }
}

/// Risk limits of one account, as plain data. `None` switches a limit off.
/// A value at its limit is accepted; one unit (lot, tick, millionth,
/// order) over it is rejected with the limit's own reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RiskLimits {
    /// Largest order quantity in lots (`max_qty`).
    pub max_qty: Option<i64>,
    /// Largest order notional (`max_notional`).
    pub max_notional: Option<Money>,
    /// Price collar: the limit price may be at most this many basis points
    /// of the reference price (rounded down to whole ticks) away from it
    /// (`price_collar`). Orders are not collared while there is no reference.
    pub collar_bps: Option<i64>,
    /// Most working orders (`max_open_orders`).
    pub max_open_orders: Option<u32>,
    /// Largest worst-case long position in lots, per symbol (`position_limit`).
    pub max_long: Option<i64>,
    /// Largest worst-case short position in lots, per symbol (`position_limit`).
    pub max_short: Option<i64>,
    /// Reject orders that use more buying power than the account has (`buying_power`).
    pub buying_power: bool,
    /// New orders and replaces per second, a token bucket on the engine
    /// clock with a burst of the same size (`throttled`); cancels are never throttled.
    pub rate_per_sec: Option<u32>,
}

/// A configuration change for a check (scenario scripts, the gateway's admin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskConfig {
    /// Set the limits of an account (replacing the previous ones).
    Limits(AccountId, RiskLimits),
    /// Restrict (`true`) or allow again (`false`) a symbol for every account.
    Restrict(SymbolId, bool),
}

/// An inline pre-trade check. Must be O(1), allocation-free and deterministic.
pub trait PreTradeCheck {
    /// Whether the check reads the account fields of [`OrderCheck`]
    /// (notional, reference price, open orders, worst-case position, buying
    /// power). A check that does not leaves them zero and saves the engine
    /// working them out.
    const WANTS_ACCOUNT_VIEW: bool = true;
    /// Checks a new order or a triggered stop at engine time `now`.
    fn check_new(&mut self, now: Nanos, order: &OrderCheck) -> Result<(), RejectReason>;
    /// Checks a replace; `order` holds the new values.
    fn check_replace(&mut self, now: Nanos, order: &OrderCheck) -> Result<(), RejectReason>;
    /// Applies a configuration change (not the hot path). A check that takes
    /// no configuration says so.
    fn configure(&mut self, config: &RiskConfig) -> Result<(), &'static str> {
        let _ = config;
        Err("this pre-trade check takes no limits")
    }
    /// A stable hash of the check's state (part of the engine's state hash).
    fn state_hash(&self) -> u64 {
        0
    }
    /// A hint from [`crate::Engine::prefetch`]: an order of `acct` comes
    /// soon, so its state may be loaded into the cache. Changes nothing.
    #[inline]
    fn prefetch(&self, acct: AccountId) {
        let _ = acct;
    }
}

/// A check that accepts everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Permissive;

impl PreTradeCheck for Permissive {
    const WANTS_ACCOUNT_VIEW: bool = false;
    #[inline]
    fn check_new(&mut self, _now: Nanos, _order: &OrderCheck) -> Result<(), RejectReason> {
        Ok(())
    }
    #[inline]
    fn check_replace(&mut self, _now: Nanos, _order: &OrderCheck) -> Result<(), RejectReason> {
        Ok(())
    }
}
