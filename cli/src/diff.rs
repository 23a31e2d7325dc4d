//! `diff`: two runs side by side — their steps aligned by kind and name in
//! order, where they first diverge, and what changed in time, tokens, cost,
//! errors and tool calls.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use reagentic_protocol::read::{run_tree, RunStep};
use serde::Serialize;
use similar::{Algorithm, DiffTag};

use crate::args::{Format, Global, Output};
use crate::cost::{self, CostTotal};
use crate::failure::{open, warn_skipped, CliResult, Failure};
use crate::output::{self, one_line};
use crate::page::{self, Network, PageKind};
use crate::run_view::{self, flatten, kind_of, label_of};
use crate::table::{render, Cell, Column};
use crate::terminal::{Terminal, Tone};

/// Aligning gives up looking for the best alignment after this long and
/// settles for a good one, so two huge, very different runs still answer.
const ALIGN_DEADLINE: Duration = Duration::from_secs(2);

macro_rules! examples {
    () => {
        "Examples:
  reagentic-protocol diff protocol.db conv-41 conv-42
  reagentic-protocol diff before.db conv-42 after.jsonl conv-42
  reagentic-protocol diff protocol.db conv-41 conv-42 --json
  reagentic-protocol diff protocol.db conv-41 conv-42 --html diff.html"
    };
}

/// Compare two runs: steps aligned, the first divergence, and the deltas.
///
/// The steps of each run (session or trace) are taken in tree order and
/// aligned by kind and name, so a step that one run has and the other lacks
/// shows as such. The summary gives both runs' wall time, steps, model and
/// tool calls, tokens, cost and errors, and B − A for each.
///
/// The two runs may come from one file (`diff FILE RUN_A RUN_B`) or from two
/// (`diff FILE_A RUN_A FILE_B RUN_B`).
#[derive(Debug, clap::Args)]
#[command(
    override_usage = "reagentic-protocol diff [OPTIONS] <FILE> <RUN_A> <RUN_B>
       reagentic-protocol diff [OPTIONS] <FILE_A> <RUN_A> <FILE_B> <RUN_B>",
    after_help = examples!(),
    after_long_help = concat!(examples!(), "

JSON (--json): one object
  a, b                 each run: file, id, kind (\"session\" or \"trace\"), wall_ms,
                       steps, model_calls, tool_calls, input_tokens, output_tokens,
                       errors, cost_usd (null when unknown), cost (as shown)
  delta                b − a for wall_ms, steps, model_calls, tool_calls,
                       input_tokens, output_tokens, errors, cost_usd (null
                       unless both costs are known)
  first_divergence     null when the runs match step for step, else
    row                  its index in rows
    reason               what differs, in words
  rows                 the aligned steps, in order, each
    op                   \"same\" (both runs have it), \"only_a\" or \"only_b\"
    outcome_changed      whether it failed in one run and not the other
    a, b                 the step in each run (null when absent): index, depth,
                         kind, name, duration_ms, input_tokens, output_tokens,
                         cost_usd, failed, open, error
    duration_delta_ms    b − a (null unless both durations are known)
    tokens_delta         b − a, input plus output tokens (null unless both
                         used tokens)")
)]
pub struct Args {
    /// The protocol file of the first run (and of the second, unless
    /// FILE_B is given).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The first run: a session id, or a trace id.
    #[arg(value_name = "RUN_A")]
    run_a: String,
    /// The second run, in the same file; or, with four arguments, the file of
    /// the second run followed by its id.
    #[arg(value_name = "[FILE_B] RUN_B", num_args = 1..=2, required = true)]
    second: Vec<String>,
    /// Write the comparison as a self-contained HTML page to this file instead.
    #[arg(long, value_name = "PAGE.html")]
    html: Option<PathBuf>,
    #[command(flatten)]
    output: Output<Format>,
}

