// SPDX-License-Identifier: GPL-2.0

//! Test support shared by the integration tests, the corpus generator and
//! the fuzz target.
//!
//! Everything in this file is written from the wire format documented in
//! `include/uapi/linux/famfs_fmap.h`, independently of `rust/fmap.rs`:
//!
//! - a *builder* ([`Desc`], [`SExt`], [`IExt`]) that serializes fmaps, with
//!   every field (reserved ones included) settable, so tests can build both
//!   valid fmaps and near misses;
//! - a deliberately naive *reference model* ([`lookup`], [`dev_ends`],
//!   [`strip_need_naive`]) that resolves a file offset by walking the
//!   extents one after the other;
//! - a naive *spec checker* ([`spec_check`]) that lists every rule of the
//!   uapi header a byte string breaks, with the errno of each.
//!
//! Nothing here calls into `famfs_fmap`; the contract checks that do live in
//! `check.rs`.

#![allow(dead_code)]

pub mod check;

/// 1 MiB.
pub const MIB: u64 = 1 << 20;
/// FAMFS_FMAP_ALIGN.
pub const ALIGN: u64 = 2 * MIB;
/// FAMFS_MAX_DAXDEVS.
pub const NDEVS: u32 = 24;
/// FAMFS_FMAP_MAX_STRIPS.
pub const NSTRIPS_MAX: u32 = 32;
/// FAMFS_FMAP_MAX_EXTENTS.
pub const NEXTENTS_MAX: u32 = 1 << 21;
/// FAMFS_FMAP_MAX_INDEX.
pub const INDEX_MAX: u64 = 1 << 22;
/// FAMFS_FMAP_FIRST_SIZE.
pub const FIRST: usize = 4096;
/// FAMFS_FMAP_MAX_SIZE.
pub const MAX_BYTES: usize = 64 << 20;
/// sizeof(struct famfs_fmap_header).
pub const HDR: usize = 32;
/// sizeof(struct famfs_fmap_simple_ext) == sizeof(struct famfs_fmap_interleaved_ext).
pub const EXT: usize = 24;
/// Largest granule of the fault-path index (the design documented in fmap.rs).
pub const GRANULE_MAX: u64 = 1 << 36;

/// errno values (Linux, x86-64, the host), to compare with
/// `Error::errno.num()`.
pub const EIO: i32 = 5;
pub const E2BIG: i32 = 7;
pub const ENOMEM: i32 = 12;
pub const EINVAL: i32 = 22;
pub const ERANGE: i32 = 34;
pub const EPROTO: i32 = 71;
pub const EOVERFLOW: i32 = 75;

/// The host's number for an fmap core errno (which has none of its own:
/// the kernel module maps it to `kernel::error::code`).
pub trait Num {
    fn num(self) -> i32;
}

impl Num for famfs_fmap::Errno {
    fn num(self) -> i32 {
        use famfs_fmap::Errno::*;
        match self {
            Eio => EIO,
            E2big => E2BIG,
            Enomem => ENOMEM,
            Einval => EINVAL,
            Erange => ERANGE,
            Eproto => EPROTO,
            Eoverflow => EOVERFLOW,
        }
    }
}

/// Byte offsets of the header fields.
pub mod off {
    pub const FILE_TYPE: usize = 0;
    pub const RESERVED: usize = 1;
    pub const VERSION: usize = 2;
    pub const EXT_TYPE: usize = 4;
    pub const NEXTENTS: usize = 8;
    pub const RESERVED0: usize = 12;
    pub const FILE_SIZE: usize = 16;
    pub const RESERVED1: usize = 24;
}

/// `v` rounded up to a multiple of 2 MiB, or `None` past 2^64.
pub fn round_up(v: u64) -> Option<u64> {
    v.checked_add(ALIGN - 1).map(|v| v / ALIGN * ALIGN)
}

pub fn round_up_wide(v: u128) -> u128 {
    v.div_ceil(ALIGN as u128) * ALIGN as u128
}

// ---------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------

