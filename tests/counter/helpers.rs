//! Shared set-up: a fresh SQLite record system seeded with the demo data, one clerk in
//! 千代田区 (131016) and one in 福岡市 (401307), the counter router over a fixed clock, and a
//! small browser: a cookie jar plus the CSRF token of the last page.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use rand::RngExt;
use tower::ServiceExt;
use vaxcert::card::challenge::Challenges;
use vaxcert::clock::{Clock, FixedClock, UnixTime};
use vaxcert::counter::{self, Settings};
use vaxcert::domain::MunicipalityCode;
use vaxcert::formats::mrz::check_digit;
use vaxcert::issuance::IssuanceSettings;
use vaxcert::records::{Records, RecordsSettings, Role, seed};

/// 2027-01-15T08:00:00Z.
pub const NOW: UnixTime = UnixTime(1_800_000_000);
pub const CHIYODA: &str = "131016";
pub const FUKUOKA: &str = "401307";

pub struct Staff {
    pub municipality: &'static str,
    pub login: &'static str,
    pub password: String,
    pub secret: Vec<u8>,
}

pub struct Counter {
    /// The record database and the publication (`publication/jwks.json`).
    pub dir: std::path::PathBuf,
    pub app: Router,
    pub state: counter::State,
    pub clock: Arc<FixedClock>,
    pub records: Arc<Records>,
    pub chiyoda: Staff,
    pub fukuoka: Staff,
    /// 千代田区's admin (reviews and revokes).
    pub chiyoda_admin: Staff,
    /// 千代田区's auditor (reads the audit log).
    pub chiyoda_auditor: Staff,
}

use crate::totp::base32_decode;

/// RFC 6238 TOTP at the counter's clock.
pub fn totp(secret: &[u8], now: UnixTime) -> String {
    crate::totp::totp(secret, now.0)
}

/// A valid TD3 MRZ with every check digit computed.
pub fn mrz(surname: &str, given: &str, number: &str, birth_yymmdd: &str, sex: char) -> String {
    mrz_of("JPN", surname, given, number, birth_yymmdd, sex)
}

/// A valid TD3 MRZ of a passport issued by `state` (the holder's nationality too).
pub fn mrz_of(
    state: &str,
    surname: &str,
    given: &str,
    number: &str,
    birth_yymmdd: &str,
    sex: char,
) -> String {
    let mut l1 = format!("P<{state}{surname}<<{given}");
    while l1.len() < 44 {
        l1.push('<');
    }
    let mut num = number.to_owned();
    while num.len() < 9 {
        num.push('<');
    }
    let personal = "<".repeat(14);
    let part = format!(
        "{num}{}{state}{birth_yymmdd}{}{sex}320101{}{personal}{}",
        check_digit(&num),
        check_digit(birth_yymmdd),
        check_digit("320101"),
        check_digit(&personal)
    );
    let composite = format!("{}{}{}", &part[0..10], &part[13..20], &part[21..43]);
    format!("{l1}\n{part}{}", check_digit(&composite))
}

impl Counter {
    pub async fn start() -> Self {
        Self::start_at(NOW, true).await
    }

    /// A counter whose fixed clock stands at `at`; `secure` marks cookies `Secure`.
    pub async fn start_at(at: UnixTime, secure: bool) -> Self {
        Self::start_with(
            at,
            Settings {
                secure_cookies: secure,
                ..Settings::default()
            },
        )
        .await
    }

