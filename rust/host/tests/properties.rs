// SPDX-License-Identifier: GPL-2.0

//! Property tests: random valid fmaps resolve exactly like the naive model,
//! keep the resolve contract, and map distinct file bytes to distinct device
//! bytes; random and mutated byte strings never panic, and whatever parse
//! accepts or rejects agrees with the naive spec checker.

mod common;

use common::check::{check_contract, check_fmap_level, check_input, check_model, parse, F};
use common::*;
use famfs_fmap::Run;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::collections::HashSet;

/// `cases` cases; failures persist next to this file
/// (`tests/properties.regressions`), inside the crate.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// A device range to place: device, length in bytes, gap in 2 MiB blocks
/// before it, and a sort key that orders the ranges of one device.
type Piece = (u32, u64, u64, u32);

/// Places `pieces` on their devices without overlap: the pieces of a device
/// go in key order from the device's base, each after its gap. Returns the
/// device offset of every piece.
fn layout(pieces: &[Piece], bases: &[u64; 24]) -> Vec<u64> {
    let mut offsets = vec![0u64; pieces.len()];
    for dev in 0..24u32 {
        let mut mine: Vec<usize> = (0..pieces.len()).filter(|&i| pieces[i].0 == dev).collect();
        mine.sort_by_key(|&i| (pieces[i].3, i));
        let mut cursor = bases[dev as usize] * ALIGN;
        for i in mine {
            cursor += pieces[i].2 * ALIGN;
            offsets[i] = cursor;
            cursor += pieces[i].1;
        }
    }
    offsets
}

/// A file_size for extents of `total` bytes: all of it, anything below it,
/// a 2 MiB multiple, a few bytes short of the end, or tiny.
fn pick_file_size(total: u64, mode: u8, r: u64) -> u64 {
    match mode % 5 {
        0 => total,
        1 => r % (total + 1),
        2 => (r % (total / ALIGN + 1)) * ALIGN,
        3 => total - r % ALIGN.min(total + 1),
        _ => r % 8192u64.min(total + 1),
    }
}

fn bases() -> impl Strategy<Value = [u64; 24]> {
    // Device bases up to 2^30 blocks (2^51 bytes), often 0.
    prop::array::uniform24(prop_oneof![Just(0u64), 0u64..64, 0u64..(1 << 30)])
}

fn simple_from(
    exts: Vec<(u32, u64, u64, u32)>,
    bases: [u64; 24],
    mode: u8,
    r: u64,
    file_type: u8,
) -> Desc {
    let pieces: Vec<Piece> = exts
        .iter()
        .map(|&(dev, blocks, gap, key)| (dev, blocks * ALIGN, gap, key))
        .collect();
    let offsets = layout(&pieces, &bases);
    let exts: Vec<SExt> = pieces
        .iter()
        .zip(&offsets)
        .map(|(p, &o)| SExt::new(p.0, o, p.1))
        .collect();
    let total = exts.iter().map(|e| e.len).sum();
    let mut d = Desc::simple(pick_file_size(total, mode, r), exts);
    d.file_type = file_type;
    d
}

/// Valid simple fmaps: 1..40 extents of 1..8 x 2 MiB on random devices.
fn simple_desc() -> impl Strategy<Value = Desc> {
    (
        prop::collection::vec((0u32..24, 1u64..=8, 0u64..3, any::<u32>()), 1..40),
        bases(),
        any::<u8>(),
        any::<u64>(),
        0u8..3,
    )
        .prop_map(|(e, b, m, r, t)| simple_from(e, b, m, r, t))
}

