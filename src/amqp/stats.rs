//! [`BrokerStats`]: which settlements reached the broker's channel.

use crate::sync::{AtomicU64, Ordering};

/// Where a [`ConsumerBridge`](super::ConsumerBridge)'s settlements went:
/// from [`ConsumerBridge::broker_stats`](super::ConsumerBridge::broker_stats).
///
/// The local dispatcher's [`stats`](super::ConsumerBridge::stats) count
/// what workers did (`acked` includes an ack made after the channel died);
/// these count what became a frame on the channel, and what went nowhere.
/// "Sent" means queued on the open channel: a frame queued just before a
/// connection loss may still not reach the broker, which then redelivers
/// the message, flagged. Once every delivery is settled,
/// `acks_sent + nacks_sent + unsent` is the dispatcher's `published`.
///
/// # Examples
///
/// ```no_run
/// # fn demo(bridge: flowgate::amqp::ConsumerBridge) {
/// let s = bridge.broker_stats();
/// println!("{} acks on the wire, {} went nowhere", s.acks_sent, s.unsent);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerStats {
    /// `basic.ack` frames sent on the channel.
    pub acks_sent: u64,
    /// `basic.nack` frames (requeue or not) sent on the channel.
    pub nacks_sent: u64,
    /// Settlements that went nowhere: made after the channel died or the
    /// driver ended (the broker requeues those messages when the channel
    /// closes).
    pub unsent: u64,
}

/// The counters behind [`BrokerStats`].
#[derive(Default)]
pub(crate) struct Counts {
    acks_sent: AtomicU64,
    nacks_sent: AtomicU64,
    unsent: AtomicU64,
}

impl Counts {
    pub(crate) fn sent(&self, ack: bool) {
        let counter = if ack {
            &self.acks_sent
        } else {
            &self.nacks_sent
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn unsent(&self) {
        self.unsent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> BrokerStats {
        BrokerStats {
            acks_sent: self.acks_sent.load(Ordering::Relaxed),
            nacks_sent: self.nacks_sent.load(Ordering::Relaxed),
            unsent: self.unsent.load(Ordering::Relaxed),
        }
    }
}
