//! `context sync schedule`: a crontab line or systemd user units that run `context sync` for
//! this home: printed, or with `--install` written where cron or systemd reads them (the
//! user's crontab through `crontab`, every other line kept; or the user units, enabled), and
//! with `--uninstall` taken out again. A job runs with the service manager's bare
//! environment: what the remote needs from the environment that is not a secret (`CONTEXT_SSH`,
//! `AWS_ENDPOINT_URL`, `AWS_REGION`, ...) is written into the job; a remote whose credentials
//! come only from the environment is refused, rather than installing a job that fails on every
//! tick.

use std::io::Write;
use std::time::Duration;

use clap::Args;

use context::outcome::Outcome;

use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context sync schedule --every 15m --cron >> my-crontab\n  context sync schedule --systemd"
)]
pub struct Schedule {
    /// How often: a DURATION of whole minutes, e.g. 15m, 1h, 1d (for cron: one that divides
    /// an hour or a day evenly).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = context::duration::parse)]
    every: Duration,
    /// A crontab line (the default).
    #[arg(long, conflicts_with = "systemd")]
    cron: bool,
    /// A systemd user service and timer.
    #[arg(long)]
    systemd: bool,
    /// A watch instead of a timer: `context sync watch` as a long-running systemd user service
    /// (restarted if it stops), or an `@reboot` crontab line.
    #[arg(long)]
    watch: bool,
    /// Install it: add the line to your crontab (every other line kept, its own marked), or
    /// write and enable the systemd user units. Idempotent; says what it changed.
    #[arg(long, conflicts_with = "uninstall")]
    install: bool,
    /// Take out what --install put in (only its own line, or its own units).
    #[arg(long)]
    uninstall: bool,
}

/// The comment that marks this home's line in a crontab.
fn marker(home: &str) -> String {
    format!("# context sync schedule for {home}")
}

/// The variables of the environment a scheduled job needs to reach the remote and that may
/// be written into the job (never a secret).
const PASSED_ON: [&str; 9] = [
    "CONTEXT_SSH",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ALLOW_HTTP",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
];

/// A systemd calendar expression for every `minutes`, when one says exactly that.
fn calendar(minutes: u64) -> Option<String> {
    match minutes {
        m if m < 60 && 60 % m == 0 => Some(format!("*:0/{m}")),
        m if m % 60 == 0 && m < 24 * 60 && (24 * 60) % m == 0 => Some(format!("0/{}:00", m / 60)),
        m if m == 24 * 60 => Some("*-*-* 00:00:00".into()),
        _ => None,
    }
}

impl Schedule {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let every = self.every.as_secs();
        let bad = |reason: &str| CliError::BadValue {
            flag: "--every",
            value: context::duration::format(self.every),
            reason: reason.to_string(),
        };
        if !every.is_multiple_of(60) {
            return Err(bad("not a whole number of minutes"));
        }
        let minutes = every / 60;
        let home = std::path::absolute(env.home()?)?;
        let exe = std::env::current_exe()?;
        let (home, exe) = (home.display().to_string(), exe.display().to_string());
        let passed: Vec<(String, String)> = PASSED_ON
            .iter()
            .filter_map(|v| std::env::var(v).ok().map(|x| (v.to_string(), x)))
            .filter(|(_, x)| !x.is_empty())
            .collect();
        let systemd =
            self.systemd || (!self.cron && (self.install || self.uninstall) && user_manager_runs());
        if self.install {
            self.refuse_missing_credentials(env)?;
        }
        if systemd {
            let units = if self.watch {
                watch_unit(&home, &exe, &passed)
            } else {
                systemd_units(&home, &exe, minutes, &passed)
            };
            if self.install || self.uninstall {
                return install_systemd(&units, self.install, out);
            }
            for (name, text) in &units {
                writeln!(out, "# ~/.config/systemd/user/{name}")?;
                writeln!(out, "{text}")?;
            }
            return Ok(Outcome::Ok);
        }
        let spec = match minutes {
            _ if self.watch => "@reboot".to_string(),
            m if m < 60 && 60 % m == 0 => format!("*/{m} * * * *"),
            m if m % 60 == 0 && m < 24 * 60 && (24 * 60) % m == 0 => {
                format!("0 */{} * * *", m / 60)
            }
            m if m == 24 * 60 => "0 0 * * *".to_string(),
            _ => return Err(bad("cron needs one that divides an hour or a day evenly")),
        };
        // Quoted for the shell cron hands the line to, and `%` escaped (cron turns a bare one
        // into a newline).
        let quote = |s: &str| {
            shlex::try_quote(s)
                .map(|q| q.into_owned())
                .unwrap_or_else(|_| s.to_string())
                .replace('%', "\\%")
        };
        let vars: String = passed
            .iter()
            .map(|(k, v)| format!(" {k}={}", quote(v)))
            .collect();
        let command = if self.watch {
            "sync watch"
        } else {
            "sync --wait 120"
        };
        let line = format!(
            "{spec} CONTEXT_HOME={}{vars} {} {command}",
            quote(&home),
            quote(&exe)
        );
        if !self.install && !self.uninstall {
            writeln!(out, "{line}")?;
            return Ok(Outcome::Ok);
        }
        install_cron(&line, &marker(&home), self.install, out)
    }

    /// Refuses to install a job whose remote takes credentials only from this shell's
    /// environment, which cron and systemd do not pass on.
    fn refuse_missing_credentials(&self, env: &Env) -> Result<(), CliError> {
        let store = env.open_store_to_read()?;
        let remotes = store.named_remotes()?;
        if remotes.is_empty() {
            return Err(CliError::Schedule(
                "this home has no remote for the job to sync with: add one with `context sync \
                 remote add NAME URL` (or `context sync remote URL`) first"
                    .into(),
            ));
        }
        for remote in remotes.iter().map(|r| r.url.as_str()) {
            // The job has HOME and what PASSED_ON writes into it, never the keys of this shell:
            // the shared files (~/.aws/credentials) are where it finds them. A profile the
            // remote names in its URL stands for AWS_PROFILE.
            let named = context::remote::Location::parse(remote)
                .ok()
                .and_then(|l| l.target::<context::remote::S3Location>()?.profile.clone());
            let job_env = |name: &str| match name {
                "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN" => None,
                "AWS_PROFILE" if named.is_some() => named.clone(),
                _ => std::env::var(name).ok(),
            };
            if remote.starts_with("s3://")
                && std::env::var("CONTEXT_S3_IMDS").as_deref() != Ok("1")
                && !context::remote::shared_files_have_credentials(&job_env)
            {
                return Err(CliError::Schedule(format!(
                    "the remote {remote} takes its credentials from AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY in the environment, which a scheduled job does not \
                     have (and which are not written into a crontab or a unit), and the AWS \
                     shared files hold none for the profile the job would use: nothing \
                     installed. Put them in ~/.aws/credentials (as `aws configure` does), or \
                     print the job with `context sync schedule` and give it the credentials \
                     your own way (an EnvironmentFile= readable by you only, for systemd)"
                )));
            }
        }
        Ok(())
    }
}

