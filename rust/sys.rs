// SPDX-License-Identifier: GPL-2.0

//! What famfs_rs needs of the kernel beyond fuse and DAX, where the kernel
//! crate of 7.3 has no abstraction: rate-limited printing of a message
//! formatted in place (no heap string), `cond_resched()`, and the static
//! key of the benchmark's `iomap_begin` timing; and its debugfs files,
//! through `kernel::debugfs`.

use crate::{dax, ffi};
use core::fmt;
use kernel::{
    alloc::flags::GFP_KERNEL,
    debugfs::{Dir, File},
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
    time::{Instant, Monotonic},
    uaccess::UserSliceReader,
};

/// Prints `args` as one line, `famfs_rs: ` first, as an error or a
/// warning, unless the module printed too much lately (100 lines in 5 s).
/// The message is formatted by `printk`, with no allocation.
pub(crate) fn log_ratelimited(err: bool, args: fmt::Arguments<'_>) {
    // SAFETY: no preconditions.
    if !unsafe { ffi::famfs_rs_log_allowed() } {
        return;
    }
    if err {
        pr_err!("{}\n", args);
    } else {
        pr_warn!("{}\n", args);
    }
}

/// Lets others run, if anything should: a long walk's preemption point.
/// Not to be called under a spinlock (`might_sleep()` says so on a debug
/// kernel).
pub(crate) fn cond_resched() {
    // SAFETY: no preconditions.
    unsafe { ffi::famfs_rs_cond_resched() };
}

/// The size of the slab object `kmalloc()` gives for `size` bytes.
pub(crate) fn kmalloc_size_roundup(size: usize) -> usize {
    // SAFETY: no preconditions.
    unsafe { kernel::bindings::kmalloc_size_roundup(size) }
}

/// `iomap_begin` calls timed, and their nanoseconds (debugfs
/// `iomap_stats`).
static CALLS: Atomic<i64> = Atomic::new(0);
static NANOS: Atomic<i64> = Atomic::new(0);
/// What timing an empty region gives, measured at load.
static CLOCK_NS: Atomic<i64> = Atomic::new(0);

/// The start of a timed `iomap_begin`, if timing is on: a no-op where the
/// jump would be, when it is off.
#[inline(always)]
pub(crate) fn timing_start() -> Option<Instant<Monotonic>> {
    // SAFETY: `famfs_rs_iomap_timing` is defined by C (helpers.c) as a
    // `struct famfs_rs_timing` whose `key` is a `static_key_false`
    // initialized with `STATIC_KEY_FALSE_INIT`.
    let on = unsafe {
        kernel::static_branch_unlikely!(ffi::famfs_rs_iomap_timing, ffi::famfs_rs_timing, key)
    };
    on.then(Instant::<Monotonic>::now)
}

/// Adds the time since `start` to the statistics.
pub(crate) fn timing_end(start: Instant<Monotonic>) {
    NANOS.add(start.elapsed().as_nanos(), Relaxed);
    CALLS.add(1, Relaxed);
}

fn set_timing(on: bool) {
    // SAFETY: no preconditions (process context: a debugfs write, or the
    // module's exit).
    unsafe { ffi::famfs_rs_timing_set(on) };
}

fn timing_on() -> bool {
    // SAFETY: no preconditions.
    unsafe { ffi::famfs_rs_timing_enabled() }
}

/// The clock's own cost: the median of 33 timings of an empty region,
/// which the benchmark subtracts from the time per call.
fn clock_ns() -> i64 {
    let mut d = [0i64; 33];
    for x in d.iter_mut() {
        let t = Instant::<Monotonic>::now();
        *x = t.elapsed().as_nanos();
    }
    d.sort_unstable();
    d[d.len() / 2]
}

/// Reads a number (decimal, surrounding blanks allowed) from a debugfs
/// write.
fn read_u64(r: &mut UserSliceReader) -> Result<u64> {
    let mut buf = [0u8; 24];
    let n = r.len();
    if n == 0 || n > buf.len() {
        return Err(EINVAL);
    }
    r.read_slice(&mut buf[..n])?;
    let s = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?;
    s.trim().parse::<u64>().map_err(|_| EINVAL)
}

fn show_timing(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", u8::from(timing_on()))
}

fn store_timing(_: &(), r: &mut UserSliceReader) -> Result {
    set_timing(read_u64(r)? != 0);
    Ok(())
}

fn show_stats(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "calls {}", CALLS.load(Relaxed))?;
    writeln!(f, "ns {}", NANOS.load(Relaxed))?;
    writeln!(f, "clock_ns {}", CLOCK_NS.load(Relaxed))
}

/// Any write resets the counters.
fn store_stats(_: &(), _: &mut UserSliceReader) -> Result {
    CALLS.store(0, Relaxed);
    NANOS.store(0, Relaxed);
    Ok(())
}

fn show_held(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", dax::held())
}

/// `/sys/kernel/debug/famfs_rs`: `iomap_timing` (0 or 1: time every
/// `iomap_begin`), `iomap_stats` (the calls timed, their nanoseconds and
/// the clock's own cost; a write resets them) and `held_daxdevs` (devices
/// held over all connections). Removed on drop, then the timing is
/// switched off (`_off`, the last field, drops last), so that no write to
/// `iomap_timing` can switch it on again after that.
pub(crate) struct Debugfs {
    _files: [Pin<KBox<File<()>>>; 3],
    _dir: Dir,
    _off: TimingOff,
}

/// Switches the timing off when dropped.
struct TimingOff;

impl Drop for TimingOff {
    fn drop(&mut self) {
        set_timing(false);
    }
}

impl Debugfs {
    pub(crate) fn new() -> Result<Self> {
        CLOCK_NS.store(clock_ns(), Relaxed);
        let dir = Dir::new(c"famfs_rs");
        let timing = KBox::pin_init(
            dir.read_write_callback_file(c"iomap_timing", (), &show_timing, &store_timing),
            GFP_KERNEL,
        )?;
        let stats = KBox::pin_init(
            dir.read_write_callback_file(c"iomap_stats", (), &show_stats, &store_stats),
            GFP_KERNEL,
        )?;
        let held = KBox::pin_init(
            dir.read_callback_file(c"held_daxdevs", (), &show_held),
            GFP_KERNEL,
        )?;
        Ok(Debugfs {
            _files: [timing, stats, held],
            _dir: dir,
            _off: TimingOff,
        })
    }
}
