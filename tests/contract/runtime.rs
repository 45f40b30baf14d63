//! `flowgate::runtime` as DESIGN.md §3 states it.

use super::*;
use flowgate::credit::{AcquireTimeoutError, CreditSemaphore};
use flowgate::dispatch::{Dispatcher, Subscription};
use flowgate::mailbox::{self, RecvTimeoutError, SendTimeoutError};
use flowgate::rate::{Quota, RateLimiter};
use flowgate::runtime::{ManualClock, Timer};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A user's own timer, written exactly to the trait in the contract: a
/// sleep that completes when the test says so (here: at once, so every
/// timeout fires on its first poll after the operation is pending).
struct Instant0;

impl Timer for Instant0 {
    type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;
    fn sleep(&self, _d: Duration) -> Self::Sleep {
        Box::pin(async {})
    }
}

#[test]
fn the_with_forms_take_any_timer() {
    let timer = Instant0;
    let d = Duration::from_secs(1);
    futures::executor::block_on(async {
        let sem = CreditSemaphore::new(0);
        assert_eq!(
            sem.acquire_timeout_with(&timer, 1, d).await.unwrap_err(),
            AcquireTimeoutError::Timeout
        );
        let (tx, mut rx) = mailbox::bounded::<u32>(1);
        tx.try_send(1).unwrap();
        match tx.send_timeout_with(&timer, 2, d).await {
            Err(SendTimeoutError::Timeout(2)) => {}
            other => panic!("expected Timeout(2), got {:?}", other.is_ok()),
        }
        assert_eq!(rx.recv_timeout_with(&timer, d).await, Ok(1));
        assert_eq!(
            rx.recv_timeout_with(&timer, d).await,
            Err(RecvTimeoutError::Timeout)
        );
        let queue = Dispatcher::<u32>::builder().capacity(1).build();
        let publisher = queue.publisher();
        publisher.try_publish(1).unwrap();
        assert_eq!(
            publisher
                .publish_timeout_with(&timer, 2, d)
                .await
                .unwrap_err()
                .into_inner(),
            2
        );
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        consumer.recv_timeout_with(&timer, d).await.unwrap().ack();
        assert!(consumer.recv_timeout_with(&timer, d).await.is_err());
        let clock = ManualClock::new();
        let limiter = RateLimiter::with_clock(Quota::per_second(1).burst(1), clock);
        limiter.until_ready_with(&timer).await;
    });
}

#[test]
fn the_manual_clock_is_a_timer() {
    let clock = ManualClock::new();
    let sem = CreditSemaphore::new(0);
    let mut acquire = Box::pin(sem.acquire_timeout_with(&clock, 1, Duration::from_secs(2)));
    assert!(poll_with(&mut acquire, &futures::task::noop_waker()).is_pending());
    clock.advance(Duration::from_secs(2));
    assert!(matches!(
        acquire.now_or_never(),
        Some(Err(AcquireTimeoutError::Timeout))
    ));
}

/// The plain forms exist whenever any runtime feature is on, and work
/// on every executor (tokio's timer inside tokio, async-io's elsewhere).
#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
#[test]
fn plain_forms_on_every_executor() {
    super::runtime_matrix::each_executor(|| async {
        let short = Duration::from_millis(1);
        let sem = CreditSemaphore::new(0);
        assert!(sem.acquire_timeout(1, short).await.is_err());
        let (tx, mut rx) = mailbox::bounded::<u32>(1);
        tx.try_send(1).unwrap();
        assert!(tx.send_timeout(2, short).await.is_err());
        assert_eq!(rx.recv_timeout(short).await, Ok(1));
        assert_eq!(rx.recv_timeout(short).await, Err(RecvTimeoutError::Timeout));
        let limiter = RateLimiter::new(Quota::per_second(1000).burst(1));
        limiter.until_ready().await;
        assert!(limiter.until_n_ready(2).await.is_err());
    });
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_adapter() {
    fn timer<T: Timer>(_: T) {}
    timer(flowgate::runtime::Tokio);
}

#[cfg(feature = "smol")]
#[test]
fn smol_adapter() {
    fn timer<T: Timer>(_: T) {}
    timer(flowgate::runtime::Smol);
}

#[cfg(feature = "async-std")]
#[test]
fn async_std_adapter() {
    fn timer<T: Timer>(_: T) {}
    timer(flowgate::runtime::AsyncStd);
}
