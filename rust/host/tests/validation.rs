// SPDX-License-Identifier: GPL-2.0

//! One test group per validation rule of `include/uapi/linux/famfs_fmap.h`:
//! an accepted fmap near the boundary of the rule and rejected ones just
//! past it, with the exact errno. Expected values come from the header (and
//! for the fault-path index from the design documented in fmap.rs), never
//! from running fmap.rs.

mod common;

use common::check::{check_model, parse, F};
use common::*;
use famfs_fmap::{check_second, parse_header, probe, Error, Probe};

const TIB: u64 = 1 << 40;

/// Parses `d`, which must be accepted, and checks every 2 MiB block and a
/// few odd offsets of it against the model.
fn accept(d: &Desc) -> F {
    let f = parse(&d.to_bytes()).unwrap_or_else(|e| panic!("valid fmap rejected: {e} ({e:?})"));
    common::check::check_fmap_level(&f, d);
    let fs = d.file_size;
    let blocks = fs.div_ceil(ALIGN);
    let picks: Vec<u64> = if blocks <= 512 {
        (0..blocks).collect()
    } else {
        (0..64)
            .map(|k| blocks / 64 * k)
            .chain([blocks - 1])
            .collect()
    };
    for b in picks {
        let o = b * ALIGN;
        check_model(&f, d, o, u64::MAX);
        check_model(&f, d, o, 1);
        for o in [o + 4096 + 17, o + ALIGN - 1] {
            if o < fs {
                check_model(&f, d, o, u64::MAX);
            }
        }
    }
    if fs > 0 {
        check_model(&f, d, fs - 1, u64::MAX);
    }
    f
}

/// Parses `bytes`, which must be rejected with `errno` and a reason.
fn reject(bytes: &[u8], errno: i32) -> Error {
    match parse(bytes) {
        Ok(f) => panic!("accepted, expected errno {errno}: {f:?}"),
        Err(e) => {
            assert_eq!(e.errno.num(), errno, "wrong errno: {e} ({e:?})");
            assert!(!e.reason.is_empty(), "empty reason: {e:?}");
            e
        }
    }
}

fn reject_desc(d: &Desc, errno: i32) -> Error {
    reject(&d.to_bytes(), errno)
}

/// One 2 MiB extent on device 0.
fn one() -> Desc {
    Desc::simple(ALIGN, vec![SExt::new(0, 0, ALIGN)])
}

/// One interleaved extent: 2 strips, 2 MiB chunks, 8 MiB.
fn one_il() -> Desc {
    Desc::interleaved(
        8 * MIB,
        vec![IExt::new(
            ALIGN,
            8 * MIB,
            vec![SExt::new(0, 0, 4 * MIB), SExt::new(1, 0, 4 * MIB)],
        )],
    )
}

/// Two interleaved extents.
fn two_il() -> Desc {
    Desc::interleaved(
        12 * MIB,
        vec![
            IExt::new(
                ALIGN,
                8 * MIB,
                vec![SExt::new(0, 0, 4 * MIB), SExt::new(1, 0, 4 * MIB)],
            ),
            IExt::new(4 * MIB, 4 * MIB, vec![SExt::new(2, 0, 4 * MIB)]),
        ],
    )
}

fn il_mut(d: &mut Desc) -> &mut Vec<IExt> {
    match &mut d.body {
        Body::Interleaved(v) => v,
        Body::Simple(_) => unreachable!(),
    }
}

fn simple_mut(d: &mut Desc) -> &mut Vec<SExt> {
    match &mut d.body {
        Body::Simple(v) => v,
        Body::Interleaved(_) => unreachable!(),
    }
}

// ---------------------------------------------------------------------------
// Message framing
// ---------------------------------------------------------------------------

#[test]
fn short_header() {
    let b = one().to_bytes();
    accept(&one());
    for n in 0..HDR {
        reject(&b[..n], EINVAL);
        let e = parse_header(&b[..n]).unwrap_err();
        assert_eq!(e.errno.num(), EINVAL);
        assert!(!e.reason.is_empty());
    }
    let h = parse_header(&b[..HDR]).expect("a 32-byte header parses");
    assert_eq!(h.nextents, 1);
    assert_eq!(h.file_size, ALIGN);
}

#[test]
fn truncated_simple_extents() {
    let mut d = one();
    simple_mut(&mut d).push(SExt::new(1, 0, ALIGN));
    d.nextents = 2;
    d.file_size = 4 * MIB;
    accept(&d);
    let b = d.to_bytes();
    for cut in [1, 8, EXT - 1, EXT, EXT + 1, 2 * EXT - 1] {
        reject(&b[..b.len() - cut], EINVAL);
    }
    // nextents claims more extents than the reply holds.
    let mut d3 = d.clone();
    d3.nextents = 3;
    reject_desc(&d3, EINVAL);
}

#[test]
fn truncated_interleaved_extents() {
    let d = two_il();
    accept(&d);
    let b = d.to_bytes();
    // Inside a strip, at a strip boundary, inside an extent header, and
    // the whole second extent missing.
    for cut in [1, 8, EXT, EXT + 4, 2 * EXT, 2 * EXT + 1] {
        reject(&b[..b.len() - cut], EINVAL);
    }
    // The first extent says 3 strips but only 2 follow before the second.
    let mut d3 = d.clone();
    il_mut(&mut d3)[0].nstrips = 3;
    reject_desc(&d3, EINVAL);
    let mut d3 = d.clone();
    d3.nextents = 3;
    reject_desc(&d3, EINVAL);
}

#[test]
fn trailing_bytes() {
    for d in [one(), one_il(), two_il()] {
        accept(&d);
        let mut b = d.to_bytes();
        b.push(0);
        reject(&b, EINVAL);
        let mut b = d.to_bytes();
        // A whole valid extent (or strip) the header does not count.
        SExt::new(3, 0, ALIGN).write(&mut b);
        reject(&b, EINVAL);
    }
    // An interleaved extent with fewer strips declared than sent.
    let mut d = one_il();
    il_mut(&mut d)[0].nstrips = 1;
    il_mut(&mut d)[0].strips[0].len = 8 * MIB;
    reject_desc(&d, EINVAL);
}

