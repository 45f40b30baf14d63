//! `Stats` and `ConsumerStats` field by field after scripted sequences
//! (DESIGN.md §3, `flowgate::dispatch`): publish, delivery, ack, nack with
//! and without requeue, drops, redelivery, dead letters present, full,
//! closed and absent, a consumer's drop, auto-ack and broadcast.

use flowgate::dispatch::{ConsumerStats, Dispatcher, Requeue, Stats, Strategy, Subscription};
use flowgate::mailbox;

/// The whole-dispatcher counters, without the consumer list.
fn totals(s: &Stats) -> [u64; 7] {
    [
        s.published,
        s.delivered,
        s.acked,
        s.nacked,
        s.redelivered,
        s.dead_lettered,
        s.dropped,
    ]
}

/// One consumer's counters.
fn counters(c: &ConsumerStats) -> [u64; 6] {
    [
        c.delivered,
        c.acked,
        c.nacked,
        c.redelivered,
        c.dead_lettered,
        c.dropped,
    ]
}

#[test]
fn a_scripted_life_counted_step_by_step() {
    let queue = Dispatcher::<u32>::builder().capacity(8).build();
    let publisher = queue.publisher();
    for i in 0..3 {
        publisher.try_publish(i).unwrap();
    }
    let s = queue.stats();
    assert_eq!(totals(&s), [3, 0, 0, 0, 0, 0, 0]);
    assert_eq!((s.backlog, s.in_flight, s.consumers.len()), (3, 0, 0));

    let mut c = queue.subscribe(Subscription::prefetch(2).weight(5).priority(-1));
    let s = queue.stats();
    assert_eq!(totals(&s), [3, 2, 0, 0, 0, 0, 0], "assigned at subscribe");
    assert_eq!((s.backlog, s.in_flight), (1, 2));
    let c0 = &s.consumers[0];
    assert_eq!(
        (c0.id, c0.prefetch, c0.weight, c0.priority),
        (c.id(), 2, 5, -1)
    );
    assert_eq!(counters(c0), [2, 0, 0, 0, 0, 0]);
    assert_eq!((c0.backlog, c0.in_flight), (0, 2));

    let first = c.try_recv().unwrap();
    assert_eq!(queue.stats().in_flight, 2, "received is still in flight");
    first.ack();
    let s = queue.stats();
    assert_eq!(
        totals(&s),
        [3, 3, 1, 0, 0, 0, 0],
        "the ack freed credit for 2"
    );
    assert_eq!((s.backlog, s.in_flight), (0, 2));

    c.try_recv().unwrap().nack(Requeue::Yes);
    let s = queue.stats();
    assert_eq!(
        totals(&s),
        [3, 4, 1, 1, 1, 0, 0],
        "1 came back as a redelivery"
    );
    assert_eq!((s.backlog, s.in_flight), (0, 2));

    // Window now [2, 1']: 2 is dropped unacked, 1' is acked.
    let two = c.try_recv().unwrap();
    assert_eq!((*two, two.attempt(), two.redelivered()), (2, 1, false));
    drop(two);
    let s = queue.stats();
    assert_eq!(totals(&s), [3, 5, 1, 2, 2, 0, 0], "a drop counts as a nack");
    let one = c.try_recv().unwrap();
    assert_eq!((*one, one.attempt(), one.redelivered()), (1, 2, true));
    one.ack();
    let two = c.try_recv().unwrap();
    assert_eq!((*two, two.attempt()), (2, 2));
    two.ack();
    let s = queue.stats();
    assert_eq!(totals(&s), [3, 5, 3, 2, 2, 0, 0]);
    assert_eq!((s.backlog, s.in_flight), (0, 0));
    assert_eq!(counters(&s.consumers[0]), [5, 3, 2, 2, 0, 0]);
    assert_eq!(s.consumers[0].in_flight, 0);
}

