//! `context sync remote [R] [--unset]`: the default remote of this home: set it, print it, or
//! forget it.

use std::io::Write;

use clap::Args;

use context::outcome::Outcome;
use context::remote::{self, Location};
use context::sync::{DEFAULT_REMOTE_SETTING, SyncError};

use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context sync remote ~/Sync/context\n  context sync remote s3://my-bucket/context\n  context sync remote --unset"
)]
pub struct SetRemote {
    #[arg(value_name = "R", conflicts_with = "unset", help = format!(
        "The remote to make the default: {}. It must exist. Without it, prints the default remote",
        remote::registry::known_forms()
    ))]
    location: Option<Location>,
    /// Forget the default remote (every sync command then needs --remote).
    #[arg(long)]
    unset: bool,
}

impl SetRemote {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let Some(location) = self.location else {
            let store = env.open_store()?;
            if self.unset {
                match store.unset_setting(DEFAULT_REMOTE_SETTING)? {
                    Some(old) => writeln!(out, "forgot the default remote {old}")?,
                    None => writeln!(out, "no default remote was set")?,
                }
                return Ok(Outcome::Ok);
            }
            let current = store
                .setting(DEFAULT_REMOTE_SETTING)?
                .ok_or(SyncError::NoRemote)?;
            writeln!(out, "{current}")?;
            return Ok(Outcome::Ok);
        };
        // Reached once, so that a typo is caught now rather than at the first cron tick; the
        // remote's own normalised form is what is kept.
        let remote = remote::open(&location).map_err(SyncError::from)?;
        remote.probe().map_err(SyncError::from)?;
        let store = env.open_store()?;
        store.set_setting(DEFAULT_REMOTE_SETTING, &remote.location())?;
        writeln!(out, "default remote: {}", remote.location())?;
        Ok(Outcome::Ok)
    }
}
