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

use kernel::prelude::*;
use kernel::{
    alloc::{
        flags::{GFP_KERNEL, GFP_KERNEL_ACCOUNT},
        KBox, KVVec,
    },
    str::CString,
    sync::{Arc, ArcBorrow},
};

mod conn;
mod ffi;
pub mod fmap;
mod provider;

use conn::Conn;
use provider::{FmapInode, FmapProvider, InitServer, Iomap, Registration};

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
        $crate::log_ratelimited(false, ::core::format_args!($($arg)*))
    };
}

/// Logs an error, rate-limited.
#[macro_export]
macro_rules! err_rl {
    ($($arg:tt)*) => {
        $crate::log_ratelimited(true, ::core::format_args!($($arg)*))
    };
}

#[doc(hidden)]
pub fn log_ratelimited(err: bool, args: core::fmt::Arguments<'_>) {
    if let Ok(msg) = CString::try_from_fmt(args) {
        // SAFETY: `msg` is a NUL-terminated string alive during the call.
        unsafe { ffi::famfs_rs_log_ratelimited(err, msg.as_char_ptr()) };
    }
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
/// the fmap needs, and `conn` records the inode `key` as the owner of every
/// device run `fmap` maps, until drop.
pub struct InodeFmap {
    fmap: KFmap,
    conn: Arc<Conn>,
    /// The inode's key, its owner in `conn`'s range maps.
    key: usize,
}

impl Drop for InodeFmap {
    fn drop(&mut self) {
        self.conn.release(self.key, &self.fmap);
    }
}

/// The input of every GET_FMAP: `struct famfs_get_fmap_in { u32 size; u32
/// flags; }` with the size of the reply buffer (famfs servers read it).
fn get_fmap_in(size: usize) -> Result<[u8; 8]> {
    let mut req = [0u8; 8];
    req[..4].copy_from_slice(&u32::try_from(size)?.to_le_bytes());
    Ok(req)
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
    let req = get_fmap_in(fmap::FIRST_SIZE)?;
    let n = inode.get_fmap(Some(&req), &mut first).map_err(sent)?;
    match fmap::probe(&first[..n]).map_err(reject)? {
        fmap::Probe::Complete => KFmap::parse(&first[..n], kalloc).map_err(reject),
        fmap::Probe::Announce(size) => {
            drop(first);
            let mut full = KVVec::from_elem(0u8, size, GFP_KERNEL_ACCOUNT)?;
            let req = get_fmap_in(size)?;
            let n = inode.get_fmap(Some(&req), &mut full).map_err(sent)?;
            fmap::check_second(n, size).map_err(reject)?;
            KFmap::parse(&full[..n], kalloc).map_err(reject)
        }
    }
}

struct Famfs;

#[vtable]
impl FmapProvider for Famfs {
    type Conn = Arc<Conn>;
    type Fmap = KBox<InodeFmap>;

    fn conn_init(server: &InitServer<'_>) -> Result<Arc<Conn>> {
        Arc::pin_init(Conn::with_server(server), GFP_KERNEL)
    }

    fn fmap_get(inode: &FmapInode, conn: ArcBorrow<'_, Conn>) -> Result<(KBox<InodeFmap>, u64)> {
        let fmap = fetch_fmap(inode)?;
        for (index, end) in fmap.devices() {
            conn.fill(inode, index, end)?;
        }
        let size = fmap.file_size();
        let key = inode.key();
        // Allocated first: once claimed, nothing may fail without releasing.
        let f = KBox::new_uninit(GFP_KERNEL)?;
        conn.claim(key, inode.nodeid(), &fmap)?;
        // fs-dax may map a block's PFN from its DAX entry: the fmap fuse
        // publishes now never changes while the inode lives; each device
        // is a device_dax instance, held (its translation fixed) until
        // its removal, which revokes the file, DAX entries and all, before
        // the device goes; and `iomap_begin` fails a removed device and
        // every bad range a memory failure recorded.
        inode.set_dax_stable();
        // INVARIANT: every device of the fmap was filled and checked above,
        // and its runs were claimed for this inode.
        let f = KBox::write(
            f,
            InodeFmap {
                fmap,
                conn: conn.into(),
                key,
            },
        );
        Ok((f, size))
    }

    fn flush_dax_dev(fmap: &InodeFmap) -> *mut ffi::dax_device {
        let mut first: *mut ffi::dax_device = core::ptr::null_mut();
        for (index, _) in fmap.fmap.devices() {
            let Some(slot) = fmap.conn.slot(index) else {
                continue;
            };
            let dax = slot.dax();
            // SAFETY: the device is held (InodeFmap invariant).
            if unsafe { ffi::dax_write_cache_enabled(dax) } {
                return dax;
            }
            if first.is_null() {
                first = dax;
            }
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
        let slot = fmap.conn.slot(m.devindex).ok_or(EIO)?;
        if slot.is_removed() {
            return Err(ENXIO);
        }
        // Only on a device a memory failure hit: map up to its first bad
        // byte, fail with EHWPOISON at one.
        let length = if slot.is_bad() {
            fmap.conn.good_len(m.devindex, m.dev_offset, m.length)?
        } else {
            m.length
        };
        // The device is held (InodeFmap invariant), so `dax()` is non-null.
        iomap.set_mapped(slot.dax(), pos, m.dev_offset, length);
        Ok(())
    }
}

/// `/sys/kernel/debug/famfs_rs` (the benchmark's iomap_begin timing),
/// removed on drop.
struct Debugfs;

impl Debugfs {
    fn new() -> Self {
        let held = conn::HELD_DAXDEVS.as_ptr().cast();
        // SAFETY: called once, at module init, undone in `drop`; the count
        // is a static with the layout of an `unsigned long` (`usize` on the
        // kernel's targets), which debugfs only reads.
        unsafe { ffi::famfs_rs_debugfs_init(held) };
        Debugfs
    }
}

impl Drop for Debugfs {
    fn drop(&mut self) {
        // SAFETY: `famfs_rs_debugfs_init` ran in `new`.
        unsafe { ffi::famfs_rs_debugfs_exit() };
    }
}

struct FamfsRs {
    // Dropped in order: unregister first, so no iomap_begin runs once the
    // timing files are gone.
    _registration: Registration<Famfs>,
    _debugfs: Debugfs,
}

impl kernel::Module for FamfsRs {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let debugfs = Debugfs::new();
        let registration = Registration::new(module)?;
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
        let held = conn::HELD_DAXDEVS.load(core::sync::atomic::Ordering::Relaxed);
        if kernel::warn_on!(held != 0) {
            pr_err!("{} daxdev(s) still held at unload\n", held);
        }
        pr_info!("famfs_rs {} unloaded\n", VERSION);
    }
}

/// Turns an fmap core error into a kernel error with the same errno.
pub fn to_kernel_error(e: &fmap::Error) -> Error {
    Error::from_errno(-(e.errno as i32))
}

#[kunit_tests(famfs_rs)]
mod tests {
    use super::{conn, ffi, kalloc, to_kernel_error, Famfs, FmapProvider, InodeFmap, Iomap, KFmap};
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
        let conn = Arc::pin_init(conn::Conn::new(), GFP_KERNEL).expect("memory");
        // No device and no claim: only the past-EOF path is exercised.
        let f = InodeFmap { fmap, conn, key: 0 };
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
        let conn = Arc::pin_init(conn::Conn::new(), GFP_KERNEL).expect("memory");
        let slot = conn.slot(0).expect("slot 0");
        // Refused before the (here absent) device or the maps are touched.
        assert_eq!(conn.memory_failure(slot, 0, 0x1000, 0, 0), Err(EINVAL));
        assert_eq!(
            conn.memory_failure(slot, 0, u64::MAX - 10, 100, 0),
            Err(EINVAL)
        );
        assert_eq!(conn.memory_failure(slot, 0, u64::MAX, 1, 0), Err(EINVAL));
        // Nothing was recorded: the device has no bad range.
        assert!(!slot.is_bad());
        assert_eq!(conn.good_len(0, 0x1000, 0x1000), Ok(0x1000));
    }

    #[test]
    fn bad_ranges_read_without_the_lock_agree_with_the_map() {
        let conn = Arc::pin_init(conn::Conn::new(), GFP_KERNEL).expect("memory");
        let slot = conn.slot(0).expect("slot 0");
        let page = 0x1000u64;
        conn.record_bad(slot, 0, 4 * MIB, 4 * MIB + page);
        assert!(slot.is_bad());
        assert_eq!(conn.good_len(0, 0, 8 * MIB), Ok(4 * MIB));
        assert_eq!(conn.good_len(0, 4 * MIB, page), Err(EHWPOISON));
        assert_eq!(conn.good_len(0, 4 * MIB + page - 1, 1), Err(EHWPOISON));
        assert_eq!(conn.good_len(0, 4 * MIB + page, page), Ok(page));
        assert_eq!(conn.good_len(0, 4 * MIB - page, 2 * MIB), Ok(page));
        // Another device of the connection is not affected.
        assert!(!conn.slot(1).expect("slot 1").is_bad());
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
            conn.record_bad(slot, 0, start, start + (1 + (x >> 8) % 4) * page);
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
        let conn = Arc::pin_init(conn::Conn::new(), GFP_KERNEL).expect("memory");
        let mut buf = [0u8; 32 + 2 * 24];
        let n = simple(&mut buf, 4 * MIB, &[(0, 16 * MIB, 4 * MIB)]);
        let a = KFmap::parse(&buf[..n], kalloc).expect("valid fmap");
        // Two inodes (keys) the server gave the same number (nodeid 7).
        assert_eq!(conn.claim(0x1000, 7, &a), Ok(()));
        assert_eq!(conn.claim(0x2000, 7, &a), Err(EBUSY));
        // Overlapping by one block: still refused.
        let n = simple(&mut buf, 4 * MIB, &[(0, 18 * MIB, 4 * MIB)]);
        let b = KFmap::parse(&buf[..n], kalloc).expect("valid fmap");
        assert_eq!(conn.claim(0x2000, 8, &b), Err(EBUSY));
        // One fmap mapping a block twice.
        let n = simple(&mut buf, 4 * MIB, &[(1, 0, 2 * MIB), (1, 0, 2 * MIB)]);
        let c = KFmap::parse(&buf[..n], kalloc).expect("valid fmap");
        assert_eq!(conn.claim(0x3000, 9, &c), Err(EINVAL));
        // A refused claim recorded nothing.
        assert_eq!(conn.claimed_runs(0), 1);
        assert_eq!(conn.claimed_runs(1), 0);
        // Released by its owner, the bytes go to the other inode.
        conn.release(0x1000, &a);
        assert_eq!(conn.claimed_runs(0), 0);
        assert_eq!(conn.claim(0x2000, 7, &b), Ok(()));
        assert_eq!(conn.claim(0x1000, 7, &a), Err(EBUSY));
        conn.release(0x2000, &b);
        assert_eq!(conn.claim(0x1000, 7, &a), Ok(()));
        conn.release(0x1000, &a);
        assert_eq!(conn.claimed_runs(0), 0);
    }

    #[test]
    fn bindgen_iomap_layout_matches_c() {
        let mut l = ffi::famfs_rs_iomap_layout::default();
        // SAFETY: `l` is a valid, exclusive pointer for the call.
        unsafe { ffi::famfs_rs_iomap_layout(&mut l) };
        assert_eq!(l.size, core::mem::size_of::<ffi::iomap>());
        assert_eq!(l.addr, core::mem::offset_of!(ffi::iomap, addr));
        assert_eq!(l.offset, core::mem::offset_of!(ffi::iomap, offset));
        assert_eq!(l.length, core::mem::offset_of!(ffi::iomap, length));
        assert_eq!(l.type_, core::mem::offset_of!(ffi::iomap, type_));
        assert_eq!(l.flags, core::mem::offset_of!(ffi::iomap, flags));
        assert_eq!(l.dax_dev, core::mem::offset_of!(ffi::iomap, dax_dev));
    }
}

