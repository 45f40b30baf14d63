//! [`Run`]: the bridge's driver, moving broker deliveries in and
//! settlements out.

use super::{BridgeError, Link, Message, Settlement};
use crate::dispatch::{Dispatcher, Settle};
use crate::mailbox;
use crate::sync::{AtomicBool, Mutex, Ordering};
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use futures_core::Stream;
use lapin::Channel;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicNackOptions};
use lapin::types::ShortString;
use std::sync::Arc;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Items handled per poll before the driver yields to its executor.
const BUDGET: usize = 128;

/// What the first driver takes.
pub(crate) struct Parts {
    pub(crate) consumer: lapin::Consumer,
    pub(crate) settlements: mailbox::Receiver<Settlement>,
}

/// Shared by the bridge's handles and its driver.
pub(crate) struct Control {
    /// Shared with every message: settlements' way in, and the counts.
    pub(crate) link: Arc<Link>,
    closing: AtomicBool,
    waker: Mutex<Option<Waker>>,
    parts: Mutex<Option<Parts>>,
}

impl Control {
    pub(crate) fn new(parts: Parts, link: Arc<Link>) -> Self {
        Self {
            link,
            closing: AtomicBool::new(false),
            waker: Mutex::new(None),
            parts: Mutex::new(Some(parts)),
        }
    }

    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Release);
        let waker = self.waker.lock().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Stores the driver's waker. A replaced waker is dropped after the
    /// lock is released: its drop is user code (it may own a handle of this
    /// bridge and re-enter it).
    fn register(&self, waker: &Waker) {
        let replaced = {
            let mut slot = self.waker.lock();
            match &*slot {
                Some(old) if old.will_wake(waker) => None,
                _ => slot.replace(waker.clone()),
            }
        };
        drop(replaced);
    }
}

/// The driver of a [`ConsumerBridge`](super::ConsumerBridge), from
/// [`run`](super::ConsumerBridge::run): spawn it on the runtime lapin runs
/// on. It takes broker deliveries into the local dispatcher and sends each
/// settlement (`basic.ack` / `basic.nack`) back, pipelined.
///
/// # Errors
///
/// [`BridgeError::Lost`] when the channel or connection dies (the local
/// dispatcher is closed and nothing more is sent), carrying the broker's
/// own reason where it sent one; [`BridgeError::Cancelled`] when the broker
/// cancelled the consumer (the queue was deleted) and the workers have
/// settled what they held; [`BridgeError::AlreadyRunning`] for a second
/// driver.
///
/// # Cancel safety
///
/// Dropping the driver stops the bridge where it is: the local dispatcher
/// is closed, settlements not yet sent are never sent, and the broker
/// requeues those deliveries when the channel closes (close it). Deliveries
/// already sent stay sent.
#[must_use = "the bridge moves nothing unless its driver is polled"]
pub struct Run {
    driver: Option<Driver>,
    done: bool,
}

struct Driver {
    control: Arc<Control>,
    dispatcher: Dispatcher<Message>,
    channel: Channel,
    tag: ShortString,
    consumer: Option<lapin::Consumer>,
    settlements: mailbox::Receiver<Settlement>,
    link: Arc<Link>,
    cancel: Cancel,
    /// Deliveries taken in and not yet settled.
    outstanding: usize,
    /// The broker, not this process, ended the consumer.
    broker_cancelled: bool,
    /// A settlement or the cancel failed: the channel is dead; waiting for
    /// the consumer stream's own error (`poll_lost`).
    lost: Option<lapin::Error>,
}

impl Run {
    pub(crate) fn new(
        control: Arc<Control>,
        dispatcher: Dispatcher<Message>,
        channel: Channel,
        tag: ShortString,
    ) -> Self {
        let parts = control.parts.lock().take();
        let link = Arc::clone(&control.link);
        let driver = parts.map(|parts| Driver {
            control,
            link,
            dispatcher,
            channel,
            tag,
            consumer: Some(parts.consumer),
            settlements: parts.settlements,
            cancel: Cancel::Idle,
            outstanding: 0,
            broker_cancelled: false,
            lost: None,
        });
        Self {
            driver,
            done: false,
        }
    }
}

impl Future for Run {
    type Output = Result<(), BridgeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(!self.done, "amqp: Run polled after it completed");
        let Some(driver) = self.driver.as_mut() else {
            self.done = true;
            return Poll::Ready(Err(BridgeError::AlreadyRunning));
        };
        let out = driver.poll(cx);
        if out.is_ready() {
            self.done = true;
            if let Some(driver) = self.driver.take() {
                driver.dispatcher.close();
            }
        }
        out
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.take() {
            driver.dispatcher.close();
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Settlements that arrived and will never be sent.
        while self.settlements.try_recv().is_ok() {
            self.link.counts.unsent();
        }
    }
}

