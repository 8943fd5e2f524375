// SPDX-License-Identifier: GPL-2.0

//! DAX devices held as fs-dax holder: a thin abstraction over
//! `linux/dax.h` (`fs_dax_get()`, `fs_put_dax()`, holder operations) and
//! the module's C helpers for it.
//!
//! A [`Devices`] table has [`SLOTS`] slots. [`Devices::take`] opens a
//! device-dax node by path, as the server that named it would (from its
//! root, with its credentials), and takes the device as the fs-dax holder
//! of one slot: the slot's address is the holder cookie, and the DAX core
//! calls the table's [`Holder`] when memory of a device it holds fails or
//! the device goes away. The table releases every holding when it is
//! dropped, before the data the holder operations use. All `unsafe` about
//! DAX devices lives here; the logic (`conn.rs`) has none.

use crate::{ffi, fmap, provider::InitServer};
use core::{
    ffi::{c_int, c_void, CStr},
    marker::PhantomPinned,
    ops::Deref,
    ptr,
};
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{Acquire, Atomic, Full, Relaxed},
    types::Opaque,
};

/// Slots of a table: one per device index an fmap may name.
pub(crate) const SLOTS: usize = fmap::MAX_DAXDEVS;

/// Takes of devices not yet put, over all tables: 0 once every table is
/// gone (checked at module unload, shown in debugfs).
static HELD: Atomic<usize> = Atomic::new(0);

/// Takes of devices not yet put, over all tables.
pub(crate) fn held() -> usize {
    HELD.load(Relaxed)
}

/// A live DAX device.
///
/// # Invariants
///
/// The wrapped `dax_device` is alive (a reference or a holding keeps it)
/// for as long as a reference to this wrapper lives.
#[repr(transparent)]
pub(crate) struct DaxDev(Opaque<ffi::dax_device>);

impl DaxDev {
    /// # Safety
    ///
    /// `ptr` is a live `dax_device` that stays alive for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut ffi::dax_device) -> &'a Self {
        // SAFETY: `DaxDev` is a transparent wrapper of `dax_device`, and
        // the caller guarantees the pointee lives for `'a`.
        // INVARIANT: as the caller guarantees.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The C pointer, for an iomap or a flush.
    pub(crate) fn as_ptr(&self) -> *mut ffi::dax_device {
        self.0.get()
    }

    /// Whether the device's write cache is on (`dax_write_cache_enabled()`).
    pub(crate) fn write_cache_enabled(&self) -> bool {
        // SAFETY: the device is alive (type invariant).
        unsafe { ffi::dax_write_cache_enabled(self.as_ptr()) }
    }

    /// Checks that the device has a byte at `end - 1` (`dax_direct_access()`
    /// of that page): the device's error if not. `end` is not 0.
    pub(crate) fn check_end(&self, end: u64) -> Result {
        if end == 0 {
            return Err(EINVAL);
        }
        // SAFETY: the device is alive (type invariant).
        let rc = unsafe { ffi::famfs_rs_daxdev_check_end(self.as_ptr(), end) };
        if rc < 0 {
            return Err(Error::from_errno(rc));
        }
        Ok(())
    }
}

/// The `mf_flags` of a memory failure, passed on to the kill path.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MfFlags(c_int);

impl MfFlags {
    /// The flags as the C code takes them.
    pub(crate) fn raw(self) -> c_int {
        self.0
    }

    /// Flags for a test: none.
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn none() -> Self {
        MfFlags(0)
    }
}

/// What the holder of the devices of a [`Devices`] table is told.
///
/// The operations get the table's data and the device notified, not the
/// table: the table's drop releases its slots one by one while the
/// operations may still run for a slot it has not reached, so they must
/// not see (or take) the devices of other slots.
pub(crate) trait Holder: Send + Sync + Sized {
    /// Memory failed: `len` bytes at byte `offset` of `dax`, the device
    /// published in slot `index`. An error reports the failure as not
    /// recovered.
    fn failure(&self, index: usize, dax: &DaxDev, offset: u64, len: u64, flags: MfFlags) -> Result;

    /// The device slot `index` took is being removed (it is published, or
    /// taken and about to be): once this returns, nothing may reach its
    /// memory through the holder, and the device must not be published or
    /// used again.
    fn removal(&self, index: usize);
}

