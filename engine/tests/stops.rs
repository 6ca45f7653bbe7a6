//! Stop and stop-limit orders: trigger on the last trade price (internal
//! trades and external prints), also on entry; wait with no trade yet;
//! every print of an execution counts; triggered stops run after the order
//! that triggered them (buys by ascending stop, then sells by descending,
//! then by arrival) and cascade; the pre-trade check runs again; waiting
//! stops can be cancelled and replaced.

mod common;
use common::*;
use optix_engine::*;

fn mstop(acct: AccountId, clid: u64, side: Side, stop_px: i64) -> Input {
    stop(acct, clid, side, stop_px, 0, 1)
}

/// The `triggered` lines and the trade prices, in order.
fn story(ev: &[String]) -> Vec<String> {
    ev.iter()
        .filter(|e| e.starts_with("triggered") || e.starts_with("trade"))
        .map(|e| if e.starts_with("trade") { e.split(' ').take(3).collect::<Vec<_>>().join(" ") } else { e.clone() })
        .collect()
}

#[test]
fn a_stop_waits_without_a_trade_and_is_not_in_the_book() {
    let mut h = h();
    assert_eq!(h.run(mstop(A, 1, Side::Buy, 101)), ["accepted A/1#1 s0 buy stop day px=0 qty=1 stop=101"]);
    assert_eq!(h.bids(), []);
    assert_eq!(h.e.resting_orders(), 0);
    assert_eq!(h.e.open_orders(A), 1);
    assert_eq!(h.e.stops(S, Side::Buy).collect::<Vec<_>>(), [(Price::from_ticks(101), OrderId(1))]);
    assert_eq!(h.e.last_price(S), None);
}

#[test]
fn buy_stop_cascade_three_levels_ascending_then_by_time() {
    let mut h = h();
    for (i, px) in (101..=106).enumerate() {
        h.setup(&[sell(B, 11 + i as u64, px, 1)]);
    }
    h.setup(&[
        mstop(A, 1, Side::Buy, 102),
        mstop(A, 2, Side::Buy, 101),
        mstop(A, 3, Side::Buy, 101),
        mstop(A, 4, Side::Buy, 104),
        mstop(A, 5, Side::Buy, 106),
    ]);
    let order: Vec<u64> = h.e.stops(S, Side::Buy).map(|(_, id)| id.0).collect();
    assert_eq!(order, [8, 9, 7, 10, 11], "next to trigger first");
    let ev = h.run(buy(C, 20, 101, 1));
    assert_eq!(
        story(&ev),
        [
            "trade t1 px=101",
            // First batch (the 101 print): both 101 stops, by arrival.
            "triggered A/2#8 last=101",
            "trade t2 px=102",
            "triggered A/3#9 last=101",
            "trade t3 px=103",
            // Triggered by A/2's print at 102.
            "triggered A/1#7 last=102",
            "trade t4 px=104",
            // Triggered by A/1's print at 104.
            "triggered A/4#10 last=104",
            "trade t5 px=105",
        ]
    );
    assert_eq!(h.e.stops(S, Side::Buy).collect::<Vec<_>>(), [(Price::from_ticks(106), OrderId(11))]);
    assert_eq!(h.asks(), [(106, 1)]);
    assert_eq!(h.e.last_price(S), Some(Price::from_ticks(105)));
    assert_eq!(h.e.position(A, S), 4);
}

#[test]
fn sell_stop_cascade_three_levels_descending_then_by_time() {
    let mut h = h();
    for (i, px) in (94..=99).rev().enumerate() {
        h.setup(&[buy(B, 11 + i as u64, px, 1)]);
    }
    h.setup(&[
        mstop(A, 1, Side::Sell, 98),
        mstop(A, 2, Side::Sell, 99),
        mstop(A, 3, Side::Sell, 99),
        mstop(A, 4, Side::Sell, 96),
        mstop(A, 5, Side::Sell, 94),
    ]);
    let ev = h.run(sell(C, 20, 99, 1));
    assert_eq!(
        story(&ev),
        [
            "trade t1 px=99",
            "triggered A/2#8 last=99",
            "trade t2 px=98",
            "triggered A/3#9 last=99",
            "trade t3 px=97",
            "triggered A/1#7 last=98",
            "trade t4 px=96",
            "triggered A/4#10 last=96",
            "trade t5 px=95",
        ]
    );
    assert_eq!(h.e.stops(S, Side::Sell).count(), 1);
    assert_eq!(h.bids(), [(94, 1)]);
}

