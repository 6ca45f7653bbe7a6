//! `optix replay`'s pipeline on a handmade ITCH day with client orders:
//! feed thread (book builder) -> ring -> matcher thread (paper
//! instruments) -> outbound ring -> reader. Every paper fill is checked
//! against fills worked out by hand from the rules of paper mode.

use optix_engine::*;
use optix_feed::itch::*;

mod common;
use common::{action, directory, hdr};
use optix_feed::replay::{run_replay, ClientOrders, ReplayConfig, ReplayReport, ReplaySource};

/// 09:30:00 in nanoseconds since midnight.
const T0: u64 = 34_200_000_000_000;

fn add(locate: u16, ts: u64, name: &str, order_ref: u64, side: u8, shares: u32, price: u32) -> Message {
    AddOrder { header: hdr(locate, ts), order_ref, side, shares, stock: Stock::new(name).unwrap(), price }.into()
}

/// The handmade day: AAPL (locate 1, symbol 0) and MSFT (locate 2, symbol 1).
fn day() -> Vec<u8> {
    let us = |n: u64| T0 + n * 1_000;
    let msgs = [
        directory(1, T0 - 1_000_000_000, "AAPL"),
        directory(2, T0 - 1_000_000_000, "MSFT"),
        // Quote: bid 150.00 x 100, ask 150.05 x 200.
        add(1, us(1), "AAPL", 1, b'B', 100, 1_500_000),
        add(1, us(1), "AAPL", 2, b'S', 200, 1_500_500),
        // Ask 150.04 x 300: a new quote, the liquidity clients took is back.
        add(1, us(3), "AAPL", 3, b'S', 300, 1_500_400),
        // A print of 100 at 150.04 (a buyer took the ask), then ask 150.04 x 200.
        OrderExecuted { header: hdr(1, us(5)), order_ref: 3, executed_shares: 100, match_number: 1 }.into(),
        // Ask back to 150.05 x 200, then 150.05 x 50.
        OrderDelete { header: hdr(1, us(6)), order_ref: 3 }.into(),
        OrderCancel { header: hdr(1, us(7)), order_ref: 2, cancelled_shares: 150 }.into(),
        // Ask 150.01 x 80.
        add(1, us(8), "AAPL", 4, b'S', 80, 1_500_100),
        action(1, us(9), "AAPL", b'H'),
        action(1, us(11), "AAPL", b'T'),
        // MSFT: bid 299.90 x 100, ask 300.10 x 100; then a print of 40 at
        // 300.10 against a non-displayed sell.
        add(2, us(12), "MSFT", 5, b'B', 100, 2_999_000),
        add(2, us(12), "MSFT", 6, b'S', 100, 3_001_000),
        Trade {
            header: hdr(2, us(13)),
            order_ref: 0,
            side: b'S',
            shares: 40,
            stock: Stock::new("MSFT").unwrap(),
            price: 3_001_000,
            match_number: 2,
        }
        .into(),
        // AAPL bid 150.02 x 100 (ask still 150.01 x 80: a new quote).
        add(1, us(14), "AAPL", 7, b'B', 100, 1_500_200),
    ];
    let mut buf = Vec::new();
    for m in msgs {
        m.encode_framed(&mut buf).unwrap();
    }
    buf
}

