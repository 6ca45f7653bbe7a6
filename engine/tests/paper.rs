//! Paper venue mode, one test per rule of ARCHITECTURE.md "Venue modes":
//! marketable orders fill at the opposite external quote up to its size
//! less what client orders already took from it (restored by the next
//! quote); resting orders fill at their own limit when the quote reaches
//! them or a print trades strictly beyond them; clients never trade with
//! each other. Scripts run through the scenario language; each test
//! compares the JSON lines.

use optix_engine::scenario::{apply, Parser};
use optix_engine::{Engine, EngineConfig, Event, EventKind, Permissive};

const HEAD: &str = "instrument X tick=0.01 lot=1 mode=paper\naccount A cash=100000\naccount B cash=100000\n";

/// Runs a script; returns the fills, cancels, rejects and printed lines
/// (accepted and level events left out, so each test shows what it is about).
fn run(script: &str) -> Vec<String> {
    let mut p = Parser::new();
    let mut e = Engine::new(EngineConfig::default(), Permissive);
    let mut lines = Vec::new();
    for line in format!("{HEAD}{script}").lines() {
        let Some(step) = p.parse_line(line).unwrap() else { continue };
        let mut text = String::new();
        if p.render_step(&e, &step.step, &mut text) {
            lines.extend(text.lines().map(str::to_string));
            continue;
        }
        let mut ev: Vec<Event> = Vec::new();
        apply(&mut e, &step, &mut ev);
        e.validate().unwrap();
        for x in &ev {
            if matches!(x.kind, EventKind::Accepted { .. } | EventKind::LevelChanged { .. }) {
                continue;
            }
            let mut t = String::new();
            p.render(x, &mut t);
            lines.push(short(&t));
        }
    }
    lines
}

/// An event line without seq and time.
fn short(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let mut m = v.as_object().unwrap().clone();
    m.remove("seq");
    m.remove("time");
    m.remove("trade_id");
    m.remove("id");
    serde_json::Value::Object(m).to_string()
}

fn fill(acct: &str, clid: &str, side: &str, px: &str, qty: i64, leaves: i64, liq: &str) -> String {
    format!(
        r#"{{"acct":"{acct}","clid":"{clid}","ev":"fill","fee":"0.00","leaves":{leaves},"liq":"{liq}","px":"{px}","qty":{qty},"side":"{side}","sym":"X"}}"#
    )
}

