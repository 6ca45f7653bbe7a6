//! The engine and `StandardRisk` together (ARCHITECTURE.md "Inline risk"):
//!
//! - a property test over random limits, accounts, symbols (clob and
//!   paper, with and without an instrument reference price), market data
//!   and orders (limit, market, stop, stop-limit; DAY, GTC, IOC, FOK, GTD),
//!   replaces and cancels at increasing engine times: a rejected command
//!   changes no state, and no accepted order or replace breaches a
//!   configured limit, judged against the engine's own state;
//! - a boundary table through the engine: for every limit, the value at the
//!   limit is accepted and one unit over (lot, tick, millionth, order) is
//!   rejected with the limit's own reason.
//!
//! "Changes no state" is checked with a twin: two engines run the same
//! inputs in lockstep, except that where the first rejects a command the
//! twin gets a clock tick at the same time instead (a tick moves the
//! sequence number and the clock exactly as any input does, and nothing
//! else). The two must then have the same engine `state_hash` and the same
//! risk state. `PROPTEST_CASES` raises the case count.

use std::collections::BTreeMap;

use optix_engine::*;
use optix_risk::StandardRisk;
use proptest::prelude::*;

const SEC: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

// ---------------------------------------------------------------------------
// Twin engines: a reject must leave the state as a clock tick would
// ---------------------------------------------------------------------------

struct Twin {
    a: Engine<StandardRisk>,
    b: Engine<StandardRisk>,
}

impl Twin {
    fn new(build: impl Fn() -> Engine<StandardRisk>) -> Twin {
        Twin { a: build(), b: build() }
    }

    fn configure(&mut self, c: RiskConfig) {
        self.a.check_mut().configure(&c).unwrap();
        self.b.check_mut().configure(&c).unwrap();
    }

    /// Runs `input` at `t` on both engines and returns the events. When the
    /// first event is a reject, that reject must be the only event and the
    /// state (engine and risk) must equal the twin's after a plain tick.
    fn step(&mut self, t: u64, input: &Input) -> Vec<Event> {
        let mut ea = Vec::new();
        self.a.process(Nanos(t), input, &mut ea);
        let mut eb = Vec::new();
        let rejected = matches!(ea.first(), Some(Event { kind: EventKind::Rejected { .. }, .. }));
        if rejected {
            assert_eq!(ea.len(), 1, "a reject comes alone: {input:?} -> {ea:?}");
            self.b.process(Nanos(t), &Input::Tick, &mut eb);
            assert!(eb.is_empty(), "the twin's tick emitted {eb:?}");
        } else {
            self.b.process(Nanos(t), input, &mut eb);
            assert_eq!(ea, eb, "same inputs, same events");
        }
        assert_eq!(self.a.state_hash(), self.b.state_hash(), "engine state after {input:?} -> {ea:?}");
        assert!(self.a.check() == self.b.check(), "risk state after {input:?} -> {ea:?}");
        assert_eq!(self.a.check().state_hash(), self.b.check().state_hash());
        if let Err(e) = self.a.validate() {
            panic!("validate after {input:?} -> {ea:?}: {e}");
        }
        ea
    }
}

#[allow(clippy::too_many_arguments, reason = "an order's fields, flat, read best at the call sites")]
fn order(acct: usize, clid: u64, sym: usize, side: Side, ord_type: OrdType, px: i64, stop: i64, qty: i64) -> NewOrder {
    NewOrder {
        acct: AccountId(acct as u32),
        clid: ClientOrderId(clid),
        sym: SymbolId(sym as u32),
        side,
        ord_type,
        tif: Tif::Day,
        price: Price::from_ticks(px),
        stop_price: Price::from_ticks(stop),
        qty: Qty::from_lots(qty),
        display: Qty::ZERO,
        expire: Nanos(0),
        post_only: false,
    }
}

fn limit(acct: usize, clid: u64, sym: usize, side: Side, px: i64, qty: i64) -> Input {
    Input::NewOrder(order(acct, clid, sym, side, OrdType::Limit, px, 0, qty))
}

fn market(acct: usize, clid: u64, sym: usize, side: Side, qty: i64) -> Input {
    Input::NewOrder(order(acct, clid, sym, side, OrdType::Market, 0, 0, qty))
}

fn replace(acct: usize, clid: u64, px: i64, qty: i64) -> Input {
    Input::ReplaceOrder(ReplaceOrder {
        acct: AccountId(acct as u32),
        clid: ClientOrderId(clid),
        price: Price::from_ticks(px),
        qty: Qty::from_lots(qty),
    })
}

fn cancel(acct: usize, clid: u64) -> Input {
    Input::CancelOrder(CancelOrder { acct: AccountId(acct as u32), clid: ClientOrderId(clid) })
}

/// The reject reason if the command's first event is a reject.
fn rejected(ev: &[Event]) -> Option<RejectReason> {
    match ev.first()?.kind {
        EventKind::Rejected { reason, .. } => Some(reason),
        _ => None,
    }
}

/// Money of `lots` at `ticks` of an instrument, in millionths, worked out
/// here (half-even when a tick-lot is not a whole number of millionths).
fn notional(ins: &Instrument, ticks: i64, lots: i64) -> i128 {
    let n = i128::from(ticks) * i128::from(lots) * i128::from(ins.tick_units) * i128::from(ins.lot_size) * 1_000_000;
    let d = 10i128.pow(u32::from(ins.decimals));
    let (q, r) = (n.div_euclid(d), n.rem_euclid(d));
    if 2 * r > d || (2 * r == d && q % 2 != 0) {
        q + 1
    } else {
        q
    }
}

