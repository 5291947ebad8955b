//! The log of sync runs (`context sync log`): every push, pull, snapshot and prune, with its
//! outcome, counts and scenario id, kept for 90 days.

use rusqlite::params;

use super::{Result, Store};

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

impl Store {
    /// Logs a run, keeping the newest few hundred.
    pub fn log_run(&self, run: &Run) -> Result<()> {
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
