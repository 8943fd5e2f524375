// SPDX-License-Identifier: GPL-2.0

//! Per-connection state of famfs_rs: the daxdev table and the block owners.
//!
//! Each fuse connection that negotiated FUSE_DAX_FMAP has a table of
//! [`fmap::MAX_DAXDEVS`] slots, filled lazily: when an fmap names a device
//! index whose slot is empty, the server is asked for its path
//! (FUSE_GET_DAXDEV), which is resolved as the server would open it,
//! whoever opens the file: from the root (and in the mount namespace) of
//! the task that wrote the FUSE_INIT reply, with that task's credentials
//! (fuse granted FUSE_DAX_FMAP only because it has CAP_SYS_RAWIO, and
//! captured both in that task's write()), following no
//! magic link, and only if those credentials may open the node for reading
//! and writing. The device is then taken as this slot's fs-dax holder
//! (`fs_dax_get`, which requires the device to be bound to `fsdev_dax` and
//! free). Every device taken is either published in its slot or released
//! before the fill returns; published devices are released when the
//! connection goes away, with every take of them (a removal and a rebind
//! between two racing fills let both take the same device).
//!
//! The connection also keeps, per device, a range map ([`DevMap`]): which
//! inode maps which device bytes, at which file offsets, one node per run
//! an fmap maps (a contiguous part of a simple extent, or a strip of an
//! interleaved extent), so its memory grows with the runs, not with the
//! device. fs-dax allows one owner per DAX page, so an fmap that maps bytes
//! another live inode maps (EBUSY), or maps one device byte at two file
//! offsets (EINVAL), is refused at open instead of tripping the DAX core
//! later. Owners are inodes, not inode numbers: the server chooses i_ino
//! and may change it at every attribute reply. The same map, read
//! backwards, tells a memory failure which files and file ranges map the
//! failed bytes; the bad ranges are kept beside it.
//!
//! Locking: the range maps live under a spinlock, which inode eviction
//! takes (an fmap's release) and nothing holds while it sleeps, allocates
//! or waits on the server. Filling a slot takes no lock at all: racing
//! fills of one slot agree through `fs_dax_get` and a compare-exchange
//! ([`Devices::take`]).
//!
//! This file has no `unsafe`: DAX devices are `dax.rs`'s, inodes
//! `provider.rs`'s.

#![forbid(unsafe_code)]

use crate::{
    dax::{self, DaxDev, Devices, MfFlags, Taken},
    fmap,
    provider::{FmapInode, InitServer, Owner},
    sys::cond_resched,
    KFmap,
};
use core::ffi::CStr;
use kernel::{
    alloc::flags::{GFP_KERNEL, GFP_KERNEL_ACCOUNT},
    bindings, new_spinlock,
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        barrier::{smp_mb, Read, Write},
        Arc, SpinLock,
    },
    time::{delay::fsleep, Delta},
};

/// Size of a FUSE_GET_DAXDEV reply (`struct famfs_daxdev_out`).
pub(crate) const DAXDEV_REPLY_SIZE: usize = 280;
const NAME_OFFSET: usize = 24;

/// The state of a connection: its devices, held by the slots of a
/// [`Devices`] table, and [`State`], what the connection knows of them.
pub(crate) type Conn = Devices<State>;

/// What a connection knows of one of its devices, beside the device
/// itself (which its [`Devices`] slot holds).
pub(crate) struct DevState {
    bad: BadRanges,
    removed: Atomic<bool>,
}

impl DevState {
    fn new() -> Self {
        DevState {
            bad: BadRanges::new(),
            removed: Atomic::new(false),
        }
    }

    /// A memory failure was reported on this device: some of its ranges
    /// are bad ([`Conn::good_len`] says which). One load: what a fault on a
    /// healthy device pays.
    pub(crate) fn is_bad(&self) -> bool {
        self.bad.n.load(Acquire) != 0
    }

