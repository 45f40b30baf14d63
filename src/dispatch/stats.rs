//! Counters and gauges of a dispatcher, read with
//! [`Dispatcher::stats`](super::Dispatcher::stats).

/// A snapshot of a dispatcher's counters (since it was built) and gauges
/// (now).
///
/// Every published message ends, once nothing is queued or in flight,
/// counted in exactly one of `acked`, `dead_lettered` and `dropped` (with
/// [`Strategy::Broadcast`](super::Strategy::Broadcast), each consumer's copy
/// is counted on its own).
///
/// A plain struct of public fields: build one with a struct literal (and
/// `..Default::default()`) to compare a snapshot as a whole.
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, Subscription};
/// use futures::executor::block_on;
///
/// block_on(async {
/// let queue = Dispatcher::<u32>::builder().build();
/// let mut consumer = queue.subscribe(Subscription::prefetch(4));
/// queue.publisher().publish(1).await.unwrap();
/// consumer.recv().await.unwrap().ack();
/// let stats = queue.stats();
/// assert_eq!((stats.published, stats.delivered, stats.acked), (1, 1, 1));
/// assert_eq!(stats.consumers[0].acked, 1);
/// });
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages accepted by `publish` / `try_publish`.
    pub published: u64,
    /// Deliveries assigned to a consumer's prefetch window (redeliveries
    /// included).
    pub delivered: u64,
    /// Deliveries acked (auto-ack deliveries count when received).
    pub acked: u64,
    /// Deliveries nacked, explicitly or by being dropped unacked.
    pub nacked: u64,
    /// Deliveries of a message that had been delivered before
    /// (`attempt() > 1`).
    pub redelivered: u64,
    /// Messages handed to the dead-letter mailbox.
    pub dead_lettered: u64,
    /// Messages dropped because they were to be dead-lettered and no
    /// dead-letter mailbox was set, or it was full or closed.
    pub dropped: u64,
    /// Messages not yet assigned to any consumer (the count that
    /// [`capacity`](super::Builder::capacity) bounds).
    pub backlog: usize,
    /// Deliveries assigned to consumers and not yet acked or nacked.
    pub in_flight: usize,
    /// One entry per live consumer, in subscription order.
    pub consumers: Vec<ConsumerStats>,
}

/// The counters and settings of one consumer, in [`Stats::consumers`].
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::{Dispatcher, Subscription};
///
/// let queue = Dispatcher::<u32>::builder().build();
/// let consumer = queue.subscribe(Subscription::prefetch(4).weight(2));
/// let stats = &queue.stats().consumers[0];
/// assert_eq!((stats.id, stats.prefetch, stats.weight), (consumer.id(), 4, 2));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    /// The consumer's [`id`](super::Consumer::id).
    pub id: u64,
    /// Its current prefetch limit.
    pub prefetch: usize,
    /// Its current weight.
    pub weight: u32,
    /// Its priority.
    pub priority: i32,
    /// Deliveries assigned to it.
    pub delivered: u64,
    /// Deliveries it acked.
    pub acked: u64,
    /// Deliveries it nacked or dropped unacked.
    pub nacked: u64,
    /// Redeliveries assigned to it.
    pub redelivered: u64,
    /// Its deliveries that ended in the dead-letter mailbox.
    pub dead_lettered: u64,
    /// Its deliveries dropped for want of a dead-letter mailbox.
    pub dropped: u64,
    /// Messages waiting for it alone ([`Strategy::Broadcast`](super::Strategy::Broadcast)
    /// copies not yet assigned; always 0 for the other strategies).
    pub backlog: usize,
    /// Deliveries assigned to it and not yet acked or nacked.
    pub in_flight: usize,
}
