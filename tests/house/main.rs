//! The house rules of DESIGN §2, checked on the source tree so a change that breaks them fails
//! CI: the rooms import only downwards (no circle between top-level modules), the record system
//! never signs and renders no HTML, only the issuance room holds signing keys, and no
//! production path reaches the dev material.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, with its top-level module and its text without comments.
fn sources() -> Vec<(String, PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap();
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            let text: String = std::fs::read_to_string(&p)
                .unwrap()
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            (top, rel.to_owned(), text)
        })
        .collect()
}

/// The top-level modules each top-level module names through `crate::`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (top, _, text) in sources() {
        if top == "main" || top == "lib" {
            continue;
        }
        let entry = graph.entry(top.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != top {
                entry.insert(name);
            }
        }
    }
    graph
}

#[test]
fn no_import_circle_between_rooms() {
    let graph = imports();
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = graph[start].iter().collect();
        while let Some(m) = stack.pop() {
            assert!(
                m != start,
                "import circle through {start}: it reaches itself ({graph:#?})"
            );
            if seen.insert(m.clone()) {
                stack.extend(graph.get(m).into_iter().flatten());
            }
        }
    }
}

#[test]
fn the_record_system_stores_only() {
    for (top, path, text) in sources() {
        if top != "records" {
            continue;
        }
        // The audit checkpoint key is the record system's own (DESIGN §4); certificate keys
        // are pki::Signers, which only issuance/ holds.
        for banned in [
            "crate::pki",
            "crate::issuance",
            "crate::counter",
            "crate::formats",
            "minijinja",
            "Html",
        ] {
            assert!(
                !text.contains(banned),
                "src/{} names {banned}: records is storage only",
                path.display()
            );
        }
    }
}

#[test]
fn only_the_issuance_room_holds_signing_keys() {
    // pki defines the trait, formats signs through it, dev loads the dev keys, and the command
    // line (the composition root) asks issuance/ to load them for `records serve` and `issue`.
    let allowed = ["issuance", "pki", "formats", "dev", "cli"];
    for (top, path, text) in sources() {
        if allowed.contains(&top.as_str()) {
            continue;
        }
        for banned in [
            "pki::Signer",
            "FileSigner",
            "SigningKeys::load",
            "PdfSigner::",
        ] {
            assert!(
                !text.contains(banned),
                "src/{} names {banned}: only issuance/ holds signers",
                path.display()
            );
        }
    }
}

#[test]
fn production_paths_never_reach_denylist() {
    // A role's cli.rs may reach dev material behind its --dev switch; nothing else may.
    let production = [
        "app", "center", "kiosk", "counter", "records", "issuance", "card", "protocol", "formats",
        "pki", "http", "verify",
    ];
    for (top, path, text) in sources() {
        // pki/denylist.rs hashes the dev secrets so that production can refuse them.
        if !production.contains(&top.as_str())
            || path.ends_with("cli.rs")
            || path.ends_with("denylist.rs")
        {
            continue;
        }
        for banned in ["crate::dev", "certs/dev"] {
            assert!(
                !text.contains(banned),
                "src/{} names {banned}: production paths take their keys from settings",
                path.display()
            );
        }
    }
}
