//! Fair dispatch with prefetch, ack and redelivery: [`Dispatcher`].
//!
//! The in-process equivalent of a RabbitMQ queue with consumers.
//! Publishers put messages in one bounded backlog; the dispatcher hands each
//! message to a consumer chosen by a [`Strategy`] among those with free
//! prefetch credit; each consumer acks or nacks each [`Delivery`].
//!
//! # Cancel safety
//!
//! | future | dropped before it completes |
//! | --- | --- |
//! | [`Consumer::recv`], `recv_timeout` | cancel-safe: deliveries are assigned to the consumer, not the future; the next `recv` gets them |
//! | [`Publisher::publish`], `publish_timeout` | **drops the message** unsent; backlog room granted to it goes to the next publisher |
//! | [`RateLimitedPublisher::publish`] | drops the message; a rate-limit reservation is refunded when no later request reserved after it |
//!
//! # Examples
//!
//! A work queue: one producer, two workers with prefetch 1.
//!
//! ```
//! use flowgate::dispatch::{Dispatcher, Strategy, Subscription};
//! use futures::executor::block_on;
//!
//! let queue = Dispatcher::<u64>::builder()
//!     .capacity(64)
//!     .strategy(Strategy::RoundRobin)
//!     .build();
//! let workers: Vec<_> = (0..2)
//!     .map(|_| {
//!         let mut consumer = queue.subscribe(Subscription::prefetch(1));
//!         std::thread::spawn(move || {
//!             block_on(async {
//!                 let mut sum = 0;
//!                 while let Some(job) = consumer.recv().await {
//!                     sum += *job; // the delivery derefs to the message
//!                     job.ack();
//!                 }
//!                 sum
//!             })
//!         })
//!     })
//!     .collect();
//! let publisher = queue.publisher();
//! block_on(async {
//!     for job in 1..=100 {
//!         publisher.publish(job).await.unwrap();
//!     }
//! });
//! // Every publisher and handle gone: the queue closes, workers drain it.
//! drop((publisher, queue));
//! let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
//! assert_eq!(total, 5050);
//! ```
//!
//! # Semantics
//!
//! - **Eager assignment.** A message is assigned to a consumer's prefetch
//!   window as soon as one has credit (on publish, subscribe, ack, nack,
//!   drop, `set_prefetch`), not when `recv` is called; no background task is
//!   needed, so any executor works. `capacity` bounds the messages not yet
//!   assigned (the backlog); publishers wait while it is full.
//! - **Prefetch.** A consumer never holds more than its prefetch of unacked
//!   deliveries (RabbitMQ's `basic.qos`).
//! - **At-least-once.** A delivery dropped unacked, or held by a consumer
//!   that is dropped, goes back to the front of the backlog and its next
//!   delivery is flagged [`redelivered`](Delivery::redelivered). A message
//!   is delivered at most [`max_attempts`](Builder::max_attempts) times; then,
//!   or on [`nack(Requeue::No)`](Delivery::nack), it goes to the dead-letter
//!   mailbox without waiting, or is dropped and counted in
//!   [`Stats::dropped`].
//! - **Close.** [`Dispatcher::close`], or dropping every [`Publisher`] and
//!   every [`Dispatcher`] handle, refuses new messages; consumers drain what
//!   is left and then [`recv`](Consumer::recv) returns `None`.
//!
//! # Cooperative scheduling
//!
//! With the `tokio` feature, [`recv`](Consumer::recv) (and `poll_recv`,
//! the `Stream`) and [`publish`](Publisher::publish) spend tokio's
//! cooperative budget, as `tokio::sync` does, so a task whose operations
//! are always ready still lets the other tasks of its worker run. A
//! consumer's `recv` also spends it by *time*: one unit for every 250 ns
//! the task worked since its previous `recv` (measured over 8 receives,
//! one clock read each; time `recv` itself waited is not counted). Tokio
//! otherwise gives every task the same number of operations per turn, so
//! among CPU-bound consumers sharing workers a consumer four times slower
//! would hold its worker four times as long and still get as many turns,
//! hence as many messages, as the others, whatever the strategy. Spent by
//! time, turns last about the same time (128 units: about 32 µs of work),
//! as under a preemptive scheduler, and a slow consumer acks, and so is
//! given, in proportion to its speed. A task that awaits something else
//! between two receives has that time counted too, which costs it at most
//! one extra yield per 8 receives. Without the feature, or outside a tokio
//! runtime, nothing is spent.
//!
//! # Thread safety
//!
//! A message can be shared by two deliveries at once (a delivery of a
//! dropped consumer stays readable while the message is redelivered), so
//! the handles are `Send` and `Sync` when `T: Send + Sync`.
//!
//! # Locking
//!
//! The queue state sits behind one mutex, taken once per publish for a few
//! queue operations and a scan of the consumers, as a RabbitMQ queue is
//! serialised by one process; wakers are woken after it is released. A
//! `recv` takes every delivery ready for its consumer under one lock, and
//! the next `recv`s hand them out without it (auto-ack consumers take one
//! at a time). A plain [`ack`](Delivery::ack) of a message without drop
//! glue (`!needs_drop::<T>()`: an ack of any other message drops it before
//! `ack` returns, so takes the lock) that no one waits on (no
//! publisher waiting for room, no `recv` of its consumer pending, not
//! closed) takes no lock: it sets a bit in its consumer's ack word, and the
//! next locked operation settles it before anything else, so prefetch,
//! counts and stats stay exact (under `Adaptive`, the ack's time is read
//! when it is made and recorded with it). Steady-state publish → recv → ack allocates nothing:
//! messages live in pooled slots, and queues and windows keep their
//! capacity.

