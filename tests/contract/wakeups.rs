//! VERIFICATION.md's four tests, for every public future of DESIGN.md §3
//! at once: dropped before the first poll takes nothing; polled to
//! Pending then dropped, or notified then dropped, passes its turn on;
//! re-polled with a new waker, only the new waker is woken. And a wake
//! of many waiters at once (more than any internal batch) reaches all.

use super::*;
use flowgate::credit::CreditSemaphore;
use flowgate::dispatch::{Dispatcher, Strategy, Subscription};
use flowgate::mailbox;
use flowgate::rate::{Quota, RateLimiter};
use flowgate::runtime::ManualClock;
use std::future::Future;
use std::time::Duration;
use support::WakeCount;

/// Polls `f` Pending with two wakers in turn; returns both counts.
fn repolled<F: Future + Unpin>(f: &mut F) -> (Arc<WakeCount>, Arc<WakeCount>) {
    let (old, old_waker) = counting();
    let (new, new_waker) = counting();
    assert!(poll_with(f, &old_waker).is_pending());
    assert!(poll_with(f, &new_waker).is_pending());
    (old, new)
}

/// Asserts that only the waker of the last poll was woken.
#[track_caller]
fn only_new((old, new): (Arc<WakeCount>, Arc<WakeCount>), what: &str) {
    assert_eq!(old.get(), 0, "{what}: the old waker was woken");
    assert!(new.get() >= 1, "{what}: the new waker was not woken");
}

#[test]
fn re_polled_with_a_new_waker_only_the_new_one_is_woken() {
    let clock = ManualClock::new();
    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    tx.try_send(0).unwrap();
    {
        let mut send = tx.send(1);
        let wakers = repolled(&mut send);
        rx.try_recv().unwrap();
        only_new(wakers, "mailbox send");
    }
    tx.try_send(0).unwrap();
    {
        let mut reserve = tx.reserve();
        let wakers = repolled(&mut reserve);
        rx.try_recv().unwrap();
        only_new(wakers, "mailbox reserve");
    }
    {
        let mut reserve = tx.clone().reserve_owned();
        tx.try_send(0).unwrap();
        let wakers = repolled(&mut reserve);
        rx.try_recv().unwrap();
        only_new(wakers, "mailbox reserve_owned");
    }
    tx.try_send(0).unwrap();
    {
        let mut send = Box::pin(tx.send_timeout_with(&clock, 1, Duration::from_secs(1)));
        let wakers = repolled(&mut send);
        rx.try_recv().unwrap();
        only_new(wakers, "mailbox send_timeout");
    }
    {
        let mut recv = rx.recv();
        let wakers = repolled(&mut recv);
        tx.try_send(1).unwrap();
        only_new(wakers, "mailbox recv");
    }
    rx.try_recv().unwrap();
    {
        let mut buf = Vec::new();
        let mut recv = rx.recv_many(&mut buf, 2);
        let wakers = repolled(&mut recv);
        tx.try_send(1).unwrap();
        only_new(wakers, "mailbox recv_many");
    }
    rx.try_recv().unwrap();
    {
        let mut recv = Box::pin(rx.recv_timeout_with(&clock, Duration::from_secs(1)));
        let wakers = repolled(&mut recv);
        clock.advance(Duration::from_secs(1));
        only_new(wakers, "mailbox recv_timeout (timer)");
    }
    {
        let mut closed = tx.closed();
        let wakers = repolled(&mut closed);
        rx.close();
        only_new(wakers, "mailbox closed");
    }

    let sem = Arc::new(CreditSemaphore::new(0));
    {
        let mut acquire = sem.acquire(1);
        let wakers = repolled(&mut acquire);
        sem.add_credits(1);
        only_new(wakers, "acquire");
    }
    {
        let mut acquire = Arc::clone(&sem).acquire_owned(2);
        let wakers = repolled(&mut acquire);
        sem.add_credits(1);
        only_new(wakers, "acquire_owned");
    }
    {
        let mut acquire = Box::pin(sem.acquire_timeout_with(&clock, 9, Duration::from_secs(1)));
        let wakers = repolled(&mut acquire);
        clock.advance(Duration::from_secs(1));
        only_new(wakers, "acquire_timeout (timer)");
    }

    let queue = Dispatcher::<u32>::builder().capacity(1).build();
    let publisher = queue.publisher();
    publisher.try_publish(0).unwrap();
    {
        let mut publish = publisher.publish(1);
        let wakers = repolled(&mut publish);
        let _consumer = queue.subscribe(Subscription::prefetch(1));
        only_new(wakers, "publish");
    }
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    {
        let mut recv = consumer.recv();
        let wakers = repolled(&mut recv);
        queue.publisher().try_publish(1).unwrap();
        only_new(wakers, "dispatch recv");
    }
    consumer.try_recv().unwrap().ack();
    {
        let mut recv = Box::pin(consumer.recv_timeout_with(&clock, Duration::from_secs(1)));
        let wakers = repolled(&mut recv);
        queue.close();
        only_new(wakers, "dispatch recv_timeout (close)");
    }

    let limiter = RateLimiter::with_clock(Quota::per_second(1), clock.clone());
    limiter.check().unwrap();
    {
        let mut ready = Box::pin(limiter.until_ready_with(&clock));
        let wakers = repolled(&mut ready);
        clock.advance(Duration::from_secs(1));
        only_new(wakers, "until_ready");
    }
    limiter.check().unwrap();
    {
        let mut ready = Box::pin(limiter.until_n_ready_with(&clock, 1));
        let wakers = repolled(&mut ready);
        clock.advance(Duration::from_secs(1));
        only_new(wakers, "until_n_ready");
    }
}

