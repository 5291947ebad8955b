//! The SQLite store: one database file per home, in WAL mode.
//!
//! [`Store::open`] creates the home and the database on first use, brings the schema up to date
//! ([`migrations`]), refuses a database written by a newer binary, and creates this home's peer
//! identity ([`peer`]). The documents themselves ([`documents`]) are rows of
//! `document_versions`, never updated in place: a write adds a version or a tombstone, and the
//! current state of a key is derived from its rows on every read.
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction, so writers queue on SQLite's busy
//! timeout instead of failing with "database is locked" when several processes write at once.
//!
//! # The order of the modules
//!
//! Each module uses only the ones above it (`use super::X` of this list, and this file's
//! `Store`, `Result`, `StoreError`); a test holds it:
//!
//! 1. [`migrations`]: the schema, step by step.
//! 2. `peer`: this home's identity.
//! 3. `rows`: a row as every other module reads and writes it (columns, names, bodies, which
//!    rows a row settled, a peer's host).
//! 4. `held`: the incoming side of each key a refused pull would have overwritten.
//! 5. `conflicts`: the heads of a key, and which keys have an unsettled conflict.
//! 6. `documents`: writing and reading documents (a write settles the key's other heads).
//! 7. `search`: full-text search over the bodies (FTS5, kept in step by triggers).
//! 8. `streams`: what sync keeps of each remote (published streams, applied positions, pages
//!    to export).
//! 9. `import`: the one transaction a pull applies everything in.
//! 10. `runs`: the log of sync runs.
//! 11. `named_remotes`: a home's named remotes and their projects.

mod conflicts;
mod documents;
mod held;
mod import;
pub mod migrations;
mod named_remotes;
mod peer;
mod rows;
mod runs;
mod search;
mod streams;

/// The modules in the order of the list above: each may use only those before it.
#[cfg(test)]
const MODULE_ORDER: [(&str, &str); 11] = [
    ("migrations", include_str!("migrations.rs")),
    ("peer", include_str!("peer.rs")),
    ("rows", include_str!("rows.rs")),
    ("held", include_str!("held.rs")),
    ("conflicts", include_str!("conflicts.rs")),
    ("documents", include_str!("documents.rs")),
    ("search", include_str!("search.rs")),
    ("streams", include_str!("streams.rs")),
    ("import", include_str!("import.rs")),
    ("runs", include_str!("runs.rs")),
    ("named_remotes", include_str!("named_remotes.rs")),
];

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use crate::ids::VersionId;
use crate::runtime::Runtime;

pub use conflicts::Conflict;
pub(crate) use conflicts::{KeyGraph, refresh as refresh_conflicts};
pub use documents::{Document, Listed};
pub(crate) use documents::{Writer, write_on};
pub use held::Held;
pub use import::Import;
pub use named_remotes::NamedRemote;
pub use peer::PeerIdentity;
pub(crate) use rows::body_on;
pub use rows::{RowRef, State, Version};
pub use runs::Run;
pub use search::{fts_query, matching_line, query_words};
pub use streams::{Applied, Pushed, Rebuild};

/// The largest document body a write accepts (defined with the row, where the wire format
/// reads it too).
pub use crate::record::MAX_BODY_BYTES;

/// The history index as schema 5 defines it (`migrations/0005_conflicts.sql`): a pull into an
/// empty database builds it after loading the rows.
pub(crate) const HISTORY_INDEX: &str = "CREATE INDEX IF NOT EXISTS document_versions_by_key
    ON document_versions (project, key, hlc, peer_id, version_id, parent_id)";

/// The page cache: `PRAGMA cache_size` (negative: KiB), 24 MiB (see `configure`).
pub(crate) const CACHE_SIZE: i64 = -24576;

