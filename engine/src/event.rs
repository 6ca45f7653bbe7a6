//! Inputs (imperative commands) and events (past tense) of the engine.
//!
//! Every input is processed under one engine sequence number ([`Seq`]) and
//! engine time ([`Nanos`]); every event it causes carries both. Events are
//! small `Copy` values written into an [`EventSink`] the caller owns, so the
//! engine never allocates for output.
//!
//! Event order for one input (the contract the reference model in the tests
//! pins): `accepted` (or `rejected`); then for every match in price-time
//! priority `trade`, the maker's `fill`, the taker's `fill`; a `level` update
//! for each opposite price level the aggressor leaves (its new aggregate, 0
//! when emptied); then either a `level` update for the side the remainder
//! rests on, or `cancelled` for a remainder that may not rest.

use crate::reason::{CancelReason, RejectReason};
use crate::types::*;

/// Submit a new order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Owner.
    pub acct: AccountId,
    /// Client's id, unique per account and day.
    pub clid: ClientOrderId,
    /// Instrument.
    pub sym: SymbolId,
    /// Buy or sell.
    pub side: Side,
    /// Order type.
    pub ord_type: OrdType,
    /// Time in force.
    pub tif: Tif,
    /// Limit price (`Price::NONE` for market and stop orders).
    pub price: Price,
    /// Stop price (stop and stop-limit), else `Price::NONE`.
    pub stop_price: Price,
    /// Total quantity.
    pub qty: Qty,
    /// Display quantity of a reserve (iceberg) order, `Qty::ZERO` for a plain one.
    pub display: Qty,
    /// Expiry of a GTD order.
    pub expire: Nanos,
    /// Reject instead of taking liquidity.
    pub post_only: bool,
}

/// Cancel a working order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelOrder {
    /// Owner.
    pub acct: AccountId,
    /// The order's client id.
    pub clid: ClientOrderId,
}

/// Replace a working order's price and/or total quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplaceOrder {
    /// Owner.
    pub acct: AccountId,
    /// The order's client id (it stays the same).
    pub clid: ClientOrderId,
    /// New limit price, or `Price::NONE` to keep it.
    pub price: Price,
    /// New total quantity (filled included), or `Qty::ZERO` to keep it.
    pub qty: Qty,
}

/// Cancel every working order of an account, optionally in one symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MassCancel {
    /// Owner.
    pub acct: AccountId,
    /// Only this symbol, if given.
    pub sym: Option<SymbolId>,
}

/// One input to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A new order.
    NewOrder(NewOrder),
    /// Cancel an order.
    CancelOrder(CancelOrder),
    /// Replace an order.
    ReplaceOrder(ReplaceOrder),
    /// Mass cancel.
    MassCancel(MassCancel),
    /// The clock moved (time-driven behaviour runs on it); no other effect.
    Tick,
}

/// Which command a reject answers.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmdKind {
    /// A new order.
    New,
    /// A cancel.
    Cancel,
    /// A replace.
    Replace,
    /// A mass cancel.
    MassCancel,
}

impl CmdKind {
    /// JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            CmdKind::New => "new",
            CmdKind::Cancel => "cancel",
            CmdKind::Replace => "replace",
            CmdKind::MassCancel => "mass_cancel",
        }
    }
}

/// An order's identity in events: owner, client id, engine id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderRef {
    /// Owner.
    pub acct: AccountId,
    /// Client's id.
    pub clid: ClientOrderId,
    /// Engine's id.
    pub id: OrderId,
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A new order was accepted.
    Accepted {
        /// The order.
        order: OrderRef,
        /// Instrument.
        sym: SymbolId,
        /// Side.
        side: Side,
        /// Type.
        ord_type: OrdType,
        /// Time in force.
        tif: Tif,
        /// Limit price (`NONE` for market).
        price: Price,
        /// Total quantity.
        qty: Qty,
    },
    /// A command was rejected; nothing changed.
    Rejected {
        /// The order the command named (`id` 0 when no order is known).
        order: OrderRef,
        /// Which command.
        cmd: CmdKind,
        /// Why.
        reason: RejectReason,
    },
    /// A trade printed.
    Traded {
        /// Match number.
        trade_id: TradeId,
        /// Instrument.
        sym: SymbolId,
        /// Trade price (the resting order's).
        price: Price,
        /// Quantity.
        qty: Qty,
        /// The buy order.
        buy: OrderRef,
        /// The sell order.
        sell: OrderRef,
        /// The aggressor's side in continuous trading; `None` in an auction.
        aggressor: Option<Side>,
    },
    /// One side of a trade.
    Filled {
        /// The order.
        order: OrderRef,
        /// Instrument.
        sym: SymbolId,
        /// Side.
        side: Side,
        /// Fill price.
        price: Price,
        /// Fill quantity.
        qty: Qty,
        /// Quantity still open after the fill.
        leaves: Qty,
        /// Maker, taker or auction.
        liq: Liquidity,
        /// The trade.
        trade_id: TradeId,
        /// Commission charged for this fill.
        fee: Money,
    },
    /// An order (or its remainder) was cancelled.
    Cancelled {
        /// The order.
        order: OrderRef,
        /// Instrument.
        sym: SymbolId,
        /// Quantity cancelled.
        qty: Qty,
        /// Why.
        reason: CancelReason,
    },
    /// An order was replaced.
    Replaced {
        /// The order (same ids).
        order: OrderRef,
        /// Instrument.
        sym: SymbolId,
        /// New limit price.
        price: Price,
        /// New total quantity.
        qty: Qty,
        /// Open quantity after the replace.
        leaves: Qty,
    },
    /// A stop order triggered.
    Triggered {
        /// The order.
        order: OrderRef,
        /// Instrument.
        sym: SymbolId,
        /// The last trade price that triggered it.
        last: Price,
    },
    /// A DAY or GTD order expired.
    Expired {
        /// The order.
        order: OrderRef,
        /// Instrument.
        sym: SymbolId,
        /// Quantity that expired.
        qty: Qty,
    },
    /// A price level's aggregate shown quantity changed.
    LevelChanged {
        /// Instrument.
        sym: SymbolId,
        /// Side of the level.
        side: Side,
        /// Price of the level.
        price: Price,
        /// New aggregate (0: the level is gone).
        qty: Qty,
    },
}

/// An event with the sequence number and time of the input that caused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Sequence number of the input.
    pub seq: Seq,
    /// Engine time of the input.
    pub time: Nanos,
    /// What happened.
    pub kind: EventKind,
}

/// Where the engine writes events. Implemented by the caller: a ring, a
/// vector in tests, a counter in benchmarks.
pub trait EventSink {
    /// Receives one event.
    fn emit(&mut self, event: &Event);
}

impl EventSink for Vec<Event> {
    #[inline]
    fn emit(&mut self, event: &Event) {
        self.push(*event);
    }
}

/// A sink that only counts events.
#[derive(Debug, Default)]
pub struct CountingSink {
    /// Events seen.
    pub events: u64,
    /// Trades seen.
    pub trades: u64,
}

impl EventSink for CountingSink {
    #[inline]
    fn emit(&mut self, event: &Event) {
        self.events += 1;
        if matches!(event.kind, EventKind::Traded { .. }) {
            self.trades += 1;
        }
    }
}

const _: () = assert!(core::mem::size_of::<Event>() <= 96);
