//! Where a [`RateLimiter`](super::RateLimiter) reads the time.

use crate::runtime::ManualClock;
use std::time::Instant;

/// A monotonic source of [`Instant`]s for a
/// [`RateLimiter`](super::RateLimiter).
///
/// [`MonotonicClock`] (the default) reads the real clock;
/// [`ManualClock`] moves only when told, for deterministic tests. A clock
/// must never go backwards.
///
/// # Examples
///
/// ```
/// use flowgate::rate::{Clock, Quota, RateLimiter};
/// use flowgate::runtime::ManualClock;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let limiter = RateLimiter::with_clock(Quota::per_second(1).burst(1), clock.clone());
/// assert!(limiter.check().is_ok());
/// assert!(limiter.check().is_err());
/// clock.advance(Duration::from_secs(1));
/// assert!(limiter.check().is_ok());
/// assert_eq!(limiter.clock().now(), clock.now());
/// ```
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock, [`Instant::now`].
///
/// # Examples
///
/// ```
/// use flowgate::rate::{Clock, MonotonicClock};
/// let a = MonotonicClock.now();
/// assert!(MonotonicClock.now() >= a);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        ManualClock::now(self)
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}
