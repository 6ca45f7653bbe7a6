//! `optix bench ring`: our SPSC ring against other bounded queues.
//!
//! # What is measured
//!
//! For each implementation — `optix` ([`optix_ring`]), `rtrb`,
//! `crossbeam_array_queue` (`crossbeam::queue::ArrayQueue`, an MPMC queue)
//! and `std_sync_channel` (`std::sync::mpsc::sync_channel`) — all carrying
//! `u64`:
//!
//! - **One-way latency**, by ping-pong between two pinned threads: thread A
//!   pushes a sequence number into queue 1, thread B pops it and pushes it
//!   back through queue 2, A pops it. Each round trip (one clock read per
//!   round trip: the time from one completion to the next, so it includes
//!   ~20 ns of clock read and loop overhead) goes into an HdrHistogram;
//!   one-way = round trip / 2.
//! - **Streaming throughput**: a pinned producer pushes `items` sequence
//!   numbers as fast as it can, a pinned consumer pops and checks them;
//!   items/s = items / (time from the producer's first push to the
//!   consumer's last pop). Capacity 4096 for every queue.
//! - **Batched throughput**, the same with batches of [`BATCH`] items, where
//!   "batched" means, per implementation:
//!   - `optix`: `Producer::push_batch` of up to 256 items and
//!     `Consumer::pop_batch` of up to 256, one index publication each;
//!   - `rtrb`: `write_chunk_uninit(n).fill_from_iter(..)` and
//!     `read_chunk(n)` + `commit_all()`, with `n = min(slots(), 256)`;
//!   - `crossbeam_array_queue` and `std_sync_channel`, which have no batch
//!     API: a loop of single `push`/`try_send` until the batch is written or
//!     the queue is full, and a loop of `pop`/`try_recv` draining everything
//!     available (up to 256).
//!
//! Every waiting loop busy-spins (`WaitStrategy::BusySpin`) when there are
//! at least two cores to pin the two threads to; with fewer, the threads are
//! not pinned, the loops yield instead (`WaitStrategy::SpinYield`), and a
//! warning goes to stderr.
//!
//! # Interleaving
//!
//! On a virtual machine the distance between the two vCPUs (and so the
//! cost of a cache-line transfer) changes while the benchmark runs, as the
//! host moves them: we saw one-way p50 jump between ~55, ~90 and ~285 ns
//! for the same queue within a minute. A whole run per implementation
//! would compare whichever regime each happened to get, so every
//! repetition is cut into slices — [`LATENCY_SLICE`] round trips (after
//! [`LATENCY_WARMUP`] unrecorded ones, on fresh queues and threads) or
//! [`THROUGHPUT_SLICE`] items — and the implementations take turns slice by
//! slice, the order rotating every slice. A repetition's latency figures
//! come from the histogram of all its slices, its throughput from all
//! items over the summed slice times. The run is repeated `repeat` times
//! and every figure reported is the median of the repetitions.
//!
//! # Limits
//!
//! Every waiting loop checks, every 4096 waits, a shared stop flag (set when
//! the other thread fails or panics) and a deadline ([`RUN_DEADLINE`] per
//! slice), so a stalled run ends with an error instead of hanging.
//! Latency figures on a machine where other work shares the two cores carry
//! that noise; compare implementations within one run (the ratios), not
//! across runs.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use core_affinity::CoreId;
use crossbeam::queue::ArrayQueue;
use hdrhistogram::Histogram;
use optix_ring::{WaitStrategy, Waiter};
use serde::Serialize;

/// Items per batch in the batched throughput runs.
pub const BATCH: usize = 256;
/// Capacity of every queue in the throughput runs.
pub const CAPACITY: usize = 4096;
/// Capacity of every queue in the latency runs (at most one item is in
/// flight, so it does not matter).
pub const LATENCY_CAPACITY: usize = 1024;
/// Round trips per latency slice.
pub const LATENCY_SLICE: u64 = 10_000;
/// Unrecorded warm-up round trips at the start of every latency slice.
pub const LATENCY_WARMUP: u64 = 1_000;
/// Items per throughput slice.
pub const THROUGHPUT_SLICE: u64 = 1_000_000;
/// The longest one measured run may take before it is abandoned.
pub const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// Options of the benchmark.
pub struct Opts {
    /// Items per streaming run.
    pub items: u64,
    /// Round trips per latency run.
    pub round_trips: u64,
    /// Repetitions (median reported).
    pub repeat: u32,
}

