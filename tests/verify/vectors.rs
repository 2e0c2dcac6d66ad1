//! The data-driven test: every file in `../shared/vectors/` has at least one row in
//! `tests/verify/data/vectors.tsv` (file → input form, trust store, time → verdict and reason),
//! and every row holds when run through `vaxcert verify --json`.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::helpers::{NOW, TempDir, Trust, VECTORS, base64_std, root, vector, verify};

struct Row {
    line: usize,
    path: String,
    input: String,
    trust: String,
    at: String,
    verdict: String,
    reason: String,
}

fn table() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join("tests/verify/data/vectors.tsv")).unwrap();
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 6, "vectors.tsv line {}: too few columns", i + 1);
            Row {
                line: i + 1,
                path: f[0].into(),
                input: f[1].into(),
                trust: f[2].into(),
                at: f[3].into(),
                verdict: f[4].into(),
                reason: f[5].into(),
            }
        })
        .collect()
}

fn all_vector_files(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_vector_files(&p, base, out);
        } else {
            out.insert(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
        }
    }
}

fn pointer(file: &Path, ptr: &str) -> Value {
    let v: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    v.pointer(ptr)
        .unwrap_or_else(|| panic!("{} has no {ptr}", file.display()))
        .clone()
}

fn run_row(row: &Row) -> Result<(), String> {
    let file = vector(&row.path);
    let trust = Trust::named(&row.trust, &file);
    let at = match row.at.as_str() {
        "now" => NOW.to_string(),
        "ctx" => pointer(&file, "/TESTCTX/VALIDATIONCLOCK")
            .as_str()
            .unwrap()
            .to_string(),
        explicit => explicit.to_string(),
    };
    let scratch = TempDir::new("input");
    let mut args: Vec<OsString> = Vec::new();
    if row.input == "file" {
        args.push(file.clone().into());
    } else if let Some(others) = row.input.strip_prefix("with:") {
        args.push(file.clone().into());
        let dir = file.parent().unwrap();
        args.extend(others.split(',').map(|o| dir.join(o).into_os_string()));
    } else if let Some(ptr) = row.input.strip_prefix("json:") {
        let v = pointer(&file, ptr);
        let text = match v {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let p: PathBuf = scratch.path().join("input.txt");
        std::fs::write(&p, text).unwrap();
        args.push(p.into());
    } else if let Some(ptr) = row.input.strip_prefix("png:") {
        let png = base64_std(pointer(&file, ptr).as_str().unwrap());
        let p = scratch.path().join("input.png");
        std::fs::write(&p, png).unwrap();
        args.push(p.into());
    } else {
        return Err(format!("unknown input form {:?}", row.input));
    }
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let got = verify(&trust.path(), &at, &refs, None);
    let all_valid = got.reports.iter().all(|r| r["verdict"] == "valid");
    if (got.status == 0) != all_valid {
        return Err(format!(
            "exit status {} with verdicts {}",
            got.status,
            got.verdicts()
        ));
    }
    if got.verdicts() != row.verdict || got.reasons() != row.reason {
        return Err(format!(
            "expected {} / {}, got {} / {}",
            row.verdict,
            row.reason,
            got.verdicts(),
            got.reasons()
        ));
    }
    Ok(())
}

#[test]
fn every_vector_file_is_in_the_table() {
    let base = root().join(VECTORS);
    assert!(base.is_dir(), "../shared/vectors is missing");
    let mut files = BTreeSet::new();
    all_vector_files(&base, &base, &mut files);
    let listed: BTreeSet<String> = table().into_iter().map(|r| r.path).collect();
    let missing: Vec<&String> = files.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "vector files with no row in vectors.tsv: {missing:#?}"
    );
    let stale: Vec<&String> = listed.difference(&files).collect();
    assert!(
        stale.is_empty(),
        "rows for files that do not exist: {stale:#?}"
    );
}

#[test]
fn every_row_of_the_table_holds() {
    let rows = table();
    assert!(rows.len() > 269, "the table lost rows");
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            run_row(r)
                .err()
                .map(|e| format!("line {} {} [{} {}]: {e}", r.line, r.path, r.input, r.trust))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The named cases, asserted by name so a table edit cannot quietly drop them.
#[test]
fn the_named_cases_are_in_the_table() {
    let rows = table();
    let has = |path_end: &str, input: &str, trust: &str, verdict: &str, reason: &str| {
        assert!(
            rows.iter().any(|r| r.path.ends_with(path_end)
                && r.input == input
                && r.trust == trust
                && r.verdict == verdict
                && r.reason == reason),
            "no row {path_end} {input} {trust} → {verdict}/{reason}"
        );
    };
    has("example.js.shc.txt", "file", "store", "valid", "ok");
    has(
        "example.js.shc.txt",
        "file",
        "none",
        "unknown-issuer",
        "unknown-issuer",
    );
    has("jpn-triple-vaccine.txt", "file", "store", "valid", "ok");
    has(
        "VDSAuthenticatorTests.vectors.json",
        "json:/validVDSJson",
        "store",
        "valid",
        "ok",
    );
    has(
        "VDSAuthenticatorTests.vectors.json",
        "json:/invalidVDSJson_name_tampered",
        "store",
        "invalid",
        "signature-invalid",
    );
    for n in ["00", "01", "02"] {
        has(
            &format!("example-{n}-e-file.smart-health-card"),
            "file",
            "spec",
            "valid",
            "ok",
        );
    }
    has(
        "example-03-e-file.smart-health-card",
        "file",
        "spec",
        "invalid",
        "revoked",
    );
    has(
        "test-example-00-d-jws-der-signature.txt",
        "file",
        "spec",
        "invalid",
        "signature-not-raw",
    );
    has(
        "test-example-00-g-qr-code-0-bad_qr_version.png",
        "file",
        "spec",
        "invalid",
        "qr-version-too-high",
    );
    // EU DCC: every row runs at the file's VALIDATIONCLOCK with its own DSC, and its verdict is
    // `valid` exactly when EXPECTEDRESULTS are all true (the text row ignores PICTUREDECODE,
    // which only concerns the picture).
    for r in rows.iter().filter(|r| r.path.starts_with("eu-digital")) {
        assert_eq!(r.trust, "ctx", "line {}", r.line);
        assert_eq!(r.at, "ctx", "line {}", r.line);
        let expected = pointer(&vector(&r.path), "/EXPECTEDRESULTS");
        let all_true = expected.as_object().unwrap().iter().all(|(k, v)| {
            v == true || (k == "EXPECTEDPICTUREDECODE" && r.input.starts_with("json:"))
        });
        assert_eq!(
            r.verdict == "valid",
            all_true,
            "line {}: {} {} against EXPECTEDRESULTS {expected}",
            r.line,
            r.path,
            r.input
        );
    }
}
