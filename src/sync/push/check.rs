//! The check before a push: does this peer's stream in the remote hold exactly what this
//! database remembers publishing? Planned from the listing alone ([`plan_stream`]), then
//! carried out: the last changeset it published must be there and be the one it published
//! ([`check_last`]), and what lies beyond it is adopted if an interrupted push of this database
//! left it ([`adopt`]); anything else is a divergence, explained.

use crate::changeset::{self, Changeset};
use crate::ids::PeerId;
use crate::remote::{CsetName, Remote, RemoteError};
use crate::store::{Pushed, Store};
use crate::sync::{Divergence, DivergenceKind, SyncError};

use super::PushReport;

/// What the listing of this peer's stream says before any file is read: the plan of the
/// check that comes before a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamPlan {
    /// The remote holds a changeset beyond the last one this database published that cannot
    /// be the next one (a gap, or the last one gone): another database pushes as this peer.
    Ahead(CsetName),
    /// Check the last changeset this database published (`None`: it published nothing in this
    /// generation yet; `listed`: whether the listing shows it, else it is asked for by name),
    /// then the ones beyond it, in order, the first of them the next one: what an interrupted
    /// push of this database may have left (adopted while each is exactly what it would export
    /// next and follows the one before).
    Check {
        last: Option<CsetName>,
        listed: bool,
        beyond: Vec<CsetName>,
    },
}

/// Plans the check of this peer's stream (`me`, in `state`'s generation) from its listing.
pub fn plan_stream(listing: &[CsetName], me: PeerId, state: &Pushed) -> StreamPlan {
    let stream: Vec<CsetName> = listing
        .iter()
        .filter(|n| n.peer == me && n.generation == state.generation)
        .copied()
        .collect();
    let last = (state.last_seq > 0).then_some(CsetName {
        peer: me,
        generation: state.generation,
        seq: state.last_seq,
    });
    let listed = last.is_some_and(|l| stream.contains(&l));
    let beyond: Vec<CsetName> = stream
        .iter()
        .filter(|n| n.seq > state.last_seq)
        .copied()
        .collect();
    // Its own last changeset gone while another database pushed past it (a prune), or a gap
    // beyond it: not this database's doing.
    let next = state.last_seq + 1;
    if let Some(first) = beyond.first()
        && (first.seq != next || (last.is_some() && !listed))
    {
        return StreamPlan::Ahead(*first);
    }
    StreamPlan::Check {
        last,
        listed,
        beyond,
    }
}

/// The generation a forced push starts: past this one and every one of this peer's the
/// remote holds (`mine`: this peer's changesets there).
pub fn next_generation(mine: &[CsetName], me: PeerId, generation: u64) -> u64 {
    let highest = mine
        .iter()
        .filter(|n| n.peer == me)
        .map(|n| n.generation)
        .max()
        .unwrap_or(0);
    generation.max(highest) + 1
}

/// Compares this peer's stream in the remote with what this database remembers; adopts what
/// an interrupted push of this database left; returns what does not fit.
pub(super) fn check_stream(
    store: &Store,
    remote: &Remote,
    remote_id: i64,
    state: &mut Pushed,
    backfill: &[String],
    report: &mut PushReport,
) -> Result<Option<Divergence>, SyncError> {
    let me = store.peer().clone();
    let generation = state.generation;
    // This peer's folder from its last changeset on: what is beyond it, and later
    // generations (a copy's); a cron tick's push lists no more than that.
    let from = CsetName {
        peer: me.id,
        generation,
        seq: state.last_seq.saturating_sub(1),
    };
    let listing = remote.list_peer(me.id, Some(&from))?;
    let refusal = Refusal {
        store,
        remote,
        generation,
        next_generation: next_generation(&listing.changesets, me.id, generation),
    };
    match plan_stream(&listing.changesets, me.id, state) {
        StreamPlan::Ahead(found) => Ok(Some(refusal.ahead(format!(
            "the remote holds {found}, beyond changeset {} that this database published last.",
            state.last_seq
        )))),
        StreamPlan::Check {
            last,
            listed,
            beyond,
        } => {
            if let Some(last) = last
                && let Some(d) = check_last(remote, state, last, listed, &refusal)?
            {
                return Ok(Some(d));
            }
            let found = Found {
                remote_id,
                backfill,
            };
            adopt(store, remote, &found, state, &beyond, report, &refusal)
        }
    }
}

