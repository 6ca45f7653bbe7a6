//! `optix bench pipeline`: latency through the whole in-process pipeline,
//! feed thread -> ring -> matcher thread (`engine::runtime`) -> outbound
//! ring -> back, on two pinned threads (so two cores suffice).
//!
//! **Tick-to-trade** (the default): the feed thread (this thread) keeps one
//! resting client buy order in a paper instrument (tick 0.0001, lots of 1
//! share, as `optix replay` makes them) and then, per sample:
//! 1. pushes a [`MarketEvent::Quote`] whose ask comes down to the order's
//!    limit, stamped with the clock, and notes the time `t0`;
//! 2. the matcher takes it off the ring, converts it, and the engine fills
//!    the resting order (paper mode: at its limit, from the quote's size);
//! 3. the feed thread reads the order's `fill` off the outbound ring at
//!    `t1`; the sample is `t1 - t0`.
//!
//! Between samples (not timed) the quote moves away and a new order is
//! placed and acknowledged, so each sample starts from a quiet pipeline
//! with one resting order. With `--venue clob` the "market event" is a
//! crossing client order of another account in a `clob` instrument
//! instead (the engine's own matching).
//!
//! **Open loop** (`--rate R[,R..]`): per rate, a fresh engine and matcher
//! get exchange-core's order flow (see `engine_bench::exchange_core`; the
//! book's seeding and a 10% warm-up go in first, untimed). Command `i` has
//! the intended time `start + i / R`; the producer (this thread) pushes it
//! no earlier than that, stamped with the *intended* time, and reads the
//! outbound ring while it waits. A command's latency runs from its intended
//! time to the moment its first event is read back, so a stall anywhere
//! (matcher, ring full, the producer itself running late) counts for every
//! command it delays: no coordinated omission.
//!
//! Both report HdrHistogram percentiles (1 ns to 60 s, 3 significant
//! digits). The threads: this one pinned to `feed_core`, the matcher to
//! `matcher_core` (warnings and unpinned where a core does not exist), both
//! waiting with the chosen strategy. Busy-spin needs a core per thread;
//! `park` (the default) is the one for a shared 2-core machine.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use optix_engine::market::{MarketEvent, Quote};
use optix_engine::runtime::{self, Clock, CorePin, Inbound, Matcher, MatcherConfig, OutFull, Outbound, Stamped};
use optix_engine::*;
use optix_ring::{Consumer, Producer, WaitStrategy, Waiter};
use serde::Serialize;

use crate::engine_bench::{build, exchange_core, standard_risk, CheckChoice};

/// Which engine path the tick-to-trade event takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Venue {
    /// A quote in feed units fills a resting order in a paper instrument.
    #[default]
    Paper,
    /// A crossing client order fills a resting order in a clob instrument.
    Clob,
}

impl Venue {
    /// `paper` / `clob`.
    pub const fn name(self) -> &'static str {
        match self {
            Venue::Paper => "paper",
            Venue::Clob => "clob",
        }
    }
}

impl std::str::FromStr for Venue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "paper" => Ok(Venue::Paper),
            "clob" => Ok(Venue::Clob),
            _ => Err(format!("unknown venue '{s}' (want paper or clob)")),
        }
    }
}

/// Options.
#[derive(Clone, Debug)]
pub struct Opts {
    /// Tick-to-trade samples measured.
    pub events: u64,
    /// Samples run first, not measured.
    pub warmup: u64,
    /// Wait strategy of both threads.
    pub wait: WaitStrategy,
    /// Tick-to-trade path.
    pub venue: Venue,
    /// Core of the feed / producer thread (this thread).
    pub feed_core: Option<usize>,
    /// Core of the matcher thread.
    pub matcher_core: Option<usize>,
    /// Open loop at these rates (commands per second) instead of tick-to-trade.
    pub rates: Vec<u64>,
    /// Commands measured per rate.
    pub commands: u64,
    /// Seed of the order flow.
    pub seed: u64,
    /// The pre-trade check of the open loop.
    pub check: CheckChoice,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            events: 100_000,
            warmup: 10_000,
            wait: WaitStrategy::default(),
            venue: Venue::Paper,
            feed_core: Some(0),
            matcher_core: Some(1),
            rates: Vec::new(),
            commands: 1_000_000,
            seed: 42,
            check: CheckChoice::Standard,
        }
    }
}

/// The rates exchange-core publishes its latency table at.
pub const TABLE_RATES: [u64; 5] = [125_000, 250_000, 500_000, 1_000_000, 2_000_000];

