//! Issuing speed per core: the SHC (sign + DEFLATE + QR matrix), the VDS-NC, and the ES256 step
//! with ring against p256 (the faster one is what `pki::FileSigner` uses).
//!
//! Run: `cargo bench --bench issue`. OpenSSL's `speed ecdsap256` sign rate is printed first as
//! the floor for the signature step.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use p256::ecdsa::signature::Signer as _;
use vaxcert::catalogue::product;
use vaxcert::clock::UnixTime;
use vaxcert::dev;
use vaxcert::domain::{BirthDate, CertificateId, Kind};
use vaxcert::formats::Dose;
use vaxcert::issuance::certificate::{Passport, Request};
use vaxcert::pki::Signer;

fn openssl_floor() {
    let Ok(out) = std::process::Command::new("openssl")
        .args(["speed", "-seconds", "2", "ecdsap256"])
        .output()
    else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    // " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  40000.0  13000.0"
    if let Some(line) = text.lines().find(|l| l.contains("ecdsa (nistp256)")) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let n = cols.len();
        println!(
            "floor: openssl speed ecdsap256: sign {}/s, verify {}/s per core",
            cols[n - 2],
            cols[n - 1]
        );
    }
}

fn request(kind: Kind) -> Request {
    let p = product("pfizer-comirnaty").expect("product");
    Request {
        id: CertificateId::random(),
        kind,
        name: "山田　太郎".into(),
        alias: None,
        birth_date: BirthDate::parse("19850401").expect("date"),
        doses: (1..=3)
            .map(|seq| Dose {
                seq,
                date: BirthDate::parse(&format!("2021-0{}-01", seq + 5)).expect("date"),
                product: p,
                lot: format!("FA{seq}765"),
            })
            .collect(),
        passport: Some(Passport {
            name: "YAMADA TARO".into(),
            number: "TR0012345".into(),
            nationality: "JPN".into(),
            former_name: None,
        }),
        issued_at: UnixTime(1_800_000_000),
    }
}

/// The JSON payload of a compact JWS whose payload is raw-DEFLATEd.
fn inflated_payload(jws: &str) -> Vec<u8> {
    use base64::Engine as _;
    use std::io::Read as _;
    let b64 = jws.split('.').nth(1).expect("payload");
    let deflated = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .expect("base64url");
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_end(&mut out)
        .expect("inflate");
    out
}

