//! Edge inputs and less-travelled paths of DESIGN.md §3: extreme
//! quotas and capacities, teardown in every order, the effects an ack
//! or nack must have at once.

use super::*;
use flowgate::dispatch::{Dispatcher, Requeue, Strategy, Subscription};
use flowgate::mailbox;
use flowgate::rate::{Quota, RateLimiter};
use flowgate::runtime::ManualClock;
use std::time::Duration;

/// GCRA never grants more than the quota, even where its arithmetic
/// would overflow: one cell per (practically) forever is one cell.
#[test]
fn a_quota_of_one_per_forever_grants_one() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(Quota::with_period(Duration::MAX), clock.clone());
    limiter.check().unwrap();
    assert!(limiter.check().is_err(), "the period has not passed");
    let mut wait = Box::pin(limiter.until_ready_with(&clock));
    let _ = pend(&mut wait);
    clock.advance(Duration::from_secs(100 * 365 * 24 * 3600));
    assert!(
        poll_with(&mut wait, &futures::task::noop_waker()).is_pending(),
        "a century later, still not"
    );
    drop(wait);
    assert!(limiter.check().is_err());
    // The same on the real clock, where the first check comes a little
    // after the limiter's creation.
    let limiter = RateLimiter::new(Quota::with_period(Duration::MAX));
    limiter.check().unwrap();
    assert!(limiter.check().is_err());
    assert_eq!(limiter.quota(), Quota::with_period(Duration::MAX));
}

/// A burst worth more than the limiter's clock can count is spent once.
#[test]
fn a_huge_burst_once_spent_is_spent() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(Quota::per_minute(1).burst(u32::MAX), clock.clone());
    limiter.check_n(u32::MAX).unwrap();
    assert!(limiter.check().is_err(), "the burst is exhausted");
    assert!(limiter.check_n(1).is_err());
    clock.advance(Duration::from_secs(59));
    assert!(limiter.check().is_err(), "one cell a minute");
    clock.advance(Duration::from_secs(1));
    limiter.check().unwrap();
    assert!(limiter.check().is_err(), "one cell a minute");
    clock.advance(Duration::from_secs(60));
    limiter.check().unwrap();
    assert!(limiter.check().is_err(), "one cell a minute");
}

/// "`nack(Requeue::No)` sends it to the dead-letter mailbox without
/// waiting" also under Broadcast, where another consumer still holds
/// the message: it arrives when the last holder lets go (here a plain
/// ack), not at some later dispatcher operation.
#[test]
fn broadcast_dead_letters_when_the_last_holder_lets_go() {
    let (dlq, mut dead) = mailbox::bounded::<u32>(4);
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Broadcast)
        .dead_letter(dlq)
        .build();
    let mut a = queue.subscribe(Subscription::prefetch(1));
    let mut b = queue.subscribe(Subscription::prefetch(1));
    let publisher = queue.publisher();
    publisher.try_publish(7).unwrap();
    let held = b.try_recv().unwrap();
    a.try_recv().unwrap().nack(Requeue::No);
    assert!(dead.try_recv().is_err(), "b still holds it");
    let mut recv = dead.recv();
    let woken = pend(&mut recv);
    held.ack();
    assert!(woken.get() >= 1, "the dead-letter receiver is woken");
    assert_eq!(recv.now_or_never(), Some(Some(7)));
    // The other way round: the ack first, then the nack.
    publisher.try_publish(8).unwrap();
    b.try_recv().unwrap().ack();
    a.try_recv().unwrap().nack(Requeue::No);
    assert_eq!(dead.try_recv(), Ok(8));
    // A drop of the last attempt, with the other copy acked after it.
    let (dlq, mut dead) = mailbox::bounded::<u32>(4);
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Broadcast)
        .max_attempts(1)
        .dead_letter(dlq)
        .build();
    let mut a = queue.subscribe(Subscription::prefetch(1));
    let mut b = queue.subscribe(Subscription::prefetch(1));
    queue.publisher().try_publish(9).unwrap();
    let held = b.try_recv().unwrap();
    drop(a.try_recv().unwrap());
    held.ack();
    assert_eq!(dead.try_recv(), Ok(9));
    let s = queue.stats();
    assert_eq!((s.dead_lettered, s.acked, s.nacked), (1, 1, 1));
}

