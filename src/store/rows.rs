//! The rows every other part of the store reads and writes: a document version as a reader
//! sees it, the columns and order it is read in, the names it may have, a row's body, which
//! rows it settled, and the host a peer writes from. Nothing here imports another module of
//! the store; they all import this.

use rusqlite::types::Type;
use rusqlite::{OptionalExtension, Row, params};

use super::{Result, StoreError};
use crate::clock::Hlc;
use crate::ids::{PeerId, VersionId};
use crate::record::{Author, Checksum, Kind, Record};

/// The state of a key, derived from its current row and the reader's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Live,
    Deleted,
    Expired,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Live => "live",
            State::Deleted => "deleted",
            State::Expired => "expired",
        }
    }
}

/// One version or tombstone, without its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Position in this database's change log (local; differs between peers).
    pub seq: i64,
    pub id: VersionId,
    pub project: String,
    pub key: String,
    pub kind: Kind,
    /// Body size in bytes; `None` for a tombstone.
    pub size: Option<u64>,
    pub sha256: Option<[u8; 32]>,
    pub hlc: Hlc,
    /// The peer that wrote it.
    pub peer: PeerId,
    /// The row that was current for this key when it was written.
    pub parent: Option<VersionId>,
    /// Absolute expiry, milliseconds since the epoch.
    pub expires_at_ms: Option<i64>,
    /// Who wrote it, if recorded.
    pub author: Option<Author>,
}

impl Version {
    /// The state of its key if this row is the current one, at `now_ms`.
    pub fn state_at(&self, now_ms: i64) -> State {
        match (self.kind, self.expires_at_ms) {
            (Kind::Tombstone, _) => State::Deleted,
            (Kind::Version, Some(at)) if at <= now_ms => State::Expired,
            (Kind::Version, _) => State::Live,
        }
    }
}

pub(super) const COLUMNS: &str = "seq, version_id, project, key, kind, length(body), body_sha256, hlc, \
                       peer_id, parent_id, expires_at, author, session";
/// Last-writer-wins order, newest first. Every peer sorts the same rows the same way.
pub(super) const NEWEST_FIRST: &str = "hlc DESC, peer_id DESC, version_id DESC";

pub(super) fn conversion(idx: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Blob, format!("invalid {what}").into())
}

pub(super) fn read_version(r: &Row<'_>) -> rusqlite::Result<Version> {
    let id: Vec<u8> = r.get(1)?;
    let kind = match r.get::<_, i64>(4)? {
        0 => Kind::Version,
        1 => Kind::Tombstone,
        _ => return Err(conversion(4, "kind")),
    };
    let sha256 = match r.get::<_, Option<Vec<u8>>>(6)? {
        None => None,
        Some(bytes) => {
            Some(<[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| conversion(6, "sha256"))?)
        }
    };
    let peer: Vec<u8> = r.get(8)?;
    let parent = match r.get::<_, Option<Vec<u8>>>(9)? {
        None => None,
        Some(bytes) => {
            Some(VersionId::from_slice(&bytes).ok_or_else(|| conversion(9, "parent id"))?)
        }
    };
    Ok(Version {
        seq: r.get(0)?,
        id: VersionId::from_slice(&id).ok_or_else(|| conversion(1, "version id"))?,
        project: r.get(2)?,
        key: r.get(3)?,
        kind,
        size: r.get::<_, Option<i64>>(5)?.map(|n| n as u64),
        sha256,
        hlc: Hlc::from_i64(r.get(7)?).ok_or_else(|| conversion(7, "timestamp"))?,
        peer: PeerId::from_slice(&peer).ok_or_else(|| conversion(8, "peer id"))?,
        parent,
        expires_at_ms: r.get(10)?,
        author: author_of(r, 11)?,
    })
}

/// The author in columns `at` (label) and `at + 1` (session), if recorded.
pub(super) fn author_of(r: &Row<'_>, at: usize) -> rusqlite::Result<Option<Author>> {
    let name: Option<String> = r.get(at)?;
    Ok(name.map(|name| Author {
        name,
        session: r.get(at + 1).unwrap_or(None),
    }))
}

