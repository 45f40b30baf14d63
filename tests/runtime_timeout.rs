//! `CreditSemaphore::acquire_timeout*`: deadlines on a manual clock, the
//! race between a credit arriving and the deadline firing, and the four
//! cancellation tests. Each async body runs on every executor of the matrix.

mod runtime_matrix;
mod support;

use flowgate::credit::{AcquireTimeoutError, CreditSemaphore};
use flowgate::runtime::{ManualClock, Timer};
use futures::{FutureExt, poll};
use runtime_matrix::each_executor;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use support::{counting, poll_pin as poll_with};

const SEC: Duration = Duration::from_secs(1);

#[test]
fn times_out_holding_nothing() {
    each_executor(|| async {
        let clock = ManualClock::new();
        let sem = CreditSemaphore::new(0);
        let mut acquire = pin!(sem.acquire_timeout_with(&clock, 1, SEC));
        assert!(poll!(acquire.as_mut()).is_pending());
        clock.advance(SEC - Duration::from_nanos(1));
        assert!(poll!(acquire.as_mut()).is_pending());
        clock.advance(Duration::from_nanos(1));
        assert_eq!(acquire.await.unwrap_err(), AcquireTimeoutError::Timeout);
        sem.add_credits(1);
        assert_eq!(sem.available(), 1);
        assert_eq!(clock.sleepers(), 0);
    });
}

#[test]
fn granted_before_deadline() {
    each_executor(|| async {
        let clock = ManualClock::new();
        let sem = CreditSemaphore::new(0);
        let mut acquire = pin!(sem.acquire_timeout_with(&clock, 2, SEC));
        assert!(poll!(acquire.as_mut()).is_pending());
        sem.add_credits(2);
        let held = acquire.await.unwrap();
        assert_eq!(held.count(), 2);
        assert_eq!(clock.sleepers(), 0, "the sleep is dropped with the future");
        drop(held);
        assert_eq!(sem.available(), 2);
    });
}

#[test]
fn granted_and_expired_by_the_same_poll_is_granted() {
    each_executor(|| async {
        let clock = ManualClock::new();
        let sem = CreditSemaphore::new(0);
        let mut acquire = pin!(sem.acquire_timeout_with(&clock, 1, SEC));
        assert!(poll!(acquire.as_mut()).is_pending());
        sem.add_credits(1);
        clock.advance(SEC);
        let held = acquire
            .await
            .expect("the operation is polled before the sleep");
        assert_eq!((held.count(), sem.available()), (1, 0));
    });
}

/// A timer whose sleep, on its `fire_on`-th poll, first grants `n` credits
/// to the semaphore (after the acquire was polled `Pending` in the same
/// poll) and then fires: the exact race of a credit landing as the deadline
/// passes.
struct RacingTimer {
    sem: Arc<CreditSemaphore>,
    n: usize,
    fire_on: usize,
}

struct RacingSleep {
    sem: Arc<CreditSemaphore>,
    n: usize,
    polls_left: usize,
}

impl Timer for RacingTimer {
    type Sleep = RacingSleep;
    fn sleep(&self, _: Duration) -> RacingSleep {
        RacingSleep {
            sem: Arc::clone(&self.sem),
            n: self.n,
            polls_left: self.fire_on,
        }
    }
}

impl Future for RacingSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        self.polls_left -= 1;
        if self.polls_left > 0 {
            return Poll::Pending;
        }
        let n = std::mem::take(&mut self.n);
        self.sem.add_credits(n);
        Poll::Ready(())
    }
}

#[test]
fn credit_landing_as_the_deadline_fires_is_not_lost() {
    each_executor(|| async {
        // Alone: the credit granted to the timed-out request comes back.
        let sem = Arc::new(CreditSemaphore::new(0));
        let timer = RacingTimer {
            sem: Arc::clone(&sem),
            n: 3,
            fire_on: 1,
        };
        let err = sem.acquire_timeout_with(&timer, 3, SEC).await.unwrap_err();
        assert_eq!(err, AcquireTimeoutError::Timeout);
        assert_eq!(sem.available(), 3);
    });
}