#[test]
fn every_print_of_a_sweep_counts_and_buys_run_before_sells() {
    let mut h = h();
    // Entered with no trade yet: both wait.
    h.setup(&[mstop(A, 1, Side::Sell, 100), mstop(A, 2, Side::Buy, 101)]);
    h.setup(&[sell(B, 3, 100, 2), sell(B, 4, 101, 2), sell(B, 5, 102, 2)]);
    let ev = h.run(buy(C, 6, 102, 6));
    let tail: Vec<&str> = ev.iter().skip_while(|e| !e.starts_with("triggered")).map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            // The highest print (102) reached the buy stop, the lowest (100)
            // the sell stop, though the last price is 102.
            "triggered A/2#2 last=102",
            "cancelled A/2#2 qty=1 no_liquidity",
            "triggered A/1#1 last=100",
            "cancelled A/1#1 qty=1 no_liquidity",
        ]
    );
    assert_eq!(h.e.last_price(S), Some(Price::from_ticks(102)));
    assert_eq!(h.e.open_orders(A), 0);
}

#[test]
fn a_stop_entered_when_the_condition_holds_triggers_at_once() {
    let mut h = h();
    h.setup(&[sell(B, 1, 100, 1), buy(C, 2, 100, 1), sell(B, 3, 105, 5)]);
    assert_eq!(h.e.last_price(S), Some(Price::from_ticks(100)));
    assert_eq!(
        h.run(stop(A, 4, Side::Buy, 99, 0, 2)),
        [
            "accepted A/4#4 s0 buy stop day px=0 qty=2 stop=99",
            "triggered A/4#4 last=100",
            "trade t2 px=105 qty=2 buy=A/4#4 sell=B/3#3 agg=buy",
            "fill B/3#3 px=105 qty=2 leaves=3 maker",
            "fill A/4#4 px=105 qty=2 leaves=0 taker",
            "level s0 sell px=105 qty=3",
        ]
    );
    // A sell stop above the last price triggers too; one below waits.
    assert_eq!(h.run(mstop(A, 5, Side::Sell, 106))[1], "triggered A/5#5 last=105");
    assert_eq!(h.run(mstop(A, 6, Side::Sell, 100)).len(), 1);
}

#[test]
fn stop_limit_becomes_a_limit_order_that_rests() {
    let mut h = h();
    h.setup(&[stop(A, 1, Side::Buy, 101, 101, 5), sell(B, 2, 101, 2)]);
    let ev = h.run(buy(C, 3, 101, 1));
    let tail: Vec<&str> = ev.iter().skip_while(|e| !e.starts_with("triggered")).map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "triggered A/1#1 last=101",
            "trade t2 px=101 qty=1 buy=A/1#1 sell=B/2#2 agg=buy",
            "fill B/2#2 px=101 qty=1 leaves=0 maker",
            "fill A/1#1 px=101 qty=1 leaves=4 taker",
            "level s0 sell px=101 qty=0",
            "level s0 buy px=101 qty=4",
        ]
    );
    assert_eq!(h.bids(), [(101, 4)]);
    // Now a working limit order: replace and cancel as usual.
    assert_eq!(h.run(replace(A, 1, 100, 0))[0], "replaced A/1#1 px=100 qty=5 leaves=4");
    assert_eq!(h.bids(), [(100, 4)]);
}

#[test]
fn an_external_print_triggers_stops() {
    let mut h = h();
    h.setup(&[mstop(A, 1, Side::Buy, 101), sell(B, 2, 103, 1)]);
    assert_eq!(h.run(print(100, 5)), Vec::<String>::new());
    assert_eq!(h.e.last_price(S), Some(Price::from_ticks(100)));
    let ev = h.run(print(101, 5));
    assert_eq!(ev[0], "triggered A/1#1 last=101");
    assert_eq!(ev[1], "trade t1 px=103 qty=1 buy=A/1#1 sell=B/2#2 agg=buy");
    // A bad print is an admin reject.
    assert_eq!(h.run(print(0, 1)), ["rejected admin A/0#0 invalid_price"]);
    assert_eq!(h.run(print(100, 0)), ["rejected admin A/0#0 invalid_qty"]);
}

