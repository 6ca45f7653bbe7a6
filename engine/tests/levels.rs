//! Price levels that empty below the top of a side stay in the side's
//! sorted vector, empty, for the next order at their price; these tests pin
//! that nothing outside the engine can tell: depth, matching, level updates
//! and the state hash are those of a book without them, and a side
//! compacts once its empty levels outnumber its live ones. Every input is
//! checked with `validate()` (which counts the empty levels and checks the
//! top is never one).

mod common;

use common::*;
use optix_engine::*;

#[test]
fn an_emptied_level_below_the_top_is_invisible_and_reused() {
    let mut h = h();
    for (k, px) in (95..=100).rev().enumerate() {
        h.setup(&[buy(A, k as u64 + 1, px, 10)]);
    }
    // 98 empties: it leaves the depth at once.
    let ev = h.run(cancel(A, 3));
    assert_eq!(ev.last().unwrap(), "level s0 buy px=98 qty=0");
    assert_eq!(h.bids(), [(100, 10), (99, 10), (97, 10), (96, 10), (95, 10)]);
    // An order at 98 again makes a level of its own, behind nobody.
    let ev = h.run(buy(B, 1, 98, 7));
    assert_eq!(ev.last().unwrap(), "level s0 buy px=98 qty=7");
    assert_eq!(h.bids(), [(100, 10), (99, 10), (98, 7), (97, 10), (96, 10), (95, 10)]);
    // A sweep takes the levels best first.
    let ev = h.run(sell(C, 1, 95, 47));
    let trades: Vec<&String> = ev.iter().filter(|e| e.starts_with("trade")).collect();
    assert_eq!(trades.len(), 5);
    assert!(trades[2].contains("px=98 qty=7"), "{trades:?}");
    assert_eq!(h.bids(), [(95, 10)]);
}

#[test]
fn emptying_the_top_drops_the_empty_levels_below_it() {
    let mut h = h();
    h.setup(&[sell(A, 1, 100, 5), sell(A, 2, 101, 5), sell(A, 3, 102, 5), sell(A, 4, 103, 5)]);
    // 101 and 102 empty below the top (100), then the top itself empties:
    // the best ask is 103 and a buy at 102 rests instead of trading.
    h.setup(&[cancel(A, 2), cancel(A, 3), cancel(A, 1)]);
    assert_eq!(h.asks(), [(103, 5)]);
    let ev = h.run(buy(B, 1, 102, 4));
    assert!(!ev.iter().any(|e| e.starts_with("trade")), "{ev:?}");
    assert_eq!(h.bids(), [(102, 4)]);
    // A market buy takes the one level there is.
    let ev = h.run(Input::NewOrder(mkt(C, 1, Side::Buy, 5)));
    assert!(ev.iter().any(|e| e.starts_with("trade") && e.contains("px=103 qty=5")), "{ev:?}");
    assert_eq!(h.asks(), []);
}

#[test]
fn a_side_with_more_empty_levels_than_live_ones_compacts() {
    let mut h = h();
    // 300 bid levels 1..=300, best 300.
    for px in 1..=300 {
        h.setup(&[buy(A, px as u64, px, 1)]);
    }
    // Empty 250 of them below the top: every step validates the count of
    // empty levels kept, whatever compactions ran in between.
    for px in 1..=250 {
        h.setup(&[cancel(A, px as u64)]);
    }
    let depth = h.bids();
    assert_eq!(depth.len(), 50);
    assert_eq!(depth.first(), Some(&(300, 1)));
    assert_eq!(depth.last(), Some(&(251, 1)));
    // Refill some of the emptied prices and sweep the whole side.
    for px in (10..=250).step_by(10) {
        h.setup(&[buy(B, px as u64, px, 2)]);
    }
    assert_eq!(h.bids().len(), 75);
    let ev = h.run(sell(C, 1, 1, 1_000));
    assert_eq!(ev.iter().filter(|e| e.starts_with("trade")).count(), 75);
    assert_eq!(h.bids(), []);
}

