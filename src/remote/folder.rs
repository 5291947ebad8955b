//! The shared folder: a path, or a `file://` URL.
//!
//! A changeset is published as Litestream writes its files: to a temporary file in the same
//! folder, synced to disk, renamed into place, and the folder synced, so that it appears whole
//! or not at all, whatever instant the process dies at. The temporary name starts with a dot,
//! which readers (and file-sync tools) pass over.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{
    CsetName, Listing, Manifest, Remote, RemoteError, Result, manifest_from_json, manifest_to_json,
    names,
};
use crate::changeset::MAX_FILE_BYTES;
use crate::ids::PeerId;

#[derive(Debug, Clone)]
pub struct FolderRemote {
    root: PathBuf,
}

impl FolderRemote {
    /// Opens an existing folder. A missing one is an error, not created: an unmounted drive
    /// must not turn into an empty folder at its mount point.
    pub fn open(location: &str) -> Result<FolderRemote> {
        let root = PathBuf::from(location.strip_prefix("file://").unwrap_or(location));
        if !root.is_dir() {
            return Err(RemoteError::Missing { path: root });
        }
        Ok(FolderRemote { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn write_atomic(&self, dir: &Path, file: &str, bytes: &[u8], replace: bool) -> Result<()> {
        let target = dir.join(file);
        let fail = |step, source| RemoteError::Write {
            path: target.clone(),
            step,
            source,
        };
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(|e| fail("create folder", e))?;
            sync_dir(&self.root).map_err(|e| fail("sync folder", e))?;
        }
        if !replace && target.exists() {
            return match fs::read(&target) {
                Ok(existing) if existing == bytes => Ok(()),
                _ => Err(RemoteError::Exists { path: target }),
            };
        }
        let tmp = dir.join(format!(".{file}.tmp-{}", std::process::id()));
        let result = (|| {
            let mut f = File::create(&tmp).map_err(|e| fail("create temporary file", e))?;
            f.write_all(bytes)
                .map_err(|e| fail("write temporary file", e))?;
            f.sync_all().map_err(|e| fail("sync temporary file", e))?;
            drop(f);
            fs::rename(&tmp, &target).map_err(|e| fail("rename into place", e))?;
            sync_dir(dir).map_err(|e| fail("sync folder", e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
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

    fn read(&self, name: &CsetName) -> Result<Vec<u8>> {
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

    fn publish(&self, name: &CsetName, bytes: &[u8]) -> Result<()> {
        let dir = self.root.join(name.peer.to_string());
        self.write_atomic(&dir, &name.file_name(), bytes, false)
    }

    fn remove(&self, name: &CsetName) -> Result<()> {
        let path = self.root.join(name.rel_path());
        fs::remove_file(&path).map_err(|source| RemoteError::Write {
            path,
            step: "remove",
            source,
        })
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
