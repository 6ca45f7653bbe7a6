//! The order contract of ARCHITECTURE.md ("Order semantics"), one test per
//! line, for plain orders: types, time in force, priority, cancel, replace,
//! ids, validation. Stops, reserve orders, self-trade prevention, expiry,
//! halts, the kill switch and auctions have their own files (`stops.rs`,
//! `reserve.rs`, `stp.rs`, `expiry.rs`, `halt_kill.rs`, `auction.rs`).
//!
//! Every test drives `Engine<Permissive>` (or a custom check where risk is
//! the point) through `process`, asserts the exact events of each input
//! (rendered by [`show`] with every field of the event, so kinds,
//! quantities, prices, reasons and their order are all pinned), the depth
//! afterwards, and `validate()` after every input.

use optix_engine::scenario::{apply, Parser, Step};
use optix_engine::*;

const A: AccountId = AccountId(0);
const B: AccountId = AccountId(1);
const C: AccountId = AccountId(2);
const S: SymbolId = SymbolId(0);
const S1: SymbolId = SymbolId(1);

fn acct_name(a: AccountId) -> String {
    match a.0 {
        0 => "A".into(),
        1 => "B".into(),
        2 => "C".into(),
        n => format!("acct{n}"),
    }
}

fn oref(o: &OrderRef) -> String {
    format!("{}/{}#{}", acct_name(o.acct), o.clid.0, o.id.0)
}

/// One event as text, with every field of its kind (not `seq` and `time`,
/// which [`events_carry_the_inputs_seq_and_engine_time`] pins).
fn show(ev: &Event) -> String {
    match ev.kind {
        EventKind::Accepted { order, sym, side, ord_type, tif, price, qty, stop, display } => {
            let mut s = format!(
                "accepted {} s{} {} {} {} px={} qty={}",
                oref(&order),
                sym.0,
                side.as_str(),
                ord_type.as_str(),
                tif.as_str(),
                price.ticks(),
                qty.lots()
            );
            if !stop.is_none() {
                s += &format!(" stop={}", stop.ticks());
            }
            if !display.is_zero() {
                s += &format!(" display={}", display.lots());
            }
            s
        }
        EventKind::Rejected { order, cmd, reason } => {
            format!("rejected {} {} {}", cmd.as_str(), oref(&order), reason.as_str())
        }
        EventKind::Traded { trade_id, sym, price, qty, buy, sell, aggressor } => format!(
            "trade t{} s{} px={} qty={} buy={} sell={} agg={}",
            trade_id.0,
            sym.0,
            price.ticks(),
            qty.lots(),
            oref(&buy),
            oref(&sell),
            aggressor.map_or("none", Side::as_str)
        ),
        EventKind::Filled { order, sym, side, price, qty, leaves, liq, trade_id, fee } => format!(
            "fill {} s{} {} px={} qty={} leaves={} {} t{} fee={}",
            oref(&order),
            sym.0,
            side.as_str(),
            price.ticks(),
            qty.lots(),
            leaves.lots(),
            liq.as_str(),
            trade_id.0,
            fee
        ),
        EventKind::Cancelled { order, sym, qty, reason } => {
            format!("cancelled {} s{} qty={} {}", oref(&order), sym.0, qty.lots(), reason.as_str())
        }
        EventKind::Replaced { order, sym, price, qty, leaves, stop } => {
            let mut s = format!(
                "replaced {} s{} px={} qty={} leaves={}",
                oref(&order),
                sym.0,
                price.ticks(),
                qty.lots(),
                leaves.lots()
            );
            if !stop.is_none() {
                s += &format!(" stop={}", stop.ticks());
            }
            s
        }
        EventKind::Triggered { order, sym, last } => {
            format!("triggered {} s{} last={}", oref(&order), sym.0, last.ticks())
        }
        EventKind::Expired { order, sym, qty } => {
            format!("expired {} s{} qty={}", oref(&order), sym.0, qty.lots())
        }
        EventKind::TradingStatus { sym, halted } => {
            format!("status s{} {}", sym.0, if halted { "halted" } else { "trading" })
        }
        EventKind::LevelChanged { sym, side, price, qty } => {
            format!("level s{} {} px={} qty={}", sym.0, side.as_str(), price.ticks(), qty.lots())
        }
    }
}

/// An engine with two symbols (tick 0.01, lot 1) and three accounts.
struct H<R: PreTradeCheck = Permissive> {
    e: Engine<R>,
    time: u64,
}

fn h() -> H {
    h_with(Permissive)
}

fn h_with<R: PreTradeCheck>(check: R) -> H<R> {
    let mut e = Engine::new(EngineConfig::default(), check);
    for _ in 0..2 {
        e.add_instrument(Instrument::new("0.01", 1, VenueMode::Clob).unwrap());
    }
    for _ in 0..3 {
        e.add_account(AccountSpec::default());
    }
    H { e, time: 34_200_000_000_000 }
}

impl<R: PreTradeCheck> H<R> {
    /// Processes one input 1 ms after the previous one; checks the
    /// invariants and that every event carries the input's seq and time.
    fn raw(&mut self, input: Input) -> Vec<Event> {
        self.time += 1_000_000;
        let mut out = Vec::new();
        self.e.process(Nanos(self.time), &input, &mut out);
        self.e.validate().unwrap();
        for ev in &out {
            assert_eq!(ev.seq, self.e.seq());
            assert_eq!(ev.time, Nanos(self.time));
        }
        out
    }

    fn run(&mut self, input: Input) -> Vec<String> {
        self.raw(input).iter().map(show).collect()
    }

    /// Runs inputs that set up a book, asserting each produced no reject.
    fn setup(&mut self, inputs: &[Input]) {
        for i in inputs {
            let evs = self.run(*i);
            assert!(!evs.iter().any(|e| e.starts_with("rejected")), "{i:?}: {evs:?}");
        }
    }

    fn depth(&self, sym: SymbolId, side: Side) -> Vec<(i64, i64)> {
        self.e.levels(sym, side).map(|(p, q)| (p.ticks(), q.lots())).collect()
    }

    fn bids(&self) -> Vec<(i64, i64)> {
        self.depth(S, Side::Buy)
    }

    fn asks(&self) -> Vec<(i64, i64)> {
        self.depth(S, Side::Sell)
    }
}

fn lim(acct: AccountId, clid: u64, side: Side, px: i64, qty: i64) -> NewOrder {
    NewOrder {
        acct,
        clid: ClientOrderId(clid),
        sym: S,
        side,
        ord_type: OrdType::Limit,
        tif: Tif::Day,
        price: Price::from_ticks(px),
        stop_price: Price::NONE,
        qty: Qty::from_lots(qty),
        display: Qty::ZERO,
        expire: Nanos(0),
        post_only: false,
    }
}

fn mkt(acct: AccountId, clid: u64, side: Side, qty: i64) -> NewOrder {
    NewOrder { ord_type: OrdType::Market, price: Price::NONE, ..lim(acct, clid, side, 0, qty) }
}

fn buy(acct: AccountId, clid: u64, px: i64, qty: i64) -> Input {
    Input::NewOrder(lim(acct, clid, Side::Buy, px, qty))
}

fn sell(acct: AccountId, clid: u64, px: i64, qty: i64) -> Input {
    Input::NewOrder(lim(acct, clid, Side::Sell, px, qty))
}

fn new(o: NewOrder) -> Input {
    Input::NewOrder(o)
}

fn cancel(acct: AccountId, clid: u64) -> Input {
    Input::CancelOrder(CancelOrder { acct, clid: ClientOrderId(clid) })
}

/// A replace; `px` 0 keeps the price, `qty` 0 keeps the quantity.
fn replace(acct: AccountId, clid: u64, px: i64, qty: i64) -> Input {
    Input::ReplaceOrder(ReplaceOrder {
        acct,
        clid: ClientOrderId(clid),
        price: Price::from_ticks(px),
        qty: Qty::from_lots(qty),
    })
}

fn mass(acct: AccountId, sym: Option<SymbolId>) -> Input {
    Input::MassCancel(MassCancel { acct, sym })
}

// ---------------------------------------------------------------------------
// Price-time priority; a trade prints at the resting order's price.

