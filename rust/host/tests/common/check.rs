// SPDX-License-Identifier: GPL-2.0

//! Contract checks on `famfs_fmap`, shared by the property tests, the corpus
//! replay test and the fuzz target (which includes `../mod.rs` by path).
//!
//! [`check_input`] is what the fuzzer runs on every input: `probe` and
//! `parse` must not panic, an accepted fmap must be one the naive spec
//! checker finds valid, a rejected one must break a rule whose errno is the
//! one returned, and every resolve must keep the contract and agree with the
//! naive model.

use super::*;
use famfs_fmap::{Error, Fmap, Mapping, Probe};

/// The host instantiation of the fmap.
pub type F = Fmap<Vec<u64>>;

/// Parses with a plain `Vec` allocator.
pub fn parse(bytes: &[u8]) -> Result<F, Error> {
    Fmap::parse(bytes, |n| Ok(vec![0u64; n]))
}

/// `file_size` of `f` rounded up to 2 MiB.
pub fn limit_of(f: &F) -> u128 {
    (f.file_size() as u128).div_ceil(ALIGN as u128) * ALIGN as u128
}

/// Resolves and checks the contract that needs no model: a mapping for
/// every offset below `file_size`, `1 <= length <= len`, not past
/// `file_size` rounded up to 2 MiB, on a device `devices()` lists and
/// inside `[0, end)` of it.
pub fn check_contract(f: &F, off: u64, len: u64) -> Mapping {
    let m = match f.resolve(off, len) {
        Ok(m) => m,
        Err(e) => panic!(
            "resolve({off:#x}, {len:#x}) failed below file_size {:#x}: {e}",
            f.file_size()
        ),
    };
    assert!(
        m.length >= 1 && m.length <= len,
        "resolve({off:#x}, {len:#x}) length {:#x} out of bounds",
        m.length
    );
    assert!(
        off as u128 + m.length as u128 <= limit_of(f),
        "resolve({off:#x}, {len:#x}) = {m:?} runs past file_size {:#x} rounded up",
        f.file_size()
    );
    assert!(m.devindex < NDEVS, "devindex {} out of range", m.devindex);
    let end = f
        .devices()
        .find(|&(d, _)| d == m.devindex)
        .map(|(_, end)| end)
        .unwrap_or_else(|| panic!("resolve({off:#x}) = {m:?} on a device devices() omits"));
    assert!(
        m.dev_offset as u128 + m.length as u128 <= end as u128,
        "resolve({off:#x}, {len:#x}) = {m:?} runs past device end {end:#x}"
    );
    m
}

/// Resolves and checks the contract and the model: same device and device
/// offset as the naive walk, and the mapping stays inside the extent or
/// strip, and inside the chunk, the model finds.
pub fn check_model(f: &F, desc: &Desc, off: u64, len: u64) -> Mapping {
    let m = check_contract(f, off, len);
    let hit = lookup(desc, off)
        .unwrap_or_else(|| panic!("model has no mapping for {off:#x} below file_size"));
    assert_eq!(
        (m.devindex, m.dev_offset),
        (hit.devindex, hit.dev_offset),
        "resolve({off:#x}, {len:#x}) = {m:?}, model says {hit:?}"
    );
    assert!(
        off as u128 + m.length as u128 <= hit.file_end,
        "resolve({off:#x}, {len:#x}) = {m:?} crosses the extent/chunk end {:#x} ({hit:?})",
        hit.file_end
    );
    assert!(
        m.dev_offset >= hit.dev_start && m.dev_offset as u128 + m.length as u128 <= hit.dev_end,
        "resolve({off:#x}, {len:#x}) = {m:?} leaves its extent/strip {hit:?}"
    );
    m
}

/// The fmap-level facts the model knows: header fields, `file_size`,
/// `devices()` (each device's highest end over every extent and strip),
/// and `EIO` / `EINVAL` from `resolve` where due.
pub fn check_fmap_level(f: &F, desc: &Desc) {
    assert_eq!(f.file_size(), desc.file_size);
    let h = f.header();
    assert_eq!(h.nextents, desc.nextents);
    assert_eq!(h.file_size, desc.file_size);
    assert_eq!(h.reserved0, 0);
    assert_eq!(
        h.ext_type,
        if desc.ext_type == 0 {
            famfs_fmap::ExtType::Simple
        } else {
            famfs_fmap::ExtType::Interleaved
        }
    );
    let ft = match desc.file_type {
        0 => famfs_fmap::FileType::Regular,
        1 => famfs_fmap::FileType::Superblock,
        _ => famfs_fmap::FileType::Log,
    };
    assert_eq!(h.file_type, ft);
    let want: Vec<(u32, u64)> = dev_ends(desc)
        .iter()
        .enumerate()
        .filter(|(_, &e)| e != 0)
        .map(|(d, &e)| (d as u32, e))
        .collect();
    let got: Vec<(u32, u64)> = f.devices().collect();
    assert_eq!(got, want, "devices()");
    for off in [desc.file_size, desc.file_size.saturating_add(1), u64::MAX] {
        if off >= desc.file_size {
            let e = f.resolve(off, 1).expect_err("resolve at or past file_size");
            assert_eq!(e.errno.num(), EIO);
            assert!(!e.reason.is_empty());
        }
    }
    if desc.file_size > 0 {
        let e = f.resolve(0, 0).expect_err("zero-length resolve");
        assert_eq!(e.errno.num(), EINVAL);
    }
}

