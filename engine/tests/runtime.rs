//! The matcher thread against the engine run directly: the same stamped
//! inputs (commands and market data in feed units) give the same events,
//! whatever the threads; idle ticks drive time-based behaviour; several
//! producers each keep their order.

use std::time::{Duration, Instant};

use optix_engine::market::{to_input, Level, MarketEvent, Quote, Status, Trade};
use optix_engine::runtime::{spawn, Clock, Inbound, Matcher, MatcherConfig, Outbound, Stamped};
use optix_engine::*;
use optix_ring::{Consumer, WaitStrategy, Waiter};

fn engine() -> Engine<Permissive> {
    let mut e = Engine::new(EngineConfig::default(), Permissive);
    e.add_instrument(Instrument::new("0.01", 1, VenueMode::Clob).unwrap());
    e.add_instrument(Instrument::new("0.01", 10, VenueMode::Paper).unwrap());
    for _ in 0..4 {
        e.add_account(AccountSpec { cash: Money::from_micros(1_000_000_000_000), ..AccountSpec::default() });
    }
    e
}

#[allow(clippy::too_many_arguments, reason = "one argument per field that varies")]
fn new_order(acct: u32, clid: u64, sym: u32, side: Side, ord_type: OrdType, tif: Tif, px: i64, qty: i64) -> Input {
    Input::NewOrder(NewOrder {
        acct: AccountId(acct),
        clid: ClientOrderId(clid),
        sym: SymbolId(sym),
        side,
        ord_type,
        tif,
        price: Price::from_ticks(px),
        stop_price: Price::NONE,
        qty: Qty::from_lots(qty),
        display: Qty::ZERO,
        expire: Nanos(0),
        post_only: false,
    })
}

/// A seeded mix of orders, cancels and market data around 100.00.
fn stream(n: usize, seed: u64) -> Vec<Stamped> {
    let mut x = seed | 1;
    let mut rnd = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let mut out = Vec::with_capacity(n);
    let mut t = 1_000u64;
    let mut clid = 0u64;
    for _ in 0..n {
        // Mostly forward, sometimes a stamp from the past (the engine keeps max).
        t = if rnd(10) == 0 { t.saturating_sub(rnd(500)) } else { t + rnd(1_000) };
        let side = if rnd(2) == 0 { Side::Buy } else { Side::Sell };
        let sym = rnd(2) as u32;
        let acct = rnd(4) as u32;
        let px = 10_000 + rnd(21) as i64 - 10;
        let item = match rnd(20) {
            0..=8 => {
                clid += 1;
                let (ord_type, tif) = match rnd(6) {
                    0 => (OrdType::Market, Tif::Ioc),
                    1 => (OrdType::Limit, Tif::Ioc),
                    _ => (OrdType::Limit, Tif::Gtc),
                };
                let px = if ord_type == OrdType::Market { 0 } else { px };
                Inbound::Command(new_order(acct, clid, sym, side, ord_type, tif, px, 1 + rnd(50) as i64))
            }
            9..=11 => Inbound::Command(Input::CancelOrder(CancelOrder {
                acct: AccountId(acct),
                clid: ClientOrderId(1 + rnd(clid.max(1))),
            })),
            12..=15 => {
                let mid = 1_000_000 + rnd(2_001) as i64 - 1_000; // feed ticks around $100
                let (bid_px, ask_px) = (mid - 1 - rnd(300) as i64, mid + 1 + rnd(300) as i64);
                let q = Quote {
                    ts: Nanos(t),
                    sym: SymbolId(sym),
                    bid_px,
                    bid_qty: rnd(3) as i64 * 100 + rnd(100) as i64,
                    ask_px,
                    ask_qty: rnd(3) as i64 * 100 + rnd(100) as i64,
                };
                Inbound::Market(MarketEvent::Quote(q))
            }
            16 | 17 => Inbound::Market(MarketEvent::Trade(Trade {
                ts: Nanos(t),
                sym: SymbolId(sym),
                aggressor: Some(side),
                price: 1_000_000 + rnd(2_001) as i64 - 1_000,
                qty: 1 + rnd(400) as i64,
            })),
            18 => Inbound::Market(MarketEvent::Level(Level {
                ts: Nanos(t),
                sym: SymbolId(sym),
                side,
                price: 1_000_000,
                qty: 5,
            })),
            _ => Inbound::Market(MarketEvent::Status(Status {
                ts: Nanos(t),
                sym: SymbolId(if rnd(4) == 0 { 7 } else { sym }),
                halted: rnd(3) == 0,
            })),
        };
        out.push(Stamped { ingress: Nanos(t), item });
    }
    out
}

