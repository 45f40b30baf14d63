//! VERIFICATION bug 5 (tokio #2237: memory grew when an acquire was polled
//! and dropped over and over) for every waiting future the other alloc
//! tests do not already cover: a receive of the mailbox and of a consumer,
//! an owned acquire and reservation, a sink's `poll_ready`, the timed forms
//! and the rate limiter's wait. Once warm, a cancelled wait allocates
//! nothing. (A counting global allocator: this file is its own binary.)

mod support;

use flowgate::credit::CreditSemaphore;
use flowgate::dispatch::{Dispatcher, Subscription};
use flowgate::mailbox;
use flowgate::rate::{ManualClock, Quota, RateLimiter};
use flowgate::runtime::Timer;
use futures::Sink;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;
use support::alloc::{Counting, allocations};

#[global_allocator]
static GLOBAL: Counting = Counting;

const ROUNDS: usize = if cfg!(miri) { 100 } else { 300_000 };

/// A timer whose sleeps never end and cost nothing.
struct Never;

impl Timer for Never {
    type Sleep = std::future::Pending<()>;
    fn sleep(&self, _: Duration) -> Self::Sleep {
        std::future::pending()
    }
}

/// Runs `cycle` to warm up, then `ROUNDS` times more, and asserts those
/// allocated nothing.
fn no_growth(what: &str, mut cycle: impl FnMut(&mut Context<'_>)) {
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..100 {
        cycle(&mut cx);
    }
    let before = allocations();
    for _ in 0..ROUNDS {
        cycle(&mut cx);
    }
    assert_eq!(allocations() - before, 0, "{what}");
}

fn pending<F: Future>(fut: F, cx: &mut Context<'_>) {
    let mut fut = pin!(fut);
    assert!(fut.as_mut().poll(cx).is_pending());
}

#[test]
fn cancelled_mailbox_receives_allocate_nothing_once_warm() {
    let (_tx, mut rx) = mailbox::bounded::<u64>(4);
    no_growth("recv", |cx| pending(rx.recv(), cx));
    let mut buf = Vec::with_capacity(4);
    no_growth("recv_many", |cx| pending(rx.recv_many(&mut buf, 4), cx));
    no_growth("recv_timeout_with", |cx| {
        pending(rx.recv_timeout_with(&Never, Duration::from_secs(1)), cx)
    });
}

#[test]
fn cancelled_owned_and_timed_waits_for_room_allocate_nothing_once_warm() {
    let (tx, _rx) = mailbox::bounded::<u64>(1);
    tx.try_send(0).unwrap();
    no_growth("reserve_owned", |cx| {
        pending(tx.clone().reserve_owned(), cx)
    });
    no_growth("send_timeout_with", |cx| {
        pending(tx.send_timeout_with(&Never, 1, Duration::from_secs(1)), cx)
    });
    let mut sink = tx.clone().into_sink();
    no_growth("sink poll_ready", |cx| {
        assert!(Pin::new(&mut sink).poll_ready(cx).is_pending());
        // Closing gives the place in line up; a new sink takes it again.
        assert!(Pin::new(&mut sink).poll_close(cx).is_ready());
        sink = tx.clone().into_sink();
    });
}

#[test]
fn cancelled_acquires_allocate_nothing_once_warm() {
    let sem = Arc::new(CreditSemaphore::new(0));
    no_growth("acquire_owned", |cx| {
        pending(Arc::clone(&sem).acquire_owned(1), cx)
    });
    no_growth("acquire_timeout_with", |cx| {
        pending(
            sem.acquire_timeout_with(&Never, 1, Duration::from_secs(1)),
            cx,
        )
    });
}

#[test]
fn cancelled_consumer_receives_and_publishes_allocate_nothing_once_warm() {
    let queue = Dispatcher::<u64>::builder().capacity(1).build();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    no_growth("consumer recv", |cx| pending(consumer.recv(), cx));
    no_growth("consumer recv_timeout_with", |cx| {
        pending(
            consumer.recv_timeout_with(&Never, Duration::from_secs(1)),
            cx,
        )
    });
    let publisher = queue.publisher();
    publisher.try_publish(0).unwrap(); // to the consumer
    publisher.try_publish(1).unwrap(); // the backlog is full
    no_growth("publish_timeout_with", |cx| {
        pending(
            publisher.publish_timeout_with(&Never, 2, Duration::from_secs(1)),
            cx,
        )
    });
}

#[test]
fn cancelled_rate_waits_allocate_nothing() {
    let limiter = RateLimiter::with_clock(Quota::per_second(1).burst(1), ManualClock::new());
    limiter.check().unwrap();
    no_growth("until_ready_with", |cx| {
        pending(limiter.until_ready_with(&Never), cx)
    });
    no_growth("until_n_ready_with", |cx| {
        pending(limiter.until_n_ready_with(&Never, 1), cx)
    });
    // Each was the latest reservation: refunded, nothing forfeited.
    assert!(limiter.check().is_err());
}