// ---------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------

/// Symbols: `(tick, lot, mode, base price in ticks)`. Every tick-lot is a
/// whole number of millionths.
const SYMS: [(&str, i64, VenueMode, i64); 3] =
    [("0.01", 1, VenueMode::Clob, 1_000), ("0.01", 10, VenueMode::Paper, 2_000), ("0.05", 100, VenueMode::Clob, 400)];
const ACCTS: usize = 3;

#[derive(Clone, Debug)]
struct AcctSetup {
    cash_units: i64,
    leverage: i64,
    stp: StpMode,
    per_share: i64,
    limits: RiskLimits,
}

#[derive(Clone, Debug)]
struct Setup {
    accts: Vec<AcctSetup>,
    /// Instrument reference price offsets from the base (`None`: no reference).
    refs: [Option<i64>; 3],
    restricted: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Limit,
    Market,
    Stop,
    StopLimit,
}

#[derive(Clone, Debug)]
enum Op {
    New {
        acct: usize,
        /// `Some(k)`: reuse an earlier client order id of the account (duplicate).
        dup: Option<usize>,
        sym: usize,
        side: Side,
        kind: Kind,
        tif: Tif,
        off: i64,
        stop_off: i64,
        qty: i64,
        post_only: bool,
        gtd_ms: u64,
    },
    Replace {
        acct: usize,
        /// Pick among every id the account sent, not only accepted ones.
        any: bool,
        pick: usize,
        off: Option<i64>,
        qty: Option<i64>,
    },
    Cancel {
        acct: usize,
        any: bool,
        pick: usize,
    },
    Quote {
        sym: usize,
        off: i64,
        spread: i64,
        bid_qty: Option<i64>,
        ask_qty: Option<i64>,
    },
    Print {
        sym: usize,
        off: i64,
        qty: i64,
    },
    Tick,
}

fn opt<T: std::fmt::Debug + Clone + 'static>(s: impl Strategy<Value = T> + 'static) -> BoxedStrategy<Option<T>> {
    prop_oneof![3 => Just(None), 2 => s.prop_map(Some)].boxed()
}

/// Limits small enough to bind often at the prices and sizes used here.
fn limits() -> impl Strategy<Value = RiskLimits> {
    let notional = prop_oneof![0i64..=200_000_000, 0i64..=4_000_000_000, 0i64..=30_000_000_000];
    (
        opt(0i64..=16),
        opt(notional.prop_map(Money::from_micros)),
        opt(0i64..=500),
        opt(prop_oneof![1 => Just(0u32), 6 => 1u32..=4]),
        opt(0i64..=20),
        opt(0i64..=20),
        any::<bool>(),
        opt(1u32..=3),
    )
        .prop_map(
            |(max_qty, max_notional, collar_bps, max_open_orders, max_long, max_short, buying_power, rate)| {
                RiskLimits {
                    max_qty,
                    max_notional,
                    collar_bps,
                    max_open_orders,
                    max_long,
                    max_short,
                    buying_power,
                    rate_per_sec: rate,
                }
            },
        )
}

fn setup() -> impl Strategy<Value = Setup> {
    let stp = prop_oneof![
        4 => Just(StpMode::None),
        1 => Just(StpMode::CancelNewest),
        1 => Just(StpMode::CancelOldest),
        1 => Just(StpMode::Decrement),
    ];
    let acct = (0i64..=20_000, prop_oneof![Just(100i64), Just(50), Just(200), Just(400)], stp, 0i64..=5_000, limits())
        .prop_map(|(cash_units, leverage, stp, per_share, limits)| AcctSetup {
            cash_units,
            leverage,
            stp,
            per_share,
            limits,
        });
    (proptest::collection::vec(acct, ACCTS), [opt(-20i64..=20), opt(-20i64..=20), opt(-5i64..=5)], opt(0..SYMS.len()))
        .prop_map(|(accts, refs, restricted)| Setup { accts, refs, restricted })
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn op() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![
        10 => Just(Kind::Limit),
        3 => Just(Kind::Market),
        2 => Just(Kind::Stop),
        2 => Just(Kind::StopLimit),
    ];
    let tif = prop_oneof![
        6 => Just(Tif::Day),
        3 => Just(Tif::Gtc),
        3 => Just(Tif::Ioc),
        1 => Just(Tif::Fok),
        2 => Just(Tif::Gtd),
    ];
    let new = (
        0..ACCTS,
        prop_oneof![12 => Just(None), 1 => (0usize..64).prop_map(Some)],
        0..SYMS.len(),
        side(),
        kind,
        tif,
        -40i64..=40,
        -30i64..=30,
        1i64..=14,
        prop::bool::weighted(0.1),
        1u64..=2_000,
    )
        .prop_map(|(acct, dup, sym, side, kind, tif, off, stop_off, qty, post_only, gtd_ms)| Op::New {
            acct,
            dup,
            sym,
            side,
            kind,
            tif,
            off,
            stop_off,
            qty,
            post_only,
            gtd_ms,
        });
    let size = prop_oneof![1 => Just(None), 5 => (1i64..=30).prop_map(Some)];
    prop_oneof![
        12 => new,
        4 => (0..ACCTS, prop::bool::weighted(0.15), 0usize..64, opt(-40i64..=40), opt(1i64..=16))
            .prop_map(|(acct, any, pick, off, qty)| Op::Replace { acct, any, pick, off, qty }),
        2 => (0..ACCTS, prop::bool::weighted(0.15), 0usize..64).prop_map(|(acct, any, pick)| Op::Cancel { acct, any, pick }),
        3 => (0..SYMS.len(), -30i64..=30, 1i64..=4, size.clone(), size)
            .prop_map(|(sym, off, spread, bid_qty, ask_qty)| Op::Quote { sym, off, spread, bid_qty, ask_qty }),
        2 => (0..SYMS.len(), -30i64..=30, 1i64..=20).prop_map(|(sym, off, qty)| Op::Print { sym, off, qty }),
        1 => Just(Op::Tick),
    ]
}

