//! Feed threads end to end: an ITCH file (plain and gzip) and the synthetic
//! feed through a small ring to a consumer thread, in order and complete;
//! real-time and xN pacing take at least the feed time; the stop flag and
//! pinning.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use optix_feed::book::{BookConfig, ItchBookBuilder};
use optix_feed::itch::gen::generate_vec;
use optix_feed::market::MarketEvent;
use optix_feed::synthetic::{SyntheticConfig, SyntheticFeed};
use optix_feed::thread::{spawn_feed, FeedReport, FeedSource, FeedThreadConfig, Pacing};
use optix_ring::{ring, WaitStrategy, Waiter};

/// A file in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("optix-feed-{}-{name}", std::process::id()));
        std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `source` on a feed thread into a ring of `capacity`, drained by a
/// consumer thread; returns what the consumer got and the report.
fn run(source: FeedSource, capacity: usize, cfg: FeedThreadConfig) -> (Vec<MarketEvent>, FeedReport) {
    let (tx, mut rx) = ring::<MarketEvent>(capacity);
    let stop = Arc::new(AtomicBool::new(false));
    let consumer = thread::spawn(move || {
        let mut got = Vec::new();
        let mut waiter = Waiter::new(WaitStrategy::YIELD);
        while let Some(e) = rx.pop_blocking(&mut waiter) {
            got.push(e);
        }
        got
    });
    let feed = spawn_feed(source, tx, cfg, stop).unwrap();
    let report = feed.join().unwrap().unwrap();
    (consumer.join().unwrap(), report)
}

fn assert_time_ordered(events: &[MarketEvent]) {
    assert!(events.windows(2).all(|w| w[0].ts() <= w[1].ts()), "timestamps never go backwards");
}

fn cfg(pacing: Pacing) -> FeedThreadConfig {
    FeedThreadConfig { pacing, wait: WaitStrategy::YIELD, ..FeedThreadConfig::default() }
}

#[test]
fn an_itch_file_goes_through_the_ring_complete_and_in_order() {
    let (bytes, mix) = generate_vec(60_000, 11);
    let mut want = Vec::new();
    let mut reference = ItchBookBuilder::new(BookConfig::small());
    reference.process(&bytes, &mut |e| want.push(e)).unwrap();
    let file = TempFile::new("day.itch", &bytes);
    let source = FeedSource::ItchFile { path: file.0.clone(), book: BookConfig::small() };
    // A small ring: the producer waits on it often.
    let (got, report) = run(source, 64, cfg(Pacing::AsFastAsPossible));
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the same events in the same order as building the book in memory");
    assert_time_ordered(&got);
    assert_eq!((report.events, report.messages, report.stopped), (want.len() as u64, mix.total(), false));
    let book = report.book.unwrap();
    assert_eq!(book.counters(), reference.counters());
    assert_eq!(book.counters().unknown_refs, 0);
}

#[test]
fn gzip_bytes_in_memory_are_a_source_too() {
    let (bytes, mix) = generate_vec(5_000, 12);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let source = FeedSource::ItchBytes { bytes: gz.finish().unwrap(), book: BookConfig::small() };
    let (got, report) = run(source, 1024, cfg(Pacing::AsFastAsPossible));
    assert_eq!(report.messages, mix.total());
    assert_eq!(got.len() as u64, report.events);
    assert_time_ordered(&got);
}

#[test]
fn a_corrupt_file_is_an_error_not_a_panic() {
    let (mut bytes, _) = generate_vec(1_000, 13);
    bytes.truncate(bytes.len() - 3);
    let file = TempFile::new("torn.itch", &bytes);
    let (tx, _rx) = ring::<MarketEvent>(1 << 16);
    let source = FeedSource::ItchFile { path: file.0.clone(), book: BookConfig::small() };
    let r = spawn_feed(source, tx, cfg(Pacing::AsFastAsPossible), Arc::default()).unwrap().join().unwrap();
    assert!(r.is_err());
    let missing = FeedSource::ItchFile { path: "/nonexistent/optix.itch".into(), book: BookConfig::small() };
    let (tx, _rx) = ring::<MarketEvent>(16);
    assert!(spawn_feed(missing, tx, cfg(Pacing::AsFastAsPossible), Arc::default()).unwrap().join().unwrap().is_err());
}

#[test]
fn the_synthetic_feed_goes_through_the_ring_complete_and_in_order() {
    let config = SyntheticConfig { symbols: 12, seed: 9, ..SyntheticConfig::default() };
    let want: Vec<_> = SyntheticFeed::new(config).take(100_000).collect();
    let (got, report) = run(FeedSource::Synthetic { config, events: 100_000 }, 128, cfg(Pacing::AsFastAsPossible));
    assert!(got == want);
    assert_time_ordered(&got);
    assert_eq!((report.events, report.messages, report.stopped), (100_000, 0, false));
    assert!(report.book.is_none());
}

