//! What the server tells its operator: a progress line on a terminal
//! (spans/s, entries, rejected, queue), one JSON object per line otherwise,
//! so a log collector can read it.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::receiver::Receiver;

/// Whether stderr is a terminal (then messages are plain lines).
fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Writes one message: a plain line on a terminal (over the progress
/// line), else a JSON log line.
pub fn log(level: &str, message: &str) {
    let mut err = std::io::stderr().lock();
    // A closed stderr has nobody to tell.
    let _ = if on_terminal() {
        writeln!(err, "\r\x1b[2K{message}")
    } else {
        let line = serde_json::json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "level": level,
            "message": message,
        });
        writeln!(err, "{line}")
    };
}

/// The counters at one moment.
struct Snapshot {
    at: Instant,
    spans: u64,
}

/// Reports every second on a terminal, every ten seconds (when something
/// changed) in logs, until the task is dropped.
pub async fn report(receiver: Arc<Receiver>) {
    let terminal = on_terminal();
    let every = if terminal {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(10)
    };
    let mut last = Snapshot {
        at: Instant::now(),
        spans: 0,
    };
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let counters = &receiver.counters;
        let spans = counters.spans.load(Ordering::Relaxed);
        let rejected = counters.rejected.load(Ordering::Relaxed);
        let busy = counters.busy.load(Ordering::Relaxed);
        let refused = counters.refused.load(Ordering::Relaxed);
        let stats = receiver.ingest().handle().stats();
        let queued = receiver.ingest().queued_spans();
        let max_queued = receiver.ingest().max_queued_spans();
        let now = Instant::now();
        let rate = (spans - last.spans) as f64 / now.duration_since(last.at).as_secs_f64();
        if terminal {
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r\x1b[2K{rate:.0} spans/s · {spans} spans · {} entries · {rejected} rejected · {busy} retry-later · {refused} refused · queue {queued}/{max_queued}",
                stats.entries_written
            );
            let _ = err.flush();
        } else if spans != last.spans || queued > 0 {
            let line = serde_json::json!({
                "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "level": "info",
                "message": "progress",
                "spans_per_second": rate.round(),
                "spans": spans,
                "entries": stats.entries_written,
                "rejected_spans": rejected,
                "retry_later": busy,
                "refused": refused,
                "queued_spans": queued,
                "max_queued_spans": max_queued,
            });
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
        last = Snapshot { at: now, spans };
    }
}
