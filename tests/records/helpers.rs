//! Shared set-up: a fresh database per test (SQLite file or PostgreSQL `vx_<random>`), the dev
//! keys, a fixed clock, persona evidence verified by `card::verify_evidence`, and CSV fixtures.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use hmac::{KeyInit, Mac};
use rand::RngExt;
use sqlx::Connection;
use vaxcert::card::challenge::{Binding, Challenges, sha256_digest_info};
use vaxcert::card::{CardEvidence, VerifiedIdentity, verify_evidence};
use vaxcert::card_sim::Persona;
use vaxcert::card_sim::image::CardImage;
use vaxcert::clock::{FixedClock, UnixTime};
use vaxcert::dev::{self, card::DevIssuer};
use vaxcert::domain::{Channel, Kind, MunicipalityCode};
use vaxcert::records::{Records, RecordsSettings};

/// 2027-01-15T08:00:00Z.
pub const NOW: UnixTime = UnixTime(1_800_000_000);
pub const CHIYODA: &str = "131016";
pub const FUKUOKA: &str = "401307";
pub const OSAKA: &str = "271004";

/// Run an async test body once per backend.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::helpers::Backend::Postgres).await
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn code(s: &str) -> MunicipalityCode {
    MunicipalityCode::parse(s).unwrap()
}

pub fn postgres_url() -> String {
    std::env::var("VAXCERT_TEST_POSTGRES_URL").expect(
        "VAXCERT_TEST_POSTGRES_URL is not set: run the tests through `./vx test` (or \
         `./vx postgres cargo nextest run …`), which starts a throw-away PostgreSQL cluster",
    )
}

pub fn postgres_data_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("VAXCERT_TEST_POSTGRES_DATA")
            .expect("VAXCERT_TEST_POSTGRES_DATA is not set: run the tests through `./vx test`"),
    )
}

/// A fresh, empty database of one backend.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    /// SQLite: the database file.
    pub file: Option<PathBuf>,
    pub clock: Arc<FixedClock>,
}

fn random_name() -> String {
    let mut rng = rand::rng();
    (0..12)
        .map(|_| (b'a' + rng.random_range(0..26u8)) as char)
        .collect()
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let name = format!("vx_{}", random_name());
        let (url, file) = match backend {
            Backend::Sqlite => {
                let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
                    .join("records")
                    .join(&name);
                std::fs::create_dir_all(&dir).unwrap();
                let file = dir.join("records.db");
                (format!("sqlite://{}", file.display()), Some(file))
            }
            Backend::Postgres => {
                let admin = postgres_url();
                let mut c = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("cannot reach the test PostgreSQL at {admin} ({e}); run `./vx test`")
                    });
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut c)
                    .await
                    .unwrap();
                let base = admin.rsplit_once('/').unwrap().0;
                (format!("{base}/{name}"), None)
            }
        };
        TestDb {
            backend,
            url,
            file,
            clock: Arc::new(FixedClock::at(NOW)),
        }
    }

    pub fn settings(&self) -> RecordsSettings {
        let mut s = RecordsSettings::new(&self.url, dev::record_keys());
        s.audit_checkpoint_every = 5;
        s
    }

    pub async fn open(&self) -> Records {
        Records::open(&self.settings(), self.clock.clone())
            .await
            .unwrap()
    }

    /// One integer from raw SQL.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
            }
        }
    }

    /// Run raw SQL beside the record system (to tamper, as an attacker with DB access would).
    pub async fn exec(&self, sql: &str) -> u64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql)
                    .execute(&mut c)
                    .await
                    .unwrap()
                    .rows_affected()
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql)
                    .execute(&mut c)
                    .await
                    .unwrap()
                    .rows_affected()
            }
        }
    }
}

/// A database with the three demo municipalities (Osaka does not take part in kiosk issuance).
pub async fn with_municipalities(backend: Backend) -> (TestDb, Records) {
    let db = TestDb::new(backend).await;
    let r = db.open().await;
    r.add_municipality(&code(CHIYODA), "千代田区", true)
        .await
        .unwrap();
    r.add_municipality(&code(FUKUOKA), "福岡市", true)
        .await
        .unwrap();
    r.add_municipality(&code(OSAKA), "大阪市", false)
        .await
        .unwrap();
    (db, r)
}

