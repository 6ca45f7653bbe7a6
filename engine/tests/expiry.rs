//! Time: DAY orders (resting, waiting stops) and unfilled OPG/CLS orders
//! expire at `session_end`, which also resets the duplicate client order id
//! window (ids of orders still working stay taken); GTD orders expire when
//! the engine clock reaches their expiry, checked before every input.

mod common;
use common::*;
use optix_engine::*;

fn gtd(acct: AccountId, clid: u64, side: Side, px: i64, qty: i64, expire: u64) -> Input {
    new(NewOrder { tif: Tif::Gtd, expire: Nanos(expire), ..lim(acct, clid, side, px, qty) })
}

fn gtc(acct: AccountId, clid: u64, side: Side, px: i64, qty: i64) -> Input {
    new(NewOrder { tif: Tif::Gtc, ..lim(acct, clid, side, px, qty) })
}

#[test]
fn session_end_expires_day_orders_and_keeps_gtc_and_gtd() {
    let mut h = h();
    let far = h.time + 3_600_000_000_000;
    h.setup(&[
        buy(A, 1, 100, 5),
        gtc(A, 2, Side::Buy, 100, 3),
        gtd(B, 3, Side::Sell, 105, 2, far),
        stop(B, 4, Side::Sell, 90, 0, 1),
        new(NewOrder { tif: Tif::Cls, ..lim(C, 5, Side::Buy, 99, 1) }),
        sell(C, 6, 106, 1),
    ]);
    assert_eq!(
        h.run(Input::SessionEnd),
        [
            "expired A/1#1 qty=5",
            "level s0 buy px=100 qty=3",
            "expired B/4#4 qty=1",
            "expired C/5#5 qty=1",
            "expired C/6#6 qty=1",
            "level s0 sell px=106 qty=0",
        ]
    );
    assert_eq!(h.bids(), [(100, 3)]);
    assert_eq!(h.asks(), [(105, 2)]);
    assert_eq!(h.e.open_orders(A) + h.e.open_orders(B) + h.e.open_orders(C), 2);
}

#[test]
fn session_end_resets_the_client_order_id_window_but_not_for_working_orders() {
    let mut h = h();
    h.setup(&[buy(A, 1, 100, 5), gtc(A, 2, Side::Buy, 99, 1), cancel(A, 1)]);
    assert_eq!(h.run(buy(A, 1, 100, 5)), ["rejected new A/1#0 duplicate_client_order_id"]);
    assert_eq!(h.run(cancel(A, 1)), ["rejected cancel A/1#0 order_not_working"]);
    h.setup(&[Input::SessionEnd]);
    // A new day: yesterday's finished id is unknown, then free again.
    assert_eq!(h.run(cancel(A, 1)), ["rejected cancel A/1#0 unknown_order"]);
    assert_eq!(h.run(buy(A, 1, 100, 5))[0], "accepted A/1#3 s0 buy limit day px=100 qty=5");
    // The GTC order still works under its id: no duplicate.
    assert_eq!(h.run(buy(A, 2, 100, 5)), ["rejected new A/2#0 duplicate_client_order_id"]);
    assert_eq!(h.run(cancel(A, 2))[0], "cancelled A/2#2 qty=1 requested");
}

#[test]
fn a_gtd_order_expires_between_two_commands() {
    let mut h = h();
    let t = h.time;
    // Inputs come 1 ms apart: expiry 1.5 ms after the first input's time.
    h.setup(&[gtd(A, 1, Side::Buy, 100, 5, t + 2_500_000)]);
    assert_eq!(h.run(buy(B, 2, 90, 1))[0], "accepted B/2#2 s0 buy limit day px=90 qty=1");
    assert_eq!(h.bids(), [(100, 5), (90, 1)]);
    // The next input runs after the expiry: `expired` first, with its seq.
    assert_eq!(
        h.run(sell(C, 3, 100, 1)),
        [
            "expired A/1#1 qty=5",
            "level s0 buy px=100 qty=0",
            "accepted C/3#3 s0 sell limit day px=100 qty=1",
            "level s0 sell px=100 qty=1",
        ]
    );
}