#[test]
fn fifo_within_a_price_level() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 5), sell(B, 2, 100, 5), sell(A, 3, 100, 5)]);
    assert_eq!(h.asks(), [(100, 15)]);
    assert_eq!(
        h.run(buy(C, 4, 100, 7)),
        [
            "accepted C/4#4 s0 buy limit day px=100 qty=7",
            "trade t1 s0 px=100 qty=5 buy=C/4#4 sell=A/1#1 agg=buy",
            "fill A/1#1 s0 sell px=100 qty=5 leaves=0 maker t1 fee=0.00",
            "fill C/4#4 s0 buy px=100 qty=5 leaves=2 taker t1 fee=0.00",
            "trade t2 s0 px=100 qty=2 buy=C/4#4 sell=B/2#2 agg=buy",
            "fill B/2#2 s0 sell px=100 qty=2 leaves=3 maker t2 fee=0.00",
            "fill C/4#4 s0 buy px=100 qty=2 leaves=0 taker t2 fee=0.00",
            "level s0 sell px=100 qty=8",
        ]
    );
    assert_eq!(h.asks(), [(100, 8)]);
    assert_eq!(h.bids(), []);
    // B/2 is still ahead of A/3.
    assert_eq!(
        h.run(buy(C, 5, 100, 4)),
        [
            "accepted C/5#5 s0 buy limit day px=100 qty=4",
            "trade t3 s0 px=100 qty=3 buy=C/5#5 sell=B/2#2 agg=buy",
            "fill B/2#2 s0 sell px=100 qty=3 leaves=0 maker t3 fee=0.00",
            "fill C/5#5 s0 buy px=100 qty=3 leaves=1 taker t3 fee=0.00",
            "trade t4 s0 px=100 qty=1 buy=C/5#5 sell=A/3#3 agg=buy",
            "fill A/3#3 s0 sell px=100 qty=1 leaves=4 maker t4 fee=0.00",
            "fill C/5#5 s0 buy px=100 qty=1 leaves=0 taker t4 fee=0.00",
            "level s0 sell px=100 qty=4",
        ]
    );
    assert_eq!(h.asks(), [(100, 4)]);
}

#[test]
fn better_price_matches_first_whatever_its_age() {
    let mut h = h();
    h.setup(&[sell(A, 1, 101, 5), sell(B, 2, 100, 5)]);
    assert_eq!(h.asks(), [(100, 5), (101, 5)]);
    assert_eq!(
        h.run(buy(C, 3, 101, 5)),
        [
            "accepted C/3#3 s0 buy limit day px=101 qty=5",
            "trade t1 s0 px=100 qty=5 buy=C/3#3 sell=B/2#2 agg=buy",
            "fill B/2#2 s0 sell px=100 qty=5 leaves=0 maker t1 fee=0.00",
            "fill C/3#3 s0 buy px=100 qty=5 leaves=0 taker t1 fee=0.00",
            "level s0 sell px=100 qty=0",
        ]
    );
    assert_eq!(h.asks(), [(101, 5)]);

    // The same on the bid side: the higher bid first.
    h.setup(&[buy(A, 4, 98, 5), buy(B, 5, 99, 5)]);
    assert_eq!(h.bids(), [(99, 5), (98, 5)]);
    assert_eq!(
        h.run(sell(C, 6, 98, 5)),
        [
            "accepted C/6#6 s0 sell limit day px=98 qty=5",
            "trade t2 s0 px=99 qty=5 buy=B/5#5 sell=C/6#6 agg=sell",
            "fill B/5#5 s0 buy px=99 qty=5 leaves=0 maker t2 fee=0.00",
            "fill C/6#6 s0 sell px=99 qty=5 leaves=0 taker t2 fee=0.00",
            "level s0 buy px=99 qty=0",
        ]
    );
    assert_eq!(h.bids(), [(98, 5)]);
}

#[test]
fn trade_prints_at_the_resting_orders_price() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 5), buy(B, 2, 95, 5)]);
    // A buy limit well through the ask pays the ask.
    assert_eq!(
        h.run(buy(C, 3, 105, 5)),
        [
            "accepted C/3#3 s0 buy limit day px=105 qty=5",
            "trade t1 s0 px=100 qty=5 buy=C/3#3 sell=A/1#1 agg=buy",
            "fill A/1#1 s0 sell px=100 qty=5 leaves=0 maker t1 fee=0.00",
            "fill C/3#3 s0 buy px=100 qty=5 leaves=0 taker t1 fee=0.00",
            "level s0 sell px=100 qty=0",
        ]
    );
    // A sell limit well through the bid gets the bid.
    assert_eq!(
        h.run(sell(C, 4, 90, 5)),
        [
            "accepted C/4#4 s0 sell limit day px=90 qty=5",
            "trade t2 s0 px=95 qty=5 buy=B/2#2 sell=C/4#4 agg=sell",
            "fill B/2#2 s0 buy px=95 qty=5 leaves=0 maker t2 fee=0.00",
            "fill C/4#4 s0 sell px=95 qty=5 leaves=0 taker t2 fee=0.00",
            "level s0 buy px=95 qty=0",
        ]
    );
    assert_eq!(h.bids(), []);
    assert_eq!(h.asks(), []);
}

#[test]
fn sweep_across_several_levels() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 3), sell(B, 2, 101, 4), sell(A, 3, 102, 5), sell(B, 4, 103, 1)]);
    assert_eq!(
        h.run(buy(C, 5, 102, 10)),
        [
            "accepted C/5#5 s0 buy limit day px=102 qty=10",
            "trade t1 s0 px=100 qty=3 buy=C/5#5 sell=A/1#1 agg=buy",
            "fill A/1#1 s0 sell px=100 qty=3 leaves=0 maker t1 fee=0.00",
            "fill C/5#5 s0 buy px=100 qty=3 leaves=7 taker t1 fee=0.00",
            "level s0 sell px=100 qty=0",
            "trade t2 s0 px=101 qty=4 buy=C/5#5 sell=B/2#2 agg=buy",
            "fill B/2#2 s0 sell px=101 qty=4 leaves=0 maker t2 fee=0.00",
            "fill C/5#5 s0 buy px=101 qty=4 leaves=3 taker t2 fee=0.00",
            "level s0 sell px=101 qty=0",
            "trade t3 s0 px=102 qty=3 buy=C/5#5 sell=A/3#3 agg=buy",
            "fill A/3#3 s0 sell px=102 qty=3 leaves=2 maker t3 fee=0.00",
            "fill C/5#5 s0 buy px=102 qty=3 leaves=0 taker t3 fee=0.00",
            "level s0 sell px=102 qty=2",
        ]
    );
    assert_eq!(h.asks(), [(102, 2), (103, 1)]);
    assert_eq!(h.bids(), []);
}

#[test]
fn sweep_stops_at_the_limit_and_the_remainder_rests() {
    let mut h = h();
    h.setup(&[buy(A, 1, 100, 3), buy(B, 2, 99, 4), buy(A, 3, 98, 5)]);
    assert_eq!(
        h.run(sell(C, 4, 99, 10)),
        [
            "accepted C/4#4 s0 sell limit day px=99 qty=10",
            "trade t1 s0 px=100 qty=3 buy=A/1#1 sell=C/4#4 agg=sell",
            "fill A/1#1 s0 buy px=100 qty=3 leaves=0 maker t1 fee=0.00",
            "fill C/4#4 s0 sell px=100 qty=3 leaves=7 taker t1 fee=0.00",
            "level s0 buy px=100 qty=0",
            "trade t2 s0 px=99 qty=4 buy=B/2#2 sell=C/4#4 agg=sell",
            "fill B/2#2 s0 buy px=99 qty=4 leaves=0 maker t2 fee=0.00",
            "fill C/4#4 s0 sell px=99 qty=4 leaves=3 taker t2 fee=0.00",
            "level s0 buy px=99 qty=0",
            "level s0 sell px=99 qty=3",
        ]
    );
    assert_eq!(h.bids(), [(98, 5)]);
    assert_eq!(h.asks(), [(99, 3)]);
    assert_eq!(h.e.open_orders(C), 1);
}

// ---------------------------------------------------------------------------
// Market orders never rest.

#[test]
fn market_order_with_no_liquidity_is_cancelled_and_never_rests_whatever_its_tif() {
    for tif in [Tif::Day, Tif::Gtc, Tif::Ioc] {
        for side in [Side::Buy, Side::Sell] {
            let mut h = h();
            // Liquidity on the order's own side only.
            h.setup(&[new(lim(B, 1, side, 100, 5))]);
            let evs = h.run(new(NewOrder { tif, ..mkt(A, 2, side, 10) }));
            assert_eq!(
                evs,
                [
                    format!("accepted A/2#2 s0 {} market {} px=0 qty=10", side.as_str(), tif.as_str()),
                    "cancelled A/2#2 s0 qty=10 no_liquidity".to_string(),
                ],
                "{tif:?} {side:?}"
            );
            assert_eq!(h.depth(S, side), [(100, 5)]);
            assert_eq!(h.depth(S, side.opposite()), []);
            assert_eq!(h.e.open_orders(A), 0);
            assert_eq!(h.e.resting_orders(), 1);
            // It is gone: a cancel finds nothing working.
            assert_eq!(h.run(cancel(A, 2)), ["rejected cancel A/2#0 order_not_working"]);
        }
    }
}

#[test]
fn market_fok_with_no_liquidity_is_cancelled_as_fill_or_kill() {
    // Ambiguous in the contract ("market orders never rest whatever their
    // TIF" vs. "FOK trades in full or not at all"): the engine applies the
    // FOK rule first, so the reason is `fill_or_kill`, not `no_liquidity`.
    // Either way nothing trades and nothing rests.
    let mut h = h();
    assert_eq!(
        h.run(new(NewOrder { tif: Tif::Fok, ..mkt(A, 1, Side::Buy, 10) })),
        ["accepted A/1#1 s0 buy market fok px=0 qty=10", "cancelled A/1#1 s0 qty=10 fill_or_kill"]
    );
    assert_eq!(h.e.resting_orders(), 0);
}

