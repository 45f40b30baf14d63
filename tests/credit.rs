//! Behaviour of `flowgate::credit::CreditSemaphore`: every method, FIFO
//! order, partial hand-off, cancellation, close, shrink, bad input.

mod support;

use flowgate::credit::{
    Acquire, AcquireError, AcquireOwned, CreditSemaphore, Credits, OwnedCredits, TryAcquireError,
};
use futures::FutureExt;
use futures::executor::block_on;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use support::{counting, pend, poll_with, ready, wakes};

#[test]
fn new_and_available() {
    let sem = CreditSemaphore::new(10);
    assert_eq!(sem.available(), 10);
    assert!(!sem.is_closed());
    let max = CreditSemaphore::new(CreditSemaphore::MAX_CREDITS);
    assert_eq!(max.available(), CreditSemaphore::MAX_CREDITS);
}

#[test]
#[should_panic(expected = "exceed MAX_CREDITS")]
fn new_above_max_panics() {
    let _ = CreditSemaphore::new(CreditSemaphore::MAX_CREDITS + 1);
}

#[test]
fn acquire_and_drop_returns_credit() {
    let sem = CreditSemaphore::new(5);
    let held = block_on(sem.acquire(3)).unwrap();
    assert_eq!(held.count(), 3);
    assert_eq!(sem.available(), 2);
    drop(held);
    assert_eq!(sem.available(), 5);
}

#[test]
fn try_acquire_errors() {
    let sem = CreditSemaphore::new(2);
    let held = sem.try_acquire(2).unwrap();
    assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::NoCredits);
    assert_eq!(
        sem.try_acquire(CreditSemaphore::MAX_CREDITS + 1)
            .unwrap_err(),
        TryAcquireError::TooMany
    );
    drop(held);
    sem.close();
    assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::Closed);
}

#[test]
fn zero_is_ready_at_once() {
    let sem = CreditSemaphore::new(0);
    let zero = ready(&mut sem.acquire(0)).unwrap();
    assert_eq!(zero.count(), 0);
    assert_eq!(sem.try_acquire(0).unwrap().count(), 0);
    // even while someone waits
    let mut waiting = sem.acquire(1);
    pend(&mut waiting);
    assert!(ready(&mut sem.acquire(0)).is_ok());
}

#[test]
fn too_many_errors_at_once_never_hangs() {
    let sem = CreditSemaphore::new(1);
    let err = ready(&mut sem.acquire(CreditSemaphore::MAX_CREDITS + 1)).unwrap_err();
    assert_eq!(err, AcquireError::TooMany);
    let sem = Arc::new(sem);
    let err = ready(&mut sem.clone().acquire_owned(usize::MAX)).unwrap_err();
    assert_eq!(err, AcquireError::TooMany);
    assert_eq!(sem.available(), 1);
}

#[test]
fn add_credits_wakes_a_waiter() {
    let sem = CreditSemaphore::new(0);
    let mut fut = sem.acquire(2);
    let woken = pend(&mut fut);
    sem.add_credits(1);
    assert_eq!(wakes(&woken), 0, "1 of 2 is not enough");
    sem.add_credits(1);
    assert_eq!(wakes(&woken), 1);
    assert_eq!(ready(&mut fut).unwrap().count(), 2);
}

#[test]
#[should_panic(expected = "would exceed MAX_CREDITS")]
fn add_credits_past_max_panics() {
    let sem = CreditSemaphore::new(CreditSemaphore::MAX_CREDITS - 1);
    sem.add_credits(2);
}

#[test]
fn add_credits_counts_lent_out_credit_toward_max() {
    let sem = CreditSemaphore::new(CreditSemaphore::MAX_CREDITS);
    let held = sem.try_acquire(10).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sem.add_credits(1)));
    assert!(result.is_err(), "the 10 lent out still count");
    drop(held);
    assert_eq!(sem.available(), CreditSemaphore::MAX_CREDITS);
}

#[test]
fn fifo_order() {
    let sem = CreditSemaphore::new(0);
    let mut a = sem.acquire(1);
    let mut b = sem.acquire(1);
    let mut c = sem.acquire(1);
    let (wa, wb, wc) = (pend(&mut a), pend(&mut b), pend(&mut c));
    sem.add_credits(1);
    assert_eq!((wakes(&wa), wakes(&wb), wakes(&wc)), (1, 0, 0));
    sem.add_credits(1);
    assert_eq!((wakes(&wa), wakes(&wb), wakes(&wc)), (1, 1, 0));
    assert!(ready(&mut b).is_ok());
    assert!(ready(&mut a).is_ok());
    // b's and a's guards are gone already: the credit they returned went to c
    assert_eq!(wakes(&wc), 1);
    assert!(ready(&mut c).is_ok());
}

