//! Weighted dispatch: three consumers with weights 3, 2 and 1 get exactly
//! 3/6, 2/6 and 1/6 of the messages, interleaved (smooth weighted
//! round-robin), and a weight changed at run time takes effect at once.
//!
//! ```text
//! cargo run --example weighted
//! ```

use flowgate::dispatch::{Dispatcher, Strategy, Subscription};

fn main() {
    let queue = Dispatcher::<u32>::builder()
        .capacity(1024)
        .strategy(Strategy::Weighted)
        .build();
    let mut consumers: Vec<_> = [3, 2, 1]
        .into_iter()
        .map(|w| queue.subscribe(Subscription::prefetch(1024).weight(w)))
        .collect();
    let publisher = queue.publisher();
    let mut next = 0;
    let mut publish = |n: u32| {
        for _ in 0..n {
            publisher.try_publish(next).unwrap();
            next += 1;
        }
    };

    publish(12);
    println!("the first 12 messages (weights 3:2:1):");
    for (i, c) in consumers.iter_mut().enumerate() {
        let got: Vec<u32> =
            std::iter::from_fn(|| c.try_recv().ok().and_then(|d| d.ack_take())).collect();
        println!("  consumer {i}: {got:?}");
    }

    publish(600);
    let before: Vec<u64> = queue
        .stats()
        .consumers
        .iter()
        .map(|c| c.delivered)
        .collect();
    consumers[2].set_weight(3);
    publish(800);
    let after: Vec<u64> = queue
        .stats()
        .consumers
        .iter()
        .map(|c| c.delivered)
        .collect();
    println!("\nper consumer: weights 3:2:1, then 3:2:3");
    for i in 0..3 {
        println!(
            "  consumer {i}: {:>4} then {:>4}",
            before[i]
                - if i == 0 {
                    6
                } else if i == 1 {
                    4
                } else {
                    2
                },
            after[i] - before[i]
        );
    }
}
