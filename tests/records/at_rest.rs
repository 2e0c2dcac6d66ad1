//! After imports and issuances, no test MyNumber is anywhere in clear: not in the SQLite file
//! and its `-wal`/`-shm`, not anywhere in the PostgreSQL data directory (pg_wal included).

use std::path::Path;

use vaxcert::domain::{Channel, Kind};
use vaxcert::records::{AtenaNo, NewIssuance};

use crate::helpers::*;

const NUMBERS: [&str; 5] = [
    "123456789018",
    "456789012346",
    "345678901234",
    "234567890121",
    "678901234562",
];

fn grep_tree(dir: &Path, needles: &[&[u8]], hits: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            grep_tree(&p, needles, hits);
        } else if let Ok(bytes) = std::fs::read(&p) {
            for n in needles {
                if bytes.windows(n.len()).any(|w| w == *n) {
                    hits.push(format!(
                        "{} holds {}",
                        p.display(),
                        String::from_utf8_lossy(n)
                    ));
                }
            }
        }
    }
}

async fn no_mynumber_in_clear_at_rest(b: Backend) {
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
    // Re-import too, so updates go through the WAL.
    seed_chiyoda(&r).await;
    let id = identity(&r, "default", CHIYODA, Channel::App).await;
    let rec = r
        .lookup_for_issuance(&id, &code(CHIYODA), Channel::App)
        .await
        .unwrap();
    let new = NewIssuance {
        channel: Channel::App,
        kind: Kind::Domestic,
        passport: None,
        key_id: "dev".into(),
        rid: "rid".into(),
        card_key_digest: Some(*id.card_key_digest()),
        content_digest: None,
    };
    r.record_issuance(
        &code(CHIYODA),
        &AtenaNo::parse(rec.resident.atena.as_str()).unwrap(),
        &new,
        "app",
    )
    .await
    .unwrap();
    // Check while the files are live (WAL not yet folded in), then after close.
    let needles: Vec<&[u8]> = NUMBERS.iter().map(|n| n.as_bytes()).collect();
    let mut hits = Vec::new();
    match b {
        Backend::Sqlite => {
            let file = db.file.clone().unwrap();
            let dir = file.parent().unwrap().to_owned();
            let names: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            assert!(names.iter().any(|n| n.ends_with("-wal")), "{names:?}");
            grep_tree(&dir, &needles, &mut hits);
            r.close().await.unwrap();
            grep_tree(&dir, &needles, &mut hits);
        }
        Backend::Postgres => {
            r.close().await.unwrap();
            let data = postgres_data_dir();
            assert!(data.join("pg_wal").is_dir(), "{}", data.display());
            grep_tree(&data, &needles, &mut hits);
        }
    }
    assert!(hits.is_empty(), "{hits:#?}");
    // The check would catch a clear number: the 宛名番号 and 券番号 are there in clear.
    let mut sanity = Vec::new();
    let probe: &[&[u8]] = &[b"0000000701"];
    match b {
        Backend::Sqlite => grep_tree(
            db.file.as_ref().unwrap().parent().unwrap(),
            probe,
            &mut sanity,
        ),
        Backend::Postgres => grep_tree(&postgres_data_dir(), probe, &mut sanity),
    }
    assert!(!sanity.is_empty(), "the grep finds clear text");
}
both!(no_mynumber_in_clear_at_rest);
