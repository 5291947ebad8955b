//! `context sync key export|import`: carry an encrypted remote's key to another machine.

use std::io::{Read, Write};

use clap::{Args, Subcommand};

use context::outcome::Outcome;
use context::sync::encryption;

use super::RemoteFlag;
use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Print the remote's key as one line, to paste on another machine (keep it secret).
    #[command(
        after_help = "Examples:\n  context sync key export --remote s3://my-bucket/context > key.txt\n  ssh desktop context sync key import --remote s3://my-bucket/context < key.txt"
    )]
    Export {
        #[command(flatten)]
        remote: RemoteFlag,
    },
    /// Read the line `key export` printed from stdin, and keep the key if it opens the remote.
    #[command(
        after_help = "Examples:\n  context sync key import --remote s3://my-bucket/context < key.txt\n  pbpaste | context sync key import"
    )]
    Import {
        #[command(flatten)]
        remote: RemoteFlag,
    },
}

impl KeyArgs {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        match self.command {
            KeyCommand::Export { remote } => {
                let store = env.open_store()?;
                let remote = remote.open_plain(&store)?;
                writeln!(
                    out,
                    "{}",
                    encryption::export(&store, &remote, &env.keys()?)?
                )?;
            }
            KeyCommand::Import { remote } => {
                if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    // On a terminal the read would wait in silence: say what it waits for.
                    eprintln!(
                        "context: paste the line `context sync key export` printed on the other \
                         machine, then press Enter and Ctrl-D:"
                    );
                }
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .take(4096)
                    .read_to_string(&mut line)
                    .map_err(|source| CliError::ReadInput {
                        what: "stdin".into(),
                        source,
                    })?;
                let store = env.open_store()?;
                let remote = remote.open_plain(&store)?;
                let done = encryption::import(&store, &remote, &env.keys()?, &line)?;
                writeln!(
                    out,
                    "key {} imported: this home now opens {}",
                    done.key_id,
                    remote.location()
                )?;
                if done.restored_record {
                    writeln!(
                        out,
                        "the remote's key record (encryption.json) was missing: put back"
                    )?;
                }
            }
        }
        Ok(Outcome::Ok)
    }
}
