//! Which remote a command means: a name given with `--remote` (a remote added with `context
//! sync remote add`), a location given there (used for that run only), or, without the flag,
//! the home's remotes: all of them for bare `context sync` and `sync status`, the one named
//! `default` (else the only one) for the commands that take one.

use crate::outcome::Outcome;
use crate::remote::{Location, LocationError};
use crate::store::{NamedRemote, Store};

use super::SyncError;

/// The name `context sync remote URL` gives (the default remote of earlier versions).
pub const DEFAULT_NAME: &str = "default";

/// A remote a command runs against: its name when it has one, and where it is.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub name: Option<String>,
    pub location: Location,
    /// The projects that travel through it (`None`: all).
    pub projects: Option<Vec<String>>,
    /// Projects added to its list whose history its next push publishes (a named remote's).
    pub backfill: Vec<String>,
}

/// Whether `name` can name a remote: a letter or digit, then letters, digits, `.`, `_`, `-`
/// (at most 64): never a path or a URL, so `--remote` tells them apart.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} cannot name a remote: a name is a letter or digit, then letters, digits, \
             `.`, `_` or `-` (at most 64)"
        ))
    }
}

/// What `--remote` takes, checked before anything runs: a name (a plain word) or a location.
pub fn parse_arg(arg: &str) -> Result<String, LocationError> {
    if check_name(arg).is_err() {
        Location::parse(arg)?;
    }
    Ok(arg.to_string())
}

fn chosen(r: NamedRemote) -> Result<Chosen, SyncError> {
    let location = Location::parse(&r.url).map_err(|e| SyncError::StoredRemote {
        name: r.name.clone(),
        reason: e.to_string(),
    })?;
    Ok(Chosen {
        name: Some(r.name),
        location,
        projects: r.projects,
        backfill: r.backfill,
    })
}

/// The remote `--remote ARG` means: the named remote, else the location. A plain word that
/// names no remote is a folder of that name only if there is one.
pub fn resolve(store: &Store, arg: &str) -> Result<Chosen, SyncError> {
    if let Some(r) = store.named_remote(arg)? {
        return chosen(r);
    }
    let location = Location::parse(arg).map_err(|e| SyncError::StoredRemote {
        name: arg.to_string(),
        reason: e.to_string(),
    })?;
    if check_name(arg).is_ok() && !std::path::Path::new(arg).is_dir() {
        return Err(no_such(store, arg));
    }
    // A location given once: its projects are all, unless a named remote is the same place.
    let canonical = location.canonical();
    let projects = store
        .named_remotes()?
        .into_iter()
        .find(|r| Location::parse(&r.url).is_ok_and(|l| l.canonical() == canonical))
        .and_then(|r| r.projects);
    Ok(Chosen {
        name: None,
        location,
        projects,
        backfill: Vec::new(),
    })
}

/// The one remote a command means without `--remote`: the one named `default`, else the only
/// one.
pub fn default(store: &Store) -> Result<Chosen, SyncError> {
    if let Some(r) = store.named_remote(DEFAULT_NAME)? {
        return chosen(r);
    }
    let mut all = store.named_remotes()?;
    match all.len() {
        0 => Err(SyncError::NoRemote),
        1 => chosen(all.remove(0)),
        _ => Err(SyncError::WhichRemote {
            known: names(store)?,
        }),
    }
}

/// The remote named `name`, or the error that says there is none (with the names there are).
pub fn named(store: &Store, name: &str) -> Result<NamedRemote, SyncError> {
    store
        .named_remote(name)?
        .map_or_else(|| Err(no_such(store, name)), Ok)
}

fn no_such(store: &Store, name: &str) -> SyncError {
    match names(store) {
        Ok(known) => SyncError::NoSuchRemote {
            name: name.to_string(),
            known,
        },
        Err(e) => e,
    }
}

