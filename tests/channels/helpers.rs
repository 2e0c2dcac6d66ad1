//! The issuance stack in-process: records (SQLite, demo data, dev keys) behind its mTLS
//! internal API, the app gateway and the center on `127.0.0.1:0`, an injectable clock, and
//! clients that talk to them the way a phone and a kiosk would.

#![allow(dead_code)] // shared by several test files; each uses a part

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use vaxcert::card::challenge::{Binding, Challenges};
use vaxcert::card::reader::Reader;
use vaxcert::card::{CardEvidence, Pin};
use vaxcert::clock::{Clock, FixedClock, SystemClock};
use vaxcert::domain::{Channel, Kind, MunicipalityCode};
use vaxcert::http::tls::ClientTls;
use vaxcert::issuance::{IssuanceService, IssuanceSettings};
use vaxcert::protocol::PreviewRequest;
use vaxcert::records::{Records, RecordsSettings};

pub(crate) use crate::artefacts::{pdfsig, verify_shc};

pub(crate) const MRZ_YAMADA: &str =
    "P<JPNYAMADA<<TARO<<<<<<<<<<<<<<<<<<<<<<<<<<<\nTK12345671JPN8504010M3001019<<<<<<<<<<<<<<02";

pub(crate) fn crate_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub(crate) fn tls_dir() -> PathBuf {
    crate_path("certs/dev/tls")
}

pub(crate) fn persona_pin(name: &str) -> Pin {
    vaxcert::card_sim::Persona::load(&crate_path(&format!("certs/dev/personas/{name}.toml")))
        .unwrap()
        .pin
}

/// A running stack; everything stops when it is dropped.
pub(crate) struct Stack {
    pub dir: tempfile::TempDir,
    pub db_path: PathBuf,
    pub clock: Arc<FixedClock>,
    pub records_url: String,
    pub app_url: String,
    pub center_url: String,
    pub records: Arc<Records>,
    _stop: tokio::sync::watch::Sender<()>,
}

fn dev_service(
    records: Arc<Records>,
    clock: Arc<FixedClock>,
    publication: &Path,
) -> IssuanceService {
    vaxcert::dev::issuance_service(
        records,
        Challenges::new(vaxcert::dev::challenge_key().unwrap(), 120),
        vaxcert::dev::trust_set("dev").unwrap(),
        clock,
        IssuanceSettings {
            challenge_ttl_secs: 120,
            token_ttl_secs: 120,
            publication_dir: publication.to_owned(),
            pdf: true,
        },
    )
    .unwrap()
}

impl Stack {
    pub(crate) async fn spawn() -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("records.db");
        let clock = Arc::new(FixedClock::at(SystemClock.now()));
        let settings = RecordsSettings::new(
            &format!("sqlite://{}", db_path.display()),
            vaxcert::dev::record_keys(),
        );
        let records = Arc::new(Records::open(&settings, clock.clone()).await.unwrap());
        vaxcert::records::seed::demo(&records, &mut std::io::sink())
            .await
            .unwrap();
        let service = Arc::new(dev_service(
            records.clone(),
            clock.clone(),
            &dir.path().join("publication"),
        ));
        let (stop, _) = tokio::sync::watch::channel(());
        let stopped = |rx: tokio::sync::watch::Receiver<()>| async move {
            let mut rx = rx;
            let _ = rx.changed().await;
        };
        let rec = vaxcert::issuance::api::Server::build(
            &vaxcert::issuance::api::ServeSettings::in_tls_dir(
                "127.0.0.1:0".parse().unwrap(),
                &vaxcert::dev::tls_dir(),
            ),
            service,
        )
        .await
        .unwrap();
        let records_url = format!("https://{}", rec.local_addr());
        tokio::spawn(rec.run_until(stopped(stop.subscribe())));

