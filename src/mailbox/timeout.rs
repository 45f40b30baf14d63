//! Sends and receives with a deadline: [`Sender::send_timeout`] and
//! [`Receiver::recv_timeout`], over the crate's generic
//! [`Timeout`](crate::timeout::Timeout).
//!
//! A timed send waits for a slot with [`Sender::reserve`] (cancel-safe: a
//! slot granted just as the deadline passes goes on to the next waiting
//! sender) and keeps the message itself, so a timeout hands the message
//! back untouched. A timed receive is a [`Recv`] raced against the sleep;
//! `Recv` takes a message only in the poll that returns it, so a message
//! that arrives as the deadline passes stays queued.

// The plain timed forms exist only with a runtime feature; without one,
// rustdoc renders their links as plain text (the all-features doc build
// checks every link).
#![cfg_attr(
    not(any(feature = "tokio", feature = "smol", feature = "async-std")),
    allow(rustdoc::broken_intra_doc_links)
)]

use super::{Overflow, Receiver, Recv, Reserve, Sender, TrySendError};
use crate::runtime::Timer;
use crate::timeout::{Abandon, Timeout};
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use core::time::Duration;

/// Why a [`send_timeout`](Sender::send_timeout) failed; the message comes
/// back either way.
///
/// # Examples
///
/// ```
/// use flowgate::mailbox::{self, SendTimeoutError};
/// use flowgate::runtime::ManualClock;
/// use futures::FutureExt;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let (tx, _rx) = mailbox::bounded(1);
/// tx.try_send(1).unwrap();
/// let mut send = Box::pin(tx.send_timeout_with(&clock, 2, Duration::from_secs(1)));
/// assert!((&mut send).now_or_never().is_none()); // full: waits
/// clock.advance(Duration::from_secs(1));
/// let err = send.now_or_never().unwrap().unwrap_err();
/// assert!(matches!(err, SendTimeoutError::Timeout(2)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// No slot came free before the deadline (or, under
    /// [`Overflow::RejectNew`], the mailbox was full).
    Timeout(T),
    /// The receiver is gone or closed.
    Closed(T),
}

impl<T> SendTimeoutError<T> {
    /// The message that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::mailbox::SendTimeoutError;
    /// assert_eq!(SendTimeoutError::Timeout(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            Self::Timeout(msg) | Self::Closed(msg) => msg,
        }
    }

    /// Whether the deadline passed (rather than the mailbox closing).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::mailbox::SendTimeoutError;
    /// assert!(SendTimeoutError::Timeout(()).is_timeout());
    /// assert!(!SendTimeoutError::Closed(()).is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// Whether the mailbox was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::mailbox::SendTimeoutError;
    /// assert!(SendTimeoutError::Closed(()).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout(_) => "Timeout(..)",
            Self::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout(_) => "timed out waiting for a mailbox slot",
            Self::Closed(_) => "sending on a closed mailbox",
        })
    }
}

impl<T> std::error::Error for SendTimeoutError<T> {}

/// Why a [`recv_timeout`](Receiver::recv_timeout) gave no message.
///
/// # Examples
///
/// ```
/// use flowgate::mailbox::{self, RecvTimeoutError};
/// use flowgate::runtime::ManualClock;
/// use futures::FutureExt;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let (tx, mut rx) = mailbox::bounded::<u8>(1);
/// let mut recv = Box::pin(rx.recv_timeout_with(&clock, Duration::from_secs(1)));
/// assert!((&mut recv).now_or_never().is_none());
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(recv.now_or_never(), Some(Err(RecvTimeoutError::Timeout)));
/// # drop(tx);
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy, Hash)]
pub enum RecvTimeoutError {
    /// No message arrived before the deadline.
    Timeout,
    /// The mailbox is closed (or every sender is gone) and empty.
    Closed,
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timed out waiting for a message",
            Self::Closed => "mailbox closed and empty",
        })
    }
}

impl std::error::Error for RecvTimeoutError {}

/// A reservation gives nothing back when withdrawn: its drop passes any
/// slot granted to it on to the next waiting sender.
impl<T> Abandon for Reserve<'_, T> {
    type Residue = ();

    fn abandon(self: Pin<&mut Self>) {}
}