/// Why the benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A thread could not start.
    #[error("pipeline bench: {0}")]
    Io(#[from] io::Error),
    /// A histogram error.
    #[error("pipeline bench: histogram: {0}")]
    Histogram(String),
    /// The pipeline did not answer as expected.
    #[error("pipeline bench: {0}")]
    Pipeline(String),
}

/// Latency percentiles of one run. Field names are the `--json` keys.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    /// Samples.
    pub events: u64,
    /// Median, ns.
    pub p50_ns: u64,
    /// 90th percentile, ns.
    pub p90_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// 99.9th percentile, ns.
    pub p999_ns: u64,
    /// 99.99th percentile, ns.
    pub p9999_ns: u64,
    /// Largest, ns.
    pub max_ns: u64,
    /// Mean, ns.
    pub mean_ns: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            events: h.len(),
            p50_ns: h.value_at_quantile(0.50),
            p90_ns: h.value_at_quantile(0.90),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            p9999_ns: h.value_at_quantile(0.9999),
            max_ns: h.max(),
            mean_ns: h.mean(),
        }
    }
}

/// Tick-to-trade results.
#[derive(Clone, Debug, Serialize)]
pub struct TickToTrade {
    /// The percentiles (`events`, `p50_ns`, ... at the top level of the JSON).
    #[serde(flatten)]
    pub latency: Latency,
    /// Wait strategy of both threads.
    pub wait_strategy: &'static str,
    /// `paper` or `clob`.
    pub venue: &'static str,
    /// Core of the feed thread, if pinned.
    pub feed_core: Option<usize>,
    /// Core of the matcher thread, if pinned.
    pub matcher_core: Option<usize>,
}

/// One rate of the open loop.
#[derive(Clone, Debug, Serialize)]
pub struct RateRow {
    /// Offered commands per second.
    pub rate: u64,
    /// Commands per second actually pushed (behind schedule: lower).
    pub achieved: f64,
    /// The percentiles.
    #[serde(flatten)]
    pub latency: Latency,
}

/// Open-loop results.
#[derive(Clone, Debug, Serialize)]
pub struct OpenLoop {
    /// Wait strategy of both threads.
    pub wait_strategy: &'static str,
    /// The pre-trade check.
    pub check: &'static str,
    /// One row per rate.
    pub rates: Vec<RateRow>,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub enum Report {
    /// Tick-to-trade.
    TickToTrade(TickToTrade),
    /// Open loop.
    OpenLoop(OpenLoop),
}

impl Report {
    /// One JSON object.
    pub fn to_json(&self) -> String {
        match self {
            Report::TickToTrade(t) => serde_json::to_string(t),
            Report::OpenLoop(o) => serde_json::to_string(o),
        }
        .unwrap_or_default()
    }

    /// A human-readable table.
    pub fn print_table(&self, w: &mut dyn Write) -> io::Result<()> {
        let us = |ns: u64| ns as f64 / 1_000.0;
        match self {
            Report::TickToTrade(t) => {
                let l = &t.latency;
                writeln!(
                    w,
                    "optix bench pipeline: tick-to-trade ({} venue, wait {}, feed core {:?}, matcher core {:?})",
                    t.venue, t.wait_strategy, t.feed_core, t.matcher_core
                )?;
                writeln!(w, "  samples  {}", l.events)?;
                writeln!(
                    w,
                    "  latency  p50 {:.2} us  p90 {:.2} us  p99 {:.2} us  p99.9 {:.2} us  p99.99 {:.2} us  max {:.2} us  (mean {:.2} us)",
                    us(l.p50_ns),
                    us(l.p90_ns),
                    us(l.p99_ns),
                    us(l.p999_ns),
                    us(l.p9999_ns),
                    us(l.max_ns),
                    l.mean_ns / 1_000.0
                )
            }
            Report::OpenLoop(o) => {
                writeln!(
                    w,
                    "optix bench pipeline: open loop, exchange-core flow (wait {}, check {}); latency from intended time to first event, us",
                    o.wait_strategy, o.check
                )?;
                writeln!(
                    w,
                    "{:>10} {:>12} {:>10} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10}",
                    "rate", "achieved", "commands", "p50", "p90", "p99", "p99.9", "p99.99", "max"
                )?;
                for r in &o.rates {
                    let l = &r.latency;
                    writeln!(
                        w,
                        "{:>10} {:>12.0} {:>10} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>10.2} {:>10.2}",
                        r.rate,
                        r.achieved,
                        l.events,
                        us(l.p50_ns),
                        us(l.p90_ns),
                        us(l.p99_ns),
                        us(l.p999_ns),
                        us(l.p9999_ns),
                        us(l.max_ns)
                    )?;
                }
                Ok(())
            }
        }
    }
}

fn histogram() -> Result<Histogram<u64>, PipelineError> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| PipelineError::Histogram(e.to_string()))
}

