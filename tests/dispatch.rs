//! Behaviour of `flowgate::dispatch`: assignment, prefetch, redelivery,
//! backlog bound, stats, close, auto-ack, priorities, auto traits.

use flowgate::dispatch::{
    Consumer, Delivery, Dispatcher, Publish, PublishError, Publisher, Recv, Requeue, Stats,
    Strategy, Subscription, TryPublishError, TryRecvError,
};
use futures::FutureExt;
use futures::executor::block_on;

fn recv_now<T>(consumer: &mut Consumer<T>) -> Delivery<T> {
    consumer.try_recv().expect("a delivery is ready")
}

fn stats<T>(queue: &Dispatcher<T>) -> Stats {
    queue.stats()
}

#[test]
fn seed_scenario_one_producer_three_consumers_prefetch_one_round_robin() {
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::RoundRobin)
        .build();
    let mut consumers: Vec<_> = (0..3)
        .map(|_| queue.subscribe(Subscription::prefetch(1)))
        .collect();
    let publisher = queue.publisher();
    for n in 0..6 {
        publisher.try_publish(n).unwrap();
    }
    // Eager: one each (prefetch 1), the rest waits in the backlog.
    let s = stats(&queue);
    assert_eq!((s.backlog, s.in_flight, s.delivered), (3, 3, 3));
    // Message i went to consumer i, in turn.
    let held: Vec<_> = consumers.iter_mut().map(recv_now).collect();
    assert_eq!(held.iter().map(|d| **d).collect::<Vec<_>>(), [0, 1, 2]);
    for c in &mut consumers {
        assert_eq!(c.try_recv().unwrap_err(), TryRecvError::Empty);
    }
    // The consumer that acks first gets the next message.
    let mut held = held.into_iter();
    let (d0, d1, d2) = (
        held.next().unwrap(),
        held.next().unwrap(),
        held.next().unwrap(),
    );
    d2.ack();
    assert_eq!(*recv_now(&mut consumers[2]), 3);
    d0.ack();
    assert_eq!(*recv_now(&mut consumers[0]), 4);
    d1.ack();
    assert_eq!(*recv_now(&mut consumers[1]), 5);
    // Lockstep: every consumer gets exactly a third.
    let queue = Dispatcher::<u32>::builder().capacity(3000).build();
    let mut consumers: Vec<_> = (0..3)
        .map(|_| queue.subscribe(Subscription::prefetch(1)))
        .collect();
    let publisher = queue.publisher();
    for n in 0..3000 {
        publisher.try_publish(n).unwrap();
    }
    for _ in 0..1000 {
        for c in &mut consumers {
            recv_now(c).ack();
        }
    }
    let s = stats(&queue);
    assert_eq!(s.acked, 3000);
    assert!(s.consumers.iter().all(|c| c.acked == 1000));
}

#[test]
fn round_robin_skips_consumers_without_credit() {
    let queue = Dispatcher::<u32>::new();
    let mut a = queue.subscribe(Subscription::prefetch(1));
    let mut b = queue.subscribe(Subscription::prefetch(3));
    let p = queue.publisher();
    for n in 0..4 {
        p.try_publish(n).unwrap();
    }
    // a: 0; b: 1, 2, 3 (a is full, so b takes the turns).
    assert_eq!(*recv_now(&mut a), 0);
    let got: Vec<u32> = (0..3).map(|_| *recv_now(&mut b)).collect();
    assert_eq!(got, [1, 2, 3]);
}

#[test]
fn prefetch_is_never_exceeded_and_assignment_is_eager() {
    let queue = Dispatcher::<u32>::new();
    let p = queue.publisher();
    for n in 0..5 {
        p.try_publish(n).unwrap();
    }
    assert_eq!(stats(&queue).backlog, 5);
    // Subscribing assigns at once, up to the prefetch.
    let mut c = queue.subscribe(Subscription::prefetch(2));
    let s = stats(&queue);
    assert_eq!(
        (s.backlog, s.in_flight, s.consumers[0].in_flight),
        (3, 2, 2)
    );
    let first = recv_now(&mut c);
    let second = recv_now(&mut c);
    assert_eq!(c.try_recv().unwrap_err(), TryRecvError::Empty);
    // An ack assigns the next one.
    first.ack();
    assert_eq!(stats(&queue).backlog, 2);
    let third = recv_now(&mut c);
    assert_eq!((*second, *third), (1, 2));
}

