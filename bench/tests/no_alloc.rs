//! The engine's steady state allocates nothing: a counting global allocator
//! watches the engine process order flow after a warm-up.

use optix_bench::alloc::{snapshot, CountingAlloc};
use optix_bench::engine_bench::{exchange_core, mixed, Stream};
use optix_engine::{CountingSink, Engine, EngineConfig, Permissive};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn allocs_after_warmup(stream: &Stream, warmup: usize) -> (u64, u64) {
    let mut engine = Engine::new(EngineConfig::default(), Permissive);
    for i in &stream.instruments {
        engine.add_instrument(*i);
    }
    for a in &stream.accounts {
        engine.add_account(*a);
    }
    let mut sink = CountingSink::default();
    for (t, i) in &stream.inputs[..warmup] {
        engine.process(*t, i, &mut sink);
    }
    let before = snapshot().allocs;
    let trades_before = sink.trades;
    for (t, i) in &stream.inputs[warmup..] {
        engine.process(*t, i, &mut sink);
    }
    let allocs = snapshot().allocs - before;
    engine.validate().expect("invariants hold");
    (allocs, sink.trades - trades_before)
}

#[test]
fn counting_allocator_counts() {
    let before = snapshot().allocs;
    let v = std::hint::black_box(vec![1u8; 100]);
    drop(v);
    assert!(snapshot().allocs > before);
}

#[test]
fn mixed_flow_steady_state_allocates_nothing() {
    let stream = mixed(600_000, 3);
    let (allocs, trades) = allocs_after_warmup(&stream, 300_000);
    assert!(trades > 10_000, "the flow must trade ({trades} trades)");
    assert_eq!(allocs, 0, "allocations in the steady state");
}

#[test]
fn exchange_core_flow_steady_state_allocates_nothing() {
    let stream = exchange_core(300_000, 5);
    let (allocs, trades) = allocs_after_warmup(&stream, 100_000);
    assert!(trades > 1_000, "the flow must trade ({trades} trades)");
    assert_eq!(allocs, 0, "allocations in the steady state");
}