/// Runs the benchmark the options ask for.
pub fn run(opts: &Opts) -> Result<Report, PipelineError> {
    if opts.rates.is_empty() {
        tick_to_trade(opts).map(Report::TickToTrade)
    } else {
        open_loop(opts).map(Report::OpenLoop)
    }
}

/// The matcher of a run, spawned, with this thread's ends of its rings.
struct Pipeline<R: PreTradeCheck> {
    tx: Producer<Stamped>,
    rx: Consumer<Outbound>,
    handle: std::thread::JoinHandle<Matcher<R>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    clock: Clock,
}

fn start<R: PreTradeCheck + Send + 'static>(
    engine: Engine<R>,
    opts: &Opts,
    pin: CorePin,
) -> Result<Pipeline<R>, PipelineError> {
    let (out_tx, rx) = optix_ring::ring(1 << 16);
    let cfg = MatcherConfig {
        name: "optix-matcher".into(),
        core: opts.matcher_core,
        wait: opts.wait,
        idle_tick: None,
        batch: runtime::DEFAULT_BATCH,
        out_full: OutFull::Backpressure,
    };
    let mut m = Matcher::with_clock(engine, out_tx, cfg, Clock::new(Nanos(0)));
    let tx = m.add_input(1 << 16);
    let (stop, clock) = (m.stop_flag(), m.clock());
    let handle = runtime::spawn_pinned(m, pin)?;
    Ok(Pipeline { tx, rx, handle, stop, clock })
}

impl<R: PreTradeCheck> Pipeline<R> {
    fn finish(self) -> Result<Matcher<R>, PipelineError> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        drop(self.tx);
        self.handle.join().map_err(|_| PipelineError::Pipeline("the matcher thread panicked".into()))
    }
}

/// Feed prices of the tick-to-trade book (0.0001 units): the order's limit
/// and the quote around it.
const LIMIT: i64 = 1_000_000;
const BID: i64 = 999_900;
const ASK_AWAY: i64 = 1_000_500;

fn quote(ask: i64) -> MarketEvent {
    MarketEvent::Quote(Quote { ts: Nanos(0), sym: SymbolId(0), bid_px: BID, bid_qty: 100, ask_px: ask, ask_qty: 100 })
}

fn order(acct: u32, clid: u64, side: Side, tif: Tif) -> Input {
    Input::NewOrder(NewOrder {
        acct: AccountId(acct),
        clid: ClientOrderId(clid),
        sym: SymbolId(0),
        side,
        ord_type: OrdType::Limit,
        tif,
        price: Price::from_ticks(LIMIT),
        stop_price: Price::NONE,
        qty: Qty::from_lots(1),
        display: Qty::ZERO,
        expire: Nanos(0),
        post_only: false,
    })
}

/// Pushes one item, waiting while the ring is full.
fn push(tx: &mut Producer<Stamped>, item: Stamped, waiter: &mut Waiter) -> Result<(), PipelineError> {
    tx.push_blocking(item, waiter).map_err(|_| PipelineError::Pipeline("the matcher went away".into()))
}

/// Reads events until `done` says so (or `deadline` passes).
fn read_until(
    rx: &mut Consumer<Outbound>,
    waiter: &mut Waiter,
    deadline: Duration,
    mut done: impl FnMut(&Outbound) -> bool,
) -> Result<Instant, PipelineError> {
    let t = Instant::now();
    loop {
        while let Some(o) = rx.pop() {
            if done(&o) {
                waiter.reset();
                return Ok(Instant::now());
            }
        }
        if t.elapsed() > deadline {
            return Err(PipelineError::Pipeline("no answer from the matcher within the deadline".into()));
        }
        waiter.wait();
    }
}

