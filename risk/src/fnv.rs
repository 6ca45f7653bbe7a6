//! FNV-1a, 64-bit: the stable hash behind [`crate::StandardRisk`]'s state
//! hash.
//!
//! Every value is fed as explicit little-endian bytes, so the hash depends on
//! the state alone: not on the platform, the compiler, `Hash` derives or the
//! order of a map. O(bytes), no allocation.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// An FNV-1a 64-bit hasher over explicit little-endian encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    /// A hasher at the FNV offset basis.
    pub(crate) const fn new() -> Self {
        Fnv1a(OFFSET)
    }

    /// Feeds raw bytes.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }

    /// Feeds one byte.
    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }

    /// Feeds a `u64` as 8 little-endian bytes.
    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    /// Feeds an `i64` as 8 little-endian bytes (two's complement).
    pub(crate) fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }

    /// Feeds an optional `i64`: a presence byte, then the value when present.
    pub(crate) fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.i64(v);
            }
        }
    }

    /// The hash so far.
    pub(crate) const fn finish(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Fnv1a;

    fn hash(bytes: &[u8]) -> u64 {
        let mut h = Fnv1a::new();
        h.bytes(bytes);
        h.finish()
    }

    #[test]
    fn published_test_vectors() {
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn presence_byte_separates_none_from_zero() {
        let (mut a, mut b) = (Fnv1a::new(), Fnv1a::new());
        a.opt_i64(None);
        b.opt_i64(Some(0));
        assert_ne!(a.finish(), b.finish());
    }
}
