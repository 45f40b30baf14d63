//! Publishes and receives with a deadline: [`Publisher::publish_timeout`]
//! and [`Consumer::recv_timeout`], over the crate's generic
//! [`Timeout`](crate::timeout::Timeout).
//!
//! A timed publish is a [`Publish`] raced against the sleep; when the
//! deadline passes first, the message comes back in the error and the
//! publish's own drop passes on any backlog room granted to it meanwhile.
//! A timed receive is a [`Recv`] raced against the sleep; deliveries stay
//! assigned to the consumer, so one that arrives as the deadline passes is
//! returned by the next receive.

// The plain timed forms exist only with a runtime feature; without one,
// rustdoc renders their links as plain text (the all-features doc build
// checks every link).
#![cfg_attr(
    not(any(feature = "tokio", feature = "smol", feature = "async-std")),
    allow(rustdoc::broken_intra_doc_links)
)]

use super::{Consumer, Delivery, Publish, PublishError, Publisher, Recv};
use crate::runtime::Timer;
use crate::timeout::{Abandon, Timeout};
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use core::time::Duration;

pub use crate::mailbox::RecvTimeoutError;

/// Why a [`publish_timeout`](Publisher::publish_timeout) failed; the
/// message comes back either way.
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, PublishTimeoutError};
/// use flowgate::runtime::ManualClock;
/// use futures::FutureExt;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let queue = Dispatcher::<u32>::builder().capacity(1).build();
/// let publisher = queue.publisher();
/// publisher.try_publish(1).unwrap(); // no consumer: the backlog is full
/// let mut publish = Box::pin(publisher.publish_timeout_with(&clock, 2, Duration::from_secs(1)));
/// assert!((&mut publish).now_or_never().is_none());
/// clock.advance(Duration::from_secs(1));
/// let err = publish.now_or_never().unwrap().unwrap_err();
/// assert!(matches!(err, PublishTimeoutError::Timeout(2)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum PublishTimeoutError<T> {
    /// The backlog had no room before the deadline.
    Timeout(T),
    /// The dispatcher is closed.
    Closed(T),
}

impl<T> PublishTimeoutError<T> {
    /// The message that was not published.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::PublishTimeoutError;
    /// assert_eq!(PublishTimeoutError::Closed("job").into_inner(), "job");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            Self::Timeout(msg) | Self::Closed(msg) => msg,
        }
    }

    /// Whether the deadline passed (rather than the dispatcher closing).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::PublishTimeoutError;
    /// assert!(PublishTimeoutError::Timeout(()).is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }
}

impl<T> fmt::Debug for PublishTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout(_) => "Timeout(..)",
            Self::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for PublishTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout(_) => "timed out waiting for room in the backlog",
            Self::Closed(_) => "publishing to a closed dispatcher",
        })
    }
}

impl<T> std::error::Error for PublishTimeoutError<T> {}

/// A receive gives nothing back when withdrawn: deliveries stay assigned
/// to the consumer.
impl<T> Abandon for Recv<'_, T> {
    type Residue = ();

    fn abandon(self: Pin<&mut Self>) {}
}

impl<T> Publisher<T> {
    /// Like [`publish`](Self::publish), giving up after `timeout`; sleeps
    /// with [`DefaultTimer`](crate::runtime::DefaultTimer) (tokio's timer
    /// inside a tokio runtime, otherwise `async-io`'s). Present when any
    /// runtime feature is on; [`publish_timeout_with`](Self::publish_timeout_with)
    /// takes any [`Timer`]. The deadline counts from this call.
    ///
    /// # Errors
    ///
    /// [`PublishTimeoutError::Timeout`] with the message if the backlog had
    /// no room in time, [`PublishTimeoutError::Closed`] with it once the
    /// dispatcher is closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the message (as `publish`); room granted
    /// to it goes on to the next waiting publisher. On timeout the message
    /// comes back and room granted as the deadline passed goes on too.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "smol")]
    /// futures::executor::block_on(async {
    /// use flowgate::dispatch::{Dispatcher, PublishTimeoutError};
    /// use std::time::Duration;
    ///
    /// let queue = Dispatcher::<u32>::builder().capacity(1).build();
    /// let publisher = queue.publisher();
    /// publisher.publish_timeout(1, Duration::from_secs(1)).await.unwrap();
    /// let err = publisher.publish_timeout(2, Duration::from_millis(1)).await.unwrap_err();
    /// assert!(matches!(err, PublishTimeoutError::Timeout(2)));
    /// });
    /// ```
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "tokio", feature = "smol", feature = "async-std")))
    )]
    pub fn publish_timeout(
        &self,
        msg: T,
        timeout: Duration,
    ) -> PublishTimeout<'_, T, crate::runtime::DefaultSleep> {
        self.publish_timeout_with(&crate::runtime::DEFAULT_TIMER, msg, timeout)
    }

    /// Like [`publish_timeout`](Self::publish_timeout), with the deadline
    /// measured by `timer` (from this call).
    ///
    /// # Errors
    ///
    /// As [`publish_timeout`](Self::publish_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`publish_timeout`](Self::publish_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, PublishTimeoutError};
    /// use flowgate::runtime::ManualClock;
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let queue = Dispatcher::<u32>::builder().capacity(1).build();
    /// let publisher = queue.publisher();
    /// publisher.try_publish(1).unwrap();
    /// let mut publish = publisher.publish_timeout_with(&clock, 2, Duration::from_secs(1));
    /// assert!((&mut publish).now_or_never().is_none());
    /// clock.advance(Duration::from_secs(1));
    /// let err = publish.now_or_never().unwrap().unwrap_err();
    /// assert_eq!(err.into_inner(), 2);
    /// ```
    pub fn publish_timeout_with<Tm: Timer>(
        &self,
        timer: &Tm,
        msg: T,
        timeout: Duration,
    ) -> PublishTimeout<'_, T, Tm::Sleep> {
        PublishTimeout {
            inner: Timeout::new(self.publish(msg), timer.sleep(timeout)),
        }
    }
}

