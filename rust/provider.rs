// SPDX-License-Identifier: GPL-2.0

//! Safe abstraction over the fuse "DAX fmap provider" hook.
//!
//! C header: `include/linux/fuse_dax_fmap.h` (added to fuse by the kernel
//! patch series in `patches/`). A provider implements [`FmapProvider`];
//! [`Registration`] builds the C ops table for it and registers it with
//! fuse for as long as the registration lives.
//!
//! fuse keeps two opaque pointers for the provider: one per connection
//! ([`FmapProvider::Conn`], [`ForeignOwnable`]) and one per inode (a box
//! of the provider's [`FmapProvider::Fmap`] and the inode's [`Owner`]).
//! This module owns every conversion between them and Rust values, and
//! every call into fuse and the VFS for an inode; with `dax.rs` (DAX
//! devices) and `sys.rs` (printing, debugfs), it holds all of famfs_rs's
//! `unsafe` code (besides `ffi.rs`, the generated bindings).

use crate::{
    dax::{DaxDev, MfFlags},
    ffi,
};
use core::{
    ffi::{c_int, c_uint, c_void},
    marker::PhantomData,
    ptr::{self, NonNull},
};
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::{from_result, to_result},
    new_spinlock,
    prelude::*,
    sync::{Arc, SpinLock},
    types::{ForeignOwnable, Opaque},
    ModuleMetadata,
};

/// The server a FUSE_DAX_FMAP grant is for: the credentials and the root
/// directory of the task that wrote the FUSE_INIT reply accepting it, as
/// fuse captured them in that task (it had CAP_SYS_RAWIO then), for the
/// duration of [`FmapProvider::conn_init`].
///
/// # Invariants
///
/// `cred` and `root` point to a `struct cred` and a `struct path` that fuse
/// holds a reference to for `'a`.
pub(crate) struct InitServer<'a> {
    cred: *const bindings::cred,
    root: *const bindings::path,
    _call: PhantomData<&'a ()>,
}

impl InitServer<'_> {
    /// The server's credentials, live for the borrow (type invariant).
    pub(crate) fn cred(&self) -> *const bindings::cred {
        self.cred
    }

    /// The server's root directory, live for the borrow (type invariant).
    pub(crate) fn root(&self) -> *const bindings::path {
        self.root
    }
}

/// A regular file of a fuse connection that negotiated FUSE_DAX_FMAP.
///
/// # Invariants
///
/// The wrapped inode is a live regular fuse inode of such a connection for
/// as long as the reference to this wrapper lives.
#[repr(transparent)]
pub(crate) struct FmapInode(Opaque<bindings::inode>);

