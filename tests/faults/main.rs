//! Records at scale under faults (short and bounded, loopback only): `vaxcert bench faults`
//! drives two app gateways → two records replicas → a PostgreSQL primary with a synchronous hot
//! standby (the pair `./vx test` starts), while it `kill -9`s one replica, restarts the primary
//! and promotes the standby. This test then checks the tool's ledger against the database that
//! is primary at the end, on its own: every certificate a client received is in `issuance`
//! exactly once with its audit entry, no certificate ID came twice, no issuance row exists
//! without a request that was answered or failed, `audit verify` passes, and issuance resumed
//! on the promoted standby. The error windows are printed.

use std::collections::HashMap;
use std::process::Command;

use sqlx::Connection;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests through `./vx test` (or `./vx postgres cargo \
             nextest run …`), which starts a PostgreSQL primary and hot standby for this test"
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_issuance_is_lost_or_doubled_through_a_replica_kill_a_primary_restart_and_a_failover() {
    let work = tempfile::tempdir().unwrap();
    let standby_url = env("VAXCERT_TEST_PG_STANDBY_URL");
    let out = Command::new(env!("CARGO_BIN_EXE_vaxcert"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["bench", "faults", "--duration", "30", "--concurrency", "4"])
        .args(["--primary-url", &env("VAXCERT_TEST_PG_PRIMARY_URL")])
        .args(["--standby-url", &standby_url])
        .args(["--primary-data", &env("VAXCERT_TEST_PG_PRIMARY_DATA")])
        .args(["--standby-data", &env("VAXCERT_TEST_PG_STANDBY_DATA")])
        .args(["--pg-bin", &env("VAXCERT_TEST_PG_BIN")])
        .arg("--work-dir")
        .arg(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The ledger: what the clients were answered.
    let ledger = std::fs::read_to_string(work.path().join("ledger.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = ledger
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut received: HashMap<String, u32> = HashMap::new();
    let mut unknown = 0;
    for e in &entries {
        match e["certificate_id"].as_str() {
            Some(id) => *received.entry(id.to_owned()).or_default() += 1,
            None if e["outcome"].as_str().unwrap().starts_with("certificate:") => unknown += 1,
            None => {}
        }
    }
    assert!(
        received.len() > 50,
        "too few issuances to say anything: {stdout}"
    );
    assert!(
        received.values().all(|n| *n == 1),
        "a certificate ID was received twice"
    );

    // The database the stack ends on: the promoted standby.
    let mut db = sqlx::PgConnection::connect(&standby_url).await.unwrap();
    let recovering: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert!(!recovering, "the standby was promoted");
    let rows: Vec<String> = sqlx::query_scalar("SELECT certificate_id FROM issuance")
        .fetch_all(&mut db)
        .await
        .unwrap();
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'issuance'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    let mut in_db: HashMap<&str, u32> = HashMap::new();
    for id in &rows {
        *in_db.entry(id).or_default() += 1;
    }
    for id in received.keys() {
        assert_eq!(
            in_db.get(id.as_str()),
            Some(&1),
            "{id} received, not recorded once"
        );
    }
    let unanswered = in_db
        .keys()
        .filter(|id| !received.contains_key(**id))
        .count();
    assert!(
        unanswered <= unknown,
        "{unanswered} issuance rows nobody was answered for, {unknown} requests of unknown outcome"
    );
    assert_eq!(
        audited,
        rows.len() as i64,
        "every issuance row has its audit entry"
    );

    let verify = Command::new(env!("CARGO_BIN_EXE_vaxcert"))
        .args([
            "records",
            "--dev",
            "--database-url",
            &standby_url,
            "audit",
            "verify",
        ])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["rows_lost"], 0, "{report}");
    assert_eq!(report["rows_doubled"], 0, "{report}");
    assert!(report["after_failover"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["windows"].as_array().unwrap().len(), 3);
}
