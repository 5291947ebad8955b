//! `context sync name [NAME]`: what every peer calls this machine.

use std::io::Write;

use clap::Args;

use context::outcome::Outcome;

use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context sync name              # print it\n  context sync name work-laptop  # rename this machine everywhere\n\nThe name is fixed when the home is first used (CONTEXT_HOST, else the host name) and changes\nonly here: the next push (or manifest) carries it to every peer, and `history`, `conflicts`,\n`status` and `verify` show it there in place of the peer id."
)]
pub struct Name {
    /// The new name (at most 64 bytes, no control characters); without it, print the name.
    name: Option<String>,
}

impl Name {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let mut store = env.open_store()?;
        if let Some(name) = &self.name {
            store.set_name(name)?;
            env.sync_after_write(&store);
            if !crate::cli::quiet() {
                eprintln!(
                    "context: this machine is now {name:?}; the next sync tells every peer \
                     (its past versions show the new name there too)"
                );
            }
        }
        writeln!(out, "{}", store.peer().name)?;
        Ok(Outcome::Ok)
    }
}
