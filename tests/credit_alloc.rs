//! Allocation counts of the credit semaphore (its own test binary, because
//! it installs a counting global allocator). A count, not a timing.

use flowgate::credit::CreditSemaphore;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; it only
// counts the calls made on the current thread while counting is on.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
        }
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
        }
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while `f` runs.
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

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
