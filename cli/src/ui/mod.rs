//! `ui`: the run pages served live from a protocol file — a sessions list
//! that grows as runs arrive, each linking to its run page, which follows
//! its run as it is written.
//!
//! [`router`] is the whole web side: read-only routes with relative links,
//! so it can be mounted into another server (the OTLP receiver) as it is.
//! The `ui` command adds the access rule ([`auth`]) and listens.

mod auth;
mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use reagentic_protocol::read::SessionFilter;
use reagentic_protocol::ProtocolReader;
use serde::{Deserialize, Serialize};

use crate::args::{Global, ProtocolFile};
use crate::cost::CostTotal;
use crate::failure::{CliResult, Failure};
use crate::output;
use crate::page::{self, Network, PageKind};
use crate::run_view::{self, Live, RunData};

pub use auth::{loopback_host, Access};

/// How long an update request waits for a change before answering anyway.
const UPDATE_WAIT: Duration = Duration::from_secs(25);

macro_rules! examples {
    () => {
        "Examples:
  reagentic-protocol ui protocol.db
  reagentic-protocol ui protocol.jsonl --listen 127.0.0.1:9000
  REAGENTIC_PROTOCOL_TOKEN=$(openssl rand -hex 16) reagentic-protocol ui protocol.db --listen 0.0.0.0:7878"
    };
}

/// Serve the run pages of a protocol file in the browser, live.
///
/// `/` lists the sessions, newest first, with their errors and cost, and
/// grows as runs are written; each links to its run page (`/run/<id>`),
/// which follows the run as it is written. Nothing is ever written to the
/// file.
///
/// The server listens on 127.0.0.1 (this machine only) unless --listen
/// names another address; then it needs a token (--token, or the variable
/// REAGENTIC_PROTOCOL_TOKEN): scripts send `Authorization: Bearer <token>`,
/// a browser opens any page once with `?token=<token>` and keeps it in a
/// cookie. --insecure-no-token serves anyone who can connect.
#[derive(Debug, clap::Args)]
#[command(
    after_help = examples!(),
    after_long_help = concat!(examples!(), "

Routes (all GET, all read-only):
  /                  the sessions list
  /run/<id>          one run's page
  /api/sessions      the sessions list as JSON: generation, sessions (each as
                     `sessions --json` prints them, plus cost)
  /api/run/<id>      one run's page data as JSON
  /api/updates?after=<generation>[&run=<id>]
                     answers {\"generation\": n} as soon as the file has new
                     entries (of that run), or after at most 25 s")
)]
pub struct Args {
    #[command(flatten)]
    file: ProtocolFile,
    /// The address to listen on (port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// The token every request must carry (at least 16 characters); else
    /// from REAGENTIC_PROTOCOL_TOKEN. Needed for any address but loopback.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Serve a non-loopback address without a token: anyone who can reach
    /// it reads the whole protocol.
    #[arg(long)]
    insecure_no_token: bool,
    /// How many of the newest sessions the list shows.
    #[arg(long, short = 'n', default_value_t = SESSIONS_SHOWN)]
    limit: usize,
}

/// How many of the newest sessions the list shows by default.
pub const SESSIONS_SHOWN: usize = 200;

/// What the routes share.
pub struct UiState {
    reader: Mutex<ProtocolReader>,
    path: PathBuf,
    limit: usize,
    generation: tokio::sync::watch::Receiver<u64>,
    /// Which runs recent generations touched.
    touched: Arc<Mutex<watch::Touched>>,
    /// The last sessions answer and the generation it was read at.
    sessions_cache: Mutex<Option<(u64, Arc<String>)>>,
}

impl UiState {
    /// Opens `file` for reading and starts following it for changes (on a
    /// thread of its own that ends when the state is dropped).
    pub fn open(file: &ProtocolFile, limit: usize) -> Result<Arc<UiState>, Failure> {
        Self::from_readers(file.open()?, file.open()?, limit)
    }

    /// The same for the protocol at `path` with the built-in prices (what
    /// `serve` shows beside the file it writes).
    pub fn open_path(path: &std::path::Path, limit: usize) -> Result<Arc<UiState>, Failure> {
        Self::from_readers(
            crate::failure::open(path)?,
            crate::failure::open(path)?,
            limit,
        )
    }

    /// One reader answers the pages, the other is followed for changes.
    fn from_readers(
        reader: reagentic_protocol::ProtocolReader,
        followed: reagentic_protocol::ProtocolReader,
        limit: usize,
    ) -> Result<Arc<UiState>, Failure> {
        let followed = watch::follow(followed)?;
        // The reader's path, which for a database URL has no password: it
        // is shown on the pages.
        let path = reader.path().to_path_buf();
        Ok(Arc::new(UiState {
            reader: Mutex::new(reader),
            path,
            limit,
            generation: followed.generation,
            touched: followed.touched,
            sessions_cache: Mutex::new(None),
        }))
    }

