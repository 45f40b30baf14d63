//! The acquire futures, borrowed ([`Acquire`]) and `Arc`-owned
//! ([`AcquireOwned`]), over one shared state machine.

use super::{AcquireError, CreditSemaphore, Credits, Enqueued, OwnedCredits, TryAcquireError};
use crate::waitlist::Key;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::sync::Arc;

/// Where an acquire is: not yet tried, queued at `key`, or finished.
#[derive(Debug)]
enum State {
    Idle,
    Waiting(Key),
    Done,
}

/// The state machine both futures drive.
#[derive(Debug)]
pub(crate) struct Machine {
    n: usize,
    state: State,
}

impl Machine {
    /// A machine that will acquire `n` credits.
    #[inline]
    pub(crate) const fn new(n: usize) -> Self {
        Self {
            n,
            state: State::Idle,
        }
    }

    /// Polls the acquire: tries the fast path first, then queues.
    #[inline]
    pub(crate) fn poll(
        &mut self,
        sem: &CreditSemaphore,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        // Spend the task's cooperative budget (tokio feature), so a loop
        // whose acquires always succeed still lets other tasks run. On
        // `Pending` the budget unit is given back when `budget` drops.
        let budget = ready!(crate::coop::poll_proceed(cx));
        let result = match self.state {
            State::Idle => match sem.try_take(self.n) {
                Ok(()) => Ok(()),
                Err(TryAcquireError::NoCredits) => match sem.enqueue(self.n, cx.waker()) {
                    Enqueued::Acquired => Ok(()),
                    Enqueued::Closed => Err(AcquireError::Closed),
                    Enqueued::Waiting(key) => {
                        self.state = State::Waiting(key);
                        return Poll::Pending;
                    }
                },
                Err(TryAcquireError::Closed) => Err(AcquireError::Closed),
                Err(TryAcquireError::TooMany) => Err(AcquireError::TooMany),
            },
            State::Waiting(key) => match sem.poll_waiter(key, cx.waker()) {
                Some(result) => result,
                None => return Poll::Pending,
            },
            State::Done => panic!("acquire future polled after completion"),
        };
        budget.made_progress();
        self.state = State::Done;
        Poll::Ready(result)
    }

    /// Leaves the queue if queued, returning assigned credit (no-op
    /// otherwise). Call it from the owning future's `Drop`.
    #[inline]
    pub(crate) fn cancel(&mut self, sem: &CreditSemaphore) {
        if let State::Waiting(key) = self.state {
            self.state = State::Done;
            sem.cancel_waiter(key);
        }
    }
}

/// Future of [`CreditSemaphore::acquire`].
///
/// # Cancel safety
///
/// Dropping it returns whatever credit was assigned to it and wakes the
/// next waiter.
///
/// # Examples
///
/// ```
/// use flowgate::credit::{Acquire, CreditSemaphore};
///
/// let sem = CreditSemaphore::new(2);
/// let acquire: Acquire<'_> = sem.acquire(2);
/// let credits = futures::executor::block_on(acquire).unwrap();
/// assert_eq!(credits.count(), 2);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    sem: &'a CreditSemaphore,
    machine: Machine,
}

/// Future of [`CreditSemaphore::acquire_owned`].
///
/// # Cancel safety
///
/// Dropping it returns whatever credit was assigned to it and wakes the
/// next waiter.
///
/// # Examples
///
/// ```
/// use flowgate::credit::{AcquireOwned, CreditSemaphore};
/// use std::sync::Arc;
///
/// let sem = Arc::new(CreditSemaphore::new(1));
/// let acquire: AcquireOwned = Arc::clone(&sem).acquire_owned(1); // 'static
/// let credits = futures::executor::block_on(acquire).unwrap();
/// assert_eq!(sem.available(), 0);
/// drop(credits);
/// assert_eq!(sem.available(), 1);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct AcquireOwned {
    sem: Arc<CreditSemaphore>,
    machine: Machine,
}

impl<'a> Acquire<'a> {
    #[inline]
    pub(super) fn new(sem: &'a CreditSemaphore, n: usize) -> Self {
        let machine = Machine::new(n);
        Self { sem, machine }
    }
}

impl AcquireOwned {
    #[inline]
    pub(super) fn new(sem: Arc<CreditSemaphore>, n: usize) -> Self {
        let machine = Machine::new(n);
        Self { sem, machine }
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<Credits<'a>, AcquireError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let sem = this.sem;
        this.machine
            .poll(sem, cx)
            .map_ok(|()| Credits::new(sem, this.machine.n))
    }
}

impl Future for AcquireOwned {
    type Output = Result<OwnedCredits, AcquireError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.machine
            .poll(&this.sem, cx)
            .map_ok(|()| OwnedCredits::new(Arc::clone(&this.sem), this.machine.n))
    }
}

impl Drop for Acquire<'_> {
    #[inline]
    fn drop(&mut self) {
        self.machine.cancel(self.sem);
    }
}

impl Drop for AcquireOwned {
    #[inline]
    fn drop(&mut self) {
        self.machine.cancel(&self.sem);
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("n", &self.machine.n)
            .field("state", &self.machine.state)
            .finish()
    }
}

impl fmt::Debug for AcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwned")
            .field("n", &self.machine.n)
            .field("state", &self.machine.state)
            .finish()
    }
}
