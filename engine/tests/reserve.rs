//! Reserve (iceberg) orders: the book and level updates show
//! `min(display, leaves)`; when the shown part fills, the next part is
//! shown at the back of the level, and the same aggressor may reach it
//! again; fill-or-kill counts the hidden reserve; replace rules.

mod common;
use common::*;
use optix_engine::*;

#[test]
fn only_the_display_is_shown_in_the_book_and_level_updates() {
    let mut h = h();
    assert_eq!(
        h.run(iceberg(A, 1, Side::Sell, 100, 10, 3)),
        ["accepted A/1#1 s0 sell limit day px=100 qty=10 display=3", "level s0 sell px=100 qty=3"]
    );
    assert_eq!(h.asks(), [(100, 3)]);
    // A display larger than the order shows the order.
    h.run(iceberg(A, 2, Side::Buy, 90, 2, 5));
    assert_eq!(h.bids(), [(90, 2)]);
}

#[test]
fn refilled_several_times_inside_one_sweep_at_the_back_of_the_queue() {
    let mut h = h();
    h.setup(&[iceberg(A, 1, Side::Sell, 100, 10, 3), sell(B, 2, 100, 2)]);
    assert_eq!(h.asks(), [(100, 5)]);
    assert_eq!(
        h.run(buy(C, 3, 100, 9)),
        [
            "accepted C/3#3 s0 buy limit day px=100 qty=9",
            // The shown 3, then the part refilled behind B/2.
            "trade t1 px=100 qty=3 buy=C/3#3 sell=A/1#1 agg=buy",
            "fill A/1#1 px=100 qty=3 leaves=7 maker",
            "fill C/3#3 px=100 qty=3 leaves=6 taker",
            "trade t2 px=100 qty=2 buy=C/3#3 sell=B/2#2 agg=buy",
            "fill B/2#2 px=100 qty=2 leaves=0 maker",
            "fill C/3#3 px=100 qty=2 leaves=4 taker",
            "trade t3 px=100 qty=3 buy=C/3#3 sell=A/1#1 agg=buy",
            "fill A/1#1 px=100 qty=3 leaves=4 maker",
            "fill C/3#3 px=100 qty=3 leaves=1 taker",
            "trade t4 px=100 qty=1 buy=C/3#3 sell=A/1#1 agg=buy",
            "fill A/1#1 px=100 qty=1 leaves=3 maker",
            "fill C/3#3 px=100 qty=1 leaves=0 taker",
            "level s0 sell px=100 qty=2",
        ]
    );
    assert_eq!(h.asks(), [(100, 2)]);
}

#[test]
fn a_lone_reserve_order_is_swept_through_in_one_aggressor() {
    let mut h = h();
    h.setup(&[iceberg(A, 1, Side::Buy, 100, 7, 2)]);
    let ev = h.run(Input::NewOrder(mkt(B, 2, Side::Sell, 10)));
    let trades: Vec<&String> = ev.iter().filter(|e| e.starts_with("trade")).collect();
    assert_eq!(trades.len(), 4, "{ev:?}");
    assert_eq!(ev[ev.len() - 2], "level s0 buy px=100 qty=0");
    assert_eq!(ev[ev.len() - 1], "cancelled B/2#2 qty=3 no_liquidity");
    assert_eq!(h.e.resting_orders(), 0);
}

#[test]
fn a_refill_goes_behind_orders_that_arrived_later() {
    let mut h = h();
    h.setup(&[iceberg(A, 1, Side::Sell, 100, 6, 2), sell(B, 2, 100, 1)]);
    h.run(buy(C, 3, 100, 2));
    // A/1's new part is behind B/2 now.
    let ev = h.run(buy(C, 4, 100, 1));
    assert_eq!(ev[1], "trade t2 px=100 qty=1 buy=C/4#4 sell=B/2#2 agg=buy");
}

#[test]
fn fok_counts_the_hidden_reserve() {
    let mut h = h();
    h.setup(&[iceberg(A, 1, Side::Sell, 100, 10, 1)]);
    let fok = NewOrder { tif: Tif::Fok, ..lim(B, 2, Side::Buy, 100, 10) };
    let ev = h.run(new(fok));
    assert_eq!(ev.iter().filter(|e| e.starts_with("trade")).count(), 10);
    assert_eq!(ev.last().unwrap(), "level s0 sell px=100 qty=0");
    let mut h = common::h();
    h.setup(&[iceberg(A, 1, Side::Sell, 100, 10, 1)]);
    let fok = NewOrder { tif: Tif::Fok, ..lim(B, 2, Side::Buy, 100, 11) };
    assert_eq!(h.run(new(fok))[1], "cancelled B/2#2 qty=11 fill_or_kill");
}