/// A receive gives nothing back when withdrawn: it takes a message only in
/// the poll that returns it.
impl<T> Abandon for Recv<'_, T> {
    type Residue = ();

    fn abandon(self: Pin<&mut Self>) {}
}

impl<T> Sender<T> {
    /// Like [`send`](Self::send), giving up after `timeout`; sleeps with
    /// [`DefaultTimer`](crate::runtime::DefaultTimer) (tokio's timer inside
    /// a tokio runtime, otherwise `async-io`'s). Present when any runtime
    /// feature is on; [`send_timeout_with`](Self::send_timeout_with) takes
    /// any [`Timer`]. The deadline counts from this call.
    ///
    /// Under [`Overflow::RejectNew`] a full mailbox is refused at once with
    /// [`SendTimeoutError::Timeout`]; under [`Overflow::DropOldest`] the
    /// oldest message is evicted as [`try_send`](Self::try_send) does.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] with the message if no slot came free
    /// in time, [`SendTimeoutError::Closed`] with it if the receiver is
    /// gone or closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the message (as [`send`](Self::send)); a
    /// slot granted to it goes on to the next waiting sender. On timeout,
    /// the message comes back in the error and a slot granted just as the
    /// deadline passed goes on too: never lost, never counted twice.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "smol")]
    /// futures::executor::block_on(async {
    /// use flowgate::mailbox::{self, SendTimeoutError};
    /// use std::time::Duration;
    ///
    /// let (tx, _rx) = mailbox::bounded(1);
    /// tx.send_timeout(1, Duration::from_secs(1)).await.unwrap();
    /// let err = tx.send_timeout(2, Duration::from_millis(1)).await.unwrap_err();
    /// assert!(matches!(err, SendTimeoutError::Timeout(2)));
    /// });
    /// ```
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "tokio", feature = "smol", feature = "async-std")))
    )]
    pub fn send_timeout(
        &self,
        msg: T,
        timeout: Duration,
    ) -> SendTimeout<'_, T, crate::runtime::DefaultSleep> {
        self.send_timeout_with(&crate::runtime::DEFAULT_TIMER, msg, timeout)
    }

    /// Like [`send_timeout`](Self::send_timeout), with the deadline
    /// measured by `timer` (from this call).
    ///
    /// # Errors
    ///
    /// As [`send_timeout`](Self::send_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`send_timeout`](Self::send_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::mailbox::{self, SendTimeoutError};
    /// use flowgate::runtime::ManualClock;
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let (tx, _rx) = mailbox::bounded(1);
    /// tx.try_send("first").unwrap();
    /// let mut send = tx.send_timeout_with(&clock, "second", Duration::from_secs(1));
    /// assert!((&mut send).now_or_never().is_none());
    /// clock.advance(Duration::from_secs(1));
    /// let err = send.now_or_never().unwrap().unwrap_err();
    /// assert_eq!(err.into_inner(), "second");
    /// ```
    pub fn send_timeout_with<Tm: Timer>(
        &self,
        timer: &Tm,
        msg: T,
        timeout: Duration,
    ) -> SendTimeout<'_, T, Tm::Sleep> {
        SendTimeout {
            sender: self,
            msg: Some(msg),
            tried: false,
            inner: Timeout::new(self.reserve(), timer.sleep(timeout)),
        }
    }
}