#[test]
fn market_order_partial_fill_remainder_is_cancelled() {
    let mut h = h();
    h.setup(&[sell(B, 1, 100, 3), sell(C, 2, 101, 2)]);
    assert_eq!(
        h.run(new(NewOrder { tif: Tif::Gtc, ..mkt(A, 3, Side::Buy, 10) })),
        [
            "accepted A/3#3 s0 buy market gtc px=0 qty=10",
            "trade t1 s0 px=100 qty=3 buy=A/3#3 sell=B/1#1 agg=buy",
            "fill B/1#1 s0 sell px=100 qty=3 leaves=0 maker t1 fee=0.00",
            "fill A/3#3 s0 buy px=100 qty=3 leaves=7 taker t1 fee=0.00",
            "level s0 sell px=100 qty=0",
            "trade t2 s0 px=101 qty=2 buy=A/3#3 sell=C/2#2 agg=buy",
            "fill C/2#2 s0 sell px=101 qty=2 leaves=0 maker t2 fee=0.00",
            "fill A/3#3 s0 buy px=101 qty=2 leaves=5 taker t2 fee=0.00",
            "level s0 sell px=101 qty=0",
            "cancelled A/3#3 s0 qty=5 no_liquidity",
        ]
    );
    assert_eq!(h.asks(), []);
    assert_eq!(h.bids(), []);
    assert_eq!(h.e.resting_orders(), 0);
}

#[test]
fn market_order_filled_in_full_leaves_nothing_behind() {
    let mut h = h();
    h.setup(&[buy(B, 1, 100, 3), buy(C, 2, 99, 2)]);
    assert_eq!(
        h.run(new(mkt(A, 3, Side::Sell, 4))),
        [
            "accepted A/3#3 s0 sell market day px=0 qty=4",
            "trade t1 s0 px=100 qty=3 buy=B/1#1 sell=A/3#3 agg=sell",
            "fill B/1#1 s0 buy px=100 qty=3 leaves=0 maker t1 fee=0.00",
            "fill A/3#3 s0 sell px=100 qty=3 leaves=1 taker t1 fee=0.00",
            "level s0 buy px=100 qty=0",
            "trade t2 s0 px=99 qty=1 buy=C/2#2 sell=A/3#3 agg=sell",
            "fill C/2#2 s0 buy px=99 qty=1 leaves=1 maker t2 fee=0.00",
            "fill A/3#3 s0 sell px=99 qty=1 leaves=0 taker t2 fee=0.00",
            "level s0 buy px=99 qty=1",
        ]
    );
    assert_eq!(h.bids(), [(99, 1)]);
}

// ---------------------------------------------------------------------------
// IOC and FOK.

#[test]
fn ioc_remainder_is_cancelled() {
    let mut h = h();
    h.setup(&[sell(B, 1, 100, 3)]);
    assert_eq!(
        h.run(new(NewOrder { tif: Tif::Ioc, ..lim(A, 2, Side::Buy, 100, 5) })),
        [
            "accepted A/2#2 s0 buy limit ioc px=100 qty=5",
            "trade t1 s0 px=100 qty=3 buy=A/2#2 sell=B/1#1 agg=buy",
            "fill B/1#1 s0 sell px=100 qty=3 leaves=0 maker t1 fee=0.00",
            "fill A/2#2 s0 buy px=100 qty=3 leaves=2 taker t1 fee=0.00",
            "level s0 sell px=100 qty=0",
            "cancelled A/2#2 s0 qty=2 immediate_or_cancel",
        ]
    );
    assert_eq!(h.bids(), []);
    assert_eq!(h.asks(), []);
}

#[test]
fn ioc_that_cannot_trade_is_cancelled_in_full() {
    let mut h = h();
    h.setup(&[sell(B, 1, 101, 3)]);
    assert_eq!(
        h.run(new(NewOrder { tif: Tif::Ioc, ..lim(A, 2, Side::Buy, 100, 5) })),
        ["accepted A/2#2 s0 buy limit ioc px=100 qty=5", "cancelled A/2#2 s0 qty=5 immediate_or_cancel"]
    );
    assert_eq!(h.bids(), []);
    assert_eq!(h.asks(), [(101, 3)]);
}

#[test]
fn fok_fills_in_full_within_its_limit() {
    let mut h = h();
    h.setup(&[sell(B, 1, 100, 3), sell(C, 2, 101, 4), sell(B, 3, 102, 5)]);
    assert_eq!(
        h.run(new(NewOrder { tif: Tif::Fok, ..lim(A, 4, Side::Buy, 101, 7) })),
        [
            "accepted A/4#4 s0 buy limit fok px=101 qty=7",
            "trade t1 s0 px=100 qty=3 buy=A/4#4 sell=B/1#1 agg=buy",
            "fill B/1#1 s0 sell px=100 qty=3 leaves=0 maker t1 fee=0.00",
            "fill A/4#4 s0 buy px=100 qty=3 leaves=4 taker t1 fee=0.00",
            "level s0 sell px=100 qty=0",
            "trade t2 s0 px=101 qty=4 buy=A/4#4 sell=C/2#2 agg=buy",
            "fill C/2#2 s0 sell px=101 qty=4 leaves=0 maker t2 fee=0.00",
            "fill A/4#4 s0 buy px=101 qty=4 leaves=0 taker t2 fee=0.00",
            "level s0 sell px=101 qty=0",
        ]
    );
    assert_eq!(h.asks(), [(102, 5)]);
    assert_eq!(h.bids(), []);
}

#[test]
fn fok_that_cannot_fill_in_full_is_cancelled_with_nothing_traded() {
    let mut h = h();
    h.setup(&[buy(B, 1, 100, 3), buy(C, 2, 100, 1)]);
    assert_eq!(
        h.run(new(NewOrder { tif: Tif::Fok, ..lim(A, 3, Side::Sell, 100, 5) })),
        ["accepted A/3#3 s0 sell limit fok px=100 qty=5", "cancelled A/3#3 s0 qty=5 fill_or_kill"]
    );
    assert_eq!(h.bids(), [(100, 4)]);
    assert_eq!(h.asks(), []);
    // No trade id was used: the next trade is t1.
    let evs = h.run(sell(A, 4, 100, 1));
    assert_eq!(evs[1], "trade t1 s0 px=100 qty=1 buy=B/1#1 sell=A/4#4 agg=sell");
}

#[test]
fn fok_that_would_need_a_level_beyond_its_limit_is_cancelled() {
    let mut h = h();
    h.setup(&[sell(B, 1, 100, 3), sell(C, 2, 101, 4)]);
    // 7 lots on the book, but only 3 within the limit.
    assert_eq!(
        h.run(new(NewOrder { tif: Tif::Fok, ..lim(A, 3, Side::Buy, 100, 5) })),
        ["accepted A/3#3 s0 buy limit fok px=100 qty=5", "cancelled A/3#3 s0 qty=5 fill_or_kill"]
    );
    assert_eq!(h.asks(), [(100, 3), (101, 4)]);
    // With the limit one tick higher it fills, exactly to the last lot.
    assert_eq!(
        h.run(new(NewOrder { tif: Tif::Fok, ..lim(A, 4, Side::Buy, 101, 7) })),
        [
            "accepted A/4#4 s0 buy limit fok px=101 qty=7",
            "trade t1 s0 px=100 qty=3 buy=A/4#4 sell=B/1#1 agg=buy",
            "fill B/1#1 s0 sell px=100 qty=3 leaves=0 maker t1 fee=0.00",
            "fill A/4#4 s0 buy px=100 qty=3 leaves=4 taker t1 fee=0.00",
            "level s0 sell px=100 qty=0",
            "trade t2 s0 px=101 qty=4 buy=A/4#4 sell=C/2#2 agg=buy",
            "fill C/2#2 s0 sell px=101 qty=4 leaves=0 maker t2 fee=0.00",
            "fill A/4#4 s0 buy px=101 qty=4 leaves=0 taker t2 fee=0.00",
            "level s0 sell px=101 qty=0",
        ]
    );
    assert_eq!(h.asks(), []);
}

#[test]
fn market_fok_fills_in_full_or_not_at_all() {
    let mut h = h();
    h.setup(&[sell(B, 1, 100, 3), sell(C, 2, 150, 4)]);
    assert_eq!(
        h.run(new(NewOrder { tif: Tif::Fok, ..mkt(A, 3, Side::Buy, 8) })),
        ["accepted A/3#3 s0 buy market fok px=0 qty=8", "cancelled A/3#3 s0 qty=8 fill_or_kill"]
    );
    assert_eq!(h.asks(), [(100, 3), (150, 4)]);
    let evs = h.run(new(NewOrder { tif: Tif::Fok, ..mkt(A, 4, Side::Buy, 7) }));
    assert_eq!(evs.len(), 9, "{evs:?}");
    assert_eq!(evs[8], "level s0 sell px=150 qty=0");
    assert_eq!(h.asks(), []);
}

// ---------------------------------------------------------------------------
// Post-only; default TIF.

