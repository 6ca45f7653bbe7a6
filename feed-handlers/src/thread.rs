//! Feed threads: a pinned thread that reads a market data source, turns it
//! into [`MarketEvent`]s and pushes them into an SPSC ring for the matcher.
//!
//! ```
//! use std::sync::{atomic::AtomicBool, Arc};
//! use optix_feed::synthetic::SyntheticConfig;
//! use optix_feed::thread::{spawn_feed, FeedSource, FeedThreadConfig};
//!
//! let (tx, mut rx) = optix_ring::ring(1024);
//! let source = FeedSource::Synthetic { config: SyntheticConfig::default(), events: 10_000 };
//! let stop = Arc::new(AtomicBool::new(false));
//! let feed = spawn_feed(source, tx, FeedThreadConfig::default(), stop).unwrap();
//! let mut waiter = optix_ring::Waiter::default();
//! let mut n = 0;
//! while rx.pop_blocking(&mut waiter).is_some() {
//!     n += 1;
//! }
//! assert_eq!(n, 10_000);
//! assert_eq!(feed.join().unwrap().unwrap().events, 10_000);
//! ```
//!
//! Layout: [`spawn_feed`] collects `core_affinity::get_core_ids()` once on
//! the calling thread, then starts a named thread that pins itself to the
//! configured core (a warning on stderr and no pinning when that core does
//! not exist or pinning fails) and calls [`run_feed`]. The sources:
//! - [`FeedSource::ItchFile`] / [`FeedSource::ItchBytes`]: the stream
//!   (gzip detected) read in 1 MiB chunks whose whole frames go through
//!   [`ItchBookBuilder::process_at`] (prefetching a batch ahead), whose
//!   events go to the ring; the final book comes back in the
//!   [`FeedReport`];
//! - [`FeedSource::Synthetic`]: a [`SyntheticFeed`] for a number of events.
//!
//! Invariants: every event is pushed, in the source's order; a full ring is
//! waited on with the configured [`Waiter`], never dropped. Unpaced runs
//! gather up to [`PUSH_BATCH`] events and publish them with one
//! [`Producer::push_batch`] (one index store per batch; the end of the
//! source flushes the rest); paced runs push each event when it is due.
//! Only the stop flag or a consumer that went away (its half dropped) ends
//! a run early; the report then says `stopped`. The producer is dropped
//! when the thread ends, so a consumer's `pop_blocking` returns `None`
//! after the last event.
//!
//! Pacing ([`Pacing`]): as fast as possible; or event `e` is pushed no
//! earlier than `(e.ts - first.ts) / N` after the first event was
//! (real time is `N = 1`): the thread sleeps in slices of at most
//! [`MAX_SLEEP`] (checking the stop flag between them) until 200 µs before
//! the due time, then yields. Timestamps going backwards are pushed at
//! once. A feed that is behind its schedule does not skip: it pushes as
//! fast as it can until it catches up.
//!
//! Complexity: O(1) per event plus the source's own cost; the stop flag
//! is one relaxed load per event. No allocation per event: a run
//! allocates its 1 MiB read buffer and its book (ITCH) up front.
//!
//! Limits: real-time pacing of a whole ITCH day takes the whole day (its
//! first timestamp sets the origin, not midnight). The stop flag is
//! noticed within one event (or one pacing slice, or one wait on a full
//! ring); for an ITCH source, the rest of the current 1 MiB chunk is still
//! decoded into the book, but nothing more is pushed. An unpaced run hands
//! events over in bursts of up to [`PUSH_BATCH`]: for throughput (replay),
//! not for measuring the latency of single events.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use optix_engine::{Nanos, SymbolId};
use optix_ring::{Producer, WaitStrategy, Waiter};

use crate::book::{BookConfig, ItchBookBuilder};
use crate::itch::{AutoSource, DecodeError, FRAME_PREFIX_LEN, MAX_MESSAGE_LEN};
use crate::market::{MarketEvent, MarketSink, Status};
use crate::synthetic::{SyntheticConfig, SyntheticFeed};

/// The longest single sleep of the pacing loop.
pub const MAX_SLEEP: Duration = Duration::from_millis(10);
/// Below this much time to go, the pacing loop yields instead of sleeping.
const SPIN_WINDOW: Duration = Duration::from_micros(200);

