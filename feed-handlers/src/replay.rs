//! Replay: an ITCH 5.0 file through the whole pipeline, with client orders
//! from a script getting paper fills against the replayed market.
//!
//! ```text
//!  feed thread (pinned)                       matcher thread (pinned)           calling thread
//!  file -> ItchBookBuilder -> ReplaySink --ring(Stamped)--> Matcher/Engine --ring(Outbound)--> reader
//!                  client orders merged by time ^                                     (counts, fills)
//! ```
//!
//! - The feed thread reads the file (plain or gzip) in 1 MiB chunks and
//!   builds the order-by-order book of every stock ([`ItchBookBuilder`]).
//!   Each stock directory becomes an [`Inbound::Instrument`] for the
//!   engine: tick 0.0001, lots of 1 share, in [`VenueMode::Paper`]; the
//!   builder's symbol ids are the engine's. Quotes, prints and trading
//!   status go into the ring as [`Inbound::Market`] (in feed units; the
//!   matcher converts them). Depth updates stay on the feed thread unless
//!   [`ReplayConfig::forward_levels`] asks for them: the engine does not
//!   use depth, and they are most of the events.
//! - Client orders ([`ClientOrders`], a scenario-style script with `at`
//!   times) are merged into the same ring by time on the feed thread: the
//!   orders of time `T` go in after every market event stamped `T` or
//!   earlier and before the first one stamped later (those left at the
//!   end of the file go in last). The order relative to market data is
//!   therefore fixed by the file and the script alone, and the events of a
//!   replay are the same on every run. A script's symbols are resolved to
//!   the file's by name when the order is injected; a symbol whose
//!   directory has not been seen by then is unknown to the engine, which
//!   rejects the order (`unknown_symbol`).
//! - Every input is stamped with its own time (the message's timestamp,
//!   the order's `at`), so the engine's clock is the file's; the matcher
//!   injects no idle ticks.
//! - The calling thread reads the outbound ring: it counts events by kind
//!   and keeps the client fills (and, if asked, every event).
//!
//! Elapsed time runs from the feed thread's first read (after the book's
//! preallocation) to the last event read; [`ReplayReport::setup_secs`] is
//! the time before that.
//!
//! Limits: one feed thread; one ring. Without paper mode in the engine the
//! instruments behave as their venue mode does there.

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use optix_engine::market::MarketEvent;
use optix_engine::runtime::{self, Inbound, Matcher, MatcherConfig, MatcherStats, OutFull, Outbound, Stamped};
use optix_engine::scenario::{Parser, ScriptError, Step};
use optix_engine::*;
use optix_ring::{Producer, WaitStrategy, Waiter};

use crate::book::{BookConfig, ItchBookBuilder};
use crate::itch::Stock;
use crate::market::MarketSink;
use crate::thread::{
    open_itch_bytes, open_itch_file, push_blocking, run_itch, FeedError, FeedReport, Pacer, Pacing, PushWait,
    PUSH_BATCH,
};

/// A symbol id no instrument has: orders for unresolved symbols carry it.
pub const UNRESOLVED: SymbolId = SymbolId(u32::MAX);

