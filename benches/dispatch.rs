//! The dispatcher as a competing-consumer work queue, side by side with
//! `async-channel`, `flume` and `kanal` (which have no acks and no
//! prefetch): 1 producer, 4 consumers, on a tokio multi-thread runtime with
//! 2 workers. flowgate uses prefetch 32 and acks every message after its work.
//!
//! Prints ns/msg, the ratio against async-channel (target <= 1.0x), Jain's
//! fairness index over per-consumer counts (target >= 0.999), and, with
//! consumer 0 doing 4x the work of the others, its share of the messages
//! (ideal 1/13 = 7.7%; target <= 10% under LeastLoaded and Adaptive).
//! The work is CPU, and 4 consumers share 2 workers, so a consumer that is
//! not running has a full window: by its rule ("fewest unacked relative to
//! prefetch") LeastLoaded then serves whoever runs. Tokio alone would give
//! every task the same number of operations per turn, so the slow consumer
//! as many messages as the others; flowgate's `recv` spends the budget by
//! work time too ("Cooperative scheduling" in the dispatch module docs),
//! so turns last the same time and shares follow speed.
//!
//! `cargo bench -p flowgate-benches --bench dispatch`
//! (`DISPATCH_BENCH_MESSAGES=N` to change the message count from the 1M,
//! `DISPATCH_BENCH_ONLY=flowgate` to run only rows whose name contains it,
//! `DISPATCH_BENCH_SCENARIO=equal` or `=slow` to run only one scenario).
//! Best of 3 runs per cell. Each scenario publishes the same number of
//! messages to every queue; every one is received (and, by flowgate,
//! acked) exactly once, which each run asserts. Work is per message, the
//! same for every peer, and counts are per consumer over the whole run.

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

/// Whether the row named `name` runs (`DISPATCH_BENCH_ONLY` filter).
fn selected(name: &str) -> bool {
    std::env::var("DISPATCH_BENCH_ONLY").map_or(true, |only| name.contains(&only))
}

/// One scenario: every queue and flowgate strategy on the same `messages`
/// with the same per-consumer work; prints ns/msg, the ratio to
/// async-channel, Jain's index and consumer 0's share.
fn scenario(messages: u64, units: [u32; CONSUMERS]) {
    println!(
        "  {:<24} {:>8} {:>7} {:>7} {:>7}  per consumer",
        "queue", "ns/msg", "vs a-c", "Jain", "share0"
    );
    let mut base = None;
    let mut row = |name: &str, (ns, counts): (f64, Vec<u64>)| {
        let base = *base.get_or_insert(ns);
        let share = 100.0 * counts[0] as f64 / counts.iter().sum::<u64>() as f64;
        println!(
            "  {name:<24} {ns:>8.1} {:>6.2}x {:>7.4} {share:>6.1}%  {counts:?}",
            ns / base,
            jain(&counts),
        );
    };
    // async-channel always runs: it is the baseline of the ratios.
    row(
        "async-channel",
        best_of_3::<AsyncChannel>(messages, Strategy::RoundRobin, units),
    );
    if selected("flume") {
        row(
            "flume",
            best_of_3::<Flume>(messages, Strategy::RoundRobin, units),
        );
    }
    if selected("kanal") {
        row(
            "kanal",
            best_of_3::<Kanal>(messages, Strategy::RoundRobin, units),
        );
    }
    for strategy in [
        Strategy::RoundRobin,
        Strategy::Weighted,
        Strategy::LeastLoaded,
        Strategy::Adaptive,
    ] {
        let name = format!("flowgate {strategy:?}");
        if selected(&name) {
            row(&name, best_of_3::<Flowgate>(messages, strategy, units));
        }
    }
}

fn main() {
    let messages: u64 = std::env::var("DISPATCH_BENCH_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    println!("1 producer, {CONSUMERS} consumers, prefetch {PREFETCH}, tokio 2 workers, best of 3");
    let only = std::env::var("DISPATCH_BENCH_SCENARIO").ok();
    if only.as_deref().is_none_or(|s| s == "equal") {
        println!(
            "\nequal consumers, no work, {messages} messages (targets: <= 1.0x, Jain >= 0.999):"
        );
        scenario(messages, [0; CONSUMERS]);
    }
    if only.as_deref().is_some_and(|s| s != "slow") {
        return;
    }
    let slow_messages = messages / 4;
    println!(
        "\nconsumer 0 does 4x the work of the others, {slow_messages} messages \
         (ideal share0 7.7%; target <= 10% under LeastLoaded and Adaptive):"
    );
    scenario(slow_messages, [2_000, 500, 500, 500]);
}
