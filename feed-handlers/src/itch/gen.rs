//! A seeded generator of realistic, internally consistent ITCH 5.0 days,
//! for benchmarks, tests and replay.
//!
//! Layout of a generated day (the `%` are positions in the message count):
//! - 0%: start of messages (`S O`); per symbol a stock directory (`R`), a
//!   Reg SHO status (`Y`), a trading action (`H T`) and a market maker
//!   position (`L`); the MWCB decline levels (`V`); start of system hours
//!   (`S S`); an IPO quoting period update (`K`) for the first symbol.
//! - 15% (09:30): start of market hours (`S Q`), then per symbol a last
//!   NOII (`I`) and the opening cross (`Q O`).
//! - 20%..60%: one-off events: Reg SHO restriction (`Y 1`), a retail
//!   interest flag (`N`), a volatility pause with LULD collars (`H P`, `J`,
//!   `J`, `H T`, halt cross `Q H`), an operational halt and its lift (`h`),
//!   a DLCR price discovery (`O`), an MWCB breach (`W`), a broken trade
//!   (`B`), a market maker state change (`L`).
//! - 90% (16:00): end of market hours (`S M`), then per symbol a last NOII
//!   and the closing cross (`Q C`).
//! - the last two: end of system hours (`S E`) and end of messages (`S C`).
//! - everything else is order flow: adds (`A`, `F`), deletes (`D`),
//!   replaces (`U`), executions (`E`, `C`), partial cancels (`X`),
//!   non-displayed trades (`P`), retail interest (`N`), and NOII (`I`) in
//!   the ten minutes before each cross.
//!
//! Invariants: order reference numbers are unique and increasing; every
//! `E`, `C`, `X`, `D` and `U` refers to a live order of the right symbol
//! (its stock locate) and never takes more shares than the order has left
//! (a full execution or a delete removes it; `X` is always partial); match
//! numbers increase; a broken trade names an earlier match; timestamps never
//! go backwards and run from 04:00 to 20:00, 09:30 at the open and 16:00 at
//! the close; the same configuration gives the same bytes.
//!
//! Complexity: O(1) per message (live orders in a vector with
//! swap-remove); memory O(live orders), capped by
//! [`GenConfig::max_live_orders`].
//!
//! Limits: exactly [`GenConfig::messages`] messages, unless that is fewer
//! than the fixed schedule needs (about 6 per symbol plus 20), in which case
//! the fixed schedule alone. Trading halts do not stop the order flow of
//! the halted symbol. At most 65 535 symbols (one stock locate each).

use std::collections::{BTreeSet, VecDeque};
use std::io::{self, Write};

use super::message::*;
use super::mix::Mix;
use super::wire::{Header, Stock};

/// SplitMix64: a small, fast, seedable generator (not cryptographic).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed; every seed is fine.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n == 0`), by multiply-shift.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `per_mille / 1000`.
    #[inline]
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// A uniformly chosen element; `slice` must not be empty.
    #[inline]
    pub fn pick<T: Copy>(&mut self, slice: &[T]) -> T {
        slice[self.below(slice.len() as u64) as usize]
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenConfig {
    /// Messages in the day (see the module's limits).
    pub messages: u64,
    /// Seed; the same configuration gives the same bytes.
    pub seed: u64,
    /// Symbols (1..=65 535).
    pub symbols: u16,
    /// Live orders beyond which the flow only removes orders.
    pub max_live_orders: usize,
}

impl GenConfig {
    /// `messages` with `seed`, and a symbol count that grows with the size
    /// (one per 20 000 messages, between 8 and 500).
    pub fn new(messages: u64, seed: u64) -> GenConfig {
        let symbols = (messages / 20_000).clamp(8, 500) as u16;
        GenConfig { messages, seed, symbols, max_live_orders: 200_000 }
    }
}

const NS_PER_S: u64 = 1_000_000_000;
/// 04:00, 09:30, 16:00, 20:00 in nanoseconds since midnight.
const T_START: u64 = 4 * 3600 * NS_PER_S;
const T_OPEN: u64 = (9 * 3600 + 1800) * NS_PER_S;
const T_CLOSE: u64 = 16 * 3600 * NS_PER_S;
const T_END: u64 = 20 * 3600 * NS_PER_S;

/// Positions of the schedule, in per mille of the day's messages.
const OPEN_PM: u64 = 150;
const CLOSE_PM: u64 = 900;
/// NOII windows: the last 5% before each cross.
const NOII_OPEN_PM: u64 = 100;
const NOII_CLOSE_PM: u64 = 850;

/// A price tick ($0.01) in `Price(4)` units.
const TICK: u32 = 100;

const MPIDS: [[u8; 4]; 8] = [*b"GSCO", *b"MSCO", *b"UBSS", *b"JPMS", *b"CDRG", *b"VIRT", *b"NITE", *b"SUSQ"];

/// The fixed parts of the day, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Milestone {
    Prologue,
    Open,
    RegSho,
    Retail,
    VolatilityPause,
    OperationalHalt,
    OperationalResume,
    Dlcr,
    MwcbBreach,
    Broken,
    MarketMaker,
    Close,
    Epilogue,
}

