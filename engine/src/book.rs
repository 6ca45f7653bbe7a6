//! Order storage and price levels.
//!
//! - [`Arena`]: every working order lives in a slot of a chunked arena
//!   (chunks of 1024 orders, 64 bytes each, one cache line, with the
//!   filled quantity of partly filled orders beside them), addressed by a
//!   `u32` slot and
//!   recycled through a free list. Chunks are only added when the number of
//!   working orders reaches a new high, so a steady state never allocates,
//!   and memory follows the peak, not the history.
//! - [`Level`]: a price level, the head and tail of an intrusive FIFO queue
//!   of orders (linked by slot through `prev`/`next`), with its aggregate
//!   shown quantity and total quantity (hidden reserve included). Levels live
//!   in a slab with a free list; an empty level is released at once.
//! - [`Book`]: per side a vector of `(key, level)` sorted ascending by key,
//!   where the key is the price for bids and the negated price for asks, so
//!   the best level of either side is the last element. Activity clusters at
//!   the touch, so inserting or removing a level moves few elements; finding
//!   a level is a binary search, O(log levels).

use crate::types::*;

/// "No slot".
pub(crate) const NIL: u32 = u32::MAX;

/// Flag: post-only.
pub(crate) const FLAG_POST_ONLY: u8 = 1;
/// Flag: reserve (iceberg) order; its display size is in the [`Aux`] table.
pub(crate) const FLAG_RESERVE: u8 = 2;
/// Flag: a stop waiting in the stop book (not in a level); stop price in [`Aux`].
pub(crate) const FLAG_STOP: u8 = 4;
/// Flag: an OPG/CLS order held aside for its auction (not in a level).
pub(crate) const FLAG_HELD: u8 = 8;
/// Flag: a GTD order; its expiry is in [`Aux`].
pub(crate) const FLAG_GTD: u8 = 16;
/// Flag: the order is partly filled; its filled quantity is in the arena's
/// parallel array (without the flag it is 0, and the array is not read).
pub(crate) const FLAG_FILLED: u8 = 32;

/// What few orders carry, kept beside the arena by slot so the node stays
/// one cache line: display and shown sizes, stop price and its arrival
/// stamp, expiry. Only read for orders whose flags say so.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Aux {
    /// Display size of a reserve order, in lots.
    pub display: i64,
    /// Stop price of a waiting stop, in ticks.
    pub stop: i64,
    /// Arrival stamp of a waiting stop (time priority in the stop book).
    pub arrival: u64,
    /// Expiry of a GTD order.
    pub expire: u64,
    /// The part of a reserve order shown in the book (an order without a
    /// reserve shows all its open quantity, so keeps none here).
    pub shown: i64,
}

/// A working order: one cache line (64 bytes, aligned), so that reaching
/// an order out of cache costs one miss and one prefetch covers it. What
/// few orders carry (reserve display and shown sizes, stop prices,
/// expiries) is in the [`Aux`] side table, and the filled quantity of a
/// partly filled order ([`FLAG_FILLED`]) in a parallel array: an order that
/// enters, rests, is cancelled or fills in full never touches it.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Order {
    pub id: u64,
    pub clid: u64,
    /// Limit price in ticks.
    pub price: i64,
    /// Open quantity, hidden reserve included.
    pub leaves: i64,
    pub prev: u32,
    pub next: u32,
    pub acct_prev: u32,
    pub acct_next: u32,
    pub level: u32,
    pub acct: u32,
    /// The account's position in the symbol (index into the engine's
    /// positions; a working order always has one, and positions never move).
    pub pos: u32,
    /// Symbol (the engine holds at most [`MAX_SYMBOLS`]).
    pub sym: u16,
    /// Side (bit 0), order type (bits 1-2) and time in force (bits 3-5);
    /// see [`Order::side`], [`Order::ord_type`], [`Order::tif`].
    pub kind: u8,
    pub flags: u8,
}

const _: () = assert!(core::mem::size_of::<Order>() == 64);

/// Most instruments an engine holds (an order keeps its symbol in 16 bits).
pub const MAX_SYMBOLS: usize = 1 << 16;

impl Order {
    /// Packs side, order type and time in force into [`Order::kind`].
    #[inline]
    pub(crate) const fn kind_of(side: Side, ord_type: OrdType, tif: Tif) -> u8 {
        side as u8 | (ord_type as u8) << 1 | (tif as u8) << 3
    }

