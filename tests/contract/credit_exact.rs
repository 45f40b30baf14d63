//! The credit semaphore's bookkeeping step by step (DESIGN.md §3,
//! `flowgate::credit`): the exact `available()` after every operation,
//! partial assignment to the head waiter, what `close`, `shrink`, `forget`
//! and `add_credits` do to waiters and holders, owned and borrowed guards,
//! errors and their text.

use super::support::ready;
use super::*;
use flowgate::credit::{AcquireError, AcquireTimeoutError, CreditSemaphore, TryAcquireError};
use flowgate::runtime::ManualClock;
use std::task::Waker;
use std::time::Duration;

#[test]
fn partial_assignment_goes_to_the_head_only_and_in_arrival_order() {
    let sem = CreditSemaphore::new(1);
    let mut big = sem.acquire(3);
    let big_woken = pend(&mut big);
    // The one available credit went to `big` as a partial assignment.
    assert_eq!(sem.available(), 0);
    let mut small = sem.acquire(1);
    let small_woken = pend(&mut small);
    assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::NoCredits);

    sem.add_credits(1); // big: 2 of 3; small: nothing yet
    assert_eq!(
        (big_woken.get(), small_woken.get(), sem.available()),
        (0, 0, 0)
    );
    sem.add_credits(2); // big: 3 of 3; small: 1 of 1
    assert!(big_woken.get() >= 1 && small_woken.get() >= 1);
    assert_eq!(sem.available(), 0);
    let big = ready(&mut big).unwrap();
    let small = ready(&mut small).unwrap();
    assert_eq!((big.count(), small.count()), (3, 1));
    sem.add_credits(1);
    assert_eq!(sem.available(), 1);
    drop(big);
    assert_eq!(sem.available(), 4);
    drop(small);
    assert_eq!(sem.available(), 5);
}

#[test]
fn a_cancelled_head_hands_its_partial_credit_to_the_next_in_line() {
    let sem = CreditSemaphore::new(2);
    let mut big = sem.acquire(5);
    let _ = pend(&mut big);
    let mut one = sem.acquire(1);
    let one_woken = pend(&mut one);
    let mut two = sem.acquire(2);
    let two_woken = pend(&mut two);
    drop(big); // its 2 credits: 1 to `one`, 1 to `two` (partial)
    assert_eq!(one_woken.get(), 1);
    assert_eq!(two_woken.get(), 0);
    assert_eq!(sem.available(), 0);
    drop(two); // its partial credit comes back, nobody waits
    assert_eq!(sem.available(), 1);
    assert_eq!(ready(&mut one).unwrap().count(), 1);
    assert_eq!(sem.available(), 2);
}

#[test]
fn a_granted_but_unpolled_acquire_returns_everything_when_dropped() {
    let sem = CreditSemaphore::new(0);
    let mut a = sem.acquire(2);
    let a_woken = pend(&mut a);
    let mut b = sem.acquire(1);
    let b_woken = pend(&mut b);
    sem.add_credits(2);
    assert_eq!((a_woken.get(), b_woken.get()), (1, 0));
    drop(a); // granted, never polled again: its 2 pass on
    assert_eq!(b_woken.get(), 1);
    assert_eq!(sem.available(), 1);
    drop(ready(&mut b).unwrap());
    assert_eq!(sem.available(), 2);
}

#[test]
fn too_many_is_an_error_at_once_under_every_form_and_state() {
    let over = CreditSemaphore::MAX_CREDITS + 1;
    let sem = Arc::new(CreditSemaphore::new(0));
    let mut waiting = sem.acquire(1);
    let _ = pend(&mut waiting);
    for n in [over, usize::MAX] {
        assert_eq!(sem.try_acquire(n).unwrap_err(), TryAcquireError::TooMany);
        assert_eq!(
            sem.acquire(n).now_or_never().unwrap().unwrap_err(),
            AcquireError::TooMany
        );
        assert_eq!(
            Arc::clone(&sem)
                .acquire_owned(n)
                .now_or_never()
                .unwrap()
                .unwrap_err(),
            AcquireError::TooMany
        );
        let clock = ManualClock::new();
        assert_eq!(
            sem.acquire_timeout_with(&clock, n, Duration::from_secs(1))
                .now_or_never()
                .unwrap()
                .unwrap_err(),
            AcquireTimeoutError::TooMany
        );
    }
    // Nothing was queued or taken by those: the waiter is served first.
    sem.add_credits(1);
    assert_eq!(ready(&mut waiting).unwrap().count(), 1);
    // MAX_CREDITS itself is a legal request: it waits.
    let mut max = sem.acquire(CreditSemaphore::MAX_CREDITS);
    let _ = pend(&mut max);
}

