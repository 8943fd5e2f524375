// SPDX-License-Identifier: GPL-2.0

//! famfs_rs: famfs as a DAX fmap provider for fuse, in Rust.
//!
//! famfs shares fabric-attached memory among hosts as files: a fuse server
//! owns the namespace and the kernel maps file offsets straight onto DAX
//! devices. fuse (with the patch series in `patches/`) offers a generic
//! "DAX fmap provider" hook; this module is the provider:
//!
//! - on the first open of a file, fetch its fmap (FUSE_GET_FMAP, with the
//!   large-fmap retry), validate it with the fmap core ([`fmap`]), and make
//!   sure every daxdev it names is held ([`conn`]), checking each extent
//!   lies inside its device; fuse publishes the result on the inode;
//! - on every fault, read or write, `iomap_begin` loads that one pointer,
//!   resolves the offset in constant time and fills the iomap: no lock, no
//!   allocation, no lookup.

//!
//! The logic (this file, `conn.rs`, `fmap.rs`) has no `unsafe`: it lives in
//! the abstractions `provider.rs` (the fuse hook and its inodes), `dax.rs`
//! (DAX devices held as fs-dax holder) and `sys.rs` (printing, debugfs).

use kernel::prelude::*;
use kernel::{
    alloc::{
        flags::{GFP_KERNEL, GFP_KERNEL_ACCOUNT},
        KVVec,
    },
    error::code,
    sync::{Arc, ArcBorrow},
};

mod conn;
mod dax;
mod ffi;
pub mod fmap;
mod provider;
mod sys;

use conn::Conn;
use dax::DaxDev;
use provider::{FmapInode, FmapProvider, InitServer, Iomap, Owner, Registration};

/// Version of famfs_rs, logged at load.
pub const VERSION: &str = "0.1.0";

module! {
    type: FamfsRs,
    name: "famfs_rs",
    authors: ["famfs-rs developers"],
    description: "famfs DAX fmap provider for fuse",
    license: "GPL",
}

/// Logs a warning about what a server sent, rate-limited.
#[macro_export]
macro_rules! warn_rl {
    ($($arg:tt)*) => {
        $crate::sys::log_ratelimited(false, ::core::format_args!($($arg)*))
    };
}

/// Logs an error, rate-limited.
#[macro_export]
macro_rules! err_rl {
    ($($arg:tt)*) => {
        $crate::sys::log_ratelimited(true, ::core::format_args!($($arg)*))
    };
}

/// An fmap whose index lives in kernel memory.
pub type KFmap = fmap::Fmap<KVVec<u64>>;

/// Allocates the index of an fmap (zeroed, `vmalloc` for large ones),
/// charged to the opener's memory cgroup.
fn kalloc(n: usize) -> fmap::Result<KVVec<u64>> {
    KVVec::from_elem(0u64, n, GFP_KERNEL_ACCOUNT).map_err(|_| fmap::Error {
        errno: fmap::Errno::Enomem,
        reason: "no memory for the fmap index",
        extent: None,
        strip: None,
        value: n as u64,
    })
}

/// The fmap of one inode.
///
/// # Invariants
///
/// Every device `fmap` names is filled in `conn` and is at least as long as
/// the fmap needs, and `conn` records `owner` as the owner of every device
/// run `fmap` maps, until drop.
pub(crate) struct InodeFmap {
    fmap: KFmap,
    conn: Arc<Conn>,
    /// The inode, its owner in `conn`'s range maps.
    owner: Arc<Owner>,
}

impl Drop for InodeFmap {
    fn drop(&mut self) {
        self.conn.release(&self.owner, &self.fmap);
    }
}