/// Why the benchmark stopped.
#[derive(Debug, thiserror::Error)]
pub enum RingBenchError {
    /// An option was zero.
    #[error("ring bench: {0} must be at least 1")]
    ZeroOption(&'static str),
    /// A run took longer than [`RUN_DEADLINE`].
    #[error("ring bench: {queue} {test} run exceeded {RUN_DEADLINE:?}")]
    Timeout {
        /// The implementation.
        queue: &'static str,
        /// The measurement.
        test: &'static str,
    },
    /// A run's other thread failed first, or a queue reported its other side
    /// gone.
    #[error("ring bench: {queue} {test} run aborted: the other thread stopped")]
    Aborted {
        /// The implementation.
        queue: &'static str,
        /// The measurement.
        test: &'static str,
    },
    /// An item arrived out of sequence (lost, duplicated or reordered).
    #[error("ring bench: {queue} {test}: got item {got}, expected {expected}")]
    Sequence {
        /// The implementation.
        queue: &'static str,
        /// The measurement.
        test: &'static str,
        /// The item received.
        got: u64,
        /// The item expected.
        expected: u64,
    },
    /// A benchmark thread panicked.
    #[error("ring bench: {queue} {test}: a benchmark thread panicked")]
    Panicked {
        /// The implementation.
        queue: &'static str,
        /// The measurement.
        test: &'static str,
    },
    /// The latency histogram could not be created.
    #[error("ring bench: histogram: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
}

/// The figures of one implementation (medians over the repetitions).
#[derive(Clone, Debug, Serialize)]
pub struct QueueResult {
    /// Median one-way latency, ns.
    pub p50_ns: f64,
    /// 99th percentile one-way latency, ns.
    pub p99_ns: f64,
    /// 99.9th percentile one-way latency, ns.
    pub p999_ns: f64,
    /// Streaming throughput, one item per operation.
    pub items_per_sec: f64,
    /// Streaming throughput in batches of [`BATCH`].
    pub batched_items_per_sec: f64,
}

/// The results, in the order `optix`, `rtrb`, `crossbeam_array_queue`,
/// `std_sync_channel`.
pub struct Report {
    /// `(name, figures)` per implementation; `optix` first.
    pub results: Vec<(&'static str, QueueResult)>,
    /// Items per streaming run.
    pub items: u64,
    /// Round trips per latency run.
    pub round_trips: u64,
    /// Repetitions.
    pub repeat: u32,
    /// The two cores the threads were pinned to, if they were.
    pub cores: Option<(usize, usize)>,
    /// The wait strategy of every polling loop.
    pub wait: WaitStrategy,
}

impl Report {
    /// JSON text of the report: an object keyed by implementation name, each
    /// with `p50_ns`, `p99_ns`, `p999_ns`, `items_per_sec`,
    /// `batched_items_per_sec`.
    pub fn to_json(&self) -> String {
        let map: BTreeMap<&str, &QueueResult> = self.results.iter().map(|(name, r)| (*name, r)).collect();
        // Serialising a map of plain numbers cannot fail (NaN would become
        // `null`, which serde_json handles).
        serde_json::to_string(&map).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Human-readable table with our ratio to each implementation.
    pub fn print_table(&self, w: &mut dyn Write) -> io::Result<()> {
        let pinning = match self.cores {
            Some((a, b)) => format!("threads pinned to cores {a} and {b}"),
            None => "threads not pinned".to_string(),
        };
        writeln!(
            w,
            "ring bench: u64 items; latency {} round trips/run, throughput {} items/run \
             (capacity {CAPACITY}, batches of {BATCH}); median of {} interleaved runs; {pinning}; wait: {}",
            self.round_trips, self.items, self.repeat, self.wait
        )?;
        writeln!(
            w,
            "{:<22} {:>9} {:>9} {:>9} {:>11} {:>11}   {:>8} {:>8} {:>8}",
            "implementation", "p50 ns", "p99 ns", "p99.9 ns", "items/s", "batched/s", "x p50", "x tput", "x batch"
        )?;
        let ours = self.results.first().map(|(_, r)| r.clone());
        for (name, r) in &self.results {
            let (lat, tput, batch) = match &ours {
                Some(o) => (
                    ratio(r.p50_ns, o.p50_ns),
                    ratio(o.items_per_sec, r.items_per_sec),
                    ratio(o.batched_items_per_sec, r.batched_items_per_sec),
                ),
                None => (f64::NAN, f64::NAN, f64::NAN),
            };
            writeln!(
                w,
                "{:<22} {:>9.1} {:>9.1} {:>9.1} {:>11} {:>11}   {:>7.2}x {:>7.2}x {:>7.2}x",
                name,
                r.p50_ns,
                r.p99_ns,
                r.p999_ns,
                si(r.items_per_sec),
                si(r.batched_items_per_sec),
                lat,
                tput,
                batch
            )?;
        }
        writeln!(
            w,
            "latency is one-way (round trip / 2). x columns: optix relative to the row \
             (p50: theirs / ours; throughput: ours / theirs), above 1.00x means optix is better."
        )
    }
}

/// `a / b`, NaN when `b` is zero.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// `123.4M`-style number.
fn si(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// A bounded queue under test, seen as two halves.
trait Queue {
    /// The JSON key and table label.
    const NAME: &'static str;
    /// The sending half.
    type Tx: Send;
    /// The receiving half.
    type Rx: Send;
    /// A queue holding at least `capacity` items.
    fn channel(capacity: usize) -> (Self::Tx, Self::Rx);
    /// Pushes `v`; `Err(true)` when full, `Err(false)` when the other side is
    /// gone.
    fn try_push(tx: &mut Self::Tx, v: u64) -> Result<(), bool>;
    /// Pops one item; `Err(true)` when empty, `Err(false)` when the other
    /// side is gone and nothing is left.
    fn try_pop(rx: &mut Self::Rx) -> Result<u64, bool>;
    /// Pushes items `next..end` (front first), as many as fit; returns how
    /// many.
    fn push_batch(tx: &mut Self::Tx, next: u64, end: u64) -> u64;
    /// Pops up to `max` items into `f`; returns how many.
    fn pop_batch(rx: &mut Self::Rx, max: usize, f: impl FnMut(u64)) -> usize;
}

/// Our ring.
struct Optix;

impl Queue for Optix {
    const NAME: &'static str = "optix";
    type Tx = optix_ring::Producer<u64>;
    type Rx = optix_ring::Consumer<u64>;

    fn channel(capacity: usize) -> (Self::Tx, Self::Rx) {
        optix_ring::ring(capacity)
    }
    #[inline]
    fn try_push(tx: &mut Self::Tx, v: u64) -> Result<(), bool> {
        tx.push(v).map_err(|_| !tx.is_abandoned())
    }
    #[inline]
    fn try_pop(rx: &mut Self::Rx) -> Result<u64, bool> {
        rx.pop().ok_or_else(|| !rx.is_abandoned())
    }
    #[inline]
    fn push_batch(tx: &mut Self::Tx, next: u64, end: u64) -> u64 {
        tx.push_batch(&mut (next..end)) as u64
    }
    #[inline]
    fn pop_batch(rx: &mut Self::Rx, max: usize, f: impl FnMut(u64)) -> usize {
        rx.pop_batch(max, f)
    }
}

/// The `rtrb` crate.
struct Rtrb;

impl Queue for Rtrb {
    const NAME: &'static str = "rtrb";
    type Tx = rtrb::Producer<u64>;
    type Rx = rtrb::Consumer<u64>;

    fn channel(capacity: usize) -> (Self::Tx, Self::Rx) {
        rtrb::RingBuffer::new(capacity)
    }
    #[inline]
    fn try_push(tx: &mut Self::Tx, v: u64) -> Result<(), bool> {
        tx.push(v).map_err(|_| !tx.is_abandoned())
    }
    #[inline]
    fn try_pop(rx: &mut Self::Rx) -> Result<u64, bool> {
        rx.pop().map_err(|_| !rx.is_abandoned())
    }
    #[inline]
    fn push_batch(tx: &mut Self::Tx, next: u64, end: u64) -> u64 {
        let wanted = usize::try_from(end - next).unwrap_or(usize::MAX);
        let n = tx.slots().min(wanted);
        match tx.write_chunk_uninit(n) {
            Ok(chunk) if n > 0 => chunk.fill_from_iter(next..end) as u64,
            _ => 0,
        }
    }
    #[inline]
    fn pop_batch(rx: &mut Self::Rx, max: usize, mut f: impl FnMut(u64)) -> usize {
        let n = rx.slots().min(max);
        if n == 0 {
            return 0;
        }
        match rx.read_chunk(n) {
            Ok(chunk) => {
                let (a, b) = chunk.as_slices();
                a.iter().chain(b).for_each(|&v| f(v));
                chunk.commit_all();
                n
            }
            Err(_) => 0,
        }
    }
}

/// `crossbeam::queue::ArrayQueue` (MPMC), shared by both halves.
struct CrossbeamArrayQueue;

impl Queue for CrossbeamArrayQueue {
    const NAME: &'static str = "crossbeam_array_queue";
    type Tx = Arc<ArrayQueue<u64>>;
    type Rx = Arc<ArrayQueue<u64>>;

    fn channel(capacity: usize) -> (Self::Tx, Self::Rx) {
        let q = Arc::new(ArrayQueue::new(capacity));
        (Arc::clone(&q), q)
    }
    #[inline]
    fn try_push(tx: &mut Self::Tx, v: u64) -> Result<(), bool> {
        // No disconnection notion: a dead peer shows as a stall (deadline).
        tx.push(v).map_err(|_| true)
    }
    #[inline]
    fn try_pop(rx: &mut Self::Rx) -> Result<u64, bool> {
        rx.pop().ok_or(true)
    }
    #[inline]
    fn push_batch(tx: &mut Self::Tx, next: u64, end: u64) -> u64 {
        let mut v = next;
        while v < end && tx.push(v).is_ok() {
            v += 1;
        }
        v - next
    }
    #[inline]
    fn pop_batch(rx: &mut Self::Rx, max: usize, mut f: impl FnMut(u64)) -> usize {
        let mut n = 0;
        while n < max {
            match rx.pop() {
                Some(v) => f(v),
                None => break,
            }
            n += 1;
        }
        n
    }
}

/// `std::sync::mpsc::sync_channel`.
struct StdSyncChannel;

impl Queue for StdSyncChannel {
    const NAME: &'static str = "std_sync_channel";
    type Tx = SyncSender<u64>;
    type Rx = Receiver<u64>;

    fn channel(capacity: usize) -> (Self::Tx, Self::Rx) {
        mpsc::sync_channel(capacity)
    }
    #[inline]
    fn try_push(tx: &mut Self::Tx, v: u64) -> Result<(), bool> {
        match tx.try_send(v) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(true),
            Err(TrySendError::Disconnected(_)) => Err(false),
        }
    }
    #[inline]
    fn try_pop(rx: &mut Self::Rx) -> Result<u64, bool> {
        match rx.try_recv() {
            Ok(v) => Ok(v),
            Err(TryRecvError::Empty) => Err(true),
            Err(TryRecvError::Disconnected) => Err(false),
        }
    }
    #[inline]
    fn push_batch(tx: &mut Self::Tx, next: u64, end: u64) -> u64 {
        let mut v = next;
        while v < end && tx.try_send(v).is_ok() {
            v += 1;
        }
        v - next
    }
    #[inline]
    fn pop_batch(rx: &mut Self::Rx, max: usize, mut f: impl FnMut(u64)) -> usize {
        let mut n = 0;
        while n < max {
            match rx.try_recv() {
                Ok(v) => f(v),
                Err(_) => break,
            }
            n += 1;
        }
        n
    }
}

/// Where the two threads of a run go and how they wait.
#[derive(Clone, Copy)]
struct Placement {
    /// Cores for thread A (pinger / producer) and B (echo / consumer).
    cores: Option<(CoreId, CoreId)>,
    /// How every polling loop waits.
    wait: WaitStrategy,
}

impl Placement {
    /// Reads the core list once, before any thread pins itself (after that
    /// a pinned thread would see only its own core).
    fn detect() -> Self {
        match core_affinity::get_core_ids() {
            Some(ids) if ids.len() >= 2 => {
                // The last two: away from core 0, which usually takes most
                // interrupts; on a 2-core machine, both cores.
                let a = ids[ids.len() - 2];
                let b = ids[ids.len() - 1];
                Self { cores: Some((a, b)), wait: WaitStrategy::BusySpin }
            }
            other => {
                let n = other.map_or(0, |ids| ids.len());
                eprintln!(
                    "optix bench ring: warning: {n} core(s) available, need 2 to pin the \
                     two threads apart; running unpinned, waiting loops yield instead of \
                     busy-spinning (latency figures will be poor)"
                );
                Self { cores: None, wait: WaitStrategy::YIELD }
            }
        }
    }
}

/// Pins the calling thread to `core`, warning (not failing) if it cannot.
fn pin(core: Option<CoreId>) {
    if let Some(core) = core {
        if !core_affinity::set_for_current(core) {
            eprintln!("optix bench ring: warning: could not pin a thread to core {}", core.id);
        }
    }
}

/// Sets the shared stop flag when dropped unless the thread finished its
/// part ([`StopOnFailure::finish`] with `Ok`): on an error or a panic the
/// other thread of the run stops waiting. A thread that finished normally
/// must not set it, or its peer, still draining the last items, would stop
/// early.
struct StopOnFailure<'a> {
    stop: &'a AtomicBool,
    done: bool,
}

impl<'a> StopOnFailure<'a> {
    fn new(stop: &'a AtomicBool) -> Self {
        Self { stop, done: false }
    }

