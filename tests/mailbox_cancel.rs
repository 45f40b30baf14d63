//! The four cancellation tests of VERIFICATION.md for every public future
//! of the mailbox (`send`, `reserve`, `reserve_owned`, the sink's
//! `poll_ready`, `recv`, `recv_many`, `closed`):
//!
//! 1. dropped before the first poll: nothing taken, nothing lost;
//! 2. polled to `Pending`, then dropped: its place goes to the next waiter,
//!    who is woken;
//! 3. notified, then dropped before it is polled again: the notification
//!    passes on to the next waiter;
//! 4. re-polled with a different waker: only the new waker is woken.

mod support;

use flowgate::mailbox::{self, Receiver, Sender};
use futures::SinkExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use support::{counting as counting_waker, poll_with as poll, wakes};

#[derive(Debug)]
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A full mailbox of capacity 1 holding `0`.
fn full() -> (Sender<u32>, Receiver<u32>) {
    let (tx, rx) = mailbox::bounded(1);
    tx.try_send(0).unwrap();
    (tx, rx)
}

// ------------------------------------------------------------------ send

#[test]
fn send_dropped_before_poll_takes_nothing_and_drops_message() {
    let (tx, mut rx) = mailbox::bounded(1);
    let drops = Arc::new(AtomicUsize::new(0));
    drop(tx.send(Tracked(Arc::clone(&drops))));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    tx.try_send(Tracked(Arc::clone(&drops))).unwrap(); // the slot is free
    assert!(rx.try_recv().is_ok());
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn send_pending_then_dropped_passes_turn_to_next_waiter() {
    let (tx, mut rx) = full();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut s1 = tx.send(1);
    let mut s2 = tx.send(2);
    assert!(poll(&mut s1, &w1).is_pending());
    assert!(poll(&mut s2, &w2).is_pending());
    drop(s1);
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((wakes(&c1), wakes(&c2)), (0, 1));
    assert_eq!(poll(&mut s2, &w2), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn send_notified_then_dropped_passes_slot_on() {
    let (tx, mut rx) = full();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut s1 = tx.send(1);
    let mut s2 = tx.send(2);
    assert!(poll(&mut s1, &w1).is_pending());
    assert!(poll(&mut s2, &w2).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((wakes(&c1), wakes(&c2)), (1, 0));
    drop(s1); // granted the slot, never polled again
    assert_eq!(wakes(&c2), 1);
    assert_eq!(poll(&mut s2, &w2), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn send_repolled_with_new_waker_wakes_only_new() {
    let (tx, mut rx) = full();
    let (old, w_old) = counting_waker();
    let (new, w_new) = counting_waker();
    let mut s = tx.send(1);
    assert!(poll(&mut s, &w_old).is_pending());
    assert!(poll(&mut s, &w_new).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((wakes(&old), wakes(&new)), (0, 1));
    assert_eq!(poll(&mut s, &w_new), Poll::Ready(Ok(())));
}

// --------------------------------------------------------------- reserve

#[test]
fn reserve_dropped_before_poll_takes_nothing() {
    let (tx, _rx) = mailbox::bounded::<u8>(1);
    drop(tx.reserve());
    tx.try_send(1).unwrap();
}

#[test]
fn reserve_pending_then_dropped_passes_turn_to_next_waiter() {
    let (tx, mut rx) = full();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut r1 = tx.reserve();
    let mut r2 = tx.reserve();
    assert!(poll(&mut r1, &w1).is_pending());
    assert!(poll(&mut r2, &w2).is_pending());
    drop(r1);
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((wakes(&c1), wakes(&c2)), (0, 1));
    assert!(matches!(poll(&mut r2, &w2), Poll::Ready(Ok(_))));
}

#[test]
fn reserve_notified_then_dropped_passes_slot_on() {
    let (tx, mut rx) = full();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut r1 = tx.reserve();
    let mut r2 = tx.reserve();
    assert!(poll(&mut r1, &w1).is_pending());
    assert!(poll(&mut r2, &w2).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(wakes(&c1), 1);
    drop(r1);
    assert_eq!(wakes(&c2), 1);
    let Poll::Ready(Ok(permit)) = poll(&mut r2, &w2) else {
        panic!("the slot did not pass on");
    };
    permit.send(2);
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn reserve_repolled_with_new_waker_wakes_only_new() {
    let (tx, mut rx) = full();
    let (old, w_old) = counting_waker();
    let (new, w_new) = counting_waker();
    let mut r = tx.reserve();
    assert!(poll(&mut r, &w_old).is_pending());
    assert!(poll(&mut r, &w_new).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((wakes(&old), wakes(&new)), (0, 1));
}

// --------------------------------------------------------- reserve_owned

#[test]
fn reserve_owned_dropped_before_poll_takes_nothing_drops_sender() {
    let (tx, mut rx) = mailbox::bounded::<u8>(1);
    let keep = tx.clone();
    drop(tx.reserve_owned());
    assert_eq!(keep.sender_count(), 1);
    keep.try_send(1).unwrap();
    drop(keep);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(mailbox::TryRecvError::Closed));
}

#[test]
fn reserve_owned_pending_then_dropped_passes_turn_to_next_waiter() {
    let (tx, mut rx) = full();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut r1 = tx.clone().reserve_owned();
    let mut r2 = tx.clone().reserve_owned();
    assert!(poll(&mut r1, &w1).is_pending());
    assert!(poll(&mut r2, &w2).is_pending());
    drop(r1);
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((wakes(&c1), wakes(&c2)), (0, 1));
    assert!(matches!(poll(&mut r2, &w2), Poll::Ready(Ok(_))));
}

#[test]
fn reserve_owned_notified_then_dropped_passes_slot_on() {
    let (tx, mut rx) = full();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut r1 = tx.clone().reserve_owned();
    let mut r2 = tx.clone().reserve_owned();
    assert!(poll(&mut r1, &w1).is_pending());
    assert!(poll(&mut r2, &w2).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(wakes(&c1), 1);
    drop(r1);
    assert_eq!(wakes(&c2), 1);
    let Poll::Ready(Ok(permit)) = poll(&mut r2, &w2) else {
        panic!("the slot did not pass on");
    };
    drop(permit.send(2));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn reserve_owned_repolled_with_new_waker_wakes_only_new() {
    let (tx, mut rx) = full();
    let (old, w_old) = counting_waker();
    let (new, w_new) = counting_waker();
    let mut r = tx.clone().reserve_owned();
    assert!(poll(&mut r, &w_old).is_pending());
    assert!(poll(&mut r, &w_new).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((wakes(&old), wakes(&new)), (0, 1));
}

// ------------------------------------------------- sink poll_ready

#[test]
fn sink_dropped_before_poll_takes_nothing() {
    let (tx, _rx) = mailbox::bounded::<u32>(1);
    drop(tx.clone().into_sink());
    tx.try_send(1).unwrap();
}

#[test]
fn sink_ready_pending_then_dropped_passes_turn_to_next_waiter() {
    let (tx, mut rx) = full();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut k1 = tx.clone().into_sink();
    let mut k2 = tx.clone().into_sink();
    assert!(
        k1.poll_ready_unpin(&mut Context::from_waker(&w1))
            .is_pending()
    );
    assert!(
        k2.poll_ready_unpin(&mut Context::from_waker(&w2))
            .is_pending()
    );
    drop(k1);
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((wakes(&c1), wakes(&c2)), (0, 1));
    assert_eq!(
        k2.poll_ready_unpin(&mut Context::from_waker(&w2)),
        Poll::Ready(Ok(()))
    );
}

#[test]
fn sink_ready_notified_then_dropped_passes_slot_on() {
    let (tx, mut rx) = full();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut k1 = tx.clone().into_sink();
    let mut k2 = tx.clone().into_sink();
    assert!(
        k1.poll_ready_unpin(&mut Context::from_waker(&w1))
            .is_pending()
    );
    assert!(
        k2.poll_ready_unpin(&mut Context::from_waker(&w2))
            .is_pending()
    );
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(wakes(&c1), 1);
    drop(k1);
    assert_eq!(wakes(&c2), 1);
    assert_eq!(
        k2.poll_ready_unpin(&mut Context::from_waker(&w2)),
        Poll::Ready(Ok(()))
    );
    k2.start_send_unpin(2).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn sink_ready_repolled_with_new_waker_wakes_only_new() {
    let (tx, mut rx) = full();
    let (old, w_old) = counting_waker();
    let (new, w_new) = counting_waker();
    let mut k = tx.clone().into_sink();
    assert!(
        k.poll_ready_unpin(&mut Context::from_waker(&w_old))
            .is_pending()
    );
    assert!(
        k.poll_ready_unpin(&mut Context::from_waker(&w_new))
            .is_pending()
    );
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((wakes(&old), wakes(&new)), (0, 1));
}

// ------------------------------------------------------------------ recv

#[test]
fn recv_dropped_before_poll_takes_nothing() {
    let (tx, mut rx) = mailbox::bounded(1);
    tx.try_send(1).unwrap();
    drop(rx.recv());
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn recv_pending_then_dropped_next_recv_is_woken() {
    let (tx, mut rx) = mailbox::bounded(1);
    let (_c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut r1 = rx.recv();
    assert!(poll(&mut r1, &w1).is_pending());
    drop(r1);
    let mut r2 = rx.recv();
    assert!(poll(&mut r2, &w2).is_pending());
    tx.try_send(1).unwrap();
    assert_eq!(wakes(&c2), 1);
    assert_eq!(poll(&mut r2, &w2), Poll::Ready(Some(1)));
}

#[test]
fn recv_notified_then_dropped_message_goes_to_next_recv() {
    let (tx, mut rx) = mailbox::bounded(1);
    let (c1, w1) = counting_waker();
    let mut r1 = rx.recv();
    assert!(poll(&mut r1, &w1).is_pending());
    tx.try_send(1).unwrap();
    assert_eq!(wakes(&c1), 1);
    drop(r1);
    let (_c2, w2) = counting_waker();
    let mut r2 = rx.recv();
    assert_eq!(poll(&mut r2, &w2), Poll::Ready(Some(1)));
}

#[test]
fn recv_repolled_with_new_waker_wakes_only_new() {
    let (tx, mut rx) = mailbox::bounded(1);
    let (old, w_old) = counting_waker();
    let (new, w_new) = counting_waker();
    let mut r = rx.recv();
    assert!(poll(&mut r, &w_old).is_pending());
    assert!(poll(&mut r, &w_new).is_pending());
    tx.try_send(1).unwrap();
    assert_eq!((wakes(&old), wakes(&new)), (0, 1));
    assert_eq!(poll(&mut r, &w_new), Poll::Ready(Some(1)));
}

// ------------------------------------------------------------- recv_many

#[test]
fn recv_many_dropped_before_poll_takes_nothing() {
    let (tx, mut rx) = mailbox::bounded(2);
    tx.try_send(1).unwrap();
    let mut buf = Vec::new();
    drop(rx.recv_many(&mut buf, 2));
    assert!(buf.is_empty());
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn recv_many_pending_then_dropped_next_is_woken() {
    let (tx, mut rx) = mailbox::bounded(2);
    let mut buf = Vec::new();
    let (_c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut r1 = rx.recv_many(&mut buf, 2);
    assert!(poll(&mut r1, &w1).is_pending());
    drop(r1);
    let mut r2 = rx.recv_many(&mut buf, 2);
    assert!(poll(&mut r2, &w2).is_pending());
    tx.try_send(1).unwrap();
    assert_eq!(wakes(&c2), 1);
    assert_eq!(poll(&mut r2, &w2), Poll::Ready(1));
    assert_eq!(buf, [1]);
}

#[test]
fn recv_many_notified_then_dropped_messages_stay() {
    let (tx, mut rx) = mailbox::bounded(2);
    let mut buf = Vec::new();
    let (c1, w1) = counting_waker();
    let mut r1 = rx.recv_many(&mut buf, 2);
    assert!(poll(&mut r1, &w1).is_pending());
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert!(wakes(&c1) >= 1);
    drop(r1);
    assert!(buf.is_empty());
    let (_c2, w2) = counting_waker();
    let mut r2 = rx.recv_many(&mut buf, 2);
    assert_eq!(poll(&mut r2, &w2), Poll::Ready(2));
    assert_eq!(buf, [1, 2]);
}

#[test]
fn recv_many_repolled_with_new_waker_wakes_only_new() {
    let (tx, mut rx) = mailbox::bounded(2);
    let mut buf = Vec::new();
    let (old, w_old) = counting_waker();
    let (new, w_new) = counting_waker();
    let mut r = rx.recv_many(&mut buf, 2);
    assert!(poll(&mut r, &w_old).is_pending());
    assert!(poll(&mut r, &w_new).is_pending());
    tx.try_send(1).unwrap();
    assert_eq!((wakes(&old), wakes(&new)), (0, 1));
}

// ---------------------------------------------------------------- closed

#[test]
fn closed_dropped_before_poll_then_close_works() {
    let (tx, rx) = mailbox::bounded::<u8>(1);
    drop(tx.closed());
    drop(rx);
    futures::executor::block_on(tx.closed());
}

#[test]
fn closed_pending_then_dropped_other_waiter_still_woken() {
    let (tx, rx) = mailbox::bounded::<u8>(1);
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut f1 = tx.closed();
    let mut f2 = tx.closed();
    assert!(poll(&mut f1, &w1).is_pending());
    assert!(poll(&mut f2, &w2).is_pending());
    drop(f1);
    drop(rx);
    assert_eq!((wakes(&c1), wakes(&c2)), (0, 1));
    assert_eq!(poll(&mut f2, &w2), Poll::Ready(()));
}

#[test]
fn closed_notified_then_dropped_other_waiter_still_resolves() {
    let (tx, mut rx) = mailbox::bounded::<u8>(1);
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut f1 = tx.closed();
    let mut f2 = tx.closed();
    assert!(poll(&mut f1, &w1).is_pending());
    assert!(poll(&mut f2, &w2).is_pending());
    rx.close();
    assert_eq!((wakes(&c1), wakes(&c2)), (1, 1));
    drop(f1);
    assert_eq!(poll(&mut f2, &w2), Poll::Ready(()));
    // A new one resolves at once.
    let mut f3 = tx.closed();
    assert_eq!(poll(&mut f3, &w2), Poll::Ready(()));
}

#[test]
fn closed_repolled_with_new_waker_wakes_only_new() {
    let (tx, rx) = mailbox::bounded::<u8>(1);
    let (old, w_old) = counting_waker();
    let (new, w_new) = counting_waker();
    let mut f = tx.closed();
    assert!(poll(&mut f, &w_old).is_pending());
    assert!(poll(&mut f, &w_new).is_pending());
    drop(rx);
    assert_eq!((wakes(&old), wakes(&new)), (0, 1));
    assert_eq!(poll(&mut f, &w_new), Poll::Ready(()));
}

// ------------------------------------------------- slot returned by a drop

/// A send granted a slot (handed over by a dropped permit) is dropped
/// before it is polled again, after the receiver closed and parked: the
/// slot coming back is the last one, so the parked receiver is woken and
/// sees the end of the stream (every path that returns a slot wakes).
#[test]
fn granted_send_dropped_after_close_wakes_parked_receiver() {
    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    let permit = tx.try_reserve().unwrap();
    let (_sc, sw) = counting_waker();
    let mut send = tx.send(1);
    assert!(poll(&mut send, &sw).is_pending());
    drop(permit); // its slot goes to the waiting send
    rx.close();
    let (rc, rw) = counting_waker();
    let mut recv = rx.recv();
    // The granted slot may still bring a message: wait.
    assert!(poll(&mut recv, &rw).is_pending());
    drop(send); // granted but never polled again: the slot comes back
    assert_eq!(wakes(&rc), 1);
    assert_eq!(poll(&mut recv, &rw), Poll::Ready(None));
}
