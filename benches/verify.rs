//! Verifier speed: SHC and VDS-NC verifications per second per core through the whole pipeline
//! (decode, inflate, JSON, signature, trust checks), and the ES256 verify primitive with `ring`
//! against `p256`. The floor printed first is `openssl speed ecdsap256`'s verify rate; the
//! target is an SHC rate of at least 60 % of it.
//!
//! Run: `cargo bench --bench verify`.

use std::hint::black_box;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use vaxcert::clock::UnixTime;
use vaxcert::verify::{TrustStore, Verdict, verify_text};

const NOW: UnixTime = UnixTime(1_795_305_600); // 2026-11-22

fn openssl_floor() -> Option<f64> {
    let out = std::process::Command::new("openssl")
        .args(["speed", "-seconds", "2", "ecdsap256"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  41024.9  13245.1"
    let line = text.lines().find(|l| l.contains("ecdsa (nistp256)"))?;
    let verify = line.split_whitespace().last()?.parse::<f64>().ok()?;
    println!("floor: openssl speed ecdsap256 verify {verify:.0}/s per core");
    Some(verify)
}

/// Verifications per second over a fixed wall-clock budget, for the summary lines.
fn rate(mut f: impl FnMut()) -> f64 {
    for _ in 0..50 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < 2.0 {
        for _ in 0..100 {
            f();
        }
        n += 100;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn bench(c: &mut Criterion) {
    let floor = openssl_floor();
    let trust = TrustStore::load(std::path::Path::new("certs/trust")).expect("certs/trust");
    let shc = std::fs::read_to_string(
        "../shared/vectors/code4fukui-SMARTHealthCards-es/example.js.shc.txt",
    )
    .expect("../shared/vectors");
    let shc = shc.trim().to_string();
    let vds = std::fs::read_to_string(
        "../shared/vectors/KDE-khealthcertificate/autotests/data/icao/jpn-triple-vaccine.txt",
    )
    .expect("../shared/vectors");
    assert_eq!(verify_text(&shc, &trust, NOW)[0].verdict, Verdict::Valid);
    assert_eq!(verify_text(&vds, &trust, NOW)[0].verdict, Verdict::Valid);

    // The ES256 primitive on the Japanese card's own signature and key.
    let jws: String = shc.as_bytes()["shc:/".len()..]
        .chunks(2)
        .map(|p| (((p[0] - b'0') * 10 + (p[1] - b'0')) + 45) as char)
        .collect();
    let dot = jws.rfind('.').expect("JWS");
    let (signed, sig) = (
        jws.as_bytes()[..dot].to_vec(),
        URL_SAFE_NO_PAD.decode(&jws[dot + 1..]).expect("sig"),
    );
    let jwks: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("certs/trust/shc/jp-digital-agency/jwks.json").expect("jwks"),
    )
    .expect("jwks");
    let key = &jwks["keys"][0];
    let mut point = vec![4u8];
    point.extend(
        URL_SAFE_NO_PAD
            .decode(key["x"].as_str().expect("x"))
            .expect("x"),
    );
    point.extend(
        URL_SAFE_NO_PAD
            .decode(key["y"].as_str().expect("y"))
            .expect("y"),
    );

    let ring_key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        point.clone(),
    );
    ring_key.verify(&signed, &sig).expect("ring verifies");
    let p256_key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("p256 key");
    let p256_sig = p256::ecdsa::Signature::from_slice(&sig).expect("p256 sig");
    {
        use p256::ecdsa::signature::Verifier;
        p256_key.verify(&signed, &p256_sig).expect("p256 verifies");
    }

    c.bench_function("verify/shc_jp_full", |b| {
        b.iter(|| verify_text(black_box(&shc), &trust, NOW))
    });
    c.bench_function("verify/vdsnc_jp_full", |b| {
        b.iter(|| verify_text(black_box(&vds), &trust, NOW))
    });
    c.bench_function("es256/ring", |b| {
        b.iter(|| ring_key.verify(black_box(&signed), black_box(&sig)).is_ok())
    });
    c.bench_function("es256/p256", |b| {
        use p256::ecdsa::signature::Verifier;
        b.iter(|| {
            p256_key
                .verify(black_box(&signed), black_box(&p256_sig))
                .is_ok()
        })
    });

    // Summary lines (one core: criterion and these loops run on one thread).
    let shc_rate = rate(|| {
        black_box(verify_text(&shc, &trust, NOW));
    });
    let vds_rate = rate(|| {
        black_box(verify_text(&vds, &trust, NOW));
    });
    let ring_rate = rate(|| {
        black_box(ring_key.verify(&signed, &sig).is_ok());
    });
    let p256_rate = rate(|| {
        use p256::ecdsa::signature::Verifier;
        black_box(p256_key.verify(&signed, &p256_sig).is_ok());
    });
    println!("es256 verify: ring {ring_rate:.0}/s, p256 {p256_rate:.0}/s per core");
    println!("SHC (JP card, whole pipeline): {shc_rate:.0} verifications/s per core");
    println!("VDS-NC (JP seal, BSC chain + JCS): {vds_rate:.0} verifications/s per core");
    // The machine may be shared: measure the floor again right after, and compare with both.
    let floor_after = openssl_floor();
    for (when, f) in [("before", floor), ("after", floor_after)] {
        if let Some(f) = f {
            println!(
                "SHC rate = {:.0} % of the OpenSSL floor measured {when} (target ≥ 60 %); ring primitive = {:.0} %",
                100.0 * shc_rate / f,
                100.0 * ring_rate / f
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
