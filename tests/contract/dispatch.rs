//! The dispatcher: defaults, eager assignment, prefetch, strategies,
//! at-least-once, dead letters, close, stats.

use super::*;
use flowgate::dispatch::{
    ConsumerStats, DEFAULT_CAPACITY, Delivery, Dispatcher, PublishError, Requeue, Stats, Strategy,
    Subscription, TryPublishError, TryRecvError,
};
use flowgate::mailbox;
use futures::StreamExt;

#[derive(Debug, Clone, PartialEq)]
struct Job(u32);

async fn handle(_job: &Job) {}

#[test]
fn the_snippet_as_written() {
    futures::executor::block_on(async {
        let (dlq_tx, mut dlq_rx) = mailbox::bounded::<Job>(16);
        let queue = Dispatcher::<Job>::builder()
            .capacity(1024)
            .strategy(Strategy::RoundRobin)
            .max_attempts(5)
            .dead_letter(dlq_tx)
            .build();
        let publisher = queue.publisher();
        let publisher2 = publisher.clone();
        let mut consumer = queue.subscribe(Subscription::prefetch(10).weight(3).priority(0));
        publisher.publish(Job(1)).await.unwrap();
        publisher2.publish(Job(2)).await.unwrap();
        drop((publisher, publisher2));
        queue.close();
        let mut seen = Vec::new();
        while let Some(d) = consumer.recv().await {
            let d: Delivery<Job> = d;
            handle(&d).await;
            let job: &Job = &d; // Deref<Target = Job>
            seen.push(job.0);
            if job.0 == 1 {
                d.ack();
            } else {
                d.nack(Requeue::No);
            }
        }
        assert_eq!(seen, [1, 2]);
        assert_eq!(dlq_rx.try_recv().unwrap(), Job(2));
        let s: Stats = queue.stats();
        assert_eq!((s.published, s.acked, s.dead_lettered), (2, 1, 1));
    });
}

#[test]
fn defaults_round_robin_documented_capacity_and_clone_handle() {
    assert_eq!(Strategy::default(), Strategy::RoundRobin);
    let queue = Dispatcher::<u32>::builder().build();
    let handle: Dispatcher<u32> = queue.clone();
    let publisher = handle.publisher();
    for i in 0..DEFAULT_CAPACITY {
        publisher.try_publish(i as u32).unwrap();
    }
    assert!(matches!(
        publisher.try_publish(0),
        Err(TryPublishError::Full(0))
    ));
    assert_eq!(queue.stats().backlog, DEFAULT_CAPACITY);
}

#[test]
fn assignment_is_eager_on_publish_and_subscribe() {
    let queue = Dispatcher::<u32>::new();
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    publisher.try_publish(2).unwrap();
    assert_eq!((queue.stats().backlog, queue.stats().in_flight), (2, 0));
    let _consumer = queue.subscribe(Subscription::prefetch(1));
    let s = queue.stats();
    assert_eq!((s.backlog, s.in_flight), (1, 1), "assigned on subscribe");
    let queue2 = Dispatcher::<u32>::new();
    let _c = queue2.subscribe(Subscription::prefetch(4));
    queue2.publisher().try_publish(1).unwrap();
    let s = queue2.stats();
    assert_eq!((s.backlog, s.in_flight), (0, 1), "assigned on publish");
    assert_eq!(s.consumers[0].in_flight, 1);
}

#[test]
fn assignment_is_eager_on_ack_nack_and_drop() {
    let queue = Dispatcher::<u32>::new();
    let mut a = queue.subscribe(Subscription::prefetch(1));
    let publisher = queue.publisher();
    for i in 0..4 {
        publisher.try_publish(i).unwrap();
    }
    assert_eq!(queue.stats().backlog, 3);
    a.try_recv().unwrap().ack();
    assert_eq!(queue.stats().backlog, 2, "refilled on ack");
    a.try_recv().unwrap().nack(Requeue::No);
    assert_eq!(queue.stats().backlog, 1, "refilled on nack");
    drop(a.try_recv().unwrap()); // requeued at the front, and assigned again
    let s = queue.stats();
    assert_eq!((s.backlog, s.in_flight), (1, 1));
    let d = a.try_recv().unwrap();
    assert_eq!((*d, d.redelivered()), (2, true));
}

