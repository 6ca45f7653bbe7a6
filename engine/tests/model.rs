//! Model-based test of the engine's order semantics.
//!
//! `Model` is a deliberately naive reference book that shares no code with
//! the engine: every resting order of every symbol sits in one plain `Vec`,
//! the best price is found by scanning, FIFO priority is an arrival counter,
//! and the client order ids used today are a `BTreeSet`. It implements the
//! order contract of ARCHITECTURE.md ("Order semantics") for what the engine
//! supports today (limit DAY/GTC/IOC/FOK, market, post-only, cancel, replace,
//! mass cancel, duplicate and unknown ids, bad orders) and produces the same
//! `Event` values in the order documented at the top of `engine/src/event.rs`.
//!
//! The property runs random sequences of new / cancel / replace / crossing /
//! mass-cancel / bad orders through the engine and the model and checks after
//! every step: identical events, identical depth of every symbol and side,
//! `Engine::validate`, and the number of resting orders (in all and per
//! account). The case count can be raised with `PROPTEST_CASES`.

use std::collections::{BTreeMap, BTreeSet};

use optix_engine::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Symbols configured in both engine and model; id `SYMS` is unknown.
const SYMS: u32 = 3;
/// Accounts configured in both engine and model; id `ACCTS` is unknown.
const ACCTS: u32 = 4;
/// Client order ids are drawn from `0..CLIDS`, so duplicates and cancels of
/// unknown or finished orders happen often.
const CLIDS: u64 = 40;

// ---------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------

/// A resting order in the model.
#[derive(Clone, Debug)]
struct Resting {
    id: u64,
    acct: u32,
    clid: u64,
    sym: u32,
    side: Side,
    price: i64,
    leaves: i64,
    filled: i64,
    /// FIFO priority within a price: lower arrived earlier.
    arrival: u64,
    post_only: bool,
}

impl Resting {
    fn oref(&self) -> OrderRef {
        OrderRef { acct: AccountId(self.acct), clid: ClientOrderId(self.clid), id: OrderId(self.id) }
    }
}

/// The naive reference book.
#[derive(Debug, Default)]
struct Model {
    seq: u64,
    now: u64,
    next_id: u64,
    next_trade: u64,
    next_arrival: u64,
    /// Every resting order of every symbol, in no particular order.
    orders: Vec<Resting>,
    /// `(account, client order id)` used today.
    used: BTreeSet<(u32, u64)>,
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

impl Model {
    fn new() -> Self {
        Model { next_id: 1, next_trade: 1, ..Model::default() }
    }

    fn emit(&mut self, kind: EventKind) {
        self.events.push(Event { seq: Seq(self.seq), time: Nanos(self.now), kind });
    }

    fn process(&mut self, time: u64, input: &Input) -> Vec<Event> {
        self.seq += 1;
        self.now = self.now.max(time);
        match input {
            Input::NewOrder(o) => self.new_order(o),
            Input::CancelOrder(c) => self.cancel(c),
            Input::ReplaceOrder(r) => self.replace(r),
            Input::MassCancel(m) => self.mass_cancel(m),
            Input::Tick => {}
        }
        std::mem::take(&mut self.events)
    }

    /// Aggregate open quantity at one price.
    fn level_qty(&self, sym: u32, side: Side, price: i64) -> i64 {
        self.orders.iter().filter(|o| o.sym == sym && o.side == side && o.price == price).map(|o| o.leaves).sum()
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
        for o in &self.orders {
            if o.sym == sym && o.side == side {
                *by_price.entry(o.price).or_default() += o.leaves;
            }
        }
        let mut v: Vec<(Price, Qty)> =
            by_price.into_iter().map(|(p, q)| (Price::from_ticks(p), Qty::from_lots(q))).collect();
        if side == Side::Buy {
            v.reverse();
        }
        v
    }

    /// Best price resting on `side`, by scanning.
    fn best(&self, sym: u32, side: Side) -> Option<i64> {
        let mut best: Option<i64> = None;
        for o in &self.orders {
            if o.sym == sym && o.side == side && best.is_none_or(|b| better(side, o.price, b)) {
                best = Some(o.price);
            }
        }
        best
    }

