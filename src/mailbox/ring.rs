//! The message ring: a preallocated array queue with a sequence stamp per
//! slot, after Dmitry Vyukov's *bounded MPMC queue*
//! (<https://www.1024cores.net/home/lock-free-algorithms/queues/bounded-mpmc-queue>,
//! also the algorithm of crossbeam's `array` flavour).
//!
//! # Positions and stamps
//!
//! `head` and `tail` count positions (`usize`, wrapping). Position `p` lives
//! in slot `p & mask`; the number of slots is a power of two, so wrapping
//! arithmetic on positions stays consistent with the slot index. Each slot's
//! `stamp` says what the slot is waiting for:
//!
//! - `stamp == p`: empty, ready to be written by the push of position `p`;
//! - `stamp == p + 1`: holds the message of position `p`, ready to pop;
//! - after the pop of `p`: `stamp = p + slots`, ready for the next lap.
//!
//! # Differences from Vyukov's queue
//!
//! Pushers never find the ring full: the mailbox lets a sender push only
//! while it holds a slot credit (see the parent module), so at most
//! `capacity <= slots` positions are claimed and not yet fully popped. A
//! push therefore claims its position with one `fetch_add` on `tail`
//! instead of a compare-and-swap loop, and then waits for its slot's stamp.
//! With a single popper (the receiver) the slot is always free already;
//! only when an evicting sender (`Overflow::DropOldest`) pops concurrently
//! with the receiver can pops finish out of order, and a push may spin for
//! the few instructions that the slower pop has left.
//!
//! Pops claim their position with a compare-and-swap on `head`, so the
//! receiver and evicting senders may race. Where nothing but the receiver
//! ever pops (`Overflow::Block` and `RejectNew`), the receiver uses
//! [`pop_exclusive`](Ring::pop_exclusive) instead: `head` is then its own
//! counter, read and advanced with a plain load and store, and a pop costs
//! no read-modify-write at all (the stamp, `Acquire` to take the message
//! and `Release` to hand the slot back, does the synchronisation).

use crate::sync::{AtomicUsize, Ordering, UnsafeCell, spin_loop};
use core::mem::MaybeUninit;
use core::ops::Deref;

/// Aligns a hot atomic on its own cache line(s) so that the senders' `tail`
/// and the receiver's `head` do not false-share: each side writes its own
/// counter on every message. 128 bytes because x86-64 and Apple silicon
/// prefetch (or use) lines in pairs.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

struct Slot<T> {
    /// See the module docs. Written with `Release` by the side that hands
    /// the slot over, read with `Acquire` by the side that takes it.
    stamp: AtomicUsize,
    /// Guarded by `stamp`: written only by the pusher that claimed position
    /// `p` while `stamp == p`, read only by the popper that claimed `p`
    /// while `stamp == p + 1`. Initialised exactly while `stamp == p + 1`
    /// for the slot's current position `p`.
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A bounded multi-producer multi-consumer ring of `T`.
pub(crate) struct Ring<T> {
    /// Next position to pop. Advanced by compare-and-swap by poppers, or by
    /// a plain store by the only popper (`pop_exclusive`).
    head: CachePadded<AtomicUsize>,
    /// Next position to push. Advanced by `fetch_add` by pushers (which
    /// hold a slot credit, so the ring never overfills); the receiver's
    /// no-op `sync_tail` orders its parking with the pushes.
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    mask: usize,
}

// SAFETY: the ring moves `T` values between threads (so `T: Send`) and
// never hands out shared references to them, so `T: Sync` is not needed.
// Every access to a slot's value is guarded by its stamp (see `Slot`).
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above; `&Ring<T>` only lets a thread push or pop whole values.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// A ring with room for at least `capacity` messages (rounded up to a
    /// power of two).
    pub(crate) fn new(capacity: usize) -> Self {
        let size = capacity.next_power_of_two();
        let slots = (0..size)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Self {
            head: CachePadded(AtomicUsize::new(0)),
            tail: CachePadded(AtomicUsize::new(0)),
            slots,
            mask: size - 1,
        }
    }

    /// The slot of position `pos`, without a bounds check (this is on
    /// every push and pop).
    #[inline(always)]
    fn slot(&self, pos: usize) -> &Slot<T> {
        let index = pos & self.mask;
        debug_assert!(index < self.slots.len());
        // SAFETY: `mask` is `slots.len() - 1` and `slots.len()` is a power
        // of two (see `new`), so `pos & mask < slots.len()`.
        unsafe { self.slots.get_unchecked(index) }
    }

