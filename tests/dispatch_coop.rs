//! With the `tokio` feature, `Consumer::recv` (and `poll_recv`, the
//! `Stream`) and `Publisher::publish` spend tokio's cooperative budget: a
//! task whose publishes and receives are always ready still lets the other
//! tasks of its worker run, as `tokio::sync` does; `recv` also spends it by
//! the time the task works between receives.
#![cfg(feature = "tokio")]

mod support;

use flowgate::dispatch::{Dispatcher, Subscription};
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::hog_yields;

/// Publishes (without waiting) and receives one message at a time, through
/// the consumer's `Stream` if `stream` (else `recv`), doing `work` of CPU
/// on each, until the other task has run; how many it took.
async fn recv_loop(other_ran: Arc<AtomicBool>, work: Duration, stream: bool) -> u64 {
    let queue = Dispatcher::<u64>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(4));
    let publisher = queue.publisher();
    let mut rounds = 0u64;
    // `try_publish` never waits: only the receive can yield here.
    while !other_ran.load(Ordering::SeqCst) {
        publisher.try_publish(rounds).unwrap();
        let delivery = if stream {
            consumer.next().await
        } else {
            consumer.recv().await
        };
        let delivery = delivery.unwrap();
        assert_eq!(*delivery, rounds);
        work_for(work);
        delivery.ack();
        rounds += 1;
    }
    assert_eq!(queue.stats().acked, rounds);
    rounds
}

#[test]
fn always_ready_recv_loop_yields_to_other_tasks() {
    let rounds = hog_yields(|other_ran| recv_loop(other_ran, Duration::ZERO, false));
    assert!(rounds > 0);
}

#[test]
fn always_ready_stream_loop_yields_to_other_tasks() {
    let rounds = hog_yields(|other_ran| recv_loop(other_ran, Duration::ZERO, true));
    assert!(rounds > 0);
}

#[test]
fn always_ready_publish_loop_yields_to_other_tasks() {
    let rounds = hog_yields(|other_ran| async move {
        let queue = Dispatcher::<u64>::new();
        let mut consumer = queue.subscribe(Subscription::prefetch(4));
        let publisher = queue.publisher();
        let mut rounds = 0u64;
        // `try_recv` never waits: only `publish` can yield here.
        while !other_ran.load(Ordering::SeqCst) {
            publisher.publish(rounds).await.unwrap();
            consumer.try_recv().unwrap().ack();
            rounds += 1;
        }
        assert_eq!(queue.stats().published, rounds);
        rounds
    });
    assert!(rounds > 0);
}

/// Spins for at least `d` of the clock: CPU work, as a consumer's handling
/// of a message is.
fn work_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn a_consumer_yields_by_the_time_it_works_not_only_by_receives() {
    // 20 µs of work per message: 8 receives (one period) make 160 µs, far
    // beyond a turn (128 units of 250 ns), so the receive after them
    // yields; tokio's budget alone would allow 128 receives.
    let rounds = hog_yields(|other_ran| recv_loop(other_ran, Duration::from_micros(20), false));
    assert!(
        (1..=16).contains(&rounds),
        "yielded after {rounds} receives"
    );
}