/// Fetches a file's fmap from the server and validates it. The buffers
/// are charged to the opener's memory cgroup and freed on every path out,
/// the opener's death included.
fn fetch_fmap(inode: &FmapInode) -> Result<KFmap> {
    let nodeid = inode.nodeid();
    let reject = |e: fmap::Error| {
        warn_rl!("file {}: fmap rejected: {}", nodeid, e);
        to_kernel_error(&e)
    };
    let sent = |e: Error| {
        warn_rl!("file {}: GET_FMAP failed: error {}", nodeid, e.to_errno());
        e
    };
    let mut first = KVVec::from_elem(0u8, fmap::FIRST_SIZE, GFP_KERNEL_ACCOUNT)?;
    let n = inode.get_fmap(&mut first).map_err(sent)?;
    match fmap::probe(&first[..n]).map_err(reject)? {
        fmap::Probe::Complete => KFmap::parse(&first[..n], kalloc).map_err(reject),
        fmap::Probe::Announce(size) => {
            drop(first);
            let mut full = KVVec::from_elem(0u8, size, GFP_KERNEL_ACCOUNT)?;
            let n = inode.get_fmap(&mut full).map_err(sent)?;
            fmap::check_second(n, size).map_err(reject)?;
            KFmap::parse(&full[..n], kalloc).map_err(reject)
        }
    }
}

struct Famfs;

#[vtable]
impl FmapProvider for Famfs {
    type Module = FamfsRs;
    type Conn = Arc<Conn>;
    type Fmap = InodeFmap;

    fn conn_init(server: &InitServer<'_>) -> Result<Arc<Conn>> {
        Arc::pin_init(Conn::with_server(server), GFP_KERNEL)
    }

    fn fmap_get(
        inode: &FmapInode,
        owner: &Arc<Owner>,
        conn: ArcBorrow<'_, Conn>,
    ) -> Result<(InodeFmap, u64)> {
        let fmap = fetch_fmap(inode)?;
        for (index, end) in fmap.devices() {
            conn.fill(inode, index, end)?;
        }
        let size = fmap.file_size();
        // Nothing fails after the claim: the fmap's drop releases it.
        conn.claim(owner, inode.nodeid(), &fmap)?;
        // fs-dax may map a block's PFN from its DAX entry: the fmap fuse
        // publishes now never changes while the inode lives; each device
        // is a device_dax instance, held (its translation fixed) until
        // its removal, which revokes the file, DAX entries and all, before
        // the device goes; and `iomap_begin` fails a removed device and
        // every bad range a memory failure recorded.
        inode.set_dax_stable();
        // INVARIANT: every device of the fmap was filled and checked above,
        // and its runs were claimed for this inode.
        let f = InodeFmap {
            fmap,
            conn: conn.into(),
            owner: owner.clone(),
        };
        Ok((f, size))
    }

    fn flush_dax_dev(fmap: &InodeFmap) -> Option<&DaxDev> {
        let mut first = None;
        for (index, _) in fmap.fmap.devices() {
            // Held: filled (InodeFmap invariant).
            let Some(dax) = fmap.conn.dax(index as usize) else {
                continue;
            };
            if dax.write_cache_enabled() {
                return Some(dax);
            }
            first = first.or(Some(dax));
        }
        first
    }

    #[inline(always)]
    fn iomap_begin(
        fmap: &InodeFmap,
        pos: u64,
        len: u64,
        flags: u32,
        iomap: &mut Iomap<'_>,
    ) -> Result {
        // dax_iomap_rw() maps before it clips a read at i_size: past the
        // end there is nothing, and the read stops there. A write or a
        // fault past the end is a bug somewhere else: refuse it.
        if pos >= fmap.fmap.file_size() {
            if flags & (ffi::IOMAP_WRITE | ffi::IOMAP_FAULT) != 0 {
                return Err(EIO);
            }
            iomap.set_hole(pos, len);
            return Ok(());
        }
        let m = fmap
            .fmap
            .resolve(pos, len)
            .map_err(|e| to_kernel_error(&e))?;
        let dev = fmap.conn.dev(m.devindex).ok_or(EIO)?;
        if dev.is_removed() {
            return Err(ENXIO);
        }
        // Only on a device a memory failure hit: map up to its first bad
        // byte, fail with EHWPOISON at one.
        let length = if dev.is_bad() {
            fmap.conn.good_len(m.devindex, m.dev_offset, m.length)?
        } else {
            m.length
        };
        // Held: filled (InodeFmap invariant).
        let dax = fmap.conn.dax(m.devindex as usize).ok_or(EIO)?;
        iomap.set_mapped(dax, pos, m.dev_offset, length);
        Ok(())
    }
}

