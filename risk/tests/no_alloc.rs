//! The checks allocate nothing: a counting global allocator watches many
//! checks (accepts, rejects of every reason, throttling) after set-up.
#![allow(unsafe_code, reason = "a global allocator implements the unsafe GlobalAlloc trait")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use optix_engine::{AccountId, CheckKind, Money, Nanos, Price, Qty, Side, SymbolId};
use optix_risk::{OrderCheck, PreTradeCheck, RiskConfig, RiskLimits, StandardRisk};

thread_local! {
    /// Allocations made by this thread (the test harness's other threads do
    /// not disturb it). `const` and without `Drop`, so reading it never allocates.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: during thread teardown the slot may be gone; skip counting then.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

/// Forwards to the system allocator and counts per thread.
struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counter only observes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract for `layout`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, hence from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract for `ptr` and `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn checks_allocate_nothing() {
    let before_setup = allocs();
    let _probe = std::hint::black_box(vec![0u8; 16]);
    assert!(allocs() > before_setup, "the counting allocator is installed");

    let mut risk = StandardRisk::new();
    let limits = RiskLimits {
        max_qty: Some(50),
        max_notional: Some(Money::from_micros(40_000)),
        collar_bps: Some(500),
        max_open_orders: Some(8),
        max_long: Some(30),
        max_short: Some(30),
        buying_power: true,
        rate_per_sec: Some(1_000),
    };
    for a in 0..64 {
        risk.configure(&RiskConfig::Limits(AccountId(a), limits)).unwrap();
    }
    for s in (0..256).step_by(7) {
        risk.configure(&RiskConfig::Restrict(SymbolId(s), true)).unwrap();
    }

    let start = allocs();
    let (mut passed, mut rejected) = (0u64, 0u64);
    let mut now = 34_200_000_000_000u64;
    for i in 0..200_000u64 {
        now += i % 5 * 100_000;
        let mut o = OrderCheck::bare(
            AccountId((i % 80) as u32),
            SymbolId((i % 300) as u32),
            if i % 2 == 0 { Side::Buy } else { Side::Sell },
            Price::from_ticks(950 + (i % 101) as i64),
            Qty::from_lots(1 + (i % 60) as i64),
        );
        o.kind = [CheckKind::New, CheckKind::Replace, CheckKind::Triggered][(i % 3) as usize];
        o.ref_price = Price::from_ticks(1_000);
        o.notional = Money::from_micros((i % 50_000) as i64);
        o.open_orders = (i % 10) as u32;
        o.worst_long = (i % 40) as i64;
        o.worst_short = (i % 35) as i64;
        o.buying_power = Money::from_micros(10_000);
        o.bp_used = Money::from_micros((i % 12_000) as i64 - 1_000);
        let res = match o.kind {
            CheckKind::Replace => risk.check_replace(Nanos(now), &o),
            _ => risk.check_new(Nanos(now), &o),
        };
        if res.is_ok() {
            passed += 1;
        } else {
            rejected += 1;
        }
    }
    let hash = risk.state_hash();
    let during = allocs() - start;
    assert_eq!(during, 0, "{during} allocations in 200k checks and a state hash");
    assert!(passed > 1_000 && rejected > 1_000, "both outcomes exercised: {passed} passed, {rejected} rejected");
    std::hint::black_box(hash);
}
