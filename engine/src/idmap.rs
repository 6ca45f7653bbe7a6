//! Client order id bookkeeping.
//!
//! - [`LiveMap`]: `(account, client order id) -> arena slot` of every working
//!   order; open addressing with linear probing and backward-shift deletion
//!   (no tombstones). Each entry is 8 bytes: a 32-bit hash tag and the slot;
//!   the key is confirmed against the order in the arena. Grows by doubling
//!   past 3/4 load (only when the number of working orders reaches a new
//!   high, never in a steady state), the old table draining into the new one
//!   a few buckets per insert. O(1) expected per operation.
//! - [`ClidSet`]: the client order ids an account used today, as sorted
//!   disjoint intervals. Clients that number orders upwards (the usual case)
//!   cost one interval and O(1) per order; others cost O(log n) lookups and
//!   insertions into an ordered map. Cleared at the end of the day.

use std::collections::BTreeMap;

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
///
/// Growth is incremental: the full table becomes `old`, and every insert
/// after it moves the next [`MOVE_PER_INSERT`] buckets of `old` into the
/// new table, so no single command pays for rehashing millions of entries
/// (a 2M-entry table took 200 ms in one go). While `old` drains, lookups
/// try the new table, then `old`; a key leaves `old` as a tombstone, which
/// keeps `old`'s probe runs unbroken.
#[derive(Clone, Debug)]
pub(crate) struct LiveMap {
    table: Vec<u64>,
    mask: usize,
    len: usize,
    /// The table before the last growth while it drains (empty after).
    old: Vec<u64>,
    old_mask: usize,
    /// Next bucket of `old` to move.
    cursor: usize,
}

