//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`, minimised) and every input
//! that once found a defect (`fuzz/regressions/<target>/`) through the targets, on stable
//! Rust: what the fuzzers found stays fixed.

use std::fs;
use std::path::PathBuf;

fn inputs(dir: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(dir)
        .join(target);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.expect("entry").path()).collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let data = fs::read(&path).expect("read input");
            (path, data)
        })
        .collect()
}

#[test]
fn every_target_has_a_corpus_and_replays_it() {
    for (target, run) in tlsbox_fuzz_targets::TARGETS {
        let corpus = inputs("corpus", target);
        assert!(!corpus.is_empty(), "fuzz/corpus/{target} is empty");
        for (path, data) in corpus.iter().chain(&inputs("regressions", target)) {
            eprintln!("{target}: {}", path.display());
            run(data);
        }
    }
}
