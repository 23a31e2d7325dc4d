//! Real child processes for fault tests: a test re-executes its own binary,
//! filtered to itself, with an environment variable naming the role the child
//! plays. The child reports progress as prefixed lines on stdout, so the
//! parent acts on real signals (a flush has returned) instead of sleeping.

use std::io::{BufRead, BufReader, Lines, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

const ROLE_VAR: &str = "REAGENTIC_TEST_CHILD_ROLE";
const PATH_VAR: &str = "REAGENTIC_TEST_CHILD_PATH";
/// Marks a report line; the test harness prints its own text on stdout too.
const PREFIX: &str = "@@child@@ ";

/// The role this process was started to play, or `None` in the parent.
pub fn role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

/// The protocol file the parent told the child to write.
pub fn target_path() -> PathBuf {
    PathBuf::from(std::env::var_os(PATH_VAR).expect("child started without a path"))
}

/// A running child and the reports it has not read yet.
pub struct ChildProcess {
    pub child: Child,
    reports: Lines<BufReader<ChildStdout>>,
}

/// Starts this test binary again, running only `test_name`, as a child in
/// `role` writing `path`. Its stdin is a pipe: closing it (or dropping the
/// `ChildProcess`) is a signal the child may wait for.
pub fn spawn(test_name: &str, role: &str, path: &Path) -> ChildProcess {
    spawn_with(test_name, role, path, |_| {})
}

/// [`spawn`], letting the caller adjust the command (extra environment).
pub fn spawn_with(
    test_name: &str,
    role: &str,
    path: &Path,
    adjust: impl FnOnce(&mut Command),
) -> ChildProcess {
    let exe = std::env::current_exe().expect("test binary path");
    let mut command = Command::new(exe);
    command
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role)
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
    }
}

impl ChildProcess {
    /// Waits for the child's next report starting with `what` and returns
    /// the rest of it. Panics if the child exits first.
    pub fn expect(&mut self, what: &str) -> String {
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