/// The instrument every replayed stock gets: tick 0.0001 (ITCH's own
/// price unit, so conversion is exact), lots of one share, paper mode.
pub fn replay_instrument() -> Instrument {
    Instrument { decimals: 4, tick_units: 1, lot_size: 1, mode: VenueMode::Paper, ref_price: Price::NONE }
}

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The ITCH source could not be opened, read or decoded.
    #[error("{0}")]
    Feed(#[from] FeedError),
    /// The orders script does not parse.
    #[error("orders script: {0}")]
    Script(#[from] ScriptError),
    /// The orders script parses but cannot be replayed.
    #[error("orders script: {0}")]
    Orders(String),
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(#[from] std::io::Error),
    /// A pipeline thread panicked.
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
}

/// Client orders for a replay, from a scenario-style script: `instrument`
/// lines name the stocks of the file the script trades (each must be
/// `tick=0.0001 lot=1`, the replay's instruments; the mode is always
/// paper), `account` lines declare the accounts, `at HH:MM:SS.fff` sets
/// the time (nanoseconds since midnight, as ITCH timestamps) of the
/// commands that follow.
#[derive(Debug, Default)]
pub struct ClientOrders {
    parser: Parser,
    /// Script symbol index -> stock name.
    symbols: Vec<Stock>,
    accounts: Vec<AccountSpec>,
    /// Commands with their times, in time order (script order within a time).
    commands: Vec<(Nanos, Input)>,
    /// Orders rejected at the edge (numbers not representable).
    edge_rejects: Vec<(Nanos, Event)>,
}

impl ClientOrders {
    /// Parses a script; see the type's docs for what it may contain.
    pub fn parse(text: &str) -> Result<ClientOrders, ReplayError> {
        let mut parser = Parser::new();
        let steps = parser.parse_all(text)?;
        let mut c = ClientOrders::default();
        let want = replay_instrument();
        for s in steps {
            match s.step {
                Step::Instrument(i) => {
                    let k = c.symbols.len() as u32;
                    let name = parser.symbol_name(SymbolId(k)).to_string();
                    if (i.decimals, i.tick_units, i.lot_size) != (want.decimals, want.tick_units, want.lot_size) {
                        return Err(ReplayError::Orders(format!(
                            "instrument {name}: a replay trades in ticks of 0.0001 and lots of 1 share \
                             (declare `instrument {name} tick=0.0001`)"
                        )));
                    }
                    let stock = Stock::new(&name)
                        .ok_or_else(|| ReplayError::Orders(format!("'{name}' is not an ITCH stock symbol")))?;
                    c.symbols.push(stock);
                }
                Step::Account(a) => c.accounts.push(a),
                Step::Input(input) => c.commands.push((s.time, input)),
                Step::EdgeReject { order, cmd, reason } => c.edge_rejects.push((
                    s.time,
                    Event { seq: Seq(0), time: s.time, kind: EventKind::Rejected { order, cmd, reason } },
                )),
                // Printing steps (book, position, statement) and risk
                // configuration have no place in a replay's order flow.
                other => {
                    let what = format!("{other:?}");
                    let what = what.split([' ', '(', '{']).next().unwrap_or("").to_lowercase();
                    return Err(ReplayError::Orders(format!(
                        "line with `{what}` is not available in a replay (only instrument, account, at and commands)"
                    )));
                }
            }
        }
        c.commands.sort_by_key(|&(t, _)| t);
        c.parser = parser;
        Ok(c)
    }

    /// The accounts to create, in id order.
    pub fn accounts(&self) -> &[AccountSpec] {
        &self.accounts
    }

    /// The commands with their times.
    pub fn commands(&self) -> &[(Nanos, Input)] {
        &self.commands
    }

    /// Orders rejected at the edge (they never reach the engine).
    pub fn edge_rejects(&self) -> &[(Nanos, Event)] {
        &self.edge_rejects
    }

    /// The script's parser, for names in output ([`Parser::render`]).
    /// Symbol ids in events are the file's, not the script's: use
    /// [`ReplayReport::symbol_name`] for those.
    pub fn parser(&self) -> &Parser {
        &self.parser
    }
}

/// Where the ITCH data comes from.
#[derive(Clone, Debug)]
pub enum ReplaySource {
    /// A framed ITCH 5.0 file, plain or gzip.
    File(PathBuf),
    /// A framed ITCH 5.0 stream in memory, plain or gzip.
    Bytes(Vec<u8>),
}

/// How a replay runs.
#[derive(Debug)]
pub struct ReplayConfig {
    /// The ITCH data.
    pub source: ReplaySource,
    /// The book builder's preallocation.
    pub book: BookConfig,
    /// Client orders, if any.
    pub orders: Option<ClientOrders>,
    /// Only this stock's market data reaches the matcher.
    pub symbol: Option<Stock>,
    /// Pacing of the feed thread.
    pub pacing: Pacing,
    /// Forward depth (level) updates to the matcher too.
    pub forward_levels: bool,
    /// Core of the feed thread.
    pub feed_core: Option<usize>,
    /// Core of the matcher thread.
    pub matcher_core: Option<usize>,
    /// Wait strategy of the feed and matcher threads.
    pub wait: WaitStrategy,
    /// Slots of each ring.
    pub ring_capacity: usize,
    /// Keep every outbound event in the report (tests, small files).
    pub keep_events: bool,
}

impl ReplayConfig {
    /// A replay of `source` with the defaults: the default book, no orders,
    /// every symbol, as fast as possible, no levels, feed on core 0 and
    /// matcher on core 1, the parking wait strategy, 64 Ki-slot rings.
    pub fn new(source: ReplaySource) -> ReplayConfig {
        ReplayConfig {
            source,
            book: BookConfig::default(),
            orders: None,
            symbol: None,
            pacing: Pacing::AsFastAsPossible,
            forward_levels: false,
            feed_core: Some(0),
            matcher_core: Some(1),
            wait: WaitStrategy::default(),
            ring_capacity: 1 << 16,
            keep_events: false,
        }
    }
}

/// Progress of a running replay, for a display.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// Bytes of the source read so far (compressed bytes for gzip).
    pub bytes_read: u64,
    /// Events read from the outbound ring so far.
    pub events: u64,
}

/// What the outbound reader counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// `accepted`.
    pub accepted: u64,
    /// `rejected`.
    pub rejected: u64,
    /// `trade` (engine trades: client fills against the external market).
    pub trades: u64,
    /// `fill`.
    pub fills: u64,
    /// Lots filled over all fills.
    pub filled_lots: i64,
    /// `cancelled`.
    pub cancelled: u64,
    /// `replaced`.
    pub replaced: u64,
    /// `triggered`.
    pub triggered: u64,
    /// `expired`.
    pub expired: u64,
    /// `level`.
    pub levels: u64,
    /// `status` (halts and resumes).
    pub statuses: u64,
    /// Every event.
    pub total: u64,
    /// Gaps in the event numbers (events the matcher dropped).
    pub missing: u64,
}

