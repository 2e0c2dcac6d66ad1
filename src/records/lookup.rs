//! Lookup for issuance and the issuance history (DESIGN §4). A [`VerifiedIdentity`] plus the
//! municipality the resident chose yields the record, found by MyNumber hash and then checked
//! with the name rule and the birth date; each refusal has its own error.

use serde::Serialize;
use sqlx::Row;

use super::audit::AuditEntry;
use super::db::Db;
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
    /// 通称: a foreign resident's registered alias, beside the legal name above.
    pub alias: Option<String>,
}

impl Resident {
    /// The legal name as a certificate prints it: family and given names apart, by a
    /// full-width space for a Japanese name and an ASCII space for one in Latin letters.
    pub fn display_name(&self) -> String {
        display_name(&self.family_kanji, &self.given_kanji)
    }
}

/// Family and given names joined as printed (see [`Resident::display_name`]).
fn display_name(family: &str, given: &str) -> String {
    let latin = |s: &str| s.chars().any(|c| c.is_ascii_alphabetic());
    let sep = if latin(family) || latin(given) {
        ' '
    } else {
        '\u{3000}'
    };
    format!("{family}{sep}{given}")
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
    /// The former municipality that provided this dose through a 転入照会 (none: recorded here).
    pub provided_by: Option<MunicipalityCode>,
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
    /// SHA-256 of what the certificate says (name, birth date, doses), so a later change to
    /// the record shows which certificates it made out of date.
    pub content_digest: Option<[u8; 32]>,
}

/// One recorded issuance, as a reprint needs it.
#[derive(Debug, Clone)]
pub struct IssuedRow {
    /// The resident it was issued to.
    pub atena: AtenaNo,
    /// Which certificate.
    pub kind: Kind,
    /// Passport data recorded with it (overseas).
    pub passport: Option<PassportData>,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// Whether it has been revoked.
    pub revoked: bool,
    /// What it said, as a digest (none before migration 0006).
    pub content_digest: Option<[u8; 32]>,
}

/// A certificate in force, as [`Records::certificates_in_force`] lists it for review.
#[derive(Debug, Clone)]
pub struct InForce {
    /// Certificate ID.
    pub certificate_id: String,
    /// The resident it was issued to.
    pub atena: AtenaNo,
    /// When.
    pub issued_at: UnixTime,
    /// `app`, `kiosk` or `counter`.
    pub channel: String,
    /// `domestic` or `overseas`.
    pub kind: String,
    /// What it said, as recorded at issuance (none before migration 0006).
    pub content_digest: Option<[u8; 32]>,
}

/// What binds an issuance to the preview token that asked for it (DESIGN §7): the token's
/// id, and the challenge and evidence digest it was sealed with at preview.
#[derive(Debug, Clone)]
pub struct Redemption {
    /// The token's random id: the idempotency key of the certificate request.
    pub token_id: [u8; 16],
    /// The challenge the evidence answered.
    pub challenge: crate::card::challenge::ChallengeId,
    /// SHA-256 over the evidence as it crossed the wire.
    pub evidence: [u8; 32],
    /// The terms-of-use version the resident accepted at preview, kept with the issuance.
    pub terms_version: Option<String>,
}