#[test]
fn set_prefetch_grows_at_once_and_shrinks_as_acked() {
    let queue = Dispatcher::<u32>::new();
    let mut c = queue.subscribe(Subscription::prefetch(1));
    let p = queue.publisher();
    for n in 0..6 {
        p.try_publish(n).unwrap();
    }
    assert_eq!(stats(&queue).in_flight, 1);
    c.set_prefetch(3);
    assert_eq!(stats(&queue).in_flight, 3);
    c.set_prefetch(1);
    assert_eq!(c.prefetch(), 1);
    let held: Vec<_> = (0..3).map(|_| recv_now(&mut c)).collect();
    assert_eq!(c.try_recv().unwrap_err(), TryRecvError::Empty);
    let mut held = held.into_iter();
    held.next().unwrap().ack();
    // 2 still unacked > prefetch 1: nothing new assigned.
    assert_eq!(stats(&queue).in_flight, 2);
    held.next().unwrap().ack();
    assert_eq!(stats(&queue).in_flight, 1);
    held.next().unwrap().ack();
    assert_eq!(stats(&queue).in_flight, 1);
    assert_eq!(*recv_now(&mut c), 3);
}

#[test]
fn backlog_bound_makes_publish_wait() {
    let queue = Dispatcher::<u32>::builder().capacity(2).build();
    let p = queue.publisher();
    p.try_publish(0).unwrap();
    p.try_publish(1).unwrap();
    assert_eq!(p.try_publish(2), Err(TryPublishError::Full(2)));
    let mut waiting = p.publish(2);
    assert!((&mut waiting).now_or_never().is_none());
    // A waiting publisher also blocks try_publish (FIFO).
    assert!(p.try_publish(9).unwrap_err().is_full());
    let mut c = queue.subscribe(Subscription::prefetch(1));
    // One message left the backlog: the waiting publish completes.
    assert_eq!((&mut waiting).now_or_never(), Some(Ok(())));
    let s = stats(&queue);
    assert_eq!((s.published, s.backlog, s.in_flight), (3, 2, 1));
    for n in 0..3 {
        let d = recv_now(&mut c);
        assert_eq!(*d, n);
        d.ack();
    }
}

#[test]
fn a_thousand_cloned_publishers_get_exactly_capacity() {
    let queue = Dispatcher::<u32>::builder().capacity(8).build();
    let publishers: Vec<Publisher<u32>> = (0..1000).map(|_| queue.publisher()).collect();
    let accepted = publishers
        .iter()
        .enumerate()
        .filter(|(n, p)| p.try_publish(*n as u32).is_ok())
        .count();
    assert_eq!(accepted, 8);
    assert_eq!(stats(&queue).backlog, 8);
}

#[test]
fn dropped_delivery_is_requeued_at_the_front_and_flagged() {
    let queue = Dispatcher::<u32>::new();
    let mut c = queue.subscribe(Subscription::prefetch(1));
    let p = queue.publisher();
    p.try_publish(1).unwrap();
    p.try_publish(2).unwrap();
    let d = recv_now(&mut c);
    assert_eq!((*d, d.attempt(), d.redelivered()), (1, 1, false));
    drop(d);
    let d = recv_now(&mut c);
    assert_eq!((*d, d.attempt(), d.redelivered()), (1, 2, true));
    d.nack(Requeue::Yes);
    let d = recv_now(&mut c);
    assert_eq!((*d, d.attempt()), (1, 3));
    d.ack();
    let d = recv_now(&mut c);
    assert_eq!((*d, d.attempt(), d.redelivered()), (2, 1, false));
    d.ack();
    let s = stats(&queue);
    assert_eq!(
        (s.published, s.delivered, s.acked, s.nacked, s.redelivered),
        (2, 4, 2, 2, 2)
    );
    assert_eq!((s.consumers[0].redelivered, s.consumers[0].nacked), (2, 2));
}

