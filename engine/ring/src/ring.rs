//! The ring itself: the shared block, the two halves, construction.
//!
//! See the crate docs for layout, invariants, complexity and limits.

use core::fmt;
use core::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use crate::sync::{Arc, AtomicBool, AtomicUsize, Ordering, UnsafeCell};
use crate::wait::Waiter;

/// The largest capacity [`ring`] accepts (2^(bits - 2) slots), so that
/// `tail - head` never needs the top bit of a `usize`.
pub const MAX_CAPACITY: usize = 1 << (usize::BITS - 2);

/// One slot: initialised exactly when its item number is in `[head, tail)`.
type Slot<T> = UnsafeCell<MaybeUninit<T>>;

/// The block both halves point to.
struct Shared<T> {
    /// Items taken so far (wrapping). Written only by the consumer.
    head: CachePadded<AtomicUsize>,
    /// Items published so far (wrapping). Written only by the producer.
    tail: CachePadded<AtomicUsize>,
    /// `capacity` slots; item `n` lives in `slots[n & mask]`.
    slots: Box<[Slot<T>]>,
    /// `capacity - 1`.
    mask: usize,
    /// Set by the first half to be dropped.
    closed: AtomicBool,
}

// The control block's layout is deliberate: `head`, `tail` and the read-only
// fields each own a 128-byte block (two cache lines: the adjacent-line
// prefetcher pulls pairs), so neither index shares a line with anything.
#[cfg(all(target_arch = "x86_64", not(loom)))]
const _: () = assert!(core::mem::size_of::<Shared<u64>>() == 3 * 128);

// SAFETY: `Shared` is reached from exactly two threads, the producer's and
// the consumer's. The slot protocol (crate docs, "Invariants") gives each
// slot to one of them at a time, with a release/acquire pair on `tail` or
// `head` at every hand-over, so a `T` is only ever moved from one thread to
// the other, never shared: `T: Send` suffices. Everything else in it is
// atomic or read-only.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// The slot of item number `index`.
    #[inline(always)]
    fn slot(&self, index: usize) -> &Slot<T> {
        &self.slots[index & self.mask]
    }

    /// The slots of items `start..start + n` (`n <= capacity`) as at most
    /// two contiguous runs: up to the end of the buffer, then from its
    /// start. Lets batch loops walk slots without an index computation or
    /// bounds check per item.
    #[inline(always)]
    fn runs(&self, start: usize, n: usize) -> (&[Slot<T>], &[Slot<T>]) {
        let (before, from) = self.slots.split_at(start & self.mask);
        let first = n.min(from.len());
        (&from[..first], &before[..n - first])
    }

    /// Moves `value` into the slot of item `index`.
    ///
    /// # Safety
    ///
    /// As for [`write_slot`].
    #[inline(always)]
    unsafe fn write(&self, index: usize, value: T) {
        // SAFETY: the caller upholds `write_slot`'s contract for this slot.
        unsafe { write_slot(self.slot(index), value) }
    }

    /// Moves the value out of the slot of item `index`.
    ///
    /// # Safety
    ///
    /// As for [`read_slot`].
    #[inline(always)]
    unsafe fn read(&self, index: usize) -> T {
        // SAFETY: the caller upholds `read_slot`'s contract for this slot.
        unsafe { read_slot(self.slot(index)) }
    }
}

/// Moves `value` into `slot`.
///
/// # Safety
///
/// The caller is the producer and `slot` holds an item number in
/// `[tail, head + capacity)` for a `head` it loaded with `Acquire` (or an
/// older one): the slot is uninitialised and the consumer is done with it.
#[inline(always)]
unsafe fn write_slot<T>(slot: &Slot<T>, value: T) {
    slot.with_mut(|p| {
        // SAFETY: by the caller's contract nobody else accesses this slot
        // now, so the exclusive write cannot race; the slot holds no value,
        // so nothing is overwritten without being dropped.
        unsafe { p.write(MaybeUninit::new(value)) }
    });
}

