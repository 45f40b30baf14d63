//! Loom models of the rate limiter's GCRA compare-and-swap loop and of a
//! deadline racing a wake-up, all on a manual clock. Outside loom each
//! model runs once on real threads.

use flowgate::credit::CreditSemaphore;
use flowgate::rate::{ManualClock, Quota, RateLimiter};
use flowgate_loom_tests::{Arc, block_on, model, thread};
use futures::FutureExt;
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

/// Counts successful `check()`s.
fn checks(limiter: &RateLimiter<ManualClock>, tries: usize) -> usize {
    (0..tries).filter(|_| limiter.check().is_ok()).count()
}

/// Two threads race `check()` while the clock moves by one period: the
/// cells granted never exceed `burst + elapsed / period`, and the burst is
/// always there to be had.
#[test]
fn gcra_cas_grants_never_exceed_the_quota() {
    model(|| {
        let clock = ManualClock::new();
        let limiter = Arc::new(RateLimiter::with_clock(
            Quota::with_period(SEC).burst(2),
            clock.clone(),
        ));
        let racer = {
            let limiter = Arc::clone(&limiter);
            thread::spawn(move || checks(&limiter, 2))
        };
        let mover = thread::spawn(move || clock.advance(SEC));
        let mine = checks(&limiter, 2);
        let granted = mine + racer.join().unwrap();
        mover.join().unwrap();
        // burst 2 + 1 s / 1 s
        assert!(granted <= 3, "granted {granted}");
        assert!(granted >= 2, "the burst was refused: {granted}");
    });
}

/// A waiter's reservation, made and cancelled on one thread, races another
/// thread's wait: the waiter is always woken (no lost wake-up, or loom
/// reports a deadlock), and the total never exceeds the quota.
#[test]
fn gcra_reservation_cancel_races_a_waiter() {
    model(|| {
        let clock = ManualClock::new();
        let limiter = Arc::new(RateLimiter::with_clock(
            Quota::with_period(SEC).burst(1),
            clock.clone(),
        ));
        limiter.check().unwrap();
        let canceller = {
            let (limiter, clock) = (Arc::clone(&limiter), clock.clone());
            thread::spawn(move || {
                // Reserve (or be granted at once), then drop.
                let granted = limiter.until_ready_with(&clock).now_or_never().is_some();
                usize::from(granted)
            })
        };
        let waiter = {
            let (limiter, clock) = (Arc::clone(&limiter), clock.clone());
            thread::spawn(move || block_on(limiter.until_ready_with(&clock)))
        };
        // Once the canceller is done (at time 0), two periods always
        // suffice for the waiter: at worst its slot comes after a
        // forfeited one.
        let cancelled_granted = canceller.join().unwrap();
        clock.advance(SEC);
        clock.advance(SEC);
        waiter.join().unwrap();
        let extra = checks(&limiter, 2);
        let granted = 1 + 1 + cancelled_granted + extra;
        // burst 1 + 2 s / 1 s
        assert!(granted <= 3, "granted {granted}");
    });
}

/// A credit granted to a timed acquire races its deadline: whichever wins,
/// the credit ends up exactly once in the semaphore.
#[test]
fn acquire_timeout_races_a_grant() {
    model(|| {
        let clock = ManualClock::new();
        // std's Arc: `acquire_owned*` takes `self: std::sync::Arc<Self>`.
        let sem = std::sync::Arc::new(CreditSemaphore::new(0));
        // Created here, so the deadline counts from before the clock moves.
        let acquire = std::sync::Arc::clone(&sem).acquire_owned_timeout_with(&clock, 1, SEC);
        let acquirer = thread::spawn(move || {
            block_on(acquire).is_ok() // the credit, if held, is returned here
        });
        let mover = thread::spawn(move || clock.advance(SEC));
        sem.add_credits(1);
        acquirer.join().unwrap();
        mover.join().unwrap();
        assert_eq!(sem.available(), 1);
    });
}

/// A timed acquire at the head of the queue with a plain waiter behind it:
/// the credit that lands as the deadline fires reaches the plain waiter
/// (it never hangs: loom would report the deadlock) and is counted once.
#[test]
fn timed_out_head_hands_credit_to_the_next_waiter() {
    model(|| {
        let clock = ManualClock::new();
        // std's Arc: `acquire_owned*` takes `self: std::sync::Arc<Self>`.
        let sem = std::sync::Arc::new(CreditSemaphore::new(0));
        // Created here, so the deadline counts from before the clock moves.
        let acquire = std::sync::Arc::clone(&sem).acquire_owned_timeout_with(&clock, 1, SEC);
        let timed = thread::spawn(move || {
            // Held credit (if it wins) is dropped at once: back to `sem`.
            block_on(acquire).is_ok()
        });
        let plain = {
            let sem = std::sync::Arc::clone(&sem);
            thread::spawn(move || block_on(sem.acquire(1)).unwrap().count())
        };
        sem.add_credits(1);
        clock.advance(SEC);
        timed.join().unwrap();
        assert_eq!(plain.join().unwrap(), 1);
        assert_eq!(sem.available(), 1);
    });
}