/// Time to the next command: often none (bursts), mostly under the refill
/// period of the throttle, sometimes long.
fn dt() -> impl Strategy<Value = u64> {
    prop_oneof![3 => Just(0u64), 6 => 1u64..=400 * MS, 1 => 400 * MS..=1_500 * MS]
}

fn build(s: &Setup) -> Engine<StandardRisk> {
    let mut e = Engine::new(EngineConfig::default(), StandardRisk::new());
    for (k, &(tick, lot, mode, base)) in SYMS.iter().enumerate() {
        let mut ins = Instrument::new(tick, lot, mode).unwrap();
        if let Some(off) = s.refs[k] {
            ins.ref_price = Price::from_ticks(base + off);
        }
        e.add_instrument(ins);
    }
    for (i, a) in s.accts.iter().enumerate() {
        let id = e.add_account(AccountSpec {
            stp: a.stp,
            cash: Money::from_micros(a.cash_units * 1_000_000),
            fees: FeeModel { per_share: Money::from_micros(a.per_share), centi_bps: 0 },
            leverage: a.leverage,
        });
        e.check_mut().configure(&RiskConfig::Limits(id, a.limits)).unwrap();
        assert_eq!(id.0 as usize, i);
    }
    if let Some(sym) = s.restricted {
        e.check_mut().configure(&RiskConfig::Restrict(SymbolId(sym as u32), true)).unwrap();
    }
    e
}

/// What the pre-trade check of a command sees of the engine, read through
/// the public API just before the command (after a tick at the same time,
/// so no GTD expiry runs inside the command).
struct Pre {
    /// Reference price per symbol: the instrument's, else the last trade (0: none).
    reference: Vec<i64>,
    /// The price a market order of each side is valued at, per symbol: the
    /// opposite best (the external quote in paper mode), else the reference.
    market_px: Vec<[i64; 2]>,
    buying_power: Vec<i64>,
}

impl Pre {
    fn of(e: &Engine<StandardRisk>) -> Pre {
        let mut reference = Vec::new();
        let mut market_px = Vec::new();
        for k in 0..SYMS.len() {
            let sym = SymbolId(k as u32);
            let ins = e.instrument(sym).unwrap();
            let r =
                if ins.ref_price.is_none() { e.last_price(sym).map_or(0, Price::ticks) } else { ins.ref_price.ticks() };
            let (best_bid, best_ask) = if ins.mode == VenueMode::Paper {
                let (bid, _, ask, _) = e.external_quote(sym).unwrap();
                (bid.ticks(), ask.ticks())
            } else {
                let (bid, ask) = e.top(sym);
                (bid.map_or(0, |l| l.0.ticks()), ask.map_or(0, |l| l.0.ticks()))
            };
            let or_ref = |p: i64| if p != 0 { p } else { r };
            reference.push(r);
            market_px.push([or_ref(best_ask), or_ref(best_bid)]);
        }
        let buying_power =
            (0..ACCTS).map(|a| e.account_report(AccountId(a as u32)).unwrap().buying_power.micros()).collect();
        Pre { reference, market_px, buying_power }
    }
}

/// An accepted new order or replace, as the check saw it.
struct Accepted {
    acct: usize,
    sym: usize,
    side: Side,
    /// Limit price (0: valued at the market, never collared).
    px: i64,
    /// Lots the check counted (a replace's new leaves).
    qty: i64,
    /// Stop price of a stop-market order (valued at it), else 0.
    stop: i64,
}

/// Asserts that an accepted order or replace breaches none of its
/// account's limits, each judged by the documented rule.
fn assert_within_limits(s: &Setup, e: &Engine<StandardRisk>, pre: &Pre, o: &Accepted, ev: &[Event], what: &str) {
    let l = &s.accts[o.acct].limits;
    let ins = *e.instrument(SymbolId(o.sym as u32)).unwrap();
    // Restricted symbols take no order from anyone.
    assert_ne!(s.restricted, Some(o.sym), "{what}: accepted in a restricted symbol");
    // Quantity: the lots the order adds (a replace's new leaves).
    if let Some(max) = l.max_qty {
        assert!(o.qty <= max, "{what}: qty {} > max_qty {max}", o.qty);
    }
    // Notional of those lots at the limit price; an order without one
    // (market, stop) at the price the engine values it at before it runs:
    // the opposite best, else the reference (zero when neither exists).
    if let Some(max) = l.max_notional {
        let px = if o.px != 0 {
            o.px
        } else if o.stop != 0 {
            o.stop
        } else {
            pre.market_px[o.sym][o.side as usize]
        };
        let n = notional(&ins, px, o.qty);
        assert!(n <= i128::from(max.micros()), "{what}: notional {n} > max_notional {}", max.micros());
    }
    // Collar: a limit price at most ref * bps / 10_000 ticks (rounded down)
    // from the reference the order met (the instrument's, else the last
    // trade before it; fills of this very order move it only afterwards).
    if let (Some(bps), true, r) = (l.collar_bps, o.px != 0, pre.reference[o.sym]) {
        if r != 0 {
            let band = r * bps / 10_000;
            assert!((o.px - r).abs() <= band, "{what}: price {} outside {r} +- {band}", o.px);
        }
    }
    // Buying power: the check lets an order through when the growth of the
    // account's open-order exposure (bp_used) is zero or negative, or at
    // most the buying power before it. When the order only went to work
    // (no fill, nothing cancelled: only its own accepted / replaced event
    // and level updates), nothing but that exposure moved, so the buying
    // power after it is >= 0 when the order used some, and >= what it was
    // otherwise: after >= min(before, 0).
    // A waiting stop-market order is valued at its stop price, both in the
    // check and in the open exposure.
    let only_worked = ev.iter().all(|x| {
        matches!(x.kind, EventKind::Accepted { .. } | EventKind::Replaced { .. } | EventKind::LevelChanged { .. })
    });
    if l.buying_power && only_worked {
        let before = pre.buying_power[o.acct];
        let after = e.account_report(AccountId(o.acct as u32)).unwrap().buying_power.micros();
        assert!(after >= before.min(0), "{what}: buying power {before} -> {after} ({ev:?})");
    }
}

