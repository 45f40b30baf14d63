//! Consumers, their recv future, and deliveries.

use super::core::{Acks, Clock, Fifo, Finish, Outcome, Received, SlotRef, Token};
use super::{Requeue, Shared, Subscription, TryRecvError};
use crate::coop::Polled;
use crate::sync::Arc;
use core::fmt;
use core::future::Future;
use core::ops::Deref;
use core::pin::Pin;
use core::task::{Context, Poll};
use futures_core::{FusedStream, Stream};

/// Receives the deliveries a [`Dispatcher`](super::Dispatcher) assigns to
/// it; from [`Dispatcher::subscribe`](super::Dispatcher::subscribe).
///
/// Dropping a consumer requeues everything assigned to it, received or
/// not, including deliveries still alive: those stay readable, but their
/// later ack, nack or drop does nothing (the message may be processed
/// twice, the second time flagged [`redelivered`](Delivery::redelivered)).
///
/// Also a [`Stream`] of deliveries, and a [`FusedStream`]:
/// terminated once `recv` has returned `None`.
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, Subscription};
/// use futures::executor::block_on;
///
/// block_on(async {
/// let queue = Dispatcher::<u32>::new();
/// let mut consumer = queue.subscribe(Subscription::prefetch(8));
/// let publisher = queue.publisher();
/// for n in 0..3 {
///     publisher.publish(n).await.unwrap();
/// }
/// drop((publisher, queue)); // closes
/// let mut seen = Vec::new();
/// while let Some(delivery) = consumer.recv().await {
///     seen.push(*delivery);
///     delivery.ack();
/// }
/// assert_eq!(seen, [0, 1, 2]);
/// });
/// ```
pub struct Consumer<T> {
    /// The queue and this consumer's ack word, shared with its deliveries.
    link: Arc<Link<T>>,
    key: usize,
    id: u64,
    /// Deliveries taken from the core in one lock with an earlier one,
    /// oldest first: still in this consumer's window (so counted against
    /// its prefetch), marked received, handed out by later `recv`s without
    /// the lock. Holds slot clones: emptied under the lock on drop.
    buffered: Fifo<Received<T>>,
    /// Adaptive: the clock when `recv` last took deliveries from the
    /// dispatcher; it stamps every delivery of that batch (one clock read
    /// per batch, not per delivery: see `Strategy::Adaptive`).
    taken_at: u64,
    /// `recv` has returned `None` (for `FusedStream`): the dispatcher is
    /// closed and nothing is left queued or unacked, so none will come.
    terminated: bool,
    /// Spends the task's cooperative budget by work time too (see
    /// `crate::coop::Slice`), so CPU-bound consumers of one dispatcher get
    /// turns of equal time, not of equal message counts.
    slice: crate::coop::Slice,
}

/// What the deliveries of one consumer share, behind a count of their own:
/// the queue's count sits next to its lock, and cloning it for each
/// delivery would bounce that cache line between the consumers and the
/// publishers that take the lock.
struct Link<T> {
    shared: Arc<Shared<T>>,
    /// The word the deliveries ack through without the lock (`None` for
    /// auto-ack, settled by `recv`).
    acks: Option<Arc<Acks>>,
    /// Adaptive: the queue's clock, read when `recv` takes deliveries from
    /// the dispatcher and when one is acked. A copy of the queue's: read here, it does not
    /// pull in the cache line of the queue's lock, which publishers keep
    /// writing.
    clock: Option<Arc<Clock>>,
    /// The consumer's slab index in the core, which its deliveries' tokens
    /// refer to.
    key: usize,
}

// As for `Shared` (see there): the link lends no `&T`.
impl<T> ::core::panic::UnwindSafe for Link<T> {}
impl<T> ::core::panic::RefUnwindSafe for Link<T> {}

impl<T> Consumer<T> {
    pub(super) fn new(
        shared: Arc<Shared<T>>,
        key: usize,
        id: u64,
        acks: Option<Arc<Acks>>,
        sub: &Subscription,
    ) -> Self {
        let clock = shared.clock.clone();
        Self {
            link: Arc::new(Link {
                shared,
                acks,
                clock,
                key,
            }),
            key,
            id,
            buffered: Fifo::with_capacity(sub.prefetch.min(4096)),
            taken_at: 0,
            terminated: false,
            slice: crate::coop::Slice::default(),
        }
    }

