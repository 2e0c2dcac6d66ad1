//! PAdES baseline B signing (ETSI EN 319 142-1): the renderer leaves a signature dictionary
//! with a zero-filled `/Contents` and a placeholder `/ByteRange`; [`PdfSigner::sign`] fills
//! in the byte range and `/M`, hashes the covered bytes with SHA-256 and writes a CMS detached
//! SignedData (RFC 5652) into `/Contents`.
//!
//! Signed attributes: content-type, message-digest and ESS signing-certificate-v2 (RFC 5035).
//! The signing time goes in the signature dictionary's `/M`, because PAdES baseline
//! signatures must not carry the CMS signing-time attribute (EN 319 142-1, clause 6.3).

use std::path::Path;
use std::sync::Arc;

use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use lopdf::{Dictionary, Object, StringFormat};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;

use super::Error;
use crate::clock::UnixTime;
use crate::pki::{FileSigner, Signer};

/// Bytes reserved for the CMS structure in `/Contents` (written as twice as many hex digits).
/// A P-256 signature with a short chain needs about 1.5 KB.
const RESERVED: usize = 8192;
/// Written by the renderer, replaced by the real byte range (padded with spaces).
const BYTE_RANGE_PLACEHOLDER: &[u8] = b"[0 9999999999 9999999999 9999999999]";
const TIME_PLACEHOLDER: &[u8] = b"(D:00000000000000Z)";
const FILLER: i64 = 9_999_999_999;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// Adds the empty signature (dictionary, widget, AcroForm) to a rendered document and writes
/// it out. Only [`PdfSigner::sign`] gives the placeholders their values.
pub(super) fn add_signature_field(doc: &mut lopdf::Document) -> Result<Vec<u8>, Error> {
    let page = *doc
        .get_pages()
        .values()
        .next()
        .ok_or(Error::Write("no page".into()))?;
    let mut sig = Dictionary::new();
    sig.set("Type", Object::Name(b"Sig".to_vec()));
    sig.set("Filter", Object::Name(b"Adobe.PPKLite".to_vec()));
    sig.set("SubFilter", Object::Name(b"ETSI.CAdES.detached".to_vec()));
    sig.set(
        "ByteRange",
        Object::Array(vec![
            Object::Integer(0),
            Object::Integer(FILLER),
            Object::Integer(FILLER),
            Object::Integer(FILLER),
        ]),
    );
    sig.set(
        "Contents",
        Object::String(vec![0; RESERVED], StringFormat::Hexadecimal),
    );
    sig.set(
        "M",
        Object::String(
            TIME_PLACEHOLDER[1..TIME_PLACEHOLDER.len() - 1].to_vec(),
            StringFormat::Literal,
        ),
    );
    let sig_id = doc.add_object(Object::Dictionary(sig));

    let mut widget = Dictionary::new();
    widget.set("Type", Object::Name(b"Annot".to_vec()));
    widget.set("Subtype", Object::Name(b"Widget".to_vec()));
    widget.set("FT", Object::Name(b"Sig".to_vec()));
    widget.set("T", Object::string_literal("vaxcert signature"));
    widget.set("V", Object::Reference(sig_id));
    widget.set("F", Object::Integer(132)); // Print | Locked
    widget.set(
        "Rect",
        Object::Array(vec![0.into(), 0.into(), 0.into(), 0.into()]),
    );
    widget.set("P", Object::Reference(page));
    let widget_id = doc.add_object(Object::Dictionary(widget));

    doc.get_dictionary_mut(page)
        .map_err(|e| Error::Write(e.to_string()))?
        .set("Annots", Object::Array(vec![Object::Reference(widget_id)]));
    let mut form = Dictionary::new();
    form.set("Fields", Object::Array(vec![Object::Reference(widget_id)]));
    form.set("SigFlags", Object::Integer(3)); // SignaturesExist | AppendOnly
    doc.catalog_mut()
        .map_err(|e| Error::Write(e.to_string()))?
        .set("AcroForm", Object::Dictionary(form));

    let mut out = Vec::with_capacity(64 * 1024);
    doc.save_to(&mut out)
        .map_err(|e| Error::Write(e.to_string()))?;
    Ok(out)
}

