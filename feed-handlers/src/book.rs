//! [`ItchBookBuilder`]: the external order-by-order book of every stock,
//! built from NASDAQ ITCH 5.0 messages and turned into normalized
//! [`MarketEvent`]s.
//!
//! ```
//! use optix_feed::book::{BookConfig, ItchBookBuilder};
//! use optix_feed::itch::gen::generate_vec;
//! use optix_feed::market::MarketEvent;
//!
//! let (day, mix) = generate_vec(20_000, 7);
//! let mut book = ItchBookBuilder::new(BookConfig::small());
//! let mut trades = 0;
//! let n = book.process(&day, &mut |e| trades += u64::from(matches!(e, MarketEvent::Trade(_)))).unwrap();
//! assert_eq!(n, mix.total());
//! assert_eq!(book.counters().trades, trades);
//! assert_eq!(book.counters().unknown_refs, 0);
//! ```
//!
//! # Layout
//!
//! - Instruments: stock directory (`R`) messages map a stock locate to a
//!   [`SymbolId`] in arrival order (0, 1, 2, ...) through a 65 536-entry
//!   table indexed by locate; each symbol keeps its 8-byte name, its halt
//!   state, the last quote it emitted, and its two sides.
//! - Sides: a vector of `(key, level id)` sorted ascending by key, with
//!   `key = price` for bids and `key = -price` for asks, so the best level
//!   of either side is the *last* element: the busy end of the book is
//!   where inserts and removals shift fewest elements, and a lookup
//!   gallops down from the top before a binary search over the last step.
//!   A level's shares live in one vector indexed by level id, and every
//!   live order keeps its level's id: executes, cancels, deletes and the
//!   old half of a replace reach their level without a search (only adds
//!   look a price up). A level that empties below the top stays in its
//!   side at 0 shares, for the next add at its price; the top is never
//!   empty (when it empties it goes, with the empty levels under it), and
//!   a side drops its empty levels once they outnumber both its live ones
//!   and 64. On a generated day this cut the builder's instructions per
//!   message by 16% and its mispredicted branches by 15% (callgrind).
//! - Orders: an open-addressing hash table with linear probing keyed by
//!   the order reference number, the order itself (price, shares left,
//!   symbol, side) stored *in* the table entry, 24 bytes. The table is the
//!   slab: a lookup is one probe sequence and no second indirection;
//!   deletion shifts the following entries back (no tombstones), so probe
//!   sequences stay short at a load factor of at most 1/2. The home slot
//!   is the reference modulo the table size plus a pseudo-random offset
//!   per epoch of `size` references: ITCH hands references out in
//!   increasing order and most activity is on recent orders, so new and
//!   recent orders sit in neighbouring cache lines (a multiplicative hash
//!   scattering them measured about 20% slower on a generated day).
//! - [`ItchBookBuilder::process`] walks a buffer in batches of
//!   [`PREFETCH_BATCH`] frames and prefetches the table entries the next
//!   batch will probe (another 1.5x on a generated day, where 30% of the
//!   order actions hit a random live order).
//!
//! # Events (into a caller-provided [`MarketSink`], in this order per message)
//!
//! - [`Trade`] first, for a print: an Order Executed (`E`) at the resting
//!   order's price; an Order Executed With Price (`C`) at its price only
//!   when printable (`Y`); a non-cross Trade (`P`); a Cross Trade (`Q`)
//!   with shares > 0. The aggressor is the side opposite the resting
//!   (`E`/`C`) or non-displayed (`P`) order; `None` for crosses. The
//!   quantity is the message's share count.
//! - [`Level`] for every change of the aggregate displayed shares at a
//!   price (0 when the level is gone): adds (`A`/`F`), executions,
//!   cancels (`X`), deletes (`D`), replaces (`U`: the old level, then the
//!   new one).
//! - [`Quote`] once per message, after its levels, when the best bid or ask
//!   (price or shares) differs from the last quote of that symbol.
//! - [`Status`] for every Stock Trading Action (`H`): `T` trading, `H`, `P`
//!   and `Q` halted.
//! - [`MarketSink::on_symbol`] (not an event) for every new stock directory
//!   (`R`), with the symbol's id and name, before any event of it.
//!
//! Timestamps are the messages' own (nanoseconds since midnight).
//!
//! # Invariants
//!
//! - Every level's shares equal the sum of the shares left of the live
//!   orders at its price and side, and are > 0 except for empty levels
//!   below the top, which no iterator, quote or event shows; every live
//!   order with shares holds its level's id ([`ItchBookBuilder::validate`]
//!   checks it all).
//! - An order executed or cancelled down to 0 shares is removed (ITCH sends
//!   no delete after a full execution).
//! - Bad input never panics: an execute, cancel, delete or replace of an
//!   unknown order reference, an add reusing a live one, a message for a
//!   stock locate without a directory, a side or state byte that is not in
//!   the specification, and an execution or cancel of more shares than the
//!   order has left (applied as the whole rest) are counted in
//!   [`BookCounters`] and otherwise skipped.
//!
//! # Complexity
//!
//! O(1) expected per message for the order table; O(distance of the price
//! from the top) for level updates near the top, O(log levels + levels
//! shifted) otherwise. No allocation in steady state: everything is
//! preallocated from [`BookConfig`]; only going past the configured orders,
//! symbols or levels per side grows a vector (counted in
//! [`BookCounters::grows`]).
//!
//! # Limits
//!
//! Displayed (`A`/`F`) orders only: non-displayed liquidity shows up only as
//! `P` prints. Broken trades (`B`) are counted, nothing more. Crossed books
//! in the feed are kept as they are. An order reference of `u64::MAX` is
//! the table's empty marker and is refused (counted as a duplicate). An
//! add of 0 shares is kept as an order (so its delete is known) but makes
//! no level. Memory: 48 bytes of table per configured order (the default
//! [`BookConfig`] is 192 MiB of table) plus 24 bytes per reserved level.

