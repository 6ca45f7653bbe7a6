//! Model-based test of the engine's order semantics.
//!
//! `Model` is a deliberately naive reference book that shares no code with
//! the engine: every working order of every symbol (resting, waiting stop,
//! held for an auction) sits in one plain `Vec`, the best price is found by
//! scanning, FIFO priority is an arrival counter, and the client order ids
//! used today are a `BTreeSet`. It implements the order contract of
//! ARCHITECTURE.md ("Order semantics"): limit / market / stop / stop-limit,
//! DAY / GTC / IOC / FOK / GTD / OPG / CLS, post-only, reserve orders,
//! self-trade prevention, cancel, replace (of stops too), mass cancel,
//! halts, the kill switch (with reduce-only), the end of the day, GTD
//! expiry, external prints and auctions, and produces the same `Event`
//! values in the order documented at the top of `engine/src/event.rs` and
//! `engine/src/engine.rs`.
//!
//! The property runs random sequences of all of these through the engine and
//! the model and checks after every step: identical events, identical depth
//! of every symbol and side, `Engine::validate`, the number of resting and
//! working orders (in all and per account), waiting stops and positions. The
//! case count can be raised with `PROPTEST_CASES`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use optix_engine::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Symbols configured in both engine and model; id `SYMS` is unknown.
const SYMS: u32 = 3;
/// Accounts configured in both engine and model; id `ACCTS` is unknown.
const ACCTS: u32 = 6;
/// Self-trade prevention mode of each account.
const STP: [StpMode; ACCTS as usize] = [
    StpMode::None,
    StpMode::None,
    StpMode::CancelNewest,
    StpMode::CancelOldest,
    StpMode::CancelBoth,
    StpMode::Decrement,
];
/// Client order ids are drawn from `0..CLIDS`, so duplicates and cancels of
/// unknown or finished orders happen often.
const CLIDS: u64 = 40;

// ---------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------

/// Where a working order is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    Book,
    Stop,
    Held,
}

/// A working order in the model.
#[derive(Clone, Debug)]
struct Working {
    id: u64,
    acct: u32,
    clid: u64,
    sym: u32,
    side: Side,
    ord_type: OrdType,
    tif: Tif,
    price: i64,
    stop: i64,
    display: i64,
    expire: u64,
    leaves: i64,
    shown: i64,
    filled: i64,
    /// Priority within its place (book FIFO, stop book, held list): lower is earlier.
    arrival: u64,
    post_only: bool,
    at: Where,
}

impl Working {
    fn oref(&self) -> OrderRef {
        OrderRef { acct: AccountId(self.acct), clid: ClientOrderId(self.clid), id: OrderId(self.id) }
    }
}

/// An auction participant: `(class (0 market), price key (ascending is
/// better), held (0 book, 1 held), arrival, id)`.
type Part = (u8, i64, u8, u64, u64);

/// An aggressor while it matches.
#[derive(Clone, Copy, Debug)]
struct Taker {
    oref: OrderRef,
    side: Side,
    limit: Option<i64>,
    leaves: i64,
    total: i64,
}

/// The naive reference book.
#[derive(Debug, Default)]
struct Model {
    seq: u64,
    now: u64,
    next_id: u64,
    next_trade: u64,
    next_arrival: u64,
    orders: Vec<Working>,
    /// `(account, client order id)` used today.
    used: BTreeSet<(u32, u64)>,
    last: BTreeMap<u32, i64>,
    halted: BTreeSet<u32>,
    /// Kill switch per account: 1 on, 2 reduce-only.
    kill: BTreeMap<u32, u8>,
    kill_all: u8,
    pos: BTreeMap<(u32, u32), i64>,
    /// Prints of the current execution.
    prints: Vec<i64>,
    pending: VecDeque<(u64, i64)>,
    events: Vec<Event>,
}

/// Whether an aggressor on `side` with `limit` (`None`: market) trades at `px`.
fn model_crosses(side: Side, limit: Option<i64>, px: i64) -> bool {
    match (limit, side) {
        (None, _) => true,
        (Some(l), Side::Buy) => px <= l,
        (Some(l), Side::Sell) => px >= l,
    }
}

/// Whether `a` is a better price than `b` on `side`.
fn better(side: Side, a: i64, b: i64) -> bool {
    match side {
        Side::Buy => a > b,
        Side::Sell => a < b,
    }
}

fn check_price(p: i64) -> Result<(), RejectReason> {
    if p <= 0 {
        Err(RejectReason::InvalidPrice)
    } else if p > MAX_PRICE_TICKS {
        Err(RejectReason::PriceTooLarge)
    } else {
        Ok(())
    }
}

impl Model {
    fn new() -> Self {
        Model { next_id: 1, next_trade: 1, ..Model::default() }
    }

    fn emit(&mut self, kind: EventKind) {
        self.events.push(Event { seq: Seq(self.seq), time: Nanos(self.now), kind });
    }

    fn admin_reject(&mut self, acct: u32, reason: RejectReason) {
        let order = OrderRef { acct: AccountId(acct), clid: ClientOrderId(0), id: OrderId(0) };
        self.emit(EventKind::Rejected { order, cmd: CmdKind::Admin, reason });
    }

    fn arrival(&mut self) -> u64 {
        self.next_arrival += 1;
        self.next_arrival
    }

    fn process(&mut self, time: u64, input: &Input) -> Vec<Event> {
        self.seq += 1;
        self.now = self.now.max(time);
        self.expire_due();
        match input {
            Input::NewOrder(o) => self.new_order(o),
            Input::CancelOrder(c) => self.cancel(c),
            Input::ReplaceOrder(r) => {
                let rs =
                    ReplaceStop { acct: r.acct, clid: r.clid, stop_price: Price::NONE, price: r.price, qty: r.qty };
                self.replace(&rs, false)
            }
            Input::ReplaceStop(r) => self.replace(r, true),
            Input::MassCancel(m) => self.mass_cancel(m),
            Input::Quote(_) => unreachable!("the model runs clob books only"),
            Input::Halt(s) | Input::Resume(s) => {
                if s.0 >= SYMS {
                    self.admin_reject(0, RejectReason::UnknownSymbol);
                } else {
                    let halted = matches!(input, Input::Halt(_));
                    if halted {
                        self.halted.insert(s.0);
                    } else {
                        self.halted.remove(&s.0);
                    }
                    self.emit(EventKind::TradingStatus { sym: *s, halted });
                }
            }
            Input::Kill(k) => self.kill(k),
            Input::Unkill(a) => match a {
                Some(a) if a.0 >= ACCTS => self.admin_reject(a.0, RejectReason::UnknownAccount),
                Some(a) => {
                    self.kill.remove(&a.0);
                }
                None => {
                    self.kill_all = 0;
                    self.kill.clear();
                }
            },
            Input::SessionEnd => self.session_end(),
            Input::Auction(s, kind) => self.auction(s.0, *kind),
            Input::TradePrint(p) => self.print(p),
            Input::Tick => {}
        }
        std::mem::take(&mut self.events)
    }

    fn book_orders(&self, sym: u32, side: Side) -> impl Iterator<Item = &Working> {
        self.orders.iter().filter(move |o| o.at == Where::Book && o.sym == sym && o.side == side)
    }

    /// Aggregate shown quantity at one price.
    fn level_qty(&self, sym: u32, side: Side, price: i64) -> i64 {
        self.book_orders(sym, side).filter(|o| o.price == price).map(|o| o.shown).sum()
    }

    fn emit_level(&mut self, sym: u32, side: Side, price: i64) {
        let qty = self.level_qty(sym, side, price);
        self.emit(EventKind::LevelChanged {
            sym: SymbolId(sym),
            side,
            price: Price::from_ticks(price),
            qty: Qty::from_lots(qty),
        });
    }

    /// Depth of one side, best first.
    fn depth(&self, sym: u32, side: Side) -> Vec<(Price, Qty)> {
        let mut by_price: BTreeMap<i64, i64> = BTreeMap::new();
        for o in self.book_orders(sym, side) {
            *by_price.entry(o.price).or_default() += o.shown;
        }
        let mut v: Vec<(Price, Qty)> =
            by_price.into_iter().map(|(p, q)| (Price::from_ticks(p), Qty::from_lots(q))).collect();
        if side == Side::Buy {
            v.reverse();
        }
        v
    }

    /// Waiting stops, next to trigger first.
    fn stops(&self, sym: u32, side: Side) -> Vec<(Price, OrderId)> {
        let mut v: Vec<&Working> =
            self.orders.iter().filter(|o| o.at == Where::Stop && o.sym == sym && o.side == side).collect();
        v.sort_by_key(|o| (if side == Side::Buy { o.stop } else { -o.stop }, o.arrival));
        v.iter().map(|o| (Price::from_ticks(o.stop), OrderId(o.id))).collect()
    }

    /// Best price resting on `side`, by scanning.
    fn best(&self, sym: u32, side: Side) -> Option<i64> {
        let mut best: Option<i64> = None;
        for o in self.book_orders(sym, side) {
            if best.is_none_or(|b| better(side, o.price, b)) {
                best = Some(o.price);
            }
        }
        best
    }

