//! `context sync remote R`: the default remote of this home.

use std::io::Write;

use clap::Args;

use context::outcome::Outcome;
use context::remote::{self, Location};
use context::sync::{DEFAULT_REMOTE_SETTING, SyncError};

use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
pub struct SetRemote {
    /// The remote: a folder path, a file:// URL, s3://BUCKET[/PREFIX] or
    /// ssh://[USER@]HOST[:PORT]/PATH. It must exist.
    #[arg(value_name = "R")]
    location: Location,
}

impl SetRemote {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        // Reached once, so that a typo is caught now rather than at the first cron tick; the
        // remote's own normalised form is what is kept.
        let remote = remote::open(&self.location).map_err(SyncError::from)?;
        remote.probe().map_err(SyncError::from)?;
        let store = env.open_store()?;
        store.set_setting(DEFAULT_REMOTE_SETTING, &remote.location())?;
        writeln!(out, "default remote: {}", remote.location())?;
        Ok(Outcome::Ok)
    }
}