    /// Index of the oldest order at one price, by scanning.
    fn oldest_at(&self, sym: u32, side: Side, price: i64) -> Option<usize> {
        let mut found: Option<usize> = None;
        for (i, o) in self.orders.iter().enumerate() {
            if o.sym == sym
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

    /// Open quantity an aggressor could reach within `limit`.
    fn reachable(&self, sym: u32, side: Side, limit: Option<i64>) -> i64 {
        let opp = side.opposite();
        self.orders
            .iter()
            .filter(|o| o.sym == sym && o.side == opp && model_crosses(side, limit, o.price))
            .map(|o| o.leaves)
            .sum()
    }

    /// Trades an aggressor against the opposite side; returns its leaves.
    fn match_taker(&mut self, sym: u32, side: Side, limit: Option<i64>, taker: OrderRef, mut leaves: i64) -> i64 {
        let opp = side.opposite();
        while leaves > 0 {
            let Some(px) = self.best(sym, opp) else { break };
            if !model_crosses(side, limit, px) {
                break;
            }
            while leaves > 0 {
                let Some(i) = self.oldest_at(sym, opp, px) else {
                    break;
                };
                let m = &mut self.orders[i];
                let q = leaves.min(m.leaves);
                m.leaves -= q;
                m.filled += q;
                leaves -= q;
                let maker = m.oref();
                let maker_leaves = m.leaves;
                let trade_id = TradeId(self.next_trade);
                self.next_trade += 1;
                let (buy, sell) = if side == Side::Buy { (taker, maker) } else { (maker, taker) };
                let price = Price::from_ticks(px);
                let qty = Qty::from_lots(q);
                let sym = SymbolId(sym);
                self.emit(EventKind::Traded { trade_id, sym, price, qty, buy, sell, aggressor: Some(side) });
                self.emit(EventKind::Filled {
                    order: maker,
                    sym,
                    side: opp,
                    price,
                    qty,
                    leaves: Qty::from_lots(maker_leaves),
                    liq: Liquidity::Maker,
                    trade_id,
                    fee: Money::ZERO,
                });
                self.emit(EventKind::Filled {
                    order: taker,
                    sym,
                    side,
                    price,
                    qty,
                    leaves: Qty::from_lots(leaves),
                    liq: Liquidity::Taker,
                    trade_id,
                    fee: Money::ZERO,
                });
                if maker_leaves == 0 {
                    self.orders.remove(i);
                }
            }
            self.emit_level(sym, opp, px);
        }
        leaves
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
        let price = o.price.ticks();
        match o.ord_type {
            OrdType::Limit if price <= 0 => return Err(RejectReason::InvalidPrice),
            OrdType::Limit if price > MAX_PRICE_TICKS => return Err(RejectReason::PriceTooLarge),
            OrdType::Limit => {}
            OrdType::Market if price != 0 => return Err(RejectReason::PriceNotAllowed),
            OrdType::Market if o.post_only => return Err(RejectReason::InvalidOrderType),
            OrdType::Market => {}
            OrdType::Stop | OrdType::StopLimit => return Err(RejectReason::NotSupported),
        }
        if o.stop_price.ticks() != 0 {
            return Err(RejectReason::PriceNotAllowed);
        }
        if o.display.lots() != 0 || [Tif::Gtd, Tif::Opg, Tif::Cls].contains(&o.tif) {
            return Err(RejectReason::NotSupported);
        }
        if o.post_only && (o.tif == Tif::Ioc || o.tif == Tif::Fok) {
            return Err(RejectReason::InvalidOrderType);
        }
        if self.used.contains(&(o.acct.0, o.clid.0)) {
            return Err(RejectReason::DuplicateClientOrderId);
        }
        Ok(())
    }

    fn new_order(&mut self, o: &NewOrder) {
        let mut oref = OrderRef { acct: o.acct, clid: o.clid, id: OrderId(0) };
        if let Err(reason) = self.validate_new(o) {
            return self.emit(EventKind::Rejected { order: oref, cmd: CmdKind::New, reason });
        }
        self.used.insert((o.acct.0, o.clid.0));
        let (sym, side) = (o.sym.0, o.side);
        let limit = if o.ord_type == OrdType::Market { None } else { Some(o.price.ticks()) };
        let would_take = self.best(sym, side.opposite()).is_some_and(|px| model_crosses(side, limit, px));
        if o.post_only && would_take {
            let reason = RejectReason::PostOnlyWouldTake;
            return self.emit(EventKind::Rejected { order: oref, cmd: CmdKind::New, reason });
        }
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
        });
        let qty = o.qty.lots();
        if o.tif == Tif::Fok && self.reachable(sym, side, limit) < qty {
            let reason = CancelReason::FillOrKill;
            return self.emit(EventKind::Cancelled { order: oref, sym: o.sym, qty: o.qty, reason });
        }
        let leaves = self.match_taker(sym, side, limit, oref, qty);
        if leaves == 0 {
            return;
        }
        let reason = match (o.ord_type, o.tif) {
            (OrdType::Market, _) => Some(CancelReason::NoLiquidity),
            (_, Tif::Ioc) => Some(CancelReason::ImmediateOrCancel),
            (_, Tif::Fok) => Some(CancelReason::FillOrKill),
            _ => None,
        };
        if let Some(reason) = reason {
            let qty = Qty::from_lots(leaves);
            return self.emit(EventKind::Cancelled { order: oref, sym: o.sym, qty, reason });
        }
        let arrival = self.next_arrival;
        self.next_arrival += 1;
        self.orders.push(Resting {
            id: oref.id.0,
            acct: o.acct.0,
            clid: o.clid.0,
            sym,
            side,
            price: o.price.ticks(),
            leaves,
            filled: qty - leaves,
            arrival,
            post_only: o.post_only,
        });
        self.emit_level(sym, side, o.price.ticks());
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

    /// Removes a resting order and emits `cancelled` and its level update.
    fn cancel_at(&mut self, i: usize, reason: CancelReason) {
        let o = self.orders.remove(i);
        let (sym, qty) = (SymbolId(o.sym), Qty::from_lots(o.leaves));
        self.emit(EventKind::Cancelled { order: o.oref(), sym, qty, reason });
        self.emit_level(o.sym, o.side, o.price);
    }

    fn cancel(&mut self, c: &CancelOrder) {
        match self.lookup(c.acct, c.clid) {
            Ok(i) => self.cancel_at(i, CancelReason::Requested),
            Err(reason) => {
                let order = OrderRef { acct: c.acct, clid: c.clid, id: OrderId(0) };
                self.emit(EventKind::Rejected { order, cmd: CmdKind::Cancel, reason });
            }
        }
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
        // Oldest first: order ids are given in acceptance order.
        let mut ids: Vec<u64> = self
            .orders
            .iter()
            .filter(|o| o.acct == m.acct.0 && m.sym.is_none_or(|s| s.0 == o.sym))
            .map(|o| o.id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            let i = self.orders.iter().position(|o| o.id == id).expect("listed order rests");
            self.cancel_at(i, CancelReason::MassCancel);
        }
    }

    fn replace(&mut self, r: &ReplaceOrder) {
        let i = match self.lookup(r.acct, r.clid) {
            Ok(i) => i,
            Err(reason) => {
                let order = OrderRef { acct: r.acct, clid: r.clid, id: OrderId(0) };
                return self.emit(EventKind::Rejected { order, cmd: CmdKind::Replace, reason });
            }
        };
        let o = self.orders[i].clone();
        let oref = o.oref();
        let new_price = if r.price.ticks() == 0 { o.price } else { r.price.ticks() };
        let old_total = o.filled + o.leaves;
        let new_total = if r.qty.lots() == 0 { old_total } else { r.qty.lots() };
        let invalid = if new_price <= 0 {
            Some(RejectReason::InvalidPrice)
        } else if new_price > MAX_PRICE_TICKS {
            Some(RejectReason::PriceTooLarge)
        } else if new_total < 0 {
            Some(RejectReason::InvalidQty)
        } else if new_total > MAX_QTY_LOTS {
            Some(RejectReason::QtyTooLarge)
        } else if new_total <= o.filled {
            Some(RejectReason::QtyNotAboveFilled)
        } else {
            None
        };
        if let Some(reason) = invalid {
            return self.emit(EventKind::Rejected { order: oref, cmd: CmdKind::Replace, reason });
        }
        let new_leaves = new_total - o.filled;
        let crossing = self.best(o.sym, o.side.opposite()).is_some_and(|px| model_crosses(o.side, Some(new_price), px));
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
        });
        if new_price == o.price && new_total <= old_total {
            if new_total < old_total {
                // Less at the same price: in place, priority kept.
                self.orders[i].leaves = new_leaves;
                self.emit_level(o.sym, o.side, o.price);
            }
            return;
        }
        // Priority lost: out of the old level, trade if crossing, then to the
        // back of the new level.
        self.orders.remove(i);
        self.emit_level(o.sym, o.side, o.price);
        let leaves = self.match_taker(o.sym, o.side, Some(new_price), oref, new_leaves);
        if leaves > 0 {
            let arrival = self.next_arrival;
            self.next_arrival += 1;
            self.orders.push(Resting { price: new_price, leaves, filled: new_total - leaves, arrival, ..o });
            self.emit_level(o.sym, o.side, new_price);
        }
    }
}

