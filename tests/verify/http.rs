//! `POST /v1/verify` and the page's assets, through `vaxcert verify serve` on 127.0.0.1:0.

use std::path::Path;

use serde_json::Value;

use crate::helpers::{Server, Trust, vector};

fn spec_server() -> (Trust, Server) {
    let trust = Trust::named("spec", Path::new(""));
    let server = Server::spawn(&trust.path());
    (trust, server)
}

#[test]
fn post_verify_gives_verdicts() {
    let (_t, server) = spec_server();
    let shc = std::fs::read_to_string(vector(
        "smart-on-fhir-health-cards/examples/example-00-f-qr-code-numeric-value-0.txt",
    ))
    .unwrap();
    let body = serde_json::json!({ "texts": [shc.trim()], "at": "2026-11-22T00:00:00Z" });
    let (status, ctype, text) = server.request("POST", "/v1/verify", Some(&body.to_string()));
    assert_eq!(status, 200, "{text}");
    assert!(ctype.starts_with("application/json"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["results"][0]["person"]["name"], "Anyperson John B.");
    assert_eq!(v["results"][0]["doses"].as_array().unwrap().len(), 3);

    // Revoked example 03.
    let revoked = std::fs::read_to_string(vector(
        "smart-on-fhir-health-cards/examples/example-03-d-jws.txt",
    ))
    .unwrap();
    let body = serde_json::json!({ "text": revoked.trim() });
    let (status, _, text) = server.request("POST", "/v1/verify", Some(&body.to_string()));
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["results"][0]["reason"], "revoked");
}

#[test]
fn post_verify_takes_an_image() {
    let (_t, server) = spec_server();
    use base64::Engine;
    let png = std::fs::read(vector(
        "smart-on-fhir-health-cards-dev-tools/testdata/test-example-00-g-qr-code-inflated-to-v22.png",
    ))
    .unwrap();
    let body = serde_json::json!({
        "image_base64": base64::engine::general_purpose::STANDARD.encode(png),
    });
    let (status, _, text) = server.request("POST", "/v1/verify", Some(&body.to_string()));
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["verdict"], "valid", "{text}");
}

