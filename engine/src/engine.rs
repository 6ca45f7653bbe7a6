//! The engine state machine: `Engine<R: PreTradeCheck>::process(time, input, sink)`.
//!
//! Sans-IO and deterministic: no clock, no randomness, no threads, no hash
//! map iteration. Each input gets the next sequence number and the engine
//! time `max(previous, time)`; GTD orders whose expiry the clock reached
//! expire first, then the input runs; the events it causes go to the
//! caller's sink.
//!
//! Complexity per command: new order O(log levels + fills), cancel O(1)
//! expected plus O(log levels) when a level empties (O(log stops) plus a
//! vector shift for a waiting stop), replace as cancel plus new, mass cancel
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

use crate::book::*;
use crate::check::{CheckKind, OrderCheck, PreTradeCheck};
use crate::event::*;
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountSpec {
    /// Self-trade prevention mode.
    pub stp: StpMode,
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
    /// Net position in lots (buys minus sells) of the account's orders no
    /// longer working, per symbol it has traded, as `(symbol, lots)`: the
    /// first [`INLINE_POSITIONS`] symbols in first-traded order inline (on
    /// the account's own cache lines, which closing an order touches
    /// anyway; `u32::MAX` marks a free entry), further ones in `positions`,
    /// sorted by symbol. An order's fills are folded in when it closes, so a
    /// fill touches no position. The position is this plus the signed
    /// filled quantity of the account's working orders in the symbol.
    pos_inline: [(u32, i64); INLINE_POSITIONS],
    positions: Vec<(u32, i64)>,
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
}

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

