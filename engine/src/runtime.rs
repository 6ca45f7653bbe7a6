//! The matcher thread: owns an [`Engine`], takes stamped inputs off one
//! SPSC ring per producer, runs them through the engine and publishes the
//! events to an outbound ring.
//!
//! ```
//! use optix_engine::runtime::{Inbound, Matcher, MatcherConfig, Stamped};
//! use optix_engine::*;
//!
//! let mut engine = Engine::new(EngineConfig::default(), Permissive);
//! let sym = engine.add_instrument(Instrument::new("0.01", 1, VenueMode::Clob).unwrap());
//! let acct = engine.add_account(AccountSpec::default());
//! let (out_tx, mut out_rx) = optix_ring::ring(1024);
//! let mut matcher = Matcher::new(engine, out_tx, MatcherConfig::default());
//! let mut feed = matcher.add_input(1024);
//! let order = NewOrder {
//!     acct, clid: ClientOrderId(1), sym, side: Side::Buy, ord_type: OrdType::Limit, tif: Tif::Day,
//!     price: Price::from_ticks(100), stop_price: Price::NONE, qty: Qty::from_lots(5),
//!     display: Qty::ZERO, expire: Nanos(0), post_only: false,
//! };
//! feed.push(Stamped { ingress: Nanos(10), item: Inbound::Command(Input::NewOrder(order)) }).unwrap();
//! assert_eq!(matcher.poll_once(), 1);
//! let out = out_rx.pop().unwrap();
//! assert!(matches!(out.event.kind, EventKind::Accepted { .. }));
//! assert_eq!((out.ingress, out.number, out.event.time), (Nanos(10), 1, Nanos(10)));
//! ```
//!
//! # Layout
//!
//! - Inputs: [`Stamped`] items (an ingress stamp and an [`Inbound`]: a
//!   market event in feed units, a command, or an instrument to add), one
//!   ring per producer thread ([`Matcher::add_input`] creates one and
//!   hands out its producer). The rings are polled round-robin: each round
//!   ([`Matcher::poll_once`]) visits every ring once, starting one ring
//!   further each round, and takes at most [`MatcherConfig::batch`] items
//!   from it with one index publication, so no producer can starve another.
//!   A batch is copied into a preallocated scratch buffer and run in order,
//!   calling [`Engine::prefetch`] [`PREFETCH_AHEAD`] items ahead so the
//!   cache misses of one command overlap the work of those before it.
//! - Market events are converted by [`to_input`] with the instrument of
//!   their symbol (the engine's [`SymbolId`]s are the feed's). Events for a
//!   symbol the engine does not have are counted
//!   ([`MatcherStats::unknown_symbol`]) and skipped; those that convert to
//!   nothing (depth [`Level`](crate::market::Level)s, prints below a lot)
//!   are counted in [`MatcherStats::market_skipped`].
//! - [`Inbound::Instrument`] adds an instrument while running (an ITCH
//!   stock directory seen mid-stream): configuration, which allocates,
//!   once per symbol. Its id must be the engine's next one; otherwise it is
//!   refused and counted.
//! - Output: every event goes into the outbound ring as an [`Outbound`]
//!   with the ingress stamp of the input that caused it and a running
//!   event number from 1.
//!
//! # Time
//!
//! The engine's time for an input is `max(previous, ingress stamp)`: it
//! never runs backwards. The stamp's clock is the producer's choice and
//! must be the same for all producers of one matcher: a live feed or
//! gateway stamps from a shared [`Clock`] (monotonic, as nanoseconds since
//! its base, e.g. midnight); a replay stamps with the file's own
//! timestamps, so a replay is deterministic. When no input has arrived for
//! [`MatcherConfig::idle_tick`], the matcher injects an [`Input::Tick`]
//! stamped from its [`Clock`], so time-driven behaviour (GTD expiry) does
//! not wait for traffic. Leave `idle_tick` off for a replay: a tick would
//! bring the wall clock into a run that should only know the file's.
//!
//! # A full outbound ring ([`OutFull`])
//!
//! The matcher never deadlocks on its output, and never loses an event
//! without saying so:
//! - [`OutFull::Backpressure`] (the default): the matcher waits for room
//!   with its wait strategy, for as long as the consumer is alive and the
//!   stop flag is down; input stays in the input rings meanwhile (they fill
//!   up and hold their producers back). If the consumer is gone or the stop
//!   flag rises, the event is dropped and counted. A reader must therefore
//!   not wait for the matcher while it holds events back: a thread that is
//!   both a producer and the reader (the pipeline benchmark) drains the
//!   outbound ring while it waits on a full input ring.
//! - [`OutFull::Drop`]: the matcher never waits; an event that finds the
//!   ring full is dropped and counted (what the architecture asks of a
//!   gateway dispatcher: a slow consumer loses its session, the matcher
//!   never stalls).
//!
//! Either way [`MatcherStats::out_dropped`] counts the losses and
//! [`Outbound::number`] counts dropped events too, so a reader sees a gap.
//!
//! # Invariants and complexity
//!
//! Items of one ring run in their ring's order; the events of one input are
//! published in the engine's order, contiguously. Per item: O(1) plus the
//! engine's own cost. In a steady state nothing on the loop allocates,
//! locks or makes a system call: the scratch buffer and rings are
//! allocated up front, waiting is the [`Waiter`]'s spin/yield/park, and the
//! clock is read only on the idle path (a vDSO read, not a system call, on
//! Linux x86-64). [`Inbound::Instrument`] allocates (configuration).
//!
//! # Limits
//!
//! One matcher thread per engine; the rings are single-producer. The run
//! loop ends when the stop flag rises (what is still in the rings stays
//! there) or when every input ring's producer is gone and the ring is
//! drained.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use optix_ring::{Consumer, Producer, WaitStrategy, Waiter};