/// What a new list of projects changes for a remote that had `old`'s: the projects it now
/// carries and did not (their history goes out with the next push), those it no longer
/// carries (what the remote holds of them stays), and every project whose history its next
/// push publishes (the added ones, and those an earlier change left pending that it still
/// carries). `local` are the projects this home holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub backfill: Vec<String>,
}

pub fn list_change(old: &NamedRemote, new: &Option<Vec<String>>, local: Vec<String>) -> ListChange {
    let carried =
        |p: &String, list: &Option<Vec<String>>| list.as_ref().is_none_or(|l| l.contains(p));
    let mut all = local;
    all.extend(old.projects.iter().flatten().cloned());
    all.extend(new.iter().flatten().cloned());
    all.sort();
    all.dedup();
    let added: Vec<String> = all
        .iter()
        .filter(|p| carried(p, new) && !carried(p, &old.projects))
        .cloned()
        .collect();
    let removed: Vec<String> = all
        .iter()
        .filter(|p| !carried(p, new) && carried(p, &old.projects))
        .cloned()
        .collect();
    let mut backfill: Vec<String> = old
        .backfill
        .iter()
        .filter(|p| carried(p, new))
        .chain(&added)
        .cloned()
        .collect();
    backfill.sort();
    backfill.dedup();
    ListChange {
        added,
        removed,
        backfill,
    }
}

fn names(store: &Store) -> Result<String, SyncError> {
    let names: Vec<String> = store.named_remotes()?.into_iter().map(|r| r.name).collect();
    Ok(if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    })
}

/// The outcome of several remotes' runs: the one a person must act on first. A divergence
/// (exit 3) and bad data (5) wait for a person; an error (1) may pass by itself; a busy home
/// (4) passes. An interruption ends everything.
pub fn worst(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
    let rank = |o: Outcome| match o {
        Outcome::Ok => 0,
        Outcome::Busy => 1,
        Outcome::Unhealthy => 2,
        Outcome::Error => 3,
        Outcome::Usage => 4,
        Outcome::BadData => 5,
        Outcome::Diverged => 6,
        Outcome::Interrupted => 7,
    };
    outcomes
        .into_iter()
        .max_by_key(|o| rank(*o))
        .unwrap_or(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_never_paths_or_urls() {
        for good in ["default", "nas", "work-share", "a.b_c", "2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", ".hidden", "a/b", "s3://b", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(parse_arg("nas").is_ok());
        assert!(parse_arg("/srv/notes").is_ok());
        assert!(parse_arg("ftp://x/y").is_err());
    }

    #[test]
    fn a_new_list_says_what_is_added_removed_and_still_to_publish() {
        let list = |p: &[&str]| Some(p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let old = NamedRemote {
            name: "share".into(),
            url: "/x".into(),
            projects: list(&["a", "b"]),
            added_at_ms: 0,
            backfill: vec!["b".into()],
        };
        let local = vec!["a".to_string(), "b".into(), "c".into(), "d".into()];
        let change = list_change(&old, &list(&["a", "c"]), local.clone());
        assert_eq!(change.added, ["c"]);
        assert_eq!(change.removed, ["b"]);
        assert_eq!(
            change.backfill,
            ["c"],
            "b's pending history is no longer wanted"
        );
        let all = list_change(&old, &None, local);
        assert_eq!(all.added, ["c", "d"]);
        assert!(all.removed.is_empty());
        assert_eq!(all.backfill, ["b", "c", "d"]);
    }

    #[test]
    fn the_worst_outcome_is_the_one_a_person_acts_on_first() {
        use Outcome::*;
        assert_eq!(worst([Ok, Ok]), Ok);
        assert_eq!(worst([]), Ok);
        assert_eq!(worst([Ok, Error, Busy]), Error);
        assert_eq!(worst([BadData, Error]), BadData);
        assert_eq!(worst([BadData, Diverged, Error]), Diverged);
        assert_eq!(worst([Diverged, Interrupted]), Interrupted);
    }
}