impl FmapInode {
    /// Wraps a raw inode pointer.
    ///
    /// # Safety
    ///
    /// `ptr` is a regular fuse inode of a FUSE_DAX_FMAP connection that
    /// stays alive for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::inode) -> &'a Self {
        // SAFETY: `FmapInode` is a transparent wrapper of `bindings::inode`,
        // and the caller guarantees the pointee lives for `'a`.
        // INVARIANT: the caller guarantees it is such an inode.
        unsafe { &*ptr.cast::<Self>() }
    }

    fn as_ptr(&self) -> *mut bindings::inode {
        self.0.get()
    }

    /// The fuse node ID, for log messages. Not i_ino, which the server
    /// chooses and fuse rewrites at every attribute reply: the node ID is
    /// fixed for the inode's life.
    pub(crate) fn nodeid(&self) -> u64 {
        // SAFETY: the inode is a live fuse inode by the type invariant.
        unsafe { ffi::fuse_dax_fmap_nodeid(self.as_ptr()) }
    }

    /// Lets fs-dax faults take the PFN of a block from the DAX entry already
    /// in place instead of asking the device (`mapping_set_dax_stable()`,
    /// patch dax/0010). The caller keeps that function's promise for the life
    /// of the inode: while it has DAX entries, its offsets map to the same
    /// device blocks and those to the same PFNs, and `iomap_begin` fails
    /// every range the device would refuse, a removed device's included.
    pub(crate) fn set_dax_stable(&self) {
        // SAFETY: the inode is alive by the type invariant; the helper sets
        // one bit of its mapping's flags atomically.
        unsafe { ffi::famfs_rs_mapping_set_dax_stable(self.as_ptr()) }
    }

    /// The fmap fuse published for this inode, or null before its first
    /// open: `fuse_dax_fmap()`, an acquire load pairing with the release
    /// store of fuse's open.
    fn fmap_ptr(&self) -> *mut c_void {
        // SAFETY: the inode is a live regular fuse inode of an fmap
        // connection by the type invariant: fuse initialized the fmap
        // pointer `fuse_dax_fmap()` reads when it created the inode.
        unsafe { ffi::fuse_dax_fmap(self.as_ptr()) }
    }

    /// Sends FUSE_GET_FMAP for this file (fuse sends `struct
    /// fuse_get_fmap_in` with `out`'s length); the reply goes to `out`.
    /// Returns the reply's length.
    pub(crate) fn get_fmap(&self, out: &mut [u8]) -> Result<usize> {
        let len = u32::try_from(out.len())?;
        // SAFETY: the inode is alive by the type invariant; `out` is valid
        // for `len` bytes during the call, and fuse writes at most that.
        let r = unsafe { ffi::fuse_dax_fmap_get_fmap(self.as_ptr(), out.as_mut_ptr().cast(), len) };
        Self::reply_len(r, out.len())
    }

    /// Sends FUSE_GET_DAXDEV for device `index` on this file's connection;
    /// the reply goes to `out`. Returns the reply's length.
    pub(crate) fn get_daxdev(&self, index: u32, out: &mut [u8]) -> Result<usize> {
        let len = u32::try_from(out.len())?;
        // SAFETY: as in `get_fmap`.
        let r = unsafe {
            ffi::fuse_dax_fmap_get_daxdev(self.as_ptr(), index, out.as_mut_ptr().cast(), len)
        };
        Self::reply_len(r, out.len())
    }

    fn reply_len(r: isize, max: usize) -> Result<usize> {
        if r < 0 {
            return Err(i32::try_from(r).map_or(EIO, Error::from_errno));
        }
        let n = r.unsigned_abs();
        // fuse never copies more than the buffer holds.
        if n > max {
            return Err(EIO);
        }
        Ok(n)
    }
}

/// A pinned fuse inode of a FUSE_DAX_FMAP connection.
///
/// # Invariants
///
/// Holds one reference to a live fuse inode of such a connection and its
/// super block's `s_umount` for reading (`famfs_rs_inode_pin`), both
/// dropped on drop: the reference through fuse's deferred put
/// (`fuse_dax_fmap_iput_async()`), so that a drop never waits for an
/// eviction.
pub(crate) struct InodeRef(NonNull<bindings::inode>);

impl InodeRef {
    /// Pins `ptr`: `Ok(None)` if the inode is being evicted or its super
    /// block is going away, `EAGAIN` if that cannot be told now. Does not
    /// sleep.
    ///
    /// # Safety
    ///
    /// `ptr` is a fuse inode of a FUSE_DAX_FMAP connection whose memory
    /// stays valid during the call (its eviction cannot finish meanwhile).
    unsafe fn grab(ptr: *mut bindings::inode) -> Result<Option<Self>> {
        // SAFETY: `ptr` is valid during the call (function contract).
        let rc = unsafe { ffi::famfs_rs_inode_pin(ptr) };
        match rc {
            1 => Ok(NonNull::new(ptr).map(InodeRef)),
            0 => Ok(None),
            // INVARIANT: only a return of 1 made an `InodeRef`.
            e => Err(Error::from_errno(e)),
        }
    }

    /// Unmaps the file everywhere, waits (not interruptibly) for its page
    /// references and drops its DAX entries (`fuse_dax_fmap_revoke()`):
    /// for a removed device.
    pub(crate) fn revoke(&self) -> Result {
        // SAFETY: a live fmap-connection inode (type invariant).
        to_result(unsafe { ffi::fuse_dax_fmap_revoke(self.0.as_ptr()) })
    }