// ---------------------------------------------------------------------------
// Header fields
// ---------------------------------------------------------------------------

#[test]
fn fmap_version() {
    accept(&one());
    for v in [0u16, 2, 0x100, 0xffff] {
        let mut d = one();
        d.version = v;
        let e = reject_desc(&d, EINVAL);
        assert_eq!(e.value, v as u64);
        let mut d = one_il();
        d.version = v;
        reject_desc(&d, EINVAL);
    }
}

#[test]
fn file_type() {
    for t in 0u8..=2 {
        let mut d = one();
        d.file_type = t;
        accept(&d);
        let mut d = one_il();
        d.file_type = t;
        accept(&d);
    }
    for t in [3u8, 4, 0x80, 0xff] {
        let mut d = one();
        d.file_type = t;
        reject_desc(&d, EINVAL);
    }
}

#[test]
fn ext_type() {
    accept(&one());
    accept(&one_il());
    for t in [2u32, 3, 0x100, u32::MAX] {
        let mut d = one();
        d.ext_type = t;
        reject_desc(&d, EINVAL);
        let mut d = one_il();
        d.ext_type = t;
        reject_desc(&d, EINVAL);
    }
}

#[test]
fn header_reserved() {
    accept(&one());
    accept(&one_il());
    for r in [1u8, 0x80, 0xff] {
        let mut d = one();
        d.reserved = r;
        reject_desc(&d, EINVAL);
        let mut d = one_il();
        d.reserved = r;
        reject_desc(&d, EINVAL);
    }
}

#[test]
fn header_reserved1() {
    accept(&one());
    accept(&one_il());
    for r in [1u64, 1 << 32, 1 << 63, u64::MAX] {
        let mut d = one();
        d.reserved1 = r;
        reject_desc(&d, EINVAL);
        let mut d = one_il();
        d.reserved1 = r;
        reject_desc(&d, EINVAL);
    }
}

#[test]
fn header_reserved0_in_parse_is_eproto() {
    // A large-fmap announcement (or any reserved0) where the fmap was
    // expected: the second reply announcing again.
    for r in [1u32, FIRST as u32 + 1, 8192, u32::MAX] {
        let mut d = one();
        d.reserved0 = r;
        reject_desc(&d, EPROTO);
        let mut d = two_il();
        d.reserved0 = r;
        reject_desc(&d, EPROTO);
    }
}

#[test]
fn nextents_range() {
    accept(&one());
    let b = one().to_bytes();
    for n in [0u32, NEXTENTS_MAX + 1, NEXTENTS_MAX + 2, 1 << 31, u32::MAX] {
        let mut bb = b.clone();
        bb[off::NEXTENTS..off::NEXTENTS + 4].copy_from_slice(&n.to_le_bytes());
        reject(&bb, ERANGE);
        let mut d = one_il();
        d.nextents = n;
        reject_desc(&d, ERANGE);
    }
    // A header-only reply of nextents 0.
    let mut h = one().header_bytes();
    h[off::NEXTENTS..off::NEXTENTS + 4].fill(0);
    reject(&h, ERANGE);
}

/// FAMFS_FMAP_MAX_EXTENTS extents of 2 MiB are accepted with every extent
/// sent; one more (also sent in full) is ERANGE.
#[test]
fn nextents_max() {
    let n = NEXTENTS_MAX as u64;
    let ext = |i: u64| SExt::new((i % 24) as u32, (i / 24) * ALIGN, ALIGN);
    let mut d = Desc::simple(n * ALIGN, (0..n).map(ext).collect());
    let b = d.to_bytes();
    assert_eq!(b.len(), HDR + NEXTENTS_MAX as usize * EXT);
    let f = parse(&b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.header().nextents, NEXTENTS_MAX);
    let mut rng = XorShift::new(7);
    let picks: Vec<u64> = (0..64).map(|_| rng.below(n)).chain([0, 1, n - 1]).collect();
    for i in picks {
        let into = rng.below(ALIGN);
        let m = f.resolve(i * ALIGN + into, u64::MAX).unwrap();
        let e = ext(i);
        assert_eq!((m.devindex, m.dev_offset), (e.devindex, e.offset + into));
        assert_eq!(m.length, ALIGN - into, "one extent of 2 MiB per block");
    }
    let ends: Vec<(u32, u64)> = f.devices().collect();
    assert_eq!(ends.len(), 24);
    drop(f);
    drop(b);

    simple_mut(&mut d).push(ext(n));
    d.nextents = NEXTENTS_MAX + 1;
    d.file_size += ALIGN;
    reject_desc(&d, ERANGE);
}

// ---------------------------------------------------------------------------
// Extent and strip fields
// ---------------------------------------------------------------------------

#[test]
fn extent_reserved() {
    let mut d = one();
    simple_mut(&mut d).push(SExt::new(1, 0, ALIGN));
    d.nextents = 2;
    d.file_size = 4 * MIB;
    accept(&d);
    for r in [1u32, 0x8000_0000, u32::MAX] {
        let mut d = d.clone();
        simple_mut(&mut d)[1].reserved = r;
        let e = reject_desc(&d, EINVAL);
        assert_eq!(e.extent, Some(1));
        assert_eq!(e.strip, None);
    }
}

#[test]
fn interleaved_reserved() {
    accept(&two_il());
    for r in [1u64, 1 << 63, u64::MAX] {
        let mut d = two_il();
        il_mut(&mut d)[1].reserved = r;
        let e = reject_desc(&d, EINVAL);
        assert_eq!(e.extent, Some(1));
        let mut d = two_il();
        il_mut(&mut d)[0].reserved = r;
        reject_desc(&d, EINVAL);
    }
}

#[test]
fn strip_reserved() {
    accept(&two_il());
    for r in [1u32, u32::MAX] {
        let mut d = two_il();
        il_mut(&mut d)[0].strips[1].reserved = r;
        let e = reject_desc(&d, EINVAL);
        assert_eq!((e.extent, e.strip), (Some(0), Some(1)));
        let mut d = two_il();
        il_mut(&mut d)[1].strips[0].reserved = r;
        let e = reject_desc(&d, EINVAL);
        assert_eq!((e.extent, e.strip), (Some(1), Some(0)));
    }
}

