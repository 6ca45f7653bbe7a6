//! End-to-end tests of `optix scenario` (and `optix bench engine --script`): the built binary on scripts written
//! to a temporary folder (and on `examples/*.optix`), checking its output
//! lines, exit codes and error messages.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const OPTIX: &str = env!("CARGO_BIN_EXE_optix");

/// Writes `text` to a fresh file in the test's temporary folder.
fn script(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.optix"));
    std::fs::write(&path, text).unwrap();
    path
}

fn optix(args: &[&str]) -> Output {
    Command::new(OPTIX).args(args).output().unwrap()
}

fn scenario(path: &Path, flags: &[&str]) -> Output {
    let mut args = vec!["scenario", path.to_str().unwrap()];
    args.extend_from_slice(flags);
    optix(&args)
}

fn stdout_lines(o: &Output) -> Vec<String> {
    String::from_utf8(o.stdout.clone()).unwrap().lines().map(str::to_string).collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Every line is a JSON object with an `"ev"` string.
fn assert_json_events(lines: &[String]) {
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v.get("ev").and_then(|e| e.as_str()).is_some(), "no \"ev\": {l}");
    }
}

const SMALL: &str = "\
# two orders that trade, a cancel and a book
instrument XYZ tick=0.01 lot=1
account a cash=1000
account b cash=1000
at 09:30:00
new a o1 XYZ buy limit qty=10 px=10.00
new b o2 XYZ sell limit qty=4 px=9.99   # trades at 10.00
at 09:30:01.5
cancel a o1
book XYZ
";

