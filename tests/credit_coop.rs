//! With the `tokio` feature, acquires spend tokio's cooperative budget: a
//! task whose acquires always succeed still lets the other tasks of its
//! worker run, as `tokio::sync` does.
#![cfg(feature = "tokio")]

use flowgate::credit::CreditSemaphore;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[test]
fn always_ready_acquire_loop_yields_to_other_tasks() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let sem = Arc::new(CreditSemaphore::new(1));
        let other_ran = Arc::new(AtomicBool::new(false));
        let hog = {
            let (sem, other_ran) = (Arc::clone(&sem), Arc::clone(&other_ran));
            tokio::spawn(async move {
                let mut rounds = 0u64;
                // Never contended: without a budget this loop would never
                // return to the scheduler, and `other` would never run.
                while !other_ran.load(Ordering::SeqCst) {
                    drop(sem.acquire(1).await.unwrap());
                    rounds += 1;
                }
                rounds
            })
        };
        let other = {
            let other_ran = Arc::clone(&other_ran);
            tokio::spawn(async move { other_ran.store(true, Ordering::SeqCst) })
        };
        other.await.unwrap();
        let rounds = hog.await.unwrap();
        assert!(rounds > 0);
        assert_eq!(sem.available(), 1);
    });
}