/// Valid simple fmaps with a few large extents: lengths around the 16-bit
/// run field (65535 blocks) and powers of two, so granules grow past 2 MiB
/// and runs saturate.
fn wide_simple_desc() -> impl Strategy<Value = Desc> {
    let blocks = prop_oneof![
        1u64..=8,
        Just(65535u64),
        Just(65536u64),
        65530u64..65600,
        (1u64 << 17)..(1 << 19),
        (0u32..22).prop_map(|k| 1u64 << k),
    ];
    (
        prop::collection::vec((0u32..24, blocks, 0u64..3, any::<u32>()), 1..6),
        bases(),
        any::<u8>(),
        any::<u64>(),
        0u8..3,
    )
        .prop_map(|(e, b, m, r, t)| simple_from(e, b, m, r, t))
        // Small granules over terabytes would exceed the index limit.
        .prop_filter("index within FAMFS_FMAP_MAX_INDEX", |d| {
            index_entries(d) <= INDEX_MAX as u128
        })
}

/// One interleaved extent's parameters: nstrips, chunk (blocks), nbytes
/// (blocks), and per strip (device, extra blocks, gap, key).
type IParams = (u32, u64, u64, Vec<(u32, u64, u64, u32)>);

fn iparams(max_blocks: u64) -> impl Strategy<Value = IParams> {
    (
        prop_oneof![1u32..=8, 9u32..=32],
        // Small chunks, and chunks up to the largest a u32 holds (2047 x
        // 2 MiB): the fault path divides by both through reciprocals.
        prop_oneof![3 => 1u64..=4, 1 => 5u64..=2047],
        1u64..=max_blocks,
        prop::collection::vec(
            (
                0u32..24,
                prop_oneof![Just(0u64), 0u64..3],
                0u64..3,
                any::<u32>(),
            ),
            32,
        ),
    )
}

fn interleaved_from(
    params: Vec<IParams>,
    tail: u64,
    bases: [u64; 24],
    mode: u8,
    r: u64,
    file_type: u8,
) -> Desc {
    let n = params.len();
    let mut shapes = Vec::new(); // (chunk, nbytes, needs)
    let mut pieces: Vec<Piece> = Vec::new();
    for (i, (nstrips, chunk, blocks, strips)) in params.iter().enumerate() {
        let chunk = chunk * ALIGN;
        let mut nbytes = blocks * ALIGN;
        if i + 1 == n {
            nbytes -= tail; // only the last extent may end off 2 MiB
        }
        let need = strip_need_naive(nbytes, chunk, *nstrips);
        for (j, &(dev, extra, gap, key)) in strips.iter().take(*nstrips as usize).enumerate() {
            // Exactly long enough (at least 2 MiB), or a little longer.
            let len = need[j].max(ALIGN) + extra * ALIGN;
            pieces.push((dev, len, gap, key));
        }
        shapes.push((chunk, nbytes, *nstrips as usize));
    }
    let offsets = layout(&pieces, &bases);
    let mut k = 0;
    let mut exts = Vec::new();
    for (chunk, nbytes, ns) in shapes {
        let strips = (k..k + ns)
            .map(|p| SExt::new(pieces[p].0, offsets[p], pieces[p].1))
            .collect();
        k += ns;
        exts.push(IExt::new(chunk, nbytes, strips));
    }
    let total = exts.iter().map(|e| e.nbytes).sum();
    let mut d = Desc::interleaved(pick_file_size(total, mode, r), exts);
    d.file_type = file_type;
    d
}

/// Valid interleaved fmaps: 1..=4 extents of 1..=32 strips, chunks of
/// 1..=2047 x 2 MiB (mostly 1..=4), strips exactly long enough or longer, the last extent
/// ending anywhere.
fn interleaved_desc() -> impl Strategy<Value = Desc> {
    (
        prop::collection::vec(iparams(24), 1..=4),
        prop_oneof![Just(0u64), 1u64..ALIGN],
        bases(),
        any::<u8>(),
        any::<u64>(),
        0u8..3,
    )
        .prop_map(|(p, t, b, m, r, ft)| interleaved_from(p, t, b, m, r, ft))
}

fn any_valid_desc() -> impl Strategy<Value = Desc> {
    prop_oneof![simple_desc(), interleaved_desc(), wide_simple_desc()]
}

// ---------------------------------------------------------------------------
// The checks on a valid fmap
// ---------------------------------------------------------------------------

