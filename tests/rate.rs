//! The rate limiter on a manual clock: exact rates, bursts, FIFO waiting,
//! cancellation refunds, `set_quota`, the stream adapter, bad input. Each
//! async body runs on every executor of the matrix.

mod runtime_matrix;
mod support;

use flowgate::rate::{
    CheckNError, InsufficientCapacity, ManualClock, NotUntil, Quota, RateLimited, RateLimiter,
};
use futures::{FutureExt, Stream, StreamExt, poll};
use runtime_matrix::each_executor;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use support::{counting, poll_pin as poll_with, wakes};

const MS: Duration = Duration::from_millis(1);

fn limiter(quota: Quota) -> (ManualClock, Arc<RateLimiter<ManualClock>>) {
    let clock = ManualClock::new();
    let limiter = Arc::new(RateLimiter::with_clock(quota, clock.clone()));
    (clock, limiter)
}

#[test]
fn burst_then_exact_rate() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::per_second(10).burst(3));
        for _ in 0..3 {
            limiter.check().unwrap();
        }
        let NotUntil(when) = limiter.check().unwrap_err();
        assert_eq!(when - clock.now(), 100 * MS);
        clock.advance(99 * MS);
        assert!(limiter.check().is_err());
        clock.advance(MS);
        limiter.check().unwrap();
        assert!(limiter.check().is_err());
        // Then exactly one per 100 ms, however often we ask.
        let mut granted = 0;
        for _ in 0..1000 {
            clock.advance(MS);
            while limiter.check().is_ok() {
                granted += 1;
            }
        }
        assert_eq!(granted, 10);
    });
}

#[test]
fn granted_never_exceed_burst_plus_elapsed() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::per_minute(600).burst(7));
        let mut granted = 0u64;
        let steps = if cfg!(miri) { 300 } else { 5000u64 };
        for step in 1..=steps {
            // uneven steps: 1..=13 ms
            clock.advance(MS * (step % 13 + 1) as u32);
            while limiter.check().is_ok() {
                granted += 1;
            }
            let elapsed = clock.elapsed().as_millis() as u64;
            assert!(granted <= 7 + elapsed / 100, "{granted} at {elapsed} ms");
            assert!(granted + 1 >= 7 + elapsed / 100, "under-granted");
        }
    });
}

#[test]
fn check_n_and_capacity() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::per_second(10).burst(5));
        assert_eq!(limiter.check_n(0), Ok(()));
        assert_eq!(
            limiter.check_n(6),
            Err(CheckNError::InsufficientCapacity(InsufficientCapacity(5)))
        );
        limiter.check_n(5).unwrap();
        match limiter.check_n(3) {
            Err(CheckNError::NotUntil(err)) => {
                assert_eq!(err.wait_time_from(clock.now()), 300 * MS)
            }
            other => panic!("{other:?}"),
        }
        clock.advance(299 * MS);
        assert!(limiter.check_n(3).is_err());
        clock.advance(MS);
        limiter.check_n(3).unwrap();
        assert!(limiter.check().is_err());
        // A refused request took nothing.
        clock.advance(200 * MS);
        limiter.check_n(2).unwrap();
    });
}

#[test]
fn with_period_and_per_minute() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::with_period(Duration::from_secs(3)));
        limiter.check().unwrap();
        assert_eq!(
            limiter.check().unwrap_err().wait_time_from(clock.now()),
            Duration::from_secs(3)
        );
        let q = Quota::per_minute(2);
        assert_eq!((q.interval(), q.burst_size()), (Duration::from_secs(30), 2));
        assert_eq!(
            Quota::per_second(u32::MAX).interval(),
            Duration::from_nanos(1)
        );
    });
}

#[test]
fn until_ready_ready_at_once_does_not_sleep() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::per_second(10).burst(2));
        limiter.until_ready_with(&clock).await;
        assert_eq!(limiter.until_n_ready_with(&clock, 1).await, Ok(()));
        assert_eq!(limiter.until_n_ready_with(&clock, 0).await, Ok(()));
        assert_eq!(clock.sleepers(), 0);
        assert!(limiter.check().is_err());
    });
}

#[test]
fn waiters_served_fifo_each_at_its_slot() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::per_second(10).burst(1));
        limiter.check().unwrap();
        let mut a = pin!(limiter.until_ready_with(&clock));
        let mut b = pin!(limiter.until_n_ready_with(&clock, 1));
        let mut c = pin!(limiter.until_ready_with(&clock));
        assert!(poll!(a.as_mut()).is_pending());
        assert!(poll!(b.as_mut()).is_pending());
        assert!(poll!(c.as_mut()).is_pending());
        assert_eq!(clock.sleepers(), 3, "one sleep per waiter");
        // A non-waiting check never takes a reserved slot.
        let NotUntil(when) = limiter.check().unwrap_err();
        assert_eq!(when - clock.now(), 400 * MS);
        clock.advance(100 * MS);
        assert!(poll!(a.as_mut()).is_ready());
        assert!(poll!(b.as_mut()).is_pending());
        assert!(poll!(c.as_mut()).is_pending());
        clock.advance(100 * MS);
        assert_eq!(poll!(b.as_mut()), Poll::Ready(Ok(())));
        assert!(poll!(c.as_mut()).is_pending());
        clock.advance(100 * MS);
        assert!(poll!(c.as_mut()).is_ready());
        assert_eq!(clock.sleepers(), 0);
    });
}

