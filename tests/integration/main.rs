//! The integration tests: one test binary, one module per behaviour, each on
//! real pipelines, real files and real processes. One binary links SQLite and
//! the OpenTelemetry stack once, and its tests run in parallel.
//!
//! Tests share this process, so a test that changes or observes what belongs
//! to the whole process runs in a process of its own instead: it starts this
//! binary again, filtered to itself (`support::child::ran_in_own_process`).
//! Those are the tests that install the global `tracing` subscriber
//! (`install_guard_delivers_on_drop`, `install_twice_is_an_error`,
//! `otlp_from_env_with_init`), set `OTEL_*` variables every pipeline reads
//! (`install_service_name_from_env`, `otlp_invalid_settings_are_named`,
//! `otlp_from_env_with_init`), set the umask (`protocol_files_are_owner_only`)
//! or count the process's threads (`pipeline_threads_yield_to_the_application`).
//! The fault tests run their faulty part in child processes the same way.

#[macro_use]
mod support;

mod a_panicking_storage_is_an_error_not_a_crash;
mod abrupt_exit_without_shutdown_writes_everything;
mod agent_run_roundtrip;
mod bad_input_is_bounded;
mod concurrent_producers_lose_nothing;
mod crash_after_commit_with_full_durability;
mod crash_after_flush_keeps_entries;
mod crash_during_index_merges_keeps_lookups;
#[cfg(unix)]
mod crash_mid_write_leaves_a_skippable_torn_tail;
mod deeply_nested_and_nul_content_is_bounded;
mod detail_levels_and_redaction;
mod durations_match_span_timings;
mod eight_producers_and_a_flush_storm_account_exactly;
mod entries_reach_the_file_without_a_flush;
mod error_sources;
mod exporter_behind_batch_processor;
// Drives `Extractor` directly, which only the `unstable` feature exports.
#[cfg(feature = "unstable")]
mod extractor_never_panics_on_arbitrary_spans;
mod flush_from_any_runtime;
mod flush_from_drop_during_panic;
mod framework_adk_rust;
mod framework_autoagents;
mod framework_genai_semconv;
mod framework_goose;
mod framework_llm_sdk;
mod framework_openinference;
mod framework_rig;
mod framework_swiftide;
#[cfg(target_os = "linux")]
mod full_filesystem_reports_and_recovers;
// The fuzz bodies drive `Extractor` too.
#[cfg(feature = "unstable")]
mod fuzz_bodies_accept_arbitrary_bytes;
mod handoffs_guardrails_and_other_spans;
mod idempotent_rewrite;
mod install_bad_settings_are_named;
mod install_guard_delivers_on_drop;
mod install_service_name_from_env;
mod install_twice_is_an_error;
mod instrument_helpers_produce_entries;
mod late_recorded_attributes;
mod lossy_mode_counts_exactly;
mod model_calls_are_priced_when_recorded;
mod open_errors_name_the_path;
#[cfg(feature = "otlp")]
mod otlp_alongside;
#[cfg(feature = "otlp")]
mod otlp_collector_down_never_blocks;
#[cfg(feature = "otlp")]
mod otlp_from_env_with_init;
#[cfg(feature = "otlp")]
mod otlp_http_alongside;
#[cfg(feature = "otlp")]
mod otlp_invalid_settings_are_named;
#[cfg(target_os = "linux")]
mod pipeline_reports_its_cpu_time;
#[cfg(target_os = "linux")]
mod pipeline_threads_yield_to_the_application;
#[cfg(feature = "postgres")]
mod postgres_errors_name_the_server_never_the_password;
#[cfg(feature = "postgres")]
mod postgres_keeps_flushed_entries_after_sigkill;
#[cfg(feature = "postgres")]
mod postgres_prune_deletes_whole_runs;
#[cfg(feature = "postgres")]
mod postgres_reads_and_writes_like_sqlite;
#[cfg(feature = "postgres")]
mod postgres_schema_is_created_once_and_migrated;
#[cfg(feature = "postgres")]
mod postgres_server_restart_loses_nothing;
#[cfg(feature = "postgres")]
mod postgres_sql_injection_strings_leave_the_database_unchanged;
#[cfg(feature = "postgres-tls")]
mod postgres_tls;
#[cfg(feature = "postgres")]
mod postgres_two_processes_write_one_database;
#[cfg(unix)]
mod protocol_files_are_owner_only;
mod prune_deletes_whole_runs;
mod readers_never_panic_on_corrupted_files;
mod secrets_never_reach_the_file;
mod session_aliases_and_inheritance;
mod shutdown_lifecycle;
mod sql_injection_strings_leave_the_file_unchanged;
mod stalled_by_another_process_lock;
mod stalled_storage_times_out;
mod storage_fault_recovers;
mod two_processes_write_one_sqlite_file;
mod two_writers_share_one_sqlite_file;
mod user_aliases_and_span_rules;
#[cfg(unix)]
mod write_errors_are_reported_and_recovered;
