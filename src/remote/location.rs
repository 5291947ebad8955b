//! Where a remote is, as a user writes it: a folder path, or `scheme://...` for one of the
//! transports of [`super::registry`]. Parsing is syntax only, so that a bad value is a usage
//! error before anything runs; [`Location::open`] then reaches the place itself.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::registry::{self, Env, Target};

/// A parsed remote location: a [`Target`] of one of the registered transports.
#[derive(Clone)]
pub struct Location {
    target: Arc<dyn Target>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error(
        "unknown remote scheme {scheme}:// in {location:?}: a remote is {}",
        registry::known_forms()
    )]
    UnknownScheme { location: String, scheme: String },
    #[error("an empty remote location: a remote is {}", registry::known_forms())]
    Empty,
    #[error("{location:?} is not a valid {name} remote: {reason} (the form is {form})")]
    Invalid {
        location: String,
        name: &'static str,
        form: &'static str,
        reason: String,
    },
    #[error(
        "{location:?} holds a password: context never stores or sends one (ssh authenticates \
         with your keys or agent; S3 and WebDAV read credentials from the environment or your \
         credential files). Remove `:PASSWORD` from the URL"
    )]
    Password { location: String },
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
        let Some((scheme, rest)) = scheme_of(location) else {
            return Ok(Location::folder(PathBuf::from(location)));
        };
        let transport = registry::find(scheme).ok_or_else(|| LocationError::UnknownScheme {
            location: location.to_string(),
            scheme: scheme.to_string(),
        })?;
        let target = (transport.parse)(&scheme.to_ascii_lowercase(), rest).map_err(|reason| {
            if reason.is_empty() {
                LocationError::Empty
            } else {
                LocationError::Invalid {
                    location: location.to_string(),
                    name: transport.name,
                    form: transport.form,
                    reason,
                }
            }
        })?;
        Ok(Location {
            target: Arc::from(target),
        })
    }

    /// A folder remote at `path` (made absolute when opened).
    pub fn folder(path: PathBuf) -> Location {
        Location {
            target: Arc::new(super::folder::FolderTarget(path)),
        }
    }

    /// The string the remote will call itself once opened ([`super::Remote::location`]: a
    /// folder's canonical path), found without reaching it: what the run log and the home's
    /// records of this remote are keyed by.
    pub fn canonical(&self) -> String {
        self.target.canonical()
    }

    /// Opens the remote, configured from `env`: a folder must exist (an unmounted drive must
    /// not turn into an empty folder at its mount point); a bucket needs credentials.
    pub fn open(&self, env: Env) -> super::Result<super::Remote> {
        self.target.open(env)
    }

    /// What only its transport knows, if it is of that transport (`T`: its target type).
    pub fn target<T: Target>(&self) -> Option<&T> {
        self.target.as_any().downcast_ref()
    }
}

impl PartialEq for Location {
    fn eq(&self, other: &Location) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Location {}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.target.fmt(f)
    }
}

impl std::str::FromStr for Location {
    type Err = LocationError;
    fn from_str(s: &str) -> Result<Location, LocationError> {
        Location::parse(s)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.target.url())
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
            Location::folder("/tmp/x".into())
        );
        assert_eq!(
            Location::parse("file:///tmp/x").unwrap(),
            Location::folder("/tmp/x".into())
        );
        assert_eq!(
            Location::parse("relative/dir").unwrap(),
            Location::folder("relative/dir".into())
        );
        assert_eq!(
            Location::parse("./odd://name").unwrap(),
            Location::folder("./odd://name".into())
        );
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
        for transport in registry::TRANSPORTS {
            assert!(e.to_string().contains(transport.form), "{e}");
        }
        assert_eq!(Location::parse(""), Err(LocationError::Empty));
        assert_eq!(Location::parse("file://"), Err(LocationError::Empty));
    }
}
