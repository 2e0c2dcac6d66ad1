//! Signing keys in an HSM, reached through PKCS#11 (`cryptoki`), behind the same [`Signer`] as
//! file keys. The token computes ECDSA (`CKM_ECDSA`) over a SHA-256 digest computed here and
//! answers raw `r ‖ s`, which is what JWS wants; CMS converts it to DER itself.
//!
//! ```text
//! Token      one module + one token: the login, a pool of sessions, key generation
//!   └ TokenSigner   one private key by label; signs through a pooled session
//! ```
//!
//! Concurrency: a PKCS#11 session must not be used by two threads at once, so each signature
//! takes a session from the pool (opening one when the pool is empty) and puts it back; many
//! issuances sign at once without queueing on one session. Recovery: when the token answers
//! that the session or the login is gone (a token reset, a removed device), the pool is
//! dropped, the module logs in again and the signature is tried once more. Private keys are
//! generated with `CKA_SENSITIVE` and without `CKA_EXTRACTABLE`: they never leave the token.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::Signer;

/// DER of the named curve prime256v1 (secp256r1), the only curve our signing keys use.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// Why the token could not be used. Codes are stable: `hsm-unavailable`, `hsm-login`,
/// `key-not-found`, `hsm-sign`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HsmError {
    /// The module could not be loaded, or no token has the configured label.
    #[error("the HSM is unavailable: {0}")]
    Unavailable(String),
    /// The PIN was refused (or the token is locked).
    #[error("the HSM refused the login: {0}")]
    Login(String),
    /// No private key with that label is on the token.
    #[error("no key labelled {0:?} on the token")]
    KeyNotFound(String),
    /// The token failed to sign or to make a key.
    #[error("the HSM failed: {0}")]
    Operation(String),
}

impl HsmError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            HsmError::Unavailable(_) => "hsm-unavailable",
            HsmError::Login(_) => "hsm-login",
            HsmError::KeyNotFound(_) => "key-not-found",
            HsmError::Operation(_) => "hsm-sign",
        }
    }
}

impl From<HsmError> for super::Error {
    fn from(e: HsmError) -> Self {
        super::Error::Hsm(e)
    }
}

/// Where the token is: the module, the token's label, and the user PIN.
#[derive(Clone)]
pub struct TokenConfig {
    /// The PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// The token label (`CKA_LABEL` of the token, as `pkcs11-tool -L` shows it).
    pub token_label: String,
    /// The user PIN (from a secret store or a 0600 file; never printed).
    pub pin: SecretString,
}

impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConfig")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("pin", &"<secret>")
            .finish()
    }
}

/// One logged-in token, shared by every key on it.
pub struct Token {
    ctx: Pkcs11,
    slot: Slot,
    pin: SecretString,
    label: String,
    pool: Mutex<Vec<Session>>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({:?})", self.label)
    }
}

fn is_lost(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::UserNotLoggedIn
                | RvError::TokenNotPresent
                | RvError::DeviceRemoved
                | RvError::ObjectHandleInvalid
                | RvError::KeyHandleInvalid,
            _
        )
    )
}