#[test]
fn rejections_count_as_dead_lettered_or_dropped_by_where_they_end() {
    // Dead-letter mailbox with room for one, then full, then closed.
    let (dlq, mut dead) = mailbox::bounded::<u32>(1);
    let queue = Dispatcher::<u32>::builder().dead_letter(dlq).build();
    let mut c = queue.subscribe(Subscription::prefetch(4));
    let publisher = queue.publisher();
    for i in 0..4 {
        publisher.try_publish(i).unwrap();
    }
    c.try_recv().unwrap().nack(Requeue::No); // to the mailbox
    c.try_recv().unwrap().nack(Requeue::No); // mailbox full: dropped
    let s = queue.stats();
    assert_eq!(totals(&s), [4, 4, 0, 2, 0, 1, 1]);
    assert_eq!(counters(&s.consumers[0]), [4, 0, 2, 0, 1, 1]);
    assert_eq!(dead.try_recv(), Ok(0));
    dead.close();
    c.try_recv().unwrap().nack(Requeue::No); // mailbox closed: dropped
    let s = queue.stats();
    assert_eq!((s.dead_lettered, s.dropped), (1, 2));
    drop(dead);
    c.try_recv().unwrap().nack(Requeue::No); // mailbox gone: dropped
    let s = queue.stats();
    assert_eq!((s.dead_lettered, s.dropped, s.nacked), (1, 3, 4));
    assert_eq!(s.in_flight, 0);

    // No dead-letter mailbox at all.
    let queue = Dispatcher::<u32>::new();
    let mut c = queue.subscribe(Subscription::prefetch(1));
    queue.publisher().try_publish(7).unwrap();
    c.try_recv().unwrap().nack(Requeue::No);
    let s = queue.stats();
    assert_eq!(totals(&s), [1, 1, 0, 1, 0, 0, 1]);
}

#[test]
fn the_last_attempt_ends_in_the_dead_letter_mailbox_whether_nacked_or_dropped() {
    let (dlq, mut dead) = mailbox::bounded::<u32>(4);
    let queue = Dispatcher::<u32>::builder()
        .max_attempts(2)
        .dead_letter(dlq)
        .build();
    let mut c = queue.subscribe(Subscription::prefetch(1));
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    publisher.try_publish(2).unwrap();
    c.try_recv().unwrap().nack(Requeue::Yes);
    let again = c.try_recv().unwrap();
    assert_eq!((*again, again.attempt()), (1, 2));
    again.nack(Requeue::Yes); // the last attempt: no requeue
    assert_eq!(dead.try_recv(), Ok(1));
    drop(c.try_recv().unwrap()); // 2, first attempt: requeued
    drop(c.try_recv().unwrap()); // 2, second: dead-lettered
    assert_eq!(dead.try_recv(), Ok(2));
    let s = queue.stats();
    assert_eq!(totals(&s), [2, 4, 0, 4, 2, 2, 0]);
    assert_eq!((s.backlog, s.in_flight), (0, 0));
}

#[test]
fn a_dropped_consumer_leaves_the_list_and_its_deliveries_are_redelivered() {
    let queue = Dispatcher::<u32>::new();
    let mut a = queue.subscribe(Subscription::prefetch(2));
    let publisher = queue.publisher();
    for i in 0..2 {
        publisher.try_publish(i).unwrap();
    }
    let held = a.try_recv().unwrap(); // alive past its consumer
    drop(a);
    let s = queue.stats();
    assert!(s.consumers.is_empty());
    assert_eq!((s.backlog, s.in_flight), (2, 0));
    assert_eq!((s.published, s.delivered, s.acked), (2, 2, 0));
    held.ack(); // stale: counts nothing
    let after = queue.stats();
    assert_eq!(after.acked, 0);
    assert_eq!(totals(&after), totals(&s));
    let mut b = queue.subscribe(Subscription::prefetch(2));
    // Both assignments count as deliveries; only the one `a` received
    // comes back as a redelivery (the other was never seen: attempt 1).
    let s = queue.stats();
    assert_eq!(
        (s.delivered, s.redelivered, s.backlog, s.in_flight),
        (4, 1, 0, 2)
    );
    assert_eq!(counters(&s.consumers[0]), [2, 0, 0, 1, 0, 0]);
    for (expected, seen) in [(0, true), (1, false)] {
        let d = b.try_recv().unwrap();
        assert_eq!((*d, d.redelivered()), (expected, seen));
        assert_eq!(d.attempt(), if seen { 2 } else { 1 });
        d.ack();
    }
    assert_eq!(queue.stats().acked, 2);
}

