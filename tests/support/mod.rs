//! Helpers shared by the integration tests: counting wakers, polling by
//! hand, and a harness for the cooperative-budget tests. `mod support;` from a test file includes them; a test binary
//! that counts allocations also installs [`alloc::Counting`].

#![allow(dead_code)]

pub mod alloc;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// Every dispatch strategy, for tests that hold under each.
pub const STRATEGIES: [flowgate::dispatch::Strategy; 5] = [
    flowgate::dispatch::Strategy::RoundRobin,
    flowgate::dispatch::Strategy::Weighted,
    flowgate::dispatch::Strategy::LeastLoaded,
    flowgate::dispatch::Strategy::Adaptive,
    flowgate::dispatch::Strategy::Broadcast,
];

/// A waker's wake-up count.
#[derive(Debug, Default)]
pub struct WakeCount(AtomicUsize);

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl WakeCount {
    /// How many times the waker was woken.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A fresh waker and the count of its wake-ups.
pub fn counting() -> (Arc<WakeCount>, Waker) {
    let count = Arc::new(WakeCount::default());
    let waker = Waker::from(Arc::clone(&count));
    (count, waker)
}

/// How many times the waker behind `count` was woken.
pub fn wakes(count: &WakeCount) -> usize {
    count.get()
}

/// Polls `fut` once with `waker`.
pub fn poll_with<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(waker))
}

/// Polls a future that must be pending; returns the count of the fresh
/// waker it was polled with.
pub fn pend<F: Future + Unpin>(fut: &mut F) -> Arc<WakeCount> {
    let (count, waker) = counting();
    assert!(poll_with(fut, &waker).is_pending(), "expected Pending");
    count
}

/// Polls a future that must be ready and returns its output.
pub fn ready<F: Future + Unpin>(fut: &mut F) -> F::Output {
    match poll_with(fut, Waker::noop()) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("expected Ready"),
    }
}

/// Polls a pinned future once with `waker` (for futures that are not
/// `Unpin`).
pub fn poll_pin<F: Future>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// Runs `hog` and a task that sets a flag on a single-threaded runtime: the
/// hog loops until the flag is set, so it finishes only if it yields.
pub fn hog_yields<F>(hog: impl FnOnce(Arc<AtomicBool>) -> F) -> u64
where
    F: std::future::Future<Output = u64> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let other_ran = Arc::new(AtomicBool::new(false));
        let hog = tokio::spawn(hog(Arc::clone(&other_ran)));
        let other = {
            let other_ran = Arc::clone(&other_ran);
            tokio::spawn(async move { other_ran.store(true, Ordering::SeqCst) })
        };
        other.await.unwrap();
        hog.await.unwrap()
    })
}