/// What the engine gives run directly, each event with its input's stamp.
fn direct(inputs: &[Stamped]) -> (Vec<(Nanos, Event)>, u64) {
    let mut e = engine();
    let mut out = Vec::new();
    for s in inputs {
        let input = match s.item {
            Inbound::Command(c) => Some(c),
            Inbound::Market(m) => e.instrument(m.sym()).and_then(|i| to_input(&m, i)),
            Inbound::Instrument(..) => unreachable!(),
        };
        if let Some(input) = input {
            let mut v = Vec::new();
            e.process(s.ingress, &input, &mut v);
            out.extend(v.into_iter().map(|ev| (s.ingress, ev)));
        }
    }
    e.validate().unwrap();
    (out, e.state_hash())
}

fn read_until_done(rx: &mut Consumer<Outbound>, h: &std::thread::JoinHandle<Matcher<Permissive>>) -> Vec<Outbound> {
    let mut got = Vec::new();
    let mut w = Waiter::new(WaitStrategy::YIELD);
    loop {
        if rx.pop_batch(4096, |o| got.push(o)) > 0 {
            w.reset();
        } else if h.is_finished() {
            break;
        } else {
            w.wait();
        }
    }
    got
}

#[test]
fn events_out_equal_the_engine_run_directly() {
    let inputs = stream(40_000, 0x5eed);
    let (want, want_hash) = direct(&inputs);
    assert!(want.iter().any(|(_, e)| matches!(e.kind, EventKind::Filled { liq: Liquidity::Maker, .. })));
    for wait in [WaitStrategy::YIELD, WaitStrategy::PARK] {
        // A small outbound ring: the matcher waits on it (backpressure).
        let (tx, mut rx) = optix_ring::ring(64);
        let cfg = MatcherConfig { wait, batch: 16, idle_tick: None, ..MatcherConfig::default() };
        let mut m = Matcher::new(engine(), tx, cfg);
        let mut feed = m.add_input(128);
        let h = spawn(m).unwrap();
        let producer = {
            let inputs = inputs.clone();
            std::thread::spawn(move || {
                let mut w = Waiter::new(WaitStrategy::YIELD);
                for s in inputs {
                    feed.push_blocking(s, &mut w).unwrap();
                }
            })
        };
        let got = read_until_done(&mut rx, &h);
        producer.join().unwrap();
        let m = h.join().unwrap();
        let mut rest = Vec::new();
        rx.pop_batch(usize::MAX, |o| rest.push(o));
        let got: Vec<Outbound> = got.into_iter().chain(rest).collect();
        let got_pairs: Vec<(Nanos, Event)> = got.iter().map(|o| (o.ingress, o.event)).collect();
        assert_eq!(got_pairs.len(), want.len());
        assert!(got_pairs == want, "the matcher's events differ from the engine's");
        assert!(got.iter().enumerate().all(|(i, o)| o.number == i as u64 + 1));
        let s = m.stats();
        assert_eq!((s.items, s.out_dropped), (inputs.len() as u64, 0));
        assert!(s.unknown_symbol > 0 && s.market_skipped > 0);
        m.engine().validate().unwrap();
        assert_eq!(m.engine().state_hash(), want_hash);
    }
}

