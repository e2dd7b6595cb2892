//! Progress bars for long work (indicatif). Hidden when stderr is not a terminal or when
//! `REPLAY360_NO_PROGRESS` is set, so logs and tests stay clean.

use indicatif::{ProgressBar, ProgressStyle};

pub fn bar(len: u64, what: &str) -> ProgressBar {
    if std::env::var_os("REPLAY360_NO_PROGRESS").is_some() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{spinner} {msg:<22} [{bar:36}] {pos}/{len} ({elapsed}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    pb.set_style(style);
    pb.set_message(what.to_owned());
    pb
}
