//! `show --html`: the page as a browser shows it. Each test writes a page
//! with the built binary, opens it from disk in headless Chromium and
//! asserts on the rendered page — rows drawn, classes, the detail pane —
//! not on the HTML text.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reagentic_protocol::read::{run_tree, RunStep};
use reagentic_protocol::{
    EntryError, EntryFilter, EntryStatus, EventType, JsonlStorage, ProtocolEntry, ProtocolReader,
    Storage,
};
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::support::{ok, run, run_on, travel_protocol, Format, TRAVEL};
use crate::synthetic;

const WAIT: Duration = Duration::from_secs(10);

/// Writes the page of run `id` in `file` next to it; returns its path.
pub fn write_page(file: &Path, id: &str) -> PathBuf {
    let page = file.with_file_name(format!(
        "{}.html",
        file.file_stem().unwrap().to_string_lossy()
    ));
    let out = ok(&run(&[
        "show",
        file.to_str().unwrap(),
        id,
        "--html",
        page.to_str().unwrap(),
    ]));
    assert!(out.starts_with("wrote "), "{out}");
    page
}

fn count_steps(steps: &[RunStep]) -> usize {
    steps.iter().map(|s| 1 + count_steps(&s.children)).sum()
}

fn steps_of(file: &Path, session: &str) -> usize {
    let entries = ProtocolReader::open(file)
        .unwrap()
        .query(&EntryFilter::default().with_session(session))
        .unwrap();
    count_steps(&run_tree(entries))
}