#[test]
fn large_head_is_not_overtaken() {
    let sem = CreditSemaphore::new(1);
    let mut big = sem.acquire(3);
    let big_woken = pend(&mut big); // takes the 1 available in part
    assert_eq!(sem.available(), 0);
    let mut small = sem.acquire(1);
    let small_woken = pend(&mut small);
    assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::NoCredits);
    sem.add_credits(1);
    assert_eq!((wakes(&big_woken), wakes(&small_woken)), (0, 0));
    let small_woken = pend(&mut small); // still queued behind the head
    sem.add_credits(1);
    assert_eq!((wakes(&big_woken), wakes(&small_woken)), (1, 0));
    let big_held = ready(&mut big).unwrap();
    assert_eq!(big_held.count(), 3);
    sem.add_credits(1);
    assert_eq!(wakes(&small_woken), 1);
    assert_eq!(ready(&mut small).unwrap().count(), 1);
}

#[test]
fn try_acquire_fails_while_others_wait() {
    let sem = CreditSemaphore::new(0);
    let mut waiting = sem.acquire(2);
    pend(&mut waiting);
    sem.add_credits(1); // handed to the waiter in part, not left available
    assert_eq!(sem.available(), 0);
    assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::NoCredits);
}

// ---- the four cancellation tests, for `Acquire` and `AcquireOwned` ----

#[test]
fn cancel_before_first_poll_takes_nothing() {
    let sem = Arc::new(CreditSemaphore::new(2));
    drop(sem.acquire(1));
    drop(Arc::clone(&sem).acquire_owned(2));
    assert_eq!(sem.available(), 2);
    assert!(sem.try_acquire(2).is_ok());
}

#[test]
fn cancel_pending_with_partial_assignment_refunds_and_wakes_next() {
    let sem = Arc::new(CreditSemaphore::new(2));
    let mut head = sem.acquire(3); // gets 2 in part
    pend(&mut head);
    let mut next = Arc::clone(&sem).acquire_owned(1);
    let next_woken = pend(&mut next);
    drop(head);
    assert_eq!(wakes(&next_woken), 1, "the refund reaches the next waiter");
    let next = ready(&mut next).unwrap();
    assert_eq!(next.count(), 1);
    assert_eq!(sem.available(), 1);

    // the same with the owned future as the cancelled head
    let sem = Arc::new(CreditSemaphore::new(2));
    let mut head = Arc::clone(&sem).acquire_owned(3);
    pend(&mut head);
    let mut next = sem.acquire(2);
    let next_woken = pend(&mut next);
    drop(head);
    assert_eq!(wakes(&next_woken), 1);
    assert_eq!(ready(&mut next).unwrap().count(), 2);
}

#[test]
fn cancel_pending_without_assignment_leaves_others_intact() {
    let sem = CreditSemaphore::new(0);
    let mut a = sem.acquire(1);
    let mut b = sem.acquire(1);
    let mut c = sem.acquire(1);
    let (wa, _, wc) = (pend(&mut a), pend(&mut b), pend(&mut c));
    drop(b); // from the middle
    sem.add_credits(2);
    assert_eq!((wakes(&wa), wakes(&wc)), (1, 1));
    assert!(ready(&mut a).is_ok() && ready(&mut c).is_ok());
}

#[test]
fn notified_then_dropped_passes_notification_on() {
    let sem = CreditSemaphore::new(0);
    let mut first = sem.acquire(1);
    let mut second = sem.acquire(1);
    let (w1, w2) = (pend(&mut first), pend(&mut second));
    sem.add_credits(1);
    assert_eq!((wakes(&w1), wakes(&w2)), (1, 0));
    drop(first); // granted, never observed
    assert_eq!(wakes(&w2), 1, "the grant passes to the next waiter");
    assert_eq!(ready(&mut second).unwrap().count(), 1);

    let sem = Arc::new(CreditSemaphore::new(0));
    let mut first = Arc::clone(&sem).acquire_owned(2);
    let mut second = Arc::clone(&sem).acquire_owned(2);
    let (w1, w2) = (pend(&mut first), pend(&mut second));
    sem.add_credits(2);
    assert_eq!(wakes(&w1), 1);
    drop(first);
    assert_eq!(wakes(&w2), 1);
    let second = ready(&mut second).unwrap();
    assert_eq!(second.count(), 2);
    assert_eq!(sem.available(), 0);
}

