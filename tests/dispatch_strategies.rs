//! Strategies: weighted proportions, least loaded, adaptive (manual clock,
//! deterministic consumer speeds), broadcast, priorities across strategies.

use flowgate::dispatch::{Consumer, Delivery, Dispatcher, Requeue, Strategy, Subscription};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

fn drain<T: Copy>(c: &mut Consumer<T>) -> Vec<T> {
    let mut out = Vec::new();
    while let Ok(d) = c.try_recv() {
        out.push(*d);
        d.ack();
    }
    out
}

fn delivered<T>(queue: &Dispatcher<T>) -> Vec<u64> {
    queue
        .stats()
        .consumers
        .iter()
        .map(|c| c.delivered)
        .collect()
}

/// Publishes `n` more messages and asserts how many each consumer got of
/// them: `want`, give or take 2.
fn assert_next_shares(queue: &Dispatcher<u32>, n: u32, want: &[u64]) {
    let before = delivered(queue);
    let p = queue.publisher();
    for m in 0..n {
        p.try_publish(m).unwrap();
    }
    let got: Vec<u64> = delivered(queue)
        .iter()
        .zip(&before)
        .map(|(after, before)| after - before)
        .collect();
    let close = got.iter().zip(want).all(|(g, w)| g.abs_diff(*w) <= 2);
    assert!(
        close && got.len() == want.len(),
        "got {got:?}, want {want:?}"
    );
}

/// A dispatcher timed by a manual clock in milliseconds, and that clock.
fn timed<T>(strategy: Strategy, capacity: usize) -> (Dispatcher<T>, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(0));
    let clock = Arc::clone(&now);
    let queue = Dispatcher::<T>::builder()
        .capacity(capacity)
        .strategy(strategy)
        .clock(move || Duration::from_millis(clock.load(Ordering::Relaxed)))
        .build();
    (queue, now)
}

#[test]
fn weighted_is_smooth_and_exact() {
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Weighted)
        .build();
    let mut a = queue.subscribe(Subscription::prefetch(100).weight(5));
    let mut b = queue.subscribe(Subscription::prefetch(100).weight(1));
    let mut c = queue.subscribe(Subscription::prefetch(100).weight(1));
    let p = queue.publisher();
    for n in 0..7 {
        p.try_publish(n).unwrap();
    }
    // nginx's smooth sequence for 5:1:1 is a a b a c a a.
    assert_eq!(drain(&mut a), [0, 1, 3, 5, 6]);
    assert_eq!(drain(&mut b), [2]);
    assert_eq!(drain(&mut c), [4]);
}

#[test]
fn weighted_proportions_over_cycles_and_runtime_weights() {
    let queue = Dispatcher::<u32>::builder()
        .capacity(10_000)
        .strategy(Strategy::Weighted)
        .build();
    let consumers: Vec<_> = [3, 2, 1]
        .into_iter()
        .map(|w| queue.subscribe(Subscription::prefetch(10_000).weight(w)))
        .collect();
    let p = queue.publisher();
    for n in 0..600 {
        p.try_publish(n).unwrap();
    }
    assert_eq!(delivered(&queue), [300, 200, 100]);
    consumers[2].set_weight(3);
    for n in 0..800 {
        p.try_publish(n).unwrap();
    }
    let d = delivered(&queue);
    let after = [d[0] - 300, d[1] - 200, d[2] - 100];
    for (got, want) in after.iter().zip([300u64, 200, 300]) {
        assert!(got.abs_diff(want) <= 2, "{after:?}");
    }
}

#[test]
fn least_loaded_prefers_fewest_unacked_relative_to_prefetch() {
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::LeastLoaded)
        .build();
    let mut a = queue.subscribe(Subscription::prefetch(4));
    let mut b = queue.subscribe(Subscription::prefetch(4));
    let p = queue.publisher();
    p.try_publish(0).unwrap(); // tie: a (in turn)
    p.try_publish(1).unwrap(); // a 1/4, b 0/4: b
    let held = a.try_recv().unwrap();
    b.try_recv().unwrap().ack(); // b 0/4 < a 1/4
    p.try_publish(2).unwrap();
    p.try_publish(3).unwrap(); // tie 1/4 each: in turn, a
    assert_eq!(drain(&mut b), [2]);
    assert_eq!(drain(&mut a), [3]);
    drop(held);
    // Relative to prefetch: c (1/8) is less loaded than d (1/2).
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::LeastLoaded)
        .build();
    let _c = queue.subscribe(Subscription::prefetch(8));
    let _d = queue.subscribe(Subscription::prefetch(2));
    let p = queue.publisher();
    for n in 0..5 {
        p.try_publish(n).unwrap();
    }
    // c0 (tie), d1 (0/2 < 1/8), c2, c3 (2/8 < 1/2 ... 3/8 < 1/2), c4
    assert_eq!(delivered(&queue), [4, 1]);
}

