//! Errors of the mailbox. Every error that refuses a message hands it back.

use core::fmt;

/// The mailbox is closed (its [`Receiver`](super::Receiver) was closed or
/// dropped); the message comes back in the error.
///
/// Under [`Overflow::RejectNew`](super::Overflow::RejectNew),
/// [`Sender::send`](super::Sender::send) also returns this error when the
/// mailbox is full; [`Sender::is_closed`](super::Sender::is_closed) tells the
/// two apart, and [`Sender::try_send`](super::Sender::try_send) reports them
/// as distinct [`TrySendError`] variants.
///
/// # Examples
///
/// ```
/// use flowgate::mailbox::{self, SendError};
/// futures::executor::block_on(async {
/// let (tx, rx) = mailbox::bounded::<String>(1);
/// drop(rx);
/// let SendError(msg) = tx.send("hello".to_owned()).await.unwrap_err();
/// assert_eq!(msg, "hello");
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The message that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(flowgate::mailbox::SendError(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed mailbox")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why [`Sender::try_send`](super::Sender::try_send) refused a message; the
/// message comes back in either case.
///
/// # Examples
///
/// ```
/// use flowgate::mailbox::{self, TrySendError};
/// let (tx, rx) = mailbox::bounded::<u32>(1);
/// tx.try_send(1).unwrap();
/// let full = tx.try_send(2).unwrap_err();
/// assert!(full.is_full());
/// assert_eq!(full.into_inner(), 2);
/// drop(rx);
/// assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrySendError<T> {
    /// Every slot is taken (or, under [`Overflow::Block`](super::Overflow::Block),
    /// other senders are already waiting for one).
    Full(T),
    /// The receiver closed or dropped the mailbox.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The message that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::mailbox::TrySendError;
    /// assert_eq!(TrySendError::Full(1).into_inner(), 1);
    /// assert_eq!(TrySendError::Closed(2).into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(msg) | Self::Closed(msg) => msg,
        }
    }

    /// Whether the mailbox was full.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(flowgate::mailbox::TrySendError::Full(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// Whether the mailbox was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(flowgate::mailbox::TrySendError::Closed(()).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(err: SendError<T>) -> Self {
        Self::Closed(err.0)
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "Full(..)",
            Self::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "mailbox full",
            Self::Closed(_) => "sending on a closed mailbox",
        })
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no message.
///
/// # Examples
///
/// ```
/// use flowgate::mailbox::{self, TryRecvError};
/// let (tx, mut rx) = mailbox::bounded::<u32>(1);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryRecvError {
    /// No message is ready now; more may come.
    Empty,
    /// No message is buffered and none can come: every sender is gone, or
    /// the receiver closed the mailbox and every reserved slot was used or
    /// released.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "mailbox empty",
            Self::Closed => "mailbox closed and drained",
        })
    }
}

impl std::error::Error for TryRecvError {}
