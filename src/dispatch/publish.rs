//! The publish future.

use super::{PublishError, Publisher, TryPublishError};
use crate::waitlist::Key;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};

#[derive(Debug, Clone, Copy)]
enum State {
    Idle,
    /// Queued at `Key` among waiting publishers.
    Waiting(Key),
    Done,
}

/// Future of [`Publisher::publish`].
///
/// # Cancel safety
///
/// Dropping it before it completes drops the message unsent; if a place in
/// the backlog had been granted to it, the place passes to the next waiting
/// publisher, who is woken.
///
/// # Examples
///
/// ```
/// use flowgate::dispatch::Dispatcher;
/// use futures::FutureExt;
///
/// let queue = Dispatcher::<u32>::builder().capacity(1).build();
/// let publisher = queue.publisher();
/// publisher.try_publish(1).unwrap();
/// // Full: the future waits (here: polled once, then dropped with its message).
/// assert!(publisher.publish(2).now_or_never().is_none());
/// assert_eq!(queue.stats().published, 1);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Publish<'a, T> {
    publisher: &'a Publisher<T>,
    msg: Option<T>,
    state: State,
}

// The message is never pinned: it is moved in and out by value.
impl<T> Unpin for Publish<'_, T> {}

impl<'a, T> Publish<'a, T> {
    pub(super) fn new(publisher: &'a Publisher<T>, msg: T) -> Self {
        Self {
            publisher,
            msg: Some(msg),
            state: State::Idle,
        }
    }
}

impl<T> Future for Publish<'_, T> {
    type Output = Result<(), PublishError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Spend the task's cooperative budget (tokio feature), so a loop of
        // publishes that always find room still lets other tasks run.
        let budget = ready!(crate::coop::poll_proceed(cx));
        let this = &mut *self;
        let shared = &this.publisher.shared;
        let poll = match this.state {
            State::Idle => {
                let Some(msg) = this.msg.take() else {
                    unreachable!("dispatch: publish without a message")
                };
                shared.run(|core, fx| match core.try_publish(msg, &mut fx.wakes) {
                    Ok(()) => Poll::Ready(Ok(())),
                    Err(TryPublishError::Closed(msg)) => Poll::Ready(Err(PublishError(msg))),
                    Err(TryPublishError::Full(msg)) => {
                        this.msg = Some(msg);
                        this.state = State::Waiting(core.wait_publish(cx.waker()));
                        Poll::Pending
                    }
                })
            }
            State::Waiting(key) => shared.run(|core, fx| {
                core.poll_publish(key, &mut this.msg, cx.waker(), fx)
                    .map_err(PublishError)
            }),
            State::Done => panic!("publish future polled after completion"),
        };
        if poll.is_ready() {
            budget.made_progress();
            this.state = State::Done;
        }
        poll
    }
}

/// A timed publish gives its message back when the deadline passes; the
/// drop that follows leaves the wait queue and passes on any room granted.
impl<T> crate::timeout::Abandon for Publish<'_, T> {
    type Residue = T;

    fn abandon(mut self: Pin<&mut Self>) -> T {
        self.msg
            .take()
            .expect("a pending publish holds its message")
    }
}

impl<T> Drop for Publish<'_, T> {
    fn drop(&mut self) {
        if let State::Waiting(key) = self.state {
            self.state = State::Done;
            self.publisher
                .shared
                .run(|core, fx| core.cancel_publish(key, fx));
        }
    }
}

impl<T> fmt::Debug for Publish<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publish")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