    /// Passes `result` through, disarming the guard if it is `Ok`.
    fn finish<T>(mut self, result: Result<T, RingBenchError>) -> Result<T, RingBenchError> {
        self.done = result.is_ok();
        result
    }
}

impl Drop for StopOnFailure<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Relaxed: a plain flag; the join of the threads orders
            // everything else.
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// The waiting of one polling loop, bounded by the run's stop flag and
/// deadline.
struct Idle<'a> {
    waiter: Waiter,
    stop: &'a AtomicBool,
    deadline: Instant,
    waits: u32,
    queue: &'static str,
    test: &'static str,
}

impl<'a> Idle<'a> {
    fn new(ctx: &Run<'a>) -> Self {
        Self {
            waiter: Waiter::new(ctx.wait),
            stop: ctx.stop,
            deadline: ctx.deadline,
            waits: 0,
            queue: ctx.queue,
            test: ctx.test,
        }
    }

    /// Found nothing: wait once; every 4096 waits check the stop flag and
    /// the deadline.
    #[inline(always)]
    fn wait(&mut self) -> Result<(), RingBenchError> {
        self.waiter.wait();
        self.waits = self.waits.wrapping_add(1);
        if self.waits & 4095 == 0 {
            self.check()?;
        }
        Ok(())
    }