/// One run's figures.
#[derive(Debug, Serialize)]
pub struct RunSide {
    file: String,
    id: String,
    kind: &'static str,
    wall_ms: f64,
    steps: usize,
    model_calls: usize,
    tool_calls: usize,
    input_tokens: u64,
    output_tokens: u64,
    errors: usize,
    cost_usd: Option<f64>,
    cost: String,
    #[serde(skip)]
    flat: Vec<StepSide>,
}

/// One step as the comparison shows it.
#[derive(Clone, Debug, Serialize)]
pub struct StepSide {
    index: usize,
    depth: usize,
    kind: &'static str,
    name: String,
    duration_ms: Option<f64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cost_usd: Option<f64>,
    failed: bool,
    open: bool,
    error: Option<String>,
}

impl StepSide {
    fn tokens(&self) -> Option<u64> {
        match (self.input_tokens, self.output_tokens) {
            (None, None) => None,
            (i, o) => Some(i.unwrap_or(0) + o.unwrap_or(0)),
        }
    }

    /// `tool get_weather`, for the text of a divergence.
    fn describe(&self) -> String {
        let state = if self.failed {
            " (failed)"
        } else if self.open {
            " (no end)"
        } else {
            ""
        };
        format!("{} {}{state}", self.kind, self.name)
    }
}

/// B − A.
#[derive(Debug, Serialize)]
pub struct Delta {
    wall_ms: f64,
    steps: i64,
    model_calls: i64,
    tool_calls: i64,
    input_tokens: i64,
    output_tokens: i64,
    errors: i64,
    cost_usd: Option<f64>,
}

/// One line of the alignment.
#[derive(Debug, Serialize)]
pub struct Row {
    op: &'static str,
    outcome_changed: bool,
    a: Option<StepSide>,
    b: Option<StepSide>,
    duration_delta_ms: Option<f64>,
    tokens_delta: Option<i64>,
}

/// Where the runs first part ways.
#[derive(Debug, Serialize)]
pub struct Divergence {
    row: usize,
    reason: String,
}

/// `diff --json`, and the data of the HTML page.
#[derive(Debug, Serialize)]
pub struct Comparison {
    a: RunSide,
    b: RunSide,
    delta: Delta,
    first_divergence: Option<Divergence>,
    rows: Vec<Row>,
}

fn side(file: &Path, id: &str) -> Result<RunSide, Failure> {
    let reader = open(file)?;
    let loaded = run_view::load(&reader, id)?;
    warn_skipped(&reader);
    let Some((kind, entries)) = loaded else {
        return Err(run_view::not_found(id, reader.path()));
    };
    let wall_ms = match (
        entries.iter().map(|e| e.timestamp).min(),
        entries.iter().map(|e| e.timestamp).max(),
    ) {
        (Some(first), Some(last)) => output::millis(last - first),
        _ => 0.0,
    };
    let roots = run_tree(entries);
    let mut cost_total = CostTotal::default();
    let mut run = RunSide {
        // The reader's path: for a database URL, without its password.
        file: reader.path().display().to_string(),
        id: id.to_owned(),
        kind: kind.as_str(),
        wall_ms,
        steps: 0,
        model_calls: 0,
        tool_calls: 0,
        input_tokens: 0,
        output_tokens: 0,
        errors: 0,
        cost_usd: None,
        cost: String::new(),
        flat: Vec::new(),
    };
    for (index, (depth, _, step)) in flatten(&roots).into_iter().enumerate() {
        cost_total.add_step(step);
        let s = step_side(index, depth, step);
        run.steps += 1;
        match s.kind {
            "llm" => {
                run.model_calls += 1;
                run.input_tokens += s.input_tokens.unwrap_or(0);
                run.output_tokens += s.output_tokens.unwrap_or(0);
            }
            "tool" => run.tool_calls += 1,
            _ => {}
        }
        run.errors += usize::from(s.failed);
        run.flat.push(s);
    }
    // Unknown when any model call's cost is: a partial sum would mislead.
    run.cost_usd = cost_total.complete_usd();
    run.cost = cost_total.label();
    Ok(run)
}