/// Milestones with their position in per mille of the day.
const SCHEDULE: [(Milestone, u64); 13] = [
    (Milestone::Prologue, 0),
    (Milestone::Open, OPEN_PM),
    (Milestone::RegSho, 200),
    (Milestone::Retail, 250),
    (Milestone::VolatilityPause, 300),
    (Milestone::OperationalHalt, 350),
    (Milestone::OperationalResume, 380),
    (Milestone::Dlcr, 400),
    (Milestone::MwcbBreach, 450),
    (Milestone::Broken, 550),
    (Milestone::MarketMaker, 600),
    (Milestone::Close, CLOSE_PM),
    (Milestone::Epilogue, 1000),
];

/// The order-flow choices and their weights (per 10 000 messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Add,
    AddMpid,
    Delete,
    Replace,
    Execute,
    ExecuteWithPrice,
    Cancel,
    Trade,
    Retail,
    Noii,
}

const FLOW: [(Flow, u64); 10] = [
    (Flow::Add, 3600),
    (Flow::AddMpid, 250),
    (Flow::Delete, 3300),
    (Flow::Replace, 900),
    (Flow::Execute, 700),
    (Flow::ExecuteWithPrice, 60),
    (Flow::Cancel, 300),
    (Flow::Trade, 200),
    (Flow::Retail, 40),
    (Flow::Noii, 0),
];
/// NOII weight inside the windows before the crosses.
const NOII_WINDOW_WEIGHT: u64 = 2500;

#[derive(Debug, Clone, Copy)]
struct Symbol {
    stock: Stock,
    locate: u16,
    /// Reference price, `Price(4)`.
    price: u32,
}

#[derive(Debug, Clone, Copy)]
struct LiveOrder {
    order_ref: u64,
    shares: u32,
    price: u32,
    sym: u16,
    side: u8,
}

/// The generator: an iterator of [`Message`]s (see the module docs for the
/// shape of the day).
#[derive(Debug, Clone)]
pub struct Generator {
    cfg: GenConfig,
    rng: SplitMix64,
    symbols: Vec<Symbol>,
    live: Vec<LiveOrder>,
    pending: VecDeque<Message>,
    /// Index in [`SCHEDULE`] of the next milestone.
    next_milestone: usize,
    /// Messages the milestones not fired yet will emit.
    fixed_left: u64,
    emitted: u64,
    clock_ns: u64,
    next_order_ref: u64,
    next_match: u64,
    /// The last execution's match number and symbol, for the broken trade.
    last_match: Option<(u64, u16)>,
    mix: Mix,
}

impl Generator {
    /// A generator for `cfg` (symbols clamped to 1..=65 535).
    pub fn new(cfg: GenConfig) -> Generator {
        let mut cfg = cfg;
        cfg.symbols = cfg.symbols.max(1);
        let mut rng = SplitMix64::new(cfg.seed);
        let mut names = BTreeSet::new();
        let mut symbols = Vec::with_capacity(usize::from(cfg.symbols));
        for locate in 1..=cfg.symbols {
            let stock = loop {
                let len = 1 + rng.below(4) as usize + usize::from(cfg.symbols > 400);
                let mut raw = [b' '; 8];
                for c in raw.iter_mut().take(len) {
                    *c = b'A' + rng.below(26) as u8;
                }
                if names.insert(raw) {
                    break Stock(raw);
                }
            };
            let price = (200 + rng.below(49_800) as u32) * TICK;
            symbols.push(Symbol { stock, locate, price });
        }
        let mut g = Generator {
            cfg,
            rng,
            symbols,
            live: Vec::new(),
            pending: VecDeque::new(),
            next_milestone: 0,
            fixed_left: 0,
            emitted: 0,
            clock_ns: T_START,
            next_order_ref: 1,
            next_match: 1,
            last_match: None,
            mix: Mix::new(),
        };
        g.fixed_left = SCHEDULE.iter().map(|&(m, _)| g.milestone_len(m)).sum();
        g
    }