fn il_with_strips(nstrips: u32) -> Desc {
    // nstrips strips of one 2 MiB chunk each.
    let strips = (0..nstrips)
        .map(|j| SExt::new(j % 24, (j / 24) as u64 * ALIGN, ALIGN))
        .collect();
    let nbytes = nstrips as u64 * ALIGN;
    Desc::interleaved(nbytes, vec![IExt::new(ALIGN, nbytes, strips)])
}

#[test]
fn nstrips_range() {
    accept(&il_with_strips(1));
    accept(&il_with_strips(NSTRIPS_MAX));
    let e = reject_desc(&il_with_strips(NSTRIPS_MAX + 1), ERANGE);
    assert_eq!(e.extent, Some(0));
    let mut d = il_with_strips(1);
    il_mut(&mut d)[0].nstrips = 0;
    il_mut(&mut d)[0].strips.clear();
    reject_desc(&d, ERANGE);
    // nstrips 0 with the strip still sent, and in a second extent.
    let mut d = il_with_strips(1);
    il_mut(&mut d)[0].nstrips = 0;
    reject_desc(&d, ERANGE);
    let mut d = two_il();
    il_mut(&mut d)[1].nstrips = 0;
    il_mut(&mut d)[1].strips.clear();
    let e = reject_desc(&d, ERANGE);
    assert_eq!(e.extent, Some(1));
    let mut d = two_il();
    il_mut(&mut d)[1].nstrips = u32::MAX;
    reject_desc(&d, ERANGE);
}

#[test]
fn devindex_range() {
    let mut d = one();
    simple_mut(&mut d)[0].devindex = 23;
    let f = accept(&d);
    assert_eq!(f.resolve(0, 1).unwrap().devindex, 23);
    for dev in [24u32, 25, 31, 32, u32::MAX] {
        let mut d = one();
        simple_mut(&mut d)[0].devindex = dev;
        let e = reject_desc(&d, ERANGE);
        assert_eq!(e.value, dev as u64);
        let mut d = two_il();
        il_mut(&mut d)[1].strips[0].devindex = dev;
        let e = reject_desc(&d, ERANGE);
        assert_eq!((e.extent, e.strip), (Some(1), Some(0)));
    }
    let mut d = two_il();
    il_mut(&mut d)[1].strips[0].devindex = 23;
    accept(&d);
}

#[test]
fn offset_alignment() {
    let mut d = one();
    simple_mut(&mut d)[0].offset = ALIGN;
    accept(&d);
    simple_mut(&mut d)[0].offset = 1 << 63;
    accept(&d);
    for o in [
        1,
        4096,
        MIB,
        ALIGN - 1,
        ALIGN + 4096,
        3 * MIB,
        (1 << 63) + MIB,
    ] {
        let mut d = one();
        simple_mut(&mut d)[0].offset = o;
        reject_desc(&d, EINVAL);
        let mut d = two_il();
        il_mut(&mut d)[0].strips[1].offset = o;
        let e = reject_desc(&d, EINVAL);
        assert_eq!((e.extent, e.strip), (Some(0), Some(1)));
    }
}

#[test]
fn len_alignment() {
    let mut d = one();
    simple_mut(&mut d)[0].len = 3 * ALIGN;
    accept(&d);
    for l in [1, 4096, MIB, ALIGN - 1, ALIGN + 1, ALIGN + 4096, 3 * MIB] {
        let mut d = one();
        d.file_size = 1;
        simple_mut(&mut d)[0].len = l;
        reject_desc(&d, EINVAL);
        let mut d = two_il();
        il_mut(&mut d)[1].strips[0].len = 4 * MIB + l;
        reject_desc(&d, EINVAL);
    }
}

#[test]
fn zero_len() {
    let mut d = one();
    d.file_size = 0;
    accept(&d);
    simple_mut(&mut d)[0].len = 0;
    reject_desc(&d, EINVAL);
    let mut d = one();
    simple_mut(&mut d).push(SExt::new(1, 0, 0));
    d.nextents = 2;
    let e = reject_desc(&d, EINVAL);
    assert_eq!(e.extent, Some(1));
    // A strip of zero length that the file places nothing on.
    let mut d = Desc::interleaved(
        ALIGN,
        vec![IExt::new(
            ALIGN,
            ALIGN,
            vec![SExt::new(0, 0, ALIGN), SExt::new(1, 0, ALIGN)],
        )],
    );
    accept(&d);
    il_mut(&mut d)[0].strips[1].len = 0;
    let e = reject_desc(&d, EINVAL);
    assert_eq!(e.strip, Some(1));
}

#[test]
fn offset_plus_len_overflow() {
    // The highest aligned end there is: 2^64 - 2 MiB.
    let top = u64::MAX - ALIGN + 1;
    let mut d = one();
    simple_mut(&mut d)[0].offset = top - ALIGN;
    let f = accept(&d);
    assert_eq!(f.devices().collect::<Vec<_>>(), vec![(0, top)]);
    let m = f.resolve(ALIGN - 1, u64::MAX).unwrap();
    assert_eq!((m.dev_offset, m.length), (top - 1, 1));

    let mut d = one();
    simple_mut(&mut d)[0].len = top;
    accept(&d);

    for (o, l) in [(top, ALIGN), (1 << 63, 1 << 63), (ALIGN, top), (top, top)] {
        let mut d = one();
        simple_mut(&mut d)[0] = SExt::new(0, o, l);
        reject_desc(&d, EOVERFLOW);
        let mut d = two_il();
        il_mut(&mut d)[0].strips[0] = SExt::new(0, o, l);
        let e = reject_desc(&d, EOVERFLOW);
        assert_eq!((e.extent, e.strip), (Some(0), Some(0)));
    }
    let mut d = two_il();
    il_mut(&mut d)[0].strips[0] = SExt::new(5, top - 4 * MIB, 4 * MIB);
    accept(&d);
}

