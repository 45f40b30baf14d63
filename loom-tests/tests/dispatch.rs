//! Loom models of the dispatcher: publish racing ack at prefetch 1, a
//! consumer drop racing dispatch, a nack racing another consumer's recv,
//! close racing publish, broadcast with one consumer out of credit, the
//! last consumer dropped with a backlog, a cancelled recv racing a
//! publish, a consumer dropped with deliveries in its recv buffer, and
//! acks made without the lock (also under Adaptive) racing their
//! consumer's recv, a waiting publisher, a consumer drop, close, and a
//! publish that collects them and reuses their slot; a stale delivery
//! settled while its message is redelivered; recv's swap of the ready
//! queue racing assignments; a delivery settled while its consumer and
//! dispatcher are dropped.
//! Messages are `Track`ed, so a message lost or leaked on any path fails
//! the model; except in the models of acks without the lock, which only
//! messages without drop glue take: those are plain `u32`s, and their
//! pooled slots are loom `Arc`s, so a leaked one still fails the model.
//!
//! Run with:
//! `RUSTFLAGS="--cfg flowgate_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --profile loom --target-dir target/loom -p flowgate-loom-tests --test dispatch`

use flowgate::dispatch::{
    Delivery, Dispatcher, Publisher, Requeue, Strategy, Subscription, TryPublishError,
};
use flowgate_loom_tests::{Track, block_on, model, thread};
use futures::FutureExt;
use std::time::Duration;

/// A model's message, numbered.
trait Payload: Send + Sync + 'static {
    fn new(n: u32) -> Self;
    fn number(&self) -> u32;
}

impl Payload for Track<u32> {
    fn new(n: u32) -> Self {
        Track::new(n)
    }
    fn number(&self) -> u32 {
        *self.get_ref()
    }
}

impl Payload for u32 {
    fn new(n: u32) -> Self {
        n
    }
    fn number(&self) -> u32 {
        *self
    }
}

/// The number of a delivered message.
fn id<M: Payload>(d: &Delivery<M>) -> u32 {
    (**d).number()
}

/// Every message acked (`acked` of them), nothing queued or in flight.
fn all_settled<M>(queue: &Dispatcher<M>, acked: u64) {
    let s = queue.stats();
    assert_eq!((s.acked, s.backlog, s.in_flight), (acked, 0, 0));
}

/// Publishes message `n`, which must find room.
fn put<M: Payload>(publisher: &Publisher<M>, n: u32) {
    publisher
        .try_publish(M::new(n))
        .unwrap_or_else(|_| panic!("no room for message {n}"));
}

/// Capacity 1, prefetch 1: the publisher waits on the backlog while the
/// consumer acks, which assigns the next message and wakes the publisher.
#[test]
fn publish_racing_ack_at_prefetch_one() {
    model(|| {
        let queue = Dispatcher::<Track<u32>>::builder().capacity(1).build();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        drop(queue);
        let producer = thread::spawn(move || {
            block_on(async {
                for n in 0..3 {
                    publisher.publish(Track::new(n)).await.unwrap();
                }
            })
        });
        block_on(async {
            for n in 0..3 {
                let d = consumer.recv().await.unwrap();
                assert_eq!((id(&d), d.redelivered()), (n, false));
                d.ack();
            }
            assert!(consumer.recv().await.is_none());
        });
        producer.join().unwrap();
    });
}

/// Consumer A is dropped (with a delivery still alive, acked afterwards)
/// while B acks and so triggers dispatch: A's message reaches B flagged, and
/// A's stale ack does nothing.
#[test]
fn consumer_drop_racing_dispatch() {
    model(|| {
        let queue = Dispatcher::<Track<u32>>::builder().build();
        let mut a = queue.subscribe(Subscription::prefetch(1));
        let mut b = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        for n in 0..2 {
            put(&publisher, n);
        }
        let dropper = thread::spawn(move || {
            let d = a.try_recv().unwrap();
            assert_eq!(id(&d), 0);
            drop(a);
            d.ack(); // stale: does nothing
        });
        block_on(async {
            let first = b.recv().await.unwrap();
            assert_eq!(id(&first), 1);
            first.ack();
            let moved = b.recv().await.unwrap();
            assert_eq!((id(&moved), moved.redelivered()), (0, true));
            moved.ack();
        });
        dropper.join().unwrap();
        all_settled(&queue, 2);
    });
}

