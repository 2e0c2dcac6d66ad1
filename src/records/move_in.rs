//! 転入照会, the move-in record query, as the record system answers and records it. The new
//! municipality's `move-in` staff pick their own resident (whose 個人番号 their register holds);
//! the former municipality matches that 個人番号 against its own residents marked 転出 and
//! provides **only that individual's** doses; the new municipality stores them with their
//! provenance. Each side writes a provision record into its audit log: `move-in-query` (who
//! asked, whom, the outcome) and `move-in-provision` (who asked, for which resident, what was
//! given). The exchange between two deployments (`crate::move_in`) calls
//! [`Records::answer_move_in`]; within one deployment it calls the same function, never a
//! table of another municipality directly.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::audit::AuditEntry;
use super::error::{Error, Result};
use super::model::{AtenaNo, ResidentStatus, Role};
use super::staff::StaffSession;
use super::{Records, with_db};
use crate::card::MyNumber;
use crate::domain::MunicipalityCode;

/// One dose as the former municipality provides it (and as it travels between deployments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidedDose {
    /// 接種回数.
    pub dose: u32,
    /// 接種日, `YYYY-MM-DD`.
    pub date: String,
    /// The catalogue product code.
    pub product: String,
    /// ロット番号.
    pub lot: String,
    /// 接種会場名.
    pub venue: String,
    /// 接種医師名.
    pub physician: String,
    /// 接種自治体コード.
    pub vaccinated_in: String,
    /// 券種 code.
    pub coupon: String,
}

/// What a completed query did at the new municipality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoveInOutcome {
    /// The query's ID (in both sides' audit logs).
    pub query_id: String,
    /// The former municipality.
    pub from: MunicipalityCode,
    /// Doses the former municipality provided.
    pub provided: usize,
    /// Of those, stored here (a dose number already recorded here is kept as it is).
    pub stored: usize,
    /// Dose numbers recorded here with another date than the former municipality gave: kept as
    /// recorded here, for staff to look at (接種回数 counts the resident's doses everywhere, so
    /// the same number should be the same dose).
    pub differing: Vec<u32>,
}

