// SPDX-License-Identifier: GPL-2.0

//! Replays the fuzz corpus (`tests/fuzz/parse_resolve/` at the top of the
//! repository) through the same
//! checks the fuzz target runs, so every input the fuzzer found interesting
//! stays a regression test of `cargo test`.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

#[test]
fn replay_fuzz_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz/parse_resolve");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "{} is empty: run `cargo run --example gen_corpus`",
        dir.display()
    );
    let mut failed = Vec::new();
    for p in &files {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if catch_unwind(AssertUnwindSafe(|| common::check::check_input(&data))).is_err() {
            failed.push(p.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} corpus inputs fail the checks: {failed:#?}",
        failed.len(),
        files.len()
    );
}