/// A nacks its message while B waits in `recv`: the requeued message is
/// assigned to B (its turn) and B is woken.
#[test]
fn nack_racing_another_consumers_recv() {
    model(|| {
        let queue = Dispatcher::<Track<u32>>::builder().build();
        let mut a = queue.subscribe(Subscription::prefetch(1));
        let mut b = queue.subscribe(Subscription::prefetch(1));
        put(&queue.publisher(), 5);
        let waiter = thread::spawn(move || {
            let d = block_on(b.recv()).unwrap();
            assert_eq!((id(&d), d.attempt()), (5, 2));
            d.ack();
            b
        });
        a.try_recv().unwrap().nack(Requeue::Yes);
        let _b = waiter.join().unwrap();
        assert_eq!(queue.stats().acked, 1);
        drop(a);
    });
}

/// `close` races two publishes, the second waiting on a full backlog,
/// and the consumer draining the queue on a third thread: each message is
/// either accepted (and delivered) or handed back, and the consumer's
/// `recv` ends only after every accepted message (never hangs, never ends
/// early).
#[test]
fn close_racing_publish() {
    model(|| {
        let queue = Dispatcher::<Track<u32>>::builder().capacity(1).build();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        put(&publisher, 0);
        let producer = thread::spawn(move || {
            block_on(async {
                let one = publisher.publish(Track::new(1)).await.is_ok();
                let two = publisher.publish(Track::new(2)).await.is_ok();
                assert!(one || !two, "accepted after a refusal");
                u32::from(one) + u32::from(two)
            })
        });
        let closer = thread::spawn(move || queue.close());
        let mut got = Vec::new();
        while let Some(d) = block_on(consumer.recv()) {
            got.push(id(&d));
            d.ack();
        }
        let accepted = producer.join().unwrap();
        closer.join().unwrap();
        assert_eq!(got, (0..1 + accepted).collect::<Vec<_>>());
    });
}

/// Broadcast: consumer A has no credit while it holds message 0, so the
/// publisher of 1 and 2 waits on the backlog (capacity 1) until A acks;
/// both consumers get every message.
#[test]
fn broadcast_with_one_consumer_out_of_credit() {
    model(|| {
        let queue = Dispatcher::<Track<u32>>::builder()
            .capacity(1)
            .strategy(Strategy::Broadcast)
            .build();
        let mut a = queue.subscribe(Subscription::prefetch(1));
        let mut b = queue.subscribe(Subscription::prefetch(3));
        let publisher = queue.publisher();
        put(&publisher, 0);
        drop(queue);
        let producer = thread::spawn(move || {
            block_on(async {
                publisher.publish(Track::new(1)).await.unwrap();
                publisher.publish(Track::new(2)).await.unwrap();
            })
        });
        block_on(async {
            for n in 0..3 {
                let d = a.recv().await.unwrap();
                assert_eq!(id(&d), n);
                d.ack();
            }
        });
        producer.join().unwrap();
        for n in 0..3 {
            let d = b.try_recv().unwrap();
            assert_eq!(id(&d), n);
            d.ack();
        }
        assert!(block_on(a.recv()).is_none());
        assert!(block_on(b.recv()).is_none());
    });
}

/// The last consumer is dropped, holding a delivery, while a publisher
/// fills the backlog: nothing is lost; a new consumer gets everything that
/// was accepted and not acked, and what is left is freed with the queue.
#[test]
fn last_consumer_dropped_with_a_backlog() {
    model(|| {
        let queue = Dispatcher::<Track<u32>>::builder().capacity(2).build();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        let producer = thread::spawn(move || {
            let mut accepted = 0;
            for n in 0..3 {
                match publisher.try_publish(Track::new(n)) {
                    Ok(()) => accepted += 1,
                    Err(TryPublishError::Full(_)) => {}
                    Err(TryPublishError::Closed(_)) => unreachable!(),
                }
            }
            accepted
        });
        let held = consumer.try_recv().ok();
        drop(consumer);
        drop(held);
        let accepted = producer.join().unwrap();
        let s = queue.stats();
        assert_eq!(
            (s.published, s.backlog, s.in_flight),
            (accepted, accepted as usize, 0)
        );
        let mut late = queue.subscribe(Subscription::prefetch(1));
        let d = late.try_recv().unwrap(); // the first message, kept in order
        assert_eq!(id(&d), 0);
        d.ack();
        // The rest stays queued and is freed with the dispatcher.
    });
}

