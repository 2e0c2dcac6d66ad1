//! Lookup for issuance and the issuance history (DESIGN §4). A [`VerifiedIdentity`] plus the
//! municipality the resident chose yields the record, found by MyNumber hash and then checked
//! with the name rule and the birth date; each refusal has its own error.

use serde::Serialize;
use sqlx::Row;

use super::audit::AuditEntry;
use super::error::{Error, Result};
use super::model::{
    AtenaNo, CertificateId, CouponType, KenNo, PassportData, ResidentStatus, name_matches,
};
use super::{Municipality, Records, with_db};
use crate::card::VerifiedIdentity;
use crate::catalogue::{self, Product};
use crate::clock::UnixTime;
use crate::domain::{BirthDate, Channel, Kind, MunicipalityCode, Sex};

/// A resident record (no MyNumber: that stays encrypted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resident {
    /// 宛名番号.
    pub atena: AtenaNo,
    /// 姓 (kanji).
    pub family_kanji: String,
    /// 名 (kanji).
    pub given_kanji: String,
    /// セイ (kana).
    pub family_kana: String,
    /// メイ (kana).
    pub given_kana: String,
    /// 生年月日.
    pub birth_date: BirthDate,
    /// 性別.
    pub sex: Sex,
    /// 券番号.
    pub ken_no: KenNo,
    /// 転出/死亡.
    pub status: ResidentStatus,
}

/// One recorded dose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dose {
    /// 接種回数.
    pub dose: u32,
    /// 接種日.
    pub date: BirthDate,
    /// The catalogue product.
    pub product: &'static Product,
    /// ロット番号.
    pub lot: String,
    /// 接種会場名.
    pub venue: String,
    /// 接種医師名.
    pub physician: String,
    /// 接種自治体コード.
    pub vaccinated_in: MunicipalityCode,
    /// 券種.
    pub coupon: CouponType,
    /// 接種履歴登録日時.
    #[serde(serialize_with = "unix")]
    pub registered_at: UnixTime,
}

/// What an issuance channel needs: the resident, the doses, the passport data of the last
/// issuance (the kiosk reuses it, DESIGN \[S2\]).
#[derive(Debug, Clone, Serialize)]
pub struct IssuanceRecord {
    /// The municipality holding the record.
    pub municipality: Municipality,
    /// The resident.
    pub resident: Resident,
    /// Doses in order.
    pub doses: Vec<Dose>,
    /// Passport data recorded at the last issuance that had any.
    pub last_passport: Option<PassportData>,
}

/// What is stored about one issuance, and nothing else from the application.
#[derive(Debug, Clone)]
pub struct NewIssuance {
    /// Channel.
    pub channel: Channel,
    /// Kind.
    pub kind: Kind,
    /// Passport data (overseas kind).
    pub passport: Option<PassportData>,
    /// The signing key's id (JWK thumbprint).
    pub key_id: String,
    /// The SHC `rid`.
    pub rid: String,
    /// SHA-256 of the card's DF51 (counter issuances made without a card have none).
    pub card_key_digest: Option<[u8; 32]>,
}

/// A recorded issuance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedCertificate {
    /// Certificate ID, unique across all municipalities.
    pub id: CertificateId,
    /// When.
    #[serde(serialize_with = "unix")]
    pub issued_at: UnixTime,
}

fn unix<S: serde::Serializer>(t: &UnixTime, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_i64(t.0)
}

fn bad(what: &'static str) -> Error {
    Error::Corrupt(what)
}

impl Records {
    /// Find the resident a verified card names in the chosen municipality, and check them.
    ///
    /// # Errors
    /// [`Error::NotParticipating`] (kiosk channel), [`Error::NoRecord`],
    /// [`Error::IdentityMismatch`], [`Error::MovedOut`], [`Error::Deceased`],
    /// [`Error::NoDoses`], [`Error::UnknownMunicipality`].
    pub async fn lookup_for_issuance(
        &self,
        identity: &VerifiedIdentity,
        municipality: &MunicipalityCode,
        channel: Channel,
    ) -> Result<IssuanceRecord> {
        let r = self.lookup_inner(identity, municipality, channel).await;
        let (subject, outcome) = match &r {
            Ok(rec) => (Some(rec.resident.atena.as_str().to_owned()), "ok"),
            Err(e) => (None, e.code()),
        };
        self.audit(&AuditEntry::system(
            channel.as_str(),
            municipality,
            "lookup",
            subject.as_deref(),
            outcome,
        ))
        .await?;
        r
    }

