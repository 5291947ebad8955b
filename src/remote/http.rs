//! What every HTTP transport shares (S3, WebDAV): one blocking client (`ureq`: the
//! [`super::Transport`] trait is synchronous, so no async runtime stands between a command and
//! its requests), connections kept alive between requests, bounded answers, and one retry
//! loop with backoff and jitter ([`super::retry`]) around every request, so a short outage is
//! ridden out the same way whatever the store speaks. A transport builds its requests and
//! judges the answers; this sends them.

use std::io::Read;
use std::time::Duration;

use super::retry::RetryPolicy;
use super::{Cause, RemoteError, Result};

/// How long a connection may take to open.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A response: its status and its body (bounded by what the request allowed).
#[derive(Debug)]
pub(super) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A request, as a transport sends it through the agent (built afresh for each attempt: a
/// signed request is signed again).
pub(super) type Send<'a> =
    dyn Fn(&ureq::Agent) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error> + 'a;

/// An HTTP client for one remote.
#[derive(Debug, Clone)]
pub(super) struct Client {
    agent: ureq::Agent,
    retry: RetryPolicy,
    /// The server, for messages (`http://127.0.0.1:9000`).
    endpoint: String,
}

impl Client {
    pub fn new(endpoint: String, retry: RetryPolicy) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(retry.request_timeout))
            .max_redirects(0)
            // WebDAV's PROPFIND and MKCOL.
            .allow_non_standard_methods(true)
            .user_agent(concat!("context/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            retry,
            endpoint,
        }
    }

    pub fn retry(&self) -> RetryPolicy {
        self.retry
    }

    /// Sends a request made by `send`, retrying what may pass on a second try: throttling
    /// (429), server errors (5xx), dropped or refused connections, timeouts. `named` is the
    /// object as messages name it; `max` bounds the body of a success (a larger one is
    /// [`RemoteError::TooLarge`]). Any status comes back as an [`Answer`] (a 5xx once the
    /// budget is spent): the transport judges it.
    pub fn call(&self, what: &'static str, named: &str, max: u64, send: &Send) -> Result<Answer> {
        let mut attempts = self.retry.start();
        loop {
            let outcome = send(&self.agent).and_then(|mut response| {
                let status = response.status().as_u16();
                let declared = response
                    .headers()
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                if status < 300 && declared.is_some_and(|n| n > max) {
                    return Ok(Err(declared.unwrap_or(max + 1)));
                }
                let mut body = Vec::new();
                response
                    .body_mut()
                    .as_reader()
                    .take(max + 1)
                    .read_to_end(&mut body)
                    .map_err(ureq::Error::Io)?;
                if status < 300 && body.len() as u64 > max {
                    return Ok(Err(body.len() as u64));
                }
                Ok(Ok(Answer { status, body }))
            });
            let retry = match &outcome {
                Ok(Ok(a)) => matches!(a.status, 429 | 500..=599),
                Ok(Err(_)) => false,
                Err(e) => retriable(e),
            };
            if retry {
                let attempt = attempts.attempt();
                if attempts.wait_for_next() {
                    tracing::debug!(what, named, attempt, "retrying a request");
                    continue;
                }
            }
            let attempt = attempts.attempt();
            return match outcome {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(size)) => Err(RemoteError::TooLarge {
                    location: named.to_string(),
                    size,
                }),
                Err(e) => Err(self.transport_error(what, named, e, attempt)),
            };
        }
    }

    /// A request that got no answer, said as a person would.
    fn transport_error(
        &self,
        what: &'static str,
        named: &str,
        e: ureq::Error,
        attempts: u32,
    ) -> RemoteError {
        // ureq names its timeouts by their setting ("timeout: global"): say what happened.
        let said = match &e {
            ureq::Error::Timeout(ureq::Timeout::Connect) => format!(
                "no connection within {} s (is the endpoint up and reachable?)",
                CONNECT_TIMEOUT.as_secs()
            ),
            ureq::Error::Timeout(_) => format!(
                "no complete answer within {} (the endpoint accepted the connection but did not \
                 answer; CONTEXT_REQUEST_TIMEOUT sets how long to wait)",
                crate::duration::format(self.retry.request_timeout)
            ),
            other => other.to_string(),
        };
        let cause: Cause = format!(
            "{said} (endpoint {}, {attempts} attempt{})",
            self.endpoint,
            if attempts == 1 { "" } else { "s" }
        )
        .into();
        RemoteError::failed(what, named.to_string(), cause)
    }
}

/// The last `len` bytes of `body` (what a ranged GET asked for, or the end of a whole object a
/// server sent in its place), or `None` for a body shorter than that.
pub(super) fn last_bytes(body: &[u8], len: u64) -> Option<Vec<u8>> {
    body.len()
        .checked_sub(usize::try_from(len).ok()?)
        .map(|at| body[at..].to_vec())
}

/// Whether a transport failure may pass on a second try.
fn retriable(e: &ureq::Error) -> bool {
    use ureq::Error as E;
    matches!(
        e,
        E::Io(_) | E::Timeout(_) | E::ConnectionFailed | E::HostNotFound | E::Protocol(_)
    )
}
