//! Small pieces of an operation kept out of the core's state: the batch
//! of wakers it leaves to wake, and Adaptive's clock.

use super::ClockFn;
use core::mem::MaybeUninit;
use core::task::Waker;
use std::time::Instant;

/// The time source of [`Strategy::Adaptive`], read under the lock by the
/// core (acks) and without it by consumers (when `recv` hands a delivery
/// out).
pub(in crate::dispatch) struct Clock {
    source: Option<ClockFn>,
    origin: Instant,
}

impl Clock {
    /// Adaptive's clock: `source`, or the time since now.
    pub(super) fn new(source: Option<ClockFn>) -> Self {
        Self {
            source,
            origin: Instant::now(),
        }
    }

    /// Nanoseconds since the clock's origin.
    pub(in crate::dispatch) fn now_ns(&self) -> u64 {
        let since = match &self.source {
            Some(clock) => clock(),
            None => self.origin.elapsed(),
        };
        // `as_nanos` saturated to `u64`, without its 128-bit product.
        since
            .as_secs()
            .checked_mul(1_000_000_000)
            .and_then(|ns| ns.checked_add(u64::from(since.subsec_nanos())))
            .unwrap_or(u64::MAX)
    }
}

/// Wakers to wake once the lock is released: a small fixed batch, as an
/// operation rarely wakes more than one or two tasks; `pump` stops when it
/// is full, and the caller wakes them and pumps again.
///
/// Every operation makes one, and most wake no one: so making it writes
/// only `len`, and dropping it checks only `len`.
pub(in crate::dispatch) struct Wakes {
    /// Initialised exactly below `len`.
    wakers: [MaybeUninit<Waker>; Wakes::CAPACITY],
    len: usize,
    /// Wakers pushed on a full batch (a caller bug, which must neither
    /// lose a wake-up nor wake under the lock): woken with the rest.
    spilled: Vec<Waker>,
}

impl Wakes {
    const CAPACITY: usize = 4;

    #[inline]
    pub(super) const fn new() -> Self {
        Self {
            wakers: [const { MaybeUninit::uninit() }; Self::CAPACITY],
            len: 0,
            spilled: Vec::new(),
        }
    }

    /// Whether another waker fits.
    #[inline]
    pub(super) fn can_push(&self) -> bool {
        self.len < Self::CAPACITY
    }

    /// Adds a waker; the caller checks [`can_push`](Self::can_push) first
    /// (if it did not, the waker is woken now rather than lost).
    #[inline]
    pub(super) fn push(&mut self, waker: Waker) {
        match self.wakers.get_mut(self.len) {
            Some(slot) => {
                slot.write(waker);
                self.len += 1;
            }
            None => self.push_full(waker),
        }
    }

    /// Wakes and forgets every gathered waker.
    #[inline]
    pub(in crate::dispatch) fn wake_all(&mut self) {
        let len = ::core::mem::replace(&mut self.len, 0);
        for slot in &self.wakers[..len] {
            // SAFETY: the entries below the old `len` were initialised by
            // `push`, and are read once: `len` is 0 from now on, so neither
            // this loop again nor `Drop` reads them a second time.
            let waker = unsafe { slot.assume_init_read() };
            waker.wake();
        }
        if !self.spilled.is_empty() {
            for waker in self.spilled.drain(..) {
                waker.wake();
            }
        }
    }

    /// [`push`](Self::push) on a full batch: a caller bug (it checks
    /// `can_push`). The waker is kept to be woken with the rest, after the
    /// lock, rather than lost or woken under it.
    #[cold]
    #[inline(never)]
    fn push_full(&mut self, waker: Waker) {
        debug_assert!(false, "dispatch: Wakes::push on a full batch");
        self.spilled.push(waker);
    }
}

/// Wakers taken out of the core to be dropped, not woken, once the lock is
/// released: an operation replaces or frees at most one or two, so two fit
/// inline and more (never seen in practice) spill into a vector.
pub(in crate::dispatch) struct Stale {
    first: Option<Waker>,
    second: Option<Waker>,
    more: Vec<Waker>,
}

impl Stale {
    #[inline]
    pub(super) const fn new() -> Self {
        Self {
            first: None,
            second: None,
            more: Vec::new(),
        }
    }

    /// Keeps `waker` until this is dropped.
    #[inline]
    pub(super) fn push(&mut self, waker: Option<Waker>) {
        let Some(waker) = waker else { return };
        if self.first.is_none() {
            self.first = Some(waker);
        } else if self.second.is_none() {
            self.second = Some(waker);
        } else {
            self.more.push(waker);
        }
    }
}

impl Drop for Wakes {
    #[inline]
    fn drop(&mut self) {
        if self.len != 0 || !self.spilled.is_empty() {
            self.wake_all();
        }
    }
}