    /// The device was removed (unbound) under this connection: it is gone
    /// for good, whatever comes back under its name later.
    pub(crate) fn is_removed(&self) -> bool {
        self.removed.load(Acquire)
    }
}

/// Most bad ranges of a device that the fault path checks without a lock;
/// on a device with more, it asks the range map, under the owners lock.
const FAST_BAD: usize = 8;
/// [`BadRanges::n`]: the device has more than [`FAST_BAD`] bad ranges.
const BAD_MANY: u32 = u32::MAX;
/// [`BadRanges::n`]: every byte of the device is bad.
const BAD_ALL: u32 = u32::MAX - 1;

/// What [`BadRanges::good_len`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BadLookup {
    /// This many bytes can be mapped (up to the first bad one).
    Good(u64),
    /// The first byte is bad.
    Poisoned,
    /// Too many ranges to copy: ask the range map.
    AskMap,
}

/// A copy of a device's bad ranges for the fault path, under a sequence
/// count (a seqcount in atomics): a fault on a device that took a memory
/// failure reads the ranges without the connection-wide owners lock,
/// which only memory failures (the writers) take for this.
///
/// # Invariants
///
/// - Written only by [`BadRanges::publish`], under the owners lock (one
///   writer at a time, preemption off), after every change to the bad
///   ranges of the device's [`DevMap`].
/// - `seq` is odd while a write is in progress. When a reader sees the same
///   even `seq` before and after reading, what it read is one published
///   copy: `n` is the number of the map's ranges, `start[..n]` and
///   `end[..n]` those ranges in order (disjoint, not touching, each
///   non-empty), or `n` is [`BAD_ALL`] or [`BAD_MANY`] (nothing copied).
/// - `n` goes from 0 to non-zero once and never back.
struct BadRanges {
    seq: Atomic<u32>,
    n: Atomic<u32>,
    start: [Atomic<u64>; FAST_BAD],
    end: [Atomic<u64>; FAST_BAD],
}

impl BadRanges {
    const fn new() -> Self {
        // INVARIANT: no range, seq even.
        BadRanges {
            seq: Atomic::new(0),
            n: Atomic::new(0),
            start: [const { Atomic::new(0) }; FAST_BAD],
            end: [const { Atomic::new(0) }; FAST_BAD],
        }
    }

    /// Copies `map`'s bad ranges. The caller holds the owners lock, which
    /// `map` is under.
    fn publish(&self, map: &DevMap) {
        let s = self.seq.load(Relaxed);
        self.seq.store(s.wrapping_add(1), Relaxed);
        // Orders the odd count before the stores below (the smp_wmb() of
        // write_seqcount_begin()).
        smp_mb(Write);
        let n = if map.all_bad {
            BAD_ALL
        } else {
            let mut i = 0;
            for (&k, &e) in map.bad.iter() {
                if i == FAST_BAD {
                    i = BAD_MANY as usize;
                    break;
                }
                self.start[i].store(k, Relaxed);
                self.end[i].store(e, Relaxed);
                i += 1;
            }
            // At most FAST_BAD or BAD_MANY.
            i as u32
        };
        self.n.store(n, Relaxed);
        // INVARIANT: the copy is complete before the count is even again.
        self.seq.store(s.wrapping_add(2), Release);
    }

    /// How many of `len` bytes at `at` can be mapped before a bad range,
    /// from one consistent copy; a writer in progress is waited for (it
    /// holds a spinlock and copies at most [`FAST_BAD`] ranges).
    fn good_len(&self, at: u64, len: u64) -> BadLookup {
        loop {
            let s = self.seq.load(Acquire);
            if s & 1 == 0 {
                let r = self.lookup(at, len);
                // Orders the loads above before the second read of the
                // count (the smp_rmb() of read_seqcount_retry()).
                smp_mb(Read);
                if self.seq.load(Relaxed) == s {
                    return r;
                }
            }
            core::hint::spin_loop();
        }
    }

