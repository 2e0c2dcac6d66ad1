//! JWKS and CRL: `ctr` equals `crlVersion`, and a revoked rid raises both together.

use serde_json::Value;
use vaxcert::formats::publication;

fn copy_dev_publication() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let src = std::path::Path::new("certs/dev/shc");
    std::fs::copy(src.join("jwks.json"), dir.path().join("jwks.json")).unwrap();
    std::fs::create_dir(dir.path().join("crl")).unwrap();
    let jwks: Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("jwks.json")).unwrap()).unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    std::fs::copy(
        src.join(format!("crl/{kid}.json")),
        dir.path().join(format!("crl/{kid}.json")),
    )
    .unwrap();
    (dir, kid)
}

fn versions(dir: &std::path::Path, kid: &str) -> (u64, u64, usize) {
    let jwks: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("jwks.json")).unwrap()).unwrap();
    let crl: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("crl/{kid}.json"))).unwrap(),
    )
    .unwrap();
    (
        jwks["keys"][0]["crlVersion"].as_u64().unwrap(),
        crl["ctr"].as_u64().unwrap(),
        crl["rids"].as_array().unwrap().len(),
    )
}

#[test]
fn a_revoked_rid_raises_ctr_and_crl_version_together() {
    let (dir, kid) = copy_dev_publication();
    assert_eq!(versions(dir.path(), &kid), (1, 1, 0));
    assert_eq!(publication::revoke(dir.path(), &kid, "ridA").unwrap(), 2);
    assert_eq!(versions(dir.path(), &kid), (2, 2, 1));
    assert_eq!(
        publication::revoke(dir.path(), &kid, "ridA").unwrap(),
        2,
        "idempotent"
    );
    assert_eq!(publication::revoke(dir.path(), &kid, "ridB").unwrap(), 3);
    assert_eq!(versions(dir.path(), &kid), (3, 3, 2));
    assert!(publication::revoke(dir.path(), "no-such-kid", "ridC").is_err());
}

#[test]
fn the_published_x5c_chains_to_the_dev_root_and_names_the_iss() {
    let jwk = crate::helpers::dev_jwk();
    let dir = tempfile::tempdir().unwrap();
    let x5c = jwk["x5c"].as_array().unwrap();
    assert_eq!(x5c.len(), 3);
    for (i, c) in x5c.iter().enumerate() {
        std::fs::write(
            dir.path().join(format!("{i}.der")),
            crate::helpers::b64_std(c.as_str().unwrap()),
        )
        .unwrap();
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("for i in 0 1 2; do openssl x509 -inform DER -in $i.der -out $i.pem; done; openssl verify -CAfile 2.pem -untrusted 1.pem 0.pem && openssl x509 -in 0.pem -noout -ext subjectAltName")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("URI:https://dev.vaxcert.invalid/issuer"),
        "{text}"
    );
}
