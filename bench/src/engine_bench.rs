//! `optix bench engine`: single-threaded engine throughput, sampled service
//! time, memory per resting order and steady-state allocations.
//!
//! Method:
//! - The command stream is generated first (untimed). Workloads that act on
//!   existing orders (cancel, replace) are generated against a shadow engine
//!   so they name orders that really exist, like a client that tracks its
//!   own orders.
//! - The timed engine then processes the stream in batches of
//!   [`BATCH`] commands; throughput is the number of commands over the sum of
//!   batch times (two clock reads per batch, none per command).
//! - Service time: one command in [`SAMPLE_EVERY`] is timed on its own with
//!   two clock reads; the measured cost of a clock read pair is subtracted;
//!   the samples go into an HdrHistogram.
//! - The first [`WARMUP_PCT`] percent of the stream is a warm-up, processed
//!   but not measured; allocations are counted over the measured rest.
//! - Memory: live heap bytes are read before the engine is built and at the
//!   end of every batch (the allocator's peak); bytes per resting order =
//!   (peak heap - heap before the engine) / peak resting orders.

use std::io::{self, Write};
use std::time::Instant;

use hdrhistogram::Histogram;
use optix_engine::scenario::{apply, Parser, Step, TimedStep};
use optix_engine::*;
use serde::Serialize;

use crate::alloc;

/// Commands per timed batch.
pub const BATCH: usize = 1024;
/// One command in this many is timed on its own.
pub const SAMPLE_EVERY: usize = 16;
/// How many commands ahead the harness calls `Engine::prefetch`, as the
/// matcher does over a batch drained from its ring.
pub const PREFETCH_AHEAD: usize = 8;
/// Warm-up share of the stream, in percent.
pub const WARMUP_PCT: u64 = 10;

/// The order flow to benchmark.
pub enum Flow {
    /// Seeded mixed flow over many symbols and accounts.
    Mixed,
    /// Liquibook's add-only performance-test stream.
    Liquibook,
    /// exchange-core's latency-test mix.
    ExchangeCore,
    /// The commands of a scenario script, `repeat` times through fresh engines.
    Script {
        /// The script text.
        text: String,
        /// Repetitions.
        repeat: u64,
    },
}

/// Options.
pub struct Opts {
    /// The flow.
    pub flow: Flow,
    /// Commands measured (generated workloads; warm-up comes on top).
    pub commands: u64,
    /// Generator seed.
    pub seed: u64,
    /// The pre-trade check the engine runs.
    pub check: CheckChoice,
    /// Runs of a generated workload over the same stream, each through a
    /// fresh engine; the report gives the median of each figure (at least 1).
    pub runs: u32,
}

/// Which pre-trade check the benchmarked engine runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CheckChoice {
    /// `StandardRisk` with every limit on and set so that none binds
    /// ([`standard_risk`]); the default.
    #[default]
    Standard,
    /// No check (`Permissive`), the engine alone.
    Permissive,
}

impl std::str::FromStr for CheckChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "standard" => Ok(CheckChoice::Standard),
            "permissive" => Ok(CheckChoice::Permissive),
            _ => Err(format!("unknown check '{s}' (standard or permissive)")),
        }
    }
}

/// Cash each benchmark account starts with: enough that buying power never binds.
pub const BENCH_CASH: Money = Money::from_micros(1_000_000_000_000_000_000);

/// `StandardRisk` for `accounts` accounts with every limit switched on
/// (quantity, notional, collar, open orders, long and short position,
/// buying power, throttle) at values the benchmark flows never reach: the
/// checks run in full on every order, and no order is rejected by them
/// (`risk_rejects` in the report says so).
pub fn standard_risk(accounts: usize) -> optix_risk::StandardRisk {
    let mut r = optix_risk::StandardRisk::new();
    let limits = RiskLimits {
        max_qty: Some(1 << 30),
        max_notional: Some(Money::from_micros(i64::MAX / 2)),
        collar_bps: Some(9_000),
        max_open_orders: Some(1 << 20),
        max_long: Some(1 << 40),
        max_short: Some(1 << 40),
        buying_power: true,
        rate_per_sec: Some(1_000_000_000),
    };
    for a in 0..accounts {
        r.configure(&RiskConfig::Limits(AccountId(a as u32), limits)).expect("bench limits are valid");
    }
    r
}

impl From<optix_engine::scenario::ScriptError> for BenchError {
    fn from(e: optix_engine::scenario::ScriptError) -> Self {
        BenchError::Script(e)
    }
}

/// Errors of the harness.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The script does not parse. (Not a `source`: the message already
    /// holds the parse error, and an error chain would print it twice.)
    #[error("script: {0}")]
    Script(optix_engine::scenario::ScriptError),
    /// A histogram error.
    #[error("histogram: {0}")]
    Histogram(String),
    /// Bad options.
    #[error("{0}")]
    Options(String),
}

