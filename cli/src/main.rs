//! `reagentic-protocol`: find the agent run you care about in a protocol file
//! (SQLite or JSON Lines, told by extension), see what it did, and why it
//! failed.
//!
//! Exit codes: 0 done; 1 `check` found problems; 2 the command could not be
//! carried out (bad arguments, unreadable file, unknown session, …).

mod args;
mod check;
mod convert;
mod cost;
mod diff;
mod export;
mod failure;
mod import;
mod output;
mod page;
mod prune;
mod query;
mod rotation_arg;
mod run_view;
mod serve;
mod sessions;
mod show;
mod stats;
mod table;
mod tail;
mod terminal;
mod time_arg;
mod ui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Find and read agent runs in a reagentic-protocol file (.db/.sqlite or .jsonl) or PostgreSQL database (postgres://…).
#[derive(Debug, Parser)]
#[command(name = "reagentic-protocol", version, propagate_version = true)]
#[command(after_help = "Examples:
  reagentic-protocol sessions protocol.db
  reagentic-protocol show protocol.db conv-42
  reagentic-protocol query protocol.db --errors --since 2h
  reagentic-protocol stats protocol.db --by tool
  reagentic-protocol show protocol.db conv-42 --html run.html
  reagentic-protocol diff protocol.db conv-41 conv-42
  reagentic-protocol ui protocol.db
  reagentic-protocol prune protocol.db --older-than 30d
  reagentic-protocol serve protocol.db
  reagentic-protocol export protocol.db --otlp http://localhost:4318

Every command prints JSON with --json; `reagentic-protocol <COMMAND> --help`
describes its shape. Exit codes: 0 done, 1 `check` found problems, 2 the
command could not be carried out.")]
struct Cli {
    #[command(flatten)]
    global: args::Global,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Sessions(sessions::Args),
    Show(show::Args),
    Query(query::Args),
    Stats(stats::Args),
    Tail(tail::Args),
    Convert(convert::Args),
    Diff(diff::Args),
    Check(check::Args),
    Ui(ui::Args),
    Prune(prune::Args),
    Vacuum(prune::VacuumArgs),
    Serve(serve::Args),
    Import(import::Args),
    Export(export::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version are successes, printed to stdout by clap.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line, like every other error: clap's usage and "for more
            // information" lines are left out, `--help` has them.
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| {
                    !l.is_empty()
                        && !l.starts_with("Usage:")
                        && !l.starts_with("For more information")
                })
                .collect();
            eprintln!("{} (see --help)", message.join(" "));
            return ExitCode::from(2);
        }
    };
    let global = &cli.global;
    let result = match cli.command {
        Command::Sessions(args) => sessions::run(args, global),
        Command::Show(args) => show::run(args, global),
        Command::Query(args) => query::run(args, global),
        Command::Stats(args) => stats::run(args, global),
        Command::Tail(args) => tail::run(args, global),
        Command::Convert(args) => convert::run(args, global),
        Command::Diff(args) => diff::run(args, global),
        Command::Check(args) => check::run(args, global),
        Command::Ui(args) => ui::run(args, global),
        Command::Prune(args) => prune::run(args, global),
        Command::Vacuum(args) => prune::vacuum(args, global),
        Command::Serve(args) => serve::run(args, global),
        Command::Import(args) => import::run(args, global),
        Command::Export(args) => export::run(args, global),
    };
    match result {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}
