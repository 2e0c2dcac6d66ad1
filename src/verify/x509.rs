//! X.509 helpers for the verifier: parse a certificate once, keep its raw TBS bytes, verify a
//! signature made by its key (ring), and read the extensions the ICAO and EU rules need.
//! Signatures are checked over the bytes as received, never over a re-encoding (DESIGN §6).

use der::oid::ObjectIdentifier;
use der::{Decode, Encode};
use ring::signature::{self as rs, UnparsedPublicKey, VerificationAlgorithm};
use x509_cert::Certificate;

use super::error::Error;

const ID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// A parsed certificate with the raw bytes its signature covers.
#[derive(Debug, Clone)]
pub struct Cert {
    der: Vec<u8>,
    tbs_range: (usize, usize),
    parsed: Certificate,
}

/// The public key of a certificate, in the form ring takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An uncompressed P-256 point.
    P256(Vec<u8>),
    /// An uncompressed P-384 point.
    P384(Vec<u8>),
    /// A PKCS#1 `RSAPublicKey`.
    Rsa(Vec<u8>),
}

/// Read one DER TLV header at `pos`: (content start, content end).
fn tlv(der: &[u8], pos: usize) -> Option<(usize, usize)> {
    let mut p = pos.checked_add(1)?;
    let first = *der.get(p)? as usize;
    p += 1;
    let len = if first < 0x80 {
        first
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut l = 0usize;
        for _ in 0..n {
            l = (l << 8) | *der.get(p)? as usize;
            p += 1;
        }
        l
    };
    let end = p.checked_add(len)?;
    (end <= der.len()).then_some((p, end))
}

impl Cert {
    /// Parse DER.
    ///
    /// # Errors
    /// [`Error::CertificateMalformed`] when the bytes are not one certificate.
    pub fn from_der(der: &[u8]) -> Result<Cert, Error> {
        let parsed = Certificate::from_der(der).map_err(|_| Error::CertificateMalformed("DER"))?;
        let (outer, _) = tlv(der, 0).ok_or(Error::CertificateMalformed("outer TLV"))?;
        let (_, tbs_end) = tlv(der, outer).ok_or(Error::CertificateMalformed("TBS TLV"))?;
        Ok(Cert {
            der: der.to_vec(),
            tbs_range: (outer, tbs_end),
            parsed,
        })
    }

    /// Parse PEM (one certificate) or DER, whichever the bytes are.
    ///
    /// # Errors
    /// [`Error::CertificateMalformed`].
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Cert, Error> {
        let text = String::from_utf8_lossy(bytes);
        if let Some(start) = text.find("-----BEGIN CERTIFICATE-----") {
            let body = &text[start + 27..];
            let end = body
                .find("-----END CERTIFICATE-----")
                .ok_or(Error::CertificateMalformed("PEM end"))?;
            let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
            let der = super::b64::std(&b64).ok_or(Error::CertificateMalformed("PEM base64"))?;
            return Cert::from_der(&der);
        }
        Cert::from_der(bytes)
    }

    /// The DER as received.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The signed part.
    fn tbs(&self) -> &[u8] {
        &self.der[self.tbs_range.0..self.tbs_range.1]
    }

    /// Subject DN, DER-encoded, for matching an issuer.
    pub fn subject_der(&self) -> Vec<u8> {
        self.parsed
            .tbs_certificate()
            .subject()
            .to_der()
            .unwrap_or_default()
    }

    /// Issuer DN, DER-encoded.
    pub fn issuer_der(&self) -> Vec<u8> {
        self.parsed
            .tbs_certificate()
            .issuer()
            .to_der()
            .unwrap_or_default()
    }

    /// Subject DN as text, for display.
    pub fn subject_text(&self) -> String {
        self.parsed.tbs_certificate().subject().to_string()
    }

    /// `notBefore` and `notAfter` as Unix seconds.
    pub fn validity(&self) -> (i64, i64) {
        let v = self.parsed.tbs_certificate().validity();
        (
            v.not_before.to_unix_duration().as_secs() as i64,
            v.not_after.to_unix_duration().as_secs() as i64,
        )
    }