#[test]
fn capacity_bounds_only_messages_not_yet_assigned() {
    let queue = Dispatcher::<u32>::builder().capacity(1).build();
    let _consumer = queue.subscribe(Subscription::prefetch(3));
    let publisher = queue.publisher();
    for i in 0..4 {
        publisher.try_publish(i).unwrap(); // 3 in flight + 1 in the backlog
    }
    assert!(matches!(
        publisher.try_publish(9),
        Err(TryPublishError::Full(9))
    ));
    let mut publish = publisher.publish(9);
    let _ = pend(&mut publish);
}

#[test]
fn prefetch_is_never_exceeded_and_a_lower_one_takes_effect_as_deliveries_are_acked() {
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(2));
    let publisher = queue.publisher();
    for i in 0..6 {
        publisher.try_publish(i).unwrap();
    }
    assert_eq!(queue.stats().in_flight, 2);
    let d0 = consumer.try_recv().unwrap();
    let d1 = consumer.try_recv().unwrap();
    assert_eq!(consumer.try_recv().unwrap_err(), TryRecvError::Empty);
    consumer.set_prefetch(1);
    d0.ack();
    assert_eq!(
        queue.stats().in_flight,
        1,
        "not refilled while at the new limit"
    );
    d1.ack();
    assert_eq!(queue.stats().in_flight, 1);
    let d2 = consumer.try_recv().unwrap();
    assert_eq!(*d2, 2);
    assert_eq!(consumer.try_recv().unwrap_err(), TryRecvError::Empty);
}

#[test]
fn auto_ack_counts_on_receipt_and_never_redelivers() {
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(1).auto_ack());
    queue.publisher().try_publish(1).unwrap();
    drop(consumer.try_recv().unwrap());
    let s = queue.stats();
    assert_eq!(
        (s.acked, s.redelivered, s.backlog, s.in_flight),
        (1, 0, 0, 0)
    );
}

#[test]
fn round_robin_over_consumers_with_free_credit() {
    let queue = Dispatcher::<u32>::new();
    let mut consumers: Vec<_> = (0..3)
        .map(|_| queue.subscribe(Subscription::prefetch(1)))
        .collect();
    let publisher = queue.publisher();
    for i in 0..3 {
        publisher.try_publish(i).unwrap();
    }
    let mut got: Vec<u32> = consumers
        .iter_mut()
        .map(|c| *c.try_recv().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, [0, 1, 2], "each consumer got one");
}

#[test]
fn weighted_gives_exact_proportions_and_weights_change_at_run_time() {
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Weighted)
        .build();
    let a = queue.subscribe(Subscription::prefetch(100).weight(3));
    let b = queue.subscribe(Subscription::prefetch(100).weight(1));
    let publisher = queue.publisher();
    for i in 0..40 {
        publisher.try_publish(i).unwrap();
    }
    let s = queue.stats();
    let by_id = |id: u64| s.consumers.iter().find(|c| c.id == id).unwrap().in_flight;
    assert_eq!((by_id(a.id()), by_id(b.id())), (30, 10));
    b.set_weight(3);
    for i in 0..40 {
        publisher.try_publish(i).unwrap();
    }
    let s = queue.stats();
    let by_id = |id: u64| s.consumers.iter().find(|c| c.id == id).unwrap().in_flight;
    assert_eq!((by_id(a.id()), by_id(b.id())), (50, 30));
}

#[test]
fn least_loaded_picks_fewest_unacked_relative_to_prefetch() {
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::LeastLoaded)
        .build();
    let mut a = queue.subscribe(Subscription::prefetch(4));
    let b = queue.subscribe(Subscription::prefetch(4));
    let publisher = queue.publisher();
    for i in 0..4 {
        publisher.try_publish(i).unwrap(); // 2 each
    }
    let d = a.try_recv().unwrap();
    d.ack(); // a now holds 1, b holds 2
    publisher.try_publish(9).unwrap();
    let s = queue.stats();
    let by_id = |id: u64| s.consumers.iter().find(|c| c.id == id).unwrap().in_flight;
    assert_eq!(
        (by_id(a.id()), by_id(b.id())),
        (2, 2),
        "the less loaded got it"
    );
}

#[test]
fn higher_priority_consumers_are_served_first_while_they_have_credit() {
    let queue = Dispatcher::<u32>::new();
    let low = queue.subscribe(Subscription::prefetch(10).priority(0));
    let high = queue.subscribe(Subscription::prefetch(2).priority(5));
    let publisher = queue.publisher();
    for i in 0..2 {
        publisher.try_publish(i).unwrap();
    }
    let s = queue.stats();
    let by_id = |id: u64| s.consumers.iter().find(|c| c.id == id).unwrap().in_flight;
    assert_eq!((by_id(high.id()), by_id(low.id())), (2, 0));
    publisher.try_publish(2).unwrap();
    let s = queue.stats();
    let by_id = |id: u64| s.consumers.iter().find(|c| c.id == id).unwrap().in_flight;
    assert_eq!((by_id(high.id()), by_id(low.id())), (2, 1));
}