mod consumer;
mod core;
mod error;
mod publish;
mod rate_limit;
#[cfg(all(test, not(flowgate_loom)))]
mod settle_tests;
mod stats;
mod timeout;

pub use self::consumer::{Consumer, Delivery, Recv};
pub use self::error::{PublishError, TryPublishError, TryRecvError};
pub use self::publish::Publish;
pub use self::rate_limit::RateLimitedPublisher;
pub use self::stats::{ConsumerStats, Stats};
pub use self::timeout::{PublishTimeout, PublishTimeoutError, RecvTimeout, RecvTimeoutError};

#[cfg_attr(not(feature = "amqp"), allow(unused_imports))]
pub(crate) use self::core::Settle;
use self::core::{Clock, ClockFn, Config, Core, Effects, SettleFn, Sink};
use crate::sync::{Arc, AtomicUsize, Mutex, MutexGuard, Ordering};
use ::core::fmt;
use std::time::Duration;

/// The backlog capacity of a dispatcher built without
/// [`Builder::capacity`].
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{DEFAULT_CAPACITY, Dispatcher};
///
/// let queue = Dispatcher::<u32>::new();
/// let publisher = queue.publisher();
/// for n in 0..DEFAULT_CAPACITY {
///     publisher.try_publish(n as u32).unwrap(); // no consumer: all wait in the backlog
/// }
/// assert!(publisher.try_publish(0).unwrap_err().is_full());
/// ```
pub const DEFAULT_CAPACITY: usize = 1024;