/// Invariants that hold after every input: the open orders and the
/// worst-case positions of every account stay within its limits. Both can
/// grow only by an accepted order or replace (which the check saw with the
/// order in it); a fill moves lots from the open orders of one side into
/// the position (a buy: position + open buys unchanged; a sell: position
/// down, open sells down by as much, so `-position + open sells`
/// unchanged) and everything else only lowers them.
fn assert_invariants(s: &Setup, e: &Engine<StandardRisk>, what: &str) {
    for (a, cfg) in s.accts.iter().enumerate() {
        let acct = AccountId(a as u32);
        let l = &cfg.limits;
        if let Some(max) = l.max_open_orders {
            assert!(e.open_orders(acct) <= max, "{what}: acct {a} has {} open orders > {max}", e.open_orders(acct));
        }
        for k in 0..SYMS.len() {
            let p = e.position_report(acct, SymbolId(k as u32)).unwrap();
            let (q, buys, sells) = (p.qty.lots(), p.open_buy.lots(), p.open_sell.lots());
            if let Some(max) = l.max_long {
                assert!(q + buys <= max, "{what}: acct {a} sym {k}: position {q} + open buys {buys} > max_long {max}");
            }
            if let Some(max) = l.max_short {
                assert!(
                    sells - q <= max,
                    "{what}: acct {a} sym {k}: open sells {sells} - position {q} > max_short {max}"
                );
            }
        }
    }
}

/// The throttle as a bound that follows from the token bucket alone: the
/// bucket holds at most `rate` orders and refills `rate` per second, so the
/// orders accepted at times `t_i <= ... <= t_j` number at most
/// `rate + rate * (t_j - t_i) / 1s` (the refill cap only lowers this). In
/// particular any window of engine time shorter than one second holds at
/// most `2 * rate - 1` of them.
fn assert_throttle(rate: u32, times: &[u64], what: &str) {
    let t = *times.last().unwrap();
    for (i, &s) in times.iter().enumerate() {
        let n = (times.len() - i) as u128;
        let allowed = u128::from(rate) * u128::from(SEC) + u128::from(rate) * u128::from(t - s);
        assert!(n * u128::from(SEC) <= allowed, "{what}: {n} orders in [{s}, {t}] at {rate}/s");
    }
}

#[derive(Default, Debug)]
struct Stats {
    accepted: usize,
    rejected: BTreeMap<&'static str, usize>,
}

/// A client order id for a replace or cancel: mostly one of an accepted
/// order (which may have finished since), sometimes any the account sent.
fn pick_clid(sent: &[u64], accepted: &[u64], any: bool, pick: usize) -> Option<u64> {
    let from = if any || accepted.is_empty() { sent } else { accepted };
    from.get(pick % from.len().max(1)).copied()
}

