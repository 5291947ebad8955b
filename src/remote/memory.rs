//! Objects in memory, for tests that run thousands of cases. Clones share the same contents.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::transport::{Created, Transport};
use super::{RemoteError, Result};

#[derive(Debug, Clone)]
pub struct Memory {
    location: String,
    objects: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
}

impl Memory {
    pub fn new(location: &str) -> Memory {
        Memory {
            location: location.to_string(),
            objects: Arc::default(),
        }
    }

    fn objects(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn named(&self, key: &str) -> String {
        format!("{}/{key}", self.location)
    }

    /// Places raw bytes under a key, as a file-sync tool or a damaged disk might.
    pub fn put_raw(&self, key: &str, bytes: Vec<u8>) {
        self.objects().insert(key.to_string(), bytes);
    }

    /// Removes every object (an emptied folder).
    pub fn clear(&self) {
        self.objects().clear();
    }
}

impl Transport for Memory {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn list(&self, prefix: &str, after: Option<&str>) -> Result<Vec<String>> {
        let objects = self.objects();
        Ok(objects
            .keys()
            .filter(|k| k.starts_with(prefix) && after.is_none_or(|a| k.as_str() > a))
            .cloned()
            .collect())
    }

    fn get(&self, key: &str, max: u64) -> Result<Vec<u8>> {
        match self.objects().get(key) {
            None => Err(RemoteError::NotFound {
                location: self.named(key),
            }),
            Some(b) if b.len() as u64 > max => Err(RemoteError::TooLarge {
                location: self.named(key),
                size: b.len() as u64,
            }),
            Some(b) => Ok(b.clone()),
        }
    }

    fn get_tail(&self, key: &str, len: u64) -> Result<Option<Vec<u8>>> {
        match self.objects().get(key) {
            None => Err(RemoteError::NotFound {
                location: self.named(key),
            }),
            Some(b) => Ok(b.len().checked_sub(len as usize).map(|at| b[at..].to_vec())),
        }
    }

    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<Created> {
        let mut objects = self.objects();
        if objects.contains_key(key) {
            return Ok(Created::Existed);
        }
        objects.insert(key.to_string(), bytes.to_vec());
        Ok(Created::New)
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.objects().insert(key.to_string(), bytes.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.objects().remove(key);
        Ok(())
    }
}
