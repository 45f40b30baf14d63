//! Edge inputs and less-travelled paths of DESIGN.md §3: extreme
//! quotas and capacities, teardown in every order, the effects an ack
//! or nack must have at once.

use super::*;
use flowgate::rate::{Quota, RateLimiter};
use flowgate::runtime::ManualClock;
use std::time::Duration;

/// GCRA never grants more than the quota, even where its arithmetic
/// would overflow: one cell per (practically) forever is one cell.
#[test]
fn a_quota_of_one_per_forever_grants_one() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(Quota::with_period(Duration::MAX), clock.clone());
    limiter.check().unwrap();
    assert!(limiter.check().is_err(), "the period has not passed");
    let mut wait = Box::pin(limiter.until_ready_with(&clock));
    let _ = pend(&mut wait);
    clock.advance(Duration::from_secs(100 * 365 * 24 * 3600));
    assert!(
        poll_with(&mut wait, &futures::task::noop_waker()).is_pending(),
        "a century later, still not"
    );
    drop(wait);
    assert!(limiter.check().is_err());
}

/// A burst worth more than the limiter's clock can count is spent once.
#[test]
fn a_huge_burst_once_spent_is_spent() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(Quota::per_minute(1).burst(u32::MAX), clock.clone());
    limiter.check_n(u32::MAX).unwrap();
    assert!(limiter.check().is_err(), "the burst is exhausted");
    assert!(limiter.check_n(1).is_err());
    clock.advance(Duration::from_secs(59));
    assert!(limiter.check().is_err(), "one cell a minute");
}
