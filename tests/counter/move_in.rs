//! 転入照会 at the counter: the demo's resident 1007 moved from 福岡市 (2002); the `move-in`
//! login asks 401307 from the record page, the two doses arrive marked with their provenance,
//! and a clerk's certificate carries all three. Clerks see no such form and are refused.

use axum::http::StatusCode;
use vaxcert::records::Role;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_in_staff_fetch_the_former_municipalitys_doses_and_they_are_certified() {
    let c = Counter::start().await;
    let mut clerk = c.browser();
    clerk.login(&c, &c.chiyoda).await;
    let p = clerk.get("/residents/1007").await;
    assert!(!p.body.contains("id=\"move-in-form\""));
    let p = clerk
        .post("/residents/1007/move-in", &[("former", "401307")])
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);

    let staff = c.chiyoda_staff("movein-a", Role::MoveIn).await;
    let mut b = c.browser();
    b.login(&c, &staff).await;
    let p = b.get("/residents/1007").await;
    assert!(p.body.contains("id=\"move-in-form\""), "{}", p.body);
    assert_eq!(p.body.matches("<tr data-dose=").count(), 1);
    let p = b
        .post("/residents/1007/move-in", &[("former", "401307")])
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("id=\"move-in-notice\""), "{}", p.body);
    assert_eq!(p.body.matches("data-provided-by=\"401307\"").count(), 2);
    assert_eq!(p.body.matches("<tr data-dose=").count(), 3);
    // A municipality that holds nobody with that 個人番号, and a malformed code.
    let p = b
        .post("/residents/1007/move-in", &[("former", "271004")])
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(
        p.body.contains("data-code=\"move-in-no-match\""),
        "{}",
        p.body
    );
    let p = b
        .post("/residents/1007/move-in", &[("former", "40130")])
        .await;
    assert!(p.body.contains("data-code=\"invalid-input\""), "{}", p.body);

    // The clerk's certificate carries the three doses.
    let id = crate::flow::issue_domestic(&mut clerk, "1007").await;
    let pdf = clerk.get(&format!("/certificates/{id}/pdf")).await;
    let shc = c.shc_of(&pdf.bytes);
    let entries = shc["vc"]["credentialSubject"]["fhirBundle"]["entry"]
        .as_array()
        .unwrap();
    let lots: Vec<_> = entries
        .iter()
        .filter_map(|e| e["resource"]["lotNumber"].as_str())
        .collect();
    assert_eq!(lots, ["FC1001", "FC1002", "3007001"], "{shc}");
}