#[test]
fn close_fails_waiters_refunds_their_partial_credit_and_keeps_holders_valid() {
    let sem = Arc::new(CreditSemaphore::new(3));
    let held = sem.try_acquire(2).unwrap();
    let owned = Arc::clone(&sem)
        .acquire_owned(1)
        .now_or_never()
        .unwrap()
        .unwrap();
    sem.add_credits(1);
    let mut head = sem.acquire(4); // takes the 1 available, partly
    let head_woken = pend(&mut head);
    let mut owned_wait = Arc::clone(&sem).acquire_owned(1);
    let owned_woken = pend(&mut owned_wait);
    assert_eq!(sem.available(), 0);

    sem.close();
    assert!(sem.is_closed());
    assert_eq!((head_woken.get(), owned_woken.get()), (1, 1));
    assert_eq!(ready(&mut head).unwrap_err(), AcquireError::Closed);
    assert_eq!(ready(&mut owned_wait).unwrap_err(), AcquireError::Closed);
    assert_eq!(sem.available(), 1, "the head's partial credit is refunded");
    // Closed refuses even when credit is there.
    assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::Closed);
    assert_eq!(
        sem.acquire(1).now_or_never().unwrap().unwrap_err(),
        AcquireError::Closed
    );
    // Holders stay valid and come back on drop.
    assert_eq!((held.count(), owned.count()), (2, 1));
    drop(held);
    drop(owned);
    assert_eq!(sem.available(), 4);
    // A second close changes nothing.
    sem.close();
    assert_eq!(sem.available(), 4);
}

#[test]
fn shrink_takes_what_is_free_now_and_the_rest_from_returns_before_waiters() {
    let sem = CreditSemaphore::new(10);
    sem.shrink(4);
    assert_eq!(sem.available(), 6);
    let held = sem.try_acquire(6).unwrap();
    sem.shrink(2); // nothing free: 2 owed
    assert_eq!(sem.available(), 0);
    let mut waiter = sem.acquire(3);
    let woken = pend(&mut waiter);
    let mut held = held;
    drop(held.split(2).unwrap()); // both repay the debt
    assert_eq!((woken.get(), sem.available()), (0, 0));
    drop(held.split(3).unwrap()); // now to the waiter
    assert_eq!(woken.get(), 1);
    let got = ready(&mut waiter).unwrap();
    drop(held); // 1 left: available
    assert_eq!(sem.available(), 1);
    drop(got);
    assert_eq!(sem.available(), 4, "10 - 4 - 2");
}

#[test]
fn shrink_past_the_total_stops_at_zero_and_add_credits_starts_from_there() {
    let sem = CreditSemaphore::new(3);
    let held = sem.try_acquire(1).unwrap();
    sem.shrink(100);
    assert_eq!(sem.available(), 0);
    drop(held); // repays the last of the total
    assert_eq!(sem.available(), 0);
    sem.add_credits(2);
    assert_eq!(sem.available(), 2);
    sem.shrink(0);
    sem.add_credits(0);
    assert_eq!(sem.available(), 2);
}

#[test]
fn forget_and_add_credits_are_how_spent_credit_returns() {
    let sem = Arc::new(CreditSemaphore::new(4));
    sem.try_acquire(1).unwrap().forget();
    Arc::clone(&sem)
        .acquire_owned(2)
        .now_or_never()
        .unwrap()
        .unwrap()
        .forget();
    assert_eq!(sem.available(), 1);
    let mut waiter = sem.acquire(3);
    let woken = pend(&mut waiter);
    sem.add_credits(1);
    assert_eq!(woken.get(), 0);
    sem.add_credits(1);
    assert_eq!(woken.get(), 1);
    drop(ready(&mut waiter).unwrap());
    assert_eq!(sem.available(), 3);
    // A forgotten split part stays out; the rest comes back.
    let mut held = sem.try_acquire(3).unwrap();
    held.split(1).unwrap().forget();
    drop(held);
    assert_eq!(sem.available(), 2);
}