#[test]
fn post_only_that_would_take_is_rejected() {
    let mut h = h();
    h.setup(&[sell(B, 1, 100, 5), buy(C, 2, 98, 5)]);
    assert_eq!(
        h.run(new(NewOrder { post_only: true, ..lim(A, 3, Side::Buy, 100, 5) })),
        ["rejected new A/3#0 post_only_would_take"]
    );
    assert_eq!(
        h.run(new(NewOrder { post_only: true, ..lim(A, 4, Side::Sell, 97, 5) })),
        ["rejected new A/4#0 post_only_would_take"]
    );
    assert_eq!(h.asks(), [(100, 5)]);
    assert_eq!(h.bids(), [(98, 5)]);
    assert_eq!(h.e.open_orders(A), 0);
    // A rejected order changes no state: its client order id may be sent
    // again, and rejects consume no order id.
    assert_eq!(h.run(buy(A, 3, 90, 1))[0], "accepted A/3#3 s0 buy limit day px=90 qty=1");
    assert_eq!(h.run(buy(A, 3, 90, 1)), ["rejected new A/3#0 duplicate_client_order_id"]);
}

#[test]
fn post_only_that_does_not_take_rests() {
    let mut h = h();
    h.setup(&[sell(B, 1, 100, 5), buy(C, 2, 98, 5)]);
    assert_eq!(
        h.run(new(NewOrder { post_only: true, ..lim(A, 3, Side::Buy, 99, 5) })),
        ["accepted A/3#3 s0 buy limit day px=99 qty=5", "level s0 buy px=99 qty=5"]
    );
    assert_eq!(
        h.run(new(NewOrder { post_only: true, ..lim(A, 4, Side::Sell, 99 + 2, 2) })),
        ["accepted A/4#4 s0 sell limit day px=101 qty=2", "level s0 sell px=101 qty=2"]
    );
    assert_eq!(h.bids(), [(99, 5), (98, 5)]);
    assert_eq!(h.asks(), [(100, 5), (101, 2)]);
    // It is a normal maker afterwards.
    let evs = h.run(sell(C, 5, 99, 1));
    assert_eq!(evs[2], "fill A/3#3 s0 buy px=99 qty=1 leaves=4 maker t1 fee=0.00");
}

#[test]
fn post_only_with_market_ioc_or_fok_is_an_invalid_order_type() {
    let mut h = h();
    let cases = [
        NewOrder { post_only: true, ..mkt(A, 1, Side::Buy, 5) },
        NewOrder { post_only: true, tif: Tif::Ioc, ..lim(A, 2, Side::Buy, 99, 5) },
        NewOrder { post_only: true, tif: Tif::Fok, ..lim(A, 3, Side::Buy, 99, 5) },
    ];
    for o in cases {
        assert_eq!(h.run(new(o)), [format!("rejected new A/{}#0 invalid_order_type", o.clid.0)]);
    }
    assert_eq!(h.bids(), []);
}

#[test]
fn default_tif_is_day() {
    let mut p = Parser::new();
    let steps = p
        .parse_all(
            "instrument X tick=0.01\naccount a cash=1\nat 09:30:00\n\
             new a o1 X buy limit qty=5 px=1.00\nnew a o2 X sell market qty=5\n",
        )
        .unwrap();
    let tifs: Vec<Tif> = steps
        .iter()
        .filter_map(|s| match &s.step {
            Step::Input(Input::NewOrder(o)) => Some(o.tif),
            _ => None,
        })
        .collect();
    assert_eq!(tifs, [Tif::Day, Tif::Day]);
    let mut e = Engine::new(EngineConfig::default(), Permissive);
    let mut out = Vec::new();
    for s in &steps {
        apply(&mut e, s, &mut out);
        e.validate().unwrap();
    }
    let mut text = String::new();
    p.render(&out[0], &mut text);
    assert_eq!(
        text,
        r#"{"ev":"accepted","seq":1,"time":"09:30:00.000","acct":"a","clid":"o1","id":1,"sym":"X","side":"buy","type":"limit","tif":"day","px":"1.00","qty":5}"#
    );
    // The DAY limit rests (until the end of the day, not tested here: no
    // session_end yet), and fully fills the DAY market order.
    assert_eq!(e.levels(SymbolId(0), Side::Buy).count(), 0);
    assert!(matches!(out.last().unwrap().kind, EventKind::LevelChanged { qty, .. } if qty.is_zero()));
}

// ---------------------------------------------------------------------------
// Cancel.

#[test]
fn cancel_removes_the_order_from_its_level() {
    let mut h = h();
    h.setup(&[buy(A, 1, 100, 5), buy(B, 2, 100, 3), buy(A, 3, 99, 1)]);
    assert_eq!(h.run(cancel(A, 1)), ["cancelled A/1#1 s0 qty=5 requested", "level s0 buy px=100 qty=3"]);
    assert_eq!(h.bids(), [(100, 3), (99, 1)]);
    assert_eq!(h.run(cancel(A, 3)), ["cancelled A/3#3 s0 qty=1 requested", "level s0 buy px=99 qty=0"]);
    assert_eq!(h.bids(), [(100, 3)]);
    assert_eq!(h.e.open_orders(A), 0);
    assert_eq!(h.e.open_orders(B), 1);
}

#[test]
fn cancel_of_a_partly_filled_order_cancels_its_leaves() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 5), buy(B, 2, 100, 2)]);
    assert_eq!(h.run(cancel(A, 1)), ["cancelled A/1#1 s0 qty=3 requested", "level s0 sell px=100 qty=0"]);
    assert_eq!(h.asks(), []);
}

#[test]
fn cancel_of_an_unknown_order_is_rejected() {
    let mut h = h();
    h.setup(&[buy(A, 1, 100, 5)]);
    assert_eq!(h.run(cancel(A, 9)), ["rejected cancel A/9#0 unknown_order"]);
    // Client order ids are per account: B never used 1.
    assert_eq!(h.run(cancel(B, 1)), ["rejected cancel B/1#0 unknown_order"]);
    assert_eq!(h.run(cancel(AccountId(7), 1)), ["rejected cancel acct7/1#0 unknown_account"]);
    assert_eq!(h.bids(), [(100, 5)]);
}

#[test]
fn cancel_of_a_filled_order_is_rejected_not_working() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 5), buy(B, 2, 100, 5)]);
    assert_eq!(h.run(cancel(A, 1)), ["rejected cancel A/1#0 order_not_working"]);
    assert_eq!(h.run(cancel(B, 2)), ["rejected cancel B/2#0 order_not_working"]);
    assert_eq!(h.asks(), []);
    assert_eq!(h.bids(), []);
}

#[test]
fn cancel_of_a_cancelled_order_is_rejected_not_working() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 5), cancel(A, 1)]);
    assert_eq!(h.run(cancel(A, 1)), ["rejected cancel A/1#0 order_not_working"]);
    // Also an IOC remainder cancelled on entry.
    h.setup(&[new(NewOrder { tif: Tif::Ioc, ..lim(A, 2, Side::Buy, 100, 5) })]);
    assert_eq!(h.run(cancel(A, 2)), ["rejected cancel A/2#0 order_not_working"]);
}

// ---------------------------------------------------------------------------
// Replace.

#[test]
fn replace_lowering_qty_keeps_priority() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 10), sell(B, 2, 100, 5)]);
    assert_eq!(h.run(replace(A, 1, 0, 6)), ["replaced A/1#1 s0 px=100 qty=6 leaves=6", "level s0 sell px=100 qty=11"]);
    assert_eq!(h.asks(), [(100, 11)]);
    // Naming the same price explicitly is the same.
    assert_eq!(
        h.run(replace(A, 1, 100, 5)),
        ["replaced A/1#1 s0 px=100 qty=5 leaves=5", "level s0 sell px=100 qty=10"]
    );
    // A/1 is still first in the queue.
    assert_eq!(
        h.run(buy(C, 3, 100, 4)),
        [
            "accepted C/3#3 s0 buy limit day px=100 qty=4",
            "trade t1 s0 px=100 qty=4 buy=C/3#3 sell=A/1#1 agg=buy",
            "fill A/1#1 s0 sell px=100 qty=4 leaves=1 maker t1 fee=0.00",
            "fill C/3#3 s0 buy px=100 qty=4 leaves=0 taker t1 fee=0.00",
            "level s0 sell px=100 qty=6",
        ]
    );
}

#[test]
fn replace_names_the_new_total_filled_included() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 10), sell(B, 2, 100, 5), buy(C, 3, 100, 3)]);
    // A/1: 3 filled, 7 open. A total of 5 leaves 2.
    assert_eq!(h.run(replace(A, 1, 0, 5)), ["replaced A/1#1 s0 px=100 qty=5 leaves=2", "level s0 sell px=100 qty=7"]);
    assert_eq!(h.asks(), [(100, 7)]);
    // Same total: an acknowledged no-op, priority kept, no level change.
    assert_eq!(h.run(replace(A, 1, 0, 5)), ["replaced A/1#1 s0 px=100 qty=5 leaves=2"]);
    let evs = h.run(buy(C, 4, 100, 2));
    assert_eq!(evs[2], "fill A/1#1 s0 sell px=100 qty=2 leaves=0 maker t2 fee=0.00");
    assert_eq!(h.asks(), [(100, 5)]);
}