    /// The configuration (after clamping).
    pub fn config(&self) -> &GenConfig {
        &self.cfg
    }

    /// The messages emitted so far, per type.
    pub fn mix(&self) -> &Mix {
        &self.mix
    }

    /// Orders currently on the book.
    pub fn live_orders(&self) -> usize {
        self.live.len()
    }

    /// The next message, `None` at the end of the day.
    pub fn next_message(&mut self) -> Option<Message> {
        if self.pending.is_empty() {
            self.refill();
        }
        let mut m = self.pending.pop_front()?;
        self.tick();
        m.header_mut().timestamp_ns = self.clock_ns;
        self.emitted += 1;
        self.mix.add(&m);
        Some(m)
    }

    /// Per mille of the day emitted so far.
    fn progress_pm(&self) -> u64 {
        (u128::from(self.emitted) * 1000 / u128::from(self.cfg.messages.max(1))) as u64
    }

    /// Advances the clock: piecewise linear in the position of the day
    /// (04:00, 09:30 at the open, 16:00 at the close, 20:00), plus jitter,
    /// never backwards.
    fn tick(&mut self) {
        let total = u128::from(self.cfg.messages.max(1));
        let at = u128::from(self.emitted).min(total);
        let (open, close) = (total * u128::from(OPEN_PM) / 1000, total * u128::from(CLOSE_PM) / 1000);
        let (x0, t0, x1, t1) = if at < open {
            (0, T_START, open, T_OPEN)
        } else if at < close {
            (open, T_OPEN, close, T_CLOSE)
        } else {
            (close, T_CLOSE, total, T_END)
        };
        let span = (x1 - x0).max(1);
        let t = t0 + (u128::from(t1 - t0) * (at - x0).min(span) / span) as u64;
        let step = (T_END - T_START) / self.cfg.messages.max(1);
        let jittered = t + self.rng.below(step.max(1));
        self.clock_ns = self.clock_ns.max(jittered).min(T_END);
    }

    fn refill(&mut self) {
        while let Some(&(milestone, at_pm)) = SCHEDULE.get(self.next_milestone) {
            let due = self.progress_pm() >= at_pm && milestone != Milestone::Epilogue;
            // Fire early when only the fixed messages are left to emit.
            let squeezed = self.emitted + self.fixed_left >= self.cfg.messages;
            if !(due || squeezed) {
                break;
            }
            self.next_milestone += 1;
            let len = self.milestone_len(milestone);
            self.fixed_left -= len;
            self.fire(milestone);
            debug_assert_eq!(self.pending.len() as u64, len, "{milestone:?}");
            if !self.pending.is_empty() {
                return;
            }
        }
        if self.next_milestone < SCHEDULE.len() {
            let m = self.flow();
            self.pending.push_back(m);
        }
    }

    fn n_symbols(&self) -> u64 {
        self.symbols.len() as u64
    }

    /// Messages a milestone emits.
    fn milestone_len(&self, m: Milestone) -> u64 {
        let n = self.n_symbols();
        match m {
            Milestone::Prologue => 4 + 4 * n,
            Milestone::Open | Milestone::Close => 1 + 2 * n,
            Milestone::VolatilityPause => 5,
            Milestone::Epilogue => 2,
            _ => 1,
        }
    }

    fn hdr(&mut self, locate: u16) -> Header {
        Header { stock_locate: locate, tracking_number: self.rng.below(4) as u16, timestamp_ns: 0 }
    }

    fn system(&mut self, code: u8) -> Message {
        SystemEvent { header: self.hdr(0), event_code: code }.into()
    }

    fn sym(&self, i: usize) -> Symbol {
        self.symbols[i % self.symbols.len()]
    }

    fn push(&mut self, m: impl Into<Message>) {
        self.pending.push_back(m.into());
    }

    fn next_match(&mut self, sym: u16) -> u64 {
        let m = self.next_match;
        self.next_match += 1;
        self.last_match = Some((m, sym));
        m
    }