    /// Signals the processes mapping the pages of `len` bytes at file
    /// offset `offset` (page aligned) as `mf_dax_kill_procs()` does (the
    /// task that hit the failure, the early-kill ones), and unmaps the
    /// range from every mapping, signalled or not: for a memory failure
    /// there, whose range the caller recorded bad before. Its error
    /// (`EBUSY`: not a DAX mapping) means the processes were not signalled.
    pub(crate) fn kill_procs(&self, offset: u64, len: u64, mf_flags: MfFlags) -> Result {
        // SAFETY: a live fmap-connection inode (type invariant).
        let rc = unsafe { ffi::famfs_rs_mf_kill(self.0.as_ptr(), offset, len, mf_flags.raw()) };
        if rc != 0 {
            crate::err_rl!(
                "memory failure: file range {:#x}+{:#x} busy ({}): its processes were not signalled",
                offset,
                len,
                rc
            );
        }
        to_result(rc)
    }
}

impl Drop for InodeRef {
    fn drop(&mut self) {
        // SAFETY: the pin taken by `grab` (type invariant), released once.
        unsafe { ffi::famfs_rs_inode_unpin(self.0.as_ptr()) };
    }
}

/// The inode of a published fmap, as the provider's bookkeeping may keep
/// it (in its range maps): a handle that can pin the inode while its fmap
/// is published, and finds nothing once the fmap is being freed. fuse
/// frees an fmap in the inode's eviction, before the inode's memory, and
/// the fmap's box empties its owner first ([`Published`]), so a handle
/// outliving the inode never reaches it. Compared by address: two live
/// inodes never share an owner, whatever numbers the server gives them.
///
/// # Invariants
///
/// `inode` is `None` or a fuse inode of a FUSE_DAX_FMAP connection whose
/// fmap is published, or about to be, with this owner: its memory is valid
/// while the value is `Some`. It goes to `None` once, under the lock,
/// before that fmap is freed.
#[pin_data]
pub(crate) struct Owner {
    #[pin]
    inode: SpinLock<Option<NonNull<bindings::inode>>>,
}

// SAFETY: the inode pointer is only dereferenced by `pin`, under the lock,
// while the inode is alive (type invariant), from any task.
unsafe impl Send for Owner {}
// SAFETY: as above; all access to the pointer is under the lock.
unsafe impl Sync for Owner {}

impl Owner {
    /// The owner of `inode`, an inode getting an fmap.
    fn new(inode: &FmapInode) -> Result<Arc<Self>> {
        let p = NonNull::new(inode.as_ptr());
        // INVARIANT: the inode of an fmap being made.
        Arc::pin_init(
            pin_init!(Owner {
                inode <- new_spinlock!(p, "famfs_rs_owner"),
            }),
            GFP_KERNEL,
        )
    }

    /// An owner with no inode, which never pins: for the KUnit cases.
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn detached() -> Result<Arc<Self>> {
        // INVARIANT: `None`.
        Arc::pin_init(
            pin_init!(Owner {
                inode <- new_spinlock!(None, "famfs_rs_owner"),
            }),
            GFP_KERNEL,
        )
    }

    /// Pins the inode: `Ok(None)` once its fmap is being freed (its
    /// eviction started), or if its super block is going away; `EAGAIN` if
    /// a writer holds its super block's `s_umount`. Does not sleep.
    pub(crate) fn pin(&self) -> Result<Option<InodeRef>> {
        let g = self.inode.lock();
        match *g {
            None => Ok(None),
            // SAFETY: `Some` under the lock: the inode is alive (type
            // invariant).
            Some(p) => unsafe { InodeRef::grab(p.as_ptr()) },
        }
    }

    /// The fmap is being freed: nothing may pin the inode any more.
    fn clear(&self) {
        // INVARIANT: under the lock, before the fmap is freed.
        *self.inode.lock() = None;
    }
}

/// What fuse keeps on an inode for the provider: the fmap and its owner.
///
/// # Invariants
///
/// `owner` is the owner of the inode `fmap` is published on, or about to
/// be; the drop empties it before `fmap` is dropped.
struct Published<F> {
    owner: Arc<Owner>,
    fmap: F,
}

