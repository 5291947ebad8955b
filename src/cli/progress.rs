//! A progress bar on the terminal for long syncs; nothing at all when stdout or stderr is not
//! a terminal (cron, pipes, tests), as the contract requires.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use context::progress::Progress;

/// Redraws at most this often.
const FRAME: Duration = Duration::from_millis(100);
const WIDTH: u64 = 30;

#[derive(Debug, Default)]
struct State {
    what: String,
    unit: String,
    total: u64,
    done: u64,
    drawn: Option<Instant>,
}

/// Draws `pull [#########.........] 120/400 changesets` on stderr, in place.
#[derive(Debug, Default)]
pub struct TerminalBar {
    state: Mutex<State>,
}

impl TerminalBar {
    /// A bar when both stdout and stderr are terminals, else nothing.
    pub fn for_this_terminal() -> Option<TerminalBar> {
        (std::io::stdout().is_terminal() && std::io::stderr().is_terminal())
            .then(TerminalBar::default)
    }

    fn draw(state: &mut State) {
        let filled = (state.done.min(state.total) * WIDTH)
            .checked_div(state.total)
            .unwrap_or(WIDTH);
        let bar: String = (0..WIDTH)
            .map(|i| if i < filled { '#' } else { '.' })
            .collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{} [{bar}] {}/{} {}",
            state.what, state.done, state.total, state.unit
        );
        let _ = err.flush();
        state.drawn = Some(Instant::now());
    }
}

impl Progress for TerminalBar {
    fn start(&self, what: &str, unit: &str, total: u64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *s = State {
            what: what.to_string(),
            unit: unit.to_string(),
            total,
            ..State::default()
        };
        if total > 0 {
            TerminalBar::draw(&mut s);
        }
    }

    fn advance(&self, n: u64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.done += n;
        if s.drawn.is_some_and(|t| t.elapsed() >= FRAME) || s.done >= s.total {
            TerminalBar::draw(&mut s);
        }
    }

    fn finish(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.drawn.take().is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}