    #[inline]
    pub(crate) const fn side(&self) -> Side {
        if self.kind & 1 == 0 {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    #[inline]
    pub(crate) const fn ord_type(&self) -> OrdType {
        match (self.kind >> 1) & 3 {
            0 => OrdType::Limit,
            1 => OrdType::Market,
            2 => OrdType::Stop,
            _ => OrdType::StopLimit,
        }
    }

    #[inline]
    pub(crate) const fn tif(&self) -> Tif {
        match self.kind >> 3 {
            0 => Tif::Day,
            1 => Tif::Gtc,
            2 => Tif::Ioc,
            3 => Tif::Fok,
            4 => Tif::Gtd,
            5 => Tif::Opg,
            _ => Tif::Cls,
        }
    }

    #[inline]
    pub(crate) fn set_ord_type(&mut self, t: OrdType) {
        self.kind = (self.kind & !6) | (t as u8) << 1;
    }

    pub(crate) const EMPTY: Order = Order {
        id: 0,
        clid: 0,
        price: 0,
        leaves: 0,
        prev: NIL,
        next: NIL,
        acct_prev: NIL,
        acct_next: NIL,
        level: NIL,
        acct: 0,
        pos: NIL,
        sym: 0,
        kind: 0,
        flags: 0,
    };
}

const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;
const CHUNK_MASK: u32 = (1 << CHUNK_BITS) - 1;

/// Chunked slab of orders, with the [`Aux`] side table in parallel chunks.
/// A chunk is a fixed-size array, so the index inside it (masked to the
/// chunk's size) needs no bounds check: only the chunk's own index does.
#[derive(Clone, Debug)]
pub(crate) struct Arena {
    chunks: Vec<Box<[Order; CHUNK]>>,
    /// Filled quantity of partly filled orders ([`FLAG_FILLED`]), in
    /// chunks by slot like the nodes.
    fills: Vec<Box<[i64; CHUNK]>>,
    aux: Vec<Box<[Aux]>>,
    free: u32,
    high: u32,
    live: u32,
}

impl Arena {
    pub(crate) fn with_capacity(orders: usize) -> Self {
        let mut a = Arena { chunks: Vec::new(), fills: Vec::new(), aux: Vec::new(), free: NIL, high: 0, live: 0 };
        while a.chunks.len() * CHUNK < orders.max(1) {
            a.add_chunk();
        }
        a
    }

    #[cold]
    fn add_chunk(&mut self) {
        // Built on the heap element by element (a whole chunk would pass
        // through the stack).
        let (Ok(orders), Ok(fills)) =
            (vec![Order::EMPTY; CHUNK].into_boxed_slice().try_into(), vec![0; CHUNK].into_boxed_slice().try_into())
        else {
            unreachable!("vectors of CHUNK elements make a chunk")
        };
        self.chunks.push(orders);
        self.fills.push(fills);
        // The side table of a chunk is allocated when an order of the chunk
        // first needs it (most flows never do).
        self.aux.push(Box::default());
    }

    /// The side-table entry of a slot (default if never written).
    #[inline]
    pub(crate) fn aux(&self, s: u32) -> &Aux {
        const NONE: Aux = Aux { display: 0, stop: 0, arrival: 0, expire: 0, shown: 0 };
        self.aux[(s >> CHUNK_BITS) as usize].get((s & CHUNK_MASK) as usize).unwrap_or(&NONE)
    }

    /// The side-table entry of a slot, mutably (allocates its chunk's table
    /// the first time).
    #[inline]
    pub(crate) fn aux_mut(&mut self, s: u32) -> &mut Aux {
        let c = &mut self.aux[(s >> CHUNK_BITS) as usize];
        if c.is_empty() {
            *c = Self::aux_chunk();
        }
        &mut c[(s & CHUNK_MASK) as usize]
    }

    #[cold]
    fn aux_chunk() -> Box<[Aux]> {
        vec![Aux::default(); CHUNK].into_boxed_slice()
    }

    /// Number of working orders.
    #[inline]
    pub(crate) fn live(&self) -> usize {
        self.live as usize
    }

    /// Takes a free slot.
    #[inline]
    pub(crate) fn alloc(&mut self) -> u32 {
        self.live += 1;
        if self.free != NIL {
            let s = self.free;
            self.free = self.get(s).next;
            return s;
        }
        if self.high as usize == self.chunks.len() * CHUNK {
            self.add_chunk();
        }
        let s = self.high;
        self.high += 1;
        s
    }

    /// Returns a slot to the free list.
    #[inline]
    pub(crate) fn release(&mut self, s: u32) {
        self.live -= 1;
        let free = self.free;
        let o = self.get_mut(s);
        *o = Order::EMPTY;
        o.next = free;
        self.free = s;
    }

    #[inline]
    pub(crate) fn get(&self, s: u32) -> &Order {
        &self.chunks[(s >> CHUNK_BITS) as usize][(s & CHUNK_MASK) as usize]
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, s: u32) -> &mut Order {
        &mut self.chunks[(s >> CHUNK_BITS) as usize][(s & CHUNK_MASK) as usize]
    }

    /// Filled quantity of the order in slot `s`.
    #[inline]
    pub(crate) fn filled(&self, s: u32) -> i64 {
        if self.get(s).flags & FLAG_FILLED != 0 {
            self.fills[(s >> CHUNK_BITS) as usize][(s & CHUNK_MASK) as usize]
        } else {
            0
        }
    }

    /// Total quantity of the order in slot `s` (filled + leaves).
    #[inline]
    pub(crate) fn total(&self, s: u32) -> i64 {
        self.filled(s) + self.get(s).leaves
    }

    /// Sets the filled quantity of the order in slot `s`.
    #[inline]
    pub(crate) fn set_filled(&mut self, s: u32, filled: i64) {
        if filled == 0 {
            self.get_mut(s).flags &= !FLAG_FILLED;
        } else {
            self.get_mut(s).flags |= FLAG_FILLED;
            self.fills[(s >> CHUNK_BITS) as usize][(s & CHUNK_MASK) as usize] = filled;
        }
    }

    /// Adds a fill of `q` to the order in slot `s` that stays working.
    #[inline]
    pub(crate) fn add_filled(&mut self, s: u32, q: i64) {
        let f = self.filled(s);
        self.set_filled(s, f + q);
    }

    /// The part of the order in slot `s` shown in the book: its open
    /// quantity, or for a reserve order the shown part kept aside.
    #[inline]
    pub(crate) fn shown(&self, s: u32) -> i64 {
        self.shown_of(self.get(s), s)
    }

    /// [`Arena::shown`] of the order `o` in slot `s`, its node at hand.
    #[inline(always)]
    pub(crate) fn shown_of(&self, o: &Order, s: u32) -> i64 {
        if o.flags & FLAG_RESERVE != 0 {
            self.aux(s).shown
        } else {
            o.leaves
        }
    }

    /// Sets the shown part of a reserve order (others show their open
    /// quantity, so there is nothing to keep).
    #[inline(always)]
    pub(crate) fn set_shown(&mut self, s: u32, shown: i64) {
        if self.get(s).flags & FLAG_RESERVE != 0 {
            self.aux_mut(s).shown = shown;
        } else {
            debug_assert_eq!(shown, self.get(s).leaves, "an order without a reserve shows all of it");
        }
    }
}

/// A price level: FIFO queue of orders plus aggregates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Level {
    pub price: i64,
    /// Sum of the orders' shown quantities.
    pub shown: i64,
    /// Sum of the orders' open quantities (hidden reserve included).
    pub total: i64,
    pub head: u32,
    pub tail: u32,
    pub count: u32,
    /// The book side whose vector holds it ([`level_owner`]); `NIL` while
    /// free. (It fills what was padding.)
    pub owner: u32,
}

/// The [`Level::owner`] of book `b`'s `side`.
#[inline]
pub(crate) fn level_owner(b: usize, side: Side) -> u32 {
    (b as u32) << 1 | side as u32
}

/// Slab of levels.
#[derive(Clone, Debug, Default)]
pub(crate) struct Levels {
    slab: Vec<Level>,
    free: u32,
}

impl Levels {
    pub(crate) fn new() -> Self {
        Levels { slab: Vec::new(), free: NIL }
    }