    #[cold]
    fn check(&self) -> Result<(), RingBenchError> {
        // Relaxed: see `StopOnFailure`.
        if self.stop.load(Ordering::Relaxed) {
            return Err(self.aborted());
        }
        if Instant::now() > self.deadline {
            return Err(RingBenchError::Timeout { queue: self.queue, test: self.test });
        }
        Ok(())
    }

    /// Made progress.
    #[inline(always)]
    fn reset(&mut self) {
        self.waiter.reset();
    }

    #[cold]
    fn aborted(&self) -> RingBenchError {
        RingBenchError::Aborted { queue: self.queue, test: self.test }
    }

    #[cold]
    fn sequence(&self, got: u64, expected: u64) -> RingBenchError {
        RingBenchError::Sequence { queue: self.queue, test: self.test, got, expected }
    }
}

/// The shared context of one measured run.
#[derive(Clone, Copy)]
struct Run<'a> {
    stop: &'a AtomicBool,
    deadline: Instant,
    wait: WaitStrategy,
    queue: &'static str,
    test: &'static str,
}

/// Pushes `v`, waiting while full.
#[inline(always)]
fn push_wait<Q: Queue>(tx: &mut Q::Tx, v: u64, idle: &mut Idle<'_>) -> Result<(), RingBenchError> {
    loop {
        match Q::try_push(tx, v) {
            Ok(()) => {
                idle.reset();
                return Ok(());
            }
            Err(true) => idle.wait()?,
            Err(false) => return Err(idle.aborted()),
        }
    }
}

