//! Errors of the RabbitMQ bridge.

use core::fmt;

/// Why a [`ConsumerBridge`](super::ConsumerBridge) could not start or
/// stopped.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BridgeError {
    /// `basic.qos` or `basic.consume` failed (no such queue, no access,
    /// channel closed): the bridge did not start.
    Setup(lapin::Error),
    /// The channel or its connection was lost while running; the error is
    /// the broker's own reason where it sent one (the close frame, such as
    /// `CONNECTION_FORCED`), not a secondary "invalid channel state". No ack
    /// or nack is sent on the dead channel; once the connection is closed,
    /// the broker requeues every delivery that was not settled and
    /// redelivers it, flagged `redelivered`. (With lapin's auto-recover
    /// enabled, lapin may re-create the consumer on a recovered channel
    /// that nobody reads: do not combine it with this version of the
    /// bridge.) The local dispatcher is closed: workers drain what they
    /// hold, and their acks of those go nowhere.
    Lost(lapin::Error),
    /// [`run`](super::ConsumerBridge::run) was called a second time; the
    /// first driver is the one that runs.
    AlreadyRunning,
    /// The broker cancelled the consumer (its queue was deleted, or a
    /// quorum queue's leader moved away, for instance): the driver ended
    /// after the workers settled what they held, on a channel still open.
    /// Unlike [`close`](super::ConsumerBridge::close), nobody here asked
    /// for it.
    Cancelled,
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Setup(err) => write!(f, "amqp bridge could not start consuming: {err}"),
            Self::Lost(err) => write!(
                f,
                "amqp bridge lost its channel (unsettled deliveries go back to the broker): {err}"
            ),
            Self::AlreadyRunning => f.write_str("amqp bridge is already running"),
            Self::Cancelled => f.write_str("amqp bridge's consumer was cancelled by the broker"),
        }
    }
}

impl std::error::Error for BridgeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Setup(err) | Self::Lost(err) => Some(err),
            Self::AlreadyRunning | Self::Cancelled => None,
        }
    }
}

/// Why a publish was not confirmed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PublishErrorKind {
    /// The broker nacked it (it could not store it).
    Nacked,
    /// The broker returned it as unroutable (a mandatory publish that no
    /// queue is bound for).
    Returned {
        /// The AMQP reply code, such as 312 (NO_ROUTE).
        reply_code: u16,
        /// The broker's explanation.
        reply_text: String,
    },
    /// The channel or connection failed before the broker confirmed it: it
    /// may or may not have been stored.
    Channel(lapin::Error),
    /// The publisher was closed.
    Closed,
}

/// A publish the broker did not confirm, with its payload handed back.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(publisher: flowgate::amqp::Publisher) {
/// use lapin::BasicProperties;
///
/// if let Err(err) = publisher.publish("jobs", b"hi".to_vec(), BasicProperties::default()).await {
///     eprintln!("{err}");
///     let payload: Vec<u8> = err.into_payload(); // try again later
/// #   drop(payload);
/// }
/// # }
/// ```
pub struct PublishError {
    kind: PublishErrorKind,
    payload: Vec<u8>,
}

impl PublishError {
    pub(crate) fn new(kind: PublishErrorKind, payload: Vec<u8>) -> Self {
        Self { kind, payload }
    }

    /// Why it failed.
    pub fn kind(&self) -> &PublishErrorKind {
        &self.kind
    }

    /// The payload that was not confirmed.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Takes the payload back.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }
}

impl fmt::Debug for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishError")
            .field("kind", &self.kind)
            .field("len", &self.payload.len())
            .finish()
    }
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            PublishErrorKind::Nacked => f.write_str("the broker nacked the publish"),
            PublishErrorKind::Returned {
                reply_code,
                reply_text,
            } => write!(
                f,
                "the broker returned the publish: {reply_code} {reply_text}"
            ),
            PublishErrorKind::Channel(err) => {
                write!(
                    f,
                    "the channel failed before the publish was confirmed: {err}"
                )
            }
            PublishErrorKind::Closed => f.write_str("the publisher is closed"),
        }
    }
}

impl std::error::Error for PublishError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            PublishErrorKind::Channel(err) => Some(err),
            _ => None,
        }
    }
}
