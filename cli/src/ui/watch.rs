//! Following the protocol file for the `ui` server: a thread reads what is
//! written after the end (through the read API, which follows a file while
//! it is written) and counts a new generation whenever something arrived,
//! remembering which runs each recent generation touched — so a run page
//! reloads its run only when that run changed.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reagentic_protocol::read::ProtocolFormat;
use reagentic_protocol::ProtocolReader;
use tokio::sync::watch;

use crate::failure::Failure;

/// How often the file is looked at.
const POLL: Duration = Duration::from_millis(300);
/// Entries read per look at most: a burst is taken in over several looks
/// rather than all at once.
const BATCH: usize = 5_000;
/// Generations whose touched runs are remembered; a page further behind
/// than this reloads to be sure.
const REMEMBERED: usize = 256;
/// Runs remembered per generation; a look touching more counts as touching
/// every run.
const RUNS_PER_GENERATION: usize = 1_000;

/// Which runs (session ids, and trace ids) recent generations touched.
#[derive(Debug, Default)]
pub struct Touched {
    /// (generation, the runs it touched, or `None` for "too many to list").
    recent: VecDeque<(u64, Option<HashSet<String>>)>,
}

impl Touched {
    /// Whether run `id` may have changed after generation `after`.
    pub fn changed_since(&self, after: u64, id: &str) -> bool {
        match self.recent.front() {
            // Older than what is remembered: maybe.
            Some((oldest, _)) if after + 1 < *oldest => true,
            None => true,
            _ => self
                .recent
                .iter()
                .filter(|(generation, _)| *generation > after)
                .any(|(_, runs)| runs.as_ref().is_none_or(|runs| runs.contains(id))),
        }
    }
}

/// The follower's outputs: the generation, and what each one touched.
pub struct Followed {
    pub generation: watch::Receiver<u64>,
    pub touched: Arc<Mutex<Touched>>,
}

/// Records which runs `generation` touched (`None`: maybe any).
fn remember(record: &Mutex<Touched>, generation: u64, runs: Option<HashSet<String>>) {
    let mut touched = record.lock().unwrap_or_else(PoisonError::into_inner);
    touched.recent.push_back((generation, runs));
    while touched.recent.len() > REMEMBERED {
        touched.recent.pop_front();
    }
}

/// Starts following; the generation goes up by one for every look that
/// found new entries. The thread ends when every receiver is gone.
pub fn follow(reader: ProtocolReader) -> Result<Followed, Failure> {
    let mut position = reader.end_position()?;
    // Where the end is one look-up (a row id, a transaction id), news can be
    // told without reading it; a JSON Lines end is found by reading the file.
    let skips_cheaply = reader.format() != ProtocolFormat::Jsonl;
    let (sender, receiver) = watch::channel(1u64);
    let touched = Arc::new(Mutex::new(Touched::default()));
    let record = Arc::clone(&touched);
    std::thread::Builder::new()
        .name("ui-follow".into())
        .spawn(move || {
            while !sender.is_closed() {
                std::thread::sleep(POLL);
                if sender.receiver_count() <= 1 && skips_cheaply {
                    // No page is waiting for news (only the server's own
                    // receiver is left): say that something changed without
                    // reading what, which would cost as much CPU as the
                    // writing itself under `serve`'s full load. A page that
                    // asks later about a run reloads it to be sure.
                    match reader.end_position() {
                        Ok(end) if end.offset() != position.offset() => {
                            position = end;
                            let generation = *sender.borrow() + 1;
                            remember(&record, generation, None);
                            sender.send_replace(generation);
                        }
                        _ => {}
                    }
                    continue;
                }
                // Nothing new, or the file cannot be read right now (a
                // writer holds a lock): look again later.
                let Ok(batch) = reader.read_from(&mut position, BATCH) else {
                    continue;
                };
                if batch.is_empty() {
                    continue;
                }
                let mut runs = HashSet::new();
                for entry in &batch {
                    if let Some(session) = &entry.session_id {
                        runs.insert(session.clone());
                    }
                    runs.insert(entry.trace_id.clone());
                }
                let runs = (runs.len() <= RUNS_PER_GENERATION).then_some(runs);
                let generation = *sender.borrow() + 1;
                remember(&record, generation, runs);
                sender.send_replace(generation);
            }
        })
        .map_err(|e| Failure::new(format!("cannot start following the file: {e}")))?;
    Ok(Followed {
        generation: receiver,
        touched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_changed_when_a_later_generation_touched_it() {
        let mut touched = Touched::default();
        touched
            .recent
            .push_back((2, Some(HashSet::from(["a".to_owned()]))));
        touched
            .recent
            .push_back((3, Some(HashSet::from(["b".to_owned()]))));
        assert!(touched.changed_since(1, "a"));
        assert!(!touched.changed_since(2, "a"));
        assert!(touched.changed_since(2, "b"));
        touched.recent.push_back((4, None));
        assert!(touched.changed_since(3, "anything"));
        // Further behind than remembered: reload to be sure.
        touched.recent.pop_front();
        touched.recent.pop_front();
        assert!(touched.changed_since(1, "a"));
    }
}
