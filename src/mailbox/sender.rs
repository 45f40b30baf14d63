//! The sending side: [`Sender`], [`WeakSender`], [`Permit`], [`OwnedPermit`].

use super::future::{Closed, Reserve, ReserveOwned, Send};
use super::{Chan, Overflow, SendSink, TrySendError};
use crate::coop::Meter;
use crate::sync::{Arc, Ordering};
use core::fmt;

/// The sending half of a mailbox. Cheap to clone; the receiver sees the end
/// of the stream once every clone (and every [`OwnedPermit`]) is dropped.
///
/// # Examples
///
/// ```
/// futures::executor::block_on(async {
/// let (tx, mut rx) = flowgate::mailbox::bounded(4);
/// let tx2 = tx.clone();
/// tx.send(1).await.unwrap();
/// tx2.send(2).await.unwrap();
/// drop((tx, tx2));
/// assert_eq!(rx.recv().await, Some(1));
/// assert_eq!(rx.recv().await, Some(2));
/// assert_eq!(rx.recv().await, None);
/// });
/// ```
pub struct Sender<T> {
    pub(super) chan: Arc<Chan<T>>,
    /// This handle's share of tokio's cooperative budget.
    pub(super) coop: Meter,
}

impl<T> Sender<T> {
    /// Wraps a counted reference (the caller has counted it in `senders`).
    pub(super) fn new(chan: Arc<Chan<T>>) -> Self {
        Self {
            chan,
            coop: Meter::new(),
        }
    }

