//! Errors of the dispatcher. Each hands the message back.

use core::fmt;

/// [`publish`](super::Publisher::publish) failed because the dispatcher is
/// closed; the message is handed back.
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, PublishError};
/// use futures::executor::block_on;
///
/// let queue = Dispatcher::<u32>::builder().build();
/// let publisher = queue.publisher();
/// queue.close();
/// let PublishError(job) = block_on(publisher.publish(7)).unwrap_err();
/// assert_eq!(job, 7);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublishError<T>(pub T);

impl<T> PublishError<T> {
    /// The message that was not published.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::PublishError;
    /// assert_eq!(PublishError(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Why [`try_publish`](super::Publisher::try_publish) failed; the message is
/// handed back either way.
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, TryPublishError};
///
/// let queue = Dispatcher::<u32>::builder().capacity(1).build();
/// let publisher = queue.publisher();
/// publisher.try_publish(1).unwrap(); // no consumer: stays in the backlog
/// assert_eq!(publisher.try_publish(2), Err(TryPublishError::Full(2)));
/// queue.close();
/// assert_eq!(publisher.try_publish(3), Err(TryPublishError::Closed(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryPublishError<T> {
    /// The backlog is at its capacity (or publishers are already waiting).
    Full(T),
    /// The dispatcher is closed.
    Closed(T),
}

impl<T> TryPublishError<T> {
    /// The message that was not published.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::TryPublishError;
    /// assert_eq!(TryPublishError::Full(1).into_inner(), 1);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(msg) | Self::Closed(msg) => msg,
        }
    }

    /// Whether the backlog was full.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(flowgate::dispatch::TryPublishError::Full(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// Whether the dispatcher was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(flowgate::dispatch::TryPublishError::Closed(()).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

/// Why [`try_recv`](super::Consumer::try_recv) returned no delivery.
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, Subscription, TryRecvError};
///
/// let queue = Dispatcher::<u32>::builder().build();
/// let mut consumer = queue.subscribe(Subscription::prefetch(1));
/// assert_eq!(consumer.try_recv().unwrap_err(), TryRecvError::Empty);
/// queue.close();
/// assert_eq!(consumer.try_recv().unwrap_err(), TryRecvError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryRecvError {
    /// Nothing is assigned to this consumer right now.
    Empty,
    /// The dispatcher is closed and nothing is left queued or unacked.
    Closed,
}

impl<T> fmt::Debug for PublishError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PublishError(..)")
    }
}

impl<T> fmt::Display for PublishError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("publishing on a closed dispatcher")
    }
}

impl<T> std::error::Error for PublishError<T> {}

impl<T> fmt::Debug for TryPublishError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "Full(..)",
            Self::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TryPublishError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "dispatcher backlog is full",
            Self::Closed(_) => "publishing on a closed dispatcher",
        })
    }
}

impl<T> std::error::Error for TryPublishError<T> {}

impl<T> From<PublishError<T>> for TryPublishError<T> {
    fn from(err: PublishError<T>) -> Self {
        Self::Closed(err.0)
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "no delivery ready",
            Self::Closed => "dispatcher closed and drained",
        })
    }
}

impl std::error::Error for TryRecvError {}
