//! Every limit at its boundary: the value exactly at the limit is accepted,
//! one unit over is rejected with the limit's own reason, and a reject
//! leaves the risk state unchanged.

use optix_engine::{AccountId, CheckKind, Money, Nanos, OrdType, Price, Qty, Side, SymbolId};
use optix_risk::{OrderCheck, PreTradeCheck, RejectReason, RiskConfig, RiskLimits, StandardRisk};

const ACCT: AccountId = AccountId(0);
const SYM: SymbolId = SymbolId(7);

/// A buy of 10 lots at 10_000 ticks with no account state near any limit.
fn base() -> OrderCheck {
    OrderCheck::bare(ACCT, SYM, Side::Buy, Price::from_ticks(10_000), Qty::from_lots(10))
}

fn risk_with(limits: RiskLimits) -> StandardRisk {
    let mut r = StandardRisk::new();
    r.configure(&RiskConfig::Limits(ACCT, limits)).unwrap();
    r
}

fn check(r: &mut StandardRisk, now: u64, o: &OrderCheck) -> Result<(), RejectReason> {
    match o.kind {
        CheckKind::Replace => r.check_replace(Nanos(now), o),
        CheckKind::New | CheckKind::Triggered => r.check_new(Nanos(now), o),
    }
}

/// Checks `o` and asserts that a reject changed nothing.
fn check_pure_on_reject(r: &mut StandardRisk, now: u64, o: &OrderCheck) -> Result<(), RejectReason> {
    let before = r.clone();
    let hash = r.state_hash();
    let res = check(r, now, o);
    if res.is_err() {
        assert_eq!(*r, before, "a reject changed the state");
        assert_eq!(r.state_hash(), hash);
    }
    res
}

struct Row {
    name: &'static str,
    limits: RiskLimits,
    at: OrderCheck,
    over: OrderCheck,
    reason: RejectReason,
}

fn with(f: impl FnOnce(&mut OrderCheck)) -> OrderCheck {
    let mut o = base();
    f(&mut o);
    o
}

fn limits(f: impl FnOnce(&mut RiskLimits)) -> RiskLimits {
    let mut l = RiskLimits::default();
    f(&mut l);
    l
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "max_qty",
            limits: limits(|l| l.max_qty = Some(100)),
            at: with(|o| o.qty = Qty::from_lots(100)),
            over: with(|o| o.qty = Qty::from_lots(101)),
            reason: RejectReason::MaxQty,
        },
        Row {
            name: "max_qty on a replace (new leaves)",
            limits: limits(|l| l.max_qty = Some(100)),
            at: with(|o| {
                o.kind = CheckKind::Replace;
                o.prev_qty = Qty::from_lots(500);
                o.qty = Qty::from_lots(100);
            }),
            over: with(|o| {
                o.kind = CheckKind::Replace;
                o.prev_qty = Qty::from_lots(5);
                o.qty = Qty::from_lots(101);
            }),
            reason: RejectReason::MaxQty,
        },
        Row {
            name: "max_notional",
            limits: limits(|l| l.max_notional = Some(Money::from_micros(5_000_000))),
            at: with(|o| o.notional = Money::from_micros(5_000_000)),
            over: with(|o| o.notional = Money::from_micros(5_000_001)),
            reason: RejectReason::MaxNotional,
        },
        Row {
            name: "collar above the reference",
            limits: limits(|l| l.collar_bps = Some(150)),
            at: with(|o| {
                o.ref_price = Price::from_ticks(10_000);
                o.price = Price::from_ticks(10_150);
            }),
            over: with(|o| {
                o.ref_price = Price::from_ticks(10_000);
                o.price = Price::from_ticks(10_151);
            }),
            reason: RejectReason::PriceCollar,
        },
        Row {
            name: "collar below the reference",
            limits: limits(|l| l.collar_bps = Some(150)),
            at: with(|o| {
                o.side = Side::Sell;
                o.ref_price = Price::from_ticks(10_000);
                o.price = Price::from_ticks(9_850);
            }),
            over: with(|o| {
                o.side = Side::Sell;
                o.ref_price = Price::from_ticks(10_000);
                o.price = Price::from_ticks(9_849);
            }),
            reason: RejectReason::PriceCollar,
        },
        Row {
            // band = 1_003 * 100 / 10_000 = 10.03, rounded down to 10 ticks
            name: "collar band rounded down to whole ticks",
            limits: limits(|l| l.collar_bps = Some(100)),
            at: with(|o| {
                o.ref_price = Price::from_ticks(1_003);
                o.price = Price::from_ticks(993);
            }),
            over: with(|o| {
                o.ref_price = Price::from_ticks(1_003);
                o.price = Price::from_ticks(1_014);
            }),
            reason: RejectReason::PriceCollar,
        },
        Row {
            name: "max_open_orders",
            limits: limits(|l| l.max_open_orders = Some(5)),
            at: with(|o| o.open_orders = 5),
            over: with(|o| o.open_orders = 6),
            reason: RejectReason::MaxOpenOrders,
        },
        Row {
            name: "position limit long (buy)",
            limits: limits(|l| l.max_long = Some(50)),
            at: with(|o| o.worst_long = 50),
            over: with(|o| o.worst_long = 51),
            reason: RejectReason::PositionLimit,
        },
        Row {
            name: "position limit short (sell)",
            limits: limits(|l| l.max_short = Some(50)),
            at: with(|o| {
                o.side = Side::Sell;
                o.worst_short = 50;
            }),
            over: with(|o| {
                o.side = Side::Sell;
                o.worst_short = 51;
            }),
            reason: RejectReason::PositionLimit,
        },
        Row {
            name: "buying power",
            limits: limits(|l| l.buying_power = true),
            at: with(|o| {
                o.buying_power = Money::from_micros(2_000_000);
                o.bp_used = Money::from_micros(2_000_000);
            }),
            over: with(|o| {
                o.buying_power = Money::from_micros(2_000_000);
                o.bp_used = Money::from_micros(2_000_001);
            }),
            reason: RejectReason::BuyingPower,
        },
        Row {
            name: "buying power on a triggered stop",
            limits: limits(|l| l.buying_power = true),
            at: with(|o| {
                o.kind = CheckKind::Triggered;
                o.ord_type = OrdType::Stop;
                o.price = Price::NONE;
                o.buying_power = Money::from_micros(1);
                o.bp_used = Money::from_micros(1);
            }),
            over: with(|o| {
                o.kind = CheckKind::Triggered;
                o.ord_type = OrdType::Stop;
                o.price = Price::NONE;
                o.buying_power = Money::from_micros(1);
                o.bp_used = Money::from_micros(2);
            }),
            reason: RejectReason::BuyingPower,
        },
    ]
}