/// Rejects market orders larger than 1 lot.
struct MaxMarket;
impl PreTradeCheck for MaxMarket {
    fn check_new(&mut self, _now: Nanos, o: &OrderCheck) -> Result<(), RejectReason> {
        if o.ord_type == OrdType::Market && o.qty.lots() > 1 {
            return Err(RejectReason::MaxQty);
        }
        Ok(())
    }
    fn check_replace(&mut self, _now: Nanos, _o: &OrderCheck) -> Result<(), RejectReason> {
        Ok(())
    }
}

#[test]
fn a_triggered_stop_is_checked_again_as_the_order_it_becomes() {
    let mut h = h_full(MaxMarket, &[StpMode::None, StpMode::None, StpMode::None], 0);
    h.setup(&[stop(A, 1, Side::Buy, 100, 0, 2), sell(B, 2, 100, 5)]);
    let ev = h.run(buy(C, 3, 100, 1));
    let tail: Vec<&str> = ev.iter().skip_while(|e| !e.starts_with("triggered")).map(String::as_str).collect();
    assert_eq!(tail, ["triggered A/1#1 last=100", "rejected new A/1#1 max_qty"]);
    assert_eq!(h.e.open_orders(A), 0);
    assert_eq!(h.e.stops(S, Side::Buy).count(), 0);
}

#[test]
fn a_waiting_stop_is_cancelled_without_a_level_update() {
    let mut h = h();
    h.setup(&[mstop(A, 1, Side::Buy, 101)]);
    assert_eq!(h.run(cancel(A, 1)), ["cancelled A/1#1 qty=1 requested"]);
    assert_eq!(h.e.stops(S, Side::Buy).count(), 0);
    h.setup(&[mstop(A, 2, Side::Buy, 101), mstop(A, 3, Side::Sell, 90)]);
    assert_eq!(
        h.run(Input::MassCancel(MassCancel { acct: A, sym: None })),
        ["cancelled A/2#2 qty=1 mass_cancel", "cancelled A/3#3 qty=1 mass_cancel"]
    );
}

fn replace_stop(acct: AccountId, clid: u64, stop_px: i64, px: i64, qty: i64) -> Input {
    Input::ReplaceStop(ReplaceStop {
        acct,
        clid: ClientOrderId(clid),
        stop_price: Price::from_ticks(stop_px),
        price: Price::from_ticks(px),
        qty: Qty::from_lots(qty),
    })
}

#[test]
fn replacing_a_waiting_stop() {
    let mut h = h();
    h.setup(&[stop(A, 1, Side::Buy, 101, 0, 5), stop(A, 2, Side::Buy, 101, 0, 5)]);
    // Less quantity: in place, first to trigger still.
    assert_eq!(h.run(replace(A, 1, 0, 3)), ["replaced A/1#1 px=0 qty=3 leaves=3 stop=101"]);
    assert_eq!(h.e.stops(S, Side::Buy).next(), Some((Price::from_ticks(101), OrderId(1))));
    // More quantity: behind A/2.
    assert_eq!(h.run(replace(A, 1, 0, 6)), ["replaced A/1#1 px=0 qty=6 leaves=6 stop=101"]);
    assert_eq!(h.e.stops(S, Side::Buy).next(), Some((Price::from_ticks(101), OrderId(2))));
    // A new stop price.
    assert_eq!(h.run(replace_stop(A, 1, 100, 0, 0)), ["replaced A/1#1 px=0 qty=6 leaves=6 stop=100"]);
    assert_eq!(h.e.stops(S, Side::Buy).next(), Some((Price::from_ticks(100), OrderId(1))));
    // A stop order takes no limit price.
    assert_eq!(h.run(replace(A, 1, 105, 0)), ["rejected replace A/1#1 price_not_allowed"]);
    assert_eq!(h.run(replace_stop(A, 1, -1, 0, 0)), ["rejected replace A/1#1 invalid_price"]);
    // A stop-limit's limit and stop price both change.
    h.setup(&[stop(A, 3, Side::Sell, 90, 89, 2)]);
    assert_eq!(h.run(replace_stop(A, 3, 91, 88, 0)), ["replaced A/3#3 px=88 qty=2 leaves=2 stop=91"]);
    // Only waiting stops have a stop price to replace.
    h.setup(&[buy(B, 4, 80, 1)]);
    assert_eq!(h.run(replace_stop(B, 4, 85, 0, 0)), ["rejected replace B/4#4 invalid_order_type"]);
}

