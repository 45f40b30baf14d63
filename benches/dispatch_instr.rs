//! The dispatcher's publish → recv → ack pipeline on one thread, for
//! instruction counts (callgrind, `perf stat -e instructions`), which load
//! on a shared machine does not disturb, unlike the wall clock of
//! `benches/dispatch.rs`.
//!
//! 1 publisher, 4 consumers with prefetch 32, capacity 1024: each round
//! publishes 32 messages, then every consumer takes and acks what it was
//! given. With `DISPATCH_INSTR_MODE=poll` (the default) consumers use
//! `poll_recv` with a waker and stay registered when empty, as parked tasks
//! do, so publishes hand their waker back; with `=try` they use `try_recv`.
//! async-channel does the same as a competing-consumer queue (`recv` by
//! the consumer in turn, no acks).
//!
//! `DISPATCH_INSTR=<row>` picks one row (`async-channel`, `RoundRobin`,
//! `Weighted`, `LeastLoaded`, `Adaptive`), `DISPATCH_INSTR_MESSAGES=N` the
//! count (default 1M). The per-message cost is the difference of two runs
//! over the difference of their counts (setup cancels out):
//!
//! ```text
//! cargo bench -p flowgate-benches --bench dispatch_instr --no-run
//! for n in 100000 200000; do DISPATCH_INSTR=RoundRobin DISPATCH_INSTR_MESSAGES=$n \
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/dispatch_instr-* ; done
//! ```
//!
//! Run without a row, it times every row (ns/msg on one thread).

use flowgate::dispatch::{Consumer, Dispatcher, Strategy, Subscription};
use std::hint::black_box;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

const CONSUMERS: usize = 4;
const PREFETCH: usize = 32;
const CAPACITY: usize = 1024;
const BATCH: u64 = 32;

fn flowgate(strategy: Strategy, messages: u64, poll: bool) {
    let queue = Dispatcher::<u64>::builder()
        .capacity(CAPACITY)
        .strategy(strategy)
        .build();
    let mut consumers: Vec<Consumer<u64>> = (0..CONSUMERS)
        .map(|_| queue.subscribe(Subscription::prefetch(PREFETCH)))
        .collect();
    let publisher = queue.publisher();
    let mut cx = Context::from_waker(Waker::noop());
    let mut take = |c: &mut Consumer<u64>| {
        if poll {
            match c.poll_recv(&mut cx) {
                Poll::Ready(d) => d,
                Poll::Pending => None,
            }
        } else {
            c.try_recv().ok()
        }
    };
    let mut sum = 0u64;
    let mut n = 0;
    while n < messages {
        for _ in 0..BATCH {
            publisher.try_publish(n).unwrap();
            n += 1;
        }
        for c in &mut consumers {
            while let Some(d) = take(c) {
                sum += *d;
                d.ack();
            }
        }
    }
    black_box(sum);
    assert_eq!(queue.stats().acked, n);
}

fn async_channel(messages: u64) {
    let (tx, rx) = async_channel::bounded::<u64>(CAPACITY);
    let consumers = vec![rx; CONSUMERS];
    let mut sum = 0u64;
    let mut n = 0;
    while n < messages {
        for _ in 0..BATCH {
            tx.try_send(n).unwrap();
            n += 1;
        }
        // In turn, as the dispatcher spreads them: 8 each.
        for c in &consumers {
            for _ in 0..BATCH as usize / CONSUMERS {
                sum += c.try_recv().unwrap();
            }
        }
    }
    black_box(sum);
}

fn run(row: &str, messages: u64, poll: bool) {
    match row {
        "async-channel" => async_channel(messages),
        "RoundRobin" => flowgate(Strategy::RoundRobin, messages, poll),
        "Weighted" => flowgate(Strategy::Weighted, messages, poll),
        "LeastLoaded" => flowgate(Strategy::LeastLoaded, messages, poll),
        "Adaptive" => flowgate(Strategy::Adaptive, messages, poll),
        _ => panic!("unknown row {row}"),
    }
}

fn main() {
    let messages: u64 = std::env::var("DISPATCH_INSTR_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let poll = std::env::var("DISPATCH_INSTR_MODE").map_or(true, |m| m != "try");
    if let Ok(row) = std::env::var("DISPATCH_INSTR") {
        run(&row, messages, poll);
        return;
    }
    for row in [
        "async-channel",
        "RoundRobin",
        "Weighted",
        "LeastLoaded",
        "Adaptive",
    ] {
        let start = Instant::now();
        run(row, messages, poll);
        let ns = start.elapsed().as_nanos() as f64 / messages as f64;
        println!("{row:<14} {ns:>7.1} ns/msg (one thread)");
    }
}
