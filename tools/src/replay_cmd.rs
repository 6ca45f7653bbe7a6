//! `optix replay FILE [--orders SCRIPT] [--symbol SYM] [--json] [--pacing P]`:
//! an ITCH 5.0 file through feed thread -> ring -> matcher thread (paper
//! instruments) -> outbound ring -> reader (see `optix_feed::replay`), then
//! a summary; `optix gen-itch FILE`, a generated day to replay; and
//! `optix bench pipeline` (see `optix_bench::pipeline_bench`).

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use optix_engine::{EventKind, Price, SymbolId};
use optix_feed::book::BookConfig;
use optix_feed::itch::Stock;
use optix_feed::replay::{replay_instrument, run_replay, ClientOrders, ReplayConfig, ReplayReport, ReplaySource};
use optix_feed::thread::Pacing;
use optix_ring::WaitStrategy;

/// Most active symbols shown in the summary.
const TOP_SYMBOLS: usize = 5;
/// Client fills listed in the text summary (all are counted).
const FILLS_LISTED: usize = 20;

#[derive(Args)]
pub struct ReplayArgs {
    /// The framed ITCH 5.0 file (plain or gzip).
    file: PathBuf,
    /// Client orders: a scenario-style script (`instrument SYM tick=0.0001`,
    /// `account`, `at HH:MM:SS.fff`, `new`, `cancel`, ...) injected at their times.
    #[arg(long)]
    orders: Option<PathBuf>,
    /// Only this stock's market data reaches the matcher.
    #[arg(long)]
    symbol: Option<String>,
    /// One JSON object instead of the summary.
    #[arg(long)]
    json: bool,
    /// `asap` (as fast as possible), `realtime`, or a speed-up such as `x10`.
    #[arg(long, default_value = "asap", value_parser = parse_pacing)]
    pacing: Pacing,
    /// Wait strategy of the feed and matcher threads: `park`, `yield`, `busy-spin`.
    #[arg(long, default_value = "park")]
    wait: WaitStrategy,
    /// Forward depth (level) updates to the matcher too (it does not use them).
    #[arg(long)]
    levels: bool,
    /// Live orders the book builder preallocates for.
    #[arg(long, default_value_t = BookConfig::default().max_orders)]
    max_orders: usize,
    /// Core of the feed thread (`none`: unpinned).
    #[arg(long, default_value = "0", value_parser = parse_core)]
    feed_core: CoreArg,
    /// Core of the matcher thread (`none`: unpinned).
    #[arg(long, default_value = "1", value_parser = parse_core)]
    matcher_core: CoreArg,
}

#[derive(Args)]
pub struct GenItchArgs {
    /// Where to write the framed ITCH 5.0 day (gzip if the name ends in `.gz`).
    file: PathBuf,
    /// Messages to generate.
    #[arg(long, default_value_t = 10_000_000)]
    messages: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn parse_pacing(s: &str) -> Result<Pacing, String> {
    match s {
        "asap" => Ok(Pacing::AsFastAsPossible),
        "realtime" => Ok(Pacing::RealTime),
        _ => s
            .strip_prefix('x')
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|&n| n > 0)
            .map(Pacing::Speed)
            .ok_or_else(|| format!("bad pacing '{s}' (want asap, realtime or xN)")),
    }
}

/// A core to pin a thread to, or none.
#[derive(Clone, Copy, Debug)]
pub struct CoreArg(pub Option<usize>);

pub fn parse_core(s: &str) -> Result<CoreArg, String> {
    match s {
        "none" => Ok(CoreArg(None)),
        _ => s.parse().map(|c| CoreArg(Some(c))).map_err(|_| format!("bad core '{s}' (want a number or none)")),
    }
}

fn px(p: i64) -> String {
    replay_instrument().fmt_price(Price::from_ticks(p))
}

pub fn run(a: &ReplayArgs) -> anyhow::Result<()> {
    let orders = match &a.orders {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(ClientOrders::parse(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let symbol = match &a.symbol {
        Some(s) => Some(Stock::new(s).ok_or_else(|| anyhow!("'{s}' is not an ITCH stock symbol"))?),
        None => None,
    };
    let size = std::fs::metadata(&a.file).with_context(|| format!("cannot open {}", a.file.display()))?.len();
    let mut cfg = ReplayConfig::new(ReplaySource::File(a.file.clone()));
    cfg.book = BookConfig { max_orders: a.max_orders, ..BookConfig::default() };
    cfg.orders = orders;
    cfg.symbol = symbol;
    cfg.pacing = a.pacing;
    cfg.wait = a.wait;
    cfg.forward_levels = a.levels;
    cfg.feed_core = a.feed_core.0;
    cfg.matcher_core = a.matcher_core.0;

    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} replay [{elapsed_precise}] [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    });
    let t = Instant::now();
    let report = run_replay(cfg, |p| {
        if let Some(bar) = &bar {
            bar.set_position(p.bytes_read);
            bar.set_message(format!("{} events out", p.events));
        }
    })?;
    let wall = t.elapsed().as_secs_f64();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", json(&report, a, wall))?;
    } else {
        summary(&mut out, &report, a, wall)?;
    }
    Ok(())
}

