//! The message ring: a preallocated array queue with a sequence stamp per
//! slot, after Dmitry Vyukov's *bounded MPMC queue*
//! (<https://www.1024cores.net/home/lock-free-algorithms/queues/bounded-mpmc-queue>,
//! also the algorithm of crossbeam's `array` flavour).
//!
//! # Positions and stamps
//!
//! Positions are `u32`, wrapping. `head` is the next position to pop; the
//! next position to push (`tail`) is not kept here but in the senders'
//! slot word (see `slots.rs`), so that a send takes its slot and claims its
//! position in one read-modify-write. Position `p` lives in slot
//! `p & mask`; the number of slots is a power of two (at most `2^29`), so
//! wrapping arithmetic on positions stays consistent with the slot index
//! and a lap comparison fits in an `i32`. Each slot's `stamp` says what the
//! slot is waiting for:
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
//! push therefore claims its position by simply advancing `tail` (in the
//! same step as it takes its slot, or with a `fetch_add`), and
//! [`push_at`](Ring::push_at) then waits for its slot's stamp.
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

/// Aligns a hot atomic on its own cache line(s) so that the senders' word
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
    /// Next position to pop (a `u32`). Advanced by compare-and-swap by
    /// poppers, or by a plain store by the only popper (`pop_exclusive`).
    head: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    mask: u32,
}