#[test]
fn stops_at_one_price_keep_arrival_order_through_cancels_and_replaces() {
    let mut h = h();
    h.setup(&[sell(B, 50, 101, 10)]);
    // Five buy stops at 101 (ids 2..6) and one at 102 (id 7).
    for clid in 1..=5 {
        h.setup(&[mstop(A, clid, Side::Buy, 101)]);
    }
    h.setup(&[mstop(C, 6, Side::Buy, 102)]);
    let ids = |h: &H| h.e.stops(S, Side::Buy).map(|(p, id)| (p.ticks(), id.0)).collect::<Vec<_>>();
    assert_eq!(ids(&h), [(101, 2), (101, 3), (101, 4), (101, 5), (101, 6), (102, 7)]);
    // The middle one, the first and the last at 101 go.
    h.setup(&[cancel(A, 3), cancel(A, 1), cancel(A, 5)]);
    assert_eq!(ids(&h), [(101, 3), (101, 5), (102, 7)]);
    // Less quantity keeps its place; a new stop price goes to the back of
    // that price; coming back to 101 goes to the back of 101.
    h.setup(&[replace(A, 2, 0, 1)]);
    assert_eq!(ids(&h), [(101, 3), (101, 5), (102, 7)]);
    h.setup(&[replace_stop(A, 2, 102, 0, 0)]);
    assert_eq!(ids(&h), [(101, 5), (102, 7), (102, 3)]);
    h.setup(&[replace_stop(A, 2, 101, 0, 0)]);
    assert_eq!(ids(&h), [(101, 5), (101, 3), (102, 7)]);
    // The only stop at 102 goes: the price goes with it.
    h.setup(&[cancel(C, 6)]);
    assert_eq!(ids(&h), [(101, 5), (101, 3)]);
    // A print at 101 triggers both, in that order.
    let ev = h.run(buy(C, 20, 101, 1));
    assert_eq!(
        ev.iter().filter(|e| e.starts_with("triggered")).map(String::as_str).collect::<Vec<_>>(),
        ["triggered A/4#5 last=101", "triggered A/2#3 last=101"]
    );
    assert_eq!(h.e.stops(S, Side::Buy).count(), 0);
}

#[test]
fn a_stop_replaced_to_a_price_already_reached_triggers_at_once() {
    let mut h = h();
    h.setup(&[sell(B, 1, 100, 3), buy(C, 2, 100, 1), mstop(A, 3, Side::Buy, 105)]);
    assert_eq!(
        h.run(replace_stop(A, 3, 100, 0, 0)),
        [
            "replaced A/3#3 px=0 qty=1 leaves=1 stop=100",
            "triggered A/3#3 last=100",
            "trade t2 px=100 qty=1 buy=A/3#3 sell=B/1#1 agg=buy",
            "fill B/1#1 px=100 qty=1 leaves=1 maker",
            "fill A/3#3 px=100 qty=1 leaves=0 taker",
            "level s0 sell px=100 qty=1",
        ]
    );
}

#[test]
fn stop_fields_are_validated() {
    let mut h = h();
    let o = lim(A, 1, Side::Buy, 100, 1);
    let cases: [(NewOrder, &str); 5] = [
        (NewOrder { ord_type: OrdType::Stop, price: Price::NONE, ..o }, "invalid_price"),
        (NewOrder { ord_type: OrdType::Stop, stop_price: Price::from_ticks(101), ..o }, "price_not_allowed"),
        (NewOrder { ord_type: OrdType::StopLimit, ..o }, "invalid_price"),
        (
            NewOrder { ord_type: OrdType::StopLimit, stop_price: Price::from_ticks(101), post_only: true, ..o },
            "invalid_order_type",
        ),
        (
            NewOrder { ord_type: OrdType::StopLimit, stop_price: Price::from_ticks(101), tif: Tif::Opg, ..o },
            "invalid_order_type",
        ),
    ];
    for (o, want) in cases {
        assert_eq!(h.run(new(o)), [format!("rejected new A/1#0 {want}")]);
    }
}
