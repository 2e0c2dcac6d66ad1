//! The kiosk's edge cases in real Chromium with the virtual card in a vpcd reader: a locked
//! card sends the resident to the municipality, a card pulled mid-flow restarts the flow
//! cleanly, and 60 s without a touch returns to the start (the page's clock is faked, so
//! nothing here waits or times anything).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::e2e::{center, records};
use crate::helpers::{SimCard, kiosk, require_browser, run_browser, slot, tmpdir};

/// The stack for one scenario: records, center, the agent and `persona`'s card.
struct Kiosk {
    _procs: Vec<crate::helpers::Proc>,
    url: String,
    card: SimCard,
    _dir: tempfile::TempDir,
}

fn kiosk_with(persona: &str) -> Kiosk {
    let dir = tmpdir();
    let print = dir.path().join("print");
    std::fs::create_dir_all(&print).unwrap();
    let (r, records_url) = records(dir.path());
    let (c, center_url) = center(&records_url);
    let s = slot();
    let reader = s.reader_name();
    let card = SimCard::insert(persona, s);
    let (agent, url) = kiosk(&center_url, &print, &reader);
    Kiosk {
        _procs: vec![agent, c, r],
        url,
        card,
        _dir: dir,
    }
}

#[test]
fn a_locked_card_sends_the_resident_to_the_municipality() {
    let k = kiosk_with("locked");
    let (ok, seen, raw) = run_browser(
        "kiosk-edges.mjs",
        &[
            ("KIOSK_URL", &k.url),
            ("SCENARIO", "locked"),
            ("MUNICIPALITY", "131016"),
        ],
    );
    assert!(ok, "{raw}");
    let error = seen["error"].as_str().unwrap();
    assert!(
        error.contains("市区町村の窓口") && error.contains("municipality"),
        "{error}"
    );
}

#[test]
fn a_card_pulled_mid_flow_restarts_cleanly() {
    require_browser();
    let mut k = kiosk_with("default");
    let mut node = Command::new("node")
        .arg("kiosk-edges.mjs")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser"))
        .envs([
            ("KIOSK_URL", k.url.as_str()),
            ("SCENARIO", "pulled"),
            ("MUNICIPALITY", "131016"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node is installed (./vx setup)");
    let mut stdin = node.stdin.take().unwrap();
    let mut last = String::new();
    for line in BufReader::new(node.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line == "pull-card" {
            k.card.pull_out();
            writeln!(stdin, "pulled").unwrap();
        } else {
            last = line;
        }
    }
    assert!(node.wait().unwrap().success(), "{last}");
    let seen: Value = serde_json::from_str(&last).unwrap();
    assert!(
        seen["error"]
            .as_str()
            .unwrap()
            .contains("The card was removed"),
        "{seen}"
    );
    assert_eq!(seen["pinCleared"], true, "{seen}");
    assert_eq!(seen["restarted"], true, "{seen}");
}

#[test]
fn sixty_seconds_idle_return_to_the_start() {
    let k = kiosk_with("default");
    let (ok, seen, raw) = run_browser(
        "kiosk-edges.mjs",
        &[("KIOSK_URL", &k.url), ("SCENARIO", "idle")],
    );
    assert!(ok, "{raw}");
    assert_eq!(seen["after59s"], "terms", "{seen}");
    assert_eq!(seen["after61s"], "start", "{seen}");
}