#[test]
fn every_limit_accepts_its_value_and_rejects_one_unit_over() {
    for row in rows() {
        let mut r = risk_with(row.limits);
        assert_eq!(check_pure_on_reject(&mut r, 1, &row.at), Ok(()), "{}: at the limit", row.name);
        assert_eq!(check_pure_on_reject(&mut r, 1, &row.over), Err(row.reason), "{}: one over", row.name);
        // The same values with every limit off pass.
        let mut off = risk_with(RiskLimits::default());
        assert_eq!(check(&mut off, 1, &row.over), Ok(()), "{}: limits off", row.name);
    }
}

#[test]
fn limits_that_do_not_apply() {
    let all = RiskLimits {
        collar_bps: Some(0),
        max_long: Some(0),
        max_short: Some(0),
        buying_power: true,
        ..RiskLimits::default()
    };
    let mut r = risk_with(all);
    // No reference price: no collar.
    assert_eq!(check(&mut r, 0, &with(|o| o.price = Price::from_ticks(1))), Ok(()));
    // A market order (no limit price): no collar.
    let market = with(|o| {
        o.ord_type = OrdType::Market;
        o.price = Price::NONE;
        o.ref_price = Price::from_ticks(500);
    });
    assert_eq!(check(&mut r, 0, &market), Ok(()));
    // A buy is held to the long limit only, a sell to the short limit only.
    assert_eq!(check(&mut r, 0, &with(|o| o.worst_short = 1_000)), Ok(()));
    let sell = with(|o| {
        o.side = Side::Sell;
        o.worst_long = 1_000;
    });
    assert_eq!(check(&mut r, 0, &sell), Ok(()));
    // An order that uses no buying power passes whatever the account has.
    let reducing = with(|o| {
        o.buying_power = Money::from_micros(-5);
        o.bp_used = Money::from_micros(-3);
    });
    assert_eq!(check(&mut r, 0, &reducing), Ok(()));
    assert_eq!(check(&mut r, 0, &with(|o| o.buying_power = Money::from_micros(-5))), Ok(()));
}

