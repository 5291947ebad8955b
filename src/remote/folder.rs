//! The shared folder: a path, or a `file://` URL.
//!
//! An object is written as Litestream writes its files: to a temporary file in the same
//! folder, synced to disk, renamed into place, and the folder synced, so that it appears whole
//! or not at all, whatever instant the process dies at. The temporary name starts with a dot,
//! which readers (and file-sync tools) pass over.
//!
//! Every step of a write goes through [`FolderIo`], the one seam where tests inject a failure
//! at a chosen step; [`RealIo`] is the file system.

use std::fmt;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::objects::{Created, ObjectStore};
use super::{RemoteError, Result, names};
use crate::ids::PeerId;

/// The steps of an atomic write, each one a place where the file system can fail.
pub trait FolderIo: Send + Sync + fmt::Debug {
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        fs::create_dir_all(dir)
    }
    fn create(&self, path: &Path) -> std::io::Result<File> {
        File::create(path)
    }
    fn write_all(&self, file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
        file.write_all(bytes)
    }
    fn sync_file(&self, file: &File) -> std::io::Result<()> {
        file.sync_all()
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        fs::rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// The file system itself.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealIo;

impl FolderIo for RealIo {}

/// A folder as an [`ObjectStore`]: a key `PEER/NAME` is the file `NAME` in the folder `PEER`.
#[derive(Debug, Clone)]
pub struct Folder {
    root: PathBuf,
    io: Arc<dyn FolderIo>,
}

impl Folder {
    /// Opens an existing folder. A missing one is an error, not created: an unmounted drive
    /// must not turn into an empty folder at its mount point.
    pub fn open(path: &Path) -> Result<Folder> {
        Folder::with_io(path, Arc::new(RealIo))
    }

    /// The same, with every write step going through `io`.
    pub fn with_io(path: &Path, io: Arc<dyn FolderIo>) -> Result<Folder> {
        let root = normalise(path);
        if !root.is_dir() {
            return Err(RemoteError::Missing {
                location: root.display().to_string(),
            });
        }
        Ok(Folder { root, io })
    }

    fn path_of(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn missing(&self) -> RemoteError {
        RemoteError::Missing {
            location: self.location(),
        }
    }

    fn write_atomic(&self, key: &str, bytes: &[u8], replace: bool) -> Result<Created> {
        let target = self.path_of(key);
        let fail = |step, source: std::io::Error| RemoteError::Write {
            location: target.display().to_string(),
            step,
            source: source.into(),
        };
        let (Some(dir), Some(file)) = (target.parent(), target.file_name()) else {
            return Err(fail("name", std::io::ErrorKind::InvalidInput.into()));
        };
        let io = &self.io;
        if !dir.is_dir() {
            if !self.root.is_dir() {
                return Err(self.missing());
            }
            io.create_dir_all(dir)
                .map_err(|e| fail("create folder", e))?;
            io.sync_dir(&self.root)
                .map_err(|e| fail("sync folder", e))?;
        }
        if !replace && target.exists() {
            return Ok(Created::Existed);
        }
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            file.to_string_lossy(),
            std::process::id()
        ));
        let result = (|| {
            let mut f = io
                .create(&tmp)
                .map_err(|e| fail("create temporary file", e))?;
            io.write_all(&mut f, bytes)
                .map_err(|e| fail("write temporary file", e))?;
            io.sync_file(&f)
                .map_err(|e| fail("sync temporary file", e))?;
            drop(f);
            io.rename(&tmp, &target)
                .map_err(|e| fail("rename into place", e))?;
            io.sync_dir(dir).map_err(|e| fail("sync folder", e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map(|()| Created::New)
    }
}

/// A path made absolute and canonical, so the same folder is one remote however it is named.
fn normalise(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    fs::canonicalize(&absolute).unwrap_or(absolute)
}

/// Deletes `path`; one already gone (another peer's prune was first) is no error.
fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RemoteError::Write {
            location: path.display().to_string(),
            step: "remove",
            source: e.into(),
        }),
        _ => Ok(()),
    }
}

impl ObjectStore for Folder {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn list(&self, prefix: &str, after: Option<&str>) -> Result<Vec<String>> {
        let fail = |path: &Path, source: std::io::Error| RemoteError::List {
            location: path.display().to_string(),
            source: source.into(),
        };
        if !self.root.is_dir() {
            return Err(self.missing());
        }
        let mut keys = Vec::new();
        // The files of one folder, as keys under `under`.
        let files_of = |dir: &Path, under: &str, keys: &mut Vec<String>| -> Result<()> {
            let entries = match fs::read_dir(dir) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !under.is_empty() => {
                    return Ok(());
                }
                other => other.map_err(|e| fail(dir, e))?,
            };
            for entry in entries {
                let entry = entry.map_err(|e| fail(dir, e))?;
                let kind = entry.file_type().map_err(|e| fail(&entry.path(), e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if kind.is_file() {
                    keys.push(format!("{under}{name}"));
                } else if kind.is_dir() && under.is_empty() && !name.starts_with('.') {
                    keys.push(format!("{name}/"));
                }
            }
            Ok(())
        };
        match prefix.strip_suffix('/') {
            // One peer's folder: the cheap case.
            Some(dir) if !dir.is_empty() && !dir.contains('/') => {
                files_of(&self.root.join(dir), prefix, &mut keys)?;
            }
            _ => {
                let mut top = Vec::new();
                files_of(&self.root, "", &mut top)?;
                for key in top {
                    match key.strip_suffix('/') {
                        Some(dir) => files_of(&self.root.join(dir), &key, &mut keys)?,
                        None => keys.push(key),
                    }
                }
                keys.retain(|k| k.starts_with(prefix));
            }
        }
        Ok(names::sorted_after(keys, after))
    }

    fn list_top(&self) -> Result<Vec<String>> {
        if !self.root.is_dir() {
            return Err(self.missing());
        }
        let fail = |source: std::io::Error| RemoteError::List {
            location: self.location(),
            source: source.into(),
        };
        let mut top = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(fail)? {
            let entry = entry.map_err(fail)?;
            let kind = entry.file_type().map_err(fail)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if kind.is_file() {
                top.push(name);
            } else if kind.is_dir() && !name.starts_with('.') {
                top.push(format!("{name}/"));
            }
        }
        top.sort();
        Ok(top)
    }

    fn get(&self, key: &str, max: u64) -> Result<Vec<u8>> {
        let path = self.path_of(key);
        let location = || path.display().to_string();
        let fail = |source: std::io::Error| match source.kind() {
            std::io::ErrorKind::NotFound => RemoteError::NotFound {
                location: location(),
            },
            _ => RemoteError::Read {
                location: location(),
                source: source.into(),
            },
        };
        let file = File::open(&path).map_err(fail)?;
        let size = file.metadata().map_err(fail)?.len();
        if size > max {
            return Err(RemoteError::TooLarge {
                location: location(),
                size,
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(max + 1).read_to_end(&mut bytes).map_err(fail)?;
        Ok(bytes)
    }

    fn get_tail(&self, key: &str, len: u64) -> Result<Option<Vec<u8>>> {
        let path = self.path_of(key);
        let fail = |source: std::io::Error| match source.kind() {
            std::io::ErrorKind::NotFound => RemoteError::NotFound {
                location: path.display().to_string(),
            },
            _ => RemoteError::Read {
                location: path.display().to_string(),
                source: source.into(),
            },
        };
        let mut file = File::open(&path).map_err(fail)?;
        let size = file.metadata().map_err(fail)?.len();
        if size < len {
            return Ok(None);
        }
        file.seek(SeekFrom::Start(size - len)).map_err(fail)?;
        let mut tail = vec![0u8; len as usize];
        file.read_exact(&mut tail).map_err(fail)?;
        Ok(Some(tail))
    }

    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<Created> {
        self.write_atomic(key, bytes, false)
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.write_atomic(key, bytes, true).map(|_| ())
    }

    fn delete(&self, key: &str) -> Result<()> {
        remove_if_present(&self.path_of(key))
    }

    fn sweep_temporary(&self, older_than: Duration, dry_run: bool) -> Result<Vec<String>> {
        let mut swept = Vec::new();
        let Ok(peers) = fs::read_dir(&self.root) else {
            return Ok(swept);
        };
        for dir in peers.flatten() {
            let peer = dir.file_name().to_string_lossy().into_owned();
            if peer.parse::<PeerId>().is_err() {
                continue;
            }
            let Ok(files) = fs::read_dir(dir.path()) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                if !names::is_our_temporary(&name) {
                    continue;
                }
                let age = file
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok());
                if age.is_none_or(|a| a < older_than) {
                    continue;
                }
                if !dry_run {
                    remove_if_present(&file.path())?;
                }
                swept.push(format!("{peer}/{name}"));
            }
        }
        swept.sort();
        Ok(swept)
    }
}
