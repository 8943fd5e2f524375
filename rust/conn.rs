// SPDX-License-Identifier: GPL-2.0

//! Per-connection state of famfs_rs: the daxdev table.
//!
//! Each fuse connection that negotiated FUSE_DAX_FMAP has a table of
//! [`fmap::MAX_DAXDEVS`] slots, filled lazily: when an fmap names a device
//! index whose slot is empty, the server is asked for its path
//! (FUSE_GET_DAXDEV), and the device is taken as this slot's fs-dax holder
//! (`fs_dax_get`, which requires the device to be bound to `fsdev_dax` and
//! free). Devices are released when the connection goes away.
//!
//! The table also records who owns each 2 MiB block of each device: fs-dax
//! allows one owner per DAX page, so an fmap that maps a block another
//! live inode maps (EBUSY), or maps one block at two file offsets
//! (EINVAL), is refused at open instead of tripping the DAX core later.

use crate::{ffi, fmap, provider::FmapInode, KFmap};
use core::{
    ffi::{c_int, c_void, CStr},
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, Ordering},
};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings, new_mutex,
    prelude::*,
    sync::Mutex,
};

/// Size of a FUSE_GET_DAXDEV reply (`struct famfs_daxdev_out`).
pub(crate) const DAXDEV_REPLY_SIZE: usize = 280;
const NAME_OFFSET: usize = 24;

/// One slot of the daxdev table.
///
/// # Invariants
///
/// `dax` is null or a device taken by `famfs_rs_daxdev_open` with this
/// slot's address as holder, released only by the owning [`Conn`]'s drop.
/// It goes from null to non-null once, under [`Conn::fill`], and never back
/// while the connection lives.
pub(crate) struct DevSlot {
    dax: AtomicPtr<ffi::dax_device>,
    bad: AtomicBool,
}

impl DevSlot {
    const fn new() -> Self {
        DevSlot {
            dax: AtomicPtr::new(ptr::null_mut()),
            bad: AtomicBool::new(false),
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

    fn holder(&self) -> *mut c_void {
        ptr::from_ref(self).cast_mut().cast()
    }
}

/// Who maps a 2 MiB device block.
#[derive(Clone, Copy, Default)]
struct Block {
    /// Inode number of the owner (meaningful while `count > 0`).
    owner: u64,
    /// Live fmaps of `owner` that map the block (racing opens of one inode
    /// may each hold one for a moment).
    count: u32,
    /// The last claim that saw the block, to catch an fmap mapping it twice.
    seen: u32,
}

/// The owners of every device's blocks, grown as fmaps reach further.
struct Owners {
    blocks: [KVec<Block>; fmap::MAX_DAXDEVS],
    claim: u32,
}

/// The daxdev table of one connection.
#[pin_data(PinnedDrop)]
pub(crate) struct Conn {
    slots: [DevSlot; fmap::MAX_DAXDEVS],
    /// Serializes filling slots and claiming blocks.
    #[pin]
    owners: Mutex<Owners>,
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

/// Memory failure on a device we hold: mark it bad. Later faults and I/O
/// on it fail with EHWPOISON instead of touching the memory.
///
/// # Safety
///
/// Called by the DAX core for a device whose holder is a [`DevSlot`].
unsafe extern "C" fn notify_failure(
    dax_dev: *mut ffi::dax_device,
    offset: u64,
    len: u64,
    _mf_flags: c_int,
) -> c_int {
    // SAFETY: `dax_dev` is a live device the DAX core is notifying about.
    let holder = unsafe { ffi::dax_holder(dax_dev) };
    if holder.is_null() {
        return -(bindings::EOPNOTSUPP as c_int);
    }
    // SAFETY: our holder cookie is the address of a `DevSlot` inside a
    // `Conn`, which outlives the holding (released in `Conn`'s drop).
    let slot = unsafe { &*holder.cast::<DevSlot>() };
    slot.bad.store(true, Ordering::Relaxed);
    crate::err_rl!(
        "memory failure on a daxdev at {:#x}+{:#x}: its files now fail with EHWPOISON",
        offset,
        len
    );
    0
}

impl Conn {
    /// A new, empty table.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Conn {
            slots: [const { DevSlot::new() }; fmap::MAX_DAXDEVS],
            owners <- new_mutex!(Owners {
                blocks: [const { KVec::new() }; fmap::MAX_DAXDEVS],
                claim: 0,
            }),
        })
    }

    /// The slot of device `index` (< MAX_DAXDEVS, checked by the fmap core).
    pub(crate) fn slot(&self, index: u32) -> Option<&DevSlot> {
        self.slots.get(index as usize)
    }

