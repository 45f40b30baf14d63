//! The waiting futures, [`UntilReady`] and [`UntilNReady`], over one
//! reservation state machine ([`Wait`]) that the rate-limited stream
//! shares.

use super::{Clock, InsufficientCapacity, RateLimiter, Reservation};
use crate::runtime::Timer;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// Where a wait is.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Nothing reserved yet.
    Idle,
    /// Reserved; asleep until the reservation conforms.
    Waiting(Reservation),
    /// Finished (granted, refused, or cancelled).
    Done,
}

pin_project_lite::pin_project! {
    /// One wait for `n` cells: reserve on the first poll, sleep until the
    /// slot, done. The owner calls [`cancel`](Wait::cancel) on drop.
    pub(crate) struct Wait<S> {
        n: u32,
        state: State,
        #[pin]
        sleep: Option<S>,
    }
}

impl<S: Future<Output = ()>> Wait<S> {
    pub(crate) fn new(n: u32) -> Self {
        Self {
            n,
            state: State::Idle,
            sleep: None,
        }
    }

    /// Drives the wait. `Ready(Ok)` once the cells are granted.
    pub(crate) fn poll_wait<C: Clock, T: Timer<Sleep = S>>(
        self: Pin<&mut Self>,
        limiter: &RateLimiter<C>,
        timer: &T,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), InsufficientCapacity>> {
        let mut this = self.project();
        // A timer whose sleeps end before the clock reaches the slot (a
        // coarse or mismatched timer) is given one more sleep per poll; if
        // that ends at once too, the task is rescheduled rather than spun.
        let mut fresh_sleeps = 0;
        loop {
            match *this.state {
                State::Idle => {
                    if *this.n == 0 {
                        *this.state = State::Done;
                        return Poll::Ready(Ok(()));
                    }
                    let reservation = match limiter.reserve(*this.n) {
                        Ok(reservation) => reservation,
                        Err(err) => {
                            *this.state = State::Done;
                            return Poll::Ready(Err(err));
                        }
                    };
                    match limiter.ready_instant(&reservation) {
                        None => {
                            *this.state = State::Done;
                            return Poll::Ready(Ok(()));
                        }
                        Some(at) => {
                            *this.state = State::Waiting(reservation);
                            this.sleep.set(Some(timer.sleep_until(at)));
                            fresh_sleeps += 1;
                        }
                    }
                }
                State::Waiting(reservation) => {
                    if let Some(sleep) = this.sleep.as_mut().as_pin_mut() {
                        if sleep.poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                    }
                    match limiter.ready_instant(&reservation) {
                        None => {
                            *this.state = State::Done;
                            this.sleep.set(None);
                            return Poll::Ready(Ok(()));
                        }
                        Some(_) if fresh_sleeps > 1 => {
                            this.sleep.set(None);
                            cx.waker().wake_by_ref();
                            return Poll::Pending;
                        }
                        Some(at) => {
                            this.sleep.set(Some(timer.sleep_until(at)));
                            fresh_sleeps += 1;
                        }
                    }
                }
                State::Done => panic!("rate limiter future polled after completion"),
            }
        }
    }

    /// Withdraws a pending wait: refunds its reservation if it is still the
    /// latest, forfeits it otherwise. Idempotent.
    pub(crate) fn cancel<C: Clock>(self: Pin<&mut Self>, limiter: &RateLimiter<C>) {
        let mut this = self.project();
        if let State::Waiting(reservation) = *this.state {
            limiter.refund(&reservation);
        }
        *this.state = State::Done;
        this.sleep.set(None);
    }

    /// Makes the wait ready for another `n` cells (for streams: one wait
    /// per item).
    pub(crate) fn reset(self: Pin<&mut Self>) {
        let mut this = self.project();
        debug_assert!(!matches!(this.state, State::Waiting(_)));
        *this.state = State::Idle;
        this.sleep.set(None);
    }

