// SPDX-License-Identifier: GPL-2.0

//! The famfs fmap core: parse, validate and resolve fmaps.
//!
//! This file is pure logic. It is compiled into `famfs_rs.ko` (as the `fmap`
//! module of the crate) and, unchanged, into the host crate `famfs-fmap`
//! under `rust/host/`, where it is unit-tested, property-tested, fuzzed and
//! benchmarked. It uses only `core`, never panics on any input, contains no
//! `unsafe`, and allocates nothing itself: the caller passes an allocator for
//! the one array an fmap needs, so the kernel can use `KVVec` and the host
//! `Vec`.
//!
//! The wire format and its rules are documented in
//! `include/uapi/linux/famfs_fmap.h`; every rule there is enforced here.
//!
//! # Fault-path index
//!
//! A parsed [`Fmap`] resolves a file offset with a constant number of memory
//! loads, whatever the number of extents:
//!
//! - Simple extents: the file (up to `file_size` rounded up to 2 MiB) is cut
//!   into granules of `2^shift` bytes, where `2^shift` is the largest power of
//!   two (at most [`MAX_GRANULE_SHIFT`]) that divides every extent boundary
//!   inside the file. A granule therefore lies inside one extent and maps to
//!   one contiguous device range. The table holds one packed `u64` per
//!   granule: the device offset of the granule (2 MiB aligned, so its low 21
//!   bits are free), the number of 2 MiB blocks left in the extent from the
//!   granule start (16 bits, saturating) and the device index (5 bits).
//!   A lookup is a shift and one table load. One extent costs one entry; a
//!   million 2 MiB extents cost 8 MiB; an fmap that would need more than
//!   [`MAX_INDEX`] entries is refused with `E2BIG`.
//! - One interleaved extent (the layout famfs servers produce): pure
//!   arithmetic on the chunk size and strip count, then one load of the
//!   strip's packed base.
//! - Several interleaved extents: a granule table as above whose entries
//!   point to per-extent records, then the arithmetic (three dependent loads).

#![forbid(unsafe_code)]

use core::fmt;
use core::ops::{Deref, DerefMut};

/// Extent offsets, lengths and chunk sizes must be multiples of this (2 MiB).
pub const ALIGN: u64 = 2 << 20;
const ALIGN_SHIFT: u32 = 21;
/// Size of the daxdev table a connection keeps; `devindex` must be below it.
pub const MAX_DAXDEVS: usize = 24;
/// Most strips an interleaved extent may have.
pub const MAX_STRIPS: u32 = 32;
/// Most extents an fmap may have.
pub const MAX_EXTENTS: u32 = 1 << 21;
/// Most entries of the fault-path index (8 bytes each).
pub const MAX_INDEX: usize = 1 << 22;
/// Largest granule of the fault-path index, as a shift (64 GiB).
pub const MAX_GRANULE_SHIFT: u32 = 36;
/// Size of the first GET_FMAP reply buffer (what V10 servers expect).
pub const FIRST_SIZE: usize = 4096;
/// Largest fmap the kernel fetches.
pub const MAX_SIZE: usize = 64 << 20;
/// Size of the fmap header on the wire.
pub const HEADER_SIZE: usize = 32;
/// Size of a simple extent, a strip, or an interleaved extent header.
pub const EXT_SIZE: usize = 24;
/// The only `fmap_version` there is.
pub const VERSION: u16 = 1;

const RUN_MAX: u64 = 0xffff;
const RUN_SHIFT: u32 = 5;
const DEV_MASK: u64 = 0x1f;

/// The errno a rejected fmap fails the open() with. A name, not a number:
/// errno values differ between architectures (alpha, mips, parisc and
/// sparc have their own), so the kernel module maps each to
/// `kernel::error::code` and the host crate to the values of its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errno {
    /// I/O error: offset past the end of the file.
    Eio,
    /// Argument list too long: the fmap is larger than we accept.
    E2big,
    /// Out of memory for the index.
    Enomem,
    /// Malformed fmap.
    Einval,
    /// A count out of range.
    Erange,
    /// Protocol error in the large-fmap exchange.
    Eproto,
    /// Arithmetic past 2^64.
    Eoverflow,
}

/// Why an fmap was rejected: an errno and a reason for the kernel log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    /// The errno the open() fails with.
    pub errno: Errno,
    /// A short, fixed description of the rule that was broken.
    pub reason: &'static str,
    /// The extent the rule was broken in, if any.
    pub extent: Option<u32>,
    /// The strip of that extent, if any.
    pub strip: Option<u32>,
    /// The offending value.
    pub value: u64,
}

impl Error {
    const fn new(errno: Errno, reason: &'static str, value: u64) -> Self {
        Error {
            errno,
            reason,
            extent: None,
            strip: None,
            value,
        }
    }

