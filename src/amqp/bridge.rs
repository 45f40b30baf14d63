//! [`ConsumerBridge`]: a broker queue feeding a local dispatcher.

use super::run::{Control, Parts, Run};
use super::stats::Counts;
use super::{BridgeError, BrokerStats, Link, Message, Settlement};
use crate::dispatch::{Consumer, Dispatcher, Stats, Strategy, Subscription};
use crate::mailbox;
use core::fmt;
use lapin::Channel;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::{FieldTable, ShortString};
use std::sync::Arc;

/// The default total credit: the broker sends at most this many unacked
/// deliveries to the process.
pub const DEFAULT_CREDIT: usize = 32;

/// Configures and starts a [`ConsumerBridge`]; from
/// [`ConsumerBridge::builder`].
///
/// # Examples
///
/// ```no_run
/// use flowgate::amqp::ConsumerBridge;
/// use flowgate::dispatch::Strategy;
///
/// # async fn demo(channel: lapin::Channel) -> Result<(), flowgate::amqp::BridgeError> {
/// let bridge = ConsumerBridge::builder(&channel, "jobs")
///     .credit(20)                    // basic.qos 20
///     .strategy(Strategy::LeastLoaded)
///     .max_attempts(5)               // then basic.nack requeue=false (DLX)
///     .consumer_tag("worker-pool-1")
///     .start()
///     .await?;
/// # drop(bridge);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until started"]
pub struct BridgeBuilder {
    channel: Channel,
    queue: ShortString,
    credit: u16,
    strategy: Strategy,
    max_attempts: u32,
    consumer_tag: ShortString,
    arguments: FieldTable,
}

impl BridgeBuilder {
    /// The process's total credit (default [`DEFAULT_CREDIT`]): the
    /// `basic.qos` prefetch count, so the broker never has more unacked
    /// deliveries out to this process, and the local backlog's capacity.
    /// Local workers' prefetch windows share it.
    ///
    /// # Panics
    ///
    /// If `n` is 0 (RabbitMQ reads prefetch 0 as unlimited) or above
    /// 65535 (the protocol's limit).
    pub fn credit(mut self, n: usize) -> Self {
        assert!(n > 0, "amqp: credit must be at least 1");
        self.credit = u16::try_from(n).expect("amqp: credit must be at most 65535 (basic.qos)");
        self
    }

    /// How deliveries are shared among local workers (default round
    /// robin).
    ///
    /// # Panics
    ///
    /// If `strategy` is [`Strategy::Broadcast`]: one broker delivery is
    /// acked once, so it cannot be fanned out; bind a queue per process to
    /// a fanout exchange instead.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        assert!(
            strategy != Strategy::Broadcast,
            "amqp: Strategy::Broadcast cannot bridge a queue (a broker delivery is acked once); \
             bind one queue per consumer to a fanout exchange instead"
        );
        self.strategy = strategy;
        self
    }

    /// After this many deliveries (counted by the broker, see the
    /// [module docs](super#attempts)), a requeueing nack or a drop becomes
    /// `basic.nack` without requeue, which dead-letters the message where
    /// the queue has a dead-letter exchange. Default: unlimited.
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    pub fn max_attempts(mut self, n: u32) -> Self {
        assert!(n > 0, "amqp: max_attempts must be at least 1");
        self.max_attempts = n;
        self
    }

    /// The consumer tag (default: the broker picks one).
    pub fn consumer_tag(mut self, tag: &str) -> Self {
        self.consumer_tag = tag.into();
        self
    }

    /// Arguments of `basic.consume`, such as `x-priority`.
    pub fn arguments(mut self, arguments: FieldTable) -> Self {
        self.arguments = arguments;
        self
    }

    /// Sets `basic.qos` to the credit and starts consuming. Deliveries flow
    /// once the returned bridge's [`run`](ConsumerBridge::run) driver is
    /// polled.
    ///
    /// # Errors
    ///
    /// [`BridgeError::Setup`] if the broker refuses either (no such queue,
    /// no access, the channel is closed).
    ///
    /// # Cancel safety
    ///
    /// Cancelling may leave the qos set and a broker consumer started on
    /// the channel with no bridge: its deliveries stay unacked until the
    /// channel closes. Close the channel after cancelling.
    pub async fn start(self) -> Result<ConsumerBridge, BridgeError> {
        let qos = BasicQosOptions { global: false };
        self.channel
            .basic_qos(self.credit, qos)
            .await
            .map_err(BridgeError::Setup)?;
        let consumer = self
            .channel
            .basic_consume(
                self.queue.clone(),
                self.consumer_tag,
                BasicConsumeOptions::default(),
                self.arguments,
            )
            .await
            .map_err(BridgeError::Setup)?;
        let credit = usize::from(self.credit);
        let dispatcher = Dispatcher::builder()
            .capacity(credit)
            .strategy(self.strategy)
            .max_attempts(self.max_attempts)
            .settle_with(|msg: &Message, verdict| msg.settle(verdict))
            .build();
        let (tx, rx) = mailbox::bounded::<Settlement>(credit);
        let tag = consumer.tag();
        let link = Arc::new(Link {
            tx,
            counts: Counts::default(),
        });
        let control = Arc::new(Control::new(
            Parts {
                consumer,
                settlements: rx,
            },
            link,
        ));
        Ok(ConsumerBridge {
            dispatcher,
            control,
            channel: self.channel,
            queue: self.queue,
            tag,
            credit,
        })
    }
}

