//! Loom models of the credit semaphore. Each ends with every guard dropped
//! and asserts conservation (available == total, debt repaid), and relies
//! on loom's deadlock detection for "no waiter left asleep": a `block_on`
//! whose wake-up was lost parks forever and fails the model.

use flowgate::credit::{AcquireError, CreditSemaphore, TryAcquireError};
use flowgate_loom_tests::{block_on, model, thread};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

/// Three parties take and return one credit each; never two at once.
#[test]
fn acquire_release_three_threads() {
    model(|| {
        let sem = Arc::new(CreditSemaphore::new(1));
        let in_use = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let worker = |sem: Arc<CreditSemaphore>, in_use: Arc<std::sync::atomic::AtomicUsize>| {
            move || {
                block_on(async {
                    let held = sem.acquire(1).await.unwrap();
                    let was = in_use.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    assert_eq!(was, 0, "two holders of one credit");
                    in_use.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    drop(held);
                })
            }
        };
        let a = thread::spawn(worker(Arc::clone(&sem), Arc::clone(&in_use)));
        let b = thread::spawn(worker(Arc::clone(&sem), Arc::clone(&in_use)));
        worker(Arc::clone(&sem), in_use)();
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(sem.available(), 1);
    });
}

/// FIFO: credit added while a waiter is queued goes to that waiter, never
/// to a racing `try_acquire`.
#[test]
fn hand_off_is_not_barged() {
    model(|| {
        let sem = Arc::new(CreditSemaphore::new(0));
        let mut waiter = Arc::clone(&sem).acquire_owned(1);
        assert!(poll_once(&mut waiter).is_pending());
        let adder = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.add_credits(1))
        };
        let barger = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::NoCredits);
            })
        };
        adder.join().unwrap();
        barger.join().unwrap();
        let held = block_on(waiter).unwrap();
        assert_eq!(held.count(), 1);
        drop(held);
        assert_eq!(sem.available(), 1);
    });
}

/// A waiter holding credit in part is cancelled while another waits: the
/// refund reaches the other waiter (no lost wake-up), nothing is lost.
#[test]
fn cancel_after_partial_assignment() {
    model(|| {
        let sem = Arc::new(CreditSemaphore::new(1));
        let mut head = Arc::clone(&sem).acquire_owned(2);
        assert!(poll_once(&mut head).is_pending()); // holds 1 of 2
        let canceller = thread::spawn(move || drop(head));
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                block_on(async {
                    drop(sem.acquire(1).await.unwrap());
                })
            })
        };
        canceller.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(sem.available(), 1);
    });
}

/// A granted but never observed waiter is cancelled while another waits:
/// the notification (and credit) passes on.
#[test]
fn notified_then_cancelled_passes_on() {
    model(|| {
        let sem = Arc::new(CreditSemaphore::new(0));
        let mut first = Arc::clone(&sem).acquire_owned(1);
        assert!(poll_once(&mut first).is_pending());
        let second = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                block_on(async {
                    drop(sem.acquire(1).await.unwrap());
                })
            })
        };
        let adder = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.add_credits(1))
        };
        drop(first);
        adder.join().unwrap();
        second.join().unwrap();
        assert_eq!(sem.available(), 1);
    });
}

/// `close` racing a waiting acquire and a credit return: the waiter ends
/// with the credit or with `Closed`, never hangs; credit is conserved.
#[test]
fn close_racing_acquire() {
    model(|| {
        let sem = Arc::new(CreditSemaphore::new(1));
        let returned = block_on(Arc::clone(&sem).acquire_owned(1)).unwrap();
        let waiter = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                block_on(async {
                    match sem.acquire(1).await {
                        Ok(held) => drop(held),
                        Err(err) => assert_eq!(err, AcquireError::Closed),
                    }
                })
            })
        };
        let releaser = thread::spawn(move || drop(returned));
        sem.close();
        waiter.join().unwrap();
        releaser.join().unwrap();
        assert!(sem.is_closed());
        assert_eq!(sem.available(), 1);
    });
}

/// Two waiters and two concurrent `add_credits(1)`: both are served.
#[test]
fn add_credits_racing_waiters() {
    model(|| {
        let sem = Arc::new(CreditSemaphore::new(0));
        let waiter = |sem: Arc<CreditSemaphore>| {
            thread::spawn(move || {
                block_on(async {
                    sem.acquire(1).await.unwrap().forget();
                })
            })
        };
        let a = waiter(Arc::clone(&sem));
        let b = waiter(Arc::clone(&sem));
        sem.add_credits(1);
        sem.add_credits(1);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(sem.available(), 0);
    });
}

/// `shrink` while credit is lent out and another acquire waits: the debt
/// is repaid before the waiter is served, and the total ends lowered.
#[test]
fn shrink_with_credit_out() {
    model(|| {
        let sem = Arc::new(CreditSemaphore::new(2));
        let held = block_on(Arc::clone(&sem).acquire_owned(2)).unwrap();
        let returner = thread::spawn(move || drop(held));
        let shrinker = {
            let sem = Arc::clone(&sem);
            thread::spawn(move || sem.shrink(1))
        };
        block_on(async {
            drop(sem.acquire(1).await.unwrap());
        });
        returner.join().unwrap();
        shrinker.join().unwrap();
        assert_eq!(sem.available(), 1, "total 2 - 1");
        assert_eq!(sem.try_acquire(2).unwrap_err(), TryAcquireError::NoCredits);
    });
}
