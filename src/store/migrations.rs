//! The schema, as numbered SQL files in `migrations/`, embedded in the binary.
//!
//! `PRAGMA user_version` says how many of them a database has had. Opening a database applies
//! the missing ones in order, each in its own `BEGIN IMMEDIATE` transaction together with the
//! bump of `user_version`, so a crash leaves the database at one version or the next, never in
//! between, and two processes opening an old database at once migrate it once. A database whose
//! version is above [`LATEST`] was written by a newer binary and is refused untouched.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::{Result, StoreError};

/// Every migration, in order: file name and SQL. The position is the version it brings to.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_store.sql",
        include_str!("../../migrations/0001_store.sql"),
    ),
    (
        "0002_settings.sql",
        include_str!("../../migrations/0002_settings.sql"),
    ),
    (
        "0003_sync.sql",
        include_str!("../../migrations/0003_sync.sql"),
    ),
    (
        "0004_transit.sql",
        include_str!("../../migrations/0004_transit.sql"),
    ),
    (
        "0005_conflicts.sql",
        include_str!("../../migrations/0005_conflicts.sql"),
    ),
    (
        "0006_published.sql",
        include_str!("../../migrations/0006_published.sql"),
    ),
    (
        "0007_current.sql",
        include_str!("../../migrations/0007_current.sql"),
    ),
    (
        "0008_delta_reach.sql",
        include_str!("../../migrations/0008_delta_reach.sql"),
    ),
    (
        "0009_held.sql",
        include_str!("../../migrations/0009_held.sql"),
    ),
    (
        "0010_names.sql",
        include_str!("../../migrations/0010_names.sql"),
    ),
    (
        "0011_search.sql",
        include_str!("../../migrations/0011_search.sql"),
    ),
    (
        "0012_current_state.sql",
        include_str!("../../migrations/0012_current_state.sql"),
    ),
    (
        "0013_named_remotes.sql",
        include_str!("../../migrations/0013_named_remotes.sql"),
    ),
    (
        "0014_scoped_streams.sql",
        include_str!("../../migrations/0014_scoped_streams.sql"),
    ),
    (
        "0015_authors.sql",
        include_str!("../../migrations/0015_authors.sql"),
    ),
];

/// The schema version this binary writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the database to [`LATEST`].
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    migrate_to(conn, path, LATEST)
}

/// Refuses a database written by a newer binary, having only read its version: what this
/// binary would change in it (its journal mode first) is left alone.
pub fn refuse_newer(conn: &Connection, path: &Path) -> Result<()> {
    let found = user_version(conn)?;
    if found > LATEST {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: LATEST,
        });
    }
    Ok(())
}

/// Brings the database to `target` (≤ [`LATEST`]). Only the fixture generator stops short of
/// the latest version, to make databases as an older binary left them.
pub fn migrate_to(conn: &mut Connection, path: &Path, target: i64) -> Result<()> {
    let too_new = |found| StoreError::TooNew {
        path: path.to_path_buf(),
        found,
        supported: LATEST,
    };
    let found = user_version(conn)?;
    if found > LATEST {
        return Err(too_new(found));
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().take(target as usize) {
        let version = index as i64 + 1;
        if version <= found {
            continue;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the write lock.
        let now = user_version(&tx)?;
        if now > LATEST {
            return Err(too_new(now));
        }
        if now >= version {
            continue;
        }
        let failed = |source| StoreError::Migration {
            path: path.to_path_buf(),
            version,
            name,
            source,
        };
        tx.execute_batch(sql).map_err(failed)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(path = %path.display(), version, name, "migrated database");
    }
    Ok(())
}
