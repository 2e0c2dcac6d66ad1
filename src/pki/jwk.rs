//! JWKs for P-256 keys and their RFC 7638 thumbprints (p256 0.14 has no JWK feature; NOTES).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// `x` and `y`, base64url.
fn coordinates(key: &p256::PublicKey) -> (String, String) {
    let b = key.to_sec1_bytes(); // 04 ‖ x ‖ y, uncompressed
    (
        URL_SAFE_NO_PAD.encode(&b[1..33]),
        URL_SAFE_NO_PAD.encode(&b[33..65]),
    )
}

/// The RFC 7638 thumbprint: SHA-256 over `{"crv","kty","x","y"}` in that order, base64url.
pub fn thumbprint(key: &p256::PublicKey) -> String {
    let (x, y) = coordinates(key);
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The public JWK an SHC verifier needs: `kty, kid, use, alg, crv, x, y`, plus `x5c` (standard
/// base64 DER, leaf first) and `crlVersion` when present.
pub fn public_jwk(key: &p256::PublicKey, x5c_der: &[Vec<u8>], crl_version: Option<u32>) -> Value {
    let (x, y) = coordinates(key);
    let mut v = json!({
        "kty": "EC",
        "kid": thumbprint(key),
        "use": "sig",
        "alg": "ES256",
        "crv": "P-256",
        "x": x,
        "y": y,
    });
    if !x5c_der.is_empty() {
        let std = base64::engine::general_purpose::STANDARD;
        v["x5c"] = Value::from(x5c_der.iter().map(|d| std.encode(d)).collect::<Vec<_>>());
    }
    if let Some(n) = crl_version {
        v["crlVersion"] = Value::from(n);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_kids_are_their_thumbprints() {
        let text = std::fs::read_to_string(
            "../shared/vectors/smart-on-fhir-health-cards/examples/issuer/.well-known/jwks.json",
        )
        .unwrap();
        let jwks: Value = serde_json::from_str(&text).unwrap();
        for k in jwks["keys"].as_array().unwrap() {
            let x = URL_SAFE_NO_PAD.decode(k["x"].as_str().unwrap()).unwrap();
            let y = URL_SAFE_NO_PAD.decode(k["y"].as_str().unwrap()).unwrap();
            let mut sec1 = vec![4u8];
            sec1.extend(x);
            sec1.extend(y);
            let key = p256::PublicKey::from_sec1_bytes(&sec1).unwrap();
            assert_eq!(thumbprint(&key), k["kid"].as_str().unwrap());
        }
    }
}