pub(super) fn check_name(what: &'static str, value: &str, max_bytes: usize) -> Result<()> {
    let reason = if value.is_empty() {
        Some("it is empty")
    } else if value.len() > max_bytes {
        Some("it is too long")
    } else if value.chars().any(char::is_control) {
        Some("it contains a control character")
    } else if value.trim() != value {
        Some("it begins or ends with white space")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoreError::InvalidName {
            what,
            value: value.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

pub(super) fn check_names(project: &str, key: &str) -> Result<()> {
    check_name("project name", project, 256)?;
    check_name("key", key, 4096)
}

/// Records the row at change-log position `seq` as the current row of `key`.
pub(super) fn set_current(
    conn: &rusqlite::Connection,
    project: &str,
    key: &str,
    seq: i64,
) -> Result<()> {
    // With the row's kind and expiry, what `ls` reads (the row was just written or read:
    // its page is in the cache).
    conn.prepare_cached(
        "INSERT INTO current_versions (project, key, seq, kind, expires_at)
         SELECT ?1, ?2, seq, kind, expires_at FROM document_versions WHERE seq = ?3
         ON CONFLICT (project, key) DO UPDATE
             SET seq = excluded.seq, kind = excluded.kind, expires_at = excluded.expires_at",
    )?
    .execute(params![project, key, seq])?;
    Ok(())
}

/// Records that version `id` settled the rows `settled`.
pub(super) fn insert_settles(
    conn: &rusqlite::Connection,
    id: VersionId,
    settled: &[VersionId],
) -> Result<()> {
    let mut stmt = conn
        .prepare_cached("INSERT OR IGNORE INTO settles (version_id, settled_id) VALUES (?1, ?2)")?;
    for s in settled {
        stmt.execute(params![id.as_bytes(), s.as_bytes()])?;
    }
    Ok(())
}

/// The body of the row at change-log position `seq` (`None` for a tombstone). A negative `seq`
/// is a held version (see `held`), whose body is kept beside the change log.
pub(super) fn stored_body(conn: &rusqlite::Connection, seq: i64) -> Result<Option<Vec<u8>>> {
    let sql = if seq < 0 {
        "SELECT body FROM held_versions WHERE held_id = -?1"
    } else {
        "SELECT body FROM document_versions WHERE seq = ?1"
    };
    Ok(conn.prepare_cached(sql)?.query_row([seq], |r| r.get(0))?)
}

/// The body of the row at change-log position `seq` (empty for a tombstone).
pub(crate) fn body_on(conn: &rusqlite::Connection, seq: i64) -> Result<Vec<u8>> {
    Ok(stored_body(conn, seq)?.unwrap_or_default())
}

pub(super) fn checksum_col(bytes: Option<Vec<u8>>) -> Option<Checksum> {
    bytes.and_then(|b| Checksum::from_slice(&b))
}

pub(super) fn bad(idx: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        rusqlite::types::Type::Blob,
        format!("invalid {what}").into(),
    )
}

/// Reads the replicated columns starting at `at`: version_id, project, key, kind, body, hlc,
/// peer_id, parent_id, expires_at.
pub(super) fn read_entry(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Record> {
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
        author: author_of(r, at + 9)?,
    })
}

/// Gives each record the rows it settled (most databases have none: one query says so).
pub(super) fn fill_settles<'r>(
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

/// The newest position in the change log.
pub(super) fn max_seq(conn: &rusqlite::Connection) -> Result<i64> {
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

/// Records `host` as the machine `peer` writes from: in place of what was known with
/// `replace` (a manifest, the peer's latest word), else only when nothing was (a changeset or a
/// snapshot, which may be older than the peer's last rename).
pub(super) fn note_host(
    conn: &rusqlite::Connection,
    peer: PeerId,
    host: &str,
    replace: bool,
) -> Result<()> {
    // A name from a remote is untrusted input: one that could not be shown is not kept.
    if check_name("machine name", host, 256).is_err() {
        return Ok(());
    }
    let sql = if replace {
        "INSERT INTO peer_hosts (peer_id, host) VALUES (?1, ?2)
         ON CONFLICT (peer_id) DO UPDATE SET host = excluded.host
         WHERE host IS NOT excluded.host"
    } else {
        "INSERT OR IGNORE INTO peer_hosts (peer_id, host) VALUES (?1, ?2)"
    };
    conn.prepare_cached(sql)?
        .execute(params![peer.as_bytes(), host])?;
    Ok(())
}

/// Every peer's machine name known here, by peer.
pub(super) fn hosts(conn: &rusqlite::Connection) -> Result<Vec<(PeerId, String)>> {
    let mut stmt = conn.prepare_cached("SELECT peer_id, host FROM peer_hosts ORDER BY peer_id")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (peer, host) = row?;
        if let Some(peer) = PeerId::from_slice(&peer) {
            out.push((peer, host));
        }
    }
    Ok(out)
}

/// The machine `peer` writes from, as its manifest (or else the first changeset or snapshot
/// read from it) said.
pub(super) fn host_of(conn: &rusqlite::Connection, peer: PeerId) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT host FROM peer_hosts WHERE peer_id = ?1",
            [peer.as_bytes()],
            |r| r.get(0),
        )
        .optional()?)
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

pub(super) fn read_ref(r: &rusqlite::Row<'_>) -> rusqlite::Result<RowRef> {
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
