//! The fuzz corpus, replayed on stable: every input `cargo fuzz` kept (`fuzz/corpus/<target>/`)
//! and every crash it found (`fuzz/artifacts/<target>/`, committed once fixed) goes through the
//! same `vaxcert::fuzzing` entry point as the target, so a regression fails CI without nightly.

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 11] = [
    ("verify_input", vaxcert::fuzzing::verify_input),
    ("shc_payload", vaxcert::fuzzing::shc_payload),
    ("hc1_cose", vaxcert::fuzzing::hc1_cose),
    ("vdsnc_json", vaxcert::fuzzing::vdsnc_json),
    ("qr_image", vaxcert::fuzzing::qr_image),
    ("card_files", vaxcert::fuzzing::card_files),
    ("card_tlv", vaxcert::fuzzing::card_tlv),
    ("evidence_json", vaxcert::fuzzing::evidence_json),
    ("vrs_csv", vaxcert::fuzzing::vrs_csv),
    ("mrz", vaxcert::fuzzing::mrz),
    ("counter_forms", vaxcert::fuzzing::counter_forms),
];

fn inputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn every_corpus_input_and_every_fixed_crash_replays_without_a_panic() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let declared = std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
    for (name, run) in TARGETS {
        assert!(
            declared.contains(&format!("fuzz_targets/{name}.rs")),
            "{name} is not a cargo-fuzz target"
        );
        let corpus = inputs(&fuzz.join("corpus").join(name));
        assert!(!corpus.is_empty(), "{name}: no corpus committed");
        let crashes = inputs(&fuzz.join("artifacts").join(name));
        for (path, data) in corpus.iter().chain(&crashes) {
            let r = std::panic::catch_unwind(|| run(data));
            assert!(r.is_ok(), "{name}: {path} panics");
        }
    }
}
