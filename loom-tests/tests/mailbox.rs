//! Loom models of the mailbox: send/recv at full and empty, close racing
//! send, receiver drop with buffered messages (leaks caught by `Track`),
//! cancelled recv racing a send, a permit dropped racing a waiting sender,
//! `DropOldest` racing recv, pushes racing a parking receiver (the
//! fence-free push wake-up), one `recv_many` freeing two slots for two
//! waiting senders, the receiver's drop racing a `DropOldest` eviction
//! (bug 11), a re-polled sender whose old waker owns a permit racing a
//! receive (bug 13), and VERIFICATION bugs 3, 6, 8 and 9.
//!
//! Run with:
//! `RUSTFLAGS="--cfg flowgate_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --profile loom --target-dir target/loom -p flowgate-loom-tests --test mailbox`

use flowgate::mailbox::{self, Builder, Overflow, TryRecvError};
use flowgate_loom_tests::{Arc, Track, block_on, model, thread};
use futures::FutureExt;
use std::future::Future;

/// Capacity 1, two messages: the second send waits at full until the
/// receiver takes the first; then the end of the stream.
#[test]
fn send_recv_at_full() {
    model(|| {
        let (tx, mut rx) = mailbox::bounded(1);
        let sender = thread::spawn(move || {
            block_on(async {
                tx.send(1).await.unwrap();
                tx.send(2).await.unwrap();
            })
        });
        block_on(async {
            assert_eq!(rx.recv().await, Some(1));
            assert_eq!(rx.recv().await, Some(2));
            assert_eq!(rx.recv().await, None);
        });
        sender.join().unwrap();
    });
}

/// The receiver waits at empty; a message sent and then the sender dropped
/// is still received before `None` (bug 9).
#[test]
fn send_recv_at_empty_then_sender_dropped() {
    model(|| {
        let (tx, mut rx) = mailbox::bounded(2);
        let sender = thread::spawn(move || {
            tx.try_send(Track::new(7)).unwrap();
            drop(tx);
        });
        block_on(async {
            assert_eq!(rx.recv().await.map(Track::into_inner), Some(7));
            assert!(rx.recv().await.is_none());
        });
        sender.join().unwrap();
    });
}

/// `close` races a send: an accepted message is received, a refused one
/// comes back; nothing leaks, and the stream ends.
#[test]
fn close_racing_send() {
    model(|| {
        let (tx, mut rx) = mailbox::bounded(1);
        let sender = thread::spawn(move || {
            let accepted = block_on(tx.send(Track::new(1))).is_ok();
            (accepted, tx)
        });
        rx.close();
        let got = block_on(rx.recv());
        let (accepted, tx) = sender.join().unwrap();
        assert_eq!(got.is_some(), accepted);
        assert!(block_on(rx.recv()).is_none());
        drop(tx);
    });
}

/// The receiver is dropped with a message buffered while `try_send` races
/// it (bug 6): whatever `try_send` returned, every message is dropped
/// exactly once (`Track` fails the model on a leak).
#[test]
fn receiver_dropped_with_buffered_messages_racing_try_send() {
    model(|| {
        let (tx, rx) = mailbox::bounded(2);
        tx.try_send(Track::new(0)).unwrap();
        let sender = thread::spawn(move || match tx.try_send(Track::new(1)) {
            Ok(()) => true,
            Err(e) => {
                assert!(e.is_closed());
                false
            }
        });
        drop(rx);
        sender.join().unwrap();
    });
}

