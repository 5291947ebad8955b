//! `context`: a document store with full version history, kept in sync across a user's machines
//! through a shared folder, with no server.
//!
//! # Design
//!
//! Every write of a document is an immutable row in a local SQLite database ([`store`]): a
//! version with a body, or a tombstone for a delete. A row carries a globally unique id (UUID
//! v7, [`ids`]), the peer that wrote it, the row it replaced (its parent), an optional absolute
//! expiry, and a hybrid logical clock timestamp ([`clock`]) that orders a later edit after the
//! version it replaced even when machines disagree about the time. The current state of a key
//! is derived from its rows by last-writer-wins (timestamp, then peer id, then version id), so
//! every peer that holds the same rows sees the same state, whatever order they arrived in.
//!
//! Time, randomness and the host name come in through one [`runtime::Runtime`], so tests and
//! benches drive them. Each layer has one error type; only the binary prints errors and turns
//! them into exit statuses.
//!
//! # Modules
//!
//! From the bottom up (each uses only those above it, but for the leaves everyone uses):
//!
//! - [`outcome`]: how a command ended, before `main` turns it into an exit status.
//! - [`duration`]: `30s`, `15m`, `12h`, `7d`.
//! - [`ids`]: version and peer ids, and the injected source of randomness.
//! - [`clock`]: the injected wall clock and the hybrid logical clock.
//! - [`progress`]: how far a long sync has got, for whoever listens.
//! - [`runtime`]: the bundle of injected inputs (clock, ids, host name, progress, Ctrl-C).
//! - [`home`]: where the data lives.
//! - [`record`]: what the store and the wire format both speak (a row, its kind, the body
//!   limit).
//! - [`store`]: open, migrate, and read and write documents, conflicts and sync state.
//! - [`merge`]: the three-way text merge; [`resolve`]: settling a conflict with it, or a side;
//!   [`revert`]: taking back what a session or an author wrote.
//! - [`changeset`]: the wire format.
//! - [`encryption`]: keys, the sealed format, the key record and sealed manifests.
//! - [`remote`]: where changesets meet (the transports: folder, S3, SSH, memory).
//! - [`sync`]: push, pull, status, snapshot, prune, verify, repair, encrypted remotes.

pub mod changeset;
pub mod clock;
pub mod duration;
pub mod encryption;
pub mod home;
pub mod ids;

pub mod merge;
pub mod outcome;
pub mod progress;
pub mod record;
pub mod remote;
pub mod resolve;
pub mod revert;
pub mod runtime;
pub mod store;
pub mod sync;

#[cfg(test)]
mod tests {
    /// The modules `lib.rs` declares.
    fn declared() -> Vec<&'static str> {
        include_str!("lib.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'))
            .collect()
    }

    /// The maps stay true: every module `lib.rs` declares is in its own module list and in the
    /// README's layout, and the map names no module that is gone.
    #[test]
    fn every_module_is_on_the_maps() {
        let doc: String = include_str!("lib.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        let readme = include_str!("../README.md");
        let layout = readme
            .split("Layout:")
            .nth(1)
            .expect("the README's layout paragraph");
        let modules = declared();
        assert!(modules.len() >= 15, "{modules:?}");
        for m in &modules {
            assert!(
                doc.contains(&format!("[`{m}`]")),
                "lib.rs declares `{m}` but its module list omits it"
            );
            assert!(
                layout.contains(&format!("`{m}`")) || layout.contains(&format!("`{m}/`")),
                "lib.rs declares `{m}` but the README's layout omits it"
            );
        }
        for listed in doc.split("[`").skip(1) {
            let name = listed.split('`').next().unwrap_or_default();
            assert!(
                modules.contains(&name) || name.contains("::"),
                "lib.rs's module list names `{name}`, which lib.rs does not declare"
            );
        }
    }
}