    /// The lookup on what the loads give; meaningful only if `seq` did not
    /// move meanwhile (see [`BadRanges::good_len`]).
    fn lookup(&self, at: u64, len: u64) -> BadLookup {
        let n = self.n.load(Relaxed);
        match n {
            BAD_ALL => return BadLookup::Poisoned,
            BAD_MANY => return BadLookup::AskMap,
            _ => {}
        }
        let end = at.saturating_add(len);
        for i in 0..(n as usize).min(FAST_BAD) {
            let (s, e) = (self.start[i].load(Relaxed), self.end[i].load(Relaxed));
            if e <= at {
                continue;
            }
            // The first range that ends after `at` (they are in order).
            return if s <= at {
                BadLookup::Poisoned
            } else if s < end {
                BadLookup::Good(s - at)
            } else {
                BadLookup::Good(len)
            };
        }
        BadLookup::Good(len)
    }
}

/// One claimed run: the device bytes `[start, end)` (`start` is its key in
/// [`DevMap::claims`]) that the fmap of `owner` maps, and where in that
/// file (an [`fmap::Back`], packed).
#[derive(Clone)]
struct Claim {
    end: u64,
    /// The inode whose fmap maps the run.
    owner: Arc<Owner>,
    file_offset: u64,
    chunk: u32,
    nstrips: u32,
}

impl Claim {
    fn back(&self) -> fmap::Back {
        fmap::Back {
            file_offset: self.file_offset,
            chunk: self.chunk.into(),
            nstrips: self.nstrips,
        }
    }
}

/// Bytes of one claim node: the slab object each claimed run costs.
pub(crate) fn claim_node_bytes() -> usize {
    let node = core::mem::size_of::<bindings::rb_node>()
        + core::mem::size_of::<u64>()
        + core::mem::size_of::<Claim>();
    crate::sys::kmalloc_size_roundup(node)
}

/// The range map of one device: who maps which bytes, and which bytes
/// failed.
///
/// A red-black tree of ranges keyed by their start ([`kernel::rbtree`]): the
/// claims of live inodes never overlap (that is the rule they enforce), so
/// the claim that could cover a byte is the last one starting at or before
/// it, and an overlap check, a lookup or a removal is `O(log n)` in the
/// claimed runs, whatever the device size. Nodes are allocated before the
/// lock is taken (an [`RBTreeNodeReservation`]) and inserting or removing
/// one allocates nothing, which is what a lock that eviction takes needs.
/// (A maple tree allocates inside its insert and its erase;
/// `Documentation/design.rst`, "The range maps", has the measured costs.)
///
/// # Invariants
///
/// - Every claim is `[key, end)` with `key < end`; no two claims overlap.
/// - Every bad range is `[key, value)` with `key < value`; no two bad
///   ranges overlap or touch.
struct DevMap {
    claims: RBTree<u64, Claim>,
    bad: RBTree<u64, u64>,
    /// A failure could not be recorded as a range: every byte is bad.
    all_bad: bool,
}

impl DevMap {
    fn new() -> Self {
        // INVARIANT: empty.
        DevMap {
            claims: RBTree::new(),
            bad: RBTree::new(),
            all_bad: false,
        }
    }

    /// The start of the first (lowest) range of `tree` that ends after `at`
    /// and starts before `end`, if the ranges are disjoint.
    fn first_in<V>(
        tree: &RBTree<u64, V>,
        end_of: impl Fn(&V) -> u64,
        at: u64,
        end: u64,
    ) -> Option<u64> {
        match tree.cursor_lower_bound(&at) {
            Some(c) => {
                // Disjoint: only the range just before `at` can cover it.
                if let Some((k, v)) = c.peek_prev() {
                    if end_of(v) > at {
                        return Some(*k);
                    }
                }
                let (k, _) = c.current();
                (*k < end).then_some(*k)
            }
            None => tree.cursor_back().and_then(|c| {
                let (k, v) = c.current();
                (end_of(v) > at).then_some(*k)
            }),
        }
    }

