//! 転入照会: a resident who moved from 福岡市 to 千代田区; the new municipality's `move-in`
//! staff ask the former one, which provides only that resident's doses; both sides audit it.
//! Within one deployment (both backends) and between two deployments over mTLS.

use std::sync::Arc;

use vaxcert::domain::MunicipalityCode;
use vaxcert::move_in::{Exchange, PeerSettings, Settings};
use vaxcert::records::{AtenaNo, Error, Records, Role};

use crate::helpers::*;

/// The mover's 個人番号 (synthetic, check digit valid).
const MOVER: &str = "901234567893";

const FORMER_TARGETS: &str = "2002,901234567893,高橋,健,タカハシ,ケン,19750315,1,0000000102,1\n";
const FORMER_DOSES: &str = "\
2002,1,20210610,pfizer-comirnaty,FC1001,福岡市役所接種会場,福岡　医師,401307,1
2002,2,20210701,pfizer-comirnaty,FC1002,福岡市役所接種会場,福岡　医師,401307,1
";
const NEW_TARGETS: &str = "1007,901234567893,高橋,健,タカハシ,ケン,19750315,1,0000000007,\n";
const NEW_DOSES: &str =
    "1007,3,20221020,moderna-spikevax,3007001,千代田区役所,接種　一郎,131016,1\n";

async fn import(r: &Records, m: &str, targets: &str, doses: &str) {
    r.import_targets(targets.as_bytes(), &code(m), "test", &|_| {})
        .await
        .unwrap();
    r.import_vaccinations(doses.as_bytes(), &code(m), "test", &|_| {})
        .await
        .unwrap();
}

async fn a_moved_in_residents_doses_come_from_the_former_municipality(b: Backend) {
    let (_db, r) = with_municipalities(b).await;
    import(&r, FUKUOKA, FORMER_TARGETS, FORMER_DOSES).await;
    import(&r, CHIYODA, NEW_TARGETS, NEW_DOSES).await;
    let r = Arc::new(r);
    let ex = Exchange::local(r.clone());
    let atena = AtenaNo::parse("1007").unwrap();
    let clerk = staff_session(&r, CHIYODA, "clerk1", Role::Clerk, NOW).await;
    let e = ex.ask(&clerk, &atena, &code(FUKUOKA)).await.unwrap_err();
    assert_eq!(e.code(), "forbidden", "only the move-in role asks");
    let s = staff_session(&r, CHIYODA, "movein1", Role::MoveIn, NOW).await;

    let o = ex.ask(&s, &atena, &code(FUKUOKA)).await.unwrap();
    assert_eq!((o.provided, o.stored), (2, 2));
    let (_, doses, _) = r
        .record_by_atena(&code(CHIYODA), &atena)
        .await
        .unwrap()
        .unwrap();
    let got: Vec<_> = doses
        .iter()
        .map(|d| {
            (
                d.dose,
                d.lot.as_str(),
                d.provided_by.as_ref().map(MunicipalityCode::as_str),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "FC1001", Some(FUKUOKA)),
            (2, "FC1002", Some(FUKUOKA)),
            (3, "3007001", None)
        ]
    );
    // Asked again: nothing new is stored, nothing recorded here is overwritten.
    let again = ex.ask(&s, &atena, &code(FUKUOKA)).await.unwrap();
    assert_eq!((again.provided, again.stored), (2, 0));
    assert!(again.differing.is_empty());
    // Dose 2 recorded here with another date: kept, and reported.
    r.import_vaccinations(
        "1007,2,20210702,pfizer-comirnaty,FC1002,千代田区役所,接種　一郎,131016,1\n".as_bytes(),
        &code(CHIYODA),
        "test",
        &|_| {},
    )
    .await
    .unwrap();
    let differs = ex.ask(&s, &atena, &code(FUKUOKA)).await.unwrap();
    assert_eq!(differs.differing, [2]);

    // Osaka holds nobody with that 個人番号; an unknown municipality has no route.
    let e = ex.ask(&s, &atena, &code(OSAKA)).await.unwrap_err();
    assert_eq!(e.code(), "move-in-no-match");
    let e = ex
        .ask(&s, &atena, &MunicipalityCode::parse("011002").unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "move-in-no-route");
    // Only residents who live here now.
    assert!(matches!(
        r.move_in_subject(&s, &AtenaNo::parse("9999").unwrap())
            .await,
        Err(Error::NoSuchResident)
    ));

    // The provision records, on both sides.
    let tail = r.audit_tail(100).await.unwrap();
    let query = |outcome: &str| {
        tail.iter().any(|e| {
            e.action == "move-in-query"
                && e.municipality == CHIYODA
                && e.actor == "staff:131016/movein1"
                && e.subject.as_deref() == Some("1007")
                && e.outcome.starts_with(outcome)
        })
    };
    assert!(query(&format!(
        "ok from={FUKUOKA} query={} provided=2 stored=2",
        o.query_id
    )));
    assert!(query("move-in-no-match from=271004"));
    assert!(tail.iter().any(|e| e.action == "move-in-query"
        && e.actor == "staff:131016/clerk1"
        && e.outcome.starts_with("forbidden from=401307")));
    assert!(tail.iter().any(|e| e.action == "move-in-provision"
        && e.municipality == FUKUOKA
        && e.subject.as_deref() == Some("2002")
        && e.outcome
            == format!(
                "ok to={CHIYODA} query={} by=staff:131016/movein1 doses=2",
                o.query_id
            )));
    assert!(tail.iter().any(|e| e.action == "move-in-provision"
        && e.municipality == OSAKA
        && e.subject.is_none()
        && e.outcome.starts_with("move-in-no-match to=131016")));
    for e in &tail {
        assert!(!e.outcome.contains(MOVER) && !e.actor.contains(MOVER));
    }
    r.verify_audit().await.unwrap();
}
both!(a_moved_in_residents_doses_come_from_the_former_municipality);

