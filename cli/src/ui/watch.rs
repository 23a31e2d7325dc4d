//! Following the protocol file for the `ui` server: a thread reads what is
//! written after the end (through the read API, which follows a file while
//! it is written) and counts a new generation whenever something arrived.

use std::time::Duration;

use reagentic_protocol::ProtocolReader;
use tokio::sync::watch;

use crate::failure::Failure;

/// How often the file is looked at.
const POLL: Duration = Duration::from_millis(300);
/// Entries read per look at most: a burst is taken in over several looks
/// rather than all at once.
const BATCH: usize = 5_000;

/// Starts following; the receiver's value goes up by one for every look
/// that found new entries. The thread ends when every receiver is gone.
pub fn follow(reader: ProtocolReader) -> Result<watch::Receiver<u64>, Failure> {
    let mut position = reader.end_position()?;
    let (sender, receiver) = watch::channel(1u64);
    std::thread::Builder::new()
        .name("ui-follow".into())
        .spawn(move || {
            while !sender.is_closed() {
                std::thread::sleep(POLL);
                match reader.read_from(&mut position, BATCH) {
                    Ok(batch) if !batch.is_empty() => {
                        sender.send_modify(|generation| *generation += 1);
                    }
                    // Nothing new, or the file cannot be read right now (a
                    // writer holds a lock): look again later.
                    Ok(_) | Err(_) => {}
                }
            }
        })
        .map_err(|e| Failure::new(format!("cannot start following the file: {e}")))?;
    Ok(receiver)
}
