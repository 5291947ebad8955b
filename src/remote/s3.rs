//! `s3://BUCKET[/PREFIX]`: S3 and every S3-compatible store (MinIO, R2, B2, Garage).
//!
//! Requests are signed with SigV4 by `rusty-s3` (sans-IO: it signs, it sends nothing) and sent
//! by `ureq`, a blocking HTTP client: the [`ObjectStore`] trait is synchronous, so no async
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
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use url::Url;

use super::objects::{Created, ObjectStore};
use super::retry::RetryPolicy;
use super::{Cause, RemoteError, Result};

/// Changesets a pull fetches at once: enough to hide a round trip of tens of milliseconds,
/// few enough that the changesets waiting to be applied stay a few tens of MB at most.
const READS_IN_FLIGHT: usize = 8;
/// How long a signed request stays valid (it is signed right before it is sent).
const SIGNED_FOR: Duration = Duration::from_secs(15 * 60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One request, from sending it to the last byte of its answer (a changeset is a few MB: a
/// minute is 1 Mbit/s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Where an `s3://` remote is and how to reach it.
#[derive(Clone)]
pub struct S3Config {
    pub bucket: String,
    /// `""`, or a prefix ending in `/`.
    pub prefix: String,
    pub endpoint: Url,
    pub region: String,
    /// Path-style URLs (`ENDPOINT/BUCKET/KEY`), as S3-compatible servers expect; AWS itself
    /// is addressed virtual-host style (`BUCKET.ENDPOINT/KEY`).
    pub path_style: bool,
    pub credentials: Credentials,
    /// How long a failing request is retried ([`super::retry`]).
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint.as_str())
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// Reads the configuration the AWS tools read: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` (else `AWS_DEFAULT_REGION`,
    /// else `us-east-1`), `AWS_ENDPOINT_URL_S3` (else `AWS_ENDPOINT_URL`, else AWS), and
    /// `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint. Without keys, the instance metadata
    /// service is asked only when `CONTEXT_S3_IMDS=1` (its address from
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, as the AWS SDKs name it).
    pub fn from_env(
        bucket: &str,
        prefix: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<S3Config> {
        let location = display_location(bucket, prefix);
        let config_error = |reason: String| RemoteError::Config {
            location: location.clone(),
            reason,
        };
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_string());
        let custom = env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL"));
        let path_style = custom.is_some();
        let endpoint_text = custom
            .clone()
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        // A secret in the endpoint's URL is never used, printed or stored.
        let endpoint_text = super::location::redact(&endpoint_text);
        let mut endpoint = Url::parse(&endpoint_text).map_err(|e| {
            config_error(format!("the endpoint {endpoint_text:?} is not a URL: {e}"))
        })?;
        if !endpoint.username().is_empty() || endpoint.password().is_some() {
            tracing::warn!("the user and password in the S3 endpoint's URL are ignored");
            let _ = endpoint.set_username("");
            let _ = endpoint.set_password(None);
        }
        let allow_http = env("AWS_ALLOW_HTTP").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        match endpoint.scheme() {
            "https" => {}
            "http" if allow_http => {}
            "http" => {
                return Err(config_error(format!(
                    "the endpoint {endpoint_text} is plain HTTP: set AWS_ALLOW_HTTP=true to use it"
                )));
            }
            other => {
                return Err(config_error(format!(
                    "the endpoint {endpoint_text} has scheme {other}: use https:// (or http:// \
                     with AWS_ALLOW_HTTP=true)"
                )));
            }
        }
        let credentials = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(key), Some(secret)) => match env("AWS_SESSION_TOKEN") {
                Some(token) => Credentials::new_with_token(key, secret, token),
                None => Credentials::new(key, secret),
            },
            _ if env("CONTEXT_S3_IMDS").as_deref() == Some("1") => {
                let imds = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                    .unwrap_or_else(|| "http://169.254.169.254".to_string());
                imds_credentials(&imds).map_err(|e| {
                    config_error(format!(
                        "no credentials from the instance metadata service: {e}"
                    ))
                })?
            }
            _ => {
                return Err(config_error(
                    "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and \
                     AWS_SESSION_TOKEN for temporary ones), or CONTEXT_S3_IMDS=1 on a cloud \
                     machine with an instance role"
                        .to_string(),
                ));
            }
        };
        let retry = RetryPolicy::from_env(env).map_err(config_error)?;
        Ok(S3Config {
            bucket: bucket.to_string(),
            prefix: normalise_prefix(prefix),
            endpoint,
            region,
            path_style,
            credentials,
            retry,
        })
    }
}

/// `a/b/` for `a/b`, `/a/b/` or `a//b`; `""` for none.
fn normalise_prefix(prefix: &str) -> String {
    let parts: Vec<&str> = prefix.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("{}/", parts.join("/"))
    }
}

/// `s3://bucket` or `s3://bucket/prefix`: one remote, however its prefix was spelled.
pub fn display_location(bucket: &str, prefix: &str) -> String {
    match normalise_prefix(prefix).strip_suffix('/') {
        Some(p) => format!("s3://{bucket}/{p}"),
        None => format!("s3://{bucket}"),
    }
}

