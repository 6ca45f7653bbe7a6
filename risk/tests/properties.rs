//! Properties of `StandardRisk` against a naive reference model, on random
//! limits, random order checks and random increasing times:
//! - every outcome equals the model's (first failing rule, in order), also
//!   for the throttle alone on bursts and exact refill periods;
//! - an accepted order breaches no configured limit (checked directly,
//!   the throttle as a bound on orders in every time window);
//! - a rejected order changes no state (`==` and `state_hash`);
//! - the same inputs give the same state and hash.

use std::collections::BTreeSet;

use optix_engine::{AccountId, CheckKind, Money, Nanos, Price, Qty, Side, SymbolId};
use optix_risk::{OrderCheck, PreTradeCheck, RejectReason, RiskConfig, RiskLimits, StandardRisk};
use proptest::prelude::*;

const ACCOUNTS: usize = 3;
/// Accounts `0..CONFIGURED` get limits; the others have none.
const CONFIGURED: usize = 2;
const SYMBOLS: u32 = 4;
const SEC: u64 = 1_000_000_000;

#[derive(Clone, Debug)]
enum Op {
    Check { dt: u64, order: OrderCheck },
    Restrict(SymbolId, bool),
}

fn opt<T: std::fmt::Debug + Clone + 'static>(s: impl Strategy<Value = T> + 'static) -> BoxedStrategy<Option<T>> {
    prop_oneof![1 => Just(None), 2 => s.prop_map(Some)].boxed()
}

