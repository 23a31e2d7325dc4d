//! The scheduling priority of the pipeline's own threads.

/// How the pipeline's threads compete with the application's for the CPU.
///
/// On a busy machine the extraction and writer threads (and the SQLite
/// storage's checkpoint thread, which the writer starts and which inherits
/// its priority) share cores with the application. At [`Background`](Self::Background) (the default) they run
/// with a nice value 10 above the application's, so when both want a core
/// the application's threads win and recording does not slow the agent; the
/// pipeline catches up whenever the application waits (on a model, a tool, or
/// on a full queue, where [`QueueFullPolicy`](crate::pipeline::QueueFullPolicy) applies).
/// On a machine kept busy for seconds by other work, that can mean the queue
/// fills and entries are dropped (counted and warned about); choose
/// [`Normal`](Self::Normal) there.
///
/// Linux only: elsewhere both levels leave the threads at the priority they
/// were started with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThreadPriority {
    /// Below the application's threads (nice +10 on Linux).
    #[default]
    Background,
    /// The priority the threads were started with, like the application's.
    Normal,
}

/// The nice value added for [`ThreadPriority::Background`]: enough that the
/// scheduler keeps the application's threads on a core of their own, while the
/// pipeline still gets about a tenth of a contended core.
#[cfg(target_os = "linux")]
const BACKGROUND_NICENESS: i32 = 10;

impl ThreadPriority {
    /// Starts a named pipeline thread running `work` at this priority.
    pub(crate) fn spawn(
        self,
        name: &str,
        work: impl FnOnce() + Send + 'static,
    ) -> crate::error::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                self.apply_to_current_thread();
                work();
            })
            .map_err(|err| {
                crate::error::ProtocolError::Worker(format!("cannot start {name}: {err}"))
            })
    }

    /// Applies the priority to the calling thread. Never fails the pipeline:
    /// a thread that cannot be lowered just runs at the normal priority.
    fn apply_to_current_thread(self) {
        #[cfg(target_os = "linux")]
        if self == ThreadPriority::Background {
            // On Linux the nice value belongs to the thread: PRIO_PROCESS with
            // no pid changes the calling thread only (setpriority(2), BUGS).
            let current = rustix::process::getpriority_process(None).unwrap_or(0);
            if let Err(err) =
                rustix::process::setpriority_process(None, current + BACKGROUND_NICENESS)
            {
                tracing::debug!(error = %err, "protocol thread keeps the normal priority");
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn niceness_in_new_thread(priority: ThreadPriority) -> i32 {
        std::thread::spawn(move || {
            priority.apply_to_current_thread();
            rustix::process::getpriority_process(None).expect("own priority")
        })
        .join()
        .expect("thread")
    }

    #[test]
    fn background_lowers_only_the_calling_thread() {
        let before = rustix::process::getpriority_process(None).expect("priority");
        let lowered = niceness_in_new_thread(ThreadPriority::Background);
        assert_eq!(lowered, (before + BACKGROUND_NICENESS).min(19));
        // The test's own thread (standing in for the application) is untouched.
        assert_eq!(
            rustix::process::getpriority_process(None).expect("priority"),
            before
        );
    }

    #[test]
    fn normal_leaves_the_priority_alone() {
        let before = rustix::process::getpriority_process(None).expect("priority");
        assert_eq!(niceness_in_new_thread(ThreadPriority::Normal), before);
    }
}