/// How fast events are pushed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pacing {
    /// No waiting for timestamps.
    #[default]
    AsFastAsPossible,
    /// Timestamps are wall-clock time from the first event.
    RealTime,
    /// `N` times real time (0 is taken as 1).
    Speed(u32),
}

impl Pacing {
    /// The divisor applied to timestamp differences, `None` for no pacing.
    fn divisor(self) -> Option<u64> {
        match self {
            Pacing::AsFastAsPossible => None,
            Pacing::RealTime => Some(1),
            Pacing::Speed(n) => Some(u64::from(n.max(1))),
        }
    }
}

/// Where the events come from.
#[derive(Clone, Debug)]
pub enum FeedSource {
    /// A framed ITCH 5.0 file (plain or gzip), streamed; books built.
    ItchFile {
        /// The file.
        path: PathBuf,
        /// The book builder's preallocation.
        book: BookConfig,
    },
    /// A framed ITCH 5.0 stream in memory (plain or gzip); books built.
    ItchBytes {
        /// The bytes.
        bytes: Vec<u8>,
        /// The book builder's preallocation.
        book: BookConfig,
    },
    /// The synthetic market.
    Synthetic {
        /// Its configuration.
        config: SyntheticConfig,
        /// Events to produce.
        events: u64,
    },
}

/// How the feed thread runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedThreadConfig {
    /// Thread name.
    pub name: String,
    /// Core index to pin to (`core_affinity` id); `None`: not pinned.
    pub core: Option<usize>,
    /// Pacing.
    pub pacing: Pacing,
    /// How to wait on a full ring.
    pub wait: WaitStrategy,
}

impl Default for FeedThreadConfig {
    /// `optix-feed`, unpinned, as fast as possible, the default (parking)
    /// wait strategy.
    fn default() -> Self {
        FeedThreadConfig {
            name: "optix-feed".into(),
            core: None,
            pacing: Pacing::AsFastAsPossible,
            wait: WaitStrategy::default(),
        }
    }
}

/// What a feed run did.
#[derive(Debug, Default)]
pub struct FeedReport {
    /// Events pushed into the ring.
    pub events: u64,
    /// ITCH messages decoded (0 for the synthetic feed).
    pub messages: u64,
    /// Times the ring was found full and the producer waited.
    pub full_waits: u64,
    /// Events that had to wait for their paced time.
    pub paced_waits: u64,
    /// Ended early: the stop flag was set or the consumer went away.
    pub stopped: bool,
    /// The core the thread was pinned to, if any.
    pub pinned_core: Option<usize>,
    /// Wall time of the run (after pinning and opening the source).
    pub elapsed: Duration,
    /// The final book, for an ITCH source.
    pub book: Option<Box<ItchBookBuilder>>,
}

/// Why a feed run failed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The ITCH source could not be opened, read or decoded.
    #[error("feed source: {0}")]
    Decode(#[from] DecodeError),
}

