//! Determinism: the same script through fresh engines gives the same events
//! bit for bit and the same state hash; a different script gives a
//! different hash; clock ticks between inputs change nothing but sequence
//! numbers.
//!
//! The scripts are generated here, in the scenario language, by a small
//! seeded xorshift: several hundred lines of new orders (limit, market,
//! IOC, FOK, post-only, reserve, stop, stop-limit; accounts with self-trade
//! prevention), crossing orders, cancels, replaces (price and
//! quantity, up and down, crossing), mass cancels, and bad orders (off-tick,
//! off-lot, zero quantity, unknown account or symbol, duplicate client order
//! ids, market orders with a price, numbers too large).

use std::fmt::Write as _;

use optix_engine::scenario::{apply, Parser, Step, TimedStep};
use optix_engine::*;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in `0..n` (bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const ACCOUNTS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// Decimal text of `ticks` ticks of a symbol (AAA: 0.01, BBB: 0.05).
fn px(sym: &str, ticks: u64) -> String {
    let cents = if sym == "AAA" { ticks } else { ticks * 5 };
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A random order price: mostly passive around the middle (AAA 100.00, BBB
/// 19.25), one in five through it.
fn price(r: &mut XorShift, sym: &str, side: &str) -> u64 {
    let (mid, spread) = if sym == "AAA" { (10_000, 12) } else { (385, 5) };
    let through = r.below(5) == 0;
    match (side, through) {
        ("buy", false) => mid - 1 - r.below(spread),
        ("buy", true) => mid + r.below(4),
        (_, false) => mid + 1 + r.below(spread),
        (_, true) => mid - r.below(4),
    }
}

/// A random quantity in units (BBB has lots of 10).
fn qty(r: &mut XorShift, sym: &str) -> u64 {
    if sym == "AAA" {
        1 + r.below(30)
    } else {
        10 * (1 + r.below(8))
    }
}

/// A script of `lines` command lines (plus the header) from `seed`.
fn script(seed: u64, lines: usize) -> String {
    let mut r = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut s = String::new();
    s.push_str("# generated\ninstrument AAA tick=0.01 lot=1 ref=100.00\n");
    s.push_str("instrument BBB tick=0.05 lot=10\n");
    for (a, stp) in ACCOUNTS.iter().zip(["none", "cancel_newest", "cancel_oldest", "decrement"]) {
        let _ = writeln!(s, "account {a} cash=1000000 stp={stp}");
    }
    // (account, clid, symbol, side) of every order sent, for cancels and
    // replaces, which mostly pick recent ones (likely still working).
    let mut sent: Vec<(&str, u64, &str, &str)> = Vec::new();
    let mut next_clid = 1u64;
    let mut ms = 34_200_000u64; // 09:30:00.000 in ms
    for _ in 0..lines {
        if r.below(4) == 0 {
            ms += r.below(50);
            let (h, m, sec, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
            let _ = writeln!(s, "at {h:02}:{m:02}:{sec:02}.{milli:03}");
        }
        let acct = r.pick(&ACCOUNTS);
        let recent = |r: &mut XorShift, sent: &[(&'static str, u64, &'static str, &'static str)]| {
            let n = sent.len() as u64;
            let back = if r.below(5) == 0 { r.below(n) } else { r.below(n.min(12)) };
            sent[(n - 1 - back) as usize]
        };
        match r.below(100) {
            // Limit orders: DAY (the default), GTC, IOC, FOK, post-only.
            0..=44 => {
                let sym = r.pick(&["AAA", "AAA", "BBB"]);
                let side = r.pick(&["buy", "sell"]);
                let p = px(sym, price(&mut r, sym, side));
                let q = qty(&mut r, sym);
                let tif = r.pick(&["", "", "", "", " tif=gtc", " tif=day", " tif=ioc", " tif=fok"]);
                let po = if tif.is_empty() && r.below(6) == 0 { " post_only" } else { "" };
                let display = if r.below(6) == 0 { format!(" display={}", qty(&mut r, sym)) } else { String::new() };
                let _ = writeln!(s, "new {acct} c{next_clid} {sym} {side} limit qty={q} px={p}{tif}{po}{display}");
                // Orders that may rest are the targets of cancels and
                // replaces (IOC and FOK ones now and then).
                if !tif.contains("ioc") && !tif.contains("fok") || r.below(4) == 0 {
                    sent.push((acct, next_clid, sym, side));
                }
                next_clid += 1;
            }
            // Stop and stop-limit orders around the middle.
            89..=91 => {
                let side = r.pick(&["buy", "sell"]);
                let stop = px("AAA", 9_994 + r.below(13));
                let q = 1 + r.below(20);
                let _ = match r.below(2) {
                    0 => writeln!(s, "new {acct} c{next_clid} AAA {side} stop qty={q} stop={stop}"),
                    _ => {
                        let p = px("AAA", price(&mut r, "AAA", side));
                        writeln!(s, "new {acct} c{next_clid} AAA {side} stop_limit qty={q} px={p} stop={stop}")
                    }
                };
                sent.push((acct, next_clid, "AAA", side));
                next_clid += 1;
            }
            // Market orders.
            45..=49 => {
                let side = r.pick(&["buy", "sell"]);
                let tif = r.pick(&["", " tif=ioc", " tif=fok", " tif=gtc"]);
                let _ = writeln!(s, "new {acct} c{next_clid} AAA {side} market qty={}{tif}", 1 + r.below(40));
                if r.below(4) == 0 {
                    sent.push((acct, next_clid, "AAA", side));
                }
                next_clid += 1;
            }
            // Cancels (now and then in the wrong account).
            50..=64 if !sent.is_empty() => {
                let (a, c, _, _) = recent(&mut r, &sent);
                let a = if r.below(10) == 0 { acct } else { a };
                let _ = writeln!(s, "cancel {a} c{c}");
            }
            // Replaces: price (maybe crossing), total quantity up or down,
            // both, or a total at or below what may have filled already.
            65..=84 if !sent.is_empty() => {
                let (a, c, sym, side) = recent(&mut r, &sent);
                let p = px(sym, price(&mut r, sym, side));
                let q = qty(&mut r, sym);
                let low = if sym == "AAA" { 1 } else { 10 };
                let _ = match r.below(4) {
                    0 => writeln!(s, "replace {a} c{c} px={p}"),
                    1 => writeln!(s, "replace {a} c{c} qty={q}"),
                    2 => writeln!(s, "replace {a} c{c} px={p} qty={q}"),
                    _ => writeln!(s, "replace {a} c{c} qty={low}"),
                };
            }
            85..=86 => {
                let sym = r.pick(&["", " AAA", " BBB"]);
                let _ = writeln!(s, "mass_cancel {acct}{sym}");
            }
            87..=88 => {
                let _ = writeln!(s, "book {} depth=3", r.pick(&["AAA", "BBB"]));
            }
            // Bad orders: they parse, and are rejected.
            _ => {
                let c = next_clid;
                let line = match r.below(9) {
                    0 => format!("new {acct} c{c} AAA buy limit qty=5 px=100.005"),
                    1 => format!("new {acct} c{c} BBB sell limit qty=15 px=19.00"),
                    2 => format!("new {acct} c{c} AAA buy limit qty=0 px=100.00"),
                    3 => format!("new zed c{c} AAA buy limit qty=5 px=100.00"),
                    4 => format!("new {acct} c{c} ZZZ buy limit qty=5 px=100.00"),
                    5 => format!("new {acct} c{c} AAA sell market qty=5 px=100.00"),
                    6 => format!("new {acct} c{c} AAA buy limit qty=99999999999999 px=100.00"),
                    7 => format!("new {acct} c{c} BBB buy limit qty=10 px=0"),
                    _ => match sent.last() {
                        // A duplicate client order id.
                        Some((a, c, _, _)) => format!("new {a} c{c} AAA buy limit qty=1 px=99.00"),
                        None => format!("cancel {acct} c{c}"),
                    },
                };
                let _ = writeln!(s, "{line}");
                next_clid += 1;
            }
        }
    }
    let _ = writeln!(s, "book AAA\nbook BBB");
    s
}

/// Output and state of one run.
struct Run {
    lines: Vec<String>,
    hash: u64,
    engine: Engine<Permissive>,
}

/// Runs a script through a fresh engine like `optix scenario`, checking the
/// invariants after every step. With `ticks`, an `Input::Tick` at the same
/// time goes before every engine input.
fn run(text: &str, ticks: bool) -> Run {
    let mut parser = Parser::new();
    let mut engine = Engine::new(EngineConfig::default(), Permissive);
    let mut lines = Vec::new();
    let mut events = Vec::new();
    for line in text.lines() {
        let Some(step) = parser.parse_line(line).unwrap() else {
            continue;
        };
        if let Step::Book { sym, depth } = step.step {
            let mut t = String::new();
            parser.render_book(&engine, sym, depth, &mut t);
            lines.push(t);
            continue;
        }
        if ticks && matches!(step.step, Step::Input(_)) {
            let tick = TimedStep { time: step.time, step: Step::Input(Input::Tick) };
            let mut none = Vec::new();
            apply(&mut engine, &tick, &mut none);
            assert!(none.is_empty());
        }
        events.clear();
        apply(&mut engine, &step, &mut events);
        engine.validate().unwrap_or_else(|e| panic!("after '{line}': {e}"));
        for ev in &events {
            let mut t = String::new();
            parser.render(ev, &mut t);
            lines.push(t);
        }
    }
    Run { lines, hash: engine.state_hash(), engine }
}

fn count(lines: &[String], what: &str) -> usize {
    lines.iter().filter(|l| l.contains(what)).count()
}

#[test]
fn generated_script_covers_the_features() {
    let text = script(42, 800);
    assert!(text.lines().count() > 800);
    let r = run(&text, false);
    for what in [
        r#""ev":"accepted""#,
        r#""ev":"trade""#,
        r#""ev":"fill""#,
        r#""ev":"replaced""#,
        r#""ev":"level""#,
        r#""ev":"book""#,
        r#""reason":"requested""#,
        r#""reason":"mass_cancel""#,
        r#""reason":"immediate_or_cancel""#,
        r#""reason":"fill_or_kill""#,
        r#""reason":"no_liquidity""#,
        r#""reason":"post_only_would_take""#,
        r#""reason":"duplicate_client_order_id""#,
        r#""reason":"order_not_working""#,
        r#""reason":"unknown_order""#,
        r#""reason":"unknown_account""#,
        r#""reason":"unknown_symbol""#,
        r#""reason":"off_tick""#,
        r#""reason":"off_lot""#,
        r#""reason":"invalid_qty""#,
        r#""reason":"invalid_price""#,
        r#""reason":"qty_too_large""#,
        r#""reason":"price_not_allowed""#,
        r#""reason":"qty_not_above_filled""#,
        r#""reason":"self_trade""#,
        r#""ev":"triggered""#,
        r#""display":"#,
    ] {
        assert!(count(&r.lines, what) > 0, "the script never produced {what}");
    }
    assert!(count(&r.lines, r#""ev":"trade""#) > 50);
    assert!(count(&r.lines, r#""ev":"replaced""#) > 30);
    assert!(r.engine.resting_orders() > 0);
}

#[test]
fn same_script_twice_gives_identical_output_and_state_hash() {
    let text = script(42, 800);
    let a = run(&text, false);
    let b = run(&text, false);
    assert!(a.lines.len() > 1_000, "{}", a.lines.len());
    assert_eq!(a.lines.len(), b.lines.len());
    for (i, (x, y)) in a.lines.iter().zip(&b.lines).enumerate() {
        assert_eq!(x, y, "line {i}");
    }
    assert_eq!(a.hash, b.hash);
    assert_eq!(a.engine.seq(), b.engine.seq());
    // Parsing the whole script at once gives the same steps as line by line.
    let steps = Parser::new().parse_all(&text).unwrap();
    let mut e = Engine::new(EngineConfig::default(), Permissive);
    let mut sink = CountingSink::default();
    for s in &steps {
        apply(&mut e, s, &mut sink);
    }
    assert_eq!(e.state_hash(), a.hash);
    let non_book = a.lines.iter().filter(|l| !l.starts_with(r#"{"ev":"book""#)).count();
    assert_eq!(sink.events as usize, non_book);
}

#[test]
fn different_script_gives_a_different_state_hash() {
    let text = script(42, 800);
    let base = run(&text, false).hash;
    let other = script(43, 800);
    assert_ne!(other, text);
    assert_ne!(run(&other, false).hash, base);
    // Scripts that differ in one field of one resting order (same number
    // of inputs, same time) differ in hash.
    let with = |line: &str| run(&format!("{text}{line}\n"), false).hash;
    let one = with("new alice zz AAA buy limit qty=1 px=1.00");
    for other in [
        "new alice zz AAA buy limit qty=2 px=1.00",
        "new alice zz AAA buy limit qty=1 px=1.01",
        "new bob zz AAA buy limit qty=1 px=1.00",
        "new alice zz BBB buy limit qty=10 px=1.00",
        "new alice zz AAA buy limit qty=1 px=1.00 tif=gtc",
        "new alice zz AAA sell limit qty=1 px=999.00",
    ] {
        assert_ne!(with(other), one, "{other}");
    }
    // One more input, even one that is rejected, moves the sequence number.
    let longer = format!("{text}cancel alice nothing\n");
    assert_ne!(run(&longer, false).hash, base);
}

#[test]
fn ticks_between_inputs_change_only_sequence_numbers() {
    // Ticks consume sequence numbers (and the state hash covers the
    // sequence number), so compare everything else: the events without
    // their `seq`, the books, and the open orders.
    let text = script(7, 600);
    let plain = run(&text, false);
    let ticked = run(&text, true);
    let strip_seq = |l: &String| -> String {
        match l.find(r#","seq":"#) {
            Some(i) => {
                let rest = &l[i + 7..];
                let end = rest.find(',').unwrap();
                format!("{}{}", &l[..i], &rest[end..])
            }
            None => l.clone(),
        }
    };
    let a: Vec<String> = plain.lines.iter().map(strip_seq).collect();
    let b: Vec<String> = ticked.lines.iter().map(strip_seq).collect();
    assert_eq!(a, b);
    let inputs = text
        .lines()
        .filter(|l| {
            let w = l.split_whitespace().next().unwrap_or("");
            ["new", "cancel", "replace", "mass_cancel"].contains(&w)
        })
        .count() as u64;
    // Edge rejects never reach the engine; everything else got a tick.
    let edge = plain.lines.iter().filter(|l| l.contains(r#""seq":0,"#)).count() as u64;
    assert_eq!(plain.engine.seq().0, inputs - edge);
    assert_eq!(ticked.engine.seq().0, 2 * (inputs - edge));
    assert_eq!(plain.engine.now(), ticked.engine.now());
    for sym in [SymbolId(0), SymbolId(1)] {
        for side in [Side::Buy, Side::Sell] {
            let x: Vec<_> = plain.engine.levels(sym, side).collect();
            let y: Vec<_> = ticked.engine.levels(sym, side).collect();
            assert_eq!(x, y);
        }
    }
    for acct in 0..4 {
        assert_eq!(plain.engine.open_orders(AccountId(acct)), ticked.engine.open_orders(AccountId(acct)));
    }
    assert_eq!(plain.engine.resting_orders(), ticked.engine.resting_orders());
}

#[test]
fn many_generated_scripts_keep_the_invariants() {
    // `run` checks `validate()` after every step and panics on any error.
    let seeds: u64 = std::env::var("OPTIX_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(12);
    for seed in 100..100 + seeds {
        let r = run(&script(seed, 600), false);
        assert!(count(&r.lines, r#""ev":"trade""#) > 0, "seed {seed}");
    }
}