/// Results. Field names are the `--json` keys.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Workload name.
    pub workload: String,
    /// The pre-trade check in use.
    pub check: String,
    /// Commands measured.
    pub commands: u64,
    /// Seconds spent processing them (sum of batch times).
    pub seconds: f64,
    /// Throughput.
    pub commands_per_sec: f64,
    /// Median service time, ns.
    pub p50_ns: u64,
    /// 99th percentile service time, ns.
    pub p99_ns: u64,
    /// 99.9th percentile service time, ns.
    pub p999_ns: u64,
    /// Largest sampled service time, ns.
    pub max_ns: u64,
    /// Service-time samples taken.
    pub samples: u64,
    /// Measured cost of the clock-read pair subtracted from each sample, ns.
    pub clock_overhead_ns: u64,
    /// Most orders resting at once.
    pub resting_peak: u64,
    /// Resting orders at the end.
    pub resting_end: u64,
    /// Heap growth per resting order at the peak, bytes.
    pub bytes_per_order: f64,
    /// Heap allocations during the measured part.
    pub steady_state_allocs: u64,
    /// Events emitted during the measured part.
    pub events: u64,
    /// Trades during the measured part.
    pub trades: u64,
    /// Share of measured commands that traded at least once, percent.
    pub trading_pct: f64,
    /// Whether the counting allocator was installed (memory figures valid).
    pub alloc_counted: bool,
    /// Orders rejected by a risk limit (0: the limits never bound).
    pub risk_rejects: u64,
    /// Runs over the same stream: `commands_per_sec`, `seconds` and the
    /// percentiles are medians over them, `max_ns`, `bytes_per_order` and
    /// `steady_state_allocs` the largest.
    pub runs: u32,
    /// Throughput of each run, in run order.
    pub runs_commands_per_sec: Vec<f64>,
}

impl Report {
    /// Prints a human-readable table.
    pub fn print_table(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(w, "optix bench engine: workload {} (check: {})", self.workload, self.check)?;
        writeln!(w, "  commands            {:>14}", self.commands)?;
        writeln!(w, "  seconds             {:>14.3}", self.seconds)?;
        writeln!(w, "  commands/s          {:>14.0}", self.commands_per_sec)?;
        if self.runs > 1 {
            let each: Vec<String> = self.runs_commands_per_sec.iter().map(|r| format!("{r:.0}")).collect();
            writeln!(w, "  runs                {:>14}  (medians; commands/s of each: {})", self.runs, each.join(", "))?;
        }
        writeln!(
            w,
            "  service time ns     p50 {}  p99 {}  p99.9 {}  max {}  ({} samples, clock {} ns subtracted)",
            self.p50_ns, self.p99_ns, self.p999_ns, self.max_ns, self.samples, self.clock_overhead_ns
        )?;
        writeln!(w, "  resting orders      peak {}  end {}", self.resting_peak, self.resting_end)?;
        if self.alloc_counted {
            writeln!(w, "  bytes/resting order {:>14.1}", self.bytes_per_order)?;
            if self.workload.starts_with("script") {
                writeln!(
                    w,
                    "  allocations         {:>14}  (each repetition builds a fresh engine)",
                    self.steady_state_allocs
                )?;
            } else {
                writeln!(w, "  steady-state allocs {:>14}", self.steady_state_allocs)?;
            }
        } else {
            writeln!(w, "  memory figures unavailable: the counting allocator is not installed")?;
        }
        writeln!(w, "  events {}  trades {}  commands trading {:.1}%", self.events, self.trades, self.trading_pct)?;
        writeln!(w, "  risk rejects        {:>14}", self.risk_rejects)
    }
}

/// A sink that counts events and trades and notes whether the current
/// command traded.
#[derive(Default)]
struct BenchSink {
    events: u64,
    trades: u64,
    traded_cmds: u64,
    last_seq: u64,
    risk_rejects: u64,
}

impl EventSink for BenchSink {
    #[inline]
    fn emit(&mut self, e: &Event) {
        self.events += 1;
        if let EventKind::Rejected { reason, .. } = e.kind {
            if reason.is_risk() {
                self.risk_rejects += 1;
            }
        }
        if let EventKind::Traded { .. } = e.kind {
            self.trades += 1;
            if e.seq.0 != self.last_seq {
                self.last_seq = e.seq.0;
                self.traded_cmds += 1;
            }
        }
    }
}

/// The workload generators' random numbers: the feed crate's seeded
/// splitmix64, with the ranges the generators need.
pub struct Rng(optix_feed::itch::gen::SplitMix64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(optix_feed::itch::gen::SplitMix64::new(seed ^ 0x5DEE_CE66_D1CE_4E5B))
    }
    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in `0..n` (n > 0).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }
    /// Uniform in `lo..=hi`.
    #[inline]
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    /// True with probability `pct`/100.
    #[inline]
    pub fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

/// A generated command stream and the engine set-up it needs.
pub struct Stream {
    /// Instruments to add, in order.
    pub instruments: Vec<Instrument>,
    /// Accounts to add, in order.
    pub accounts: Vec<AccountSpec>,
    /// The commands, each with its ingress time.
    pub inputs: Vec<(Nanos, Input)>,
}

/// A plain limit order (no stop, no reserve, not post-only), as the
/// generated flows and the examples send them.
pub fn new_order(acct: u32, clid: u64, sym: u32, side: Side, tif: Tif, price: i64, qty: i64) -> NewOrder {
    NewOrder {
        acct: AccountId(acct),
        clid: ClientOrderId(clid),
        sym: SymbolId(sym),
        side,
        ord_type: OrdType::Limit,
        tif,
        price: Price::from_ticks(price),
        stop_price: Price::NONE,
        qty: Qty::from_lots(qty),
        display: Qty::ZERO,
        expire: Nanos(0),
        post_only: false,
    }
}

