//! Gzip-compressed files read exactly like the plain ones: by magic bytes,
//! by `.gz` name, and with several concatenated gzip members.

use std::io::Write;
use std::path::PathBuf;

use flate2::write::GzEncoder;
use flate2::Compression;
use optix_feed::itch::gen::generate_vec;
use optix_feed::itch::{DecodeError, ItchReader, Message};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A file in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("optix-feed-test-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn read_all<R: std::io::Read>(mut r: ItchReader<R>) -> Vec<(u64, Message)> {
    let mut v = Vec::new();
    while let Some(x) = r.next_with_offset().unwrap() {
        v.push(x);
    }
    v
}

#[test]
fn gzip_reads_like_plain() {
    let (plain, mix) = generate_vec(20_000, 9);
    let expected = read_all(ItchReader::new(&plain[..]));
    assert_eq!(expected.len() as u64, mix.total());
    let gz = gzip(&plain);
    assert!(gz.len() < plain.len() / 2, "compresses");

    // In memory, detected by the magic bytes.
    let r = ItchReader::auto(&gz[..]).unwrap();
    assert!(r.get_ref().is_gzip());
    assert_eq!(read_all(r), expected);
    let r = ItchReader::auto(&plain[..]).unwrap();
    assert!(!r.get_ref().is_gzip());
    assert_eq!(read_all(r), expected);

    // Files: magic bytes without the extension, and the extension.
    let f = TempFile::new("day.bin", &gz);
    assert_eq!(read_all(ItchReader::open(&f.0).unwrap()), expected);
    let f = TempFile::new("day.itch.gz", &gz);
    assert_eq!(read_all(ItchReader::open(&f.0).unwrap()), expected);
    let f = TempFile::new("day.itch", &plain);
    assert_eq!(read_all(ItchReader::open(&f.0).unwrap()), expected);

    // Several gzip members, split inside a frame.
    let cut = plain.len() / 3 + 1;
    let mut multi = gzip(&plain[..cut]);
    multi.extend_from_slice(&gzip(&plain[cut..]));
    assert_eq!(read_all(ItchReader::auto(&multi[..]).unwrap()), expected);
}

#[test]
fn broken_gzip_is_an_io_error_not_a_panic() {
    let (plain, _) = generate_vec(2_000, 1);
    let mut gz = gzip(&plain);
    // Cut the compressed stream: the decompressor reports it.
    gz.truncate(gz.len() / 2);
    let mut r = ItchReader::auto(&gz[..]).unwrap();
    let err = loop {
        match r.next_message() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("a cut gzip stream must not end cleanly"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, DecodeError::Io { .. } | DecodeError::Truncated { .. }), "{err}");
    // Garbage after the magic bytes.
    let junk = [0x1f, 0x8b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    let err = ItchReader::auto(&junk[..]).unwrap().next_message().unwrap_err();
    assert!(matches!(err, DecodeError::Io { offset: 0, .. }), "{err}");
    // A missing file.
    assert!(matches!(ItchReader::open("/nonexistent/optix/day.itch"), Err(DecodeError::Io { .. })));
}