#[test]
fn unconfigured_accounts_have_every_limit_off() {
    let mut r = risk_with(RiskLimits { max_qty: Some(0), rate_per_sec: Some(0), ..RiskLimits::default() });
    let o = with(|o| {
        o.acct = AccountId(3);
        o.qty = Qty::from_lots(1 << 40);
        o.notional = Money::from_micros(i64::MAX);
        o.open_orders = u32::MAX;
        o.worst_long = i64::MAX;
        o.bp_used = Money::from_micros(i64::MAX);
        o.ref_price = Price::from_ticks(1);
    });
    for t in 0..100 {
        assert_eq!(check(&mut r, t, &o), Ok(()));
    }
    assert_eq!(check(&mut r, 0, &base()), Err(RejectReason::MaxQty));
}

#[test]
fn restricted_then_unrestricted() {
    let mut r = StandardRisk::new();
    r.configure(&RiskConfig::Restrict(SYM, true)).unwrap();
    // Every account, configured or not, every kind of check.
    for kind in [CheckKind::New, CheckKind::Replace, CheckKind::Triggered] {
        let o = with(|o| o.kind = kind);
        assert_eq!(check_pure_on_reject(&mut r, 0, &o), Err(RejectReason::RestrictedSymbol));
    }
    let other = with(|o| o.sym = SymbolId(8));
    assert_eq!(check(&mut r, 0, &other), Ok(()));
    r.configure(&RiskConfig::Limits(ACCT, RiskLimits::default())).unwrap();
    assert_eq!(check_pure_on_reject(&mut r, 0, &base()), Err(RejectReason::RestrictedSymbol));
    r.configure(&RiskConfig::Restrict(SYM, false)).unwrap();
    assert_eq!(check(&mut r, 0, &base()), Ok(()));
}

#[test]
fn throttle_burst_then_exact_refill() {
    const R: u32 = 4;
    const GAP: u64 = 1_000_000_000 / R as u64;
    let mut r = risk_with(RiskLimits { rate_per_sec: Some(R), ..RiskLimits::default() });
    let t0 = 34_200_000_000_000;
    for i in 0..R {
        assert_eq!(check(&mut r, t0, &base()), Ok(()), "order {i} of the burst");
    }
    assert_eq!(check_pure_on_reject(&mut r, t0, &base()), Err(RejectReason::Throttled), "order R+1");
    assert_eq!(check_pure_on_reject(&mut r, t0 + GAP - 1, &base()), Err(RejectReason::Throttled));
    assert_eq!(check(&mut r, t0 + GAP, &base()), Ok(()), "one more after exactly 1e9/R ns");
    assert_eq!(check_pure_on_reject(&mut r, t0 + GAP, &base()), Err(RejectReason::Throttled));
    // A long pause refills the burst, no more.
    let t1 = t0 + 3_600_000_000_000;
    for _ in 0..R {
        assert_eq!(check(&mut r, t1, &base()), Ok(()));
    }
    assert_eq!(check(&mut r, t1, &base()), Err(RejectReason::Throttled));
}

#[test]
fn throttle_counts_replaces_not_triggered_stops() {
    let mut r = risk_with(RiskLimits { rate_per_sec: Some(2), ..RiskLimits::default() });
    let replace = with(|o| {
        o.kind = CheckKind::Replace;
        o.prev_qty = Qty::from_lots(20);
        o.prev_price = Price::from_ticks(9_999);
    });
    let triggered = with(|o| {
        o.kind = CheckKind::Triggered;
        o.ord_type = OrdType::Stop;
        o.price = Price::NONE;
    });
    assert_eq!(check(&mut r, 5, &replace), Ok(()));
    assert_eq!(check(&mut r, 5, &base()), Ok(()));
    assert_eq!(check_pure_on_reject(&mut r, 5, &replace), Err(RejectReason::Throttled));
    assert_eq!(check_pure_on_reject(&mut r, 5, &base()), Err(RejectReason::Throttled));
    // Triggered stops pass an empty bucket and spend nothing.
    let before = r.clone();
    for _ in 0..10 {
        assert_eq!(check(&mut r, 5, &triggered), Ok(()));
    }
    assert_eq!(r, before);
}