#[test]
fn dropping_a_consumer_requeues_live_deliveries_which_become_stale() {
    let queue = Dispatcher::<String>::new();
    let p = queue.publisher();
    let mut a = queue.subscribe(Subscription::prefetch(2));
    p.try_publish("x".to_owned()).unwrap();
    p.try_publish("y".to_owned()).unwrap();
    p.try_publish("z".to_owned()).unwrap();
    let stale = recv_now(&mut a); // "x", received and alive
    drop(a); // "x" and the unreceived "y" go back to the front, in order
    let s = stats(&queue);
    assert_eq!((s.backlog, s.in_flight), (3, 0));
    assert_eq!(*stale, "x"); // still readable
    let mut b = queue.subscribe(Subscription::prefetch(3));
    let x = recv_now(&mut b);
    let y = recv_now(&mut b);
    let z = recv_now(&mut b);
    assert_eq!((x.as_str(), x.redelivered(), x.attempt()), ("x", true, 2));
    // "y" was never handed out: not a redelivery.
    assert_eq!((y.as_str(), y.redelivered()), ("y", false));
    assert_eq!(z.as_str(), "z");
    // The message is shared with the stale delivery while it lives.
    assert_eq!(x.ack_take(), None);
    assert_eq!(stats(&queue).acked, 1);
    // The stale delivery's ack does nothing.
    stale.ack();
    let s = stats(&queue);
    assert_eq!((s.acked, s.in_flight), (1, 2));
    y.ack();
    assert_eq!(z.ack_take().as_deref(), Some("z"));
    assert_eq!(stats(&queue).acked, 3);
}

/// A stale delivery (its consumer dropped, its message redelivered and
/// acked elsewhere) keeps its message while the queue recycles its slots
/// for new messages, lock-free acks included; it lets go when dropped.
#[test]
fn stale_delivery_keeps_its_message_while_slots_are_recycled() {
    let queue = Dispatcher::<String>::builder().capacity(4).build();
    let p = queue.publisher();
    let mut a = queue.subscribe(Subscription::prefetch(2));
    p.try_publish("old".to_owned()).unwrap();
    let stale = recv_now(&mut a);
    drop(a);
    let mut b = queue.subscribe(Subscription::prefetch(2));
    let again = recv_now(&mut b);
    assert_eq!((again.as_str(), again.attempt()), ("old", 2));
    again.ack(); // lock-free: no one waits
    for round in 0..20 {
        p.try_publish(format!("new {round}")).unwrap();
        p.try_publish(format!("new {round}'")).unwrap();
        let one = recv_now(&mut b);
        let two = recv_now(&mut b);
        assert!(one.starts_with("new") && two.starts_with("new"));
        one.ack();
        two.ack();
        assert_eq!(*stale, "old");
    }
    let s = stats(&queue);
    assert_eq!((s.acked, s.in_flight, s.backlog), (41, 0, 0));
    drop(stale);
    assert_eq!(stats(&queue).acked, 41);
}

#[test]
fn stale_nack_and_drop_do_nothing() {
    let queue = Dispatcher::<u32>::new();
    let p = queue.publisher();
    let mut a = queue.subscribe(Subscription::prefetch(2));
    p.try_publish(1).unwrap();
    p.try_publish(2).unwrap();
    let s1 = recv_now(&mut a);
    let s2 = recv_now(&mut a);
    drop(a);
    s1.nack(Requeue::No);
    drop(s2);
    let s = stats(&queue);
    assert_eq!(
        (s.backlog, s.nacked, s.dropped, s.dead_lettered),
        (2, 0, 0, 0)
    );
}

#[test]
fn max_attempts_then_dropped_and_counted_without_dead_letter_mailbox() {
    let queue = Dispatcher::<u32>::builder().max_attempts(2).build();
    let mut c = queue.subscribe(Subscription::prefetch(1));
    queue.publisher().try_publish(7).unwrap();
    drop(recv_now(&mut c));
    let last = recv_now(&mut c);
    assert_eq!(last.attempt(), 2);
    drop(last);
    assert_eq!(c.try_recv().unwrap_err(), TryRecvError::Empty);
    let s = stats(&queue);
    assert_eq!(
        (s.dropped, s.dead_lettered, s.backlog, s.in_flight),
        (1, 0, 0, 0)
    );
    assert_eq!(s.consumers[0].dropped, 1);
}

