//! End to end through RabbitMQ: messages per second consumed and acked
//! through a `ConsumerBridge` against a plain lapin consumer with the same
//! prefetch, on the same broker, side by side in one run.
//!
//! ```text
//! export AMQP_URL=$(scripts/broker start)
//! cargo bench -p flowgate-benches --features amqp --bench amqp
//! ```
//!
//! Each round pre-loads a fresh queue with `N` messages, then times
//! draining it. Target: the bridge ≥ 0.9× plain lapin.

use flowgate::amqp::ConsumerBridge;
use flowgate::dispatch::Subscription;
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use std::time::{Duration, Instant};

const N: usize = 20_000;
const PREFETCH: u16 = 64;
const ROUNDS: usize = 5;

async fn load(conn: &Connection, queue: &str) {
    let channel = conn.create_channel().await.unwrap();
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let body = [7u8; 64];
    let mut confirms = Vec::with_capacity(N);
    for _ in 0..N {
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default(),
            )
            .await
            .unwrap();
        confirms.push(confirm);
    }
    for confirm in confirms {
        assert!(confirm.await.unwrap().is_ack());
    }
}

async fn delete(channel: &Channel, queue: &str) {
    channel
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await
        .unwrap();
}

/// A plain lapin consumer of `queue` with the bridge's prefetch.
async fn consume(conn: &Connection, queue: &str) -> (Channel, lapin::Consumer) {
    let channel = conn.create_channel().await.unwrap();
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .unwrap();
    let consumer = channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    (channel, consumer)
}

/// The baseline: lapin's consumer stream, each delivery acked.
async fn plain(conn: &Connection, queue: &str) -> Duration {
    let start = Instant::now();
    let (channel, mut consumer) = consume(conn, queue).await;
    let mut got = 0;
    while let Some(delivery) = consumer.next().await {
        delivery
            .unwrap()
            .ack(BasicAckOptions::default())
            .await
            .unwrap();
        got += 1;
        if got == N {
            break;
        }
    }
    let elapsed = start.elapsed();
    delete(&channel, queue).await;
    elapsed
}

/// A stronger baseline: lapin's stream with acks pipelined (not awaited
/// one by one), as the bridge sends them.
async fn plain_pipelined(conn: &Connection, queue: &str) -> Duration {
    let start = Instant::now();
    let (channel, mut consumer) = consume(conn, queue).await;
    let mut acks = futures::stream::FuturesUnordered::new();
    let mut got = 0;
    while got < N {
        tokio::select! {
            Some(delivery) = consumer.next() => {
                let delivery = delivery.unwrap();
                acks.push(async move { delivery.ack(BasicAckOptions::default()).await });
                got += 1;
            }
            Some(acked) = acks.next(), if !acks.is_empty() => { acked.unwrap(); }
        }
    }
    while let Some(acked) = acks.next().await {
        acked.unwrap();
    }
    let elapsed = start.elapsed();
    delete(&channel, queue).await;
    elapsed
}

/// The bridge with `workers` local workers sharing the prefetch.
async fn bridged(conn: &Connection, queue: &str, workers: usize) -> Duration {
    let channel = conn.create_channel().await.unwrap();
    let start = Instant::now();
    let bridge = ConsumerBridge::builder(&channel, queue)
        .credit(usize::from(PREFETCH))
        .start()
        .await
        .unwrap();
    let per = usize::from(PREFETCH) / workers;
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let mut worker = bridge.subscribe(Subscription::prefetch(per));
            tokio::spawn(async move {
                while let Some(d) = worker.recv().await {
                    d.ack();
                }
            })
        })
        .collect();
    let driver = tokio::spawn(bridge.run());
    // Completion: the bridge's own counters say every message was acked.
    let acked = tokio::spawn({
        let bridge = bridge.clone();
        async move {
            while bridge.stats().acked < N as u64 {
                tokio::task::yield_now().await;
            }
            bridge.close();
        }
    });
    acked.await.unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    driver.await.unwrap().unwrap();
    let elapsed = start.elapsed();
    delete(&channel, queue).await;
    elapsed
}

fn rate(d: Duration) -> f64 {
    N as f64 / d.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let Ok(url) = std::env::var("AMQP_URL") else {
        println!("SKIPPED: set AMQP_URL (export AMQP_URL=$(scripts/broker start))");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conn = Connection::connect(&url, ConnectionProperties::default()).await.unwrap();
        let (mut base, mut piped, mut one, mut four) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let q = format!("flowgate-bench-{}-{round}", std::process::id());
            load(&conn, &format!("{q}-a")).await;
            base.push(rate(plain(&conn, &format!("{q}-a")).await));
            load(&conn, &format!("{q}-p")).await;
            piped.push(rate(plain_pipelined(&conn, &format!("{q}-p")).await));
            load(&conn, &format!("{q}-b")).await;
            one.push(rate(bridged(&conn, &format!("{q}-b"), 1).await));
            load(&conn, &format!("{q}-c")).await;
            four.push(rate(bridged(&conn, &format!("{q}-c"), 4).await));
        }
        let (base, piped, one, four) = (median(base), median(piped), median(one), median(four));
        println!("amqp end to end, {N} messages of 64 B, prefetch {PREFETCH}, median of {ROUNDS}");
        println!("  plain lapin consumer (ack each)     {base:>9.0} msg/s");
        println!("  plain lapin, acks pipelined         {piped:>9.0} msg/s");
        println!("  bridge, 1 worker                    {one:>9.0} msg/s   {:.2}x plain, {:.2}x pipelined (target >= 0.9x)", one / base, one / piped);
        println!("  bridge, 4 workers                   {four:>9.0} msg/s   {:.2}x plain, {:.2}x pipelined", four / base, four / piped);
    });
}
