//! `context sync push`: publish this peer's new rows to a remote.
//!
//! The stream of (this peer, its generation) in a remote is a chain of changesets. Push first
//! checks the chain against what this database remembers publishing ([`Pushed`]):
//!
//! - changesets beyond the last one it remembers, whose every entry this database holds and
//!   which chain on from it, were left by an interrupted push of this same database: they are
//!   adopted (the mark moves over them), not published again;
//! - anything else beyond it means another database pushes as this peer in this generation
//!   (a restored backup, a copied home): refused, exit 3;
//! - the last changeset it remembers missing or different means the remote lost what this peer
//!   published (an emptied, replaced or unmounted folder): refused, exit 3.
//!
//! With `--force` a refused push starts a new generation: a fresh stream that both histories
//! survive beside (after a lost remote, it republishes everything this database holds).
//!
//! Then it exports the rows above the high-water mark, oldest first, in pages, into
//! changesets of bounded size: memory stays bounded whatever the backlog. Rows pulled from this
//! same remote are not echoed back. Each changeset is published atomically before the mark
//! advances past it, so a crash between the two leaves a changeset the next push adopts.

use crate::changeset::{self, Changeset, Header};
use crate::progress::Guard;
use crate::record::Record;
use crate::remote::{CsetName, Remote, RemoteError};
use crate::store::{Pushed, Store};

use super::{Counts, Divergence, DivergenceKind, PerProject, SyncError, publish_manifest};

mod check;

use check::check_stream;
pub use check::{StreamPlan, next_generation, plan_stream};

/// Rows read from SQLite at a time.
pub(crate) const PAGE_ROWS: usize = 1_000;
/// A changeset is closed once its bodies reach this many bytes (what bounds the memory of a
/// push and a pull)...
const CHUNK_BYTES: usize = 4 << 20;
/// ...or it holds this many entries.
const CHUNK_ENTRIES: usize = 50_000;

#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    pub force: bool,
    /// The smallest body tried as a delta against what the stream already published (None:
    /// [`super::deltas::DEFAULT_MIN_BODY`]; `Some(usize::MAX)`: every version whole).
    pub delta_min_body: Option<usize>,
    /// Projects added to the remote's list: this push first publishes their history that the
    /// stream passed over while they were not (the rows below its mark).
    pub backfill: Vec<String>,
}

/// One changeset file a push wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublishedFile {
    /// Relative to the remote.
    pub file: String,
    pub entries: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PushReport {
    pub remote: String,
    pub generation: u64,
    /// How many changesets this run published.
    pub changesets: u64,
    /// The changesets published by this run, with their entry counts.
    pub published: Vec<PublishedFile>,
    /// Changesets of an interrupted push that this run recognised and finished.
    pub adopted: Vec<String>,
    /// Versions and tombstones published, in all projects.
    pub entries: u64,
    pub per_project: PerProject,
    /// Set when `--force` started a new generation: what was found.
    pub new_generation: Option<String>,
    /// What went wrong without undoing the push (the manifest could not be written).
    pub warnings: Vec<String>,
}

pub fn push(
    store: &mut Store,
    remote: &Remote,
    opts: PushOptions,
) -> Result<PushReport, SyncError> {
    let location = remote.location();
    let remote_id = store.remote_id(&location)?;
    let generation = store.peer().generation as u64;
    let mut report = PushReport {
        remote: location,
        generation,
        ..PushReport::default()
    };

    // Where this generation's stream stands; a generation new to this remote continues from
    // the mark of the previous one.
    let mut state = match store.pushed(remote_id, generation)? {
        Some(p) => p,
        None => Pushed {
            generation,
            last_seq: 0,
            last_checksum: None,
            high_water: store.latest_pushed(remote_id)?.map_or(0, |p| p.high_water),
        },
    };

    let mut echo_filter = true;
    if let Some(divergence) = check_stream(
        store,
        remote,
        remote_id,
        &mut state,
        &opts.backfill,
        &mut report,
    )? {
        if !opts.force {
            return Err(SyncError::Diverged(divergence));
        }
        let mine = remote.list_peer(store.peer().id, None)?.changesets;
        let next = next_generation(&mine, store.peer().id, generation);
        // The host it now runs on (a copied home): not its name, which stays.
        let host = store.runtime().host.clone();
        store.start_generation(next, &host)?;
        tracing::info!(from = generation, to = next, "starting a new generation");
        report.new_generation = Some(divergence.explanation.clone());
        report.generation = next;
        if divergence.kind == DivergenceKind::RemoteMissing {
            // The remote lost what it had: publish everything again, pulled rows included.
            state.high_water = 0;
            echo_filter = false;
        }
        state = Pushed {
            generation: next,
            last_seq: 0,
            last_checksum: None,
            high_water: state.high_water,
        };
    }

    // Deltas in an encrypted remote too: a file with deltas inside is sealed as format 4.
    let delta_min = Some(
        opts.delta_min_body
            .unwrap_or(super::deltas::DEFAULT_MIN_BODY),
    )
    .filter(|m| *m != usize::MAX);
    let target = Export {
        store,
        remote,
        remote_id,
        exclude: echo_filter.then_some(remote_id),
        delta_min,
        projects: remote.projects(),
    };
    // Only projects the remote carries; a mark of 0 (a stream starting over) passes nothing.
    let backfill: Vec<String> = opts
        .backfill
        .iter()
        .filter(|p| remote.projects().is_none_or(|all| all.contains(p)))
        .cloned()
        .collect();
    if !backfill.is_empty() && state.high_water > 0 {
        publish_history(&target, &mut state, &backfill, &mut report)?;
    }
    export(&target, &mut state, &mut report)?;
    publish_manifest(store, remote, remote_id, !report.published.is_empty())?;
    report.entries = report.per_project.values().map(Counts::total).sum();
    Ok(report)
}

