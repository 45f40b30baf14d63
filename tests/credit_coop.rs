//! With the `tokio` feature, acquires spend tokio's cooperative budget: a
//! task whose acquires always succeed still lets the other tasks of its
//! worker run, as `tokio::sync` does.
#![cfg(feature = "tokio")]

mod support;

use flowgate::credit::CreditSemaphore;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use support::hog_yields;

#[test]
fn always_ready_acquire_loop_yields_to_other_tasks() {
    let sem = Arc::new(CreditSemaphore::new(1));
    let hog_sem = Arc::clone(&sem);
    let rounds = hog_yields(|other_ran| async move {
        let mut rounds = 0u64;
        // Never contended: without a budget this loop would never return to
        // the scheduler, and `other` would never run.
        while !other_ran.load(Ordering::SeqCst) {
            drop(hog_sem.acquire(1).await.unwrap());
            rounds += 1;
        }
        rounds
    });
    assert!(rounds > 0);
    assert_eq!(sem.available(), 1);
}
