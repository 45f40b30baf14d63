//! The receiver's waker slot: one registrar (the receiver), many
//! notifiers (senders), no lock, no allocation.
//!
//! The protocol is an `AtomicWaker` variant in which a notifier that finds
//! no waker to wake does one read-modify-write and nothing else, so a send
//! to a receiver that is not waiting costs one uncontended atomic.
//!
//! # Why no wake-up is lost
//!
//! Every write to `state` is a read-modify-write (even where a plain store
//! would do for the value), so they form one release sequence: each one
//! acquires what every earlier one released. (loom found the lost wake-up
//! that a plain `store(0)` at the end of a notify allows: a second notifier
//! that saw `BUSY` and left, whose publication the woken receiver then did
//! not see.) A sender
//! publishes its message (or its sender-count decrement, or returned
//! credit) and *then* notifies; the receiver registers and *then* looks at
//! the ring and counters again. Either the notify comes after the
//! registration in `state`'s order and sees `WAKER` (and wakes it), or it
//! comes before, and the registration's read-modify-write acquires it, so
//! the receiver's second look sees what the sender published.

use crate::sync::{AtomicUsize, Ordering, UnsafeCell, spin_loop};
use core::task::Waker;

/// The cell holds a waker that wants to be woken.
const WAKER: usize = 1;
/// Someone holds the cell: the receiver storing a waker, or a notifier
/// taking it. `WAKER` is clear while `BUSY` is set.
const BUSY: usize = 2;

/// The receiver's waker.
pub(crate) struct RxWaker {
    /// `0`, `WAKER` or `BUSY`. Transitions:
    /// - register: `0 | WAKER -> BUSY` (CAS), then `BUSY -> WAKER` (swap);
    /// - notify: `WAKER -> BUSY` (CAS), then `BUSY -> 0` (swap);
    /// - every notify first does a no-op read-modify-write (`fetch_or(0)`)
    ///   so that it is ordered with registrations (module docs).
    state: AtomicUsize,
    /// Guarded by `BUSY`: only the holder of `BUSY` touches it.
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the waker cell is only touched by the holder of BUSY, which
// `state` grants to one thread at a time; `Waker` is `Send + Sync`.
unsafe impl Send for RxWaker {}
// SAFETY: as above.
unsafe impl Sync for RxWaker {}

impl RxWaker {
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicUsize::new(0),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` to be woken by the next [`notify`](Self::notify).
    /// Only the receiver calls this (it holds `&mut Receiver`), so there is
    /// one registrar at a time. The caller looks at the mailbox again after
    /// it returns.
    ///
    /// Returns `false` if a notifier was taking the previous waker at that
    /// moment: that notifier published something first, but the caller
    /// must then wake its own task (it may differ from the previous one)
    /// rather than rely on a stored waker.
    pub(crate) fn register(&self, waker: &Waker) -> bool {
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if cur & BUSY != 0 {
                // The notifier holds BUSY for a few instructions; give it
                // the processor (under loom, a yield: the caller's
                // self-wake must not starve it).
                spin_loop();
                return false;
            }
            match self
                .state
                .compare_exchange_weak(cur, BUSY, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        self.waker.with_mut(|cell| {
            // SAFETY: we hold BUSY, so nobody else touches the cell.
            let slot = unsafe { &mut *cell };
            match slot {
                Some(old) if old.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        });
        // A swap, not a store: it must read (and acquire) any notify that
        // ran while we held BUSY.
        self.state.swap(WAKER, Ordering::AcqRel);
        true
    }

    /// Wakes the registered waker, if any. Call it after publishing what
    /// the receiver should see.
    #[inline]
    pub(crate) fn notify(&self) {
        if self.state.fetch_or(0, Ordering::AcqRel) == WAKER {
            self.notify_slow();
        }
    }

    #[cold]
    fn notify_slow(&self) {
        if self
            .state
            .compare_exchange(WAKER, BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Another notifier took the waker, or the receiver is
            // registering again (it will look at the mailbox after that,
            // and its CAS acquired our fetch_or).
            return;
        }
        let waker = self.waker.with_mut(|cell| {
            // SAFETY: we hold BUSY, so nobody else touches the cell.
            unsafe { (*cell).take() }
        });
        // A swap, not a store: every write to `state` must be a
        // read-modify-write, or a notifier that found BUSY (and left its
        // publication to us) would not be in the release sequence that the
        // receiver's next registration acquires.
        self.state.swap(0, Ordering::AcqRel);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl core::fmt::Debug for RxWaker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RxWaker")
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::RxWaker;
    use crate::sync::{Arc, AtomicBool, Ordering, model, thread};
    use core::task::{Context, Poll};

    /// A notifier publishes a flag then notifies; the receiver registers,
    /// then looks at the flag: it either sees the flag or is woken.
    #[test]
    fn loom_no_lost_wakeup() {
        model(|| {
            let waker = Arc::new(RxWaker::new());
            let flag = Arc::new(AtomicBool::new(false));
            let notifier = {
                let (waker, flag) = (Arc::clone(&waker), Arc::clone(&flag));
                thread::spawn(move || {
                    flag.store(true, Ordering::Relaxed);
                    waker.notify();
                })
            };
            poll_until(|cx| {
                if flag.load(Ordering::Relaxed) {
                    return Poll::Ready(());
                }
                if !waker.register(cx.waker()) {
                    cx.waker().wake_by_ref();
                }
                if flag.load(Ordering::Relaxed) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            });
            notifier.join().unwrap();
        });
    }

    /// Two notifiers race each other and a re-registration.
    #[test]
    fn loom_two_notifiers() {
        model(|| {
            let waker = Arc::new(RxWaker::new());
            let count = Arc::new(crate::sync::AtomicUsize::new(0));
            let notifiers: Vec<_> = (0..2)
                .map(|_| {
                    let (waker, count) = (Arc::clone(&waker), Arc::clone(&count));
                    thread::spawn(move || {
                        count.fetch_add(1, Ordering::Relaxed);
                        waker.notify();
                    })
                })
                .collect();
            poll_until(|cx| {
                if count.load(Ordering::Relaxed) == 2 {
                    return Poll::Ready(());
                }
                if !waker.register(cx.waker()) {
                    cx.waker().wake_by_ref();
                }
                if count.load(Ordering::Relaxed) == 2 {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            });
            for n in notifiers {
                n.join().unwrap();
            }
        });
    }

    fn poll_until(mut f: impl FnMut(&mut Context<'_>) -> Poll<()>) {
        #[cfg(flowgate_loom)]
        loom::future::block_on(core::future::poll_fn(|cx| f(cx)));
        #[cfg(not(flowgate_loom))]
        futures::executor::block_on(core::future::poll_fn(|cx| f(cx)));
    }
}