/// The live orders a generator knows of, kept exact by reading the shadow
/// engine's events.
struct Tracker {
    live: Vec<(u32, u64, u32, Side, i64)>,
    index: std::collections::HashMap<(u32, u64), usize>,
}

impl Tracker {
    fn new() -> Self {
        Tracker { live: Vec::new(), index: std::collections::HashMap::new() }
    }
    fn add(&mut self, acct: u32, clid: u64, sym: u32, side: Side, px: i64) {
        self.index.insert((acct, clid), self.live.len());
        self.live.push((acct, clid, sym, side, px));
    }
    fn remove(&mut self, acct: u32, clid: u64) {
        if let Some(i) = self.index.remove(&(acct, clid)) {
            self.live.swap_remove(i);
            if i < self.live.len() {
                let (a, c, ..) = self.live[i];
                self.index.insert((a, c), i);
            }
        }
    }
    fn set_px(&mut self, acct: u32, clid: u64, px: i64) {
        if let Some(&i) = self.index.get(&(acct, clid)) {
            self.live[i].4 = px;
        }
    }
    /// Applies the shadow engine's events of one command.
    fn observe(&mut self, events: &[Event], new: Option<&NewOrder>) {
        for e in events {
            match e.kind {
                EventKind::Accepted { order, sym, side, price, .. } if new.is_some() => {
                    self.add(order.acct.0, order.clid.0, sym.0, side, price.ticks());
                }
                EventKind::Filled { order, leaves, .. } if leaves.is_zero() => {
                    self.remove(order.acct.0, order.clid.0);
                }
                EventKind::Cancelled { order, .. } => self.remove(order.acct.0, order.clid.0),
                EventKind::Replaced { order, price, .. } => self.set_px(order.acct.0, order.clid.0, price.ticks()),
                _ => {}
            }
        }
    }
}

struct Gen {
    rng: Rng,
    shadow: Engine<Permissive>,
    tracker: Tracker,
    next_clid: Vec<u64>,
    events: Vec<Event>,
    out: Vec<(Nanos, Input)>,
    time: u64,
}

impl Gen {
    fn new(seed: u64, instruments: &[Instrument], accounts: &[AccountSpec]) -> Self {
        let mut shadow = Engine::new(EngineConfig::default(), Permissive);
        for i in instruments {
            shadow.add_instrument(*i);
        }
        for a in accounts {
            shadow.add_account(*a);
        }
        Gen {
            rng: Rng::new(seed),
            shadow,
            tracker: Tracker::new(),
            next_clid: vec![1; accounts.len()],
            events: Vec::with_capacity(1024),
            out: Vec::new(),
            time: 34_200_000_000_000,
        }
    }
    fn clid(&mut self, acct: u32) -> u64 {
        let c = self.next_clid[acct as usize];
        self.next_clid[acct as usize] += 1;
        c
    }
    fn push(&mut self, input: Input) {
        self.time += 1_000;
        let t = Nanos(self.time);
        self.events.clear();
        self.shadow.process(t, &input, &mut self.events);
        let new = match &input {
            Input::NewOrder(o) => Some(o),
            _ => None,
        };
        self.tracker.observe(&self.events, new);
        self.out.push((t, input));
    }
    fn best(&self, sym: u32, side: Side) -> Option<i64> {
        self.shadow.levels(SymbolId(sym), side).next().map(|(p, _)| p.ticks())
    }
}

