//! Why a command stopped, as one line for the user.

use std::fmt::Display;
use std::process::ExitCode;

use reagentic_protocol::{ProtocolError, ProtocolReader};

/// A command that could not be carried out.
#[derive(Debug)]
pub enum Failure {
    /// Print this (one line) and exit with 2.
    Message(String),
    /// The reader of our output went away (`| head`): stop quietly.
    ClosedPipe,
}

impl Failure {
    /// A failure with this message.
    pub fn new(message: impl Display) -> Self {
        Failure::Message(message.to_string())
    }

    /// Prints the message on one line and gives the exit code.
    pub fn report(self) -> ExitCode {
        match self {
            Failure::Message(message) => {
                // Error chains from SQLite or the OS may carry newlines; a
                // script reading stderr expects one line per problem.
                let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
                eprintln!("error: {one_line}");
                ExitCode::from(2)
            }
            Failure::ClosedPipe => ExitCode::SUCCESS,
        }
    }
}

impl From<ProtocolError> for Failure {
    fn from(e: ProtocolError) -> Self {
        Failure::new(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Failure::ClosedPipe
        } else {
            Failure::new(format!("cannot write the output: {e}"))
        }
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        // Writing JSON to stdout fails only when stdout does.
        match e.io_error_kind() {
            Some(std::io::ErrorKind::BrokenPipe) => Failure::ClosedPipe,
            _ => Failure::new(format!("cannot write the output: {e}")),
        }
    }
}

/// The result of a command: its exit code, or why it failed.
pub type CliResult = Result<ExitCode, Failure>;

/// Opens a protocol for reading, with the library's one-line errors.
pub fn open(path: &std::path::Path) -> Result<ProtocolReader, Failure> {
    Ok(ProtocolReader::open(path)?)
}

/// Tells the user, on stderr, about records the last read skipped; the
/// command goes on with the rest.
pub fn warn_skipped(reader: &ProtocolReader) {
    let skipped = reader.skipped_lines();
    let Some(first) = skipped.first() else {
        return;
    };
    let what = match reader.format() {
        reagentic_protocol::read::ProtocolFormat::Jsonl => "line",
        _ => "row",
    };
    let place = match &first.file {
        Some(file) => format!("{} {what} {}", file.display(), first.line_number),
        None => format!("{what} {}", first.line_number),
    };
    eprintln!(
        "warning: skipped {} unreadable {what}(s) in {} (first: {place}: {}); `reagentic-protocol check` lists them",
        skipped.len(),
        reader.path().display(),
        first.reason
    );
}
