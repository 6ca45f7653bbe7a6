//! Times every command of the Liquibook flow on its own and prints the five
//! slowest, to find stalls that a sampled histogram can miss (growth of the
//! id map, the arena or a book side happens in one command):
//!
//! `cargo run --release -p optix-bench --example stalls -- 10000000`
//!
//! The argument is the number of orders (default 4,000,000). On a shared
//! machine a few milliseconds is the scheduler taking the core away.

use optix_bench::engine_bench::{build, liquibook, standard_risk};
use optix_engine::CountingSink;
use std::time::Instant;

fn main() {
    let n: u64 = match std::env::args().nth(1) {
        None => 4_000_000,
        Some(a) => match a.parse() {
            Ok(n) => n,
            Err(e) => {
                eprintln!("stalls: bad order count '{a}': {e}");
                std::process::exit(2);
            }
        },
    };
    let stream = liquibook(n, 1);
    let mut engine = build(&stream, standard_risk(stream.accounts.len()));
    let mut sink = CountingSink::default();
    // (nanoseconds, command index), slowest first.
    let mut worst: Vec<(u64, usize)> = Vec::with_capacity(6);
    let mut over_1ms = 0u64;
    for (k, (t, input)) in stream.inputs.iter().enumerate() {
        let start = Instant::now();
        engine.process(*t, input, &mut sink);
        let ns = start.elapsed().as_nanos() as u64;
        if ns > 1_000_000 {
            over_1ms += 1;
        }
        if worst.len() < 5 || ns > worst[worst.len() - 1].0 {
            worst.push((ns, k));
            worst.sort_unstable_by(|a, b| b.cmp(a));
            worst.truncate(5);
        }
    }
    println!("orders {n}, resting at the end {}, commands over 1 ms: {over_1ms}", engine.resting_orders());
    for (ns, k) in worst {
        println!("  command {k:>10}: {:>10.3} ms", ns as f64 / 1e6);
    }
}