use optix_engine::{Nanos, Side, SymbolId};

use crate::itch::{
    AddOrder, AddOrderMpid, CrossTrade, DecodeError, Frames, Handler, ItchMessage, Message, Mix, OrderCancel,
    OrderDelete, OrderExecuted, OrderExecutedWithPrice, OrderReplace, Stock, StockDirectory, StockTradingAction,
    Trade as ItchTrade, FRAME_PREFIX_LEN, MAX_MESSAGE_LEN,
};
use crate::market::{Level, MarketEvent, MarketSink, Quote, Status, Trade};

/// Best bid and best ask, each as `(price, shares)`, `None` when empty.
pub type Top = (Option<(i64, i64)>, Option<(i64, i64)>);

/// Sizes to preallocate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookConfig {
    /// Live orders held without growing the order table.
    pub max_orders: usize,
    /// Symbols reserved up front.
    pub max_symbols: usize,
    /// Price levels reserved per side of each symbol, at its directory.
    pub levels_per_side: usize,
}

impl Default for BookConfig {
    /// 4 Mi live orders (a busy NASDAQ day peaks well below), 16 384
    /// symbols, 64 levels per side: about 200 MiB of order table.
    fn default() -> Self {
        BookConfig { max_orders: 4 << 20, max_symbols: 16_384, levels_per_side: 64 }
    }
}

impl BookConfig {
    /// A small book for tests and examples: 64 Ki orders, 1 024 symbols.
    pub fn small() -> Self {
        BookConfig { max_orders: 64 << 10, max_symbols: 1024, levels_per_side: 32 }
    }
}

/// What the builder has seen and done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookCounters {
    /// Messages handled, by type.
    pub messages: Mix,
    /// [`Trade`] events emitted.
    pub trades: u64,
    /// Executions marked non-printable (`C` with `N`): no trade emitted.
    pub non_printable: u64,
    /// [`Quote`] events emitted.
    pub quotes: u64,
    /// [`Level`] events emitted.
    pub levels: u64,
    /// [`Status`] events emitted.
    pub statuses: u64,
    /// Executes, cancels, deletes and replaces of an order reference that
    /// is not live; skipped.
    pub unknown_refs: u64,
    /// Adds (or replaces' new references) reusing a live order reference;
    /// skipped.
    pub duplicate_refs: u64,
    /// Messages for a stock locate without a stock directory (and repeated
    /// directories of a locate); skipped.
    pub unknown_locates: u64,
    /// Executions or cancels of more shares than the order had left;
    /// applied as the whole rest.
    pub oversized: u64,
    /// Side or trading-state bytes outside the specification; skipped.
    pub bad_codes: u64,
    /// Times a preallocated structure had to grow (allocation).
    pub grows: u64,
}

/// One price level of a side's sorted vector; `key` is the price for bids
/// and minus the price for asks, so both sides sort ascending with the best
/// level last. `id` indexes the level's shares in
/// [`ItchBookBuilder::level_qty`]; live orders keep it, so an execute,
/// cancel or delete reaches its level without a search.
#[derive(Clone, Copy, Debug)]
struct Lvl {
    key: i64,
    id: u32,
}

/// The level id of an order that makes no level (0 shares).
const NO_LEVEL: u32 = u32::MAX;

#[derive(Debug)]
struct SymBook {
    name: Stock,
    halted: bool,
    /// `[bid_px, bid_qty, ask_px, ask_qty]` of the last quote emitted.
    last_quote: [i64; 4],
    /// Bids (index 0) and asks (index 1).
    sides: [Vec<Lvl>; 2],
    /// Levels of each side kept at 0 shares below the top.
    empty: [u32; 2],
}

/// A live order, stored in its hash-table entry.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// [`EMPTY`] when the entry is free.
    order_ref: u64,
    price: u32,
    shares: u32,
    /// The order's level ([`NO_LEVEL`] at 0 shares).
    level: u32,
    /// Symbol index (at most 65 536 symbols: one per stock locate).
    sym: u16,
    side: Side,
}

/// Frames per batch of [`ItchBookBuilder::process_at`].
pub const PREFETCH_BATCH: usize = 16;

const EMPTY: u64 = u64::MAX;
const FREE: Slot = Slot { order_ref: EMPTY, price: 0, shares: 0, level: NO_LEVEL, sym: 0, side: Side::Buy };