    /// A counter with these settings.
    pub async fn start_with(at: UnixTime, settings: Settings) -> Self {
        let mut rng = rand::rng();
        let name: String = (0..12)
            .map(|_| (b'a' + rng.random_range(0..26u8)) as char)
            .collect();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("counter")
            .join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("records.db").display());
        let clock = Arc::new(FixedClock::at(at));
        let records = Records::open(
            &RecordsSettings::new(&url, vaxcert::dev::record_keys()),
            clock.clone(),
        )
        .await
        .unwrap();
        seed::demo(&records, &mut std::io::sink()).await.unwrap();
        let staff_as = |m: &'static str, login: &'static str, role: Role| {
            let records = &records;
            async move {
                let new = records
                    .add_staff(&MunicipalityCode::parse(m).unwrap(), login, role)
                    .await
                    .unwrap();
                Staff {
                    municipality: m,
                    login,
                    password: new.password.to_string(),
                    secret: base32_decode(&new.totp.secret_base32),
                }
            }
        };
        let chiyoda = staff_as(CHIYODA, "clerk-a", Role::Clerk).await;
        let fukuoka = staff_as(FUKUOKA, "clerk-b", Role::Clerk).await;
        let chiyoda_admin = staff_as(CHIYODA, "admin-a", Role::Admin).await;
        let chiyoda_auditor = staff_as(CHIYODA, "auditor-a", Role::Auditor).await;
        let records = Arc::new(records);
        let service = vaxcert::dev::issuance_service(
            records.clone(),
            Challenges::new(vaxcert::dev::challenge_key().unwrap(), 120),
            vaxcert::dev::trust_set("dev").unwrap(),
            clock.clone(),
            IssuanceSettings {
                challenge_ttl_secs: 120,
                token_ttl_secs: 120,
                publication_dir: dir.join("publication"),
                pdf: true,
            },
        )
        .unwrap();
        let state = counter::State::new(Arc::new(service), clock.clone(), settings);
        Counter {
            dir: dir.clone(),
            app: counter::router(state.clone()),
            state,
            clock,
            records,
            chiyoda,
            fukuoka,
            chiyoda_admin,
            chiyoda_auditor,
        }
    }

    pub fn browser(&self) -> Browser {
        self.browser_of(self.app.clone())
    }

    /// A browser on another router over the same state (a counter with other settings).
    pub fn browser_of(&self, app: Router) -> Browser {
        Browser {
            app,
            jar: HashMap::new(),
            csrf: String::new(),
            peer: None,
            headers: Vec::new(),
        }
    }

    pub fn code(&self, s: &Staff) -> String {
        totp(&s.secret, self.clock.now())
    }

    /// A new login of 千代田区 with `role`, ready to log in.
    pub async fn chiyoda_staff(&self, login: &'static str, role: Role) -> Staff {
        let new = self
            .records
            .add_staff(&MunicipalityCode::parse(CHIYODA).unwrap(), login, role)
            .await
            .unwrap();
        Staff {
            municipality: CHIYODA,
            login,
            password: new.password.to_string(),
            secret: base32_decode(&new.totp.secret_base32),
        }
    }

    /// The SHC payload of a printed PDF, read from its pixels and verified under the published
    /// JWKS.
    pub fn shc_of(&self, pdf: &[u8]) -> serde_json::Value {
        let texts = crate::artefacts::pdf_qr_texts(pdf, &self.dir);
        let jwks: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(self.dir.join("publication/jwks.json")).unwrap(),
        )
        .unwrap();
        crate::artefacts::verify_shc(
            texts.iter().find(|t| t.starts_with("shc:/")).unwrap(),
            &jwks,
        )
    }
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub content_type: Option<String>,
    /// The body as text (lossy for binary answers such as the PDF).
    pub body: String,
    pub bytes: Vec<u8>,
}

pub struct Browser {
    app: Router,
    pub jar: HashMap<String, String>,
    /// The CSRF token of the last page that had a form.
    pub csrf: String,
    /// The connection's peer address as the server sees it (none: unknown).
    pub peer: Option<std::net::SocketAddr>,
    /// Headers sent with every request (`X-Forwarded-For`, say).
    pub headers: Vec<(&'static str, String)>,
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Browser {
    async fn send(&mut self, req: axum::http::request::Builder, body: Body) -> Page {
        let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut req = req.header(header::COOKIE, cookies.join("; "));
        for (k, v) in &self.headers {
            req = req.header(*k, v);
        }
        let mut req = req.body(body).unwrap();
        if let Some(addr) = self.peer {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(vaxcert::http::tls::Peer {
                    addr,
                    cert: None,
                }));
        }
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set_cookies {
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.to_owned(), v.to_owned());
            }
        }
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20)
            .await
            .unwrap()
            .to_vec();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(i) = body.find("name=\"csrf\" value=\"") {
            let rest = &body[i + 19..];
            self.csrf = rest[..rest.find('"').unwrap()].to_owned();
        }
        Page {
            status,
            location,
            set_cookies,
            content_type,
            body,
            bytes,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path), Body::empty()).await
    }

    /// POST a form; `csrf` is added from the last page unless the fields carry their own.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut pairs: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            pairs.push(format!("csrf={}", enc(&self.csrf)));
        }
        self.send(
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            Body::from(pairs.join("&")),
        )
        .await
    }

    /// Log in with password and the given TOTP code.
    pub async fn login_with(&mut self, s: &Staff, code: &str) -> Page {
        self.get("/login").await;
        self.post(
            "/login",
            &[
                ("municipality", s.municipality),
                ("login", s.login),
                ("password", &s.password),
                ("totp", code),
            ],
        )
        .await
    }

    /// Log in and land on the search page.
    pub async fn login(&mut self, c: &Counter, s: &Staff) -> Page {
        let p = self.login_with(s, &c.code(s)).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
        assert_eq!(p.location.as_deref(), Some("/search"));
        let page = self.get("/search").await;
        assert_eq!(page.status, StatusCode::OK);
        page
    }
}