    /// Index of the oldest book order at one price, by scanning.
    fn oldest_at(&self, sym: u32, side: Side, price: i64) -> Option<usize> {
        let mut found: Option<usize> = None;
        for (i, o) in self.orders.iter().enumerate() {
            if o.at == Where::Book
                && o.sym == sym
                && o.side == side
                && o.price == price
                && found.is_none_or(|f| o.arrival < self.orders[f].arrival)
            {
                found = Some(i);
            }
        }
        found
    }

    fn find_working(&self, acct: u32, clid: u64) -> Option<usize> {
        self.orders.iter().position(|o| o.acct == acct && o.clid == clid)
    }

    fn index_of(&self, id: u64) -> usize {
        self.orders.iter().position(|o| o.id == id).expect("order is working")
    }

    /// Open quantity an aggressor of `acct` could reach within `limit`, with
    /// the account's self-trade prevention.
    fn reachable(&self, sym: u32, side: Side, limit: Option<i64>, acct: u32) -> i64 {
        let opp = side.opposite();
        let mut v: Vec<&Working> = self.book_orders(sym, opp).filter(|o| model_crosses(side, limit, o.price)).collect();
        v.sort_by_key(|o| (if opp == Side::Buy { -o.price } else { o.price }, o.arrival));
        let stp = STP[acct as usize];
        let mut sum = 0;
        for o in v {
            if o.acct == acct && stp != StpMode::None {
                if stp == StpMode::CancelOldest {
                    continue;
                }
                break;
            }
            sum += o.leaves;
        }
        sum
    }

    fn add_pos(&mut self, acct: u32, sym: u32, side: Side, q: i64) {
        *self.pos.entry((acct, sym)).or_default() += if side == Side::Buy { q } else { -q };
    }

    fn position(&self, acct: u32, sym: u32) -> i64 {
        self.pos.get(&(acct, sym)).copied().unwrap_or(0)
    }

    fn killed(&self, acct: u32, sym: u32, side: Side, qty: i64) -> bool {
        let a = self.kill.get(&acct).copied().unwrap_or(0);
        if a == 0 && self.kill_all == 0 {
            return false;
        }
        if a == 1 || self.kill_all == 1 {
            return true;
        }
        let pos = self.position(acct, sym);
        let reduces = match side {
            Side::Buy => pos < 0 && qty <= -pos,
            Side::Sell => pos > 0 && qty <= pos,
        };
        !reduces
    }

    fn note_print(&mut self, sym: u32, px: i64) {
        self.last.insert(sym, px);
        self.prints.push(px);
    }

    /// Trades an aggressor against the opposite side.
    fn match_taker(&mut self, sym: u32, t: &mut Taker) {
        let opp = t.side.opposite();
        let stp = STP[t.oref.acct.0 as usize];
        let mut stopped = 0;
        while t.leaves > 0 && stopped == 0 {
            let Some(px) = self.best(sym, opp) else { break };
            if !model_crosses(t.side, t.limit, px) {
                break;
            }
            let mut changed = false;
            let mut traded = false;
            while t.leaves > 0 {
                let Some(i) = self.oldest_at(sym, opp, px) else {
                    break;
                };
                if stp != StpMode::None && self.orders[i].acct == t.oref.acct.0 {
                    stopped = self.self_trade(stp, i, t);
                    changed |= stp != StpMode::CancelNewest;
                    if stopped != 0 {
                        break;
                    }
                    continue;
                }
                changed = true;
                traded = true;
                let m = &mut self.orders[i];
                let q = t.leaves.min(m.shown);
                m.leaves -= q;
                m.shown -= q;
                m.filled += q;
                t.leaves -= q;
                let maker = m.oref();
                let maker_leaves = m.leaves;
                let refill = m.shown == 0 && m.leaves > 0;
                let trade_id = TradeId(self.next_trade);
                self.next_trade += 1;
                let (buy, sell) = if t.side == Side::Buy { (t.oref, maker) } else { (maker, t.oref) };
                let price = Price::from_ticks(px);
                let qty = Qty::from_lots(q);
                let s = SymbolId(sym);
                self.emit(EventKind::Traded { trade_id, sym: s, price, qty, buy, sell, aggressor: Some(t.side) });
                self.emit(EventKind::Filled {
                    order: maker,
                    sym: s,
                    side: opp,
                    price,
                    qty,
                    leaves: Qty::from_lots(maker_leaves),
                    liq: Liquidity::Maker,
                    trade_id,
                    fee: Money::ZERO,
                });
                self.emit(EventKind::Filled {
                    order: t.oref,
                    sym: s,
                    side: t.side,
                    price,
                    qty,
                    leaves: Qty::from_lots(t.leaves),
                    liq: Liquidity::Taker,
                    trade_id,
                    fee: Money::ZERO,
                });
                self.add_pos(maker.acct.0, sym, opp, q);
                self.add_pos(t.oref.acct.0, sym, t.side, q);
                if maker_leaves == 0 {
                    self.orders.remove(i);
                } else if refill {
                    // A reserve order shows its next part at the back of the queue.
                    let arrival = self.arrival();
                    let m = &mut self.orders[i];
                    m.shown = m.leaves.min(m.display);
                    m.arrival = arrival;
                }
            }
            if traded {
                self.note_print(sym, px);
            }
            if changed {
                self.emit_level(sym, opp, px);
            }
            if self.oldest_at(sym, opp, px).is_some() {
                break;
            }
        }
        if stopped != 0 {
            let reason = CancelReason::SelfTrade;
            self.emit(EventKind::Cancelled { order: t.oref, sym: SymbolId(sym), qty: Qty::from_lots(stopped), reason });
            t.leaves = 0;
        }
    }

    /// Self-trade prevention against resting order `i`; returns the
    /// aggressor's quantity to cancel (0: it goes on).
    fn self_trade(&mut self, stp: StpMode, i: usize, t: &mut Taker) -> i64 {
        let m = self.orders[i].clone();
        let sym = SymbolId(m.sym);
        let reason = CancelReason::SelfTrade;
        match stp {
            StpMode::None => 0,
            StpMode::CancelNewest => t.leaves,
            StpMode::CancelOldest | StpMode::CancelBoth => {
                self.orders.remove(i);
                self.emit(EventKind::Cancelled { order: m.oref(), sym, qty: Qty::from_lots(m.leaves), reason });
                if stp == StpMode::CancelBoth {
                    t.leaves
                } else {
                    0
                }
            }
            StpMode::Decrement => {
                let q = t.leaves.min(m.leaves);
                if q == m.leaves {
                    self.orders.remove(i);
                    self.emit(EventKind::Cancelled { order: m.oref(), sym, qty: Qty::from_lots(q), reason });
                } else {
                    let r = &mut self.orders[i];
                    r.leaves -= q;
                    r.shown = r.shown.min(r.leaves);
                    self.emit(EventKind::Replaced {
                        order: m.oref(),
                        sym,
                        price: Price::from_ticks(m.price),
                        qty: Qty::from_lots(m.filled + m.leaves - q),
                        leaves: Qty::from_lots(m.leaves - q),
                        stop: Price::NONE,
                    });
                }
                t.total -= q;
                if q == t.leaves {
                    return q;
                }
                t.leaves -= q;
                self.emit(EventKind::Replaced {
                    order: t.oref,
                    sym,
                    price: Price::from_ticks(t.limit.unwrap_or(0)),
                    qty: Qty::from_lots(t.total),
                    leaves: Qty::from_lots(t.leaves),
                    stop: Price::NONE,
                });
                0
            }
        }
    }

    fn validate_new(&self, o: &NewOrder) -> Result<(), RejectReason> {
        if o.acct.0 >= ACCTS {
            return Err(RejectReason::UnknownAccount);
        }
        if o.sym.0 >= SYMS {
            return Err(RejectReason::UnknownSymbol);
        }
        let qty = o.qty.lots();
        if qty <= 0 {
            return Err(RejectReason::InvalidQty);
        }
        if qty > MAX_QTY_LOTS {
            return Err(RejectReason::QtyTooLarge);
        }
        let (has_price, is_stop) = match o.ord_type {
            OrdType::Limit => (true, false),
            OrdType::Market => (false, false),
            OrdType::Stop => (false, true),
            OrdType::StopLimit => (true, true),
        };
        if has_price {
            check_price(o.price.ticks())?;
        } else if o.price.ticks() != 0 {
            return Err(RejectReason::PriceNotAllowed);
        }
        if is_stop {
            check_price(o.stop_price.ticks())?;
        } else if o.stop_price.ticks() != 0 {
            return Err(RejectReason::PriceNotAllowed);
        }
        if o.display.lots() < 0 {
            return Err(RejectReason::InvalidQty);
        }
        if o.display.lots() > MAX_QTY_LOTS {
            return Err(RejectReason::QtyTooLarge);
        }
        if o.display.lots() > 0 && qty > o.display.lots() * engine::MAX_RESERVE_PARTS {
            return Err(RejectReason::InvalidQty);
        }
        let auction = o.tif == Tif::Opg || o.tif == Tif::Cls;
        if o.post_only && (!has_price || is_stop || auction || o.tif == Tif::Ioc || o.tif == Tif::Fok) {
            return Err(RejectReason::InvalidOrderType);
        }
        if (!has_price && o.display.lots() != 0) || (is_stop && auction) {
            return Err(RejectReason::InvalidOrderType);
        }
        if o.tif == Tif::Gtd {
            if o.expire.0 <= self.now {
                return Err(RejectReason::InvalidExpiry);
            }
        } else if o.expire.0 != 0 {
            return Err(RejectReason::InvalidExpiry);
        }
        if self.used.contains(&(o.acct.0, o.clid.0)) {
            return Err(RejectReason::DuplicateClientOrderId);
        }
        Ok(())
    }

