//! Reading ahead, in order: up to N reads in flight on their own threads while the caller
//! consumes the results one by one, in the order of the items. At most N results are claimed
//! and not yet consumed, so memory stays bounded by N items whatever the remote's latency.
//!
//! A folder reads one item ahead (its reads are fast, and decoding overlaps the import); a
//! bucket, where each read is a round trip, keeps several in flight.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::Scope;

struct State<R> {
    /// The next item a reader may claim.
    claimed: usize,
    /// How many results the consumer has taken.
    consumed: usize,
    ready: BTreeMap<usize, R>,
    /// The consumer is gone: readers stop claiming.
    stopped: bool,
    /// Readers still running.
    readers: usize,
}

struct Shared<R> {
    state: Mutex<State<R>>,
    changed: Condvar,
}

impl<R> Shared<R> {
    fn lock(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The consuming end: [`Prefetch::next`] gives the results in item order.
pub struct Prefetch<'a, R> {
    shared: &'a Shared<R>,
    len: usize,
}

/// What the readers share; lives on the caller's stack for the scope of the reads.
pub struct Buffer<R>(Shared<R>);

impl<R> Buffer<R> {
    pub fn new() -> Buffer<R> {
        Buffer(Shared {
            state: Mutex::new(State {
                claimed: 0,
                consumed: 0,
                ready: BTreeMap::new(),
                stopped: false,
                readers: 0,
            }),
            changed: Condvar::new(),
        })
    }
}

impl<R> Default for Buffer<R> {
    fn default() -> Self {
        Buffer::new()
    }
}

/// Starts `parallel` readers (at least one) over `items` in `scope`, each applying `read`.
pub fn start<'scope, 'env, T, R>(
    scope: &'scope Scope<'scope, 'env>,
    buffer: &'env Buffer<R>,
    items: &'env [T],
    parallel: usize,
    read: &'env (dyn Fn(&T) -> R + Sync),
) -> Prefetch<'env, R>
where
    T: Sync,
    R: Send + 'env,
{
    let shared = &buffer.0;
    let window = parallel.max(1);
    shared.lock().readers = window;
    for _ in 0..window {
        scope.spawn(move || {
            loop {
                let i = {
                    let mut s = shared.lock();
                    while !s.stopped && s.claimed < items.len() && s.claimed >= s.consumed + window
                    {
                        s = shared.changed.wait(s).unwrap_or_else(|p| p.into_inner());
                    }
                    if s.stopped || s.claimed >= items.len() {
                        s.readers -= 1;
                        shared.changed.notify_all();
                        return;
                    }
                    s.claimed += 1;
                    s.claimed - 1
                };
                let result = read(&items[i]);
                let mut s = shared.lock();
                s.ready.insert(i, result);
                shared.changed.notify_all();
            }
        });
    }
    Prefetch {
        shared,
        len: items.len(),
    }
}

impl<R> Prefetch<'_, R> {
    /// The next result in item order; `None` after the last (or if the readers died).
    pub fn next(&mut self) -> Option<R> {
        let mut s = self.shared.lock();
        let want = s.consumed;
        if want >= self.len {
            return None;
        }
        loop {
            if let Some(r) = s.ready.remove(&want) {
                s.consumed += 1;
                self.shared.changed.notify_all();
                return Some(r);
            }
            if s.readers == 0 {
                return None;
            }
            s = self
                .shared
                .changed
                .wait(s)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl<R> Drop for Prefetch<'_, R> {
    /// The consumer stopped early (an error): the readers claim nothing more and end.
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn results_come_in_item_order_with_at_most_n_waiting() {
        let items: Vec<u64> = (0..200).collect();
        for parallel in [1, 3, 8] {
            let in_flight = AtomicUsize::new(0);
            let peak = AtomicUsize::new(0);
            let read = |x: &u64| {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                // Later items finish first now and then: order must not depend on timing.
                std::thread::sleep(Duration::from_micros((200 - x) % 7 * 50));
                in_flight.fetch_sub(1, Ordering::SeqCst);
                x * 2
            };
            let buffer = Buffer::new();
            let got: Vec<u64> = std::thread::scope(|scope| {
                let mut feed = start(scope, &buffer, &items, parallel, &read);
                let mut got = Vec::new();
                while let Some(r) = feed.next() {
                    got.push(r);
                }
                got
            });
            assert_eq!(got, items.iter().map(|x| x * 2).collect::<Vec<_>>());
            assert!(
                peak.load(Ordering::SeqCst) <= parallel,
                "parallel {parallel}"
            );
            assert!(buffer.0.lock().ready.is_empty());
        }
    }

    #[test]
    fn a_consumer_that_stops_early_stops_the_readers() {
        let items: Vec<u64> = (0..1000).collect();
        let reads = AtomicUsize::new(0);
        let read = |x: &u64| {
            reads.fetch_add(1, Ordering::SeqCst);
            *x
        };
        let buffer = Buffer::new();
        std::thread::scope(|scope| {
            let mut feed = start(scope, &buffer, &items, 4, &read);
            assert_eq!(feed.next(), Some(0));
            assert_eq!(feed.next(), Some(1));
        });
        // Two consumed, at most a window of four more claimed.
        assert!(
            reads.load(Ordering::SeqCst) <= 6,
            "{}",
            reads.load(Ordering::SeqCst)
        );
    }
}
