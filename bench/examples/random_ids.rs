//! One account sends IOC orders with random client order ids (each is
//! used, none rests) and the time per order is printed, for the whole run
//! and for its last 10,000 orders. Every out-of-order id opens a range in
//! the account's used-id set; this shows what that costs as the set grows:
//!
//! `cargo run --release -p optix-bench --example random_ids -- 300000`
//!
//! The argument is the number of orders (default 300,000).

use optix_bench::engine_bench::new_order;
use optix_engine::{
    AccountSpec, CountingSink, Engine, EngineConfig, Input, Instrument, Money, Nanos, Permissive, Side, Tif, VenueMode,
};
use std::time::Instant;

fn main() {
    let n = optix_bench::count_arg("random_ids", "order count", 300_000, 10_000);
    let mut engine = Engine::new(EngineConfig::default(), Permissive);
    let Ok(instrument) = Instrument::new("0.01", 1, VenueMode::Clob) else { unreachable!("a valid tick size") };
    let sym = engine.add_instrument(instrument);
    let acct =
        engine.add_account(AccountSpec { cash: Money::from_micros(1_000_000_000_000), ..AccountSpec::default() });
    let mut sink = CountingSink::default();
    // xorshift64: a fixed, seeded sequence of ids.
    let mut x = 0x1234_5678_9abc_def0u64;
    let start = Instant::now();
    let mut tail_ns = 0u128;
    for k in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let order = new_order(acct.0, x >> 1, sym.0, Side::Buy, Tif::Ioc, 100, 1);
        let t = Instant::now();
        engine.process(Nanos(k), &Input::NewOrder(order), &mut sink);
        if k >= n - 10_000 {
            tail_ns += t.elapsed().as_nanos();
        }
    }
    let total = start.elapsed();
    println!(
        "{n} orders with random ids: {:.3} s, {:.0} ns per order; the last 10,000: {:.0} ns per order",
        total.as_secs_f64(),
        total.as_nanos() as f64 / n as f64,
        tail_ns as f64 / 10_000.0
    );
}