/// How long a writer waits for another process's write transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the home folder {path}: {source}")]
    CreateHome {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the database {path} has schema version {found}, but this context binary knows versions up \
         to {supported}: it was written by a newer context; upgrade this one to use it"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("cannot bring the database {path} to schema version {version} ({name}): {source}")]
    Migration {
        path: PathBuf,
        version: i64,
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database holds an invalid {what} in row {seq}")]
    Corrupt { what: &'static str, seq: i64 },
    #[error("no document {key:?} in project {project:?}")]
    NotFound { project: String, key: String },
    #[error(
        "{key:?} in project {project:?} already has a history ({state}); a rename needs a key \
         that never had a version, so that two histories never mix: choose another name"
    )]
    Taken {
        project: String,
        key: String,
        state: &'static str,
    },
    #[error(
        "{key:?} in project {project:?} was deleted at {at}; `context history {key}` lists its \
         versions and `context restore {key} VERSION` brings one back"
    )]
    Deleted {
        project: String,
        key: String,
        at: String,
    },
    #[error(
        "{key:?} in project {project:?} expired at {at}; `context history {key}` lists its \
         versions and `context restore {key} VERSION` brings one back"
    )]
    Expired {
        project: String,
        key: String,
        at: String,
    },
    #[error(
        "{key:?} in project {project:?} has no version {id:?}{}",
        if known.is_empty() {
            format!(" (`context history {key}` lists them)")
        } else {
            format!("; its versions, newest first: {} (`context history {key}`)", known.join(", "))
        }
    )]
    NoSuchVersion {
        project: String,
        key: String,
        id: String,
        /// The short forms of the key's versions, as `history` shows them (a few).
        known: Vec<String>,
    },
    #[error(
        "version {id:?} of {key:?} is ambiguous: it begins {count} version ids; give more of it"
    )]
    AmbiguousVersion {
        key: String,
        id: String,
        count: usize,
    },
    #[error("version {id} of {key:?} is a tombstone (a delete): it has no body")]
    Tombstone { key: String, id: VersionId },
    #[error(
        "the body of {key:?} is larger than a document can be ({limit} bytes, 64 MiB), so \
         that every peer can read every changeset: nothing was written"
    )]
    TooLarge { key: String, size: u64, limit: u64 },
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open store: the database connection, this home's peer, and the runtime inputs.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    peer: PeerIdentity,
    rt: Runtime,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings it up to date.
    ///
    /// A new home is made readable by its owner only (the folder 0700, the database 0600, as
    /// ssh and gpg keep theirs): the documents are nobody else's business on a shared machine.
    /// A database written by a newer binary is refused before anything is changed in it (not
    /// even its journal mode).
    pub fn open(path: &Path, rt: Runtime) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|source| StoreError::CreateHome {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        create_private_file(path).map_err(|source| StoreError::CreateHome {
            path: path.to_path_buf(),
            source,
        })?;
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        migrations::refuse_newer(&conn, path).map_err(|e| match e {
            StoreError::Sqlite(source) => open_err(source),
            e => e,
        })?;
        configure(&conn).map_err(open_err)?;
        Store::on(conn, path, rt)
    }

    /// A store in memory, gone when dropped: for property tests that run thousands of cases.
    pub fn open_in_memory(rt: Runtime) -> Result<Store> {
        let path = Path::new(":memory:");
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_in_memory().map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        Store::on(conn, path, rt)
    }

    fn on(mut conn: Connection, path: &Path, rt: Runtime) -> Result<Store> {
        migrations::migrate(&mut conn, path)?;
        let peer = peer::ensure(&mut conn, &rt)?;
        tracing::debug!(path = %path.display(), peer = %peer.id, "store open");
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            peer,
            rt,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn peer(&self) -> &PeerIdentity {
        &self.peer
    }

    /// Renames this machine (`context sync name NAME`): the name its next push, manifest and
    /// snapshot carry to every peer. Only this changes it.
    pub fn set_name(&mut self, name: &str) -> Result<()> {
        rows::check_name("machine name", name, peer::MAX_NAME_BYTES)?;
        peer::set_name(&self.conn, name)?;
        self.peer.name = name.to_string();
        Ok(())
    }

    /// Records the machine a peer writes from, as its manifest says (the latest word: it
    /// replaces what a changeset said).
    pub fn note_host(&self, peer: crate::ids::PeerId, host: &str) -> Result<()> {
        rows::note_host(&self.conn, peer, host, true)
    }

    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    pub fn now_ms(&self) -> i64 {
        self.rt.clock.now_ms()
    }

    /// Copies the whole database, as it stands, into a new file at `dest` (SQLite's online
    /// backup API: consistent even while other processes write).
    pub fn copy_to(&self, dest: &Path) -> Result<()> {
        self.conn.backup(
            rusqlite::MAIN_DB,
            dest,
            None::<fn(rusqlite::backup::Progress)>,
        )?;
        Ok(())
    }

    /// A setting of this home (`None` when unset).
    pub fn setting(&self, name: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Every setting whose name begins with `prefix`, by name.
    pub fn settings_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, value FROM settings WHERE substr(name, 1, length(?1)) = ?1 ORDER BY name",
        )?;
        let rows = stmt.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Forgets a setting; returns the value it had.
    pub fn unset_setting(&self, name: &str) -> Result<Option<String>> {
        let old = self.setting(name)?;
        self.conn
            .execute("DELETE FROM settings WHERE name = ?1", [name])?;
        Ok(old)
    }

    /// Whether the database holds no version or tombstone at all.
    pub fn is_empty(&self) -> Result<bool> {
        rows::is_empty(&self.conn)
    }

    /// Switches the database to a rollback journal for one large transaction into an empty
    /// database: its pages go straight to the file, and the journal holds only the few pages
    /// that existed before (a WAL would grow as large as the database). Returns whether it
    /// switched: not while another connection has the database open (it stays in WAL mode,
    /// which is just as safe).
    pub fn enter_bulk_load(&mut self) -> Result<bool> {
        if self.path == Path::new(":memory:") {
            return Ok(false);
        }
        let mode: String = match self
            .conn
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        {
            Ok(mode) => mode,
            Err(_) => return Ok(false),
        };
        // Building the history index at the end sorts every row: in temporary files, not in
        // memory (this build of SQLite keeps temporary data in memory by default).
        self.conn.execute_batch("PRAGMA temp_store = FILE")?;
        Ok(mode.eq_ignore_ascii_case("delete"))
    }

    /// Back to WAL after [`Store::enter_bulk_load`].
    pub fn leave_bulk_load(&mut self) -> Result<()> {
        self.conn.execute_batch("PRAGMA temp_store = DEFAULT")?;
        let _: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        Ok(())
    }

    pub fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [name, value],
        )?;
        Ok(())
    }
}

