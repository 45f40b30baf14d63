//! `flowgate::credit` as DESIGN.md §3 states it.

use super::*;
use flowgate::credit::{AcquireError, CreditSemaphore, OwnedCredits, TryAcquireError};

#[test]
fn the_snippet_as_written() {
    futures::executor::block_on(async {
        let credits = CreditSemaphore::new(10);
        let c = credits.acquire(3).await.unwrap();
        assert_eq!((c.count(), credits.available()), (3, 7));
        drop(c); // returns 3 on drop
        assert_eq!(credits.available(), 10);
        let c = credits.try_acquire(1).unwrap();
        assert_eq!(credits.available(), 9);
        c.forget(); // returns only via add_credits
        assert_eq!(credits.available(), 9);
        credits.add_credits(5);
        assert_eq!(credits.available(), 14);

        let sem = Arc::new(CreditSemaphore::new(2));
        let owned: OwnedCredits = Arc::clone(&sem).acquire_owned(2).await.unwrap();
        fn is_static<X: 'static>(_: &X) {}
        is_static(&owned);
        assert_eq!(sem.available(), 0);
        drop(owned);
        assert_eq!(sem.available(), 2);

        assert!(!credits.is_closed());
        credits.close();
        assert!(credits.is_closed());
    });
    // The root re-export.
    let _ = flowgate::CreditSemaphore::new(1);
}

#[test]
fn try_acquire_errors_are_no_credits_then_closed() {
    let sem = CreditSemaphore::new(1);
    let _held = sem.try_acquire(1).unwrap();
    assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::NoCredits);
    sem.close();
    assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::Closed);
}

#[test]
fn more_than_max_credits_resolves_at_once_to_an_error() {
    let max: usize = CreditSemaphore::MAX_CREDITS;
    let sem = Arc::new(CreditSemaphore::new(0));
    assert!(matches!(
        sem.acquire(max + 1).now_or_never(),
        Some(Err(AcquireError::TooMany))
    ));
    assert!(matches!(
        Arc::clone(&sem).acquire_owned(usize::MAX).now_or_never(),
        Some(Err(_))
    ));
    assert!(sem.try_acquire(max + 1).is_err());
    // Nothing was queued by the refused requests.
    sem.add_credits(1);
    assert!(sem.try_acquire(1).is_ok());
}

#[test]
fn waiters_are_served_in_arrival_order_and_a_large_head_is_not_starved() {
    let sem = CreditSemaphore::new(0);
    let mut big = sem.acquire(3);
    let mut small = sem.acquire(1);
    let big_woken = pend(&mut big);
    let small_woken = pend(&mut small);
    sem.add_credits(1);
    sem.add_credits(1);
    // The small request behind it does not overtake the head.
    assert_eq!(small_woken.get(), 0);
    assert_eq!(
        sem.try_acquire(1).unwrap_err(),
        TryAcquireError::NoCredits,
        "try_acquire fails while others wait"
    );
    sem.add_credits(1);
    assert!(big_woken.get() >= 1);
    let got = big.now_or_never().unwrap().unwrap();
    assert_eq!(got.count(), 3);
    sem.add_credits(1);
    assert!(small_woken.get() >= 1);
    assert_eq!(small.now_or_never().unwrap().unwrap().count(), 1);
}

#[test]
fn dropping_a_pending_acquire_gives_back_what_it_was_assigned_and_wakes_the_next() {
    let sem = CreditSemaphore::new(0);
    let mut head = sem.acquire(3);
    let mut next = sem.acquire(2);
    let _ = pend(&mut head);
    let next_woken = pend(&mut next);
    sem.add_credits(2); // partly assigned to the head
    assert_eq!(next_woken.get(), 0);
    drop(head);
    assert!(next_woken.get() >= 1, "the next waiter is woken");
    assert_eq!(next.now_or_never().unwrap().unwrap().count(), 2);
    assert_eq!(sem.available(), 2);
}

#[test]
fn close_wakes_every_waiter_with_closed_and_outstanding_credits_stay_valid() {
    let sem = CreditSemaphore::new(2);
    let held = sem.try_acquire(2).unwrap();
    let mut a = sem.acquire(1);
    let mut b = sem.acquire(5);
    let a_woken = pend(&mut a);
    let b_woken = pend(&mut b);
    sem.close();
    assert!(a_woken.get() >= 1 && b_woken.get() >= 1);
    assert_eq!(a.now_or_never().unwrap().unwrap_err(), AcquireError::Closed);
    assert_eq!(b.now_or_never().unwrap().unwrap_err(), AcquireError::Closed);
    // Outstanding credits stay valid.
    assert_eq!(held.count(), 2);
    drop(held);
    assert!(matches!(
        sem.acquire(1).now_or_never(),
        Some(Err(AcquireError::Closed))
    ));
}

