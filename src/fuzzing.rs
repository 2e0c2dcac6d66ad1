//! Entry points for every parser of outside input, one per `fuzz/` target: the cargo-fuzz
//! targets call these, and `tests/fuzz` replays the committed corpus (and every crash found)
//! through the same functions on stable, so a regression fails CI. Each takes raw bytes and
//! must return without panicking, whatever they are; results are discarded.
//!
//! Hidden from the docs: not an API, a test seam. Nothing here holds a key that matters: the
//! records harness makes throw-away keys in a temporary folder.

use std::sync::OnceLock;

use crate::clock::UnixTime;

/// 2026-01-01: a fixed time, so a corpus replays the same way every day.
const AT: UnixTime = UnixTime(1_767_225_600);

fn trust() -> &'static crate::verify::TrustStore {
    static T: OnceLock<crate::verify::TrustStore> = OnceLock::new();
    T.get_or_init(|| {
        crate::verify::TrustStore::builtin().unwrap_or_else(|_| crate::verify::TrustStore::empty())
    })
}

/// The verifier's input dispatch (text, file, picture), as `POST /v1/verify` gets it.
pub fn verify_input(data: &[u8]) {
    let _ = crate::verify::verify_inputs(&[data.to_vec()], trust(), AT);
}

/// SHC past its encodings: `data` becomes the payload of a compact JWS (raw DEFLATE,
/// base64url), so the fuzzer works on the inflated JSON.
pub fn shc_payload(data: &[u8]) {
    use base64::Engine;
    use std::io::Write;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = z.write_all(data);
    let deflated = z.finish().unwrap_or_default();
    let jws = format!(
        "{}.{}.{}",
        b64.encode(br#"{"alg":"ES256","zip":"DEF","kid":"k"}"#),
        b64.encode(deflated),
        b64.encode([0u8; 64])
    );
    let _ = crate::verify::verify_text(&jws, trust(), AT);
    let _ = crate::verify::verify_text(&String::from_utf8_lossy(data), trust(), AT);
}

/// EU DCC past its encodings: `data` is the COSE/CBOR, zlib-compressed and base45-encoded
/// behind `HC1:` here.
pub fn hc1_cose(data: &[u8]) {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = z.write_all(data);
    let text = format!("HC1:{}", base45(&z.finish().unwrap_or_default()));
    let _ = crate::verify::verify_text(&text, trust(), AT);
}

fn base45(data: &[u8]) -> String {
    const A: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let mut out = String::new();
    for c in data.chunks(2) {
        let mut n = c.iter().fold(0usize, |n, &b| n * 256 + usize::from(b));
        let digits = if c.len() == 2 { 3 } else { 2 };
        for _ in 0..digits {
            out.push(char::from(A[n % 45]));
            n /= 45;
        }
    }
    out
}

/// VDS-NC JSON as text.
pub fn vdsnc_json(data: &[u8]) {
    let _ = crate::verify::verify_text(&String::from_utf8_lossy(data), trust(), AT);
}

/// QR codes from PNG, JPEG or SVG pictures.
pub fn qr_image(data: &[u8]) {
    let _ = crate::verify::qr::decode(data);
    let _ = crate::verify::qr::decode_svg(data);
}

/// Card files split from one buffer: five big-endian u16 lengths, then the files' bytes.
fn split_files(data: &[u8]) -> crate::card::CardFiles {
    let (lens, mut rest) = data.split_at(data.len().min(10));
    let mut take = |i: usize| {
        let n = match lens.get(2 * i..2 * i + 2) {
            Some(&[a, b]) => usize::from(u16::from_be_bytes([a, b])),
            _ => 0,
        };
        let (a, b) = rest.split_at(rest.len().min(n));
        rest = b;
        a.to_vec()
    };
    crate::card::CardFiles {
        ef0001: take(0),
        ef0002: take(1),
        ef0003: take(2),
        ef0004: take(3),
        ef0007: take(4),
    }
}

/// The TEXT AP files through steps 1–4 (TLV, CVC, signatures, digests).
pub fn card_files(data: &[u8]) {
    static T: OnceLock<crate::card::TrustSet> = OnceLock::new();
    let t = T.get_or_init(|| crate::card::TrustSet::parse("6000033").expect("built-in key"));
    let _ = crate::card::verify_card_files(&split_files(data), t);
}

/// Each file parser alone, and the TLV reader, on the same bytes.
pub fn card_tlv(data: &[u8]) {
    let _ = crate::card::tlv::outer(data).and_then(|o| crate::card::tlv::children(o.value));
    let _ = crate::card::files::cvc(data);
    let _ = crate::card::files::integrity(data);
    let _ = crate::card::files::signed_key(data);
    let _ = crate::card::files::attributes(data);
    let _ = crate::card::files::my_number_digits(data);
}

/// Card evidence as the gateways receive it (JSON), then verified.
pub fn evidence_json(data: &[u8]) {
    if let Ok(e) = serde_json::from_slice::<crate::card::CardEvidence>(data) {
        card_files_of(&e.files);
    }
    let _ = serde_json::from_slice::<crate::protocol::PreviewRequest>(data);
}

fn card_files_of(files: &crate::card::CardFiles) {
    if let Ok(t) = crate::card::TrustSet::parse("6000033") {
        let _ = crate::card::verify_card_files(files, &t);
    }
}

/// A TD3 MRZ.
pub fn mrz(data: &[u8]) {
    let _ = crate::formats::mrz::Td3Mrz::parse(&String::from_utf8_lossy(data));
}

/// The counter's form bodies.
pub fn counter_forms(data: &[u8]) {
    crate::counter::parse_forms(data);
}

/// A VRS target file and a vaccination file, imported into a throw-away SQLite records.
pub fn vrs_csv(data: &[u8]) {
    struct Harness {
        rt: tokio::runtime::Runtime,
        records: crate::records::Records,
        code: crate::domain::MunicipalityCode,
        _dir: std::path::PathBuf,
    }
    static H: OnceLock<Option<Harness>> = OnceLock::new();
    let h = H.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("vaxcert-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let keys = crate::records::KeyPaths::in_dir(&dir);
        let hex32 = || {
            use rand::RngExt;
            let mut b = [0u8; 32];
            rand::rng().fill(&mut b[..]);
            hex::encode(b)
        };
        for p in [&keys.mynumber_hmac, &keys.mynumber_aes, &keys.totp_aes] {
            std::fs::write(p, hex32()).ok()?;
        }
        let audit = <p256::SecretKey as p256::elliptic_curve::Generate>::generate();
        let pem = p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(&audit, Default::default()).ok()?;
        std::fs::write(&keys.audit_signing, pem.as_bytes()).ok()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        let url = format!("sqlite://{}", dir.join("records.db").display());
        let settings = crate::records::RecordsSettings::new(&url, keys);
        let records = rt
            .block_on(crate::records::Records::open(
                &settings,
                std::sync::Arc::new(crate::clock::FixedClock::at(AT)),
            ))
            .ok()?;
        let code = crate::domain::MunicipalityCode::parse("131016").ok()?;
        rt.block_on(records.add_municipality(&code, "千代田区", true))
            .ok()?;
        Some(Harness {
            rt,
            records,
            code,
            _dir: dir,
        })
    });
    let Some(h) = h else { return };
    h.rt.block_on(async {
        let _ = h
            .records
            .import_targets(data, &h.code, "fuzz", &|_| {})
            .await;
        let _ = h
            .records
            .import_vaccinations(data, &h.code, "fuzz", &|_| {})
            .await;
    });
}
