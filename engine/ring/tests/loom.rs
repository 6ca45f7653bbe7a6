//! Loom model checks of the ring: every interleaving (up to the preemption
//! bound) of a producer and a consumer thread.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p optix-ring --release --test loom
//! ```
//!
//! Under `cfg(loom)` the ring's atomics, cell and `Arc` are loom's, so loom
//! reports a data race on a slot, a read of a stale slot, a leaked `Arc` or a
//! deadlock. The waiting loops use `Waiter`, which yields to loom there.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use loom::thread;
use optix_ring::{ring, WaitStrategy, Waiter};

fn waiter() -> Waiter {
    Waiter::new(WaitStrategy::BusySpin)
}

/// Four items through a capacity-2 ring: publication, the full ring
/// handing values back, and two laps of wrap-around (each slot reused).
#[test]
fn publish_consume_and_wrap_around() {
    loom::model(|| {
        let (mut tx, mut rx) = ring::<u32>(2);
        let producer = thread::spawn(move || {
            let mut w = waiter();
            for i in 0..4 {
                let mut value = i;
                loop {
                    match tx.push(value) {
                        Ok(()) => break,
                        Err(back) => {
                            assert_eq!(back, i, "a full ring hands the value back");
                            value = back;
                            w.wait();
                        }
                    }
                }
            }
        });
        let mut w = waiter();
        for expected in 0..4 {
            let got = loop {
                match rx.pop() {
                    Some(v) => break v,
                    None => w.wait(),
                }
            };
            assert_eq!(got, expected);
        }
        producer.join().unwrap();
        assert_eq!(rx.pop(), None);
    });
}

/// Batches: the producer publishes 4 items in batches into a capacity-2
/// ring (two laps), the consumer takes them in batches of up to 2.
#[test]
fn batches_publish_and_consume_across_the_wrap() {
    loom::model(|| {
        let (mut tx, mut rx) = ring::<u32>(2);
        let producer = thread::spawn(move || {
            let mut w = waiter();
            let mut items = 0..4;
            while items.start < items.end {
                if tx.push_batch(&mut items) == 0 {
                    w.wait();
                }
            }
        });
        let mut w = waiter();
        let mut expected = 0;
        while expected < 4 {
            let n = rx.pop_batch(2, |v| {
                assert_eq!(v, expected);
                expected += 1;
            });
            if n == 0 {
                w.wait();
            }
        }
        producer.join().unwrap();
        assert_eq!(rx.pop(), None);
    });
}

/// The blocking helpers: the consumer drains until the producer is gone and
/// must see every item, including those pushed just before the drop.
#[test]
fn pop_blocking_sees_everything_before_abandonment() {
    loom::model(|| {
        let (mut tx, mut rx) = ring::<u32>(2);
        let producer = thread::spawn(move || {
            let mut w = waiter();
            for i in 0..2 {
                tx.push_blocking(i, &mut w).unwrap();
            }
            // `tx` dropped here: the consumer's loop must end.
        });
        let mut w = waiter();
        let mut got = Vec::new();
        while let Some(v) = rx.pop_blocking(&mut w) {
            got.push(v);
        }
        assert_eq!(got, [0, 1]);
        producer.join().unwrap();
    });
}

/// Counts its drops.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Each value is dropped exactly once whichever half goes last and however
/// many were consumed: three values pushed into a capacity-2 ring (one of
/// them after a wrap), the consumer takes one and drops its half while the
/// producer may still be pushing.
#[test]
fn every_value_dropped_exactly_once() {
    loom::model(|| {
        // A plain std counter: only read after both threads joined.
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = ring::<Counted>(2);
        let d = Arc::clone(&drops);
        let producer = thread::spawn(move || {
            let mut pushed = 0;
            for _ in 0..3 {
                // Try once each: a full ring hands the value back and we drop it.
                if tx.push(Counted(Arc::clone(&d))).is_ok() {
                    pushed += 1;
                }
            }
            pushed
            // `tx` dropped here, possibly before or after the consumer's half.
        });
        let consumer = thread::spawn(move || {
            let taken = rx.pop().is_some();
            usize::from(taken)
            // `rx` dropped here.
        });
        let pushed = producer.join().unwrap();
        let taken = consumer.join().unwrap();
        assert!(taken <= pushed && pushed >= 2, "pushed {pushed}, taken {taken}");
        // All three values created were dropped exactly once: rejected ones
        // by the producer, the taken one by the consumer, the rest by the
        // ring's destructor.
        assert_eq!(drops.load(Ordering::Relaxed), 3);
    });
}

/// Items left in the ring are dropped by whichever half is dropped last,
/// on either thread, and none twice.
#[test]
fn leftovers_dropped_by_the_last_half() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, rx) = ring::<Counted>(2);
        tx.push(Counted(Arc::clone(&drops))).unwrap();
        tx.push(Counted(Arc::clone(&drops))).unwrap();
        let consumer = thread::spawn(move || drop(rx));
        drop(tx);
        consumer.join().unwrap();
        assert_eq!(drops.load(Ordering::Relaxed), 2);
    });
}

/// Drop-exactly-once through the batch paths: a batch of three into a
/// capacity-2 ring (the one that does not fit stays in the iterator and is
/// dropped with it), a concurrent batch consume of up to one, then both
/// halves dropped on different threads.
#[test]
fn batch_paths_drop_every_value_exactly_once() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = ring::<Counted>(2);
        let d = Arc::clone(&drops);
        let producer = thread::spawn(move || {
            let values: Vec<Counted> = (0..3).map(|_| Counted(Arc::clone(&d))).collect();
            let mut items = values.into_iter();
            let pushed = tx.push_batch(&mut items);
            drop(items);
            pushed
        });
        let taken = rx.pop_batch(1, drop);
        drop(rx);
        let pushed = producer.join().unwrap();
        assert_eq!(pushed, 2, "a fresh capacity-2 ring takes two");
        assert!(taken <= 1);
        assert_eq!(drops.load(Ordering::Relaxed), 3);
    });
}
