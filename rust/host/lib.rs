// SPDX-License-Identifier: GPL-2.0

//! Host build of the famfs fmap core.
//!
//! The code is `../fmap.rs`, the very file `famfs_rs.ko` compiles: this
//! crate only gives it a `no_std` crate root so cargo can test, fuzz and
//! benchmark it.

#![no_std]
#![forbid(unsafe_code)]

#[path = "../fmap.rs"]
mod fmap;

pub use fmap::*;