/// How a refused push explains itself.
struct Refusal<'a> {
    store: &'a Store,
    remote: &'a Remote,
    generation: u64,
    /// What `--force` would start.
    next_generation: u64,
}

impl Refusal<'_> {
    /// Another database pushes as this peer.
    fn ahead(&self, what: String) -> Divergence {
        let me = self.store.peer();
        let host = &self.store.runtime().host;
        let copied = if &me.host != host {
            format!(
                " This home was created on host {:?} and now runs on {:?}: it looks copied.",
                me.host, host
            )
        } else {
            String::new()
        };
        Divergence {
            kind: DivergenceKind::RemoteAhead,
            explanation: format!(
                "push refused: {what} Another database pushes as this peer ({}): this one was \
                 restored from a backup, or the home was copied to another machine.{copied} \
                 `context sync push --force` starts generation {} so that both histories are \
                 kept; `context sync pull` brings back what the other one published.",
                me.id, self.next_generation
            ),
        }
    }

    /// The remote lost what this peer published.
    fn missing(&self, what: String) -> Divergence {
        Divergence {
            kind: DivergenceKind::RemoteMissing,
            explanation: format!(
                "push refused: {what} Was the folder emptied or replaced, or is it not \
                 mounted? `context sync push --force` publishes again everything this \
                 database holds, as generation {}.",
                self.generation + 1
            ),
        }
    }
}

/// Checks that the last changeset this database published is in the remote, and is the one
/// it published (by the checksum its trailer records). A listing may lag behind the store
/// (S3-compatible stores that list eventually): one it lacks is asked for by name before it is
/// called lost.
fn check_last(
    remote: &Remote,
    state: &Pushed,
    last: CsetName,
    listed: bool,
    refusal: &Refusal<'_>,
) -> Result<Option<Divergence>, SyncError> {
    let trailer = if listed {
        remote.read_trailer(&last)?
    } else {
        match remote.read_trailer(&last) {
            Ok(t) => {
                tracing::info!(changeset = %last, "the listing lacked it; it is there");
                t
            }
            Err(RemoteError::NotFound { .. }) => {
                let present = remote
                    .list_peer(last.peer, None)?
                    .changesets
                    .iter()
                    .filter(|n| n.generation == last.generation && n.seq <= state.last_seq)
                    .count();
                return Ok(Some(refusal.missing(format!(
                    "the remote {} lacks changesets this peer published there: {} of \
                     generation {} {} published, {present} of them {} left.",
                    refusal.remote.location(),
                    crate::sync::plural(state.last_seq, "changeset"),
                    last.generation,
                    if state.last_seq == 1 { "was" } else { "were" },
                    if present == 1 { "is" } else { "are" }
                ))));
            }
            Err(e) => return Err(e.into()),
        }
    };
    // The trailer tells the file this peer published from any other; whether its bytes are
    // intact is for the readers (pull, verify) to check.
    if trailer == state.last_checksum {
        return Ok(None);
    }
    // A sealed file read as plain (the key record gone) is no divergence: reading it whole
    // says what it is.
    if let Err(e @ RemoteError::SealedWithoutRecord { .. }) = remote.read(&last) {
        return Err(e.into());
    }
    Ok(Some(refusal.missing(format!(
        "the changeset {} in the remote {} is not the one this peer published there.",
        last,
        remote.location()
    ))))
}

