//! The distribution framing of ITCH 5.0 files: each message preceded by its
//! length as a 2-byte big-endian integer. [`Frames`] reads a framed buffer
//! in memory; [`ItchReader`] streams a framed file of any size (plain or
//! gzip) through one reusable buffer. Both offer an iterator of
//! `Result<Message, DecodeError>`, a closure loop (`for_each_message`) and
//! the fastest path, `dispatch`, which hands each message to a
//! [`Handler`] with its concrete type from a tight loop over the complete
//! frames in memory.
//!
//! Layout: `len (u16 BE) | message (len bytes)`, repeated, nothing between
//! frames and nothing after the last one.
//!
//! Invariants: a frame is checked in this order, and the same input gives
//! the same error in both readers: a length prefix cut short is
//! [`DecodeError::Truncated`]; a zero length [`DecodeError::EmptyFrame`]; a
//! length above [`MAX_MESSAGE_LEN`] [`DecodeError::Oversized`] (before any
//! attempt to read that many bytes); a body cut short
//! [`DecodeError::Truncated`] (expected = prefix + length); then the message
//! itself ([`DecodeError::UnknownType`], [`DecodeError::LengthMismatch`]).
//! Every error carries the stream offset of the frame's length prefix.
//! After an error both readers are finished (they yield nothing more);
//! a clean end is only ever at a frame boundary. The `dispatch` hot loop
//! handles only complete, valid frames and leaves any other frame to the
//! per-frame path, so every path reports the same error at the same offset
//! (tested on every truncation of a file and on random bytes).
//!
//! Complexity: O(1) per message. [`Frames`] allocates nothing; [`ItchReader`]
//! allocates its buffer once (256 KiB by default) and moves at most one
//! partial frame (< 52 bytes) per refill, so memory stays constant whatever
//! the file size.
//!
//! Limits: gzip detection by [`AutoSource::new`] looks at the first bytes
//! the source returns; a source that yields a single byte on its first read
//! is taken as plain unless opened through [`ItchReader::open`] with a
//! `.gz` name.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::iter::FusedIterator;
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use super::error::{self, DecodeError};
use super::message::{decode_body, dispatch_body, Handler, Message, MAX_MESSAGE_LEN};

/// Bytes of the length prefix before each message.
pub const FRAME_PREFIX_LEN: usize = 2;

/// The default buffer of [`ItchReader`].
pub const DEFAULT_READ_BUFFER: usize = 256 * 1024;

/// The error for a frame whose body is not all there (or whose prefix is
/// invalid): empty, oversized or truncated, in that order.
#[cold]
#[inline(never)]
fn bad_frame(len: usize, avail: usize, offset: u64) -> DecodeError {
    if len == 0 {
        error::empty_frame(offset)
    } else if len > MAX_MESSAGE_LEN {
        error::oversized(offset, len)
    } else {
        error::truncated(offset, FRAME_PREFIX_LEN + len, avail)
    }
}

/// A closure as a [`Handler`].
struct FnHandler<F>(F);

impl<F: FnMut(u64, Message)> Handler for FnHandler<F> {
    #[inline(always)]
    fn on_message(&mut self, offset: u64, message: Message) {
        (self.0)(offset, message);
    }
}

/// Decodes the complete, valid frames at the start of `buf` (whose first
/// byte is at stream offset `base`), handing each to `h`: the hot loop. It
/// stops at the first frame that is incomplete or does not decode, and
/// leaves that frame to the caller's per-frame path, which reports it with
/// the exact error. Returns the bytes consumed and the messages decoded.
#[inline(always)]
fn scan_frames<H: Handler>(buf: &[u8], base: u64, h: &mut H) -> (usize, u64) {
    let mut pos = 0usize;
    let mut count = 0u64;
    while let Some([a, b, tail @ ..]) = buf.get(pos..) {
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        let Some(body) = tail.get(..len) else { break };
        // The type's own length check rejects 0 and oversized lengths.
        if !dispatch_body(body, base + pos as u64, h) {
            break;
        }
        pos += FRAME_PREFIX_LEN + len;
        count += 1;
    }
    (pos, count)
}

