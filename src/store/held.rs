//! Held versions: the incoming side of each key a refused pull would have overwritten
//! (`migrations/0009_held.sql`).
//!
//! A pull that would replace an unseen local change is rolled back whole, so the version that
//! would have won is not in `document_versions`. It is kept here, body and all, so that a
//! person can see it (`conflicts`, `diff KEY mine theirs`) and settle it (`resolve`) before
//! pulling again: a resolution settles a held version by id, orders after it, and removes it
//! from here; when the next pull brings the version it is already settled. A pull that applies a
//! held version (a forced one, or one after the resolution) removes it too.
//!
//! A held row reads as a [`Version`] whose `seq` is the negation of its `held_id`: it is no row
//! of the change log, and [`super::rows::stored_body`] reads its body from here.

use rusqlite::{Connection, params};

use super::rows::{Version, read_version};
use super::{Result, Store};
use crate::clock::Hlc;
use crate::ids::VersionId;

/// What a refused pull keeps of one key: the version that would have won, with its body.
#[derive(Debug, Clone)]
pub struct Held {
    pub theirs: Version,
    /// `None` for a tombstone.
    pub body: Option<Vec<u8>>,
    /// The newest row both sides descend from (a local row), if any.
    pub ancestor: Option<VersionId>,
    /// The machine its peer writes from, as the refused pull's changeset said.
    pub host: Option<String>,
}

const HELD_COLUMNS: &str = "-held_id, version_id, project, key, kind, length(body), body_sha256, \
                            hlc, peer_id, parent_id, expires_at, author, session";

/// Keeps `held` (replacing what was held of the same keys), at `now_ms`.
pub(crate) fn hold(conn: &Connection, held: &[Held], now_ms: i64) -> Result<()> {
    let mut forget =
        conn.prepare_cached("DELETE FROM held_versions WHERE project = ?1 AND key = ?2")?;
    for h in held {
        forget.execute(params![h.theirs.project, h.theirs.key])?;
    }
    let mut insert = conn.prepare_cached(
        "INSERT OR REPLACE INTO held_versions
             (version_id, project, key, kind, body, body_sha256, hlc, peer_id, parent_id,
              expires_at, ancestor_id, held_at, author, session)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    for h in held {
        let v = &h.theirs;
        // Its machine's name, so that it shows in place of the peer id (the pull that would
        // have noted it was rolled back); a name known already stays.
        if let Some(name) = &h.host {
            super::rows::note_host(conn, v.peer, name, false)?;
        }
        insert.execute(params![
            v.id.as_bytes(),
            v.project,
            v.key,
            v.kind.to_sql(),
            h.body,
            v.sha256.as_ref().map(|s| s.as_slice()),
            v.hlc.to_i64(),
            v.peer.as_bytes(),
            v.parent.as_ref().map(|p| p.as_bytes().as_slice()),
            v.expires_at_ms,
            h.ancestor.as_ref().map(|a| a.as_bytes().as_slice()),
            now_ms,
            v.author.as_ref().map(|a| a.name.as_str()),
            v.author.as_ref().and_then(|a| a.session.as_deref()),
        ])?;
    }
    Ok(())
}

/// Forgets every held version the database now has as a row (a pull applied it).
pub(crate) fn forget_applied(conn: &Connection) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM held_versions WHERE version_id IN
                 (SELECT h.version_id FROM held_versions h
                  JOIN document_versions d ON d.version_id = h.version_id)",
        )?
        .execute([])?)
}

/// The keys with a held version, in order.
pub(super) fn keys(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn
        .prepare_cached("SELECT DISTINCT project, key FROM held_versions ORDER BY project, key")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The held versions of a key, newest first, each with the ancestor it was held with.
pub(super) fn of_key(
    conn: &Connection,
    project: &str,
    key: &str,
) -> Result<Vec<(Version, Option<VersionId>)>> {
    let sql = format!(
        "SELECT {HELD_COLUMNS}, ancestor_id FROM held_versions WHERE project = ?1 AND key = ?2 \
         ORDER BY hlc DESC, peer_id DESC, version_id DESC"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![project, key], |r| {
        let ancestor: Option<Vec<u8>> = r.get(13)?;
        Ok((
            read_version(r)?,
            ancestor.and_then(|a| VersionId::from_slice(&a)),
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Removes the held versions of a key (a resolution settles them): their ids and timestamps.
pub(super) fn take_key(
    conn: &Connection,
    project: &str,
    key: &str,
) -> Result<Vec<(VersionId, Hlc)>> {
    let taken: Vec<(VersionId, Hlc)> = of_key(conn, project, key)?
        .into_iter()
        .map(|(v, _)| (v.id, v.hlc))
        .collect();
    if !taken.is_empty() {
        conn.prepare_cached("DELETE FROM held_versions WHERE project = ?1 AND key = ?2")?
            .execute(params![project, key])?;
    }
    Ok(taken)
}

impl Store {
    /// Keeps what a refused pull would have brought of each key in `held` (replacing what was
    /// held of those keys before).
    pub fn hold(&mut self, held: &[Held]) -> Result<()> {
        if held.is_empty() {
            return Ok(());
        }
        let now = self.now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        hold(&tx, held, now)?;
        tx.commit()?;
        Ok(())
    }
}