impl Records {
    /// The 個人番号 of one of the session's own residents, for a query about them: `move-in`
    /// staff only, and only a resident who lives here now.
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NoSuchResident`], [`Error::MovedOut`],
    /// [`Error::Deceased`].
    pub async fn move_in_subject(&self, s: &StaffSession, atena: &AtenaNo) -> Result<MyNumber> {
        if s.role() != Role::MoveIn {
            return Err(Error::Forbidden);
        }
        let m = s.municipality();
        let resident = self
            .resident(m, atena)
            .await?
            .ok_or(Error::NoSuchResident)?;
        match resident.status {
            ResidentStatus::Resident => {}
            ResidentStatus::MovedOut => return Err(Error::MovedOut(m.clone())),
            ResidentStatus::Deceased => return Err(Error::Deceased),
        }
        let sealed: Vec<u8> = with_db!(&self.db, p => sqlx::query(
            "SELECT ciphertext FROM resident_mynumber WHERE municipality = $1 AND atena = $2")
            .bind(m.as_str()).bind(atena.as_str()).fetch_optional(p).await
            .map(|r| r.map(|r| r.get(0))))?
        .ok_or(Error::NoSuchResident)?;
        self.keys.decrypt_mynumber(&sealed, m, atena.as_str())
    }

    /// Answer a query as the former municipality `to`: the doses of the one resident of `to`
    /// with this 個人番号 who moved out (転出), for `from`. Audited as `move-in-provision` with
    /// who asked, whatever the outcome.
    ///
    /// # Errors
    /// [`Error::UnknownMunicipality`], [`Error::MoveInNoMatch`] (no resident of `to` has this
    /// 個人番号), [`Error::MoveInNotMovedOut`] (the resident has not moved out).
    pub async fn answer_move_in(
        &self,
        to: &MunicipalityCode,
        from: &MunicipalityCode,
        query_id: &str,
        my_number: &MyNumber,
        asked_by: &str,
    ) -> Result<Vec<ProvidedDose>> {
        let (who, r) = match self.match_moved_out(to, from, my_number).await {
            Ok(atena) => {
                let doses = self.provided_doses(to, &atena).await;
                (Some(atena), doses)
            }
            Err((who, e)) => (who, Err(e)),
        };
        // The resident asked about, when one matched (a refusal names them too: the former
        // municipality knows whom it was asked about).
        let subject = who.as_ref().map(AtenaNo::as_str);
        let outcome = match &r {
            Ok(doses) => format!(
                "ok to={from} query={query_id} by={asked_by} doses={}",
                doses.len()
            ),
            Err(e) => format!("{} to={from} query={query_id} by={asked_by}", e.code()),
        };
        if self.municipality(to).await.is_ok() {
            self.audit(&AuditEntry::system(
                "move-in",
                to,
                "move-in-provision",
                subject,
                &outcome,
            ))
            .await?;
        }
        r
    }

    /// The resident of `to` with this 個人番号 who moved out; a refusal with the resident it
    /// concerns, when one matched.
    async fn match_moved_out(
        &self,
        to: &MunicipalityCode,
        from: &MunicipalityCode,
        my_number: &MyNumber,
    ) -> std::result::Result<AtenaNo, (Option<AtenaNo>, Error)> {
        let plain = |e: Error| (None, e);
        self.municipality(to).await.map_err(plain)?;
        if from == to {
            return Err(plain(Error::MoveInNoMatch));
        }
        let hash = self.keys.mynumber_hash(my_number);
        // The resident's current link, or the one kept when another municipality took the
        // 個人番号 over on import.
        let atena: Option<String> = with_db!(&self.db, p => sqlx::query(
            "SELECT atena FROM resident_mynumber WHERE municipality = $1 AND hash = $2 \
             UNION SELECT atena FROM former_mynumber WHERE municipality = $1 AND hash = $2")
            .bind(to.as_str()).bind(hash.to_vec()).fetch_optional(p).await
            .map(|r| r.map(|r| r.get(0))))
        .map_err(|e| plain(e.into()))?;
        let atena = AtenaNo::parse(&atena.ok_or(plain(Error::MoveInNoMatch))?).map_err(plain)?;
        let resident = self
            .resident(to, &atena)
            .await
            .map_err(plain)?
            .ok_or(plain(Error::MoveInNoMatch))?;
        if resident.status != ResidentStatus::MovedOut {
            return Err((Some(atena), Error::MoveInNotMovedOut));
        }
        Ok(atena)
    }

    async fn provided_doses(
        &self,
        to: &MunicipalityCode,
        atena: &AtenaNo,
    ) -> Result<Vec<ProvidedDose>> {
        Ok(self
            .doses(to, atena)
            .await?
            .into_iter()
            .map(|d| ProvidedDose {
                dose: d.dose,
                date: d.date.iso(),
                product: d.product.code.to_owned(),
                lot: d.lot,
                venue: d.venue,
                physician: d.physician,
                vaccinated_in: d.vaccinated_in.as_str().to_owned(),
                coupon: d.coupon.code().to_owned(),
            })
            .collect())
    }

    /// Store the doses a former municipality provided for one of the session's residents, with
    /// their provenance; a dose number already recorded here stays as it is. Audited as
    /// `move-in-query`.
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::Invalid`] for a provided dose vaxcert cannot read.
    pub async fn store_moved_in(
        &self,
        s: &StaffSession,
        atena: &AtenaNo,
        from: &MunicipalityCode,
        query_id: &str,
        doses: &[ProvidedDose],
    ) -> Result<MoveInOutcome> {
        if s.role() != Role::MoveIn {
            return Err(Error::Forbidden);
        }
        let m = s.municipality();
        let now = self.now().0;
        let mut stored = 0;
        let mut differing = Vec::new();
        for d in doses {
            let date = crate::domain::BirthDate::parse(&d.date.replace('-', "")).map_err(|_| {
                Error::Invalid {
                    what: "provided dose date",
                }
            })?;
            let product = crate::catalogue::product(&d.product).ok_or(Error::Invalid {
                what: "provided dose product",
            })?;
            MunicipalityCode::parse(&d.vaccinated_in).map_err(|_| Error::Invalid {
                what: "provided dose municipality",
            })?;
            super::model::CouponType::from_code(&d.coupon)?;
            if !(1..=10).contains(&d.dose) {
                return Err(Error::Invalid {
                    what: "provided dose number",
                });
            }
            let n = with_db!(&self.db, p => sqlx::query(
                "INSERT INTO vaccination (municipality, atena, dose, date, product, lot, venue, physician, vaccinated_in, coupon, registered_at, from_municipality, from_query, from_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $11) ON CONFLICT (municipality, atena, dose) DO NOTHING")
                .bind(m.as_str()).bind(atena.as_str()).bind(i64::from(d.dose)).bind(date.iso())
                .bind(product.code).bind(&d.lot).bind(&d.venue).bind(&d.physician)
                .bind(&d.vaccinated_in).bind(&d.coupon).bind(now).bind(from.as_str()).bind(query_id)
                .execute(p).await.map(|r| r.rows_affected()))?;
            stored += n as usize;
            if n == 0 {
                let here: Option<String> = with_db!(&self.db, p => sqlx::query(
                    "SELECT date FROM vaccination WHERE municipality = $1 AND atena = $2 AND dose = $3")
                    .bind(m.as_str()).bind(atena.as_str()).bind(i64::from(d.dose))
                    .fetch_optional(p).await.map(|r| r.map(|r| r.get(0))))?;
                if here.as_deref() != Some(date.iso().as_str()) {
                    differing.push(d.dose);
                }
            }
        }
        self.audit(&AuditEntry::system(
            s.actor(),
            m,
            "move-in-query",
            Some(atena.as_str()),
            &format!(
                "ok from={from} query={query_id} provided={} stored={stored} differing={}",
                doses.len(),
                differing.len()
            ),
        ))
        .await?;
        Ok(MoveInOutcome {
            query_id: query_id.to_owned(),
            from: from.clone(),
            provided: doses.len(),
            stored,
            differing,
        })
    }

    /// Record a query the former municipality (or the way to it) refused, at the new one.
    ///
    /// # Errors
    /// Database errors.
    pub async fn move_in_refused(
        &self,
        s: &StaffSession,
        atena: &AtenaNo,
        from: &MunicipalityCode,
        query_id: &str,
        code: &str,
    ) -> Result<()> {
        self.audit(&AuditEntry::system(
            s.actor(),
            s.municipality(),
            "move-in-query",
            Some(atena.as_str()),
            &format!("{code} from={from} query={query_id}"),
        ))
        .await?;
        Ok(())
    }

    /// Whether this deployment holds `m` (a query to it is answered in-process).
    ///
    /// # Errors
    /// Database errors other than "unknown".
    pub async fn holds(&self, m: &MunicipalityCode) -> Result<bool> {
        match self.municipality(m).await {
            Ok(_) => Ok(true),
            Err(Error::UnknownMunicipality(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