    fn fire(&mut self, m: Milestone) {
        match m {
            Milestone::Prologue => self.prologue(),
            Milestone::Open => self.cross(b'Q', b'O'),
            Milestone::Close => self.cross(b'M', b'C'),
            Milestone::RegSho => {
                let s = self.sym(1);
                let header = self.hdr(s.locate);
                self.push(RegShoRestriction { header, stock: s.stock, reg_sho_action: b'1' });
            }
            Milestone::Retail => {
                let s = self.sym(1);
                let header = self.hdr(s.locate);
                self.push(RetailInterest { header, stock: s.stock, interest_flag: b'A' });
            }
            Milestone::VolatilityPause => self.volatility_pause(),
            Milestone::OperationalHalt | Milestone::OperationalResume => {
                let s = self.sym(3);
                let header = self.hdr(s.locate);
                let action = if m == Milestone::OperationalHalt { b'H' } else { b'T' };
                self.push(OperationalHalt { header, stock: s.stock, market_code: b'Q', action });
            }
            Milestone::Dlcr => {
                let s = self.sym(0);
                let header = self.hdr(s.locate);
                let p = s.price;
                let near_execution_time_ns = self.clock_ns;
                self.push(DirectListingPriceDiscovery {
                    header,
                    stock: s.stock,
                    open_eligibility_status: b'Y',
                    min_allowable_price: p - p / 5,
                    max_allowable_price: p + p / 5 * 4,
                    near_execution_price: p,
                    near_execution_time_ns,
                    lower_price_range_collar: p - p / 10,
                    upper_price_range_collar: p + p / 10,
                });
            }
            Milestone::MwcbBreach => {
                let header = self.hdr(0);
                self.push(MwcbStatus { header, breached_level: b'1' });
            }
            Milestone::Broken => {
                // The open has fired before, so there is always a match.
                let (match_number, sym) = self.last_match.unwrap_or((0, 0));
                let header = self.hdr(sym);
                self.push(BrokenTrade { header, match_number });
            }
            Milestone::MarketMaker => {
                let s = self.sym(2);
                let header = self.hdr(s.locate);
                self.push(MarketParticipantPosition {
                    header,
                    mpid: MPIDS[2],
                    stock: s.stock,
                    primary_market_maker: b'N',
                    market_maker_mode: b'N',
                    market_participant_state: b'E',
                });
            }
            Milestone::Epilogue => {
                let e = self.system(b'E');
                let c = self.system(b'C');
                self.push(e);
                self.push(c);
            }
        }
    }

    fn prologue(&mut self) {
        let m = self.system(b'O');
        self.push(m);
        for i in 0..self.symbols.len() {
            let s = self.symbols[i];
            let header = self.hdr(s.locate);
            let market_category = self.rng.pick(b"QQQGSNAPZV");
            let luld_reference_price_tier = if s.price >= 300 * TICK { b'1' } else { b'2' };
            let etp = self.rng.chance(100);
            self.push(StockDirectory {
                header,
                stock: s.stock,
                market_category,
                financial_status: if market_category == b'Q' || market_category == b'G' || market_category == b'S' {
                    b'N'
                } else {
                    b' '
                },
                round_lot_size: 100,
                round_lots_only: b'N',
                issue_classification: if etp { b'Q' } else { b'C' },
                issue_sub_type: if etp { *b"I " } else { *b"Z " },
                authenticity: b'P',
                short_sale_threshold: b'N',
                ipo_flag: if i == 0 { b'Y' } else { b'N' },
                luld_reference_price_tier,
                etp_flag: if etp { b'Y' } else { b'N' },
                etp_leverage_factor: u32::from(etp),
                inverse_indicator: b'N',
            });
            let header = self.hdr(s.locate);
            self.push(RegShoRestriction { header, stock: s.stock, reg_sho_action: b'0' });
            let header = self.hdr(s.locate);
            self.push(StockTradingAction {
                header,
                stock: s.stock,
                trading_state: b'T',
                reserved: b' ',
                reason: *b"    ",
            });
            let header = self.hdr(s.locate);
            let mpid = self.rng.pick(&MPIDS);
            self.push(MarketParticipantPosition {
                header,
                mpid,
                stock: s.stock,
                primary_market_maker: b'Y',
                market_maker_mode: b'N',
                market_participant_state: b'A',
            });
        }
        let header = self.hdr(0);
        // S&P 500 at 5000.00: 7%, 13%, 20% declines, Price(8).
        let p8 = 5_000 * 100_000_000u64;
        self.push(MwcbDeclineLevel { header, level1: p8 / 100 * 93, level2: p8 / 100 * 87, level3: p8 / 100 * 80 });
        let m = self.system(b'S');
        self.push(m);
        let s = self.sym(0);
        let header = self.hdr(s.locate);
        self.push(IpoQuotingPeriodUpdate {
            header,
            stock: s.stock,
            release_time_s: 11 * 3600,
            release_qualifier: b'A',
            ipo_price: s.price,
        });
    }

