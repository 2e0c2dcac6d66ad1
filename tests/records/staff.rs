//! Staff: TOTP replay refused, slow-down and unlock, municipality isolation by every route, and
//! SQL-injection strings in every text field.

use vaxcert::domain::BirthDate;
use vaxcert::records::{AtenaNo, Error, KenNo, Role, SearchQuery, StaffChange};

use crate::helpers::*;

async fn totp_replay_is_refused_and_failures_slow_down(b: Backend) {
    let (db, r) = with_municipalities(b).await;
    let chiyoda = code(CHIYODA);
    let clerk = r.add_staff(&chiyoda, "clerk1", Role::Clerk).await.unwrap();
    let admin = r.add_staff(&chiyoda, "admin1", Role::Admin).await.unwrap();
    assert!(
        clerk
            .totp
            .provisioning_uri
            .starts_with("otpauth://totp/vaxcert:131016%2Fclerk1?secret=")
    );
    let code_now = totp_now(&clerk.totp.provisioning_uri, NOW);
    let s = r
        .login(&chiyoda, "clerk1", &clerk.password, &code_now, "10.0.0.1")
        .await
        .unwrap();
    assert_eq!(s.role(), Role::Clerk);
    assert!(s.may_issue());
    // The same code again: refused as a replay, even with the right password.
    let e = r
        .login(&chiyoda, "clerk1", &clerk.password, &code_now, "10.0.0.1")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::TotpReplay), "{e:?}");
    // Next step's code works.
    db.clock.advance(30);
    let t = db.clock.as_ref();
    let now = vaxcert::clock::Clock::now(t);
    r.login(
        &chiyoda,
        "clerk1",
        &clerk.password,
        &totp_now(&clerk.totp.provisioning_uri, now),
        "10.0.0.1",
    )
    .await
    .unwrap();

    // Wrong passwords: two free failures, then exponential slow-down.
    for _ in 0..3 {
        let e = r
            .login(&chiyoda, "clerk1", "wrong", "000000", "10.0.0.2")
            .await
            .unwrap_err();
        assert!(matches!(e, Error::LoginFailed), "{e:?}");
    }
    let e = r
        .login(&chiyoda, "clerk1", "wrong", "000000", "10.0.0.3")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Throttled { retry_after: 2 }), "{e:?}");
    db.clock.advance(30);
    let now = vaxcert::clock::Clock::now(db.clock.as_ref());
    // The admin unlocks the login; the clerk logs in from a fresh address.
    let a = r
        .login(
            &chiyoda,
            "admin1",
            &admin.password,
            &totp_now(&admin.totp.provisioning_uri, now),
            "10.0.0.9",
        )
        .await
        .unwrap();
    assert!(matches!(
        r.unlock_staff(&s, "clerk1").await,
        Err(Error::Forbidden)
    ));
    r.unlock_staff(&a, "clerk1").await.unwrap();
    r.login(
        &chiyoda,
        "clerk1",
        &clerk.password,
        &totp_now(&clerk.totp.provisioning_uri, now),
        "10.0.0.4",
    )
    .await
    .unwrap();
    // Unknown login and another municipality's login fail the same way.
    assert!(matches!(
        r.login(&chiyoda, "nobody", "x", "000000", "10.0.0.5").await,
        Err(Error::LoginFailed)
    ));
    assert!(matches!(
        r.login(
            &code(FUKUOKA),
            "clerk1",
            &clerk.password,
            "000000",
            "10.0.0.5"
        )
        .await,
        Err(Error::LoginFailed)
    ));
    assert!(matches!(
        r.add_staff(&chiyoda, "clerk1", Role::Clerk).await,
        Err(Error::StaffExists)
    ));
}
both!(totp_replay_is_refused_and_failures_slow_down);