// ---------------------------------------------------------------------------
// Engine and model side by side
// ---------------------------------------------------------------------------

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
    for _ in 0..ACCTS {
        engine.add_account(AccountSpec { stp: StpMode::None });
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
        let mut got = Vec::new();
        self.engine.process(Nanos(time), input, &mut got);
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
        prop_assert_eq!(self.engine.resting_orders(), self.model.orders.len());
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
        1 => Just((OrdType::Stop, Price::NONE)),
        1 => price().prop_map(|p| (OrdType::StopLimit, p)),
    ]
}

fn tif() -> impl Strategy<Value = Tif> {
    prop_oneof![
        30 => Just(Tif::Day),
        20 => Just(Tif::Gtc),
        6 => Just(Tif::Ioc),
        6 => Just(Tif::Fok),
        1 => Just(Tif::Gtd),
        1 => Just(Tif::Opg),
        1 => Just(Tif::Cls),
    ]
}

/// `(stop price, display)`: mostly neither.
fn extras() -> impl Strategy<Value = (Price, Qty)> {
    prop_oneof![
        100 => Just((Price::NONE, Qty::ZERO)),
        1 => Just((Price::from_ticks(100), Qty::ZERO)),
        1 => Just((Price::NONE, Qty::from_lots(5))),
    ]
}

