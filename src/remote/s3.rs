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

use std::time::Duration;

use rusty_s3::actions::ListObjectsV2;
use rusty_s3::{Bucket, S3Action, UrlStyle};

use super::aws::{S3Config, display_location};
use super::http::{Answer, Client};
use super::transport::{Created, Transport};
use super::{RemoteError, Result};

/// Changesets a pull fetches at once: enough to hide a round trip of tens of milliseconds,
/// few enough that the changesets waiting to be applied stay a few tens of MB at most.
const READS_IN_FLIGHT: usize = 8;
/// How long a signed request stays valid (it is signed right before it is sent).
const SIGNED_FOR: Duration = Duration::from_secs(15 * 60);

/// The S3 transport.
pub(super) static SCHEME: super::registry::Scheme = super::registry::Scheme {
    name: "S3",
    schemes: &["s3"],
    form: "s3://BUCKET[/PREFIX][?profile=NAME]",
    environment: &[
        (
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (AWS_DEFAULT_REGION),\n  AWS_ENDPOINT_URL (AWS_ENDPOINT_URL_S3), AWS_ALLOW_HTTP=true",
            "s3:// credentials, region and endpoint, as the AWS tools name them",
        ),
        (
            "AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE",
            "what the environment lacks, from a profile of ~/.aws/credentials and\n~/.aws/config (the environment wins)",
        ),
        (
            "CONTEXT_S3_IMDS=1",
            "lets an s3:// remote ask the instance metadata service for credentials",
        ),
    ],
    parse: S3Location::parse,
};

/// Where an `s3://` remote is: a bucket of S3 or an S3-compatible store, and a prefix in it
/// (`""` for none); with `?profile=NAME`, the profile of the AWS shared files it takes what
/// the environment lacks from (in place of `AWS_PROFILE`). The profile is how it is reached,
/// not which remote it is: its canonical form leaves it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub prefix: String,
    pub profile: Option<String>,
}

impl S3Location {
    fn parse(_: &str, rest: &str) -> super::registry::Parsed {
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let profile = match query {
            None => None,
            Some(q) => match q.strip_prefix("profile=") {
                Some(name)
                    if !name.is_empty()
                        && name.bytes().all(|b| {
                            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')
                        }) =>
                {
                    Some(name.to_string())
                }
                _ => {
                    return Err(format!(
                        "it takes one setting after `?`, profile=NAME (a profile of \
                         ~/.aws/credentials and ~/.aws/config), not {q:?}"
                    ));
                }
            },
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = !bucket.is_empty()
            && bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !valid {
            return Err("it names no bucket".into());
        }
        Ok(Box::new(S3Location {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            profile,
        }))
    }
}

impl super::registry::Target for S3Location {
    fn url(&self) -> String {
        let base = display_location(&self.bucket, &self.prefix);
        match &self.profile {
            Some(p) => format!("{base}?profile={p}"),
            None => base,
        }
    }
    fn canonical(&self) -> String {
        display_location(&self.bucket, &self.prefix)
    }
    fn open(&self, env: super::registry::Env) -> Result<super::Remote> {
        // A profile named in the location stands for AWS_PROFILE.
        let env = |name: &str| match (name, &self.profile) {
            ("AWS_PROFILE", Some(p)) => Some(p.clone()),
            _ => env(name),
        };
        Ok(super::Remote::new(S3::new(S3Config::from_env(
            &self.bucket,
            &self.prefix,
            &env,
        )?)?))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An S3 bucket (or a prefix in one) as an [`Transport`].
#[derive(Debug, Clone)]
pub struct S3 {
    config: S3Config,
    bucket: Bucket,
    location: String,
    http: Client,
}

/// The `<Code>` of an S3 error document (`NoSuchKey`, `NoSuchBucket`, ...).
fn code(answer: &Answer) -> String {
    let text = String::from_utf8_lossy(&answer.body);
    text.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_string())
        .unwrap_or_default()
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
        let http = Client::new(config.endpoint.to_string(), config.retry);
        Ok(S3 {
            config,
            bucket,
            location,
            http,
        })
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.config.prefix)
    }

    /// `s3://bucket/prefix/key`, for messages.
    fn named(&self, key: &str) -> String {
        format!("s3://{}/{}", self.config.bucket, self.full_key(key))
    }

    /// Sends a request made by `send` (signed afresh for every attempt) through the shared
    /// HTTP layer, which retries what may pass on a second try. `max` bounds the body read.
    fn call(
        &self,
        what: &'static str,
        key: &str,
        max: u64,
        send: impl Fn(
            &ureq::Agent,
        ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Answer> {
        self.http.call(what, &self.named(key), max, &send)
    }

    /// The error for an answer that is not what the operation expects.
    fn status_error(&self, what: &'static str, key: &str, answer: &Answer) -> RemoteError {
        let code = code(answer);
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
        let mut attempts = self.http.retry().start();
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
            404 if code(&answer) != "NoSuchBucket" => Err(RemoteError::NotFound {
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
                return Ok(super::http::last_bytes(&whole, len));
            }
            other => other?,
        };
        match answer.status {
            200 | 206 => Ok(super::http::last_bytes(&answer.body, len)),
            // An empty object has no last byte to ask for.
            416 => Ok(None),
            404 if code(&answer) != "NoSuchBucket" => Err(RemoteError::NotFound {
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
            404 if code(&answer) != "NoSuchBucket" => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::{Location, LocationError};

    #[test]
    fn s3_urls_name_a_bucket_and_a_prefix() {
        let s3 = |url: &str| {
            Location::parse(url)
                .unwrap()
                .target::<S3Location>()
                .cloned()
        };
        assert_eq!(
            s3("s3://notes"),
            Some(S3Location {
                bucket: "notes".into(),
                prefix: "".into(),
                profile: None,
            })
        );
        let l = Location::parse("s3://notes/team/a/").unwrap();
        assert_eq!(
            l.target::<S3Location>(),
            Some(&S3Location {
                bucket: "notes".into(),
                prefix: "team/a".into(),
                profile: None,
            })
        );
        assert_eq!(l.to_string(), "s3://notes/team/a");
        for bad in ["s3://", "s3:///x", "s3://a b/x"] {
            assert!(
                matches!(Location::parse(bad), Err(LocationError::Invalid { reason, .. }) if reason.contains("no bucket")),
                "{bad}"
            );
        }
        // A profile of the AWS shared files: how it is reached, not which remote it is.
        let l = Location::parse("s3://notes/team/a?profile=work").unwrap();
        assert_eq!(
            l.target::<S3Location>(),
            Some(&S3Location {
                bucket: "notes".into(),
                prefix: "team/a".into(),
                profile: Some("work".into()),
            })
        );
        assert_eq!(l.to_string(), "s3://notes/team/a?profile=work");
        assert_eq!(l.canonical(), "s3://notes/team/a");
        for bad in [
            "s3://notes?region=x",
            "s3://notes?profile=",
            "s3://n?profile=a b",
        ] {
            assert!(
                matches!(Location::parse(bad), Err(LocationError::Invalid { reason, .. }) if reason.contains("profile=NAME")),
                "{bad}"
            );
        }
    }
}
