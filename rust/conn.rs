// SPDX-License-Identifier: GPL-2.0

//! Per-connection state of famfs_rs: the daxdev table and the block owners.
//!
//! Each fuse connection that negotiated FUSE_DAX_FMAP has a table of
//! [`fmap::MAX_DAXDEVS`] slots, filled lazily: when an fmap names a device
//! index whose slot is empty, the server is asked for its path
//! (FUSE_GET_DAXDEV), which is resolved from the root (and in the mount
//! namespace) of the task that completed FUSE_INIT, the server, whoever
//! opens the file, and the device is taken as this slot's fs-dax holder
//! (`fs_dax_get`, which requires the device to be bound to `fsdev_dax` and
//! free). Devices are released when the connection goes away.
//!
//! The connection also records which inode owns each 2 MiB block of each
//! device: fs-dax allows one owner per DAX page, so an fmap that maps a
//! block another live inode maps (EBUSY), or maps one block at two file
//! offsets (EINVAL), is refused at open instead of tripping the DAX core
//! later. Owners are inodes, not inode numbers: the server chooses i_ino
//! and may change it at every attribute reply.
//!
//! Locking: the owners live under a spinlock, which inode eviction takes
//! (an fmap's release) and nothing holds while it sleeps, allocates or
//! waits on the server. Filling a slot takes no lock at all: racing fills
//! of one slot agree through `fs_dax_get` and a compare-exchange.

use crate::{ffi, fmap, provider::FmapInode, provider::InodeRef, KFmap};
use core::{
    ffi::{c_int, c_void, CStr},
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, Ordering},
};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVVec},
    bindings, new_spinlock,
    prelude::*,
    sync::SpinLock,
    types::Opaque,
};

/// Size of a FUSE_GET_DAXDEV reply (`struct famfs_daxdev_out`).
pub(crate) const DAXDEV_REPLY_SIZE: usize = 280;
const NAME_OFFSET: usize = 24;

/// One slot of the daxdev table.
///
/// # Invariants
///
/// `dax` is null or a device taken by `famfs_rs_daxdev_open` with this
/// slot's address as holder, with the two references that
/// `famfs_rs_daxdev_close` drops in the owning [`Conn`]'s drop. It goes
/// from null to non-null once and never back while the connection lives.
/// `conn` is null or the [`Conn`] that contains this slot, and is set
/// before the slot can become the device's holder.
pub(crate) struct DevSlot {
    dax: AtomicPtr<ffi::dax_device>,
    conn: AtomicPtr<Conn>,
    bad: AtomicBool,
    removed: AtomicBool,
}

impl DevSlot {
    const fn new() -> Self {
        DevSlot {
            dax: AtomicPtr::new(ptr::null_mut()),
            conn: AtomicPtr::new(ptr::null_mut()),
            bad: AtomicBool::new(false),
            removed: AtomicBool::new(false),
        }
    }

    /// The device, once filled (acquire: pairs with the fill's release).
    pub(crate) fn dax(&self) -> *mut ffi::dax_device {
        self.dax.load(Ordering::Acquire)
    }

    /// A memory failure was reported on this device.
    pub(crate) fn is_bad(&self) -> bool {
        self.bad.load(Ordering::Relaxed)
    }

    /// The device was removed (unbound) under this connection: it is gone
    /// for good, whatever comes back under its name later.
    pub(crate) fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }

    fn holder(&self) -> *mut c_void {
        ptr::from_ref(self).cast_mut().cast()
    }
}

/// Who maps a 2 MiB device block.
#[derive(Clone, Copy, Default)]
struct Block {
    /// The owning inode's address ([`FmapInode::key`]; meaningful while
    /// `count > 0`).
    owner: usize,
    /// Live fmaps of `owner` that map the block.
    count: u32,
    /// The last claim that saw the block, to catch an fmap mapping it twice.
    seen: u32,
}

/// The owners of every device's blocks, grown (outside the lock) as fmaps
/// reach further.
struct Owners {
    blocks: [KVVec<Block>; fmap::MAX_DAXDEVS],
    claim: u32,
}