    fn new_order(&mut self, o: &NewOrder) {
        let mut oref = OrderRef { acct: o.acct, clid: o.clid, id: OrderId(0) };
        let reject = |m: &mut Model, reason| m.emit(EventKind::Rejected { order: oref, cmd: CmdKind::New, reason });
        if let Err(reason) = self.validate_new(o) {
            return reject(self, reason);
        }
        let (sym, side) = (o.sym.0, o.side);
        if self.halted.contains(&sym) {
            return reject(self, RejectReason::SymbolHalted);
        }
        if self.killed(o.acct.0, sym, side, o.qty.lots()) {
            return reject(self, RejectReason::KillSwitch);
        }
        let limit = if o.ord_type == OrdType::Market { None } else { Some(o.price.ticks()) };
        let would_take = self.best(sym, side.opposite()).is_some_and(|px| model_crosses(side, limit, px));
        if o.post_only && would_take {
            return reject(self, RejectReason::PostOnlyWouldTake);
        }
        // Only an accepted order uses up its client order id.
        self.used.insert((o.acct.0, o.clid.0));
        oref.id = OrderId(self.next_id);
        self.next_id += 1;
        self.emit(EventKind::Accepted {
            order: oref,
            sym: o.sym,
            side,
            ord_type: o.ord_type,
            tif: o.tif,
            price: o.price,
            qty: o.qty,
            stop: o.stop_price,
            display: o.display,
        });
        let w = Working {
            id: oref.id.0,
            acct: o.acct.0,
            clid: o.clid.0,
            sym,
            side,
            ord_type: o.ord_type,
            tif: o.tif,
            price: o.price.ticks(),
            stop: o.stop_price.ticks(),
            display: o.display.lots(),
            expire: o.expire.0,
            leaves: o.qty.lots(),
            shown: o.qty.lots(),
            filled: 0,
            arrival: 0,
            post_only: o.post_only,
            at: Where::Book,
        };
        match (o.ord_type, o.tif) {
            (OrdType::Stop | OrdType::StopLimit, _) => self.place_stop(w),
            (_, Tif::Opg | Tif::Cls) => {
                let arrival = self.arrival();
                self.orders.push(Working { at: Where::Held, arrival, ..w });
            }
            _ => {
                self.execute(w);
                self.run_stops(sym);
            }
        }
    }

    /// Runs an accepted limit or market order (not in `orders`).
    fn execute(&mut self, w: Working) {
        let (sym, side) = (w.sym, w.side);
        let oref = w.oref();
        let limit = if w.ord_type == OrdType::Market { None } else { Some(w.price) };
        let qty = w.leaves;
        if w.tif == Tif::Fok && self.reachable(sym, side, limit, w.acct) < qty {
            let reason = CancelReason::FillOrKill;
            return self.emit(EventKind::Cancelled {
                order: oref,
                sym: SymbolId(sym),
                qty: Qty::from_lots(qty),
                reason,
            });
        }
        let mut t = Taker { oref, side, limit, leaves: qty, total: qty };
        self.match_taker(sym, &mut t);
        if t.leaves == 0 {
            return;
        }
        let reason = match (w.ord_type, w.tif) {
            (OrdType::Market, _) => Some(CancelReason::NoLiquidity),
            (_, Tif::Ioc) => Some(CancelReason::ImmediateOrCancel),
            (_, Tif::Fok) => Some(CancelReason::FillOrKill),
            _ => None,
        };
        if let Some(reason) = reason {
            let qty = Qty::from_lots(t.leaves);
            return self.emit(EventKind::Cancelled { order: oref, sym: SymbolId(sym), qty, reason });
        }
        let arrival = self.arrival();
        let shown = if w.display > 0 { t.leaves.min(w.display) } else { t.leaves };
        let price = w.price;
        self.orders.push(Working {
            leaves: t.leaves,
            filled: t.total - t.leaves,
            shown,
            arrival,
            at: Where::Book,
            ..w
        });
        self.emit_level(sym, side, price);
    }

    fn stop_hit(side: Side, stop: i64, last: Option<i64>) -> bool {
        match (last, side) {
            (None, _) => false,
            (Some(l), Side::Buy) => l >= stop,
            (Some(l), Side::Sell) => l <= stop,
        }
    }

    /// A new or re-priced stop (not in `orders`): triggers at once or waits.
    fn place_stop(&mut self, w: Working) {
        let last = self.last.get(&w.sym).copied();
        if Self::stop_hit(w.side, w.stop, last) && !self.halted.contains(&w.sym) {
            let (id, sym) = (w.id, w.sym);
            self.orders.push(Working { at: Where::Stop, arrival: u64::MAX, ..w });
            // Not waiting: taken off at once.
            self.pending.push_back((id, last.unwrap_or(0)));
            self.drain(sym);
        } else {
            let arrival = self.arrival();
            self.orders.push(Working { at: Where::Stop, arrival, ..w });
        }
    }

    fn run_stops(&mut self, sym: u32) {
        if self.prints.is_empty() {
            return;
        }
        self.collect(sym);
        self.drain(sym);
    }

    fn collect(&mut self, sym: u32) {
        let prints = std::mem::take(&mut self.prints);
        if prints.is_empty() || self.halted.contains(&sym) {
            return;
        }
        let lo = *prints.iter().min().unwrap();
        let hi = *prints.iter().max().unwrap();
        let waiting = |m: &Model, side: Side| -> Vec<(i64, u64, u64)> {
            m.orders
                .iter()
                .filter(|o| o.at == Where::Stop && o.sym == sym && o.side == side && o.arrival != u64::MAX)
                .map(|o| (o.stop, o.arrival, o.id))
                .collect()
        };
        let mut buys: Vec<_> = waiting(self, Side::Buy).into_iter().filter(|s| s.0 <= hi).collect();
        buys.sort_by_key(|s| (s.0, s.1));
        let mut sells: Vec<_> = waiting(self, Side::Sell).into_iter().filter(|s| s.0 >= lo).collect();
        sells.sort_by_key(|s| (-s.0, s.1));
        for (_, _, id) in buys {
            let i = self.index_of(id);
            self.orders[i].arrival = u64::MAX;
            self.pending.push_back((id, hi));
        }
        for (_, _, id) in sells {
            let i = self.index_of(id);
            self.orders[i].arrival = u64::MAX;
            self.pending.push_back((id, lo));
        }
    }

    fn drain(&mut self, sym: u32) {
        while let Some((id, px)) = self.pending.pop_front() {
            self.prints.clear();
            let i = self.index_of(id);
            let w = self.orders.remove(i);
            self.emit(EventKind::Triggered { order: w.oref(), sym: SymbolId(w.sym), last: Price::from_ticks(px) });
            if self.killed(w.acct, w.sym, w.side, w.leaves) {
                let reason = RejectReason::KillSwitch;
                self.emit(EventKind::Rejected { order: w.oref(), cmd: CmdKind::New, reason });
                self.prints.clear();
                continue;
            }
            let ord_type = if w.ord_type == OrdType::Stop { OrdType::Market } else { OrdType::Limit };
            self.execute(Working { ord_type, stop: 0, ..w });
            self.collect(sym);
        }
    }

    /// The working order of `(acct, clid)`, or why there is none.
    fn lookup(&self, acct: AccountId, clid: ClientOrderId) -> Result<usize, RejectReason> {
        if acct.0 >= ACCTS {
            return Err(RejectReason::UnknownAccount);
        }
        match self.find_working(acct.0, clid.0) {
            Some(i) => Ok(i),
            None if self.used.contains(&(acct.0, clid.0)) => Err(RejectReason::OrderNotWorking),
            None => Err(RejectReason::UnknownOrder),
        }
    }

    /// Removes a working order; `cancelled` (or `expired` for `None`) and
    /// the level update if it was in the book.
    fn drop_at(&mut self, i: usize, reason: Option<CancelReason>) {
        let o = self.orders.remove(i);
        let (sym, qty) = (SymbolId(o.sym), Qty::from_lots(o.leaves));
        match reason {
            Some(reason) => self.emit(EventKind::Cancelled { order: o.oref(), sym, qty, reason }),
            None => self.emit(EventKind::Expired { order: o.oref(), sym, qty }),
        }
        if o.at == Where::Book {
            self.emit_level(o.sym, o.side, o.price);
        }
    }

    fn expire_due(&mut self) {
        let mut due: Vec<(u64, u64)> = self
            .orders
            .iter()
            .filter(|o| o.tif == Tif::Gtd && o.expire <= self.now)
            .map(|o| (o.expire, o.id))
            .collect();
        due.sort_unstable();
        for (_, id) in due {
            let i = self.index_of(id);
            self.drop_at(i, None);
        }
    }