/// Pops one item, waiting while empty.
#[inline(always)]
fn pop_wait<Q: Queue>(rx: &mut Q::Rx, idle: &mut Idle<'_>) -> Result<u64, RingBenchError> {
    loop {
        match Q::try_pop(rx) {
            Ok(v) => {
                idle.reset();
                return Ok(v);
            }
            Err(true) => idle.wait()?,
            Err(false) => return Err(idle.aborted()),
        }
    }
}

/// Joins a scoped thread, turning a panic into an error.
fn joined<T>(
    handle: thread::ScopedJoinHandle<'_, Result<T, RingBenchError>>,
    queue: &'static str,
    test: &'static str,
) -> Result<T, RingBenchError> {
    handle.join().unwrap_or(Err(RingBenchError::Panicked { queue, test }))
}

/// Of two thread results, the more telling error: a thread's own failure
/// rather than the other's "aborted because the first one stopped".
fn first_cause<A, B>(a: Result<A, RingBenchError>, b: Result<B, RingBenchError>) -> Result<(A, B), RingBenchError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(RingBenchError::Aborted { .. }), Err(e)) | (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// Thread B of a ping-pong run: echoes `total` items from `rx` to `tx`.
fn echo<Q: Queue>(rx: &mut Q::Rx, tx: &mut Q::Tx, total: u64, idle: &mut Idle<'_>) -> Result<(), RingBenchError> {
    for _ in 0..total {
        let v = pop_wait::<Q>(rx, idle)?;
        push_wait::<Q>(tx, v, idle)?;
    }
    Ok(())
}

/// Thread A of a ping-pong run: sends `total` sequence numbers through `tx`,
/// waits for each to come back on `rx`, and records the round trips after
/// the first `warmup`.
fn ping<Q: Queue>(
    tx: &mut Q::Tx,
    rx: &mut Q::Rx,
    total: u64,
    warmup: u64,
    hist: &mut Histogram<u64>,
    idle: &mut Idle<'_>,
) -> Result<(), RingBenchError> {
    let mut t0 = Instant::now();
    for i in 0..total {
        push_wait::<Q>(tx, i, idle)?;
        let v = pop_wait::<Q>(rx, idle)?;
        let t1 = Instant::now();
        if v != i {
            return Err(idle.sequence(v, i));
        }
        if i >= warmup {
            let rtt = u64::try_from((t1 - t0).as_nanos()).unwrap_or(u64::MAX);
            hist.saturating_record(rtt.max(1));
        }
        t0 = t1;
    }
    Ok(())
}

/// One ping-pong run of [`LATENCY_WARMUP`] + `round_trips` round trips,
/// the latter recorded (in ns, round trip) into `hist`.
fn latency<Q: Queue>(round_trips: u64, place: Placement, hist: &mut Histogram<u64>) -> Result<(), RingBenchError> {
    let test = "latency";
    let (mut tx1, mut rx1) = Q::channel(LATENCY_CAPACITY);
    let (mut tx2, mut rx2) = Q::channel(LATENCY_CAPACITY);
    let total = LATENCY_WARMUP + round_trips;
    let stop = AtomicBool::new(false);
    let ctx = Run { stop: &stop, deadline: Instant::now() + RUN_DEADLINE, wait: place.wait, queue: Q::NAME, test };
    let (a, b) = (place.cores.map(|c| c.0), place.cores.map(|c| c.1));
    let (pinger, echoer) = thread::scope(|s| {
        let echoer = s.spawn(move || {
            pin(b);
            let guard = StopOnFailure::new(ctx.stop);
            guard.finish(echo::<Q>(&mut rx1, &mut tx2, total, &mut Idle::new(&ctx)))
        });
        let pinger = s.spawn(move || {
            pin(a);
            let guard = StopOnFailure::new(ctx.stop);
            let mut idle = Idle::new(&ctx);
            guard.finish(ping::<Q>(&mut tx1, &mut rx2, total, LATENCY_WARMUP, hist, &mut idle))
        });
        (joined(pinger, Q::NAME, test), joined(echoer, Q::NAME, test))
    });
    first_cause(pinger, echoer)?;
    Ok(())
}

/// The producer of a streaming run: pushes `0..items`, one at a time or in
/// batches of up to [`BATCH`]. Returns when it started.
fn produce<Q: Queue>(
    tx: &mut Q::Tx,
    items: u64,
    batched: bool,
    idle: &mut Idle<'_>,
) -> Result<Instant, RingBenchError> {
    let started = Instant::now();
    if batched {
        let mut next = 0u64;
        while next < items {
            let end = items.min(next + BATCH as u64);
            let n = Q::push_batch(tx, next, end);
            if n == 0 {
                idle.wait()?;
            } else {
                next += n;
                idle.reset();
            }
        }
    } else {
        for i in 0..items {
            push_wait::<Q>(tx, i, idle)?;
        }
    }
    Ok(started)
}

/// The consumer of a streaming run: pops and checks `0..items`, one at a
/// time or in batches of up to [`BATCH`]. Returns when it got the last one.
fn consume<Q: Queue>(
    rx: &mut Q::Rx,
    items: u64,
    batched: bool,
    idle: &mut Idle<'_>,
) -> Result<Instant, RingBenchError> {
    let mut expected = 0u64;
    if batched {
        let mut bad = None;
        while expected < items {
            let n = Q::pop_batch(rx, BATCH, |v| {
                if v != expected && bad.is_none() {
                    bad = Some((v, expected));
                }
                expected += 1;
            });
            if let Some((got, exp)) = bad {
                return Err(idle.sequence(got, exp));
            }
            if n == 0 {
                idle.wait()?;
            } else {
                idle.reset();
            }
        }
    } else {
        while expected < items {
            let v = pop_wait::<Q>(rx, idle)?;
            if v != expected {
                return Err(idle.sequence(v, expected));
            }
            expected += 1;
        }
    }
    Ok(Instant::now())
}

/// The duration of one streaming run of `items` items, unbatched or in
/// batches: from the producer's first push to the consumer's last pop.
fn throughput<Q: Queue>(items: u64, batched: bool, place: Placement) -> Result<Duration, RingBenchError> {
    let test = if batched { "batched throughput" } else { "throughput" };
    let (mut tx, mut rx) = Q::channel(CAPACITY);
    let stop = AtomicBool::new(false);
    let ctx = Run { stop: &stop, deadline: Instant::now() + RUN_DEADLINE, wait: place.wait, queue: Q::NAME, test };
    let (a, b) = (place.cores.map(|c| c.0), place.cores.map(|c| c.1));
    let (started, finished) = thread::scope(|s| {
        let consumer = s.spawn(move || {
            pin(b);
            let guard = StopOnFailure::new(ctx.stop);
            guard.finish(consume::<Q>(&mut rx, items, batched, &mut Idle::new(&ctx)))
        });
        let producer = s.spawn(move || {
            pin(a);
            let guard = StopOnFailure::new(ctx.stop);
            guard.finish(produce::<Q>(&mut tx, items, batched, &mut Idle::new(&ctx)))
        });
        (joined(producer, Q::NAME, test), joined(consumer, Q::NAME, test))
    });
    let (started, finished) = first_cause(started, finished)?;
    Ok(finished.duration_since(started))
}

/// What the slices of one measurement of one implementation add up to in
/// one repetition.
struct Acc {
    /// Latency: every recorded round trip, ns.
    hist: Histogram<u64>,
    /// Throughput: items moved.
    items: u64,
    /// Throughput: time taken moving them.
    elapsed: Duration,
}

impl Acc {
    fn new() -> Result<Self, RingBenchError> {
        Ok(Self { hist: Histogram::new_with_bounds(1, 60_000_000_000, 3)?, items: 0, elapsed: Duration::ZERO })
    }

    /// Items per second.
    fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.items as f64 / secs
        } else {
            f64::INFINITY
        }
    }

    /// One-way latency at quantile `q`, ns.
    fn one_way(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 2.0
    }
}

