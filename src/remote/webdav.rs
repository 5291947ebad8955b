//! `webdavs://HOST[:PORT]/PATH` (HTTPS) and `webdav://` (plain HTTP): a folder on a WebDAV
//! server, Nextcloud's, ownCloud's, a Synology's, Fastmail's, Apache's `mod_dav`.
//!
//! Credentials come from `CONTEXT_WEBDAV_USER` and `CONTEXT_WEBDAV_PASSWORD`, else from the
//! `machine` line of `~/.netrc` (or the file `NETRC` names) for the host, as curl and git read
//! it; never from the URL (a user name in it picks the netrc line). Basic authentication: use
//! `webdavs://` (or a server on the same machine) and an app password where the server has
//! them.
//!
//! A changeset is created with `PUT` and `If-None-Match: *` (RFC 7232): the server refuses to
//! replace an object that exists (412), so two machines writing as the same peer never replace
//! each other's file. Whether the server honours it is checked before the first such write of
//! each run (a probe object written twice, then deleted): a server that ignores it would let
//! one machine's changeset replace another's, so it is refused with a message that says so,
//! and nothing is written. A folder is made with `MKCOL` when a `PUT` finds none (409). Lists
//! are `PROPFIND` with `Depth: 1`, one request for the remote's top and one per peer's folder.
//! Retries, timeouts and connection reuse are the HTTP layer's ([`super::http`]), as for S3.
//!
//! A `PUT` appears whole or not at all on servers that write an upload to a part file first
//! (Nextcloud and ownCloud do); on one that writes in place, an upload cut off half way may
//! leave a short file, which every reader refuses by its checksum (named by `verify`,
//! replaced by `sync repair`), never applies.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use url::Url;

use super::http::{Answer, Client};
use super::registry::{Env, Parsed, Scheme, Target};
use super::retry::RetryPolicy;
use super::transport::{Created, Transport};
use super::{RemoteError, Result};

/// The WebDAV transport.
pub(super) static SCHEME: Scheme = Scheme {
    name: "WebDAV",
    schemes: &["webdavs", "webdav"],
    form: "webdavs://HOST[:PORT]/PATH (webdav:// for plain HTTP)",
    environment: &[
        (
            "CONTEXT_WEBDAV_USER, CONTEXT_WEBDAV_PASSWORD",
            "webdav:// and webdavs:// credentials (else the host's line in ~/.netrc)",
        ),
        ("NETRC", "the netrc file of webdav:// remotes (else ~/.netrc)"),
    ],
    parse: WebDavLocation::parse,
};

/// Reads a pull keeps in flight: as for S3, enough to hide a round trip.
const READS_IN_FLIGHT: usize = 8;
/// The largest listing read: tens of thousands of entries.
const MAX_LISTING: u64 = 64 << 20;
/// What a PROPFIND asks for: only whether each entry is a folder.
const PROPFIND_BODY: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<d:propfind xmlns:d=\"DAV:\"><d:prop><d:resourcetype/></d:prop></d:propfind>";

/// Where a WebDAV remote is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebDavLocation {
    /// `webdavs://` (HTTPS) or `webdav://`.
    pub tls: bool,
    /// The user the URL names (whose netrc line is used), if any.
    pub user: Option<String>,
    /// The host, and `:PORT` when given (`[::1]:8080`).
    pub authority: String,
    /// The folder on the server, from `/`, without a trailing `/` (`""` for the root).
    pub path: String,
}

impl WebDavLocation {
    fn parse(scheme: &str, rest: &str) -> Parsed {
        if rest.is_empty() || rest.starts_with('/') {
            return Err("it names no host".into());
        }
        let url = Url::parse(&format!("http://{rest}")).map_err(|e| e.to_string())?;
        let host = url.host_str().filter(|h| !h.is_empty());
        let Some(host) = host else {
            return Err("it names no host".into());
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err("it takes no `?` or `#` part".into());
        }
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let user = Some(url.username().to_string()).filter(|u| !u.is_empty());
        Ok(Box::new(WebDavLocation {
            tls: scheme == "webdavs",
            user,
            authority,
            path: url.path().trim_end_matches('/').to_string(),
        }))
    }