        let mut app_settings = vaxcert::app::Settings::in_tls_dir(
            "127.0.0.1:0".parse().unwrap(),
            &records_url,
            &vaxcert::dev::tls_dir(),
        );
        app_settings.rate_per_sec = 10_000;
        // The CRL cache time: a revocation reaches the gateway's verifier within it.
        app_settings.publication_ttl = Duration::from_secs(1);
        let mut trust = vaxcert::verify::TrustStore::load(&crate_path("certs/trust")).unwrap();
        trust.add_dev(&crate_path("certs/dev")).unwrap();
        app_settings.verifier_trust = trust;
        let app = vaxcert::app::Server::build(&app_settings).await.unwrap();
        let app_url = format!("https://{}", app.local_addr());
        tokio::spawn(app.run_until(stopped(stop.subscribe())));

        let center = vaxcert::center::Server::build(
            &vaxcert::center::Settings::in_tls_dir(
                "127.0.0.1:0".parse().unwrap(),
                &records_url,
                vaxcert::dev::trust_set("dev").unwrap(),
                &vaxcert::dev::tls_dir(),
            ),
            clock.clone(),
        )
        .await
        .unwrap();
        let center_url = format!("https://{}", center.local_addr());
        tokio::spawn(center.run_until(stopped(stop.subscribe())));
        Stack {
            dir,
            db_path,
            clock,
            records_url,
            app_url,
            center_url,
            records,
            _stop: stop,
        }
    }
}

