//! Count-based flow control: [`CreditSemaphore`].
//!
//! Credit is how brokers meter work: RabbitMQ's prefetch, AMQP 1.0 link
//! credit, Reactive Streams' `request(n)`. A consumer grants credit, a
//! producer spends one credit per message and waits when it has none.
//!
//! # Cancel safety
//!
//! | future | dropped before it completes |
//! | --- | --- |
//! | [`acquire`](CreditSemaphore::acquire), [`acquire_owned`](CreditSemaphore::acquire_owned) | cancel-safe: credit already assigned to it goes to the next waiter, who is woken |
//! | `acquire_timeout`, `acquire_timeout_with` (and owned forms) | cancel-safe, as `acquire`; credit granted as the deadline passes is returned or handed on, never lost |
//!
//! # Examples
//!
//! A producer limited by the credit its consumer grants back:
//!
//! ```
//! use flowgate::credit::CreditSemaphore;
//! use futures::executor::block_on;
//! use std::sync::Arc;
//!
//! block_on(async {
//! // The consumer grants a window of 2 messages.
//! let credit = Arc::new(CreditSemaphore::new(2));
//! let (tx, rx) = std::sync::mpsc::channel();
//!
//! let producer = {
//!     let credit = Arc::clone(&credit);
//!     std::thread::spawn(move || {
//!         block_on(async {
//!             for job in 0..10 {
//!                 // Wait for a credit, spend it on one message.
//!                 credit.acquire(1).await.unwrap().forget();
//!                 tx.send(job).unwrap();
//!             }
//!         })
//!     })
//! };
//!
//! // The consumer handles each message, then grants one more credit
//! // (`request(1)` in Reactive Streams terms).
//! for expected in 0..10 {
//!     assert_eq!(rx.recv().unwrap(), expected);
//!     credit.add_credits(1);
//! }
//! producer.join().unwrap();
//! assert_eq!(credit.available(), 2);
//! });
//! ```
//!
//! # Algorithm
//!
//! One atomic word holds the available credit and three flags (see
//! [`CreditSemaphore`]'s `state` field). Acquiring without contention is one
//! compare-and-swap; returning credit while nobody waits is one
//! compare-and-swap. Waiters queue in a FIFO wait list behind a mutex,
//! and credit that arrives while anyone waits is handed straight to the
//! head waiter, in part if it is not enough (the hand-off scheme of tokio's
//! batch semaphore), so a large request is never overtaken by small ones.

mod error;
mod future;
mod guard;
mod timeout;

pub use error::{AcquireError, TryAcquireError};
pub use future::{Acquire, AcquireOwned};
pub use guard::{Credits, OwnedCredits};
pub use timeout::{AcquireOwnedTimeout, AcquireTimeout, AcquireTimeoutError};

use crate::sync::{AtomicUsize, Mutex, MutexGuard, Ordering};
use crate::waitlist::{Key, WaitList, WakeList};
use core::fmt;
use core::task::Waker;
use std::sync::Arc;

/// The semaphore is closed.
const CLOSED: usize = 1;
/// The wait list is not empty. Set and cleared only under the lock.
const WAITERS: usize = 1 << 1;
/// Some shrink is not yet repaid. Set and cleared only under the lock.
const DEBT: usize = 1 << 2;
/// Either flag that sends returning credit through the lock.
const SLOW: usize = WAITERS | DEBT;
const SHIFT: usize = 3;