#[test]
fn consumer_drop_counts_an_attempt_for_received_deliveries() {
    let queue = Dispatcher::<u32>::builder().max_attempts(1).build();
    let p = queue.publisher();
    let mut a = queue.subscribe(Subscription::prefetch(2));
    p.try_publish(1).unwrap();
    p.try_publish(2).unwrap();
    let held = recv_now(&mut a); // 1: its only attempt is used
    drop(a); // 1 is dropped (last attempt), 2 is requeued (never received)
    assert_eq!(stats(&queue).backlog, 1);
    // 1 is still readable through the stale delivery; it is counted as
    // dropped when that delivery lets go of it.
    assert_eq!(*held, 1);
    assert_eq!(stats(&queue).dropped, 0);
    drop(held);
    assert_eq!(stats(&queue).dropped, 1);
}

#[test]
fn auto_ack_counts_on_receipt_and_never_redelivers() {
    let queue = Dispatcher::<u32>::new();
    let mut c = queue.subscribe(Subscription::prefetch(2).auto_ack());
    let p = queue.publisher();
    for n in 0..4 {
        p.try_publish(n).unwrap();
    }
    assert_eq!(stats(&queue).in_flight, 2);
    let d = recv_now(&mut c);
    // Receipt freed the credit: the next message is assigned at once.
    let s = stats(&queue);
    assert_eq!((s.acked, s.in_flight, s.backlog), (1, 2, 1));
    drop(d); // no requeue
    d_ack_nack_noop(recv_now(&mut c));
    let s = stats(&queue);
    assert_eq!((s.acked, s.nacked, s.redelivered), (2, 0, 0));
    assert_eq!(recv_now(&mut c).ack_take(), Some(2));
}

fn d_ack_nack_noop(d: Delivery<u32>) {
    d.nack(Requeue::Yes);
}

#[test]
fn stats_count_everything() {
    let queue = Dispatcher::<u32>::new();
    let mut c = queue.subscribe(Subscription::prefetch(4).weight(2).priority(5));
    let p = queue.publisher();
    for n in 0..6 {
        p.try_publish(n).unwrap();
    }
    recv_now(&mut c).ack();
    recv_now(&mut c).nack(Requeue::Yes);
    recv_now(&mut c).nack(Requeue::No);
    let s = stats(&queue);
    assert_eq!(s.published, 6);
    assert_eq!(s.acked, 1);
    assert_eq!(s.nacked, 2);
    assert_eq!(s.dropped, 1);
    assert_eq!(s.redelivered, 1);
    assert_eq!(s.delivered, 4 + 3);
    assert_eq!(s.in_flight, 4);
    assert_eq!(s.backlog, 0);
    let cs = &s.consumers[0];
    assert_eq!(
        (cs.id, cs.prefetch, cs.weight, cs.priority),
        (c.id(), 4, 2, 5)
    );
    assert_eq!(
        (cs.delivered, cs.acked, cs.nacked, cs.in_flight),
        (7, 1, 2, 4)
    );
    drop(c);
    assert!(stats(&queue).consumers.is_empty());
}

#[test]
fn priorities_serve_higher_consumers_while_they_have_credit() {
    let queue = Dispatcher::<u32>::new();
    let mut low = queue.subscribe(Subscription::prefetch(10).priority(0));
    let mut high = queue.subscribe(Subscription::prefetch(2).priority(5));
    let p = queue.publisher();
    for n in 0..5 {
        p.try_publish(n).unwrap();
    }
    let s = stats(&queue);
    let by_id = |id| s.consumers.iter().find(|c| c.id == id).unwrap().delivered;
    assert_eq!((by_id(high.id()), by_id(low.id())), (2, 3));
    recv_now(&mut high).ack();
    p.try_publish(5).unwrap();
    // The freed high-priority credit takes the new message.
    assert_eq!(*recv_now(&mut high), 1);
    assert_eq!(*recv_now(&mut high), 5);
    assert_eq!(*recv_now(&mut low), 2);
}

#[test]
fn close_hands_messages_back_and_consumers_drain() {
    let queue = Dispatcher::<u32>::builder().capacity(1).build();
    let p = queue.publisher();
    p.try_publish(1).unwrap();
    let mut waiting = p.publish(2);
    assert!((&mut waiting).now_or_never().is_none());
    queue.close();
    assert!(queue.is_closed() && p.is_closed());
    assert_eq!((&mut waiting).now_or_never(), Some(Err(PublishError(2))));
    assert_eq!(p.try_publish(3), Err(TryPublishError::Closed(3)));
    assert_eq!(block_on(p.publish(4)), Err(PublishError(4)));
    // The backlog is still delivered after close.
    let mut a = queue.subscribe(Subscription::prefetch(1));
    let mut b = queue.subscribe(Subscription::prefetch(1));
    let d = recv_now(&mut a);
    // b must wait: a's delivery could still come back to it.
    let mut b_recv = b.recv();
    assert!((&mut b_recv).now_or_never().is_none());
    d.nack(Requeue::Yes);
    let d = block_on(b_recv).or_else(|| a.try_recv().ok()).unwrap();
    let mut a_recv = a.recv();
    assert!((&mut a_recv).now_or_never().is_none());
    d.ack();
    assert!(block_on(a_recv).is_none());
    assert!(block_on(b.recv()).is_none());
    assert_eq!(b.try_recv().unwrap_err(), TryRecvError::Closed);
}

