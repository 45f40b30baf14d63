//! With the `tokio` feature, `Consumer::recv` (and `poll_recv`, the
//! `Stream`) and `Publisher::publish` spend tokio's cooperative budget: a
//! task whose publishes and receives are always ready still lets the other
//! tasks of its worker run, as `tokio::sync` does.
#![cfg(feature = "tokio")]

mod support;

use flowgate::dispatch::{Dispatcher, Subscription};
use futures::StreamExt;
use std::sync::atomic::Ordering;
use support::hog_yields;

#[test]
fn always_ready_recv_loop_yields_to_other_tasks() {
    let rounds = hog_yields(|other_ran| async move {
        let queue = Dispatcher::<u64>::new();
        let mut consumer = queue.subscribe(Subscription::prefetch(4));
        let publisher = queue.publisher();
        let mut rounds = 0u64;
        // `try_publish` never waits: only `recv` can yield here.
        while !other_ran.load(Ordering::SeqCst) {
            publisher.try_publish(rounds).unwrap();
            let delivery = consumer.recv().await.unwrap();
            assert_eq!(*delivery, rounds);
            delivery.ack();
            rounds += 1;
        }
        assert_eq!(queue.stats().acked, rounds);
        rounds
    });
    assert!(rounds > 0);
}

#[test]
fn always_ready_stream_loop_yields_to_other_tasks() {
    let rounds = hog_yields(|other_ran| async move {
        let queue = Dispatcher::<u64>::new();
        let mut consumer = queue.subscribe(Subscription::prefetch(4));
        let publisher = queue.publisher();
        let mut rounds = 0u64;
        while !other_ran.load(Ordering::SeqCst) {
            publisher.try_publish(rounds).unwrap();
            consumer.next().await.unwrap().ack();
            rounds += 1;
        }
        rounds
    });
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
