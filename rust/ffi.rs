// SPDX-License-Identifier: GPL-2.0

//! Raw bindings the kernel crate lacks: `linux/dax.h`, `linux/iomap.h` and
//! the module's C helpers, generated at build time by
//! `scripts/module-bindgen.sh` with the kernel's own bindgen flags.
//!
//! Types those headers use but do not declare (`inode`, `folio`, ...) are
//! not generated again: they resolve to `kernel::bindings`, so pointers
//! pass between this module and the kernel crate unchanged.

#![allow(
    dead_code,
    improper_ctypes,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]

#[allow(unused_imports)]
use kernel::bindings::*;
#[allow(unused_imports)]
use kernel::ffi;
#[allow(unused_imports)]
use pin_init::MaybeZeroable;

include!("bindings_generated.rs");