impl EventCounts {
    fn add(&mut self, o: &Outbound) {
        self.total += 1;
        self.missing += o.number - self.total - self.missing;
        match o.event.kind {
            EventKind::Accepted { .. } => self.accepted += 1,
            EventKind::Rejected { .. } => self.rejected += 1,
            EventKind::Traded { .. } => self.trades += 1,
            EventKind::Filled { qty, .. } => {
                self.fills += 1;
                self.filled_lots += qty.lots();
            }
            EventKind::Cancelled { .. } => self.cancelled += 1,
            EventKind::Replaced { .. } => self.replaced += 1,
            EventKind::Triggered { .. } => self.triggered += 1,
            EventKind::Expired { .. } => self.expired += 1,
            EventKind::LevelChanged { .. } => self.levels += 1,
            EventKind::TradingStatus { .. } => self.statuses += 1,
        }
    }
}

/// The results of a replay.
pub struct ReplayReport {
    /// The client orders (their script's names: [`ClientOrders::parser`]).
    pub orders: Arc<ClientOrders>,
    /// What the feed thread did; `book` holds the final external book.
    pub feed: FeedReport,
    /// What the matcher did.
    pub matcher: MatcherStats,
    /// The engine after the replay.
    pub engine: Engine<Permissive>,
    /// Outbound events by kind.
    pub counts: EventCounts,
    /// Client fills, in order.
    pub fills: Vec<Event>,
    /// Every outbound event, if [`ReplayConfig::keep_events`].
    pub events: Vec<Outbound>,
    /// Items the feed thread pushed into the matcher's ring.
    pub pushed: u64,
    /// Client commands injected.
    pub orders_injected: u64,
    /// Orders rejected at the edge of the script (never reached the engine).
    pub edge_rejects: u64,
    /// Depth updates kept on the feed thread.
    pub levels_kept_back: u64,
    /// Market events left out by the symbol filter.
    pub filtered: u64,
    /// Prints per symbol id (the file's).
    pub trades_by_symbol: Vec<u64>,
    /// Seconds from the start to the first read of the source.
    pub setup_secs: f64,
    /// Seconds from the first read to the last event read.
    pub seconds: f64,
}

impl ReplayReport {
    /// ITCH messages read.
    pub fn messages(&self) -> u64 {
        self.feed.messages
    }

    /// Messages per second over [`ReplayReport::seconds`].
    pub fn messages_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.feed.messages as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The final external book.
    pub fn book(&self) -> Option<&ItchBookBuilder> {
        self.feed.book.as_deref()
    }

    /// The stock name of a symbol id of the file.
    pub fn symbol_name(&self, sym: SymbolId) -> Option<Stock> {
        self.book().and_then(|b| b.symbol_name(sym))
    }

