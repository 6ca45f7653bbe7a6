//! The engine state machine: `Engine<R: PreTradeCheck>::process(time, input, sink)`.
//!
//! Sans-IO and deterministic: no clock, no randomness, no threads, no hash
//! map iteration. Each input gets the next sequence number and the engine
//! time `max(previous, time)`; the events it causes go to the caller's sink.
//!
//! Complexity per command: new order O(log levels + fills), cancel O(1)
//! expected plus O(log levels) when a level empties, replace as cancel plus
//! new, mass cancel O(orders of the account). No allocation in a steady
//! state: the arena, the id map and the level vectors grow only when the
//! number of working orders or levels reaches a new high.

use crate::book::*;
use crate::check::{OrderCheck, PreTradeCheck};
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
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { order_capacity: 4096, levels_per_side: 64 }
    }
}

/// Per-account settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountSpec {
    /// Self-trade prevention mode.
    pub stp: StpMode,
}

#[derive(Clone, Debug)]
struct Account {
    spec: AccountSpec,
    used: ClidSet,
    /// Working orders of the account, oldest first (linked by `acct_prev/next`).
    head: u32,
    tail: u32,
    open: u32,
}

/// The matching engine.
pub struct Engine<R: PreTradeCheck> {
    check: R,
    seq: u64,
    now: Nanos,
    next_order_id: u64,
    next_trade_id: u64,
    levels_per_side: usize,
    instruments: Vec<Instrument>,
    books: Vec<Book>,
    accounts: Vec<Account>,
    orders: Arena,
    levels: Levels,
    live: LiveMap,
}

