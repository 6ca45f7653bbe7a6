//! Book-building rate over a generated ITCH day in memory, against the
//! decode-only rate measured in the same run, then the same day through a
//! feed thread, a 64 Ki-slot ring and a consumer (this thread):
//! `cargo run --release -p optix-feed --example book_speed [MESSAGES] [MAX_ORDERS]`
//! (defaults: 10 000 000 messages, `BookConfig::default().max_orders`).

use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use optix_engine::{Side, SymbolId};
use optix_feed::book::{BookConfig, ItchBookBuilder};
use optix_feed::itch::gen::generate_vec;
use optix_feed::itch::*;
use optix_feed::market::MarketEvent;
use optix_feed::thread::{spawn_feed, FeedSource, FeedThreadConfig};
use optix_ring::{WaitStrategy, Waiter};

struct Sum(u64);

impl Handler for Sum {
    #[inline(always)]
    fn on<M: ItchMessage>(&mut self, _offset: u64, m: M) {
        self.0 = self.0.wrapping_add(m.field_sum());
    }
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let max_orders: usize =
        std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(BookConfig::default().max_orders);
    let t = Instant::now();
    let (buf, mix) = generate_vec(n, 42);
    println!("generated {} messages ({} MiB) in {:.1} s", mix.total(), buf.len() >> 20, t.elapsed().as_secs_f64());
    let cfg = BookConfig { max_orders, ..BookConfig::default() };

    let mut decode_best = f64::INFINITY;
    let mut book_best = f64::INFINITY;
    let mut last = None;
    for _ in 0..5 {
        let t = Instant::now();
        let mut h = Sum(0);
        let c = Frames::new(black_box(&buf)).dispatch(&mut h).unwrap();
        black_box(h.0);
        assert_eq!(c, mix.total());
        decode_best = decode_best.min(t.elapsed().as_secs_f64());

        let mut book = ItchBookBuilder::new(cfg);
        let mut counts = [0u64; 4];
        let t = Instant::now();
        let c = book
            .process(black_box(&buf), &mut |e: MarketEvent| {
                let i = match e {
                    MarketEvent::Quote(_) => 0,
                    MarketEvent::Level(_) => 1,
                    MarketEvent::Trade(_) => 2,
                    MarketEvent::Status(_) => 3,
                };
                counts[i] += 1;
                black_box(e);
            })
            .unwrap();
        book_best = book_best.min(t.elapsed().as_secs_f64());
        assert_eq!(c, mix.total());
        last = Some((book, counts));
    }
    let (book, counts) = last.unwrap();
    let c = book.counters();
    let rate = |s: f64| mix.total() as f64 / s / 1e6;
    println!("decode only   {:6.1} M msgs/s  {:5.1} ns/msg", rate(decode_best), decode_best * 1e9 / mix.total() as f64);
    println!("book building {:6.1} M msgs/s  {:5.1} ns/msg", rate(book_best), book_best * 1e9 / mix.total() as f64);
    println!("ratio book/decode time: {:.2}", book_best / decode_best);
    println!(
        "events: {} quotes, {} levels, {} trades, {} statuses; {} symbols, {} live orders at the end, max_orders {}",
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        book.symbol_count(),
        book.live_orders(),
        max_orders
    );
    let (mut levels, mut deepest) = (0, 0);
    for sym in 0..book.symbol_count() as u32 {
        for side in [Side::Buy, Side::Sell] {
            let n = book.levels(SymbolId(sym), side).count();
            levels += n;
            deepest = deepest.max(n);
        }
    }
    println!("price levels at the end: {levels} in all, {deepest} on the deepest side");
    println!(
        "counters: unknown_refs {} duplicate_refs {} oversized {} non_printable {} grows {}",
        c.unknown_refs, c.duplicate_refs, c.oversized, c.non_printable, c.grows
    );

    // The feed thread: file bytes -> book -> ring -> consumer.
    let (tx, mut rx) = optix_ring::ring::<MarketEvent>(1 << 16);
    let stop = Arc::new(AtomicBool::new(false));
    let source = FeedSource::ItchBytes { bytes: buf, book: cfg };
    let t = Instant::now();
    let feed = spawn_feed(source, tx, FeedThreadConfig::default(), stop).unwrap();
    let mut waiter = Waiter::new(WaitStrategy::default());
    let mut consumed = 0u64;
    while let Some(e) = rx.pop_blocking(&mut waiter) {
        black_box(e);
        consumed += 1;
    }
    let report = feed.join().unwrap().unwrap();
    let took = t.elapsed().as_secs_f64();
    assert_eq!(consumed, report.events);
    println!(
        "feed thread -> ring -> consumer: {:.1} M msgs/s, {:.1} M events/s ({} events, {} full-ring waits, wait strategy {})",
        report.messages as f64 / took / 1e6,
        consumed as f64 / took / 1e6,
        consumed,
        report.full_waits,
        WaitStrategy::default()
    );
}
