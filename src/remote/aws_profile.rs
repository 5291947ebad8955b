//! The AWS shared files, as every AWS tool reads them: `~/.aws/credentials` and
//! `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`), one profile of
//! them (`AWS_PROFILE`, else `default`). So that a job run by cron or systemd, whose
//! environment holds no keys, reaches a bucket as the user's shell does. The environment
//! always wins over the files ([`super::aws::S3Config::from_env`] asks the files only for
//! what the environment lacks).

use std::collections::HashMap;
use std::path::PathBuf;

/// What the shared files say of one profile: its settings (the credentials file's over the
/// config file's), and where they were looked for.
#[derive(Debug, Default)]
pub struct Profile {
    pub name: String,
    values: HashMap<String, String>,
    /// The files looked in, for messages (`~/.aws/credentials`, `~/.aws/config`).
    pub looked_in: Vec<PathBuf>,
}

impl Profile {
    /// A setting of the profile (`region`, `aws_access_key_id`, `endpoint_url`, ...).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Reads the profile `AWS_PROFILE` names (else `default`) from the shared files. A file
    /// that is not there is no error; a profile named by `AWS_PROFILE` that neither file holds
    /// is (it would otherwise fall back to nothing, silently).
    pub fn load(env: &dyn Fn(&str) -> Option<String>) -> Result<Profile, String> {
        let home = env("HOME").map(PathBuf::from);
        let path = |var: &str, file: &str| -> Option<PathBuf> {
            env(var)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(file)))
        };
        let named = env("AWS_PROFILE").filter(|p| !p.is_empty());
        let name = named.clone().unwrap_or_else(|| "default".to_string());
        let mut profile = Profile {
            name: name.clone(),
            ..Profile::default()
        };
        let mut found = false;
        // The config file first: the credentials file's values replace its.
        for (file, section) in [
            (path("AWS_CONFIG_FILE", "config"), config_section(&name)),
            (
                path("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
                name.clone(),
            ),
        ] {
            let Some(file) = file else { continue };
            profile.looked_in.push(file.clone());
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
            };
            let mut sections = parse(&text);
            // `[profile default]` is also the default profile in the config file.
            let values = sections
                .remove(&section)
                .or_else(|| sections.remove(&format!("profile {name}")));
            if let Some(values) = values {
                found = true;
                profile.values.extend(values);
            }
        }
        if let Some(named) = named
            && !found
        {
            return Err(format!(
                "no profile {named:?} (named by AWS_PROFILE or the remote's ?profile=) in {}",
                profile.describe_files()
            ));
        }
        Ok(profile)
    }

    /// "~/.aws/credentials or ~/.aws/config", as looked for.
    pub fn describe_files(&self) -> String {
        let files: Vec<String> = self
            .looked_in
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        if files.is_empty() {
            "the AWS shared files (no HOME to find them in)".to_string()
        } else {
            files.join(" or ")
        }
    }
}

/// A profile's section in the config file: `[default]`, else `[profile NAME]`.
fn config_section(name: &str) -> String {
    if name == "default" {
        "default".to_string()
    } else {
        format!("profile {name}")
    }
}

/// The sections of an INI file as the AWS tools read it: `[section]`, `key = value`, comments
/// after `#` or `;` at the start of a line, keys folded to lower case. Indented lines (the
/// nested settings of `s3 =`) are passed over.
fn parse(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut at: Option<String> = None;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            out.entry(name.clone()).or_default();
            at = Some(name);
            continue;
        }
        if let (Some(section), Some((k, v))) = (&at, line.split_once('=')) {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_profile_is_read_from_both_files_the_credentials_file_winning() {
        let home = tempfile::tempdir().unwrap();
        let aws = home.path().join(".aws");
        std::fs::create_dir(&aws).unwrap();
        std::fs::write(
            aws.join("credentials"),
            "# keys\n[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = sd\n\n\
             [work]\nAWS_ACCESS_KEY_ID=AKWORK\naws_secret_access_key = sw\naws_session_token = tw\n",
        )
        .unwrap();
        std::fs::write(
            aws.join("config"),
            "[default]\nregion = eu-west-3\n[profile work]\nregion = us-west-2\n\
             endpoint_url = http://127.0.0.1:9000\naws_access_key_id = AKFROMCONFIG\ns3 =\n  \
             addressing_style = path\n",
        )
        .unwrap();
        let h = home.path().display().to_string();
        let p = Profile::load(&env_of(vec![("HOME", h.clone())])).unwrap();
        assert_eq!(p.get("aws_access_key_id"), Some("AKDEFAULT"));
        assert_eq!(p.get("region"), Some("eu-west-3"));
        let p = Profile::load(&env_of(vec![
            ("HOME", h.clone()),
            ("AWS_PROFILE", "work".into()),
        ]))
        .unwrap();
        assert_eq!(p.get("aws_access_key_id"), Some("AKWORK"));
        assert_eq!(p.get("aws_session_token"), Some("tw"));
        assert_eq!(p.get("region"), Some("us-west-2"));
        assert_eq!(p.get("endpoint_url"), Some("http://127.0.0.1:9000"));
        assert_eq!(p.get("addressing_style"), None);
        // A named profile neither file holds is an error that names the files.
        let e =
            Profile::load(&env_of(vec![("HOME", h), ("AWS_PROFILE", "nope".into())])).unwrap_err();
        assert!(e.contains("nope") && e.contains(".aws/credentials"), "{e}");
        // Files elsewhere, by their variables; none at all is an empty default profile.
        let elsewhere = home.path().join("creds");
        std::fs::write(&elsewhere, "[default]\naws_access_key_id=AKX\n").unwrap();
        let p = Profile::load(&env_of(vec![(
            "AWS_SHARED_CREDENTIALS_FILE",
            elsewhere.display().to_string(),
        )]))
        .unwrap();
        assert_eq!(p.get("aws_access_key_id"), Some("AKX"));
        let none = Profile::load(&env_of(vec![])).unwrap();
        assert_eq!(none.get("region"), None);
    }
}