#[test]
fn bad_requests_are_problem_documents() {
    let (_t, server) = spec_server();
    for (body, code) in [
        ("not json", "request-malformed"),
        ("{}", "request-empty"),
        (r#"{"texts":["x"],"at":"yesterday"}"#, "at-malformed"),
        (r#"{"image_base64":"!!"}"#, "image-base64-malformed"),
        (r#"{"surprise":1}"#, "request-malformed"),
    ] {
        let (status, ctype, text) = server.request("POST", "/v1/verify", Some(body));
        assert!((400..500).contains(&status), "{body}: {status}");
        assert_eq!(ctype, "application/problem+json", "{body}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["code"], code, "{body}: {text}");
    }
    // A malformed certificate is a verdict, not a problem.
    let (status, _, text) = server.request("POST", "/v1/verify", Some(r#"{"text":"HC1:!!"}"#));
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["results"][0]["reason"], "base45-invalid");
}

#[test]
fn work_per_request_is_bounded() {
    let (_t, server) = spec_server();
    // Half a million empty texts: refused before any is verified, with a small answer.
    let many = format!(r#"{{"texts":[{}""]}}"#, "\"\",".repeat(500_000));
    let (status, ctype, text) = server.request("POST", "/v1/verify", Some(&many));
    assert_eq!(status, 413, "{}", &text[..text.len().min(300)]);
    assert_eq!(ctype, "application/problem+json");
    assert!(
        text.len() < 1024,
        "the refusal is small: {} bytes",
        text.len()
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["code"], "too-many-inputs");
    // One text far longer than any certificate file.
    let long = serde_json::json!({ "text": "shc:/".to_owned() + &"5".repeat(100_000) });
    let (status, _, text) = server.request("POST", "/v1/verify", Some(&long.to_string()));
    assert_eq!(status, 413, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["code"], "input-too-large");
    // Sixteen inputs are still one person's: verified.
    let sixteen = serde_json::json!({ "texts": vec!["HC1:!!"; 16] });
    let (status, _, text) = server.request("POST", "/v1/verify", Some(&sixteen.to_string()));
    assert_eq!(status, 200, "{text}");
}

#[test]
fn the_page_and_its_scripts_are_served() {
    let (_t, server) = spec_server();
    let (status, ctype, page) = server.request("GET", "/verify", None);
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/html"));
    assert!(page.contains("/verify/jsQR.js") && page.contains("接種証明書の検証"));
    let (status, ctype, js) = server.request("GET", "/verify/jsQR.js", None);
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/javascript"));
    assert!(js.contains("jsQR"), "the bundled decoder");
    let (status, _, js) = server.request("GET", "/verify/verify.js", None);
    assert_eq!(status, 200);
    assert!(js.contains("BarcodeDetector"));
}

/// A PNG of `w`×`h` white pixels, with `draw` painting black ones.
fn png(w: u32, h: u32, draw: impl Fn(u32, u32) -> bool) -> String {
    use base64::Engine;
    let img =
        image::GrayImage::from_fn(w, h, |x, y| image::Luma([if draw(x, y) { 0 } else { 255 }]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    base64::engine::general_purpose::STANDARD.encode(out.into_inner())
}

#[test]
fn hostile_pictures_are_refused_within_their_budget() {
    let (_t, server) = spec_server();
    let reason = |b64: String| {
        let body = serde_json::json!({ "image_base64": b64 });
        let (status, _, text) = server.request("POST", "/v1/verify", Some(&body.to_string()));
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        v["results"][0]["reason"].as_str().unwrap().to_owned()
    };
    // More pixels than a 16-megapixel photo: refused from the header, before decoding.
    assert_eq!(reason(png(4200, 4096, |_, _| false)), "image-too-large");
    // Thousands of finder patterns (7×7 modules: a dark ring, a light ring, a dark 3×3 core)
    // make rqrr's grouping clone the picture for each candidate triple: abandoned, not read.
    let finder = |x: u32, y: u32| {
        let (mx, my) = ((x % 28) / 3, (y % 28) / 3);
        if mx >= 7 || my >= 7 {
            return false;
        }
        let ring = mx.min(my).min(6 - mx).min(6 - my);
        ring != 1
    };
    assert_eq!(reason(png(1600, 1600, finder)), "image-too-complex");
}

#[test]
fn past_its_concurrency_the_verifier_answers_503_with_retry_after() {
    let trust = Trust::named("spec", Path::new(""));
    // One slot, no queue: while one picture is searched, every other request is refused.
    let server = std::sync::Arc::new(Server::spawn_with(
        &trust.path(),
        &["--max-concurrent", "1", "--queue-wait-ms", "0"],
    ));
    let finder = |x: u32, y: u32| {
        let (mx, my) = ((x % 28) / 3, (y % 28) / 3);
        mx < 7 && my < 7 && mx.min(my).min(6 - mx).min(6 - my) != 1
    };
    let slow = serde_json::json!({ "image_base64": png(1600, 1600, finder) }).to_string();
    let quick = r#"{"text":"HC1:!!"}"#;
    // The picture may itself find the slot taken by a quick request: then try again.
    let mut refused = None;
    for _ in 0..10 {
        let busy = {
            let (server, slow) = (server.clone(), slow.clone());
            std::thread::spawn(move || server.request("POST", "/v1/verify", Some(&slow)))
        };
        while !busy.is_finished() && refused.is_none() {
            let (status, head, text) =
                server.request_with_headers("POST", "/v1/verify", Some(quick));
            if status == 503 {
                refused = Some((head, text));
            }
        }
        let (status, _, text) = busy.join().unwrap();
        if refused.is_some() {
            assert_eq!(status, 200, "the picture had the slot: {text}");
            break;
        }
    }
    let (head, text) = refused.expect("a request refused while the slot was taken");
    assert!(head.contains("retry-after: 2"), "{head}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["code"], "verifier-busy");
    // The slot is free again.
    let (status, _, _) = server.request("POST", "/v1/verify", Some(quick));
    assert_eq!(status, 200);
}

#[test]
fn listeners_close_slow_and_idle_connections_and_cap_open_ones() {
    use std::io::{Read, Write};
    let trust = Trust::named("spec", Path::new(""));
    let server = Server::spawn_with(
        &trust.path(),
        &["--max-connections", "2", "--header-timeout", "1"],
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    let connect = || {
        let s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        s
    };
    // Two connections take both slots: one says nothing, one trickles half a request head.
    let mut silent = connect();
    let mut slow = connect();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // A third, complete request is served only once a slot frees: when the header-read
    // timeout has closed the other two.
    let mut third = connect();
    write!(
        third,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    third.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Served only after the header-read timeout closed one of the two (the cap held it back);
    // the other one closes too, unanswered or with 408.
    let closed = |s: &mut std::net::TcpStream, block: bool| -> Option<bool> {
        s.set_nonblocking(!block).unwrap();
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(0) => Some(true),
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408")),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(_) => Some(true),
        }
    };
    let now = [closed(&mut silent, false), closed(&mut slow, false)];
    assert!(
        now.contains(&Some(true)),
        "the third was served while both slots were still taken: {now:?}"
    );
    assert_eq!(closed(&mut silent, true), Some(true), "silent");
    assert_eq!(closed(&mut slow, true), Some(true), "slow");
}

#[test]
fn a_verification_time_beyond_any_calendar_is_a_400_not_a_panic() {
    let (_t, server) = spec_server();
    let hc1 = std::fs::read_to_string(vector(
        "eu-digital-green-certificates-dgc-testdata/common/2DCode/raw/CO20.json",
    ))
    .unwrap();
    let hc1: Value = serde_json::from_str(&hc1).unwrap();
    for at in [
        "9223372036854775807",
        "99999-01-01",
        "2026-01-01T00:00:00+99999:00",
    ] {
        let body = serde_json::json!({ "text": hc1["PREFIX"], "at": at });
        let (status, _, text) = server.request("POST", "/v1/verify", Some(&body.to_string()));
        assert_eq!(status, 400, "{at}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["code"], "at-malformed", "{at}");
    }
}