#[test]
fn sum_of_lengths_overflow() {
    let half = 1u64 << 63;
    let ok = Desc::simple(
        ALIGN,
        vec![SExt::new(0, 0, half), SExt::new(1, 0, half - ALIGN)],
    );
    accept(&ok);
    let bad = Desc::simple(ALIGN, vec![SExt::new(0, 0, half), SExt::new(1, 0, half)]);
    let e = reject_desc(&bad, EOVERFLOW);
    assert_eq!(e.extent, Some(1));
    let bad = Desc::simple(
        ALIGN,
        vec![
            SExt::new(0, 0, half - ALIGN),
            SExt::new(1, 0, half),
            SExt::new(2, 0, ALIGN),
        ],
    );
    let e = reject_desc(&bad, EOVERFLOW);
    assert_eq!(e.extent, Some(2));

    let il = |a: u64, b: u64| {
        Desc::interleaved(
            ALIGN,
            vec![
                IExt::new(ALIGN, a, vec![SExt::new(0, 0, a)]),
                IExt::new(ALIGN, b, vec![SExt::new(1, 0, round_up(b).unwrap())]),
            ],
        )
    };
    accept(&il(half, half - ALIGN));
    accept(&il(half, half - ALIGN - 1)); // last one unaligned
    let e = reject_desc(&il(half, half), EOVERFLOW);
    assert_eq!(e.extent, Some(1));
}

#[test]
fn extents_cover_file_size() {
    let two = vec![SExt::new(0, 0, ALIGN), SExt::new(1, 8 * MIB, 4 * MIB)];
    // Exactly file_size.
    accept(&Desc::simple(6 * MIB, two.clone()));
    // An unaligned file_size the extents cover once rounded up.
    accept(&Desc::simple(5 * MIB + 1, two.clone()));
    accept(&Desc::simple(4 * MIB + 1, two.clone()));
    // More than file_size, and file_size 0.
    accept(&Desc::simple(1, two.clone()));
    accept(&Desc::simple(0, two.clone()));
    for fs in [6 * MIB + 1, 7 * MIB, 8 * MIB, u64::MAX / 2] {
        reject_desc(&Desc::simple(fs, two.clone()), EINVAL);
    }
    // Interleaved: nbytes exactly file_size, aligned or not.
    let il = |fs: u64, nbytes: u64| {
        Desc::interleaved(
            fs,
            vec![
                IExt::new(ALIGN, 4 * MIB, vec![SExt::new(0, 0, 4 * MIB)]),
                IExt::new(ALIGN, nbytes, vec![SExt::new(1, 0, 8 * MIB)]),
            ],
        )
    };
    accept(&il(12 * MIB, 8 * MIB));
    accept(&il(7 * MIB + 3, 3 * MIB + 3));
    accept(&il(5 * MIB, 8 * MIB));
    reject_desc(&il(12 * MIB + 1, 8 * MIB), EINVAL);
    reject_desc(&il(7 * MIB + 4, 3 * MIB + 3), EINVAL);
    reject_desc(&il(8 * MIB, 3 * MIB + 3), EINVAL);
}

#[test]
fn chunk_size() {
    let il = |chunk: u64, nbytes: u64, strip_len: u64| {
        Desc::interleaved(
            nbytes,
            vec![IExt::new(
                chunk,
                nbytes,
                vec![SExt::new(0, 0, strip_len), SExt::new(1, 0, strip_len)],
            )],
        )
    };
    accept(&il(ALIGN, 4 * MIB, ALIGN));
    // Not a power of two: 6 MiB chunks, 2 chunks over 2 strips.
    accept(&il(6 * MIB, 12 * MIB, 6 * MIB));
    // The largest 2 MiB multiple a u32 holds: 4094 MiB.
    let big = (u32::MAX as u64) / ALIGN * ALIGN;
    assert_eq!(big, 4094 * MIB);
    accept(&il(big, 2 * big, big));
    for c in [0, 1, 4096, MIB, ALIGN - 1, ALIGN + 1, ALIGN + 4096, 3 * MIB] {
        let e = reject_desc(&il(c, 4 * MIB, 4 * MIB), EINVAL);
        assert_eq!(e.extent, Some(0));
        let mut d = two_il();
        il_mut(&mut d)[1].chunk_size = c as u32;
        let e = reject_desc(&d, EINVAL);
        assert_eq!(e.extent, Some(1));
    }
    let mut d = two_il();
    il_mut(&mut d)[1].chunk_size = u32::MAX;
    reject_desc(&d, EINVAL);
}

#[test]
fn nbytes() {
    let mut d = two_il();
    il_mut(&mut d)[1].nbytes = 1;
    d.file_size = 8 * MIB + 1;
    accept(&d); // the last one may end anywhere
    il_mut(&mut d)[1].nbytes = ALIGN + 1;
    d.file_size = 10 * MIB + 1;
    accept(&d);

    let mut d = two_il();
    il_mut(&mut d)[1].nbytes = 0;
    d.file_size = 8 * MIB;
    let e = reject_desc(&d, EINVAL);
    assert_eq!(e.extent, Some(1));
    let mut d = two_il();
    il_mut(&mut d)[0].nbytes = 0;
    d.file_size = 4 * MIB;
    let e = reject_desc(&d, EINVAL);
    assert_eq!(e.extent, Some(0));
    let mut d = one_il();
    il_mut(&mut d)[0].nbytes = 0;
    d.file_size = 0;
    reject_desc(&d, EINVAL);

    // Not the last: must be a 2 MiB multiple.
    for n in [6 * MIB + 1, 7 * MIB, 8 * MIB - 4096, 8 * MIB - 1] {
        let mut d = two_il();
        il_mut(&mut d)[0].nbytes = n;
        d.file_size = 4 * MIB;
        let e = reject_desc(&d, EINVAL);
        assert_eq!(e.extent, Some(0));
    }
    let mut d = two_il();
    il_mut(&mut d)[0].nbytes = 6 * MIB;
    d.file_size = 10 * MIB;
    accept(&d);
}

// ---------------------------------------------------------------------------
// Strips long enough for their stripes
// ---------------------------------------------------------------------------