#[test]
fn credit_landing_as_the_deadline_fires_goes_to_the_next_waiter_once() {
    let sem = Arc::new(CreditSemaphore::new(0));
    let timer = RacingTimer {
        sem: Arc::clone(&sem),
        n: 1,
        fire_on: 2,
    };
    let noop = futures::task::noop_waker();
    let mut timed = Box::pin(sem.acquire_timeout_with(&timer, 1, SEC));
    assert!(poll_with(timed.as_mut(), &noop).is_pending()); // head of the queue
    let (next_wakes, next_w) = counting();
    let mut next = Box::pin(sem.acquire(1));
    assert!(poll_with(next.as_mut(), &next_w).is_pending());
    // Second poll: the op is still Pending, then the sleep grants the head
    // its credit and fires. Timeout wins; the credit passes to `next`.
    let result = poll_with(timed.as_mut(), &noop);
    assert!(matches!(
        result,
        Poll::Ready(Err(AcquireTimeoutError::Timeout))
    ));
    assert_eq!(next_wakes.get(), 1);
    let held = poll_with(next.as_mut(), &next_w);
    assert!(matches!(held, Poll::Ready(Ok(ref c)) if c.count() == 1));
    assert_eq!(sem.available(), 0);
    drop(held);
    assert_eq!(sem.available(), 1);
}

#[test]
fn credit_granted_to_timed_out_head_passes_to_next_waiter() {
    let sem = Arc::new(CreditSemaphore::new(0));
    let clock = ManualClock::new();
    let mut timed = Box::pin(sem.acquire_timeout_with(&clock, 2, SEC));
    let (timed_wakes, timed_w) = counting();
    assert!(poll_with(timed.as_mut(), &timed_w).is_pending());
    let (next_wakes, next_w) = counting();
    let mut next = Box::pin(sem.acquire(1));
    assert!(poll_with(next.as_mut(), &next_w).is_pending());
    // Credit for the head arrives, and its deadline fires, before it runs.
    sem.add_credits(1); // partial: 1 of 2 assigned to the head
    clock.advance(SEC);
    assert_eq!(timed_wakes.get(), 1);
    // The op is polled first: still 1 short, Pending; then the sleep fires.
    assert!(matches!(
        poll_with(timed.as_mut(), &timed_w),
        Poll::Ready(Err(AcquireTimeoutError::Timeout))
    ));
    // The partial credit went to the next waiter, who was woken.
    assert_eq!(next_wakes.get(), 1);
    let held = match poll_with(next.as_mut(), &next_w) {
        Poll::Ready(Ok(held)) => held,
        other => panic!("{other:?}"),
    };
    assert_eq!((held.count(), sem.available()), (1, 0));
    drop(held);
    assert_eq!(sem.available(), 1);
}

#[test]
fn zero_timeout_is_a_try() {
    each_executor(|| async {
        let clock = ManualClock::new();
        let sem = CreditSemaphore::new(1);
        let held = sem
            .acquire_timeout_with(&clock, 1, Duration::ZERO)
            .await
            .unwrap();
        let err = sem.acquire_timeout_with(&clock, 1, Duration::ZERO).await;
        assert_eq!(err.unwrap_err(), AcquireTimeoutError::Timeout);
        drop(held);
        assert_eq!(sem.available(), 1);
    });
}

#[test]
fn closed_and_too_many() {
    each_executor(|| async {
        let clock = ManualClock::new();
        let sem = CreditSemaphore::new(0);
        let too_many = sem.acquire_timeout_with(&clock, CreditSemaphore::MAX_CREDITS + 1, SEC);
        assert_eq!(too_many.await.unwrap_err(), AcquireTimeoutError::TooMany);
        let mut waiting = pin!(sem.acquire_timeout_with(&clock, 1, SEC));
        assert!(poll!(waiting.as_mut()).is_pending());
        sem.close();
        assert_eq!(waiting.await.unwrap_err(), AcquireTimeoutError::Closed);
        let err = AcquireTimeoutError::Closed;
        assert!(!err.is_timeout() && err.to_string().contains("closed"));
    });
}