/// A FIFO-fair, cancel-safe, closable and shrinkable credit semaphore.
///
/// # Fairness
///
/// Waiters are served strictly in arrival order. Credit returned while
/// anyone waits goes to the head waiter first, even if it needs more than
/// is there (it is then assigned in part and waits for the rest), so a
/// request for many credits is not starved by later requests for few.
/// [`try_acquire`](Self::try_acquire) fails while anyone waits.
///
/// # Cancel safety
///
/// [`acquire`](Self::acquire) and [`acquire_owned`](Self::acquire_owned) are
/// cancel-safe: dropping a pending future gives back whatever credit was
/// already assigned to it and wakes the next waiter; a future that was
/// granted its credit but dropped before it was polled again returns that
/// credit the same way.
///
/// # Locking
///
/// The fast paths (acquire with credit free and nobody waiting, return with
/// nobody waiting and no debt) are one compare-and-swap on one word. Waiting,
/// serving waiters, closing and shrinking take a mutex around the wait list
/// for a few list operations; wakers are woken after it is released.
///
/// # Examples
///
/// ```
/// use flowgate::credit::CreditSemaphore;
/// futures::executor::block_on(async {
/// let credits = CreditSemaphore::new(10);
/// let three = credits.acquire(3).await.unwrap();
/// assert_eq!(credits.available(), 7);
/// drop(three); // returned on drop
/// assert_eq!(credits.available(), 10);
/// });
/// ```
pub struct CreditSemaphore {
    /// `available << 3 | DEBT | WAITERS | CLOSED`.
    ///
    /// - `CLOSED`: set once by `close`, never cleared.
    /// - `WAITERS`: the wait list is non-empty. Invariant: while set,
    ///   `available == 0` (arriving credit goes to waiters first).
    /// - `DEBT`: `Inner::debt > 0`. Invariant: while set, `available == 0`
    ///   (arriving credit repays the debt first).
    ///
    /// `WAITERS` and `DEBT` change only under `inner`'s lock; while either
    /// is set, `available` changes only under the lock too. Without them,
    /// the fast paths move `available` by compare-and-swap.
    state: AtomicUsize,
    /// Credits in existence: available + lent out - debt. Changed only by
    /// `add_credits` and `shrink`; kept so `add_credits` can refuse to pass
    /// `MAX_CREDITS` (which keeps `available` from overflowing its bits).
    total: AtomicUsize,
    inner: Mutex<Inner>,
}

/// Guarded by `CreditSemaphore::inner`.
#[derive(Debug)]
struct Inner {
    waiters: WaitList<Waiter>,
    /// Credit still to be repaid after a `shrink` found too little
    /// available; returning credit pays it off before anything else.
    debt: usize,
}

/// A queued acquire. While linked: `assigned < needed`, and only the head
/// may have `assigned > 0`. Unlinked with `assigned == needed`: granted.
/// Unlinked otherwise: closed (its partial credit was refunded).
#[derive(Debug)]
struct Waiter {
    needed: usize,
    assigned: usize,
}

/// Result of the locked slow path of an acquire.
enum Enqueued {
    Acquired,
    Waiting(Key),
    Closed,
}

impl CreditSemaphore {
    /// The largest credit count a semaphore can hold, and the largest
    /// request: `usize::MAX >> 3` (three bits of the state word are flags).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::credit::{CreditSemaphore, TryAcquireError};
    ///
    /// let sem = CreditSemaphore::new(CreditSemaphore::MAX_CREDITS);
    /// let too_many = CreditSemaphore::MAX_CREDITS + 1;
    /// assert_eq!(sem.try_acquire(too_many).unwrap_err(), TryAcquireError::TooMany);
    /// ```
    pub const MAX_CREDITS: usize = usize::MAX >> SHIFT;

    /// A semaphore with `credits` credits available.
    ///
    /// # Panics
    ///
    /// If `credits > CreditSemaphore::MAX_CREDITS`.
    ///
    /// # Examples
    ///
    /// ```
    /// let credits = flowgate::credit::CreditSemaphore::new(10);
    /// assert_eq!(credits.available(), 10);
    /// ```
    pub fn new(credits: usize) -> Self {
        assert!(
            credits <= Self::MAX_CREDITS,
            "CreditSemaphore::new: {credits} credits exceed MAX_CREDITS ({})",
            Self::MAX_CREDITS
        );
        Self {
            state: AtomicUsize::new(credits << SHIFT),
            total: AtomicUsize::new(credits),
            inner: Mutex::new(Inner {
                waiters: WaitList::new(),
                debt: 0,
            }),
        }
    }

