//! The receiving side: [`Receiver`], also a `Stream`.

use super::future::{Recv, RecvMany};
use super::{Chan, Overflow, TryRecvError};
use crate::coop::Meter;
use crate::sync::{Arc, Ordering};
use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};
use futures_core::{FusedStream, Stream};

/// The receiving half of a mailbox; also a [`Stream`] of its messages.
///
/// Dropping it closes the mailbox (sends fail with their message, waiting
/// senders are woken) and drops every buffered message.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// futures::executor::block_on(async {
/// let (tx, rx) = flowgate::mailbox::bounded(4);
/// for i in 0..3 {
///     tx.send(i).await.unwrap();
/// }
/// drop(tx);
/// assert_eq!(rx.collect::<Vec<_>>().await, [0, 1, 2]);
/// });
/// ```
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// `recv` has returned `None` (for `FusedStream`).
    terminated: bool,
    /// This receiver's share of tokio's cooperative budget.
    coop: Meter,
}

impl<T> Receiver<T> {
    pub(super) fn new(chan: Arc<Chan<T>>) -> Self {
        Self {
            chan,
            terminated: false,
            coop: Meter::new(),
        }
    }

    /// Receives the next message, waiting while the mailbox is empty.
    /// `None` once the mailbox is finished: every sender is gone (or it was
    /// [closed](Self::close) and every reserved slot used or freed) and
    /// every buffered message has been received.
    ///
    /// With the `tokio` feature it spends the task's cooperative budget
    /// (as tokio's channels do, but one unit per 16 messages; see the
    /// module docs): once the budget is used up it returns `Pending` and
    /// reschedules the task, even with messages waiting, so that a busy
    /// consumer lets other tasks run. The same holds for
    /// [`recv_many`](Self::recv_many), [`poll_recv`](Self::poll_recv) and
    /// the `Stream`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a message is taken only in the poll that returns it, so
    /// dropping the future loses nothing, and the next `recv` gets the
    /// message that would have woken it.
    ///
    /// # Examples
    ///
    /// ```
    /// futures::executor::block_on(async {
    /// let (tx, mut rx) = flowgate::mailbox::bounded(1);
    /// std::thread::spawn(move || tx.try_send("from a thread").unwrap());
    /// assert_eq!(rx.recv().await, Some("from a thread"));
    /// assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv::new(self)
    }

    /// Receives up to `limit` messages into `buf` (appending), waiting while
    /// the mailbox is empty; returns how many were added. `0` only when
    /// `limit` is 0 or the mailbox is finished (as for [`recv`](Self::recv)
    /// returning `None`). The slots are returned to senders in one step.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`recv`](Self::recv): messages are moved into `buf`
    /// only in the poll that returns.
    ///
    /// # Examples
    ///
    /// ```
    /// futures::executor::block_on(async {
    /// let (tx, mut rx) = flowgate::mailbox::bounded(8);
    /// for i in 0..5 {
    ///     tx.send(i).await.unwrap();
    /// }
    /// let mut buf = Vec::new();
    /// assert_eq!(rx.recv_many(&mut buf, 3).await, 3);
    /// assert_eq!(rx.recv_many(&mut buf, 3).await, 2);
    /// assert_eq!(buf, [0, 1, 2, 3, 4]);
    /// });
    /// ```
    pub fn recv_many<'a>(&'a mut self, buf: &'a mut Vec<T>, limit: usize) -> RecvMany<'a, T> {
        RecvMany::new(self, buf, limit)
    }

    /// Takes a message if one is ready now.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if none is ready (a send may be in flight);
    /// [`TryRecvError::Closed`] if the mailbox is finished and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::mailbox::{self, TryRecvError};
    /// let (tx, mut rx) = mailbox::bounded(1);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        if let Some(msg) = self.pop() {
            return Ok(msg);
        }
        if self.chan.is_finished() {
            // Messages published before the last sender left are visible
            // now (is_finished acquires them).
            return self.pop().ok_or(TryRecvError::Closed);
        }
        Err(TryRecvError::Empty)
    }

    /// Polls for the next message; the poll form of [`recv`](Self::recv)
    /// for hand-written futures and streams.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::Poll;
    /// futures::executor::block_on(async {
    /// let (tx, mut rx) = flowgate::mailbox::bounded(1);
    /// tx.send(1).await.unwrap();
    /// let got = std::future::poll_fn(|cx| rx.poll_recv(cx)).await;
    /// assert_eq!(got, Some(1));
    /// });
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.poll_with(cx, Self::pop)
    }

    /// The poll loop shared by `recv` and `recv_many`: `take` takes what
    /// is ready (`None` if nothing). Registers the waker only when nothing
    /// is ready, then looks again (see `notify.rs` for why that suffices).
    ///
    /// Inlined: this is the per-message fast path (a message ready at the
    /// first look); parking is kept out of line in
    /// [`poll_parking`](Self::poll_parking).
    #[inline(always)]
    pub(super) fn poll_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        mut take: impl FnMut(&mut Self) -> Option<R>,
    ) -> Poll<Option<R>> {
        if self.terminated {
            return Poll::Ready(None);
        }
        // Spend the task's cooperative budget (tokio feature), one unit
        // per `coop::OPS_PER_UNIT` receives, so a loop over an always-full
        // mailbox still lets other tasks run. Here the unit spent last
        // still pays: no `Budget` to carry. Nothing taken: nothing spent.
        if self.coop.has_local() {
            if let Some(got) = take(self) {
                self.coop.spend_local();
                return Poll::Ready(Some(got));
            }
        }
        self.poll_parking(cx, take)
    }

    /// The rest of [`poll_with`](Self::poll_with): a unit of tokio's
    /// budget to spend, or nothing ready at the first look (look again,
    /// register the waker, look once more).
    #[inline(never)]
    fn poll_parking<R>(
        &mut self,
        cx: &mut Context<'_>,
        mut take: impl FnMut(&mut Self) -> Option<R>,
    ) -> Poll<Option<R>> {
        // On `Pending` a unit taken is given back when `budget` drops.
        let budget = core::task::ready!(self.coop.poll_proceed(cx));
        if let Some(got) = take(self) {
            self.coop.made_progress(&budget);
            return Poll::Ready(Some(got));
        }
        let registered = self.chan.rx_waker.register(cx.waker());
        // Order the registration with every push (see `notify.rs`): a push
        // claimed after this wakes us; one claimed before is below `tail`.
        let tail = self.chan.ring.sync_tail();
        if let Some(got) = take(self) {
            self.coop.made_progress(&budget);
            return Poll::Ready(Some(got));
        }
        if self.chan.is_finished() {
            let got = take(self);
            self.terminated = got.is_none();
            self.coop.made_progress(&budget);
            return Poll::Ready(got);
        }
        if !registered || self.chan.ring.head() != tail {
            // A sender was waking the previous waker at that moment (ours
            // is not stored), or a push claimed before our registration is
            // still writing its message (and may not wake us): poll again
            // soon.
            crate::sync::spin_loop();
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Pops one message and returns its slot to the senders.
    #[inline(always)]
    fn pop(&mut self) -> Option<T> {
        let msg = self.pop_ring()?;
        self.chan.slots.release_popped(1);
        Some(msg)
    }

    /// Pops one message off the ring, keeping its slot credit.
    #[inline(always)]
    fn pop_ring(&mut self) -> Option<T> {
        let chan = &*self.chan;
        if chan.overflow == Overflow::DropOldest {
            // Evicting senders pop too: claim by compare-and-swap.
            chan.ring.pop()
        } else {
            // SAFETY: under Block and RejectNew nothing but the receiver
            // pops (only `Chan::evict`, used under DropOldest alone, pops
            // from a sender; the ring's own drop needs the last handle, so
            // not while we live), and `&mut self` makes this the only pop
            // of the receiver running.
            unsafe { chan.ring.pop_exclusive() }
        }
    }

    /// Pops up to `limit` messages into `buf`, returning their slots in one
    /// step; `None` if there was none.
    pub(super) fn pop_many(&mut self, buf: &mut Vec<T>, limit: usize) -> Option<usize> {
        let mut n = 0;
        while n < limit {
            let Some(msg) = self.pop_ring() else {
                break;
            };
            buf.push(msg);
            n += 1;
        }
        self.chan.slots.release_popped(n);
        (n > 0).then_some(n)
    }

    /// Closes the mailbox from the receiving side: later sends fail with
    /// their message, waiting senders are woken with the error, and
    /// [`Sender::closed`](super::Sender::closed) resolves. Messages already
    /// buffered, and those sent through permits reserved before the close,
    /// can still be received; then `recv` gives `None`. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// futures::executor::block_on(async {
    /// let (tx, mut rx) = flowgate::mailbox::bounded(2);
    /// tx.send(1).await.unwrap();
    /// rx.close();
    /// assert!(tx.send(2).await.is_err());
    /// assert_eq!(rx.recv().await, Some(1));
    /// assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    pub fn close(&mut self) {
        self.chan.close();
    }

    /// Whether the mailbox is closed: by [`close`](Self::close), or
    /// because every [`Sender`](super::Sender) is gone (as
    /// `tokio::sync::mpsc` and `async-channel` say). Either way no new
    /// message can come, though some may still be buffered.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, mut rx) = flowgate::mailbox::bounded::<u8>(1);
    /// rx.close();
    /// assert!(rx.is_closed());
    ///
    /// let (tx, rx) = flowgate::mailbox::bounded::<u8>(1);
    /// assert!(!rx.is_closed());
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed() || self.chan.senders.load(Ordering::Acquire) == 0
    }

    /// Messages buffered now (including any being written).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = flowgate::mailbox::bounded(2);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether no message is buffered now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = flowgate::mailbox::bounded::<u8>(2);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The mailbox's capacity, as configured.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = flowgate::mailbox::bounded::<u8>(2);
    /// assert_eq!(rx.capacity(), 2);
    /// ```
    pub fn capacity(&self) -> usize {
        self.chan.capacity
    }

    /// Messages evicted so far under
    /// [`Overflow::DropOldest`](super::Overflow::DropOldest).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::mailbox::{Builder, Overflow};
    /// let (tx, rx) = Builder::new(1).overflow(Overflow::DropOldest).build();
    /// tx.try_send(1).unwrap();
    /// tx.try_send(2).unwrap();
    /// assert_eq!(rx.dropped(), 1);
    /// ```
    pub fn dropped(&self) -> usize {
        self.chan.dropped.load(Ordering::Relaxed)
    }

    /// How many [`Sender`](super::Sender)s are alive.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = flowgate::mailbox::bounded::<u8>(1);
    /// assert_eq!(rx.sender_count(), 1);
    /// drop(tx);
    /// assert_eq!(rx.sender_count(), 0);
    /// ```
    pub fn sender_count(&self) -> usize {
        self.chan.senders.load(Ordering::Relaxed)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.close();
        // The registered waker goes now, not with the last sender.
        self.chan.rx_waker.clear();
        // Drop what is buffered now, through a panicking `Drop` too;
        // anything a permit pushes later is dropped by the last handle (the
        // ring's own drop). `pop` claims by compare-and-swap under
        // `DropOldest` (an evicting sender may pop the same position: bug
        // 11 of VERIFICATION.md) and pops exclusively only where nothing
        // else ever pops.
        super::ring::drain_all(|| self.pop());
    }
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T> FusedStream for Receiver<T> {
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("chan", &self.chan)
            .finish()
    }
}