#[test]
fn broadcast_gives_every_consumer_a_copy_within_its_own_credit() {
    let queue = Dispatcher::<String>::builder()
        .strategy(Strategy::Broadcast)
        .build();
    let mut a = queue.subscribe(Subscription::prefetch(1));
    let mut b = queue.subscribe(Subscription::prefetch(1));
    let publisher = queue.publisher();
    publisher.try_publish("one".to_string()).unwrap();
    publisher.try_publish("two".to_string()).unwrap();
    let a1 = a.try_recv().unwrap();
    let b1 = b.try_recv().unwrap();
    assert_eq!((a1.as_str(), b1.as_str()), ("one", "one"));
    assert_eq!(a.try_recv().unwrap_err(), TryRecvError::Empty, "prefetch 1");
    a1.ack();
    assert_eq!(a.try_recv().unwrap().as_str(), "two");
    assert_eq!(b.try_recv().unwrap_err(), TryRecvError::Empty);
    b1.ack();
    assert_eq!(b.try_recv().unwrap().as_str(), "two");
}

#[test]
fn a_delivery_dropped_without_ack_is_requeued_at_the_front_and_flagged() {
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    publisher.try_publish(2).unwrap();
    let first = consumer.try_recv().unwrap();
    assert_eq!(
        (*first, first.redelivered(), first.attempt()),
        (1, false, 1)
    );
    drop(first);
    let again = consumer.try_recv().unwrap();
    assert_eq!((*again, again.redelivered(), again.attempt()), (1, true, 2));
    again.nack(Requeue::Yes);
    let third = consumer.try_recv().unwrap();
    assert_eq!((*third, third.attempt()), (1, 3));
    third.ack();
    let next = consumer.try_recv().unwrap();
    assert_eq!((*next, next.redelivered(), next.attempt()), (2, false, 1));
    next.ack();
    assert_eq!(queue.stats().redelivered, 2);
}

#[test]
fn dropping_a_consumer_requeues_everything_and_its_live_deliveries_go_stale() {
    let queue = Dispatcher::<u32>::new();
    let mut a = queue.subscribe(Subscription::prefetch(2));
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    publisher.try_publish(2).unwrap();
    let held = a.try_recv().unwrap(); // 1 received, 2 assigned only
    drop(a);
    assert_eq!(*held, 1, "still readable");
    let mut b = queue.subscribe(Subscription::prefetch(2));
    let r1 = b.try_recv().unwrap();
    assert_eq!((*r1, r1.redelivered()), (1, true));
    held.ack(); // does nothing
    assert_eq!(queue.stats().acked, 0);
    r1.ack();
    let r2 = b.try_recv().unwrap();
    assert_eq!(*r2, 2);
    r2.ack();
    let s = queue.stats();
    assert_eq!((s.acked, s.backlog, s.in_flight), (2, 0, 0));
}

#[test]
fn a_dropped_consumers_messages_go_back_to_the_front_in_order() {
    let queue = Dispatcher::<u32>::new();
    let mut a = queue.subscribe(Subscription::prefetch(2));
    let publisher = queue.publisher();
    for i in 1..=3 {
        publisher.try_publish(i).unwrap(); // a: [1, 2], backlog: [3]
    }
    let held = a.try_recv().unwrap();
    drop(a);
    drop(held);
    let mut b = queue.subscribe(Subscription::prefetch(3));
    let mut got = Vec::new();
    while let Ok(d) = b.try_recv() {
        got.push(*d);
        d.ack();
    }
    assert_eq!(got, [1, 2, 3]);
    assert_eq!(queue.stats().acked, 3);
}

#[test]
fn a_consumer_dropped_by_a_panicking_task_requeues() {
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    queue.publisher().try_publish(1).unwrap();
    let worker = std::thread::spawn(move || {
        let _d = consumer.try_recv().unwrap();
        panic!("worker died");
    });
    assert!(worker.join().is_err());
    let mut other = queue.subscribe(Subscription::prefetch(1));
    let d = other.try_recv().unwrap();
    assert_eq!((*d, d.redelivered()), (1, true));
}