/// The range maps at CXL scale: claims far into huge devices, and what
/// 10,000, 1,000,000 and 2^21 claimed extents cost. A suite of its own, so
/// that the module's load/unload tests, which load it a hundred times, can
/// leave it out (`kunit.filter_glob`); every test run runs it once.
#[kunit_tests(famfs_rs_scale)]
mod scale_tests {
    use super::{conn, kalloc, KFmap};
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

    fn new_conn() -> Arc<conn::Conn> {
        Arc::pin_init(conn::Conn::new(), GFP_KERNEL).expect("memory")
    }

    #[test]
    fn claims_far_into_huge_devices_keep_the_overlap_rules() {
        let c = new_conn();
        for base in [TIB, 16 * TIB, 1 << 50, u64::MAX - (2 * MIB - 1) - 64 * MIB] {
            let base = base & !(2 * MIB - 1);
            let a = fmap_of(16, |i| base + 2 * MIB * i); // 32 MiB, one run
            assert_eq!(c.claim(0x1000, 1, &a), Ok(()));
            assert_eq!(c.claimed_runs(0), 1);
            // One block over the end of `a`, or over its first block.
            let b = fmap_of(2, |i| base + 30 * MIB + 2 * MIB * i);
            assert_eq!(c.claim(0x2000, 2, &b), Err(EBUSY));
            let b = fmap_of(1, |_| base);
            assert_eq!(c.claim(0x2000, 2, &b), Err(EBUSY));
            // Adjacent on both sides: fine.
            let b = fmap_of(2, |i| base + 32 * MIB + 2 * MIB * i);
            assert_eq!(c.claim(0x2000, 2, &b), Ok(()));
            // One fmap mapping one block twice.
            let d = fmap_of(2, |_| base + 40 * MIB);
            assert_eq!(c.claim(0x3000, 3, &d), Err(EINVAL));
            assert_eq!(c.claimed_runs(0), 2);
            c.release(0x1000, &a);
            let b2 = fmap_of(1, |_| base);
            assert_eq!(c.claim(0x3000, 3, &b2), Ok(()));
            c.release(0x3000, &b2);
            c.release(0x2000, &b);
            assert_eq!(c.claimed_runs(0), 0);
        }
    }

    /// Claims and releases `n` extents that cannot merge (a 2 MiB gap after
    /// each), spread `stride` bytes apart, and checks and logs what they
    /// cost.
    fn measure(n: u64, stride: u64) {
        let c = new_conn();
        let f = fmap_of(n, |i| i * stride);
        let t = Instant::<Monotonic>::now();
        assert_eq!(c.claim(0x1000, 1, &f), Ok(()));
        let claim_us = t.elapsed().as_micros_ceil();
        let runs = c.claimed_runs(0);
        assert_eq!(runs as u64, n);
        // One slab object per extent, whatever the device offsets.
        let per = conn::claim_node_bytes();
        assert!(per <= 64);
        // Overlap checks still find a clash in the middle.
        let g = fmap_of(1, |_| (n / 2) * stride);
        assert_eq!(c.claim(0x2000, 2, &g), Err(EBUSY));
        let t = Instant::<Monotonic>::now();
        c.release(0x1000, &f);
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
