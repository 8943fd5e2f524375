// SPDX-License-Identifier: GPL-2.0

//! Per-connection state of famfs_rs: the daxdev table.
//!
//! Each fuse connection that negotiated FUSE_DAX_FMAP has a table of
//! [`fmap::MAX_DAXDEVS`] slots, filled lazily: when an fmap names a device
//! index whose slot is empty, the server is asked for its path
//! (FUSE_GET_DAXDEV), and the device is taken as this slot's fs-dax holder
//! (`fs_dax_get`, which requires the device to be bound to `fsdev_dax` and
//! free). Devices are released when the connection goes away.

use crate::{ffi, fmap, provider::FmapInode};
use core::{
    ffi::{c_int, c_void, CStr},
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, Ordering},
};
use kernel::{bindings, new_mutex, prelude::*, sync::Mutex};

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

/// The daxdev table of one connection.
#[pin_data(PinnedDrop)]
pub(crate) struct Conn {
    slots: [DevSlot; fmap::MAX_DAXDEVS],
    #[pin]
    fill_lock: Mutex<()>,
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
            fill_lock <- new_mutex!(()),
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
            let _guard = self.fill_lock.lock();
            if slot.dax().is_null() {
                let dax = Self::open(inode, index, slot)?;
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

    fn open(inode: &FmapInode, index: u32, slot: &DevSlot) -> Result<*mut ffi::dax_device> {
        let mut reply = [0u8; DAXDEV_REPLY_SIZE];
        let n = inode.get_daxdev(index, &mut reply).inspect_err(|e| {
            crate::warn_rl!(
                "inode {}: GET_DAXDEV {} failed: {:?}",
                inode.ino(),
                index,
                e
            );
        })?;
        let name = parse_daxdev_reply(&reply[..n], index).map_err(|why| {
            crate::warn_rl!(
                "inode {}: GET_DAXDEV {} reply rejected: {}",
                inode.ino(),
                index,
                why
            );
            EINVAL
        })?;
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
