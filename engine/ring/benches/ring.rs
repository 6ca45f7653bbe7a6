//! Criterion micro-benchmarks of the ring's operations on one thread (the
//! cost of the code path itself, without cache-line transfers), against
//! `rtrb` as a baseline measured in the same run. The two-thread latency
//! and throughput comparison is `optix bench ring`.
//!
//! ```text
//! cargo bench -p optix-ring --bench ring
//! ```

#[cfg(not(loom))]
mod benches {
    use criterion::{black_box, BenchmarkId, Criterion, Throughput};

    const BATCH: usize = 256;

    /// One push then one pop, repeatedly.
    pub fn push_pop(c: &mut Criterion) {
        let mut g = c.benchmark_group("push_pop");
        g.throughput(Throughput::Elements(1));
        g.bench_function("optix", |b| {
            let (mut tx, mut rx) = optix_ring::ring::<u64>(1024);
            let mut i = 0u64;
            b.iter(|| {
                i = i.wrapping_add(1);
                tx.push(black_box(i)).unwrap();
                black_box(rx.pop().unwrap())
            });
        });
        g.bench_function("rtrb", |b| {
            let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(1024);
            let mut i = 0u64;
            b.iter(|| {
                i = i.wrapping_add(1);
                tx.push(black_box(i)).unwrap();
                black_box(rx.pop().unwrap())
            });
        });
        g.finish();
    }

    /// A batch of `BATCH` items published, then consumed, with one index
    /// publication each.
    pub fn batch(c: &mut Criterion) {
        let mut g = c.benchmark_group("batch");
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_function(BenchmarkId::new("optix", BATCH), |b| {
            let (mut tx, mut rx) = optix_ring::ring::<u64>(1024);
            let mut next = 0u64;
            b.iter(|| {
                let end = next + BATCH as u64;
                assert_eq!(tx.push_batch(&mut (next..end)), BATCH);
                next = end;
                let mut sum = 0u64;
                assert_eq!(rx.pop_batch(BATCH, |v| sum = sum.wrapping_add(v)), BATCH);
                black_box(sum)
            });
        });
        g.bench_function(BenchmarkId::new("rtrb", BATCH), |b| {
            let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(1024);
            let mut next = 0u64;
            b.iter(|| {
                let end = next + BATCH as u64;
                let chunk = tx.write_chunk_uninit(BATCH).unwrap();
                assert_eq!(chunk.fill_from_iter(next..end), BATCH);
                next = end;
                let chunk = rx.read_chunk(BATCH).unwrap();
                let (a, b2) = chunk.as_slices();
                let sum = a.iter().chain(b2).fold(0u64, |s, &v| s.wrapping_add(v));
                chunk.commit_all();
                black_box(sum)
            });
        });
        g.finish();
    }
}

#[cfg(not(loom))]
criterion::criterion_group!(ring_benches, benches::push_pop, benches::batch);
#[cfg(not(loom))]
criterion::criterion_main!(ring_benches);

#[cfg(loom)]
fn main() {}
