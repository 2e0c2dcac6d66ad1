//! A member of staff at the counter over real HTTP (cookies, CSRF and a TOTP login by hand),
//! shared by the test binaries that issue at the counter of a running `records serve`.

#![allow(dead_code)] // each test binary uses a part

use std::collections::BTreeMap;

/// The demo counter login that `records seed-demo` printed: (password, TOTP secret).
pub(crate) fn counter_login(seed_stdout: &str) -> (String, Vec<u8>) {
    let field = |name: &str| {
        seed_stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("seed-demo printed no {name}: {seed_stdout}"))
    };
    (
        field("password"),
        crate::totp::base32_decode(&field("TOTP secret")),
    )
}

/// A member of staff at the counter, over real HTTP: cookies and the page's CSRF token by hand.
pub(crate) struct CounterSession {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    cookies: BTreeMap<String, String>,
    pub(crate) csrf: String,
}

impl CounterSession {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) async fn send(
        &mut self,
        req: reqwest::RequestBuilder,
    ) -> (u16, Option<String>, Vec<u8>) {
        let r = req
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let kv = c.split(';').next().unwrap();
            if let Some((k, v)) = kv.split_once('=') {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = r.bytes().await.unwrap().to_vec();
        let text = String::from_utf8_lossy(&body);
        if let Some(i) = text.find("name=\"csrf\" value=\"") {
            let rest = &text[i + 19..];
            self.csrf = rest[..rest.find('"').unwrap()].to_owned();
        }
        (status, location, body)
    }

    pub(crate) async fn login(base: &str, password: &str, secret: &[u8]) -> Self {
        Self::login_with_code_at(base, password, secret, 0).await
    }

    /// As [`CounterSession::login`], with the authenticator code of `offset` seconds from now
    /// (the record system accepts the neighbouring 30-second step; a second login within one
    /// step would otherwise replay the first one's code).
    pub(crate) async fn login_with_code_at(
        base: &str,
        password: &str,
        secret: &[u8],
        offset: i64,
    ) -> Self {
        let mut s = CounterSession {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: BTreeMap::new(),
            csrf: String::new(),
        };
        s.send(s.http.get(format!("{base}/login"))).await;
        let now = vaxcert::clock::Clock::now(&vaxcert::clock::SystemClock).0 + offset;
        let form = [
            ("municipality", "131016".to_owned()),
            ("login", "demo-clerk".to_owned()),
            ("password", password.to_owned()),
            ("totp", crate::totp::totp(secret, now)),
            ("csrf", s.csrf.clone()),
        ];
        let (status, _, body) = s
            .send(s.http.post(format!("{base}/login")).form(&form))
            .await;
        assert_eq!(status, 303, "{}", String::from_utf8_lossy(&body));
        s.send(s.http.get(format!("{base}/search"))).await;
        s
    }

    /// Issue a domestic certificate for 宛名番号 1001 and fetch its PDF from the print page.
    pub(crate) async fn issue(&mut self) -> Vec<u8> {
        let form = [("kind", "domestic".to_owned()), ("csrf", self.csrf.clone())];
        let (status, location, body) = self
            .send(
                self.http
                    .post(format!("{}/residents/1001/issue", self.base))
                    .form(&form),
            )
            .await;
        assert_eq!(status, 303, "{}", String::from_utf8_lossy(&body));
        let print = location.unwrap();
        self.send(self.http.get(format!("{}{print}", self.base)))
            .await;
        let (status, _, pdf) = self
            .send(self.http.get(format!("{}{print}/pdf", self.base)))
            .await;
        assert_eq!(status, 200);
        pdf
    }
}
