//! How an `s3://` remote is configured, as the AWS tools configure themselves: the
//! environment variables they read, then the shared files (`~/.aws/credentials`,
//! `~/.aws/config`, one profile of them: [`super::aws_profile`]), and the instance metadata
//! service (asked only when `CONTEXT_S3_IMDS=1`). What the S3 transport ([`super::S3`]) needs to sign and send its
//! requests, and nothing it does with them.

use std::time::Duration;

use rusty_s3::Credentials;
use url::Url;

use super::aws_profile::Profile;
use super::retry::RetryPolicy;
use super::{RemoteError, Result};

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
        // What the environment lacks, the profile of the shared files may say.
        let profile = Profile::load(env).map_err(&config_error)?;
        let from_profile = |name: &str| profile.get(name).map(str::to_string);
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| from_profile("region"))
            .unwrap_or_else(|| "us-east-1".to_string());
        let custom = env("AWS_ENDPOINT_URL_S3")
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .or_else(|| from_profile("endpoint_url"));
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
        // The environment's keys, else the profile's; a session token with the keys it goes
        // with.
        let from_env = env("AWS_ACCESS_KEY_ID")
            .zip(env("AWS_SECRET_ACCESS_KEY"))
            .map(|(k, s)| (k, s, env("AWS_SESSION_TOKEN")));
        let from_files = from_profile("aws_access_key_id")
            .zip(from_profile("aws_secret_access_key"))
            .map(|(k, s)| (k, s, from_profile("aws_session_token")));
        let credentials = match from_env.or(from_files) {
            Some((key, secret, Some(token))) => Credentials::new_with_token(key, secret, token),
            Some((key, secret, None)) => Credentials::new(key, secret),
            None if env("CONTEXT_S3_IMDS").as_deref() == Some("1") => {
                let imds = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                    .unwrap_or_else(|| "http://169.254.169.254".to_string());
                imds_credentials(&imds).map_err(|e| {
                    config_error(format!(
                        "no credentials from the instance metadata service: {e}"
                    ))
                })?
            }
            None => {
                return Err(config_error(format!(
                    "no credentials: none in the environment (AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY, and AWS_SESSION_TOKEN for temporary ones), nor for \
                     the profile {:?} in {}; or set CONTEXT_S3_IMDS=1 on a cloud machine with \
                     an instance role",
                    profile.name,
                    profile.describe_files()
                )));
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

/// Whether the AWS shared files hold keys for the profile `env` names (what a scheduled job,
/// with no keys in its environment, would use).
pub fn shared_files_have_credentials(env: &dyn Fn(&str) -> Option<String>) -> bool {
    Profile::load(env).is_ok_and(|p| {
        p.get("aws_access_key_id").is_some() && p.get("aws_secret_access_key").is_some()
    })
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
