//! The contract is in the repository: every rule (R1–R82) and scenario (T1–T72) has its
//! entry in docs/contract.md, and every id that code and tests cite (`// R21`, `T44`)
//! resolves there.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const RULES: u32 = 82;
const SCENARIOS: u32 = 72;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `R21`-style ids in `text`: the letter, then one or two digits, standing alone.
fn ids(text: &str) -> Vec<(char, u32)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if (b != b'R' && b != b'T') || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let digits: String = text[i + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let end = i + 1 + digits.len();
        let standalone = !bytes
            .get(end)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
        if (1..=2).contains(&digits.len()) && standalone {
            out.push((b as char, digits.parse().unwrap()));
        }
    }
    out
}

/// Source files that may cite the contract.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(
                name.as_str(),
                "target" | "node_modules" | "gen" | "testdata"
            ) {
                sources(&path, out);
            }
        } else if name.ends_with(".rs") || name.ends_with(".mjs") || name.ends_with(".js") {
            out.push(path);
        }
    }
}

#[test]
fn every_rule_and_scenario_has_one_entry() {
    let contract = fs::read_to_string(root().join("docs/contract.md")).unwrap();
    for (letter, count) in [('R', RULES), ('T', SCENARIOS)] {
        for n in 1..=count {
            let entry = format!("\n- **{letter}{n}** — ");
            assert_eq!(
                contract.matches(&entry).count(),
                1,
                "docs/contract.md has no single entry for {letter}{n}"
            );
        }
    }
}

#[test]
fn every_cited_id_resolves_in_the_contract() {
    let mut files = Vec::new();
    for dir in [
        "tests",
        "guest",
        "host",
        "cli",
        "test-support",
        "wasi",
        "js",
        "benches",
    ] {
        sources(&root().join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut cited = BTreeSet::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        for (letter, n) in ids(&text) {
            let max = if letter == 'R' { RULES } else { SCENARIOS };
            assert!(
                (1..=max).contains(&n),
                "{} cites {letter}{n}, which the contract does not define",
                file.display()
            );
            cited.insert((letter, n));
        }
    }
    // The suites cite most of the contract; a scan that finds little is a broken scan.
    assert!(cited.len() > 100, "only {} ids cited", cited.len());
}

#[test]
fn the_id_scanner_finds_ids_and_only_ids() {
    assert_eq!(
        ids("// R21, T44 and (R3); not R2D2, TR4, X1, R100, T_1"),
        vec![('R', 21), ('T', 44), ('R', 3)]
    );
}
