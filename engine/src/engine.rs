//! The engine state machine: `Engine<R: PreTradeCheck>::process(time, input, sink)`.
//!
//! Sans-IO and deterministic: no clock, no randomness, no threads, no hash
//! map iteration. Each input gets the next sequence number and the engine
//! time `max(previous, time)`; GTD orders whose expiry the clock reached
//! expire first, then the input runs; the events it causes go to the
//! caller's sink.
//!
//! Complexity per command: new order O(log levels + fills), cancel O(1)
//! expected plus O(log levels) when a level empties (a waiting stop:
//! O(log stop prices), plus a shift of the stop prices after its own when it
//! opens or empties its price), replace as cancel plus new, mass cancel
//! and kill O(orders of the account), session end O(working orders),
//! auction O(n log n) in the orders taking part, GTD expiry O(log n) per
//! order (a min-heap with lazy deletion). No allocation in a steady state:
//! the arena, the id map, the level and stop vectors, the expiry heap and
//! the scratch vectors grow only when their sizes reach a new high.
//!
//! Rules this module pins (see ARCHITECTURE.md "Order semantics"):
//! - Self-trade prevention: the aggressor's account mode applies when it
//!   meets a resting order of its own account. `cancel_newest`: the
//!   aggressor's remainder is cancelled (`self_trade`); `cancel_oldest`: the
//!   resting order is cancelled (`self_trade`) and matching goes on;
//!   `cancel_both`: the resting order, then the aggressor; `decrement`: both
//!   are reduced by the smaller open quantity with no trade; the one reduced
//!   to zero gets `cancelled` (`self_trade`, `qty` = the reduction), the
//!   other a `replaced` with its new total and leaves (the resting one keeps
//!   its priority; a reserve order loses hidden quantity first). A fill or
//!   kill counts, in priority order, the other accounts' quantity within its
//!   limit: with `cancel_oldest` its own orders are skipped, with the other
//!   modes the count stops at the first own order (the order would be
//!   cancelled or reduced there, so it cannot fill in full past it).
//! - Reserve orders show `min(display, leaves)`; when the shown part fills,
//!   `min(display, leaves)` is shown again at the back of the level (the
//!   same aggressor may reach it again). A replace that lowers the total in
//!   place takes the cut from the hidden reserve first; one that loses
//!   priority shows `min(display, leaves)` again.
//! - Stops trigger on the last trade price; every print of an execution
//!   counts (a buy stop triggers when the highest print reached it, a sell
//!   stop when the lowest did). Stops triggered by one execution run after
//!   it in one batch (buys by ascending stop, then sells by descending stop,
//!   each then by arrival); stops they trigger in turn run after the batch.
//!   A triggered stop emits `triggered`, is checked again (the kill switch,
//!   then `check_new` as the market or limit order it becomes: a reject is
//!   `rejected` with the order's id), then runs as that order. Stops do not
//!   trigger in a halted symbol (prints there still set the last price).
//! - Auctions: see [`Engine::process`] on [`Input::Auction`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::account::*;
use crate::book::*;
use crate::check::{CheckKind, OrderCheck, PreTradeCheck};
use crate::event::*;
use crate::fill::{FillModel, QuoteFill, Reach};
use crate::idmap::{hash_key, ClidSet, LiveMap};
use crate::reason::{CancelReason, RejectReason};
use crate::types::*;

/// Sizing of the preallocated structures.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// Working orders preallocated (the arena and the id map grow past it).
    pub order_capacity: usize,
    /// Price levels preallocated per book side (grows past it).
    pub levels_per_side: usize,
    /// Symbols per account, past the 4 kept inline, whose positions are
    /// preallocated (grows past it).
    pub positions_per_account: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { order_capacity: 4096, levels_per_side: 64, positions_per_account: 0 }
    }
}

/// Per-account settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountSpec {
    /// Self-trade prevention mode.
    pub stp: StpMode,
    /// Starting cash.
    pub cash: Money,
    /// Commission model.
    pub fees: FeeModel,
    /// Leverage in hundredths (100 = 1x) for buying power.
    pub leverage: i64,
}

impl Default for AccountSpec {
    fn default() -> Self {
        AccountSpec { stp: StpMode::None, cash: Money::ZERO, fees: FeeModel::default(), leverage: 100 }
    }
}

/// One position of an account, as [`Engine::position_report`] gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PositionReport {
    /// Instrument.
    pub sym: SymbolId,
    /// Signed lots.
    pub qty: Qty,
    /// Cost basis (negative for a short).
    pub cost: Money,
    /// Realized P&L.
    pub realized: Money,
    /// Unrealized P&L: mark value minus cost.
    pub unrealized: Money,
    /// Mark value.
    pub value: Money,
    /// Working buy and sell lots.
    pub open_buy: Qty,
    /// Working sell lots.
    pub open_sell: Qty,
}

/// An account's money, as [`Engine::account_report`] gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountReport {
    /// Starting cash.
    pub start_cash: Money,
    /// Cash now.
    pub cash: Money,
    /// Cash plus the positions' mark values.
    pub equity: Money,
    /// Equity times leverage, less gross position value and open-order exposure.
    pub buying_power: Money,
    /// Commissions paid.
    pub fees: Money,
    /// Realized P&L over all symbols.
    pub realized: Money,
    /// Unrealized P&L over all symbols.
    pub unrealized: Money,
    /// Sum of the absolute mark values of the positions.
    pub gross: Money,
    /// Open-order exposure.
    pub exposure: Money,
    /// Working orders.
    pub open_orders: u32,
}

/// Most parts a reserve order may be cut into (`qty <= display * this`):
/// one aggressor may meet every part of a reserve order in one sweep, so
/// this bounds the events of one input.
pub const MAX_RESERVE_PARTS: i64 = 1 << 12;

/// Kill switch states.
const KILL_OFF: u8 = 0;
const KILL_ON: u8 = 1;
const KILL_REDUCE_ONLY: u8 = 2;

#[derive(Clone, Debug)]
struct Account {
    spec: AccountSpec,
    used: ClidSet,
    /// Working orders of the account, oldest first (linked by `acct_prev/next`).
    head: u32,
    tail: u32,
    open: u32,
    /// The account's own kill switch (`KILL_*`).
    kill: u8,
    /// The account's positions as `(symbol, index into Engine::positions)`:
    /// the first [`INLINE_POSITIONS`] symbols in first-used order inline (on
    /// the account's own cache line; `u32::MAX` marks a free entry),
    /// further ones in `positions`, sorted by symbol.
    pos_inline: [(u32, u32); INLINE_POSITIONS],
    positions: Vec<(u32, u32)>,
    /// Cash, fees, P&L and the sums behind buying power.
    funds: Funds,
}

/// How many inputs ahead a caller of [`Engine::prefetch`] calls
/// [`Engine::prefetch_near`] (the first stage runs
/// [`crate::runtime::PREFETCH_AHEAD`] ahead).
pub const PREFETCH_NEAR: usize = 2;

/// Entries of [`Engine::level_cache`] (16 KB).
const LEVEL_CACHE: usize = 4096;

/// The [`Engine::level_cache`] entry of `price` on the book side `owner`:
/// a side's prices take consecutive entries (the prices in use, near the
/// touch, share a few cache lines), from a start that differs per side.
#[inline(always)]
fn level_cache_slot(price: i64, owner: u32) -> usize {
    let start = u64::from(owner).wrapping_mul(0x9E37_79B9);
    ((price as u64).wrapping_add(start) as usize) & (LEVEL_CACHE - 1)
}

/// Positions kept inline in an account (most accounts trade a few symbols).
const INLINE_POSITIONS: usize = 4;

/// An aggressor while it matches.
#[derive(Clone, Copy, Debug)]
struct Taker {
    oref: OrderRef,
    side: Side,
    /// Limit in ticks (`i64::MAX`/`MIN` for a market buy/sell).
    limit: i64,
    /// Its limit price for events (`NONE` for market).
    price: Price,
    leaves: i64,
    /// Total quantity (filled included); an STP decrement lowers it.
    total: i64,
    /// Filled while matching.
    filled: i64,
    stp: StpMode,
    /// Whether matching reached a crossing level (or the paper fill model
    /// ran): the aggressor's position may have moved since its check.
    touched: bool,
}

/// What [`Engine::order_check`] worked out for the order's position as if
/// the order were accepted: when nothing moves the position in between, the
/// order's open quantity goes in with this exposure instead of working it
/// out a second time.
#[derive(Clone, Copy, Debug)]
struct Known {
    /// The position (`NIL`: none yet, or the check takes no account view).
    pos: u32,
    /// Its open-order exposure with the order's open quantity in.
    expo: i128,
}

const UNKNOWN: Known = Known { pos: NIL, expo: 0 };

/// An accepted order about to run.
#[derive(Clone, Copy, Debug)]
struct Exec {
    oref: OrderRef,
    sym: SymbolId,
    side: Side,
    /// Limit or market (what a stop becomes).
    ord_type: OrdType,
    tif: Tif,
    price: i64,
    qty: i64,
    flags: u8,
    display: i64,
    expire: u64,
    /// The check's view of the position (for a new limit order).
    known: Known,
}

/// A participant of an auction uncross.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Part {
    /// 0: market, 1: limit.
    class: u8,
    /// Price priority, ascending is better (`-price` for buys, `price` for sells).
    key: i64,
    /// 0: resting in the book, 1: held for the auction.
    held: u8,
    /// Queue position (book) or arrival position (held).
    pos: u32,
    slot: u32,
}

/// The matching engine, with its pre-trade check `R` and the fill model
/// `F` of its paper instruments.
pub struct Engine<R: PreTradeCheck, F: FillModel = QuoteFill> {
    check: R,
    fill: F,
    seq: u64,
    now: Nanos,
    next_order_id: u64,
    next_trade_id: u64,
    /// Arrival stamps of waiting stops.
    next_arrival: u64,
    levels_per_side: usize,
    positions_per_account: usize,
    instruments: Vec<Instrument>,
    books: Vec<Book>,
    accounts: Vec<Account>,
    /// Every (account, symbol) position, in order of first use.
    positions: Vec<Position>,
    orders: Arena,
    levels: Levels,
    /// Direct-mapped cache of price levels by (book side, price)
    /// ([`level_cache_slot`]): a resting order usually finds its level here
    /// without a binary search. An entry is a hint, used only when the
    /// level it names is still on that side at that price.
    level_cache: Box<[u32; LEVEL_CACHE]>,
    live: LiveMap,
    /// Working orders not in a level (waiting stops and held OPG/CLS).
    off_book: usize,
    /// Empty levels kept in all sides (see [`Book::sides`]).
    empty_levels: u32,
    /// The kill switch for all accounts (`KILL_*`).
    kill_all: u8,
    /// Accounts whose own kill switch is on (0: the check reads no account).
    kills_on: u32,
    /// Lowest and highest print of the current execution (0: none).
    print_lo: i64,
    print_hi: i64,
    /// Triggered stops waiting to run: `(slot, trigger price)`.
    pending: Vec<(u32, i64)>,
    /// GTD expiries `(expire, order id, slot)`; entries of orders gone are
    /// skipped when they surface, and swept out when they outnumber the
    /// working GTD orders two to one (amortized O(1), in place).
    expiries: BinaryHeap<Reverse<(u64, u64, u32)>>,
    /// Working GTD orders.
    gtd_live: usize,
    /// Scratch space for auctions and the end of the day.
    parts: [Vec<Part>; 2],
    prices: Vec<i64>,
    vols: Vec<(i64, i64)>,
    touched: Vec<(Side, i64)>,
    scratch_ids: Vec<u64>,
}

#[inline]
fn crosses(side: Side, limit: i64, px: i64) -> bool {
    match side {
        Side::Buy => px <= limit,
        Side::Sell => px >= limit,
    }
}

/// The price limit an order matches within: its own, or no limit at all for
/// a market order.
#[inline]
fn match_limit(ord_type: OrdType, side: Side, price: i64) -> i64 {
    match (ord_type, side) {
        (OrdType::Market, Side::Buy) => i64::MAX,
        (OrdType::Market, Side::Sell) => i64::MIN,
        _ => price,
    }
}

#[inline]
fn signed(side: Side, q: i64) -> i64 {
    match side {
        Side::Buy => q,
        Side::Sell => -q,
    }
}

/// Mark value of position `p` in book `b`: at the symbol's mark, else at cost.
#[inline(always)]
fn mark_value_in(b: &Book, p: &Position) -> i128 {
    if b.ext.mark2 != 0 && p.qty != 0 {
        b.unit.value_half(b.ext.mark2, p.qty)
    } else {
        p.cost
    }
}

/// Recomputes position `p`'s mark value and exposure (book `b`) and moves
/// its account's sums `f` by the difference.
#[inline(always)]
fn refresh_in(p: &mut Position, f: &mut Funds, b: &Book) {
    let mv = mark_value_in(b, p);
    let expo = Position::exposure(p.qty, p.open, p.open_value, &b.unit);
    f.mv += mv - p.mv;
    f.gross += mv.abs() - p.mv.abs();
    f.expo += expo - p.expo;
    p.mv = mv;
    p.expo = expo;
}

/// Books a fill of `lots` at `px` on `side` into position `p` of account
/// `a` (cash, fee, quantity, cost basis, realized P&L), without refreshing
/// the cached sums. Returns the fee.
#[inline(always)]
fn fill_in(p: &mut Position, a: &mut Account, unit: &Unit, side: Side, px: i64, lots: i64) -> Money {
    let notional = unit.value(px, lots);
    let fee = unit.fee(&a.spec.fees, lots, notional);
    let f = &mut a.funds;
    let sn = if side == Side::Buy { notional } else { -notional };
    f.cash -= sn + fee;
    f.fees += fee;
    let q0 = p.qty;
    let closes = match side {
        Side::Buy => (-q0).clamp(0, lots),
        Side::Sell => q0.clamp(0, lots),
    };
    let mut realized = 0i128;
    let mut opening = notional;
    if closes > 0 {
        // The closed part's share of the cost basis and of the notional.
        let basis = if closes == q0.abs() { p.cost } else { mul_div(p.cost, closes, q0.abs()) };
        let n_close = if closes == lots { notional } else { mul_div(notional, closes, lots) };
        realized = if side == Side::Buy { -n_close } else { n_close } - basis;
        p.cost -= basis;
        opening = notional - n_close;
    }
    p.cost += if side == Side::Buy { opening } else { -opening };
    p.qty += signed(side, lots);
    p.realized += realized;
    f.realized += realized;
    Money::from_micros(sat(fee))
}

impl<R: PreTradeCheck> Engine<R, QuoteFill> {
    /// An empty engine with the given check and the default paper fill model.
    pub fn new(config: EngineConfig, check: R) -> Self {
        Engine::with_fill_model(config, check, QuoteFill)
    }
}

impl<R: PreTradeCheck, F: FillModel> Engine<R, F> {
    /// An empty engine with the given check and paper fill model.
    pub fn with_fill_model(config: EngineConfig, check: R, fill: F) -> Self {
        Engine {
            check,
            fill,
            seq: 0,
            now: Nanos(0),
            next_order_id: 1,
            next_trade_id: 1,
            next_arrival: 1,
            levels_per_side: config.levels_per_side,
            positions_per_account: config.positions_per_account,
            instruments: Vec::new(),
            books: Vec::new(),
            accounts: Vec::new(),
            positions: Vec::new(),
            orders: Arena::with_capacity(config.order_capacity),
            levels: Levels::new(),
            level_cache: Box::new([NIL; LEVEL_CACHE]),
            live: LiveMap::with_capacity(config.order_capacity),
            off_book: 0,
            empty_levels: 0,
            kill_all: KILL_OFF,
            kills_on: 0,
            print_lo: 0,
            print_hi: 0,
            pending: Vec::with_capacity(64),
            expiries: BinaryHeap::with_capacity(config.order_capacity / 4 + 16),
            gtd_live: 0,
            parts: [Vec::new(), Vec::new()],
            prices: Vec::new(),
            vols: Vec::new(),
            touched: Vec::new(),
            scratch_ids: Vec::new(),
        }
    }

    /// Adds an instrument (configuration, not the hot path).
    ///
    /// # Panics
    ///
    /// Past [`MAX_SYMBOLS`] instruments; callers that take instruments
    /// from outside check the count first (the script parser and the
    /// matcher thread refuse the one too many).
    pub fn add_instrument(&mut self, instrument: Instrument) -> SymbolId {
        assert!(self.instruments.len() < MAX_SYMBOLS, "an engine holds at most {MAX_SYMBOLS} instruments");
        self.instruments.push(instrument);
        let n = self.levels_per_side;
        self.books.push(Book {
            sides: [Vec::with_capacity(n), Vec::with_capacity(n)],
            // Allocated by the first stop of the symbol.
            stops: [Vec::new(), Vec::new()],
            unit: Unit::of(&instrument),
            paper: instrument.mode == VenueMode::Paper,
            ..Book::default()
        });
        SymbolId((self.instruments.len() - 1) as u32)
    }

