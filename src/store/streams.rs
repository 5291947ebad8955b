//! What the store keeps of each remote for sync: the remote's id, this peer's published
//! streams there (what rebuilds each changeset), how far other streams are applied, the files
//! a pull waits for, and the pages of rows a push exports.
//!
//! The rules (what to export, how to classify an incoming version) live in `sync`; this module
//! is only the SQL they need.

use rusqlite::{OptionalExtension, params};

use super::rows::{bad, checksum_col, fill_settles, max_seq, read_entry};
use super::{Result, Store, StoreError};
use crate::ids::{PeerId, VersionId};
use crate::record::{Checksum, Record};

/// This peer's stream in one remote, in one generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub generation: u64,
    /// The last changeset published (0 before the first).
    pub last_seq: u64,
    pub last_checksum: Option<Checksum>,
    /// The local change-log position covered.
    pub high_water: i64,
}

/// How far a stream has been applied here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub last_seq: u64,
    pub last_checksum: Checksum,
}

/// A row is in scope: parameter `?4` is NULL (every project) or a JSON array holding its
/// project.
const IN_SCOPE: &str = "(?4 IS NULL OR project IN (SELECT value FROM json_each(?4)))";

/// A list of projects as [`IN_SCOPE`] takes it.
fn scope(projects: Option<&[String]>) -> Option<String> {
    projects.map(|p| serde_json::to_string(p).unwrap_or_else(|_| "[]".into()))
}