#[test]
fn idle_ticks_expire_gtd_orders_without_traffic() {
    let (tx, mut rx) = optix_ring::ring(64);
    let clock = Clock::new(Nanos(34_200_000_000_000));
    let cfg = MatcherConfig {
        wait: WaitStrategy::PARK,
        idle_tick: Some(Duration::from_millis(1)),
        ..MatcherConfig::default()
    };
    let mut m = Matcher::with_clock(engine(), tx, cfg, clock);
    let mut feed = m.add_input(8);
    let stop = m.stop_flag();
    let h = spawn(m).unwrap();
    let now = clock.now();
    let expire = Nanos(now.0 + 5_000_000);
    let Input::NewOrder(mut o) = new_order(0, 1, 0, Side::Buy, OrdType::Limit, Tif::Gtd, 9_990, 3) else {
        unreachable!()
    };
    o.expire = expire;
    feed.push(Stamped { ingress: now, item: Inbound::Command(Input::NewOrder(o)) }).unwrap();
    // Nothing else is sent: only a tick can expire the order.
    let t = Instant::now();
    let mut got = Vec::new();
    while !got.iter().any(|o: &Outbound| matches!(o.event.kind, EventKind::Expired { .. })) {
        assert!(t.elapsed() < Duration::from_secs(10), "no expiry: {got:?}");
        rx.pop_batch(64, |o| got.push(o));
        std::thread::sleep(Duration::from_micros(200));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let m = h.join().unwrap();
    let exp = got.iter().find(|o| matches!(o.event.kind, EventKind::Expired { .. })).unwrap();
    assert!(exp.event.time >= expire, "expired at {} before {}", exp.event.time, expire);
    assert_eq!(exp.ingress, exp.event.time, "a tick is stamped with the clock");
    assert!(m.stats().ticks >= 1);
    assert_eq!(m.stats().commands, 1);
    // Ticks keep coming while idle, one per period at most.
    let elapsed_ms = t.elapsed().as_millis() as u64 + 10;
    assert!(m.stats().ticks <= elapsed_ms + 1, "{} ticks in {elapsed_ms} ms", m.stats().ticks);
}

#[test]
fn several_producers_each_keep_their_order() {
    const N: u64 = 20_000;
    let (tx, mut rx) = optix_ring::ring(1024);
    let cfg = MatcherConfig { wait: WaitStrategy::YIELD, batch: 8, idle_tick: None, ..MatcherConfig::default() };
    let mut m = Matcher::new(engine(), tx, cfg);
    let producers: Vec<_> = (0..3u32)
        .map(|acct| {
            let mut tx = m.add_input(64);
            std::thread::spawn(move || {
                let mut w = Waiter::new(WaitStrategy::YIELD);
                for i in 1..=N {
                    // Each producer's own account, passive prices: only acceptances.
                    let px = if acct % 2 == 0 { 9_000 } else { 11_000 };
                    let side = if acct % 2 == 0 { Side::Buy } else { Side::Sell };
                    let input = new_order(acct, i, 0, side, OrdType::Limit, Tif::Gtc, px, 1);
                    tx.push_blocking(Stamped { ingress: Nanos(i), item: Inbound::Command(input) }, &mut w).unwrap();
                }
            })
        })
        .collect();
    let h = spawn(m).unwrap();
    let got = read_until_done(&mut rx, &h);
    for p in producers {
        p.join().unwrap();
    }
    let m = h.join().unwrap();
    let mut next = [1u64; 3];
    let mut got = got;
    rx.pop_batch(usize::MAX, |o| got.push(o));
    for o in &got {
        if let EventKind::Accepted { order, .. } = o.event.kind {
            let a = order.acct.0 as usize;
            assert_eq!(order.clid.0, next[a], "producer {a} out of order");
            next[a] += 1;
        }
    }
    assert_eq!(next, [N + 1; 3]);
    assert_eq!(m.stats().commands, 3 * N);
}
