//! Self-trade prevention, applied by the aggressor's account mode when it
//! meets a resting order of its own account: each mode against a resting
//! plain order and a resting reserve order, the fill-or-kill rule, and the
//! decrement representation (`cancelled` ... `self_trade` for the side
//! reduced to zero, `replaced` with the new total for the other).

mod common;
use common::*;
use optix_engine::*;

/// B/1 sells 2 at 100, then A/2 rests at 100 (plain 5, or a reserve order
/// of 10 showing 3), then B/3 sells 4 at 101; A's aggressor buys 10 at 101.
fn sweep(mode: StpMode, resting_iceberg: bool) -> (H, Vec<String>) {
    let mut h = h_stp(&[mode, StpMode::None]);
    let own = if resting_iceberg { iceberg(A, 2, Side::Sell, 100, 10, 3) } else { sell(A, 2, 100, 5) };
    h.setup(&[sell(B, 1, 100, 2), own, sell(B, 3, 101, 4)]);
    let ev = h.run(buy(A, 10, 101, 10));
    (h, ev)
}

const HEAD: [&str; 4] = [
    "accepted A/10#4 s0 buy limit day px=101 qty=10",
    "trade t1 px=100 qty=2 buy=A/10#4 sell=B/1#1 agg=buy",
    "fill B/1#1 px=100 qty=2 leaves=0 maker",
    "fill A/10#4 px=100 qty=2 leaves=8 taker",
];

fn with_head(rest: &[&str]) -> Vec<String> {
    HEAD.iter().chain(rest).map(|s| s.to_string()).collect()
}

#[test]
fn without_stp_an_account_trades_with_itself() {
    let (h, ev) = sweep(StpMode::None, false);
    assert_eq!(
        ev,
        with_head(&[
            "trade t2 px=100 qty=5 buy=A/10#4 sell=A/2#2 agg=buy",
            "fill A/2#2 px=100 qty=5 leaves=0 maker",
            "fill A/10#4 px=100 qty=5 leaves=3 taker",
            "level s0 sell px=100 qty=0",
            "trade t3 px=101 qty=3 buy=A/10#4 sell=B/3#3 agg=buy",
            "fill B/3#3 px=101 qty=3 leaves=1 maker",
            "fill A/10#4 px=101 qty=3 leaves=0 taker",
            "level s0 sell px=101 qty=1",
        ])
    );
    // Bought 10, sold 5 to itself.
    assert_eq!(h.e.position(A, S), 5);
}

#[test]
fn cancel_newest_cancels_the_aggressor_against_a_plain_order() {
    let (h, ev) = sweep(StpMode::CancelNewest, false);
    assert_eq!(ev, with_head(&["level s0 sell px=100 qty=5", "cancelled A/10#4 qty=8 self_trade"]));
    assert_eq!(h.asks(), [(100, 5), (101, 4)]);
    assert_eq!(h.bids(), []);
}

#[test]
fn cancel_newest_cancels_the_aggressor_against_a_reserve_order() {
    let (h, ev) = sweep(StpMode::CancelNewest, true);
    assert_eq!(ev, with_head(&["level s0 sell px=100 qty=3", "cancelled A/10#4 qty=8 self_trade"]));
    assert_eq!(h.asks(), [(100, 3), (101, 4)]);
}

#[test]
fn cancel_newest_with_the_own_order_first_changes_no_level() {
    let mut h = h_stp(&[StpMode::CancelNewest]);
    h.setup(&[sell(A, 1, 100, 5)]);
    assert_eq!(
        h.run(buy(A, 2, 100, 3)),
        ["accepted A/2#2 s0 buy limit day px=100 qty=3", "cancelled A/2#2 qty=3 self_trade"]
    );
    assert_eq!(h.asks(), [(100, 5)]);
}

#[test]
fn cancel_oldest_cancels_the_resting_plain_order_and_goes_on() {
    let (h, ev) = sweep(StpMode::CancelOldest, false);
    assert_eq!(
        ev,
        with_head(&[
            "cancelled A/2#2 qty=5 self_trade",
            "level s0 sell px=100 qty=0",
            "trade t2 px=101 qty=4 buy=A/10#4 sell=B/3#3 agg=buy",
            "fill B/3#3 px=101 qty=4 leaves=0 maker",
            "fill A/10#4 px=101 qty=4 leaves=4 taker",
            "level s0 sell px=101 qty=0",
            "level s0 buy px=101 qty=4",
        ])
    );
    assert_eq!(h.bids(), [(101, 4)]);
    assert_eq!(h.asks(), []);
}