/// An HTTPS client trusting the dev server CA, with an optional client certificate from
/// `certs/dev/tls/NAME.{crt,key}.pem`.
pub(crate) fn client(cert: Option<&str>) -> reqwest::Client {
    let d = tls_dir();
    let tls = ClientTls {
        server_ca: d.join("server-ca.crt.pem"),
        cert: cert.map(|c| d.join(format!("{c}.crt.pem"))),
        key: cert.map(|c| d.join(format!("{c}.key.pem"))),
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(tls.config().unwrap())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A JSON answer: status and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    #[track_caller]
    pub(crate) fn ok(self) -> Value {
        assert_eq!(self.status, 200, "{}", self.body);
        self.body
    }

    #[track_caller]
    pub(crate) fn assert_problem(&self, code: &str) {
        assert_eq!(
            self.body["code"], code,
            "status {}: {}",
            self.status, self.body
        );
        assert!(self.status >= 400, "{}", self.status);
    }
}

pub(crate) async fn post(c: &reqwest::Client, url: &str, body: &Value) -> Answer {
    let r = c.post(url).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    Answer { status, body }
}

pub(crate) async fn get(c: &reqwest::Client, url: &str) -> Answer {
    let r = c.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    Answer { status, body }
}

/// Read the card in `reader` with `pin`, the card signing `challenge` bound to this request —
/// what the phone app does between `/v1/challenges` and `/v1/previews`.
pub(crate) async fn read_card(
    reader_name: String,
    pin: Pin,
    challenge: &str,
    binding: Binding,
) -> Result<CardEvidence, vaxcert::card::Error> {
    let challenge = vaxcert::card::challenge::Challenge::from_base64(challenge).unwrap();
    tokio::task::spawn_blocking(move || {
        let reader = Reader::open(Some(&reader_name))?;
        let (files, signature) =
            reader.read_and_sign(&pin, &binding.digest(&challenge), Duration::from_secs(15))?;
        Ok(CardEvidence {
            files,
            challenge,
            challenge_signature: signature,
        })
    })
    .await
    .unwrap()
}

pub(crate) fn binding(channel: Channel, terminal: &str, municipality: &str, kind: Kind) -> Binding {
    Binding {
        channel,
        terminal_id: terminal.into(),
        municipality: MunicipalityCode::parse(municipality).unwrap(),
        kind,
    }
}

pub(crate) fn preview_body(
    municipality: &str,
    kind: Kind,
    evidence: CardEvidence,
    mrz: Option<&str>,
    device: Option<&str>,
) -> Value {
    serde_json::to_value(PreviewRequest {
        municipality: MunicipalityCode::parse(municipality).unwrap(),
        kind,
        evidence,
        passport_mrz: mrz.map(str::to_owned),
        device_id: device.map(str::to_owned),
        terms_version: Some(vaxcert::protocol::TERMS_VERSION.to_owned()),
    })
    .unwrap()
}

/// Rows per table in the SQLite database.
pub(crate) fn row_counts(db: &Path) -> std::collections::BTreeMap<String, i64> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys,json; c=sqlite3.connect(sys.argv[1]); t=[r[0] for r in c.execute(\"select name from sqlite_master where type='table' and name not like 'sqlite_%' and name not like '_sqlx%'\")]; print(json.dumps({n: c.execute(f'select count(*) from \"{n}\"').fetchone()[0] for n in t}))",
        ])
        .arg(db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub(crate) fn vaxcert() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vaxcert"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Exclusive use of one vpcd reader slot (the same file locks as `tests/card`).
pub(crate) struct Slot {
    pub n: u8,
    _lock: std::fs::File,
}

pub(crate) fn slot() -> Slot {
    assert!(
        Path::new("/run/pcscd/pcscd.comm").exists(),
        "pcscd is not running: run the tests through `./vx test`, which starts pcscd with vpcd"
    );
    let dir = std::env::temp_dir();
    loop {
        for n in 0..2u8 {
            let f = std::fs::File::create(dir.join(format!("vaxcert-vpcd-slot-{n}.lock"))).unwrap();
            if f.try_lock().is_ok() {
                return Slot { n, _lock: f };
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Slot {
    pub(crate) fn reader_name(&self) -> String {
        format!("Virtual PCD 00 {:02}", self.n)
    }
}

/// A persona's virtual card in a vpcd slot; pulled out on drop.
pub(crate) struct SimCard {
    pub slot: Slot,
    child: std::process::Child,
}

impl SimCard {
    pub(crate) fn insert(persona: &str) -> Self {
        use std::process::Stdio;
        let slot = slot();
        let reader = Reader::open(Some(&slot.reader_name())).unwrap();
        let _ = reader.wait(false, Duration::from_secs(5));
        let spawn = || {
            vaxcert()
                .args([
                    "card-sim",
                    "--until-stdin-closes",
                    "--slot",
                    &slot.n.to_string(),
                ])
                .arg("--persona")
                .arg(crate_path(&format!("certs/dev/personas/{persona}.toml")))
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let mut child = spawn();
        for _ in 0..4 {
            if reader.wait(true, Duration::from_secs(3)).is_ok() {
                return SimCard { slot, child };
            }
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(500));
            child = spawn();
        }
        panic!("the virtual card did not appear in {}", slot.reader_name());
    }

    pub(crate) fn reader_name(&self) -> String {
        self.slot.reader_name()
    }
}

impl Drop for SimCard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Ok(r) = Reader::open(Some(&self.slot.reader_name())) {
            let _ = r.wait(false, Duration::from_secs(10));
        }
    }
}

/// Evidence built in-process from a persona's committed dev card key (no reader): for the
/// refusal tests, which are about the servers, not PC/SC.
pub(crate) fn evidence_for(persona: &str, challenge: &str, binding: &Binding) -> CardEvidence {
    use vaxcert::card::challenge::sha256_digest_info;
    let p = vaxcert::card_sim::Persona::load(&crate_path(&format!(
        "certs/dev/personas/{persona}.toml"
    )))
    .unwrap();
    let key = vaxcert::dev::card::load_rsa_key(&p.card_key_path()).unwrap();
    let img = vaxcert::card_sim::image::CardImage::build(
        &p,
        &vaxcert::dev::card::DevIssuer::load().unwrap(),
        key,
    );
    let challenge = vaxcert::card::challenge::Challenge::from_base64(challenge).unwrap();
    let signature = img
        .sign_digest_info(&sha256_digest_info(&binding.digest(&challenge)))
        .unwrap();
    CardEvidence {
        files: img.card_files(),
        challenge,
        challenge_signature: signature,
    }
}
