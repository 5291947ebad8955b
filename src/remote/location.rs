//! Where a remote is, as a user writes it: a folder path, `file:///PATH`, `s3://BUCKET[/PREFIX]`,
//! `ssh://[USER@]HOST[:PORT]/PATH`. Parsing is syntax only, so that a bad value is a usage error before
//! anything runs; [`super::open`] then reaches the place itself.

use std::fmt;
use std::path::PathBuf;

/// What this version understands, for the message that refuses anything else.
pub const KNOWN_FORMS: &str = "a folder path, file:///PATH, s3://BUCKET[/PREFIX][?profile=NAME] \
     or ssh://[USER@]HOST[:PORT]/PATH";

/// A parsed remote location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A folder every machine can see; the path as given (made absolute when opened).
    Folder(PathBuf),
    /// A bucket of S3 or an S3-compatible store, and a prefix in it (`""` for none); with
    /// `?profile=NAME`, the profile of the AWS shared files it takes what the environment
    /// lacks from (in place of `AWS_PROFILE`). The profile is how it is reached, not which
    /// remote it is: [`Location::canonical`] leaves it out.
    S3 {
        bucket: String,
        prefix: String,
        profile: Option<String>,
    },
    /// A folder on a machine reachable by SSH.
    Ssh(super::SshTarget),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("unknown remote scheme {scheme}:// in {location:?}: a remote is {KNOWN_FORMS}")]
    UnknownScheme { location: String, scheme: String },
    #[error("an empty remote location: a remote is {KNOWN_FORMS}")]
    Empty,
    #[error("{location:?} names no bucket: an S3 remote is s3://BUCKET[/PREFIX]")]
    NoBucket { location: String },
    #[error(
        "{location:?}: an S3 remote takes one setting after `?`, profile=NAME (a profile of \
         ~/.aws/credentials and ~/.aws/config), not {query:?}"
    )]
    BadQuery { location: String, query: String },
    #[error(
        "{location:?} holds a password: context never stores or sends one (ssh authenticates \
         with your keys or agent; S3 and WebDAV read credentials from the environment or your \
         credential files). Remove `:PASSWORD` from the URL"
    )]
    Password { location: String },
    #[error("{location:?} is not an SSH remote: {reason} (ssh://[USER@]HOST[:PORT]/PATH)")]
    BadSsh {
        location: String,
        reason: &'static str,
    },
}

impl Location {
    pub fn parse(location: &str) -> Result<Location, LocationError> {
        if location.is_empty() {
            return Err(LocationError::Empty);
        }
        let shown = redact(location);
        if shown != location {
            return Err(LocationError::Password { location: shown });
        }
        match scheme_of(location) {
            None => Ok(Location::Folder(PathBuf::from(location))),
            Some(("file", rest)) if !rest.is_empty() => Ok(Location::Folder(PathBuf::from(rest))),
            Some(("file", _)) => Err(LocationError::Empty),
            Some(("s3", rest)) => {
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
                            return Err(LocationError::BadQuery {
                                location: location.to_string(),
                                query: q.to_string(),
                            });
                        }
                    },
                };
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let valid = !bucket.is_empty()
                    && bucket
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
                if !valid {
                    return Err(LocationError::NoBucket {
                        location: location.to_string(),
                    });
                }
                Ok(Location::S3 {
                    bucket: bucket.to_string(),
                    prefix: prefix.trim_matches('/').to_string(),
                    profile,
                })
            }
            Some(("ssh", rest)) => parse_ssh(location, rest).map(Location::Ssh),
            Some((scheme, _)) => Err(LocationError::UnknownScheme {
                location: location.to_string(),
                scheme: scheme.to_string(),
            }),
        }
    }
}

impl std::str::FromStr for Location {
    type Err = LocationError;
    fn from_str(s: &str) -> Result<Location, LocationError> {
        Location::parse(s)
    }
}

impl Location {
    /// The string the remote will call itself once opened ([`super::Remote::location`]: a
    /// folder's canonical path), found without reaching it: what the run log and the home's
    /// records of this remote are keyed by.
    pub fn canonical(&self) -> String {
        match self {
            Location::Folder(path) => super::folder::normalise(path).display().to_string(),
            Location::S3 { bucket, prefix, .. } => super::aws::display_location(bucket, prefix),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Folder(path) => write!(f, "{}", path.display()),
            Location::S3 {
                bucket,
                prefix,
                profile,
            } => {
                f.write_str(&super::aws::display_location(bucket, prefix))?;
                match profile {
                    Some(p) => write!(f, "?profile={p}"),
                    None => Ok(()),
                }
            }
            Location::Ssh(target) => f.write_str(&target.location()),
        }
    }
}

/// `location` with the password of a `scheme://user:password@host` URL replaced by `***`:
/// what may be printed or stored of a URL someone wrote a secret into.
pub fn redact(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..]),
            None => location.to_string(),
        },
        None => location.to_string(),
    }
}

/// `text` (a message) with the password of every URL in it replaced by `***`.
pub fn redact_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c == '/' || c.is_whitespace() || matches!(c, '\'' | '"' | '>'))
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rsplit_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split(':').next().unwrap_or_default();
                out.push_str(&format!("{user}:***@{host}"));
            }
            _ => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `[USER@]HOST[:PORT]/PATH`: `/PATH` is absolute, `/~/PATH` relative to the login folder.
