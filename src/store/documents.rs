//! Documents: every write of a key is a new immutable row, a version (with a body) or a
//! tombstone (a delete).
//!
//! The rows of a key ordered by last-writer-wins (hybrid timestamp, then peer id, then version
//! id) are its history, newest first; the first of them is its current state: live, deleted
//! (a tombstone), or expired (a version whose absolute expiry has passed on this reader's clock).
//! Because the state is derived from the rows on every read, it cannot drift from the history,
//! and every peer that holds the same rows sees the same state.

use std::time::Duration;

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use super::rows::{
    COLUMNS, NEWEST_FIRST, State, Version, body_on, check_names, insert_settles, read_version,
    set_current,
};
use super::{Result, Store, StoreError};
use crate::clock::{Hlc, rfc3339};
use crate::ids::{PeerId, VersionId};
use crate::record::Kind;

/// A key in a listing: its current row and the state that gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub state: State,
    pub current: Version,
}

/// A version with its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub version: Version,
    pub body: Vec<u8>,
}

/// Who writes a row, and when: the peer, its source of ids, and the instant.
#[derive(Clone, Copy)]
pub(crate) struct Writer<'a> {
    pub ids: &'a dyn crate::ids::IdSource,
    pub peer: PeerId,
    pub now_ms: i64,
    /// A timestamp the new row must order after besides the key's current row (a held
    /// version it settles).
    pub after: Option<Hlc>,
    /// For the first row of a key: the row of another key it continues (`mv`), its parent.
    pub renamed_from: Option<VersionId>,
    /// Who writes it, if recorded.
    pub author: Option<&'a crate::record::Author>,
}

/// Writes a new row of `key` on `conn` (inside the caller's write transaction), as `peer` at
/// `now_ms`: its parent is the current row, and it settles every other head of the key (its
/// writer holds them), so the key has no conflict after it.
pub(crate) fn write_on(
    conn: &rusqlite::Connection,
    Writer {
        ids,
        peer,
        now_ms,
        after,
        renamed_from,
        author,
    }: Writer<'_>,
    project: &str,
    key: &str,
    body: Option<&[u8]>,
    ttl: Option<Duration>,
) -> Result<Version> {
    if let Some(b) = body
        && b.len() > super::MAX_BODY_BYTES
    {
        return Err(StoreError::TooLarge {
            key: key.to_string(),
            size: b.len() as u64,
            limit: super::MAX_BODY_BYTES as u64,
        });
    }
    let current = current_on(conn, project, key)?;
    let hlc = Hlc::next(now_ms, current.as_ref().map(|c| c.hlc).max(after));
    let id = VersionId::generate(ids, hlc.wall_ms());
    let kind = if body.is_some() {
        Kind::Version
    } else {
        Kind::Tombstone
    };
    let sha256: Option<[u8; 32]> = body.map(|b| Sha256::digest(b).into());
    let expires_at_ms = ttl.map(|t| {
        hlc.wall_ms()
            .saturating_add(i64::try_from(t.as_millis()).unwrap_or(i64::MAX))
    });
    let parent = current.map(|c| c.id).or(renamed_from);
    conn.execute(
        "INSERT INTO document_versions
             (version_id, project, key, kind, body, body_sha256, hlc, peer_id, parent_id, expires_at,
              author, session)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            id.as_bytes(),
            project,
            key,
            kind.to_sql(),
            body,
            sha256.as_ref().map(|s| s.as_slice()),
            hlc.to_i64(),
            peer.as_bytes(),
            parent.as_ref().map(|p| p.as_bytes().as_slice()),
            expires_at_ms,
            author.map(|a| a.name.as_str()),
            author.and_then(|a| a.session.as_deref()),
        ],
    )?;
    let seq = conn.last_insert_rowid();
    set_current(conn, project, key, seq)?;
    let candidate: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM conflict_candidates WHERE project = ?1 AND key = ?2)",
        )?
        .query_row(params![project, key], |r| r.get(0))?;
    if candidate {
        if let Some(graph) = super::conflicts::KeyGraph::load(conn, project, key)? {
            insert_settles(conn, id, &graph.other_heads())?;
        }
        conn.prepare_cached("DELETE FROM conflict_candidates WHERE project = ?1 AND key = ?2")?
            .execute(params![project, key])?;
    }
    Ok(Version {
        seq,
        id,
        project: project.to_string(),
        key: key.to_string(),
        kind,
        size: body.map(|b| b.len() as u64),
        sha256,
        hlc,
        peer,
        parent,
        expires_at_ms,
        author: author.cloned(),
    })
}

