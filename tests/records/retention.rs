//! Retention and deletion: a resident past the records period is deleted by their own
//! municipality alone (個人番号 hash and ciphertext gone with the record and doses), old
//! issuance history goes, each deletion audited; aged audit entries move to CSV sealed by their
//! checkpoint and `audit verify` passes over the archive and the live chain; checkpoints copied
//! outside the database catch a deleted checkpoint.

use std::path::PathBuf;

use vaxcert::domain::{Channel, Kind};
use vaxcert::records::{AtenaNo, Error, NewIssuance, Policy, Records, Role};

use crate::helpers::*;

const YEAR: i64 = 366 * 86_400;

fn dir(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("retention")
        .join(format!(
            "{name}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn policy(d: &std::path::Path, text: &str) -> Result<Policy, Error> {
    let p = d.join("retention.toml");
    std::fs::write(&p, text).unwrap();
    Policy::load(&p)
}

const POLICY: &str = "records_years = 5\nissuance_years = 5\naudit_years = 5\narchive_dir = \"archive\"\n\n[municipality.401307]\nrecords_years = 10\n";

async fn a_resident_past_retention_is_deleted_by_their_municipality_alone(b: Backend) {
    let d = dir("apply");
    for (bad, says) in [
        (
            "records_years = 4\nissuance_years = 5\naudit_years = 5\narchive_dir = \"a\"\n",
            "at least 5 years",
        ),
        (
            "records_years = 5\nissuance_years = 0\naudit_years = 5\narchive_dir = \"a\"\n",
            "issuance_years",
        ),
        (
            "records_years = 5\nissuance_years = 5\naudit_years = 5\narchive_dir = \"a\"\n[municipality.131017]\nrecords_years = 6\n",
            "131017",
        ),
        (
            "records_years = 5\nissuance_years = 5\naudit_years = 5\narchive_dir = \"a\"\n[municipality.131016]\nrecords_years = 3\n",
            "municipality.131016.records_years is 3",
        ),
    ] {
        let e = policy(&d, bad).unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
    }
    let policy = policy(&d, POLICY).unwrap();
    assert_eq!(policy.periods(&code(FUKUOKA)).records_years, 10);

    let (db, r) = {
        let db = TestDb::new(b).await;
        let mut s = db.settings();
        s.checkpoint_copy = Some(d.join("checkpoints.jsonl"));
        let r = Records::open(&s, db.clock.clone()).await.unwrap();
        for (m, n) in [(CHIYODA, "千代田区"), (FUKUOKA, "福岡市")] {
            r.add_municipality(&code(m), n, true).await.unwrap();
        }
        (db, r)
    };
    seed_chiyoda(&r).await;
    // 1002 moves out now; 1001 stays.
    r.import_targets(
        "1002,456789012346,佐藤,美咲,サトウ,ミサキ,19880310,2,0000000002,1\n".as_bytes(),
        &code(CHIYODA),
        "test",
        &|_| {},
    )
    .await
    .unwrap();
    let issued = r
        .record_issuance(
            &code(CHIYODA),
            &AtenaNo::parse("1001").unwrap(),
            &NewIssuance {
                channel: Channel::Counter,
                kind: Kind::Domestic,
                passport: None,
                key_id: "kid".into(),
                rid: "rid".into(),
                card_key_digest: None,
                content_digest: None,
            },
            "counter",
        )
        .await
        .unwrap();

    // Four years on, nothing is due.
    db.clock.advance(4 * YEAR);
    assert_eq!(
        r.retention_due(&code(CHIYODA), &policy).await.unwrap(),
        Default::default()
    );
    // Six years on: 1002 and the old issuance are due in 千代田区.
    db.clock.advance(2 * YEAR);
    let now = NOW.plus(6 * YEAR);
    let due = r.retention_due(&code(CHIYODA), &policy).await.unwrap();
    assert_eq!(due.residents, ["1002"]);
    assert_eq!(due.issuances, [issued.id.as_str()]);

    // Not a clerk; not another municipality's admin (it deletes only its own).
    let clerk = staff_session(&r, CHIYODA, "clerk1", Role::Clerk, now).await;
    assert!(matches!(
        r.apply_retention(&clerk, &policy).await,
        Err(Error::Forbidden)
    ));
    let fukuoka = staff_session(&r, FUKUOKA, "admin2", Role::Admin, now).await;
    let none = r.apply_retention(&fukuoka, &policy).await.unwrap();
    assert!(none.residents.is_empty() && none.issuances.is_empty());
    assert_eq!(r.retention_due(&code(CHIYODA), &policy).await.unwrap(), due);

    let admin = staff_session(&r, CHIYODA, "admin1", Role::Admin, now).await;
    let done = r.apply_retention(&admin, &policy).await.unwrap();
    assert_eq!(done, due);
    assert!(
        r.record_by_atena(&code(CHIYODA), &AtenaNo::parse("1002").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    for sql in [
        "SELECT COUNT(*) FROM resident_mynumber WHERE atena = '1002'",
        "SELECT COUNT(*) FROM vaccination WHERE atena = '1002'",
        "SELECT COUNT(*) FROM issuance",
        "SELECT COUNT(*) FROM certificate_id",
    ] {
        assert_eq!(db.scalar(sql).await, 0, "{sql}");
    }
    assert_eq!(db.scalar("SELECT COUNT(*) FROM resident").await, 3);
    let tail = r.audit_tail(30).await.unwrap();
    assert!(tail.iter().any(|e| e.action == "retention-delete-resident"
        && e.subject.as_deref() == Some("1002")
        && e.actor == "staff:131016/admin1"
        && e.outcome == "ok records_years=5"));
    assert!(tail.iter().any(|e| e.action == "retention-delete-issuance"
        && e.subject.as_deref() == Some(issued.id.as_str())));

    // The audit archive: entries from six years ago leave the database, sealed by their
    // checkpoint; the chain verifies live and across the archive.
    let before = r.verify_audit().await.unwrap();
    // The daily task of `records serve`: nothing more to delete anywhere, then the archive.
    let (done, archived) = r.retention_daily(&policy).await.unwrap();
    assert!(done.is_empty(), "{done:?}");
    let a = archived.expect("old entries to archive");
    assert_eq!(a.first, 1);
    let left = db.scalar("SELECT COUNT(*) FROM audit_log").await;
    assert!(left > 0 && left < before.entries + 1, "{left}");
    r.verify_audit().await.unwrap();
    let all = r
        .verify_audit_with_archive(&policy.archive_dir)
        .await
        .unwrap();
    assert!(all.entries > before.entries);
    let csv = std::fs::read_to_string(&a.file).unwrap();
    assert!(csv.starts_with(
        "seq,at,actor,municipality,action,has_subject,subject,outcome,prev_hash,hash\n"
    ));
    assert!(!csv.contains("456789012346"), "no MyNumber in the archive");

    // An altered archive row is found.
    std::fs::write(&a.file, csv.replacen("import-targets", "import-targetz", 1)).unwrap();
    let e = r
        .verify_audit_with_archive(&policy.archive_dir)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AuditBroken { .. }), "{e}");
    std::fs::write(&a.file, &csv).unwrap();

    // A checkpoint deleted from the database is caught by its copy outside.
    r.checkpoint_head().await.unwrap();
    db.exec("DELETE FROM audit_checkpoint WHERE seq = (SELECT MAX(seq) FROM audit_checkpoint)")
        .await;
    let e = r.verify_audit().await.unwrap_err();
    assert!(e.to_string().contains("its copy outside has it"), "{e}");
}
both!(a_resident_past_retention_is_deleted_by_their_municipality_alone);