struct FamfsRs {
    // Dropped in order: unregister first, so no iomap_begin runs once the
    // timing files are gone.
    _registration: Registration<Famfs>,
    _debugfs: sys::Debugfs,
}

impl kernel::Module for FamfsRs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let debugfs = sys::Debugfs::new()?;
        let registration = Registration::new()?;
        pr_info!(
            "famfs_rs {} loaded (fmap version {}, up to {} daxdevs per connection)\n",
            VERSION,
            fmap::VERSION,
            fmap::MAX_DAXDEVS
        );
        Ok(FamfsRs {
            _registration: registration,
            _debugfs: debugfs,
        })
    }
}

impl Drop for FamfsRs {
    fn drop(&mut self) {
        // Every connection pins the module, so none is left, and each one
        // released its devices when it went: a device still held would
        // call this module's holder operations after it is gone.
        let held = dax::held();
        if kernel::warn_on!(held != 0) {
            pr_err!("{} daxdev(s) still held at unload\n", held);
        }
        pr_info!("famfs_rs {} unloaded\n", VERSION);
    }
}

/// Turns an fmap core error into the kernel error of its errno.
pub fn to_kernel_error(e: &fmap::Error) -> Error {
    match e.errno {
        fmap::Errno::Eio => code::EIO,
        fmap::Errno::E2big => code::E2BIG,
        fmap::Errno::Enomem => code::ENOMEM,
        fmap::Errno::Einval => code::EINVAL,
        fmap::Errno::Erange => code::ERANGE,
        fmap::Errno::Eproto => code::EPROTO,
        fmap::Errno::Eoverflow => code::EOVERFLOW,
    }
}

#[kunit_tests(famfs_rs)]
mod tests {
    use super::{
        conn, dax::MfFlags, ffi, kalloc, provider, to_kernel_error, Famfs, FmapProvider, InodeFmap,
        Iomap, KFmap, Owner,
    };
    use kernel::alloc::flags::GFP_KERNEL;
    use kernel::error::code::{EBUSY, EINVAL, EIO, ERANGE};
    use kernel::prelude::*;
    use kernel::sync::Arc;

    const MIB: u64 = 1 << 20;

    /// A header followed by simple extents `(devindex, offset, len)`.
    fn simple(buf: &mut [u8], file_size: u64, exts: &[(u32, u64, u64)]) -> usize {
        buf[0] = 0; // regular file
        buf[2..4].copy_from_slice(&1u16.to_le_bytes());
        buf[4..8].copy_from_slice(&0u32.to_le_bytes());
        buf[8..12].copy_from_slice(&(exts.len() as u32).to_le_bytes());
        buf[16..24].copy_from_slice(&file_size.to_le_bytes());
        let mut p = 32;
        for &(dev, off, len) in exts {
            buf[p..p + 4].copy_from_slice(&dev.to_le_bytes());
            buf[p + 8..p + 16].copy_from_slice(&off.to_le_bytes());
            buf[p + 16..p + 24].copy_from_slice(&len.to_le_bytes());
            p += 24;
        }
        p
    }