#[test]
fn repoll_with_new_waker_wakes_only_the_new_one() {
    let sem = Arc::new(CreditSemaphore::new(0));
    let mut fut = sem.acquire(1);
    let old = pend(&mut fut);
    let new = pend(&mut fut);
    sem.add_credits(1);
    assert_eq!((wakes(&old), wakes(&new)), (0, 1));
    assert!(ready(&mut fut).is_ok());

    let mut fut = Arc::clone(&sem).acquire_owned(2);
    let old = pend(&mut fut);
    let new = pend(&mut fut);
    sem.add_credits(2);
    assert_eq!((wakes(&old), wakes(&new)), (0, 1));
    assert_eq!(ready(&mut fut).unwrap().count(), 2);
}

#[test]
fn drop_after_completion_returns_nothing_twice() {
    let sem = CreditSemaphore::new(1);
    let mut fut = sem.acquire(1);
    let held = ready(&mut fut).unwrap();
    drop(fut);
    assert_eq!(sem.available(), 0);
    drop(held);
    assert_eq!(sem.available(), 1);
}

// ---- every path that returns credit wakes a waiter ----

fn assert_wakes_waiter(sem: &CreditSemaphore, give_back: impl FnOnce()) {
    let mut waiter = sem.acquire(1);
    let woken = pend(&mut waiter);
    give_back();
    assert_eq!(wakes(&woken), 1, "returning credit must wake the waiter");
    let held = ready(&mut waiter).unwrap();
    assert_eq!(held.count(), 1);
    held.forget(); // keep the arithmetic of the caller simple
}

#[test]
fn every_credit_return_path_wakes() {
    let sem = Arc::new(CreditSemaphore::new(3));

    let held = sem.try_acquire(3).unwrap();
    assert_wakes_waiter(&sem, || drop(held)); // Credits::drop
    assert_eq!(sem.available(), 2);

    let owned = block_on(Arc::clone(&sem).acquire_owned(2)).unwrap();
    assert_wakes_waiter(&sem, || drop(owned)); // OwnedCredits::drop
    assert_eq!(sem.available(), 1);

    let mut held = sem.try_acquire(1).unwrap();
    let part = held.split(1).unwrap();
    held.forget();
    assert_wakes_waiter(&sem, || drop(part)); // a split part's drop
    assert_wakes_waiter(&sem, || sem.add_credits(1)); // add_credits

    sem.add_credits(1);
    let mut owned = block_on(Arc::clone(&sem).acquire_owned(1)).unwrap();
    let part = owned.split(1).unwrap();
    owned.forget();
    assert_wakes_waiter(&sem, || drop(part)); // an owned split part's drop

    // a cancelled waiter holding part of its request
    sem.add_credits(1);
    let mut partial = sem.acquire(2);
    pend(&mut partial);
    assert_wakes_waiter(&sem, || drop(partial));

    // a waiter granted but dropped before it saw the grant
    let mut granted = Arc::clone(&sem).acquire_owned(1);
    pend(&mut granted);
    let mut waiter = sem.acquire(1);
    let woken = pend(&mut waiter);
    sem.add_credits(1);
    assert_eq!(wakes(&woken), 0);
    drop(granted);
    assert_eq!(wakes(&woken), 1);
    ready(&mut waiter).unwrap().forget();
}

#[test]
fn one_release_serves_more_waiters_than_a_wake_batch() {
    let sem = CreditSemaphore::new(0);
    let mut futs: Vec<_> = (0..100).map(|_| sem.acquire(1)).collect();
    let counts: Vec<_> = futs.iter_mut().map(pend).collect();
    sem.add_credits(100);
    assert!(counts.iter().all(|c| wakes(c) == 1));
    for fut in &mut futs {
        ready(fut).unwrap().forget();
    }
    assert_eq!(sem.available(), 0);
}

// ---- close ----

#[test]
fn close_wakes_every_waiter_with_closed() {
    let sem = Arc::new(CreditSemaphore::new(1));
    let held = sem.try_acquire(1).unwrap();
    let mut a = sem.acquire(1);
    let mut b = Arc::clone(&sem).acquire_owned(5);
    let (wa, wb) = (pend(&mut a), pend(&mut b));
    sem.close();
    assert!(sem.is_closed());
    assert_eq!((wakes(&wa), wakes(&wb)), (1, 1));
    assert_eq!(ready(&mut a).unwrap_err(), AcquireError::Closed);
    assert_eq!(ready(&mut b).unwrap_err(), AcquireError::Closed);
    // later acquires fail, even with credit available
    drop(held);
    assert_eq!(
        sem.available(),
        1,
        "outstanding credit stays valid and returns"
    );
    assert_eq!(block_on(sem.acquire(1)).unwrap_err(), AcquireError::Closed);
    assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::Closed);
    // closing twice is harmless
    sem.close();
    assert!(sem.is_closed());
}