/// A PAdES signer: a P-256 key behind [`Signer`] (a file or a token), its X.509 certificate
/// and the certificates above it.
pub struct PdfSigner {
    key: Arc<dyn Signer>,
    /// DER of the signing certificate, then the chain, as written into the CMS.
    certs: Vec<Certificate>,
    /// Precomputed `SigningCertificateV2` attribute value (it only depends on the certificate).
    signing_certificate_v2: Any,
    sid: IssuerAndSerialNumber,
}

impl std::fmt::Debug for PdfSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfSigner")
            .field(
                "subject",
                &self.certs[0].tbs_certificate().subject().to_string(),
            )
            .field("chain", &(self.certs.len() - 1))
            .finish_non_exhaustive()
    }
}

impl PdfSigner {
    /// Load a PKCS#8 PEM P-256 key and a PEM file holding its certificate, optionally
    /// followed by the certificates that issued it (leaf first).
    ///
    /// # Errors
    /// [`Error::KeyRead`], [`Error::KeyInvalid`], or [`Error::KeyMismatch`] when the first
    /// certificate is not for this key.
    pub fn from_pem_files(key: &Path, cert: &Path) -> Result<Self, Error> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| Error::KeyRead {
                path: p.display().to_string(),
                reason: e.kind().to_string(),
            })
        };
        let certs = Certificate::load_pem_chain(&read(cert)?)
            .map_err(|_| Error::KeyInvalid("the certificate file is not X.509 PEM"))?;
        let dev = certs.first().is_some_and(crate::pki::x509::is_dev);
        let key = FileSigner::load(key, dev).map_err(|e| match e {
            crate::pki::Error::Io { path, source } => Error::KeyRead {
                path: path.display().to_string(),
                reason: source.kind().to_string(),
            },
            _ => Error::KeyInvalid("the key is not a PKCS#8 P-256 key"),
        })?;
        Self::new(Arc::new(key), certs)
    }

    /// A signer from a key (file or token) and a PEM file holding its certificate, optionally
    /// followed by its chain (leaf first).
    ///
    /// # Errors
    /// [`Error::KeyRead`], [`Error::KeyInvalid`], [`Error::KeyMismatch`].
    pub fn with_chain_file(key: Arc<dyn Signer>, cert: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(cert).map_err(|e| Error::KeyRead {
            path: cert.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        let certs = Certificate::load_pem_chain(&bytes)
            .map_err(|_| Error::KeyInvalid("the certificate file is not X.509 PEM"))?;
        Self::new(key, certs)
    }

    /// A signer from a key and its certificate chain (leaf first).
    ///
    /// # Errors
    /// [`Error::KeyInvalid`] for an empty chain, [`Error::KeyMismatch`] when the leaf is not
    /// for this key.
    pub fn new(key: Arc<dyn Signer>, certs: Vec<Certificate>) -> Result<Self, Error> {
        let leaf = certs.first().ok_or(Error::KeyInvalid("no certificate"))?;
        let spki_key = leaf
            .tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes();
        if spki_key
            != p256::ecdsa::VerifyingKey::from(*key.public_key())
                .to_sec1_point(false)
                .as_bytes()
        {
            return Err(Error::KeyMismatch);
        }
        let leaf_der = leaf.to_der().map_err(|_| Error::Cms)?;
        let issuer = leaf
            .tbs_certificate()
            .issuer()
            .to_der()
            .map_err(|_| Error::Cms)?;
        let serial = leaf
            .tbs_certificate()
            .serial_number()
            .to_der()
            .map_err(|_| Error::Cms)?;
        // SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 }
        // ESSCertIDv2 ::= SEQUENCE { certHash OCTET STRING (SHA-256 is the DEFAULT algorithm),
        //                            issuerSerial SEQUENCE { GeneralNames, serialNumber } }
        let general_names = tlv(0x30, &tlv(0xA4, &issuer));
        let issuer_serial = tlv(0x30, &[general_names, serial].concat());
        let cert_hash = tlv(0x04, &Sha256::digest(&leaf_der));
        let ess_cert_id = tlv(0x30, &[cert_hash, issuer_serial].concat());
        let value = tlv(0x30, &tlv(0x30, &ess_cert_id));
        let signing_certificate_v2 = Any::from_der(&value).map_err(|_| Error::Cms)?;
        let sid = IssuerAndSerialNumber {
            issuer: leaf.tbs_certificate().issuer().clone(),
            serial_number: leaf.tbs_certificate().serial_number().clone(),
        };
        Ok(PdfSigner {
            key,
            certs,
            signing_certificate_v2,
            sid,
        })
    }

    /// Sign a PDF made by [`super::PdfRenderer::render`]: fill `/ByteRange` and `/M`, then
    /// write the CMS detached signature over every byte outside `/Contents`.
    ///
    /// # Errors
    /// [`Error::SignInput`] when the bytes carry no (or more than one) unsigned placeholder,
    /// [`Error::SignatureTooLarge`], [`Error::Cms`].
    pub fn sign(&self, pdf: &[u8], signing_time: UnixTime) -> Result<Vec<u8>, Error> {
        let mut out = pdf.to_vec();
        let range_at = find_once(&out, BYTE_RANGE_PLACEHOLDER)
            .ok_or(Error::SignInput("no unsigned /ByteRange placeholder"))?;
        let time_at = find_once(&out, TIME_PLACEHOLDER)
            .ok_or(Error::SignInput("no unsigned /M placeholder"))?;
        let contents_at = find_contents(&out, range_at)
            .ok_or(Error::SignInput("no empty /Contents placeholder"))?;
        let contents_end = contents_at + 2 + 2 * RESERVED;

        let range = format!(
            "[0 {} {} {}]",
            contents_at,
            contents_end,
            out.len() - contents_end
        );
        let mut range = range.into_bytes();
        range.resize(BYTE_RANGE_PLACEHOLDER.len(), b' ');
        out[range_at..range_at + range.len()].copy_from_slice(&range);
        let time = pdf_date(signing_time);
        out[time_at..time_at + time.len()].copy_from_slice(time.as_bytes());

        let mut hasher = Sha256::new();
        hasher.update(&out[..contents_at]);
        hasher.update(&out[contents_end..]);
        let digest = hasher.finalize();

        let cms = self.cms(&digest)?;
        if cms.len() > RESERVED {
            return Err(Error::SignatureTooLarge {
                needed: cms.len(),
                reserved: RESERVED,
            });
        }
        let hex = hex::encode_upper(&cms);
        out[contents_at + 1..contents_at + 1 + hex.len()].copy_from_slice(hex.as_bytes());
        Ok(out)
    }

    /// The CMS ContentInfo (DER) for a detached signature over `digest`.
    fn cms(&self, digest: &[u8]) -> Result<Vec<u8>, Error> {
        let any = |der: Vec<u8>| Any::from_der(&der).map_err(|_| Error::Cms);
        let attr = |oid: ObjectIdentifier, value: Any| -> Result<Attribute, Error> {
            Ok(Attribute {
                oid,
                values: SetOfVec::try_from(vec![value]).map_err(|_| Error::Cms)?,
            })
        };
        let digest_octets = OctetString::new(digest).map_err(|_| Error::Cms)?;
        let signed_attrs = SetOfVec::try_from(vec![
            attr(
                ID_CONTENT_TYPE,
                any(ID_DATA.to_der().map_err(|_| Error::Cms)?)?,
            )?,
            attr(
                ID_MESSAGE_DIGEST,
                any(digest_octets.to_der().map_err(|_| Error::Cms)?)?,
            )?,
            attr(
                ID_SIGNING_CERTIFICATE_V2,
                self.signing_certificate_v2.clone(),
            )?,
        ])
        .map_err(|_| Error::Cms)?;
        let to_sign = signed_attrs.to_der().map_err(|_| Error::Cms)?;
        // The key gives raw r ‖ s (as a token's CKM_ECDSA does); CMS wants ECDSA-Sig-Value.
        let raw = self
            .key
            .sign_es256(&to_sign)
            .map_err(|e| Error::Sign(e.to_string()))?;
        let signature = p256::ecdsa::Signature::from_slice(&raw)
            .map_err(|_| Error::Sign("not an ECDSA P-256 signature".into()))?
            .to_der();

        let sha256 = AlgorithmIdentifierOwned {
            oid: ID_SHA256,
            parameters: None,
        };
        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(self.sid.clone()),
            digest_alg: sha256.clone(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA256,
                parameters: None,
            },
            signature: OctetString::new(signature.as_bytes()).map_err(|_| Error::Cms)?,
            unsigned_attrs: None,
        };
        let certificates = self
            .certs
            .iter()
            .map(|c| cms::cert::CertificateChoices::Certificate(c.clone()))
            .collect::<Vec<_>>();
        let signed_data = SignedData {
            version: CmsVersion::V1,
            digest_algorithms: SetOfVec::try_from(vec![sha256]).map_err(|_| Error::Cms)?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_DATA,
                econtent: None,
            },
            certificates: Some(CertificateSet(
                SetOfVec::try_from(certificates).map_err(|_| Error::Cms)?,
            )),
            crls: None,
            signer_infos: SignerInfos(
                SetOfVec::try_from(vec![signer_info]).map_err(|_| Error::Cms)?,
            ),
        };
        let content = any(signed_data.to_der().map_err(|_| Error::Cms)?)?;
        ContentInfo {
            content_type: ID_SIGNED_DATA,
            content,
        }
        .to_der()
        .map_err(|_| Error::Cms)
    }
}

