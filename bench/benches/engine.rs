//! Criterion micro-benchmarks of the engine's hot operations, each on a
//! book that returns to the same state so the measurement is steady.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use optix_bench::engine_bench::{exchange_core, mixed};
use optix_engine::*;

fn engine_with_book() -> Engine<Permissive> {
    let mut e = Engine::new(EngineConfig::default(), Permissive);
    e.add_instrument(Instrument::new("0.01", 1, VenueMode::Clob).expect("tick"));
    e.add_account(AccountSpec::default());
    e.add_account(AccountSpec::default());
    let mut sink = CountingSink::default();
    // 20 levels a side, 5 orders each.
    for lvl in 0..20 {
        for k in 0..5u64 {
            for (side, px, acct) in [(Side::Buy, 9_990 - lvl, 0), (Side::Sell, 10_010 + lvl, 1)] {
                let clid = 1_000_000 + (lvl as u64) * 10 + k + if side == Side::Buy { 0 } else { 500 };
                e.process(Nanos(0), &Input::NewOrder(limit(acct, clid, side, px, 10, Tif::Gtc)), &mut sink);
            }
        }
    }
    e
}

fn limit(acct: u32, clid: u64, side: Side, px: i64, qty: i64, tif: Tif) -> NewOrder {
    NewOrder {
        acct: AccountId(acct),
        clid: ClientOrderId(clid),
        sym: SymbolId(0),
        side,
        ord_type: OrdType::Limit,
        tif,
        price: Price::from_ticks(px),
        stop_price: Price::NONE,
        qty: Qty::from_lots(qty),
        display: Qty::ZERO,
        expire: Nanos(0),
        post_only: false,
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(2));
    g.bench_function("add_then_cancel_passive", |b| {
        let mut e = engine_with_book();
        let mut sink = CountingSink::default();
        let mut clid = 2_000_000u64;
        b.iter(|| {
            clid += 1;
            let o = limit(0, clid, Side::Buy, 9_995, 10, Tif::Day);
            e.process(Nanos(1), black_box(&Input::NewOrder(o)), &mut sink);
            let c = CancelOrder { acct: AccountId(0), clid: ClientOrderId(clid) };
            e.process(Nanos(1), black_box(&Input::CancelOrder(c)), &mut sink);
        });
        black_box(sink.events);
    });
    g.bench_function("replace_price_and_back", |b| {
        let mut e = engine_with_book();
        let mut sink = CountingSink::default();
        let id = ClientOrderId(1_000_000);
        b.iter(|| {
            for px in [9_985, 9_990] {
                let r = ReplaceOrder { acct: AccountId(0), clid: id, price: Price::from_ticks(px), qty: Qty::ZERO };
                e.process(Nanos(1), black_box(&Input::ReplaceOrder(r)), &mut sink);
            }
        });
        black_box(sink.events);
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("sweep_three_levels_ioc", |b| {
        b.iter_batched_ref(
            engine_with_book,
            |e| {
                let mut sink = CountingSink::default();
                let o = limit(0, 7, Side::Buy, 10_012, 150, Tif::Ioc);
                e.process(Nanos(1), &Input::NewOrder(o), &mut sink);
                black_box(sink.trades)
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();

    for (name, stream) in [("mixed_stream", mixed(200_000, 1)), ("exchange_core_stream", exchange_core(200_000, 1))] {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(stream.inputs.len() as u64));
        g.sample_size(10);
        g.bench_function("process_all", |b| {
            b.iter_batched_ref(
                || {
                    let mut e = Engine::new(EngineConfig::default(), Permissive);
                    for i in &stream.instruments {
                        e.add_instrument(*i);
                    }
                    for a in &stream.accounts {
                        e.add_account(*a);
                    }
                    e
                },
                |e| {
                    let mut sink = CountingSink::default();
                    for (t, i) in &stream.inputs {
                        e.process(*t, i, &mut sink);
                    }
                    black_box(sink.events)
                },
                BatchSize::LargeInput,
            );
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
