//! X.509 certificates through x509-cert's builder, with one profile type that states exactly
//! which extensions a certificate carries: CA or leaf, key usage, EKU (critical when ICAO says
//! so), SAN, ICAO's DocumentTypeList, and SKI/AKI derived from the keys (so a BSC's AKI equals
//! its CSCA's SKI by construction).

use std::str::FromStr;
use std::time::Duration;

use der::asn1::{Ia5String, OctetString};
use der::{Decode, Encode, EncodePem};
use spki::SubjectPublicKeyInfoRef;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::{Certificate, TbsCertificate};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::Error;
use crate::clock::UnixTime;

/// ICAO 9303-12 extended key usage for barcode signers of visible digital seals (non-constrained).
pub const OID_EKU_VDS_NC: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("2.23.136.1.1.14.2");
/// ICAO 9303-12 DocumentTypeList extension.
pub const OID_DOCUMENT_TYPE_LIST: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("2.23.136.1.1.6.2");

/// What a certificate is for.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Issuer name; `None` for a self-signed certificate.
    pub issuer: Option<Name>,
    /// Subject name.
    pub subject: Name,
    /// `Some(path length)` for a CA.
    pub ca: Option<Option<u8>>,
    /// Key usage bits (always critical).
    pub key_usage: Vec<KeyUsages>,
    /// Extended key usages.
    pub eku: Vec<const_oid::ObjectIdentifier>,
    /// Whether the EKU extension is critical (ICAO BSCs: yes).
    pub eku_critical: bool,
    /// SAN URIs (the SHC issuer's `iss`).
    pub san_uris: Vec<String>,
    /// SAN DNS names (TLS servers).
    pub san_dns: Vec<String>,
    /// SAN IP addresses (TLS servers on loopback).
    pub san_ips: Vec<[u8; 4]>,
    /// ICAO DocumentTypeList entries, e.g. `["NV"]`.
    pub document_types: Vec<String>,
}

impl Profile {
    /// A leaf with the given subject, issued by `issuer`.
    pub fn leaf(issuer: &Name, subject: &str) -> Result<Self, Error> {
        Ok(Profile {
            issuer: Some(issuer.clone()),
            subject: name(subject)?,
            ca: None,
            key_usage: vec![KeyUsages::DigitalSignature],
            eku: Vec::new(),
            eku_critical: false,
            san_uris: Vec::new(),
            san_dns: Vec::new(),
            san_ips: Vec::new(),
            document_types: Vec::new(),
        })
    }

    /// A CA, self-signed when `issuer` is `None`.
    pub fn ca(issuer: Option<&Name>, subject: &str, path_len: Option<u8>) -> Result<Self, Error> {
        Ok(Profile {
            issuer: issuer.cloned(),
            ca: Some(path_len),
            key_usage: vec![KeyUsages::KeyCertSign, KeyUsages::CRLSign],
            ..Profile::leaf(&Name::default(), subject)?
        })
    }
}

/// Parse an RFC 4514 name such as `CN=vaxcert DEV CSCA,O=vaxcert DEV,C=JP`.
pub fn name(s: &str) -> Result<Name, Error> {
    Name::from_str(s).map_err(|e| Error::Certificate(format!("name {s:?}: {e}")))
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.issuer.clone().unwrap_or_else(|| subject.clone())
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut exts: Vec<Extension> = Vec::new();
        let subject = tbs.subject();
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        let issuer_ski = SubjectKeyIdentifier::try_from(issuer_spk)?;
        exts.push(ski.to_extension(subject, &exts)?);
        exts.push(
            AuthorityKeyIdentifier {
                key_identifier: Some(issuer_ski.0.clone()),
                ..Default::default()
            }
            .to_extension(subject, &exts)?,
        );
        if let Some(path_len) = self.ca {
            exts.push(
                BasicConstraints {
                    ca: true,
                    path_len_constraint: path_len,
                }
                .to_extension(subject, &exts)?,
            );
        }
        let usage = self
            .key_usage
            .iter()
            .fold(der::flagset::FlagSet::<KeyUsages>::default(), |acc, u| {
                acc | *u
            });
        let mut ku = KeyUsage(usage).to_extension(subject, &exts)?;
        ku.critical = true;
        exts.push(ku);
        if !self.eku.is_empty() {
            let mut e = ExtendedKeyUsage(self.eku.clone()).to_extension(subject, &exts)?;
            e.critical = self.eku_critical;
            exts.push(e);
        }
        let mut names = Vec::new();
        for uri in &self.san_uris {
            names.push(GeneralName::UniformResourceIdentifier(Ia5String::new(uri)?));
        }
        for dns in &self.san_dns {
            names.push(GeneralName::DnsName(Ia5String::new(dns)?));
        }
        for ip in &self.san_ips {
            names.push(GeneralName::IpAddress(OctetString::new(ip.to_vec())?));
        }
        if !names.is_empty() {
            exts.push(SubjectAltName(names).to_extension(subject, &exts)?);
        }
        if !self.document_types.is_empty() {
            exts.push(Extension {
                extn_id: OID_DOCUMENT_TYPE_LIST,
                critical: false,
                extn_value: OctetString::new(document_type_list(&self.document_types))?,
            });
        }
        Ok(exts)
    }
}