/// A DER TLV with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The position of `needle` if it occurs exactly once.
fn find_once(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut found = memchr::memmem::find_iter(hay, needle);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// The `<` of the zero-filled `/Contents` string in the signature dictionary after `from`.
fn find_contents(pdf: &[u8], from: usize) -> Option<usize> {
    let key = b"/Contents";
    let k = from + memchr::memmem::find(&pdf[from..], key)?;
    let lt = k + key.len() + memchr::memchr(b'<', &pdf[k + key.len()..])?;
    let body = pdf.get(lt + 1..lt + 1 + 2 * RESERVED)?;
    let close = *pdf.get(lt + 1 + 2 * RESERVED)?;
    (body.iter().all(|b| *b == b'0') && close == b'>').then_some(lt)
}

/// `D:YYYYMMDDHHmmSSZ`, the PDF date string for a UTC time (same length as the placeholder
/// without its parentheses).
fn pdf_date(t: UnixTime) -> String {
    let at = crate::date::utc(t.0);
    format!(
        "(D:{}{:02}{:02}{:02}Z)",
        crate::date::compact(at.date()),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_dates_are_utc_calendar_dates() {
        assert_eq!(pdf_date(UnixTime(0)), "(D:19700101000000Z)");
        assert_eq!(pdf_date(UnixTime(1_795_305_600)), "(D:20261122000000Z)");
        assert_eq!(
            pdf_date(UnixTime(951_782_400 + 3_661)),
            "(D:20000229010101Z)"
        );
        assert_eq!(pdf_date(UnixTime(0)).len(), TIME_PLACEHOLDER.len());
    }

    #[test]
    fn der_lengths_use_the_long_form_past_127() {
        assert_eq!(tlv(0x04, &[1; 3])[..2], [0x04, 3]);
        assert_eq!(tlv(0x04, &[1; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[1; 300])[..4], [0x04, 0x82, 0x01, 0x2C]);
    }
}