#[test]
fn throttle_spends_nothing_on_an_order_another_rule_rejects() {
    let mut r = risk_with(RiskLimits { max_qty: Some(10), rate_per_sec: Some(1), ..RiskLimits::default() });
    let big = with(|o| o.qty = Qty::from_lots(11));
    for _ in 0..5 {
        assert_eq!(check_pure_on_reject(&mut r, 0, &big), Err(RejectReason::MaxQty));
    }
    assert_eq!(check(&mut r, 0, &base()), Ok(()));
    assert_eq!(check(&mut r, 0, &base()), Err(RejectReason::Throttled));
}

#[test]
fn a_zero_rate_blocks_new_orders_and_replaces() {
    let mut r = risk_with(RiskLimits { rate_per_sec: Some(0), ..RiskLimits::default() });
    assert_eq!(check(&mut r, u64::MAX, &base()), Err(RejectReason::Throttled));
    assert_eq!(check(&mut r, 0, &with(|o| o.kind = CheckKind::Triggered)), Ok(()));
}

#[test]
fn time_running_backwards_refills_nothing() {
    let mut r = risk_with(RiskLimits { rate_per_sec: Some(1), ..RiskLimits::default() });
    assert_eq!(check(&mut r, 10_000_000_000, &base()), Ok(()));
    assert_eq!(check(&mut r, 0, &base()), Err(RejectReason::Throttled));
    assert_eq!(check(&mut r, 10_999_999_999, &base()), Err(RejectReason::Throttled));
    assert_eq!(check(&mut r, 11_000_000_000, &base()), Ok(()));
}

#[test]
fn rules_run_in_the_documented_order() {
    let all = RiskLimits {
        max_qty: Some(1),
        max_notional: Some(Money::from_micros(1)),
        collar_bps: Some(1),
        max_open_orders: Some(1),
        max_long: Some(1),
        max_short: Some(1),
        buying_power: true,
        rate_per_sec: Some(0),
    };
    let mut r = risk_with(all);
    r.configure(&RiskConfig::Restrict(SYM, true)).unwrap();
    let mut o = with(|o| {
        o.qty = Qty::from_lots(2);
        o.notional = Money::from_micros(2);
        o.ref_price = Price::from_ticks(100);
        o.price = Price::from_ticks(102);
        o.open_orders = 2;
        o.worst_long = 2;
        o.bp_used = Money::from_micros(1);
    });
    let order = [
        RejectReason::RestrictedSymbol,
        RejectReason::MaxQty,
        RejectReason::MaxNotional,
        RejectReason::PriceCollar,
        RejectReason::MaxOpenOrders,
        RejectReason::PositionLimit,
        RejectReason::BuyingPower,
        RejectReason::Throttled,
    ];
    for reason in order {
        assert_eq!(check_pure_on_reject(&mut r, 0, &o), Err(reason));
        // Fix the failing value and go on to the next rule.
        match reason {
            RejectReason::RestrictedSymbol => r.configure(&RiskConfig::Restrict(SYM, false)).unwrap(),
            RejectReason::MaxQty => o.qty = Qty::from_lots(1),
            RejectReason::MaxNotional => o.notional = Money::from_micros(1),
            RejectReason::PriceCollar => o.price = Price::from_ticks(100),
            RejectReason::MaxOpenOrders => o.open_orders = 1,
            RejectReason::PositionLimit => o.worst_long = 1,
            RejectReason::BuyingPower => o.buying_power = Money::from_micros(1),
            _ => {}
        }
    }
    // A new rate keeps the (empty) bucket, which now refills: one order a second.
    r.configure(&RiskConfig::Limits(ACCT, RiskLimits { rate_per_sec: Some(1), ..all })).unwrap();
    assert_eq!(check_pure_on_reject(&mut r, 999_999_999, &o), Err(RejectReason::Throttled));
    assert_eq!(check(&mut r, 1_000_000_000, &o), Ok(()));
}

#[test]
fn extreme_values_do_not_overflow() {
    let mut r = risk_with(RiskLimits { collar_bps: Some(i64::MAX), ..RiskLimits::default() });
    let o = with(|o| {
        o.ref_price = Price::from_ticks(i64::MAX);
        o.price = Price::from_ticks(i64::MIN + 1);
    });
    assert_eq!(check(&mut r, 0, &o), Ok(()));
    let mut r = risk_with(RiskLimits { collar_bps: Some(10_000), ..RiskLimits::default() });
    assert_eq!(check(&mut r, 0, &o), Err(RejectReason::PriceCollar));
    let mut r = risk_with(RiskLimits { rate_per_sec: Some(u32::MAX), ..RiskLimits::default() });
    assert_eq!(check(&mut r, u64::MAX, &base()), Ok(()));
}