/// A simple extent, or a strip of an interleaved extent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SExt {
    pub devindex: u32,
    pub reserved: u32,
    pub offset: u64,
    pub len: u64,
}

impl SExt {
    pub fn new(devindex: u32, offset: u64, len: u64) -> Self {
        SExt {
            devindex,
            reserved: 0,
            offset,
            len,
        }
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.devindex.to_le_bytes());
        out.extend_from_slice(&self.reserved.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
    }
}

/// An interleaved extent with its strips. `nstrips` is written as is (the
/// constructor sets it to `strips.len()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IExt {
    pub nstrips: u32,
    pub chunk_size: u32,
    pub nbytes: u64,
    pub reserved: u64,
    pub strips: Vec<SExt>,
}

impl IExt {
    pub fn new(chunk_size: u64, nbytes: u64, strips: Vec<SExt>) -> Self {
        IExt {
            nstrips: strips.len() as u32,
            chunk_size: u32::try_from(chunk_size).expect("chunk_size fits u32"),
            nbytes,
            reserved: 0,
            strips,
        }
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.nstrips.to_le_bytes());
        out.extend_from_slice(&self.chunk_size.to_le_bytes());
        out.extend_from_slice(&self.nbytes.to_le_bytes());
        out.extend_from_slice(&self.reserved.to_le_bytes());
        for s in &self.strips {
            s.write(out);
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Simple(Vec<SExt>),
    Interleaved(Vec<IExt>),
}

impl Body {
    pub fn len(&self) -> usize {
        match self {
            Body::Simple(v) => v.len(),
            Body::Interleaved(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A whole fmap, every header field settable. `nextents` and `ext_type`
/// are written as given (the constructors derive them from `body`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desc {
    pub file_type: u8,
    pub reserved: u8,
    pub version: u16,
    pub ext_type: u32,
    pub nextents: u32,
    pub reserved0: u32,
    pub file_size: u64,
    pub reserved1: u64,
    pub body: Body,
}

impl Desc {
    pub fn simple(file_size: u64, exts: Vec<SExt>) -> Self {
        Desc {
            file_type: 0,
            reserved: 0,
            version: 1,
            ext_type: 0,
            nextents: exts.len() as u32,
            reserved0: 0,
            file_size,
            reserved1: 0,
            body: Body::Simple(exts),
        }
    }

    pub fn interleaved(file_size: u64, exts: Vec<IExt>) -> Self {
        Desc {
            ext_type: 1,
            nextents: exts.len() as u32,
            body: Body::Interleaved(exts),
            ..Desc::simple(file_size, Vec::new())
        }
    }

    /// The 32-byte header alone.
    pub fn header_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HDR);
        out.push(self.file_type);
        out.push(self.reserved);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.ext_type.to_le_bytes());
        out.extend_from_slice(&self.nextents.to_le_bytes());
        out.extend_from_slice(&self.reserved0.to_le_bytes());
        out.extend_from_slice(&self.file_size.to_le_bytes());
        out.extend_from_slice(&self.reserved1.to_le_bytes());
        assert_eq!(out.len(), HDR);
        out
    }

    /// The whole message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header_bytes();
        match &self.body {
            Body::Simple(v) => v.iter().for_each(|e| e.write(&mut out)),
            Body::Interleaved(v) => v.iter().for_each(|e| e.write(&mut out)),
        }
        out
    }

    /// Sum of the extent lengths (`nbytes` for interleaved extents).
    pub fn total(&self) -> u128 {
        match &self.body {
            Body::Simple(v) => v.iter().map(|e| e.len as u128).sum(),
            Body::Interleaved(v) => v.iter().map(|e| e.nbytes as u128).sum(),
        }
    }

    /// `file_size` rounded up to 2 MiB (as u128: never overflows).
    pub fn limit(&self) -> u128 {
        round_up_wide(self.file_size as u128)
    }
}

// ---------------------------------------------------------------------------
// Reference model
// ---------------------------------------------------------------------------