    #[test]
    fn fmap_parses_into_kvvec_and_resolves() {
        let mut buf = [0u8; 32 + 3 * 24];
        let n = simple(
            &mut buf,
            9 * MIB,
            &[
                (0, 64 * MIB, 4 * MIB),
                (2, 0, 2 * MIB),
                (0, 2 * MIB, 4 * MIB),
            ],
        );
        let f = KFmap::parse(&buf[..n], kalloc).expect("valid fmap");
        let m = f.resolve(5 * MIB, 8 * MIB).expect("inside the file");
        assert_eq!(m.devindex, 2);
        assert_eq!(m.dev_offset, MIB);
        assert_eq!(m.length, MIB);
        let m = f.resolve(8 * MIB + 4096, 4096).expect("inside the file");
        assert_eq!(
            (m.devindex, m.dev_offset, m.length),
            (0, 4 * MIB + 4096, 4096)
        );
        assert_eq!(
            f.resolve(9 * MIB, 1).map_err(|e| to_kernel_error(&e)),
            Err(EIO)
        );
    }

    #[test]
    fn fmap_rejections_carry_kernel_errnos() {
        let mut buf = [0u8; 32 + 24];
        let n = simple(&mut buf, 2 * MIB, &[(0, MIB, 2 * MIB)]);
        let e = KFmap::parse(&buf[..n], kalloc).expect_err("unaligned offset");
        assert_eq!(to_kernel_error(&e), EINVAL);
        let n = simple(&mut buf, 2 * MIB, &[(24, 0, 2 * MIB)]);
        let e = KFmap::parse(&buf[..n], kalloc).expect_err("devindex 24");
        assert_eq!(to_kernel_error(&e), ERANGE);
    }

    /// A GET_DAXDEV reply for `index` naming `name`.
    fn daxdev_reply(index: u16, name: &[u8]) -> [u8; conn::DAXDEV_REPLY_SIZE] {
        let mut r = [0u8; conn::DAXDEV_REPLY_SIZE];
        r[..2].copy_from_slice(&index.to_le_bytes());
        r[24..24 + name.len()].copy_from_slice(name);
        r
    }

    #[test]
    fn daxdev_reply_rules() {
        let ok = daxdev_reply(3, b"/dev/dax1.0");
        let name = conn::parse_daxdev_reply(&ok, 3).expect("valid reply");
        assert_eq!(name.to_bytes(), b"/dev/dax1.0");
        // Another index, a short reply, a reserved field, no NUL, no name,
        // a relative path.
        assert!(conn::parse_daxdev_reply(&ok, 4).is_err());
        assert!(conn::parse_daxdev_reply(&ok[..279], 3).is_err());
        let mut r = ok;
        r[8] = 1;
        assert!(conn::parse_daxdev_reply(&r, 3).is_err());
        let r = daxdev_reply(3, &[b'x'; 256]);
        assert!(conn::parse_daxdev_reply(&r, 3).is_err());
        let r = daxdev_reply(3, b"");
        assert!(conn::parse_daxdev_reply(&r, 3).is_err());
        let r = daxdev_reply(3, b"dax1.0");
        assert!(conn::parse_daxdev_reply(&r, 3).is_err());
    }

    #[test]
    fn iomap_begin_past_eof_maps_holes_for_reads_only() {
        let mut buf = [0u8; 32 + 24];
        let n = simple(&mut buf, 2 * MIB, &[(0, 0, 2 * MIB)]);
        let fmap = KFmap::parse(&buf[..n], kalloc).expect("valid fmap");
        let conn = Arc::pin_init(conn::Conn::new_local(), GFP_KERNEL).expect("memory");
        // No device and no claim: only the past-EOF path is exercised.
        let owner = Owner::detached().expect("memory");
        let f = InodeFmap { fmap, conn, owner };
        let mut raw = ffi::iomap::default();
        let mut iomap = Iomap::new(&mut raw);
        let read = ffi::IOMAP_DAX;
        assert_eq!(
            <Famfs as FmapProvider>::iomap_begin(&f, 2 * MIB, 4096, read, &mut iomap),
            Ok(())
        );
        assert_eq!(u32::from(iomap.kind()), ffi::IOMAP_HOLE);
        for flags in [
            ffi::IOMAP_DAX | ffi::IOMAP_WRITE,
            ffi::IOMAP_DAX | ffi::IOMAP_FAULT,
            ffi::IOMAP_DAX | ffi::IOMAP_FAULT | ffi::IOMAP_WRITE,
        ] {
            assert_eq!(
                <Famfs as FmapProvider>::iomap_begin(&f, 2 * MIB, 4096, flags, &mut iomap),
                Err(EIO)
            );
            assert_eq!(
                <Famfs as FmapProvider>::iomap_begin(&f, 1 << 40, 4096, flags, &mut iomap),
                Err(EIO)
            );
        }
    }

