//! The work queue over RabbitMQ: a producer publishes jobs with publisher
//! confirms as credit; one process consumes the queue through a
//! `ConsumerBridge` (basic.qos = 3) and shares it among three local workers
//! with prefetch 1 and different speeds, first round robin, then weighted
//! 3:2:1.
//!
//! ```text
//! export AMQP_URL=$(scripts/broker start)   # or any broker; default amqp://127.0.0.1:5672
//! cargo run --release --example rabbitmq --features amqp,tokio
//! scripts/broker stop
//! ```

use flowgate::amqp::{ConsumerBridge, Publisher};
use flowgate::dispatch::{Strategy, Subscription};
use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use std::time::{Duration, Instant};

const JOBS: usize = 300;
const SPEEDS_MS: [u64; 3] = [1, 2, 4];
const WEIGHTS: [u32; 3] = [3, 2, 1];

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn run(conn: &Connection, strategy: Strategy) -> Result<(), Error> {
    let queue = format!("flowgate-example-{strategy:?}").to_lowercase();
    let admin = conn.create_channel().await?;
    admin
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await?;

    // The consuming side: one bridge, three local workers.
    let channel = conn.create_channel().await?;
    let bridge = ConsumerBridge::builder(&channel, &queue)
        .credit(3)
        .strategy(strategy)
        .start()
        .await?;
    let mut workers = Vec::new();
    for (ms, weight) in SPEEDS_MS.into_iter().zip(WEIGHTS) {
        let mut worker = bridge.subscribe(Subscription::prefetch(1).weight(weight));
        workers.push(tokio::spawn(async move {
            let mut done = 0usize;
            while let Some(job) = worker.recv().await {
                tokio::time::sleep(Duration::from_millis(ms)).await; // the work
                job.ack(); // basic.ack on the broker
                done += 1;
            }
            done
        }));
    }
    let driver = tokio::spawn(bridge.run());

    // The producing side: at most 16 publishes await their confirm.
    let publisher = Publisher::builder(&conn.create_channel().await?)
        .max_unconfirmed(16)
        .build()
        .await?;
    let start = Instant::now();
    let mut producers = Vec::new();
    for p in 0..4 {
        let (publisher, queue) = (publisher.clone(), queue.clone());
        producers.push(tokio::spawn(async move {
            for id in (p..JOBS).step_by(4) {
                let body = format!("job {id}").into_bytes();
                publisher
                    .publish(&queue, body, BasicProperties::default())
                    .await?;
            }
            Ok::<_, flowgate::amqp::PublishError>(())
        }));
    }
    for producer in producers {
        producer.await??;
    }

    // Wait for the workers to ack every job, then shut the bridge down.
    while bridge.stats().acked < JOBS as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bridge.close();
    let mut done = Vec::new();
    for worker in workers {
        done.push(worker.await?);
    }
    driver.await??;
    let elapsed = start.elapsed();

    println!("{strategy:?} (basic.qos 3, prefetch 1 per worker)");
    println!("  worker  speed  weight  messages  share");
    for (i, n) in done.iter().enumerate() {
        println!(
            "  {i}       {} ms   {:>6}  {n:>8}  {:>5.1}%",
            SPEEDS_MS[i],
            WEIGHTS[i],
            100.0 * *n as f64 / JOBS as f64
        );
    }
    println!(
        "  {JOBS} jobs in {:.2} s: {:.0} jobs/s\n",
        elapsed.as_secs_f64(),
        JOBS as f64 / elapsed.as_secs_f64()
    );
    admin
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let url = std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://127.0.0.1:5672".into());
    let conn = Connection::connect(&url, ConnectionProperties::default())
        .await
        .map_err(|err| {
            format!("cannot reach RabbitMQ at {url} ({err}); see the README's broker section")
        })?;
    run(&conn, Strategy::RoundRobin).await?;
    run(&conn, Strategy::Weighted).await?;
    Ok(())
}