/// How a dispatcher chooses the consumer of each message.
///
/// Only consumers with free prefetch credit are candidates, and among them
/// only those of the highest [priority](Subscription::priority).
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, Strategy};
///
/// let queue = Dispatcher::<String>::builder().strategy(Strategy::LeastLoaded).build();
/// assert_eq!(Strategy::default(), Strategy::RoundRobin);
/// # drop(queue);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// In turn among the candidates; one skipped for want of credit is
    /// first when it has credit again.
    #[default]
    RoundRobin,
    /// Smooth weighted round-robin over the candidates' weights: exact
    /// proportions over each cycle, interleaved, not in bursts. Weights can
    /// change at run time ([`Consumer::set_weight`]).
    Weighted,
    /// The candidate with the fewest unacked deliveries relative to its
    /// prefetch; ties in turn.
    ///
    /// It uses no clock: a slow consumer gets less only in so far as it
    /// still holds unacked deliveries when the next messages are assigned,
    /// which is when it acks more slowly than the others (CPU-bound
    /// consumers on tokio too: see "Cooperative scheduling" in the
    /// [module docs](self)). Once every window has room (publishers slower
    /// than consumers, or bursts that fill every window), it gets nearly an
    /// equal share. Choose [`Adaptive`](Self::Adaptive) for shares that
    /// follow speed whatever the load.
    LeastLoaded,
    /// Weighted round-robin with weights `weight / latency`, latency being
    /// each consumer's mean service time (from when `recv` took the
    /// delivery from the dispatcher, or from the consumer's previous ack if
    /// later, to the ack, read before the ack waits for the dispatcher's
    /// lock: time the task spends waiting or yielding inside `recv` is not
    /// counted, time between an ack and the next `recv` of a delivery
    /// already taken is). `recv` takes every delivery assigned to its
    /// consumer at once and reads the clock once for them. The mean is an
    /// exponentially weighted average over about 16 deliveries, each sample
    /// counting as at most 4 times the mean, so one stall (the task
    /// descheduled mid-delivery) neither starves a consumer nor lingers,
    /// and consumers of equal speed keep equal shares. A consumer without
    /// a sample yet counts as the fastest. Time comes from
    /// [`Builder::clock`].
    ///
    /// Each consumer's window is also capped by its speed: `prefetch *
    /// fastest / own`, rounded up, at least 1, from the same means.
    /// Whenever assignment is bounded by windows — under a backlog, or when
    /// a burst of messages finds every window with room — the windows, not
    /// the picks, decide the shares: a consumer four times slower holds a
    /// quarter of the messages, so it gets about a quarter of the others'
    /// share and delays fewer messages. This cap
    /// is why a consumer may be left with free prefetch while the backlog
    /// waits: its prefetch is the upper bound, its speed the window.
    Adaptive,
    /// Fanout: every consumer gets every message, each within its own
    /// credit. Consumers share one copy of each message (no `T: Clone`
    /// needed); each consumer acks, nacks and requeues its own delivery.
    /// The slowest consumer's credit back-pressures publishers: a message
    /// leaves the backlog once every consumer has taken it. A consumer that
    /// subscribes while others exist gets only later messages (the first
    /// one gets what waited for anyone), and the deliveries of a dropped
    /// consumer are released, not requeued.
    Broadcast,
}

/// Whether a nacked delivery goes back to the queue.
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, Requeue, Subscription};
/// use futures::executor::block_on;
///
/// block_on(async {
/// let queue = Dispatcher::<u32>::builder().build();
/// let mut consumer = queue.subscribe(Subscription::prefetch(1));
/// queue.publisher().publish(1).await.unwrap();
/// consumer.recv().await.unwrap().nack(Requeue::Yes);
/// let again = consumer.recv().await.unwrap();
/// assert!(again.redelivered());
/// again.nack(Requeue::No); // no dead-letter mailbox: dropped and counted
/// assert_eq!(queue.stats().dropped, 1);
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Requeue {
    /// Back to the front of the queue, for another attempt (unless it was
    /// the last one allowed).
    Yes,
    /// To the dead-letter mailbox (or dropped and counted).
    No,
}

/// How a consumer subscribes: prefetch, weight, priority, ack mode.
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, Subscription};
///
/// let queue = Dispatcher::<u32>::builder().build();
/// let worker = queue.subscribe(Subscription::prefetch(10).weight(3).priority(1));
/// let logger = queue.subscribe(Subscription::prefetch(64).auto_ack());
/// # drop((worker, logger));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subscription {
    prefetch: usize,
    weight: u32,
    priority: i32,
    auto_ack: bool,
}

impl Subscription {
    /// A subscription holding at most `n` unacked deliveries, with weight 1
    /// and priority 0.
    ///
    /// # Panics
    ///
    /// If `n` is 0 (an unlimited prefetch would leave memory unbounded).
    ///
    /// # Examples
    ///
    /// ```
    /// let sub = flowgate::dispatch::Subscription::prefetch(1);
    /// # drop(sub);
    /// ```
    pub fn prefetch(n: usize) -> Self {
        assert!(n > 0, "dispatch: prefetch must be at least 1");
        Self {
            prefetch: n,
            weight: 1,
            priority: 0,
            auto_ack: false,
        }
    }

    /// Sets the weight used by [`Strategy::Weighted`] and
    /// [`Strategy::Adaptive`] (default 1).
    ///
    /// # Panics
    ///
    /// If `w` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let sub = flowgate::dispatch::Subscription::prefetch(4).weight(3);
    /// # drop(sub);
    /// ```
    pub fn weight(mut self, w: u32) -> Self {
        assert!(w > 0, "dispatch: weight must be at least 1");
        self.weight = w;
        self
    }

    /// Sets the priority (default 0): a consumer is served only while no
    /// consumer of higher priority has credit.
    ///
    /// # Examples
    ///
    /// ```
    /// let sub = flowgate::dispatch::Subscription::prefetch(4).priority(10);
    /// # drop(sub);
    /// ```
    pub fn priority(mut self, p: i32) -> Self {
        self.priority = p;
        self
    }

