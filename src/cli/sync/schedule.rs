//! `context sync schedule`: a crontab line or systemd user units that run `context sync` for
//! this home.

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
}

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
            value: format!("{}s", every),
            reason: reason.to_string(),
        };
        if !every.is_multiple_of(60) {
            return Err(bad("not a whole number of minutes"));
        }
        let minutes = every / 60;
        let home = std::path::absolute(env.home()?)?;
        let exe = std::env::current_exe()?;
        let (home, exe) = (home.display().to_string(), exe.display().to_string());
        if self.systemd {
            // systemd: double quotes around a value with spaces, `%%` for a literal `%`.
            let unit = |s: &str| format!("\"{}\"", s.replace('%', "%%").replace('"', "\\\""));
            writeln!(out, "# ~/.config/systemd/user/context-sync.service")?;
            writeln!(out, "[Unit]\nDescription=context sync: pull, then push\n")?;
            writeln!(
                out,
                "[Service]\nType=oneshot\nEnvironment={}\nExecStart={} sync --wait 120\n",
                unit(&format!("CONTEXT_HOME={home}")),
                unit(&exe)
            )?;
            writeln!(out, "# ~/.config/systemd/user/context-sync.timer")?;
            writeln!(
                out,
                "[Unit]\nDescription=context sync every {minutes} minutes\n"
            )?;
            // A calendar timer with Persistent=true catches up a run missed while the machine
            // was off; an interval that no calendar expression holds runs from boot instead.
            match calendar(minutes) {
                Some(spec) => writeln!(out, "[Timer]\nOnCalendar={spec}\nPersistent=true\n")?,
                None => writeln!(
                    out,
                    "[Timer]\nOnBootSec=2min\nOnUnitActiveSec={minutes}min\n"
                )?,
            }
            writeln!(out, "[Install]\nWantedBy=timers.target")?;
            return Ok(Outcome::Ok);
        }
        let spec = match minutes {
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
        writeln!(
            out,
            "{spec} CONTEXT_HOME={} {} sync --wait 120",
            quote(&home),
            quote(&exe)
        )?;
        Ok(Outcome::Ok)
    }
}
