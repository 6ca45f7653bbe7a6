//! Benchmark harnesses of OPTIX core.
//!
//! - [`engine_bench`]: single-threaded engine throughput, sampled service
//!   time (HdrHistogram), memory per resting order, steady-state allocations.
//! - [`ring_bench`]: our SPSC ring against other bounded queues.
//! - [`itch_bench`]: NASDAQ ITCH 5.0 decode rate.
//! - [`pipeline_bench`]: tick-to-trade and open-loop latency through the
//!   feed thread, the rings and the matcher thread.
//! - [`alloc`]: the counting global allocator the `optix` program and the
//!   no-allocation tests install.
//!
//! Criterion micro-benchmarks live in `benches/`.
#![deny(unsafe_code)]

pub mod alloc;
pub mod engine_bench;
pub mod itch_bench;
pub mod pipeline_bench;
pub mod ring_bench;

/// The count an example program takes as its one argument: `default`
/// without one; at least `min`, else the program stops with exit code 2,
/// naming what the count is (`what`).
pub fn count_arg(program: &str, what: &str, default: u64, min: u64) -> u64 {
    match std::env::args().nth(1) {
        None => default,
        Some(a) => match a.parse() {
            Ok(n) if n >= min => n,
            _ => {
                eprintln!("{program}: the {what} must be a number of at least {min}, not '{a}'");
                std::process::exit(2);
            }
        },
    }
}
