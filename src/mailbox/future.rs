//! The mailbox's named futures.
//!
//! Waiting for a slot is one state machine (`SlotWait`, see `slots.rs`),
//! so every future that waits for a slot has the same FIFO order and
//! cancel safety.

use super::slots::SlotWait;
use super::{Chan, Overflow, OwnedPermit, Permit, Receiver, SendError, Sender, TrySendError};
use crate::coop::Meter;
use crate::waitlist::Key;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// Future of [`Sender::send`].
///
/// # Cancel safety
///
/// Dropping it before it completes drops the message (and gives up its
/// place among waiting senders, passing any slot already assigned to it to
/// the next one). Use [`Sender::reserve`] to wait without risking the
/// message.
///
/// # Examples
///
/// ```
/// futures::executor::block_on(async {
/// let (tx, mut rx) = flowgate::mailbox::bounded(1);
/// let send: flowgate::mailbox::Send<'_, &str> = tx.send("job");
/// send.await.unwrap();
/// assert_eq!(rx.recv().await, Some("job"));
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Send<'a, T> {
    chan: &'a Chan<T>,
    coop: &'a Meter,
    /// `None` once completed.
    msg: Option<T>,
    /// Whether the policy's first, non-waiting attempt was made.
    tried: bool,
    machine: SlotWait,
}

impl<'a, T> Send<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>, coop: &'a Meter, msg: T) -> Self {
        Self {
            chan,
            coop,
            msg: Some(msg),
            // Under Block the acquire machine's own fast path is the try.
            tried: chan.overflow == Overflow::Block,
            machine: SlotWait::new(),
        }
    }
}

// The message is never pinned: `Send` moves it out by value.
impl<T> Unpin for Send<'_, T> {}

impl<T> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let chan = this.chan;
        let Some(mut msg) = this.msg.take() else {
            panic!("Send polled after completion");
        };
        if !this.tried {
            this.tried = true;
            match try_by_policy(chan, msg) {
                Ok(done) => return Poll::Ready(done),
                // DropOldest with nothing to evict: wait as under Block.
                Err(m) => msg = m,
            }
        }
        match this.machine.poll(&chan.slots, this.coop, cx) {
            Poll::Ready(Ok(())) => {
                chan.push(msg);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(_closed)) => Poll::Ready(Err(SendError(msg))),
            Poll::Pending => {
                this.msg = Some(msg);
                Poll::Pending
            }
        }
    }
}

/// The first, non-waiting attempt of a send under `DropOldest` or
/// `RejectNew`: `Ok` with the send's result, or `Err` with the message
/// if the send should wait for a slot as under `Block`.
#[inline(never)]
fn try_by_policy<T>(chan: &Chan<T>, msg: T) -> Result<Result<(), SendError<T>>, T> {
    match chan.try_send(msg) {
        Ok(()) => Ok(Ok(())),
        Err(TrySendError::Closed(m)) => Ok(Err(SendError(m))),
        Err(TrySendError::Full(m)) if chan.overflow == Overflow::RejectNew => Ok(Err(SendError(m))),
        Err(TrySendError::Full(m)) => Err(m),
    }
}

impl<T> Drop for Send<'_, T> {
    fn drop(&mut self) {
        self.chan.cancel_wait(&mut self.machine);
    }
}

impl<T> fmt::Debug for Send<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Send")
            .field("done", &self.msg.is_none())
            .finish_non_exhaustive()
    }
}

/// Future of [`Sender::reserve`].
///
/// # Cancel safety
///
/// Cancel-safe: dropping it gives up its place among waiting senders and
/// passes any slot already assigned to it to the next one.
///
/// # Examples
///
/// ```
/// futures::executor::block_on(async {
/// let (tx, mut rx) = flowgate::mailbox::bounded(1);
/// let permit = tx.reserve().await.unwrap(); // a slot, held
/// permit.send(7);
/// assert_eq!(rx.recv().await, Some(7));
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Reserve<'a, T> {
    chan: &'a Chan<T>,
    coop: &'a Meter,
    machine: SlotWait,
}

impl<'a, T> Reserve<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>, coop: &'a Meter) -> Self {
        Self {
            chan,
            coop,
            machine: SlotWait::new(),
        }
    }
}

impl<'a, T> Future for Reserve<'a, T> {
    type Output = Result<Permit<'a, T>, SendError<()>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let chan = self.chan;
        let coop = self.coop;
        match self.machine.poll(&chan.slots, coop, cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(Permit::new(chan))),
            Poll::Ready(Err(_closed)) => Poll::Ready(Err(SendError(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Drop for Reserve<'_, T> {
    fn drop(&mut self) {
        self.chan.cancel_wait(&mut self.machine);
    }
}

impl<T> fmt::Debug for Reserve<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reserve").finish_non_exhaustive()
    }
}

/// Future of [`Sender::reserve_owned`].
///
/// # Cancel safety
///
/// Cancel-safe, as [`Reserve`]; the sender it owns is dropped with it.
///
/// # Examples
///
/// ```
/// futures::executor::block_on(async {
/// let (tx, mut rx) = flowgate::mailbox::bounded(1);
/// let permit = tx.reserve_owned().await.unwrap(); // 'static: can move to a task
/// let tx = permit.send(7); // hands the sender back
/// assert_eq!(rx.recv().await, Some(7));
/// # drop(tx);
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct ReserveOwned<T> {
    /// `None` once completed.
    sender: Option<Sender<T>>,
    machine: SlotWait,
}

impl<T> ReserveOwned<T> {
    pub(super) fn new(sender: Sender<T>) -> Self {
        Self {
            sender: Some(sender),
            machine: SlotWait::new(),
        }
    }
}

impl<T> Future for ReserveOwned<T> {
    type Output = Result<OwnedPermit<T>, SendError<()>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let sender = this
            .sender
            .as_ref()
            .expect("ReserveOwned polled after completion");
        let ready = match this.machine.poll(&sender.chan.slots, &sender.coop, cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(ready) => ready,
        };
        let sender = this.sender.take().expect("checked above");
        Poll::Ready(match ready {
            Ok(()) => Ok(OwnedPermit::new(sender)),
            Err(_closed) => Err(SendError(())),
        })
    }
}