/// A `recv` polled to `Pending` and dropped while a publish assigns a
/// message to its consumer: the next `recv` gets the message.
#[test]
fn cancelled_recv_racing_publish() {
    model(|| {
        let queue = Dispatcher::<Track<u32>>::builder().build();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        let producer = thread::spawn(move || {
            put(&publisher, 1);
        });
        let first = consumer.recv().now_or_never();
        let d = match first {
            Some(d) => d.unwrap(),
            None => block_on(consumer.recv()).unwrap(),
        };
        assert_eq!(id(&d), 1);
        d.ack();
        producer.join().unwrap();
        drop(queue);
        assert!(block_on(consumer.recv()).is_none());
    });
}

/// A's one recv takes both of its deliveries (one handed out, one kept in
/// its buffer), then A is dropped while B acks and waits: both come back to
/// B, only the one A's application saw flagged redelivered.
#[test]
fn consumer_with_buffered_deliveries_dropped_racing_recv() {
    model(|| {
        let queue = Dispatcher::<Track<u32>>::builder().build();
        let mut a = queue.subscribe(Subscription::prefetch(2));
        let mut b = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        for n in 0..3 {
            put(&publisher, n);
        }
        // Round robin: A gets 0 and 2, B gets 1.
        let dropper = thread::spawn(move || {
            let d = a.try_recv().unwrap();
            assert_eq!(id(&d), 0);
            drop(a);
            d.ack(); // stale: does nothing
        });
        block_on(async {
            let mut got = Vec::new();
            for _ in 0..3 {
                let d = b.recv().await.unwrap();
                got.push((id(&d), d.attempt()));
                d.ack();
            }
            got.sort_unstable();
            assert_eq!(got, [(0, 2), (1, 1), (2, 1)]);
        });
        dropper.join().unwrap();
        all_settled(&queue, 3);
    });
}

// ----- acks without the lock ------------------------------------------

/// Another thread acks A's delivery (without the lock while nobody waits)
/// while A waits in `recv` for its next message, held back by prefetch 1:
/// however the ack and the recv's registration interleave, the ack is
/// settled and A is woken with the next message.
fn ack_racing_its_consumers_recv(queue: Dispatcher<u32>) {
    let mut a = queue.subscribe(Subscription::prefetch(1));
    let publisher = queue.publisher();
    for n in 0..2 {
        put(&publisher, n);
    }
    let first = a.try_recv().unwrap();
    assert_eq!(id(&first), 0);
    let acker = thread::spawn(move || first.ack());
    let next = block_on(a.recv()).unwrap();
    assert_eq!((id(&next), next.redelivered()), (1, false));
    next.ack();
    acker.join().unwrap();
    all_settled(&queue, 2);
}

#[test]
fn lock_free_ack_racing_its_consumers_recv() {
    model(|| ack_racing_its_consumers_recv(Dispatcher::builder().build()));
}

/// The same under Adaptive, whose acks also skip the lock (carrying their
/// times): the ack is settled and timed, and A gets the next message.
#[test]
fn adaptive_lock_free_ack_racing_its_consumers_recv() {
    model(|| {
        ack_racing_its_consumers_recv(
            Dispatcher::builder()
                .strategy(Strategy::Adaptive)
                .clock(|| Duration::from_millis(1))
                .build(),
        )
    });
}

