//! What records publishes for SHC verifiers: `jwks.json` (with `x5c`) and `crl/<kid>.json`. The
//! CRL's `ctr` always equals the key's `crlVersion`; revoking a rid raises both together.

use std::path::Path;

use serde_json::{Value, json};

use super::Error;
use crate::pki::jwk;

fn read_json(path: &Path) -> Result<Value, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Publication(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Error::Publication(format!("{}: {e}", path.display())))
}

fn write_json(path: &Path, v: &Value) -> Result<(), Error> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)
            .map_err(|e| Error::Publication(format!("{}: {e}", p.display())))?;
    }
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::Encoding(e.to_string()))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| Error::Publication(format!("{}: {e}", path.display())))
}

/// Write a fresh `jwks.json` (one key, `crlVersion` 1) and its empty CRL (`ctr` 1).
///
/// # Errors
/// I/O failures.
pub fn write_initial(dir: &Path, key: &p256::PublicKey, x5c_der: &[Vec<u8>]) -> Result<(), Error> {
    let jwk = jwk::public_jwk(key, x5c_der, Some(1));
    let kid = jwk::thumbprint(key);
    write_json(&dir.join("jwks.json"), &json!({"keys": [jwk]}))?;
    write_json(
        &dir.join(format!("crl/{kid}.json")),
        &json!({"kid": kid, "method": "rid", "ctr": 1, "rids": []}),
    )
}

/// Make sure every key in `keys` is in `jwks.json` (added with `crlVersion` 1 and an empty CRL
/// when new), keeping the keys and CRL versions already published: how a rotated key joins the
/// old one, whose certificates keep verifying until it is retired from the JWKS.
///
/// # Errors
/// I/O failures or an unreadable `jwks.json`.
pub fn ensure(dir: &Path, keys: &[(p256::PublicKey, Vec<Vec<u8>>)]) -> Result<(), Error> {
    let path = dir.join("jwks.json");
    let mut jwks = if path.exists() {
        read_json(&path)?
    } else {
        json!({"keys": []})
    };
    let list = jwks["keys"]
        .as_array_mut()
        .ok_or_else(|| Error::Publication("jwks.json has no keys".into()))?;
    let mut changed = false;
    for (key, x5c) in keys {
        let kid = jwk::thumbprint(key);
        if list.iter().any(|k| k["kid"] == kid.as_str()) {
            continue;
        }
        list.push(jwk::public_jwk(key, x5c, Some(1)));
        write_json(
            &dir.join(format!("crl/{kid}.json")),
            &json!({"kid": kid, "method": "rid", "ctr": 1, "rids": []}),
        )?;
        changed = true;
    }
    if changed || !path.exists() {
        write_json(&path, &jwks)?;
    }
    Ok(())
}

/// Add `rid` to key `kid`'s CRL, raising `ctr` and `crlVersion` together. Returns the new
/// version; revoking a rid twice changes nothing.
///
/// # Errors
/// Missing files or an unknown kid.
pub fn revoke(dir: &Path, kid: &str, rid: &str) -> Result<u64, Error> {
    let jwks_path = dir.join("jwks.json");
    let crl_path = dir.join(format!("crl/{kid}.json"));
    let mut jwks = read_json(&jwks_path)?;
    let mut crl = read_json(&crl_path)?;
    let rids = crl["rids"]
        .as_array_mut()
        .ok_or_else(|| Error::Publication("CRL has no rids".into()))?;
    if rids.iter().any(|r| r.as_str() == Some(rid)) {
        return Ok(crl["ctr"].as_u64().unwrap_or(0));
    }
    rids.push(Value::from(rid));
    let key = jwks["keys"]
        .as_array_mut()
        .and_then(|ks| ks.iter_mut().find(|k| k["kid"] == kid))
        .ok_or_else(|| Error::Publication(format!("no key {kid} in jwks.json")))?;
    let next = key["crlVersion"]
        .as_u64()
        .unwrap_or(0)
        .max(crl["ctr"].as_u64().unwrap_or(0))
        + 1;
    key["crlVersion"] = Value::from(next);
    crl["ctr"] = Value::from(next);
    write_json(&crl_path, &crl)?;
    write_json(&jwks_path, &jwks)?;
    Ok(next)
}
