//! Conflicts: where a concurrent version lost and no later write has settled it.
//!
//! The rows of a key form a graph. Each row points at its parent (the row current when it was
//! written) and at the losing rows its writer settled (table `settles`: every local write
//! settles every head of the key its writer holds). A row nothing points at is a *head*; the
//! current row (the last-writer-wins winner) is always one. Every other head lost: it is an
//! unsettled conflict unless its content (kind and body digest) already appears on the winning
//! side since the two parted, i.e. in a row the current one descends from and the loser does
//! not (content: kind, body digest and expiry). So two peers that resolve the same conflict to the same bytes make no new conflict, and
//! neither do two that wrote the same body concurrently.
//!
//! Computing this needs a key's whole graph, so it is done only for candidate keys (table
//! `conflict_candidates`): those an import gave a row that did not fast-forward the key. A
//! local write settles its key and takes it off the list.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, params};

use super::held;
use super::rows::Version;
use super::rows::{COLUMNS, NEWEST_FIRST, read_version};
use super::{Result, Store, StoreError};
use crate::ids::{PeerId, VersionId};
use crate::record::Kind;

/// One unsettled conflict of a key: this peer's side and the other, as the key's heads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub project: String,
    pub key: String,
    /// This peer's side: the head written here (or on this peer's branch); else the current.
    pub mine: Version,
    /// The other side.
    pub theirs: Version,
    /// Which of the two is the key's current version.
    pub current: VersionId,
    /// The newest version both sides descend from (`None`: they share no history).
    pub ancestor: Option<Version>,
    /// Whether this peer wrote on one of the sides since they parted: when not (a third
    /// machine), `mine` is merely the current side.
    pub local: bool,
    /// Whether `theirs` came with a refused pull and is not applied yet (a held version).
    pub incoming: bool,
}

/// A key's rows and the edges between them.
pub(crate) struct KeyGraph {
    /// Oldest first (last-writer-wins order): the last is the current row.
    rows: Vec<Version>,
    /// For each row, the rows it points at (its parent and what it settled), as indexes.
    edges: Vec<Vec<usize>>,
}