/// A deterministic work-queue simulation in ticks: each consumer works on
/// one delivery at a time for `service[i]` ticks, then acks; the producer
/// offers `rate` messages per tick. The dispatcher's clock is the tick
/// count (1 tick = 1 ms). Returns the acks per consumer.
fn simulate(
    strategy: Strategy,
    service: &[u64],
    prefetch: usize,
    rate: u32,
    ticks: u64,
) -> Vec<u64> {
    let (queue, now) = timed::<u64>(strategy, 64);
    let mut consumers: Vec<Consumer<u64>> = service
        .iter()
        .map(|_| queue.subscribe(Subscription::prefetch(prefetch)))
        .collect();
    let mut busy: Vec<Option<(Delivery<u64>, u64)>> = service.iter().map(|_| None).collect();
    let p = queue.publisher();
    let mut next = 0;
    for tick in 0..ticks {
        now.store(tick, Ordering::Relaxed);
        for _ in 0..rate {
            if p.try_publish(next).is_ok() {
                next += 1;
            }
        }
        for (i, c) in consumers.iter_mut().enumerate() {
            if busy[i].as_ref().is_some_and(|(_, done)| *done <= tick) {
                busy[i].take().unwrap().0.ack();
            }
            if busy[i].is_none() {
                if let Ok(d) = c.try_recv() {
                    busy[i] = Some((d, tick + service[i]));
                }
            }
        }
    }
    queue.stats().consumers.iter().map(|c| c.acked).collect()
}

fn shares(acks: &[u64]) -> Vec<f64> {
    let total: u64 = acks.iter().sum();
    acks.iter().map(|&a| a as f64 / total as f64).collect()
}

#[test]
fn least_loaded_and_adaptive_starve_a_slow_consumer_less_than_its_peers_feed_it() {
    // Two consumers take 1 tick per message, one takes 4; the producer
    // offers a bit less than they can do together.
    for strategy in [Strategy::LeastLoaded, Strategy::Adaptive] {
        let acks = simulate(strategy, &[1, 1, 4], 4, 2, 4000);
        let s = shares(&acks);
        assert!(s[2] < 0.2, "{strategy:?}: {acks:?}");
        assert!((s[0] - s[1]).abs() < 0.05, "{strategy:?}: {acks:?}");
    }
}

#[test]
fn adaptive_weights_follow_observed_latency() {
    let (queue, now) = timed::<u32>(Strategy::Adaptive, 10_000);
    let mut consumers: Vec<_> = (0..3)
        .map(|_| queue.subscribe(Subscription::prefetch(10_000)))
        .collect();
    let p = queue.publisher();
    // Unknown latencies count as equal: a plain rotation.
    for n in 0..30 {
        p.try_publish(n).unwrap();
    }
    assert_eq!(delivered(&queue), [10, 10, 10]);
    // Consumers 0 and 1 ack after 1 ms, consumer 2 after 4 ms.
    let mut held: Vec<Vec<Delivery<u32>>> = consumers
        .iter_mut()
        .map(|c| std::iter::from_fn(|| c.try_recv().ok()).collect())
        .collect();
    now.store(1, Ordering::Relaxed);
    held[0].drain(..).for_each(Delivery::ack);
    held[1].drain(..).for_each(Delivery::ack);
    now.store(4, Ordering::Relaxed);
    held[2].drain(..).for_each(Delivery::ack);
    // Now weights are 1/1 ms : 1/1 ms : 1/4 ms, i.e. 4 : 4 : 1.
    assert_next_shares(&queue, 900, &[400, 400, 100]);
}

#[test]
fn adaptive_one_stall_moves_the_shares_little() {
    let (queue, now) = timed::<u32>(Strategy::Adaptive, 10_000);
    let mut a = queue.subscribe(Subscription::prefetch(10_000));
    let mut b = queue.subscribe(Subscription::prefetch(10_000));
    let p = queue.publisher();
    let round = |ms_a: u64, ms_b: u64, a: &mut Consumer<u32>, b: &mut Consumer<u32>| {
        p.try_publish(0).unwrap();
        p.try_publish(0).unwrap();
        let (da, db) = (a.try_recv().unwrap(), b.try_recv().unwrap());
        let t = now.load(Ordering::Relaxed);
        now.store(t + ms_a, Ordering::Relaxed);
        da.ack();
        now.store(t + ms_b, Ordering::Relaxed);
        db.ack();
        now.store(t + ms_a.max(ms_b), Ordering::Relaxed);
    };
    round(1, 1, &mut a, &mut b);
    // One stall: b takes 8 ms once. The sample counts as 4 times b's mean
    // (1 ms), and with a 1/16 gain the mean becomes 1.1875 ms: weights
    // 1 : 1/1.1875, so b keeps most of its share instead of an eighth.
    round(1, 8, &mut a, &mut b);
    assert_next_shares(&queue, 90, &[49, 41]);
    drop((a, b));
}