/// The semaphore's bookkeeping as DESIGN.md describes it: FIFO waiters
/// with partial assignment, `shrink` debt repaid first by whatever comes
/// back, forgotten credit returning only through `add_credits`.
#[derive(Default)]
struct Model {
    available: usize,
    debt: usize,
    total: usize,
    /// (wanted, assigned so far) per waiter, oldest first.
    waiters: std::collections::VecDeque<(usize, usize)>,
}

impl Model {
    fn release(&mut self, mut n: usize) {
        let repay = n.min(self.debt);
        self.debt -= repay;
        n -= repay;
        for w in self.waiters.iter_mut() {
            let give = n.min(w.0 - w.1);
            w.1 += give;
            n -= give;
        }
        self.available += n;
    }
}

/// A seeded random walk over `acquire` (completed at once, waiting,
/// dropped while waiting), `try_acquire`, guard drops, `forget`,
/// `split`, `add_credits` and `shrink`, against [`Model`]: the same
/// `available` after every step, waiters completing exactly when the
/// model says (so strictly in arrival order, partial assignment
/// included), `try_acquire` never barging.
fn credit_walk(seed: u64) {
    use flowgate::credit::{Acquire, Credits};
    use std::collections::VecDeque;
    let mut next = rng(seed);
    let sem = CreditSemaphore::new(4);
    let mut m = Model {
        available: 4,
        total: 4,
        ..Model::default()
    };
    let mut held: Vec<Credits<'_>> = Vec::new();
    let mut waiting: VecDeque<Acquire<'_>> = VecDeque::new();
    let waker = futures::task::noop_waker();
    for _ in 0..400 {
        match next(8) {
            0 | 1 => {
                let n = 1 + next(3) as usize;
                let mut fut = sem.acquire(n);
                let now = m.waiters.is_empty() && m.available >= n;
                match poll_with(&mut fut, &waker) {
                    Poll::Ready(Ok(c)) => {
                        assert!(now, "granted when the model says it waits");
                        m.available -= n;
                        held.push(c);
                    }
                    Poll::Ready(Err(e)) => panic!("{e}"),
                    Poll::Pending => {
                        assert!(!now, "waits when the model grants");
                        m.waiters.push_back((n, m.available));
                        m.available = 0;
                        waiting.push_back(fut);
                    }
                }
            }
            2 => {
                let n = 1 + next(3) as usize;
                let ok = m.waiters.is_empty() && m.available >= n;
                match sem.try_acquire(n) {
                    Ok(c) => {
                        assert!(ok, "try_acquire barged or overdrew");
                        m.available -= n;
                        held.push(c);
                    }
                    Err(TryAcquireError::NoCredits) => assert!(!ok),
                    Err(e) => panic!("{e}"),
                }
            }
            3 if !held.is_empty() => {
                let mut c = held.swap_remove(next(held.len() as u64) as usize);
                match next(4) {
                    0 => c.forget(),
                    1 => {
                        if let Some(part) = c.split(1) {
                            held.push(part);
                        }
                        held.push(c);
                    }
                    _ => {
                        m.release(c.count());
                        drop(c);
                    }
                }
            }
            4 if !waiting.is_empty() => {
                let i = next(waiting.len() as u64) as usize;
                drop(waiting.remove(i));
                let (_, assigned) = m.waiters.remove(i).unwrap();
                m.release(assigned);
            }
            5 => {
                let n = next(3) as usize;
                sem.add_credits(n);
                m.total += n;
                m.release(n);
            }
            6 if next(3) == 0 => {
                let asked = next(4) as usize;
                sem.shrink(asked);
                let n = asked.min(m.total); // at most down to zero
                m.total -= n;
                let taken = n.min(m.available);
                m.available -= taken;
                m.debt += n - taken;
            }
            _ => {}
        }
        // Waiters complete exactly when fully assigned.
        let mut k = 0;
        while k < waiting.len() {
            let (want, assigned) = m.waiters[k];
            match poll_with(&mut waiting[k], &waker) {
                Poll::Ready(Ok(c)) => {
                    assert_eq!((c.count(), assigned), (want, want), "completed early");
                    held.push(c);
                    drop(waiting.remove(k));
                    m.waiters.remove(k);
                }
                Poll::Ready(Err(e)) => panic!("{e}"),
                Poll::Pending => {
                    assert!(assigned < want, "fully assigned yet pending");
                    k += 1;
                }
            }
        }
        assert_eq!(sem.available(), m.available);
    }
}

#[test]
fn credit_random_walks_conserve_credit_in_fifo_order() {
    for seed in 1..=40u64 {
        credit_walk(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
}

#[test]
fn shrink_lowers_the_total_and_what_is_lent_out_is_repaid_on_return() {
    let sem = CreditSemaphore::new(5);
    let held = sem.try_acquire(4).unwrap();
    sem.shrink(4); // 1 available now, 3 still owed by the holder
    assert_eq!(sem.available(), 0);
    drop(held);
    assert_eq!(sem.available(), 1, "total is now 5 - 4");
}