use crate::check::PreTradeCheck;
use crate::engine::Engine;
use crate::event::{Event, EventSink, Input};
use crate::market::{to_input, MarketEvent};
use crate::types::{Instrument, Nanos, SymbolId};

/// What a producer hands the matcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// Market data in feed units, converted with its symbol's instrument.
    Market(MarketEvent),
    /// A command (or admin input) in engine units, run as it is.
    Command(Input),
    /// Configuration: add this instrument; the id must be the engine's next.
    Instrument(SymbolId, Instrument),
}

/// An input with its ingress stamp (see the [module docs](self) on time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamped {
    /// When it arrived, on the clock all producers of the matcher share.
    pub ingress: Nanos,
    /// The input.
    pub item: Inbound,
}

/// An event with the ingress stamp of the input that caused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outbound {
    /// The ingress stamp of the input that caused the event.
    pub ingress: Nanos,
    /// Event number from 1, dropped events included (a gap is a loss).
    pub number: u64,
    /// The event.
    pub event: Event,
}

const _: () = assert!(std::mem::size_of::<Stamped>() <= 96);
const _: () = assert!(std::mem::size_of::<Outbound>() <= 112);

/// What the matcher does when the outbound ring is full; see the
/// [module docs](self).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutFull {
    /// Wait for room while the consumer is alive and the stop flag is down;
    /// otherwise drop and count.
    #[default]
    Backpressure,
    /// Never wait: drop and count.
    Drop,
}

/// A monotonic clock reading nanoseconds since a base (e.g. the start of
/// the trading day): `base + time elapsed since the clock was made`.
/// `Copy`, so every producer of a matcher and the matcher itself can hold
/// the same one.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
    base: Nanos,
}

impl Clock {
    /// A clock reading `base` now.
    pub fn new(base: Nanos) -> Clock {
        Clock { origin: Instant::now(), base }
    }

    /// A clock reading the time since midnight UTC now (the engine's time
    /// of day), then running on the monotonic clock.
    pub fn since_midnight_utc() -> Clock {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let day = 86_400_000_000_000u128;
        Clock::new(Nanos((since_epoch.as_nanos() % day) as u64))
    }

    /// The time now.
    #[inline]
    pub fn now(&self) -> Nanos {
        Nanos(self.base.0.saturating_add(self.origin.elapsed().as_nanos() as u64))
    }

    /// The reading at an instant (not before the clock was made).
    #[inline]
    pub fn at(&self, t: Instant) -> Nanos {
        Nanos(self.base.0.saturating_add(t.saturating_duration_since(self.origin).as_nanos() as u64))
    }
}

impl Default for Clock {
    /// A clock reading 0 now.
    fn default() -> Self {
        Clock::new(Nanos(0))
    }
}

