//! Client order id bookkeeping.
//!
//! - [`LiveMap`]: `(account, client order id) -> arena slot` of every working
//!   order; open addressing with linear probing and backward-shift deletion
//!   (no tombstones). Each entry is 8 bytes: a 32-bit hash tag and the slot;
//!   the key is confirmed against the order in the arena. Grows by doubling
//!   past 3/4 load (only when the number of working orders reaches a new
//!   high, never in a steady state). O(1) expected per operation.
//! - [`ClidSet`]: the client order ids an account used today, as sorted
//!   disjoint intervals. Clients that number orders upwards (the usual case)
//!   cost one interval and O(1) per order; others cost O(log n) lookups and
//!   an insertion into a sorted vector. Cleared at the end of the day.

/// Mixes an account and a client order id into 32 bits: each is multiplied
/// by an odd 64-bit constant (Fibonacci hashing; the two multiplies are
/// independent, so they run side by side) and the high half of their xor
/// is kept. Ids counting up per account, what clients send, spread evenly,
/// and accounts sending the same id land apart. The id's high half is
/// folded into its low half first, so that ids differing only in their top
/// bits (a product carries those only into the top of the tag) spread too.
/// Keys that collide only cost a probe: the map confirms every key.
#[inline]
pub(crate) fn hash_key(acct: u32, clid: u64) -> u32 {
    let c = clid ^ (clid >> 32);
    let x = c.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(acct).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    (x >> 32) as u32
}

/// `(account, clid) -> slot` for working orders.
#[derive(Clone, Debug)]
pub(crate) struct LiveMap {
    table: Vec<u64>,
    mask: usize,
    len: usize,
}

const EMPTY: u64 = 0;

#[inline]
fn pack(tag: u32, slot: u32) -> u64 {
    (u64::from(tag) << 32) | (u64::from(slot) + 1)
}
#[inline]
fn tag_of(e: u64) -> u32 {
    (e >> 32) as u32
}
#[inline]
fn slot_of(e: u64) -> u32 {
    ((e & 0xFFFF_FFFF) - 1) as u32
}