/// A spread of `(offset, len)` pairs below `file_size`: the first and last
/// bytes, 2 MiB multiples at the start, end and evenly through the file,
/// and offsets and lengths derived from `data`.
pub fn spread(file_size: u64, data: &[u8]) -> Vec<(u64, u64)> {
    if file_size == 0 {
        return Vec::new();
    }
    let fs = file_size;
    let blocks = fs.div_ceil(ALIGN);
    let mut offs = vec![0, 1, 4095, 4096, ALIGN - 1, ALIGN, ALIGN + 1, 3 * ALIGN - 7];
    offs.extend([fs - 1, fs.saturating_sub(2), fs.saturating_sub(4096)]);
    offs.extend([fs.saturating_sub(ALIGN), (fs - 1) / ALIGN * ALIGN]);
    for b in 0..blocks.min(8) {
        offs.push(b * ALIGN);
        offs.push((blocks - 1 - b) * ALIGN);
        offs.push((blocks - 1 - b) * ALIGN + ALIGN - 1);
    }
    for k in 0..32u64 {
        let b = (blocks as u128 * k as u128 / 32) as u64;
        offs.push(b * ALIGN);
        offs.push((b * ALIGN).saturating_sub(1));
    }
    let words: Vec<u64> = data
        .chunks(8)
        .take(16)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect();
    for &w in &words {
        offs.push(w % fs);
        offs.push((w.rotate_left(17) % blocks) * ALIGN);
    }
    offs.retain(|&o| o < fs);
    offs.sort_unstable();
    offs.dedup();
    let mut lens = vec![1, 4096, ALIGN, u64::MAX, 3 * ALIGN + 5, ALIGN - 1];
    lens.extend(words.iter().map(|w| w.rotate_right(7) | 1));
    let mut out = Vec::with_capacity(offs.len() * 2);
    for (i, &o) in offs.iter().enumerate() {
        out.push((o, u64::MAX));
        out.push((o, lens[i % lens.len()]));
    }
    out
}

/// Checks `probe` on `data` as a first GET_FMAP reply: no panic, and an
/// answer consistent with the bytes.
pub fn check_probe(data: &[u8]) {
    let reserved0 = (data.len() >= HDR)
        .then(|| u32::from_le_bytes(data[off::RESERVED0..off::RESERVED0 + 4].try_into().unwrap()));
    match famfs_fmap::probe(data) {
        Ok(Probe::Complete) => {
            assert_eq!(reserved0, Some(0), "probe: Complete with reserved0 != 0");
        }
        Ok(Probe::Announce(size)) => {
            assert_eq!(data.len(), HDR, "probe: announcement longer than a header");
            assert_eq!(Some(size as u32), reserved0, "probe: size not reserved0");
            assert!(size > FIRST && size <= MAX_BYTES, "probe: size {size}");
            // The header must be valid apart from reserved0.
            let mut h = data.to_vec();
            h[off::RESERVED0..off::RESERVED0 + 4].fill(0);
            assert!(
                famfs_fmap::parse_header(&h).is_ok(),
                "probe: announcement with an invalid header accepted"
            );
            assert!(famfs_fmap::check_second(size, size).is_ok());
            let e = famfs_fmap::check_second(size - 1, size).unwrap_err();
            assert_eq!(e.errno.num(), EPROTO);
        }
        Err(e) => {
            assert!(!e.reason.is_empty());
            assert!(
                [EINVAL, ERANGE, EPROTO, E2BIG].contains(&(e.errno.num())),
                "probe: errno {:?}",
                e.errno
            );
            if reserved0 == Some(0) {
                // A complete reply fails only for its header.
                assert!(famfs_fmap::parse_header(data).is_err(), "probe: {e}");
            }
        }
    }
}

/// The whole check the fuzz target and the corpus replay run on one input.
pub fn check_input(data: &[u8]) {
    check_probe(data);
    let verdict = spec_check(data);
    match parse(data) {
        Ok(f) => {
            assert!(
                verdict.violations.is_empty(),
                "parse accepted an fmap breaking rules with errnos {:?}",
                verdict.violations
            );
            let desc = verdict.desc.expect("valid fmap decoded");
            check_fmap_level(&f, &desc);
            for (o, l) in spread(f.file_size(), data) {
                check_model(&f, &desc, o, l);
            }
        }
        Err(e) => {
            assert!(!e.reason.is_empty(), "empty reason for {e:?}");
            assert!(
                verdict.violations.contains(&(e.errno.num())),
                "parse rejected with {:?} ({e}), but the rules broken have errnos {:?}",
                e.errno,
                verdict.violations
            );
        }
    }
}