    fn cancel(&mut self, c: &CancelOrder) {
        match self.lookup(c.acct, c.clid) {
            Ok(i) => self.drop_at(i, Some(CancelReason::Requested)),
            Err(reason) => {
                let order = OrderRef { acct: c.acct, clid: c.clid, id: OrderId(0) };
                self.emit(EventKind::Rejected { order, cmd: CmdKind::Cancel, reason });
            }
        }
    }

    /// Ids of an account's working orders (in a symbol), oldest first.
    fn ids_of(&self, acct: u32, sym: Option<u32>) -> Vec<u64> {
        let mut ids: Vec<u64> =
            self.orders.iter().filter(|o| o.acct == acct && sym.is_none_or(|s| s == o.sym)).map(|o| o.id).collect();
        ids.sort_unstable();
        ids
    }

    fn mass_cancel(&mut self, m: &MassCancel) {
        let order = OrderRef { acct: m.acct, clid: ClientOrderId(0), id: OrderId(0) };
        let reason = if m.acct.0 >= ACCTS {
            Some(RejectReason::UnknownAccount)
        } else if m.sym.is_some_and(|s| s.0 >= SYMS) {
            Some(RejectReason::UnknownSymbol)
        } else {
            None
        };
        if let Some(reason) = reason {
            return self.emit(EventKind::Rejected { order, cmd: CmdKind::MassCancel, reason });
        }
        for id in self.ids_of(m.acct.0, m.sym.map(|s| s.0)) {
            let i = self.index_of(id);
            self.drop_at(i, Some(CancelReason::MassCancel));
        }
    }

    fn kill(&mut self, k: &KillSwitch) {
        let state = if k.reduce_only { 2 } else { 1 };
        let accts: Vec<u32> = match k.acct {
            Some(a) if a.0 >= ACCTS => return self.admin_reject(a.0, RejectReason::UnknownAccount),
            Some(a) => {
                self.kill.insert(a.0, state);
                vec![a.0]
            }
            None => {
                self.kill_all = state;
                (0..ACCTS).collect()
            }
        };
        for a in accts {
            for id in self.ids_of(a, None) {
                let i = self.index_of(id);
                self.drop_at(i, Some(CancelReason::KillSwitch));
            }
        }
    }

    fn session_end(&mut self) {
        for a in 0..ACCTS {
            for id in self.ids_of(a, None) {
                let i = self.index_of(id);
                if matches!(self.orders[i].tif, Tif::Day | Tif::Opg | Tif::Cls) {
                    self.drop_at(i, None);
                }
            }
        }
        self.used = self.orders.iter().map(|o| (o.acct, o.clid)).collect();
    }

    fn print(&mut self, p: &TradePrint) {
        if p.sym.0 >= SYMS {
            return self.admin_reject(0, RejectReason::UnknownSymbol);
        }
        if let Err(e) = check_price(p.price.ticks()) {
            return self.admin_reject(0, e);
        }
        if p.qty.lots() <= 0 {
            return self.admin_reject(0, RejectReason::InvalidQty);
        }
        self.note_print(p.sym.0, p.price.ticks());
        self.run_stops(p.sym.0);
    }

    fn replace(&mut self, r: &ReplaceStop, stop_cmd: bool) {
        let i = match self.lookup(r.acct, r.clid) {
            Ok(i) => i,
            Err(reason) => {
                let order = OrderRef { acct: r.acct, clid: r.clid, id: OrderId(0) };
                return self.emit(EventKind::Rejected { order, cmd: CmdKind::Replace, reason });
            }
        };
        let o = self.orders[i].clone();
        let oref = o.oref();
        let waiting = o.at == Where::Stop;
        let no_price = matches!(o.ord_type, OrdType::Market | OrdType::Stop);
        let old_stop = if waiting { o.stop } else { 0 };
        let new_price = if r.price.ticks() == 0 { o.price } else { r.price.ticks() };
        let new_stop = if r.stop_price.ticks() == 0 { old_stop } else { r.stop_price.ticks() };
        let old_total = o.filled + o.leaves;
        let new_total = if r.qty.lots() == 0 { old_total } else { r.qty.lots() };
        let invalid = if stop_cmd && r.stop_price.ticks() != 0 && !waiting {
            Some(RejectReason::InvalidOrderType)
        } else if no_price && r.price.ticks() != 0 {
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
        } else if o.display > 0 && new_total - o.filled > o.display * engine::MAX_RESERVE_PARTS {
            Some(RejectReason::InvalidQty)
        } else if self.halted.contains(&o.sym) {
            Some(RejectReason::SymbolHalted)
        } else if self.killed(o.acct, o.sym, o.side, new_total - o.filled) {
            Some(RejectReason::KillSwitch)
        } else {
            None
        };
        if let Some(reason) = invalid {
            return self.emit(EventKind::Rejected { order: oref, cmd: CmdKind::Replace, reason });
        }
        let new_leaves = new_total - o.filled;
        let crossing = o.at == Where::Book
            && new_price != o.price
            && self.best(o.sym, o.side.opposite()).is_some_and(|px| model_crosses(o.side, Some(new_price), px));
        if crossing && o.post_only {
            let reason = RejectReason::PostOnlyWouldTake;
            return self.emit(EventKind::Rejected { order: oref, cmd: CmdKind::Replace, reason });
        }
        self.emit(EventKind::Replaced {
            order: oref,
            sym: SymbolId(o.sym),
            price: Price::from_ticks(new_price),
            qty: Qty::from_lots(new_total),
            leaves: Qty::from_lots(new_leaves),
            stop: Price::from_ticks(new_stop),
        });
        let keeps = new_price == o.price && new_stop == old_stop && new_total <= old_total;
        match o.at {
            Where::Stop => {
                let w = &mut self.orders[i];
                w.price = new_price;
                w.leaves = new_leaves;
                w.shown = new_leaves;
                if !keeps {
                    let mut w = self.orders.remove(i);
                    w.stop = new_stop;
                    self.place_stop(w);
                }
            }
            Where::Held => {
                let arrival = if keeps { o.arrival } else { self.arrival() };
                let w = &mut self.orders[i];
                w.price = new_price;
                w.leaves = new_leaves;
                w.shown = new_leaves;
                w.arrival = arrival;
            }
            Where::Book if keeps => {
                if new_total < old_total {
                    // Less at the same price: in place, priority kept, hidden first.
                    let w = &mut self.orders[i];
                    w.leaves = new_leaves;
                    w.shown = w.shown.min(new_leaves);
                    self.emit_level(o.sym, o.side, o.price);
                }
            }
            Where::Book => {
                // Priority lost: out of the old level, trade if crossing, then
                // to the back of the new level.
                self.orders.remove(i);
                self.emit_level(o.sym, o.side, o.price);
                let mut t = Taker { oref, side: o.side, limit: Some(new_price), leaves: new_leaves, total: new_total };
                if crossing {
                    self.match_taker(o.sym, &mut t);
                }
                if t.leaves > 0 {
                    let arrival = self.arrival();
                    let shown = if o.display > 0 { t.leaves.min(o.display) } else { t.leaves };
                    self.orders.push(Working {
                        price: new_price,
                        leaves: t.leaves,
                        shown,
                        filled: t.total - t.leaves,
                        arrival,
                        ..o
                    });
                    self.emit_level(o.sym, o.side, new_price);
                }
                self.run_stops(o.sym);
            }
        }
    }