    /// Receives the next delivery assigned to this consumer.
    ///
    /// Returns `None` once the dispatcher is closed and no message is left
    /// queued or unacked anywhere (under
    /// [`Broadcast`](super::Strategy::Broadcast): none left for this
    /// consumer).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: messages are assigned to the consumer, not to the
    /// future, so dropping it loses nothing; the next `recv` gets them.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Subscription};
    /// use futures::executor::block_on;
    ///
    /// block_on(async {
    /// let queue = Dispatcher::<u32>::new();
    /// let mut consumer = queue.subscribe(Subscription::prefetch(1));
    /// queue.publisher().publish(7).await.unwrap();
    /// let delivery = consumer.recv().await.unwrap();
    /// assert_eq!((*delivery, delivery.attempt()), (7, 1));
    /// delivery.ack();
    /// });
    /// ```
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv {
            consumer: self,
            registered: false,
        }
    }

    /// Takes the next delivery assigned to this consumer, if there is one
    /// now.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if none is ready, [`TryRecvError::Closed`]
    /// once `recv` would return `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Subscription, TryRecvError};
    ///
    /// let queue = Dispatcher::<u32>::new();
    /// let mut consumer = queue.subscribe(Subscription::prefetch(1));
    /// assert_eq!(consumer.try_recv().unwrap_err(), TryRecvError::Empty);
    /// queue.publisher().try_publish(1).unwrap();
    /// consumer.try_recv().unwrap().ack();
    /// ```
    pub fn try_recv(&mut self) -> Result<Delivery<T>, TryRecvError> {
        match self.poll(None) {
            Poll::Ready(Some(delivery)) => Ok(delivery),
            Poll::Ready(None) => Err(TryRecvError::Closed),
            Poll::Pending => Err(TryRecvError::Empty),
        }
    }

    /// Polls for the next delivery, registering `cx`'s waker if there is
    /// none yet: [`recv`](Self::recv) without the future.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Subscription};
    /// use futures::future::poll_fn;
    /// use futures::executor::block_on;
    ///
    /// let queue = Dispatcher::<u32>::new();
    /// let mut consumer = queue.subscribe(Subscription::prefetch(1));
    /// queue.publisher().try_publish(1).unwrap();
    /// let delivery = block_on(poll_fn(|cx| consumer.poll_recv(cx))).unwrap();
    /// delivery.ack();
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Delivery<T>>> {
        // Spend the task's cooperative budget (tokio feature), so a loop
        // over an always-ready consumer still lets other tasks run (the
        // unit is given back if this poll ends `Pending`), and by the time
        // the task worked since its last `recv` ("Cooperative scheduling"
        // in the module docs).
        let budget = match self.slice.poll_pay(cx) {
            Poll::Ready(()) => crate::coop::poll_proceed(cx),
            Poll::Pending => Poll::Pending,
        };
        let Poll::Ready(budget) = budget else {
            self.slice.polled(Polled::OutOfBudget);
            return Poll::Pending;
        };
        let poll = self.poll(Some(cx));
        if poll.is_ready() {
            budget.made_progress();
            self.slice.polled(Polled::Ready);
        } else {
            self.slice.polled(Polled::Waiting);
        }
        poll
    }

    fn poll(&mut self, cx: Option<&mut Context<'_>>) -> Poll<Option<Delivery<T>>> {
        let (received, taken) = match self.buffered.pop_front() {
            Some(received) => (Poll::Ready(Some(received)), false),
            None => {
                let key = self.key;
                let waker = cx.map(|cx| cx.waker());
                let buffered = &mut self.buffered;
                let polled = self
                    .link
                    .shared
                    .run(|core, fx| core.poll_recv(key, waker, buffered, fx));
                (polled, true)
            }
        };
        if let Poll::Ready(None) = received {
            self.terminated = true;
        }
        received.map(|received| {
            received.map(|r| {
                let mut handed_at = 0;
                if let (Some(clock), Some(_)) = (&self.link.clock, &r.token) {
                    if taken {
                        self.taken_at = clock.now_ns();
                    }
                    handed_at = self.taken_at;
                }
                Delivery::new(Arc::clone(&self.link), r, handed_at)
            })
        })
    }

    /// Changes the prefetch limit. A larger one takes effect at once; a
    /// smaller one as deliveries are acked (nothing is taken back).
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Subscription};
    ///
    /// let queue = Dispatcher::<u32>::new();
    /// let consumer = queue.subscribe(Subscription::prefetch(1));
    /// consumer.set_prefetch(10);
    /// assert_eq!(consumer.prefetch(), 10);
    /// ```
    pub fn set_prefetch(&self, n: usize) {
        assert!(n > 0, "dispatch: prefetch must be at least 1");
        let key = self.key;
        self.link.shared.run(|core, _| core.set_prefetch(key, n));
    }

    /// The current prefetch limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Subscription};
    ///
    /// let queue = Dispatcher::<u32>::new();
    /// assert_eq!(queue.subscribe(Subscription::prefetch(3)).prefetch(), 3);
    /// ```
    pub fn prefetch(&self) -> usize {
        let key = self.key;
        self.link.shared.run(|core, _| core.prefetch(key))
    }

    /// Changes the weight used by [`Weighted`](super::Strategy::Weighted)
    /// and [`Adaptive`](super::Strategy::Adaptive), from the next message
    /// on.
    ///
    /// # Panics
    ///
    /// If `w` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Strategy, Subscription};
    ///
    /// let queue = Dispatcher::<u32>::builder().strategy(Strategy::Weighted).build();
    /// let consumer = queue.subscribe(Subscription::prefetch(1));
    /// consumer.set_weight(5);
    /// assert_eq!(queue.stats().consumers[0].weight, 5);
    /// ```
    pub fn set_weight(&self, w: u32) {
        assert!(w > 0, "dispatch: weight must be at least 1");
        let key = self.key;
        self.link.shared.run(|core, _| core.set_weight(key, w));
    }

    /// This consumer's id, unique within its dispatcher (see
    /// [`ConsumerStats::id`](super::ConsumerStats::id)).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Subscription};
    ///
    /// let queue = Dispatcher::<u32>::new();
    /// let a = queue.subscribe(Subscription::prefetch(1));
    /// let b = queue.subscribe(Subscription::prefetch(1));
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl<T> Stream for Consumer<T> {
    type Item = Delivery<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T> FusedStream for Consumer<T> {
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        let key = self.key;
        let buffered = &mut self.buffered;
        self.link.shared.run(|core, fx| {
            // Taken but never handed out: not received, as if still ready.
            while let Some(received) = buffered.pop_front() {
                core.unreceive(key, received, fx);
            }
            core.unsubscribe(key, fx);
        });
    }
}

