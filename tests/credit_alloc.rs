//! Allocation counts of the credit semaphore (its own test binary, because
//! it installs a counting global allocator). A count, not a timing.

mod support;

use flowgate::credit::CreditSemaphore;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use support::alloc::allocations_during as allocations;

#[global_allocator]
static GLOBAL: support::alloc::Counting = support::alloc::Counting;

#[test]
fn uncontended_acquire_and_release_allocate_nothing() {
    let sem = CreditSemaphore::new(4);
    let mut cx = Context::from_waker(Waker::noop());
    let n = allocations(|| {
        for _ in 0..100_000 {
            let mut fut = sem.acquire(1);
            let held = Pin::new(&mut fut).poll(&mut cx);
            assert!(held.is_ready());
            drop(sem.try_acquire(2).unwrap());
        }
    });
    assert_eq!(n, 0);
}

/// tokio #2237: memory grew when an acquire was polled and dropped over
/// and over. Here the wait list reuses its node: after the first waiter,
/// a million cancelled acquires allocate nothing at all.
#[test]
fn a_million_cancelled_acquires_allocate_nothing_once_warm() {
    let sem = CreditSemaphore::new(0);
    let mut cx = Context::from_waker(Waker::noop());
    let mut cancel_one = || {
        let mut fut = sem.acquire(1);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        drop(fut);
    };
    cancel_one(); // grows the wait list's slab once
    let n = allocations(|| {
        for _ in 0..1_000_000 {
            cancel_one();
        }
    });
    assert_eq!(n, 0);
    assert_eq!(sem.available(), 0);
}

#[test]
fn waiting_and_hand_off_allocate_nothing_once_warm() {
    let sem = CreditSemaphore::new(0);
    let mut cx = Context::from_waker(Waker::noop());
    let mut round = || {
        let mut a = sem.acquire(1);
        let mut b = sem.acquire(2);
        assert!(Pin::new(&mut a).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut b).poll(&mut cx).is_pending());
        sem.add_credits(3);
        for fut in [&mut a, &mut b] {
            match Pin::new(fut).poll(&mut cx) {
                Poll::Ready(Ok(held)) => held.forget(),
                other => panic!("expected a grant, got {other:?}"),
            }
        }
    };
    round();
    let n = allocations(|| {
        for _ in 0..10_000 {
            round();
        }
    });
    assert_eq!(n, 0);
}