/// The messages of a framed buffer in memory. As an iterator it yields
/// `Err` once and then ends if the buffer is malformed; [`Frames::dispatch`]
/// is the fastest way through.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Frames<'a> {
    /// Iterates `buf` from its start; error offsets are relative to it.
    pub fn new(buf: &'a [u8]) -> Frames<'a> {
        Frames { buf, pos: 0, base: 0 }
    }

    /// Iterates `buf`, whose first byte is at `base` in a larger stream
    /// (error offsets include `base`).
    pub fn with_base_offset(buf: &'a [u8], base: u64) -> Frames<'a> {
        Frames { buf, pos: 0, base }
    }

    /// Stream offset of the next frame (the base offset plus the bytes
    /// consumed so far).
    pub fn next_offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The bytes not consumed yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// The next message and the stream offset of its frame.
    #[inline]
    pub fn next_with_offset(&mut self) -> Option<Result<(u64, Message), DecodeError>> {
        let rest = self.remaining();
        let offset = self.base + self.pos as u64;
        let (len, body) = match rest {
            [] => return None,
            [a, b, tail @ ..] => {
                let len = usize::from(u16::from_be_bytes([*a, *b]));
                match tail.get(..len) {
                    Some(body) if len != 0 && len <= MAX_MESSAGE_LEN => (len, body),
                    _ => return Some(Err(self.fail(bad_frame(len, rest.len(), offset)))),
                }
            }
            [_] => return Some(Err(self.fail(error::truncated(offset, FRAME_PREFIX_LEN, 1)))),
        };
        self.pos += FRAME_PREFIX_LEN + len;
        match decode_body(body, offset, true) {
            Ok(m) => Some(Ok((offset, m))),
            Err(e) => Some(Err(self.fail(e))),
        }
    }

    /// Hands every message to the end of the buffer to the [`Handler`]
    /// method of its type and returns how many there were, or the first
    /// error. The fastest way through a buffer.
    #[inline]
    pub fn dispatch<H: Handler>(&mut self, h: &mut H) -> Result<u64, DecodeError> {
        let (used, mut count) = scan_frames(self.remaining(), self.base + self.pos as u64, h);
        self.pos += used;
        // The rest is empty, or a frame that is cut or invalid.
        while let Some(r) = self.next_with_offset() {
            let (offset, m) = r?;
            m.visit(offset, h);
            count += 1;
        }
        Ok(count)
    }

    /// Calls `f(offset, message)` for every message to the end of the
    /// buffer and returns how many there were, or the first error.
    pub fn for_each_message(&mut self, f: impl FnMut(u64, Message)) -> Result<u64, DecodeError> {
        self.dispatch(&mut FnHandler(f))
    }

    #[cold]
    fn fail(&mut self, e: DecodeError) -> DecodeError {
        self.pos = self.buf.len();
        e
    }
}

impl Iterator for Frames<'_> {
    type Item = Result<Message, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.next_with_offset().map(|r| r.map(|(_, m)| m))
    }
}

impl FusedIterator for Frames<'_> {}

/// A byte source that is either plain or gzip (one or more concatenated
/// members), chosen from the gzip magic bytes `1f 8b`.
#[derive(Debug)]
pub enum AutoSource<R: Read> {
    /// Uncompressed framed data.
    Plain(BufReader<R>),
    /// Gzip-compressed framed data.
    Gzip(Box<MultiGzDecoder<BufReader<R>>>),
}

/// Buffer between the file and the gzip decoder.
const SOURCE_BUFFER: usize = 64 * 1024;

impl<R: Read> AutoSource<R> {
    /// Looks at the first bytes of `src` and decompresses if they are the
    /// gzip magic.
    pub fn new(src: R) -> io::Result<AutoSource<R>> {
        let mut br = BufReader::with_capacity(SOURCE_BUFFER, src);
        let head = loop {
            match br.fill_buf() {
                Ok(h) => break h,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if head.starts_with(&[0x1f, 0x8b]) {
            Ok(AutoSource::Gzip(Box::new(MultiGzDecoder::new(br))))
        } else {
            Ok(AutoSource::Plain(br))
        }
    }

    /// Treats `src` as gzip whatever its first bytes.
    pub fn gzip(src: R) -> AutoSource<R> {
        AutoSource::Gzip(Box::new(MultiGzDecoder::new(BufReader::with_capacity(SOURCE_BUFFER, src))))
    }

    /// Whether the source is being decompressed.
    pub fn is_gzip(&self) -> bool {
        matches!(self, AutoSource::Gzip(_))
    }
}

impl<R: Read> Read for AutoSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            AutoSource::Plain(r) => r.read(buf),
            AutoSource::Gzip(r) => r.read(buf),
        }
    }
}

/// Streaming reader of a framed ITCH 5.0 file over any [`Read`]: reads in
/// large chunks into one reusable buffer and decodes message by message,
/// so a whole trading day never has to fit in memory.
#[derive(Debug)]
pub struct ItchReader<R> {
    src: R,
    buf: Box<[u8]>,
    /// Next unread byte in `buf`.
    pos: usize,
    /// End of the valid bytes in `buf`.
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// The source returned end of file.
    eof: bool,
    /// An error or the end was reported; nothing more comes.
    done: bool,
}