    /// Auto-ack (AMQP's `no-ack`): a delivery counts as acked when `recv`
    /// hands it out, so it is never redelivered. The prefetch then bounds
    /// the deliveries assigned and not yet received.
    ///
    /// # Examples
    ///
    /// ```
    /// let sub = flowgate::dispatch::Subscription::prefetch(32).auto_ack();
    /// # drop(sub);
    /// ```
    pub fn auto_ack(mut self) -> Self {
        self.auto_ack = true;
        self
    }
}

/// Configures and builds a [`Dispatcher`]; from [`Dispatcher::builder`].
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, Strategy};
/// use flowgate::mailbox;
///
/// let (dlq, _dead) = mailbox::bounded::<String>(64);
/// let queue = Dispatcher::<String>::builder()
///     .capacity(1024)
///     .strategy(Strategy::Weighted)
///     .max_attempts(5)
///     .dead_letter(dlq)
///     .build();
/// # drop(queue);
/// ```
#[must_use = "a builder does nothing until built"]
pub struct Builder<T> {
    capacity: usize,
    strategy: Strategy,
    max_attempts: u32,
    dead_letter: Option<Sink<T>>,
    clock: Option<ClockFn>,
    settle: Option<SettleFn<T>>,
}

impl<T> Builder<T> {
    /// Bounds the backlog of messages not yet assigned to a consumer
    /// (default [`DEFAULT_CAPACITY`]): publishers wait while it is full.
    /// Requeued messages go back into the backlog even past the bound, so
    /// memory stays within `capacity` plus the consumers' prefetch.
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = flowgate::dispatch::Dispatcher::<u32>::builder().capacity(16).build();
    /// # drop(queue);
    /// ```
    pub fn capacity(mut self, n: usize) -> Self {
        assert!(n > 0, "dispatch: capacity must be at least 1");
        self.capacity = n;
        self
    }

    /// Sets the [`Strategy`] (default round robin).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Strategy};
    /// let queue = Dispatcher::<u32>::builder().strategy(Strategy::Broadcast).build();
    /// # drop(queue);
    /// ```
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Delivers a message at most `n` times (default: no limit). A nack or
    /// drop of its last attempt sends it to the dead-letter mailbox.
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = flowgate::dispatch::Dispatcher::<u32>::builder().max_attempts(3).build();
    /// # drop(queue);
    /// ```
    pub fn max_attempts(mut self, n: u32) -> Self {
        assert!(n > 0, "dispatch: max_attempts must be at least 1");
        self.max_attempts = n;
        self
    }

    /// Sets the dead-letter mailbox: where a message goes after a
    /// [`nack(Requeue::No)`](Delivery::nack) or a failed last attempt. It is
    /// offered with [`try_send`](crate::mailbox::Sender::try_send), never
    /// waited for: if the mailbox is full or closed, the message is dropped
    /// and counted in [`Stats::dropped`].
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Requeue, Subscription};
    /// use flowgate::mailbox;
    ///
    /// let (dlq, mut dead) = mailbox::bounded::<u32>(16);
    /// let queue = Dispatcher::<u32>::builder().max_attempts(3).dead_letter(dlq).build();
    /// let mut consumer = queue.subscribe(Subscription::prefetch(1));
    /// queue.publisher().try_publish(7).unwrap();
    /// consumer.try_recv().unwrap().nack(Requeue::No);
    /// assert_eq!(dead.try_recv().unwrap(), 7);
    /// assert_eq!(queue.stats().dead_lettered, 1);
    /// ```
    pub fn dead_letter(mut self, tx: crate::mailbox::Sender<T>) -> Self {
        self.dead_letter = Some(tx);
        self
    }

    /// The time source of [`Strategy::Adaptive`]: a monotonic clock giving
    /// the time since any fixed origin (default: [`std::time::Instant`]).
    /// Tests pass a manual clock to control observed latencies.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Strategy};
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::time::Duration;
    ///
    /// let now = Arc::new(AtomicU64::new(0));
    /// let clock = Arc::clone(&now);
    /// let queue = Dispatcher::<u32>::builder()
    ///     .strategy(Strategy::Adaptive)
    ///     .clock(move || Duration::from_millis(clock.load(Ordering::Relaxed)))
    ///     .build();
    /// now.store(5, Ordering::Relaxed); // 5 ms later
    /// # drop(queue);
    /// ```
    pub fn clock(mut self, now: impl Fn() -> Duration + Send + Sync + 'static) -> Self {
        self.clock = Some(Box::new(now));
        self
    }

    /// Hands every message a consumer settles to `f` instead of requeueing
    /// or dead-lettering it here (the RabbitMQ bridge, where the broker
    /// does both). Not for `Broadcast`, where one message has many
    /// deliveries.
    #[cfg_attr(not(feature = "amqp"), allow(dead_code))]
    pub(crate) fn settle_with(mut self, f: impl Fn(&T, Settle) + Send + Sync + 'static) -> Self {
        self.settle = Some(Box::new(f));
        self
    }

    /// Builds the dispatcher.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = flowgate::dispatch::Dispatcher::<u32>::builder().build();
    /// assert!(!queue.is_closed());
    /// ```
    pub fn build(self) -> Dispatcher<T> {
        let core = Core::new(Config {
            capacity: self.capacity,
            strategy: self.strategy,
            max_attempts: self.max_attempts,
            dead_letter: self.dead_letter,
            clock: self.clock,
            settle: self.settle,
        });
        Dispatcher {
            shared: Arc::new(Shared {
                clock: core.adaptive_clock(),
                core: Mutex::new(core),
                handles: AtomicUsize::new(1),
            }),
        }
    }
}