/// The root directory daxdev paths are resolved from.
///
/// # Invariants
///
/// Holds one reference to a `struct path` (taken by `famfs_rs_root_get`),
/// put by [`Conn`]'s drop.
#[pin_data]
struct ServerRoot {
    #[pin]
    path: Opaque<bindings::path>,
}

impl ServerRoot {
    /// The calling task's root.
    fn current() -> impl PinInit<Self> {
        pin_init!(ServerRoot {
            // SAFETY: `famfs_rs_root_get` fills the path in place and takes
            // a reference on it.
            // INVARIANT: that reference, put by `Conn`'s drop.
            path <- Opaque::ffi_init(|p| unsafe { ffi::famfs_rs_root_get(p) }),
        })
    }
}

// SAFETY: the path is only read (by `vfs_path_lookup`, which takes its own
// references) after it is initialised, and put once, by the owner's drop;
// a `struct path` may be used from any thread.
unsafe impl Send for ServerRoot {}
// SAFETY: as above: shared use is read-only.
unsafe impl Sync for ServerRoot {}

/// The state of one connection.
///
/// # Invariants
///
/// `root` is the root directory of the task that completed FUSE_INIT.
#[pin_data(PinnedDrop)]
pub(crate) struct Conn {
    slots: [DevSlot; fmap::MAX_DAXDEVS],
    /// Block owners. Taken by eviction: never sleep, allocate or wait on
    /// the server under it.
    #[pin]
    owners: SpinLock<Owners>,
    /// Where the server's daxdev paths are resolved from.
    #[pin]
    root: ServerRoot,
}

/// Calls `f(devindex, block)` for every 2 MiB device block `fmap` maps, in
/// file order (through `resolve`, so exactly what faults can reach).
fn for_each_block(fmap: &KFmap, mut f: impl FnMut(u32, usize) -> Result) -> Result {
    let mut off = 0u64;
    while off < fmap.file_size() {
        let m = fmap.resolve(off, fmap::ALIGN).map_err(|_| EIO)?;
        let block = usize::try_from(m.dev_offset / fmap::ALIGN).map_err(|_| EOVERFLOW)?;
        f(m.devindex, block)?;
        off += fmap::ALIGN;
    }
    Ok(())
}

/// What the holder operations tell famfs_rs about its devices.
static HOLDER_OPS: ffi::dax_holder_operations = ffi::dax_holder_operations {
    notify_failure: Some(notify_failure),
};

/// Memory failure on a device we hold.
///
/// A device going away (MF_MEM_PRE_REMOVE, from `kill_dax()` on unbind):
/// mark its slot removed, so that `iomap_begin` and later opens fail with
/// ENXIO, then take every mapping of every file on it away and wait for
/// their page references (`fuse_dax_fmap_revoke()`; for a file being
/// evicted, until its eviction, which waits for them, released its
/// claim), so that nothing reaches the memory through famfs once it is
/// handed to someone else: `memunmap_pages()` does not wait for the
/// references of fs-dax pages. No signal ends these waits.
///
/// Any other failure: mark the device bad. Later faults and I/O on it fail
/// with EHWPOISON instead of touching the memory.
///
/// # Safety
///
/// Called by the DAX core for a device whose holder is a [`DevSlot`], in
/// its SRCU read section: `fs_put_dax()` (in [`Conn`]'s drop) waits for
/// this call to return before the slot can go (patches/0004).
unsafe extern "C" fn notify_failure(
    dax_dev: *mut ffi::dax_device,
    offset: u64,
    len: u64,
    mf_flags: c_int,
) -> c_int {
    // SAFETY: `dax_dev` is a live device the DAX core is notifying about.
    let holder = unsafe { ffi::dax_holder(dax_dev) };
    if holder.is_null() {
        return -(bindings::EOPNOTSUPP as c_int);
    }
    // SAFETY: our holder cookie is the address of a `DevSlot` inside a
    // `Conn`, which outlives the holding (see the function's contract).
    let slot = unsafe { &*holder.cast::<DevSlot>() };
    // SAFETY: no preconditions.
    if !unsafe { ffi::famfs_rs_mf_pre_remove(mf_flags) } {
        slot.bad.store(true, Ordering::Relaxed);
        crate::err_rl!(
            "memory failure on a daxdev at {:#x}+{:#x}: its files now fail with EHWPOISON",
            offset,
            len
        );
        return 0;
    }
    slot.removed.store(true, Ordering::Release);
    let conn = slot.conn.load(Ordering::Acquire);
    if conn.is_null() {
        return 0;
    }
    // SAFETY: `conn` is the `Conn` containing `slot` (`DevSlot`
    // invariant), alive as long as the slot is.
    let conn = unsafe { &*conn };
    let n = conn.revoke_device(slot);
    crate::err_rl!(
        "a daxdev is being removed: {} file(s) on it lost their mappings, and fail with ENXIO",
        n
    );
    0
}

