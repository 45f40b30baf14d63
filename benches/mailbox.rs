//! The mailbox side by side with tokio `mpsc`, `async-channel`, `flume` and
//! `kanal`, in one run: SPSC at capacity 1024, MPSC 4 producers, SPSC at
//! capacity 1 (every message a hand-off), each on a tokio multi-thread
//! runtime with 2 workers and on one OS thread per side with
//! `futures::executor::block_on`. Prints ns/msg and the ratios against
//! kanal and tokio (lower is better; targets: <= 1.0x kanal, <= 0.5x tokio).
//!
//! The capacity-1 case also prints a "1-slot floor": not a channel, but the
//! least any capacity-1 mailbox can cost when a cancelled send must drop
//! its message (see `Floor`).
//!
//! On the tokio runtime the MPSC row is bimodal from run to run (flowgate
//! about 10 ns/msg or 20-35). A probe of where each task ran showed why:
//! when tokio runs every task on one worker there is no cross-core traffic
//! and the ring rarely fills; when it puts the producers on one worker and
//! the receiver on the other, the receiver is slower than four producers,
//! the ring runs full and senders queue. That is tokio's task placement,
//! which a channel does not choose; kanal lands on one worker nearly
//! always. The SPSC row swings less (about 10-22 ns).
//!
//! `cargo bench -p flowgate-benches --bench mailbox` (set
//! `MAILBOX_BENCH_SCALE=0.1` for a quicker, noisier run;
//! `MAILBOX_BENCH_ONLY=MPSC` for the scenarios whose name starts with that;
//! `MAILBOX_BENCH_FLOWGATE_ONLY=1` for flowgate alone, `=rt` or `=threads`
//! for one side of it). Best of 3 runs per cell.

use futures::task::AtomicWaker;
use std::future::{Future, poll_fn};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::task::Poll;
use std::time::{Duration, Instant};

trait Chan: 'static {
    const NAME: &'static str;
    type Tx: Clone + Send + 'static;
    type Rx: Send + 'static;
    fn new(capacity: usize) -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send + '_;
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = u64> + Send + '_;
}

struct Flowgate;
impl Chan for Flowgate {
    const NAME: &'static str = "flowgate";
    type Tx = flowgate::mailbox::Sender<u64>;
    type Rx = flowgate::mailbox::Receiver<u64>;
    fn new(capacity: usize) -> (Self::Tx, Self::Rx) {
        flowgate::mailbox::bounded(capacity)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).await.unwrap();
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.unwrap()
    }
}

struct TokioMpsc;
impl Chan for TokioMpsc {
    const NAME: &'static str = "tokio mpsc";
    type Tx = tokio::sync::mpsc::Sender<u64>;
    type Rx = tokio::sync::mpsc::Receiver<u64>;
    fn new(capacity: usize) -> (Self::Tx, Self::Rx) {
        tokio::sync::mpsc::channel(capacity)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).await.unwrap();
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.unwrap()
    }
}

struct AsyncChannel;
impl Chan for AsyncChannel {
    const NAME: &'static str = "async-channel";
    type Tx = async_channel::Sender<u64>;
    type Rx = async_channel::Receiver<u64>;
    fn new(capacity: usize) -> (Self::Tx, Self::Rx) {
        async_channel::bounded(capacity)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).await.unwrap();
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.unwrap()
    }
}

struct Flume;
impl Chan for Flume {
    const NAME: &'static str = "flume";
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;
    fn new(capacity: usize) -> (Self::Tx, Self::Rx) {
        flume::bounded(capacity)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send_async(v).await.unwrap();
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv_async().await.unwrap()
    }
}

struct Kanal;
impl Chan for Kanal {
    const NAME: &'static str = "kanal";
    type Tx = kanal::AsyncSender<u64>;
    type Rx = kanal::AsyncReceiver<u64>;
    fn new(capacity: usize) -> (Self::Tx, Self::Rx) {
        kanal::bounded_async(capacity)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).await.unwrap();
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.unwrap()
    }
}

