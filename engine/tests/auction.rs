//! Auctions: OPG/CLS orders are held aside until their auction; the uncross
//! takes the held orders and the resting book together at the one price
//! that maximizes volume, then minimizes imbalance, then is nearest the
//! reference price (else the last trade), then is the lowest; market orders
//! first, then price, then book before held, then time; fills are
//! `auction`, trades have no aggressor; OPG/CLS leftovers are cancelled,
//! book leftovers stay; reserve orders count in full.

mod common;
use common::*;
use optix_engine::*;

fn held(acct: AccountId, clid: u64, side: Side, px: i64, qty: i64, tif: Tif) -> Input {
    let o = if px == 0 { mkt(acct, clid, side, qty) } else { lim(acct, clid, side, px, qty) };
    new(NewOrder { tif, ..o })
}

fn opg(acct: AccountId, clid: u64, side: Side, px: i64, qty: i64) -> Input {
    held(acct, clid, side, px, qty, Tif::Opg)
}

fn open(h: &mut H<impl PreTradeCheck>) -> Vec<String> {
    h.run(Input::Auction(S, AuctionKind::Open))
}

/// The prices of the auction's trades.
fn trade_prices(ev: &[String]) -> Vec<String> {
    ev.iter().filter(|e| e.starts_with("trade")).map(|e| e.split(' ').nth(2).unwrap().to_string()).collect()
}

#[test]
fn held_orders_are_accepted_but_not_in_the_book() {
    let mut h = h();
    assert_eq!(h.run(opg(A, 1, Side::Buy, 100, 5)), ["accepted A/1#1 s0 buy limit opg px=100 qty=5"]);
    h.setup(&[sell(B, 2, 100, 5)]);
    // No trade: the OPG order waits for the auction.
    assert_eq!(h.asks(), [(100, 5)]);
    assert_eq!(h.bids(), []);
    assert_eq!(h.e.resting_orders(), 1);
    assert_eq!(h.e.open_orders(A), 1);
    assert_eq!(h.run(replace(A, 1, 101, 6)), ["replaced A/1#1 px=101 qty=6 leaves=6"]);
    assert_eq!(h.run(cancel(A, 1)), ["cancelled A/1#1 qty=6 requested"]);
}

#[test]
fn volume_decides() {
    let mut h = h();
    h.setup(&[opg(A, 1, Side::Buy, 101, 10), sell(B, 2, 100, 5), sell(B, 3, 101, 5), sell(B, 4, 102, 5)]);
    // At 100: 5; at 101: 10; at 102: 0.
    assert_eq!(trade_prices(&open(&mut h)), ["px=101", "px=101"]);
}

#[test]
fn imbalance_decides_when_volume_ties() {
    let mut h = h();
    h.setup(&[
        opg(A, 1, Side::Buy, 100, 4),
        opg(A, 2, Side::Buy, 101, 6),
        opg(B, 3, Side::Sell, 99, 6),
        opg(B, 4, Side::Sell, 101, 2),
    ]);
    // 99 and 100: 6 with 4 left over; 101: 6 with 2 left over.
    let ev = open(&mut h);
    assert_eq!(trade_prices(&ev), ["px=101"]);
    assert_eq!(ev[0], "trade t1 px=101 qty=6 buy=A/2#2 sell=B/3#3 agg=none");
}

#[test]
fn the_reference_price_decides_when_volume_and_imbalance_tie() {
    let mut h = h_full(Permissive, &[StpMode::None, StpMode::None], 102);
    h.setup(&[opg(A, 1, Side::Buy, 102, 10), sell(B, 2, 100, 5), sell(B, 3, 101, 5)]);
    // 101 and 102 both trade 10 with no imbalance; 102 is the reference.
    assert_eq!(trade_prices(&open(&mut h)), ["px=102", "px=102"]);
}

#[test]
fn the_last_trade_is_the_reference_without_one_on_the_instrument() {
    let mut h = h();
    h.setup(&[print(102, 1), opg(A, 1, Side::Buy, 102, 10), sell(B, 2, 100, 5), sell(B, 3, 101, 5)]);
    assert_eq!(trade_prices(&open(&mut h)), ["px=102", "px=102"]);
}

#[test]
fn the_lower_price_decides_last() {
    let mut h = h();
    h.setup(&[opg(A, 1, Side::Buy, 102, 10), sell(B, 2, 100, 5), sell(B, 3, 101, 5)]);
    // No reference price and no trade yet.
    let ev = open(&mut h);
    assert_eq!(
        ev,
        [
            "trade t1 px=101 qty=5 buy=A/1#1 sell=B/2#2 agg=none",
            "fill A/1#1 px=101 qty=5 leaves=5 auction",
            "fill B/2#2 px=101 qty=5 leaves=0 auction",
            "trade t2 px=101 qty=5 buy=A/1#1 sell=B/3#3 agg=none",
            "fill A/1#1 px=101 qty=5 leaves=0 auction",
            "fill B/3#3 px=101 qty=5 leaves=0 auction",
            "level s0 sell px=100 qty=0",
            "level s0 sell px=101 qty=0",
        ]
    );
    // With the reference nearer the higher price the higher one wins.
    let mut h = h_full(Permissive, &[StpMode::None, StpMode::None], 110);
    h.setup(&[opg(A, 1, Side::Buy, 102, 10), sell(B, 2, 100, 5), sell(B, 3, 101, 5)]);
    assert_eq!(trade_prices(&open(&mut h)), ["px=102", "px=102"]);
}