#[test]
fn replace_raising_qty_loses_priority() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 5), sell(B, 2, 100, 5)]);
    assert_eq!(
        h.run(replace(A, 1, 0, 8)),
        ["replaced A/1#1 s0 px=100 qty=8 leaves=8", "level s0 sell px=100 qty=5", "level s0 sell px=100 qty=13",]
    );
    assert_eq!(h.asks(), [(100, 13)]);
    assert_eq!(
        h.run(buy(C, 3, 100, 6)),
        [
            "accepted C/3#3 s0 buy limit day px=100 qty=6",
            "trade t1 s0 px=100 qty=5 buy=C/3#3 sell=B/2#2 agg=buy",
            "fill B/2#2 s0 sell px=100 qty=5 leaves=0 maker t1 fee=0.00",
            "fill C/3#3 s0 buy px=100 qty=5 leaves=1 taker t1 fee=0.00",
            "trade t2 s0 px=100 qty=1 buy=C/3#3 sell=A/1#1 agg=buy",
            "fill A/1#1 s0 sell px=100 qty=1 leaves=7 maker t2 fee=0.00",
            "fill C/3#3 s0 buy px=100 qty=1 leaves=0 taker t2 fee=0.00",
            "level s0 sell px=100 qty=7",
        ]
    );
}

#[test]
fn replace_changing_price_loses_priority_to_the_back_of_the_new_level() {
    let mut h = h();
    h.setup(&[buy(A, 1, 99, 5), buy(B, 2, 100, 5), buy(C, 3, 100, 1)]);
    assert_eq!(
        h.run(replace(A, 1, 100, 0)),
        ["replaced A/1#1 s0 px=100 qty=5 leaves=5", "level s0 buy px=99 qty=0", "level s0 buy px=100 qty=11",]
    );
    assert_eq!(h.bids(), [(100, 11)]);
    let evs = h.run(sell(C, 4, 100, 7));
    let makers: Vec<&String> = evs.iter().filter(|e| e.contains(" maker ")).collect();
    assert_eq!(
        makers,
        [
            "fill B/2#2 s0 buy px=100 qty=5 leaves=0 maker t1 fee=0.00",
            "fill C/3#3 s0 buy px=100 qty=1 leaves=0 maker t2 fee=0.00",
            "fill A/1#1 s0 buy px=100 qty=1 leaves=4 maker t3 fee=0.00",
        ]
    );
    // Moving away and back again also goes to the back.
    h.setup(&[buy(B, 5, 100, 2)]);
    h.setup(&[replace(A, 1, 98, 0), replace(A, 1, 100, 0)]);
    let evs = h.run(sell(C, 6, 100, 1));
    assert_eq!(evs[2], "fill B/5#5 s0 buy px=100 qty=1 leaves=1 maker t4 fee=0.00");
    assert_eq!(h.bids(), [(100, 5)]);
}

#[test]
fn replace_to_a_crossing_price_trades_at_once() {
    let mut h = h();
    h.setup(&[buy(A, 1, 98, 10), sell(B, 2, 100, 4), sell(B, 3, 101, 4)]);
    // To 101: takes 100 then 101 at the resting prices, 2 rest at 101.
    assert_eq!(
        h.run(replace(A, 1, 101, 0)),
        [
            "replaced A/1#1 s0 px=101 qty=10 leaves=10",
            "level s0 buy px=98 qty=0",
            "trade t1 s0 px=100 qty=4 buy=A/1#1 sell=B/2#2 agg=buy",
            "fill B/2#2 s0 sell px=100 qty=4 leaves=0 maker t1 fee=0.00",
            "fill A/1#1 s0 buy px=100 qty=4 leaves=6 taker t1 fee=0.00",
            "level s0 sell px=100 qty=0",
            "trade t2 s0 px=101 qty=4 buy=A/1#1 sell=B/3#3 agg=buy",
            "fill B/3#3 s0 sell px=101 qty=4 leaves=0 maker t2 fee=0.00",
            "fill A/1#1 s0 buy px=101 qty=4 leaves=2 taker t2 fee=0.00",
            "level s0 sell px=101 qty=0",
            "level s0 buy px=101 qty=2",
        ]
    );
    assert_eq!(h.bids(), [(101, 2)]);
    assert_eq!(h.asks(), []);
    // The filled quantity counts: a total of 9 leaves 1.
    assert_eq!(h.run(replace(A, 1, 0, 9)), ["replaced A/1#1 s0 px=101 qty=9 leaves=1", "level s0 buy px=101 qty=1"]);
    assert_eq!(h.run(cancel(A, 1)), ["cancelled A/1#1 s0 qty=1 requested", "level s0 buy px=101 qty=0"]);
}

#[test]
fn replace_that_crosses_and_fills_in_full_closes_the_order() {
    let mut h = h();
    h.setup(&[sell(A, 1, 102, 3), buy(B, 2, 100, 5)]);
    assert_eq!(
        h.run(replace(A, 1, 99, 0)),
        [
            "replaced A/1#1 s0 px=99 qty=3 leaves=3",
            "level s0 sell px=102 qty=0",
            "trade t1 s0 px=100 qty=3 buy=B/2#2 sell=A/1#1 agg=sell",
            "fill B/2#2 s0 buy px=100 qty=3 leaves=2 maker t1 fee=0.00",
            "fill A/1#1 s0 sell px=100 qty=3 leaves=0 taker t1 fee=0.00",
            "level s0 buy px=100 qty=2",
        ]
    );
    assert_eq!(h.asks(), []);
    assert_eq!(h.e.open_orders(A), 0);
    assert_eq!(h.run(cancel(A, 1)), ["rejected cancel A/1#0 order_not_working"]);
}

#[test]
fn replace_to_a_total_not_above_filled_is_rejected_and_the_order_unchanged() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 10), sell(B, 2, 100, 1), buy(C, 3, 100, 4)]);
    assert_eq!(h.asks(), [(100, 7)]);
    for total in [4, 3, 1] {
        assert_eq!(h.run(replace(A, 1, 0, total)), ["rejected replace A/1#1 qty_not_above_filled"]);
        // Also with a new price: nothing moves.
        assert_eq!(h.run(replace(A, 1, 101, total)), ["rejected replace A/1#1 qty_not_above_filled"]);
    }
    assert_eq!(h.asks(), [(100, 7)]);
    // Priority and leaves as before: 6 more fill A/1 in full, then B/2.
    let evs = h.run(buy(C, 4, 100, 7));
    assert_eq!(evs[2], "fill A/1#1 s0 sell px=100 qty=6 leaves=0 maker t2 fee=0.00");
    assert_eq!(evs[5], "fill B/2#2 s0 sell px=100 qty=1 leaves=0 maker t3 fee=0.00");
}

#[test]
fn replace_keeps_the_client_order_id_and_the_order_id() {
    let mut h = h();
    h.setup(&[sell(A, 7, 101, 5)]);
    assert_eq!(
        h.run(replace(A, 7, 100, 6)),
        ["replaced A/7#1 s0 px=100 qty=6 leaves=6", "level s0 sell px=101 qty=0", "level s0 sell px=100 qty=6",]
    );
    let evs = h.run(buy(B, 1, 100, 1));
    assert_eq!(evs[1], "trade t1 s0 px=100 qty=1 buy=B/1#2 sell=A/7#1 agg=buy");
    assert_eq!(evs[2], "fill A/7#1 s0 sell px=100 qty=1 leaves=5 maker t1 fee=0.00");
    // Still addressed by the same clid; the clid is still taken.
    assert_eq!(h.run(sell(A, 7, 105, 1)), ["rejected new A/7#0 duplicate_client_order_id"]);
    assert_eq!(h.run(cancel(A, 7)), ["cancelled A/7#1 s0 qty=5 requested", "level s0 sell px=100 qty=0"]);
}

#[test]
fn replace_of_an_unknown_filled_or_cancelled_order_is_rejected() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 5), buy(B, 2, 100, 5), buy(A, 3, 90, 1), cancel(A, 3)]);
    assert_eq!(h.run(replace(A, 9, 100, 0)), ["rejected replace A/9#0 unknown_order"]);
    assert_eq!(h.run(replace(A, 1, 101, 0)), ["rejected replace A/1#0 order_not_working"]);
    assert_eq!(h.run(replace(B, 2, 0, 9)), ["rejected replace B/2#0 order_not_working"]);
    assert_eq!(h.run(replace(A, 3, 91, 0)), ["rejected replace A/3#0 order_not_working"]);
    assert_eq!(h.run(replace(AccountId(5), 1, 91, 0)), ["rejected replace acct5/1#0 unknown_account"]);
    assert_eq!(h.bids(), []);
    assert_eq!(h.asks(), []);
}

