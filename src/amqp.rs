//! The same flow control over RabbitMQ (feature `amqp`).
//!
//! When one process is not enough, the queue lives in RabbitMQ and flowgate
//! governs each process's share of it:
//!
//! - [`ConsumerBridge`] consumes one broker queue with `basic.qos` set once
//!   to the process's total credit and feeds each delivery into a local
//!   [`Dispatcher`](crate::dispatch::Dispatcher). Local workers subscribe
//!   to it exactly as to any dispatcher, with the same strategies, prefetch,
//!   ack and nack, and get [`Delivery<Message>`](crate::dispatch::Delivery)s.
//!   A local ack becomes `basic.ack`; a requeueing nack, a dropped delivery
//!   or a dropped worker becomes `basic.nack` with requeue; a
//!   `nack(Requeue::No)` or a failure of the last allowed attempt becomes
//!   `basic.nack` without requeue, which the queue's dead-letter exchange
//!   takes where one is configured. Nothing is requeued locally: the broker
//!   owns redelivery.
//! - [`Publisher`] publishes with publisher confirms as credit: at most N
//!   unconfirmed publishes at a time (a
//!   [`CreditSemaphore`](crate::credit::CreditSemaphore)), optionally paced
//!   by a [`RateLimiter`](crate::rate::RateLimiter). A publish the broker
//!   nacks or returns comes back in the error with its payload.
//!
//! lapin is a dependency without its default features: the application
//! picks lapin's runtime and TLS by enabling them on its own lapin
//! dependency, and runs the bridge's driver, [`Run`], on that runtime.
//! lapin 4 needs Rust 1.88, so the `amqp` feature does too.
//!
//! # Attempts
//!
//! A delivery's [`attempt()`](crate::dispatch::Delivery::attempt) is the
//! broker's count: a quorum queue's `x-delivery-count` header plus one. A
//! classic queue only says whether a message was `redelivered`, so there a
//! redelivery shows as attempt 2 whatever its real count; set
//! [`max_attempts`](BridgeBuilder::max_attempts) with quorum queues.
//!
//! # How the driver ends
//!
//! [`Run`] ends with `Ok(())` after [`close`](ConsumerBridge::close) once
//! every delivery is settled (what no worker will take goes back with
//! `basic.nack` requeue); with [`BridgeError::Cancelled`] when the broker
//! cancelled the consumer (its queue was deleted); with
//! [`BridgeError::Lost`] carrying the broker's own reason (such as
//! `CONNECTION_FORCED`) when the channel or connection dies. This version
//! does not reconnect: after `Lost`, build a new channel and bridge.
//!
//! # Heartbeats
//!
//! A connection that goes silent (a partition, a hung peer) is noticed
//! only through AMQP heartbeats: lapin closes the connection after about
//! two heartbeat intervals without a frame, and the driver then ends with
//! [`BridgeError::Lost`]. The interval is negotiated at connect time, the
//! lower of the broker's (RabbitMQ's default is 60 s) and the client's;
//! ask for a shorter one in the URL, e.g.
//! `amqp://127.0.0.1:5672/%2f?heartbeat=5`, to notice a partition in about
//! 10 s rather than 120 s. Until then, workers simply see no deliveries.
//!
//! # Examples
//!
//! ```no_run
//! use flowgate::amqp::ConsumerBridge;
//! use flowgate::dispatch::{Strategy, Subscription};
//! use lapin::{Connection, ConnectionProperties};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let conn = Connection::connect("amqp://127.0.0.1:5672", ConnectionProperties::default()).await?;
//! let channel = conn.create_channel().await?;
//! let bridge = ConsumerBridge::builder(&channel, "jobs")
//!     .credit(30)
//!     .strategy(Strategy::Weighted)
//!     .start()
//!     .await?;
//! let mut worker = bridge.subscribe(Subscription::prefetch(10).weight(2));
//! let driver = bridge.run(); // spawn it on your runtime
//! # drop(driver);
//! while let Some(delivery) = worker.recv().await {
//!     println!("{} bytes", delivery.data().len());
//!     delivery.ack(); // basic.ack on the broker
//! }
//! # Ok(())
//! # }
//! ```

mod bridge;
mod error;
mod publisher;
mod run;

pub use bridge::{BridgeBuilder, ConsumerBridge, DEFAULT_CREDIT};
pub use error::{BridgeError, PublishError, PublishErrorKind};
pub use publisher::{DEFAULT_MAX_UNCONFIRMED, Publisher, PublisherBuilder};
pub use run::Run;
pub use stats::BrokerStats;

mod stats;

use crate::dispatch::Settle;
use crate::mailbox;
use crate::sync::{AtomicBool, Ordering};
use core::fmt;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, ShortString};

/// A settled delivery on its way to the broker.
pub(crate) struct Settlement {
    pub(crate) tag: u64,
    pub(crate) verdict: Settle,
}

/// What every message of a bridge shares: the way to its driver, and the
/// count of settlements that never got there.
pub(crate) struct Link {
    pub(crate) tx: mailbox::Sender<Settlement>,
    pub(crate) counts: stats::Counts,
}

/// One delivery from the broker, as local workers see it (inside a
/// [`Delivery`](crate::dispatch::Delivery)).
///
/// A message is settled on the broker exactly once: by its delivery's ack or
/// nack, or, if it is dropped without either (a worker dropped it, or the
/// bridge shut down before any worker took it), by `basic.nack` with
/// requeue.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(mut worker: flowgate::dispatch::Consumer<flowgate::amqp::Message>) {
/// let delivery = worker.recv().await.unwrap();
/// println!("{:?} from {}", delivery.data(), delivery.routing_key());
/// delivery.ack();
/// # }
/// ```
pub struct Message {
    data: Vec<u8>,
    properties: BasicProperties,
    delivery_tag: u64,
    exchange: ShortString,
    routing_key: ShortString,
    redelivered: bool,
    settled: AtomicBool,
    link: std::sync::Arc<Link>,
}

