// SPDX-License-Identifier: GPL-2.0

//! The catalogue of malformed GET_FMAP replies
//! (`tests/manifests/bad_fmaps.table` at the top of the repository), run
//! through the fmap core exactly as `fetch_fmap()` in `rust/famfs.rs` runs
//! a server's replies: probe the first reply, fetch the announced size
//! once, check it, parse it. The same table is served to the real module
//! by `tests/bad_fmaps.c` in the VM.
//!
//! Each row's errno is also checked against the independent rule checker
//! (`common::spec_check`), so an expected value in the table that the
//! header's rules do not give fails here, not only a wrong implementation.

mod common;

use common::check::parse;
use common::*;
use famfs_fmap::{check_second, probe, Probe};
use std::collections::HashSet;
use std::path::Path;

/// One line of the table.
struct Case {
    line: usize,
    name: String,
    stage: String,
    errno: i32,
    /// `announce=SIZE` (false) or `announce-again=SIZE` (true).
    announce: Option<(u32, bool)>,
    reply: Vec<u8>,
}

fn errno_of(name: &str) -> i32 {
    match name {
        "EIO" => EIO,
        "E2BIG" => E2BIG,
        "EINVAL" => EINVAL,
        "ERANGE" => ERANGE,
        "EPROTO" => EPROTO,
        "EOVERFLOW" => EOVERFLOW,
        "ENOENT" => 2,
        "EBUSY" => 16,
        _ => panic!("unknown errno {name}"),
    }
}

/// A number as famfs_server reads it: decimal or 0x hex, K/M/G/T suffix.
fn number(s: &str) -> u64 {
    let (digits, mult) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 1 << 20),
        Some(b'G' | b'g') => (&s[..s.len() - 1], 1 << 30),
        Some(b'T' | b't') => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    let v = match digits.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => digits.parse(),
    }
    .unwrap_or_else(|e| panic!("bad number {s}: {e}"));
    v.checked_mul(mult)
        .unwrap_or_else(|| panic!("{s} past 2^64"))
}

/// One hdr/ext/ilv record: (key, width in bytes, default) per field.
fn record(fields: &[(&str, usize, u64)], kv: Option<&str>, out: &mut Vec<u8>) {
    let mut v: Vec<u64> = fields.iter().map(|f| f.2).collect();
    for pair in kv.into_iter().flat_map(|s| s.split(',')) {
        let (k, val) = pair
            .split_once('=')
            .unwrap_or_else(|| panic!("want KEY=VALUE: {pair}"));
        let i = fields
            .iter()
            .position(|f| f.0 == k)
            .unwrap_or_else(|| panic!("unknown key {k}"));
        let n = number(val);
        assert!(
            fields[i].1 == 8 || n >> (8 * fields[i].1) == 0,
            "{k}={val} too wide"
        );
        v[i] = n;
    }
    for (f, n) in fields.iter().zip(v) {
        out.extend_from_slice(&n.to_le_bytes()[..f.1]);
    }
}

const HDR_FIELDS: &[(&str, usize, u64)] = &[
    ("type", 1, 0),
    ("res", 1, 0),
    ("ver", 2, 1),
    ("ext", 4, 0),
    ("n", 4, 1),
    ("res0", 4, 0),
    ("size", 8, ALIGN),
    ("res1", 8, 0),
];
const EXT_FIELDS: &[(&str, usize, u64)] = &[
    ("dev", 4, 0),
    ("res", 4, 0),
    ("off", 8, 0),
    ("len", 8, ALIGN),
];
const ILV_FIELDS: &[(&str, usize, u64)] = &[
    ("strips", 4, 2),
    ("chunk", 4, ALIGN),
    ("nbytes", 8, 2 * ALIGN),
    ("res", 8, 0),
];

/// The bytes of famfs_server's `fmap-fields` tokens.
fn encode(tokens: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for tok in tokens {
        let (tok, count) = match tok.rsplit_once('*') {
            Some((t, c)) => (t, number(c)),
            None => (*tok, 1),
        };
        let (kind, arg) = match tok.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (tok, None),
        };
        for _ in 0..count {
            match kind {
                "hdr" => record(HDR_FIELDS, arg, &mut out),
                "ext" => record(EXT_FIELDS, arg, &mut out),
                "ilv" => record(ILV_FIELDS, arg, &mut out),
                "raw" => {
                    let h = arg.expect("raw:HEX");
                    assert!(h.len() % 2 == 0, "odd hex {h}");
                    for i in (0..h.len()).step_by(2) {
                        out.push(u8::from_str_radix(&h[i..i + 2], 16).expect("hex"));
                    }
                }
                "cut" => {
                    let n = number(arg.expect("cut:N")) as usize;
                    assert!(count == 1 && n <= out.len(), "bad cut:{n}");
                    out.truncate(out.len() - n);
                }
                _ => panic!("unknown token {tok}"),
            }
        }
    }
    out
}