    /// Adds an account (configuration, not the hot path).
    pub fn add_account(&mut self, spec: AccountSpec) -> AccountId {
        self.accounts.push(Account {
            spec,
            used: ClidSet::default(),
            head: NIL,
            tail: NIL,
            open: 0,
            kill: KILL_OFF,
            pos_inline: [(u32::MAX, 0); INLINE_POSITIONS],
            positions: Vec::with_capacity(self.positions_per_account),
            funds: Funds {
                start_cash: i128::from(spec.cash.micros()),
                cash: i128::from(spec.cash.micros()),
                leverage: spec.leverage,
                ..Funds::default()
            },
        });
        AccountId((self.accounts.len() - 1) as u32)
    }

    /// The instrument of a symbol.
    pub fn instrument(&self, sym: SymbolId) -> Option<&Instrument> {
        self.instruments.get(sym.0 as usize)
    }

    /// The pre-trade check.
    pub fn check(&self) -> &R {
        &self.check
    }

    /// The pre-trade check, mutably (configuration).
    pub fn check_mut(&mut self) -> &mut R {
        &mut self.check
    }

    /// Sequence number of the last input processed.
    pub fn seq(&self) -> Seq {
        Seq(self.seq)
    }

    /// Engine time.
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// Working orders resting in the books (not waiting stops, not orders
    /// held for an auction).
    pub fn resting_orders(&self) -> usize {
        self.orders.live() - self.off_book
    }

    /// Working orders of an account (waiting stops and held orders included).
    pub fn open_orders(&self, acct: AccountId) -> u32 {
        self.accounts.get(acct.0 as usize).map_or(0, |a| a.open)
    }

    /// Net position of an account in a symbol, in lots (buys minus sells).
    pub fn position(&self, acct: AccountId, sym: SymbolId) -> i64 {
        if acct.0 as usize >= self.accounts.len() || sym.0 as usize >= self.instruments.len() {
            return 0;
        }
        self.position_of(acct.0, sym.0)
    }

    /// Signed position in lots.
    #[inline]
    fn position_of(&self, acct: u32, sym: u32) -> i64 {
        self.pos_find(acct, sym).map_or(0, |p| self.positions[p as usize].qty)
    }

    /// Index of the position of `acct` in `sym`, if it has one.
    #[inline]
    fn pos_find(&self, acct: u32, sym: u32) -> Option<u32> {
        let a = &self.accounts[acct as usize];
        // A free entry holds u32::MAX, which is no symbol: compare all the
        // inline entries into a bit mask (no branch per entry: which entry
        // holds the symbol is data the branch predictor cannot learn).
        let mut hit = 0u32;
        for (k, &(s, _)) in a.pos_inline.iter().enumerate() {
            hit |= u32::from(s == sym) << k;
        }
        if hit != 0 {
            return Some(a.pos_inline[hit.trailing_zeros() as usize].1);
        }
        if a.pos_inline[INLINE_POSITIONS - 1].0 == u32::MAX {
            return None;
        }
        a.positions.binary_search_by_key(&sym, |&(s, _)| s).ok().map(|k| a.positions[k].1)
    }

    /// Index of the position of `acct` in `sym`, created flat the first
    /// time (allocates only on a new (account, symbol) pair).
    #[inline]
    fn pos_index(&mut self, acct: u32, sym: u32) -> u32 {
        if let Some(i) = self.pos_find(acct, sym) {
            return i;
        }
        self.new_position(acct, sym)
    }

    #[cold]
    #[inline(never)]
    fn new_position(&mut self, acct: u32, sym: u32) -> u32 {
        let idx = self.positions.len() as u32;
        let mut p = Position { acct, sym, ..Position::default() };
        p.mv = 0;
        self.positions.push(p);
        self.books[sym as usize].holders.push(idx);
        let a = &mut self.accounts[acct as usize];
        if let Some(e) = a.pos_inline.iter_mut().find(|e| e.0 == u32::MAX) {
            *e = (sym, idx);
        } else {
            let k = a.positions.binary_search_by_key(&sym, |&(s, _)| s).unwrap_or_else(|k| k);
            a.positions.insert(k, (sym, idx));
        }
        idx
    }

    /// Mark value of a position: at the symbol's mark, else at cost.
    #[inline]
    fn mark_value(&self, p: &Position) -> i128 {
        mark_value_in(&self.books[p.sym as usize], p)
    }

    /// Recomputes a position's mark value and exposure and moves its
    /// account's sums by the difference.
    #[inline(always)]
    fn refresh(&mut self, idx: u32) {
        let p = &mut self.positions[idx as usize];
        refresh_in(p, &mut self.accounts[p.acct as usize].funds, &self.books[p.sym as usize]);
    }

    /// A new mark: recomputes a position's mark value and moves its
    /// account's sums by the difference (its exposure, from its working
    /// orders' own prices, does not move). A flat position's value is 0 at
    /// any mark.
    #[inline(always)]
    fn remark(&mut self, idx: u32, unit: &Unit, mark2: i64) {
        let p = &self.positions[idx as usize];
        if p.qty == 0 {
            debug_assert_eq!(p.mv, self.mark_value(p), "a flat position's mark value");
            return;
        }
        let mv = unit.value_half(mark2, p.qty);
        debug_assert_eq!(mv, self.mark_value(p), "the mark value at the book's mark");
        let (old_mv, acct) = (p.mv, p.acct);
        let f = &mut self.accounts[acct as usize].funds;
        f.mv += mv - old_mv;
        f.gross += mv.abs() - old_mv.abs();
        self.positions[idx as usize].mv = mv;
    }

    /// Books a fill of `lots` at `px` for `acct` on `side`: cash, fee,
    /// position, cost basis, realized P&L. Returns the fee.
    #[inline]
    fn book_fill(&mut self, acct: u32, sym: u32, side: Side, px: i64, lots: i64) -> Money {
        let idx = self.pos_index(acct, sym);
        let fee = self.fill_at(idx, side, px, lots);
        self.refresh(idx);
        fee
    }

    /// A working order's fill of `lots` at `px`: its open quantity and the
    /// fill booked with one position lookup and one refresh. The caller
    /// lowers the order's leaves.
    #[inline(always)]
    fn fill_working(&mut self, slot: u32, px: i64, lots: i64) -> Money {
        let value_px = self.value_px(slot);
        let o = self.orders.get(slot);
        let (idx, side) = (o.pos, o.side());
        debug_assert_eq!(self.pos_find(o.acct, u32::from(o.sym)), Some(idx), "a working order's position");
        self.fill_maker(idx, side, value_px, px, lots)
    }

    /// [`Engine::fill_working`] with the maker's node already read: its
    /// position `idx`, `side` and the price `value_px` its open quantity is
    /// valued at. Each of the position, its account and its book is indexed
    /// once.
    #[inline(always)]
    fn fill_maker(&mut self, idx: u32, side: Side, value_px: i64, px: i64, lots: i64) -> Money {
        let p = &mut self.positions[idx as usize];
        let a = &mut self.accounts[p.acct as usize];
        let b = &self.books[p.sym as usize];
        p.open[side as usize] -= lots;
        p.open_value[side as usize] -= i128::from(value_px) * i128::from(lots);
        let fee = fill_in(p, a, &b.unit, side, px, lots);
        refresh_in(p, &mut a.funds, b);
        fee
    }

    /// Books a fill into position `idx` (and its account's cash and fees)
    /// without refreshing the cached sums. Returns the fee.
    #[inline(always)]
    fn fill_at(&mut self, idx: u32, side: Side, px: i64, lots: i64) -> Money {
        let p = &mut self.positions[idx as usize];
        fill_in(p, &mut self.accounts[p.acct as usize], &self.books[p.sym as usize].unit, side, px, lots)
    }

    /// The price a working order's open quantity is valued at: its limit,
    /// else its stop price, else 0 (a market order held for an auction).
    #[inline]
    fn value_px(&self, slot: u32) -> i64 {
        self.value_px_of(self.orders.get(slot), slot)
    }

    /// [`Engine::value_px`] of the order `o` in slot `slot`, its node at hand.
    #[inline(always)]
    fn value_px_of(&self, o: &Order, slot: u32) -> i64 {
        match o.ord_type() {
            OrdType::Limit | OrdType::StopLimit => o.price,
            OrdType::Stop => self.orders.aux(slot).stop,
            OrdType::Market => 0,
        }
    }

    /// Adds (`lots > 0`) or removes (`lots < 0`) working quantity of an
    /// order at its value price to its position's open orders.
    #[inline(always)]
    fn open_change(&mut self, slot: u32, lots: i64) {
        if lots == 0 {
            return;
        }
        let px = self.value_px(slot);
        self.open_adjust(slot, lots, i128::from(px) * i128::from(lots));
    }

    /// Moves the open quantity of a working order's side by `lots` and its
    /// value by `ticklots` (price times lots) in one step: a replace that
    /// changes both the price and the quantity of a resting order.
    #[inline(always)]
    fn open_adjust(&mut self, slot: u32, lots: i64, ticklots: i128) {
        let o = self.orders.get(slot);
        let (idx, side) = (o.pos, o.side() as usize);
        debug_assert_eq!(self.pos_find(o.acct, u32::from(o.sym)), Some(idx), "a working order's position");
        let p = &mut self.positions[idx as usize];
        p.open[side] += lots;
        p.open_value[side] += ticklots;
        self.refresh_exposure(idx);
    }

    /// Moves position `k.pos`'s open quantity on `side` by `lots` and its
    /// value by `ticklots`, with the exposure its check worked out for
    /// exactly that move ([`Known`]; nothing moved the position since).
    #[inline(always)]
    fn open_known(&mut self, k: Known, side: Side, lots: i64, ticklots: i128) {
        let p = &mut self.positions[k.pos as usize];
        p.open[side as usize] += lots;
        p.open_value[side as usize] += ticklots;
        debug_assert_eq!(
            k.expo,
            Position::exposure(p.qty, p.open, p.open_value, &self.books[p.sym as usize].unit),
            "the check's exposure is the position's"
        );
        let old = p.expo;
        p.expo = k.expo;
        let acct = p.acct;
        self.accounts[acct as usize].funds.expo += k.expo - old;
    }

    /// [`Engine::open_adjust`] of a resting limit order, with the exposure
    /// its check worked out when that still holds (`k.pos != NIL`: the
    /// caller knows nothing moved the position since the check).
    #[inline(always)]
    fn open_adjust_known(&mut self, slot: u32, k: Known, lots: i64, ticklots: i128) {
        let o = self.orders.get(slot);
        if k.pos != NIL && o.ord_type() == OrdType::Limit {
            let side = o.side();
            self.open_known(k, side, lots, ticklots);
        } else {
            self.open_adjust(slot, lots, ticklots);
        }
    }

    /// Recomputes a position's open-order exposure only (its quantity and
    /// mark did not move).
    #[inline(always)]
    fn refresh_exposure(&mut self, idx: u32) {
        let p = &mut self.positions[idx as usize];
        let expo = Position::exposure(p.qty, p.open, p.open_value, &self.books[p.sym as usize].unit);
        self.accounts[p.acct as usize].funds.expo += expo - p.expo;
        p.expo = expo;
    }

    /// Reference price of a symbol: the instrument's, else the last trade (0: none).
    #[inline]
    fn ref_ticks(&self, b: usize) -> i64 {
        let r = self.instruments[b].ref_price;
        if r.is_none() {
            self.books[b].last
        } else {
            r.ticks()
        }
    }

    /// The price a market order is valued at: the opposite side's best
    /// (the external quote in paper mode), else the reference (0: none).
    #[inline]
    fn market_px(&self, b: usize, side: Side) -> i64 {
        let opp = side.opposite();
        let book = &self.books[b];
        let best = if book.paper {
            book.ext.px[opp as usize]
        } else {
            book.sides[opp as usize].last().map_or(0, |r| key_price(opp, r.key))
        };
        if best != 0 {
            best
        } else {
            self.ref_ticks(b)
        }
    }

    /// What the pre-trade check sees of an order of `qty` lots at `px`
    /// ticks (0: market) replacing `prev` lots at `prev_px` (zero for a new
    /// order), with the account's state as if it were accepted. `pos` is
    /// the working order's position (`NIL` for a new order: looked up).
    #[allow(clippy::too_many_arguments, reason = "the order's fields, passed flat on the hot path")]
    #[inline(always)]
    fn order_check(
        &self,
        kind: CheckKind,
        acct: u32,
        sym: u32,
        side: Side,
        ord_type: OrdType,
        tif: Tif,
        px: i64,
        stop: i64,
        qty: i64,
        prev: i64,
        prev_px: i64,
        pos: u32,
    ) -> (OrderCheck, Known) {
        if !R::WANTS_ACCOUNT_VIEW {
            let price = if px > 0 { Price::from_ticks(px) } else { Price::NONE };
            let mut c = OrderCheck::bare(AccountId(acct), SymbolId(sym), side, price, Qty::from_lots(qty));
            (c.kind, c.ord_type, c.tif, c.prev_qty) = (kind, ord_type, tif, Qty::from_lots(prev));
            c.prev_price = if prev_px > 0 { Price::from_ticks(prev_px) } else { Price::NONE };
            return (c, UNKNOWN);
        }
        let b = sym as usize;
        let unit = &self.books[b].unit;
        // Valued as it would work: at its limit, a waiting stop-market
        // order at its stop price, a market order at the market.
        let value_px = if px > 0 {
            px
        } else if stop > 0 {
            stop
        } else {
            self.market_px(b, side)
        };
        let notional = unit.value(value_px, qty);
        let a = &self.accounts[acct as usize];
        let found = if pos != NIL { Some(pos) } else { self.pos_find(acct, sym) };
        debug_assert_eq!(found, self.pos_find(acct, sym), "a working order's position");
        let (pos, mut open, mut value, expo) = match found {
            Some(i) => {
                let p = &self.positions[i as usize];
                (p.qty, p.open, p.open_value, p.expo)
            }
            None => (0, [0; 2], [0; 2], 0),
        };
        let s = side as usize;
        open[s] += qty - prev;
        value[s] += i128::from(value_px) * i128::from(qty) - i128::from(prev_px) * i128::from(prev);
        let expo_after = Position::exposure(pos, open, value, unit);
        let known = Known { pos: found.unwrap_or(NIL), expo: expo_after };
        let chk = OrderCheck {
            kind,
            acct: AccountId(acct),
            sym: SymbolId(sym),
            side,
            ord_type,
            tif,
            price: if px > 0 { Price::from_ticks(px) } else { Price::NONE },
            qty: Qty::from_lots(qty),
            prev_qty: Qty::from_lots(prev),
            prev_price: if prev_px > 0 { Price::from_ticks(prev_px) } else { Price::NONE },
            notional: Money::from_micros(sat(notional)),
            ref_price: match self.ref_ticks(b) {
                0 => Price::NONE,
                r => Price::from_ticks(r),
            },
            open_orders: a.open + u32::from(kind == CheckKind::New),
            worst_long: pos + open[0],
            worst_short: open[1] - pos,
            buying_power: Money::from_micros(sat(a.funds.buying_power())),
            bp_used: Money::from_micros(sat(expo_after - expo)),
        };
        (chk, known)
    }

    /// An account's money: cash, equity, buying power, fees, P&L.
    pub fn account_report(&self, acct: AccountId) -> Option<AccountReport> {
        let a = self.accounts.get(acct.0 as usize)?;
        let f = &a.funds;
        let mut unrealized = 0i128;
        for &(_, i) in a.pos_inline.iter().take_while(|e| e.0 != u32::MAX).chain(&a.positions) {
            let p = &self.positions[i as usize];
            unrealized += p.mv - p.cost;
        }
        let m = |v: i128| Money::from_micros(sat(v));
        Some(AccountReport {
            start_cash: m(f.start_cash),
            cash: m(f.cash),
            equity: m(f.equity()),
            buying_power: m(f.buying_power()),
            fees: m(f.fees),
            realized: m(f.realized),
            unrealized: m(unrealized),
            gross: m(f.gross),
            exposure: m(f.expo),
            open_orders: a.open,
        })
    }

    /// An account's position in a symbol (flat if it never traded it).
    pub fn position_report(&self, acct: AccountId, sym: SymbolId) -> Option<PositionReport> {
        if acct.0 as usize >= self.accounts.len() || sym.0 as usize >= self.instruments.len() {
            return None;
        }
        let p = match self.pos_find(acct.0, sym.0) {
            Some(i) => self.positions[i as usize],
            None => Position { acct: acct.0, sym: sym.0, ..Position::default() },
        };
        Some(PositionReport {
            sym,
            qty: Qty::from_lots(p.qty),
            cost: Money::from_micros(sat(p.cost)),
            realized: Money::from_micros(sat(p.realized)),
            unrealized: Money::from_micros(sat(p.mv - p.cost)),
            value: Money::from_micros(sat(p.mv)),
            open_buy: Qty::from_lots(p.open[0]),
            open_sell: Qty::from_lots(p.open[1]),
        })
    }

    /// The symbols an account has a position record in, ascending.
    pub fn position_symbols(&self, acct: AccountId) -> Vec<SymbolId> {
        let Some(a) = self.accounts.get(acct.0 as usize) else { return Vec::new() };
        let mut v: Vec<SymbolId> =
            a.pos_inline.iter().take_while(|e| e.0 != u32::MAX).chain(&a.positions).map(|e| SymbolId(e.0)).collect();
        v.sort_unstable();
        v
    }

