//! The receiver's waker slot: one registrar (the receiver), many
//! notifiers (senders), no lock, no allocation.
//!
//! The protocol is an `AtomicWaker` variant in which a notifier that finds
//! no waker to wake only *loads* `state`: a send to a receiver that is not
//! waiting writes nothing here, so the senders of a busy mailbox do not
//! fight over this cache line.
//!
//! # Why no wake-up is lost
//!
//! This is the store-buffer (Dekker) pattern, closed with two `SeqCst`
//! fences. A notifier publishes (a message's stamp, the sender-count
//! decrement, a returned credit), then `fence(SeqCst)`, then loads `state`.
//! The receiver registers (its last write to `state` is the swap to
//! `WAKER`), then `fence(SeqCst)` (at the end of
//! [`register`](RxWaker::register)), then looks at the ring and counters
//! again. The fences are totally ordered: if the notifier's comes first,
//! the receiver's second look sees the publication; if the receiver's
//! comes first, the notifier's load sees `WAKER` (or a later value: `BUSY`
//! of another notifier that is taking the waker and will wake it, or of a
//! re-registration whose own fence then follows ours, so whose look sees
//! our publication) and wakes it.
//!
//! # Pushes need no fence
//!
//! A message is published through the ring, whose pushes claim their
//! position with a read-modify-write of `tail`; the receiver, after it
//! registers, does a no-op read-modify-write of `tail` too (`sync_tail`).
//! All of them are in `tail`'s one modification order, so a push is either
//! before the receiver's (its position is below the `tail` the receiver
//! read: the receiver sees the message, or sees the push still in flight
//! and polls again rather than sleep) or after it (its claim acquires the
//! registration, and [`notify_pushed`](RxWaker::notify_pushed), a plain
//! load, sees `WAKER` or a later value as above). So a push costs no fence
//! and no write here when the receiver is not waiting.
//!
//! Writes to `state`: the receiver's `0 | WAKER -> BUSY` (CAS) and
//! `BUSY -> WAKER` (swap); a notifier's `WAKER -> BUSY` (CAS) and
//! `BUSY -> 0` (swap). `BUSY` grants the waker cell to one thread.

use crate::sync::{AtomicUsize, Ordering, UnsafeCell, fence, spin_loop};
use core::task::Waker;

/// The cell holds a waker that wants to be woken.
const WAKER: usize = 1;
/// Someone holds the cell: the receiver storing a waker, or a notifier
/// taking it. `WAKER` is clear while `BUSY` is set.
const BUSY: usize = 2;

/// The receiver's waker.
pub(crate) struct RxWaker {
    /// `0`, `WAKER` or `BUSY`. Transitions:
    /// - register: `0 | WAKER -> BUSY` (CAS), then `BUSY -> WAKER` (swap),
    ///   then `fence(SeqCst)`;
    /// - notify: `fence(SeqCst)`, load; if `WAKER`: `WAKER -> BUSY` (CAS),
    ///   then `BUSY -> 0` (swap) and wake (module docs).
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
    ///
    /// Ends with `fence(SeqCst)` in both cases: the caller's next look at
    /// the mailbox pairs with the notifiers' fences (module docs).
    pub(crate) fn register(&self, waker: &Waker) -> bool {
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if cur & BUSY != 0 {
                // The notifier holds BUSY for a few instructions; give it
                // the processor (under loom, a yield: the caller's
                // self-wake must not starve it).
                spin_loop();
                fence(Ordering::SeqCst);
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
        let replaced = self.waker.with_mut(|cell| {
            // SAFETY: we hold BUSY, so nobody else touches the cell.
            let slot = unsafe { &mut *cell };
            match slot {
                Some(old) if old.will_wake(waker) => None,
                _ => slot.replace(waker.clone()),
            }
        });
        // A swap, not a store: it must read (and acquire) any notify that
        // ran while we held BUSY.
        self.state.swap(WAKER, Ordering::AcqRel);
        // Pairs with the notifiers' fence (module docs).
        fence(Ordering::SeqCst);
        // Dropped once BUSY is released: a waker is user code, and it may
        // own a handle of this very mailbox whose drop notifies.
        drop(replaced);
        true
    }

    /// Releases the registered waker now (the receiver is being dropped:
    /// tokio too frees it at once, not when the last sender goes). If a
    /// notifier holds the cell at that moment, it is taking the waker and
    /// drops it after waking it. Only the receiver calls this.
    pub(crate) fn clear(&self) {
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if cur & BUSY != 0 {
                return;
            }
            match self
                .state
                .compare_exchange_weak(cur, BUSY, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        let waker = self.waker.with_mut(|cell| {
            // SAFETY: we hold BUSY, so nobody else touches the cell.
            unsafe { (*cell).take() }
        });
        self.state.swap(0, Ordering::AcqRel);
        // After BUSY is released, as in `register`.
        drop(waker);
    }

    /// Wakes the registered waker, if any. Call it after publishing what
    /// the receiver should see.
    #[inline]
    pub(crate) fn notify(&self) {
        // Pairs with the fence at the end of `register` (module docs).
        fence(Ordering::SeqCst);
        if self.state.load(Ordering::Relaxed) == WAKER {
            self.notify_slow();
        }
    }

    /// Wakes the registered waker, if any, after a ring push of a message.
    /// Only for that: it relies on the push's read-modify-write of the
    /// ring's `tail` instead of a fence (module docs).
    #[inline]
    pub(crate) fn notify_pushed(&self) {
        if self.state.load(Ordering::Relaxed) == WAKER {
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
            // Another notifier took the waker (and wakes it), or the
            // receiver is registering again (its fence follows ours, so its
            // look at the mailbox sees our publication).
            return;
        }
        let waker = self.waker.with_mut(|cell| {
            // SAFETY: we hold BUSY, so nobody else touches the cell.
            unsafe { (*cell).take() }
        });
        // A swap: the receiver's next registration reads it, and it must
        // not overwrite a concurrent write unseen (there is none: BUSY is
        // ours, so only we write `state` now).
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