    /// Makes sure device `index` is known and at least `end` bytes long,
    /// asking the server (through `inode`'s connection) the first time.
    pub(crate) fn fill(&self, inode: &FmapInode, index: u32, end: u64) -> Result {
        let slot = self.slot(index).ok_or(ERANGE)?;
        if slot.dax().is_null() {
            // Ask the server without holding the lock: a server that does not
            // answer then blocks only this (killable) opener, not every
            // other open of the connection in an uninterruptible mutex_lock.
            let mut reply = [0u8; DAXDEV_REPLY_SIZE];
            let name = Self::fetch_name(inode, index, &mut reply)?;
            let _guard = self.owners.lock();
            if slot.dax().is_null() {
                let dax = Self::take(inode, index, name, slot)?;
                // INVARIANT: filled once, under the lock, with a device held
                // with this slot as holder.
                slot.dax.store(dax, Ordering::Release);
            }
        }
        // SAFETY: the slot holds a live device (type invariant).
        let rc = unsafe { ffi::famfs_rs_daxdev_check_end(slot.dax(), end) };
        if rc != 0 {
            crate::warn_rl!(
                "inode {}: fmap reaches byte {:#x} of daxdev {}, which is shorter ({})",
                inode.ino(),
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
                "inode {}: GET_DAXDEV {} failed: error {}",
                inode.ino(),
                index,
                e.to_errno()
            );
        })?;
        parse_daxdev_reply(&reply[..n], index).map_err(|why| {
            crate::warn_rl!(
                "inode {}: GET_DAXDEV {} reply rejected: {}",
                inode.ino(),
                index,
                why
            );
            EINVAL
        })
    }

    /// Takes the device at `name` as `slot`'s fs-dax holder.
    fn take(
        inode: &FmapInode,
        index: u32,
        name: &CStr,
        slot: &DevSlot,
    ) -> Result<*mut ffi::dax_device> {
        let mut dax = ptr::null_mut();
        // SAFETY: `name` is NUL-terminated; the holder cookie is the slot's
        // address, stable for the connection's life; `dax` is writable.
        let rc = unsafe {
            ffi::famfs_rs_daxdev_open(name.as_char_ptr(), slot.holder(), &HOLDER_OPS, &mut dax)
        };
        if rc != 0 {
            crate::warn_rl!(
                "inode {}: daxdev {} ({:?}): cannot take it as fs-dax holder: {}",
                inode.ino(),
                index,
                name,
                rc
            );
            return Err(Error::from_errno(rc));
        }
        Ok(dax)
    }
}

impl Conn {
    /// Records that inode `ino` maps every device block of `fmap`, or fails
    /// without recording anything: EBUSY if another live inode maps one of
    /// them, EINVAL if `fmap` maps one block twice, ENOMEM.
    pub(crate) fn claim(&self, ino: u64, fmap: &KFmap) -> Result {
        let mut o = self.owners.lock();
        o.claim = o.claim.wrapping_add(1).max(1);
        let claim = o.claim;
        // Pass 1: check, and mark the blocks seen by this claim.
        for_each_block(fmap, |dev, block| {
            // devindex < MAX_DAXDEVS by the fmap core; no panic if not.
            let v = o.blocks.get_mut(dev as usize).ok_or(EIO)?;
            if v.len() <= block {
                v.resize(block + 1, Block::default(), GFP_KERNEL)?;
            }
            let b = &mut v[block];
            if b.seen == claim {
                crate::warn_rl!(
                    "inode {}: fmap maps block {:#x} of daxdev {} twice",
                    ino,
                    block as u64 * fmap::ALIGN,
                    dev
                );
                return Err(EINVAL);
            }
            if b.count != 0 && b.owner != ino {
                crate::warn_rl!(
                    "inode {}: fmap maps block {:#x} of daxdev {}, which inode {} maps",
                    ino,
                    block as u64 * fmap::ALIGN,
                    dev,
                    b.owner
                );
                return Err(EBUSY);
            }
            b.seen = claim;
            Ok(())
        })?;
        // Pass 2: commit (the blocks exist now).
        for_each_block(fmap, |dev, block| {
            let b = o
                .blocks
                .get_mut(dev as usize)
                .and_then(|v| v.get_mut(block))
                .ok_or(EIO)?;
            b.owner = ino;
            b.count = b.count.saturating_add(1);
            Ok(())
        })
    }

    /// Undoes a successful `claim(ino, fmap)`.
    pub(crate) fn release(&self, fmap: &KFmap) {
        let mut o = self.owners.lock();
        // Cannot fail: claim() grew every vector and resolved every block.
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
                // as holder (type invariant); no fmap of the connection is
                // left, so nothing maps it any more.
                unsafe { ffi::famfs_rs_daxdev_close(dax, slot.holder()) };
            }
        }
    }
}