    /// The `n` symbols with the most prints, most first (ties by id).
    pub fn most_active(&self, n: usize) -> Vec<(SymbolId, u64)> {
        let mut v: Vec<(SymbolId, u64)> =
            self.trades_by_symbol.iter().enumerate().map(|(i, &t)| (SymbolId(i as u32), t)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// The feed thread's sink: merges client orders, filters, batches and
/// pushes into the matcher's ring; see the [module docs](self).
struct ReplaySink<'a> {
    producer: &'a mut Producer<Stamped>,
    waiter: Waiter,
    stop: &'a AtomicBool,
    halt: &'a Cell<bool>,
    pacer: Pacer,
    batch: [Stamped; PUSH_BATCH],
    batched: usize,
    /// Client commands (script symbol ids) and the next one to inject.
    orders: &'a [(Nanos, Input)],
    next_order: usize,
    /// Time of the next order; `u64::MAX` when none is left.
    next_due: u64,
    /// Script symbol index -> name, and -> the file's id once seen.
    script_symbols: &'a [Stock],
    resolved: Vec<SymbolId>,
    filter_name: Option<Stock>,
    /// The filter's id once seen; [`UNRESOLVED`] before.
    filter: Option<SymbolId>,
    forward_levels: bool,
    last_ts: Nanos,
    trades_by_symbol: Vec<u64>,
    pushed: u64,
    orders_injected: u64,
    levels_kept_back: u64,
    filtered: u64,
    full_waits: u64,
    paced_waits: u64,
}

const PLACEHOLDER: Stamped = Stamped { ingress: Nanos(0), item: Inbound::Command(Input::Tick) };

impl ReplaySink<'_> {
    /// Pushes one item: batched when unpaced, at its time when paced.
    #[inline(always)]
    fn push(&mut self, item: Stamped) {
        if !self.pacer.is_paced() {
            self.batch[self.batched] = item;
            self.batched += 1;
            if self.batched == PUSH_BATCH {
                self.flush();
            }
            return;
        }
        match self.pacer.pace(item.ingress.0, self.stop) {
            None => self.halt.set(true),
            Some(waited) => {
                self.paced_waits += u64::from(waited);
                self.batch[0] = item;
                self.batched = 1;
                self.flush();
            }
        }
    }

    /// Pushes the gathered batch, waiting while the ring is full; halts
    /// the run if the stop flag rises or the matcher is gone.
    fn flush(&mut self) {
        let items = self.batch[..self.batched].iter().copied();
        self.batched = 0;
        // Relaxed: a standalone flag; nothing else is published with it.
        if self.stop.load(Ordering::Relaxed) {
            self.halt.set(true);
        }
        let mut w = PushWait { waiter: &mut self.waiter, stop: self.stop, halt: self.halt, full_waits: 0 };
        self.pushed += push_blocking(self.producer, items, &mut w);
        self.full_waits += w.full_waits;
    }

    /// Injects the client orders due before a market event stamped `ts`
    /// (all of them for `u64::MAX`).
    #[cold]
    #[inline(never)]
    fn inject_due(&mut self, ts: u64) {
        while let Some(&(t, input)) = self.orders.get(self.next_order) {
            if t.0 >= ts {
                break;
            }
            self.next_order += 1;
            self.orders_injected += 1;
            let input = with_symbol(input, |s| self.resolved.get(s.0 as usize).copied().unwrap_or(UNRESOLVED));
            self.push(Stamped { ingress: t, item: Inbound::Command(input) });
        }
        self.next_due = self.orders.get(self.next_order).map_or(u64::MAX, |&(t, _)| t.0);
    }
}

impl MarketSink for ReplaySink<'_> {
    #[inline(always)]
    fn emit(&mut self, ev: MarketEvent) {
        if self.halt.get() {
            return;
        }
        let ts = ev.ts();
        self.last_ts = ts;
        if ts.0 > self.next_due {
            self.inject_due(ts.0);
        }
        match ev {
            MarketEvent::Level(_) if !self.forward_levels => {
                self.levels_kept_back += 1;
                return;
            }
            MarketEvent::Trade(t) => {
                if let Some(n) = self.trades_by_symbol.get_mut(t.sym.0 as usize) {
                    *n += 1;
                }
            }
            _ => {}
        }
        if self.filter.is_some_and(|f| f != ev.sym()) {
            self.filtered += 1;
            return;
        }
        self.push(Stamped { ingress: ts, item: Inbound::Market(ev) });
    }

