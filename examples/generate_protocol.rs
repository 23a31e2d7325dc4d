//! Writes a large synthetic protocol, for trying the reader and the command
//! line at scale (e.g. one million entries).
//!
//! ```text
//! cargo run --release --example generate_protocol -- big.db 1000000
//! cargo run --release --example generate_protocol -- big.jsonl 1000000
//! cargo run --release --example generate_protocol -- few.db 1000000 10   # 10 huge sessions
//! ```
//!
//! Sessions of about 50 entries each: an agent run with model calls and tool
//! calls, one tool call in seven failing, content of a few hundred bytes,
//! timestamps one second apart per session, sessions interleaved in pairs.
//! Entries go straight to the storage (not through spans), which is what makes
//! a million of them quick to write; the layout is the real one.

use std::error::Error;
use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use reagentic_protocol::{
    EntryError, EntryStatus, EventType, JsonlStorage, ProtocolEntry, SqliteStorage, Storage,
};
use serde_json::json;

const TOOLS: [&str; 4] = [
    "search_flights",
    "get_weather",
    "book_flight",
    "lookup_user",
];
const MODELS: [&str; 2] = ["gpt-4o", "claude-sonnet"];

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().unwrap_or_else(|| "big.db".into()));
    let total: u64 = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    // Runs share this many session ids round-robin; by default each run is
    // its own session.
    let sessions: Option<u64> = args.next().map(|n| n.parse()).transpose()?;
    let is_jsonl = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "ndjson")
    );
    let mut storage: Box<dyn Storage> = if is_jsonl {
        Box::new(JsonlStorage::open(&path)?)
    } else {
        Box::new(SqliteStorage::open(&path)?)
    };
    let start = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .ok_or("bad start")?;
    let mut batch = Vec::with_capacity(10_000);
    let mut written = 0u64;
    let mut session = 0u64;
    while written < total {
        for entry in session_entries(session, sessions, start) {
            if written == total {
                break;
            }
            batch.push(entry);
            written += 1;
            if batch.len() == 10_000 {
                storage.write_batch(&batch)?;
                batch.clear();
            }
        }
        session += 1;
    }
    storage.write_batch(&batch)?;
    storage.close()?;
    println!(
        "wrote {written} entries of {session} runs to {}",
        path.display()
    );
    Ok(())
}

/// One session's entries: agent start, 8 rounds of (model call, tool call) —
/// 4 entries each — plus a final model call and the agent end: 36 entries.
fn session_entries(n: u64, sessions: Option<u64>, start: DateTime<Utc>) -> Vec<ProtocolEntry> {
    let trace_id = format!("{:032x}", 0x5eed_0000_0000_u64 + n);
    let session_id = format!("session-{:07}", sessions.map_or(n, |s| n % s.max(1)));
    // Two sessions run side by side, then the next two start.
    let t0 = start + TimeDelta::seconds(i64::try_from(n / 2).unwrap_or(0) * 60);
    let agent = if n.is_multiple_of(3) {
        "planner"
    } else {
        "booker"
    };
    let mut span = 0u64;
    let mut entries = Vec::new();
    let at = |seconds: i64| t0 + TimeDelta::milliseconds(seconds * 1_000 + (n % 2) as i64);
    let root = format!("{:016x}", 1u64);
    let base = |kind: EventType, span_id: &str, parent: Option<&str>, name: &str, t| {
        let mut entry = ProtocolEntry::new(kind, trace_id.as_str(), span_id, name, t);
        entry.parent_span_id = parent.map(str::to_owned);
        entry.session_id = Some(session_id.clone());
        entry.service_name = Some("travel-agent".into());
        entry.agent_name = Some(agent.into());
        if kind.is_end() {
            entry.status = EntryStatus::Ok;
        }
        entry
    };
    let mut agent_start = base(EventType::AgentStart, &root, None, agent, at(0));
    agent_start.input = Some(json!("Book me a flight from Berlin to Lisbon next Friday").into());
    entries.push(agent_start);
    let mut clock = 1;
    for round in 0..9u64 {
        span += 1;
        let model = MODELS[((n + round) % 2) as usize];
        let id = format!("{:016x}", 0x100 + span);
        let mut s = base(
            EventType::LlmStart,
            &id,
            Some(&root),
            &format!("chat {model}"),
            at(clock),
        );
        s.model = Some(model.into());
        s.input = Some(
            json!([{"role": "user", "content": "plan the next step of the booking, considering prices, dates and the traveller's preferences"}]).into(),
        );
        let mut e = base(
            EventType::LlmEnd,
            &id,
            Some(&root),
            &format!("chat {model}"),
            at(clock + 1),
        );
        e.model = Some(model.into());
        e.input_tokens = Some(100 + round * 10);
        e.output_tokens = Some(20 + round);
        e.duration_ms = Some(800.0 + ((n * 7 + round * 13) % 400) as f64);
        e.output = Some(
            json!([{"role": "assistant", "content": "Call the next tool with the traveller's dates."}]).into(),
        );
        entries.push(s);
        entries.push(e);
        clock += 2;
        if round == 8 {
            break;
        }
        span += 1;
        let tool = TOOLS[((n + round) % 4) as usize];
        let id = format!("{:016x}", 0x100 + span);
        let mut s = base(EventType::ToolStart, &id, Some(&root), tool, at(clock));
        s.tool_name = Some(tool.into());
        s.tool_call_id = Some(format!("call_{round}"));
        s.input = Some(json!({"from": "BER", "to": "LIS", "date": "2026-12-12"}).into());
        let mut e = base(EventType::ToolEnd, &id, Some(&root), tool, at(clock + 1));
        e.tool_name = Some(tool.into());
        e.tool_call_id = Some(format!("call_{round}"));
        e.duration_ms = Some(50.0 + ((n * 3 + round * 17) % 300) as f64);
        if (n + round).is_multiple_of(7) {
            e.status = EntryStatus::Error;
            e.error = Some(EntryError::new(
                Some("Timeout".into()),
                Some(format!("{tool} did not answer within 30 s")),
            ));
        } else {
            e.output = Some(json!("[{\"flight\":\"TP 537\",\"price_eur\":129}]").into());
        }
        entries.push(s);
        entries.push(e);
        clock += 2;
    }
    let mut agent_end = base(EventType::AgentEnd, &root, None, agent, at(clock));
    agent_end.duration_ms = Some(clock as f64 * 1_000.0);
    entries.push(agent_end);
    entries
}