#[test]
fn max_attempts_then_dead_letter_without_waiting() {
    let (dlq, mut dead) = mailbox::bounded::<u32>(1);
    let queue = Dispatcher::<u32>::builder()
        .max_attempts(2)
        .dead_letter(dlq)
        .build();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    drop(consumer.try_recv().unwrap()); // attempt 1
    let last = consumer.try_recv().unwrap();
    assert_eq!(last.attempt(), 2);
    drop(last); // the last attempt: dead-lettered
    assert_eq!(dead.try_recv(), Ok(1));
    // nack(No) dead-letters at once; a full dead-letter mailbox drops and counts.
    publisher.try_publish(2).unwrap();
    publisher.try_publish(3).unwrap();
    consumer.try_recv().unwrap().nack(Requeue::No);
    consumer.try_recv().unwrap().nack(Requeue::No); // dlq full now
    let s = queue.stats();
    assert_eq!((s.dead_lettered, s.dropped), (2, 1));
    assert_eq!(dead.try_recv(), Ok(2));
    // A closed dead-letter mailbox: dropped and counted.
    dead.close();
    publisher.try_publish(4).unwrap();
    consumer.try_recv().unwrap().nack(Requeue::No);
    assert_eq!(queue.stats().dropped, 2);
}

#[test]
fn without_a_dead_letter_mailbox_rejected_messages_are_dropped_and_counted() {
    let drops = Arc::new(AtomicUsize::new(0));
    let queue = Dispatcher::<Counted>::builder().max_attempts(1).build();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    queue
        .publisher()
        .try_publish(Counted(1, Arc::clone(&drops)))
        .unwrap();
    drop(consumer.try_recv().unwrap());
    assert_eq!(queue.stats().dropped, 1);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the message itself dropped once"
    );
}

#[test]
fn recv_is_none_only_once_nothing_is_queued_or_unacked_anywhere() {
    let queue = Dispatcher::<u32>::new();
    let mut a = queue.subscribe(Subscription::prefetch(1));
    let mut b = queue.subscribe(Subscription::prefetch(1));
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    publisher.try_publish(2).unwrap();
    let (da, db) = (a.try_recv().unwrap(), b.try_recv().unwrap());
    da.ack();
    queue.close();
    // b still holds an unacked delivery that may come back to a.
    assert_eq!(a.try_recv().unwrap_err(), TryRecvError::Empty);
    let mut a_recv = a.recv();
    let a_woken = pend(&mut a_recv);
    db.ack();
    assert!(a_woken.get() >= 1, "the last ack wakes a pending recv");
    assert!(matches!(a_recv.now_or_never(), Some(None)));
    assert_eq!(b.try_recv().unwrap_err(), TryRecvError::Closed);
}

#[test]
fn a_requeue_after_close_is_still_delivered_before_none() {
    let queue = Dispatcher::<u32>::new();
    let mut a = queue.subscribe(Subscription::prefetch(1));
    let mut b = queue.subscribe(Subscription::prefetch(1));
    queue.publisher().try_publish(1).unwrap();
    let (mut held, mut other) = match (a.try_recv(), b.try_recv()) {
        (Ok(d), Err(_)) => (d, b),
        (Err(_), Ok(d)) => (d, a),
        _ => unreachable!(),
    };
    queue.close();
    let mut recv = other.recv();
    let woken = pend(&mut recv);
    held.nack(Requeue::Yes);
    assert!(woken.get() >= 1);
    held = match recv.now_or_never() {
        Some(Some(d)) => d,
        r => panic!("expected the requeued delivery, got {}", r.is_some()),
    };
    assert!(held.redelivered());
    held.ack();
    assert!(matches!(other.recv().now_or_never(), Some(None)));
}

#[test]
fn publish_after_close_hands_the_message_back() {
    futures::executor::block_on(async {
        let queue = Dispatcher::<Job>::new();
        let publisher = queue.publisher();
        queue.close();
        let PublishError(job) = publisher.publish(Job(3)).await.unwrap_err();
        assert_eq!(job, Job(3));
        assert!(matches!(
            publisher.try_publish(Job(4)),
            Err(TryPublishError::Closed(Job(4)))
        ));
    });
}

#[test]
fn dropping_every_publisher_and_handle_closes_consumers_do_not_keep_it_open() {
    futures::executor::block_on(async {
        let queue = Dispatcher::<u32>::new();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        publisher.publish(1).await.unwrap();
        drop(queue);
        let d = consumer.recv().await.unwrap();
        d.ack();
        let mut recv = consumer.recv();
        let _ = pend(&mut recv);
        drop(recv);
        drop(publisher);
        assert!(consumer.recv().await.is_none());
    });
}