    const fn at(mut self, extent: u32, strip: Option<u32>) -> Self {
        self.extent = Some(extent);
        self.strip = strip;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = self.extent {
            write!(f, "extent {e}: ")?;
        }
        if let Some(s) = self.strip {
            write!(f, "strip {s}: ")?;
        }
        write!(f, "{} (value {:#x})", self.reason, self.value)
    }
}

/// Result type of this module.
pub type Result<T> = core::result::Result<T, Error>;

fn einval(reason: &'static str, value: u64) -> Error {
    Error::new(Errno::Einval, reason, value)
}

/// `file_type` of the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// A regular file.
    Regular,
    /// The famfs superblock file.
    Superblock,
    /// The famfs log file.
    Log,
}

/// `ext_type` of the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtType {
    /// Simple extents.
    Simple,
    /// Interleaved extents with strips.
    Interleaved,
}

/// A validated fmap header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Kind of file.
    pub file_type: FileType,
    /// Kind of extents.
    pub ext_type: ExtType,
    /// Number of extents, in `1..=MAX_EXTENTS`.
    pub nextents: u32,
    /// Zero, or the full size in a large-fmap announcement.
    pub reserved0: u32,
    /// Size of the file in bytes.
    pub file_size: u64,
}

/// Little-endian reader over untrusted bytes: no unaligned loads, no
/// transmutes, every read bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let end = self.pos.checked_add(N);
        let chunk = end.and_then(|end| self.bytes.get(self.pos..end));
        match chunk {
            Some(c) => {
                let mut out = [0u8; N];
                out.copy_from_slice(c);
                self.pos += N;
                Ok(out)
            }
            None => Err(einval("reply truncated", self.pos as u64)),
        }
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take()?))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take()?))
    }
}

/// Parses and checks the header alone (everything but `reserved0`).
pub fn parse_header(bytes: &[u8]) -> Result<Header> {
    if bytes.len() < HEADER_SIZE {
        return Err(einval("reply shorter than the header", bytes.len() as u64));
    }
    let mut r = Reader::new(bytes);
    let file_type = match r.u8()? {
        0 => FileType::Regular,
        1 => FileType::Superblock,
        2 => FileType::Log,
        t => return Err(einval("unknown file_type", t.into())),
    };
    let reserved = r.u8()?;
    if reserved != 0 {
        return Err(einval("header reserved field not zero", reserved.into()));
    }
    let version = r.u16()?;
    if version != VERSION {
        return Err(einval("unknown fmap_version", version.into()));
    }
    let ext_type = match r.u32()? {
        0 => ExtType::Simple,
        1 => ExtType::Interleaved,
        t => return Err(einval("unknown ext_type", t.into())),
    };
    let nextents = r.u32()?;
    if nextents == 0 || nextents > MAX_EXTENTS {
        return Err(Error::new(
            Errno::Erange,
            "nextents out of range",
            nextents.into(),
        ));
    }
    let reserved0 = r.u32()?;
    let file_size = r.u64()?;
    let reserved1 = r.u64()?;
    if reserved1 != 0 {
        return Err(einval("header reserved1 not zero", reserved1));
    }
    Ok(Header {
        file_type,
        ext_type,
        nextents,
        reserved0,
        file_size,
    })
}

/// What the first GET_FMAP reply says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The reply is the whole fmap: parse it.
    Complete,
    /// The fmap is this many bytes: fetch it again with a buffer that size.
    Announce(usize),
}

/// Reads the first GET_FMAP reply (at most [`FIRST_SIZE`] bytes).
///
/// A large-fmap announcement is a valid header alone, with `reserved0` set
/// to the full size, which must lie in `FIRST_SIZE + 1..=MAX_SIZE`.
pub fn probe(first: &[u8]) -> Result<Probe> {
    let h = parse_header(first)?;
    if h.reserved0 == 0 {
        return Ok(Probe::Complete);
    }
    let size = h.reserved0 as usize;
    if first.len() != HEADER_SIZE {
        return Err(Error::new(
            Errno::Eproto,
            "large-fmap announcement is not a header alone",
            first.len() as u64,
        ));
    }
    if size <= FIRST_SIZE {
        return Err(Error::new(
            Errno::Eproto,
            "large-fmap announcement of a size that fits the first reply",
            size as u64,
        ));
    }
    if size > MAX_SIZE {
        return Err(Error::new(
            Errno::E2big,
            "large-fmap announcement above the maximum fmap size",
            size as u64,
        ));
    }
    Ok(Probe::Announce(size))
}

/// Checks the second reply of a large-fmap exchange has the announced size.
pub fn check_second(got: usize, announced: usize) -> Result<()> {
    if got != announced {
        return Err(Error::new(
            Errno::Eproto,
            "large-fmap reply not of the announced size",
            got as u64,
        ));
    }
    Ok(())
}

/// A validated simple extent or strip.
#[derive(Clone, Copy)]
struct Ext {
    devindex: u32,
    offset: u64,
    len: u64,
}

