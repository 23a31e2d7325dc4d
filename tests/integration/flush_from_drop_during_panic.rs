//! A guard whose `Drop` flushes and shuts the pipeline down runs while a
//! panic unwinds — on a plain thread, inside a `current_thread` runtime and
//! inside a multi-thread runtime's task. Both calls return within their
//! bounds, succeed, and what was recorded before the panic is readable.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{count_calls, pipeline_at, read_all, record_tool_spans};
use reagentic_protocol::ProtocolHandle;

/// What the guard saw: flush and shutdown results, and how long they took.
type Outcome = Arc<Mutex<Option<(String, Duration)>>>;

/// Flushes and shuts down from `Drop`, as application cleanup code does.
struct FlushOnDrop {
    handle: ProtocolHandle,
    outcome: Outcome,
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        assert!(std::thread::panicking(), "runs during the unwind");
        let started = Instant::now();
        let flushed = self.handle.force_flush();
        let shut = self.handle.shutdown();
        *self.outcome.lock().unwrap() = Some((format!("{flushed:?} {shut:?}"), started.elapsed()));
    }
}

/// Runs `body` on its own thread with a guard in scope, then panics there.
fn panic_with_guard(name: &str, body: impl FnOnce(Box<dyn FnOnce() + Send>) + Send + 'static) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.db");
    let (provider, handle) = pipeline_at(&path, |b| b.with_flush_timeout(Duration::from_secs(5)));
    record_tool_spans(&provider, name, 0, 100);
    let outcome = Outcome::default();
    let guard = FlushOnDrop {
        handle,
        outcome: Arc::clone(&outcome),
    };
    let thread = std::thread::spawn(move || {
        body(Box::new(move || {
            let _guard = guard;
            panic!("intentional panic with the guard in scope");
        }))
    });
    assert!(thread.join().is_err(), "the panic reached the thread's top");
    let (results, took) = outcome.lock().unwrap().take().expect("the guard ran");
    assert_eq!(results, "Ok(()) Ok(())");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(count_calls(&read_all(&path), &format!("{name}-")), 200);
    drop(provider);
}

#[test]
fn drop_during_panic_on_a_plain_thread() {
    panic_with_guard("plain", |panicking| panicking());
}

#[test]
fn drop_during_panic_inside_a_current_thread_runtime() {
    panic_with_guard("current-thread", |panicking| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move { panicking() });
    });
}

#[test]
fn drop_during_panic_inside_a_multi_thread_task() {
    panic_with_guard("multi-thread", |panicking| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let task = runtime.spawn(async move { panicking() });
        // Re-raise the task's panic so the thread ends the way the others do.
        if let Err(error) = runtime.block_on(task) {
            std::panic::resume_unwind(error.into_panic());
        }
    });
}
