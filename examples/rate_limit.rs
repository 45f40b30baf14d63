//! A producer limited to N messages per second feeding the dispatcher,
//! whose worker holds at most a prefetch window of unacknowledged
//! deliveries: time-based flow control (the rate) and count-based flow
//! control (the prefetch credit) together. Runs the same pipeline on tokio,
//! then on smol.
//!
//! Run: `cargo run --example rate_limit --features tokio,smol`

use flowgate::dispatch::{Dispatcher, Subscription};
use flowgate::rate::{Quota, RateLimiter};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RATE: u32 = 50; // messages per second
const MESSAGES: u32 = 25;
const PREFETCH: usize = 4; // unacked deliveries held by the worker at most

/// Publishes `MESSAGES` at `RATE`/s into a dispatcher with one worker;
/// returns how long it took. Runtime-agnostic: the limiter's plain form
/// picks tokio's timer inside tokio and async-io's elsewhere.
async fn pipeline() -> Duration {
    let limiter = Arc::new(RateLimiter::new(Quota::per_second(RATE).burst(1)));
    let queue = Dispatcher::<u32>::builder().capacity(8).build();
    let mut worker = queue.subscribe(Subscription::prefetch(PREFETCH));
    let publisher = queue.publisher().with_rate_limit(limiter);
    drop(queue); // the worker's loop ends once the publisher is gone

    let producer = async move {
        for n in 0..MESSAGES {
            publisher.publish(n).await.expect("dispatcher open");
        }
    };
    let consumer = async move {
        let mut handled = 0;
        while let Some(delivery) = worker.recv().await {
            assert_eq!(*delivery, handled);
            handled += 1;
            delivery.ack();
        }
        handled
    };

    let start = Instant::now();
    let ((), handled) = futures::join!(producer, consumer);
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