#[test]
fn priorities_apply_within_weighted() {
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Weighted)
        .build();
    let _low = queue.subscribe(Subscription::prefetch(100).weight(10));
    let _high = queue.subscribe(Subscription::prefetch(3).weight(1).priority(1));
    let p = queue.publisher();
    for n in 0..5 {
        p.try_publish(n).unwrap();
    }
    // high (subscribed second) fills its 3 first; low takes the rest.
    assert_eq!(delivered(&queue), [2, 3]);
}

#[derive(Debug, PartialEq)]
struct NoClone(u32);

#[test]
fn broadcast_gives_every_consumer_every_message_without_clone() {
    let queue = Dispatcher::<NoClone>::builder()
        .strategy(Strategy::Broadcast)
        .build();
    let mut consumers: Vec<_> = (0..3)
        .map(|_| queue.subscribe(Subscription::prefetch(10)))
        .collect();
    let p = queue.publisher();
    for n in 0..5 {
        p.try_publish(NoClone(n)).unwrap();
    }
    let s = queue.stats();
    assert_eq!((s.published, s.delivered, s.backlog), (5, 15, 0));
    for c in &mut consumers {
        let got: Vec<u32> = std::iter::from_fn(|| c.try_recv().ok())
            .map(|d| {
                let n = d.0;
                d.ack();
                n
            })
            .collect();
        assert_eq!(got, [0, 1, 2, 3, 4]);
    }
    assert_eq!(queue.stats().acked, 15);
}

#[test]
fn broadcast_slowest_credit_back_pressures_publishers() {
    let queue = Dispatcher::<u32>::builder()
        .capacity(2)
        .strategy(Strategy::Broadcast)
        .build();
    let mut slow = queue.subscribe(Subscription::prefetch(1));
    let mut fast = queue.subscribe(Subscription::prefetch(10));
    let p = queue.publisher();
    p.try_publish(0).unwrap(); // both take it
    p.try_publish(1).unwrap(); // slow has no credit: waits in the backlog
    p.try_publish(2).unwrap();
    assert_eq!(queue.stats().backlog, 2);
    assert!(p.try_publish(3).unwrap_err().is_full());
    assert_eq!(drain(&mut fast), [0, 1, 2]);
    assert_eq!(queue.stats().consumers[0].backlog, 2);
    slow.try_recv().unwrap().ack(); // takes 1
    assert_eq!(queue.stats().backlog, 1);
    p.try_publish(3).unwrap();
    assert_eq!(drain(&mut slow), [1, 2, 3]);
    assert_eq!(drain(&mut fast), [3]);
}

#[test]
fn broadcast_late_subscriber_gets_only_later_messages() {
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Broadcast)
        .build();
    let p = queue.publisher();
    p.try_publish(0).unwrap(); // nobody yet: waits for the first consumer
    let mut first = queue.subscribe(Subscription::prefetch(10));
    p.try_publish(1).unwrap();
    let mut late = queue.subscribe(Subscription::prefetch(10));
    p.try_publish(2).unwrap();
    assert_eq!(drain(&mut first), [0, 1, 2]);
    assert_eq!(drain(&mut late), [2]);
}

#[test]
fn broadcast_requeue_is_per_consumer_and_drop_releases_copies() {
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Broadcast)
        .build();
    let mut a = queue.subscribe(Subscription::prefetch(1));
    let mut b = queue.subscribe(Subscription::prefetch(1));
    let p = queue.publisher();
    p.try_publish(7).unwrap();
    p.try_publish(8).unwrap();
    a.try_recv().unwrap().nack(Requeue::Yes);
    let again = a.try_recv().unwrap();
    assert_eq!((*again, again.redelivered()), (7, true));
    let first = b.try_recv().unwrap();
    assert_eq!((*first, first.redelivered()), (7, false));
    drop(b); // its copy of 7 and its place in the log go away
    drop(first);
    let s = queue.stats();
    assert_eq!((s.in_flight, s.consumers.len()), (1, 1));
    again.ack();
    assert_eq!(drain(&mut a), [8]);
    assert_eq!(queue.stats().backlog, 0);
}