impl Store {
    /// The files of a remote this home is waiting for (missing when it last pulled), with when
    /// it first met each, oldest first.
    pub fn in_transit(&self, remote_id: i64) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT file, first_seen_at FROM transit WHERE remote_id = ?1 ORDER BY first_seen_at, file",
        )?;
        let rows = stmt.query_map([remote_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The id of `location` among the remotes this home knows, added if new.
    pub fn remote_id(&self, location: &str) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO remotes (location) VALUES (?1) ON CONFLICT (location) DO NOTHING",
            [location],
        )?;
        Ok(self.conn.query_row(
            "SELECT remote_id FROM remotes WHERE location = ?1",
            [location],
            |r| r.get(0),
        )?)
    }

    /// The id of `location` if this home knows it (without adding it: for read-only commands).
    pub fn known_remote_id(&self, location: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT remote_id FROM remotes WHERE location = ?1",
                [location],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// This peer's stream in `remote_id` for `generation`, if it has one.
    pub fn pushed(&self, remote_id: i64, generation: u64) -> Result<Option<Pushed>> {
        Ok(self
            .conn
            .query_row(
                "SELECT generation, last_seq, last_checksum, high_water FROM pushed
                 WHERE remote_id = ?1 AND generation = ?2",
                params![remote_id, generation as i64],
                read_pushed,
            )
            .optional()?)
    }

    /// This peer's latest stream in `remote_id`, whatever its generation.
    pub fn latest_pushed(&self, remote_id: i64) -> Result<Option<Pushed>> {
        Ok(self
            .conn
            .query_row(
                "SELECT generation, last_seq, last_checksum, high_water FROM pushed
                 WHERE remote_id = ?1 ORDER BY generation DESC LIMIT 1",
                [remote_id],
                read_pushed,
            )
            .optional()?)
    }

    pub fn all_pushed(&self, remote_id: i64) -> Result<Vec<Pushed>> {
        let mut stmt = self.conn.prepare(
            "SELECT generation, last_seq, last_checksum, high_water FROM pushed
             WHERE remote_id = ?1 ORDER BY generation",
        )?;
        let rows = stmt.query_map([remote_id], read_pushed)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Records that changeset `p.last_seq` of the stream (`remote_id`, `p.generation`) was
    /// published, with what rebuilds it, and that the stream now stands at `p`: one
    /// transaction.
    pub fn remember_published(&self, remote_id: i64, p: &Pushed, how: &Rebuild) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO published
                 (remote_id, generation, seq, after_seq, last_seq, excluded_remote, created_at,
                  host, checksum, delta_min, delta_reach, projects, late)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                remote_id,
                p.generation as i64,
                p.last_seq as i64,
                how.after_seq,
                how.last_seq,
                how.excluded_remote,
                how.created_at_ms,
                how.host,
                how.checksum.0.to_vec(),
                how.delta_min.map(|m| m as i64),
                how.delta_reach as i64,
                scope(how.projects.as_deref()),
                how.late
            ],
        )?;
        set_pushed(&tx, remote_id, p)?;
        tx.commit()?;
        Ok(())
    }

    /// What rebuilds each changeset this peer published to `remote_id`, by generation and
    /// sequence.
    pub fn published(&self, remote_id: i64) -> Result<Vec<(u64, u64, Rebuild)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT generation, seq, after_seq, last_seq, excluded_remote, created_at, host,
                    checksum, delta_min, delta_reach, projects, late
             FROM published WHERE remote_id = ?1 ORDER BY generation, seq",
        )?;
        let rows = stmt.query_map([remote_id], |r| {
            let checksum: Vec<u8> = r.get(7)?;
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, i64>(1)? as u64,
                Rebuild {
                    after_seq: r.get(2)?,
                    last_seq: r.get(3)?,
                    excluded_remote: r.get(4)?,
                    created_at_ms: r.get(5)?,
                    host: r.get(6)?,
                    checksum: Checksum::from_slice(&checksum).ok_or_else(|| bad(7, "checksum"))?,
                    delta_min: r.get::<_, Option<i64>>(8)?.map(|m| m as usize),
                    // Before schema 8, the parent only.
                    delta_reach: r.get::<_, Option<i64>>(9)?.map_or(1, |n| n.max(1) as usize),
                    projects: r
                        .get::<_, Option<String>>(10)?
                        .map(|p| serde_json::from_str(&p).map_err(|_| bad(10, "project list")))
                        .transpose()?,
                    late: r.get(11)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Records that the stream (`remote_id`, `p.generation`) now stands at `p`.
    pub fn set_pushed(&self, remote_id: i64, p: &Pushed) -> Result<()> {
        set_pushed(&self.conn, remote_id, p)
    }

    /// The newest position in the change log.
    pub fn max_seq(&self) -> Result<i64> {
        max_seq(&self.conn)
    }

    /// How far this peer's push to `remote_id` covers the change log, in `generation` (or, before
    /// its first changeset there, its latest generation's; 0 before any).
    pub fn high_water(&self, remote_id: i64, generation: u64) -> Result<i64> {
        high_water(&self.conn, remote_id, generation)
    }

    /// Rows with `after < seq <= upto`, oldest first, at most `limit`, leaving out those pulled
    /// from `exclude_remote` and those of projects not in `projects` (`None`: all); each with
    /// its change-log position.
    pub fn export_page(
        &self,
        after: i64,
        upto: i64,
        exclude_remote: Option<i64>,
        projects: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<(i64, Record)>> {
        self.page(
            &format!(
                "seq > ?1 AND seq <= ?2 AND (?3 IS NULL OR received_from IS NOT ?3) AND {IN_SCOPE} \
                 ORDER BY seq LIMIT ?5"
            ),
            params![after, upto, exclude_remote, scope(projects), limit as i64],
        )
    }

    /// The rows a snapshot holds, from `after` on, oldest first, at most `limit`: every row
    /// but this peer's own writes above `published` (its high-water mark in the remote), i.e.
    /// not the local changes it has not pushed there yet.
    /// Only rows of `projects` (`None`: all).
    pub fn snapshot_page(
        &self,
        after: i64,
        published: i64,
        projects: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<(i64, Record)>> {
        self.page(
            &format!(
                "seq > ?1 AND (seq <= ?2 OR received_from IS NOT NULL) AND {} ORDER BY seq \
                 LIMIT ?3",
                IN_SCOPE
            ),
            params![after, published, limit as i64, scope(projects)],
        )
    }

    /// The rows `filter` (a WHERE clause and its ordering) selects, as changeset entries with
    /// their change-log positions.
    fn page(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<(i64, Record)>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT seq, version_id, project, key, kind, body, hlc, peer_id, parent_id, \
             expires_at, author, session FROM document_versions WHERE {filter}"
        ))?;
        let rows = stmt.query_map(args, |r| {
            let seq: i64 = r.get(0)?;
            Ok((seq, read_entry(r, 1)?))
        })?;
        let mut rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        fill_settles(&self.conn, rows.iter_mut().map(|(_, e)| e))?;
        Ok(rows)
    }

    /// How many rows [`Store::snapshot_page`] would give in all.
    pub fn count_snapshot_rows(&self, published: i64, projects: Option<&[String]>) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            &format!(
                "SELECT count(*) FROM document_versions \
                 WHERE (seq <= ?1 OR received_from IS NOT NULL) AND {IN_SCOPE}"
            ),
            params![
                published,
                rusqlite::types::Null,
                rusqlite::types::Null,
                scope(projects)
            ],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// How many rows a push to `remote_id` from `after` would send (of `projects`; `None`:
    /// all).
    pub fn count_unpushed(
        &self,
        after: i64,
        remote_id: i64,
        projects: Option<&[String]>,
    ) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            &format!(
                "SELECT count(*) FROM document_versions \
                 WHERE seq > ?1 AND received_from IS NOT ?2 AND {IN_SCOPE}"
            ),
            params![after, remote_id, rusqlite::types::Null, scope(projects)],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// The change-log position of version `id`, if this database has it.
    pub fn seq_of(&self, id: VersionId) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq FROM document_versions WHERE version_id = ?1",
                [id.as_bytes()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Starts generation `generation` of this peer, on `host`.
    pub fn start_generation(&mut self, generation: u64, host: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE peer SET generation = ?1, host = ?2 WHERE id = 1",
            params![generation as i64, host],
        )?;
        self.peer.generation = generation as i64;
        self.peer.host = host.to_string();
        Ok(())
    }

    /// How far every stream of `remote_id` has been applied here.
    pub fn applied(&self, remote_id: i64) -> Result<Vec<((PeerId, u64), Applied)>> {
        let mut stmt = self.conn.prepare(
            "SELECT peer_id, generation, last_seq, last_checksum FROM applied
             WHERE remote_id = ?1 ORDER BY peer_id, generation",
        )?;
        let rows = stmt.query_map([remote_id], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (peer, generation, last_seq, sum) = row?;
            let corrupt = StoreError::Corrupt {
                what: "applied position",
                seq: last_seq,
            };
            let peer = PeerId::from_slice(&peer).ok_or(corrupt)?;
            let last_checksum = Checksum::from_slice(&sum).ok_or(StoreError::Corrupt {
                what: "applied checksum",
                seq: last_seq,
            })?;
            out.push((
                (peer, generation as u64),
                Applied {
                    last_seq: last_seq as u64,
                    last_checksum,
                },
            ));
        }
        Ok(out)
    }
}

fn read_pushed(r: &rusqlite::Row<'_>) -> rusqlite::Result<Pushed> {
    Ok(Pushed {
        generation: r.get::<_, i64>(0)? as u64,
        last_seq: r.get::<_, i64>(1)? as u64,
        last_checksum: checksum_col(r.get(2)?),
        high_water: r.get(3)?,
    })
}

/// See [`Store::set_pushed`].
pub(super) fn set_pushed(conn: &rusqlite::Connection, remote_id: i64, p: &Pushed) -> Result<()> {
    conn.execute(
        "INSERT INTO pushed (remote_id, generation, last_seq, last_checksum, high_water)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (remote_id, generation) DO UPDATE SET
             last_seq = excluded.last_seq, last_checksum = excluded.last_checksum,
             high_water = excluded.high_water",
        params![
            remote_id,
            p.generation as i64,
            p.last_seq as i64,
            p.last_checksum.map(|c| c.0.to_vec()),
            p.high_water
        ],
    )?;
    Ok(())
}

/// See [`Store::high_water`].
pub(super) fn high_water(
    conn: &rusqlite::Connection,
    remote_id: i64,
    generation: u64,
) -> Result<i64> {
    let exact: Option<i64> = conn
        .query_row(
            "SELECT high_water FROM pushed WHERE remote_id = ?1 AND generation = ?2",
            params![remote_id, generation as i64],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match exact {
        Some(h) => h,
        None => conn
            .query_row(
                "SELECT high_water FROM pushed WHERE remote_id = ?1
                 ORDER BY generation DESC LIMIT 1",
                [remote_id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0),
    })
}

/// A row's change-log position, the remote it was pulled from, and its parent.
pub type RowOrigin = (i64, Option<i64>, Option<VersionId>, String);

/// What rebuilds a published changeset byte for byte: its rows are those at change-log
/// positions in `(after_seq, last_seq]` but the ones pulled from `excluded_remote`; its header
/// was written at `created_at_ms` on `host`; it must come out with `checksum`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuild {
    pub after_seq: i64,
    pub last_seq: i64,
    pub excluded_remote: Option<i64>,
    pub created_at_ms: i64,
    pub host: String,
    pub checksum: Checksum,
    /// The smallest body tried as a delta (`None`: no deltas).
    pub delta_min: Option<usize>,
    /// How far up a version's ancestry a base was looked for (1: the parent only).
    pub delta_reach: usize,
    /// The projects its rows were taken from (`None`: all).
    pub projects: Option<Vec<String>>,
    /// Whether it published a project's history late (rows below the stream's mark, when the
    /// project was added to the remote's list).
    pub late: bool,
}

impl Store {
    /// A version's change-log position, the remote it was pulled from and its parent, by id
    /// (not its body: [`Store::body_at`]).
    pub fn row_origin(&self, id: VersionId) -> Result<Option<RowOrigin>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT seq, received_from, parent_id, project FROM document_versions
                 WHERE version_id = ?1",
            )?
            .query_row([id.as_bytes()], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get::<_, Option<Vec<u8>>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()?;
        Ok(match row {
            None => None,
            Some((seq, from, parent, project)) => {
                let parent = match parent {
                    Some(p) => Some(VersionId::from_slice(&p).ok_or(StoreError::Corrupt {
                        what: "parent id",
                        seq,
                    })?),
                    None => None,
                };
                Some((seq, from, parent, project))
            }
        })
    }

    /// The body of the row at change-log position `seq` (`None`: a tombstone).
    pub fn body_at(&self, seq: i64) -> Result<Option<Vec<u8>>> {
        super::rows::stored_body(&self.conn, seq)
    }
}