impl KeyGraph {
    /// The graph of `key`, or `None` when it has no rows.
    pub(crate) fn load(conn: &Connection, project: &str, key: &str) -> Result<Option<KeyGraph>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM document_versions WHERE project = ?1 AND key = ?2 \
             ORDER BY {NEWEST_FIRST}"
        );
        let mut rows = conn
            .prepare_cached(&sql)?
            .query_map(params![project, key], read_version)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if rows.is_empty() {
            return Ok(None);
        }
        rows.reverse();
        let at: HashMap<VersionId, usize> =
            rows.iter().enumerate().map(|(i, v)| (v.id, i)).collect();
        let mut settled = conn.prepare_cached(
            "SELECT s.version_id, s.settled_id FROM settles s
             JOIN document_versions d ON d.version_id = s.version_id
             WHERE d.project = ?1 AND d.key = ?2",
        )?;
        let pairs = settled
            .query_map(params![project, key], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut edges: Vec<Vec<usize>> = rows
            .iter()
            .map(|v| {
                v.parent
                    .and_then(|p| at.get(&p).copied())
                    .into_iter()
                    .collect()
            })
            .collect();
        for (by, settled) in pairs {
            let corrupt = || StoreError::Corrupt {
                what: "settled version id",
                seq: 0,
            };
            let by = VersionId::from_slice(&by).ok_or_else(corrupt)?;
            let settled = VersionId::from_slice(&settled).ok_or_else(corrupt)?;
            // A settled row not here (yet) points nowhere.
            if let (Some(&i), Some(&j)) = (at.get(&by), at.get(&settled)) {
                edges[i].push(j);
            }
        }
        Ok(Some(KeyGraph { rows, edges }))
    }

    pub(crate) fn current(&self) -> &Version {
        &self.rows[self.rows.len() - 1]
    }

    /// Rows nothing points at, oldest first.
    fn heads(&self) -> Vec<usize> {
        let mut pointed = vec![false; self.rows.len()];
        for e in &self.edges {
            for &j in e {
                pointed[j] = true;
            }
        }
        (0..self.rows.len()).filter(|&i| !pointed[i]).collect()
    }

    /// `i` and every row it reaches.
    fn ancestors(&self, i: usize) -> HashSet<usize> {
        let mut seen = HashSet::from([i]);
        let mut stack = vec![i];
        while let Some(n) = stack.pop() {
            for &j in &self.edges[n] {
                if seen.insert(j) {
                    stack.push(j);
                }
            }
        }
        seen
    }

    /// What a reader sees of a row: kind, body and expiry.
    fn content(&self, i: usize) -> (Kind, Option<[u8; 32]>, Option<i64>) {
        let v = &self.rows[i];
        (v.kind, v.sha256, v.expires_at_ms)
    }

    /// The heads that lost and are not settled, newest first.
    /// `won` is the current row's ancestry; each loser comes with its own.
    fn losers(&self, won: &HashSet<usize>) -> Vec<(usize, HashSet<usize>)> {
        let mut out: Vec<(usize, HashSet<usize>)> = self
            .losing_heads()
            .map(|h| (h, self.ancestors(h)))
            .filter(|(h, theirs)| {
                !won.iter()
                    .any(|&v| !theirs.contains(&v) && self.content(v) == self.content(*h))
            })
            .collect();
        out.reverse();
        out
    }

    /// Whether the key has an unsettled conflict.
    pub(crate) fn is_conflicted(&self) -> bool {
        !self.losers(&self.ancestors(self.rows.len() - 1)).is_empty()
    }

    /// Every head but the current row, oldest first.
    fn losing_heads(&self) -> impl Iterator<Item = usize> + '_ {
        let current = self.rows.len() - 1;
        self.heads().into_iter().filter(move |&h| h != current)
    }

    /// The heads a write on this key settles: every head but the current one.
    pub(crate) fn other_heads(&self) -> Vec<VersionId> {
        self.losing_heads().map(|h| self.rows[h].id).collect()
    }

    /// The unsettled conflicts, one per losing head, sides named from `me`'s point of view.
    pub(crate) fn conflicts(&self, me: PeerId) -> Vec<Conflict> {
        let current = self.rows.len() - 1;
        let won = self.ancestors(current);
        self.losers(&won)
            .into_iter()
            .map(|(l, lost)| {
                // Mine: the side whose own rows (since the sides parted) include one of mine.
                let mine_lost = lost
                    .iter()
                    .any(|&v| !won.contains(&v) && self.rows[v].peer == me);
                let mine_won = won
                    .iter()
                    .any(|&v| !lost.contains(&v) && self.rows[v].peer == me);
                let (mine, theirs) = if mine_lost && !mine_won {
                    (l, current)
                } else {
                    (current, l)
                };
                let ancestor = won.intersection(&lost).max().map(|&a| self.rows[a].clone());
                Conflict {
                    project: self.current().project.clone(),
                    key: self.current().key.clone(),
                    mine: self.rows[mine].clone(),
                    theirs: self.rows[theirs].clone(),
                    current: self.current().id,
                    ancestor,
                    local: mine_lost || mine_won,
                    incoming: false,
                }
            })
            .collect()
    }

    /// The conflicts of the key's held versions (see `held`): the current row against each.
    fn held_conflicts(&self, held: Vec<(Version, Option<VersionId>)>) -> Vec<Conflict> {
        let current = self.current();
        held.into_iter()
            .map(|(theirs, ancestor)| Conflict {
                project: current.project.clone(),
                key: current.key.clone(),
                mine: current.clone(),
                theirs,
                current: current.id,
                ancestor: ancestor.and_then(|a| self.rows.iter().find(|r| r.id == a).cloned()),
                local: true,
                incoming: true,
            })
            .collect()
    }
}