fn parse_ssh(location: &str, rest: &str) -> Result<super::SshTarget, LocationError> {
    let bad = |reason| LocationError::BadSsh {
        location: location.to_string(),
        reason,
    };
    let (authority, path) = rest
        .split_once('/')
        .ok_or_else(|| bad("it names no folder"))?;
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
        Some(_) => return Err(bad("the user before @ is empty")),
        None => (None, authority),
    };
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (
            h,
            Some(
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
        ),
        None => (host_port, None),
    };
    let valid_host = !host.is_empty()
        && !host.starts_with('-')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !valid_host {
        return Err(bad("it names no host"));
    }
    let path = path.trim_end_matches('/');
    let path = match path.strip_prefix('~') {
        Some(home) => home.trim_start_matches('/').to_string(),
        None => format!("/{path}"),
    };
    if path.is_empty() || path == "/" {
        return Err(bad("it names no folder"));
    }
    Ok(super::SshTarget {
        user,
        host: host.to_string(),
        port,
        path,
    })
}

/// `scheme://rest` with a scheme as RFC 3986 spells one (a letter, then letters, digits, `+`,
/// `-`, `.`), lower-cased; `None` for anything else (a plain path, even one holding `://`
/// further on).
fn scheme_of(location: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = location.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some((scheme, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_a_url_is_refused_and_never_shown() {
        for url in [
            "ssh://me:hunter2@nas/srv/notes",
            "ssh://me:hunter2@nas:22/~/notes",
            "s3://b:hunter2@x/prefix",
        ] {
            let e = Location::parse(url).unwrap_err();
            assert!(matches!(e, LocationError::Password { .. }), "{url}: {e}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
            assert!(e.to_string().contains("***"), "{e}");
        }
        assert_eq!(
            redact("http://id:secret@host:9000/x"),
            "http://id:***@host:9000/x"
        );
        assert_eq!(redact("ssh://me@nas/x"), "ssh://me@nas/x");
        assert_eq!(redact("/plain/path"), "/plain/path");
        assert_eq!(
            redact_in("invalid value 'ssh://me:pw@h/x' and \"http://a:b@c\""),
            "invalid value 'ssh://me:***@h/x' and \"http://a:***@c\""
        );
    }

    #[test]
    fn paths_and_file_urls_are_folders() {
        assert_eq!(
            Location::parse("/tmp/x").unwrap(),
            Location::Folder("/tmp/x".into())
        );
        assert_eq!(
            Location::parse("file:///tmp/x").unwrap(),
            Location::Folder("/tmp/x".into())
        );
        assert_eq!(
            Location::parse("relative/dir").unwrap(),
            Location::Folder("relative/dir".into())
        );
        assert_eq!(
            Location::parse("./odd://name").unwrap(),
            Location::Folder("./odd://name".into())
        );
    }

    #[test]
    fn s3_urls_name_a_bucket_and_a_prefix() {
        assert_eq!(
            Location::parse("s3://notes").unwrap(),
            Location::S3 {
                bucket: "notes".into(),
                prefix: "".into(),
                profile: None,
            }
        );
        let l = Location::parse("s3://notes/team/a/").unwrap();
        assert_eq!(
            l,
            Location::S3 {
                bucket: "notes".into(),
                prefix: "team/a".into(),
                profile: None,
            }
        );
        assert_eq!(l.to_string(), "s3://notes/team/a");
        for bad in ["s3://", "s3:///x", "s3://a b/x"] {
            assert!(
                matches!(Location::parse(bad), Err(LocationError::NoBucket { .. })),
                "{bad}"
            );
        }
        // A profile of the AWS shared files: how it is reached, not which remote it is.
        let l = Location::parse("s3://notes/team/a?profile=work").unwrap();
        assert_eq!(
            l,
            Location::S3 {
                bucket: "notes".into(),
                prefix: "team/a".into(),
                profile: Some("work".into()),
            }
        );
        assert_eq!(l.to_string(), "s3://notes/team/a?profile=work");
        assert_eq!(l.canonical(), "s3://notes/team/a");
        for bad in [
            "s3://notes?region=x",
            "s3://notes?profile=",
            "s3://n?profile=a b",
        ] {
            assert!(
                matches!(Location::parse(bad), Err(LocationError::BadQuery { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn ssh_urls_name_a_user_a_host_a_port_and_a_folder() {
        let l = Location::parse("ssh://me@nas.local:2222/srv/notes/").unwrap();
        let Location::Ssh(t) = &l else {
            panic!("{l:?}")
        };
        assert_eq!(t.user.as_deref(), Some("me"));
        assert_eq!(t.host, "nas.local");
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.path, "/srv/notes");
        assert_eq!(l.to_string(), "ssh://me@nas.local:2222/srv/notes");
        let Location::Ssh(home) = Location::parse("ssh://nas/~/notes").unwrap() else {
            panic!()
        };
        assert_eq!(
            (home.user, home.port, home.path.as_str()),
            (None, None, "notes")
        );
        for bad in [
            "ssh://nas",
            "ssh://nas/",
            "ssh://@nas/x",
            "ssh://nas:port/x",
            "ssh://-oProxyCommand=x/y",
            "ssh:///x",
        ] {
            assert!(
                matches!(Location::parse(bad), Err(LocationError::BadSsh { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_unknown_scheme_is_refused_naming_what_is_known() {
        let e = Location::parse("ftp://host/dir").unwrap_err();
        assert_eq!(
            e,
            LocationError::UnknownScheme {
                location: "ftp://host/dir".into(),
                scheme: "ftp".into()
            }
        );
        assert!(e.to_string().contains("file:///PATH"), "{e}");
        assert!(e.to_string().contains("s3://BUCKET"), "{e}");
        assert_eq!(Location::parse(""), Err(LocationError::Empty));
        assert_eq!(Location::parse("file://"), Err(LocationError::Empty));
    }
}
