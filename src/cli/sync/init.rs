//! `context sync init --encrypt`: make a new, empty remote an encrypted one.

use std::io::Write;

use clap::Args;

use context::outcome::Outcome;
use context::sync::encryption;

use super::{RemoteFlag, print_json};
use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context sync init --remote s3://my-bucket/context --encrypt\n  context sync key export --remote s3://my-bucket/context   # then import on the other machine"
)]
pub struct Init {
    #[command(flatten)]
    remote: RemoteFlag,
    /// Encrypt everything written to the remote with a fresh random key, kept in this home.
    #[arg(long, required = true)]
    encrypt: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

impl Init {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let store = env.open_store()?;
        let remote = self.remote.open_plain(&store)?;
        let report = encryption::init(&store, &remote, &env.keys()?)?;
        if self.json {
            print_json(out, &report)?;
        } else {
            writeln!(
                out,
                "{} is now encrypted: everything pushed there is sealed with key {}, kept in {} \
                 (owner only).\nOn each other machine: `context sync key export --remote {}` \
                 here, then `context sync key import --remote {}` there.",
                report.remote, report.key_id, report.key_file, report.remote, report.remote
            )?;
        }
        Ok(Outcome::Ok)
    }
}
