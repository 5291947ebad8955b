//! Where a user's data lives: `$CONTEXT_HOME`, else `$XDG_DATA_HOME/context`, else
//! `~/.local/share/context`. The home holds `context.db` and whatever else the tool needs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The database file inside a home.
pub const DATABASE_FILE: &str = "context.db";

#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error(
        "cannot find a home for the database: set CONTEXT_HOME (or XDG_DATA_HOME, or HOME) to a \
         folder"
    )]
    Unset,
    #[error(
        "CONTEXT_HOME={0:?} is a relative path: it would name another home in every folder a \
         command runs from (a cron job's is not yours); give it as an absolute path"
    )]
    Relative(PathBuf),
    #[error("CONTEXT_HOME={0:?} names a file, not a folder: a home is a folder")]
    NotAFolder(PathBuf),
}

/// Locates the home from the environment `var` (empty values count as unset; the XDG base
/// directory specification ignores a relative `XDG_DATA_HOME`, and so do we).
pub fn locate(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, HomeError> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(home) = set("CONTEXT_HOME") {
        if home.is_relative() {
            return Err(HomeError::Relative(home));
        }
        if home.exists() && !home.is_dir() {
            return Err(HomeError::NotAFolder(home));
        }
        return Ok(home);
    }
    if let Some(xdg) = set("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
        return Ok(xdg.join("context"));
    }
    if let Some(home) = set("HOME") {
        return Ok(home.join(".local").join("share").join("context"));
    }
    Err(HomeError::Unset)
}

pub fn database_path(home: &Path) -> PathBuf {
    home.join(DATABASE_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn order_of_precedence() {
        let all = [
            ("CONTEXT_HOME", "/c"),
            ("XDG_DATA_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(locate(env(&all)).ok(), Some(PathBuf::from("/c")));
        assert_eq!(
            locate(env(&all[1..])).ok(),
            Some(PathBuf::from("/x/context"))
        );
        assert_eq!(
            locate(env(&all[2..])).ok(),
            Some(PathBuf::from("/h/.local/share/context"))
        );
        assert!(locate(env(&[])).is_err());
    }

    #[test]
    fn a_relative_context_home_and_one_naming_a_file_are_refused() {
        assert!(matches!(
            locate(env(&[("CONTEXT_HOME", "notes/home")])),
            Err(HomeError::Relative(_))
        ));
        let file = tempfile::NamedTempFile::new().unwrap();
        let path = file.path().to_str().unwrap().to_string();
        assert!(matches!(
            locate(env(&[("CONTEXT_HOME", path.as_str())])),
            Err(HomeError::NotAFolder(_))
        ));
    }

    #[test]
    fn empty_and_relative_values_are_skipped() {
        let pairs = [
            ("CONTEXT_HOME", ""),
            ("XDG_DATA_HOME", "relative"),
            ("HOME", "/h"),
        ];
        assert_eq!(
            locate(env(&pairs)).ok(),
            Some(PathBuf::from("/h/.local/share/context"))
        );
    }
}