fn run(s: &Setup, ops: &[(u64, Op)]) -> Stats {
    let mut twin = Twin::new(|| build(s));
    let mut stats = Stats::default();
    let mut now = SEC;
    let mut clids: Vec<Vec<u64>> = vec![Vec::new(); ACCTS];
    let mut accepted_clids: Vec<Vec<u64>> = vec![Vec::new(); ACCTS];
    // Symbol and side of every accepted order, by (account, client order id).
    let mut orders: BTreeMap<(usize, u64), (usize, Side)> = BTreeMap::new();
    let mut throttle_times: Vec<Vec<u64>> = vec![Vec::new(); ACCTS];
    let mut next_clid = 1u64;
    for (step, (dt, op)) in ops.iter().enumerate() {
        now += dt;
        // Expiries due by now happen here, not inside the command.
        twin.step(now, &Input::Tick);
        let pre = Pre::of(&twin.a);
        let what = format!("step {step} {op:?}");
        let input = match *op {
            Op::New { acct, dup, sym, side, kind, tif, off, stop_off, qty, post_only, gtd_ms } => {
                let clid = match dup.and_then(|k| clids[acct].get(k % clids[acct].len().max(1))) {
                    Some(&c) => c,
                    None => {
                        next_clid += 1;
                        next_clid
                    }
                };
                clids[acct].push(clid);
                let base = SYMS[sym].3;
                let (ord_type, px, stop) = match kind {
                    Kind::Limit => (OrdType::Limit, base + off, 0),
                    Kind::Market => (OrdType::Market, 0, 0),
                    Kind::Stop => (OrdType::Stop, 0, base + stop_off),
                    Kind::StopLimit => (OrdType::StopLimit, base + off, base + stop_off),
                };
                let mut o = order(acct, clid, sym, side, ord_type, px, stop, qty);
                o.tif = tif;
                o.post_only = post_only;
                if tif == Tif::Gtd {
                    o.expire = Nanos(now + gtd_ms * MS);
                }
                Input::NewOrder(o)
            }
            Op::Replace { acct, any, pick, off, qty } => {
                let Some(clid) = pick_clid(&clids[acct], &accepted_clids[acct], any, pick) else { continue };
                Input::ReplaceOrder(ReplaceOrder {
                    acct: AccountId(acct as u32),
                    clid: ClientOrderId(clid),
                    // Around the base of the order's symbol (any symbol's
                    // for an id that never got accepted: a reject anyway).
                    price: off.map_or(Price::NONE, |o| {
                        let sym = orders.get(&(acct, clid)).map_or(pick % SYMS.len(), |x| x.0);
                        Price::from_ticks(SYMS[sym].3 + o)
                    }),
                    qty: qty.map_or(Qty::ZERO, Qty::from_lots),
                })
            }
            Op::Cancel { acct, any, pick } => {
                let Some(clid) = pick_clid(&clids[acct], &accepted_clids[acct], any, pick) else { continue };
                cancel(acct, clid)
            }
            Op::Quote { sym, off, spread, bid_qty, ask_qty } => {
                let bid = SYMS[sym].3 + off;
                let q = |px: i64, l: Option<i64>| {
                    l.map_or((Price::NONE, Qty::ZERO), |l| (Price::from_ticks(px), Qty::from_lots(l)))
                };
                let ((bid, bid_qty), (ask, ask_qty)) = (q(bid, bid_qty), q(bid + spread, ask_qty));
                Input::Quote(ExtQuote { sym: SymbolId(sym as u32), bid, bid_qty, ask, ask_qty })
            }
            Op::Print { sym, off, qty } => Input::TradePrint(TradePrint {
                sym: SymbolId(sym as u32),
                price: Price::from_ticks(SYMS[sym].3 + off),
                qty: Qty::from_lots(qty),
            }),
            Op::Tick => Input::Tick,
        };
        let ev = twin.step(now, &input);
        let e = &twin.a;
        match (&input, ev.first().map(|x| x.kind)) {
            (Input::NewOrder(_) | Input::ReplaceOrder(_), Some(EventKind::Rejected { reason, .. })) => {
                *stats.rejected.entry(reason.as_str()).or_default() += 1;
            }
            (Input::NewOrder(o), Some(EventKind::Accepted { sym, side, price, qty, stop, ord_type, .. })) => {
                stats.accepted += 1;
                let stop = if ord_type == OrdType::Stop { stop.ticks() } else { 0 };
                let (acct, sym, px, qty) = (o.acct.0 as usize, sym.0 as usize, price.ticks(), qty.lots());
                let a = Accepted { acct, sym, side, px, qty, stop };
                orders.insert((a.acct, o.clid.0), (a.sym, side));
                accepted_clids[a.acct].push(o.clid.0);
                assert_within_limits(s, e, &pre, &a, &ev, &what);
                throttle_times[a.acct].push(e.now().0);
            }
            (Input::ReplaceOrder(r), Some(EventKind::Replaced { sym, price, leaves, stop, .. })) => {
                stats.accepted += 1;
                let acct = r.acct.0 as usize;
                let side = orders[&(acct, r.clid.0)].1;
                let stop = if price.is_none() { stop.ticks() } else { 0 };
                let a = Accepted { acct, sym: sym.0 as usize, side, px: price.ticks(), qty: leaves.lots(), stop };
                assert_within_limits(s, e, &pre, &a, &ev, &what);
                throttle_times[acct].push(e.now().0);
            }
            (Input::NewOrder(_) | Input::ReplaceOrder(_), first) => panic!("{what}: first event {first:?}"),
            _ => {}
        }
        for (a, times) in throttle_times.iter().enumerate() {
            if let (Some(rate), false) = (s.accts[a].limits.rate_per_sec, times.is_empty()) {
                assert_throttle(rate, times, &what);
            }
        }
        assert_invariants(s, e, &what);
    }
    stats
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A rejected command changes no state, and no accepted order or
    /// replace breaches a configured limit.
    #[test]
    fn rejects_change_nothing_and_accepted_orders_breach_no_limit(
        s in setup(),
        ops in proptest::collection::vec((dt(), op()), 1..100),
    ) {
        let stats = run(&s, &ops);
        if std::env::var_os("RISK_STATS").is_some() {
            eprintln!("{stats:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// The boundary table, through the engine
// ---------------------------------------------------------------------------

/// Account `A` (limited) and `B` (no limits, the counterparty).
const A: usize = 0;
const B: usize = 1;
/// `0.01` x 1, instrument reference 100.00 (10_000 ticks): a tick-lot is 10_000 millionths.
const S_REF: usize = 0;
/// `0.01` x 1 without a reference: the last trade is the reference.
const S_LAST: usize = 1;
/// `0.000001` x 1: a tick-lot is one millionth.
const S_MICRO: usize = 2;

fn bench(limits: RiskLimits, cash_micros: i64, leverage: i64) -> Twin {
    let mut tw = Twin::new(|| {
        let mut e = Engine::new(EngineConfig::default(), StandardRisk::new());
        let mut with_ref = Instrument::new("0.01", 1, VenueMode::Clob).unwrap();
        with_ref.ref_price = Price::from_ticks(10_000);
        e.add_instrument(with_ref);
        e.add_instrument(Instrument::new("0.01", 1, VenueMode::Clob).unwrap());
        e.add_instrument(Instrument::new("0.000001", 1, VenueMode::Clob).unwrap());
        let spec = AccountSpec { cash: Money::from_micros(cash_micros), leverage, ..AccountSpec::default() };
        e.add_account(spec);
        e.add_account(AccountSpec { cash: Money::from_micros(1_000_000_000_000), ..AccountSpec::default() });
        e
    });
    tw.configure(RiskConfig::Limits(AccountId(A as u32), limits));
    tw
}

/// Runs a command that must go through; returns its events.
#[track_caller]
fn ok(tw: &mut Twin, t: u64, input: Input) -> Vec<Event> {
    let ev = tw.step(t, &input);
    assert_eq!(rejected(&ev), None, "{input:?} was rejected");
    ev
}

/// Runs a command that must be rejected with `reason` (and change nothing:
/// the twin checks that).
#[track_caller]
fn no(tw: &mut Twin, t: u64, input: Input, reason: RejectReason) {
    let ev = tw.step(t, &input);
    assert_eq!(rejected(&ev), Some(reason), "{input:?} -> {ev:?}");
}

const T: u64 = 10 * SEC;

#[test]
fn boundary_max_qty_counts_lots_and_a_replace_s_new_leaves() {
    let mut tw = bench(RiskLimits { max_qty: Some(10), ..RiskLimits::default() }, 0, 100);
    ok(&mut tw, T, limit(A, 1, S_REF, Side::Buy, 10_000, 10));
    no(&mut tw, T, limit(A, 2, S_REF, Side::Buy, 10_000, 11), RejectReason::MaxQty);
    no(&mut tw, T, replace(A, 1, 0, 11), RejectReason::MaxQty);
    // 4 of the 10 fill: a total of 14 leaves 10 (at the limit), 15 leaves 11.
    ok(&mut tw, T, limit(B, 1, S_REF, Side::Sell, 10_000, 4));
    ok(&mut tw, T, replace(A, 1, 0, 14));
    no(&mut tw, T, replace(A, 1, 0, 15), RejectReason::MaxQty);
    ok(&mut tw, T, market(A, 3, S_REF, Side::Sell, 10));
    no(&mut tw, T, market(A, 4, S_REF, Side::Sell, 11), RejectReason::MaxQty);
}

#[test]
fn boundary_max_notional_to_the_millionth() {
    let mut tw = bench(RiskLimits { max_notional: Some(Money::from_micros(1_000)), ..RiskLimits::default() }, 0, 100);
    // One tick-lot of S_MICRO is one millionth.
    ok(&mut tw, T, limit(A, 1, S_MICRO, Side::Buy, 1_000, 1));
    no(&mut tw, T, limit(A, 2, S_MICRO, Side::Buy, 1_001, 1), RejectReason::MaxNotional);
    ok(&mut tw, T, limit(A, 3, S_MICRO, Side::Buy, 100, 10));
    no(&mut tw, T, limit(A, 4, S_MICRO, Side::Buy, 91, 11), RejectReason::MaxNotional);
    no(&mut tw, T, replace(A, 1, 1_001, 0), RejectReason::MaxNotional);
    no(&mut tw, T, replace(A, 3, 0, 11), RejectReason::MaxNotional);
    // A market order is valued at the opposite best.
    ok(&mut tw, T, cancel(A, 1));
    ok(&mut tw, T, cancel(A, 3));
    ok(&mut tw, T, limit(B, 1, S_MICRO, Side::Sell, 1_001, 5));
    no(&mut tw, T, market(A, 5, S_MICRO, Side::Buy, 1), RejectReason::MaxNotional);
    ok(&mut tw, T, limit(B, 2, S_MICRO, Side::Sell, 1_000, 1));
    let ev = ok(&mut tw, T, market(A, 6, S_MICRO, Side::Buy, 1));
    assert!(ev.iter().any(|x| matches!(x.kind, EventKind::Filled { price, .. } if price.ticks() == 1_000)));
    // The ask is back at 1_001.
    no(&mut tw, T, market(A, 7, S_MICRO, Side::Buy, 1), RejectReason::MaxNotional);
}

#[test]
fn boundary_price_collar_around_the_instrument_reference_then_the_last_trade() {
    // 55 bps: 55 ticks around 10_000; 5.5 -> 5 ticks around 1_000.
    let mut tw = bench(RiskLimits { collar_bps: Some(55), ..RiskLimits::default() }, 0, 100);
    ok(&mut tw, T, limit(A, 1, S_REF, Side::Buy, 10_055, 1));
    no(&mut tw, T, limit(A, 2, S_REF, Side::Buy, 10_056, 1), RejectReason::PriceCollar);
    ok(&mut tw, T, limit(A, 3, S_REF, Side::Buy, 9_945, 1));
    no(&mut tw, T, limit(A, 4, S_REF, Side::Buy, 9_944, 1), RejectReason::PriceCollar);
    no(&mut tw, T, replace(A, 1, 10_056, 0), RejectReason::PriceCollar);
    ok(&mut tw, T, replace(A, 1, 10_054, 0));
    // No reference yet: not collared.
    ok(&mut tw, T, limit(A, 5, S_LAST, Side::Sell, 5_000, 1));
    ok(&mut tw, T, cancel(A, 5));
    // An external print sets the reference: 1_000 +- 5.
    ok(
        &mut tw,
        T,
        Input::TradePrint(TradePrint {
            sym: SymbolId(S_LAST as u32),
            price: Price::from_ticks(1_000),
            qty: Qty::from_lots(1),
        }),
    );
    ok(&mut tw, T, limit(A, 6, S_LAST, Side::Sell, 1_005, 1));
    no(&mut tw, T, limit(A, 7, S_LAST, Side::Sell, 1_006, 1), RejectReason::PriceCollar);
    ok(&mut tw, T, limit(A, 8, S_LAST, Side::Buy, 995, 1));
    no(&mut tw, T, limit(A, 9, S_LAST, Side::Buy, 994, 1), RejectReason::PriceCollar);
    // So does a trade in the engine's own book: 1_003 +- 5.
    ok(&mut tw, T, limit(B, 1, S_LAST, Side::Buy, 1_003, 1));
    ok(&mut tw, T, limit(A, 10, S_LAST, Side::Sell, 1_003, 1));
    assert_eq!(tw.a.last_price(SymbolId(S_LAST as u32)), Some(Price::from_ticks(1_003)));
    ok(&mut tw, T, limit(A, 11, S_LAST, Side::Sell, 1_008, 1));
    no(&mut tw, T, limit(A, 12, S_LAST, Side::Sell, 1_009, 1), RejectReason::PriceCollar);
}

#[test]
fn boundary_max_open_orders_counts_working_orders() {
    let mut tw = bench(RiskLimits { max_open_orders: Some(2), ..RiskLimits::default() }, 0, 100);
    ok(&mut tw, T, limit(A, 1, S_REF, Side::Buy, 9_990, 1));
    ok(&mut tw, T, Input::NewOrder(order(A, 2, S_REF, Side::Buy, OrdType::Stop, 0, 10_100, 1)));
    no(&mut tw, T, limit(A, 3, S_REF, Side::Buy, 9_990, 1), RejectReason::MaxOpenOrders);
    // A replace adds no order.
    ok(&mut tw, T, replace(A, 1, 9_991, 5));
    // A market order that fills in full is still checked as one more order.
    ok(&mut tw, T, limit(B, 1, S_REF, Side::Sell, 10_000, 5));
    no(&mut tw, T, market(A, 4, S_REF, Side::Buy, 1), RejectReason::MaxOpenOrders);
    ok(&mut tw, T, cancel(A, 1));
    ok(&mut tw, T, limit(A, 5, S_REF, Side::Buy, 9_990, 1));
    assert_eq!(tw.a.open_orders(AccountId(A as u32)), 2);
}

#[test]
fn boundary_position_limit_counts_open_orders_long_and_short_apart() {
    let limits = RiskLimits { max_long: Some(10), max_short: Some(5), ..RiskLimits::default() };
    let mut tw = bench(limits, 0, 100);
    ok(&mut tw, T, limit(B, 1, S_REF, Side::Sell, 10_000, 4));
    ok(&mut tw, T, limit(A, 1, S_REF, Side::Buy, 10_000, 4));
    assert_eq!(tw.a.position(AccountId(A as u32), SymbolId(S_REF as u32)), 4);
    // Long 4 + working buys 6 = 10.
    ok(&mut tw, T, limit(A, 2, S_REF, Side::Buy, 9_990, 6));
    no(&mut tw, T, limit(A, 3, S_REF, Side::Buy, 9_990, 1), RejectReason::PositionLimit);
    no(&mut tw, T, replace(A, 2, 0, 7), RejectReason::PositionLimit);
    // Short side: working sells 9 - long 4 = 5.
    ok(&mut tw, T, limit(A, 4, S_REF, Side::Sell, 10_050, 9));
    no(&mut tw, T, limit(A, 5, S_REF, Side::Sell, 10_050, 1), RejectReason::PositionLimit);
    // Another symbol has its own limit.
    ok(&mut tw, T, limit(A, 6, S_LAST, Side::Sell, 1_000, 5));
    no(&mut tw, T, limit(A, 7, S_LAST, Side::Sell, 1_000, 1), RejectReason::PositionLimit);
}

#[test]
fn boundary_buying_power_to_the_millionth_with_leverage() {
    for (cash, leverage) in [(1_000, 100), (500, 200), (4_000, 25)] {
        // Buying power 1_000 millionths; a tick-lot of S_MICRO is one millionth.
        let mut tw = bench(RiskLimits { buying_power: true, ..RiskLimits::default() }, cash, leverage);
        let bp = |tw: &Twin| tw.a.account_report(AccountId(A as u32)).unwrap().buying_power.micros();
        assert_eq!(bp(&tw), 1_000);
        ok(&mut tw, T, limit(A, 1, S_MICRO, Side::Buy, 1_000, 1));
        assert_eq!(bp(&tw), 0);
        no(&mut tw, T, limit(A, 2, S_MICRO, Side::Buy, 1, 1), RejectReason::BuyingPower);
        // A flat account's sell adds exposure too.
        no(&mut tw, T, limit(A, 3, S_MICRO, Side::Sell, 1, 1), RejectReason::BuyingPower);
        no(&mut tw, T, replace(A, 1, 1_001, 0), RejectReason::BuyingPower);
        ok(&mut tw, T, replace(A, 1, 400, 2));
        ok(&mut tw, T, limit(A, 4, S_MICRO, Side::Buy, 200, 1));
        no(&mut tw, T, limit(A, 5, S_MICRO, Side::Buy, 1, 1), RejectReason::BuyingPower);
    }
    // An order that only closes a position uses none.
    let mut tw = bench(RiskLimits { buying_power: true, ..RiskLimits::default() }, 1_000, 100);
    ok(&mut tw, T, limit(B, 1, S_MICRO, Side::Sell, 1_000, 1));
    ok(&mut tw, T, limit(A, 1, S_MICRO, Side::Buy, 1_000, 1));
    assert_eq!(tw.a.account_report(AccountId(A as u32)).unwrap().buying_power.micros(), 0);
    no(&mut tw, T, limit(A, 2, S_MICRO, Side::Buy, 1, 1), RejectReason::BuyingPower);
    ok(&mut tw, T, limit(A, 3, S_MICRO, Side::Sell, 5_000, 1));
    no(&mut tw, T, limit(A, 4, S_MICRO, Side::Sell, 5_000, 1), RejectReason::BuyingPower);
}

#[test]
fn boundary_throttle_burst_refill_cancels_and_triggered_stops() {
    let mut tw = bench(RiskLimits { rate_per_sec: Some(2), ..RiskLimits::default() }, 0, 100);
    ok(&mut tw, T, limit(A, 1, S_REF, Side::Buy, 9_990, 1));
    ok(&mut tw, T, limit(A, 2, S_REF, Side::Buy, 9_990, 1));
    no(&mut tw, T, limit(A, 3, S_REF, Side::Buy, 9_990, 1), RejectReason::Throttled);
    // Cancels are never throttled.
    ok(&mut tw, T, cancel(A, 1));
    // One order per 500 ms refills.
    no(&mut tw, T + 500 * MS - 1, limit(A, 4, S_REF, Side::Buy, 9_990, 1), RejectReason::Throttled);
    ok(&mut tw, T + 500 * MS, limit(A, 5, S_REF, Side::Buy, 9_990, 1));
    // A replace takes a token like a new order.
    no(&mut tw, T + 500 * MS, replace(A, 2, 9_991, 0), RejectReason::Throttled);
    ok(&mut tw, T + 1_000 * MS, replace(A, 2, 9_991, 0));
    // After a quiet second the bucket holds the full burst again, no more.
    let t = T + 3 * SEC;
    ok(&mut tw, t, Input::NewOrder(order(A, 6, S_LAST, Side::Buy, OrdType::Stop, 0, 1_000, 1)));
    ok(&mut tw, t, limit(A, 7, S_REF, Side::Buy, 9_990, 1));
    no(&mut tw, t, limit(A, 8, S_REF, Side::Buy, 9_990, 1), RejectReason::Throttled);
    // A stop that triggers with the bucket empty is not throttled (it
    // spent its token on entry): it runs as a market order.
    let print = TradePrint { sym: SymbolId(S_LAST as u32), price: Price::from_ticks(1_000), qty: Qty::from_lots(1) };
    let ev = ok(&mut tw, t, Input::TradePrint(print));
    assert!(matches!(ev[0].kind, EventKind::Triggered { .. }), "{ev:?}");
    assert!(matches!(ev[1].kind, EventKind::Cancelled { reason: CancelReason::NoLiquidity, .. }), "{ev:?}");
}

#[test]
fn boundary_restricted_symbol_for_every_account() {
    let mut tw = bench(RiskLimits::default(), 0, 100);
    ok(&mut tw, T, limit(A, 1, S_LAST, Side::Buy, 1_000, 1));
    tw.configure(RiskConfig::Restrict(SymbolId(S_LAST as u32), true));
    no(&mut tw, T, limit(A, 2, S_LAST, Side::Buy, 1_000, 1), RejectReason::RestrictedSymbol);
    no(&mut tw, T, limit(B, 1, S_LAST, Side::Sell, 1_000, 1), RejectReason::RestrictedSymbol);
    no(&mut tw, T, replace(A, 1, 999, 0), RejectReason::RestrictedSymbol);
    ok(&mut tw, T, limit(A, 3, S_REF, Side::Buy, 10_000, 1));
    ok(&mut tw, T, cancel(A, 1));
    tw.configure(RiskConfig::Restrict(SymbolId(S_LAST as u32), false));
    ok(&mut tw, T, limit(A, 4, S_LAST, Side::Buy, 1_000, 1));
}

#[test]
fn a_triggered_stop_is_checked_again() {
    // Entered inside the collar around the last trade; by the time it
    // triggers the last trade has moved and its limit is outside.
    let mut tw = bench(RiskLimits { collar_bps: Some(100), ..RiskLimits::default() }, 0, 100);
    let print = |px| {
        Input::TradePrint(TradePrint {
            sym: SymbolId(S_LAST as u32),
            price: Price::from_ticks(px),
            qty: Qty::from_lots(1),
        })
    };
    ok(&mut tw, T, print(1_000));
    no(
        &mut tw,
        T,
        Input::NewOrder(order(A, 1, S_LAST, Side::Buy, OrdType::StopLimit, 1_011, 1_005, 1)),
        RejectReason::PriceCollar,
    );
    ok(&mut tw, T, Input::NewOrder(order(A, 2, S_LAST, Side::Buy, OrdType::StopLimit, 1_010, 1_005, 1)));
    let ev = tw.step(T, &print(1_100));
    assert!(matches!(ev[0].kind, EventKind::Triggered { .. }), "{ev:?}");
    assert!(
        matches!(ev[1].kind, EventKind::Rejected { reason: RejectReason::PriceCollar, cmd: CmdKind::New, .. }),
        "{ev:?}"
    );
    assert_eq!(ev.len(), 2);
    assert_eq!(tw.a.open_orders(AccountId(A as u32)), 0);
}
