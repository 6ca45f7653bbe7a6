//! Fuzz target: arbitrary bytes through every ITCH 5.0 entry point.
//!
//! Checks, beyond "no panic": the in-memory and streaming readers, as
//! iterators and through `dispatch`, agree message for message and on the
//! error; every decoded message re-encodes
//! to exactly the bytes it came from; error offsets lie inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use optix_feed::itch::{Frames, Handler, ItchMessage, ItchReader, Message, FRAME_PREFIX_LEN};

/// Collects what the dispatch paths hand over, through the generic method.
#[derive(Default)]
struct Collect(Vec<(u64, Message)>);

impl Handler for Collect {
    fn on<M: ItchMessage>(&mut self, offset: u64, m: M) {
        self.0.push((offset, m.into_message()));
    }
}

fuzz_target!(|data: &[u8]| {
    // A bare message.
    if let Ok(m) = Message::decode(data) {
        let mut out = [0u8; 64];
        let n = m.encode(&mut out).expect("a decoded message encodes");
        assert_eq!(&out[..n], data);
    }

    // Framed, in memory.
    let mut mem = Vec::new();
    let mut mem_err = None;
    let mut frames = Frames::new(data);
    while let Some(r) = frames.next_with_offset() {
        match r {
            Ok((off, m)) => {
                let at = off as usize + FRAME_PREFIX_LEN;
                let wire = &data[at..at + m.encoded_len()];
                let mut out = [0u8; 64];
                let n = m.encode(&mut out).expect("a decoded message encodes");
                assert_eq!(&out[..n], wire);
                mem.push((off, m));
            }
            Err(e) => {
                assert!(e.offset() <= data.len() as u64);
                mem_err = Some(format!("{e:?}"));
                break;
            }
        }
    }
    assert!(frames.next().is_none());

    // Streaming, with a buffer size taken from the input.
    let capacity = data.first().map_or(1, |&b| usize::from(b) * 3);
    let mut reader = ItchReader::with_capacity(data, capacity);
    let mut streamed = Vec::new();
    let stream_err = loop {
        match reader.next_with_offset() {
            Ok(Some(x)) => streamed.push(x),
            Ok(None) => break None,
            Err(e) => break Some(format!("{e:?}")),
        }
    };
    assert_eq!(streamed, mem);
    assert_eq!(stream_err, mem_err);

    // The dispatch paths.
    let mut c = Collect::default();
    let r = Frames::new(data).dispatch(&mut c);
    assert_eq!(c.0, mem);
    assert_eq!(r.as_ref().err().map(|e| format!("{e:?}")), mem_err);
    assert_eq!(r.ok(), mem_err.is_none().then_some(mem.len() as u64));
    let mut c = Collect::default();
    let r = ItchReader::with_capacity(data, capacity).dispatch(&mut c);
    assert_eq!(c.0, mem);
    assert_eq!(r.err().map(|e| format!("{e:?}")), mem_err);
});