/// Mixed flow: 64 symbols, 1,000 accounts each trading 4 of them; passive adds near the touch,
/// cancels, price and size replaces, marketable limits sweeping a few
/// levels, market orders; the resting population held near 150 orders per
/// symbol and side.
pub fn mixed(commands: u64, seed: u64) -> Stream {
    const SYMS: u32 = 64;
    const ACCTS: u32 = 1_000;
    const TARGET: usize = 150 * 2 * SYMS as usize;
    let instruments = vec![Instrument::new("0.01", 1, VenueMode::Clob).expect("valid tick"); SYMS as usize];
    let accounts = vec![AccountSpec { cash: BENCH_CASH, ..AccountSpec::default() }; ACCTS as usize];
    let mut g = Gen::new(seed, &instruments, &accounts);
    let mut mid: Vec<i64> = (0..SYMS).map(|_| 10_000).collect();
    while (g.out.len() as u64) < commands {
        // Each account trades 4 of the symbols, as a strategy trades a few
        // names: account a trades a, a + 16, a + 32, a + 48 (mod 64).
        let acct = g.rng.below(u64::from(ACCTS)) as u32;
        let sym = (acct + 16 * g.rng.below(4) as u32) % SYMS;
        let side = if g.rng.pct(50) { Side::Buy } else { Side::Sell };
        // The mid drifts with the touch.
        if let (Some(b), Some(a)) = (g.best(sym, Side::Buy), g.best(sym, Side::Sell)) {
            mid[sym as usize] = (b + a) / 2;
        }
        let m = mid[sym as usize];
        let live = g.tracker.live.len();
        let roll = g.rng.below(100);
        let add_bias = if live < TARGET { 20 } else { 0 };
        if roll < 40 + add_bias {
            // Passive add near the touch.
            let off = g.rng.range(1, 12);
            let px = if side == Side::Buy { m - off } else { m + off };
            let clid = g.clid(acct);
            let tif = if g.rng.pct(50) { Tif::Day } else { Tif::Gtc };
            let qty = g.rng.range(1, 100);
            g.push(Input::NewOrder(new_order(acct, clid, sym, side, tif, px, qty)));
        } else if roll < 65 && live > 0 {
            // Of two random working orders, cancel the one further from its
            // market: quoters pull stale orders first.
            let i = g.rng.below(live as u64) as usize;
            let j = g.rng.below(live as u64) as usize;
            let dist = |k: usize| {
                let (_, _, s, _, px) = g.tracker.live[k];
                (px - mid[s as usize]).abs()
            };
            let pick = if dist(j) > dist(i) { j } else { i };
            let (a, c, ..) = g.tracker.live[pick];
            g.push(Input::CancelOrder(CancelOrder { acct: AccountId(a), clid: ClientOrderId(c) }));
        } else if roll < 80 && live > 0 {
            let i = g.rng.below(live as u64) as usize;
            let (a, c, sym, s, px) = g.tracker.live[i];
            let r = if g.rng.pct(60) {
                // Move by a few ticks either way, staying passive and
                // within 20 ticks of the mid (quoters pull stale prices in).
                let step = g.rng.range(-3, 3);
                let m = mid[sym as usize];
                let npx = match s {
                    Side::Buy => (px + step).max(m - 20).min(g.best(sym, Side::Sell).map_or(i64::MAX, |a| a - 1)),
                    Side::Sell => (px + step).min(m + 20).max(g.best(sym, Side::Buy).map_or(1, |b| b + 1)),
                };
                ReplaceOrder {
                    acct: AccountId(a),
                    clid: ClientOrderId(c),
                    price: Price::from_ticks(npx.max(1)),
                    qty: Qty::ZERO,
                }
            } else {
                ReplaceOrder {
                    acct: AccountId(a),
                    clid: ClientOrderId(c),
                    price: Price::NONE,
                    qty: Qty::from_lots(g.rng.range(1, 100)),
                }
            };
            g.push(Input::ReplaceOrder(r));
        } else if roll < 95 {
            // Marketable limit sweeping up to a few levels.
            let through = g.rng.range(0, 4);
            let opp = g.best(sym, side.opposite()).unwrap_or(m);
            let px = if side == Side::Buy { opp + through } else { (opp - through).max(1) };
            let clid = g.clid(acct);
            let tif = if g.rng.pct(50) { Tif::Ioc } else { Tif::Day };
            let qty = g.rng.range(20, 300);
            g.push(Input::NewOrder(new_order(acct, clid, sym, side, tif, px, qty)));
        } else {
            let clid = g.clid(acct);
            let mut o = new_order(acct, clid, sym, side, Tif::Ioc, 0, g.rng.range(1, 150));
            o.ord_type = OrdType::Market;
            o.price = Price::NONE;
            g.push(Input::NewOrder(o));
        }
    }
    Stream { instruments, accounts, inputs: g.out }
}

/// Liquibook's performance-test stream: add-only, alternating buy at
/// 1880 + r and sell at 1884 + r (r uniform in 0..=9), quantity
/// (1..=10) x 100, one symbol, spread over 1,000 accounts, no self-trade
/// prevention. Prices are in ticks (tick 1).
pub fn liquibook(commands: u64, seed: u64) -> Stream {
    const ACCTS: u32 = 1_000;
    let instruments = vec![Instrument::new("1", 1, VenueMode::Clob).expect("valid tick")];
    let accounts = vec![AccountSpec { cash: BENCH_CASH, ..AccountSpec::default() }; ACCTS as usize];
    let mut rng = Rng::new(seed);
    let mut next_clid = vec![1u64; ACCTS as usize];
    let mut inputs = Vec::with_capacity(commands as usize);
    let mut t = 34_200_000_000_000u64;
    for i in 0..commands {
        let acct = rng.below(u64::from(ACCTS)) as u32;
        let clid = next_clid[acct as usize];
        next_clid[acct as usize] += 1;
        let r = rng.range(0, 9);
        let (side, px) = if i % 2 == 0 { (Side::Buy, 1880 + r) } else { (Side::Sell, 1884 + r) };
        let qty = rng.range(1, 10) * 100;
        t += 1_000;
        inputs.push((Nanos(t), Input::NewOrder(new_order(acct, clid, 0, side, Tif::Gtc, px, qty))));
    }
    Stream { instruments, accounts, inputs }
}