fn read_ext(r: &mut Reader<'_>, at: u32, strip: Option<u32>) -> Result<Ext> {
    let devindex = r.u32()?;
    let reserved = r.u32()?;
    let offset = r.u64()?;
    let len = r.u64()?;
    let fail = |e: Error| Err(e.at(at, strip));
    if devindex as usize >= MAX_DAXDEVS {
        return fail(Error::new(
            Errno::Erange,
            "devindex beyond the daxdev table",
            devindex.into(),
        ));
    }
    if reserved != 0 {
        return fail(einval("extent reserved field not zero", reserved.into()));
    }
    if !offset.is_multiple_of(ALIGN) {
        return fail(einval("offset not 2 MiB aligned", offset));
    }
    if len == 0 {
        return fail(einval("zero length", 0));
    }
    if !len.is_multiple_of(ALIGN) {
        return fail(einval("length not a multiple of 2 MiB", len));
    }
    if offset.checked_add(len).is_none() {
        return fail(Error::new(Errno::Eoverflow, "offset + len past 2^64", len));
    }
    Ok(Ext {
        devindex,
        offset,
        len,
    })
}

/// How [`Fmap::resolve`] finds an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `words` is the granule table of packed simple entries.
    Simple,
    /// One interleaved extent; `words` holds its packed strip bases.
    Interleaved,
    /// Several interleaved extents; `words` is the granule table (record
    /// positions) followed by the records.
    InterleavedMulti,
}

/// Where a file offset lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Index in the connection's daxdev table.
    pub devindex: u32,
    /// Byte offset in that daxdev.
    pub dev_offset: u64,
    /// Bytes mapped contiguously from there, at least 1.
    pub length: u64,
}

/// How the bytes of a [`Run`] map back to file offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Back {
    /// File offset of the run's first byte.
    pub file_offset: u64,
    /// Zero if the run maps one contiguous file range. Otherwise the run is
    /// a strip of an interleaved extent with chunks of this many bytes:
    /// after every chunk of the run, the file goes on with one chunk of each
    /// of the extent's other strips.
    pub chunk: u64,
    /// Strips of that extent (1 for a contiguous run).
    pub nstrips: u32,
}

impl Back {
    /// The file offset of byte `r` of the run.
    pub fn file_offset_of(&self, r: u64) -> u64 {
        if self.chunk == 0 {
            return self.file_offset.saturating_add(r);
        }
        let stripe = r / self.chunk;
        let step = self.chunk.saturating_mul(self.nstrips.into());
        self.file_offset
            .saturating_add(stripe.saturating_mul(step))
            .saturating_add(r % self.chunk)
    }

    /// The contiguous file ranges `(offset, len)` that bytes `a..b` of the
    /// run map, in order: one for a contiguous run, one per chunk touched
    /// for a strip.
    pub fn file_ranges(&self, a: u64, b: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut at = a;
        core::iter::from_fn(move || {
            if at >= b {
                return None;
            }
            let n = if self.chunk == 0 {
                b - at
            } else {
                (self.chunk - at % self.chunk).min(b - at)
            };
            let piece = (self.file_offset_of(at), n);
            at += n;
            Some(piece)
        })
    }
}

/// A contiguous device range an fmap maps, and the file offsets it backs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// Index in the connection's daxdev table.
    pub devindex: u32,
    /// First device byte.
    pub dev_offset: u64,
    /// Bytes, at least 1.
    pub len: u64,
    /// Where those bytes are in the file.
    pub back: Back,
}

/// Dividends [`Recip::div`] is exact for are below `2^DIV_BITS`: 2 MiB
/// blocks of a byte offset (`offset >> ALIGN_SHIFT`).
const DIV_BITS: u32 = 64 - ALIGN_SHIFT;

/// Division by a divisor fixed when the fmap is parsed, as a multiply and a
/// shift (Granlund and Montgomery, "Division by Invariant Integers using
/// Multiplication", 1994): the fault path divides by no variable.
///
/// # Invariants
///
/// For the divisor `d` it was made for (`1 <= d <= 2^(32 - ALIGN_SHIFT)`:
/// a chunk of less than 4 GiB in 2 MiB blocks, or a strip count), with
/// `k = ceil(log2(d))`: `s == DIV_BITS + k` (at most 54) and
/// `m == ceil(2^s / d)`, so `2^s <= m * d < 2^s + d <= 2^s + 2^(s -
/// DIV_BITS)`, which makes `floor(n * m / 2^s) == floor(n / d)` for every
/// `n < 2^DIV_BITS`; and `m <= 2^(DIV_BITS + 1)`, so that `m << 6 | s`
/// fits in a word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Recip {
    m: u64,
    s: u32,
}

impl Recip {
    /// The reciprocal of `d`, `1 <= d <= 2^(32 - ALIGN_SHIFT)` (chunk sizes
    /// are `u32` multiples of 2 MiB, strip counts at most [`MAX_STRIPS`]).
    const fn new(d: u64) -> Self {
        let k = 64 - (d - 1).leading_zeros();
        let s = DIV_BITS + k;
        // INVARIANT: m = ceil(2^s / d), s <= 54 so 2^s fits; with 2^(k-1)
        // < d (or d == 1, k == 0) it is at most 2^(DIV_BITS + 1).
        let m = (1u64 << s).div_ceil(d);
        Recip { m, s }
    }

