//! No user code runs under a mailbox lock (issue 15): a waker is user
//! code, and dropping or waking it may re-enter the same mailbox.
//!
//! - A waker that owns a resource of the mailbox (an `OwnedPermit`, the
//!   `Receiver`, a `Sender`), parked in a pending future that is then
//!   re-polled with another waker, or dropped: dropping the old waker gives
//!   the resource back, which takes the mailbox's locks again.
//! - A waker whose `wake` calls into the mailbox (`try_send`, `try_recv`,
//!   `close`).
//!
//! Each test runs under [`deadline`]: a regression (a waker dropped or
//! woken under a lock) deadlocks the worker thread, and the test fails
//! instead of hanging.

use flowgate::mailbox::{self, OwnedPermit, Receiver, Sender};
use futures::FutureExt;
use futures::task::{ArcWake, noop_waker};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A waker that owns `T` until it is dropped.
struct Holds<T>(Mutex<Option<T>>);

impl<T: std::marker::Send + Sync> ArcWake for Holds<T> {
    fn wake_by_ref(_: &Arc<Self>) {}
}

/// A waker owning `value`; the caller's handle is usually dropped after
/// the first poll, so the mailbox holds the last one.
fn holding<T: std::marker::Send + Sync + 'static>(value: T) -> Waker {
    futures::task::waker(Arc::new(Holds(Mutex::new(Some(value)))))
}

/// A waker that runs a closure (once) when woken.
struct OnWake(Mutex<Option<Box<dyn FnOnce() + std::marker::Send>>>);

impl ArcWake for OnWake {
    fn wake_by_ref(this: &Arc<Self>) {
        let f = this.0.lock().unwrap().take();
        if let Some(f) = f {
            f();
        }
    }
}

fn on_wake(f: impl FnOnce() + std::marker::Send + 'static) -> Waker {
    futures::task::waker(Arc::new(OnWake(Mutex::new(Some(Box::new(f))))))
}

/// Runs `body` on its own thread and fails if it has not finished within
/// a generous deadline (a deadlock; not a sleep: it returns as soon as the
/// body does).
fn deadline(body: impl FnOnce() + std::marker::Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(20)) {
        Ok(()) => worker.join().unwrap(),
        // The body panicked: report its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("deadlocked: a waker dropped or woken under a mailbox lock")
        }
    }
}

fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// A full mailbox of capacity 1 and a permit for its slot.
fn full() -> (Sender<u32>, Receiver<u32>, OwnedPermit<u32>) {
    let (tx, rx) = mailbox::bounded(1);
    let permit = tx.clone().reserve_owned().now_or_never().unwrap().unwrap();
    (tx, rx, permit)
}

#[test]
fn reserve_repolled_while_old_waker_owns_a_permit() {
    deadline(|| {
        let (tx, _rx, permit) = full();
        let mut reserve = Box::pin(tx.reserve());
        let old = holding(permit);
        assert!(poll_once(reserve.as_mut(), &old).is_pending());
        drop(old); // only the wait list holds it now
        // Replacing it drops it, which frees the slot to us.
        let _ = poll_once(reserve.as_mut(), &noop_waker());
        let Poll::Ready(Ok(permit)) = poll_once(reserve.as_mut(), &noop_waker()) else {
            panic!("the freed slot was not granted");
        };
        permit.send(1);
    });
}

#[test]
fn reserve_dropped_while_its_waker_owns_a_permit() {
    deadline(|| {
        let (tx, _rx, permit) = full();
        let mut reserve = Box::pin(tx.reserve());
        let old = holding(permit);
        assert!(poll_once(reserve.as_mut(), &old).is_pending());
        drop(old);
        drop(reserve);
        assert!(tx.try_send(1).is_ok(), "the permit's slot came back");
    });
}

#[test]
fn reserve_owned_repolled_and_dropped_while_old_waker_owns_a_permit() {
    deadline(|| {
        let (tx, _rx, permit) = full();
        let mut reserve = Box::pin(tx.clone().reserve_owned());
        let old = holding(permit);
        assert!(poll_once(reserve.as_mut(), &old).is_pending());
        drop(old);
        let _ = poll_once(reserve.as_mut(), &noop_waker());
        assert!(matches!(
            poll_once(reserve.as_mut(), &noop_waker()),
            Poll::Ready(Ok(_))
        ));

        let permit = tx.clone().reserve_owned().now_or_never().unwrap().unwrap();
        drop(reserve);
        let mut reserve = Box::pin(tx.clone().reserve_owned());
        let old = holding(permit);
        assert!(poll_once(reserve.as_mut(), &old).is_pending());
        drop(old);
        drop(reserve);
        assert!(tx.try_send(1).is_ok());
    });
}