#[test]
fn split_and_merge_move_credit_between_guards_without_touching_the_semaphore() {
    let sem = Arc::new(CreditSemaphore::new(6));
    let mut a = sem.try_acquire(4).unwrap();
    assert!(a.split(5).is_none());
    assert_eq!(a.count(), 4, "a failed split leaves the guard unchanged");
    let b = a.split(4).unwrap();
    assert_eq!((a.count(), b.count(), sem.available()), (0, 4, 2));
    a.merge(b);
    assert_eq!((a.count(), sem.available()), (4, 2));
    let zero = a.split(0).unwrap();
    assert_eq!(zero.count(), 0);
    drop(zero);
    assert_eq!(sem.available(), 2);
    drop(a);
    assert_eq!(sem.available(), 6);

    let mut o = Arc::clone(&sem)
        .acquire_owned(3)
        .now_or_never()
        .unwrap()
        .unwrap();
    let part = o.split(2).unwrap();
    assert!(Arc::ptr_eq(part.semaphore(), &sem));
    // An owned part outlives every borrow and returns from another thread.
    std::thread::spawn(move || drop(part)).join().unwrap();
    assert_eq!(sem.available(), 5);
    let other = Arc::clone(&sem)
        .acquire_owned(1)
        .now_or_never()
        .unwrap()
        .unwrap();
    o.merge(other);
    assert_eq!((o.count(), sem.available()), (2, 4));
    drop(o);
    assert_eq!(sem.available(), 6);
}

#[test]
fn credit_returned_to_a_closed_semaphore_is_still_counted() {
    let sem = CreditSemaphore::new(2);
    let held = sem.try_acquire(2).unwrap();
    sem.close();
    sem.add_credits(3);
    assert_eq!(sem.available(), 3);
    drop(held);
    assert_eq!(sem.available(), 5);
    sem.shrink(1);
    assert_eq!(sem.available(), 4);
}

#[test]
fn an_acquire_timeout_hands_its_partial_credit_on_when_it_expires() {
    let clock = ManualClock::new();
    let sem = CreditSemaphore::new(1);
    let mut timed = Box::pin(sem.acquire_timeout_with(&clock, 3, Duration::from_secs(1)));
    assert!(poll_with(&mut timed, Waker::noop()).is_pending());
    let mut next = sem.acquire(1);
    let next_woken = pend(&mut next);
    clock.advance(Duration::from_secs(1));
    assert_eq!(ready(&mut timed).unwrap_err(), AcquireTimeoutError::Timeout);
    assert_eq!(next_woken.get(), 1, "the partial credit went on");
    assert_eq!(ready(&mut next).unwrap().count(), 1);
    drop(timed);
    assert_eq!(sem.available(), 1);
}

#[test]
fn an_acquire_timeout_counts_its_deadline_from_the_call_and_zero_still_takes_ready_credit() {
    let clock = ManualClock::new();
    let sem = CreditSemaphore::new(1);
    let held = sem
        .acquire_timeout_with(&clock, 1, Duration::ZERO)
        .now_or_never()
        .unwrap()
        .unwrap();
    let mut late = Box::pin(sem.acquire_timeout_with(&clock, 1, Duration::from_secs(2)));
    clock.advance(Duration::from_secs(2)); // before the first poll
    assert_eq!(ready(&mut late).unwrap_err(), AcquireTimeoutError::Timeout);
    drop(late);
    drop(held);
    assert_eq!(sem.available(), 1);
    // Closed beats the deadline when both are there.
    let mut closing = Box::pin(sem.acquire_timeout_with(&clock, 2, Duration::from_secs(1)));
    assert!(poll_with(&mut closing, Waker::noop()).is_pending());
    sem.close();
    assert_eq!(
        ready(&mut closing).unwrap_err(),
        AcquireTimeoutError::Closed
    );
    assert_eq!(sem.available(), 1);
}

#[test]
fn errors_print_and_compare() {
    for text in [
        AcquireError::Closed.to_string(),
        AcquireError::TooMany.to_string(),
        TryAcquireError::NoCredits.to_string(),
        TryAcquireError::Closed.to_string(),
        TryAcquireError::TooMany.to_string(),
        AcquireTimeoutError::Timeout.to_string(),
        AcquireTimeoutError::Closed.to_string(),
    ] {
        assert!(!text.is_empty());
        assert!(text.chars().next().unwrap().is_lowercase(), "{text}");
        assert!(!text.ends_with('.'), "{text}");
    }
    assert_ne!(
        TryAcquireError::NoCredits.to_string(),
        TryAcquireError::Closed.to_string()
    );
    let boxed: Box<dyn std::error::Error + std::marker::Send + Sync> =
        Box::new(AcquireError::Closed);
    assert!(boxed.to_string().contains("closed"));
    assert!(format!("{:?}", TryAcquireError::NoCredits).contains("NoCredits"));
    let sem = CreditSemaphore::new(3);
    let held = sem.try_acquire(2).unwrap();
    let debug = format!("{sem:?} {held:?}");
    assert!(
        debug.contains("CreditSemaphore") && debug.contains('1'),
        "{debug}"
    );
    assert!(debug.contains("count: 2"), "{debug}");
}