impl<T> Receiver<T> {
    /// Like [`recv`](Self::recv), giving up after `timeout`; sleeps with
    /// [`DefaultTimer`](crate::runtime::DefaultTimer). Present when any
    /// runtime feature is on; [`recv_timeout_with`](Self::recv_timeout_with)
    /// takes any [`Timer`].
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] if no message arrived in time,
    /// [`RecvTimeoutError::Closed`] once the mailbox is closed and drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a message is taken only when it is returned; one that
    /// arrives as the deadline passes stays queued for the next receive.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "smol")]
    /// futures::executor::block_on(async {
    /// use flowgate::mailbox::{self, RecvTimeoutError};
    /// use std::time::Duration;
    ///
    /// let (tx, mut rx) = mailbox::bounded::<u8>(1);
    /// let err = rx.recv_timeout(Duration::from_millis(1)).await.unwrap_err();
    /// assert_eq!(err, RecvTimeoutError::Timeout);
    /// tx.try_send(5).unwrap();
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(1)).await, Ok(5));
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
    /// use flowgate::mailbox::{self, RecvTimeoutError};
    /// use flowgate::runtime::ManualClock;
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let (_tx, mut rx) = mailbox::bounded::<u8>(1);
    /// let mut recv = rx.recv_timeout_with(&clock, Duration::from_secs(1));
    /// assert!((&mut recv).now_or_never().is_none());
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(recv.now_or_never().unwrap(), Err(RecvTimeoutError::Timeout));
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
    /// Future of [`Sender::send_timeout`] and
    /// [`send_timeout_with`](Sender::send_timeout_with); `S` is the timer's
    /// sleep.
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the message; a slot granted to it goes on to the
    /// next waiting sender.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::mailbox::{self, SendTimeoutError};
    /// use flowgate::runtime::ManualClock;
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let (tx, _rx) = mailbox::bounded(1);
    /// tx.try_send(1).unwrap();
    /// let mut send = Box::pin(tx.send_timeout_with(&clock, 2, Duration::from_secs(1)));
    /// assert!((&mut send).now_or_never().is_none()); // full: waits
    /// clock.advance(Duration::from_secs(1));
    /// let err = send.now_or_never().unwrap().unwrap_err();
    /// assert!(matches!(err, SendTimeoutError::Timeout(2)));
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct SendTimeout<'a, T, S> {
        sender: &'a Sender<T>,
        msg: Option<T>,
        // Whether the non-blocking policies had their `try_send`.
        tried: bool,
        #[pin]
        inner: Timeout<Reserve<'a, T>, S>,
    }
}

impl<T, S: Future<Output = ()>> Future for SendTimeout<'_, T, S> {
    type Output = Result<(), SendTimeoutError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let policy = this.sender.overflow();
        if !*this.tried && policy != Overflow::Block {
            *this.tried = true;
            let msg = this
                .msg
                .take()
                .expect("SendTimeout polled after completion");
            match this.sender.try_send(msg) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(TrySendError::Closed(msg)) => {
                    return Poll::Ready(Err(SendTimeoutError::Closed(msg)));
                }
                Err(TrySendError::Full(msg)) if policy == Overflow::RejectNew => {
                    return Poll::Ready(Err(SendTimeoutError::Timeout(msg)));
                }
                // DropOldest found nothing to evict: wait like Block.
                Err(TrySendError::Full(msg)) => *this.msg = Some(msg),
            }
        }
        let result = ready!(this.inner.poll(cx));
        let msg = this
            .msg
            .take()
            .expect("SendTimeout polled after completion");
        Poll::Ready(match result {
            Ok(Ok(permit)) => {
                permit.send(msg);
                Ok(())
            }
            Ok(Err(_closed)) => Err(SendTimeoutError::Closed(msg)),
            Err(()) => Err(SendTimeoutError::Timeout(msg)),
        })
    }
}

impl<T, S> fmt::Debug for SendTimeout<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendTimeout")
            .field("done", &self.msg.is_none())
            .finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// Future of [`Receiver::recv_timeout`] and
    /// [`recv_timeout_with`](Receiver::recv_timeout_with); `S` is the
    /// timer's sleep.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: no message is taken unless it is returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::mailbox::{self, RecvTimeoutError};
    /// use flowgate::runtime::ManualClock;
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let (tx, mut rx) = mailbox::bounded::<u8>(1);
    /// let mut recv = Box::pin(rx.recv_timeout_with(&clock, Duration::from_secs(1)));
    /// assert!((&mut recv).now_or_never().is_none());
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(recv.now_or_never(), Some(Err(RecvTimeoutError::Timeout)));
    /// # drop(tx);
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct RecvTimeout<'a, T, S> {
        #[pin]
        inner: Timeout<Recv<'a, T>, S>,
    }
}

impl<T, S: Future<Output = ()>> Future for RecvTimeout<'_, T, S> {
    type Output = Result<T, RecvTimeoutError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(self.project().inner.poll(cx)) {
            Ok(Some(msg)) => Ok(msg),
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