#[test]
fn close_refunds_partial_assignment() {
    let sem = CreditSemaphore::new(2);
    let mut big = sem.acquire(5);
    pend(&mut big);
    assert_eq!(sem.available(), 0);
    sem.close();
    assert_eq!(sem.available(), 2);
    assert_eq!(ready(&mut big).unwrap_err(), AcquireError::Closed);
    assert_eq!(sem.available(), 2);
}

#[test]
fn close_wakes_more_waiters_than_a_wake_batch() {
    let sem = CreditSemaphore::new(0);
    let mut futs: Vec<_> = (0..70).map(|_| sem.acquire(1)).collect();
    let counts: Vec<_> = futs.iter_mut().map(pend).collect();
    sem.close();
    assert!(counts.iter().all(|c| wakes(c) == 1));
    assert!(futs.iter_mut().all(|f| ready(f).is_err()));
}

// ---- shrink ----

#[test]
fn shrink_takes_available_at_once() {
    let sem = CreditSemaphore::new(5);
    sem.shrink(2);
    assert_eq!(sem.available(), 3);
    sem.add_credits(1);
    assert_eq!(sem.available(), 4);
}

#[test]
fn shrink_with_credit_out_is_repaid_on_return() {
    let sem = CreditSemaphore::new(5);
    let held = sem.try_acquire(4).unwrap();
    sem.shrink(3); // 1 now, 2 owed
    assert_eq!(sem.available(), 0);
    let mut waiter = sem.acquire(1);
    let woken = pend(&mut waiter);
    let mut held = held;
    let first = held.split(2).unwrap();
    drop(first); // repays the debt of 2: nothing reaches the waiter
    assert_eq!(wakes(&woken), 0);
    assert_eq!(sem.available(), 0);
    drop(held); // 2 more: 1 to the waiter, 1 available
    assert_eq!(wakes(&woken), 1);
    assert_eq!(sem.available(), 1);
    drop(ready(&mut waiter).unwrap());
    assert_eq!(sem.available(), 2, "the total is 5 - 3");
}

#[test]
fn add_credits_repays_debt_first() {
    let sem = CreditSemaphore::new(2);
    let held = sem.try_acquire(2).unwrap();
    sem.shrink(2);
    sem.add_credits(3);
    assert_eq!(sem.available(), 1);
    drop(held);
    assert_eq!(sem.available(), 3);
}

#[test]
fn shrink_more_than_total_stops_at_zero() {
    let sem = CreditSemaphore::new(3);
    let held = sem.try_acquire(1).unwrap();
    sem.shrink(10);
    assert_eq!(sem.available(), 0);
    drop(held);
    assert_eq!(sem.available(), 0);
    sem.add_credits(2);
    assert_eq!(sem.available(), 2);
    sem.shrink(0);
    assert_eq!(sem.available(), 2);
}

#[test]
fn shrink_counts_partial_assignment_as_lent_out() {
    let sem = CreditSemaphore::new(2);
    let mut big = sem.acquire(3);
    pend(&mut big); // holds 2 in part
    sem.shrink(2); // nothing available: all owed
    drop(big); // the refund repays the debt
    assert_eq!(sem.available(), 0);
    sem.add_credits(1);
    assert_eq!(sem.available(), 1);
}

// ---- guards ----

#[test]
fn split_merge_forget_count() {
    let sem = CreditSemaphore::new(6);
    let mut a = sem.try_acquire(4).unwrap();
    assert!(a.split(5).is_none());
    assert_eq!(a.count(), 4);
    let b = a.split(3).unwrap();
    assert_eq!((a.count(), b.count()), (1, 3));
    a.merge(b);
    assert_eq!(a.count(), 4);
    a.forget();
    assert_eq!(sem.available(), 2);
}

#[test]
#[should_panic(expected = "different semaphores")]
fn merge_from_another_semaphore_panics() {
    let one = CreditSemaphore::new(1);
    let two = CreditSemaphore::new(1);
    let mut a = one.try_acquire(1).unwrap();
    a.merge(two.try_acquire(1).unwrap());
}

#[test]
#[should_panic(expected = "different semaphores")]
fn owned_merge_from_another_semaphore_panics() {
    let one = Arc::new(CreditSemaphore::new(1));
    let two = Arc::new(CreditSemaphore::new(1));
    let mut a = block_on(one.acquire_owned(1)).unwrap();
    a.merge(block_on(two.acquire_owned(1)).unwrap());
}

