//! Counter sessions, in memory only (a restart logs everyone out): a random 256-bit ID in an
//! HttpOnly cookie, a per-session CSRF token, the last-seen time for the idle timeout, and the
//! passport data pasted for the resident at hand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use rand::RngExt;

use crate::clock::UnixTime;
use crate::records::{AtenaNo, PassportData, StaffSession};

/// The session cookie's name.
pub(super) const SESSION_COOKIE: &str = "vx_counter";
/// The pre-login CSRF cookie (double submit: the login form echoes it).
pub(super) const LOGIN_CSRF_COOKIE: &str = "vx_counter_login";

/// One logged-in member of staff.
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub(super) staff: StaffSession,
    pub(super) csrf: String,
    pub(super) last_seen: UnixTime,
    pub(super) passport: Option<(AtenaNo, PassportData)>,
    /// The latest certificate issued in this session, kept for printing until the session
    /// ends (certificate ID, signed PDF).
    pub(super) issued: Option<(String, Arc<Vec<u8>>)>,
}

/// The live sessions.
#[derive(Debug, Default)]
pub(super) struct Sessions(Mutex<HashMap<String, Session>>);

/// What a lookup found.
pub(super) enum Lookup {
    Live(Box<Session>),
    Expired,
    Missing,
}

/// 32 random bytes, base64url.
pub(super) fn token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill(&mut b[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Constant-time string equality for tokens.
pub(super) fn same(a: &str, b: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()).into()
}

impl Sessions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Open a session; returns its ID.
    pub(super) fn open(&self, staff: StaffSession, now: UnixTime) -> String {
        let id = token();
        self.map().insert(
            id.clone(),
            Session {
                staff,
                csrf: token(),
                last_seen: now,
                passport: None,
                issued: None,
            },
        );
        id
    }

    /// Find a session and mark it seen, or drop it when it has been idle too long.
    pub(super) fn touch(&self, id: &str, now: UnixTime, idle: i64) -> Lookup {
        let mut map = self.map();
        let Some(s) = map.get_mut(id) else {
            return Lookup::Missing;
        };
        if now.0 - s.last_seen.0 > idle {
            map.remove(id);
            return Lookup::Expired;
        }
        s.last_seen = now;
        Lookup::Live(Box::new(s.clone()))
    }

    /// Keep passport data for one resident in the session (replacing any earlier).
    pub(super) fn set_passport(&self, id: &str, atena: AtenaNo, p: PassportData) {
        if let Some(s) = self.map().get_mut(id) {
            s.passport = Some((atena, p));
        }
    }

    /// The session's staff member as the database says it is now (a changed role).
    pub(super) fn set_staff(&self, id: &str, staff: StaffSession) {
        if let Some(s) = self.map().get_mut(id) {
            s.staff = staff;
        }
    }

    /// Keep the certificate just issued for the print page (replacing any earlier).
    pub(super) fn set_issued(&self, id: &str, certificate_id: String, pdf: Vec<u8>) {
        if let Some(s) = self.map().get_mut(id) {
            s.issued = Some((certificate_id, Arc::new(pdf)));
        }
    }

    /// Drop every session idle longer than `idle` (with the passport data and the PDF it
    /// held); returns how many are left.
    pub(super) fn sweep(&self, now: UnixTime, idle: i64) -> usize {
        let mut map = self.map();
        map.retain(|_, s| now.0 - s.last_seen.0 <= idle);
        map.len()
    }

    /// Sessions open now.
    pub(super) fn len(&self) -> usize {
        self.map().len()
    }

    /// End a session.
    pub(super) fn close(&self, id: &str) {
        self.map().remove(id);
    }
}
