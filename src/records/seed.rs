//! DEV ONLY. `vaxcert records seed-demo`: demo municipalities, residents matching every persona
//! in `certs/dev/personas/`, two or three doses each with real catalogue products, and one
//! counter login whose password and TOTP secret are printed once.

use std::io::Write;

use super::error::Result;
use super::model::{AtenaNo, Role};
use super::{Error, Records};
use crate::domain::MunicipalityCode;

/// The demo municipalities: (code, name, takes part in kiosk issuance).
pub const MUNICIPALITIES: [(&str, &str, bool); 3] = [
    ("131016", "千代田区", true),
    ("401307", "福岡市", true),
    ("271004", "大阪市", false),
];

/// Demo residents, one per persona: (municipality, target CSV line). 1005 is a foreign
/// resident with a Latin-letter name; 1006 one with a registered 通称 (the optional 11th column).
pub const RESIDENTS: [(&str, &str); 8] = [
    (
        "131016",
        "1001,123456789018,山田,太郎,ヤマダ,タロウ,19850401,1,0000000001,",
    ),
    (
        "131016",
        "1002,234567890121,鈴木,花子,スズキ,ハナコ,19920715,2,0000000002,",
    ),
    (
        "131016",
        "1003,567890123457,田中,健一,タナカ,ケンイチ,19600505,1,0000000003,",
    ),
    (
        "131016",
        "1004,678901234562,伊藤,さくら,イトウ,サクラ,20000229,2,0000000004,",
    ),
    (
        "131016",
        "1005,789012345677,SMITH,JOHN WILLIAM,スミス,ジョン ウィリアム,19790623,1,0000000005,,",
    ),
    (
        "131016",
        "1006,890123456780,KIM,TAEHO,キム,テホ,19901205,1,0000000006,,金田　太浩",
    ),
    (
        "401307",
        "2001,456789012346,佐藤,美咲,サトウ,ミサキ,19880310,2,0000000101,",
    ),
    (
        "271004",
        "3001,345678901234,𠮷田,一郎,ヨシダ,イチロウ,19700101,1,0000000201,",
    ),
];

/// Demo doses: (municipality, vaccination CSV line).
pub const DOSES: [(&str, &str); 19] = [
    (
        "131016",
        "1001,1,20210601,pfizer-comirnaty,FA5765,千代田区役所集団接種会場,接種　一郎,131016,1",
    ),
    (
        "131016",
        "1001,2,20210622,pfizer-comirnaty,FC3661,千代田区役所集団接種会場,接種　一郎,131016,1",
    ),
    (
        "131016",
        "1001,3,20220210,moderna-spikevax,3005236,自衛隊東京大規模接種センター,接種　次郎,131016,2",
    ),
    (
        "131016",
        "1002,1,20210705,moderna-spikevax,3004734,職域接種会場,産業　医師,131016,3",
    ),
    (
        "131016",
        "1002,2,20210802,moderna-spikevax,3004956,職域接種会場,産業　医師,131016,3",
    ),
    (
        "131016",
        "1003,1,20210520,pfizer-comirnaty,EY5420,千代田区医師会館,接種　三郎,131016,1",
    ),
    (
        "131016",
        "1003,2,20210610,pfizer-comirnaty,FA2453,千代田区医師会館,接種　三郎,131016,1",
    ),
    (
        "131016",
        "1003,3,20221101,pfizer-comirnaty-bivalent-ba45,GK4102,千代田区医師会館,接種　三郎,131016,2",
    ),
    (
        "131016",
        "1004,1,20210901,takeda-nuvaxovid,4000123,那覇市集団接種会場,接種　花子,472018,1",
    ),
    (
        "131016",
        "1004,2,20210922,takeda-nuvaxovid,4000124,那覇市集団接種会場,接種　花子,472018,1",
    ),
    (
        "131016",
        "1005,1,20210720,pfizer-comirnaty,FF2018,丸の内職域接種会場,Dr. Brown,131016,3",
    ),
    (
        "131016",
        "1005,2,20210810,pfizer-comirnaty,FF4204,丸の内職域接種会場,Dr. Brown,131016,3",
    ),
    (
        "131016",
        "1006,1,20210825,moderna-spikevax,3005293,千代田区役所集団接種会場,接種　一郎,131016,1",
    ),
    (
        "131016",
        "1006,2,20210922,moderna-spikevax,3005520,千代田区役所集団接種会場,接種　一郎,131016,1",
    ),
    (
        "401307",
        "2001,1,20210615,pfizer-comirnaty,FC5947,福岡市役所接種会場,福岡　医師,401307,1",
    ),
    (
        "401307",
        "2001,2,20210706,pfizer-comirnaty,FD0348,福岡市役所接種会場,福岡　医師,401307,1",
    ),
    (
        "401307",
        "2001,3,20220301,moderna-spikevax,3006455,福岡市役所接種会場,福岡　医師,401307,2",
    ),
    (
        "271004",
        "3001,1,20210801,astrazeneca-vaxzevria,AZ0001,大阪市集団接種会場,大阪　医師,271004,1",
    ),
    (
        "271004",
        "3001,2,20211010,astrazeneca-vaxzevria,AZ0002,大阪市集団接種会場,大阪　医師,271004,1",
    ),
];