#[test]
fn send_repolled_and_dropped_while_old_waker_owns_a_permit() {
    deadline(|| {
        let (tx, mut rx, permit) = full();
        let mut send = Box::pin(tx.send(7));
        let old = holding(permit);
        assert!(poll_once(send.as_mut(), &old).is_pending());
        drop(old);
        let _ = poll_once(send.as_mut(), &noop_waker());
        assert!(matches!(
            poll_once(send.as_mut(), &noop_waker()),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(rx.try_recv(), Ok(7));

        let permit = tx.clone().reserve_owned().now_or_never().unwrap().unwrap();
        let mut send = Box::pin(tx.send(8));
        let old = holding(permit);
        assert!(poll_once(send.as_mut(), &old).is_pending());
        drop(old);
        drop(send);
        assert!(tx.try_send(9).is_ok());
    });
}

/// The old waker owns the `Receiver`: dropping it closes the mailbox, which
/// takes the wait list's lock to wake the waiters.
#[test]
fn reserve_repolled_and_dropped_while_old_waker_owns_the_receiver() {
    deadline(|| {
        let (tx, rx, permit) = full();
        let mut reserve = Box::pin(tx.reserve());
        let old = holding(rx);
        assert!(poll_once(reserve.as_mut(), &old).is_pending());
        drop(old);
        let _ = poll_once(reserve.as_mut(), &noop_waker());
        assert!(matches!(
            poll_once(reserve.as_mut(), &noop_waker()),
            Poll::Ready(Err(_))
        ));
        drop(permit);

        let (tx, rx, _permit) = full();
        let mut reserve = Box::pin(tx.reserve());
        let old = holding(rx);
        assert!(poll_once(reserve.as_mut(), &old).is_pending());
        drop(old);
        drop(reserve);
        assert!(tx.is_closed());
    });
}

/// `closed()` parks in its own list; the old waker owns the `Receiver`,
/// whose drop closes the mailbox and takes that list's lock.
#[test]
fn closed_repolled_and_dropped_while_old_waker_owns_the_receiver() {
    deadline(|| {
        let (tx, rx) = mailbox::bounded::<u32>(1);
        let mut closed = Box::pin(tx.closed());
        let old = holding(rx);
        assert!(poll_once(closed.as_mut(), &old).is_pending());
        drop(old);
        let _ = poll_once(closed.as_mut(), &noop_waker());
        assert!(poll_once(closed.as_mut(), &noop_waker()).is_ready());

        let (tx, rx) = mailbox::bounded::<u32>(1);
        let mut closed = Box::pin(tx.closed());
        let old = holding(rx);
        assert!(poll_once(closed.as_mut(), &old).is_pending());
        drop(old);
        drop(closed);
        assert!(tx.is_closed());
    });
}

/// The receiver's waker slot: the old waker owns a permit and the last
/// `Sender` (inside the permit); replacing it ends the stream.
#[test]
fn recv_repolled_while_old_waker_owns_the_last_sender() {
    deadline(|| {
        let (tx, mut rx) = mailbox::bounded::<u32>(1);
        let permit = tx.reserve_owned().now_or_never().unwrap().unwrap();
        let mut recv = Box::pin(rx.recv());
        let old = holding(permit);
        assert!(poll_once(recv.as_mut(), &old).is_pending());
        drop(old);
        assert_eq!(poll_once(recv.as_mut(), &noop_waker()), Poll::Ready(None));
    });
}

/// Dropping the `Receiver` releases its registered waker at once, though a
/// `Sender` and a `WeakSender` live on (tokio asserts the same).
#[test]
fn receiver_drop_releases_its_waker_at_once() {
    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    let weak = tx.downgrade();
    let owner = Arc::new(Holds::<()>(Mutex::new(None)));
    let waker = futures::task::waker_ref(&owner).clone();
    assert!(poll_once(std::pin::pin!(rx.recv()), &waker).is_pending());
    drop(waker);
    assert_eq!(Arc::strong_count(&owner), 2, "the mailbox holds the waker");
    drop(rx);
    assert_eq!(Arc::strong_count(&owner), 1, "released with the receiver");
    drop((tx, weak));
}

/// A parked sender's waker re-enters the mailbox with `try_send` and
/// `try_recv` when woken; the wake comes from a permit given back
/// (`release_unused` serving the queue).
#[test]
fn sender_wake_reenters_with_try_send_and_try_recv() {
    deadline(|| {
        let (tx, rx, permit) = full();
        let rx = Arc::new(Mutex::new(rx));
        let seen = Arc::new(Mutex::new(None));
        let mut send = Box::pin(tx.send(1));
        let waker = {
            let (tx, rx, seen) = (tx.clone(), Arc::clone(&rx), Arc::clone(&seen));
            on_wake(move || {
                let sent = tx.try_send(2);
                let got = rx.lock().unwrap().try_recv();
                *seen.lock().unwrap() = Some((sent.is_ok(), got));
            })
        };
        assert!(poll_once(send.as_mut(), &waker).is_pending());
        drop(waker);
        drop(permit);
        // The freed slot was granted to `send`, its message not pushed yet.
        assert_eq!(
            seen.lock().unwrap().take(),
            Some((false, Err(mailbox::TryRecvError::Empty)))
        );
        assert!(poll_once(send.as_mut(), &noop_waker()).is_ready());
        assert_eq!(rx.lock().unwrap().try_recv(), Ok(1));
    });
}

/// A parked sender's waker closes the mailbox when woken; the wake comes
/// from a permit given back (`release_unused` serving the queue).
#[test]
fn sender_wake_reenters_with_close() {
    deadline(|| {
        let (tx, rx, permit) = full();
        let rx = Arc::new(Mutex::new(rx));
        let mut reserve = Box::pin(tx.reserve());
        let waker = {
            let rx = Arc::clone(&rx);
            on_wake(move || rx.lock().unwrap().close())
        };
        assert!(poll_once(reserve.as_mut(), &waker).is_pending());
        drop(permit);
        assert!(tx.is_closed(), "the waker closed the mailbox");
        // Granted before the close: the slot is still ours.
        assert!(matches!(
            poll_once(reserve.as_mut(), &noop_waker()),
            Poll::Ready(Ok(_))
        ));
    });
}

/// The receiver's waker sends into the same mailbox when a push wakes it.
#[test]
fn receiver_wake_reenters_with_try_send() {
    deadline(|| {
        let (tx, mut rx) = mailbox::bounded::<u32>(2);
        let waker = {
            let tx = tx.clone();
            on_wake(move || tx.try_send(2).unwrap())
        };
        assert!(poll_once(std::pin::pin!(rx.recv()), &waker).is_pending());
        drop(waker);
        tx.try_send(1).unwrap();
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Ok(2));
    });
}

/// The sink's pending `poll_ready` parks in the same queue: re-polled and
/// dropped while the old waker owns a permit.
#[test]
fn sink_poll_ready_repolled_and_dropped_while_old_waker_owns_a_permit() {
    use futures::Sink;
    deadline(|| {
        let (tx, _rx, permit) = full();
        let mut sink = tx.clone().into_sink();
        let old = holding(permit);
        let ready = Pin::new(&mut sink).poll_ready(&mut Context::from_waker(&old));
        assert!(ready.is_pending());
        drop(old);
        let noop = noop_waker();
        let _ = Pin::new(&mut sink).poll_ready(&mut Context::from_waker(&noop));
        assert!(matches!(
            Pin::new(&mut sink).poll_ready(&mut Context::from_waker(&noop)),
            Poll::Ready(Ok(()))
        ));

        let permit = tx.clone().reserve_owned().now_or_never();
        assert!(permit.is_none(), "the sink holds the freed slot");
        drop(sink);
        let permit = tx.clone().reserve_owned().now_or_never().unwrap().unwrap();
        let mut sink = tx.clone().into_sink();
        let old = holding(permit);
        let ready = Pin::new(&mut sink).poll_ready(&mut Context::from_waker(&old));
        assert!(ready.is_pending());
        drop(old);
        drop(sink);
        assert!(tx.try_send(1).is_ok());
    });
}

/// A timed send parks in the same queue: re-polled while the old waker
/// owns a permit, and timed out (dropped from the queue) likewise.
#[test]
fn send_timeout_repolled_and_timed_out_while_old_waker_owns_a_permit() {
    use flowgate::runtime::ManualClock;
    deadline(|| {
        let clock = ManualClock::new();
        let (tx, mut rx, permit) = full();
        let mut send = Box::pin(tx.send_timeout_with(&clock, 5, Duration::from_secs(1)));
        let old = holding(permit);
        assert!(poll_once(send.as_mut(), &old).is_pending());
        drop(old);
        let _ = poll_once(send.as_mut(), &noop_waker());
        assert!(matches!(
            poll_once(send.as_mut(), &noop_waker()),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(rx.try_recv(), Ok(5));

        let permit = tx.clone().reserve_owned().now_or_never().unwrap().unwrap();
        let mut send = Box::pin(tx.send_timeout_with(&clock, 6, Duration::from_secs(1)));
        let old = holding(permit);
        assert!(poll_once(send.as_mut(), &old).is_pending());
        drop(old);
        clock.advance(Duration::from_secs(1));
        // The permit comes back when its waker is dropped (at the latest,
        // on leaving the queue); the send may take that slot or time out.
        if let Poll::Ready(Ok(())) = poll_once(send.as_mut(), &noop_waker()) {
            assert_eq!(rx.try_recv(), Ok(6));
        }
        drop(send);
        assert!(tx.try_send(7).is_ok(), "the permit's slot came back");
    });
}
