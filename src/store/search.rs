//! Full-text search over document bodies (`context search`), with SQLite's FTS5
//! (`migrations/0011_search.sql`). A version written here is indexed by a trigger in its
//! write's transaction; versions a pull brought are indexed by the next search before it
//! looks. Either way a search never misses a version the database holds.

use rusqlite::params;

use super::rows::{COLUMNS, State, Version, max_seq, read_version};
use super::{Result, Store};

/// What a person typed, as an FTS5 query: each word (split where the index splits it, at
/// anything but letters and digits) a quoted term, all of which must appear; a trailing `*`
/// keeps its meaning, a prefix. So `plan/q1`, `don't` or `AND` are words to find, never query
/// syntax. `None` when nothing is left to look for.
pub fn fts_query(typed: &str) -> Option<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in typed.split_whitespace() {
        let (word, prefix) = match word.strip_suffix('*') {
            Some(w) => (w, true),
            None => (word, false),
        };
        let tokens: Vec<&str> = word
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .collect();
        let last = tokens.len().saturating_sub(1);
        for (i, t) in tokens.iter().enumerate() {
            let star = if prefix && i == last { "*" } else { "" };
            terms.push(format!("\"{t}\"{star}"));
        }
    }
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// The words of `query` as [`matching_line`] looks for them: lower case, a trailing `*`
/// dropped.
pub fn query_words(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .map(|w| w.trim_end_matches('*').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The first line of `body` that holds one of `words` ([`query_words`]), case aside, trimmed
/// and cut to 200 characters: what a search shows of each match. Empty when no line does (a
/// match across lines, or on a word split at punctuation).
pub fn matching_line(body: &[u8], words: &[String]) -> String {
    String::from_utf8_lossy(body)
        .lines()
        .find(|l| {
            let l = l.to_lowercase();
            words.iter().any(|w| l.contains(w.as_str()))
        })
        .unwrap_or_default()
        .trim()
        .chars()
        .take(200)
        .collect()
}

/// The setting that says how far the versions pulls brought are indexed (see the migration).
const INDEXED_THROUGH: &str = "search.indexed-through";

impl Store {
    /// The versions of `project` whose body holds every word of `query`: the current,
    /// live version of each key, or with `all_versions` every version; by key, newest first.
    pub fn search(
        &mut self,
        project: &str,
        query: &str,
        all_versions: bool,
    ) -> Result<Vec<Version>> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        self.index_pulled()?;
        let sql = format!(
            "SELECT {COLUMNS} FROM document_versions d
             WHERE d.seq IN (SELECT rowid FROM search_index WHERE search_index MATCH ?1)
               AND d.project = ?2
               AND (?3 OR EXISTS (SELECT 1 FROM current_versions c
                                  WHERE c.project = d.project AND c.key = d.key
                                    AND c.seq = d.seq))
             ORDER BY d.key, d.hlc DESC, d.peer_id DESC, d.version_id DESC"
        );
        let now = self.now_ms();
        let rows = self
            .conn
            .prepare_cached(&sql)?
            .query_map(params![fts, project, all_versions], read_version)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter(|v| all_versions || v.state_at(now) == State::Live)
            .collect())
    }

    /// Indexes the versions pulls brought since the last search (local writes are indexed as
    /// they are written), in one transaction.
    fn index_pulled(&mut self) -> Result<()> {
        let through = |conn: &rusqlite::Connection| -> Result<i64> {
            Ok(conn
                .prepare_cached("SELECT value FROM settings WHERE name = ?1")?
                .query_row([INDEXED_THROUGH], |r| r.get::<_, String>(0))
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0))
        };
        if max_seq(&self.conn)? <= through(&self.conn)? {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let from = through(&tx)?;
        let indexed = tx.execute(
            "INSERT INTO search_index (rowid, body)
             SELECT seq, CAST(body AS TEXT) FROM document_versions
             WHERE seq > ?1 AND kind = 0 AND received_from IS NOT NULL
               AND instr(body, x'00') = 0",
            [from],
        )?;
        let max = max_seq(&tx)?;
        tx.execute(
            "INSERT OR REPLACE INTO settings (name, value) VALUES (?1, ?2)",
            params![INDEXED_THROUGH, max.to_string()],
        )?;
        tx.commit()?;
        tracing::debug!(indexed, through = max, "indexed the versions pulls brought");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn what_a_person_types_is_words_never_syntax() {
        let q = |s: &str| fts_query(s);
        assert_eq!(q("sync plan").as_deref(), Some(r#""sync" "plan""#));
        assert_eq!(q("plan/q1").as_deref(), Some(r#""plan" "q1""#));
        assert_eq!(q(r#"say "hi""#).as_deref(), Some(r#""say" "hi""#));
        assert_eq!(q("litestr*").as_deref(), Some(r#""litestr"*"#));
        assert_eq!(q("plan/q*").as_deref(), Some(r#""plan" "q"*"#));
        assert_eq!(q("AND OR NOT").as_deref(), Some(r#""AND" "OR" "NOT""#));
        assert_eq!(q("  - * "), None);
    }
}