/// `DocumentTypeListSyntax ::= SEQUENCE { version INTEGER (v0), docTypeList SET OF
/// PrintableString }` (ICAO 9303-12 §7.1.1.2), DER.
fn document_type_list(types: &[String]) -> Vec<u8> {
    let mut set = Vec::new();
    for t in types {
        set.push(0x13);
        set.push(t.len() as u8);
        set.extend_from_slice(t.as_bytes());
    }
    let mut body = vec![0x02, 0x01, 0x00, 0x31, set.len() as u8];
    body.extend(set);
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// The validity window, from Unix times.
pub fn validity(from: UnixTime, to: UnixTime) -> Result<Validity, Error> {
    let t = |u: UnixTime| -> Result<Time, Error> {
        let st = std::time::UNIX_EPOCH + Duration::from_secs(u.0.max(0) as u64);
        Time::try_from(st).map_err(|e| Error::Certificate(e.to_string()))
    };
    Ok(Validity::new(t(from)?, t(to)?))
}

/// Sign a certificate for `subject_key` (P-256) with a P-256 issuer key.
pub fn issue_p256(
    profile: Profile,
    serial: u32,
    validity: Validity,
    subject_spki: spki::SubjectPublicKeyInfoOwned,
    issuer_key: &p256::ecdsa::SigningKey,
) -> Result<Certificate, Error> {
    let b = CertificateBuilder::new(profile, SerialNumber::from(serial), validity, subject_spki)
        .map_err(|e| Error::Certificate(e.to_string()))?;
    b.build::<_, p256::ecdsa::DerSignature>(issuer_key)
        .map_err(|e| Error::Certificate(e.to_string()))
}

/// Sign a certificate with a P-384 issuer key (the CSCA).
pub fn issue_p384(
    profile: Profile,
    serial: u32,
    validity: Validity,
    subject_spki: spki::SubjectPublicKeyInfoOwned,
    issuer_key: &p384::ecdsa::SigningKey,
) -> Result<Certificate, Error> {
    let b = CertificateBuilder::new(profile, SerialNumber::from(serial), validity, subject_spki)
        .map_err(|e| Error::Certificate(e.to_string()))?;
    b.build::<_, p384::ecdsa::DerSignature>(issuer_key)
        .map_err(|e| Error::Certificate(e.to_string()))
}

/// PEM text of a certificate.
pub fn to_pem(cert: &Certificate) -> Result<String, Error> {
    cert.to_pem(der::pem::LineEnding::LF)
        .map_err(|e| Error::Certificate(e.to_string()))
}

/// DER bytes of a certificate.
pub fn to_der(cert: &Certificate) -> Result<Vec<u8>, Error> {
    cert.to_der().map_err(|e| Error::Certificate(e.to_string()))
}

/// Read a PEM (or DER) certificate file.
pub fn load(path: &std::path::Path) -> Result<Certificate, Error> {
    let bytes = super::read(path)?;
    let parsed = if bytes.starts_with(b"-----") {
        // A PEM file may carry the chain after the certificate: the first one is it.
        Certificate::load_pem_chain(&bytes).and_then(|chain| {
            chain
                .into_iter()
                .next()
                .ok_or(der::Error::from(der::ErrorKind::Failed))
        })
    } else {
        Certificate::from_der(&bytes)
    };
    parsed.map_err(|e| Error::Format {
        path: path.to_owned(),
        what: format!("not an X.509 certificate ({e})"),
    })
}

/// A [`super::Signer`] (a file or a token key) in the shape x509-cert's builders want:
/// ECDSA P-256 with SHA-256, the signature DER-encoded from the raw `r ‖ s` the key gives.
struct BuilderKey<'a> {
    key: &'a dyn super::Signer,
    public: p256::ecdsa::VerifyingKey,
}