#[test]
fn broadcast_close_drains_each_consumer() {
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Broadcast)
        .build();
    let mut a = queue.subscribe(Subscription::prefetch(1));
    let mut b = queue.subscribe(Subscription::prefetch(1));
    let p = queue.publisher();
    p.try_publish(1).unwrap();
    p.try_publish(2).unwrap();
    drop((p, queue));
    assert_eq!(drain(&mut a), [1, 2]);
    assert!(a.try_recv().unwrap_err() == flowgate::dispatch::TryRecvError::Closed);
    assert_eq!(drain(&mut b), [1, 2]);
    assert!(futures::executor::block_on(b.recv()).is_none());
}

#[test]
fn adaptive_times_deliveries_taken_together_from_the_previous_ack() {
    // One recv takes both of a consumer's deliveries at t = 0. `a` works
    // through them one after the other (acks at 1 and 2 ms): 1 ms each,
    // not 1 and 2 ms. `b` finishes both at 3 ms: 3 ms. Weights 3 : 1.
    let (queue, now) = timed::<u32>(Strategy::Adaptive, 10_000);
    let mut a = queue.subscribe(Subscription::prefetch(10_000));
    let mut b = queue.subscribe(Subscription::prefetch(10_000));
    let p = queue.publisher();
    for n in 0..4 {
        p.try_publish(n).unwrap();
    }
    assert_eq!(delivered(&queue), [2, 2]);
    let (a1, a2) = (a.try_recv().unwrap(), a.try_recv().unwrap());
    let (b1, b2) = (b.try_recv().unwrap(), b.try_recv().unwrap());
    now.store(1, Ordering::Relaxed);
    a1.ack();
    now.store(2, Ordering::Relaxed);
    a2.ack();
    now.store(3, Ordering::Relaxed);
    b1.ack();
    b2.ack();
    assert_next_shares(&queue, 40, &[30, 10]);
}

#[test]
fn adaptive_counts_a_pause_before_receiving_a_delivery_already_taken() {
    // One recv takes both of a consumer's deliveries at t = 0. `a` acks its
    // first at 1 ms, pauses, and only at 11 ms asks for the second, which
    // `recv` already holds: the pause is service time (11 ms from the
    // previous ack, clamped to 4x the 1 ms mean), as a consumer that
    // pauses serves slower. `b` serves 1 ms each. Means 1.1875 : 1 ms.
    let (queue, now) = timed::<u32>(Strategy::Adaptive, 10_000);
    let mut a = queue.subscribe(Subscription::prefetch(10_000));
    let mut b = queue.subscribe(Subscription::prefetch(10_000));
    let p = queue.publisher();
    for n in 0..4 {
        p.try_publish(n).unwrap();
    }
    let (a1, b1) = (a.try_recv().unwrap(), b.try_recv().unwrap());
    now.store(1, Ordering::Relaxed);
    a1.ack();
    b1.ack();
    let b2 = b.try_recv().unwrap();
    now.store(2, Ordering::Relaxed);
    b2.ack();
    now.store(11, Ordering::Relaxed);
    let a2 = a.try_recv().unwrap();
    now.store(12, Ordering::Relaxed);
    a2.ack();
    // Weights 1/1.1875 : 1, i.e. 45.7 : 54.3 of 100.
    assert_next_shares(&queue, 100, &[46, 54]);
}

#[test]
fn adaptive_window_of_a_slow_consumer_grows_when_the_fastest_leaves() {
    // `a` serves in 1 ms, `b` in 4 ms: b's window is prefetch/4 = 2. Once
    // `a` is gone, b is the fastest and gets its whole prefetch of 8.
    let (queue, now) = timed::<u32>(Strategy::Adaptive, 100);
    let mut a = queue.subscribe(Subscription::prefetch(8));
    let mut b = queue.subscribe(Subscription::prefetch(8));
    let p = queue.publisher();
    p.try_publish(0).unwrap();
    p.try_publish(1).unwrap();
    let (da, db) = (a.try_recv().unwrap(), b.try_recv().unwrap());
    now.store(1, Ordering::Relaxed);
    da.ack();
    now.store(4, Ordering::Relaxed);
    db.ack();
    for n in 0..20 {
        p.try_publish(n).unwrap();
    }
    let in_flight = |q: &Dispatcher<u32>| -> Vec<usize> {
        q.stats().consumers.iter().map(|c| c.in_flight).collect()
    };
    assert_eq!(in_flight(&queue), [8, 2]);
    drop(a);
    // a's 8 went back to the backlog; b's window is 8 now.
    assert_eq!(in_flight(&queue), [8]);
    assert_eq!(queue.stats().backlog, 12);
}