/// Items the matcher takes from one ring per visit, at most.
pub const DEFAULT_BATCH: usize = 64;

/// How many items ahead of the one running the matcher prefetches.
pub const PREFETCH_AHEAD: usize = 8;

/// How the matcher runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatcherConfig {
    /// Thread name ([`spawn`]).
    pub name: String,
    /// Core to pin the thread to (`core_affinity` id); `None`: not pinned.
    pub core: Option<usize>,
    /// How to wait when every input ring is empty (or the output is full).
    pub wait: WaitStrategy,
    /// Inject a clock tick after this long without input; `None`: never.
    pub idle_tick: Option<Duration>,
    /// Items taken from one ring per visit (at least 1).
    pub batch: usize,
    /// What to do when the outbound ring is full.
    pub out_full: OutFull,
}

impl Default for MatcherConfig {
    /// `optix-matcher`, unpinned, the default (parking) wait strategy, a
    /// tick after 1 ms idle, batches of [`DEFAULT_BATCH`], backpressure.
    fn default() -> Self {
        MatcherConfig {
            name: "optix-matcher".into(),
            core: None,
            wait: WaitStrategy::default(),
            idle_tick: Some(Duration::from_millis(1)),
            batch: DEFAULT_BATCH,
            out_full: OutFull::Backpressure,
        }
    }
}

/// What the matcher has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatcherStats {
    /// Items taken off the input rings.
    pub items: u64,
    /// Inputs the engine processed (commands, converted market events, ticks).
    pub inputs: u64,
    /// Market events taken.
    pub market: u64,
    /// Market events that convert to no input (depth levels, odd-lot prints).
    pub market_skipped: u64,
    /// Market events for a symbol the engine does not have; skipped.
    pub unknown_symbol: u64,
    /// Commands taken.
    pub commands: u64,
    /// Clock ticks injected while idle.
    pub ticks: u64,
    /// Instruments added while running.
    pub instruments_added: u64,
    /// Instruments refused (their id was not the engine's next one).
    pub instruments_refused: u64,
    /// Events published to the outbound ring.
    pub events: u64,
    /// Times an event found the outbound ring full and the matcher waited.
    pub out_full_waits: u64,
    /// Events dropped (ring full under [`OutFull::Drop`], or the consumer
    /// gone / the stop flag raised under backpressure).
    pub out_dropped: u64,
    /// Non-empty batches taken.
    pub batches: u64,
    /// The core the thread was pinned to, if any.
    pub pinned_core: Option<usize>,
}

/// The engine's event sink: the outbound ring under a policy.
struct Out {
    producer: Producer<Outbound>,
    policy: OutFull,
    waiter: Waiter,
    stop: Arc<AtomicBool>,
    /// Ingress stamp of the input running.
    ingress: Nanos,
    /// Events so far, dropped included.
    number: u64,
    events: u64,
    full_waits: u64,
    dropped: u64,
}

impl EventSink for Out {
    #[inline]
    fn emit(&mut self, event: &Event) {
        self.number += 1;
        let mut item = Outbound { ingress: self.ingress, number: self.number, event: *event };
        loop {
            match self.producer.push(item) {
                Ok(()) => {
                    self.events += 1;
                    self.waiter.reset();
                    return;
                }
                Err(back) => item = back,
            }
            if self.policy == OutFull::Drop
                || self.producer.is_abandoned()
                // Relaxed: a standalone flag; nothing else is published with it.
                || self.stop.load(Ordering::Relaxed)
            {
                self.dropped += 1;
                self.waiter.reset();
                return;
            }
            self.full_waits += 1;
            self.waiter.wait();
        }
    }
}

/// The matcher: an engine, its input rings and its outbound ring; see the
/// [module docs](self).
pub struct Matcher<R: PreTradeCheck> {
    engine: Engine<R>,
    inputs: Vec<Consumer<Stamped>>,
    out: Out,
    clock: Clock,
    cfg: MatcherConfig,
    /// One batch, copied off a ring (capacity `cfg.batch`, never grown).
    scratch: Vec<Stamped>,
    /// The ring the next round starts at.
    next_ring: usize,
    /// Instruments the engine has.
    instruments: u32,
    stats: MatcherStats,
}