const LENS: [u64; 8] = [
    1,
    4095,
    4096,
    ALIGN - 1,
    ALIGN,
    3 * ALIGN + 1,
    1 << 40,
    u64::MAX,
];

/// Offsets to check when a file has too many 2 MiB blocks to check all:
/// both sides of every extent and strip boundary and of every 65535-block
/// run from an extent start, and random ones.
fn sample_offsets(d: &Desc, rng: &mut XorShift) -> Vec<u64> {
    let fs = d.file_size;
    let mut v = Vec::new();
    let mut pos = 0u64;
    let lens: Vec<u64> = match &d.body {
        Body::Simple(e) => e.iter().map(|e| e.len).collect(),
        Body::Interleaved(e) => e.iter().map(|e| e.nbytes).collect(),
    };
    for l in lens {
        for o in [
            pos,
            pos + 1,
            pos + ALIGN,
            pos + l - 1,
            (pos + l).saturating_sub(ALIGN),
        ] {
            v.push(o);
        }
        let mut run = pos + 65535 * ALIGN;
        while run < pos + l && run < fs {
            v.extend([run - 1, run, run + ALIGN]);
            run += 65535 * ALIGN;
        }
        let mut g = (pos / GRANULE_MAX + 1) * GRANULE_MAX;
        while g < pos + l && g < fs {
            v.extend([g - 1, g]);
            g += GRANULE_MAX;
        }
        pos += l;
    }
    for _ in 0..256 {
        v.push(rng.below(fs.max(1)));
        v.push(rng.below(fs.div_ceil(ALIGN).max(1)) * ALIGN);
    }
    v.retain(|&o| o < fs);
    v
}

fn check_valid(d: &Desc, seed: u64) {
    let f = parse(&d.to_bytes()).unwrap_or_else(|e| panic!("valid fmap rejected: {e}\n{d:?}"));
    check_fmap_level(&f, d);
    let fs = d.file_size;
    let mut rng = XorShift::new(seed);
    let blocks = fs.div_ceil(ALIGN);
    // (a)-(c): every 2 MiB block (or a sample of a large file), whole and
    // with assorted lengths, and random unaligned offsets.
    let offs: Vec<u64> = if blocks <= 4096 {
        (0..blocks).map(|b| b * ALIGN).collect()
    } else {
        sample_offsets(d, &mut rng)
    };
    for o in offs {
        check_model(&f, d, o, u64::MAX);
        check_model(&f, d, o, LENS[rng.below(8) as usize]);
    }
    for _ in 0..64.min(fs) {
        let o = rng.below(fs);
        check_model(&f, d, o, LENS[rng.below(8) as usize]);
        check_model(&f, d, o, 1 + rng.below(8 * ALIGN));
    }
    // (d) Injectivity over the whole file: walk it mapping by mapping (each
    // mapping is contiguous on its device), then no two mappings overlap on
    // a device.
    let mut ivs: Vec<(u32, u64, u64)> = Vec::new();
    let mut o = 0u64;
    while o < fs {
        let m = check_model(&f, d, o, u64::MAX);
        ivs.push((m.devindex, m.dev_offset, m.length));
        o += m.length;
    }
    ivs.sort_unstable();
    for w in ivs.windows(2) {
        let ((d0, s0, l0), (d1, s1, _)) = (w[0], w[1]);
        assert!(
            d0 != d1 || s0 as u128 + l0 as u128 <= s1 as u128,
            "two file ranges map to overlapping device bytes: {:?} and {:?}",
            w[0],
            w[1]
        );
    }
    // ... and directly, at 4 KiB granularity, for small files.
    if fs <= 32 * MIB {
        let mut seen = HashSet::new();
        for o in (0..fs).step_by(4096) {
            let m = check_contract(&f, o, 4096);
            assert!(
                seen.insert((m.devindex, m.dev_offset)),
                "offset {o:#x} maps to {m:?}, already used"
            );
        }
    }
}