#[test]
fn owned_form() {
    each_executor(|| async {
        let clock = ManualClock::new();
        let sem = Arc::new(CreditSemaphore::new(1));
        let held = Arc::clone(&sem)
            .acquire_owned_timeout_with(&clock, 1, SEC)
            .await
            .unwrap();
        let mut second = pin!(Arc::clone(&sem).acquire_owned_timeout_with(&clock, 1, SEC));
        assert!(poll!(second.as_mut()).is_pending());
        clock.advance(SEC);
        assert_eq!(second.await.unwrap_err(), AcquireTimeoutError::Timeout);
        drop(held);
        assert_eq!(sem.available(), 1);
    });
}

// ---- the four cancellation tests ----

#[test]
fn cancel_before_first_poll_takes_nothing() {
    let clock = ManualClock::new();
    let sem = CreditSemaphore::new(2);
    drop(sem.acquire_timeout_with(&clock, 2, SEC));
    assert_eq!(sem.available(), 2);
    assert_eq!(clock.sleepers(), 0);
}

#[test]
fn cancel_pending_wakes_next_waiter_with_partial_credit() {
    let clock = ManualClock::new();
    let sem = CreditSemaphore::new(1);
    let mut first = Box::pin(sem.acquire_timeout_with(&clock, 3, SEC));
    assert!(poll_with(first.as_mut(), &futures::task::noop_waker()).is_pending());
    let (next_wakes, next_w) = counting();
    let mut next = Box::pin(sem.acquire_timeout_with(&clock, 1, SEC));
    assert!(poll_with(next.as_mut(), &next_w).is_pending());
    drop(first); // held 1 of 3: refunded to `next`
    assert_eq!(next_wakes.get(), 1);
    assert!(matches!(
        poll_with(next.as_mut(), &next_w),
        Poll::Ready(Ok(_))
    ));
    assert_eq!(clock.sleepers(), 0);
    assert_eq!(sem.available(), 1);
}

#[test]
fn cancel_after_granted_passes_credit_on() {
    let clock = ManualClock::new();
    let sem = CreditSemaphore::new(0);
    let mut first = Box::pin(sem.acquire_timeout_with(&clock, 1, SEC));
    assert!(poll_with(first.as_mut(), &futures::task::noop_waker()).is_pending());
    let (next_wakes, next_w) = counting();
    let mut next = Box::pin(sem.acquire(1));
    assert!(poll_with(next.as_mut(), &next_w).is_pending());
    sem.add_credits(1); // granted to `first`, which is notified...
    drop(first); // ... and dropped before it is polled again
    assert_eq!(next_wakes.get(), 1);
    assert!(matches!(
        poll_with(next.as_mut(), &next_w),
        Poll::Ready(Ok(_))
    ));
    assert_eq!(sem.available(), 1);
}

#[test]
fn repoll_with_new_waker_wakes_only_it() {
    for by_timeout in [false, true] {
        let clock = ManualClock::new();
        let sem = CreditSemaphore::new(0);
        let mut acquire = Box::pin(sem.acquire_timeout_with(&clock, 1, SEC));
        let (old, old_w) = counting();
        let (new, new_w) = counting();
        assert!(poll_with(acquire.as_mut(), &old_w).is_pending());
        assert!(poll_with(acquire.as_mut(), &new_w).is_pending());
        if by_timeout {
            clock.advance(SEC);
        } else {
            sem.add_credits(1);
        }
        assert_eq!(old.get(), 0);
        assert_eq!(new.get(), 1);
        let result = poll_with(acquire.as_mut(), &new_w);
        assert_eq!(result.map(|r| r.is_ok()), Poll::Ready(!by_timeout));
    }
}

#[test]
fn repeated_timeouts_do_not_grow_memory_or_leak_sleeps() {
    let clock = ManualClock::new();
    let sem = CreditSemaphore::new(0);
    let rounds = if cfg!(miri) { 200 } else { 10_000 };
    for _ in 0..rounds {
        let mut acquire = Box::pin(sem.acquire_timeout_with(&clock, 1, SEC));
        assert!(acquire.as_mut().now_or_never().is_none());
        clock.advance(SEC);
        let result = acquire.now_or_never().expect("deadline passed");
        assert!(matches!(result, Err(AcquireTimeoutError::Timeout)));
    }
    assert_eq!(clock.sleepers(), 0);
    sem.add_credits(1);
    assert_eq!(sem.available(), 1);
}