fn limits() -> impl Strategy<Value = RiskLimits> {
    (
        opt(0i64..=20),
        opt((0i64..=50).prop_map(Money::from_micros)),
        opt(0i64..=3_000),
        opt(0u32..=10),
        opt(0i64..=20),
        opt(0i64..=20),
        any::<bool>(),
        opt(0u32..=4),
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

fn order() -> impl Strategy<Value = OrderCheck> {
    let kind = prop_oneof![3 => Just(CheckKind::New), 2 => Just(CheckKind::Replace), 1 => Just(CheckKind::Triggered)];
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    (
        (kind, 0..ACCOUNTS as u32, 0..SYMBOLS, side, 0i64..=130, prop_oneof![Just(0i64), 90i64..=110]),
        (1i64..=25, 0i64..=60, 0u32..=12, -5i64..=25, -5i64..=25, -10i64..=50, -10i64..=60),
    )
        .prop_map(
            |((kind, acct, sym, side, price, ref_price), (qty, notional, open, long, short, bp, bp_used))| {
                let mut o = OrderCheck::bare(
                    AccountId(acct),
                    SymbolId(sym),
                    side,
                    Price::from_ticks(price),
                    Qty::from_lots(qty),
                );
                o.kind = kind;
                if kind == CheckKind::Replace {
                    o.prev_qty = Qty::from_lots(qty / 2 + 1);
                    o.prev_price = Price::from_ticks(100);
                }
                o.ref_price = Price::from_ticks(ref_price);
                o.notional = Money::from_micros(notional);
                o.open_orders = open;
                o.worst_long = long;
                o.worst_short = short;
                o.buying_power = Money::from_micros(bp);
                o.bp_used = Money::from_micros(bp_used);
                o
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    // Bursts at one instant, tiny steps, one refill period `1e9 / R` and a
    // nanosecond either side of it, random gaps, a whole second.
    let period = (1u64..=4, 0u64..=2).prop_map(|(r, d)| SEC / r + d - 1);
    let dt = prop_oneof![4 => Just(0u64), 2 => 1u64..=1_000, 3 => period, 2 => 1u64..=600_000_000, 1 => Just(SEC)];
    prop_oneof![
        12 => (dt, order()).prop_map(|(dt, order)| Op::Check { dt, order }),
        1 => (0..SYMBOLS, any::<bool>()).prop_map(|(s, on)| Op::Restrict(SymbolId(s), on)),
    ]
}

/// The naive model: limits as given, a set of restricted symbols, and a
/// token bucket in `u128` refilled eagerly on every throttled check.
struct Model {
    limits: Vec<Option<RiskLimits>>,
    restricted: BTreeSet<u32>,
    tokens: Vec<u128>,
    last: Vec<u64>,
}

impl Model {
    fn new(limits: &[RiskLimits]) -> Model {
        let mut all = vec![None; ACCOUNTS];
        for (i, l) in limits.iter().enumerate() {
            all[i] = Some(*l);
        }
        let tokens =
            all.iter().map(|l| l.and_then(|l| l.rate_per_sec).map_or(0, |r| u128::from(r) * 1_000_000_000)).collect();
        Model { limits: all, restricted: BTreeSet::new(), tokens, last: vec![0; ACCOUNTS] }
    }

    fn check(&mut self, now: u64, o: &OrderCheck) -> Result<(), RejectReason> {
        if self.restricted.contains(&o.sym.0) {
            return Err(RejectReason::RestrictedSymbol);
        }
        let a = o.acct.0 as usize;
        let Some(l) = self.limits[a] else { return Ok(()) };
        if let Some(m) = l.max_qty {
            if o.qty.lots() > m {
                return Err(RejectReason::MaxQty);
            }
        }
        if let Some(m) = l.max_notional {
            if o.notional.micros() > m.micros() {
                return Err(RejectReason::MaxNotional);
            }
        }
        if let Some(bps) = l.collar_bps {
            if o.ref_price.ticks() != 0 && o.price.ticks() != 0 {
                // |price - ref| > ref * bps / 10_000, compared without division.
                let dist = i128::from(o.price.ticks() - o.ref_price.ticks()).abs();
                if dist * 10_000 > i128::from(o.ref_price.ticks()) * i128::from(bps) {
                    return Err(RejectReason::PriceCollar);
                }
            }
        }
        if let Some(m) = l.max_open_orders {
            if o.open_orders > m {
                return Err(RejectReason::MaxOpenOrders);
            }
        }
        if o.side == Side::Buy && l.max_long.is_some_and(|m| o.worst_long > m) {
            return Err(RejectReason::PositionLimit);
        }
        if o.side == Side::Sell && l.max_short.is_some_and(|m| o.worst_short > m) {
            return Err(RejectReason::PositionLimit);
        }
        if l.buying_power && o.bp_used.micros() > 0 && o.bp_used.micros() > o.buying_power.micros() {
            return Err(RejectReason::BuyingPower);
        }
        if let (Some(rate), true) = (l.rate_per_sec, o.kind != CheckKind::Triggered) {
            let cap = u128::from(rate) * 1_000_000_000;
            self.tokens[a] = (self.tokens[a] + u128::from(rate) * u128::from(now - self.last[a])).min(cap);
            self.last[a] = now;
            if self.tokens[a] < 1_000_000_000 {
                return Err(RejectReason::Throttled);
            }
            self.tokens[a] -= 1_000_000_000;
        }
        Ok(())
    }
}

/// Whether an accepted order breaches a configured limit, checked directly
/// on the order's values.
fn breaches(l: &RiskLimits, o: &OrderCheck) -> Option<&'static str> {
    let ticks_off = (o.price.ticks() - o.ref_price.ticks()).abs();
    let band = o.ref_price.ticks() * l.collar_bps.unwrap_or(0) / 10_000;
    [
        (l.max_qty.is_some_and(|m| o.qty.lots() > m), "max_qty"),
        (l.max_notional.is_some_and(|m| o.notional > m), "max_notional"),
        (l.collar_bps.is_some() && !o.ref_price.is_none() && !o.price.is_none() && ticks_off > band, "collar"),
        (l.max_open_orders.is_some_and(|m| o.open_orders > m), "max_open_orders"),
        (o.side == Side::Buy && l.max_long.is_some_and(|m| o.worst_long > m), "max_long"),
        (o.side == Side::Sell && l.max_short.is_some_and(|m| o.worst_short > m), "max_short"),
        (l.buying_power && o.bp_used > Money::ZERO && o.bp_used > o.buying_power, "buying_power"),
    ]
    .into_iter()
    .find_map(|(breached, name)| breached.then_some(name))
}

/// The throttle as a window bound: between any two accepted throttled
/// orders `s <= t` of an account, at most `R + R * (t - s) / 1e9` orders.
fn throttle_bound_holds(rate: u32, accepted: &[u64]) -> bool {
    let t = *accepted.last().unwrap();
    accepted.iter().enumerate().all(|(i, &s)| {
        let count = (accepted.len() - i) as u128;
        count * u128::from(SEC) <= u128::from(rate) * u128::from(SEC) + u128::from(rate) * u128::from(t - s)
    })
}

fn run(limits: &[RiskLimits], t0: u64, ops: &[Op]) -> Result<StandardRisk, TestCaseError> {
    let mut risk = StandardRisk::new();
    for (i, l) in limits.iter().enumerate() {
        risk.configure(&RiskConfig::Limits(AccountId(i as u32), *l)).unwrap();
    }
    let mut model = Model::new(limits);
    let mut accepted: Vec<Vec<u64>> = vec![Vec::new(); ACCOUNTS];
    let mut now = t0;
    for op in ops {
        match op {
            Op::Restrict(sym, on) => {
                risk.configure(&RiskConfig::Restrict(*sym, *on)).unwrap();
                if *on {
                    model.restricted.insert(sym.0);
                } else {
                    model.restricted.remove(&sym.0);
                }
            }
            Op::Check { dt, order } => {
                now += dt;
                let before = risk.clone();
                let hash = risk.state_hash();
                let got = match order.kind {
                    CheckKind::Replace => risk.check_replace(Nanos(now), order),
                    _ => risk.check_new(Nanos(now), order),
                };
                prop_assert_eq!(got, model.check(now, order), "outcome differs from the model for {:?}", order);
                match got {
                    Err(_) => {
                        prop_assert_eq!(&risk, &before, "a reject changed the state");
                        prop_assert_eq!(risk.state_hash(), hash);
                    }
                    Ok(()) => {
                        prop_assert!(!model.restricted.contains(&order.sym.0), "accepted on a restricted symbol");
                        let a = order.acct.0 as usize;
                        if let Some(l) = limits.get(a) {
                            prop_assert_eq!(breaches(l, order), None, "accepted {:?} under {:?}", order, l);
                            if let (Some(rate), true) = (l.rate_per_sec, order.kind != CheckKind::Triggered) {
                                accepted[a].push(now);
                                prop_assert!(throttle_bound_holds(rate, &accepted[a]), "throttle bound at {}", now);
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(risk)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn accepted_orders_breach_nothing_and_rejects_change_nothing(
        limits in proptest::collection::vec(limits(), CONFIGURED),
        t0 in 0u64..=86_400 * SEC,
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let a = run(&limits, t0, &ops)?;
        let b = run(&limits, t0, &ops)?;
        prop_assert_eq!(&a, &b, "same inputs, same state");
        prop_assert_eq!(a.state_hash(), b.state_hash());
    }

    /// The throttle alone on one account, so that bursts and exact refill
    /// periods of accepted orders are common.
    #[test]
    fn throttle_matches_the_model(
        rate in 0u32..=4,
        t0 in 0u64..=86_400 * SEC,
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let limits = [RiskLimits { rate_per_sec: Some(rate), ..RiskLimits::default() }];
        let ops: Vec<Op> = ops
            .into_iter()
            .map(|op| match op {
                Op::Check { dt, mut order } => {
                    order.acct = AccountId(0);
                    Op::Check { dt, order }
                }
                other => other,
            })
            .collect();
        run(&limits, t0, &ops)?;
    }
}