    #[cold]
    fn on_symbol(&mut self, sym: SymbolId, name: Stock) {
        if self.trades_by_symbol.len() <= sym.0 as usize {
            self.trades_by_symbol.resize(sym.0 as usize + 1, 0);
        }
        for (k, s) in self.script_symbols.iter().enumerate() {
            if *s == name && self.resolved[k] == UNRESOLVED {
                self.resolved[k] = sym;
            }
        }
        if self.filter_name == Some(name) && self.filter == Some(UNRESOLVED) {
            self.filter = Some(sym);
        }
        self.push(Stamped { ingress: self.last_ts, item: Inbound::Instrument(sym, replay_instrument()) });
    }
}

/// `input` with its symbol id (if it has one) mapped by `f`.
pub fn with_symbol(input: Input, f: impl Fn(SymbolId) -> SymbolId) -> Input {
    match input {
        Input::NewOrder(mut o) => {
            o.sym = f(o.sym);
            Input::NewOrder(o)
        }
        Input::MassCancel(mut m) => {
            m.sym = m.sym.map(&f);
            Input::MassCancel(m)
        }
        Input::Halt(s) => Input::Halt(f(s)),
        Input::Resume(s) => Input::Resume(f(s)),
        Input::Auction(s, k) => Input::Auction(f(s), k),
        Input::TradePrint(mut p) => {
            p.sym = f(p.sym);
            Input::TradePrint(p)
        }
        Input::Quote(mut q) => {
            q.sym = f(q.sym);
            Input::Quote(q)
        }
        // Commands that name no symbol (cancel, replace, kill, ...).
        other => other,
    }
}

/// What the feed thread hands back.
struct FeedSide {
    report: FeedReport,
    started: Instant,
    pushed: u64,
    orders_injected: u64,
    levels_kept_back: u64,
    filtered: u64,
    trades_by_symbol: Vec<u64>,
}

