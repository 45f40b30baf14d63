//! A rate limit on a [`Publisher`]: [`RateLimitedPublisher`].

use super::{PublishError, Publisher};
use crate::rate::{Clock, MonotonicClock, RateLimiter};
use crate::runtime::Timer;
use core::fmt;
use std::sync::Arc;

/// A [`Publisher`] whose publishes are spaced by a [`RateLimiter`]: each
/// `publish` first waits for one cell of the limiter (FIFO with other
/// waiters on the same limiter), then publishes as usual, waiting for room
/// in the backlog.
///
/// Several publishers may share one limiter (an `Arc`) to share one rate.
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, Subscription};
/// use flowgate::rate::{Quota, RateLimiter};
/// use flowgate::runtime::ManualClock;
/// use std::sync::Arc;
///
/// futures::executor::block_on(async {
/// let clock = ManualClock::new();
/// let limiter = Arc::new(RateLimiter::with_clock(Quota::per_second(100), clock.clone()));
/// let queue = Dispatcher::<u32>::new();
/// let mut consumer = queue.subscribe(Subscription::prefetch(4));
/// let publisher = queue.publisher().with_rate_limit_with(clock.clone(), limiter);
/// publisher.publish(1).await.unwrap(); // within the burst: no wait
/// consumer.recv().await.unwrap().ack();
/// });
/// ```
pub struct RateLimitedPublisher<T, Tm, C = MonotonicClock> {
    publisher: Publisher<T>,
    limiter: Arc<RateLimiter<C>>,
    timer: Tm,
}

impl<T> Publisher<T> {
    /// Limits this publisher's rate with `limiter`, sleeping with
    /// [`DefaultTimer`](crate::runtime::DefaultTimer). Present when any
    /// runtime feature is on; [`with_rate_limit_with`](Self::with_rate_limit_with)
    /// takes any [`Timer`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "smol")]
    /// futures::executor::block_on(async {
    /// use flowgate::dispatch::Dispatcher;
    /// use flowgate::rate::{Quota, RateLimiter};
    /// use std::sync::Arc;
    ///
    /// let limiter = Arc::new(RateLimiter::new(Quota::per_second(1_000).burst(10)));
    /// let queue = Dispatcher::<u32>::new();
    /// let publisher = queue.publisher().with_rate_limit(limiter);
    /// publisher.publish(1).await.unwrap();
    /// });
    /// ```
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "tokio", feature = "smol", feature = "async-std")))
    )]
    pub fn with_rate_limit<C: Clock>(
        self,
        limiter: Arc<RateLimiter<C>>,
    ) -> RateLimitedPublisher<T, crate::runtime::DefaultTimer, C> {
        self.with_rate_limit_with(crate::runtime::DefaultTimer::new(), limiter)
    }

    /// Limits this publisher's rate with `limiter`, sleeping with `timer`.
    /// Needs no runtime feature: any [`Timer`] will do.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Subscription};
    /// use flowgate::rate::{Quota, RateLimiter};
    /// use flowgate::runtime::ManualClock;
    /// use std::sync::Arc;
    ///
    /// futures::executor::block_on(async {
    ///     let limiter = Arc::new(RateLimiter::new(Quota::per_second(100).burst(5)));
    ///     let queue = Dispatcher::<u32>::new();
    ///     let mut worker = queue.subscribe(Subscription::prefetch(5));
    ///     let publisher = queue.publisher().with_rate_limit_with(ManualClock::new(), limiter);
    ///     publisher.publish(1).await.unwrap(); // within the burst: no sleep
    ///     assert_eq!(*worker.recv().await.unwrap(), 1);
    /// });
    /// ```
    pub fn with_rate_limit_with<C: Clock, Tm: Timer>(
        self,
        timer: Tm,
        limiter: Arc<RateLimiter<C>>,
    ) -> RateLimitedPublisher<T, Tm, C> {
        RateLimitedPublisher {
            publisher: self,
            limiter,
            timer,
        }
    }
}

impl<T, Tm: Timer, C: Clock> RateLimitedPublisher<T, Tm, C> {
    /// Waits for a cell of the rate limit, then publishes `msg`.
    ///
    /// # Errors
    ///
    /// [`PublishError`] with the message once the dispatcher is closed: at
    /// once, without taking a cell, if it is closed when called.
    ///
    /// # Cancel safety
    ///
    /// Dropped while waiting for the rate limit, its reservation is refunded
    /// (see [`RateLimiter::until_ready`] for when a refund is possible) and
    /// the message is dropped; dropped while waiting for backlog room, it
    /// behaves as [`Publisher::publish`].
    ///
    /// # Examples
    ///
    /// See [`RateLimitedPublisher`].
    #[cfg_attr(
        not(any(feature = "tokio", feature = "smol", feature = "async-std")),
        allow(rustdoc::broken_intra_doc_links)
    )]
    pub async fn publish(&self, msg: T) -> Result<(), PublishError<T>> {
        // Refused at once once closed: no wait for, and no use of, a cell.
        if self.publisher.is_closed() {
            return Err(PublishError(msg));
        }
        self.limiter.until_ready_with(&self.timer).await;
        self.publisher.publish(msg).await
    }

    /// The limiter spacing the publishes.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::Dispatcher;
    /// use flowgate::rate::{Quota, RateLimiter};
    /// use flowgate::runtime::ManualClock;
    /// use std::sync::Arc;
    ///
    /// let clock = ManualClock::new();
    /// let limiter = Arc::new(RateLimiter::with_clock(Quota::per_second(5), clock.clone()));
    /// let publisher = Dispatcher::<u8>::new().publisher().with_rate_limit_with(clock, limiter.clone());
    /// assert!(Arc::ptr_eq(publisher.limiter(), &limiter));
    /// ```
    pub fn limiter(&self) -> &Arc<RateLimiter<C>> {
        &self.limiter
    }

    /// The publisher without the rate limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::Dispatcher;
    /// use flowgate::rate::{Quota, RateLimiter};
    /// use flowgate::runtime::ManualClock;
    /// use std::sync::Arc;
    ///
    /// let clock = ManualClock::new();
    /// let limiter = Arc::new(RateLimiter::with_clock(Quota::per_second(5), clock.clone()));
    /// let limited = Dispatcher::<u8>::new().publisher().with_rate_limit_with(clock, limiter);
    /// let plain = limited.into_inner();
    /// plain.try_publish(1).unwrap();
    /// ```
    pub fn into_inner(self) -> Publisher<T> {
        self.publisher
    }
}

impl<T, Tm: Clone, C> Clone for RateLimitedPublisher<T, Tm, C> {
    fn clone(&self) -> Self {
        Self {
            publisher: self.publisher.clone(),
            limiter: Arc::clone(&self.limiter),
            timer: self.timer.clone(),
        }
    }
}

impl<T, Tm, C> fmt::Debug for RateLimitedPublisher<T, Tm, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitedPublisher")
            .finish_non_exhaustive()
    }
}