    /// Pushes `value`. The caller must hold a slot credit for it (so that
    /// fewer than `slots` positions are in use), or this may spin forever.
    #[inline]
    pub(crate) fn push(&self, value: T) {
        // AcqRel: a read-modify-write of `tail` is how a push is ordered
        // with the receiver's parking (`sync_tail`, see `notify.rs`).
        let pos = self.tail.fetch_add(1, Ordering::AcqRel);
        let slot = self.slot(pos);
        // Wait for the pop of the previous lap to finish (only ever needed
        // when pops race, see the module docs).
        while slot.stamp.load(Ordering::Acquire) != pos {
            spin_loop();
        }
        slot.value.with_mut(|cell| {
            // SAFETY: `stamp == pos` and we claimed `pos` alone (fetch_add),
            // so nobody else reads or writes this slot until we publish it.
            unsafe { (*cell).write(value) };
        });
        slot.stamp.store(pos.wrapping_add(1), Ordering::Release);
    }

    /// Pops the oldest message, or `None` if the slot at `head` holds none
    /// (the ring is empty, or the push of that position is in flight).
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(head);
            let stamp = slot.stamp.load(Ordering::Acquire);
            let full = head.wrapping_add(1);
            if stamp == full {
                match self.head.compare_exchange_weak(
                    head,
                    full,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let value = slot.value.with(|cell| {
                            // SAFETY: `stamp == head + 1` (acquired above)
                            // means the message of `head` is initialised,
                            // and the CAS made us its only popper. The
                            // stamp store below hands the slot on, so it is
                            // read exactly once.
                            unsafe { (*cell).assume_init_read() }
                        });
                        slot.stamp
                            .store(head.wrapping_add(self.slots.len()), Ordering::Release);
                        return Some(value);
                    }
                    Err(actual) => head = actual,
                }
            } else if (stamp.wrapping_sub(full) as isize) < 0 {
                // stamp == head: not written yet for this lap.
                return None;
            } else {
                // Another popper took `head`; look again.
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// A no-op read-modify-write of `tail` (the receiver's, when it parks):
    /// every push's claim is either before it in `tail`'s order (and counted
    /// in the position returned) or after it (and acquires what the
    /// receiver wrote before). Returns the next position to push.
    #[inline]
    pub(crate) fn sync_tail(&self) -> usize {
        self.tail.fetch_add(0, Ordering::AcqRel)
    }

    /// The next position to pop.
    #[inline]
    pub(crate) fn head(&self) -> usize {
        self.head.load(Ordering::Acquire)
    }

    /// Pops the oldest message, or `None` if the slot at `head` holds none,
    /// without claiming the position by compare-and-swap.
    ///
    /// # Safety
    ///
    /// No other pop ([`pop`](Self::pop), [`pop_evict`](Self::pop_evict) or
    /// this) may run concurrently on this ring, ever, while this one runs:
    /// the caller is the only popper (the receiver, under an overflow policy
    /// that never evicts, holding `&mut Receiver`).
    #[inline]
    pub(crate) unsafe fn pop_exclusive(&self) -> Option<T> {
        // Only we write `head`, so our own last store is what we read.
        let head = self.head.load(Ordering::Relaxed);
        let slot = self.slot(head);
        if slot.stamp.load(Ordering::Acquire) != head.wrapping_add(1) {
            // Not written yet for this lap (empty, or a push in flight).
            return None;
        }
        let value = slot.value.with(|cell| {
            // SAFETY: `stamp == head + 1` (acquired above) means the message
            // of `head` is initialised; we are the only popper (the caller's
            // contract), so nobody else reads it, and the stamp store below
            // hands the slot on, so it is read exactly once.
            unsafe { (*cell).assume_init_read() }
        });
        // `head` first (Relaxed: it only feeds `len` and later pops, ours),
        // then the stamp that lets the push of the next lap in.
        self.head.store(head.wrapping_add(1), Ordering::Relaxed);
        slot.stamp
            .store(head.wrapping_add(self.slots.len()), Ordering::Release);
        Some(value)
    }

    /// Pops the oldest message for eviction: like [`pop`](Self::pop), but
    /// if a push is in flight at `head` it waits for that push instead of
    /// reporting empty. `None` only when no position is claimed at all.
    pub(crate) fn pop_evict(&self) -> Option<T> {
        loop {
            if let Some(value) = self.pop() {
                return Some(value);
            }
            let head = self.head.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Acquire);
            if (tail.wrapping_sub(head) as isize) <= 0 {
                return None;
            }
            spin_loop();
        }
    }

    /// Positions claimed by pushes and not yet popped (messages buffered or
    /// being written), at most `cap`.
    pub(crate) fn len(&self, cap: usize) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        let diff = tail.wrapping_sub(head) as isize;
        (diff.max(0) as usize).min(cap)
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // Nobody else holds the ring; every claimed position was written.
        drain_all(|| self.pop());
    }
}