/// Where the model puts one file offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub devindex: u32,
    pub dev_offset: u64,
    /// Device range of the extent or strip holding the offset.
    pub dev_start: u64,
    pub dev_end: u128,
    /// End (exclusive) of the file range that is contiguous on the device
    /// from the offset: the end of the extent, or of the chunk.
    pub file_end: u128,
    pub extent: usize,
    pub strip: Option<usize>,
}

/// Resolves `offset` by walking the extents one by one. Only meaningful for
/// a valid `desc`; offsets up to the 2 MiB-rounded end of the last extent
/// are found, anything past it gives `None`.
pub fn lookup(desc: &Desc, offset: u64) -> Option<Hit> {
    let x = offset as u128;
    let mut pos: u128 = 0;
    match &desc.body {
        Body::Simple(exts) => {
            for (i, e) in exts.iter().enumerate() {
                let end = pos + e.len as u128;
                if x >= pos && x < end {
                    return Some(Hit {
                        devindex: e.devindex,
                        dev_offset: (e.offset as u128 + (x - pos)) as u64,
                        dev_start: e.offset,
                        dev_end: e.offset as u128 + e.len as u128,
                        file_end: end,
                        extent: i,
                        strip: None,
                    });
                }
                pos = end;
            }
            None
        }
        Body::Interleaved(exts) => {
            for (i, e) in exts.iter().enumerate() {
                // Only the last extent may end off 2 MiB; the file (and so
                // its last extent) reaches up to the next 2 MiB boundary.
                let end = round_up_wide(pos + e.nbytes as u128);
                if x >= pos && x < end {
                    let local = x - pos;
                    let chunk = e.chunk_size as u128;
                    let nstrips = e.strips.len() as u128;
                    let chunk_num = local / chunk;
                    let stripe = chunk_num / nstrips;
                    let strip = (chunk_num % nstrips) as usize;
                    let s = &e.strips[strip];
                    let chunk_end = pos + (chunk_num + 1) * chunk;
                    return Some(Hit {
                        devindex: s.devindex,
                        dev_offset: (s.offset as u128 + stripe * chunk + local % chunk) as u64,
                        dev_start: s.offset,
                        dev_end: s.offset as u128 + s.len as u128,
                        file_end: chunk_end.min(end),
                        extent: i,
                        strip: Some(strip),
                    });
                }
                pos += e.nbytes as u128;
            }
            None
        }
    }
}

/// Per device, the highest device byte (exclusive) any extent or strip uses;
/// 0 for unused devices.
pub fn dev_ends(desc: &Desc) -> [u64; NDEVS as usize] {
    let mut out = [0u64; NDEVS as usize];
    let mut note = |s: &SExt| {
        let end = s.offset + s.len;
        let d = &mut out[s.devindex as usize];
        *d = (*d).max(end);
    };
    match &desc.body {
        Body::Simple(v) => v.iter().for_each(&mut note),
        Body::Interleaved(v) => v.iter().flat_map(|e| e.strips.iter()).for_each(&mut note),
    }
    out
}

/// Bytes each strip of an interleaved extent must hold, found by dealing
/// the chunks out one at a time. The extent covers `nbytes` rounded up to
/// 2 MiB. Loops once per chunk: for small extents only.
pub fn strip_need_naive(nbytes: u64, chunk: u64, nstrips: u32) -> Vec<u64> {
    let n = round_up(nbytes).expect("small extent");
    let mut need = vec![0u64; nstrips as usize];
    let mut c: u64 = 0;
    while c * chunk < n {
        let strip = (c % nstrips as u64) as usize;
        let stripe = c / nstrips as u64;
        let used = chunk.min(n - c * chunk);
        need[strip] = need[strip].max(stripe * chunk + used);
        c += 1;
    }
    need
}

/// The same as [`strip_need_naive`] for any size: strip `j` holds chunks
/// `j, j + ns, j + 2 ns, ...`; what it needs is set by the last of them.
/// `None` if the extent rounded up to 2 MiB is past 2^64.
pub fn strip_need(nbytes: u64, chunk: u64, nstrips: u32, j: u32) -> Option<u128> {
    let n = round_up(nbytes)? as u128;
    let (chunk, ns, j) = (chunk as u128, nstrips as u128, j as u128);
    let chunks = n.div_ceil(chunk);
    if j >= chunks {
        return Some(0);
    }
    // Highest chunk index < chunks that is j modulo ns.
    let last_on_j = j + (chunks - 1 - j) / ns * ns;
    let stripe = last_on_j / ns;
    let bytes_in_last = (n - last_on_j * chunk).min(chunk);
    Some(stripe * chunk + bytes_in_last)
}

