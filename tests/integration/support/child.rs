//! Real child processes: a test re-executes its own binary, filtered to
//! itself, with an environment variable naming the role the child plays.
//!
//! Fault tests start children that do the faulty part (crash, hold a lock,
//! hit a file-size limit); a child reports progress as prefixed lines on
//! stdout, so the parent acts on real signals (a flush has returned) instead
//! of sleeping. Tests that change or observe process-wide state run whole in
//! a process of their own ([`ran_in_own_process`]).
//!
//! A child is told which test to run by its full name (`--exact`), which
//! [`test_path!`] derives from the test function itself; the parent then
//! checks that the child's harness ran exactly that one test, so a name that
//! matches nothing fails instead of passing with a child that did nothing.

use std::io::{BufRead, BufReader, Lines, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

const ROLE_VAR: &str = "REAGENTIC_TEST_CHILD_ROLE";
const PATH_VAR: &str = "REAGENTIC_TEST_CHILD_PATH";
/// The role of a child that runs a whole test in a process of its own.
const OWN_PROCESS: &str = "own-process";
/// Marks a report line; the test harness prints its own text on stdout too.
const PREFIX: &str = "@@child@@ ";
/// What libtest prints before it runs exactly one test.
const RAN_ONE_TEST: &str = "running 1 test";

/// The full name of the test function `$test` of the calling module, as the
/// test harness knows it and `--exact` must match: the module path below the
/// crate, then the function (`crash_after_flush_keeps_entries::sqlite_…`).
/// It takes the function, not a string: a renamed or misspelt test is a
/// compile error, not a child that runs nothing.
macro_rules! test_path {
    ($test:ident) => {{
        let _: fn() = $test;
        $crate::support::child::full_test_name(module_path!(), stringify!($test))
    }};
}

/// `module_path` without the crate name, then `function`; see [`test_path!`].
pub fn full_test_name(module_path: &str, function: &str) -> String {
    match module_path.split_once("::") {
        Some((_crate, module)) => format!("{module}::{function}"),
        None => function.to_owned(),
    }
}

/// The role this process was started to play, or `None` in the parent.
pub fn role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

/// The protocol file the parent told the child to write.
pub fn target_path() -> PathBuf {
    PathBuf::from(std::env::var_os(PATH_VAR).expect("child started without a path"))
}

/// This test binary again, running only `test` (a [`test_path!`]) in `role`.
fn rerun(test: &str, role: &str) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let mut command = Command::new(exe);
    // `--include-ignored`: the child runs its test whenever the parent does.
    command
        .args([test, "--exact", "--include-ignored", "--nocapture"])
        .arg("--test-threads=1")
        .env(ROLE_VAR, role);
    command
}

/// Runs the calling test in a process of its own: for a test that changes or
/// observes what belongs to the whole process (the global subscriber,
/// environment variables, the umask, the list of threads), so that neither it
/// nor the tests running beside it in this binary can disturb the other.
///
/// In the parent it starts this binary again, running only `test` (the
/// calling test's [`test_path!`]), waits, and returns `true` once the child
/// has run that one test and passed; it panics with the child's output
/// otherwise. In that child it returns `false`: the caller goes on to run its
/// body.
///
/// ```ignore
/// if child::ran_in_own_process(&test_path!(this_test)) {
///     return;
/// }
/// ```
pub fn ran_in_own_process(test: &str) -> bool {
    match role().as_deref() {
        Some(OWN_PROCESS) => return false,
        Some(other) => panic!("{test} started as a child in role {other:?}"),
        None => {}
    }
    let Output {
        status,
        stdout,
        stderr,
    } = rerun(test, OWN_PROCESS)
        .stdin(Stdio::null())
        .output()
        .expect("run the test in a child process");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr),
    );
    // The parent's harness shows this when the test fails or with --nocapture.
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        stdout.lines().any(|line| line == RAN_ONE_TEST),
        "the child process did not run exactly {test:?} ({status})"
    );
    assert!(
        status.success(),
        "{test} failed in its own process ({status})"
    );
    true
}

/// A running child and the reports it has not read yet.
pub struct ChildProcess {
    pub child: Child,
    reports: Lines<BufReader<ChildStdout>>,
    /// The test it runs, until its harness has been seen to start it.
    unconfirmed: Option<String>,
}

/// Starts this test binary again, running only `test` (the calling test's
/// [`test_path!`]), as a child in `role` writing `path`. Its stdin is a pipe:
/// closing it (or dropping the `ChildProcess`) is a signal the child may wait
/// for.
pub fn spawn(test: &str, role: &str, path: &Path) -> ChildProcess {
    spawn_with(test, role, path, |_| {})
}

/// [`spawn`], letting the caller adjust the command (extra environment).
/// The first [`expect`](ChildProcess::expect) or
/// [`wait`](ChildProcess::wait) checks that the child's harness ran exactly
/// `test` (not at once, so that children started together start together).
pub fn spawn_with(
    test: &str,
    role: &str,
    path: &Path,
    adjust: impl FnOnce(&mut Command),
) -> ChildProcess {
    let mut command = rerun(test, role);
    command
        .env(PATH_VAR, path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    adjust(&mut command);
    let mut child = command.spawn().expect("spawn child process");
    let stdout = child.stdout.take().expect("child stdout");
    ChildProcess {
        child,
        reports: BufReader::new(stdout).lines(),
        unconfirmed: Some(test.to_owned()),
    }
}

impl ChildProcess {
    /// Reads the harness's opening line, once: it must run exactly one test.
    fn confirm_started(&mut self) {
        let Some(test) = self.unconfirmed.take() else {
            return;
        };
        for line in self.reports.by_ref() {
            let line = line.expect("read child stdout");
            if line == RAN_ONE_TEST {
                return;
            }
            assert!(
                !line.starts_with("running "),
                "the child for {test:?} is {line:?}: no test has that exact name"
            );
        }
        let status = self.child.wait().expect("wait for child");
        panic!("child for {test:?} exited ({status}) before running it");
    }

    /// Waits for the child's next report starting with `what` and returns
    /// the rest of it. Panics if the child exits first.
    pub fn expect(&mut self, what: &str) -> String {
        self.confirm_started();
        for line in self.reports.by_ref() {
            let line = line.expect("read child stdout");
            // With --nocapture the harness's "test … " may precede our text.
            if let Some(at) = line.find(PREFIX) {
                let report = &line[at + PREFIX.len()..];
                if let Some(rest) = report.strip_prefix(what) {
                    return rest.trim().to_owned();
                }
            }
        }
        let status = self.child.wait().expect("wait for child");
        panic!("child exited ({status}) before reporting {what:?}");
    }

    /// SIGKILL: the process ends at once, running no destructor, flushing nothing.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill child");
        self.child.wait().expect("reap child");
    }

    /// Waits for the child to exit on its own, within `bound`.
    pub fn wait(&mut self, bound: Duration) -> std::process::ExitStatus {
        self.confirm_started();
        let deadline = std::time::Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll child") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "child still running after {bound:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        // A failed assertion in the parent must not leave a child running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a report line to the parent.
pub fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{PREFIX}{line}").expect("report to parent");
    out.flush().expect("flush report");
}

/// Blocks until the parent closes our stdin (or dies).
pub fn wait_for_parent() {
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
}