#[test]
fn recv_is_cancel_safe() {
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    {
        let mut recv = consumer.recv();
        let woken = pend(&mut recv);
        queue.publisher().try_publish(1).unwrap();
        assert!(woken.get() >= 1);
    } // notified, then dropped
    let d = consumer.recv().now_or_never().unwrap().unwrap();
    assert_eq!((*d, d.attempt()), (1, 1));
}

#[test]
fn consumer_is_a_stream_of_deliveries() {
    futures::executor::block_on(async {
        let queue = Dispatcher::<u32>::new();
        let consumer = queue.subscribe(Subscription::prefetch(4));
        let publisher = queue.publisher();
        for i in 0..3 {
            publisher.publish(i).await.unwrap();
        }
        drop((publisher, queue));
        let got: Vec<u32> = consumer
            .map(|d| {
                let v = *d;
                d.ack();
                v
            })
            .collect()
            .await;
        assert_eq!(got, [0, 1, 2]);
    });
}

#[test]
fn stats_have_the_contract_fields_overall_and_per_consumer() {
    let (dlq, _dead) = mailbox::bounded::<u32>(4);
    let queue = Dispatcher::<u32>::builder().dead_letter(dlq).build();
    let mut c = queue.subscribe(Subscription::prefetch(2));
    let publisher = queue.publisher();
    for i in 0..5 {
        publisher.try_publish(i).unwrap();
    }
    // Window [0, 1]; 0 acked: [1, 2]; 1 requeued to the front and
    // assigned again: [2, 1']; 2 dead-lettered: [1', 3]; 4 waits.
    c.try_recv().unwrap().ack();
    c.try_recv().unwrap().nack(Requeue::Yes);
    c.try_recv().unwrap().nack(Requeue::No);
    let s: Stats = queue.stats();
    let Stats {
        published,
        delivered,
        acked,
        nacked,
        redelivered,
        dead_lettered,
        dropped,
        backlog,
        in_flight,
        ref consumers,
        ..
    } = s;
    assert_eq!(published, 5);
    assert_eq!(delivered, 5, "assignments, redeliveries included");
    assert_eq!((acked, nacked, redelivered), (1, 2, 1));
    assert_eq!((dead_lettered, dropped), (1, 0));
    assert_eq!((backlog, in_flight), (1, 2));
    let c0: &ConsumerStats = &consumers[0];
    assert_eq!(c0.id, c.id());
    assert_eq!(
        (c0.delivered, c0.acked, c0.nacked, c0.redelivered),
        (5, 1, 2, 1)
    );
    assert_eq!((c0.dead_lettered, c0.dropped, c0.in_flight), (1, 0, 2));
}

#[test]
fn close_wakes_a_pending_recv_with_none_when_nothing_is_left() {
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    let mut recv = consumer.recv();
    let woken = pend(&mut recv);
    queue.close();
    assert!(woken.get() >= 1);
    assert!(matches!(recv.now_or_never(), Some(None)));
}

#[test]
fn the_last_handle_dropped_wakes_a_pending_recv_with_none() {
    let queue = Dispatcher::<u32>::new();
    let publisher = queue.publisher();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    let mut recv = consumer.recv();
    let woken = pend(&mut recv);
    drop(queue);
    assert_eq!(woken.get(), 0, "a publisher keeps it open");
    drop(publisher);
    assert!(woken.get() >= 1);
    assert!(matches!(recv.now_or_never(), Some(None)));
}

