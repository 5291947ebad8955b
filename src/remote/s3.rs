//! `s3://BUCKET[/PREFIX]`: S3 and every S3-compatible store (MinIO, R2, B2, Garage).
//!
//! Requests are signed with SigV4 by `rusty-s3` (sans-IO: it signs, it sends nothing) and sent
//! by `ureq`, a blocking HTTP client: the [`Transport`] trait is synchronous, so no async
//! runtime stands between a command and its requests, and no credential provider runs that
//! we did not ask for. Configuration comes from the environment as the AWS tools name it
//! ([`S3Config::from_env`]); the instance metadata service is asked only when
//! `CONTEXT_S3_IMDS=1`.
//!
//! A changeset is created with `If-None-Match: *`, so S3 itself refuses to replace an object
//! that exists (412): two machines writing as the same peer never replace each other's file.
//! Manifests are plain overwrites of the peer's own object. Throttling (429, 503), server
//! errors (5xx) and dropped connections are retried with backoff within a bounded time, then
//! reported naming the bucket, the key and the HTTP status.

use std::io::Read;
use std::time::Duration;

use rusty_s3::actions::ListObjectsV2;
use rusty_s3::{Bucket, S3Action, UrlStyle};

use super::aws::{S3Config, display_location};
use super::transport::{Created, Transport};
use super::{Cause, RemoteError, Result};

/// Changesets a pull fetches at once: enough to hide a round trip of tens of milliseconds,
/// few enough that the changesets waiting to be applied stay a few tens of MB at most.
const READS_IN_FLIGHT: usize = 8;
/// How long a signed request stays valid (it is signed right before it is sent).
const SIGNED_FOR: Duration = Duration::from_secs(15 * 60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An S3 bucket (or a prefix in one) as an [`Transport`].
#[derive(Debug, Clone)]
pub struct S3 {
    config: S3Config,
    bucket: Bucket,
    location: String,
    agent: ureq::Agent,
}

/// An answer: its status, and its body when it was read.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    /// The `<Code>` of an S3 error document (`NoSuchKey`, `NoSuchBucket`, ...).
    fn code(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map(|(code, _)| code.to_string())
            .unwrap_or_default()
    }
}