fn tick_to_trade(opts: &Opts) -> Result<TickToTrade, PipelineError> {
    // Both cores are looked up before this thread pins itself.
    let pin = CorePin::resolve(opts.feed_core);
    let matcher_pin = CorePin::resolve(opts.matcher_core);
    let mut engine = Engine::new(EngineConfig::default(), Permissive);
    let mode = if opts.venue == Venue::Paper { VenueMode::Paper } else { VenueMode::Clob };
    engine.add_instrument(Instrument::new("0.0001", 1, mode).expect("a valid tick and lot"));
    for _ in 0..2 {
        engine.add_account(AccountSpec { cash: Money::from_micros(1 << 60), ..AccountSpec::default() });
    }
    let mut p = start(engine, opts, matcher_pin)?;
    let feed_core = pin.apply("pipeline feed thread");
    let mut waiter = Waiter::new(opts.wait);
    let mut hist = histogram()?;
    let clock = p.clock;
    let market = |ev: MarketEvent| Stamped { ingress: clock.now(), item: Inbound::Market(ev) };
    let command = |input: Input| Stamped { ingress: clock.now(), item: Inbound::Command(input) };
    if opts.venue == Venue::Paper {
        push(&mut p.tx, market(quote(ASK_AWAY)), &mut waiter)?;
    }
    // The first sample waits long: a pipeline that cannot fill says so.
    let mut deadline = Duration::from_secs(5);
    for i in 0..opts.warmup + opts.events {
        let clid = ClientOrderId(2 * i + 1);
        push(&mut p.tx, command(order(0, clid.0, Side::Buy, Tif::Gtc)), &mut waiter)?;
        read_until(&mut p.rx, &mut waiter, deadline, |o| match o.event.kind {
            EventKind::Accepted { order, .. } => order.clid == clid,
            EventKind::Rejected { order, reason, .. } if order.clid == clid => {
                eprintln!("rejected: {reason:?}");
                true
            }
            _ => false,
        })?;
        // Drain what is left of the order's events (its level).
        while p.rx.pop().is_some() {}
        let t0 = Instant::now();
        let item = match opts.venue {
            // The ask comes down to the order's limit.
            Venue::Paper => Stamped { ingress: clock.at(t0), item: Inbound::Market(quote(LIMIT)) },
            // Another account sells at the order's limit.
            Venue::Clob => {
                Stamped { ingress: clock.at(t0), item: Inbound::Command(order(1, 2 * i + 2, Side::Sell, Tif::Ioc)) }
            }
        };
        push(&mut p.tx, item, &mut waiter)?;
        let t1 = read_until(
            &mut p.rx,
            &mut waiter,
            deadline,
            |o| matches!(o.event.kind, EventKind::Filled { order, .. } if order.clid == clid),
        )
        .map_err(|e| match (i, opts.venue) {
            (0, Venue::Paper) => PipelineError::Pipeline(format!(
                "{e}: the resting order was not filled by the quote (is paper mode in this engine?); try --venue clob"
            )),
            _ => e,
        })?;
        if i >= opts.warmup {
            hist.record((t1 - t0).as_nanos().max(1) as u64).map_err(|e| PipelineError::Histogram(e.to_string()))?;
        }
        deadline = Duration::from_secs(1);
        // Not timed: the rest of this sample's events, the quote back up.
        if opts.venue == Venue::Paper {
            push(&mut p.tx, market(quote(ASK_AWAY)), &mut waiter)?;
        }
        while p.rx.pop().is_some() {}
    }
    let m = p.finish()?;
    let s = m.stats();
    if s.out_dropped != 0 {
        return Err(PipelineError::Pipeline(format!("{} events dropped", s.out_dropped)));
    }
    Ok(TickToTrade {
        latency: Latency::of(&hist),
        wait_strategy: opts.wait.name(),
        venue: opts.venue.name(),
        feed_core,
        matcher_core: s.pinned_core,
    })
}

fn open_loop(opts: &Opts) -> Result<OpenLoop, PipelineError> {
    // Both cores are looked up before this thread pins itself.
    let matcher_pin = CorePin::resolve(opts.matcher_core);
    let _ = CorePin::resolve(opts.feed_core).apply("pipeline producer thread");
    let warm = opts.commands / 10;
    // One stream for every rate (each rate gets a fresh engine).
    let stream = exchange_core(warm + opts.commands, opts.seed);
    let mut rows = Vec::new();
    for &rate in &opts.rates {
        let row = match opts.check {
            CheckChoice::Standard => {
                one_rate(build(&stream, standard_risk(stream.accounts.len())), &stream, rate, opts, matcher_pin)?
            }
            CheckChoice::Permissive => one_rate(build(&stream, Permissive), &stream, rate, opts, matcher_pin)?,
        };
        rows.push(row);
    }
    Ok(OpenLoop {
        wait_strategy: opts.wait.name(),
        check: match opts.check {
            CheckChoice::Standard => "standard",
            CheckChoice::Permissive => "permissive",
        },
        rates: rows,
    })
}