fn load() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/manifests/bad_fmaps.table");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        let mut tok: Vec<&str> = line.split_whitespace().collect();
        if tok.is_empty() {
            continue;
        }
        assert!(tok.len() >= 3, "line {}: want NAME STAGE ERRNO", i + 1);
        let mut announce = None;
        if let Some(a) = tok.get(3) {
            if let Some(v) = a.strip_prefix("announce=") {
                announce = Some((number(v) as u32, false));
            } else if let Some(v) = a.strip_prefix("announce-again=") {
                announce = Some((number(v) as u32, true));
            }
            if announce.is_some() {
                tok.remove(3);
            }
        }
        cases.push(Case {
            line: i + 1,
            name: tok[0].to_string(),
            stage: tok[1].to_string(),
            errno: errno_of(tok[2]),
            announce,
            reply: encode(&tok[3..]),
        });
    }
    cases
}

/// What `fetch_fmap()` makes of the replies of `c`: the errno of the
/// fmap core (or of fuse, for a reply larger than the buffer), or Ok.
fn exchange(c: &Case) -> Result<(), (i32, &'static str)> {
    let core = |e: famfs_fmap::Error| (e.errno.num(), e.reason);
    // With announce=, the first reply is the header of the 2 MiB file the
    // VM test lists the case as, with reserved0 = the announced size.
    let first = match c.announce {
        Some((size, _)) => {
            let mut h = encode(&["hdr"]);
            h[off::RESERVED0..off::RESERVED0 + 4].copy_from_slice(&size.to_le_bytes());
            h
        }
        None => c.reply.clone(),
    };
    if first.len() > FIRST {
        return Err((EIO, "fuse: reply larger than the buffer"));
    }
    match probe(&first).map_err(core)? {
        Probe::Complete => parse(&first).map(drop).map_err(core),
        Probe::Announce(size) => {
            let second = match c.announce {
                Some((_, true)) => first.clone(),
                _ => c.reply.clone(),
            };
            if second.len() > size {
                return Err((EIO, "fuse: reply larger than the buffer"));
            }
            check_second(second.len(), size).map_err(core)?;
            parse(&second).map(drop).map_err(core)
        }
    }
}

#[test]
fn catalogue_has_60_unique_cases_of_every_stage() {
    let cases = load();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let mut names = HashSet::new();
    for c in &cases {
        assert!(
            names.insert(c.name.as_str()),
            "line {}: {} twice",
            c.line,
            c.name
        );
        assert!(
            c.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "line {}: name {} is not [A-Za-z0-9_]",
            c.line,
            c.name
        );
        assert!(
            ["fmap", "wire", "dev"].contains(&c.stage.as_str()),
            "line {}: stage {}",
            c.line,
            c.stage
        );
    }
    for stage in ["fmap", "wire", "dev"] {
        assert!(cases.iter().any(|c| c.stage == stage), "no {stage} case");
    }
}

#[test]
fn every_case_fails_as_the_table_says() {
    let mut wrong = Vec::new();
    for c in load() {
        let got = exchange(&c);
        let ok = match c.stage.as_str() {
            "fmap" => matches!(got, Err((e, r)) if e == c.errno && !r.starts_with("fuse")),
            "wire" => matches!(got, Err((e, r)) if e == c.errno && r.starts_with("fuse")),
            // the core accepts it: the device step must refuse it
            _ => got.is_ok(),
        };
        if !ok {
            wrong.push(format!(
                "line {} {}: {} {} expected, got {:?}",
                c.line, c.name, c.stage, c.errno, got
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn complete_replies_break_the_rule_the_table_names() {
    // The independent checker sees complete first replies only (no
    // announcement exchange): its violations must include the errno, and
    // a dev case must break no rule at all.
    let mut wrong = Vec::new();
    for c in load() {
        if c.stage == "dev" {
            let v = spec_check(&c.reply).violations;
            if !v.is_empty() {
                wrong.push(format!("line {} {}: dev case breaks {v:?}", c.line, c.name));
            }
            continue;
        }
        if c.stage != "fmap" || c.announce.is_some() {
            continue;
        }
        let res0 = c
            .reply
            .get(off::RESERVED0..off::RESERVED0 + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()));
        if res0.is_some_and(|r| r != 0) {
            continue;
        }
        let v = spec_check(&c.reply).violations;
        if !v.contains(&c.errno) {
            wrong.push(format!(
                "line {} {}: {} not among {:?}",
                c.line, c.name, c.errno, v
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