/// Capacity 1, prefetch 2: the publisher of message 3 waits on the full
/// backlog while the consumer acks one of its two deliveries (keeping the
/// other): the ack must reach the core and the publisher must be let in.
#[test]
fn lock_free_ack_racing_a_waiting_publisher() {
    model(|| {
        let queue = Dispatcher::<u32>::builder().capacity(1).build();
        let mut c = queue.subscribe(Subscription::prefetch(2));
        let publisher = queue.publisher();
        for n in 0..3 {
            put(&publisher, n);
        }
        let producer = thread::spawn(move || {
            block_on(publisher.publish(3)).unwrap();
        });
        let d0 = c.try_recv().unwrap();
        let d1 = c.try_recv().unwrap();
        d0.ack();
        producer.join().unwrap();
        d1.ack();
        for n in 2..4 {
            let d = c.try_recv().unwrap();
            assert_eq!(id(&d), n);
            d.ack();
        }
        assert_eq!(queue.stats().acked, 4);
    });
}

/// A delivery read and acked (without the lock) on another thread while
/// its consumer is dropped, the queue closed and B drains it: the ack
/// either lands first (collected by the drop, the message acked once) or
/// is stale (the message was requeued and B gets it flagged, while the
/// stale delivery may still read it); never both, never lost.
#[test]
fn lock_free_ack_racing_consumer_drop() {
    model(|| {
        let queue = Dispatcher::<u32>::builder().build();
        let mut a = queue.subscribe(Subscription::prefetch(1));
        let mut b = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        for n in 7..9 {
            put(&publisher, n);
        }
        // Round robin: A gets 7, B gets 8.
        let d = a.try_recv().unwrap();
        let acker = thread::spawn(move || {
            assert_eq!(id(&d), 7);
            d.ack();
        });
        drop(a);
        queue.close();
        let mut got = Vec::new();
        while let Some(e) = block_on(b.recv()) {
            got.push((id(&e), e.redelivered()));
            e.ack();
        }
        acker.join().unwrap();
        assert!(
            got == [(8, false)] || got == [(8, false), (7, true)],
            "{got:?}"
        );
        all_settled(&queue, 2);
    });
}

/// The queue is closed while another thread acks the last delivery and
/// the consumer waits in `recv`: `recv` returns `None` once the ack is in
/// (never hangs, never ends early).
#[test]
fn lock_free_ack_racing_close_and_recv() {
    model(|| {
        let queue = Dispatcher::<u32>::builder().build();
        let mut c = queue.subscribe(Subscription::prefetch(2));
        put(&queue.publisher(), 1);
        let d = c.try_recv().unwrap();
        let acker = thread::spawn(move || d.ack());
        let closer = {
            let queue = queue.clone();
            thread::spawn(move || queue.close())
        };
        assert!(block_on(c.recv()).is_none());
        acker.join().unwrap();
        closer.join().unwrap();
        assert_eq!(queue.stats().acked, 1);
    });
}

/// A delivery read and acked without the lock on one thread while a
/// publish on another collects the ack and the consumer waits in `recv`
/// on a third: the publish settles it (or not yet), assigns the backlog's
/// next message, and may reuse the acked message's pooled slot for its
/// own message. The ack's reads of the
/// message must happen before that slot is written again (loom's cell
/// tracking fails the model otherwise), and no message is lost or dropped
/// twice.
#[test]
fn lock_free_ack_racing_publish_collect() {
    model(|| {
        let queue = Dispatcher::<u32>::builder().capacity(2).build();
        let mut c = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        for n in 0..2 {
            put(&publisher, n);
        }
        let d = c.try_recv().unwrap();
        let acker = thread::spawn(move || {
            assert_eq!(id(&d), 0);
            d.ack();
        });
        let producer = thread::spawn(move || {
            put(&publisher, 2);
        });
        for n in 1..3 {
            let d = block_on(c.recv()).unwrap();
            assert_eq!((id(&d), d.redelivered()), (n, false));
            d.ack();
        }
        acker.join().unwrap();
        producer.join().unwrap();
        all_settled(&queue, 3);
    });
}