async fn staff_of_a_never_reach_residents_of_b(b: Backend) {
    let (db, r) = with_municipalities(b).await;
    seed_chiyoda(&r).await;
    r.import_targets(
        "7001,678901234562,伊藤,さくら,イトウ,サクラ,20000229,2,0000000701,\n".as_bytes(),
        &code(FUKUOKA),
        "test",
        &|_| {},
    )
    .await
    .unwrap();
    let fukuoka = code(FUKUOKA);
    let f = r.add_staff(&fukuoka, "fclerk", Role::Clerk).await.unwrap();
    let s = r
        .login(
            &fukuoka,
            "fclerk",
            &f.password,
            &totp_now(&f.totp.provisioning_uri, NOW),
            "10.1.0.1",
        )
        .await
        .unwrap();
    assert_eq!(r.count_residents(&s).await.unwrap(), 1);
    // Every route to Chiyoda's 1001 from a Fukuoka session finds nothing.
    for q in [
        SearchQuery::Atena(AtenaNo::parse("1001").unwrap()),
        SearchQuery::KenNo(KenNo::parse("0000000001").unwrap()),
        SearchQuery::NameBirth {
            family: "山田".into(),
            given: "太郎".into(),
            birth_date: BirthDate::parse("19850401").unwrap(),
        },
    ] {
        assert!(r.search(&s, &q).await.unwrap().is_empty(), "{q:?}");
    }
    assert!(matches!(
        r.view(&s, &AtenaNo::parse("1001").unwrap()).await,
        Err(Error::NoSuchResident)
    ));
    // Its own resident is found and viewed, MyNumber masked.
    let hits = r
        .search(&s, &SearchQuery::Atena(AtenaNo::parse("7001").unwrap()))
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    let v = r.view(&s, &AtenaNo::parse("7001").unwrap()).await.unwrap();
    assert_eq!(v.my_number.unwrap().to_string(), "********4562");
    // A Chiyoda clerk sees Chiyoda's four.
    let c = r
        .add_staff(&code(CHIYODA), "cclerk", Role::Clerk)
        .await
        .unwrap();
    let cs = r
        .login(
            &code(CHIYODA),
            "cclerk",
            &c.password,
            &totp_now(&c.totp.provisioning_uri, NOW),
            "10.1.0.2",
        )
        .await
        .unwrap();
    assert_eq!(r.count_residents(&cs).await.unwrap(), 4);
    let v = r.view(&cs, &AtenaNo::parse("1001").unwrap()).await.unwrap();
    assert_eq!(v.doses.len(), 2);
    // Searches and views are audited with the actor and the subject.
    let tail = r.audit_tail(3).await.unwrap();
    assert_eq!(tail[2].action, "view");
    assert_eq!(tail[2].actor, "staff:131016/cclerk");
    assert_eq!(tail[2].subject.as_deref(), Some("1001"));
    drop(db);
}
both!(staff_of_a_never_reach_residents_of_b);

const INJECTIONS: [&str; 5] = [
    "'OR'1'='1",
    "x');DROP/**/TABLE--",
    "\"--",
    "1;DELETE\\FROM",
    "$1'||'",
];

