//! `optix-ring`: a bounded, lock-free, single-producer single-consumer ring,
//! and the wait strategies its polling loops use.
//!
//! ```
//! let (mut tx, mut rx) = optix_ring::ring::<u64>(4);
//! assert_eq!(tx.capacity(), 4);
//! tx.push(1).unwrap();
//! assert_eq!(tx.push_batch(&mut (2..10)), 3); // three slots were free
//! assert_eq!(tx.push(10), Err(10)); // full: the value comes back
//! let mut got = Vec::new();
//! assert_eq!(rx.pop_batch(8, |v| got.push(v)), 4);
//! assert_eq!(got, [1, 2, 3, 4]);
//! assert_eq!(rx.pop(), None);
//! ```
//!
//! # Layout
//!
//! [`ring`] allocates, once, an `Arc` holding:
//!
//! - `head`: the number of items the consumer has taken, in its own
//!   [`CachePadded`](crossbeam_utils::CachePadded) line (written only by the
//!   consumer);
//! - `tail`: the number of items the producer has published, in its own
//!   padded line (written only by the producer);
//! - the slot buffer, `capacity` cells of `MaybeUninit<T>`, and its index
//!   mask, read-only after construction, on lines of their own;
//! - a `closed` flag, written once when either half is dropped.
//!
//! Each half keeps its own index in a plain field (it is the only writer of
//! it) and a cached copy of the other side's index: the [`Producer`] caches
//! `head`, the [`Consumer`] caches `tail`. A half touches the other side's
//! cache line only when its cached copy says the ring is full (producer) or
//! empty (consumer), so in steady state each item costs one store to the
//! owner's index line plus the slot itself, and a batch costs one store.
//!
//! # Invariants
//!
//! - `head` and `tail` are free-running `usize` counters (wrapping); item
//!   number `n` lives in slot `n & mask`; `capacity = mask + 1` is a power of
//!   two no larger than [`MAX_CAPACITY`].
//! - `0 <= tail - head <= capacity` (wrapping subtraction). Slots
//!   `[head, tail)` hold initialised values owned by the ring; all others
//!   are uninitialised.
//! - Only the producer writes slots `[tail, head + capacity)` and only the
//!   consumer reads slots `[head, tail)`. The producer's `Release` store of
//!   `tail` after writing a slot pairs with the consumer's `Acquire` load of
//!   `tail` before reading it; the consumer's `Release` store of `head` after
//!   moving a value out pairs with the producer's `Acquire` load of `head`
//!   before reusing the slot.
//! - Every value pushed is dropped exactly once: by whoever pops it, or by
//!   the ring's destructor when both halves are gone. A panic inside
//!   [`Producer::push_batch`]'s iterator or [`Consumer::pop_batch`]'s
//!   callback still commits the items already moved.
//!
//! # Complexity
//!
//! `push`/`pop` are O(1), wait-free and allocation-free; `push_batch` and
//! `pop_batch` are O(n) for n items with a single index publication. Memory
//! is `capacity * size_of::<T>()` for the slots plus a 512-byte control
//! block on x86-64 (the `Arc` counts, `head`, `tail`, and the read-only
//! fields, each in its own 128-byte block), allocated in [`ring`] and never
//! again.
//!
//! # Limits
//!
//! Exactly one producer thread and one consumer thread (enforced by
//! `&mut self` on the halves, which are `Send` but whose operations need
//! exclusive access). No blocking or wake-up mechanism: a waiting side
//! polls, using a [`Waiter`] (see [`wait`] for which strategy suits which
//! machine), or [`Producer::push_blocking`] / [`Consumer::pop_blocking`].
//! Capacity is rounded up to a power of two. If a value's destructor panics
//! while the ring itself is being dropped, the values after it leak.
//!
//! The halves are `Send` only for `T: Send`:
//!
//! ```compile_fail
//! fn assert_send<S: Send>() {}
//! assert_send::<optix_ring::Producer<std::rc::Rc<u8>>>();
//! ```
//!
//! # Verification
//!
//! Unit tests beside the code; `tests/loom.rs` model-checks publication,
//! wrap-around, batches and drop-exactly-once under `--cfg loom` (this crate
//! swaps its atomics, cell and `Arc` for loom's there, see `sync.rs`);
//! `tests/stress.rs` moves sequenced items between two threads.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(missing_docs)]

pub mod prefetch;
mod ring;
mod sync;
pub mod wait;

pub use prefetch::{prefetch, prefetch_lines};
pub use ring::{ring, try_ring, CapacityError, Consumer, Producer, MAX_CAPACITY};
pub use wait::{WaitStrategy, Waiter};
