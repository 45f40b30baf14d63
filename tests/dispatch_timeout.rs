//! `Publisher::publish_timeout`, `Consumer::recv_timeout` and the
//! rate-limited publisher, on a manual clock; plain forms on every
//! executor of the build.

mod runtime_matrix;
mod support;

use flowgate::dispatch::{
    Dispatcher, PublishTimeoutError, RateLimitedPublisher, RecvTimeoutError, Subscription,
};
use flowgate::rate::{Quota, RateLimiter};
use flowgate::runtime::{ManualClock, ManualSleep};
use futures::FutureExt;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use support::{counting, poll_with};

const SEC: Duration = Duration::from_secs(1);

#[test]
fn publish_times_out_and_hands_the_message_back() {
    let clock = ManualClock::new();
    let queue = Dispatcher::<u32>::builder().capacity(1).build();
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    let mut publish = Box::pin(publisher.publish_timeout_with(&clock, 2, SEC));
    assert!((&mut publish).now_or_never().is_none());
    clock.advance(SEC);
    let err = publish.now_or_never().unwrap().unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(err.into_inner(), 2);
    assert_eq!(
        queue.stats().backlog,
        1,
        "the timed-out message was not queued"
    );
}

#[test]
fn publish_succeeds_when_room_frees_before_the_deadline() {
    let clock = ManualClock::new();
    let queue = Dispatcher::<u32>::builder().capacity(1).build();
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    let mut publish = Box::pin(publisher.publish_timeout_with(&clock, 2, SEC));
    let (woken, waker) = counting();
    assert!(poll_with(&mut publish, &waker).is_pending());
    let mut consumer = queue.subscribe(Subscription::prefetch(1)); // takes 1 from the backlog
    assert!(woken.get() >= 1);
    assert!(matches!(
        poll_with(&mut publish, &waker),
        Poll::Ready(Ok(()))
    ));
    consumer.try_recv().unwrap().ack();
    assert_eq!(*consumer.try_recv().unwrap(), 2);
}

#[test]
fn publish_to_a_closed_dispatcher_hands_the_message_back() {
    let clock = ManualClock::new();
    let queue = Dispatcher::<u32>::builder().capacity(1).build();
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    let mut publish = Box::pin(publisher.publish_timeout_with(&clock, 2, SEC));
    assert!((&mut publish).now_or_never().is_none());
    queue.close();
    let out = publish.now_or_never().unwrap();
    assert!(matches!(out, Err(PublishTimeoutError::Closed(2))));
}

#[test]
fn pending_publish_timeout_dropped_passes_room_on() {
    let clock = ManualClock::new();
    let queue = Dispatcher::<u32>::builder().capacity(1).build();
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    let mut first = Box::pin(publisher.publish_timeout_with(&clock, 2, SEC));
    assert!((&mut first).now_or_never().is_none());
    let mut second = publisher.publish(3);
    let (woken, waker) = counting();
    assert!(poll_with(&mut second, &waker).is_pending());
    drop(first);
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    assert_eq!(woken.get(), 1);
    assert!(matches!(
        poll_with(&mut second, &waker),
        Poll::Ready(Ok(()))
    ));
    consumer.try_recv().unwrap().ack();
    assert_eq!(*consumer.try_recv().unwrap(), 3);
}

#[test]
fn recv_times_out_receives_and_sees_close() {
    let clock = ManualClock::new();
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(2));
    {
        let mut recv = Box::pin(consumer.recv_timeout_with(&clock, SEC));
        assert!((&mut recv).now_or_never().is_none());
        clock.advance(SEC);
        assert!(matches!(
            recv.now_or_never(),
            Some(Err(RecvTimeoutError::Timeout))
        ));
    }
    queue.publisher().try_publish(5).unwrap();
    let delivery = consumer
        .recv_timeout_with(&clock, SEC)
        .now_or_never()
        .unwrap()
        .unwrap();
    assert_eq!(*delivery, 5);
    delivery.ack();
    queue.close();
    let out = consumer.recv_timeout_with(&clock, SEC).now_or_never();
    assert!(matches!(out, Some(Err(RecvTimeoutError::Closed))));
}

