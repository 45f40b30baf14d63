//! Small pieces of an operation kept out of the core's state: the batch
//! of wakers it leaves to wake, and Adaptive's clock.

use super::ClockFn;
use core::mem::ManuallyDrop;
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
pub(in crate::dispatch) struct Wakes {
    /// `Some` exactly below `len`. No drop glue of its own: `Drop` wakes
    /// (and so takes) those, and leaves nothing else to drop, so an
    /// operation that wakes no one does not check every entry again.
    wakers: ManuallyDrop<[Option<Waker>; Wakes::CAPACITY]>,
    len: usize,
}

impl Wakes {
    const CAPACITY: usize = 4;

    #[inline]
    pub(super) const fn new() -> Self {
        Self {
            wakers: ManuallyDrop::new([const { None }; Self::CAPACITY]),
            len: 0,
        }
    }

    /// Whether another waker fits.
    #[inline]
    pub(super) fn can_push(&self) -> bool {
        self.len < Self::CAPACITY
    }

    /// Adds a waker; the caller checks [`can_push`](Self::can_push) first.
    #[inline]
    pub(super) fn push(&mut self, waker: Waker) {
        debug_assert!(self.can_push());
        self.wakers[self.len] = Some(waker);
        self.len += 1;
    }

    /// Wakes and forgets every gathered waker.
    #[inline]
    pub(in crate::dispatch) fn wake_all(&mut self) {
        for slot in &mut self.wakers[..self.len] {
            if let Some(waker) = slot.take() {
                waker.wake();
            }
        }
        self.len = 0;
    }
}

impl Drop for Wakes {
    #[inline]
    fn drop(&mut self) {
        self.wake_all();
    }
}