#[test]
fn empty_levels_kept_are_not_part_of_the_state_hash() {
    // The same orders, ids and client order ids; in `a` the cancelled
    // order was below the top (its level stays, empty), in `b` it was the
    // top (its level went): the same state.
    let mut a = h();
    let mut b = h();
    a.setup(&[buy(A, 1, 100, 5), buy(A, 2, 99, 5), buy(A, 3, 98, 5), cancel(A, 2)]);
    b.setup(&[buy(A, 1, 100, 5), buy(A, 2, 101, 5), buy(A, 3, 98, 5), cancel(A, 2)]);
    assert_eq!(a.bids(), [(100, 5), (98, 5)]);
    assert_eq!(a.bids(), b.bids());
    assert_eq!(a.e.state_hash(), b.e.state_hash());
    // A different book does hash differently.
    a.setup(&[buy(A, 4, 99, 1)]);
    b.setup(&[buy(A, 4, 97, 1)]);
    assert_ne!(a.e.state_hash(), b.e.state_hash());
}

#[test]
fn empty_levels_make_room_before_a_side_would_grow() {
    // Room for 8 levels per side: 8 bids, 3 of them emptied below the top,
    // then 3 new prices. The side reclaims its empty levels instead of
    // growing, and the book is what it should be.
    let cfg = EngineConfig { order_capacity: 64, levels_per_side: 8, positions_per_account: 0 };
    let mut e = Engine::new(cfg, Permissive);
    e.add_instrument(Instrument::new("0.01", 1, VenueMode::Clob).unwrap());
    e.add_account(AccountSpec::default());
    let mut out = Vec::new();
    let mut t = 0;
    let mut run = |e: &mut Engine<Permissive>, i: Input| {
        t += 1;
        e.process(Nanos(t), &i, &mut out);
        e.validate().unwrap();
    };
    for px in 1..=8 {
        run(&mut e, buy(A, px as u64, px * 10, 1));
    }
    for px in [2, 4, 6] {
        run(&mut e, cancel(A, px as u64));
    }
    for (k, px) in [15, 45, 65].into_iter().enumerate() {
        run(&mut e, buy(A, 100 + k as u64, px, 2));
    }
    let depth: Vec<(i64, i64)> = e.levels(S, Side::Buy).map(|(p, q)| (p.ticks(), q.lots())).collect();
    assert_eq!(depth, [(80, 1), (70, 1), (65, 2), (50, 1), (45, 2), (30, 1), (15, 2), (10, 1)]);
}

#[test]
fn a_new_price_next_to_an_empty_level_takes_its_place() {
    // Bids 100, 98, 96; 98 empties below the top. A bid at 97 (just below
    // the empty level) and, after that one goes, a bid at 99 (just above
    // an empty one) each take the empty level's place; the asks side does
    // the same with its keys reversed.
    let mut h = h();
    h.setup(&[buy(A, 1, 100, 1), buy(A, 2, 98, 2), buy(A, 3, 96, 3), cancel(A, 2)]);
    h.setup(&[buy(B, 1, 97, 4)]);
    assert_eq!(h.bids(), [(100, 1), (97, 4), (96, 3)]);
    h.setup(&[cancel(B, 1), buy(B, 2, 99, 5)]);
    assert_eq!(h.bids(), [(100, 1), (99, 5), (96, 3)]);
    h.setup(&[sell(C, 1, 200, 1), sell(C, 2, 202, 2), sell(C, 3, 204, 3), cancel(C, 2)]);
    h.setup(&[sell(C, 4, 203, 4), cancel(C, 4), sell(C, 5, 201, 5)]);
    assert_eq!(h.asks(), [(200, 1), (201, 5), (204, 3)]);
    // Everything still trades in price order.
    let ev = h.run(Input::NewOrder(mkt(A, 9, Side::Buy, 9)));
    let trades: Vec<&String> = ev.iter().filter(|e| e.starts_with("trade")).collect();
    assert!(trades[0].contains("px=200 qty=1") && trades[1].contains("px=201 qty=5"), "{trades:?}");
    assert!(trades[2].contains("px=204 qty=3"), "{trades:?}");
}
