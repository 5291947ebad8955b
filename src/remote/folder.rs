//! The shared folder: a path, or a `file://` URL.
//!
//! An object is written as Litestream writes its files: to a temporary file in the same
//! folder, synced to disk, put into place, and the folder synced, so that it appears whole or
//! not at all, whatever instant the process dies at. The temporary name starts with a dot,
//! which readers (and file-sync tools) pass over. A changeset is put into place by a hard link
//! (`link(2)` fails if the name exists: create-if-absent, as SSH does), else by
//! `renameat2(RENAME_NOREPLACE)`, else (a file system with neither, such as exFAT) under a
//! claim file made with `O_EXCL`: never by a rename that could replace another writer's file.
//!
//! Everything in the folder is untrusted (anyone who can write to a Dropbox folder can put a
//! link or a FIFO in it): every file is opened relative to a handle on its own folder, which
//! was opened without following links (`openat`, `O_NOFOLLOW`), so no link leads a read, a
//! write or a delete out of the remote; only regular files are read, opened without blocking
//! (`O_NONBLOCK`, then `fstat`), so a FIFO named like a manifest cannot hang a sync.
//!
//! Every step of a write goes through [`FolderIo`], the one seam where tests inject a failure
//! at a chosen step; [`RealIo`] is the file system.

use std::fmt;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use super::transport::{Created, Transport};
use super::{RemoteError, Result, names};
use crate::ids::PeerId;

/// The folder transport: a path (a location with no scheme) or `file:///PATH`.
pub(super) static SCHEME: super::registry::Scheme = super::registry::Scheme {
    name: "folder",
    schemes: &["file"],
    form: "a folder path, file:///PATH",
    environment: &[],
    parse: |_, rest| {
        if rest.is_empty() {
            return Err(String::new());
        }
        Ok(Box::new(FolderTarget(PathBuf::from(rest))))
    },
};

/// Where a folder remote is: the path as given (made absolute when opened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderTarget(pub PathBuf);

impl super::registry::Target for FolderTarget {
    fn url(&self) -> String {
        self.0.display().to_string()
    }
    fn canonical(&self) -> String {
        normalise(&self.0).display().to_string()
    }
    fn open(&self, _: super::registry::Env) -> Result<super::Remote> {
        Ok(super::Remote::new(Folder::open(&self.0)?))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The steps of an atomic write, each one a place where the file system can fail. Names are
/// of one file in the folder `dir` (a handle opened without following links).
pub trait FolderIo: Send + Sync + fmt::Debug {
    /// Makes the folder `name` in `parent`.
    fn create_dir(&self, parent: &File, name: &str) -> std::io::Result<()> {
        Ok(rustix::fs::mkdirat(
            parent,
            name,
            Mode::from_bits_truncate(0o755),
        )?)
    }
    /// Creates a new file (never an existing one, never through a link).
    fn create(&self, dir: &File, name: &str) -> std::io::Result<File> {
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )?;
        Ok(File::from(fd))
    }
    fn write_all(&self, file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
        file.write_all(bytes)
    }
    fn sync_file(&self, file: &File) -> std::io::Result<()> {
        file.sync_all()
    }
    /// Gives the file `from` the name `to` too, failing if `to` exists.
    fn link(&self, dir: &File, from: &str, to: &str) -> std::io::Result<()> {
        Ok(rustix::fs::linkat(dir, from, dir, to, AtFlags::empty())?)
    }
    /// Renames `from` to `to`; with `replace` false, failing if `to` exists.
    fn rename(&self, dir: &File, from: &str, to: &str, replace: bool) -> std::io::Result<()> {
        let flags = if replace {
            RenameFlags::empty()
        } else {
            RenameFlags::NOREPLACE
        };
        Ok(rustix::fs::renameat_with(dir, from, dir, to, flags)?)
    }
    fn sync_dir(&self, dir: &File) -> std::io::Result<()> {
        dir.sync_all()
    }
}

/// The file system itself.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealIo;

impl FolderIo for RealIo {}

/// A folder as an [`Transport`]: a key `PEER/NAME` is the file `NAME` in the folder `PEER`.
#[derive(Debug, Clone)]
pub struct Folder {
    root: PathBuf,
    io: Arc<dyn FolderIo>,
}

/// Why a name in the remote was not used.
fn not_a_file(kind: FileType) -> &'static str {
    match kind {
        FileType::Symlink => "a link (links in a remote are never followed)",
        FileType::Directory => "a folder where a file should be",
        FileType::Fifo => "a FIFO (a named pipe), not a file",
        FileType::Socket => "a socket, not a file",
        FileType::CharacterDevice | FileType::BlockDevice => "a device, not a file",
        _ => "not a regular file",
    }
}

