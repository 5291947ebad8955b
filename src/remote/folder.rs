//! The shared folder: a path, or a `file://` URL.
//!
//! A changeset is published as Litestream writes its files: to a temporary file in the same
//! folder, synced to disk, renamed into place, and the folder synced, so that it appears whole
//! or not at all, whatever instant the process dies at. The temporary name starts with a dot,
//! which readers (and file-sync tools) pass over.
//!
//! Every step of a write goes through [`FolderIo`], the one seam where tests inject a failure
//! at a chosen step; [`RealIo`] is the file system.

use std::fmt;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{
    FileName, Listing, Manifest, Remote, RemoteError, Result, manifest_from_json, manifest_to_json,
    names,
};
use crate::changeset::MAX_FILE_BYTES;
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

#[derive(Debug, Clone)]
pub struct FolderRemote {
    root: PathBuf,
    io: Arc<dyn FolderIo>,
}

impl FolderRemote {
    /// Opens an existing folder. A missing one is an error, not created: an unmounted drive
    /// must not turn into an empty folder at its mount point.
    pub fn open(location: &str) -> Result<FolderRemote> {
        FolderRemote::with_io(location, Arc::new(RealIo))
    }

    /// The same, with every write step going through `io`.
    pub fn with_io(location: &str, io: Arc<dyn FolderIo>) -> Result<FolderRemote> {
        let root = PathBuf::from(location.strip_prefix("file://").unwrap_or(location));
        if !root.is_dir() {
            return Err(RemoteError::Missing { path: root });
        }
        Ok(FolderRemote { root, io })
    }

    fn write_atomic(&self, dir: &Path, file: &str, bytes: &[u8], replace: bool) -> Result<()> {
        let target = dir.join(file);
        let fail = |step, source| RemoteError::Write {
            path: target.clone(),
            step,
            source,
        };
        let io = &self.io;
        if !dir.is_dir() {
            io.create_dir_all(dir)
                .map_err(|e| fail("create folder", e))?;
            io.sync_dir(&self.root)
                .map_err(|e| fail("sync folder", e))?;
        }
        if !replace && target.exists() {
            return match fs::read(&target) {
                Ok(existing) if existing == bytes => Ok(()),
                _ => Err(RemoteError::Exists { path: target }),
            };
        }
        let tmp = dir.join(format!(".{file}.tmp-{}", std::process::id()));
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
        result
    }
}

/// Deletes `path`; one already gone (another peer's prune was first) is no error.
fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RemoteError::Write {
            path: path.to_path_buf(),
            step: "remove",
            source: e,
        }),
        _ => Ok(()),
    }
}

/// `.NAME.tmp-PID`: what [`FolderRemote::write_atomic`] writes before the rename.
fn is_our_temporary(file: &str) -> bool {
    file.strip_prefix('.')
        .and_then(|f| f.rsplit_once(".tmp-"))
        .is_some_and(|(name, pid)| {
            (name.ends_with(names::EXTENSION) || name == names::MANIFEST)
                && !pid.is_empty()
                && pid.bytes().all(|b| b.is_ascii_digit())
        })
}

impl Remote for FolderRemote {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn list(&self) -> Result<Listing> {
        let fail = |path: &Path, source| RemoteError::List {
            path: path.to_path_buf(),
            source,
        };
        if !self.root.is_dir() {
            return Err(RemoteError::Missing {
                path: self.root.clone(),
            });
        }
        let mut files = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(|e| fail(&self.root, e))? {
            let entry = entry.map_err(|e| fail(&self.root, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry
                .file_type()
                .map_err(|e| fail(&entry.path(), e))?
                .is_dir();
            if !is_dir {
                files.push((None, name));
            } else if !name.starts_with('.') {
                let dir = entry.path();
                for inner in fs::read_dir(&dir).map_err(|e| fail(&dir, e))? {
                    let inner = inner.map_err(|e| fail(&dir, e))?;
                    if inner
                        .file_type()
                        .map_err(|e| fail(&inner.path(), e))?
                        .is_file()
                    {
                        files.push((
                            Some(name.clone()),
                            inner.file_name().to_string_lossy().into_owned(),
                        ));
                    }
                }
            }
        }
        Ok(Listing::from_files(files))
    }

    fn read(&self, name: &dyn FileName) -> Result<Vec<u8>> {
        let path = self.root.join(name.rel_path());
        let fail = |source| RemoteError::Read {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(fail)?;
        let size = file.metadata().map_err(fail)?.len();
        // The largest payload, its preamble and its checksum.
        if size > MAX_FILE_BYTES + 64 {
            return Err(RemoteError::TooLarge { path, size });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(MAX_FILE_BYTES + 65)
            .read_to_end(&mut bytes)
            .map_err(fail)?;
        Ok(bytes)
    }

    fn read_trailer(&self, name: &dyn FileName) -> Result<Option<crate::record::Checksum>> {
        use std::io::{Seek, SeekFrom};
        let path = self.root.join(name.rel_path());
        let fail = |source| RemoteError::Read {
            path: path.clone(),
            source,
        };
        let mut file = File::open(&path).map_err(fail)?;
        let size = file.metadata().map_err(fail)?.len();
        if size < 32 {
            return Ok(None);
        }
        file.seek(SeekFrom::Start(size - 32)).map_err(fail)?;
        let mut trailer = [0u8; 32];
        file.read_exact(&mut trailer).map_err(fail)?;
        Ok(Some(crate::record::Checksum(trailer)))
    }

    fn publish(&self, name: &dyn FileName, bytes: &[u8]) -> Result<()> {
        let dir = self.root.join(name.peer().to_string());
        self.write_atomic(&dir, &name.file_name(), bytes, false)
    }

    fn remove(&self, name: &dyn FileName) -> Result<()> {
        remove_if_present(&self.root.join(name.rel_path()))
    }

    fn sweep_temporary(
        &self,
        older_than: std::time::Duration,
        dry_run: bool,
    ) -> Result<Vec<String>> {
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
                if !is_our_temporary(&name) {
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

    fn read_manifest(&self, peer: PeerId) -> Result<Option<Manifest>> {
        let path = self.root.join(peer.to_string()).join(names::MANIFEST);
        match fs::read(&path) {
            Ok(bytes) => manifest_from_json(path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(RemoteError::Read { path, source }),
        }
    }

    fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        let dir = self.root.join(&manifest.peer);
        self.write_atomic(&dir, names::MANIFEST, &manifest_to_json(manifest), true)
    }
}
