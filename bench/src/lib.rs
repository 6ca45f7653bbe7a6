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
