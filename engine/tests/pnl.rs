//! Property test of the money identity (ARCHITECTURE.md "Accounts,
//! positions, P&L"): over random fill sequences, after every input and for
//! every account, to the millionth,
//!
//! `cash + sum(position mark values) = starting cash + realized + unrealized - fees`.
//!
//! The engine's own reports must satisfy it, and they must also agree with
//! figures this test works out on its own from the `filled` events and the
//! quotes it sent, with exact integer math and its own half-even rounding
//! (no engine code): each fill's notional and fee, the cash, the position
//! quantities, the fees paid, every position's mark value (the quote's mid
//! in half ticks), and realized + unrealized = (cash - start + fees) +
//! sum(mark values).
//!
//! Instruments with different ticks, decimals and lot sizes (one with seven
//! decimals, so a notional is a fraction of a millionth and rounds), each in
//! a random venue mode: `clob` orders cross between (and within) accounts,
//! `paper` orders fill against the random external quotes and prints.
//! Accounts have random cash, per-share and basis-point fees and leverage.
//! `PROPTEST_CASES` raises the case count.

use std::collections::BTreeMap;

use optix_engine::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Instruments: `(tick, lot size, base price in ticks)`. The base price
/// keeps every price realistic (0.12 to 100.00 a share).
const INSTRUMENTS: [(&str, i64, i64); 5] = [
    // 1 tick * 1 lot = 1.00: whole.
    ("0.01", 100, 10_000),
    // 0.0001 * 1 = 100 millionths: whole.
    ("0.0001", 1, 500_000),
    // 0.05 * 10 = 0.50: whole.
    ("0.05", 10, 400),
    // 0.0000001 * 1 = 0.1 millionth: every notional rounds half-even.
    ("0.0000001", 1, 1_234_567),
    // 0.0000003 * 7 = 2.1 millionths: rounds too.
    ("0.0000003", 7, 3_000_001),
];
const SYMS: usize = INSTRUMENTS.len();
const ACCTS: usize = 4;

// ---------------------------------------------------------------------------
// The test's own arithmetic
// ---------------------------------------------------------------------------

/// `n / d` (d > 0) rounded half to even, written here independently of the
/// engine's.
fn half_even(n: i128, d: i128) -> i128 {
    assert!(d > 0);
    let q = n.div_euclid(d);
    let r = n.rem_euclid(d);
    if 2 * r > d || (2 * r == d && q % 2 != 0) {
        q + 1
    } else {
        q
    }
}

/// Money of one tick times one lot of an instrument, as `num / den` millionths.
#[derive(Clone, Copy, Debug)]
struct Unit {
    num: i128,
    den: i128,
    lot: i64,
}

impl Unit {
    fn of(i: &Instrument) -> Unit {
        Unit {
            num: i128::from(i.tick_units) * i128::from(i.lot_size) * 1_000_000,
            den: 10i128.pow(u32::from(i.decimals)),
            lot: i.lot_size,
        }
    }
    /// Notional of `lots` at `ticks`, half-even to the millionth.
    fn notional(&self, ticks: i64, lots: i64) -> i128 {
        half_even(i128::from(ticks) * i128::from(lots) * self.num, self.den)
    }
    /// Value of `lots` (signed) at the mid `mark2 / 2` ticks.
    fn mark_value(&self, mark2: i64, lots: i64) -> i128 {
        half_even(i128::from(mark2) * i128::from(lots) * self.num, self.den * 2)
    }
    /// Commission: per share plus hundredths of a basis point of the notional.
    fn fee(&self, f: &FeeModel, lots: i64, notional: i128) -> i128 {
        i128::from(f.per_share.micros()) * i128::from(lots) * i128::from(self.lot)
            + half_even(notional * i128::from(f.centi_bps), 1_000_000)
    }
}

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct AcctCfg {
    cash_units: i64,
    fees: FeeModel,
    leverage: i64,
}

