//! Writes the golden sample file of the ITCH tests,
//! `feed-handlers/tests/data/sample.itch`: a generated day of 1 000
//! messages (seed 2024) covering every ITCH 5.0 message type.
//!
//! `cargo run -p optix-feed --example make_sample [PATH]`
//!
//! If the generator changes, regenerate the file and update the constants in
//! `tests/golden.rs` (the test prints the new values when they differ).

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use optix_feed::itch::gen;

/// Messages in the sample.
const MESSAGES: u64 = 1_000;
/// Seed of the sample.
const SEED: u64 = 2024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.itch"));
    let mut out = BufWriter::new(File::create(&path)?);
    let mix = gen::generate(MESSAGES, SEED, &mut out)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    println!("{}\n{} bytes written to {}", mix, mix.framed_bytes(), path.display());
    if let Some((kind, _)) = mix.iter().find(|&(_, n)| n == 0) {
        return Err(format!("no {} message in the sample: choose another seed", kind.name()).into());
    }
    Ok(())
}