    #[test]
    fn memory_failure_of_an_empty_or_overflowing_range_is_refused() {
        let conn = Arc::pin_init(conn::Conn::new_local(), GFP_KERNEL).expect("memory");
        let dev = conn.dev(0).expect("device 0");
        let none = MfFlags::none();
        // Refused before the (here absent) device or the maps are touched.
        assert_eq!(conn.memory_failure(None, 0, 0x1000, 0, none), Err(EINVAL));
        assert_eq!(
            conn.memory_failure(None, 0, u64::MAX - 10, 100, none),
            Err(EINVAL)
        );
        assert_eq!(conn.memory_failure(None, 0, u64::MAX, 1, none), Err(EINVAL));
        // Nothing was recorded: the device has no bad range.
        assert!(!dev.is_bad());
        assert_eq!(conn.good_len(0, 0x1000, 0x1000), Ok(0x1000));
    }

    #[test]
    fn bad_ranges_read_without_the_lock_agree_with_the_map() {
        let conn = Arc::pin_init(conn::Conn::new_local(), GFP_KERNEL).expect("memory");
        let dev = conn.dev(0).expect("device 0");
        let page = 0x1000u64;
        conn.record_bad(0, 4 * MIB, 4 * MIB + page);
        assert!(dev.is_bad());
        assert_eq!(conn.good_len(0, 0, 8 * MIB), Ok(4 * MIB));
        assert_eq!(conn.good_len(0, 4 * MIB, page), Err(EHWPOISON));
        assert_eq!(conn.good_len(0, 4 * MIB + page - 1, 1), Err(EHWPOISON));
        assert_eq!(conn.good_len(0, 4 * MIB + page, page), Ok(page));
        assert_eq!(conn.good_len(0, 4 * MIB - page, 2 * MIB), Ok(page));
        // Another device of the connection is not affected.
        assert!(!conn.dev(1).expect("device 1").is_bad());
        assert_eq!(conn.good_len(1, 4 * MIB, page), Ok(page));
        // Up to and past the ranges the fault path copies (8): ranges
        // here and there, some touching or overlapping earlier ones (merged
        // by the map), every lookup the same with and without the lock.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..24 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let start = (x % 64) * 64 * 1024;
            conn.record_bad(0, start, start + (1 + (x >> 8) % 4) * page);
            for q in 0..256u64 {
                let at = q * 16 * 1024 + (x >> 20) % page;
                for len in [1, page, 64 * 1024, 2 * MIB] {
                    // The query in the tuple: a failure shows it.
                    assert_eq!(
                        (at, len, conn.good_len(0, at, len)),
                        (at, len, conn.good_len_locked(0, at, len))
                    );
                }
            }
        }
    }

    #[test]
    fn block_owners_are_inodes_not_numbers() {
        let conn = Arc::pin_init(conn::Conn::new_local(), GFP_KERNEL).expect("memory");
        let (i1, i2, i3) = (
            Owner::detached().expect("memory"),
            Owner::detached().expect("memory"),
            Owner::detached().expect("memory"),
        );
        let mut buf = [0u8; 32 + 2 * 24];
        let n = simple(&mut buf, 4 * MIB, &[(0, 16 * MIB, 4 * MIB)]);
        let a = KFmap::parse(&buf[..n], kalloc).expect("valid fmap");
        // Two inodes the server gave the same number (nodeid 7).
        assert_eq!(conn.claim(&i1, 7, &a), Ok(()));
        assert_eq!(conn.claim(&i2, 7, &a), Err(EBUSY));
        // Overlapping by one block: still refused.
        let n = simple(&mut buf, 4 * MIB, &[(0, 18 * MIB, 4 * MIB)]);
        let b = KFmap::parse(&buf[..n], kalloc).expect("valid fmap");
        assert_eq!(conn.claim(&i2, 8, &b), Err(EBUSY));
        // One fmap mapping a block twice.
        let n = simple(&mut buf, 4 * MIB, &[(1, 0, 2 * MIB), (1, 0, 2 * MIB)]);
        let c = KFmap::parse(&buf[..n], kalloc).expect("valid fmap");
        assert_eq!(conn.claim(&i3, 9, &c), Err(EINVAL));
        // A refused claim recorded nothing.
        assert_eq!(conn.claimed_runs(0), 1);
        assert_eq!(conn.claimed_runs(1), 0);
        // Released by its owner, the bytes go to the other inode.
        conn.release(&i1, &a);
        assert_eq!(conn.claimed_runs(0), 0);
        assert_eq!(conn.claim(&i2, 7, &b), Ok(()));
        assert_eq!(conn.claim(&i1, 7, &a), Err(EBUSY));
        conn.release(&i2, &b);
        assert_eq!(conn.claim(&i1, 7, &a), Ok(()));
        conn.release(&i1, &a);
        assert_eq!(conn.claimed_runs(0), 0);
    }

    #[test]
    fn bindgen_iomap_layout_matches_c() {
        assert!(provider::iomap_layout_matches());
    }
}