fn number(value: Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

fn text(value: Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not text: {value}"))
        .to_owned()
}

/// Clicks the row whose label is `label` (the first, or the `nth`).
fn click_row(browser: &Browser, label: &str, nth: usize) {
    let found = browser.eval_with(
        "const rows = [...document.querySelectorAll('#rows .row')]
             .filter(r => r.querySelector('.label').textContent === arguments[0]);
         if (!rows[arguments[1]]) return false;
         rows[arguments[1]].click();
         return true;",
        vec![json!(label), json!(nth)],
    );
    assert_eq!(found, json!(true), "no row {label:?} #{nth}");
}

#[test]
fn the_run_page_draws_every_step_marks_the_failure_and_shows_messages_with_roles() {
    let protocol = travel_protocol(Format::Sqlite);
    let page = write_page(&protocol.path, TRAVEL);
    let steps = steps_of(&protocol.path, TRAVEL) as u64;
    let browser = Browser::start();
    browser.open_file(&page);
    assert!(browser.wait_for("window.__runView && window.__runView.ready", WAIT));

    // One waterfall row per step, each with a bar on the time axis.
    assert_eq!(
        number(browser.eval("return document.querySelectorAll('#rows .row').length")),
        steps
    );
    assert_eq!(
        number(browser.eval("return document.querySelectorAll('#rows .row .bar').length")),
        steps
    );
    // Nothing was loaded from anywhere: the page is self-contained.
    assert_eq!(
        number(browser.eval("return performance.getEntriesByType('resource').length")),
        0
    );

    // Exactly the failed tool call is marked failed, and says so in words.
    let failed = browser.eval(
        "return [...document.querySelectorAll('#rows .row.failed')].map(r => [
            r.querySelector('.label').textContent,
            r.querySelector('.badge.fail') ? r.querySelector('.badge.fail').textContent : null,
            r.querySelector('.bar').classList.contains('failed')])",
    );
    assert_eq!(failed, json!([["get_weather", "✕ failed", true]]));
    assert_eq!(
        text(browser.eval("return document.querySelector('#errors dd').textContent")),
        "1 failed"
    );
    // The handoff: a marker on its row and an arrow to the agent taking over.
    assert_eq!(
        number(browser.eval("return document.querySelectorAll('#rows .bar.handoff').length")),
        1
    );
    assert_eq!(
        number(browser.eval("return document.querySelectorAll('#rows .links .link').length")),
        1
    );

    // Bars are placed in time: the retry starts right of the failed call.
    let lefts = browser.eval(
        "return [...document.querySelectorAll('#rows .row')]
            .filter(r => r.querySelector('.label').textContent === 'get_weather')
            .map(r => parseFloat(r.querySelector('.bar').style.left))",
    );
    let lefts: Vec<f64> = serde_json::from_value(lefts).unwrap();
    assert!(lefts.len() == 2 && lefts[0] < lefts[1], "{lefts:?}");

    // Selecting a model call shows its messages as messages, with roles.
    click_row(&browser, "gpt-4o", 0);
    let messages = browser.eval(
        "return [...document.querySelectorAll('#detail .msg')].map(m => [
            m.querySelector('.role').firstChild.textContent, m.querySelector('.body').textContent])",
    );
    assert_eq!(
        messages,
        json!([["user", "triage: book me a flight from Berlin to Lisbon"]]),
    );
    let tokens = text(browser.eval("return document.querySelector('#detail .kv').textContent"));
    // 11 × $2.50/M + 9 × $10/M, priced from the built-in table when recorded.
    assert!(
        tokens.contains("11 in / 9 out")
            && !tokens.contains("cache read")
            && tokens.contains("Cost$0.0001175")
            && tokens.contains("Cost frompriced (price gpt-4o, exact)"),
        "a priced model call: {tokens}"
    );

    // Selecting the failed tool shows its error; its arguments pretty-printed.
    click_row(&browser, "get_weather", 0);
    let error = text(browser.eval("return document.querySelector('#step-error').textContent"));
    assert!(error.contains("weather service answered 503"), "{error}");
    let arguments =
        text(browser.eval("return document.querySelector('#detail pre.block').textContent"));
    assert_eq!(arguments, "{\n  \"city\": \"Lisbon\"\n}");

    browser.eval("document.querySelector('#rows').scrollTop = 0");
    click_row(&browser, "travel_specialist", 0);
    browser.screenshot("run-view.png");

    // The keyboard moves the selection; ← on an open agent collapses it.
    let selected = "document.querySelector('#rows .row.selected .label').textContent";
    browser.type_into("#rows", "j");
    assert!(browser.wait_for(&format!("{selected} === 'gpt-4o'"), WAIT));
    browser.type_into("#rows", "k");
    browser.type_into("#rows", "h");
    assert!(browser.wait_for("document.querySelectorAll('#rows .row').length === 4", WAIT));
    browser.type_into("#rows", "l");
    assert!(browser.wait_for(
        &format!("document.querySelectorAll('#rows .row').length === {steps}"),
        WAIT
    ));

    // Collapsing the outermost agent leaves one row; expanding brings all back.
    browser.click("#rows .row .twisty");
    assert!(browser.wait_for("document.querySelectorAll('#rows .row').length === 1", WAIT));
    browser.click("#rows .row .twisty");
    assert!(browser.wait_for(
        &format!("document.querySelectorAll('#rows .row').length === {steps}"),
        WAIT
    ));

    // The search box filters: matches, and the agents they are in, dimmed.
    browser.type_into("#search", "lisbon");
    assert!(browser.wait_for(
        "document.querySelector('#match-count').textContent !== ''",
        WAIT
    ));
    let matched = browser.eval(
        "return [...document.querySelectorAll('#rows .row.match .label')].map(l => l.textContent)",
    );
    assert_eq!(
        matched,
        json!(["gpt-4o", "get_weather", "get_weather"]),
        "content searched"
    );
    let context = browser.eval(
        "return [...document.querySelectorAll('#rows .row.context .label')].map(l => l.textContent)",
    );
    assert_eq!(
        context,
        json!(["triage", "travel_specialist"]),
        "the agents around them"
    );
    browser.type_into("#search", "\u{E00C}"); // Escape clears the search
    assert!(browser.wait_for(
        &format!("document.querySelectorAll('#rows .row').length === {steps}"),
        WAIT
    ));
    browser.type_into("#search", "book_flight");
    assert!(browser.wait_for(
        "document.querySelectorAll('#rows .row.match').length === 1",
        WAIT
    ));
    assert_eq!(
        number(browser.eval("return document.querySelectorAll('#rows .row.context').length")),
        2
    );
}