#[test]
fn cancel_oldest_cancels_the_whole_resting_reserve_order() {
    let (_, ev) = sweep(StpMode::CancelOldest, true);
    assert_eq!(ev[4], "cancelled A/2#2 qty=10 self_trade");
    assert_eq!(ev[5], "level s0 sell px=100 qty=0");
    assert_eq!(ev.last().unwrap(), "level s0 buy px=101 qty=4");
}

#[test]
fn cancel_both_cancels_the_resting_order_then_the_aggressor() {
    for (iceberg, qty) in [(false, 5), (true, 10)] {
        let (h, ev) = sweep(StpMode::CancelBoth, iceberg);
        let cancelled = format!("cancelled A/2#2 qty={qty} self_trade");
        assert_eq!(
            ev,
            with_head(&[&cancelled, "level s0 sell px=100 qty=0", "cancelled A/10#4 qty=8 self_trade"]),
            "iceberg {iceberg}"
        );
        assert_eq!(h.asks(), [(101, 4)]);
        assert_eq!(h.bids(), []);
    }
}

#[test]
fn decrement_against_a_smaller_plain_order_cancels_it_and_reduces_the_aggressor() {
    let (h, ev) = sweep(StpMode::Decrement, false);
    assert_eq!(
        ev,
        with_head(&[
            "cancelled A/2#2 qty=5 self_trade",
            "replaced A/10#4 px=101 qty=5 leaves=3",
            "level s0 sell px=100 qty=0",
            "trade t2 px=101 qty=3 buy=A/10#4 sell=B/3#3 agg=buy",
            "fill B/3#3 px=101 qty=3 leaves=1 maker",
            "fill A/10#4 px=101 qty=3 leaves=0 taker",
            "level s0 sell px=101 qty=1",
        ])
    );
    assert_eq!(h.asks(), [(101, 1)]);
    // Positions count trades only.
    assert_eq!(h.e.position(A, S), 5);
    assert_eq!(h.e.position(B, S), -5);
}

#[test]
fn decrement_against_a_larger_reserve_order_reduces_it_in_place_and_cancels_the_aggressor() {
    let (mut h, ev) = sweep(StpMode::Decrement, true);
    assert_eq!(
        ev,
        with_head(&[
            "replaced A/2#2 px=100 qty=2 leaves=2",
            "level s0 sell px=100 qty=2",
            "cancelled A/10#4 qty=8 self_trade",
        ])
    );
    assert_eq!(h.asks(), [(100, 2), (101, 4)]);
    // The reduced order kept its place: first in the level.
    let ev = h.run(Input::NewOrder(mkt(B, 20, Side::Buy, 1)));
    assert_eq!(ev[1], "trade t2 px=100 qty=1 buy=B/20#5 sell=A/2#2 agg=buy");
}

#[test]
fn decrement_of_equal_quantities_cancels_both() {
    let mut h = h_stp(&[StpMode::Decrement]);
    h.setup(&[sell(A, 1, 100, 5)]);
    assert_eq!(
        h.run(buy(A, 2, 100, 5)),
        [
            "accepted A/2#2 s0 buy limit day px=100 qty=5",
            "cancelled A/1#1 qty=5 self_trade",
            "level s0 sell px=100 qty=0",
            "cancelled A/2#2 qty=5 self_trade",
        ]
    );
    assert_eq!(h.e.resting_orders(), 0);
}

#[test]
fn decrement_of_a_market_aggressor_names_no_price() {
    let mut h = h_stp(&[StpMode::Decrement, StpMode::None]);
    h.setup(&[sell(A, 1, 100, 2), sell(B, 2, 100, 5)]);
    assert_eq!(
        h.run(Input::NewOrder(mkt(A, 3, Side::Buy, 4))),
        [
            "accepted A/3#3 s0 buy market day px=0 qty=4",
            "cancelled A/1#1 qty=2 self_trade",
            "replaced A/3#3 px=0 qty=2 leaves=2",
            "trade t1 px=100 qty=2 buy=A/3#3 sell=B/2#2 agg=buy",
            "fill B/2#2 px=100 qty=2 leaves=3 maker",
            "fill A/3#3 px=100 qty=2 leaves=0 taker",
            "level s0 sell px=100 qty=3",
        ]
    );
}

