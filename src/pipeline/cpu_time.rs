//! The CPU time of the calling thread: the pipeline's threads report their
//! own in [`ProtocolStats`](super::ProtocolStats), so what the protocol costs
//! the machine can be read off a running application rather than guessed
//! from wall-clock rates, which depend on how many cores are free.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// CPU time the calling thread has run for (user and system), or `None`
/// where the platform does not say. On Linux this is
/// `CLOCK_THREAD_CPUTIME_ID`: a system call of well under a microsecond,
/// made once per batch.
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    #[cfg(target_os = "linux")]
    {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Some(Duration::new(
            u64::try_from(now.tv_sec).ok()?,
            u32::try_from(now.tv_nsec).ok()?,
        ))
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Stores the calling thread's CPU time so far, in nanoseconds, in `total`.
/// Only the thread itself writes it, so a store (not an add) is exact.
pub(crate) fn record_thread_cpu(total: &AtomicU64) {
    if let Some(spent) = thread_cpu_time() {
        let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        total.store(nanos, Ordering::Relaxed);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_records_the_time_it_ran() {
        let total = AtomicU64::new(0);
        record_thread_cpu(&total);
        let before = total.load(Ordering::Relaxed);
        assert!(before > 0, "a running thread has used some CPU");
        // Work the optimizer cannot remove until the clock shows 5 ms more;
        // the wall-clock bound only stops a clock that never moves (on a
        // busy machine the thread gets a share of a core, not all of it).
        let started = std::time::Instant::now();
        let mut x = 1_u64;
        let mut after = before;
        while after < before + 5_000_000 && started.elapsed() < Duration::from_secs(10) {
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005) ^ 1);
            }
            record_thread_cpu(&total);
            after = total.load(Ordering::Relaxed);
        }
        assert!(
            after >= before + 5_000_000,
            "10 s of spinning did not add 5 ms of CPU: {before} -> {after}"
        );
        assert!(
            Duration::from_nanos(after - before) <= started.elapsed() + Duration::from_millis(1),
            "a thread cannot use more CPU than the time that passed"
        );
    }

    #[test]
    fn a_sleeping_thread_records_little() {
        let total = AtomicU64::new(0);
        record_thread_cpu(&total);
        let before = total.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(50));
        record_thread_cpu(&total);
        let after = total.load(Ordering::Relaxed);
        assert!(
            after - before < 40_000_000,
            "50 ms asleep is not 40 ms of CPU: {before} -> {after}"
        );
    }
}