impl<R: PreTradeCheck> Matcher<R> {
    /// A matcher around `engine` (instruments and accounts configured)
    /// publishing to `out`, with no input ring yet and a [`Clock`] reading 0
    /// now.
    pub fn new(engine: Engine<R>, out: Producer<Outbound>, cfg: MatcherConfig) -> Self {
        Self::with_clock(engine, out, cfg, Clock::default())
    }

    /// As [`Matcher::new`], with the clock idle ticks are stamped from.
    pub fn with_clock(engine: Engine<R>, out: Producer<Outbound>, mut cfg: MatcherConfig, clock: Clock) -> Self {
        cfg.batch = cfg.batch.max(1);
        let mut instruments = 0u32;
        while engine.instrument(SymbolId(instruments)).is_some() {
            instruments += 1;
        }
        Matcher {
            engine,
            inputs: Vec::new(),
            out: Out {
                producer: out,
                policy: cfg.out_full,
                waiter: Waiter::new(cfg.wait),
                stop: Arc::new(AtomicBool::new(false)),
                ingress: Nanos(0),
                number: 0,
                events: 0,
                full_waits: 0,
                dropped: 0,
            },
            clock,
            scratch: Vec::with_capacity(cfg.batch),
            cfg,
            next_ring: 0,
            instruments,
            stats: MatcherStats::default(),
        }
    }

    /// Creates an input ring of at least `capacity` slots (a power of two)
    /// and returns its producer: one per producer thread.
    pub fn add_input(&mut self, capacity: usize) -> Producer<Stamped> {
        let (tx, rx) = optix_ring::ring(capacity);
        self.inputs.push(rx);
        tx
    }

    /// Adds an input ring made elsewhere (its consumer).
    pub fn add_input_consumer(&mut self, rx: Consumer<Stamped>) {
        self.inputs.push(rx);
    }

