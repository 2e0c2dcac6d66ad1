//! Card-evidence verification speed: DESIGN §3's five steps (4 RSA-2048 verifies) per second
//! per core, and the RSA verify primitive with ring against the `rsa` crate.
//!
//! Run: `cargo bench --bench card_evidence`. The floor printed first is OpenSSL's RSA-2048
//! verify rate divided by 4 (four verifies per evidence).

use criterion::{Criterion, criterion_group, criterion_main};
use rsa::pkcs1v15::Pkcs1v15Sign;
use sha2::{Digest, Sha256};
use std::hint::black_box;
use vaxcert::card::challenge::{Binding, Challenges, sha256_digest_info};
use vaxcert::card::{CardEvidence, RsaKey, verify_card_files};
use vaxcert::card_sim::{Persona, image::CardImage};
use vaxcert::clock::UnixTime;
use vaxcert::dev;
use vaxcert::domain::{Channel, Kind, MunicipalityCode};

fn openssl_floor() {
    let out = std::process::Command::new("openssl")
        .args(["speed", "-seconds", "2", "rsa2048"])
        .output();
    let Ok(out) = out else {
        println!("openssl not found; no floor");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    // "rsa 2048 bits 0.000560s 0.000016s   1785.7  62500.0"
    if let Some(line) = text.lines().find(|l| l.starts_with("rsa 2048 bits")) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if let Some(verify) = cols.last().and_then(|v| v.parse::<f64>().ok()) {
            println!(
                "floor: openssl speed rsa2048 verify {verify:.0}/s ÷ 4 = {:.0} evidence verifications/s per core",
                verify / 4.0
            );
        }
    }
}

fn bench(c: &mut Criterion) {
    openssl_floor();
    let persona =
        Persona::load(std::path::Path::new("certs/dev/personas/default.toml")).expect("persona");
    let key = dev::card::load_rsa_key(&persona.card_key_path()).expect("card key");
    let img = CardImage::build(
        &persona,
        &dev::card::DevIssuer::load().expect("dev keys"),
        key,
    );
    let binding = Binding {
        channel: Channel::Kiosk,
        terminal_id: "bench".into(),
        municipality: MunicipalityCode::parse("131016").expect("code"),
        kind: Kind::Domestic,
    };
    let challenges = Challenges::new(dev::challenge_key().expect("hmac key"), 120);
    let now = UnixTime(1_800_000_000);
    let challenge = challenges.issue(now);
    let sig = img
        .sign_digest_info(&sha256_digest_info(&binding.digest(&challenge)))
        .expect("sign");
    let evidence = CardEvidence {
        files: img.card_files(),
        challenge,
        challenge_signature: sig,
    };
    let trust = dev::trust_set("dev").expect("trust");

    c.bench_function("card_evidence/verify_5_steps_ring", |b| {
        b.iter(|| {
            let data = verify_card_files(black_box(&evidence.files), &trust).expect("files");
            data.prove_presence(
                &evidence.challenge,
                &evidence.challenge_signature,
                &binding,
                &challenges,
                now,
            )
            .expect("presence")
        })
    });

    // The primitive, both ways, on the same key and message.
    let issuer = dev::card::DevIssuer::load().expect("dev keys");
    let msg = b"the DF31 and DF32 digests, 70 bytes in real life, any bytes here";
    let signature = issuer
        .key()
        .sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg))
        .expect("sign");
    let public = issuer.key().to_public_key();
    use rsa::traits::PublicKeyParts;
    let ring_key = RsaKey::new(&public.n_bytes(), &public.e_bytes());
    c.bench_function("rsa2048_verify/ring", |b| {
        b.iter(|| assert!(ring_key.verify_pkcs1_sha256(black_box(msg), &signature)))
    });
    c.bench_function("rsa2048_verify/rsa_crate", |b| {
        b.iter(|| {
            public
                .verify(
                    Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(black_box(msg)),
                    &signature,
                )
                .expect("verify")
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