async fn sql_injection_strings_are_plain_data(b: Backend) {
    let (_db, r) = with_municipalities(b).await;
    let chiyoda = code(CHIYODA);
    // Municipality name.
    r.add_municipality(
        &code("011002"),
        "札幌'); DROP TABLE municipality; --",
        false,
    )
    .await
    .unwrap();
    // Every free-text CSV field: names, venue, physician.
    let mut targets = String::new();
    let mut doses = String::new();
    let numbers = [
        "123456789018",
        "456789012346",
        "345678901234",
        "234567890121",
        "678901234562",
    ];
    for (i, inj) in INJECTIONS.iter().enumerate() {
        let csv_inj = inj.replace('"', "\"\"");
        targets.push_str(&format!(
            "{},{},\"{csv_inj}\",\"{csv_inj}\",ヤマダ,タロウ,19850401,1,000000000{i},\n",
            500 + i,
            numbers[i]
        ));
        doses.push_str(&format!(
            "{},1,20210601,pfizer-comirnaty,LOT{i},\"{csv_inj}\",\"{csv_inj}\",131016,1\n",
            500 + i
        ));
    }
    r.import_targets(targets.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();
    r.import_vaccinations(doses.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();
    let admin = r.add_staff(&chiyoda, "admin1", Role::Admin).await.unwrap();
    let s = r
        .login(
            &chiyoda,
            "admin1",
            &admin.password,
            &totp_now(&admin.totp.provisioning_uri, NOW),
            "' OR 1=1 --",
        )
        .await
        .unwrap();
    for (i, inj) in INJECTIONS.iter().enumerate() {
        let v = r
            .view(&s, &AtenaNo::parse(&format!("{}", 500 + i)).unwrap())
            .await
            .unwrap();
        assert_eq!(v.resident.family_kanji, *inj);
        assert_eq!(v.doses[0].venue, *inj);
        assert_eq!(v.doses[0].physician, *inj);
        let hits = r
            .search(
                &s,
                &SearchQuery::NameBirth {
                    family: (*inj).into(),
                    given: (*inj).into(),
                    birth_date: BirthDate::parse("19850401").unwrap(),
                },
            )
            .await
            .unwrap();
        assert_eq!(hits.len(), 1, "{inj}");
        // Injection in a login or password is just a failed login.
        assert!(r.login(&chiyoda, inj, inj, "000000", inj).await.is_err());
    }
    // Nothing was dropped or widened.
    assert_eq!(r.count_residents(&s).await.unwrap(), 5);
    assert_eq!(r.municipalities().await.unwrap().len(), 4);
    let odd = r.municipality(&code("011002")).await.unwrap();
    assert_eq!(odd.name, "札幌'); DROP TABLE municipality; --");
    assert!(matches!(
        r.add_staff(&chiyoda, "x'; --", Role::Clerk).await,
        Err(Error::Invalid { .. })
    ));
    r.verify_audit().await.unwrap();
}
both!(sql_injection_strings_are_plain_data);

async fn a_burst_of_parallel_guesses_meets_the_slow_down(b: Backend) {
    let (_db, r) = with_municipalities(b).await;
    let chiyoda = code(CHIYODA);
    r.add_staff(&chiyoda, "clerk1", Role::Clerk).await.unwrap();
    let r = std::sync::Arc::new(r);
    // Twelve wrong guesses at once, each from its own address: only the login's own count
    // can slow them down, and it must, as if they had come one after another.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..12 {
        let (r, chiyoda) = (r.clone(), chiyoda.clone());
        set.spawn(async move {
            r.login(
                &chiyoda,
                "clerk1",
                "wrong",
                "000000",
                &format!("10.1.0.{i}"),
            )
            .await
        });
    }
    let (mut failed, mut throttled) = (0, 0);
    while let Some(res) = set.join_next().await {
        match res.unwrap() {
            Err(Error::LoginFailed) => failed += 1,
            Err(Error::Throttled { .. }) => throttled += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(
        (1..=3).contains(&failed),
        "{failed} guesses reached the password check"
    );
    assert_eq!(failed + throttled, 12);
}
both!(a_burst_of_parallel_guesses_meets_the_slow_down);

async fn garbage_logins_cost_nothing_and_the_throttle_table_stays_bounded(b: Backend) {
    let (db, r) = with_municipalities(b).await;
    let chiyoda = code(CHIYODA);
    // What cannot be a login is refused before the database, and is never written down.
    let junk = "x'; DROP TABLE staff; --".repeat(400);
    assert!(matches!(
        r.login(&chiyoda, &junk, "pw", "000000", "10.2.0.1").await,
        Err(Error::LoginFailed)
    ));
    assert_eq!(db.scalar("SELECT COUNT(*) FROM login_throttle").await, 0);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM audit_log WHERE actor LIKE '%DROP TABLE%'")
            .await,
        0
    );
    // Guesses from fifty addresses leave rows; an hour of quiet later they are forgotten.
    for i in 0..50 {
        let _ = r
            .login(
                &chiyoda,
                &format!("nobody{i}"),
                "pw",
                "000000",
                &format!("10.3.0.{i}"),
            )
            .await;
    }
    assert_eq!(db.scalar("SELECT COUNT(*) FROM login_throttle").await, 100);
    db.clock.advance(2 * 3600);
    let _ = r
        .login(&chiyoda, "nobody", "pw", "000000", "10.3.1.1")
        .await;
    assert_eq!(db.scalar("SELECT COUNT(*) FROM login_throttle").await, 2);
}
both!(garbage_logins_cost_nothing_and_the_throttle_table_stays_bounded);

/// An admin manages the municipality's own logins: add, role, disable and enable, TOTP reset,
/// the review list with last use; never their own login, never another municipality's; every
/// step audited under the admin's name.
async fn an_admin_manages_the_municipalitys_logins(b: Backend) {
    let (db, r) = with_municipalities(b).await;
    let (chiyoda, fukuoka) = (code(CHIYODA), code(FUKUOKA));
    r.add_staff(&fukuoka, "elsewhere", Role::Clerk)
        .await
        .unwrap();
    let a = staff_session(&r, CHIYODA, "admin1", Role::Admin, NOW).await;
    let new = r.add_staff_as(&a, "clerk9", Role::Clerk).await.unwrap();
    let clerk = r
        .login(
            &chiyoda,
            "clerk9",
            &new.password,
            &totp_now(&new.totp.provisioning_uri, NOW),
            "10.0.0.2",
        )
        .await
        .unwrap();
    assert_eq!(clerk.role(), Role::Clerk);
    // A clerk administers nobody.
    assert!(matches!(
        r.add_staff_as(&clerk, "x99", Role::Admin).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        r.staff_review(&clerk).await,
        Err(Error::Forbidden)
    ));

    r.change_staff(&a, "clerk9", StaffChange::Role(Role::Auditor))
        .await
        .unwrap();
    assert_eq!(
        r.recheck(&clerk).await.unwrap().unwrap().role(),
        Role::Auditor
    );
    r.change_staff(&a, "clerk9", StaffChange::Disable)
        .await
        .unwrap();
    assert!(r.recheck(&clerk).await.unwrap().is_none());
    db.clock.advance(30);
    assert!(matches!(
        r.login(
            &chiyoda,
            "clerk9",
            &new.password,
            &totp_now(&new.totp.provisioning_uri, NOW.plus(30)),
            "10.0.0.2"
        )
        .await,
        Err(Error::LoginFailed)
    ));
    r.change_staff(&a, "clerk9", StaffChange::Enable)
        .await
        .unwrap();
    // A reset: the old authenticator's codes stop, the new one's work.
    let t = r.reset_totp(&a, "clerk9").await.unwrap();
    db.clock.advance(30);
    let later = NOW.plus(60);
    assert!(
        r.login(
            &chiyoda,
            "clerk9",
            &new.password,
            &totp_now(&new.totp.provisioning_uri, later),
            "10.0.0.2"
        )
        .await
        .is_err()
    );
    let back = r
        .login(
            &chiyoda,
            "clerk9",
            &new.password,
            &totp_now(&t.provisioning_uri, later),
            "10.0.0.2",
        )
        .await
        .unwrap();
    assert_eq!(back.role(), Role::Auditor);

    // Not one's own login; not another municipality's.
    for change in [StaffChange::Disable, StaffChange::Role(Role::Clerk)] {
        assert!(matches!(
            r.change_staff(&a, "admin1", change).await,
            Err(Error::OwnLogin)
        ));
    }
    assert!(matches!(
        r.reset_totp(&a, "elsewhere").await,
        Err(Error::NoSuchStaff)
    ));
    assert!(matches!(
        r.change_staff(&a, "elsewhere", StaffChange::Disable).await,
        Err(Error::NoSuchStaff)
    ));
    assert!(
        !r.list_staff(&fukuoka).await.unwrap()[0].disabled,
        "another municipality's login untouched"
    );

    let review = r.staff_review(&a).await.unwrap();
    let logins: Vec<_> = review
        .logins
        .iter()
        .map(|l| (l.login.as_str(), l.role, l.last_login_at))
        .collect();
    assert_eq!(
        logins,
        [
            ("admin1", Role::Admin, Some(NOW.0)),
            ("clerk9", Role::Auditor, Some(later.0)),
        ]
    );
    assert!(review.last_review.is_none());
    r.confirm_staff_review(&a).await.unwrap();
    let review = r.staff_review(&a).await.unwrap();
    assert_eq!(
        review.last_review.map(|(_, by)| by).as_deref(),
        Some("staff:131016/admin1")
    );
    let tail = r.audit_tail(200).await.unwrap();
    for (action, outcome) in [
        ("staff-add", "ok clerk9 clerk"),
        ("staff-role", "ok clerk9 auditor"),
        ("staff-disable", "ok clerk9"),
        ("staff-enable", "ok clerk9"),
        ("staff-totp-reset", "ok clerk9"),
        ("staff-review", "ok logins=2"),
    ] {
        assert!(
            tail.iter().any(|e| e.action == action
                && e.outcome == outcome
                && e.actor == "staff:131016/admin1"),
            "no {action} {outcome}"
        );
    }
    r.verify_audit().await.unwrap();
}
both!(an_admin_manages_the_municipalitys_logins);