    /// Start (or end) of market hours and, per symbol, the last NOII and
    /// the cross.
    fn cross(&mut self, event: u8, cross_type: u8) {
        let m = self.system(event);
        self.push(m);
        for i in 0..self.symbols.len() {
            let s = self.symbols[i];
            let noii = self.noii(i, cross_type);
            self.push(noii);
            let header = self.hdr(s.locate);
            let shares = 100 * (10 + self.rng.below(10_000));
            let match_number = self.next_match(s.locate);
            self.push(CrossTrade { header, shares, stock: s.stock, cross_price: s.price, match_number, cross_type });
        }
    }

    fn volatility_pause(&mut self) {
        let s = self.sym(2);
        let p = s.price;
        let header = self.hdr(s.locate);
        self.push(StockTradingAction { header, stock: s.stock, trading_state: b'P', reserved: b' ', reason: *b"LUDP" });
        for extension in 0..2 {
            let header = self.hdr(s.locate);
            let band = p / 20 * (1 + extension);
            self.push(LuldAuctionCollar {
                header,
                stock: s.stock,
                reference_price: p,
                upper_price: p + band,
                lower_price: p - band,
                extension,
            });
        }
        let header = self.hdr(s.locate);
        self.push(StockTradingAction { header, stock: s.stock, trading_state: b'T', reserved: b' ', reason: *b"    " });
        let header = self.hdr(s.locate);
        let shares = 100 * (1 + self.rng.below(1000));
        let match_number = self.next_match(s.locate);
        self.push(CrossTrade { header, shares, stock: s.stock, cross_price: p, match_number, cross_type: b'H' });
    }

    fn noii(&mut self, i: usize, cross_type: u8) -> Message {
        let s = self.symbols[i];
        let header = self.hdr(s.locate);
        let p = s.price;
        let off = TICK * self.rng.below(5) as u32;
        Noii {
            header,
            paired_shares: 100 * self.rng.below(50_000),
            imbalance_shares: 100 * self.rng.below(5_000),
            imbalance_direction: self.rng.pick(b"BBSSNO"),
            stock: s.stock,
            far_price: p + off,
            near_price: p.saturating_sub(off).max(TICK),
            current_reference_price: p,
            cross_type,
            price_variation_indicator: self.rng.pick(b"L123456789ABC "),
        }
        .into()
    }

    /// A symbol index, skewed toward the first symbols (busy names trade
    /// more).
    fn busy_symbol(&mut self) -> usize {
        let n = self.n_symbols();
        self.rng.below(n).min(self.rng.below(n)) as usize
    }

    fn shares(&mut self) -> u32 {
        match self.rng.below(10) {
            0..=6 => 100 * (1 + self.rng.below(10) as u32),
            7 | 8 => 1 + self.rng.below(99) as u32,
            _ => 100 * (10 + self.rng.below(90) as u32),
        }
    }

    /// A limit price near the symbol's reference: bids at or below, offers
    /// above.
    fn limit_price(&mut self, sym: usize, side: u8) -> u32 {
        let p = self.symbols[sym].price;
        let ticks = (self.rng.below(8) * self.rng.below(8) / 4) as u32;
        if side == b'B' {
            p.saturating_sub(ticks * TICK).max(TICK)
        } else {
            p + (ticks + 1) * TICK
        }
    }

    /// Moves a symbol's reference price by a tick now and then.
    fn drift(&mut self, sym: usize) {
        match self.rng.below(8) {
            0 => self.symbols[sym].price += TICK,
            1 => self.symbols[sym].price = self.symbols[sym].price.saturating_sub(TICK).max(100 * TICK),
            _ => {}
        }
    }

    /// A live order to act on: mostly a recent one (most deletes and
    /// replaces hit fresh orders), sometimes any.
    fn pick_live(&mut self) -> usize {
        let n = self.live.len() as u64;
        if self.rng.chance(700) {
            (n - 1 - self.rng.below(n.min(64))) as usize
        } else {
            self.rng.below(n) as usize
        }
    }