#[test]
fn replace_with_bad_numbers_is_rejected_and_the_order_unchanged() {
    let mut h = h();
    h.setup(&[buy(A, 1, 100, 5), buy(B, 2, 100, 5)]);
    let cases = [
        (replace(A, 1, MAX_PRICE_TICKS + 1, 0), "price_too_large"),
        (replace(A, 1, i64::MAX, 0), "price_too_large"),
        (replace(A, 1, -1, 0), "invalid_price"),
        (replace(A, 1, i64::MIN, 0), "invalid_price"),
        (replace(A, 1, 0, MAX_QTY_LOTS + 1), "qty_too_large"),
        (replace(A, 1, 0, i64::MAX), "qty_too_large"),
        (replace(A, 1, 0, -5), "invalid_qty"),
        (replace(A, 1, 0, i64::MIN), "invalid_qty"),
    ];
    for (input, reason) in cases {
        assert_eq!(h.run(input), [format!("rejected replace A/1#1 {reason}")], "{input:?}");
    }
    assert_eq!(h.bids(), [(100, 10)]);
    let evs = h.run(sell(C, 3, 100, 1));
    assert_eq!(evs[2], "fill A/1#1 s0 buy px=100 qty=1 leaves=4 maker t1 fee=0.00");
}

#[test]
fn replace_of_a_post_only_order_to_a_crossing_price_is_rejected() {
    let mut h = h();
    h.setup(&[new(NewOrder { post_only: true, ..lim(A, 1, Side::Buy, 99, 5) }), sell(B, 2, 100, 5)]);
    assert_eq!(h.run(replace(A, 1, 100, 0)), ["rejected replace A/1#1 post_only_would_take"]);
    assert_eq!(h.bids(), [(99, 5)]);
    assert_eq!(h.asks(), [(100, 5)]);
}

/// A check that rejects every replace and counts what it saw.
#[derive(Default)]
struct RejectReplaces {
    replaces: u32,
    news: u32,
}

impl PreTradeCheck for RejectReplaces {
    fn check_new(&mut self, _now: Nanos, _order: &OrderCheck) -> Result<(), RejectReason> {
        self.news += 1;
        if self.news == 4 {
            return Err(RejectReason::MaxQty);
        }
        Ok(())
    }
    fn check_replace(&mut self, _now: Nanos, order: &OrderCheck) -> Result<(), RejectReason> {
        self.replaces += 1;
        assert_eq!(order.prev_qty, Qty::from_lots(5));
        Err(RejectReason::MaxNotional)
    }
}

#[test]
fn replace_rejected_by_risk_leaves_the_original_order_as_it_was() {
    let mut h = h_with(RejectReplaces::default());
    h.setup(&[buy(A, 1, 100, 5), buy(B, 2, 100, 5)]);
    assert_eq!(h.run(replace(A, 1, 0, 3)), ["rejected replace A/1#1 max_notional"]);
    assert_eq!(h.run(replace(A, 1, 101, 0)), ["rejected replace A/1#1 max_notional"]);
    assert_eq!(h.run(replace(A, 1, 0, 9)), ["rejected replace A/1#1 max_notional"]);
    assert_eq!(h.e.check().replaces, 3);
    assert_eq!(h.bids(), [(100, 10)]);
    let evs = h.run(sell(C, 3, 100, 6));
    assert_eq!(evs[2], "fill A/1#1 s0 buy px=100 qty=5 leaves=0 maker t1 fee=0.00");
    // A new order rejected by risk: no order id, and its client order id
    // is not used up (a rejected order changes no state).
    assert_eq!(h.run(buy(C, 4, 90, 1)), ["rejected new C/4#0 max_qty"]);
    assert_eq!(h.run(buy(C, 4, 90, 1))[0], "accepted C/4#4 s0 buy limit day px=90 qty=1");
    assert_eq!(h.run(buy(C, 4, 90, 1)), ["rejected new C/4#0 duplicate_client_order_id"]);
}

// ---------------------------------------------------------------------------
// Client order ids.

#[test]
fn duplicate_client_order_id_of_the_same_account_is_rejected() {
    let mut h = h();
    h.setup(&[buy(A, 1, 99, 1)]);
    assert_eq!(h.run(buy(A, 1, 98, 2)), ["rejected new A/1#0 duplicate_client_order_id"]);
    // On another symbol too: the id is per account, not per book.
    assert_eq!(
        h.run(new(NewOrder { sym: S1, ..lim(A, 1, Side::Sell, 50, 2) })),
        ["rejected new A/1#0 duplicate_client_order_id"]
    );
    assert_eq!(h.bids(), [(99, 1)]);
    assert_eq!(h.depth(S1, Side::Sell), []);
}

#[test]
fn same_client_order_id_in_another_account_is_accepted() {
    let mut h = h();
    h.setup(&[buy(A, 1, 99, 1)]);
    assert_eq!(h.run(buy(B, 1, 99, 2)), ["accepted B/1#2 s0 buy limit day px=99 qty=2", "level s0 buy px=99 qty=3"]);
    // Each is addressed in its own account.
    assert_eq!(h.run(cancel(B, 1)), ["cancelled B/1#2 s0 qty=2 requested", "level s0 buy px=99 qty=1"]);
    assert_eq!(h.bids(), [(99, 1)]);
}

#[test]
fn client_order_id_stays_used_after_its_order_is_cancelled_or_filled() {
    let mut h = h();
    h.setup(&[
        buy(A, 1, 99, 1),
        cancel(A, 1),
        sell(A, 2, 100, 1),
        buy(B, 3, 100, 1),
        new(NewOrder { tif: Tif::Ioc, ..lim(A, 4, Side::Buy, 90, 1) }),
        new(mkt(A, 5, Side::Buy, 1)),
    ]);
    for clid in [1, 2, 4, 5] {
        assert_eq!(h.run(buy(A, clid, 80, 1)), [format!("rejected new A/{clid}#0 duplicate_client_order_id")]);
    }
    // The taker's too.
    assert_eq!(h.run(sell(B, 3, 120, 1)), ["rejected new B/3#0 duplicate_client_order_id"]);
    assert_eq!(h.bids(), []);
    assert_eq!(h.asks(), []);
}

#[test]
fn client_order_id_of_an_order_that_failed_validation_is_not_used() {
    // Pinned engine behaviour: validation rejects (bad numbers, unknown
    // symbol) happen before the clid is recorded, so the client may resend
    // the corrected order under the same id.
    let mut h = h();
    assert_eq!(h.run(buy(A, 1, 99, 0)), ["rejected new A/1#0 invalid_qty"]);
    assert_eq!(h.run(cancel(A, 1)), ["rejected cancel A/1#0 unknown_order"]);
    assert_eq!(h.run(buy(A, 1, 99, 1)), ["accepted A/1#1 s0 buy limit day px=99 qty=1", "level s0 buy px=99 qty=1"]);
}

// ---------------------------------------------------------------------------
// Mass cancel.

fn mass_cancel_book(h: &mut H) {
    h.setup(&[
        buy(A, 1, 99, 1),
        buy(B, 2, 99, 2),
        sell(A, 3, 101, 3),
        new(NewOrder { sym: S1, ..lim(A, 4, Side::Buy, 50, 4) }),
        buy(A, 5, 99, 5),
        new(NewOrder { sym: S1, ..lim(B, 6, Side::Sell, 60, 6) }),
    ]);
}

#[test]
fn mass_cancel_of_an_account_cancels_all_its_orders_oldest_first() {
    let mut h = h();
    mass_cancel_book(&mut h);
    assert_eq!(
        h.run(mass(A, None)),
        [
            "cancelled A/1#1 s0 qty=1 mass_cancel",
            "level s0 buy px=99 qty=7",
            "cancelled A/3#3 s0 qty=3 mass_cancel",
            "level s0 sell px=101 qty=0",
            "cancelled A/4#4 s1 qty=4 mass_cancel",
            "level s1 buy px=50 qty=0",
            "cancelled A/5#5 s0 qty=5 mass_cancel",
            "level s0 buy px=99 qty=2",
        ]
    );
    assert_eq!(h.bids(), [(99, 2)]);
    assert_eq!(h.asks(), []);
    assert_eq!(h.depth(S1, Side::Buy), []);
    assert_eq!(h.depth(S1, Side::Sell), [(60, 6)]);
    assert_eq!(h.e.open_orders(A), 0);
    assert_eq!(h.e.open_orders(B), 2);
    // Nothing left: a second mass cancel has nothing to say (no events).
    assert_eq!(h.run(mass(A, None)), Vec::<String>::new());
    // The cancelled orders are no longer working.
    assert_eq!(h.run(cancel(A, 3)), ["rejected cancel A/3#0 order_not_working"]);
}

#[test]
fn mass_cancel_of_an_account_and_symbol_leaves_other_symbols() {
    let mut h = h();
    mass_cancel_book(&mut h);
    assert_eq!(h.run(mass(A, Some(S1))), ["cancelled A/4#4 s1 qty=4 mass_cancel", "level s1 buy px=50 qty=0"]);
    assert_eq!(h.bids(), [(99, 8)]);
    assert_eq!(h.asks(), [(101, 3)]);
    assert_eq!(h.depth(S1, Side::Sell), [(60, 6)]);
    assert_eq!(h.e.open_orders(A), 3);
    assert_eq!(
        h.run(mass(A, Some(S))),
        [
            "cancelled A/1#1 s0 qty=1 mass_cancel",
            "level s0 buy px=99 qty=7",
            "cancelled A/3#3 s0 qty=3 mass_cancel",
            "level s0 sell px=101 qty=0",
            "cancelled A/5#5 s0 qty=5 mass_cancel",
            "level s0 buy px=99 qty=2",
        ]
    );
    assert_eq!(h.e.open_orders(A), 0);
    assert_eq!(h.e.open_orders(B), 2);
}

