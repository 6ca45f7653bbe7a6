//! The engine's steady state allocates nothing: a counting global allocator
//! watches the engine, with `StandardRisk` checking every order, process
//! order flow after a warm-up.

use optix_bench::alloc::{snapshot, CountingAlloc};
use optix_bench::engine_bench::{build, exchange_core, mixed, standard_risk, Stream};
use optix_engine::CountingSink;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The counters are process-wide and tests run on parallel threads: each
/// measuring test holds this lock so no other test allocates meanwhile.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn allocs_after_warmup(stream: &Stream, warmup: usize) -> (u64, u64) {
    let mut engine = build(stream, standard_risk(stream.accounts.len()));
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
    let _serial = serial();
    let before = snapshot().allocs;
    let v = std::hint::black_box(vec![1u8; 100]);
    drop(v);
    assert!(snapshot().allocs > before);
}

#[test]
fn mixed_flow_steady_state_allocates_nothing() {
    let _serial = serial();
    let stream = mixed(600_000, 3);
    let (allocs, trades) = allocs_after_warmup(&stream, 300_000);
    assert!(trades > 10_000, "the flow must trade ({trades} trades)");
    assert_eq!(allocs, 0, "allocations in the steady state");
}

#[test]
fn exchange_core_flow_steady_state_allocates_nothing() {
    let _serial = serial();
    let stream = exchange_core(300_000, 5);
    let (allocs, trades) = allocs_after_warmup(&stream, 100_000);
    assert!(trades > 1_000, "the flow must trade ({trades} trades)");
    assert_eq!(allocs, 0, "allocations in the steady state");
}

/// A client whose ids arrive out of order within a window (blocks of eight
/// sent highest first) keeps a few ranges of used ids open below its
/// highest one; adding and merging them allocates nothing either.
#[test]
fn out_of_order_client_order_ids_allocate_nothing() {
    use optix_bench::engine_bench::new_order;
    use optix_engine::{AccountSpec, EventKind, Input, Instrument, Money, Nanos, Side, Tif, VenueMode};
    let _serial = serial();
    let instrument = Instrument::new("0.01", 1, VenueMode::Clob).expect("a valid tick");
    let account = AccountSpec { cash: Money::from_micros(1_000_000_000_000), ..AccountSpec::default() };
    let inputs: Vec<(Nanos, Input)> = (0..200_000u64)
        .map(|k| {
            // 8, 7, ..., 1, 16, 15, ..., 9, ...
            let clid = (k / 8) * 8 + (8 - k % 8);
            let order = new_order(0, clid, 0, Side::Buy, Tif::Ioc, 100, 1);
            (Nanos(k), Input::NewOrder(order))
        })
        .collect();
    let stream = Stream { instruments: vec![instrument], accounts: vec![account], inputs };
    let mut engine = build(&stream, standard_risk(1));
    let mut out: Vec<optix_engine::Event> = Vec::with_capacity(16);
    let mut rejected = 0u64;
    let mut step = |engine: &mut optix_engine::Engine<optix_risk::StandardRisk>, t: Nanos, i: &Input| {
        out.clear();
        engine.process(t, i, &mut out);
        rejected += out.iter().filter(|e| matches!(e.kind, EventKind::Rejected { .. })).count() as u64;
    };
    for (t, i) in &stream.inputs[..100_000] {
        step(&mut engine, *t, i);
    }
    let before = snapshot().allocs;
    for (t, i) in &stream.inputs[100_000..] {
        step(&mut engine, *t, i);
    }
    let allocs = snapshot().allocs - before;
    assert_eq!(rejected, 0, "every id is new, so every order is accepted");
    assert_eq!(allocs, 0, "allocations in the steady state");
}

/// The ITCH book builder, after the directory prologue and a warm-up,
/// allocates nothing per message either.
#[test]
fn itch_book_builder_steady_state_allocates_nothing() {
    let _serial = serial();
    use optix_feed::book::{BookConfig, ItchBookBuilder};
    use optix_feed::itch::gen::generate_vec;
    use optix_feed::market::MarketEvent;

    let (buf, _mix) = generate_vec(400_000, 7);
    // The byte offset after the first 100,000 frames (2-byte big-endian length each).
    let mut split = 0usize;
    for _ in 0..100_000 {
        let len = usize::from(u16::from_be_bytes([buf[split], buf[split + 1]]));
        split += 2 + len;
    }
    let mut book = ItchBookBuilder::new(BookConfig { levels_per_side: 64, ..BookConfig::small() });
    let mut events = 0u64;
    let mut sink = |_e: MarketEvent| events += 1;
    book.process(&buf[..split], &mut sink).expect("valid warm-up");
    let before = snapshot().allocs;
    let messages = book.process_at(&buf[split..], split as u64, &mut sink).expect("valid day");
    let allocs = snapshot().allocs - before;
    assert!(messages > 250_000 && events > messages, "{messages} messages, {events} events");
    assert_eq!(allocs, 0, "allocations while building the book");
}
