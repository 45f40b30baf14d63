//! Errors of the rate limiter.

use core::fmt;
use core::time::Duration;
use std::time::Instant;

/// A cell does not conform yet: it would conform at the instant inside.
///
/// # Examples
///
/// ```
/// use flowgate::rate::{NotUntil, Quota, RateLimiter};
/// use flowgate::runtime::ManualClock;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let limiter = RateLimiter::with_clock(Quota::per_second(2).burst(1), clock.clone());
/// limiter.check().unwrap();
/// let NotUntil(when) = limiter.check().unwrap_err();
/// assert_eq!(when - clock.now(), Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotUntil(pub Instant);

impl NotUntil {
    /// The earliest instant at which the request would conform.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{Quota, RateLimiter};
    /// let limiter = RateLimiter::new(Quota::per_second(1).burst(1));
    /// limiter.check().unwrap();
    /// assert!(limiter.check().unwrap_err().earliest() > std::time::Instant::now());
    /// ```
    pub fn earliest(&self) -> Instant {
        self.0
    }

    /// How long from `now` until [`earliest`](Self::earliest) (zero if it
    /// has passed).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{Clock, Quota, RateLimiter};
    /// use flowgate::runtime::ManualClock;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::with_clock(Quota::per_second(10).burst(1), clock.clone());
    /// limiter.check().unwrap();
    /// let err = limiter.check().unwrap_err();
    /// assert_eq!(err.wait_time_from(clock.now()), Duration::from_millis(100));
    /// ```
    pub fn wait_time_from(&self, now: Instant) -> Duration {
        self.0.saturating_duration_since(now)
    }
}

impl fmt::Display for NotUntil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rate limited: try again in {:?}",
            self.wait_time_from(Instant::now())
        )
    }
}

impl std::error::Error for NotUntil {}

/// More cells were asked for at once than the burst allows: such a request
/// could never conform. Holds the burst size.
///
/// # Examples
///
/// ```
/// use flowgate::rate::{InsufficientCapacity, Quota, RateLimiter};
/// futures::executor::block_on(async {
/// let limiter = RateLimiter::new(Quota::per_second(10).burst(5));
/// let err = limiter.until_n_ready_with(&flowgate::runtime::ManualClock::new(), 6).await;
/// assert_eq!(err, Err(InsufficientCapacity(5)));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InsufficientCapacity(pub u32);

impl fmt::Display for InsufficientCapacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request exceeds the rate limiter's burst size of {}",
            self.0
        )
    }
}

impl std::error::Error for InsufficientCapacity {}

/// Why a [`check_n`](super::RateLimiter::check_n) failed.
///
/// # Examples
///
/// ```
/// use flowgate::rate::{CheckNError, Quota, RateLimiter};
/// let limiter = RateLimiter::new(Quota::per_second(10).burst(4));
/// assert!(matches!(limiter.check_n(5), Err(CheckNError::InsufficientCapacity(_))));
/// limiter.check_n(4).unwrap();
/// assert!(matches!(limiter.check_n(1), Err(CheckNError::NotUntil(_))));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckNError {
    /// Not now; the cells would conform at the instant inside.
    NotUntil(NotUntil),
    /// Never: more cells than the burst.
    InsufficientCapacity(InsufficientCapacity),
}

impl fmt::Display for CheckNError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUntil(err) => err.fmt(f),
            Self::InsufficientCapacity(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for CheckNError {}

impl From<NotUntil> for CheckNError {
    fn from(err: NotUntil) -> Self {
        Self::NotUntil(err)
    }
}

impl From<InsufficientCapacity> for CheckNError {
    fn from(err: InsufficientCapacity) -> Self {
        Self::InsufficientCapacity(err)
    }
}
