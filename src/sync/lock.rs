//! One sync at a time per home: an exclusive `flock(2)` on `$CONTEXT_HOME/sync.lock`.
//!
//! The kernel drops the lock when the process exits, however it exits, so a crashed or killed
//! sync never leaves a stale lock behind for a user to clean up.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::SyncError;

pub const LOCK_FILE: &str = "sync.lock";

/// Held while a sync runs; released on drop (or by the kernel if the process dies).
#[derive(Debug)]
pub struct SyncLock {
    _file: File,
}

impl SyncLock {
    /// Takes the lock of `home`, waiting up to `wait` for another sync to finish.
    pub fn acquire(home: &Path, wait: Duration) -> Result<SyncLock, SyncError> {
        let path = home.join(LOCK_FILE);
        let fail = |source| SyncError::Lock {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(home).map_err(fail)?;
        let file = OpenOptions::new()
            .create(true)
            .mode(0o600)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(fail)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(SyncLock { _file: file }),
                Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(SyncError::Busy {
                        path: PathBuf::from(&path),
                        waited_s: wait.as_secs(),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(fail(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = SyncLock::acquire(dir.path(), Duration::ZERO).unwrap();
        let second = SyncLock::acquire(dir.path(), Duration::from_millis(120));
        assert!(matches!(second, Err(SyncError::Busy { .. })));
        drop(first);
        SyncLock::acquire(dir.path(), Duration::ZERO).unwrap();
    }
}
