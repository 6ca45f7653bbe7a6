//! `optix bench itch`: NASDAQ TotalView-ITCH 5.0 decode rate, in memory
//! and gzip from disk.
//!
//! Steps:
//! 1. Generate a framed, uncompressed day of `messages` messages in memory
//!    with [`optix_feed::itch::gen`] (the realistic mix is reported).
//! 2. Decode it [`DECODE_PASSES`] times on one thread with
//!    [`Frames::dispatch`] (the fastest path: a [`Handler`] called with the
//!    concrete message type), reading every field of every message
//!    ([`ItchMessage::field_sum`] folded into a checksum that is
//!    `black_box`ed), and report the best and median passes in messages/s
//!    and bytes/s.
//! 3. For comparison, the convenient paths: [`Frames`] as an iterator of
//!    `Result<Message, _>` (each message matched again for its checksum),
//!    and the streaming [`ItchReader`] over the in-memory bytes (its refill
//!    and copy overhead, no I/O).
//! 4. Write the day gzip-compressed (level 1) to a file in the temp
//!    directory, then time opening, reading, decompressing and decoding it
//!    with [`ItchReader::open`]; the file is removed afterwards.
//!
//! Every pass must see the same message count and checksum as a first,
//! untimed iterator pass, else the run
//! fails with [`ItchBenchError::Mismatch`].
//!
//! Memory: the day in memory (about 33 bytes per message, 330 MB for
//! 10 M) plus the reader's 256 KiB buffer.

use std::fs::File;
use std::hint::black_box;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use flate2::write::GzEncoder;
use flate2::Compression;
use optix_feed::itch::gen::{generate_vec_with, GenConfig};
use optix_feed::itch::{DecodeError, Frames, Handler, ItchMessage, ItchReader, Mix};

/// Timed decoding passes over the in-memory day.
pub const DECODE_PASSES: usize = 7;
/// Timed passes of the iterator and of the streaming reader.
const OTHER_PASSES: usize = 3;

/// Options of the benchmark.
pub struct Opts {
    /// Messages generated.
    pub messages: u64,
    /// Generator seed.
    pub seed: u64,
}