/// Adds (`install`) or takes out this home's marked line in the user's crontab, through
/// `crontab` (`CONTEXT_CRONTAB` names another command, as tests do), keeping every other line
/// byte for byte; says what changed.
fn install_cron(
    line: &str,
    marker: &str,
    install: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let crontab = crontab_command()?;
    let listed = std::process::Command::new(&crontab[0])
        .args(&crontab[1..])
        .arg("-l")
        .output()
        .map_err(|e| CliError::Schedule(format!("cannot run {:?}: {e}", crontab[0])))?;
    // `crontab -l` fails when the user has none yet: that is an empty one.
    let current = if listed.status.success() {
        String::from_utf8_lossy(&listed.stdout).into_owned()
    } else {
        String::new()
    };
    let mut kept: Vec<&str> = Vec::new();
    let mut removed: Vec<&str> = Vec::new();
    let mut lines = current.lines().peekable();
    while let Some(l) = lines.next() {
        if l == marker {
            // Ours: the marker and the line after it.
            if let Some(job) = lines.next() {
                removed.push(job);
            }
            continue;
        }
        kept.push(l);
    }
    if install && removed == [line] {
        writeln!(out, "already in your crontab, unchanged: {line}")?;
        return Ok(Outcome::Ok);
    }
    if !install && removed.is_empty() {
        writeln!(out, "nothing of context's in your crontab: unchanged")?;
        return Ok(Outcome::Ok);
    }
    let mut text = String::new();
    for l in &kept {
        text.push_str(l);
        text.push('\n');
    }
    if install {
        text.push_str(marker);
        text.push('\n');
        text.push_str(line);
        text.push('\n');
    }
    let mut child = std::process::Command::new(&crontab[0])
        .args(&crontab[1..])
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| CliError::Schedule(format!("cannot run {:?}: {e}", crontab[0])))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes())?;
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(CliError::Schedule(format!(
            "{:?} refused the new crontab ({status}): nothing changed",
            crontab[0]
        )));
    }
    for old in &removed {
        writeln!(out, "removed from your crontab: {old}")?;
    }
    if install {
        writeln!(out, "added to your crontab: {line}")?;
    }
    Ok(Outcome::Ok)
}

/// `crontab`, or what `CONTEXT_CRONTAB` says (split as a shell would).
fn crontab_command() -> Result<Vec<String>, CliError> {
    match std::env::var("CONTEXT_CRONTAB") {
        Ok(line) if !line.trim().is_empty() => shlex::split(&line)
            .filter(|w| !w.is_empty())
            .ok_or_else(|| {
                CliError::Schedule(format!("CONTEXT_CRONTAB={line:?} is not a command"))
            }),
        _ => Ok(vec!["crontab".to_string()]),
    }
}