/// Future of [`Consumer::recv`].
///
/// # Cancel safety
///
/// Cancel-safe: dropping it loses nothing, as deliveries are assigned to
/// the consumer, and the next `recv` returns them.
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, T> {
    consumer: &'a mut Consumer<T>,
    /// Its waker is stored in the core (it returned `Pending`).
    registered: bool,
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<Delivery<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let poll = this.consumer.poll_recv(cx);
        this.registered = poll.is_pending();
        poll
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        if self.registered {
            let key = self.consumer.key;
            self.consumer
                .link
                .shared
                .run(|core, fx| core.clear_waker(key, fx));
        }
    }
}

/// One message handed to a consumer, to [`ack`](Self::ack) or
/// [`nack`](Self::nack). Derefs to the message.
///
/// Dropped without either, it is requeued like `nack(Requeue::Yes)`. If its
/// consumer was dropped first, the message was requeued already and ack,
/// nack and drop do nothing.
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, Subscription};
/// use futures::executor::block_on;
///
/// block_on(async {
/// let queue = Dispatcher::<String>::new();
/// let mut consumer = queue.subscribe(Subscription::prefetch(1));
/// queue.publisher().publish("hello".to_owned()).await.unwrap();
/// let delivery = consumer.recv().await.unwrap();
/// assert_eq!(delivery.len(), 5);
/// drop(delivery); // not acked: requeued
/// let again = consumer.recv().await.unwrap();
/// assert!(again.redelivered());
/// assert_eq!(again.attempt(), 2);
/// assert_eq!(again.ack_take().as_deref(), Some("hello"));
/// });
/// ```
pub struct Delivery<T> {
    /// Its consumer's link: the queue, and the ack word (used only with a
    /// token: auto-ack deliveries are settled already).
    link: Arc<Link<T>>,
    /// `Some` until settled: lent by its window entry, or owning a count
    /// (auto-ack, or after its consumer was dropped); see `core::slot`.
    slot: Option<SlotRef<T>>,
    /// `None` for auto-ack deliveries.
    token: Option<Token>,
    /// Adaptive: when `recv` took it from the dispatcher (clock ns; 0 if
    /// not read).
    handed_at: u64,
    attempt: u32,
}

impl<T> Delivery<T> {
    fn new(link: Arc<Link<T>>, received: Received<T>, handed_at: u64) -> Self {
        Self {
            link,
            slot: Some(received.slot),
            token: received.token,
            handed_at,
            attempt: received.attempt,
        }
    }

    /// Acknowledges the message: done with, never redelivered. The message
    /// is dropped before `ack` returns, unless another holder still shares
    /// it (a stale delivery of a dropped consumer, or a
    /// [`Broadcast`](super::Strategy::Broadcast) copy): then the last one
    /// drops it. Use [`ack_take`](Self::ack_take) to keep it.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Subscription};
    ///
    /// let queue = Dispatcher::<u32>::new();
    /// let mut consumer = queue.subscribe(Subscription::prefetch(1));
    /// queue.publisher().try_publish(1).unwrap();
    /// consumer.try_recv().unwrap().ack();
    /// assert_eq!(queue.stats().acked, 1);
    /// ```
    pub fn ack(mut self) {
        if !self.ack_lock_free() {
            self.finish(Outcome::Ack, false);
        }
    }