/// Empty levels a side keeps before it compacts (and at least as many as
/// its live levels).
const KEEP_EMPTY_LEVELS: u32 = 64;

/// Open-addressing, linear-probing table of live orders (see the module
/// docs). Capacity a power of two, load factor at most 1/2.
#[derive(Debug)]
struct OrderTable {
    slots: Vec<Slot>,
    mask: usize,
    /// `64 - log2(slots.len())`: the shift of the Fibonacci hash.
    shift: u32,
    len: usize,
}

impl OrderTable {
    fn with_capacity(orders: usize) -> OrderTable {
        let n = (orders.max(8) * 2).next_power_of_two();
        OrderTable { slots: vec![FREE; n], mask: n - 1, shift: 64 - n.trailing_zeros(), len: 0 }
    }

    /// The first slot to probe: the reference itself modulo the table
    /// size, plus a pseudo-random offset per "epoch" of `size` references.
    /// Consecutive references (ITCH hands them out in increasing order, and
    /// most activity is on recent orders) land in consecutive slots, so
    /// recent orders share cache lines and inserts walk memory forward,
    /// while a window of old orders does not line up with the new one.
    #[inline(always)]
    fn home(&self, order_ref: u64) -> usize {
        let epoch = order_ref >> (64 - self.shift);
        (order_ref.wrapping_add(epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20) as usize) & self.mask
    }