    #[inline]
    pub(crate) fn alloc(&mut self, price: i64, owner: u32) -> u32 {
        let lvl = Level { price, shown: 0, total: 0, head: NIL, tail: NIL, count: 0, owner };
        if self.free != NIL {
            let s = self.free;
            self.free = self.slab[s as usize].head;
            self.slab[s as usize] = lvl;
            s
        } else {
            self.slab.push(lvl);
            (self.slab.len() - 1) as u32
        }
    }

    /// Whether the next [`Levels::alloc`] would grow the slab.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.free == NIL && self.slab.len() == self.slab.capacity()
    }

    #[inline]
    pub(crate) fn release(&mut self, s: u32) {
        self.slab[s as usize].head = self.free;
        self.slab[s as usize].count = 0;
        self.slab[s as usize].owner = NIL;
        self.free = s;
    }

    #[inline]
    pub(crate) fn get(&self, s: u32) -> &Level {
        &self.slab[s as usize]
    }

    /// Levels not free (O(slab): for `validate`).
    pub(crate) fn owned(&self) -> usize {
        self.slab.iter().filter(|l| l.owner != NIL).count()
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, s: u32) -> &mut Level {
        &mut self.slab[s as usize]
    }
}

/// A level in a side's sorted vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LevelRef {
    /// Price for bids, negated price for asks: ascending, best last.
    pub key: i64,
    pub level: u32,
}

