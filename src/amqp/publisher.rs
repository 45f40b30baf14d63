//! [`Publisher`]: publisher confirms as credit.

use super::{PublishError, PublishErrorKind};
use crate::credit::{CreditSemaphore, OwnedCredits};
use crate::rate::{Clock, RateLimiter};
use crate::runtime::Timer;
use crate::sync::Mutex;
use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Poll};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation};
use std::sync::Arc;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Pace = Box<dyn Fn() -> BoxFuture<()> + Send + Sync>;
/// A publish on its way: sent (or not yet), then confirmed; it hands the
/// payload back.
type Out = BoxFuture<(lapin::Result<Confirmation>, Vec<u8>)>;

/// The default bound on unconfirmed publishes.
pub const DEFAULT_MAX_UNCONFIRMED: usize = 64;

/// Configures a [`Publisher`]; from [`Publisher::builder`].
///
/// # Examples
///
/// ```no_run
/// use flowgate::amqp::Publisher;
/// use flowgate::rate::{Quota, RateLimiter};
/// use flowgate::runtime::Tokio;
/// use std::sync::Arc;
///
/// # async fn demo(channel: lapin::Channel) -> Result<(), lapin::Error> {
/// let limiter = Arc::new(RateLimiter::new(Quota::per_second(500)));
/// let publisher = Publisher::builder(&channel)
///     .exchange("events")
///     .max_unconfirmed(32)
///     .mandatory(true)
///     .rate_limit_with(Tokio, limiter)
///     .build()
///     .await?;
/// # drop(publisher);
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until built"]
pub struct PublisherBuilder {
    channel: Channel,
    exchange: ShortString,
    max_unconfirmed: usize,
    mandatory: bool,
    pace: Option<Pace>,
}

impl PublisherBuilder {
    /// The exchange to publish to (default `""`, the default exchange,
    /// which routes by queue name).
    pub fn exchange(mut self, exchange: &str) -> Self {
        self.exchange = exchange.into();
        self
    }

    /// At most `n` publishes wait for the broker's confirm at a time
    /// (default [`DEFAULT_MAX_UNCONFIRMED`]); more wait for credit, first
    /// come first served.
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    pub fn max_unconfirmed(mut self, n: usize) -> Self {
        assert!(n > 0, "amqp: max_unconfirmed must be at least 1");
        self.max_unconfirmed = n;
        self
    }

    /// Whether publishes are `mandatory` (default `true`): an unroutable
    /// message then comes back as [`PublishErrorKind::Returned`] instead of
    /// being silently dropped by the broker.
    pub fn mandatory(mut self, mandatory: bool) -> Self {
        self.mandatory = mandatory;
        self
    }

    /// Paces publishes with `limiter` (one cell each, waited for before the
    /// publish goes out), sleeping with
    /// [`DefaultTimer`](crate::runtime::DefaultTimer). Present with any
    /// runtime feature; [`rate_limit_with`](Self::rate_limit_with) takes
    /// any timer.
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "tokio", feature = "smol", feature = "async-std")))
    )]
    pub fn rate_limit<C: Clock + 'static>(self, limiter: Arc<RateLimiter<C>>) -> Self {
        self.rate_limit_with(crate::runtime::DefaultTimer::new(), limiter)
    }

    /// Paces publishes with `limiter`, sleeping with `timer`.
    pub fn rate_limit_with<C: Clock + 'static, T: Timer>(
        mut self,
        timer: T,
        limiter: Arc<RateLimiter<C>>,
    ) -> Self {
        let timer = Arc::new(timer);
        self.pace = Some(Box::new(move || {
            let limiter = Arc::clone(&limiter);
            let timer = Arc::clone(&timer);
            Box::pin(async move { limiter.until_ready_with(&*timer).await })
        }));
        self
    }

    /// Puts the channel in confirm mode (`confirm.select`) and builds the
    /// publisher. The channel should be the publisher's own.
    ///
    /// # Errors
    ///
    /// The broker's error if `confirm.select` fails.
    ///
    /// # Cancel safety
    ///
    /// Cancelling may leave the channel in confirm mode, which is harmless.
    pub async fn build(self) -> Result<Publisher, lapin::Error> {
        self.channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher {
            inner: Arc::new(Inner {
                channel: self.channel,
                exchange: self.exchange,
                options: BasicPublishOptions {
                    mandatory: self.mandatory,
                    immediate: false,
                },
                credits: Arc::new(CreditSemaphore::new(self.max_unconfirmed)),
                max_unconfirmed: self.max_unconfirmed,
                pace: self.pace,
                detached: Mutex::new(Vec::new()),
            }),
        })
    }
}