/// The current row of a key, on any connection or transaction.
fn current_on(conn: &rusqlite::Connection, project: &str, key: &str) -> Result<Option<Version>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM document_versions WHERE project = ?1 AND key = ?2 \
         ORDER BY {NEWEST_FIRST} LIMIT 1"
    );
    Ok(conn
        .query_row(&sql, params![project, key], read_version)
        .optional()?)
}

/// Fails unless `current` is a live version: the reason a key cannot be read (or deleted).
fn require_live(project: &str, key: &str, current: Option<&Version>, now_ms: i64) -> Result<()> {
    let (project, key) = (project.to_string(), key.to_string());
    match current {
        None => Err(StoreError::NotFound { project, key }),
        Some(v) => match v.state_at(now_ms) {
            State::Live => Ok(()),
            State::Deleted => Err(StoreError::Deleted {
                project,
                key,
                at: v.hlc.to_string(),
            }),
            State::Expired => Err(StoreError::Expired {
                project,
                key,
                at: rfc3339(v.expires_at_ms.unwrap_or_default()),
            }),
        },
    }
}

impl Store {
    /// Writes a new version of `key` and returns it. With `ttl`, the version expires at its
    /// timestamp plus `ttl`, on every peer at the same instant.
    pub fn put(
        &mut self,
        project: &str,
        key: &str,
        body: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Version> {
        self.write(project, key, Some(body), ttl, false, |_| Ok(()))
    }

    /// Deletes `key` by writing a tombstone; its history stays. Fails unless the key is live.
    pub fn rm(&mut self, project: &str, key: &str) -> Result<Version> {
        let now = self.now_ms();
        self.write(project, key, None, None, false, |current| {
            require_live(project, key, current, now)
        })
    }

    /// Writes the body of an earlier version `version` (an id or a unique prefix of one) as the
    /// new current version of `key`, whatever its state: undoes an overwrite or a delete.
    pub fn restore(&mut self, project: &str, key: &str, version: &str) -> Result<Version> {
        let old = self.get_version(project, key, version)?;
        self.write(project, key, Some(&old.body), None, false, |_| Ok(()))
    }

    /// Renames `old` to `new` in one transaction: `new`'s first version has `old`'s body (and
    /// expiry) and `old`'s current version as its parent, so `old`'s history stays reachable
    /// from it; `old` gets a tombstone. Both rows travel in one push. Fails unless `old` is
    /// live and `new` has no row at all (a history is never mixed with another).
    pub fn mv(&mut self, project: &str, old: &str, new: &str) -> Result<(Version, Version)> {
        check_names(project, old)?;
        check_names(project, new)?;
        let now = self.now_ms();
        let (ids, peer) = (self.rt.ids.clone(), self.peer.id);
        let author = self.rt.author.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let from = current_on(&tx, project, old)?;
        require_live(project, old, from.as_ref(), now)?;
        let Some(from) = from else {
            return Err(StoreError::NotFound {
                project: project.to_string(),
                key: old.to_string(),
            });
        };
        if let Some(there) = current_on(&tx, project, new)? {
            return Err(StoreError::Taken {
                project: project.to_string(),
                key: new.to_string(),
                state: there.state_at(now).as_str(),
            });
        }
        let body = body_on(&tx, from.seq)?;
        let ttl = from
            .expires_at_ms
            .map(|at| Duration::from_millis(u64::try_from(at - now).unwrap_or(0)));
        let writer = Writer {
            ids: ids.as_ref(),
            peer,
            now_ms: now,
            after: None,
            renamed_from: Some(from.id),
            author: author.as_ref(),
        };
        let moved = write_on(&tx, writer, project, new, Some(&body), ttl)?;
        let writer = Writer {
            renamed_from: None,
            ..writer
        };
        let gone = write_on(&tx, writer, project, old, None, None)?;
        tx.commit()?;
        tracing::debug!(%project, %old, %new, version = %moved.id, "renamed");
        Ok((moved, gone))
    }

    /// Where `key`'s history continues another key's (it was renamed from it with `mv`): the
    /// row of the other key its first row descends from.
    pub fn renamed_from(&self, project: &str, key: &str) -> Result<Option<Version>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM document_versions WHERE version_id = (
                 SELECT d.parent_id FROM document_versions d
                 WHERE d.project = ?1 AND d.key = ?2 AND d.parent_id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM document_versions p
                                   WHERE p.version_id = d.parent_id
                                     AND p.project = d.project AND p.key = d.key)
                 ORDER BY d.hlc LIMIT 1)"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![project, key], read_version)
            .optional()?)
    }

    /// Writes `body` (`None`: a tombstone) as the new current version of `key`, whatever its
    /// state: what `resolve` writes. Like every write, it settles the key's conflicts; unlike
    /// the others, it settles the key's held versions too (what a refused pull would have
    /// brought, see `held`), and orders after them.
    pub fn write_resolution(
        &mut self,
        project: &str,
        key: &str,
        body: Option<&[u8]>,
    ) -> Result<Version> {
        self.write(project, key, body, None, true, |_| Ok(()))
    }

    fn write(
        &mut self,
        project: &str,
        key: &str,
        body: Option<&[u8]>,
        ttl: Option<Duration>,
        settle_held: bool,
        precondition: impl FnOnce(Option<&Version>) -> Result<()>,
    ) -> Result<Version> {
        check_names(project, key)?;
        let now = self.now_ms();
        let peer = self.peer.id;
        let ids = self.rt.ids.clone();
        let author = self.rt.author.clone();
        // IMMEDIATE: take the write lock before reading the parent, so no other writer can slip
        // a version in between (and a waiting writer queues on the busy timeout).
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = current_on(&tx, project, key)?;
        precondition(current.as_ref())?;
        let held = if settle_held {
            super::held::take_key(&tx, project, key)?
        } else {
            Vec::new()
        };
        let written = write_on(
            &tx,
            Writer {
                ids: ids.as_ref(),
                peer,
                now_ms: now,
                after: held.iter().map(|(_, hlc)| *hlc).max(),
                renamed_from: None,
                author: author.as_ref(),
            },
            project,
            key,
            body,
            ttl,
        )?;
        let settled: Vec<VersionId> = held.iter().map(|(id, _)| *id).collect();
        insert_settles(&tx, written.id, &settled)?;
        tx.commit()?;
        tracing::debug!(%project, %key, version = %written.id, kind = written.kind.as_str(), "wrote");
        Ok(written)
    }

    /// The current row of `key` (live, deleted or expired), if it has any.
    pub fn current(&self, project: &str, key: &str) -> Result<Option<Version>> {
        current_on(&self.conn, project, key)
    }

    /// The live body of `key`; fails with why when it is missing, deleted or expired.
    pub fn get(&self, project: &str, key: &str) -> Result<Document> {
        check_names(project, key)?;
        let current = self.current(project, key)?;
        require_live(project, key, current.as_ref(), self.now_ms())?;
        match current {
            Some(version) => self.with_body(version),
            None => Err(StoreError::NotFound {
                project: project.to_string(),
                key: key.to_string(),
            }),
        }
    }

    /// The body of one version of `key`, by id or unique id prefix, whatever the key's state.
    pub fn get_version(&self, project: &str, key: &str, version: &str) -> Result<Document> {
        let found = self.find_version(project, key, version)?;
        if found.kind == Kind::Tombstone {
            return Err(StoreError::Tombstone {
                key: key.to_string(),
                id: found.id,
            });
        }
        self.with_body(found)
    }

    /// A row of `key` by id, unique prefix of its id, or short form (its end, as `history`
    /// shows it); hyphens and case do not matter.
    pub fn find_version(&self, project: &str, key: &str, version: &str) -> Result<Version> {
        let mut matches = self.history(project, key).map_err(|e| match e {
            StoreError::NotFound { project, key } => StoreError::NoSuchVersion {
                project,
                key,
                id: version.to_string(),
                known: Vec::new(),
            },
            e => e,
        })?;
        // The short form `history` shows, and what a person types from it: its beginning too.
        let ids: Vec<_> = matches.iter().map(|v| v.id).collect();
        let len = crate::ids::short_len(&ids);
        let shown: Vec<String> = ids.iter().map(|id| id.short(len)).collect();
        let wanted = version.to_ascii_lowercase().replace('-', "");
        let all = std::mem::take(&mut matches);
        matches = all
            .iter()
            .filter(|v| v.id.matches(version))
            .cloned()
            .collect();
        if matches.is_empty() && !wanted.is_empty() {
            matches = all
                .iter()
                .filter(|v| v.id.short(len).starts_with(&wanted))
                .cloned()
                .collect();
        }
        match matches.len() {
            1 => Ok(matches.remove(0)),
            0 => Err(StoreError::NoSuchVersion {
                project: project.to_string(),
                key: key.to_string(),
                id: version.to_string(),
                known: shown.into_iter().take(8).collect(),
            }),
            count => Err(StoreError::AmbiguousVersion {
                key: key.to_string(),
                id: version.to_string(),
                count,
            }),
        }
    }

    fn with_body(&self, version: Version) -> Result<Document> {
        let body = body_on(&self.conn, version.seq)?;
        Ok(Document { version, body })
    }

    /// The body of `version` (empty for a tombstone).
    pub fn body_of(&self, version: &Version) -> Result<Vec<u8>> {
        body_on(&self.conn, version.seq)
    }

    /// The connection, for the library's own queries (a merge reads bodies through it).
    pub(crate) fn connection(&self) -> &rusqlite::Connection {
        &self.conn
    }

    /// Keys of `project` that begin with `prefix`, in key order: the live ones, and with
    /// `include_deleted` the deleted and expired ones too.
    pub fn ls(&self, project: &str, prefix: &str, include_deleted: bool) -> Result<Vec<Listed>> {
        // The current row of each key, from the table every write keeps: a range of its
        // primary key (the keys that begin with `prefix`), whatever the length of history.
        let sql = "SELECT d.seq, d.version_id, d.project, d.key, d.kind, length(d.body),
                          d.body_sha256, d.hlc, d.peer_id, d.parent_id, d.expires_at, d.author,
                          d.session
                   FROM current_versions c JOIN document_versions d ON d.seq = c.seq
                   WHERE c.project = ?1 AND c.key >= ?2 AND substr(c.key, 1, length(?2)) = ?2
                   ORDER BY c.key";
        let now = self.now_ms();
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![project, prefix], read_version)?;
        let mut out = Vec::new();
        for row in rows {
            let current = row?;
            let state = current.state_at(now);
            if include_deleted || state == State::Live {
                out.push(Listed { state, current });
            }
        }
        Ok(out)
    }

    /// What `ls` shows without `--json`: each key of `project` that begins with `prefix` and
    /// its state, from the table of current rows alone (no row of history is read), by key.
    pub fn ls_keys(
        &self,
        project: &str,
        prefix: &str,
        include_deleted: bool,
    ) -> Result<Vec<(String, State)>> {
        let sql = "SELECT key, kind, expires_at FROM current_versions
                   WHERE project = ?1 AND key >= ?2 AND substr(key, 1, length(?2)) = ?2
                   ORDER BY key";
        let now = self.now_ms();
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![project, prefix], |r| {
            let state = match (r.get::<_, i64>(1)?, r.get::<_, Option<i64>>(2)?) {
                (1, _) => State::Deleted,
                (_, Some(at)) if at <= now => State::Expired,
                _ => State::Live,
            };
            Ok((r.get::<_, String>(0)?, state))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key, state) = row?;
            if include_deleted || state == State::Live {
                out.push((key, state));
            }
        }
        Ok(out)
    }

    /// Every version and tombstone of `key`, newest first. A key with no rows is not found.
    pub fn history(&self, project: &str, key: &str) -> Result<Vec<Version>> {
        check_names(project, key)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM document_versions WHERE project = ?1 AND key = ?2 \
             ORDER BY {NEWEST_FIRST}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(params![project, key], read_version)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if rows.is_empty() {
            return Err(StoreError::NotFound {
                project: project.to_string(),
                key: key.to_string(),
            });
        }
        Ok(rows)
    }

    /// How many keys have at least one row (counted from history itself, not from the table
    /// of current rows: what tests check that table against).
    pub fn count_keys(&self) -> Result<usize> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM (SELECT DISTINCT project, key FROM document_versions)",
            [],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// Every version and tombstone written by `author` (any, when `None`) in `session` (any,
    /// when `None`) at or after `since_ms` (any time, when `None`), oldest first, in every
    /// project or in `project`.
    pub fn written_by(
        &self,
        author: Option<&str>,
        session: Option<&str>,
        since_ms: Option<i64>,
        project: Option<&str>,
    ) -> Result<Vec<Version>> {
        let since = since_ms.map(|ms| Hlc::from_parts(ms, 0).to_i64());
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM document_versions
             WHERE (?1 IS NULL OR author = ?1) AND (?2 IS NULL OR session = ?2)
               AND (?3 IS NULL OR hlc >= ?3) AND (?4 IS NULL OR project = ?4)
               AND (?1 IS NOT NULL OR ?2 IS NOT NULL)
             ORDER BY hlc, peer_id, version_id"
        ))?;
        let rows = stmt.query_map(params![author, session, since, project], read_version)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The projects that have at least one row, in name order.
    pub fn projects(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT project FROM current_versions ORDER BY project")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
