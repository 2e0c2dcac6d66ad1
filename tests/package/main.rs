//! The Debian package, as an operator gets it: `./vx package` (here with the test build,
//! `--profile dev --no-build`) makes the `.deb`; it is extracted into a temporary root with
//! `dpkg -x`; the packaged `vaxcert verify` answers on Japan's real SHC from `/tmp` (no source
//! tree anywhere near); every unit passes `systemd-analyze verify` and `systemd-analyze
//! security --offline` inside that root; the man pages, completions and example
//! configurations are where Debian looks for them.

use std::path::{Path, PathBuf};
use std::process::Command;

const UNITS: [&str; 4] = [
    "vaxcert-records",
    "vaxcert-app",
    "vaxcert-center",
    "vaxcert-kiosk",
];

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The target folder the test binary was built in (so `./vx package --no-build` packages it).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_vaxcert"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_owned()
}

fn run(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{o}\n{e}");
    (o, e)
}

/// Build the package once and extract it: (the .deb, the root it was extracted into).
fn package(work: &Path) -> (PathBuf, PathBuf) {
    let out = work.join("deb");
    run(Command::new("sh")
        .arg(manifest().join("vx"))
        .args(["package", "--profile", "dev", "--no-build", "--out"])
        .arg(&out)
        .env("CARGO_TARGET_DIR", target_dir()));
    let debs: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "one package: {debs:?}");
    let root = work.join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&debs[0]).arg(&root));
    (debs[0].clone(), root)
}

#[test]
fn the_package_installs_a_verifier_that_works_anywhere_and_units_that_pass_systemd() {
    let work = tempfile::tempdir().unwrap();
    let (deb, root) = package(work.path());
    let vaxcert = root.join("usr/bin/vaxcert");

    // The packaged verifier, run from /tmp, on the Digital Agency's real card.
    let shc =
        manifest().join("../shared/vectors/code4fukui-SMARTHealthCards-es/example.js.shc.txt");
    let (out, _) = run(Command::new(&vaxcert)
        .current_dir("/tmp")
        .arg("verify")
        .arg(&shc));
    assert!(out.starts_with("VALID"), "{out}");
    assert!(
        out.contains("(trust store: デジタル庁 Digital Agency, Japan)"),
        "{out}"
    );
    let (list, _) = run(Command::new(&vaxcert)
        .current_dir("/tmp")
        .args(["trust", "list"]));
    assert!(list.contains("jp-digital-agency"), "{list}");

    // systemd checks every unit inside the extracted root (the host's own units beside them,
    // for the targets they name).
    let units = root.join("lib/systemd/system");
    run(Command::new("cp")
        .args(["-an", "/lib/systemd/system/."])
        .arg(&units));
    for unit in UNITS {
        let text = std::fs::read_to_string(units.join(format!("{unit}.service"))).unwrap();
        let (_, err) = run(Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(format!("--root={}", root.display()))
            .arg(format!("{unit}.service")));
        assert!(err.trim().is_empty(), "{unit}: {err}");
        let (report, _) = run(Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--no-pager", "--threshold=20"])
            .arg(format!("--root={}", root.display()))
            .arg(format!("{unit}.service")));
        let exposure: f64 = report
            .lines()
            .find_map(|l| l.split("exposure level for ").nth(1))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{unit}: no exposure level in\n{report}"));
        assert!(exposure <= 2.0, "{unit}: exposure {exposure}\n{report}");
        for line in [
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "MemoryDenyWriteExecute=yes",
            "SystemCallFilter=@system-service",
        ] {
            assert!(text.lines().any(|l| l == line), "{unit} lacks {line}");
        }
        assert!(
            !text.lines().any(|l| l.starts_with("ReadWritePaths=")),
            "{unit} may write somewhere"
        );
        if unit == "vaxcert-records" {
            assert!(text.contains("StateDirectory=vaxcert"), "{unit}");
        } else {
            // Stores nothing: a dynamic user with no writable path and no state.
            assert!(text.lines().any(|l| l == "DynamicUser=yes"), "{unit}");
            assert!(
                !text.lines().any(|l| l.starts_with("StateDirectory=")),
                "{unit}"
            );
        }
    }

    // Man pages and completions, generated from the CLI, where Debian looks.
    for page in [
        "vaxcert.1",
        "vaxcert-records-serve.1",
        "vaxcert-app-serve.1",
        "vaxcert-center-serve.1",
        "vaxcert-kiosk.1",
        "vaxcert-verify.1",
    ] {
        let text = std::fs::read_to_string(root.join("usr/share/man/man1").join(page)).unwrap();
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}");
    }
    let bash = std::fs::read_to_string(root.join("usr/share/bash-completion/completions/vaxcert"))
        .unwrap();
    assert!(bash.contains("records") && bash.contains("--log-format"));
    assert!(
        root.join("usr/share/zsh/vendor-completions/_vaxcert")
            .exists()
    );
    assert!(
        root.join("usr/share/fish/vendor_completions.d/vaxcert.fish")
            .exists()
    );

    // The example configurations are conffiles, and the stateless roles' ones check.
    let control = work.path().join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    run(Command::new("sh").arg("-n").arg(control.join("postinst")));
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(postinst.contains("adduser --system"), "{postinst}");
    for role in ["records", "app", "center", "kiosk"] {
        let path = format!("/etc/vaxcert/{role}.toml");
        assert!(conffiles.lines().any(|l| l == path), "{conffiles}");
        assert!(root.join(&path[1..]).exists());
    }
    for role in ["app", "center", "kiosk"] {
        let (out, _) = run(Command::new(&vaxcert)
            .current_dir("/tmp")
            .args(["config", "check"])
            .arg(root.join(format!("etc/vaxcert/{role}.toml"))));
        assert!(out.contains("configuration: OK"), "{out}");
    }
}