/// Moves the value out of `slot`.
///
/// # Safety
///
/// The caller is the consumer and `slot` holds an item number in
/// `[head, tail)` for a `tail` it loaded with `Acquire`: the slot holds an
/// initialised value the producer is done with. The caller must advance
/// `head` past it before anyone can observe the slot again, so the value is
/// not read (or dropped) twice.
#[inline(always)]
unsafe fn read_slot<T>(slot: &Slot<T>) -> T {
    slot.with(|p| {
        // SAFETY: by the caller's contract the slot is initialised and the
        // producer does not write it until `head` moves past it.
        unsafe { p.read().assume_init() }
    })
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Relaxed: `&mut self` means both halves are gone; the `Arc`'s
        // release decrement / acquire on the last drop already ordered their
        // final `head`/`tail` stores before this point.
        let head = self.head.load(Ordering::Relaxed);
        // Relaxed: as above.
        let tail = self.tail.load(Ordering::Relaxed);
        let mut index = head;
        while index != tail {
            self.slot(index).with_mut(|p| {
                // SAFETY: `index` is in `[head, tail)`, so the slot holds an
                // initialised value nobody has taken; `&mut self` rules out
                // any other access; each index is visited once.
                unsafe { (*p).assume_init_drop() }
            });
            index = index.wrapping_add(1);
        }
    }
}

/// Why [`try_ring`] refused a capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapacityError {
    /// A ring needs at least one slot.
    Zero,
    /// Rounded up to a power of two, the capacity exceeds [`MAX_CAPACITY`].
    TooLarge {
        /// The capacity asked for.
        requested: usize,
    },
    /// The slot buffer could not be allocated (too many bytes, or no memory).
    Alloc {
        /// The capacity asked for, rounded up to a power of two.
        capacity: usize,
    },
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Zero => f.write_str("ring capacity must be at least 1"),
            Self::TooLarge { requested } => write!(f, "ring capacity {requested} exceeds the maximum {MAX_CAPACITY}"),
            Self::Alloc { capacity } => {
                write!(f, "cannot allocate a ring of {capacity} slots")
            }
        }
    }
}

impl std::error::Error for CapacityError {}

/// Creates a ring of at least `capacity` slots (rounded up to a power of
/// two) and returns its two halves. The ring's only allocations: the slot
/// buffer and the control block.
///
/// # Panics
///
/// If [`try_ring`] would return an error.
pub fn ring<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    match try_ring(capacity) {
        Ok(halves) => halves,
        Err(e) => panic!("{e}"),
    }
}

/// Creates a ring of at least `capacity` slots (rounded up to a power of
/// two), or says why not.
pub fn try_ring<T>(capacity: usize) -> Result<(Producer<T>, Consumer<T>), CapacityError> {
    if capacity == 0 {
        return Err(CapacityError::Zero);
    }
    if capacity > MAX_CAPACITY {
        return Err(CapacityError::TooLarge { requested: capacity });
    }
    let capacity = capacity.next_power_of_two();
    let mut slots: Vec<Slot<T>> = Vec::new();
    slots.try_reserve_exact(capacity).map_err(|_| CapacityError::Alloc { capacity })?;
    slots.extend((0..capacity).map(|_| UnsafeCell::new(MaybeUninit::uninit())));
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
        slots: slots.into_boxed_slice(),
        mask: capacity - 1,
        closed: AtomicBool::new(false),
    });
    let producer = Producer { shared: Arc::clone(&shared), tail: 0, cached_head: 0, mask: capacity - 1 };
    let consumer = Consumer { shared, head: 0, cached_tail: 0 };
    Ok((producer, consumer))
}

/// Publishes a half's index when dropped: once at the end of a batch, or
/// during unwinding for the items already moved (so none is lost or taken
/// twice).
struct Commit<'a> {
    /// The half's own copy of its index, advanced item by item.
    index: &'a mut usize,
    /// The shared index to publish it to.
    published: &'a AtomicUsize,
    /// The index at the start of the batch.
    start: usize,
}

impl Commit<'_> {
    /// Items moved so far in this batch.
    #[inline(always)]
    fn count(&self) -> usize {
        self.index.wrapping_sub(self.start)
    }
}

impl Drop for Commit<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if *self.index != self.start {
            // Release: pairs with the other half's Acquire load of this index
            // (the consumer's load of `tail` / the producer's load of `head`),
            // publishing the slot writes / reads of this batch.
            self.published.store(*self.index, Ordering::Release);
        }
    }
}

