//! A home's named remotes (`context sync remote add NAME URL [--projects P1,P2]`): what bare
//! `context sync` covers. What sync keeps of each remote (published streams, applied
//! positions, runs) stays keyed by its canonical location, so naming, renaming or forgetting
//! one re-pushes nothing and loses nothing.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store};

/// One named remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRemote {
    pub name: String,
    /// The location as given (a path, or a URL without credentials).
    pub url: String,
    /// The projects that travel through it; `None` for all.
    pub projects: Option<Vec<String>>,
    pub added_at_ms: i64,
    /// Projects added to its list whose history its next push publishes.
    pub backfill: Vec<String>,
}

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<NamedRemote> {
    let projects: Option<String> = r.get(2)?;
    let backfill: Option<String> = r.get(4)?;
    Ok(NamedRemote {
        backfill: backfill
            .and_then(|b| serde_json::from_str(&b).ok())
            .unwrap_or_default(),
        name: r.get(0)?,
        url: r.get(1)?,
        // Written by this module only: a list it cannot read is taken as the empty one (nothing
        // travels), never as all.
        projects: projects.map(|p| serde_json::from_str(&p).unwrap_or_default()),
        added_at_ms: r.get(3)?,
    })
}

impl Store {
    /// Every named remote, by name.
    pub fn named_remotes(&self) -> Result<Vec<NamedRemote>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, url, projects, added_at, backfill FROM named_remotes ORDER BY name",
        )?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn named_remote(&self, name: &str) -> Result<Option<NamedRemote>> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, url, projects, added_at, backfill FROM named_remotes WHERE name = ?1",
                [name],
                from_row,
            )
            .optional()?)
    }

    /// Adds the remote, or replaces the one of that name.
    pub fn set_named_remote(&self, remote: &NamedRemote) -> Result<()> {
        let projects = remote
            .projects
            .as_ref()
            .map(|p| serde_json::to_string(p).unwrap_or_else(|_| "[]".into()));
        let backfill = (!remote.backfill.is_empty())
            .then(|| serde_json::to_string(&remote.backfill).unwrap_or_default());
        self.conn.execute(
            "INSERT INTO named_remotes (name, url, projects, added_at, backfill)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (name) DO UPDATE SET url = excluded.url, projects = excluded.projects,
                                              backfill = excluded.backfill",
            params![
                remote.name,
                remote.url,
                projects,
                remote.added_at_ms,
                backfill
            ],
        )?;
        Ok(())
    }

    /// Forgets the projects a push of `name` had to publish the history of (it did).
    pub fn clear_backfill(&self, name: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE named_remotes SET backfill = NULL WHERE name = ?1",
            [name],
        )?;
        Ok(())
    }

    /// Forgets it; returns whether there was one.
    pub fn remove_named_remote(&self, name: &str) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM named_remotes WHERE name = ?1", [name])?
            == 1)
    }

    /// Renames `old` to `new` (which must be free); returns whether `old` was there.
    pub fn rename_named_remote(&self, old: &str, new: &str) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE named_remotes SET name = ?2 WHERE name = ?1",
            [old, new],
        )? == 1)
    }
}