/// Starts a feed thread (see the [module docs](self)); its `JoinHandle`
/// gives the report. Errors only if the thread cannot be spawned.
pub fn spawn_feed(
    source: FeedSource,
    producer: Producer<MarketEvent>,
    cfg: FeedThreadConfig,
    stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<Result<FeedReport, FeedError>>> {
    // Collected once, before any pinning changes what this process sees.
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let core = cfg.core.map(|want| cores.iter().copied().find(|c| c.id == want).ok_or((want, cores.len())));
    std::thread::Builder::new().name(cfg.name.clone()).spawn(move || {
        let pinned_core = match core {
            None => None,
            Some(Ok(c)) if core_affinity::set_for_current(c) => Some(c.id),
            Some(Ok(c)) => {
                eprintln!("warning: feed thread {}: pinning to core {} failed; running unpinned", cfg.name, c.id);
                None
            }
            Some(Err((want, n))) => {
                eprintln!(
                    "warning: feed thread {}: core {want} does not exist ({n} cores); running unpinned",
                    cfg.name
                );
                None
            }
        };
        let mut producer = producer;
        let mut report = run_feed(source, &mut producer, cfg.pacing, cfg.wait, &stop)?;
        report.pinned_core = pinned_core;
        Ok(report)
    })
}

/// Runs a source into `producer` on the current thread (what the feed
/// thread does after pinning).
pub fn run_feed(
    source: FeedSource,
    producer: &mut Producer<MarketEvent>,
    pacing: Pacing,
    wait: WaitStrategy,
    stop: &AtomicBool,
) -> Result<FeedReport, FeedError> {
    let halt = Cell::new(false);
    let mut sink = RingSink {
        producer,
        waiter: Waiter::new(wait),
        stop,
        halt: &halt,
        pacer: Pacer::new(pacing),
        batch: [PLACEHOLDER; PUSH_BATCH],
        batched: 0,
        events: 0,
        full_waits: 0,
        paced_waits: 0,
    };
    let start = Instant::now();
    let mut report = FeedReport::default();
    match source {
        FeedSource::ItchFile { path, book } => {
            let src = open_itch_file(&path, stop, &halt, None)?;
            run_itch(src, Box::new(ItchBookBuilder::new(book)), &mut sink, &halt, &mut report)?;
        }
        FeedSource::ItchBytes { bytes, book } => {
            let src = open_itch_bytes(bytes, stop, &halt, None)?;
            run_itch(src, Box::new(ItchBookBuilder::new(book)), &mut sink, &halt, &mut report)?;
        }
        FeedSource::Synthetic { config, events } => {
            let mut feed = SyntheticFeed::new(config);
            for _ in 0..events {
                sink.emit(feed.next_event());
                if halt.get() {
                    break;
                }
            }
        }
    }
    sink.flush();
    report.elapsed = start.elapsed();
    report.events = sink.events;
    report.full_waits = sink.full_waits;
    report.paced_waits = sink.paced_waits;
    report.stopped = halt.get();
    Ok(report)
}

/// Bytes read from an ITCH source at a time.
const READ_CHUNK: usize = 1 << 20;

/// Opens a framed ITCH file (gzip by magic bytes or a `.gz` name) as a
/// reader that ends once the run halts (see [`StopRead`]); `bytes`, if
/// given, counts the file's bytes read so far.
pub(crate) fn open_itch_file<'a>(
    path: &Path,
    stop: &'a AtomicBool,
    halt: &'a Cell<bool>,
    bytes: Option<&'a AtomicU64>,
) -> Result<AutoSource<StopRead<'a, File>>, DecodeError> {
    let file = File::open(path).map_err(|source| DecodeError::Io { offset: 0, source })?;
    let src = StopRead { inner: file, stop, halt, bytes };
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz")) {
        Ok(AutoSource::gzip(src))
    } else {
        AutoSource::new(src).map_err(|source| DecodeError::Io { offset: 0, source })
    }
}

/// As [`open_itch_file`], for a stream in memory.
pub(crate) fn open_itch_bytes<'a>(
    bytes: Vec<u8>,
    stop: &'a AtomicBool,
    halt: &'a Cell<bool>,
    read: Option<&'a AtomicU64>,
) -> Result<AutoSource<StopRead<'a, Cursor<Vec<u8>>>>, DecodeError> {
    let src = StopRead { inner: Cursor::new(bytes), stop, halt, bytes: read };
    AutoSource::new(src).map_err(|source| DecodeError::Io { offset: 0, source })
}

/// Reads `src` in [`READ_CHUNK`] pieces and hands the whole frames of each
/// to [`ItchBookBuilder::process_at`] (which prefetches order entries a
/// batch ahead); a frame cut by the chunk's end waits for the next one.
/// Stops early once `halt` is set; puts the message count and the final
/// book into `report`.
pub(crate) fn run_itch<R: Read, S: MarketSink>(
    mut src: R,
    mut builder: Box<ItchBookBuilder>,
    sink: &mut S,
    halt: &Cell<bool>,
    report: &mut FeedReport,
) -> Result<(), FeedError> {
    let mut buf = vec![0u8; READ_CHUNK];
    let (mut filled, mut base, mut eof) = (0usize, 0u64, false);
    let result = loop {
        while filled < buf.len() && !eof {
            match src.read(&mut buf[filled..]) {
                Ok(0) => eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(DecodeError::Io { offset: base + filled as u64, source }.into()),
            }
        }
        let whole = if eof { filled } else { whole_frames(&buf[..filled]) };
        if let Err(e) = builder.process_at(&buf[..whole], base, sink) {
            break Err(e);
        }
        if eof || halt.get() {
            break Ok(());
        }
        buf.copy_within(whole..filled, 0);
        base += whole as u64;
        filled -= whole;
    };
    report.messages = builder.counters().messages.total();
    report.book = Some(builder);
    match result {
        // Stopping cuts the stream wherever it is: a torn frame is expected.
        Err(_) if halt.get() => Ok(()),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(()),
    }
}