const ORDERS: &str = "
instrument AAPL tick=0.0001
instrument MSFT tick=0.0001
instrument GOOG tick=0.0001   # not in the file
account alice cash=1000000
account bob cash=1000000
at 09:30:00.000002
new alice c1 AAPL buy limit qty=150 px=150.10    # takes 150 of the 200 at 150.05
new bob c2 AAPL buy market qty=100               # the 50 left at 150.05; 50 cancelled
at 09:30:00.000004
new alice c3 AAPL sell limit qty=100 px=150.02   # rests (bid 150.00)
new alice c4 AAPL buy limit qty=100 px=150.01    # rests (ask 150.04)
new alice c11 AAPL buy limit qty=1 px=150.00001  # off tick: rejected at the edge
at 09:30:00.000005
# the print at 150.04 (09:30:00.000005) comes before these orders' time passes
at 09:30:00.0000085
new bob c5 AAPL buy limit qty=30 px=150.01       # ask 150.01 x 80 all taken by c4: rests
at 09:30:00.000010
new bob c6 AAPL buy limit qty=10 px=150.10       # halted: rejected
cancel alice c4                                  # cancels are allowed in a halt
at 09:30:00.0000125
new bob c8 MSFT sell limit qty=50 px=300.00      # rests (bid 299.90)
at 09:30:00.000020
new alice c9 GOOG buy limit qty=10 px=150.05     # GOOG never in the file: unknown symbol
new alice c10 AAPL sell market qty=5             # after the last message: hits bid 150.02
";

fn replay(symbol: Option<&str>) -> ReplayReport {
    let mut cfg = ReplayConfig::new(ReplaySource::Bytes(day()));
    cfg.book = optix_feed::book::BookConfig::small();
    cfg.orders = Some(ClientOrders::parse(ORDERS).unwrap());
    cfg.symbol = symbol.map(|s| Stock::new(s).unwrap());
    cfg.feed_core = None;
    cfg.matcher_core = None;
    cfg.ring_capacity = 8;
    cfg.keep_events = true;
    run_replay(cfg, |_| {}).unwrap()
}

