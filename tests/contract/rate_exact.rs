//! The rate limiter's GCRA, cell by cell (DESIGN.md §3, `flowgate::rate`):
//! exact conformance sequences for burst and period on a manual clock,
//! `n`-cell checks, what a refusal tells, the waiting futures, the stream
//! adapter and the edges (zero, huge).

use super::support::ready;
use super::*;
use flowgate::rate::{
    CheckNError, Clock, InsufficientCapacity, NotUntil, Quota, RateLimited, RateLimiter,
};
use flowgate::runtime::ManualClock;
use futures::stream::FusedStream;
use futures::{Stream as _, StreamExt};
use std::task::Waker;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn limiter(quota: Quota) -> (ManualClock, RateLimiter<ManualClock>) {
    let clock = ManualClock::new();
    (clock.clone(), RateLimiter::with_clock(quota, clock))
}

#[test]
fn a_burst_then_one_cell_per_period_and_idle_time_refills_only_up_to_the_burst() {
    let (clock, limiter) = limiter(Quota::per_second(10).burst(3));
    let t0 = clock.now();
    for _ in 0..3 {
        limiter.check().unwrap();
    }
    assert_eq!(limiter.check(), Err(NotUntil(t0 + ms(100))));
    clock.advance(ms(99));
    assert_eq!(
        limiter.check(),
        Err(NotUntil(t0 + ms(100))),
        "refusals take nothing"
    );
    clock.advance(ms(1));
    limiter.check().unwrap();
    assert_eq!(limiter.check(), Err(NotUntil(t0 + ms(200))));
    // A long quiet spell gives back the burst and no more.
    clock.advance(Duration::from_secs(60));
    let t1 = clock.now();
    for _ in 0..3 {
        limiter.check().unwrap();
    }
    assert_eq!(limiter.check(), Err(NotUntil(t1 + ms(100))));
    // Half a period later, half a cell is not a cell.
    clock.advance(ms(50));
    assert!(limiter.check().is_err());
    clock.advance(ms(150));
    limiter.check().unwrap();
    limiter.check().unwrap();
    assert!(limiter.check().is_err());
}

#[test]
fn one_cell_every_period_exactly_at_a_steady_rate() {
    let (clock, limiter) = limiter(Quota::with_period(ms(250)));
    let t0 = clock.now();
    for k in 1..=20u32 {
        limiter.check().unwrap();
        let NotUntil(at) = limiter.check().unwrap_err();
        assert_eq!(at, t0 + ms(250) * k);
        clock.advance(ms(250));
    }
}

#[test]
fn check_n_takes_all_or_nothing_and_tells_when_n_would_fit() {
    let (clock, limiter) = limiter(Quota::per_second(5).burst(5)); // 200 ms
    let t0 = clock.now();
    assert_eq!(limiter.check_n(0), Ok(()));
    limiter.check_n(3).unwrap();
    // 3 more would need one more cell's worth of room: at t0 + 200 ms.
    assert_eq!(
        limiter.check_n(3),
        Err(CheckNError::NotUntil(NotUntil(t0 + ms(200))))
    );
    limiter.check_n(2).unwrap(); // the refusal took nothing
    assert_eq!(
        limiter.check_n(5),
        Err(CheckNError::NotUntil(NotUntil(t0 + ms(1000))))
    );
    assert_eq!(
        limiter.check_n(6),
        Err(CheckNError::InsufficientCapacity(InsufficientCapacity(5)))
    );
    assert_eq!(limiter.check_n(0), Ok(()), "zero cells always conform");
    clock.advance(ms(1000));
    limiter.check_n(5).unwrap();
    assert!(limiter.check().is_err());
}

#[test]
fn not_until_reports_its_wait() {
    let (clock, limiter) = limiter(Quota::per_second(4).burst(1));
    limiter.check().unwrap();
    let err = limiter.check().unwrap_err();
    assert_eq!(err.earliest(), clock.now() + ms(250));
    assert_eq!(err.wait_time_from(clock.now()), ms(250));
    assert_eq!(err.wait_time_from(clock.now() + ms(300)), Duration::ZERO);
    assert!(!err.to_string().is_empty());
    let boxed: Box<dyn std::error::Error + std::marker::Send + Sync> = Box::new(err);
    assert!(!boxed.to_string().is_empty());
    let n_err = limiter.check_n(2).unwrap_err();
    assert!(n_err.to_string().contains('1'), "{n_err}"); // the burst size
}