/// The length of the whole frames at the start of `buf`; all of `buf` if
/// a frame has an impossible length (the decoder then reports it).
fn whole_frames(buf: &[u8]) -> usize {
    let mut p = 0;
    while let Some(&[a, b]) = buf.get(p..p + FRAME_PREFIX_LEN) {
        let len = usize::from(u16::from_be_bytes([a, b]));
        if len == 0 || len > MAX_MESSAGE_LEN {
            return buf.len();
        }
        if p + FRAME_PREFIX_LEN + len > buf.len() {
            break;
        }
        p += FRAME_PREFIX_LEN + len;
    }
    p
}

/// A reader that reports the end of the stream once the run is halted, so
/// that an ITCH dispatch loop ends at its next refill; optionally counts
/// the bytes read (relaxed stores, for a progress display).
pub(crate) struct StopRead<'a, R> {
    inner: R,
    stop: &'a AtomicBool,
    halt: &'a Cell<bool>,
    bytes: Option<&'a AtomicU64>,
}

impl<R: Read> Read for StopRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Relaxed: a standalone flag; nothing else is published with it.
        if self.stop.load(Ordering::Relaxed) {
            self.halt.set(true);
        }
        if self.halt.get() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if let Some(b) = self.bytes {
            // Relaxed: a statistic for display; nothing is published with it.
            b.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// Waits until each event is due under a [`Pacing`].
pub(crate) struct Pacer {
    divisor: Option<u64>,
    /// Wall time and timestamp of the first event.
    origin: Option<(Instant, u64)>,
}

impl Pacer {
    pub(crate) fn new(pacing: Pacing) -> Pacer {
        Pacer { divisor: pacing.divisor(), origin: None }
    }

    /// Whether events wait for their time at all.
    #[inline]
    pub(crate) fn is_paced(&self) -> bool {
        self.divisor.is_some()
    }

    /// Waits until the event with timestamp `ts` is due (see the module
    /// docs); `None` if the stop flag rose meanwhile, else whether it
    /// had to wait.
    pub(crate) fn pace(&mut self, ts: u64, stop: &AtomicBool) -> Option<bool> {
        let Some(div) = self.divisor else { return Some(false) };
        let (t0, ts0) = *self.origin.get_or_insert((Instant::now(), ts));
        let due = Duration::from_nanos(ts.saturating_sub(ts0) / div);
        let mut waited = false;
        loop {
            let now = t0.elapsed();
            if now >= due {
                return Some(waited);
            }
            // Relaxed: a standalone flag; nothing else is published with it.
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            waited = true;
            let left = due - now;
            if left > SPIN_WINDOW {
                std::thread::sleep((left - SPIN_WINDOW / 2).min(MAX_SLEEP));
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Events gathered before one publication when not pacing.
pub const PUSH_BATCH: usize = 64;

/// Fills unused batch slots; never pushed.
const PLACEHOLDER: MarketEvent = MarketEvent::Status(Status { ts: Nanos(0), sym: SymbolId(0), halted: false });

/// Paces and pushes events into the ring; see the module docs.
struct RingSink<'a> {
    producer: &'a mut Producer<MarketEvent>,
    waiter: Waiter,
    stop: &'a AtomicBool,
    halt: &'a Cell<bool>,
    pacer: Pacer,
    /// Events not pushed yet (unpaced runs only): `batch[..batched]`.
    batch: [MarketEvent; PUSH_BATCH],
    batched: usize,
    events: u64,
    full_waits: u64,
    paced_waits: u64,
}

impl RingSink<'_> {
    /// Waits until the event with timestamp `ts` is due; `false` if the
    /// stop flag was raised meanwhile.
    fn pace(&mut self, ts: u64) -> bool {
        match self.pacer.pace(ts, self.stop) {
            None => false,
            Some(waited) => {
                self.paced_waits += u64::from(waited);
                true
            }
        }
    }
}

impl RingSink<'_> {
    /// Pushes the gathered batch, waiting while the ring is full; gives up
    /// (halting the run) if the stop flag rises or the consumer goes away.
    fn flush(&mut self) {
        let items = self.batch[..self.batched].iter().copied();
        self.batched = 0;
        let mut w = PushWait { waiter: &mut self.waiter, stop: self.stop, halt: self.halt, full_waits: 0 };
        self.events += push_blocking(self.producer, items, &mut w);
        self.full_waits += w.full_waits;
    }
}

impl MarketSink for RingSink<'_> {
    #[inline]
    fn emit(&mut self, event: MarketEvent) {
        if self.halt.get() {
            return;
        }
        // Relaxed: a standalone flag; nothing else is published with it.
        if self.stop.load(Ordering::Relaxed) {
            self.halt.set(true);
            return;
        }
        if !self.pacer.is_paced() {
            // Unpaced: one index publication per batch.
            self.batch[self.batched] = event;
            self.batched += 1;
            if self.batched == PUSH_BATCH {
                self.flush();
            }
            return;
        }
        if !self.pace(event.ts().0) {
            self.halt.set(true);
            return;
        }
        self.batch[0] = event;
        self.batched = 1;
        self.flush();
    }
}

/// What a producer waiting on a full ring needs: its wait strategy, the
/// stop flag, the run's halt flag, and a count of the waits.
pub(crate) struct PushWait<'a> {
    pub waiter: &'a mut Waiter,
    pub stop: &'a AtomicBool,
    pub halt: &'a Cell<bool>,
    pub full_waits: u64,
}