impl<F> Drop for Published<F> {
    fn drop(&mut self) {
        // INVARIANT: emptied before `fmap`, a field, is dropped.
        self.owner.clear();
    }
}

/// The iomap a provider fills in `iomap_begin`.
///
/// # Invariants
///
/// Wraps an iomap (the one fuse's DAX path passes to `iomap_begin`), valid
/// and exclusively ours for the lifetime of the wrapper.
pub(crate) struct Iomap<'a>(&'a mut ffi::iomap);

impl<'a> Iomap<'a> {
    /// Wraps an iomap to fill.
    pub(crate) fn new(iomap: &'a mut ffi::iomap) -> Self {
        // INVARIANT: `iomap` is exclusively borrowed for `'a`.
        Iomap(iomap)
    }

    /// The iomap's type (`IOMAP_HOLE`, `IOMAP_MAPPED`, ...).
    pub(crate) fn kind(&self) -> u16 {
        self.0.type_
    }

    /// Reports `length` bytes at file offset `offset` as a hole: what the
    /// DAX read path expects past end of file, where it stops.
    pub(crate) fn set_hole(&mut self, offset: u64, length: u64) {
        self.0.type_ = ffi::IOMAP_HOLE as u16;
        self.0.flags = 0;
        self.0.offset = offset as i64;
        // IOMAP_NULL_ADDR (-1ULL), which bindgen types as an int
        self.0.addr = u64::MAX;
        self.0.length = length;
        self.0.dax_dev = ptr::null_mut();
        self.0.bdev = ptr::null_mut();
    }

    /// Maps `length` bytes at file offset `offset` to byte `addr` of
    /// `dax_dev`.
    pub(crate) fn set_mapped(&mut self, dax_dev: &DaxDev, offset: u64, addr: u64, length: u64) {
        self.0.type_ = ffi::IOMAP_MAPPED as u16;
        self.0.flags = 0;
        self.0.offset = offset as i64;
        self.0.addr = addr;
        self.0.length = length;
        self.0.dax_dev = dax_dev.as_ptr();
        self.0.bdev = ptr::null_mut();
    }
}

/// A DAX fmap provider: what fuse calls for the files of connections that
/// negotiated FUSE_DAX_FMAP.
#[vtable]
pub(crate) trait FmapProvider {
    /// The module that provides it, pinned by each connection using it.
    type Module: ModuleMetadata;
    /// State kept for each connection.
    type Conn: ForeignOwnable + Send + Sync;
    /// The fmap kept for each inode.
    type Fmap: Send + Sync;

    /// A connection negotiated FUSE_DAX_FMAP; an error fails it. `server`
    /// is the task that wrote the FUSE_INIT reply, which had
    /// CAP_SYS_RAWIO; this may run in another task (the mounter, with a
    /// synchronous FUSE_INIT), whose credentials and root do not count.
    fn conn_init(server: &InitServer<'_>) -> Result<Self::Conn>;

    /// A regular file is opened and has no fmap yet: fetch and validate
    /// it. `owner` stands for the inode in the provider's bookkeeping
    /// while the fmap lives. Returns the fmap and the file size; an error
    /// fails the open().
    fn fmap_get(
        inode: &FmapInode,
        owner: &Arc<Owner>,
        conn: <Self::Conn as ForeignOwnable>::Borrowed<'_>,
    ) -> Result<(Self::Fmap, u64)>;

    /// The DAX device fsync and msync flush the file's dirty pages with
    /// (`dax_writeback_mapping_range()`): one whose write cache is on, if
    /// any of the file's devices has it.
    fn flush_dax_dev(fmap: &Self::Fmap) -> Option<&DaxDev>;

    /// Maps file offset `pos` for at most `len` bytes: the fault path.
    fn iomap_begin(
        fmap: &Self::Fmap,
        pos: u64,
        len: u64,
        flags: u32,
        iomap: &mut Iomap<'_>,
    ) -> Result;
}

/// The C operations of a provider `T`: trampolines and a `'static` table.
struct Adapter<T: FmapProvider>(PhantomData<T>);

impl<T: FmapProvider> Adapter<T> {
    /// # Safety
    ///
    /// Called by fuse once per connection, with the credentials and the
    /// root of the server, live and referenced for the call.
    unsafe extern "C" fn conn_init(
        _fc: *mut ffi::fuse_conn,
        cred: *const bindings::cred,
        root: *const bindings::path,
    ) -> *mut c_void {
        // INVARIANT: fuse holds a reference to both for the call, which
        // the borrow does not outlive.
        let server = InitServer {
            cred,
            root,
            _call: PhantomData,
        };
        match T::conn_init(&server) {
            Ok(c) => c.into_foreign(),
            Err(e) => e.to_ptr(),
        }
    }

