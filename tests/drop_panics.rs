//! A message whose `Drop` panics does not stop a drain: every other message
//! is still dropped, exactly once, and the panic goes on to the caller
//! (tokio's `drop_all_elements_during_panic`). The mailbox's drains are
//! covered in `tests/mailbox_drop_panics.rs`.

use flowgate::dispatch::{Dispatcher, Requeue, Subscription};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts its drops in a shared tally per id; panics when dropped if told.
struct Msg {
    id: usize,
    panics: bool,
    drops: Arc<Vec<AtomicUsize>>,
}

impl Drop for Msg {
    fn drop(&mut self) {
        self.drops[self.id].fetch_add(1, Ordering::SeqCst);
        if self.panics {
            panic!("message {} panics in drop", self.id);
        }
    }
}

fn tally(n: usize) -> Arc<Vec<AtomicUsize>> {
    Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect())
}

fn counts(drops: &[AtomicUsize]) -> Vec<usize> {
    drops.iter().map(|d| d.load(Ordering::SeqCst)).collect()
}

#[test]
fn dropping_the_dispatcher_drops_every_queued_message_once_despite_a_panic() {
    let drops = tally(5);
    let queue = Dispatcher::<Msg>::builder().capacity(8).build();
    let publisher = queue.publisher();
    for id in 0..5 {
        let msg = Msg {
            id,
            panics: id == 1,
            drops: Arc::clone(&drops),
        };
        assert!(publisher.try_publish(msg).is_ok());
    }
    let result = catch_unwind(AssertUnwindSafe(move || {
        drop(publisher);
        drop(queue); // the last handle: the backlog drains here
    }));
    assert!(result.is_err(), "the message's panic reaches the caller");
    assert_eq!(counts(&drops), [1, 1, 1, 1, 1]);
}

#[test]
fn a_consumer_dropped_with_assigned_messages_and_a_panicking_one() {
    let drops = tally(4);
    let queue = Dispatcher::<Msg>::builder().capacity(8).build();
    let publisher = queue.publisher();
    let consumer = queue.subscribe(Subscription::prefetch(4));
    for id in 0..4 {
        let msg = Msg {
            id,
            panics: id == 0,
            drops: Arc::clone(&drops),
        };
        assert!(publisher.try_publish(msg).is_ok());
    }
    // Assigned to the consumer, never received: requeued, not dropped.
    drop(consumer);
    assert_eq!(counts(&drops), [0, 0, 0, 0]);
    assert_eq!(queue.stats().backlog, 4);
    let result = catch_unwind(AssertUnwindSafe(move || drop((publisher, queue))));
    assert!(result.is_err());
    assert_eq!(counts(&drops), [1, 1, 1, 1]);
}

#[test]
fn a_panicking_rejected_message_leaves_the_dispatcher_usable() {
    let drops = tally(3);
    let queue = Dispatcher::<Msg>::builder().capacity(8).build();
    let publisher = queue.publisher();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    for id in 0..3 {
        let msg = Msg {
            id,
            panics: id == 0,
            drops: Arc::clone(&drops),
        };
        assert!(publisher.try_publish(msg).is_ok());
    }
    let first = consumer.try_recv().unwrap();
    // No dead-letter mailbox: the rejected message is dropped, after the
    // lock is released, and its panic reaches the caller of `nack`.
    let result = catch_unwind(AssertUnwindSafe(|| first.nack(Requeue::No)));
    assert!(result.is_err());
    assert_eq!(counts(&drops), [1, 0, 0]);
    // The lock was not held (nor poisoned into a hang): the queue goes on.
    let second = consumer.try_recv().unwrap();
    assert_eq!(second.id, 1);
    second.ack();
    let stats = queue.stats();
    assert_eq!((stats.acked, stats.dropped), (1, 1));
    drop((consumer, publisher, queue));
    assert_eq!(counts(&drops), [1, 1, 1]);
}
