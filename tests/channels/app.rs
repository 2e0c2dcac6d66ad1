//! The app channel the way a phone drives it: challenge → read the card through PC/SC, the
//! card signing the challenge bound to this request → preview → certificate; the SHC verifies
//! under our published JWKS and the PDF under `pdfsig`.

use base64::Engine;
use vaxcert::domain::{Channel, Kind};

use crate::helpers::*;

const DEVICE: &str = "phone-test-0001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_issues_a_domestic_certificate_that_verifies() {
    let stack = Stack::spawn().await;
    let card = tokio::task::spawn_blocking(|| SimCard::insert("default"))
        .await
        .unwrap();
    let c = client(None);

    let ch = post(
        &c,
        &format!("{}/v1/challenges", stack.app_url),
        &serde_json::json!({}),
    )
    .await
    .ok();
    let evidence = read_card(
        card.reader_name(),
        persona_pin("default"),
        ch["challenge"].as_str().unwrap(),
        binding(Channel::App, DEVICE, "131016", Kind::Domestic),
    )
    .await
    .unwrap();
    let preview = post(
        &c,
        &format!("{}/v1/previews", stack.app_url),
        &preview_body(
            "131016",
            Kind::Domestic,
            evidence.clone(),
            None,
            Some(DEVICE),
        ),
    )
    .await
    .ok();
    assert_eq!(preview["certificate"]["name"], "山田\u{3000}太郎");
    assert_eq!(preview["certificate"]["birth_date"], "1985-04-01");
    assert_eq!(preview["certificate"]["doses"].as_array().unwrap().len(), 3);
    assert_eq!(preview["certificate"]["municipality_name"], "千代田区");
    assert!(
        !preview.to_string().contains("123456789018"),
        "no MyNumber in the preview"
    );

    // The same evidence again: the challenge was used.
    post(
        &c,
        &format!("{}/v1/previews", stack.app_url),
        &preview_body("131016", Kind::Domestic, evidence, None, Some(DEVICE)),
    )
    .await
    .assert_problem("challenge-reused");

    let token = preview["preview_token"].as_str().unwrap();
    let cert = post(
        &c,
        &format!("{}/v1/certificates", stack.app_url),
        &serde_json::json!({ "preview_token": token }),
    )
    .await
    .ok();
    let jwks = get(&c, &format!("{}/.well-known/jwks.json", stack.app_url))
        .await
        .ok();
    let payload = verify_shc(cert["shc"].as_str().unwrap(), &jwks);
    let bundle = &payload["vc"]["credentialSubject"]["fhirBundle"];
    assert_eq!(bundle["entry"][0]["resource"]["birthDate"], "1985-04-01");
    assert_eq!(
        bundle["entry"].as_array().unwrap().len(),
        4,
        "patient + 3 doses"
    );
    assert!(cert.get("vdsnc").is_none(), "domestic: no VDS-NC");

    let pdf = base64::engine::general_purpose::STANDARD
        .decode(cert["pdf_base64"].as_str().unwrap())
        .unwrap();
    let verdict = pdfsig(&pdf, stack.dir.path());
    assert!(verdict.contains("Signature is Valid"), "{verdict}");
    assert!(
        !pdf.windows(12).any(|w| w == b"123456789018"),
        "no MyNumber in the PDF"
    );

    // `vaxcert verify --trust-dev` (the verifier CLI) calls it valid.
    let out = vaxcert()
        .args([
            "verify",
            "--trust-dev",
            "--json",
            cert["shc"].as_str().unwrap(),
        ])
        .output()
        .unwrap();
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(
        out.status.success(),
        "{verdict}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(verdict.to_string().contains("\"valid\""), "{verdict}");

    // The gateway's verifier (POST /v1/verify) says valid, and names the resident.
    let v = post(
        &c,
        &format!("{}/v1/verify", stack.app_url),
        &serde_json::json!({ "text": cert["shc"] }),
    )
    .await
    .ok();
    assert_eq!(v["verdict"], "valid", "{v}");
    assert!(v.to_string().contains("山田"), "{v}");
    let page = c
        .get(format!("{}/verify", stack.app_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("verify.js"));

    // The CRL for the key is published too.
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    let crl = get(&c, &format!("{}/.well-known/crl/{kid}.json", stack.app_url))
        .await
        .ok();
    assert_eq!(crl["kid"], kid);

    // A token redeems once: the same request again (an answer lost on the way) gets the same
    // certificate back, and the history holds one issuance.
    let again = post(
        &c,
        &format!("{}/v1/certificates", stack.app_url),
        &serde_json::json!({ "preview_token": token }),
    )
    .await
    .ok();
    assert_eq!(again["certificate_id"], cert["certificate_id"]);
    let tail = stack.records.audit_tail(2).await.unwrap();
    assert_eq!(tail[0].action, "issuance");
    assert_eq!(tail[1].action, "issuance-redelivered");
    drop(card);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_issues_an_overseas_certificate_from_the_passport_mrz() {
    let stack = Stack::spawn().await;
    let card = tokio::task::spawn_blocking(|| SimCard::insert("default"))
        .await
        .unwrap();
    let c = client(None);
    let ch = post(
        &c,
        &format!("{}/v1/challenges", stack.app_url),
        &serde_json::json!({}),
    )
    .await
    .ok();
    let evidence = read_card(
        card.reader_name(),
        persona_pin("default"),
        ch["challenge"].as_str().unwrap(),
        binding(Channel::App, DEVICE, "131016", Kind::Overseas),
    )
    .await
    .unwrap();
    drop(card);
    let preview = post(
        &c,
        &format!("{}/v1/previews", stack.app_url),
        &preview_body(
            "131016",
            Kind::Overseas,
            evidence,
            Some(MRZ_YAMADA),
            Some(DEVICE),
        ),
    )
    .await
    .ok();
    assert_eq!(preview["certificate"]["name_roman"], "YAMADA TARO");
    let masked = preview["certificate"]["passport_number_masked"]
        .as_str()
        .unwrap();
    assert!(!masked.contains("1234567"), "{masked}");
    let cert = post(
        &c,
        &format!("{}/v1/certificates", stack.app_url),
        &serde_json::json!({ "preview_token": preview["preview_token"] }),
    )
    .await
    .ok();
    let vdsnc: serde_json::Value =
        serde_json::from_str(cert["vdsnc"].as_str().expect("overseas: a VDS-NC")).unwrap();
    assert_eq!(vdsnc["data"]["msg"]["uvci"], cert["certificate_id"]);
    let jwks = get(&c, &format!("{}/.well-known/jwks.json", stack.app_url))
        .await
        .ok();
    verify_shc(cert["shc"].as_str().unwrap(), &jwks);
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(cert["pdf_base64"].as_str().unwrap())
        .unwrap();
    assert!(pdfsig(&pdf, stack.dir.path()).contains("Signature is Valid"));
    // The paper carries what the FAQ lists for the overseas kind: the number in full.
    let text = crate::artefacts::pdf_text(&pdf, stack.dir.path());
    for want in ["YAMADA TARO", "TK1234567", "JPN (Japan)"] {
        assert!(text.contains(want), "{want} on the PDF:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_mrz_check_digit_is_refused_at_the_gateway() {
    let stack = Stack::spawn().await;
    let c = client(None);
    let ch = post(
        &c,
        &format!("{}/v1/challenges", stack.app_url),
        &serde_json::json!({}),
    )
    .await
    .ok();
    // Evidence is never looked at: the MRZ fails first.
    let evidence = vaxcert::card::CardEvidence {
        files: vaxcert::card::CardFiles {
            ef0001: vec![0; 17],
            ef0002: vec![],
            ef0003: vec![],
            ef0004: vec![],
            ef0007: vec![],
        },
        challenge: vaxcert::card::challenge::Challenge::from_base64(
            ch["challenge"].as_str().unwrap(),
        )
        .unwrap(),
        challenge_signature: vec![0; 256],
    };
    let bad = MRZ_YAMADA.replace("TK12345671", "TK12345672");
    post(
        &c,
        &format!("{}/v1/previews", stack.app_url),
        &preview_body("131016", Kind::Overseas, evidence, Some(&bad), Some(DEVICE)),
    )
    .await
    .assert_problem("mrz-check-digit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_revoke_puts_the_rid_on_the_crl_the_gateway_serves() {
    let stack = Stack::spawn().await;
    let c = client(None);
    let ch = post(
        &c,
        &format!("{}/v1/challenges", stack.app_url),
        &serde_json::json!({}),
    )
    .await
    .ok();
    let b = binding(Channel::App, DEVICE, "131016", Kind::Domestic);
    let ev = evidence_for("default", ch["challenge"].as_str().unwrap(), &b);
    let p = post(
        &c,
        &format!("{}/v1/previews", stack.app_url),
        &preview_body("131016", Kind::Domestic, ev, None, Some(DEVICE)),
    )
    .await
    .ok();
    let cert = post(
        &c,
        &format!("{}/v1/certificates", stack.app_url),
        &serde_json::json!({"preview_token": p["preview_token"]}),
    )
    .await
    .ok();
    let id = cert["certificate_id"].as_str().unwrap().to_owned();
    let jwks = get(&c, &format!("{}/.well-known/jwks.json", stack.app_url))
        .await
        .ok();
    let rid = verify_shc(cert["shc"].as_str().unwrap(), &jwks)["vc"]["rid"]
        .as_str()
        .unwrap()
        .to_owned();
    // The gateway's own verifier trusts this deployment's issuer as records publishes it.
    let shc = cert["shc"].as_str().unwrap().to_owned();
    let verdict = || {
        let (c, url, shc) = (
            c.clone(),
            format!("{}/v1/verify", stack.app_url),
            shc.clone(),
        );
        async move {
            let v = post(&c, &url, &serde_json::json!({ "text": shc }))
                .await
                .ok();
            v["results"][0]["reason"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(verdict().await, "ok");

    let out = vaxcert()
        .args(["records", "--dev", "--database-url"])
        .arg(format!("sqlite://{}", stack.db_path.display()))
        .args([
            "revoke",
            &id,
            "--reason",
            "issued in error",
            "--publication-dir",
        ])
        .arg(stack.dir.path().join("publication"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    let crl = get(&c, &format!("{}/.well-known/crl/{kid}.json", stack.app_url))
        .await
        .ok();
    assert_eq!(crl["ctr"], 2, "{crl}");
    assert!(
        crl["rids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().starts_with(&rid)),
        "{crl}"
    );
    // The gateway caches the JWKS for 60 s; the published file has the new crlVersion now.
    let published: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(stack.dir.path().join("publication/jwks.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(published["keys"][0]["crlVersion"], 2, "{published}");
    // Within the CRL cache time (1 s here) the gateway's verifier says revoked.
    let mut reason = verdict().await;
    for _ in 0..100 {
        if reason == "revoked" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        reason = verdict().await;
    }
    assert_eq!(reason, "revoked");
    // And `vaxcert verify`, given the published JWKS and CRL as a trust folder.
    let trust = stack
        .dir
        .path()
        .join("trust-from-publication/shc/this-issuer");
    std::fs::create_dir_all(trust.join("crl")).unwrap();
    std::fs::write(trust.join("iss"), format!("{}\n", vaxcert::dev::SHC_ISS)).unwrap();
    std::fs::copy(
        stack.dir.path().join("publication/jwks.json"),
        trust.join("jwks.json"),
    )
    .unwrap();
    std::fs::copy(
        stack.dir.path().join(format!("publication/crl/{kid}.json")),
        trust.join(format!("crl/{kid}.json")),
    )
    .unwrap();
    let out = vaxcert()
        .args(["verify", "--json", "--trust"])
        .arg(stack.dir.path().join("trust-from-publication"))
        .arg(&shc)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["reason"], "revoked", "{v}");
    // Revoking an unknown ID is a clear error.
    let out = vaxcert()
        .args(["records", "--dev", "--database-url"])
        .arg(format!("sqlite://{}", stack.db_path.display()))
        .args([
            "revoke",
            "ZZZZZZZZZZZZ",
            "--reason",
            "x",
            "--publication-dir",
        ])
        .arg(stack.dir.path().join("publication"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// Line 2 of a TD3 MRZ with every check digit right.
fn mrz_line2(number: &str, birth: &str, sex: char, expiry: &str) -> String {
    use vaxcert::formats::mrz::check_digit;
    let n = format!("{number:<<9}");
    let personal = "<".repeat(14);
    let parts = [
        format!("{n}{}", check_digit(&n)),
        format!("{birth}{}", check_digit(birth)),
        format!("{expiry}{}", check_digit(expiry)),
        format!("{personal}{}", check_digit(&personal)),
    ];
    let composite = check_digit(&parts.concat());
    format!(
        "{}JPN{}{sex}{}{}{composite}",
        parts[0], parts[1], parts[2], parts[3]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mrz_that_is_not_the_residents_own_valid_passport_is_refused() {
    let stack = Stack::spawn().await;
    let c = client(None);
    let line1 = "P<JPNYAMADA<<TARO<<<<<<<<<<<<<<<<<<<<<<<<<<<";
    for (line2, code) in [
        // Another person's birth date (the default persona was born 1985-04-01, male).
        (
            mrz_line2("TK1234567", "880310", 'M', "300101"),
            "passport-mismatch",
        ),
        // The right birth date, the wrong sex.
        (
            mrz_line2("TK1234567", "850401", 'F', "300101"),
            "passport-mismatch",
        ),
        // The resident's own passport, expired.
        (
            mrz_line2("TK1234567", "850401", 'M', "200101"),
            "passport-expired",
        ),
    ] {
        let card = SimCard::insert("default");
        let ch = post(
            &c,
            &format!("{}/v1/challenges", stack.app_url),
            &serde_json::json!({}),
        )
        .await
        .ok();
        let evidence = read_card(
            card.reader_name(),
            persona_pin("default"),
            ch["challenge"].as_str().unwrap(),
            binding(Channel::App, DEVICE, "131016", Kind::Overseas),
        )
        .await
        .unwrap();
        drop(card);
        let mrz = format!("{line1}\n{line2}");
        post(
            &c,
            &format!("{}/v1/previews", stack.app_url),
            &preview_body("131016", Kind::Overseas, evidence, Some(&mrz), Some(DEVICE)),
        )
        .await
        .assert_problem(code);
    }
}
