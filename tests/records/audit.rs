//! The audit log: tampering and tail truncation are both detected, by the library and by
//! `vaxcert records audit verify`.

use vaxcert::domain::Channel;
use vaxcert::records::Error;

use crate::helpers::*;

async fn tampering_and_truncation_are_detected(b: Backend) {
    let (db, r) = with_municipalities(b).await;
    seed_chiyoda(&r).await;
    let id = identity(&r, "default", CHIYODA, Channel::App).await;
    r.lookup_for_issuance(&id, &code(CHIYODA), Channel::App)
        .await
        .unwrap();
    r.close().await.unwrap();
    let r = db.open().await;
    let rep = r.verify_audit().await.unwrap();
    assert_eq!(rep.unsealed, 0, "close() seals the head");
    let entries = rep.entries;
    assert!(entries >= 6, "{rep:?}");
    let out = vaxcert()
        .args([
            "records",
            "--dev",
            "--database-url",
            &db.url,
            "audit",
            "verify",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit log intact"));

    // Tampering: change one outcome in the middle.
    db.exec("UPDATE audit_log SET outcome = 'ok-edited' WHERE seq = 3")
        .await;
    match r.verify_audit().await {
        Err(Error::AuditBroken { seq: 3, .. }) => {}
        other => panic!("{other:?}"),
    }
    let out = vaxcert()
        .args([
            "records",
            "--dev",
            "--database-url",
            &db.url,
            "audit",
            "verify",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken at entry 3") && err.contains("[audit-broken]"),
        "{err}"
    );
    r.close().await.unwrap();

    // A fresh log: truncating the tail after the shutdown checkpoint is detected.
    let (db, r) = with_municipalities(b).await;
    seed_chiyoda(&r).await;
    r.close().await.unwrap();
    let r = db.open().await;
    let last = r.verify_audit().await.unwrap().entries;
    db.exec(&format!("DELETE FROM audit_log WHERE seq >= {}", last - 1))
        .await;
    match r.verify_audit().await {
        Err(Error::AuditTruncated {
            last: l,
            checkpoint,
        }) => {
            assert_eq!((l, checkpoint), (last - 2, last));
        }
        other => panic!("{other:?}"),
    }
    let out = vaxcert()
        .args([
            "records",
            "--dev",
            "--database-url",
            &db.url,
            "audit",
            "verify",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("[audit-truncated]"));
    // Removing an entry in the middle is a broken link.
    let (db, r) = with_municipalities(b).await;
    seed_chiyoda(&r).await;
    db.exec("DELETE FROM audit_log WHERE seq = 2").await;
    assert!(matches!(
        r.verify_audit().await,
        Err(Error::AuditBroken { seq: 2, .. })
    ));
}
both!(tampering_and_truncation_are_detected);

async fn every_kind_of_action_is_logged_without_secrets(b: Backend) {
    let (_db, r) = with_municipalities(b).await;
    seed_chiyoda(&r).await;
    let id = identity(&r, "default", CHIYODA, Channel::App).await;
    let _ = r
        .lookup_for_issuance(&id, &code(CHIYODA), Channel::App)
        .await;
    let tail = r.audit_tail(1000).await.unwrap();
    let actions: Vec<&str> = tail.iter().map(|e| e.action.as_str()).collect();
    for a in [
        "municipality-add",
        "import-targets",
        "import-vaccinations",
        "lookup",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    let text = format!("{tail:?}");
    assert!(!text.contains("123456789018"));
}
both!(every_kind_of_action_is_logged_without_secrets);

async fn two_writers_on_one_database_never_fork(b: Backend) {
    let (db, r1) = with_municipalities(b).await;
    let r2 = db.open().await;
    // Each writer's cached head goes stale as the other appends; both keep one chain.
    for i in 0..6 {
        let (w, other) = if i % 2 == 0 { (&r1, &r2) } else { (&r2, &r1) };
        w.import_targets(TARGETS.as_bytes(), &code(CHIYODA), "w", &|_| {})
            .await
            .unwrap();
        let chiyoda = code(CHIYODA);
        let (a, b2) = tokio::join!(
            other.import_vaccinations(DOSES.as_bytes(), &chiyoda, "x", &|_| {}),
            w.checkpoint_head()
        );
        a.unwrap();
        b2.unwrap();
    }
    let rep = r1.verify_audit().await.unwrap();
    assert_eq!(rep.entries, 3 + 12);
    r2.close().await.unwrap();
    r1.close().await.unwrap();
}
both!(two_writers_on_one_database_never_fork);

/// Two records replicas over one PostgreSQL append at once, audit entries alone and inside the
/// issuance statement: one chain with every entry, no fork, no gap, and `verify` passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_append_one_chain() {
    use std::sync::Arc;
    use vaxcert::domain::Kind;
    use vaxcert::records::{AtenaNo, AuditEntry, NewIssuance};
    let (db, first) = with_municipalities(Backend::Postgres).await;
    seed_chiyoda(&first).await;
    let before = first.verify_audit().await.unwrap().entries;
    let replicas = [Arc::new(first), Arc::new(db.open().await)];
    let mut tasks = Vec::new();
    for i in 0..40 {
        let r = replicas[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            if i % 4 < 2 {
                r.audit(&AuditEntry::system(
                    &format!("replica-{}", i % 2),
                    &code(CHIYODA),
                    "search",
                    None,
                    "ok",
                ))
                .await
                .map(|_| ())
            } else {
                let new = NewIssuance {
                    channel: Channel::App,
                    kind: Kind::Domestic,
                    passport: None,
                    key_id: "k".into(),
                    rid: "r".into(),
                    card_key_digest: None,
                    content_digest: None,
                };
                r.record_issuance(
                    &code(CHIYODA),
                    &AtenaNo::parse("1001").unwrap(),
                    &new,
                    "app",
                )
                .await
                .map(|_| ())
            }
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let rep = replicas[1].verify_audit().await.unwrap();
    assert_eq!(rep.entries, before + 40, "{rep:?}");
    let issued = replicas[0].audit_tail(40).await.unwrap();
    assert_eq!(issued.iter().filter(|e| e.action == "issuance").count(), 20);
}
