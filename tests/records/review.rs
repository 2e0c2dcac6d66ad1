//! Records that change after issuance: a dose corrected by re-import or deleted (its own
//! audited action; an import never deletes), a resident marked 転出 — the certificates issued
//! from the old data are listed, and revoked in one step (CRL and audit updated).

use std::sync::Arc;

use vaxcert::card::challenge::Challenges;
use vaxcert::domain::{Channel, Kind};
use vaxcert::issuance::review::{Why, revoke_stale, stale_certificates};
use vaxcert::issuance::{IssuanceSettings, IssueFor};
use vaxcert::records::{AtenaNo, Error};

use crate::helpers::*;

async fn certificates_from_changed_records_are_listed_and_revoked_in_one_step(b: Backend) {
    let (db, r) = with_municipalities(b).await;
    let chiyoda = code(CHIYODA);
    r.import_targets(TARGETS.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();
    r.import_vaccinations(DOSES.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();
    let r = Arc::new(r);
    let publication = tempfile::tempdir().unwrap();
    let service = vaxcert::dev::issuance_service(
        r.clone(),
        Challenges::new(vaxcert::dev::challenge_key().unwrap(), 120),
        vaxcert::dev::trust_set("dev").unwrap(),
        db.clock.clone(),
        IssuanceSettings {
            challenge_ttl_secs: 120,
            token_ttl_secs: 120,
            publication_dir: publication.path().to_owned(),
            pdf: false,
        },
    )
    .unwrap();
    let issue = |atena: &str| IssueFor {
        municipality: chiyoda.clone(),
        atena: AtenaNo::parse(atena).unwrap(),
        kind: Kind::Domestic,
        passport: None,
        channel: Channel::Counter,
        actor: "staff:131016/test".into(),
        card_key_digest: None,
    };
    let first = service.issue_for_resident(issue("1001")).await.unwrap();
    let second = service.issue_for_resident(issue("1002")).await.unwrap();
    assert!(stale_certificates(&r, &chiyoda).await.unwrap().is_empty());

    // Re-importing the same file changes nothing a certificate says.
    r.import_vaccinations(DOSES.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();
    assert!(stale_certificates(&r, &chiyoda).await.unwrap().is_empty());

    // A corrected lot for 1001, then 1002 marked 転出.
    let corrected = DOSES.replace("FC3661", "FC3662");
    r.import_vaccinations(corrected.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();
    let moved = TARGETS.replace("0000000002,\n", "0000000002,1\n");
    r.import_targets(moved.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();
    let stale = stale_certificates(&r, &chiyoda).await.unwrap();
    let got: Vec<(&str, Why)> = stale
        .iter()
        .map(|s| (s.certificate_id.as_str(), s.why))
        .collect();
    assert_eq!(
        got,
        [
            (first.certificate_id.as_str(), Why::RecordChanged),
            (second.certificate_id.as_str(), Why::MovedOut)
        ]
    );

    // Deleting a dose is its own action, with a reason, audited; an unknown dose is refused.
    let atena = AtenaNo::parse("1001").unwrap();
    let e = r
        .delete_dose(&chiyoda, &atena, 7, "entered twice", "staff:131016/test")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
    r.delete_dose(&chiyoda, &atena, 2, "entered twice", "staff:131016/test")
        .await
        .unwrap();
    let deletions = db
        .scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'dose-deletion' AND subject = '1001'",
        )
        .await;
    assert_eq!(deletions, 1);
    assert_eq!(stale_certificates(&r, &chiyoda).await.unwrap().len(), 2);

    // One step revokes both, each audited with its reason, each rid in the CRL.
    let done = revoke_stale(
        &r,
        &chiyoda,
        "records corrected",
        "staff:131016/admin",
        publication.path(),
    )
    .await
    .unwrap();
    assert_eq!(done.len(), 2);
    let kid = &done[0].1.kid;
    let crl: serde_json::Value = serde_json::from_slice(
        &std::fs::read(publication.path().join(format!("crl/{kid}.json"))).unwrap(),
    )
    .unwrap();
    for (_, rev) in &done {
        assert!(crl["rids"].to_string().contains(&rev.rid), "{crl}");
    }
    let reasons = db
        .scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'revocation-reason' \
             AND outcome LIKE 'records corrected (%'",
        )
        .await;
    assert_eq!(reasons, 2);
    assert!(stale_certificates(&r, &chiyoda).await.unwrap().is_empty());
    r.verify_audit().await.unwrap();
}
both!(certificates_from_changed_records_are_listed_and_revoked_in_one_step);