impl ItchReader<AutoSource<File>> {
    /// Opens a framed file, decompressing it if it is gzip (by its magic
    /// bytes, or always for a `.gz` name).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DecodeError> {
        let path = path.as_ref();
        let io_err = |source| DecodeError::Io { offset: 0, source };
        let file = File::open(path).map_err(io_err)?;
        let src = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz")) {
            AutoSource::gzip(file)
        } else {
            AutoSource::new(file).map_err(io_err)?
        };
        Ok(ItchReader::new(src))
    }
}

impl<R: Read> ItchReader<AutoSource<R>> {
    /// Reads `src`, decompressing it if it starts with the gzip magic.
    pub fn auto(src: R) -> Result<Self, DecodeError> {
        let src = AutoSource::new(src).map_err(|source| DecodeError::Io { offset: 0, source })?;
        Ok(ItchReader::new(src))
    }
}

impl<R: Read> ItchReader<R> {
    /// Reads framed messages from `src` as they are (no decompression),
    /// with a [`DEFAULT_READ_BUFFER`] buffer.
    pub fn new(src: R) -> ItchReader<R> {
        ItchReader::with_capacity(src, DEFAULT_READ_BUFFER)
    }

    /// As [`ItchReader::new`], with a buffer of `capacity` bytes (at least
    /// one full frame).
    pub fn with_capacity(src: R, capacity: usize) -> ItchReader<R> {
        let capacity = capacity.max(FRAME_PREFIX_LEN + MAX_MESSAGE_LEN);
        ItchReader {
            src,
            buf: vec![0u8; capacity].into_boxed_slice(),
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            done: false,
        }
    }

    /// Stream offset of the next frame: the bytes consumed so far.
    pub fn next_offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The underlying source.
    pub fn get_ref(&self) -> &R {
        &self.src
    }

    /// The next message; `Ok(None)` at a clean end (a frame boundary at the
    /// end of the stream). After an error, `Ok(None)` from then on.
    #[inline]
    pub fn next_message(&mut self) -> Result<Option<Message>, DecodeError> {
        Ok(self.next_with_offset()?.map(|(_, m)| m))
    }