/// The sort key of a price on a side.
#[inline]
pub(crate) fn side_key(side: Side, price: i64) -> i64 {
    match side {
        Side::Buy => price,
        Side::Sell => -price,
    }
}

/// The price of a key on a side.
#[inline]
pub(crate) fn key_price(side: Side, key: i64) -> i64 {
    match side {
        Side::Buy => key,
        Side::Sell => -key,
    }
}

/// The waiting stops of a side at one stop price, in arrival order: a FIFO
/// through the orders' `prev`/`next` (a waiting stop is in no level).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StopLevel {
    /// `-stop` for buys, `stop` for sells: ascending, next to trigger last.
    pub key: i64,
    /// Earliest and latest arrival; never `NIL` (an emptied price goes).
    pub head: u32,
    pub tail: u32,
}

/// The stop-book key of a stop price on a side.
#[inline]
pub(crate) fn stop_key(side: Side, stop: i64) -> i64 {
    match side {
        Side::Buy => -stop,
        Side::Sell => stop,
    }
}

/// Head and tail of an intrusive list (through `prev`/`next`) of held orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeldList {
    pub head: u32,
    pub tail: u32,
}

impl Default for HeldList {
    fn default() -> Self {
        HeldList { head: NIL, tail: NIL }
    }
}

/// One instrument's book. `#[repr(C)]`: what every order touches (the
/// sides, the last price, the halt flag) comes first, in one cache line.
#[repr(C)]
#[derive(Clone, Debug, Default)]
pub(crate) struct Book {
    /// `[bids, asks]`, each ascending by key, best last. A level that
    /// empties below the top stays in place, empty, so that the next order
    /// at its price (order flow comes back to the same prices) shifts no
    /// part of the vector either way; the top level is never empty (an
    /// emptied top goes at once, with the empty levels right below it); a
    /// new price next to an empty level takes that level's place (the keys
    /// stay in order, nothing shifts); and a side compacts when its empty
    /// levels outnumber both its live ones
    /// and [`KEEP_EMPTY_LEVELS`], and every side does before a new level
    /// would grow a vector (so keeping them never allocates).
    pub sides: [Vec<LevelRef>; 2],
    /// Empty levels kept in each side.
    pub empty: [u32; 2],
    /// Last trade price (internal or external print), 0 before the first.
    pub last: i64,
    /// Halted: only cancels accepted.
    pub halted: bool,
    /// Waiting stops `[buys, sells]`, one entry per stop price, ascending
    /// by key: the next to trigger is last (buys: lowest stop; sells:
    /// highest), and within a price the earliest arrival (the head).
    /// Placing or cancelling a stop shifts at most the prices after its
    /// own, never the stops waiting at them.
    pub stops: [Vec<StopLevel>; 2],
    /// OPG/CLS orders held for `[open, close]`, in arrival order.
    pub held: [HeldList; 2],
    /// Money per tick and lot.
    pub unit: crate::account::Unit,
    /// Paper mode: client orders fill against the external market.
    pub paper: bool,
    /// The external quote and the mark.
    pub ext: crate::account::External,
    /// Positions in this symbol (indices into the engine's positions), to
    /// mark them when the quote moves.
    pub holders: Vec<u32>,
}

/// Empty levels a side may keep however few live levels it has.
pub(crate) const KEEP_EMPTY_LEVELS: u32 = 64;

impl Book {
    /// Index of the level with `key` on `side`, or where it would be inserted.
    #[inline]
    pub(crate) fn find(&self, side: Side, key: i64) -> Result<usize, usize> {
        find_key(&self.sides[side as usize], key, |r| r.key)
    }

    /// Index of the stop price with `key` on `side`, or where it would be
    /// inserted.
    #[inline]
    pub(crate) fn find_stop(&self, side: Side, key: i64) -> Result<usize, usize> {
        find_key(&self.stops[side as usize], key, |l| l.key)
    }
}

/// Binary search of a vector ascending by `key_of`, best (next to trade or
/// trigger) last: most activity is at or next to that end, so it looks
/// there first.
#[inline(always)]
fn find_key<T>(v: &[T], key: i64, key_of: impl Fn(&T) -> i64) -> Result<usize, usize> {
    if let Some(last) = v.last() {
        if key_of(last) == key {
            return Ok(v.len() - 1);
        }
        if key_of(last) < key {
            return Err(v.len());
        }
    }
    v.binary_search_by(|r| key_of(r).cmp(&key))
}