/// Adopts the changesets beyond the last one this database published if each is exactly what
/// it would export next (a push of this database published it and died before recording it);
/// anything else is another database's.
fn adopt(
    store: &Store,
    remote: &Remote,
    found: &Found<'_>,
    state: &mut Pushed,
    beyond: &[CsetName],
    report: &mut PushReport,
    refusal: &Refusal<'_>,
) -> Result<Option<Divergence>, SyncError> {
    for name in beyond {
        if name.seq != state.last_seq + 1 {
            return Ok(Some(refusal.ahead(format!(
                "the remote holds {name}, beyond changeset {} that this database published last.",
                state.last_seq
            ))));
        }
        let bytes = remote.read(name)?;
        let Ok((cs, checksum)) = changeset::decode(&bytes) else {
            return Ok(Some(refusal.ahead(format!(
                "the remote holds {name}, beyond what this database published, and it does \
                 not decode."
            ))));
        };
        let remote_id = found.remote_id;
        let Some(next) = exported_next(store, remote, found, state, &cs)? else {
            let mut unknown = 0usize;
            for e in &cs.entries {
                if store.seq_of(e.id)?.is_none() {
                    unknown += 1;
                }
            }
            return Ok(Some(refusal.ahead(format!(
                "the remote holds {name} (written on host {:?}), beyond what this database \
                 published, with {unknown} versions this database does not have.",
                cs.header.host
            ))));
        };
        // Ours: a push of this database published it and died before recording it.
        tracing::info!(changeset = %name, "finishing an interrupted push");
        let rebuild = crate::store::Rebuild {
            after_seq: next.after,
            last_seq: next.last,
            excluded_remote: next.exclude,
            created_at_ms: cs.header.created_at_ms,
            host: cs.header.host.clone(),
            checksum,
            // As a push of this database writes them by default.
            delta_min: Some(crate::sync::deltas::DEFAULT_MIN_BODY),
            delta_reach: crate::sync::deltas::REACH,
            projects: next.projects,
            late: next.late,
        };
        *state = Pushed {
            generation: state.generation,
            last_seq: name.seq,
            last_checksum: Some(checksum),
            high_water: state.high_water.max(next.last),
        };
        store.remember_published(remote_id, state, &rebuild)?;
        report.adopted.push(name.to_string());
    }
    Ok(None)
}

/// What a push looks for among changesets an interrupted push may have left.
struct Found<'a> {
    remote_id: i64,
    /// The projects whose history the push publishes first.
    backfill: &'a [String],
}

/// A changeset found to be this database's: the rows it holds (`(after, last]` of `projects`,
/// leaving out those of `exclude`).
struct Exported {
    after: i64,
    last: i64,
    exclude: Option<i64>,
    projects: Option<Vec<String>>,
    late: bool,
}

/// Whether `cs` is exactly what this database would export next: the same rows in the same
/// order (with or without the rows pulled from this remote, as a push after a lost remote
/// exports them too), chaining on from the last changeset; or a part of the history of a
/// project added to the remote's list (rows of those projects from its first on, below the
/// mark). Holding the same rows is not enough: a copy of this home can hold them through a
/// snapshot, with rows of its own between them.
fn exported_next(
    store: &Store,
    remote: &Remote,
    found: &Found<'_>,
    state: &Pushed,
    cs: &Changeset,
) -> Result<Option<Exported>, SyncError> {
    if cs.header.prev != state.last_checksum {
        return Ok(None);
    }
    let ids: Vec<_> = cs.entries.iter().map(|e| e.id).collect();
    let upto = store.max_seq()?;
    let same = |page: &[(i64, crate::record::Record)]| {
        page.len() == ids.len() && page.iter().map(|(_, e)| e.id).eq(ids.iter().copied())
    };
    let scope = remote.projects();
    for exclude in [Some(found.remote_id), None] {
        let page = store.export_page(state.high_water, upto, exclude, scope, ids.len())?;
        if same(&page) {
            return Ok(page.last().map(|(seq, _)| Exported {
                after: state.high_water,
                last: *seq,
                exclude,
                projects: scope.map(<[String]>::to_vec),
                late: false,
            }));
        }
    }
    if !found.backfill.is_empty()
        && let Some(first) = ids.first()
        && let Some(seq) = store.seq_of(*first)?
    {
        let exclude = Some(found.remote_id);
        let page = store.export_page(
            seq - 1,
            state.high_water,
            exclude,
            Some(found.backfill),
            ids.len(),
        )?;
        if same(&page) {
            return Ok(page.last().map(|(last, _)| Exported {
                after: seq - 1,
                last: *last,
                exclude,
                projects: Some(found.backfill.to_vec()),
                late: true,
            }));
        }
    }
    Ok(None)
}