    /// The entry index of a live order.
    #[inline]
    fn find(&self, order_ref: u64) -> Option<usize> {
        let mut i = self.home(order_ref);
        loop {
            let r = self.slots[i].order_ref;
            if r == order_ref && r != EMPTY {
                return Some(i);
            }
            if r == EMPTY {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Inserts a new order and returns its entry; `None` if its reference
    /// is live (or the empty marker). `true` in `grew` when the table had
    /// to grow.
    #[inline]
    fn insert(&mut self, slot: Slot, grew: &mut bool) -> Option<usize> {
        if slot.order_ref == EMPTY {
            return None;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
            *grew = true;
        }
        let mut i = self.home(slot.order_ref);
        loop {
            let r = self.slots[i].order_ref;
            if r == EMPTY {
                self.slots[i] = slot;
                self.len += 1;
                return Some(i);
            }
            if r == slot.order_ref {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Removes the entry at `i` and shifts back the entries after it that
    /// would otherwise become unreachable.
    #[inline]
    fn remove_at(&mut self, mut i: usize) {
        let mask = self.mask;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let r = self.slots[j].order_ref;
            if r == EMPTY {
                break;
            }
            let h = self.home(r);
            // The entry at j may stay if its home lies cyclically in (i, j].
            let stays = if i <= j { i < h && h <= j } else { i < h || h <= j };
            if !stays {
                self.slots[i] = self.slots[j];
                i = j;
            }
        }
        self.slots[i] = FREE;
        self.len -= 1;
    }

    #[cold]
    fn grow(&mut self) {
        let old = std::mem::replace(self, OrderTable::with_capacity(self.slots.len()));
        for s in old.slots.into_iter().filter(|s| s.order_ref != EMPTY) {
            let mut i = self.home(s.order_ref);
            while self.slots[i].order_ref != EMPTY {
                i = (i + 1) & self.mask;
            }
            self.slots[i] = s;
            self.len += 1;
        }
    }
}

#[inline(always)]
fn side_of(code: u8) -> Option<Side> {
    match code {
        b'B' => Some(Side::Buy),
        b'S' => Some(Side::Sell),
        _ => None,
    }
}

#[inline(always)]
fn key_of(side: Side, price: i64) -> i64 {
    match side {
        Side::Buy => price,
        Side::Sell => -price,
    }
}

/// The index of `key` in the ascending `levels`, or where it would go.
/// Scans the last (best) 8 levels first, then binary-searches the rest.
#[inline(always)]
fn find_level(levels: &[Lvl], key: i64) -> Result<usize, usize> {
    let n = levels.len();
    let scan = n.min(8);
    for i in (n - scan..n).rev() {
        let k = levels[i].key;
        if k == key {
            return Ok(i);
        }
        if k < key {
            return Err(i + 1);
        }
    }
    levels[..n - scan].binary_search_by(|l| l.key.cmp(&key))
}

/// The order-by-order book of every stock of an ITCH feed; see the
/// [module docs](self).
#[derive(Debug)]
pub struct ItchBookBuilder {
    cfg: BookConfig,
    /// Stock locate -> symbol index + 1 (0: no directory yet).
    locates: Vec<u32>,
    syms: Vec<SymBook>,
    orders: OrderTable,
    /// Shares of every level by id (0: an empty level kept in its side, or
    /// a free id).
    level_qty: Vec<i64>,
    /// Free level ids.
    free_levels: Vec<u32>,
    counters: BookCounters,
}

impl ItchBookBuilder {
    /// An empty book with everything preallocated from `cfg`.
    pub fn new(cfg: BookConfig) -> ItchBookBuilder {
        ItchBookBuilder {
            cfg,
            locates: vec![0; 1 << 16],
            syms: Vec::with_capacity(cfg.max_symbols),
            orders: OrderTable::with_capacity(cfg.max_orders),
            level_qty: Vec::new(),
            free_levels: Vec::new(),
            counters: BookCounters::default(),
        }
    }

    /// A [`Handler`] that feeds this book and sends its events to `sink`:
    /// the fastest way in, `Frames::new(buf).dispatch(&mut book.handler(&mut sink))`.
    pub fn handler<'a, S: MarketSink>(&'a mut self, sink: &'a mut S) -> BookHandler<'a, S> {
        BookHandler { book: self, sink }
    }

    /// Handles one decoded message.
    #[inline]
    pub fn handle<S: MarketSink>(&mut self, message: &Message, sink: &mut S) {
        message.visit(0, &mut self.handler(sink));
    }

    /// Handles every framed message of `buf` (a whole file in memory);
    /// returns how many there were, or the first decoding error (the
    /// messages before it are applied). Faster than a plain dispatch: see
    /// [`ItchBookBuilder::process_at`].
    pub fn process<S: MarketSink>(&mut self, buf: &[u8], sink: &mut S) -> Result<u64, DecodeError> {
        self.process_at(buf, 0, sink)
    }

    /// As [`ItchBookBuilder::process`], for a buffer whose first byte is at
    /// `base` in a larger stream (error offsets include it). Works in
    /// batches of [`PREFETCH_BATCH`] frames: before a batch is dispatched,
    /// the next one is walked and the order-table entry of each execute,
    /// cancel, delete and replace in it is prefetched, so the cache misses
    /// of a batch overlap each other and the work of the batch before.
    pub fn process_at<S: MarketSink>(&mut self, buf: &[u8], base: u64, sink: &mut S) -> Result<u64, DecodeError> {
        let mut count = 0;
        let mut pos = 0;
        let mut end = self.prefetch_batch(buf, 0);
        while pos < buf.len() {
            if end == pos {
                // A cut or invalid frame: the decoder handles or reports it.
                let mut rest = Frames::with_base_offset(&buf[pos..], base + pos as u64);
                return Ok(count + rest.dispatch(&mut self.handler(sink))?);
            }
            let next = self.prefetch_batch(buf, end);
            count += Frames::with_base_offset(&buf[pos..end], base + pos as u64).dispatch(&mut self.handler(sink))?;
            pos = end;
            end = next;
        }
        Ok(count)
    }

    /// Walks up to [`PREFETCH_BATCH`] whole frames from `start`,
    /// prefetching the first table entry each order-referencing message
    /// will probe; returns where it stopped (at the end, a cut frame or an
    /// impossible length).
    #[inline(always)]
    fn prefetch_batch(&self, buf: &[u8], start: usize) -> usize {
        let mut p = start;
        for _ in 0..PREFETCH_BATCH {
            let Some(&[a, b]) = buf.get(p..p + FRAME_PREFIX_LEN) else { break };
            let len = usize::from(u16::from_be_bytes([a, b]));
            let Some(body) = buf.get(p + FRAME_PREFIX_LEN..p + FRAME_PREFIX_LEN + len) else { break };
            if len == 0 || len > MAX_MESSAGE_LEN {
                break;
            }
            if matches!(body[0], b'E' | b'C' | b'X' | b'D' | b'U') {
                if let Some(r) = body.get(11..19).and_then(|r| <[u8; 8]>::try_from(r).ok()) {
                    optix_ring::prefetch(&self.orders.slots[self.orders.home(u64::from_be_bytes(r))]);
                }
            }
            p += FRAME_PREFIX_LEN + len;
        }
        p
    }

    /// The counters.
    pub fn counters(&self) -> &BookCounters {
        &self.counters
    }

    /// Symbols known (from stock directories).
    pub fn symbol_count(&self) -> usize {
        self.syms.len()
    }

    /// The symbol of a stock locate, if its directory has been seen.
    pub fn symbol_of_locate(&self, locate: u16) -> Option<SymbolId> {
        match self.locates[usize::from(locate)] {
            0 => None,
            n => Some(SymbolId(n - 1)),
        }
    }

    /// A symbol's 8-byte name (space padded, print with `Display`).
    pub fn symbol_name(&self, sym: SymbolId) -> Option<Stock> {
        self.sym(sym).map(|b| b.name)
    }

    /// Whether a symbol is halted, paused or in quotation only.
    pub fn is_halted(&self, sym: SymbolId) -> bool {
        self.sym(sym).is_some_and(|b| b.halted)
    }

    /// Live orders.
    pub fn live_orders(&self) -> usize {
        self.orders.len
    }

    /// Best bid and best ask as `(price, shares)`; `None` for an empty side
    /// or an unknown symbol.
    pub fn top(&self, sym: SymbolId) -> Top {
        (self.levels(sym, Side::Buy).next(), self.levels(sym, Side::Sell).next())
    }

    /// The levels of one side as `(price, shares)`, best first.
    pub fn levels(&self, sym: SymbolId, side: Side) -> impl Iterator<Item = (i64, i64)> + '_ {
        let v: &[Lvl] = self.sym(sym).map_or(&[], |b| &b.sides[side as usize]);
        v.iter().rev().map(move |l| (key_of(side, l.key), self.level_qty[l.id as usize])).filter(|&(_, q)| q > 0)
    }

    fn sym(&self, sym: SymbolId) -> Option<&SymBook> {
        self.syms.get(sym.0 as usize)
    }

    /// Checks every invariant of the module docs by recomputing the levels
    /// from the live orders; O(table + levels) and allocating: for tests.
    pub fn validate(&self) -> Result<(), String> {
        use std::collections::BTreeMap;
        let mut want: BTreeMap<(u32, u8, i64), i64> = BTreeMap::new();
        let mut live = 0;
        for (i, s) in self.orders.slots.iter().enumerate() {
            if s.order_ref == EMPTY {
                continue;
            }
            live += 1;
            if self.orders.find(s.order_ref) != Some(i) {
                return Err(format!("order {} unreachable at {i}", s.order_ref));
            }
            if s.shares > 0 {
                *want.entry((u32::from(s.sym), s.side as u8, i64::from(s.price))).or_default() += i64::from(s.shares);
                let side = &self.syms[usize::from(s.sym)].sides[s.side as usize];
                let key = key_of(s.side, i64::from(s.price));
                if !side.iter().any(|l| l.key == key && l.id == s.level) {
                    return Err(format!("order {} level id {} is not its price's", s.order_ref, s.level));
                }
            } else if s.level != NO_LEVEL {
                return Err(format!("order {} of 0 shares has level id {}", s.order_ref, s.level));
            }
        }
        if live != self.orders.len {
            return Err(format!("table len {} but {live} live", self.orders.len));
        }
        let mut have = BTreeMap::new();
        for (n, b) in self.syms.iter().enumerate() {
            for side in [Side::Buy, Side::Sell] {
                let v = &b.sides[side as usize];
                if v.windows(2).any(|w| w[0].key >= w[1].key) {
                    return Err(format!("symbol {n} {side:?} levels not sorted"));
                }
                let mut empty = 0;
                for l in v {
                    let q = self.level_qty[l.id as usize];
                    if q < 0 {
                        return Err(format!("symbol {n} {side:?} level {} with {q} shares", l.key));
                    }
                    if q == 0 {
                        empty += 1;
                    } else {
                        have.insert((n as u32, side as u8, key_of(side, l.key)), q);
                    }
                }
                if empty != b.empty[side as usize] {
                    return Err(format!(
                        "symbol {n} {side:?}: {empty} empty levels, counted {}",
                        b.empty[side as usize]
                    ));
                }
                if v.last().is_some_and(|l| self.level_qty[l.id as usize] == 0) {
                    return Err(format!("symbol {n} {side:?}: empty top level"));
                }
            }
            let (bid, ask) = self.top(SymbolId(n as u32));
            let (bp, bq) = bid.unwrap_or((0, 0));
            let (ap, aq) = ask.unwrap_or((0, 0));
            if b.last_quote != [bp, bq, ap, aq] {
                return Err(format!("symbol {n} last quote {:?} but top {:?}", b.last_quote, (bid, ask)));
            }
        }
        if want != have {
            return Err("levels differ from the live orders".into());
        }
        let in_sides: usize = self.syms.iter().map(|b| b.sides[0].len() + b.sides[1].len()).sum();
        if in_sides + self.free_levels.len() != self.level_qty.len() {
            return Err(format!(
                "{in_sides} levels in sides and {} free ids, but {} ids",
                self.free_levels.len(),
                self.level_qty.len()
            ));
        }
        if let Some(id) = self.free_levels.iter().find(|&&id| self.level_qty[id as usize] != 0) {
            return Err(format!("free level id {id} holds shares"));
        }
        Ok(())
    }

    // ---- the message handlers ----

    #[inline(always)]
    fn sym_index(&mut self, locate: u16) -> Option<u32> {
        match self.locates[usize::from(locate)] {
            0 => {
                self.counters.unknown_locates += 1;
                None
            }
            n => Some(n - 1),
        }
    }

    /// A new symbol, or `None` for a repeated directory of a locate.
    fn on_directory(&mut self, m: &StockDirectory) -> Option<SymbolId> {
        let at = usize::from(m.header.stock_locate);
        if self.locates[at] != 0 {
            self.counters.unknown_locates += 1;
            return None;
        }
        if self.syms.len() == self.syms.capacity() {
            self.counters.grows += 1;
        }
        let n = self.cfg.levels_per_side;
        self.syms.push(SymBook {
            name: m.stock,
            halted: false,
            last_quote: [0; 4],
            sides: [Vec::with_capacity(n), Vec::with_capacity(n)],
            empty: [0; 2],
        });
        // Level ids for every symbol's reserved levels (a side holds at most
        // its capacity of levels, empty ones included, before it grows).
        let ids = self.syms.len() * 2 * n;
        self.level_qty.reserve(ids.saturating_sub(self.level_qty.len()));
        self.free_levels.reserve(ids.saturating_sub(self.free_levels.len()));
        self.locates[at] = self.syms.len() as u32;
        Some(SymbolId(self.syms.len() as u32 - 1))
    }

    fn on_trading_action<S: MarketSink>(&mut self, m: &StockTradingAction, sink: &mut S) {
        let Some(sym) = self.sym_index(m.header.stock_locate) else { return };
        let halted = match m.trading_state {
            b'T' => false,
            b'H' | b'P' | b'Q' => true,
            _ => {
                self.counters.bad_codes += 1;
                return;
            }
        };
        self.syms[sym as usize].halted = halted;
        self.counters.statuses += 1;
        sink.emit(MarketEvent::Status(Status { ts: Nanos(m.header.timestamp_ns), sym: SymbolId(sym), halted }));
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments, reason = "the fields of A and F, unpacked once for both")]
    fn on_add<S: MarketSink>(
        &mut self,
        ts: u64,
        locate: u16,
        order_ref: u64,
        side: u8,
        shares: u32,
        price: u32,
        sink: &mut S,
    ) {
        let Some(sym) = self.sym_index(locate) else { return };
        let Some(side) = side_of(side) else {
            self.counters.bad_codes += 1;
            return;
        };
        let mut grew = false;
        let slot = Slot { order_ref, price, shares, level: NO_LEVEL, sym: sym as u16, side };
        let Some(at) = self.orders.insert(slot, &mut grew) else {
            self.counters.duplicate_refs += 1;
            return;
        };
        self.counters.grows += u64::from(grew);
        self.orders.slots[at].level = self.add_to_level(ts, sym, side, i64::from(price), i64::from(shares), sink);
        self.maybe_quote(ts, sym, sink);
    }

    /// Removes `shares` from the order at entry `i` (the whole rest if it
    /// has fewer), removing the order at 0; returns it as it was.
    #[inline(always)]
    fn reduce<S: MarketSink>(&mut self, ts: u64, i: usize, shares: u32, sink: &mut S) -> Slot {
        let o = self.orders.slots[i];
        if shares > o.shares {
            self.counters.oversized += 1;
        }
        let take = shares.min(o.shares);
        if take == o.shares {
            self.orders.remove_at(i);
        } else {
            self.orders.slots[i].shares = o.shares - take;
        }
        self.take_from_level(ts, u32::from(o.sym), o.side, i64::from(o.price), o.level, i64::from(take), sink);
        o
    }

    #[inline(always)]
    fn find_order(&mut self, order_ref: u64) -> Option<usize> {
        let i = self.orders.find(order_ref);
        if i.is_none() {
            self.counters.unknown_refs += 1;
        }
        i
    }

    /// `E` (print at the order's price) and `C` (print at `price` when
    /// `printable`).
    #[inline(always)]
    fn on_execute<S: MarketSink>(
        &mut self,
        ts: u64,
        order_ref: u64,
        shares: u32,
        price: Option<u32>,
        printable: bool,
        sink: &mut S,
    ) {
        let Some(i) = self.find_order(order_ref) else { return };
        let o = self.orders.slots[i];
        if printable {
            let price = i64::from(price.unwrap_or(o.price));
            self.counters.trades += 1;
            sink.emit(MarketEvent::Trade(Trade {
                ts: Nanos(ts),
                sym: SymbolId(u32::from(o.sym)),
                aggressor: Some(o.side.opposite()),
                price,
                qty: i64::from(shares),
            }));
        } else {
            self.counters.non_printable += 1;
        }
        self.reduce(ts, i, shares, sink);
        self.maybe_quote(ts, u32::from(o.sym), sink);
    }

    #[inline(always)]
    fn on_cancel<S: MarketSink>(&mut self, ts: u64, order_ref: u64, shares: Option<u32>, sink: &mut S) {
        let Some(i) = self.find_order(order_ref) else { return };
        let all = self.orders.slots[i].shares;
        let o = self.reduce(ts, i, shares.unwrap_or(all), sink);
        self.maybe_quote(ts, u32::from(o.sym), sink);
    }

    #[inline(always)]
    fn on_replace<S: MarketSink>(&mut self, m: &OrderReplace, sink: &mut S) {
        let ts = m.header.timestamp_ns;
        let Some(i) = self.find_order(m.original_order_ref) else { return };
        let shares = self.orders.slots[i].shares;
        let o = self.reduce(ts, i, shares, sink);
        let mut grew = false;
        let new = Slot { order_ref: m.new_order_ref, price: m.price, shares: m.shares, level: NO_LEVEL, ..o };
        let sym = u32::from(o.sym);
        if let Some(at) = self.orders.insert(new, &mut grew) {
            self.counters.grows += u64::from(grew);
            self.orders.slots[at].level =
                self.add_to_level(ts, sym, o.side, i64::from(m.price), i64::from(m.shares), sink);
        } else {
            self.counters.duplicate_refs += 1;
        }
        self.maybe_quote(ts, sym, sink);
    }

    #[inline(always)]
    fn on_print<S: MarketSink>(
        &mut self,
        ts: u64,
        locate: u16,
        aggressor: Option<Side>,
        price: u32,
        qty: i64,
        sink: &mut S,
    ) {
        let Some(sym) = self.sym_index(locate) else { return };
        if qty <= 0 {
            return;
        }
        self.counters.trades += 1;
        sink.emit(MarketEvent::Trade(Trade {
            ts: Nanos(ts),
            sym: SymbolId(sym),
            aggressor,
            price: i64::from(price),
            qty,
        }));
    }

    /// Adds `shares` at `price` on `side`, emits the level's new aggregate
    /// and returns the level's id ([`NO_LEVEL`] for 0 shares: no level).
    #[inline(always)]
    fn add_to_level<S: MarketSink>(
        &mut self,
        ts: u64,
        sym: u32,
        side: Side,
        price: i64,
        shares: i64,
        sink: &mut S,
    ) -> u32 {
        if shares == 0 {
            return NO_LEVEL;
        }
        let b = &mut self.syms[sym as usize];
        let levels = &mut b.sides[side as usize];
        let key = key_of(side, price);
        let (id, qty) = match find_level(levels, key) {
            Ok(at) => {
                let id = levels[at].id;
                let q = &mut self.level_qty[id as usize];
                if *q == 0 {
                    b.empty[side as usize] -= 1;
                }
                *q += shares;
                (id, *q)
            }
            Err(mut at) => {
                if levels.len() == levels.capacity() && b.empty[side as usize] > 0 {
                    // Empty levels make room before the side grows.
                    self.compact(sym, side);
                    let levels = &self.syms[sym as usize].sides[side as usize];
                    at = find_level(levels, key).err().unwrap_or(levels.len());
                }
                let levels = &mut self.syms[sym as usize].sides[side as usize];
                if levels.len() == levels.capacity() {
                    self.counters.grows += 1;
                }
                let id = match self.free_levels.pop() {
                    Some(id) => {
                        self.level_qty[id as usize] = shares;
                        id
                    }
                    None => {
                        if self.level_qty.len() == self.level_qty.capacity() {
                            self.counters.grows += 1;
                        }
                        self.level_qty.push(shares);
                        (self.level_qty.len() - 1) as u32
                    }
                };
                levels.insert(at, Lvl { key, id });
                (id, shares)
            }
        };
        self.counters.levels += 1;
        sink.emit(MarketEvent::Level(Level { ts: Nanos(ts), sym: SymbolId(sym), side, price, qty }));
        id
    }

    /// Takes `shares` from level `id` (at `price` on `side`) and emits its
    /// new aggregate. A level that empties at the top of its side goes, with
    /// the empty levels right under it; one below the top stays, empty, for
    /// the next order at its price, until the side compacts.
    #[inline(always)]
    #[allow(clippy::too_many_arguments, reason = "the order's fields, unpacked once")]
    fn take_from_level<S: MarketSink>(
        &mut self,
        ts: u64,
        sym: u32,
        side: Side,
        price: i64,
        id: u32,
        shares: i64,
        sink: &mut S,
    ) {
        if shares == 0 {
            return;
        }
        let q = &mut self.level_qty[id as usize];
        *q -= shares;
        let qty = *q;
        if qty == 0 {
            self.level_emptied(sym, side, id);
        }
        self.counters.levels += 1;
        sink.emit(MarketEvent::Level(Level { ts: Nanos(ts), sym: SymbolId(sym), side, price, qty }));
    }

    /// Level `id` of `sym`'s `side` has just reached 0 shares.
    #[inline]
    fn level_emptied(&mut self, sym: u32, side: Side, id: u32) {
        let b = &mut self.syms[sym as usize];
        let s = side as usize;
        let levels = &mut b.sides[s];
        if levels.last().is_some_and(|l| l.id == id) {
            levels.pop();
            self.free_levels.push(id);
            while let Some(l) = levels.last().filter(|l| self.level_qty[l.id as usize] == 0) {
                self.free_levels.push(l.id);
                levels.pop();
                b.empty[s] -= 1;
            }
        } else {
            b.empty[s] += 1;
            if b.empty[s] > KEEP_EMPTY_LEVELS && b.empty[s] as usize > levels.len() / 2 {
                self.compact(sym, side);
            }
        }
    }

    /// Drops the empty levels of a side.
    #[cold]
    #[inline(never)]
    fn compact(&mut self, sym: u32, side: Side) {
        let b = &mut self.syms[sym as usize];
        let qty = &self.level_qty;
        let free = &mut self.free_levels;
        b.sides[side as usize].retain(|l| {
            let live = qty[l.id as usize] > 0;
            if !live {
                free.push(l.id);
            }
            live
        });
        b.empty[side as usize] = 0;
    }

    /// Emits a quote if the top of `sym` differs from its last quote.
    #[inline(always)]
    fn maybe_quote<S: MarketSink>(&mut self, ts: u64, sym: u32, sink: &mut S) {
        let b = &mut self.syms[sym as usize];
        let qty = &self.level_qty;
        let (bp, bq) = b.sides[0].last().map_or((0, 0), |l| (l.key, qty[l.id as usize]));
        let (ap, aq) = b.sides[1].last().map_or((0, 0), |l| (-l.key, qty[l.id as usize]));
        let q = [bp, bq, ap, aq];
        if q == b.last_quote {
            return;
        }
        b.last_quote = q;
        self.counters.quotes += 1;
        sink.emit(MarketEvent::Quote(Quote {
            ts: Nanos(ts),
            sym: SymbolId(sym),
            bid_px: bp,
            bid_qty: bq,
            ask_px: ap,
            ask_qty: aq,
        }));
    }
}

/// A [`Handler`] feeding an [`ItchBookBuilder`] and sending its events to a
/// sink; from [`ItchBookBuilder::handler`].
#[derive(Debug)]
pub struct BookHandler<'a, S> {
    book: &'a mut ItchBookBuilder,
    sink: &'a mut S,
}

impl<S: MarketSink> Handler for BookHandler<'_, S> {
    #[inline(always)]
    fn on<M: ItchMessage>(&mut self, offset: u64, message: M) {
        self.book.counters.messages.add_kind(M::KIND);
        message.deliver(offset, self);
    }

    /// Every other type: counted only.
    fn on_message(&mut self, _offset: u64, _message: Message) {}

    fn on_stock_directory(&mut self, _offset: u64, m: StockDirectory) {
        if let Some(sym) = self.book.on_directory(&m) {
            self.sink.on_symbol(sym, m.stock);
        }
    }

    fn on_stock_trading_action(&mut self, _offset: u64, m: StockTradingAction) {
        self.book.on_trading_action(&m, self.sink);
    }

    #[inline(always)]
    fn on_add_order(&mut self, _offset: u64, m: AddOrder) {
        let h = m.header;
        self.book.on_add(h.timestamp_ns, h.stock_locate, m.order_ref, m.side, m.shares, m.price, self.sink);
    }

    #[inline(always)]
    fn on_add_order_mpid(&mut self, _offset: u64, m: AddOrderMpid) {
        let h = m.header;
        self.book.on_add(h.timestamp_ns, h.stock_locate, m.order_ref, m.side, m.shares, m.price, self.sink);
    }

    #[inline(always)]
    fn on_order_executed(&mut self, _offset: u64, m: OrderExecuted) {
        self.book.on_execute(m.header.timestamp_ns, m.order_ref, m.executed_shares, None, true, self.sink);
    }

    #[inline(always)]
    fn on_order_executed_with_price(&mut self, _offset: u64, m: OrderExecutedWithPrice) {
        let (ts, price) = (m.header.timestamp_ns, Some(m.execution_price));
        self.book.on_execute(ts, m.order_ref, m.executed_shares, price, m.printable == b'Y', self.sink);
    }

    #[inline(always)]
    fn on_order_cancel(&mut self, _offset: u64, m: OrderCancel) {
        self.book.on_cancel(m.header.timestamp_ns, m.order_ref, Some(m.cancelled_shares), self.sink);
    }

    #[inline(always)]
    fn on_order_delete(&mut self, _offset: u64, m: OrderDelete) {
        self.book.on_cancel(m.header.timestamp_ns, m.order_ref, None, self.sink);
    }

    #[inline(always)]
    fn on_order_replace(&mut self, _offset: u64, m: OrderReplace) {
        self.book.on_replace(&m, self.sink);
    }

    #[inline(always)]
    fn on_trade(&mut self, _offset: u64, m: ItchTrade) {
        let aggressor = side_of(m.side).map(Side::opposite);
        let h = m.header;
        self.book.on_print(h.timestamp_ns, h.stock_locate, aggressor, m.price, i64::from(m.shares), self.sink);
    }

    #[inline(always)]
    fn on_cross_trade(&mut self, _offset: u64, m: CrossTrade) {
        let h = m.header;
        let qty = i64::try_from(m.shares).unwrap_or(i64::MAX);
        self.book.on_print(h.timestamp_ns, h.stock_locate, None, m.cross_price, qty, self.sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_insert_find_remove_with_collisions() {
        let mut t = OrderTable::with_capacity(8);
        let mut grew = false;
        let slot = |r| Slot { order_ref: r, price: r as u32, shares: 1, level: NO_LEVEL, sym: 0, side: Side::Buy };
        // Many keys in a 16-entry table: long probe chains and wrap-around.
        for r in 0..8u64 {
            assert!(t.insert(slot(r * 16 + 3), &mut grew).is_some());
        }
        assert!(t.insert(slot(3), &mut grew).is_none(), "duplicate");
        assert!(t.insert(slot(EMPTY), &mut grew).is_none(), "the empty marker");
        for r in [3u64, 51, 115, 67] {
            let i = t.find(r).unwrap();
            t.remove_at(i);
            assert_eq!(t.find(r), None);
        }
        for r in [19u64, 35, 83, 99] {
            assert_eq!(t.slots[t.find(r).unwrap()].price, r as u32);
        }
        assert_eq!(t.len, 4);
        // Growth keeps everything.
        for r in 1000..1100u64 {
            assert!(t.insert(slot(r), &mut grew).is_some());
        }
        assert!(grew);
        for r in (1000..1100u64).chain([19, 35, 83, 99]) {
            assert!(t.find(r).is_some(), "{r}");
        }
        assert_eq!(t.len, 104);
    }

    #[test]
    fn find_level_gallops_and_searches() {
        for n in [0i64, 1, 2, 3, 7, 8, 9, 40, 100] {
            let v: Vec<Lvl> = (0..n).map(|i| Lvl { key: i * 10, id: i as u32 }).collect();
            for key in -5..n * 10 + 5 {
                assert_eq!(find_level(&v, key), v.binary_search_by(|l| l.key.cmp(&key)), "{n} {key}");
            }
        }
    }
}