    fn auction(&mut self, sym: u32, kind: AuctionKind) {
        if sym >= SYMS {
            return self.admin_reject(0, RejectReason::UnknownSymbol);
        }
        let held_tif = if kind == AuctionKind::Open { Tif::Opg } else { Tif::Cls };
        // Participants per side, in priority order: (class, key, held, arrival, id).
        let mut parts: [Vec<Part>; 2] = [Vec::new(), Vec::new()];
        for o in &self.orders {
            if o.sym != sym {
                continue;
            }
            let key = if o.side == Side::Buy { -o.price } else { o.price };
            match o.at {
                Where::Book => parts[o.side as usize].push((1, key, 0, o.arrival, o.id)),
                Where::Held if o.tif == held_tif => {
                    let (class, key) = if o.ord_type == OrdType::Market { (0, 0) } else { (1, key) };
                    parts[o.side as usize].push((class, key, 1, o.arrival, o.id));
                }
                _ => {}
            }
        }
        parts[0].sort_unstable();
        parts[1].sort_unstable();
        let leaves = |m: &Model, id: u64| m.orders[m.index_of(id)].leaves;
        let mut prices: Vec<i64> = Vec::new();
        for (side, v) in parts.iter().enumerate() {
            for p in v.iter().filter(|p| p.0 == 1) {
                prices.push(if side == 0 { -p.1 } else { p.1 });
            }
        }
        prices.sort_unstable();
        prices.dedup();
        let reference = self.last.get(&sym).copied().unwrap_or(0);
        if prices.is_empty() && reference != 0 {
            prices.push(reference);
        }
        let exec_buy = |p: &Part, px: i64| p.0 == 0 || -p.1 >= px;
        let exec_sell = |p: &Part, px: i64| p.0 == 0 || p.1 <= px;
        let mut best: Option<(i64, i64, i64, i64)> = None;
        for &px in &prices {
            let bv: i64 = parts[0].iter().filter(|p| exec_buy(p, px)).map(|p| leaves(self, p.4)).sum();
            let sv: i64 = parts[1].iter().filter(|p| exec_sell(p, px)).map(|p| leaves(self, p.4)).sum();
            let (exec, imb) = (bv.min(sv), (bv - sv).abs());
            let dist = if reference == 0 { 0 } else { (px - reference).abs() };
            if best.is_none_or(|(_, e, im, d)| (exec, -imb, -dist) > (e, -im, -d)) {
                best = Some((px, exec, imb, dist));
            }
        }
        let mut touched: Vec<(Side, i64)> = Vec::new();
        let mut traded = false;
        if let Some((px, exec, _, _)) = best.filter(|b| b.1 > 0) {
            let _ = exec;
            let (mut i, mut j) = (0, 0);
            while i < parts[0].len() && j < parts[1].len() {
                let (pb, ps) = (parts[0][i], parts[1][j]);
                if !exec_buy(&pb, px) || !exec_sell(&ps, px) {
                    break;
                }
                let (ib, is) = (self.index_of(pb.4), self.index_of(ps.4));
                let q = self.orders[ib].leaves.min(self.orders[is].leaves);
                let (buy, sell) = (self.orders[ib].oref(), self.orders[is].oref());
                let trade_id = TradeId(self.next_trade);
                self.next_trade += 1;
                let (price, qty, s) = (Price::from_ticks(px), Qty::from_lots(q), SymbolId(sym));
                self.emit(EventKind::Traded { trade_id, sym: s, price, qty, buy, sell, aggressor: None });
                traded = true;
                for (id, side, oref) in [(pb.4, Side::Buy, buy), (ps.4, Side::Sell, sell)] {
                    let k = self.index_of(id);
                    let w = &mut self.orders[k];
                    w.leaves -= q;
                    w.filled += q;
                    let (at, wprice, left) = (w.at, w.price, w.leaves);
                    if at == Where::Book {
                        w.shown = if w.display == 0 {
                            w.leaves
                        } else if w.shown > q {
                            (w.shown - q).min(w.leaves)
                        } else {
                            w.leaves.min(w.display)
                        };
                        if !touched.contains(&(side, wprice)) {
                            touched.push((side, wprice));
                        }
                    } else {
                        w.shown = w.leaves;
                    }
                    self.emit(EventKind::Filled {
                        order: oref,
                        sym: s,
                        side,
                        price,
                        qty,
                        leaves: Qty::from_lots(left),
                        liq: Liquidity::Auction,
                        trade_id,
                        fee: Money::ZERO,
                    });
                    self.add_pos(oref.acct.0, sym, side, q);
                    if left == 0 {
                        self.orders.remove(k);
                    }
                }
                if self.orders.iter().all(|o| o.id != pb.4) {
                    i += 1;
                }
                if self.orders.iter().all(|o| o.id != ps.4) {
                    j += 1;
                }
            }
            if traded {
                self.note_print(sym, px);
            }
        }
        for side in [Side::Buy, Side::Sell] {
            for &(s, px) in touched.iter().filter(|t| t.0 == side) {
                self.emit_level(sym, s, px);
            }
        }
        let mut left: Vec<(u64, u64)> = self
            .orders
            .iter()
            .filter(|o| o.sym == sym && o.at == Where::Held && o.tif == held_tif)
            .map(|o| (o.arrival, o.id))
            .collect();
        left.sort_unstable();
        for (_, id) in left {
            let i = self.index_of(id);
            self.drop_at(i, Some(CancelReason::AuctionLeftover));
        }
        self.run_stops(sym);
    }
}

// ---------------------------------------------------------------------------
// Engine and model side by side
// ---------------------------------------------------------------------------

/// A sink that fails the case instead of running out of memory if an
/// input ever produced an unbounded stream of events.
struct Bounded(Vec<Event>);

impl EventSink for Bounded {
    fn emit(&mut self, event: &Event) {
        assert!(self.0.len() < 2_000_000, "runaway events: {:?}", &self.0[self.0.len() - 6..]);
        self.0.push(*event);
    }
}

struct Harness {
    engine: Engine<Permissive>,
    model: Model,
    /// Every input so far with its ingress time, for the replay check.
    log: Vec<(u64, Input)>,
}

fn new_engine() -> Engine<Permissive> {
    // A small capacity so the id map grows during the run.
    let config = EngineConfig { order_capacity: 8, ..EngineConfig::default() };
    let mut engine = Engine::new(config, Permissive);
    for _ in 0..SYMS {
        engine.add_instrument(Instrument::new("0.01", 1, VenueMode::Clob).expect("valid instrument"));
    }
    for stp in STP {
        engine.add_account(AccountSpec { stp, ..AccountSpec::default() });
    }
    engine
}

impl Harness {
    fn new() -> Self {
        Harness { engine: new_engine(), model: Model::new(), log: Vec::new() }
    }

    /// Runs one input through both and checks events, depth, invariants and
    /// counts; returns the events.
    fn step(&mut self, time: u64, input: &Input) -> Result<Vec<Event>, TestCaseError> {
        self.log.push((time, *input));
        let mut got = Bounded(Vec::new());
        self.engine.process(Nanos(time), input, &mut got);
        let got = got.0;
        let want = self.model.process(time, input);
        prop_assert_eq!(&got, &want, "events differ for {:?} at time {}", input, time);
        prop_assert_eq!(self.engine.seq(), Seq(self.model.seq));
        prop_assert_eq!(self.engine.now(), Nanos(self.model.now));
        for sym in 0..=SYMS {
            for side in [Side::Buy, Side::Sell] {
                let depth: Vec<(Price, Qty)> = self.engine.levels(SymbolId(sym), side).collect();
                prop_assert_eq!(
                    depth,
                    self.model.depth(sym, side),
                    "depth of sym {} {:?} after {:?}",
                    sym,
                    side,
                    input
                );
            }
        }
        if let Err(e) = self.engine.validate() {
            return Err(TestCaseError::fail(format!("validate after {input:?}: {e}")));
        }
        let resting = self.model.orders.iter().filter(|o| o.at == Where::Book).count();
        prop_assert_eq!(self.engine.resting_orders(), resting);
        for sym in 0..SYMS {
            for side in [Side::Buy, Side::Sell] {
                let stops: Vec<(Price, OrderId)> = self.engine.stops(SymbolId(sym), side).collect();
                prop_assert_eq!(stops, self.model.stops(sym, side), "stops of sym {} {:?}", sym, side);
            }
            for acct in 0..ACCTS {
                let (e, m) = (self.engine.position(AccountId(acct), SymbolId(sym)), self.model.position(acct, sym));
                prop_assert_eq!(e, m, "position of account {} in sym {}", acct, sym);
            }
        }
        for acct in 0..ACCTS {
            let n = self.model.orders.iter().filter(|o| o.acct == acct).count();
            prop_assert_eq!(self.engine.open_orders(AccountId(acct)) as usize, n, "open orders of account {}", acct);
        }
        Ok(got)
    }

