// SPDX-License-Identifier: GPL-2.0

//! famfs_rs: famfs as a DAX fmap provider for fuse, in Rust.
//!
//! famfs shares fabric-attached memory among hosts as files: a fuse server
//! owns the namespace and the kernel maps file offsets straight onto DAX
//! devices. This module holds the famfs logic: the fmap core ([`fmap`]),
//! which parses, validates and resolves fmaps, is in place; the fuse
//! provider hook, daxdev handling and the fault path come with the kernel
//! patch series (see `Documentation/`).

use kernel::prelude::*;

mod ffi;
pub mod fmap;

/// Version of famfs_rs, logged at load.
pub const VERSION: &str = "0.1.0";

module! {
    type: FamfsRs,
    name: "famfs_rs",
    authors: ["famfs-rs developers"],
    description: "famfs DAX fmap provider for fuse",
    license: "GPL",
}

struct FamfsRs;

impl kernel::Module for FamfsRs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!(
            "famfs_rs {} loaded (fmap version {}, up to {} daxdevs per connection)\n",
            VERSION,
            fmap::VERSION,
            fmap::MAX_DAXDEVS
        );
        Ok(FamfsRs)
    }
}

impl Drop for FamfsRs {
    fn drop(&mut self) {
        pr_info!("famfs_rs {} unloaded\n", VERSION);
    }
}

/// Turns an fmap core error into a kernel error with the same errno.
pub fn to_kernel_error(e: &fmap::Error) -> Error {
    Error::from_errno(-(e.errno as i32))
}

#[kunit_tests(famfs_rs)]
mod tests {
    use super::{ffi, fmap, to_kernel_error};
    use kernel::alloc::{flags::GFP_KERNEL, KVVec};
    use kernel::error::code::{EINVAL, EIO, ERANGE};

    type KFmap = fmap::Fmap<KVVec<u64>>;

    const MIB: u64 = 1 << 20;

    fn kalloc(n: usize) -> fmap::Result<KVVec<u64>> {
        KVVec::from_elem(0u64, n, GFP_KERNEL).map_err(|_| fmap::Error {
            errno: fmap::Errno::Enomem,
            reason: "test allocation",
            extent: None,
            strip: None,
            value: n as u64,
        })
    }

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