impl LiveMap {
    pub(crate) fn with_capacity(orders: usize) -> Self {
        let cap = (orders.max(8) * 4 / 3 + 1).next_power_of_two();
        LiveMap { table: vec![EMPTY; cap], mask: cap - 1, len: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Finds the slot whose order `is_key(slot)` confirms.
    #[inline]
    pub(crate) fn get(&self, tag: u32, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut i = tag as usize & self.mask;
        loop {
            let e = self.table[i];
            if e == EMPTY {
                return None;
            }
            if tag_of(e) == tag && is_key(slot_of(e)) {
                return Some(slot_of(e));
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Starts loading the home bucket of `tag`, so that a later insert,
    /// lookup or removal finds it in cache: issued early, the miss overlaps
    /// other work.
    #[inline]
    pub(crate) fn prefetch(&self, tag: u32) {
        optix_ring::prefetch(&self.table[tag as usize & self.mask]);
    }

    /// Inserts a key known to be absent.
    #[inline]
    pub(crate) fn insert(&mut self, tag: u32, slot: u32) {
        if (self.len + 1) * 4 > self.table.len() * 3 {
            self.grow();
        }
        self.insert_no_grow(pack(tag, slot));
        self.len += 1;
    }

    #[inline]
    fn insert_no_grow(&mut self, e: u64) {
        let mut i = tag_of(e) as usize & self.mask;
        while self.table[i] != EMPTY {
            i = (i + 1) & self.mask;
        }
        self.table[i] = e;
    }

    #[cold]
    fn grow(&mut self) {
        let old = std::mem::replace(&mut self.table, vec![EMPTY; (self.mask + 1) * 2]);
        self.mask = self.table.len() - 1;
        for e in old {
            if e != EMPTY {
                self.insert_no_grow(e);
            }
        }
    }

    /// Removes the entry for `slot` (which must be present under `tag`).
    #[inline]
    pub(crate) fn remove(&mut self, tag: u32, slot: u32) {
        let want = pack(tag, slot);
        let mut i = tag as usize & self.mask;
        while self.table[i] != want {
            debug_assert!(self.table[i] != EMPTY, "LiveMap::remove of an absent key");
            if self.table[i] == EMPTY {
                return;
            }
            i = (i + 1) & self.mask;
        }
        // Backward-shift deletion: pull later entries of the probe run into
        // the hole when their home is not cyclically inside (hole, j].
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let e = self.table[j];
            if e == EMPTY {
                break;
            }
            let home = tag_of(e) as usize & self.mask;
            if (j.wrapping_sub(home) & self.mask) >= (j.wrapping_sub(hole) & self.mask) {
                self.table[hole] = e;
                hole = j;
            }
        }
        self.table[hole] = EMPTY;
        self.len -= 1;
    }
}

/// Client order ids used by one account today.
///
/// The highest range is kept inline (no pointer to chase on the common
/// path); older ranges live in a sorted vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClidSet {
    /// The highest range; empty when `lo > hi`.
    last: (u64, u64),
    /// Sorted, disjoint, non-adjacent inclusive ranges below `last`.
    older: Vec<(u64, u64)>,
}

impl Default for ClidSet {
    fn default() -> Self {
        ClidSet { last: (1, 0), older: Vec::new() }
    }
}

impl ClidSet {
    #[inline]
    fn is_empty(&self) -> bool {
        self.last.0 > self.last.1
    }

    #[inline]
    pub(crate) fn contains(&self, c: u64) -> bool {
        if self.is_empty() || c > self.last.1 {
            return false;
        }
        if c >= self.last.0 {
            return true;
        }
        let i = self.older.partition_point(|&(_, hi)| hi < c);
        i < self.older.len() && self.older[i].0 <= c
    }

    /// Adds `c` (which must be absent).
    #[inline]
    pub(crate) fn insert(&mut self, c: u64) {
        if self.is_empty() {
            self.last = (c, c);
        } else if c > self.last.1 {
            if c == self.last.1 + 1 {
                self.last.1 = c;
            } else {
                self.older.push(self.last);
                self.last = (c, c);
            }
        } else {
            self.insert_slow(c);
        }
    }

    #[cold]
    fn insert_slow(&mut self, c: u64) {
        let v = &mut self.older;
        v.push(self.last);
        let i = v.partition_point(|&(_, hi)| hi < c);
        let joins_prev = i > 0 && v[i - 1].1 + 1 == c;
        let joins_next = i < v.len() && c + 1 == v[i].0;
        match (joins_prev, joins_next) {
            (true, true) => {
                v[i - 1].1 = v[i].1;
                v.remove(i);
            }
            (true, false) => v[i - 1].1 = c,
            (false, true) => v[i].0 = c,
            (false, false) => v.insert(i, (c, c)),
        }
        self.last = v.pop().unwrap_or((1, 0));
    }

    /// Every range, ascending.
    pub(crate) fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let last = if self.is_empty() { None } else { Some(self.last) };
        self.older.iter().copied().chain(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeSet, HashMap};

    /// How many home buckets of a 4,096-entry table `keys` fill.
    fn buckets_used(keys: impl Iterator<Item = (u32, u64)>) -> usize {
        let mut used = vec![false; 4096];
        for (a, c) in keys {
            used[hash_key(a, c) as usize & 4095] = true;
        }
        used.iter().filter(|&&u| u).count()
    }

    #[test]
    fn client_order_id_patterns_spread_over_the_table() {
        // 2,048 keys in 4,096 buckets: uniform hashing fills about 1,611.
        let enough = 1_450;
        let seq = buckets_used((0..2048).map(|c| (7, c)));
        let across = buckets_used((0..1024).flat_map(|a| (1..=2).map(move |c| (a, c))));
        let top_bits = buckets_used((0..2048u64).map(|k| (3, k << 52)));
        let strided = buckets_used((0..2048u64).map(|k| (3, k * 4096)));
        for (name, n) in
            [("sequential", seq), ("same ids across accounts", across), ("top bits", top_bits), ("strided", strided)]
        {
            assert!(n >= enough, "{name}: {n} buckets of 4,096 for 2,048 keys");
        }
    }

    proptest! {
        #[test]
        fn clid_set_matches_btreeset(ops in proptest::collection::vec(0u64..64, 0..200)) {
            let mut s = ClidSet::default();
            let mut m = BTreeSet::new();
            for c in ops {
                prop_assert_eq!(s.contains(c), m.contains(&c));
                if m.insert(c) {
                    s.insert(c);
                }
                let r: Vec<_> = s.ranges().collect();
                for w in r.windows(2) {
                    prop_assert!(w[0].1 + 1 < w[1].0);
                }
            }
            for c in 0..70 {
                prop_assert_eq!(s.contains(c), m.contains(&c));
            }
        }

        #[test]
        fn live_map_matches_hashmap(ops in proptest::collection::vec((0u64..40, any::<bool>()), 0..400)) {
            // keys are clids of account 1; slot = clid
            let mut map = LiveMap::with_capacity(4);
            let mut model: HashMap<u64, u32> = HashMap::new();
            for (k, ins) in ops {
                let tag = hash_key(1, k);
                let found = map.get(tag, |s| u64::from(s) == k);
                prop_assert_eq!(found, model.get(&k).copied());
                if ins && found.is_none() {
                    map.insert(tag, k as u32);
                    model.insert(k, k as u32);
                } else if !ins && found.is_some() {
                    map.remove(tag, k as u32);
                    model.remove(&k);
                }
                prop_assert_eq!(map.len(), model.len());
            }
            for k in 0..40u64 {
                let tag = hash_key(1, k);
                prop_assert_eq!(map.get(tag, |s| u64::from(s) == k), model.get(&k).copied());
            }
        }
    }
}
