//! A message whose `Drop` panics while the mailbox drains (tokio's
//! `drop_all_elements_during_panic`): draining goes on while unwinding,
//! every message is dropped exactly once and at once, and then the panic
//! reaches the caller.

use flowgate::mailbox::{self, Builder, Overflow};
use futures::FutureExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts its drops; panics in its drop if `panics`.
struct Msg {
    drops: Arc<AtomicUsize>,
    panics: bool,
}

impl Drop for Msg {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.panics {
            panic!("a message's drop panicked");
        }
    }
}

fn msgs(drops: &Arc<AtomicUsize>, panicking: usize, n: usize) -> Vec<Msg> {
    (0..n)
        .map(|i| Msg {
            drops: Arc::clone(drops),
            panics: i == panicking,
        })
        .collect()
}

/// `Receiver::drop` drains every buffered message though the first one's
/// drop panics, while senders live on (so nothing else drops them later).
#[test]
fn receiver_drop_keeps_draining_through_a_panic() {
    for panicking in 0..4 {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mailbox::bounded(4);
        for msg in msgs(&drops, panicking, 4) {
            assert!(tx.try_send(msg).is_ok());
        }
        let weak = tx.downgrade();
        let unwound = catch_unwind(AssertUnwindSafe(|| drop(rx)));
        assert!(unwound.is_err(), "the panic goes on to the caller");
        assert_eq!(drops.load(Ordering::SeqCst), 4, "each dropped once, now");
        assert!(tx.is_closed());
        drop((tx, weak));
        assert_eq!(drops.load(Ordering::SeqCst), 4, "none dropped twice");
    }
}

/// The same under `DropOldest` (the receiver pops by compare-and-swap).
#[test]
fn receiver_drop_keeps_draining_through_a_panic_drop_oldest() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = Builder::new(3).overflow(Overflow::DropOldest).build();
    for msg in msgs(&drops, 1, 3) {
        assert!(tx.try_send(msg).is_ok());
    }
    assert!(catch_unwind(AssertUnwindSafe(|| drop(rx))).is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    drop(tx);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

/// Messages sent through permits after the receiver is gone are dropped by
/// the last handle (the ring's own drain), through a panic too.
#[test]
fn last_handle_drains_through_a_panic() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mailbox::bounded(3);
    let permits: Vec<_> = (0..3)
        .map(|_| tx.clone().reserve_owned().now_or_never().unwrap().unwrap())
        .collect();
    drop(rx);
    let senders: Vec<_> = permits
        .into_iter()
        .zip(msgs(&drops, 0, 3))
        .map(|(permit, msg)| permit.send(msg))
        .collect();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    let unwound = catch_unwind(AssertUnwindSafe(|| drop((tx, senders))));
    assert!(unwound.is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

/// An eviction under `DropOldest` drops the evicted message after the new
/// one is in: its panic reaches the sender, and the mailbox holds the new
/// message, each dropped once.
#[test]
fn eviction_panic_leaves_the_new_message_in() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = Builder::new(1).overflow(Overflow::DropOldest).build();
    let mut all = msgs(&drops, 0, 2).into_iter();
    assert!(tx.try_send(all.next().unwrap()).is_ok());
    let second = all.next().unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| tx.try_send(second))).is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(rx.dropped(), 1);
    let Ok(kept) = rx.try_recv() else {
        panic!("the new message is not in");
    };
    assert!(!kept.panics);
    drop(kept);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    // The mailbox still works.
    drop(tx);
    assert!(rx.try_recv().is_err());
}