#[test]
fn dropping_every_publisher_and_handle_closes() {
    let queue = Dispatcher::<u32>::new();
    let mut c = queue.subscribe(Subscription::prefetch(1));
    let p = queue.publisher();
    let q2 = queue.clone();
    drop(queue);
    p.try_publish(1).unwrap();
    drop(p);
    assert_eq!(c.try_recv().map(|d| d.ack_take()), Ok(Some(1)));
    assert_eq!(c.try_recv().unwrap_err(), TryRecvError::Empty);
    drop(q2);
    assert!(block_on(c.recv()).is_none());
}

#[test]
fn consumers_do_not_keep_the_dispatcher_open() {
    let queue = Dispatcher::<u32>::new();
    let mut c = queue.subscribe(Subscription::prefetch(1));
    let p = queue.publisher();
    let mut recv = c.recv();
    assert!((&mut recv).now_or_never().is_none());
    drop(queue);
    drop(p); // last handle: closes and wakes the waiting consumer
    assert!(block_on(recv).is_none());
}

#[test]
fn stream_of_deliveries() {
    use futures::StreamExt;
    let queue = Dispatcher::<u32>::new();
    let c = queue.subscribe(Subscription::prefetch(4));
    let p = queue.publisher();
    for n in 0..3 {
        p.try_publish(n).unwrap();
    }
    drop((p, queue));
    let got: Vec<u32> = block_on(c.map(|d| d.ack_take().unwrap()).collect());
    assert_eq!(got, [0, 1, 2]);
}

#[test]
fn consumer_stream_is_fused_once_recv_gives_none() {
    use futures::StreamExt;
    use futures::stream::FusedStream;
    let queue = Dispatcher::<u32>::new();
    let mut c = queue.subscribe(Subscription::prefetch(4));
    let p = queue.publisher();
    p.try_publish(7).unwrap();
    queue.close();
    // Closed but a message is left: not terminated yet.
    assert!(!c.is_terminated());
    let d = recv_now(&mut c);
    assert!(!c.is_terminated());
    // Unacked: still not over (a nack could bring it back).
    assert!(c.recv().now_or_never().is_none());
    assert!(!c.is_terminated());
    d.ack();
    assert!(block_on(c.recv()).is_none());
    assert!(c.is_terminated());
    // In a `select!`, a terminated consumer is skipped rather than polled.
    let (tx, mut rx) = flowgate::mailbox::bounded::<u32>(1);
    tx.try_send(1).unwrap();
    let got = block_on(async {
        futures::select! {
            d = c.next() => d.map(|d| *d),
            n = rx.next() => n,
        }
    });
    assert_eq!(got, Some(1));
    drop(p);
}

#[test]
fn threads_end_to_end() {
    let queue = Dispatcher::<u64>::builder().capacity(16).build();
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let mut c = queue.subscribe(Subscription::prefetch(2));
            std::thread::spawn(move || {
                block_on(async {
                    let mut sum = 0;
                    while let Some(d) = c.recv().await {
                        sum += *d;
                        d.ack();
                    }
                    sum
                })
            })
        })
        .collect();
    let p = queue.publisher();
    drop(queue);
    block_on(async {
        for n in 1..=10_000u64 {
            p.publish(n).await.unwrap();
        }
    });
    drop(p);
    let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(total, 10_000 * 10_001 / 2);
}