#[test]
fn an_aggressive_reserve_order_trades_in_full_then_rests_its_display() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 2)]);
    let ev = h.run(iceberg(B, 2, Side::Buy, 100, 10, 3));
    assert_eq!(ev.last().unwrap(), "level s0 buy px=100 qty=3");
    assert_eq!(h.bids(), [(100, 3)]);
}

#[test]
fn replace_lowering_the_total_cuts_the_hidden_reserve_first_and_keeps_priority() {
    let mut h = h();
    h.setup(&[iceberg(A, 1, Side::Sell, 100, 10, 3), sell(B, 2, 100, 1)]);
    assert_eq!(
        h.run(replace(A, 1, 0, 5)),
        ["replaced A/1#1 px=100 qty=5 leaves=5"].into_iter().chain(["level s0 sell px=100 qty=4"]).collect::<Vec<_>>()
    );
    // Down to less than the display: the shown part shrinks too.
    assert_eq!(h.run(replace(A, 1, 0, 2)), ["replaced A/1#1 px=100 qty=2 leaves=2", "level s0 sell px=100 qty=3"]);
    let ev = h.run(buy(C, 3, 100, 1));
    assert_eq!(ev[1], "trade t1 px=100 qty=1 buy=C/3#3 sell=A/1#1 agg=buy");
}

#[test]
fn replace_raising_the_total_or_the_price_shows_the_display_again_at_the_back() {
    let mut h = h();
    h.setup(&[iceberg(A, 1, Side::Sell, 100, 10, 3), sell(B, 2, 100, 1)]);
    assert_eq!(
        h.run(replace(A, 1, 0, 20)),
        ["replaced A/1#1 px=100 qty=20 leaves=20", "level s0 sell px=100 qty=1", "level s0 sell px=100 qty=4"]
    );
    let ev = h.run(buy(C, 3, 100, 1));
    assert_eq!(ev[1], "trade t1 px=100 qty=1 buy=C/3#3 sell=B/2#2 agg=buy");
    assert_eq!(
        h.run(replace(A, 1, 101, 0)),
        ["replaced A/1#1 px=101 qty=20 leaves=20", "level s0 sell px=100 qty=0", "level s0 sell px=101 qty=3"]
    );
}

#[test]
fn a_reserve_order_that_fills_completely_is_gone() {
    let mut h = h();
    h.setup(&[iceberg(A, 1, Side::Sell, 100, 4, 3)]);
    h.run(buy(B, 2, 100, 3));
    assert_eq!(h.asks(), [(100, 1)]);
    h.run(buy(B, 3, 100, 1));
    assert_eq!(h.asks(), []);
    assert_eq!(h.run(cancel(A, 1)), ["rejected cancel A/1#0 order_not_working"]);
}

#[test]
fn display_is_validated() {
    let mut h = h();
    let bad = |d: i64| Input::NewOrder(NewOrder { display: Qty::from_lots(d), ..lim(A, 1, Side::Buy, 100, 5) });
    assert_eq!(h.run(bad(-1)), ["rejected new A/1#0 invalid_qty"]);
    assert_eq!(h.run(bad(MAX_QTY_LOTS + 1)), ["rejected new A/1#0 qty_too_large"]);
    let m = NewOrder { display: Qty::from_lots(1), ..mkt(A, 1, Side::Buy, 5) };
    assert_eq!(h.run(new(m)), ["rejected new A/1#0 invalid_order_type"]);
}

#[test]
fn a_reserve_order_is_cut_into_at_most_max_reserve_parts() {
    // One aggressor may meet every part in one sweep: the parts are bounded.
    let mut h = h();
    let n = MAX_RESERVE_PARTS;
    assert_eq!(h.run(iceberg(A, 1, Side::Sell, 100, 2 * n + 1, 2)), ["rejected new A/1#0 invalid_qty"]);
    assert_eq!(
        h.run(iceberg(A, 2, Side::Sell, 100, 2 * n, 2))[0],
        format!("accepted A/2#1 s0 sell limit day px=100 qty={} display=2", 2 * n)
    );
    assert_eq!(h.run(replace(A, 2, 0, 2 * n + 1)), ["rejected replace A/2#1 invalid_qty"]);
    let ev = h.run(Input::NewOrder(mkt(B, 3, Side::Buy, 2 * n)));
    assert_eq!(ev.iter().filter(|e| e.starts_with("trade")).count() as i64, n);
}