/// Whether an error means the file system cannot do this (and another way must be tried).
fn unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error().map(Errno::from_raw_os_error),
        Some(Errno::PERM | Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL | Errno::XDEV)
    )
}

fn exists(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::AlreadyExists
}

impl Folder {
    /// Opens an existing folder. A missing one is an error, not created: an unmounted drive
    /// must not turn into an empty folder at its mount point.
    pub fn open(path: &Path) -> Result<Folder> {
        Folder::with_io(path, Arc::new(RealIo))
    }

    /// The same, with every write step going through `io`.
    pub fn with_io(path: &Path, io: Arc<dyn FolderIo>) -> Result<Folder> {
        let root = normalise(path);
        if !root.is_dir() {
            return Err(RemoteError::Missing {
                location: root.display().to_string(),
            });
        }
        Ok(Folder { root, io })
    }

    fn path_of(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn missing(&self) -> RemoteError {
        RemoteError::Missing {
            location: self.location(),
        }
    }

    /// The remote's own folder (the root the user named: followed if it is a link, as the
    /// user chose it).
    fn open_root(&self) -> std::io::Result<File> {
        let fd = rustix::fs::openat(
            rustix::fs::CWD,
            &self.root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(File::from(fd))
    }

    /// Splits `key` into its folder (`None` for the root) and file name; a key that could
    /// lead anywhere else (`..`, an empty or absolute part, deeper than one folder) is refused.
    fn split(&self, key: &str) -> Result<(Option<String>, String)> {
        let ok = |part: &str| !part.is_empty() && part != "." && part != "..";
        match key.split_once('/') {
            Some((dir, file)) if ok(dir) && ok(file) && !file.contains('/') => {
                Ok((Some(dir.to_string()), file.to_string()))
            }
            None if ok(key) => Ok((None, key.to_string())),
            _ => Err(RemoteError::Config {
                location: self.path_of(key).display().to_string(),
                reason: "not a name inside the remote".into(),
            }),
        }
    }

    /// A handle on the folder of `key` inside the remote, opened without following a link;
    /// with `create`, made if missing. `Ok(None)`: it does not exist (and was not to be made).
    fn open_dir(&self, dir: Option<&str>, create: bool) -> Result<Option<File>> {
        let root = self.open_root().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => self.missing(),
            _ => RemoteError::Read {
                location: self.location(),
                source: e.into(),
            },
        })?;
        let Some(dir) = dir else {
            return Ok(Some(root));
        };
        let location = || self.path_of(dir).display().to_string();
        let open = || {
            rustix::fs::openat(
                &root,
                dir,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
        };
        let fd = match open() {
            Ok(fd) => fd,
            Err(Errno::NOENT) if create => {
                match self.io.create_dir(&root, dir) {
                    Ok(()) => {}
                    // Another writer made it first: it is opened below like any folder.
                    Err(e) if exists(&e) => {}
                    Err(e) => {
                        return Err(RemoteError::Write {
                            location: location(),
                            step: "create folder",
                            source: e.into(),
                        });
                    }
                }
                self.io.sync_dir(&root).map_err(|e| RemoteError::Write {
                    location: self.location(),
                    step: "sync folder",
                    source: e.into(),
                })?;
                open().map_err(|e| self.refused(dir, e))?
            }
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(self.refused(dir, e)),
        };
        Ok(Some(File::from(fd)))
    }

    /// The error for a folder of the remote that cannot be opened: a link or a file in its
    /// place is named as such.
    fn refused(&self, dir: &str, e: Errno) -> RemoteError {
        let location = self.path_of(dir).display().to_string();
        match e {
            Errno::LOOP | Errno::NOTDIR | Errno::MLINK => {
                let kind = self.kind_of(None, dir);
                RemoteError::NotAFile {
                    location,
                    what: kind.map_or("not a folder", |k| match k {
                        FileType::Symlink => "a link (links in a remote are never followed)",
                        _ => "not a folder",
                    }),
                }
            }
            e => RemoteError::Read {
                location,
                source: std::io::Error::from(e).into(),
            },
        }
    }

    /// What `name` in the folder `dir` is, without following it.
    fn kind_of(&self, dir: Option<&str>, name: &str) -> Option<FileType> {
        let path = match dir {
            Some(d) => self.root.join(d).join(name),
            None => self.root.join(name),
        };
        fs::symlink_metadata(path)
            .ok()
            .map(|m| FileType::from_raw_mode(std::os::unix::fs::MetadataExt::mode(&m)))
    }

    /// Opens the regular file `key` to read, without following a link or blocking on a
    /// FIFO; returns it with its size.
    fn open_file(&self, key: &str) -> Result<(File, u64)> {
        let location = || self.path_of(key).display().to_string();
        let not_found = || RemoteError::NotFound {
            location: location(),
        };
        let (dir, name) = self.split(key)?;
        let Some(dir) = self.open_dir(dir.as_deref(), false)? else {
            return Err(not_found());
        };
        let fd = rustix::fs::openat(
            &dir,
            name.as_str(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        );
        let fd = match fd {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Err(not_found()),
            Err(Errno::LOOP) | Err(Errno::MLINK) => {
                return Err(RemoteError::NotAFile {
                    location: location(),
                    what: not_a_file(FileType::Symlink),
                });
            }
            Err(e) => {
                return Err(RemoteError::Read {
                    location: location(),
                    source: std::io::Error::from(e).into(),
                });
            }
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| RemoteError::Read {
            location: location(),
            source: std::io::Error::from(e).into(),
        })?;
        let kind = FileType::from_raw_mode(stat.st_mode);
        if kind != FileType::RegularFile {
            return Err(RemoteError::NotAFile {
                location: location(),
                what: not_a_file(kind),
            });
        }
        Ok((File::from(fd), stat.st_size as u64))
    }

    fn write_atomic(&self, key: &str, bytes: &[u8], replace: bool) -> Result<Created> {
        let target = self.path_of(key);
        let fail = |step, source: std::io::Error| RemoteError::Write {
            location: target.display().to_string(),
            step,
            source: source.into(),
        };
        let (dir, file) = self.split(key)?;
        let dir_handle = self
            .open_dir(dir.as_deref(), true)?
            .ok_or_else(|| self.missing())?;
        let io = &self.io;
        // Unique to this write: threads of one process may write the same name at once.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = format!(".{file}.tmp-{}{n:06}", std::process::id());
        let create_tmp = || match io.create(&dir_handle, &tmp) {
            // Left by an earlier process of the same pid: ours to replace.
            Err(e) if exists(&e) => {
                let _ = rustix::fs::unlinkat(&dir_handle, tmp.as_str(), AtFlags::empty());
                io.create(&dir_handle, &tmp)
            }
            other => other,
        };
        let remove_tmp = || {
            let _ = rustix::fs::unlinkat(&dir_handle, tmp.as_str(), AtFlags::empty());
        };
        let result = (|| {
            let mut f = create_tmp().map_err(|e| fail("create temporary file", e))?;
            io.write_all(&mut f, bytes)
                .map_err(|e| fail("write temporary file", e))?;
            io.sync_file(&f)
                .map_err(|e| fail("sync temporary file", e))?;
            drop(f);
            let created = if replace {
                io.rename(&dir_handle, &tmp, &file, true)
                    .map_err(|e| fail("rename into place", e))?;
                Created::New
            } else {
                self.create_from(&dir_handle, &tmp, &file)
                    .map_err(|e| fail("link into place", e))?
            };
            if created == Created::New {
                io.sync_dir(&dir_handle)
                    .map_err(|e| fail("sync folder", e))?;
            }
            Ok(created)
        })();
        // After a link (or a failure), the temporary name is left over; after a rename it
        // is gone already.
        remove_tmp();
        result
    }

    /// Gives the written temporary file `tmp` the name `file` only if no file has it, by the
    /// first way this file system supports.
    fn create_from(&self, dir: &File, tmp: &str, file: &str) -> std::io::Result<Created> {
        let io = &self.io;
        match io.link(dir, tmp, file) {
            Ok(()) => return Ok(Created::New),
            Err(e) if exists(&e) => return Ok(Created::Existed),
            Err(e) if !unsupported(&e) => return Err(e),
            Err(_) => {}
        }
        match io.rename(dir, tmp, file, false) {
            Ok(()) => return Ok(Created::New),
            Err(e) if exists(&e) => return Ok(Created::Existed),
            Err(e) if !unsupported(&e) => return Err(e),
            Err(_) => {}
        }
        // Neither: a claim made with O_EXCL (which every file system honours) stands between
        // two writers of the same name, so the rename below never replaces another's file.
        let claim = format!(".{file}.tmp-0");
        match io.create(dir, &claim) {
            Ok(_) => {}
            Err(e) if exists(&e) => {
                if rustix::fs::statat(dir, file, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
                    return Ok(Created::Existed);
                }
                return Err(std::io::Error::other(format!(
                    "another write of this name holds the claim {claim} (or was interrupted: \
                     `context sync prune` sweeps it once it is old)"
                )));
            }
            Err(e) => return Err(e),
        }
        let outcome = match rustix::fs::statat(dir, file, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => Ok(Created::Existed),
            Err(_) => io.rename(dir, tmp, file, true).map(|()| Created::New),
        };
        let _ = rustix::fs::unlinkat(dir, claim.as_str(), AtFlags::empty());
        outcome
    }
}

/// A path made absolute and canonical, so the same folder is one remote however it is named.
pub(super) fn normalise(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    fs::canonicalize(&absolute).unwrap_or(absolute)
}

impl Folder {
    /// Every entry of one folder of the remote (`dir`, or the root), as keys under `under`,
    /// with what each is, never following a link. `None`: there is no such folder.
    fn entries(&self, dir: Option<&str>) -> Result<Option<Vec<(String, FileType)>>> {
        let path = match dir {
            Some(d) => self.root.join(d),
            None => self.root.clone(),
        };
        let fail = |source: std::io::Error| RemoteError::List {
            location: path.display().to_string(),
            source: source.into(),
        };
        // A peer's folder that is a link is not listed (nor followed): asked for by name, it
        // is named as what it is.
        if dir.is_some() {
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {}
                Ok(m) => {
                    return Err(RemoteError::NotAFile {
                        location: path.display().to_string(),
                        what: match file_type(m.file_type()) {
                            FileType::Symlink => not_a_file(FileType::Symlink),
                            _ => "not a folder",
                        },
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(fail(e)),
            }
        } else if !self.root.is_dir() {
            return Err(self.missing());
        }
        let mut out = Vec::new();
        for entry in fs::read_dir(&path).map_err(fail)? {
            let entry = entry.map_err(fail)?;
            let kind = entry.file_type().map_err(fail)?;
            let kind = file_type(kind);
            out.push((entry.file_name().to_string_lossy().into_owned(), kind));
        }
        Ok(Some(out))
    }
}

/// The kind of a directory entry, as `fstat` would name it.
fn file_type(kind: fs::FileType) -> FileType {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_file() {
        FileType::RegularFile
    } else if kind.is_dir() {
        FileType::Directory
    } else if kind.is_symlink() {
        FileType::Symlink
    } else if kind.is_fifo() {
        FileType::Fifo
    } else if kind.is_socket() {
        FileType::Socket
    } else if kind.is_char_device() {
        FileType::CharacterDevice
    } else if kind.is_block_device() {
        FileType::BlockDevice
    } else {
        FileType::Unknown
    }
}

impl Transport for Folder {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn list(&self, prefix: &str, after: Option<&str>) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let files_of = |dir: Option<&str>, keys: &mut Vec<String>| -> Result<()> {
            for (name, kind) in self.entries(dir)?.unwrap_or_default() {
                if kind == FileType::RegularFile {
                    keys.push(match dir {
                        Some(d) => format!("{d}/{name}"),
                        None => name,
                    });
                }
            }
            Ok(())
        };
        match prefix.strip_suffix('/') {
            // One peer's folder: the cheap case.
            Some(dir) if !dir.is_empty() && !dir.contains('/') => {
                if !self.root.is_dir() {
                    return Err(self.missing());
                }
                files_of(Some(dir), &mut keys)?;
            }
            _ => {
                for dir in self.list_top()? {
                    match dir.strip_suffix('/') {
                        Some(d) => files_of(Some(d), &mut keys)?,
                        None => keys.push(dir),
                    }
                }
                keys.retain(|k| k.starts_with(prefix));
            }
        }
        Ok(names::sorted_after(keys, after))
    }

    fn list_top(&self) -> Result<Vec<String>> {
        let mut top: Vec<String> = self
            .entries(None)?
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(name, kind)| match kind {
                FileType::RegularFile => Some(name),
                FileType::Directory if !name.starts_with('.') => Some(format!("{name}/")),
                _ => None,
            })
            .collect();
        top.sort();
        Ok(top)
    }

    fn list_irregular(&self) -> Result<Vec<(String, &'static str)>> {
        let mut out = Vec::new();
        // What a file-sync tool keeps (dot names) is its own business.
        for (name, kind) in self.entries(None)?.unwrap_or_default() {
            match kind {
                _ if name.starts_with('.') => {}
                FileType::RegularFile => {}
                FileType::Directory => {
                    for (inner, kind) in self.entries(Some(&name))?.unwrap_or_default() {
                        if kind != FileType::RegularFile && !inner.starts_with('.') {
                            out.push((format!("{name}/{inner}"), not_a_file(kind)));
                        }
                    }
                }
                kind => out.push((name, not_a_file(kind))),
            }
        }
        out.sort();
        Ok(out)
    }

    fn get(&self, key: &str, max: u64) -> Result<Vec<u8>> {
        let (file, size) = self.open_file(key)?;
        let location = || self.path_of(key).display().to_string();
        if size > max {
            return Err(RemoteError::TooLarge {
                location: location(),
                size,
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| RemoteError::Read {
                location: location(),
                source: e.into(),
            })?;
        if bytes.len() as u64 > max {
            return Err(RemoteError::TooLarge {
                location: location(),
                size: bytes.len() as u64,
            });
        }
        Ok(bytes)
    }

    fn get_tail(&self, key: &str, len: u64) -> Result<Option<Vec<u8>>> {
        let (mut file, size) = self.open_file(key)?;
        if size < len {
            return Ok(None);
        }
        let fail = |source: std::io::Error| RemoteError::Read {
            location: self.path_of(key).display().to_string(),
            source: source.into(),
        };
        file.seek(SeekFrom::Start(size - len)).map_err(fail)?;
        let mut tail = vec![0u8; len as usize];
        file.read_exact(&mut tail).map_err(fail)?;
        Ok(Some(tail))
    }

    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<Created> {
        self.write_atomic(key, bytes, false)
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        self.write_atomic(key, bytes, true).map(|_| ())
    }

    fn delete(&self, key: &str) -> Result<()> {
        let (dir, name) = self.split(key)?;
        // A folder that is a link, or gone: nothing of ours to delete there.
        let Some(dir) = self.open_dir(dir.as_deref(), false).or_else(|e| match e {
            RemoteError::NotAFile { .. } => Ok(None),
            e => Err(e),
        })?
        else {
            return Ok(());
        };
        // unlinkat removes a link itself, never what it points to.
        match rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(RemoteError::Write {
                location: self.path_of(key).display().to_string(),
                step: "remove",
                source: std::io::Error::from(e).into(),
            }),
        }
    }

    fn sweep_temporary(&self, older_than: Duration, dry_run: bool) -> Result<Vec<String>> {
        let mut swept = Vec::new();
        for (peer, kind) in self.entries(None)?.unwrap_or_default() {
            if kind != FileType::Directory || peer.parse::<PeerId>().is_err() {
                continue;
            }
            let dir = self.root.join(&peer);
            for (name, kind) in self.entries(Some(&peer))?.unwrap_or_default() {
                if kind != FileType::RegularFile || !names::is_our_temporary(&name) {
                    continue;
                }
                let age = fs::symlink_metadata(dir.join(&name))
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok());
                if age.is_none_or(|a| a < older_than) {
                    continue;
                }
                let key = format!("{peer}/{name}");
                if !dry_run {
                    self.delete(&key)?;
                }
                swept.push(key);
            }
        }
        swept.sort();
        Ok(swept)
    }
}