#[test]
fn mass_cancel_of_an_unknown_account_or_symbol_is_rejected() {
    let mut h = h();
    mass_cancel_book(&mut h);
    assert_eq!(h.run(mass(AccountId(3), None)), ["rejected mass_cancel acct3/0#0 unknown_account"]);
    assert_eq!(h.run(mass(A, Some(SymbolId(2)))), ["rejected mass_cancel A/0#0 unknown_symbol"]);
    assert_eq!(h.e.open_orders(A), 4);
    assert_eq!(h.e.resting_orders(), 6);
}

// ---------------------------------------------------------------------------
// Bad input: a reject with a reason, never a panic.

/// Runs a new order that must be rejected with `reason`, and checks that
/// nothing changed but the sequence number.
fn assert_rejected(h: &mut H, o: NewOrder, reason: &str) {
    let (bids, asks, resting) = (h.bids(), h.asks(), h.e.resting_orders());
    let seq = h.e.seq().0;
    assert_eq!(
        h.run(new(o)),
        [format!("rejected new {} {reason}", oref(&OrderRef { acct: o.acct, clid: o.clid, id: OrderId(0) }))],
        "{o:?}"
    );
    assert_eq!((h.bids(), h.asks(), h.e.resting_orders()), (bids, asks, resting));
    assert_eq!(h.e.seq().0, seq + 1);
}

#[test]
fn zero_or_negative_qty_is_rejected() {
    let mut h = h();
    h.setup(&[sell(B, 1, 100, 5)]);
    assert_rejected(&mut h, lim(A, 1, Side::Buy, 100, 0), "invalid_qty");
    assert_rejected(&mut h, lim(A, 2, Side::Buy, 100, -5), "invalid_qty");
    assert_rejected(&mut h, lim(A, 3, Side::Buy, 100, i64::MIN), "invalid_qty");
    assert_rejected(&mut h, mkt(A, 4, Side::Buy, 0), "invalid_qty");
}

#[test]
fn unknown_symbol_or_account_is_rejected() {
    let mut h = h();
    assert_rejected(&mut h, NewOrder { sym: SymbolId(2), ..lim(A, 1, Side::Buy, 100, 5) }, "unknown_symbol");
    assert_rejected(&mut h, NewOrder { sym: SymbolId(u32::MAX), ..lim(A, 1, Side::Buy, 100, 5) }, "unknown_symbol");
    assert_rejected(&mut h, lim(AccountId(3), 1, Side::Buy, 100, 5), "unknown_account");
    assert_rejected(&mut h, lim(AccountId(u32::MAX), 1, Side::Buy, 100, 5), "unknown_account");
}

#[test]
fn numbers_too_large_are_rejected_and_the_largest_are_accepted() {
    let mut h = h();
    assert_rejected(&mut h, lim(A, 1, Side::Buy, 100, MAX_QTY_LOTS + 1), "qty_too_large");
    assert_rejected(&mut h, lim(A, 2, Side::Buy, 100, i64::MAX), "qty_too_large");
    assert_rejected(&mut h, lim(A, 3, Side::Buy, MAX_PRICE_TICKS + 1, 5), "price_too_large");
    assert_rejected(&mut h, lim(A, 4, Side::Buy, i64::MAX, 5), "price_too_large");
    // Limits at their exact value are accepted, and can trade.
    assert_eq!(
        h.run(buy(A, 5, MAX_PRICE_TICKS, MAX_QTY_LOTS)),
        [
            format!("accepted A/5#1 s0 buy limit day px={MAX_PRICE_TICKS} qty={MAX_QTY_LOTS}"),
            format!("level s0 buy px={MAX_PRICE_TICKS} qty={MAX_QTY_LOTS}"),
        ]
    );
    assert_eq!(
        h.run(sell(B, 6, 1, MAX_QTY_LOTS))[1],
        format!("trade t1 s0 px={MAX_PRICE_TICKS} qty={MAX_QTY_LOTS} buy=A/5#1 sell=B/6#2 agg=sell")
    );
    assert_eq!(h.bids(), []);
    // A FOK summing the largest levels does not overflow.
    h.setup(&[sell(B, 7, 1, MAX_QTY_LOTS), sell(B, 8, 2, MAX_QTY_LOTS), sell(B, 9, 3, MAX_QTY_LOTS)]);
    let evs = h.run(new(NewOrder { tif: Tif::Fok, ..mkt(A, 10, Side::Buy, MAX_QTY_LOTS) }));
    assert_eq!(evs.len(), 5, "{evs:?}");
}

#[test]
fn market_order_with_a_price_is_rejected() {
    let mut h = h();
    h.setup(&[sell(B, 1, 100, 5)]);
    assert_rejected(&mut h, NewOrder { price: Price::from_ticks(100), ..mkt(A, 1, Side::Buy, 5) }, "price_not_allowed");
    assert_rejected(&mut h, NewOrder { price: Price::from_ticks(-1), ..mkt(A, 2, Side::Sell, 5) }, "price_not_allowed");
}

#[test]
fn limit_order_without_a_valid_price_is_rejected() {
    let mut h = h();
    h.setup(&[sell(B, 1, 100, 5)]);
    assert_rejected(&mut h, lim(A, 1, Side::Buy, 0, 5), "invalid_price");
    assert_rejected(&mut h, lim(A, 2, Side::Buy, -100, 5), "invalid_price");
    assert_rejected(&mut h, lim(A, 3, Side::Sell, i64::MIN, 5), "invalid_price");
}

#[test]
fn off_tick_and_unrepresentable_numbers_are_rejected_at_the_scenario_edge() {
    let mut p = Parser::new();
    let mut steps = p
        .parse_all(
            "instrument X tick=0.05 lot=10\naccount a cash=1\nat 09:30:00\n\
             new a o1 X buy limit qty=10 px=1.05\n\
             new a o2 X buy limit qty=10 px=1.07\n\
             new a o3 X buy limit qty=10 px=1.051\n\
             new a o4 X buy limit qty=15 px=1.05\n\
             new a o5 X buy limit qty=10 px=99999999999999999\n\
             new a o6 X buy limit qty=99999999999999999999 px=1.05\n\
             new a o7 X buy limit qty=10 px=-1.05\n\
             replace a o1 px=1.02\n\
             new a o2 X buy limit qty=20 px=1.10\n",
        )
        .unwrap();
    let mut e = Engine::new(EngineConfig::default(), Permissive);
    let mut lines = Vec::new();
    for s in steps.drain(..) {
        let mut out = Vec::new();
        apply(&mut e, &s, &mut out);
        e.validate().unwrap();
        for ev in &out {
            let mut t = String::new();
            p.render(ev, &mut t);
            lines.push(t);
        }
    }
    let rej = |clid: &str, cmd: &str, reason: &str| {
        format!(
            r#"{{"ev":"rejected","seq":0,"time":"09:30:00.000","acct":"a","clid":"{clid}","id":null,"cmd":"{cmd}","reason":"{reason}"}}"#
        )
    };
    assert_eq!(
        lines,
        [
            r#"{"ev":"accepted","seq":1,"time":"09:30:00.000","acct":"a","clid":"o1","id":1,"sym":"X","side":"buy","type":"limit","tif":"day","px":"1.05","qty":10}"#.to_string(),
            r#"{"ev":"level","seq":1,"time":"09:30:00.000","sym":"X","side":"buy","px":"1.05","qty":10}"#.to_string(),
            rej("o2", "new", "off_tick"),
            rej("o3", "new", "off_tick"),
            rej("o4", "new", "off_lot"),
            rej("o5", "new", "price_too_large"),
            rej("o6", "new", "qty_too_large"),
            rej("o7", "new", "invalid_price"),
            rej("o1", "replace", "off_tick"),
            // Edge rejects never reached the engine: seq 2 is next, the
            // clid o2 is free and the order o1 is unchanged.
            r#"{"ev":"accepted","seq":2,"time":"09:30:00.000","acct":"a","clid":"o2","id":2,"sym":"X","side":"buy","type":"limit","tif":"day","px":"1.10","qty":20}"#.to_string(),
            r#"{"ev":"level","seq":2,"time":"09:30:00.000","sym":"X","side":"buy","px":"1.10","qty":20}"#.to_string(),
        ]
    );
    let bids: Vec<(i64, i64)> = e.levels(SymbolId(0), Side::Buy).map(|(p, q)| (p.ticks(), q.lots())).collect();
    assert_eq!(bids, [(22, 2), (21, 1)]);
    assert_eq!(e.seq(), Seq(2));
}

/// Runs a scenario script through `Parser` and `apply`, checking the
/// invariants after every step; returns the rendered events.
fn scenario_lines(text: &str) -> (Vec<String>, Engine<Permissive>) {
    let mut p = Parser::new();
    let mut e = Engine::new(EngineConfig::default(), Permissive);
    let mut lines = Vec::new();
    for line in text.lines() {
        let Some(step) = p.parse_line(line).unwrap() else {
            continue;
        };
        let mut out = Vec::new();
        apply(&mut e, &step, &mut out);
        e.validate().unwrap();
        for ev in &out {
            let mut t = String::new();
            p.render(ev, &mut t);
            lines.push(t);
        }
    }
    (lines, e)
}