impl<T> Consumer<T> {
    /// Like [`recv`](Self::recv), giving up after `timeout`; sleeps with
    /// [`DefaultTimer`](crate::runtime::DefaultTimer). Present when any
    /// runtime feature is on; [`recv_timeout_with`](Self::recv_timeout_with)
    /// takes any [`Timer`].
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] if no delivery arrived in time,
    /// [`RecvTimeoutError::Closed`] once `recv` would return `None`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: deliveries stay assigned to the consumer until returned.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "smol")]
    /// futures::executor::block_on(async {
    /// use flowgate::dispatch::{Dispatcher, RecvTimeoutError, Subscription};
    /// use std::time::Duration;
    ///
    /// let queue = Dispatcher::<u32>::new();
    /// let mut consumer = queue.subscribe(Subscription::prefetch(1));
    /// let err = consumer.recv_timeout(Duration::from_millis(1)).await.unwrap_err();
    /// assert_eq!(err, RecvTimeoutError::Timeout);
    /// });
    /// ```
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "tokio", feature = "smol", feature = "async-std")))
    )]
    pub fn recv_timeout(
        &mut self,
        timeout: Duration,
    ) -> RecvTimeout<'_, T, crate::runtime::DefaultSleep> {
        self.recv_timeout_with(&crate::runtime::DEFAULT_TIMER, timeout)
    }

    /// Like [`recv_timeout`](Self::recv_timeout), with the deadline
    /// measured by `timer` (from this call).
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Self::recv_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`recv_timeout`](Self::recv_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, RecvTimeoutError, Subscription};
    /// use flowgate::runtime::ManualClock;
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let queue = Dispatcher::<u32>::new();
    /// let mut consumer = queue.subscribe(Subscription::prefetch(1));
    /// queue.publisher().try_publish(7).unwrap();
    /// let delivery = consumer
    ///     .recv_timeout_with(&clock, Duration::from_secs(1))
    ///     .now_or_never()
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!(*delivery, 7);
    /// delivery.ack();
    /// ```
    pub fn recv_timeout_with<Tm: Timer>(
        &mut self,
        timer: &Tm,
        timeout: Duration,
    ) -> RecvTimeout<'_, T, Tm::Sleep> {
        RecvTimeout {
            inner: Timeout::new(self.recv(), timer.sleep(timeout)),
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`Publisher::publish_timeout`] and
    /// [`publish_timeout_with`](Publisher::publish_timeout_with); `S` is
    /// the timer's sleep.
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the message; room granted to it goes on to the
    /// next waiting publisher.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, PublishTimeoutError};
    /// use flowgate::runtime::ManualClock;
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let queue = Dispatcher::<u32>::builder().capacity(1).build();
    /// let publisher = queue.publisher();
    /// publisher.try_publish(1).unwrap(); // no consumer: the backlog is full
    /// let mut publish = Box::pin(publisher.publish_timeout_with(&clock, 2, Duration::from_secs(1)));
    /// assert!((&mut publish).now_or_never().is_none());
    /// clock.advance(Duration::from_secs(1));
    /// let err = publish.now_or_never().unwrap().unwrap_err();
    /// assert!(matches!(err, PublishTimeoutError::Timeout(2)));
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct PublishTimeout<'a, T, S> {
        #[pin]
        inner: Timeout<Publish<'a, T>, S>,
    }
}

impl<T, S: Future<Output = ()>> Future for PublishTimeout<'_, T, S> {
    type Output = Result<(), PublishTimeoutError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(self.project().inner.poll(cx)) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(PublishError(msg))) => Err(PublishTimeoutError::Closed(msg)),
            Err(msg) => Err(PublishTimeoutError::Timeout(msg)),
        })
    }
}

impl<T, S> fmt::Debug for PublishTimeout<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishTimeout").finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// Future of [`Consumer::recv_timeout`] and
    /// [`recv_timeout_with`](Consumer::recv_timeout_with); `S` is the
    /// timer's sleep.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: deliveries stay assigned to the consumer.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, RecvTimeoutError, Subscription};
    /// use flowgate::runtime::ManualClock;
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let queue = Dispatcher::<u32>::new();
    /// let mut consumer = queue.subscribe(Subscription::prefetch(1));
    /// let mut recv = Box::pin(consumer.recv_timeout_with(&clock, Duration::from_secs(1)));
    /// assert!((&mut recv).now_or_never().is_none());
    /// clock.advance(Duration::from_secs(1));
    /// assert!(matches!(recv.now_or_never(), Some(Err(RecvTimeoutError::Timeout))));
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct RecvTimeout<'a, T, S> {
        #[pin]
        inner: Timeout<Recv<'a, T>, S>,
    }
}

impl<T, S: Future<Output = ()>> Future for RecvTimeout<'_, T, S> {
    type Output = Result<Delivery<T>, RecvTimeoutError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(self.project().inner.poll(cx)) {
            Ok(Some(delivery)) => Ok(delivery),
            Ok(None) => Err(RecvTimeoutError::Closed),
            Err(()) => Err(RecvTimeoutError::Timeout),
        })
    }
}

impl<T, S> fmt::Debug for RecvTimeout<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvTimeout").finish_non_exhaustive()
    }
}