    fn generation(&self) -> u64 {
        *self.generation.borrow()
    }
}

/// The run pages behind the access rule (a token in `?token=` once, then a
/// cookie), for `serve` to mount beside its OTLP routes.
pub fn guarded_router(state: Arc<UiState>, access: Access) -> Router {
    router(state).layer(axum::middleware::from_fn_with_state(access, auth::guard))
}

/// The routes of the run pages, relative to where they are mounted.
pub fn router(state: Arc<UiState>) -> Router {
    Router::new()
        .route("/", get(sessions_page))
        .route("/run/{id}", get(run_page))
        .route("/api/sessions", get(sessions_json))
        .route("/api/run/{id}", get(run_json))
        .route("/api/updates", get(updates))
        .with_state(state)
}

pub fn run(args: Args, _global: &Global) -> CliResult {
    let access = Access::choose(
        args.token.clone(),
        &[args.listen],
        args.insecure_no_token,
        "--insecure-no-token to serve it to anyone",
    )?;
    let state = UiState::open(&args.file, args.limit)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the server: {e}")))?;
    runtime.block_on(serve(args, state, access))
}

async fn serve(args: Args, state: Arc<UiState>, access: Access) -> CliResult {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Failure::new(format!("cannot listen on {}: {e}", args.listen)))?;
    let address = listener
        .local_addr()
        .map_err(|e| Failure::new(format!("cannot listen on {}: {e}", args.listen)))?;
    let how = match &access {
        Access::Loopback => "this machine only".to_owned(),
        Access::Token(_) => "token required: open it once with ?token=<token>".to_owned(),
        Access::Open => "WITHOUT a token: anyone who can connect reads the protocol".to_owned(),
    };
    output::print(&format!(
        "serving {} at http://{address}/ ({how}; read-only; Ctrl-C stops)\n",
        state.path.display()
    ))?;
    let app = guarded_router(state, access);
    tokio::select! {
        served = axum::serve(listener, app) => {
            served.map_err(|e| Failure::new(format!("the server stopped: {e}")))?;
        }
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::SUCCESS)
}

// ---- responses ---------------------------------------------------------------

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn json_response(body: String) -> Response {
    no_store(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn html_response(kind: PageKind, body: String) -> Response {
    let csp = format!("{}; frame-ancestors 'none'", page::csp_header(kind));
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    no_store(response)
}

/// A request that could not be answered: its status and one line.
#[derive(Debug)]
struct Problem {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        no_store((self.status, format!("{}\n", self.message)).into_response())
    }
}

fn problem(status: StatusCode, message: impl Into<String>) -> Problem {
    Problem {
        status,
        message: message.into(),
    }
}

/// Runs a blocking read off the async threads.
async fn blocking<T: Send + 'static>(
    state: &Arc<UiState>,
    read: impl FnOnce(&UiState, &ProtocolReader) -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || {
        let reader = state.reader.lock().unwrap_or_else(PoisonError::into_inner);
        read(&state, &reader)
    })
    .await
    .unwrap_or_else(|_| {
        Err(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the read failed",
        ))
    })
}

fn read_failed(e: impl std::fmt::Display) -> Problem {
    let one_line = e
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("cannot read the protocol: {one_line}"),
    )
}

// ---- the sessions list ----------------------------------------------------------

/// One session in `/api/sessions`.
#[derive(Debug, Serialize)]
struct SessionRow {
    id: String,
    kind: &'static str,
    #[serde(serialize_with = "output::timestamp")]
    first: DateTime<Utc>,
    #[serde(serialize_with = "output::timestamp")]
    last: DateTime<Utc>,
    wall_ms: f64,
    entries: u64,
    agents: Vec<String>,
    model_calls: u64,
    tool_calls: u64,
    input_tokens: u64,
    output_tokens: u64,
    errors: u64,
    cost: crate::cost::CostView,
}

/// `/api/sessions`, and the data of the sessions page.
#[derive(Debug, Serialize)]
struct SessionsData {
    generation: u64,
    source: String,
    limit: usize,
    sessions: Vec<SessionRow>,
}