/// A value as a unit file writes it: in double quotes (spaces), `%%` for a literal `%`.
fn unit_value(s: &str) -> String {
    format!("\"{}\"", s.replace('%', "%%").replace('"', "\\\""))
}

/// The `Environment=` lines of a unit: this home, and what the remote needs.
fn environment(home: &str, passed: &[(String, String)]) -> String {
    std::iter::once(format!("CONTEXT_HOME={home}"))
        .chain(passed.iter().map(|(k, v)| format!("{k}={v}")))
        .map(|pair| format!("Environment={}", unit_value(&pair)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The two user units: a oneshot service running `context sync` for this home, and its timer.
fn systemd_units(
    home: &str,
    exe: &str,
    minutes: u64,
    passed: &[(String, String)],
) -> Vec<(&'static str, String)> {
    let service = format!(
        "[Unit]\nDescription=context sync: pull, then push\n\n[Service]\nType=oneshot\n{}\nExecStart={} sync --wait 120\n",
        environment(home, passed),
        unit_value(exe)
    );
    // A calendar timer with Persistent=true catches up a run missed while the machine was
    // off; an interval that no calendar expression holds runs from boot instead.
    let timer_spec = match calendar(minutes) {
        Some(spec) => format!("[Timer]\nOnCalendar={spec}\nPersistent=true\n"),
        None => format!("[Timer]\nOnBootSec=2min\nOnUnitActiveSec={minutes}min\n"),
    };
    let timer = format!(
        "[Unit]\nDescription=context sync every {minutes} minutes\n\n{timer_spec}\n[Install]\nWantedBy=timers.target\n"
    );
    vec![
        ("context-sync.service", service),
        ("context-sync.timer", timer),
    ]
}

/// The user service of a watch: `context sync watch`, restarted if it stops.
fn watch_unit(home: &str, exe: &str, passed: &[(String, String)]) -> Vec<(&'static str, String)> {
    let service = format!(
        "[Unit]\nDescription=context sync watch: this home in sync within seconds\n\n[Service]\n{}\nExecStart={} sync watch\nRestart=on-failure\nRestartSec=30\n\n[Install]\nWantedBy=default.target\n",
        environment(home, passed),
        unit_value(exe)
    );
    vec![("context-sync-watch.service", service)]
}

/// Whether a systemd user manager runs for this user (what `--install` uses by default).
fn user_manager_runs() -> bool {
    std::process::Command::new("systemctl")
        .args(["--user", "show-environment"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Where the user units go: `$XDG_CONFIG_HOME/systemd/user`, else `~/.config/systemd/user`.
fn units_dir() -> Result<std::path::PathBuf, CliError> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".config")))
        .ok_or_else(|| CliError::Schedule("neither XDG_CONFIG_HOME nor HOME is set".into()))?;
    Ok(base.join("systemd").join("user"))
}

/// Writes (or removes) the units and enables (or disables) the timer where a user manager
/// runs; says what it changed, and what to run where none does.
fn install_systemd(
    units: &[(&'static str, String)],
    install: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let dir = units_dir()?;
    let manager = user_manager_runs();
    let systemctl = |args: &[&str]| {
        let ok = std::process::Command::new("systemctl")
            .arg("--user")
            .args(args)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            tracing::warn!("systemctl --user {} failed", args.join(" "));
        }
    };
    if !install {
        if manager {
            systemctl(&["disable", "--now", enabled_unit(units)]);
        }
        let mut removed = false;
        for (name, _) in units {
            let path = dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    writeln!(out, "removed {}", path.display())?;
                    removed = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        if manager && removed {
            systemctl(&["daemon-reload"]);
        }
        if !removed {
            writeln!(out, "no context units in {}: unchanged", dir.display())?;
        }
        return Ok(Outcome::Ok);
    }
    std::fs::create_dir_all(&dir)?;
    for (name, text) in units {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).is_ok_and(|t| &t == text) {
            writeln!(out, "unchanged: {}", path.display())?;
        } else {
            std::fs::write(&path, text)?;
            writeln!(out, "wrote {}", path.display())?;
        }
    }
    if manager {
        systemctl(&["daemon-reload"]);
        systemctl(&["enable", "--now", enabled_unit(units)]);
        writeln!(out, "enabled {}", enabled_unit(units))?;
    } else {
        writeln!(
            out,
            "no systemd user manager runs here: where one does, enable it with \
             `systemctl --user daemon-reload && systemctl --user enable --now {}`",
            enabled_unit(units)
        )?;
    }
    Ok(Outcome::Ok)
}

/// The unit that is enabled: the timer, or the watch's service.
fn enabled_unit(units: &[(&'static str, String)]) -> &'static str {
    units.last().map_or("context-sync.timer", |(name, _)| name)
}