#[test]
fn owned_guard_outlives_borrow() {
    let sem = Arc::new(CreditSemaphore::new(2));
    let mut held = block_on(Arc::clone(&sem).acquire_owned(2)).unwrap();
    assert!(Arc::ptr_eq(held.semaphore(), &sem));
    let part = held.split(1).unwrap();
    std::thread::spawn(move || drop(part)).join().unwrap();
    assert_eq!(sem.available(), 1);
    held.forget();
    assert_eq!(sem.available(), 1);
}

#[test]
fn debug_output_does_not_panic() {
    let sem = Arc::new(CreditSemaphore::new(2));
    let held = sem.try_acquire(1).unwrap();
    let fut = sem.acquire(1);
    let owned = Arc::clone(&sem).acquire_owned(1);
    let text = format!("{sem:?} {held:?} {fut:?} {owned:?}");
    assert!(text.contains("CreditSemaphore") && text.contains("Credits"));
    assert!(!format!("{}", AcquireError::Closed).is_empty());
    assert!(!format!("{}", TryAcquireError::NoCredits).is_empty());
}

// ---- threads ----

#[test]
fn many_threads_conserve_credit_and_never_overdraw() {
    const TOTAL: usize = 5;
    const THREADS: usize = 8;
    const ROUNDS: usize = if cfg!(miri) { 20 } else { 2_000 };
    let sem = Arc::new(CreditSemaphore::new(TOTAL));
    let in_use = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (sem, in_use) = (Arc::clone(&sem), Arc::clone(&in_use));
            std::thread::spawn(move || {
                block_on(async {
                    for round in 0..ROUNDS {
                        let n = 1 + (t + round) % 3;
                        let held = if round % 2 == 0 {
                            sem.acquire(n).await.unwrap()
                        } else {
                            let owned = Arc::clone(&sem).acquire_owned(n).await.unwrap();
                            let now = in_use.fetch_add(n, Ordering::SeqCst) + n;
                            assert!(now <= TOTAL, "{now} credits in use of {TOTAL}");
                            in_use.fetch_sub(n, Ordering::SeqCst);
                            drop(owned);
                            continue;
                        };
                        let now = in_use.fetch_add(n, Ordering::SeqCst) + n;
                        assert!(now <= TOTAL, "{now} credits in use of {TOTAL}");
                        in_use.fetch_sub(n, Ordering::SeqCst);
                        drop(held);
                    }
                })
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(sem.available(), TOTAL);
}

#[test]
fn many_threads_with_cancellation_conserve_credit() {
    let sem = Arc::new(CreditSemaphore::new(3));
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let sem = Arc::clone(&sem);
            std::thread::spawn(move || {
                let (_, waker) = counting();
                for round in 0..if cfg!(miri) { 30 } else { 3_000 } {
                    let mut fut = sem.acquire(1 + (t + round) % 3);
                    match poll_with(&mut fut, &waker) {
                        Poll::Ready(held) => drop(held.unwrap()),
                        Poll::Pending if round % 2 == 0 => drop(fut),
                        Poll::Pending => drop(block_on(fut).unwrap()),
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(sem.available(), 3);
    assert!(sem.try_acquire(3).is_ok());
}

#[test]
fn close_from_another_thread_releases_blocked_threads() {
    let sem = Arc::new(CreditSemaphore::new(0));
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (sem, started) = (Arc::clone(&sem), started_tx.clone());
            std::thread::spawn(move || {
                block_on(async move {
                    let mut fut = sem.acquire(1);
                    // register as a waiter before telling the closer
                    let first = (&mut fut).now_or_never();
                    assert!(first.is_none());
                    started.send(()).unwrap();
                    fut.await.map(|held| held.count())
                })
            })
        })
        .collect();
    for _ in 0..4 {
        started_rx.recv().unwrap();
    }
    sem.close();
    for handle in handles {
        assert_eq!(handle.join().unwrap().unwrap_err(), AcquireError::Closed);
    }
}

// ---- auto traits ----

#[test]
fn auto_traits() {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    send_sync_unpin::<CreditSemaphore>();
    send_sync_unpin::<Credits<'static>>();
    send_sync_unpin::<OwnedCredits>();
    send_sync_unpin::<Acquire<'static>>();
    send_sync_unpin::<AcquireOwned>();
    send_sync_unpin::<AcquireError>();
    send_sync_unpin::<TryAcquireError>();
}