#[test]
fn one_wake_per_slot_no_herd() {
    let (clock, limiter) = limiter(Quota::per_second(10).burst(1));
    limiter.check().unwrap();
    let mut futs: Vec<_> = (0..4)
        .map(|_| Box::pin(limiter.until_ready_with(&clock)))
        .collect();
    let counts: Vec<_> = futs
        .iter_mut()
        .map(|f| {
            let (count, w) = counting();
            assert!(poll_with(f.as_mut(), &w).is_pending());
            (count, w)
        })
        .collect();
    for slot in 0..4 {
        clock.advance(100 * MS);
        for (i, (count, _)) in counts.iter().enumerate() {
            assert_eq!(
                wakes(count),
                usize::from(i <= slot),
                "waiter {i} at slot {slot}"
            );
        }
        assert!(poll_with(futs[slot].as_mut(), &counts[slot].1).is_ready());
    }
}

#[test]
fn until_n_ready_larger_than_burst_errors_at_once() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::per_second(10).burst(4));
        assert_eq!(
            limiter.until_n_ready_with(&clock, 5).await,
            Err(InsufficientCapacity(4))
        );
        limiter.set_quota(Quota::per_second(10).burst(2));
        assert_eq!(
            limiter.until_n_ready_with(&clock, 3).await,
            Err(InsufficientCapacity(2))
        );
        // Nothing was taken.
        limiter.check_n(2).unwrap();
    });
}

#[test]
fn set_quota_applies_to_later_decisions() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::per_second(10).burst(1));
        limiter.check().unwrap();
        let mut waiter = pin!(limiter.until_ready_with(&clock));
        assert!(poll!(waiter.as_mut()).is_pending()); // reserved at 100 ms
        limiter.set_quota(Quota::per_second(100).burst(1));
        assert_eq!(limiter.quota(), Quota::per_second(100).burst(1));
        // The waiter keeps its instant.
        clock.advance(99 * MS);
        assert!(poll!(waiter.as_mut()).is_pending());
        clock.advance(MS);
        assert!(poll!(waiter.as_mut()).is_ready());
        // Cells taken under the old quota keep its spacing (the waiter's
        // occupies 100..200 ms); after that, the new rate: one per 10 ms.
        assert_eq!(
            limiter.check().unwrap_err().wait_time_from(clock.now()),
            100 * MS
        );
        clock.advance(100 * MS);
        limiter.check().unwrap();
        assert!(limiter.check().is_err());
        clock.advance(10 * MS);
        limiter.check().unwrap();
        assert!(limiter.check().is_err());
        // A bigger burst gives room at once.
        limiter.set_quota(Quota::per_second(100).burst(3));
        limiter.check_n(2).unwrap();
        assert!(limiter.check().is_err());
        // A lower rate slows what follows.
        clock.advance(Duration::from_secs(1));
        limiter.set_quota(Quota::per_second(1).burst(1));
        limiter.check().unwrap();
        assert_eq!(
            limiter.check().unwrap_err().wait_time_from(clock.now()),
            Duration::from_secs(1)
        );
    });
}

// ---- cancellation: the four tests of VERIFICATION.md, for both futures ----

#[test]
fn cancel_dropped_before_first_poll_takes_nothing() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::per_second(10).burst(2));
        drop(limiter.until_ready_with(&clock));
        drop(limiter.until_n_ready_with(&clock, 2));
        limiter.check_n(2).unwrap();
        assert_eq!(clock.sleepers(), 0);
    });
}

#[test]
fn cancel_pending_refunds_latest_reservation() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::per_second(10).burst(1));
        limiter.check().unwrap();
        {
            let mut a = pin!(limiter.until_ready_with(&clock));
            assert!(poll!(a.as_mut()).is_pending());
            let mut b = pin!(limiter.until_n_ready_with(&clock, 1));
            assert!(poll!(b.as_mut()).is_pending());
            assert_eq!(
                limiter.check().unwrap_err().wait_time_from(clock.now()),
                300 * MS
            );
        } // both dropped, latest first: both refunded
        assert_eq!(clock.sleepers(), 0);
        // As if they never were: the next cell conforms at 100 ms.
        assert_eq!(
            limiter.check().unwrap_err().wait_time_from(clock.now()),
            100 * MS
        );
        // A new waiter gets the first slot and is woken at it.
        let mut c = pin!(limiter.until_ready_with(&clock));
        assert!(poll!(c.as_mut()).is_pending());
        clock.advance(100 * MS);
        assert!(poll!(c.as_mut()).is_ready());
    });
}