    /// The folder's URL, ending in `/`.
    fn base(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}/", self.authority, self.path)
    }

    fn host(&self) -> &str {
        match self.authority.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => &self.authority,
        }
    }
}

impl Target for WebDavLocation {
    fn url(&self) -> String {
        let scheme = if self.tls { "webdavs" } else { "webdav" };
        let user = self
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        format!("{scheme}://{user}{}{}", self.authority, self.path)
    }

    fn open(&self, env: Env) -> Result<super::Remote> {
        Ok(super::Remote::new(WebDav::new(self.clone(), env)?))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A folder on a WebDAV server as a [`Transport`]. Clones share what they found.
#[derive(Debug, Clone)]
pub struct WebDav {
    location: String,
    /// The folder's URL, ending in `/`.
    base: Url,
    http: Client,
    /// `Basic ...`, when there are credentials.
    authorization: Option<String>,
    /// Whether the server honours `If-None-Match: *`, found before the first create.
    honours_if_none_match: Arc<OnceLock<bool>>,
}

impl WebDav {
    pub fn new(target: WebDavLocation, env: Env) -> Result<WebDav> {
        let location = target.url();
        let config = |reason: String| RemoteError::Config {
            location: location.clone(),
            reason,
        };
        let base = Url::parse(&target.base())
            .map_err(|e| config(format!("cannot address the folder: {e}")))?;
        let retry = RetryPolicy::from_env(env).map_err(config)?;
        let authorization = credentials(&target, env)
            .map_err(config)?
            .map(|(user, password)| {
                let pair = format!("{user}:{password}");
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            });
        let endpoint = format!("{}://{}", base.scheme(), target.authority);
        Ok(WebDav {
            location,
            base,
            http: Client::new(endpoint, retry),
            authorization,
            honours_if_none_match: Arc::default(),
        })
    }

    fn url_of(&self, name: &str) -> String {
        let mut url = self.base.clone();
        let mut path = self.base.path().to_string();
        for (i, segment) in name.split('/').enumerate() {
            if i > 0 {
                path.push('/');
            }
            path.extend(url::form_urlencoded::byte_serialize(segment.as_bytes()));
        }
        // form encoding writes a space as `+`, which a path keeps literally.
        url.set_path(&path.replace('+', "%20"));
        url.to_string()
    }

    fn named(&self, name: &str) -> String {
        match name {
            "" => self.location.clone(),
            name => format!("{}/{name}", self.location),
        }
    }

    /// Sends `method` on `name` with `headers` and `body`, through the retrying HTTP layer.
    fn send(
        &self,
        what: &'static str,
        method: &str,
        name: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        max: u64,
    ) -> Result<Answer> {
        let url = self.url_of(name);
        self.http.call(what, &self.named(name), max, &|agent| {
            let mut request = ureq::http::Request::builder().method(method).uri(&url);
            if let Some(auth) = &self.authorization {
                request = request.header("authorization", auth);
            }
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let request = request
                .body(body)
                .map_err(|e| ureq::Error::BadUri(e.to_string()))?;
            agent.run(request)
        })
    }

    /// The error for an answer that is not what the operation expects.
    fn status_error(&self, what: &'static str, name: &str, answer: &Answer) -> RemoteError {
        if answer.status == 404 && name.is_empty() {
            return RemoteError::Missing {
                location: self.location.clone(),
            };
        }
        let hint = match answer.status {
            401 => {
                " (the credentials are refused: set CONTEXT_WEBDAV_USER and \
                 CONTEXT_WEBDAV_PASSWORD, or a machine line for the host in ~/.netrc)"
            }
            403 => " (access denied: the user needs to read, write and delete in the folder)",
            405 if what == "list" => " (is the URL a WebDAV folder?)",
            507 => " (the server is out of space)",
            _ => "",
        };
        RemoteError::Http {
            location: self.named(name),
            what,
            status: answer.status,
            code: None,
            hint,
        }
    }

    /// The entries of one folder (`""`: the remote's own): `name` for files, `name/` for
    /// folders, relative to the remote's root.
    fn propfind(&self, folder: &str) -> Result<Vec<String>> {
        let answer = self.send(
            "list",
            "PROPFIND",
            folder,
            &[
                ("depth", "1"),
                ("content-type", "application/xml; charset=utf-8"),
            ],
            PROPFIND_BODY.as_bytes(),
            MAX_LISTING,
        )?;
        match answer.status {
            207 => {}
            404 if !folder.is_empty() => return Ok(Vec::new()),
            _ => return Err(self.status_error("list", folder, &answer)),
        }
        let entries =
            multistatus(&answer.body).map_err(|reason| RemoteError::List {
                location: self.named(folder),
                source: format!("the server's listing cannot be read: {reason}").into(),
            })?;
        let listed = Url::parse(&self.url_of(folder)).map_err(|e| RemoteError::List {
            location: self.named(folder),
            source: e.to_string().into(),
        })?;
        let prefix = listed.path().trim_end_matches('/').to_string();
        let mut out = Vec::new();
        for (href, collection) in entries {
            // An href is a path or a whole URL, percent-encoded; only what is directly inside
            // the folder listed is taken (not the folder itself, nothing elsewhere).
            let Ok(url) = listed.join(&href) else {
                continue;
            };
            let path = url.path().trim_end_matches('/');
            let Some(rest) = path.strip_prefix(&prefix).and_then(|r| r.strip_prefix('/'))
            else {
                continue;
            };
            let decoded = percent_decode(rest);
            if decoded.is_empty() || decoded.contains('/') || decoded == "." || decoded == ".."
            {
                continue;
            }
            let mut name = format!("{folder}{decoded}");
            if collection {
                name.push('/');
            }
            out.push(name);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Makes the folder of `name` (`peer/` of `peer/file`), once per run.
    fn make_folder_of(&self, name: &str) -> Result<()> {
        let Some((folder, _)) = name.rsplit_once('/') else {
            return Ok(());
        };
        let answer = self.send("create a folder", "MKCOL", &format!("{folder}/"), &[], b"", 1 << 16)?;
        match answer.status {
            // Made; or already there (another machine was first).
            200 | 201 | 405 => Ok(()),
            _ => Err(self.status_error("create a folder", folder, &answer)),
        }
    }

    /// A `PUT`, making the folder and trying again when the server says there is none (409).
    fn put_with(&self, what: &'static str, name: &str, headers: &[(&str, &str)], bytes: &[u8]) -> Result<Answer> {
        let answer = self.send(what, "PUT", name, headers, bytes, 1 << 16)?;
        if answer.status != 409 || !name.contains('/') {
            return Ok(answer);
        }
        self.make_folder_of(name)?;
        self.send(what, "PUT", name, headers, bytes, 1 << 16)
    }

    /// Whether the server refuses a second `PUT` with `If-None-Match: *` of the same name:
    /// found once per run, with a probe object of this run's own, deleted after.
    fn check_if_none_match(&self) -> Result<()> {
        if let Some(&honoured) = self.honours_if_none_match.get() {
            return self.refuse_unless(honoured);
        }
        let mut id = [0u8; 8];
        let _ = getrandom::fill(&mut id);
        let probe = format!(
            ".context-probe-{}.tmp",
            id.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let create = [("if-none-match", "*")];
        let first = self.put_with("create", &probe, &create, b"1")?;
        if !matches!(first.status, 200 | 201 | 204) {
            return Err(self.status_error("create", &probe, &first));
        }
        let second = self.put_with("create", &probe, &create, b"2");
        let deleted = self.delete(&probe);
        let second = second?;
        deleted?;
        let honoured = second.status == 412;
        if !honoured {
            tracing::warn!(status = second.status, "the WebDAV server ignores If-None-Match");
        }
        let _ = self.honours_if_none_match.set(honoured);
        self.refuse_unless(honoured)
    }

    fn refuse_unless(&self, honoured: bool) -> Result<()> {
        if honoured {
            return Ok(());
        }
        Err(RemoteError::Config {
            location: self.location.clone(),
            reason: "the server ignores `If-None-Match: *` (it replaced an object that \
                     existed): two machines could replace each other's changesets, so nothing \
                     is written to it. Nextcloud, ownCloud and Apache honour it; update or \
                     reconfigure the server, or sync through another remote"
                .into(),
        })
    }
}

impl Transport for WebDav {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn list(&self, prefix: &str, after: Option<&str>) -> Result<Vec<String>> {
        // A folder listed is its files; the root's folders are listed in turn (one deep).
        let folder = match prefix.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/"),
            None => String::new(),
        };
        let mut out = Vec::new();
        for entry in self.propfind(&folder)? {
            match entry.strip_suffix('/') {
                Some(_) if folder.is_empty() => {
                    out.extend(self.propfind(&entry)?.into_iter().filter(|e| !e.ends_with('/')))
                }
                Some(_) => {}
                None => out.push(entry),
            }
        }
        out.retain(|n| n.starts_with(prefix) && after.is_none_or(|a| n.as_str() > a));
        out.sort();
        Ok(out)
    }

    fn list_top(&self) -> Result<Vec<String>> {
        self.propfind("")
    }

    fn get(&self, name: &str, max: u64) -> Result<Vec<u8>> {
        let answer = self.send("get", "GET", name, &[], b"", max)?;
        match answer.status {
            200 => Ok(answer.body),
            404 | 410 => Err(RemoteError::NotFound {
                location: self.named(name),
            }),
            _ => Err(self.status_error("get", name, &answer)),
        }
    }

    fn get_tail(&self, name: &str, len: u64) -> Result<Option<Vec<u8>>> {
        let range = format!("bytes=-{len}");
        let answer = match self.send("get", "GET", name, &[("range", &range)], b"", len.max(1 << 16)) {
            // A server that ignored the range sent a whole large object.
            Err(RemoteError::TooLarge { .. }) => self.send("get", "GET", name, &[], b"", super::MAX_OBJECT_BYTES)?,
            other => other?,
        };
        match answer.status {
            200 | 206 => Ok(super::http::last_bytes(&answer.body, len)),
            416 => Ok(None),
            404 | 410 => Err(RemoteError::NotFound {
                location: self.named(name),
            }),
            _ => Err(self.status_error("get", name, &answer)),
        }
    }

    fn put_if_absent(&self, name: &str, bytes: &[u8]) -> Result<Created> {
        self.check_if_none_match()?;
        let answer = self.put_with("create", name, &[("if-none-match", "*")], bytes)?;
        match answer.status {
            200 | 201 | 204 => Ok(Created::New),
            412 => Ok(Created::Existed),
            _ => Err(self.status_error("create", name, &answer)),
        }
    }

    fn put(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let answer = self.put_with("put", name, &[], bytes)?;
        match answer.status {
            200 | 201 | 204 => Ok(()),
            _ => Err(self.status_error("put", name, &answer)),
        }
    }

    fn delete(&self, name: &str) -> Result<()> {
        let answer = self.send("delete", "DELETE", name, &[], b"", 1 << 16)?;
        match answer.status {
            200 | 202 | 204 | 404 | 410 => Ok(()),
            _ => Err(self.status_error("delete", name, &answer)),
        }
    }

    fn read_parallelism(&self) -> usize {
        READS_IN_FLIGHT
    }

    fn probe(&self) -> Result<()> {
        let answer = self.send(
            "list",
            "PROPFIND",
            "",
            &[("depth", "0")],
            PROPFIND_BODY.as_bytes(),
            MAX_LISTING,
        )?;
        match answer.status {
            207 => Ok(()),
            _ => Err(self.status_error("list", "", &answer)),
        }
    }
}

/// The user and password for `target`: from the environment, else from netrc.
fn credentials(target: &WebDavLocation, env: Env) -> std::result::Result<Option<(String, String)>, String> {
    let user = env("CONTEXT_WEBDAV_USER").or_else(|| target.user.clone());
    match (user, env("CONTEXT_WEBDAV_PASSWORD")) {
        (Some(u), Some(p)) => Ok(Some((u, p))),
        (None, Some(_)) => Err("CONTEXT_WEBDAV_PASSWORD is set without CONTEXT_WEBDAV_USER".into()),
        (user, None) => {
            let file = env("NETRC")
                .map(std::path::PathBuf::from)
                .or_else(|| env("HOME").map(|h| std::path::Path::new(&h).join(".netrc")));
            let Some(file) = file else {
                return Ok(None);
            };
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
            };
            Ok(netrc(&text, target.host(), user.as_deref()))
        }
    }
}

/// The login and password of `host` in a netrc file (the first `machine` line for it whose
/// login is `user` when one is asked for, else the `default` line), as curl reads it.
fn netrc(text: &str, host: &str, user: Option<&str>) -> Option<(String, String)> {
    // A macro (`macdef NAME` to the next empty line) is not ours: its lines are passed over.
    let mut kept = String::new();
    let mut in_macro = false;
    for line in text.lines() {
        if in_macro {
            in_macro = !line.trim().is_empty();
            continue;
        }
        if line.split_whitespace().next() == Some("macdef") {
            in_macro = true;
            continue;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    let mut words = kept.split_whitespace();
    let mut entries: Vec<Entry> = Vec::new();
    while let Some(word) = words.next() {
        match word {
            "machine" => entries.push((words.next().map(str::to_string), None, None)),
            "default" => entries.push((None, None, None)),
            "login" | "password" | "account" => {
                let value = words.next().map(str::to_string);
                if let Some(e) = entries.last_mut() {
                    match word {
                        "login" => e.1 = value,
                        "password" => e.2 = value,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    pick(&entries, host, user)
}

/// A netrc entry: its machine (`None`: `default`), login and password.
type Entry = (Option<String>, Option<String>, Option<String>);

fn pick(entries: &[Entry], host: &str, user: Option<&str>) -> Option<(String, String)> {
    let usable = |(_, login, password): &&Entry| {
        login.is_some() && password.is_some() && user.is_none_or(|u| login.as_deref() == Some(u))
    };
    let found = entries
        .iter()
        .find(|e| e.0.as_deref() == Some(host) && usable(e))
        .or_else(|| entries.iter().find(|e| e.0.is_none() && usable(e)))?;
    Some((found.1.clone()?, found.2.clone()?))
}

/// `%XX` escapes decoded (a malformed one kept as it is).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The entries of a `207 Multi-Status` answer: each `response`'s `href`, and whether its
/// `resourcetype` holds a `collection` (namespace prefixes vary by server: matched by local
/// name). Untrusted input: any bytes give entries or the reason why not.
fn multistatus(body: &[u8]) -> std::result::Result<Vec<(String, bool)>, String> {
    use xmlparser::{ElementEnd, Token, Tokenizer};
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let mut href: Option<String> = None;
    let mut collection = false;
    for token in Tokenizer::from(text) {
        match token.map_err(|e| e.to_string())? {
            Token::ElementStart { local, .. } => {
                let local = local.as_str().to_ascii_lowercase();
                if local == "response" {
                    href = None;
                    collection = false;
                }
                if local == "collection" && open.iter().any(|o| o == "resourcetype") {
                    collection = true;
                }
                open.push(local);
            }
            Token::ElementEnd { end, .. } => {
                let closed = match end {
                    ElementEnd::Open => continue,
                    ElementEnd::Empty | ElementEnd::Close(..) => open.pop(),
                };
                if closed.as_deref() == Some("response")
                    && let Some(h) = href.take()
                {
                    out.push((h, collection));
                }
            }
            Token::Text { text } if open.last().is_some_and(|o| o == "href") => {
                let t = text.as_str().trim();
                href = Some(match href.take() {
                    Some(before) => before + &unescape(t),
                    None => unescape(t),
                });
            }
            Token::Cdata { text, .. } if open.last().is_some_and(|o| o == "href") => {
                href = Some(text.as_str().trim().to_string());
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The five predefined entities of XML (an href rarely holds more).
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Location;

    #[test]
    fn webdav_urls_name_a_host_a_port_and_a_folder() {
        let l = Location::parse("webdavs://cloud.example.org/remote.php/dav/files/me/context/")
            .unwrap();
        let t = l.target::<WebDavLocation>().unwrap();
        assert!(t.tls);
        assert_eq!(t.authority, "cloud.example.org");
        assert_eq!(t.path, "/remote.php/dav/files/me/context");
        assert_eq!(
            l.to_string(),
            "webdavs://cloud.example.org/remote.php/dav/files/me/context"
        );
        assert_eq!(t.base(), "https://cloud.example.org/remote.php/dav/files/me/context/");
        let plain = Location::parse("webdav://me@127.0.0.1:8080/dav").unwrap();
        let t = plain.target::<WebDavLocation>().unwrap();
        assert_eq!((t.tls, t.user.as_deref(), t.host()), (false, Some("me"), "127.0.0.1"));
        assert_eq!(t.base(), "http://127.0.0.1:8080/dav/");
        for bad in ["webdav://", "webdav:///x", "webdavs://h/x?a=b"] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
        assert!(Location::parse("webdav://me:pw@h/x").is_err());
    }

    #[test]
    fn netrc_gives_the_hosts_login() {
        let text = "machine other login a password b\n\
                    machine nas login me password secret\n\
                    machine nas login you password theirs\n\
                    default login anon password x\n";
        assert_eq!(netrc(text, "nas", None), Some(("me".into(), "secret".into())));
        assert_eq!(netrc(text, "nas", Some("you")), Some(("you".into(), "theirs".into())));
        assert_eq!(netrc(text, "elsewhere", None), Some(("anon".into(), "x".into())));
        assert_eq!(netrc("machine nas login me", "nas", None), None);
        let with_macro = "macdef init\ncd /\nmachine nas login evil password no\n\n\
                          machine nas login me password yes\n";
        assert_eq!(netrc(with_macro, "nas", None), Some(("me".into(), "yes".into())));
    }

    #[test]
    fn a_listing_is_read_whatever_the_namespace_prefix() {
        let body = br#"<?xml version="1.0"?><ns0:multistatus xmlns:ns0="DAV:">
            <ns0:response><ns0:href>/dav/</ns0:href><ns0:propstat><ns0:prop><ns0:resourcetype><ns0:collection /></ns0:resourcetype></ns0:prop></ns0:propstat></ns0:response>
            <ns0:response><ns0:href>/dav/a%20b.cset</ns0:href><ns0:propstat><ns0:prop><ns0:resourcetype/></ns0:prop></ns0:propstat></ns0:response>
            <d:response xmlns:d="DAV:"><d:href>http://h/dav/peer/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop></d:propstat></d:response>
            </ns0:multistatus>"#;
        assert_eq!(
            multistatus(body).unwrap(),
            vec![
                ("/dav/".to_string(), true),
                ("/dav/a%20b.cset".to_string(), false),
                ("http://h/dav/peer/".to_string(), true),
            ]
        );
        assert!(multistatus(b"<a><b").is_err() || multistatus(b"<a><b").unwrap().is_empty());
        assert_eq!(percent_decode("a%20b%zz"), "a b%zz");
    }
}
