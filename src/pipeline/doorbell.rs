//! When the extraction thread wakes up: not for every span, but once a burst
//! has had time to arrive, once the queue is a quarter full, or at once for a
//! flush or shutdown.
//!
//! A consumer that wakes for every message runs in lock-step with the
//! application's thread on the other core: each span's memory and queue slot
//! pass between the two caches while both are busy, and the application's
//! thread pays for that in its span calls. The bench shows the effect alone
//! (`--scenario naive_handoff`, a processor that copies each starting span
//! and hands it to a thread that takes each one as it comes): about twice the
//! application-thread time of the SDK's `BatchSpanProcessor`. The same
//! hand-off with a thread that empties the queue every 5 ms
//! (`--scenario naive_handoff_polling`) takes the batch processor's time.
//! That processor avoids the effect the same way: its thread is woken when
//! 512 spans of its 2,048-span queue are waiting, or by a timer.
//!
//! The price is that an entry reaches the storage up to [`LINGER`] later when
//! nothing asks for it sooner; `force_flush` and shutdown are not delayed.

use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

/// How long the extraction thread lets a burst gather after its first span,
/// unless the queue fills to the wake threshold or a flush comes first.
pub(crate) const LINGER: Duration = Duration::from_millis(5);

/// The producers' side: rings the extraction thread when it should wake.
/// Dropping it (with the pipeline's `Core`) wakes the thread for good.
#[derive(Debug)]
pub(crate) struct Doorbell {
    /// Holds at most one pending ring: more would say nothing new.
    ring: Sender<()>,
    state: Arc<SleepState>,
}

/// The extraction thread's side: what it sets before sleeping, and where it
/// waits.
#[derive(Debug)]
pub(crate) struct Sleeper {
    rings: Receiver<()>,
    state: Arc<SleepState>,
}

#[derive(Debug)]
struct SleepState {
    /// The thread waits with nothing queued: the next message must wake it.
    parked: AtomicBool,
    /// The thread lets a burst gather: only a full-enough queue wakes it early.
    lingering: AtomicBool,
    /// A flush or shutdown is queued: the thread must not linger.
    urgent: AtomicBool,
    /// Queued messages at which a lingering thread is woken.
    wake_at: usize,
}

/// A doorbell for a queue of `queue_capacity` messages, and its sleeper.
pub(crate) fn doorbell(queue_capacity: usize) -> (Doorbell, Sleeper) {
    let (ring, rings) = crossbeam_channel::bounded(1);
    let state = Arc::new(SleepState {
        parked: AtomicBool::new(false),
        lingering: AtomicBool::new(false),
        urgent: AtomicBool::new(false),
        wake_at: (queue_capacity / 4).max(1),
    });
    let sleeper = Sleeper {
        rings,
        state: Arc::clone(&state),
    };
    (Doorbell { ring, state }, sleeper)
}

impl Doorbell {
    /// Called by a producer after it queued a message, with the queue's length
    /// then (asked for only when it matters).
    pub(crate) fn after_send(&self, queued: impl FnOnce() -> usize) {
        let state = &*self.state;
        // Pairs with the fence in `Sleeper::set`: either the thread sees the
        // message before it sleeps, or this sees the flag it set.
        fence(Ordering::SeqCst);
        if state.parked.load(Ordering::Relaxed) {
            if state.parked.swap(false, Ordering::SeqCst) {
                self.ring();
            }
        } else if state.lingering.load(Ordering::Relaxed) && queued() >= state.wake_at {
            state.lingering.store(false, Ordering::Relaxed);
            self.ring();
        }
    }

    /// Wakes the thread now and keeps it from lingering: for a flush or
    /// shutdown request, called after the request is queued.
    pub(crate) fn ring_urgently(&self) {
        self.state.urgent.store(true, Ordering::SeqCst);
        self.ring();
    }

    fn ring(&self) {
        // Full: a ring is already pending. Disconnected: the thread is gone.
        let _ = self.ring.try_send(());
    }
}

impl Sleeper {
    /// Sets `parked` (before the thread checks the queue one last time and
    /// sleeps) or clears it; see [`Doorbell::after_send`].
    pub(crate) fn set_parked(&self, parked: bool) {
        Self::set(&self.state.parked, parked);
    }

    /// Sets or clears `lingering`, like [`Sleeper::set_parked`].
    pub(crate) fn set_lingering(&self, lingering: bool) {
        Self::set(&self.state.lingering, lingering);
    }

    fn set(flag: &AtomicBool, value: bool) {
        flag.store(value, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Whether a flush or shutdown was queued since the last call.
    pub(crate) fn take_urgent(&self) -> bool {
        self.state.urgent.swap(false, Ordering::SeqCst)
    }

    /// Queued messages at which the thread stops lingering.
    pub(crate) fn wake_at(&self) -> usize {
        self.state.wake_at
    }

    /// Where the rings arrive; disconnected once the doorbell is dropped.
    pub(crate) fn rings(&self) -> &Receiver<()> {
        &self.rings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parked_thread_is_rung_by_the_first_message_only() {
        let (doorbell, sleeper) = doorbell(16);
        sleeper.set_parked(true);
        doorbell.after_send(|| 1);
        assert!(sleeper.rings().try_recv().is_ok());
        doorbell.after_send(|| 2);
        assert!(sleeper.rings().try_recv().is_err(), "no longer parked");
    }

    #[test]
    fn a_lingering_thread_is_rung_at_a_quarter_of_the_queue() {
        let (doorbell, sleeper) = doorbell(16);
        sleeper.set_lingering(true);
        doorbell.after_send(|| 3);
        assert!(sleeper.rings().try_recv().is_err());
        doorbell.after_send(|| 4);
        assert!(sleeper.rings().try_recv().is_ok());
        doorbell.after_send(|| 5);
        assert!(sleeper.rings().try_recv().is_err(), "rung once");
    }

    #[test]
    fn a_busy_thread_is_not_rung_and_the_queue_length_is_not_read() {
        let (doorbell, sleeper) = doorbell(16);
        doorbell.after_send(|| unreachable!("the length only matters while lingering"));
        assert!(sleeper.rings().try_recv().is_err());
    }

    #[test]
    fn an_urgent_ring_is_remembered_once_and_rings_do_not_pile_up() {
        let (doorbell, sleeper) = doorbell(16);
        doorbell.ring_urgently();
        doorbell.ring_urgently();
        assert!(sleeper.take_urgent());
        assert!(!sleeper.take_urgent());
        assert!(sleeper.rings().try_recv().is_ok());
        assert!(sleeper.rings().try_recv().is_err());
    }

    #[test]
    fn dropping_the_doorbell_disconnects_the_sleeper() {
        let (doorbell, sleeper) = doorbell(16);
        drop(doorbell);
        assert!(sleeper.rings().recv().is_err());
    }

    #[test]
    fn a_tiny_queue_still_has_a_threshold() {
        assert_eq!(doorbell(1).1.wake_at(), 1);
    }
}