/// The figures of one implementation, one per repetition.
#[derive(Default)]
struct Samples {
    p50: Vec<f64>,
    p99: Vec<f64>,
    p999: Vec<f64>,
    tput: Vec<f64>,
    batched: Vec<f64>,
}

impl Samples {
    /// Adds one repetition's figures of `kind`.
    fn add(&mut self, kind: Kind, acc: &Acc) {
        match kind {
            Kind::Latency => {
                self.p50.push(acc.one_way(0.5));
                self.p99.push(acc.one_way(0.99));
                self.p999.push(acc.one_way(0.999));
            }
            Kind::Throughput => self.tput.push(acc.rate()),
            Kind::Batched => self.batched.push(acc.rate()),
        }
    }

    /// The medians.
    fn result(&mut self) -> QueueResult {
        QueueResult {
            p50_ns: median(&mut self.p50),
            p99_ns: median(&mut self.p99),
            p999_ns: median(&mut self.p999),
            items_per_sec: median(&mut self.tput),
            batched_items_per_sec: median(&mut self.batched),
        }
    }
}

/// The median (mean of the middle two for an even count); NaN when empty.
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The implementations, in report order.
const NAMES: [&str; 4] = [Optix::NAME, Rtrb::NAME, CrossbeamArrayQueue::NAME, StdSyncChannel::NAME];