    fn choose_flow(&mut self) -> Flow {
        if self.live.is_empty() {
            return Flow::Add;
        }
        if self.live.len() >= self.cfg.max_live_orders {
            return Flow::Delete;
        }
        let pm = self.progress_pm();
        let in_window = (NOII_OPEN_PM..OPEN_PM).contains(&pm) || (NOII_CLOSE_PM..CLOSE_PM).contains(&pm);
        let weight = |f: Flow, w: u64| if f == Flow::Noii && in_window { NOII_WINDOW_WEIGHT } else { w };
        let total: u64 = FLOW.iter().map(|&(f, w)| weight(f, w)).sum();
        let mut x = self.rng.below(total);
        for &(f, w) in &FLOW {
            let w = weight(f, w);
            if x < w {
                return f;
            }
            x -= w;
        }
        Flow::Add
    }

    /// One order-flow message.
    fn flow(&mut self) -> Message {
        match self.choose_flow() {
            Flow::Add | Flow::AddMpid => {
                let sym = self.busy_symbol();
                let side = if self.rng.chance(500) { b'B' } else { b'S' };
                let shares = self.shares();
                let price = self.limit_price(sym, side);
                let order_ref = self.next_order_ref;
                self.next_order_ref += 1;
                let s = self.symbols[sym];
                self.live.push(LiveOrder { order_ref, shares, price, sym: s.locate, side });
                let header = self.hdr(s.locate);
                if self.rng.chance(935) {
                    AddOrder { header, order_ref, side, shares, stock: s.stock, price }.into()
                } else {
                    let attribution = self.rng.pick(&MPIDS);
                    AddOrderMpid { header, order_ref, side, shares, stock: s.stock, price, attribution }.into()
                }
            }
            Flow::Delete => {
                let i = self.pick_live();
                let o = self.live.swap_remove(i);
                OrderDelete { header: self.hdr(o.sym), order_ref: o.order_ref }.into()
            }
            Flow::Replace => {
                let i = self.pick_live();
                let o = self.live[i];
                let sym = usize::from(o.sym - 1);
                let new_order_ref = self.next_order_ref;
                self.next_order_ref += 1;
                let shares = if self.rng.chance(500) { o.shares } else { self.shares() };
                let price = self.limit_price(sym, o.side);
                self.live[i] = LiveOrder { order_ref: new_order_ref, shares, price, ..o };
                let header = self.hdr(o.sym);
                OrderReplace { header, original_order_ref: o.order_ref, new_order_ref, shares, price }.into()
            }
            Flow::Execute | Flow::ExecuteWithPrice => {
                let i = self.pick_live();
                let o = self.live[i];
                let executed_shares = if o.shares == 1 || self.rng.chance(500) {
                    o.shares
                } else {
                    1 + self.rng.below(u64::from(o.shares - 1)) as u32
                };
                if executed_shares == o.shares {
                    self.live.swap_remove(i);
                } else {
                    self.live[i].shares -= executed_shares;
                }
                let sym = usize::from(o.sym - 1);
                self.drift(sym);
                let match_number = self.next_match(o.sym);
                let header = self.hdr(o.sym);
                if self.rng.chance(950) {
                    OrderExecuted { header, order_ref: o.order_ref, executed_shares, match_number }.into()
                } else {
                    // Price improvement of a tick toward the other side.
                    let execution_price =
                        if o.side == b'B' { o.price.saturating_sub(TICK).max(TICK) } else { o.price + TICK };
                    let printable = if self.rng.chance(900) { b'Y' } else { b'N' };
                    OrderExecutedWithPrice {
                        header,
                        order_ref: o.order_ref,
                        executed_shares,
                        match_number,
                        printable,
                        execution_price,
                    }
                    .into()
                }
            }
            Flow::Cancel => {
                let i = self.pick_live();
                let o = self.live[i];
                if o.shares < 2 {
                    self.live.swap_remove(i);
                    return OrderDelete { header: self.hdr(o.sym), order_ref: o.order_ref }.into();
                }
                let cancelled_shares = 1 + self.rng.below(u64::from(o.shares - 1)) as u32;
                self.live[i].shares -= cancelled_shares;
                OrderCancel { header: self.hdr(o.sym), order_ref: o.order_ref, cancelled_shares }.into()
            }
            Flow::Trade => {
                let sym = self.busy_symbol();
                self.drift(sym);
                let s = self.symbols[sym];
                let side = if self.rng.chance(500) { b'B' } else { b'S' };
                let shares = self.shares();
                let match_number = self.next_match(s.locate);
                let header = self.hdr(s.locate);
                Trade { header, order_ref: 0, side, shares, stock: s.stock, price: s.price, match_number }.into()
            }
            Flow::Retail => {
                let sym = self.busy_symbol();
                let s = self.symbols[sym];
                let header = self.hdr(s.locate);
                RetailInterest { header, stock: s.stock, interest_flag: self.rng.pick(b"BSAN") }.into()
            }
            Flow::Noii => {
                let sym = self.busy_symbol();
                let cross_type = if self.progress_pm() < OPEN_PM { b'O' } else { b'C' };
                self.noii(sym, cross_type)
            }
        }
    }
}