    /// The first claim overlapping `[at, end)`.
    fn first_claim(&self, at: u64, end: u64) -> Option<(u64, &Claim)> {
        let k = Self::first_in(&self.claims, |c| c.end, at, end)?;
        self.claims.get(&k).map(|c| (k, c))
    }

    /// How much of `len` bytes at device offset `at` can be mapped before a
    /// bad range: `EHWPOISON` if `at` itself is bad.
    fn good_len(&self, at: u64, len: u64) -> Result<u64> {
        if self.all_bad {
            return Err(EHWPOISON);
        }
        match Self::first_in(&self.bad, |e| *e, at, at.saturating_add(len)) {
            Some(start) if start <= at => Err(EHWPOISON),
            Some(start) => Ok(start - at),
            None => Ok(len),
        }
    }

    /// Adds `[start, end)` to the bad ranges, merged with those it overlaps
    /// or touches, in `node` (allocated by the caller).
    fn add_bad(&mut self, mut start: u64, mut end: u64, node: RBTreeNodeReservation<u64, u64>) {
        // Disjoint and not touching: at most one range before `start` can
        // reach it, and the ranges from `start` on are taken in order.
        while let Some(k) = Self::first_in(
            &self.bad,
            |e| *e,
            start.saturating_sub(1),
            end.saturating_add(1),
        ) {
            // Freeing a node (kfree) under the owners lock is allowed: it
            // neither sleeps nor allocates.
            // first_in() found it: the removal cannot fail, but a loop
            // under the owners spinlock must end whatever happens.
            let Some(node) = self.bad.remove_node(&k) else {
                break;
            };
            let (_, e) = node.to_key_value();
            start = start.min(k);
            end = end.max(e);
        }
        // INVARIANT: every range overlapping or touching the new one was
        // merged into it and removed.
        let _ = self.bad.insert(node.into_node(start, end));
    }
}

/// The range maps of a connection's devices.
struct Owners {
    devs: [DevMap; fmap::MAX_DAXDEVS],
}

/// What a connection knows of its devices: their failures and removals,
/// and which inode maps which of their bytes.
#[pin_data]
pub(crate) struct State {
    state: [DevState; fmap::MAX_DAXDEVS],
    /// The range maps. Taken by eviction (an fmap's release): never sleep,
    /// allocate or wait on the server under it.
    #[pin]
    owners: SpinLock<Owners>,
}

impl State {
    /// What is known of device `index` (< MAX_DAXDEVS, checked by the fmap
    /// core).
    pub(crate) fn dev(&self, index: u32) -> Option<&DevState> {
        self.state.get(index as usize)
    }

    fn new() -> impl PinInit<Self> {
        pin_init!(State {
            state: core::array::from_fn(|_| DevState::new()),
            owners <- new_spinlock!(Owners {
                devs: core::array::from_fn(|_| DevMap::new()),
            }),
        })
    }
}

