//! The cost of a new mark: N accounts each hold a position in one paper
//! symbol, then external quotes move its mid. Every quote re-marks every
//! holder's position and account (their equity and gross notional feed the
//! O(1) buying-power check), so a quote costs O(holders):
//!
//! `cargo run --release -p optix-bench --example marks -- 10000`
//!
//! The argument is the number of holders (default 10,000).

use optix_engine::{
    AccountId, AccountSpec, ClientOrderId, CountingSink, Engine, EngineConfig, ExtQuote, Input, Instrument, Money,
    Nanos, NewOrder, OrdType, Permissive, Price, Qty, Side, Tif, VenueMode,
};
use std::time::Instant;

const QUOTES: u64 = 20_000;

fn main() {
    let Ok(n) = u32::try_from(optix_bench::count_arg("marks", "holder count", 10_000, 1)) else {
        eprintln!("marks: the holder count must fit 32 bits");
        std::process::exit(2);
    };
    let mut engine = Engine::new(EngineConfig::default(), Permissive);
    let Ok(instrument) = Instrument::new("0.01", 1, VenueMode::Paper) else { unreachable!("a valid tick size") };
    let sym = engine.add_instrument(instrument);
    let mut sink = CountingSink::default();
    let quote = |bid: i64| {
        Input::Quote(ExtQuote {
            sym,
            bid: Price::from_ticks(bid),
            bid_qty: Qty::from_lots(1_000_000),
            ask: Price::from_ticks(bid + 2),
            ask_qty: Qty::from_lots(1_000_000),
        })
    };
    let mut now = 0u64;
    engine.process(Nanos(now), &quote(9_999), &mut sink);
    for a in 0..n {
        let acct =
            engine.add_account(AccountSpec { cash: Money::from_micros(1_000_000_000_000), ..AccountSpec::default() });
        debug_assert_eq!(acct, AccountId(a));
        now += 1;
        let buy = NewOrder {
            acct,
            clid: ClientOrderId(1),
            sym,
            side: Side::Buy,
            ord_type: OrdType::Market,
            tif: Tif::Day,
            price: Price::NONE,
            stop_price: Price::NONE,
            qty: Qty::from_lots(1),
            display: Qty::ZERO,
            expire: Nanos(0),
            post_only: false,
        };
        engine.process(Nanos(now), &Input::NewOrder(buy), &mut sink);
    }
    assert_eq!(engine.position(AccountId(n - 1), sym), 1, "every account holds the symbol");
    let start = Instant::now();
    for k in 0..QUOTES {
        now += 1;
        // The mid moves with every quote.
        engine.process(Nanos(now), &quote(9_990 + (k % 7) as i64), &mut sink);
    }
    let t = start.elapsed();
    let per_quote = t.as_nanos() as f64 / QUOTES as f64;
    println!(
        "{n} holders: {per_quote:.0} ns per quote that moves the mark ({:.1} ns per holder), {:.0} quotes/s",
        per_quote / f64::from(n),
        1e9 / per_quote
    );
}