/// A `recv` polled to `Pending` and dropped while a send races it; the next
/// `recv` must still get the message (no lost wake-up, bug 10).
#[test]
fn cancelled_recv_racing_send() {
    model(|| {
        let (tx, mut rx) = mailbox::bounded(1);
        let sender = thread::spawn(move || {
            tx.try_send(5).unwrap();
            tx
        });
        let first = rx.recv().now_or_never(); // polled once, then dropped
        let got = match first {
            Some(got) => got,
            None => block_on(rx.recv()),
        };
        assert_eq!(got, Some(5));
        drop(sender.join().unwrap());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

/// A permit is dropped on one thread while a sender waits for its slot on
/// another: the waiting sender gets the slot.
#[test]
fn permit_dropped_racing_waiting_sender() {
    model(|| {
        let (tx, mut rx) = mailbox::bounded(1);
        let tx = Arc::new(tx);
        let waiter = {
            let tx = Arc::clone(&tx);
            thread::spawn(move || block_on(tx.send(1)).unwrap())
        };
        // Holds the slot if it gets there first, then gives it up.
        let permit = tx.try_reserve();
        drop(permit);
        waiter.join().unwrap();
        assert_eq!(rx.try_recv(), Ok(1));
    });
}

/// `DropOldest`: a sender evicts while the receiver receives. Received,
/// evicted and handed back (`Full` is allowed when the receiver holds the
/// only slot in the middle of its pop) add up to what was sent, each
/// message exactly once (`Track`), in order.
#[test]
fn drop_oldest_racing_recv() {
    model(|| {
        let (tx, mut rx) = Builder::new(1).overflow(Overflow::DropOldest).build();
        tx.try_send(Track::new(1)).unwrap();
        let sender = thread::spawn(move || {
            let refused = match tx.try_send(Track::new(2)) {
                Ok(()) => false,
                Err(e) => {
                    assert!(e.is_full());
                    true
                }
            };
            (refused, tx.dropped())
        });
        let first = rx.try_recv().ok().map(Track::into_inner);
        let (refused, evicted) = sender.join().unwrap();
        let mut got: Vec<i32> = first.into_iter().collect();
        while let Ok(m) = rx.try_recv() {
            got.push(m.into_inner());
        }
        match (refused, evicted) {
            (false, 0) => assert_eq!(got, [1, 2]),
            (false, 1) => assert_eq!(got, [2]),
            (true, 0) => assert_eq!(got, [1]),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(rx.dropped(), evicted);
    });
}

/// Bug 3: the last sender lives in an owned permit; it is dropped on
/// another thread while the receiver waits: the receiver wakes with `None`.
#[test]
fn last_sender_in_dropped_permit_wakes_receiver() {
    model(|| {
        let (tx, mut rx) = mailbox::bounded::<u8>(1);
        let owned = block_on(tx.reserve_owned()).unwrap();
        let dropper = thread::spawn(move || drop(owned));
        assert_eq!(block_on(rx.recv()), None);
        dropper.join().unwrap();
    });
}

/// Bug 8, transposed: two senders wait at full (three threads); the
/// receiver frees one slot at a time; both senders complete.
#[test]
fn two_waiting_senders_both_wake() {
    model(|| {
        let (tx, mut rx) = mailbox::bounded(1);
        tx.try_send(0).unwrap();
        let tx = Arc::new(tx);
        let senders: Vec<_> = [1, 2]
            .into_iter()
            .map(|v| {
                let tx = Arc::clone(&tx);
                thread::spawn(move || block_on(tx.send(v)).unwrap())
            })
            .collect();
        let mut got = Vec::new();
        block_on(async {
            for _ in 0..3 {
                got.push(rx.recv().await.unwrap());
            }
        });
        for s in senders {
            s.join().unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2]);
    });
}

/// As `two_waiting_senders_both_wake`, but one `recv_many` frees both
/// slots of a full capacity-2 mailbox in a single release: it must serve
/// every sender it frees room for, not only the first (a planted
/// serve-one-only bug deadlocks this model). The two sends are joined on
/// one thread (each parks with its own waker), which keeps the model at
/// two threads: with a third, it explores a million interleavings.
#[test]
fn recv_many_frees_slots_for_two_waiting_senders() {
    model(|| {
        let (tx, mut rx) = mailbox::bounded(2);
        tx.try_send(0).unwrap();
        tx.try_send(1).unwrap();
        let senders = thread::spawn(move || {
            let (a, b) = block_on(futures::future::join(tx.send(2), tx.send(3)));
            a.unwrap();
            b.unwrap();
        });
        let mut got = Vec::new();
        block_on(async {
            while got.len() < 2 {
                assert!(rx.recv_many(&mut got, 2).await > 0);
            }
        });
        // No more receives until both sends are done: the slots freed
        // above must be enough for both.
        senders.join().unwrap();
        while let Ok(m) = rx.try_recv() {
            got.push(m);
        }
        // A sender granted its slot may push after the other one.
        got[2..].sort_unstable();
        assert_eq!(got, [0, 1, 2, 3]);
    });
}

/// Bug 11 under `DropOldest`: the receiver is dropped (and drains) while a
/// sender is mid-eviction. Every message, whatever `try_send` returned, is
/// read and dropped exactly once: `Track` fails the model on a leak, and a
/// double read of a slot is a loom causality error (a planted exclusive
/// pop in the drain fails it). The same race under the other policies,
/// whose `try_send` refuses at full instead.
#[test]
fn receiver_drop_racing_drop_oldest_eviction() {
    for overflow in [Overflow::DropOldest, Overflow::Block, Overflow::RejectNew] {
        model(move || {
            let (tx, rx) = Builder::new(2).overflow(overflow).build();
            tx.try_send(Track::new(0)).unwrap();
            tx.try_send(Track::new(1)).unwrap();
            let sender = thread::spawn(move || {
                match tx.try_send(Track::new(2)) {
                    Ok(()) => assert_eq!(overflow, Overflow::DropOldest),
                    Err(e) => assert!(e.is_closed() || e.is_full()),
                }
                tx
            });
            drop(rx);
            let tx = sender.join().unwrap();
            assert!(tx.is_closed());
            drop(tx);
        });
    }
}

#[test]
fn pushes_racing_parking_receiver() {
    model(|| {
        let (tx, mut rx) = mailbox::bounded(2);
        let senders: Vec<_> = (0..2)
            .map(|id| {
                let tx = tx.clone();
                thread::spawn(move || {
                    tx.try_send(id).unwrap();
                    tx // kept alive until the receiver is done
                })
            })
            .collect();
        let mut got = block_on(async { [rx.recv().await, rx.recv().await] });
        got.sort_unstable();
        assert_eq!(got, [Some(0), Some(1)]);
        let handles: Vec<_> = senders.into_iter().map(|s| s.join().unwrap()).collect();
        drop((tx, handles));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

/// A waker that owns `T` (bug 13: user code the mailbox must not drop
/// under its lock).
struct Holds<T>(std::sync::Mutex<Option<T>>);

impl<T: Send + Sync> futures::task::ArcWake for Holds<T> {
    fn wake_by_ref(_: &std::sync::Arc<Self>) {}
}

/// Bug 13: a sender parks at full with a waker that owns an `OwnedPermit`
/// of the same mailbox, then is re-polled with another waker while the
/// receiver frees a slot. Dropping the old waker gives the permit back,
/// which serves the queue: done under the lock, it would deadlock. Every
/// slot comes back.
#[test]
fn repolled_sender_whose_old_waker_owns_a_permit_racing_recv() {
    model(|| {
        let (tx, mut rx) = mailbox::bounded(2);
        tx.try_send(0).unwrap();
        let permit = tx.clone().reserve_owned().now_or_never().unwrap().unwrap();
        let receiver = thread::spawn(move || {
            assert_eq!(rx.try_recv(), Ok(0));
            rx
        });
        let mut reserve = Box::pin(tx.reserve());
        let old = futures::task::waker(std::sync::Arc::new(Holds(std::sync::Mutex::new(Some(
            permit,
        )))));
        let first = reserve
            .as_mut()
            .poll(&mut std::task::Context::from_waker(&old));
        drop(old);
        let reserved = match first {
            std::task::Poll::Ready(r) => r,
            std::task::Poll::Pending => block_on(reserve.as_mut()),
        };
        drop(reserved.unwrap());
        drop(reserve);
        let rx = receiver.join().unwrap();
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert!(tx.try_send(3).unwrap_err().is_full());
        drop(rx);
    });
}