/// The writing half of a ring. `Send` when `T: Send`; one thread at a time.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// Our copy of `shared.tail` (we are its only writer).
    tail: usize,
    /// The consumer's `head` as last loaded.
    cached_head: usize,
    /// `capacity - 1`, copied here to keep the full check off the shared block.
    mask: usize,
}

impl<T> Producer<T> {
    /// The number of slots.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Free slots according to our cached copy of `head` (a lower bound).
    #[inline(always)]
    fn cached_free(&self) -> usize {
        self.capacity() - self.tail.wrapping_sub(self.cached_head)
    }

    /// Reloads the consumer's `head` and returns the free slots.
    #[inline(always)]
    fn refresh_free(&mut self) -> usize {
        // Acquire: pairs with the consumer's Release store of `head` (in
        // `Consumer::pop` / the batch commit), so its reads of the slots we
        // are about to reuse happen before our writes.
        self.cached_head = self.shared.head.load(Ordering::Acquire);
        self.cached_free()
    }

    /// Pushes `value`, or hands it back in `Err` when the ring is full.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if self.cached_free() == 0 && self.refresh_free() == 0 {
            return Err(value);
        }
        let tail = self.tail;
        // SAFETY: we are the producer and `tail < cached_head + capacity`
        // with `cached_head` loaded with Acquire (`refresh_free`): the slot
        // is free and the consumer is done with it.
        unsafe { self.shared.write(tail, value) };
        self.tail = tail.wrapping_add(1);
        // Release: pairs with the consumer's Acquire load of `tail`
        // (`Consumer::refresh_available`), publishing the slot write above.
        self.shared.tail.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// Moves items from `items` into the free slots until either runs out,
    /// then publishes them all with one store. Returns how many were moved
    /// (0 when the ring is full or `items` is empty). Items not moved stay in
    /// the iterator. Allocation-free.
    ///
    /// To bound a batch, pass `&mut iter.by_ref().take(n)`.
    #[inline]
    pub fn push_batch<I: Iterator<Item = T>>(&mut self, items: &mut I) -> usize {
        let wanted = items.size_hint().0.max(1);
        let mut free = self.cached_free();
        if free < wanted {
            free = self.refresh_free();
        }
        if free == 0 {
            return 0;
        }
        let shared = &*self.shared;
        let start = self.tail;
        let (first, second) = shared.runs(start, free);
        let commit = Commit { index: &mut self.tail, published: &shared.tail, start };
        'fill: for run in [first, second] {
            for slot in run {
                let Some(value) = items.next() else {
                    break 'fill;
                };
                // SAFETY: we are the producer and the slot is one of the
                // `free` after `tail`, i.e. below `cached_head + capacity`
                // for the Acquire-loaded `cached_head`: it is free and the
                // consumer is done with it.
                unsafe { write_slot(slot, value) };
                *commit.index = commit.index.wrapping_add(1);
            }
        }
        commit.count()
        // `commit` publishes `tail` here (or while unwinding from `next`).
    }

    /// Pushes `value`, waiting with `waiter` while the ring is full. Hands it
    /// back in `Err` if the consumer has been dropped. Not for the hot path.
    pub fn push_blocking(&mut self, mut value: T, waiter: &mut Waiter) -> Result<(), T> {
        loop {
            match self.push(value) {
                Ok(()) => {
                    waiter.reset();
                    return Ok(());
                }
                Err(v) if self.is_abandoned() => return Err(v),
                Err(v) => {
                    value = v;
                    waiter.wait();
                }
            }
        }
    }

    /// Free slots right now (loads the consumer's index; may grow at once).
    pub fn free_slots(&self) -> usize {
        // Acquire: pairs with the consumer's Release store of `head`.
        let head = self.shared.head.load(Ordering::Acquire);
        self.capacity() - self.tail.wrapping_sub(head)
    }

    /// Whether the ring is full right now.
    pub fn is_full(&self) -> bool {
        self.free_slots() == 0
    }

    /// Whether the consumer has been dropped (nothing pushed will be read).
    pub fn is_abandoned(&self) -> bool {
        // Acquire: pairs with the Release store in `Consumer::drop`.
        self.shared.closed.load(Ordering::Acquire)
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // Release: pairs with the Acquire load in `Consumer::is_abandoned`,
        // so a consumer that sees the flag also sees our last `tail` store.
        self.shared.closed.store(true, Ordering::Release);
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.capacity())
            .field("tail", &self.tail)
            .field("cached_head", &self.cached_head)
            .finish()
    }
}