#[test]
fn the_downloaded_entries_are_json_lines_that_convert_reads_back() {
    let protocol = travel_protocol(Format::Jsonl);
    let page = write_page(&protocol.path, TRAVEL);
    let browser = Browser::start();
    browser.open_file(&page);
    assert!(browser.wait_for("window.__runView && window.__runView.ready", WAIT));
    browser.click("#download");
    let downloaded = browser.downloads.path().join(format!("{TRAVEL}.jsonl"));
    // The name alone is not enough: once, on a fresh clone's full run, the
    // file was there but read empty. Chromium writes to a `.crdownload`
    // beside it until the download is complete, and may reserve the name
    // before; so wait for both signs.
    let complete = || {
        let writing = std::fs::read_dir(browser.downloads.path())
            .map(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".crdownload"))
            })
            .unwrap_or(true);
        !writing && std::fs::metadata(&downloaded).is_ok_and(|m| m.len() > 0)
    };
    let deadline = std::time::Instant::now() + WAIT;
    while !complete() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        complete(),
        "no complete download at {}",
        downloaded.display()
    );
    // Copied so the name says what it is; then converted like any protocol.
    let copy = protocol.dir.path().join("downloaded.jsonl");
    std::fs::copy(&downloaded, &copy).unwrap();
    let db = protocol.dir.path().join("downloaded.db");
    ok(&run_on("convert", &copy, &[db.to_str().unwrap()]));
    let original = ProtocolReader::open(&protocol.path)
        .unwrap()
        .query(&EntryFilter::default().with_session(TRAVEL))
        .unwrap();
    let back = ProtocolReader::open(&db)
        .unwrap()
        .query(&EntryFilter::default())
        .unwrap();
    assert_eq!(back, original);
}

/// Markup and script in every text field, as a prompt injection would
/// bring them. Each sets `window.__pwned` or creates an element if it runs.
const PAYLOAD: &str = concat!(
    r#"<img src=x onerror="window.__pwned='img'">"#,
    r#"</script><script>window.__pwned='script'</script>"#,
    r#"<svg onload="window.__pwned='svg'"></svg>"#,
    r#""><iframe srcdoc="<script>parent.__pwned='iframe'</script>"></iframe>"#,
    "<!-- \u{2028}\u{2029} {{DATA}} {{SCRIPT}} ",
    r#"<a id="injected" href="javascript:window.__pwned='href'">x</a>"#,
);

fn hostile(field: &str) -> String {
    format!("{field} {PAYLOAD}")
}

fn hostile_entries(session: &str) -> Vec<ProtocolEntry> {
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let t0: chrono::DateTime<chrono::Utc> = "2026-11-27T03:00:00Z".parse().unwrap();
    let at = |ms| t0 + chrono::TimeDelta::milliseconds(ms);
    let mut out = Vec::new();
    let steps = [
        (
            "a000000000000001",
            None,
            EventType::AgentStart,
            EventType::AgentEnd,
            0,
            90,
        ),
        (
            "a000000000000002",
            Some("a000000000000001"),
            EventType::LlmStart,
            EventType::LlmEnd,
            5,
            30,
        ),
        (
            "a000000000000003",
            Some("a000000000000001"),
            EventType::ToolStart,
            EventType::ToolEnd,
            35,
            60,
        ),
        (
            "a000000000000004",
            Some("a000000000000001"),
            EventType::GuardrailStart,
            EventType::GuardrailEnd,
            62,
            70,
        ),
    ];
    for (span, parent, start, end, from, to) in steps {
        for (event, ms) in [(start, from), (end, to)] {
            let mut e = ProtocolEntry::new(event, trace, span, hostile("name"), at(ms));
            e.parent_span_id = parent.map(str::to_owned);
            e.session_id = Some(session.to_owned());
            e.service_name = Some(hostile("service"));
            e.agent_name = Some(hostile("agent"));
            e.model = Some(hostile("model"));
            e.provider = Some(hostile("provider"));
            e.tool_name = Some(hostile("tool"));
            e.tool_call_id = Some(hostile("call"));
            e.operation = Some(hostile("operation"));
            e.input = Some(json!([
                {"role": hostile("role"), "content": hostile("content"), "name": hostile("who")},
                {"role": "user", "parts": [{"type": "text", "content": hostile("part")},
                    {"type": "tool_call", "name": hostile("tool call"), "arguments": {"q": hostile("arg")}},
                    {"type": hostile("type"), "x": hostile("other part")}]},
            ]).into());
            e.output = Some(json!(hostile("output")).into());
            e.finish_reasons = Some(vec![hostile("finish")]);
            e.attributes = Some(
                json!({ hostile("key"): hostile("value"), "n": {"deep": hostile("deep")} })
                    .as_object()
                    .unwrap()
                    .clone(),
            );
            if event.is_end() {
                e.duration_ms = Some((to - from) as f64);
                e.status = EntryStatus::Error;
                let mut error = EntryError::new(Some(hostile("type")), Some(hostile("message")));
                error.stacktrace = Some(hostile("stack"));
                e.error = Some(error);
            }
            out.push(e);
        }
    }
    let mut handoff = ProtocolEntry::new(
        EventType::Handoff,
        trace,
        "a000000000000005",
        hostile("to"),
        at(80),
    );
    handoff.parent_span_id = Some("a000000000000001".into());
    handoff.session_id = Some(session.to_owned());
    handoff.agent_name = Some(hostile("from"));
    out.push(handoff);
    out
}

