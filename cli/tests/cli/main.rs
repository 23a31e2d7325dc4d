//! The `reagentic-protocol` command as a user runs it: the built binary on
//! protocol files written by the library's real pipeline, one module per
//! command or concern.

mod bad_input;
mod browser;
mod check;
#[cfg(target_os = "linux")]
mod colour;
mod convert;
mod cost;
mod diff;
mod done_means;
mod export;
mod help;
mod import;
mod jsonl_rotation;
mod otlp;
mod postgres;
#[path = "../../../tests/integration/support/postgres.rs"]
mod postgres_server;
mod prune;
mod query_filters;
mod run_page;
mod serve_clients;
#[cfg(unix)]
mod serve_faults;
#[cfg(unix)]
mod serve_python;
mod serve_support;
mod sessions;
mod shared_flags;
mod show;
mod stats;
mod support;
mod synthetic;
#[cfg(unix)]
mod tail_follow;
mod ui;
mod wide_characters;