/// State shared by every handle, consumer and delivery of one dispatcher.
struct Shared<T> {
    core: Mutex<Core<T>>,
    /// Live `Dispatcher` and `Publisher` handles; the last one to go closes
    /// the dispatcher.
    handles: AtomicUsize,
    /// Adaptive: its clock, read without the lock when `recv` hands a
    /// delivery out and when it is acked (so time spent waiting for the
    /// lock is not counted as service); each consumer reads its own copy.
    clock: Option<Arc<Clock>>,
}

// Makes `Dispatcher`, `Publisher` and `Consumer` `UnwindSafe` and
// `RefUnwindSafe`, as tokio's handles are. The dispatcher's invariants
// hold across a panic: no user code (a waker, a message's `Drop`, a settle
// hook, the clock) runs under its lock, the lock ignores poison, and
// these handles move messages in and out whole (only a `Delivery` lends a
// `&T`, and it asks `T: RefUnwindSafe` for that).
impl<T> ::core::panic::UnwindSafe for Shared<T> {}
impl<T> ::core::panic::RefUnwindSafe for Shared<T> {}

impl<T> Shared<T> {
    /// Runs `f` under the lock, then assigns what it made assignable; wakes
    /// and drops what it left after releasing the lock.
    ///
    /// First settles the acks made without the lock and assigns what they
    /// made assignable, so `f` sees exact state; last, marks the consumers
    /// whose acks someone now waits on (which may settle more acks made
    /// meanwhile, and so pump again).
    fn run<R>(&self, f: impl FnOnce(&mut Core<T>, &mut Effects<T>) -> R) -> R {
        let mut fx = Effects::new();
        let mut core = self.core.lock();
        if core.collect_acks(&mut fx) {
            core = self.pump(core, &mut fx);
        }
        let out = f(&mut core, &mut fx);
        core = self.pump(core, &mut fx);
        while core.sync_hot(&mut fx) {
            core = self.pump(core, &mut fx);
        }
        drop(core);
        self.after(&mut fx);
        out
    }

    /// Once the lock is released: wakes, then drops buried messages.
    #[inline]
    fn after(&self, fx: &mut Effects<T>) {
        fx.wakes.wake_all();
        if !fx.dead.is_empty() {
            self.send_dead_letters(fx);
        }
        // A sender let go of, or cloned for the dead letters: its drop may
        // close the dead-letter mailbox and wake its receiver.
        fx.sink = None;
        if !::core::mem::needs_drop::<T>() {
            // Nothing was buried (`Core::bury`).
            return;
        }
        fx.drop_messages();
        if fx.more.capacity() > 0 {
            // Several messages were dropped: lend their vector again.
            self.core
                .lock()
                .return_graves(::core::mem::take(&mut *fx.more));
        }
    }

