//! Writes `target/pdf-sample-domestic.pdf` and `target/pdf-sample-overseas.pdf` under the
//! crate, for people to look at (render with `pdftoppm -png -r 100`).

use crate::helpers::{Sample, crate_path, doses, pdfsig};

#[test]
fn writes_sample_pdfs_for_review() {
    let dir = crate_path("target");
    std::fs::create_dir_all(&dir).unwrap();
    let mut full = Sample::overseas();
    full.doses = doses(7);
    let samples = [
        ("domestic", Sample::domestic()),
        ("overseas", Sample::overseas()),
        ("overseas-7-doses", full),
    ];
    for (name, sample) in samples {
        let path = dir.join(format!("pdf-sample-{name}.pdf"));
        std::fs::write(&path, sample.signed_pdf()).unwrap();
        let (out, _) = pdfsig(&path);
        assert!(out.contains("Signature is Valid"), "{out}");
    }
}