    /// # Safety
    ///
    /// `conn` is what `conn_init` returned, passed once, when no inode of
    /// the connection is left.
    unsafe extern "C" fn conn_free(conn: *mut c_void) {
        // SAFETY: `conn` came from `into_foreign` in `conn_init` and fuse
        // frees it exactly once.
        drop(unsafe { T::Conn::from_foreign(conn) });
    }

    /// # Safety
    ///
    /// `inode` is a regular file of a connection whose state is `conn` (from
    /// `conn_init`, alive during the call); `size` is valid for a write.
    unsafe extern "C" fn fmap_get(
        inode: *mut bindings::inode,
        conn: *mut c_void,
        size: *mut bindings::loff_t,
    ) -> *mut c_void {
        let r = (|| -> Result<*mut c_void> {
            // SAFETY: fuse calls this from open(), which holds the inode.
            let inode = unsafe { FmapInode::from_raw(inode) };
            // SAFETY: `conn` came from `into_foreign` and is freed only after
            // every inode of the connection is gone.
            let conn = unsafe { T::Conn::borrow(conn) };
            // Allocated first: once the provider made the fmap, nothing
            // may fail but through its drop.
            let slot = KBox::<Published<T::Fmap>>::new_uninit(GFP_KERNEL)?;
            let owner = Owner::new(inode)?;
            let (fmap, file_size) = match T::fmap_get(inode, &owner, conn) {
                Ok(r) => r,
                Err(e) => {
                    // The provider may have kept a clone of `owner`.
                    owner.clear();
                    return Err(e);
                }
            };
            // INVARIANT: the owner of `inode`, which fuse publishes this on.
            let published = KBox::write(slot, Published { owner, fmap });
            let file_size = i64::try_from(file_size)?;
            // SAFETY: fuse passes a valid pointer for the size.
            unsafe { *size = file_size };
            Ok(published.into_foreign())
        })();
        r.unwrap_or_else(|e| e.to_ptr())
    }

    /// # Safety
    ///
    /// `fmap` came from `fmap_get` and is freed once, before the inode.
    unsafe extern "C" fn fmap_free(fmap: *mut c_void) {
        // SAFETY: `fmap` came from `into_foreign` in `fmap_get`; fuse frees
        // it once: at the inode's eviction, or at once if it refused it
        // (a negative size, which `fmap_get` never returns with an fmap).
        drop(unsafe { KBox::<Published<T::Fmap>>::from_foreign(fmap) });
    }

    /// # Safety
    ///
    /// `fmap` came from `fmap_get` and is published on a live inode.
    unsafe extern "C" fn flush_dax_dev(fmap: *mut c_void) -> *mut ffi::dax_device {
        // SAFETY: `fmap` came from `into_foreign` in `fmap_get` and is freed
        // only at eviction, which cannot overlap the writeback of its inode.
        let p = unsafe { KBox::<Published<T::Fmap>>::borrow(fmap) };
        T::flush_dax_dev(&p.fmap).map_or(ptr::null_mut(), DaxDev::as_ptr)
    }