#[test]
fn auto_ack_counts_on_receipt_and_frees_credit_at_once() {
    let queue = Dispatcher::<u32>::new();
    let mut c = queue.subscribe(Subscription::prefetch(1).auto_ack());
    let publisher = queue.publisher();
    for i in 0..3 {
        publisher.try_publish(i).unwrap();
    }
    let s = queue.stats();
    assert_eq!((s.delivered, s.acked, s.backlog, s.in_flight), (1, 0, 2, 1));
    let d = c.try_recv().unwrap();
    let s = queue.stats();
    assert_eq!((s.delivered, s.acked, s.backlog, s.in_flight), (2, 1, 1, 1));
    drop(d); // already acked: no nack, no redelivery
    let s = queue.stats();
    assert_eq!((s.nacked, s.redelivered), (0, 0));
    assert_eq!(s.consumers[0].acked, 1);
}

#[test]
fn broadcast_counts_each_consumer_copy() {
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Broadcast)
        .build();
    let mut a = queue.subscribe(Subscription::prefetch(2));
    let mut b = queue.subscribe(Subscription::prefetch(1));
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    publisher.try_publish(2).unwrap();
    let s = queue.stats();
    assert_eq!((s.published, s.delivered), (2, 3));
    assert_eq!(s.in_flight, 3);
    assert_eq!((s.consumers[0].backlog, s.consumers[1].backlog), (0, 1));
    a.try_recv().unwrap().ack();
    a.try_recv().unwrap().ack();
    b.try_recv().unwrap().nack(Requeue::Yes);
    let s = queue.stats();
    assert_eq!(counters(&s.consumers[0]), [2, 2, 0, 0, 0, 0]);
    assert_eq!(counters(&s.consumers[1]), [2, 0, 1, 1, 0, 0]);
    assert_eq!((s.acked, s.nacked, s.redelivered), (2, 1, 1));
    let again = b.try_recv().unwrap();
    assert_eq!((*again, again.attempt()), (1, 2));
}

#[test]
fn settings_changed_at_run_time_show_in_the_consumer_stats() {
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Weighted)
        .build();
    let c = queue.subscribe(Subscription::prefetch(3).weight(2).priority(4));
    c.set_prefetch(1);
    c.set_weight(7);
    let s = &queue.stats().consumers[0];
    assert_eq!((s.prefetch, s.weight, s.priority), (1, 7, 4));
    assert_eq!(c.prefetch(), 1);
}

#[test]
fn max_attempts_one_dead_letters_on_the_first_requeue() {
    let (dlq, mut dead) = mailbox::bounded::<u32>(2);
    let queue = Dispatcher::<u32>::builder()
        .max_attempts(1)
        .dead_letter(dlq)
        .build();
    let mut c = queue.subscribe(Subscription::prefetch(2));
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    publisher.try_publish(2).unwrap();
    c.try_recv().unwrap().nack(Requeue::Yes);
    drop(c.try_recv().unwrap());
    assert_eq!((dead.try_recv(), dead.try_recv()), (Ok(1), Ok(2)));
    let s = queue.stats();
    assert_eq!(totals(&s), [2, 2, 0, 2, 0, 2, 0]);
    assert_eq!((s.backlog, s.in_flight), (0, 0));
}

#[test]
fn settling_an_auto_acked_or_stale_delivery_again_counts_nothing() {
    let (dlq, mut dead) = mailbox::bounded::<u32>(4);
    let queue = Dispatcher::<u32>::builder().dead_letter(dlq).build();
    let mut auto = queue.subscribe(Subscription::prefetch(1).auto_ack());
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    auto.try_recv().unwrap().nack(Requeue::No);
    drop(auto);
    let mut c = queue.subscribe(Subscription::prefetch(1));
    publisher.try_publish(2).unwrap();
    let stale = c.try_recv().unwrap();
    drop(c);
    stale.nack(Requeue::No);
    let s = queue.stats();
    assert_eq!(totals(&s), [2, 2, 1, 0, 0, 0, 0]);
    assert_eq!((s.backlog, s.in_flight), (1, 0), "2 waits for a consumer");
    assert!(dead.try_recv().is_err());
}
