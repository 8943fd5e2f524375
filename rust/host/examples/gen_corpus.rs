// SPDX-License-Identifier: GPL-2.0

//! Writes the seed corpus of the `parse_resolve` fuzz target: valid simple
//! and interleaved fmaps, large-fmap announcements, and near misses that
//! break one rule each.
//!
//! `cargo run --example gen_corpus [DIR]` (default
//! `tests/fuzz/parse_resolve/` at the top of the repository). Seeds are named `seed-*`;
//! files the fuzzer adds are left alone.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use std::path::PathBuf;

const TIB: u64 = 1 << 40;
const TOP: u64 = u64::MAX - ALIGN + 1; // 2^64 - 2 MiB

fn one() -> Desc {
    Desc::simple(ALIGN, vec![SExt::new(0, 0, ALIGN)])
}

fn three() -> Desc {
    Desc::simple(
        9 * MIB + 5,
        vec![
            SExt::new(2, 64 * MIB, 4 * MIB),
            SExt::new(7, 0, ALIGN),
            SExt::new(2, 16 * MIB, 4 * MIB),
        ],
    )
}

fn il(nbytes: u64, chunk: u64, lens: &[(u32, u64)]) -> IExt {
    let strips = lens
        .iter()
        .enumerate()
        .map(|(j, &(dev, len))| SExt::new(dev, (j as u64) * 32 * MIB, len))
        .collect();
    IExt::new(chunk, nbytes, strips)
}

fn three_strips() -> Desc {
    Desc::interleaved(
        18 * MIB,
        vec![il(
            18 * MIB,
            4 * MIB,
            &[(0, 8 * MIB), (1, 6 * MIB), (2, 4 * MIB)],
        )],
    )
}

fn two_il() -> Desc {
    Desc::interleaved(
        28 * MIB + 1,
        vec![
            il(
                18 * MIB,
                4 * MIB,
                &[(0, 8 * MIB), (1, 6 * MIB), (2, 4 * MIB)],
            ),
            il(10 * MIB + 1, 6 * MIB, &[(4, 6 * MIB), (5, 6 * MIB)]),
        ],
    )
}