/// What a push's export and each changeset it publishes share: where it writes, and what it
/// leaves out.
struct Export<'a> {
    store: &'a Store,
    remote: &'a Remote,
    remote_id: i64,
    /// Rows pulled from this remote are not echoed back to it (`None`: everything, after a
    /// lost remote).
    exclude: Option<i64>,
    /// The smallest body tried as a delta (`None`: every version whole).
    delta_min: Option<usize>,
    /// The projects the remote carries (`None`: all).
    projects: Option<&'a [String]>,
}

/// Publishes the history of `projects` (added to the remote's list) that the stream passed
/// over: their rows up to the stream's mark, as changesets of the stream like any other (each
/// remembered with its range and projects, so that `repair` rebuilds it); the mark stays.
fn publish_history(
    target: &Export<'_>,
    state: &mut Pushed,
    projects: &[String],
    report: &mut PushReport,
) -> Result<(), SyncError> {
    let Export {
        store,
        exclude,
        remote_id,
        ..
    } = *target;
    let upto = state.high_water;
    // Where an interrupted push left this history (the stream's last changeset is one of
    // it, adopted since): on from there, so that no version is published twice.
    let start = store
        .published(remote_id)?
        .into_iter()
        .rfind(|(generation, _, _)| *generation == state.generation)
        .filter(|(_, _, r)| r.late && r.projects.as_deref() == Some(projects))
        .map_or(0, |(_, _, r)| r.last_seq);
    tracing::info!(
        ?projects,
        start,
        upto,
        "publishing the history of projects added to the remote"
    );
    let page = |after| store.export_page(after, upto, exclude, Some(projects), PAGE_ROWS);
    let mut after = start;
    export_chunks(page, start, |chunk, last| {
        publish_chunk(
            target,
            state,
            chunk,
            (after, last),
            Some(projects),
            true,
            report,
        )?;
        after = last;
        Ok(())
    })
}

fn export(
    target: &Export<'_>,
    state: &mut Pushed,
    report: &mut PushReport,
) -> Result<(), SyncError> {
    let Export {
        store,
        remote_id,
        exclude,
        projects,
        ..
    } = *target;
    let upto = store.max_seq()?;
    let progress = store.runtime().progress.clone();
    let total = match exclude {
        Some(r) if progress.listening() => store.count_unpushed(state.high_water, r, projects)?,
        _ => (upto - state.high_water).max(0) as u64,
    };
    let bar = Guard::start(progress.as_ref(), "push", "versions", total);
    let page = |after| store.export_page(after, upto, exclude, projects, PAGE_ROWS);
    let rt = store.runtime().clone();
    export_chunks(page, state.high_water, |chunk, last| {
        if rt.interrupted() {
            return Err(SyncError::Interrupted(match report.changesets {
                0 => "nothing published".to_string(),
                n => format!(
                    "{} published, and kept: the next push goes on from there",
                    super::plural(n, "changeset")
                ),
            }));
        }
        let n = chunk.len() as u64;
        let after = state.high_water;
        publish_chunk(target, state, chunk, (after, last), projects, false, report)?;
        bar.advance(n);
        Ok(())
    })?;
    drop(bar);
    // Rows left out (pulled from this remote) are passed over for good.
    if state.high_water < upto {
        state.high_water = upto;
        store.set_pushed(remote_id, state)?;
    }
    Ok(())
}

