//! The dispatcher as a competing-consumer work queue, side by side with
//! `async-channel`, `flume` and `kanal` (which have no acks and no
//! prefetch): 1 producer, 4 consumers, on a tokio multi-thread runtime with
//! 2 workers. flowgate uses prefetch 32 and acks every message after its work.
//!
//! Prints ns/msg, the ratio against async-channel (target <= 1.0x), Jain's
//! fairness index over per-consumer counts (target >= 0.999), and, with
//! consumer 0 doing 4x the work of the others, its share of the messages
//! (ideal 1/13 = 7.7%; target <= 10% under LeastLoaded and Adaptive).
//!
//! `cargo bench --bench dispatch` (`DISPATCH_BENCH_MESSAGES=N` to change
//! the message count). Best of 3 runs per cell.

use flowgate::dispatch::{Dispatcher, Strategy, Subscription};
use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

const CONSUMERS: usize = 4;
const CAPACITY: usize = 1024;
const PREFETCH: usize = 32;

trait Queue: 'static {
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn new(strategy: Strategy) -> (Self::Tx, Vec<Self::Rx>);
    fn publish(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send + '_;
    type Item: Send;
    /// Receives one message; `None` at the end.
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<Self::Item>> + Send + '_;
    /// Done with a message: flowgate acks it.
    fn done(_item: Self::Item) {}
}

struct Flowgate;
impl Queue for Flowgate {
    type Tx = flowgate::dispatch::Publisher<u64>;
    type Rx = flowgate::dispatch::Consumer<u64>;
    fn new(strategy: Strategy) -> (Self::Tx, Vec<Self::Rx>) {
        let queue = Dispatcher::builder()
            .capacity(CAPACITY)
            .strategy(strategy)
            .build();
        let rxs = (0..CONSUMERS)
            .map(|_| queue.subscribe(Subscription::prefetch(PREFETCH)))
            .collect();
        (queue.publisher(), rxs)
    }
    async fn publish(tx: &Self::Tx, v: u64) {
        if tx.publish(v).await.is_err() {
            unreachable!()
        }
    }
    type Item = flowgate::dispatch::Delivery<u64>;
    async fn recv(rx: &mut Self::Rx) -> Option<Self::Item> {
        rx.recv().await
    }
    fn done(item: Self::Item) {
        item.ack();
    }
}

struct AsyncChannel;
impl Queue for AsyncChannel {
    type Tx = async_channel::Sender<u64>;
    type Rx = async_channel::Receiver<u64>;
    fn new(_: Strategy) -> (Self::Tx, Vec<Self::Rx>) {
        let (tx, rx) = async_channel::bounded(CAPACITY);
        (tx, vec![rx; CONSUMERS])
    }
    async fn publish(tx: &Self::Tx, v: u64) {
        tx.send(v).await.unwrap();
    }
    type Item = u64;
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
}

struct Flume;
impl Queue for Flume {
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;
    fn new(_: Strategy) -> (Self::Tx, Vec<Self::Rx>) {
        let (tx, rx) = flume::bounded(CAPACITY);
        (tx, vec![rx; CONSUMERS])
    }
    async fn publish(tx: &Self::Tx, v: u64) {
        tx.send_async(v).await.unwrap();
    }
    type Item = u64;
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv_async().await.ok()
    }
}

struct Kanal;
impl Queue for Kanal {
    type Tx = kanal::AsyncSender<u64>;
    type Rx = kanal::AsyncReceiver<u64>;
    fn new(_: Strategy) -> (Self::Tx, Vec<Self::Rx>) {
        let (tx, rx) = kanal::bounded_async(CAPACITY);
        (tx, vec![rx; CONSUMERS])
    }
    async fn publish(tx: &Self::Tx, v: u64) {
        tx.send(v).await.unwrap();
    }
    type Item = u64;
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
}

/// Spins for about `units` arithmetic steps: the consumer's "work".
fn work(units: u32) {
    let mut x = 1u64;
    for i in 0..units {
        x = black_box(
            x.wrapping_mul(6364136223846793005)
                .wrapping_add(u64::from(i)),
        );
    }
    black_box(x);
}

