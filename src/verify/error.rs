//! Why a certificate did not verify. Each variant is one stable `reason` code in a verdict
//! ([`Error::code`]); variants carry small data, never the certificate's personal data.

/// A reason a certificate is not `valid`: malformed input, a failed check, or an issuer outside
/// the trust store. [`Error::verdict`] sorts them into `invalid` and `unknown-issuer`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- input ---
    /// Nothing was given (empty text, empty file, an image without any QR code).
    #[error("the input is empty")]
    Empty,
    /// The input is larger than any certificate can be.
    #[error("the input is larger than {limit} bytes")]
    TooLarge {
        /// The cap that was exceeded.
        limit: usize,
    },
    /// The input is none of the accepted forms.
    #[error("not a recognised certificate ({0})")]
    Unrecognised(&'static str),
    /// A known file type that holds no certificate (a key set, a FHIR resource, an SHL file).
    #[error("not a health certificate but {0}")]
    NotACertificate(&'static str),
    /// A path that could not be read.
    #[error("cannot read the input file: {0}")]
    Unreadable(String),
    /// The picture could not be decoded as PNG or JPEG.
    #[error("the image cannot be decoded")]
    ImageUndecodable,
    /// The picture holds no readable QR code.
    #[error("no readable QR code in the image")]
    QrUnreadable,
    /// The picture has more pixels than a phone photo of a certificate needs.
    #[error("the image has {pixels} pixels; at most {limit} are read")]
    ImageTooLarge {
        /// Its pixels.
        pixels: u64,
        /// The cap.
        limit: u64,
    },
    /// Finding the QR code took more work than any real picture needs (a picture crafted
    /// with thousands of finder patterns, say): given up, not read.
    #[error("the image is too complex to search for a QR code")]
    ImageTooComplex,
    /// An SHC QR code above version 22 (SHC 1.4 limit; DESIGN §6).
    #[error("the SHC QR code is version {version}; SMART Health Cards allow at most 22")]
    QrVersionTooHigh {
        /// Version found.
        version: usize,
    },

    // --- SMART Health Cards ---
    /// `shc:/` digits that are not pairs in 00–77.
    #[error("the shc:/ numeric data is malformed")]
    ShcNumeric,
    /// A chunked `shc:/C/N/` set that is incomplete, inconsistent or out of range.
    #[error("the chunked shc:/ codes are incomplete or inconsistent ({0})")]
    ShcChunks(&'static str),
    /// Not a compact JWS (three base64url parts).
    #[error("the JWS is malformed ({0})")]
    JwsMalformed(&'static str),
    /// The JWS header is not `ES256` + `DEF` + `kid`.
    #[error("the JWS header is not acceptable ({0})")]
    JwsHeader(&'static str),
    /// The signature is not 64 raw bytes R‖S (for example DER-encoded).
    #[error("the signature is not a raw ES256 signature ({len} bytes)")]
    SignatureNotRaw {
        /// Length found.
        len: usize,
    },
    /// The payload does not inflate.
    #[error("the payload does not inflate as raw DEFLATE/zlib")]
    Inflate,
    /// The payload inflates beyond the cap.
    #[error("the payload inflates beyond {limit} bytes")]
    InflateTooLarge {
        /// The cap.
        limit: usize,
    },
    /// The payload is not the JSON or CBOR structure expected.
    #[error("the payload is malformed ({0})")]
    PayloadMalformed(&'static str),
    /// The issuer is trusted, but holds no key with this `kid`.
    #[error("the issuer has no key with this kid")]
    KidNotFound,
    /// The key in the trust store is not usable for this signature.
    #[error("the trusted key is unusable ({0})")]
    KeyUnusable(&'static str),
    /// The signature does not verify.
    #[error("the signature does not verify")]
    SignatureInvalid,
    /// The issuer (SHC `iss`, VDS-NC CSCA, EU DCC `kid`) is not in the trust store.
    #[error("the issuer is not in the trust store")]
    UnknownIssuer,
    /// The card's `rid` is on the issuer's revocation list.
    #[error("the certificate has been revoked by its issuer")]
    Revoked,
    /// The key's revocation list exists but cannot be used; the verdict fails closed.
    #[error("the issuer's revocation list for this key is unusable")]
    CrlUnusable,
    /// The key has a revocation list (`crlVersion` > 0) that the verifier does not hold.
    #[error("the issuer's revocation list for this key is not available")]
    CrlMissing,
    /// The revocation list held is another version (`ctr`) than the key announces.
    #[error("the revocation list held is not the version the issuer's key announces")]
    CrlVersionMismatch,
    /// `nbf` or `iat` lies after the verification time.
    #[error("the certificate is not valid yet at the verification time")]
    NotYetValid,
    /// `exp` lies before the verification time.
    #[error("the certificate has expired at the verification time")]
    Expired,

    // --- VDS-NC and X.509 ---
    /// The VDS-NC JSON lacks a required member or has a wrong type.
    #[error("the VDS-NC is malformed ({0})")]
    VdsMalformed(&'static str),
    /// A certificate (BSC, DSC) cannot be parsed.
    #[error("a signer certificate is malformed ({0})")]
    CertificateMalformed(&'static str),
    /// The signer certificate is not signed by the trusted anchor that names it.
    #[error("the signer certificate does not chain to the trusted anchor")]
    ChainInvalid,
    /// A certificate in the chain is outside its validity at the verification time.
    #[error("the signer certificate is not valid at the verification time")]
    CertificateNotValidAt,
    /// The seal names another issuing country than the CSCA that vouches for its signer.
    #[error("the issuing country does not match the country signing CA's")]
    IssuingCountryMismatch,
    /// The signer certificate has a critical extension this verifier does not know, so it
    /// may not rely on it (RFC 5280 §4.2).
    #[error("the signer certificate has an unknown critical extension")]
    UnknownCriticalExtension,
    /// The signer certificate lacks the extended key usage this document needs.
    #[error("the signer certificate may not sign this document (key usage)")]
    KeyUsage,
    /// The BSC's DocumentTypeList does not allow this document type.
    #[error("the signer certificate's document type list does not allow this document")]
    DocumentType,
    /// An algorithm vaxcert does not verify.
    #[error("unsupported algorithm ({0})")]
    UnsupportedAlgorithm(&'static str),

    // --- EU DCC ---
    /// Not `HC1:`.
    #[error("the EU DCC context prefix is missing or not HC1:")]
    Hc1Prefix,
    /// Characters outside the base45 alphabet, or a value out of range.
    #[error("the base45 text is malformed")]
    Base45,
    /// CBOR that does not decode, or nests too deeply.
    #[error("the CBOR is malformed")]
    Cbor,
    /// Not a COSE_Sign1 with a CWT payload.
    #[error("the COSE structure is malformed ({0})")]
    Cose(&'static str),
    /// The health certificate does not follow the DCC schema.
    #[error("the health certificate does not follow the DCC schema ({0})")]
    Schema(&'static str),
}

/// The three verdicts of DESIGN §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Signed by a trusted issuer, unrevoked, within its validity.
    Valid,
    /// Anything wrong with the certificate or the input.
    Invalid,
    /// Well-formed, but its issuer is not in the trust store.
    UnknownIssuer,
}

impl Verdict {
    /// The verdict as printed (`valid`, `invalid`, `unknown-issuer`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::UnknownIssuer => "unknown-issuer",
        }
    }
}

impl Error {
    /// The verdict this reason leads to.
    pub fn verdict(&self) -> Verdict {
        match self {
            Error::UnknownIssuer => Verdict::UnknownIssuer,
            _ => Verdict::Invalid,
        }
    }

    /// The stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Empty => "empty-input",
            Error::TooLarge { .. } => "input-too-large",
            Error::Unrecognised(_) => "unrecognised-input",
            Error::NotACertificate(_) => "not-a-certificate",
            Error::Unreadable(_) => "input-unreadable",
            Error::ImageUndecodable => "image-undecodable",
            Error::QrUnreadable => "qr-unreadable",
            Error::ImageTooLarge { .. } => "image-too-large",
            Error::ImageTooComplex => "image-too-complex",
            Error::QrVersionTooHigh { .. } => "qr-version-too-high",
            Error::ShcNumeric => "shc-numeric-malformed",
            Error::ShcChunks(_) => "shc-chunks-invalid",
            Error::JwsMalformed(_) => "jws-malformed",
            Error::JwsHeader(_) => "jws-header-invalid",
            Error::SignatureNotRaw { .. } => "signature-not-raw",
            Error::Inflate => "inflate-failed",
            Error::InflateTooLarge { .. } => "inflate-too-large",
            Error::PayloadMalformed(_) => "payload-malformed",
            Error::KidNotFound => "kid-not-found",
            Error::KeyUnusable(_) => "key-unusable",
            Error::SignatureInvalid => "signature-invalid",
            Error::UnknownIssuer => "unknown-issuer",
            Error::Revoked => "revoked",
            Error::CrlUnusable => "crl-unusable",
            Error::NotYetValid => "not-yet-valid",
            Error::Expired => "expired",
            Error::CrlMissing => "crl-unavailable",
            Error::CrlVersionMismatch => "crl-version-mismatch",
            Error::VdsMalformed(_) => "vdsnc-malformed",
            Error::CertificateMalformed(_) => "certificate-malformed",
            Error::ChainInvalid => "chain-invalid",
            Error::IssuingCountryMismatch => "issuing-country-mismatch",
            Error::UnknownCriticalExtension => "critical-extension-unknown",
            Error::CertificateNotValidAt => "certificate-not-valid-at-time",
            Error::KeyUsage => "key-usage",
            Error::DocumentType => "document-type-not-allowed",
            Error::UnsupportedAlgorithm(_) => "unsupported-algorithm",
            Error::Hc1Prefix => "hc1-prefix",
            Error::Base45 => "base45-invalid",
            Error::Cbor => "cbor-malformed",
            Error::Cose(_) => "cose-malformed",
            Error::Schema(_) => "dcc-schema",
        }
    }
}

/// Failures of the tooling around verification (loading or changing the trust store, serving):
/// the operator's problem, not a verdict on a certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// A file of the trust store is missing or unreadable.
    #[error("cannot read {path}: {detail}")]
    Read {
        /// The path.
        path: String,
        /// The OS error.
        detail: String,
    },
    /// A file of the trust store is not what its place says.
    #[error("{path} is malformed: {what}")]
    Malformed {
        /// The path.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// `--trust-dev` was given but the dev issuer files are not there yet.
    #[error("--trust-dev: the dev issuer file {path} is missing (run `vaxcert keys dev`)")]
    DevMissing {
        /// The missing path.
        path: String,
    },
    /// Writing to the trust store failed.
    #[error("cannot write {path}: {detail}")]
    Write {
        /// The path.
        path: String,
        /// The OS error.
        detail: String,
    },
}

impl TrustError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            TrustError::Read { .. } => "trust-read",
            TrustError::Malformed { .. } => "trust-malformed",
            TrustError::DevMissing { .. } => "trust-dev-missing",
            TrustError::Write { .. } => "trust-write",
        }
    }
}
