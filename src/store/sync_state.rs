//! What the store keeps for sync: remotes, this peer's published streams, how far other
//! streams are applied, the rows a push exports and a pull imports, and the log of runs.
//!
//! The rules (what to export, how to classify an incoming version) live in `sync`; this module
//! is only the SQL they need.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::{Result, Store, StoreError};
use crate::clock::Hlc;
use crate::ids::{PeerId, VersionId};
use crate::record::{Checksum, Kind, Record};

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

/// One logged run of push or pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: String,
    pub remote: Option<String>,
    pub scenario_id: String,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    pub exit_status: i64,
    pub outcome: String,
    pub summary: String,
}

/// The log keeps every run of the last 90 days (so last week's prune is still there, however
/// often cron ticks), and at least the newest 500 whatever their age; never more than 100,000.
const RUNS_KEPT_MS: i64 = 90 * 86_400_000;
const RUNS_KEPT_AT_LEAST: i64 = 500;
const RUNS_KEPT_AT_MOST: i64 = 100_000;

fn checksum_col(bytes: Option<Vec<u8>>) -> Option<Checksum> {
    bytes.and_then(|b| Checksum::from_slice(&b))
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
    pub fn record_published(&self, remote_id: i64, p: &Pushed, how: &Rebuild) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO published
                 (remote_id, generation, seq, after_seq, last_seq, excluded_remote, created_at,
                  host, checksum, delta_min, delta_reach)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
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
                how.delta_reach as i64
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
                    checksum, delta_min, delta_reach
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
    /// from `exclude_remote`; each with its change-log position.
    pub fn export_page(
        &self,
        after: i64,
        upto: i64,
        exclude_remote: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, Record)>> {
        self.page(
            "seq > ?1 AND seq <= ?2 AND (?3 IS NULL OR received_from IS NOT ?3) \
             ORDER BY seq LIMIT ?4",
            params![after, upto, exclude_remote, limit as i64],
        )
    }

    /// The rows a snapshot holds, from `after` on, oldest first, at most `limit`: every row
    /// but this peer's own writes above `published` (its high-water mark in the remote), i.e.
    /// not the local changes it has not pushed there yet.
    pub fn snapshot_page(
        &self,
        after: i64,
        published: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Record)>> {
        self.page(
            "seq > ?1 AND (seq <= ?2 OR received_from IS NOT NULL) ORDER BY seq LIMIT ?3",
            params![after, published, limit as i64],
        )
    }

    /// The rows `filter` (a WHERE clause and its ordering) selects, as changeset entries with
    /// their change-log positions.
    fn page(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<(i64, Record)>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT seq, version_id, project, key, kind, body, hlc, peer_id, parent_id, \
             expires_at FROM document_versions WHERE {filter}"
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
    pub fn count_snapshot_rows(&self, published: i64) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM document_versions WHERE seq <= ?1 OR received_from IS NOT NULL",
            [published],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// How many rows a push to `remote_id` from `after` would send.
    pub fn count_unpushed(&self, after: i64, remote_id: i64) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM document_versions WHERE seq > ?1 AND received_from IS NOT ?2",
            params![after, remote_id],
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

    /// Opens the one transaction a pull applies everything in.
    pub fn begin_import(&mut self) -> Result<Import<'_>> {
        let me = self.peer.id;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok(Import { tx, me })
    }

    /// Logs a run, keeping the newest few hundred.
    pub fn record_run(&self, run: &Run) -> Result<()> {
        let remote_id = match &run.remote {
            Some(location) => Some(self.remote_id(location)?),
            None => None,
        };
        self.conn.execute(
            "INSERT INTO sync_runs (remote_id, command, scenario_id, started_at, finished_at,
                                    exit_status, outcome, summary)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                remote_id,
                run.command,
                run.scenario_id,
                run.started_at_ms,
                run.finished_at_ms,
                run.exit_status,
                run.outcome,
                run.summary
            ],
        )?;
        self.conn.execute(
            "DELETE FROM sync_runs
             WHERE (run_id <= (SELECT max(run_id) FROM sync_runs) - ?1 AND finished_at < ?2)
                OR run_id <= (SELECT max(run_id) FROM sync_runs) - ?3",
            params![
                RUNS_KEPT_AT_LEAST,
                run.finished_at_ms - RUNS_KEPT_MS,
                RUNS_KEPT_AT_MOST
            ],
        )?;
        Ok(())
    }

    /// The newest runs, newest first; of one command when `command` is given.
    pub fn runs(&self, command: Option<&str>, limit: usize) -> Result<Vec<Run>> {
        self.runs_since(command, None, limit)
    }

    /// The newest runs first: of `command` only, when given; finished at or after `since_ms`,
    /// when given; at most `limit`.
    pub fn runs_since(
        &self,
        command: Option<&str>,
        since_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Run>> {
        let mut stmt = self.conn.prepare(
            "SELECT command, r.location, scenario_id, started_at, finished_at, exit_status,
                    outcome, summary
             FROM sync_runs LEFT JOIN remotes r USING (remote_id)
             WHERE (?1 IS NULL OR command = ?1) AND (?3 IS NULL OR finished_at >= ?3)
             ORDER BY run_id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![command, limit as i64, since_ms], |r| {
            Ok(Run {
                command: r.get(0)?,
                remote: r.get(1)?,
                scenario_id: r.get(2)?,
                started_at_ms: r.get(3)?,
                finished_at_ms: r.get(4)?,
                exit_status: r.get(5)?,
                outcome: r.get(6)?,
                summary: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
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

fn bad(idx: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        rusqlite::types::Type::Blob,
        format!("invalid {what}").into(),
    )
}

/// Reads the replicated columns starting at `at`: version_id, project, key, kind, body, hlc,
/// peer_id, parent_id, expires_at.
fn read_entry(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Record> {
    let id: Vec<u8> = r.get(at)?;
    let kind = Kind::try_from(r.get::<_, i64>(at + 3)? as u8).map_err(|_| bad(at + 3, "kind"))?;
    let peer: Vec<u8> = r.get(at + 6)?;
    let parent: Option<Vec<u8>> = r.get(at + 7)?;
    Ok(Record {
        id: VersionId::from_slice(&id).ok_or_else(|| bad(at, "version id"))?,
        project: r.get(at + 1)?,
        key: r.get(at + 2)?,
        kind,
        body: r.get(at + 4)?,
        hlc: Hlc::from_i64(r.get(at + 5)?).ok_or_else(|| bad(at + 5, "timestamp"))?,
        peer: PeerId::from_slice(&peer).ok_or_else(|| bad(at + 6, "peer id"))?,
        parent: match parent {
            Some(p) => Some(VersionId::from_slice(&p).ok_or_else(|| bad(at + 7, "parent id"))?),
            None => None,
        },
        expires_at_ms: r.get(at + 8)?,
        settles: Vec::new(),
        delta: None,
    })
}

/// Gives each record the rows it settled (most databases have none: one query says so).
fn fill_settles<'r>(
    conn: &rusqlite::Connection,
    records: impl Iterator<Item = &'r mut Record>,
) -> Result<()> {
    let any: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM settles)", [], |r| r.get(0))?;
    if !any {
        return Ok(());
    }
    for e in records {
        e.settles = settled_by(conn, e.id)?;
    }
    Ok(())
}

/// See [`Store::set_pushed`].
fn set_pushed(conn: &rusqlite::Connection, remote_id: i64, p: &Pushed) -> Result<()> {
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

/// The newest position in the change log.
fn max_seq(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT coalesce(max(seq), 0) FROM document_versions",
        [],
        |r| r.get(0),
    )?)
}

/// Whether the database holds no version or tombstone at all.
pub(super) fn is_empty(conn: &rusqlite::Connection) -> Result<bool> {
    Ok(
        !conn.query_row("SELECT EXISTS (SELECT 1 FROM document_versions)", [], |r| {
            r.get::<_, bool>(0)
        })?,
    )
}

/// See [`Store::high_water`].
fn high_water(conn: &rusqlite::Connection, remote_id: i64, generation: u64) -> Result<i64> {
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

/// The rows version `id` settled (the losing sides its writer held), on any connection.
pub(super) fn settled_by(conn: &rusqlite::Connection, id: VersionId) -> Result<Vec<VersionId>> {
    let ids = conn
        .prepare_cached("SELECT settled_id FROM settles WHERE version_id = ?1")?
        .query_map([id.as_bytes()], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    ids.iter()
        .map(|b| {
            VersionId::from_slice(b).ok_or(StoreError::Corrupt {
                what: "settled version id",
                seq: 0,
            })
        })
        .collect()
}

/// The host `peer` last wrote a changeset on, as the changesets read from it said.
pub(super) fn host_of(conn: &rusqlite::Connection, peer: PeerId) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT host FROM peer_hosts WHERE peer_id = ?1",
            [peer.as_bytes()],
            |r| r.get(0),
        )
        .optional()?)
}

/// A row's change-log position, the remote it was pulled from, and its parent.
pub type RowOrigin = (i64, Option<i64>, Option<VersionId>);

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
}

impl Store {
    /// A version's change-log position, the remote it was pulled from and its parent, by id
    /// (not its body: [`Store::body_at`]).
    pub fn row_origin(&self, id: VersionId) -> Result<Option<RowOrigin>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT seq, received_from, parent_id FROM document_versions
                 WHERE version_id = ?1",
            )?
            .query_row([id.as_bytes()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<Vec<u8>>>(2)?))
            })
            .optional()?;
        Ok(match row {
            None => None,
            Some((seq, from, parent)) => {
                let parent = match parent {
                    Some(p) => Some(VersionId::from_slice(&p).ok_or(StoreError::Corrupt {
                        what: "parent id",
                        seq,
                    })?),
                    None => None,
                };
                Some((seq, from, parent))
            }
        })
    }

    /// The body of the row at change-log position `seq` (`None`: a tombstone).
    pub fn body_at(&self, seq: i64) -> Result<Option<Vec<u8>>> {
        super::documents::stored_body(&self.conn, seq)
    }
}