/// The runs of a valid fmap are its reverse map: disjoint, covering
/// exactly the device bytes the file resolves to (up to its 2 MiB-rounded
/// end), each byte naming the file offset that resolves to it.
fn check_runs(f: &F, d: &Desc, seed: u64) {
    let mut runs: Vec<Run> = Vec::new();
    f.for_each_run(
        |r| {
            runs.push(r);
            Ok(())
        },
        (),
    )
    .expect("runs of a valid fmap");
    let fs = d.file_size;
    let limit = fs.div_ceil(ALIGN) * ALIGN;
    assert!(runs.iter().all(|r| r.len > 0), "empty run: {runs:?}");
    let total: u128 = runs.iter().map(|r| r.len as u128).sum();
    assert_eq!(total, limit as u128, "runs do not cover the file: {runs:?}");
    let mut sorted = runs.clone();
    sorted.sort_unstable_by_key(|r| (r.devindex, r.dev_offset));
    for w in sorted.windows(2) {
        assert!(
            w[0].devindex != w[1].devindex
                || w[0].dev_offset as u128 + w[0].len as u128 <= w[1].dev_offset as u128,
            "overlapping runs {:?} {:?}",
            w[0],
            w[1]
        );
    }
    let find = |dev: u32, at: u64| {
        sorted
            .iter()
            .find(|r| r.devindex == dev && r.dev_offset <= at && at - r.dev_offset < r.len)
            .copied()
    };
    let mut rng = XorShift::new(seed);
    // Forward: every sampled file offset's device byte is in a run, which
    // names that offset back.
    let mut offs: Vec<u64> = (0..64).map(|_| rng.below(fs.max(1))).collect();
    offs.extend((0..fs.div_ceil(ALIGN).min(512)).map(|b| b * ALIGN));
    offs.retain(|&o| o < fs);
    for o in offs {
        let m = check_contract(f, o, 1);
        let r = find(m.devindex, m.dev_offset)
            .unwrap_or_else(|| panic!("offset {o:#x} -> {m:?} is in no run: {runs:?}"));
        assert_eq!(
            r.back.file_offset_of(m.dev_offset - r.dev_offset),
            o,
            "{r:?}"
        );
    }
    // Backward: random run bytes resolve to themselves, and a run range's
    // file pieces are contiguous and name every byte in order.
    for r in &runs {
        for _ in 0..8 {
            let x = rng.below(r.len);
            let o = r.back.file_offset_of(x);
            assert!(o < limit, "{r:?} byte {x:#x} -> {o:#x} past the end");
            if o < fs {
                let m = check_contract(f, o, 1);
                assert_eq!((m.devindex, m.dev_offset), (r.devindex, r.dev_offset + x));
            }
            let a = rng.below(r.len);
            let b = (a + 1 + rng.below(4 * ALIGN)).min(r.len);
            let mut at = a;
            for (fo, n) in r.back.file_ranges(a, b) {
                assert!(n > 0);
                assert_eq!(fo, r.back.file_offset_of(at));
                assert_eq!(fo + n - 1, r.back.file_offset_of(at + n - 1));
                at += n;
            }
            assert_eq!(at, b);
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn runs_are_the_reverse_map(d in any_valid_desc(), seed in any::<u64>()) {
        let f = parse(&d.to_bytes()).unwrap_or_else(|e| panic!("valid fmap rejected: {e}\n{d:?}"));
        check_runs(&f, &d, seed);
    }

    #[test]
    fn simple_fmaps_match_model(d in simple_desc(), seed in any::<u64>()) {
        check_valid(&d, seed);
    }

    #[test]
    fn wide_simple_fmaps_match_model(d in wide_simple_desc(), seed in any::<u64>()) {
        check_valid(&d, seed);
    }

    #[test]
    fn interleaved_fmaps_match_model(d in interleaved_desc(), seed in any::<u64>()) {
        check_valid(&d, seed);
    }

    /// The generators only make fmaps the naive spec checker finds valid,
    /// and it decodes them back as built.
    #[test]
    fn generated_fmaps_are_valid(d in any_valid_desc()) {
        let v = spec_check(&d.to_bytes());
        prop_assert!(v.violations.is_empty(), "{:?}", v.violations);
        prop_assert_eq!(v.desc.as_ref(), Some(&d));
    }

    /// The model's closed-form strip need agrees with dealing chunks out.
    #[test]
    fn strip_need_closed_form(nbytes in 1u64..(200 * ALIGN), chunk in 1u64..=6, ns in 1u32..=32) {
        let naive = strip_need_naive(nbytes, chunk * ALIGN, ns);
        for j in 0..ns {
            prop_assert_eq!(
                strip_need(nbytes, chunk * ALIGN, ns, j),
                Some(naive[j as usize] as u128)
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Random bytes and mutations
// ---------------------------------------------------------------------------

const INTERESTING: [u64; 20] = [
    0,
    1,
    2,
    23,
    24,
    32,
    33,
    4096,
    ALIGN - 1,
    ALIGN,
    ALIGN + 1,
    3 * ALIGN,
    1 << 21,
    (1 << 21) + 1,
    u32::MAX as u64,
    1 << 32,
    1 << 63,
    u64::MAX - ALIGN + 1,
    u64::MAX - 1,
    u64::MAX,
];

/// One mutation: (kind, position, value).
type Mutation = (u8, usize, u64);

fn mutate(bytes: &mut Vec<u8>, (kind, pos, val): Mutation) {
    let len = bytes.len();
    let pick = |v: u64| {
        if v.is_multiple_of(3) {
            v >> 2
        } else {
            INTERESTING[(v >> 2) as usize % INTERESTING.len()]
        }
    };
    match kind % 10 {
        0 if len > 0 => bytes[pos % len] ^= 1 << (val % 8),
        1 if len > 0 => bytes[pos % len] = val as u8,
        2 if len >= 4 => {
            let p = pos % (len / 4) * 4;
            bytes[p..p + 4].copy_from_slice(&(pick(val) as u32).to_le_bytes());
        }
        3 if len >= 8 => {
            let p = pos % (len / 8) * 8;
            bytes[p..p + 8].copy_from_slice(&pick(val).to_le_bytes());
        }
        4 => bytes.truncate(pos % (len + 1)),
        5 => bytes.extend(std::iter::repeat_n(val as u8, pos % 49)),
        // Duplicate or drop a 24-byte record.
        6 if len >= HDR + EXT => {
            let k = HDR + pos % ((len - HDR) / EXT) * EXT;
            let rec = bytes[k..k + EXT].to_vec();
            bytes.splice(k..k, rec);
        }
        7 if len >= HDR + EXT => {
            let k = HDR + pos % ((len - HDR) / EXT) * EXT;
            bytes.drain(k..k + EXT);
        }
        // Nudge nextents or file_size.
        8 if len >= HDR => {
            let n = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
            let n = if val & 1 == 0 {
                n.wrapping_add(1)
            } else {
                n.wrapping_sub(1)
            };
            bytes[8..12].copy_from_slice(&n.to_le_bytes());
        }
        9 if len >= HDR => {
            let fs = u64::from_le_bytes(bytes[16..24].try_into().unwrap());
            let delta = if val & 2 == 0 {
                val >> 44
            } else {
                (val >> 60) * ALIGN
            };
            let fs = if val & 1 == 0 {
                fs.wrapping_add(delta)
            } else {
                fs.wrapping_sub(delta)
            };
            bytes[16..24].copy_from_slice(&fs.to_le_bytes());
        }
        _ => {}
    }
}

/// One field-level change to an fmap description, mostly small, so that
/// many results stay valid or miss validity by one rule.
fn mutate_desc(d: &mut Desc, (kind, idx, val): Mutation) {
    let nudge = |v: u64, by: u64| {
        if val & 1 == 0 {
            v.wrapping_add(by)
        } else {
            v.wrapping_sub(by)
        }
    };
    let step = if val & 2 == 0 {
        ALIGN
    } else {
        1 + (val >> 40) % 4096
    };
    let total = d.total() as u64;
    match (&mut d.body, kind % 8) {
        (_, 0) => {
            d.file_size = match val % 4 {
                0 => total,
                1 => total + 1,
                2 => nudge(d.file_size, step),
                _ => total.saturating_sub(val >> 50),
            }
        }
        (Body::Simple(v), k) => {
            let i = idx % v.len();
            match k {
                1 => v[i].len = nudge(v[i].len, step),
                2 => v[i].offset = nudge(v[i].offset, step),
                3 => v[i].devindex = (val % 26) as u32,
                4 => {
                    let j = (idx / 7) % v.len();
                    v.swap(i, j);
                }
                5 => {
                    let e = v[i];
                    v.insert(i, e);
                    d.nextents += 1;
                    d.file_size = nudge(d.file_size, e.len);
                }
                6 if v.len() > 1 => {
                    v.remove(i);
                    d.nextents -= 1;
                }
                _ => v[i].offset = INTERESTING[val as usize % INTERESTING.len()] & !(ALIGN - 1),
            }
        }
        (Body::Interleaved(v), k) => {
            let i = idx % v.len();
            let e = &mut v[i];
            let j = (idx / 7) % e.strips.len();
            match k {
                1 => e.nbytes = nudge(e.nbytes, step),
                2 => e.chunk_size = nudge(e.chunk_size as u64, step) as u32,
                3 => e.strips[j].len = nudge(e.strips[j].len, step),
                4 => e.strips[j].devindex = (val % 26) as u32,
                5 => {
                    let s = e.strips[j];
                    e.strips.insert(j, s);
                    e.nstrips += 1;
                }
                6 if e.strips.len() > 1 => {
                    e.strips.remove(j);
                    e.nstrips -= 1;
                }
                _ => e.strips[j].offset = nudge(e.strips[j].offset, step),
            }
        }
    }
}

/// A valid header (with random file_type, ext_type, nextents, file_size)
/// and a random body.
fn header_then_noise() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..3,
        0u32..2,
        1u32..5,
        prop_oneof![0u64..(64 * MIB), any::<u64>()],
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(ft, et, n, fs, body)| {
            let mut d = Desc::simple(fs, Vec::new());
            d.file_type = ft;
            d.ext_type = et;
            d.nextents = n;
            let mut b = d.header_bytes();
            b.extend(body);
            b
        })
}

proptest! {
    #![proptest_config(config(2000))]

    /// Mutated valid fmaps: no panic; a rejection names a rule the bytes
    /// really break; an accepted fmap is valid and resolves like the model
    /// within the contract.
    #[test]
    fn mutated_fmaps(
        d in any_valid_desc(),
        muts in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u64>()), 1..6),
    ) {
        let mut b = d.to_bytes();
        for m in muts {
            mutate(&mut b, m);
        }
        check_input(&b);
    }

    /// Field-level mutations of valid fmaps (lengths, offsets, devices,
    /// chunk sizes, nbytes, file_size nudged; extents and strips added,
    /// dropped, swapped): same checks, with far more of them accepted.
    #[test]
    fn mutated_descs(
        d in any_valid_desc(),
        muts in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u64>()), 1..4),
    ) {
        let mut d = d;
        for m in muts {
            mutate_desc(&mut d, m);
        }
        check_input(&d.to_bytes());
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn random_bytes(b in prop::collection::vec(any::<u8>(), 0..600)) {
        check_input(&b);
    }

    #[test]
    fn random_bodies(b in header_then_noise()) {
        check_input(&b);
    }

    /// Random header-only first replies, announcements included.
    #[test]
    fn random_announcements(
        d in simple_desc(),
        size in prop_oneof![0u32..(2 * FIRST as u32), any::<u32>(), (MAX_BYTES as u32 - 2)..(MAX_BYTES as u32 + 2)],
    ) {
        let mut d = d;
        d.reserved0 = size;
        check_input(&d.header_bytes());
        check_input(&d.to_bytes());
    }
}
