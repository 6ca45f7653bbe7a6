//! Inputs (imperative commands) and events (past tense) of the engine.
//!
//! Every input is processed under one engine sequence number ([`Seq`]) and
//! engine time ([`Nanos`]); every event it causes carries both. Events are
//! small `Copy` values written into an [`EventSink`] the caller owns, so the
//! engine never allocates for output.
//!
//! Event order for one input (the contract the reference model in the tests
//! pins): first `expired` (with its level update) for every GTD order whose
//! expiry the engine time reached, earliest expiry first; then `accepted`
//! (or `rejected`); then for every match in price-time priority `trade`, the
//! maker's `fill`, the taker's `fill`; a `level` update for each opposite
//! price level the aggressor leaves (its new aggregate shown quantity, 0
//! when emptied); then either a `level` update for the side the remainder
//! rests on, or `cancelled` for a remainder that may not rest. Self-trade
//! prevention events come where the aggressor meets its own order:
//! `cancelled` (`self_trade`) for a resting order, `replaced` for an order
//! an STP decrement reduced but did not close, and the aggressor's own
//! `cancelled` (`self_trade`) after the level update. Stops the execution
//! triggered follow it: `triggered`, then that order's events in the same
//! shape (or `rejected` with the order's id if the pre-trade check refuses
//! it). An auction emits `trade`, buyer's `fill`, seller's `fill` per match,
//! then the level updates (bids best first, then asks), then `cancelled`
//! (`auction_leftover`) for the held orders left over. Admin inputs that
//! only change a flag (halt, resume, unkill) emit nothing; a kill switch
//! emits a `cancelled` (`kill_switch`) per working order, `session_end` an
//! `expired` per DAY (or still held OPG/CLS) order.
//!
//! In a `paper` instrument an order fills against the external market, not
//! another client: a marketable order's `fill` (taker) comes where a trade
//! would, with no `trade` event (the counterparty is the market); a quote or
//! print that reaches resting orders emits their `fill`s (maker), best price
//! first, then the level updates. Every `fill` carries its commission.

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

/// Replace a waiting stop order: its stop price, limit price and/or total
/// quantity. (A plain [`ReplaceOrder`] of a waiting stop keeps the stop price.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplaceStop {
    /// Owner.
    pub acct: AccountId,
    /// The order's client id (it stays the same).
    pub clid: ClientOrderId,
    /// New stop price, or `Price::NONE` to keep it.
    pub stop_price: Price,
    /// New limit price (stop-limit only), or `Price::NONE` to keep it.
    pub price: Price,
    /// New total quantity, or `Qty::ZERO` to keep it.
    pub qty: Qty,
}

/// Kill switch of one account, or of all accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KillSwitch {
    /// The account, or `None` for all accounts.
    pub acct: Option<AccountId>,
    /// While on, still accept orders (and replaces) that only reduce the
    /// account's position in the symbol.
    pub reduce_only: bool,
}

/// Which auction.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuctionKind {
    /// The opening auction (takes `tif=opg` orders).
    Open = 0,
    /// The closing auction (takes `tif=cls` orders).
    Close = 1,
}

/// An external trade print (market data): sets the last trade price that
/// stops trigger on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TradePrint {
    /// Instrument.
    pub sym: SymbolId,
    /// Trade price.
    pub price: Price,
    /// Trade quantity.
    pub qty: Qty,
}

/// An external quote (market data): the best bid and ask of the external
/// market in the instrument's ticks and lots. A side with no orders has
/// `Price::NONE` and `Qty::ZERO`. In `paper` mode client orders fill against
/// it; in every mode it marks positions to market.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtQuote {
    /// Instrument.
    pub sym: SymbolId,
    /// Best bid price (`NONE`: no bid).
    pub bid: Price,
    /// Lots at the best bid.
    pub bid_qty: Qty,
    /// Best ask price (`NONE`: no ask).
    pub ask: Price,
    /// Lots at the best ask.
    pub ask_qty: Qty,
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
    /// Replace a waiting stop (stop price included).
    ReplaceStop(ReplaceStop),
    /// Admin: halt a symbol (only cancels accepted until resumed).
    Halt(SymbolId),
    /// Admin: resume a halted symbol.
    Resume(SymbolId),
    /// Admin: switch a kill switch on (cancels working orders).
    Kill(KillSwitch),
    /// Admin: lift the kill switch of an account (`None`: the switch for all
    /// accounts and every account's own switch).
    Unkill(Option<AccountId>),
    /// Admin: the end of the trading day: DAY (and unfilled OPG/CLS) orders
    /// expire, the duplicate client order id window resets.
    SessionEnd,
    /// Admin: run the opening or closing auction of a symbol.
    Auction(SymbolId, AuctionKind),
    /// Market data: an external trade print.
    TradePrint(TradePrint),
    /// Market data: the external best bid and ask.
    Quote(ExtQuote),
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
    /// An admin command (halt, resume, kill, unkill, auction) or market data.
    Admin,
}

impl CmdKind {
    /// JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            CmdKind::New => "new",
            CmdKind::Cancel => "cancel",
            CmdKind::Replace => "replace",
            CmdKind::MassCancel => "mass_cancel",
            CmdKind::Admin => "admin",
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
        /// Limit price (`NONE` for market and stop).
        price: Price,
        /// Total quantity.
        qty: Qty,
        /// Stop price (`NONE` unless stop or stop-limit).
        stop: Price,
        /// Display quantity of a reserve order (`ZERO` for a plain one).
        display: Qty,
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
        /// New limit price (`NONE` for a stop order).
        price: Price,
        /// New total quantity.
        qty: Qty,
        /// Open quantity after the replace.
        leaves: Qty,
        /// Stop price of a waiting stop order, else `NONE`.
        stop: Price,
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
    /// A symbol was halted (only cancels accepted) or resumed, by a
    /// `Halt` or `Resume` input (one event per input, also when the
    /// symbol already was in that state).
    TradingStatus {
        /// Instrument.
        sym: SymbolId,
        /// Halted after the input.
        halted: bool,
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