    /// `n / d`, for `n < 2^DIV_BITS`.
    #[inline(always)]
    fn div(self, n: u64) -> u64 {
        ((u128::from(n) * u128::from(self.m)) >> self.s) as u64
    }

    /// One word: `m << 6 | s` (`s < 64`, `m <= 2^(DIV_BITS + 1)`).
    const fn pack(self) -> u64 {
        self.m << 6 | self.s as u64
    }

    /// The inverse of [`Recip::pack`].
    #[inline(always)]
    const fn unpack(w: u64) -> Self {
        Recip {
            m: w >> 6,
            s: (w & 63) as u32,
        }
    }
}

/// Words of an interleaved-extent record before its strips.
const REC_HEAD: usize = 6;

/// Parameters of one interleaved extent, used on the fault path.
#[derive(Clone, Copy, Debug, Default)]
struct Stripe {
    chunk: u64,
    nstrips: u64,
    /// Division by the chunk size in 2 MiB blocks.
    by_chunk: Recip,
    /// Division by `nstrips`.
    by_nstrips: Recip,
}

impl Stripe {
    /// `chunk` a non-zero multiple of 2 MiB below 2^32, `nstrips` in
    /// `1..=MAX_STRIPS` (checked by the parser).
    const fn new(chunk: u64, nstrips: u64) -> Self {
        Stripe {
            chunk,
            nstrips,
            by_chunk: Recip::new(chunk >> ALIGN_SHIFT),
            by_nstrips: Recip::new(nstrips),
        }
    }

    /// Maps `local` bytes into the extent to (strip, offset in strip, bytes
    /// left in the chunk). Two multiplies, no division: `local >>
    /// ALIGN_SHIFT` is below `2^DIV_BITS`, and so is the chunk number.
    #[inline(always)]
    fn split(&self, local: u64) -> (usize, u64, u64) {
        let blocks = local >> ALIGN_SHIFT;
        let chunk_blocks = self.chunk >> ALIGN_SHIFT;
        let chunk_num = self.by_chunk.div(blocks);
        let chunk_off =
            ((blocks - chunk_num * chunk_blocks) << ALIGN_SHIFT) | (local & (ALIGN - 1));
        let stripe = self.by_nstrips.div(chunk_num);
        let strip = chunk_num - stripe * self.nstrips;
        (
            strip as usize,
            stripe * self.chunk + chunk_off,
            self.chunk - chunk_off,
        )
    }
}

/// A validated, immutable fmap with its fault-path index.
///
/// # Invariants
///
/// - `limit` is `file_size` rounded up to [`ALIGN`] and `file_size <= limit`.
/// - `Kind::Simple`: `words.len() == ceil(limit / 2^shift)`; entry `g`
///   describes the granule at file offset `g << shift`, which lies entirely
///   inside one extent (up to `limit`): its low 5 bits are the devindex, bits
///   5..21 the 2 MiB blocks of that extent from the granule start (at least
///   one, at most [`RUN_MAX`]), bits 21.. the 2 MiB aligned device offset of
///   the granule start. `shift` is in `ALIGN_SHIFT..=MAX_GRANULE_SHIFT`, so a
///   saturated run still reaches past the end of its granule.
/// - `Kind::Interleaved`: `words.len() == stripe.nstrips`; word `j` is the
///   device offset of strip `j` ORed with its devindex; every address the
///   arithmetic computes for an offset below `limit` lies inside its strip.
/// - `Kind::InterleavedMulti`: `words[..index_len]` holds, per granule, the
///   position in `words` of the record of the extent containing it; a record
///   is `[start, end, chunk, nstrips, by_chunk, by_nstrips, strip_0 ..
///   strip_{nstrips-1}]` (`REC_HEAD` words, then the strips) with
///   `end` the 2 MiB-rounded end of the extent, `by_chunk` and `by_nstrips`
///   the packed [`Recip`]s of `chunk / 2 MiB` and `nstrips`, the strips as
///   above.
/// - `dev_end[i]` is the highest device byte (exclusive) any extent or strip
///   uses on device `i`, or 0 if the fmap does not use device `i`.
pub struct Fmap<S> {
    kind: Kind,
    shift: u32,
    stripe: Stripe,
    limit: u64,
    file_size: u64,
    words: S,
    header: Header,
    dev_end: [u64; MAX_DAXDEVS],
}

impl<S: Deref<Target = [u64]>> fmt::Debug for Fmap<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fmap")
            .field("kind", &self.kind)
            .field("file_size", &self.file_size)
            .field("shift", &self.shift)
            .field("words", &self.words.len())
            .finish()
    }
}