#[test]
fn waiters_are_served_in_order_each_at_its_own_slot_and_check_never_overtakes() {
    let (clock, limiter) = limiter(Quota::per_second(10).burst(1));
    limiter.check().unwrap();
    let mut first = Box::pin(limiter.until_ready_with(&clock));
    let mut second = Box::pin(limiter.until_n_ready_with(&clock, 1));
    let (w1, k1) = counting();
    let (w2, k2) = counting();
    assert!(poll_with(&mut first, &k1).is_pending());
    assert!(poll_with(&mut second, &k2).is_pending());
    clock.advance(ms(100));
    assert_eq!((w1.get() >= 1, w2.get()), (true, 0));
    assert!(limiter.check().is_err(), "the slot at 200 ms is reserved");
    assert!(poll_with(&mut first, &k1).is_ready());
    assert!(poll_with(&mut second, &k2).is_pending());
    clock.advance(ms(100));
    assert!(w2.get() >= 1);
    assert_eq!(ready(&mut second), Ok(()));
    assert!(limiter.check().is_err());
    clock.advance(ms(100));
    limiter.check().unwrap();
}

#[test]
fn a_cancelled_last_waiter_gives_its_slot_back() {
    let (clock, limiter) = limiter(Quota::per_second(10).burst(1));
    let t0 = clock.now();
    limiter.check().unwrap();
    let mut waiting = Box::pin(limiter.until_ready_with(&clock));
    assert!(poll_with(&mut waiting, Waker::noop()).is_pending());
    assert_eq!(limiter.check(), Err(NotUntil(t0 + ms(200))));
    drop(waiting);
    assert_eq!(limiter.check(), Err(NotUntil(t0 + ms(100))));
    // Dropped before its first poll: it never reserved anything.
    drop(limiter.until_ready_with(&clock));
    clock.advance(ms(100));
    limiter.check().unwrap();
}

#[test]
fn until_ready_takes_its_cell_at_once_when_one_conforms() {
    let (clock, limiter) = limiter(Quota::per_second(2).burst(2));
    assert_eq!(
        limiter.until_n_ready_with(&clock, 0).now_or_never(),
        Some(Ok(()))
    );
    assert_eq!(
        limiter.until_n_ready_with(&clock, 2).now_or_never(),
        Some(Ok(()))
    );
    assert!(limiter.check().is_err(), "the waits took their cells");
    assert_eq!(
        limiter.until_n_ready_with(&clock, 3).now_or_never(),
        Some(Err(InsufficientCapacity(2)))
    );
    clock.advance(ms(500));
    assert_eq!(limiter.until_ready_with(&clock).now_or_never(), Some(()));
    assert!(limiter.check().is_err());
}

#[test]
fn zero_quotas_panic_and_huge_ones_work() {
    assert!(std::panic::catch_unwind(|| Quota::per_second(0)).is_err());
    assert!(std::panic::catch_unwind(|| Quota::per_minute(0)).is_err());
    assert!(std::panic::catch_unwind(|| Quota::with_period(Duration::ZERO)).is_err());
    assert!(std::panic::catch_unwind(|| Quota::per_second(1).burst(0)).is_err());

    let (clock, fast) = limiter(Quota::per_second(u32::MAX).burst(u32::MAX));
    fast.check_n(u32::MAX).unwrap();
    assert!(fast.check().is_err());
    // Time is kept in whole nanoseconds: a cell every 1 ns at most, so the
    // whole burst is back after u32::MAX ns (~4.3 s).
    clock.advance(Duration::from_nanos(u64::from(u32::MAX) - 1));
    assert!(fast.check_n(u32::MAX).is_err());
    clock.advance(Duration::from_nanos(1));
    fast.check_n(u32::MAX).unwrap();

    let (clock, slow) = limiter(Quota::with_period(Duration::MAX).burst(u32::MAX));
    slow.check_n(u32::MAX).unwrap();
    let NotUntil(at) = slow.check().unwrap_err();
    assert!(at > clock.now() + Duration::from_secs(86_400 * 365));
    clock.advance(Duration::from_secs(86_400 * 365));
    assert!(slow.check().is_err());
}

#[test]
fn set_quota_applies_to_the_next_decision() {
    let (clock, limiter) = limiter(Quota::per_second(1).burst(1));
    limiter.check().unwrap();
    limiter.set_quota(Quota::per_second(100).burst(1));
    assert_eq!(limiter.quota(), Quota::per_second(100).burst(1));
    // The cell taken under the old quota keeps its spacing: 1 s.
    assert!(limiter.check().is_err());
    clock.advance(Duration::from_secs(1));
    limiter.check().unwrap();
    clock.advance(ms(10));
    limiter.check().unwrap();
}

#[test]
fn a_user_clock_behind_an_arc_or_a_reference_plugs_in() {
    let clock = Arc::new(ManualClock::new());
    let limiter = RateLimiter::with_clock(Quota::per_second(1).burst(1), Arc::clone(&clock));
    limiter.check().unwrap();
    assert!(limiter.check().is_err());
    clock.advance(Duration::from_secs(1));
    limiter.check().unwrap();
    let by_ref = RateLimiter::with_clock(Quota::per_second(1), &*clock);
    assert_eq!(by_ref.clock().now(), clock.now());
}

