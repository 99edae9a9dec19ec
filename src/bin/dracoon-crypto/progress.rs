//! Progress bars on standard error (CLI.md "Guarantees"): only when standard error is a
//! terminal and `--quiet` was not given; otherwise every method is a no-op. Standard output
//! never carries any of it.

use std::io::{IsTerminal, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: no bars in this process.
pub(crate) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// A bar (or nothing) for one long operation. Clones draw the same bar.
#[derive(Clone)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Whether bars are drawn at all in this process.
    fn wanted() -> bool {
        !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
    }

    /// A bar counting bytes: with a known `total`, a bar with rate and ETA; else a spinner
    /// with the count and rate.
    pub(crate) fn bytes(message: &str, total: Option<u64>) -> Progress {
        Self::make(message, total, "{bytes}/{total_bytes}", "{bytes}")
    }

    /// A bar counting items (key pairs served).
    pub(crate) fn items(message: &str, total: Option<u64>) -> Progress {
        Self::make(message, total, "{pos}/{len}", "{pos}")
    }

    fn make(message: &str, total: Option<u64>, counts: &str, count: &str) -> Progress {
        if !Self::wanted() {
            return Progress { bar: None };
        }
        let (bar, template) = match total {
            Some(n) => (
                ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
                format!("{{msg}} [{{bar:30}}] {counts} {{binary_bytes_per_sec}} ETA {{eta}}"),
            ),
            None => (
                ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                format!("{{spinner}} {{msg}} {count} {{binary_bytes_per_sec}}"),
            ),
        };
        let template = if counts.starts_with("{pos}") {
            template.replace("{binary_bytes_per_sec}", "{per_sec}")
        } else {
            template
        };
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_owned());
        // Dropped unfinished (after an error), the bar stays where it stood: no false 100 %.
        let bar = bar.with_finish(ProgressFinish::Abandon);
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    /// Adds `n` to the count.
    pub(crate) fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Sets the count.
    pub(crate) fn set(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(n);
        }
    }

    /// Sets the total (once it is known).
    pub(crate) fn set_total(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(n);
        }
    }

    /// Ends the bar, leaving its last state on the terminal.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// A reader that moves a byte bar as it is read (and rewinds it with the stream).
pub(crate) struct Counted<'p, R> {
    pub(crate) inner: R,
    pub(crate) progress: &'p Progress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counted<'_, R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}