#[test]
fn scenario_prints_one_json_event_per_line() {
    let o = scenario(&script("small", SMALL), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let lines = stdout_lines(&o);
    let t0 = r#""time":"09:30:00.000""#;
    let t1 = r#""time":"09:30:01.500""#;
    let want = [
        format!(
            r#"{{"ev":"accepted","seq":1,{t0},"acct":"a","clid":"o1","id":1,"sym":"XYZ","side":"buy","type":"limit","tif":"day","px":"10.00","qty":10}}"#
        ),
        format!(r#"{{"ev":"level","seq":1,{t0},"sym":"XYZ","side":"buy","px":"10.00","qty":10}}"#),
        format!(
            r#"{{"ev":"accepted","seq":2,{t0},"acct":"b","clid":"o2","id":2,"sym":"XYZ","side":"sell","type":"limit","tif":"day","px":"9.99","qty":4}}"#
        ),
        format!(
            r#"{{"ev":"trade","seq":2,{t0},"sym":"XYZ","px":"10.00","qty":4,"trade_id":1,"buy":"a/o1","sell":"b/o2","maker":"a/o1","taker":"b/o2"}}"#
        ),
        format!(
            r#"{{"ev":"fill","seq":2,{t0},"acct":"a","clid":"o1","id":1,"sym":"XYZ","side":"buy","px":"10.00","qty":4,"leaves":6,"liq":"maker","fee":"0.00","trade_id":1}}"#
        ),
        format!(
            r#"{{"ev":"fill","seq":2,{t0},"acct":"b","clid":"o2","id":2,"sym":"XYZ","side":"sell","px":"10.00","qty":4,"leaves":0,"liq":"taker","fee":"0.00","trade_id":1}}"#
        ),
        format!(r#"{{"ev":"level","seq":2,{t0},"sym":"XYZ","side":"buy","px":"10.00","qty":6}}"#),
        format!(
            r#"{{"ev":"cancelled","seq":3,{t1},"acct":"a","clid":"o1","id":1,"sym":"XYZ","qty":6,"reason":"requested"}}"#
        ),
        format!(r#"{{"ev":"level","seq":3,{t1},"sym":"XYZ","side":"buy","px":"10.00","qty":0}}"#),
        r#"{"ev":"book","sym":"XYZ","bids":[],"asks":[]}"#.to_string(),
    ];
    assert_eq!(lines, want);
    assert_json_events(&lines);
}

#[test]
fn scenario_renders_rejects_with_reasons() {
    let text = "instrument XYZ tick=0.05 lot=10\naccount a cash=1\nat 10:00:00\n\
                new a o1 XYZ buy limit qty=10 px=1.07\n\
                new a o2 XYZ buy limit qty=0 px=1.05\n\
                new ghost o3 XYZ buy limit qty=10 px=1.05\n\
                cancel a o9\n";
    let o = scenario(&script("rejects", text), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout_lines(&o),
        [
            r#"{"ev":"rejected","seq":0,"time":"10:00:00.000","acct":"a","clid":"o1","id":null,"cmd":"new","reason":"off_tick"}"#,
            r#"{"ev":"rejected","seq":1,"time":"10:00:00.000","acct":"a","clid":"o2","id":null,"cmd":"new","reason":"invalid_qty"}"#,
            r#"{"ev":"rejected","seq":2,"time":"10:00:00.000","acct":"ghost","clid":"o3","id":null,"cmd":"new","reason":"unknown_account"}"#,
            r#"{"ev":"rejected","seq":3,"time":"10:00:00.000","acct":"a","clid":"o9","id":null,"cmd":"cancel","reason":"unknown_order"}"#,
        ]
    );
}

const HEADER: &str = "instrument XYZ tick=0.01 lot=1\naccount a cash=1000\nat 09:30:00\n\
                      new a o1 XYZ buy limit qty=10 px=10.00\n";

/// Runs `HEADER` + `bad` (+ a valid line after it) and checks: exit 2, the
/// message names line 5 and contains `want`, and the events before the bad
/// line were printed (and none after it).
fn assert_bad_line(name: &str, bad: &str, want: &str) {
    let text = format!("{HEADER}{bad}\nnew a o2 XYZ buy limit qty=1 px=9.00\n");
    let path = script(name, &text);
    let o = scenario(&path, &[]);
    assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("line 5:"), "{bad}: {err}");
    assert!(err.contains(want), "{bad}: want '{want}' in: {err}");
    assert!(err.contains(path.to_str().unwrap()), "{bad}: {err}");
    let lines = stdout_lines(&o);
    assert_eq!(lines.len(), 2, "{bad}: {lines:?}");
    assert!(lines[0].contains(r#""clid":"o1""#), "{bad}: {lines:?}");
}

#[test]
fn unparseable_lines_exit_2_naming_the_line() {
    let cases = [
        ("unknown_command", "frobnicate a o2", "unknown command 'frobnicate'"),
        ("missing_qty", "new a o2 XYZ buy limit px=10.00", "new needs qty="),
        ("bad_side", "new a o2 XYZ up limit qty=1 px=10.00", "bad side 'up'"),
        ("bad_type", "new a o2 XYZ buy iceberg qty=1 px=10.00", "bad order type 'iceberg'"),
        ("bad_tif", "new a o2 XYZ buy limit qty=1 px=10.00 tif=forever", "bad tif 'forever'"),
        ("limit_without_px", "new a o2 XYZ buy limit qty=1", "a limit order needs px="),
        ("qty_not_a_number", "new a o2 XYZ buy limit qty=ten px=10.00", "quantity is not a number"),
        ("unknown_option", "new a o2 XYZ buy limit qty=1 px=10.00 colour=red", "unknown option 'colour'"),
        ("bad_time", "at 9:30", "bad time '9:30'"),
        ("bad_time_hour", "at 25:00:00", "bad time '25:00:00'"),
        ("time_backwards", "at 09:29:59.999", "before the current time"),
        ("redeclared", "account a cash=1", "'a' is already declared"),
        ("book_unknown", "book NOPE", "unknown symbol 'NOPE'"),
        ("replace_nothing", "replace a o1", "replace needs px=, qty= or stop="),
        ("stop_without_stop", "new a o2 XYZ sell stop qty=1", "a stop order needs stop="),
        ("stop_limit_without_px", "new a o2 XYZ sell stop_limit qty=1 stop=9.50", "a stop_limit order needs px="),
        ("bad_expire", "new a o2 XYZ sell limit qty=1 px=11.00 tif=gtd expire=10h", "bad time '10h'"),
        ("bad_stp", "account s cash=1 stp=sometimes", "bad stp 'sometimes'"),
        ("halt_unknown", "halt NOPE", "unknown symbol 'NOPE'"),
        ("auction_kind", "auction XYZ midday", "bad auction 'midday'"),
        ("auction_unknown", "auction NOPE open", "unknown symbol 'NOPE'"),
        ("kill_option", "kill a gently", "unexpected 'gently'"),
        ("trade_syntax", "trade XYZ 10.00", "usage: trade SYM"),
        ("trade_off_tick", "trade XYZ 10.001x5", "bad trade price"),
        ("session_end_arg", "session_end now", "unexpected 'now'"),
    ];
    for (name, bad, want) in cases {
        assert_bad_line(name, bad, want);
    }
}

#[test]
fn malformed_account_risk_and_market_lines_exit_2_naming_the_problem() {
    let cases = [
        ("quote", "quote XYZ 9.99", "usage: quote"),
        ("limits", "limits a max_qty=-5", "bad max_qty"),
        ("position", "position nobody XYZ", "unknown account"),
        ("fees", "account f cash=1 fee_bps=1.234", "bad fee_bps"),
        ("leverage", "account f cash=1 leverage=0", "bad leverage"),
        ("mode", "instrument P tick=0.01 mode=dark", "bad mode"),
    ];
    for (name, line, want) in cases {
        assert_bad_line(&format!("malformed_{name}"), line, want);
    }
}

#[test]
fn the_named_quote_and_the_percent_collar_and_position_limit_forms_run() {
    // The forms the scenario language was specified with: `quote SYM
    // bid=PxQ ask=PxQ`, `limits ... collar_pct=P max_position=N`.
    let text = "\
instrument P tick=0.01 lot=1 mode=paper ref=100.00
account a cash=1000000
limits a collar_pct=2.5 max_position=100
quote P bid=99.99x500 ask=100.01x500
new a o1 P buy limit px=102.51 qty=1
new a o2 P buy limit px=102.50 qty=1
new a o3 P buy market qty=99
new a o4 P buy market qty=1
quote P ask=100.05x10
new a o5 P sell market qty=1
quote P bid=99.00x5 ask=-
new a o6 P sell market qty=1
";
    let path = script("named_forms", text);
    let o = scenario(&path, &["--no-levels"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = stdout_lines(&o);
    let find = |clid: &str, ev: &str| {
        lines
            .iter()
            .find(|l| l.contains(&format!(r#""clid":"{clid}""#)) && l.contains(&format!(r#""ev":"{ev}""#)))
            .cloned()
            .unwrap_or_else(|| panic!("no {ev} for {clid} in {lines:?}"))
    };
    // 2.5% around 100.00: 102.50 is at the collar, 102.51 one tick over.
    assert!(find("o1", "rejected").contains(r#""reason":"price_collar""#), "{lines:?}");
    assert!(find("o2", "fill").contains(r#""px":"100.01""#), "{lines:?}");
    // A position of 100 is at the limit, 101 one lot over.
    assert!(find("o3", "fill").contains(r#""qty":99"#), "{lines:?}");
    assert!(find("o4", "rejected").contains(r#""reason":"position_limit""#), "{lines:?}");
    // A quote with only an ask leaves no bid to sell to; `-` says the same.
    assert!(find("o5", "cancelled").contains(r#""qty":1"#), "{lines:?}");
    assert!(find("o6", "fill").contains(r#""px":"99.00""#), "{lines:?}");

    for (name, line, want) in [
        ("collar_decimals", "limits a collar_pct=2.555", "bad collar_pct"),
        ("collar_twice", "limits a collar_pct=2 collar_bps=200", "not both"),
        ("position_twice", "limits a max_pos=1 max_position=1", "give it once"),
        ("quote_key", "quote P bid=1.00x1 offer=1.01x1", "unknown option 'offer'"),
    ] {
        let text = format!("instrument P tick=0.01\naccount a cash=1\n{line}\n");
        let o = scenario(&script(name, &text), &[]);
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert!(stderr(&o).contains("line 3") && stderr(&o).contains(want), "{name}: {}", stderr(&o));
    }
}

#[test]
fn paper_fills_positions_and_risk_limits_through_the_cli() {
    let text = "\
instrument P tick=0.01 lot=1 mode=paper
account a cash=10000 fee_per_share=0.01
limits a max_qty=100
quote P 9.99x500 10.01x500
new a o1 P buy market qty=100
new a o2 P buy market qty=101
position a P
";
    let path = script("paper_risk", text);
    let o = scenario(&path, &["--no-levels"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = stdout_lines(&o);
    assert!(lines[1].contains(r#""ev":"fill""#) && lines[1].contains(r#""px":"10.01""#), "{lines:?}");
    assert!(lines[1].contains(r#""fee":"1.00""#), "{lines:?}");
    assert!(lines[2].contains(r#""reason":"max_qty""#), "{lines:?}");
    assert_eq!(
        lines[3],
        r#"{"ev":"position","acct":"a","sym":"P","qty":100,"avg_px":"10.01","realized":"0.00","unrealized":"-1.00","value":"1000.00","open_buy":0,"open_sell":0}"#
    );
    assert_eq!(
        lines[4],
        r#"{"ev":"account","acct":"a","cash":"8998.00","equity":"9998.00","buying_power":"8998.00","fees":"1.00","realized":"0.00","unrealized":"-1.00","open_orders":0}"#
    );
}

#[test]
fn missing_file_exits_1() {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-tests/does-not-exist.optix");
    let o = scenario(&path, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

#[test]
fn hash_flag_prints_a_state_hash_that_is_stable_across_runs() {
    let path = script("hash", SMALL);
    let a = stdout_lines(&scenario(&path, &["--hash"]));
    let b = stdout_lines(&scenario(&path, &["--hash"]));
    assert_eq!(a, b);
    let last = a.last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(v["ev"], "state_hash");
    let hash = v["hash"].as_str().unwrap();
    assert_eq!(hash.len(), 16);
    assert!(hash.bytes().all(|c| c.is_ascii_hexdigit()), "{hash}");
    // The hash is only added: the events are the same as without it.
    let plain = stdout_lines(&scenario(&path, &[]));
    assert_eq!(&a[..a.len() - 1], &plain[..]);
    assert_json_events(&a);
    // A different end state, a different hash (the hash covers the state,
    // not the history: here o1 is left resting instead of cancelled).
    let other = script("hash-other", &SMALL.replace("cancel a o1\n", ""));
    let c = stdout_lines(&scenario(&other, &["--hash"]));
    assert_ne!(c.last(), a.last());
}

#[test]
fn no_levels_flag_drops_level_events_only() {
    let path = script("no-levels", SMALL);
    let all = stdout_lines(&scenario(&path, &[]));
    let o = scenario(&path, &["--no-levels"]);
    assert_eq!(o.status.code(), Some(0));
    let some = stdout_lines(&o);
    let want: Vec<String> = all.iter().filter(|l| !l.contains(r#""ev":"level""#)).cloned().collect();
    assert!(want.len() < all.len());
    assert_eq!(some, want);
}

#[test]
fn scenario_reads_standard_input_for_dash() {
    let from_file = scenario(&script("stdin", SMALL), &["--hash"]);
    let mut child = Command::new(OPTIX)
        .args(["scenario", "-", "--hash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(SMALL.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout_lines(&o), stdout_lines(&from_file));
    // A bad line on standard input names the line too.
    let mut child = Command::new(OPTIX)
        .args(["scenario", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"instrument X tick=0.01\nbogus\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 2:"), "{}", stderr(&o));
}

#[test]
fn basic_example_runs() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/basic.optix");
    let o = scenario(&path, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = stdout_lines(&o);
    assert_json_events(&lines);
    assert_eq!(lines.last().unwrap(), r#"{"ev":"book","sym":"AAPL","bids":[["99.98",30]],"asks":[]}"#);
}

#[test]
fn every_example_runs_with_exit_0() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "optix") {
            let o = scenario(&path, &["--hash"]);
            assert_eq!(o.status.code(), Some(0), "{}: {}", path.display(), stderr(&o));
            assert_eq!(stderr(&o), "", "{}", path.display());
            let lines = stdout_lines(&o);
            assert!(lines.len() > 1, "{}", path.display());
            assert_json_events(&lines);
            seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    seen.sort();
    assert!(seen.len() >= 7, "{seen:?}");
    for name in ["stops.optix", "iceberg.optix", "auction.optix"] {
        assert!(seen.contains(&name.to_string()), "{seen:?}");
    }
    assert!(seen.contains(&"basic.optix".to_string()), "{seen:?}");
}

fn example(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name);
    let o = scenario(&path, &["--no-levels"]);
    assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
    let lines = stdout_lines(&o);
    assert_json_events(&lines);
    lines
}

fn count(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|l| l.contains(needle)).count()
}

#[test]
fn stops_example_triggers_and_cascades() {
    let lines = example("stops.optix");
    assert_eq!(count(&lines, r#""ev":"triggered""#), 4, "{lines:#?}");
    // s1 triggers on bob's print, s2 on s1's print: s1 runs first.
    let s1 = lines.iter().position(|l| l.contains(r#""ev":"triggered""#) && l.contains(r#""clid":"s1""#)).unwrap();
    let s2 = lines.iter().position(|l| l.contains(r#""ev":"triggered""#) && l.contains(r#""clid":"s2""#)).unwrap();
    assert!(s1 < s2);
    assert!(lines[s2].contains(r#""last":"400.02""#), "{}", lines[s2]);
    assert_eq!(count(&lines, r#""stop":"399.99""#), 1, "the replaced stop price");
    assert!(lines.iter().any(|l| l.contains(r#""type":"stop_limit""#) && l.contains(r#""stop":"400.02""#)));
}

#[test]
fn iceberg_example_shows_only_the_display() {
    let lines = example("iceberg.optix");
    assert!(lines.contains(&r#"{"ev":"book","sym":"NVDA","bids":[],"asks":[["120.00",150]]}"#.to_string()));
    // t1 reaches w1 three times in one sweep.
    assert_eq!(count(&lines, r#""ev":"trade","seq":3,"#), 4);
    assert_eq!(count(&lines, r#""buy":"taker/t1","sell":"whale/w1""#), 3);
    assert_eq!(count(&lines, r#""reason":"self_trade""#), 1);
    assert_eq!(lines.last().unwrap(), r#"{"ev":"book","sym":"NVDA","bids":[["119.00",30]],"asks":[["125.00",5]]}"#);
}

#[test]
fn auction_example_uncrosses_and_expires() {
    let lines = example("auction.optix");
    assert_eq!(count(&lines, r#""liq":"auction""#), 8);
    assert!(lines.iter().filter(|l| l.contains(r#""ev":"trade""#)).all(|l| !l.contains("taker")));
    assert_eq!(count(&lines, r#""reason":"auction_leftover""#), 2);
    assert_eq!(count(&lines, r#""reason":"symbol_halted""#), 1);
    assert_eq!(count(&lines, r#""ev":"status","#), 2);
    assert!(lines.iter().any(|l| l.contains(r#""ev":"status","#) && l.ends_with(r#""sym":"TSLA","state":"halted"}"#)));
    assert_eq!(count(&lines, r#""reason":"kill_switch""#), 3);
    assert_eq!(count(&lines, r#""ev":"expired""#), 2);
    assert_eq!(lines.last().unwrap(), r#"{"ev":"book","sym":"TSLA","bids":[["249.00",100]],"asks":[]}"#);
}

#[test]
fn bench_engine_runs_a_script_and_names_a_bad_line_once() {
    let text = "instrument X tick=0.01\naccount a cash=100000\naccount b cash=100000\n\
new a 1 X buy limit px=10.00 qty=5\nnew b 2 X sell limit px=10.00 qty=3\ncancel a 1\n";
    let path = script("bench_script", text);
    let o = optix(&["bench", "engine", "--script", path.to_str().unwrap(), "--repeat", "3", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    // Three commands (instrument and account lines set up), three times.
    assert!(out.contains(r#""commands":9,"#), "{out}");
    assert!(out.contains(r#""trades":3,"#), "{out}");

    let bad = script("bench_script_bad", "instrument X tick=0.01\nquote X 1\n");
    let o = optix(&["bench", "engine", "--script", bad.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert_eq!(err.matches("line 2").count(), 1, "{err}");
    assert!(err.contains("usage: quote"), "{err}");
}