    /// The latest external quote of a symbol: `(bid, bid lots, ask, ask lots)`
    /// with `Price::NONE` for a missing side.
    pub fn external_quote(&self, sym: SymbolId) -> Option<(Price, Qty, Price, Qty)> {
        let e = &self.books.get(sym.0 as usize)?.ext;
        let p = |t: i64| if t == 0 { Price::NONE } else { Price::from_ticks(t) };
        Some((p(e.px[0]), Qty::from_lots(e.qty[0]), p(e.px[1]), Qty::from_lots(e.qty[1])))
    }

    /// Last trade price of a symbol (internal trade or external print).
    pub fn last_price(&self, sym: SymbolId) -> Option<Price> {
        self.books.get(sym.0 as usize).filter(|b| b.last != 0).map(|b| Price::from_ticks(b.last))
    }

    /// Waiting stops of a symbol and side, next to trigger first:
    /// `(stop price, order id)`.
    pub fn stops(&self, sym: SymbolId, side: Side) -> impl Iterator<Item = (Price, OrderId)> + '_ {
        let v: &[StopLevel] = self.books.get(sym.0 as usize).map_or(&[], |b| &b.stops[side as usize]);
        v.iter()
            .rev()
            .flat_map(move |l| {
                core::iter::successors(Some(l.head), move |&s| Some(self.orders.get(s).next).filter(|&n| n != NIL))
            })
            .map(move |s| (Price::from_ticks(self.orders.aux(s).stop), OrderId(self.orders.get(s).id)))
    }

    /// The price levels of one side, best first: `(price, shown quantity)`.
    pub fn levels(&self, sym: SymbolId, side: Side) -> impl Iterator<Item = (Price, Qty)> + '_ {
        let v: &[LevelRef] = self.books.get(sym.0 as usize).map_or(&[], |b| &b.sides[side as usize]);
        v.iter()
            .rev()
            .map(move |r| self.levels.get(r.level))
            .filter(|l| l.count != 0)
            .map(|l| (Price::from_ticks(l.price), Qty::from_lots(l.shown)))
    }

    /// Best bid and best ask.
    #[allow(clippy::type_complexity, reason = "a plain (bid, ask) pair of (price, qty) reads best as is")]
    pub fn top(&self, sym: SymbolId) -> (Option<(Price, Qty)>, Option<(Price, Qty)>) {
        (self.levels(sym, Side::Buy).next(), self.levels(sym, Side::Sell).next())
    }

    /// Starts loading the memory a later [`Engine::process`] of `input` will
    /// touch first (the id-map bucket of its client order id). A caller that
    /// holds a batch of inputs (the matcher draining a ring, the benchmark)
    /// calls it a few inputs ahead, so cache misses overlap the work in
    /// between. A hint only: it changes no state.
    #[inline]
    pub fn prefetch(&self, input: &Input) {
        let (acct, clid) = match input {
            Input::NewOrder(o) => (o.acct, o.clid),
            Input::CancelOrder(c) => (c.acct, c.clid),
            Input::ReplaceOrder(r) => (r.acct, r.clid),
            Input::ReplaceStop(r) => (r.acct, r.clid),
            _ => return,
        };
        self.live.prefetch(hash_key(acct.0, clid.0));
        if let Some(a) = self.accounts.get(acct.0 as usize) {
            optix_ring::prefetch_lines(a);
            self.check.prefetch(acct);
        }
    }

    /// The second stage of [`Engine::prefetch`], a caller calls it for an
    /// input [`PREFETCH_NEAR`] inputs ahead (the account and id-map bucket
    /// loaded by the first stage are in cache by then): starts loading the
    /// position the input will book into (a new order's, or for a cancel or
    /// replace the account's first positions) and the order node a cancel
    /// or replace works on. A hint only: it changes no state.
    #[inline]
    pub fn prefetch_near(&self, input: &Input) {
        let (acct, sym, clid) = match input {
            Input::NewOrder(o) => (o.acct, Some(o.sym.0), None),
            Input::CancelOrder(c) => (c.acct, None, Some(c.clid)),
            Input::ReplaceOrder(r) => (r.acct, None, Some(r.clid)),
            Input::ReplaceStop(r) => (r.acct, None, Some(r.clid)),
            _ => return,
        };
        let Some(a) = self.accounts.get(acct.0 as usize) else { return };
        if clid.is_none() && a.tail != NIL {
            // A new order that rests is linked behind the account's newest.
            optix_ring::prefetch(self.orders.get(a.tail));
        }
        if let Input::NewOrder(o) = input {
            // A marketable order meets the head of the opposite top level
            // first (often an old order, out of cache).
            let opp = o.side.opposite();
            if let Some(top) = self.books.get(o.sym.0 as usize).and_then(|b| b.sides[opp as usize].last()) {
                let limit = match_limit(o.ord_type, o.side, o.price.ticks());
                if crosses(o.side, limit, key_price(opp, top.key)) {
                    let head = self.levels.get(top.level).head;
                    if head != NIL {
                        optix_ring::prefetch(self.orders.get(head));
                    }
                }
            }
        }
        if let Some(clid) = clid {
            // The first entry with the key's tag (almost always the order;
            // a hint need not check, and checking would load the node).
            if let Some(slot) = self.live.get(hash_key(acct.0, clid.0), |_| true) {
                optix_ring::prefetch(self.orders.get(slot));
            }
        }
        for &(s, i) in &a.pos_inline {
            if s == u32::MAX {
                break;
            }
            match sym {
                Some(sym) if s == sym => return optix_ring::prefetch_lines(&self.positions[i as usize]),
                Some(_) => {}
                None => optix_ring::prefetch(&self.positions[i as usize]),
            }
        }
    }

    /// Processes one input at ingress time `time`.
    ///
    /// Before the input runs, every GTD order whose expiry is not after the
    /// engine time expires (`expired`, oldest expiry first).
    ///
    /// [`Input::Auction`] uncrosses the symbol: the orders held for that
    /// auction and the whole resting book (hidden reserve included) trade at
    /// the one price that maximizes the executed quantity, then minimizes the
    /// imbalance, then is nearest the instrument's reference price (else the
    /// last trade; with neither this rule is skipped), then is the lowest.
    /// Each side fills in priority order: market orders first, then by price,
    /// then resting orders in queue order before held orders in arrival
    /// order. Trades carry `aggressor: None`, fills `liq: auction`; then the
    /// level updates (bids best first, then asks), then the held orders left
    /// over are cancelled (`auction_leftover`); book orders stay. A reserve
    /// order partly filled in the auction shows `min(display, leaves)` again
    /// in its place. Self-trade prevention does not apply to the uncross.
    pub fn process(&mut self, time: Nanos, input: &Input, out: &mut impl EventSink) {
        self.seq += 1;
        if time > self.now {
            self.now = time;
        }
        if let Some(Reverse((t, _, _))) = self.expiries.peek() {
            if *t <= self.now.0 {
                self.expire_due(out);
            }
        }
        match input {
            Input::NewOrder(o) => self.on_new(o, out),
            Input::CancelOrder(c) => self.on_cancel(c, out),
            Input::ReplaceOrder(r) => {
                let rs =
                    ReplaceStop { acct: r.acct, clid: r.clid, stop_price: Price::NONE, price: r.price, qty: r.qty };
                self.on_replace(&rs, false, out)
            }
            Input::ReplaceStop(r) => self.on_replace(r, true, out),
            Input::MassCancel(m) => self.on_mass_cancel(m, out),
            Input::Halt(sym) => self.on_halt(*sym, true, out),
            Input::Resume(sym) => self.on_halt(*sym, false, out),
            Input::Kill(k) => self.on_kill(k, out),
            Input::Unkill(a) => self.on_unkill(*a, out),
            Input::SessionEnd => self.on_session_end(out),
            Input::Auction(sym, kind) => self.on_auction(*sym, *kind, out),
            Input::TradePrint(p) => self.on_print(p, out),
            Input::Quote(q) => self.on_quote(q, out),
            Input::Tick => {}
        }
    }

    #[inline]
    fn emit(&self, out: &mut impl EventSink, kind: EventKind) {
        out.emit(&Event { seq: Seq(self.seq), time: self.now, kind });
    }

    fn reject(&self, out: &mut impl EventSink, order: OrderRef, cmd: CmdKind, reason: RejectReason) {
        self.emit(out, EventKind::Rejected { order, cmd, reason });
    }

    fn admin_reject(&self, out: &mut impl EventSink, acct: AccountId, reason: RejectReason) {
        let order = OrderRef { acct, clid: ClientOrderId(0), id: OrderId(0) };
        self.reject(out, order, CmdKind::Admin, reason);
    }

    fn validate_price(p: i64) -> Result<(), RejectReason> {
        if p <= 0 {
            return Err(RejectReason::InvalidPrice);
        }
        if p > MAX_PRICE_TICKS {
            return Err(RejectReason::PriceTooLarge);
        }
        Ok(())
    }

    #[inline]
    fn validate_new(&self, o: &NewOrder) -> Result<(), RejectReason> {
        // The common order first: a plain limit order, DAY, GTC, IOC or
        // FOK, with a valid account, symbol, size and price. Every rule
        // below holds for it but the client order id's.
        if o.ord_type == OrdType::Limit
            && matches!(o.tif, Tif::Day | Tif::Gtc | Tif::Ioc | Tif::Fok)
            && !o.post_only
            && o.display.is_zero()
            && o.stop_price.is_none()
            && o.expire == Nanos(0)
            && (o.acct.0 as usize) < self.accounts.len()
            && (o.sym.0 as usize) < self.instruments.len()
            && (1..=MAX_QTY_LOTS).contains(&o.qty.lots())
            && (1..=MAX_PRICE_TICKS).contains(&o.price.ticks())
        {
            return if self.accounts[o.acct.0 as usize].used.contains(o.clid.0) {
                Err(RejectReason::DuplicateClientOrderId)
            } else {
                Ok(())
            };
        }
        self.validate_new_slow(o)
    }

    /// [`Engine::validate_new`] for every other order, rule by rule.
    #[inline(never)]
    fn validate_new_slow(&self, o: &NewOrder) -> Result<(), RejectReason> {
        if o.acct.0 as usize >= self.accounts.len() {
            return Err(RejectReason::UnknownAccount);
        }
        if o.sym.0 as usize >= self.instruments.len() {
            return Err(RejectReason::UnknownSymbol);
        }
        if o.qty.lots() <= 0 {
            return Err(RejectReason::InvalidQty);
        }
        if o.qty.lots() > MAX_QTY_LOTS {
            return Err(RejectReason::QtyTooLarge);
        }
        match o.ord_type {
            OrdType::Limit | OrdType::StopLimit => Self::validate_price(o.price.ticks())?,
            OrdType::Market | OrdType::Stop => {
                if !o.price.is_none() {
                    return Err(RejectReason::PriceNotAllowed);
                }
            }
        }
        match o.ord_type {
            OrdType::Stop | OrdType::StopLimit => Self::validate_price(o.stop_price.ticks())?,
            OrdType::Limit | OrdType::Market => {
                if !o.stop_price.is_none() {
                    return Err(RejectReason::PriceNotAllowed);
                }
            }
        }
        if o.display.lots() < 0 {
            return Err(RejectReason::InvalidQty);
        }
        if o.display.lots() > MAX_QTY_LOTS {
            return Err(RejectReason::QtyTooLarge);
        }
        if o.display.lots() > 0 && o.qty.lots() > o.display.lots() * MAX_RESERVE_PARTS {
            return Err(RejectReason::InvalidQty);
        }
        let is_stop = matches!(o.ord_type, OrdType::Stop | OrdType::StopLimit);
        let is_market = matches!(o.ord_type, OrdType::Market | OrdType::Stop);
        let auction = matches!(o.tif, Tif::Opg | Tif::Cls);
        if o.post_only && (is_market || is_stop || auction || matches!(o.tif, Tif::Ioc | Tif::Fok)) {
            return Err(RejectReason::InvalidOrderType);
        }
        if (is_market && !o.display.is_zero()) || (is_stop && auction) {
            return Err(RejectReason::InvalidOrderType);
        }
        if o.tif == Tif::Gtd {
            if o.expire <= self.now {
                return Err(RejectReason::InvalidExpiry);
            }
        } else if o.expire != Nanos(0) {
            return Err(RejectReason::InvalidExpiry);
        }
        if self.accounts[o.acct.0 as usize].used.contains(o.clid.0) {
            return Err(RejectReason::DuplicateClientOrderId);
        }
        Ok(())
    }

    /// Whether the kill switch stops an order of `acct` in `sym` on `side`
    /// for `qty` lots (reduce-only lets through what only reduces the position).
    #[inline(always)]
    fn killed(&self, acct: u32, sym: u32, side: Side, qty: i64) -> bool {
        if self.kills_on == 0 && self.kill_all == KILL_OFF {
            return false;
        }
        self.killed_slow(acct, sym, side, qty)
    }

    /// [`Engine::killed`] while some kill switch is on.
    #[cold]
    #[inline(never)]
    fn killed_slow(&self, acct: u32, sym: u32, side: Side, qty: i64) -> bool {
        let a = &self.accounts[acct as usize];
        let k = a.kill.max(self.kill_all);
        if k == KILL_OFF {
            return false;
        }
        if a.kill == KILL_ON || self.kill_all == KILL_ON {
            return true;
        }
        let pos = self.position_of(acct, sym);
        let reduces = match side {
            Side::Buy => pos < 0 && qty <= -pos,
            Side::Sell => pos > 0 && qty <= pos,
        };
        !reduces
    }

    #[inline]
    fn on_new(&mut self, o: &NewOrder, out: &mut impl EventSink) {
        let mut oref = OrderRef { acct: o.acct, clid: o.clid, id: OrderId(0) };
        if let Err(r) = self.validate_new(o) {
            return self.reject(out, oref, CmdKind::New, r);
        }
        // The order may rest: start loading its id-map bucket now.
        self.live.prefetch(hash_key(o.acct.0, o.clid.0));
        let b = o.sym.0 as usize;
        if self.books[b].halted {
            return self.reject(out, oref, CmdKind::New, RejectReason::SymbolHalted);
        }
        if self.killed(o.acct.0, o.sym.0, o.side, o.qty.lots()) {
            return self.reject(out, oref, CmdKind::New, RejectReason::KillSwitch);
        }
        if self.books[b].paper && (!o.display.is_zero() || matches!(o.tif, Tif::Opg | Tif::Cls)) {
            // Paper fills take whole orders against the external market:
            // no reserve display, no auctions of our own.
            return self.reject(out, oref, CmdKind::New, RejectReason::NotSupported);
        }
        if o.post_only && self.would_cross(o.sym, o.side, o.price.ticks()) {
            return self.reject(out, oref, CmdKind::New, RejectReason::PostOnlyWouldTake);
        }
        // The check runs last: an order it passes is accepted.
        let (chk, known) = self.order_check(
            CheckKind::New,
            o.acct.0,
            o.sym.0,
            o.side,
            o.ord_type,
            o.tif,
            if o.price.is_none() { 0 } else { o.price.ticks() },
            if o.ord_type == OrdType::Stop { o.stop_price.ticks() } else { 0 },
            o.qty.lots(),
            0,
            0,
            NIL,
        );
        if let Err(r) = self.check.check_new(self.now, &chk) {
            return self.reject(out, oref, CmdKind::New, r);
        }
        // Accepted: the client order id counts as used today (a rejected
        // order changes no state, so its id may be sent again).
        self.accounts[o.acct.0 as usize].used.insert(o.clid.0);
        oref.id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        self.emit(
            out,
            EventKind::Accepted {
                order: oref,
                sym: o.sym,
                side: o.side,
                ord_type: o.ord_type,
                tif: o.tif,
                price: o.price,
                qty: o.qty,
                stop: o.stop_price,
                display: o.display,
            },
        );
        let mut flags = if o.post_only { FLAG_POST_ONLY } else { 0 };
        if !o.display.is_zero() {
            flags |= FLAG_RESERVE;
        }
        if o.tif == Tif::Gtd {
            flags |= FLAG_GTD;
        }
        let x = Exec {
            oref,
            sym: o.sym,
            side: o.side,
            ord_type: o.ord_type,
            tif: o.tif,
            price: o.price.ticks(),
            qty: o.qty.lots(),
            flags,
            display: o.display.lots(),
            expire: o.expire.0,
            known,
        };
        match (o.ord_type, o.tif) {
            (OrdType::Stop | OrdType::StopLimit, _) => {
                let slot = self.new_slot(&x, o.qty.lots(), 0);
                self.orders.aux_mut(slot).stop = o.stop_price.ticks();
                self.open_change(slot, o.qty.lots());
                self.place_stop(slot, out);
            }
            (_, Tif::Opg | Tif::Cls) => {
                let slot = self.new_slot(&x, o.qty.lots(), 0);
                self.open_change(slot, o.qty.lots());
                self.hold(slot);
            }
            _ => {
                self.execute(&x, NIL, out);
                self.run_stops(b, out);
            }
        }
    }

    /// Allocates a working order's slot: node, side table, id map, account
    /// list and expiry. Not yet in a level, stop book or held list.
    #[inline(never)]
    fn new_slot(&mut self, x: &Exec, leaves: i64, filled: i64) -> u32 {
        self.new_slot_inline(x, leaves, filled)
    }

    /// [`Engine::new_slot`] inlined, for a new order that rests.
    #[inline(always)]
    fn new_slot_inline(&mut self, x: &Exec, leaves: i64, filled: i64) -> u32 {
        let pos = if x.known.pos != NIL { x.known.pos } else { self.pos_index(x.oref.acct.0, x.sym.0) };
        let slot = self.orders.alloc();
        *self.orders.get_mut(slot) = Order {
            id: x.oref.id.0,
            clid: x.oref.clid.0,
            price: x.price,
            leaves,
            prev: NIL,
            next: NIL,
            acct_prev: NIL,
            acct_next: NIL,
            level: NIL,
            acct: x.oref.acct.0,
            pos,
            sym: x.sym.0 as u16,
            kind: Order::kind_of(x.side, x.ord_type, x.tif),
            flags: x.flags,
        };
        if filled != 0 {
            self.orders.set_filled(slot, filled);
        }
        if x.flags & (FLAG_RESERVE | FLAG_GTD) != 0 {
            let a = self.orders.aux_mut(slot);
            a.display = x.display;
            a.expire = x.expire;
            a.shown = leaves;
            if x.flags & FLAG_GTD != 0 {
                self.gtd_live += 1;
                if self.expiries.len() >= 2 * self.gtd_live + 64 {
                    self.sweep_expiries();
                }
                self.expiries.push(Reverse((x.expire, x.oref.id.0, slot)));
            }
        }
        self.live.insert(hash_key(x.oref.acct.0, x.oref.clid.0), slot);
        self.link_account(slot);
        slot
    }

    /// The part of `leaves` an order shows.
    #[inline]
    fn shown_for(&self, slot: u32, flags: u8, leaves: i64) -> i64 {
        if flags & FLAG_RESERVE != 0 {
            leaves.min(self.orders.aux(slot).display)
        } else {
            leaves
        }
    }

    /// Runs an accepted limit or market order: fill-or-kill check, matching,
    /// then the remainder rests or is cancelled. `slot` is the order's slot
    /// if it already has one (a triggered stop), else `NIL`.
    #[inline]
    fn execute(&mut self, x: &Exec, slot: u32, out: &mut impl EventSink) {
        let limit = match_limit(x.ord_type, x.side, x.price);
        let stp = self.accounts[x.oref.acct.0 as usize].spec.stp;
        if x.tif == Tif::Fok && self.fok_available(x.sym, x.side, limit, x.qty, x.oref.acct.0, stp) < x.qty {
            if slot != NIL {
                self.close(slot);
            }
            return self.emit(
                out,
                EventKind::Cancelled {
                    order: x.oref,
                    sym: x.sym,
                    qty: Qty::from_lots(x.qty),
                    reason: CancelReason::FillOrKill,
                },
            );
        }
        let price = if x.ord_type == OrdType::Market { Price::NONE } else { Price::from_ticks(x.price) };
        let mut t = Taker {
            oref: x.oref,
            side: x.side,
            limit,
            price,
            leaves: x.qty,
            total: x.qty,
            filled: 0,
            stp,
            touched: false,
        };
        self.take(x.sym, &mut t, out);
        if t.leaves == 0 {
            return self.finish(slot);
        }
        let reason = if x.ord_type == OrdType::Market {
            Some(CancelReason::NoLiquidity)
        } else {
            match x.tif {
                Tif::Ioc => Some(CancelReason::ImmediateOrCancel),
                Tif::Fok => Some(CancelReason::FillOrKill),
                _ => None,
            }
        };
        if let Some(reason) = reason {
            self.finish(slot);
            return self
                .emit(out, EventKind::Cancelled { order: x.oref, sym: x.sym, qty: Qty::from_lots(t.leaves), reason });
        }
        let slot = if slot == NIL {
            self.new_slot_inline(x, t.leaves, t.filled)
        } else {
            let n = self.orders.get_mut(slot);
            n.leaves = t.leaves;
            n.set_ord_type(x.ord_type);
            self.orders.set_filled(slot, t.filled);
            slot
        };
        let shown = self.shown_for(slot, x.flags, t.leaves);
        self.orders.set_shown(slot, shown);
        // Untouched and whole, nothing moved its position since the check:
        // its exposure is the one the check worked out.
        let known = if !t.touched && t.leaves == x.qty { x.known } else { UNKNOWN };
        self.open_adjust_known(slot, known, t.leaves, i128::from(self.value_px(slot)) * i128::from(t.leaves));
        self.rest_inline(slot, out);
    }

    /// An executed order that does not rest: releases its slot if it has one.
    #[inline]
    fn finish(&mut self, slot: u32) {
        if slot != NIL {
            self.close(slot);
        }
    }

    /// Whether an order at `limit` would trade against the opposite side.
    #[inline]
    fn would_cross(&self, sym: SymbolId, side: Side, limit: i64) -> bool {
        let opp = side.opposite();
        let book = &self.books[sym.0 as usize];
        if book.paper {
            return self.fill.available(side, limit, book.ext.px[opp as usize], book.ext.left(opp)) > 0;
        }
        match book.sides[opp as usize].last() {
            Some(r) => crosses(side, limit, key_price(opp, r.key)),
            None => false,
        }
    }

    /// Quantity available to an aggressor of `acct` within `limit`, counting
    /// hidden reserve, stopping once `want` is reached; self-trade prevention
    /// as the module documentation says.
    #[cold]
    #[inline(never)]
    fn available(&self, sym: SymbolId, side: Side, limit: i64, want: i64, acct: u32, stp: StpMode) -> i64 {
        let opp = side.opposite();
        let mut sum = 0i64;
        for r in self.books[sym.0 as usize].sides[opp as usize].iter().rev() {
            if !crosses(side, limit, key_price(opp, r.key)) || sum >= want {
                break;
            }
            let l = self.levels.get(r.level);
            if stp == StpMode::None {
                sum += l.total;
                continue;
            }
            let mut s = l.head;
            while s != NIL {
                let o = self.orders.get(s);
                if o.acct == acct {
                    if stp != StpMode::CancelOldest {
                        return sum;
                    }
                } else {
                    sum += o.leaves;
                    if sum >= want {
                        return sum;
                    }
                }
                s = o.next;
            }
        }
        sum
    }

    /// Quantity a fill-or-kill order could take now (paper: the quote's).
    #[inline]
    fn fok_available(&self, sym: SymbolId, side: Side, limit: i64, want: i64, acct: u32, stp: StpMode) -> i64 {
        let book = &self.books[sym.0 as usize];
        if book.paper {
            let opp = side.opposite();
            return self.fill.available(side, limit, book.ext.px[opp as usize], book.ext.left(opp));
        }
        self.available(sym, side, limit, want, acct, stp)
    }

    /// Runs an aggressor: against the book, or in paper mode against the
    /// external quote.
    #[inline]
    fn take(&mut self, sym: SymbolId, t: &mut Taker, out: &mut impl EventSink) {
        if self.books[sym.0 as usize].paper {
            self.paper_take(sym, t, out)
        } else {
            self.match_taker(sym, t, out)
        }
    }

    /// Matches an aggressor against the opposite side up to its limit.
    /// Emits trades, fills, self-trade prevention events and level updates;
    /// when self-trade prevention ends the aggressor, emits its `cancelled`
    /// and leaves it with zero leaves.
    fn match_taker(&mut self, sym: SymbolId, t: &mut Taker, out: &mut impl EventSink) {
        let side = t.side;
        let opp = side.opposite();
        let b = sym.0 as usize;
        // Quantity of the aggressor cancelled by self-trade prevention.
        let mut stopped = 0i64;
        // The aggressor's position: found at its first fill, its cached sums
        // refreshed once after the sweep.
        let mut tpos = NIL;
        while t.leaves > 0 && stopped == 0 {
            let Some(&top) = self.books[b].sides[opp as usize].last() else { break };
            let px = key_price(opp, top.key);
            if !crosses(side, t.limit, px) {
                break;
            }
            t.touched = true;
            let lvl = top.level;
            let mut changed = false;
            let mut traded = false;
            while t.leaves > 0 {
                let head = self.levels.get(lvl).head;
                if head == NIL {
                    break;
                }
                if t.stp != StpMode::None && self.orders.get(head).acct == t.oref.acct.0 {
                    stopped = self.self_trade(sym, lvl, head, t, out);
                    // `cancel_newest` leaves the level as it was.
                    changed |= t.stp != StpMode::CancelNewest;
                    if stopped != 0 {
                        break;
                    }
                    continue;
                }
                changed = true;
                traded = true;
                // The maker's node, read once.
                let m = *self.orders.get(head);
                if m.leaves <= t.leaves {
                    // The maker will be done: start loading what closing it
                    // touches (its account-list neighbours, often old and
                    // cold, and its id-map bucket), so the misses overlap the
                    // fill's accounting below instead of following it.
                    if m.acct_prev != NIL {
                        optix_ring::prefetch(self.orders.get(m.acct_prev));
                    }
                    if m.acct_next != NIL {
                        optix_ring::prefetch(self.orders.get(m.acct_next));
                    }
                    self.live.prefetch(hash_key(m.acct, m.clid));
                    // And the next maker of the level.
                    if m.next != NIL {
                        optix_ring::prefetch(self.orders.get(m.next));
                    }
                }
                let shown = self.orders.shown_of(&m, head);
                let q = t.leaves.min(shown);
                let maker = OrderRef { acct: AccountId(m.acct), clid: ClientOrderId(m.clid), id: OrderId(m.id) };
                let maker_leaves = m.leaves - q;
                self.orders.get_mut(head).leaves = maker_leaves;
                // (`set_shown`, with the flags already at hand.)
                if m.flags & FLAG_RESERVE != 0 {
                    self.orders.aux_mut(head).shown = shown - q;
                }
                if maker_leaves > 0 {
                    self.orders.add_filled(head, q);
                }
                // (Without a reserve, shown is all the open quantity: no refill.)
                let refill = shown == q && maker_leaves > 0;
                let maker_done = maker_leaves == 0;
                let value_px = self.value_px_of(&m, head);
                let maker_fee = self.fill_maker(m.pos, m.side(), value_px, px, q);
                if tpos == NIL {
                    tpos = self.pos_index(t.oref.acct.0, sym.0);
                }
                let taker_fee = self.fill_at(tpos, side, px, q);
                let l = self.levels.get_mut(lvl);
                l.shown -= q;
                l.total -= q;
                t.leaves -= q;
                let trade_id = TradeId(self.next_trade_id);
                self.next_trade_id += 1;
                let (buy, sell) = match side {
                    Side::Buy => (t.oref, maker),
                    Side::Sell => (maker, t.oref),
                };
                let price = Price::from_ticks(px);
                let qty = Qty::from_lots(q);
                self.emit(out, EventKind::Traded { trade_id, sym, price, qty, buy, sell, aggressor: Some(side) });
                self.emit(
                    out,
                    EventKind::Filled {
                        order: maker,
                        sym,
                        side: opp,
                        price,
                        qty,
                        leaves: Qty::from_lots(maker_leaves),
                        liq: Liquidity::Maker,
                        trade_id,
                        fee: maker_fee,
                    },
                );
                self.emit(
                    out,
                    EventKind::Filled {
                        order: t.oref,
                        sym,
                        side,
                        price,
                        qty,
                        leaves: Qty::from_lots(t.leaves),
                        liq: Liquidity::Taker,
                        trade_id,
                        fee: taker_fee,
                    },
                );
                t.filled += q;
                if maker_done {
                    self.pop_head(lvl, head);
                    self.close(head);
                } else if refill {
                    self.refill(lvl, head);
                }
            }
            if traded {
                self.note_print(b, px);
            }
            let l = *self.levels.get(lvl);
            if changed {
                self.emit(
                    out,
                    EventKind::LevelChanged {
                        sym,
                        side: opp,
                        price: Price::from_ticks(px),
                        qty: Qty::from_lots(l.shown),
                    },
                );
            }
            if l.count == 0 {
                self.pop_top_level(b, opp);
            } else {
                break;
            }
        }
        if tpos != NIL {
            self.refresh(tpos);
        }
        if stopped != 0 {
            self.emit(
                out,
                EventKind::Cancelled {
                    order: t.oref,
                    sym,
                    qty: Qty::from_lots(stopped),
                    reason: CancelReason::SelfTrade,
                },
            );
            t.leaves = 0;
        }
    }

    /// Records a print for the last price and the stops.
    #[inline]
    fn note_print(&mut self, b: usize, px: i64) {
        self.books[b].last = px;
        if self.print_hi == 0 {
            self.print_lo = px;
            self.print_hi = px;
        } else {
            self.print_lo = self.print_lo.min(px);
            self.print_hi = self.print_hi.max(px);
        }
    }

    /// The aggressor meets a resting order of its own account (`head` of
    /// `lvl`). Applies the mode; returns the aggressor's quantity to cancel
    /// (0: it goes on matching).
    #[cold]
    fn self_trade(&mut self, sym: SymbolId, lvl: u32, head: u32, t: &mut Taker, out: &mut impl EventSink) -> i64 {
        let m = *self.orders.get(head);
        let maker = self.order_ref(head);
        match t.stp {
            StpMode::None => 0,
            StpMode::CancelNewest => t.leaves,
            StpMode::CancelOldest | StpMode::CancelBoth => {
                self.remove_head(lvl, head);
                self.close(head);
                self.emit(
                    out,
                    EventKind::Cancelled {
                        order: maker,
                        sym,
                        qty: Qty::from_lots(m.leaves),
                        reason: CancelReason::SelfTrade,
                    },
                );
                if t.stp == StpMode::CancelBoth {
                    t.leaves
                } else {
                    0
                }
            }
            StpMode::Decrement => {
                let q = t.leaves.min(m.leaves);
                if q == m.leaves {
                    self.remove_head(lvl, head);
                    self.close(head);
                    self.emit(
                        out,
                        EventKind::Cancelled {
                            order: maker,
                            sym,
                            qty: Qty::from_lots(q),
                            reason: CancelReason::SelfTrade,
                        },
                    );
                } else {
                    self.open_change(head, -q);
                    let was_shown = self.orders.shown(head);
                    let n = self.orders.get_mut(head);
                    n.leaves -= q;
                    let shown = was_shown.min(n.leaves);
                    self.orders.set_shown(head, shown);
                    // (Both sides lose `q` open lots; the maker's fills stay.)
                    let total = self.orders.total(head);
                    let l = self.levels.get_mut(lvl);
                    l.shown -= was_shown - shown;
                    l.total -= q;
                    self.emit(
                        out,
                        EventKind::Replaced {
                            order: maker,
                            sym,
                            price: Price::from_ticks(m.price),
                            qty: Qty::from_lots(total),
                            leaves: Qty::from_lots(m.leaves - q),
                            stop: Price::NONE,
                        },
                    );
                }
                t.total -= q;
                if q == t.leaves {
                    // Reduced to zero: cancelled by the caller, for `q`.
                    t.leaves = q;
                    return q;
                }
                t.leaves -= q;
                self.emit(
                    out,
                    EventKind::Replaced {
                        order: t.oref,
                        sym,
                        price: t.price,
                        qty: Qty::from_lots(t.total),
                        leaves: Qty::from_lots(t.leaves),
                        stop: Price::NONE,
                    },
                );
                0
            }
        }
    }

    /// Takes the head order out of its level with its quantities (the level
    /// itself is removed by the matching loop when it empties).
    fn remove_head(&mut self, lvl: u32, head: u32) {
        let o = *self.orders.get(head);
        let shown = self.orders.shown(head);
        let l = self.levels.get_mut(lvl);
        l.shown -= shown;
        l.total -= o.leaves;
        self.pop_head(lvl, head);
        let n = self.orders.get_mut(head);
        n.level = NIL;
        n.next = NIL;
    }

    /// A reserve order's shown part is filled: show `min(display, leaves)`
    /// again at the back of its level.
    #[cold]
    #[inline(never)]
    fn refill(&mut self, lvl: u32, slot: u32) {
        let display = self.orders.aux(slot).display;
        let shown = self.orders.get(slot).leaves.min(display);
        self.orders.set_shown(slot, shown);
        self.levels.get_mut(lvl).shown += shown;
        if self.levels.get(lvl).tail == slot {
            return;
        }
        self.pop_head(lvl, slot);
        let l = self.levels.get_mut(lvl);
        let tail = l.tail;
        l.tail = slot;
        l.count += 1;
        self.orders.get_mut(tail).next = slot;
        let n = self.orders.get_mut(slot);
        n.prev = tail;
        n.next = NIL;
    }

    /// Puts an unlinked working order at the back of its price level and
    /// emits the level update.
    #[inline(never)]
    fn rest(&mut self, slot: u32, out: &mut impl EventSink) {
        self.rest_inline(slot, out);
    }

    /// [`Engine::rest`] inlined, for a new order that rests (the common case
    /// of the add-heavy flows).
    #[inline(always)]
    fn rest_inline(&mut self, slot: u32, out: &mut impl EventSink) {
        let o = *self.orders.get(slot);
        let o_shown = self.orders.shown(slot);
        let (b, s) = (o.sym as usize, o.side() as usize);
        let owner = level_owner(b, o.side());
        let h = level_cache_slot(o.price, owner);
        let c = self.level_cache[h];
        let lvl = if c != NIL && self.levels.get(c).owner == owner && self.levels.get(c).price == o.price {
            // The level of this price on this side, live or kept empty.
            if self.levels.get(c).count == 0 {
                self.books[b].empty[s] -= 1;
                self.empty_levels -= 1;
            }
            c
        } else {
            let l = self.find_or_add_level(b, o.side(), o.price);
            self.level_cache[h] = l;
            l
        };
        let l = self.levels.get_mut(lvl);
        let tail = l.tail;
        l.tail = slot;
        if tail == NIL {
            l.head = slot;
        }
        l.count += 1;
        l.shown += o_shown;
        l.total += o.leaves;
        let shown = l.shown;
        if tail != NIL {
            self.orders.get_mut(tail).next = slot;
        }
        let n = self.orders.get_mut(slot);
        n.prev = tail;
        n.next = NIL;
        n.level = lvl;
        self.emit(
            out,
            EventKind::LevelChanged {
                sym: SymbolId(u32::from(o.sym)),
                side: o.side(),
                price: Price::from_ticks(o.price),
                qty: Qty::from_lots(shown),
            },
        );
    }

    /// The level of `price` on book `b`'s `side`, found by binary search
    /// (an empty level kept there comes back into use), else a new one:
    /// an empty neighbour takes the price if there is one, else empty
    /// levels make room before a vector would grow, else it is inserted.
    #[inline]
    fn find_or_add_level(&mut self, b: usize, side: Side, price: i64) -> u32 {
        let book = &mut self.books[b];
        let key = side_key(side, price);
        let s = side as usize;
        let mut found = book.find(side, key);
        if let Err(i) = found {
            if book.empty[s] > 0 {
                // An empty level right next to where the new one goes can
                // take its price: the order of keys holds (it lies between
                // the same neighbours) and nothing shifts.
                let v = &book.sides[s];
                let next_empty = i < v.len() && self.levels.get(v[i].level).count == 0;
                let j = if next_empty {
                    Some(i)
                } else if i > 0 && self.levels.get(v[i - 1].level).count == 0 {
                    Some(i - 1)
                } else {
                    None
                };
                if let Some(j) = j {
                    let r = &mut book.sides[s][j];
                    r.key = key;
                    self.levels.get_mut(r.level).price = price;
                    found = Ok(j);
                }
            }
        }
        if found.is_err() && self.empty_levels > 0 {
            let v = &book.sides[s];
            if v.len() == v.capacity() || self.levels.is_full() {
                // Empty levels make room before anything grows.
                self.reclaim_empty_levels();
                found = self.books[b].find(side, key);
            }
        }
        let book = &mut self.books[b];
        match found {
            Ok(i) => {
                let l = book.sides[s][i].level;
                if self.levels.get(l).count == 0 {
                    book.empty[s] -= 1;
                    self.empty_levels -= 1;
                }
                l
            }
            Err(i) => {
                let l = self.levels.alloc(price, level_owner(b, side));
                book.sides[s].insert(i, LevelRef { key, level: l });
                l
            }
        }
    }

    /// Unlinks the head order of a level during matching; the matching loop
    /// removes the level itself when it empties.
    #[inline]
    fn pop_head(&mut self, lvl: u32, head: u32) {
        let next = self.orders.get(head).next;
        let l = self.levels.get_mut(lvl);
        l.head = next;
        l.count -= 1;
        if next == NIL {
            l.tail = NIL;
        } else {
            self.orders.get_mut(next).prev = NIL;
        }
    }

    /// Takes a working order out of its level (the order stays allocated);
    /// removes the level when it empties. Returns the level's new shown
    /// aggregate.
    fn unlink_level(&mut self, slot: u32) -> i64 {
        let o = *self.orders.get(slot);
        let o_shown = self.orders.shown(slot);
        if o.prev != NIL {
            self.orders.get_mut(o.prev).next = o.next;
        }
        if o.next != NIL {
            self.orders.get_mut(o.next).prev = o.prev;
        }
        let l = self.levels.get_mut(o.level);
        if l.head == slot {
            l.head = o.next;
        }
        if l.tail == slot {
            l.tail = o.prev;
        }
        l.count -= 1;
        l.shown -= o_shown;
        l.total -= o.leaves;
        let (count, shown) = (l.count, l.shown);
        let lvl = o.level;
        let n = self.orders.get_mut(slot);
        n.prev = NIL;
        n.next = NIL;
        n.level = NIL;
        if count == 0 {
            self.level_emptied(o.sym as usize, o.side(), lvl);
        }
        shown
    }

    /// A level of book `b` on `side` has no orders left: the top one goes
    /// (with the empty levels right below it), another stays, empty, until
    /// the side has more empty levels than live ones (see [`Book::sides`]).
    #[inline]
    fn level_emptied(&mut self, b: usize, side: Side, lvl: u32) {
        let s = side as usize;
        let book = &mut self.books[b];
        if book.sides[s].last().is_some_and(|r| r.level == lvl) {
            return self.pop_top_level(b, side);
        }
        book.empty[s] += 1;
        self.empty_levels += 1;
        let live = book.sides[s].len() as u32 - book.empty[s];
        if book.empty[s] > live.max(KEEP_EMPTY_LEVELS) {
            self.compact_side(b, side);
        }
    }

    /// Removes the (empty) top level of `side` and the empty levels below it.
    #[inline]
    fn pop_top_level(&mut self, b: usize, side: Side) {
        let s = side as usize;
        let book = &mut self.books[b];
        if let Some(r) = book.sides[s].pop() {
            self.levels.release(r.level);
        }
        while book.empty[s] > 0 {
            let Some(&r) = book.sides[s].last() else { break };
            if self.levels.get(r.level).count != 0 {
                break;
            }
            book.sides[s].pop();
            book.empty[s] -= 1;
            self.empty_levels -= 1;
            self.levels.release(r.level);
        }
    }

    /// Drops every empty level of a side: O(levels), once per as many
    /// emptied levels.
    #[cold]
    #[inline(never)]
    fn compact_side(&mut self, b: usize, side: Side) {
        let s = side as usize;
        let levels = &mut self.levels;
        let book = &mut self.books[b];
        book.sides[s].retain(|r| {
            let keep = levels.get(r.level).count != 0;
            if !keep {
                levels.release(r.level);
            }
            keep
        });
        self.empty_levels -= book.empty[s];
        book.empty[s] = 0;
    }

    /// Drops the empty levels of every side that keeps some.
    #[cold]
    #[inline(never)]
    fn reclaim_empty_levels(&mut self) {
        for b in 0..self.books.len() {
            for side in [Side::Buy, Side::Sell] {
                if self.books[b].empty[side as usize] > 0 {
                    self.compact_side(b, side);
                }
            }
        }
    }

    #[inline]
    fn link_account(&mut self, slot: u32) {
        let acct = self.orders.get(slot).acct as usize;
        let a = &mut self.accounts[acct];
        let tail = a.tail;
        a.tail = slot;
        if tail == NIL {
            a.head = slot;
        }
        a.open += 1;
        if tail != NIL {
            self.orders.get_mut(tail).acct_next = slot;
        }
        let o = self.orders.get_mut(slot);
        o.acct_prev = tail;
        o.acct_next = NIL;
    }

    /// Forgets a working order that is no longer in a level, the stop book
    /// or a held list: account list, id map, arena slot.
    #[inline]
    fn close(&mut self, slot: u32) {
        let o = *self.orders.get(slot);
        if o.acct_prev != NIL {
            self.orders.get_mut(o.acct_prev).acct_next = o.acct_next;
        }
        if o.acct_next != NIL {
            self.orders.get_mut(o.acct_next).acct_prev = o.acct_prev;
        }
        let a = &mut self.accounts[o.acct as usize];
        if a.head == slot {
            a.head = o.acct_next;
        }
        if a.tail == slot {
            a.tail = o.acct_prev;
        }
        a.open -= 1;
        if o.flags & FLAG_GTD != 0 {
            self.gtd_live -= 1;
        }
        if o.leaves != 0 {
            self.open_change(slot, -o.leaves);
        }
        self.live.remove(hash_key(o.acct, o.clid), slot);
        self.orders.release(slot);
    }

    // -----------------------------------------------------------------
    // Stops
    // -----------------------------------------------------------------

    /// Whether a stop on `side` at `stop` triggers at last price `last`.
    #[inline]
    fn stop_hit(side: Side, stop: i64, last: i64) -> bool {
        last != 0
            && match side {
                Side::Buy => last >= stop,
                Side::Sell => last <= stop,
            }
    }

    /// A new (or re-priced) stop: triggers at once if the last price
    /// already reached it, else waits in the stop book.
    #[cold]
    #[inline(never)]
    fn place_stop(&mut self, slot: u32, out: &mut impl EventSink) {
        let o = *self.orders.get(slot);
        let b = o.sym as usize;
        let last = self.books[b].last;
        if Self::stop_hit(o.side(), self.orders.aux(slot).stop, last) && !self.books[b].halted {
            self.pending.push((slot, last));
            self.drain_pending(b, out);
        } else {
            self.add_stop(slot);
        }
    }
    #[cold]
    #[inline(never)]
    fn add_stop(&mut self, slot: u32) {
        let arrival = self.next_arrival;
        self.next_arrival += 1;
        let aux = self.orders.aux_mut(slot);
        aux.arrival = arrival;
        let stop = aux.stop;
        let o = self.orders.get_mut(slot);
        o.flags |= FLAG_STOP;
        let (side, b) = (o.side(), o.sym as usize);
        let key = stop_key(side, stop);
        let book = &mut self.books[b];
        let i = match book.find_stop(side, key) {
            Ok(i) => i,
            Err(i) => {
                book.stops[side as usize].insert(i, StopLevel { key, head: NIL, tail: NIL });
                i
            }
        };
        // To the back of its stop price.
        let l = &mut book.stops[side as usize][i];
        let tail = l.tail;
        l.tail = slot;
        if tail == NIL {
            l.head = slot;
        }
        self.link_after(tail, slot);
        self.off_book += 1;
    }
    #[cold]
    #[inline(never)]
    fn unlink_stop(&mut self, slot: u32) {
        let stop = self.orders.aux(slot).stop;
        let o = self.orders.get_mut(slot);
        o.flags &= !FLAG_STOP;
        let (prev, next) = (o.prev, o.next);
        o.prev = NIL;
        o.next = NIL;
        let (side, b) = (o.side(), o.sym as usize);
        if prev != NIL {
            self.orders.get_mut(prev).next = next;
        }
        if next != NIL {
            self.orders.get_mut(next).prev = prev;
        }
        let book = &mut self.books[b];
        let found = book.find_stop(side, stop_key(side, stop));
        debug_assert!(found.is_ok(), "waiting stop's price missing from the stop book");
        if let Ok(i) = found {
            let v = &mut book.stops[side as usize];
            let l = &mut v[i];
            if l.head == slot {
                l.head = next;
            }
            if l.tail == slot {
                l.tail = prev;
            }
            if l.head == NIL {
                v.remove(i);
            }
        }
        self.off_book -= 1;
    }

    /// After an execution in book `b`: moves the stops its prints reached
    /// to the pending queue and runs them (and those they trigger).
    #[inline]
    fn run_stops(&mut self, b: usize, out: &mut impl EventSink) {
        if self.print_hi == 0 {
            return;
        }
        let book = &self.books[b];
        if book.stops[0].is_empty() && book.stops[1].is_empty() {
            self.print_hi = 0;
            self.print_lo = 0;
            return;
        }
        self.collect_triggered(b);
        self.drain_pending(b, out);
    }

    /// Moves the stops reached by the current execution's prints to the
    /// pending queue: buys by ascending stop, then sells by descending stop,
    /// each then by arrival.
    #[cold]
    #[inline(never)]
    fn collect_triggered(&mut self, b: usize) {
        let (lo, hi) = (self.print_lo, self.print_hi);
        self.print_lo = 0;
        self.print_hi = 0;
        if hi == 0 || self.books[b].halted {
            return;
        }
        while let Some(&l) = self.books[b].stops[0].last() {
            if -l.key > hi {
                break;
            }
            self.books[b].stops[0].pop();
            self.trigger_price(l.head, hi);
        }
        while let Some(&l) = self.books[b].stops[1].last() {
            if l.key < lo {
                break;
            }
            self.books[b].stops[1].pop();
            self.trigger_price(l.head, lo);
        }
    }

    /// Moves the stops of one stop price, taken out of the stop book with
    /// their FIFO starting at `head`, to the pending queue in arrival order.
    fn trigger_price(&mut self, head: u32, px: i64) {
        let mut s = head;
        while s != NIL {
            let o = self.orders.get_mut(s);
            let next = o.next;
            o.flags &= !FLAG_STOP;
            o.prev = NIL;
            o.next = NIL;
            self.off_book -= 1;
            self.pending.push((s, px));
            s = next;
        }
    }
    #[cold]
    #[inline(never)]
    fn drain_pending(&mut self, b: usize, out: &mut impl EventSink) {
        let mut i = 0;
        while i < self.pending.len() {
            let (slot, px) = self.pending[i];
            i += 1;
            self.print_lo = 0;
            self.print_hi = 0;
            self.run_triggered(slot, px, out);
            self.collect_triggered(b);
        }
        self.pending.clear();
    }

    /// A stop triggered at `last`: `triggered`, the pre-trade check again,
    /// then it runs as a market (stop) or limit (stop-limit) order.
    #[cold]
    #[inline(never)]
    fn run_triggered(&mut self, slot: u32, last: i64, out: &mut impl EventSink) {
        let o = *self.orders.get(slot);
        let oref = self.order_ref(slot);
        let sym = SymbolId(u32::from(o.sym));
        self.emit(out, EventKind::Triggered { order: oref, sym, last: Price::from_ticks(last) });
        if self.killed(o.acct, u32::from(o.sym), o.side(), o.leaves) {
            self.close(slot);
            return self.reject(out, oref, CmdKind::New, RejectReason::KillSwitch);
        }
        let ord_type = if o.ord_type() == OrdType::Stop { OrdType::Market } else { OrdType::Limit };
        // It stops waiting: off the open orders (the node's leaves go to 0
        // until it rests), and checked as the order it becomes.
        self.open_change(slot, -o.leaves);
        self.orders.get_mut(slot).leaves = 0;
        let (chk, _) = self.order_check(
            CheckKind::Triggered,
            o.acct,
            u32::from(o.sym),
            o.side(),
            ord_type,
            o.tif(),
            if ord_type == OrdType::Market { 0 } else { o.price },
            0,
            o.leaves,
            0,
            0,
            o.pos,
        );
        if let Err(r) = self.check.check_new(self.now, &chk) {
            self.close(slot);
            return self.reject(out, oref, CmdKind::New, r);
        }
        let aux = *self.orders.aux(slot);
        let x = Exec {
            oref,
            sym,
            side: o.side(),
            ord_type,
            tif: o.tif(),
            price: o.price,
            qty: o.leaves,
            flags: o.flags,
            display: aux.display,
            expire: aux.expire,
            known: UNKNOWN,
        };
        self.execute(&x, slot, out);
    }

    // -----------------------------------------------------------------
    // Held orders (auctions)
    // -----------------------------------------------------------------

    #[inline]
    fn auction_of(tif: Tif) -> usize {
        if tif == Tif::Cls {
            AuctionKind::Close as usize
        } else {
            AuctionKind::Open as usize
        }
    }

    /// Links `slot` as the new tail of an intrusive `prev`/`next` list
    /// after `tail` (`NIL`: the list was empty); the caller moves the list's
    /// own head and tail.
    #[inline]
    fn link_after(&mut self, tail: u32, slot: u32) {
        if tail != NIL {
            self.orders.get_mut(tail).next = slot;
        }
        let n = self.orders.get_mut(slot);
        n.prev = tail;
        n.next = NIL;
    }

    /// Appends an OPG/CLS order to its auction's held list.
    #[cold]
    #[inline(never)]
    fn hold(&mut self, slot: u32) {
        let o = *self.orders.get(slot);
        let list = &mut self.books[o.sym as usize].held[Self::auction_of(o.tif())];
        let tail = list.tail;
        list.tail = slot;
        if tail == NIL {
            list.head = slot;
        }
        self.link_after(tail, slot);
        self.orders.get_mut(slot).flags |= FLAG_HELD;
        self.off_book += 1;
    }
    #[cold]
    #[inline(never)]
    fn unlink_held(&mut self, slot: u32) {
        let o = *self.orders.get(slot);
        if o.prev != NIL {
            self.orders.get_mut(o.prev).next = o.next;
        }
        if o.next != NIL {
            self.orders.get_mut(o.next).prev = o.prev;
        }
        let list = &mut self.books[o.sym as usize].held[Self::auction_of(o.tif())];
        if list.head == slot {
            list.head = o.next;
        }
        if list.tail == slot {
            list.tail = o.prev;
        }
        let n = self.orders.get_mut(slot);
        n.prev = NIL;
        n.next = NIL;
        n.flags &= !FLAG_HELD;
        self.off_book -= 1;
    }

    // -----------------------------------------------------------------
    // Cancel, expiry, replace
    // -----------------------------------------------------------------

    fn find_live(&self, acct: AccountId, clid: ClientOrderId) -> Option<u32> {
        let orders = &self.orders;
        self.live.get(hash_key(acct.0, clid.0), |s| {
            let o = orders.get(s);
            o.acct == acct.0 && o.clid == clid.0
        })
    }

    /// Finds a working order or says why not.
    #[inline]
    fn lookup(&self, acct: AccountId, clid: ClientOrderId) -> Result<u32, RejectReason> {
        let Some(a) = self.accounts.get(acct.0 as usize) else {
            return Err(RejectReason::UnknownAccount);
        };
        match self.find_live(acct, clid) {
            Some(s) => Ok(s),
            None if a.used.contains(clid.0) => Err(RejectReason::OrderNotWorking),
            None => Err(RejectReason::UnknownOrder),
        }
    }

    fn order_ref(&self, slot: u32) -> OrderRef {
        let o = self.orders.get(slot);
        OrderRef { acct: AccountId(o.acct), clid: ClientOrderId(o.clid), id: OrderId(o.id) }
    }

    /// Removes a working order wherever it is (level, stop book, held list)
    /// and emits `cancelled` with `reason` (or `expired` for `None`), then
    /// the level update if it was in a level.
    #[inline]
    fn drop_slot(&mut self, slot: u32, reason: Option<CancelReason>, out: &mut impl EventSink) {
        let o = *self.orders.get(slot);
        let oref = self.order_ref(slot);
        let shown = if o.flags & FLAG_STOP != 0 {
            self.unlink_stop(slot);
            None
        } else if o.flags & FLAG_HELD != 0 {
            self.unlink_held(slot);
            None
        } else {
            Some(self.unlink_level(slot))
        };
        self.close(slot);
        let sym = SymbolId(u32::from(o.sym));
        let qty = Qty::from_lots(o.leaves);
        match reason {
            Some(reason) => self.emit(out, EventKind::Cancelled { order: oref, sym, qty, reason }),
            None => self.emit(out, EventKind::Expired { order: oref, sym, qty }),
        }
        if let Some(shown) = shown {
            self.emit(
                out,
                EventKind::LevelChanged {
                    sym,
                    side: o.side(),
                    price: Price::from_ticks(o.price),
                    qty: Qty::from_lots(shown),
                },
            );
        }
    }

    /// Drops the expiry entries of orders no longer working.
    #[cold]
    fn sweep_expiries(&mut self) {
        let orders = &self.orders;
        self.expiries.retain(|Reverse((_, id, slot))| {
            let o = orders.get(*slot);
            o.id == *id && o.flags & FLAG_GTD != 0
        });
    }

    /// Expires the GTD orders whose expiry the clock reached.
    #[cold]
    fn expire_due(&mut self, out: &mut impl EventSink) {
        while let Some(&Reverse((t, id, slot))) = self.expiries.peek() {
            if t > self.now.0 {
                break;
            }
            self.expiries.pop();
            let o = self.orders.get(slot);
            if o.id == id && o.flags & FLAG_GTD != 0 {
                self.drop_slot(slot, None, out);
            }
        }
    }

    #[inline]
    fn on_cancel(&mut self, c: &CancelOrder, out: &mut impl EventSink) {
        match self.lookup(c.acct, c.clid) {
            Ok(slot) => self.drop_slot(slot, Some(CancelReason::Requested), out),
            Err(r) => {
                let oref = OrderRef { acct: c.acct, clid: c.clid, id: OrderId(0) };
                self.reject(out, oref, CmdKind::Cancel, r);
            }
        }
    }
    #[cold]
    #[inline(never)]
    fn on_mass_cancel(&mut self, m: &MassCancel, out: &mut impl EventSink) {
        let Some(a) = self.accounts.get(m.acct.0 as usize) else {
            let oref = OrderRef { acct: m.acct, clid: ClientOrderId(0), id: OrderId(0) };
            return self.reject(out, oref, CmdKind::MassCancel, RejectReason::UnknownAccount);
        };
        if let Some(sym) = m.sym {
            if sym.0 as usize >= self.instruments.len() {
                let oref = OrderRef { acct: m.acct, clid: ClientOrderId(0), id: OrderId(0) };
                return self.reject(out, oref, CmdKind::MassCancel, RejectReason::UnknownSymbol);
            }
        }
        let mut s = a.head;
        while s != NIL {
            let o = self.orders.get(s);
            let next = o.acct_next;
            if m.sym.is_none_or(|sym| sym.0 == u32::from(o.sym)) {
                self.drop_slot(s, Some(CancelReason::MassCancel), out);
            }
            s = next;
        }
    }

    fn on_replace(&mut self, r: &ReplaceStop, stop_cmd: bool, out: &mut impl EventSink) {
        let reject_ref = OrderRef { acct: r.acct, clid: r.clid, id: OrderId(0) };
        let slot = match self.lookup(r.acct, r.clid) {
            Ok(s) => s,
            Err(e) => return self.reject(out, reject_ref, CmdKind::Replace, e),
        };
        let o = *self.orders.get(slot);
        let oref = self.order_ref(slot);
        let waiting = o.flags & FLAG_STOP != 0;
        let held = o.flags & FLAG_HELD != 0;
        let no_price = matches!(o.ord_type(), OrdType::Market | OrdType::Stop);
        let old_stop = if waiting { self.orders.aux(slot).stop } else { 0 };
        let new_price = if r.price.is_none() { o.price } else { r.price.ticks() };
        let new_stop = if r.stop_price.is_none() { old_stop } else { r.stop_price.ticks() };
        let old_filled = self.orders.filled(slot);
        let old_total = old_filled + o.leaves;
        let new_total = if r.qty.is_zero() { old_total } else { r.qty.lots() };
        let invalid = if stop_cmd && !r.stop_price.is_none() && !waiting {
            Some(RejectReason::InvalidOrderType)
        } else if no_price && !r.price.is_none() {
            Some(RejectReason::PriceNotAllowed)
        } else if !no_price && new_price <= 0 {
            Some(RejectReason::InvalidPrice)
        } else if new_price > MAX_PRICE_TICKS {
            Some(RejectReason::PriceTooLarge)
        } else if waiting && new_stop <= 0 {
            Some(RejectReason::InvalidPrice)
        } else if new_stop > MAX_PRICE_TICKS {
            Some(RejectReason::PriceTooLarge)
        } else if new_total < 0 {
            Some(RejectReason::InvalidQty)
        } else if new_total > MAX_QTY_LOTS {
            Some(RejectReason::QtyTooLarge)
        } else if new_total <= old_filled {
            Some(RejectReason::QtyNotAboveFilled)
        } else if o.flags & FLAG_RESERVE != 0
            && new_total - old_filled > self.orders.aux(slot).display * MAX_RESERVE_PARTS
        {
            Some(RejectReason::InvalidQty)
        } else {
            None
        };
        if let Some(e) = invalid {
            return self.reject(out, oref, CmdKind::Replace, e);
        }
        let new_leaves = new_total - old_filled;
        let sym = SymbolId(u32::from(o.sym));
        let b = o.sym as usize;
        if self.books[b].halted {
            return self.reject(out, oref, CmdKind::Replace, RejectReason::SymbolHalted);
        }
        if self.killed(o.acct, u32::from(o.sym), o.side(), new_leaves) {
            return self.reject(out, oref, CmdKind::Replace, RejectReason::KillSwitch);
        }
        let in_book = !waiting && !held;
        let crossing = in_book && new_price != o.price && self.would_cross(sym, o.side(), new_price);
        if crossing && o.flags & FLAG_POST_ONLY != 0 {
            return self.reject(out, oref, CmdKind::Replace, RejectReason::PostOnlyWouldTake);
        }
        // The check runs last: a replace it passes goes through.
        let old_value_px = self.value_px(slot);
        let (chk, known) = self.order_check(
            CheckKind::Replace,
            o.acct,
            u32::from(o.sym),
            o.side(),
            o.ord_type(),
            o.tif(),
            if no_price { 0 } else { new_price },
            if o.ord_type() == OrdType::Stop { new_stop } else { 0 },
            new_leaves,
            o.leaves,
            old_value_px,
            o.pos,
        );
        if let Err(e) = self.check.check_replace(self.now, &chk) {
            return self.reject(out, oref, CmdKind::Replace, e);
        }
        self.emit(
            out,
            EventKind::Replaced {
                order: oref,
                sym,
                price: Price::from_ticks(new_price),
                qty: Qty::from_lots(new_total),
                leaves: Qty::from_lots(new_leaves),
                stop: Price::from_ticks(new_stop),
            },
        );
        let keeps_priority = new_price == o.price && new_stop == old_stop && new_total <= old_total;
        if waiting || held {
            return self.replace_off_book(slot, keeps_priority, new_price, new_stop, new_leaves, out);
        }
        if keeps_priority {
            // Same price, not more: reduce in place, priority kept; a reserve
            // order loses hidden quantity first.
            if new_total == old_total {
                return;
            }
            let cut = o.leaves - new_leaves;
            let value_px = self.value_px(slot);
            self.open_adjust_known(slot, known, -cut, -i128::from(value_px) * i128::from(cut));
            let was_shown = self.orders.shown(slot);
            self.orders.get_mut(slot).leaves = new_leaves;
            let shown = was_shown.min(new_leaves);
            let cut_shown = was_shown - shown;
            self.orders.set_shown(slot, shown);
            let l = self.levels.get_mut(o.level);
            l.shown -= cut_shown;
            l.total -= cut;
            let shown = l.shown;
            return self.emit(
                out,
                EventKind::LevelChanged {
                    sym,
                    side: o.side(),
                    price: Price::from_ticks(o.price),
                    qty: Qty::from_lots(shown),
                },
            );
        }
        // Price change or more quantity: priority lost, to the back of the new level.
        let shown = self.unlink_level(slot);
        self.emit(
            out,
            EventKind::LevelChanged {
                sym,
                side: o.side(),
                price: Price::from_ticks(o.price),
                qty: Qty::from_lots(shown),
            },
        );
        if !crossing {
            // Into the new level, its open quantity moved in one step.
            let shown = self.shown_for(slot, o.flags, new_leaves);
            let n = self.orders.get_mut(slot);
            n.price = new_price;
            n.leaves = new_leaves;
            self.orders.set_shown(slot, shown);
            let moved = i128::from(new_price) * i128::from(new_leaves) - i128::from(o.price) * i128::from(o.leaves);
            self.open_adjust_known(slot, known, new_leaves - o.leaves, moved);
            self.rest(slot, out);
            return self.run_stops(b, out);
        }
        self.replace_crossing(slot, oref, new_price, new_total, new_leaves, out);
    }

    /// The rest of [`Engine::on_replace`] for a waiting stop or an order
    /// held for an auction: in place when nothing but a lower quantity,
    /// else to the back of its stop price or of the held list (a stop may
    /// then trigger at once).
    #[cold]
    #[inline(never)]
    fn replace_off_book(
        &mut self,
        slot: u32,
        keeps_priority: bool,
        new_price: i64,
        new_stop: i64,
        new_leaves: i64,
        out: &mut impl EventSink,
    ) {
        let o = *self.orders.get(slot);
        let waiting = o.flags & FLAG_STOP != 0;
        self.open_change(slot, -o.leaves);
        if !keeps_priority {
            if waiting {
                self.unlink_stop(slot);
            } else {
                self.unlink_held(slot);
            }
        }
        let n = self.orders.get_mut(slot);
        n.price = new_price;
        n.leaves = new_leaves;
        self.orders.set_shown(slot, new_leaves);
        if waiting {
            self.orders.aux_mut(slot).stop = new_stop;
        }
        self.open_change(slot, new_leaves);
        if !keeps_priority {
            if waiting {
                self.place_stop(slot, out);
            } else {
                self.hold(slot);
            }
        }
    }

    /// The rest of [`Engine::on_replace`] for a book order whose new price
    /// crosses (already out of its level): its open quantity leaves, it
    /// trades as a taker, and what is left rests at the new price.
    #[inline(never)]
    fn replace_crossing(
        &mut self,
        slot: u32,
        oref: OrderRef,
        new_price: i64,
        new_total: i64,
        new_leaves: i64,
        out: &mut impl EventSink,
    ) {
        let o = *self.orders.get(slot);
        let old_filled = self.orders.filled(slot);
        let sym = SymbolId(u32::from(o.sym));
        self.open_change(slot, -o.leaves);
        let mut t = Taker {
            oref,
            side: o.side(),
            limit: new_price,
            price: Price::from_ticks(new_price),
            leaves: new_leaves,
            total: new_total,
            filled: 0,
            stp: self.accounts[o.acct as usize].spec.stp,
            touched: false,
        };
        self.take(sym, &mut t, out);
        let shown = self.shown_for(slot, o.flags, t.leaves);
        let n = self.orders.get_mut(slot);
        n.price = new_price;
        n.leaves = t.leaves;
        self.orders.set_shown(slot, shown);
        self.orders.set_filled(slot, old_filled + t.filled);
        if t.leaves == 0 {
            self.close(slot);
        } else {
            self.open_change(slot, t.leaves);
            self.rest(slot, out);
        }
        self.run_stops(o.sym as usize, out);
    }

    // -----------------------------------------------------------------
    // Admin and market data
    // -----------------------------------------------------------------
    #[cold]
    #[inline(never)]
    fn on_halt(&mut self, sym: SymbolId, halt: bool, out: &mut impl EventSink) {
        match self.books.get_mut(sym.0 as usize) {
            Some(b) => {
                b.halted = halt;
                self.emit(out, EventKind::TradingStatus { sym, halted: halt });
            }
            None => self.admin_reject(out, AccountId(0), RejectReason::UnknownSymbol),
        }
    }

    /// Cancels every working order of an account, oldest first.
    #[cold]
    #[inline(never)]
    fn cancel_account(&mut self, acct: usize, reason: CancelReason, out: &mut impl EventSink) {
        let mut s = self.accounts[acct].head;
        while s != NIL {
            let next = self.orders.get(s).acct_next;
            self.drop_slot(s, Some(reason), out);
            s = next;
        }
    }
    #[cold]
    #[inline(never)]
    fn on_kill(&mut self, k: &KillSwitch, out: &mut impl EventSink) {
        let state = if k.reduce_only { KILL_REDUCE_ONLY } else { KILL_ON };
        match k.acct {
            Some(a) => {
                if a.0 as usize >= self.accounts.len() {
                    return self.admin_reject(out, a, RejectReason::UnknownAccount);
                }
                if self.accounts[a.0 as usize].kill == KILL_OFF {
                    self.kills_on += 1;
                }
                self.accounts[a.0 as usize].kill = state;
                self.cancel_account(a.0 as usize, CancelReason::KillSwitch, out);
            }
            None => {
                self.kill_all = state;
                for a in 0..self.accounts.len() {
                    self.cancel_account(a, CancelReason::KillSwitch, out);
                }
            }
        }
    }
    #[cold]
    #[inline(never)]
    fn on_unkill(&mut self, acct: Option<AccountId>, out: &mut impl EventSink) {
        match acct {
            Some(a) => match self.accounts.get_mut(a.0 as usize) {
                Some(acc) => {
                    if acc.kill != KILL_OFF {
                        self.kills_on -= 1;
                    }
                    acc.kill = KILL_OFF;
                }
                None => self.admin_reject(out, a, RejectReason::UnknownAccount),
            },
            None => {
                self.kill_all = KILL_OFF;
                for a in &mut self.accounts {
                    a.kill = KILL_OFF;
                }
                self.kills_on = 0;
            }
        }
    }

    /// The end of the trading day: every DAY order (resting, waiting stop)
    /// and every OPG/CLS order still held expires, account by account, oldest
    /// first; then each account's used client order ids are forgotten except
    /// those of orders still working.
    #[cold]
    #[inline(never)]
    fn on_session_end(&mut self, out: &mut impl EventSink) {
        for a in 0..self.accounts.len() {
            let mut s = self.accounts[a].head;
            while s != NIL {
                let o = self.orders.get(s);
                let next = o.acct_next;
                if matches!(o.tif(), Tif::Day | Tif::Opg | Tif::Cls) {
                    self.drop_slot(s, None, out);
                }
                s = next;
            }
            let mut ids = std::mem::take(&mut self.scratch_ids);
            ids.clear();
            let mut s = self.accounts[a].head;
            while s != NIL {
                let o = self.orders.get(s);
                ids.push(o.clid);
                s = o.acct_next;
            }
            ids.sort_unstable();
            let used = &mut self.accounts[a].used;
            *used = ClidSet::default();
            for &c in &ids {
                used.insert(c);
            }
            self.scratch_ids = ids;
        }
    }
    #[cold]
    #[inline(never)]
    fn on_quote(&mut self, q: &ExtQuote, out: &mut impl EventSink) {
        let b = q.sym.0 as usize;
        if b >= self.books.len() {
            return self.admin_reject(out, AccountId(0), RejectReason::UnknownSymbol);
        }
        let mut px = [0i64; 2];
        let mut qty = [0i64; 2];
        for (i, (p, l)) in [(q.bid, q.bid_qty), (q.ask, q.ask_qty)].into_iter().enumerate() {
            if p.is_none() || l.is_zero() {
                continue;
            }
            if let Err(e) = Self::validate_price(p.ticks()) {
                return self.admin_reject(out, AccountId(0), e);
            }
            if l.lots() < 0 || l.lots() > MAX_QTY_LOTS {
                return self.admin_reject(out, AccountId(0), RejectReason::InvalidQty);
            }
            px[i] = p.ticks();
            qty[i] = l.lots();
        }
        let mark2 = match (px[0], px[1]) {
            (0, 0) => self.books[b].ext.mark2,
            (0, a) => 2 * a,
            (bid, 0) => 2 * bid,
            (bid, a) => bid + a,
        };
        let old_mark = self.books[b].ext.mark2;
        // A new quote: the liquidity clients took from the last one is back.
        self.books[b].ext = External { px, qty, taken: [0, 0], mark2 };
        if mark2 != old_mark {
            // Taken out for the loop (no allocation) and put back.
            let holders = core::mem::take(&mut self.books[b].holders);
            let unit = self.books[b].unit;
            for &idx in &holders {
                self.remark(idx, &unit, mark2);
            }
            self.books[b].holders = holders;
        }
        if !self.books[b].paper || self.books[b].halted {
            return;
        }
        // Resting orders the quote reached fill at their own limit, up to its size.
        if px[1] != 0 {
            let (ask, avail) = (px[1], qty[1]);
            let used = self.paper_fill_resting(b, Side::Buy, avail, Reach::Quote(ask), out);
            self.books[b].ext.taken[1] += used;
        }
        if px[0] != 0 {
            let (bid, avail) = (px[0], qty[0]);
            let used = self.paper_fill_resting(b, Side::Sell, avail, Reach::Quote(bid), out);
            self.books[b].ext.taken[0] += used;
        }
    }

    /// Paper mode: an aggressor fills at the opposite external quote, up to
    /// what client orders have not taken from it yet.
    #[cold]
    #[inline(never)]
    fn paper_take(&mut self, sym: SymbolId, t: &mut Taker, out: &mut impl EventSink) {
        t.touched = true;
        let b = sym.0 as usize;
        let opp = t.side.opposite();
        let ext = self.books[b].ext;
        let (px, q) = self.fill.take(t.side, t.limit, t.leaves, ext.px[opp as usize], ext.left(opp));
        if q <= 0 || px <= 0 {
            return;
        }
        let q = q.min(t.leaves);
        self.books[b].ext.taken[opp as usize] += q;
        let fee = self.book_fill(t.oref.acct.0, sym.0, t.side, px, q);
        t.leaves -= q;
        t.filled += q;
        let trade_id = TradeId(self.next_trade_id);
        self.next_trade_id += 1;
        self.emit(
            out,
            EventKind::Filled {
                order: t.oref,
                sym,
                side: t.side,
                price: Price::from_ticks(px),
                qty: Qty::from_lots(q),
                leaves: Qty::from_lots(t.leaves),
                liq: Liquidity::Taker,
                trade_id,
                fee,
            },
        );
    }

    /// Paper mode: fills resting orders of `side` that the fill model says
    /// `reach` fills, best price first then time, at the model's price (the
    /// default: their own limit), up to `avail` lots in all; emits the
    /// fills and the level updates. Returns the lots filled.
    #[cold]
    #[inline(never)]
    fn paper_fill_resting(
        &mut self,
        b: usize,
        side: Side,
        mut avail: i64,
        reach: Reach,
        out: &mut impl EventSink,
    ) -> i64 {
        let sym = SymbolId(b as u32);
        let mut used = 0i64;
        while avail > 0 {
            let Some(&top) = self.books[b].sides[side as usize].last() else { break };
            let level_px = key_price(side, top.key);
            let Some(px) = self.fill.reached(side, level_px, reach) else { break };
            let lvl = top.level;
            while avail > 0 {
                let head = self.levels.get(lvl).head;
                if head == NIL {
                    break;
                }
                let q = self.orders.get(head).leaves.min(avail);
                avail -= q;
                used += q;
                let fee = self.fill_working(head, px, q);
                let shown = self.orders.shown(head);
                let m = self.orders.get_mut(head);
                m.leaves -= q;
                let leaves = m.leaves;
                // (`set_shown`, with the flags already at hand.)
                if m.flags & FLAG_RESERVE != 0 {
                    self.orders.aux_mut(head).shown = shown - q;
                }
                if leaves > 0 {
                    self.orders.add_filled(head, q);
                }
                let l = self.levels.get_mut(lvl);
                l.shown -= q;
                l.total -= q;
                let oref = self.order_ref(head);
                let trade_id = TradeId(self.next_trade_id);
                self.next_trade_id += 1;
                self.emit(
                    out,
                    EventKind::Filled {
                        order: oref,
                        sym,
                        side,
                        price: Price::from_ticks(px),
                        qty: Qty::from_lots(q),
                        leaves: Qty::from_lots(leaves),
                        liq: Liquidity::Maker,
                        trade_id,
                        fee,
                    },
                );
                if leaves == 0 {
                    self.pop_head(lvl, head);
                    self.close(head);
                }
            }
            let l = *self.levels.get(lvl);
            self.emit(
                out,
                EventKind::LevelChanged { sym, side, price: Price::from_ticks(level_px), qty: Qty::from_lots(l.shown) },
            );
            if l.count == 0 {
                self.pop_top_level(b, side);
            } else {
                break;
            }
        }
        used
    }

    fn on_print(&mut self, p: &TradePrint, out: &mut impl EventSink) {
        let b = p.sym.0 as usize;
        if b >= self.books.len() {
            return self.admin_reject(out, AccountId(0), RejectReason::UnknownSymbol);
        }
        if let Err(e) = Self::validate_price(p.price.ticks()) {
            return self.admin_reject(out, AccountId(0), e);
        }
        if p.qty.lots() <= 0 {
            return self.admin_reject(out, AccountId(0), RejectReason::InvalidQty);
        }
        self.note_print(b, p.price.ticks());
        if self.books[b].paper && !self.books[b].halted {
            // A print strictly beyond a resting limit fills it at the limit,
            // up to the print's size (at the limit the queue is unknown).
            let px = p.price.ticks();
            let used = self.paper_fill_resting(b, Side::Buy, p.qty.lots(), Reach::Print(px), out);
            self.paper_fill_resting(b, Side::Sell, p.qty.lots() - used, Reach::Print(px), out);
        }
        self.run_stops(b, out);
    }
    #[cold]
    #[inline(never)]
    fn on_auction(&mut self, sym: SymbolId, kind: AuctionKind, out: &mut impl EventSink) {
        let b = sym.0 as usize;
        if b >= self.books.len() {
            return self.admin_reject(out, AccountId(0), RejectReason::UnknownSymbol);
        }
        if self.books[b].paper {
            // The external market runs its own auctions.
            return self.admin_reject(out, AccountId(0), RejectReason::NotSupported);
        }
        let mut parts = std::mem::take(&mut self.parts);
        for side in [Side::Buy, Side::Sell] {
            let v = &mut parts[side as usize];
            v.clear();
            let mut pos = 0u32;
            for r in self.books[b].sides[side as usize].iter().rev() {
                let l = self.levels.get(r.level);
                let mut s = l.head;
                while s != NIL {
                    debug_assert!(v.len() < self.orders.live(), "a level's queue loops");
                    let key = -side_key(side, l.price);
                    v.push(Part { class: 1, key, held: 0, pos, slot: s });
                    pos += 1;
                    s = self.orders.get(s).next;
                }
            }
        }
        let mut s = self.books[b].held[kind as usize].head;
        let mut pos = 0u32;
        while s != NIL {
            debug_assert!((pos as usize) < self.orders.live(), "the held list loops");
            let o = *self.orders.get(s);
            let (class, key) = if o.ord_type() == OrdType::Market { (0, 0) } else { (1, -side_key(o.side(), o.price)) };
            parts[o.side() as usize].push(Part { class, key, held: 1, pos, slot: s });
            pos += 1;
            s = o.next;
        }
        parts[0].sort_unstable();
        parts[1].sort_unstable();
        let price = self.clearing_price(b, &parts);
        if let Some(px) = price {
            self.uncross(sym, px, &parts, out);
        }
        self.parts = parts;
        // Held orders left over are cancelled.
        let mut s = self.books[b].held[kind as usize].head;
        while s != NIL {
            let next = self.orders.get(s).next;
            self.drop_slot(s, Some(CancelReason::AuctionLeftover), out);
            s = next;
        }
        self.run_stops(b, out);
    }

    /// The uncross price: most volume, then least imbalance, then nearest
    /// the reference (or last) price, then the lowest. `None`: nothing trades.
    #[cold]
    #[inline(never)]
    fn clearing_price(&mut self, b: usize, parts: &[Vec<Part>; 2]) -> Option<i64> {
        let mut prices = std::mem::take(&mut self.prices);
        let mut vols = std::mem::take(&mut self.vols);
        prices.clear();
        vols.clear();
        let (mut mkt_buy, mut mkt_sell) = (0i64, 0i64);
        for (side, v) in parts.iter().enumerate() {
            for p in v {
                let leaves = self.orders.get(p.slot).leaves;
                if p.class == 0 {
                    if side == 0 {
                        mkt_buy += leaves;
                    } else {
                        mkt_sell += leaves;
                    }
                } else {
                    prices.push(if side == 0 { -p.key } else { p.key });
                }
            }
        }
        prices.sort_unstable();
        prices.dedup();
        let ins = self.instruments[b];
        let reference = if ins.ref_price.is_none() { self.books[b].last } else { ins.ref_price.ticks() };
        if prices.is_empty() && reference != 0 {
            prices.push(reference);
        }
        // Sell volume at or below each price (ascending walk), buy volume at
        // or above it (descending walk).
        let sells = &parts[1];
        let buys = &parts[0];
        let mut j = sells.iter().position(|p| p.class == 1).unwrap_or(sells.len());
        let mut cum = mkt_sell;
        for &px in &prices {
            while j < sells.len() && sells[j].key <= px {
                cum += self.orders.get(sells[j].slot).leaves;
                j += 1;
            }
            vols.push((0, cum));
        }
        let mut j = buys.iter().position(|p| p.class == 1).unwrap_or(buys.len());
        let mut cum = mkt_buy;
        for (i, &px) in prices.iter().enumerate().rev() {
            while j < buys.len() && -buys[j].key >= px {
                cum += self.orders.get(buys[j].slot).leaves;
                j += 1;
            }
            vols[i].0 = cum;
        }
        let mut best: Option<(i64, i64, i64, i64)> = None; // (px, exec, imbalance, distance)
        for (i, &px) in prices.iter().enumerate() {
            let (bv, sv) = vols[i];
            let exec = bv.min(sv);
            let imb = (bv - sv).abs();
            let dist = if reference == 0 { 0 } else { (px - reference).abs() };
            let better = match best {
                None => true,
                Some((_, e, im, d)) => (exec, -imb, -dist) > (e, -im, -d),
            };
            if better {
                best = Some((px, exec, imb, dist));
            }
        }
        self.prices = prices;
        self.vols = vols;
        best.filter(|&(_, exec, _, _)| exec > 0).map(|(px, _, _, _)| px)
    }

    /// Trades the participants at `px` in priority order.
    #[cold]
    #[inline(never)]
    fn uncross(&mut self, sym: SymbolId, px: i64, parts: &[Vec<Part>; 2], out: &mut impl EventSink) {
        let b = sym.0 as usize;
        let mut touched = std::mem::take(&mut self.touched);
        touched.clear();
        let executable = |side: Side, p: &Part| {
            p.class == 0
                || match side {
                    Side::Buy => -p.key >= px,
                    Side::Sell => p.key <= px,
                }
        };
        let (mut i, mut j) = (0usize, 0usize);
        let (buys, sells) = (&parts[0], &parts[1]);
        while i < buys.len() && j < sells.len() {
            let (pb, ps) = (buys[i], sells[j]);
            if !executable(Side::Buy, &pb) || !executable(Side::Sell, &ps) {
                break;
            }
            let q = self.orders.get(pb.slot).leaves.min(self.orders.get(ps.slot).leaves);
            let (buy, sell) = (self.order_ref(pb.slot), self.order_ref(ps.slot));
            let trade_id = TradeId(self.next_trade_id);
            self.next_trade_id += 1;
            let (price, qty) = (Price::from_ticks(px), Qty::from_lots(q));
            self.emit(out, EventKind::Traded { trade_id, sym, price, qty, buy, sell, aggressor: None });
            for (p, side, oref) in [(pb, Side::Buy, buy), (ps, Side::Sell, sell)] {
                let leaves = self.orders.get(p.slot).leaves - q;
                let fee = self.book_fill(oref.acct.0, sym.0, side, px, q);
                self.emit(
                    out,
                    EventKind::Filled {
                        order: oref,
                        sym,
                        side,
                        price,
                        qty,
                        leaves: Qty::from_lots(leaves),
                        liq: Liquidity::Auction,
                        trade_id,
                        fee,
                    },
                );
                self.auction_fill(p, side, q, &mut touched);
            }
            // A filled participant's slot is released (zero leaves).
            if self.orders.get(pb.slot).leaves == 0 {
                i += 1;
            }
            if self.orders.get(ps.slot).leaves == 0 {
                j += 1;
            }
        }
        if i > 0 || j > 0 || !touched.is_empty() {
            self.note_print(b, px);
        }
        // Level updates: bids best first, then asks (each side's levels were
        // reached best first).
        let bids = touched.iter().filter(|t| t.0 == Side::Buy);
        for &(side, lpx) in bids.chain(touched.iter().filter(|t| t.0 == Side::Sell)) {
            let book = &self.books[b];
            let shown = match book.find(side, side_key(side, lpx)) {
                Ok(k) => self.levels.get(book.sides[side as usize][k].level).shown,
                Err(_) => 0,
            };
            self.emit(
                out,
                EventKind::LevelChanged { sym, side, price: Price::from_ticks(lpx), qty: Qty::from_lots(shown) },
            );
        }
        self.touched = touched;
    }

    /// Applies an auction fill of `q` to a participant.
    #[cold]
    #[inline(never)]
    fn auction_fill(&mut self, p: Part, side: Side, q: i64, touched: &mut Vec<(Side, i64)>) {
        let o = *self.orders.get(p.slot);
        if o.leaves != q {
            self.open_change(p.slot, -q);
        }
        if p.held == 1 {
            if o.leaves == q {
                // Closed with its leaves: `close` takes them off the open orders.
                self.unlink_held(p.slot);
                self.close(p.slot);
                return;
            }
            let n = self.orders.get_mut(p.slot);
            n.leaves -= q;
            let leaves = n.leaves;
            self.orders.set_shown(p.slot, leaves);
            self.orders.add_filled(p.slot, q);
            return;
        }
        if !touched.contains(&(side, o.price)) {
            touched.push((side, o.price));
        }
        if o.leaves == q {
            self.unlink_level(p.slot);
            self.close(p.slot);
            return;
        }
        let display_shown = self.shown_for(p.slot, o.flags, o.leaves - q);
        let was_shown = self.orders.shown(p.slot);
        let n = self.orders.get_mut(p.slot);
        n.leaves -= q;
        let leaves = n.leaves;
        self.orders.add_filled(p.slot, q);
        let shown = if was_shown > q { (was_shown - q).min(leaves) } else { display_shown };
        let shown = if o.flags & FLAG_RESERVE == 0 { leaves } else { shown };
        let delta = was_shown - shown;
        self.orders.set_shown(p.slot, shown);
        let l = self.levels.get_mut(o.level);
        l.shown -= delta;
        l.total -= q;
    }
    /// Positions and funds agree with the working orders and with each other.
    fn validate_money(&self) -> Result<(), String> {
        let mut open = vec![([0i64; 2], [0i128; 2]); self.positions.len()];
        for (i, a) in self.accounts.iter().enumerate() {
            let mut s = a.head;
            while s != NIL {
                let o = self.orders.get(s);
                let idx = self.pos_find(i as u32, u32::from(o.sym)).ok_or(format!("order {} has no position", o.id))?;
                let e = &mut open[idx as usize];
                e.0[o.side() as usize] += o.leaves;
                e.1[o.side() as usize] += i128::from(self.value_px(s)) * i128::from(o.leaves);
                s = o.acct_next;
            }
        }
        let mut sums = vec![(0i128, 0i128, 0i128, 0i128); self.accounts.len()];
        for (k, p) in self.positions.iter().enumerate() {
            if self.pos_find(p.acct, p.sym) != Some(k as u32) {
                return Err(format!("position {k} not found from its account"));
            }
            if !self.books[p.sym as usize].holders.contains(&(k as u32)) {
                return Err(format!("position {k} not among its symbol's holders"));
            }
            if (p.open, p.open_value) != open[k] {
                return Err(format!("position {k}: open {:?}/{:?} vs orders {:?}", p.open, p.open_value, open[k]));
            }
            let unit = &self.books[p.sym as usize].unit;
            if p.mv != self.mark_value(p) || p.expo != Position::exposure(p.qty, p.open, p.open_value, unit) {
                return Err(format!("position {k}: cached mark value or exposure stale"));
            }
            if p.qty == 0 && p.cost != 0 {
                return Err(format!("position {k}: flat with cost {}", p.cost));
            }
            let e = &mut sums[p.acct as usize];
            e.0 += p.mv;
            e.1 += p.mv.abs();
            e.2 += p.expo;
            e.3 += p.realized;
        }
        for (i, a) in self.accounts.iter().enumerate() {
            let f = &a.funds;
            if (f.mv, f.gross, f.expo, f.realized) != sums[i] {
                return Err(format!("account {i}: sums {:?} vs positions {:?}", (f.mv, f.gross, f.expo), sums[i]));
            }
            let cost: i128 = self.positions.iter().filter(|p| p.acct == i as u32).map(|p| p.cost).sum();
            if f.cash + cost != f.start_cash + f.realized - f.fees {
                return Err(format!("account {i}: cash + cost != start + realized - fees"));
            }
        }
        Ok(())
    }

    /// A stable hash of the whole state (FNV-1a over a canonical walk):
    /// counters, every book level by level in price order with its orders in
    /// queue order, its waiting stops and held orders, last price and halt
    /// flag, every account with its settings, kill switch, positions, used
    /// client order ids and its working orders in age order. Two engines
    /// that processed the same inputs have the same hash.
    pub fn state_hash(&self) -> u64 {
        let mut h = Fnv::new();
        h.u64(self.seq);
        h.u64(self.now.0);
        h.u64(self.next_order_id);
        h.u64(self.next_trade_id);
        h.u64(self.next_arrival);
        h.u64(u64::from(self.kill_all));
        for (i, (ins, book)) in self.instruments.iter().zip(&self.books).enumerate() {
            h.u64(i as u64);
            h.u64(ins.tick_units as u64);
            h.u64(ins.lot_size as u64);
            h.u64(u64::from(ins.decimals) | (ins.mode as u64) << 8);
            h.u64(ins.ref_price.ticks() as u64);
            h.u64(book.last as u64);
            h.u64(u64::from(book.halted));
            for (side, empty) in book.sides.iter().zip(book.empty) {
                // Empty levels kept for reuse are not state.
                h.u64((side.len() - empty as usize) as u64);
                for r in side.iter().rev() {
                    let l = self.levels.get(r.level);
                    if l.count == 0 {
                        continue;
                    }
                    h.u64(l.price as u64);
                    h.u64(l.shown as u64);
                    h.u64(l.total as u64);
                    h.u64(u64::from(l.count));
                    let mut s = l.head;
                    while s != NIL {
                        self.hash_order(&mut h, s);
                        s = self.orders.get(s).next;
                    }
                }
            }
            for side in book.stops.iter() {
                // Every stop in (key, latest arrival first) order, after
                // their count.
                let fifo = |l: &StopLevel| {
                    core::iter::successors(Some(l.tail), |&s| Some(self.orders.get(s).prev).filter(|&p| p != NIL))
                };
                h.u64(side.iter().map(|l| fifo(l).count() as u64).sum());
                for l in side.iter() {
                    for s in fifo(l) {
                        h.u64(l.key as u64);
                        h.u64(self.orders.aux(s).arrival);
                        self.hash_order(&mut h, s);
                    }
                }
            }
            for list in book.held.iter() {
                let mut s = list.head;
                while s != NIL {
                    self.hash_order(&mut h, s);
                    s = self.orders.get(s).next;
                }
                h.u64(u64::MAX);
            }
        }
        for a in &self.accounts {
            h.u64(a.spec.stp as u64);
            h.u64(u64::from(a.open));
            h.u64(u64::from(a.kill));
            let f = &a.funds;
            for v in [f.start_cash, f.cash, f.fees, f.realized, f.mv, f.gross, f.expo, i128::from(f.leverage)] {
                h.u64(v as u64);
                h.u64((v >> 64) as u64);
            }
            h.u64(a.spec.fees.per_share.micros() as u64);
            h.u64(a.spec.fees.centi_bps as u64);
            for &(sym, idx) in a.pos_inline.iter().take_while(|e| e.0 != u32::MAX).chain(&a.positions) {
                let p = &self.positions[idx as usize];
                h.u64(u64::from(sym));
                let q = [p.qty, p.open[0], p.open[1]].map(i128::from);
                for v in q.into_iter().chain([p.cost, p.realized, p.open_value[0], p.open_value[1], p.mv, p.expo]) {
                    h.u64(v as u64);
                    h.u64((v >> 64) as u64);
                }
            }
            for (lo, hi) in a.used.ranges() {
                h.u64(lo);
                h.u64(hi);
            }
            let mut s = a.head;
            while s != NIL {
                let o = self.orders.get(s);
                h.u64(o.id);
                s = o.acct_next;
            }
        }
        h.u64(self.check.state_hash());
        h.finish()
    }

    fn hash_order(&self, h: &mut Fnv, s: u32) {
        let o = self.orders.get(s);
        h.u64(o.id);
        h.u64(o.clid);
        h.u64(o.price as u64);
        h.u64(o.leaves as u64);
        h.u64(self.orders.filled(s) as u64);
        h.u64(self.orders.shown(s) as u64);
        h.u64(u64::from(o.acct) | u64::from(o.sym) << 32);
        // (`FLAG_FILLED` only says where the filled quantity, hashed above, is kept.)
        let flags = o.flags & !FLAG_FILLED;
        h.u64(o.side() as u64 | (o.tif() as u64) << 8 | (o.ord_type() as u64) << 16 | u64::from(flags) << 24);
        if o.flags & (FLAG_RESERVE | FLAG_STOP | FLAG_GTD) != 0 {
            let a = self.orders.aux(s);
            h.u64(a.display as u64);
            h.u64(a.stop as u64);
            h.u64(a.arrival);
            h.u64(a.expire);
        }
    }

    /// Checks every internal invariant; `Err` names the first one broken.
    /// O(state): for tests and debugging, not the hot path.
    pub fn validate(&self) -> Result<(), String> {
        let mut resting = 0usize;
        let mut off_book = 0usize;
        let mut per_acct = vec![0u32; self.accounts.len()];
        if !self.pending.is_empty() || self.print_hi != 0 {
            return Err("pending stops or prints left between inputs".into());
        }
        let kept: u32 = self.books.iter().map(|b| b.empty[0] + b.empty[1]).sum();
        if kept != self.empty_levels {
            return Err(format!("{kept} empty levels kept, {} counted", self.empty_levels));
        }
        // Levels in the books' vectors; no other level may say it is in one.
        let mut owned = 0usize;
        for (b, book) in self.books.iter().enumerate() {
            for side in [Side::Buy, Side::Sell] {
                let v = &book.sides[side as usize];
                for w in v.windows(2) {
                    if w[0].key >= w[1].key {
                        return Err(format!("sym {b} {side:?}: levels not strictly sorted"));
                    }
                }
                let empties = v.iter().filter(|r| self.levels.get(r.level).count == 0).count();
                if empties != book.empty[side as usize] as usize {
                    return Err(format!(
                        "sym {b} {side:?}: {empties} empty levels, {} counted",
                        book.empty[side as usize]
                    ));
                }
                if v.last().is_some_and(|r| self.levels.get(r.level).count == 0) {
                    return Err(format!("sym {b} {side:?}: the top level is empty"));
                }
                for r in v {
                    let l = self.levels.get(r.level);
                    if key_price(side, r.key) != l.price {
                        return Err(format!("sym {b}: level key {} vs price {}", r.key, l.price));
                    }
                    if l.owner != level_owner(b, side) {
                        return Err(format!("sym {b} {side:?}: level {} owned by {}", r.level, l.owner));
                    }
                    owned += 1;
                    if l.count == 0 && l.head == NIL && l.tail == NIL && l.shown == 0 && l.total == 0 {
                        continue;
                    }
                    let (mut n, mut shown, mut total, mut prev) = (0u32, 0i64, 0i64, NIL);
                    let mut s = l.head;
                    while s != NIL {
                        let o = self.orders.get(s);
                        let o_shown = self.orders.shown(s);
                        if o.prev != prev || o.level != r.level || o.price != l.price || o.side() != side {
                            return Err(format!("sym {b}: order {} badly linked", o.id));
                        }
                        if o.sym as usize != b
                            || o.leaves <= 0
                            || o_shown <= 0
                            || o_shown > o.leaves
                            || (o.flags & FLAG_FILLED != 0) != (self.orders.filled(s) > 0)
                        {
                            return Err(format!("sym {b}: order {} bad quantities", o.id));
                        }
                        if o.flags & (FLAG_STOP | FLAG_HELD) != 0 || matches!(o.tif(), Tif::Opg | Tif::Cls) {
                            return Err(format!("sym {b}: order {} in a level is a stop or held", o.id));
                        }
                        if o.flags & FLAG_RESERVE != 0 && o_shown > self.orders.aux(s).display {
                            return Err(format!("sym {b}: reserve order {} shows more than its display", o.id));
                        }
                        if self.find_live(AccountId(o.acct), ClientOrderId(o.clid)) != Some(s) {
                            return Err(format!("order {} missing from the id map", o.id));
                        }
                        per_acct[o.acct as usize] += 1;
                        n += 1;
                        shown += o_shown;
                        total += o.leaves;
                        prev = s;
                        s = o.next;
                    }
                    if n == 0 || n != l.count || prev != l.tail || shown != l.shown || total != l.total {
                        return Err(format!("sym {b} px {}: level aggregates wrong", l.price));
                    }
                    resting += n as usize;
                }
                let stops = &book.stops[side as usize];
                for w in stops.windows(2) {
                    if w[0].key >= w[1].key {
                        return Err(format!("sym {b} {side:?}: stop prices not strictly sorted"));
                    }
                }
                for l in stops {
                    let (mut prev, mut s, mut arrival) = (NIL, l.head, 0);
                    if s == NIL {
                        return Err(format!("sym {b} {side:?}: an empty stop price kept"));
                    }
                    while s != NIL {
                        let o = self.orders.get(s);
                        let a = self.orders.aux(s);
                        if o.prev != prev || a.arrival <= arrival {
                            return Err(format!("sym {b}: waiting stop {} badly linked", o.id));
                        }
                        if o.flags & FLAG_STOP == 0
                            || o.side() != side
                            || o.sym as usize != b
                            || o.level != NIL
                            || !matches!(o.ord_type(), OrdType::Stop | OrdType::StopLimit)
                            || l.key != stop_key(side, a.stop)
                            || o.leaves <= 0
                            || self.orders.filled(s) != 0
                        {
                            return Err(format!("sym {b}: waiting stop {} inconsistent", o.id));
                        }
                        if self.find_live(AccountId(o.acct), ClientOrderId(o.clid)) != Some(s) {
                            return Err(format!("stop {} missing from the id map", o.id));
                        }
                        per_acct[o.acct as usize] += 1;
                        off_book += 1;
                        (prev, s, arrival) = (s, o.next, a.arrival);
                    }
                    if prev != l.tail {
                        return Err(format!("sym {b} {side:?}: a stop price's tail is wrong"));
                    }
                }
            }
            for (k, list) in book.held.iter().enumerate() {
                let (mut prev, mut s) = (NIL, list.head);
                while s != NIL {
                    let o = self.orders.get(s);
                    let want = if k == 0 { Tif::Opg } else { Tif::Cls };
                    if o.prev != prev || o.flags & FLAG_HELD == 0 || o.tif() != want || o.sym as usize != b {
                        return Err(format!("sym {b}: held order {} badly linked", o.id));
                    }
                    if o.level != NIL || o.leaves <= 0 || self.orders.filled(s) != 0 {
                        return Err(format!("sym {b}: held order {} inconsistent", o.id));
                    }
                    if self.find_live(AccountId(o.acct), ClientOrderId(o.clid)) != Some(s) {
                        return Err(format!("held order {} missing from the id map", o.id));
                    }
                    per_acct[o.acct as usize] += 1;
                    off_book += 1;
                    prev = s;
                    s = o.next;
                }
                if prev != list.tail {
                    return Err(format!("sym {b}: held list tail wrong"));
                }
            }
            for (k, e) in [book.ext.px, book.ext.qty, book.ext.taken].iter().zip(["px", "qty", "taken"]) {
                if k.iter().any(|&v| v < 0) {
                    return Err(format!("sym {b}: external {e} negative"));
                }
            }
            if let (Some(bid), Some(ask), false) = (book.sides[0].last(), book.sides[1].last(), book.paper) {
                // Paper books may cross: client orders never trade with each other.
                if bid.key >= -ask.key {
                    return Err(format!("sym {b}: book crossed"));
                }
            }
        }
        for (i, a) in self.accounts.iter().enumerate() {
            if a.positions.windows(2).any(|w| w[0].0 >= w[1].0) {
                return Err(format!("account {i}: positions not sorted by symbol"));
            }
            let used = a.pos_inline.iter().take_while(|e| e.0 != u32::MAX).count();
            if a.pos_inline[used..].iter().any(|e| e.0 != u32::MAX)
                || (!a.positions.is_empty() && used < INLINE_POSITIONS)
                || a.positions.iter().any(|p| a.pos_inline.iter().any(|e| e.0 == p.0))
            {
                return Err(format!("account {i}: inline positions out of order"));
            }
        }
        if self.kills_on as usize != self.accounts.iter().filter(|a| a.kill != KILL_OFF).count() {
            return Err("kill switch count wrong".into());
        }
        if off_book != self.off_book {
            return Err(format!("off-book orders {off_book} vs counter {}", self.off_book));
        }
        if self.levels.owned() != owned {
            return Err(format!("{} levels say they are in a book, {owned} are", self.levels.owned()));
        }
        let working = resting + off_book;
        if working != self.orders.live() || working != self.live.len() {
            return Err(format!("working {working} vs arena {} vs id map {}", self.orders.live(), self.live.len()));
        }
        for (i, a) in self.accounts.iter().enumerate() {
            let (mut n, mut prev, mut s) = (0u32, NIL, a.head);
            while s != NIL {
                let o = self.orders.get(s);
                if o.acct_prev != prev || o.acct as usize != i {
                    return Err(format!("account {i}: order list badly linked"));
                }
                if !a.used.contains(o.clid) {
                    return Err(format!("account {i}: working order {} has a clid not marked used", o.id));
                }
                if o.flags & FLAG_GTD != 0 && o.tif() != Tif::Gtd {
                    return Err(format!("account {i}: order {} flagged GTD", o.id));
                }
                n += 1;
                prev = s;
                s = o.acct_next;
            }
            if n != a.open || n != per_acct[i] || prev != a.tail {
                return Err(format!("account {i}: {n} listed, {} open, {} in books", a.open, per_acct[i]));
            }
        }
        self.validate_money()?;
        // Every working GTD order is due later in the expiry heap, once.
        let mut due = 0usize;
        for e in self.expiries.iter() {
            let Reverse((t, id, slot)) = *e;
            if t <= self.now.0 {
                return Err("an expiry at or before now is still queued".into());
            }
            let o = self.orders.get(slot);
            if o.id == id && o.flags & FLAG_GTD != 0 {
                if self.orders.aux(slot).expire != t {
                    return Err(format!("order {id}: expiry queued at the wrong time"));
                }
                due += 1;
            }
        }
        if due != self.gtd_live {
            return Err(format!("{due} GTD orders queued to expire, {} working", self.gtd_live));
        }
        Ok(())
    }
}