/// Targets for the personas: default, kyusei (as 佐藤/美咲), yoshi, long-address.
pub const TARGETS: &str = "\
個別宛名番号,マイナンバー,氏名（姓）,氏名（名）,氏名（セイ）,氏名（メイ）,生年月日,性別,券番号,転出/死亡フラグ
1001,123456789018,山田,太郎,ヤマダ,タロウ,19850401,1,0000000001,
1002,456789012346,佐藤,美咲,サトウ,ミサキ,19880310,2,0000000002,
1003,345678901234,𠮷田,一郎,ヨシダ,イチロウ,19700101,1,0000000003,
1004,234567890121,鈴木,花子,スズキ,ハナコ,19920715,2,0000000004,
";

pub const DOSES: &str = "\
1001,1,20210601,pfizer-comirnaty,FA5765,千代田区役所,接種　一郎,131016,1
1001,2,20210622,pfizer-comirnaty,FC3661,千代田区役所,接種　一郎,131016,1
1002,1,20210705,moderna-spikevax,3004734,職域接種会場,産業　医師,131016,3
1002,2,20210802,moderna-spikevax,3004956,職域接種会場,産業　医師,131016,3
1003,1,20210801,astrazeneca-vaxzevria,AZ0001,集団接種会場,大阪　医師,271004,2
";

pub async fn seed_chiyoda(r: &Records) {
    r.import_targets(TARGETS.as_bytes(), &code(CHIYODA), "test", &|_| {})
        .await
        .unwrap();
    r.import_vaccinations(DOSES.as_bytes(), &code(CHIYODA), "test", &|_| {})
        .await
        .unwrap();
}

pub fn persona_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("certs/dev/personas/{name}.toml"))
}

pub fn persona(name: &str) -> Persona {
    Persona::load(&persona_path(name)).unwrap()
}

pub fn binding(municipality: &str, channel: Channel) -> Binding {
    Binding {
        channel,
        terminal_id: "records-test".into(),
        municipality: code(municipality),
        kind: Kind::Domestic,
    }
}

/// Evidence as a kiosk would send it, exactly as tests/card/helpers.rs builds it.
pub fn evidence(name: &str, binding: &Binding) -> CardEvidence {
    let p = persona(name);
    let key = dev::card::load_rsa_key(&p.card_key_path()).unwrap();
    let img = CardImage::build(&p, &DevIssuer::load().unwrap(), key);
    let challenge = challenges().issue(NOW);
    let signature = img
        .sign_digest_info(&sha256_digest_info(&binding.digest(&challenge)))
        .unwrap();
    CardEvidence {
        files: img.card_files(),
        challenge,
        challenge_signature: signature,
    }
}

pub fn challenges() -> Challenges {
    Challenges::new(dev::challenge_key().unwrap(), 120)
}

/// A persona's identity, verified through all five steps with the records' used set.
pub async fn identity(
    r: &Records,
    name: &str,
    municipality: &str,
    channel: Channel,
) -> VerifiedIdentity {
    let b = binding(municipality, channel);
    let ev = evidence(name, &b);
    verify_evidence(
        &ev,
        &b,
        &dev::trust_set("dev").unwrap(),
        &challenges(),
        r,
        NOW,
    )
    .await
    .unwrap()
}

/// An independent TOTP (RFC 6238, SHA-1, 6 digits) from a provisioning URI's secret.
pub fn totp_now(uri: &str, at: UnixTime) -> String {
    let secret_b32 = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let mut bits = 0u64;
    let mut n = 0;
    let mut key = Vec::new();
    for c in secret_b32.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32"),
        };
        bits = (bits << 5) | u64::from(v);
        n += 5;
        if n >= 8 {
            key.push((bits >> (n - 8)) as u8);
            n -= 8;
        }
    }
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&key).unwrap();
    mac.update(&(at.0 / 30).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 15) as usize;
    let v = u32::from_be_bytes([h[o] & 0x7f, h[o + 1], h[o + 2], h[o + 3]]) % 1_000_000;
    format!("{v:06}")
}

/// Add a login to `m` with `role` and log it in at `at` (its first TOTP step).
pub async fn staff_session(
    r: &Records,
    m: &str,
    login: &str,
    role: vaxcert::records::Role,
    at: UnixTime,
) -> vaxcert::records::StaffSession {
    let new = r.add_staff(&code(m), login, role).await.unwrap();
    r.login(
        &code(m),
        login,
        &new.password,
        &totp_now(&new.totp.provisioning_uri, at),
        "10.0.0.250",
    )
    .await
    .unwrap()
}

pub fn vaxcert() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vaxcert"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}