#[test]
fn held_and_book_orders_uncross_together_market_first_and_leftovers() {
    let mut h = h();
    h.setup(&[
        buy(B, 1, 99, 5),
        sell(B, 2, 101, 5),
        opg(A, 3, Side::Buy, 0, 3),
        opg(C, 4, Side::Sell, 99, 4),
        opg(A, 5, Side::Buy, 101, 2),
        opg(C, 6, Side::Sell, 105, 2),
        held(C, 7, Side::Sell, 90, 1, Tif::Cls),
    ]);
    assert_eq!(
        open(&mut h),
        [
            // 101: 5 traded (the 99 bid does not reach), imbalance 4.
            "trade t1 px=101 qty=3 buy=A/3#3 sell=C/4#4 agg=none",
            "fill A/3#3 px=101 qty=3 leaves=0 auction",
            "fill C/4#4 px=101 qty=3 leaves=1 auction",
            "trade t2 px=101 qty=1 buy=A/5#5 sell=C/4#4 agg=none",
            "fill A/5#5 px=101 qty=1 leaves=1 auction",
            "fill C/4#4 px=101 qty=1 leaves=0 auction",
            "trade t3 px=101 qty=1 buy=A/5#5 sell=B/2#2 agg=none",
            "fill A/5#5 px=101 qty=1 leaves=0 auction",
            "fill B/2#2 px=101 qty=1 leaves=4 auction",
            "level s0 sell px=101 qty=4",
            "cancelled C/6#6 qty=2 auction_leftover",
        ]
    );
    // Book leftovers stay; the CLS order still waits for its auction.
    assert_eq!(h.bids(), [(99, 5)]);
    assert_eq!(h.asks(), [(101, 4)]);
    assert_eq!(h.e.open_orders(C), 1);
    assert_eq!(h.e.last_price(S), Some(Price::from_ticks(101)));
    let ev = h.run(Input::Auction(S, AuctionKind::Close));
    assert_eq!(ev[0], "trade t4 px=99 qty=1 buy=B/1#1 sell=C/7#7 agg=none");
    assert_eq!(h.e.open_orders(C), 0);
}

#[test]
fn market_orders_fill_before_better_priced_limits() {
    let mut h = h();
    h.setup(&[opg(A, 1, Side::Sell, 95, 5), opg(A, 2, Side::Sell, 0, 5), opg(B, 3, Side::Buy, 100, 5)]);
    let ev = open(&mut h);
    assert_eq!(ev[0], "trade t1 px=95 qty=5 buy=B/3#3 sell=A/2#2 agg=none");
    assert_eq!(ev[3], "cancelled A/1#1 qty=5 auction_leftover");
}

#[test]
fn a_reserve_order_counts_in_full_and_shows_its_display_again() {
    let mut h = h();
    h.setup(&[iceberg(B, 1, Side::Sell, 100, 10, 2), opg(A, 2, Side::Buy, 100, 8)]);
    assert_eq!(h.asks(), [(100, 2)]);
    assert_eq!(
        open(&mut h),
        [
            "trade t1 px=100 qty=8 buy=A/2#2 sell=B/1#1 agg=none",
            "fill A/2#2 px=100 qty=8 leaves=0 auction",
            "fill B/1#1 px=100 qty=8 leaves=2 auction",
            "level s0 sell px=100 qty=2",
        ]
    );
}

#[test]
fn nothing_crosses_nothing_trades_and_held_orders_are_cancelled() {
    let mut h = h();
    h.setup(&[opg(A, 1, Side::Buy, 99, 1), sell(B, 2, 100, 1)]);
    assert_eq!(open(&mut h), ["cancelled A/1#1 qty=1 auction_leftover"]);
    assert_eq!(h.asks(), [(100, 1)]);
    assert_eq!(h.run(Input::Auction(SymbolId(5), AuctionKind::Open)), ["rejected admin A/0#0 unknown_symbol"]);
}

#[test]
fn the_auction_print_triggers_stops_after_the_uncross() {
    let mut h = h();
    h.setup(&[stop(C, 1, Side::Buy, 100, 0, 1), opg(A, 2, Side::Buy, 100, 1), sell(B, 3, 100, 2)]);
    let ev = open(&mut h);
    assert_eq!(ev[4], "triggered C/1#1 last=100");
    assert_eq!(ev[5], "trade t2 px=100 qty=1 buy=C/1#1 sell=B/3#3 agg=buy");
}

#[test]
fn auctions_parse_in_scripts() {
    use optix_engine::scenario::{Parser, Step};
    let mut p = Parser::new();
    p.parse_all("instrument X tick=0.01 ref=10.00\naccount a cash=1\n").unwrap();
    let step = p.parse_line("auction X close").unwrap().unwrap().step;
    assert_eq!(step, Step::Input(Input::Auction(SymbolId(0), AuctionKind::Close)));
    match p.parse_line("new a o1 X buy limit qty=1 px=10.00 tif=cls").unwrap().unwrap().step {
        Step::Input(Input::NewOrder(o)) => assert_eq!(o.tif, Tif::Cls),
        s => panic!("{s:?}"),
    }
}
