//! The matcher loop allocates nothing in a steady state: a counting global
//! allocator watches `engine::runtime::Matcher` take exchange-core order
//! flow mixed with market data (in feed units) off its input ring, run it
//! and publish the events, polled on this thread and as its own thread
//! (the `run` loop, with idle ticks on).

use std::time::{Duration, Instant};

use optix_bench::alloc::{snapshot, CountingAlloc};
use optix_bench::engine_bench::{exchange_core, Stream};
use optix_engine::market::{MarketEvent, Quote, Trade};
use optix_engine::runtime::{spawn, Inbound, Matcher, MatcherConfig, Outbound, Stamped};
use optix_engine::*;
use optix_ring::{Consumer, Producer, WaitStrategy};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The counters are process-wide: measuring tests run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn engine(stream: &Stream) -> Engine<Permissive> {
    let mut e = Engine::new(EngineConfig::default(), Permissive);
    for i in &stream.instruments {
        e.add_instrument(*i);
    }
    for a in &stream.accounts {
        e.add_account(*a);
    }
    e
}

/// The stream's commands with a quote and a print (feed units, around the
/// book's prices) after every fourth command.
fn stamped(stream: &Stream) -> Vec<Stamped> {
    let mut v = Vec::with_capacity(stream.inputs.len() * 3 / 2);
    for (k, (t, input)) in stream.inputs.iter().enumerate() {
        v.push(Stamped { ingress: *t, item: Inbound::Command(*input) });
        if k % 4 == 3 {
            let sym = SymbolId(0);
            let px = 1_000_000_000 + (k as i64 % 50) * 10_000; // 100,000 ticks of 1 in feed units
            let q = Quote { ts: *t, sym, bid_px: px - 10_000, bid_qty: 300, ask_px: px + 10_000, ask_qty: 200 };
            v.push(Stamped { ingress: *t, item: Inbound::Market(MarketEvent::Quote(q)) });
            let p = Trade { ts: *t, sym, aggressor: Some(Side::Buy), price: px, qty: 100 };
            v.push(Stamped { ingress: *t, item: Inbound::Market(MarketEvent::Trade(p)) });
        }
    }
    v
}

/// Pushes `items` through the matcher polled on this thread; returns the
/// events read back.
fn pump(
    m: &mut Matcher<Permissive>,
    tx: &mut Producer<Stamped>,
    rx: &mut Consumer<Outbound>,
    items: &[Stamped],
) -> u64 {
    let mut events = 0u64;
    let mut it = items.iter().copied();
    loop {
        let pushed = tx.push_batch(&mut it.by_ref().take(512));
        while m.poll_once() > 0 {
            rx.pop_batch(usize::MAX, |_| events += 1);
        }
        rx.pop_batch(usize::MAX, |_| events += 1);
        if pushed == 0 && it.len() == 0 {
            return events;
        }
    }
}

#[test]
fn the_polled_matcher_allocates_nothing_in_a_steady_state() {
    let _serial = serial();
    let stream = exchange_core(300_000, 11);
    let items = stamped(&stream);
    let (out_tx, mut out_rx) = optix_ring::ring(1 << 16);
    let cfg = MatcherConfig { idle_tick: None, ..MatcherConfig::default() };
    let mut m = Matcher::new(engine(&stream), out_tx, cfg);
    let mut tx = m.add_input(4096);
    let warm = items.len() / 3;
    pump(&mut m, &mut tx, &mut out_rx, &items[..warm]);
    let before = snapshot().allocs;
    let events = pump(&mut m, &mut tx, &mut out_rx, &items[warm..]);
    let allocs = snapshot().allocs - before;
    let s = m.stats();
    assert!(events > 200_000 && s.market > 50_000, "{events} events, {s:?}");
    assert_eq!(s.out_dropped, 0);
    assert_eq!(allocs, 0, "allocations in the matcher's steady state");
}

#[test]
fn the_matcher_thread_allocates_nothing_in_a_steady_state() {
    let _serial = serial();
    let stream = exchange_core(100_000, 12);
    let items = stamped(&stream);
    let (out_tx, mut out_rx) = optix_ring::ring(1 << 12);
    // Idle ticks on: the idle path (clock reads, ticks, parking) runs too.
    let cfg = MatcherConfig {
        wait: WaitStrategy::PARK,
        idle_tick: Some(Duration::from_micros(50)),
        ..MatcherConfig::default()
    };
    let mut m = Matcher::new(engine(&stream), out_tx, cfg);
    let mut tx = m.add_input(1024);
    let stop = m.stop_flag();
    let h = spawn(m).unwrap();
    let mut events = 0u64;
    // This thread feeds and reads; it drains while the input ring is full,
    // so backpressure cannot deadlock.
    let mut feed = |tx: &mut Producer<Stamped>, slice: &[Stamped], events: &mut u64| {
        let mut it = slice.iter().copied();
        while it.len() > 0 {
            if tx.push_batch(&mut it.by_ref().take(256)) == 0 {
                std::thread::yield_now();
            }
            out_rx.pop_batch(usize::MAX, |_| *events += 1);
        }
    };
    let warm = items.len() / 3;
    feed(&mut tx, &items[..warm], &mut events);
    let before = snapshot().allocs;
    feed(&mut tx, &items[warm..], &mut events);
    // Until the matcher has taken everything, then idle for a while:
    // ticks and parking.
    while tx.free_slots() < tx.capacity() {
        out_rx.pop_batch(usize::MAX, |_| events += 1);
        std::thread::yield_now();
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(20) {
        out_rx.pop_batch(usize::MAX, |_| events += 1);
        std::thread::yield_now();
    }
    let allocs = snapshot().allocs - before;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let m = h.join().unwrap();
    out_rx.pop_batch(usize::MAX, |_| events += 1);
    let s = m.stats();
    assert_eq!(s.items, items.len() as u64);
    assert_eq!(events, s.events);
    assert!(s.ticks > 0, "the idle path ran");
    assert_eq!(allocs, 0, "allocations while the matcher thread ran");
}