    /// The next message with the stream offset of its frame.
    #[inline]
    pub fn next_with_offset(&mut self) -> Result<Option<(u64, Message)>, DecodeError> {
        let rest = self.buf.get(self.pos..self.end).unwrap_or_default();
        if let [a, b, tail @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*a, *b]));
            if let Some(body) = tail.get(..len) {
                if len != 0 && len <= MAX_MESSAGE_LEN {
                    let offset = self.base + self.pos as u64;
                    self.pos += FRAME_PREFIX_LEN + len;
                    return match decode_body(body, offset, true) {
                        Ok(m) => Ok(Some((offset, m))),
                        Err(e) => Err(self.fail(e)),
                    };
                }
            }
        }
        self.next_slow()
    }

    /// Hands every message to the end of the stream to the [`Handler`]
    /// method of its type and returns how many there were. The fastest way
    /// through a stream: the complete frames of each buffer load are
    /// decoded in one tight loop.
    pub fn dispatch<H: Handler>(&mut self, h: &mut H) -> Result<u64, DecodeError> {
        let mut count = 0;
        loop {
            let chunk = self.buf.get(self.pos..self.end).unwrap_or_default();
            let (used, n) = scan_frames(chunk, self.base + self.pos as u64, h);
            self.pos += used;
            count += n;
            // A frame across the buffer's end (refill), an invalid frame
            // (error) or the end.
            match self.next_slow()? {
                Some((offset, m)) => {
                    m.visit(offset, h);
                    count += 1;
                }
                None => return Ok(count),
            }
        }
    }

    /// Calls `f(offset, message)` for every message to the end of the
    /// stream and returns how many there were.
    pub fn for_each_message(&mut self, f: impl FnMut(u64, Message)) -> Result<u64, DecodeError> {
        self.dispatch(&mut FnHandler(f))
    }

    /// The frame at `pos` is not complete in the buffer (or is invalid):
    /// refill, then decode or report.
    #[cold]
    #[inline(never)]
    fn next_slow(&mut self) -> Result<Option<(u64, Message)>, DecodeError> {
        if self.done {
            return Ok(None);
        }
        let offset = self.next_offset();
        let avail = self.fill(FRAME_PREFIX_LEN)?;
        let len = match self.buf.get(self.pos..self.end).unwrap_or_default() {
            [] => {
                self.done = true;
                return Ok(None);
            }
            [_] => return Err(self.fail(error::truncated(offset, FRAME_PREFIX_LEN, avail))),
            [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
        };
        if len == 0 || len > MAX_MESSAGE_LEN {
            return Err(self.fail(bad_frame(len, avail, offset)));
        }
        let avail = self.fill(FRAME_PREFIX_LEN + len)?;
        if avail < FRAME_PREFIX_LEN + len {
            return Err(self.fail(bad_frame(len, avail, offset)));
        }
        let start = self.pos + FRAME_PREFIX_LEN;
        let body = self.buf.get(start..start + len).unwrap_or_default();
        let r = decode_body(body, offset, true);
        self.pos = start + len;
        match r {
            Ok(m) => Ok(Some((offset, m))),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Makes at least `need` unread bytes available if the stream has them;
    /// returns how many unread bytes there are.
    fn fill(&mut self, need: usize) -> Result<usize, DecodeError> {
        if self.end - self.pos >= need {
            return Ok(self.end - self.pos);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end < need && !self.eof {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    let offset = self.base + self.end as u64;
                    return Err(self.fail(DecodeError::Io { offset, source }));
                }
            }
        }
        Ok(self.end - self.pos)
    }

    #[cold]
    fn fail(&mut self, e: DecodeError) -> DecodeError {
        self.done = true;
        self.pos = self.end;
        e
    }
}

impl<R: Read> Iterator for ItchReader<R> {
    type Item = Result<Message, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.next_message().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::itch::{Header, OrderDelete, SystemEvent};

    fn sample() -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..3u64 {
            let h = Header { stock_locate: 1, tracking_number: 0, timestamp_ns: i };
            Message::from(OrderDelete { header: h, order_ref: i }).encode_framed(&mut v).unwrap();
            Message::from(SystemEvent { header: h, event_code: b'O' }).encode_framed(&mut v).unwrap();
        }
        v
    }

    #[test]
    fn frames_and_reader_agree() {
        let v = sample();
        let a: Vec<_> = Frames::new(&v).map(Result::unwrap).collect();
        let b: Vec<_> = ItchReader::with_capacity(&v[..], 1).map(Result::unwrap).collect();
        assert_eq!(a.len(), 6);
        assert_eq!(a, b);
        let mut offsets = Vec::new();
        assert_eq!(ItchReader::new(&v[..]).for_each_message(|o, _| offsets.push(o)).unwrap(), 6);
        assert_eq!(offsets, [0, 21, 35, 56, 70, 91]);
        offsets.clear();
        assert_eq!(ItchReader::with_capacity(&v[..], 30).for_each_message(|o, _| offsets.push(o)).unwrap(), 6);
        assert_eq!(offsets, [0, 21, 35, 56, 70, 91]);
        let mut seen = Vec::new();
        assert_eq!(Frames::new(&v).for_each_message(|_, m| seen.push(m)).unwrap(), 6);
        assert_eq!(seen, a);
    }

    #[test]
    fn frame_errors_in_order() {
        // Zero length.
        let e = Frames::new(&[0, 0, b'S']).next().unwrap().unwrap_err();
        assert!(matches!(e, DecodeError::EmptyFrame { offset: 0 }), "{e}");
        // Oversized before truncated.
        let e = Frames::new(&[0, 51, b'S']).next().unwrap().unwrap_err();
        assert!(matches!(e, DecodeError::Oversized { offset: 0, len: 51, max: 50 }), "{e}");
        // Truncated body, offset of the frame.
        let mut v = sample();
        v.extend_from_slice(&[0, 19, b'D', 0]);
        let mut it = Frames::new(&v);
        let e = it.by_ref().find_map(Result::err).unwrap();
        assert!(matches!(e, DecodeError::Truncated { offset: 105, expected: 21, got: 4 }), "{e}");
        assert!(it.next().is_none(), "fused after an error");
        let mut r = ItchReader::with_capacity(&v[..], 7);
        let e = r.by_ref().find_map(Result::err).unwrap();
        assert!(matches!(e, DecodeError::Truncated { offset: 105, expected: 21, got: 4 }), "{e}");
        assert!(r.next_message().unwrap().is_none());
        // A frame of the wrong length for its type.
        let e = Frames::with_base_offset(&[0, 12, b'D', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 1000)
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(e, DecodeError::LengthMismatch { offset: 1000, msg_type: b'D', framed: 12, expected: 19 }));
    }

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }

    #[test]
    fn io_errors_are_reported_once() {
        let mut r = ItchReader::new(Failing);
        let e = r.next_message().unwrap_err();
        assert!(matches!(e, DecodeError::Io { offset: 0, .. }));
        assert!(r.next_message().unwrap().is_none());
        assert!(matches!(ItchReader::auto(Failing), Err(DecodeError::Io { .. })));
    }
}