fn new_order() -> impl Strategy<Value = Input> {
    (acct(), clid(), sym(), side(), type_and_price(), tif(), qty(), prop::bool::weighted(0.1), extras()).prop_map(
        |(acct, clid, sym, side, (ord_type, price), tif, qty, post_only, (stop_price, display))| {
            Input::NewOrder(NewOrder {
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
            })
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
    CancelWorking(usize),
    ReplaceWorking(usize, Price, Qty),
}

impl Cmd {
    /// The concrete input, given the working orders (the model's).
    fn resolve(self, model: &Model) -> Input {
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
    prop_oneof![
        20 => new_order().prop_map(Cmd::Input),
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
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

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
fn post_only_reject_uses_the_client_order_id() {
    let (_, ev) = run(&[
        limit(A, 1, Side::Sell, 100, 5, Tif::Day),
        post_only(B, 7, Side::Buy, 100, 5),
        post_only(B, 7, Side::Buy, 99, 5),
    ]);
    assert_eq!(ev, ["rejected duplicate_client_order_id"]);
    let (_, ev) = run(&[limit(A, 1, Side::Sell, 100, 5, Tif::Day), post_only(B, 7, Side::Buy, 100, 5), cancel(B, 7)]);
    assert_eq!(ev, ["rejected order_not_working"]);
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
    let cases: [(Tweak, &str); 12] = [
        (|o| NewOrder { acct: AccountId(ACCTS), qty: Qty::ZERO, ..o }, "unknown_account"),
        (|o| NewOrder { sym: SymbolId(SYMS), qty: Qty::ZERO, ..o }, "unknown_symbol"),
        (|o| NewOrder { qty: Qty::ZERO, price: Price::NONE, ..o }, "invalid_qty"),
        (|o| NewOrder { qty: Qty::from_lots(MAX_QTY_LOTS + 1), price: Price::NONE, ..o }, "qty_too_large"),
        (|o| NewOrder { price: Price::NONE, tif: Tif::Gtd, ..o }, "invalid_price"),
        (|o| NewOrder { price: Price::from_ticks(MAX_PRICE_TICKS + 1), ..o }, "price_too_large"),
        (|o| NewOrder { ord_type: OrdType::Market, post_only: true, ..o }, "price_not_allowed"),
        (|o| NewOrder { ord_type: OrdType::Market, price: Price::NONE, post_only: true, ..o }, "invalid_order_type"),
        (|o| NewOrder { ord_type: OrdType::Stop, ..o }, "not_supported"),
        (|o| NewOrder { display: Qty::from_lots(1), ..o }, "not_supported"),
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
    for _ in 0..64 {
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
                    EventKind::Traded { .. } => {
                        seen.insert("traded".into());
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
        "new not_supported",
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
        "mass_cancel unknown_account",
        "mass_cancel unknown_symbol",
        "cancelled requested",
        "cancelled mass_cancel",
        "cancelled immediate_or_cancel",
        "cancelled fill_or_kill",
        "cancelled no_liquidity",
        "replaced",
        "traded",
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
