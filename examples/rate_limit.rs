//! A producer limited to N messages per second feeding a worker, whose
//! window of unacknowledged messages is a `CreditSemaphore`: time-based
//! flow control (the rate) and count-based flow control (the credit)
//! together. Runs the same pipeline on tokio, then on smol.
//!
//! Run: `cargo run --example rate_limit --features tokio,smol`
//!
//! (Until the dispatcher lands on this branch the worker is fed through a
//! plain channel; with it, the producer becomes a rate-limited
//! `Publisher` and the worker a `Consumer` with `prefetch(4)`.)

use flowgate::credit::CreditSemaphore;
use flowgate::rate::{Quota, RateLimiter};
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RATE: u32 = 50; // messages per second
const MESSAGES: u32 = 25;
const WINDOW: usize = 4; // messages in flight to the worker at most

/// Produces `MESSAGES` at `RATE`/s into a worker with a credit window;
/// returns how long it took. Runtime-agnostic: the limiter's plain form
/// picks tokio's timer inside tokio and async-io's elsewhere.
async fn pipeline() -> Duration {
    let limiter = RateLimiter::new(Quota::per_second(RATE).burst(1));
    let credits = Arc::new(CreditSemaphore::new(WINDOW));
    let (tx, mut rx) = futures::channel::mpsc::unbounded();

    let producer = async move {
        for n in 0..MESSAGES {
            limiter.until_ready().await; // the rate
            let credit = Arc::clone(&credits).acquire_owned(1).await.unwrap(); // the window
            tx.unbounded_send((n, credit)).unwrap();
        }
        // `tx` drops here: the worker's loop ends.
    };
    let worker = async move {
        let mut handled = 0;
        while let Some((n, credit)) = rx.next().await {
            assert_eq!(n, handled);
            handled += 1;
            drop(credit); // done: one more message may be in flight
        }
        handled
    };

    let start = Instant::now();
    let ((), handled) = futures::join!(producer, worker);
    assert_eq!(handled, MESSAGES);
    start.elapsed()
}

fn report(runtime: &str, took: Duration) {
    // The first message goes at once; the others are one interval apart.
    let rate = f64::from(MESSAGES - 1) / took.as_secs_f64();
    println!(
        "{runtime:>6}: {MESSAGES} messages in {took:.2?} = {rate:.1}/s (limit {RATE}/s, burst 1)"
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // Spawned, to show the limiter moving between worker threads.
    let took = rt.block_on(async { tokio::spawn(pipeline()).await.unwrap() });
    report("tokio", took);

    let took = smol::block_on(pipeline());
    report("smol", took);
}