/// The range maps at CXL scale: claims far into huge devices, and what
/// 10,000, 1,000,000 and 2^21 claimed extents cost. A suite of its own, so
/// that the module's load/unload tests, which load it a hundred times, can
/// leave it out (`kunit.filter_glob`); every test run runs it once.
#[kunit_tests(famfs_rs_scale)]
mod scale_tests {
    use super::{conn, kalloc, KFmap, Owner};
    use kernel::alloc::{flags::GFP_KERNEL, KVVec};
    use kernel::error::code::{EBUSY, EINVAL};
    use kernel::prelude::*;
    use kernel::sync::Arc;
    use kernel::time::{Instant, Monotonic};

    const MIB: u64 = 1 << 20;
    const TIB: u64 = 1 << 40;

    /// An fmap of `n` simple 2 MiB extents, extent `i` at device offset
    /// `at(i)` on device 0.
    fn fmap_of(n: u64, at: impl Fn(u64) -> u64) -> KFmap {
        let len = 32 + 24 * n as usize;
        let mut b = KVVec::from_elem(0u8, len, GFP_KERNEL).expect("memory");
        b[2..4].copy_from_slice(&1u16.to_le_bytes());
        b[8..12].copy_from_slice(&(n as u32).to_le_bytes());
        b[16..24].copy_from_slice(&(n * 2 * MIB).to_le_bytes());
        for i in 0..n {
            let p = 32 + 24 * i as usize;
            b[p + 8..p + 16].copy_from_slice(&at(i).to_le_bytes());
            b[p + 16..p + 24].copy_from_slice(&(2 * MIB).to_le_bytes());
        }
        KFmap::parse(&b, kalloc).expect("valid fmap")
    }

    fn owner() -> Arc<Owner> {
        Owner::detached().expect("memory")
    }

    fn new_conn() -> Arc<conn::Conn> {
        Arc::pin_init(conn::Conn::new_local(), GFP_KERNEL).expect("memory")
    }