    /// The flag that stops [`Matcher::run`] (and the thread of [`spawn`]).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.out.stop)
    }

    /// The clock idle ticks are stamped from (producers may share it).
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The engine.
    pub fn engine(&self) -> &Engine<R> {
        &self.engine
    }

    /// The engine, mutably (configuration between runs).
    pub fn engine_mut(&mut self) -> &mut Engine<R> {
        &mut self.engine
    }

    /// The counters, the outbound ones up to date.
    pub fn stats(&self) -> MatcherStats {
        MatcherStats {
            events: self.out.events,
            out_full_waits: self.out.full_waits,
            out_dropped: self.out.dropped,
            ..self.stats
        }
    }

    /// The engine back, with the counters.
    pub fn into_engine(self) -> (Engine<R>, MatcherStats) {
        let stats = self.stats();
        (self.engine, stats)
    }

    /// One round: visits every input ring once, round-robin, taking up to
    /// `batch` items from each and running them. Returns the items taken
    /// (0: every ring was empty). Never waits, except under
    /// [`OutFull::Backpressure`] for room in the outbound ring.
    pub fn poll_once(&mut self) -> usize {
        let rings = self.inputs.len();
        if rings == 0 {
            return 0;
        }
        let mut taken = 0;
        let start = self.next_ring;
        self.next_ring = if start + 1 >= rings { 0 } else { start + 1 };
        for k in 0..rings {
            let r = if start + k >= rings { start + k - rings } else { start + k };
            taken += self.drain_one(r);
        }
        taken
    }

    /// Takes one batch off ring `r` and runs it.
    #[inline]
    fn drain_one(&mut self, r: usize) -> usize {
        let scratch = &mut self.scratch;
        scratch.clear();
        let n = self.inputs[r].pop_batch(self.cfg.batch, |s| scratch.push(s));
        if n == 0 {
            return 0;
        }
        self.stats.batches += 1;
        self.stats.items += n as u64;
        for s in &self.scratch[..n.min(PREFETCH_AHEAD)] {
            if let Inbound::Command(c) = &s.item {
                self.engine.prefetch(c);
            }
        }
        for s in &self.scratch[..n.min(crate::PREFETCH_NEAR)] {
            if let Inbound::Command(c) = &s.item {
                self.engine.prefetch_near(c);
            }
        }
        for i in 0..n {
            if let Some(Stamped { item: Inbound::Command(c), .. }) = self.scratch.get(i + PREFETCH_AHEAD) {
                self.engine.prefetch(c);
            }
            if let Some(Stamped { item: Inbound::Command(c), .. }) = self.scratch.get(i + crate::PREFETCH_NEAR) {
                self.engine.prefetch_near(c);
            }
            let s = self.scratch[i];
            self.run_item(&s);
        }
        n
    }

    #[inline]
    fn run_item(&mut self, s: &Stamped) {
        self.out.ingress = s.ingress;
        match &s.item {
            Inbound::Command(input) => {
                self.stats.commands += 1;
                self.stats.inputs += 1;
                self.engine.process(s.ingress, input, &mut self.out);
            }
            Inbound::Market(ev) => {
                self.stats.market += 1;
                let Some(inst) = self.engine.instrument(ev.sym()) else {
                    self.stats.unknown_symbol += 1;
                    return;
                };
                match to_input(ev, inst) {
                    Some(input) => {
                        self.stats.inputs += 1;
                        self.engine.process(s.ingress, &input, &mut self.out);
                    }
                    None => self.stats.market_skipped += 1,
                }
            }
            Inbound::Instrument(sym, inst) => self.add_instrument(*sym, *inst),
        }
    }

    #[cold]
    #[inline(never)]
    fn add_instrument(&mut self, sym: SymbolId, inst: Instrument) {
        if sym.0 != self.instruments || sym.0 as usize >= crate::MAX_SYMBOLS {
            self.stats.instruments_refused += 1;
            return;
        }
        self.engine.add_instrument(inst);
        self.instruments += 1;
        self.stats.instruments_added += 1;
    }

    /// Injects a clock tick stamped `now` (what the run loop does when idle).
    pub fn tick(&mut self, now: Nanos) {
        self.stats.ticks += 1;
        self.stats.inputs += 1;
        self.out.ingress = now;
        self.engine.process(now, &Input::Tick, &mut self.out);
    }

    /// Whether every input ring's producer is gone and the ring is empty.
    pub fn inputs_closed(&self) -> bool {
        self.inputs.iter().all(|c| c.is_abandoned() && c.is_empty())
    }

    /// Runs rounds until the stop flag rises or every input is closed
    /// ([`Matcher::inputs_closed`]), waiting with the configured strategy
    /// when a round finds nothing and injecting idle ticks.
    pub fn run(&mut self) {
        let stop = Arc::clone(&self.out.stop);
        let mut waiter = Waiter::new(self.cfg.wait);
        let idle_tick = self.cfg.idle_tick;
        let mut idle_since: Option<Instant> = None;
        loop {
            if self.poll_once() > 0 {
                waiter.reset();
                idle_since = None;
                continue;
            }
            // Relaxed: a standalone flag; nothing else is published with it.
            if stop.load(Ordering::Relaxed) || self.inputs_closed() {
                break;
            }
            if let Some(period) = idle_tick {
                let now = Instant::now();
                let since = *idle_since.get_or_insert(now);
                if now.duration_since(since) >= period {
                    self.tick(self.clock.at(now));
                    idle_since = Some(now);
                    continue;
                }
            }
            waiter.wait();
        }
    }
}

/// Where a thread should be pinned, worked out on the spawning thread
/// (which still sees every core) and applied in the new thread.
#[derive(Clone, Copy, Debug)]
pub struct CorePin {
    want: Option<usize>,
    found: Option<core_affinity::CoreId>,
    cores: usize,
}

impl CorePin {
    /// Looks up core `want` (`core_affinity` id) among the cores this
    /// process may run on; `None`: do not pin.
    pub fn resolve(want: Option<usize>) -> CorePin {
        let ids = core_affinity::get_core_ids().unwrap_or_default();
        let found = want.and_then(|w| ids.iter().copied().find(|c| c.id == w));
        CorePin { want, found, cores: ids.len() }
    }

    /// Pins the calling thread; returns the core, or `None` with a warning
    /// on stderr when the core does not exist or pinning fails (the thread
    /// then runs unpinned).
    pub fn apply(&self, what: &str) -> Option<usize> {
        let want = self.want?;
        match self.found {
            Some(c) if core_affinity::set_for_current(c) => Some(c.id),
            Some(c) => {
                eprintln!("warning: {what}: pinning to core {} failed; running unpinned", c.id);
                None
            }
            None => {
                eprintln!("warning: {what}: core {want} does not exist ({} cores); running unpinned", self.cores);
                None
            }
        }
    }
}

