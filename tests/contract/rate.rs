//! `flowgate::rate` as DESIGN.md §3 states it.

use super::*;
use flowgate::rate::{Clock, NotUntil, Quota, RateLimited, RateLimiter};
use flowgate::runtime::ManualClock;
use futures::StreamExt;
use std::time::{Duration, Instant};

#[test]
fn check_never_waits_and_tells_the_earliest_instant() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(Quota::per_second(1000).burst(50), clock.clone());
    for _ in 0..50 {
        limiter.check().unwrap();
    }
    let NotUntil(at) = limiter.check().unwrap_err();
    assert_eq!(at, clock.now() + Duration::from_millis(1));
    clock.advance(Duration::from_millis(1));
    limiter.check().unwrap();
    // The contract's constructor exists with the real clock.
    let _ = RateLimiter::new(Quota::per_second(1000).burst(50));
}

#[test]
fn until_n_ready_errs_when_n_exceeds_the_burst_never_hangs() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(Quota::per_second(10).burst(5), clock.clone());
    assert!(matches!(
        limiter.until_n_ready_with(&clock, 6).now_or_never(),
        Some(Err(_))
    ));
    assert!(matches!(
        limiter.until_n_ready_with(&clock, 5).now_or_never(),
        Some(Ok(()))
    ));
}

#[test]
fn until_ready_waits_on_the_timer_for_its_slot() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(Quota::per_second(10).burst(1), clock.clone());
    limiter.check().unwrap();
    let mut wait = Box::pin(limiter.until_ready_with(&clock));
    let (woken, waker) = counting();
    assert!(poll_with(&mut wait, &waker).is_pending());
    clock.advance(Duration::from_millis(99));
    assert!(poll_with(&mut wait, &waker).is_pending());
    clock.advance(Duration::from_millis(1));
    assert!(woken.get() >= 1);
    assert!(poll_with(&mut wait, &waker).is_ready());
}

#[test]
fn a_user_clock_plugs_in() {
    struct Fixed(Instant);
    impl Clock for Fixed {
        fn now(&self) -> Instant {
            self.0
        }
    }
    let limiter = RateLimiter::with_clock(Quota::per_second(1).burst(2), Fixed(Instant::now()));
    limiter.check().unwrap();
    limiter.check().unwrap();
    assert!(limiter.check().is_err());
}

#[test]
fn a_rate_limited_stream() {
    let clock = ManualClock::new();
    let limiter = Arc::new(RateLimiter::with_clock(
        Quota::per_second(10).burst(1),
        clock.clone(),
    ));
    let mut paced = RateLimited::with_timer(futures::stream::iter(0..3), limiter, clock.clone());
    assert_eq!(paced.next().now_or_never(), Some(Some(0)));
    let (woken, waker) = counting();
    assert!(poll_with(&mut paced.next(), &waker).is_pending());
    clock.advance(Duration::from_millis(100));
    assert!(woken.get() >= 1);
    assert_eq!(paced.next().now_or_never(), Some(Some(1)));
}

#[test]
fn a_rate_limited_publisher() {
    use flowgate::dispatch::{Dispatcher, Subscription};
    let clock = ManualClock::new();
    let limiter = Arc::new(RateLimiter::with_clock(
        Quota::per_second(10).burst(1),
        clock.clone(),
    ));
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(8));
    let publisher = queue
        .publisher()
        .with_rate_limit_with(clock.clone(), limiter);
    assert!(matches!(publisher.publish(1).now_or_never(), Some(Ok(()))));
    let mut second = Box::pin(publisher.publish(2));
    assert!(poll_with(&mut second, &futures::task::noop_waker()).is_pending());
    clock.advance(Duration::from_millis(100));
    assert!(matches!(second.now_or_never(), Some(Ok(()))));
    assert_eq!(*consumer.try_recv().unwrap(), 1);
    assert_eq!(*consumer.try_recv().unwrap(), 2);
}