/// 千代田区's side when it asks 福岡市 at `url`, as the client certificate `cert`/`key`.
fn asking(cert: &str, key: &str, url: &str) -> Settings {
    Settings {
        listen: None,
        server_cert: None,
        server_key: None,
        client_ca: None,
        client_cert: tls(cert),
        client_key: tls(key),
        server_ca: tls("server-ca.crt.pem"),
        peers: vec![PeerSettings {
            name: "fukuoka".into(),
            municipalities: vec![code(FUKUOKA)],
            url: url.to_owned(),
            client_cert: tls("center.crt.pem"),
        }],
    }
}

/// 千代田区's `move-in` staff ask 福岡市 at `url` about 1007, as the pinned client certificate.
async fn ask_over_mtls(
    a: &Arc<Records>,
    url: &str,
) -> (
    Exchange,
    vaxcert::records::StaffSession,
    vaxcert::records::MoveInOutcome,
) {
    let ex = Exchange::with_peers(
        a.clone(),
        &asking("app-gateway.crt.pem", "app-gateway.key.pem", url),
    )
    .unwrap();
    let s = staff_session(a, CHIYODA, "movein1", Role::MoveIn, NOW).await;
    let o = ex
        .ask(&s, &AtenaNo::parse("1007").unwrap(), &code(FUKUOKA))
        .await
        .unwrap();
    (ex, s, o)
}

/// A deployment of its own (SQLite) holding one municipality.
async fn deployment(m: &str, name: &str) -> (TestDb, Records) {
    let db = TestDb::new(Backend::Sqlite).await;
    let r = db.open().await;
    r.add_municipality(&code(m), name, true).await.unwrap();
    (db, r)
}

fn tls(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("certs/dev/tls")
        .join(name)
}

