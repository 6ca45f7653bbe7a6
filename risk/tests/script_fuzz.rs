//! Scenario scripts are untrusted text (`optix scenario FILE`, `optix bench
//! engine --script FILE`): whatever a line holds, the parser answers with a
//! step or an error naming the line, never a panic, and whatever parses runs
//! through the engine (with `StandardRisk`, so `limits` and `restrict` lines
//! run too) and renders without a panic, the engine's invariants holding
//! after every step.
//!
//! Lines are built from the language's own words, keys and interesting
//! values (zero, negative, too many decimals, past `i64`, bad times, bad
//! `PxQ` pairs), so most of them get past the first token; a second property
//! feeds arbitrary text. `PROPTEST_CASES` raises the case count.

use optix_engine::scenario::{apply, Parser};
use optix_engine::{Engine, EngineConfig, Event};
use optix_risk::StandardRisk;
use proptest::prelude::*;

const COMMANDS: &[&str] = &[
    "instrument",
    "account",
    "limits",
    "restrict",
    "at",
    "new",
    "cancel",
    "replace",
    "mass_cancel",
    "quote",
    "trade",
    "auction",
    "halt",
    "resume",
    "kill",
    "unkill",
    "session_end",
    "book",
    "position",
    "statement",
    "frobnicate",
];

const WORDS: &[&str] = &[
    "A",
    "B",
    "X",
    "Y",
    "all",
    "1",
    "2",
    "c1",
    "buy",
    "sell",
    "limit",
    "market",
    "stop",
    "stop_limit",
    "post_only",
    "open",
    "close",
    "reduce_only",
    "off",
    "-",
    "#",
    "x",
    "=",
    "==",
];

const KEYS: &[&str] = &[
    "tick",
    "lot",
    "mode",
    "ref",
    "cash",
    "leverage",
    "stp",
    "fee_bps",
    "fee_per_share",
    "max_qty",
    "max_notional",
    "collar_pct",
    "collar_bps",
    "max_open",
    "max_position",
    "max_pos",
    "max_long",
    "max_short",
    "rate",
    "buying_power",
    "qty",
    "px",
    "stop",
    "tif",
    "expire",
    "display",
    "depth",
    "bid",
    "ask",
];

const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "100",
    "0.01",
    "0.05",
    "1.5",
    "99.99",
    "100.00",
    "100.01",
    "0.0000001",
    "0.00000000000000000001",
    "1e5",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "281474976710656",
    "1099511627776",
    ".",
    "-",
    "",
    "x",
    "100x5",
    "99.99x500",
    "100.01x300",
    "0x0",
    "-1x-1",
    "1x99999999999999999999",
    "clob",
    "paper",
    "none",
    "cancel_newest",
    "cancel_oldest",
    "cancel_both",
    "decrement",
    "day",
    "gtc",
    "ioc",
    "fok",
    "gtd",
    "opg",
    "cls",
    "on",
    "off",
    "09:30:00",
    "10:00:00.5",
    "23:59:59.999999999",
    "24:00:00",
    "25:61:61",
    "9:30",
];

/// One token: a word, a `key=value`, or a bare value.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(WORDS).prop_map(str::to_string),
        (prop::sample::select(KEYS), prop::sample::select(VALUES)).prop_map(|(k, v)| format!("{k}={v}")),
        prop::sample::select(VALUES).prop_map(str::to_string),
    ]
}

/// A line: a command and up to eight tokens; now and then a comment.
fn line() -> impl Strategy<Value = String> {
    (prop::sample::select(COMMANDS), prop::collection::vec(token(), 0..9), prop::bool::weighted(0.1)).prop_map(
        |(cmd, toks, comment)| {
            let mut l = cmd.to_string();
            for t in toks {
                l.push(' ');
                l.push_str(&t);
            }
            if comment {
                l.push_str(" # a comment");
            }
            l
        },
    )
}

/// A script: the set-up most scripts start with (so orders have an
/// instrument and accounts to name), then random lines.
fn script() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(line(), 1..60).prop_map(|mut lines| {
        let head = [
            "instrument X tick=0.01 lot=1 ref=100.00",
            "instrument Y tick=0.05 lot=10 mode=paper",
            "account A cash=1000000 stp=decrement fee_per_share=0.001",
            "account B cash=1000000 leverage=2 stp=cancel_oldest",
        ];
        for (i, h) in head.iter().enumerate() {
            lines.insert(i, (*h).to_string());
        }
        lines
    })
}

/// Parses and runs every line; `Err` if the engine's invariants break.
fn run(lines: &[String]) -> Result<(), TestCaseError> {
    let mut p = Parser::new();
    let mut e = Engine::new(EngineConfig::default(), StandardRisk::new());
    for l in lines {
        let step = match p.parse_line(l) {
            Ok(Some(step)) => step,
            Ok(None) => continue,
            Err(err) => {
                // An error names its line and says what is wrong.
                prop_assert!(err.line >= 1 && !err.msg.is_empty(), "{:?}", err);
                continue;
            }
        };
        let mut text = String::new();
        if p.render_step(&e, &step.step, &mut text) {
            continue;
        }
        let mut ev: Vec<Event> = Vec::new();
        apply(&mut e, &step, &mut ev);
        for x in &ev {
            p.render(x, &mut text);
        }
        if let Err(msg) = e.validate() {
            return Err(TestCaseError::fail(format!("after '{l}': {msg}")));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn scripts_of_the_language_words_never_panic(lines in script()) {
        run(&lines)?;
    }

    #[test]
    fn arbitrary_text_never_panics(lines in prop::collection::vec(".{0,80}", 1..20)) {
        run(&lines)?;
    }
}