/// The reading half of a ring. `Send` when `T: Send`; one thread at a time.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// Our copy of `shared.head` (we are its only writer).
    head: usize,
    /// The producer's `tail` as last loaded.
    cached_tail: usize,
}

impl<T> Consumer<T> {
    /// The number of slots.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// Items available according to our cached copy of `tail` (a lower
    /// bound).
    #[inline(always)]
    fn cached_available(&self) -> usize {
        self.cached_tail.wrapping_sub(self.head)
    }

    /// Reloads the producer's `tail` and returns the items available.
    #[inline(always)]
    fn refresh_available(&mut self) -> usize {
        // Acquire: pairs with the producer's Release store of `tail` (in
        // `Producer::push` / the batch commit), so its slot writes happen
        // before our reads.
        self.cached_tail = self.shared.tail.load(Ordering::Acquire);
        self.cached_available()
    }

    /// Takes the oldest item, or `None` when the ring is empty.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.cached_available() == 0 && self.refresh_available() == 0 {
            return None;
        }
        let head = self.head;
        // SAFETY: we are the consumer and `head < cached_tail` with
        // `cached_tail` loaded with Acquire: the slot is initialised and
        // published; `head` advances right below.
        let value = unsafe { self.shared.read(head) };
        self.head = head.wrapping_add(1);
        // Release: pairs with the producer's Acquire load of `head`
        // (`Producer::refresh_free`): our read of the slot happens before
        // the producer reuses it.
        self.shared.head.store(self.head, Ordering::Release);
        Some(value)
    }

    /// Takes up to `max` items, oldest first, handing each to `f`, then
    /// releases their slots with one store. Returns how many were taken.
    /// Allocation-free. If `f` panics, the items already taken stay taken
    /// (and the one being handled is dropped by the unwinding).
    #[inline]
    pub fn pop_batch<F: FnMut(T)>(&mut self, max: usize, mut f: F) -> usize {
        let mut available = self.cached_available();
        if available < max {
            available = self.refresh_available();
        }
        let n = available.min(max);
        if n == 0 {
            return 0;
        }
        let shared = &*self.shared;
        let start = self.head;
        let (first, second) = shared.runs(start, n);
        let commit = Commit { index: &mut self.head, published: &shared.head, start };
        for run in [first, second] {
            for slot in run {
                // SAFETY: we are the consumer and the slot is one of the `n`
                // after `head`, all below the Acquire-loaded `cached_tail`:
                // it is initialised and published. Our index moves past it
                // before `f` runs, so it is never read twice, even if `f`
                // panics.
                let value = unsafe { read_slot(slot) };
                *commit.index = commit.index.wrapping_add(1);
                f(value);
            }
        }
        n
        // `commit` publishes `head` here (or while unwinding from `f`).
    }

    /// Takes the oldest item, waiting with `waiter` while the ring is empty.
    /// `None` once the producer has been dropped and the ring is empty. Not
    /// for the hot path.
    pub fn pop_blocking(&mut self, waiter: &mut Waiter) -> Option<T> {
        loop {
            if let Some(value) = self.pop() {
                waiter.reset();
                return Some(value);
            }
            if self.is_abandoned() {
                // The flag's Acquire made the producer's last `tail` visible:
                // this look is final.
                return self.pop();
            }
            waiter.wait();
        }
    }

    /// Items available right now (loads the producer's index; may grow at
    /// once).
    pub fn available(&self) -> usize {
        // Acquire: pairs with the producer's Release store of `tail`.
        self.shared.tail.load(Ordering::Acquire).wrapping_sub(self.head)
    }

    /// Whether the ring is empty right now.
    pub fn is_empty(&self) -> bool {
        self.available() == 0
    }

    /// Whether the producer has been dropped (no more items will come after
    /// those available now).
    pub fn is_abandoned(&self) -> bool {
        // Acquire: pairs with the Release store in `Producer::drop`.
        self.shared.closed.load(Ordering::Acquire)
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // Release: pairs with the Acquire load in `Producer::is_abandoned`.
        self.shared.closed.store(true, Ordering::Release);
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .field("head", &self.head)
            .field("cached_tail", &self.cached_tail)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;

    /// Counts its drops in a shared counter.
    #[derive(Debug)]
    struct Counted(Rc<Cell<usize>>, u32);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    fn assert_send<S: Send>() {}

    #[test]
    fn halves_are_send_for_send_items() {
        assert_send::<Producer<u64>>();
        assert_send::<Consumer<String>>();
    }

    #[test]
    fn capacity_is_rounded_up_to_a_power_of_two() {
        for (asked, got) in [(1, 1), (2, 2), (3, 4), (5, 8), (1000, 1024), (1024, 1024)] {
            let (tx, rx) = ring::<u8>(asked);
            assert_eq!(tx.capacity(), got, "asked {asked}");
            assert_eq!(rx.capacity(), got, "asked {asked}");
            assert_eq!(tx.free_slots(), got);
            assert!(rx.is_empty());
        }
    }

    #[test]
    fn capacity_is_validated() {
        assert_eq!(try_ring::<u8>(0).unwrap_err(), CapacityError::Zero);
        assert_eq!(
            try_ring::<u8>(MAX_CAPACITY + 1).unwrap_err(),
            CapacityError::TooLarge { requested: MAX_CAPACITY + 1 }
        );
        // A power of two that fits the index space but not the address space.
        assert_eq!(try_ring::<[u8; 1024]>(MAX_CAPACITY).unwrap_err(), CapacityError::Alloc { capacity: MAX_CAPACITY });
        assert!(CapacityError::Zero.to_string().contains("at least 1"));
    }

    #[test]
    #[should_panic(expected = "at least 1")]
    fn ring_panics_on_zero_capacity() {
        let _ = ring::<u8>(0);
    }

    #[test]
    fn fill_then_empty() {
        let (mut tx, mut rx) = ring::<u32>(8);
        for i in 0..8 {
            assert_eq!(tx.push(i), Ok(()));
        }
        assert!(tx.is_full());
        assert_eq!(tx.free_slots(), 0);
        assert_eq!(rx.available(), 8);
        for i in 0..8 {
            assert_eq!(rx.pop(), Some(i));
        }
        assert_eq!(rx.pop(), None);
        assert!(rx.is_empty());
        assert_eq!(tx.free_slots(), 8);
    }

    #[test]
    fn push_hands_the_value_back_when_full() {
        let (mut tx, mut rx) = ring::<String>(2);
        tx.push("a".into()).unwrap();
        tx.push("b".into()).unwrap();
        assert_eq!(tx.push("c".into()), Err("c".to_string()));
        assert_eq!(rx.pop().as_deref(), Some("a"));
        assert_eq!(tx.push("c".into()), Ok(()));
        assert_eq!(tx.push("d".into()), Err("d".to_string()));
        assert_eq!(rx.pop().as_deref(), Some("b"));
        assert_eq!(rx.pop().as_deref(), Some("c"));
        assert_eq!(rx.pop(), None);
    }

    #[test]
    fn wraps_around_many_times_in_order() {
        let laps = if cfg!(miri) { 20 } else { 10_000 };
        for cap in [1usize, 2, 4, 8] {
            let (mut tx, mut rx) = ring::<usize>(cap);
            let mut next_in = 0;
            let mut next_out = 0;
            for lap in 0..laps {
                // Vary the fill level so head and tail cross every slot.
                let fill = 1 + lap % cap;
                for _ in 0..fill {
                    tx.push(next_in).unwrap();
                    next_in += 1;
                }
                for _ in 0..fill {
                    assert_eq!(rx.pop(), Some(next_out));
                    next_out += 1;
                }
                assert_eq!(rx.pop(), None);
            }
            assert_eq!(next_out, next_in);
        }
    }

    #[test]
    fn indices_wrap_past_usize_max() {
        // Start both counters just below the wrap point.
        let (mut tx, mut rx) = ring::<u8>(4);
        let start = usize::MAX - 5;
        tx.tail = start;
        tx.cached_head = start;
        // Relaxed: single-threaded setup, nothing to pair with.
        tx.shared.tail.store(start, Ordering::Relaxed);
        tx.shared.head.store(start, Ordering::Relaxed);
        rx.head = start;
        rx.cached_tail = start;
        for round in 0..6u8 {
            assert_eq!(tx.push_batch(&mut (0..3u8).map(|i| round * 3 + i)), 3);
            let mut got = Vec::new();
            assert_eq!(rx.pop_batch(10, |v| got.push(v)), 3);
            assert_eq!(got, [round * 3, round * 3 + 1, round * 3 + 2]);
        }
        assert!(tx.tail < start, "the tail wrapped");
    }

    #[test]
    fn push_batch_fills_only_free_slots_and_leaves_the_rest() {
        let (mut tx, mut rx) = ring::<u32>(8);
        tx.push(100).unwrap();
        let mut items = 0..20;
        assert_eq!(tx.push_batch(&mut items), 7);
        assert_eq!(items.next(), Some(7), "unmoved items stay in the iterator");
        assert_eq!(tx.push_batch(&mut (50..60)), 0, "full");
        assert_eq!(tx.push_batch(&mut core::iter::empty()), 0);
        assert_eq!(rx.pop(), Some(100));
        let mut got = Vec::new();
        assert_eq!(rx.pop_batch(usize::MAX, |v| got.push(v)), 7);
        assert_eq!(got, (0..7).collect::<Vec<_>>());
        assert_eq!(rx.pop_batch(4, |_| unreachable!()), 0);
    }

    #[test]
    fn batches_bounded_with_take_and_across_the_wrap() {
        let (mut tx, mut rx) = ring::<u64>(16);
        let mut source = 0..1000u64;
        let mut expected = 0u64;
        let mut rounds = 0;
        while expected < 1000 {
            rounds += 1;
            let n = 1 + rounds % 13;
            tx.push_batch(&mut source.by_ref().take(n));
            let m = 1 + rounds % 7;
            rx.pop_batch(m, |v| {
                assert_eq!(v, expected);
                expected += 1;
            });
        }
        assert_eq!(source.next(), None);
        assert_eq!(rx.pop(), None);
    }

    #[test]
    fn pop_batch_respects_max() {
        let (mut tx, mut rx) = ring::<u8>(8);
        assert_eq!(tx.push_batch(&mut (0..8)), 8);
        let mut got = Vec::new();
        assert_eq!(rx.pop_batch(3, |v| got.push(v)), 3);
        assert_eq!(rx.pop_batch(0, |v| got.push(v)), 0);
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(rx.available(), 5);
        assert_eq!(tx.free_slots(), 3);
    }

    #[test]
    fn every_item_is_dropped_exactly_once() {
        let drops = Rc::new(Cell::new(0));
        let make = |i| Counted(Rc::clone(&drops), i);
        {
            let (mut tx, mut rx) = ring::<Counted>(4);
            for i in 0..4 {
                tx.push(make(i)).unwrap();
            }
            // Rejected value comes back and is dropped by us.
            let back = tx.push(make(99)).unwrap_err();
            assert_eq!(back.1, 99);
            drop(back);
            assert_eq!(drops.get(), 1);
            // Popped values are dropped by whoever holds them.
            let first = rx.pop().unwrap();
            assert_eq!(first.1, 0);
            drop(first);
            assert_eq!(drops.get(), 2);
            assert_eq!(rx.pop_batch(1, drop), 1);
            assert_eq!(drops.get(), 3);
            // Wrap around with more.
            tx.push(make(4)).unwrap();
            tx.push(make(5)).unwrap();
            // Four left in the ring: 2, 3, 4, 5.
            drop(tx);
            assert_eq!(drops.get(), 3, "dropping one half drops nothing");
            assert!(rx.is_abandoned());
        }
        // The last half dropped the four left.
        assert_eq!(drops.get(), 7);
    }

    #[test]
    fn drops_remaining_items_when_consumer_goes_first() {
        let drops = Rc::new(Cell::new(0));
        let (mut tx, rx) = ring::<Counted>(8);
        for i in 0..5 {
            tx.push(Counted(Rc::clone(&drops), i)).unwrap();
        }
        drop(rx);
        assert!(tx.is_abandoned());
        assert_eq!(drops.get(), 0);
        drop(tx);
        assert_eq!(drops.get(), 5);
    }

    #[test]
    fn panic_in_pop_batch_callback_loses_and_duplicates_nothing() {
        let drops = Rc::new(Cell::new(0));
        let (mut tx, mut rx) = ring::<Counted>(8);
        for i in 0..6 {
            tx.push(Counted(Rc::clone(&drops), i)).unwrap();
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rx.pop_batch(6, |v| {
                if v.1 == 2 {
                    panic!("boom");
                }
            })
        }));
        assert!(result.is_err());
        // Items 0, 1 handled and dropped, 2 dropped while unwinding.
        assert_eq!(drops.get(), 3);
        assert_eq!(rx.pop().map(|v| v.1), Some(3));
        assert_eq!(tx.free_slots(), 8 - 2);
        drop((tx, rx));
        assert_eq!(drops.get(), 6);
    }

    #[test]
    fn panic_in_push_batch_iterator_publishes_what_was_written() {
        let (mut tx, mut rx) = ring::<u32>(8);
        let mut items = (0..8).map(|i| if i == 3 { panic!("boom") } else { i });
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.push_batch(&mut items)));
        assert!(result.is_err());
        let mut got = Vec::new();
        rx.pop_batch(8, |v| got.push(v));
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(tx.push(7), Ok(()));
        assert_eq!(rx.pop(), Some(7));
    }

    #[test]
    fn zero_sized_items() {
        let (mut tx, mut rx) = ring::<()>(3);
        assert_eq!(tx.capacity(), 4);
        for _ in 0..4 {
            tx.push(()).unwrap();
        }
        assert_eq!(tx.push(()), Err(()));
        assert_eq!(rx.pop_batch(10, |()| {}), 4);
        assert_eq!(rx.pop(), None);
        // Zero-sized but with a destructor.
        static DROPS: StdAtomicUsize = StdAtomicUsize::new(0);
        #[derive(Debug)]
        struct Zst;
        impl Drop for Zst {
            fn drop(&mut self) {
                DROPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let (mut tx, mut rx) = ring::<Zst>(2);
        tx.push(Zst).unwrap();
        tx.push(Zst).unwrap();
        let back = tx.push(Zst).unwrap_err();
        drop(back);
        drop(rx.pop());
        drop((tx, rx));
        assert_eq!(DROPS.load(std::sync::atomic::Ordering::Relaxed), 3);
    }

    #[test]
    fn blocking_calls_end_when_the_other_half_is_gone() {
        let mut waiter = Waiter::new(crate::WaitStrategy::YIELD);
        let (mut tx, mut rx) = ring::<u8>(1);
        tx.push_blocking(1, &mut waiter).unwrap();
        drop(tx);
        assert_eq!(rx.pop_blocking(&mut waiter), Some(1));
        assert_eq!(rx.pop_blocking(&mut waiter), None);

        let (mut tx, rx) = ring::<u8>(1);
        tx.push(1).unwrap();
        drop(rx);
        assert_eq!(tx.push_blocking(2, &mut waiter), Err(2));
    }

    #[test]
    fn two_threads_blocking_calls() {
        let n: u64 = if cfg!(miri) { 200 } else { 100_000 };
        let (mut tx, mut rx) = ring::<u64>(16);
        let producer = std::thread::spawn(move || {
            let mut waiter = Waiter::default();
            for i in 0..n {
                tx.push_blocking(i, &mut waiter).unwrap();
            }
        });
        let mut waiter = Waiter::default();
        let mut expected = 0;
        while let Some(v) = rx.pop_blocking(&mut waiter) {
            assert_eq!(v, expected);
            expected += 1;
        }
        assert_eq!(expected, n);
        producer.join().unwrap();
    }

    #[test]
    fn debug_shows_positions() {
        let (mut tx, rx) = ring::<u8>(2);
        tx.push(1).unwrap();
        assert_eq!(format!("{tx:?}"), "Producer { capacity: 2, tail: 1, cached_head: 0 }");
        assert_eq!(format!("{rx:?}"), "Consumer { capacity: 2, head: 0, cached_tail: 0 }");
    }
}