    /// Once the lock is released: offers the dead letters an operation left
    /// to the dead-letter mailbox without waiting, then counts them under
    /// the lock (sent, or dropped if it was full or closed). Cold: only
    /// rejected or exhausted messages come here.
    #[cold]
    #[inline(never)]
    fn send_dead_letters(&self, fx: &mut Effects<T>) {
        let Some(sink) = &fx.sink else {
            unreachable!("dispatch: dead letters without a sink")
        };
        let mut counts = Vec::with_capacity(fx.dead.len());
        let mut refused = Vec::new();
        for (who, msg) in fx.dead.drain(..) {
            match sink.try_send(msg) {
                Ok(()) => counts.push((who, true)),
                Err(err) => {
                    counts.push((who, false));
                    refused.push(err.into_inner());
                }
            }
        }
        {
            let mut core = self.core.lock();
            for (who, sent) in counts {
                core.count_dead(who, sent);
            }
        }
        // Refused messages are dropped with the lock released.
        drop(refused);
    }

    /// Pumps until done, waking (with the lock released) each time the
    /// batch of wakers fills up.
    #[inline]
    fn pump<'a>(
        &'a self,
        core: MutexGuard<'a, Core<T>>,
        fx: &mut Effects<T>,
    ) -> MutexGuard<'a, Core<T>> {
        // Checked inline: most operations leave nothing waiting.
        if core.idle() {
            return core;
        }
        self.pump_waiting(core, fx)
    }

    /// [`pump`](Self::pump) when something waits.
    fn pump_waiting<'a>(
        &'a self,
        mut core: MutexGuard<'a, Core<T>>,
        fx: &mut Effects<T>,
    ) -> MutexGuard<'a, Core<T>> {
        while !core.pump(fx) {
            drop(core);
            fx.wakes.wake_all();
            core = self.core.lock();
        }
        core
    }

    fn add_handle(&self) {
        self.handles.fetch_add(1, Ordering::Relaxed);
    }

    fn drop_handle(&self) {
        if self.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.run(|core, _| core.close());
        }
    }
}

/// A fair work queue with prefetch, ack and redelivery. A cheap handle:
/// clones share one queue.
///
/// See the [module docs](self) for the semantics.
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, Subscription};
/// use futures::executor::block_on;
///
/// block_on(async {
/// let queue = Dispatcher::<&str>::builder().build();
/// let mut consumer = queue.subscribe(Subscription::prefetch(1));
/// queue.publisher().publish("job").await.unwrap();
/// let delivery = consumer.recv().await.unwrap();
/// assert_eq!(*delivery, "job");
/// delivery.ack();
/// });
/// ```
pub struct Dispatcher<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Dispatcher<T> {
    /// A builder with the defaults: capacity [`DEFAULT_CAPACITY`], round
    /// robin, no attempt limit, no dead-letter mailbox.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = flowgate::dispatch::Dispatcher::<u32>::builder().build();
    /// # drop(queue);
    /// ```
    pub fn builder() -> Builder<T> {
        Builder {
            capacity: DEFAULT_CAPACITY,
            strategy: Strategy::RoundRobin,
            max_attempts: u32::MAX,
            dead_letter: None,
            clock: None,
            settle: None,
        }
    }

