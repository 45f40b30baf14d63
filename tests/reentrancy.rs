//! No user code runs under a flowgate lock: a `Waker` dropped or woken by
//! a primitive may own a resource of that very primitive, or call back into
//! it, and neither may deadlock the thread on itself.
//!
//! Each test parks a waker that owns something of the primitive (credits, a
//! delivery, a sleep) or re-enters it when woken, then drives the path that
//! replaces, frees or wakes it. A regression is a self-deadlock, so every
//! body runs on its own thread under a deadline: the test fails with a
//! message instead of hanging the suite. (The mailbox's paths are in
//! `tests/mailbox_reentrancy.rs`.)

use flowgate::credit::{CreditSemaphore, OwnedCredits};
use flowgate::dispatch::{Dispatcher, Requeue, Subscription};
use flowgate::mailbox;
use flowgate::runtime::{ManualClock, Timer};
use futures::FutureExt;
use futures::task::{ArcWake, noop_waker};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Runs `body` on a thread and fails if it does not finish in time: a
/// self-deadlock must fail the test, not hang the suite.
fn deadline(name: &str, body: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(30)) {
        Ok(()) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The body panicked: report its panic.
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: deadlocked (a waker was dropped or woken under a lock)")
        }
    }
}

/// A waker that owns a value: the value is dropped with the waker's last
/// clone.
struct Holds<T>(Mutex<Option<T>>);

impl<T: Send + 'static> ArcWake for Holds<T> {
    fn wake_by_ref(_: &Arc<Self>) {}
}

fn holding<T: Send + 'static>(value: T) -> Waker {
    futures::task::waker(Arc::new(Holds(Mutex::new(Some(value)))))
}

/// A waker that runs a callback on every wake-up, and counts them.
struct OnWake {
    count: AtomicUsize,
    call: Box<dyn Fn() + Send + Sync>,
}

impl ArcWake for OnWake {
    fn wake_by_ref(this: &Arc<Self>) {
        this.count.fetch_add(1, Ordering::SeqCst);
        (this.call)();
    }
}

fn on_wake(call: impl Fn() + Send + Sync + 'static) -> (Waker, Arc<OnWake>) {
    let inner = Arc::new(OnWake {
        count: AtomicUsize::new(0),
        call: Box::new(call),
    });
    (futures::task::waker(Arc::clone(&inner)), inner)
}