/// Pushes every item, in batches, waiting with the wait strategy while the
/// ring is full; gives up (setting the halt flag) when the stop flag rises
/// or the consumer is gone. Returns the items pushed.
pub(crate) fn push_blocking<T: Copy>(
    producer: &mut Producer<T>,
    mut items: impl ExactSizeIterator<Item = T>,
    w: &mut PushWait<'_>,
) -> u64 {
    let mut pushed = 0u64;
    while items.len() > 0 && !w.halt.get() {
        match producer.push_batch(&mut items) {
            0 => {
                w.full_waits += 1;
                // Relaxed: a standalone flag; nothing else is published with it.
                if producer.is_abandoned() || w.stop.load(Ordering::Relaxed) {
                    w.halt.set(true);
                    break;
                }
                w.waiter.wait();
            }
            n => {
                w.waiter.reset();
                pushed += n as u64;
            }
        }
    }
    pushed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_frames_stops_before_a_cut_frame() {
        let frame = |len: u16| {
            let mut v = len.to_be_bytes().to_vec();
            v.resize(2 + usize::from(len), b'D');
            v
        };
        let mut buf = [frame(19), frame(19)].concat();
        assert_eq!(whole_frames(&buf), 42);
        buf.extend_from_slice(&frame(19)[..7]);
        assert_eq!(whole_frames(&buf), 42);
        buf.truncate(43);
        assert_eq!(whole_frames(&buf), 42);
        assert_eq!(whole_frames(&[0, 0, 1]), 3, "an impossible length: everything, to be reported");
        assert_eq!(whole_frames(&[]), 0);
    }

    #[test]
    fn pacing_divisors() {
        assert_eq!(Pacing::AsFastAsPossible.divisor(), None);
        assert_eq!(Pacing::RealTime.divisor(), Some(1));
        assert_eq!(Pacing::Speed(0).divisor(), Some(1));
        assert_eq!(Pacing::Speed(8).divisor(), Some(8));
    }

    #[test]
    fn a_dropped_consumer_stops_the_run() {
        let (mut tx, rx) = optix_ring::ring(4);
        drop(rx);
        let stop = AtomicBool::new(false);
        let src = FeedSource::Synthetic { config: SyntheticConfig::default(), events: 100 };
        let r = run_feed(src, &mut tx, Pacing::AsFastAsPossible, WaitStrategy::YIELD, &stop).unwrap();
        assert!(r.stopped);
        assert_eq!(r.events, 4, "the ring's capacity, then nobody reads");
    }

    #[test]
    fn the_stop_flag_ends_a_paced_run() {
        let (mut tx, _rx) = optix_ring::ring(1024);
        let stop = AtomicBool::new(true);
        let src =
            FeedSource::Synthetic { config: SyntheticConfig { events_per_sec: 1, ..Default::default() }, events: 10 };
        let t = Instant::now();
        let r = run_feed(src, &mut tx, Pacing::RealTime, WaitStrategy::YIELD, &stop).unwrap();
        assert!(r.stopped && r.events == 0);
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
