//! Counts heap allocations (a counting global allocator, so this test has
//! its own binary): in steady state, publish → recv → ack allocates nothing
//! per message, for each strategy, with the publish future waiting on a
//! full backlog, and with deliveries dropped (requeued) now and then.

mod support;

use flowgate::dispatch::{Dispatcher, Subscription};
use futures::FutureExt;
use support::alloc::allocations;

#[global_allocator]
static GLOBAL: support::alloc::Counting = support::alloc::Counting;

/// Publishes `rounds` batches of 4 × 32 messages into 4 consumers with
/// prefetch 32 and receives and acks them; every 7th delivery is dropped
/// unacked instead (requeued, received again).
fn cycle(
    queue: &Dispatcher<u64>,
    consumers: &mut [flowgate::dispatch::Consumer<u64>],
    rounds: u64,
) {
    let publisher = queue.publisher();
    let mut n = 0u64;
    for _ in 0..rounds {
        for _ in 0..4 * 32 + 8 {
            // 8 more than the consumers take: the backlog holds them.
            match publisher.publish(n).now_or_never() {
                Some(result) => result.unwrap(),
                None => break,
            }
            n += 1;
        }
        for c in consumers.iter_mut() {
            while let Some(Some(d)) = c.recv().now_or_never() {
                if *d % 7 == 0 && !d.redelivered() {
                    drop(d);
                } else {
                    d.ack();
                }
            }
        }
    }
}

#[test]
fn steady_state_publish_recv_ack_allocates_nothing() {
    for strategy in support::STRATEGIES {
        let queue = Dispatcher::<u64>::builder()
            .capacity(64)
            .strategy(strategy)
            .build();
        let mut consumers: Vec<_> = (0..4)
            .map(|_| queue.subscribe(Subscription::prefetch(32)))
            .collect();
        // Warm up, including one publisher queued on a full backlog.
        let p = queue.publisher();
        while let Some(result) = p.publish(1).now_or_never() {
            result.unwrap();
        }
        drop(p);
        cycle(&queue, &mut consumers, 200);
        let before = allocations();
        cycle(&queue, &mut consumers, 2_000);
        let after = allocations();
        // `cycle` clones one publisher (an Arc clone, not an allocation).
        assert_eq!(after - before, 0, "{strategy:?}");
        assert!(queue.stats().acked > 2_000 * 4 * 32 / 2, "{strategy:?}");
    }
}

#[test]
fn publish_polled_and_dropped_repeatedly_does_not_grow() {
    let queue = Dispatcher::<u64>::builder().capacity(1).build();
    let publisher = queue.publisher();
    publisher.try_publish(0).unwrap();
    for _ in 0..100 {
        assert!(publisher.publish(1).now_or_never().is_none());
    }
    let before = allocations();
    for _ in 0..100_000 {
        assert!(publisher.publish(1).now_or_never().is_none());
    }
    assert_eq!(allocations() - before, 0);
}
