//! Errors of the ITCH 5.0 codec: [`DecodeError`] for untrusted input,
//! [`EncodeError`] for values that cannot be put on the wire.
//!
//! Every decode error names the byte offset of the frame it concerns (in a
//! framed file or buffer, the offset of the frame's 2-byte length prefix;
//! for a bare message given to [`super::Message::decode`], 0), so a bad file
//! can be inspected with a hex dump. Errors are built in `#[cold]` functions
//! so the decoder's hot path stays small.

use std::io;

/// Why bytes could not be decoded as ITCH 5.0.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a frame or message.
    #[error("truncated ITCH message at byte offset {offset}: expected {expected} bytes, got {got}")]
    Truncated {
        /// Offset of the incomplete frame (or message).
        offset: u64,
        /// Bytes the frame needs (length prefix included when framed).
        expected: usize,
        /// Bytes that were there.
        got: usize,
    },
    /// The type byte is not an ITCH 5.0 message type.
    #[error("unknown ITCH message type {} at byte offset {offset}", show_type(.msg_type))]
    UnknownType {
        /// Offset of the frame (or message).
        offset: u64,
        /// The type byte found.
        msg_type: u8,
    },
    /// The frame's length does not match the length of its message type.
    #[error(
        "ITCH length mismatch at byte offset {offset}: {framed} bytes for type {} which needs {expected}",
        show_type(.msg_type)
    )]
    LengthMismatch {
        /// Offset of the frame (or message).
        offset: u64,
        /// The message type byte.
        msg_type: u8,
        /// The length the framing (or the caller's buffer) gives.
        framed: usize,
        /// The length the message type has in ITCH 5.0.
        expected: usize,
    },
    /// A frame longer than any ITCH 5.0 message.
    #[error("oversized ITCH frame at byte offset {offset}: {len} bytes, the longest message has {max}")]
    Oversized {
        /// Offset of the frame.
        offset: u64,
        /// The length the prefix gives.
        len: usize,
        /// The longest ITCH 5.0 message ([`super::MAX_MESSAGE_LEN`]).
        max: usize,
    },
    /// A frame whose length prefix is zero, or an empty message buffer.
    #[error("empty ITCH frame at byte offset {offset}")]
    EmptyFrame {
        /// Offset of the frame.
        offset: u64,
    },
    /// Reading the underlying stream failed.
    #[error("I/O error reading ITCH data at byte offset {offset}: {source}")]
    Io {
        /// Stream offset reached before the failure.
        offset: u64,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl DecodeError {
    /// The byte offset the error concerns.
    pub fn offset(&self) -> u64 {
        match *self {
            DecodeError::Truncated { offset, .. }
            | DecodeError::UnknownType { offset, .. }
            | DecodeError::LengthMismatch { offset, .. }
            | DecodeError::Oversized { offset, .. }
            | DecodeError::EmptyFrame { offset }
            | DecodeError::Io { offset, .. } => offset,
        }
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The output buffer is shorter than the message.
    #[error("ITCH encode buffer too small: need {needed} bytes, got {got}")]
    BufferTooSmall {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes the buffer has.
        got: usize,
    },
    /// The timestamp does not fit 48 bits.
    #[error("ITCH timestamp {timestamp_ns} ns does not fit 48 bits")]
    TimestampOutOfRange {
        /// The timestamp given.
        timestamp_ns: u64,
    },
}

fn show_type(t: &u8) -> String {
    if t.is_ascii_graphic() {
        format!("'{}'", char::from(*t))
    } else {
        format!("0x{t:02x}")
    }
}

#[cold]
#[inline(never)]
pub(crate) fn truncated(offset: u64, expected: usize, got: usize) -> DecodeError {
    DecodeError::Truncated { offset, expected, got }
}

#[cold]
#[inline(never)]
pub(crate) fn unknown_type(offset: u64, msg_type: u8) -> DecodeError {
    DecodeError::UnknownType { offset, msg_type }
}

#[cold]
#[inline(never)]
pub(crate) fn empty_frame(offset: u64) -> DecodeError {
    DecodeError::EmptyFrame { offset }
}

#[cold]
#[inline(never)]
pub(crate) fn oversized(offset: u64, len: usize) -> DecodeError {
    DecodeError::Oversized { offset, len, max: super::MAX_MESSAGE_LEN }
}

/// A body of the wrong length for its type: in a frame that is always a
/// mismatch; for a bare buffer a short one is a truncation.
#[cold]
#[inline(never)]
pub(crate) fn wrong_length(offset: u64, msg_type: u8, got: usize, expected: usize, framed: bool) -> DecodeError {
    if !framed && got < expected {
        DecodeError::Truncated { offset, expected, got }
    } else {
        DecodeError::LengthMismatch { offset, msg_type, framed: got, expected }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_offset_and_lengths() {
        let e = DecodeError::LengthMismatch { offset: 1234, msg_type: b'A', framed: 30, expected: 36 };
        assert_eq!(e.to_string(), "ITCH length mismatch at byte offset 1234: 30 bytes for type 'A' which needs 36");
        let e = DecodeError::UnknownType { offset: 7, msg_type: 0 };
        assert_eq!(e.to_string(), "unknown ITCH message type 0x00 at byte offset 7");
        assert_eq!(e.offset(), 7);
        let e = truncated(99, 38, 5);
        assert_eq!(e.to_string(), "truncated ITCH message at byte offset 99: expected 38 bytes, got 5");
    }
}