/// Not a channel but a reference: the least a capacity-1 hand-over can
/// cost when a send keeps its message until the mailbox has room for it,
/// as the contract's "`send` drops its message with the future" requires.
/// One slot and an `AtomicWaker` per side, nothing else: every message
/// costs one run of the producer and one of the consumer. kanal beats it
/// at capacity 1 by moving a waiting send's message out of its future (a
/// cancelled send may then have delivered), so several messages pass per
/// run. flowgate's distance to this row is its own cost (the queue of
/// waiting senders); its distance to kanal below this row is the
/// contract's. One producer only.
struct Floor;

/// [`Floor`]'s slot: `0` when empty, else the message plus one.
struct OneSlot {
    value: AtomicU64,
    filled: AtomicWaker,
    emptied: AtomicWaker,
}

impl Chan for Floor {
    const NAME: &'static str = "1-slot floor";
    type Tx = Arc<OneSlot>;
    type Rx = Arc<OneSlot>;
    fn new(capacity: usize) -> (Self::Tx, Self::Rx) {
        assert_eq!(capacity, 1, "the floor is a capacity-1 reference");
        let slot = Arc::new(OneSlot {
            value: AtomicU64::new(0),
            filled: AtomicWaker::new(),
            emptied: AtomicWaker::new(),
        });
        (slot.clone(), slot)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        // Register, then look again: the register and the other side's
        // wake are read-modify-writes of one word, so one sees the other.
        poll_fn(|cx| {
            if tx.value.load(Acquire) != 0 {
                tx.emptied.register(cx.waker());
                if tx.value.load(Acquire) != 0 {
                    return Poll::Pending;
                }
            }
            tx.value.store(v + 1, Release);
            tx.filled.wake();
            Poll::Ready(())
        })
        .await
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        poll_fn(|cx| {
            let mut v = rx.value.load(Acquire);
            if v == 0 {
                rx.filled.register(cx.waker());
                v = rx.value.load(Acquire);
                if v == 0 {
                    return Poll::Pending;
                }
            }
            rx.value.store(0, Release);
            rx.emptied.wake();
            Poll::Ready(v - 1)
        })
        .await
    }
}

#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    capacity: usize,
    producers: u64,
    per_producer: u64,
}

impl Scenario {
    fn total(&self) -> u64 {
        self.producers * self.per_producer
    }
}

async fn produce<C: Chan>(tx: C::Tx, n: u64) {
    for i in 0..n {
        C::send(&tx, i).await;
    }
}

async fn consume<C: Chan>(mut rx: C::Rx, total: u64) -> u64 {
    let mut sum = 0u64;
    for _ in 0..total {
        sum = sum.wrapping_add(C::recv(&mut rx).await);
    }
    sum
}

fn on_tokio<C: Chan>(rt: &tokio::runtime::Runtime, s: Scenario) -> Duration {
    rt.block_on(async {
        let (tx, rx) = C::new(s.capacity);
        let start = Instant::now();
        let consumer = tokio::spawn(consume::<C>(rx, s.total()));
        let producers: Vec<_> = (0..s.producers)
            .map(|_| tokio::spawn(produce::<C>(tx.clone(), s.per_producer)))
            .collect();
        drop(tx);
        for p in producers {
            p.await.unwrap();
        }
        std::hint::black_box(consumer.await.unwrap());
        start.elapsed()
    })
}

fn on_threads<C: Chan>(s: Scenario) -> Duration {
    use futures::executor::block_on;
    let (tx, rx) = C::new(s.capacity);
    let start = Instant::now();
    let consumer = std::thread::spawn(move || block_on(consume::<C>(rx, s.total())));
    let producers: Vec<_> = (0..s.producers)
        .map(|_| {
            let tx = tx.clone();
            std::thread::spawn(move || block_on(produce::<C>(tx, s.per_producer)))
        })
        .collect();
    drop(tx);
    for p in producers {
        p.join().unwrap();
    }
    std::hint::black_box(consumer.join().unwrap());
    start.elapsed()
}