/// Starts the matcher on its own thread, named and pinned as configured
/// (degrading to unpinned with a warning), running [`Matcher::run`]; the
/// handle gives the matcher back (engine, counters) when the run ends.
/// Stop it with [`Matcher::stop_flag`] or by dropping every input producer.
pub fn spawn<R>(matcher: Matcher<R>) -> io::Result<JoinHandle<Matcher<R>>>
where
    R: PreTradeCheck + Send + 'static,
{
    let pin = CorePin::resolve(matcher.cfg.core);
    spawn_pinned(matcher, pin)
}

/// As [`spawn`], with the core already resolved: for a caller that pins
/// its own thread first (after which it would see only its own core).
pub fn spawn_pinned<R>(mut matcher: Matcher<R>, pin: CorePin) -> io::Result<JoinHandle<Matcher<R>>>
where
    R: PreTradeCheck + Send + 'static,
{
    let name = matcher.cfg.name.clone();
    std::thread::Builder::new().name(name.clone()).spawn(move || {
        matcher.stats.pinned_core = pin.apply(&format!("matcher thread {name}"));
        matcher.run();
        matcher
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Permissive;
    use crate::engine::{AccountSpec, EngineConfig};
    use crate::event::{EventKind, NewOrder};
    use crate::market::{Level, Quote, Status};
    use crate::types::*;

    fn engine() -> Engine<Permissive> {
        let mut e = Engine::new(EngineConfig::default(), Permissive);
        e.add_instrument(Instrument::new("0.01", 1, VenueMode::Clob).unwrap());
        e.add_account(AccountSpec::default());
        e.add_account(AccountSpec::default());
        e
    }

    fn order(acct: u32, clid: u64, side: Side, px: i64, qty: i64) -> Input {
        Input::NewOrder(NewOrder {
            acct: AccountId(acct),
            clid: ClientOrderId(clid),
            sym: SymbolId(0),
            side,
            ord_type: OrdType::Limit,
            tif: Tif::Gtc,
            price: Price::from_ticks(px),
            stop_price: Price::NONE,
            qty: Qty::from_lots(qty),
            display: Qty::ZERO,
            expire: Nanos(0),
            post_only: false,
        })
    }

    fn cmd(t: u64, input: Input) -> Stamped {
        Stamped { ingress: Nanos(t), item: Inbound::Command(input) }
    }

    fn drain(rx: &mut Consumer<Outbound>) -> Vec<Outbound> {
        let mut v = Vec::new();
        rx.pop_batch(usize::MAX, |o| v.push(o));
        v
    }

    #[test]
    fn round_robin_takes_a_batch_from_each_ring_in_turn() {
        let (tx, mut rx) = optix_ring::ring(1024);
        let mut m = Matcher::new(engine(), tx, MatcherConfig { batch: 3, ..MatcherConfig::default() });
        let mut a = m.add_input(64);
        let mut b = m.add_input(64);
        for i in 0..7 {
            a.push(cmd(i, order(0, 100 + i, Side::Buy, 10, 1))).unwrap();
            b.push(cmd(i, order(1, 200 + i, Side::Sell, 20, 1))).unwrap();
        }
        let mut clids = Vec::new();
        let mut rounds = Vec::new();
        loop {
            let n = m.poll_once();
            if n == 0 {
                break;
            }
            rounds.push(n);
            clids.extend(drain(&mut rx).iter().filter_map(|o| match o.event.kind {
                EventKind::Accepted { order, .. } => Some(order.clid.0),
                _ => None,
            }));
        }
        assert_eq!(rounds, [6, 6, 2]);
        // Round 1 starts at a, round 2 at b, round 3 at a again.
        let want: Vec<u64> = [100, 101, 102, 200, 201, 202, 203, 204, 205, 103, 104, 105, 106, 206].to_vec();
        assert_eq!(clids, want);
        assert_eq!(m.stats().items, 14);
    }

    #[test]
    fn market_events_convert_and_unknown_symbols_are_counted() {
        let (tx, mut rx) = optix_ring::ring(64);
        let mut m = Matcher::new(engine(), tx, MatcherConfig::default());
        let mut feed = m.add_input(64);
        let q = Quote { ts: Nanos(5), sym: SymbolId(0), bid_px: 100_000, bid_qty: 1, ask_px: 100_100, ask_qty: 1 };
        let lvl = Level { ts: Nanos(5), sym: SymbolId(0), side: Side::Buy, price: 1, qty: 1 };
        let st = Status { ts: Nanos(6), sym: SymbolId(9), halted: true };
        for ev in [MarketEvent::Quote(q), MarketEvent::Level(lvl), MarketEvent::Status(st)] {
            feed.push(Stamped { ingress: ev.ts(), item: Inbound::Market(ev) }).unwrap();
        }
        // A new instrument mid-stream: id 1 is next; 5 is not.
        let ins = Instrument::new("0.0001", 1, VenueMode::Clob).unwrap();
        feed.push(Stamped { ingress: Nanos(7), item: Inbound::Instrument(SymbolId(5), ins) }).unwrap();
        feed.push(Stamped { ingress: Nanos(7), item: Inbound::Instrument(SymbolId(1), ins) }).unwrap();
        let st1 = Status { ts: Nanos(8), sym: SymbolId(1), halted: true };
        feed.push(Stamped { ingress: Nanos(8), item: Inbound::Market(MarketEvent::Status(st1)) }).unwrap();
        assert_eq!(m.poll_once(), 6);
        let s = m.stats();
        assert_eq!((s.market, s.market_skipped, s.unknown_symbol, s.inputs), (4, 1, 1, 2));
        assert_eq!((s.instruments_added, s.instruments_refused), (1, 1));
        // A quote emits nothing in a clob book; the halt of the known symbol
        // says so.
        let out = drain(&mut rx);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(matches!(out[0].event.kind, EventKind::TradingStatus { sym: SymbolId(1), halted: true }));
        assert_eq!(m.engine().now(), Nanos(8));
        assert!(m.engine().instrument(SymbolId(1)).is_some());
    }

    #[test]
    fn a_full_outbound_ring_drops_and_counts_under_drop_and_when_the_reader_is_gone() {
        for policy in [OutFull::Drop, OutFull::Backpressure] {
            let (tx, rx) = optix_ring::ring(2);
            let mut m = Matcher::new(engine(), tx, MatcherConfig { out_full: policy, ..MatcherConfig::default() });
            let mut feed = m.add_input(64);
            // Under backpressure only a reader that is gone lets the matcher drop.
            let _reader = (policy == OutFull::Drop).then_some(rx);
            for i in 0..4 {
                feed.push(cmd(i, order(0, i + 1, Side::Buy, 10, 1))).unwrap();
            }
            assert_eq!(m.poll_once(), 4);
            // Each order: accepted, then its level.
            let s = m.stats();
            assert_eq!((s.events, s.out_dropped), (2, 6), "{policy:?}");
        }
    }

    #[test]
    fn the_run_loop_ends_when_every_producer_is_gone() {
        let (tx, mut rx) = optix_ring::ring(1024);
        let mut m = Matcher::new(engine(), tx, MatcherConfig { idle_tick: None, ..MatcherConfig::default() });
        let mut a = m.add_input(8);
        let h = spawn(m).unwrap();
        let mut w = Waiter::new(WaitStrategy::YIELD);
        for i in 0..100 {
            a.push_blocking(cmd(i, order(0, i + 1, Side::Buy, 10, 1)), &mut w).unwrap();
        }
        drop(a);
        let m = h.join().unwrap();
        assert_eq!(m.stats().commands, 100);
        let out = drain(&mut rx);
        assert_eq!(out.len(), 200, "accepted and level per order");
        assert!(out.iter().enumerate().all(|(i, o)| o.number == i as u64 + 1));
        assert_eq!(m.stats().pinned_core, None);
    }

    #[test]
    fn clock_readings() {
        let c = Clock::new(Nanos(1_000));
        let a = c.now();
        assert!(a >= Nanos(1_000));
        assert!(c.now() >= a);
        assert_eq!(c.at(c.origin), Nanos(1_000));
        assert!(Clock::since_midnight_utc().now() < Nanos(86_400_000_000_000));
    }

    #[test]
    fn a_missing_core_degrades_to_unpinned() {
        assert_eq!(CorePin::resolve(Some(usize::MAX)).apply("test"), None);
        assert_eq!(CorePin::resolve(None).apply("test"), None);
    }
}
