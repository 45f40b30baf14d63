//! Fanout: with `Strategy::Broadcast` every consumer gets every message,
//! each within its own prefetch. The slowest consumer's credit
//! back-pressures the publisher, and a consumer that subscribes late gets
//! only later messages.
//!
//! ```text
//! cargo run --example fanout
//! ```

use flowgate::dispatch::{Dispatcher, Strategy, Subscription};
use futures::executor::block_on;
use std::thread;
use std::time::Duration;

fn main() {
    let queue = Dispatcher::<String>::builder()
        .capacity(4)
        .strategy(Strategy::Broadcast)
        .build();
    let spawn = |name: &'static str, prefetch: usize, pause: Duration| {
        let mut consumer = queue.subscribe(Subscription::prefetch(prefetch));
        thread::spawn(move || {
            block_on(async {
                let mut seen = Vec::new();
                while let Some(event) = consumer.recv().await {
                    thread::sleep(pause);
                    seen.push(event.split(' ').nth(1).unwrap_or("").to_owned());
                    event.ack();
                }
                println!("{name:>8} got {} events: {}", seen.len(), seen.join(" "));
            })
        })
    };
    let mut threads = vec![
        spawn("logger", 16, Duration::ZERO),
        spawn("metrics", 16, Duration::ZERO),
        spawn("auditor", 1, Duration::from_millis(2)), // the slowest sets the pace
    ];
    let publisher = queue.publisher();
    block_on(async {
        for n in 0..10 {
            publisher.publish(format!("event {n}")).await.unwrap();
        }
    });
    // Subscribes late: only events 10.. reach it.
    threads.push(spawn("late", 16, Duration::ZERO));
    block_on(async {
        for n in 10..15 {
            publisher.publish(format!("event {n}")).await.unwrap();
        }
    });
    drop(publisher);
    queue.close(); // consumers drain, then stop
    for t in threads {
        t.join().unwrap();
    }
    let stats = queue.stats();
    println!(
        "published {}, delivered {} copies, acked {}",
        stats.published, stats.delivered, stats.acked
    );
}