#[test]
fn real_time_pacing_takes_the_feed_time() {
    // 1 000 events/s: 151 events span 150 ms of feed time.
    let config = SyntheticConfig { events_per_sec: 1_000, ..SyntheticConfig::default() };
    let t = Instant::now();
    let (got, report) = run(FeedSource::Synthetic { config, events: 151 }, 16, cfg(Pacing::RealTime));
    let took = t.elapsed();
    assert_eq!(got.len(), 151);
    assert!(took >= Duration::from_millis(150), "{took:?}");
    assert!(report.elapsed >= Duration::from_millis(150), "{:?}", report.elapsed);
    assert!(took < Duration::from_millis(900), "{took:?}");
    assert!(report.paced_waits > 0);
}

#[test]
fn speed_pacing_divides_the_feed_time() {
    // 600 ms of feed time at x4: at least 150 ms, well under the 600.
    let config = SyntheticConfig { events_per_sec: 1_000, ..SyntheticConfig::default() };
    let t = Instant::now();
    let (got, _) = run(FeedSource::Synthetic { config, events: 601 }, 16, cfg(Pacing::Speed(4)));
    let took = t.elapsed();
    assert_eq!(got.len(), 601);
    assert!(took >= Duration::from_millis(150) && took < Duration::from_millis(550), "{took:?}");
}

#[test]
fn real_time_pacing_of_an_itch_file() {
    // A generated day spans 16 hours: at x1e6 that is 57.6 ms.
    let (bytes, _) = generate_vec(3_000, 14);
    let mut first_last = (None, None);
    ItchBookBuilder::new(BookConfig::small())
        .process(&bytes, &mut |e: MarketEvent| {
            first_last.0.get_or_insert(e.ts());
            first_last.1 = Some(e.ts());
        })
        .unwrap();
    let span = first_last.1.unwrap().0 - first_last.0.unwrap().0;
    let t = Instant::now();
    let source = FeedSource::ItchBytes { bytes, book: BookConfig::small() };
    let (got, _) = run(source, 256, cfg(Pacing::Speed(1_000_000)));
    let took = t.elapsed();
    assert!(!got.is_empty());
    assert!(took >= Duration::from_nanos(span / 1_000_000), "{took:?} for {span} ns of feed time");
    assert!(took < Duration::from_millis(900));
}

#[test]
fn the_stop_flag_ends_a_run_early() {
    // 1 event/s for 1 000 events: only the stop flag ends it in time.
    let config = SyntheticConfig { events_per_sec: 1, ..SyntheticConfig::default() };
    let (tx, mut rx) = ring::<MarketEvent>(16);
    let stop = Arc::new(AtomicBool::new(false));
    let feed =
        spawn_feed(FeedSource::Synthetic { config, events: 1_000 }, tx, cfg(Pacing::RealTime), stop.clone()).unwrap();
    // The first event is due at once; the second only after a second.
    let first = rx.pop_blocking(&mut Waiter::new(WaitStrategy::YIELD));
    assert!(first.is_some());
    thread::sleep(Duration::from_millis(20));
    let t = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let report = feed.join().unwrap().unwrap();
    assert!(t.elapsed() < Duration::from_millis(200), "{:?}", t.elapsed());
    assert!(report.stopped);
    assert_eq!(report.events, 1);
    assert!(rx.pop().is_none());
}

#[test]
fn the_stop_flag_ends_a_blocked_itch_run() {
    // Nobody reads: the feed waits on the full ring until stopped.
    let (bytes, _) = generate_vec(200_000, 15);
    let (tx, rx) = ring::<MarketEvent>(16);
    let stop = Arc::new(AtomicBool::new(false));
    let source = FeedSource::ItchBytes { bytes, book: BookConfig::small() };
    let feed = spawn_feed(source, tx, cfg(Pacing::AsFastAsPossible), stop.clone()).unwrap();
    let t = Instant::now();
    while rx.available() < 16 {
        assert!(t.elapsed() < Duration::from_secs(10), "the feed never filled the ring");
        thread::yield_now();
    }
    thread::sleep(Duration::from_millis(10));
    stop.store(true, Ordering::Relaxed);
    let report = feed.join().unwrap().unwrap();
    assert!(report.stopped);
    assert_eq!(report.events, 16);
    assert!(report.messages < 200_000, "the rest of the stream was not read");
}

#[test]
fn pins_to_an_existing_core_and_warns_for_a_missing_one() {
    let source = || FeedSource::Synthetic { config: SyntheticConfig::default(), events: 10 };
    let ids: Vec<usize> = core_affinity::get_core_ids().unwrap_or_default().iter().map(|c| c.id).collect();
    let (_, report) =
        run(source(), 16, FeedThreadConfig { core: ids.first().copied(), ..cfg(Pacing::AsFastAsPossible) });
    assert_eq!(report.pinned_core, ids.first().copied());
    let (got, report) = run(source(), 16, FeedThreadConfig { core: Some(1 << 20), ..cfg(Pacing::AsFastAsPossible) });
    assert_eq!((got.len(), report.pinned_core), (10, None));
}