/// Two deployments: 福岡市's answers on its own mTLS listener, pinning 千代田区's client
/// certificate (the dev `app-gateway` one stands in for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn between_two_deployments_over_mtls() {
    // Deployment A holds 千代田区 only, B 福岡市 only.
    let (_a_db, a) = deployment(CHIYODA, "千代田区").await;
    let (_b_db, b) = deployment(FUKUOKA, "福岡市").await;
    import(&b, FUKUOKA, FORMER_TARGETS, FORMER_DOSES).await;
    // A resident of B who still lives there, with the 個人番号 A's resident 1008 also has.
    import(
        &b,
        FUKUOKA,
        "2003,135792468015,中村,優,ナカムラ,ユウ,19820101,2,0000000103,\n",
        "2003,1,20210610,pfizer-comirnaty,FC2001,福岡市役所接種会場,福岡　医師,401307,1\n",
    )
    .await;
    import(&a, CHIYODA, NEW_TARGETS, NEW_DOSES).await;
    import(
        &a,
        CHIYODA,
        "1008,135792468015,中村,優,ナカムラ,ユウ,19820101,2,0000000008,\n",
        "1008,1,20210610,pfizer-comirnaty,FC3001,千代田区役所,接種　一郎,131016,1\n",
    )
    .await;
    let b = Arc::new(b);
    let answering = Settings {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        server_cert: Some(tls("records.crt.pem")),
        server_key: Some(tls("records.key.pem")),
        client_ca: Some(tls("gateway-ca.crt.pem")),
        client_cert: tls("center.crt.pem"),
        client_key: tls("center.key.pem"),
        server_ca: tls("server-ca.crt.pem"),
        peers: vec![PeerSettings {
            name: "chiyoda".into(),
            municipalities: vec![code(CHIYODA)],
            url: "https://unused.invalid".into(),
            client_cert: tls("app-gateway.crt.pem"),
        }],
    };
    let server = vaxcert::move_in::Server::build(b.clone(), &answering)
        .await
        .unwrap();
    let url = format!("https://localhost:{}", server.local_addr().port());
    tokio::spawn(server.run_until_stopped());
    let a = Arc::new(a);
    let (ex, s, o) = ask_over_mtls(&a, &url).await;
    assert_eq!((o.provided, o.stored), (2, 2));
    let (_, doses, _) = a
        .record_by_atena(&code(CHIYODA), &AtenaNo::parse("1007").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doses.len(), 3);
    assert_eq!(
        doses[0].provided_by.as_ref().map(MunicipalityCode::as_str),
        Some(FUKUOKA)
    );

    // Still a resident of 福岡市: refused with its reason.
    let e = ex
        .ask(&s, &AtenaNo::parse("1008").unwrap(), &code(FUKUOKA))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "move-in-not-moved-out");
    // A client certificate the answering side does not pin: no answer at all.
    let stranger =
        Exchange::with_peers(a.clone(), &asking("center.crt.pem", "center.key.pem", &url)).unwrap();
    let e = stranger
        .ask(&s, &AtenaNo::parse("1007").unwrap(), &code(FUKUOKA))
        .await
        .unwrap_err();
    assert!(
        matches!(e.code(), "move-in-unreachable" | "move-in-forbidden"),
        "{e}"
    );

    let provided = b.audit_tail(50).await.unwrap();
    assert!(provided.iter().any(|e| e.action == "move-in-provision"
        && e.subject.as_deref() == Some("2002")
        && e.outcome
            == format!(
                "ok to={CHIYODA} query={} by=peer:chiyoda/staff:131016/movein1 doses=2",
                o.query_id
            )));
    assert!(provided.iter().any(|e| e.action == "move-in-provision"
        && e.subject.as_deref() == Some("2003")
        && e.outcome.starts_with("move-in-not-moved-out to=131016")));
    let asked = a.audit_tail(50).await.unwrap();
    assert!(asked.iter().any(|e| e.action == "move-in-query"
        && e.outcome.starts_with("move-in-not-moved-out from=401307")));
    b.verify_audit().await.unwrap();
    a.verify_audit().await.unwrap();
}

/// Kills the child on drop.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The README's path between deployments: `records serve --move-in-config` answers (the
/// binary, its configuration file, its listener), the other deployment asks over mTLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_serve_answers_move_in_queries_from_its_config() {
    use std::io::BufRead;
    let b_db = {
        let (db, b) = deployment(FUKUOKA, "福岡市").await;
        import(&b, FUKUOKA, FORMER_TARGETS, FORMER_DOSES).await;
        b.close().await.unwrap();
        db
    };
    let work = b_db.file.as_ref().unwrap().parent().unwrap().to_owned();
    let config = work.join("move-in.toml");
    let t = |n: &str| tls(n).display().to_string();
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nserver_cert = \"{}\"\nserver_key = \"{}\"\nclient_ca = \"{}\"\n\
             client_cert = \"{}\"\nclient_key = \"{}\"\nserver_ca = \"{}\"\n\n[[peer]]\nname = \"chiyoda\"\n\
             municipalities = [\"131016\"]\nurl = \"https://unused.invalid\"\nclient_cert = \"{}\"\n",
            t("records.crt.pem"),
            t("records.key.pem"),
            t("gateway-ca.crt.pem"),
            t("center.crt.pem"),
            t("center.key.pem"),
            t("server-ca.crt.pem"),
            t("app-gateway.crt.pem"),
        ),
    )
    .unwrap();
    let mut child = Child(
        vaxcert()
            .args(["records", "--dev", "--database-url", &b_db.url, "serve"])
            .args(["--listen", "127.0.0.1:0", "--counter-listen", "127.0.0.1:0"])
            .arg("--publication-dir")
            .arg(work.join("publication"))
            .arg("--move-in-config")
            .arg(&config)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let out = std::io::BufReader::new(child.0.stdout.take().unwrap());
    let line = out
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("move-in queries answered on"))
        .expect("records serve announces its move-in listener");
    let port = line
        .rsplit(':')
        .next()
        .unwrap()
        .trim()
        .trim_end_matches('/');
    let url = format!("https://localhost:{port}");

    let (_a_db, a) = deployment(CHIYODA, "千代田区").await;
    import(&a, CHIYODA, NEW_TARGETS, NEW_DOSES).await;
    let a = Arc::new(a);
    let (_, _, o) = ask_over_mtls(&a, &url).await;
    assert_eq!((o.provided, o.stored), (2, 2));
    drop(child);
    let b = b_db.open().await;
    let tail = b.audit_tail(20).await.unwrap();
    assert!(tail.iter().any(|e| e.action == "move-in-provision"
        && e.subject.as_deref() == Some("2002")
        && e.outcome.starts_with("ok to=131016")));
}
