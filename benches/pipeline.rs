//! The server-side issuance pipeline per core, without HTTP: `IssuanceService::preview` (all
//! five evidence steps, the used set in SQLite, the lookup, the sealed token) then
//! `IssuanceService::issue` (token claim, issuance row + audit entry, SHC; with `pdf`, the
//! rendered and PAdES-signed PDF). The card's signature is made in the untimed set-up.
//!
//! Run: `cargo bench --bench pipeline`. "Per core" literally: the bench pins itself to one CPU
//! before it starts the runtime and opens SQLite, so the async thread, SQLite's worker and the
//! blocking pool share that core. The reported time is process CPU time per issuance, so
//! throughput per core = 1 / time per iteration.

use std::sync::Arc;

use cpu_time::ProcessTime;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use rsa::pkcs8::EncodePrivateKey;
use vaxcert::card::CardEvidence;
use vaxcert::card::challenge::{Binding, Challenges};
use vaxcert::card_sim::Persona;
use vaxcert::card_sim::image::CardImage;
use vaxcert::clock::SystemClock;
use vaxcert::dev;
use vaxcert::domain::{Channel, Kind, MunicipalityCode};
use vaxcert::issuance::{IssuanceService, IssuanceSettings};
use vaxcert::protocol::{InternalPreviewRequest, PreviewRequest};
use vaxcert::records::{Records, RecordsSettings};

fn service(rt: &tokio::runtime::Runtime, dir: &std::path::Path, pdf: bool) -> IssuanceService {
    rt.block_on(async {
        let url = format!("sqlite://{}", dir.join(format!("bench-{pdf}.db")).display());
        let records = Records::open(
            &RecordsSettings::new(&url, dev::record_keys()),
            Arc::new(SystemClock),
        )
        .await
        .expect("records");
        vaxcert::records::seed::demo(&records, &mut std::io::sink())
            .await
            .expect("seed");
        dev::issuance_service(
            Arc::new(records),
            Challenges::new(dev::challenge_key().expect("challenge key"), 120),
            dev::trust_set("dev").expect("trust"),
            Arc::new(SystemClock),
            IssuanceSettings {
                challenge_ttl_secs: 120,
                token_ttl_secs: 120,
                publication_dir: dir.join(format!("publication-{pdf}")),
                pdf,
            },
        )
        .expect("service")
    })
}

fn pipeline(c: &mut Criterion) {
    // Threads inherit the affinity of the thread that spawns them: pin before any exist.
    let core = core_affinity::get_core_ids()
        .and_then(|ids| ids.first().copied())
        .expect("a CPU to pin to");
    assert!(core_affinity::set_for_current(core), "pinning to one CPU");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let persona = Persona::load(&dev::dir().join("personas/default.toml")).expect("persona");
    let key = dev::card::load_rsa_key(&persona.card_key_path()).expect("card key");
    // The card's INTERNAL AUTHENTICATE, made with ring so the untimed set-up stays short.
    let ring_key =
        ring::signature::RsaKeyPair::from_pkcs8(key.to_pkcs8_der().expect("pkcs8").as_bytes())
            .expect("ring key");
    let img = CardImage::build(
        &persona,
        &dev::card::DevIssuer::load().expect("dev issuer"),
        key,
    );
    let files = img.card_files();
    let binding = Binding {
        channel: Channel::App,
        terminal_id: "bench".into(),
        municipality: MunicipalityCode::parse("131016").expect("code"),
        kind: Kind::Domestic,
    };
    let mut g = c.benchmark_group("pipeline");
    // Flat sampling: every sample is one long uninterrupted run, as a server sees a steady
    // stream, rather than short runs cooled by the untimed card signing between them.
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(std::time::Duration::from_secs(10));
    for pdf in [false, true] {
        let svc = service(&rt, dir.path(), pdf);
        let name = if pdf {
            "preview_issue_pdf"
        } else {
            "preview_issue"
        };
        // Per core means CPU time: the process's CPU seconds over the routine (every thread:
        // the runtime, SQLite's worker, the blocking pool), not wall time. The card's
        // signatures are made before the clock starts.
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let requests: Vec<InternalPreviewRequest> = (0..iters)
                    .map(|_| {
                        let challenge = svc.challenge().challenge;
                        let mut signature = vec![0u8; ring_key.public().modulus_len()];
                        ring_key
                            .sign(
                                &ring::signature::RSA_PKCS1_SHA256,
                                &ring::rand::SystemRandom::new(),
                                &binding.message(&challenge),
                                &mut signature,
                            )
                            .expect("sign");
                        InternalPreviewRequest {
                            channel: Channel::App,
                            terminal_id: "bench".into(),
                            request: PreviewRequest {
                                municipality: binding.municipality.clone(),
                                kind: Kind::Domestic,
                                evidence: CardEvidence {
                                    files: files.clone(),
                                    challenge,
                                    challenge_signature: signature,
                                },
                                passport_mrz: None,
                                device_id: Some("bench".into()),
                                terms_version: Some(vaxcert::protocol::TERMS_VERSION.to_owned()),
                            },
                        }
                    })
                    .collect();
                let cpu = ProcessTime::now();
                rt.block_on(async {
                    for req in &requests {
                        let p = svc.preview(req).await.expect("preview");
                        svc.issue(&p.preview_token, Channel::App, None)
                            .await
                            .expect("issue");
                    }
                });
                cpu.elapsed()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