impl<T> Drop for ReserveOwned<T> {
    fn drop(&mut self) {
        if let Some(sender) = &self.sender {
            sender.chan.cancel_wait(&mut self.machine);
        }
    }
}

impl<T> fmt::Debug for ReserveOwned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReserveOwned")
            .field("done", &self.sender.is_none())
            .finish_non_exhaustive()
    }
}

/// Future of [`Sender::closed`].
///
/// # Cancel safety
///
/// Cancel-safe: it holds nothing but its place in the list of tasks to wake.
///
/// # Examples
///
/// ```
/// futures::executor::block_on(async {
/// let (tx, rx) = flowgate::mailbox::bounded::<u8>(1);
/// drop(rx);
/// tx.closed().await; // resolves once the receiver is gone or closed
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Closed<'a, T> {
    chan: &'a Chan<T>,
    /// Our node in `chan.closed_waiters`, while queued.
    key: Option<Key>,
}

impl<'a, T> Closed<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>) -> Self {
        Self { chan, key: None }
    }
}

impl<T> Future for Closed<'_, T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.key.is_none() && this.chan.is_closed() {
            return Poll::Ready(());
        }
        // A waker replaced or freed here is dropped after the lock is
        // released: it may own a permit of this very mailbox.
        let (poll, old_waker) = {
            let mut waiters = this.chan.closed_waiters.lock();
            match this.key {
                Some(key) if waiters.is_linked(key) => {
                    (Poll::Pending, waiters.set_waker(key, cx.waker()))
                }
                Some(key) => {
                    // Unlinked: the close woke us.
                    let ((), old) = waiters.remove(key);
                    this.key = None;
                    (Poll::Ready(()), old)
                }
                // Checked under the lock: `close` sets the flag before it
                // takes the lock to wake the list.
                None if this.chan.is_closed() => (Poll::Ready(()), None),
                None => {
                    this.key = Some(waiters.push_back((), cx.waker().clone()));
                    (Poll::Pending, None)
                }
            }
        };
        drop(old_waker);
        poll
    }
}

impl<T> Drop for Closed<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // The guard is a temporary: it is released before the waker
            // (bound to `_old`) is dropped at the end of the block.
            let ((), _old) = self.chan.closed_waiters.lock().remove(key);
        }
    }
}

impl<T> fmt::Debug for Closed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closed")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// Future of [`Receiver::recv`].
///
/// # Cancel safety
///
/// Cancel-safe: a message is taken only in the poll that returns it.
///
/// # Examples
///
/// ```
/// futures::executor::block_on(async {
/// let (tx, mut rx) = flowgate::mailbox::bounded(1);
/// tx.try_send(1).unwrap();
/// drop(tx);
/// assert_eq!(rx.recv().await, Some(1));
/// assert_eq!(rx.recv().await, None); // every sender gone, drained
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, T> {
    rx: &'a mut Receiver<T>,
}

impl<'a, T> Recv<'a, T> {
    pub(super) fn new(rx: &'a mut Receiver<T>) -> Self {
        Self { rx }
    }
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.rx.poll_recv(cx)
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv").finish_non_exhaustive()
    }
}

/// Future of [`Receiver::recv_many`].
///
/// # Cancel safety
///
/// Cancel-safe: messages are moved into the buffer only in the poll that
/// returns.
///
/// # Examples
///
/// ```
/// futures::executor::block_on(async {
/// let (tx, mut rx) = flowgate::mailbox::bounded(4);
/// for i in 0..3 {
///     tx.try_send(i).unwrap();
/// }
/// let mut buf = Vec::new();
/// assert_eq!(rx.recv_many(&mut buf, 8).await, 3);
/// assert_eq!(buf, [0, 1, 2]);
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RecvMany<'a, T> {
    rx: &'a mut Receiver<T>,
    buf: &'a mut Vec<T>,
    limit: usize,
}

impl<'a, T> RecvMany<'a, T> {
    pub(super) fn new(rx: &'a mut Receiver<T>, buf: &'a mut Vec<T>, limit: usize) -> Self {
        Self { rx, buf, limit }
    }
}

impl<T> Future for RecvMany<'_, T> {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let this = &mut *self;
        if this.limit == 0 {
            return Poll::Ready(0);
        }
        let (buf, limit) = (&mut *this.buf, this.limit);
        this.rx
            .poll_with(cx, |rx| rx.pop_many(buf, limit))
            .map(|n| n.unwrap_or(0))
    }
}

impl<T> fmt::Debug for RecvMany<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvMany")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}
