//! How a network transport retries a request that may pass on a second try (throttling,
//! server errors, a dropped or refused connection): with exponential backoff and jitter,
//! within a time budget per request, so that a short outage (a restarted server, a Wi-Fi
//! hand-over, a few seconds of throttling) is ridden out and a store that stays down fails the
//! run with exit 1 well before the next cron tick. The budget is [`DEFAULT_BUDGET`], or
//! `CONTEXT_RETRY_BUDGET` (a DURATION: `0s` for no retry, `5m` for a patient cron job). One
//! attempt waits at most [`DEFAULT_REQUEST_TIMEOUT`] for its whole answer, or
//! `CONTEXT_REQUEST_TIMEOUT` (for a slow link, or a test of a store that never answers).

use std::time::{Duration, Instant};

/// How long one request is retried: a minute, as the README promises.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);
/// The first wait; each next one twice as long, up to [`MAX_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(100);
/// The longest wait between two attempts: a store back after an outage is used within this.
const MAX_WAIT: Duration = Duration::from_secs(4);

/// How long one attempt waits for its whole answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The retry policy of one transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub budget: Duration,
    /// How long one attempt waits for its whole answer.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            budget: DEFAULT_BUDGET,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl RetryPolicy {
    /// From the environment (`CONTEXT_RETRY_BUDGET`); a value that is not a DURATION is named.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<RetryPolicy, String> {
        type Parse = fn(&str) -> Result<Duration, crate::duration::DurationError>;
        let read = |name: &str, default: Duration, parse: Parse| match env(name) {
            None => Ok(default),
            Some(v) => parse(&v).map_err(|e| format!("{name}={v:?}: {e}")),
        };
        Ok(RetryPolicy {
            // `0s`: no retry at all.
            budget: read(
                "CONTEXT_RETRY_BUDGET",
                DEFAULT_BUDGET,
                crate::duration::parse_wait,
            )?,
            request_timeout: read(
                "CONTEXT_REQUEST_TIMEOUT",
                DEFAULT_REQUEST_TIMEOUT,
                crate::duration::parse,
            )?,
        })
    }

    /// The attempts of one request.
    pub fn start(self) -> Attempts {
        Attempts {
            policy: self,
            started: Instant::now(),
            wait: FIRST_WAIT,
            attempt: 1,
        }
    }
}

/// Where one request stands in its retries.
#[derive(Debug)]
pub struct Attempts {
    policy: RetryPolicy,
    started: Instant,
    wait: Duration,
    attempt: u32,
}

impl Attempts {
    /// The attempt under way (from 1).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// After a failure that may pass: waits (backoff with jitter) and returns true if another
    /// attempt fits in the budget; false when the budget is spent.
    pub fn wait_for_next(&mut self) -> bool {
        let wait = jittered(self.wait);
        if self.started.elapsed() + wait >= self.policy.budget {
            return false;
        }
        std::thread::sleep(wait);
        self.wait = (self.wait * 2).min(MAX_WAIT);
        self.attempt += 1;
        true
    }
}

/// `wait` give or take a quarter, so that machines retrying after one outage spread out.
fn jittered(wait: Duration) -> Duration {
    let mut b = [0u8; 2];
    let r = getrandom::fill(&mut b).map_or(0.5, |()| u16::from_le_bytes(b) as f64 / 65535.0);
    wait.mul_f64(0.75 + r / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_comes_from_the_environment_and_bad_values_are_named() {
        let none = |_: &str| None;
        assert_eq!(RetryPolicy::from_env(&none).unwrap().budget, DEFAULT_BUDGET);
        let five = |_: &str| Some("5s".to_string());
        assert_eq!(
            RetryPolicy::from_env(&five).unwrap().budget,
            Duration::from_secs(5)
        );
        let bad = |_: &str| Some("soon".to_string());
        assert!(
            RetryPolicy::from_env(&bad)
                .unwrap_err()
                .contains("CONTEXT_RETRY_BUDGET")
        );
    }

    #[test]
    fn retries_stop_within_the_budget() {
        let mut a = RetryPolicy {
            budget: Duration::from_millis(500),
            ..RetryPolicy::default()
        }
        .start();
        let started = Instant::now();
        while a.wait_for_next() {}
        assert!(started.elapsed() < Duration::from_millis(700));
        assert!(a.attempt() >= 3, "{}", a.attempt());
        let mut none = RetryPolicy {
            budget: Duration::ZERO,
            ..RetryPolicy::default()
        }
        .start();
        assert!(!none.wait_for_next());
    }
}