/// exchange-core's latency-test mix: one symbol, about 1,000 resting orders
/// over about 750 price levels, 1,000 accounts; 9% new GTC limits, 3% IOC,
/// 6% cancels, 82% moves of an existing order's price.
pub fn exchange_core(commands: u64, seed: u64) -> Stream {
    const ACCTS: u32 = 1_000;
    const TARGET: usize = 1_000;
    let instruments = vec![Instrument::new("1", 1, VenueMode::Clob).expect("valid tick")];
    let accounts = vec![AccountSpec { cash: BENCH_CASH, ..AccountSpec::default() }; ACCTS as usize];
    let mut g = Gen::new(seed, &instruments, &accounts);
    let center = 100_000i64;
    // Seed the book: about TARGET orders over about 750 levels.
    while g.tracker.live.len() < TARGET {
        let acct = g.rng.below(u64::from(ACCTS)) as u32;
        let side = if g.rng.pct(50) { Side::Buy } else { Side::Sell };
        let off = g.rng.range(1, 400);
        let px = if side == Side::Buy { center - off } else { center + off };
        let clid = g.clid(acct);
        let q = g.rng.range(1, 100);
        g.push(Input::NewOrder(new_order(acct, clid, 0, side, Tif::Gtc, px, q)));
    }
    let seeded = g.out.len();
    while ((g.out.len() - seeded) as u64) < commands {
        let roll = g.rng.below(100);
        let live = g.tracker.live.len();
        let acct = g.rng.below(u64::from(ACCTS)) as u32;
        let side = if g.rng.pct(50) { Side::Buy } else { Side::Sell };
        let bid = g.best(0, Side::Buy).unwrap_or(center - 1);
        let ask = g.best(0, Side::Sell).unwrap_or(center + 1);
        if roll < 9 || live == 0 {
            // New GTC limit: mostly passive, sometimes through the touch.
            let clid = g.clid(acct);
            let px = if g.rng.pct(8) {
                if side == Side::Buy {
                    ask + g.rng.range(0, 2)
                } else {
                    bid - g.rng.range(0, 2)
                }
            } else {
                let off = g.rng.range(1, 400);
                let mid = (bid + ask) / 2;
                if side == Side::Buy {
                    mid - off
                } else {
                    mid + off
                }
            };
            let q = g.rng.range(1, 100);
            g.push(Input::NewOrder(new_order(acct, clid, 0, side, Tif::Gtc, px.max(1), q)));
        } else if roll < 12 {
            let clid = g.clid(acct);
            let px = if side == Side::Buy { ask + g.rng.range(0, 3) } else { (bid - g.rng.range(0, 3)).max(1) };
            let q = g.rng.range(1, 100);
            g.push(Input::NewOrder(new_order(acct, clid, 0, side, Tif::Ioc, px, q)));
        } else if roll < 18 {
            let i = g.rng.below(live as u64) as usize;
            let (a, c, ..) = g.tracker.live[i];
            g.push(Input::CancelOrder(CancelOrder { acct: AccountId(a), clid: ClientOrderId(c) }));
        } else {
            // Move: a new price near the old one; sometimes through the touch.
            let i = g.rng.below(live as u64) as usize;
            let (a, c, _, s, px) = g.tracker.live[i];
            let npx = if g.rng.pct(3) {
                if s == Side::Buy {
                    ask
                } else {
                    bid
                }
            } else {
                let d = g.rng.range(-20, 20);
                let p = px + d;
                // Keep passive: stay on the own side of the book.
                if s == Side::Buy {
                    p.min(ask - 1)
                } else {
                    p.max(bid + 1)
                }
            };
            if g.tracker.live.len() < TARGET / 2 && g.rng.pct(50) {
                // Keep the book populated: replace by a new passive order.
                let clid = g.clid(acct);
                let off = g.rng.range(1, 400);
                let mid = (bid + ask) / 2;
                let px = if side == Side::Buy { mid - off } else { mid + off };
                let q = g.rng.range(1, 100);
                g.push(Input::NewOrder(new_order(acct, clid, 0, side, Tif::Gtc, px.max(1), q)));
            } else {
                g.push(Input::ReplaceOrder(ReplaceOrder {
                    acct: AccountId(a),
                    clid: ClientOrderId(c),
                    price: Price::from_ticks(npx.max(1)),
                    qty: Qty::ZERO,
                }));
            }
        }
    }
    // The seeding adds are part of the stream, before the warm-up ends.
    Stream { instruments, accounts, inputs: g.out }
}

fn new_histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| BenchError::Histogram(e.to_string()))
}

