//! DEV ONLY. `vaxcert issue`: a certificate for a persona with demo vaccination data, signed
//! with the dev keys (any other key is refused), every artefact written to `--out`.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};

use crate::clock::{Clock, SystemClock};
use crate::domain::BirthDate;
use crate::domain::Kind;
use crate::exit::Coded;
use crate::formats::Dose;
use crate::formats::mrz::Td3Mrz;
use crate::formats::pdf::PdfRenderer;
use crate::issuance::certificate::{Passport, Request};
use crate::issuance::{SigningKeyFiles, SigningKeys};

/// `vaxcert issue …`
#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// Persona TOML file (certs/dev/personas/).
    #[arg(long)]
    pub persona: PathBuf,
    /// Certificate kind.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// Passport MRZ (TD3) as `LINE1,LINE2`; required for overseas.
    #[arg(long)]
    pub passport_mrz: Option<String>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Key folder; must hold dev keys (certificates of O=vaxcert DEV).
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Issuing municipality printed on the PDF.
    #[arg(long, default_value = "東京都千代田区")]
    pub municipality_name: String,
}

/// The demo vaccination history every persona gets from `vaxcert issue`.
fn demo_doses() -> Result<Vec<Dose>> {
    let dose = |seq, date: &str, code: &str, lot: &str| -> Result<Dose> {
        Ok(Dose {
            seq,
            date: BirthDate::parse(date)?,
            product: crate::catalogue::product(code).ok_or_else(|| anyhow!("no product {code}"))?,
            lot: lot.into(),
        })
    };
    Ok(vec![
        dose(1, "2021-06-01", "pfizer-comirnaty", "FA5765")?,
        dose(2, "2021-06-22", "pfizer-comirnaty", "FA7338")?,
        dose(3, "2022-01-20", "moderna-spikevax", "3004734")?,
    ])
}

/// Run `vaxcert issue`: dev keys only, demo doses, every artefact written to `--out`.
///
/// # Errors
/// A non-dev key, an invalid MRZ, or I/O.
pub fn run(args: &IssueArgs) -> Result<()> {
    let dir = args.keys.clone().unwrap_or_else(crate::dev::dir);
    let files = SigningKeyFiles::in_dir(&dir, crate::dev::SHC_ISS);
    let shc_cert = &files.shc[0].cert;
    let cert = crate::pki::x509::load(shc_cert)?;
    if !crate::pki::x509::is_dev(&cert) {
        return Err(crate::pki::Error::NotDev(shc_cert.display().to_string()).into());
    }
    let keys = SigningKeys::load(&files).map_err(|e| Coded::new(e.code(), e))?;
    if !keys.issuer.is_dev() {
        return Err(crate::pki::Error::NotDev(dir.display().to_string()).into());
    }
    let issuer = &keys.issuer;
    let persona = crate::card_sim::Persona::load(&args.persona)?;
    let passport = match (&args.passport_mrz, args.kind) {
        (Some(mrz), _) => Some(Passport::from(&Td3Mrz::parse(mrz).map_err(|e| Coded {
            code: e.code(),
            message: e.to_string(),
        })?)),
        (None, Kind::Overseas) => {
            return Err(Coded {
                code: "passport-required",
                message: "an overseas certificate needs --passport-mrz LINE1,LINE2".into(),
            }
            .into());
        }
        (None, Kind::Domestic) => None,
    };
    let request = Request {
        id: crate::domain::CertificateId::random(),
        kind: args.kind,
        name: persona.name.clone(),
        alias: None,
        birth_date: persona.birth_date,
        doses: demo_doses()?,
        passport,
        issued_at: SystemClock.now(),
    };
    let issued = issuer.issue(&request).map_err(|e| Coded {
        code: e.code(),
        message: e.to_string(),
    })?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let base = args.out.join(request.id.as_str());
    let write = |ext: &str, bytes: &[u8]| -> Result<PathBuf> {
        let path = base.with_extension(ext);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    };
    let qr = issued.shc.qr()?;
    let mut written = vec![
        write("shc", issued.shc.qr_text().as_bytes())?,
        write("smart-health-card", issued.shc.file_json().as_bytes())?,
        write("shc.png", &crate::formats::qr::png(&qr, 6)?)?,
    ];
    let vqr = match &issued.vdsnc {
        Some(v) => {
            written.push(write("vds.json", v.as_bytes())?);
            let vqr = crate::formats::qr::bytes(v.as_bytes())?;
            written.push(write("vds.png", &crate::formats::qr::png(&vqr, 6)?)?);
            Some(vqr)
        }
        None => None,
    };
    let renderer = PdfRenderer::bundled().map_err(|e| Coded::new(e.code(), e))?;
    let pdf = crate::issuance::document::signed_pdf(
        &renderer,
        &keys.pdf,
        &request,
        &issued,
        &qr,
        vqr.as_ref(),
        &args.municipality_name,
    )
    .map_err(|e| Coded::new(e.code(), e))?;
    written.push(write("pdf", &pdf)?);
    println!(
        "issued certificate {} ({}) for {} — SHC QR version {}, kid {}",
        request.id,
        args.kind.as_str(),
        persona.name,
        crate::formats::qr::version(&qr),
        issued.kid
    );
    for p in written {
        println!("  {}", p.display());
    }
    Ok(())
}
