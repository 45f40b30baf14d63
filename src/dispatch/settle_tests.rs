//! The settle hook (the RabbitMQ bridge's view of a dispatcher): every
//! delivery a consumer saw is handed to the hook exactly once with the
//! right verdict, and nothing is requeued or dead-lettered locally.

use super::{Dispatcher, Requeue, Settle, Subscription};
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<(u32, Settle)>>>;

fn bridged(max_attempts: u32) -> (Dispatcher<u32>, Log) {
    let log: Log = Arc::default();
    let seen = Arc::clone(&log);
    let queue = Dispatcher::builder()
        .capacity(8)
        .max_attempts(max_attempts)
        .settle_with(move |msg: &u32, verdict| seen.lock().unwrap().push((*msg, verdict)))
        .build();
    (queue, log)
}

fn taken(log: &Log) -> Vec<(u32, Settle)> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn ack_nack_and_drop_reach_the_hook_once_each() {
    let (queue, log) = bridged(u32::MAX);
    let mut consumer = queue.subscribe(Subscription::prefetch(4));
    for i in 1..=4 {
        queue.publisher().try_publish(i).unwrap();
    }
    consumer.try_recv().unwrap().ack();
    consumer.try_recv().unwrap().nack(Requeue::Yes);
    consumer.try_recv().unwrap().nack(Requeue::No);
    drop(consumer.try_recv().unwrap());
    assert_eq!(
        taken(&log),
        [
            (1, Settle::Ack),
            (2, Settle::Requeue),
            (3, Settle::Reject),
            (4, Settle::Requeue)
        ]
    );
    // Nothing came back locally: the broker redelivers.
    assert!(consumer.try_recv().is_err());
    let stats = queue.stats();
    assert_eq!((stats.acked, stats.nacked, stats.dead_lettered), (1, 3, 1));
    assert_eq!((stats.backlog, stats.in_flight), (0, 0));
}

#[test]
fn seen_attempts_count_toward_max_attempts() {
    let (queue, log) = bridged(3);
    let mut consumer = queue.subscribe(Subscription::prefetch(2));
    queue.try_publish_seen(7, 2).unwrap(); // the broker delivered it twice
    queue.try_publish_seen(8, 0).unwrap();
    let last = consumer.try_recv().unwrap();
    assert_eq!((last.attempt(), last.redelivered()), (3, true));
    let first = consumer.try_recv().unwrap();
    assert_eq!((first.attempt(), first.redelivered()), (1, false));
    last.nack(Requeue::Yes); // the last attempt: rejected
    drop(first);
    assert_eq!(taken(&log), [(7, Settle::Reject), (8, Settle::Requeue)]);
}

#[test]
fn dropped_consumer_settles_what_it_saw_and_requeues_the_rest_locally() {
    let (queue, log) = bridged(u32::MAX);
    let mut first = queue.subscribe(Subscription::prefetch(2));
    queue.publisher().try_publish(1).unwrap();
    queue.publisher().try_publish(2).unwrap();
    let held = first.try_recv().unwrap(); // seen: 1; assigned, unseen: 2
    let mut second = queue.subscribe(Subscription::prefetch(2));
    drop(first);
    assert_eq!(taken(&log), [(1, Settle::Requeue)]);
    // The unseen one goes to another local worker, first attempt.
    let next = second.try_recv().unwrap();
    assert_eq!((*next, next.attempt()), (2, 1));
    held.ack(); // stale: nothing more reaches the hook
    next.ack();
    assert_eq!(taken(&log), [(2, Settle::Ack)]);
}

#[test]
fn auto_ack_settles_on_receipt() {
    let (queue, log) = bridged(u32::MAX);
    let mut consumer = queue.subscribe(Subscription::prefetch(1).auto_ack());
    queue.publisher().try_publish(5).unwrap();
    let d = consumer.try_recv().unwrap();
    assert_eq!(taken(&log), [(5, Settle::Ack)]);
    d.ack();
    assert!(taken(&log).is_empty());
}

#[test]
fn closed_with_no_consumer_left_the_backlog_goes_to_the_hook() {
    // Leaves after the close.
    let (queue, log) = bridged(1);
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    queue.try_publish_seen(1, 0).unwrap();
    queue.try_publish_seen(2, 5).unwrap(); // seen before: still requeued
    let held = consumer.try_recv().unwrap();
    queue.close();
    assert!(taken(&log).is_empty(), "a consumer may still take them");
    drop((held, consumer));
    let mut got = taken(&log);
    got.sort_by_key(|&(m, _)| m);
    // 1 was received, at its last attempt: its drop dead-letters it as
    // always; 2 was never handed out here, so it goes back.
    assert_eq!(got, [(1, Settle::Reject), (2, Settle::Requeue)]);
    assert_eq!(queue.stats().backlog, 0);

    // Leaves before the close.
    let (queue, log) = bridged(u32::MAX);
    drop(queue.subscribe(Subscription::prefetch(1)));
    queue.try_publish_seen(3, 0).unwrap();
    assert!(taken(&log).is_empty(), "a worker may still subscribe");
    queue.close();
    assert_eq!(taken(&log), [(3, Settle::Requeue)]);
}