#[test]
fn notified_then_dropped_the_turn_passes_to_the_next_waiter() {
    let clock = ManualClock::new();
    let long = Duration::from_secs(5);
    // Each case: `first` and `second` wait in that order; something
    // frees one place, which is `first`'s; `first` is dropped unpolled.
    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    tx.try_send(0).unwrap();
    {
        let mut first = Box::pin(tx.send_timeout_with(&clock, 1, long));
        let mut second = tx.send(2);
        let first_woken = pend(&mut first);
        let second_woken = pend(&mut second);
        rx.try_recv().unwrap();
        assert!(first_woken.get() >= 1);
        drop(first);
        assert!(second_woken.get() >= 1, "send_timeout passes on");
        assert!(matches!(second.now_or_never(), Some(Ok(()))));
        assert_eq!(rx.try_recv(), Ok(2));
    }
    tx.try_send(0).unwrap();
    {
        let mut first = tx.clone().reserve_owned();
        let mut second = tx.clone().reserve_owned();
        let first_woken = pend(&mut first);
        let second_woken = pend(&mut second);
        rx.try_recv().unwrap();
        assert!(first_woken.get() >= 1);
        drop(first);
        assert!(second_woken.get() >= 1, "reserve_owned passes on");
        assert!(matches!(second.now_or_never(), Some(Ok(_))));
    }

    let sem = Arc::new(CreditSemaphore::new(0));
    {
        let mut first = Arc::clone(&sem).acquire_owned(1);
        let mut second = Arc::clone(&sem).acquire_owned(1);
        let first_woken = pend(&mut first);
        let second_woken = pend(&mut second);
        sem.add_credits(1);
        assert!(first_woken.get() >= 1);
        drop(first);
        assert!(second_woken.get() >= 1, "acquire_owned passes on");
        second.now_or_never().unwrap().unwrap().forget();
    }
    {
        let mut first = Box::pin(sem.acquire_timeout_with(&clock, 1, long));
        let mut second = sem.acquire(1);
        let first_woken = pend(&mut first);
        let second_woken = pend(&mut second);
        sem.add_credits(1);
        assert!(first_woken.get() >= 1);
        drop(first);
        assert!(second_woken.get() >= 1, "acquire_timeout passes on");
        second.now_or_never().unwrap().unwrap().forget();
    }

    let queue = Dispatcher::<u32>::builder().capacity(1).build();
    let publisher = queue.publisher();
    publisher.try_publish(0).unwrap();
    let _consumer;
    {
        let mut first = publisher.publish(1);
        let mut second = Box::pin(publisher.publish_timeout_with(&clock, 2, long));
        let first_woken = pend(&mut first);
        let second_woken = pend(&mut second);
        _consumer = queue.subscribe(Subscription::prefetch(1)); // room for one
        assert!(first_woken.get() >= 1);
        drop(first);
        assert!(second_woken.get() >= 1, "publish passes on");
        assert!(matches!(second.now_or_never(), Some(Ok(()))));
    }
    {
        let mut first = Box::pin(publisher.publish_timeout_with(&clock, 3, long));
        let mut second = publisher.publish(4);
        let first_woken = pend(&mut first);
        let second_woken = pend(&mut second);
        queue.close();
        assert!(first_woken.get() >= 1 && second_woken.get() >= 1);
        drop(first);
        assert_eq!(second.now_or_never().unwrap().unwrap_err().0, 4);
    }
}