const EMPTY: u64 = 0;
/// A bucket of a draining table whose entry left (never a packed entry:
/// those have a nonzero low half).
const TOMB: u64 = 1 << 32;
/// Buckets of a draining table moved per insert: the drain ends after
/// `old.len() / 8` inserts, well before the new table (twice the size, a
/// 3/8 load at the start) reaches its 3/4 load.
const MOVE_PER_INSERT: usize = 8;

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
        LiveMap { table: vec![EMPTY; cap], mask: cap - 1, len: 0, old: Vec::new(), old_mask: 0, cursor: 0 }
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
                break;
            }
            if tag_of(e) == tag && is_key(slot_of(e)) {
                return Some(slot_of(e));
            }
            i = (i + 1) & self.mask;
        }
        if self.old.is_empty() {
            None
        } else {
            self.get_old(tag, is_key)
        }
    }

    /// [`LiveMap::get`] in the draining table.
    #[cold]
    #[inline(never)]
    fn get_old(&self, tag: u32, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut i = tag as usize & self.old_mask;
        loop {
            let e = self.old[i];
            if e == EMPTY {
                return None;
            }
            if e != TOMB && tag_of(e) == tag && is_key(slot_of(e)) {
                return Some(slot_of(e));
            }
            i = (i + 1) & self.old_mask;
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
        if !self.old.is_empty() {
            self.drain(MOVE_PER_INSERT);
        }
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

    /// Moves up to `n` buckets of the draining table into the table; frees
    /// the draining table once it is empty.
    #[cold]
    #[inline(never)]
    fn drain(&mut self, n: usize) {
        let end = self.cursor.saturating_add(n).min(self.old.len());
        for i in self.cursor..end {
            let e = self.old[i];
            if e != EMPTY && e != TOMB {
                self.insert_no_grow(e);
                self.old[i] = TOMB;
            }
        }
        self.cursor = end;
        if end == self.old.len() {
            self.old = Vec::new();
            self.cursor = 0;
        }
    }

    /// Doubles the table; its entries drain into the new one over the
    /// following inserts.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        if !self.old.is_empty() {
            // (Not reached with MOVE_PER_INSERT >= 2: a drain ends first.)
            self.drain(usize::MAX);
        }
        self.old = std::mem::replace(&mut self.table, vec![EMPTY; (self.mask + 1) * 2]);
        self.old_mask = self.mask;
        self.cursor = 0;
        self.mask = self.table.len() - 1;
    }

    /// Removes the entry for `slot` (which must be present under `tag`).
    #[inline]
    pub(crate) fn remove(&mut self, tag: u32, slot: u32) {
        let want = pack(tag, slot);
        let mut i = tag as usize & self.mask;
        while self.table[i] != want {
            if self.table[i] == EMPTY {
                return self.remove_old(want);
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

    /// [`LiveMap::remove`] of an entry still in the draining table: it
    /// leaves a tombstone.
    #[cold]
    #[inline(never)]
    fn remove_old(&mut self, want: u64) {
        debug_assert!(!self.old.is_empty(), "LiveMap::remove of an absent key");
        if self.old.is_empty() {
            return;
        }
        let mut i = tag_of(want) as usize & self.old_mask;
        loop {
            let e = self.old[i];
            if e == want {
                self.old[i] = TOMB;
                self.len -= 1;
                return;
            }
            debug_assert!(e != EMPTY, "LiveMap::remove of an absent key");
            if e == EMPTY {
                return;
            }
            i = (i + 1) & self.old_mask;
        }
    }
}

/// Client order ids used by one account today.
///
/// The highest range is kept inline (no pointer to chase on the common
/// path); older ranges live in an ordered map from each range's low end to
/// its high end, so a client whose ids come in any order costs O(log n)
/// per order, never a shift of all its ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClidSet {
    /// The highest range; empty when `lo > hi`.
    last: (u64, u64),
    /// Disjoint, non-adjacent inclusive ranges below `last`: `lo -> hi`.
    older: BTreeMap<u64, u64>,
}

impl Default for ClidSet {
    fn default() -> Self {
        ClidSet { last: (1, 0), older: BTreeMap::new() }
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
        self.older.range(..=c).next_back().is_some_and(|(_, &hi)| c <= hi)
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
                self.older.insert(self.last.0, self.last.1);
                self.last = (c, c);
            }
        } else {
            self.insert_slow(c);
        }
    }

    /// [`ClidSet::insert`] of an id below the highest range (absent, so
    /// between two ranges or below all): joins the range that ends just
    /// below it and the one that starts just above it.
    #[cold]
    fn insert_slow(&mut self, c: u64) {
        let below = self.older.range(..c).next_back().map(|(&lo, &hi)| (lo, hi)).filter(|&(_, hi)| hi + 1 == c);
        if c + 1 == self.last.0 {
            self.last.0 = match below {
                Some((lo, _)) => {
                    self.older.remove(&lo);
                    lo
                }
                None => c,
            };
            return;
        }
        let above = self.older.get(&(c + 1)).copied();
        match (below, above) {
            (Some((lo, _)), Some(hi)) => {
                self.older.remove(&(c + 1));
                self.older.insert(lo, hi);
            }
            (Some((lo, _)), None) => {
                self.older.insert(lo, c);
            }
            (None, Some(hi)) => {
                self.older.remove(&(c + 1));
                self.older.insert(c, hi);
            }
            (None, None) => {
                self.older.insert(c, c);
            }
        }
    }

    /// Every range, ascending.
    pub(crate) fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let last = if self.is_empty() { None } else { Some(self.last) };
        self.older.iter().map(|(&lo, &hi)| (lo, hi)).chain(last)
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

    #[test]
    fn growth_drains_while_keys_come_and_go() {
        // Keys of many accounts, inserted, looked up and removed while
        // the table doubles again and again and each old table drains.
        let mut map = LiveMap::with_capacity(8);
        let mut model: HashMap<(u32, u64), u32> = HashMap::new();
        let key_of = |slot: u32| (slot % 97, u64::from(slot / 97) + 1);
        let mut removed = 0u32;
        let mut saw_draining = 0;
        for slot in 0..20_000u32 {
            let (a, c) = key_of(slot);
            map.insert(hash_key(a, c), slot);
            model.insert((a, c), slot);
            if !map.old.is_empty() {
                saw_draining += 1;
            }
            if slot % 3 == 0 {
                // Remove an older key, often one still in a draining table.
                let s = removed;
                removed += 2;
                let (ra, rc) = key_of(s);
                if model.remove(&(ra, rc)).is_some() {
                    map.remove(hash_key(ra, rc), s);
                }
            }
            if slot % 97 == 0 {
                for (&(ka, kc), &ks) in &model {
                    assert_eq!(map.get(hash_key(ka, kc), |x| key_of(x) == (ka, kc)), Some(ks));
                }
                let gone = key_of(removed - 2);
                assert_eq!(map.get(hash_key(gone.0, gone.1), |x| key_of(x) == gone), None);
            }
            assert_eq!(map.len(), model.len());
        }
        assert!(saw_draining > 100, "the test must run while tables drain ({saw_draining})");
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
