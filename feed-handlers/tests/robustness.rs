//! Untrusted input: every truncation of a valid file, random bytes and
//! random corruptions give errors or valid messages, never a panic, and the
//! in-memory and streaming readers always agree.

use optix_feed::itch::gen::generate_vec;
use optix_feed::itch::*;
use proptest::prelude::*;

/// What a reader made of a buffer: the messages with their offsets, then
/// the error if there was one (as its Debug text, comparable).
type Outcome = (Vec<(u64, Message)>, Option<String>);

fn read_memory(buf: &[u8]) -> Outcome {
    let mut frames = Frames::new(buf);
    let mut msgs = Vec::new();
    while let Some(r) = frames.next_with_offset() {
        match r {
            Ok(x) => msgs.push(x),
            Err(e) => {
                assert!(frames.next().is_none(), "fused after an error");
                return (msgs, Some(format!("{e:?}")));
            }
        }
    }
    (msgs, None)
}

fn read_stream(buf: &[u8], capacity: usize) -> Outcome {
    let mut r = ItchReader::with_capacity(buf, capacity);
    let mut msgs = Vec::new();
    loop {
        match r.next_with_offset() {
            Ok(Some(x)) => msgs.push(x),
            Ok(None) => return (msgs, None),
            Err(e) => {
                assert!(r.next_message().unwrap().is_none(), "finished after an error");
                return (msgs, Some(format!("{e:?}")));
            }
        }
    }
}

/// Collects what the dispatch paths hand over.
#[derive(Default)]
struct Collect(Vec<(u64, Message)>);

impl Handler for Collect {
    fn on_message(&mut self, offset: u64, m: Message) {
        self.0.push((offset, m));
    }
}

fn read_dispatch(buf: &[u8], capacity: Option<usize>) -> Outcome {
    let mut c = Collect::default();
    let r = match capacity {
        None => Frames::new(buf).dispatch(&mut c),
        Some(cap) => ItchReader::with_capacity(buf, cap).dispatch(&mut c),
    };
    match r {
        Ok(n) => {
            assert_eq!(n, c.0.len() as u64);
            (c.0, None)
        }
        Err(e) => (c.0, Some(format!("{e:?}"))),
    }
}

/// All four ways through a buffer give the same messages and error.
fn read_all_ways(buf: &[u8], capacity: usize) -> Outcome {
    let mem = read_memory(buf);
    assert_eq!(read_stream(buf, capacity), mem, "streaming reader");
    assert_eq!(read_dispatch(buf, None), mem, "Frames::dispatch");
    assert_eq!(read_dispatch(buf, Some(capacity)), mem, "ItchReader::dispatch");
    mem
}

/// Every prefix of a valid file either ends cleanly at a frame boundary
/// with exactly the messages before it, or reports the cut frame as
/// truncated at its offset.
#[test]
fn every_truncation_is_an_error_or_a_clean_end() {
    let (buf, mix) = generate_vec(300, 1);
    assert!(mix.iter().all(|(_, n)| n > 0), "the file covers every type");
    let full = read_memory(&buf);
    assert!(full.1.is_none());
    let boundaries: Vec<u64> = full.0.iter().map(|&(off, _)| off).chain([buf.len() as u64]).collect();
    for cut in 0..=buf.len() {
        let prefix = &buf[..cut];
        let (msgs, err) = read_all_ways(prefix, 64);
        let complete = boundaries.iter().filter(|&&b| b <= cut as u64).count() - 1;
        assert_eq!(msgs, full.0[..complete], "cut at {cut}");
        let last = boundaries[complete];
        if last == cut as u64 {
            assert!(err.is_none(), "clean end at the boundary {cut}");
        } else {
            let got = cut - last as usize;
            let err = err.unwrap_or_else(|| panic!("cut at {cut} inside a frame reads as a clean end"));
            let expected = if got < 2 {
                2
            } else {
                2 + usize::from(u16::from_be_bytes([buf[last as usize], buf[last as usize + 1]]))
            };
            assert_eq!(err, format!("{:?}", DecodeError::Truncated { offset: last, expected, got }), "cut at {cut}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Random bytes: errors or valid messages, never a panic, both readers
    /// agree.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), capacity in 1usize..128) {
        read_all_ways(&bytes, capacity);
        let _ = Message::decode(&bytes);
    }

    /// Random frames with plausible lengths and any type byte (so the
    /// decoder's dispatch and length checks are reached, not just the
    /// framing).
    #[test]
    fn random_frames_never_panic(frames in prop::collection::vec((0usize..56, any::<u8>(), prop::collection::vec(any::<u8>(), 56)), 0..24), capacity in 1usize..128) {
        let mut buf = Vec::new();
        for (len, t, body) in frames {
            buf.extend_from_slice(&(len as u16).to_be_bytes());
            if len > 0 {
                buf.push(t);
                buf.extend_from_slice(&body[..len - 1]);
            }
        }
        let mem = read_all_ways(&buf, capacity);
        if let (msgs, Some(_)) = &mem {
            // Everything before the error was a valid message.
            for (off, m) in msgs {
                let at = *off as usize;
                prop_assert_eq!(Message::decode(&buf[at + 2..at + 2 + m.encoded_len()]).unwrap(), *m);
            }
        }
    }

    /// A valid file with a few bytes overwritten: errors or messages, never
    /// a panic; the readers agree; nothing after an error is yielded.
    #[test]
    fn corrupted_files_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), capacity in 1usize..4096) {
        let (mut buf, _) = generate_vec(300, 5);
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        read_all_ways(&buf, capacity);
    }
}