/// The plan of push's check, from listings alone (no remote, no database).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SeededIds;
    use crate::record::Checksum;

    fn name(peer: PeerId, generation: u64, seq: u64) -> CsetName {
        CsetName {
            peer,
            generation,
            seq,
        }
    }

    fn state(generation: u64, last_seq: u64) -> Pushed {
        Pushed {
            generation,
            last_seq,
            last_checksum: (last_seq > 0).then_some(Checksum([last_seq as u8; 32])),
            high_water: 0,
        }
    }

    #[test]
    fn nothing_new_checks_the_last_changeset_and_adopts_nothing() {
        let (me, other) = (
            PeerId::generate(&SeededIds::new(1)),
            PeerId::generate(&SeededIds::new(2)),
        );
        let listing = [name(me, 1, 2), name(me, 1, 3), name(other, 1, 9)];
        assert_eq!(
            plan_stream(&listing, me, &state(1, 3)),
            StreamPlan::Check {
                last: Some(name(me, 1, 3)),
                listed: true,
                beyond: vec![],
            }
        );
        // A first push into an empty remote: nothing to check.
        assert_eq!(
            plan_stream(&[], me, &state(1, 0)),
            StreamPlan::Check {
                last: None,
                listed: false,
                beyond: vec![],
            }
        );
    }

    #[test]
    fn an_interrupted_push_leaves_changesets_to_adopt_in_order() {
        let me = PeerId::generate(&SeededIds::new(1));
        let listing = [name(me, 1, 3), name(me, 1, 4), name(me, 1, 5)];
        assert_eq!(
            plan_stream(&listing, me, &state(1, 3)),
            StreamPlan::Check {
                last: Some(name(me, 1, 3)),
                listed: true,
                beyond: vec![name(me, 1, 4), name(me, 1, 5)],
            }
        );
    }

    #[test]
    fn a_listing_that_lacks_the_last_changeset_asks_for_it_by_name() {
        let me = PeerId::generate(&SeededIds::new(1));
        assert_eq!(
            plan_stream(&[name(me, 1, 1)], me, &state(1, 2)),
            StreamPlan::Check {
                last: Some(name(me, 1, 2)),
                listed: false,
                beyond: vec![],
            }
        );
    }

    #[test]
    fn another_database_ahead_and_the_generation_a_forced_push_starts() {
        let me = PeerId::generate(&SeededIds::new(1));
        // Beyond, but not the next one: a gap.
        let gap = [name(me, 1, 3), name(me, 1, 5)];
        assert_eq!(
            plan_stream(&gap, me, &state(1, 3)),
            StreamPlan::Ahead(name(me, 1, 5))
        );
        // Its own last one gone while another pushed past it.
        let past = [name(me, 1, 4)];
        assert_eq!(
            plan_stream(&past, me, &state(1, 3)),
            StreamPlan::Ahead(name(me, 1, 4))
        );
        // A new generation goes past every one of this peer's the remote holds.
        let copies = [name(me, 1, 3), name(me, 3, 1)];
        assert_eq!(next_generation(&copies, me, 2), 4);
        assert_eq!(next_generation(&[], me, 2), 3);
        // Another generation's changesets are not this stream's.
        assert_eq!(
            plan_stream(&copies, me, &state(2, 0)),
            StreamPlan::Check {
                last: None,
                listed: false,
                beyond: vec![],
            }
        );
    }
}
