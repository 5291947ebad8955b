//! One sync at a time per home: an exclusive `flock(2)` on `$CONTEXT_HOME/sync.lock`.
//!
//! The kernel drops the lock when the process exits, however it exits, so a crashed or killed
//! sync never leaves a stale lock behind for a user to clean up.
//!
//! The holder writes who it is into the file (`auto`: a sync a write started in the
//! background; `sync`: any other), so that a sync started by hand or by a schedule waits for
//! a background one instead of giving up: the user did not start that one, and it will be
//! done in moments.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::SyncError;

pub const LOCK_FILE: &str = "sync.lock";

/// How long a sync started by hand or a schedule waits for one a write started.
pub const WAIT_FOR_BACKGROUND: Duration = Duration::from_secs(600);

/// How long a foreground sync that finds the lock busy waits for its holder to say who it is.
const TAG_GRACE: Duration = Duration::from_millis(250);

/// Who holds the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A sync a write started in the background.
    Background,
    /// Any other: a person, a schedule, a script.
    Foreground,
}

impl Holder {
    fn tag(self) -> &'static [u8] {
        match self {
            Holder::Background => b"auto\n",
            Holder::Foreground => b"sync\n",
        }
    }
}

/// Held while a sync runs; released on drop (or by the kernel if the process dies).
#[derive(Debug)]
pub struct SyncLock {
    _file: File,
}

impl SyncLock {
    /// Takes the lock of `home`, waiting up to `wait` for another sync to finish.
    pub fn acquire(home: &Path, wait: Duration) -> Result<SyncLock, SyncError> {
        SyncLock::acquire_as(home, wait, Holder::Foreground)
    }

    /// The same, as `holder`. A foreground sync waits at least [`WAIT_FOR_BACKGROUND`] for a
    /// background one.
    pub fn acquire_as(home: &Path, wait: Duration, holder: Holder) -> Result<SyncLock, SyncError> {
        let path = home.join(LOCK_FILE);
        let fail = |source| SyncError::Lock {
            path: path.clone(),
            source,
        };
        let mut file = open(home, &path).map_err(fail)?;
        let start = Instant::now();
        let mut wait = wait;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    // Who holds it, for whoever finds it busy (best effort: the lock is what
                    // counts).
                    // (Both tags are five bytes: written over the last holder's in one go.)
                    let _ = file.write_all_at(holder.tag(), 0);
                    return Ok(SyncLock { _file: file });
                }
                Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock)
                    if holder == Holder::Foreground && wait < WAIT_FOR_BACKGROUND =>
                {
                    if held_by_background(&mut file) {
                        tracing::info!("waiting for the sync a write started");
                        wait = WAIT_FOR_BACKGROUND;
                    } else if start.elapsed() < TAG_GRACE {
                        // A holder that has just taken the lock may not have said who it is.
                        std::thread::sleep(Duration::from_millis(20));
                    } else {
                        return Err(SyncError::Busy {
                            path: PathBuf::from(&path),
                            waited_s: wait.as_secs(),
                        });
                    }
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

    /// Whether a sync holds the lock of `home` now (it is not taken).
    pub fn is_held(home: &Path) -> bool {
        let path = home.join(LOCK_FILE);
        match open(home, &path) {
            Ok(file) => matches!(file.try_lock(), Err(TryLockError::WouldBlock)),
            Err(_) => false,
        }
    }
}

fn open(home: &Path, path: &Path) -> std::io::Result<File> {
    std::fs::create_dir_all(home)?;
    OpenOptions::new()
        .create(true)
        .mode(0o600)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
}

/// Whether the holder of the lock says it is a background sync.
fn held_by_background(file: &mut File) -> bool {
    let mut tag = [0u8; 5];
    file.read_exact_at(&mut tag, 0).is_ok() && tag == *Holder::Background.tag()
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

    #[test]
    fn a_foreground_sync_waits_for_a_background_one() {
        let dir = tempfile::tempdir().unwrap();
        let background =
            SyncLock::acquire_as(dir.path(), Duration::ZERO, Holder::Background).unwrap();
        assert!(SyncLock::is_held(dir.path()));
        let home = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || SyncLock::acquire(&home, Duration::ZERO));
        std::thread::sleep(Duration::from_millis(300));
        // Another background one gives up at once.
        assert!(matches!(
            SyncLock::acquire_as(dir.path(), Duration::ZERO, Holder::Background),
            Err(SyncError::Busy { .. })
        ));
        drop(background);
        assert!(waiter.join().unwrap().is_ok(), "the foreground sync waited");
        assert!(!SyncLock::is_held(dir.path()));
    }
}
