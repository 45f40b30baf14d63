//! [`SendSink`]: a [`Sender`] as a `futures` [`Sink`].

use super::slots::{Refused, SlotWait};
use super::{Overflow, SendError, Sender};
use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};
use futures_sink::Sink;

/// A [`Sender`] as a [`Sink`], from [`Sender::into_sink`].
///
/// `poll_ready` reserves a slot (like [`Sender::reserve`]) and
/// `start_send` fills it without waiting, so an item handed to
/// `start_send` is never refused. `poll_flush` has nothing to do (items go
/// straight into the mailbox); `poll_close` frees an unused reservation
/// and drops the sender, so the receiver sees the end of the stream once
/// every other sender is gone too.
///
/// # Overflow
///
/// Under [`Overflow::Block`] and [`Overflow::RejectNew`], `poll_ready`
/// waits for a free slot (a sink has no way to hand an item back, and
/// `poll_ready` is how a sink applies backpressure). Under
/// [`Overflow::DropOldest`] it evicts the oldest message instead of
/// waiting, as [`Sender::send`] does.
///
/// # Errors
///
/// `SendError(())` once the receiver closed or dropped the mailbox, or
/// after `poll_close`. An item given to `start_send` after a successful
/// `poll_ready` is accepted even if the mailbox closes in between (as for
/// a [`Permit`](super::Permit)).
///
/// # Cancel safety
///
/// A pending `poll_ready` is cancel-safe: dropping the sink gives up its
/// place among waiting senders (passing on any slot assigned to it) and
/// frees a reserved but unused slot.
///
/// # Panics
///
/// `start_send` panics if `poll_ready` did not return `Ready(Ok(()))`
/// since the last `start_send` (the `Sink` contract).
///
/// # Examples
///
/// ```
/// use futures::{SinkExt, StreamExt, stream};
/// futures::executor::block_on(async {
/// let (tx, rx) = flowgate::mailbox::bounded(8);
/// let mut sink = tx.into_sink();
/// sink.send_all(&mut stream::iter(0..5).map(Ok)).await.unwrap();
/// drop(sink);
/// assert_eq!(rx.collect::<Vec<_>>().await, [0, 1, 2, 3, 4]);
/// });
/// ```
pub struct SendSink<T> {
    /// `None` after `poll_close`.
    sender: Option<Sender<T>>,
    /// A slot credit is held for the next `start_send`.
    reserved: bool,
    /// A reservation is in progress in `machine`.
    waiting: bool,
    machine: SlotWait,
}

impl<T> SendSink<T> {
    pub(super) fn new(sender: Sender<T>) -> Self {
        Self {
            sender: Some(sender),
            reserved: false,
            waiting: false,
            machine: SlotWait::new(),
        }
    }

    /// The sender, unless the sink was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = flowgate::mailbox::bounded::<u8>(1);
    /// let sink = tx.into_sink();
    /// assert_eq!(sink.get_ref().unwrap().capacity(), 1);
    /// ```
    pub fn get_ref(&self) -> Option<&Sender<T>> {
        self.sender.as_ref()
    }

    /// Whether a slot is reserved for the next `start_send`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::SinkExt;
    /// futures::executor::block_on(async {
    /// let (tx, _rx) = flowgate::mailbox::bounded::<u8>(1);
    /// let mut sink = tx.into_sink();
    /// assert!(!sink.is_reserved());
    /// futures::future::poll_fn(|cx| sink.poll_ready_unpin(cx)).await.unwrap();
    /// assert!(sink.is_reserved());
    /// });
    /// ```
    pub fn is_reserved(&self) -> bool {
        self.reserved
    }

    /// Gives up a reservation in progress or held.
    fn unreserve(&mut self) {
        if let Some(sender) = &self.sender {
            if self.waiting {
                self.waiting = false;
                sender.chan.cancel_wait(&mut self.machine);
            }
            if self.reserved {
                self.reserved = false;
                sender.chan.release_unused();
            }
        }
    }
}

// Nothing in the sink is pinned.
impl<T> Unpin for SendSink<T> {}

impl<T> Sink<T> for SendSink<T> {
    type Error = SendError<()>;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = &mut *self;
        let Some(sender) = &this.sender else {
            return Poll::Ready(Err(SendError(())));
        };
        if this.reserved {
            return Poll::Ready(Ok(()));
        }
        let chan = &sender.chan;
        if !this.waiting {
            match chan.slots.try_acquire() {
                Ok(()) => {
                    this.reserved = true;
                    return Poll::Ready(Ok(()));
                }
                Err(Refused::Closed) => return Poll::Ready(Err(SendError(()))),
                Err(Refused::Full) => {}
            }
            if chan.overflow == Overflow::DropOldest {
                if let Some(old) = chan.evict() {
                    // Its slot credit is ours now.
                    this.reserved = true;
                    drop(old);
                    return Poll::Ready(Ok(()));
                }
            }
            this.waiting = true;
            this.machine = SlotWait::new();
        }
        match this.machine.poll(&chan.slots, &sender.coop, cx) {
            Poll::Ready(Ok(())) => {
                this.waiting = false;
                this.reserved = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(_closed)) => {
                this.waiting = false;
                Poll::Ready(Err(SendError(())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn start_send(mut self: Pin<&mut Self>, item: T) -> Result<(), Self::Error> {
        let this = &mut *self;
        assert!(
            this.reserved,
            "SendSink::start_send called without a successful poll_ready"
        );
        this.reserved = false;
        let sender = this
            .sender
            .as_ref()
            .expect("a reservation implies a sender");
        sender.chan.push(item);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Result<(), Self::Error>> {
        self.unreserve();
        self.sender = None;
        Poll::Ready(Ok(()))
    }
}

impl<T> Drop for SendSink<T> {
    fn drop(&mut self) {
        self.unreserve();
    }
}

impl<T> fmt::Debug for SendSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendSink")
            .field("open", &self.sender.is_some())
            .field("reserved", &self.reserved)
            .finish_non_exhaustive()
    }
}