impl Message {
    pub(crate) fn new(delivery: lapin::message::Delivery, link: std::sync::Arc<Link>) -> Self {
        Self {
            data: delivery.data,
            properties: delivery.properties,
            delivery_tag: delivery.delivery_tag,
            exchange: delivery.exchange,
            routing_key: delivery.routing_key,
            redelivered: delivery.redelivered,
            settled: AtomicBool::new(false),
            link,
        }
    }

    /// The payload.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut worker: flowgate::dispatch::Consumer<flowgate::amqp::Message>) {
    /// let job = worker.recv().await.unwrap(); // Delivery<Message>
    /// println!("{} bytes", job.data().len());
    /// job.ack();
    /// # }
    /// ```
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The payload, taken out (the message is still settled as usual).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut worker: flowgate::dispatch::Consumer<flowgate::amqp::Message>) {
    /// let job = worker.recv().await.unwrap(); // Delivery<Message>
    /// let mut message = job.ack_take().unwrap(); // acked; the message is ours
    /// let body: Vec<u8> = message.take_data();
    /// assert!(message.data().is_empty());
    /// # }
    /// ```
    pub fn take_data(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.data)
    }

    /// The message's properties and headers.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut worker: flowgate::dispatch::Consumer<flowgate::amqp::Message>) {
    /// let job = worker.recv().await.unwrap(); // Delivery<Message>
    /// let kind = job.properties().content_type().as_ref().map(|t| t.as_str());
    /// println!("content type {kind:?}");
    /// job.ack();
    /// # }
    /// ```
    pub fn properties(&self) -> &BasicProperties {
        &self.properties
    }

    /// The broker's delivery tag on the bridge's channel.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut worker: flowgate::dispatch::Consumer<flowgate::amqp::Message>) {
    /// let job = worker.recv().await.unwrap(); // Delivery<Message>
    /// println!("delivery tag {}", job.delivery_tag());
    /// job.ack();
    /// # }
    /// ```
    pub fn delivery_tag(&self) -> u64 {
        self.delivery_tag
    }

    /// The exchange it was published to (empty for the default exchange).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut worker: flowgate::dispatch::Consumer<flowgate::amqp::Message>) {
    /// let job = worker.recv().await.unwrap(); // Delivery<Message>
    /// println!("from exchange {:?}", job.exchange());
    /// job.ack();
    /// # }
    /// ```
    pub fn exchange(&self) -> &str {
        self.exchange.as_str()
    }

    /// The routing key it was published with.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut worker: flowgate::dispatch::Consumer<flowgate::amqp::Message>) {
    /// let job = worker.recv().await.unwrap(); // Delivery<Message>
    /// println!("routing key {}", job.routing_key());
    /// job.ack();
    /// # }
    /// ```
    pub fn routing_key(&self) -> &str {
        self.routing_key.as_str()
    }

    /// The broker's `redelivered` flag.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut worker: flowgate::dispatch::Consumer<flowgate::amqp::Message>) {
    /// let job = worker.recv().await.unwrap(); // Delivery<Message>
    /// if job.broker_redelivered() {
    ///     println!("the broker delivered it before");
    /// }
    /// job.ack();
    /// # }
    /// ```
    pub fn broker_redelivered(&self) -> bool {
        self.redelivered
    }

    /// How many times the broker delivered it before: a quorum queue's
    /// `x-delivery-count`, else 1 if `redelivered`, else 0.
    pub(crate) fn seen(&self) -> u32 {
        let count = self
            .properties
            .headers()
            .as_ref()
            .and_then(|headers| headers.inner().get("x-delivery-count"))
            .and_then(count_of);
        match count {
            Some(n) => n,
            None => u32::from(self.redelivered),
        }
    }

    /// Sends the broker its verdict, once; later calls do nothing.
    pub(crate) fn settle(&self, verdict: Settle) {
        if self.settled.swap(true, Ordering::AcqRel) {
            return;
        }
        let settlement = Settlement {
            tag: self.delivery_tag,
            verdict,
        };
        // The mailbox holds as many settlements as the bridge has credit,
        // and every message holds one of the broker's unacked deliveries,
        // which the qos bounds by the same number, so it cannot be full. It
        // is closed once the driver is gone, and then the channel is too:
        // the broker requeues whatever was not settled.
        if self.link.tx.try_send(settlement).is_err() {
            self.link.counts.unsent();
        }
    }
}

/// `x-delivery-count` as a number, whatever integer type the broker used.
fn count_of(value: &AMQPValue) -> Option<u32> {
    let n: i64 = match value {
        AMQPValue::ShortShortInt(n) => (*n).into(),
        AMQPValue::ShortShortUInt(n) => (*n).into(),
        AMQPValue::ShortInt(n) => (*n).into(),
        AMQPValue::ShortUInt(n) => (*n).into(),
        AMQPValue::LongInt(n) => (*n).into(),
        AMQPValue::LongUInt(n) => (*n).into(),
        AMQPValue::LongLongInt(n) => *n,
        _ => return None,
    };
    Some(u32::try_from(n.max(0)).unwrap_or(u32::MAX))
}

impl Drop for Message {
    fn drop(&mut self) {
        self.settle(Settle::Requeue);
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("delivery_tag", &self.delivery_tag)
            .field("routing_key", &self.routing_key)
            .field("redelivered", &self.redelivered)
            .field("len", &self.data.len())
            .finish_non_exhaustive()
    }
}