/// One slot of a table.
///
/// # Invariants
///
/// - `dax` is null or a device taken with this slot's address as holder
///   and [`Devices::<T>::HOLDER_OPS`] (by [`Devices::take`]). It goes from
///   null to non-null once and never back while the table lives.
/// - `takes` counts the calls that took that device (at least one once
///   `dax` is set and its takes returned). Each took the holding and two
///   references; the table's drop releases the holding (if it is still
///   the slot's) and every reference. More than one take happens only
///   across a removal: the removal released the slot's first holding, the
///   device came back under the same `dax_device`, and a take that had
///   found the slot empty took it again.
/// - `index` is the slot's index in its table's `slots`.
struct Slot {
    dax: Atomic<*mut ffi::dax_device>,
    takes: Atomic<usize>,
    index: usize,
}

/// Where and as whom device paths are resolved: the root directory and the
/// credentials of the server.
///
/// # Invariants
///
/// `path` holds one reference to a `struct path` and `cred` one reference
/// to a `struct cred` (taken by `famfs_rs_root_get` and
/// `famfs_rs_cred_get`), put by the drop.
#[pin_data(PinnedDrop)]
struct Opener {
    #[pin]
    path: Opaque<bindings::path>,
    cred: *const bindings::cred,
}

impl Opener {
    /// The root and credentials of `server`, or of the calling task if
    /// `None` (the KUnit cases). The initializer borrows `server`: it must
    /// run while fuse holds them.
    fn new<'a>(server: Option<&'a InitServer<'a>>) -> impl PinInit<Self> + 'a {
        let (root, cred) = server.map_or((ptr::null(), ptr::null()), |s| (s.root(), s.cred()));
        pin_init!(Opener {
            // SAFETY: `famfs_rs_root_get` fills the path in place and takes
            // a reference on it; `root` is null or live for the call
            // (`InitServer` invariant).
            // INVARIANT: that reference, put by the drop.
            path <- Opaque::ffi_init(|p| unsafe { ffi::famfs_rs_root_get(p, root) }),
            // SAFETY: `cred` is null or live for the call (`InitServer`
            // invariant); returns a referenced, non-null cred.
            // INVARIANT: that reference, put by the drop.
            cred: unsafe { ffi::famfs_rs_cred_get(cred) },
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Opener {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: one reference on each (type invariant), put once.
        unsafe { ffi::famfs_rs_server_put(self.path.get(), self.cred) };
    }
}

// SAFETY: the path and the credentials are only read (by the lookup, which
// takes its own references, and override_creds()) after they are
// initialised, and put once, by the drop; both may be used from any thread.
unsafe impl Send for Opener {}
// SAFETY: as above: shared use is read-only.
unsafe impl Sync for Opener {}

/// What [`Devices::take`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Taken {
    /// The slot holds the device named: this call published it, it was
    /// published already, or the slot held it before this call (then,
    /// across a removal, another device may be the one published).
    Held,
    /// The slot holds another device, published first by a racing take:
    /// the one named now was released.
    Other,
}

/// A table of DAX devices, each held by one of its slots, and the data
/// `T` its holder operations see.
///
/// # Invariants
///
/// - `slots` is the first field of a `repr(C)` struct, so that a slot's
///   address, less its index times the size of a slot, is the table's
///   (the holder operations go from the holder cookie to the table so).
///   The holder cookies are derived from a pointer to the whole table.
/// - The table is pinned (`_pin`): the cookies are its slots' addresses.
/// - A device published in a slot is held by it until the drop.
#[pin_data(PinnedDrop)]
#[repr(C)]
pub(crate) struct Devices<T: Holder> {
    slots: [Slot; SLOTS],
    #[pin]
    opener: Opener,
    #[pin]
    data: T,
    #[pin]
    _pin: PhantomPinned,
}

impl<T: Holder> Deref for Devices<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T: Holder> Devices<T> {
    const HOLDER_OPS: ffi::dax_holder_operations = ffi::dax_holder_operations {
        notify_failure: Some(Self::notify_failure),
    };

    /// An empty table resolving device paths from the root of `server`,
    /// with its credentials (those of the calling task if `None`), with
    /// `data` for the holder operations.
    pub(crate) fn new<'a>(
        server: Option<&'a InitServer<'a>>,
        data: impl PinInit<T> + 'a,
    ) -> impl PinInit<Self> + 'a
    where
        T: 'a,
    {
        const { assert!(core::mem::offset_of!(Self, slots) == 0) };
        // INVARIANT: `slots` first in a `repr(C)` struct, each with its
        // index; every slot empty.
        pin_init!(Devices {
            slots: core::array::from_fn(|index| Slot {
                dax: Atomic::new(ptr::null_mut()),
                takes: Atomic::new(0),
                index,
            }),
            opener <- Opener::new(server),
            data <- data,
            _pin: PhantomPinned,
        })
    }

    /// The device published in slot `index`, if any (acquire: pairs with
    /// the release of the take that published it).
    pub(crate) fn dax(&self, index: usize) -> Option<&DaxDev> {
        let p = self.slots.get(index)?.dax.load(Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: a published device stays held by its slot, so alive,
        // until the table's drop (type invariant), which the borrow of
        // `self` precedes.
        Some(unsafe { DaxDev::from_raw(p) })
    }

    /// Opens the node at `name` (absolute, resolved from the server's root
    /// with its credentials, following no magic link, which they must be
    /// allowed to open for reading and writing), takes its device-dax
    /// device as slot `index`'s fs-dax holder and publishes it there,
    /// unless the slot holds that device already. The error is the lookup's
    /// or `fs_dax_get()`'s (`EACCES`, `ELOOP`, `ENOENT`, `ENODEV` for no
    /// device-dax node, `EOPNOTSUPP` for one not bound to `fsdev_dax`,
    /// `EBUSY` for another holder's, `ENXIO` for one being removed,
    /// `EINTR`).
    pub(crate) fn take(&self, index: usize, name: &CStr) -> Result<Taken> {
        let slot = self.slots.get(index).ok_or(ERANGE)?;
        let holder = self.holder(index);
        let mut dax = ptr::null_mut();
        // The holder cookie is the slot's address, stable for the table's
        // life, and its operations expect exactly that (`notify_failure`).
        // SAFETY: `opener` holds a referenced path and credentials (type
        // invariant of `Opener`); `name` is NUL-terminated; `dax` is writable.
        let rc = unsafe {
            ffi::famfs_rs_daxdev_open(
                self.opener.path.get(),
                self.opener.cred,
                name.as_char_ptr(),
                holder,
                &Self::HOLDER_OPS,
                &mut dax,
            )
        };
        if rc < 0 {
            return Err(Error::from_errno(rc));
        }
        // 1: the slot holds the device already (a take that raced this one
        // did not publish it yet, or published it); 0: this call took it.
        let took = rc == 0;
        if took {
            HELD.fetch_add(1, Relaxed);
        }
        // INVARIANT: the first take stores the device it took; a racing
        // take of the same slot found it held by the slot, or took it again
        // across a removal, and stores the same pointer, or loses the
        // exchange to it.
        let won = match slot.dax.cmpxchg(ptr::null_mut(), dax, Full) {
            Ok(_) => dax,
            Err(won) => won,
        };
        if won == dax {
            if took {
                // INVARIANT: a take of the published device, whether this
                // call published it or lost to one that found it held by
                // the slot, or to one whose holding a removal released
                // before this call took the device again.
                slot.takes.fetch_add(1, Relaxed);
            }
            return Ok(Taken::Held);
        }
        if !took {
            // The slot holds it, not published: as the code before the
            // table was (nothing to release, nothing to say).
            return Ok(Taken::Held);
        }
        // A racing take published another device (the server named two
        // for one index): this one is not published, so release it here,
        // or it stays held for good.
        // SAFETY: taken just now with two references and the slot's
        // address as holder; nothing else knows of it.
        unsafe { ffi::famfs_rs_daxdev_close(dax, holder) };
        HELD.fetch_sub(1, Relaxed);
        Ok(Taken::Other)
    }

    /// The holder cookie of slot `index`: its address, derived from the
    /// table's, so that the table can be found from it again.
    fn holder(&self, index: usize) -> *mut c_void {
        ptr::from_ref(self)
            .cast::<Slot>()
            .wrapping_add(index)
            .cast_mut()
            .cast()
    }

    /// The table whose slot `holder` is, and the slot's index.
    ///
    /// # Safety
    ///
    /// `holder` is a cookie [`Devices::holder`] made for a live
    /// `Devices<T>`.
    unsafe fn from_holder<'a>(holder: *mut c_void) -> (&'a Self, usize) {
        let slot = holder.cast::<Slot>();
        // SAFETY: `holder` points to a live slot (function contract); the
        // field is read through the raw pointer, which carries the whole
        // table's provenance, and never changes.
        let index = unsafe { (*slot).index };
        // SAFETY: the slot is element `index` of the `slots` array at
        // offset 0 of a `repr(C)` `Devices<T>` (type invariant), alive
        // during the call (function contract).
        let devs = unsafe { &*slot.wrapping_sub(index).cast::<Self>() };
        (devs, index)
    }

    /// The holder operation, for a device held by a slot of a `Devices<T>`.
    ///
    /// # Safety
    ///
    /// Called by the DAX core for a device taken with these operations: its
    /// holder is a [`Slot`] of a `Devices<T>` (only [`Devices::take`] passes
    /// them, with its slot as holder), and that table stays alive during
    /// the call, since its drop releases the holding with `fs_put_dax()`,
    /// which waits for the calls running on the device to return
    /// (patches/dax/0002).
    unsafe extern "C" fn notify_failure(
        dax_dev: *mut ffi::dax_device,
        offset: u64,
        len: u64,
        mf_flags: c_int,
    ) -> c_int {
        // SAFETY: `dax_dev` is a live device the DAX core is notifying about.
        let holder = unsafe { ffi::dax_holder(dax_dev) };
        if holder.is_null() {
            return EOPNOTSUPP.to_errno();
        }
        // SAFETY: the holder of a device with these operations is a cookie
        // `Devices::<T>::take` made, of a live table (function contract).
        let (devs, index) = unsafe { Self::from_holder(holder) };
        let slot = &devs.slots[index];
        let published = slot.dax.load(Acquire);
        // SAFETY: no preconditions.
        let pre_remove = unsafe { ffi::famfs_rs_mf_pre_remove(mf_flags) };
        // A device a losing take took and is about to release: nothing
        // maps it. A null slot is a take that took the device and has not
        // published it yet: a removal must still be told (below), or that
        // take would publish a device that is going away; a failure cannot
        // be handled for a device nothing published yet, so it is reported
        // as not handled (the take publishes the device, and its files may
        // map the range).
        if published != dax_dev {
            if !published.is_null() {
                return 0;
            }
            if !pre_remove {
                crate::err_rl!(
                    "memory failure at {:#x}+{:#x} of a daxdev being taken: not recorded",
                    offset,
                    len
                );
                return EBUSY.to_errno();
            }
        }
        if pre_remove {
            devs.data.removal(index);
            return 0;
        }
        // SAFETY: the device is live while the DAX core notifies about it.
        let dax = unsafe { DaxDev::from_raw(dax_dev) };
        match devs
            .data
            .failure(index, dax, offset, len, MfFlags(mf_flags))
        {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }
}

#[pinned_drop]
impl<T: Holder> PinnedDrop for Devices<T> {
    fn drop(self: Pin<&mut Self>) {
        for (index, slot) in self.slots.iter().enumerate() {
            let dax = slot.dax.load(Acquire);
            if dax.is_null() {
                continue;
            }
            // No take is running: a take borrows the table, and the holder
            // operations cannot take (they get the data, not the table).
            let takes = slot.takes.load(Relaxed);
            // After a removal the holding is gone and fs_put_dax() leaves the
            // device alone (patches/dax/0002), unless a take took it again
            // after a rebind: then it is the slot's and released here.
            // fs_put_dax() also waits for a notify_failure() still running
            // with this slot, before `data` is dropped.
            // SAFETY: a published slot took the device at least once, with its
            // own address as holder and two references (`Slot` invariant).
            unsafe { ffi::famfs_rs_daxdev_close(dax, self.holder(index)) };
            for _ in 1..takes {
                // SAFETY: each further take holds two references (type
                // invariant of `Slot`), put here once; its holding was the
                // one released above, if the device still had it.
                unsafe {
                    ffi::put_dax(dax);
                    ffi::put_dax(dax);
                }
            }
            HELD.fetch_sub(takes, Relaxed);
        }
    }
}