/// What the DAX core tells famfs_rs about its devices.
///
/// A device going away (`MF_MEM_PRE_REMOVE`, from `kill_dax()` on unbind):
/// mark it removed, so that `iomap_begin` and later opens fail with
/// ENXIO, then take every mapping of every file on it away and wait for
/// their page references (`fuse_dax_fmap_revoke()`; for a file being
/// evicted, until its eviction, which waits for them, released its
/// claim), so that nothing reaches the memory through famfs once it is
/// handed to someone else: `memunmap_pages()` does not wait for the
/// references of fs-dax pages. No signal ends these waits. They delay only
/// this device's removal (and the fs_put_dax() of this device): the DAX
/// core makes this call outside its global SRCU read section
/// (patches/dax/0002), so other devices' removals, memory failures elsewhere
/// and other mounts do not wait for it.
///
/// Any other failure: record the failed range as bad on the device, so
/// that later faults and I/O of it fail with EHWPOISON (the rest of the
/// device keeps working), and have the kernel's fs-dax kill path
/// (`mf_dax_kill_procs()`) signal the processes that map the failed pages
/// (SIGBUS, BUS_MCEERR_AR to the task that hit it, BUS_MCEERR_AO to the
/// early-kill ones) and unmap the pages if it signalled one, then unmap
/// the range from every mapping in any case (a late-kill process's next
/// access then fails on the bad range, where on xfs it could read the
/// failed memory). The first error is returned (the memory failure is
/// then recorded as failed, not recovered): an empty range or one off the
/// device, a kill path's EBUSY (not a DAX mapping), a file that stayed
/// busy.
impl dax::Holder for State {
    fn failure(&self, dev: usize, dax: &DaxDev, offset: u64, len: u64, flags: MfFlags) -> Result {
        match self.memory_failure(Some(dax), dev, offset, len, flags) {
            Ok((0, 0)) => {
                crate::err_rl!(
                    "memory failure on daxdev {} at {:#x}+{:#x}: no file maps it",
                    dev,
                    offset,
                    len
                );
                Ok(())
            }
            Ok((files, evicted)) => {
                crate::err_rl!(
                    "memory failure on daxdev {} at {:#x}+{:#x}: {} file(s) map it, now bad there ({} being evicted)",
                    dev,
                    offset,
                    len,
                    files + evicted,
                    evicted
                );
                Ok(())
            }
            Err(e) => {
                crate::err_rl!(
                    "memory failure on daxdev {} at {:#x}+{:#x}: not handled, error {}",
                    dev,
                    offset,
                    len,
                    e.to_errno()
                );
                Err(e)
            }
        }
    }

    fn removal(&self, dev: usize) {
        let Some(d) = self.state.get(dev) else {
            return;
        };
        d.removed.store(true, Release);
        let n = self.revoke_device(dev);
        crate::err_rl!(
            "a daxdev is being removed: {} file(s) on it lost their mappings, and fail with ENXIO",
            n
        );
    }
}

impl Conn {
    /// A new, empty table, resolving daxdev paths from the root of
    /// `server`, with its credentials (those of the calling task if
    /// `None`).
    fn with<'a>(server: Option<&'a InitServer<'a>>) -> impl PinInit<Self> + 'a {
        Devices::new(server, State::new())
    }

    /// The table of a connection whose FUSE_INIT reply `server` wrote.
    pub(crate) fn with_server<'a>(server: &'a InitServer<'a>) -> impl PinInit<Self> + 'a {
        Self::with(Some(server))
    }

