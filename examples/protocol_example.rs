//! A multi-agent run recorded into `protocol.db` through the one-call
//! install, then read back.
//!
//! A triage agent asks a (deterministic, local) model what to do and hands
//! off to a travel specialist, which calls the model and several tools — one
//! of them fails once and is retried. The spans come from
//! `reagentic_protocol::instrument`; the guard closes everything, even when
//! the run fails.
//!
//! ```text
//! cargo run --example protocol_example            # writes ./protocol.db
//! cargo run --example protocol_example -- p.jsonl # or JSON Lines
//! ```

#[path = "support/travel_agent.rs"]
mod travel_agent;

use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let path = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "protocol.db".into()),
    );
    let guard = reagentic_protocol::install::builder(&path)
        .with_service_name("travel-agent")
        .init()?;

    let session = travel_agent::new_session();
    eprintln!("recording session {session} (get_weather fails once and is retried)");
    let run = travel_agent::agent_run(&session);
    // Close everything even when the run failed: shutdown flushes first.
    let closed = guard.shutdown();
    run?;
    closed?;

    travel_agent::print_summary(&path, &session)
}
