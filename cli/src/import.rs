//! `import`: OTLP trace files into a protocol — the OpenTelemetry
//! Collector's file exporter output, as OTLP/JSON (one request per line) or
//! protobuf (each message after its 4-byte big-endian length) — through the
//! same extraction `serve` uses. Importing a file again stores nothing twice.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use reagentic_protocol::pipeline::{Committed, IngestSpan, ProtocolIngest};
use reagentic_protocol::ProtocolError;

use crate::args::Global;
use crate::failure::{CliResult, Failure};
use crate::serve::{config, otlp};

/// Import OTLP trace files (the Collector's file exporter) into a protocol.
///
/// The input is OTLP/JSON, one request per line (`format: json`, the
/// default), or protobuf, each message after its length as 4 big-endian
/// bytes (`format: proto`); which one is told by the first byte. Lines or
/// messages that do not decode are skipped with a warning. Importing the
/// same file again stores nothing twice.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reagentic-protocol import otel-collector/output/traces.jsonl protocol.db
  reagentic-protocol import traces.pb protocol.jsonl --detail full")]
pub struct Args {
    /// The OTLP file to read.
    #[arg(value_name = "OTLP_FILE")]
    input: PathBuf,
    /// The protocol file to write (.db/.sqlite or .jsonl), created if missing.
    #[arg(value_name = "FILE")]
    output: PathBuf,
    /// Extraction settings, as for `serve --config`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// How much of each span to keep (overrides the config file).
    #[arg(long, value_enum)]
    detail: Option<config::Detail>,
}

/// The largest message read (a protobuf length beyond it is damage).
const MAX_MESSAGE: usize = 64 << 20;
/// How many submissions wait for their commit at once.
const IN_FLIGHT: usize = 64;
/// How long one commit may take.
const COMMIT_WAIT: Duration = Duration::from_secs(60);

/// Runs `import`: every record of the file, then waits for the last commit.
pub fn run(args: Args, _global: &Global) -> CliResult {
    let file_config = match &args.config {
        Some(path) => config::ConfigFile::read(path)?,
        None => config::ConfigFile::default(),
    };
    let protocol_config = file_config.protocol_config(args.detail, false)?;
    let open_input = || {
        File::open(&args.input)
            .map_err(|e| Failure::new(format!("cannot read {}: {e}", args.input.display())))
    };
    let mut reader = BufReader::new(open_input()?);
    let json = reader
        .fill_buf()
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", args.input.display())))?
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_none_or(|b| *b == b'{');
    let storage = reagentic_protocol::storage::open(&args.output)?;
    // The storage's own name for it: a database URL without its password.
    let name = reagentic_protocol::Storage::describe(&storage);
    let ingest = ProtocolIngest::builder(storage)
        .with_config(protocol_config)
        .build()?;
    let mut import = Import {
        ingest: &ingest,
        waiting: VecDeque::new(),
        spans: 0,
        rejected: 0,
        skipped: 0,
    };
    let read = if json {
        import.json_lines(reader)
    } else {
        import.protobuf(reader)
    };
    let finished = read.and_then(|()| import.wait_all());
    let (spans, rejected, skipped) = (import.spans, import.rejected, import.skipped);
    let closed = ingest.handle().shutdown_with_timeout(COMMIT_WAIT);
    finished?;
    closed?;
    eprintln!(
        "imported {spans} span(s) into {name} ({rejected} rejected for invalid ids, {skipped} undecodable record(s) skipped)"
    );
    Ok(ExitCode::SUCCESS)
}

struct Import<'a> {
    ingest: &'a ProtocolIngest,
    waiting: VecDeque<Committed>,
    spans: u64,
    rejected: u64,
    skipped: u64,
}

impl Import<'_> {
    fn json_lines(&mut self, reader: impl BufRead) -> Result<(), Failure> {
        for (number, line) in reader.split(b'\n').enumerate() {
            let line = line.map_err(|e| Failure::new(format!("cannot read the input: {e}")))?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<ExportTraceServiceRequest>(&line) {
                Ok(request) => self.take(request)?,
                Err(e) => self.skip(&format!("line {}: {e}", number + 1)),
            }
        }
        Ok(())
    }

    fn protobuf(&mut self, mut reader: impl Read) -> Result<(), Failure> {
        let mut number = 0;
        loop {
            let mut length = [0u8; 4];
            match reader.read_exact(&mut length) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(Failure::new(format!("cannot read the input: {e}"))),
            }
            number += 1;
            let length = u32::from_be_bytes(length) as usize;
            if length > MAX_MESSAGE {
                // Nothing after a damaged length can be found again.
                self.skip(&format!(
                    "message {number}: a length of {length} bytes; the rest of the file is not read"
                ));
                return Ok(());
            }
            let mut message = vec![0; length];
            if reader.read_exact(&mut message).is_err() {
                self.skip(&format!("message {number}: cut off"));
                return Ok(());
            }
            match ExportTraceServiceRequest::decode(message.as_slice()) {
                Ok(request) => self.take(request)?,
                Err(e) => self.skip(&format!("message {number}: {e}")),
            }
        }
    }

    fn skip(&mut self, why: &str) {
        self.skipped += 1;
        eprintln!("warning: skipped {why}");
    }

    /// Submits a request's spans, waiting for earlier commits while the
    /// pipeline is full.
    fn take(&mut self, request: ExportTraceServiceRequest) -> Result<(), Failure> {
        let spans = otlp::spans_of(request);
        self.rejected += spans.rejected as u64;
        self.spans += spans.spans.len() as u64;
        let mut pending: Vec<IngestSpan> = spans.spans;
        loop {
            match self.ingest.submit(pending) {
                Ok(committed) => {
                    self.waiting.push_back(committed);
                    if self.waiting.len() >= IN_FLIGHT {
                        self.wait_oldest()?;
                    }
                    return Ok(());
                }
                Err(not_taken) if matches!(not_taken.error, ProtocolError::QueueFull) => {
                    pending = not_taken.spans;
                    if !self.wait_oldest()? {
                        // Nothing of ours is waiting: the queue drains by itself.
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                Err(not_taken) => return Err(Failure::new(not_taken.error)),
            }
        }
    }

    /// Waits for the oldest submission; `false` if none waits.
    fn wait_oldest(&mut self) -> Result<bool, Failure> {
        match self.waiting.pop_front() {
            Some(committed) => {
                committed.wait(COMMIT_WAIT)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn wait_all(&mut self) -> Result<(), Failure> {
        while self.wait_oldest()? {}
        Ok(())
    }
}