impl Iterator for Generator {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        self.next_message()
    }
}

/// Writes a generated day of `messages` messages (seed `seed`) to `out` in
/// the distribution framing, in 64 KiB writes; returns the mix.
pub fn generate(messages: u64, seed: u64, out: &mut impl Write) -> io::Result<Mix> {
    generate_with(GenConfig::new(messages, seed), out)
}

/// As [`generate`], with a full configuration.
pub fn generate_with(cfg: GenConfig, out: &mut impl Write) -> io::Result<Mix> {
    const CHUNK: usize = 64 * 1024;
    let mut g = Generator::new(cfg);
    let mut buf = Vec::with_capacity(CHUNK + 2 + MAX_MESSAGE_LEN);
    while let Some(m) = g.next_message() {
        m.encode_framed(&mut buf).map_err(io::Error::other)?;
        if buf.len() >= CHUNK {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    Ok(*g.mix())
}

/// A generated day in memory, framed, with its mix.
pub fn generate_vec(messages: u64, seed: u64) -> (Vec<u8>, Mix) {
    generate_vec_with(GenConfig::new(messages, seed))
}

/// As [`generate_vec`], with a full configuration.
pub fn generate_vec_with(cfg: GenConfig) -> (Vec<u8>, Mix) {
    let mut g = Generator::new(cfg);
    // About 33 bytes per framed message on average.
    let mut buf = Vec::with_capacity(usize::try_from(cfg.messages.saturating_mul(34)).unwrap_or(0).min(1 << 34));
    while let Some(m) = g.next_message() {
        // Timestamps stay within 04:00..=20:00, far inside 48 bits, so the
        // encoder cannot fail.
        m.encode_framed(&mut buf).expect("generated timestamps fit 48 bits");
    }
    (buf, *g.mix())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::itch::Frames;
    use std::collections::HashMap;

    #[test]
    fn splitmix_reference_values() {
        // First outputs of SplitMix64 seeded with 0 (the published reference
        // sequence).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(SplitMix64::new(5).below(0), 0);
        let mut r = SplitMix64::new(9);
        assert!((0..1000).all(|_| r.below(7) < 7));
    }

    #[test]
    fn exact_count_and_deterministic() {
        for n in [0u64, 1, 50, 67, 68, 100, 1000, 20_000] {
            let cfg = GenConfig::new(n, 3);
            let fixed = 4 + 4 * 8 + 2 * (1 + 2 * 8) + 5 + 2 + 8;
            let (a, mix) = generate_vec_with(cfg);
            assert_eq!(mix.total(), n.max(fixed), "n = {n}");
            assert_eq!(mix.framed_bytes(), a.len() as u64);
            let (b, _) = generate_vec(n, 3);
            assert_eq!(a, b, "same seed, same bytes");
            let mut w = Vec::new();
            assert_eq!(generate(n, 3, &mut w).unwrap(), mix);
            assert_eq!(w, a);
        }
        assert_ne!(generate_vec(1000, 1).0, generate_vec(1000, 2).0);
    }

    fn take(book: &mut HashMap<u64, (u16, u32)>, loc: u16, order_ref: u64, n: u32, remove_all: bool) {
        let (order_loc, left) = book.get_mut(&order_ref).expect("refers to a live order");
        assert_eq!(*order_loc, loc, "order of another symbol");
        assert!(n >= 1 && n <= *left, "takes {n} of {left}");
        *left -= n;
        if *left == 0 || remove_all {
            book.remove(&order_ref);
        }
    }

    fn check_match(last_match: &mut u64, n: u64) {
        assert!(n > *last_match, "match numbers increase");
        *last_match = n;
    }

    /// Replays a generated day against a model book and checks every
    /// invariant of the module docs.
    fn check_consistency(messages: u64, seed: u64) -> Mix {
        let (buf, mix) = generate_vec(messages, seed);
        let mut book: HashMap<u64, (u16, u32)> = HashMap::new();
        let mut locates: HashMap<u16, Stock> = HashMap::new();
        let (mut last_ts, mut last_ref, mut last_match) = (0u64, 0u64, 0u64);
        let mut seen = Mix::new();
        let mut events = Vec::new();
        for m in Frames::new(&buf) {
            let m = m.unwrap();
            seen.add(&m);
            let h = *m.header();
            assert!(h.timestamp_ns >= last_ts && (T_START..=T_END).contains(&h.timestamp_ns));
            last_ts = h.timestamp_ns;
            let loc = h.stock_locate;
            match m {
                Message::SystemEvent(s) => events.push(s.event_code),
                Message::StockDirectory(r) => {
                    assert!(locates.insert(h.stock_locate, r.stock).is_none(), "one directory per symbol");
                }
                Message::AddOrder(AddOrder { order_ref, shares, stock, .. })
                | Message::AddOrderMpid(AddOrderMpid { order_ref, shares, stock, .. }) => {
                    assert!(order_ref > last_ref, "order refs increase");
                    last_ref = order_ref;
                    assert_eq!(locates[&h.stock_locate], stock);
                    assert!(shares > 0);
                    book.insert(order_ref, (h.stock_locate, shares));
                }
                Message::OrderExecuted(e) => {
                    take(&mut book, loc, e.order_ref, e.executed_shares, false);
                    check_match(&mut last_match, e.match_number);
                }
                Message::OrderExecutedWithPrice(e) => {
                    take(&mut book, loc, e.order_ref, e.executed_shares, false);
                    check_match(&mut last_match, e.match_number);
                }
                Message::OrderCancel(x) => {
                    let left = book[&x.order_ref].1;
                    assert!(x.cancelled_shares < left, "a cancel is partial");
                    take(&mut book, loc, x.order_ref, x.cancelled_shares, false);
                }
                Message::OrderDelete(d) => {
                    let left = book.get(&d.order_ref).expect("delete of a live order").1;
                    take(&mut book, loc, d.order_ref, left, true);
                }
                Message::OrderReplace(u) => {
                    let (loc, _) = book.remove(&u.original_order_ref).expect("replace of a live order");
                    assert_eq!(loc, h.stock_locate);
                    assert!(u.new_order_ref > last_ref && u.shares > 0);
                    last_ref = u.new_order_ref;
                    book.insert(u.new_order_ref, (loc, u.shares));
                }
                Message::Trade(p) => check_match(&mut last_match, p.match_number),
                Message::CrossTrade(q) => check_match(&mut last_match, q.match_number),
                Message::BrokenTrade(b) => assert!(b.match_number >= 1 && b.match_number <= last_match),
                _ => {}
            }
        }
        assert_eq!(seen, mix);
        assert_eq!(events, b"OSQMEC", "system events in order");
        mix
    }

    #[test]
    fn generated_days_are_consistent_and_cover_every_type() {
        for seed in 0..4 {
            let mix = check_consistency(5_000, seed);
            for (kind, n) in mix.iter() {
                assert!(n > 0, "seed {seed}: no {}", kind.name());
            }
            // Order flow dominates.
            let flow: u64 = [
                MessageKind::AddOrder,
                MessageKind::AddOrderMpid,
                MessageKind::OrderDelete,
                MessageKind::OrderReplace,
                MessageKind::OrderExecuted,
                MessageKind::OrderCancel,
            ]
            .iter()
            .map(|&k| mix.count(k))
            .sum();
            assert!(flow * 10 > mix.total() * 8, "{mix}");
        }
        check_consistency(200_000, 42);
        check_consistency(30, 1);
    }

    #[test]
    fn live_orders_are_capped() {
        let cfg = GenConfig { max_live_orders: 50, ..GenConfig::new(20_000, 5) };
        let mut g = Generator::new(cfg);
        let mut max = 0;
        while g.next_message().is_some() {
            max = max.max(g.live_orders());
        }
        assert!(max <= 50, "{max}");
    }
}