/// Measures the cost of a back-to-back pair of clock reads (median of many).
fn clock_overhead_ns() -> u64 {
    let mut v: Vec<u64> = (0..10_001)
        .map(|_| {
            let a = Instant::now();
            let b = Instant::now();
            (b - a).as_nanos() as u64
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2]
}

struct Measure {
    seconds: f64,
    hist: Histogram<u64>,
    sink: BenchSink,
    resting_peak: u64,
    resting_end: u64,
    peak_heap_growth: usize,
    allocs: u64,
    measured: u64,
}

/// Runs `inputs[warmup..]` timed, after `inputs[..warmup]` untimed, through
/// `engine`. Never inlined, so that profilers can single it out.
#[inline(never)]
fn measure<R: PreTradeCheck>(
    engine: &mut Engine<R>,
    inputs: &[(Nanos, Input)],
    warmup: usize,
    heap_before: usize,
    overhead: u64,
    mut hist: Histogram<u64>,
) -> Result<Measure, BenchError> {
    let mut samples = Vec::with_capacity(BATCH / SAMPLE_EVERY + 1);
    let mut sink = BenchSink::default();
    let mut resting_peak = 0u64;
    for (t, i) in &inputs[..warmup] {
        engine.process(*t, i, &mut sink);
    }
    resting_peak = resting_peak.max(engine.resting_orders() as u64);
    sink = BenchSink::default();
    let allocs_before = alloc::snapshot().allocs;
    let mut total = std::time::Duration::ZERO;
    for batch in inputs[warmup..].chunks(BATCH) {
        samples.clear();
        let start = Instant::now();
        for (k, (t, i)) in batch.iter().enumerate() {
            if let Some((_, ahead)) = batch.get(k + PREFETCH_AHEAD) {
                engine.prefetch(ahead);
            }
            if let Some((_, near)) = batch.get(k + optix_engine::PREFETCH_NEAR) {
                engine.prefetch_near(near);
            }
            if k.is_multiple_of(SAMPLE_EVERY) {
                let a = Instant::now();
                engine.process(*t, i, &mut sink);
                let b = Instant::now();
                samples.push((b - a).as_nanos() as u64);
            } else {
                engine.process(*t, i, &mut sink);
            }
        }
        total += start.elapsed();
        for &s in &samples {
            hist.saturating_record(s.saturating_sub(overhead).max(1));
        }
        resting_peak = resting_peak.max(engine.resting_orders() as u64);
    }
    let allocs = alloc::snapshot().allocs - allocs_before;
    let peak_heap_growth = alloc::snapshot().peak_bytes.saturating_sub(heap_before);
    Ok(Measure {
        seconds: total.as_secs_f64(),
        hist,
        sink,
        resting_peak,
        resting_end: engine.resting_orders() as u64,
        peak_heap_growth,
        allocs,
        measured: (inputs.len() - warmup) as u64,
    })
}

fn report(workload: &str, check: CheckChoice, m: &Measure, overhead: u64, alloc_counted: bool) -> Report {
    let h = &m.hist;
    Report {
        workload: workload.to_string(),
        check: match check {
            CheckChoice::Standard => "standard".to_string(),
            CheckChoice::Permissive => "permissive".to_string(),
        },
        risk_rejects: m.sink.risk_rejects,
        runs: 1,
        runs_commands_per_sec: vec![m.measured as f64 / m.seconds.max(1e-9)],
        commands: m.measured,
        seconds: m.seconds,
        commands_per_sec: m.measured as f64 / m.seconds.max(1e-9),
        p50_ns: h.value_at_quantile(0.50),
        p99_ns: h.value_at_quantile(0.99),
        p999_ns: h.value_at_quantile(0.999),
        max_ns: h.max(),
        samples: h.len(),
        clock_overhead_ns: overhead,
        resting_peak: m.resting_peak,
        resting_end: m.resting_end,
        bytes_per_order: if m.resting_peak == 0 { 0.0 } else { m.peak_heap_growth as f64 / m.resting_peak as f64 },
        steady_state_allocs: m.allocs,
        events: m.sink.events,
        trades: m.sink.trades,
        trading_pct: 100.0 * m.sink.traded_cmds as f64 / (m.measured.max(1)) as f64,
        alloc_counted,
    }
}

/// Runs the benchmark.
pub fn run(opts: &Opts) -> Result<Report, BenchError> {
    if opts.commands == 0 {
        return Err(BenchError::Options("--commands must be at least 1".into()));
    }
    let alloc_counted = alloc::installed();
    let overhead = clock_overhead_ns();
    if let Flow::Script { text, repeat } = &opts.flow {
        return match opts.check {
            CheckChoice::Standard => {
                run_script(text, *repeat, overhead, alloc_counted, CheckChoice::Standard, optix_risk::StandardRisk::new)
            }
            CheckChoice::Permissive => {
                run_script(text, *repeat, overhead, alloc_counted, CheckChoice::Permissive, || Permissive)
            }
        };
    }
    let warm = opts.commands * WARMUP_PCT / 100;
    let total = opts.commands + warm;
    let (name, stream) = match opts.flow {
        Flow::Mixed => ("mixed", mixed(total, opts.seed)),
        // Add-only: the warm-up is part of the growth being measured, so
        // there is none; every order counts.
        Flow::Liquibook => ("liquibook", liquibook(opts.commands, opts.seed)),
        Flow::ExchangeCore => ("exchange-core", exchange_core(total, opts.seed)),
        Flow::Script { .. } => unreachable!("handled above"),
    };
    let warmup = match opts.flow {
        Flow::Liquibook => 0,
        _ => stream.inputs.len() - opts.commands as usize,
    };
    let mut reports = Vec::with_capacity(opts.runs.max(1) as usize);
    for _ in 0..opts.runs.max(1) {
        // What the harness itself needs is allocated before the heap is
        // read, so the growth measured is the engine's.
        let hist = new_histogram()?;
        alloc::reset_peak();
        let heap_before = alloc::snapshot().live_bytes;
        let m = match opts.check {
            CheckChoice::Standard => {
                let mut engine = build(&stream, standard_risk(stream.accounts.len()));
                measure(&mut engine, &stream.inputs, warmup, heap_before, overhead, hist)?
            }
            CheckChoice::Permissive => {
                let mut engine = build(&stream, Permissive);
                measure(&mut engine, &stream.inputs, warmup, heap_before, overhead, hist)?
            }
        };
        reports.push(report(name, opts.check, &m, overhead, alloc_counted));
    }
    combine(reports)
}

/// One report for several runs over the same stream: medians of the
/// timings, the largest of `max_ns`, memory and allocations. The engine is
/// deterministic, so every run must emit the same events and trades and
/// rest the same orders; a run that does not is an error.
fn combine(mut reports: Vec<Report>) -> Result<Report, BenchError> {
    let Some(first) = reports.first() else {
        return Err(BenchError::Options("no runs".into()));
    };
    let same = |r: &Report| {
        (r.events, r.trades, r.resting_peak, r.resting_end, r.risk_rejects)
            == (first.events, first.trades, first.resting_peak, first.resting_end, first.risk_rejects)
    };
    if !reports.iter().all(same) {
        return Err(BenchError::Options("runs over the same stream differ in events or resting orders".into()));
    }
    fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        v[v.len() / 2]
    }
    let each: Vec<f64> = reports.iter().map(|r| r.commands_per_sec).collect();
    let seconds = median(reports.iter().map(|r| r.seconds).collect());
    let p50 = median(reports.iter().map(|r| r.p50_ns).collect());
    let p99 = median(reports.iter().map(|r| r.p99_ns).collect());
    let p999 = median(reports.iter().map(|r| r.p999_ns).collect());
    let max = reports.iter().map(|r| r.max_ns).max().unwrap_or(0);
    let bytes = reports.iter().map(|r| r.bytes_per_order).fold(0.0, f64::max);
    let allocs = reports.iter().map(|r| r.steady_state_allocs).max().unwrap_or(0);
    let runs = reports.len() as u32;
    let mut r = reports.swap_remove(0);
    r.commands_per_sec = median(each.clone());
    (r.seconds, r.p50_ns, r.p99_ns, r.p999_ns, r.max_ns) = (seconds, p50, p99, p999, max);
    (r.bytes_per_order, r.steady_state_allocs) = (bytes, allocs);
    r.runs = runs;
    r.runs_commands_per_sec = each;
    Ok(r)
}