/// A broadcast message every consumer rejects is dead-lettered once, and
/// the mark it leaves does not follow its slot to the next message: an
/// acked message is never dead-lettered.
#[test]
fn a_broadcast_message_rejected_by_all_is_dead_lettered_once_and_only_it() {
    let (dlq, mut dead) = mailbox::bounded::<u32>(4);
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Broadcast)
        .dead_letter(dlq)
        .build();
    let mut a = queue.subscribe(Subscription::prefetch(1));
    let mut b = queue.subscribe(Subscription::prefetch(1));
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    a.try_recv().unwrap().nack(Requeue::No);
    b.try_recv().unwrap().nack(Requeue::No);
    assert_eq!(dead.try_recv(), Ok(1));
    publisher.try_publish(2).unwrap();
    a.try_recv().unwrap().ack();
    b.try_recv().unwrap().ack();
    let s = queue.stats();
    assert_eq!(s.dead_lettered, 1);
    assert!(
        dead.try_recv().is_err(),
        "an acked message was dead-lettered"
    );
}

/// Broadcast to consumers on threads that ack or reject at random: the
/// dead-letter mailbox holds exactly the messages someone rejected, each
/// once, by the time every consumer has seen the end.
#[test]
fn broadcast_dead_letters_exactly_the_rejected_across_threads() {
    use std::collections::HashSet;
    use std::sync::Mutex;
    for round in 0..4u64 {
        const N: u32 = 200;
        let (dlq, mut dead) = mailbox::bounded::<u32>(N as usize);
        let queue = Dispatcher::<u32>::builder()
            .strategy(Strategy::Broadcast)
            .capacity(8)
            .dead_letter(dlq)
            .build();
        let rejected = Arc::new(Mutex::new(HashSet::new()));
        let workers: Vec<_> = (0..3u64)
            .map(|k| {
                let mut consumer = queue.subscribe(Subscription::prefetch(1 + k as usize));
                let rejected = Arc::clone(&rejected);
                let mut next = rng(round * 7 + k + 1);
                std::thread::spawn(move || {
                    futures::executor::block_on(async {
                        let mut seen = 0;
                        while let Some(d) = consumer.recv().await {
                            seen += 1;
                            if next(5) == 0 {
                                rejected.lock().unwrap().insert(*d);
                                d.nack(Requeue::No);
                            } else {
                                d.ack();
                            }
                        }
                        seen
                    })
                })
            })
            .collect();
        let publisher = queue.publisher();
        futures::executor::block_on(async {
            for i in 0..N {
                publisher.publish(i).await.unwrap();
            }
        });
        drop((publisher, queue));
        for w in workers {
            assert_eq!(w.join().unwrap(), N, "every consumer sees every message");
        }
        let mut got = HashSet::new();
        while let Ok(x) = dead.try_recv() {
            assert!(got.insert(x), "{x} dead-lettered twice");
        }
        assert_eq!(got, *rejected.lock().unwrap());
    }
}

/// `Receiver::is_closed` as tokio's and async-channel's: true once no
/// message can come, whether the receiver closed or every sender (and
/// every owned permit) is gone; a weak sender does not count.
#[test]
fn the_receiver_sees_the_mailbox_closed_once_every_sender_is_gone() {
    let (tx, rx) = mailbox::bounded::<u32>(2);
    let tx2 = tx.clone();
    let weak = tx.downgrade();
    tx.try_send(1).unwrap();
    drop(tx);
    assert!(!rx.is_closed(), "a sender is left");
    let permit = tx2.reserve_owned().now_or_never().unwrap().unwrap();
    assert!(!rx.is_closed(), "an owned permit is a sender");
    drop(permit);
    assert!(rx.is_closed(), "only a weak sender is left");
    assert!(weak.upgrade().is_none());
    assert_eq!(rx.len(), 1, "closed, with a message still buffered");
}
