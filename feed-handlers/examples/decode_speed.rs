//! Quick decode-rate check of the ITCH codec alone (the full benchmark is
//! `optix bench itch`): `cargo run --release -p optix-feed --example
//! decode_speed [MESSAGES]`.

use std::hint::black_box;
use std::time::Instant;

use optix_feed::itch::gen::generate_vec;
use optix_feed::itch::*;

struct Sum(u64);

impl Handler for Sum {
    #[inline(always)]
    fn on<M: ItchMessage>(&mut self, _offset: u64, m: M) {
        self.0 = self.0.wrapping_add(m.field_sum());
    }
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let (buf, mix) = generate_vec(n, 42);
    let modes: Vec<String> = match std::env::args().nth(2) {
        Some(m) => vec![m],
        None => ["handler", "closure", "iterator"].map(String::from).to_vec(),
    };
    for mode in &modes {
        let mode = mode.as_str();
        let mut best = f64::INFINITY;
        for _ in 0..7 {
            let t = Instant::now();
            let mut sum = 0u64;
            let count = match mode {
                "handler" => {
                    let mut h = Sum(0);
                    let c = Frames::new(black_box(&buf)).dispatch(&mut h).unwrap();
                    sum = h.0;
                    c
                }
                "closure" => {
                    Frames::new(black_box(&buf)).for_each_message(|_, m| sum = sum.wrapping_add(m.field_sum())).unwrap()
                }
                _ => {
                    let mut c = 0;
                    for m in Frames::new(black_box(&buf)) {
                        sum = sum.wrapping_add(m.unwrap().field_sum());
                        c += 1;
                    }
                    c
                }
            };
            black_box(sum);
            assert_eq!(count, mix.total());
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{mode:9} {:.1} M msgs/s, {:.2} ns/msg",
            mix.total() as f64 / best / 1e6,
            best * 1e9 / mix.total() as f64
        );
    }
}