/// What [`Records::record_redemption`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded now.
    New(IssuedCertificate),
    /// The token was redeemed before (a retry after a lost answer): that issuance.
    Existing(IssuedCertificate),
    /// The token was redeemed before and that certificate has since been revoked.
    Revoked(IssuedCertificate),
    /// The token's challenge and evidence are not the ones this database recorded at preview.
    Unbound,
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
        let (resident, doses, last_passport) = self
            .record(municipality, Key::MyNumberHash(&hash))
            .await?
            .ok_or_else(|| Error::NoRecord(municipality.clone()))?;
        if !name_matches(
            identity.name(),
            &resident.family_kanji,
            &resident.given_kanji,
            resident.alias.as_deref(),
        ) || identity.birth_date() != resident.birth_date
        {
            return Err(Error::IdentityMismatch);
        }
        match resident.status {
            ResidentStatus::MovedOut => return Err(Error::MovedOut(municipality.clone())),
            ResidentStatus::Deceased => return Err(Error::Deceased),
            ResidentStatus::Resident => {}
        }
        if doses.is_empty() {
            return Err(Error::NoDoses(municipality.clone()));
        }
        Ok(IssuanceRecord {
            municipality: m,
            resident,
            doses,
            last_passport,
        })
    }

    /// The resident, their doses in order and the last issuance's passport data, in one query
    /// (one round trip on the issuance hot path instead of three). `None`: no such resident.
    pub(in crate::records) async fn record(
        &self,
        municipality: &MunicipalityCode,
        key: Key<'_>,
    ) -> Result<Option<(Resident, Vec<Dose>, Option<PassportData>)>> {
        const COLUMNS: &str = "SELECT r.atena, r.family_kanji, r.given_kanji, r.family_kana, r.given_kana, r.birth_date, r.sex, r.ken_no, r.status, \
             (SELECT i.passport FROM issuance i WHERE i.municipality = r.municipality AND i.atena = r.atena AND i.passport IS NOT NULL \
              ORDER BY i.issued_at DESC, i.certificate_id DESC LIMIT 1), \
             v.dose, v.date, v.product, v.lot, v.venue, v.physician, v.vaccinated_in, v.coupon, v.registered_at, r.alias, v.from_municipality ";
        let sql = match key {
            Key::MyNumberHash(_) => sqlx::AssertSqlSafe(format!(
                "{COLUMNS} FROM resident_mynumber m JOIN resident r ON r.municipality = m.municipality AND r.atena = m.atena \
                 LEFT JOIN vaccination v ON v.municipality = r.municipality AND v.atena = r.atena \
                 WHERE m.municipality = $1 AND m.hash = $2 ORDER BY v.dose"
            )),
            Key::Atena(_) => sqlx::AssertSqlSafe(format!(
                "{COLUMNS} FROM resident r LEFT JOIN vaccination v ON v.municipality = r.municipality AND v.atena = r.atena \
                 WHERE r.municipality = $1 AND r.atena = $2 ORDER BY v.dose"
            )),
        };
        type Raw = (RawResident, Option<String>, Option<RawDose>);
        let rows: Vec<Raw> = with_db!(&self.db, p => {
            let q = sqlx::query(sql).bind(municipality.as_str());
            let q = match key {
                Key::MyNumberHash(h) => q.bind(h.to_vec()),
                Key::Atena(a) => q.bind(a.as_str().to_owned()),
            };
            q.fetch_all(p).await.and_then(|rows| rows.iter().map(|r| -> std::result::Result<Raw, sqlx::Error> {
                let dose: Option<i64> = r.try_get(10)?;
                Ok((
                    (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?, r.try_get(6)?, r.try_get(7)?, r.try_get(8)?, r.try_get(19)?),
                    r.try_get(9)?,
                    match dose {
                        None => None,
                        Some(d) => Some((d, r.try_get(11)?, r.try_get(12)?, r.try_get(13)?, r.try_get(14)?, r.try_get(15)?, r.try_get(16)?, r.try_get(17)?, r.try_get(18)?, r.try_get(20)?)),
                    },
                ))
            }).collect())
        })?;
        let mut rows = rows.into_iter();
        let Some((resident, passport, first)) = rows.next() else {
            return Ok(None);
        };
        let doses = first
            .into_iter()
            .chain(rows.filter_map(|(_, _, d)| d))
            .map(dose_from_raw)
            .collect::<Result<Vec<_>>>()?;
        let passport = passport
            .map(|j| serde_json::from_str(&j).map_err(|_| bad("stored passport data")))
            .transpose()?;
        Ok(Some((resident_from_raw(resident)?, doses, passport)))
    }

    /// One resident's record by 宛名番号: the resident, their doses in order, and the last
    /// issuance's passport data. `None`: no such resident.
    ///
    /// # Errors
    /// Database errors.
    pub async fn record_by_atena(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
    ) -> Result<Option<(Resident, Vec<Dose>, Option<PassportData>)>> {
        self.record(municipality, Key::Atena(atena)).await
    }

    pub(in crate::records) async fn resident(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
    ) -> Result<Option<Resident>> {
        let raw: Option<RawResident> = with_db!(&self.db, p => sqlx::query(
            "SELECT atena, family_kanji, given_kanji, family_kana, given_kana, birth_date, sex, ken_no, status, alias \
             FROM resident WHERE municipality = $1 AND atena = $2")
            .bind(municipality.as_str()).bind(atena.as_str()).fetch_optional(p).await
            .map(|r| r.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7), r.get(8), r.get(9)))))?;
        raw.map(resident_from_raw).transpose()
    }

    pub(in crate::records) async fn doses(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
    ) -> Result<Vec<Dose>> {
        let rows: Vec<RawDose> = with_db!(&self.db, p => sqlx::query(
            "SELECT dose, date, product, lot, venue, physician, vaccinated_in, coupon, registered_at, from_municipality \
             FROM vaccination WHERE municipality = $1 AND atena = $2 ORDER BY dose")
            .bind(municipality.as_str()).bind(atena.as_str()).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7), r.get(8), r.get(9))).collect()))?;
        rows.into_iter().map(dose_from_raw).collect()
    }

    /// Record an issuance for a resident found by [`Records::lookup_for_issuance`] (or by the
    /// counter), with a fresh certificate ID unique across all municipalities, if they are
    /// still a resident; audited in the same statement.
    ///
    /// # Errors
    /// [`Error::NoSuchResident`], [`Error::MovedOut`], [`Error::Deceased`], database errors.
    pub async fn record_issuance(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
        issuance: &NewIssuance,
        actor: &str,
    ) -> Result<IssuedCertificate> {
        let rid = issuance.rid.clone();
        self.record_issuance_with(municipality, atena, issuance, actor, &|_| rid.clone())
            .await
    }

    /// As [`Records::record_issuance`], with the SHC `rid` derived from the new certificate ID
    /// (the issuance service records before it signs). The caller has found the resident.
    ///
    /// # Errors
    /// As [`Records::record_issuance`].
    pub async fn record_issuance_with(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
        issuance: &NewIssuance,
        actor: &str,
        rid_for: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<IssuedCertificate> {
        match self
            .record_once(municipality, atena, issuance, actor, rid_for, None)
            .await?
        {
            Recorded::New(c) => Ok(c),
            _ => Err(Error::Corrupt("issuance outcome")),
        }
    }

    /// Record the issuance a preview token asks for, once: the token's id goes into the
    /// issuance row (unique per municipality) in the statement that records it, so however
    /// many replicas and retries see the token, one issuance exists. A retry finds it
    /// ([`Recorded::Existing`]); a token whose challenge and evidence this database did not
    /// record at preview is [`Recorded::Unbound`].
    ///
    /// # Errors
    /// As [`Records::record_issuance`].
    pub async fn record_redemption(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
        issuance: &NewIssuance,
        actor: &str,
        rid_for: &(dyn Fn(&str) -> String + Sync),
        redemption: &Redemption,
    ) -> Result<Recorded> {
        self.record_once(
            municipality,
            atena,
            issuance,
            actor,
            rid_for,
            Some(redemption),
        )
        .await
    }

    async fn record_once(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
        issuance: &NewIssuance,
        actor: &str,
        rid_for: &(dyn Fn(&str) -> String + Sync),
        redemption: Option<&Redemption>,
    ) -> Result<Recorded> {
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
        let token_id = redemption.map(|r| r.token_id.to_vec());
        let challenge = redemption.map(|r| r.challenge.to_vec());
        let evidence = redemption.map(|r| r.evidence.to_vec());
        let terms = redemption.and_then(|r| r.terms_version.clone());
        let content = issuance.content_digest.map(|d| d.to_vec());
        let entry = AuditEntry::system(actor, municipality, "issuance", Some(atena.as_str()), "ok");
        // One statement records the issuance if the resident is still a resident and the
        // token is unredeemed and bound, reserves its ID (the insert trigger), and appends the
        // audit entry if the issuance went in. Under the audit lock, so the entry links to the
        // head: this process's on SQLite, the database's advisory lock on PostgreSQL.
        let mut head = self.audit_head.lock().await;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let id = CertificateId::random();
            let rid = rid_for(id.as_str());
            let written = match &self.db {
                Db::Sqlite(p, ..) => {
                    let link = self.next_link(&mut head, at.0, &entry).await?;
                    let r = sqlx::query(
                        "INSERT INTO issuance (municipality, certificate_id, atena, issued_at, channel, kind, passport, key_id, rid, card_key_hash, revoked_at, token_id, terms_version, content_digest) \
                           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $15, $18, $19 FROM resident WHERE municipality = $1 AND atena = $3 AND status = 0 \
                           AND ($15 IS NULL OR NOT EXISTS (SELECT 1 FROM issuance WHERE municipality = $1 AND token_id = $15)) \
                           AND ($16 IS NULL OR EXISTS (SELECT 1 FROM used_challenge WHERE id = $16 AND evidence = $17)); \
                         INSERT INTO audit_log (seq, at, actor, municipality, action, subject, outcome, prev_hash, hash) \
                           SELECT $11, $4, $12, $1, 'issuance', $3, 'ok', $13, $14 WHERE changes() = 1 \
                           ON CONFLICT (seq) DO NOTHING")
                        .bind(municipality.as_str()).bind(id.as_str()).bind(atena.as_str()).bind(at.0)
                        .bind(issuance.channel.as_str()).bind(issuance.kind.as_str()).bind(&passport)
                        .bind(&issuance.key_id).bind(&rid).bind(&card_key_hash)
                        .bind(link.seq).bind(actor).bind(&link.prev_hash).bind(&link.hash)
                        .bind(&token_id).bind(&challenge).bind(&evidence).bind(&terms).bind(&content)
                        // sqlite3_changes() counts neither the trigger's row nor a skipped one.
                        .execute(p).await.map(|r| (r.rows_affected() >= 1, r.rows_affected() == 2));
                    match r {
                        Ok((true, true)) => {
                            self.linked(&mut head, link).await?;
                            Ok(true)
                        }
                        Ok((true, false)) => {
                            // Another tool appended first: the entry goes in alone, after
                            // the real head.
                            drop(head);
                            self.audit(&entry).await?;
                            return Ok(Recorded::New(IssuedCertificate { id, issued_at: at }));
                        }
                        Ok((false, _)) => {
                            *head = Some((link.seq - 1, link.prev_hash));
                            Ok(false)
                        }
                        Err(e) => {
                            *head = Some((link.seq - 1, link.prev_hash));
                            Err(e)
                        }
                    }
                }
                Db::Postgres(p) => {
                    let mut tx = p.begin().await?;
                    let link = self.pg_link(&mut tx, at.0, &entry).await?;
                    let r = sqlx::query(
                        "WITH i AS (INSERT INTO issuance (municipality, certificate_id, atena, issued_at, channel, kind, passport, key_id, rid, card_key_hash, revoked_at, token_id, terms_version, content_digest) \
                           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $15, $18, $19 FROM resident WHERE municipality = $1 AND atena = $3 AND status = 0 \
                           AND ($15::bytea IS NULL OR NOT EXISTS (SELECT 1 FROM issuance WHERE municipality = $1 AND token_id = $15)) \
                           AND ($16::bytea IS NULL OR EXISTS (SELECT 1 FROM used_challenge WHERE id = $16 AND evidence = $17)) \
                           RETURNING 1), \
                         a AS (INSERT INTO audit_log (seq, at, actor, municipality, action, subject, outcome, prev_hash, hash) \
                           SELECT $11, $4, $12, $1, 'issuance', $3, 'ok', $13, $14 FROM i RETURNING 1) \
                         SELECT (SELECT count(*) FROM i), (SELECT count(*) FROM a)")
                        .bind(municipality.as_str()).bind(id.as_str()).bind(atena.as_str()).bind(at.0)
                        .bind(issuance.channel.as_str()).bind(issuance.kind.as_str()).bind(&passport)
                        .bind(&issuance.key_id).bind(&rid).bind(&card_key_hash)
                        .bind(link.seq).bind(actor).bind(&link.prev_hash).bind(&link.hash)
                        .bind(&token_id).bind(&challenge).bind(&evidence).bind(&terms).bind(&content)
                        .fetch_one(&mut *tx).await.map(|r| r.get::<i64, _>(0) == 1 && r.get::<i64, _>(1) == 1);
                    match r {
                        Ok(true) => {
                            let sealed = self.pg_seal(&mut tx, &link).await?;
                            let done = tx.commit().await.map(|()| true);
                            if done.is_ok() {
                                self.copy_sealed(sealed)?;
                            }
                            done
                        }
                        Ok(false) => {
                            tx.rollback().await?;
                            Ok(false)
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            match written {
                Ok(true) => return Ok(Recorded::New(IssuedCertificate { id, issued_at: at })),
                Ok(false) => {
                    drop(head);
                    return self.not_recorded(municipality, atena, redemption).await;
                }
                // A certificate ID taken in any municipality (the trigger's unique key): draw
                // another; nothing was written. A token redeemed at the same moment by another
                // process (its unique key) is found as Existing on the next turn.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() && attempts < 8 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Why nothing was recorded: the token's issuance already exists, the token is not bound
    /// to a recorded challenge, or the resident is no longer one (the slow path).
    async fn not_recorded(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
        redemption: Option<&Redemption>,
    ) -> Result<Recorded> {
        if let Some(r) = redemption {
            let found: Option<(String, i64, bool)> = with_db!(&self.db, p => sqlx::query(
                "SELECT certificate_id, issued_at, revoked_at IS NOT NULL FROM issuance WHERE municipality = $1 AND token_id = $2")
                .bind(municipality.as_str()).bind(r.token_id.to_vec()).fetch_optional(p).await
                .map(|o| o.map(|row| (row.get(0), row.get(1), row.get(2)))))?;
            if let Some((id, issued_at, revoked)) = found {
                let id = CertificateId::parse(&id).map_err(|_| Error::Corrupt("certificate id"))?;
                let cert = IssuedCertificate {
                    id,
                    issued_at: UnixTime(issued_at),
                };
                return Ok(if revoked {
                    Recorded::Revoked(cert)
                } else {
                    Recorded::Existing(cert)
                });
            }
            let bound = with_db!(&self.db, p => sqlx::query(
                "SELECT 1 FROM used_challenge WHERE id = $1 AND evidence = $2")
                .bind(r.challenge.to_vec()).bind(r.evidence.to_vec()).fetch_optional(p).await
                .map(|o| o.is_some()))?;
            if !bound {
                return Ok(Recorded::Unbound);
            }
        }
        Err(self.not_issuable(municipality, atena).await)
    }

    /// Why an issuance found no resident to record against (the slow path of a refusal).
    async fn not_issuable(&self, municipality: &MunicipalityCode, atena: &AtenaNo) -> Error {
        match self.resident(municipality, atena).await {
            Ok(None) => Error::NoSuchResident,
            Ok(Some(r)) => match r.status {
                ResidentStatus::MovedOut => Error::MovedOut(municipality.clone()),
                ResidentStatus::Deceased => Error::Deceased,
                // Became a resident again in between: let the caller try again.
                ResidentStatus::Resident => Error::Invalid {
                    what: "resident status changed during issuance",
                },
            },
            Err(e) => e,
        }
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

    /// Take an issuance that could not be signed back out of the history, and audit why: no
    /// certificate exists under that ID (its reservation stays, so the ID is never reused).
    ///
    /// # Errors
    /// Database errors.
    pub async fn void_issuance(
        &self,
        municipality: &MunicipalityCode,
        id: &CertificateId,
        actor: &str,
        reason: &str,
    ) -> Result<()> {
        with_db!(&self.db, p => sqlx::query(
            "DELETE FROM issuance WHERE municipality = $1 AND certificate_id = $2")
            .bind(municipality.as_str()).bind(id.as_str()).execute(p).await.map(|r| r.rows_affected()))?;
        self.audit(&AuditEntry::system(
            actor,
            municipality,
            "issuance-void",
            None,
            reason,
        ))
        .await?;
        Ok(())
    }

    /// Every certificate of `municipality` not revoked, oldest first, for review against the
    /// records they were issued from (the issuance module compares the content).
    ///
    /// # Errors
    /// Database errors; [`Error::Corrupt`] for a stored value that does not parse.
    pub async fn certificates_in_force(
        &self,
        municipality: &MunicipalityCode,
    ) -> Result<Vec<InForce>> {
        type Row = (String, String, i64, String, String, Option<Vec<u8>>);
        let rows: Vec<Row> = with_db!(&self.db, p => sqlx::query(
            "SELECT certificate_id, atena, issued_at, channel, kind, content_digest FROM issuance \
             WHERE municipality = $1 AND revoked_at IS NULL ORDER BY issued_at, atena, certificate_id")
            .bind(municipality.as_str()).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))).collect()))?;
        rows.into_iter()
            .map(|(certificate_id, atena, at, channel, kind, digest)| {
                Ok(InForce {
                    certificate_id,
                    atena: AtenaNo::parse(&atena).map_err(|_| Error::Corrupt("atena"))?,
                    issued_at: UnixTime(at),
                    channel,
                    kind,
                    content_digest: digest.and_then(|d| <[u8; 32]>::try_from(d).ok()),
                })
            })
            .collect()
    }

    /// One of `municipality`'s issuances by certificate ID (another municipality's is none).
    ///
    /// # Errors
    /// Database errors; [`Error::Corrupt`] for a stored value that does not parse.
    pub async fn issued(
        &self,
        municipality: &MunicipalityCode,
        id: &CertificateId,
    ) -> Result<Option<IssuedRow>> {
        type Row = (
            String,
            String,
            Option<String>,
            i64,
            Option<i64>,
            Option<Vec<u8>>,
        );
        let row: Option<Row> = with_db!(&self.db, p => sqlx::query(
            "SELECT atena, kind, passport, issued_at, revoked_at, content_digest FROM issuance \
             WHERE municipality = $1 AND certificate_id = $2")
            .bind(municipality.as_str()).bind(id.as_str()).fetch_optional(p).await
            .map(|r| r.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))))?;
        row.map(|(atena, kind, passport, at, revoked, digest)| {
            Ok(IssuedRow {
                atena: AtenaNo::parse(&atena).map_err(|_| Error::Corrupt("atena"))?,
                kind: match kind.as_str() {
                    "domestic" => Kind::Domestic,
                    "overseas" => Kind::Overseas,
                    _ => return Err(Error::Corrupt("kind")),
                },
                passport: passport
                    .map(|j| serde_json::from_str(&j).map_err(|_| bad("stored passport data")))
                    .transpose()?,
                issued_at: UnixTime(at),
                revoked: revoked.is_some(),
                content_digest: digest.and_then(|d| <[u8; 32]>::try_from(d).ok()),
            })
        })
        .transpose()
    }

    /// Which municipality and resident a certificate was issued to, so a municipality's staff
    /// act on their own certificates only.
    ///
    /// # Errors
    /// Database errors.
    pub async fn certificate_owner(
        &self,
        id: &CertificateId,
    ) -> Result<Option<(MunicipalityCode, AtenaNo)>> {
        let row: Option<(String, String)> = with_db!(&self.db, p => sqlx::query(
            "SELECT municipality, atena FROM issuance WHERE certificate_id = $1")
            .bind(id.as_str()).fetch_optional(p).await
            .map(|r| r.map(|r| (r.get(0), r.get(1)))))?;
        row.map(|(m, a)| {
            Ok((
                MunicipalityCode::parse(&m).map_err(|_| Error::Corrupt("municipality"))?,
                AtenaNo::parse(&a).map_err(|_| Error::Corrupt("atena"))?,
            ))
        })
        .transpose()
    }

    /// Delete one dose of a resident: its own explicit, audited action with a reason (an
    /// import never deletes doses).
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty or overlong reason or a dose the resident does not
    /// have, database errors.
    pub async fn delete_dose(
        &self,
        municipality: &MunicipalityCode,
        atena: &AtenaNo,
        dose: u32,
        reason: &str,
        actor: &str,
    ) -> Result<()> {
        let reason = reason.trim();
        if reason.is_empty() || reason.len() > 200 || reason.chars().any(char::is_control) {
            return Err(Error::Invalid {
                what: "deletion reason",
            });
        }
        let n = with_db!(&self.db, p => sqlx::query(
            "DELETE FROM vaccination WHERE municipality = $1 AND atena = $2 AND dose = $3")
            .bind(municipality.as_str()).bind(atena.as_str()).bind(i64::from(dose)).execute(p).await
            .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(Error::Invalid {
                what: "dose (the resident has no such dose)",
            });
        }
        self.audit(&AuditEntry::system(
            actor,
            municipality,
            "dose-deletion",
            Some(atena.as_str()),
            &format!("dose {dose}: {reason}"),
        ))
        .await?;
        Ok(())
    }

    /// Revoke a certificate found by its ID alone (any municipality), and audit the reason.
    /// The CRL is the issuance room's to publish.
    ///
    /// # Errors
    /// [`Error::UnknownCertificate`], [`Error::Invalid`] for an empty or overlong reason,
    /// database errors.
    pub async fn revoke_by_id(
        &self,
        id: &CertificateId,
        reason: &str,
        actor: &str,
    ) -> Result<RevokedIssuance> {
        let reason = reason.trim();
        if reason.is_empty() || reason.len() > 200 || reason.chars().any(char::is_control) {
            return Err(Error::Invalid {
                what: "revocation reason",
            });
        }
        let row: Option<(String, String, String)> = with_db!(&self.db, p => sqlx::query(
            "SELECT municipality, rid, key_id FROM issuance WHERE certificate_id = $1")
            .bind(id.as_str()).fetch_optional(p).await
            .map(|r| r.map(|r| (r.get(0), r.get(1), r.get(2)))))?;
        let (m, rid, kid) = row.ok_or_else(|| Error::UnknownCertificate(id.to_string()))?;
        let municipality =
            MunicipalityCode::parse(&m).map_err(|_| Error::Corrupt("municipality"))?;
        self.revoke_certificate(&municipality, id, actor).await?;
        self.audit(&AuditEntry::system(
            actor,
            &municipality,
            "revocation-reason",
            Some(id.as_str()),
            reason,
        ))
        .await?;
        Ok(RevokedIssuance {
            municipality,
            rid,
            kid,
        })
    }
}

/// What [`Records::revoke_by_id`] revoked: where, and what the CRL needs.
#[derive(Debug, Clone)]
pub struct RevokedIssuance {
    /// The certificate's municipality.
    pub municipality: MunicipalityCode,
    /// The SHC `rid` to list in the CRL.
    pub rid: String,
    /// The `kid` whose CRL lists it.
    pub kid: String,
}

/// How [`Records::record`] finds the resident.
#[derive(Clone, Copy)]
pub(in crate::records) enum Key<'a> {
    /// By the keyed MyNumber hash (a card's identity).
    MyNumberHash(&'a [u8; 32]),
    /// By 宛名番号 (a preview token, the counter).
    Atena(&'a AtenaNo),
}

/// A vaccination row as stored: dose, date, product, lot, venue, physician, vaccinating
/// municipality, coupon, registered at.
type RawDose = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
);

fn dose_from_raw(
    (dose, date, product, lot, venue, physician, vaccinated_in, coupon, reg, from): RawDose,
) -> Result<Dose> {
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
        provided_by: from
            .map(|m| MunicipalityCode::parse(&m).map_err(|_| bad("providing municipality")))
            .transpose()?,
    })
}

/// A resident row as stored: 宛名番号, 姓, 名, セイ, メイ, birth date, sex, 券番号, status.
pub(in crate::records) type RawResident = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
);

pub(in crate::records) fn resident_from_raw(
    (atena, fk, gk, fkana, gkana, birth, sex, ken, status, alias): RawResident,
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
        alias: alias.filter(|a| !a.is_empty()),
    })
}
