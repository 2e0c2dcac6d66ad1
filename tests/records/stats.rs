//! Statistics without personal data: counts per municipality, day, channel and kind, cells
//! under the threshold suppressed; the `stats` role reads no resident, dose or issuance row by
//! any route, and other roles do not read the statistics.

use vaxcert::domain::{BirthDate, Channel, Kind};
use vaxcert::records::{AtenaNo, Days, Error, NewIssuance, Role, SearchQuery};

use crate::helpers::*;

async fn the_state_sees_counts_only(b: Backend) {
    let (db, r) = with_municipalities(b).await;
    seed_chiyoda(&r).await;
    let chiyoda = code(CHIYODA);
    let issue = |channel, kind| NewIssuance {
        channel,
        kind,
        passport: None,
        key_id: "kid".into(),
        rid: "rid".into(),
        card_key_digest: None,
        content_digest: None,
    };
    let atena = AtenaNo::parse("1001").unwrap();
    for _ in 0..12 {
        r.record_issuance(
            &chiyoda,
            &atena,
            &issue(Channel::Kiosk, Kind::Domestic),
            "kiosk",
        )
        .await
        .unwrap();
    }
    let mut last = None;
    for _ in 0..3 {
        last = Some(
            r.record_issuance(
                &chiyoda,
                &atena,
                &issue(Channel::App, Kind::Domestic),
                "app",
            )
            .await
            .unwrap(),
        );
    }
    r.revoke_certificate(&chiyoda, &last.unwrap().id, "cli")
        .await
        .unwrap();
    // The next JST day: a cell of its own.
    db.clock.advance(24 * 3600);
    for _ in 0..10 {
        r.record_issuance(
            &chiyoda,
            &atena,
            &issue(Channel::Counter, Kind::Overseas),
            "counter",
        )
        .await
        .unwrap();
    }

    let now = NOW.plus(24 * 3600);
    let s = staff_session(&r, CHIYODA, "state1", Role::Stats, now).await;
    let c = staff_session(&r, CHIYODA, "clerk1", Role::Clerk, now).await;

    let st = r.stats(&s, 10, Days::default()).await.unwrap();
    let cells: Vec<_> = st
        .rows
        .iter()
        .map(|c| {
            (
                c.day.as_str(),
                c.channel.as_str(),
                c.kind.as_str(),
                c.issued,
                c.revoked,
            )
        })
        .collect();
    assert_eq!(
        cells,
        [
            ("2027-01-15", "app", "domestic", None, None),
            ("2027-01-15", "kiosk", "domestic", Some(12), Some(0)),
            ("2027-01-16", "counter", "overseas", Some(10), Some(0)),
        ],
        "{st:?}"
    );
    assert_eq!(
        st.to_csv(),
        "municipality,day,channel,kind,issued,revoked\n\
         131016,2027-01-15,app,domestic,<10,<10\n\
         131016,2027-01-15,kiosk,domestic,12,0\n\
         131016,2027-01-16,counter,overseas,10,0\n"
    );
    // With a threshold of 1 nothing is hidden.
    let all = r.stats(&s, 1, Days::default()).await.unwrap();
    assert_eq!(all.rows[0].issued, Some(3));
    assert_eq!(all.rows[0].revoked, Some(1));
    // One day only (JST, both ends included).
    let day = |s: &str| Some(BirthDate::parse(s).unwrap());
    let second = r
        .stats(
            &s,
            10,
            Days {
                from: day("2027-01-16"),
                to: day("2027-01-16"),
            },
        )
        .await
        .unwrap();
    assert_eq!(second.rows.len(), 1);
    assert_eq!(second.rows[0].day, "2027-01-16");
    let first = r
        .stats(
            &s,
            1,
            Days {
                from: None,
                to: day("2027-01-15"),
            },
        )
        .await
        .unwrap();
    assert_eq!(first.rows.len(), 2);

    // The stats role reads no resident by any route; a clerk reads no statistics.
    let name = SearchQuery::NameBirth {
        family: "山田".into(),
        given: "太郎".into(),
        birth_date: BirthDate::parse("19850401").unwrap(),
    };
    assert!(matches!(r.search(&s, &name).await, Err(Error::Forbidden)));
    assert!(matches!(
        r.search(&s, &SearchQuery::Atena(atena.clone())).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(r.view(&s, &atena).await, Err(Error::Forbidden)));
    assert!(matches!(r.count_residents(&s).await, Err(Error::Forbidden)));
    assert!(matches!(r.staff_review(&s).await, Err(Error::Forbidden)));
    assert!(!s.may_issue());
    assert!(matches!(
        r.stats(&c, 10, Days::default()).await,
        Err(Error::Forbidden)
    ));
    let tail = r.audit_tail(20).await.unwrap();
    assert!(
        tail.iter()
            .any(|e| e.action == "stats" && e.actor == "staff:131016/state1")
    );
}
both!(the_state_sees_counts_only);