    /// Replays the log into a fresh engine: same events, same state hash.
    fn check_replay(&self) -> Result<(), TestCaseError> {
        let mut a = new_engine();
        let mut b = new_engine();
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        for (t, input) in &self.log {
            a.process(Nanos(*t), input, &mut ea);
            b.process(Nanos(*t), input, &mut eb);
        }
        prop_assert_eq!(ea, eb);
        prop_assert_eq!(a.state_hash(), b.state_hash());
        prop_assert_eq!(a.state_hash(), self.engine.state_hash());
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Input strategies
// ---------------------------------------------------------------------------

fn acct() -> impl Strategy<Value = AccountId> {
    prop_oneof![
        100 => (0..ACCTS).prop_map(AccountId),
        1 => Just(AccountId(ACCTS)),
        1 => Just(AccountId(u32::MAX)),
    ]
}

/// Accounts of admin commands: unknown ones more often.
fn admin_acct() -> impl Strategy<Value = AccountId> {
    prop_oneof![8 => (0..ACCTS).prop_map(AccountId), 1 => Just(AccountId(ACCTS))]
}

fn sym() -> impl Strategy<Value = SymbolId> {
    prop_oneof![
        100 => (0..SYMS).prop_map(SymbolId),
        1 => Just(SymbolId(SYMS)),
        1 => Just(SymbolId(u32::MAX)),
    ]
}

fn clid() -> impl Strategy<Value = ClientOrderId> {
    prop_oneof![
        100 => (0..CLIDS).prop_map(ClientOrderId),
        1 => Just(ClientOrderId(u64::MAX)),
        1 => Just(ClientOrderId(u64::MAX - 1)),
    ]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

/// Mostly a narrow band so orders cross often; sometimes far away (deep
/// sweeps, sparse levels) or out of range.
fn price() -> impl Strategy<Value = Price> {
    prop_oneof![
        100 => (95i64..=105).prop_map(Price::from_ticks),
        4 => (1i64..=300).prop_map(Price::from_ticks),
        1 => Just(Price::from_ticks(-1)),
        1 => Just(Price::from_ticks(i64::MIN)),
        1 => Just(Price::from_ticks(MAX_PRICE_TICKS)),
        1 => Just(Price::from_ticks(MAX_PRICE_TICKS + 1)),
        1 => Just(Price::from_ticks(i64::MAX)),
    ]
}

fn qty() -> impl Strategy<Value = Qty> {
    prop_oneof![
        100 => (1i64..=20).prop_map(Qty::from_lots),
        1 => Just(Qty::ZERO),
        1 => Just(Qty::from_lots(-3)),
        1 => Just(Qty::from_lots(i64::MIN)),
        1 => Just(Qty::from_lots(MAX_QTY_LOTS)),
        1 => Just(Qty::from_lots(MAX_QTY_LOTS + 1)),
    ]
}

/// Order type with its limit price.
fn type_and_price() -> impl Strategy<Value = (OrdType, Price)> {
    prop_oneof![
        60 => price().prop_map(|p| (OrdType::Limit, p)),
        1 => Just((OrdType::Limit, Price::NONE)),
        8 => Just((OrdType::Market, Price::NONE)),
        1 => price().prop_map(|p| (OrdType::Market, p)),
        5 => Just((OrdType::Stop, Price::NONE)),
        5 => price().prop_map(|p| (OrdType::StopLimit, p)),
        1 => price().prop_map(|p| (OrdType::Stop, p)),
    ]
}

fn tif() -> impl Strategy<Value = Tif> {
    prop_oneof![
        30 => Just(Tif::Day),
        20 => Just(Tif::Gtc),
        6 => Just(Tif::Ioc),
        6 => Just(Tif::Fok),
        4 => Just(Tif::Gtd),
        5 => Just(Tif::Opg),
        5 => Just(Tif::Cls),
    ]
}

/// Display quantity: mostly none.
fn display() -> impl Strategy<Value = Qty> {
    prop_oneof![
        20 => Just(Qty::ZERO),
        4 => (1i64..=6).prop_map(Qty::from_lots),
        1 => Just(Qty::from_lots(-1)),
        1 => Just(Qty::from_lots(MAX_QTY_LOTS + 1)),
    ]
}

/// `(stop price, expiry offset)`; the stop is used by stop types (and is
/// wrong elsewhere), the offset makes GTD expiries land between commands.
fn extras() -> impl Strategy<Value = (Price, u64)> {
    let stop = prop_oneof![
        12 => (95i64..=105).prop_map(Price::from_ticks),
        1 => Just(Price::NONE),
        1 => Just(Price::from_ticks(-5)),
        1 => Just(Price::from_ticks(MAX_PRICE_TICKS + 1)),
    ];
    (stop, 0u64..12)
}

fn new_order() -> impl Strategy<Value = Cmd> {
    (
        acct(),
        clid(),
        sym(),
        side(),
        type_and_price(),
        tif(),
        qty(),
        prop::bool::weighted(0.1),
        display(),
        extras(),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(acct, clid, sym, side, (ord_type, price), tif, qty, post_only, display, (stop, ttl), odd_stop)| {
                let is_stop = matches!(ord_type, OrdType::Stop | OrdType::StopLimit);
                let stop_price = if is_stop || odd_stop { stop } else { Price::NONE };
                let o = NewOrder {
                    acct,
                    clid,
                    sym,
                    side,
                    ord_type,
                    tif,
                    price,
                    stop_price,
                    qty,
                    display,
                    expire: Nanos(0),
                    post_only,
                };
                Cmd::New(o, ttl)
            },
        )
}

/// New price (`NONE`: keep) and new total quantity (`ZERO`: keep) of a replace.
fn replace_fields() -> impl Strategy<Value = (Price, Qty)> {
    let new_price = prop_oneof![4 => Just(Price::NONE), 12 => price()];
    let new_qty = prop_oneof![
        8 => Just(Qty::ZERO),
        30 => (1i64..=30).prop_map(Qty::from_lots),
        1 => Just(Qty::from_lots(-1)),
        1 => Just(Qty::from_lots(MAX_QTY_LOTS)),
        1 => Just(Qty::from_lots(MAX_QTY_LOTS + 1)),
    ];
    (new_price, new_qty)
}

/// A generated command: a concrete input, or a cancel / replace aimed at the
/// `n`-th working order (by order id, modulo their number), so that cancels
/// and replaces of live orders are about as frequent as those of unknown ones.
#[derive(Clone, Copy, Debug)]
enum Cmd {
    Input(Input),
    /// A new order; a GTD one expires this many time units after now
    /// (0: now, which is rejected).
    New(NewOrder, u64),
    CancelWorking(usize),
    ReplaceWorking(usize, Price, Qty),
    ReplaceStopWorking(usize, Price, Price, Qty),
}

impl Cmd {
    /// The concrete input, given the working orders (the model's).
    fn resolve(self, model: &Model) -> Input {
        if let Cmd::New(o, ttl) = self {
            let expire = if o.tif == Tif::Gtd { Nanos(model.now + ttl) } else { o.expire };
            return Input::NewOrder(NewOrder { expire, ..o });
        }
        let target = |n: usize| {
            let mut ids: Vec<(u64, u32, u64)> = model.orders.iter().map(|o| (o.id, o.acct, o.clid)).collect();
            ids.sort_unstable();
            let (acct, clid) = match ids.get(n % ids.len().max(1)) {
                Some(&(_, acct, clid)) => (acct, clid),
                None => (0, n as u64 % CLIDS),
            };
            (AccountId(acct), ClientOrderId(clid))
        };
        match self {
            Cmd::Input(input) => input,
            Cmd::New(..) => unreachable!("resolved above"),
            Cmd::ReplaceStopWorking(n, stop_price, price, qty) => {
                let (acct, clid) = target(n);
                Input::ReplaceStop(ReplaceStop { acct, clid, stop_price, price, qty })
            }
            Cmd::CancelWorking(n) => {
                let (acct, clid) = target(n);
                Input::CancelOrder(CancelOrder { acct, clid })
            }
            Cmd::ReplaceWorking(n, price, qty) => {
                let (acct, clid) = target(n);
                Input::ReplaceOrder(ReplaceOrder { acct, clid, price, qty })
            }
        }
    }
}

fn cmd() -> impl Strategy<Value = Cmd> {
    let cancel = (acct(), clid()).prop_map(|(acct, clid)| CancelOrder { acct, clid });
    let replace = (acct(), clid(), replace_fields()).prop_map(|(acct, clid, (price, qty))| ReplaceOrder {
        acct,
        clid,
        price,
        qty,
    });
    let mass = (acct(), prop::option::of(sym())).prop_map(|(acct, sym)| MassCancel { acct, sym });
    let admin = prop_oneof![
        2 => sym().prop_map(Input::Halt),
        3 => sym().prop_map(Input::Resume),
        1 => (prop::option::weighted(0.8, admin_acct()), any::<bool>())
            .prop_map(|(acct, reduce_only)| Input::Kill(KillSwitch { acct, reduce_only })),
        3 => prop::option::weighted(0.7, admin_acct()).prop_map(Input::Unkill),
        1 => Just(Input::SessionEnd),
        5 => (sym(), prop_oneof![Just(AuctionKind::Open), Just(AuctionKind::Close)])
            .prop_map(|(s, k)| Input::Auction(s, k)),
        3 => (sym(), price(), qty()).prop_map(|(sym, price, qty)| Input::TradePrint(TradePrint { sym, price, qty })),
    ];
    let stop_fields = (
        prop_oneof![2 => Just(Price::NONE), 5 => (95i64..=105).prop_map(Price::from_ticks), 1 => price()],
        replace_fields(),
    );
    prop_oneof![
        20 => new_order().boxed(),
        3 => admin.prop_map(Cmd::Input).boxed(),
        2 => (any::<usize>(), stop_fields).prop_map(|(n, (st, (p, q)))| Cmd::ReplaceStopWorking(n, st, p, q)),
        2 => cancel.prop_map(|c| Cmd::Input(Input::CancelOrder(c))),
        3 => any::<usize>().prop_map(Cmd::CancelWorking),
        2 => replace.prop_map(|r| Cmd::Input(Input::ReplaceOrder(r))),
        6 => (any::<usize>(), replace_fields()).prop_map(|(n, (p, q))| Cmd::ReplaceWorking(n, p, q)),
        1 => mass.prop_map(|m| Cmd::Input(Input::MassCancel(m))),
        1 => Just(Cmd::Input(Input::Tick)),
    ]
}

/// `(time step, stamp behind the clock, command)`.
fn steps() -> impl Strategy<Value = Vec<(u64, bool, Cmd)>> {
    prop::collection::vec((0u64..3, prop::bool::weighted(0.05), cmd()), 1..200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_reference_model(steps in steps()) {
        let mut h = Harness::new();
        let mut clock = 1_000u64;
        for &(dt, behind, cmd) in &steps {
            clock += dt;
            // An ingress stamp behind the engine clock: time must not go back.
            let t = if behind { clock - 5 } else { clock };
            let input = cmd.resolve(&h.model);
            h.step(t, &input)?;
        }
        h.check_replay()?;
    }
}

// ---------------------------------------------------------------------------
// Deterministic cases
// ---------------------------------------------------------------------------

const A: AccountId = AccountId(0);
const B: AccountId = AccountId(1);
const S: SymbolId = SymbolId(0);

/// A plain limit order in symbol `S`.
fn order(acct: AccountId, clid: u64, side: Side, px: i64, qty: i64, tif: Tif) -> NewOrder {
    NewOrder {
        acct,
        clid: ClientOrderId(clid),
        sym: S,
        side,
        ord_type: OrdType::Limit,
        tif,
        price: Price::from_ticks(px),
        stop_price: Price::NONE,
        qty: Qty::from_lots(qty),
        display: Qty::ZERO,
        expire: Nanos(0),
        post_only: false,
    }
}

fn limit(acct: AccountId, clid: u64, side: Side, px: i64, qty: i64, tif: Tif) -> Input {
    Input::NewOrder(order(acct, clid, side, px, qty, tif))
}

fn post_only(acct: AccountId, clid: u64, side: Side, px: i64, qty: i64) -> Input {
    let o = order(acct, clid, side, px, qty, Tif::Day);
    Input::NewOrder(NewOrder { post_only: true, ..o })
}

fn market(acct: AccountId, clid: u64, side: Side, qty: i64, tif: Tif) -> Input {
    let o = order(acct, clid, side, 0, qty, tif);
    Input::NewOrder(NewOrder { ord_type: OrdType::Market, price: Price::NONE, ..o })
}

fn cancel(acct: AccountId, clid: u64) -> Input {
    Input::CancelOrder(CancelOrder { acct, clid: ClientOrderId(clid) })
}

fn replace(acct: AccountId, clid: u64, px: i64, qty: i64) -> Input {
    Input::ReplaceOrder(ReplaceOrder {
        acct,
        clid: ClientOrderId(clid),
        price: Price::from_ticks(px),
        qty: Qty::from_lots(qty),
    })
}

/// A short name per event, enough to pin the order of events.
fn shape(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e.kind {
            EventKind::Accepted { order, .. } => format!("accepted {}", order.id.0),
            EventKind::Rejected { reason, .. } => format!("rejected {}", reason.as_str()),
            EventKind::Traded { price, qty, .. } => {
                format!("trade {}x{}", qty.lots(), price.ticks())
            }
            EventKind::Filled { order, leaves, .. } => {
                format!("fill {} leaves {}", order.id.0, leaves.lots())
            }
            EventKind::Cancelled { order, qty, reason, .. } => {
                format!("cancelled {} {} {}", order.id.0, qty.lots(), reason.as_str())
            }
            EventKind::Replaced { order, price, qty, leaves, .. } => {
                format!("replaced {} {}x{} leaves {}", order.id.0, qty.lots(), price.ticks(), leaves.lots())
            }
            EventKind::LevelChanged { side, price, qty, .. } => {
                format!("level {} {} {}", side.as_str(), price.ticks(), qty.lots())
            }
            other => format!("{other:?}"),
        })
        .collect()
}

/// Runs the inputs through both; returns the shapes of the last input's events.
fn run(inputs: &[Input]) -> (Harness, Vec<String>) {
    let mut h = Harness::new();
    let mut last = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        last = h.step(1_000 + i as u64, input).expect("engine and model agree");
    }
    let shapes = shape(&last);
    (h, shapes)
}

#[test]
fn lowering_qty_keeps_priority_in_place() {
    let (h, ev) = run(&[
        limit(A, 1, Side::Buy, 100, 10, Tif::Day),
        limit(B, 1, Side::Buy, 100, 5, Tif::Day),
        replace(A, 1, 0, 4),
    ]);
    assert_eq!(ev, ["replaced 1 4x100 leaves 4", "level buy 100 9"]);
    // Order 1 is still first in the queue.
    let mut h = h;
    let ev = shape(&h.step(2_000, &market(B, 2, Side::Sell, 4, Tif::Day)).unwrap());
    assert_eq!(ev[..3], ["accepted 3", "trade 4x100", "fill 1 leaves 0"]);
}

#[test]
fn same_total_same_price_is_replaced_only() {
    let (_, ev) = run(&[limit(A, 1, Side::Sell, 101, 10, Tif::Gtc), replace(A, 1, 101, 10)]);
    assert_eq!(ev, ["replaced 1 10x101 leaves 10"]);
}

#[test]
fn raising_qty_loses_priority_with_two_level_updates() {
    let (mut h, ev) = run(&[
        limit(A, 1, Side::Buy, 100, 10, Tif::Day),
        limit(B, 1, Side::Buy, 100, 5, Tif::Day),
        replace(A, 1, 0, 12),
    ]);
    assert_eq!(ev, ["replaced 1 12x100 leaves 12", "level buy 100 5", "level buy 100 17"]);
    let ev = shape(&h.step(2_000, &market(B, 2, Side::Sell, 5, Tif::Ioc)).unwrap());
    assert_eq!(ev[..3], ["accepted 3", "trade 5x100", "fill 2 leaves 0"]);
}

#[test]
fn replace_to_crossing_price_trades_as_aggressor() {
    let (_, ev) = run(&[
        limit(A, 1, Side::Sell, 101, 3, Tif::Day),
        limit(A, 2, Side::Sell, 102, 3, Tif::Day),
        limit(B, 1, Side::Buy, 99, 10, Tif::Day),
        replace(B, 1, 101, 0),
    ]);
    assert_eq!(
        ev,
        [
            "replaced 3 10x101 leaves 10",
            "level buy 99 0",
            "trade 3x101",
            "fill 1 leaves 0",
            "fill 3 leaves 7",
            "level sell 101 0",
            "level buy 101 7",
        ]
    );
}

#[test]
fn replace_to_total_not_above_filled_is_rejected_and_changes_nothing() {
    let (h, ev) = run(&[
        limit(A, 1, Side::Sell, 101, 10, Tif::Day),
        limit(B, 1, Side::Buy, 101, 4, Tif::Ioc),
        replace(A, 1, 0, 4),
    ]);
    assert_eq!(ev, ["rejected qty_not_above_filled"]);
    assert_eq!(h.engine.levels(S, Side::Sell).collect::<Vec<_>>(), [(Price::from_ticks(101), Qty::from_lots(6))]);
    // Total 5 with 4 filled leaves 1.
    let (_, ev) = run(&[
        limit(A, 1, Side::Sell, 101, 10, Tif::Day),
        limit(B, 1, Side::Buy, 101, 4, Tif::Ioc),
        replace(A, 1, 0, 5),
    ]);
    assert_eq!(ev, ["replaced 1 5x101 leaves 1", "level sell 101 1"]);
}

#[test]
fn post_only_reject_leaves_the_client_order_id_unused() {
    let (_, ev) = run(&[
        limit(A, 1, Side::Sell, 100, 5, Tif::Day),
        post_only(B, 7, Side::Buy, 100, 5),
        post_only(B, 7, Side::Buy, 99, 5),
    ]);
    assert_eq!(ev[0], "accepted 2");
    let (_, ev) = run(&[limit(A, 1, Side::Sell, 100, 5, Tif::Day), post_only(B, 7, Side::Buy, 100, 5), cancel(B, 7)]);
    assert_eq!(ev, ["rejected unknown_order"]);
}

#[test]
fn post_only_replace_to_crossing_price_is_rejected() {
    let (h, ev) =
        run(&[limit(A, 1, Side::Sell, 101, 5, Tif::Day), post_only(B, 1, Side::Buy, 99, 5), replace(B, 1, 101, 0)]);
    assert_eq!(ev, ["rejected post_only_would_take"]);
    assert_eq!(h.engine.levels(S, Side::Buy).collect::<Vec<_>>(), [(Price::from_ticks(99), Qty::from_lots(5))]);
}

#[test]
fn fok_without_enough_liquidity_does_not_trade() {
    let (_, ev) = run(&[
        limit(A, 1, Side::Sell, 100, 5, Tif::Day),
        limit(A, 2, Side::Sell, 102, 5, Tif::Day),
        limit(B, 1, Side::Buy, 101, 6, Tif::Fok),
    ]);
    assert_eq!(ev, ["accepted 3", "cancelled 3 6 fill_or_kill"]);
    let (_, ev) = run(&[
        limit(A, 1, Side::Sell, 100, 5, Tif::Day),
        limit(A, 2, Side::Sell, 102, 5, Tif::Day),
        limit(B, 1, Side::Buy, 102, 6, Tif::Fok),
    ]);
    assert_eq!(
        ev,
        [
            "accepted 3",
            "trade 5x100",
            "fill 1 leaves 0",
            "fill 3 leaves 1",
            "level sell 100 0",
            "trade 1x102",
            "fill 2 leaves 4",
            "fill 3 leaves 0",
            "level sell 102 4",
        ]
    );
}

#[test]
fn market_order_never_rests() {
    let (h, ev) = run(&[limit(A, 1, Side::Sell, 100, 5, Tif::Day), market(B, 1, Side::Buy, 8, Tif::Gtc)]);
    assert_eq!(
        ev,
        [
            "accepted 2",
            "trade 5x100",
            "fill 1 leaves 0",
            "fill 2 leaves 3",
            "level sell 100 0",
            "cancelled 2 3 no_liquidity",
        ]
    );
    assert_eq!(h.engine.resting_orders(), 0);
    let (_, ev) = run(&[market(B, 1, Side::Sell, 8, Tif::Day)]);
    assert_eq!(ev, ["accepted 1", "cancelled 1 8 no_liquidity"]);
}

#[test]
fn unknown_versus_not_working() {
    let (_, ev) = run(&[cancel(A, 3)]);
    assert_eq!(ev, ["rejected unknown_order"]);
    let (_, ev) = run(&[limit(A, 3, Side::Buy, 100, 1, Tif::Day), cancel(A, 3), cancel(A, 3)]);
    assert_eq!(ev, ["rejected order_not_working"]);
    // The id belongs to account A only.
    let (_, ev) = run(&[limit(A, 3, Side::Buy, 100, 1, Tif::Day), replace(B, 3, 101, 0)]);
    assert_eq!(ev, ["rejected unknown_order"]);
    let (_, ev) = run(&[limit(A, 3, Side::Buy, 100, 1, Tif::Ioc), replace(A, 3, 101, 0)]);
    assert_eq!(ev, ["rejected order_not_working"]);
}

#[test]
fn mass_cancel_is_oldest_first_across_symbols() {
    let in_sym_1 = NewOrder { sym: SymbolId(1), ..order(A, 2, Side::Sell, 103, 2, Tif::Day) };
    let (_, ev) = run(&[
        limit(A, 1, Side::Buy, 100, 1, Tif::Day),
        Input::NewOrder(in_sym_1),
        limit(B, 1, Side::Buy, 100, 3, Tif::Day),
        limit(A, 3, Side::Buy, 99, 4, Tif::Gtc),
        replace(A, 1, 98, 0),
        Input::MassCancel(MassCancel { acct: A, sym: None }),
    ]);
    assert_eq!(
        ev,
        [
            "cancelled 1 1 mass_cancel",
            "level buy 98 0",
            "cancelled 2 2 mass_cancel",
            "level sell 103 0",
            "cancelled 4 4 mass_cancel",
            "level buy 99 0",
        ]
    );
}

#[test]
fn bad_orders_are_rejected_in_validation_order() {
    type Tweak = fn(NewOrder) -> NewOrder;
    let bad = |f: Tweak| Input::NewOrder(f(order(A, 1, Side::Buy, 100, 1, Tif::Day)));
    let cases: [(Tweak, &str); 14] = [
        (|o| NewOrder { acct: AccountId(ACCTS), qty: Qty::ZERO, ..o }, "unknown_account"),
        (|o| NewOrder { sym: SymbolId(SYMS), qty: Qty::ZERO, ..o }, "unknown_symbol"),
        (|o| NewOrder { qty: Qty::ZERO, price: Price::NONE, ..o }, "invalid_qty"),
        (|o| NewOrder { qty: Qty::from_lots(MAX_QTY_LOTS + 1), price: Price::NONE, ..o }, "qty_too_large"),
        (|o| NewOrder { price: Price::NONE, tif: Tif::Gtd, ..o }, "invalid_price"),
        (|o| NewOrder { price: Price::from_ticks(MAX_PRICE_TICKS + 1), ..o }, "price_too_large"),
        (|o| NewOrder { ord_type: OrdType::Market, post_only: true, ..o }, "price_not_allowed"),
        (|o| NewOrder { ord_type: OrdType::Market, price: Price::NONE, post_only: true, ..o }, "invalid_order_type"),
        (|o| NewOrder { ord_type: OrdType::Stop, price: Price::NONE, ..o }, "invalid_price"),
        (|o| NewOrder { display: Qty::from_lots(-1), ..o }, "invalid_qty"),
        (
            |o| NewOrder { ord_type: OrdType::Market, price: Price::NONE, display: Qty::from_lots(1), ..o },
            "invalid_order_type",
        ),
        (|o| NewOrder { tif: Tif::Gtd, ..o }, "invalid_expiry"),
        (|o| NewOrder { post_only: true, tif: Tif::Fok, ..o }, "invalid_order_type"),
        (|o| NewOrder { stop_price: Price::from_ticks(90), ..o }, "price_not_allowed"),
    ];
    for (f, want) in cases {
        let (h, ev) = run(&[bad(f), limit(A, 1, Side::Buy, 100, 1, Tif::Day)]);
        // Nothing was used: the same id is accepted afterwards.
        assert_eq!(ev, ["accepted 1", "level buy 100 1"], "{want}");
        let (_, ev) = run(&[bad(f)]);
        assert_eq!(ev, [format!("rejected {want}")]);
        assert_eq!(h.engine.resting_orders(), 1);
    }
}

/// The generators must keep reaching every outcome the property is meant to
/// compare: each reject reason of each command and each cancel reason.
#[test]
fn generated_sequences_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut runner = TestRunner::deterministic();
    for _ in 0..192 {
        let steps = steps().new_tree(&mut runner).expect("a sequence").current();
        let mut h = Harness::new();
        for (i, &(_, _, cmd)) in steps.iter().enumerate() {
            let input = cmd.resolve(&h.model);
            for e in h.step(i as u64, &input).expect("engine and model agree") {
                match e.kind {
                    EventKind::Rejected { cmd, reason, .. } => {
                        seen.insert(format!("{} {}", cmd.as_str(), reason.as_str()));
                    }
                    EventKind::Cancelled { reason, .. } => {
                        seen.insert(format!("cancelled {}", reason.as_str()));
                    }
                    EventKind::Replaced { .. } => {
                        seen.insert("replaced".into());
                    }
                    EventKind::Traded { aggressor, .. } => {
                        seen.insert(if aggressor.is_some() { "traded" } else { "auction traded" }.into());
                    }
                    EventKind::Triggered { .. } => {
                        seen.insert("triggered".into());
                    }
                    EventKind::Expired { order, .. } => {
                        seen.insert("expired".into());
                        let _ = order;
                    }
                    _ => {}
                }
            }
        }
    }
    let want = [
        "new unknown_account",
        "new unknown_symbol",
        "new invalid_qty",
        "new qty_too_large",
        "new invalid_price",
        "new price_too_large",
        "new price_not_allowed",
        "new invalid_order_type",
        "new invalid_expiry",
        "new symbol_halted",
        "new kill_switch",
        "new duplicate_client_order_id",
        "new post_only_would_take",
        "cancel unknown_account",
        "cancel unknown_order",
        "cancel order_not_working",
        "replace unknown_account",
        "replace unknown_order",
        "replace order_not_working",
        "replace invalid_price",
        "replace price_too_large",
        "replace invalid_qty",
        "replace qty_too_large",
        "replace qty_not_above_filled",
        "replace post_only_would_take",
        "replace symbol_halted",
        "replace invalid_order_type",
        "replace price_not_allowed",
        "admin unknown_symbol",
        "admin unknown_account",
        "mass_cancel unknown_account",
        "mass_cancel unknown_symbol",
        "cancelled requested",
        "cancelled mass_cancel",
        "cancelled immediate_or_cancel",
        "cancelled fill_or_kill",
        "cancelled no_liquidity",
        "cancelled self_trade",
        "cancelled kill_switch",
        "cancelled auction_leftover",
        "replaced",
        "traded",
        "auction traded",
        "triggered",
        "expired",
    ];
    let missing: Vec<&str> = want.iter().copied().filter(|w| !seen.contains(*w)).collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
}

/// More working orders than the arena's first chunk (4096) and the id map's
/// initial size, many orders per level, then one sweep through all of it.
#[test]
fn deep_book_past_the_preallocated_capacity() {
    let mut engine = new_engine();
    let mut model = Model::new();
    let mut t = 0;
    let mut step = |engine: &mut Engine<Permissive>, model: &mut Model, input: Input| {
        t += 1;
        let mut got = Vec::new();
        engine.process(Nanos(t), &input, &mut got);
        assert_eq!(got, model.process(t, &input), "{input:?}");
        got
    };
    let n = 4_200u64;
    for i in 0..n {
        let acct = AccountId((i % 2) as u32);
        let px = 1_000 + (i * 7 % 300) as i64;
        step(&mut engine, &mut model, limit(acct, i, Side::Sell, px, 1 + (i % 3) as i64, Tif::Gtc));
    }
    for i in (0..n).step_by(5) {
        step(&mut engine, &mut model, cancel(AccountId((i % 2) as u32), i));
    }
    assert_eq!(engine.validate(), Ok(()));
    assert_eq!(engine.resting_orders(), model.orders.len());
    assert_eq!(engine.levels(S, Side::Sell).collect::<Vec<_>>(), model.depth(0, Side::Sell));
    let open: i64 = model.orders.iter().map(|o| o.leaves).sum();
    let ev = step(&mut engine, &mut model, market(B, n, Side::Buy, open - 1, Tif::Ioc));
    let trades = ev.iter().filter(|e| matches!(e.kind, EventKind::Traded { .. })).count();
    assert_eq!(trades, model.next_trade as usize - 1);
    assert_eq!(engine.validate(), Ok(()));
    assert_eq!(engine.resting_orders(), 1);
    assert_eq!(engine.levels(S, Side::Sell).collect::<Vec<_>>(), model.depth(0, Side::Sell));
    assert_eq!(model.depth(0, Side::Sell), [(Price::from_ticks(1_299), Qty::from_lots(1))]);
}