/// Runs a replay (see the [module docs](self)); `progress` is called on
/// the calling thread about every 100 ms.
pub fn run_replay(cfg: ReplayConfig, mut progress: impl FnMut(&Progress)) -> Result<ReplayReport, ReplayError> {
    let t0 = Instant::now();
    let orders = cfg.orders.unwrap_or_default();
    let mut engine =
        Engine::new(EngineConfig { order_capacity: 1024, levels_per_side: 4, positions_per_account: 0 }, Permissive);
    for a in orders.accounts() {
        engine.add_account(*a);
    }
    let (out_tx, mut out_rx) = optix_ring::ring::<Outbound>(cfg.ring_capacity);
    let mcfg = MatcherConfig {
        name: "optix-matcher".into(),
        core: cfg.matcher_core,
        wait: cfg.wait,
        idle_tick: None,
        batch: runtime::DEFAULT_BATCH,
        out_full: OutFull::Backpressure,
    };
    let mut matcher = Matcher::new(engine, out_tx, mcfg);
    let mut feed_tx = matcher.add_input(cfg.ring_capacity);
    let stop = matcher.stop_flag();
    let matcher = runtime::spawn(matcher)?;

    let bytes_read = Arc::new(AtomicU64::new(0));
    let feed = {
        let (feed_stop, bytes_read) = (Arc::clone(&stop), Arc::clone(&bytes_read));
        let pin = runtime::CorePin::resolve(cfg.feed_core);
        let (source, book, pacing, wait) = (cfg.source, cfg.book, cfg.pacing, cfg.wait);
        let (filter_name, forward_levels) = (cfg.symbol, cfg.forward_levels);
        let orders = Arc::new(orders);
        let feed_orders = Arc::clone(&orders);
        let handle = std::thread::Builder::new().name("optix-feed".into()).spawn(move || {
            let pinned = pin.apply("feed thread optix-feed");
            let stop = feed_stop;
            let orders = &*feed_orders;
            let halt = Cell::new(false);
            let mut sink = ReplaySink {
                producer: &mut feed_tx,
                waiter: Waiter::new(wait),
                stop: &stop,
                halt: &halt,
                pacer: Pacer::new(pacing),
                batch: [PLACEHOLDER; PUSH_BATCH],
                batched: 0,
                orders: orders.commands(),
                next_order: 0,
                next_due: orders.commands().first().map_or(u64::MAX, |&(t, _)| t.0),
                script_symbols: &orders.symbols,
                resolved: vec![UNRESOLVED; orders.symbols.len()],
                filter_name,
                filter: filter_name.map(|_| UNRESOLVED),
                forward_levels,
                last_ts: Nanos(0),
                trades_by_symbol: Vec::with_capacity(book.max_symbols),
                pushed: 0,
                orders_injected: 0,
                levels_kept_back: 0,
                filtered: 0,
                full_waits: 0,
                paced_waits: 0,
            };
            let mut report = FeedReport { pinned_core: pinned, ..FeedReport::default() };
            // The book's preallocation (and its first touch) is set-up.
            let builder = Box::new(ItchBookBuilder::new(book));
            let started = Instant::now();
            let result = match source {
                ReplaySource::File(path) => open_itch_file(&path, &stop, &halt, Some(&bytes_read))
                    .map_err(Into::into)
                    .and_then(|src| run_itch(src, builder, &mut sink, &halt, &mut report)),
                ReplaySource::Bytes(bytes) => open_itch_bytes(bytes, &stop, &halt, Some(&bytes_read))
                    .map_err(Into::into)
                    .and_then(|src| run_itch(src, builder, &mut sink, &halt, &mut report)),
            };
            // Orders after the last message go in at the end.
            sink.inject_due(u64::MAX);
            sink.flush();
            report.events = sink.pushed;
            report.full_waits = sink.full_waits;
            report.paced_waits = sink.paced_waits;
            report.stopped = halt.get();
            report.elapsed = started.elapsed();
            let side = FeedSide {
                report,
                started,
                pushed: sink.pushed,
                orders_injected: sink.orders_injected,
                levels_kept_back: sink.levels_kept_back,
                filtered: sink.filtered,
                trades_by_symbol: std::mem::take(&mut sink.trades_by_symbol),
            };
            // Dropping the producer (it lives in this closure) tells the
            // matcher the input is over.
            drop(feed_tx);
            result.map(|()| side)
        });
        match handle {
            Ok(h) => (h, orders),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                return Err(e.into());
            }
        }
    };
    let (feed, orders) = feed;

    // The reader: this thread.
    let mut counts = EventCounts::default();
    let mut fills = Vec::new();
    let mut events = Vec::new();
    let keep = cfg.keep_events;
    // The reader has little to do: it parks long, so its wake-ups steal
    // little from the two pipeline threads (on a 2-core machine it shares
    // their cores).
    let mut waiter = Waiter::new(WaitStrategy::SpinYieldPark {
        spins: 16,
        yields: 2,
        min_park: Duration::from_micros(100),
        max_park: Duration::from_millis(2),
    });
    let mut last_progress = Instant::now();
    let mut read = |o: Outbound, counts: &mut EventCounts| {
        counts.add(&o);
        if matches!(o.event.kind, EventKind::Filled { .. }) {
            fills.push(o.event);
        }
        if keep {
            events.push(o);
        }
    };
    let matcher = loop {
        if out_rx.pop_batch(1024, |o| read(o, &mut counts)) > 0 {
            waiter.reset();
        } else if matcher.is_finished() {
            let m = matcher.join().map_err(|_| ReplayError::Panicked("matcher"))?;
            // Joined: everything it pushed is visible now.
            while out_rx.pop_batch(1024, |o| read(o, &mut counts)) > 0 {}
            break m;
        } else {
            waiter.wait();
        }
        if last_progress.elapsed() >= Duration::from_millis(100) {
            last_progress = Instant::now();
            // Relaxed: a statistic for display.
            progress(&Progress { bytes_read: bytes_read.load(Ordering::Relaxed), events: counts.total });
        }
    };
    let end = Instant::now();
    let side = feed.join().map_err(|_| ReplayError::Panicked("feed"))??;
    let (engine, mstats) = matcher.into_engine();
    Ok(ReplayReport {
        setup_secs: side.started.duration_since(t0).as_secs_f64(),
        seconds: end.duration_since(side.started).as_secs_f64(),
        feed: side.report,
        matcher: mstats,
        engine,
        counts,
        fills,
        events,
        pushed: side.pushed,
        orders_injected: side.orders_injected,
        edge_rejects: orders.edge_rejects().len() as u64,
        orders,
        levels_kept_back: side.levels_kept_back,
        filtered: side.filtered,
        trades_by_symbol: side.trades_by_symbol,
    })
}