fn top_of_book(r: &ReplayReport, sym: SymbolId) -> optix_feed::book::Top {
    r.book().map_or((None, None), |b| b.top(sym))
}

fn name(r: &ReplayReport, sym: SymbolId) -> String {
    r.symbol_name(sym).map_or_else(|| format!("#{}", sym.0), |s| s.to_string())
}

fn shown_symbols(r: &ReplayReport, a: &ReplayArgs) -> Vec<(SymbolId, u64)> {
    match &a.symbol {
        Some(s) => {
            let want = Stock::new(s);
            let b = r.book();
            (0..r.trades_by_symbol.len() as u32)
                .map(SymbolId)
                .filter(|&id| b.and_then(|b| b.symbol_name(id)) == want)
                .map(|id| (id, r.trades_by_symbol[id.0 as usize]))
                .collect()
        }
        None => r.most_active(TOP_SYMBOLS),
    }
}

fn json(r: &ReplayReport, a: &ReplayArgs, wall: f64) -> serde_json::Value {
    let mix: serde_json::Map<String, serde_json::Value> = r.feed.book.as_ref().map_or_else(serde_json::Map::new, |b| {
        b.counters()
            .messages
            .iter()
            .filter(|&(_, n)| n > 0)
            .map(|(k, n)| (k.type_char().to_string(), n.into()))
            .collect()
    });
    let side = |s: Option<(i64, i64)>| s.map(|(p, q)| serde_json::json!({"px": px(p), "qty": q}));
    let top: Vec<serde_json::Value> = shown_symbols(r, a)
        .into_iter()
        .map(|(sym, trades)| {
            let (bid, ask) = top_of_book(r, sym);
            serde_json::json!({"sym": name(r, sym), "trades": trades, "bid": side(bid), "ask": side(ask)})
        })
        .collect();
    let counters = r.book().map(|b| *b.counters()).unwrap_or_default();
    serde_json::json!({
        "file": a.file.display().to_string(),
        "messages": r.messages(),
        "seconds": r.seconds,
        "messages_per_sec": r.messages_per_sec(),
        "setup_seconds": r.setup_secs,
        "wall_seconds": wall,
        "symbols": r.book().map_or(0, |b| b.symbol_count()),
        "trades": counters.trades,
        "quotes": counters.quotes,
        "statuses": counters.statuses,
        "by_type": mix,
        "to_matcher": r.pushed,
        "levels_kept_back": r.levels_kept_back,
        "filtered": r.filtered,
        "matcher_inputs": r.matcher.inputs,
        "feed_seconds": r.feed.elapsed.as_secs_f64(),
        "feed_full_waits": r.feed.full_waits,
        "matcher_batches": r.matcher.batches,
        "matcher_out_full_waits": r.matcher.out_full_waits,
        "client_orders": r.orders_injected,
        "client_fills": r.counts.fills,
        "client_filled_qty": r.counts.filled_lots,
        "client_rejects": r.counts.rejected + r.edge_rejects,
        "client_cancels": r.counts.cancelled,
        "events": r.counts.total,
        "events_dropped": r.counts.missing,
        "top": top,
        "pacing": format!("{:?}", a.pacing),
        "wait_strategy": a.wait.name(),
    })
}

fn summary(w: &mut impl Write, r: &ReplayReport, a: &ReplayArgs, wall: f64) -> anyhow::Result<()> {
    let counters = r.book().map(|b| *b.counters()).unwrap_or_default();
    writeln!(w, "optix replay {}", a.file.display())?;
    writeln!(
        w,
        "  messages        {} in {:.3} s: {:.2}M messages/s (setup {:.3} s, wall {:.3} s)",
        r.messages(),
        r.seconds,
        r.messages_per_sec() / 1e6,
        r.setup_secs,
        wall
    )?;
    let mix: Vec<String> =
        counters.messages.iter().filter(|&(_, n)| n > 0).map(|(k, n)| format!("{} {n}", k.type_char())).collect();
    writeln!(w, "  by type         {}", mix.join("  "))?;
    writeln!(w, "  symbols         {}", r.book().map_or(0, |b| b.symbol_count()))?;
    writeln!(
        w,
        "  market data     {} trades, {} quotes, {} status changes; {} level updates kept on the feed thread",
        counters.trades, counters.quotes, counters.statuses, r.levels_kept_back
    )?;
    writeln!(
        w,
        "  matcher         {} items in, {} engine inputs, {} events out ({} dropped){}",
        r.pushed,
        r.matcher.inputs,
        r.counts.total,
        r.counts.missing,
        if r.filtered > 0 { format!(", {} events of other symbols filtered", r.filtered) } else { String::new() }
    )?;
    writeln!(w, "  top of book     {:<8} {:>9} {:>22} {:>22}", "symbol", "trades", "bid", "ask")?;
    for (sym, trades) in shown_symbols(r, a) {
        let (bid, ask) = top_of_book(r, sym);
        let side = |s: Option<(i64, i64)>| s.map_or_else(|| "-".to_string(), |(p, q)| format!("{q} @ {}", px(p)));
        writeln!(w, "                  {:<8} {trades:>9} {:>22} {:>22}", name(r, sym), side(bid), side(ask))?;
    }
    writeln!(
        w,
        "  client orders   {} in, {} fills ({} shares), {} rejected ({} at the edge), {} cancelled",
        r.orders_injected,
        r.counts.fills,
        r.counts.filled_lots,
        r.counts.rejected + r.edge_rejects,
        r.edge_rejects,
        r.counts.cancelled
    )?;
    {
        let names = &r.orders;
        for e in r.fills.iter().take(FILLS_LISTED) {
            if let EventKind::Filled { order, sym, side, price, qty, leaves, liq, fee, .. } = e.kind {
                writeln!(
                    w,
                    "    {} fill {}/{} {} {} {qty} @ {} leaves {} {} fee {fee}",
                    e.time,
                    names.parser().account_name(order.acct),
                    names.parser().clid_name(order.clid),
                    name(r, sym),
                    side.as_str(),
                    px(price.ticks()),
                    leaves.lots(),
                    liq.as_str(),
                    qty = qty.lots(),
                )?;
            }
        }
        if r.fills.len() > FILLS_LISTED {
            writeln!(w, "    ... {} more", r.fills.len() - FILLS_LISTED)?;
        }
    }
    Ok(())
}