/// An engine with a stream's instruments and accounts.
pub fn build<R: PreTradeCheck>(stream: &Stream, check: R) -> Engine<R> {
    let mut engine = Engine::new(EngineConfig::default(), check);
    for i in &stream.instruments {
        engine.add_instrument(*i);
    }
    for a in &stream.accounts {
        engine.add_account(*a);
    }
    engine
}

fn run_script<R: PreTradeCheck>(
    text: &str,
    repeat: u64,
    overhead: u64,
    alloc_counted: bool,
    check: CheckChoice,
    new_check: impl Fn() -> R,
) -> Result<Report, BenchError> {
    let steps: Vec<TimedStep> = Parser::new().parse_all(text)?;
    let n_inputs = steps.iter().filter(|s| matches!(s.step, Step::Input(_) | Step::EdgeReject { .. })).count() as u64;
    if n_inputs == 0 {
        return Err(BenchError::Options("the script has no order commands".into()));
    }
    let mut hist = new_histogram()?;
    let mut sink = BenchSink::default();
    let mut total = std::time::Duration::ZERO;
    let mut resting_peak = 0u64;
    let mut resting_end = 0u64;
    let allocs_before = alloc::snapshot().allocs;
    alloc::reset_peak();
    let heap_before = alloc::snapshot().live_bytes;
    // Declarations before the first order are set-up, applied untimed.
    let first_order =
        steps.iter().position(|s| !matches!(s.step, Step::Instrument(_) | Step::Account(_) | Step::Configure(_)));
    let (setup, timed) = steps.split_at(first_order.unwrap_or(steps.len()));
    let mut k = 0usize;
    for _ in 0..repeat.max(1) {
        let mut engine = Engine::new(EngineConfig::default(), new_check());
        for s in setup {
            apply(&mut engine, s, &mut sink);
        }
        let start = Instant::now();
        for s in timed {
            if matches!(s.step, Step::Input(_)) {
                k += 1;
                if k.is_multiple_of(SAMPLE_EVERY) {
                    let a = Instant::now();
                    apply(&mut engine, s, &mut sink);
                    let b = Instant::now();
                    hist.saturating_record(((b - a).as_nanos() as u64).saturating_sub(overhead).max(1));
                    resting_peak = resting_peak.max(engine.resting_orders() as u64);
                    continue;
                }
            }
            apply(&mut engine, s, &mut sink);
        }
        total += start.elapsed();
        resting_peak = resting_peak.max(engine.resting_orders() as u64);
        resting_end = engine.resting_orders() as u64;
    }
    let measured = n_inputs * repeat.max(1);
    let m = Measure {
        seconds: total.as_secs_f64(),
        hist,
        sink,
        resting_peak,
        resting_end,
        peak_heap_growth: alloc::snapshot().peak_bytes.saturating_sub(heap_before),
        allocs: alloc::snapshot().allocs - allocs_before,
        measured,
    };
    let mut r = report("script", check, &m, overhead, alloc_counted);
    // Every repetition builds a fresh engine, so allocations here are the
    // set-up cost, not a steady state.
    r.workload = format!("script x{}", repeat.max(1));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_stream(s: &Stream) -> (u64, u64, usize) {
        let mut e = Engine::new(EngineConfig::default(), Permissive);
        for i in &s.instruments {
            e.add_instrument(*i);
        }
        for a in &s.accounts {
            e.add_account(*a);
        }
        let mut sink = BenchSink::default();
        for (t, i) in &s.inputs {
            e.process(*t, i, &mut sink);
        }
        e.validate().expect("engine invariants hold");
        (sink.events, sink.trades, e.resting_orders())
    }

    #[test]
    fn workloads_are_deterministic_and_trade() {
        for gen in [mixed as fn(u64, u64) -> Stream, liquibook, exchange_core] {
            let a = gen(20_000, 7);
            let b = gen(20_000, 7);
            assert_eq!(a.inputs, b.inputs);
            let (events, trades, resting) = run_stream(&a);
            assert!(events > 20_000 && trades > 100 && resting > 100, "{events} {trades} {resting}");
        }
    }

    #[test]
    fn standard_risk_runs_every_check_and_never_binds() {
        for gen in [mixed as fn(u64, u64) -> Stream, liquibook, exchange_core] {
            let s = gen(20_000, 3);
            let mut plain = build(&s, Permissive);
            let mut risky = build(&s, standard_risk(s.accounts.len()));
            let (mut a, mut b): (Vec<Event>, Vec<Event>) = (Vec::new(), Vec::new());
            for (t, i) in &s.inputs {
                plain.process(*t, i, &mut a);
                risky.process(*t, i, &mut b);
            }
            assert_eq!(a, b, "the same events with and without the limits");
            assert!(!b.iter().any(|e| matches!(e.kind, EventKind::Rejected { reason, .. } if reason.is_risk())));
            risky.validate().unwrap();
        }
    }

    #[test]
    fn several_runs_report_medians_of_the_same_work() {
        let opts =
            |runs| Opts { flow: Flow::ExchangeCore, commands: 20_000, seed: 5, check: CheckChoice::Standard, runs };
        let one = run(&opts(1)).unwrap();
        let three = run(&opts(3)).unwrap();
        assert_eq!((one.runs, one.runs_commands_per_sec.len()), (1, 1));
        assert_eq!(one.commands_per_sec, one.runs_commands_per_sec[0]);
        assert_eq!((three.runs, three.runs_commands_per_sec.len()), (3, 3));
        let mut each = three.runs_commands_per_sec.clone();
        each.sort_by(f64::total_cmp);
        assert_eq!(three.commands_per_sec, each[1], "the median run's throughput");
        // The same stream through fresh engines: the same work each time.
        assert_eq!((three.commands, three.events, three.trades), (one.commands, one.events, one.trades));
        assert_eq!((three.resting_peak, three.resting_end), (one.resting_peak, one.resting_end));
        assert!(three.p50_ns <= three.p99_ns && three.p99_ns <= three.p999_ns && three.p999_ns <= three.max_ns);
    }

    #[test]
    fn combining_runs_takes_medians_and_worst_cases() {
        let base =
            run(&Opts { flow: Flow::Liquibook, commands: 5_000, seed: 1, check: CheckChoice::Permissive, runs: 1 })
                .unwrap();
        let with = |cps: f64, p99: u64, max: u64, allocs: u64| Report {
            commands_per_sec: cps,
            runs_commands_per_sec: vec![cps],
            p99_ns: p99,
            max_ns: max,
            steady_state_allocs: allocs,
            ..base.clone()
        };
        let r = combine(vec![with(3.0, 900, 10, 0), with(1.0, 500, 99, 0), with(2.0, 700, 20, 4)]).unwrap();
        assert_eq!((r.commands_per_sec, r.p99_ns, r.max_ns, r.steady_state_allocs), (2.0, 700, 99, 4));
        assert_eq!(r.runs_commands_per_sec, vec![3.0, 1.0, 2.0]);
        let odd = Report { events: base.events + 1, ..base.clone() };
        assert!(combine(vec![base.clone(), odd]).is_err(), "runs that did different work");
    }

    #[test]
    fn exchange_core_shape() {
        let s = exchange_core(50_000, 1);
        let mut e = Engine::new(EngineConfig::default(), Permissive);
        e.add_instrument(s.instruments[0]);
        for a in &s.accounts {
            e.add_account(*a);
        }
        let mut sink = BenchSink::default();
        let mut news = 0;
        let mut moves = 0;
        for (t, i) in &s.inputs {
            match i {
                Input::NewOrder(_) => news += 1,
                Input::ReplaceOrder(_) => moves += 1,
                _ => {}
            }
            e.process(*t, i, &mut sink);
        }
        let levels = e.levels(SymbolId(0), Side::Buy).count() + e.levels(SymbolId(0), Side::Sell).count();
        assert!((500..=1_500).contains(&e.resting_orders()), "resting {}", e.resting_orders());
        assert!((300..=1_000).contains(&levels), "levels {levels}");
        assert!(moves > news * 5, "moves {moves} news {news}");
    }
}