    /// Waits for `n` credits, in FIFO order with other waiters.
    ///
    /// `acquire(0)` is ready at once. A request above the current total
    /// waits until enough credit is added.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is or becomes closed before
    /// the credit is granted; [`AcquireError::TooMany`] at once if
    /// `n > MAX_CREDITS`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future returns any credit already
    /// assigned to it and wakes the next waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// futures::executor::block_on(async {
    /// let credits = flowgate::credit::CreditSemaphore::new(5);
    /// let held = credits.acquire(3).await.unwrap();
    /// assert_eq!((held.count(), credits.available()), (3, 2));
    /// drop(held);
    /// assert_eq!(credits.available(), 5);
    /// });
    /// ```
    #[inline]
    pub fn acquire(&self, n: usize) -> Acquire<'_> {
        Acquire::new(self, n)
    }

    /// Waits for one credit: `acquire(1)`, for code ported from tokio's
    /// argument-less `Semaphore::acquire`.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire): [`AcquireError`] once closed.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// futures::executor::block_on(async {
    ///     let credits = flowgate::credit::CreditSemaphore::new(2);
    ///     let one = credits.acquire_one().await.unwrap();
    ///     assert_eq!((one.count(), credits.available()), (1, 1));
    /// });
    /// ```
    #[inline]
    pub fn acquire_one(&self) -> Acquire<'_> {
        self.acquire(1)
    }

    /// Like [`acquire`](Self::acquire), for an `Arc`: the credit it gives is
    /// `'static` ([`OwnedCredits`]), to move into a spawned task.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// futures::executor::block_on(async {
    /// let sem = Arc::new(flowgate::credit::CreditSemaphore::new(4));
    /// let held = Arc::clone(&sem).acquire_owned(2).await.unwrap();
    /// std::thread::spawn(move || drop(held)).join().unwrap();
    /// assert_eq!(sem.available(), 4);
    /// });
    /// ```
    pub fn acquire_owned(self: Arc<Self>, n: usize) -> AcquireOwned {
        AcquireOwned::new(self, n)
    }

    /// Takes `n` credits if they are available now and nobody waits.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoCredits`] if fewer than `n` are available or
    /// another acquire is waiting (FIFO: a waiter is never overtaken);
    /// [`TryAcquireError::Closed`] once closed; [`TryAcquireError::TooMany`]
    /// if `n > MAX_CREDITS`.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::credit::{CreditSemaphore, TryAcquireError};
    /// let credits = CreditSemaphore::new(1);
    /// let one = credits.try_acquire(1).unwrap();
    /// assert_eq!(credits.try_acquire(1).unwrap_err(), TryAcquireError::NoCredits);
    /// drop(one);
    /// assert!(credits.try_acquire(1).is_ok());
    /// ```
    #[inline]
    pub fn try_acquire(&self, n: usize) -> Result<Credits<'_>, TryAcquireError> {
        self.try_take(n).map(|()| Credits::new(self, n))
    }

    /// The credit-taking part of `try_acquire`, shared with the futures.
    #[inline]
    pub(crate) fn try_take(&self, n: usize) -> Result<(), TryAcquireError> {
        if n > Self::MAX_CREDITS {
            return Err(TryAcquireError::TooMany);
        }
        let need = n << SHIFT;
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if cur & CLOSED != 0 {
                return Err(TryAcquireError::Closed);
            }
            // WAITERS or DEBT imply available == 0, so this also refuses to
            // overtake a waiter (for n > 0).
            if cur < need {
                return Err(TryAcquireError::NoCredits);
            }
            if n == 0 {
                return Ok(());
            }
            match self.state.compare_exchange_weak(
                cur,
                cur - need,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Grants `n` more credits (AMQP `flow`, Reactive Streams `request(n)`),
    /// repaying any [`shrink`](Self::shrink) debt first, then serving
    /// waiters in order.
    ///
    /// # Panics
    ///
    /// If the total number of credits (available plus lent out, less debt)
    /// would exceed [`MAX_CREDITS`](Self::MAX_CREDITS).
    ///
    /// # Examples
    ///
    /// ```
    /// let credits = flowgate::credit::CreditSemaphore::new(0);
    /// credits.add_credits(5);
    /// assert_eq!(credits.available(), 5);
    /// ```
    pub fn add_credits(&self, n: usize) {
        let grown = self
            .total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                total.checked_add(n).filter(|&sum| sum <= Self::MAX_CREDITS)
            });
        if grown.is_err() {
            panic!(
                "CreditSemaphore::add_credits: adding {n} credits would exceed MAX_CREDITS ({})",
                Self::MAX_CREDITS
            );
        }
        self.release(n);
    }

    /// Lowers the total by `n` credits (at most down to zero): available
    /// credit is taken away at once, and what is lent out repays the rest as
    /// it comes back, before any waiter is served. `available` never goes
    /// negative. Credit consumed with `forget` counts as lent out: in
    /// credit-based flow control it comes back through
    /// [`add_credits`](Self::add_credits), which repays the debt first, so
    /// shrinking while every credit is spent still narrows the window.
    ///
    /// # Examples
    ///
    /// ```
    /// let credits = flowgate::credit::CreditSemaphore::new(5);
    /// let held = credits.try_acquire(4).unwrap();
    /// credits.shrink(3);                 // 1 taken now, 2 owed
    /// assert_eq!(credits.available(), 0);
    /// drop(held);                        // 4 back: 2 repay the debt
    /// assert_eq!(credits.available(), 2);
    /// ```
    pub fn shrink(&self, n: usize) {
        let Ok(before) = self
            .total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                Some(total - n.min(total))
            })
        else {
            unreachable!("the closure always returns Some")
        };
        let n = n.min(before);
        if n == 0 {
            return;
        }
        let mut inner = self.inner.lock();
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let available = cur >> SHIFT;
            let taken = available.min(n);
            let debt = inner.debt + (n - taken);
            let flags = cur & (CLOSED | WAITERS) | if debt > 0 { DEBT } else { 0 };
            let new = ((available - taken) << SHIFT) | flags;
            match self
                .state
                .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    inner.debt = debt;
                    return;
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Credits available now (0 while anyone waits or debt is owed).
    ///
    /// # Examples
    ///
    /// ```
    /// let credits = flowgate::credit::CreditSemaphore::new(3);
    /// let _one = credits.try_acquire(1).unwrap();
    /// assert_eq!(credits.available(), 2);
    /// ```
    pub fn available(&self) -> usize {
        self.state.load(Ordering::Acquire) >> SHIFT
    }

    /// Closes the semaphore: every waiter is woken with
    /// [`AcquireError::Closed`] (and its partial credit refunded), later
    /// acquires fail, and credit already held stays valid and still comes
    /// back on drop.
    ///
    /// # Examples
    ///
    /// ```
    /// futures::executor::block_on(async {
    /// use flowgate::credit::{AcquireError, CreditSemaphore};
    /// let credits = CreditSemaphore::new(1);
    /// let held = credits.acquire(1).await.unwrap();
    /// credits.close();
    /// assert_eq!(credits.acquire(1).await.unwrap_err(), AcquireError::Closed);
    /// drop(held);
    /// assert_eq!(credits.available(), 1);
    /// });
    /// ```
    pub fn close(&self) {
        self.state.fetch_or(CLOSED, Ordering::Release);
        let mut wakes = WakeList::new();
        let mut refund = 0;
        loop {
            let mut inner = self.inner.lock();
            while wakes.can_push() {
                let Some(key) = inner.waiters.pop_front() else {
                    break;
                };
                refund += core::mem::take(&mut inner.waiters.data_mut(key).assigned);
                let waker = inner.waiters.take_waker(key);
                wakes.push(waker);
            }
            if inner.waiters.is_empty() {
                // No waiter left to serve: this repays debt, makes the rest
                // available and clears WAITERS.
                let left = self.distribute(&mut inner, refund, &mut wakes);
                debug_assert_eq!(left, 0, "credit left over with no waiter");
                drop(inner);
                wakes.wake_all();
                return;
            }
            drop(inner);
            wakes.wake_all();
        }
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let credits = flowgate::credit::CreditSemaphore::new(1);
    /// credits.close();
    /// assert!(credits.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Returns `n` credits: one compare-and-swap when nobody waits and no
    /// debt is owed, otherwise the locked hand-off.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut cur = self.state.load(Ordering::Relaxed);
        while cur & SLOW == 0 {
            match self.state.compare_exchange_weak(
                cur,
                cur + (n << SHIFT),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
        self.release_slow(n);
    }

    #[cold]
    fn release_slow(&self, mut n: usize) {
        let mut wakes = WakeList::new();
        while n > 0 {
            let mut inner = self.inner.lock();
            n = self.distribute(&mut inner, n, &mut wakes);
            drop(inner);
            wakes.wake_all();
        }
    }

    /// Under the lock: repays debt, hands `n` credits to waiters in order,
    /// makes the rest available and brings the flags in line with `inner`.
    /// Returns the credits it could not place because `wakes` is full; the
    /// caller wakes those and calls again with the rest.
    fn distribute(
        &self,
        inner: &mut MutexGuard<'_, Inner>,
        mut n: usize,
        wakes: &mut WakeList,
    ) -> usize {
        let repay = n.min(inner.debt);
        inner.debt -= repay;
        n -= repay;
        while n > 0 && wakes.can_push() {
            let Some(head) = inner.waiters.front() else {
                break;
            };
            let waiter = inner.waiters.data_mut(head);
            let give = n.min(waiter.needed - waiter.assigned);
            waiter.assigned += give;
            n -= give;
            if waiter.assigned == waiter.needed {
                inner.waiters.unlink(head);
                let waker = inner.waiters.take_waker(head);
                wakes.push(waker);
            }
        }
        let (add, left) = if inner.waiters.is_empty() {
            (n, 0)
        } else {
            (0, n)
        };
        self.sync_state(inner, add);
        left
    }

    /// Under the lock: sets `WAITERS`/`DEBT` from `inner` and adds `add` to
    /// the available count (which is 0 whenever a flag stays set).
    fn sync_state(&self, inner: &Inner, add: usize) {
        let flags = if inner.waiters.is_empty() { 0 } else { WAITERS }
            | if inner.debt > 0 { DEBT } else { 0 };
        debug_assert!(
            flags == 0 || add == 0,
            "credit left available beside waiters or debt"
        );
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let new = ((cur & !SLOW) + (add << SHIFT)) | flags;
            match self
                .state
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// The slow path of an acquire of `n > 0`: under the lock, take the
    /// credit if it is there and nobody waits, or queue (taking what is
    /// available as a partial assignment when first in line).
    fn enqueue(&self, n: usize, waker: &Waker) -> Enqueued {
        let mut inner = self.inner.lock();
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if cur & CLOSED != 0 {
                return Enqueued::Closed;
            }
            let available = cur >> SHIFT;
            // available > 0 implies no waiter and no debt (invariants).
            let (new, taken) = if available >= n {
                (cur - (n << SHIFT), n)
            } else {
                ((cur & (CLOSED | DEBT)) | WAITERS, available)
            };
            match self
                .state
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if taken == n => return Enqueued::Acquired,
                Ok(_) => {
                    let waiter = Waiter {
                        needed: n,
                        assigned: taken,
                    };
                    let key = inner.waiters.push_back(waiter, waker.clone());
                    return Enqueued::Waiting(key);
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Polls a queued acquire: `Some(Ok)` once granted, `Some(Err)` once
    /// closed (the node is freed either way), `None` while still queued.
    ///
    /// A waker it replaces or frees is dropped after the lock is released:
    /// it may own credits of this very semaphore (module docs of
    /// `crate::waitlist`).
    fn poll_waiter(&self, key: Key, waker: &Waker) -> Option<Result<(), AcquireError>> {
        let (result, old_waker) = {
            let mut inner = self.inner.lock();
            if inner.waiters.is_linked(key) {
                (None, inner.waiters.set_waker(key, waker))
            } else {
                let (waiter, old) = inner.waiters.remove(key);
                let result = if waiter.assigned == waiter.needed {
                    Ok(())
                } else {
                    Err(AcquireError::Closed)
                };
                (Some(result), old)
            }
        };
        drop(old_waker);
        result
    }

    /// Drops a queued acquire: frees its node and returns whatever credit
    /// it held (partial or, if granted but never observed, all of it) to
    /// the next waiters. Its waker is dropped after the lock is released.
    fn cancel_waiter(&self, key: Key) {
        let mut wakes = WakeList::new();
        let mut inner = self.inner.lock();
        let (waiter, old_waker) = inner.waiters.remove(key);
        let left = self.distribute(&mut inner, waiter.assigned, &mut wakes);
        drop(inner);
        drop(old_waker);
        wakes.wake_all();
        if left > 0 {
            self.release_slow(left);
        }
    }
}

impl fmt::Debug for CreditSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("CreditSemaphore")
            .field("available", &(state >> SHIFT))
            .field("closed", &(state & CLOSED != 0))
            .field("waiters", &(state & WAITERS != 0))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{model, thread};
    use core::future::Future;
    use core::pin::Pin;
    use core::task::Context;

    /// After every party is done: no flag but CLOSED left, no debt, no
    /// waiter, and `available` equal to the total.
    fn assert_quiescent(sem: &CreditSemaphore, total: usize) {
        let state = sem.state.load(Ordering::Acquire);
        assert_eq!(state & SLOW, 0, "WAITERS/DEBT left set");
        let inner = sem.inner.lock();
        assert!(inner.waiters.is_empty());
        assert_eq!(inner.debt, 0);
        assert_eq!(state >> SHIFT, total);
        assert_eq!(sem.total.load(Ordering::Relaxed), total);
    }

    /// The state word's invariants hold while a waiter, a fast-path
    /// returner and a shrink race; the waiter is polled to the end.
    #[test]
    fn loom_state_word_invariants() {
        model(|| {
            let sem = Arc::new(CreditSemaphore::new(2));
            let held = sem.try_acquire(2).unwrap();
            held.forget();
            let returner = {
                let sem = Arc::clone(&sem);
                thread::spawn(move || sem.release(2))
            };
            let shrinker = {
                let sem = Arc::clone(&sem);
                thread::spawn(move || sem.shrink(1))
            };
            let mut fut = sem.acquire(1);
            let mut cx = Context::from_waker(core::task::Waker::noop());
            // The waker is a no-op: spin on polls instead, yielding to loom.
            let held = loop {
                let state = sem.state.load(Ordering::Acquire);
                if state & SLOW != 0 {
                    assert_eq!(state >> SHIFT, 0, "credit available beside a flag");
                }
                match Pin::new(&mut fut).poll(&mut cx) {
                    core::task::Poll::Ready(held) => break held.unwrap(),
                    core::task::Poll::Pending => crate::sync::spin_loop(),
                }
            };
            drop(held);
            drop(fut);
            returner.join().unwrap();
            shrinker.join().unwrap();
            assert_quiescent(&sem, 1);
        });
    }

    /// A cancelled head waiter and `close` race a return: every credit
    /// ends available, no flag is left behind.
    #[test]
    fn loom_cancel_and_close_leave_no_flags() {
        model(|| {
            let sem = Arc::new(CreditSemaphore::new(1));
            sem.try_acquire(1).unwrap().forget();
            let mut fut = Arc::clone(&sem).acquire_owned(2);
            let mut cx = Context::from_waker(core::task::Waker::noop());
            assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
            let returner = {
                let sem = Arc::clone(&sem);
                thread::spawn(move || sem.release(1))
            };
            let closer = {
                let sem = Arc::clone(&sem);
                thread::spawn(move || sem.close())
            };
            drop(fut);
            returner.join().unwrap();
            closer.join().unwrap();
            assert!(sem.is_closed());
            let state = sem.state.load(Ordering::Acquire);
            assert_eq!(state & SLOW, 0);
            assert_eq!(state >> SHIFT, 1);
        });
    }
}
