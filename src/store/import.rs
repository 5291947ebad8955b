//! The one transaction a pull applies everything in: the queries and inserts it is made of,
//! the positions it records, and the bootstrap of a new peer (the history index built once,
//! with room left in its leaves).

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::rows::{
    RowRef, host_of, insert_settles, is_empty, max_seq, read_ref, set_current, settled_by,
};
use super::streams::Applied;
use super::streams::high_water;
use super::{Result, Store, StoreError};
use crate::ids::{PeerId, VersionId};
use crate::record::Record;

impl Store {
    /// Opens the one transaction a pull applies everything in.
    pub fn begin_import(&mut self) -> Result<Import<'_>> {
        let me = self.peer.id;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok(Import { tx, me })
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
                  expires_at, received_from, author, session)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
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
            e.author.as_ref().map(|a| a.name.as_str()),
            e.author.as_ref().and_then(|a| a.session.as_deref()),
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
                        "INSERT OR REPLACE INTO current_versions
                             (project, key, seq, kind, expires_at)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![
                        e.project,
                        e.key,
                        seq,
                        e.kind.to_sql(),
                        e.expires_at_ms
                    ])?;
            }
        }
        if inserted == 1 && !e.settles.is_empty() {
            insert_settles(&self.tx, e.id, &e.settles)?;
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
                    set_current(&self.tx, &project, &key, seq)?;
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
        super::rows::note_host(&self.tx, peer, host, false)
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

    /// Forgets the held versions (what earlier refused pulls kept) this pull applied.
    pub fn forget_applied_held(&self) -> Result<()> {
        super::held::forget_applied(&self.tx)?;
        Ok(())
    }

    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }

    pub fn rollback(self) -> Result<()> {
        Ok(self.tx.rollback()?)
    }
}