/// Entries of the fault-path index, per the design documented in fmap.rs:
/// none for an fmap whose file lies in one interleaved extent; otherwise one
/// per granule of the file (`file_size` rounded up to 2 MiB), the granule
/// being the largest power of two up to 64 GiB dividing every extent
/// boundary inside the file.
pub fn index_entries(desc: &Desc) -> u128 {
    let limit = desc.limit();
    let fs = desc.file_size as u128;
    let lens: Vec<u128> = match &desc.body {
        Body::Simple(v) => v.iter().map(|e| e.len as u128).collect(),
        Body::Interleaved(v) => v.iter().map(|e| e.nbytes as u128).collect(),
    };
    let mut starts = Vec::new();
    let mut pos = 0u128;
    for l in &lens {
        starts.push(pos);
        pos += l;
    }
    let used = starts.iter().filter(|&&s| s < fs).count();
    if matches!(desc.body, Body::Interleaved(_)) && used <= 1 {
        return 0;
    }
    let mut granule = GRANULE_MAX as u128;
    let mut pos = 0u128;
    for l in &lens {
        pos += l;
        if pos < fs {
            while !pos.is_multiple_of(granule) {
                granule /= 2;
            }
        }
    }
    limit.div_ceil(granule)
}

// ---------------------------------------------------------------------------
// Naive spec checker
// ---------------------------------------------------------------------------

/// What [`spec_check`] found.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The errno of every rule the bytes break (empty: a valid fmap).
    pub violations: Vec<i32>,
    /// The decoded fmap when `violations` is empty.
    pub desc: Option<Desc>,
}

struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Rd<'_> {
    fn left(&self) -> usize {
        self.b.len() - self.pos
    }
    fn u32(&mut self) -> u32 {
        let v = u32::from_le_bytes(self.b[self.pos..self.pos + 4].try_into().unwrap());
        self.pos += 4;
        v
    }
    fn u64(&mut self) -> u64 {
        let v = u64::from_le_bytes(self.b[self.pos..self.pos + 8].try_into().unwrap());
        self.pos += 8;
        v
    }
    fn sext(&mut self) -> SExt {
        SExt {
            devindex: self.u32(),
            reserved: self.u32(),
            offset: self.u64(),
            len: self.u64(),
        }
    }
}

fn sext_violations(s: &SExt, v: &mut Vec<i32>) {
    if s.devindex >= NDEVS {
        v.push(ERANGE);
    }
    if s.reserved != 0 {
        v.push(EINVAL);
    }
    if !s.offset.is_multiple_of(ALIGN) || !s.len.is_multiple_of(ALIGN) || s.len == 0 {
        v.push(EINVAL);
    }
    if s.offset.checked_add(s.len).is_none() {
        v.push(EOVERFLOW);
    }
}