    /// Whether a reservation is held.
    pub(crate) fn is_waiting(&self) -> bool {
        matches!(self.state, State::Waiting(_))
    }
}

pin_project_lite::pin_project! {
    /// Future of [`RateLimiter::until_ready`] and
    /// [`until_ready_with`](RateLimiter::until_ready_with).
    ///
    /// # Cancel safety
    ///
    /// Dropping it before it completes refunds its reservation if no later
    /// request reserved after it, and forfeits it otherwise (see the
    /// [module docs](super#cancellation-refunding-a-reservation)).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{Quota, RateLimiter};
    /// use flowgate::runtime::ManualClock;
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::with_clock(Quota::per_second(10).burst(1), clock.clone());
    /// limiter.check().unwrap(); // the burst is spent
    /// let mut wait = Box::pin(limiter.until_ready_with(&clock));
    /// assert!((&mut wait).now_or_never().is_none());
    /// clock.advance(Duration::from_millis(100)); // the next cell
    /// assert_eq!(wait.now_or_never(), Some(()));
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct UntilReady<'a, C, T>
    where
        C: Clock,
        T: Timer,
    {
        limiter: &'a RateLimiter<C>,
        timer: &'a T,
        #[pin]
        wait: Wait<T::Sleep>,
    }

    impl<'a, C, T> PinnedDrop for UntilReady<'a, C, T>
    where
        C: Clock,
        T: Timer,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.wait.cancel(this.limiter);
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`RateLimiter::until_n_ready`] and
    /// [`until_n_ready_with`](RateLimiter::until_n_ready_with).
    ///
    /// # Cancel safety
    ///
    /// As [`UntilReady`].
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{Quota, RateLimiter};
    /// use flowgate::runtime::ManualClock;
    /// use futures::FutureExt;
    ///
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::with_clock(Quota::per_second(10).burst(4), clock.clone());
    /// assert_eq!(limiter.until_n_ready_with(&clock, 4).now_or_never(), Some(Ok(())));
    /// assert!(limiter.until_n_ready_with(&clock, 5).now_or_never().unwrap().is_err()); // above the burst
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct UntilNReady<'a, C, T>
    where
        C: Clock,
        T: Timer,
    {
        limiter: &'a RateLimiter<C>,
        timer: &'a T,
        #[pin]
        wait: Wait<T::Sleep>,
    }

    impl<'a, C, T> PinnedDrop for UntilNReady<'a, C, T>
    where
        C: Clock,
        T: Timer,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.wait.cancel(this.limiter);
        }
    }
}

impl<'a, C: Clock, T: Timer> UntilReady<'a, C, T> {
    pub(super) fn new(limiter: &'a RateLimiter<C>, timer: &'a T) -> Self {
        Self {
            limiter,
            timer,
            wait: Wait::new(1),
        }
    }
}

impl<'a, C: Clock, T: Timer> UntilNReady<'a, C, T> {
    pub(super) fn new(limiter: &'a RateLimiter<C>, timer: &'a T, n: u32) -> Self {
        Self {
            limiter,
            timer,
            wait: Wait::new(n),
        }
    }
}

impl<C: Clock, T: Timer> Future for UntilReady<'_, C, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        this.wait
            .poll_wait(this.limiter, *this.timer, cx)
            .map(|granted| granted.expect("one cell never exceeds the burst (>= 1)"))
    }
}

impl<C: Clock, T: Timer> Future for UntilNReady<'_, C, T> {
    type Output = Result<(), InsufficientCapacity>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.wait.poll_wait(this.limiter, *this.timer, cx)
    }
}

impl<C: Clock, T: Timer> fmt::Debug for UntilReady<'_, C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UntilReady")
            .field("waiting", &self.wait.is_waiting())
            .finish_non_exhaustive()
    }
}

impl<C: Clock, T: Timer> fmt::Debug for UntilNReady<'_, C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UntilNReady")
            .field("n", &self.wait.n)
            .field("waiting", &self.wait.is_waiting())
            .finish_non_exhaustive()
    }
}