/// Refuses a project name the store would refuse (empty, too long, a control character, white
/// space at either end), before it is written anywhere.
pub fn check_project(project: &str) -> Result<()> {
    rows::check_name("project name", project, 256)
}

/// Creates `dir` (and its parents) if missing, the last one readable by its owner only; an
/// existing folder is left as it is (the user may have chosen its mode).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

/// Creates an empty database file readable by its owner only, if there is none: SQLite would
/// create it with the umask's mode, and gives its WAL and shared-memory files the mode of the
/// database.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map(drop),
    }
}

/// Per-connection settings. WAL lets readers run beside a writer; `synchronous = FULL` makes
/// every commit durable before it returns (a version the user was told about survives a power
/// cut); the busy timeout makes writers queue instead of failing; the page cache (24 MiB) is
/// large enough for the indexes a bulk import touches and small enough that a full push or
/// pull stays under 64 MB (`benches/sync.rs` measures both).
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Switching a new database to WAL needs an exclusive lock, and SQLite does not always wait
    // for it through the busy handler (several processes creating one home at once): retry
    // for as long as the busy timeout.
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        let switched = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
            .and_then(|mode| {
                if mode.eq_ignore_ascii_case("wal") {
                    Ok(mode)
                } else {
                    conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                }
            });
        let busy = match &switched {
            Ok(mode) => !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory"),
            Err(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            Err(_) => false,
        };
        // SQLite answers with the mode it kept when it could not switch, or with "busy":
        // either way, try again until the deadline. After it, a mode it kept is still safe.
        if !busy || std::time::Instant::now() >= deadline {
            switched?;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -24576;",
    )
}

/// Copies the database at `db` with SQLite's online backup API into `backups/` beside it,
/// named after `now_ms`, keeping the newest `keep` backups; returns the new file.
pub fn backup(db: &Path, now_ms: i64, keep: usize) -> Result<PathBuf> {
    let dir = db
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("backups");
    std::fs::create_dir_all(&dir).map_err(|source| StoreError::CreateHome {
        path: dir.clone(),
        source,
    })?;
    let stamp = crate::clock::rfc3339(now_ms).replace([':', '.'], "-");
    let mut dest = dir.join(format!("context-{stamp}.db"));
    let mut n = 1;
    while dest.exists() {
        dest = dir.join(format!("context-{stamp}-{n}.db"));
        n += 1;
    }
    let src = Connection::open(db)?;
    src.busy_timeout(BUSY_TIMEOUT)?;
    let mut out = Connection::open(&dest)?;
    {
        let backup = rusqlite::backup::Backup::new(&src, &mut out)?;
        backup.run_to_completion(1024, Duration::from_millis(0), None)?;
    }
    drop(out);
    let mut existing: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("context-") && n.ends_with(".db"))
                })
                .collect()
        })
        .unwrap_or_default();
    existing.sort();
    // Names sort by time: drop the oldest beyond `keep`.
    let excess = existing.len().saturating_sub(keep);
    for old in existing.into_iter().take(excess) {
        if old != dest {
            let _ = std::fs::remove_file(old);
        }
    }
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::MODULE_ORDER;

    /// The modules of the store `source` names through `super::` (its uses and paths).
    fn uses(source: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (at, _) in source.match_indices("super::") {
            let rest = &source[at + "super::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if MODULE_ORDER.iter().any(|(m, _)| *m == name) && !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// No circle: each module of the store uses only the ones before it in the order its
    /// documentation writes down.
    #[test]
    fn each_module_uses_only_the_ones_before_it() {
        for (k, (module, source)) in MODULE_ORDER.iter().enumerate() {
            // Its own tests may use anything.
            let code = source.split("#[cfg(test)]").next().unwrap_or(source);
            for used in uses(code) {
                let at = MODULE_ORDER.iter().position(|(m, _)| *m == used);
                assert!(
                    at.is_some_and(|at| at < k),
                    "store::{module} uses store::{used}, which comes after it in the order \
                     written at the top of store/mod.rs"
                );
            }
        }
        // And the check can fail.
        assert_eq!(
            uses("use super::rows::X; super::import::y()"),
            ["rows", "import"]
        );
    }
}
