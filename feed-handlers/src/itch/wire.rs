//! Wire primitives of ITCH 5.0: big-endian integers, alpha fields, the
//! 11-byte common header.
//!
//! Layout: every multi-byte integer is big-endian (network order). Alpha
//! fields are left-justified, space-padded ASCII. The common header of every
//! message is `type (1) | stock locate (u16) | tracking number (u16) |
//! timestamp (u48, nanoseconds since midnight)`, bytes 0..11.
//!
//! Invariants: [`Wire::get`] and [`Wire::put`] are only called by the message
//! codecs with a constant offset into a fixed-size array whose length the
//! compile-time layout check (`check_layout`) has proven large enough, so
//! after inlining the compiler removes every bounds check and no input can
//! reach a panic.
//!
//! Complexity: O(1) per field, no allocation.
//!
//! Limits: the timestamp is 48 bits on the wire; [`Header::TIMESTAMP_MAX`]
//! is the largest value the encoder accepts.

use std::fmt;

/// Length of the common header (type byte included).
pub const HEADER_LEN: usize = 11;

/// A fixed-width field that can be read from and written to a message at a
/// byte offset.
pub trait Wire: Copy {
    /// Width on the wire in bytes.
    const WIDTH: usize;
    /// Reads the field at `at`. The caller guarantees `at + WIDTH <= b.len()`.
    fn get(b: &[u8], at: usize) -> Self;
    /// Writes the field at `at`. The caller guarantees `at + WIDTH <= b.len()`.
    fn put(self, b: &mut [u8], at: usize);
    /// The field as an integer (alpha fields read as big-endian integers),
    /// for checksums such as [`super::Message::field_sum`].
    fn to_u64(self) -> u64;
}

#[inline(always)]
fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[at..at + N]);
    a
}

impl Wire for u8 {
    const WIDTH: usize = 1;
    #[inline(always)]
    fn get(b: &[u8], at: usize) -> Self {
        b[at]
    }
    #[inline(always)]
    fn put(self, b: &mut [u8], at: usize) {
        b[at] = self;
    }
    #[inline(always)]
    fn to_u64(self) -> u64 {
        u64::from(self)
    }
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            const WIDTH: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn get(b: &[u8], at: usize) -> Self {
                <$t>::from_be_bytes(array(b, at))
            }
            #[inline(always)]
            fn put(self, b: &mut [u8], at: usize) {
                b[at..at + Self::WIDTH].copy_from_slice(&self.to_be_bytes());
            }
            #[inline(always)]
            fn to_u64(self) -> u64 {
                u64::from(self)
            }
        }
    )*};
}
wire_int!(u16, u32, u64);

impl Wire for [u8; 2] {
    const WIDTH: usize = 2;
    #[inline(always)]
    fn get(b: &[u8], at: usize) -> Self {
        array(b, at)
    }
    #[inline(always)]
    fn put(self, b: &mut [u8], at: usize) {
        b[at..at + 2].copy_from_slice(&self);
    }
    #[inline(always)]
    fn to_u64(self) -> u64 {
        u64::from(u16::from_be_bytes(self))
    }
}

impl Wire for [u8; 4] {
    const WIDTH: usize = 4;
    #[inline(always)]
    fn get(b: &[u8], at: usize) -> Self {
        array(b, at)
    }
    #[inline(always)]
    fn put(self, b: &mut [u8], at: usize) {
        b[at..at + 4].copy_from_slice(&self);
    }
    #[inline(always)]
    fn to_u64(self) -> u64 {
        u64::from(u32::from_be_bytes(self))
    }
}

/// An 8-byte stock symbol, left-justified and padded with spaces, exactly as
/// on the wire. No validation: the decoder keeps whatever bytes it was given.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Stock(pub [u8; 8]);

impl Stock {
    /// A symbol from text of at most 8 ASCII bytes, padded with spaces.
    /// `None` if the text is longer or not ASCII.
    pub fn new(text: &str) -> Option<Stock> {
        let bytes = text.as_bytes();
        if bytes.len() > 8 || !text.is_ascii() {
            return None;
        }
        let mut raw = [b' '; 8];
        raw[..bytes.len()].copy_from_slice(bytes);
        Some(Stock(raw))
    }

    /// The symbol without its trailing space padding.
    pub fn trimmed(&self) -> &[u8] {
        let end = self.0.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
        &self.0[..end]
    }
}

impl fmt::Display for Stock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &c in self.trimmed() {
            if c.is_ascii_graphic() {
                write!(f, "{}", char::from(c))?;
            } else {
                write!(f, "\\x{c:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Stock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Stock(\"{self}\")")
    }
}

