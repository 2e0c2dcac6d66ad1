//! PDF certificate speed: render + PAdES sign per second per core (target ≥ 200/s), for the
//! domestic (SHC only) and overseas (SHC + VDS-NC) kinds, with the two steps also timed apart.
//! The sizes of the signed files are printed first (target ≤ 150 KB).
//!
//! Run: `cargo bench --bench pdf`. Criterion runs on one thread, so 1 / time = per-core rate
//! on an idle machine. On a busy one, the `cpu:` lines printed first are the figure to use:
//! they divide a fixed number of operations by the CPU time this thread was actually given
//! (`/proc/thread-self/schedstat`), which other processes do not inflate.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use vaxcert::catalogue;
use vaxcert::clock::UnixTime;
use vaxcert::domain::{BirthDate, Kind};
use vaxcert::formats::Dose;
use vaxcert::formats::pdf::{CertificateDocument, PdfRenderer, PdfSigner};

fn vector(path: &str) -> String {
    std::fs::read_to_string(format!("../shared/vectors/{path}")).expect("test vector")
}

/// Nanoseconds this thread has run on a CPU (Linux).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn bench(c: &mut Criterion) {
    let renderer = PdfRenderer::bundled().expect("renderer");
    let signer = PdfSigner::from_pem_files(
        "certs/dev/pdf/signer.key.pem".as_ref(),
        "certs/dev/pdf/signer.crt.pem".as_ref(),
    )
    .expect("signer");
    let shc_text = vector("code4fukui-SMARTHealthCards-es/example.js.shc.txt");
    let shc =
        vaxcert::formats::qr::shc(shc_text.trim().trim_start_matches("shc:/")).expect("shc qr");
    let vds: serde_json::Value = serde_json::from_str(&vector(
        "KDE-khealthcertificate/autotests/data/icao/jpn-triple-vaccine.txt",
    ))
    .expect("vds json");
    let vds = vds.get(0).cloned().unwrap_or(vds);
    let vdsnc = vaxcert::formats::qr::bytes(vds.to_string().as_bytes()).expect("vds qr");
    let product = catalogue::product("pfizer-comirnaty").expect("product");
    let doses = [
        Dose {
            seq: 1,
            date: BirthDate::parse("2021-06-01").unwrap(),
            product,
            lot: "FA5765".into(),
        },
        Dose {
            seq: 2,
            date: BirthDate::parse("2021-06-22").unwrap(),
            product,
            lot: "FA7338".into(),
        },
        Dose {
            seq: 3,
            date: BirthDate::parse("2022-01-15").unwrap(),
            product,
            lot: "FJ5929".into(),
        },
    ];
    let doc = |kind: Kind| CertificateDocument {
        kind,
        name_kanji: "山田　太郎",
        name_roman: (kind == Kind::Overseas).then_some("YAMADA TARO"),
        former_name: None,
        alias: None,
        passport_number: None,
        nationality: None,
        birth_date: BirthDate::parse("19850401").expect("date"),
        doses: &doses,
        certificate_id: "K7Q2M9XA4TRD",
        issued_on: "2026-11-22",
        municipality: "東京都千代田区",
        shc_qr: &shc,
        vdsnc_qr: (kind == Kind::Overseas).then_some(&vdsnc),
    };
    let at = UnixTime(1_795_339_800);
    for kind in [Kind::Domestic, Kind::Overseas] {
        let pdf = renderer.render(&doc(kind)).expect("render");
        let signed = signer.sign(&pdf, at).expect("sign");
        println!(
            "size: {} signed PDF = {} bytes ({:.1} KB)",
            kind.as_str(),
            signed.len(),
            signed.len() as f64 / 1024.0
        );
    }
    const N: u32 = 300;
    for kind in [Kind::Domestic, Kind::Overseas] {
        let d = doc(kind);
        let Some(start) = thread_cpu_ns() else {
            println!("cpu: /proc/thread-self/schedstat unavailable");
            break;
        };
        for _ in 0..N {
            let pdf = renderer.render(black_box(&d)).expect("render");
            black_box(signer.sign(&pdf, at).expect("sign"));
        }
        let spent = thread_cpu_ns().unwrap_or(start) - start;
        let per_op_ms = spent as f64 / 1e6 / f64::from(N);
        println!(
            "cpu: {} render+sign {per_op_ms:.2} ms CPU each = {:.0}/s per core",
            kind.as_str(),
            1000.0 / per_op_ms
        );
    }

    let mut g = c.benchmark_group("pdf");
    for kind in [Kind::Domestic, Kind::Overseas] {
        let d = doc(kind);
        g.bench_function(format!("render+sign/{}", kind.as_str()), |b| {
            b.iter(|| {
                let pdf = renderer.render(black_box(&d)).expect("render");
                signer.sign(&pdf, at).expect("sign")
            })
        });
    }
    let d = doc(Kind::Overseas);
    g.bench_function("render/overseas", |b| {
        b.iter(|| renderer.render(black_box(&d)).expect("render"))
    });
    let pdf = renderer.render(&d).expect("render");
    g.bench_function("sign/overseas", |b| {
        b.iter(|| signer.sign(black_box(&pdf), at).expect("sign"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
