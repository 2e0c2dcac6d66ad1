//! Records bench (never run by the tests): import rows per second on a generated
//! 1,000,000-row target CSV, and lookup-for-issuance p50/p99 at 1,000,000 residents, on SQLite
//! and on PostgreSQL.
//!
//! ```sh
//! ./vx postgres cargo bench --bench records          # both backends
//! cargo bench --bench records                        # SQLite only (no cluster running)
//! VAXCERT_BENCH_ROWS=100000 cargo bench --bench records
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use vaxcert::card::challenge::{Binding, Challenges, sha256_digest_info};
use vaxcert::card::{CardEvidence, verify_evidence};
use vaxcert::card_sim::Persona;
use vaxcert::card_sim::image::CardImage;
use vaxcert::clock::{FixedClock, UnixTime};
use vaxcert::dev::{self, card::DevIssuer};
use vaxcert::domain::{Channel, Kind, MunicipalityCode};
use vaxcert::records::{Records, RecordsSettings};

const NOW: UnixTime = UnixTime(1_800_000_000);
const LOOKUPS: usize = 2000;

fn check_digit(d: &[u8; 11]) -> u8 {
    let sum: u32 = (1..=11u32)
        .map(|n| {
            let p = u32::from(d[11 - n as usize] - b'0');
            let q = if n <= 6 { n + 1 } else { n - 5 };
            p * q
        })
        .sum();
    let r = sum % 11;
    if r <= 1 { 0 } else { (11 - r) as u8 }
}

/// `rows` target lines: the default persona first, then synthetic residents.
fn csv(rows: usize) -> Vec<u8> {
    let mut s = String::with_capacity(rows * 90);
    s.push_str("1,123456789018,山田,太郎,ヤマダ,タロウ,19850401,1,0000000001,\n");
    for i in 1..rows {
        let mut d = [0u8; 11];
        d.copy_from_slice(format!("9{:010}", i).as_bytes());
        let c = check_digit(&d);
        s.push_str(&format!(
            "{},{}{},試験,太郎{},シケン,タロウ,{}{:02}{:02},{},{:010},\n",
            i + 1,
            std::str::from_utf8(&d).unwrap(),
            c,
            i % 1000,
            1940 + i % 60,
            1 + i % 12,
            1 + i % 28,
            1 + i % 2,
            i + 1,
        ));
    }
    s.into_bytes()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn run(name: &str, url: &str, data: &[u8], rows: usize) {
    let clock = Arc::new(FixedClock::at(NOW));
    let mut settings = RecordsSettings::new(url, dev::record_keys());
    settings.audit_checkpoint_every = 1000;
    let r = Records::open(&settings, clock).await.expect("open");
    let m = MunicipalityCode::parse("131016").unwrap();
    r.add_municipality(&m, "千代田区", true)
        .await
        .expect("municipality");
    // As `vaxcert records import-targets` runs: import, then close (SQLite folds the WAL
    // back into the database file), all timed.
    let t = Instant::now();
    let rep = r
        .import_targets(data, &m, "bench", &|_| {})
        .await
        .expect("import");
    r.close().await.expect("close after import");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "records/{name}/import_targets: {} rows in {secs:.1} s (close included) = {:.0} rows/s",
        rep.rows,
        rep.rows as f64 / secs
    );
    // Lookups happen in `records serve`, another process: reopen as it would, once the
    // kernel has written the import back (its writeback would otherwise stall the lookups'
    // WAL appends: that is the import's cost, measured above).
    let _ = std::process::Command::new("sync").status();
    let clock = Arc::new(FixedClock::at(NOW));
    let r = Records::open(&settings, clock).await.expect("reopen");
    r.import_vaccinations(
        "1,1,20210601,pfizer-comirnaty,FA5765,会場,医師,131016,1\n1,2,20210622,pfizer-comirnaty,FC3661,会場,医師,131016,1\n".as_bytes(),
        &m, "bench", &|_| {},
    )
    .await
    .expect("doses");
    // A VerifiedIdentity only comes from verify_evidence: build the default persona's evidence.
    let persona = Persona::load(&dev::dir().join("personas/default.toml")).unwrap();
    let key = dev::card::load_rsa_key(&persona.card_key_path()).unwrap();
    let img = CardImage::build(&persona, &DevIssuer::load().unwrap(), key);
    let challenges = Challenges::new(dev::challenge_key().unwrap(), 120);
    let binding = Binding {
        channel: Channel::Kiosk,
        terminal_id: "bench".into(),
        municipality: m.clone(),
        kind: Kind::Domestic,
    };
    let challenge = challenges.issue(NOW);
    let sig = img
        .sign_digest_info(&sha256_digest_info(&binding.digest(&challenge)))
        .unwrap();
    let ev = CardEvidence {
        files: img.card_files(),
        challenge,
        challenge_signature: sig,
    };
    let id = verify_evidence(
        &ev,
        &binding,
        &dev::trust_set("dev").unwrap(),
        &challenges,
        &r,
        NOW,
    )
    .await
    .expect("evidence");
    let mut times = Vec::with_capacity(LOOKUPS);
    for _ in 0..LOOKUPS {
        let t = Instant::now();
        let rec = r
            .lookup_for_issuance(&id, &m, Channel::Kiosk)
            .await
            .expect("lookup");
        times.push(t.elapsed());
        assert_eq!(rec.doses.len(), 2);
    }
    times.sort();
    println!(
        "records/{name}/lookup_for_issuance at {rows} residents ({LOOKUPS} lookups, audit append included): p50 {:.3} ms, p99 {:.3} ms",
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3
    );
    r.close().await.expect("close");
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful: run only when benching.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    vaxcert::telemetry::init("warn", vaxcert::telemetry::LogFormat::Text);
    let rows: usize = std::env::var("VAXCERT_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let t = Instant::now();
    let data = csv(rows);
    println!(
        "generated {rows} target rows ({} MB) in {:.1} s",
        data.len() / 1_000_000,
        t.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("vaxcert-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("records.db").display());
    rt.block_on(run("sqlite", &url, &data, rows));
    let _ = std::fs::remove_dir_all(&dir);
    match std::env::var("VAXCERT_TEST_POSTGRES_URL") {
        Ok(admin) => rt.block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&admin).await.expect("postgres");
            let name = format!("vx_bench_{}", std::process::id());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut c)
                .await
                .unwrap();
            let base = admin.rsplit_once('/').unwrap().0;
            run("postgres", &format!("{base}/{name}"), &data, rows).await;
        }),
        Err(_) => println!(
            "records/postgres: skipped (run through `./vx postgres cargo bench --bench records`)"
        ),
    }
}