    /// # Safety
    ///
    /// Called by the DAX code for an opened fmap file; `iomap` is valid and
    /// exclusive during the call.
    unsafe extern "C" fn iomap_begin(
        inode: *mut bindings::inode,
        pos: bindings::loff_t,
        length: bindings::loff_t,
        flags: c_uint,
        iomap: *mut ffi::iomap,
        _srcmap: *mut ffi::iomap,
    ) -> c_int {
        // The benchmark's timing of the whole callback; off, a no-op where
        // the jump would be.
        let start = crate::sys::timing_start();
        let rc = from_result(|| {
            // SAFETY: the DAX code holds a reference to the file.
            let inode = unsafe { FmapInode::from_raw(inode) };
            let p = inode.fmap_ptr();
            if p.is_null() {
                return Err(EIO);
            }
            // SAFETY: a non-null fmap pointer is what `fmap_get` returned,
            // freed only at eviction, which cannot overlap I/O on the file.
            let published = unsafe { KBox::<Published<T::Fmap>>::borrow(p) };
            // SAFETY: `iomap` is valid and exclusive (function contract).
            let mut iomap = Iomap::new(unsafe { &mut *iomap });
            T::iomap_begin(
                &published.fmap,
                u64::try_from(pos)?,
                u64::try_from(length)?,
                flags,
                &mut iomap,
            )?;
            Ok(0)
        });
        if let Some(start) = start {
            crate::sys::timing_end(start);
        }
        rc
    }

    const IOMAP_OPS: ffi::iomap_ops = ffi::iomap_ops {
        iomap_begin: Some(Self::iomap_begin),
        iomap_end: None,
        iomap_next: None,
    };

    const OPS: ffi::fuse_dax_fmap_ops = ffi::fuse_dax_fmap_ops {
        owner: <T::Module as ModuleMetadata>::THIS_MODULE.as_ptr(),
        conn_init: Some(Self::conn_init),
        conn_free: Some(Self::conn_free),
        fmap_get: Some(Self::fmap_get),
        fmap_free: Some(Self::fmap_free),
        flush_dax_dev: Some(Self::flush_dax_dev),
        iomap_ops: &Self::IOMAP_OPS,
    };

    /// The provider's operations: a constant, as `blk_mq_ops` are.
    const fn ops() -> &'static ffi::fuse_dax_fmap_ops {
        &Self::OPS
    }
}

/// Keeps a provider registered with fuse while it lives.
///
/// # Invariants
///
/// `ops`, `T`'s operations, are registered with fuse until `Drop`
/// unregisters them.
pub(crate) struct Registration<T: FmapProvider> {
    ops: &'static ffi::fuse_dax_fmap_ops,
    _p: PhantomData<T>,
}

// SAFETY: the table is immutable; fuse only reads it.
unsafe impl<T: FmapProvider> Send for Registration<T> {}
// SAFETY: as above.
unsafe impl<T: FmapProvider> Sync for Registration<T> {}

impl<T: FmapProvider> Registration<T> {
    /// Registers `T` as the DAX fmap provider.
    pub(crate) fn new() -> Result<Self> {
        let ops = Adapter::<T>::ops();
        // SAFETY: a `'static` table.
        to_result(unsafe { ffi::fuse_dax_fmap_register(ops) })?;
        // INVARIANT: registered just now.
        Ok(Self {
            ops,
            _p: PhantomData,
        })
    }
}

impl<T: FmapProvider> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: registered by `new` (type invariant); after this fuse no
        // longer offers the provider, and no connection uses it since each
        // would hold a reference on the module being unloaded.
        unsafe { ffi::fuse_dax_fmap_unregister(self.ops) };
    }
}

/// Whether bindgen's `struct iomap` (which the provider fills) has the C
/// layout: its size and the offsets of the fields it sets.
#[cfg(CONFIG_KUNIT)]
pub(crate) fn iomap_layout_matches() -> bool {
    let mut l = ffi::famfs_rs_iomap_layout::default();
    // SAFETY: `l` is a valid, exclusive pointer for the call.
    unsafe { ffi::famfs_rs_iomap_layout(&mut l) };
    l.size == core::mem::size_of::<ffi::iomap>()
        && l.addr == core::mem::offset_of!(ffi::iomap, addr)
        && l.offset == core::mem::offset_of!(ffi::iomap, offset)
        && l.length == core::mem::offset_of!(ffi::iomap, length)
        && l.type_ == core::mem::offset_of!(ffi::iomap, type_)
        && l.flags == core::mem::offset_of!(ffi::iomap, flags)
        && l.dax_dev == core::mem::offset_of!(ffi::iomap, dax_dev)
}