/// A resident who moved from 福岡市 (2002, marked 転出, two doses there) to 千代田区 (1007, one
/// dose since): 千代田区's `move-in` staff fetch the first two by 転入照会.
pub const MOVED: [(&str, &str, &str); 2] = [
    (
        "401307",
        "2002,901234567893,高橋,健,タカハシ,ケン,19750315,1,0000000102,1",
        "2002,1,20210610,pfizer-comirnaty,FC1001,福岡市役所接種会場,福岡　医師,401307,1\n\
         2002,2,20210701,pfizer-comirnaty,FC1002,福岡市役所接種会場,福岡　医師,401307,1",
    ),
    (
        "131016",
        "1007,901234567893,高橋,健,タカハシ,ケン,19750315,1,0000000007,",
        "1007,3,20221020,moderna-spikevax,3007001,千代田区役所集団接種会場,接種　一郎,131016,1",
    ),
];

/// The demo counter login (a clerk of 千代田区).
pub const DEMO_LOGIN: &str = "demo-clerk";

fn code(s: &str) -> Result<MunicipalityCode> {
    MunicipalityCode::parse(s).map_err(|e| Error::Config(e.to_string()))
}

/// Seed the demo data, skipping what is already there, and print the counter login.
///
/// # Errors
/// Any import or database error.
pub async fn demo(records: &Records, out: &mut dyn Write) -> Result<()> {
    let existing: Vec<_> = records.municipalities().await?;
    for (c, name, kiosk) in MUNICIPALITIES {
        let c = code(c)?;
        if !existing.iter().any(|m| m.code == c) {
            records.add_municipality(&c, name, kiosk).await?;
        }
        let targets: String = RESIDENTS
            .iter()
            .filter(|(m, _)| *m == c.as_str())
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        let doses: String = DOSES
            .iter()
            .filter(|(m, _)| *m == c.as_str())
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        let t = records
            .import_targets(targets.as_bytes(), &c, "seed-demo", &|_| {})
            .await?;
        let v = records
            .import_vaccinations(doses.as_bytes(), &c, "seed-demo", &|_| {})
            .await?;
        let _ = writeln!(
            out,
            "{c} {name} (kiosk: {}): {} residents, {} doses",
            if kiosk { "yes" } else { "no" },
            t.rows,
            v.rows
        );
    }
    // The move: the former municipality's record first (the new one takes the 個人番号 over),
    // once.
    let chiyoda = code("131016")?;
    if records
        .record_by_atena(&chiyoda, &AtenaNo::parse("1007")?)
        .await?
        .is_none()
    {
        for (m, target, doses) in MOVED {
            let m = code(m)?;
            records
                .import_targets(format!("{target}\n").as_bytes(), &m, "seed-demo", &|_| {})
                .await?;
            records
                .import_vaccinations(format!("{doses}\n").as_bytes(), &m, "seed-demo", &|_| {})
                .await?;
        }
        let _ = writeln!(
            out,
            "moved: 401307 resident 2002 (転出) is 131016 resident 1007 (ask 401307 by 転入照会)"
        );
    }
    match records.add_staff(&chiyoda, DEMO_LOGIN, Role::Clerk).await {
        Ok(new) => {
            let _ = writeln!(
                out,
                "counter login (DEV ONLY): municipality 131016, login {DEMO_LOGIN}"
            );
            let _ = writeln!(out, "  password     {}", new.password.as_str());
            let _ = writeln!(out, "  TOTP secret  {}", new.totp.secret_base32.as_str());
            let _ = writeln!(out, "  TOTP URI     {}", new.totp.provisioning_uri.as_str());
        }
        Err(Error::StaffExists) => {
            let _ = writeln!(
                out,
                "counter login {DEMO_LOGIN} already exists (its password was printed when it was made)"
            );
        }
        Err(e) => return Err(e),
    }
    Ok(())
}