impl<'a> BuilderKey<'a> {
    fn new(key: &'a dyn super::Signer) -> Self {
        BuilderKey {
            key,
            public: p256::ecdsa::VerifyingKey::from(*key.public_key()),
        }
    }
}

impl p256::ecdsa::signature::Keypair for BuilderKey<'_> {
    type VerifyingKey = p256::ecdsa::VerifyingKey;
    fn verifying_key(&self) -> Self::VerifyingKey {
        self.public
    }
}

impl spki::DynSignatureAlgorithmIdentifier for BuilderKey<'_> {
    fn signature_algorithm_identifier(&self) -> spki::Result<spki::AlgorithmIdentifierOwned> {
        Ok(spki::AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::ECDSA_WITH_SHA_256,
            parameters: None,
        })
    }
}

impl p256::ecdsa::signature::Signer<p256::ecdsa::DerSignature> for BuilderKey<'_> {
    fn try_sign(
        &self,
        msg: &[u8],
    ) -> Result<p256::ecdsa::DerSignature, p256::ecdsa::signature::Error> {
        let raw = self
            .key
            .sign_es256(msg)
            .map_err(|_| p256::ecdsa::signature::Error::new())?;
        Ok(p256::ecdsa::Signature::from_slice(&raw)?.to_der())
    }
}

/// Sign a certificate for `subject_spki` with any P-256 [`super::Signer`] (a token key in the
/// production ceremony).
///
/// # Errors
/// [`Error::Certificate`].
pub fn issue_with(
    profile: Profile,
    serial: u32,
    validity: Validity,
    subject_spki: spki::SubjectPublicKeyInfoOwned,
    issuer_key: &dyn super::Signer,
) -> Result<Certificate, Error> {
    let b = CertificateBuilder::new(profile, SerialNumber::from(serial), validity, subject_spki)
        .map_err(|e| Error::Certificate(e.to_string()))?;
    b.build::<_, p256::ecdsa::DerSignature>(&BuilderKey::new(issuer_key))
        .map_err(|e| Error::Certificate(e.to_string()))
}

/// A PKCS#10 certificate request (PEM) for `key`, signed by it: what a CA outside vaxcert
/// needs to certify a key that never leaves the token.
///
/// # Errors
/// [`Error::Certificate`].
pub fn request_with(subject: &str, key: &dyn super::Signer) -> Result<String, Error> {
    use x509_cert::request::RequestBuilder;
    let b = RequestBuilder::new(name(subject)?).map_err(|e| Error::Certificate(e.to_string()))?;
    let req = b
        .build::<_, p256::ecdsa::DerSignature>(&BuilderKey::new(key))
        .map_err(|e| Error::Certificate(e.to_string()))?;
    req.to_pem(der::pem::LineEnding::LF)
        .map_err(|e| Error::Certificate(e.to_string()))
}

/// The SubjectPublicKeyInfo of a P-256 public key.
///
/// # Errors
/// [`Error::Certificate`].
pub fn spki_of(key: &p256::PublicKey) -> Result<spki::SubjectPublicKeyInfoOwned, Error> {
    spki::SubjectPublicKeyInfoOwned::from_key(key).map_err(|e| Error::Certificate(e.to_string()))
}

/// Whether a certificate names the dev organisation ([`super::DEV_ORG`]): dev material.
pub fn is_dev(cert: &Certificate) -> bool {
    cert.tbs_certificate()
        .subject()
        .to_string()
        .contains(&format!("O={}", super::DEV_ORG))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_type_list_is_the_icao_der() {
        assert_eq!(
            document_type_list(&["NV".into()]),
            [
                0x30, 0x09, 0x02, 0x01, 0x00, 0x31, 0x04, 0x13, 0x02, b'N', b'V'
            ]
        );
    }
}
