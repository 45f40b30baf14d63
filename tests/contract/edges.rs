//! Edge inputs and less-travelled paths of DESIGN.md §3: extreme
//! quotas and capacities, teardown in every order, the effects an ack
//! or nack must have at once.

use super::*;
use flowgate::credit::{AcquireTimeoutError, CreditSemaphore};
use flowgate::dispatch::{Consumer, Dispatcher, Requeue, Strategy, Subscription};
use flowgate::mailbox::{self, Builder, Overflow, RecvTimeoutError, SendTimeoutError};
use flowgate::rate::{Quota, RateLimited, RateLimiter};
use flowgate::runtime::{ManualClock, Timer};
use std::future::Future;
use std::pin::Pin;
use std::task::Context;
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

/// A broadcast dispatcher with a dead-letter mailbox and attempts limited
/// to `max_attempts`, two consumers with prefetch 1, and the dead letters.
fn broadcast_pair(
    max_attempts: u32,
) -> (
    Dispatcher<u32>,
    Consumer<u32>,
    Consumer<u32>,
    mailbox::Receiver<u32>,
) {
    let (dlq, dead) = mailbox::bounded::<u32>(4);
    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Broadcast)
        .max_attempts(max_attempts)
        .dead_letter(dlq)
        .build();
    let a = queue.subscribe(Subscription::prefetch(1));
    let b = queue.subscribe(Subscription::prefetch(1));
    (queue, a, b, dead)
}