    /// Sends `msg`, waiting for a free slot while the mailbox is full (under
    /// [`Overflow::Block`]; see [`Overflow`] for the other policies).
    ///
    /// # Errors
    ///
    /// `Err(SendError(msg))` if the receiver is or becomes closed or dropped
    /// before a slot is found; under [`Overflow::RejectNew`] also when the
    /// mailbox is full (tell the two apart with
    /// [`is_closed`](Self::is_closed), or use [`try_send`](Self::try_send)).
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe for the message: dropping the future before it
    /// completes drops `msg` (it was never sent; nothing else is lost, and
    /// the place in the queue of waiting senders goes to the next one). To
    /// keep the message when cancelled, wait for a slot with
    /// [`reserve`](Self::reserve), which is cancel-safe, and then send
    /// through the permit without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// futures::executor::block_on(async {
    /// let (tx, mut rx) = flowgate::mailbox::bounded(1);
    /// tx.send(5).await.unwrap();
    /// assert_eq!(rx.recv().await, Some(5));
    /// });
    /// ```
    pub fn send(&self, msg: T) -> Send<'_, T> {
        Send::new(&self.chan, &self.coop, msg)
    }

    /// Sends `msg` if there is room now, by the overflow policy: under
    /// [`Overflow::DropOldest`] a full mailbox evicts its oldest message.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if there is no free slot (under `Block` also
    /// while other senders wait, to keep their turn; under `DropOldest`
    /// only if every slot is held by a [`Permit`]);
    /// [`TrySendError::Closed`] if the receiver closed or dropped the
    /// mailbox. The message comes back in both.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::mailbox::{self, TrySendError};
    /// let (tx, _rx) = mailbox::bounded(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    /// ```
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(msg)
    }

    /// Waits for a free slot and holds it in a [`Permit`], which sends
    /// without waiting (and cannot fail). A permit dropped unused frees its
    /// slot. Behaves the same under every [`Overflow`] policy.
    ///
    /// # Errors
    ///
    /// `Err(SendError(()))` if the receiver is or becomes closed or dropped
    /// first.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future gives up its place in the queue of
    /// waiting senders (a slot already assigned to it goes to the next
    /// waiter, who is woken); nothing is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// futures::executor::block_on(async {
    /// let (tx, mut rx) = flowgate::mailbox::bounded(1);
    /// let permit = tx.reserve().await.unwrap();
    /// assert!(tx.try_send(0).unwrap_err().is_full()); // the slot is held
    /// permit.send(1);
    /// assert_eq!(rx.recv().await, Some(1));
    /// });
    /// ```
    pub fn reserve(&self) -> Reserve<'_, T> {
        Reserve::new(&self.chan, &self.coop)
    }

    /// Like [`reserve`](Self::reserve), but the permit owns this sender, so
    /// it is `'static` (to move into another task);
    /// [`OwnedPermit::send`] gives the sender back.
    ///
    /// # Errors
    ///
    /// As [`reserve`](Self::reserve); the sender is dropped with the error.
    ///
    /// # Cancel safety
    ///
    /// As [`reserve`](Self::reserve) (the sender is dropped with the
    /// future).
    ///
    /// # Examples
    ///
    /// ```
    /// futures::executor::block_on(async {
    /// let (tx, mut rx) = flowgate::mailbox::bounded(1);
    /// let permit = tx.reserve_owned().await.unwrap();
    /// let tx = permit.send("owned");
    /// assert_eq!(rx.recv().await, Some("owned"));
    /// drop(tx);
    /// assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    pub fn reserve_owned(self) -> ReserveOwned<T> {
        ReserveOwned::new(self)
    }

    /// Takes a free slot now, if there is one, as a [`Permit`].
    ///
    /// # Errors
    ///
    /// `TrySendError::Full(())` if no slot is free or other senders wait for
    /// one; `TrySendError::Closed(())` once the receiver closed or dropped
    /// the mailbox.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = flowgate::mailbox::bounded::<u8>(1);
    /// let permit = tx.try_reserve().unwrap();
    /// assert!(tx.try_reserve().unwrap_err().is_full());
    /// drop(permit);
    /// assert!(tx.try_reserve().is_ok());
    /// ```
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        match self.chan.slots.try_acquire() {
            Ok(()) => Ok(Permit::new(&self.chan)),
            Err(super::Refused::Closed) => Err(TrySendError::Closed(())),
            Err(super::Refused::Full) => Err(TrySendError::Full(())),
        }
    }

    /// Resolves once the receiver has closed or dropped the mailbox.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it takes nothing; dropping it only leaves the list of
    /// tasks to wake.
    ///
    /// # Examples
    ///
    /// ```
    /// futures::executor::block_on(async {
    /// let (tx, rx) = flowgate::mailbox::bounded::<u8>(1);
    /// drop(rx);
    /// tx.closed().await;
    /// assert!(tx.is_closed());
    /// });
    /// ```
    pub fn closed(&self) -> Closed<'_, T> {
        Closed::new(&self.chan)
    }

    /// Whether the receiver has closed or dropped the mailbox.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = flowgate::mailbox::bounded::<u8>(1);
    /// assert!(!tx.is_closed());
    /// rx.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// The mailbox's capacity, as configured.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = flowgate::mailbox::bounded::<u8>(3);
    /// assert_eq!(tx.capacity(), 3);
    /// ```
    pub fn capacity(&self) -> usize {
        self.chan.capacity
    }

    /// Messages buffered now (including any being written).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = flowgate::mailbox::bounded(3);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether no message is buffered now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = flowgate::mailbox::bounded::<u8>(3);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `other` sends to the same mailbox.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _rx) = flowgate::mailbox::bounded::<u8>(1);
    /// let (b, _rx2) = flowgate::mailbox::bounded::<u8>(1);
    /// assert!(a.same_channel(&a.clone()));
    /// assert!(!a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    /// A [`WeakSender`]: it does not keep the stream open (the receiver
    /// still sees `None` when every `Sender` is gone).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = flowgate::mailbox::bounded::<u8>(1);
    /// let weak = tx.downgrade();
    /// assert!(weak.upgrade().is_some());
    /// drop(tx);
    /// assert!(weak.upgrade().is_none());
    /// ```
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            chan: Arc::clone(&self.chan),
        }
    }

    /// How many `Sender`s are alive (an [`OwnedPermit`] holds one).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = flowgate::mailbox::bounded::<u8>(1);
    /// let tx2 = tx.clone();
    /// assert_eq!(tx.sender_count(), 2);
    /// drop(tx2);
    /// assert_eq!(tx.sender_count(), 1);
    /// ```
    pub fn sender_count(&self) -> usize {
        self.chan.senders.load(Ordering::Relaxed)
    }

    /// Messages evicted so far under [`Overflow::DropOldest`] (0 under the
    /// other policies).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::mailbox::{Builder, Overflow};
    /// let (tx, _rx) = Builder::new(1).overflow(Overflow::DropOldest).build();
    /// tx.try_send(1).unwrap();
    /// tx.try_send(2).unwrap();
    /// assert_eq!(tx.dropped(), 1);
    /// ```
    pub fn dropped(&self) -> usize {
        self.chan.dropped.load(Ordering::Relaxed)
    }

    /// The mailbox's overflow policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::mailbox::Overflow;
    /// let (tx, _rx) = flowgate::mailbox::bounded::<u8>(1);
    /// assert_eq!(tx.overflow(), Overflow::Block);
    /// ```
    pub fn overflow(&self) -> Overflow {
        self.chan.overflow
    }

    /// This sender as a [`Sink`](futures_sink::Sink) ([`SendSink`]), whose
    /// `poll_ready` reserves a slot.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{SinkExt, StreamExt};
    /// futures::executor::block_on(async {
    /// let (tx, rx) = flowgate::mailbox::bounded(2);
    /// let mut sink = tx.into_sink();
    /// sink.send(1).await.unwrap();
    /// sink.send(2).await.unwrap();
    /// sink.close().await.unwrap(); // drops the sender
    /// assert_eq!(rx.collect::<Vec<_>>().await, [1, 2]);
    /// });
    /// ```
    pub fn into_sink(self) -> SendSink<T> {
        SendSink::new(self)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Self::new(Arc::clone(&self.chan))
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: the receiver's Acquire load of 0 must see every push made
        // by every sender before it was dropped.
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.rx_waker.notify();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("chan", &self.chan).finish()
    }
}