#[test]
fn other_accounts_orders_are_not_affected() {
    let mut h = h_stp(&[StpMode::CancelBoth, StpMode::CancelBoth]);
    h.setup(&[sell(B, 1, 100, 5)]);
    let ev = h.run(buy(A, 2, 100, 5));
    assert_eq!(ev[1], "trade t1 px=100 qty=5 buy=A/2#2 sell=B/1#1 agg=buy");
}

#[test]
fn fok_counts_other_accounts_before_the_first_own_order() {
    // cancel_newest, cancel_both, decrement: the count stops at the own order.
    for mode in [StpMode::CancelNewest, StpMode::CancelBoth, StpMode::Decrement] {
        let mut h = h_stp(&[mode, StpMode::None]);
        h.setup(&[sell(B, 1, 100, 2), sell(A, 2, 100, 5), sell(B, 3, 100, 5)]);
        let fok = NewOrder { tif: Tif::Fok, ..lim(A, 4, Side::Buy, 100, 4) };
        assert_eq!(
            h.run(new(fok)),
            ["accepted A/4#4 s0 buy limit fok px=100 qty=4", "cancelled A/4#4 qty=4 fill_or_kill"],
            "{mode:?}"
        );
        // Nothing changed: the own order still rests.
        assert_eq!(h.asks(), [(100, 12)]);
        let fok = NewOrder { tif: Tif::Fok, ..lim(A, 5, Side::Buy, 100, 2) };
        assert_eq!(h.run(new(fok)).len(), 5, "{mode:?}: fills from B/1 alone");
    }
}

#[test]
fn fok_with_cancel_oldest_skips_own_orders() {
    let mut h = h_stp(&[StpMode::CancelOldest, StpMode::None]);
    h.setup(&[sell(A, 1, 100, 5), sell(B, 2, 100, 5)]);
    let fok = NewOrder { tif: Tif::Fok, ..lim(A, 3, Side::Buy, 100, 6) };
    assert_eq!(h.run(new(fok)), ["accepted A/3#3 s0 buy limit fok px=100 qty=6", "cancelled A/3#3 qty=6 fill_or_kill"]);
    let fok = NewOrder { tif: Tif::Fok, ..lim(A, 4, Side::Buy, 100, 5) };
    assert_eq!(
        h.run(new(fok)),
        [
            "accepted A/4#4 s0 buy limit fok px=100 qty=5",
            "cancelled A/1#1 qty=5 self_trade",
            "trade t1 px=100 qty=5 buy=A/4#4 sell=B/2#2 agg=buy",
            "fill B/2#2 px=100 qty=5 leaves=0 maker",
            "fill A/4#4 px=100 qty=5 leaves=0 taker",
            "level s0 sell px=100 qty=0",
        ]
    );
}

#[test]
fn a_replace_that_crosses_applies_stp_as_the_aggressor() {
    let mut h = h_stp(&[StpMode::CancelNewest]);
    h.setup(&[sell(A, 1, 101, 5), buy(A, 2, 99, 3)]);
    assert_eq!(
        h.run(replace(A, 2, 101, 0)),
        ["replaced A/2#2 px=101 qty=3 leaves=3", "level s0 buy px=99 qty=0", "cancelled A/2#2 qty=3 self_trade"]
    );
    assert_eq!(h.e.open_orders(A), 1);
    assert_eq!(h.bids(), []);
}

#[test]
fn stp_modes_parse_in_scripts() {
    use optix_engine::scenario::{Parser, Step};
    let mut p = Parser::new();
    for (text, want) in [
        ("none", StpMode::None),
        ("cancel_newest", StpMode::CancelNewest),
        ("cancel_oldest", StpMode::CancelOldest),
        ("cancel_both", StpMode::CancelBoth),
        ("decrement", StpMode::Decrement),
    ] {
        let step = p.parse_line(&format!("account a_{text} cash=1 stp={text}")).unwrap().unwrap();
        assert_eq!(
            step.step,
            Step::Account(AccountSpec { stp: want, cash: Money::parse("1").unwrap(), ..AccountSpec::default() })
        );
    }
}