impl S3 {
    pub fn new(config: S3Config) -> Result<S3> {
        let location = display_location(&config.bucket, &config.prefix);
        let style = if config.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            config.endpoint.clone(),
            style,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|e| RemoteError::Config {
            location: location.clone(),
            reason: format!("cannot address the bucket at {}: {e:?}", config.endpoint),
        })?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(config.retry.request_timeout))
            .max_redirects(0)
            .user_agent(concat!("context/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(S3 {
            config,
            bucket,
            location,
            agent,
        })
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.config.prefix)
    }

    /// `s3://bucket/prefix/key`, for messages.
    fn named(&self, key: &str) -> String {
        format!("s3://{}/{}", self.config.bucket, self.full_key(key))
    }

    /// Sends a request made by `send` (signed afresh for every attempt), retrying what may
    /// pass on a second try: throttling, server errors, dropped connections. `max` bounds the
    /// body read (a larger one is [`RemoteError::TooLarge`]).
    fn call(
        &self,
        what: &'static str,
        key: &str,
        max: u64,
        send: impl Fn(
            &ureq::Agent,
        ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Answer> {
        let mut attempts = self.config.retry.start();
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
                    tracing::debug!(what, key, attempt, "retrying an S3 request");
                    continue;
                }
            }
            let attempt = attempts.attempt();
            return match outcome {
                Ok(Ok(answer)) if answer.status >= 500 || answer.status == 429 => {
                    Err(self.status_error(what, key, &answer))
                }
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(size)) => Err(RemoteError::TooLarge {
                    location: self.named(key),
                    size,
                }),
                Err(e) => Err(self.transport_error(what, key, e, attempt)),
            };
        }
    }

    fn transport_error(
        &self,
        what: &'static str,
        key: &str,
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
                crate::duration::format(self.config.retry.request_timeout)
            ),
            other => other.to_string(),
        };
        let cause: Cause = format!(
            "{said} (endpoint {}, {attempts} attempt{})",
            self.config.endpoint,
            if attempts == 1 { "" } else { "s" }
        )
        .into();
        RemoteError::failed(what, self.named(key), cause)
    }

    /// The error for an answer that is not what the operation expects.
    fn status_error(&self, what: &'static str, key: &str, answer: &Answer) -> RemoteError {
        let code = answer.code();
        if code == "NoSuchBucket" {
            return RemoteError::NoBucket {
                location: self.location.clone(),
            };
        }
        let hint = match (answer.status, code.as_str()) {
            (403, "InvalidAccessKeyId") | (403, "SignatureDoesNotMatch") => {
                " (the credentials are refused: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            }
            (403, _) => {
                " (access denied: the credentials need list, get, put and delete on the prefix)"
            }
            (301, _) | (400, "AuthorizationHeaderMalformed") => {
                " (the bucket is in another region: set AWS_REGION)"
            }
            _ => "",
        };
        RemoteError::Http {
            location: self.named(key),
            what,
            status: answer.status,
            code: if code.is_empty() { None } else { Some(code) },
            hint,
        }
    }

    /// One page of a listing: its keys (and, with a `delimiter`, its common prefixes, each
    /// ending in it), and the token of the next page.
    fn list_page(
        &self,
        prefix: &str,
        after: Option<&str>,
        delimiter: Option<&str>,
        token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>)> {
        // A listing cut short (a proxy, a store under load) does not parse: asked again,
        // within the same budget as any failed request.
        let mut attempts = self.config.retry.start();
        loop {
            match self.list_page_once(prefix, after, delimiter, token) {
                Err(RemoteError::List { location, source }) => {
                    if attempts.wait_for_next() {
                        tracing::debug!(prefix, "retrying a listing that could not be read");
                        continue;
                    }
                    return Err(RemoteError::List { location, source });
                }
                other => return other,
            }
        }
    }

    /// One attempt at one page. `prefix` is relative to the remote's (messages name it once).
    fn list_page_once(
        &self,
        prefix: &str,
        after: Option<&str>,
        delimiter: Option<&str>,
        token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>)> {
        let full_prefix = self.full_key(prefix);
        let prefix_ref = full_prefix.as_str();
        let answer = self.call("list", prefix, 64 << 20, |agent| {
            let mut action = self.bucket.list_objects_v2(Some(&self.config.credentials));
            action.with_prefix(prefix_ref);
            if let Some(d) = delimiter {
                action.with_delimiter(d);
            }
            if let Some(after) = after {
                action.with_start_after(after);
            }
            if let Some(token) = token {
                action.with_continuation_token(token);
            }
            agent.get(action.sign(SIGNED_FOR).as_str()).call()
        })?;
        if answer.status != 200 {
            return Err(self.status_error("list", prefix, &answer));
        }
        let text = String::from_utf8_lossy(&answer.body);
        let parsed = ListObjectsV2::parse_response(&text).map_err(|e| RemoteError::List {
            location: self.named(prefix),
            source: format!("the listing cannot be read: {e}").into(),
        })?;
        let keys = parsed
            .contents
            .into_iter()
            .map(|c| c.key)
            .chain(parsed.common_prefixes.into_iter().map(|p| p.prefix))
            .collect();
        Ok((keys, parsed.next_continuation_token))
    }

    /// Creates the bucket (for tests and benches against a local server; `context` itself never
    /// creates buckets).
    pub fn create_bucket(&self) -> Result<()> {
        let answer = self.call("create bucket", "", 1 << 20, |agent| {
            let action = self.bucket.create_bucket(&self.config.credentials);
            agent.put(action.sign(SIGNED_FOR).as_str()).send_empty()
        })?;
        match answer.status {
            200 | 409 => Ok(()),
            _ => Err(self.status_error("create bucket", "", &answer)),
        }
    }
}

impl S3 {
    /// Every key under `prefix` (relative to the remote's prefix) after `after`, page by page;
    /// with a `delimiter`, the folders (common prefixes) in place of what is in them.
    fn list_with(
        &self,
        prefix: &str,
        after: Option<&str>,
        delimiter: Option<&str>,
    ) -> Result<Vec<String>> {
        let full_after = after.map(|a| self.full_key(a));
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) =
                self.list_page(prefix, full_after.as_deref(), delimiter, token.as_deref())?;
            keys.extend(
                page.into_iter()
                    .filter_map(|k| k.strip_prefix(&self.config.prefix).map(str::to_string)),
            );
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

/// Whether a transport failure may pass on a second try.
fn retriable(e: &ureq::Error) -> bool {
    use ureq::Error as E;
    matches!(
        e,
        E::Io(_) | E::Timeout(_) | E::ConnectionFailed | E::HostNotFound | E::Protocol(_)
    )
}

impl Transport for S3 {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn list(&self, prefix: &str, after: Option<&str>) -> Result<Vec<String>> {
        self.list_with(prefix, after, None)
    }

