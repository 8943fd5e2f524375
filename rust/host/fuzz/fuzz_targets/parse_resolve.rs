// SPDX-License-Identifier: GPL-2.0

//! Fuzzes `probe`, `Fmap::parse` and `Fmap::resolve` with arbitrary replies.
//!
//! The checks are `tests/common/check.rs::check_input`, shared with the
//! property tests and with `tests/corpus_replay.rs`: no panic; `probe`
//! answers consistently; a rejection names a rule the bytes break (per the
//! naive spec checker in `tests/common/mod.rs`); an accepted fmap is valid
//! and resolves a spread of offsets (first and last bytes, 2 MiB multiples,
//! offsets derived from the input) within the contract -- length bounds,
//! `file_size` rounded up, `[0, end)` of the device per `devices()` -- and
//! exactly as the naive model does.
//!
//! Run (from rust/host): `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_resolve -s none
//! ../../tests/fuzz/parse_resolve`

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::check::check_input(data);
});