/// Publishes to RabbitMQ with publisher confirms as credit: at most
/// `max_unconfirmed` publishes are out unconfirmed at a time, and each
/// `publish` ends when the broker confirms it. A cheap handle: clones share
/// the bound; publish from many tasks to keep the bound full.
///
/// # Examples
///
/// ```no_run
/// use flowgate::amqp::Publisher;
/// use lapin::BasicProperties;
///
/// # async fn demo(channel: lapin::Channel) -> Result<(), Box<dyn std::error::Error>> {
/// let publisher = Publisher::builder(&channel).max_unconfirmed(100).build().await?;
/// publisher.publish("jobs", b"work".to_vec(), BasicProperties::default()).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

struct Inner {
    channel: Channel,
    exchange: ShortString,
    options: BasicPublishOptions,
    credits: Arc<CreditSemaphore>,
    max_unconfirmed: usize,
    pace: Option<Pace>,
    /// Publishes whose future was dropped once the message could have gone
    /// out: each keeps its credit until its confirm comes, driven by the
    /// next publishes.
    detached: Mutex<Vec<(Out, OwnedCredits)>>,
}

impl Publisher {
    /// A builder publishing on `channel`.
    pub fn builder(channel: &Channel) -> PublisherBuilder {
        PublisherBuilder {
            channel: channel.clone(),
            exchange: ShortString::from(""),
            max_unconfirmed: DEFAULT_MAX_UNCONFIRMED,
            mandatory: true,
            pace: None,
        }
    }

    /// Publishes `payload` with `routing_key` and waits for the broker's
    /// confirm: first for credit (FIFO), then for the rate limiter if any.
    ///
    /// # Errors
    ///
    /// With the payload handed back: [`PublishErrorKind::Nacked`] or
    /// [`PublishErrorKind::Returned`] from the broker,
    /// [`PublishErrorKind::Channel`] if the channel fails,
    /// [`PublishErrorKind::Closed`] after [`close`](Self::close).
    ///
    /// # Cancel safety
    ///
    /// Cancelled while waiting for credit or for the rate limiter, nothing
    /// is published and the payload is dropped. Cancelled later, the
    /// message may go out and be stored; its credit stays taken until the
    /// broker's confirm (or the channel's failure) comes, observed by later
    /// publishes on this publisher, so the bound holds either way.
    pub async fn publish(
        &self,
        routing_key: &str,
        payload: Vec<u8>,
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        let exchange = self.inner.exchange.clone();
        self.send(exchange, routing_key, payload, properties).await
    }

    /// [`publish`](Self::publish) to `exchange` rather than the
    /// publisher's own: one publisher (one credit, one channel) can serve
    /// several exchanges.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish); an exchange that does not exist
    /// closes the channel ([`PublishErrorKind::Channel`], `NOT_FOUND`).
    ///
    /// # Cancel safety
    ///
    /// As [`publish`](Self::publish).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(publisher: flowgate::amqp::Publisher) -> Result<(), flowgate::amqp::PublishError> {
    /// use lapin::BasicProperties;
    ///
    /// publisher
    ///     .publish_to("audit", "user.created", b"{}".to_vec(), BasicProperties::default())
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn publish_to(
        &self,
        exchange: &str,
        routing_key: &str,
        payload: Vec<u8>,
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        self.send(
            ShortString::from(exchange),
            routing_key,
            payload,
            properties,
        )
        .await
    }

