//! `context sync status --check`: is this home's sync working, from what the home itself
//! recorded (no request to the remote, so a shell prompt or a monitoring probe can ask every
//! few seconds): when a pull and a push last both succeeded, whether the last runs failed,
//! whether a conflict waits for a person, and when each other peer was last seen.
//!
//! The defaults: stale after 1 hour without a completed sync (four ticks of the default
//! 15-minute schedule), and a peer is missed after 14 days without a sign of it.

use serde::Serialize;

use crate::clock::{describe_age, rfc3339};
use crate::store::{Run, Store};

use super::SyncError;

/// How old the last completed sync may be (`--max-age`).
pub const DEFAULT_MAX_AGE_MS: i64 = 3_600_000;
/// How long another peer may go without a sign before it is missed.
pub const PEER_MAX_AGE_MS: i64 = 14 * 86_400_000;
/// The setting that records when a peer was last seen (its manifest's time), per peer id.
pub(crate) const PEER_SEEN_SETTING: &str = "sync.peer-seen:";

/// The verdict, with what it is based on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub remote: String,
    pub healthy: bool,
    /// One line saying why not (or that all is well).
    pub reason: String,
    /// When a pull and a push last both succeeded (RFC 3339), if ever.
    pub last_good_sync_at: Option<String>,
    /// The last failed run's error, if the last run of pull or push failed.
    pub last_error: Option<String>,
    pub conflicts: u64,
}

/// Judges this home's sync with the remote at `location` (as the run log names it).
pub fn health(store: &Store, location: &str, max_age_ms: i64) -> Result<Health, SyncError> {
    let now = store.now_ms();
    let runs = |command: &str| -> Result<Vec<Run>, SyncError> {
        Ok(store
            .runs(Some(command), 200)?
            .into_iter()
            .filter(|r| r.remote.as_deref() == Some(location))
            .collect())
    };
    let (pulls, pushes) = (runs("pull")?, runs("push")?);
    let last_ok = |rs: &[Run]| {
        rs.iter()
            .find(|r| r.exit_status == 0)
            .map(|r| r.finished_at_ms)
    };
    let last_good = match (last_ok(&pulls), last_ok(&pushes)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => None,
    };
    // The newest run of either, if it failed (a busy lock is no failure; a refusal for a
    // conflict is a person's to settle, said below).
    let newest = store
        .runs(None, 50)?
        .into_iter()
        .find(|r| {
            r.remote.as_deref() == Some(location) && (r.command == "pull" || r.command == "push")
        })
        .filter(|r| r.exit_status != 0 && r.outcome != "busy" && r.outcome != "diverged");
    let last_error = newest.map(|r| {
        let said: serde_json::Value = serde_json::from_str(&r.summary).unwrap_or_default();
        let why = said["error"]
            .as_str()
            .map(str::to_string)
            .or_else(|| said["bad"][0]["reason"].as_str().map(str::to_string))
            .unwrap_or_else(|| r.outcome.clone());
        format!(
            "the last {} ({}) failed: {why}",
            r.command,
            rfc3339(r.finished_at_ms)
        )
    });
    let refused = pulls
        .first()
        .is_some_and(|r| r.outcome == "diverged" && r.command == "pull");
    let conflicts = store.count_conflicted_keys()?;
    let missed_peer = missed_peer(store, now)?;
    let reason = if let Some(e) = &last_error {
        Some(e.clone())
    } else if refused || conflicts > 0 {
        Some(if conflicts > 0 {
            format!(
                "{} waiting for a person: `context conflicts` lists them",
                super::plural(conflicts, "conflicted key")
            )
        } else {
            "the last pull was refused for a conflict: `context sync pull` says which keys"
                .to_string()
        })
    } else {
        match last_good {
            None => Some(format!("no sync with {location} has completed yet")),
            Some(t) if now - t > max_age_ms => Some(format!(
                "no sync with {location} has completed for {} (at most {} wanted)",
                describe_age(now - t),
                describe_age(max_age_ms)
            )),
            Some(_) => missed_peer,
        }
    };
    Ok(Health {
        remote: location.to_string(),
        healthy: reason.is_none(),
        reason: reason.unwrap_or_else(|| match last_good {
            Some(t) => format!(
                "healthy: the last sync with {location} completed {} ago",
                describe_age(now - t)
            ),
            None => "healthy".to_string(),
        }),
        last_good_sync_at: last_good.map(rfc3339),
        last_error,
        conflicts,
    })
}

/// Another peer that has not been seen for longer than [`PEER_MAX_AGE_MS`], as why.
fn missed_peer(store: &Store, now: i64) -> Result<Option<String>, SyncError> {
    for (name, value) in store.settings_with_prefix(PEER_SEEN_SETTING)? {
        let Some(peer) = name.strip_prefix(PEER_SEEN_SETTING) else {
            continue;
        };
        let Some((at, host)) = value.split_once(' ') else {
            continue;
        };
        let Some(seen) = crate::clock::parse_instant(at) else {
            continue;
        };
        if now - seen > PEER_MAX_AGE_MS {
            return Ok(Some(format!(
                "the peer {peer} ({host}) has not been seen for {}",
                describe_age(now - seen)
            )));
        }
    }
    Ok(None)
}

/// Remembers when each other peer was last seen: its manifest's time and host, as a pull read
/// them.
pub(crate) fn note_peers_seen(
    store: &Store,
    manifests: &std::collections::BTreeMap<crate::ids::PeerId, crate::remote::Manifest>,
) -> Result<(), SyncError> {
    for (peer, m) in manifests {
        // A manifest is its peer's latest word on its name (it renamed with `sync name`).
        store.note_host(*peer, &m.host)?;
        if let Some(at) = m.updated_at.as_ref().or(m.last_push_at.as_ref()) {
            store.set_setting(
                &format!("{PEER_SEEN_SETTING}{peer}"),
                &format!("{at} {}", m.host),
            )?;
        }
    }
    Ok(())
}