pub fn gen_itch(a: &GenItchArgs) -> anyhow::Result<()> {
    let t = Instant::now();
    let file = File::create(&a.file).with_context(|| format!("cannot create {}", a.file.display()))?;
    let gz = a.file.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let mix = if gz {
        let mut w = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
        let mix = optix_feed::itch::gen::generate(a.messages, a.seed, &mut w)?;
        w.finish()?.flush()?;
        mix
    } else {
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let mix = optix_feed::itch::gen::generate(a.messages, a.seed, &mut w)?;
        w.flush()?;
        mix
    };
    if mix.total() != a.messages {
        bail!("generated {} messages, wanted {}", mix.total(), a.messages);
    }
    let bytes = std::fs::metadata(&a.file).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "wrote {} messages ({} bytes) to {} in {:.1} s",
        mix.total(),
        bytes,
        a.file.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

#[derive(Args)]
pub struct PipelineBenchArgs {
    /// Tick-to-trade samples measured.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Tick-to-trade samples run first, not measured.
    #[arg(long, default_value_t = 10_000)]
    warmup: u64,
    /// Wait strategy of both threads: `park` (right for a shared 2-core machine), `yield`, `busy-spin`.
    #[arg(long, default_value = "park")]
    wait: WaitStrategy,
    /// The tick-to-trade event: `paper` (an external quote fills a paper order) or `clob` (a crossing order).
    #[arg(long, default_value = "paper")]
    venue: optix_bench::pipeline_bench::Venue,
    /// Open loop at these rates instead: `table` (125k,250k,500k,1m,2m) or a list such as `100k,1m`.
    #[arg(long, value_parser = parse_rates)]
    rate: Option<Rates>,
    /// Open loop: commands measured per rate (a 10% warm-up comes first).
    #[arg(long, default_value_t = 1_000_000)]
    commands: u64,
    /// Open loop: seed of the exchange-core flow.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Open loop: pre-trade check, `standard` or `permissive`.
    #[arg(long, default_value = "standard")]
    check: optix_bench::engine_bench::CheckChoice,
    /// Core of the feed (producer) thread (`none`: unpinned).
    #[arg(long, default_value = "0", value_parser = parse_core)]
    feed_core: CoreArg,
    /// Core of the matcher thread (`none`: unpinned).
    #[arg(long, default_value = "1", value_parser = parse_core)]
    matcher_core: CoreArg,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// Offered rates, commands per second.
#[derive(Clone, Debug)]
pub struct Rates(pub Vec<u64>);

fn parse_rates(s: &str) -> Result<Rates, String> {
    if s == "table" {
        return Ok(Rates(optix_bench::pipeline_bench::TABLE_RATES.to_vec()));
    }
    s.split(',')
        .map(|r| {
            let r = r.trim();
            let (num, mul) = match r.char_indices().last() {
                Some((i, 'k' | 'K')) => (&r[..i], 1_000),
                Some((i, 'm' | 'M')) => (&r[..i], 1_000_000),
                _ => (r, 1),
            };
            num.parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(mul))
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("bad rate '{r}' (want e.g. 250k, 1m or table)"))
        })
        .collect::<Result<Vec<u64>, String>>()
        .map(Rates)
}

pub fn bench_pipeline(a: &PipelineBenchArgs) -> anyhow::Result<()> {
    use optix_bench::pipeline_bench::{run, Opts};
    let opts = Opts {
        events: a.events,
        warmup: a.warmup,
        wait: a.wait,
        venue: a.venue,
        feed_core: a.feed_core.0,
        matcher_core: a.matcher_core.0,
        rates: a.rate.clone().map(|r| r.0).unwrap_or_default(),
        commands: a.commands,
        seed: a.seed,
        check: a.check,
    };
    let report = run(&opts)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", report.to_json())?;
    } else {
        report.print_table(&mut out)?;
    }
    Ok(())
}
