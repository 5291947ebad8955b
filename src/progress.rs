//! Progress of long pushes, pulls and snapshots, reported to whoever listens.
//!
//! The library only counts; the binary decides whether anyone sees it (a bar on a terminal,
//! nothing under cron). Like the clock, the listener is injected through the
//! [`Runtime`](crate::runtime::Runtime).

/// Hears how far a long operation has got.
pub trait Progress: Send + Sync + std::fmt::Debug {
    /// A new operation: `what` ("pull"), counting `total` `unit`s ("changesets").
    fn start(&self, what: &str, unit: &str, total: u64);
    /// `n` more units done.
    fn advance(&self, n: u64);
    /// The operation is over (done or failed).
    fn finish(&self);
    /// Whether anyone hears: a total that costs a query is counted only then.
    fn listening(&self) -> bool {
        true
    }
}

/// Nobody listens.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
    fn listening(&self) -> bool {
        false
    }
}

/// Calls `finish` when dropped, so that an operation that fails half way clears its bar too.
pub struct Guard<'a>(pub &'a dyn Progress);

impl<'a> Guard<'a> {
    pub fn start(p: &'a dyn Progress, what: &str, unit: &str, total: u64) -> Guard<'a> {
        p.start(what, unit, total);
        Guard(p)
    }

    pub fn advance(&self, n: u64) {
        self.0.advance(n);
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}