fn step_side(index: usize, depth: usize, step: &RunStep) -> StepSide {
    let entry = step.entry();
    let end = step.end.as_ref();
    let error = [end, step.start.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|e| e.error.as_ref())
        .map(output::error_text);
    StepSide {
        index,
        depth,
        kind: kind_of(entry),
        name: label_of(entry),
        duration_ms: end.and_then(|e| e.duration_ms),
        input_tokens: end.and_then(|e| e.input_tokens),
        output_tokens: end.and_then(|e| e.output_tokens),
        cost_usd: cost::step_usd(step),
        failed: step.is_error(),
        open: !step.is_finished(),
        error,
    }
}

fn difference(a: usize, b: usize) -> i64 {
    i64::try_from(b).unwrap_or(i64::MAX) - i64::try_from(a).unwrap_or(i64::MAX)
}

fn difference_u64(a: u64, b: u64) -> i64 {
    i64::try_from(b).unwrap_or(i64::MAX) - i64::try_from(a).unwrap_or(i64::MAX)
}

/// Aligns the two runs' steps and sums up the differences.
pub fn compare(a: RunSide, b: RunSide) -> Comparison {
    let key = |s: &StepSide| (s.kind, s.name.clone());
    let keys_a: Vec<_> = a.flat.iter().map(key).collect();
    let keys_b: Vec<_> = b.flat.iter().map(key).collect();
    let ops = similar::capture_diff_slices_deadline(
        Algorithm::Myers,
        &keys_a,
        &keys_b,
        Some(Instant::now() + ALIGN_DEADLINE),
    );
    let mut rows = Vec::with_capacity(a.flat.len().max(b.flat.len()));
    for op in ops {
        let (tag, old, new) = op.as_tag_tuple();
        match tag {
            DiffTag::Equal => {
                for (i, j) in old.zip(new) {
                    let (sa, sb) = (&a.flat[i], &b.flat[j]);
                    let duration_delta_ms = match (sa.duration_ms, sb.duration_ms) {
                        (Some(x), Some(y)) => Some(y - x),
                        _ => None,
                    };
                    let tokens_delta = match (sa.tokens(), sb.tokens()) {
                        (Some(x), Some(y)) => Some(difference_u64(x, y)),
                        _ => None,
                    };
                    rows.push(Row {
                        op: "same",
                        outcome_changed: sa.failed != sb.failed || sa.open != sb.open,
                        a: Some(sa.clone()),
                        b: Some(sb.clone()),
                        duration_delta_ms,
                        tokens_delta,
                    });
                }
            }
            // A replaced stretch is shown as what A had, then what B has.
            DiffTag::Delete | DiffTag::Insert | DiffTag::Replace => {
                for i in old {
                    rows.push(only(Some(a.flat[i].clone()), None));
                }
                for j in new {
                    rows.push(only(None, Some(b.flat[j].clone())));
                }
            }
        }
    }
    let first_divergence = rows.iter().enumerate().find_map(|(row, r)| {
        let reason = match (&r.a, &r.b) {
            (Some(sa), Some(sb)) if r.outcome_changed => format!(
                "step {} of A and {} of B: {} in A, {} in B",
                sa.index + 1,
                sb.index + 1,
                sa.describe(),
                sb.describe()
            ),
            (Some(_), Some(_)) => return None,
            (Some(sa), None) => format!(
                "step {} of A ({}) has no counterpart in B",
                sa.index + 1,
                sa.describe()
            ),
            (None, Some(sb)) => format!(
                "step {} of B ({}) has no counterpart in A",
                sb.index + 1,
                sb.describe()
            ),
            (None, None) => return None,
        };
        Some(Divergence { row, reason })
    });
    let delta = Delta {
        wall_ms: b.wall_ms - a.wall_ms,
        steps: difference(a.steps, b.steps),
        model_calls: difference(a.model_calls, b.model_calls),
        tool_calls: difference(a.tool_calls, b.tool_calls),
        input_tokens: difference_u64(a.input_tokens, b.input_tokens),
        output_tokens: difference_u64(a.output_tokens, b.output_tokens),
        errors: difference(a.errors, b.errors),
        cost_usd: match (a.cost_usd, b.cost_usd) {
            (Some(x), Some(y)) => Some(y - x),
            _ => None,
        },
    };
    Comparison {
        a,
        b,
        delta,
        first_divergence,
        rows,
    }
}