/// One run: elapsed time and messages per consumer.
fn run<Q: Queue>(
    messages: u64,
    strategy: Strategy,
    work_units: [u32; CONSUMERS],
) -> (Duration, Vec<u64>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, rxs) = Q::new(strategy);
        let start = Instant::now();
        let consumers: Vec<_> = rxs
            .into_iter()
            .zip(work_units)
            .map(|(mut rx, units)| {
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while let Some(item) = Q::recv(&mut rx).await {
                        work(units);
                        Q::done(item);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let producer = tokio::spawn(async move {
            for v in 0..messages {
                Q::publish(&tx, v).await;
            }
        });
        producer.await.unwrap();
        let mut counts = Vec::new();
        for c in consumers {
            counts.push(c.await.unwrap());
        }
        assert_eq!(counts.iter().sum::<u64>(), messages);
        (start.elapsed(), counts)
    })
}

fn best_of_3<Q: Queue>(
    messages: u64,
    strategy: Strategy,
    units: [u32; CONSUMERS],
) -> (f64, Vec<u64>) {
    let mut best: Option<(f64, Vec<u64>)> = None;
    for _ in 0..3 {
        let (t, counts) = run::<Q>(messages, strategy, units);
        let ns = t.as_nanos() as f64 / messages as f64;
        if best.as_ref().is_none_or(|(b, _)| ns < *b) {
            best = Some((ns, counts));
        }
    }
    best.unwrap()
}

fn jain(counts: &[u64]) -> f64 {
    let sum: f64 = counts.iter().map(|&c| c as f64).sum();
    let squares: f64 = counts.iter().map(|&c| (c as f64).powi(2)).sum();
    sum * sum / (counts.len() as f64 * squares)
}

fn main() {
    let messages: u64 = std::env::var("DISPATCH_BENCH_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    println!("1 producer, {CONSUMERS} consumers, {messages} messages, tokio 2 workers, best of 3");
    println!("\nequal consumers (no work):");
    println!(
        "  {:<26} {:>9} {:>9} {:>8}",
        "queue", "ns/msg", "vs a-c", "Jain"
    );
    let equal = [0; CONSUMERS];
    let (base, counts) = best_of_3::<AsyncChannel>(messages, Strategy::RoundRobin, equal);
    let row = |name: &str, ns: f64, counts: &[u64]| {
        println!(
            "  {name:<26} {ns:>9.1} {:>8.2}x {:>8.4}",
            ns / base,
            jain(counts)
        );
    };
    row("async-channel", base, &counts);
    let (ns, counts) = best_of_3::<Flume>(messages, Strategy::RoundRobin, equal);
    row("flume", ns, &counts);
    let (ns, counts) = best_of_3::<Kanal>(messages, Strategy::RoundRobin, equal);
    row("kanal", ns, &counts);
    for strategy in [
        Strategy::RoundRobin,
        Strategy::LeastLoaded,
        Strategy::Adaptive,
    ] {
        let (ns, counts) = best_of_3::<Flowgate>(messages, strategy, equal);
        row(&format!("flowgate {strategy:?}"), ns, &counts);
    }

    let slow_messages = messages / 4;
    println!("\nconsumer 0 does 4x the work (ideal share 7.7%), {slow_messages} messages:");
    println!("  {:<26} {:>9} {:>12}", "queue", "ns/msg", "slow share");
    let slow = [2_000, 500, 500, 500];
    let share = |counts: &[u64]| 100.0 * counts[0] as f64 / counts.iter().sum::<u64>() as f64;
    let (ns, counts) = best_of_3::<AsyncChannel>(slow_messages, Strategy::RoundRobin, slow);
    println!(
        "  {:<26} {ns:>9.1} {:>11.1}%",
        "async-channel",
        share(&counts)
    );
    let (ns, counts) = best_of_3::<Flume>(slow_messages, Strategy::RoundRobin, slow);
    println!("  {:<26} {ns:>9.1} {:>11.1}%", "flume", share(&counts));
    let (ns, counts) = best_of_3::<Kanal>(slow_messages, Strategy::RoundRobin, slow);
    println!("  {:<26} {ns:>9.1} {:>11.1}%", "kanal", share(&counts));
    for strategy in [
        Strategy::RoundRobin,
        Strategy::LeastLoaded,
        Strategy::Adaptive,
    ] {
        let (ns, counts) = best_of_3::<Flowgate>(slow_messages, strategy, slow);
        println!(
            "  {:<26} {ns:>9.1} {:>11.1}%",
            format!("flowgate {strategy:?}"),
            share(&counts)
        );
    }
}