/// A's consumer is dropped while its delivery of message 0 lives: the
/// stale delivery reads and settles its message on another thread while
/// B gets message 0 again, acks it, and a new publish may reuse a pooled
/// slot. The stale delivery's own count keeps its message alive and
/// unwritten until it lets go; the message is dropped once, after both.
#[test]
fn stale_delivery_settled_racing_redelivery() {
    model(|| {
        let queue = Dispatcher::<Track<u32>>::builder().build();
        let mut a = queue.subscribe(Subscription::prefetch(1));
        let mut b = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        for n in 0..2 {
            put(&publisher, n);
        }
        // Round robin: A gets 0, B gets 1.
        let stale = a.try_recv().unwrap();
        let first = b.try_recv().unwrap();
        assert_eq!((id(&stale), id(&first)), (0, 1));
        drop(a); // 0 goes back to the backlog; `stale` keeps reading it
        let settler = thread::spawn(move || {
            assert_eq!((id(&stale), stale.redelivered()), (0, false));
            stale.ack(); // stale: does nothing but let go
        });
        first.ack(); // B has credit again: 0 is redelivered to it
        let again = block_on(b.recv()).unwrap();
        assert_eq!((id(&again), again.redelivered()), (0, true));
        again.ack();
        put(&publisher, 2);
        let last = block_on(b.recv()).unwrap();
        assert_eq!((id(&last), last.redelivered()), (2, false));
        last.ack();
        settler.join().unwrap();
        all_settled(&queue, 3);
    });
}

/// Prefetch 3: a publisher assigns messages to the consumer while its
/// `recv`s take whatever is ready in one swap into their buffer and hand
/// it out without the lock: every message arrives once, in order.
#[test]
fn recv_swap_racing_assign() {
    model(|| {
        let queue = Dispatcher::<Track<u32>>::builder().build();
        let mut c = queue.subscribe(Subscription::prefetch(3));
        let publisher = queue.publisher();
        put(&publisher, 0);
        let producer = thread::spawn(move || {
            for n in 1..3 {
                put(&publisher, n);
            }
        });
        let mut held = Vec::new();
        for n in 0..3 {
            let d = block_on(c.recv()).unwrap();
            assert_eq!((id(&d), d.attempt()), (n, 1));
            held.push(d);
        }
        producer.join().unwrap();
        for d in held {
            d.ack();
        }
        drop(queue);
        assert!(block_on(c.recv()).is_none());
    });
}

/// VERIFICATION bug 8 (async-std #452), for the dispatcher: two consumers
/// wait in `recv` on their own threads while two messages are published
/// one after the other; each consumer is woken and gets one (round robin,
/// prefetch 1), neither sleeps with a message assigned to it.
#[test]
fn two_waiting_consumers_two_publishes_both_wake() {
    model(|| {
        let queue = Dispatcher::<Track<u32>>::builder().build();
        let publisher = queue.publisher();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let mut consumer = queue.subscribe(Subscription::prefetch(1));
                thread::spawn(move || {
                    let d = block_on(consumer.recv()).unwrap();
                    let n = id(&d);
                    d.ack();
                    (n, consumer)
                })
            })
            .collect();
        put(&publisher, 0);
        put(&publisher, 1);
        let mut got: Vec<u32> = Vec::new();
        let mut consumers = Vec::new();
        for waiter in waiters {
            let (n, consumer) = waiter.join().unwrap();
            got.push(n);
            consumers.push(consumer);
        }
        got.sort_unstable();
        assert_eq!(got, [0, 1]);
        all_settled(&queue, 2);
    });
}

/// A delivery acked (without the lock, or dropped: requeued under it) on
/// another thread while its consumer and every handle of its dispatcher
/// are dropped: whichever way it goes, the delivery's hold on its
/// consumer's state keeps that state alive exactly as long as it is used,
/// and everything is freed once (loom's `Arc`s fail the model on a leak).
#[test]
fn delivery_outlives_its_consumer_and_dispatcher() {
    for ack in [true, false] {
        model(move || {
            let queue = Dispatcher::<u32>::builder().build();
            let mut a = queue.subscribe(Subscription::prefetch(2));
            put(&queue.publisher(), 1);
            let d = a.try_recv().unwrap();
            let settler = thread::spawn(move || {
                assert_eq!(id(&d), 1);
                if ack {
                    d.ack();
                }
            });
            drop(a);
            drop(queue);
            settler.join().unwrap();
        });
    }
}