#[test]
fn recv_timeout_cancelled_keeps_the_delivery_assigned() {
    let clock = ManualClock::new();
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    {
        let mut recv = Box::pin(consumer.recv_timeout_with(&clock, SEC));
        let (woken, waker) = counting();
        assert!(poll_with(&mut recv, &waker).is_pending());
        queue.publisher().try_publish(8).unwrap();
        assert_eq!(woken.get(), 1);
        // notified, then dropped before it is polled again
    }
    let delivery = consumer.try_recv().unwrap();
    assert_eq!((*delivery, delivery.redelivered()), (8, false));
    delivery.ack();
}

fn limited(
    clock: &ManualClock,
    queue: &Dispatcher<u32>,
) -> RateLimitedPublisher<u32, ManualClock, ManualClock> {
    let limiter = Arc::new(RateLimiter::with_clock(
        Quota::per_second(10).burst(1),
        clock.clone(),
    ));
    queue
        .publisher()
        .with_rate_limit_with(clock.clone(), limiter)
}

#[test]
fn rate_limited_publisher_spaces_publishes() {
    let clock = ManualClock::new();
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(8));
    let publisher = limited(&clock, &queue);
    assert!(publisher.publish(1).now_or_never().unwrap().is_ok());
    let mut second = Box::pin(publisher.publish(2));
    assert!((&mut second).now_or_never().is_none(), "one per 100 ms");
    clock.advance(Duration::from_millis(99));
    assert!((&mut second).now_or_never().is_none());
    clock.advance(Duration::from_millis(1));
    assert!(second.now_or_never().unwrap().is_ok());
    assert_eq!(*consumer.try_recv().unwrap(), 1);
    assert_eq!(*consumer.try_recv().unwrap(), 2);
    assert_eq!(queue.stats().published, 2);
}

#[test]
fn rate_limited_publish_cancelled_while_waiting_refunds_its_slot() {
    let clock = ManualClock::new();
    let queue = Dispatcher::<u32>::new();
    let _consumer = queue.subscribe(Subscription::prefetch(8));
    let publisher = limited(&clock, &queue);
    assert!(publisher.publish(1).now_or_never().unwrap().is_ok());
    let mut waiting = Box::pin(publisher.publish(2));
    assert!((&mut waiting).now_or_never().is_none());
    drop(waiting); // refunds the reserved slot: the message is dropped
    clock.advance(Duration::from_millis(100));
    assert!(publisher.publish(3).now_or_never().unwrap().is_ok());
    assert!(
        publisher.limiter().check().is_err(),
        "the refund gave back one slot, not two"
    );
    assert_eq!(queue.stats().published, 2);
}

#[test]
fn auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<PublishTimeoutError<u8>>();
    send_sync::<RecvTimeoutError>();
    send_sync::<flowgate::dispatch::PublishTimeout<'static, u8, ManualSleep>>();
    send_sync::<RateLimitedPublisher<u8, ManualClock, ManualClock>>();
}

#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
#[test]
fn plain_forms_on_every_executor() {
    runtime_matrix::each_executor(|| async {
        let queue = Dispatcher::<u32>::builder().capacity(1).build();
        let publisher = queue.publisher();
        publisher
            .publish_timeout(1, Duration::from_secs(30))
            .await
            .unwrap();
        let err = publisher
            .publish_timeout(2, Duration::from_millis(5))
            .await
            .unwrap_err();
        assert!(matches!(err, PublishTimeoutError::Timeout(2)));
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        let delivery = consumer
            .recv_timeout(Duration::from_secs(30))
            .await
            .unwrap();
        delivery.ack();
        let err = consumer
            .recv_timeout(Duration::from_millis(5))
            .await
            .unwrap_err();
        assert_eq!(err, RecvTimeoutError::Timeout);
        let limiter = Arc::new(RateLimiter::new(Quota::per_second(1_000).burst(2)));
        let limited = queue.publisher().with_rate_limit(limiter);
        limited.publish(3).await.unwrap();
        consumer.recv().await.unwrap().ack();
    });
}
