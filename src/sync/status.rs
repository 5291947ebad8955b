//! `context sync status`: where this peer stands against a remote, changing neither side.

use serde::Serialize;

use crate::clock::rfc3339;
use crate::remote::Remote;
use crate::store::{Run, Store};

use super::SyncError;
use super::pull::{KeyPlan, Waiting};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerSeen {
    pub peer: String,
    pub generation: u64,
    pub host: Option<String>,
    pub last_push_at: Option<String>,
    pub changesets: u64,
    pub this_peer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastRun {
    pub finished_at: String,
    pub outcome: String,
    pub exit_status: i64,
    pub scenario_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub peer_id: String,
    pub generation: u64,
    pub host: String,
    pub remote: String,
    /// Local rows not yet pushed to this remote.
    pub ahead: u64,
    /// Changesets in the remote not yet applied here.
    pub behind: u64,
    pub last_push: Option<String>,
    pub last_pull: Option<String>,
    pub last_push_run: Option<LastRun>,
    pub last_pull_run: Option<LastRun>,
    pub peers: Vec<PeerSeen>,
    /// Files this home is waiting for: missing from the remote when it last pulled, with when
    /// it first met each (a file-sync tool still delivering; damage once past the grace).
    pub in_transit: Vec<Waiting>,
    /// Keys where the last `pull --force` replaced a local version, with the replaced id.
    pub conflicts_resolved: Vec<KeyPlan>,
    /// Keys with an unsettled conflict, whatever remote brought it (`context conflicts`).
    pub conflicts: u64,
    /// When a pull and a push last both succeeded with this remote (RFC 3339), if ever.
    pub last_good_sync_at: Option<String>,
    /// The error of the last run, if the last pull or push failed.
    pub last_error: Option<String>,
    /// What is wrong in the remote as far as status looks (a peer's manifest that fails its
    /// check): bad data, exit 5.
    pub problems: Vec<String>,
}

impl Status {
    pub fn outcome(&self) -> crate::outcome::Outcome {
        if self.problems.is_empty() {
            crate::outcome::Outcome::Ok
        } else {
            crate::outcome::Outcome::BadData
        }
    }
}

pub fn status(store: &Store, remote: &Remote) -> Result<Status, SyncError> {
    let location = remote.location();
    // A remote this home never synced with is not registered by looking at it: an id no
    // remote has stands for it (nothing pushed there, nothing applied from it).
    let remote_id = store.known_remote_id(&location)?.unwrap_or(-1);
    let me = store.peer();
    let generation = me.generation as u64;
    let listing = remote.list()?;

    let ahead = store.count_unpushed(
        store.high_water(remote_id, generation)?,
        remote_id,
        remote.projects(),
    )?;

    let applied = store.applied(remote_id)?;
    let mut behind = 0;
    let mut peers: Vec<PeerSeen> = Vec::new();
    for ((peer, gen_), names) in listing.streams() {
        let this_peer = peer == me.id;
        if !(this_peer && gen_ == generation) {
            let done = applied
                .iter()
                .find(|(k, _)| *k == (peer, gen_))
                .map_or(0, |(_, a)| a.last_seq);
            behind += names.iter().filter(|n| n.seq > done).count() as u64;
        }
        match peers
            .iter_mut()
            .find(|p| p.peer == peer.to_string() && p.generation <= gen_)
        {
            Some(seen) => {
                seen.generation = gen_;
                seen.changesets += names.len() as u64;
            }
            None => peers.push(PeerSeen {
                peer: peer.to_string(),
                generation: gen_,
                host: None,
                last_push_at: None,
                changesets: names.len() as u64,
                this_peer,
            }),
        }
    }
    // This peer's own manifest is read as it is (it is replaced by the next run anyway);
    // every other one is checked.
    let mut manifests = super::read_manifests(remote, listing.manifests.iter().copied(), me.id)?;
    if let Ok(Some(mine)) = remote.read_manifest(me.id) {
        manifests.good.insert(me.id, mine);
    }
    let problems: Vec<String> = manifests
        .bad
        .iter()
        .map(|(file, why)| format!("{}/{file}: {why}", remote.location()))
        .collect();
    add_manifests(&mut peers, manifests.good, me.id);

    let last = |command: &str| -> Result<Option<Run>, SyncError> {
        Ok(store
            .runs(Some(command), 50)?
            .into_iter()
            .find(|r| r.remote.as_deref() == Some(location.as_str())))
    };
    let as_last = |r: &Run| LastRun {
        finished_at: rfc3339(r.finished_at_ms),
        outcome: r.outcome.clone(),
        exit_status: r.exit_status,
        scenario_id: r.scenario_id.clone(),
    };
    let health = super::health(store, &location, super::health::DEFAULT_MAX_AGE_MS)?;
    let last_push = last("push")?;
    let last_pull = last("pull")?;
    // The most recent forced pull that replaced local versions, however many pulls came since.
    let conflicts_resolved = store
        .runs(Some("pull"), 50)?
        .into_iter()
        .filter(|r| r.remote.as_deref() == Some(location.as_str()))
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.summary).ok())
        .find(|v| v["forced"].as_bool() == Some(true) && v["applied"].as_bool() == Some(true))
        .and_then(|v| serde_json::from_value::<Vec<KeyPlan>>(v["conflicts"].clone()).ok())
        .unwrap_or_default();

    Ok(Status {
        peer_id: me.id.to_string(),
        generation,
        host: me.name.clone(),
        remote: location,
        ahead,
        behind,
        last_push: last_push.as_ref().map(|r| rfc3339(r.finished_at_ms)),
        last_pull: last_pull.as_ref().map(|r| rfc3339(r.finished_at_ms)),
        last_push_run: last_push.as_ref().map(as_last),
        last_pull_run: last_pull.as_ref().map(as_last),
        peers,
        conflicts_resolved,
        conflicts: store.count_conflicted_keys()?,
        last_good_sync_at: health.last_good_sync_at,
        last_error: health.last_error,
        problems,
        in_transit: store
            .in_transit(remote_id)?
            .into_iter()
            .map(|(file, at)| Waiting {
                file,
                first_missed_at: rfc3339(at),
            })
            .collect(),
    })
}

/// What each peer's manifest adds to what its changesets say of it: its host, its newest
/// generation, its last push (a peer with a manifest and no changeset is seen too).
fn add_manifests(
    peers: &mut Vec<PeerSeen>,
    manifests: std::collections::BTreeMap<crate::ids::PeerId, crate::remote::Manifest>,
    me: crate::ids::PeerId,
) {
    for (peer, m) in manifests {
        let seen = match peers.iter_mut().find(|p| p.peer == m.peer) {
            Some(seen) => seen,
            None => {
                peers.push(PeerSeen {
                    peer: m.peer.clone(),
                    generation: m.generation,
                    host: None,
                    last_push_at: None,
                    changesets: 0,
                    this_peer: peer == me,
                });
                peers.last_mut().expect("just pushed")
            }
        };
        seen.generation = seen.generation.max(m.generation);
        seen.host = Some(m.host);
        seen.last_push_at = m.last_push_at;
    }
}