#[test]
#[should_panic(expected = "prefetch must be at least 1")]
fn zero_prefetch_panics() {
    let _ = Subscription::prefetch(0);
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn zero_capacity_panics() {
    let _ = Dispatcher::<u32>::builder().capacity(0);
}

#[test]
fn errors_hand_values_back_and_display() {
    let e = TryPublishError::Full(String::from("m"));
    assert!(e.is_full() && !e.is_closed());
    assert_eq!(format!("{e:?}"), "Full(..)");
    assert_eq!(e.to_string(), "dispatcher backlog is full");
    assert_eq!(e.into_inner(), "m");
    let e = PublishError(String::from("m"));
    assert_eq!(format!("{e:?}"), "PublishError(..)");
    assert_eq!(
        TryPublishError::from(e),
        TryPublishError::Closed(String::from("m"))
    );
    let _: &dyn std::error::Error = &TryRecvError::Empty;
}

#[test]
fn auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    fn unpin<T: Unpin>() {}
    // Not Sync/Unpin-dependent on T beyond Send + Sync.
    struct NotUnpin(std::marker::PhantomPinned);
    send_sync::<Dispatcher<NotUnpin>>();
    send_sync::<Publisher<NotUnpin>>();
    send_sync::<Consumer<NotUnpin>>();
    send_sync::<Delivery<NotUnpin>>();
    send::<Publish<'static, NotUnpin>>();
    send_sync::<Recv<'static, NotUnpin>>();
    unpin::<Dispatcher<NotUnpin>>();
    unpin::<Publisher<NotUnpin>>();
    unpin::<Consumer<NotUnpin>>();
    unpin::<Delivery<NotUnpin>>();
    unpin::<Publish<'static, NotUnpin>>();
    unpin::<Recv<'static, NotUnpin>>();
    send_sync::<Stats>();
    send_sync::<Subscription>();
    send_sync::<PublishError<NotUnpin>>();
    send_sync::<TryPublishError<NotUnpin>>();
}

#[test]
fn dead_letters_go_to_the_mailbox_without_waiting() {
    use flowgate::mailbox;
    let (dlq, mut dead) = mailbox::bounded::<u32>(2);
    let queue = Dispatcher::<u32>::builder()
        .max_attempts(2)
        .dead_letter(dlq)
        .build();
    let mut c = queue.subscribe(Subscription::prefetch(1));
    let p = queue.publisher();
    for n in 0..4 {
        p.try_publish(n).unwrap();
    }
    recv_now(&mut c).nack(Requeue::No); // 0: dead-lettered at once
    drop(recv_now(&mut c)); // 1: attempt 1 of 2, requeued
    let again = recv_now(&mut c);
    assert_eq!((*again, again.attempt()), (1, 2));
    again.nack(Requeue::Yes); // last attempt: dead-lettered
    // The mailbox (capacity 2) is full now: 2 is dropped and counted.
    recv_now(&mut c).nack(Requeue::No);
    let s = stats(&queue);
    assert_eq!((s.dead_lettered, s.dropped), (2, 1));
    assert_eq!(
        (s.consumers[0].dead_lettered, s.consumers[0].dropped),
        (2, 1)
    );
    assert_eq!(dead.try_recv().unwrap(), 0);
    assert_eq!(dead.try_recv().unwrap(), 1);
    // A closed mailbox: dropped and counted too.
    dead.close();
    recv_now(&mut c).nack(Requeue::No);
    let s = stats(&queue);
    assert_eq!(
        (s.dead_lettered, s.dropped, s.backlog, s.in_flight),
        (2, 2, 0, 0)
    );
    assert_eq!(s.published, s.acked + s.dead_lettered + s.dropped);
}

#[test]
fn dead_letter_of_a_message_shared_with_a_stale_delivery_waits_for_it() {
    use flowgate::mailbox;
    let (dlq, mut dead) = mailbox::bounded::<u32>(4);
    let queue = Dispatcher::<u32>::builder().dead_letter(dlq).build();
    let mut a = queue.subscribe(Subscription::prefetch(1));
    queue.publisher().try_publish(3).unwrap();
    let stale = recv_now(&mut a);
    drop(a);
    let mut b = queue.subscribe(Subscription::prefetch(1));
    recv_now(&mut b).nack(Requeue::No);
    // The stale delivery still reads the message; it is sent on when that
    // delivery lets go.
    assert!(dead.try_recv().is_err());
    assert_eq!(*stale, 3);
    drop(stale);
    assert_eq!(dead.try_recv().unwrap(), 3);
    assert_eq!(stats(&queue).dead_lettered, 1);
}