/// FNV-1a, 64 bits, over little-endian words.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn u64(&mut self, v: u64) {
        for b in v.to_le_bytes() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Permissive;

    fn bid(clid: u64, px: i64) -> Input {
        Input::NewOrder(NewOrder {
            acct: AccountId(0),
            clid: ClientOrderId(clid),
            sym: SymbolId(0),
            side: Side::Buy,
            ord_type: OrdType::Limit,
            tif: Tif::Day,
            price: Price::from_ticks(px),
            stop_price: Price::NONE,
            qty: Qty::from_lots(1),
            display: Qty::ZERO,
            expire: Nanos(0),
            post_only: false,
        })
    }

    #[test]
    fn an_empty_neighbour_takes_a_new_price_instead_of_an_insert() {
        let mut e = Engine::new(EngineConfig::default(), Permissive);
        e.add_instrument(Instrument::new("0.01", 1, VenueMode::Clob).unwrap());
        e.add_account(AccountSpec::default());
        let mut out = Vec::new();
        for (t, i) in [bid(1, 100), bid(2, 98), bid(3, 96)].iter().enumerate() {
            e.process(Nanos(t as u64 + 1), i, &mut out);
        }
        let cancel = Input::CancelOrder(CancelOrder { acct: AccountId(0), clid: ClientOrderId(2) });
        e.process(Nanos(10), &cancel, &mut out);
        assert_eq!((e.books[0].sides[0].len(), e.books[0].empty[0]), (3, 1));
        // 97 lands next to the empty 98: it takes that entry.
        e.process(Nanos(11), &bid(4, 97), &mut out);
        assert_eq!((e.books[0].sides[0].len(), e.books[0].empty[0]), (3, 0));
        e.validate().unwrap();
        // 99 next to no empty level: a plain insert.
        e.process(Nanos(12), &bid(5, 99), &mut out);
        assert_eq!((e.books[0].sides[0].len(), e.books[0].empty[0]), (4, 0));
        e.validate().unwrap();
    }
}