/// The matching engine.
pub struct Engine<R: PreTradeCheck> {
    check: R,
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
    orders: Arena,
    levels: Levels,
    live: LiveMap,
    /// Working orders not in a level (waiting stops and held OPG/CLS).
    off_book: usize,
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

#[inline]
fn signed(side: Side, q: i64) -> i64 {
    match side {
        Side::Buy => q,
        Side::Sell => -q,
    }
}

impl<R: PreTradeCheck> Engine<R> {
    /// An empty engine with the given check.
    pub fn new(config: EngineConfig, check: R) -> Self {
        Engine {
            check,
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
            orders: Arena::with_capacity(config.order_capacity),
            levels: Levels::new(),
            live: LiveMap::with_capacity(config.order_capacity),
            off_book: 0,
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
    pub fn add_instrument(&mut self, instrument: Instrument) -> SymbolId {
        self.instruments.push(instrument);
        let n = self.levels_per_side;
        self.books.push(Book {
            sides: [Vec::with_capacity(n), Vec::with_capacity(n)],
            // Allocated by the first stop of the symbol.
            stops: [Vec::new(), Vec::new()],
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

    /// Folded position plus the working orders' fills: O(orders of the
    /// account), needed only while a reduce-only kill switch is on.
    #[cold]
    #[inline(never)]
    fn position_of(&self, acct: u32, sym: u32) -> i64 {
        let a = &self.accounts[acct as usize];
        let mut pos = match a.pos_inline.iter().find(|&&(s, _)| s == sym) {
            Some(&(_, lots)) => lots,
            None => match a.positions.binary_search_by_key(&sym, |&(s, _)| s) {
                Ok(i) => a.positions[i].1,
                Err(_) => 0,
            },
        };
        let mut s = self.accounts[acct as usize].head;
        while s != NIL {
            let o = self.orders.get(s);
            if o.sym == sym {
                pos += signed(o.side, o.filled);
            }
            s = o.acct_next;
        }
        pos
    }

    /// Last trade price of a symbol (internal trade or external print).
    pub fn last_price(&self, sym: SymbolId) -> Option<Price> {
        self.books.get(sym.0 as usize).filter(|b| b.last != 0).map(|b| Price::from_ticks(b.last))
    }

    /// Waiting stops of a symbol and side, next to trigger first:
    /// `(stop price, order id)`.
    pub fn stops(&self, sym: SymbolId, side: Side) -> impl Iterator<Item = (Price, OrderId)> + '_ {
        let v: &[StopRef] = self.books.get(sym.0 as usize).map_or(&[], |b| &b.stops[side as usize]);
        v.iter()
            .rev()
            .map(move |r| (Price::from_ticks(self.orders.aux(r.slot).stop), OrderId(self.orders.get(r.slot).id)))
    }

    /// The price levels of one side, best first: `(price, shown quantity)`.
    pub fn levels(&self, sym: SymbolId, side: Side) -> impl Iterator<Item = (Price, Qty)> + '_ {
        let v: &[LevelRef] = self.books.get(sym.0 as usize).map_or(&[], |b| &b.sides[side as usize]);
        v.iter().rev().map(move |r| {
            let l = self.levels.get(r.level);
            (Price::from_ticks(l.price), Qty::from_lots(l.shown))
        })
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
            optix_ring::prefetch(a);
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
    #[inline]
    fn killed(&self, acct: u32, sym: u32, side: Side, qty: i64) -> bool {
        if self.kills_on == 0 && self.kill_all == KILL_OFF {
            return false;
        }
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
        // From here the client order id counts as used today.
        self.accounts[o.acct.0 as usize].used.insert(o.clid.0);
        let b = o.sym.0 as usize;
        if self.books[b].halted {
            return self.reject(out, oref, CmdKind::New, RejectReason::SymbolHalted);
        }
        if self.killed(o.acct.0, o.sym.0, o.side, o.qty.lots()) {
            return self.reject(out, oref, CmdKind::New, RejectReason::KillSwitch);
        }
        let chk = OrderCheck {
            kind: CheckKind::New,
            acct: o.acct,
            sym: o.sym,
            side: o.side,
            ord_type: o.ord_type,
            tif: o.tif,
            price: o.price,
            qty: o.qty,
            prev_qty: Qty::ZERO,
            prev_price: Price::NONE,
            ..OrderCheck::bare(o.acct, o.sym, o.side, o.price, o.qty)
        };
        if let Err(r) = self.check.check_new(self.now, &chk) {
            return self.reject(out, oref, CmdKind::New, r);
        }
        let limit = match (o.ord_type, o.side) {
            (OrdType::Market, Side::Buy) => i64::MAX,
            (OrdType::Market, Side::Sell) => i64::MIN,
            _ => o.price.ticks(),
        };
        if o.post_only && self.would_cross(o.sym, o.side, limit) {
            return self.reject(out, oref, CmdKind::New, RejectReason::PostOnlyWouldTake);
        }
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
        };
        match (o.ord_type, o.tif) {
            (OrdType::Stop | OrdType::StopLimit, _) => {
                let slot = self.new_slot(&x, o.qty.lots(), 0);
                self.orders.aux_mut(slot).stop = o.stop_price.ticks();
                self.place_stop(slot, out);
            }
            (_, Tif::Opg | Tif::Cls) => {
                let slot = self.new_slot(&x, o.qty.lots(), 0);
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
    #[inline]
    fn new_slot(&mut self, x: &Exec, leaves: i64, filled: i64) -> u32 {
        let slot = self.orders.alloc();
        *self.orders.get_mut(slot) = Order {
            id: x.oref.id.0,
            clid: x.oref.clid.0,
            price: x.price,
            leaves,
            filled,
            shown: leaves,
            prev: NIL,
            next: NIL,
            acct_prev: NIL,
            acct_next: NIL,
            level: NIL,
            acct: x.oref.acct.0,
            sym: x.sym.0,
            side: x.side,
            tif: x.tif,
            ord_type: x.ord_type,
            flags: x.flags,
        };
        if x.flags & (FLAG_RESERVE | FLAG_GTD) != 0 {
            let a = self.orders.aux_mut(slot);
            a.display = x.display;
            a.expire = x.expire;
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
        let limit = match (x.ord_type, x.side) {
            (OrdType::Market, Side::Buy) => i64::MAX,
            (OrdType::Market, Side::Sell) => i64::MIN,
            _ => x.price,
        };
        let stp = self.accounts[x.oref.acct.0 as usize].spec.stp;
        if x.tif == Tif::Fok && self.available(x.sym, x.side, limit, x.qty, x.oref.acct.0, stp) < x.qty {
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
        let mut t = Taker { oref: x.oref, side: x.side, limit, price, leaves: x.qty, total: x.qty, filled: 0, stp };
        self.match_taker(x.sym, &mut t, out);
        if t.leaves == 0 {
            return self.finish(slot, x, t.filled);
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
            self.finish(slot, x, t.filled);
            return self
                .emit(out, EventKind::Cancelled { order: x.oref, sym: x.sym, qty: Qty::from_lots(t.leaves), reason });
        }
        let slot = if slot == NIL {
            self.new_slot(x, t.leaves, t.filled)
        } else {
            let n = self.orders.get_mut(slot);
            n.leaves = t.leaves;
            n.filled = t.filled;
            n.ord_type = x.ord_type;
            slot
        };
        let shown = self.shown_for(slot, x.flags, t.leaves);
        self.orders.get_mut(slot).shown = shown;
        self.rest(slot, out);
    }

    /// An executed order that does not rest: its fills go to the position
    /// (through its slot's close if it has one).
    #[inline]
    fn finish(&mut self, slot: u32, x: &Exec, filled: i64) {
        if slot != NIL {
            self.orders.get_mut(slot).filled = filled;
            self.close(slot);
        } else if filled != 0 {
            self.fold_position(x.oref.acct.0, x.sym.0, x.side, filled);
        }
    }

    /// Whether an order at `limit` would trade against the opposite side.
    #[inline]
    fn would_cross(&self, sym: SymbolId, side: Side, limit: i64) -> bool {
        let opp = side.opposite();
        match self.books[sym.0 as usize].sides[opp as usize].last() {
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

    /// Folds the fills of an order that stops working into the position.
    #[inline]
    fn fold_position(&mut self, acct: u32, sym: u32, side: Side, filled: i64) {
        if filled == 0 {
            return;
        }
        let a = &mut self.accounts[acct as usize];
        let lots = signed(side, filled);
        for e in a.pos_inline.iter_mut() {
            if e.0 == sym {
                e.1 += lots;
                return;
            }
            if e.0 == u32::MAX {
                *e = (sym, lots);
                return;
            }
        }
        let p = &mut a.positions;
        match p.binary_search_by_key(&sym, |&(s, _)| s) {
            Ok(i) => p[i].1 += lots,
            // A new (account, symbol) pair: grows only on a new high.
            Err(i) => p.insert(i, (sym, lots)),
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
        while t.leaves > 0 && stopped == 0 {
            let Some(&top) = self.books[b].sides[opp as usize].last() else { break };
            let px = key_price(opp, top.key);
            if !crosses(side, t.limit, px) {
                break;
            }
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
                let m = self.orders.get_mut(head);
                let q = t.leaves.min(m.shown);
                m.shown -= q;
                m.leaves -= q;
                m.filled += q;
                let maker = OrderRef { acct: AccountId(m.acct), clid: ClientOrderId(m.clid), id: OrderId(m.id) };
                let maker_leaves = m.leaves;
                let refill = m.shown == 0 && m.leaves > 0;
                let maker_done = m.leaves == 0;
                if maker_done {
                    self.live.prefetch(hash_key(maker.acct.0, maker.clid.0));
                }
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
                        fee: Money::ZERO,
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
                        fee: Money::ZERO,
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
                self.books[b].sides[opp as usize].pop();
                self.levels.release(lvl);
            } else {
                break;
            }
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
                    let n = self.orders.get_mut(head);
                    n.leaves -= q;
                    let shown = n.shown.min(n.leaves);
                    let cut_shown = n.shown - shown;
                    n.shown = shown;
                    let l = self.levels.get_mut(lvl);
                    l.shown -= cut_shown;
                    l.total -= q;
                    self.emit(
                        out,
                        EventKind::Replaced {
                            order: maker,
                            sym,
                            price: Price::from_ticks(m.price),
                            qty: Qty::from_lots(m.filled + m.leaves - q),
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
        let l = self.levels.get_mut(lvl);
        l.shown -= o.shown;
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
        let n = self.orders.get_mut(slot);
        let shown = n.leaves.min(display);
        n.shown = shown;
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
    fn rest(&mut self, slot: u32, out: &mut impl EventSink) {
        let o = *self.orders.get(slot);
        let book = &mut self.books[o.sym as usize];
        let key = side_key(o.side, o.price);
        let lvl = match book.find(o.side, key) {
            Ok(i) => book.sides[o.side as usize][i].level,
            Err(i) => {
                let l = self.levels.alloc(o.price);
                book.sides[o.side as usize].insert(i, LevelRef { key, level: l });
                l
            }
        };
        let l = self.levels.get_mut(lvl);
        let tail = l.tail;
        l.tail = slot;
        if tail == NIL {
            l.head = slot;
        }
        l.count += 1;
        l.shown += o.shown;
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
                sym: SymbolId(o.sym),
                side: o.side,
                price: Price::from_ticks(o.price),
                qty: Qty::from_lots(shown),
            },
        );
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
        l.shown -= o.shown;
        l.total -= o.leaves;
        let (count, shown) = (l.count, l.shown);
        let lvl = o.level;
        let n = self.orders.get_mut(slot);
        n.prev = NIL;
        n.next = NIL;
        n.level = NIL;
        if count == 0 {
            let book = &mut self.books[o.sym as usize];
            if let Ok(i) = book.find(o.side, side_key(o.side, o.price)) {
                book.sides[o.side as usize].remove(i);
            }
            self.levels.release(lvl);
        }
        shown
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
        if o.filled != 0 {
            self.fold_position(o.acct, o.sym, o.side, o.filled);
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
        if Self::stop_hit(o.side, self.orders.aux(slot).stop, last) && !self.books[b].halted {
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
        let r = StopRef { key: stop_key(o.side, stop), arrival, slot };
        let v = &mut self.books[o.sym as usize].stops[o.side as usize];
        let i = v.partition_point(|x| x.cmp_key() < r.cmp_key());
        v.insert(i, r);
        self.off_book += 1;
    }
    #[cold]
    #[inline(never)]
    fn unlink_stop(&mut self, slot: u32) {
        let aux = *self.orders.aux(slot);
        let o = self.orders.get_mut(slot);
        o.flags &= !FLAG_STOP;
        let r = StopRef { key: stop_key(o.side, aux.stop), arrival: aux.arrival, slot };
        let v = &mut self.books[o.sym as usize].stops[o.side as usize];
        let i = v.partition_point(|x| x.cmp_key() < r.cmp_key());
        debug_assert!(v.get(i) == Some(&r), "waiting stop missing from the stop book");
        if v.get(i) == Some(&r) {
            v.remove(i);
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
        while let Some(&r) = self.books[b].stops[0].last() {
            if -r.key > hi {
                break;
            }
            self.books[b].stops[0].pop();
            self.orders.get_mut(r.slot).flags &= !FLAG_STOP;
            self.off_book -= 1;
            self.pending.push((r.slot, hi));
        }
        while let Some(&r) = self.books[b].stops[1].last() {
            if r.key < lo {
                break;
            }
            self.books[b].stops[1].pop();
            self.orders.get_mut(r.slot).flags &= !FLAG_STOP;
            self.off_book -= 1;
            self.pending.push((r.slot, lo));
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
        let sym = SymbolId(o.sym);
        self.emit(out, EventKind::Triggered { order: oref, sym, last: Price::from_ticks(last) });
        if self.killed(o.acct, o.sym, o.side, o.leaves) {
            self.close(slot);
            return self.reject(out, oref, CmdKind::New, RejectReason::KillSwitch);
        }
        let ord_type = if o.ord_type == OrdType::Stop { OrdType::Market } else { OrdType::Limit };
        let chk = OrderCheck {
            kind: CheckKind::Triggered,
            acct: AccountId(o.acct),
            sym,
            side: o.side,
            ord_type,
            tif: o.tif,
            price: Price::from_ticks(o.price),
            qty: Qty::from_lots(o.leaves),
            prev_qty: Qty::ZERO,
            prev_price: Price::NONE,
            ..OrderCheck::bare(AccountId(o.acct), sym, o.side, Price::NONE, Qty::ZERO)
        };
        if let Err(r) = self.check.check_new(self.now, &chk) {
            self.close(slot);
            return self.reject(out, oref, CmdKind::New, r);
        }
        let aux = *self.orders.aux(slot);
        let x = Exec {
            oref,
            sym,
            side: o.side,
            ord_type,
            tif: o.tif,
            price: o.price,
            qty: o.leaves,
            flags: o.flags,
            display: aux.display,
            expire: aux.expire,
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

    /// Appends an OPG/CLS order to its auction's held list.
    #[cold]
    #[inline(never)]
    fn hold(&mut self, slot: u32) {
        let o = *self.orders.get(slot);
        let list = &mut self.books[o.sym as usize].held[Self::auction_of(o.tif)];
        let tail = list.tail;
        list.tail = slot;
        if tail == NIL {
            list.head = slot;
        } else {
            self.orders.get_mut(tail).next = slot;
        }
        let n = self.orders.get_mut(slot);
        n.prev = tail;
        n.next = NIL;
        n.flags |= FLAG_HELD;
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
        let list = &mut self.books[o.sym as usize].held[Self::auction_of(o.tif)];
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
        let sym = SymbolId(o.sym);
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
                    side: o.side,
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
            if m.sym.is_none_or(|sym| sym.0 == o.sym) {
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
        let no_price = matches!(o.ord_type, OrdType::Market | OrdType::Stop);
        let old_stop = if waiting { self.orders.aux(slot).stop } else { 0 };
        let new_price = if r.price.is_none() { o.price } else { r.price.ticks() };
        let new_stop = if r.stop_price.is_none() { old_stop } else { r.stop_price.ticks() };
        let old_total = o.filled + o.leaves;
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
        } else if new_total <= o.filled {
            Some(RejectReason::QtyNotAboveFilled)
        } else if o.flags & FLAG_RESERVE != 0
            && new_total - o.filled > self.orders.aux(slot).display * MAX_RESERVE_PARTS
        {
            Some(RejectReason::InvalidQty)
        } else {
            None
        };
        if let Some(e) = invalid {
            return self.reject(out, oref, CmdKind::Replace, e);
        }
        let new_leaves = new_total - o.filled;
        let sym = SymbolId(o.sym);
        let b = o.sym as usize;
        if self.books[b].halted {
            return self.reject(out, oref, CmdKind::Replace, RejectReason::SymbolHalted);
        }
        if self.killed(o.acct, o.sym, o.side, new_leaves) {
            return self.reject(out, oref, CmdKind::Replace, RejectReason::KillSwitch);
        }
        let chk = OrderCheck {
            kind: CheckKind::Replace,
            acct: AccountId(o.acct),
            sym,
            side: o.side,
            ord_type: o.ord_type,
            tif: o.tif,
            price: Price::from_ticks(new_price),
            qty: Qty::from_lots(new_leaves),
            prev_qty: Qty::from_lots(o.leaves),
            prev_price: Price::from_ticks(o.price),
            ..OrderCheck::bare(AccountId(o.acct), sym, o.side, Price::NONE, Qty::ZERO)
        };
        if let Err(e) = self.check.check_replace(self.now, &chk) {
            return self.reject(out, oref, CmdKind::Replace, e);
        }
        let in_book = !waiting && !held;
        let crossing = in_book && new_price != o.price && self.would_cross(sym, o.side, new_price);
        if crossing && o.flags & FLAG_POST_ONLY != 0 {
            return self.reject(out, oref, CmdKind::Replace, RejectReason::PostOnlyWouldTake);
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
        if waiting {
            // A waiting stop: in place when nothing but a lower quantity,
            // else back of its stop price (and it may trigger at once).
            let n = self.orders.get_mut(slot);
            n.price = new_price;
            n.leaves = new_leaves;
            n.shown = new_leaves;
            if !keeps_priority {
                self.unlink_stop(slot);
                self.orders.aux_mut(slot).stop = new_stop;
                self.place_stop(slot, out);
            }
            return;
        }
        if held {
            let n = self.orders.get_mut(slot);
            n.price = new_price;
            n.leaves = new_leaves;
            n.shown = new_leaves;
            if !keeps_priority {
                self.unlink_held(slot);
                self.hold(slot);
            }
            return;
        }
        if keeps_priority {
            // Same price, not more: reduce in place, priority kept; a reserve
            // order loses hidden quantity first.
            if new_total == old_total {
                return;
            }
            let cut = o.leaves - new_leaves;
            let n = self.orders.get_mut(slot);
            n.leaves = new_leaves;
            let shown = n.shown.min(new_leaves);
            let cut_shown = n.shown - shown;
            n.shown = shown;
            let l = self.levels.get_mut(o.level);
            l.shown -= cut_shown;
            l.total -= cut;
            let shown = l.shown;
            return self.emit(
                out,
                EventKind::LevelChanged {
                    sym,
                    side: o.side,
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
                side: o.side,
                price: Price::from_ticks(o.price),
                qty: Qty::from_lots(shown),
            },
        );
        let mut t = Taker {
            oref,
            side: o.side,
            limit: new_price,
            price: Price::from_ticks(new_price),
            leaves: new_leaves,
            total: new_total,
            filled: 0,
            stp: StpMode::None,
        };
        if crossing {
            t.stp = self.accounts[o.acct as usize].spec.stp;
            self.match_taker(sym, &mut t, out);
        }
        let shown = self.shown_for(slot, o.flags, t.leaves);
        let n = self.orders.get_mut(slot);
        n.price = new_price;
        n.leaves = t.leaves;
        n.shown = shown;
        n.filled = o.filled + t.filled;
        if t.leaves == 0 {
            self.close(slot);
        } else {
            self.rest(slot, out);
        }
        self.run_stops(b, out);
    }

    // -----------------------------------------------------------------
    // Admin and market data
    // -----------------------------------------------------------------
    #[cold]
    #[inline(never)]
    fn on_halt(&mut self, sym: SymbolId, halt: bool, out: &mut impl EventSink) {
        match self.books.get_mut(sym.0 as usize) {
            Some(b) => b.halted = halt,
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
                if matches!(o.tif, Tif::Day | Tif::Opg | Tif::Cls) {
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
        let _ = (q, out);
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
        self.run_stops(b, out);
    }
    #[cold]
    #[inline(never)]
    fn on_auction(&mut self, sym: SymbolId, kind: AuctionKind, out: &mut impl EventSink) {
        let b = sym.0 as usize;
        if b >= self.books.len() {
            return self.admin_reject(out, AccountId(0), RejectReason::UnknownSymbol);
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
            let (class, key) = if o.ord_type == OrdType::Market { (0, 0) } else { (1, -side_key(o.side, o.price)) };
            parts[o.side as usize].push(Part { class, key, held: 1, pos, slot: s });
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
                        fee: Money::ZERO,
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
        if p.held == 1 {
            let n = self.orders.get_mut(p.slot);
            n.leaves -= q;
            n.filled += q;
            n.shown = n.leaves;
            if n.leaves == 0 {
                self.unlink_held(p.slot);
                self.close(p.slot);
            }
            return;
        }
        if !touched.contains(&(side, o.price)) {
            touched.push((side, o.price));
        }
        if o.leaves == q {
            self.unlink_level(p.slot);
            self.orders.get_mut(p.slot).filled += q;
            self.close(p.slot);
            return;
        }
        let display_shown = self.shown_for(p.slot, o.flags, o.leaves - q);
        let n = self.orders.get_mut(p.slot);
        n.leaves -= q;
        n.filled += q;
        let shown = if n.shown > q { (n.shown - q).min(n.leaves) } else { display_shown };
        let shown = if o.flags & FLAG_RESERVE == 0 { n.leaves } else { shown };
        let delta = n.shown - shown;
        n.shown = shown;
        let l = self.levels.get_mut(o.level);
        l.shown -= delta;
        l.total -= q;
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
            for side in book.sides.iter() {
                h.u64(side.len() as u64);
                for r in side.iter().rev() {
                    let l = self.levels.get(r.level);
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
                h.u64(side.len() as u64);
                for r in side.iter() {
                    h.u64(r.key as u64);
                    h.u64(r.arrival);
                    self.hash_order(&mut h, r.slot);
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
            for &(sym, lots) in a.pos_inline.iter().chain(&a.positions) {
                h.u64(u64::from(sym));
                h.u64(lots as u64);
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
        h.finish()
    }

    fn hash_order(&self, h: &mut Fnv, s: u32) {
        let o = self.orders.get(s);
        h.u64(o.id);
        h.u64(o.clid);
        h.u64(o.price as u64);
        h.u64(o.leaves as u64);
        h.u64(o.filled as u64);
        h.u64(o.shown as u64);
        h.u64(u64::from(o.acct) | u64::from(o.sym) << 32);
        h.u64(o.side as u64 | (o.tif as u64) << 8 | (o.ord_type as u64) << 16 | u64::from(o.flags) << 24);
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
        for (b, book) in self.books.iter().enumerate() {
            for side in [Side::Buy, Side::Sell] {
                let v = &book.sides[side as usize];
                for w in v.windows(2) {
                    if w[0].key >= w[1].key {
                        return Err(format!("sym {b} {side:?}: levels not strictly sorted"));
                    }
                }
                for r in v {
                    let l = self.levels.get(r.level);
                    if key_price(side, r.key) != l.price {
                        return Err(format!("sym {b}: level key {} vs price {}", r.key, l.price));
                    }
                    let (mut n, mut shown, mut total, mut prev) = (0u32, 0i64, 0i64, NIL);
                    let mut s = l.head;
                    while s != NIL {
                        let o = self.orders.get(s);
                        if o.prev != prev || o.level != r.level || o.price != l.price || o.side != side {
                            return Err(format!("sym {b}: order {} badly linked", o.id));
                        }
                        if o.sym as usize != b || o.leaves <= 0 || o.shown <= 0 || o.shown > o.leaves {
                            return Err(format!("sym {b}: order {} bad quantities", o.id));
                        }
                        if o.flags & (FLAG_STOP | FLAG_HELD) != 0 || matches!(o.tif, Tif::Opg | Tif::Cls) {
                            return Err(format!("sym {b}: order {} in a level is a stop or held", o.id));
                        }
                        if o.flags & FLAG_RESERVE == 0 && o.shown != o.leaves {
                            return Err(format!("sym {b}: plain order {} hides quantity", o.id));
                        }
                        if o.flags & FLAG_RESERVE != 0 && o.shown > self.orders.aux(s).display {
                            return Err(format!("sym {b}: reserve order {} shows more than its display", o.id));
                        }
                        if self.find_live(AccountId(o.acct), ClientOrderId(o.clid)) != Some(s) {
                            return Err(format!("order {} missing from the id map", o.id));
                        }
                        per_acct[o.acct as usize] += 1;
                        n += 1;
                        shown += o.shown;
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
                    if w[0].cmp_key() >= w[1].cmp_key() {
                        return Err(format!("sym {b} {side:?}: stops not strictly sorted"));
                    }
                }
                for r in stops {
                    let o = self.orders.get(r.slot);
                    let a = self.orders.aux(r.slot);
                    if o.flags & FLAG_STOP == 0
                        || o.side != side
                        || o.sym as usize != b
                        || o.level != NIL
                        || !matches!(o.ord_type, OrdType::Stop | OrdType::StopLimit)
                        || r.key != stop_key(side, a.stop)
                        || r.arrival != a.arrival
                        || o.leaves <= 0
                        || o.filled != 0
                    {
                        return Err(format!("sym {b}: waiting stop {} inconsistent", o.id));
                    }
                    if self.find_live(AccountId(o.acct), ClientOrderId(o.clid)) != Some(r.slot) {
                        return Err(format!("stop {} missing from the id map", o.id));
                    }
                    per_acct[o.acct as usize] += 1;
                    off_book += 1;
                }
            }
            for (k, list) in book.held.iter().enumerate() {
                let (mut prev, mut s) = (NIL, list.head);
                while s != NIL {
                    let o = self.orders.get(s);
                    let want = if k == 0 { Tif::Opg } else { Tif::Cls };
                    if o.prev != prev || o.flags & FLAG_HELD == 0 || o.tif != want || o.sym as usize != b {
                        return Err(format!("sym {b}: held order {} badly linked", o.id));
                    }
                    if o.level != NIL || o.leaves <= 0 || o.filled != 0 {
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
            if let (Some(bid), Some(ask)) = (book.sides[0].last(), book.sides[1].last()) {
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
                if o.flags & FLAG_GTD != 0 && o.tif != Tif::Gtd {
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
