//! PostgreSQL failover: `records serve` takes a list of hosts, as libpq does
//! (`postgres://user@h1:5432,h2:5432/db?target_session_attrs=read-write`), and keeps its pool
//! pointed at whichever host is the writable primary.
//!
//! sqlx takes one host per pool and has no `target_session_attrs`, so this module adds the
//! two missing pieces and nothing else: a connection is refused unless its server is out of
//! recovery (so a standby never serves a write), and a watcher probes the current primary
//! every [`PROBE_EVERY`]. When it stops answering or is in recovery, the watcher finds the host
//! that is now primary (a restarted one, or a promoted standby) and points the pool there;
//! connections opened before the switch are dropped when next taken. Requests meanwhile fail
//! fast ([`ACQUIRE_TIMEOUT`]) as `database-unavailable`, never hang.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use super::error::{Error, Result};

/// How often the watcher asks the primary whether it still is one.
pub(in crate::records) const PROBE_EVERY: Duration = Duration::from_millis(500);

/// How long a request waits for a connection before it fails as `database-unavailable`.
pub(in crate::records) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long one probe (connect + query) may take before the host counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The hosts a database URL names, each as its own connect options, in the URL's order.
///
/// # Errors
/// [`Error::Config`] when the URL cannot be read.
pub(in crate::records) fn hosts(url: &str) -> Result<Vec<PgConnectOptions>> {
    let bad = |why: &str| Error::Config(format!("database URL: {why}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (user, hostlist) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), authority),
    };
    // target_session_attrs is what this module does; sqlx would only warn about it.
    let tail = strip_param(tail, "target_session_attrs");
    hostlist
        .split(',')
        .map(|host| {
            if host.is_empty() {
                return Err(bad("an empty host in the list"));
            }
            PgConnectOptions::from_str(&format!("{scheme}://{user}{host}{tail}"))
                .map_err(|e| bad(&e.to_string()))
        })
        .collect()
}

fn strip_param(tail: &str, name: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| kv.split('=').next() != Some(name))
        .collect();
    if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// What a probe found at one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Primary,
    Standby,
    Down,
}

async fn probe(conn: &mut Option<PgConnection>, opts: &PgConnectOptions) -> Role {
    let ask = async {
        if conn.is_none() {
            *conn = Some(PgConnection::connect_with(opts).await?);
        }
        let c = conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        sqlx::query_scalar::<_, bool>("SELECT pg_is_in_recovery()")
            .fetch_one(c)
            .await
    };
    match tokio::time::timeout(PROBE_TIMEOUT, ask).await {
        Ok(Ok(false)) => Role::Primary,
        Ok(Ok(true)) => Role::Standby,
        _ => {
            *conn = None;
            Role::Down
        }
    }
}

/// Open a pool on the first host that is a writable primary, and, when the URL names more than
/// one host, start the watcher that follows the primary.
///
/// # Errors
/// [`Error::Unavailable`] when no host is a writable primary now.
pub(in crate::records) async fn connect(hosts: Vec<PgConnectOptions>) -> Result<PgPool> {
    let mut first = None;
    for (i, opts) in hosts.iter().enumerate() {
        if probe(&mut None, opts).await == Role::Primary {
            first = Some(i);
            break;
        }
    }
    let Some(current) = first else {
        return Err(Error::Unavailable(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "no host in the database URL is a writable primary",
        ))));
    };
    let switched_at = Arc::new(Mutex::new(Instant::now()));
    let since = switched_at.clone();
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(|conn, _| {
            Box::pin(async move {
                let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                    .fetch_one(conn)
                    .await?;
                if standby {
                    return Err(sqlx::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::ConnectionRefused,
                        "the server is a standby (in recovery)",
                    )));
                }
                Ok(())
            })
        })
        .before_acquire(move |_, meta| {
            // A connection opened before the last switch may lead to the old primary.
            let opened = Instant::now().checked_sub(meta.age);
            let switched = *since
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Box::pin(async move { Ok(opened.is_none_or(|t| t >= switched)) })
        })
        .connect_with(hosts[current].clone())
        .await?;
    if hosts.len() > 1 {
        tokio::spawn(watch(pool.clone(), hosts, current, switched_at));
    }
    Ok(pool)
}

/// Follow the primary until the pool is closed.
async fn watch(
    pool: PgPool,
    hosts: Vec<PgConnectOptions>,
    mut current: usize,
    switched_at: Arc<Mutex<Instant>>,
) {
    let mut conn = None;
    let mut was_lost = false;
    while !pool.is_closed() {
        tokio::time::sleep(PROBE_EVERY).await;
        if probe(&mut conn, &hosts[current]).await == Role::Primary {
            continue;
        }
        conn = None;
        // Every other host first, then this one again (a restart rather than a failover).
        let mut found = None;
        for k in 1..=hosts.len() {
            let i = (current + k) % hosts.len();
            if probe(&mut None, &hosts[i]).await == Role::Primary {
                found = Some(i);
                break;
            }
        }
        match found {
            Some(i) => {
                tracing::warn!(
                    host = hosts[i].get_host(),
                    port = hosts[i].get_port(),
                    "database primary found; requests go there"
                );
                if i != current {
                    *switched_at
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
                    pool.set_connect_options(hosts[i].clone());
                }
                current = i;
                was_lost = false;
            }
            None if !was_lost => {
                tracing::error!("no database host is a writable primary; requests fail fast");
                was_lost = true;
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_list_gives_one_option_set_per_host() {
        let h = hosts(
            "postgres://vaxcert:pw@10.0.0.1:5432,10.0.0.2:5433/records?target_session_attrs=read-write&sslmode=disable",
        )
        .unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!((h[0].get_host(), h[0].get_port()), ("10.0.0.1", 5432));
        assert_eq!((h[1].get_host(), h[1].get_port()), ("10.0.0.2", 5433));
        assert_eq!(h[1].get_database(), Some("records"));
        assert_eq!(h[1].get_username(), "vaxcert");
        assert!(hosts("postgres://a,,b/db").is_err());
        assert_eq!(hosts("postgres://localhost/db").unwrap().len(), 1);
    }
}
