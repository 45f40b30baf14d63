//! The generic timeout behind every `*_timeout` method.
//!
//! [`Timeout`] races an operation future against a sleep. The operation is
//! polled first, so one that is ready when the deadline passes wins. When
//! the sleep fires first, the operation is *abandoned*: [`Abandon::abandon`]
//! withdraws it and gives back what it carried (the message of a send,
//! nothing for an acquire or a receive), then the operation future is
//! dropped in place. Its own cancellation path (the drop) hands on whatever
//! arrived for it after its last poll, to the next waiter: a credit, a slot
//! or a message that lands just as the timeout fires is neither lost nor
//! counted twice, because exactly one of "the operation completed" (polled
//! `Ready`) and "the operation was dropped" (drop refunds) happens.
//!
//! A public `*_timeout` future is a thin wrapper that maps the result:
//! `Ok(output)` is the operation's own result, `Err(residue)` is the
//! timeout, carrying what [`Abandon::abandon`] gave back.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// An operation that a timeout can withdraw.
pub(crate) trait Abandon: Future {
    /// What the operation gives back when withdrawn (e.g. the unsent
    /// message).
    type Residue;

    /// Withdraws the operation after a poll that returned `Pending` and
    /// returns what it carried. The future is dropped right after, so its
    /// `Drop` may do the rest of the cancellation (refunds, passing a
    /// notification on); `abandon` only needs to take out what is handed
    /// back.
    fn abandon(self: Pin<&mut Self>) -> Self::Residue;
}

pin_project_lite::pin_project! {
    /// `op` raced against `sleep`; see the module docs.
    #[derive(Debug)]
    pub(crate) struct Timeout<F, S> {
        // `None` once finished: the operation is dropped as soon as it
        // completes or is abandoned.
        #[pin]
        op: Option<F>,
        // `None` once finished, so a timer registration ends with the
        // operation rather than with the future.
        #[pin]
        sleep: Option<S>,
    }
}

impl<F, S> Timeout<F, S> {
    /// Races `op` against `sleep` (already started: its deadline counts
    /// from when it was created).
    pub(crate) fn new(op: F, sleep: S) -> Self {
        Self {
            op: Some(op),
            sleep: Some(sleep),
        }
    }
}

impl<F: Abandon, S: Future<Output = ()>> Future for Timeout<F, S> {
    type Output = Result<F::Output, F::Residue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(op) = this.op.as_mut().as_pin_mut() else {
            panic!("timeout future polled after completion");
        };
        if let Poll::Ready(output) = op.poll(cx) {
            this.op.set(None);
            this.sleep.set(None);
            return Poll::Ready(Ok(output));
        }
        if let Some(sleep) = this.sleep.as_mut().as_pin_mut() {
            if sleep.poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        this.sleep.set(None);
        let residue = match this.op.as_mut().as_pin_mut() {
            Some(op) => op.abandon(),
            None => unreachable!("checked above"),
        };
        // Drop the operation now: its drop returns whatever was granted to
        // it after its last poll.
        this.op.set(None);
        Poll::Ready(Err(residue))
    }
}
