//! The run page on a big run, in headless Chromium:
//!
//! - time to first paint and to the drawn waterfall of a 10 000-step run,
//!   opened from disk (median of several loads);
//! - the page's size per step;
//! - scrolling: frame times while scrolling through the whole run;
//! - a 1 MB message: the time to show its step, and to show it in full.
//!
//! `cargo bench -p reagentic-protocol-cli` prints the figures and one JSON
//! line. Needs Chromium and chromedriver (`apt-get install chromium
//! chromium-driver`).

#[allow(dead_code)]
#[path = "../tests/cli/browser.rs"]
mod browser;
#[path = "../tests/cli/synthetic.rs"]
mod synthetic;

use std::process::Command;
use std::time::{Duration, Instant};

use reagentic_protocol::{JsonlStorage, Storage};
use serde_json::{json, Value};

const STEPS: usize = 10_000;
const LOADS: usize = 5;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; a plain `cargo test --benches` does
    // not, and then there is nothing to measure.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("big.jsonl");
    let mut storage = JsonlStorage::open(&file).expect("open");
    storage
        .write_batch(&synthetic::big_run(STEPS, true))
        .expect("write");
    drop(storage);
    let page = dir.path().join("big.html");

    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_reagentic-protocol"))
        .args(["show", file.to_str().unwrap(), synthetic::SESSION, "--html"])
        .arg(&page)
        .output()
        .expect("run show --html");
    let write_ms = started.elapsed().as_secs_f64() * 1e3;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::metadata(&page).expect("page").len();
    // The same run without the 1 MB message, for the size per step.
    let plain_file = dir.path().join("plain.jsonl");
    let mut storage = JsonlStorage::open(&plain_file).expect("open");
    storage
        .write_batch(&synthetic::big_run(STEPS, false))
        .expect("write");
    drop(storage);
    let plain_page = dir.path().join("plain.html");
    let out = Command::new(env!("CARGO_BIN_EXE_reagentic-protocol"))
        .args([
            "show",
            plain_file.to_str().unwrap(),
            synthetic::SESSION,
            "--html",
        ])
        .arg(&plain_page)
        .output()
        .expect("run show --html");
    assert!(out.status.success());
    let plain_bytes = std::fs::metadata(&plain_page).expect("page").len();

    let browser = browser::Browser::start();
    let mut first_paint = Vec::new();
    let mut drawn = Vec::new();
    for _ in 0..LOADS {
        browser.goto("about:blank");
        browser.open_file(&plain_page);
        assert!(browser.wait_for(
            "window.__runView && window.__runView.ready",
            Duration::from_secs(60)
        ));
        assert!(browser.wait_for(
            "performance.getEntriesByName('first-contentful-paint').length > 0",
            Duration::from_secs(30)
        ));
        let timing = browser.eval(
            "return [performance.getEntriesByName('first-contentful-paint')[0].startTime,
                     performance.getEntriesByName('run-view-drawn')[0].startTime]",
        );
        first_paint.push(timing[0].as_f64().unwrap());
        drawn.push(timing[1].as_f64().unwrap());
    }
    let rows = browser.eval("return document.querySelector('#rows').dataset.rows");
    assert_eq!(rows, json!(STEPS.to_string()));

    // Scroll through the whole run, a screenful per frame, timing frames.
    let frames: Value = browser.eval(
        "const rows = document.querySelector('#rows');
         return new Promise(done => {
           const times = []; let last = performance.now();
           function frame(now) {
             times.push(now - last); last = now;
             if (rows.scrollTop + rows.clientHeight >= rows.scrollHeight - 1 || times.length > 2000) { done(times.slice(1)); return; }
             rows.scrollTop += rows.clientHeight;
             requestAnimationFrame(frame);
           }
           requestAnimationFrame(frame);
         });",
    );
    let mut frame_times: Vec<f64> = serde_json::from_value(frames).expect("frame times");
    frame_times.sort_by(f64::total_cmp);
    let frame_p50 = frame_times[frame_times.len() / 2];
    let frame_max = *frame_times.last().unwrap();
    let in_dom = browser.eval("return document.querySelectorAll('#rows .row').length");

    // The step with the 1 MB prompt.
    browser.open_file(&page);
    assert!(browser.wait_for(
        "window.__runView && window.__runView.ready",
        Duration::from_secs(60)
    ));
    let megabyte = browser.eval(
        "const row = document.querySelector('#rows .row[data-step=\"2\"]');
         const t0 = performance.now();
         row.click();
         const shown = performance.now() - t0;
         const more = document.querySelector('#detail button.more');
         const t1 = performance.now();
         more.click();
         document.querySelector('#detail').getBoundingClientRect();
         const full = performance.now() - t1;
         return [shown, full, more.textContent];",
    );
    drop(browser);

    let figures = json!({
        "bench": "run_view",
        "steps": STEPS,
        "page_bytes": plain_bytes,
        "bytes_per_step": plain_bytes as f64 / STEPS as f64,
        "page_bytes_with_1mb_message": bytes,
        "write_page_ms": write_ms,
        "first_contentful_paint_ms_median": median(first_paint.clone()),
        "waterfall_drawn_ms_median": median(drawn.clone()),
        "scroll_frame_ms_p50": frame_p50,
        "scroll_frame_ms_max": frame_max,
        "rows_in_page_while_scrolling": in_dom,
        "megabyte_message_select_ms": megabyte[0],
        "megabyte_message_show_all_ms": megabyte[1],
    });
    println!("run page, {STEPS} steps, headless Chromium ({LOADS} loads from disk)");
    println!(
        "  page size          {:.1} MB, {:.0} bytes per step",
        plain_bytes as f64 / 1e6,
        plain_bytes as f64 / STEPS as f64
    );
    println!("  show --html        {write_ms:.0} ms (with a 1 MB message in the run)");
    println!(
        "  first paint        {:.0} ms (median; loads: {first_paint:.0?})",
        median(first_paint.clone())
    );
    println!(
        "  waterfall drawn    {:.0} ms (median)",
        median(drawn.clone())
    );
    println!("  scrolling          frame {frame_p50:.1} ms median, {frame_max:.1} ms worst, {in_dom} rows in the page");
    println!(
        "  1 MB message       step shown in {:.0} ms, in full in {:.0} ms",
        megabyte[0].as_f64().unwrap_or(f64::NAN),
        megabyte[1].as_f64().unwrap_or(f64::NAN)
    );
    println!("{figures}");
}
