//! `context sync repair`: the peer that wrote a changeset puts it back when the remote lost it
//! or a byte of it changed, if its database rebuilds the very same bytes.
//!
//! Every push records, per changeset, what rebuilds it: the range of the change log it holds,
//! the rows it left out, its header's time and host, and its checksum (`published`, schema 6).
//! A rebuilt changeset is published only when its checksum is the recorded one, which is also
//! what the next changeset of the stream names as its `prev`: readers cannot tell it from the
//! original. What cannot be rebuilt so (published before this record existed, or rows this
//! database no longer holds as they were) is reported with what to do instead.
//!
//! Pruned changesets are not missing: a stream whose beginning a prune removed starts at its
//! lowest file, and only gaps after it, and a lost tail, are put back.

use serde::Serialize;

use crate::changeset::{self, Changeset, Header};
use crate::remote::{CsetName, FileName, Remote, RemoteError};
use crate::store::Store;

use super::SyncError;

/// One changeset of this peer's streams that repair looked at and did not find intact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repair {
    /// Relative to the remote.
    pub file: String,
    /// `missing` or `damaged`.
    pub state: &'static str,
    /// Whether it was put back (or, with `--dry-run`, would be).
    pub repaired: bool,
    /// Why not, and what to do instead.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    pub remote: String,
    pub dry_run: bool,
    /// How many of this peer's changesets were checked.
    pub checked: u64,
    pub files: Vec<Repair>,
}

impl RepairReport {
    pub fn unrepaired(&self) -> usize {
        self.files.iter().filter(|f| !f.repaired).count()
    }
}

/// Checks every changeset this peer published to `remote` and puts back those it can.
pub fn repair(store: &Store, remote: &Remote, dry_run: bool) -> Result<RepairReport, SyncError> {
    let location = remote.location();
    let remote_id = store.remote_id(&location)?;
    let me = store.peer().id;
    let mut report = RepairReport {
        remote: location.clone(),
        dry_run,
        ..RepairReport::default()
    };
    let listing = remote.list_peer(me, None)?;
    let streams = listing.streams();
    let records = store.published(remote_id)?;
    let recorded: std::collections::BTreeMap<(u64, u64), &crate::store::Rebuild> =
        records.iter().map(|(g, s, r)| ((*g, *s), r)).collect();
    // Every file of this peer's streams, and every recorded one the remote should hold.
    let mut wanted: std::collections::BTreeSet<(u64, u64)> = std::collections::BTreeSet::new();
    for ((peer, generation), names) in &streams {
        if *peer == me {
            wanted.extend(names.iter().map(|n| (*generation, n.seq)));
        }
    }
    for &(generation, seq) in recorded.keys() {
        let present = streams.get(&(me, generation));
        let lowest = present.and_then(|n| n.first()).map(|n| n.seq);
        // Below a stream's lowest file: pruned. A stream with no file left: not repair's to
        // bring back (a push --force publishes it again).
        if lowest.is_some_and(|low| seq > low) {
            wanted.insert((generation, seq));
        }
    }
    for (generation, seq) in wanted {
        report.checked += 1;
        let name = CsetName {
            peer: me,
            generation,
            seq,
        };
        let state = match remote.read(&name) {
            Ok(bytes) => match changeset::decode(&bytes) {
                Ok((cs, checksum))
                    if super::misnamed(&cs.header, &name).is_none()
                        && recorded
                            .get(&(generation, seq))
                            .is_none_or(|r| r.checksum == checksum) =>
                {
                    continue;
                }
                _ => "damaged",
            },
            Err(RemoteError::NotFound { .. }) => "missing",
            // A sealed file that does not open, or one too large to be ours: damaged.
            Err(RemoteError::CompleteSnapshot { .. } | RemoteError::TooLarge { .. }) => "damaged",
            Err(e) => return Err(e.into()),
        };
        let mut item = Repair {
            file: name.rel_path(),
            state,
            repaired: false,
            reason: None,
        };
        match rebuild(store, &name, &recorded, &records)? {
            Err(why) => {
                item.reason = Some(format!(
                    "{why}; `context sync push --force` here publishes everything again as a new \
                     generation, which every other peer applies"
                ));
            }
            Ok(bytes) => {
                if !dry_run {
                    match state {
                        "missing" => remote.publish(&name, &bytes)?,
                        _ => remote.replace(&name, &bytes)?,
                    }
                    tracing::info!(changeset = %name, state, "repaired");
                }
                item.repaired = true;
            }
        }
        report.files.push(item);
    }
    Ok(report)
}

/// The bytes of changeset `name` as this database first published it, or why they cannot be
/// rebuilt.
fn rebuild(
    store: &Store,
    name: &CsetName,
    recorded: &std::collections::BTreeMap<(u64, u64), &crate::store::Rebuild>,
    records: &[(u64, u64, crate::store::Rebuild)],
) -> Result<Result<Vec<u8>, String>, SyncError> {
    let Some(r) = recorded.get(&(name.generation, name.seq)) else {
        return Ok(Err(
            "this database has no record of how it wrote it (published by an older version, \
             or by another copy of this home)"
                .to_string(),
        ));
    };
    let prev = match name.seq {
        1 => None,
        seq => match recorded.get(&(name.generation, seq - 1)) {
            Some(p) => Some(p.checksum),
            None => {
                return Ok(Err(
                    "this database has no record of the changeset before it".to_string(),
                ));
            }
        },
    };
    let mut rows: Vec<_> = store
        .export_page(
            r.after_seq,
            r.last_seq,
            r.excluded_remote,
            r.projects.as_deref(),
            usize::MAX >> 1,
        )?
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    // The same choice of deltas as the push made: against what the stream held before it.
    if let Some(min) = r.delta_min {
        let bases = super::deltas::StreamBases::of(records, name.generation, name.seq);
        super::deltas::encode(store, &bases, &mut rows, min, r.delta_reach)?;
    }
    let header = Header::of_stream(
        name.peer,
        name.generation,
        name.seq,
        prev,
        r.created_at_ms,
        r.host.clone(),
    );
    let (bytes, checksum) = changeset::encode(&Changeset::new(header, rows))?;
    if checksum != r.checksum {
        return Ok(Err(format!(
            "rebuilt from this database it comes out as {checksum}, not {} as published",
            r.checksum
        )));
    }
    Ok(Ok(bytes))
}
