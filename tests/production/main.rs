//! Production issuance, as the README's "Running in production" sets it up: the key ceremony
//! makes the signing keys inside a throw-away SoftHSM2 token (its own `SOFTHSM2_CONF` under a
//! temporary folder), `records serve` starts from a configuration file without `--dev`, and a
//! certificate issued at the counter is checked with independent tools: the SHC under the JWKS
//! the ceremony wrote (p256), the PDF with poppler's `pdfsig`, the token's keys with OpenSC's
//! `pkcs11-tool`. Every kind of dev material is refused at start, named.

#[path = "../common/artefacts.rs"]
mod artefacts;
#[path = "../common/counter.rs"]
mod counter;
#[path = "../common/totp.rs"]
mod totp;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "246810";
const ISS: &str = "https://vaccines.test-city.example/issuer";

/// A throw-away deployment folder with its own SoftHSM2 token store.
struct Deployment {
    dir: tempfile::TempDir,
}

impl Deployment {
    fn new() -> Self {
        assert!(
            Path::new(MODULE).exists(),
            "softhsm2 is not installed: run ./vx setup"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tokens")).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .unwrap();
        let d = Deployment { dir };
        let out = d
            .cmd("softhsm2-util")
            .args(["--init-token", "--free", "--label", "vaxcert"])
            .args(["--pin", PIN, "--so-pin", "13579135"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        d
    }

    /// A deployment after `keys init` (self-signed, in its token) with its TLS material.
    fn with_keys() -> Self {
        let d = Self::new();
        d.write_keys_config();
        let init = d.vaxcert(&["keys", "init", "--config", "keys.toml"]);
        assert!(
            init.status.success(),
            "{}",
            String::from_utf8_lossy(&init.stderr)
        );
        d.tls();
        d
    }

    fn write_keys_config(&self) {
        self.write(
            "keys.toml",
            &format!(
                "out = \"keys\"\niss = \"{ISS}\"\norganisation = \"Test City\"\nself_signed = true\n\n[hsm]\nmodule = \"{MODULE}\"\ntoken = \"vaxcert\"\n"
            ),
        );
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// A command run in the deployment folder (never the source tree), with the token's
    /// configuration and the PIN in the environment, as a secret store would give it.
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.dir.path())
            .env("SOFTHSM2_CONF", self.path("softhsm2.conf"))
            .env("VAXCERT_HSM_PIN", PIN);
        c
    }

    fn vaxcert(&self, args: &[&str]) -> std::process::Output {
        self.cmd(env!("CARGO_BIN_EXE_vaxcert"))
            .args(args)
            .output()
            .unwrap()
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    /// `openssl`-made TLS material (not vaxcert's): a server CA with a records certificate for
    /// 127.0.0.1, and a gateway CA with the app's and the center's client certificates.
    fn tls(&self) {
        let tls = self.path("tls");
        std::fs::create_dir_all(&tls).unwrap();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .current_dir(&tls)
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        for ca in ["server-ca", "gateway-ca", "kiosk-ca"] {
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{ca}.key.pem"),
                "-out",
                &format!("{ca}.crt.pem"),
                "-subj",
                &format!("/CN=Test City {ca}/O=Test City"),
                "-days",
                "30",
            ]);
        }
        std::fs::write(
            tls.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        std::fs::write(tls.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (leaf, ca, ext, serial) in [
            ("records", "server-ca", "server.ext", "2"),
            ("app-server", "server-ca", "server.ext", "5"),
            ("center-server", "server-ca", "server.ext", "6"),
            ("app-gateway", "gateway-ca", "client.ext", "3"),
            ("center", "gateway-ca", "client.ext", "4"),
            ("kiosk-01", "kiosk-ca", "client.ext", "7"),
        ] {
            openssl(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{leaf}.key.pem"),
                "-out",
                &format!("{leaf}.csr"),
                "-subj",
                &format!("/CN={leaf}/O=Test City"),
            ]);
            openssl(&[
                "x509",
                "-req",
                "-in",
                &format!("{leaf}.csr"),
                "-CA",
                &format!("{ca}.crt.pem"),
                "-CAkey",
                &format!("{ca}.key.pem"),
                "-set_serial",
                serial,
                "-days",
                "30",
                "-extfile",
                ext,
                "-out",
                &format!("{leaf}.crt.pem"),
            ]);
        }
    }

    /// `role serve --config FILE` (or `kiosk --config`), up: the URL it announced.
    fn start(&self, args: &[&str], announce: &str) -> (Child, String) {
        let mut child = self
            .cmd(env!("CARGO_BIN_EXE_vaxcert"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(url) = line.trim().strip_prefix(announce) else {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{args:?} did not start: {line}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let url = url.trim_end_matches('/').to_owned();
        (child, url)
    }

    fn records_config(&self, changes: &[(&str, &str)]) -> PathBuf {
        let mut fields = vec![
            ("database_url", "\"sqlite://records.db\"".to_owned()),
            ("keys_dir", "\"keys/secrets\"".to_owned()),
            (
                "challenge_key",
                "\"keys/secrets/challenge-hmac.key\"".to_owned(),
            ),
            ("token_key", "\"keys/secrets/preview-token.key\"".to_owned()),
            ("signing_keys_dir", "\"keys\"".to_owned()),
            ("tls_dir", "\"tls\"".to_owned()),
            ("trust", "\"5000033\"".to_owned()),
            ("listen", "\"127.0.0.1:0\"".to_owned()),
            ("counter_listen", "\"127.0.0.1:0\"".to_owned()),
            ("counter_plain_http", "true".to_owned()),
            ("publication_dir", "\"publication\"".to_owned()),
            ("card_ca_keys", "[]".to_owned()),
        ];
        for (k, v) in changes {
            if let Some(f) = fields.iter_mut().find(|(name, _)| name == k) {
                f.1 = (*v).to_owned();
            }
        }
        let mut text: String = fields.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        text.push_str(&format!(
            "\n[hsm]\nmodule = \"{MODULE}\"\ntoken = \"vaxcert\"\n"
        ));
        let name = format!("records-{}.toml", changes.len() + rand_suffix());
        self.write(&name, &text);
        self.path(&name)
    }
}

fn rand_suffix() -> usize {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed) * 100
}

/// `records serve --config FILE`, up: the counter's base URL.
struct Records {
    child: Child,
    counter: String,
    api: String,
}

impl Records {
    fn start(d: &Deployment, config: &Path) -> Self {
        let mut child = d
            .cmd(env!("CARGO_BIN_EXE_vaxcert"))
            .args(["records", "serve", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut counter, mut api) = (None, None);
        while counter.is_none() || api.is_none() {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("records: counter UI on ") {
                        counter = Some(url.trim_end_matches('/').to_owned());
                    }
                    if let Some(url) = line.strip_prefix("records: internal API on ") {
                        api = Some(url.to_owned());
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let out = child.wait_with_output().unwrap();
                    panic!(
                        "records serve did not start: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
        Records {
            child,
            counter: counter.unwrap(),
            api: api.unwrap(),
        }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// `app serve --config app.toml`, up: its `/.well-known/jwks.json`.
fn gateway_jwks(d: &Deployment) -> serde_json::Value {
    let mut child = d
        .cmd(env!("CARGO_BIN_EXE_vaxcert"))
        .args(["app", "serve", "--config", "app.toml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("app gateway: listening on ")
        .unwrap_or_else(|| panic!("app serve did not start: {line}"))
        .to_owned();
    let body = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "30",
            &format!("{url}/.well-known/jwks.json"),
        ])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    serde_json::from_slice(&body.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&body.stdout)))
}

/// Issue one domestic certificate at the counter (the seed's clerk, 宛名番号 1001).
fn issue_at_counter(records: &Records, seed_stdout: &str, code_offset: i64) -> Vec<u8> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (password, secret) = counter::counter_login(seed_stdout);
    let _ = rustls::crypto::ring::default_provider().install_default();
    rt.block_on(async {
        let mut s = counter::CounterSession::login_with_code_at(
            &records.counter,
            &password,
            &secret,
            code_offset,
        )
        .await;
        s.issue().await
    })
}

fn shc_of(pdf: &[u8], dir: &Path) -> String {
    artefacts::pdf_qr_texts(pdf, dir)
        .into_iter()
        .find(|t| t.starts_with("shc:/"))
        .expect("the PDF carries an SHC QR")
}

fn kid_of(shc: &str) -> String {
    use base64::Engine;
    let jws = artefacts::jws_from_numeric(shc);
    let header = jws.split('.').next().unwrap();
    let h: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    h["kid"].as_str().unwrap().to_owned()
}

fn jwks(path: PathBuf) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn keys_made_in_the_token_sign_what_the_counter_issues_and_rotate() {
    let d = Deployment::new();
    d.write_keys_config();
    let check = d.vaxcert(&["config", "check", "keys.toml"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let init = d.vaxcert(&["keys", "init", "--config", "keys.toml"]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    for csr in [
        "shc/vaxcert-shc-issuer-1.csr.pem",
        "icao/vaxcert-bsc-1.csr.pem",
        "pdf/vaxcert-pdf-signer-1.csr.pem",
    ] {
        let text = std::fs::read_to_string(d.path("keys").join(csr)).unwrap();
        assert!(
            text.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
            "{csr}"
        );
    }
    // Secrets are the owner's alone.
    use std::os::unix::fs::PermissionsExt;
    for s in [
        "challenge-hmac.key",
        "preview-token.key",
        "mynumber-aes.key",
        "audit-checkpoint.key.pem",
    ] {
        let mode = std::fs::metadata(d.path("keys/secrets").join(s))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{s} is readable by others");
    }
    // The ceremony runs once.
    let again = d.vaxcert(&["keys", "init", "--config", "keys.toml"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("[ceremony-state]"));

    // Every private key on the token is sensitive and was never extractable.
    let objects = d
        .cmd("pkcs11-tool")
        .args([
            "--module",
            MODULE,
            "--token-label",
            "vaxcert",
            "--login",
            "--pin",
            PIN,
            "-O",
        ])
        .output()
        .expect("pkcs11-tool (opensc) is installed: run ./vx setup");
    let listing = String::from_utf8_lossy(&objects.stdout);
    let private: Vec<&str> = listing.split("Private Key Object").skip(1).collect();
    assert_eq!(private.len(), 5, "{listing}");
    for p in private {
        let access = p
            .lines()
            .find(|l| l.trim_start().starts_with("Access:"))
            .unwrap_or("");
        assert!(
            access.contains("never extractable") && access.contains("sensitive"),
            "{p}"
        );
    }

    d.tls();
    let seed = d.vaxcert(&[
        "records",
        "--keys-dir",
        "keys/secrets",
        "--database-url",
        "sqlite://records.db",
        "seed-demo",
    ]);
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let seed_stdout = String::from_utf8_lossy(&seed.stdout).into_owned();
    let config = d.records_config(&[]);
    let check = d.vaxcert(&["config", "check", config.to_str().unwrap()]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&check.stdout).contains("sqlite://records.db"),
        "the database URL is a secret"
    );

    let records = Records::start(&d, &config);
    let pdf = issue_at_counter(&records, &seed_stdout, 0);
    // The app gateway from its own configuration relays the JWKS records publishes.
    d.write(
        "app.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nrecords_url = \"{}\"\ntls_dir = \"tls\"\nplain_http = true\ntrust_dir = \"{}\"\n",
            records.api,
            Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/trust").display()
        ),
    );
    let served = gateway_jwks(&d);
    assert_eq!(
        served["keys"][0]["kid"],
        jwks(d.path("keys/jwks.json"))["keys"][0]["kid"]
    );
    records.stop();
    let work = tempfile::tempdir().unwrap();
    let sig = artefacts::pdfsig(&pdf, work.path());
    assert!(sig.contains("Signature is Valid"), "{sig}");
    assert!(
        sig.contains("Test City PDF Signer"),
        "the PDF is signed by the token's PDF key: {sig}"
    );
    let first = shc_of(&pdf, work.path());
    let ceremony_jwks = jwks(d.path("keys/jwks.json"));
    let payload = artefacts::verify_shc(&first, &ceremony_jwks);
    assert_eq!(payload["iss"], ISS);
    let first_kid = kid_of(&first);

    // Rotation: a new SHC key signs; the old one stays published and its card still verifies.
    let rotate = d.vaxcert(&["keys", "rotate", "--config", "keys.toml"]);
    assert!(
        rotate.status.success(),
        "{}",
        String::from_utf8_lossy(&rotate.stderr)
    );
    let records = Records::start(&d, &config);
    let pdf = issue_at_counter(&records, &seed_stdout, 30);
    records.stop();
    let second = shc_of(&pdf, work.path());
    let published = jwks(d.path("publication/jwks.json"));
    assert_eq!(
        published["keys"].as_array().unwrap().len(),
        2,
        "{published}"
    );
    artefacts::verify_shc(&second, &published);
    artefacts::verify_shc(&first, &published);
    assert_ne!(
        kid_of(&second),
        first_kid,
        "new certificates carry the new kid"
    );
    for kid in [first_kid, kid_of(&second)] {
        assert!(
            d.path(&format!("publication/crl/{kid}.json")).exists(),
            "a CRL per kid"
        );
    }
}

#[test]
fn every_kind_of_denylist_is_refused_at_start_named() {
    let d = Deployment::with_keys();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/dev");
    // Copies of dev secrets are recognised by content, wherever they are.
    let copies = d.path("copied");
    std::fs::create_dir_all(&copies).unwrap();
    for f in [
        "challenge-hmac.key",
        "records/mynumber-hmac.key",
        "records/mynumber-aes.key",
        "records/totp-aes.key",
        "records/audit-checkpoint.key.pem",
    ] {
        let to = copies.join(Path::new(f).file_name().unwrap());
        std::fs::copy(src.join(f), &to).unwrap();
        std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    }
    let dev_tls = format!("\"{}\"", src.join("tls").display());
    let copied = format!("\"{}\"", copies.display());
    let dev_challenge = format!("\"{}\"", copies.join("challenge-hmac.key").display());
    let dev_ca = format!(
        "[{{ key_id = \"9100033\", modulus_file = \"{}\" }}]",
        src.join("jlis/ca.modulus.hex").display()
    );
    for (change, named) in [
        (("tls_dir", dev_tls.as_str()), "records.crt.pem"),
        (("keys_dir", copied.as_str()), "mynumber-hmac.key"),
        (
            ("challenge_key", dev_challenge.as_str()),
            "challenge-hmac.key",
        ),
        (("trust", "\"5000033,dev\""), "dev"),
        (("card_ca_keys", dev_ca.as_str()), "ca.modulus.hex"),
    ] {
        let config = d.records_config(&[change]);
        let out = d.vaxcert(&["records", "serve", "--config", config.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{change:?} started");
        assert!(err.contains("[dev-key-in-production]"), "{change:?}: {err}");
        assert!(err.contains(named), "{change:?} names {named}: {err}");
    }
    // The dev signing keys, even under a production manifest, are refused too.
    let keys = d.path("devkeys");
    for kind in ["shc", "icao", "pdf"] {
        std::fs::create_dir_all(keys.join(kind)).unwrap();
    }
    for (from, to) in [
        ("shc/issuer", "shc/issuer"),
        ("icao/bsc", "icao/bsc"),
        ("pdf/signer", "pdf/signer"),
    ] {
        for ext in ["key.pem", "crt.pem"] {
            let dest = keys.join(format!("{to}.{ext}"));
            std::fs::copy(src.join(format!("{from}.{ext}")), &dest).unwrap();
            std::fs::set_permissions(&dest, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
        }
    }
    std::fs::write(
        keys.join("signing.toml"),
        format!("iss = \"{ISS}\"\nbackend = \"files\"\nshc_keys = [\"issuer\"]\nbsc_key = \"bsc\"\npdf_key = \"signer\"\n"),
    )
    .unwrap();
    let config = d.records_config(&[("signing_keys_dir", "\"devkeys\"")]);
    let out = d.vaxcert(&["records", "serve", "--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[dev-key-in-production]") && err.contains("issuer.crt.pem"),
        "{err}"
    );
}

#[test]
fn the_gateways_and_the_kiosk_refuse_denylist_without_dev() {
    let d = Deployment::new();
    d.tls();
    let dev_tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/dev/tls");
    let dev_tls = dev_tls.to_str().unwrap();
    let kiosk_cert = format!("{dev_tls}/kiosk-01.crt.pem");
    let kiosk_key = format!("{dev_tls}/kiosk-01.key.pem");
    let server_ca = format!("{dev_tls}/server-ca.crt.pem");
    for (args, named) in [
        (
            vec!["app", "serve", "--tls-dir", dev_tls],
            "app-server.crt.pem",
        ),
        (
            vec!["app", "serve", "--tls-dir", "tls", "--trust-dev"],
            "--trust-dev",
        ),
        (
            vec!["center", "serve", "--tls-dir", dev_tls],
            "center-server.crt.pem",
        ),
        (
            vec!["center", "serve", "--tls-dir", "tls", "--trust", "dev"],
            "dev",
        ),
        (
            vec![
                "kiosk",
                "--center-ca",
                &server_ca,
                "--cert",
                &kiosk_cert,
                "--key",
                &kiosk_key,
            ],
            "server-ca.crt.pem",
        ),
    ] {
        let out = d.vaxcert(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(
            err.contains("[dev-key-in-production]") && err.contains(named),
            "{args:?}: {err}"
        );
    }
}

/// A card CA of the deployment's own (not the dev one): an RSA-2048 CA with key ID 9100033, a
/// card issuer it certified, and the default persona's card under them.
struct CardCa {
    issuer: vaxcert::dev::card::DevIssuer,
    card_key: rsa::RsaPrivateKey,
}

impl CardCa {
    fn new(d: &Deployment) -> Self {
        use rsa::traits::PublicKeyParts;
        let make = || rsa::RsaPrivateKey::new(&mut rand::rng(), 2048).unwrap();
        let (ca, issuer, card_key) = (make(), make(), make());
        d.write(
            "card-ca.modulus.hex",
            &format!("{}\n", hex::encode(ca.n_bytes())),
        );
        let cvc = vaxcert::dev::card::make_cvc(
            &ca,
            b"9100033\x08\x05001\0\0\0\0",
            &issuer,
            b"9322131\x08\x05000\0\0\0\0",
        );
        CardCa {
            issuer: vaxcert::dev::card::DevIssuer::from_parts(issuer, cvc),
            card_key,
        }
    }

    /// The default persona's card signing `binding` over `challenge`.
    fn evidence(
        &self,
        challenge: &vaxcert::card::challenge::Challenge,
        binding: &vaxcert::card::challenge::Binding,
    ) -> vaxcert::card::CardEvidence {
        let persona = vaxcert::card_sim::Persona::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/dev/personas/default.toml"),
        )
        .unwrap();
        let img = vaxcert::card_sim::image::CardImage::build(
            &persona,
            &self.issuer,
            self.card_key.clone(),
        );
        let signature = img
            .sign_digest_info(&vaxcert::card::challenge::sha256_digest_info(
                &binding.digest(challenge),
            ))
            .unwrap();
        vaxcert::card::CardEvidence {
            files: img.card_files(),
            challenge: challenge.clone(),
            challenge_signature: signature,
        }
    }
}

#[test]
fn the_app_and_the_kiosk_path_issue_with_keys_in_the_token_and_no_denylist() {
    use vaxcert::card::challenge::Binding;
    use vaxcert::domain::{Channel, Kind, MunicipalityCode};
    let d = Deployment::with_keys();
    let cards = CardCa::new(&d);
    let seed = d.vaxcert(&[
        "records",
        "--keys-dir",
        "keys/secrets",
        "--database-url",
        "sqlite://records.db",
        "seed-demo",
    ]);
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let ca_keys = "[{ key_id = \"9100033\", modulus_file = \"card-ca.modulus.hex\" }]";
    let config = d.records_config(&[("card_ca_keys", ca_keys)]);
    let records = Records::start(&d, &config);
    let trust = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/trust");
    d.write(
        "app.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nrecords_url = \"{}\"\ntls_dir = \"tls\"\nplain_http = true\ntrust_dir = \"{}\"\n",
            records.api,
            trust.display()
        ),
    );
    d.write(
        "center.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nrecords_url = \"{}\"\ntls_dir = \"tls\"\ncard_ca_keys = {ca_keys}\nmetrics = \"127.0.0.1:0\"\n",
            records.api
        ),
    );
    let (mut app, app_url) = d.start(
        &["app", "serve", "--config", "app.toml"],
        "app gateway: listening on ",
    );
    let center = Logged::start(
        &d,
        &["center", "serve", "--config", "center.toml"],
        "center: kiosk API on ",
        "center",
    );
    let center_url = center.url("center: kiosk API on ");
    let jwks = jwks(d.path("keys/jwks.json"));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The app: challenge, preview with the card's evidence, certificate.
        let http = reqwest::Client::new();
        let post = |path: &'static str, body: serde_json::Value| {
            let req = http.post(format!("{app_url}{path}")).json(&body);
            async move {
                let r = req.send().await.unwrap();
                let status = r.status().as_u16();
                let v: serde_json::Value = r.json().await.unwrap();
                assert_eq!(status, 200, "{path}: {v}");
                v
            }
        };
        let ch = post("/v1/challenges", serde_json::json!({})).await;
        let challenge =
            vaxcert::card::challenge::Challenge::from_base64(ch["challenge"].as_str().unwrap())
                .unwrap();
        let binding = Binding {
            channel: Channel::App,
            terminal_id: "phone-1".into(),
            municipality: MunicipalityCode::parse("131016").unwrap(),
            kind: Kind::Domestic,
        };
        let preview = vaxcert::protocol::PreviewRequest {
            municipality: binding.municipality.clone(),
            kind: Kind::Domestic,
            evidence: cards.evidence(&challenge, &binding),
            passport_mrz: None,
            device_id: Some("phone-1".into()),
            terms_version: Some(vaxcert::protocol::TERMS_VERSION.to_owned()),
        };
        let p = post("/v1/previews", serde_json::to_value(&preview).unwrap()).await;
        let c = post(
            "/v1/certificates",
            serde_json::json!({"preview_token": p["preview_token"]}),
        )
        .await;
        let payload = artefacts::verify_shc(c["shc"].as_str().unwrap(), &jwks);
        assert_eq!(payload["iss"], ISS);

        // The kiosk path: the kiosk agent's own mTLS client to the center.
        let kiosk = vaxcert::kiosk::center::CenterClient::new(
            &center_url,
            &d.path("tls/server-ca.crt.pem"),
            &d.path("tls/kiosk-01.crt.pem"),
            &d.path("tls/kiosk-01.key.pem"),
        )
        .unwrap();
        let participating = kiosk.municipalities().await.unwrap();
        let m = participating
            .first()
            .expect("a participating municipality")
            .code
            .clone();
        let ch = kiosk.challenge().await.unwrap();
        let binding = Binding {
            channel: Channel::Kiosk,
            terminal_id: "kiosk-01".into(),
            municipality: m.clone(),
            kind: Kind::Domestic,
        };
        let preview = vaxcert::protocol::PreviewRequest {
            municipality: m,
            kind: Kind::Domestic,
            evidence: cards.evidence(&ch.challenge, &binding),
            passport_mrz: None,
            device_id: None,
            terms_version: Some(vaxcert::protocol::TERMS_VERSION.to_owned()),
        };
        let p = kiosk.preview(&preview).await.unwrap();
        let c = kiosk.certificate(&p.preview_token).await.unwrap();
        artefacts::verify_shc(&c.shc, &jwks);
        let work = tempfile::tempdir().unwrap();
        use base64::Engine;
        let pdf = base64::engine::general_purpose::STANDARD
            .decode(&c.pdf_base64)
            .unwrap();
        let sig = artefacts::pdfsig(&pdf, work.path());
        assert!(
            sig.contains("Signature is Valid") && sig.contains("Test City PDF Signer"),
            "{sig}"
        );
    });
    // Health and readiness for load balancers: every role answers; the gateways are ready only
    // while records answers.
    let curl = |url: String, client: bool| {
        let mut c = Command::new("curl");
        c.args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "20",
        ]);
        if client {
            c.arg("--cacert").arg(d.path("tls/server-ca.crt.pem"));
            c.arg("--cert").arg(d.path("tls/kiosk-01.crt.pem"));
            c.arg("--key").arg(d.path("tls/kiosk-01.key.pem"));
        }
        String::from_utf8_lossy(&c.arg(url).output().unwrap().stdout).into_owned()
    };
    for path in ["/healthz", "/readyz"] {
        assert_eq!(curl(format!("{app_url}{path}"), false), "200", "app {path}");
        assert_eq!(
            curl(format!("{}{path}", records.counter), false),
            "200",
            "records {path}"
        );
        assert_eq!(
            curl(format!("{center_url}{path}"), true),
            "200",
            "center {path}"
        );
    }
    records.stop();
    assert_eq!(curl(format!("{app_url}/healthz"), false), "200");
    assert_eq!(
        curl(format!("{app_url}/readyz"), false),
        "503",
        "no records: not ready"
    );
    assert_eq!(curl(format!("{center_url}/readyz"), true), "503");
    let at_center = center.scrape();
    assert_eq!(
        sample(
            &at_center,
            r#"vaxcert_http_requests_total{route="/v1/kiosk/certificates",method="POST",status="200"}"#
        ),
        1.0
    );
    assert!(!at_center.contains("kiosk-01"), "no terminal id in metrics");
    let _ = app.kill();
    let _ = app.wait();
    center.stop();
}

/// A role started with `--log-format json`, its stderr in a file and its announced lines read
/// until `announce` (the metrics listener announces itself first).
struct Logged {
    child: Child,
    log: PathBuf,
    announced: Vec<String>,
}

impl Logged {
    fn start(d: &Deployment, args: &[&str], announce: &str, name: &str) -> Self {
        let log = d.path(&format!("{name}.log"));
        let mut child = d
            .cmd(env!("CARGO_BIN_EXE_vaxcert"))
            .arg("--log-format=json")
            .args(args)
            .env("VAXCERT_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut announced = Vec::new();
        while !announced.iter().any(|l: &String| l.starts_with(announce)) {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{args:?} did not start: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            };
            announced.push(line);
        }
        // Keep reading, so later announcements never block the role on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Logged {
            child,
            log,
            announced,
        }
    }

    /// The URL announced after `prefix`.
    fn url(&self, prefix: &str) -> String {
        self.announced
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("nothing announced as {prefix:?}: {:?}", self.announced))
            .trim_end_matches('/')
            .to_owned()
    }

    fn scrape(&self) -> String {
        let url = self.url("metrics on ");
        let out = Command::new("curl")
            .args(["-s", "--fail", "--max-time", "20", &url])
            .output()
            .unwrap();
        assert!(out.status.success(), "scrape {url} failed");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Stop the role (SIGTERM) and return its log, one JSON object per line.
    fn stop(mut self) -> Vec<serde_json::Value> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

/// The value of one Prometheus sample, by its exact name and labels text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
}

/// The routes of the log lines that carry `request_id`.
fn routes_of(log: &[serde_json::Value], request_id: &str) -> Vec<String> {
    log.iter()
        .filter(|l| l["span"]["request_id"] == request_id)
        .filter_map(|l| l["span"]["route"].as_str().map(str::to_owned))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[test]
fn metrics_and_json_logs_follow_one_issuance_and_hold_nothing_personal() {
    use vaxcert::card::challenge::Binding;
    use vaxcert::domain::{Channel, Kind, MunicipalityCode};
    let d = Deployment::with_keys();
    let cards = CardCa::new(&d);
    let seed = d.vaxcert(&[
        "records",
        "--keys-dir",
        "keys/secrets",
        "--database-url",
        "sqlite://records.db",
        "seed-demo",
    ]);
    assert!(seed.status.success());
    let ca_keys = "[{ key_id = \"9100033\", modulus_file = \"card-ca.modulus.hex\" }]";
    let config = std::fs::read_to_string(d.records_config(&[("card_ca_keys", ca_keys)]))
        .unwrap()
        .replacen('\n', "\nmetrics = \"127.0.0.1:0\"\n", 1);
    d.write("records-metrics.toml", &config);
    let records = Logged::start(
        &d,
        &["records", "serve", "--config", "records-metrics.toml"],
        "records: counter UI on ",
        "records",
    );
    let trust = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/trust");
    d.write(
        "app-metrics.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\nrecords_url = \"{}\"\ntls_dir = \"tls\"\nplain_http = true\ntrust_dir = \"{}\"\nmetrics = \"127.0.0.1:0\"\n",
            records.url("records: internal API on "),
            trust.display()
        ),
    );
    let app = Logged::start(
        &d,
        &["app", "serve", "--config", "app-metrics.toml"],
        "app gateway: listening on ",
        "app",
    );
    let app_url = app.url("app gateway: listening on ");
    let jwks = jwks(d.path("keys/jwks.json"));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let certificate_id = rt.block_on(async {
        let http = reqwest::Client::new();
        let post = |path: &'static str, body: serde_json::Value, id: &'static str| {
            let req = http
                .post(format!("{app_url}{path}"))
                .header("x-request-id", id)
                .json(&body);
            async move {
                let r = req.send().await.unwrap();
                let status = r.status().as_u16();
                assert_eq!(r.headers()["x-request-id"], id, "the id is answered back");
                let v: serde_json::Value = r.json().await.unwrap();
                (status, v)
            }
        };
        let (_, ch) = post("/v1/challenges", serde_json::json!({}), "t-challenge").await;
        let challenge =
            vaxcert::card::challenge::Challenge::from_base64(ch["challenge"].as_str().unwrap())
                .unwrap();
        let binding = Binding {
            channel: Channel::App,
            terminal_id: "phone-1".into(),
            municipality: MunicipalityCode::parse("131016").unwrap(),
            kind: Kind::Domestic,
        };
        let preview = vaxcert::protocol::PreviewRequest {
            municipality: binding.municipality.clone(),
            kind: Kind::Domestic,
            evidence: cards.evidence(&challenge, &binding),
            passport_mrz: None,
            device_id: Some("phone-1".into()),
            terms_version: Some(vaxcert::protocol::TERMS_VERSION.to_owned()),
        };
        let (_, p) = post(
            "/v1/previews",
            serde_json::to_value(&preview).unwrap(),
            "t-preview",
        )
        .await;
        let token = serde_json::json!({"preview_token": p["preview_token"]});
        let (status, c) = post("/v1/certificates", token.clone(), "t-issue-1").await;
        assert_eq!(status, 200, "{c}");
        // The same request again (a lost answer) gets the same certificate, not a second one.
        let (status, again) = post("/v1/certificates", token, "t-issue-2").await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["certificate_id"], c["certificate_id"]);
        let shc = c["shc"].as_str().unwrap().to_owned();
        artefacts::verify_shc(&shc, &jwks);
        // What the issuer publishes is open to browser-based verifiers (CORS), as SHC asks.
        let published = http
            .get(format!("{app_url}/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(published.headers()["access-control-allow-origin"], "*");
        let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
        let crl = http
            .get(format!("{app_url}/.well-known/crl/{kid}.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(crl.status().as_u16(), 200);
        assert_eq!(crl.headers()["access-control-allow-origin"], "*");
        // A verdict and a refused input at the gateway's verifier.
        let (status, _) = post(
            "/v1/verify",
            serde_json::json!({"texts": ["not a certificate"]}),
            "t-verify",
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = post(
            "/v1/verify",
            serde_json::json!({"texts": vec![""; 17]}),
            "t-verify-many",
        )
        .await;
        assert_eq!(status, 413);
        c["certificate_id"].as_str().unwrap().to_owned()
    });

    let at_records = records.scrape();
    let at_app = app.scrape();
    assert_eq!(
        sample(
            &at_records,
            r#"vaxcert_issuances_total{channel="app",kind="domestic",outcome="issued"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &at_records,
            r#"vaxcert_issuances_total{channel="app",kind="domestic",outcome="redelivered"}"#
        ),
        1.0
    );
    assert!(
        sample(
            &at_records,
            r#"vaxcert_signing_duration_seconds_count{backend="pkcs11"}"#
        ) >= 1.0
    );
    sample(&at_records, r#"vaxcert_db_pool_connections{state="idle"}"#);
    assert_eq!(
        sample(
            &at_records,
            r#"vaxcert_http_requests_total{route="/internal/v1/certificates",method="POST",status="200"}"#
        ),
        2.0
    );
    assert_eq!(
        sample(
            &at_app,
            r#"vaxcert_http_requests_total{route="/v1/certificates",method="POST",status="200"}"#
        ),
        2.0
    );
    assert!(
        sample(
            &at_app,
            r#"vaxcert_http_request_duration_seconds_count{route="/v1/previews"}"#
        ) >= 1.0
    );
    assert_eq!(
        sample(
            &at_app,
            r#"vaxcert_refusals_total{code="too-many-inputs",status="413"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &at_app,
            r#"vaxcert_verifier_verdicts_total{format="unrecognised",verdict="invalid",reason="unrecognised-input"}"#
        ),
        1.0
    );
    let personal = [
        "山田",
        "123456789018",
        "phone-1",
        &certificate_id,
        "127.0.0.1",
    ];
    for (role, text) in [("records", &at_records), ("app", &at_app)] {
        for p in personal {
            assert!(!text.contains(p), "{role}'s metrics hold {p:?}");
        }
    }

    // One issuance followed across processes by its request id, in JSON lines.
    let app_log = app.stop();
    let records_log = records.stop();
    assert_eq!(routes_of(&app_log, "t-issue-1"), ["/v1/certificates"]);
    assert_eq!(
        routes_of(&records_log, "t-issue-1"),
        ["/internal/v1/certificates"]
    );
    assert_eq!(
        routes_of(&records_log, "t-preview"),
        ["/internal/v1/previews"]
    );
    for (role, log) in [("records", &records_log), ("app", &app_log)] {
        let text = serde_json::to_string(log).unwrap();
        for p in ["山田", "123456789018", "\"pin\""] {
            assert!(!text.contains(p), "{role}'s log holds {p:?}");
        }
    }
}
