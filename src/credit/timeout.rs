//! Acquires with a deadline: [`CreditSemaphore::acquire_timeout`] and
//! friends, over the crate's generic [`Timeout`](crate::timeout::Timeout).

// The plain timed forms exist only with a runtime feature; without one,
// rustdoc renders their links as plain text (the all-features doc build
// checks every link).
#![cfg_attr(
    not(any(feature = "tokio", feature = "smol", feature = "async-std")),
    allow(rustdoc::broken_intra_doc_links)
)]

use super::{Acquire, AcquireError, AcquireOwned, CreditSemaphore, Credits, OwnedCredits};
use crate::runtime::Timer;
use crate::timeout::{Abandon, Timeout};
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::sync::Arc;

/// Why an [`acquire_timeout`](CreditSemaphore::acquire_timeout) failed.
///
/// # Examples
///
/// ```
/// use flowgate::credit::{AcquireTimeoutError, CreditSemaphore};
/// use flowgate::runtime::ManualClock;
/// use futures::FutureExt;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let sem = CreditSemaphore::new(0);
/// let mut acquire = Box::pin(sem.acquire_timeout_with(&clock, 1, Duration::from_secs(1)));
/// assert!((&mut acquire).now_or_never().is_none());
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(acquire.now_or_never().unwrap().unwrap_err(), AcquireTimeoutError::Timeout);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AcquireTimeoutError {
    /// The credit was not granted before the deadline. Nothing is held: any
    /// credit assigned to the request went on to the next waiter.
    Timeout,
    /// The semaphore was closed before the credit was granted.
    Closed,
    /// More than [`CreditSemaphore::MAX_CREDITS`] were requested.
    TooMany,
}

impl AcquireTimeoutError {
    /// Whether the deadline passed (rather than the semaphore closing).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::credit::AcquireTimeoutError;
    /// assert!(AcquireTimeoutError::Timeout.is_timeout());
    /// assert!(!AcquireTimeoutError::Closed.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout)
    }
}

impl From<AcquireError> for AcquireTimeoutError {
    fn from(err: AcquireError) -> Self {
        match err {
            AcquireError::Closed => Self::Closed,
            AcquireError::TooMany => Self::TooMany,
        }
    }
}

impl fmt::Display for AcquireTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timed out waiting for credit",
            Self::Closed => "credit semaphore closed",
            Self::TooMany => "requested more than CreditSemaphore::MAX_CREDITS",
        })
    }
}

impl std::error::Error for AcquireTimeoutError {}

/// An acquire gives nothing back when withdrawn: its drop refunds whatever
/// was assigned to it and wakes the next waiter.
impl Abandon for Acquire<'_> {
    type Residue = ();

    fn abandon(self: Pin<&mut Self>) {}
}

impl Abandon for AcquireOwned {
    type Residue = ();

    fn abandon(self: Pin<&mut Self>) {}
}

