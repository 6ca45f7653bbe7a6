//! The synthetic feed: deterministic for a seed, and a sane market.

use std::collections::HashMap;

use optix_engine::{Nanos, Side};
use optix_feed::market::{MarketEvent, Quote};
use optix_feed::synthetic::{SyntheticConfig, SyntheticFeed};
use proptest::prelude::*;

fn events(cfg: SyntheticConfig, n: usize) -> Vec<MarketEvent> {
    SyntheticFeed::new(cfg).take(n).collect()
}

#[test]
fn same_seed_same_events_other_seed_other_events() {
    let cfg = SyntheticConfig { symbols: 16, seed: 42, ..SyntheticConfig::default() };
    let a = events(cfg, 50_000);
    assert_eq!(a, events(cfg, 50_000));
    assert_ne!(a, events(SyntheticConfig { seed: 43, ..cfg }, 50_000));
    // A prefix of a longer run is the shorter run.
    assert_eq!(&events(cfg, 60_000)[..50_000], &a[..]);
}

/// Checks every event of a run; returns the number of trades.
fn check_sane(cfg: SyntheticConfig, n: usize) -> usize {
    let evs = events(cfg, n);
    let spacing = 1_000_000_000 / cfg.events_per_sec.max(1);
    let mut last: HashMap<u32, Quote> = HashMap::new();
    let mut trades = 0;
    let mut prev = None;
    for (k, e) in evs.iter().enumerate() {
        if let Some(p) = prev {
            assert!(e.ts() > p, "timestamps strictly increase");
            let gap = e.ts().0 - p.0;
            assert!(gap == spacing || gap == spacing + 1, "gap {gap} for spacing {spacing}");
        } else {
            assert_eq!(e.ts(), cfg.start);
        }
        prev = Some(e.ts());
        assert!(e.sym().0 < cfg.symbols.max(1));
        match *e {
            MarketEvent::Quote(q) => {
                assert!(q.bid_px > 0 && q.bid_px < q.ask_px, "{q:?}");
                assert!(q.bid_qty > 0 && q.ask_qty > 0, "{q:?}");
                assert!(q.ask_px - q.bid_px <= 300 && q.bid_px % 100 == 0 && q.ask_px % 100 == 0, "{q:?}");
                if let Some(before) = last.get(&q.sym.0) {
                    assert!((q.bid_px - before.bid_px).abs() <= 100, "the bid moves a cent at most");
                }
                last.insert(q.sym.0, q);
            }
            MarketEvent::Trade(t) => {
                assert!((k as u32) >= cfg.symbols, "every symbol is quoted before it trades");
                let q = last[&t.sym.0];
                match t.aggressor {
                    Some(Side::Buy) => assert!(t.price == q.ask_px && t.qty <= q.ask_qty, "{t:?} {q:?}"),
                    Some(Side::Sell) => assert!(t.price == q.bid_px && t.qty <= q.bid_qty, "{t:?} {q:?}"),
                    None => panic!("synthetic trades have an aggressor"),
                }
                assert!(t.qty > 0 && t.price > 0);
                trades += 1;
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    trades
}

#[test]
fn quotes_and_trades_are_sane() {
    let cfg =
        SyntheticConfig { symbols: 10, seed: 5, events_per_sec: 250_000, trade_per_mille: 100, ..Default::default() };
    let trades = check_sane(cfg, 200_000);
    // 10% of the events, within a few standard deviations.
    assert!((18_500..21_500).contains(&trades), "{trades} trades");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn any_configuration_is_sane(seed in any::<u64>(), symbols in 0u32..40, rate in 1u64..=1_000_000_000, trades in 0u32..=1000) {
        let cfg = SyntheticConfig { symbols, seed, events_per_sec: rate, trade_per_mille: trades, start: Nanos(seed >> 20) };
        check_sane(cfg, 5_000);
    }
}