fn only(a: Option<StepSide>, b: Option<StepSide>) -> Row {
    Row {
        op: if a.is_some() { "only_a" } else { "only_b" },
        outcome_changed: false,
        a,
        b,
        duration_delta_ms: None,
        tokens_delta: None,
    }
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let (file_b, run_b) = match args.second.as_slice() {
        [run_b] => (args.file.as_path().to_path_buf(), run_b.clone()),
        [file_b, run_b] => (PathBuf::from(file_b), run_b.clone()),
        _ => {
            return Err(Failure::new(
                "diff takes RUN_A and RUN_B, or RUN_A, FILE_B and RUN_B",
            ))
        }
    };
    let a = side(args.file.as_path(), &args.run_a)?;
    let b = side(&file_b, &run_b)?;
    let comparison = compare(a, b);
    if let Some(path) = &args.html {
        let title = format!("diff {} · {}", comparison.a.id, comparison.b.id);
        let html = page::render(PageKind::Diff, &title, &comparison, Network::None)
            .map_err(|e| Failure::new(format!("cannot encode the comparison as JSON: {e}")))?;
        run_view::write_file(path, &html)?;
        output::print(&format!(
            "wrote {}: {} aligned steps, {}\n",
            path.display(),
            comparison.rows.len(),
            run_view::size_text(html.len())
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.output.resolve(global) == Format::Json {
        output::print_json(&comparison)?;
        return Ok(ExitCode::SUCCESS);
    }
    output::print(&text(&Terminal::detect(), &comparison))?;
    Ok(ExitCode::SUCCESS)
}

fn signed(n: i64) -> String {
    match n {
        0 => "±0".into(),
        n if n > 0 => format!("+{n}"),
        n => format!("−{}", n.unsigned_abs()),
    }
}

fn signed_ms(ms: f64) -> String {
    if ms == 0.0 {
        "±0".into()
    } else if ms > 0.0 {
        format!("+{}", output::duration_ms(ms))
    } else {
        format!("−{}", output::duration_ms(-ms))
    }
}

fn signed_usd(usd: f64) -> String {
    if usd < 0.0 {
        format!("−{}", cost::usd_text(-usd))
    } else {
        format!("+{}", cost::usd_text(usd))
    }
}

/// The comparison for a terminal: both runs' figures, the first divergence,
/// then the aligned steps.
fn text(terminal: &Terminal, c: &Comparison) -> String {
    let (a, b, d) = (&c.a, &c.b, &c.delta);
    let mut out = String::new();
    for (name, side) in [("A", a), ("B", b)] {
        out.push_str(&format!(
            "{} {} {}  {}\n",
            terminal.bold(name),
            side.kind,
            terminal.bold(&one_line(&side.id)),
            terminal.dim(&one_line(&side.file)),
        ));
    }
    out.push('\n');
    let count = |n: usize| n.to_string();
    let tone = |delta: i64, worse_when_more: bool| match delta.signum()
        * if worse_when_more { 1 } else { -1 }
    {
        1 => Some(Tone::Failure),
        -1 => Some(Tone::Success),
        _ => None,
    };
    let cell = |text: String, tone: Option<Tone>| match tone {
        Some(t) => Cell::toned(text, t),
        None => Cell::plain(text),
    };
    let figures = vec![
        vec![
            Cell::plain("wall time"),
            Cell::plain(output::duration_ms(a.wall_ms)),
            Cell::plain(output::duration_ms(b.wall_ms)),
            Cell::plain(signed_ms(d.wall_ms)),
        ],
        vec![
            Cell::plain("steps"),
            Cell::plain(count(a.steps)),
            Cell::plain(count(b.steps)),
            Cell::plain(signed(d.steps)),
        ],
        vec![
            Cell::plain("model calls"),
            Cell::plain(count(a.model_calls)),
            Cell::plain(count(b.model_calls)),
            Cell::plain(signed(d.model_calls)),
        ],
        vec![
            Cell::plain("tool calls"),
            Cell::plain(count(a.tool_calls)),
            Cell::plain(count(b.tool_calls)),
            Cell::plain(signed(d.tool_calls)),
        ],
        vec![
            Cell::plain("tokens in"),
            Cell::plain(a.input_tokens.to_string()),
            Cell::plain(b.input_tokens.to_string()),
            cell(signed(d.input_tokens), tone(d.input_tokens, true)),
        ],
        vec![
            Cell::plain("tokens out"),
            Cell::plain(a.output_tokens.to_string()),
            Cell::plain(b.output_tokens.to_string()),
            cell(signed(d.output_tokens), tone(d.output_tokens, true)),
        ],
        vec![
            Cell::plain("cost"),
            Cell::plain(&a.cost),
            Cell::plain(&b.cost),
            Cell::plain(d.cost_usd.map_or_else(|| "unknown".into(), signed_usd)),
        ],
        vec![
            Cell::plain("errors"),
            cell(count(a.errors), (a.errors > 0).then_some(Tone::Failure)),
            cell(count(b.errors), (b.errors > 0).then_some(Tone::Failure)),
            cell(signed(d.errors), tone(d.errors, true)),
        ],
    ];
    let columns = [
        Column::left(""),
        Column::right("A"),
        Column::right("B"),
        Column::right("B − A"),
    ];
    out.push_str(&render(terminal, &columns, &figures));
    out.push('\n');
    match &c.first_divergence {
        None => out.push_str(&terminal.green("The runs match step for step (by kind and name).\n")),
        Some(d) => out.push_str(&format!(
            "{} {}\n",
            terminal.yellow("First divergence:"),
            one_line(&d.reason)
        )),
    }
    out.push('\n');
    let step_cell = |s: &Option<StepSide>| match s {
        None => Cell::toned("—", Tone::Detail),
        Some(s) => {
            let text = format!("{}{} {}", "  ".repeat(s.depth.min(8)), s.kind, s.name);
            if s.failed {
                Cell::toned(format!("{text} ✕"), Tone::Failure)
            } else {
                Cell::plain(text)
            }
        }
    };
    let duration = |s: &Option<StepSide>| {
        Cell::plain(
            s.as_ref()
                .and_then(|s| s.duration_ms)
                .map_or_else(String::new, output::duration_ms),
        )
    };
    let rows: Vec<Vec<Cell>> = c
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mark = match (r.op, r.outcome_changed) {
                ("only_a", _) => Cell::toned("−", Tone::Warning),
                ("only_b", _) => Cell::toned("+", Tone::Warning),
                (_, true) => Cell::toned("≠", Tone::Failure),
                _ => Cell::plain(" "),
            };
            vec![
                Cell::plain((i + 1).to_string()),
                mark,
                step_cell(&r.a),
                step_cell(&r.b),
                duration(&r.a),
                duration(&r.b),
                Cell::plain(r.duration_delta_ms.map_or_else(String::new, signed_ms)),
                Cell::plain(r.tokens_delta.map_or_else(String::new, signed)),
            ]
        })
        .collect();
    let columns = [
        Column::right("#"),
        Column::left(""),
        Column::flexible("STEP IN A"),
        Column::flexible("STEP IN B"),
        Column::right("A TIME"),
        Column::right("B TIME"),
        Column::right("Δ TIME"),
        Column::right("Δ TOKENS"),
    ];
    out.push_str(&render(terminal, &columns, &rows));
    out
}