/// One interleaved extent of `nbytes` in `chunk` chunks over strips of the
/// given lengths, each strip on its own device.
fn il_strips(nbytes: u64, chunk: u64, lens: &[u64]) -> Desc {
    let strips = lens
        .iter()
        .enumerate()
        .map(|(j, &l)| SExt::new(j as u32, 64 * MIB, l))
        .collect();
    Desc::interleaved(nbytes, vec![IExt::new(chunk, nbytes, strips)])
}

/// `need` is accepted; each strip 2 MiB short of it is rejected with EINVAL
/// naming extent 0 and that strip.
fn strips_exact(nbytes: u64, chunk: u64, need: &[u64]) {
    // The hand-computed needs agree with dealing the chunks out one by one.
    assert_eq!(strip_need_naive(nbytes, chunk, need.len() as u32), need);
    let lens: Vec<u64> = need.iter().map(|&n| n.max(ALIGN)).collect();
    accept(&il_strips(nbytes, chunk, &lens));
    for j in 0..need.len() {
        if need[j] < 2 * ALIGN {
            continue; // 2 MiB short of it would be a zero length
        }
        let mut short = lens.clone();
        short[j] -= ALIGN;
        let e = reject_desc(&il_strips(nbytes, chunk, &short), EINVAL);
        assert_eq!((e.extent, e.strip), (Some(0), Some(j as u32)), "{e}");
    }
}

#[test]
fn strips_whole_stripes() {
    // 16 MiB in 4 MiB chunks over 2 strips: 2 chunks each.
    strips_exact(16 * MIB, 4 * MIB, &[8 * MIB, 8 * MIB]);
    // 1 strip.
    strips_exact(10 * MIB, ALIGN, &[10 * MIB]);
    // 4 strips, 2 MiB chunks, 3 stripes.
    strips_exact(24 * MIB, ALIGN, &[6 * MIB; 4]);
}

#[test]
fn strips_partial_last_chunk() {
    // 18 MiB in 4 MiB chunks over 3 strips: chunks 0..=4, chunk 4 (2 MiB)
    // is the second stripe of strip 1.
    strips_exact(18 * MIB, 4 * MIB, &[8 * MIB, 6 * MIB, 4 * MIB]);
    // Same with an unaligned nbytes: rounded up to 18 MiB.
    strips_exact(17 * MIB + 1, 4 * MIB, &[8 * MIB, 6 * MIB, 4 * MIB]);
    // 6 MiB chunks (not a power of two): 14 MiB = 6 + 6 + 2.
    strips_exact(14 * MIB, 6 * MIB, &[8 * MIB, 6 * MIB]);
    // Fewer chunks than strips: strips 1..3 get nothing.
    strips_exact(4 * MIB, 4 * MIB, &[4 * MIB, 0, 0, 0]);
    strips_exact(3 * MIB, 8 * MIB, &[4 * MIB, 0]);
    // 5 strips, 6 MiB chunks, 40 MiB: 7 chunks (6 full + 4 MiB).
    strips_exact(
        40 * MIB,
        6 * MIB,
        &[12 * MIB, 10 * MIB, 6 * MIB, 6 * MIB, 6 * MIB],
    );
}

#[test]
fn strips_short_in_second_extent() {
    let mut d = two_il();
    accept(&d);
    il_mut(&mut d)[1].strips[0].len = ALIGN;
    let e = reject_desc(&d, EINVAL);
    assert_eq!((e.extent, e.strip), (Some(1), Some(0)));
    // A strip of an extent past file_size still has to hold its stripes.
    let mut d = two_il();
    d.file_size = ALIGN;
    il_mut(&mut d)[1].strips[0].len = ALIGN;
    reject_desc(&d, EINVAL);
}

// ---------------------------------------------------------------------------
// Sizes near 2^64 and the fault-path index
// ---------------------------------------------------------------------------