    /// The body of [`publish`](Self::publish) and
    /// [`publish_to`](Self::publish_to); cancel behaviour as theirs.
    async fn send(
        &self,
        exchange: ShortString,
        routing_key: &str,
        payload: Vec<u8>,
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        let inner = &self.inner;
        let mut acquire = Arc::clone(&inner.credits).acquire_owned(1);
        let credits = poll_fn(|cx| {
            inner.reap(cx);
            Pin::new(&mut acquire).poll(cx)
        })
        .await;
        let Ok(credits) = credits else {
            return Err(PublishError::new(PublishErrorKind::Closed, payload));
        };
        if let Some(pace) = &inner.pace {
            pace().await;
        }
        // From here the message may go out at any poll: the send and the
        // confirm are one future that a dropped publish leaves, with its
        // credit, to the next publishes to finish.
        let channel = inner.channel.clone();
        let options = inner.options;
        let routing_key = ShortString::from(routing_key);
        let out: Out = Box::pin(async move {
            let sent = channel
                .basic_publish(exchange, routing_key, options, &payload, properties)
                .await;
            let confirmed = match sent {
                Ok(confirm) => confirm.await,
                Err(err) => Err(err),
            };
            (confirmed, payload)
        });
        let mut pending = Pending {
            inner,
            held: Some((out, credits)),
        };
        let (confirmed, payload) = poll_fn(|cx| pending.poll(cx)).await;
        let kind = match confirmed {
            Ok(Confirmation::Ack(None) | Confirmation::NotRequested) => return Ok(()),
            Ok(Confirmation::Ack(Some(returned))) => PublishErrorKind::Returned {
                reply_code: returned.reply_code,
                reply_text: returned.reply_text.to_string(),
            },
            Ok(Confirmation::Nack(_)) => PublishErrorKind::Nacked,
            Err(err) => PublishErrorKind::Channel(err),
        };
        Err(PublishError::new(kind, payload))
    }

    /// Publishes awaiting their confirm (or their credit back), counting
    /// cancelled publishes whose confirm has not been reaped yet.
    pub fn unconfirmed(&self) -> usize {
        self.inner.max_unconfirmed
            - self
                .inner
                .credits
                .available()
                .min(self.inner.max_unconfirmed)
    }

    /// The bound on unconfirmed publishes.
    pub fn max_unconfirmed(&self) -> usize {
        self.inner.max_unconfirmed
    }

    /// Refuses new publishes: those waiting for credit, and later ones, end
    /// with [`PublishErrorKind::Closed`]. Publishes already out still get
    /// their confirm.
    pub fn close(&self) {
        self.inner.credits.close();
    }
}

impl Inner {
    /// Polls the detached confirms, returning the credit of those done.
    ///
    /// The confirms are taken out and polled with the lock released: a
    /// poll may drop a waker, and a finished confirm's credit going back
    /// wakes a waiting publish (user code, never run under a flowgate
    /// lock). Those still pending are put back.
    fn reap(&self, cx: &mut Context<'_>) {
        let mut held = core::mem::take(&mut *self.detached.lock());
        if held.is_empty() {
            return;
        }
        held.retain_mut(|(out, _)| out.as_mut().poll(cx).is_pending());
        if !held.is_empty() {
            self.detached.lock().append(&mut held);
        }
    }
}

/// A publish going out and awaiting its confirm; dropped early, it leaves
/// the rest, with its credit, to [`Inner::reap`].
struct Pending<'a> {
    inner: &'a Inner,
    held: Option<(Out, OwnedCredits)>,
}

impl Pending<'_> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<(lapin::Result<Confirmation>, Vec<u8>)> {
        let Some((out, _)) = self.held.as_mut() else {
            unreachable!("amqp: publish polled after it completed");
        };
        let out = out.as_mut().poll(cx);
        if out.is_ready() {
            // The credit goes back now.
            self.held = None;
        }
        out
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            self.inner.detached.lock().push(held);
        }
    }
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("exchange", &self.inner.exchange)
            .field("max_unconfirmed", &self.inner.max_unconfirmed)
            .field("unconfirmed", &self.unconfirmed())
            .finish_non_exhaustive()
    }
}