    #[test]
    fn claims_far_into_huge_devices_keep_the_overlap_rules() {
        let c = new_conn();
        let (o1, o2, o3) = (owner(), owner(), owner());
        for base in [TIB, 16 * TIB, 1 << 50, u64::MAX - (2 * MIB - 1) - 64 * MIB] {
            let base = base & !(2 * MIB - 1);
            let a = fmap_of(16, |i| base + 2 * MIB * i); // 32 MiB, one run
            assert_eq!(c.claim(&o1, 1, &a), Ok(()));
            assert_eq!(c.claimed_runs(0), 1);
            // One block over the end of `a`, or over its first block.
            let b = fmap_of(2, |i| base + 30 * MIB + 2 * MIB * i);
            assert_eq!(c.claim(&o2, 2, &b), Err(EBUSY));
            let b = fmap_of(1, |_| base);
            assert_eq!(c.claim(&o2, 2, &b), Err(EBUSY));
            // Adjacent on both sides: fine.
            let b = fmap_of(2, |i| base + 32 * MIB + 2 * MIB * i);
            assert_eq!(c.claim(&o2, 2, &b), Ok(()));
            // One fmap mapping one block twice.
            let d = fmap_of(2, |_| base + 40 * MIB);
            assert_eq!(c.claim(&o3, 3, &d), Err(EINVAL));
            assert_eq!(c.claimed_runs(0), 2);
            c.release(&o1, &a);
            let b2 = fmap_of(1, |_| base);
            assert_eq!(c.claim(&o3, 3, &b2), Ok(()));
            c.release(&o3, &b2);
            c.release(&o2, &b);
            assert_eq!(c.claimed_runs(0), 0);
        }
    }

    /// Claims and releases `n` extents that cannot merge (a 2 MiB gap after
    /// each), spread `stride` bytes apart, and checks and logs what they
    /// cost.
    fn measure(n: u64, stride: u64) {
        let c = new_conn();
        let (o1, o2) = (owner(), owner());
        let f = fmap_of(n, |i| i * stride);
        let t = Instant::<Monotonic>::now();
        assert_eq!(c.claim(&o1, 1, &f), Ok(()));
        let claim_us = t.elapsed().as_micros_ceil();
        let runs = c.claimed_runs(0);
        assert_eq!(runs as u64, n);
        // One slab object per extent, whatever the device offsets.
        let per = conn::claim_node_bytes();
        assert!(per <= 64);
        // Overlap checks still find a clash in the middle.
        let g = fmap_of(1, |_| (n / 2) * stride);
        assert_eq!(c.claim(&o2, 2, &g), Err(EBUSY));
        let t = Instant::<Monotonic>::now();
        c.release(&o1, &f);
        let release_us = t.elapsed().as_micros_ceil();
        assert_eq!(c.claimed_runs(0), 0);
        pr_info!(
            "scale: {} extents up to {} GiB: {} bytes of claim nodes ({} per extent; fmap index {} bytes), claim {} us, release {} us\n",
            n,
            (n * stride) >> 30,
            runs * per,
            per,
            f.index_bytes(),
            claim_us,
            release_us
        );
    }

    /// The debug kernel (kmemleak, slub_debug, lockdep on every node)
    /// claims about 60 times slower than the default one under TCG: there
    /// the two large cases claim a hundredth of their extents, with the
    /// same checks, so that the suite stays within the hung-task detector's
    /// patience for the insmod that runs it. Their figures come from the
    /// default kernel.
    const DIV: u64 = if cfg!(CONFIG_DEBUG_KMEMLEAK) { 100 } else { 1 };

    #[test]
    fn memory_of_10k_extents() {
        measure(10_000, 1 << 30);
    }

    #[test]
    fn memory_of_1m_extents() {
        measure(1_000_000 / DIV, 4 * MIB);
    }

    #[test]
    fn memory_of_2_21_extents() {
        measure((1 << 21) / DIV, 4 * MIB);
    }
}