/// Reads what is there; records, for each input, the latency of its first event.
#[inline]
fn drain(rx: &mut Consumer<Outbound>, clock: &Clock, last_seq: &mut u64, hist: &mut Histogram<u64>) -> usize {
    let mut n = 0;
    rx.pop_batch(4096, |o| {
        if o.event.seq.0 != *last_seq {
            *last_seq = o.event.seq.0;
            let now = clock.now();
            // Saturating: the histogram takes at least 1 ns.
            let _ = hist.record(now.0.saturating_sub(o.ingress.0).max(1));
            n += 1;
        }
    });
    n
}

fn one_rate<R: PreTradeCheck + Send + 'static>(
    engine: Engine<R>,
    stream: &crate::engine_bench::Stream,
    rate: u64,
    opts: &Opts,
    pin: CorePin,
) -> Result<RateRow, PipelineError> {
    if rate == 0 {
        return Err(PipelineError::Pipeline("a rate must be at least 1 command per second".into()));
    }
    let mut p = start(engine, opts, pin)?;
    let mut waiter = Waiter::new(opts.wait);
    let inputs = &stream.inputs;
    let warm = inputs.len() - opts.commands as usize;
    let mut scratch = histogram()?;
    let mut last_seq = 0u64;
    // Untimed: the book's seeding and the warm-up, then wait for their events.
    let mut seen = 0usize;
    for (_, input) in &inputs[..warm] {
        let item = Stamped { ingress: p.clock.now(), item: Inbound::Command(*input) };
        let mut item = Some(item);
        while let Some(it) = item.take() {
            if let Err(back) = p.tx.push(it) {
                item = Some(back);
                seen += drain(&mut p.rx, &p.clock, &mut last_seq, &mut scratch);
                waiter.wait();
            }
        }
        waiter.reset();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen < warm {
        seen += drain(&mut p.rx, &p.clock, &mut last_seq, &mut scratch);
        if Instant::now() > deadline {
            return Err(PipelineError::Pipeline("the warm-up did not come back".into()));
        }
        waiter.wait();
    }
    // Timed: command i is due at start + i / rate.
    let mut hist = histogram()?;
    let mut seen = 0usize;
    let start_at = p.clock.now().0 + 1_000_000;
    let n = opts.commands as usize;
    for (i, (_, input)) in inputs[warm..].iter().enumerate() {
        let due = start_at + (i as u128 * 1_000_000_000 / u128::from(rate)) as u64;
        while p.clock.now().0 < due {
            seen += drain(&mut p.rx, &p.clock, &mut last_seq, &mut hist);
        }
        let mut item = Some(Stamped { ingress: Nanos(due), item: Inbound::Command(*input) });
        while let Some(it) = item.take() {
            if let Err(back) = p.tx.push(it) {
                item = Some(back);
                seen += drain(&mut p.rx, &p.clock, &mut last_seq, &mut hist);
            }
        }
    }
    let pushed_at = p.clock.now().0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen < n {
        seen += drain(&mut p.rx, &p.clock, &mut last_seq, &mut hist);
        if Instant::now() > deadline {
            return Err(PipelineError::Pipeline(format!("only {seen} of {n} commands answered")));
        }
        waiter.wait();
    }
    let m = p.finish()?;
    if m.stats().out_dropped != 0 {
        return Err(PipelineError::Pipeline(format!("{} events dropped", m.stats().out_dropped)));
    }
    let secs = (pushed_at - start_at) as f64 / 1e9;
    Ok(RateRow { rate, achieved: if secs > 0.0 { n as f64 / secs } else { 0.0 }, latency: Latency::of(&hist) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Opts {
        Opts {
            events: 300,
            warmup: 20,
            wait: WaitStrategy::YIELD,
            feed_core: None,
            matcher_core: None,
            commands: 3_000,
            ..Opts::default()
        }
    }

    #[test]
    fn tick_to_trade_fills_every_sample_on_both_venues() {
        for venue in [Venue::Paper, Venue::Clob] {
            let r = tick_to_trade(&Opts { venue, ..small() }).unwrap();
            assert_eq!(r.latency.events, 300, "{venue:?}");
            assert!(r.latency.p50_ns > 0 && r.latency.p50_ns <= r.latency.max_ns);
            assert_eq!(r.venue, venue.name());
        }
    }

    #[test]
    fn the_open_loop_answers_every_command() {
        let o = open_loop(&Opts { rates: vec![200_000, 400_000], ..small() }).unwrap();
        assert_eq!(o.rates.len(), 2);
        for r in &o.rates {
            assert_eq!(r.latency.events, 3_000);
            assert!(r.achieved > 0.0);
        }
        let json = Report::OpenLoop(o).to_json();
        assert!(json.contains("\"p999_ns\""), "{json}");
    }
}