/// A sender that does not count: it does not keep the receiver's stream
/// open, and [`upgrade`](Self::upgrade)s to a [`Sender`] only while some
/// `Sender` is alive. It keeps the mailbox's memory (not its messages)
/// alive until it is dropped.
///
/// # Examples
///
/// ```
/// futures::executor::block_on(async {
/// let (tx, mut rx) = flowgate::mailbox::bounded(1);
/// let weak = tx.downgrade();
/// weak.upgrade().unwrap().send(1).await.unwrap();
/// drop(tx);
/// assert_eq!(rx.recv().await, Some(1));
/// assert_eq!(rx.recv().await, None); // the weak sender does not count
/// });
/// ```
pub struct WeakSender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> WeakSender<T> {
    /// A [`Sender`], if any `Sender` is still alive.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = flowgate::mailbox::bounded::<u8>(1);
    /// let weak = tx.downgrade();
    /// assert!(weak.upgrade().unwrap().same_channel(&tx));
    /// ```
    pub fn upgrade(&self) -> Option<Sender<T>> {
        let senders = &self.chan.senders;
        let mut cur = senders.load(Ordering::Relaxed);
        loop {
            if cur == 0 {
                return None;
            }
            match senders.compare_exchange_weak(cur, cur + 1, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(Sender::new(Arc::clone(&self.chan))),
                Err(actual) => cur = actual,
            }
        }
    }