impl CreditSemaphore {
    /// Like [`acquire`](Self::acquire), giving up after `timeout`; sleeps
    /// with [`DefaultTimer`](crate::runtime::DefaultTimer) (tokio's timer
    /// inside a tokio runtime, otherwise `async-io`'s).
    ///
    /// Present when any runtime feature is on; see
    /// [`acquire_timeout_with`](Self::acquire_timeout_with) for any
    /// [`Timer`]. The deadline counts from this call.
    ///
    /// # Errors
    ///
    /// [`AcquireTimeoutError::Timeout`] if the credit is not granted in
    /// time, otherwise as [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as `acquire`. Credit that arrives just as the deadline
    /// passes is either returned to the caller (`Ok`) or, on `Timeout`,
    /// handed on to the next waiter: never lost, never counted twice.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "smol")]
    /// futures::executor::block_on(async {
    /// use flowgate::credit::{AcquireTimeoutError, CreditSemaphore};
    /// use std::time::Duration;
    ///
    /// let credits = CreditSemaphore::new(1);
    /// let held = credits.acquire_timeout(1, Duration::from_secs(1)).await.unwrap();
    /// let err = credits.acquire_timeout(1, Duration::from_millis(1)).await.unwrap_err();
    /// assert_eq!(err, AcquireTimeoutError::Timeout);
    /// # drop(held);
    /// });
    /// ```
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "tokio", feature = "smol", feature = "async-std")))
    )]
    pub fn acquire_timeout(
        &self,
        n: usize,
        timeout: Duration,
    ) -> AcquireTimeout<'_, crate::runtime::DefaultSleep> {
        self.acquire_timeout_with(&crate::runtime::DEFAULT_TIMER, n, timeout)
    }

    /// Like [`acquire`](Self::acquire), giving up after `timeout` measured
    /// by `timer` (from this call).
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::credit::{AcquireTimeoutError, CreditSemaphore};
    /// use flowgate::runtime::ManualClock;
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let credits = CreditSemaphore::new(0);
    /// let mut acquire = credits.acquire_timeout_with(&clock, 1, Duration::from_secs(1));
    /// assert!((&mut acquire).now_or_never().is_none());
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(acquire.now_or_never().unwrap().unwrap_err(), AcquireTimeoutError::Timeout);
    /// ```
    pub fn acquire_timeout_with<T: Timer>(
        &self,
        timer: &T,
        n: usize,
        timeout: Duration,
    ) -> AcquireTimeout<'_, T::Sleep> {
        AcquireTimeout {
            inner: Timeout::new(self.acquire(n), timer.sleep(timeout)),
        }
    }

    /// Like [`acquire_owned`](Self::acquire_owned), giving up after
    /// `timeout`; sleeps with [`DefaultTimer`](crate::runtime::DefaultTimer).
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "smol")]
    /// futures::executor::block_on(async {
    /// use flowgate::credit::CreditSemaphore;
    /// use std::{sync::Arc, time::Duration};
    ///
    /// let sem = Arc::new(CreditSemaphore::new(1));
    /// let held = Arc::clone(&sem).acquire_owned_timeout(1, Duration::from_secs(1)).await.unwrap();
    /// assert_eq!(held.count(), 1);
    /// });
    /// ```
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "tokio", feature = "smol", feature = "async-std")))
    )]
    pub fn acquire_owned_timeout(
        self: Arc<Self>,
        n: usize,
        timeout: Duration,
    ) -> AcquireOwnedTimeout<crate::runtime::DefaultSleep> {
        self.acquire_owned_timeout_with(&crate::runtime::DEFAULT_TIMER, n, timeout)
    }

    /// Like [`acquire_owned`](Self::acquire_owned), giving up after
    /// `timeout` measured by `timer`.
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::credit::CreditSemaphore;
    /// use flowgate::runtime::ManualClock;
    /// use futures::FutureExt;
    /// use std::{sync::Arc, time::Duration};
    ///
    /// let clock = ManualClock::new();
    /// let sem = Arc::new(CreditSemaphore::new(2));
    /// let held = Arc::clone(&sem)
    ///     .acquire_owned_timeout_with(&clock, 2, Duration::from_secs(1))
    ///     .now_or_never()
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!((held.count(), sem.available()), (2, 0));
    /// ```
    pub fn acquire_owned_timeout_with<T: Timer>(
        self: Arc<Self>,
        timer: &T,
        n: usize,
        timeout: Duration,
    ) -> AcquireOwnedTimeout<T::Sleep> {
        AcquireOwnedTimeout {
            inner: Timeout::new(self.acquire_owned(n), timer.sleep(timeout)),
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`CreditSemaphore::acquire_timeout`] and
    /// [`acquire_timeout_with`](CreditSemaphore::acquire_timeout_with); `S`
    /// is the timer's sleep.
    ///
    /// # Cancel safety
    ///
    /// Dropping it returns whatever credit was assigned to it and wakes the
    /// next waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::credit::CreditSemaphore;
    /// use flowgate::runtime::ManualClock;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let sem = CreditSemaphore::new(1);
    /// let acquire = sem.acquire_timeout_with(&clock, 1, Duration::from_secs(1));
    /// assert_eq!(futures::executor::block_on(acquire).unwrap().count(), 1);
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct AcquireTimeout<'a, S> {
        #[pin]
        inner: Timeout<Acquire<'a>, S>,
    }
}

pin_project_lite::pin_project! {
    /// Future of [`CreditSemaphore::acquire_owned_timeout`] and
    /// [`acquire_owned_timeout_with`](CreditSemaphore::acquire_owned_timeout_with);
    /// `S` is the timer's sleep.
    ///
    /// # Cancel safety
    ///
    /// Dropping it returns whatever credit was assigned to it and wakes the
    /// next waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::credit::CreditSemaphore;
    /// use flowgate::runtime::ManualClock;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let sem = Arc::new(CreditSemaphore::new(1));
    /// let acquire = Arc::clone(&sem).acquire_owned_timeout_with(&clock, 1, Duration::from_secs(1));
    /// assert_eq!(futures::executor::block_on(acquire).unwrap().count(), 1);
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct AcquireOwnedTimeout<S> {
        #[pin]
        inner: Timeout<AcquireOwned, S>,
    }
}

impl<'a, S: Future<Output = ()>> Future for AcquireTimeout<'a, S> {
    type Output = Result<Credits<'a>, AcquireTimeoutError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx).map(|result| match result {
            Ok(acquired) => acquired.map_err(AcquireTimeoutError::from),
            Err(()) => Err(AcquireTimeoutError::Timeout),
        })
    }
}

impl<S: Future<Output = ()>> Future for AcquireOwnedTimeout<S> {
    type Output = Result<OwnedCredits, AcquireTimeoutError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx).map(|result| match result {
            Ok(acquired) => acquired.map_err(AcquireTimeoutError::from),
            Err(()) => Err(AcquireTimeoutError::Timeout),
        })
    }
}

impl<S> fmt::Debug for AcquireTimeout<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireTimeout").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for AcquireOwnedTimeout<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwnedTimeout")
            .finish_non_exhaustive()
    }
}
