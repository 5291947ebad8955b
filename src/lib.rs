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
//! - [`store`]: open, migrate, and read and write documents.
//! - [`clock`]: the injected wall clock and the hybrid logical clock.
//! - [`ids`]: version and peer ids, and the injected source of randomness.
//! - [`runtime`]: the bundle of injected inputs.
//! - [`home`]: where the data lives.
//! - [`duration`]: `30s`, `15m`, `12h`, `7d`.
//! - [`changeset`]: the wire format; [`remote`]: where changesets live.
//! - [`sync`]: push, pull, status, snapshot, prune, verify.
//! - [`progress`]: how far a long sync has got, for whoever listens.

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
pub mod runtime;
pub mod store;
pub mod sync;