    /// A dispatcher with the defaults of [`builder`](Self::builder).
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = flowgate::dispatch::Dispatcher::<u32>::new();
    /// # drop(queue);
    /// ```
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A new publisher. Publishers keep the dispatcher open: it closes when
    /// the last publisher and the last `Dispatcher` handle are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = flowgate::dispatch::Dispatcher::<u32>::new();
    /// let publisher = queue.publisher();
    /// publisher.try_publish(1).unwrap();
    /// ```
    pub fn publisher(&self) -> Publisher<T> {
        self.shared.add_handle();
        Publisher {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Adds a consumer. Messages already waiting are assigned to it at once
    /// if it has credit. Consumers do not keep the dispatcher open.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, Subscription};
    ///
    /// let queue = Dispatcher::<u32>::new();
    /// queue.publisher().try_publish(1).unwrap();
    /// let mut consumer = queue.subscribe(Subscription::prefetch(1));
    /// assert_eq!(*consumer.try_recv().unwrap(), 1);
    /// ```
    pub fn subscribe(&self, subscription: Subscription) -> Consumer<T> {
        let (key, id, acks) = self.shared.run(|core, _| core.subscribe(&subscription));
        Consumer::new(Arc::clone(&self.shared), key, id, acks, &subscription)
    }

    /// Closes the dispatcher: publishing fails from now on (waiting
    /// publishers get their messages back), consumers drain what is queued
    /// and unacked, then [`recv`](Consumer::recv) returns `None`.
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
    /// queue.publisher().publish(1).await.unwrap();
    /// queue.close();
    /// consumer.recv().await.unwrap().ack();
    /// assert!(consumer.recv().await.is_none());
    /// });
    /// ```
    pub fn close(&self) {
        self.shared.run(|core, _| core.close());
    }

    /// `try_publish` for a message already delivered `seen` times elsewhere
    /// (a broker redelivery): its first delivery here is attempt `seen + 1`.
    #[cfg_attr(not(feature = "amqp"), allow(dead_code))]
    pub(crate) fn try_publish_seen(&self, msg: T, seen: u32) -> Result<(), TryPublishError<T>> {
        self.shared
            .run(|core, fx| core.try_publish_seen(msg, seen, &mut fx.wakes))
    }

    /// Whether the dispatcher is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = flowgate::dispatch::Dispatcher::<u32>::new();
    /// queue.close();
    /// assert!(queue.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.core.lock().is_closed()
    }

    /// A snapshot of the counters and gauges.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = flowgate::dispatch::Dispatcher::<u32>::new();
    /// queue.publisher().try_publish(1).unwrap();
    /// let stats = queue.stats();
    /// assert_eq!((stats.published, stats.backlog), (1, 1));
    /// ```
    pub fn stats(&self) -> Stats {
        self.shared.run(|core, _| core.stats())
    }
}

impl<T> Default for Dispatcher<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for Dispatcher<T> {
    fn clone(&self) -> Self {
        self.shared.add_handle();
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Dispatcher<T> {
    fn drop(&mut self) {
        self.shared.drop_handle();
    }
}

/// Publishes into a [`Dispatcher`]. Cheap to clone.
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::Dispatcher;
/// use futures::executor::block_on;
///
/// let queue = Dispatcher::<u32>::new();
/// let publisher = queue.publisher();
/// block_on(publisher.publish(1)).unwrap();
/// publisher.try_publish(2).unwrap();
/// assert_eq!(queue.stats().backlog, 2);
/// ```
pub struct Publisher<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Publisher<T> {
    /// Publishes `msg`, waiting while the backlog is full.
    ///
    /// Waiting publishers are served in FIFO order.
    ///
    /// # Errors
    ///
    /// [`PublishError`] with the message if the dispatcher is closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes drops the message unsent; a
    /// place in the backlog already granted to it passes to the next
    /// waiting publisher.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::Dispatcher;
    /// use futures::executor::block_on;
    ///
    /// let queue = Dispatcher::<u32>::new();
    /// block_on(queue.publisher().publish(1)).unwrap();
    /// ```
    pub fn publish(&self, msg: T) -> Publish<'_, T> {
        Publish::new(self, msg)
    }

    /// Publishes `msg` if the backlog has room now.
    ///
    /// # Errors
    ///
    /// [`TryPublishError::Full`] if the backlog is full or other publishers
    /// are waiting, [`TryPublishError::Closed`] if the dispatcher is
    /// closed; both hand the message back.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::dispatch::{Dispatcher, TryPublishError};
    ///
    /// let queue = Dispatcher::<u32>::builder().capacity(1).build();
    /// let publisher = queue.publisher();
    /// publisher.try_publish(1).unwrap();
    /// assert!(matches!(publisher.try_publish(2), Err(TryPublishError::Full(2))));
    /// ```
    pub fn try_publish(&self, msg: T) -> Result<(), TryPublishError<T>> {
        self.shared
            .run(|core, fx| core.try_publish(msg, &mut fx.wakes))
    }

    /// Whether the dispatcher is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = flowgate::dispatch::Dispatcher::<u32>::new();
    /// let publisher = queue.publisher();
    /// queue.close();
    /// assert!(publisher.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.core.lock().is_closed()
    }
}

impl<T> Clone for Publisher<T> {
    fn clone(&self) -> Self {
        self.shared.add_handle();
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Publisher<T> {
    fn drop(&mut self) {
        self.shared.drop_handle();
    }
}

impl<T> fmt::Debug for Builder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("capacity", &self.capacity)
            .field("strategy", &self.strategy)
            .field("max_attempts", &self.max_attempts)
            .field("dead_letter", &self.dead_letter.is_some())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Dispatcher<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Publisher<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher").finish_non_exhaustive()
    }
}