impl Wire for Stock {
    const WIDTH: usize = 8;
    #[inline(always)]
    fn get(b: &[u8], at: usize) -> Self {
        Stock(array(b, at))
    }
    #[inline(always)]
    fn put(self, b: &mut [u8], at: usize) {
        b[at..at + 8].copy_from_slice(&self.0);
    }
    #[inline(always)]
    fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }
}

/// The common header of every ITCH 5.0 message (bytes 1..11; byte 0 is the
/// message type and lives in the message's own type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Header {
    /// Locate code identifying the security (0 for market-wide messages).
    pub stock_locate: u16,
    /// Nasdaq internal tracking number.
    pub tracking_number: u16,
    /// Nanoseconds since midnight; 48 bits on the wire.
    pub timestamp_ns: u64,
}

impl Header {
    /// The largest timestamp that fits the 48-bit wire field.
    pub const TIMESTAMP_MAX: u64 = (1 << 48) - 1;

    /// Reads the header from the first [`HEADER_LEN`] bytes of a message.
    /// The caller guarantees `b.len() >= HEADER_LEN`.
    #[inline(always)]
    pub(crate) fn get(b: &[u8]) -> Header {
        let hi = u64::from(u16::get(b, 5));
        let lo = u64::from(u32::get(b, 7));
        Header { stock_locate: u16::get(b, 1), tracking_number: u16::get(b, 3), timestamp_ns: (hi << 32) | lo }
    }

    /// Writes the header into bytes 1..11 (the low 48 bits of the
    /// timestamp; the encoder checks the range before).
    #[inline(always)]
    pub(crate) fn put(&self, b: &mut [u8]) {
        self.stock_locate.put(b, 1);
        self.tracking_number.put(b, 3);
        // Truncation intended: the caller has checked `<= TIMESTAMP_MAX`.
        ((self.timestamp_ns >> 32) as u16).put(b, 5);
        (self.timestamp_ns as u32).put(b, 7);
    }

    /// Wrapping sum of the header's fields.
    #[inline(always)]
    pub fn field_sum(&self) -> u64 {
        u64::from(self.stock_locate).wrapping_add(u64::from(self.tracking_number)).wrapping_add(self.timestamp_ns)
    }
}

/// Name, offset and width of one field of a message layout (header fields
/// excluded), for documentation, tests and the compile-time layout check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldLayout {
    /// The field's name in its struct.
    pub name: &'static str,
    /// Byte offset from the message type byte.
    pub offset: usize,
    /// Width in bytes.
    pub width: usize,
}

/// Compile-time check that the fields follow the header without gaps or
/// overlaps and end exactly at `len`.
pub(crate) const fn check_layout(fields: &[FieldLayout], len: usize) {
    let mut at = HEADER_LEN;
    let mut i = 0;
    while i < fields.len() {
        assert!(fields[i].offset == at, "field offset is not contiguous");
        at += fields[i].width;
        i += 1;
    }
    assert!(at == len, "fields do not end at the message length");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_pads_and_trims() {
        let s = Stock::new("AAPL").unwrap();
        assert_eq!(&s.0, b"AAPL    ");
        assert_eq!(s.trimmed(), b"AAPL");
        assert_eq!(s.to_string(), "AAPL");
        assert!(Stock::new("TOOLONGSYM").is_none());
        assert!(Stock::new("ÄÖ").is_none());
        assert_eq!(Stock::new("").unwrap().trimmed(), b"");
        assert_eq!(Stock([b'A', 0, b' ', b' ', b' ', b' ', b' ', b' ']).to_string(), "A\\x00");
    }

    #[test]
    fn header_round_trips_48_bit_timestamp() {
        let h = Header { stock_locate: 0xBEEF, tracking_number: 7, timestamp_ns: Header::TIMESTAMP_MAX };
        let mut b = [0u8; HEADER_LEN];
        h.put(&mut b);
        assert_eq!(b, [0, 0xBE, 0xEF, 0, 7, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(Header::get(&b), h);
    }

    #[test]
    fn integers_are_big_endian() {
        let mut b = [0u8; 8];
        0x0102_0304u32.put(&mut b, 2);
        assert_eq!(b, [0, 0, 1, 2, 3, 4, 0, 0]);
        assert_eq!(u32::get(&b, 2), 0x0102_0304);
        assert_eq!(u16::get(&b, 3), 0x0203);
        0x0102_0304_0506_0708u64.put(&mut b, 0);
        assert_eq!(b, [1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