/// A row as the import compares it: identity, order and parent (its content, when a
/// comparison needs it: [`Import::same_content`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRef {
    pub id: VersionId,
    pub hlc: Hlc,
    pub peer: PeerId,
    pub parent: Option<VersionId>,
}

impl RowRef {
    /// Last-writer-wins order: timestamp, then peer id, then version id.
    pub fn lww(&self) -> (Hlc, PeerId, VersionId) {
        (self.hlc, self.peer, self.id)
    }
}

/// After a bootstrap, a placeholder goes in after every this many history index entries (a
/// leaf of 4 KiB holds about 40 of a ~90-byte key) ...
const ROOM_EVERY: u32 = 40;
/// ... with an entry this wide (under the ~1,000 bytes an index cell keeps on its page): what
/// it frees when it is deleted.
const ROOM_BYTES: u32 = 700;

/// The open transaction of a pull: the queries and inserts it is made of.
pub struct Import<'a> {
    tx: Transaction<'a>,
    me: PeerId,
}

impl Import<'_> {
    /// This peer's id (whose rows are "local changes").
    pub fn me(&self) -> PeerId {
        self.me
    }

    /// Whether the database holds no row at all (a new peer's first pull).
    pub fn is_empty(&self) -> Result<bool> {
        is_empty(&self.tx)
    }

    pub fn row(&self, id: VersionId) -> Result<Option<RowRef>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT version_id, hlc, peer_id, parent_id
             FROM document_versions WHERE version_id = ?1",
        )?;
        Ok(stmt.query_row([id.as_bytes()], read_ref).optional()?)
    }

    /// The current (last-writer-wins) row of a key, as of everything imported so far: the
    /// key's last entry in the history index, which holds every column asked (the row itself
    /// is not read).
    pub fn current(&self, project: &str, key: &str) -> Result<Option<RowRef>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT version_id, hlc, peer_id, parent_id
             FROM document_versions WHERE project = ?1 AND key = ?2
             ORDER BY hlc DESC, peer_id DESC, version_id DESC LIMIT 1",
        )?;
        Ok(stmt.query_row(params![project, key], read_ref).optional()?)
    }

    /// Whether two rows hold the same content (the body's digest, and the expiry): two rows
    /// with the same content never conflict.
    pub fn same_content(&self, a: VersionId, b: VersionId) -> Result<bool> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT body_sha256, expires_at FROM document_versions WHERE version_id = ?1",
        )?;
        type Content = (Option<Vec<u8>>, Option<i64>);
        let mut content = |id: VersionId| -> Result<Option<Content>> {
            Ok(stmt
                .query_row([id.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        };
        let a = content(a)?;
        Ok(a.is_some() && a == content(b)?)
    }

    /// Inserts `e`, whose body hashes to `digest`, unless a row with its id is already here;
    /// returns whether it was new.
    /// With `track_current`, the key's current row moves to `e` when `e` wins last-writer-wins
    /// (a new peer's first pull builds them all at the end instead: [`Import::finish_bootstrap`]).
    pub fn insert(
        &self,
        e: &Record,
        digest: Option<&[u8; 32]>,
        remote_id: i64,
        track_current: bool,
    ) -> Result<bool> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO document_versions
                 (version_id, project, key, kind, body, body_sha256, hlc, peer_id, parent_id,
                  expires_at, received_from)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (version_id) DO NOTHING",
        )?;
        let inserted = stmt.execute(params![
            e.id.as_bytes(),
            e.project,
            e.key,
            i64::from(u8::from(e.kind)),
            e.body,
            digest.map(|d| d.as_slice()),
            e.hlc.to_i64(),
            e.peer.as_bytes(),
            e.parent.map(|p| p.as_bytes().to_vec()),
            e.expires_at_ms,
            remote_id,
        ])?;
        if inserted == 1 && track_current {
            let seq = self.tx.last_insert_rowid();
            // Whether `e` is now the key's current row: its history index entry (just
            // written, so in the cache) is the key's last; the current row itself is not read.
            if self
                .current(&e.project, &e.key)?
                .is_some_and(|c| c.id == e.id)
            {
                self.tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO current_versions (project, key, seq)
                         VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![e.project, e.key, seq])?;
            }
        }
        if inserted == 1 && !e.settles.is_empty() {
            super::documents::insert_settles(&self.tx, e.id, &e.settles)?;
        }
        Ok(inserted == 1)
    }

    /// The rows `id` settled.
    pub fn settled_by(&self, id: VersionId) -> Result<Vec<VersionId>> {
        settled_by(&self.tx, id)
    }

    /// The body of version `id` (`Some(None)`: a tombstone), if this database has it.
    pub fn body_by_id(&self, id: VersionId) -> Result<Option<Option<Vec<u8>>>> {
        Ok(self
            .tx
            .prepare_cached("SELECT body FROM document_versions WHERE version_id = ?1")?
            .query_row([id.as_bytes()], |r| r.get(0))
            .optional()?)
    }

    /// The host `peer` last wrote a changeset on, as read so far.
    pub fn host_of(&self, peer: PeerId) -> Result<Option<String>> {
        host_of(&self.tx, peer)
    }

    /// After a new peer's first pull (which tracked no key as it went): one pass over the
    /// history index, in key order, remembering only the key at hand, records each key's
    /// current row (its last in last-writer-wins order) and finds the keys whose rows do not
    /// form one line, whose conflicts are then checked.
    pub fn finish_bootstrap(&self) -> Result<()> {
        let mut forked: Vec<(String, String)> = Vec::new();
        {
            let mut stmt = self.tx.prepare(
                "SELECT project, key, version_id, parent_id, seq FROM document_versions
                 INDEXED BY document_versions_by_key
                 ORDER BY project, key, hlc, peer_id, version_id",
            )?;
            let mut rows = stmt.query([])?;
            // The key at hand, its last row so far, and whether it forked.
            let mut at: Option<(String, String, i64, bool)> = None;
            let mut previous: Option<Vec<u8>> = None;
            let mut done = |k: Option<(String, String, i64, bool)>| -> Result<()> {
                if let Some((project, key, seq, fork)) = k {
                    super::documents::set_current(&self.tx, &project, &key, seq)?;
                    if fork {
                        forked.push((project, key));
                    }
                }
                Ok(())
            };
            while let Some(r) = rows.next()? {
                let (project, key): (String, String) = (r.get(0)?, r.get(1)?);
                let id: Vec<u8> = r.get(2)?;
                let parent: Option<Vec<u8>> = r.get(3)?;
                let seq: i64 = r.get(4)?;
                let same = at
                    .as_ref()
                    .is_some_and(|(p, k, _, _)| *p == project && *k == key);
                if !same {
                    done(at.take())?;
                    at = Some((project, key, seq, false));
                    previous = None;
                }
                if let Some(a) = at.as_mut() {
                    // In last-writer-wins order, each row of a line has the one before as
                    // parent.
                    a.3 |= parent != previous;
                    a.2 = seq;
                }
                previous = Some(id);
            }
            done(at.take())?;
        }
        for (project, key) in forked {
            super::conflicts::refresh(&self.tx, &project, &key)?;
        }
        Ok(())
    }

    /// Drops the history index for a bulk load into an empty database (see
    /// [`Import::create_history_index`], which must follow in the same transaction).
    pub fn drop_history_index(&self) -> Result<()> {
        self.tx
            .execute_batch("DROP INDEX IF EXISTS document_versions_by_key")?;
        Ok(())
    }

    /// Builds the history index again, as the schema defines it, with room in its leaves.
    pub fn create_history_index(&self) -> Result<()> {
        // The sort that builds it takes as much memory as the page cache, on top of the
        // cache: a smaller cache for it keeps a bootstrap's peak like any other pull's.
        self.tx.execute_batch("PRAGMA cache_size = -2048")?;
        let built = self
            .tx
            .execute_batch(super::HISTORY_INDEX)
            .map_err(StoreError::from)
            .and_then(|()| self.leave_room_in_history_index());
        self.tx
            .execute_batch(&format!("PRAGMA cache_size = {}", super::CACHE_SIZE))?;
        built
    }

    /// An index built by a sort has every leaf full, where one grown by use keeps about a
    /// third free: the next version of nearly any key would split its leaf (and SQLite
    /// rebalances it with two neighbours), so that each of a new peer's next pulls would write
    /// two to three times the pages of later ones, for as many pulls as it takes to touch
    /// every leaf (hundreds at millions of versions). This leaves room as use would: after
    /// every [`ROOM_EVERY`]th entry in index order (about one per leaf) a placeholder row whose
    /// entry is [`ROOM_BYTES`] wide goes in, splitting the leaf it lands in, and then every
    /// placeholder is deleted, which leaves the room it took. Within the bootstrap's
    /// transaction: nothing else ever sees them, and the change log goes on where the pulled
    /// rows end. The table pages they took are free pages the next writes reuse.
    fn leave_room_in_history_index(&self) -> Result<()> {
        let before = max_seq(&self.tx)?;
        // Placeholder ids begin with 0xff (a version 7 id would have to be from the year
        // 10889); `OR IGNORE`, so that even a foreign row with such an id only means one
        // placeholder fewer.
        self.tx.execute_batch(&format!(
            "INSERT OR IGNORE INTO document_versions
                 (version_id, project, key, kind, hlc, peer_id, parent_id)
             SELECT unhex(printf('ff%030x', rank)), project, key, 1, hlc, peer_id,
                    zeroblob({ROOM_BYTES})
             FROM (SELECT project, key, hlc, peer_id, row_number() OVER (
                       ORDER BY project, key, hlc, peer_id, version_id, parent_id) AS rank
                   FROM document_versions)
             WHERE rank % {ROOM_EVERY} = 0"
        ))?;
        self.tx
            .execute("DELETE FROM document_versions WHERE seq > ?1", [before])?;
        Ok(())
    }

    /// The newest position in the change log, as of this transaction.
    pub fn max_seq(&self) -> Result<i64> {
        max_seq(&self.tx)
    }

    /// After rows at positions `(from, to]` were imported from `remote_id`: if this peer's
    /// push to that remote had covered everything up to `from`, it now covers up to `to` (a
    /// push never sends a row back where it came from), so that a home that only pulls never
    /// has to look through its whole history to find what it has not pushed.
    pub fn advance_high_water(
        &self,
        remote_id: i64,
        generation: u64,
        from: i64,
        to: i64,
    ) -> Result<()> {
        if high_water(&self.tx, remote_id, generation)? != from || to <= from {
            return Ok(());
        }
        self.tx.execute(
            "INSERT INTO pushed (remote_id, generation, last_seq, last_checksum, high_water)
             VALUES (?1, ?2, 0, NULL, ?3)
             ON CONFLICT (remote_id, generation) DO UPDATE SET high_water = excluded.high_water",
            params![remote_id, generation as i64, to],
        )?;
        Ok(())
    }

    /// Remembers the host `peer` wrote a changeset on.
    pub fn note_host(&self, peer: PeerId, host: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO peer_hosts (peer_id, host) VALUES (?1, ?2)
                 ON CONFLICT (peer_id) DO UPDATE SET host = excluded.host
                 WHERE host IS NOT excluded.host",
            )?
            .execute(params![peer.as_bytes(), host])?;
        Ok(())
    }

    /// The open transaction, for the store's own queries over the rows imported so far.
    pub(crate) fn conn(&self) -> &rusqlite::Connection {
        &self.tx
    }

    pub fn set_applied(
        &self,
        remote_id: i64,
        peer: PeerId,
        generation: u64,
        applied: Applied,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO applied (remote_id, peer_id, generation, last_seq, last_checksum)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (remote_id, peer_id, generation) DO UPDATE SET
                 last_seq = excluded.last_seq, last_checksum = excluded.last_checksum",
            params![
                remote_id,
                peer.as_bytes(),
                generation as i64,
                applied.last_seq as i64,
                applied.last_checksum.0.to_vec()
            ],
        )?;
        Ok(())
    }

    /// Records that `file` is missing from the remote (unless already recorded) and returns
    /// when this home first met it.
    pub fn met_missing(&self, remote_id: i64, file: &str, now_ms: i64) -> Result<i64> {
        self.tx.execute(
            "INSERT INTO transit (remote_id, file, first_seen_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (remote_id, file) DO NOTHING",
            params![remote_id, file, now_ms],
        )?;
        Ok(self.tx.query_row(
            "SELECT first_seen_at FROM transit WHERE remote_id = ?1 AND file = ?2",
            params![remote_id, file],
            |r| r.get(0),
        )?)
    }

    /// Forgets the missing files of the remote that this pull did not meet again (they arrived,
    /// or the gap moved on).
    pub fn forget_missing_except(&self, remote_id: i64, met: &[String]) -> Result<()> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT file FROM transit WHERE remote_id = ?1")?;
        let known: Vec<String> = stmt
            .query_map([remote_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for file in known.iter().filter(|f| !met.contains(f)) {
            self.tx.execute(
                "DELETE FROM transit WHERE remote_id = ?1 AND file = ?2",
                params![remote_id, file],
            )?;
        }
        Ok(())
    }

    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }

    pub fn rollback(self) -> Result<()> {
        Ok(self.tx.rollback()?)
    }
}

fn read_ref(r: &rusqlite::Row<'_>) -> rusqlite::Result<RowRef> {
    let id: Vec<u8> = r.get(0)?;
    let peer: Vec<u8> = r.get(2)?;
    let parent: Option<Vec<u8>> = r.get(3)?;
    Ok(RowRef {
        id: VersionId::from_slice(&id).ok_or_else(|| bad(0, "version id"))?,
        hlc: Hlc::from_i64(r.get(1)?).ok_or_else(|| bad(1, "timestamp"))?,
        peer: PeerId::from_slice(&peer).ok_or_else(|| bad(2, "peer id"))?,
        parent: match parent {
            Some(p) => Some(VersionId::from_slice(&p).ok_or_else(|| bad(3, "parent id"))?),
            None => None,
        },
    })
}