    fn list_top(&self) -> Result<Vec<String>> {
        self.list_with("", None, Some("/"))
    }

    fn get(&self, key: &str, max: u64) -> Result<Vec<u8>> {
        let full = self.full_key(key);
        let answer = self.call("get", key, max, |agent| {
            let action = self
                .bucket
                .get_object(Some(&self.config.credentials), &full);
            agent.get(action.sign(SIGNED_FOR).as_str()).call()
        })?;
        match answer.status {
            200 => Ok(answer.body),
            404 if answer.code() != "NoSuchBucket" => Err(RemoteError::NotFound {
                location: self.named(key),
            }),
            _ => Err(self.status_error("get", key, &answer)),
        }
    }

    fn get_tail(&self, key: &str, len: u64) -> Result<Option<Vec<u8>>> {
        let full = self.full_key(key);
        let answer = self.call("get", key, len.max(1 << 16), |agent| {
            let action = self
                .bucket
                .get_object(Some(&self.config.credentials), &full);
            agent
                .get(action.sign(SIGNED_FOR).as_str())
                .header("range", format!("bytes=-{len}"))
                .call()
        });
        let answer = match answer {
            // A server that ignored the range sent a whole large object.
            Err(RemoteError::TooLarge { .. }) => {
                let whole = self.get(key, super::MAX_OBJECT_BYTES)?;
                return Ok(whole
                    .len()
                    .checked_sub(len as usize)
                    .map(|at| whole[at..].to_vec()));
            }
            other => other?,
        };
        match answer.status {
            200 | 206 => Ok(answer
                .body
                .len()
                .checked_sub(len as usize)
                .map(|at| answer.body[at..].to_vec())),
            // An empty object has no last byte to ask for.
            416 => Ok(None),
            404 if answer.code() != "NoSuchBucket" => Err(RemoteError::NotFound {
                location: self.named(key),
            }),
            _ => Err(self.status_error("get", key, &answer)),
        }
    }

    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<Created> {
        let full = self.full_key(key);
        let answer = self.call("create", key, 1 << 20, |agent| {
            let mut action = self
                .bucket
                .put_object(Some(&self.config.credentials), &full);
            action.headers_mut().insert("if-none-match", "*");
            agent
                .put(action.sign(SIGNED_FOR).as_str())
                .header("if-none-match", "*")
                .send(bytes)
        })?;
        match answer.status {
            200 => Ok(Created::New),
            // It exists (412); or a concurrent conditional write of the same name is in
            // flight (409): one of the two wins, and the caller compares what is there.
            412 | 409 => Ok(Created::Existed),
            _ => Err(self.status_error("create", key, &answer)),
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let full = self.full_key(key);
        let answer = self.call("put", key, 1 << 20, |agent| {
            let action = self
                .bucket
                .put_object(Some(&self.config.credentials), &full);
            agent.put(action.sign(SIGNED_FOR).as_str()).send(bytes)
        })?;
        match answer.status {
            200 => Ok(()),
            _ => Err(self.status_error("put", key, &answer)),
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        let full = self.full_key(key);
        let answer = self.call("delete", key, 1 << 20, |agent| {
            let action = self
                .bucket
                .delete_object(Some(&self.config.credentials), &full);
            agent.delete(action.sign(SIGNED_FOR).as_str()).call()
        })?;
        match answer.status {
            200 | 204 => Ok(()),
            404 if answer.code() != "NoSuchBucket" => Ok(()),
            _ => Err(self.status_error("delete", key, &answer)),
        }
    }

    fn read_parallelism(&self) -> usize {
        READS_IN_FLIGHT
    }

    fn probe(&self) -> Result<()> {
        let answer = self.call("list", "", 1 << 20, |agent| {
            let mut action = self.bucket.list_objects_v2(Some(&self.config.credentials));
            action.with_prefix(self.config.prefix.as_str());
            action.with_max_keys(1);
            agent.get(action.sign(SIGNED_FOR).as_str()).call()
        })?;
        match answer.status {
            200 => Ok(()),
            _ => Err(self.status_error("list", "", &answer)),
        }
    }
}