impl Conn {
    /// A new, empty table, resolving daxdev paths from the calling task's
    /// root.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Conn {
            slots: [const { DevSlot::new() }; fmap::MAX_DAXDEVS],
            owners <- new_spinlock!(Owners {
                blocks: [const { KVVec::new() }; fmap::MAX_DAXDEVS],
                claim: 0,
            }),
            root <- ServerRoot::current(),
        })
    }

    /// The slot of device `index` (< MAX_DAXDEVS, checked by the fmap core).
    pub(crate) fn slot(&self, index: u32) -> Option<&DevSlot> {
        self.slots.get(index as usize)
    }

    /// Makes sure device `index` is known and at least `end` bytes long,
    /// asking the server (through `inode`'s connection) the first time.
    /// Takes no lock: a server that stalls blocks only this (killable)
    /// opener.
    pub(crate) fn fill(&self, inode: &FmapInode, index: u32, end: u64) -> Result {
        let slot = self.slot(index).ok_or(ERANGE)?;
        if slot.dax().is_null() && !slot.is_removed() {
            let mut reply = [0u8; DAXDEV_REPLY_SIZE];
            let name = Self::fetch_name(inode, index, &mut reply)?;
            // INVARIANT: set before the slot can become the device's holder.
            slot.conn
                .store(ptr::from_ref(self).cast_mut(), Ordering::Release);
            let dax = self.take(inode, index, name, slot)?;
            // INVARIANT: the first fill stores the device it took; a racing
            // fill of the same slot found it held by the slot and stores the
            // same pointer, or loses the exchange to it.
            let _ = slot.dax.compare_exchange(
                ptr::null_mut(),
                dax,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
        if slot.is_removed() {
            crate::warn_rl!(
                "file {}: daxdev {} was removed; remount to use it again",
                inode.nodeid(),
                index
            );
            return Err(ENXIO);
        }
        // SAFETY: the slot holds a live device (type invariant).
        let rc = unsafe { ffi::famfs_rs_daxdev_check_end(slot.dax(), end) };
        if rc != 0 {
            crate::warn_rl!(
                "file {}: fmap reaches byte {:#x} of daxdev {}, which is shorter ({})",
                inode.nodeid(),
                end,
                index,
                rc
            );
            return Err(ERANGE);
        }
        Ok(())
    }

    /// FUSE_GET_DAXDEV for `index`: the device path, checked, in `reply`.
    fn fetch_name<'a>(
        inode: &FmapInode,
        index: u32,
        reply: &'a mut [u8; DAXDEV_REPLY_SIZE],
    ) -> Result<&'a CStr> {
        let n = inode.get_daxdev(index, reply).inspect_err(|e| {
            crate::warn_rl!(
                "file {}: GET_DAXDEV {} failed: error {}",
                inode.nodeid(),
                index,
                e.to_errno()
            );
        })?;
        parse_daxdev_reply(&reply[..n], index).map_err(|why| {
            crate::warn_rl!(
                "file {}: GET_DAXDEV {} reply rejected: {}",
                inode.nodeid(),
                index,
                why
            );
            EINVAL
        })
    }

    /// Takes the device at `name` (resolved from the connection's root) as
    /// `slot`'s fs-dax holder, or finds that `slot` holds it already.
    fn take(
        &self,
        inode: &FmapInode,
        index: u32,
        name: &CStr,
        slot: &DevSlot,
    ) -> Result<*mut ffi::dax_device> {
        let mut dax = ptr::null_mut();
        // SAFETY: `root` is a referenced path (type invariant); `name` is
        // NUL-terminated; the holder cookie is the slot's address, stable
        // for the connection's life; `dax` is writable.
        let rc = unsafe {
            ffi::famfs_rs_daxdev_open(
                self.root.path.get(),
                name.as_char_ptr(),
                slot.holder(),
                &HOLDER_OPS,
                &mut dax,
            )
        };
        if rc < 0 {
            crate::warn_rl!(
                "file {}: daxdev {} ({:?}): cannot take it as fs-dax holder: {}",
                inode.nodeid(),
                index,
                name,
                rc
            );
            return Err(Error::from_errno(rc));
        }
        Ok(dax)
    }

    /// Makes the block table of device `dev` at least `len` long. Allocates
    /// without the lock, copies and swaps under it, frees without it.
    fn grow(&self, dev: usize, len: usize) -> Result {
        if self.owners.lock().blocks.get(dev).ok_or(EIO)?.len() >= len {
            return Ok(());
        }
        let mut v = KVVec::<Block>::with_capacity(len, GFP_KERNEL)?;
        let mut o = self.owners.lock();
        let old = o.blocks.get_mut(dev).ok_or(EIO)?;
        if old.len() < len {
            for b in old.iter() {
                v.push_within_capacity(*b).map_err(|_| EIO)?;
            }
            while v.len() < len {
                v.push_within_capacity(Block::default()).map_err(|_| EIO)?;
            }
            core::mem::swap(old, &mut v);
        }
        drop(o);
        // The old (or unused) table is freed here, without the lock.
        drop(v);
        Ok(())
    }

    /// Records that the inode `key` (file `nodeid`, for messages) maps every
    /// device block of `fmap`, or fails without recording anything: EBUSY
    /// if another live inode maps one of them, EINVAL if `fmap` maps one
    /// block twice, ENOMEM.
    pub(crate) fn claim(&self, key: usize, nodeid: u64, fmap: &KFmap) -> Result {
        for (dev, end) in fmap.devices() {
            let len = usize::try_from(end.div_ceil(fmap::ALIGN)).map_err(|_| EOVERFLOW)?;
            self.grow(dev as usize, len)?;
        }
        let mut o = self.owners.lock();
        o.claim = o.claim.wrapping_add(1).max(1);
        let claim = o.claim;
        // Pass 1: check, and mark the blocks seen by this claim.
        let mut clash = None;
        for_each_block(fmap, |dev, block| {
            // Grown above; devindex < MAX_DAXDEVS by the fmap core.
            let b = o
                .blocks
                .get_mut(dev as usize)
                .and_then(|v| v.get_mut(block))
                .ok_or(EIO)?;
            if b.seen == claim {
                clash = Some((dev, block, None));
                return Err(EINVAL);
            }
            if b.count != 0 && b.owner != key {
                clash = Some((dev, block, Some(b.owner)));
                return Err(EBUSY);
            }
            b.seen = claim;
            Ok(())
        })
        .and_then(|()| {
            // Pass 2: commit.
            for_each_block(fmap, |dev, block| {
                let b = o
                    .blocks
                    .get_mut(dev as usize)
                    .and_then(|v| v.get_mut(block))
                    .ok_or(EIO)?;
                b.owner = key;
                b.count = b.count.saturating_add(1);
                Ok(())
            })
        })
        .inspect_err(|_| {
            drop(o);
            match clash {
                Some((dev, block, None)) => crate::warn_rl!(
                    "file {}: fmap maps block {:#x} of daxdev {} twice",
                    nodeid,
                    block as u64 * fmap::ALIGN,
                    dev
                ),
                Some((dev, block, Some(_))) => crate::warn_rl!(
                    "file {}: fmap maps block {:#x} of daxdev {}, which another open file maps",
                    nodeid,
                    block as u64 * fmap::ALIGN,
                    dev
                ),
                None => {}
            }
        })
    }

    /// Undoes a successful `claim(key, _, fmap)`. No allocation, no sleep:
    /// called from inode eviction.
    pub(crate) fn release(&self, fmap: &KFmap) {
        let mut o = self.owners.lock();
        // Cannot fail: claim() grew every table and resolved every block.
        let _ = for_each_block(fmap, |dev, block| {
            if let Some(b) = o
                .blocks
                .get_mut(dev as usize)
                .and_then(|v| v.get_mut(block))
            {
                b.count = b.count.saturating_sub(1);
            }
            Ok(())
        });
    }

    /// Takes every mapping of every file on the device of `slot` away
    /// (`fuse_dax_fmap_revoke()`), and waits until every file on it that is
    /// being evicted has released its claim (its eviction first waits for
    /// its page references); returns how many files were revoked. The
    /// owners lock is held only to find and pin the next inode.
    fn revoke_device(&self, slot: &DevSlot) -> usize {
        /// What the next owner of the device's blocks needs.
        enum Next {
            /// Pinned: revoke it.
            Revoke(InodeRef),
            /// Being evicted, or its super block is busy: its eviction
            /// waits for its page references and then releases its claim.
            /// Wait for that.
            Wait,
            /// No owner left.
            Done,
        }
        let Some(dev) = self.slots.iter().position(|s| ptr::eq(s, slot)) else {
            return 0;
        };
        let mut cursor = 0usize;
        let mut last = 0usize;
        let mut n = 0usize;
        loop {
            let next = {
                let o = self.owners.lock();
                let mut next = Next::Done;
                if let Some(v) = o.blocks.get(dev) {
                    while let Some(b) = v.get(cursor) {
                        if b.count == 0 || b.owner == last {
                            cursor += 1;
                            continue;
                        }
                        // SAFETY: a claimed owner is a live fmap inode of this
                        // connection: its claim is released by its eviction,
                        // which needs this lock, before the inode is freed.
                        next = match unsafe { InodeRef::grab(b.owner as *mut bindings::inode) } {
                            Ok(Some(inode)) => {
                                last = b.owner;
                                cursor += 1;
                                Next::Revoke(inode)
                            }
                            // Look at this block again once the eviction (or
                            // the writer of s_umount) is done.
                            Ok(None) | Err(_) => Next::Wait,
                        };
                        break;
                    }
                }
                next
            };
            match next {
                Next::Revoke(inode) => {
                    // Cannot fail: the wait for page references is not
                    // interruptible.
                    let _ = inode.revoke();
                    n += 1;
                    // `inode` is unpinned here, without the lock.
                }
                // Until the memory is free of references, it must not go.
                // SAFETY: no preconditions; no lock is held.
                Next::Wait => unsafe { bindings::msleep(1) },
                Next::Done => return n,
            }
        }
    }
}