#[test]
fn dropped_before_the_first_poll_nothing_is_taken() {
    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    let clock = ManualClock::new();
    drop(tx.send(1));
    drop(tx.send_timeout_with(&clock, 1, Duration::ZERO));
    drop(tx.reserve());
    drop(tx.clone().reserve_owned());
    drop(tx.closed());
    drop(rx.recv());
    drop(rx.recv_timeout_with(&clock, Duration::ZERO));
    let mut buf = Vec::new();
    drop(rx.recv_many(&mut buf, 3));
    assert_eq!((rx.len(), tx.sender_count()), (0, 1));
    tx.try_send(1).unwrap();

    let sem = Arc::new(CreditSemaphore::new(1));
    drop(sem.acquire(1));
    drop(Arc::clone(&sem).acquire_owned(1));
    drop(sem.acquire_timeout_with(&clock, 1, Duration::ZERO));
    assert_eq!(sem.available(), 1);

    let queue = Dispatcher::<u32>::new();
    let publisher = queue.publisher();
    drop(publisher.publish(1));
    drop(publisher.publish_timeout_with(&clock, 1, Duration::ZERO));
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    drop(consumer.recv());
    assert_eq!(queue.stats().published, 0);

    let limiter = RateLimiter::with_clock(Quota::per_second(1), clock.clone());
    drop(limiter.until_ready_with(&clock));
    drop(limiter.until_n_ready_with(&clock, 1));
    limiter.check().unwrap();
    assert_eq!(clock.sleepers(), 0);
}