impl Token {
    /// Load the module, find the token by label, and log in as the user.
    ///
    /// # Errors
    /// [`HsmError::Unavailable`] (module or token missing), [`HsmError::Login`].
    pub fn open(config: &TokenConfig) -> Result<Arc<Self>, HsmError> {
        let unavailable = |e: &dyn std::fmt::Display| HsmError::Unavailable(e.to_string());
        let module = config.module.display().to_string();
        let ctx = Pkcs11::new(&config.module)
            .map_err(|e| HsmError::Unavailable(format!("{module}: {e}")))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(HsmError::Unavailable(format!("{module}: {e}"))),
        }
        let mut slot = None;
        for s in ctx.get_slots_with_token().map_err(|e| unavailable(&e))? {
            let info = ctx.get_token_info(s).map_err(|e| unavailable(&e))?;
            if info.label().trim_end() == config.token_label {
                slot = Some(s);
                break;
            }
        }
        let slot = slot.ok_or_else(|| {
            HsmError::Unavailable(format!(
                "no token labelled {:?} in {module}",
                config.token_label
            ))
        })?;
        let token = Token {
            ctx,
            slot,
            pin: config.pin.clone(),
            label: config.token_label.clone(),
            pool: Mutex::new(Vec::new()),
        };
        let first = token.new_session()?;
        token.put(first);
        Ok(Arc::new(token))
    }

    /// A new read-write session, logged in (login state is per application: once is enough,
    /// but a reset token needs it again).
    fn new_session(&self) -> Result<Session, HsmError> {
        let s = self
            .ctx
            .open_rw_session(self.slot)
            .map_err(|e| HsmError::Unavailable(e.to_string()))?;
        let pin = cryptoki::types::AuthPin::from(self.pin.expose_secret().to_owned());
        match s.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(s),
            Err(e @ CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLocked, _)) => {
                Err(HsmError::Login(e.to_string()))
            }
            Err(e) => Err(HsmError::Login(e.to_string())),
        }
    }

    fn take(&self) -> Result<Session, HsmError> {
        let pooled = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match pooled {
            Some(s) => Ok(s),
            None => self.new_session(),
        }
    }

    fn put(&self, s: Session) {
        let mut pool = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.len() < 32 {
            pool.push(s);
        }
    }

    /// Run `f` on a pooled session; if the token says the session or login is gone, drop the
    /// pool, log in again, and try once more.
    fn with_session<T>(&self, f: impl Fn(&Session) -> Result<T, CkError>) -> Result<T, HsmError> {
        let s = self.take()?;
        match f(&s) {
            Ok(v) => {
                self.put(s);
                Ok(v)
            }
            Err(e) if is_lost(&e) => {
                drop(s);
                self.pool
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clear();
                let s = self.new_session()?;
                let v = f(&s).map_err(|e| HsmError::Operation(e.to_string()))?;
                self.put(s);
                Ok(v)
            }
            Err(e) => {
                self.put(s);
                Err(HsmError::Operation(e.to_string()))
            }
        }
    }

    fn find(
        &self,
        s: &Session,
        class: ObjectClass,
        label: &str,
    ) -> Result<Option<ObjectHandle>, CkError> {
        Ok(s.find_objects(&[
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ])?
        .into_iter()
        .next())
    }

    /// The signer for the private key labelled `label` (its public half found by the same
    /// label).
    ///
    /// # Errors
    /// [`HsmError::KeyNotFound`], [`HsmError::Operation`] for a key that is not P-256.
    pub fn signer(self: &Arc<Self>, label: &str) -> Result<TokenSigner, HsmError> {
        let (private, point) = self.with_session(|s| {
            let private = self.find(s, ObjectClass::PRIVATE_KEY, label)?;
            let public = self.find(s, ObjectClass::PUBLIC_KEY, label)?;
            let point = match public {
                Some(p) => s.get_attributes(p, &[AttributeType::EcPoint])?,
                None => Vec::new(),
            };
            Ok((private, point))
        })?;
        let private = private.ok_or_else(|| HsmError::KeyNotFound(label.to_owned()))?;
        let public = point
            .into_iter()
            .find_map(|a| match a {
                Attribute::EcPoint(p) => Some(p),
                _ => None,
            })
            .ok_or_else(|| HsmError::KeyNotFound(format!("{label} (public key)")))?;
        let public = public_from_ec_point(&public)
            .ok_or_else(|| HsmError::Operation(format!("{label} is not a P-256 key")))?;
        Ok(TokenSigner {
            token: self.clone(),
            label: label.to_owned(),
            handle: Mutex::new(private),
            public,
        })
    }

    /// Whether a private key labelled `label` exists.
    ///
    /// # Errors
    /// [`HsmError`] when the token cannot be asked.
    pub fn has_key(&self, label: &str) -> Result<bool, HsmError> {
        self.with_session(|s| Ok(self.find(s, ObjectClass::PRIVATE_KEY, label)?.is_some()))
    }

    /// Generate a P-256 key pair on the token: the private half sensitive, never extractable,
    /// signing only; both halves labelled `label`.
    ///
    /// # Errors
    /// [`HsmError::Operation`], or an existing key with that label.
    pub fn generate_p256(self: &Arc<Self>, label: &str) -> Result<TokenSigner, HsmError> {
        if self.has_key(label)? {
            return Err(HsmError::Operation(format!(
                "a key labelled {label:?} is already on the token"
            )));
        }
        let id = Sha256::digest(label.as_bytes())[..8].to_vec();
        self.with_session(|s| {
            s.generate_key_pair(
                &Mechanism::EccKeyPairGen,
                &[
                    Attribute::Token(true),
                    Attribute::Private(false),
                    Attribute::Verify(true),
                    Attribute::EcParams(P256_PARAMS.to_vec()),
                    Attribute::Label(label.as_bytes().to_vec()),
                    Attribute::Id(id.clone()),
                ],
                &[
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Sign(true),
                    Attribute::KeyType(KeyType::EC),
                    Attribute::Label(label.as_bytes().to_vec()),
                    Attribute::Id(id.clone()),
                ],
            )
        })?;
        self.signer(label)
    }
}

/// `CKA_EC_POINT` is a DER OCTET STRING around the SEC1 point (most modules), or the bare point.
fn public_from_ec_point(raw: &[u8]) -> Option<p256::PublicKey> {
    let bare = match raw {
        [0x04, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
        [0x04, 0x81, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
        other => other,
    };
    p256::PublicKey::from_sec1_bytes(bare).ok()
}

/// A P-256 private key on a token.
pub struct TokenSigner {
    token: Arc<Token>,
    label: String,
    handle: Mutex<ObjectHandle>,
    public: p256::PublicKey,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSigner({:?} on {:?})", self.label, self.token.label)
    }
}

impl TokenSigner {
    /// The key's label on the token.
    pub fn label(&self) -> &str {
        &self.label
    }
}

impl Signer for TokenSigner {
    fn sign_es256(&self, message: &[u8]) -> Result<[u8; 64], super::Error> {
        let started = std::time::Instant::now();
        let digest = Sha256::digest(message);
        let handle = *self
            .handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let sig = self.token.with_session(|s| {
            match s.sign(&Mechanism::Ecdsa, handle, &digest) {
                // A token reset may renumber objects: find the key again by label.
                Err(CkError::Pkcs11(
                    RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid,
                    _,
                )) => {
                    let fresh = self
                        .token
                        .find(s, ObjectClass::PRIVATE_KEY, &self.label)?
                        .ok_or(CkError::Pkcs11(
                            RvError::KeyHandleInvalid,
                            cryptoki::context::Function::Sign,
                        ))?;
                    *self
                        .handle
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
                    s.sign(&Mechanism::Ecdsa, fresh, &digest)
                }
                other => other,
            }
        })?;
        crate::telemetry::metrics::signing("pkcs11", started.elapsed());
        sig.as_slice()
            .try_into()
            .map_err(|_| HsmError::Operation("ECDSA signature is not 64 bytes".into()).into())
    }

    fn public_key(&self) -> &p256::PublicKey {
        &self.public
    }

    fn is_dev(&self) -> bool {
        false
    }
}

/// The module Debian's `softhsm2` package installs, for tests and the README's examples.
pub fn softhsm_module() -> &'static Path {
    Path::new("/usr/lib/softhsm/libsofthsm2.so")
}