#[test]
fn the_rate_limited_stream_paces_ends_and_stays_ended() {
    let clock = ManualClock::new();
    let limiter = Arc::new(RateLimiter::with_clock(
        Quota::per_second(10).burst(2),
        clock.clone(),
    ));
    let mut paced = RateLimited::with_timer(
        futures::stream::iter(0..4).fuse(),
        Arc::clone(&limiter),
        clock.clone(),
    );
    assert_eq!(paced.size_hint(), (4, Some(4)));
    assert_eq!(paced.next().now_or_never(), Some(Some(0)));
    assert_eq!(paced.next().now_or_never(), Some(Some(1)));
    let mut next = paced.next();
    assert!(poll_with(&mut next, Waker::noop()).is_pending());
    drop(next); // the item it pulled stays held, not lost
    assert_eq!(paced.size_hint(), (2, Some(2)));
    clock.advance(ms(100));
    assert_eq!(paced.next().now_or_never(), Some(Some(2)));
    clock.advance(ms(100));
    assert_eq!(paced.next().now_or_never(), Some(Some(3)));
    assert!(!paced.is_terminated());
    assert_eq!(paced.next().now_or_never(), Some(None));
    assert!(paced.is_terminated());
    assert_eq!(
        paced.next().now_or_never(),
        Some(None),
        "polled after the end"
    );
    // The end took no cell.
    limiter.check().unwrap_err();
    clock.advance(ms(100));
    limiter.check().unwrap();
}

#[test]
fn a_rate_limited_publish_after_close_hands_the_message_back_at_once() {
    use flowgate::dispatch::Dispatcher;
    let clock = ManualClock::new();
    let limiter = Arc::new(RateLimiter::with_clock(
        Quota::per_second(1).burst(1),
        clock.clone(),
    ));
    let queue = Dispatcher::<u32>::new();
    let publisher = queue
        .publisher()
        .with_rate_limit_with(clock.clone(), Arc::clone(&limiter));
    limiter.check().unwrap(); // no cell left for a second
    queue.close();
    let refused = publisher.publish(7).now_or_never();
    assert_eq!(
        refused.map(|r| r.unwrap_err().0),
        Some(7),
        "not after a wait"
    );
    clock.advance(Duration::from_secs(1));
    limiter.check().expect("the refused publish took no cell");
}

/// VERIFICATION's four tests for the rate-limited publish, in both of its
/// waits: for a cell of the rate, then for backlog room.
#[test]
fn the_rate_limited_publish_passes_the_four_future_tests() {
    use flowgate::dispatch::{Dispatcher, Subscription};
    let clock = ManualClock::new();
    let limiter = Arc::new(RateLimiter::with_clock(
        Quota::per_second(10).burst(1),
        clock.clone(),
    ));
    let queue = Dispatcher::<u32>::builder().capacity(1).build();
    let publisher = queue
        .publisher()
        .with_rate_limit_with(clock.clone(), Arc::clone(&limiter));

    // 1. Dropped before the first poll: no cell taken, no message sent.
    drop(publisher.publish(0));
    assert!(limiter.check().is_ok());
    assert_eq!(queue.stats().published, 0);

    // 4. Re-polled with a new waker while waiting for a cell.
    let mut first = Box::pin(publisher.publish(1));
    let (old, old_waker) = counting();
    let (new, new_waker) = counting();
    assert!(poll_with(&mut first, &old_waker).is_pending());
    assert!(poll_with(&mut first, &new_waker).is_pending());
    clock.advance(ms(100));
    assert_eq!((old.get(), new.get() >= 1), (0, true), "rate wait");
    assert!(matches!(ready(&mut first), Ok(())));
    drop(first);

    // 4 again, waiting for room (the backlog of 1 is full, no consumer).
    clock.advance(ms(100));
    let mut second = Box::pin(publisher.publish(2));
    let (old, old_waker) = counting();
    let (new, new_waker) = counting();
    assert!(poll_with(&mut second, &old_waker).is_pending());
    assert!(poll_with(&mut second, &new_waker).is_pending());
    // 3. A plain publisher waits behind it; a consumer makes room for one:
    // `second` is notified, dropped unpolled, and its turn passes on.
    let plain = queue.publisher();
    let mut third = plain.publish(3);
    let third_woken = pend(&mut third);
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    assert_eq!((old.get(), new.get()), (0, 1), "room wait");
    assert_eq!(third_woken.get(), 0);
    drop(second);
    assert_eq!(third_woken.get(), 1, "the notification passed on");
    assert!(matches!(ready(&mut third), Ok(())));
    assert_eq!(*consumer.try_recv().unwrap(), 1);

    // 2. Polled to pending on a cell, then dropped: the cell is refunded.
    clock.advance(ms(100));
    limiter.check().unwrap();
    let mut fourth = Box::pin(publisher.publish(4));
    assert!(poll_with(&mut fourth, Waker::noop()).is_pending());
    drop(fourth);
    clock.advance(ms(100));
    limiter.check().expect("the refunded cell");
}