    /// Whether `at` (Unix seconds) lies within the validity.
    pub fn valid_at(&self, at: i64) -> bool {
        let (nb, na) = self.validity();
        nb <= at && at <= na
    }

    /// The raw value of the extension `oid`, if present.
    pub fn extension(&self, oid: &str) -> Option<Vec<u8>> {
        let oid = ObjectIdentifier::new(oid).ok()?;
        self.parsed
            .tbs_certificate()
            .extensions()?
            .iter()
            .find(|e| e.extn_id == oid)
            .map(|e| e.extn_value.as_bytes().to_vec())
    }

    /// The OIDs of the extensions marked critical, as dotted strings.
    pub fn critical_extensions(&self) -> Vec<String> {
        self.parsed
            .tbs_certificate()
            .extensions()
            .map(|exts| {
                exts.iter()
                    .filter(|e| e.critical)
                    .map(|e| e.extn_id.to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The subject's country (`C`, ISO 3166 alpha-2), if it names one.
    pub fn subject_country(&self) -> Option<String> {
        const COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
        self.parsed
            .tbs_certificate()
            .subject()
            .iter()
            .find(|atv| atv.oid == COUNTRY)
            .and_then(|atv| {
                let v = &atv.value;
                std::str::from_utf8(v.value()).ok().map(str::to_owned)
            })
    }

    /// The extended key usage OIDs, as dotted strings (empty when the extension is absent).
    pub fn extended_key_usage(&self) -> Option<Vec<String>> {
        let raw = self.extension("2.5.29.37")?;
        let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(&raw).ok()?;
        Some(eku.0.iter().map(|o| o.to_string()).collect())
    }

    /// Subject key identifier.
    pub fn subject_key_id(&self) -> Option<Vec<u8>> {
        let raw = self.extension("2.5.29.14")?;
        let ski = x509_cert::ext::pkix::SubjectKeyIdentifier::from_der(&raw).ok()?;
        Some(ski.0.as_bytes().to_vec())
    }

    /// Authority key identifier's keyIdentifier.
    pub fn authority_key_id(&self) -> Option<Vec<u8>> {
        let raw = self.extension("2.5.29.35")?;
        let aki = x509_cert::ext::pkix::AuthorityKeyIdentifier::from_der(&raw).ok()?;
        aki.key_identifier.map(|k| k.as_bytes().to_vec())
    }

    /// SAN URIs (for the SHC `x5c` check against `iss`).
    pub fn san_uris(&self) -> Vec<String> {
        use x509_cert::ext::pkix::SubjectAltName;
        use x509_cert::ext::pkix::name::GeneralName;
        let Some(raw) = self.extension("2.5.29.17") else {
            return vec![];
        };
        let Ok(san) = SubjectAltName::from_der(&raw) else {
            return vec![];
        };
        san.0
            .iter()
            .filter_map(|g| match g {
                GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
                _ => None,
            })
            .collect()
    }

    /// The subject public key.
    ///
    /// # Errors
    /// [`Error::UnsupportedAlgorithm`] for keys other than P-256, P-384 and RSA.
    pub fn public_key(&self) -> Result<PublicKey, Error> {
        let spki = self.parsed.tbs_certificate().subject_public_key_info();
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or(Error::CertificateMalformed("public key bits"))?
            .to_vec();
        match spki.algorithm.oid.to_string().as_str() {
            ID_EC_PUBLIC_KEY => {
                let params = spki.algorithm.parameters.as_ref();
                let curve = params
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                    .map(|o| o.to_string());
                match curve.as_deref() {
                    Some(P256) => Ok(PublicKey::P256(raw)),
                    Some(P384) => Ok(PublicKey::P384(raw)),
                    // ICAO CSCAs often spell the curve out as explicit parameters.
                    None => match params.map(|p| explicit_curve(p.value())) {
                        Some(Some(256)) => Ok(PublicKey::P256(raw)),
                        Some(Some(384)) => Ok(PublicKey::P384(raw)),
                        _ => Err(Error::UnsupportedAlgorithm("EC curve")),
                    },
                    _ => Err(Error::UnsupportedAlgorithm("EC curve")),
                }
            }
            RSA_ENCRYPTION => Ok(PublicKey::Rsa(raw)),
            _ => Err(Error::UnsupportedAlgorithm("public key type")),
        }
    }

    /// Whether `issuer` signed this certificate (its signature algorithm, over the TBS bytes).
    ///
    /// # Errors
    /// [`Error::ChainInvalid`] when the signature fails; [`Error::UnsupportedAlgorithm`].
    pub fn verify_signed_by(&self, issuer: &Cert) -> Result<(), Error> {
        let key = issuer.public_key()?;
        let alg = self.parsed.signature_algorithm();
        let oid = alg.oid.to_string();
        let params = alg
            .parameters
            .as_ref()
            .and_then(|p| p.to_der().ok())
            .unwrap_or_default();
        let sig = self
            .parsed
            .signature()
            .as_bytes()
            .ok_or(Error::CertificateMalformed("signature bits"))?;
        let (algorithm, key_bytes): (&dyn VerificationAlgorithm, &[u8]) = match (oid.as_str(), &key)
        {
            ("1.2.840.10045.4.3.2", PublicKey::P256(k)) => (&rs::ECDSA_P256_SHA256_ASN1, k),
            ("1.2.840.10045.4.3.3", PublicKey::P256(k)) => (&rs::ECDSA_P256_SHA384_ASN1, k),
            ("1.2.840.10045.4.3.2", PublicKey::P384(k)) => (&rs::ECDSA_P384_SHA256_ASN1, k),
            ("1.2.840.10045.4.3.3", PublicKey::P384(k)) => (&rs::ECDSA_P384_SHA384_ASN1, k),
            ("1.2.840.113549.1.1.11", PublicKey::Rsa(k)) => (&rs::RSA_PKCS1_2048_8192_SHA256, k),
            ("1.2.840.113549.1.1.12", PublicKey::Rsa(k)) => (&rs::RSA_PKCS1_2048_8192_SHA384, k),
            ("1.2.840.113549.1.1.13", PublicKey::Rsa(k)) => (&rs::RSA_PKCS1_2048_8192_SHA512, k),
            ("1.2.840.113549.1.1.10", PublicKey::Rsa(k)) => (pss_for(&params)?, k),
            _ => return Err(Error::UnsupportedAlgorithm("certificate signature")),
        };
        UnparsedPublicKey::new(algorithm, key_bytes)
            .verify(self.tbs(), sig)
            .map_err(|_| Error::ChainInvalid)
    }
}

/// Recognise explicit ECParameters equal to P-256 or P-384 (prime, a, b and generator x all
/// appear), returning the field size.
fn explicit_curve(params: &[u8]) -> Option<u32> {
    const CURVES: [(u32, &str, &str, &str, &str); 2] = [
        (
            256,
            "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
            "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc",
            "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
            "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
        ),
        (
            384,
            "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
            "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffc",
            "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
            "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7",
        ),
    ];
    let has = |hexs: &str| {
        let needle = hex::decode(hexs).unwrap_or_default();
        params.windows(needle.len()).any(|w| w == needle.as_slice())
    };
    CURVES
        .iter()
        .find(|(_, p, a, b, gx)| has(p) && has(a) && has(b) && has(gx))
        .map(|c| c.0)
}

/// The RSASSA-PSS variant named by the parameters' hash algorithm (default SHA-1 is refused).
fn pss_for(params: &[u8]) -> Result<&'static dyn VerificationAlgorithm, Error> {
    // hashAlgorithm is the first OID in RSASSA-PSS-params; the OIDs' DER bodies are distinct.
    const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
    const SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
    let first = [SHA256, SHA384, SHA512]
        .into_iter()
        .filter_map(|h| params.windows(h.len()).position(|w| w == h).map(|p| (p, h)))
        .min_by_key(|(p, _)| *p)
        .map(|(_, h)| h);
    match first {
        Some(h) if h == SHA256 => Ok(&rs::RSA_PSS_2048_8192_SHA256),
        Some(h) if h == SHA384 => Ok(&rs::RSA_PSS_2048_8192_SHA384),
        Some(_) => Ok(&rs::RSA_PSS_2048_8192_SHA512),
        None => Err(Error::UnsupportedAlgorithm("RSASSA-PSS with SHA-1")),
    }
}