    /// Acks through the consumer's ack word, without the lock, if no one
    /// waits on this consumer's acks (see `core::acks`); `false` if the
    /// caller must take the lock.
    fn ack_lock_free(&mut self) -> bool {
        let (Some(token), Some(acks)) = (self.token, self.link.acks.as_deref()) else {
            return false;
        };
        if let Some(clock) = &self.link.clock {
            if acks.looks_hot() {
                // Skip the clock read: the ack takes the lock.
                return false;
            }
            // Adaptive: the core times the ack when it collects it.
            acks.stamp(token.window(), self.handed_at, clock.now_ns());
        }
        // `try_ack` fails on a `HOT` word (someone waits: take the lock)
        // and on a `CLOSED` one (stale: the lock sorts it out). Otherwise
        // the window entry lends `slot`: once the ack is published, the
        // core releases the entry's clone and the pointer is given up.
        // `try_ack` still raises the pending-acks mask after publishing
        // (see `core::acks`): this delivery's own count of the link keeps
        // the word and the mask alive until it returns, should the
        // consumer (and the dispatcher) be dropped meanwhile.
        if acks.try_ack(token.window()) {
            self.slot = None;
            self.token = None;
            return true;
        }
        false
    }

    /// Acknowledges the message and takes it out.
    ///
    /// Returns `None` if another holder still shares the message (a stale
    /// delivery of a dropped consumer, or a
    /// [`Broadcast`](super::Strategy::Broadcast) copy another consumer
    /// holds): it is dropped by the last one.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Subscription};
    ///
    /// let queue = Dispatcher::<Vec<u8>>::new();
    /// let mut consumer = queue.subscribe(Subscription::prefetch(1));
    /// queue.publisher().try_publish(vec![1, 2]).unwrap();
    /// let bytes = consumer.try_recv().unwrap().ack_take();
    /// assert_eq!(bytes, Some(vec![1, 2]));
    /// ```
    pub fn ack_take(mut self) -> Option<T> {
        self.finish(Outcome::Ack, true)
    }

    /// Rejects the message: [`Requeue::Yes`] puts it back at the front of
    /// the queue (or dead-letters it if this was its last attempt),
    /// [`Requeue::No`] dead-letters it.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Requeue, Subscription};
    ///
    /// let queue = Dispatcher::<u32>::new();
    /// let mut consumer = queue.subscribe(Subscription::prefetch(1));
    /// queue.publisher().try_publish(1).unwrap();
    /// consumer.try_recv().unwrap().nack(Requeue::Yes);
    /// assert_eq!(consumer.try_recv().unwrap().attempt(), 2);
    /// ```
    pub fn nack(mut self, requeue: Requeue) {
        self.finish(Outcome::Nack(requeue), false);
    }

    /// Whether the message was delivered before (`attempt() > 1`).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Subscription};
    ///
    /// let queue = Dispatcher::<u32>::new();
    /// let mut consumer = queue.subscribe(Subscription::prefetch(1));
    /// queue.publisher().try_publish(1).unwrap();
    /// assert!(!consumer.try_recv().unwrap().redelivered());
    /// ```
    pub fn redelivered(&self) -> bool {
        self.attempt > 1
    }

    /// Which delivery of the message this is: 1 on the first.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Subscription};
    ///
    /// let queue = Dispatcher::<u32>::new();
    /// let mut consumer = queue.subscribe(Subscription::prefetch(1));
    /// queue.publisher().try_publish(1).unwrap();
    /// assert_eq!(consumer.try_recv().unwrap().attempt(), 1);
    /// ```
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    fn finish(&mut self, outcome: Outcome, take: bool) -> Option<T> {
        let slot = self.slot.take()?;
        let token = self.token.take();
        let acked_at = match (&self.link.clock, token, outcome) {
            (Some(clock), Some(_), Outcome::Ack) => clock.now_ns(),
            _ => 0,
        };
        let end = Finish {
            consumer: self.link.key,
            token,
            handed_at: self.handed_at,
            acked_at,
            outcome,
            take,
        };
        self.link.shared.run(|core, fx| core.finish(end, slot, fx))
    }
}

impl<T> Deref for Delivery<T> {
    type Target = T;

    fn deref(&self) -> &T {
        match &self.slot {
            Some(slot) => slot.slot().get(),
            None => unreachable!("dispatch: delivery used after settling"),
        }
    }
}

impl<T> Drop for Delivery<T> {
    #[inline]
    fn drop(&mut self) {
        // Inline, so that dropping a delivery settled already (every
        // `ack`, `nack` and `ack_take` ends with this drop) costs a check,
        // not a call.
        if self.slot.is_some() {
            self.finish(Outcome::Dropped, false);
        }
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv")
            .field("consumer", &self.consumer.id)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Delivery<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}