#[inline]
fn crosses(side: Side, limit: i64, px: i64) -> bool {
    match side {
        Side::Buy => px <= limit,
        Side::Sell => px >= limit,
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
            levels_per_side: config.levels_per_side,
            instruments: Vec::new(),
            books: Vec::new(),
            accounts: Vec::new(),
            orders: Arena::with_capacity(config.order_capacity),
            levels: Levels::new(),
            live: LiveMap::with_capacity(config.order_capacity),
        }
    }

    /// Adds an instrument (configuration, not the hot path).
    pub fn add_instrument(&mut self, instrument: Instrument) -> SymbolId {
        self.instruments.push(instrument);
        let n = self.levels_per_side;
        self.books.push(Book { sides: [Vec::with_capacity(n), Vec::with_capacity(n)] });
        SymbolId((self.instruments.len() - 1) as u32)
    }

    /// Adds an account (configuration, not the hot path).
    pub fn add_account(&mut self, spec: AccountSpec) -> AccountId {
        self.accounts.push(Account { spec, used: ClidSet::default(), head: NIL, tail: NIL, open: 0 });
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

    /// Working orders resting in the books.
    pub fn resting_orders(&self) -> usize {
        self.orders.live()
    }

    /// Working orders of an account.
    pub fn open_orders(&self, acct: AccountId) -> u32 {
        self.accounts.get(acct.0 as usize).map_or(0, |a| a.open)
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
            Input::MassCancel(_) | Input::Tick => return,
        };
        self.live.prefetch(hash_key(acct.0, clid.0));
        if let Some(a) = self.accounts.get(acct.0 as usize) {
            optix_ring::prefetch(a);
        }
    }

    /// Processes one input at ingress time `time`.
    pub fn process(&mut self, time: Nanos, input: &Input, out: &mut impl EventSink) {
        self.seq += 1;
        if time > self.now {
            self.now = time;
        }
        match input {
            Input::NewOrder(o) => self.on_new(o, out),
            Input::CancelOrder(c) => self.on_cancel(c, out),
            Input::ReplaceOrder(r) => self.on_replace(r, out),
            Input::MassCancel(m) => self.on_mass_cancel(m, out),
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
            OrdType::Limit => {
                if o.price.ticks() <= 0 {
                    return Err(RejectReason::InvalidPrice);
                }
                if o.price.ticks() > MAX_PRICE_TICKS {
                    return Err(RejectReason::PriceTooLarge);
                }
            }
            OrdType::Market => {
                if !o.price.is_none() {
                    return Err(RejectReason::PriceNotAllowed);
                }
                if o.post_only {
                    return Err(RejectReason::InvalidOrderType);
                }
            }
            OrdType::Stop | OrdType::StopLimit => return Err(RejectReason::NotSupported),
        }
        if !o.stop_price.is_none() {
            return Err(RejectReason::PriceNotAllowed);
        }
        if !o.display.is_zero() || matches!(o.tif, Tif::Gtd | Tif::Opg | Tif::Cls) {
            return Err(RejectReason::NotSupported);
        }
        if o.post_only && matches!(o.tif, Tif::Ioc | Tif::Fok) {
            return Err(RejectReason::InvalidOrderType);
        }
        if self.accounts[o.acct.0 as usize].used.contains(o.clid.0) {
            return Err(RejectReason::DuplicateClientOrderId);
        }
        Ok(())
    }

    fn on_new(&mut self, o: &NewOrder, out: &mut impl EventSink) {
        let mut oref = OrderRef { acct: o.acct, clid: o.clid, id: OrderId(0) };
        if let Err(r) = self.validate_new(o) {
            return self.reject(out, oref, CmdKind::New, r);
        }
        // The order may rest: start loading its id-map bucket now.
        self.live.prefetch(hash_key(o.acct.0, o.clid.0));
        // From here the client order id counts as used today.
        self.accounts[o.acct.0 as usize].used.insert(o.clid.0);
        let chk = OrderCheck {
            acct: o.acct,
            sym: o.sym,
            side: o.side,
            ord_type: o.ord_type,
            tif: o.tif,
            price: o.price,
            qty: o.qty,
            prev_qty: Qty::ZERO,
            prev_price: Price::NONE,
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
            },
        );
        if o.tif == Tif::Fok && self.available(o.sym, o.side, limit, o.qty.lots()) < o.qty.lots() {
            return self.emit(
                out,
                EventKind::Cancelled { order: oref, sym: o.sym, qty: o.qty, reason: CancelReason::FillOrKill },
            );
        }
        let leaves = self.match_taker(o.sym, o.side, limit, oref, o.qty.lots(), out);
        if leaves == 0 {
            return;
        }
        let reason = if o.ord_type == OrdType::Market {
            Some(CancelReason::NoLiquidity)
        } else {
            match o.tif {
                Tif::Ioc => Some(CancelReason::ImmediateOrCancel),
                Tif::Fok => Some(CancelReason::FillOrKill),
                _ => None,
            }
        };
        if let Some(reason) = reason {
            return self
                .emit(out, EventKind::Cancelled { order: oref, sym: o.sym, qty: Qty::from_lots(leaves), reason });
        }
        let slot = self.orders.alloc();
        *self.orders.get_mut(slot) = Order {
            id: oref.id.0,
            clid: o.clid.0,
            price: o.price.ticks(),
            leaves,
            filled: o.qty.lots() - leaves,
            shown: leaves,
            prev: NIL,
            next: NIL,
            acct_prev: NIL,
            acct_next: NIL,
            level: NIL,
            acct: o.acct.0,
            sym: o.sym.0,
            side: o.side,
            tif: o.tif,
            ord_type: o.ord_type,
            flags: if o.post_only { FLAG_POST_ONLY } else { 0 },
        };
        self.live.insert(hash_key(o.acct.0, o.clid.0), slot);
        self.link_account(slot);
        self.rest(slot, out);
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

    /// Quantity available to an aggressor within `limit`, counting hidden
    /// reserve, stopping once `want` is reached.
    fn available(&self, sym: SymbolId, side: Side, limit: i64, want: i64) -> i64 {
        let opp = side.opposite();
        let mut sum = 0i64;
        for r in self.books[sym.0 as usize].sides[opp as usize].iter().rev() {
            if !crosses(side, limit, key_price(opp, r.key)) || sum >= want {
                break;
            }
            sum += self.levels.get(r.level).total;
        }
        sum
    }

    /// Matches an aggressor against the opposite side up to `limit`; returns
    /// its leaves. Emits trades, fills and level updates.
    fn match_taker(
        &mut self,
        sym: SymbolId,
        side: Side,
        limit: i64,
        taker: OrderRef,
        mut leaves: i64,
        out: &mut impl EventSink,
    ) -> i64 {
        let opp = side.opposite();
        let b = sym.0 as usize;
        while leaves > 0 {
            let Some(&top) = self.books[b].sides[opp as usize].last() else { break };
            let px = key_price(opp, top.key);
            if !crosses(side, limit, px) {
                break;
            }
            let lvl = top.level;
            while leaves > 0 {
                let head = self.levels.get(lvl).head;
                if head == NIL {
                    break;
                }
                let m = self.orders.get_mut(head);
                let q = leaves.min(m.shown);
                m.shown -= q;
                m.leaves -= q;
                m.filled += q;
                let maker = OrderRef { acct: AccountId(m.acct), clid: ClientOrderId(m.clid), id: OrderId(m.id) };
                let maker_leaves = m.leaves;
                let maker_done = m.leaves == 0;
                if maker_done {
                    self.live.prefetch(hash_key(maker.acct.0, maker.clid.0));
                }
                let l = self.levels.get_mut(lvl);
                l.shown -= q;
                l.total -= q;
                leaves -= q;
                let trade_id = TradeId(self.next_trade_id);
                self.next_trade_id += 1;
                let (buy, sell) = match side {
                    Side::Buy => (taker, maker),
                    Side::Sell => (maker, taker),
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
                        order: taker,
                        sym,
                        side,
                        price,
                        qty,
                        leaves: Qty::from_lots(leaves),
                        liq: Liquidity::Taker,
                        trade_id,
                        fee: Money::ZERO,
                    },
                );
                if maker_done {
                    self.pop_head(lvl, head);
                    self.close(head);
                }
            }
            let l = *self.levels.get(lvl);
            self.emit(
                out,
                EventKind::LevelChanged { sym, side: opp, price: Price::from_ticks(px), qty: Qty::from_lots(l.shown) },
            );
            if l.count == 0 {
                self.books[b].sides[opp as usize].pop();
                self.levels.release(lvl);
            } else {
                break;
            }
        }
        leaves
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

    /// Unlinks the filled head order of a level during matching; the
    /// matching loop removes the level itself when it empties.
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

    /// Forgets a working order that is no longer in a level: account list,
    /// id map, arena slot.
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
        self.live.remove(hash_key(o.acct, o.clid), slot);
        self.orders.release(slot);
    }

    fn find_live(&self, acct: AccountId, clid: ClientOrderId) -> Option<u32> {
        let orders = &self.orders;
        self.live.get(hash_key(acct.0, clid.0), |s| {
            let o = orders.get(s);
            o.acct == acct.0 && o.clid == clid.0
        })
    }

    /// Finds a working order or says why not.
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

    /// Cancels a working order in a level with `reason`.
    fn cancel_slot(&mut self, slot: u32, reason: CancelReason, out: &mut impl EventSink) {
        let o = *self.orders.get(slot);
        let oref = self.order_ref(slot);
        let shown = self.unlink_level(slot);
        self.close(slot);
        let sym = SymbolId(o.sym);
        self.emit(out, EventKind::Cancelled { order: oref, sym, qty: Qty::from_lots(o.leaves), reason });
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

    fn on_cancel(&mut self, c: &CancelOrder, out: &mut impl EventSink) {
        match self.lookup(c.acct, c.clid) {
            Ok(slot) => self.cancel_slot(slot, CancelReason::Requested, out),
            Err(r) => {
                let oref = OrderRef { acct: c.acct, clid: c.clid, id: OrderId(0) };
                self.reject(out, oref, CmdKind::Cancel, r);
            }
        }
    }

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
                self.cancel_slot(s, CancelReason::MassCancel, out);
            }
            s = next;
        }
    }

    fn on_replace(&mut self, r: &ReplaceOrder, out: &mut impl EventSink) {
        let reject_ref = OrderRef { acct: r.acct, clid: r.clid, id: OrderId(0) };
        let slot = match self.lookup(r.acct, r.clid) {
            Ok(s) => s,
            Err(e) => return self.reject(out, reject_ref, CmdKind::Replace, e),
        };
        let o = *self.orders.get(slot);
        let oref = self.order_ref(slot);
        let new_price = if r.price.is_none() { o.price } else { r.price.ticks() };
        let old_total = o.filled + o.leaves;
        let new_total = if r.qty.is_zero() { old_total } else { r.qty.lots() };
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
        if let Some(e) = invalid {
            return self.reject(out, oref, CmdKind::Replace, e);
        }
        let new_leaves = new_total - o.filled;
        let chk = OrderCheck {
            acct: AccountId(o.acct),
            sym: SymbolId(o.sym),
            side: o.side,
            ord_type: o.ord_type,
            tif: o.tif,
            price: Price::from_ticks(new_price),
            qty: Qty::from_lots(new_leaves),
            prev_qty: Qty::from_lots(o.leaves),
            prev_price: Price::from_ticks(o.price),
        };
        if let Err(e) = self.check.check_replace(self.now, &chk) {
            return self.reject(out, oref, CmdKind::Replace, e);
        }
        let sym = SymbolId(o.sym);
        let crossing = new_price != o.price && self.would_cross(sym, o.side, new_price);
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
            },
        );
        if new_price == o.price && new_total <= old_total {
            // Same price, not more: reduce in place, priority kept.
            if new_total == old_total {
                return;
            }
            let cut = o.leaves - new_leaves;
            let n = self.orders.get_mut(slot);
            n.leaves = new_leaves;
            n.shown -= cut;
            let l = self.levels.get_mut(o.level);
            l.shown -= cut;
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
        let leaves =
            if crossing { self.match_taker(sym, o.side, new_price, oref, new_leaves, out) } else { new_leaves };
        let n = self.orders.get_mut(slot);
        n.price = new_price;
        n.leaves = leaves;
        n.shown = leaves;
        n.filled = new_total - leaves;
        if leaves == 0 {
            self.close(slot);
        } else {
            self.rest(slot, out);
        }
    }

    /// A stable hash of the whole state (FNV-1a over a canonical walk):
    /// counters, every book level by level in price order with its orders in
    /// queue order, every account with its used client order ids and its
    /// working orders in age order. Two engines that processed the same
    /// inputs have the same hash.
    pub fn state_hash(&self) -> u64 {
        let mut h = Fnv::new();
        h.u64(self.seq);
        h.u64(self.now.0);
        h.u64(self.next_order_id);
        h.u64(self.next_trade_id);
        for (i, (ins, book)) in self.instruments.iter().zip(&self.books).enumerate() {
            h.u64(i as u64);
            h.u64(ins.tick_units as u64);
            h.u64(ins.lot_size as u64);
            h.u64(u64::from(ins.decimals) | (ins.mode as u64) << 8);
            h.u64(ins.ref_price.ticks() as u64);
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
                        let o = self.orders.get(s);
                        self.hash_order(&mut h, o);
                        s = o.next;
                    }
                }
            }
        }
        for a in &self.accounts {
            h.u64(a.spec.stp as u64);
            h.u64(u64::from(a.open));
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

    fn hash_order(&self, h: &mut Fnv, o: &Order) {
        h.u64(o.id);
        h.u64(o.clid);
        h.u64(o.price as u64);
        h.u64(o.leaves as u64);
        h.u64(o.filled as u64);
        h.u64(o.shown as u64);
        h.u64(u64::from(o.acct) | u64::from(o.sym) << 32);
        h.u64(o.side as u64 | (o.tif as u64) << 8 | (o.ord_type as u64) << 16 | u64::from(o.flags) << 24);
    }

    /// Checks every internal invariant; `Err` names the first one broken.
    /// O(state): for tests and debugging, not the hot path.
    pub fn validate(&self) -> Result<(), String> {
        let mut resting = 0usize;
        let mut per_acct = vec![0u32; self.accounts.len()];
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
            }
            if let (Some(bid), Some(ask)) = (book.sides[0].last(), book.sides[1].last()) {
                if bid.key >= -ask.key {
                    return Err(format!("sym {b}: book crossed"));
                }
            }
        }
        if resting != self.orders.live() || resting != self.live.len() {
            return Err(format!("resting {resting} vs arena {} vs id map {}", self.orders.live(), self.live.len()));
        }
        for (i, a) in self.accounts.iter().enumerate() {
            let (mut n, mut prev, mut s) = (0u32, NIL, a.head);
            while s != NIL {
                let o = self.orders.get(s);
                if o.acct_prev != prev || o.acct as usize != i {
                    return Err(format!("account {i}: order list badly linked"));
                }
                n += 1;
                prev = s;
                s = o.acct_next;
            }
            if n != a.open || n != per_acct[i] || prev != a.tail {
                return Err(format!("account {i}: {n} listed, {} open, {} in books", a.open, per_acct[i]));
            }
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