#[test]
fn a_tick_expires_gtd_orders_in_expiry_order_at_exactly_their_time() {
    let mut h = h();
    let t = h.time;
    let gtd_stop = NewOrder {
        tif: Tif::Gtd,
        expire: Nanos(t + 7_000_000),
        ord_type: OrdType::Stop,
        stop_price: Price::from_ticks(130),
        ..mkt(A, 4, Side::Buy, 1)
    };
    h.setup(&[
        gtd(A, 1, Side::Buy, 100, 1, t + 5_500_000),
        gtd(A, 2, Side::Buy, 99, 1, t + 5_200_000),
        stop(A, 3, Side::Buy, 120, 0, 1),
        new(gtd_stop),
    ]);
    // t + 5 ms: nothing due yet.
    assert_eq!(h.run(Input::Tick), Vec::<String>::new());
    // t + 6 ms: both limit orders are due, earliest expiry first.
    assert_eq!(
        h.run(Input::Tick),
        ["expired A/2#2 qty=1", "level s0 buy px=99 qty=0", "expired A/1#1 qty=1", "level s0 buy px=100 qty=0"]
    );
    // t + 7 ms: a waiting GTD stop expires too, at exactly its expiry.
    assert_eq!(h.run(Input::Tick), ["expired A/4#4 qty=1"]);
    assert_eq!(h.e.open_orders(A), 1);
    assert_eq!(h.run(Input::Tick), Vec::<String>::new());
}

#[test]
fn a_gtd_order_cancelled_or_filled_before_its_expiry_is_not_expired() {
    let mut h = h();
    let t = h.time;
    h.setup(&[gtd(A, 1, Side::Buy, 100, 1, t + 3_000_000), cancel(A, 1), gtd(A, 2, Side::Buy, 100, 1, t + 4_000_000)]);
    h.setup(&[sell(B, 3, 100, 1)]);
    assert_eq!(h.run(Input::Tick), Vec::<String>::new());
    assert_eq!(h.run(Input::Tick), Vec::<String>::new());
}

#[test]
fn an_expiry_not_after_now_or_without_gtd_is_rejected() {
    let mut h = h();
    let now = h.time + 1_000_000;
    assert_eq!(h.run(gtd(A, 1, Side::Buy, 100, 1, now)), ["rejected new A/1#0 invalid_expiry"]);
    let day_with_expiry = NewOrder { expire: Nanos(now + 10_000_000), ..lim(A, 2, Side::Buy, 100, 1) };
    assert_eq!(h.run(new(day_with_expiry)), ["rejected new A/2#0 invalid_expiry"]);
    // The ids were not used.
    assert_eq!(h.run(gtd(A, 1, Side::Buy, 100, 1, now + 5_000_000))[0], "accepted A/1#1 s0 buy limit gtd px=100 qty=1");
}

#[test]
fn gtd_parses_in_scripts_with_an_expiry_time() {
    use optix_engine::scenario::{apply, Parser};
    let text = "instrument X tick=0.01\naccount a cash=1\nat 09:30:00\n\
                new a g1 X buy limit qty=5 px=10.00 tif=gtd expire=09:30:02\n\
                at 09:30:01\nnew a d1 X buy limit qty=1 px=9.00\n\
                at 09:30:03\nsession_end\n";
    let mut p = Parser::new();
    let steps = p.parse_all(text).unwrap();
    let mut e = Engine::new(EngineConfig::default(), Permissive);
    let mut ev = Vec::new();
    for s in &steps {
        apply(&mut e, s, &mut ev);
    }
    let lines: Vec<String> = ev
        .iter()
        .map(|ev| {
            let mut s = String::new();
            p.render(ev, &mut s);
            s
        })
        .collect();
    assert_eq!(
        lines[lines.len() - 4..],
        [
            r#"{"ev":"expired","seq":3,"time":"09:30:03.000","acct":"a","clid":"g1","id":1,"sym":"X","qty":5}"#,
            r#"{"ev":"level","seq":3,"time":"09:30:03.000","sym":"X","side":"buy","px":"10.00","qty":0}"#,
            r#"{"ev":"expired","seq":3,"time":"09:30:03.000","acct":"a","clid":"d1","id":2,"sym":"X","qty":1}"#,
            r#"{"ev":"level","seq":3,"time":"09:30:03.000","sym":"X","side":"buy","px":"9.00","qty":0}"#,
        ]
    );
}

#[test]
fn many_cancelled_gtd_orders_do_not_pile_up_in_the_expiry_queue() {
    let mut h = h();
    let far = h.time + 3_600_000_000_000;
    for i in 0..1_000 {
        h.setup(&[gtd(A, 2 * i + 1, Side::Buy, 90, 1, far), cancel(A, 2 * i + 1)]);
    }
    // `validate` (after every input) checks every working GTD order is
    // queued once; one still working expires on time.
    h.setup(&[gtd(B, 1, Side::Sell, 110, 1, h.time + 3_000_000)]);
    assert_eq!(h.run(Input::Tick), Vec::<String>::new());
    assert_eq!(h.run(Input::Tick), ["expired B/1#1001 qty=1", "level s0 sell px=110 qty=0"]);
}
