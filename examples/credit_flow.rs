//! Credit-based flow control between a fast producer and a slow consumer.
//!
//! The consumer grants a window of credit (like RabbitMQ's prefetch or
//! Reactive Streams' `request(n)`); the producer spends one credit per
//! message and waits when it has none, so no more than the window is ever
//! in flight, however fast the producer is.
//!
//! Run: `cargo run --release --example credit_flow`

use flowgate::credit::CreditSemaphore;
use futures::executor::block_on;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const WINDOW: usize = 8;
const MESSAGES: usize = 2_000;

fn main() {
    let credit = Arc::new(CreditSemaphore::new(WINDOW));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Instant)>();
    let start = Instant::now();

    let producer = {
        let (credit, in_flight) = (Arc::clone(&credit), Arc::clone(&in_flight));
        std::thread::spawn(move || {
            block_on(async {
                let mut waited = Duration::ZERO;
                for seq in 0..MESSAGES {
                    let before = Instant::now();
                    // One credit per message; it is spent, not returned.
                    credit.acquire(1).await.expect("never closed here").forget();
                    waited += before.elapsed();
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    tx.send((seq, Instant::now())).expect("consumer alive");
                }
                waited
            })
        })
    };

    let mut max_in_flight = 0;
    let mut latency = Duration::ZERO;
    for expected in 0..MESSAGES {
        let (seq, sent) = rx.recv().expect("producer alive");
        assert_eq!(seq, expected);
        max_in_flight = max_in_flight.max(in_flight.load(Ordering::SeqCst));
        // the slow part of the consumer
        std::thread::sleep(Duration::from_micros(50));
        latency += sent.elapsed();
        in_flight.fetch_sub(1, Ordering::SeqCst);
        credit.add_credits(1); // request(1): grant the next message
    }
    let waited = producer.join().expect("producer thread");
    let elapsed = start.elapsed();

    println!("credit window            {WINDOW}");
    println!("messages                 {MESSAGES}");
    println!("most ever in flight      {max_in_flight} (never above the window)");
    println!(
        "producer time waiting    {:.0}% of {:.2?}",
        100.0 * waited.as_secs_f64() / elapsed.as_secs_f64(),
        elapsed
    );
    println!(
        "mean time in flight      {:.2?}",
        latency / u32::try_from(MESSAGES).expect("fits")
    );
    println!(
        "throughput               {:.0} msg/s",
        MESSAGES as f64 / elapsed.as_secs_f64()
    );
    assert!(max_in_flight <= WINDOW);
}