/// Every unsettled conflict of a key: those of its rows, then those of its held versions.
fn conflicts_on(conn: &Connection, me: PeerId, project: &str, key: &str) -> Result<Vec<Conflict>> {
    let Some(graph) = KeyGraph::load(conn, project, key)? else {
        return Ok(Vec::new());
    };
    let mut out = graph.conflicts(me);
    out.extend(graph.held_conflicts(held::of_key(conn, project, key)?));
    Ok(out)
}

/// The keys that may have a conflict: the candidates and those with a held version.
fn conflicted_keys(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut keys = candidates(conn)?;
    keys.extend(held::keys(conn)?);
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// The candidate keys, in order.
fn candidates(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT project, key FROM conflict_candidates ORDER BY project, key")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// After an import gave `key` rows: lists it as a candidate when it has an unsettled
/// conflict, forgets it otherwise. Keys whose rows form one line (every row but one is a
/// parent) are settled without loading their graph.
pub(crate) fn refresh(conn: &Connection, project: &str, key: &str) -> Result<bool> {
    let heads: i64 = conn
        .prepare_cached(
            "SELECT count(*) - count(DISTINCT parent_id) FROM document_versions
             WHERE project = ?1 AND key = ?2",
        )?
        .query_row(params![project, key], |r| r.get(0))?;
    let conflicted = heads > 1
        && match KeyGraph::load(conn, project, key)? {
            Some(g) => g.is_conflicted(),
            None => false,
        };
    let sql = if conflicted {
        "INSERT OR IGNORE INTO conflict_candidates (project, key) VALUES (?1, ?2)"
    } else {
        "DELETE FROM conflict_candidates WHERE project = ?1 AND key = ?2"
    };
    conn.prepare_cached(sql)?.execute(params![project, key])?;
    Ok(conflicted)
}

impl Store {
    /// Every unsettled conflict, by project and key.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        let mut out = Vec::new();
        for (project, key) in conflicted_keys(&self.conn)? {
            out.extend(conflicts_on(&self.conn, self.peer.id, &project, &key)?);
        }
        Ok(out)
    }

    /// How many keys have an unsettled conflict (held ones included).
    pub fn count_conflicted_keys(&self) -> Result<u64> {
        // Every key with a held version, and every candidate whose rows are in conflict.
        let held: std::collections::BTreeSet<_> = held::keys(&self.conn)?.into_iter().collect();
        let mut n = held.len() as u64;
        for (project, key) in candidates(&self.conn)? {
            if !held.contains(&(project.clone(), key.clone()))
                && KeyGraph::load(&self.conn, &project, &key)?.is_some_and(|g| g.is_conflicted())
            {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The unsettled conflicts of one key (newest loser first, then held versions); empty when
    /// it has none.
    pub fn conflicts_of(&self, project: &str, key: &str) -> Result<Vec<Conflict>> {
        super::rows::check_names(project, key)?;
        conflicts_on(&self.conn, self.peer.id, project, key)
    }

    /// The rows version `id` settled (the losing sides its writer held).
    pub fn settled_by(&self, id: VersionId) -> Result<Vec<VersionId>> {
        super::rows::settled_by(&self.conn, id)
    }

    /// The name of the machine `peer` writes from, where known (this home's own; another's as
    /// its manifest, or else the first changeset or snapshot read from it, said).
    pub fn host_of(&self, peer: PeerId) -> Result<Option<String>> {
        if peer == self.peer.id {
            return Ok(Some(self.peer.name.clone()));
        }
        super::rows::host_of(&self.conn, peer)
    }

    /// Every machine name known here: this home's own and every other peer's.
    pub fn hosts(&self) -> Result<Vec<(PeerId, String)>> {
        let mut out = super::rows::hosts(&self.conn)?;
        out.retain(|(p, _)| *p != self.peer.id);
        out.push((self.peer.id, self.peer.name.clone()));
        out.sort();
        Ok(out)
    }
}