fn bench(c: &mut Criterion) {
    openssl_floor();
    let issuer = dev::issuer().expect("dev keys");
    let domestic = request(Kind::Domestic);
    let overseas = request(Kind::Overseas);

    c.bench_function("issue/shc_sign_deflate_qr", |b| {
        b.iter(|| {
            let issued = issuer.issue(black_box(&domestic)).expect("issue");
            issued.shc.qr().expect("qr")
        })
    });
    let issued = issuer.issue(&domestic).expect("issue");
    c.bench_function("issue/shc_sign_deflate_only", |b| {
        b.iter(|| issuer.issue(black_box(&domestic)).expect("issue"))
    });
    c.bench_function("issue/shc_qr_matrix_only", |b| {
        b.iter(|| black_box(&issued.shc).qr().expect("qr"))
    });
    let payload = inflated_payload(issued.shc.jws());
    println!(
        "SHC payload: {} bytes JSON, {} bytes raw DEFLATE",
        payload.len(),
        vaxcert::formats::shc::deflate(&payload)
            .expect("deflate")
            .len()
    );
    c.bench_function("issue/shc_deflate_only", |b| {
        b.iter(|| vaxcert::formats::shc::deflate(black_box(&payload)).expect("deflate"))
    });
    let digits = vaxcert::formats::shc::numeric(issued.shc.jws());
    let v = vaxcert::formats::qr::version(&issued.shc.qr().expect("qr"));
    c.bench_function("qr/bits_only_direct_version", |b| {
        b.iter(|| {
            let mut bits = qrcode::bits::Bits::new(qrcode::Version::Normal(v));
            bits.push_byte_data(b"shc:/").expect("b");
            bits.push_numeric_data(black_box(digits.as_bytes()))
                .expect("n");
            bits.push_terminator(qrcode::EcLevel::L).expect("t");
            bits
        })
    });
    c.bench_function("qr/with_bits_direct_version", |b| {
        b.iter(|| {
            let mut bits = qrcode::bits::Bits::new(qrcode::Version::Normal(v));
            bits.push_byte_data(b"shc:/").expect("b");
            bits.push_numeric_data(black_box(digits.as_bytes()))
                .expect("n");
            bits.push_terminator(qrcode::EcLevel::L).expect("t");
            qrcode::QrCode::with_bits(bits, qrcode::EcLevel::L).expect("qr")
        })
    });
    c.bench_function("issue/shc_and_vdsnc_with_qrs", |b| {
        b.iter(|| {
            let issued = issuer.issue(black_box(&overseas)).expect("issue");
            let v = issued.vdsnc.expect("vdsnc");
            (
                issued.shc.qr().expect("qr"),
                vaxcert::formats::qr::bytes(v.as_bytes()).expect("qr"),
            )
        })
    });

    let ring = dev::shc_signer().expect("key");
    let rc = dev::load_p256(&dev::dir().join("shc/issuer.key.pem")).expect("key");
    let msg = [0x42u8; 600];
    c.bench_function("es256_sign/ring", |b| {
        b.iter(|| ring.sign_es256(black_box(&msg)).expect("sign"))
    });
    c.bench_function("es256_sign/p256", |b| {
        b.iter(|| {
            let s: p256::ecdsa::Signature = rc.sign(black_box(&msg));
            s
        })
    });
    let _: Arc<dyn Signer> = Arc::new(ring);
    softhsm(c, &domestic);
}

/// The same SHC issue with the issuer key in a throw-away SoftHSM2 token (PKCS#11, CKM_ECDSA),
/// beside the file-key figure above: `issue/shc_sign_deflate_only` vs `issue_softhsm/…`.
/// SoftHSM2 reads `SOFTHSM2_CONF` when the module loads, so the bench makes the token and then
/// runs itself again, only this group, with that variable set.
fn softhsm(c: &mut Criterion, domestic: &Request) {
    use vaxcert::pki::pkcs11::{Token, TokenConfig};
    let module = vaxcert::pki::pkcs11::softhsm_module();
    if !module.exists() {
        println!("softhsm2 is not installed (./vx setup): no PKCS#11 figure");
        return;
    }
    if std::env::var_os("VAXCERT_BENCH_SOFTHSM").is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("softhsm2.conf");
        std::fs::create_dir_all(dir.path().join("tokens")).expect("tokens");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .expect("conf");
        let init = std::process::Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", "bench"])
            .args(["--pin", "1234", "--so-pin", "5678"])
            .status()
            .expect("softhsm2-util");
        assert!(init.success());
        let again = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args(["--bench", "issue_softhsm"])
            .env("SOFTHSM2_CONF", &conf)
            .env("VAXCERT_BENCH_SOFTHSM", "1")
            .status()
            .expect("bench");
        assert!(again.success());
        return;
    }
    let token = Token::open(&TokenConfig {
        module: module.to_owned(),
        token_label: "bench".into(),
        pin: "1234".to_owned().into(),
    })
    .expect("token");
    let key = token.generate_p256("bench-shc").expect("key");
    let issuer = vaxcert::issuance::certificate::Issuer::new(
        dev::SHC_ISS.into(),
        Arc::new(key),
        Arc::new(dev::bsc_signer().expect("bsc")),
        dev::bsc_der().expect("bsc"),
    );
    c.bench_function("issue_softhsm/shc_sign_deflate_only", |b| {
        b.iter(|| issuer.issue(black_box(domestic)).expect("issue"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