#[test]
fn untrusted_content_in_any_field_stays_text_and_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile.jsonl");
    let session = hostile("session");
    let mut storage = JsonlStorage::open(&file).unwrap();
    storage.write_batch(&hostile_entries(&session)).unwrap();
    drop(storage);
    let page = write_page(&file, &session);
    let browser = Browser::start();
    browser.open_file(&page);
    assert!(browser.wait_for("window.__runView && window.__runView.ready", WAIT));
    let clean = || {
        browser.eval(
            "return [window.__pwned === undefined,
                     document.querySelectorAll('img, svg, iframe, a#injected, b').length,
                     document.scripts.length]",
        )
    };
    assert_eq!(clean(), json!([true, 0, 2]));
    // Every step's details drawn, every long text and raw entry opened.
    let rows = number(browser.eval("return document.querySelectorAll('#rows .row').length"));
    assert_eq!(rows, 5);
    let mut shown = text(browser.eval("return document.querySelector('#app').textContent"));
    for nth in 0..rows {
        browser.eval_with(
            "document.querySelectorAll('#rows .row')[arguments[0]].click();
             document.querySelectorAll('#detail details').forEach(d => d.open = true);
             document.querySelectorAll('#detail button.more').forEach(b => b.click());",
            vec![json!(nth)],
        );
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(clean(), json!([true, 0, 2]), "after drawing step {nth}");
        shown += &text(browser.eval("return document.querySelector('#detail').textContent"));
    }
    // …and the payloads are there, as text.
    for field in [
        "session", "content", "part", "message", "stack", "value", "key", "from",
    ] {
        assert!(shown.contains(&hostile(field)), "{field} not shown as text");
    }
    // Inside JSON (tool-call arguments), as pretty-printed JSON text.
    let in_json = serde_json::to_string(&hostile("arg")).unwrap();
    assert!(shown.contains(&in_json), "arg not shown as JSON text");
    assert_eq!(
        text(browser.eval("return document.querySelector('.run-id').textContent")),
        session
    );
    browser.type_into("#search", "<img src=x");
    assert!(browser.wait_for(
        "document.querySelector('#match-count').textContent === '5 of 5 steps match'",
        WAIT
    ));
    assert_eq!(clean(), json!([true, 0, 2]));
}

#[test]
fn a_run_of_ten_thousand_steps_draws_only_the_rows_in_view_and_a_megabyte_message_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.jsonl");
    let mut storage = JsonlStorage::open(&file).unwrap();
    storage
        .write_batch(&synthetic::big_run(10_000, true))
        .unwrap();
    drop(storage);
    let page = write_page(&file, synthetic::SESSION);
    let browser = Browser::start();
    browser.open_file(&page);
    assert!(browser.wait_for(
        "window.__runView && window.__runView.ready",
        Duration::from_secs(30)
    ));
    assert_eq!(
        text(browser.eval("return document.querySelector('#rows').dataset.rows")),
        "10000"
    );
    let drawn = number(browser.eval("return document.querySelectorAll('#rows .row').length"));
    assert!((10..200).contains(&drawn), "{drawn} rows in the page");
    // Scrolled to the end, the last steps are drawn.
    browser.eval("const r = document.querySelector('#rows'); r.scrollTop = r.scrollHeight;");
    assert!(browser.wait_for(
        "[...document.querySelectorAll('#rows .row')].some(r => r.dataset.step === '9999')",
        WAIT
    ));
    // The model call with the 1 MB prompt: shown cut, with a button for all.
    browser.eval("document.querySelector('#rows').scrollTop = 0");
    assert!(browser.wait_for(
        "document.querySelector('#rows .row[data-step=\"2\"]')",
        WAIT
    ));
    let started = std::time::Instant::now();
    browser.click("#rows .row[data-step=\"2\"]");
    let button = text(browser.eval("return document.querySelector('#detail .msg button.more, #detail button.more').textContent"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(button.starts_with("Show all (1.0 MB)"), "{button}");
}
