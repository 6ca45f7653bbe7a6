//! Two-thread stress tests: sequenced `u64` items from a producer thread to
//! a consumer thread, checking that nothing is lost, duplicated or
//! reordered.
//!
//! The small runs are part of the normal suite; the 100,000,000-item runs
//! are `#[ignore]`d:
//!
//! ```text
//! cargo test -p optix-ring --release --test stress -- --ignored
//! ```
//!
//! Both sides use the default (spin, yield, park) wait strategy, so the test
//! also finishes on a 2-core machine shared with other work.
#![cfg(not(loom))]

use std::thread;

use optix_ring::{ring, Waiter};

/// Unbatched: `push_blocking` / `pop_blocking`, one item at a time.
fn unbatched(items: u64, capacity: usize) {
    let (mut tx, mut rx) = ring::<u64>(capacity);
    let producer = thread::spawn(move || {
        let mut w = Waiter::default();
        for i in 0..items {
            tx.push_blocking(i, &mut w).expect("consumer alive");
        }
        // `tx` dropped: the consumer stops after the last item.
    });
    let mut w = Waiter::default();
    let mut expected = 0u64;
    while let Some(v) = rx.pop_blocking(&mut w) {
        assert_eq!(v, expected, "lost, duplicated or reordered");
        expected += 1;
    }
    producer.join().expect("producer panicked");
    assert_eq!(expected, items, "items lost");
}

/// A small xorshift generator for batch sizes (deterministic per seed).
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Batched: `push_batch` of 1..=`max_batch` items, `pop_batch` of up to
/// 1..=`max_batch + 37` items, sizes varying pseudo-randomly.
fn batched(items: u64, capacity: usize, max_batch: u64) {
    let (mut tx, mut rx) = ring::<u64>(capacity);
    let producer = thread::spawn(move || {
        let mut w = Waiter::default();
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut next = 0;
        while next < items {
            let end = items.min(next + 1 + rng.below(max_batch));
            let mut chunk = next..end;
            next = end;
            // Finish this chunk before choosing the next size.
            while chunk.start < chunk.end {
                if tx.push_batch(&mut chunk) == 0 {
                    assert!(!tx.is_abandoned(), "consumer gone");
                    w.wait();
                } else {
                    w.reset();
                }
            }
        }
    });
    let mut w = Waiter::default();
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut expected = 0u64;
    loop {
        let max = 1 + rng.below(max_batch + 37) as usize;
        let n = rx.pop_batch(max, |v| {
            assert_eq!(v, expected, "lost, duplicated or reordered");
            expected += 1;
        });
        if n > 0 {
            w.reset();
        } else if rx.is_abandoned() && rx.is_empty() {
            break;
        } else {
            w.wait();
        }
    }
    producer.join().expect("producer panicked");
    assert_eq!(expected, items, "items lost");
}

const SMALL: u64 = if cfg!(miri) { 2_000 } else { 1_000_000 };
const LARGE: u64 = 100_000_000;

#[test]
fn one_million_unbatched() {
    unbatched(SMALL, 1024);
}

#[test]
fn one_million_unbatched_tiny_ring() {
    // Capacity 2: the ring is full or empty almost always, every slot is
    // reused constantly.
    unbatched(SMALL / 10, 2);
}

#[test]
fn one_million_batched() {
    batched(SMALL, 1024, 256);
}

#[test]
fn one_million_batched_batches_larger_than_the_ring() {
    batched(SMALL / 10, 16, 64);
}

#[test]
#[ignore = "long: 100M items; run with --release -- --ignored"]
fn hundred_million_unbatched() {
    unbatched(LARGE, 4096);
}

#[test]
#[ignore = "long: 100M items; run with --release -- --ignored"]
fn hundred_million_batched() {
    batched(LARGE, 4096, 256);
}