fn best_ns_per_msg(s: Scenario, mut run: impl FnMut() -> Duration) -> f64 {
    (0..3)
        .map(|_| run().as_nanos() as f64 / s.total() as f64)
        .fold(f64::INFINITY, f64::min)
}

fn row<C: Chan>(rt: &tokio::runtime::Runtime, s: Scenario) -> (&'static str, f64, f64) {
    (
        C::NAME,
        best_ns_per_msg(s, || on_tokio::<C>(rt, s)),
        best_ns_per_msg(s, || on_threads::<C>(s)),
    )
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too,
    // so keep that quick.
    let quick = std::env::args().all(|a| a != "--bench");
    let scale: f64 = std::env::var("MAILBOX_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 0.001 } else { 1.0 });
    let n = |full: u64| ((full as f64 * scale) as u64).max(10);
    let scenarios = [
        Scenario {
            name: "SPSC cap 1024",
            capacity: 1024,
            producers: 1,
            per_producer: n(1_000_000),
        },
        Scenario {
            name: "MPSC 4 producers, cap 1024",
            capacity: 1024,
            producers: 4,
            per_producer: n(250_000),
        },
        Scenario {
            name: "SPSC cap 1 (hand-off)",
            capacity: 1,
            producers: 1,
            per_producer: n(200_000),
        },
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    // `MAILBOX_BENCH_ONLY=SPSC cap 1024` runs only the scenarios whose name
    // starts with it.
    let only = std::env::var("MAILBOX_BENCH_ONLY").unwrap_or_default();
    // `MAILBOX_BENCH_FLOWGATE_ONLY=1` measures flowgate alone (no peers, no
    // ratios): for profiling and quick before/after checks.
    let alone = std::env::var_os("MAILBOX_BENCH_FLOWGATE_ONLY").is_some();
    for s in scenarios.into_iter().filter(|s| s.name.starts_with(&only)) {
        if alone {
            // `=rt` or `=threads` runs only that side.
            let side = std::env::var("MAILBOX_BENCH_FLOWGATE_ONLY").unwrap_or_default();
            let rt_ns = if side == "threads" {
                f64::NAN
            } else {
                best_ns_per_msg(s, || on_tokio::<Flowgate>(&rt, s))
            };
            let th_ns = if side == "rt" {
                f64::NAN
            } else {
                best_ns_per_msg(s, || on_threads::<Flowgate>(s))
            };
            println!("{}: flowgate {rt_ns:.1} ns | {th_ns:.1} ns", s.name);
            continue;
        }
        println!(
            "\n{} ({} msgs): ns/msg [tokio rt 2 workers | OS threads + block_on]",
            s.name,
            s.total()
        );
        let rows = [
            row::<Flowgate>(&rt, s),
            row::<Kanal>(&rt, s),
            row::<TokioMpsc>(&rt, s),
            row::<AsyncChannel>(&rt, s),
            row::<Flume>(&rt, s),
        ];
        let (kanal, tokio) = (rows[1], rows[2]);
        // The floor is one slot, one producer: only the capacity-1 case.
        let floor = (s.capacity == 1 && s.producers == 1).then(|| row::<Floor>(&rt, s));
        for (name, rt_ns, th_ns) in rows.into_iter().chain(floor) {
            println!(
                "  {name:<14} {rt_ns:>8.1} ns  (x{:.2} kanal, x{:.2} tokio) | {th_ns:>8.1} ns  (x{:.2} kanal, x{:.2} tokio)",
                rt_ns / kanal.1,
                rt_ns / tokio.1,
                th_ns / kanal.2,
                th_ns / tokio.2,
            );
        }
    }
}
