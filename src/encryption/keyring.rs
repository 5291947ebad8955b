//! The keys of encrypted remotes this home holds: `$CONTEXT_HOME/keys/<key id>`, one file per
//! key holding the line `context sync key export` prints, readable by its owner only (the
//! folder too). A remote names its key by id in its key record, so a home finds the key of a
//! remote wherever that remote lives now.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::sealed::{KeyId, SecretKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("cannot read the key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the key file {path} does not hold a key: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("cannot save the key in {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The folder of keys of one home.
#[derive(Debug, Clone)]
pub struct KeyRing {
    dir: PathBuf,
}

impl KeyRing {
    pub fn in_home(home: &Path) -> KeyRing {
        KeyRing {
            dir: home.join("keys"),
        }
    }

    pub fn path_of(&self, id: KeyId) -> PathBuf {
        self.dir.join(id.to_string())
    }

    /// The key of that id, if this home holds it.
    pub fn get(&self, id: KeyId) -> Result<Option<SecretKey>, KeyRingError> {
        let path = self.path_of(id);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(KeyRingError::Read { path, source }),
        };
        let key = SecretKey::import(&text).map_err(|e| KeyRingError::Malformed {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if key.id() != id {
            return Err(KeyRingError::Malformed {
                path,
                reason: "it holds another key than its name says".into(),
            });
        }
        Ok(Some(key))
    }

    /// Saves `key` (owner-only), replacing nothing: the same key saved twice is one file.
    pub fn add(&self, key: &SecretKey) -> Result<PathBuf, KeyRingError> {
        let fail = |path: &Path, source| KeyRingError::Write {
            path: path.to_path_buf(),
            source,
        };
        fs::create_dir_all(&self.dir).map_err(|e| fail(&self.dir, e))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| fail(&self.dir, e))?;
        let path = self.path_of(key.id());
        let tmp = self
            .dir
            .join(format!(".{}.tmp-{}", key.id(), std::process::id()));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| fail(&tmp, e))?;
        f.write_all(format!("{}\n", key.export()).as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| fail(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| fail(&path, e))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_kept_owner_only_and_found_by_its_id() {
        let home = tempfile::tempdir().unwrap();
        let ring = KeyRing::in_home(home.path());
        let key = SecretKey::generate().unwrap();
        assert_eq!(ring.get(key.id()).unwrap(), None);
        let path = ring.add(&key).unwrap();
        assert_eq!(ring.get(key.id()).unwrap(), Some(key.clone()));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&home.path().join("keys")), 0o700);
        ring.add(&key).unwrap();
        assert_eq!(fs::read_dir(home.path().join("keys")).unwrap().count(), 1);
    }
}