/// Reads rows after change-log position `after` through `page` (a page of rows after a
/// position, oldest first), and hands them to `emit` in chunks of bounded size, each with the
/// change-log position of its last row: what bounds the memory of a push and of a snapshot.
pub(crate) fn export_chunks(
    page: impl Fn(i64) -> Result<Vec<(i64, Record)>, crate::store::StoreError>,
    after: i64,
    mut emit: impl FnMut(Vec<Record>, i64) -> Result<(), SyncError>,
) -> Result<(), SyncError> {
    let mut after = after;
    let mut chunk: Vec<Record> = Vec::new();
    let mut chunk_bytes = 0usize;
    let mut chunk_last = after;
    loop {
        let rows = page(after)?;
        let Some(&(last, _)) = rows.last() else {
            break;
        };
        after = last;
        for (seq, entry) in rows {
            chunk_bytes += entry.body.as_ref().map_or(0, Vec::len) + entry.key.len() + 64;
            chunk.push(entry);
            chunk_last = seq;
            if chunk_bytes >= CHUNK_BYTES || chunk.len() >= CHUNK_ENTRIES {
                emit(std::mem::take(&mut chunk), chunk_last)?;
                chunk_bytes = 0;
            }
        }
    }
    if !chunk.is_empty() {
        emit(chunk, chunk_last)?;
    }
    Ok(())
}

/// Publishes `entries` (the rows of `projects` at change-log positions in `(after, covers]`) as
/// the stream's next changeset; the stream's mark moves up to `covers` (never down: a
/// project's history published late lies below it).
fn publish_chunk(
    target: &Export<'_>,
    state: &mut Pushed,
    mut entries: Vec<Record>,
    (after, covers): (i64, i64),
    projects: Option<&[String]>,
    late: bool,
    report: &mut PushReport,
) -> Result<(), SyncError> {
    let Export {
        store,
        remote,
        remote_id,
        exclude,
        delta_min,
        ..
    } = *target;
    let me = store.peer();
    let name = CsetName {
        peer: me.id,
        generation: state.generation,
        seq: state.last_seq + 1,
    };
    for e in &entries {
        super::count(&mut report.per_project, &e.project, e.kind);
    }
    // The stream's records are read only when some body is long enough to be tried.
    if let Some(min) = delta_min
        && entries
            .iter()
            .any(|e| e.body.as_ref().is_some_and(|b| b.len() >= min))
    {
        let bases =
            super::deltas::StreamBases::of(&store.published(remote_id)?, name.generation, name.seq);
        super::deltas::encode(store, &bases, &mut entries, min, super::deltas::REACH)?;
    }
    let header = Header::of_stream(
        me.id,
        state.generation,
        name.seq,
        state.last_checksum,
        store.now_ms(),
        store.peer().name.clone(),
    );
    let (created_at_ms, host) = (header.created_at_ms, header.host.clone());
    let cs = Changeset::new(header, entries);
    let count = cs.entries.len() as u64;
    let (bytes, checksum) = changeset::encode(&cs)?;
    drop(cs);
    match remote.publish(&name, &bytes) {
        // Another database wrote this very changeset between our check and our write: two
        // copies of this home pushing at once. The remote kept theirs; ours waits, as when
        // the check finds the remote ahead.
        Err(RemoteError::Exists { location }) => {
            return Err(SyncError::Diverged(Divergence {
                kind: DivergenceKind::RemoteAhead,
                explanation: format!(
                    "push refused: another database published {location} as this peer ({}) at the \
                     same moment: the home was copied to another machine, or restored from a \
                     backup, and both push. Nothing was replaced. `context sync push --force` \
                     starts a new generation so that both histories are kept.",
                    me.id
                ),
            }));
        }
        other => other?,
    }
    // Only now, with the changeset in place, does the mark move past its rows.
    let rebuild = crate::store::Rebuild {
        after_seq: after,
        last_seq: covers,
        excluded_remote: exclude,
        created_at_ms,
        host,
        checksum,
        delta_min,
        delta_reach: super::deltas::REACH,
        projects: projects.map(<[String]>::to_vec),
        late,
    };
    *state = Pushed {
        generation: state.generation,
        last_seq: name.seq,
        last_checksum: Some(checksum),
        high_water: state.high_water.max(covers),
    };
    store.remember_published(remote_id, state, &rebuild)?;
    tracing::info!(changeset = %name, entries = count, bytes = bytes.len(), "published");
    report.changesets += 1;
    report.published.push(PublishedFile {
        file: name.to_string(),
        entries: count,
    });
    Ok(())
}
