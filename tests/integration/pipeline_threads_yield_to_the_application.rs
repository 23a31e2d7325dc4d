//! The pipeline's threads, and the SQLite storage's checkpoint thread, run
//! below the application's (Linux nice +10) unless asked to run at normal
//! priority; the application's threads are untouched.

use crate::support::{child, Format, Harness};
use reagentic_protocol::pipeline::ThreadPriority;

/// (name, nice) of every thread of this process, read from `/proc`.
fn threads() -> Vec<(String, i32)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("tasks") {
        let stat = std::fs::read_to_string(task.expect("task").path().join("stat"));
        let Ok(stat) = stat else { continue }; // the thread ended meanwhile
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        // After the name: state is field 3; nice is field 19.
        let nice = stat[close + 2..]
            .split_whitespace()
            .nth(16)
            .and_then(|n| n.parse().ok())
            .expect("nice field");
        found.push((name, nice));
    }
    found
}

/// The nice values of the pipeline threads (the OS keeps 15 bytes of a name).
fn pipeline_nice_values() -> Vec<i32> {
    threads()
        .into_iter()
        .filter(|(name, _)| name.starts_with("reagentic-proto"))
        .map(|(_, nice)| nice)
        .collect()
}

/// This thread's nice value, from `/proc/thread-self/stat`.
fn own_nice() -> i32 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("own stat");
    let close = stat.rfind(')').expect("name end");
    stat[close + 2..]
        .split_whitespace()
        .nth(16)
        .and_then(|n| n.parse().ok())
        .expect("nice field")
}

#[test]
fn pipeline_threads_run_below_the_application_unless_asked_not_to() {
    // Counts the pipeline threads of the whole process: no other test's.
    if child::ran_in_own_process(&test_path!(
        pipeline_threads_run_below_the_application_unless_asked_not_to
    )) {
        return;
    }
    let application = own_nice();

    let background = Harness::sqlite();
    // A flush's answer passes through both threads: they are running, and
    // have set their priority, once it returns.
    background.flush();
    let lowered = pipeline_nice_values();
    assert_eq!(lowered.len(), 2, "an extraction and a writer thread");
    let expected = (application + 10).min(19);
    assert!(lowered.iter().all(|&n| n == expected), "{lowered:?}");
    assert_eq!(
        own_nice(),
        application,
        "the application's thread is untouched"
    );
    // It still records.
    background.in_scope(|| {
        let _agent =
            tracing::info_span!("invoke_agent", gen_ai.operation.name = "invoke_agent").entered();
    });
    background.flush();
    assert_eq!(background.entries().len(), 2);
    // The SQLite writer's checkpoint thread starts with its first write,
    // from the writer's thread, and so runs lowered too.
    let after_writing = pipeline_nice_values();
    assert_eq!(
        after_writing.len(),
        3,
        "and a checkpointer: {after_writing:?}"
    );
    assert!(
        after_writing.iter().all(|&n| n == expected),
        "{after_writing:?}"
    );
    background.handle.shutdown().expect("shutdown");
    drop(background);
    assert!(pipeline_nice_values().is_empty(), "threads end at shutdown");

    let normal = Harness::new(Format::Jsonl, |b| {
        b.with_thread_priority(ThreadPriority::Normal)
    });
    normal.flush();
    let kept = pipeline_nice_values();
    assert_eq!(kept, vec![application, application]);
    normal.handle.shutdown().expect("shutdown");
}
