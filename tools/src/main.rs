//! `optix`: the one command-line program of OPTIX core.
//!
//! Subcommands:
//! - `scenario FILE`: run a scenario script through the engine, one JSON event per line.
//! - `replay FILE`: an ITCH file through feed thread, matcher thread and rings, with paper client orders.
//! - `gen-itch FILE`: write a generated ITCH 5.0 day.
//! - `bench engine|ring|itch|pipeline`: the benchmark harnesses (see `optix-bench`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod replay_cmd;
mod scenario_cmd;

// Every allocation of the program is counted, so the engine benchmark can
// report heap growth per resting order and prove a steady state allocates
// nothing.
#[global_allocator]
static ALLOC: optix_bench::alloc::CountingAlloc = optix_bench::alloc::CountingAlloc;

#[derive(Parser)]
#[command(name = "optix", version, about = "OPTIX core: a low-latency in-memory trading engine")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario script and print every engine event as one JSON object per line.
    Scenario(ScenarioArgs),
    /// Replay an ITCH 5.0 file through the pipeline (feed thread, rings, matcher thread, paper instruments).
    Replay(replay_cmd::ReplayArgs),
    /// Write a generated ITCH 5.0 trading day (for replay).
    GenItch(replay_cmd::GenItchArgs),
    /// Benchmarks: the engine, the SPSC ring, the ITCH decoder, the pipeline.
    #[command(subcommand)]
    Bench(BenchCmd),
}

#[derive(Args)]
struct ScenarioArgs {
    /// The script (`-` for standard input).
    file: PathBuf,
    /// Leave out the `level` events (book changes) from the output.
    #[arg(long)]
    no_levels: bool,
    /// Print the engine's state hash after the run as a last `{"ev":"state_hash",..}` line.
    #[arg(long)]
    hash: bool,
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Single-threaded engine throughput, service time, memory and allocations.
    Engine(EngineBenchArgs),
    /// One-way latency and throughput of our SPSC ring against other queues.
    Ring(RingBenchArgs),
    /// NASDAQ ITCH 5.0 decode rate, in memory and gzip from disk.
    Itch(ItchBenchArgs),
    /// Tick-to-trade through feed thread, rings and matcher thread; or open-loop latency at fixed rates.
    Pipeline(replay_cmd::PipelineBenchArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Workload {
    Mixed,
    Liquibook,
    ExchangeCore,
}

#[derive(Args)]
struct EngineBenchArgs {
    /// The generated order flow.
    #[arg(long, value_enum, default_value = "mixed")]
    workload: Workload,
    /// Benchmark the commands of a scenario script instead of a generated workload.
    #[arg(long, conflicts_with = "workload")]
    script: Option<PathBuf>,
    /// With --script: how many times to run the script, each through a fresh engine.
    #[arg(long, default_value_t = 100)]
    repeat: u64,
    /// Commands measured (after warm-up).
    #[arg(long, default_value_t = 10_000_000)]
    commands: u64,
    /// Seed of the workload generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Pre-trade check: `standard` (StandardRisk, every limit on, none binding) or `permissive`.
    #[arg(long, default_value = "standard")]
    check: optix_bench::engine_bench::CheckChoice,
    /// Runs over the same generated stream, each through a fresh engine; the
    /// report gives the median of each figure and every run's commands/s.
    #[arg(long, default_value_t = 1, conflicts_with = "script", value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct RingBenchArgs {
    /// Items moved per streaming throughput run.
    #[arg(long, default_value_t = 10_000_000)]
    items: u64,
    /// Round trips per latency run.
    #[arg(long, default_value_t = 200_000)]
    round_trips: u64,
    /// Repetitions of each measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeat: u32,
    /// One JSON object keyed by implementation instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ItchBenchArgs {
    /// Messages in the generated file.
    #[arg(long, default_value_t = 10_000_000)]
    messages: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Scenario(a) => return scenario_cmd::run(&a.file, !a.no_levels, a.hash),
        Cmd::Replay(a) => replay_cmd::run(&a),
        Cmd::GenItch(a) => replay_cmd::gen_itch(&a),
        Cmd::Bench(BenchCmd::Engine(a)) => bench_engine(&a),
        Cmd::Bench(BenchCmd::Ring(a)) => bench_ring(&a),
        Cmd::Bench(BenchCmd::Itch(a)) => bench_itch(&a),
        Cmd::Bench(BenchCmd::Pipeline(a)) => replay_cmd::bench_pipeline(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "optix: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn bench_engine(a: &EngineBenchArgs) -> anyhow::Result<()> {
    use optix_bench::engine_bench::{self, Flow, Opts};
    let flow = match (&a.script, a.workload) {
        (Some(path), _) => Flow::Script {
            text: std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
            repeat: a.repeat,
        },
        (None, Workload::Mixed) => Flow::Mixed,
        (None, Workload::Liquibook) => Flow::Liquibook,
        (None, Workload::ExchangeCore) => Flow::ExchangeCore,
    };
    let opts = Opts { flow, commands: a.commands, seed: a.seed, check: a.check, runs: a.runs };
    let report = engine_bench::run(&opts)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        report.print_table(&mut out)?;
    }
    Ok(())
}

fn bench_ring(a: &RingBenchArgs) -> anyhow::Result<()> {
    let opts = optix_bench::ring_bench::Opts { items: a.items, round_trips: a.round_trips, repeat: a.repeat };
    let report = optix_bench::ring_bench::run(&opts)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", report.to_json())?;
    } else {
        report.print_table(&mut out)?;
    }
    Ok(())
}

fn bench_itch(a: &ItchBenchArgs) -> anyhow::Result<()> {
    let opts = optix_bench::itch_bench::Opts { messages: a.messages, seed: a.seed };
    let report = optix_bench::itch_bench::run(&opts)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", report.to_json())?;
    } else {
        report.print_table(&mut out)?;
    }
    Ok(())
}