#[derive(Clone, Debug)]
enum Op {
    /// A quote around the base: bid at `base + off`, ask `spread` ticks
    /// above; either side may be missing (`None` size).
    Quote { sym: usize, off: i64, spread: i64, bid_qty: Option<i64>, ask_qty: Option<i64> },
    /// An order; `market` ignores `off`.
    Order { acct: usize, sym: usize, side: Side, market: bool, off: i64, qty: i64, ioc: bool },
    /// An external print at `base + off`.
    Print { sym: usize, off: i64, qty: i64 },
    /// Cancel one of the account's earlier orders.
    Cancel { acct: usize, pick: usize },
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn op() -> impl Strategy<Value = Op> {
    let size = prop_oneof![1 => Just(None), 6 => (1i64..=60).prop_map(Some)];
    prop_oneof![
        3 => (0..SYMS, -40i64..=40, 1i64..=6, size.clone(), size)
            .prop_map(|(sym, off, spread, bid_qty, ask_qty)| Op::Quote { sym, off, spread, bid_qty, ask_qty }),
        10 => (0..ACCTS, 0..SYMS, side(), prop::bool::weighted(0.15), -30i64..=30, 1i64..=40, prop::bool::weighted(0.2))
            .prop_map(|(acct, sym, side, market, off, qty, ioc)| Op::Order { acct, sym, side, market, off, qty, ioc }),
        1 => (0..SYMS, -45i64..=45, 1i64..=50).prop_map(|(sym, off, qty)| Op::Print { sym, off, qty }),
        1 => (0..ACCTS, 0usize..64).prop_map(|(acct, pick)| Op::Cancel { acct, pick }),
    ]
}

fn acct_cfg() -> impl Strategy<Value = AcctCfg> {
    (0i64..=5_000_000, prop_oneof![Just(0i64), 0i64..=5_000], prop_oneof![Just(0i64), 0i64..=500], 50i64..=400)
        .prop_map(|(cash_units, per_share, centi_bps, leverage)| AcctCfg {
            cash_units,
            fees: FeeModel { per_share: Money::from_micros(per_share), centi_bps },
            leverage,
        })
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

/// What the test knows independently of the engine.
struct Books {
    units: Vec<Unit>,
    /// Twice the mid of the latest quote per symbol (0: none yet), kept by
    /// the engine's documented rule: a quote with no side keeps the old mark.
    mark2: Vec<i64>,
    start: Vec<i128>,
    cash: Vec<i128>,
    fees: Vec<i128>,
    /// `(acct, sym)` -> signed lots.
    qty: BTreeMap<(usize, usize), i64>,
    /// `(acct, sym)` -> sum of signed notionals (buys positive).
    flow: BTreeMap<(usize, usize), i128>,
    fee_models: Vec<FeeModel>,
    leverage: Vec<i64>,
}

fn run(modes: &[bool; SYMS], accts: &[AcctCfg], ops: &[Op]) -> Result<usize, TestCaseError> {
    let mut e = Engine::new(EngineConfig::default(), Permissive);
    let mut units = Vec::new();
    for (k, &(tick, lot, _)) in INSTRUMENTS.iter().enumerate() {
        let mode = if modes[k] { VenueMode::Paper } else { VenueMode::Clob };
        let ins = Instrument::new(tick, lot, mode).unwrap();
        units.push(Unit::of(&ins));
        e.add_instrument(ins);
    }
    let mut books = Books {
        units,
        mark2: vec![0; SYMS],
        start: Vec::new(),
        cash: Vec::new(),
        fees: vec![0; accts.len()],
        qty: BTreeMap::new(),
        flow: BTreeMap::new(),
        fee_models: Vec::new(),
        leverage: Vec::new(),
    };
    for a in accts {
        let cash = Money::from_micros(a.cash_units * 1_000_000);
        e.add_account(AccountSpec { stp: StpMode::None, cash, fees: a.fees, leverage: a.leverage });
        books.start.push(i128::from(cash.micros()));
        books.cash.push(i128::from(cash.micros()));
        books.fee_models.push(a.fees);
        books.leverage.push(a.leverage);
    }
    let mut clids: Vec<Vec<u64>> = vec![Vec::new(); accts.len()];
    let mut next_clid = 1u64;
    let mut fills = 0usize;
    for (step, op) in ops.iter().enumerate() {
        let t = Nanos(1_000 * (step as u64 + 1));
        let input = match *op {
            Op::Quote { sym, off, spread, bid_qty, ask_qty } => {
                let side = |q: Option<i64>, px: i64| match q {
                    Some(q) => (Price::from_ticks(px), Qty::from_lots(q)),
                    None => (Price::NONE, Qty::ZERO),
                };
                let (bid, bid_qty) = side(bid_qty, INSTRUMENTS[sym].2 + off);
                let (ask, ask_qty) = side(ask_qty, INSTRUMENTS[sym].2 + off + spread);
                let m2 = match (bid.ticks(), ask.ticks()) {
                    (0, 0) => books.mark2[sym],
                    (0, a) => 2 * a,
                    (b, 0) => 2 * b,
                    (b, a) => b + a,
                };
                books.mark2[sym] = m2;
                Input::Quote(ExtQuote { sym: SymbolId(sym as u32), bid, bid_qty, ask, ask_qty })
            }
            Op::Order { acct, sym, side, market, off, qty, ioc } => {
                let clid = next_clid;
                next_clid += 1;
                clids[acct].push(clid);
                Input::NewOrder(NewOrder {
                    acct: AccountId(acct as u32),
                    clid: ClientOrderId(clid),
                    sym: SymbolId(sym as u32),
                    side,
                    ord_type: if market { OrdType::Market } else { OrdType::Limit },
                    tif: if ioc { Tif::Ioc } else { Tif::Day },
                    price: if market { Price::NONE } else { Price::from_ticks(INSTRUMENTS[sym].2 + off) },
                    stop_price: Price::NONE,
                    qty: Qty::from_lots(qty),
                    display: Qty::ZERO,
                    expire: Nanos(0),
                    post_only: false,
                })
            }
            Op::Print { sym, off, qty } => Input::TradePrint(TradePrint {
                sym: SymbolId(sym as u32),
                price: Price::from_ticks(INSTRUMENTS[sym].2 + off),
                qty: Qty::from_lots(qty),
            }),
            Op::Cancel { acct, pick } => {
                let Some(&clid) = clids[acct].get(pick % clids[acct].len().max(1)) else { continue };
                Input::CancelOrder(CancelOrder { acct: AccountId(acct as u32), clid: ClientOrderId(clid) })
            }
        };
        let mut out: Vec<Event> = Vec::new();
        e.process(t, &input, &mut out);
        // Positions and funds agree with the working orders (exactly, also
        // with tick-lots that are not whole millionths).
        e.validate().unwrap();
        for ev in &out {
            if let EventKind::Filled { order, sym, side, price, qty, fee, .. } = ev.kind {
                fills += 1;
                let (a, s) = (order.acct.0 as usize, sym.0 as usize);
                let u = books.units[s];
                let notional = u.notional(price.ticks(), qty.lots());
                let want_fee = u.fee(&books.fee_models[a], qty.lots(), notional);
                prop_assert_eq!(
                    i128::from(fee.micros()),
                    want_fee,
                    "step {}: fee of {:?} ({} lots at {} ticks, notional {})",
                    step,
                    order,
                    qty.lots(),
                    price.ticks(),
                    notional
                );
                let signed = if side == Side::Buy { notional } else { -notional };
                books.cash[a] -= signed + want_fee;
                books.fees[a] += want_fee;
                *books.qty.entry((a, s)).or_default() += if side == Side::Buy { qty.lots() } else { -qty.lots() };
                *books.flow.entry((a, s)).or_default() += signed;
            }
        }
        check(&e, &books, step)?;
    }
    Ok(fills)
}

/// Every identity, for every account, after one input.
fn check(e: &Engine<Permissive>, books: &Books, step: usize) -> Result<(), TestCaseError> {
    for a in 0..books.start.len() {
        let r = e.account_report(AccountId(a as u32)).unwrap();
        let m = |v: Money| i128::from(v.micros());
        let (cash, start, fees) = (m(r.cash), m(r.start_cash), m(r.fees));
        let (realized, unrealized) = (m(r.realized), m(r.unrealized));
        // Nothing may come near saturation (the reports saturate at i64).
        for v in [cash, fees, realized, unrealized, m(r.equity), m(r.buying_power)] {
            prop_assert!(v.abs() < i128::from(i64::MAX) / 4, "step {}: acct {} saturates: {:?}", step, a, r);
        }
        let mut sum_value = 0i128;
        let mut sum_cost = 0i128;
        let mut sum_realized = 0i128;
        let mut sum_unrealized = 0i128;
        let mut gross = 0i128;
        let mut test_value = 0i128;
        for s in 0..SYMS {
            let p = e.position_report(AccountId(a as u32), SymbolId(s as u32)).unwrap();
            let (value, cost) = (m(p.value), m(p.cost));
            sum_value += value;
            sum_cost += cost;
            sum_realized += m(p.realized);
            sum_unrealized += m(p.unrealized);
            gross += value.abs();
            let want_qty = books.qty.get(&(a, s)).copied().unwrap_or(0);
            prop_assert_eq!(p.qty.lots(), want_qty, "step {}: acct {} sym {} position", step, a, s);
            prop_assert_eq!(m(p.unrealized), value - cost, "step {}: acct {} sym {} unrealized", step, a, s);
            // Cost basis and realized P&L split the net cash paid for the
            // symbol (fees aside): paid = cost still held - realized.
            let flow = books.flow.get(&(a, s)).copied().unwrap_or(0);
            prop_assert_eq!(cost - m(p.realized), flow, "step {}: acct {} sym {} cost - realized", step, a, s);
            if want_qty == 0 {
                prop_assert_eq!(cost, 0, "step {}: acct {} sym {} flat with a cost basis", step, a, s);
            } else {
                prop_assert!(cost.signum() == i128::from(want_qty.signum()) || cost == 0);
            }
            // The test's own mark: the quote's mid in half ticks, else cost.
            let want_value = match books.mark2[s] {
                0 => cost,
                m2 => books.units[s].mark_value(m2, want_qty),
            };
            prop_assert_eq!(
                value,
                want_value,
                "step {}: acct {} sym {} mark value (mark2 {})",
                step,
                a,
                s,
                books.mark2[s]
            );
            test_value += want_value;
        }
        let ctx = format!("step {step}: acct {a}: {r:?}");
        // The engine's reports among themselves.
        prop_assert_eq!(cash + sum_value, start + realized + unrealized - fees, "money identity; {}", ctx);
        prop_assert_eq!(cash + sum_cost, start + realized - fees, "cost identity; {}", ctx);
        prop_assert_eq!(realized, sum_realized, "realized = sum over positions; {}", ctx);
        prop_assert_eq!(unrealized, sum_unrealized, "unrealized = sum over positions; {}", ctx);
        prop_assert_eq!(m(r.equity), cash + sum_value, "equity; {}", ctx);
        prop_assert_eq!(m(r.gross), gross, "gross; {}", ctx);
        prop_assert_eq!(
            m(r.buying_power),
            m(r.equity) * i128::from(books.leverage[a]) / 100 - gross - m(r.exposure),
            "buying power; {}",
            ctx
        );
        // The engine against the test's own books.
        prop_assert_eq!(start, books.start[a], "start cash; {}", ctx);
        prop_assert_eq!(cash, books.cash[a], "cash = start - sum(signed notional) - fees; {}", ctx);
        prop_assert_eq!(fees, books.fees[a], "fees; {}", ctx);
        prop_assert_eq!(
            realized + unrealized,
            (books.cash[a] - books.start[a] + books.fees[a]) + test_value,
            "realized + unrealized = (cash - start + fees) + marks; {}",
            ctx
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn money_identity_holds_to_the_millionth_over_random_fills(
        modes in prop::array::uniform5(any::<bool>()),
        accts in proptest::collection::vec(acct_cfg(), ACCTS),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let fills = run(&modes, &accts, &ops)?;
        if std::env::var_os("PNL_STATS").is_some() {
            eprintln!("ops {} fills {}", ops.len(), fills);
        }
    }
}

/// A hand-worked case for the rounding: seven decimals, where a notional is
/// a fraction of a millionth, and a fee of a fraction of a millionth.
#[test]
fn seven_decimal_notional_and_fees_round_half_even_per_fill() {
    let mut e = Engine::new(EngineConfig::default(), Permissive);
    let ins = Instrument::new("0.0000001", 1, VenueMode::Clob).unwrap();
    let s = e.add_instrument(ins);
    let fees = FeeModel { per_share: Money::from_micros(0), centi_bps: 10_000 };
    let a = e.add_account(AccountSpec { cash: Money::from_micros(1_000_000), fees, ..AccountSpec::default() });
    let b = e.add_account(AccountSpec { cash: Money::from_micros(1_000_000), ..AccountSpec::default() });
    let order = |acct, clid, side, ticks, lots| {
        Input::NewOrder(NewOrder {
            acct,
            clid: ClientOrderId(clid),
            sym: s,
            side,
            ord_type: OrdType::Limit,
            tif: Tif::Day,
            price: Price::from_ticks(ticks),
            stop_price: Price::NONE,
            qty: Qty::from_lots(lots),
            display: Qty::ZERO,
            expire: Nanos(0),
            post_only: false,
        })
    };
    let mut out = Vec::new();
    // 25 ticks of 0.0000001 = 2.5 millionths -> 2 (half to even); the fee
    // of 1% of 2 is 0.02 -> 0.
    e.process(Nanos(1), &order(b, 1, Side::Sell, 25, 1), &mut out);
    e.process(Nanos(2), &order(a, 1, Side::Buy, 25, 1), &mut out);
    // 35 ticks: 3.5 -> 4; 150 lots at 35 ticks = 525 millionths, fee 5.25 -> 5.
    e.process(Nanos(3), &order(b, 2, Side::Sell, 35, 151), &mut out);
    e.process(Nanos(4), &order(a, 2, Side::Buy, 35, 1), &mut out);
    e.process(Nanos(5), &order(a, 3, Side::Buy, 35, 150), &mut out);
    let fills: Vec<(i64, i64)> = out
        .iter()
        .filter_map(|ev| match ev.kind {
            EventKind::Filled { order, fee, qty, .. } if order.acct == a => Some((qty.lots(), fee.micros())),
            _ => None,
        })
        .collect();
    assert_eq!(fills, vec![(1, 0), (1, 0), (150, 5)]);
    let r = e.account_report(a).unwrap();
    assert_eq!(r.cash.micros(), 1_000_000 - 2 - 4 - 525 - 5);
    assert_eq!(r.fees.micros(), 5);
    assert_eq!(e.position_report(a, s).unwrap().cost.micros(), 2 + 4 + 525);
}