/// Why the benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum ItchBenchError {
    /// Writing or removing the temporary gzip file failed.
    #[error("itch bench: {0}")]
    Io(#[from] io::Error),
    /// The generated data did not decode (a codec bug).
    #[error("itch bench: decoding the generated day failed: {0}")]
    Decode(#[from] DecodeError),
    /// Two passes disagreed on what they read (a codec bug).
    #[error("itch bench: the {pass} pass read {messages} messages with checksum {checksum:#x}, expected {expected_messages} with {expected_checksum:#x}")]
    Mismatch {
        /// The pass that disagreed.
        pass: &'static str,
        /// Messages it read.
        messages: u64,
        /// Its checksum.
        checksum: u64,
        /// Messages generated.
        expected_messages: u64,
        /// Checksum of the first in-memory pass.
        expected_checksum: u64,
    },
}

/// The results.
#[derive(Debug, Clone)]
pub struct Report {
    /// Messages in the generated day.
    pub messages: u64,
    /// Bytes of the framed, uncompressed day.
    pub bytes: u64,
    /// Symbols in the day.
    pub symbols: u16,
    /// Messages per type.
    pub mix: Mix,
    /// Seconds to generate and encode the day.
    pub generate_secs: f64,
    /// Seconds of each in-memory decode pass.
    pub decode_pass_secs: Vec<f64>,
    /// Seconds of each pass of the `Frames` iterator.
    pub iter_pass_secs: Vec<f64>,
    /// Seconds of each streaming-reader pass over the in-memory bytes.
    pub stream_pass_secs: Vec<f64>,
    /// Wrapping sum of every field of every message.
    pub checksum: u64,
    /// Bytes of the gzip file.
    pub gzip_bytes: u64,
    /// Seconds to compress and write the gzip file.
    pub gzip_write_secs: f64,
    /// Seconds to open, read, decompress and decode the gzip file.
    pub gzip_read_secs: f64,
}

fn best(secs: &[f64]) -> f64 {
    secs.iter().copied().fold(f64::INFINITY, f64::min)
}

fn median(secs: &[f64]) -> f64 {
    let mut v = secs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn rate(count: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

impl Report {
    /// Messages/s of the best in-memory decode pass.
    pub fn decode_msgs_per_sec(&self) -> f64 {
        rate(self.messages, best(&self.decode_pass_secs))
    }

    /// Messages/s of the median in-memory decode pass.
    pub fn decode_median_msgs_per_sec(&self) -> f64 {
        rate(self.messages, median(&self.decode_pass_secs))
    }

    /// Framed bytes/s of the best in-memory decode pass.
    pub fn decode_bytes_per_sec(&self) -> f64 {
        rate(self.bytes, best(&self.decode_pass_secs))
    }

    /// Nanoseconds per message of the best in-memory decode pass.
    pub fn decode_ns_per_msg(&self) -> f64 {
        if self.messages == 0 {
            0.0
        } else {
            best(&self.decode_pass_secs) * 1e9 / self.messages as f64
        }
    }

    /// Messages/s of the best iterator pass.
    pub fn iter_msgs_per_sec(&self) -> f64 {
        rate(self.messages, best(&self.iter_pass_secs))
    }

    /// Messages/s of the best streaming-reader pass over memory.
    pub fn stream_msgs_per_sec(&self) -> f64 {
        rate(self.messages, best(&self.stream_pass_secs))
    }

    /// Messages/s reading and decoding the gzip file from disk.
    pub fn gzip_msgs_per_sec(&self) -> f64 {
        rate(self.messages, self.gzip_read_secs)
    }

    /// Uncompressed bytes/s reading and decoding the gzip file from disk.
    pub fn gzip_bytes_per_sec(&self) -> f64 {
        rate(self.bytes, self.gzip_read_secs)
    }

    /// JSON text of the report.
    pub fn to_json(&self) -> String {
        let mix: serde_json::Map<String, serde_json::Value> =
            self.mix.iter().map(|(k, n)| (k.type_char().to_string(), n.into())).collect();
        serde_json::json!({
            "messages": self.messages,
            "bytes": self.bytes,
            "symbols": self.symbols,
            "decode_msgs_per_sec": self.decode_msgs_per_sec().round(),
            "decode_median_msgs_per_sec": self.decode_median_msgs_per_sec().round(),
            "decode_bytes_per_sec": self.decode_bytes_per_sec().round(),
            "decode_ns_per_msg": self.decode_ns_per_msg(),
            "decode_passes": self.decode_pass_secs.len(),
            "iter_msgs_per_sec": self.iter_msgs_per_sec().round(),
            "stream_msgs_per_sec": self.stream_msgs_per_sec().round(),
            "gzip_msgs_per_sec": self.gzip_msgs_per_sec().round(),
            "gzip_bytes_per_sec": self.gzip_bytes_per_sec().round(),
            "gzip_bytes": self.gzip_bytes,
            "gzip_write_secs": self.gzip_write_secs,
            "gzip_read_secs": self.gzip_read_secs,
            "generate_secs": self.generate_secs,
            "checksum": format!("{:#018x}", self.checksum),
            "mix": mix,
        })
        .to_string()
    }

    /// Human-readable table.
    pub fn print_table(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(
            w,
            "ITCH 5.0 generated day: {} messages, {} symbols, {} bytes framed",
            self.messages, self.symbols, self.bytes
        )?;
        writeln!(w, "{}", self.mix)?;
        writeln!(w)?;
        writeln!(w, "{:<44} {:>14} {:>12}", "measure", "msgs/s", "MB/s")?;
        let mb = |bytes_per_sec: f64| bytes_per_sec / 1e6;
        writeln!(
            w,
            "{:<44} {:>14.0} {:>12.1}",
            format!("decode in memory (dispatch), best of {}", self.decode_pass_secs.len()),
            self.decode_msgs_per_sec(),
            mb(self.decode_bytes_per_sec())
        )?;
        writeln!(
            w,
            "{:<44} {:>14.0} {:>12.1}",
            "decode in memory (dispatch), median",
            self.decode_median_msgs_per_sec(),
            mb(rate(self.bytes, median(&self.decode_pass_secs)))
        )?;
        writeln!(
            w,
            "{:<44} {:>14.0} {:>12.1}",
            format!("decode in memory (iterator), best of {}", self.iter_pass_secs.len()),
            self.iter_msgs_per_sec(),
            mb(rate(self.bytes, best(&self.iter_pass_secs)))
        )?;
        writeln!(
            w,
            "{:<44} {:>14.0} {:>12.1}",
            format!("streaming reader over memory, best of {}", self.stream_pass_secs.len()),
            self.stream_msgs_per_sec(),
            mb(rate(self.bytes, best(&self.stream_pass_secs)))
        )?;
        writeln!(
            w,
            "{:<44} {:>14.0} {:>12.1}",
            "gzip file from disk: read+inflate+decode",
            self.gzip_msgs_per_sec(),
            mb(self.gzip_bytes_per_sec())
        )?;
        writeln!(w)?;
        writeln!(
            w,
            "decode: {:.2} ns/message, every field read (checksum {:#018x})",
            self.decode_ns_per_msg(),
            self.checksum
        )?;
        writeln!(
            w,
            "gzip: {} bytes ({:.1}% of plain), written in {:.2} s, read in {:.2} s; generation {:.2} s",
            self.gzip_bytes,
            100.0 * self.gzip_bytes as f64 / self.bytes.max(1) as f64,
            self.gzip_write_secs,
            self.gzip_read_secs,
            self.generate_secs
        )
    }
}

/// Folds every field of every message into a checksum.
struct Checksum(u64);

impl Handler for Checksum {
    #[inline(always)]
    fn on<M: ItchMessage>(&mut self, _offset: u64, m: M) {
        self.0 = self.0.wrapping_add(m.field_sum());
    }
}

/// Decodes a framed buffer reading every field; returns (messages,
/// checksum).
#[inline(never)]
fn decode_all(buf: &[u8]) -> Result<(u64, u64), DecodeError> {
    let mut sum = Checksum(0);
    let n = Frames::new(buf).dispatch(&mut sum)?;
    Ok((n, sum.0))
}

/// The same through the iterator.
#[inline(never)]
fn iterate_all(buf: &[u8]) -> Result<(u64, u64), DecodeError> {
    let mut n = 0u64;
    let mut sum = 0u64;
    for m in Frames::new(buf) {
        sum = sum.wrapping_add(m?.field_sum());
        n += 1;
    }
    Ok((n, sum))
}

/// The same through the streaming reader.
#[inline(never)]
fn stream_all<R: io::Read>(mut r: ItchReader<R>) -> Result<(u64, u64), DecodeError> {
    let mut sum = Checksum(0);
    let n = r.dispatch(&mut sum)?;
    Ok((n, sum.0))
}

/// A file in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the benchmark.
pub fn run(opts: &Opts) -> Result<Report, ItchBenchError> {
    let cfg = GenConfig::new(opts.messages, opts.seed);
    let t = Instant::now();
    let (buf, mix) = generate_vec_with(cfg);
    let generate_secs = t.elapsed().as_secs_f64();
    let messages = mix.total();
    let bytes = buf.len() as u64;

    let check = |pass: &'static str, (n, sum): (u64, u64), expected_checksum: u64| {
        if n == messages && sum == expected_checksum {
            Ok(())
        } else {
            Err(ItchBenchError::Mismatch {
                pass,
                messages: n,
                checksum: sum,
                expected_messages: messages,
                expected_checksum,
            })
        }
    };

    // Warm-up and reference: the iterator path (messages built and matched
    // as the enum); every other pass must read the same.
    let (n, checksum) = iterate_all(black_box(&buf))?;
    check("warm-up", (n, checksum), checksum)?;
    let mut decode_pass_secs = Vec::with_capacity(DECODE_PASSES);
    for _ in 0..DECODE_PASSES {
        let t = Instant::now();
        let r = black_box(decode_all(black_box(&buf))?);
        decode_pass_secs.push(t.elapsed().as_secs_f64());
        check("in-memory", r, checksum)?;
    }

    let mut iter_pass_secs = Vec::with_capacity(OTHER_PASSES);
    for _ in 0..OTHER_PASSES {
        let t = Instant::now();
        let r = black_box(iterate_all(black_box(&buf))?);
        iter_pass_secs.push(t.elapsed().as_secs_f64());
        check("iterator", r, checksum)?;
    }

    let mut stream_pass_secs = Vec::with_capacity(OTHER_PASSES);
    for _ in 0..OTHER_PASSES {
        let t = Instant::now();
        let r = black_box(stream_all(ItchReader::new(black_box(&buf[..])))?);
        stream_pass_secs.push(t.elapsed().as_secs_f64());
        check("streaming", r, checksum)?;
    }

    // Gzip on disk.
    let file =
        TempFile(std::env::temp_dir().join(format!("optix-itch-bench-{}-{}.itch.gz", std::process::id(), opts.seed)));
    let t = Instant::now();
    {
        let mut enc = GzEncoder::new(BufWriter::with_capacity(1 << 20, File::create(&file.0)?), Compression::fast());
        enc.write_all(&buf)?;
        enc.finish()?.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    let gzip_write_secs = t.elapsed().as_secs_f64();
    let gzip_bytes = std::fs::metadata(&file.0)?.len();
    drop(buf);
    let t = Instant::now();
    let r = black_box(stream_all(ItchReader::open(&file.0)?)?);
    let gzip_read_secs = t.elapsed().as_secs_f64();
    check("gzip", r, checksum)?;
    drop(file);

    Ok(Report {
        messages,
        bytes,
        symbols: cfg.symbols,
        mix,
        generate_secs,
        decode_pass_secs,
        iter_pass_secs,
        stream_pass_secs,
        checksum,
        gzip_bytes,
        gzip_write_secs,
        gzip_read_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_run_reports_consistent_numbers() {
        let report = run(&Opts { messages: 20_000, seed: 7 }).unwrap();
        assert_eq!(report.messages, 20_000);
        assert_eq!(report.mix.total(), 20_000);
        assert_eq!(report.mix.framed_bytes(), report.bytes);
        assert_eq!(report.decode_pass_secs.len(), DECODE_PASSES);
        assert!(report.decode_msgs_per_sec() > 0.0 && report.gzip_msgs_per_sec() > 0.0);
        assert!(report.iter_msgs_per_sec() > 0.0 && report.stream_msgs_per_sec() > 0.0);
        assert!(report.decode_msgs_per_sec() >= report.decode_median_msgs_per_sec());
        assert!(report.gzip_bytes > 0 && report.gzip_bytes < report.bytes);
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        for key in ["messages", "decode_msgs_per_sec", "decode_bytes_per_sec", "gzip_msgs_per_sec", "iter_msgs_per_sec"]
        {
            assert!(json[key].as_f64().is_some_and(|v| v > 0.0), "{key}");
        }
        assert_eq!(json["mix"]["A"].as_u64(), Some(report.mix.count(optix_feed::itch::MessageKind::AddOrder)));
        let mut table = Vec::new();
        report.print_table(&mut table).unwrap();
        let table = String::from_utf8(table).unwrap();
        assert!(table.contains("gzip file from disk") && table.contains("AddOrder"), "{table}");
        // The temp file is gone.
        let leftover = std::env::temp_dir().join(format!("optix-itch-bench-{}-7.itch.gz", std::process::id()));
        assert!(!leftover.exists());
    }
}
