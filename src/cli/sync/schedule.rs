//! `context sync schedule`: a crontab line or systemd user units that run `context sync` for
//! this home.

use std::io::Write;
use std::time::Duration;

use clap::Args;

use context::outcome::Outcome;

use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
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
        let command = format!("{} sync --wait 120", exe.display());
        if self.systemd {
            writeln!(out, "# ~/.config/systemd/user/context-sync.service")?;
            writeln!(out, "[Unit]\nDescription=context sync: pull, then push\n")?;
            writeln!(
                out,
                "[Service]\nType=oneshot\nEnvironment=CONTEXT_HOME={}\nExecStart={command}\n",
                home.display()
            )?;
            writeln!(out, "# ~/.config/systemd/user/context-sync.timer")?;
            writeln!(
                out,
                "[Unit]\nDescription=context sync every {minutes} minutes\n"
            )?;
            writeln!(
                out,
                "[Timer]\nOnBootSec=2min\nOnUnitActiveSec={minutes}min\nPersistent=true\n"
            )?;
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
        writeln!(out, "{spec} CONTEXT_HOME={} {command}", home.display())?;
        Ok(Outcome::Ok)
    }
}
