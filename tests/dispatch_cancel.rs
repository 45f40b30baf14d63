//! The four cancellation tests (VERIFICATION.md) for `recv` and `publish`.

use flowgate::dispatch::{Dispatcher, Subscription};
use futures::FutureExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn waker() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count(AtomicUsize::new(0)));
    (Arc::clone(&count), Waker::from(count))
}

fn woken(count: &Count) -> usize {
    count.0.load(Ordering::SeqCst)
}

fn poll_with<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(waker))
}

/// Counts drops, to see that a cancelled publish dropped its message.
struct Msg(Arc<AtomicUsize>);

impl Drop for Msg {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

// ----- recv ------------------------------------------------------------

#[test]
fn recv_dropped_before_first_poll_takes_nothing() {
    let queue = Dispatcher::<u32>::new();
    let mut c = queue.subscribe(Subscription::prefetch(1));
    queue.publisher().try_publish(1).unwrap();
    drop(c.recv());
    assert_eq!(queue.stats().in_flight, 1);
    assert_eq!(
        c.recv().now_or_never().flatten().map(|d| d.ack_take()),
        Some(Some(1))
    );
}

#[test]
fn recv_pending_then_dropped_loses_nothing_and_is_not_woken() {
    let queue = Dispatcher::<u32>::new();
    let mut c = queue.subscribe(Subscription::prefetch(1));
    let (count1, w1) = waker();
    let mut first = c.recv();
    assert!(poll_with(&mut first, &w1).is_pending());
    drop(first);
    // The next recv waits and is the one woken by the next message.
    let (count2, w2) = waker();
    let mut second = c.recv();
    assert!(poll_with(&mut second, &w2).is_pending());
    queue.publisher().try_publish(5).unwrap();
    assert_eq!((woken(&count1), woken(&count2)), (0, 1));
    match poll_with(&mut second, &w2) {
        Poll::Ready(Some(d)) => assert_eq!(d.ack_take(), Some(5)),
        other => panic!("expected the message, got {:?}", other.map(|d| d.is_some())),
    }
}

#[test]
fn recv_notified_then_dropped_passes_the_message_on() {
    let queue = Dispatcher::<u32>::new();
    let mut c = queue.subscribe(Subscription::prefetch(1));
    let (count, w) = waker();
    let mut first = c.recv();
    assert!(poll_with(&mut first, &w).is_pending());
    queue.publisher().try_publish(9).unwrap();
    assert_eq!(woken(&count), 1);
    drop(first); // notified, never polled again
    // The message stays assigned to the consumer: the next recv has it.
    let d = c.recv().now_or_never().flatten().unwrap();
    assert_eq!((*d, d.redelivered()), (9, false));
    d.ack();
}

#[test]
fn recv_repolled_with_another_waker_wakes_only_the_new_one() {
    let queue = Dispatcher::<u32>::new();
    let mut c = queue.subscribe(Subscription::prefetch(1));
    let (count1, w1) = waker();
    let (count2, w2) = waker();
    let mut recv = c.recv();
    assert!(poll_with(&mut recv, &w1).is_pending());
    assert!(poll_with(&mut recv, &w2).is_pending());
    queue.publisher().try_publish(1).unwrap();
    assert_eq!((woken(&count1), woken(&count2)), (0, 1));
    assert!(poll_with(&mut recv, &w2).is_ready());
}

// ----- publish ---------------------------------------------------------

fn full_queue() -> (Dispatcher<Msg>, Arc<AtomicUsize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let queue = Dispatcher::<Msg>::builder().capacity(1).build();
    queue
        .publisher()
        .try_publish(Msg(Arc::clone(&drops)))
        .unwrap_or_else(|_| panic!("room for one"));
    (queue, drops)
}

#[test]
fn publish_dropped_before_first_poll_takes_nothing() {
    let queue = Dispatcher::<Msg>::builder().capacity(1).build();
    let drops = Arc::new(AtomicUsize::new(0));
    let p = queue.publisher();
    drop(p.publish(Msg(Arc::clone(&drops))));
    // Its message was dropped with it; the backlog's room is untouched.
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(queue.stats().published, 0);
    assert!(p.try_publish(Msg(Arc::clone(&drops))).is_ok());
}

#[test]
fn publish_pending_then_dropped_lets_the_next_publisher_through() {
    let (queue, drops) = full_queue();
    let p = queue.publisher();
    let (count1, w1) = waker();
    let (count2, w2) = waker();
    let mut first = p.publish(Msg(Arc::clone(&drops)));
    let mut second = p.publish(Msg(Arc::clone(&drops)));
    assert!(poll_with(&mut first, &w1).is_pending());
    assert!(poll_with(&mut second, &w2).is_pending());
    drop(first);
    assert_eq!(drops.load(Ordering::SeqCst), 1); // its message, unsent
    let mut c = queue.subscribe(Subscription::prefetch(1)); // room for one
    assert_eq!((woken(&count1), woken(&count2)), (0, 1));
    assert!(matches!(poll_with(&mut second, &w2), Poll::Ready(Ok(()))));
    assert_eq!(queue.stats().published, 2);
    c.try_recv().unwrap().ack();
}

#[test]
fn publish_notified_then_dropped_passes_its_place_on() {
    let (queue, drops) = full_queue();
    let p = queue.publisher();
    let (count1, w1) = waker();
    let (count2, w2) = waker();
    let mut first = p.publish(Msg(Arc::clone(&drops)));
    let mut second = p.publish(Msg(Arc::clone(&drops)));
    assert!(poll_with(&mut first, &w1).is_pending());
    assert!(poll_with(&mut second, &w2).is_pending());
    let _c = queue.subscribe(Subscription::prefetch(1)); // room for one: first's
    assert_eq!((woken(&count1), woken(&count2)), (1, 0));
    drop(first); // granted, never polled again: the place passes on
    assert_eq!(woken(&count2), 1);
    assert!(matches!(poll_with(&mut second, &w2), Poll::Ready(Ok(()))));
    assert_eq!(queue.stats().backlog, 1);
}

#[test]
fn publish_repolled_with_another_waker_wakes_only_the_new_one() {
    let (queue, drops) = full_queue();
    let p = queue.publisher();
    let (count1, w1) = waker();
    let (count2, w2) = waker();
    let mut publish = p.publish(Msg(Arc::clone(&drops)));
    assert!(poll_with(&mut publish, &w1).is_pending());
    assert!(poll_with(&mut publish, &w2).is_pending());
    let _c = queue.subscribe(Subscription::prefetch(1));
    assert_eq!((woken(&count1), woken(&count2)), (0, 1));
    assert!(matches!(poll_with(&mut publish, &w2), Poll::Ready(Ok(()))));
}

#[test]
fn close_wakes_waiting_publishers_with_their_messages() {
    let (queue, drops) = full_queue();
    let p = queue.publisher();
    let (count, w) = waker();
    let mut publish = p.publish(Msg(Arc::clone(&drops)));
    assert!(poll_with(&mut publish, &w).is_pending());
    queue.close();
    assert_eq!(woken(&count), 1);
    match poll_with(&mut publish, &w) {
        Poll::Ready(Err(err)) => drop(err.into_inner()),
        _ => panic!("expected the message back"),
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}