fn read_sessions(state: &UiState, reader: &ProtocolReader) -> Result<Arc<String>, Problem> {
    let generation = state.generation();
    let mut cache = state
        .sessions_cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some((at, body)) = cache.as_ref() {
        if *at == generation {
            return Ok(Arc::clone(body));
        }
    }
    let summaries = reader
        .sessions(&SessionFilter::default().with_limit(state.limit))
        .map_err(read_failed)?;
    let mut sessions = Vec::with_capacity(summaries.len());
    for s in summaries {
        sessions.push(SessionRow {
            wall_ms: output::millis(s.wall_duration()),
            kind: s.kind.as_str(),
            cost: CostTotal::from(s.cost).into(),
            id: s.id,
            first: s.first,
            last: s.last,
            entries: s.entries,
            agents: s.agents,
            model_calls: s.model_calls,
            tool_calls: s.tool_calls,
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            errors: s.errors,
        });
    }
    let data = SessionsData {
        generation,
        source: file_name(&state.path),
        limit: state.limit,
        sessions,
    };
    let body = Arc::new(page::embed_json(&data).map_err(read_failed)?);
    *cache = Some((generation, Arc::clone(&body)));
    Ok(body)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

async fn sessions_json(State(state): State<Arc<UiState>>) -> Response {
    match blocking(&state, read_sessions).await {
        Ok(body) => json_response(body.as_str().to_owned()),
        Err(problem) => problem.into_response(),
    }
}

async fn sessions_page(State(state): State<Arc<UiState>>) -> Response {
    let body = match blocking(&state, read_sessions).await {
        Ok(body) => body,
        Err(problem) => return problem.into_response(),
    };
    // Already JSON; parsed back so the page renderer embeds it the one safe way.
    let data: serde_json::Value = match serde_json::from_str(&body) {
        Ok(data) => data,
        Err(e) => return read_failed(e).into_response(),
    };
    let title = format!("Sessions — {}", file_name(&state.path));
    match page::render(PageKind::Sessions, &title, &data, Network::SameOrigin) {
        Ok(html) => html_response(PageKind::Sessions, html),
        Err(e) => read_failed(e).into_response(),
    }
}

// ---- one run ------------------------------------------------------------------------

/// Percent-encodes an id for a path segment.
fn encode_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn read_run(state: &UiState, reader: &ProtocolReader, id: &str) -> Result<RunData, Problem> {
    let generation = state.generation();
    let Some((kind, entries)) = run_view::load(reader, id).map_err(|f| match f {
        Failure::Message(m) => read_failed(m),
        Failure::ClosedPipe => read_failed("closed"),
    })?
    else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            format!("no session or trace {id:?} in this protocol"),
        ));
    };
    let mut run = RunData::new(id, kind, &state.path, entries);
    // Relative to /run/<id>, so the routes work wherever they are mounted.
    run.live = Some(Live {
        run: format!("../api/run/{}", encode_segment(id)),
        updates: format!("../api/updates?run={}", encode_segment(id)),
        home: "../".into(),
        generation,
    });
    Ok(run)
}

async fn run_json(State(state): State<Arc<UiState>>, UrlPath(id): UrlPath<String>) -> Response {
    match blocking(&state, move |state, reader| read_run(state, reader, &id)).await {
        Ok(run) => match page::embed_json(&run) {
            Ok(body) => json_response(body),
            Err(e) => read_failed(e).into_response(),
        },
        Err(problem) => problem.into_response(),
    }
}

async fn run_page(State(state): State<Arc<UiState>>, UrlPath(id): UrlPath<String>) -> Response {
    match blocking(&state, move |state, reader| read_run(state, reader, &id)).await {
        Ok(run) => match page::render(PageKind::Run, &run.title(), &run, Network::SameOrigin) {
            Ok(html) => html_response(PageKind::Run, html),
            Err(e) => read_failed(e).into_response(),
        },
        Err(problem) => problem.into_response(),
    }
}

// ---- updates -------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct After {
    after: Option<u64>,
    /// Only changes to this run (session or trace id) count.
    run: Option<String>,
}

#[derive(Debug, Serialize)]
struct Update {
    generation: u64,
}

/// Answers `{"generation": n}` at once when the protocol changed after
/// generation `after` (with `run`: when that run changed), else as soon as
/// it does or after [`UPDATE_WAIT`] — a long poll: one request per change,
/// a bounded wait, no work while nothing happens.
async fn updates(State(state): State<Arc<UiState>>, Query(after): Query<After>) -> Response {
    let mut receiver = state.generation.clone();
    let deadline = tokio::time::Instant::now() + UPDATE_WAIT;
    let generation = loop {
        let current = *receiver.borrow_and_update();
        let changed = match (after.after, &after.run) {
            (None, _) => true,
            (Some(after), None) => current != after,
            (Some(after), Some(run)) => {
                current != after
                    && state
                        .touched
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .changed_since(after, run)
            }
        };
        if changed {
            break current;
        }
        match tokio::time::timeout_at(deadline, receiver.changed()).await {
            Ok(Ok(())) => continue,
            // Timed out, or the follower stopped: answer what is known.
            _ => break after.after.unwrap_or(current),
        }
    };
    json_response(serde_json::to_string(&Update { generation }).unwrap_or_default())
}