/// Checks a GET_DAXDEV reply for device `index` and returns its path.
pub(crate) fn parse_daxdev_reply(
    r: &[u8],
    index: u32,
) -> core::result::Result<&CStr, &'static str> {
    if r.len() != DAXDEV_REPLY_SIZE {
        return Err("reply is not 280 bytes");
    }
    let le16 = |o: usize| u16::from_le_bytes([r[o], r[o + 1]]);
    if u32::from(le16(0)) != index {
        return Err("reply is for another index");
    }
    if le16(2) != 0 || r[4..NAME_OFFSET].iter().any(|&b| b != 0) {
        return Err("reserved fields not zero");
    }
    let name = &r[NAME_OFFSET..];
    let nul = name
        .iter()
        .position(|&b| b == 0)
        .ok_or("name not NUL-terminated")?;
    if nul == 0 {
        return Err("empty name");
    }
    // A relative path would name a different file for every opener's
    // working directory.
    if name[0] != b'/' {
        return Err("name is not an absolute path");
    }
    CStr::from_bytes_with_nul(&name[..=nul]).map_err(|_| "bad name")
}

#[pinned_drop]
impl PinnedDrop for Conn {
    fn drop(self: Pin<&mut Self>) {
        for slot in &self.slots {
            let dax = slot.dax();
            if !dax.is_null() {
                // SAFETY: a filled slot holds the device with its own address
                // as holder and two references (type invariant); no fmap of
                // the connection is left, so nothing maps it any more. After a
                // removal the holding is already gone and fs_put_dax() leaves
                // the device alone (patches/0004); it also waits for a
                // notify_failure() still running with this slot.
                unsafe { ffi::famfs_rs_daxdev_close(dax, slot.holder()) };
            }
        }
        // SAFETY: `root` holds a reference (`ServerRoot` invariant), put once.
        unsafe { bindings::path_put(self.root.path.get()) };
    }
}