/// "`nack(Requeue::No)` sends it to the dead-letter mailbox without
/// waiting" also under Broadcast, where another consumer still holds
/// the message: it arrives when the last holder lets go (here a plain
/// ack), not at some later dispatcher operation.
#[test]
fn broadcast_dead_letters_when_the_last_holder_lets_go() {
    let (queue, mut a, mut b, mut dead) = broadcast_pair(u32::MAX);
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
    let (queue, mut a, mut b, mut dead) = broadcast_pair(1);
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
    let (queue, mut a, mut b, mut dead) = broadcast_pair(u32::MAX);
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

/// A timer whose sleeps end at once (for zero timeouts).
struct Expired;

impl Timer for Expired {
    type Sleep = std::future::Ready<()>;
    fn sleep(&self, _: Duration) -> Self::Sleep {
        std::future::ready(())
    }
}

/// A timeout never beats an operation that is ready: zero timeouts, and
/// timers that have already fired, still succeed when they can; closing
/// is reported as closed, not as a timeout, and ends the sleep.
#[test]
fn a_ready_operation_wins_over_an_expired_timeout() {
    let zero = Duration::ZERO;
    let sem = CreditSemaphore::new(1);
    assert!(matches!(
        sem.acquire_timeout_with(&Expired, 1, zero).now_or_never(),
        Some(Ok(_))
    ));
    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    assert!(matches!(
        tx.send_timeout_with(&Expired, 1, zero).now_or_never(),
        Some(Ok(()))
    ));
    assert_eq!(
        rx.recv_timeout_with(&Expired, zero).now_or_never(),
        Some(Ok(1))
    );
    let queue = Dispatcher::<u32>::new();
    let publisher = queue.publisher();
    assert!(matches!(
        publisher
            .publish_timeout_with(&Expired, 1, zero)
            .now_or_never(),
        Some(Ok(()))
    ));
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    let d = consumer.recv_timeout_with(&Expired, zero).now_or_never();
    d.unwrap().unwrap().ack();

    // Closed, not timed out, even with an expired timer.
    sem.close();
    assert_eq!(
        sem.acquire_timeout_with(&Expired, 1, zero)
            .now_or_never()
            .unwrap()
            .unwrap_err(),
        AcquireTimeoutError::Closed
    );
    drop(tx);
    assert_eq!(
        rx.recv_timeout_with(&Expired, zero).now_or_never(),
        Some(Err(RecvTimeoutError::Closed))
    );
    // A pending timed wait ended by a close: closed at once, timer gone.
    let clock = ManualClock::new();
    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    tx.try_send(0).unwrap();
    let mut send = Box::pin(tx.send_timeout_with(&clock, 1, Duration::MAX));
    let woken = pend(&mut send);
    assert_eq!(clock.sleepers(), 1);
    rx.close();
    assert!(woken.get() >= 1);
    assert!(matches!(
        send.now_or_never(),
        Some(Err(SendTimeoutError::Closed(1)))
    ));
    assert_eq!(clock.sleepers(), 0);
    let mut recv = Box::pin(consumer.recv_timeout_with(&clock, Duration::MAX));
    let woken = pend(&mut recv);
    queue.close();
    drop(publisher);
    assert!(woken.get() >= 1);
    assert!(matches!(
        recv.now_or_never(),
        Some(Err(RecvTimeoutError::Closed))
    ));
    assert_eq!(clock.sleepers(), 0);
}

/// A `Timer` whose sleep is `!Unpin`, as tokio's is: every `*_with`
/// form and adapter takes it.
struct Pinned;

struct PinnedSleep(std::marker::PhantomPinned);

impl Future for PinnedSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Timer for Pinned {
    type Sleep = PinnedSleep;
    fn sleep(&self, _: Duration) -> PinnedSleep {
        PinnedSleep(std::marker::PhantomPinned)
    }
}

#[test]
fn a_timer_whose_sleep_is_not_unpin_serves_every_with_form() {
    use futures::StreamExt;
    let d = Duration::from_secs(1);
    futures::executor::block_on(async {
        let sem = Arc::new(CreditSemaphore::new(2));
        let one = sem.acquire_timeout_with(&Pinned, 1, d).await.unwrap();
        let two = Arc::clone(&sem)
            .acquire_owned_timeout_with(&Pinned, 1, d)
            .await
            .unwrap();
        assert_eq!((one.count(), two.count()), (1, 1));
        let (tx, mut rx) = mailbox::bounded::<u32>(1);
        tx.send_timeout_with(&Pinned, 1, d).await.unwrap();
        assert_eq!(rx.recv_timeout_with(&Pinned, d).await, Ok(1));
        let queue = Dispatcher::<u32>::new();
        let publisher = queue.publisher();
        publisher.publish_timeout_with(&Pinned, 1, d).await.unwrap();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        consumer.recv_timeout_with(&Pinned, d).await.unwrap().ack();
        let limiter = Arc::new(RateLimiter::new(Quota::per_second(1000).burst(4)));
        limiter.until_ready_with(&Pinned).await;
        limiter.until_n_ready_with(&Pinned, 1).await.unwrap();
        let items = futures::stream::iter(0..1);
        let mut paced = Box::pin(RateLimited::with_timer(items, Arc::clone(&limiter), Pinned));
        assert_eq!(paced.next().await, Some(0));
        let paced = publisher.with_rate_limit_with(Pinned, limiter);
        paced.publish(2).await.unwrap();
        assert_eq!(*consumer.recv().await.unwrap(), 2);
    });
}

/// Whatever is dropped first, every message still inside the
/// dispatcher, its dead-letter mailbox or a live delivery is dropped
/// exactly once.
#[test]
fn every_teardown_order_drops_every_message_once() {
    use std::any::Any;
    for order in 0..10 {
        let drops = Arc::new(AtomicUsize::new(0));
        let (dlq, dead) = mailbox::bounded::<Counted>(8);
        let queue = Dispatcher::<Counted>::builder().dead_letter(dlq).build();
        let publisher = queue.publisher();
        let mut consumer = queue.subscribe(Subscription::prefetch(2));
        for i in 0..5 {
            publisher
                .try_publish(Counted(i, Arc::clone(&drops)))
                .unwrap();
        }
        consumer.try_recv().unwrap().nack(Requeue::No); // 0 is dead
        let live = consumer.try_recv().unwrap(); // 1 is held, 2 assigned
        let mut parts: Vec<Box<dyn Any>> = vec![
            Box::new(queue),
            Box::new(publisher),
            Box::new(consumer),
            Box::new(live),
            Box::new(dead),
        ];
        parts.rotate_left(order % 5);
        if order >= 5 {
            parts.reverse();
        }
        while !parts.is_empty() {
            drop(parts.remove(0));
        }
        assert_eq!(drops.load(Ordering::SeqCst), 5, "order {order}");
    }
}

/// A message whose `Drop` sends or publishes into the very mailbox or
/// dispatcher that is dropping it: no deadlock, no double drop.
struct Reentrant {
    mailbox: Option<mailbox::Sender<Reentrant>>,
    queue: Option<flowgate::dispatch::Publisher<Reentrant>>,
}

impl Reentrant {
    fn plain() -> Self {
        Self {
            mailbox: None,
            queue: None,
        }
    }
}

impl Drop for Reentrant {
    fn drop(&mut self) {
        if let Some(tx) = self.mailbox.take() {
            let _ = tx.try_send(Reentrant::plain());
            let _ = tx.len();
        }
        if let Some(publisher) = self.queue.take() {
            let _ = publisher.try_publish(Reentrant::plain());
            let _ = publisher.is_closed();
        }
    }
}

#[test]
fn a_message_whose_drop_calls_back_into_its_own_queue() {
    // Evicted under DropOldest.
    let (tx, rx) = Builder::new(1)
        .overflow(Overflow::DropOldest)
        .build::<Reentrant>();
    let first = Reentrant {
        mailbox: Some(tx.clone()),
        queue: None,
    };
    tx.try_send(first).unwrap();
    tx.try_send(Reentrant::plain()).unwrap();
    assert_eq!(tx.dropped(), 2, "the first, then what its drop sent");
    drop(rx);
    // Dropped with the receiver.
    let (tx, rx) = mailbox::bounded::<Reentrant>(2);
    let msg = Reentrant {
        mailbox: Some(tx.clone()),
        queue: None,
    };
    tx.try_send(msg).unwrap();
    drop(rx);
    // Dropped by the dispatcher (no dead-letter mailbox), and on ack.
    let queue = Dispatcher::<Reentrant>::builder().max_attempts(1).build();
    let publisher = queue.publisher();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    let msg = Reentrant {
        mailbox: None,
        queue: Some(publisher.clone()),
    };
    publisher.try_publish(msg).unwrap();
    drop(consumer.try_recv().unwrap());
    assert_eq!(queue.stats().dropped, 1);
    consumer.try_recv().unwrap().ack(); // what its drop published
    let msg = Reentrant {
        mailbox: None,
        queue: Some(publisher.clone()),
    };
    publisher.try_publish(msg).unwrap();
    consumer.try_recv().unwrap().ack();
    // An ack may leave the message's drop to the dispatcher's next call.
    let _ = queue.stats();
    consumer.try_recv().unwrap().ack(); // what its drop published
    let s = queue.stats();
    assert_eq!((s.published, s.acked, s.backlog, s.in_flight), (4, 3, 0, 0));
}

fn drain(consumer: &mut Consumer<u32>) -> Vec<u32> {
    let mut got = Vec::new();
    while let Ok(d) = consumer.try_recv() {
        got.push(*d);
        d.ack();
    }
    got
}

/// The interleavings a reader of the strategies expects: round-robin in
/// subscription order, and smooth weighted round-robin as nginx does it
/// (weights 5, 1, 1: a a b a c a a).
#[test]
fn round_robin_and_smooth_weighted_interleave_exactly() {
    let queue = Dispatcher::<u32>::new();
    let mut rr: Vec<_> = (0..3)
        .map(|_| queue.subscribe(Subscription::prefetch(100)))
        .collect();
    let publisher = queue.publisher();
    for i in 0..7 {
        publisher.try_publish(i).unwrap();
    }
    let got: Vec<_> = rr.iter_mut().map(drain).collect();
    assert_eq!(got, [vec![0, 3, 6], vec![1, 4], vec![2, 5]]);

    let queue = Dispatcher::<u32>::builder()
        .strategy(Strategy::Weighted)
        .build();
    let mut weighted: Vec<_> = [5, 1, 1]
        .iter()
        .map(|&w| queue.subscribe(Subscription::prefetch(100).weight(w)))
        .collect();
    let publisher = queue.publisher();
    for i in 0..7 {
        publisher.try_publish(i).unwrap();
    }
    let got: Vec<_> = weighted.iter_mut().map(drain).collect();
    assert_eq!(got, [vec![0, 1, 3, 5, 6], vec![2], vec![4]]);
}

/// Raising the prefetch is new credit: assigned at once, and a
/// registered `poll_recv` is woken.
#[test]
fn a_raised_prefetch_is_filled_at_once_and_wakes_the_consumer() {
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    let publisher = queue.publisher();
    for i in 0..3 {
        publisher.try_publish(i).unwrap();
    }
    let held = consumer.try_recv().unwrap();
    let (woken, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    assert!(consumer.poll_recv(&mut cx).is_pending());
    consumer.set_prefetch(3);
    assert!(woken.get() >= 1);
    assert_eq!(queue.stats().in_flight, 3);
    assert_eq!(drain(&mut consumer), [1, 2]);
    held.ack();
}

#[test]
fn recv_many_edges() {
    let (tx, mut rx) = mailbox::bounded::<u32>(8);
    for i in 0..5 {
        tx.try_send(i).unwrap();
    }
    let mut buf = vec![99];
    assert_eq!(rx.recv_many(&mut buf, 0).now_or_never(), Some(0), "limit 0");
    assert_eq!(rx.recv_many(&mut buf, 3).now_or_never(), Some(3));
    assert_eq!(buf, [99, 0, 1, 2], "appends");
    assert_eq!(rx.recv_many(&mut buf, 10).now_or_never(), Some(2));
    let mut recv = rx.recv_many(&mut buf, 10);
    let woken = pend(&mut recv);
    drop(tx);
    assert!(woken.get() >= 1, "the last sender's drop wakes it");
    assert_eq!(recv.now_or_never(), Some(0), "closed and drained");
    assert_eq!(buf.len(), 6);
}

#[test]
fn credit_edges() {
    let max = CreditSemaphore::MAX_CREDITS;
    let sem = CreditSemaphore::new(max);
    let all = sem.try_acquire(max).unwrap();
    assert_eq!(sem.available(), 0);
    drop(all);
    assert!(matches!(sem.acquire(max).now_or_never(), Some(Ok(_))));

    // Zero credits: granted at once, even past waiters; refused once closed.
    let sem = CreditSemaphore::new(0);
    let mut waiting = sem.acquire(1);
    let _ = pend(&mut waiting);
    assert_eq!(sem.acquire(0).now_or_never().unwrap().unwrap().count(), 0);
    assert!(sem.try_acquire(0).is_ok());
    // Close with a waiter partly served: what it was given is available
    // again, and outstanding credits stay valid.
    sem.add_credits(1);
    let mut big = sem.acquire(3);
    let _ = pend(&mut big);
    let first = waiting.now_or_never().unwrap().unwrap();
    sem.add_credits(2); // to `big`, which still needs one more
    sem.close();
    assert!(big.now_or_never().unwrap().is_err());
    assert_eq!(sem.available(), 2);
    assert_eq!(first.count(), 1);
    drop(first);
    assert_eq!(sem.available(), 3);
    assert!(sem.try_acquire(0).is_err(), "closed");
}

/// The runtime adapters take a sleep of `Duration::MAX` or a deadline
/// centuries away (a rate limiter's "never") without panicking.
#[cfg(all(feature = "tokio", feature = "smol", feature = "async-std"))]
#[test]
fn adapters_sleep_until_practically_never() {
    use flowgate::runtime::{AsyncStd, Smol, Tokio};
    let never = || {
        let limiter = RateLimiter::new(Quota::with_period(Duration::MAX));
        limiter.check().unwrap();
        limiter
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(futures::poll!(Box::pin(Tokio.sleep(Duration::MAX))).is_pending());
        let limiter = never();
        assert!(futures::poll!(Box::pin(limiter.until_ready_with(&Tokio))).is_pending());
        assert!(futures::poll!(Box::pin(limiter.until_ready())).is_pending());
    });
    futures::executor::block_on(async {
        assert!(futures::poll!(Box::pin(Smol.sleep(Duration::MAX))).is_pending());
        assert!(futures::poll!(Box::pin(AsyncStd.sleep(Duration::MAX))).is_pending());
        let limiter = never();
        assert!(futures::poll!(Box::pin(limiter.until_ready_with(&Smol))).is_pending());
        assert!(futures::poll!(Box::pin(limiter.until_ready())).is_pending());
        let sem = CreditSemaphore::new(0);
        let acquire = sem.acquire_timeout(1, Duration::MAX);
        assert!(futures::poll!(Box::pin(acquire)).is_pending());
    });
}
