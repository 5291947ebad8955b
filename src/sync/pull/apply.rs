//! Carrying out a pull's [`ReadPlan`] in one transaction, in named phases: the snapshots that
//! stand for pruned beginnings, then each stream's changesets (read ahead by other threads),
//! then the tails the peers' manifests promise, then which keys now conflict, then what
//! happened to each key, and last the commit, or the rollback of a dry run or a refusal.

use std::collections::HashMap;

use crate::clock::rfc3339;
use crate::ids::PeerId;
use crate::progress::Guard;
use crate::record::Checksum;
use crate::remote::{CsetName, FileName, Remote};
use crate::store::{self, Applied, Import, Store};
use crate::sync::snapshot::StreamId;

use super::import::{
    Decoded, Touched, conflict_of, descends, held_of, import_all, read_and_decode, try_merge,
    write_merge,
};
use super::plan::{File, ReadPlan, StreamRead, classify};
use super::{
    Action, BACKUPS_KEPT, BadFile, DEFAULT_TRANSIT_GRACE_MS, KeyPlan, PullOptions, PullReport,
    Waiting,
};
use crate::sync::{SyncError, prefetch, publish_manifest};

/// What the phases of one pull share: the transaction, what it found so far, and where each
/// stream has got to.
struct Apply<'a> {
    imp: Import<'a>,
    remote_id: i64,
    me: PeerId,
    now: i64,
    grace: i64,
    opts: PullOptions,
    report: PullReport,
    touched: Touched,
    /// How far each stream is applied as the pull goes.
    reached: HashMap<StreamId, u64>,
    /// Missing files met by this pull (in transit, or lost).
    met: Vec<String>,
    /// What a refusal would keep, with the local side's id: each refused conflict, and each
    /// clean merge with its body (written again as a resolution once the pull is rolled back).
    /// Their incoming sides are read only if the pull is refused ([`Apply::finish`]).
    refused: Vec<(store::Conflict, String)>,
    merges: Vec<(store::Conflict, String, Vec<u8>)>,
    /// The projects the remote carries (`None`: all): a file holding another's is bad data.
    projects: Option<Vec<String>>,
}

/// The next decoded file from the readers, in plan order.
type Receive<'r> = dyn FnMut(&dyn FileName) -> Result<Decoded, SyncError> + 'r;

/// Reads what `plan` says, in one transaction: imports every changeset that checks out,
/// classifies every key it touched, and commits, or rolls back for a dry run or a refusal.
pub(super) fn apply(
    store: &mut Store,
    remote: &Remote,
    remote_id: i64,
    plan: ReadPlan,
    opts: PullOptions,
) -> Result<PullReport, SyncError> {
    let rt = store.runtime().clone();
    let db_path = store.path().to_path_buf();
    let report = PullReport {
        remote: remote.location(),
        dry_run: opts.dry_run,
        forced: opts.force,
        skipped: plan.skipped.clone(),
        bad: plan.bad.clone(),
        ..PullReport::default()
    };
    for s in &report.skipped {
        tracing::debug!(file = %s.file, "{}", s.reason);
    }
    let me = store.peer().id;
    let generation = store.peer().generation as u64;
    let now = store.now_ms();
    let imp = store.begin_import()?;
    let fresh = imp.is_empty()?;
    let mut run = Apply {
        imp,
        remote_id,
        me,
        now,
        grace: opts.transit_grace_ms.unwrap_or(DEFAULT_TRANSIT_GRACE_MS),
        opts,
        report,
        touched: Touched::new(fresh, opts.dry_run),
        reached: plan
            .streams
            .iter()
            .filter_map(|w| w.position.map(|p| (w.stream, p.0.last_seq)))
            .collect(),
        met: Vec::new(),
        projects: remote.projects().map(<[String]>::to_vec),
        refused: Vec::new(),
        merges: Vec::new(),
    };
    for f in &plan.incomplete {
        run.missing(f.file.clone(), f.reason.clone())?;
    }
    let before_max = run.imp.max_seq()?;
    // Into an empty database, the history index is built once at the end (a sort) rather
    // than row by row; the same transaction, so a crash leaves it as it was.
    if fresh && !opts.dry_run {
        run.imp.drop_history_index()?;
    }
    run.read_and_import(remote, &plan, &rt)?;
    run.check_tails(&plan)?;
    // Everything this pull inserted came from this remote: a push there need not look at it.
    let after_max = run.imp.max_seq()?;
    run.imp
        .advance_high_water(remote_id, generation, before_max, after_max)?;
    run.refresh_conflicts()?;
    run.classify_keys(&rt)?;
    let Some((report, kept)) = run.finish(&db_path, &rt)? else {
        return Err(SyncError::Interrupted("nothing applied".to_string()));
    };
    let mut report = report;
    if let Some((held, merges)) = kept {
        keep_refused(store, &mut report, held, merges)?;
    }
    if report.applied
        && let Err(e) = publish_manifest(store, remote, remote_id, false)
    {
        report.warnings.push(crate::sync::manifest_warning(&e));
    }
    Ok(report)
}