    async fn lookup_inner(
        &self,
        identity: &VerifiedIdentity,
        municipality: &MunicipalityCode,
        channel: Channel,
    ) -> Result<IssuanceRecord> {
        let m = self.municipality(municipality).await?;
        if channel == Channel::Kiosk && !m.kiosk {
            return Err(Error::NotParticipating(municipality.clone()));
        }
        let hash = self.keys.mynumber_hash(identity.my_number());
        type Raw = (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            i64,
        );
        let raw: Option<Raw> = with_db!(&self.db, p => sqlx::query(
            "SELECT r.atena, r.family_kanji, r.given_kanji, r.family_kana, r.given_kana, r.birth_date, r.sex, r.ken_no, r.status \
             FROM resident_mynumber m JOIN resident r ON r.municipality = m.municipality AND r.atena = m.atena \
             WHERE m.hash = $1 AND m.municipality = $2")
            .bind(hash.to_vec()).bind(municipality.as_str()).fetch_optional(p).await
            .map(|r| r.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7), r.get(8)))))?;
        let resident = raw
            .map(resident_from_raw)
            .transpose()?
            .ok_or_else(|| Error::NoRecord(municipality.clone()))?;
        let atena = resident.atena.clone();
        if !name_matches(
            identity.name(),
            &resident.family_kanji,
            &resident.given_kanji,
        ) || identity.birth_date() != resident.birth_date
        {
            return Err(Error::IdentityMismatch);
        }
        match resident.status {
            ResidentStatus::MovedOut => return Err(Error::MovedOut(municipality.clone())),
            ResidentStatus::Deceased => return Err(Error::Deceased),
            ResidentStatus::Resident => {}
        }
        let doses = self.doses(municipality, &atena).await?;
        if doses.is_empty() {
            return Err(Error::NoDoses(municipality.clone()));
        }
        let last_passport = self.last_passport(municipality, &atena).await?;
        Ok(IssuanceRecord {
            municipality: m,
            resident,
            doses,
            last_passport,
        })
    }

    pub(in crate::records) async fn resident(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
    ) -> Result<Option<Resident>> {
        type Raw = (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            i64,
        );
        let raw: Option<Raw> = with_db!(&self.db, p => sqlx::query(
            "SELECT atena, family_kanji, given_kanji, family_kana, given_kana, birth_date, sex, ken_no, status \
             FROM resident WHERE municipality = $1 AND atena = $2")
            .bind(municipality.as_str()).bind(atena.as_str()).fetch_optional(p).await
            .map(|r| r.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7), r.get(8)))))?;
        raw.map(resident_from_raw).transpose()
    }

    pub(in crate::records) async fn doses(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
    ) -> Result<Vec<Dose>> {
        type Raw = (
            i64,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            i64,
        );
        let rows: Vec<Raw> = with_db!(&self.db, p => sqlx::query(
            "SELECT dose, date, product, lot, venue, physician, vaccinated_in, coupon, registered_at \
             FROM vaccination WHERE municipality = $1 AND atena = $2 ORDER BY dose")
            .bind(municipality.as_str()).bind(atena.as_str()).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7), r.get(8))).collect()))?;
        rows.into_iter()
            .map(
                |(dose, date, product, lot, venue, physician, vaccinated_in, coupon, reg)| {
                    Ok(Dose {
                        dose: u32::try_from(dose).map_err(|_| bad("dose number"))?,
                        date: BirthDate::parse(&date).map_err(|_| bad("vaccination date"))?,
                        product: catalogue::product(&product).ok_or(bad("unknown product"))?,
                        lot,
                        venue,
                        physician,
                        vaccinated_in: MunicipalityCode::parse(&vaccinated_in)
                            .map_err(|_| bad("vaccinating municipality"))?,
                        coupon: CouponType::from_code(&coupon)?,
                        registered_at: UnixTime(reg),
                    })
                },
            )
            .collect()
    }

    async fn last_passport(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
    ) -> Result<Option<PassportData>> {
        let json: Option<String> = with_db!(&self.db, p => sqlx::query(
            "SELECT passport FROM issuance WHERE municipality = $1 AND atena = $2 AND passport IS NOT NULL \
             ORDER BY issued_at DESC, certificate_id DESC LIMIT 1")
            .bind(municipality.as_str()).bind(atena.as_str()).fetch_optional(p).await
            .map(|r| r.map(|r| r.get(0))))?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| bad("stored passport data")))
            .transpose()
    }

    /// Record an issuance for a resident found by [`Records::lookup_for_issuance`] (or by the
    /// counter), with a fresh certificate ID unique across all municipalities.
    ///
    /// # Errors
    /// [`Error::NoSuchResident`], database errors.
    pub async fn record_issuance(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
        issuance: &NewIssuance,
        actor: &str,
    ) -> Result<IssuedCertificate> {
        if self.resident(municipality, atena).await?.is_none() {
            return Err(Error::NoSuchResident);
        }
        let rid = issuance.rid.clone();
        self.record_issuance_with(municipality, atena, issuance, actor, &|_| rid.clone())
            .await
    }

    /// As [`Records::record_issuance`], with the SHC `rid` derived from the new certificate ID
    /// (the issuance service records before it signs). The caller has found the resident.
    pub(in crate::records) async fn record_issuance_with(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
        issuance: &NewIssuance,
        actor: &str,
        rid_for: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<IssuedCertificate> {
        let at = self.now();
        let passport = issuance
            .passport
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|_| bad("passport data"))?;
        let card_key_hash = issuance
            .card_key_digest
            .map(|d| self.keys.card_key_hash(&d).to_vec());
        let id = loop {
            let id = CertificateId::random();
            let inserted = with_db!(&self.db, p => {
                let mut tx = p.begin().await?;
                let n = sqlx::query("INSERT INTO certificate_id (id, municipality) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
                    .bind(id.as_str()).bind(municipality.as_str()).execute(&mut *tx).await?.rows_affected();
                if n == 1 {
                    let rid = rid_for(id.as_str());
                    sqlx::query("INSERT INTO issuance (municipality, certificate_id, atena, issued_at, channel, kind, passport, key_id, rid, card_key_hash, revoked_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)")
                        .bind(municipality.as_str()).bind(id.as_str()).bind(atena.as_str()).bind(at.0)
                        .bind(issuance.channel.as_str()).bind(issuance.kind.as_str()).bind(&passport)
                        .bind(&issuance.key_id).bind(&rid).bind(&card_key_hash)
                        .execute(&mut *tx).await?;
                    tx.commit().await?;
                }
                n == 1
            });
            if inserted {
                break id;
            }
        };
        self.audit(&AuditEntry::system(
            actor,
            municipality,
            "issuance",
            Some(atena.as_str()),
            "ok",
        ))
        .await?;
        Ok(IssuedCertificate { id, issued_at: at })
    }

    /// Mark a certificate revoked (the CRL is published elsewhere).
    ///
    /// # Errors
    /// [`Error::UnknownCertificate`], database errors.
    pub async fn revoke_certificate(
        &self,
        municipality: &MunicipalityCode,
        id: &CertificateId,
        actor: &str,
    ) -> Result<UnixTime> {
        let at = self.now();
        let n = with_db!(&self.db, p => sqlx::query(
            "UPDATE issuance SET revoked_at = $1 WHERE municipality = $2 AND certificate_id = $3 AND revoked_at IS NULL")
            .bind(at.0).bind(municipality.as_str()).bind(id.as_str()).execute(p).await.map(|r| r.rows_affected()))?;
        let outcome = if n == 1 { "ok" } else { "certificate-unknown" };
        self.audit(&AuditEntry::system(
            actor,
            municipality,
            "revocation",
            None,
            outcome,
        ))
        .await?;
        if n == 1 {
            Ok(at)
        } else {
            Err(Error::UnknownCertificate(id.to_string()))
        }
    }
}

pub(in crate::records) fn resident_from_raw(
    (atena, fk, gk, fkana, gkana, birth, sex, ken, status): (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        i64,
    ),
) -> Result<Resident> {
    Ok(Resident {
        atena: AtenaNo::parse(&atena)?,
        family_kanji: fk,
        given_kanji: gk,
        family_kana: fkana,
        given_kana: gkana,
        birth_date: BirthDate::parse(&birth).map_err(|_| bad("birth date"))?,
        sex: Sex::from_code(&sex).map_err(|_| bad("sex"))?,
        ken_no: KenNo::parse(&ken)?,
        status: ResidentStatus::from_db(status)?,
    })
}
