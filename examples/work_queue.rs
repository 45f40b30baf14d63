//! The main job: a work queue with fair dispatch.
//!
//! A producer publishes jobs at a steady pace; three workers with prefetch 1
//! and different speeds (1, 2 and 6 ms per job) ack them; now and then a
//! job fails and is nacked for another try. Run once with round robin and
//! once with the adaptive strategy, which learns each worker's latency and
//! sends the slow one less.
//!
//! ```text
//! cargo run --release --example work_queue
//! ```
//!
//! No runtime: plain threads and `futures::executor::block_on`.

use flowgate::dispatch::{Dispatcher, Requeue, Strategy, Subscription};
use futures::executor::block_on;
use std::thread;
use std::time::{Duration, Instant};

const JOBS: u64 = 1_200;
const PACE: Duration = Duration::from_micros(900);
const SPEEDS_MS: [u64; 3] = [1, 2, 6];

struct Job {
    id: u64,
    published: Instant,
}

#[derive(Default)]
struct Report {
    messages: u64,
    in_flight: Duration,
    redeliveries: u64,
}

fn run(strategy: Strategy) {
    let queue = Dispatcher::<Job>::builder()
        .capacity(256)
        .strategy(strategy)
        .build();
    let workers: Vec<_> = SPEEDS_MS
        .iter()
        .map(|&ms| {
            let mut consumer = queue.subscribe(Subscription::prefetch(1));
            thread::spawn(move || {
                let mut report = Report::default();
                block_on(async {
                    while let Some(job) = consumer.recv().await {
                        thread::sleep(Duration::from_millis(ms));
                        if job.redelivered() {
                            report.redeliveries += 1;
                        }
                        // One job in 50 fails on its first try.
                        if job.id % 50 == 7 && !job.redelivered() {
                            job.nack(Requeue::Yes);
                            continue;
                        }
                        report.messages += 1;
                        report.in_flight += job.published.elapsed();
                        job.ack();
                    }
                });
                report
            })
        })
        .collect();
    let publisher = queue.publisher();
    drop(queue);
    let start = Instant::now();
    block_on(async {
        for id in 0..JOBS {
            let job = Job {
                id,
                published: Instant::now(),
            };
            if publisher.publish(job).await.is_err() {
                unreachable!("the queue stays open while we publish");
            }
            thread::sleep(PACE);
        }
    });
    drop(publisher); // closes: the workers drain what is left and stop
    let reports: Vec<Report> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let elapsed = start.elapsed();
    let total: u64 = reports.iter().map(|r| r.messages).sum();
    println!("{strategy:?}");
    println!("  worker  speed   messages  share   mean time in flight  redeliveries");
    for (i, (r, ms)) in reports.iter().zip(SPEEDS_MS).enumerate() {
        let mean = r.in_flight / u32::try_from(r.messages.max(1)).unwrap_or(u32::MAX);
        println!(
            "  {i}       {ms} ms   {:>8}  {:>5.1}%  {:>16.2} ms  {:>12}",
            r.messages,
            100.0 * r.messages as f64 / total as f64,
            mean.as_secs_f64() * 1e3,
            r.redeliveries
        );
    }
    println!(
        "  {total} jobs in {:.2} s: {:.0} jobs/s\n",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
}

fn main() {
    run(Strategy::RoundRobin);
    run(Strategy::Adaptive);
}
