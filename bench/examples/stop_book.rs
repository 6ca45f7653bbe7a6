//! Waiting stops on one symbol, at a few stop prices, from many accounts:
//! the time to place a stop at the price that triggers last (behind every
//! other stop in trigger order) and to cancel it again, as the stop book
//! grows. Stop prices cluster (round numbers, a few ticks under the
//! market), so a stop book holds many stops per price:
//!
//! `cargo run --release -p optix-bench --example stop_book -- 1000000`
//!
//! The argument is the number of waiting stops (default 1,000,000), spread
//! over 16 stop prices and 1,000 accounts. Nothing trades, so none triggers.

use optix_engine::{
    AccountId, AccountSpec, CancelOrder, ClientOrderId, CountingSink, Engine, EngineConfig, Input, Instrument, Money,
    Nanos, NewOrder, OrdType, Permissive, Price, Qty, Side, SymbolId, Tif, VenueMode,
};
use std::time::Instant;

const ACCOUNTS: u32 = 1_000;
const PRICES: i64 = 16;

fn stop(acct: u32, clid: u64, sym: SymbolId, stop: i64) -> Input {
    Input::NewOrder(NewOrder {
        acct: AccountId(acct),
        clid: ClientOrderId(clid),
        sym,
        side: Side::Sell,
        ord_type: OrdType::Stop,
        tif: Tif::Gtc,
        price: Price::NONE,
        stop_price: Price::from_ticks(stop),
        qty: Qty::from_lots(1),
        display: Qty::ZERO,
        expire: Nanos(0),
        post_only: false,
    })
}

fn main() {
    let n = optix_bench::count_arg("stop_book", "stop count", 1_000_000, 10_000);
    let mut engine = Engine::new(EngineConfig::default(), Permissive);
    let Ok(instrument) = Instrument::new("0.01", 1, VenueMode::Clob) else { unreachable!("a valid tick size") };
    let sym = engine.add_instrument(instrument);
    for _ in 0..ACCOUNTS {
        engine.add_account(AccountSpec { cash: Money::from_micros(1_000_000_000_000), ..AccountSpec::default() });
    }
    let mut sink = CountingSink::default();
    let mut now = 0u64;
    let start = Instant::now();
    for k in 0..n {
        now += 1;
        // Sell stops at 9,000..9,015 ticks, round-robin over the prices.
        engine.process(
            Nanos(now),
            &stop((k % u64::from(ACCOUNTS)) as u32, k, sym, 9_000 + (k as i64 % PRICES)),
            &mut sink,
        );
    }
    let fill = start.elapsed();
    assert_eq!(engine.stops(sym, Side::Sell).count() as u64, n, "every stop waits");
    // Place a stop at the lowest price (last to trigger) and cancel it.
    const ROUNDS: u64 = 10_000;
    let start = Instant::now();
    for k in 0..ROUNDS {
        now += 1;
        let clid = n + k;
        engine.process(Nanos(now), &stop(0, clid, sym, 9_000), &mut sink);
        now += 1;
        engine.process(
            Nanos(now),
            &Input::CancelOrder(CancelOrder { acct: AccountId(0), clid: ClientOrderId(clid) }),
            &mut sink,
        );
    }
    let churn = start.elapsed();
    assert_eq!(engine.stops(sym, Side::Sell).count() as u64, n, "the churn leaves the book as it was");
    println!(
        "{n} waiting stops placed in {:.3} s ({:.0} ns per stop); then a stop placed behind them all and cancelled: {:.0} ns per command",
        fill.as_secs_f64(),
        fill.as_nanos() as f64 / n as f64,
        churn.as_nanos() as f64 / (2 * ROUNDS) as f64
    );
}
