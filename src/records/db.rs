//! The two backends behind one code base. Queries are runtime-checked SQL written once with
//! `$N` placeholders (both SQLite and PostgreSQL accept them); [`with_db!`] runs the same code
//! against whichever pool is open.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::error::{Error, Result};
use crate::domain::MunicipalityCode;

/// An open database.
#[derive(Debug, Clone)]
pub(in crate::records) enum Db {
    /// The embedded default, with the task that folds its WAL back.
    Sqlite(SqlitePool, std::sync::Arc<Checkpointer>),
    /// Production.
    Postgres(PgPool),
}

/// Run `$body` with `$p` bound to the open pool, whichever backend it is.
macro_rules! with_db {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::records::db::Db::Sqlite($p, ..) => $body,
            $crate::records::db::Db::Postgres($p) => $body,
        }
    };
}
pub(in crate::records) use with_db;

impl Db {
    /// Open (and create, for SQLite) the database and apply the schema.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown scheme; database and migration errors.
    pub(in crate::records) async fn open(url: &str) -> Result<Db> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
                // A 1,000,000-resident municipality has random-keyed indexes (MyNumber hashes)
                // far larger than SQLite's 2 MB default cache: give imports room.
                .pragma("cache_size", "-131072")
                .pragma("temp_store", "memory")
                // No checkpoint inside a commit: the checkpointer folds the WAL back on its own
                // connection (see Checkpointer), off the request path.
                .pragma("wal_autocheckpoint", "0");
            // One connection: SQLite runs one writer at a time anyway, and the connection that
            // made every change keeps its page cache from one transaction to the next. With
            // several, a transaction after another connection's commit starts with an emptied
            // cache; the issuance pipeline measured 15–20 % more CPU per issuance with four.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone())
                .await?;
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
            let checkpointer = Checkpointer::start(&opts).await?;
            Ok(Db::Sqlite(pool, std::sync::Arc::new(checkpointer)))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = super::primary::connect(super::primary::hosts(url)?).await?;
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
            Ok(Db::Postgres(pool))
        } else {
            Err(Error::Config(
                "--database-url must start with sqlite:// or postgres://".into(),
            ))
        }
    }

    /// Whether this is PostgreSQL (partitions, COPY).
    pub(in crate::records) fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// PostgreSQL: make the municipality's partitions. The code is six checked digits, so it is
    /// safe inside an identifier and a literal.
    pub(in crate::records) async fn create_partitions(
        &self,
        code: &MunicipalityCode,
    ) -> Result<()> {
        if let Db::Postgres(pool) = self {
            let c = code.as_str();
            for table in ["resident", "vaccination", "issuance"] {
                let ddl = format!(
                    "CREATE TABLE IF NOT EXISTS {table}_{c} PARTITION OF {table} FOR VALUES IN ('{c}')"
                );
                sqlx::query(sqlx::AssertSqlSafe(ddl)).execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Close every connection (SQLite checkpoints its WAL).
    pub(in crate::records) async fn close(&self) {
        with_db!(self, p => p.close().await);
        if let Db::Sqlite(_, c) = self {
            c.stop().await;
        }
    }
}

/// How often the SQLite WAL is folded back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// SQLite's WAL checkpoints, moved off the request path: with automatic checkpoints a commit
/// now and then paid for writing back and syncing every page the WAL held (the p99 of the
/// issuance path). A dedicated connection runs a passive checkpoint every
/// [`CHECKPOINT_EVERY`] instead, concurrently with the writer, and a full one at close.
#[derive(Debug)]
pub(in crate::records) struct Checkpointer {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Checkpointer {
    async fn start(opts: &SqliteConnectOptions) -> Result<Self> {
        use sqlx::{ConnectOptions, Executor};
        let mut conn = opts.connect().await?;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(e) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
                            tracing::warn!(error = %e, "SQLite checkpoint failed");
                        }
                    }
                    _ = stopped.changed() => break,
                }
            }
            let _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await;
            let _ = sqlx::Connection::close(conn).await;
        });
        Ok(Checkpointer {
            stop,
            task: tokio::sync::Mutex::new(Some(task)),
        })
    }

    async fn stop(&self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.lock().await.take() {
            let _ = t.await;
        }
    }
}
