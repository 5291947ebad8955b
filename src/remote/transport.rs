//! The narrow trait every transport implements: a flat namespace of objects named by
//! `/`-separated names relative to the remote's root (what S3 calls keys; here "key" is only
//! ever a document's), with the few operations sync needs.
//!
//! Everything a remote means to sync (which names are changesets, how a publish that meets an
//! existing object is judged, where manifests live) is built once over this trait in
//! [`super::Remote`]; a new transport is one file implementing it, compare TaskChampion's
//! server traits and Litestream's replica client.

use std::fmt;
use std::time::Duration;

use super::Result;

/// What [`Transport::put_if_absent`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The object was created with the given bytes.
    New,
    /// An object of that name was already there; it was left as it was.
    Existed,
}

/// A place that holds objects: a folder, a bucket, a folder over SFTP, memory.
///
/// Every method names its failures with [`super::RemoteError`], whose messages name the
/// remote's location and the object.
pub trait Transport: Send + Sync + fmt::Debug {
    /// Where it is, in the form a user writes it (also the name under which a home remembers
    /// what it applied from this remote: the same remote must always give the same string).
    fn location(&self) -> String;

    /// Every object name under `prefix` (`""` for all), sorted, only those after `after` when given.
    /// Names are relative to the root; a folder lists its files at most one folder deep.
    fn list(&self, prefix: &str, after: Option<&str>) -> Result<Vec<String>>;

    /// The top level: its objects (`name`) and its folders (`name/`), sorted. A store of
    /// flat names gives the first segment of each name once.
    fn list_top(&self) -> Result<Vec<String>> {
        let mut top: Vec<String> = self
            .list("", None)?
            .into_iter()
            .map(|k| match k.split_once('/') {
                Some((dir, _)) => format!("{dir}/"),
                None => k,
            })
            .collect();
        top.dedup();
        Ok(top)
    }

    /// What is in the remote but is not an object this store would read (a link, a FIFO, a
    /// device, a folder where a file should be), with what each is: named by `verify`, never
    /// read. A store of objects has none.
    fn list_irregular(&self) -> Result<Vec<(String, &'static str)>> {
        Ok(Vec::new())
    }

    /// The bytes of an object, refused with [`super::RemoteError::TooLarge`] when it has more
    /// than `max` bytes, [`super::RemoteError::NotFound`] when there is none, and
    /// [`super::RemoteError::NotAFile`] when it is a link, a FIFO or anything but a file
    /// (never followed, never waited on).
    fn get(&self, name: &str, max: u64) -> Result<Vec<u8>>;

    /// The last `len` bytes of an object, or `None` for one shorter than that.
    fn get_tail(&self, name: &str, len: u64) -> Result<Option<Vec<u8>>>;

    /// Creates the object only if no object of that name exists, atomically: it appears whole
    /// or not at all, and never replaces another object.
    fn put_if_absent(&self, name: &str, bytes: &[u8]) -> Result<Created>;

    /// Creates or replaces the object atomically (it appears whole or not at all).
    fn put(&self, name: &str, bytes: &[u8]) -> Result<()>;

    /// Deletes the object; one already gone is no error.
    fn delete(&self, name: &str) -> Result<()>;

    /// How many reads a pull keeps in flight: one ahead for a local folder, more where each
    /// read is a round trip.
    fn read_parallelism(&self) -> usize {
        1
    }

    /// Reaches the store once, to tell a typo or a missing bucket now rather than at the
    /// first sync. Opening a folder already checks it.
    fn probe(&self) -> Result<()> {
        Ok(())
    }

    /// Deletes what this tool's interrupted writes left behind (temporary objects) last
    /// modified at least `older_than` ago; with `dry_run`, only lists them. Returns their names.
    /// A transport whose writes leave nothing behind has nothing to sweep.
    fn sweep_temporary(&self, older_than: Duration, dry_run: bool) -> Result<Vec<String>> {
        let _ = (older_than, dry_run);
        Ok(Vec::new())
    }
}
