//! `context sync auto [on|off]`: whether writes sync this home in the background.

use std::io::Write;

use clap::{Args, ValueEnum};

use context::outcome::Outcome;

use crate::cli::autosync::{SETTING, enabled};
use crate::cli::{CliError, Env};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Switch {
    On,
    Off,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context sync auto        # is it on?\n  context sync auto off    # sync only by hand or on a schedule\n  CONTEXT_AUTO_SYNC=0 context put k < file   # one write without it"
)]
pub struct Auto {
    /// `on` (the default once the home has a remote) or `off`; without it, print the state.
    #[arg(value_enum)]
    switch: Option<Switch>,
}

impl Auto {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let store = env.open_store()?;
        match self.switch {
            Some(Switch::On) => {
                store.unset_setting(SETTING)?;
            }
            Some(Switch::Off) => store.set_setting(SETTING, "off")?,
            None => {}
        }
        let state = if enabled(&store) {
            "on: every write starts a background sync".to_string()
        } else if std::env::var("CONTEXT_AUTO_SYNC").is_ok_and(|v| v == "0" || v == "off") {
            "off here (CONTEXT_AUTO_SYNC=0)".to_string()
        } else if store.setting(SETTING)?.is_some_and(|v| v == "off") {
            "off (`context sync auto on` turns it back on)".to_string()
        } else {
            "off until the home has a remote (`context sync remote add NAME URL`)".to_string()
        };
        writeln!(out, "sync after writes: {state}")?;
        Ok(Outcome::Ok)
    }
}