impl Driver {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BridgeError>> {
        self.control.register(cx.waker());
        let mut budget = BUDGET;
        loop {
            if self.lost.is_some() {
                return self.poll_lost(cx).map(Err);
            }
            let mut progress = false;
            // Settlements out first: they free broker credit.
            while budget > 0 {
                let Poll::Ready(Some(settlement)) = self.settlements.poll_recv(cx) else {
                    break;
                };
                self.outstanding -= 1;
                let ack = settlement.verdict == Settle::Ack;
                if let Err(err) = send(&self.channel, settlement) {
                    self.link.counts.unsent();
                    // The channel is closing: the broker's own reason comes
                    // on the consumer stream (`poll_lost`).
                    self.lost = Some(err);
                    break;
                }
                self.link.counts.sent(ack);
                budget -= 1;
                progress = true;
            }
            if self.lost.is_some() {
                continue;
            }
            if let Err(err) = self.poll_cancel(cx) {
                self.lost = Some(err);
                continue;
            }
            // Deliveries in.
            while budget > 0 {
                let Some(consumer) = self.consumer.as_mut() else {
                    break;
                };
                match Pin::new(consumer).poll_next(cx) {
                    Poll::Ready(Some(Ok(delivery))) => {
                        let msg = Message::new(delivery, Arc::clone(&self.link));
                        let seen = msg.seen();
                        self.outstanding += 1;
                        // Full cannot happen (the backlog holds the credit);
                        // closed means shutting down: either way the
                        // message's drop requeues it on the broker.
                        let _ = self.dispatcher.try_publish_seen(msg, seen);
                        budget -= 1;
                        progress = true;
                    }
                    Poll::Ready(Some(Err(err))) => {
                        return Poll::Ready(Err(BridgeError::Lost(err)));
                    }
                    Poll::Ready(None) => {
                        // Cancelled, by us or by the broker: no more
                        // deliveries; the workers drain what is here. Not
                        // asked by us and on an open channel: the broker's.
                        self.broker_cancelled = matches!(self.cancel, Cancel::Idle)
                            && self.channel.status().connected();
                        self.consumer = None;
                        self.dispatcher.close();
                        progress = true;
                    }
                    Poll::Pending => break,
                }
            }
            if self.consumer.is_none()
                && !matches!(self.cancel, Cancel::Sending(_))
                && self.outstanding == 0
            {
                return Poll::Ready(if self.broker_cancelled {
                    Err(BridgeError::Cancelled)
                } else {
                    Ok(())
                });
            }
            if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Once a settlement or the cancel failed (`lost`), waits for the
    /// consumer stream's own error: the broker's close reason, which wins
    /// over that secondary one ("invalid channel state: Closing"). lapin
    /// marks the channel closing before it hands the error to the
    /// consumers, so it is at most a wake-up away; if the stream ends or
    /// yields another delivery instead, the secondary error is reported.
    /// A delivery taken here is dropped unsettled: the channel is dead,
    /// the broker redelivers it.
    fn poll_lost(&mut self, cx: &mut Context<'_>) -> Poll<BridgeError> {
        let Some(lost) = self.lost.take() else {
            unreachable!("amqp: poll_lost without a loss");
        };
        let Some(consumer) = self.consumer.as_mut() else {
            return Poll::Ready(BridgeError::Lost(lost));
        };
        match Pin::new(consumer).poll_next(cx) {
            Poll::Ready(Some(Err(cause))) => Poll::Ready(BridgeError::Lost(cause)),
            Poll::Ready(Some(Ok(_)) | None) => Poll::Ready(BridgeError::Lost(lost)),
            Poll::Pending => {
                self.lost = Some(lost);
                Poll::Pending
            }
        }
    }

    /// Starts `basic.cancel` once closing is asked (by
    /// [`close`](super::ConsumerBridge::close) or by closing the
    /// dispatcher), and polls it.
    fn poll_cancel(&mut self, cx: &mut Context<'_>) -> Result<(), lapin::Error> {
        let asked = self.control.closing() || self.dispatcher.is_closed();
        if asked && self.consumer.is_some() && matches!(self.cancel, Cancel::Idle) {
            // What the broker sends until it confirms is still taken in and
            // drained by the workers.
            let channel = self.channel.clone();
            let tag = self.tag.clone();
            self.cancel = Cancel::Sending(Box::pin(async move {
                channel
                    .basic_cancel(tag, BasicCancelOptions::default())
                    .await
            }));
        }
        if let Cancel::Sending(cancel) = &mut self.cancel {
            if let Poll::Ready(result) = cancel.as_mut().poll(cx) {
                self.cancel = Cancel::Sent;
                result?;
            }
        }
        Ok(())
    }
}

/// The broker consumer's cancellation.
enum Cancel {
    Idle,
    Sending(BoxFuture<lapin::Result<()>>),
    Sent,
}

/// Sends `basic.ack` or `basic.nack` for one settlement: queues its frame
/// on the channel, pipelined behind the ones before it, without waiting for
/// it to be written (a failure after that shows on the consumer stream).
///
/// lapin's `basic_ack` / `basic_nack` check that the channel is open and
/// queue the frame when first polled, before they wait for the write: that
/// one poll is all it takes, and it spares a wake-up and an allocation per
/// message. An error there (the channel is no longer open) means nothing
/// was sent.
fn send(channel: &Channel, settlement: Settlement) -> Result<(), lapin::Error> {
    let Settlement { tag, verdict } = settlement;
    let mut cx = Context::from_waker(Waker::noop());
    let polled = match verdict {
        Settle::Ack => {
            let mut ack = core::pin::pin!(channel.basic_ack(tag, BasicAckOptions::default()));
            ack.as_mut().poll(&mut cx)
        }
        Settle::Requeue | Settle::Reject => {
            let nack = BasicNackOptions {
                multiple: false,
                requeue: verdict == Settle::Requeue,
            };
            let mut nack = core::pin::pin!(channel.basic_nack(tag, nack));
            nack.as_mut().poll(&mut cx)
        }
    };
    match polled {
        Poll::Ready(Err(err)) => Err(err),
        Poll::Ready(Ok(())) | Poll::Pending => Ok(()),
    }
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Run");
        if let Some(driver) = &self.driver {
            out.field("outstanding", &driver.outstanding)
                .field("consuming", &driver.consumer.is_some());
        }
        out.finish_non_exhaustive()
    }
}