// SAFETY: the ring moves `T` values between threads (so `T: Send`) and
// never hands out shared references to them, so `T: Sync` is not needed.
// Every access to a slot's value is guarded by its stamp (see `Slot`).
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above; `&Ring<T>` only lets a thread push or pop whole values.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// A ring with room for at least `capacity` messages (rounded up to a
    /// power of two); `capacity <= 2^29`.
    pub(crate) fn new(capacity: usize) -> Self {
        let size = capacity.next_power_of_two();
        assert!(size <= 1 << 29, "ring too large for u32 positions");
        let slots = (0..size)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Self {
            head: CachePadded(AtomicUsize::new(0)),
            slots,
            mask: (size - 1) as u32,
        }
    }

    /// The slot of position `pos`.
    #[inline]
    fn slot(&self, pos: u32) -> &Slot<T> {
        &self.slots[(pos & self.mask) as usize]
    }

    /// The number of slots, as a position offset.
    #[inline]
    fn size(&self) -> u32 {
        self.mask.wrapping_add(1)
    }

    /// Pushes `value` at position `pos`, which the caller claimed (advanced
    /// `tail` past it) while holding a slot credit for it (so that fewer
    /// than `slots` positions are in use), or this may spin forever.
    #[inline]
    pub(crate) fn push_at(&self, pos: u32, value: T) {
        let slot = self.slot(pos);
        // Wait for the pop of the previous lap to finish (only ever needed
        // when pops race, see the module docs).
        while slot.stamp.load(Ordering::Acquire) != pos as usize {
            spin_loop();
        }
        slot.value.with_mut(|cell| {
            // SAFETY: `stamp == pos` and we claimed `pos` alone (the
            // caller's advance of `tail`), so nobody else reads or writes
            // this slot until we publish it.
            unsafe { (*cell).write(value) };
        });
        slot.stamp
            .store(pos.wrapping_add(1) as usize, Ordering::Release);
    }

    /// Pops the oldest message, or `None` if the slot at `head` holds none
    /// (the ring is empty, or the push of that position is in flight).
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        let mut head = self.head.load(Ordering::Relaxed) as u32;
        loop {
            let slot = self.slot(head);
            let stamp = slot.stamp.load(Ordering::Acquire) as u32;
            let full = head.wrapping_add(1);
            if stamp == full {
                match self.head.compare_exchange_weak(
                    head as usize,
                    full as usize,
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
                            .store(head.wrapping_add(self.size()) as usize, Ordering::Release);
                        return Some(value);
                    }
                    Err(actual) => head = actual as u32,
                }
            } else if (stamp.wrapping_sub(full) as i32) < 0 {
                // stamp == head: not written yet for this lap.
                return None;
            } else {
                // Another popper took `head`; look again.
                head = self.head.load(Ordering::Relaxed) as u32;
            }
        }
    }

    /// The next position to pop.
    #[inline]
    pub(crate) fn head(&self) -> u32 {
        self.head.load(Ordering::Acquire) as u32
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
        let head = self.head.load(Ordering::Relaxed) as u32;
        let slot = self.slot(head);
        if slot.stamp.load(Ordering::Acquire) != head.wrapping_add(1) as usize {
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
        self.head
            .store(head.wrapping_add(1) as usize, Ordering::Relaxed);
        slot.stamp
            .store(head.wrapping_add(self.size()) as usize, Ordering::Release);
        Some(value)
    }

    /// Pops the oldest message for eviction: like [`pop`](Self::pop), but
    /// if a push is in flight at `head` it waits for that push instead of
    /// reporting empty. `None` only when no position is claimed at all
    /// (`tail()` reads the next position to push).
    pub(crate) fn pop_evict(&self, tail: impl Fn() -> u32) -> Option<T> {
        loop {
            if let Some(value) = self.pop() {
                return Some(value);
            }
            let head = self.head();
            if (tail().wrapping_sub(head) as i32) <= 0 {
                return None;
            }
            spin_loop();
        }
    }

    /// Positions claimed by pushes and not yet popped (messages buffered or
    /// being written), at most `cap`, for `tail` the next position to push
    /// (read after this loads `head`, so that a race shows as a negative
    /// difference, not as a lap too many).
    pub(crate) fn len(&self, tail: impl FnOnce() -> u32, cap: usize) -> usize {
        let head = self.head();
        let diff = tail().wrapping_sub(head) as i32;
        (diff.max(0) as usize).min(cap)
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // Nobody else holds the ring; every claimed position was written.
        while self.pop().is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;
    use crate::sync::{Arc, AtomicUsize, Ordering, model, thread};

    /// A ring with its own `tail` (the mailbox keeps it in the senders'
    /// slot word).
    struct Tailed {
        ring: Ring<i32>,
        tail: AtomicUsize,
    }

    impl Tailed {
        fn new(capacity: usize) -> Self {
            Self {
                ring: Ring::new(capacity),
                tail: AtomicUsize::new(0),
            }
        }

        fn push(&self, value: i32) {
            let pos = self.tail.fetch_add(1, Ordering::AcqRel) as u32;
            self.ring.push_at(pos, value);
        }

        fn tail(&self) -> u32 {
            self.tail.load(Ordering::Acquire) as u32
        }

        fn pop_evict(&self) -> Option<i32> {
            self.ring.pop_evict(|| self.tail())
        }

        fn len(&self) -> usize {
            self.ring.len(|| self.tail(), self.ring.slots.len())
        }
    }

    #[test]
    fn fifo_wraps_and_drops_leftovers() {
        let ring = Tailed::new(3);
        assert_eq!(ring.ring.slots.len(), 4);
        for lap in 0..5 {
            for i in 0..4 {
                ring.push(lap * 10 + i);
            }
            assert_eq!(ring.len(), 4);
            for i in 0..4 {
                assert_eq!(ring.ring.pop(), Some(lap * 10 + i));
            }
            assert_eq!(ring.ring.pop(), None);
            assert_eq!(ring.pop_evict(), None);
        }
        let strings = Ring::new(2);
        strings.push_at(0, String::from("left in the ring"));
        drop(strings);
    }

    /// Positions are `u32`: pushing and popping across `u32::MAX` keeps
    /// the order, the slot mapping and `len`.
    #[test]
    fn positions_wrap_past_u32_max() {
        let ring = Tailed::new(4);
        let start = u32::MAX - 2;
        // Put the empty ring where position `start` is next for both ends.
        for (j, slot) in ring.ring.slots.iter().enumerate() {
            let lap_pos = (0..4)
                .map(|k| start.wrapping_add(k))
                .find(|p| (p & 3) as usize == j);
            slot.stamp
                .store(lap_pos.unwrap() as usize, Ordering::Relaxed);
        }
        ring.ring.head.store(start as usize, Ordering::Relaxed);
        ring.tail.store(start as usize, Ordering::Relaxed);
        for round in 0..3 {
            for i in 0..3 {
                ring.push(round * 10 + i);
            }
            assert_eq!(ring.len(), 3);
            for i in 0..3 {
                // SAFETY: this thread is the ring's only popper.
                assert_eq!(unsafe { ring.ring.pop_exclusive() }, Some(round * 10 + i));
            }
            assert_eq!(ring.ring.pop(), None);
            assert_eq!(ring.len(), 0);
        }
        assert!(ring.tail() < start);
    }

    /// Two pushers (each holding one of two credits) and a popper: every
    /// value comes out once, each pusher's in order.
    #[test]
    fn loom_push_pop() {
        model(|| {
            let ring = Arc::new(Tailed::new(2));
            let pushers: Vec<_> = (0..2)
                .map(|id| {
                    let ring = Arc::clone(&ring);
                    thread::spawn(move || ring.push(id))
                })
                .collect();
            let mut seen = Vec::new();
            while seen.len() < 2 {
                match ring.ring.pop() {
                    Some(v) => seen.push(v),
                    None => crate::sync::spin_loop(),
                }
            }
            for p in pushers {
                p.join().unwrap();
            }
            seen.sort_unstable();
            assert_eq!(seen, [0, 1]);
            assert_eq!(ring.ring.pop(), None);
        });
    }

    /// The only popper pops with plain loads and stores of `head` while a
    /// pusher fills both slots and reuses the first on the next lap (its
    /// third push waits for the pop's stamp, as a credit would make it):
    /// the values come out once, in order.
    #[test]
    fn loom_exclusive_pop_reuses_slot() {
        model(|| {
            let ring = Arc::new(Tailed::new(2));
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
                match unsafe { ring.ring.pop_exclusive() } {
                    Some(v) => seen.push(v),
                    None => crate::sync::spin_loop(),
                }
            }
            pusher.join().unwrap();
            assert_eq!(seen, [1, 2, 3]);
            assert_eq!(ring.len(), 0);
        });
    }

    /// An evicting popper races the receiver's pop while a pusher reuses
    /// the slot: each message is popped exactly once, none is lost.
    #[test]
    fn loom_evict_races_pop() {
        model(|| {
            let ring = Arc::new(Tailed::new(1));
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
            let got = ring.ring.pop();
            let evicted = evictor.join().unwrap();
            let rest = ring.ring.pop();
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
