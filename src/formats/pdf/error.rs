//! What can go wrong building or signing a PDF certificate. Variants carry data, never
//! personal details or key bytes; [`Error::code`] is the stable machine-readable code.

/// A failure loading the layout, the font or the signing key, or making the PDF.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The layout file could not be read.
    #[error("cannot read the PDF layout {path}: {reason}")]
    LayoutRead {
        /// The file asked for.
        path: String,
        /// The I/O error kind.
        reason: String,
    },
    /// The layout file is not a valid layout (bad TOML, missing field, a broken rule).
    #[error("the PDF layout is invalid: {0}")]
    LayoutInvalid(String),
    /// The font bytes are not a font printpdf can parse.
    #[error("the PDF font cannot be parsed")]
    Font,
    /// A character to print has no glyph in the embedded font.
    #[error("the embedded font has no glyph for U+{0:04X}")]
    MissingGlyph(u32),
    /// The document asks for something the certificate cannot show (a field the kind needs
    /// is absent, no doses, a QR code that would be too small).
    #[error("the certificate content is not printable: {0}")]
    Content(&'static str),
    /// printpdf or lopdf failed while writing the file.
    #[error("writing the PDF failed: {0}")]
    Write(String),
    /// The signing key or certificate file could not be read.
    #[error("cannot read {path}: {reason}")]
    KeyRead {
        /// The file asked for.
        path: String,
        /// The I/O error kind.
        reason: String,
    },
    /// The signing key is not a PKCS#8 P-256 key, or the certificate is not X.509 PEM.
    #[error("the PDF signing key or certificate is invalid: {0}")]
    KeyInvalid(&'static str),
    /// The certificate does not belong to the key.
    #[error("the PDF signing certificate does not match its key")]
    KeyMismatch,
    /// The bytes to sign are not a PDF this signer made (no placeholder, bad structure).
    #[error("the PDF cannot be signed: {0}")]
    SignInput(&'static str),
    /// The CMS signature is larger than the space reserved for it.
    #[error("the signature ({needed} bytes) does not fit its reserved space ({reserved} bytes)")]
    SignatureTooLarge {
        /// DER length of the CMS.
        needed: usize,
        /// Bytes reserved in `/Contents`.
        reserved: usize,
    },
    /// Encoding the CMS structure failed.
    #[error("encoding the CMS signature failed")]
    Cms,
    /// The signing key (file or token) did not sign.
    #[error("the PDF signing key failed: {0}")]
    Sign(String),
}

impl Error {
    /// The stable machine-readable code, as used in problem responses and CLI output.
    pub fn code(&self) -> &'static str {
        match self {
            Error::LayoutRead { .. } => "pdf-layout-unreadable",
            Error::LayoutInvalid(_) => "pdf-layout-invalid",
            Error::Font => "pdf-font-invalid",
            Error::MissingGlyph(_) => "pdf-glyph-missing",
            Error::Content(_) => "pdf-content-invalid",
            Error::Write(_) => "pdf-write-failed",
            Error::KeyRead { .. } => "pdf-key-unreadable",
            Error::KeyInvalid(_) => "pdf-key-invalid",
            Error::KeyMismatch => "pdf-key-mismatch",
            Error::SignInput(_) => "pdf-sign-input",
            Error::SignatureTooLarge { .. } => "pdf-signature-too-large",
            Error::Cms => "pdf-cms-failed",
            Error::Sign(_) => "pdf-sign-failed",
        }
    }
}