    /// How many `Sender`s are alive.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = flowgate::mailbox::bounded::<u8>(1);
    /// assert_eq!(tx.downgrade().sender_count(), 1);
    /// ```
    pub fn sender_count(&self) -> usize {
        self.chan.senders.load(Ordering::Relaxed)
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> Self {
        Self {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakSender")
            .field("chan", &self.chan)
            .finish()
    }
}

/// A reserved slot, from [`Sender::reserve`] or [`Sender::try_reserve`]:
/// [`send`](Self::send) puts a message in it without waiting; dropping the
/// permit unused frees the slot (and wakes the next waiting sender).
///
/// A permit reserved before the receiver closes the mailbox can still send,
/// and the receiver drains that message before it sees `None`. If the
/// receiver is already dropped, the message is dropped by the last handle
/// of the mailbox.
///
/// # Examples
///
/// ```
/// futures::executor::block_on(async {
/// let (tx, mut rx) = flowgate::mailbox::bounded(1);
/// let permit = tx.reserve().await.unwrap();
/// rx.close();
/// permit.send("still delivered");
/// assert_eq!(rx.recv().await, Some("still delivered"));
/// assert_eq!(rx.recv().await, None);
/// });
/// ```
#[must_use = "a permit frees its slot when dropped unused"]
pub struct Permit<'a, T> {
    chan: &'a Chan<T>,
}

impl<'a, T> Permit<'a, T> {
    /// Wraps a slot credit the caller holds.
    pub(super) fn new(chan: &'a Chan<T>) -> Self {
        Self { chan }
    }

    /// Sends `msg` in the reserved slot.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = flowgate::mailbox::bounded(1);
    /// tx.try_reserve().unwrap().send(9);
    /// assert_eq!(rx.try_recv(), Ok(9));
    /// ```
    pub fn send(self, msg: T) {
        let chan = self.chan;
        core::mem::forget(self); // the credit goes to the message
        chan.push(msg);
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.chan.release_unused();
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

/// A reserved slot that owns its [`Sender`], from
/// [`Sender::reserve_owned`]; `'static`. Like [`Permit`], and it counts as
/// a sender: the receiver does not see the end of the stream while it
/// lives.
///
/// # Examples
///
/// ```
/// futures::executor::block_on(async {
/// let (tx, mut rx) = flowgate::mailbox::bounded(1);
/// let permit = tx.reserve_owned().await.unwrap();
/// std::thread::spawn(move || drop(permit.send(3))).join().unwrap();
/// assert_eq!(rx.recv().await, Some(3));
/// assert_eq!(rx.recv().await, None);
/// });
/// ```
#[must_use = "a permit frees its slot when dropped unused"]
pub struct OwnedPermit<T> {
    /// `Some` until the permit is used or released.
    sender: Option<Sender<T>>,
}

impl<T> OwnedPermit<T> {
    /// Wraps a slot credit the caller holds.
    pub(super) fn new(sender: Sender<T>) -> Self {
        Self {
            sender: Some(sender),
        }
    }

    /// Sends `msg` in the reserved slot and gives the sender back.
    ///
    /// # Examples
    ///
    /// ```
    /// futures::executor::block_on(async {
    /// let (tx, mut rx) = flowgate::mailbox::bounded(1);
    /// let tx = tx.reserve_owned().await.unwrap().send(1);
    /// assert_eq!(tx.len(), 1);
    /// });
    /// ```
    pub fn send(mut self, msg: T) -> Sender<T> {
        let sender = self.sender.take().expect("permit already used");
        sender.chan.push(msg);
        sender
    }

    /// Frees the slot unused and gives the sender back.
    ///
    /// # Examples
    ///
    /// ```
    /// futures::executor::block_on(async {
    /// let (tx, _rx) = flowgate::mailbox::bounded::<u8>(1);
    /// let tx = tx.reserve_owned().await.unwrap().release();
    /// assert!(tx.try_send(1).is_ok());
    /// });
    /// ```
    pub fn release(mut self) -> Sender<T> {
        let sender = self.sender.take().expect("permit already used");
        sender.chan.release_unused();
        sender
    }
}

impl<T> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            sender.chan.release_unused();
            // Then the sender itself: if it was the last, the receiver is
            // woken by its drop.
        }
    }
}

impl<T> fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit").finish_non_exhaustive()
    }
}