#[test]
fn cancel_middle_reservation_is_forfeited_not_reused() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::per_second(10).burst(1));
        limiter.check().unwrap();
        let mut a = Box::pin(limiter.until_ready_with(&clock));
        let mut b = pin!(limiter.until_ready_with(&clock));
        assert!(poll!(a.as_mut()).is_pending()); // slot 100 ms
        assert!(poll!(b.as_mut()).is_pending()); // slot 200 ms
        drop(a);
        // Nobody may take a's slot: it would overtake b or overlap it.
        clock.advance(100 * MS);
        assert!(limiter.check().is_err());
        assert!(poll!(b.as_mut()).is_pending());
        clock.advance(100 * MS);
        assert!(poll!(b.as_mut()).is_ready());
        assert_eq!(
            limiter.check().unwrap_err().wait_time_from(clock.now()),
            100 * MS
        );
    });
}

#[test]
fn cancel_after_notified_passes_the_cell_on() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::per_second(10).burst(1));
        limiter.check().unwrap();
        let mut a = Box::pin(limiter.until_n_ready_with(&clock, 1));
        assert!(poll!(a.as_mut()).is_pending());
        clock.advance(100 * MS); // a's sleep fires: a is notified
        drop(a); // ... and dropped before it is polled again
        // Its cell is not lost: it is there for the next request now.
        limiter.check().unwrap();
        assert!(limiter.check().is_err());
    });
}

#[test]
fn repoll_with_new_waker_wakes_only_the_new_one() {
    for n in [None, Some(1)] {
        let (clock, limiter) = limiter(Quota::per_second(10).burst(1));
        limiter.check().unwrap();
        let (old, old_w) = counting();
        let (new, new_w) = counting();
        let done = match n {
            None => {
                let mut f = pin!(limiter.until_ready_with(&clock));
                assert!(poll_with(f.as_mut(), &old_w).is_pending());
                assert!(poll_with(f.as_mut(), &new_w).is_pending());
                clock.advance(100 * MS);
                poll_with(f.as_mut(), &new_w).is_ready()
            }
            Some(n) => {
                let mut f = pin!(limiter.until_n_ready_with(&clock, n));
                assert!(poll_with(f.as_mut(), &old_w).is_pending());
                assert!(poll_with(f.as_mut(), &new_w).is_pending());
                clock.advance(100 * MS);
                poll_with(f.as_mut(), &new_w) == Poll::Ready(Ok(()))
            }
        };
        assert!(done);
        assert_eq!((wakes(&old), wakes(&new)), (0, 1));
    }
}

// ---- the stream adapter ----

#[test]
fn rate_limited_stream_paces_items() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::per_second(10).burst(2));
        let stream = RateLimited::with_timer(futures::stream::iter(0..5), limiter, clock.clone());
        let mut stream = pin!(stream);
        assert_eq!(stream.next().await, Some(0));
        assert_eq!(stream.next().await, Some(1));
        for expected in 2..5 {
            assert!(stream.next().now_or_never().is_none());
            clock.advance(99 * MS);
            assert!(stream.next().now_or_never().is_none());
            clock.advance(MS);
            assert_eq!(stream.next().await, Some(expected));
        }
        assert_eq!(stream.next().await, None);
    });
}

#[test]
fn rate_limited_idle_stream_reserves_nothing_and_drop_refunds() {
    each_executor(|| async {
        let (clock, limiter) = limiter(Quota::per_second(10).burst(1));
        let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
        let mut stream = Box::pin(RateLimited::with_timer(
            rx,
            Arc::clone(&limiter),
            clock.clone(),
        ));
        assert!(stream.next().now_or_never().is_none()); // idle: nothing reserved
        tx.unbounded_send(1).unwrap();
        tx.unbounded_send(2).unwrap();
        assert_eq!(stream.next().await, Some(1));
        assert!(stream.next().now_or_never().is_none()); // 2 holds a reservation
        assert_eq!(stream.size_hint().0, 1);
        drop(stream); // drops item 2, refunds its reservation
        assert_eq!(
            limiter.check().unwrap_err().wait_time_from(clock.now()),
            100 * MS
        );
        clock.advance(100 * MS);
        limiter.check().unwrap();
    });
}

// ---- bad input ----

#[test]
#[should_panic(expected = "Quota::per_second: the rate must be at least 1")]
fn zero_rate_per_second_panics() {
    let _ = Quota::per_second(0);
}

#[test]
#[should_panic(expected = "Quota::per_minute: the rate must be at least 1")]
fn zero_rate_per_minute_panics() {
    let _ = Quota::per_minute(0);
}

#[test]
#[should_panic(expected = "Quota::burst: the burst must be at least 1")]
fn zero_burst_panics() {
    let _ = Quota::per_second(5).burst(0);
}

#[test]
#[should_panic(expected = "Quota::with_period: the period must not be zero")]
fn zero_period_panics() {
    let _ = Quota::with_period(Duration::ZERO);
}

#[test]
fn errors_display_and_debug() {
    let err = InsufficientCapacity(3);
    assert!(err.to_string().contains('3'));
    let (_clock, limiter) = limiter(Quota::per_second(1).burst(1));
    limiter.check().unwrap();
    let err = limiter.check().unwrap_err();
    assert!(err.to_string().contains("rate limited"));
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(CheckNError::from(err));
    assert!(!boxed.to_string().is_empty());
    assert!(format!("{limiter:?}").contains("RateLimiter"));
}