/// An S3 bucket (or a prefix in one) as an [`ObjectStore`].
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
            .timeout_global(Some(REQUEST_TIMEOUT))
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
        let cause: Cause = format!(
            "{e} (endpoint {}, {attempts} attempt{})",
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

impl ObjectStore for S3 {
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

/// Temporary credentials of the machine's instance role, from the instance metadata service
/// (IMDSv2: a session token first, then the role's name, then its credentials).
fn imds_credentials(endpoint: &str) -> std::result::Result<Credentials, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(3)))
        .proxy(None)
        .build()
        .into();
    let base = endpoint.trim_end_matches('/');
    let token = agent
        .put(format!("{base}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
        .send_empty()
        .and_then(|mut r| r.body_mut().read_to_string())
        .map_err(|e| format!("{base}: {e}"))?;
    let get = |path: &str| {
        agent
            .get(format!("{base}{path}"))
            .header("x-aws-ec2-metadata-token", token.trim())
            .call()
            .and_then(|mut r| r.body_mut().read_to_string())
            .map_err(|e| format!("{base}{path}: {e}"))
    };
    const ROLES: &str = "/latest/meta-data/iam/security-credentials/";
    let roles = get(ROLES)?;
    let role = roles
        .lines()
        .next()
        .filter(|r| !r.trim().is_empty())
        .ok_or("this machine has no instance role")?;
    let json = get(&format!("{ROLES}{}", role.trim()))?;
    let v: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| format!("the role's credentials: {e}"))?;
    let field = |name: &str| {
        v[name]
            .as_str()
            .map(str::to_string)
            .ok_or(format!("the role's credentials lack {name}"))
    };
    Ok(Credentials::new_with_token(
        field("AccessKeyId")?,
        field("SecretAccessKey")?,
        field("Token")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const KEYS: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];

    #[test]
    fn the_environment_names_the_endpoint_region_and_credentials() {
        let c = S3Config::from_env("notes", "team/a", &env(&KEYS)).unwrap();
        assert_eq!(c.endpoint.as_str(), "https://s3.us-east-1.amazonaws.com/");
        assert!(!c.path_style);
        assert_eq!(c.prefix, "team/a/");
        let mut vars = KEYS.to_vec();
        vars.extend([
            ("AWS_DEFAULT_REGION", "eu-west-3"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9001"),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_SESSION_TOKEN", "tok"),
        ]);
        let c = S3Config::from_env("notes", "", &env(&vars)).unwrap();
        assert_eq!(c.endpoint.as_str(), "http://127.0.0.1:9001/");
        assert_eq!(c.region, "eu-west-3");
        assert!(c.path_style);
        assert_eq!(c.credentials.token(), Some("tok"));
        assert_eq!(c.prefix, "");
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn missing_credentials_and_plain_http_are_refused_naming_what_to_set() {
        let e = S3Config::from_env("notes", "", &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("AWS_ACCESS_KEY_ID") && e.contains("AWS_SECRET_ACCESS_KEY"),
            "{e}"
        );
        assert!(e.contains("s3://notes"), "{e}");
        let mut vars = KEYS.to_vec();
        vars.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"));
        let e = S3Config::from_env("notes", "", &env(&vars))
            .unwrap_err()
            .to_string();
        assert!(e.contains("AWS_ALLOW_HTTP"), "{e}");
    }

    #[test]
    fn prefixes_are_one_remote_however_spelled() {
        for p in ["a/b", "/a/b/", "a//b/"] {
            assert_eq!(display_location("x", p), "s3://x/a/b");
        }
        assert_eq!(display_location("x", ""), "s3://x");
        assert_eq!(display_location("x", "/"), "s3://x");
    }

    /// The metadata service is asked only when `CONTEXT_S3_IMDS=1`, and then at the address
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT` gives: here a stand-in on loopback that answers
    /// IMDSv2's three requests.
    #[test]
    fn instance_role_credentials_come_from_imds_only_when_asked() {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let mut paths = Vec::new();
            for _ in 0..3 {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut token_ok = false;
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    let lower = h.to_ascii_lowercase();
                    token_ok |= lower.starts_with("x-aws-ec2-metadata-token: t0k")
                        || lower.starts_with("x-aws-ec2-metadata-token-ttl-seconds");
                    if h == "\r\n" || h.is_empty() {
                        break;
                    }
                }
                let path = line.split(' ').nth(1).unwrap().to_string();
                let body = match path.as_str() {
                    "/latest/api/token" => "t0k".to_string(),
                    "/latest/meta-data/iam/security-credentials/" => "role-x\n".to_string(),
                    _ => r#"{"AccessKeyId":"AK","SecretAccessKey":"SK","Token":"TK"}"#.to_string(),
                };
                let status = if token_ok {
                    "200 OK"
                } else {
                    "401 Unauthorized"
                };
                let mut out = stream;
                write!(
                    out,
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
                paths.push(path);
            }
            paths
        });
        let vars = [
            ("CONTEXT_S3_IMDS", "1"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint.as_str()),
        ];
        let c = S3Config::from_env("notes", "", &env(&vars)).unwrap();
        assert_eq!(c.credentials.key(), "AK");
        assert_eq!(c.credentials.token(), Some("TK"));
        let paths = server.join().unwrap();
        assert_eq!(
            paths,
            [
                "/latest/api/token",
                "/latest/meta-data/iam/security-credentials/",
                "/latest/meta-data/iam/security-credentials/role-x"
            ]
        );
        // Without the switch, the same environment asks nothing and says what to set.
        let e = S3Config::from_env("notes", "", &env(&vars[1..])).unwrap_err();
        assert!(e.to_string().contains("AWS_ACCESS_KEY_ID"), "{e}");
    }
}