/// A broker queue consumed into a local
/// [`Dispatcher`](crate::dispatch::Dispatcher): see the
/// [module docs](super). A cheap handle: clones share one bridge.
///
/// # Examples
///
/// ```no_run
/// use flowgate::amqp::ConsumerBridge;
/// use flowgate::dispatch::{Requeue, Subscription};
///
/// # async fn demo(channel: lapin::Channel) -> Result<(), flowgate::amqp::BridgeError> {
/// let bridge = ConsumerBridge::builder(&channel, "jobs").credit(8).start().await?;
/// let mut worker = bridge.subscribe(Subscription::prefetch(4));
/// let driver = tokio::spawn(bridge.run());
/// while let Some(job) = worker.recv().await {
///     if job.data().is_empty() {
///         job.nack(Requeue::No); // basic.nack requeue=false
///     } else {
///         job.ack(); // basic.ack
///     }
///     if bridge.stats().acked == 100 {
///         bridge.close(); // basic.cancel; the worker drains, then gets None
///     }
/// }
/// driver.await.expect("driver task")?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ConsumerBridge {
    dispatcher: Dispatcher<Message>,
    control: Arc<Control>,
    channel: Channel,
    queue: ShortString,
    tag: ShortString,
    credit: usize,
}

impl ConsumerBridge {
    /// A builder for a bridge consuming `queue` on `channel`. The channel
    /// should be the bridge's own: its qos is set to the bridge's credit.
    pub fn builder(channel: &Channel, queue: &str) -> BridgeBuilder {
        BridgeBuilder {
            channel: channel.clone(),
            queue: queue.into(),
            credit: DEFAULT_CREDIT as u16,
            strategy: Strategy::RoundRobin,
            max_attempts: u32::MAX,
            consumer_tag: ShortString::from(""),
            arguments: FieldTable::default(),
        }
    }

    /// A local worker with its own prefetch window, weight and priority.
    /// Its deliveries are [`Message`]s; acking one acks it on the broker.
    ///
    /// # Panics
    ///
    /// As [`Dispatcher::subscribe`].
    pub fn subscribe(&self, subscription: Subscription) -> Consumer<Message> {
        self.dispatcher.subscribe(subscription)
    }

    /// The local dispatcher, for its stats and strategy settings.
    pub fn dispatcher(&self) -> &Dispatcher<Message> {
        &self.dispatcher
    }

    /// The local dispatcher's counters: `published` counts broker
    /// deliveries taken in.
    pub fn stats(&self) -> Stats {
        self.dispatcher.stats()
    }

    /// The driver that moves deliveries in and settlements out: spawn it
    /// on the runtime lapin runs on (or await it). It ends with `Ok` after
    /// [`close`](Self::close) once every delivery is settled, and with
    /// [`BridgeError::Lost`] when the channel or connection dies. A second
    /// call returns a driver that ends at once with
    /// [`BridgeError::AlreadyRunning`].
    pub fn run(&self) -> Run {
        Run::new(
            Arc::clone(&self.control),
            self.dispatcher.clone(),
            self.channel.clone(),
            self.tag.clone(),
        )
    }

    /// Stops taking deliveries: the broker consumer is cancelled, the local
    /// dispatcher closed once the broker confirms, and the driver ends when
    /// the workers have settled everything they hold.
    pub fn close(&self) {
        self.control.close();
    }

    /// Where the settlements went: sent on the channel, or nowhere (made
    /// after the channel died). See [`BrokerStats`].
    pub fn broker_stats(&self) -> BrokerStats {
        self.control.link.counts.snapshot()
    }

    /// The total credit (the `basic.qos` prefetch count).
    pub fn credit(&self) -> usize {
        self.credit
    }

    /// The broker queue's name.
    pub fn queue(&self) -> &str {
        self.queue.as_str()
    }

    /// The broker consumer's tag.
    pub fn consumer_tag(&self) -> &str {
        self.tag.as_str()
    }
}

impl fmt::Debug for ConsumerBridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumerBridge")
            .field("queue", &self.queue)
            .field("consumer_tag", &self.tag)
            .field("credit", &self.credit)
            .finish_non_exhaustive()
    }
}