#[test]
fn rejected_new_with_a_used_clid_does_not_change_how_a_replace_is_read() {
    // Regression: the scenario edge converts a replace's price and quantity
    // with the instrument of the order's `new` line; a later `new` with the
    // same clid on another symbol (rejected as a duplicate) used to take
    // its place, so `px=100.05` moved the AAA order to 20.01 (BBB ticks).
    let (lines, e) = scenario_lines(
        "instrument AAA tick=0.01 lot=1\ninstrument BBB tick=0.05 lot=10\naccount a cash=1\n\
         at 09:30:00\n\
         new a o1 AAA buy limit qty=5 px=100.00\n\
         new a o1 BBB buy limit qty=50 px=20.00\n\
         replace a o1 px=100.05 qty=7\n\
         new a o2 BBB buy limit qty=0 px=20.00\n\
         new a o2 AAA sell limit qty=3 px=101.00\n\
         replace a o2 px=100.99 qty=4\n",
    );
    let t = r#""seq":3,"time":"09:30:00.000""#;
    assert_eq!(
        lines[3],
        format!(
            r#"{{"ev":"replaced",{t},"acct":"a","clid":"o1","id":1,"sym":"AAA","px":"100.05","qty":7,"leaves":7}}"#
        )
    );
    // o2's first `new` was invalid (the clid stays free), so its second
    // one, on AAA, is the order a replace of o2 refers to.
    let t = r#""seq":6,"time":"09:30:00.000""#;
    assert_eq!(
        lines[9],
        format!(
            r#"{{"ev":"replaced",{t},"acct":"a","clid":"o2","id":2,"sym":"AAA","px":"100.99","qty":4,"leaves":4}}"#
        )
    );
    let bids: Vec<(i64, i64)> = e.levels(SymbolId(0), Side::Buy).map(|(p, q)| (p.ticks(), q.lots())).collect();
    let asks: Vec<(i64, i64)> = e.levels(SymbolId(0), Side::Sell).map(|(p, q)| (p.ticks(), q.lots())).collect();
    assert_eq!((bids, asks), (vec![(10_005, 7)], vec![(10_099, 4)]));
    assert_eq!(e.levels(SymbolId(1), Side::Buy).count(), 0);
}

#[test]
fn extreme_values_never_panic() {
    let mut h = h();
    h.setup(&[buy(A, u64::MAX, 100, 5), sell(B, 0, 101, 5)]);
    let prices = [i64::MIN, -1, 0, 1, MAX_PRICE_TICKS, MAX_PRICE_TICKS + 1, i64::MAX];
    let qtys = [i64::MIN, -1, 0, 1, MAX_QTY_LOTS, MAX_QTY_LOTS + 1, i64::MAX];
    let accts = [A, AccountId(3), AccountId(u32::MAX)];
    let syms = [S, S1, SymbolId(2), SymbolId(u32::MAX)];
    let mut clid = 1_000;
    let mut events = 0;
    for &acct in &accts {
        for &sym in &syms {
            for &px in &prices {
                for &qty in &qtys {
                    for ord_type in [OrdType::Limit, OrdType::Market] {
                        for tif in [Tif::Day, Tif::Ioc, Tif::Fok] {
                            clid += 1;
                            let o = NewOrder { sym, ord_type, tif, ..lim(acct, clid, Side::Sell, px, qty) };
                            let evs = h.raw(new(o));
                            assert!(!evs.is_empty());
                            events += evs.len();
                            if matches!(evs[0].kind, EventKind::Accepted { .. }) {
                                // Whatever was accepted is taken away again.
                                h.raw(cancel(acct, clid));
                                h.raw(mass(acct, None));
                            }
                        }
                    }
                }
                h.raw(replace(acct, u64::MAX, px, 0));
                h.raw(replace(A, u64::MAX, px, qtys[(clid % 7) as usize]));
                h.raw(mass(acct, Some(sym)));
            }
        }
    }
    assert!(events > 1_000);
}

// ---------------------------------------------------------------------------
// Sequence numbers, engine time, ids.

#[test]
fn events_carry_the_inputs_seq_and_engine_time() {
    let mut e = Engine::new(EngineConfig::default(), Permissive);
    e.add_instrument(Instrument::new("0.01", 1, VenueMode::Clob).unwrap());
    e.add_account(AccountSpec::default());
    e.add_account(AccountSpec::default());
    let inputs = [
        (100, sell(A, 1, 100, 5)),
        (200, sell(A, 2, 101, 5)),
        (150, buy(B, 3, 101, 7)), // earlier: gets the previous time, 200
        (150, Input::Tick),       // consumes a sequence number, no events
        (300, buy(B, 3, 101, 1)), // rejected: still seq and time
        (250, cancel(A, 2)),
        (250, replace(B, 9, 100, 0)),
        (400, mass(A, None)),
    ];
    let want_time = [100, 200, 200, 200, 300, 300, 300, 400];
    let want_events = [2, 2, 9, 0, 1, 2, 1, 0];
    for (i, ((t, input), (wt, wn))) in inputs.iter().zip(want_time.iter().zip(want_events)).enumerate() {
        let mut out = Vec::new();
        e.process(Nanos(*t), input, &mut out);
        e.validate().unwrap();
        let seq = Seq(i as u64 + 1);
        assert_eq!(e.seq(), seq);
        assert_eq!(e.now(), Nanos(*wt), "input {i}");
        assert_eq!(out.len(), wn, "input {i}: {out:?}");
        for ev in &out {
            assert_eq!((ev.seq, ev.time), (seq, Nanos(*wt)), "input {i}: {ev:?}");
        }
    }
}

#[test]
fn engine_time_never_runs_backwards() {
    let mut e = Engine::new(EngineConfig::default(), Permissive);
    e.add_instrument(Instrument::new("0.01", 1, VenueMode::Clob).unwrap());
    e.add_account(AccountSpec::default());
    let mut last = Nanos(0);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..500u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let t = Nanos(x % 1_000_000);
        let input = if i % 3 == 0 { Input::Tick } else { buy(A, i, 1 + (x % 50) as i64, 1) };
        let mut out = Vec::new();
        e.process(t, &input, &mut out);
        let want = last.max(t);
        assert_eq!(e.now(), want);
        assert!(out.iter().all(|ev| ev.time == want));
        last = want;
    }
    assert_eq!(e.seq(), Seq(500));
}

#[test]
fn order_ids_increase_from_one_in_acceptance_order() {
    let mut h = h();
    let mut ids = Vec::new();
    let inputs = [
        buy(A, 1, 100, 1),
        buy(A, 1, 100, 1),                                                  // duplicate: no id
        sell(B, 1, 0, 1),                                                   // invalid: no id
        new(NewOrder { post_only: true, ..lim(B, 2, Side::Sell, 100, 1) }), // would take: no id
        new(mkt(C, 1, Side::Buy, 3)),                                       // accepted, cancelled: id 2
        sell(B, 3, 100, 1),                                                 // trades: id 3
        buy(C, 2, 100, 1),                                                  // rests: id 4
        new(NewOrder { tif: Tif::Fok, ..lim(A, 2, Side::Sell, 100, 5) }),   // killed: id 5
    ];
    for i in inputs {
        for ev in h.raw(i) {
            if let EventKind::Accepted { order, .. } = ev.kind {
                ids.push(order.id.0);
            }
        }
    }
    assert_eq!(ids, [1, 2, 3, 4, 5]);
}

#[test]
fn trade_ids_increase_from_one() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 1), sell(A, 2, 101, 1), sell(A, 3, 102, 1), buy(B, 4, 98, 5)]);
    let mut trades = Vec::new();
    let mut collect = |evs: Vec<Event>| {
        for ev in evs {
            match ev.kind {
                EventKind::Traded { trade_id, .. } => trades.push((trade_id.0, "trade")),
                EventKind::Filled { trade_id, .. } => trades.push((trade_id.0, "fill")),
                _ => {}
            }
        }
    };
    collect(h.raw(buy(C, 5, 101, 2)));
    collect(h.raw(replace(B, 4, 102, 0)));
    collect(h.raw(new(mkt(C, 6, Side::Sell, 2))));
    let want: Vec<(u64, &str)> = (1..=4).flat_map(|t| [(t, "trade"), (t, "fill"), (t, "fill")]).collect();
    assert_eq!(trades, want);
}

#[test]
fn a_script_past_the_instrument_limit_stops_with_its_line() {
    let mut text = String::new();
    for k in 0..=optix_engine::MAX_SYMBOLS {
        text.push_str(&format!("instrument S{k} tick=0.01\n"));
    }
    let err = Parser::new().parse_all(&text).unwrap_err();
    assert_eq!(err.line, optix_engine::MAX_SYMBOLS + 1);
    assert!(err.msg.contains("too many instruments"), "{}", err.msg);
}
