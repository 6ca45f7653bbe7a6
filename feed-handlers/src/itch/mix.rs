//! [`Mix`]: message counts per ITCH 5.0 type, as produced by the generator
//! or counted while decoding.
//!
//! Layout: one `u64` counter per [`MessageKind`], indexed by
//! [`MessageKind::index`]; plus the total framed bytes seen.
//!
//! Complexity: O(1) to count a message, O(types) to print.

use std::fmt;

use super::frame::FRAME_PREFIX_LEN;
use super::message::{Message, MessageKind, MESSAGE_KINDS};

/// Message counts per type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mix {
    counts: [u64; MESSAGE_KINDS],
    framed_bytes: u64,
}

impl Mix {
    /// An empty mix.
    pub fn new() -> Mix {
        Mix::default()
    }

    /// Counts one message (and its framed length).
    #[inline]
    pub fn add(&mut self, m: &Message) {
        self.add_kind(m.kind());
    }

    /// Counts one message of `kind`.
    #[inline]
    pub fn add_kind(&mut self, kind: MessageKind) {
        self.counts[kind.index()] += 1;
        self.framed_bytes += (FRAME_PREFIX_LEN + kind.encoded_len()) as u64;
    }

    /// Messages of `kind`.
    pub fn count(&self, kind: MessageKind) -> u64 {
        self.counts[kind.index()]
    }

    /// All messages.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Bytes of the messages in the distribution framing (prefixes
    /// included).
    pub fn framed_bytes(&self) -> u64 {
        self.framed_bytes
    }

    /// `(kind, count)` for every type, in specification order.
    pub fn iter(&self) -> impl Iterator<Item = (MessageKind, u64)> + '_ {
        MessageKind::ALL.iter().map(|&k| (k, self.count(k)))
    }

    /// Share of `kind` in percent (0 when empty).
    pub fn percent(&self, kind: MessageKind) -> f64 {
        let total = self.total();
        if total == 0 {
            0.0
        } else {
            self.count(kind) as f64 * 100.0 / total as f64
        }
    }
}

impl fmt::Display for Mix {
    /// A table: type byte, name, count, percent; then the total.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<4} {:<28} {:>12} {:>8}", "type", "message", "count", "%")?;
        for (kind, n) in self.iter() {
            writeln!(f, "{:<4} {:<28} {:>12} {:>7.3}%", kind.type_char(), kind.name(), n, self.percent(kind))?;
        }
        write!(
            f,
            "{:<4} {:<28} {:>12} {:>7.3}%",
            "",
            "total",
            self.total(),
            if self.total() == 0 { 0.0 } else { 100.0 }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::itch::{Header, OrderDelete};

    #[test]
    fn counts_and_prints() {
        let mut mix = Mix::new();
        let d = Message::from(OrderDelete { header: Header::default(), order_ref: 1 });
        mix.add(&d);
        mix.add(&d);
        mix.add_kind(MessageKind::AddOrder);
        assert_eq!(mix.total(), 3);
        assert_eq!(mix.count(MessageKind::OrderDelete), 2);
        assert_eq!(mix.framed_bytes(), 2 * 21 + 38);
        assert!((mix.percent(MessageKind::AddOrder) - 100.0 / 3.0).abs() < 1e-9);
        let text = mix.to_string();
        assert!(text.contains("D    OrderDelete"), "{text}");
        assert!(text.lines().count() == MESSAGE_KINDS + 2);
    }
}
