//! `vaxcert records …` from outside: municipality add (check digit), imports, staff add, seed.

use crate::helpers::*;

fn run(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    let out = vaxcert()
        .args(["records", "--dev", "--database-url", &db.url])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn the_records_cli_end_to_end(b: Backend) {
    let db = TestDb::new(b).await;
    let (ok, _, err) = run(&db, &["municipality", "add", "131017", "千代田区"]);
    assert!(!ok && err.contains("check digit"), "{err}");
    let (ok, out, err) = run(
        &db,
        &["municipality", "add", "131016", "千代田区", "--kiosk"],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("131016 千代田区 added (kiosk issuance: yes)"),
        "{out}"
    );
    let (ok, _, err) = run(&db, &["municipality", "add", "131016", "千代田区"]);
    assert!(!ok && err.contains("[municipality-exists]"), "{err}");
    if b == Backend::Postgres {
        // LIST partitions of the three per-municipality tables.
        let n = db
            .scalar(
                "SELECT COUNT(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                 JOIN pg_class p ON p.oid = i.inhparent \
                 WHERE c.relname IN ('resident_131016', 'vaccination_131016', 'issuance_131016') \
                 AND p.relname IN ('resident', 'vaccination', 'issuance')",
            )
            .await;
        assert_eq!(n, 3);
    }

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli-{}",
        db.url.len() + std::process::id() as usize
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let targets = dir.join(format!("targets-{b:?}.csv"));
    std::fs::write(
        &targets,
        encoding_rs::SHIFT_JIS
            .encode(&TARGETS.replace("𠮷", "吉"))
            .0,
    )
    .unwrap();
    let t = targets.to_str().unwrap();
    let (ok, out, err) = run(&db, &["import-targets", t, "--municipality", "131016"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("imported 4 targets into 131016: 4 new, 0 updated"),
        "{out}"
    );
    let doses = dir.join(format!("doses-{b:?}.csv"));
    std::fs::write(&doses, DOSES).unwrap();
    let (ok, out, err) = run(
        &db,
        &[
            "import-vaccinations",
            doses.to_str().unwrap(),
            "--municipality",
            "131016",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("imported 5 vaccinations"), "{out}");
    std::fs::write(&doses, DOSES.replace("FC3661", "FC 3661")).unwrap();
    let (ok, _, err) = run(
        &db,
        &[
            "import-vaccinations",
            doses.to_str().unwrap(),
            "--municipality",
            "131016",
        ],
    );
    assert!(
        !ok && err.contains("line 2, column 5 (ロット番号)") && err.contains("[import-invalid]"),
        "{err}"
    );

    let (ok, out, err) = run(
        &db,
        &[
            "staff",
            "add",
            "--municipality",
            "131016",
            "--role",
            "clerk",
            "alice",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("otpauth://totp/vaxcert:131016%2Falice?secret="),
        "{out}"
    );
    // The operator's staff commands: role, disable, TOTP reset, the list.
    let m = ["--municipality", "131016"];
    for (args, says) in [
        (
            vec!["staff", "role", "--role", "auditor", "alice"],
            "staff alice of 131016: role auditor",
        ),
        (
            vec!["staff", "disable", "alice"],
            "staff alice of 131016: disabled",
        ),
        (
            vec!["staff", "reset-totp", "alice"],
            "otpauth://totp/vaxcert:131016%2Falice?secret=",
        ),
        (
            vec!["staff", "unlock", "alice"],
            "staff alice of 131016: unlocked",
        ),
    ] {
        let mut a = args.clone();
        a.splice(2..2, m);
        let (ok, out, err) = run(&db, &a);
        assert!(ok && out.contains(says), "{a:?}: {out}{err}");
    }
    let (ok, out, err) = run(&db, &["staff", "list", "--municipality", "131016"]);
    assert!(ok, "{err}");
    assert!(out.contains("alice\tauditor\tyes\t"), "{out}");
    let (ok, _, err) = run(&db, &["staff", "enable", "--municipality", "131016", "bob"]);
    assert!(!ok && err.contains("[staff-not-found]"), "{err}");
    // Statistics: no issuance yet, the header only; JSON with the threshold.
    let (ok, out, err) = run(&db, &["stats"]);
    assert!(ok, "{err}");
    assert_eq!(out, "municipality,day,channel,kind,issued,revoked\n");
    let (ok, out, err) = run(&db, &["stats", "--format", "json", "--threshold", "5"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v, serde_json::json!({"threshold": 5, "rows": []}));
    let (ok, out, err) = run(
        &db,
        &["stats", "--from", "2026-12-01", "--to", "2026-12-31"],
    );
    assert!(ok && out.starts_with("municipality,"), "{out}{err}");
    let (ok, _, err) = run(&db, &["stats", "--from", "2026-02-30"]);
    assert!(!ok && err.contains("not a date"), "{err}");
    // Retention: 1004 marked 死亡 seven years ago (its record's change time moved back, as the
    // CLI runs on the real clock) is due and deleted; nothing is old enough to archive.
    let policy = dir.join(format!("retention-{b:?}.toml"));
    std::fs::write(
        &policy,
        "records_years = 5\nissuance_years = 5\naudit_years = 5\narchive_dir = \"archive\"\n",
    )
    .unwrap();
    let pol = policy.to_str().unwrap();
    let retention = |what: &str| {
        run(
            &db,
            &[
                "retention",
                what,
                "--policy",
                pol,
                "--municipality",
                "131016",
            ],
        )
    };
    std::fs::write(
        &targets,
        "1004,234567890121,鈴木,花子,スズキ,ハナコ,19920715,2,0000000004,2\n",
    )
    .unwrap();
    let (ok, _, err) = run(&db, &["import-targets", t, "--municipality", "131016"]);
    assert!(ok, "{err}");
    let (ok, out, err) = retention("due");
    assert!(
        ok && out.contains("131016: 0 resident(s), 0 issuance(s) due"),
        "{out}{err}"
    );
    db.exec("UPDATE resident SET updated_at = updated_at - 7 * 366 * 86400 WHERE atena = '1004'")
        .await;
    let (ok, out, err) = retention("due");
    assert!(
        ok && out.contains("resident 1004 due (records_years=5)"),
        "{out}{err}"
    );
    let (ok, out, err) = retention("apply");
    assert!(
        ok && out.contains("resident 1004 deleted (records_years=5)"),
        "{out}{err}"
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM resident_mynumber WHERE atena = '1004'")
            .await,
        0
    );
    let (ok, out, err) = run(&db, &["audit", "archive", "--policy", pol]);
    assert!(
        ok && out.contains("no audit entries older than 5 years"),
        "{out}{err}"
    );
    let archive = dir.join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    let (ok, out, err) = run(
        &db,
        &["audit", "verify", "--archive", archive.to_str().unwrap()],
    );
    assert!(ok && out.contains("audit log intact"), "{out}{err}");
    // Checkpoints copied outside the database: a deleted one is caught.
    let copy = dir.join(format!("checkpoints-{b:?}.jsonl"));
    let c = copy.to_str().unwrap();
    // Each run audits one entry (`stats`) and seals the head at its close.
    for _ in 0..2 {
        let (ok, _, err) = run(&db, &["--checkpoint-copy", c, "stats"]);
        assert!(ok, "{err}");
    }
    assert!(std::fs::read_to_string(&copy).unwrap().lines().count() >= 1);
    db.exec("DELETE FROM audit_checkpoint WHERE seq = (SELECT MAX(seq) FROM audit_checkpoint)")
        .await;
    let (ok, _, err) = run(&db, &["--checkpoint-copy", c, "audit", "verify"]);
    assert!(
        !ok && err.contains("its copy outside has it") && err.contains("[audit-broken]"),
        "{err}"
    );
    // Without the copy, the deleted newest checkpoint leaves a log that still verifies.
    let (ok, out, _) = run(&db, &["audit", "verify"]);
    assert!(ok && out.contains("audit log intact"), "{out}");
    // The demo data, on its own database (its residents are the same personas).
    let demo = TestDb::new(b).await;
    let (ok, out, err) = run(&demo, &["seed-demo"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("271004 大阪市 (kiosk: no)") && out.contains("TOTP secret"),
        "{out}"
    );
    let (ok, out, _) = run(&demo, &["audit", "verify"]);
    assert!(ok && out.contains("audit log intact"), "{out}");
    for stream in [out, err] {
        assert!(!stream.contains("123456789018"));
    }
}
both!(the_records_cli_end_to_end);