/// The three measurements.
#[derive(Clone, Copy)]
enum Kind {
    Latency,
    Throughput,
    Batched,
}

/// One slice of `n` round trips or items of measurement `kind` of
/// implementation `which` (index into [`NAMES`]), added to `acc`.
fn measure(which: usize, kind: Kind, n: u64, place: Placement, acc: &mut Acc) -> Result<(), RingBenchError> {
    fn go<Q: Queue>(kind: Kind, n: u64, place: Placement, acc: &mut Acc) -> Result<(), RingBenchError> {
        match kind {
            Kind::Latency => latency::<Q>(n, place, &mut acc.hist)?,
            Kind::Throughput | Kind::Batched => {
                acc.elapsed += throughput::<Q>(n, matches!(kind, Kind::Batched), place)?;
                acc.items += n;
            }
        }
        Ok(())
    }
    match which {
        0 => go::<Optix>(kind, n, place, acc),
        1 => go::<Rtrb>(kind, n, place, acc),
        2 => go::<CrossbeamArrayQueue>(kind, n, place, acc),
        _ => go::<StdSyncChannel>(kind, n, place, acc),
    }
}

/// Runs the benchmark.
pub fn run(opts: &Opts) -> Result<Report, RingBenchError> {
    if opts.items == 0 {
        return Err(RingBenchError::ZeroOption("items"));
    }
    if opts.round_trips == 0 {
        return Err(RingBenchError::ZeroOption("round trips"));
    }
    if opts.repeat == 0 {
        return Err(RingBenchError::ZeroOption("repeat"));
    }
    let place = Placement::detect();
    let mut samples: Vec<Samples> = NAMES.iter().map(|_| Samples::default()).collect();
    for rep in 0..opts.repeat as u64 {
        for kind in [Kind::Latency, Kind::Throughput, Kind::Batched] {
            let (total, slice) = match kind {
                Kind::Latency => (opts.round_trips, LATENCY_SLICE),
                Kind::Throughput | Kind::Batched => (opts.items, THROUGHPUT_SLICE),
            };
            let mut accs = [Acc::new()?, Acc::new()?, Acc::new()?, Acc::new()?];
            for i in 0..total.div_ceil(slice) {
                let n = slice.min(total - i * slice);
                // Rotate the order every slice so no implementation always
                // runs first or right after a particular other one.
                for k in 0..NAMES.len() as u64 {
                    let which = ((rep + i + k) % NAMES.len() as u64) as usize;
                    measure(which, kind, n, place, &mut accs[which])?;
                }
            }
            for (s, acc) in samples.iter_mut().zip(&accs) {
                s.add(kind, acc);
            }
        }
    }
    Ok(Report {
        results: NAMES.iter().zip(&mut samples).map(|(name, s)| (*name, s.result())).collect(),
        items: opts.items,
        round_trips: opts.round_trips,
        repeat: opts.repeat,
        cores: place.cores.map(|(a, b)| (a.id, b.id)),
        wait: place.wait,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run small enough for the test suite, with whatever placement this
    /// machine allows.
    fn small() -> Opts {
        Opts { items: 20_000, round_trips: 2_000, repeat: 1 }
    }

    #[test]
    fn every_queue_moves_every_item_in_order() {
        // Tests run beside other tests on few cores: the waiting loops
        // yield instead of busy-spinning, so a starved peer still runs.
        let place = Placement { wait: WaitStrategy::YIELD, ..Placement::detect() };
        for which in 0..NAMES.len() {
            let mut s = Samples::default();
            for (kind, n) in [(Kind::Latency, 2_000), (Kind::Throughput, 20_000), (Kind::Batched, 20_000)] {
                let mut acc = Acc::new().unwrap();
                // Two slices, as `run` does.
                measure(which, kind, n, place, &mut acc).unwrap();
                measure(which, kind, n, place, &mut acc).unwrap();
                s.add(kind, &acc);
                match kind {
                    Kind::Latency => assert_eq!(acc.hist.len(), 2 * n),
                    _ => assert_eq!(acc.items, 2 * n),
                }
            }
            let r = s.result();
            assert!(r.p50_ns > 0.0 && r.p50_ns <= r.p99_ns && r.p99_ns <= r.p999_ns);
            assert!(r.items_per_sec > 0.0 && r.batched_items_per_sec > 0.0);
        }
    }

    #[test]
    fn batch_adapters_respect_bounds_and_order() {
        fn check<Q: Queue>() {
            let (mut tx, mut rx) = Q::channel(8);
            assert_eq!(Q::push_batch(&mut tx, 0, 5), 5);
            assert_eq!(Q::push_batch(&mut tx, 5, 20), 3, "{}: only 3 free", Q::NAME);
            let mut got = Vec::new();
            assert_eq!(Q::pop_batch(&mut rx, 6, |v| got.push(v)), 6);
            assert_eq!(Q::pop_batch(&mut rx, 100, |v| got.push(v)), 2);
            assert_eq!(Q::pop_batch(&mut rx, 100, |v| got.push(v)), 0);
            assert_eq!(got, (0..8).collect::<Vec<_>>(), "{}", Q::NAME);
            assert_eq!(Q::try_pop(&mut rx), Err(true));
            assert_eq!(Q::try_push(&mut tx, 9), Ok(()));
            assert_eq!(Q::try_pop(&mut rx), Ok(9));
        }
        check::<Optix>();
        check::<Rtrb>();
        check::<CrossbeamArrayQueue>();
        check::<StdSyncChannel>();
    }

    #[test]
    fn a_dead_peer_ends_the_run_with_an_error_not_a_hang() {
        let stop = AtomicBool::new(true); // the other thread already stopped
        let ctx = Run {
            stop: &stop,
            deadline: Instant::now() + RUN_DEADLINE,
            wait: WaitStrategy::YIELD,
            queue: Optix::NAME,
            test: "unit",
        };
        let (_tx, mut rx) = Optix::channel(4);
        let mut idle = Idle::new(&ctx);
        assert!(matches!(pop_wait::<Optix>(&mut rx, &mut idle), Err(RingBenchError::Aborted { .. })));
        // A past deadline: a timeout.
        let running = AtomicBool::new(false);
        let ctx = Run { stop: &running, deadline: Instant::now(), ..ctx };
        let mut idle = Idle::new(&ctx);
        assert!(matches!(
            pop_wait::<CrossbeamArrayQueue>(&mut CrossbeamArrayQueue::channel(4).1, &mut idle),
            Err(RingBenchError::Timeout { .. })
        ));
        // A dropped sender: aborted at once.
        let (tx, mut rx) = StdSyncChannel::channel(4);
        drop(tx);
        assert!(matches!(pop_wait::<StdSyncChannel>(&mut rx, &mut idle), Err(RingBenchError::Aborted { .. })));
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn report_json_is_keyed_by_implementation_and_table_has_ratios() {
        let r = |x: f64| QueueResult {
            p50_ns: 100.0 * x,
            p99_ns: 200.0 * x,
            p999_ns: 300.0 * x,
            items_per_sec: 1e8 / x,
            batched_items_per_sec: 4e8 / x,
        };
        let report = Report {
            results: NAMES.iter().zip([1.0, 1.0, 2.0, 4.0]).map(|(n, x)| (*n, r(x))).collect(),
            items: 10,
            round_trips: 10,
            repeat: 1,
            cores: Some((0, 1)),
            wait: WaitStrategy::BusySpin,
        };
        let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 4);
        for name in NAMES {
            for key in ["p50_ns", "p99_ns", "items_per_sec", "batched_items_per_sec"] {
                assert!(obj[name][key].is_number(), "{name}.{key}");
            }
        }
        assert_eq!(obj["std_sync_channel"]["p50_ns"], 400.0);
        let mut out = Vec::new();
        report.print_table(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let row = text.lines().find(|l| l.starts_with("std_sync_channel")).unwrap();
        // p50 400 vs ours 100 → 4.00x; throughput 4x; batched 4x.
        assert_eq!(row.matches("4.00x").count(), 3, "{row}");
        assert!(text.contains("pinned to cores 0 and 1"));
    }

    #[test]
    fn zero_options_are_rejected() {
        let o = Opts { repeat: 0, ..small() };
        assert!(matches!(run(&o), Err(RingBenchError::ZeroOption("repeat"))));
    }
}