/// Pops and drops messages until `pop` returns `None`. A message's `Drop`
/// may panic: a guard then keeps draining while unwinding, so every message
/// is dropped once, and the panic goes on afterwards (a second panic while
/// unwinding aborts, as with any drop).
pub(super) fn drain_all<T>(pop: impl FnMut() -> Option<T>) {
    struct Drain<T, F: FnMut() -> Option<T>>(F);
    impl<T, F: FnMut() -> Option<T>> Drop for Drain<T, F> {
        fn drop(&mut self) {
            while let Some(msg) = (self.0)() {
                drop(msg);
            }
        }
    }
    let mut drain = Drain(pop);
    while let Some(msg) = (drain.0)() {
        drop(msg);
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;
    use crate::sync::{Arc, model, thread};

    #[test]
    fn fifo_wraps_and_drops_leftovers() {
        let ring = Ring::new(3);
        assert_eq!(ring.slots.len(), 4);
        for lap in 0..5 {
            for i in 0..4 {
                ring.push(lap * 10 + i);
            }
            assert_eq!(ring.len(4), 4);
            for i in 0..4 {
                assert_eq!(ring.pop(), Some(lap * 10 + i));
            }
            assert_eq!(ring.pop(), None);
            assert_eq!(ring.pop_evict(), None);
        }
        let strings = Ring::new(2);
        strings.push(String::from("left in the ring"));
        drop(strings);
    }

    /// Two pushers (each holding one of two credits) and a popper: every
    /// value comes out once, each pusher's in order.
    #[test]
    fn loom_push_pop() {
        model(|| {
            let ring = Arc::new(Ring::new(2));
            let pushers: Vec<_> = (0..2)
                .map(|id| {
                    let ring = Arc::clone(&ring);
                    thread::spawn(move || ring.push(id))
                })
                .collect();
            let mut seen = Vec::new();
            while seen.len() < 2 {
                match ring.pop() {
                    Some(v) => seen.push(v),
                    None => crate::sync::spin_loop(),
                }
            }
            for p in pushers {
                p.join().unwrap();
            }
            seen.sort_unstable();
            assert_eq!(seen, [0, 1]);
            assert_eq!(ring.pop(), None);
        });
    }

    /// The only popper pops with plain loads and stores of `head` while a
    /// pusher fills both slots and reuses the first on the next lap (its
    /// third push waits for the pop's stamp, as a credit would make it):
    /// the values come out once, in order.
    #[test]
    fn loom_exclusive_pop_reuses_slot() {
        model(|| {
            let ring = Arc::new(Ring::new(2));
            let pusher = {
                let ring = Arc::clone(&ring);
                thread::spawn(move || {
                    for v in 1..=3 {
                        ring.push(v);
                    }
                })
            };
            let mut seen = Vec::new();
            while seen.len() < 3 {
                // SAFETY: this thread is the ring's only popper.
                match unsafe { ring.pop_exclusive() } {
                    Some(v) => seen.push(v),
                    None => crate::sync::spin_loop(),
                }
            }
            pusher.join().unwrap();
            assert_eq!(seen, [1, 2, 3]);
            assert_eq!(ring.len(2), 0);
        });
    }

    /// An evicting popper races the receiver's pop while a pusher reuses
    /// the slot: each message is popped exactly once, none is lost.
    #[test]
    fn loom_evict_races_pop() {
        model(|| {
            let ring = Arc::new(Ring::new(1));
            ring.push(1);
            let evictor = {
                let ring = Arc::clone(&ring);
                thread::spawn(move || {
                    // The evictor takes over the credit of what it pops.
                    let old = ring.pop_evict();
                    if old.is_some() {
                        ring.push(2);
                    }
                    old
                })
            };
            let got = ring.pop();
            let evicted = evictor.join().unwrap();
            let rest = ring.pop();
            let mut all: Vec<_> = [got, evicted, rest].into_iter().flatten().collect();
            all.sort_unstable();
            match evicted {
                Some(1) => assert_eq!(all, [1, 2]),
                None => assert_eq!(all, [1]),
                other => panic!("evicted {other:?}"),
            }
        });
    }
}