#[test]
fn file_size_near_2_64() {
    let top = u64::MAX - ALIGN + 1; // 2^64 - 2 MiB
    let il = |fs: u64, nbytes: u64| {
        Desc::interleaved(
            fs,
            vec![IExt::new(
                ALIGN,
                nbytes,
                vec![SExt::new(0, 0, round_up(nbytes).unwrap())],
            )],
        )
    };
    // One interleaved extent up to 2^64 - 2 MiB: no index, accepted.
    for (fs, nbytes) in [
        (top, top),
        (top - 1, top),
        (top - 1, top - 1),
        (1 << 63, top),
    ] {
        let f = parse(&il(fs, nbytes).to_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let m = f.resolve(fs - 1, u64::MAX).unwrap();
        assert_eq!((m.devindex, m.dev_offset), (0, fs - 1));
        // To the end of the 2 MiB chunk, or of file_size rounded up.
        let lim = round_up(fs).unwrap();
        assert_eq!(m.length, (lim - (fs - 1)).min(ALIGN - (fs - 1) % ALIGN));
        let m = f.resolve((1 << 62) + 5, u64::MAX).unwrap();
        assert_eq!((m.dev_offset, m.length), ((1 << 62) + 5, ALIGN - 5));
        assert_eq!(f.resolve(fs, 1).unwrap_err().errno.num(), EIO);
    }
    // 3 strips over 2^64 - 2 MiB in 2 MiB chunks (2^43 - 1 chunks), each
    // exactly as long as the model's closed form says.
    let n = top;
    let strips = (0..3)
        .map(|j| SExt::new(j, 0, strip_need(n, ALIGN, 3, j).unwrap() as u64))
        .collect();
    let d = Desc::interleaved(n, vec![IExt::new(ALIGN, n, strips)]);
    let f = parse(&d.to_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let m = f.resolve(n - 1, u64::MAX).unwrap();
    let h = lookup(&d, n - 1).unwrap();
    assert_eq!(
        (m.devindex, m.dev_offset, m.length),
        (h.devindex, h.dev_offset, 1)
    );
    let mut short = d.clone();
    il_mut(&mut short)[0].strips[2].len -= ALIGN;
    let e = reject_desc(&short, EINVAL);
    assert_eq!(e.strip, Some(2));

    // Past that the file rounded up to 2 MiB ends past 2^64, where no
    // extents can reach.
    for fs in [top + 1, u64::MAX - 1, u64::MAX] {
        reject_desc(&il(fs, top), EOVERFLOW);
        let d = Desc::simple(
            fs,
            vec![SExt::new(0, 0, 1 << 63), SExt::new(1, 0, (1 << 63) - ALIGN)],
        );
        reject_desc(&d, EOVERFLOW);
    }
}

/// Simple fmap: granules of 2 MiB (a boundary at 2 MiB), so the index has
/// one entry per 2 MiB of file: 2^22 entries (8 TiB) is the most.
#[test]
fn index_limit_simple_small_granule() {
    let n = INDEX_MAX * ALIGN; // 8 TiB
    let d = Desc::simple(n, vec![SExt::new(0, 0, ALIGN), SExt::new(1, 0, n - ALIGN)]);
    assert_eq!(index_entries(&d), INDEX_MAX as u128);
    let f = accept(&d);
    assert_eq!(f.index_bytes(), INDEX_MAX as usize * 8);
    drop(f);
    for fs in [n + 1, n + ALIGN] {
        let d = Desc::simple(fs, vec![SExt::new(0, 0, ALIGN), SExt::new(1, 0, n)]);
        assert_eq!(index_entries(&d), INDEX_MAX as u128 + 1);
        reject_desc(&d, E2BIG);
    }
    // The same extents with a file that stops at the first one need one
    // entry only.
    let d = Desc::simple(ALIGN, vec![SExt::new(0, 0, ALIGN), SExt::new(1, 0, n)]);
    accept(&d);
}

/// Simple fmap with one extent: 64 GiB granules, so 2^58 bytes is the most.
#[test]
fn index_limit_simple_large_granule() {
    let n = INDEX_MAX * GRANULE_MAX; // 2^58
    let d = Desc::simple(n, vec![SExt::new(7, 0, n)]);
    assert_eq!(index_entries(&d), INDEX_MAX as u128);
    let f = accept(&d);
    // Runs longer than the packed run field can count still resolve to the
    // end of the granule and beyond, inside the extent.
    let m = f.resolve(GRANULE_MAX - 1, u64::MAX).unwrap();
    assert_eq!((m.devindex, m.dev_offset), (7, GRANULE_MAX - 1));
    drop(f);
    let d = Desc::simple(n + 1, vec![SExt::new(7, 0, n + ALIGN)]);
    reject_desc(&d, E2BIG);
    // Near 2^64: 2^28 entries.
    let top = u64::MAX - ALIGN + 1;
    let d = Desc::simple(
        top,
        vec![SExt::new(0, 0, 1 << 63), SExt::new(1, 0, (1 << 63) - ALIGN)],
    );
    reject_desc(&d, E2BIG);
}

/// Several interleaved extents: the index has one entry per granule.
#[test]
fn index_limit_interleaved() {
    let n = INDEX_MAX * ALIGN;
    let d = |fs: u64, second: u64| {
        Desc::interleaved(
            fs,
            vec![
                IExt::new(ALIGN, ALIGN, vec![SExt::new(0, 0, ALIGN)]),
                IExt::new(4 * MIB, second, vec![SExt::new(1, 0, second)]),
            ],
        )
    };
    let ok = d(n, n - ALIGN);
    assert_eq!(index_entries(&ok), INDEX_MAX as u128);
    accept(&ok);
    let bad = d(n + 1, n);
    assert_eq!(index_entries(&bad), INDEX_MAX as u128 + 1);
    reject_desc(&bad, E2BIG);
    // One interleaved extent needs no index, whatever its size.
    let big = 1u64 << 62;
    let one = Desc::interleaved(
        big,
        vec![IExt::new(
            8 * MIB,
            big,
            vec![SExt::new(0, 0, big / 2), SExt::new(1, 0, big / 2)],
        )],
    );
    assert_eq!(index_entries(&one), 0);
    let f = parse(&one.to_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let m = f.resolve(big - 1, u64::MAX).unwrap();
    assert_eq!((m.devindex, m.dev_offset, m.length), (1, big / 2 - 1, 1));
}

/// With several interleaved extents, the granule of the index divides
/// every extent boundary inside the file. The end of the last extent, when
/// not 2 MiB aligned, lies at or past `file_size` and is no such boundary:
/// a 16 TiB file in two extents whose last one ends off 2 MiB (the usual
/// case: nbytes == what is left of file_size) gets an index of 257 entries
/// of 64 GiB, not 2^23 + 1 of 2 MiB (which would be refused with E2BIG).
#[test]
fn interleaved_unaligned_last_extent_keeps_large_granule() {
    let big = 16 * TIB;
    let d = Desc::interleaved(
        big + MIB,
        vec![
            IExt::new(ALIGN, big, vec![SExt::new(0, 0, big)]),
            IExt::new(ALIGN, MIB, vec![SExt::new(1, 0, ALIGN)]),
        ],
    );
    assert_eq!(index_entries(&d), 257);
    accept(&d);
}

/// An interleaved fmap whose nbytes sum to 2^64 - 1: no sum past 2^64,
/// but the end rounded up to 2 MiB is 2^64, which resolve could not
/// represent. Refused in validation with EOVERFLOW, whether or not the
/// file reaches into the last extent.
#[test]
fn interleaved_nbytes_sum_rounding_past_2_64_is_eoverflow() {
    let top = u64::MAX - ALIGN + 1; // 2^64 - 2 MiB
    let d = |fs: u64| {
        Desc::interleaved(
            fs,
            vec![
                IExt::new(ALIGN, ALIGN, vec![SExt::new(0, 0, ALIGN)]),
                IExt::new(ALIGN, top - 1, vec![SExt::new(1, 0, top)]),
            ],
        )
    };
    assert_eq!(d(0).total(), u64::MAX as u128);
    reject(&d(ALIGN).to_bytes(), EOVERFLOW);
    reject(&d(4 * MIB).to_bytes(), EOVERFLOW);
    // One byte less and it fits: the rounded end is 2^64 - 2 MiB.
    let ok = Desc::interleaved(
        4 * MIB,
        vec![
            IExt::new(ALIGN, ALIGN, vec![SExt::new(0, 0, ALIGN)]),
            IExt::new(ALIGN, top - ALIGN - 1, vec![SExt::new(1, 0, top - ALIGN)]),
        ],
    );
    accept(&ok);
}

// ---------------------------------------------------------------------------
// Large-fmap exchange
// ---------------------------------------------------------------------------

fn announcement(size: u32) -> Vec<u8> {
    let mut d = one();
    d.reserved0 = size;
    d.header_bytes()
}

fn probe_err(bytes: &[u8], errno: i32) {
    let e = probe(bytes).expect_err("probe should fail");
    assert_eq!(e.errno.num(), errno, "{e}");
    assert!(!e.reason.is_empty());
}

#[test]
fn probe_complete_reply() {
    assert_eq!(probe(&one().to_bytes()).unwrap(), Probe::Complete);
    assert_eq!(probe(&two_il().to_bytes()).unwrap(), Probe::Complete);
    // A header alone with reserved0 0 is a (broken) complete reply: parse
    // refuses it, probe has nothing to say about it.
    assert_eq!(probe(&one().header_bytes()).unwrap(), Probe::Complete);
    reject(&one().header_bytes(), EINVAL);
    // Too short to hold a header.
    probe_err(&one().to_bytes()[..HDR - 1], EINVAL);
    probe_err(&[], EINVAL);
    // A complete reply with a bad header fails with the header's errno.
    let mut d = one();
    d.version = 2;
    probe_err(&d.to_bytes(), EINVAL);
}

#[test]
fn probe_announced_size_range() {
    for size in [FIRST + 1, FIRST + 24, 1 << 20, MAX_BYTES - 1, MAX_BYTES] {
        let p = probe(&announcement(size as u32)).unwrap();
        assert_eq!(p, Probe::Announce(size));
    }
    for size in [1, HDR, 56, FIRST - 1, FIRST] {
        probe_err(&announcement(size as u32), EPROTO);
    }
    for size in [MAX_BYTES + 1, MAX_BYTES * 2, u32::MAX as usize] {
        probe_err(&announcement(size as u32), E2BIG);
    }
}

#[test]
fn probe_announcement_is_header_only() {
    let size = 2 * FIRST as u32;
    assert_eq!(
        probe(&announcement(size)).unwrap(),
        Probe::Announce(size as usize)
    );
    // The header and its extent, or a header and any byte more.
    let mut d = one();
    d.reserved0 = size;
    probe_err(&d.to_bytes(), EPROTO);
    let mut b = announcement(size);
    b.push(0);
    probe_err(&b, EPROTO);
    let mut b = announcement(size);
    b.resize(FIRST, 0);
    probe_err(&b, EPROTO);
}

/// An announcement's header obeys every header rule with that rule's own
/// errno (include/uapi/linux/famfs_fmap.h): only the exchange itself has
/// EPROTO rules.
#[test]
fn probe_announcement_header_rules_keep_their_errno() {
    let size = 2 * FIRST as u32;
    let mut cases = Vec::new();
    let mut d = one();
    d.reserved0 = size;
    d.version = 2;
    cases.push((d.header_bytes(), EINVAL));
    let mut d = one();
    d.reserved0 = size;
    d.reserved1 = 1;
    cases.push((d.header_bytes(), EINVAL));
    let mut d = one();
    d.reserved0 = size;
    d.file_type = 9;
    cases.push((d.header_bytes(), EINVAL));
    let mut d = one();
    d.reserved0 = size;
    d.nextents = 0;
    cases.push((d.header_bytes(), ERANGE));
    for (b, errno) in cases {
        assert_eq!(b.len(), HDR);
        probe_err(&b, errno);
    }
}

#[test]
fn check_second_size() {
    for size in [FIRST + 1, 8192, MAX_BYTES] {
        assert!(check_second(size, size).is_ok());
        for got in [0, HDR, size - 1, size + 1, FIRST] {
            let e = check_second(got, size).unwrap_err();
            assert_eq!(e.errno.num(), EPROTO);
            assert!(!e.reason.is_empty());
        }
    }
}

/// The whole exchange for an fmap bigger than the first reply.
#[test]
fn large_fmap_exchange() {
    let n = 200u64;
    let exts = (0..n)
        .map(|i| SExt::new((i % 24) as u32, (i / 24) * 4 * MIB, 4 * MIB))
        .collect();
    let full = Desc::simple(n * 4 * MIB - 5, exts);
    let bytes = full.to_bytes();
    assert!(bytes.len() > FIRST);
    let mut ann = full.clone();
    ann.reserved0 = bytes.len() as u32;
    let p = probe(&ann.header_bytes()).unwrap();
    assert_eq!(p, Probe::Announce(bytes.len()));
    check_second(bytes.len(), bytes.len()).unwrap();
    accept(&full);
    // The second reply announcing again.
    reject(&ann.to_bytes(), EPROTO);
    let e = check_second(bytes.len() - EXT, bytes.len()).unwrap_err();
    assert_eq!(e.errno.num(), EPROTO);
}

// ---------------------------------------------------------------------------
// Devices and resolve
// ---------------------------------------------------------------------------

#[test]
fn twenty_four_devices_simple() {
    // Extent i on device 23 - i, at offsets that differ per device, plus
    // extents placed lower on some devices after higher ones.
    let mut exts: Vec<SExt> = (0..24u64)
        .map(|i| SExt::new(23 - i as u32, (i * 3 + 1) * ALIGN, (1 + i % 3) * ALIGN))
        .collect();
    exts.push(SExt::new(23, 0, ALIGN)); // below its first extent
    exts.push(SExt::new(0, 1000 * ALIGN, ALIGN)); // above
    let total: u64 = exts.iter().map(|e| e.len).sum();
    let d = Desc::simple(total - 1, exts.clone());
    let f = accept(&d);
    // devices(): every device, its highest end, worked out by hand.
    let mut want: Vec<(u32, u64)> = (0..24u64)
        .map(|i| ((23 - i) as u32, (i * 3 + 1 + 1 + i % 3) * ALIGN))
        .collect();
    want.sort();
    want[0].1 = 1001 * ALIGN;
    assert_eq!(f.devices().collect::<Vec<_>>(), want);
    // Each extent's first and last byte, computed from the list above.
    let mut pos = 0;
    for e in &exts {
        let m = f.resolve(pos, u64::MAX).unwrap();
        assert_eq!(
            (m.devindex, m.dev_offset, m.length),
            (e.devindex, e.offset, e.len)
        );
        let last = (pos + e.len - 1).min(d.file_size - 1);
        let m = f.resolve(last, u64::MAX).unwrap();
        assert_eq!(
            (m.devindex, m.dev_offset),
            (e.devindex, e.offset + last - pos)
        );
        pos += e.len;
    }
    assert_eq!(f.resolve(0, 1).unwrap().devindex, 23);
}

#[test]
fn twenty_four_devices_interleaved() {
    // 32 strips, 2 MiB chunks: strip j on device j % 24, the last 8 strips
    // reusing devices 0..8 higher up. 3 stripes.
    let strips: Vec<SExt> = (0..32u64)
        .map(|j| SExt::new((j % 24) as u32, (j / 24) * 100 * ALIGN, 3 * ALIGN))
        .collect();
    let nbytes = 96 * ALIGN;
    let d = Desc::interleaved(nbytes, vec![IExt::new(ALIGN, nbytes, strips.clone())]);
    let f = accept(&d);
    for c in 0..96u64 {
        let (strip, stripe) = (c % 32, c / 32);
        let s = strips[strip as usize];
        for into in [0, 4096, ALIGN - 1] {
            let m = f.resolve(c * ALIGN + into, u64::MAX).unwrap();
            assert_eq!(m.devindex, (strip % 24) as u32);
            assert_eq!(m.dev_offset, s.offset + stripe * ALIGN + into);
            assert_eq!(m.length, ALIGN - into);
        }
    }
    let devs: Vec<(u32, u64)> = f.devices().collect();
    assert_eq!(devs.len(), 24);
    for (dev, end) in devs {
        let want = if dev < 8 { 103 * ALIGN } else { 3 * ALIGN };
        assert_eq!(end, want, "device {dev}");
    }
}

#[test]
fn resolve_by_hand_simple() {
    let d = Desc::simple(
        5 * MIB,
        vec![SExt::new(3, 10 * MIB, 4 * MIB), SExt::new(5, 0, ALIGN)],
    );
    let f = accept(&d);
    let r = |o, l| {
        let m = f.resolve(o, l).unwrap();
        (m.devindex, m.dev_offset, m.length)
    };
    assert_eq!(r(0, u64::MAX), (3, 10 * MIB, 4 * MIB));
    assert_eq!(r(MIB, u64::MAX), (3, 11 * MIB, 3 * MIB));
    assert_eq!(r(MIB, 100), (3, 11 * MIB, 100));
    assert_eq!(r(4 * MIB - 1, u64::MAX), (3, 14 * MIB - 1, 1));
    // Past file_size up to 6 MiB (file_size rounded up), not further.
    assert_eq!(r(4 * MIB + 1, u64::MAX), (5, 1, ALIGN - 1));
    assert_eq!(r(5 * MIB - 1, u64::MAX), (5, MIB - 1, MIB + 1));
    for o in [5 * MIB, 5 * MIB + 1, 6 * MIB, u64::MAX] {
        assert_eq!(f.resolve(o, 1).unwrap_err().errno.num(), EIO);
    }
    assert_eq!(f.resolve(0, 0).unwrap_err().errno.num(), EINVAL);
}

#[test]
fn resolve_by_hand_interleaved() {
    // 18 MiB in 4 MiB chunks over 3 strips.
    let d = Desc::interleaved(
        18 * MIB,
        vec![IExt::new(
            4 * MIB,
            18 * MIB,
            vec![
                SExt::new(0, 0, 8 * MIB),
                SExt::new(1, 100 * MIB, 6 * MIB),
                SExt::new(2, 200 * MIB, 4 * MIB),
            ],
        )],
    );
    let f = accept(&d);
    let r = |o| {
        let m = f.resolve(o, u64::MAX).unwrap();
        (m.devindex, m.dev_offset, m.length)
    };
    assert_eq!(r(0), (0, 0, 4 * MIB));
    assert_eq!(r(5 * MIB), (1, 101 * MIB, 3 * MIB));
    assert_eq!(r(8 * MIB), (2, 200 * MIB, 4 * MIB));
    assert_eq!(r(13 * MIB), (0, 5 * MIB, 3 * MIB));
    assert_eq!(r(17 * MIB), (1, 105 * MIB, MIB));
    assert_eq!(r(18 * MIB - 1), (1, 106 * MIB - 1, 1));
    assert_eq!(f.resolve(18 * MIB, 1).unwrap_err().errno.num(), EIO);

    // A second extent after it: 6 MiB chunks over 2 strips.
    let mut d2 = d.clone();
    il_mut(&mut d2).push(IExt::new(
        6 * MIB,
        10 * MIB + 1,
        vec![SExt::new(4, 0, 6 * MIB), SExt::new(5, 2 * MIB, 6 * MIB)],
    ));
    d2.nextents = 2;
    d2.file_size = 28 * MIB + 1;
    let f = accept(&d2);
    let r = |o| {
        let m = f.resolve(o, u64::MAX).unwrap();
        (m.devindex, m.dev_offset, m.length)
    };
    assert_eq!(r(17 * MIB), (1, 105 * MIB, MIB));
    assert_eq!(r(18 * MIB), (4, 0, 6 * MIB));
    assert_eq!(r(25 * MIB), (5, 3 * MIB, 5 * MIB));
    // The last byte: 28 MiB + 1 rounds up to 30 MiB.
    assert_eq!(r(28 * MIB), (5, 6 * MIB, ALIGN));
    assert_eq!(f.resolve(28 * MIB + 1, 1).unwrap_err().errno.num(), EIO);
}