fn poll_with<F: Future + ?Sized>(fut: std::pin::Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

// ----- credit --------------------------------------------------------

/// A semaphore with its only credit held by a waker parked in an acquire.
fn credit_parked() -> (Arc<CreditSemaphore>, OwnedCredits) {
    let sem = Arc::new(CreditSemaphore::new(1));
    let held = Arc::clone(&sem)
        .acquire_owned(1)
        .now_or_never()
        .unwrap()
        .unwrap();
    (sem, held)
}

#[test]
fn credit_acquire_repolled_while_its_old_waker_owns_credits() {
    deadline("acquire re-polled", || {
        let (sem, held) = credit_parked();
        let mut acq = pin!(sem.acquire(1));
        let w1 = holding(held);
        assert!(poll_with(acq.as_mut(), &w1).is_pending());
        drop(w1); // only the wait list holds it now
        // Replacing the waker drops it, which returns the credit: after the
        // lock, so the credit goes to this very waiter.
        assert!(poll_with(acq.as_mut(), &noop_waker()).is_pending());
        let got = poll_with(acq.as_mut(), &noop_waker());
        assert!(matches!(got, Poll::Ready(Ok(ref c)) if c.count() == 1));
        drop(got);
        assert_eq!(sem.available(), 1);
    });
}

#[test]
fn credit_acquire_dropped_while_its_waker_owns_credits() {
    deadline("acquire dropped", || {
        let (sem, held) = credit_parked();
        {
            let mut acq = pin!(Arc::clone(&sem).acquire_owned(1));
            let w1 = holding(held);
            assert!(poll_with(acq.as_mut(), &w1).is_pending());
            drop(w1);
        } // cancelling frees the node and its waker, which owns the credit
        assert_eq!(sem.available(), 1);
        assert!(sem.try_acquire(1).is_ok());
    });
}

#[test]
fn credit_close_wakes_a_waker_that_owns_credits() {
    deadline("close", || {
        let (sem, held) = credit_parked();
        let mut acq = pin!(sem.acquire(1));
        let w1 = holding(held);
        assert!(poll_with(acq.as_mut(), &w1).is_pending());
        drop(w1);
        sem.close(); // wakes (and so drops) the waker after the lock
        assert!(matches!(
            poll_with(acq.as_mut(), &noop_waker()),
            Poll::Ready(Err(_))
        ));
        assert_eq!(sem.available(), 1);
    });
}

#[test]
fn credit_wake_that_reenters_the_semaphore() {
    deadline("wake re-enters", || {
        let sem = Arc::new(CreditSemaphore::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (waker, count) = {
            let (sem, seen) = (Arc::clone(&sem), Arc::clone(&seen));
            on_wake(move || {
                // Re-enters while the granting `add_credits` is running.
                let tried = sem.try_acquire(1).map(|c| c.forget()).is_ok();
                seen.lock().unwrap().push((tried, sem.available()));
            })
        };
        let mut acq = pin!(sem.acquire(1));
        assert!(poll_with(acq.as_mut(), &waker).is_pending());
        sem.add_credits(2); // one to the waiter, one available
        assert_eq!(count.count.load(Ordering::SeqCst), 1);
        // The woken waker saw the granted state and took the spare credit.
        assert_eq!(*seen.lock().unwrap(), [(true, 0)]);
        assert!(matches!(
            poll_with(acq.as_mut(), &waker),
            Poll::Ready(Ok(_))
        ));
    });
}

// ----- dispatch ------------------------------------------------------

/// A queue with one consumer of prefetch 1, and one delivery of it taken.
fn dispatch_with_delivery() -> (
    Dispatcher<u32>,
    flowgate::dispatch::Consumer<u32>,
    flowgate::dispatch::Delivery<u32>,
) {
    let queue = Dispatcher::<u32>::builder().capacity(1).build();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    queue.publisher().try_publish(1).unwrap();
    let delivery = consumer.try_recv().unwrap();
    (queue, consumer, delivery)
}

#[test]
fn dispatch_recv_repolled_while_its_old_waker_owns_a_delivery() {
    deadline("recv re-polled", || {
        let (queue, mut consumer, delivery) = dispatch_with_delivery();
        let w1 = holding(delivery);
        {
            let mut recv = pin!(consumer.recv());
            assert!(poll_with(recv.as_mut(), &w1).is_pending());
            drop(w1);
            // The replaced waker drops the delivery (requeued) after the
            // lock: the message comes back to this consumer.
            match poll_with(recv.as_mut(), &noop_waker()) {
                Poll::Pending => {}
                Poll::Ready(_) => panic!("recv returned before the waker was replaced"),
            }
        }
        let again = consumer.try_recv().unwrap();
        assert_eq!((*again, again.redelivered()), (1, true));
        again.ack();
        assert_eq!(queue.stats().acked, 1);
    });
}

#[test]
fn dispatch_recv_dropped_while_its_waker_owns_a_delivery() {
    deadline("recv dropped", || {
        let (queue, mut consumer, delivery) = dispatch_with_delivery();
        {
            let w1 = holding(delivery);
            let mut recv = pin!(consumer.recv());
            assert!(poll_with(recv.as_mut(), &w1).is_pending());
        } // the recv's drop clears (and drops) the waker
        let again = consumer.try_recv().unwrap();
        assert!(again.redelivered());
        again.ack();
        assert_eq!(queue.stats().in_flight, 0);
    });
}

#[test]
fn dispatch_publish_repolled_while_its_old_waker_owns_a_delivery() {
    deadline("publish re-polled", || {
        let (queue, mut consumer, delivery) = dispatch_with_delivery();
        let publisher = queue.publisher();
        publisher.try_publish(2).unwrap(); // the backlog (capacity 1) is full
        let w1 = holding(delivery);
        {
            let mut publish = pin!(publisher.publish(3));
            assert!(poll_with(publish.as_mut(), &w1).is_pending());
            drop(w1);
            assert!(poll_with(publish.as_mut(), &noop_waker()).is_pending());
        } // and the pending publish is cancelled, dropping nothing else
        let again = consumer.try_recv().unwrap();
        assert_eq!(*again, 1);
        again.ack();
        assert_eq!(*consumer.try_recv().unwrap(), 2);
    });
}

#[test]
fn dispatch_publish_dropped_while_its_waker_owns_a_delivery() {
    deadline("publish dropped", || {
        let (queue, mut consumer, delivery) = dispatch_with_delivery();
        let publisher = queue.publisher();
        publisher.try_publish(2).unwrap();
        {
            let w1 = holding(delivery);
            let mut publish = pin!(publisher.publish(3));
            assert!(poll_with(publish.as_mut(), &w1).is_pending());
        }
        assert_eq!(*consumer.try_recv().unwrap(), 1);
    });
}

#[test]
fn dispatch_wakes_that_reenter_the_dispatcher() {
    deadline("wake re-enters", || {
        let queue = Dispatcher::<u32>::builder().capacity(1).build();
        let publisher = queue.publisher();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        // The consumer's waker publishes into the queue when woken.
        let (recv_waker, woken) = {
            let publisher = publisher.clone();
            on_wake(move || {
                let _ = publisher.try_publish(100);
            })
        };
        let d = {
            let mut recv = pin!(consumer.recv());
            assert!(poll_with(recv.as_mut(), &recv_waker).is_pending());
            publisher.try_publish(1).unwrap(); // wakes the consumer
            assert_eq!(woken.count.load(Ordering::SeqCst), 1);
            match poll_with(recv.as_mut(), &noop_waker()) {
                Poll::Ready(Some(d)) => d,
                other => panic!("expected a delivery, got ready: {}", other.is_ready()),
            }
        };
        assert_eq!(*d, 1);
        // A blocked publisher whose waker acks on wake-up.
        let held = Arc::new(Mutex::new(Some(d)));
        let (pub_waker, _) = {
            let held = Arc::clone(&held);
            on_wake(move || {
                if let Some(d) = held.lock().unwrap().take() {
                    d.ack();
                }
            })
        };
        let mut publish = pin!(publisher.publish(2));
        // 100, published by the wake-up, fills the backlog: this one waits.
        assert!(poll_with(publish.as_mut(), &pub_waker).is_pending());
        assert!(
            consumer.try_recv().is_err(),
            "prefetch 1 is taken by the held delivery"
        );
        // Closing wakes the publisher, whose wake-up acks.
        queue.close();
        assert!(held.lock().unwrap().is_none());
        assert!(matches!(
            poll_with(publish.as_mut(), &noop_waker()),
            Poll::Ready(Err(_))
        ));
        assert_eq!(queue.stats().acked, 1);
    });
}

#[test]
fn dead_letter_receiver_woken_outside_the_dispatcher_lock() {
    deadline("dead letter wake", || {
        let (dlq_tx, mut dlq_rx) = mailbox::bounded::<u32>(4);
        let queue = Dispatcher::<u32>::builder().dead_letter(dlq_tx).build();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        // The dead-letter receiver's waker reads the dispatcher's stats.
        let (waker, woken) = {
            let queue = queue.clone();
            on_wake(move || {
                let _ = queue.stats();
            })
        };
        let mut recv = pin!(dlq_rx.recv());
        assert!(poll_with(recv.as_mut(), &waker).is_pending());
        queue.publisher().try_publish(7).unwrap();
        consumer.try_recv().unwrap().nack(Requeue::No);
        assert_eq!(woken.count.load(Ordering::SeqCst), 1);
        assert_eq!(
            poll_with(recv.as_mut(), &noop_waker()),
            Poll::Ready(Some(7))
        );
        assert_eq!(queue.stats().dead_lettered, 1);
    });
}

#[test]
fn dead_letter_stream_ends_once_closed_and_drained() {
    deadline("dead letter stream ends", || {
        let (dlq_tx, mut dlq_rx) = mailbox::bounded::<u32>(4);
        let queue = Dispatcher::<u32>::builder()
            .dead_letter(dlq_tx)
            .max_attempts(1)
            .build();
        let mut consumer = queue.subscribe(Subscription::prefetch(2));
        let publisher = queue.publisher();
        publisher.try_publish(1).unwrap();
        publisher.try_publish(2).unwrap();
        let first = consumer.try_recv().unwrap();
        queue.close();
        // Still one message in flight: the stream must not end yet.
        first.nack(Requeue::Yes); // last attempt: dead-lettered
        assert_eq!(dlq_rx.try_recv(), Ok(1));
        assert!(dlq_rx.try_recv().is_err());
        assert!(!dlq_rx.is_closed(), "a delivery is still in flight");
        consumer.try_recv().unwrap().nack(Requeue::No);
        // Closed and drained: the dispatcher has let go of its sender while
        // `queue`, `publisher` and `consumer` all live.
        let rest: Vec<u32> = futures::executor::block_on(async {
            let mut rest = Vec::new();
            while let Some(m) = dlq_rx.recv().await {
                rest.push(m);
            }
            rest
        });
        assert_eq!(rest, [2]);
        assert_eq!(queue.stats().dead_lettered, 2);
        drop((queue, publisher, consumer));
    });
}

// ----- the manual clock ----------------------------------------------

#[test]
fn manual_sleep_repolled_and_dropped_while_its_waker_owns_a_sleep() {
    deadline("manual sleep", || {
        let clock = ManualClock::new();
        // A registered sleep of the same clock, owned by the waker of
        // another: dropping it takes the clock's lock.
        let mut owned = Box::pin(clock.sleep(Duration::from_secs(5)));
        assert!(poll_with(owned.as_mut(), &noop_waker()).is_pending());
        let mut sleep = pin!(clock.sleep(Duration::from_secs(1)));
        let w1 = holding(owned);
        assert!(poll_with(sleep.as_mut(), &w1).is_pending());
        drop(w1);
        assert_eq!(clock.sleepers(), 2);
        assert!(poll_with(sleep.as_mut(), &noop_waker()).is_pending());
        assert_eq!(clock.sleepers(), 1, "the owned sleep left with its waker");

        // And once due, the sleep's removal drops a waker owning another.
        let mut owned = Box::pin(clock.sleep(Duration::from_secs(5)));
        assert!(poll_with(owned.as_mut(), &noop_waker()).is_pending());
        let w2 = holding(owned);
        assert!(poll_with(sleep.as_mut(), &w2).is_pending());
        drop(w2);
        let mut other = Box::pin(clock.sleep(Duration::from_secs(9)));
        let w3 = holding(Box::pin(clock.sleep(Duration::from_secs(9))));
        assert!(poll_with(other.as_mut(), &w3).is_pending());
        drop(w3);
        drop(other); // removes a waker owning an unregistered sleep
        clock.advance(Duration::from_secs(1));
        assert_eq!(poll_with(sleep.as_mut(), &noop_waker()), Poll::Ready(()));
        assert_eq!(clock.sleepers(), 0);
    });
}
