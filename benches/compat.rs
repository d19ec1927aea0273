//! Criterion benches for the compat core functions on a generated random walk.
//! Run: `cargo bench --bench compat` (release build; numbers go to BENCHMARKS.md by hand).

#![allow(clippy::expect_used)] // a benchmark of known-good input

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ictcore::compat::{self, SwingsView};
use std::hint::black_box;

/// A deterministic 5-decimal random walk (xorshift, no dependency) of `n` candles.
fn walk(n: usize) -> [Vec<f64>; 5] {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let round5 = |x: f64| (x * 1e5).round() / 1e5;
    let (mut o, mut h, mut l, mut c, mut v) = (vec![], vec![], vec![], vec![], vec![]);
    let mut price = 1.1;
    for _ in 0..n {
        let open = round5(price);
        let close = round5(price * (1.0 + (next() - 0.5) * 0.002));
        let high = round5(open.max(close) + next() * 0.0005);
        let low = round5(open.min(close) - next() * 0.0005);
        o.push(open);
        h.push(high);
        l.push(low);
        c.push(close);
        v.push((next() * 1000.0).floor());
        price = close;
    }
    [o, h, l, c, v]
}

fn bench(c: &mut Criterion) {
    for n in [24_424usize, 200_000] {
        let [o, h, l, cl, v] = walk(n);
        let sw = compat::swing_highs_lows(&h, &l, 5).expect("valid input");
        let s = SwingsView {
            high_low: &sw.high_low,
            level: &sw.level,
        };
        let mut g = c.benchmark_group(format!("compat_{n}"));
        g.sample_size(20);
        g.bench_function(BenchmarkId::new("fvg", n), |b| {
            b.iter(|| compat::fvg(black_box(&o), &h, &l, &cl, false))
        });
        g.bench_function(BenchmarkId::new("swing_highs_lows", n), |b| {
            b.iter(|| compat::swing_highs_lows(black_box(&h), &l, 5))
        });
        g.bench_function(BenchmarkId::new("bos_choch", n), |b| {
            b.iter(|| compat::bos_choch(black_box(&o), &h, &l, &cl, s, true))
        });
        g.bench_function(BenchmarkId::new("ob", n), |b| {
            b.iter(|| {
                compat::ob(
                    black_box(&o),
                    &h,
                    &l,
                    &cl,
                    compat::ob::Volume {
                        values: &v,
                        dtype: compat::Dtype::Float64,
                    },
                    s,
                    false,
                )
            })
        });
        g.bench_function(BenchmarkId::new("liquidity", n), |b| {
            b.iter(|| {
                compat::liquidity(
                    black_box(&o),
                    &h,
                    &l,
                    &cl,
                    s,
                    0.01,
                    compat::InputDtypes::default(),
                )
            })
        });
        g.bench_function(BenchmarkId::new("retracements", n), |b| {
            b.iter(|| {
                compat::retracements(
                    black_box(&o),
                    &h,
                    &l,
                    &cl,
                    s,
                    compat::InputDtypes::default(),
                )
            })
        });
        let time: Vec<i64> = (0..n as i64)
            .map(|i| 1_600_000_000_000_000_000 + i * 900_000_000_000)
            .collect();
        g.bench_function(BenchmarkId::new("previous_high_low", n), |b| {
            b.iter(|| compat::previous_high_low(black_box(&time), &h, &l, "1D"))
        });
        g.bench_function(BenchmarkId::new("sessions", n), |b| {
            b.iter(|| compat::sessions(black_box(&time), &h, &l, 420, 960))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