fn round_up_align(v: u64) -> Result<u64> {
    v.checked_add(ALIGN - 1)
        .map(|v| v & !(ALIGN - 1))
        .ok_or(Error::new(Errno::Eoverflow, "file_size past 2^64", v))
}

/// Bytes strip `j` of an interleaved extent must hold.
///
/// The extent covers `n` bytes (2 MiB rounded) in chunks of `chunk` bytes
/// dealt round-robin over `ns` strips; the last chunk may be short.
fn strip_need(n: u64, chunk: u64, ns: u64, j: u64) -> u64 {
    // Plain u64 arithmetic: u128 division is a panicking stub in the kernel.
    // chunk > 0 and ns > 0 are checked by the caller.
    if n == 0 {
        return 0;
    }
    let chunks = n.div_ceil(chunk);
    if j >= chunks {
        return 0;
    }
    let last = chunks - 1;
    // Chunks j, j + ns, ... below `chunks` go to strip j.
    let count = (last - j) / ns + 1;
    // last * chunk < n, so neither product overflows.
    let tail = if last % ns == j {
        n - last * chunk
    } else {
        chunk
    };
    ((count - 1) * chunk).saturating_add(tail)
}

/// The granule shift: the largest power of two up to [`MAX_GRANULE_SHIFT`]
/// that divides every boundary in `bounds` (each a multiple of 2 MiB).
fn granule_shift(bounds_tz: u32) -> u32 {
    bounds_tz.clamp(ALIGN_SHIFT, MAX_GRANULE_SHIFT)
}

fn index_len(limit: u64, shift: u32) -> Result<usize> {
    let n = if limit == 0 {
        0
    } else {
        ((limit - 1) >> shift) + 1
    };
    if n > MAX_INDEX as u64 {
        return Err(Error::new(
            Errno::E2big,
            "fault-path index would exceed its maximum entries",
            n,
        ));
    }
    Ok(n as usize)
}

fn note_dev(dev_end: &mut [u64; MAX_DAXDEVS], e: &Ext) {
    // `read_ext` checked devindex and that offset + len does not overflow.
    let end = e.offset + e.len;
    let slot = &mut dev_end[e.devindex as usize];
    if *slot < end {
        *slot = end;
    }
}

const fn pack(dev_offset: u64, run: u64, devindex: u32) -> u64 {
    dev_offset | (run << RUN_SHIFT) | devindex as u64
}

impl<S: DerefMut<Target = [u64]>> Fmap<S> {
    /// Parses and validates a complete fmap and builds its index.
    ///
    /// `alloc(n)` must return storage of exactly `n` words; it is called
    /// once, after validation, with `n` bounded by the fmap size.
    pub fn parse(bytes: &[u8], alloc: impl FnOnce(usize) -> Result<S>) -> Result<Self> {
        let header = parse_header(bytes)?;
        if header.reserved0 != 0 {
            return Err(Error::new(
                Errno::Eproto,
                "large-fmap announcement where the fmap was expected",
                header.reserved0.into(),
            ));
        }
        let limit = round_up_align(header.file_size)?;
        match header.ext_type {
            ExtType::Simple => Self::parse_simple(bytes, header, limit, alloc),
            ExtType::Interleaved => Self::parse_interleaved(bytes, header, limit, alloc),
        }
    }

    fn parse_simple(
        bytes: &[u8],
        header: Header,
        limit: u64,
        alloc: impl FnOnce(usize) -> Result<S>,
    ) -> Result<Self> {
        let n = header.nextents as usize;
        // nextents <= MAX_EXTENTS, so this cannot overflow.
        let need = HEADER_SIZE + n * EXT_SIZE;
        if bytes.len() < need {
            return Err(einval("reply truncated", bytes.len() as u64));
        }
        if bytes.len() > need {
            return Err(einval(
                "trailing bytes after the last extent",
                bytes.len() as u64,
            ));
        }

        // Pass 1: validate every extent, find the granule.
        let mut dev_end = [0u64; MAX_DAXDEVS];
        let mut r = Reader::new(&bytes[HEADER_SIZE..]);
        let mut pos: u64 = 0;
        let mut tz = u32::MAX;
        for i in 0..header.nextents {
            let e = read_ext(&mut r, i, None)?;
            note_dev(&mut dev_end, &e);
            pos = pos.checked_add(e.len).ok_or(
                Error::new(Errno::Eoverflow, "sum of extent lengths past 2^64", e.len).at(i, None),
            )?;
            // A boundary inside the file: the granule must divide it.
            if pos < header.file_size {
                tz = tz.min(pos.trailing_zeros());
            }
        }
        if pos < header.file_size {
            return Err(einval("extents cover less than file_size", pos));
        }
        let shift = granule_shift(tz);
        let len = index_len(limit, shift)?;
        let mut words = alloc(len)?;
        if words.len() != len {
            return Err(Error::new(
                Errno::Enomem,
                "index allocation of wrong size",
                len as u64,
            ));
        }

        // Pass 2: fill the granule table. Extents are valid now.
        let mut r = Reader::new(&bytes[HEADER_SIZE..]);
        let mut start: u64 = 0;
        let mut g: usize = 0;
        for i in 0..header.nextents {
            if start >= limit {
                break;
            }
            let e = read_ext(&mut r, i, None)?;
            let end = start + e.len;
            // Granules starting inside this extent (boundaries below limit
            // are multiples of the granule, so none straddles two extents).
            while g < len && ((g as u64) << shift) < end {
                let gstart = (g as u64) << shift;
                let into = gstart - start;
                let run = ((end - gstart) >> ALIGN_SHIFT).min(RUN_MAX);
                words[g] = pack(e.offset + into, run, e.devindex);
                g += 1;
            }
            start = end;
        }
        // INVARIANT: every granule below limit got an entry (the extents
        // cover file_size, and the loop stops only past limit), each inside
        // one extent by the choice of shift.
        Ok(Fmap {
            kind: Kind::Simple,
            shift,
            stripe: Stripe::default(),
            limit,
            file_size: header.file_size,
            words,
            header,
            dev_end,
        })
    }