fn seeds() -> Vec<(&'static str, Vec<u8>, bool)> {
    let mut v: Vec<(&'static str, Desc, bool)> = Vec::new();
    let mut ok = |name, d: Desc| v.push((name, d, true));

    // Valid, simple.
    ok("simple-one", one());
    ok("simple-three-unaligned-size", three());
    ok(
        "simple-24-devices",
        Desc::simple(
            48 * MIB,
            (0..24)
                .map(|i| SExt::new(23 - i, i as u64 * 4 * MIB, ALIGN))
                .collect(),
        ),
    );
    ok(
        "simple-dev23-high-offset",
        Desc::simple(ALIGN, vec![SExt::new(23, TOP - ALIGN, ALIGN)]),
    );
    ok(
        "simple-empty-file",
        Desc::simple(0, vec![SExt::new(1, 0, ALIGN)]),
    );
    ok(
        "simple-past-file-size",
        Desc::simple(1, vec![SExt::new(0, 0, ALIGN), SExt::new(1, 0, 1 << 62)]),
    );
    ok(
        "simple-64g-granule",
        Desc::simple(
            128 << 30,
            vec![SExt::new(3, 0, 64 << 30), SExt::new(4, 0, 64 << 30)],
        ),
    );
    ok(
        "simple-saturated-run",
        Desc::simple(
            (200 << 30) + ALIGN,
            vec![SExt::new(5, 0, 200 << 30), SExt::new(6, 0, ALIGN)],
        ),
    );
    let mut sb = three();
    sb.file_type = 1;
    ok("simple-superblock", sb);
    let mut log = one();
    log.file_type = 2;
    ok("simple-log", log);
    ok(
        "simple-index-max",
        Desc::simple(
            8 * TIB,
            vec![SExt::new(0, 0, ALIGN), SExt::new(1, 0, 8 * TIB - ALIGN)],
        ),
    );

    // Valid, interleaved.
    ok(
        "il-two-strips",
        Desc::interleaved(
            8 * MIB,
            vec![il(8 * MIB, ALIGN, &[(0, 4 * MIB), (1, 4 * MIB)])],
        ),
    );
    ok("il-partial-chunk", three_strips());
    ok("il-two-extents", two_il());
    ok(
        "il-6m-chunk",
        Desc::interleaved(
            14 * MIB,
            vec![il(14 * MIB, 6 * MIB, &[(0, 8 * MIB), (1, 6 * MIB)])],
        ),
    );
    ok(
        "il-32-strips",
        Desc::interleaved(
            64 * MIB,
            vec![il(
                64 * MIB,
                ALIGN,
                &(0..32).map(|j| (j % 24, ALIGN)).collect::<Vec<_>>(),
            )],
        ),
    );
    ok(
        "il-unaligned-last",
        Desc::interleaved(3 * MIB + 7, vec![il(3 * MIB + 7, 4 * MIB, &[(9, 4 * MIB)])]),
    );
    ok(
        "il-four-extents",
        Desc::interleaved(
            30 * MIB,
            vec![
                il(8 * MIB, ALIGN, &[(0, 4 * MIB), (1, 4 * MIB)]),
                il(4 * MIB, 4 * MIB, &[(2, 4 * MIB)]),
                il(
                    12 * MIB,
                    2 * ALIGN,
                    &[(3, 4 * MIB), (4, 4 * MIB), (5, 4 * MIB)],
                ),
                il(6 * MIB, 6 * MIB, &[(6, 6 * MIB), (7, ALIGN)]),
            ],
        ),
    );
    ok(
        "il-near-2-64",
        Desc::interleaved(
            TOP - 1,
            vec![IExt::new(ALIGN, TOP, vec![SExt::new(0, 0, TOP)])],
        ),
    );
    ok(
        "il-second-extent-unused",
        Desc::interleaved(
            4 * MIB,
            vec![
                il(4 * MIB, ALIGN, &[(0, ALIGN), (1, ALIGN)]),
                il(4 * MIB, ALIGN, &[(2, 4 * MIB)]),
            ],
        ),
    );

    // Invalid: one rule broken each.
    let mut bad = |name, d: Desc| v.push((name, d, false));
    let set = |f: &dyn Fn(&mut Desc)| {
        let mut d = three();
        f(&mut d);
        d
    };
    let set_il = |f: &dyn Fn(&mut Vec<IExt>)| {
        let mut d = two_il();
        if let Body::Interleaved(v) = &mut d.body {
            f(v);
        }
        d
    };
    let set_s = |f: &dyn Fn(&mut Vec<SExt>)| {
        let mut d = three();
        if let Body::Simple(v) = &mut d.body {
            f(v);
        }
        d
    };
    bad("bad-version", set(&|d| d.version = 2));
    bad("bad-file-type", set(&|d| d.file_type = 3));
    bad("bad-ext-type", set(&|d| d.ext_type = 2));
    bad("bad-header-reserved", set(&|d| d.reserved = 1));
    bad("bad-reserved1", set(&|d| d.reserved1 = 1));
    bad("bad-reserved0", set(&|d| d.reserved0 = 8192));
    bad("bad-nextents-0", set(&|d| d.nextents = 0));
    bad("bad-nextents-more", set(&|d| d.nextents = 4));
    bad("bad-coverage", set(&|d| d.file_size = 10 * MIB + 1));
    bad("bad-file-size-2-64", set(&|d| d.file_size = u64::MAX));
    bad("bad-ext-reserved", set_s(&|v| v[1].reserved = 1));
    bad("bad-devindex-24", set_s(&|v| v[2].devindex = 24));
    bad("bad-offset-unaligned", set_s(&|v| v[0].offset += 4096));
    bad("bad-len-unaligned", set_s(&|v| v[0].len += 4096));
    bad("bad-len-zero", set_s(&|v| v[1].len = 0));
    bad("bad-offset-len-overflow", set_s(&|v| v[1].offset = TOP));
    bad(
        "bad-sum-overflow",
        set_s(&|v| {
            v[0].len = 1 << 63;
            v[2].len = 1 << 63;
        }),
    );
    bad("bad-il-reserved", set_il(&|v| v[1].reserved = 1));
    bad(
        "bad-il-strip-reserved",
        set_il(&|v| v[0].strips[1].reserved = 1),
    );
    bad("bad-nstrips-0", set_il(&|v| v[1].nstrips = 0));
    bad("bad-nstrips-33", set_il(&|v| v[1].nstrips = 33));
    bad("bad-chunk-0", set_il(&|v| v[0].chunk_size = 0));
    bad("bad-chunk-unaligned", set_il(&|v| v[0].chunk_size += 4096));
    bad("bad-nbytes-0", set_il(&|v| v[1].nbytes = 0));
    bad("bad-nbytes-unaligned", set_il(&|v| v[0].nbytes += 4096));
    bad("bad-strip-short", set_il(&|v| v[0].strips[1].len -= ALIGN));
    bad(
        "bad-index-e2big",
        Desc::simple(
            8 * TIB + 1,
            vec![SExt::new(0, 0, ALIGN), SExt::new(1, 0, 8 * TIB)],
        ),
    );

    let mut out: Vec<(&'static str, Vec<u8>, bool)> = v
        .into_iter()
        .map(|(n, d, ok)| (n, d.to_bytes(), ok))
        .collect();

    // Framing and large-fmap announcements.
    let b = three().to_bytes();
    out.push(("bad-truncated", b[..b.len() - 1].to_vec(), false));
    let mut t = b.clone();
    t.push(0);
    out.push(("bad-trailing", t, false));
    out.push(("bad-short-header", b[..HDR - 1].to_vec(), false));
    out.push(("bad-header-only", three().header_bytes(), false));
    for (name, size) in [
        ("announce-8k", 8192u32),
        ("announce-too-small", FIRST as u32),
        ("announce-too-big", MAX_BYTES as u32 + 1),
    ] {
        let mut d = three();
        d.reserved0 = size;
        out.push((name, d.header_bytes(), false));
    }
    out
}

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz/parse_resolve")
        });
    std::fs::create_dir_all(&dir).expect("create corpus directory");
    let seeds = seeds();
    for (name, bytes, valid) in &seeds {
        // Each seed is what its name says, per the naive spec checker.
        let verdict = spec_check(bytes);
        assert_eq!(
            verdict.violations.is_empty(),
            *valid,
            "seed {name}: {:?}",
            verdict.violations
        );
        common::check::check_input(bytes);
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
    }
    println!("{} seeds written to {}", seeds.len(), dir.display());
}
