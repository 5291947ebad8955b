//! Every transport, in one list: what URL schemes it answers to, how its form reads in help and
//! errors, the environment variables it reads, how it parses what follows `scheme://`, and how
//! it opens. [`super::Location`], the CLI's help and its test read them from here (compare
//! restic's `location.Registry` and Litestream's `RegisterReplicaClientFactory`): a new
//! transport is one file under `src/remote/` and its name in the `transports!` line of
//! `src/remote/mod.rs`.

use std::any::Any;
use std::fmt;

use super::{Remote, Result};

/// The process environment as a transport reads it (a test gives its own).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What a transport's parser gives: its target, or why the location is not one (an empty
/// reason: it names nothing, as `file://`).
pub type Parsed = std::result::Result<Box<dyn Target>, String>;

/// One transport, as [`TRANSPORTS`] lists it.
#[derive(Debug)]
pub struct Scheme {
    /// What it is, for messages (`S3`, `WebDAV`).
    pub name: &'static str,
    /// The URL schemes it answers to, lower case (`s3`; `webdav`, `webdavs`).
    pub schemes: &'static [&'static str],
    /// Its forms as help and errors show them (`s3://BUCKET[/PREFIX][?profile=NAME]`).
    pub form: &'static str,
    /// The environment variables it reads, each line of `--help`'s "Environment" as
    /// (variables, what they do): several variables in one line are separated by `, `, an
    /// alternative in parentheses, a value after `=`.
    pub environment: &'static [(&'static str, &'static str)],
    /// Parses what follows `scheme://` (`scheme` is one of [`Scheme::schemes`]), or says why not.
    pub parse: fn(scheme: &str, rest: &str) -> Parsed,
}

impl Scheme {
    /// Every variable [`Scheme::environment`] names.
    pub fn variables(&self) -> impl Iterator<Item = &'static str> {
        self.environment.iter().flat_map(|(vars, _)| {
            vars.split([',', '(', ')'])
                .map(|v| v.trim().split('=').next().unwrap_or_default())
                .filter(|v| !v.is_empty())
        })
    }
}

/// Where one remote is, as its transport parsed it.
pub trait Target: fmt::Debug + Send + Sync + Any {
    /// The URL as a user writes it (what `remote list` shows and a home stores).
    fn url(&self) -> String;
    /// The string the remote calls itself once opened, found without reaching it: what the
    /// run log and the home's records of this remote are keyed by. The same remote must always
    /// give the same string, however its URL was spelt.
    fn canonical(&self) -> String {
        self.url()
    }
    /// Reaches it (as little as it can: a folder must exist, a bucket needs credentials).
    fn open(&self, env: Env) -> Result<Remote>;
    /// For a caller that needs what only this transport knows (a bucket's profile).
    fn as_any(&self) -> &dyn Any;
}

/// Every transport this version speaks (listed in `src/remote/mod.rs`, where each one's
/// module is declared). The folder is also what a location with no scheme is.
pub static TRANSPORTS: &[&Scheme] = super::TRANSPORTS;

/// The transport answering to `scheme` (lower-cased first).
pub fn find(scheme: &str) -> Option<&'static Scheme> {
    let scheme = scheme.to_ascii_lowercase();
    TRANSPORTS
        .iter()
        .copied()
        .find(|t| t.schemes.contains(&scheme.as_str()))
}

/// What this version understands, for the message that refuses anything else: "a folder path,
/// file:///PATH, s3://... or ssh://...".
pub fn known_forms() -> String {
    let forms: Vec<&str> = TRANSPORTS.iter().map(|t| t.form).collect();
    match forms.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The transports' lines of `--help`'s "Environment", aligned as the rest of it is.
pub fn environment_help() -> String {
    const COLUMN: usize = 24;
    let mut out = String::new();
    for (vars, what) in TRANSPORTS.iter().flat_map(|t| t.environment.iter()) {
        let what = what.replace('\n', &format!("\n{}", " ".repeat(COLUMN)));
        if vars.len() + 3 <= COLUMN {
            out.push_str(&format!("  {vars:<width$}{what}\n", width = COLUMN - 2));
        } else {
            out.push_str(&format!("  {vars}\n{}{what}\n", " ".repeat(COLUMN)));
        }
    }
    out
}
