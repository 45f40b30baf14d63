//! Chaos: 4 publisher threads × 25k messages, 4 consumer threads that ack,
//! nack and drop at random (seeded), one consumer dropped midway while it
//! still holds a delivery. Nothing lost, nothing acked twice, every
//! duplicate flagged as a redelivery.

use flowgate::dispatch::{Dispatcher, Requeue, Strategy, Subscription};
use futures::executor::block_on;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

const PUBLISHERS: u64 = 4;
const PER_PUBLISHER: u64 = 25_000;
const TOTAL: usize = (PUBLISHERS * PER_PUBLISHER) as usize;

/// xorshift64*: a tiny seeded PRNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// A message that counts its drops: a message dropped twice, or never,
/// shows in the count.
struct Job {
    id: u64,
    drops: Arc<AtomicUsize>,
}

impl Drop for Job {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct Seen {
    /// (id, redelivered) of every delivery received.
    received: Vec<(u64, bool)>,
}

fn run(strategy: Strategy) {
    let drops = Arc::new(AtomicUsize::new(0));
    let queue = Dispatcher::<Job>::builder()
        .capacity(64)
        .strategy(strategy)
        .build();
    let midway = Arc::new(Barrier::new(2));
    let consumers: Vec<_> = (0..4u64)
        .map(|i| {
            let mut consumer =
                queue.subscribe(Subscription::prefetch(1 + i as usize * 3).weight(1 + i as u32));
            let midway = Arc::clone(&midway);
            std::thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i + 1));
                let mut seen = Seen::default();
                block_on(async {
                    while let Some(d) = consumer.recv().await {
                        seen.received.push((d.id, d.redelivered()));
                        if i == 3 && seen.received.len() == 2_000 {
                            // Drop the consumer while holding a delivery: it
                            // is requeued, and this stale ack does nothing.
                            drop(consumer);
                            midway.wait();
                            d.ack();
                            return;
                        }
                        match rng.next() % 10 {
                            0 => d.nack(Requeue::Yes),
                            1 => drop(d),
                            _ => d.ack(),
                        }
                    }
                });
                seen
            })
        })
        .collect();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|t| {
            let p = queue.publisher();
            let drops = Arc::clone(&drops);
            std::thread::spawn(move || {
                block_on(async {
                    for n in 0..PER_PUBLISHER {
                        let job = Job {
                            id: t * PER_PUBLISHER + n,
                            drops: Arc::clone(&drops),
                        };
                        if p.publish(job).await.is_err() {
                            panic!("closed while publishing");
                        }
                    }
                })
            })
        })
        .collect();
    midway.wait();
    for p in publishers {
        p.join().unwrap();
    }
    drop(queue); // last handle: closes; consumers drain and end
    let mut first_deliveries = vec![0u32; TOTAL];
    let mut receipts = 0;
    for c in consumers {
        for (id, redelivered) in c.join().unwrap().received {
            receipts += 1;
            if !redelivered {
                first_deliveries[id as usize] += 1;
            }
        }
    }
    // Every message was delivered unflagged exactly once: every duplicate
    // was flagged.
    assert!(first_deliveries.iter().all(|&n| n == 1));
    assert!(receipts >= TOTAL);
    // Every message was dropped exactly once: none lost, none duplicated.
    assert_eq!(drops.load(Ordering::Relaxed), TOTAL);
}

fn final_stats_check(strategy: Strategy) {
    // Same run, checking the final counters through a consumer kept alive.
    let queue = Dispatcher::<u64>::builder()
        .capacity(16)
        .strategy(strategy)
        .build();
    let workers: Vec<_> = (0..3u64)
        .map(|i| {
            let mut c = queue.subscribe(Subscription::prefetch(2));
            std::thread::spawn(move || {
                let mut rng = Rng(i + 7);
                block_on(async {
                    while let Some(d) = c.recv().await {
                        match rng.next() % 8 {
                            0 => d.nack(Requeue::Yes),
                            1 => drop(d),
                            _ => d.ack(),
                        }
                    }
                })
            })
        })
        .collect();
    let p = queue.publisher();
    block_on(async {
        for n in 0..20_000 {
            p.publish(n).await.unwrap();
        }
    });
    drop(p);
    let stats_queue = queue;
    // Still open (one handle): wait for the work to be done.
    loop {
        let s = stats_queue.stats();
        if s.acked == 20_000 {
            assert_eq!((s.backlog, s.in_flight, s.dropped), (0, 0, 0));
            assert_eq!(s.published, 20_000);
            assert_eq!(s.delivered, s.acked + s.nacked);
            break;
        }
        std::thread::yield_now();
    }
    drop(stats_queue);
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn chaos_round_robin() {
    run(Strategy::RoundRobin);
}

#[test]
fn chaos_least_loaded() {
    run(Strategy::LeastLoaded);
}

#[test]
fn chaos_weighted() {
    run(Strategy::Weighted);
}

#[test]
fn counters_add_up_after_chaos() {
    final_stats_check(Strategy::Adaptive);
}