fn cancelled(acct: &str, clid: &str, qty: i64, reason: &str) -> String {
    format!(r#"{{"acct":"{acct}","clid":"{clid}","ev":"cancelled","qty":{qty},"reason":"{reason}","sym":"X"}}"#)
}

#[test]
fn marketable_limit_fills_at_the_opposite_quote_and_rests_the_rest() {
    let out = run("quote X 99.90x100 100.00x300\nnew A a1 X buy limit px=100.50 qty=500\nbook X\n");
    assert_eq!(out[0], fill("A", "a1", "buy", "100.00", 300, 200, "taker"));
    assert_eq!(out[1], r#"{"ev":"book","sym":"X","bids":[["100.50",200]],"asks":[]}"#);
    assert_eq!(out.len(), 2);
}

#[test]
fn market_and_ioc_remainders_are_cancelled() {
    let out = run(
        "quote X 99.90x100 100.00x300\nnew A a1 X buy market qty=500\nnew B b1 X sell limit px=99.80 qty=150 tif=ioc\n",
    );
    assert_eq!(
        out,
        vec![
            fill("A", "a1", "buy", "100.00", 300, 200, "taker"),
            cancelled("A", "a1", 200, "no_liquidity"),
            fill("B", "b1", "sell", "99.90", 100, 50, "taker"),
            cancelled("B", "b1", 50, "immediate_or_cancel"),
        ]
    );
}

#[test]
fn a_limit_not_reaching_the_quote_rests_without_a_fill() {
    let out = run("quote X 99.90x100 100.00x300\nnew A a1 X buy limit px=99.95 qty=10\nbook X\n");
    assert_eq!(out, vec![r#"{"ev":"book","sym":"X","bids":[["99.95",10]],"asks":[]}"#.to_string()]);
}

#[test]
fn two_clients_share_one_quote_and_the_next_quote_restores_it() {
    let out = run(concat!(
        "quote X 99.90x100 100.00x500\n",
        "new A a1 X buy limit px=100.00 qty=300\n",
        "new B b1 X buy limit px=100.00 qty=400\n",
        "new A a2 X buy market qty=10\n",
        "quote X 99.90x100 100.00x250\n",
    ));
    assert_eq!(
        out,
        vec![
            fill("A", "a1", "buy", "100.00", 300, 0, "taker"),
            // Only 200 of the quote's 500 are left for B; the rest rests at its limit.
            fill("B", "b1", "buy", "100.00", 200, 200, "taker"),
            // Nothing left at the quote.
            cancelled("A", "a2", 10, "no_liquidity"),
            // The next quote is fresh liquidity: B's resting buy at 100.00 is reached.
            fill("B", "b1", "buy", "100.00", 200, 0, "maker"),
        ]
    );
}

#[test]
fn resting_orders_fill_at_their_own_limit_when_the_quote_moves_through() {
    let out = run(concat!(
        "quote X 99.00x100 101.00x100\n",
        "new A a1 X buy limit px=100.00 qty=50\n",
        "new A a2 X buy limit px=99.50 qty=50\n",
        "new B b1 X sell limit px=100.50 qty=30\n",
        // The ask drops through both buys (size 80): best price first, at their own limits.
        "quote X 99.00x100 99.40x80\n",
        // The bid rises through B's sell.
        "quote X 100.60x10 101.00x100\n",
        "book X\n",
    ));
    assert_eq!(
        out,
        vec![
            fill("A", "a1", "buy", "100.00", 50, 0, "maker"),
            fill("A", "a2", "buy", "99.50", 30, 20, "maker"),
            fill("B", "b1", "sell", "100.50", 10, 20, "maker"),
            r#"{"ev":"book","sym":"X","bids":[["99.50",20]],"asks":[["100.50",20]]}"#.to_string(),
        ]
    );
}

#[test]
fn a_quote_exactly_at_the_limit_fills_it() {
    let out = run("quote X 99.00x100 101.00x100\nnew A a1 X buy limit px=100.00 qty=5\nquote X 99.00x100 100.00x3\n");
    assert_eq!(out, vec![fill("A", "a1", "buy", "100.00", 3, 2, "maker")]);
}

#[test]
fn prints_strictly_beyond_the_limit_fill_prints_at_the_limit_do_not() {
    let out = run(concat!(
        "quote X 99.00x100 101.00x100\n",
        "new A a1 X buy limit px=100.00 qty=50\n",
        "new B b1 X sell limit px=100.50 qty=50\n",
        "trade X 100.00x40\n",
        "trade X 100.50x40\n",
        "trade X 99.99x40\n",
        "trade X 100.51x70\n",
    ));
    assert_eq!(
        out,
        vec![fill("A", "a1", "buy", "100.00", 40, 10, "maker"), fill("B", "b1", "sell", "100.50", 50, 0, "maker"),]
    );
}

#[test]
fn clients_never_trade_with_each_other() {
    let out = run(concat!(
        "quote X 99.00x100 101.00x100\n",
        "new A a1 X buy limit px=100.00 qty=50\n",
        // Crosses A's bid, not the external bid: it rests, no trade.
        "new B b1 X sell limit px=99.50 qty=50\n",
        "book X\n",
    ));
    assert_eq!(out, vec![r#"{"ev":"book","sym":"X","bids":[["100.00",50]],"asks":[["99.50",50]]}"#.to_string()]);
}

#[test]
fn fill_or_kill_and_post_only_look_at_the_quote() {
    let out = run(concat!(
        "quote X 99.00x100 101.00x100\n",
        "new A a1 X buy limit px=101.00 qty=150 tif=fok\n",
        "new A a2 X buy limit px=101.00 qty=100 tif=fok\n",
        "new A a3 X sell limit px=99.00 qty=1 post_only\n",
        "new A a4 X sell limit px=99.01 qty=1 post_only\n",
    ));
    assert_eq!(out[0], cancelled("A", "a1", 150, "fill_or_kill"));
    assert_eq!(out[1], fill("A", "a2", "buy", "101.00", 100, 0, "taker"));
    assert!(out[2].contains(r#""reason":"post_only_would_take""#), "{}", out[2]);
    assert_eq!(out.len(), 3);
}

#[test]
fn no_quote_no_fill_and_unsupported_features_are_rejected() {
    let out = run(concat!(
        "new A a1 X buy market qty=5\n",
        "new A a2 X buy limit px=100 qty=10 display=5\n",
        "new A a3 X buy limit px=100 qty=10 tif=opg\n",
        "auction X open\n",
    ));
    assert_eq!(out[0], cancelled("A", "a1", 5, "no_liquidity"));
    assert!(out[1].contains("not_supported") && out[2].contains("not_supported") && out[3].contains("not_supported"));
}

#[test]
fn stops_trigger_on_external_prints_and_fill_at_the_quote() {
    let out = run(concat!(
        "quote X 99.00x100 101.00x100\n",
        "new A a1 X buy stop stop=100.50 qty=10\n",
        "trade X 100.60x5\n",
    ));
    assert!(out[0].contains(r#""ev":"triggered""#), "{}", out[0]);
    assert_eq!(out[1], fill("A", "a1", "buy", "101.00", 10, 0, "taker"));
}

#[test]
fn paper_fills_move_cash_positions_and_fees() {
    let out = run(concat!(
        "account F cash=10000 fee_per_share=0.005 fee_bps=1\n",
        "quote X 99.00x100 100.00x100\n",
        "new F f1 X buy limit px=100.00 qty=10\n",
        "quote X 101.00x100 102.00x100\n",
        "position F X\n",
        "new F f2 X sell market qty=4\n",
        "position F X\n",
    ));
    // Fee: 10 shares * 0.005 + 1 bp of 1000.00 = 0.05 + 0.10.
    assert!(out[0].contains(r#""fee":"0.15""#), "{}", out[0]);
    assert_eq!(
        out[1],
        r#"{"ev":"position","acct":"F","sym":"X","qty":10,"avg_px":"100.00","realized":"0.00","unrealized":"15.00","value":"1015.00","open_buy":0,"open_sell":0}"#
    );
    assert_eq!(
        out[2],
        r#"{"ev":"account","acct":"F","cash":"8999.85","equity":"10014.85","buying_power":"8999.85","fees":"0.15","realized":"0.00","unrealized":"15.00","open_orders":0}"#
    );
    // Sells 4 at the bid, 101.00: realized 4.00; fee 0.02 + 1 bp of 404.00 = 0.0604.
    assert!(out[3].contains(r#""fee":"0.0604""#), "{}", out[3]);
    assert_eq!(
        out[4],
        r#"{"ev":"position","acct":"F","sym":"X","qty":6,"avg_px":"100.00","realized":"4.00","unrealized":"9.00","value":"609.00","open_buy":0,"open_sell":0}"#
    );
}

/// A finer model plugs in behind `FillModel`: here one that expects to get
/// only half of the displayed size and fills resting orders at the quote's
/// price (price improvement) instead of their limit.
#[test]
fn a_fill_model_plugs_in() {
    use optix_engine::*;
    struct Cautious;
    impl FillModel for Cautious {
        fn take(&mut self, side: Side, limit: i64, want: i64, px: i64, left: i64) -> (i64, i64) {
            let (px, q) = QuoteFill.take(side, limit, want, px, left);
            (px, q.min(left / 2))
        }
        fn reached(&mut self, side: Side, limit: i64, reach: Reach) -> Option<i64> {
            match reach {
                Reach::Quote(px) => QuoteFill.reached(side, limit, reach).map(|_| px),
                Reach::Print(_) => QuoteFill.reached(side, limit, reach),
            }
        }
    }
    let mut e = Engine::with_fill_model(EngineConfig::default(), Permissive, Cautious);
    let sym = e.add_instrument(Instrument::new("0.01", 1, VenueMode::Paper).unwrap());
    let acct = e.add_account(AccountSpec::default());
    let q = |bid: i64, ask: i64| {
        Input::Quote(ExtQuote {
            sym,
            bid: Price::from_ticks(bid),
            bid_qty: Qty::from_lots(100),
            ask: Price::from_ticks(ask),
            ask_qty: Qty::from_lots(100),
        })
    };
    let buy = |clid: u64, px: i64| {
        Input::NewOrder(NewOrder {
            acct,
            clid: ClientOrderId(clid),
            sym,
            side: Side::Buy,
            ord_type: OrdType::Limit,
            tif: Tif::Day,
            price: Price::from_ticks(px),
            stop_price: Price::NONE,
            qty: Qty::from_lots(80),
            display: Qty::ZERO,
            expire: Nanos(0),
            post_only: false,
        })
    };
    let fills = |ev: &[Event]| -> Vec<(i64, i64)> {
        ev.iter()
            .filter_map(|x| match x.kind {
                EventKind::Filled { price, qty, .. } => Some((price.ticks(), qty.lots())),
                _ => None,
            })
            .collect()
    };
    let mut ev = Vec::new();
    e.process(Nanos(1), &q(9_900, 10_000), &mut ev);
    e.process(Nanos(2), &buy(1, 10_050), &mut ev);
    // Half of the 100 at the ask.
    assert_eq!(fills(&ev), [(10_000, 50)]);
    ev.clear();
    // The rest rests at 100.50; the ask drops through it: filled at the ask.
    e.process(Nanos(3), &q(9_800, 9_990), &mut ev);
    assert_eq!(fills(&ev), [(9_990, 30)]);
    e.validate().unwrap();
}
