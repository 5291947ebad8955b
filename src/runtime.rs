//! The inputs from the outside world that the library never reads on its own: the clock, the
//! source of random ids, and the name of this machine (and, going the other way, who hears of
//! the progress of long operations). The binary builds them from the system;
//! tests and benches build them from a fixed time and seed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::clock::{Clock, SystemClock};
use crate::ids::{IdSource, OsRandom};
use crate::progress::{Progress, Silent};

#[derive(Debug, Clone)]
pub struct Runtime {
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
    /// This machine's name, recorded with the peer identity so that a home copied to another
    /// machine can be recognised as such.
    pub host: String,
    /// Who hears how far a long push, pull or snapshot has got (nobody by default).
    pub progress: Arc<dyn Progress>,
    /// Set when the user asked to stop (Ctrl-C): a long push, pull or snapshot stops at the
    /// next changeset, undoing what is not committed.
    pub interrupt: Arc<AtomicBool>,
    /// Who writes through this runtime (recorded with every version and tombstone it writes);
    /// `None`: not recorded.
    pub author: Option<crate::record::Author>,
}

impl Runtime {
    pub fn new(clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>, host: impl Into<String>) -> Runtime {
        Runtime {
            clock,
            ids,
            host: host.into(),
            progress: Arc::new(Silent),
            interrupt: Arc::new(AtomicBool::new(false)),
            author: None,
        }
    }

    /// The same runtime, writing as `author`.
    pub fn with_author(mut self, author: Option<crate::record::Author>) -> Runtime {
        self.author = author;
        self
    }

    /// Whether the user asked to stop.
    pub fn interrupted(&self) -> bool {
        self.interrupt.load(Ordering::Relaxed)
    }

    /// The system clock, the operating system's randomness and the kernel's host name.
    pub fn system() -> Runtime {
        Runtime::new(
            Arc::new(SystemClock),
            Arc::new(OsRandom),
            system_host_name(),
        )
    }
}

/// The machine's host name as the operating system reports it (`gethostname`, on every
/// platform), or `unknown`.
pub fn system_host_name() -> String {
    let name = gethostname::gethostname()
        .to_string_lossy()
        .trim()
        .to_string();
    if name.is_empty() {
        "unknown".to_string()
    } else {
        name
    }
}
