//! A remote in memory, for tests that run thousands of cases. Clones share the same contents.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    FileName, Listing, Manifest, Remote, RemoteError, Result, manifest_from_json, manifest_to_json,
    names,
};
use crate::ids::PeerId;

#[derive(Debug, Clone)]
pub struct MemoryRemote {
    location: String,
    files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
}

impl MemoryRemote {
    pub fn new(location: &str) -> MemoryRemote {
        MemoryRemote {
            location: location.to_string(),
            files: Arc::default(),
        }
    }

    fn files(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Places raw bytes at a relative path, as a file-sync tool or a damaged disk might.
    pub fn put_raw(&self, path: &str, bytes: Vec<u8>) {
        self.files().insert(path.to_string(), bytes);
    }

    /// Removes every file (an emptied folder).
    pub fn clear(&self) {
        self.files().clear();
    }
}

impl Remote for MemoryRemote {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn list(&self) -> Result<Listing> {
        let files = self.files();
        Ok(Listing::from_files(files.keys().map(
            |path| match path.split_once('/') {
                Some((d, f)) => (Some(d.to_string()), f.to_string()),
                None => (None, path.clone()),
            },
        )))
    }

    fn read(&self, name: &dyn FileName) -> Result<Vec<u8>> {
        self.files()
            .get(&name.rel_path())
            .cloned()
            .ok_or_else(|| RemoteError::Read {
                path: PathBuf::from(name.rel_path()),
                source: std::io::ErrorKind::NotFound.into(),
            })
    }

    fn publish(&self, name: &dyn FileName, bytes: &[u8]) -> Result<()> {
        let mut files = self.files();
        match files.get(&name.rel_path()) {
            Some(existing) if existing.as_slice() == bytes => Ok(()),
            Some(_) => Err(RemoteError::Exists {
                path: PathBuf::from(name.rel_path()),
            }),
            None => {
                files.insert(name.rel_path(), bytes.to_vec());
                Ok(())
            }
        }
    }

    fn remove(&self, name: &dyn FileName) -> Result<()> {
        self.files().remove(&name.rel_path());
        Ok(())
    }

    fn read_manifest(&self, peer: PeerId) -> Result<Option<Manifest>> {
        let path = format!("{peer}/{}", names::MANIFEST);
        match self.files().get(&path) {
            None => Ok(None),
            Some(bytes) => manifest_from_json(PathBuf::from(path), bytes).map(Some),
        }
    }

    fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        let path = format!("{}/{}", manifest.peer, names::MANIFEST);
        self.files().insert(path, manifest_to_json(manifest));
        Ok(())
    }
}
