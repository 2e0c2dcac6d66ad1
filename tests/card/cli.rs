//! The `vaxcert card …` commands as a person runs them.

use std::io::Write;
use std::process::Stdio;

use crate::helpers::{SimCard, VECTORS, vaxcert};

#[test]
fn card_verify_accepts_the_test_card_under_6000033_only() {
    let out = vaxcert()
        .args(["card", "verify", "--dir", VECTORS, "--trust", "6000033"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("黒桐　幹也") && text.contains("********7188"),
        "{text}"
    );
    assert!(
        text.contains("Step 5") && text.contains("skipped"),
        "{text}"
    );
    assert!(!text.contains("537686677188"));

    let out = vaxcert()
        .args(["card", "verify", "--dir", VECTORS, "--trust", "5000033"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("card-ca-untrusted") && err.contains("6000033"),
        "{err}"
    );
}

#[test]
fn card_read_takes_the_pin_on_stdin_and_prints_no_secret() {
    let card = SimCard::insert("yoshi");
    let mut child = vaxcert()
        .args([
            "card",
            "read",
            "--trust",
            "dev",
            "--reader",
            &card.slot.reader_name(),
        ])
        .env("VAXCERT_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"2468\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("𠮷田　一郎"), "{stdout}");
    assert!(stdout.contains("********1234"), "{stdout}");
    for secret in ["345678901234", "2468"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} leaked"
        );
        assert!(
            !card.output().contains(secret),
            "{secret} leaked by card-sim"
        );
    }
}

#[test]
fn card_read_with_a_pin_fd() {
    let card = SimCard::insert("default");
    let pin_file = std::env::temp_dir().join(format!("vx-pin-{}", std::process::id()));
    std::fs::write(&pin_file, "1234\n").unwrap();
    let out = vaxcert()
        .args(["card", "read", "--json", "--trust", "dev", "--pin-fd", "3"])
        .args(["--reader", &card.slot.reader_name()])
        .stdin(Stdio::null())
        .env("VX_PIN_FILE", &pin_file)
        .output_with_fd3(&pin_file);
    std::fs::remove_file(&pin_file).ok();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["name"], "山田　太郎");
    assert_eq!(v["my_number"], "********9018");
}

#[test]
fn a_wrong_pin_on_the_cli_says_how_many_tries_remain() {
    let card = SimCard::insert("default");
    let mut child = vaxcert()
        .args([
            "card",
            "read",
            "--trust",
            "dev",
            "--reader",
            &card.slot.reader_name(),
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"0000\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 tries left") && err.contains("pin-wrong"),
        "{err}"
    );
}

/// Run a command with `path` open on file descriptor 3 (through a shell redirection).
trait WithFd3 {
    fn output_with_fd3(&mut self, path: &std::path::Path) -> std::process::Output;
}

impl WithFd3 for std::process::Command {
    fn output_with_fd3(&mut self, path: &std::path::Path) -> std::process::Output {
        let prog = self.get_program().to_owned();
        let args: Vec<_> = self.get_args().map(|a| a.to_owned()).collect();
        let mut sh = std::process::Command::new("sh");
        sh.arg("-c")
            .arg("f=$1; shift; exec \"$@\" 3<\"$f\"")
            .arg("sh")
            .arg(path)
            .arg(prog)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        sh.output().unwrap()
    }
}