    fn parse_interleaved(
        bytes: &[u8],
        header: Header,
        limit: u64,
        alloc: impl FnOnce(usize) -> Result<S>,
    ) -> Result<Self> {
        // Pass 1: validate.
        let mut dev_end = [0u64; MAX_DAXDEVS];
        let mut r = Reader::new(&bytes[HEADER_SIZE..]);
        let mut pos: u64 = 0;
        let mut tz = u32::MAX;
        let mut used: u32 = 0; // extents that start below limit
        let mut record_words: u64 = 0;
        let mut first = Stripe::default();
        for i in 0..header.nextents {
            let nstrips = r.u32()?;
            let chunk = u64::from(r.u32()?);
            let nbytes = r.u64()?;
            let reserved = r.u64()?;
            if nstrips == 0 || nstrips > MAX_STRIPS {
                return Err(
                    Error::new(Errno::Erange, "nstrips out of range", nstrips.into()).at(i, None),
                );
            }
            if chunk == 0 {
                return Err(einval("chunk_size is zero", 0).at(i, None));
            }
            if !chunk.is_multiple_of(ALIGN) {
                return Err(einval("chunk_size not a multiple of 2 MiB", chunk).at(i, None));
            }
            if nbytes == 0 {
                return Err(einval("interleaved extent with nbytes 0", 0).at(i, None));
            }
            if i + 1 < header.nextents && !nbytes.is_multiple_of(ALIGN) {
                return Err(einval("nbytes not a multiple of 2 MiB", nbytes).at(i, None));
            }
            if reserved != 0 {
                return Err(einval("interleaved extent reserved not zero", reserved).at(i, None));
            }
            let n = round_up_align(nbytes).map_err(|e| e.at(i, None))?;
            for j in 0..nstrips {
                let s = read_ext(&mut r, i, Some(j))?;
                let need = strip_need(n, chunk, nstrips.into(), j.into());
                if s.len < need {
                    return Err(Error::new(
                        Errno::Einval,
                        "strip too short for the stripes placed on it",
                        s.len,
                    )
                    .at(i, Some(j)));
                }
                note_dev(&mut dev_end, &s);
            }
            if i == 0 {
                first = Stripe::new(chunk, nstrips.into());
            }
            if pos < header.file_size {
                used += 1;
                record_words += REC_HEAD as u64 + u64::from(nstrips);
            }
            pos = pos.checked_add(nbytes).ok_or(
                Error::new(Errno::Eoverflow, "sum of nbytes past 2^64", nbytes).at(i, None),
            )?;
            // The 2 MiB-rounded end must fit too: pass 2 and resolve use it.
            round_up_align(pos).map_err(|_| {
                Error::new(Errno::Eoverflow, "sum of nbytes past 2^64", nbytes).at(i, None)
            })?;
            // A boundary inside the file: the granule must divide it. Only
            // the last extent may end unaligned, and it ends at or past
            // file_size.
            if pos < header.file_size {
                tz = tz.min(pos.trailing_zeros());
            }
        }
        if r.pos != r.bytes.len() {
            return Err(einval(
                "trailing bytes after the last extent",
                (HEADER_SIZE + r.pos) as u64,
            ));
        }
        if pos < header.file_size {
            return Err(einval("extents cover less than file_size", pos));
        }

        let (kind, shift, index, len) = if used <= 1 {
            // One extent maps the whole file (or the file is empty).
            (Kind::Interleaved, 0, 0, first.nstrips as usize)
        } else {
            let shift = granule_shift(tz);
            let index = index_len(limit, shift)?;
            // record_words <= nextents * 38, well below usize::MAX.
            (
                Kind::InterleavedMulti,
                shift,
                index,
                index + record_words as usize,
            )
        };
        let mut words = alloc(len)?;
        if words.len() != len {
            return Err(Error::new(
                Errno::Enomem,
                "index allocation of wrong size",
                len as u64,
            ));
        }

        // Pass 2: strips (and, for several extents, records and index).
        let mut r = Reader::new(&bytes[HEADER_SIZE..]);
        let mut start: u64 = 0;
        let mut w = index;
        let mut g: usize = 0;
        for i in 0..used {
            let nstrips = r.u32()?;
            let chunk = u64::from(r.u32()?);
            let nbytes = r.u64()?;
            let _reserved = r.u64()?;
            let end = round_up_align(start + nbytes)?;
            let rec = w;
            if kind == Kind::InterleavedMulti {
                words[w] = start;
                words[w + 1] = end;
                words[w + 2] = chunk;
                words[w + 3] = nstrips.into();
                let st = Stripe::new(chunk, nstrips.into());
                words[w + 4] = st.by_chunk.pack();
                words[w + 5] = st.by_nstrips.pack();
                w += REC_HEAD;
            }
            for j in 0..nstrips {
                let s = read_ext(&mut r, i, Some(j))?;
                words[w] = s.offset | u64::from(s.devindex);
                w += 1;
            }
            if kind == Kind::InterleavedMulti {
                while g < index && ((g as u64) << shift) < end {
                    words[g] = rec as u64;
                    g += 1;
                }
            }
            start += nbytes;
        }
        // INVARIANT: strips were checked to hold every chunk dealt to them
        // up to the 2 MiB-rounded end of their extent, which for the last
        // used extent is at least limit; records and index were filled for
        // every used extent and granule below limit.
        Ok(Fmap {
            kind,
            shift,
            stripe: first,
            limit,
            file_size: header.file_size,
            words,
            header,
            dev_end,
        })
    }
}

