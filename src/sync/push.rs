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

use std::collections::BTreeMap;

use crate::changeset::{self, Changeset, Header};
use crate::progress::Guard;
use crate::record::Record;
use crate::remote::{CsetName, Remote, RemoteError};
use crate::store::{Pushed, Store};

use super::{Counts, Divergence, DivergenceKind, PerProject, SyncError, publish_manifest};

/// Rows read from SQLite at a time.
pub(crate) const PAGE_ROWS: usize = 1_000;
/// A changeset is closed once its bodies reach this many bytes (what bounds the memory of a
/// push and a pull)...
const CHUNK_BYTES: usize = 4 << 20;
/// ...or it holds this many entries.
const CHUNK_ENTRIES: usize = 50_000;

#[derive(Debug, Clone, Copy, Default)]
pub struct PushOptions {
    pub force: bool,
    /// The smallest body tried as a delta against what the stream already published (None:
    /// [`super::deltas::DEFAULT_MIN_BODY`]; `Some(usize::MAX)`: every version whole).
    pub delta_min_body: Option<usize>,
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
    if let Some(divergence) = check_stream(store, remote, remote_id, &mut state, &mut report)? {
        if !opts.force {
            return Err(SyncError::Diverged(divergence));
        }
        let mine = remote
            .list_peer(store.peer().id, None)?
            .changesets
            .iter()
            .filter(|n| n.peer == store.peer().id)
            .map(|n| n.generation)
            .max()
            .unwrap_or(0);
        let next = generation.max(mine) + 1;
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
    export(
        store,
        remote,
        (remote_id, delta_min),
        &mut state,
        echo_filter,
        &mut report,
    )?;
    publish_manifest(store, remote, remote_id, !report.published.is_empty())?;
    report.entries = report.per_project.values().map(Counts::total).sum();
    Ok(report)
}

/// Compares this peer's stream in the remote with what this database remembers; adopts what
/// an interrupted push of this database left; returns what does not fit.
fn check_stream(
    store: &Store,
    remote: &Remote,
    remote_id: i64,
    state: &mut Pushed,
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
    let mine: BTreeMap<u64, Vec<CsetName>> = listing
        .changesets
        .iter()
        .filter(|n| n.peer == me.id)
        .fold(BTreeMap::new(), |mut m, n| {
            m.entry(n.generation).or_insert_with(Vec::new).push(*n);
            m
        });
    let copied = if me.host != store.runtime().host {
        format!(
            " This home was created on host {:?} and now runs on {:?}: it looks copied.",
            me.host,
            store.runtime().host
        )
    } else {
        String::new()
    };
    let ahead = |what: String| {
        Some(Divergence {
            kind: DivergenceKind::RemoteAhead,
            explanation: format!(
                "push refused: {what} Another database pushes as this peer ({}): this one was \
                 restored from a backup, or the home was copied to another machine.{copied} \
                 `context sync push --force` starts generation {} so that both histories are \
                 kept; `context sync pull` brings back what the other one published.",
                me.id,
                mine.keys()
                    .max()
                    .copied()
                    .unwrap_or(generation)
                    .max(generation)
                    + 1
            ),
        })
    };

    // Other generations of this peer (its own past, or a copy's new start) are streams of their
    // own, which pulls apply like any other; only this generation's stream is checked here.
    let stream = mine.get(&generation).cloned().unwrap_or_default();

    if state.last_seq > 0 {
        let last = stream.iter().find(|n| n.seq == state.last_seq);
        let missing = |what: String| {
            Some(Divergence {
                kind: DivergenceKind::RemoteMissing,
                explanation: format!(
                    "push refused: {what} Was the folder emptied or replaced, or is it not \
                     mounted? `context sync push --force` publishes again everything this \
                     database holds, as generation {}.",
                    generation + 1
                ),
            })
        };
        // A listing may lag behind the store (S3-compatible stores that list eventually):
        // the last changeset this peer published is asked for by name before it is called
        // lost.
        let by_name = CsetName {
            peer: me.id,
            generation,
            seq: state.last_seq,
        };
        let last = match last {
            Some(n) => Some(*n),
            None => match remote.read_trailer(&by_name) {
                Ok(_) => {
                    tracing::info!(changeset = %by_name, "the listing lacked it; it is there");
                    Some(by_name)
                }
                Err(crate::remote::RemoteError::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            },
        };
        let Some(last) = last.as_ref() else {
            if let Some(beyond) = stream.iter().find(|n| n.seq > state.last_seq) {
                // Its own last changeset was pruned after another database pushed past it.
                return Ok(ahead(format!(
                    "the remote holds {beyond}, beyond changeset {} that this database \
                     published last.",
                    state.last_seq
                )));
            }
            let present = remote
                .list_peer(me.id, None)?
                .changesets
                .iter()
                .filter(|n| n.generation == generation && n.seq <= state.last_seq)
                .count();
            return Ok(missing(format!(
                "the remote {} lacks changesets this peer published there: {} of \
                 generation {generation} were published, {present} of them are left.",
                remote.location(),
                state.last_seq
            )));
        };
        // The trailer tells the file this peer published from any other; whether its bytes
        // are intact is for the readers (pull, verify) to check.
        let same = remote.read_trailer(last)? == state.last_checksum;
        if !same {
            // A sealed file read as plain (the key record gone) is no divergence: reading it
            // whole says what it is.
            if let Err(e @ crate::remote::RemoteError::SealedWithoutRecord { .. }) =
                remote.read(last)
            {
                return Err(e.into());
            }
            return Ok(missing(format!(
                "the changeset {} in the remote {} is not the one this peer published there.",
                last,
                remote.location()
            )));
        }
    }

    let known = state.last_seq;
    for name in stream.iter().filter(|n| n.seq > known) {
        if name.seq != state.last_seq + 1 {
            return Ok(ahead(format!(
                "the remote holds {name}, beyond changeset {} that this database published last.",
                state.last_seq
            )));
        }
        let bytes = remote.read(name)?;
        let Ok((cs, checksum)) = changeset::decode(&bytes) else {
            return Ok(ahead(format!(
                "the remote holds {name}, beyond what this database published, and it does \
                 not decode."
            )));
        };
        // Ours only if it is exactly what this database would export next: the same rows in
        // the same order (with or without the rows pulled from this remote, as a push after
        // a lost remote exports them too). Holding the same rows is not enough: a copy of this
        // home can hold them through a snapshot, with rows of its own between them.
        let ids: Vec<_> = cs.entries.iter().map(|e| e.id).collect();
        let upto = store.max_seq()?;
        let mut high_water = None;
        for exclude in [Some(remote_id), None] {
            let page = store.export_page(state.high_water, upto, exclude, ids.len())?;
            if page.len() == ids.len() && page.iter().map(|(_, e)| e.id).eq(ids.iter().copied()) {
                high_water = page.last().map(|(seq, _)| (*seq, exclude));
                break;
            }
        }
        let Some((high_water, exclude)) =
            high_water.filter(|_| cs.header.prev == state.last_checksum)
        else {
            let mut unknown = 0usize;
            for id in &ids {
                if store.seq_of(*id)?.is_none() {
                    unknown += 1;
                }
            }
            return Ok(ahead(format!(
                "the remote holds {name} (written on host {:?}), beyond what this database \
                 published, with {unknown} versions this database does not have.",
                cs.header.host
            )));
        };
        // Ours: a push of this database published it and died before recording it.
        tracing::info!(changeset = %name, "finishing an interrupted push");
        let rebuild = crate::store::Rebuild {
            after_seq: state.high_water,
            last_seq: high_water,
            excluded_remote: exclude,
            created_at_ms: cs.header.created_at_ms,
            host: cs.header.host.clone(),
            checksum,
            // As a push of this database writes them by default.
            delta_min: Some(super::deltas::DEFAULT_MIN_BODY),
            delta_reach: super::deltas::REACH,
        };
        *state = Pushed {
            generation,
            last_seq: name.seq,
            last_checksum: Some(checksum),
            high_water,
        };
        store.record_published(remote_id, state, &rebuild)?;
        report.adopted.push(name.to_string());
    }
    Ok(None)
}

fn export(
    store: &Store,
    remote: &Remote,
    (remote_id, delta_min): (i64, Option<usize>),
    state: &mut Pushed,
    echo_filter: bool,
    report: &mut PushReport,
) -> Result<(), SyncError> {
    let upto = store.max_seq()?;
    let exclude = echo_filter.then_some(remote_id);
    let progress = store.runtime().progress.clone();
    let total = match exclude {
        Some(r) if progress.listening() => store.count_unpushed(state.high_water, r)?,
        _ => (upto - state.high_water).max(0) as u64,
    };
    let bar = Guard::start(progress.as_ref(), "push", "versions", total);
    let page = |after| store.export_page(after, upto, exclude, PAGE_ROWS);
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
        publish_chunk(
            store,
            remote,
            (remote_id, exclude, delta_min),
            state,
            chunk,
            last,
            report,
        )?;
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

fn publish_chunk(
    store: &Store,
    remote: &Remote,
    (remote_id, exclude, delta_min): (i64, Option<i64>, Option<usize>),
    state: &mut Pushed,
    mut entries: Vec<Record>,
    covers: i64,
    report: &mut PushReport,
) -> Result<(), SyncError> {
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
        store.runtime().host.clone(),
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
        after_seq: state.high_water,
        last_seq: covers,
        excluded_remote: exclude,
        created_at_ms,
        host,
        checksum,
        delta_min,
        delta_reach: super::deltas::REACH,
    };
    *state = Pushed {
        generation: state.generation,
        last_seq: name.seq,
        last_checksum: Some(checksum),
        high_water: covers,
    };
    store.record_published(remote_id, state, &rebuild)?;
    tracing::info!(changeset = %name, entries = count, bytes = bytes.len(), "published");
    report.changesets += 1;
    report.published.push(PublishedFile {
        file: name.to_string(),
        entries: count,
    });
    Ok(())
}