/// More waiters than any batch of wakers a primitive gathers under its
/// lock: one event that releases them all wakes every one.
#[test]
fn one_event_wakes_a_hundred_waiters() {
    const N: usize = 100;
    #[track_caller]
    fn all(woken: &[Arc<WakeCount>], what: &str) {
        let missed = woken.iter().filter(|w| w.get() == 0).count();
        assert_eq!(missed, 0, "{what}: {missed} of {} not woken", woken.len());
    }

    let sem = CreditSemaphore::new(0);
    let mut acquires: Vec<_> = (0..N).map(|_| sem.acquire(1)).collect();
    let woken: Vec<_> = acquires.iter_mut().map(pend).collect();
    sem.add_credits(N);
    all(&woken, "add_credits");
    for a in acquires {
        a.now_or_never().unwrap().unwrap().forget();
    }
    let mut head = sem.acquire(2 * N);
    let _ = pend(&mut head);
    let mut acquires: Vec<_> = (0..N).map(|_| sem.acquire(1)).collect();
    let woken: Vec<_> = acquires.iter_mut().map(pend).collect();
    sem.add_credits(N); // all to the head, partly
    drop(head);
    all(&woken, "a cancelled head's credit");
    for a in acquires {
        a.now_or_never().unwrap().unwrap().forget();
    }
    let mut acquires: Vec<_> = (0..N).map(|_| sem.acquire(1)).collect();
    let woken: Vec<_> = acquires.iter_mut().map(pend).collect();
    sem.close();
    all(&woken, "semaphore close");

    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    tx.try_send(0).unwrap();
    let mut sends: Vec<_> = (0..N as u32).map(|i| tx.send(i)).collect();
    let woken: Vec<_> = sends.iter_mut().map(pend).collect();
    let mut reserves: Vec<_> = (0..N).map(|_| tx.reserve()).collect();
    let woken_reserves: Vec<_> = reserves.iter_mut().map(pend).collect();
    let mut closed: Vec<_> = (0..N).map(|_| tx.closed()).collect();
    let woken_closed: Vec<_> = closed.iter_mut().map(pend).collect();
    rx.close();
    all(&woken, "mailbox close: sends");
    all(&woken_reserves, "mailbox close: reserves");
    all(&woken_closed, "mailbox close: closed()");
    drop((sends, reserves, closed));

    let queue = Dispatcher::<u32>::builder().capacity(N).build();
    let publisher = queue.publisher();
    for i in 0..N as u32 {
        publisher.try_publish(i).unwrap();
    }
    let mut publishes: Vec<_> = (0..N as u32).map(|i| publisher.publish(i)).collect();
    let woken: Vec<_> = publishes.iter_mut().map(pend).collect();
    let _wide = queue.subscribe(Subscription::prefetch(2 * N));
    all(&woken, "one subscribe makes room for every publisher");
    assert!(
        publishes
            .into_iter()
            .all(|p| p.now_or_never().unwrap().is_ok())
    );
    for i in 0..N as u32 {
        publisher.try_publish(i).unwrap(); // the backlog is full again
    }
    let mut publishes: Vec<_> = (0..N as u32).map(|i| publisher.publish(i)).collect();
    let woken: Vec<_> = publishes.iter_mut().map(pend).collect();
    queue.close();
    all(&woken, "dispatcher close: publishers");
    drop(publishes);

    for strategy in [Strategy::RoundRobin, Strategy::Broadcast] {
        let queue = Dispatcher::<u32>::builder().strategy(strategy).build();
        let mut consumers: Vec<_> = (0..N)
            .map(|_| queue.subscribe(Subscription::prefetch(1)))
            .collect();
        let mut recvs: Vec<_> = consumers.iter_mut().map(|c| c.recv()).collect();
        let woken: Vec<_> = recvs.iter_mut().map(pend).collect();
        let publisher = queue.publisher();
        let messages = if strategy == Strategy::Broadcast {
            1
        } else {
            N
        };
        for i in 0..messages as u32 {
            publisher.try_publish(i).unwrap();
        }
        all(&woken, "publishes: consumers");
        drop(recvs);
        for c in &mut consumers {
            c.try_recv().unwrap().ack();
        }
        let mut recvs: Vec<_> = consumers.iter_mut().map(|c| c.recv()).collect();
        let woken: Vec<_> = recvs.iter_mut().map(pend).collect();
        drop(publisher);
        drop(queue);
        all(&woken, "last handle dropped: consumers");
    }

    let clock = ManualClock::new();
    let limiter = RateLimiter::with_clock(Quota::per_second(1000).burst(1), clock.clone());
    limiter.check().unwrap();
    let mut waits: Vec<_> = (0..N)
        .map(|_| Box::pin(limiter.until_ready_with(&clock)))
        .collect();
    let woken: Vec<_> = waits.iter_mut().map(pend).collect();
    clock.advance(Duration::from_secs(1));
    all(&woken, "rate limiter waiters");
}