/// `(account, clid name, symbol, side, price in 0.0001, qty, leaves, liquidity)`.
type Fill = (u32, &'static str, u32, Side, i64, i64, i64, Liquidity);
/// A [`Fill`] with its client order id's name owned.
type OwnedFill = (u32, String, u32, Side, i64, i64, i64, Liquidity);

fn fills(r: &ReplayReport) -> Vec<OwnedFill> {
    let orders = &r.orders;
    r.fills
        .iter()
        .map(|e| match e.kind {
            EventKind::Filled { order, sym, side, price, qty, leaves, liq, .. } => (
                order.acct.0,
                orders.parser().clid_name(order.clid).to_string(),
                sym.0,
                side,
                price.ticks(),
                qty.lots(),
                leaves.lots(),
                liq,
            ),
            _ => unreachable!(),
        })
        .collect()
}

fn owned(v: &[Fill]) -> Vec<OwnedFill> {
    v.iter().map(|&(a, c, s, sd, p, q, l, liq)| (a, c.to_string(), s, sd, p, q, l, liq)).collect()
}

const ALICE: u32 = 0;
const BOB: u32 = 1;
const AAPL: u32 = 0;
const MSFT: u32 = 1;

#[test]
fn every_paper_fill_of_a_handmade_day() {
    let r = replay(None);
    let orders = &r.orders;
    use Liquidity::{Maker, Taker};
    use Side::{Buy, Sell};
    let want = owned(&[
        // 09:30:00.000002: marketable against ask 150.05 x 200.
        (ALICE, "c1", AAPL, Buy, 1_500_500, 150, 0, Taker),
        (BOB, "c2", AAPL, Buy, 1_500_500, 50, 50, Taker),
        // 09:30:00.000005: the print at 150.04 is strictly above c3's 150.02.
        (ALICE, "c3", AAPL, Sell, 1_500_200, 100, 0, Maker),
        // 09:30:00.000008: the ask comes down to c4's 150.01 with 80 shares.
        (ALICE, "c4", AAPL, Buy, 1_500_100, 80, 20, Maker),
        // 09:30:00.000013: MSFT print at 300.10, strictly above c8's 300.00.
        (BOB, "c8", MSFT, Sell, 3_000_000, 40, 10, Maker),
        // 09:30:00.000014: a new AAPL quote; its ask 150.01 x 80 is fresh
        // liquidity for c5 (c4 is cancelled).
        (BOB, "c5", AAPL, Buy, 1_500_100, 30, 0, Maker),
        // After the file: the market sell hits the bid 150.02.
        (ALICE, "c10", AAPL, Sell, 1_500_200, 5, 0, Taker),
    ]);
    assert_eq!(fills(&r), want);

    // The rest of what the client orders got.
    let rejects: Vec<(String, RejectReason)> = r
        .events
        .iter()
        .filter_map(|o| match o.event.kind {
            EventKind::Rejected { order, reason, .. } => {
                Some((orders.parser().clid_name(order.clid).to_string(), reason))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        rejects,
        [("c6".to_string(), RejectReason::SymbolHalted), ("c9".to_string(), RejectReason::UnknownSymbol)]
    );
    let cancels: Vec<(String, i64, CancelReason)> = r
        .events
        .iter()
        .filter_map(|o| match o.event.kind {
            EventKind::Cancelled { order, qty, reason, .. } => {
                Some((orders.parser().clid_name(order.clid).to_string(), qty.lots(), reason))
            }
            _ => None,
        })
        .collect();
    assert_eq!(cancels.len(), 2, "{cancels:?}");
    assert_eq!((cancels[0].0.as_str(), cancels[0].1), ("c2", 50), "the market order's rest");
    assert_eq!((cancels[1].0.as_str(), cancels[1].1), ("c4", 20));
    assert_eq!(r.edge_rejects, 1, "c11");
    assert_eq!(r.orders_injected, 10, "c1-c6, the cancel of c4, c8-c10");

    // Engine time is the file's: every event carries the time of its input.
    assert!(r.events.windows(2).all(|w| w[0].event.time <= w[1].event.time));
    let c10_time = r.events.last().unwrap().event.time;
    assert_eq!(c10_time, Nanos(T0 + 20_000), "the last order's own time");
    // Positions follow the fills.
    assert_eq!(r.engine.position(AccountId(ALICE), SymbolId(AAPL)), 150 - 100 + 80 - 5);
    assert_eq!(r.engine.position(AccountId(BOB), SymbolId(AAPL)), 50 + 30);
    assert_eq!(r.engine.position(AccountId(BOB), SymbolId(MSFT)), -40);
    r.engine.validate().unwrap();

    // The feed side.
    assert_eq!(r.messages(), 15);
    assert_eq!(r.book().unwrap().symbol_count(), 2);
    assert_eq!(r.counts.fills, 7);
    assert_eq!(r.counts.missing, 0);
    assert_eq!(r.matcher.instruments_added, 2);
    assert_eq!(r.matcher.unknown_symbol, 0);
    assert_eq!(r.trades_by_symbol, [1, 1]);
    assert_eq!(r.book().unwrap().top(SymbolId(AAPL)), (Some((1_500_200, 100)), Some((1_500_100, 80))));
}

#[test]
fn a_replay_is_deterministic() {
    let a = replay(None);
    let b = replay(None);
    assert_eq!(a.events, b.events);
    assert_eq!(a.engine.state_hash(), b.engine.state_hash());
}

#[test]
fn the_symbol_filter_keeps_other_symbols_market_data_away() {
    let r = replay(Some("MSFT"));
    // Without AAPL quotes or prints, only the MSFT order fills.
    assert_eq!(fills(&r), owned(&[(BOB, "c8", MSFT, Side::Sell, 3_000_000, 40, 10, Liquidity::Maker)]));
    assert!(r.filtered > 0);
    assert_eq!(r.matcher.instruments_added, 2, "every instrument exists");
}

#[test]
fn scripts_must_trade_in_the_replay_units() {
    let e = ClientOrders::parse("instrument AAPL tick=0.01\n").unwrap_err();
    assert!(e.to_string().contains("tick=0.0001"), "{e}");
    let e = ClientOrders::parse("instrument AAPL tick=0.0001\nbook AAPL\n").unwrap_err();
    assert!(e.to_string().contains("not available in a replay"), "{e}");
    let e = ClientOrders::parse("instrument TOOLONGNAME tick=0.0001\n").unwrap_err();
    assert!(e.to_string().contains("not an ITCH stock symbol"), "{e}");
}