/// Every rule of `include/uapi/linux/famfs_fmap.h` a complete GET_FMAP
/// reply breaks, checked one field at a time (no early exit once the
/// structure is known), plus the fault-path index limit.
pub fn spec_check(bytes: &[u8]) -> Verdict {
    let mut v = Vec::new();
    if bytes.len() < HDR {
        return Verdict {
            violations: vec![EINVAL],
            desc: None,
        };
    }
    let file_type = bytes[0];
    let reserved = bytes[1];
    let version = u16::from_le_bytes([bytes[2], bytes[3]]);
    let mut rd = Rd { b: bytes, pos: 4 };
    let ext_type = rd.u32();
    let nextents = rd.u32();
    let reserved0 = rd.u32();
    let file_size = rd.u64();
    let reserved1 = rd.u64();
    if file_type > 2 || reserved != 0 || version != 1 || ext_type > 1 || reserved1 != 0 {
        v.push(EINVAL);
    }
    if reserved0 != 0 {
        v.push(EPROTO);
    }
    if round_up(file_size).is_none() {
        // The file would end past 2^64 once rounded to 2 MiB; extents that
        // covered it would sum past 2^64.
        v.push(EOVERFLOW);
    }
    let n_ok = nextents != 0 && nextents <= NEXTENTS_MAX;
    if !n_ok {
        v.push(ERANGE);
    }
    if ext_type > 1 || !n_ok {
        // The rest cannot be read without a valid ext_type and count.
        return Verdict {
            violations: v,
            desc: None,
        };
    }
    let mut sum: Option<u64> = Some(0);
    let mut complete = true;
    let body = if ext_type == 0 {
        let need = HDR as u128 + nextents as u128 * EXT as u128;
        if (bytes.len() as u128) != need {
            v.push(EINVAL); // truncated, or trailing bytes
        }
        let mut exts = Vec::new();
        while exts.len() < nextents as usize && rd.left() >= EXT {
            let e = rd.sext();
            sext_violations(&e, &mut v);
            sum = sum.and_then(|s| s.checked_add(e.len));
            exts.push(e);
        }
        complete = exts.len() == nextents as usize;
        Body::Simple(exts)
    } else {
        let mut exts = Vec::new();
        'outer: for i in 0..nextents {
            if rd.left() < EXT {
                v.push(EINVAL);
                complete = false;
                break;
            }
            let nstrips = rd.u32();
            let chunk = rd.u32() as u64;
            let nbytes = rd.u64();
            let res = rd.u64();
            let last = i + 1 == nextents;
            let chunk_ok = chunk != 0 && chunk.is_multiple_of(ALIGN);
            if !chunk_ok {
                v.push(EINVAL);
            }
            if nbytes == 0 || (!last && !nbytes.is_multiple_of(ALIGN)) || res != 0 {
                v.push(EINVAL);
            }
            if nstrips == 0 || nstrips > NSTRIPS_MAX {
                v.push(ERANGE);
                complete = false;
                break; // where the next extent starts is unknown
            }
            sum = sum.and_then(|s| s.checked_add(nbytes));
            if round_up(nbytes).is_none() {
                v.push(EOVERFLOW);
            }
            let mut strips = Vec::new();
            for j in 0..nstrips {
                if rd.left() < EXT {
                    v.push(EINVAL);
                    complete = false;
                    break 'outer;
                }
                let s = rd.sext();
                sext_violations(&s, &mut v);
                if chunk_ok && nbytes != 0 {
                    if let Some(need) = strip_need(nbytes, chunk, nstrips, j) {
                        if (s.len as u128) < need {
                            v.push(EINVAL);
                        }
                    }
                }
                strips.push(s);
            }
            exts.push(IExt {
                nstrips,
                chunk_size: chunk as u32,
                nbytes,
                reserved: res,
                strips,
            });
        }
        if complete && rd.left() != 0 {
            v.push(EINVAL); // trailing bytes
        }
        Body::Interleaved(exts)
    };
    match sum {
        None => v.push(EOVERFLOW),
        Some(s) => {
            if complete && s < file_size {
                v.push(EINVAL);
            }
            // The sum of nbytes, rounded up to 2 MiB, must fit in u64.
            if round_up(s).is_none() {
                v.push(EOVERFLOW);
            }
        }
    }
    let desc = Desc {
        file_type,
        reserved,
        version,
        ext_type,
        nextents,
        reserved0,
        file_size,
        reserved1,
        body,
    };
    if v.is_empty() && index_entries(&desc) > INDEX_MAX as u128 {
        v.push(E2BIG);
    }
    let desc = v.is_empty().then_some(desc);
    Verdict {
        violations: v,
        desc,
    }
}

// ---------------------------------------------------------------------------
// A tiny deterministic PRNG for tests, the corpus generator and benchmarks.
// ---------------------------------------------------------------------------

/// xorshift64*.
#[derive(Clone, Debug)]
pub struct XorShift(pub u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