    /// A table resolving as the calling task (the KUnit cases).
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn new_local() -> impl PinInit<Self> {
        Self::with(None::<&InitServer<'static>>)
    }

    /// Makes sure device `index` is known and at least `end` bytes long,
    /// asking the server (through `inode`'s connection) the first time.
    /// Takes no lock: a server that stalls blocks only this (killable)
    /// opener.
    pub(crate) fn fill(&self, inode: &FmapInode, index: u32, end: u64) -> Result {
        let d = self.dev(index).ok_or(ERANGE)?;
        let i = index as usize;
        if self.dax(i).is_none() && !d.is_removed() {
            let mut reply = [0u8; DAXDEV_REPLY_SIZE];
            let name = Self::fetch_name(inode, index, &mut reply)?;
            match self.take(i, name) {
                Ok(Taken::Held) => {}
                Ok(Taken::Other) => crate::warn_rl!(
                    "file {}: daxdev {} was named twice with different devices; keeping the first",
                    inode.nodeid(),
                    index
                ),
                Err(e) => {
                    let why = match e {
                        e if e == EACCES => "the server may not open it for reading and writing",
                        e if e == ELOOP => "a magic link or a symlink loop on the way",
                        e if e == ENOENT => "no such node where the server lives",
                        e if e == ENODEV => "not a device-dax character device",
                        e if e == EOPNOTSUPP => "not bound to fsdev_dax",
                        e if e == EBUSY => "another holder has it",
                        e if e == ENXIO => "it is being removed, or was unbound meanwhile",
                        e if e == EINTR => "interrupted while waiting for the device",
                        _ => "lookup failed",
                    };
                    crate::warn_rl!(
                        "file {}: daxdev {} ({:?}) refused: {} (error {})",
                        inode.nodeid(),
                        index,
                        name,
                        why,
                        e.to_errno()
                    );
                    return Err(e);
                }
            }
        }
        if d.is_removed() {
            crate::warn_rl!(
                "file {}: daxdev {} was removed; remount to use it again",
                inode.nodeid(),
                index
            );
            return Err(ENXIO);
        }
        // Published above, or by an earlier fill.
        let dax = self.dax(i).ok_or(EIO)?;
        if let Err(e) = dax.check_end(end) {
            crate::warn_rl!(
                "file {}: fmap reaches byte {:#x} of daxdev {}, which is shorter ({})",
                inode.nodeid(),
                end,
                index,
                e.to_errno()
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
}

/// The range maps, and memory failures and removals, which need only the
/// device notified ([`dax::Holder`]).
impl State {
    /// Records that the inode `owner` (file `nodeid`, for messages) maps
    /// every device run of `fmap`, or fails without recording anything:
    /// EBUSY if another live inode maps a byte of one of them, EINVAL if
    /// `fmap` maps a device byte twice, ENOMEM. An inode claims once: fuse
    /// fetches and publishes one fmap per inode, freed at its eviction.
    ///
    /// Each run's node is allocated before the lock is taken, and the lock
    /// is held for one run at a time: a claim of 2^21 runs never holds it
    /// long. A racing claim may meanwhile see part of this one, and fail
    /// with EBUSY on it as it would on the whole.
    pub(crate) fn claim(&self, owner: &Arc<Owner>, nodeid: u64, fmap: &KFmap) -> Result {
        let mut done = 0usize;
        let mut clash = None;
        let r = fmap.for_each_run(
            |run| {
                let node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;
                let end = run.dev_offset.checked_add(run.len).ok_or(EOVERFLOW)?;
                let claim = Claim {
                    end,
                    owner: owner.clone(),
                    file_offset: run.back.file_offset,
                    chunk: u32::try_from(run.back.chunk).map_err(|_| EIO)?,
                    nstrips: run.back.nstrips,
                };
                let mut o = self.owners.lock();
                let dev = o.devs.get_mut(run.devindex as usize).ok_or(EIO)?;
                if let Some((at, c)) = dev.first_claim(run.dev_offset, end) {
                    let mine = Arc::ptr_eq(&c.owner, owner);
                    clash = Some((run.devindex, at.max(run.dev_offset), mine));
                    drop(o);
                    return Err(if mine { EINVAL } else { EBUSY });
                }
                // INVARIANT: `[dev_offset, end)` overlaps no claim (checked
                // above, under the same hold of the lock).
                let _ = dev.claims.insert(node.into_node(run.dev_offset, claim));
                drop(o);
                done += 1;
                cond_resched_every(done);
                Ok(())
            },
            EIO,
        );
        if let Err(e) = r {
            self.remove_runs(owner, fmap, done);
            match clash {
                Some((dev, at, true)) => crate::warn_rl!(
                    "file {}: fmap maps byte {:#x} of daxdev {} twice",
                    nodeid,
                    at,
                    dev
                ),
                Some((dev, at, false)) => crate::warn_rl!(
                    "file {}: fmap maps byte {:#x} of daxdev {}, which another open file maps",
                    nodeid,
                    at,
                    dev
                ),
                None => {}
            }
            return Err(e);
        }
        Ok(())
    }

    /// Removes the first `n` runs of `fmap` claimed for `owner`. No
    /// allocation, no sleep under the lock, which is held for one run at a
    /// time.
    fn remove_runs(&self, owner: &Owner, fmap: &KFmap, n: usize) {
        let mut i = 0usize;
        // Cannot fail: the walk is the one claim() made.
        let _ = fmap.for_each_run(
            |run| {
                if i == n {
                    return Err(());
                }
                i += 1;
                let mut o = self.owners.lock();
                let node = o.devs.get_mut(run.devindex as usize).and_then(|d| {
                    match d.claims.get(&run.dev_offset) {
                        Some(c) if core::ptr::eq(&*c.owner, owner) => {
                            d.claims.remove_node(&run.dev_offset)
                        }
                        _ => None,
                    }
                });
                drop(o);
                // The node is freed here, without the lock.
                drop(node);
                cond_resched_every(i);
                Ok(())
            },
            (),
        );
    }

    /// Undoes a successful `claim(owner, _, fmap)`: called from inode
    /// eviction.
    pub(crate) fn release(&self, owner: &Owner, fmap: &KFmap) {
        self.remove_runs(owner, fmap, usize::MAX);
    }

    /// Claimed runs on device `dev` (for the scale tests).
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn claimed_runs(&self, dev: usize) -> usize {
        let o = self.owners.lock();
        o.devs.get(dev).map_or(0, |d| d.claims.keys().count())
    }

    /// How many of `len` bytes at `dev_offset` on device `dev` can be
    /// mapped before a range a memory failure marked bad; `EHWPOISON` if
    /// the first byte is bad. For devices with a bad range only: lock-free
    /// unless the device has more than [`FAST_BAD`] bad ranges.
    pub(crate) fn good_len(&self, dev: u32, dev_offset: u64, len: u64) -> Result<u64> {
        match self.dev(dev).ok_or(EIO)?.bad.good_len(dev_offset, len) {
            BadLookup::Good(n) => Ok(n),
            BadLookup::Poisoned => Err(EHWPOISON),
            BadLookup::AskMap => self.good_len_locked(dev, dev_offset, len),
        }
    }

    /// [`Conn::good_len`] from the range map itself, under the owners lock.
    pub(crate) fn good_len_locked(&self, dev: u32, dev_offset: u64, len: u64) -> Result<u64> {
        let o = self.owners.lock();
        o.devs
            .get(dev as usize)
            .ok_or(EIO)?
            .good_len(dev_offset, len)
    }

    /// Records `[start, end)` of device `dev` as bad, for the range map and
    /// the fault path's copy. `end > start`.
    pub(crate) fn record_bad(&self, dev: usize, start: u64, end: u64) {
        let Some(d) = self.state.get(dev) else {
            return;
        };
        let node = RBTreeNodeReservation::new(GFP_KERNEL);
        let mut o = self.owners.lock();
        if let Some(m) = o.devs.get_mut(dev) {
            match node {
                Ok(node) => m.add_bad(start, end, node),
                // No memory to record the range: fail safe, the whole
                // device is bad from now on.
                Err(_) => m.all_bad = true,
            }
            // Before the caller's kill: a fault from now on sees the range.
            d.bad.publish(m);
        }
    }

    /// A memory failure of `[offset, offset + len)` on device `dev` (`dax`,
    /// `None` in the KUnit cases): marks
    /// the range bad, then has the kernel signal the processes that map a
    /// page of it through a file (`mf_dax_kill_procs()`: the task that hit
    /// it and the early-kill ones) and unmaps the range from every mapping.
    /// Returns the files whose ranges were handed to it, and those that
    /// could not be pinned because they are being evicted (nothing maps
    /// them any more); or the first error: `EINVAL` for an empty range or
    /// one that is not on the device (nothing is recorded then), the kill
    /// path's error, `EBUSY` for a file that stayed busy.
    pub(crate) fn memory_failure(
        &self,
        dax: Option<&DaxDev>,
        dev: usize,
        offset: u64,
        len: u64,
        flags: MfFlags,
    ) -> Result<(usize, usize)> {
        let page = kernel::page::PAGE_SIZE as u64;
        let last = offset.checked_add(len).filter(|_| len > 0).ok_or(EINVAL)?;
        let dax = dax.ok_or(EINVAL)?;
        if dax.check_end(last).is_err() {
            return Err(EINVAL);
        }
        let start = offset & !(page - 1);
        let end = last.saturating_add(page - 1) & !(page - 1);
        self.record_bad(dev, start, end);
        self.kill_range(dev, start, end, flags)
    }

    /// How often, 10 ms apart, a memory failure tries again to pin a file
    /// whose super block a writer holds (a remount): a second in all, for
    /// the whole failure (it runs under the global `mf_mutex`).
    const PIN_TRIES: u32 = 100;

    /// The first claim on device `dev` overlapping `[at, end)`: its start
    /// and a copy, taken under the owners lock.
    fn next_claim(&self, dev: usize, at: u64, end: u64) -> Option<(u64, Claim)> {
        let o = self.owners.lock();
        o.devs
            .get(dev)
            .and_then(|d| d.first_claim(at, end))
            .map(|(k, c)| (k, c.clone()))
    }

    /// Hands every file range that maps `[start, end)` of device `dev` to
    /// `mf_dax_kill_procs()`: the files handled and those being evicted, or
    /// the first error (the other files are still handled). The lock is
    /// held only to find the next owner.
    fn kill_range(
        &self,
        dev: usize,
        start: u64,
        end: u64,
        flags: MfFlags,
    ) -> Result<(usize, usize)> {
        let (mut files, mut evicted) = (0usize, 0usize);
        let mut first_err = None;
        let mut at = start;
        let mut tries = 0u32;
        while at < end {
            let Some((key, c)) = self.next_claim(dev, at, end) else {
                break;
            };
            let inode = match c.owner.pin() {
                Ok(Some(inode)) => inode,
                // Being evicted: no mapping of it is left to signal, and its
                // new faults and I/O fail on the bad range.
                Ok(None) => {
                    evicted += 1;
                    at = c.end;
                    continue;
                }
                // A writer holds s_umount: look at the claim again soon.
                Err(e) if e == EAGAIN && tries < Self::PIN_TRIES => {
                    tries += 1;
                    fsleep(Delta::from_millis(10));
                    continue;
                }
                Err(_) => {
                    first_err.get_or_insert(EBUSY);
                    at = c.end;
                    continue;
                }
            };
            at = c.end;
            let back = c.back();
            let (a, b) = (start.max(key) - key, end.min(c.end) - key);
            for (file_offset, n) in back.file_ranges(a, b) {
                if let Err(e) = inode.kill_procs(file_offset, n, flags) {
                    first_err.get_or_insert(e);
                }
            }
            files += 1;
            // `inode` is unpinned here, without the lock.
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok((files, evicted)),
        }
    }

    /// Takes every mapping of every file on device `dev` away
    /// (`fuse_dax_fmap_revoke()`), and waits until every file on it that is
    /// being evicted has released its claim (its eviction first waits for
    /// its page references); returns how many files were revoked. The
    /// owners lock is held only to find the next claim.
    fn revoke_device(&self, dev: usize) -> usize {
        let mut cursor = 0u64;
        let mut last: Option<Arc<Owner>> = None;
        let mut n = 0usize;
        let mut steps = 0usize;
        while let Some((key, c)) = self.next_claim(dev, cursor, u64::MAX) {
            steps += 1;
            cond_resched_every(steps);
            if last.as_ref().is_some_and(|l| Arc::ptr_eq(l, &c.owner)) {
                cursor = c.end;
                continue;
            }
            match c.owner.pin() {
                Ok(Some(inode)) => {
                    cursor = c.end;
                    // Cannot fail: the wait for page references is not
                    // interruptible.
                    let _ = inode.revoke();
                    n += 1;
                    last = Some(c.owner);
                    // `inode` is unpinned here, without the lock.
                }
                // Being evicted, or its super block is busy: its eviction
                // waits for its page references and then releases its
                // claim. Look at this claim again once that is done: until
                // the memory is free of references, it must not go.
                Ok(None) | Err(_) => {
                    cursor = key;
                    fsleep(Delta::from_millis(1));
                }
            }
        }
        n
    }
}

/// Every 1024 steps of a long walk, lets others run.
fn cond_resched_every(i: usize) {
    if i % 1024 == 0 {
        cond_resched();
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