impl Apply<'_> {
    /// A file the plan needs and the remote lacks: in transit while this home first met it
    /// less than the grace ago, bad data after.
    fn missing(&mut self, file: String, why: String) -> Result<(), SyncError> {
        let first = self.imp.met_missing(self.remote_id, &file, self.now)?;
        self.met.push(file.clone());
        if self.now - first < self.grace {
            tracing::info!(%file, first_missed_at = %rfc3339(first), "waiting for a file in transit");
            self.report.waiting.push(Waiting {
                file,
                first_missed_at: rfc3339(first),
            });
        } else {
            self.report.bad.push(BadFile {
                file,
                reason: format!(
                    "{why}, for {} now (since this home first met the gap at {})",
                    crate::clock::describe_age(self.now - first),
                    rfc3339(first)
                ),
            });
        }
        Ok(())
    }

    /// Readers read and decode the files in plan order while this thread inserts: decoding
    /// overlaps SQLite's work, and over a network several reads are in flight. At most as many
    /// decoded changesets wait as there are readers, so memory stays bounded.
    fn read_and_import(
        &mut self,
        remote: &Remote,
        plan: &ReadPlan,
        rt: &crate::runtime::Runtime,
    ) -> Result<(), SyncError> {
        let order = plan.files();
        let bar = Guard::start(
            rt.progress.as_ref(),
            "pull",
            "changesets",
            order.len() as u64,
        );
        let buffer = prefetch::Buffer::new();
        let read = |file: &File| read_and_decode(remote, file.name());
        let parallel = remote.read_parallelism();
        std::thread::scope(|scope| -> Result<(), SyncError> {
            let mut feed = prefetch::start(scope, &buffer, &order, parallel, &read);
            let mut receive = |name: &dyn FileName| {
                if rt.interrupted() {
                    return Err(SyncError::Interrupted("nothing applied".to_string()));
                }
                bar.advance(1);
                feed.next().ok_or_else(|| {
                    SyncError::Remote(crate::remote::RemoteError::Read {
                        location: name.rel_path(),
                        source: "the changeset readers stopped".into(),
                    })
                })
            };
            let failed = self.apply_snapshots(plan, &mut receive)?;
            for w in &plan.streams {
                self.apply_stream(w, &failed, &mut receive)?;
            }
            Ok(())
        })
    }

    /// The snapshots first: their rows, then the positions they stand for. Returns which of
    /// them failed (the streams they stand for stop).
    fn apply_snapshots(
        &mut self,
        plan: &ReadPlan,
        receive: &mut Receive<'_>,
    ) -> Result<Vec<bool>, SyncError> {
        let chosen = &plan.snapshots;
        let mut failed = vec![false; chosen.len()];
        for (k, snap) in chosen.iter().enumerate() {
            let mut prev: Option<Checksum> = None;
            for part in &snap.parts {
                let item = receive(part)?;
                if failed[k] {
                    continue;
                }
                match self.import_part(item, part, prev)? {
                    Ok(checksum) => prev = Some(checksum),
                    Err(reason) => {
                        self.report.bad.push(BadFile {
                            file: part.rel_path(),
                            reason,
                        });
                        failed[k] = true;
                    }
                }
            }
            if !failed[k] && snap.header.prev != prev {
                self.report.bad.push(BadFile {
                    file: snap.seal.rel_path(),
                    reason: "it does not chain on from the snapshot's last part".into(),
                });
                failed[k] = true;
            }
            if failed[k] {
                continue;
            }
            for c in &snap.header.covers {
                let stream = (c.peer, c.generation);
                let stands_for = plan
                    .streams
                    .iter()
                    .any(|w| w.stream == stream && w.position.is_some_and(|p| p.1 == Some(k)));
                if stands_for {
                    self.set_applied(stream, c.seq, c.checksum)?;
                }
            }
            for (peer, host) in &snap.header.hosts {
                self.imp.note_host(*peer, host)?;
            }
            tracing::info!(snapshot = %snap.seal, "snapshot applied");
            self.report.bootstrapped_from.push(snap.seal.rel_path());
        }
        Ok(failed)
    }

    /// One part of a snapshot, checked and imported: its checksum, or why it is bad.
    fn import_part(
        &mut self,
        item: Decoded,
        part: &crate::remote::SnapshotName,
        prev: Option<Checksum>,
    ) -> Result<Result<Checksum, String>, SyncError> {
        let (cs, checksum, digests) = match item {
            Ok(d) => d,
            Err(reason) => return Ok(Err(reason)),
        };
        if let Some(why) = crate::sync::misplaced_part(&cs.header, part, prev) {
            return Ok(Err(why));
        }
        self.import_checked(cs, checksum, digests)
    }

    /// A file that checked out: its deltas rebuilt against what the database holds (a wrong
    /// base is why it is bad), then every entry imported; its checksum.
    fn import_checked(
        &mut self,
        mut cs: crate::changeset::Changeset,
        checksum: Checksum,
        mut digests: Vec<Option<[u8; 32]>>,
    ) -> Result<Result<Checksum, String>, SyncError> {
        // A remote that carries some projects only: a file holding another project's rows is
        // refused whole (a colleague who shares one project cannot write into another).
        if let Some(carried) = &self.projects {
            let mut outside: Vec<&str> = cs
                .entries
                .iter()
                .map(|e| e.project.as_str())
                .chain(cs.header.projects.iter().map(|(p, _)| p.as_str()))
                .filter(|p| !carried.iter().any(|c| c == p))
                .collect();
            outside.sort();
            outside.dedup();
            if !outside.is_empty() {
                return Ok(Err(format!(
                    "it holds versions of {} {}, which this remote does not carry here (its \
                     projects: {}): nothing of it was applied",
                    if outside.len() == 1 {
                        "project"
                    } else {
                        "projects"
                    },
                    outside
                        .iter()
                        .map(|p| format!("{p:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    carried.join(", ")
                )));
            }
        }
        if let Err(why) = crate::sync::deltas::decode(&self.imp, &mut cs, &mut digests)? {
            return Ok(Err(why));
        }
        import_all(
            &self.imp,
            &cs,
            &digests,
            self.remote_id,
            &mut self.touched,
            &mut self.report,
        )?;
        Ok(Ok(checksum))
    }

    fn set_applied(
        &mut self,
        (peer, generation): StreamId,
        seq: u64,
        checksum: Checksum,
    ) -> Result<(), SyncError> {
        self.reached.insert((peer, generation), seq);
        self.imp.set_applied(
            self.remote_id,
            peer,
            generation,
            Applied {
                last_seq: seq,
                last_checksum: checksum,
            },
        )?;
        Ok(())
    }

    /// One stream's changesets, in order, each chaining on from the one before; the stream
    /// stops at the first gap or bad file (the others go on).
    fn apply_stream(
        &mut self,
        w: &StreamRead,
        failed: &[bool],
        receive: &mut Receive<'_>,
    ) -> Result<(), SyncError> {
        let (peer, generation) = w.stream;
        let start = w.start();
        let mut prev = w.position.map(|a| a.0.last_checksum);
        // A stream that continues from a snapshot that turned out damaged has a gap.
        let mut stopped = false;
        if let Some((_, Some(k))) = w.position
            && failed[k]
        {
            self.report.bad.push(BadFile {
                file: format!("{peer}/{:08x}-*", generation),
                reason: format!(
                    "the beginning of this stream (up to changeset {}) is gone and the \
                     snapshot that stands for it is damaged",
                    start - 1
                ),
            });
            stopped = true;
        }
        for (expected, name) in (start..).zip(&w.names) {
            // One item per name, in order, even for a stream already stopped.
            let item = receive(name)?;
            if stopped {
                continue;
            }
            if name.seq != expected {
                let first_missing = CsetName {
                    peer,
                    generation,
                    seq: expected,
                };
                self.missing(
                    first_missing.rel_path(),
                    format!(
                        "gap in the stream: changesets {expected} to {} of peer {peer} \
                         generation {generation} are missing, and no snapshot in the remote \
                         covers them",
                        name.seq - 1
                    ),
                )?;
                stopped = true;
                continue;
            }
            match self.import_changeset(item, name, prev)? {
                Ok(checksum) => {
                    self.set_applied(w.stream, name.seq, checksum)?;
                    self.report.changesets += 1;
                    prev = Some(checksum);
                }
                Err(reason) => {
                    self.report.bad.push(BadFile {
                        file: name.rel_path(),
                        reason,
                    });
                    stopped = true;
                }
            }
        }
        Ok(())
    }

    /// One changeset of a stream, checked (its name, its chain, its deltas) and imported: its
    /// checksum, or why it is bad.
    fn import_changeset(
        &mut self,
        item: Decoded,
        name: &CsetName,
        prev: Option<Checksum>,
    ) -> Result<Result<Checksum, String>, SyncError> {
        let (cs, checksum, digests) = match item {
            Ok(d) => d,
            Err(reason) => {
                let host = self.imp.host_of(name.peer)?;
                let hint = crate::sync::repair_hint(name.peer, self.me, host.as_deref());
                return Ok(Err(format!("{reason}; {hint}")));
            }
        };
        let h = &cs.header;
        if let Some(why) = crate::sync::misnamed(h, name) {
            return Ok(Err(why));
        }
        if h.prev != prev {
            return Ok(Err(
                "it does not chain on from the previous changeset of its stream (the previous \
                 one was replaced, or this one was)"
                    .to_string(),
            ));
        }
        self.import_checked(cs, checksum, digests)
    }

    /// What a peer's manifest says it published and the remote lacks: missing at the end of
    /// the stream (deleted, or still on its way), unless the stream already stopped short.
    fn check_tails(&mut self, plan: &ReadPlan) -> Result<(), SyncError> {
        for &((peer, generation), published) in &plan.expected {
            let at = self
                .reached
                .get(&(peer, generation))
                .copied()
                .unwrap_or_else(|| {
                    plan.streams
                        .iter()
                        .find(|w| w.stream == (peer, generation))
                        .map_or(0, |w| w.start() - 1)
                });
            let stream_prefix = format!("{peer}/{generation:08x}-");
            let said = self
                .report
                .bad
                .iter()
                .chain(plan.incomplete.iter())
                .map(|b| b.file.as_str())
                .chain(self.report.waiting.iter().map(|w| w.file.as_str()))
                .any(|f| f.starts_with(&stream_prefix));
            if at >= published || said {
                continue;
            }
            let first_missing = CsetName {
                peer,
                generation,
                seq: at + 1,
            };
            self.missing(
                first_missing.rel_path(),
                format!(
                    "changesets {} to {published} of peer {peer} generation {generation} are \
                     missing: its manifest says they were published",
                    at + 1
                ),
            )?;
        }
        Ok(())
    }

    /// Which keys now have an unsettled conflict (what `context conflicts` lists).
    fn refresh_conflicts(&mut self) -> Result<(), SyncError> {
        if self.touched.fresh {
            if !self.opts.dry_run {
                self.imp.create_history_index()?;
            }
            self.imp.finish_bootstrap()?;
        } else {
            for (project, keys) in &self.touched.before {
                for key in keys.keys() {
                    store::refresh_conflicts(self.imp.conn(), project, key)?;
                }
            }
        }
        Ok(())
    }

    /// What happened to each key the pull touched, before and after: the conflicts (merged
    /// with `--merge` where they merge cleanly), and with `--dry-run` the whole plan.
    fn classify_keys(&mut self, rt: &crate::runtime::Runtime) -> Result<(), SyncError> {
        let mut keys: Vec<((String, String), Option<store::RowRef>)> =
            std::mem::take(&mut self.touched.before)
                .into_iter()
                .flat_map(|(project, keys)| {
                    keys.into_iter()
                        .map(move |(key, old)| ((project.clone(), key), old))
                })
                .collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        for ((project, key), old) in keys {
            if old.is_none() && !self.opts.dry_run {
                // A new key: nothing to classify, no conflict possible.
                continue;
            }
            let Some(new) = self.imp.current(&project, &key)? else {
                continue;
            };
            let descends = match &old {
                Some(old) if old.id != new.id => descends(&self.imp, &new, old)?,
                _ => false,
            };
            let imp = &self.imp;
            let action = classify(old.as_ref(), &new, descends, self.me, |old, new| {
                imp.same_content(old.id, new.id)
            })?;
            let mut item = KeyPlan {
                project,
                key,
                action,
                local: old.map(|o| o.id.to_string()),
                winner: new.id.to_string(),
                why: None,
            };
            // With --merge, every conflict this pull brings is merged where it merges cleanly:
            // the refusals, and the incoming versions that lost to a local one.
            let merging = self.opts.merge
                && !self.opts.dry_run
                && matches!(
                    action,
                    Action::Conflict | Action::KeptLocal | Action::Replaced
                );
            let refusing = action == Action::Conflict && !self.opts.force && !self.opts.dry_run;
            let conflict = if merging || refusing {
                conflict_of(&self.imp, self.me, &item)?
            } else {
                None
            };
            let mut merged = false;
            if let Some(c) = conflict {
                let local = item.local.clone().unwrap_or_default();
                let clean = match merging.then(|| try_merge(&self.imp, &c)).transpose()? {
                    Some(Ok(body)) => Some(body),
                    Some(Err(why)) => {
                        item.why = Some(why);
                        None
                    }
                    None => None,
                };
                if let Some(body) = clean {
                    let m = write_merge(&self.imp, rt, self.me, self.now, &c, &body)?;
                    self.report.merged.push(m);
                    if !self.opts.force {
                        self.merges.push((c, local, body));
                    }
                    merged = true;
                } else if refusing {
                    self.refused.push((c, local));
                }
            }
            if action == Action::Conflict && !merged {
                self.report.conflicts.push(item.clone());
            }
            if self.opts.dry_run {
                self.report.plan.push(item);
            }
        }
        Ok(())
    }

    /// Commits, or rolls back a dry run or a refused pull; a forced pull that replaces local
    /// versions backs the database up first. `None`: interrupted, nothing applied.
    fn finish(self, db_path: &std::path::Path, rt: &crate::runtime::Runtime) -> Finished {
        let Apply {
            imp,
            remote_id,
            now,
            opts,
            mut report,
            met,
            refused: conflicts,
            merges,
            ..
        } = self;
        imp.forget_missing_except(remote_id, &met)?;
        let refused = !report.conflicts.is_empty() && !opts.force;
        if refused || opts.dry_run {
            // The incoming sides, read before the transaction that holds them goes.
            let kept = if refused && !opts.dry_run {
                let held = conflicts
                    .iter()
                    .map(|(c, local)| held_of(&imp, c, local))
                    .collect::<Result<Vec<_>, _>>()?;
                let merges = merges
                    .into_iter()
                    .map(|(c, local, body)| Ok((held_of(&imp, &c, &local)?, body)))
                    .collect::<Result<Vec<_>, SyncError>>()?;
                Some((held, merges))
            } else {
                None
            };
            imp.rollback()?;
            return Ok(Some((report, kept)));
        }
        // What earlier refusals held and this pull applied is held no longer.
        imp.forget_applied_held()?;
        if !report.conflicts.is_empty() && db_path != std::path::Path::new(":memory:") {
            report.backup = Some(store::backup(db_path, now, BACKUPS_KEPT)?);
        }
        if rt.interrupted() {
            return Ok(None);
        }
        imp.commit()?;
        report.applied = true;
        Ok(Some((report, None)))
    }
}

/// What [`Apply::finish`] ends with: `None` when interrupted (nothing applied); else the report,
/// and for a refusal what it keeps (held sides, clean merges).
type Finished = Result<Option<(PullReport, Option<Kept>)>, SyncError>;
type Kept = (Vec<store::Held>, Vec<(store::Held, Vec<u8>)>);

/// After a refused pull is rolled back: keeps the incoming side of every refused key, so that
/// `conflicts`, `diff` and `resolve` reach it, and writes each clean merge as a resolution of
/// its key (settling the incoming side it merged), so the next pull finds it settled.
fn keep_refused(
    store: &mut Store,
    report: &mut PullReport,
    held: Vec<store::Held>,
    merges: Vec<(store::Held, Vec<u8>)>,
) -> Result<(), SyncError> {
    let all: Vec<store::Held> = held
        .into_iter()
        .chain(merges.iter().map(|(h, _)| h.clone()))
        .collect();
    store.hold(&all)?;
    for (h, body) in merges {
        let (project, key) = (&h.theirs.project, &h.theirs.key);
        let v = store.write_resolution(project, key, Some(&body))?;
        if let Some(m) = report
            .merged
            .iter_mut()
            .find(|m| &m.project == project && &m.key == key)
        {
            m.version = v.id.to_string();
        }
    }
    Ok(())
}
