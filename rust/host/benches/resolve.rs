// SPDX-License-Identifier: GPL-2.0

//! `Fmap::resolve` cost per lookup.
//!
//! Cases: 1 simple extent; 1,000,000 simple extents of 2 MiB; one
//! interleaved extent of 2, 8 and 32 strips. Each with sequential offsets
//! (4 KiB steps through the file, wrapping) and random offsets (drawn
//! beforehand with xorshift, so the RNG is not measured). Plus the memory
//! floor: one read from a plain `Vec<u64>` as large as the 1M-extent fmap's
//! index, at the same random positions.
//!
//! Every iteration does [`BATCH`] lookups and criterion reports elements per
//! second: time per lookup = 1 / throughput.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Desc, IExt, SExt, XorShift, ALIGN};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use famfs_fmap::Fmap;
use std::hint::black_box;
use std::time::Duration;

const BATCH: usize = 1024;
const NRAND: usize = 1 << 16;
const GIB: u64 = 1 << 30;

type F = Fmap<Vec<u64>>;

fn build(d: &Desc) -> F {
    Fmap::parse(&d.to_bytes(), |n| Ok(vec![0u64; n])).expect("bench fmap is valid")
}

fn random_offsets(limit: u64, seed: u64) -> Vec<u64> {
    let mut rng = XorShift::new(seed);
    (0..NRAND).map(|_| rng.below(limit)).collect()
}

/// Folds a resolve result into one word, so `black_box` keeps every field
/// alive without storing the whole `Result` (Mapping or Error) to memory.
#[inline(always)]
fn digest(r: famfs_fmap::Result<famfs_fmap::Mapping>) -> u64 {
    match r {
        Ok(m) => m.dev_offset ^ m.length.rotate_left(32) ^ u64::from(m.devindex),
        Err(e) => e.value,
    }
}

fn bench_fmap(c: &mut Criterion, name: &str, f: &F, rnd: &[u64]) {
    let fs = f.file_size();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut off = 0u64;
    g.bench_function("sequential", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(digest(f.resolve(black_box(off), 4096)));
                off += 4096;
                if off >= fs {
                    off = 0;
                }
            }
        })
    });
    let mut i = 0usize;
    g.bench_function("random", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(digest(f.resolve(black_box(rnd[i]), 4096)));
                i = (i + 1) & (NRAND - 1);
            }
        })
    });
    // Latency: each lookup's offset depends on the previous result (the
    // top bit of a device offset, always 0 here, unknown to the compiler),
    // so lookups cannot overlap: what a fault sees, one miss after another.
    let mut i = 0usize;
    let mut carry = 0u64;
    g.bench_function("random-chained", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                carry = match f.resolve(rnd[i] | (carry >> 63), 4096) {
                    Ok(m) => m.dev_offset,
                    Err(e) => e.value,
                };
                i = (i + 1) & (NRAND - 1);
            }
            black_box(carry)
        })
    });
    g.finish();
}

fn all(c: &mut Criterion) {
    // 1 simple extent of 64 GiB.
    let one = build(&Desc::simple(64 * GIB, vec![SExt::new(0, 0, 64 * GIB)]));
    bench_fmap(c, "simple-1", &one, &random_offsets(one.file_size(), 1));
    drop(one);

    // 1,000,000 simple extents of 2 MiB over 24 devices.
    let n = 1_000_000u64;
    let exts = (0..n)
        .map(|i| SExt::new((i % 24) as u32, (i / 24) * ALIGN, ALIGN))
        .collect();
    let big = build(&Desc::simple(n * ALIGN, exts));
    let rnd = random_offsets(big.file_size(), 2);
    bench_fmap(c, "simple-1M", &big, &rnd);

    // The floor: a plain table of the same size, same random positions.
    let words = big.index_bytes() / 8;
    drop(big);
    let table: Vec<u64> = (0..words as u64)
        .map(|w| w.wrapping_mul(0x9e37_79b9))
        .collect();
    let idx: Vec<usize> = rnd.iter().map(|&o| (o / ALIGN) as usize).collect();
    assert!(idx.iter().all(|&k| k < table.len()));
    let mut g = c.benchmark_group("floor-vec-read");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut i = 0usize;
    g.bench_function("random", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(table[black_box(idx[i])]);
                i = (i + 1) & (NRAND - 1);
            }
        })
    });
    // The same reads as a dependent chain: one memory latency each.
    let mut i = 0usize;
    let mut carry = 0u64;
    g.bench_function("random-chained", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                carry = table[idx[i] | (carry >> 63) as usize];
                i = (i + 1) & (NRAND - 1);
            }
            black_box(carry)
        })
    });
    g.finish();
    drop(table);

    // One interleaved extent of 64 GiB in 2 MiB chunks.
    for ns in [2u32, 8, 32] {
        let nbytes = 64 * GIB;
        let per = nbytes / ns as u64;
        let strips = (0..ns)
            .map(|j| SExt::new(j % 24, (j / 24) as u64 * per, per))
            .collect();
        let f = build(&Desc::interleaved(
            nbytes,
            vec![IExt::new(ALIGN, nbytes, strips)],
        ));
        bench_fmap(
            c,
            &format!("interleaved-{ns}"),
            &f,
            &random_offsets(nbytes, 3 + ns as u64),
        );
    }
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = all
}
criterion_main!(benches);