#[test]
fn a_consumer_subscribing_after_close_still_drains_the_backlog() {
    let queue = Dispatcher::<u32>::new();
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    publisher.try_publish(2).unwrap();
    queue.close();
    let mut consumer = queue.subscribe(Subscription::prefetch(4));
    futures::executor::block_on(async {
        let mut got = Vec::new();
        while let Some(d) = consumer.recv().await {
            got.push(*d);
            d.ack();
        }
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn a_consumer_dropped_on_the_last_attempt_dead_letters_what_it_held() {
    let (dlq, mut dead) = mailbox::bounded::<u32>(4);
    let queue = Dispatcher::<u32>::builder()
        .max_attempts(1)
        .dead_letter(dlq)
        .build();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    queue.publisher().try_publish(1).unwrap();
    let held = consumer.try_recv().unwrap();
    assert_eq!(held.attempt(), 1);
    drop(consumer);
    // The stale delivery still reads the message, so it moves to the
    // dead-letter mailbox once that delivery is gone.
    assert_eq!(*held, 1);
    drop(held);
    assert_eq!(
        dead.try_recv(),
        Ok(1),
        "delivered at most max_attempts times"
    );
    let s = queue.stats();
    assert_eq!(
        (s.dead_lettered, s.dropped, s.backlog, s.in_flight),
        (1, 0, 0, 0)
    );
}

#[test]
fn broadcast_messages_wait_for_the_first_consumer() {
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Broadcast)
        .build();
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    let mut a = queue.subscribe(Subscription::prefetch(4));
    let mut b = queue.subscribe(Subscription::prefetch(4));
    publisher.try_publish(2).unwrap();
    let take = |c: &mut flowgate::dispatch::Consumer<u32>| {
        let d = c.try_recv().unwrap();
        let v = *d;
        d.ack();
        v
    };
    assert_eq!(take(&mut a), 1);
    assert_eq!(take(&mut a), 2);
    assert_eq!(take(&mut b), 2, "a later subscriber gets later messages");
    assert_eq!(b.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!(a.try_recv().unwrap_err(), TryRecvError::Empty);
}

#[test]
fn stats_is_a_plain_struct() {
    let queue = Dispatcher::<u32>::new();
    queue.publisher().try_publish(1).unwrap();
    assert_eq!(
        queue.stats(),
        Stats {
            published: 1,
            backlog: 1,
            ..Default::default()
        }
    );
    let c = queue.subscribe(Subscription::prefetch(2));
    assert_eq!(
        queue.stats().consumers,
        [ConsumerStats {
            id: c.id(),
            prefetch: 2,
            weight: 1,
            delivered: 1,
            in_flight: 1,
            ..Default::default()
        }]
    );
}

#[test]
fn headline_types_at_the_crate_root() {
    let _: flowgate::Dispatcher<u32> = flowgate::Dispatcher::builder()
        .strategy(flowgate::Strategy::RoundRobin)
        .build();
    let _ = flowgate::Subscription::prefetch(1);
    let _ = flowgate::RateLimiter::new(flowgate::Quota::per_second(1));
}

#[test]
#[should_panic(expected = "prefetch")]
fn zero_prefetch_panics_with_a_clear_message() {
    let _ = Subscription::prefetch(0);
}

#[test]
fn no_background_task_everything_runs_on_threads_with_block_on() {
    let queue = Dispatcher::<u32>::builder().capacity(4).build();
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let mut consumer = queue.subscribe(Subscription::prefetch(1));
            std::thread::spawn(move || {
                futures::executor::block_on(async {
                    let mut n = 0u64;
                    while let Some(d) = consumer.recv().await {
                        n += u64::from(*d);
                        d.ack();
                    }
                    n
                })
            })
        })
        .collect();
    let publisher = queue.publisher();
    futures::executor::block_on(async {
        for i in 1..=300 {
            publisher.publish(i).await.unwrap();
        }
    });
    drop((publisher, queue));
    let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(total, 300 * 301 / 2);
}

/// "Every published message ends acked exactly once": once `ack` returns,
/// the dispatcher holds the message no more, under every strategy, when no
/// one waits (the case acks may settle without the lock) as when a
/// publisher waits for room.
#[test]
fn an_acked_message_is_dropped_by_its_ack() {
    for strategy in support::STRATEGIES {
        let drops = Arc::new(AtomicUsize::new(0));
        let queue = Dispatcher::<Counted>::builder()
            .capacity(1)
            .strategy(strategy)
            .build();
        let mut consumer = queue.subscribe(Subscription::prefetch(4));
        let publisher = queue.publisher();
        for n in 0..3 {
            assert!(publisher.try_publish(Counted(n, drops.clone())).is_ok());
        }
        for n in 0..3 {
            consumer.try_recv().ok().unwrap().ack();
            assert_eq!(drops.load(Ordering::SeqCst), n + 1, "{strategy:?}");
        }
        // A full backlog and a publisher waiting for room.
        for n in 0..5 {
            assert!(publisher.try_publish(Counted(n, drops.clone())).is_ok());
        }
        let mut publish = publisher.publish(Counted(5, drops.clone()));
        let woken = pend(&mut publish);
        consumer.try_recv().ok().unwrap().ack();
        assert_eq!(drops.load(Ordering::SeqCst), 4, "{strategy:?}");
        assert_eq!(woken.get(), 1, "{strategy:?}: the publisher has room");
        drop((publish, consumer));
    }
}