impl<S: Deref<Target = [u64]>> Fmap<S> {
    /// The validated header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Size of the file in bytes.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// Devices this fmap uses, with the device size each needs at least:
    /// `(devindex, end)` for every device an extent or strip is on.
    pub fn devices(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.dev_end
            .iter()
            .enumerate()
            .filter(|(_, &end)| end != 0)
            .map(|(i, &end)| (i as u32, end))
    }

    /// Calls `f` for every device run of the fmap: every device byte that
    /// [`Fmap::resolve`] can return for an offset in the file (its last
    /// 2 MiB included) is in exactly one run, with the file offset that
    /// resolves to it ([`Back::file_offset_of`]). A contiguous part of a
    /// simple extent (adjacent extents contiguous on the device merge) or a
    /// strip of an interleaved extent is one run; runs come in file order
    /// of their first byte. Stops at, and returns, the first error of `f`.
    /// No allocation.
    pub fn for_each_run<E>(
        &self,
        mut f: impl FnMut(Run) -> core::result::Result<(), E>,
        broken: E,
    ) -> core::result::Result<(), E> {
        match self.kind {
            Kind::Simple => {
                let mut cur: Option<Run> = None;
                let mut o = 0u64;
                while o < self.file_size {
                    let Ok(m) = self.resolve(o, u64::MAX) else {
                        return Err(broken);
                    };
                    match &mut cur {
                        Some(r)
                            if r.devindex == m.devindex
                                && r.dev_offset.checked_add(r.len) == Some(m.dev_offset) =>
                        {
                            r.len += m.length;
                        }
                        _ => {
                            if let Some(r) = cur.take() {
                                f(r)?;
                            }
                            cur = Some(Run {
                                devindex: m.devindex,
                                dev_offset: m.dev_offset,
                                len: m.length,
                                back: Back {
                                    file_offset: o,
                                    chunk: 0,
                                    nstrips: 1,
                                },
                            });
                        }
                    }
                    o += m.length;
                }
                match cur {
                    Some(r) => f(r),
                    None => Ok(()),
                }
            }
            Kind::Interleaved => {
                if self.file_size == 0 {
                    return Ok(());
                }
                let strips: &[u64] = &self.words;
                Self::strip_runs(0, self.limit, self.stripe.chunk, strips, &mut f)
            }
            Kind::InterleavedMulti => {
                // Records follow the granule table, in file order.
                let Ok(mut w) = index_len(self.limit, self.shift) else {
                    return Err(broken);
                };
                while w < self.words.len() {
                    let (Ok(start), Ok(end), Ok(chunk), Ok(ns)) = (
                        self.word(w),
                        self.word(w + 1),
                        self.word(w + 2),
                        self.word(w + 3),
                    ) else {
                        return Err(broken);
                    };
                    let Some(strips) = usize::try_from(ns)
                        .ok()
                        .and_then(|ns| self.words.get(w + REC_HEAD..w + REC_HEAD + ns))
                    else {
                        return Err(broken);
                    };
                    if start >= end || chunk == 0 {
                        return Err(broken);
                    }
                    Self::strip_runs(start, end.min(self.limit), chunk, strips, &mut f)?;
                    w += REC_HEAD + strips.len();
                }
                Ok(())
            }
        }
    }