#[test]
fn dropping_a_consumer_requeues_what_it_never_handed_out_as_first_deliveries() {
    // One recv takes every ready delivery from the queue at once; those the
    // application never saw are requeued unflagged, the one it saw flagged.
    let queue = Dispatcher::<u32>::new();
    let mut a = queue.subscribe(Subscription::prefetch(4));
    let p = queue.publisher();
    for n in 0..4 {
        p.try_publish(n).unwrap();
    }
    let seen = recv_now(&mut a);
    assert_eq!((*seen, stats(&queue).in_flight), (0, 4));
    drop(a);
    assert_eq!(stats(&queue).backlog, 4);
    let mut b = queue.subscribe(Subscription::prefetch(4));
    let got: Vec<_> = (0..4)
        .map(|_| {
            let d = recv_now(&mut b);
            let out = (*d, d.attempt(), d.redelivered());
            d.ack();
            out
        })
        .collect();
    assert_eq!(
        got,
        [(0, 2, true), (1, 1, false), (2, 1, false), (3, 1, false)]
    );
    drop(seen); // stale: does nothing
    let s = stats(&queue);
    assert_eq!(
        (s.acked, s.redelivered, s.in_flight, s.backlog),
        (4, 1, 0, 0)
    );
}

/// A delivery outlives its consumer and every handle of its dispatcher,
/// however it ends: it still reads its message, and its ack, nack or drop
/// (with or without the lock, auto-ack or not) frees what it held (miri
/// checks the memory).
#[test]
fn deliveries_outlive_their_consumer_and_dispatcher() {
    fn outlive<T: PartialEq + std::fmt::Debug>(
        sub: Subscription,
        make: impl Fn(u32) -> T,
        end: impl Fn(Delivery<T>),
    ) {
        let queue = Dispatcher::<T>::new();
        let mut consumer = queue.subscribe(sub);
        let publisher = queue.publisher();
        for n in 0..3 {
            publisher.try_publish(make(n)).unwrap();
        }
        let deliveries: Vec<_> = (0..2).map(|_| recv_now(&mut consumer)).collect();
        drop((consumer, publisher, queue));
        for (n, d) in (0..).zip(deliveries) {
            assert_eq!(*d, make(n));
            end(d);
        }
    }
    for sub in [
        Subscription::prefetch(4),
        Subscription::prefetch(4).auto_ack(),
    ] {
        outlive(sub, |n| n, Delivery::ack);
        outlive(sub, |n| n, drop);
        outlive(sub, |n| n, |d| d.nack(Requeue::Yes));
        outlive(sub, |n| n.to_string(), Delivery::ack);
        outlive(sub, |n| n.to_string(), |d| drop(d.ack_take()));
        outlive(sub, |n| n.to_string(), drop);
    }
    // Acked without the lock before the consumer goes: the consumer's
    // drop collects it; the delivery holds nothing any more.
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(2));
    queue.publisher().try_publish(1).unwrap();
    let d = recv_now(&mut consumer);
    d.ack();
    drop(consumer);
    assert_eq!(stats(&queue).acked, 1);
}

/// A delivery acked without the lock on another thread while its consumer
/// is dropped: everything the ack reads after publishing its bit (its
/// consumer's ack word, to raise the pending-acks mask) must stay alive
/// until it returns, whoever frees it. Miri's race detector sees a read
/// the drop's free is not ordered after in most rounds; loom does not
/// track plain reads.
#[test]
fn lock_free_ack_racing_consumer_drop_touches_nothing_freed() {
    let rounds = if cfg!(miri) { 40 } else { 2_000 };
    // Room for every message, should each ack find itself stale.
    let queue = Dispatcher::<u32>::builder().capacity(4_096).build();
    let publisher = queue.publisher();
    for n in 0..rounds {
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        publisher.try_publish(n).unwrap();
        let d = recv_now(&mut consumer);
        let start = std::sync::Arc::new(std::sync::Barrier::new(2));
        let acker = std::thread::spawn({
            let start = std::sync::Arc::clone(&start);
            move || {
                start.wait();
                d.ack();
            }
        });
        start.wait();
        drop(consumer);
        acker.join().unwrap();
    }
    // Each message was acked once, or requeued by the drop (the ack then
    // stale) and is still queued.
    let s = stats(&queue);
    assert_eq!(s.acked + s.backlog as u64, u64::from(rounds));
}