    /// The runs of the strips `strips` (packed bases) of an interleaved
    /// extent at file offset `start`, used up to file offset `end`.
    fn strip_runs<E>(
        start: u64,
        end: u64,
        chunk: u64,
        strips: &[u64],
        f: &mut impl FnMut(Run) -> core::result::Result<(), E>,
    ) -> core::result::Result<(), E> {
        let ns = strips.len() as u64;
        for (j, &s) in strips.iter().enumerate() {
            let j = j as u64;
            let len = strip_need(end.saturating_sub(start), chunk, ns, j);
            if len == 0 {
                continue;
            }
            f(Run {
                devindex: (s & DEV_MASK) as u32,
                dev_offset: s & !(ALIGN - 1),
                len,
                back: Back {
                    file_offset: start + j * chunk,
                    chunk,
                    nstrips: ns as u32,
                },
            })?;
        }
        Ok(())
    }

    /// Bytes of index this fmap holds.
    pub fn index_bytes(&self) -> usize {
        self.words.len() * 8
    }

    /// Resolves `len` bytes at file offset `offset`.
    ///
    /// Fails with `EIO` at or past `file_size` and with `EINVAL` for a zero
    /// `len`. The mapping returned is never empty, never longer than `len`,
    /// and never crosses an extent, strip or chunk boundary or `file_size`
    /// rounded up to 2 MiB. Constant time: no loop, no search. Always
    /// inlined: it is most of the fault path's `iomap_begin`, and a call
    /// with its register saves costs a third of it (measured by
    /// `make bench`).
    #[inline(always)]
    pub fn resolve(&self, offset: u64, len: u64) -> Result<Mapping> {
        if offset >= self.file_size {
            return Err(Error::new(Errno::Eio, "offset past end of file", offset));
        }
        if len == 0 {
            return Err(einval("zero-length resolve", 0));
        }
        let left = (self.limit - offset).min(len);
        let m = match self.kind {
            Kind::Simple => {
                let e = self.word((offset >> self.shift) as usize)?;
                let in_g = offset & ((1u64 << self.shift) - 1);
                let run = (e >> RUN_SHIFT) & RUN_MAX;
                Mapping {
                    devindex: (e & DEV_MASK) as u32,
                    dev_offset: (e & !(ALIGN - 1)) + in_g,
                    length: ((run << ALIGN_SHIFT) - in_g).min(left),
                }
            }
            Kind::Interleaved => {
                let (strip, off, avail) = self.stripe.split(offset);
                let s = self.word(strip)?;
                Mapping {
                    devindex: (s & DEV_MASK) as u32,
                    dev_offset: (s & !(ALIGN - 1)) + off,
                    length: avail.min(left),
                }
            }
            Kind::InterleavedMulti => {
                let rec = self.word((offset >> self.shift) as usize)? as usize;
                let start = self.word(rec)?;
                let end = self.word(rec + 1)?;
                let st = Stripe {
                    chunk: self.word(rec + 2)?,
                    nstrips: self.word(rec + 3)?,
                    by_chunk: Recip::unpack(self.word(rec + 4)?),
                    by_nstrips: Recip::unpack(self.word(rec + 5)?),
                };
                let (strip, off, avail) = st.split(offset - start);
                let s = self.word(rec + REC_HEAD + strip)?;
                Mapping {
                    devindex: (s & DEV_MASK) as u32,
                    dev_offset: (s & !(ALIGN - 1)) + off,
                    length: avail.min(end - offset).min(left),
                }
            }
        };
        Ok(m)
    }

    /// Bounds-checked word read. The invariants make every index in range;
    /// the check keeps a broken invariant an `EIO`, never a wild read.
    #[inline(always)]
    fn word(&self, i: usize) -> Result<u64> {
        match self.words.get(i) {
            Some(&w) => Ok(w),
            None => Err(Error::new(Errno::Eio, "fmap index out of range", i as u64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `Recip` against the division it replaces.
    fn check(d: u64, n: u64) {
        let r = Recip::new(d);
        assert_eq!(r.div(n), n / d, "{n} / {d}");
        assert_eq!(Recip::unpack(r.pack()), r, "pack of 1/{d}");
    }

    #[test]
    fn reciprocals_divide_exactly() {
        let top = (1u64 << DIV_BITS) - 1;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for d in 1..=1u64 << (32 - ALIGN_SHIFT) {
            let r = Recip::new(d);
            assert!(
                r.m <= 1 << (DIV_BITS + 1) && r.s <= 54,
                "1/{d} does not pack"
            );
            // Around every multiple of d near the ends of the range, the
            // range's ends, and random dividends.
            for q in [0, 1, 2, top / d - 1, top / d] {
                for n in [q * d, (q * d).wrapping_sub(1), q * d + d - 1] {
                    if n <= top {
                        check(d, n);
                    }
                }
            }
            check(d, top);
            for _ in 0..256 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                check(d, x & top);
                check(d, (x & top) >> (x % 40));
            }
        }
    }
}
